/* core/logs/retention: deleting old log records and expired export files. */
#ifndef WGM_CORE_LOGS_RETENTION_H
#define WGM_CORE_LOGS_RETENTION_H

#include <stdint.h>

struct wgm_daemon;
struct wgm_db_pool;

/* Rows one DELETE removes: bounded so a large backlog never holds the
 * table (or MariaDB's undo log) for long. */
#define WGM_LOGS_PURGE_BATCH 5000

/* Delete records with ts < @cutoff_ms, WGM_LOGS_PURGE_BATCH at a time, at
 * most @max_batches statements.  Returns the number deleted, or a negative
 * errno / WGM_DB_E* (rows deleted before the failure stay deleted). */
int64_t wgm_logs_purge(struct wgm_db_pool *pool, unsigned acquire_ms, int64_t cutoff_ms, unsigned max_batches);

/* Add the core timer that applies [logs] retention_days and removes
 * expired files from <state_dir>/exports.  Needs @d->sched and
 * @d->core_ctx; the timer is the core context's (removed with it).
 * 0 or a negative errno. */
int wgm_logs_retention_register(struct wgm_daemon *d);

#endif
