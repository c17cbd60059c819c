/*
 * Schema migrations: numbered per module, recorded in schema_migrations,
 * each applied in its own transaction.  Several wgmd processes may start at
 * once against one database (cluster), so the work is serialised: SQLite by
 * taking the write lock up front (BEGIN IMMEDIATE) and re-checking inside
 * it, MySQL by a named server lock held for the whole run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/internal.h"

/* Waiting for a connection or for another process's migrations. */
#define MIGRATE_ACQUIRE_MS 30000
#define MODULE_MAX 64

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " module VARCHAR(64) NOT NULL,"
    " version INTEGER NOT NULL,"
    " applied_at VARCHAR(32) NOT NULL," /* RFC 3339 UTC, written by wgmd */
    " PRIMARY KEY (module, version))";

/* Run a one-row, one-integer query with up to two binds (text, int);
 * @val gets the value (-1 for SQL NULL, 0 for no row). */
static int query_int(struct wgm_db *db, const char *sql, const char *t, int i, bool bind_i,
                     int64_t *val)
{
    struct wgm_stmt *st = NULL;
    int rc;

    *val = 0;
    rc = wgm_db_prepare(db, sql, &st);
    if (rc < 0)
        goto out;
    if (t && (rc = wgm_stmt_bind_text(st, 1, t)) < 0)
        goto out;
    if (bind_i && (rc = wgm_stmt_bind_int(st, 2, i)) < 0)
        goto out;
    rc = wgm_stmt_step(st);
    if (rc == WGM_DB_ROW) {
        *val = wgm_stmt_column_type(st, 0) == WGM_DB_NULL ? -1 : wgm_stmt_column_int(st, 0);
        rc = 0;
    }
out:
    wgm_stmt_free(st);
    return rc;
}

static int record(struct wgm_db *db, const char *module, int version)
{
    struct wgm_stmt *st = NULL;
    char now[32];
    struct tm tm;
    time_t t = time(NULL);
    int rc;

    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    rc = wgm_db_prepare(db, "INSERT INTO schema_migrations (module, version, applied_at)"
                            " VALUES (?, ?, ?)", &st);
    if (rc < 0)
        goto out;
    if ((rc = wgm_stmt_bind_text(st, 1, module)) < 0 ||
        (rc = wgm_stmt_bind_int(st, 2, version)) < 0 ||
        (rc = wgm_stmt_bind_text(st, 3, now)) < 0)
        goto out;
    rc = wgm_stmt_step(st);
    if (rc == WGM_DB_ROW)
        rc = 0;
out:
    wgm_stmt_free(st);
    return rc;
}

/* Apply one migration unless recorded.  Its statements run through the
 * driver's exec: DDL has no parameters, and exec reports the server's text. */
