/**
 * @file allocator.h
 * @brief Delegated-prefix allocation for the ipv6pool plugin, in the database.
 *
 * A pool P/L is carved into /N prefixes numbered 0 .. 2^(N-L)-1 (prefix.h).
 * The allocator never enumerates a pool: its cost is O(log n) in the number
 * of allocations of the pool, whatever the pool's size (a /16 carved into
 * /64s, 2^48 prefixes, costs what a /56 does).  Per pool it keeps
 *
 *  - a counter @c next_index, starting at @c reserved: the lowest index the
 *    counter has not handed out yet;
 *  - the allocations, UNIQUE (pool_id, idx);
 *  - the released prefixes with the time of release.  One older than the
 *    pool's quarantine is @e ready and is reused before the counter moves,
 *    the lowest index first, so a pool stays dense.
 *
 * Indices are stored as 32 lowercase hex digits (v6_u128_to_hex): fixed
 * width, so byte order is numeric order in SQLite (BINARY) and MariaDB
 * (ascii_bin), and one column serves equality, range and ORDER BY from an
 * ordinary index in both.
 *
 * Transactions: every v6_alloc_* call runs inside the caller's transaction
 * (host->db_begin) and may have written before it fails, so on any error
 * the caller rolls back.  Correctness under concurrency (threads, or several
 * wgmd on one MariaDB) rests on that transaction and the UNIQUE constraint:
 * MariaDB callers lock the pool's state row first (SELECT ... FOR UPDATE or
 * an UPDATE), SQLite callers hold the write lock (BEGIN IMMEDIATE), and a
 * stale read that still slips through ends in a constraint conflict, which
 * v6_alloc_auto() reports as -EAGAIN.  -EAGAIN and WGM_DB_EBUSY (lock wait,
 * deadlock, SQLITE_BUSY) mean "roll back and run the transaction again":
 * v6_txn_retry() does exactly that, a bounded number of times.
 *
 * All functions return 0 or a negative errno (WGM_DB_E* from the database
 * pass through).  @p h and @p db are borrowed.
 */
#ifndef WGM_IPV6POOL_ALLOCATOR_H
#define WGM_IPV6POOL_ALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wgm/host.h>

#include "prefix.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A pool as the allocator needs it; the plugin keeps the rest (name, ...). */
struct v6_pool {
    int64_t id;               /**< the plugin's pool id (ipv6_pool_state.pool_id) */
    struct v6_prefix prefix;  /**< the pool, host bits zero */
    unsigned prefix_length;   /**< length of the delegated prefixes: > prefix.len, <= 128 */
    v6_u128 reserved;         /**< indices 0 .. reserved-1 are never handed out */
    int64_t quarantine_s;     /**< seconds a released prefix rests before reuse, >= 0 */
};

/** One allocation. */
struct v6_allocation {
    int64_t id;               /**< ipv6_allocations.id */
    v6_u128 index;            /**< index in the pool */
    struct v6_prefix prefix;  /**< the delegated prefix */
    bool reused;              /**< taken from the released prefixes, not the counter */
};

/** The allocator's tables as migrations (SQLite and MariaDB variants), for
 *  host->migrate().  The plugin's own migrations may add columns to
 *  ipv6_allocations (client name, description...): the allocator names
 *  every column it touches, so extra nullable or defaulted ones are fine. */
extern const struct wgm_migration v6_alloc_migrations[];
/** Entries in v6_alloc_migrations. */
extern const size_t v6_alloc_migration_count;

/**
 * Validate a pool definition.
 * @return 0; -EDOM (host bits set in the prefix); -EINVAL (prefix_length
 *         not in prefix.len+1 .. 128, negative quarantine); -ERANGE (more
 *         reserved prefixes than the pool holds).
 */
int v6_pool_check(const struct v6_pool *pool);

/**
 * The pool's figures, exact at any size: @p total = 2^(N-L),
 * @p available = total - reserved - @p allocated (released prefixes still in
 * quarantine count as available: they are free, just not yet reusable).
 * Either output may be NULL.  0, or -ERANGE when @p allocated exceeds what
 * the pool can hold (then @p available is 0).
 */
