/* core/logs/api: the log endpoints of the spec's 日志管理 section. */
#ifndef WGM_CORE_LOGS_API_H
#define WGM_CORE_LOGS_API_H

struct wgm_daemon;

/* Export limits: the time range and the number of records of one file. */
#define WGM_LOGS_EXPORT_MAX_DAYS 31
#define WGM_LOGS_EXPORT_MAX_RECORDS 100000

/* Register, all with permission "logs.view":
 *   GET /api/v1/logs                               filtered, paginated list
 *   GET /api/v1/logs/export                        write an export file
 *   GET /api/v1/logs/export/download/{name}        fetch it (1 h)
 * owned by @d->core_ctx.  The retention timer is separate:
 * wgm_logs_retention_register (logs/retention.h).  0 or a negative errno. */
int wgm_logs_register(struct wgm_daemon *d);

#endif
