/*
 * core/db internals shared by pool.c, loader.c, stmt.c, rows_json.c and
 * migrate.c.  Not for use outside core/db.
 */
#ifndef WGM_CORE_DB_INTERNAL_H
#define WGM_CORE_DB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "db/db.h"
#include "db/driver.h"

/* One pooled connection.  Only the thread that acquired it touches conn,
 * in_tx and broken; in_use is guarded by the pool mutex. */
struct wgm_db {
    struct wgm_db_pool *pool;
    void *conn;       /* driver connection, NULL until (re)connected */
    bool in_use;      /* handed out by wgm_db_acquire */
    bool in_tx;       /* wgm_db_begin without commit/rollback yet */
    bool broken;      /* the driver said WGM_DB_ERECONNECT: reconnect at next acquire */
};

struct wgm_db_pool {
    const struct wgm_db_driver *drv;
    void *dl;                 /* dlopen handle of the driver module */
    char *url;                /* kept to reconnect; never shown */
    char *server_version;     /* copied at open */
    unsigned size;
    struct wgm_db *conns;     /* size entries */
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* signalled when a connection is released */
    unsigned in_use;
    uint64_t acquired, timeouts;
    /* Statement timing (atomics: steps run without the pool lock). */
    uint64_t queries, query_us, slow_queries;
};

/* A first step at least this long counts as a slow query. */
#define WGM_DB_SLOW_QUERY_US 100000

/* A statement: the driver's handle and the connection it belongs to. */
struct wgm_stmt {
    struct wgm_db *db;
    void *st;
    bool stepped;     /* executed since prepare/reset: later steps only fetch */
};

/* Load the driver module for @url's scheme from @driver_dir. */
int wgm_db_driver_load(const char *url, const char *driver_dir,
                       const struct wgm_db_driver **drv, void **dl,
                       char *err, size_t errlen);
/* Unload a module from wgm_db_driver_load.  Accepts NULL. */
void wgm_db_driver_unload(void *dl);

/* Remember that @db's connection is gone when @rc says so; returns @rc. */
int wgm_db_note(struct wgm_db *db, int rc);
/* Run one parameterless statement on @db through the driver. */
int wgm_db_exec(struct wgm_db *db, const char *sql, char *err, size_t errlen);
/* The driver's last error text of @db's connection ("" when none). */
const char *wgm_db_errmsg(struct wgm_db *db);

/* snprintf into @err when it is non-NULL, with @secret (if any, non-empty)
 * replaced by "***" so a password can never leak into a message. */
void wgm_db_set_err(char *err, size_t errlen, const char *secret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
