/*
 * db_sqlite.so: the SQLite driver, wgm's zero-setup default.
 *
 * URLs: sqlite:///abs/path.db, sqlite://relative/path.db, sqlite::memory:.
 * Each connection is used by one thread at a time (the pool hands it out
 * exclusively), so it is opened SQLITE_OPEN_NOMUTEX: SQLite's per-connection
 * mutex would only cost.  WAL lets readers run beside the one writer;
 * busy_timeout makes writers queue instead of failing at once.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sqlite3.h>

#include "db/driver.h"

#define BUSY_TIMEOUT_MS 5000

struct sq_conn {
    sqlite3 *db;
    const char *note; /* our own reason for the last failure, or NULL */
};

struct sq_stmt {
    struct sq_conn *c;
    sqlite3_stmt *st;
    bool row;         /* positioned on a row */
    bool finished;    /* ran to DONE or failed: no re-run before reset */
    int final;        /* what step answers once finished */
};

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
    case SQLITE_MISMATCH: /* a bind of the wrong type, e.g. text into a rowid */
        return WGM_DB_EINVALID;
    default:
        return WGM_DB_EERROR;
    }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The file name in @url, or NULL when the URL is not one of ours. */
static const char *url_path(const char *url)
{
    if (strncasecmp(url, "sqlite:", 7) != 0)
        return NULL;
    url += 7;
    if (strcmp(url, ":memory:") == 0)
        return url;
    if (strncmp(url, "//", 2) != 0)
        return NULL;
    url += 2;
    return *url ? url : NULL;
}

/* Why a database file could not be opened, when its directory explains it. */
static const char *dir_problem(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    struct stat sb;
    int n;

    if (!slash)
        return NULL;
    n = snprintf(buf, len, "%.*s", (int)(slash - path), path);
    if (n < 0 || (size_t)n >= len)
        return NULL;
    if (n == 0)
        return NULL;
    if (stat(buf, &sb) < 0)
        return strerror(errno);
    if (!S_ISDIR(sb.st_mode))
        return "not a directory";
    return NULL;
}

static int pragma(sqlite3 *db, const char *path, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK)
        set_err(err, errlen, "sqlite: %s: %s: %s", path, sql,
                msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : (map_rc(rc) == WGM_DB_EBUSY ? WGM_DB_EBUSY : WGM_DB_EERROR);
}

