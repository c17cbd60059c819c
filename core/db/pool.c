/*
 * The connection pool: a fixed number of connections, handed out one thread
 * at a time (the drivers rely on that), waited for on a condition variable.
 * Only the first connection is opened at start; the others connect on first
 * use, and one the driver reported lost is reconnected when next acquired.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/internal.h"

/* How long wgm_db_pool_ping waits for a free connection. */
#define PING_ACQUIRE_MS 2000

/* The password of @url, as written (percent-encoded) and decoded, for
 * masking error texts.  Empty strings when the URL has none. */
static void url_password(const char *url, char *raw, char *dec, size_t len)
{
    const char *a = strstr(url, "://"), *end, *at = NULL, *colon;
    size_t n, o = 0;

    raw[0] = dec[0] = '\0';
    if (!a)
        return;
    a += 3;
    end = a + strcspn(a, "/?#");
    for (const char *p = a; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return;
    colon = memchr(a, ':', (size_t)(at - a));
    if (!colon)
        return;
    n = (size_t)(at - colon - 1);
    if (n >= len)
        n = len - 1;
    memcpy(raw, colon + 1, n);
    raw[n] = '\0';
    for (size_t i = 0; i < n && o + 1 < len; i++) {
        char h[3] = { 0 };

        if (raw[i] == '%' && i + 2 < n && isxdigit((unsigned char)raw[i + 1]) &&
            isxdigit((unsigned char)raw[i + 2])) {
            h[0] = raw[i + 1];
            h[1] = raw[i + 2];
            dec[o++] = (char)strtol(h, NULL, 16);
            i += 2;
        } else {
            dec[o++] = raw[i];
        }
    }
    dec[o] = '\0';
}

/* Shorter passwords are not masked: every "p" of a message would turn into
 * "***", and the drivers never quote the password anyway; masking is the
 * guard against a server echoing it. */
#define MASK_MIN 4

/* Report @msg (from a driver) in @err with the URL's password masked. */
static void report(char *err, size_t errlen, const char *url, const char *msg)
{
    char raw[256], dec[256], tmp[1024];

    url_password(url, raw, dec, sizeof(raw));
    wgm_db_set_err(tmp, sizeof(tmp), strlen(dec) >= MASK_MIN ? dec : NULL, "%s", msg);
    wgm_db_set_err(err, errlen, strlen(raw) >= MASK_MIN ? raw : NULL, "%s", tmp);
    explicit_bzero(raw, sizeof(raw));
    explicit_bzero(dec, sizeof(dec));
}

int wgm_db_pool_open(const char *url, unsigned size, const char *driver_dir,
                     struct wgm_db_pool **out, char *err, size_t errlen)
{
    struct wgm_db_pool *pool = NULL;
    pthread_condattr_t ca;
    char msg[512] = "";
    const char *ver;
    int rc;

    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!url || !out || size == 0) {
        wgm_db_set_err(err, errlen, NULL, "no database URL or pool size 0");
        return -EINVAL;
    }
    pool = calloc(1, sizeof(*pool));
    if (!pool)
        return -ENOMEM;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_condattr_init(&ca);
    /* Waits are timed on the monotonic clock: wall-clock jumps must not
     * stretch or cut an acquire timeout. */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&pool->cv, &ca);
    pthread_condattr_destroy(&ca);
    pool->size = size;
    pool->url = strdup(url);
    pool->conns = calloc(size, sizeof(*pool->conns));
    if (!pool->url || !pool->conns) {
        rc = -ENOMEM;
        goto out;
    }
    for (unsigned i = 0; i < size; i++)
        pool->conns[i].pool = pool;
    rc = wgm_db_driver_load(url, driver_dir, &pool->drv, &pool->dl, msg, sizeof(msg));
    if (rc < 0) {
        report(err, errlen, url, msg);
        goto out;
    }
    /* One connection now, so a wrong URL or password stops the start. */
    rc = pool->drv->connect(url, &pool->conns[0].conn, msg, sizeof(msg));
    if (rc < 0) {
        pool->conns[0].conn = NULL;
        report(err, errlen, url, msg[0] ? msg : "cannot connect to the database");
        goto out;
    }
    ver = pool->drv->server_version(pool->conns[0].conn);
    if (ver && !(pool->server_version = strdup(ver))) {
        rc = -ENOMEM;
        goto out;
    }
    *out = pool;
    pool = NULL;
    rc = 0;
