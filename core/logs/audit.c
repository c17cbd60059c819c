/* core/logs/audit: the audit trail of state-changing requests. */
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "http/request.h"
#include "logs/audit.h"
#include "logs/store.h"
#include "util.h"

/* Reads do not change anything; logging them would bury the changes. */
static bool mutating(const char *method)
{
    static const char *const m[] = {"POST", "PUT", "PATCH", "DELETE"};

    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        if (strcmp(method, m[i]) == 0)
            return true;
    return false;
}

static const char *outcome(unsigned status)
{
    if (status == 401 || status == 403)
        return "denied";
    return status >= 400 ? "error" : "success";
}

void wgm_audit_request(struct wgm_daemon *d, const struct wgm_request *r)
{
    const struct wgm_principal *p;
    const char *route;
    unsigned status;
    char message[600], path[1024];
    double ms;
    json_t *details;

    if (!r || !mutating(r->method))
        return;
    p = r->authenticated ? &r->principal : NULL;
    status = r->resp.status;
    /* The template, not the path, so ids do not make every message unique;
     * a request that matched no route has only its path. */
    /* The path may hold any bytes; JSON and MariaDB take only UTF-8. */
    wgm_logs_utf8_copy(path, r->path ? r->path : "-", sizeof(path) - 1);
    route = r->match.template ? r->match.template : path;
    snprintf(message, sizeof(message), "%s %.512s -> %u", r->method, route, status);
    ms = (double)(wgm_now_us() - r->start_us) / 1000.0;
    details = json_pack("{s:s,s:s,s:s?,s:i,s:s,s:f}", "method", r->method, "path", path, "route",
                        r->match.template, "status", (int)status, "outcome", outcome(status), "duration_ms",
                        (double)(long long)(ms * 1000.0) / 1000.0);
    if (details && p && p->username[0])
        json_object_set_new(details, "username", json_string(p->username));
    wgm_logstore_record(d, status >= 400 ? "WARN" : "INFO", "audit", message, p ? p->user_id : 0,
                        p && p->api_key_id[0] ? p->api_key_id : NULL, r->client_ip, r->request_id, details, NULL);
}
