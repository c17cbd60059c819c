/* plugins/monitor/store: the monitor's tables, the batched writes of closed
 * rollup buckets, retention, and history reads.  A bucket written twice
 * (a partial one at shutdown, the rest after the restart) is merged by the
 * database: min of mins, max of maxes, sums added. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "monitor.h"

static const char *const v1_sqlite[] = {
    "CREATE TABLE mon_rollups ("
    " host TEXT NOT NULL, metric TEXT NOT NULL, resolution INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " min_v REAL NOT NULL, max_v REAL NOT NULL, sum_v REAL NOT NULL, count_v INTEGER NOT NULL,"
    " PRIMARY KEY (host, metric, resolution, ts))",
    "CREATE TABLE mon_alert_rules ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, description TEXT,"
    " metric_name TEXT NOT NULL, condition_op TEXT NOT NULL, threshold REAL NOT NULL, level TEXT NOT NULL,"
    " duration INTEGER NOT NULL, enabled INTEGER NOT NULL, cooldown_minutes INTEGER NOT NULL,"
    " notification_channels TEXT NOT NULL, tags TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE TABLE mon_alerts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, rule_id INTEGER NOT NULL, name TEXT NOT NULL, level TEXT NOT NULL,"
    " status TEXT NOT NULL, metric_name TEXT NOT NULL, current_value REAL, threshold REAL NOT NULL,"
    " condition_op TEXT NOT NULL, message TEXT NOT NULL, host TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, resolved_at INTEGER,"
    " acknowledged INTEGER NOT NULL DEFAULT 0, acknowledged_by TEXT, acknowledged_at INTEGER)",
    "CREATE INDEX mon_alerts_status ON mon_alerts(status, created_at)",
    "CREATE INDEX mon_alerts_rule ON mon_alerts(rule_id, status)",
    NULL,
};

static const char *const v1_mysql[] = {
    "CREATE TABLE IF NOT EXISTS mon_rollups ("
    " host VARCHAR(64) NOT NULL, metric VARCHAR(64) NOT NULL, resolution INT NOT NULL, ts BIGINT NOT NULL,"
    " min_v DOUBLE NOT NULL, max_v DOUBLE NOT NULL, sum_v DOUBLE NOT NULL, count_v BIGINT NOT NULL,"
    " PRIMARY KEY (host, metric, resolution, ts)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS mon_alert_rules ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(128) NOT NULL UNIQUE, description TEXT,"
    " metric_name VARCHAR(64) NOT NULL, condition_op VARCHAR(2) NOT NULL, threshold DOUBLE NOT NULL,"
    " level VARCHAR(16) NOT NULL, duration BIGINT NOT NULL, enabled TINYINT NOT NULL,"
    " cooldown_minutes BIGINT NOT NULL, notification_channels TEXT NOT NULL, tags TEXT NOT NULL,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS mon_alerts ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, rule_id BIGINT NOT NULL, name VARCHAR(128) NOT NULL,"
    " level VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, metric_name VARCHAR(64) NOT NULL,"
    " current_value DOUBLE NULL, threshold DOUBLE NOT NULL, condition_op VARCHAR(2) NOT NULL,"
    " message TEXT NOT NULL, host VARCHAR(64) NOT NULL, created_at BIGINT NOT NULL, resolved_at BIGINT NULL,"
    " acknowledged TINYINT NOT NULL DEFAULT 0, acknowledged_by VARCHAR(64) NULL, acknowledged_at BIGINT NULL,"
    " KEY mon_alerts_status (status, created_at), KEY mon_alerts_rule (rule_id, status)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};

/* The network rates were stored under their old, counter-like names
 * (catalog.c keeps those as aliases): history written before the rename
 * moves to the new names. */
#define RENAME(old, new) "UPDATE mon_rollups SET metric = '" new "' WHERE metric = '" old "'"
static const char *const v2_both[] = {
    RENAME("network.bytes_sent", "network.bytes_sent_per_second"),
    RENAME("network.bytes_recv", "network.bytes_recv_per_second"),
    RENAME("network.packets_sent", "network.packets_sent_per_second"),
    RENAME("network.packets_recv", "network.packets_recv_per_second"),
    RENAME("network.errors", "network.errors_per_second"),
    RENAME("network.drops", "network.drops_per_second"),
    NULL,
};
#undef RENAME

const struct wgm_migration mon_migrations[] = {
    {.version = 1, .sqlite = v1_sqlite, .mysql = v1_mysql},
    {.version = 2, .sqlite = v2_both, .mysql = v2_both},
};
const size_t mon_migrations_count = sizeof(mon_migrations) / sizeof(mon_migrations[0]);

static const char *upsert_sql(struct wgm_db *db)
{
    if (strcmp(mon.host->db_dialect(db), "mysql") == 0)
        return "INSERT INTO mon_rollups (host, metric, resolution, ts, min_v, max_v, sum_v, count_v)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE min_v = LEAST(min_v, VALUES(min_v)),"
               " max_v = GREATEST(max_v, VALUES(max_v)), sum_v = sum_v + VALUES(sum_v),"
               " count_v = count_v + VALUES(count_v)";
    return "INSERT INTO mon_rollups (host, metric, resolution, ts, min_v, max_v, sum_v, count_v)"
           " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, metric, resolution, ts) DO UPDATE SET"
           " min_v = MIN(min_v, excluded.min_v), max_v = MAX(max_v, excluded.max_v),"
           " sum_v = sum_v + excluded.sum_v, count_v = count_v + excluded.count_v";
}