out:
    explicit_bzero(msg, sizeof(msg));
    wgm_db_pool_close(pool);
    return rc;
}

struct wgm_db_pool *wgm_db_pool_close(struct wgm_db_pool *pool)
{
    if (!pool)
        return NULL;
    /* Connections still acquired are closed too: the caller is shutting
     * down and nothing may use them afterwards. */
    for (unsigned i = 0; pool->conns && i < pool->size; i++)
        if (pool->conns[i].conn)
            pool->drv->disconnect(pool->conns[i].conn);
    wgm_db_driver_unload(pool->dl);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->conns);
    if (pool->url)
        explicit_bzero(pool->url, strlen(pool->url));
    free(pool->url);
    free(pool->server_version);
    free(pool);
    return NULL;
}

const char *wgm_db_pool_dialect(const struct wgm_db_pool *pool)
{
    return pool ? pool->drv->dialect : NULL;
}

const char *wgm_db_pool_server_version(struct wgm_db_pool *pool)
{
    return pool ? pool->server_version : NULL;
}

void wgm_db_pool_stats(struct wgm_db_pool *pool, struct wgm_db_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!pool)
        return;
    pthread_mutex_lock(&pool->mu);
    out->size = pool->size;
    for (unsigned i = 0; i < pool->size; i++)
        if (pool->conns[i].conn)
            out->open++;
    out->in_use = pool->in_use;
    out->acquired = pool->acquired;
    out->timeouts = pool->timeouts;
    pthread_mutex_unlock(&pool->mu);
    out->queries = __atomic_load_n(&pool->queries, __ATOMIC_RELAXED);
    out->query_us = __atomic_load_n(&pool->query_us, __ATOMIC_RELAXED);
    out->slow_queries = __atomic_load_n(&pool->slow_queries, __ATOMIC_RELAXED);
}

/* A free connection, preferring one that is already connected. */
static struct wgm_db *pick(struct wgm_db_pool *pool)
{
    struct wgm_db *spare = NULL;

    for (unsigned i = 0; i < pool->size; i++) {
        struct wgm_db *db = &pool->conns[i];

        if (db->in_use)
            continue;
        if (db->conn && !db->broken)
            return db;
        if (!spare)
            spare = db;
    }
    return spare;
}

static void put_back(struct wgm_db *db)
{
    struct wgm_db_pool *pool = db->pool;

    pthread_mutex_lock(&pool->mu);
    db->in_use = false;
    pool->in_use--;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

/* wgm_db_acquire with the reason for a failure in @rc. */
static struct wgm_db *acquire(struct wgm_db_pool *pool, unsigned timeout_ms, int *rc)
{
    struct timespec deadline;
    struct wgm_db *db;
    void *conn = NULL, *old;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&pool->mu);
    while (!(db = pick(pool))) {
        int w = pthread_cond_timedwait(&pool->cv, &pool->mu, &deadline);

        if (w == ETIMEDOUT && !(db = pick(pool))) {
            pool->timeouts++;
            pthread_mutex_unlock(&pool->mu);
            *rc = -ETIMEDOUT;
            return NULL;
        }
        if (db)
            break;
    }
    db->in_use = true;
    pool->in_use++;
    old = (db->conn && db->broken) ? db->conn : NULL;
    if (old)
        db->conn = NULL;
    pthread_mutex_unlock(&pool->mu);

    if (old)
        pool->drv->disconnect(old);
    if (!db->conn) {
        /* Connect outside the lock: it can take the whole connect timeout.
         * The reason is dropped here; the start-up connection reported it. */
        *rc = pool->drv->connect(pool->url, &conn, NULL, 0);
        if (*rc < 0) {
            put_back(db);
            return NULL;
        }
    }
    pthread_mutex_lock(&pool->mu);
    if (conn)
        db->conn = conn;
    db->broken = false;
    db->in_tx = false;
    pool->acquired++;
    pthread_mutex_unlock(&pool->mu);
    *rc = 0;
    return db;
}

