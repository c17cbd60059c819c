/*
 * db_mysql.so: the MariaDB/MySQL driver (mariadb-connector-c), for
 * production and clusters.
 *
 * URL: mysql://user:password@host:port/dbname[?socket=/path&connect_timeout=S
 * &read_timeout=S&ssl=required&ssl_ca=/path&ssl_verify=yes] (also mariadb://;
 * user, password, dbname and paths percent-decoded; an IPv6 host goes in
 * brackets).  Error texts name user@host:port/db, never the password.
 *
 * TLS: ssl=required refuses a connection that is not encrypted; the server
 * certificate is verified (chain against ssl_ca, or the system's trust
 * store without it, and the host name) unless ssl_verify=no (encrypted,
 * nothing verified; not with ssl_ca).  ssl=disabled (the default) speaks
 * plain, for loopback and Unix sockets.
 *
 * Every query is a server-side prepared statement.  Binds are kept in the
 * statement and handed to the server at the first step, so they may be set
 * in any order; results are buffered client-side (mysql_stmt_store_result),
 * which frees the connection for the next statement at once.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <mysql.h>

#include "db/driver.h"

#define DEFAULT_PORT 3306
#define DEFAULT_CONNECT_TIMEOUT_S 5
/* A server that vanished without a reset is noticed after this (the client
 * library retries reads, so up to three times as long); no wgm query
 * legitimately runs that long. */
#define DEFAULT_RW_TIMEOUT_S 60
/* First buffer for a text/blob column when the server gave no max length. */
#define MIN_COL_BUF 64
#define MAX_INITIAL_COL_BUF (1u << 20)
#define BINARY_CHARSET 63

struct my_conn {
    MYSQL *m;
    char err[512]; /* last failure of the connection or one of its statements */
};

struct my_param {
    enum wgm_db_type type; /* WGM_DB_NULL until bound */
    int64_t i;
    double d;
    char *data;
    unsigned long len;
};

enum col_kind { COL_INT, COL_DOUBLE, COL_BYTES };

struct my_col {
    enum col_kind kind;
    enum wgm_db_type bytes_type; /* TEXT, BLOB, or INT/DOUBLE for DECIMAL */
    int64_t i;                  /* COL_INT (unsigned values in u) */
    uint64_t u;
    double d;
    char *buf;                  /* COL_BYTES, NUL-terminated */
    size_t cap;
    unsigned long len;
    my_bool is_null, error, is_unsigned;
    char num[32];               /* text of a numeric column */
};

enum stmt_state { ST_FRESH, ST_FETCHING, ST_FINISHED };

struct my_stmt {
    struct my_conn *c;
    MYSQL_STMT *st;
    unsigned nparams;
    struct my_param *params;
    MYSQL_BIND *pbind;
    MYSQL_RES *meta;            /* column names and types, or NULL */
    unsigned ncols;
    struct my_col *cols;
    MYSQL_BIND *rbind;
    enum stmt_state state;
    int final;                  /* step's answer once finished */
    bool row, rebind;
    int64_t changes, last_id;
};

struct my_url {
    char *user, *pass, *host, *db, *socket, *ssl_ca;
    unsigned port, connect_timeout, rw_timeout;
    bool ssl, ssl_verify, ssl_given, verify_given;
};

/* --- library set-up ------------------------------------------------------ */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc = -1;

/* mysql_library_init is not thread-safe, and mysql_init would call it
 * implicitly from whichever pool thread connects first. */
static void lib_init(void)
{
    lib_rc = mysql_library_init(0, NULL, NULL);
}

__attribute__((destructor)) static void lib_fini(void)
{
    /* Runs when the module is unloaded (last dlclose) or at exit. */
    if (lib_rc == 0)
        mysql_library_end();
}

/* --- errors ---------------------------------------------------------------- */

