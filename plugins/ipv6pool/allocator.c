/* plugins/ipv6pool/allocator: delegated prefixes from a counter and a free
 * list, in the database, through the host table only.
 *
 * Why each step is O(log n): every statement below is a point lookup or the
 * first row of a range on an index whose leading columns are fixed by the
 * WHERE clause (see the indexes in the migrations).  The counter only moves
 * forward and skips each custom allocation at most once over the pool's
 * life; promoting released prefixes out of quarantine touches each one once.
 * Nothing ever counts or walks the pool. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "allocator.h"

/* --- schema ------------------------------------------------------------- */

/* ipv6_released.ready: 0 while in quarantine, 1 once reusable.  Reuse wants
 * "lowest index among those past quarantine"; no single index answers that
 * for a time cut-off, so rows are promoted (aging index, by time) and then
 * picked (ready index, by idx): two range seeks instead of a scan. */
static const char *const v1_sqlite[] = {
    "CREATE TABLE ipv6_pool_state ("
    " pool_id INTEGER PRIMARY KEY,"
    " next_index TEXT NOT NULL CHECK (length(next_index) = 32),"
    " allocated INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE ipv6_allocations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " pool_id INTEGER NOT NULL,"
    " idx TEXT NOT NULL CHECK (length(idx) = 32),"
    " prefix TEXT NOT NULL,"
    " allocated_at INTEGER NOT NULL,"
    " UNIQUE (pool_id, idx))",
    "CREATE TABLE ipv6_released ("
    " pool_id INTEGER NOT NULL,"
    " idx TEXT NOT NULL CHECK (length(idx) = 32),"
    " released_at INTEGER NOT NULL,"
    " ready INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (pool_id, idx)) WITHOUT ROWID",
    "CREATE INDEX ipv6_released_ready ON ipv6_released (pool_id, ready, idx)",
    "CREATE INDEX ipv6_released_aging ON ipv6_released (pool_id, ready, released_at)",
    NULL,
};

/* ascii_bin: byte comparison, so the hex orders numerically, and the key is
 * 32 bytes rather than utf8mb4's 128. */
