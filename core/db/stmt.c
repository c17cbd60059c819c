/*
 * Prepared statements: thin wrappers over the driver that remember the
 * connection, so a lost connection is noticed whatever call saw it.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "db/internal.h"

#define DRV(st) ((st)->db->pool->drv)

int wgm_db_prepare(struct wgm_db *db, const char *sql, struct wgm_stmt **stmt)
{
    struct wgm_stmt *st;
    int rc;

    if (stmt)
        *stmt = NULL;
    if (!db || !db->conn || !sql || !stmt)
        return WGM_DB_EINVALID;
    st = calloc(1, sizeof(*st));
    if (!st)
        return -ENOMEM;
    st->db = db;
    rc = wgm_db_note(db, db->pool->drv->prepare(db->conn, sql, &st->st));
    if (rc < 0) {
        free(st);
        return rc;
    }
    *stmt = st;
    return 0;
}

int wgm_stmt_bind_int(struct wgm_stmt *st, int idx, int64_t v)
{
    if (!st)
        return WGM_DB_EINVALID;
    return wgm_db_note(st->db, DRV(st)->bind_int(st->st, idx, v));
}

int wgm_stmt_bind_double(struct wgm_stmt *st, int idx, double v)
{
    if (!st)
        return WGM_DB_EINVALID;
    return wgm_db_note(st->db, DRV(st)->bind_double(st->st, idx, v));
}

int wgm_stmt_bind_text(struct wgm_stmt *st, int idx, const char *v)
{
    if (!st)
        return WGM_DB_EINVALID;
    if (!v)
        return wgm_db_note(st->db, DRV(st)->bind_null(st->st, idx));
    return wgm_db_note(st->db, DRV(st)->bind_text(st->st, idx, v));
}

int wgm_stmt_bind_blob(struct wgm_stmt *st, int idx, const void *v, size_t len)
{
    if (!st || (!v && len))
        return WGM_DB_EINVALID;
    return wgm_db_note(st->db, DRV(st)->bind_blob(st->st, idx, v ? v : "", len));
}

int wgm_stmt_bind_null(struct wgm_stmt *st, int idx)
{
    if (!st)
        return WGM_DB_EINVALID;
    return wgm_db_note(st->db, DRV(st)->bind_null(st->st, idx));
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The first step executes the statement; it is what the monitor's query
 * time and slow-query figures measure. */
int wgm_stmt_step(struct wgm_stmt *st)
{
    struct wgm_db_pool *pool;
    uint64_t t0, us;
    int rc;

    if (!st)
        return WGM_DB_EINVALID;
    if (st->stepped)
        return wgm_db_note(st->db, DRV(st)->step(st->st));
    st->stepped = true;
    pool = st->db->pool;
    t0 = now_us();
    rc = wgm_db_note(st->db, DRV(st)->step(st->st));
    us = now_us() - t0;
    __atomic_add_fetch(&pool->queries, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&pool->query_us, us, __ATOMIC_RELAXED);
    if (us >= WGM_DB_SLOW_QUERY_US)
        __atomic_add_fetch(&pool->slow_queries, 1, __ATOMIC_RELAXED);
    return rc;
}

int wgm_stmt_reset(struct wgm_stmt *st)
{
    if (!st)
        return WGM_DB_EINVALID;
    st->stepped = false;
    return wgm_db_note(st->db, DRV(st)->reset(st->st));
}

int wgm_stmt_column_count(struct wgm_stmt *st)
{
    return st ? DRV(st)->column_count(st->st) : 0;
}

const char *wgm_stmt_column_name(struct wgm_stmt *st, int col)
{
    return st ? DRV(st)->column_name(st->st, col) : NULL;
}

enum wgm_db_type wgm_stmt_column_type(struct wgm_stmt *st, int col)
{
    return st ? DRV(st)->column_type(st->st, col) : WGM_DB_NULL;
}

int64_t wgm_stmt_column_int(struct wgm_stmt *st, int col)
{
    return st ? DRV(st)->column_int(st->st, col) : 0;
}

double wgm_stmt_column_double(struct wgm_stmt *st, int col)
{
    return st ? DRV(st)->column_double(st->st, col) : 0.0;
}

const char *wgm_stmt_column_text(struct wgm_stmt *st, int col)
{
    return st ? DRV(st)->column_text(st->st, col) : NULL;
}

const void *wgm_stmt_column_blob(struct wgm_stmt *st, int col, size_t *len)
{
    if (!st) {
        if (len)
            *len = 0;
        return NULL;
    }
    return DRV(st)->column_blob(st->st, col, len);
}

int64_t wgm_stmt_changes(struct wgm_stmt *st)
{
    return st ? DRV(st)->changes(st->st) : 0;
}

int64_t wgm_stmt_last_id(struct wgm_stmt *st)
{
    return st ? DRV(st)->last_id(st->st) : 0;
}

void wgm_stmt_free(struct wgm_stmt *st)
{
    if (!st)
        return;
    DRV(st)->finalize(st->st);
    free(st);
}
