/*
 * example: a complete third-party wgmd plugin.
 *
 * It owns one table (created by a migration), one timer that records a
 * tick in that table every `interval_ms`, and one route that reports what
 * the table holds:
 *
 *   GET /api/v1/example/ticks  →  {"ticks": N, "last_tick": "2026-...Z", "greeting": "..."}
 *
 * Build it against an installed wgmd SDK:  make  (see Makefile)
 * Install it:  cp example.so "$(pkg-config --variable=plugindir wgm-plugin)"
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <wgm/wgm.h>

static const struct wgm_host *host;

static const char *const v1_sqlite[] = {
    "CREATE TABLE example_ticks (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL)",
    NULL,
};
static const char *const v1_mysql[] = {
    "CREATE TABLE example_ticks (id BIGINT PRIMARY KEY AUTO_INCREMENT, at BIGINT NOT NULL)",
    NULL,
};
static const struct wgm_migration migrations[] = {
    {.version = 1, .sqlite = v1_sqlite, .mysql = v1_mysql},
};

static void record_tick(struct wgm_ctx *ctx, void *data)
{
    struct wgm_db *db = host->db_acquire(ctx);
    struct wgm_stmt *st = NULL;

    (void)data;
    if (!db)
        return; /* database away: the next tick tries again */
    if (host->db_prepare(db, "INSERT INTO example_ticks (at) VALUES (?)", &st) == 0 &&
        host->stmt_bind_int(st, 1, (int64_t)time(NULL)) == 0 && host->stmt_step(st) < 0)
        host->log(ctx, WGM_LOG_WARN, "cannot record tick");
    host->stmt_free(st);
    host->db_release(db);
}

static int get_ticks(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_db *db = host->db_acquire(ctx);
    struct wgm_stmt *st = NULL;
    json_t *rows;
    int status = 0;

    (void)req;
    if (!db)
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    if (host->db_prepare(db, "SELECT COUNT(*) AS ticks, MAX(at) AS last_at FROM example_ticks", &st) < 0) {
        host->db_release(db);
        return -EIO;
    }
    rows = host->stmt_rows_json(st, &status);
    host->stmt_free(st);
    host->db_release(db);
    if (!rows)
        return -EIO;
    json_t *row = json_array_get(rows, 0);
    json_t *out = json_pack("{s:O,s:O,s:s}", "ticks", json_object_get(row, "ticks"), "last_at",
                            json_object_get(row, "last_at"), "greeting", host->conf_get(ctx, "greeting"));
    json_decref(rows);
    return wgm_resp_json(resp, 200, out);
}

static int example_init(struct wgm_ctx *ctx, const struct wgm_host *h)
{
    const char *interval = h->conf_get(ctx, "interval_ms");
    int r;

    host = h;
    if ((r = h->migrate(ctx, migrations, sizeof(migrations) / sizeof(migrations[0]))) < 0)
        return r;
    if ((r = h->route_add(ctx, "GET", "/example/ticks", "example.view", get_ticks)) < 0)
        return r;
    if (h->timer_add(ctx, (unsigned)atoi(interval), record_tick, NULL, NULL) < 0)
        return -ENOMEM;
    return 0;
}

static void example_fini(struct wgm_ctx *ctx)
{
    (void)ctx;
    host = NULL;
}

static const struct wgm_conf_key example_config[] = {
    {.key = "interval_ms", .type = WGM_CONF_INT, .def = "1000", .min = 100, .max = 3600000,
     .help = "how often a tick is recorded"},
    {.key = "greeting", .type = WGM_CONF_STRING, .def = "hello from example", .help = "echoed by the route"},
    {NULL},
};

WGM_EXPORT const struct wgm_plugin wgm_plugin_v1 = {
    WGM_PLUGIN_HEADER,
    .name = "example",
    .version = "1.0.0",
    .description = "SDK example: a table, a timer and a route",
    .feature = "example",
    .config = example_config,
    .init = example_init,
    .fini = example_fini,
};
