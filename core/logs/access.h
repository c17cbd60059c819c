/* core/logs/access: the access record of each HTTP request in the log
 * store, with ip_address, request_id, user_id and api_key_id in their own
 * fields and {method, path, status, duration_ms, bytes} in details.  The
 * stderr line stays as the HTTP server writes it. */
#ifndef WGM_CORE_LOGS_ACCESS_H
#define WGM_CORE_LOGS_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

struct wgm_request;

/* While on (this thread only), log lines go to stderr but not to the
 * store: the access line is stored as a structured record instead. */
void wgm_logs_access_stderr_only(bool on);
/* Queue the access record of @r, answered after @us microseconds
 * (@aborted: the client went away).  @daemon is the struct wgm_daemon.
 * Kept when INFO passes [logs] store_level, as the line would be. */
void wgm_logs_access(void *daemon, const struct wgm_request *r, uint64_t us, bool aborted);

#endif
