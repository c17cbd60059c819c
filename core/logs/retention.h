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

/* max_log_size (MiB, /system/config) bounds the sum of the records'
 * sizes: the bytes of their text columns plus this much each. */
#define WGM_LOGS_ROW_OVERHEAD 64
/* How often the size bound is checked (and after PUT lowers it). */
#define WGM_LOGS_SIZE_INTERVAL_MS (60u * 1000u)

/* When the records take more than @max_bytes, delete the oldest (lowest
 * id) until they take at most 90 % of it, WGM_LOGS_PURGE_BATCH rows per
 * statement and at most @max_batches statements (the rest waits for the
 * next run).  Returns the number deleted or a negative errno / WGM_DB_E*. */
int64_t wgm_logs_enforce_size(struct wgm_db_pool *pool, unsigned acquire_ms, int64_t max_bytes, unsigned max_batches);
/* Run the size check on a worker thread now. */
void wgm_logs_size_kick(struct wgm_daemon *d);

/* Add the core timers that apply [logs] retention_days and max_log_size
 * and remove expired files from <state_dir>/exports.  Needs @d->sched and
 * @d->core_ctx; the timer is the core context's (removed with it).
 * 0 or a negative errno. */
int wgm_logs_retention_register(struct wgm_daemon *d);

#endif