static int map_errno(unsigned e)
{
    switch (e) {
    case 1048: /* ER_BAD_NULL_ERROR */
    case 1062: /* ER_DUP_ENTRY */
    case 1169: /* ER_DUP_UNIQUE */
    case 1216: /* ER_NO_REFERENCED_ROW */
    case 1217: /* ER_ROW_IS_REFERENCED */
    case 1364: /* ER_NO_DEFAULT_FOR_FIELD: a NOT NULL column left out */
    case 1451: /* ER_ROW_IS_REFERENCED_2 */
    case 1452: /* ER_NO_REFERENCED_ROW_2 */
    case 1557: /* ER_FOREIGN_DUPLICATE_KEY */
    case 1586: /* ER_DUP_ENTRY_WITH_KEY_NAME */
    case 4025: /* ER_CONSTRAINT_FAILED (CHECK) */
        return WGM_DB_ECONSTRAINT;
    case 1053: /* ER_SERVER_SHUTDOWN */
    case 1927: /* ER_CONNECTION_KILLED */
    case 2002: /* CR_CONNECTION_ERROR */
    case 2003: /* CR_CONN_HOST_ERROR */
    case 2006: /* CR_SERVER_GONE_ERROR */
    case 2013: /* CR_SERVER_LOST */
    case 2055: /* CR_SERVER_LOST_EXTENDED */
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
        return WGM_DB_ERECONNECT;
    case 1205: /* ER_LOCK_WAIT_TIMEOUT */
    case 1213: /* ER_LOCK_DEADLOCK */
        return WGM_DB_EBUSY;
    case 1050: /* ER_TABLE_EXISTS_ERROR */
    case 1051: /* ER_BAD_TABLE_ERROR */
    case 1054: /* ER_BAD_FIELD_ERROR */
    case 1060: /* ER_DUP_FIELDNAME */
    case 1061: /* ER_DUP_KEYNAME */
    case 1064: /* ER_PARSE_ERROR */
    case 1065: /* ER_EMPTY_QUERY */
    case 1091: /* ER_CANT_DROP_FIELD_OR_KEY */
    case 1146: /* ER_NO_SUCH_TABLE */
    case 1149: /* ER_SYNTAX_ERROR */
    case 1210: /* ER_WRONG_ARGUMENTS */
    case 1264: /* ER_WARN_DATA_OUT_OF_RANGE */
    case 1292: /* ER_TRUNCATED_WRONG_VALUE */
    case 1295: /* ER_UNSUPPORTED_PS */
    case 1366: /* ER_TRUNCATED_WRONG_VALUE_FOR_FIELD */
    case 1406: /* ER_DATA_TOO_LONG */
    case 2030: /* CR_NO_PREPARE_STMT */
    case 2031: /* CR_PARAMS_NOT_BOUND */
    case 2034: /* CR_INVALID_PARAMETER_NO */
    case 2036: /* CR_UNSUPPORTED_PARAM_TYPE */
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

/* Record the connection's error and return its code. */
static int conn_fail(struct my_conn *c)
{
    unsigned e = mysql_errno(c->m);

    set_err(c->err, sizeof(c->err), "%s", e ? mysql_error(c->m) : "unknown MySQL error");
    return e ? map_errno(e) : WGM_DB_EERROR;
}

/* Record the statement's error, finish it and return its code. */
static int stmt_fail(struct my_stmt *s)
{
    unsigned e = mysql_stmt_errno(s->st);

    set_err(s->c->err, sizeof(s->c->err), "%s",
            e ? mysql_stmt_error(s->st) : "unknown MySQL error");
    s->state = ST_FINISHED;
    s->row = false;
    s->final = e ? map_errno(e) : WGM_DB_EERROR;
    return s->final;
}

/* --- URL ------------------------------------------------------------------- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decode [p, p+n) into a new string; NULL on a bad escape or ENOMEM. */
static char *decode(const char *p, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '%') {
            if (i + 2 >= n || hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void url_free(struct my_url *u)
{
    if (u->pass)
        explicit_bzero(u->pass, strlen(u->pass));
    free(u->user);
    free(u->pass);
    free(u->host);
    free(u->db);
    free(u->socket);
    free(u->ssl_ca);
    memset(u, 0, sizeof(*u));
}

static int parse_uint(const char *p, size_t n, unsigned max, unsigned *out)
{
    unsigned long v = 0;

    if (n == 0 || n > 10)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > max)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* Parse the query part "k=v&k=v" (without '?'). */
static int parse_options(const char *q, struct my_url *u, char *err, size_t errlen)
{
    while (*q) {
        size_t n = strcspn(q, "&"), kn = strcspn(q, "=");
        const char *v = q + kn + 1;
        size_t vn;

        if (kn >= n) {
            set_err(err, errlen, "mysql: URL option without '=' value");
            return WGM_DB_EINVALID;
        }
        vn = n - kn - 1;
        if (kn == 6 && strncmp(q, "socket", 6) == 0) {
            free(u->socket);
            u->socket = decode(v, vn);
            if (!u->socket || !*u->socket) {
                set_err(err, errlen, "mysql: bad socket path in URL");
                return WGM_DB_EINVALID;
            }
        } else if (kn == 15 && strncmp(q, "connect_timeout", 15) == 0) {
            if (parse_uint(v, vn, 3600, &u->connect_timeout) < 0) {
                set_err(err, errlen, "mysql: connect_timeout must be 1..3600 seconds");
                return WGM_DB_EINVALID;
            }
        } else if (kn == 12 && strncmp(q, "read_timeout", 12) == 0) {
            if (parse_uint(v, vn, 86400, &u->rw_timeout) < 0) {
                set_err(err, errlen, "mysql: read_timeout must be 1..86400 seconds");
                return WGM_DB_EINVALID;
            }
        } else if (kn == 3 && strncmp(q, "ssl", 3) == 0) {
            if (vn == 8 && strncmp(v, "required", 8) == 0)
                u->ssl = true;
            else if (vn == 8 && strncmp(v, "disabled", 8) == 0)
                u->ssl = false;
            else {
                set_err(err, errlen, "mysql: ssl must be required or disabled");
                return WGM_DB_EINVALID;
            }
            u->ssl_given = true;
        } else if (kn == 6 && strncmp(q, "ssl_ca", 6) == 0) {
            free(u->ssl_ca);
            u->ssl_ca = decode(v, vn);
            if (!u->ssl_ca || !*u->ssl_ca) {
                set_err(err, errlen, "mysql: bad ssl_ca path in URL");
                return WGM_DB_EINVALID;
            }
        } else if (kn == 10 && strncmp(q, "ssl_verify", 10) == 0) {
            if (vn == 3 && strncmp(v, "yes", 3) == 0)
                u->ssl_verify = true;
            else if (vn == 2 && strncmp(v, "no", 2) == 0)
                u->ssl_verify = false;
            else {
                set_err(err, errlen, "mysql: ssl_verify must be yes or no");
                return WGM_DB_EINVALID;
            }
            u->verify_given = true;
        } else {
            set_err(err, errlen, "mysql: unknown URL option '%.*s'", (int)(kn < 32 ? kn : 32), q);
            return WGM_DB_EINVALID;
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

static int parse_url(const char *url, struct my_url *u, char *err, size_t errlen)
{
    const char *p, *auth_end, *at = NULL, *hp, *port = NULL, *host_end;
    int rc = -ENOMEM;

    memset(u, 0, sizeof(*u));
    if (strncasecmp(url, "mysql://", 8) == 0)
        p = url + 8;
    else if (strncasecmp(url, "mariadb://", 10) == 0)
        p = url + 10;
    else {
        set_err(err, errlen, "mysql: URL must start with mysql:// or mariadb://");
        return WGM_DB_EINVALID;
    }
    auth_end = p + strcspn(p, "/?#");
    for (const char *q = p; q < auth_end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon ? colon : at;

        if (!(u->user = decode(p, (size_t)(uend - p))) ||
            (colon && !(u->pass = decode(colon + 1, (size_t)(at - colon - 1))))) {
            set_err(err, errlen, "mysql: bad percent-encoding in URL user or password");
            rc = WGM_DB_EINVALID;
            goto out;
        }
        hp = at + 1;
    } else {
        hp = p;
    }
    if (*hp == '[') { /* [IPv6]:port */
        const char *rb = memchr(hp, ']', (size_t)(auth_end - hp));

        if (!rb) {
            set_err(err, errlen, "mysql: unterminated [IPv6] host in URL");
            rc = WGM_DB_EINVALID;
            goto out;
        }
        u->host = strndup(hp + 1, (size_t)(rb - hp - 1));
        if (rb + 1 < auth_end) {
            if (rb[1] != ':') {
                set_err(err, errlen, "mysql: junk after [IPv6] host in URL");
                rc = WGM_DB_EINVALID;
                goto out;
            }
            port = rb + 2;
        }
    } else {
        host_end = memchr(hp, ':', (size_t)(auth_end - hp));
        if (host_end)
            port = host_end + 1;
        else
            host_end = auth_end;
        u->host = strndup(hp, (size_t)(host_end - hp));
    }
    if (!u->host)
        goto out;
    u->port = DEFAULT_PORT;
    if (port && parse_uint(port, (size_t)(auth_end - port), 65535, &u->port) < 0) {
        set_err(err, errlen, "mysql: bad port in URL");
        rc = WGM_DB_EINVALID;
        goto out;
    }
    p = auth_end;
    if (*p == '/') {
        size_t n = strcspn(p + 1, "?#");

        if (n && !(u->db = decode(p + 1, n))) {
            set_err(err, errlen, "mysql: bad database name in URL");
            rc = WGM_DB_EINVALID;
            goto out;
        }
        p += 1 + n;
    }
    u->ssl_verify = true;
    if (*p == '?') {
        size_t n = strcspn(p + 1, "#");
        char *q = strndup(p + 1, n);

        if (!q)
            goto out;
        rc = parse_options(q, u, err, errlen);
        free(q);
        if (rc < 0)
            goto out;
    }
    /* A CA or a verify choice without TLS would be a setting that does nothing. */
    if ((u->ssl_ca || u->verify_given) && !u->ssl) {
        set_err(err, errlen, "mysql: ssl_ca and ssl_verify need ssl=required");
        rc = WGM_DB_EINVALID;
        goto out;
    }
    /* The library checks the chain whenever it has a CA: "no" could not hold. */
    if (u->ssl_ca && !u->ssl_verify) {
        set_err(err, errlen, "mysql: ssl_ca and ssl_verify=no contradict each other (drop one)");
        rc = WGM_DB_EINVALID;
        goto out;
    }
    if (u->ssl_ca && access(u->ssl_ca, R_OK) < 0) {
        set_err(err, errlen, "mysql: ssl_ca %s: %s", u->ssl_ca, strerror(errno));
        rc = WGM_DB_EINVALID;
        goto out;
    }
    if (!u->db || !*u->db) {
        set_err(err, errlen, "mysql: URL names no database (mysql://user:pass@host/dbname)");
        rc = WGM_DB_EINVALID;
        goto out;
    }
    if (!*u->host && !u->socket) {
        set_err(err, errlen, "mysql: URL names no host");
        rc = WGM_DB_EINVALID;
        goto out;
    }
    rc = 0;
out:
    if (rc == -ENOMEM)
        set_err(err, errlen, "mysql: out of memory");
    if (rc < 0)
        url_free(u);
    return rc;
}

/* --- connections ----------------------------------------------------------- */

static int my_connect(const char *url, void **conn, char *err, size_t errlen)
{
    struct my_conn *c = NULL;
    struct my_url u;
    unsigned ct, rw, proto = MYSQL_PROTOCOL_SOCKET;
    my_bool off = 0;
    int rc;

    *conn = NULL;
    rc = parse_url(url, &u, err, errlen);
    if (rc < 0)
        return rc;
    pthread_once(&lib_once, lib_init);
    if (lib_rc != 0) {
        set_err(err, errlen, "mysql: cannot initialise the client library");
        rc = WGM_DB_EERROR;
        goto out;
    }
    c = calloc(1, sizeof(*c));
    if (!c || !(c->m = mysql_init(NULL))) {
        set_err(err, errlen, "mysql: out of memory");
        rc = -ENOMEM;
        goto out;
    }
    ct = u.connect_timeout ? u.connect_timeout : DEFAULT_CONNECT_TIMEOUT_S;
    rw = u.rw_timeout ? u.rw_timeout : DEFAULT_RW_TIMEOUT_S;
    mysql_options(c->m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(c->m, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(c->m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    /* The pool reconnects: a silent reconnect would lose session state
     * (transactions, locks) behind the caller's back. */
    mysql_options(c->m, MYSQL_OPT_RECONNECT, &off);
    mysql_options(c->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* Timestamps the server makes are UTC, like everything wgm shows. */
    mysql_options(c->m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (u.socket)
        mysql_options(c->m, MYSQL_OPT_PROTOCOL, &proto);
    if (u.ssl) {
        my_bool on = 1, verify = u.ssl_verify;
        mysql_options(c->m, MYSQL_OPT_SSL_ENFORCE, &on);
        mysql_options(c->m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
        if (u.ssl_ca)
            mysql_options(c->m, MYSQL_OPT_SSL_CA, u.ssl_ca);
    }
    /* CLIENT_FOUND_ROWS: UPDATE reports the rows matched, as SQLite does,
     * not only those whose values changed. */
    if (!mysql_real_connect(c->m, *u.host ? u.host : NULL, u.user, u.pass ? u.pass : "",
                            u.db, u.port, u.socket, CLIENT_FOUND_ROWS)) {
        unsigned e = mysql_errno(c->m);

        if (u.socket)
            set_err(err, errlen, "mysql: cannot connect as %s via socket %s to database %s: %s",
                    u.user ? u.user : "", u.socket, u.db, mysql_error(c->m));
        else
            set_err(err, errlen, "mysql: cannot connect to %s@%s%s%s:%u/%s%s: %s",
                    u.user ? u.user : "", strchr(u.host, ':') ? "[" : "", u.host,
                    strchr(u.host, ':') ? "]" : "", u.port, u.db,
                    u.ssl ? (u.ssl_verify ? " (TLS required, server certificate verified"
                                            " against ssl_ca or the system's CAs)"
                                          : " (TLS required, certificate not verified)")
                          : "",
                    mysql_error(c->m));
        /* Wrong credentials will not cure themselves by reconnecting. */
        rc = map_errno(e);
        if (rc == WGM_DB_EINVALID || rc == WGM_DB_ECONSTRAINT)
            rc = WGM_DB_EERROR;
        goto out;
    }
    /* Belt and braces: enforcement is the library's, the proof is ours. */
    if (u.ssl && !mysql_get_ssl_cipher(c->m)) {
        set_err(err, errlen, "mysql: the connection to %s:%u is not encrypted although ssl=required",
                u.host, u.port);
        rc = WGM_DB_EERROR;
        goto out;
    }
    *conn = c;
    c = NULL;
    rc = 0;
out:
    if (c) {
        if (c->m)
            mysql_close(c->m);
        free(c);
    }
    url_free(&u);
    return rc;
}

static void my_disconnect(void *conn)
{
    struct my_conn *c = conn;

    if (!c)
        return;
    mysql_close(c->m);
    free(c);
}

static int my_ping(void *conn)
{
    struct my_conn *c = conn;

    return mysql_ping(c->m) == 0 ? 0 : conn_fail(c);
}

static const char *my_server_version(void *conn)
{
    struct my_conn *c = conn;

    return mysql_get_server_info(c->m);
}

static int my_exec(void *conn, const char *sql, char *err, size_t errlen)
{
    struct my_conn *c = conn;
    MYSQL_RES *res;
    int rc;

    if (mysql_real_query(c->m, sql, (unsigned long)strlen(sql)) != 0)
        goto fail;
    /* Drain a result if the statement had one (e.g. SELECT GET_LOCK). */
    res = mysql_store_result(c->m);
    if (res)
        mysql_free_result(res);
    else if (mysql_field_count(c->m) != 0)
        goto fail;
    return 0;
fail:
    rc = conn_fail(c);
    set_err(err, errlen, "%s", c->err);
    return rc;
}

static const char *my_errmsg(void *conn)
{
    struct my_conn *c = conn;

    return c->err;
}

/* --- statements ------------------------------------------------------------ */

static void clear_params(struct my_stmt *s)
{
    for (unsigned i = 0; i < s->nparams; i++) {
        free(s->params[i].data);
        memset(&s->params[i], 0, sizeof(s->params[i]));
    }
}

static void free_result(struct my_stmt *s)
{
    for (unsigned i = 0; s->cols && i < s->ncols; i++)
        free(s->cols[i].buf);
    free(s->cols);
    free(s->rbind);
    s->cols = NULL;
    s->rbind = NULL;
    if (s->meta)
        mysql_free_result(s->meta);
    s->meta = NULL;
    s->ncols = 0;
}

/* How a column's bytes are reported: DECIMAL as a number, binary strings
 * as blobs, other strings (and dates, sent as text) as text. */
static enum wgm_db_type bytes_type(const MYSQL_FIELD *f)
{
    switch (f->type) {
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        return f->decimals == 0 ? WGM_DB_INT : WGM_DB_DOUBLE;
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
        return f->charsetnr == BINARY_CHARSET ? WGM_DB_BLOB : WGM_DB_TEXT;
    case MYSQL_TYPE_BIT:
    case MYSQL_TYPE_GEOMETRY:
        return WGM_DB_BLOB;
    default:
        return WGM_DB_TEXT;
    }
}

/* Column descriptions and result binds from the current metadata.
 * Called after store_result, so max_length sizes the buffers. */
static int load_result(struct my_stmt *s, bool sized)
{
    MYSQL_FIELD *f;

    free_result(s);
    s->meta = mysql_stmt_result_metadata(s->st);
    if (!s->meta)
        return mysql_stmt_errno(s->st) ? stmt_fail(s) : 0;
    s->ncols = mysql_num_fields(s->meta);
    f = mysql_fetch_fields(s->meta);
    s->cols = calloc(s->ncols ? s->ncols : 1, sizeof(*s->cols));
    s->rbind = calloc(s->ncols ? s->ncols : 1, sizeof(*s->rbind));
    if (!s->cols || !s->rbind)
        return -ENOMEM;
    for (unsigned i = 0; i < s->ncols; i++) {
        struct my_col *col = &s->cols[i];
        MYSQL_BIND *b = &s->rbind[i];

        b->is_null = &col->is_null;
        b->length = &col->len;
        b->error = &col->error;
        switch (f[i].type) {
        case MYSQL_TYPE_TINY:
        case MYSQL_TYPE_SHORT:
        case MYSQL_TYPE_INT24:
        case MYSQL_TYPE_LONG:
        case MYSQL_TYPE_LONGLONG:
        case MYSQL_TYPE_YEAR:
            col->kind = COL_INT;
            col->is_unsigned = (f[i].flags & UNSIGNED_FLAG) != 0;
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = col->is_unsigned ? (void *)&col->u : (void *)&col->i;
            b->is_unsigned = col->is_unsigned;
            break;
        case MYSQL_TYPE_FLOAT:
        case MYSQL_TYPE_DOUBLE:
            col->kind = COL_DOUBLE;
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &col->d;
            break;
        default:
            col->kind = COL_BYTES;
            col->bytes_type = bytes_type(&f[i]);
            col->cap = MIN_COL_BUF;
            if (sized && f[i].max_length + 1 > col->cap)
                col->cap = f[i].max_length + 1 < MAX_INITIAL_COL_BUF ? f[i].max_length + 1
                                                                     : MAX_INITIAL_COL_BUF;
            col->buf = malloc(col->cap);
            if (!col->buf)
                return -ENOMEM;
            b->buffer_type = col->bytes_type == WGM_DB_BLOB ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
            b->buffer = col->buf;
            b->buffer_length = col->cap - 1; /* room for our NUL */
            break;
        }
    }
    return 0;
}

static int my_prepare(void *conn, const char *sql, void **stmt)
{
    struct my_conn *c = conn;
    struct my_stmt *s;
    my_bool on = 1;
    int rc;

    *stmt = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->c = c;
    s->st = mysql_stmt_init(c->m);
    if (!s->st) {
        rc = conn_fail(c);
        goto out;
    }
    /* store_result then measures the longest value of each column. */
    mysql_stmt_attr_set(s->st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
    if (mysql_stmt_prepare(s->st, sql, (unsigned long)strlen(sql)) != 0) {
        rc = stmt_fail(s);
        goto out;
    }
    s->nparams = (unsigned)mysql_stmt_param_count(s->st);
    if (s->nparams) {
        s->params = calloc(s->nparams, sizeof(*s->params));
        s->pbind = calloc(s->nparams, sizeof(*s->pbind));
        if (!s->params || !s->pbind) {
            rc = -ENOMEM;
            goto out;
        }
    }
    /* Names are known before the first step, as with SQLite. */
    rc = load_result(s, false);
    if (rc < 0)
        goto out;
    s->state = ST_FRESH;
    *stmt = s;
    s = NULL;
    rc = 0;
out:
    if (s) {
        free_result(s);
        free(s->params);
        free(s->pbind);
        if (s->st)
            mysql_stmt_close(s->st);
        free(s);
    }
    return rc;
}

/* The parameter slot @idx (1-based), cleared, or NULL when out of range or
 * the statement is running (binds change only before the first step). */
static struct my_param *param(struct my_stmt *s, int idx)
{
    struct my_param *p;

    if (idx < 1 || (unsigned)idx > s->nparams || s->state != ST_FRESH) {
        set_err(s->c->err, sizeof(s->c->err), idx < 1 || (unsigned)idx > s->nparams
                ? "bind index %d out of range" : "bind %d after step without reset", idx);
        return NULL;
    }
    p = &s->params[idx - 1];
    free(p->data);
    memset(p, 0, sizeof(*p));
    return p;
}

static int my_bind_int(void *stmt, int idx, int64_t v)
{
    struct my_param *p = param(stmt, idx);

    if (!p)
        return WGM_DB_EINVALID;
    p->type = WGM_DB_INT;
    p->i = v;
    return 0;
}

static int my_bind_double(void *stmt, int idx, double v)
{
    struct my_param *p = param(stmt, idx);

    if (!p)
        return WGM_DB_EINVALID;
    p->type = WGM_DB_DOUBLE;
    p->d = v;
    return 0;
}

static int bind_bytes(void *stmt, int idx, enum wgm_db_type type, const void *v, size_t len)
{
    struct my_param *p = param(stmt, idx);

    if (!p)
        return WGM_DB_EINVALID;
    if (len > ULONG_MAX - 1)
        return WGM_DB_EINVALID;
    p->data = malloc(len + 1);
    if (!p->data)
        return -ENOMEM;
    memcpy(p->data, v, len);
    p->data[len] = '\0';
    p->len = (unsigned long)len;
    p->type = type;
    return 0;
}

static int my_bind_text(void *stmt, int idx, const char *v)
{
    return bind_bytes(stmt, idx, WGM_DB_TEXT, v, strlen(v));
}

static int my_bind_blob(void *stmt, int idx, const void *v, size_t len)
{
    return bind_bytes(stmt, idx, WGM_DB_BLOB, v, len);
}

static int my_bind_null(void *stmt, int idx)
{
    return param(stmt, idx) ? 0 : WGM_DB_EINVALID;
}

static void fill_pbind(struct my_stmt *s)
{
    static my_bool yes = 1;

    memset(s->pbind, 0, s->nparams * sizeof(*s->pbind));
    for (unsigned i = 0; i < s->nparams; i++) {
        struct my_param *p = &s->params[i];
        MYSQL_BIND *b = &s->pbind[i];

        switch (p->type) {
        case WGM_DB_INT:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &p->i;
            break;
        case WGM_DB_DOUBLE:
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &p->d;
            break;
        case WGM_DB_TEXT:
        case WGM_DB_BLOB:
            b->buffer_type = p->type == WGM_DB_TEXT ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
            b->buffer = p->data;
            b->buffer_length = p->len;
            b->length = &p->len;
            break;
        case WGM_DB_NULL:
        default: /* unbound parameters are NULL, as in SQLite */
            b->buffer_type = MYSQL_TYPE_NULL;
            b->is_null = &yes;
            break;
        }
    }
}

/* Run the statement: bind, execute, buffer the result. */
static int execute(struct my_stmt *s)
{
    int rc;

    if (s->nparams) {
        fill_pbind(s);
        if (mysql_stmt_bind_param(s->st, s->pbind) != 0)
            return stmt_fail(s);
    }
    if (mysql_stmt_execute(s->st) != 0)
        return stmt_fail(s);
    s->last_id = (int64_t)mysql_stmt_insert_id(s->st);
    if (mysql_stmt_field_count(s->st) == 0) {
        my_ulonglong n = mysql_stmt_affected_rows(s->st);

        s->changes = n == (my_ulonglong)~0ULL ? 0 : (int64_t)n;
        s->state = ST_FINISHED;
        s->final = WGM_DB_DONE;
        return WGM_DB_DONE;
    }
    s->changes = 0;
    if (mysql_stmt_store_result(s->st) != 0)
        return stmt_fail(s);
    /* Metadata again: it can differ from prepare time (types of `?`
     * expressions, a table altered meanwhile), and now has max lengths. */
    rc = load_result(s, true);
    if (rc < 0) {
        s->state = ST_FINISHED;
        return s->final = rc;
    }
    if (s->ncols && mysql_stmt_bind_result(s->st, s->rbind) != 0)
        return stmt_fail(s);
    s->state = ST_FETCHING;
    return 0;
}

/* Fetch the rest of any column that did not fit its buffer. */
static int fetch_long_columns(struct my_stmt *s)
{
    for (unsigned i = 0; i < s->ncols; i++) {
        struct my_col *col = &s->cols[i];
        MYSQL_BIND *b = &s->rbind[i];
        char *nb;

        if (col->kind != COL_BYTES || col->is_null)
            continue;
        if (col->len + 1 > col->cap) {
            nb = realloc(col->buf, (size_t)col->len + 1);
            if (!nb)
                return -ENOMEM;
            col->buf = nb;
            col->cap = (size_t)col->len + 1;
            b->buffer = col->buf;
            b->buffer_length = col->cap - 1;
            if (mysql_stmt_fetch_column(s->st, b, i, 0) != 0)
                return stmt_fail(s);
            /* The stored binds still point at the old buffer. */
            s->rebind = true;
        }
        col->buf[col->len] = '\0';
    }
    return 0;
}

static int my_step(void *stmt)
{
    struct my_stmt *s = stmt;
    int rc;

    if (s->state == ST_FINISHED)
        return s->final;
    s->row = false;
    if (s->state == ST_FRESH) {
        rc = execute(s);
        /* Finished already: no result set (DML, DDL) or an error. */
        if (rc < 0 || s->state == ST_FINISHED)
            return rc;
    }
    if (s->rebind) {
        if (mysql_stmt_bind_result(s->st, s->rbind) != 0)
            return stmt_fail(s);
        s->rebind = false;
    }
    rc = mysql_stmt_fetch(s->st);
    if (rc == MYSQL_NO_DATA) {
        s->state = ST_FINISHED;
        s->final = WGM_DB_DONE;
        return WGM_DB_DONE;
    }
    if (rc != 0 && rc != MYSQL_DATA_TRUNCATED)
        return stmt_fail(s);
    rc = fetch_long_columns(s);
    if (rc < 0) {
        s->state = ST_FINISHED;
        return s->final = rc;
    }
    s->row = true;
    return WGM_DB_ROW;
}

static int my_reset(void *stmt)
{
    struct my_stmt *s = stmt;

    /* Client-side only: the next execute starts afresh on the server. */
    if (s->state != ST_FRESH)
        mysql_stmt_free_result(s->st);
    clear_params(s);
    s->state = ST_FRESH;
    s->row = s->rebind = false;
    s->final = 0;
    return 0;
}

static int my_column_count(void *stmt)
{
    struct my_stmt *s = stmt;

    return (int)s->ncols;
}

static const char *my_column_name(void *stmt, int col)
{
    struct my_stmt *s = stmt;

    if (col < 0 || (unsigned)col >= s->ncols || !s->meta)
        return NULL;
    return mysql_fetch_fields(s->meta)[col].name;
}

/* The column @col of the current row, or NULL when there is none or it is NULL. */
static struct my_col *value(struct my_stmt *s, int col)
{
    if (!s->row || col < 0 || (unsigned)col >= s->ncols || s->cols[col].is_null)
        return NULL;
    return &s->cols[col];
}

static int64_t col_int(const struct my_col *c)
{
    if (c->kind == COL_INT)
        return c->is_unsigned ? (c->u > INT64_MAX ? INT64_MAX : (int64_t)c->u) : c->i;
    if (c->kind == COL_DOUBLE)
        return (int64_t)c->d;
    return strtoll(c->buf, NULL, 10);
}

static enum wgm_db_type my_column_type(void *stmt, int col)
{
    struct my_col *c = value(stmt, col);

    if (!c)
        return WGM_DB_NULL;
    if (c->kind == COL_INT)
        return WGM_DB_INT;
    if (c->kind == COL_DOUBLE)
        return WGM_DB_DOUBLE;
    /* A DECIMAL(n,0) past int64 (SUM of big values) stays exact as text. */
    if (c->bytes_type == WGM_DB_INT) {
        char *end;

        errno = 0;
        (void)strtoll(c->buf, &end, 10);
        if (errno || *end)
            return WGM_DB_TEXT;
    }
    return c->bytes_type;
}

static int64_t my_column_int(void *stmt, int col)
{
    struct my_col *c = value(stmt, col);

    return c ? col_int(c) : 0;
}

static double my_column_double(void *stmt, int col)
{
    struct my_col *c = value(stmt, col);

    if (!c)
        return 0.0;
    if (c->kind == COL_INT)
        return c->is_unsigned ? (double)c->u : (double)c->i;
    if (c->kind == COL_DOUBLE)
        return c->d;
    return strtod(c->buf, NULL);
}

/* Numbers read as text, like SQLite's sqlite3_column_text on an integer. */
static const char *col_text(struct my_col *c)
{
    if (c->kind == COL_BYTES)
        return c->buf;
    if (c->kind == COL_INT && c->is_unsigned)
        snprintf(c->num, sizeof(c->num), "%llu", (unsigned long long)c->u);
    else if (c->kind == COL_INT)
        snprintf(c->num, sizeof(c->num), "%lld", (long long)c->i);
    else
        snprintf(c->num, sizeof(c->num), "%.17g", c->d);
    return c->num;
}

static const char *my_column_text(void *stmt, int col)
{
    struct my_col *c = value(stmt, col);

    return c ? col_text(c) : NULL;
}

static const void *my_column_blob(void *stmt, int col, size_t *len)
{
    struct my_col *c = value(stmt, col);
    const char *p = c ? col_text(c) : NULL;

    if (len)
        *len = !c ? 0 : c->kind == COL_BYTES ? (size_t)c->len : strlen(p);
    return p;
}

static int64_t my_changes(void *stmt)
{
    struct my_stmt *s = stmt;

    return s->changes;
}

static int64_t my_last_id(void *stmt)
{
    struct my_stmt *s = stmt;

    return s->last_id;
}

static void my_finalize(void *stmt)
{
    struct my_stmt *s = stmt;

    if (!s)
        return;
    free_result(s);
    clear_params(s);
    free(s->params);
    free(s->pbind);
    /* Also fine on a lost connection: only the client side is freed then. */
    mysql_stmt_close(s->st);
    free(s);
}

extern const struct wgm_db_driver wgm_db_driver_v1;
__attribute__((visibility("default"))) const struct wgm_db_driver wgm_db_driver_v1 = {
    .abi = WGM_DB_DRIVER_ABI,
    .dialect = "mysql",
    .connect = my_connect,
    .disconnect = my_disconnect,
    .ping = my_ping,
    .server_version = my_server_version,
    .exec = my_exec,
    .errmsg = my_errmsg,
    .prepare = my_prepare,
    .bind_int = my_bind_int,
    .bind_double = my_bind_double,
    .bind_text = my_bind_text,
    .bind_blob = my_bind_blob,
    .bind_null = my_bind_null,
    .step = my_step,
    .reset = my_reset,
    .column_count = my_column_count,
    .column_name = my_column_name,
    .column_type = my_column_type,
    .column_int = my_column_int,
    .column_double = my_column_double,
    .column_text = my_column_text,
    .column_blob = my_column_blob,
    .changes = my_changes,
    .last_id = my_last_id,
    .finalize = my_finalize,
};
