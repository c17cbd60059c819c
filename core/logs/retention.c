/* core/logs/retention: a core timer that keeps the log table and the
 * export directory from growing without bound. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "conf.h"
#include "daemon.h"
#include "db/db.h"
#include "log.h"
#include "logs/export.h"
#include "logs/retention.h"
#include "plugin/loader.h"
#include "scheduler.h"

#define RETENTION_INTERVAL_MS (10u * 60u * 1000u)
/* Per tick: 20 x 5000 rows.  A larger backlog (after raising the volume or
 * lowering retention_days) is worked off over the following ticks. */
#define RETENTION_MAX_BATCHES 20

/* MariaDB refuses LIMIT inside an IN subquery but has DELETE ... LIMIT;
 * SQLite has the subquery but DELETE ... LIMIT only as a compile option. */
static const char purge_sqlite[] =
    "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE ts < ? ORDER BY id LIMIT 5000)";
static const char purge_mysql[] = "DELETE FROM logs WHERE ts < ? ORDER BY id LIMIT 5000";

_Static_assert(WGM_LOGS_PURGE_BATCH == 5000, "the purge statements spell the batch size");

static int purge_batch(struct wgm_db_pool *pool, unsigned acquire_ms, int64_t cutoff_ms, int64_t *deleted)
{
    struct wgm_db *db = wgm_db_acquire(pool, acquire_ms);
    struct wgm_stmt *st = NULL;
    int rc;

    *deleted = 0;
    if (!db)
        return -ETIMEDOUT;
    rc = wgm_db_prepare(db, strcmp(wgm_db_dialect(db), "mysql") == 0 ? purge_mysql : purge_sqlite, &st);
    if (rc < 0 || (rc = wgm_stmt_bind_int(st, 1, cutoff_ms)) < 0)
        goto out;
    rc = wgm_stmt_step(st);
    if (rc >= 0) {
        *deleted = wgm_stmt_changes(st);
        rc = 0;
    }
out:
    wgm_stmt_free(st);
    wgm_db_release(db);
    return rc;
}

int64_t wgm_logs_purge(struct wgm_db_pool *pool, unsigned acquire_ms, int64_t cutoff_ms, unsigned max_batches)
{
    int64_t total = 0, n;
    int rc;

    for (unsigned i = 0; i < max_batches; i++) {
        if ((rc = purge_batch(pool, acquire_ms, cutoff_ms, &n)) < 0)
            return rc;
        total += n;
        if (n < WGM_LOGS_PURGE_BATCH)
            break;
    }
    return total;
}

static void retention_tick(struct wgm_ctx *ctx, void *data)
{
    struct wgm_daemon *d = ctx->daemon;
    long long days = wgm_conf_get_int(d->conf, "logs", "retention_days", 30);
    struct timespec now;
    int64_t cutoff, n;
    char *dir = NULL;
    int files;

    (void)data;
    clock_gettime(CLOCK_REALTIME, &now);
    cutoff = ((int64_t)now.tv_sec - (int64_t)days * 86400) * 1000;
    n = wgm_logs_purge(d->db, d->db_acquire_timeout_ms, cutoff, RETENTION_MAX_BATCHES);
    if (n < 0)
        wgm_log(WGM_LOG_WARN, "logs", "retention: cannot delete old log records: %s", strerror((int)-n));
    else if (n > 0)
        wgm_log(WGM_LOG_INFO, "logs", "retention: deleted %lld log record(s) older than %lld day(s)", (long long)n,
                days);
    if (!d->state_dir || asprintf(&dir, "%s/%s", d->state_dir, WGM_LOGS_EXPORT_DIR) < 0)
        return;
    files = wgm_logs_export_sweep(dir, now.tv_sec);
    if (files < 0)
        wgm_log(WGM_LOG_WARN, "logs", "retention: cannot read %s: %s", dir, strerror(-files));
    else if (files > 0)
        wgm_log(WGM_LOG_INFO, "logs", "retention: deleted %d expired export file(s)", files);
    free(dir);
}

int wgm_logs_retention_register(struct wgm_daemon *d)
{
    int64_t id = wgm_sched_timer_add(d->sched, d->core_ctx, RETENTION_INTERVAL_MS, retention_tick, NULL, NULL);
    return id < 0 ? (int)id : 0;
}