#define HEXCOL "CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL"
static const char *const v1_mysql[] = {
    "CREATE TABLE IF NOT EXISTS ipv6_pool_state ("
    " pool_id BIGINT NOT NULL PRIMARY KEY,"
    " next_index " HEXCOL ","
    " allocated BIGINT NOT NULL DEFAULT 0,"
    " CONSTRAINT ipv6_pool_state_next CHECK (CHAR_LENGTH(next_index) = 32)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS ipv6_allocations ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " pool_id BIGINT NOT NULL,"
    " idx " HEXCOL ","
    " prefix VARCHAR(43) NOT NULL,"
    " allocated_at BIGINT NOT NULL,"
    " UNIQUE KEY ipv6_allocations_idx (pool_id, idx),"
    " CONSTRAINT ipv6_allocations_len CHECK (CHAR_LENGTH(idx) = 32)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS ipv6_released ("
    " pool_id BIGINT NOT NULL,"
    " idx " HEXCOL ","
    " released_at BIGINT NOT NULL,"
    " ready TINYINT NOT NULL DEFAULT 0,"
    " PRIMARY KEY (pool_id, idx),"
    " KEY ipv6_released_ready (pool_id, ready, idx),"
    " KEY ipv6_released_aging (pool_id, ready, released_at),"
    " CONSTRAINT ipv6_released_len CHECK (CHAR_LENGTH(idx) = 32)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};

const struct wgm_migration v6_alloc_migrations[] = {
    {.version = 1, .sqlite = v1_sqlite, .mysql = v1_mysql},
};
const size_t v6_alloc_migration_count = sizeof(v6_alloc_migrations) / sizeof(v6_alloc_migrations[0]);

/* --- statements ----------------------------------------------------------- */

/* A locking read on MariaDB, so concurrent allocators of one pool queue on
 * its state row instead of colliding on the UNIQUE key; SQLite's
 * BEGIN IMMEDIATE already serialises writers. */
#define SQL_STATE_LOCK "SELECT next_index FROM ipv6_pool_state WHERE pool_id = ?"
#define SQL_STATE_LOCK_MYSQL SQL_STATE_LOCK " FOR UPDATE"

#define SQL_PROMOTE \
    "UPDATE ipv6_released SET ready = 1 WHERE pool_id = ? AND ready = 0 AND released_at <= ?"
#define SQL_LOWEST_READY \
    "SELECT idx FROM ipv6_released WHERE pool_id = ? AND ready = 1 AND idx >= ? ORDER BY idx LIMIT 1"
/* MariaDB 10.11 was seen walking the primary key (pool_id, idx) here and
 * filtering on ready, which reads every resting prefix below the first
 * ready one; the hint keeps it a one-row seek on (pool_id, ready, idx). */
#define SQL_LOWEST_READY_MYSQL \
    "SELECT idx FROM ipv6_released FORCE INDEX (ipv6_released_ready)" \
    " WHERE pool_id = ? AND ready = 1 AND idx >= ? ORDER BY idx LIMIT 1"
#define SQL_TAKE_READY "DELETE FROM ipv6_released WHERE pool_id = ? AND idx = ? AND ready = 1"
#define SQL_TAKE_ANY "DELETE FROM ipv6_released WHERE pool_id = ? AND idx = ?"
/* A counter candidate is busy when allocated (custom) or resting in the
 * released list (a custom allocation above the counter, since released). */
#define SQL_BUSY \
    "SELECT 1 FROM ipv6_allocations WHERE pool_id = ? AND idx = ?" \
    " UNION ALL SELECT 1 FROM ipv6_released WHERE pool_id = ? AND idx = ?"
#define SQL_INSERT_ALLOC \
    "INSERT INTO ipv6_allocations (pool_id, idx, prefix, allocated_at) VALUES (?, ?, ?, ?)"
#define SQL_COUNTER "UPDATE ipv6_pool_state SET next_index = ?, allocated = allocated + 1 WHERE pool_id = ?"
#define SQL_INCR "UPDATE ipv6_pool_state SET allocated = allocated + 1 WHERE pool_id = ?"
#define SQL_DECR "UPDATE ipv6_pool_state SET allocated = allocated - 1 WHERE pool_id = ?"
#define SQL_DELETE_ALLOC "DELETE FROM ipv6_allocations WHERE pool_id = ? AND idx = ?"
#define SQL_INSERT_RELEASED \
    "INSERT INTO ipv6_released (pool_id, idx, released_at, ready) VALUES (?, ?, ?, 0)"
#define SQL_ALLOC_BY_ID "SELECT idx FROM ipv6_allocations WHERE id = ? AND pool_id = ?"

/* Prepare @sql and bind the arguments described by @types: 'i' an int64_t,
 * 't' a const char * (copied by the host). */
static int prep(const struct wgm_host *h, struct wgm_db *db, const char *sql, struct wgm_stmt **out,
                const char *types, va_list ap)
{
    struct wgm_stmt *st = NULL;
    int r, i;

    if ((r = h->db_prepare(db, sql, &st)) < 0)
        return r;
    for (i = 0; types[i]; i++) {
        if (types[i] == 'i')
            r = h->stmt_bind_int(st, i + 1, va_arg(ap, int64_t));
        else
            r = h->stmt_bind_text(st, i + 1, va_arg(ap, const char *));
        if (r < 0) {
            h->stmt_free(st);
            return r;
        }
    }
    *out = st;
    return 0;
}

/* Run a statement that returns no rows.  @changes (may be NULL) receives
 * the rows it touched, @last_id (may be NULL) the id it generated. */
static int exec(const struct wgm_host *h, struct wgm_db *db, int64_t *changes, int64_t *last_id,
                const char *sql, const char *types, ...)
{
    struct wgm_stmt *st = NULL;
    va_list ap;
    int r;

    va_start(ap, types);
    r = prep(h, db, sql, &st, types, ap);
    va_end(ap);
    if (r < 0)
        return r;
    r = h->stmt_step(st);
    if (r == WGM_DB_ROW)
        r = WGM_DB_EINVALID; /* a bug: this statement was meant to return nothing */
    if (r == WGM_DB_DONE) {
        if (changes)
            *changes = h->stmt_changes(st);
        if (last_id)
            *last_id = h->stmt_last_id(st);
    }
    h->stmt_free(st);
    return r;
}

/* First row of a query: 1 with its first column in @hex (when not NULL)
 * as a stored index, 0 for no row, or a negative errno. */
static int query(const struct wgm_host *h, struct wgm_db *db, v6_u128 *hex, int64_t *num,
                 const char *sql, const char *types, ...)
{
    struct wgm_stmt *st = NULL;
    va_list ap;
    int r;

    va_start(ap, types);
    r = prep(h, db, sql, &st, types, ap);
    va_end(ap);
    if (r < 0)
        return r;
    r = h->stmt_step(st);
    if (r == WGM_DB_ROW) {
        if (hex) {
            const char *t = h->stmt_column_text(st, 0);
            /* Anything but our own fixed-width hex is a damaged row. */
            if (!t || v6_u128_from_hex(t, strlen(t), hex) < 0)
                r = WGM_DB_EERROR;
        }
        if (num)
            *num = h->stmt_column_int(st, 0);
    }
    h->stmt_free(st);
    return r < 0 ? r : r == WGM_DB_ROW;
}

static bool is_mysql(const struct wgm_host *h, struct wgm_db *db)
{
    const char *d = h->db_dialect ? h->db_dialect(db) : NULL;

    return d && strcmp(d, "mysql") == 0;
}

/* --- pools ---------------------------------------------------------------- */

int v6_pool_check(const struct v6_pool *pool)
{
    struct v6_count total;
    const struct v6_prefix *p = &pool->prefix;

    if (p->len > 128 || pool->prefix_length > 128 || pool->prefix_length <= p->len ||
        pool->quarantine_s < 0)
        return -EINVAL;
    if (p->addr & ~v6_mask(p->len))
        return -EDOM;
    v6_sub_count(p->len, pool->prefix_length, &total);
    if (v6_count_cmp(&total, pool->reserved) < 0)
        return -ERANGE;
    return 0;
}

int v6_pool_counts(const struct v6_pool *pool, int64_t allocated,
                   struct v6_count *total, struct v6_count *available)
{
    struct v6_count t, a;
    int r;

    if ((r = v6_sub_count(pool->prefix.len, pool->prefix_length, &t)) < 0)
        return r;
    a = t;
    r = allocated < 0 ? -ERANGE : v6_count_sub(&a, pool->reserved);
    if (r == 0)
        r = v6_count_sub(&a, (v6_u128)allocated);
    if (r < 0)
        a = (struct v6_count){0};
    if (total)
        *total = t;
    if (available)
        *available = a;
    return r;
}

int v6_alloc_pool_init(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool)
{
    char next[V6_HEX_LEN + 1];
    int r;

    if ((r = v6_pool_check(pool)) < 0)
        return r;
    v6_u128_to_hex(pool->reserved, next);
    r = exec(h, db, NULL, NULL, "INSERT INTO ipv6_pool_state (pool_id, next_index, allocated) VALUES (?, ?, 0)",
             "it", pool->id, next);
    return r == WGM_DB_ECONSTRAINT ? -EEXIST : r;
}

int v6_alloc_pool_drop(const struct wgm_host *h, struct wgm_db *db, int64_t pool_id)
{
    int r;

    if ((r = exec(h, db, NULL, NULL, "DELETE FROM ipv6_released WHERE pool_id = ?", "i", pool_id)) < 0 ||
        (r = exec(h, db, NULL, NULL, "DELETE FROM ipv6_allocations WHERE pool_id = ?", "i", pool_id)) < 0)
        return r;
    return exec(h, db, NULL, NULL, "DELETE FROM ipv6_pool_state WHERE pool_id = ?", "i", pool_id);
}

int v6_alloc_allocated(const struct wgm_host *h, struct wgm_db *db, int64_t pool_id, int64_t *allocated)
{
    int r = query(h, db, NULL, allocated, "SELECT allocated FROM ipv6_pool_state WHERE pool_id = ?",
                  "i", pool_id);

    return r < 0 ? r : r ? 0 : -ENOENT;
}

/* --- allocation ----------------------------------------------------------- */

/* Record the allocation of @idx and fill @out.  A UNIQUE conflict is left
 * to the caller to name. */
static int insert_alloc(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                        v6_u128 idx, int64_t now, struct v6_allocation *out)
{
    char hex[V6_HEX_LEN + 1], text[V6_PREFIX_STRLEN];
    struct v6_prefix p;
    int64_t id = 0;
    int r;

    if ((r = v6_sub_at(&pool->prefix, pool->prefix_length, idx, &p)) < 0)
        return r;
    v6_u128_to_hex(idx, hex);
    v6_prefix_format(&p, text, sizeof(text));
    if ((r = exec(h, db, NULL, &id, SQL_INSERT_ALLOC, "itti", pool->id, hex, text, now)) < 0)
        return r;
    out->id = id;
    out->index = idx;
    out->prefix = p;
    out->reused = false;
    return 0;
}

int v6_alloc_promote(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                     int64_t now, int64_t *promoted)
{
    int64_t cutoff;

    if (pool->quarantine_s < 0)
        return -EINVAL;
    cutoff = now < INT64_MIN + pool->quarantine_s ? INT64_MIN : now - pool->quarantine_s;
    return exec(h, db, promoted, NULL, SQL_PROMOTE, "ii", pool->id, cutoff);
}

int v6_alloc_auto(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                  int64_t now, struct v6_allocation *out)
{
    char hex[V6_HEX_LEN + 1], reserved[V6_HEX_LEN + 1];
    v6_u128 next, c, last;
    int64_t changes = 0;
    bool mysql;
    int r;

    if ((r = v6_pool_check(pool)) < 0)
        return r;
    mysql = is_mysql(h, db);
    r = query(h, db, &next, NULL, mysql ? SQL_STATE_LOCK_MYSQL : SQL_STATE_LOCK, "i", pool->id);
    if (r <= 0)
        return r < 0 ? r : -ENOENT;

    /* The free list first: it keeps the pool dense. */
    if ((r = v6_alloc_promote(h, db, pool, now, NULL)) < 0)
        return r;
    /* Above the reserved range even if that grew since the release. */
    v6_u128_to_hex(pool->reserved, reserved);
    r = query(h, db, &c, NULL, mysql ? SQL_LOWEST_READY_MYSQL : SQL_LOWEST_READY, "it", pool->id, reserved);
    if (r < 0)
        return r;
    if (r == 1) {
        v6_u128_to_hex(c, hex);
        if ((r = exec(h, db, &changes, NULL, SQL_TAKE_READY, "it", pool->id, hex)) < 0)
            return r;
        /* Gone under a stale snapshot: another transaction took it. */
        if (changes != 1)
            return -EAGAIN;
        if ((r = insert_alloc(h, db, pool, c, now, out)) < 0)
            return r == WGM_DB_ECONSTRAINT ? -EAGAIN : r;
        out->reused = true;
        return exec(h, db, NULL, NULL, SQL_INCR, "i", pool->id);
    }

    /* Then the counter.  It saturates at the last index instead of
     * passing it, so it never needs a 129th bit (a /0 carved into /128s);
     * a busy last index then means full. */
    last = v6_sub_last(pool->prefix.len, pool->prefix_length);
    c = next > pool->reserved ? next : pool->reserved;
    if (c > last)
        return -ENOSPC;
    for (;;) {
        v6_u128_to_hex(c, hex);
        r = query(h, db, NULL, NULL, SQL_BUSY, "itit", pool->id, hex, pool->id, hex);
        if (r < 0)
            return r;
        if (r == 0)
            break;
        if (c == last)
            return -ENOSPC;
        c++;
    }
    if ((r = insert_alloc(h, db, pool, c, now, out)) < 0)
        return r == WGM_DB_ECONSTRAINT ? -EAGAIN : r;
    v6_u128_to_hex(c == last ? last : c + 1, hex);
    if ((r = exec(h, db, &changes, NULL, SQL_COUNTER, "ti", hex, pool->id)) < 0)
        return r;
    return changes == 1 ? 0 : -EAGAIN;
}

int v6_alloc_custom(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                    const struct v6_prefix *want, int64_t now, struct v6_allocation *out)
{
    char hex[V6_HEX_LEN + 1];
    int64_t changes = 0;
    v6_u128 idx;
    int r;

    if ((r = v6_pool_check(pool)) < 0)
        return r;
    if ((r = v6_sub_check(&pool->prefix, pool->prefix_length, want)) < 0 ||
        (r = v6_sub_index(&pool->prefix, want, &idx)) < 0)
        return r;
    if (idx < pool->reserved)
        return -EPERM;
    /* The state row first: on MariaDB this takes the pool's row lock, the
     * same one v6_alloc_auto() queues on. */
    if ((r = exec(h, db, &changes, NULL, SQL_INCR, "i", pool->id)) < 0)
        return r;
    if (changes != 1)
        return -ENOENT;
    v6_u128_to_hex(idx, hex);
    if ((r = exec(h, db, NULL, NULL, SQL_TAKE_ANY, "it", pool->id, hex)) < 0)
        return r;
    r = insert_alloc(h, db, pool, idx, now, out);
    return r == WGM_DB_ECONSTRAINT ? -EEXIST : r;
}

int v6_alloc_release(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                     v6_u128 index, int64_t now)
{
    char hex[V6_HEX_LEN + 1];
    int64_t changes = 0;
    int r;

    if ((r = exec(h, db, &changes, NULL, SQL_DECR, "i", pool->id)) < 0)
        return r;
    if (changes != 1)
        return -ENOENT;
    v6_u128_to_hex(index, hex);
    if ((r = exec(h, db, &changes, NULL, SQL_DELETE_ALLOC, "it", pool->id, hex)) < 0)
        return r;
    if (changes != 1)
        return -ENOENT;
    return exec(h, db, NULL, NULL, SQL_INSERT_RELEASED, "iti", pool->id, hex, now);
}

int v6_alloc_release_id(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                        int64_t alloc_id, int64_t now)
{
    v6_u128 idx;
    int r = query(h, db, &idx, NULL, SQL_ALLOC_BY_ID, "ii", alloc_id, pool->id);

    if (r <= 0)
        return r < 0 ? r : -ENOENT;
    return v6_alloc_release(h, db, pool, idx, now);
}

/* --- transactions ----------------------------------------------------------- */

static void backoff(unsigned attempt)
{
    struct timespec now, ts;
    long base_us = 1000L << (attempt < 6 ? attempt : 6);
    long us;

    /* Jitter from the clock's low bits: enough to split callers that
     * collided in step, without any shared random state. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    us = base_us / 2 + (long)((unsigned long)now.tv_nsec / 1000 % (unsigned long)base_us);
    ts.tv_sec = us / 1000000;
    ts.tv_nsec = us % 1000000 * 1000;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int v6_txn_retry(const struct wgm_host *h, struct wgm_db *db, unsigned attempts,
                 v6_txn_fn fn, void *arg, unsigned *tries)
{
    unsigned i;
    int r = -EINVAL;

    for (i = 0; i < attempts; i++) {
        if (tries)
            *tries = i + 1;
        r = h->db_begin(db);
        if (r == 0) {
            r = fn(db, arg);
            if (r == 0)
                r = h->db_commit(db);
            if (r != 0)
                h->db_rollback(db);
        }
        if (r == 0 || (r != -EAGAIN && r != WGM_DB_EBUSY))
            return r;
        if (i + 1 < attempts)
            backoff(i);
    }
    return r;
}