struct wgm_db *wgm_db_acquire(struct wgm_db_pool *pool, unsigned timeout_ms)
{
    int rc;

    if (!pool)
        return NULL;
    return acquire(pool, timeout_ms, &rc);
}

void wgm_db_release(struct wgm_db *db)
{
    if (!db)
        return;
    /* A connection goes back clean: an open transaction is rolled back,
     * and one that cannot be is reconnected before its next use. */
    if (db->in_tx && !db->broken && wgm_db_exec(db, "ROLLBACK", NULL, 0) < 0)
        db->broken = true;
    db->in_tx = false;
    put_back(db);
}

int wgm_db_pool_ping(struct wgm_db_pool *pool)
{
    struct wgm_db *db;
    int rc;

    if (!pool)
        return -EINVAL;
    db = acquire(pool, PING_ACQUIRE_MS, &rc);
    if (!db)
        return rc;
    rc = wgm_db_note(db, pool->drv->ping(db->conn));
    wgm_db_release(db);
    return rc;
}

const char *wgm_db_dialect(struct wgm_db *db)
{
    return db ? db->pool->drv->dialect : NULL;
}

int wgm_db_note(struct wgm_db *db, int rc)
{
    if (rc == WGM_DB_ERECONNECT)
        db->broken = true;
    return rc;
}

int wgm_db_exec(struct wgm_db *db, const char *sql, char *err, size_t errlen)
{
    if (!db || !db->conn)
        return WGM_DB_EINVALID;
    return wgm_db_note(db, db->pool->drv->exec(db->conn, sql, err, errlen));
}

const char *wgm_db_errmsg(struct wgm_db *db)
{
    const char *m = db && db->conn ? db->pool->drv->errmsg(db->conn) : NULL;

    return m ? m : "";
}

static bool is_sqlite(const struct wgm_db *db)
{
    return strcmp(db->pool->drv->dialect, "sqlite") == 0;
}

int wgm_db_begin(struct wgm_db *db)
{
    int rc;

    if (!db || db->in_tx)
        return WGM_DB_EINVALID;
    /* SQLite: take the write lock now.  A deferred transaction that reads
     * and then writes fails with SQLITE_BUSY at once when another
     * connection wrote meanwhile, instead of waiting on busy_timeout. */
    rc = wgm_db_exec(db, is_sqlite(db) ? "BEGIN IMMEDIATE" : "START TRANSACTION", NULL, 0);
    if (rc == 0)
        db->in_tx = true;
    return rc;
}

int wgm_db_commit(struct wgm_db *db)
{
    int rc;

    if (!db || !db->in_tx)
        return WGM_DB_EINVALID;
    /* On failure the transaction stays ours to roll back (SQLite keeps it
     * open after a busy COMMIT); release rolls it back if the caller won't. */
    rc = wgm_db_exec(db, "COMMIT", NULL, 0);
    if (rc == 0)
        db->in_tx = false;
    return rc;
}

int wgm_db_rollback(struct wgm_db *db)
{
    if (!db)
        return WGM_DB_EINVALID;
    /* Nothing open is not an error: cleanup paths roll back unconditionally. */
    if (!db->in_tx)
        return 0;
    db->in_tx = false;
    return wgm_db_exec(db, "ROLLBACK", NULL, 0);
}