static int apply(struct wgm_db *db, bool mysql, const char *module,
                 const struct wgm_migration *m, char *err, size_t errlen)
{
    const char *const *sqls = mysql && m->mysql ? m->mysql : m->sqlite;
    char msg[512] = "";
    int64_t done = 0;
    int rc;

    /* The common case, everything applied, takes no write lock. */
    rc = query_int(db, "SELECT COUNT(*) FROM schema_migrations WHERE module = ? AND version = ?",
                   module, m->version, true, &done);
    if (rc == 0 && done > 0)
        return 0;
    rc = wgm_db_begin(db);
    if (rc < 0) {
        wgm_db_set_err(err, errlen, NULL, "%s migration version %d: cannot begin: %s",
                       module, m->version, wgm_db_errmsg(db));
        goto out;
    }
    /* Re-checked inside the transaction: another process may have applied
     * it while this one waited for the lock. */
    rc = query_int(db, "SELECT COUNT(*) FROM schema_migrations WHERE module = ? AND version = ?",
                   module, m->version, true, &done);
    if (rc < 0) {
        wgm_db_set_err(err, errlen, NULL, "%s migration version %d: reading schema_migrations: %s",
                       module, m->version, wgm_db_errmsg(db));
        goto out;
    }
    if (done > 0)
        goto out;
    /* MySQL/MariaDB commit implicitly after every DDL statement, so a
     * migration that fails after a CREATE/ALTER there keeps what ran before
     * the failure.  It is not recorded, so it runs again at the next start:
     * MySQL variants must be re-runnable (IF NOT EXISTS) or one DDL each. */
    for (size_t i = 0; sqls[i]; i++) {
        rc = wgm_db_exec(db, sqls[i], msg, sizeof(msg));
        if (rc < 0) {
            wgm_db_set_err(err, errlen, NULL, "%s migration version %d, statement %zu: %s",
                           module, m->version, i + 1, msg[0] ? msg : wgm_db_errmsg(db));
            goto out;
        }
    }
    rc = record(db, module, m->version);
    if (rc < 0) {
        wgm_db_set_err(err, errlen, NULL, "%s migration version %d: recording it: %s",
                       module, m->version, wgm_db_errmsg(db));
        goto out;
    }
    rc = wgm_db_commit(db);
    if (rc < 0)
        wgm_db_set_err(err, errlen, NULL, "%s migration version %d: commit: %s",
                       module, m->version, wgm_db_errmsg(db));
out:
    if (rc < 0)
        wgm_db_rollback(db);
    else if (done > 0)
        rc = wgm_db_rollback(db);
    return rc;
}

static int check_args(const char *module, const struct wgm_migration *migrations, size_t count,
                      char *err, size_t errlen)
{
    if (!module || !*module || strlen(module) > MODULE_MAX || (count && !migrations)) {
        wgm_db_set_err(err, errlen, NULL, "migrations need a module name of 1 to %d characters",
                       MODULE_MAX);
        return -EINVAL;
    }
    for (size_t i = 0; i < count; i++) {
        const struct wgm_migration *m = &migrations[i];

        if (m->version <= 0 || (i && m->version <= migrations[i - 1].version) || !m->sqlite) {
            wgm_db_set_err(err, errlen, NULL,
                           "%s migration #%zu (version %d): versions must be positive and "
                           "increasing, and SQLite statements are required",
                           module, i + 1, m->version);
            return -EINVAL;
        }
    }
    return 0;
}

int wgm_db_migrate(struct wgm_db_pool *pool, const char *module,
                   const struct wgm_migration *migrations, size_t count,
                   char *err, size_t errlen)
{
    struct wgm_db *db = NULL;
    bool mysql, locked = false;
    char msg[512] = "";
    int64_t v;
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!pool)
        return -EINVAL;
    rc = check_args(module, migrations, count, err, errlen);
    if (rc < 0)
        return rc;
    db = wgm_db_acquire(pool, MIGRATE_ACQUIRE_MS);
    if (!db) {
        wgm_db_set_err(err, errlen, NULL, "%s migrations: no database connection", module);
        return -ETIMEDOUT;
    }
    mysql = strcmp(wgm_db_dialect(db), "mysql") == 0;
    if (mysql) {
        /* A session lock: the server drops it if this connection dies. */
        rc = query_int(db, "SELECT GET_LOCK('wgm_migrate', 30)", NULL, 0, false, &v);
        if (rc < 0 || v != 1) {
            wgm_db_set_err(err, errlen, NULL, "%s migrations: %s", module,
                           rc < 0 ? wgm_db_errmsg(db)
                                  : "another process held the migration lock for 30 s");
            if (rc >= 0)
                rc = -ETIMEDOUT;
            goto out;
        }
        locked = true;
    }
    rc = wgm_db_exec(db, create_sql, msg, sizeof(msg));
    if (rc < 0) {
        wgm_db_set_err(err, errlen, NULL, "creating schema_migrations: %s", msg);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        rc = apply(db, mysql, module, &migrations[i], err, errlen);
        if (rc < 0)
            goto out;
    }
out:
    if (locked)
        query_int(db, "SELECT RELEASE_LOCK('wgm_migrate')", NULL, 0, false, &v);
    wgm_db_release(db);
    return rc;
}