int v6_pool_counts(const struct v6_pool *pool, int64_t allocated,
                   struct v6_count *total, struct v6_count *available);

/** Create the allocator state of a new pool (counter at @c reserved).
 *  -EEXIST when it has one already. */
int v6_alloc_pool_init(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool);

/** Forget a pool: its state, allocations and released prefixes.  0 also
 *  when there was nothing. */
int v6_alloc_pool_drop(const struct wgm_host *h, struct wgm_db *db, int64_t pool_id);

/** The number of live allocations of a pool (kept in its state row, never
 *  counted).  -ENOENT for a pool without state. */
int v6_alloc_allocated(const struct wgm_host *h, struct wgm_db *db, int64_t pool_id, int64_t *allocated);

/**
 * Allocate the next free prefix: the lowest released one whose quarantine
 * has passed at @p now (Unix seconds), else the counter's.
 * @return 0 with @p out filled; -ENOSPC when the pool is full (prefixes
 *         still in quarantine do not count as free); -ENOENT for a pool
 *         without state; -EAGAIN on a conflict with a concurrent
 *         transaction (retry); errors of v6_pool_check(); WGM_DB_E*.
 */
int v6_alloc_auto(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                  int64_t now, struct v6_allocation *out);

/**
 * Mark the pool's released prefixes whose quarantine has passed at @p now
 * as reusable.  v6_alloc_auto() does this itself, which costs one index
 * seek when there is nothing to do but, after a mass release, promotes the
 * whole batch inside one allocation (500,000 in ~2 s on SQLite).  A plugin
 * that wants that off the request path calls this from a timer.
 * @param promoted if not NULL, receives the number of prefixes promoted.
 * @return 0, -EINVAL (negative quarantine) or WGM_DB_E*.
 */
int v6_alloc_promote(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                     int64_t now, int64_t *promoted);

/**
 * Allocate the prefix @p want.  A released prefix may be taken at once,
 * quarantine or not: whoever names it knows what they ask for.
 * @return 0 with @p out filled; -EINVAL (@p want is not a /prefix_length);
 *         -EDOM (host bits set); -ERANGE (outside the pool); -EPERM (inside
 *         the reserved range); -EEXIST (already allocated); -ENOENT (pool
 *         without state); WGM_DB_E*.
 */
int v6_alloc_custom(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                    const struct v6_prefix *want, int64_t now, struct v6_allocation *out);

/**
 * Release the allocation at @p index of the pool; it rests for the pool's
 * quarantine from @p now before reuse.
 * @return 0; -ENOENT when no such allocation (or no pool state); WGM_DB_E*.
 */
int v6_alloc_release(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                     v6_u128 index, int64_t now);

/** As v6_alloc_release() for the allocation with row id @p alloc_id,
 *  which must belong to @p pool (-ENOENT otherwise). */
int v6_alloc_release_id(const struct wgm_host *h, struct wgm_db *db, const struct v6_pool *pool,
                        int64_t alloc_id, int64_t now);

/** A transaction body for v6_txn_retry(): 0 to commit, negative to roll back. */
typedef int (*v6_txn_fn)(struct wgm_db *db, void *arg);

/**
 * Run @p fn in a transaction on @p db: begin, @p fn, commit; on failure roll
 * back, and when the failure is -EAGAIN or WGM_DB_EBUSY (from begin, @p fn
 * or commit) wait a short randomised, growing delay (about 1 ms doubling to
 * 64 ms) and run it again, up to @p attempts runs in all.
 * @p fn must be safe to re-run: it starts from a clean transaction each time.
 * @param tries if not NULL, receives the number of runs made.
 * @return what the last run returned (0 when committed).
 */
int v6_txn_retry(const struct wgm_host *h, struct wgm_db *db, unsigned attempts,
                 v6_txn_fn fn, void *arg, unsigned *tries);

#ifdef __cplusplus
}
#endif
#endif
