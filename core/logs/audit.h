/* core/logs/audit: one audit record per state-changing request. */
#ifndef WGM_CORE_LOGS_AUDIT_H
#define WGM_CORE_LOGS_AUDIT_H

struct wgm_daemon;
struct wgm_request;

/* For POST, PUT, PATCH and DELETE, queue a record in the log store: module
 * "audit", INFO (WARN from status 400 on), message "<METHOD> <route
 * template> -> <status>", the caller's user_id / api_key_id, client IP and
 * request id, and details {method, path, route, status, outcome
 * ("success" | "denied" | "error"), duration_ms, username?}.  Request
 * bodies and query strings are never recorded: they carry passwords and
 * tokens.  Call it once the response status is final (the HTTP server's
 * `after` hook); @r is borrowed.  Never blocks. */
void wgm_audit_request(struct wgm_daemon *d, const struct wgm_request *r);

#endif