/* One transaction, one prepared statement for the whole batch. */
static int write_batch(struct wgm_db *db, const struct mon_closed *list, size_t n)
{
    const struct wgm_host *h = mon.host;
    struct wgm_stmt *st = NULL;
    int r;

    if ((r = h->db_begin(db)) < 0)
        return r;
    if ((r = h->db_prepare(db, upsert_sql(db), &st)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const struct mon_closed *c = &list[i];
        h->stmt_bind_text(st, 1, mon.host_tag);
        h->stmt_bind_text(st, 2, mon_metrics[c->metric].name);
        h->stmt_bind_int(st, 3, mon_resolutions[c->res]);
        h->stmt_bind_int(st, 4, c->b.start);
        h->stmt_bind_double(st, 5, c->b.min);
        h->stmt_bind_double(st, 6, c->b.max);
        h->stmt_bind_double(st, 7, c->b.sum);
        h->stmt_bind_int(st, 8, c->b.count);
        if ((r = h->stmt_step(st)) < 0 || (r = h->stmt_reset(st)) < 0)
            goto fail;
    }
    h->stmt_free(st);
    return h->db_commit(db);
fail:
    h->stmt_free(st);
    h->db_rollback(db);
    return r;
}

int mon_store_flush(void)
{
    struct mon_closed *list;
    struct wgm_db *db;
    size_t n;
    int r;

    pthread_mutex_lock(&mon.lock);
    list = mon_rollup_take(&mon.rollup, &n);
    pthread_mutex_unlock(&mon.lock);
    if (!n) {
        free(list);
        return 0;
    }
    if (!(db = mon.host->db_acquire(mon.ctx)))
        r = -EAGAIN;
    else {
        r = write_batch(db, list, n);
        mon.host->db_release(db);
    }
    if (r < 0) {
        /* keep them for the next round; the rollup bounds how many */
        pthread_mutex_lock(&mon.lock);
        mon_rollup_putback(&mon.rollup, list, n);
        pthread_mutex_unlock(&mon.lock);
        MON_LOG(WGM_LOG_WARN, "cannot write %zu rollup bucket(s), will retry: %s", n, strerror(-r));
    }
    free(list);
    return r;
}

void mon_store_retention(void)
{
    const struct wgm_host *h = mon.host;
    struct wgm_db *db = h->db_acquire(mon.ctx);
    struct wgm_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL);

    if (!db)
        return;
    if (h->db_prepare(db, "DELETE FROM mon_rollups WHERE resolution = ? AND ts < ?", &st) == 0) {
        for (int res = 0; res < MON_RES_COUNT; res++) {
            h->stmt_bind_int(st, 1, mon_resolutions[res]);
            h->stmt_bind_int(st, 2, now - mon.retention_s[res]);
            h->stmt_step(st);
            h->stmt_reset(st);
        }
    }
    h->stmt_free(st);
    st = NULL;
    if (h->db_prepare(db, "DELETE FROM mon_alerts WHERE status = 'resolved' AND resolved_at < ?", &st) == 0) {
        h->stmt_bind_int(st, 1, now - mon.alert_retention_s);
        h->stmt_step(st);
    }
    h->stmt_free(st);
    h->db_release(db);
}

int mon_store_history(int metric, int res, int64_t from, int64_t to, const char *host, struct mon_bucket **points,
                      size_t *n)
{
    const struct wgm_host *h = mon.host;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    struct mon_bucket *list = NULL, open;
    size_t len = 0, cap = 0;
    int r;

    *points = NULL;
    *n = 0;
    mon_store_flush();
    if (!(db = h->db_acquire(mon.ctx)))
        return -EAGAIN;
    r = h->db_prepare(db,
                      "SELECT ts, min_v, max_v, sum_v, count_v FROM mon_rollups WHERE host = ? AND metric = ?"
                      " AND resolution = ? AND ts >= ? AND ts <= ? ORDER BY ts",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, host);
        h->stmt_bind_text(st, 2, mon_metrics[metric].name);
        h->stmt_bind_int(st, 3, mon_resolutions[res]);
        h->stmt_bind_int(st, 4, from);
        h->stmt_bind_int(st, 5, to);
        while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
            if (len == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                struct mon_bucket *nl = realloc(list, ncap * sizeof(*nl));
                if (!nl) {
                    r = -ENOMEM;
                    break;
                }
                list = nl;
                cap = ncap;
            }
            list[len++] = (struct mon_bucket){h->stmt_column_int(st, 0), h->stmt_column_double(st, 1),
                                              h->stmt_column_double(st, 2), h->stmt_column_double(st, 3),
                                              (uint32_t)h->stmt_column_int(st, 4)};
        }
    }
    h->stmt_free(st);
    h->db_release(db);
    if (r < 0) {
        free(list);
        return r;
    }
    /* the bucket still filling is history too (this node only) */
    pthread_mutex_lock(&mon.lock);
    open = mon.rollup.open[metric][res];
    pthread_mutex_unlock(&mon.lock);
    if (open.count && open.start >= from && open.start <= to && strcmp(host, mon.host_tag) == 0) {
        if (len && list[len - 1].start == open.start) {
            mon_bucket_merge(&list[len - 1], &open);
        } else {
            struct mon_bucket *nl = realloc(list, (len + 1) * sizeof(*nl));
            if (!nl) {
                free(list);
                return -ENOMEM;
            }
            list = nl;
            list[len++] = open;
        }
    }
    *points = list;
    *n = len;
    return 0;
}
