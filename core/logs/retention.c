/* core/logs/retention: a core timer that keeps the log table and the
 * export directory from growing without bound. */
#include <errno.h>
#include <pthread.h>
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
#include "sysconfig.h"

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

/* max_log_size: a record's size is the bytes of its text columns plus
 * WGM_LOGS_ROW_OVERHEAD for the fixed ones.  SQLite's length() counts
 * characters, so its text is measured as a blob. */
#define SIZE_EXPR_SQLITE(c) "COALESCE(length(CAST(" c " AS BLOB)), 0)"
#define SIZE_EXPR_MYSQL(c) "COALESCE(LENGTH(" c "), 0)"
#define ROW_SIZE(E)                                                                                          \
    "(" E("message") " + " E("module") " + " E("details") " + " E("tags") " + " E("api_key_id") " + " E( \
        "ip_address") " + " E("request_id") " + 64)"
_Static_assert(WGM_LOGS_ROW_OVERHEAD == 64, "ROW_SIZE spells the overhead");
static const char total_sqlite[] = "SELECT COALESCE(SUM" ROW_SIZE(SIZE_EXPR_SQLITE) ", 0) FROM logs";
static const char total_mysql[] = "SELECT COALESCE(SUM" ROW_SIZE(SIZE_EXPR_MYSQL) ", 0) FROM logs";
static const char walk_sqlite[] =
    "SELECT id, " ROW_SIZE(SIZE_EXPR_SQLITE) " FROM logs WHERE id > ? ORDER BY id LIMIT 5000";
static const char walk_mysql[] = "SELECT id, " ROW_SIZE(SIZE_EXPR_MYSQL) " FROM logs WHERE id > ? ORDER BY id LIMIT 5000";
static const char drop_sqlite[] =
    "DELETE FROM logs WHERE id IN (SELECT id FROM logs WHERE id <= ? ORDER BY id LIMIT 5000)";
static const char drop_mysql[] = "DELETE FROM logs WHERE id <= ? ORDER BY id LIMIT 5000";

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

static bool is_mysql(struct wgm_db *db)
{
    return strcmp(wgm_db_dialect(db), "mysql") == 0;
}

/* Bytes the stored records take by the measure above. */
static int table_size(struct wgm_db *db, int64_t *bytes)
{
    struct wgm_stmt *st = NULL;
    int rc = wgm_db_prepare(db, is_mysql(db) ? total_mysql : total_sqlite, &st);
    if (rc == 0 && (rc = wgm_stmt_step(st)) == WGM_DB_ROW) {
        *bytes = wgm_stmt_column_int(st, 0);
        rc = 0;
    } else if (rc >= 0) {
        rc = WGM_DB_EERROR;
    }
    wgm_stmt_free(st);
    return rc;
}

/* The id up to which, oldest first, records add up to @excess bytes, read
 * WGM_LOGS_PURGE_BATCH rows at a time and at most @max_batches of them. */
static int cutoff_id(struct wgm_db *db, int64_t excess, unsigned max_batches, int64_t *cutoff)
{
    struct wgm_stmt *st = NULL;
    int64_t freed = 0, last = 0;
    int rc = wgm_db_prepare(db, is_mysql(db) ? walk_mysql : walk_sqlite, &st);

    *cutoff = 0;
    for (unsigned b = 0; rc == 0 && b < max_batches && freed < excess; b++) {
        unsigned rows = 0;
        if ((rc = wgm_stmt_bind_int(st, 1, last)) < 0)
            break;
        while (freed < excess && (rc = wgm_stmt_step(st)) == WGM_DB_ROW) {
            last = wgm_stmt_column_int(st, 0);
            freed += wgm_stmt_column_int(st, 1);
            rows++;
        }
        rc = rc < 0 ? rc : 0;
        if (rc == 0)
            rc = wgm_stmt_reset(st);
        if (rows < WGM_LOGS_PURGE_BATCH)
            break;
    }
    wgm_stmt_free(st);
    *cutoff = last;
    return rc;
}

int64_t wgm_logs_enforce_size(struct wgm_db_pool *pool, unsigned acquire_ms, int64_t max_bytes, unsigned max_batches)
{
    struct wgm_db *db = wgm_db_acquire(pool, acquire_ms);
    struct wgm_stmt *st = NULL;
    int64_t total = 0, cutoff = 0, deleted = 0;
    int rc;

    if (!db)
        return -ETIMEDOUT;
    if ((rc = table_size(db, &total)) < 0 || total <= max_bytes)
        goto out;
    /* Down to 90 %: the next records do not each cost a DELETE. */
    if ((rc = cutoff_id(db, total - max_bytes / 10 * 9, max_batches, &cutoff)) < 0 || cutoff == 0)
        goto out;
    if ((rc = wgm_db_prepare(db, is_mysql(db) ? drop_mysql : drop_sqlite, &st)) < 0)
        goto out;
    for (unsigned i = 0; i < max_batches; i++) {
        int64_t n;
        if ((rc = wgm_stmt_bind_int(st, 1, cutoff)) < 0 || (rc = wgm_stmt_step(st)) < 0)
            break;
        n = wgm_stmt_changes(st);
        deleted += n;
        if ((rc = wgm_stmt_reset(st)) < 0 || n < WGM_LOGS_PURGE_BATCH)
            break;
    }
out:
    wgm_stmt_free(st);
    wgm_db_release(db);
    return rc < 0 ? rc : deleted;
}

/* One run at a time: the timer and a kick after PUT may meet. */
static pthread_mutex_t size_lock = PTHREAD_MUTEX_INITIALIZER;

static void size_tick(struct wgm_ctx *ctx, void *data)
{
    struct wgm_daemon *d = ctx->daemon;
    struct wgm_sysconfig cfg;
    int64_t n;

    (void)data;
    if (pthread_mutex_trylock(&size_lock) != 0)
        return;
    wgm_sysconfig_get(d, &cfg);
    n = wgm_logs_enforce_size(d->db, d->db_acquire_timeout_ms, (int64_t)cfg.max_log_size << 20,
                              RETENTION_MAX_BATCHES);
    pthread_mutex_unlock(&size_lock);
    if (n < 0)
        wgm_log(WGM_LOG_WARN, "logs", "max_log_size: cannot delete log records: %s", strerror((int)-n));
    else if (n > 0)
        wgm_log(WGM_LOG_INFO, "logs", "max_log_size: deleted the %lld oldest log record(s) to stay under %u MiB",
                (long long)n, cfg.max_log_size);
}

void wgm_logs_size_kick(struct wgm_daemon *d)
{
    if (d->sched && wgm_sched_submit(d->sched, d->core_ctx, size_tick, NULL, NULL) < 0)
        wgm_log(WGM_LOG_WARN, "logs", "max_log_size: cannot schedule the size check now; the timer will run it");
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
    if (id < 0)
        return (int)id;
    id = wgm_sched_timer_add(d->sched, d->core_ctx, WGM_LOGS_SIZE_INTERVAL_MS, size_tick, NULL, NULL);
    return id < 0 ? (int)id : 0;
}
