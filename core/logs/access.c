/* core/logs/access: structured access records. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "http/request.h"
#include "logs/access.h"
#include "logs/store.h"

void wgm_logs_access_stderr_only(bool on)
{
    wgm_logstore_sink_pause(on);
}

void wgm_logs_access(void *daemon, const struct wgm_request *r, uint64_t us, bool aborted)
{
    const struct wgm_principal *p = r->authenticated ? &r->principal : NULL;
    char path[1024], message[1200];
    double ms = (double)(long long)(us / 100) / 10.0; /* 0.1 ms, as the stderr line */
    json_t *details;

    if (!wgm_logstore_wants(WGM_LOG_INFO))
        return;
    /* The path may hold any bytes; JSON and MariaDB take only UTF-8. */
    wgm_logs_utf8_copy(path, r->path ? r->path : "-", sizeof(path) - 1);
    snprintf(message, sizeof(message), "%s %s %u %.1fms%s", r->method, path, r->resp.status, ms,
             aborted ? " (aborted)" : "");
    details = json_pack("{s:s,s:s,s:i,s:f,s:I}", "method", r->method, "path", path, "status", (int)r->resp.status,
                        "duration_ms", ms, "bytes", (json_int_t)r->resp.len);
    if (details && r->resp.error_code)
        json_object_set_new(details, "error_code", json_string(r->resp.error_code));
    if (details && aborted)
        json_object_set_new(details, "aborted", json_true());
    wgm_logstore_record(daemon, "INFO", "access",
                        message, p ? p->user_id : 0, p && p->api_key_id[0] ? p->api_key_id : NULL, r->client_ip,
                        r->request_id, details, NULL);
}
