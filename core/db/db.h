/*
 * core/db: the database layer of wgmd.
 *
 * A pool of connections opened through a driver module chosen by the URL
 * scheme (sqlite://, mysql://), so wgmd links libmariadb only when MySQL is
 * used.  The statement functions have exactly the signatures of the host
 * table's db members, so the host table points straight at them.
 */
#ifndef WGM_CORE_DB_H
#define WGM_CORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <wgm/db.h>
#include <wgm/host.h>

struct wgm_db_pool;

/** Pool figures for /health, /system/info and the monitor. */
struct wgm_db_stats {
    unsigned size;       /* configured connections */
    unsigned open;       /* connections currently connected */
    unsigned in_use;     /* acquired right now */
    uint64_t acquired;   /* total successful acquisitions */
    uint64_t timeouts;   /* acquisitions that gave up */
    uint64_t queries;    /* statements executed (first steps) */
    uint64_t query_us;   /* their summed time */
    uint64_t slow_queries; /* of which took WGM_DB_SLOW_QUERY_US (100 ms) or more */
};

/* Open a pool of @size connections for @url, loading the driver module
 * "db_<scheme>.so" from @driver_dir.  Connects one connection eagerly so a
 * bad URL or password fails at start.  0 or a negative errno with a reason
 * (never containing the password) in @err. */
int wgm_db_pool_open(const char *url, unsigned size, const char *driver_dir,
                     struct wgm_db_pool **out, char *err, size_t errlen);
/* Close every connection and unload the driver.  Accepts NULL; returns NULL. */
struct wgm_db_pool *wgm_db_pool_close(struct wgm_db_pool *pool);
/* "sqlite" or "mysql". */
const char *wgm_db_pool_dialect(const struct wgm_db_pool *pool);
/* Server version string ("3.40.1", "10.11.6-MariaDB"), or NULL when unknown. */
const char *wgm_db_pool_server_version(struct wgm_db_pool *pool);
void wgm_db_pool_stats(struct wgm_db_pool *pool, struct wgm_db_stats *out);
/* Acquire a connection, ping it and return 0 when the database answers. */
int wgm_db_pool_ping(struct wgm_db_pool *pool);

/* Take a connection, waiting up to @timeout_ms for one to be free; a broken
 * connection is reconnected first.  NULL when none could be had. */
struct wgm_db *wgm_db_acquire(struct wgm_db_pool *pool, unsigned timeout_ms);
void wgm_db_release(struct wgm_db *db);
const char *wgm_db_dialect(struct wgm_db *db);
int wgm_db_begin(struct wgm_db *db);
int wgm_db_commit(struct wgm_db *db);
int wgm_db_rollback(struct wgm_db *db);

int wgm_db_prepare(struct wgm_db *db, const char *sql, struct wgm_stmt **stmt);
int wgm_stmt_bind_int(struct wgm_stmt *st, int idx, int64_t v);
int wgm_stmt_bind_double(struct wgm_stmt *st, int idx, double v);
int wgm_stmt_bind_text(struct wgm_stmt *st, int idx, const char *v);
int wgm_stmt_bind_blob(struct wgm_stmt *st, int idx, const void *v, size_t len);
int wgm_stmt_bind_null(struct wgm_stmt *st, int idx);
int wgm_stmt_step(struct wgm_stmt *st);
int wgm_stmt_reset(struct wgm_stmt *st);
int wgm_stmt_column_count(struct wgm_stmt *st);
const char *wgm_stmt_column_name(struct wgm_stmt *st, int col);
enum wgm_db_type wgm_stmt_column_type(struct wgm_stmt *st, int col);
int64_t wgm_stmt_column_int(struct wgm_stmt *st, int col);
double wgm_stmt_column_double(struct wgm_stmt *st, int col);
const char *wgm_stmt_column_text(struct wgm_stmt *st, int col);
const void *wgm_stmt_column_blob(struct wgm_stmt *st, int col, size_t *len);
int64_t wgm_stmt_changes(struct wgm_stmt *st);
int64_t wgm_stmt_last_id(struct wgm_stmt *st);
json_t *wgm_stmt_rows_json(struct wgm_stmt *st, int *status);
void wgm_stmt_free(struct wgm_stmt *st);

/* Apply @migrations of @module that schema_migrations does not record yet,
 * each in its own transaction, serialised across processes sharing the
 * database.  0, or a negative errno with the failing version and the
 * server's message in @err. */
int wgm_db_migrate(struct wgm_db_pool *pool, const char *module,
                   const struct wgm_migration *migrations, size_t count,
                   char *err, size_t errlen);

#endif