static int sq_connect(const char *url, void **conn, char *err, size_t errlen)
{
    const char *path = url_path(url);
    struct sq_conn *c = NULL;
    char dir[PATH_MAX];
    const char *why;
    int rc;

    *conn = NULL;
    if (!path) {
        set_err(err, errlen, "sqlite: URL must be sqlite:///absolute/path.db, "
                             "sqlite://relative/path.db or sqlite::memory:");
        return WGM_DB_EINVALID;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    rc = sqlite3_open_v2(path, &c->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        /* The daemon creates its state directory; here we only say why. */
        why = dir_problem(path, dir, sizeof(dir));
        if (why)
            set_err(err, errlen, "sqlite: cannot open database %s: directory %s: %s",
                    path, dir, why);
        else
            set_err(err, errlen, "sqlite: cannot open database %s: %s", path,
                    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        rc = map_rc(rc);
        goto out;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* Each pragma also proves the file is a database: open is lazy. */
    if ((rc = pragma(c->db, path, "PRAGMA journal_mode=WAL", err, errlen)) < 0 ||
        (rc = pragma(c->db, path, "PRAGMA foreign_keys=ON", err, errlen)) < 0 ||
        (rc = pragma(c->db, path, "PRAGMA synchronous=NORMAL", err, errlen)) < 0)
        goto out;
    *conn = c;
    c = NULL;
    rc = 0;
out:
    if (c) {
        sqlite3_close_v2(c->db);
        free(c);
    }
    return rc;
}

static void sq_disconnect(void *conn)
{
    struct sq_conn *c = conn;

    if (!c)
        return;
    /* _v2: statements a caller leaked are finalized with the connection. */
    sqlite3_close_v2(c->db);
    free(c);
}

static int sq_ping(void *conn)
{
    struct sq_conn *c = conn;

    return map_rc(sqlite3_exec(c->db, "SELECT 1", NULL, NULL, NULL));
}

static const char *sq_server_version(void *conn)
{
    return sqlite3_libversion();
}

static int sq_exec(void *conn, const char *sql, char *err, size_t errlen)
{
    struct sq_conn *c = conn;
    char *msg = NULL;
    int rc;

    c->note = NULL;
    rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        set_err(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return map_rc(rc);
}

static const char *sq_errmsg(void *conn)
{
    struct sq_conn *c = conn;

    return c->note ? c->note : sqlite3_errmsg(c->db);
}

static int sq_prepare(void *conn, const char *sql, void **stmt)
{
    struct sq_conn *c = conn;
    struct sq_stmt *s;
    const char *tail = NULL;
    int rc;

    *stmt = NULL;
    c->note = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->c = c;
    rc = sqlite3_prepare_v2(c->db, sql, -1, &s->st, &tail);
    if (rc != SQLITE_OK) {
        free(s);
        return map_rc(rc);
    }
    /* One statement per prepare: anything after it would be ignored. */
    if (tail)
        tail += strspn(tail, " \t\r\n;");
    if (!s->st || (tail && *tail)) {
        c->note = s->st ? "more than one SQL statement" : "no SQL statement";
        sqlite3_finalize(s->st);
        free(s);
        return WGM_DB_EINVALID;
    }
    *stmt = s;
    return 0;
}

static int sq_bind_int(void *stmt, int idx, int64_t v)
{
    struct sq_stmt *s = stmt;

    return map_rc(sqlite3_bind_int64(s->st, idx, (sqlite3_int64)v));
}

static int sq_bind_double(void *stmt, int idx, double v)
{
    struct sq_stmt *s = stmt;

    return map_rc(sqlite3_bind_double(s->st, idx, v));
}

static int sq_bind_text(void *stmt, int idx, const char *v)
{
    struct sq_stmt *s = stmt;

    return map_rc(sqlite3_bind_text(s->st, idx, v, -1, SQLITE_TRANSIENT));
}

static int sq_bind_blob(void *stmt, int idx, const void *v, size_t len)
{
    struct sq_stmt *s = stmt;

    /* A NULL pointer would bind SQL NULL; the core passes "" for empty. */
    return map_rc(sqlite3_bind_blob64(s->st, idx, v, (sqlite3_uint64)len, SQLITE_TRANSIENT));
}

static int sq_bind_null(void *stmt, int idx)
{
    struct sq_stmt *s = stmt;

    return map_rc(sqlite3_bind_null(s->st, idx));
}

static int sq_step(void *stmt)
{
    struct sq_stmt *s = stmt;
    int rc;

    /* SQLite would silently re-run a finished statement (an INSERT twice);
     * the API asks for an explicit reset, like the MySQL driver. */
    if (s->finished)
        return s->final;
    s->c->note = NULL;
    rc = map_rc(sqlite3_step(s->st));
    s->row = rc == WGM_DB_ROW;
    if (!s->row) {
        s->finished = true;
        s->final = rc < 0 ? rc : WGM_DB_DONE;
    }
    return rc;
}

static int sq_reset(void *stmt)
{
    struct sq_stmt *s = stmt;

    /* sqlite3_reset repeats the last step's error, which was reported then. */
    sqlite3_reset(s->st);
    s->row = s->finished = false;
    s->final = 0;
    return map_rc(sqlite3_clear_bindings(s->st));
}

static int sq_column_count(void *stmt)
{
    struct sq_stmt *s = stmt;

    return sqlite3_column_count(s->st);
}

static bool valid_col(struct sq_stmt *s, int col)
{
    return col >= 0 && col < sqlite3_column_count(s->st);
}

static const char *sq_column_name(void *stmt, int col)
{
    struct sq_stmt *s = stmt;

    return valid_col(s, col) ? sqlite3_column_name(s->st, col) : NULL;
}

/* Values exist only on a row: SQLite leaves other reads undefined. */
static bool on_row(struct sq_stmt *s, int col)
{
    return s->row && valid_col(s, col);
}

static enum wgm_db_type sq_column_type(void *stmt, int col)
{
    struct sq_stmt *s = stmt;

    if (!on_row(s, col))
        return WGM_DB_NULL;
    switch (sqlite3_column_type(s->st, col)) {
    case SQLITE_INTEGER:
        return WGM_DB_INT;
    case SQLITE_FLOAT:
        return WGM_DB_DOUBLE;
    case SQLITE_TEXT:
        return WGM_DB_TEXT;
    case SQLITE_BLOB:
        return WGM_DB_BLOB;
    default:
        return WGM_DB_NULL;
    }
}

static int64_t sq_column_int(void *stmt, int col)
{
    struct sq_stmt *s = stmt;

    return on_row(s, col) ? (int64_t)sqlite3_column_int64(s->st, col) : 0;
}

static double sq_column_double(void *stmt, int col)
{
    struct sq_stmt *s = stmt;

    return on_row(s, col) ? sqlite3_column_double(s->st, col) : 0.0;
}

static const char *sq_column_text(void *stmt, int col)
{
    struct sq_stmt *s = stmt;

    return on_row(s, col) ? (const char *)sqlite3_column_text(s->st, col) : NULL;
}

static const void *sq_column_blob(void *stmt, int col, size_t *len)
{
    struct sq_stmt *s = stmt;
    const void *p = NULL;
    size_t n = 0;

    if (on_row(s, col) && sqlite3_column_type(s->st, col) != SQLITE_NULL) {
        p = sqlite3_column_blob(s->st, col);
        n = (size_t)sqlite3_column_bytes(s->st, col);
        if (!p)
            p = ""; /* an empty blob is not NULL */
    }
    if (len)
        *len = n;
    return p;
}

static int64_t sq_changes(void *stmt)
{
    struct sq_stmt *s = stmt;

#if SQLITE_VERSION_NUMBER >= 3037000
    return (int64_t)sqlite3_changes64(s->c->db);
#else
    return (int64_t)sqlite3_changes(s->c->db);
#endif
}

static int64_t sq_last_id(void *stmt)
{
    struct sq_stmt *s = stmt;

    return (int64_t)sqlite3_last_insert_rowid(s->c->db);
}

static void sq_finalize(void *stmt)
{
    struct sq_stmt *s = stmt;

    if (!s)
        return;
    sqlite3_finalize(s->st);
    free(s);
}

extern const struct wgm_db_driver wgm_db_driver_v1;
__attribute__((visibility("default"))) const struct wgm_db_driver wgm_db_driver_v1 = {
    .abi = WGM_DB_DRIVER_ABI,
    .dialect = "sqlite",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .ping = sq_ping,
    .server_version = sq_server_version,
    .exec = sq_exec,
    .errmsg = sq_errmsg,
    .prepare = sq_prepare,
    .bind_int = sq_bind_int,
    .bind_double = sq_bind_double,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .reset = sq_reset,
    .column_count = sq_column_count,
    .column_name = sq_column_name,
    .column_type = sq_column_type,
    .column_int = sq_column_int,
    .column_double = sq_column_double,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .changes = sq_changes,
    .last_id = sq_last_id,
    .finalize = sq_finalize,
};
