/* A host table over sqlite3 directly, so the ipv6pool allocator can be
 * tested and benchmarked on a real database without a running wgmd.
 * Included by tests/unit/test_ipv6_alloc.c and tests/bench/ipv6pool/alloc.c;
 * `steps` counts statements stepped (all threads). */
#ifndef WGM_TEST_SQLITE_HOST_H
#define WGM_TEST_SQLITE_HOST_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <wgm/wgm.h>

struct wgm_db {
    sqlite3 *sq;
};

struct wgm_stmt {
    sqlite3_stmt *st;
    sqlite3 *sq;
};

static long steps; /* statements stepped, all threads */

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return 0;
    case SQLITE_ROW:
        return WGM_DB_ROW;
    case SQLITE_DONE:
        return WGM_DB_DONE;
    case SQLITE_CONSTRAINT:
        return WGM_DB_ECONSTRAINT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return WGM_DB_EBUSY;
    case SQLITE_ERROR:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
        return WGM_DB_EINVALID;
    default:
        return WGM_DB_EERROR;
    }
}

static int sh_exec(struct wgm_db *db, const char *sql)
{
    return map_rc(sqlite3_exec(db->sq, sql, NULL, NULL, NULL));
}

static const char *sh_dialect(struct wgm_db *db)
{
    return "sqlite";
}

static int sh_begin(struct wgm_db *db)
{
    return sh_exec(db, "BEGIN IMMEDIATE");
}

static int sh_commit(struct wgm_db *db)
{
    return sh_exec(db, "COMMIT");
}

static int sh_rollback(struct wgm_db *db)
{
    return sqlite3_get_autocommit(db->sq) ? 0 : sh_exec(db, "ROLLBACK");
}

static int sh_prepare(struct wgm_db *db, const char *sql, struct wgm_stmt **out)
{
    struct wgm_stmt *st = calloc(1, sizeof(*st));
    int rc;

    if (!st)
        return -ENOMEM;
    st->sq = db->sq;
    if ((rc = sqlite3_prepare_v2(db->sq, sql, -1, &st->st, NULL)) != SQLITE_OK) {
        printf("# prepare failed: %s: %s\n", sqlite3_errmsg(db->sq), sql);
        sqlite3_finalize(st->st);
        free(st);
        return map_rc(rc);
    }
    *out = st;
    return 0;
}

static int sh_bind_int(struct wgm_stmt *st, int idx, int64_t v)
{
    return map_rc(sqlite3_bind_int64(st->st, idx, v));
}

static int sh_bind_text(struct wgm_stmt *st, int idx, const char *v)
{
    return map_rc(v ? sqlite3_bind_text(st->st, idx, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st->st, idx));
}

static int sh_step(struct wgm_stmt *st)
{
    __atomic_fetch_add(&steps, 1, __ATOMIC_RELAXED);
    return map_rc(sqlite3_step(st->st));
}

static int64_t sh_column_int(struct wgm_stmt *st, int col)
{
    return sqlite3_column_int64(st->st, col);
}

static const char *sh_column_text(struct wgm_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st->st, col);
}

static int64_t sh_changes(struct wgm_stmt *st)
{
    return sqlite3_changes64(st->sq);
}

static int64_t sh_last_id(struct wgm_stmt *st)
{
    return sqlite3_last_insert_rowid(st->sq);
}

static void sh_stmt_free(struct wgm_stmt *st)
{
    if (!st)
        return;
    sqlite3_finalize(st->st);
    free(st);
}

static const struct wgm_host host = {
    .struct_size = sizeof(struct wgm_host),
    .db_dialect = sh_dialect,
    .db_begin = sh_begin,
    .db_commit = sh_commit,
    .db_rollback = sh_rollback,
    .db_prepare = sh_prepare,
    .stmt_bind_int = sh_bind_int,
    .stmt_bind_text = sh_bind_text,
    .stmt_step = sh_step,
    .stmt_column_int = sh_column_int,
    .stmt_column_text = sh_column_text,
    .stmt_changes = sh_changes,
    .stmt_last_id = sh_last_id,
    .stmt_free = sh_stmt_free,
};
static const struct wgm_host *h = &host;

#endif
