/* Unit tests for plugins/ipv6pool/allocator against real SQLite files.
 *
 * The allocator only speaks the host table, so this file builds a minimal
 * one that forwards to sqlite3 (as the core's SQLite driver does: WAL,
 * BEGIN IMMEDIATE, the same status mapping) and counts the statements
 * stepped, which is how "constant work whatever the pool size" is checked
 * without timing anything. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

#include "tap.h"
#include "allocator.h"

#include "sqlite_host.h"

static char dir[] = "/tmp/wgm-ipv6-alloc.XXXXXX";
static char path[sizeof(dir) + 16];

static struct wgm_db *db_open(int busy_ms)
{
    struct wgm_db *db = calloc(1, sizeof(*db));

    if (!db)
        return NULL;
    if (sqlite3_open_v2(path, &db->sq, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        sqlite3_close(db->sq);
        free(db);
        return NULL;
    }
    sqlite3_busy_timeout(db->sq, busy_ms);
    sqlite3_exec(db->sq, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    return db;
}

static struct wgm_db *db_close(struct wgm_db *db)
{
    if (db) {
        sqlite3_close(db->sq);
        free(db);
    }
    return NULL;
}

static int migrate(struct wgm_db *db)
{
    size_t m;
    const char *const *s;
    int r;

    for (m = 0; m < v6_alloc_migration_count; m++)
        for (s = v6_alloc_migrations[m].sqlite; *s; s++)
            if ((r = sh_exec(db, *s)) < 0) {
                printf("# migration failed: %s: %s\n", sqlite3_errmsg(db->sq), *s);
                return r;
            }
    return 0;
}

/* --- helpers ------------------------------------------------------------ */

static struct v6_pool mkpool(int64_t id, const char *prefix, unsigned plen, v6_u128 reserved, int64_t q)
{
    struct v6_pool p = {.id = id, .prefix_length = plen, .reserved = reserved, .quarantine_s = q};

    if (v6_prefix_parse(prefix, strlen(prefix), 0, &p.prefix) < 0)
        printf("# bad pool prefix %s\n", prefix);
    return p;
}

/* Each operation in its own transaction, as the plugin will run them. */
static int auto1(struct wgm_db *db, const struct v6_pool *pool, int64_t now, struct v6_allocation *a)
{
    int r = h->db_begin(db);

    if (r < 0)
        return r;
    r = v6_alloc_auto(h, db, pool, now, a);
    if (r == 0)
        r = h->db_commit(db);
    if (r < 0)
        h->db_rollback(db);
    return r;
}

static int custom1(struct wgm_db *db, const struct v6_pool *pool, const char *want, int64_t now,
                   struct v6_allocation *a)
{
    struct v6_prefix p;
    int r;

    if ((r = v6_prefix_parse(want, strlen(want), 0, &p)) < 0)
        return r;
    if ((r = h->db_begin(db)) < 0)
        return r;
    r = v6_alloc_custom(h, db, pool, &p, now, a);
    if (r == 0)
        r = h->db_commit(db);
    if (r < 0)
        h->db_rollback(db);
    return r;
}

static int release1(struct wgm_db *db, const struct v6_pool *pool, v6_u128 idx, int64_t now)
{
    int r = h->db_begin(db);

    if (r < 0)
        return r;
    r = v6_alloc_release(h, db, pool, idx, now);
    if (r == 0)
        r = h->db_commit(db);
    if (r < 0)
        h->db_rollback(db);
    return r;
}

static int init1(struct wgm_db *db, const struct v6_pool *pool)
{
    int r = h->db_begin(db);

    if (r < 0)
        return r;
    r = v6_alloc_pool_init(h, db, pool);
    if (r == 0)
        r = h->db_commit(db);
    if (r < 0)
        h->db_rollback(db);
    return r;
}

static const char *ptext(const struct v6_allocation *a, char *buf)
{
    return v6_prefix_format(&a->prefix, buf, V6_PREFIX_STRLEN) == 0 ? buf : NULL;
}

static int64_t sql_int(struct wgm_db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(db->sq, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* --- tests ---------------------------------------------------------------- */

static void test_schema(struct wgm_db *db)
{
    sqlite3_stmt *st = NULL;
    const char *q = "EXPLAIN QUERY PLAN SELECT idx FROM ipv6_released WHERE pool_id = 1 AND ready = 1"
                    " AND idx >= '00000000000000000000000000000000' ORDER BY idx LIMIT 1";
    char plan[512] = "";

    ok(v6_alloc_migration_count == 1, "one migration");
    ok(v6_alloc_migrations[0].version == 1 && v6_alloc_migrations[0].mysql, "version 1, with a MariaDB variant");
    /* The reuse query must be a seek on the ready index, never a scan or a sort. */
    if (sqlite3_prepare_v2(db->sq, q, -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            strncat(plan, (const char *)sqlite3_column_text(st, 3), sizeof(plan) - strlen(plan) - 2);
            strcat(plan, ";");
        }
    sqlite3_finalize(st);
    ok(strstr(plan, "SEARCH") && strstr(plan, "ipv6_released_ready") && !strstr(plan, "TEMP B-TREE"),
       "lowest ready prefix: an index seek without sort (%s)", plan);
}

static void test_sequential(struct wgm_db *db)
{
    struct v6_pool pool = mkpool(1, "2001:db8:1::/56", 64, 3, 60);
    struct v6_allocation a = {0};
    char buf[V6_PREFIX_STRLEN], want[V6_PREFIX_STRLEN];
    int64_t n = -1;
    int i, r, good = 1;

    is_int(init1(db, &pool), 0, "pool 2001:db8:1::/56 into /64, 3 reserved");
    is_int(init1(db, &pool), -EEXIST, "second init refused");
    for (i = 0; i < 10; i++) {
        r = auto1(db, &pool, 1000, &a);
        snprintf(want, sizeof(want), "2001:db8:1:%x::/64", i + 3);
        if (r != 0 || a.index != (v6_u128)(i + 3) || a.reused || strcmp(ptext(&a, buf), want) != 0) {
            printf("# allocation %d: r=%d got %s want %s\n", i, r, buf, want);
            good = 0;
        }
    }
    ok(good, "10 auto allocations give indices 3..12 in order (2001:db8:1:3::/64 ..)");
    is_int(v6_alloc_allocated(h, db, 1, &n), 0, "allocated count");
    is_int(n, 10, "... is 10 (a counter, not a COUNT)");
    is_int(sql_int(db, "SELECT COUNT(*) FROM ipv6_allocations WHERE pool_id = 1 AND idx < "
                       "'00000000000000000000000000000003'"), 0, "none in the reserved range");
    is_int(v6_alloc_allocated(h, db, 99, &n), -ENOENT, "allocated of an unknown pool");
    a.index = 42;
    is_int(auto1(db, &(struct v6_pool){.id = 99, .prefix = pool.prefix, .prefix_length = 64}, 1000, &a), -ENOENT,
           "auto on a pool without state");
}

static void test_quarantine(struct wgm_db *db)
{
    struct v6_pool pool = mkpool(1, "2001:db8:1::/56", 64, 3, 60);
    struct v6_allocation a = {0};
    char buf[V6_PREFIX_STRLEN];
    int64_t n = -1;

    /* Indices 3..12 are out (test_sequential). */
    is_int(release1(db, &pool, 4, 2000), 0, "release index 4 at t=2000");
    is_int(release1(db, &pool, 4, 2000), -ENOENT, "release it again");
    is_int(release1(db, &pool, 200, 2000), -ENOENT, "release a free index");
    is_int(release1(db, &pool, 1, 2000), -ENOENT, "release a reserved index");
    is_int(auto1(db, &pool, 2059, &a), 0, "allocate at t=2059, in quarantine");
    ok(a.index == 13 && !a.reused, "... a new prefix (index 13, from the counter)");
    is_int(auto1(db, &pool, 2060, &a), 0, "allocate at t=2060, quarantine over");
    ok(a.index == 4 && a.reused, "... reuses index 4");
    is_str(ptext(&a, buf), "2001:db8:1:4::/64", "... 2001:db8:1:4::/64");
    is_int(release1(db, &pool, 9, 3000), 0, "release 9");
    is_int(release1(db, &pool, 6, 3001), 0, "release 6");
    is_int(release1(db, &pool, 7, 3100), 0, "release 7 later");
    is_int(auto1(db, &pool, 3061, &a), 0, "at 3061: 6 and 9 are ready, 7 is not");
    ok(a.index == 6 && a.reused, "... the lowest ready (6)");
    is_int(auto1(db, &pool, 3061, &a), 0, "again");
    ok(a.index == 9 && a.reused, "... then 9");
    is_int(auto1(db, &pool, 3061, &a), 0, "again");
    ok(a.index == 14 && !a.reused, "... then the counter (14), 7 still resting");
    is_int(auto1(db, &pool, 3160, &a), 0, "at 3160");
    ok(a.index == 7 && a.reused, "... 7");

    /* Promotion on its own, as a plugin timer would run it. */
    is_int(release1(db, &pool, 10, 5000), 0, "release 10");
    is_int(release1(db, &pool, 11, 5000), 0, "release 11");
    is_int(h->db_begin(db), 0, "promote in a transaction");
    is_int(v6_alloc_promote(h, db, &pool, 5059, &n), 0, "promote at 5059");
    is_int(n, 0, "... nothing yet");
    is_int(v6_alloc_promote(h, db, &pool, 5060, &n), 0, "promote at 5060");
    is_int(n, 2, "... both");
    is_int(v6_alloc_promote(h, db, &pool, 5060, &n), 0, "promote again");
    is_int(n, 0, "... nothing left");
    is_int(h->db_commit(db), 0, "committed");
    is_int(auto1(db, &pool, 5060, &a), 0, "allocate");
    ok(a.index == 10 && a.reused, "... 10, promoted earlier");
    is_int(auto1(db, &pool, 5060, &a), 0, "allocate");
    ok(a.index == 11 && a.reused, "... 11");
    is_int(v6_alloc_promote(h, db, &(struct v6_pool){.id = 1, .quarantine_s = -1}, 0, NULL), -EINVAL,
           "promote refuses a negative quarantine");
}

static void test_custom(struct wgm_db *db)
{
    struct v6_pool pool = mkpool(1, "2001:db8:1::/56", 64, 3, 60);
    struct v6_allocation a = {0};
    struct v6_prefix p;
    char buf[V6_PREFIX_STRLEN];
    int64_t before = -1, after = -1;

    /* Indices 3..14 are out. */
    is_int(custom1(db, &pool, "2001:db8:1:80::/64", 4000, &a), 0, "custom 2001:db8:1:80::/64");
    ok(a.index == 0x80 && a.id > 0, "... index 128, with a row id");
    is_int(custom1(db, &pool, "2001:db8:1:80::/64", 4000, &a), -EEXIST, "the same again: taken");
    is_int(custom1(db, &pool, "2001:db8:1:5::/64", 4000, &a), -EEXIST, "one the counter gave: taken");
    is_int(custom1(db, &pool, "2001:db8:2::/64", 4000, &a), -ERANGE, "outside the pool");
    is_int(custom1(db, &pool, "2001:db8:1:100::/64", 4000, &a), -ERANGE, "just past the pool");
    is_int(custom1(db, &pool, "2001:db8:1:80::/63", 4000, &a), -EINVAL, "a /63: misaligned");
    is_int(custom1(db, &pool, "2001:db8:1:80::/65", 4000, &a), -EINVAL, "a /65: misaligned");
    p.addr = ((v6_u128)0x20010db8 << 96 | (v6_u128)0x0001 << 80 | (v6_u128)0x81 << 64) | 1;
    p.len = 64;
    is_int(v6_alloc_custom(h, db, &pool, &p, 4000, &a), -EDOM, "host bits set");
    is_int(custom1(db, &pool, "2001:db8:1:1::/64", 4000, &a), -EPERM, "a reserved one");
    is_int(custom1(db, &pool, "2001:db8:1:ff::/64", 4000, &a), 0, "the last prefix of the pool");
    ok(a.index == 0xff, "... index 255");

    /* The counter skips customs ahead of it: 15 free, 16 custom. */
    is_int(custom1(db, &pool, "2001:db8:1:10::/64", 4000, &a), 0, "custom index 16, ahead of the counter");
    is_int(auto1(db, &pool, 4000, &a), 0, "auto");
    ok(a.index == 15, "... 15");
    before = steps;
    is_int(auto1(db, &pool, 4000, &a), 0, "auto");
    after = steps;
    ok(a.index == 17, "... 17, skipping the custom 16");
    is_int(after - before, 7, "one extra existence check for the skip (7 statements)");

    /* A custom ahead of the counter, released: resting in quarantine, the
     * counter must not hand it out either. */
    is_int(custom1(db, &pool, "2001:db8:1:12::/64", 4000, &a), 0, "custom index 18");
    is_int(release1(db, &pool, 18, 4000), 0, "released at once");
    is_int(auto1(db, &pool, 4001, &a), 0, "auto in its quarantine");
    ok(a.index == 19, "... 19: the resting 18 skipped");

    /* A custom may take a resting prefix out of quarantine. */
    is_int(custom1(db, &pool, "2001:db8:1:12::/64", 4002, &a), 0, "custom on the resting 18");
    is_int(sql_int(db, "SELECT COUNT(*) FROM ipv6_released WHERE pool_id = 1 AND idx = "
                       "'00000000000000000000000000000012'"), 0, "... gone from the released list");
    is_str(ptext(&a, buf), "2001:db8:1:12::/64", "... 2001:db8:1:12::/64");

    is_int(h->db_begin(db), 0, "release by row id");
    is_int(v6_alloc_release_id(h, db, &pool, a.id, 4003), 0, "... released");
    is_int(v6_alloc_release_id(h, db, &pool, a.id, 4003), -ENOENT, "... not twice");
    is_int(h->db_commit(db), 0, "... committed");
    is_int(h->db_begin(db), 0, "release an id of another pool");
    is_int(v6_alloc_release_id(h, db, &(struct v6_pool){.id = 2}, 1, 4003), -ENOENT, "... -ENOENT");
    h->db_rollback(db);
}

static void test_full(struct wgm_db *db)
{
    struct v6_pool pool = mkpool(2, "2001:db8::/126", 128, 1, 10);
    struct v6_allocation a = {0};
    char buf[V6_PREFIX_STRLEN];
    struct v6_count total, avail;
    int64_t n = 0;

    is_int(init1(db, &pool), 0, "pool 2001:db8::/126 into /128, 1 reserved");
    is_int(auto1(db, &pool, 100, &a), 0, "allocation 1");
    is_str(ptext(&a, buf), "2001:db8::1/128", "... 2001:db8::1/128");
    is_int(auto1(db, &pool, 100, &a), 0, "allocation 2");
    is_int(auto1(db, &pool, 100, &a), 0, "allocation 3");
    is_str(ptext(&a, buf), "2001:db8::3/128", "... 2001:db8::3/128, the last");
    is_int(auto1(db, &pool, 100, &a), -ENOSPC, "allocation 4: full");
    is_int(auto1(db, &pool, 100, &a), -ENOSPC, "still full");
    is_int(v6_alloc_allocated(h, db, 2, &n), 0, "allocated");
    is_int(n, 3, "... 3");
    is_int(v6_pool_counts(&pool, n, &total, &avail), 0, "counts");
    is_str(v6_count_format(&total, buf, sizeof(buf)) == 0 ? buf : NULL, "4", "total 4");
    is_str(v6_count_format(&avail, buf, sizeof(buf)) == 0 ? buf : NULL, "0", "available 0");
    is_int(release1(db, &pool, 2, 100), 0, "release 2001:db8::2");
    is_int(auto1(db, &pool, 105, &a), -ENOSPC, "in quarantine: still full");
    is_int(auto1(db, &pool, 110, &a), 0, "after quarantine");
    is_str(ptext(&a, buf), "2001:db8::2/128", "... 2001:db8::2/128 again");
    is_int(auto1(db, &pool, 110, &a), -ENOSPC, "full again");
}

/* Statements per auto allocation, fresh pool, no releases and no customs. */
static long steps_per_alloc(struct wgm_db *db, const struct v6_pool *pool, int count, v6_u128 *lastidx)
{
    struct v6_allocation a = {0};
    long before, most = 0;
    int i;

    for (i = 0; i < count; i++) {
        before = steps;
        if (auto1(db, pool, 1, &a) < 0)
            return -1;
        if (steps - before > most)
            most = steps - before;
    }
    *lastidx = a.index;
    return most;
}

static void test_sizes(struct wgm_db *db)
{
    struct v6_pool p56 = mkpool(10, "2001:db8:2::/56", 64, 0, 60), p32 = mkpool(11, "2001:db9::/32", 64, 0, 60),
                   p16 = mkpool(12, "2002::/16", 64, 0, 60),
                   end16 = mkpool(13, "2003::/16", 64, ((v6_u128)1 << 48) - 2, 60),
                   all = mkpool(14, "::/0", 128, V6_U128_MAX - 1, 60);
    struct v6_allocation a = {0};
    struct v6_count total, avail;
    char buf[V6_PREFIX_STRLEN], dec[V6_DEC_STRLEN];
    long s56, s32, s16;
    v6_u128 l56 = 0, l32 = 0, l16 = 0;

    ok(init1(db, &p56) == 0 && init1(db, &p32) == 0 && init1(db, &p16) == 0, "pools /56, /32, /16 into /64");
    s56 = steps_per_alloc(db, &p56, 100, &l56);
    s32 = steps_per_alloc(db, &p32, 100, &l32);
    s16 = steps_per_alloc(db, &p16, 100, &l16);
    ok(l56 == 99 && l32 == 99 && l16 == 99, "100 allocations each, indices 0..99");
    is_int(s56, 6, "a /56 allocation: 6 statements");
    is_int(s32, s56, "a /32 (2^32 prefixes): the same");
    is_int(s16, s56, "a /16 (2^48 prefixes): the same");

    is_int(v6_pool_counts(&p16, 100, &total, &avail), 0, "counts of the /16");
    is_str(v6_count_format(&total, dec, sizeof(dec)) == 0 ? dec : NULL, "281474976710656", "total 2^48");
    is_str(v6_count_format(&avail, dec, sizeof(dec)) == 0 ? dec : NULL, "281474976710556", "available 2^48-100");

    /* The far end of a huge pool, reached through `reserved`, not by walking. */
    is_int(init1(db, &end16), 0, "a /16 with all but two reserved");
    is_int(auto1(db, &end16, 1, &a), 0, "second to last");
    is_str(ptext(&a, buf), "2003:ffff:ffff:fffe::/64", "... 2003:ffff:ffff:fffe::/64");
    is_int(auto1(db, &end16, 1, &a), 0, "last");
    is_str(ptext(&a, buf), "2003:ffff:ffff:ffff::/64", "... 2003:ffff:ffff:ffff::/64");
    is_int(auto1(db, &end16, 1, &a), -ENOSPC, "then full");
    is_int(v6_pool_counts(&end16, 2, NULL, &avail), 0, "counts");
    is_str(v6_count_format(&avail, dec, sizeof(dec)) == 0 ? dec : NULL, "0", "available 0");
    is_int(v6_pool_counts(&end16, 3, NULL, &avail), -ERANGE, "more allocated than fits: -ERANGE");

    /* ::/0 into /128: 2^128 prefixes, the counter saturates at the last. */
    is_int(init1(db, &all), 0, "::/0 into /128 with 2^128-2 reserved");
    is_int(auto1(db, &all, 1, &a), 0, "allocate");
    is_str(ptext(&a, buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128", "... ffff:...:fffe/128");
    is_int(auto1(db, &all, 1, &a), 0, "allocate the very last address");
    ok(a.index == V6_U128_MAX, "... index 2^128 - 1");
    is_int(auto1(db, &all, 1, &a), -ENOSPC, "then full");
    is_int(release1(db, &all, V6_U128_MAX, 1), 0, "release the last");
    is_int(auto1(db, &all, 100, &a), 0, "reuse it after quarantine");
    ok(a.index == V6_U128_MAX && a.reused, "... the same, from the released list");
    is_int(v6_pool_counts(&all, 2, &total, &avail), 0, "counts");
    is_str(v6_count_format(&total, dec, sizeof(dec)) == 0 ? dec : NULL,
           "340282366920938463463374607431768211456", "total 2^128");
    is_str(v6_count_format(&avail, dec, sizeof(dec)) == 0 ? dec : NULL, "0", "available 0");
}

static void test_pool_check(void)
{
    struct v6_pool p = mkpool(1, "2001:db8::/32", 64, 0, 0);
    struct v6_count total, avail;
    char dec[V6_DEC_STRLEN];

    is_int(v6_pool_check(&p), 0, "valid pool");
    p.prefix_length = 32;
    is_int(v6_pool_check(&p), -EINVAL, "prefix_length equal to the pool's");
    p.prefix_length = 31;
    is_int(v6_pool_check(&p), -EINVAL, "prefix_length shorter");
    p.prefix_length = 129;
    is_int(v6_pool_check(&p), -EINVAL, "prefix_length 129");
    p.prefix_length = 128;
    is_int(v6_pool_check(&p), 0, "prefix_length 128");
    p.quarantine_s = -1;
    is_int(v6_pool_check(&p), -EINVAL, "negative quarantine");
    p = mkpool(1, "2001:db8::/32", 64, (v6_u128)1 << 32, 0);
    is_int(v6_pool_check(&p), 0, "everything reserved");
    p.reserved++;
    is_int(v6_pool_check(&p), -ERANGE, "more reserved than the pool holds");
    p.reserved = 0;
    p.prefix.addr |= 1;
    is_int(v6_pool_check(&p), -EDOM, "host bits set");
    p = mkpool(1, "::/0", 128, V6_U128_MAX, 0);
    is_int(v6_pool_check(&p), 0, "::/0 into /128 with 2^128-1 reserved");
    is_int(v6_pool_counts(&p, 0, NULL, &avail), 0, "counts");
    is_str(v6_count_format(&avail, dec, sizeof(dec)) == 0 ? dec : NULL, "1", "available 1");
    p = mkpool(1, "2001:db8::/64", 128, 100, 0);
    is_int(v6_pool_counts(&p, 5, &total, &avail), 0, "counts of a /64 into /128");
    is_str(v6_count_format(&total, dec, sizeof(dec)) == 0 ? dec : NULL, "18446744073709551616", "total 2^64");
    is_str(v6_count_format(&avail, dec, sizeof(dec)) == 0 ? dec : NULL, "18446744073709551511",
           "available 2^64 - 105");
    is_int(v6_pool_counts(&p, -1, NULL, &avail), -ERANGE, "negative allocated");
}

struct flaky {
    int fail_left, runs, code;
};

static int flaky_fn(struct wgm_db *db, void *arg)
{
    struct flaky *f = arg;

    f->runs++;
    if (sh_exec(db, "INSERT INTO ipv6_pool_state (pool_id, next_index) VALUES (77, "
                    "'00000000000000000000000000000000')") < 0)
        return -EIO;
    return f->fail_left-- > 0 ? f->code : 0;
}

static void test_retry(struct wgm_db *db)
{
    struct flaky f = {.fail_left = 2, .code = -EAGAIN};
    unsigned tries = 0;

    is_int(v6_txn_retry(h, db, 5, flaky_fn, &f, &tries), 0, "two -EAGAIN then success");
    ok(tries == 3 && f.runs == 3, "... three runs (%u)", tries);
    is_int(sql_int(db, "SELECT COUNT(*) FROM ipv6_pool_state WHERE pool_id = 77"), 1,
           "... the failed runs rolled back, the last committed");
    sh_exec(db, "DELETE FROM ipv6_pool_state WHERE pool_id = 77");
    f = (struct flaky){.fail_left = 10, .code = WGM_DB_EBUSY};
    is_int(v6_txn_retry(h, db, 3, flaky_fn, &f, &tries), WGM_DB_EBUSY, "busy every time: gives up");
    ok(tries == 3, "... after 3 runs");
    f = (struct flaky){.fail_left = 10, .code = -EEXIST};
    is_int(v6_txn_retry(h, db, 3, flaky_fn, &f, &tries), -EEXIST, "-EEXIST is not retried");
    ok(tries == 1, "... one run");
    is_int(sql_int(db, "SELECT COUNT(*) FROM ipv6_pool_state WHERE pool_id = 77"), 0, "nothing left behind");
}

/* --- concurrency ---------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 500

struct worker {
    pthread_t tid;
    const struct v6_pool *pool;
    v6_u128 got[PER_THREAD];
    int n, err;
    unsigned retries;
    int started;
};

struct auto_arg {
    const struct v6_pool *pool;
    struct v6_allocation a;
};

static int auto_fn(struct wgm_db *db, void *arg)
{
    struct auto_arg *x = arg;

    return v6_alloc_auto(h, db, x->pool, 1, &x->a);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* A short busy timeout, so that the retry path really runs. */
    struct wgm_db *db = db_open(2);
    struct auto_arg x = {.pool = w->pool};
    unsigned tries;
    int i, r;

    if (!db) {
        w->err = -EIO;
        return NULL;
    }
    for (i = 0; i < PER_THREAD; i++) {
        r = v6_txn_retry(h, db, 200, auto_fn, &x, &tries);
        w->retries += tries - 1;
        if (r < 0) {
            w->err = r;
            break;
        }
        w->got[w->n++] = x.a.index;
    }
    db_close(db);
    return NULL;
}

static int cmp_u128(const void *a, const void *b)
{
    v6_u128 x = *(const v6_u128 *)a, y = *(const v6_u128 *)b;

    return x < y ? -1 : x > y;
}

static void test_threads(struct wgm_db *db)
{
    struct v6_pool pool = mkpool(20, "2001:db8:4000::/40", 64, 16, 60);
    static struct worker w[THREADS];
    static v6_u128 all[THREADS * PER_THREAD];
    int i, n = 0, dups = 0, errs = 0;
    unsigned retries = 0;
    int64_t allocated = 0;

    is_int(init1(db, &pool), 0, "pool for 4 threads");
    for (i = 0; i < THREADS; i++) {
        w[i].pool = &pool;
        if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) == 0)
            w[i].started = 1;
        else
            w[i].err = -EAGAIN;
    }
    for (i = 0; i < THREADS; i++) {
        if (w[i].started)
            pthread_join(w[i].tid, NULL);
        if (w[i].err) {
            printf("# thread %d: %d after %d\n", i, w[i].err, w[i].n);
            errs++;
        }
        memcpy(all + n, w[i].got, (size_t)w[i].n * sizeof(v6_u128));
        n += w[i].n;
        retries += w[i].retries;
    }
    is_int(errs, 0, "no thread failed");
    is_int(n, THREADS * PER_THREAD, "2000 allocations");
    qsort(all, (size_t)n, sizeof(all[0]), cmp_u128);
    for (i = 1; i < n; i++)
        dups += all[i] == all[i - 1];
    is_int(dups, 0, "no duplicates");
    ok(n > 0 && all[0] == 16 && all[n - 1] == (v6_u128)(16 + n - 1), "dense: indices 16..2015");
    is_int(v6_alloc_allocated(h, db, 20, &allocated), 0, "allocated counter");
    is_int(allocated, n, "... agrees");
    is_int(sql_int(db, "SELECT COUNT(*) FROM ipv6_allocations WHERE pool_id = 20"), n, "rows agree");
    printf("# %u retries across %d threads (SQLITE_BUSY with a 2 ms busy timeout)\n", retries, THREADS);
}

int main(void)
{
    struct wgm_db *db;

    if (!mkdtemp(dir))
        skip_all("cannot create a temporary directory");
    snprintf(path, sizeof(path), "%s/alloc.db", dir);
    if (!(db = db_open(5000)))
        skip_all("cannot open SQLite");
    ok(migrate(db) == 0, "migrations apply to SQLite");
    test_schema(db);
    test_pool_check();
    test_sequential(db);
    test_quarantine(db);
    test_custom(db);
    test_full(db);
    test_sizes(db);
    test_retry(db);
    test_threads(db);
    db_close(db);
    unlink(path);
    {
        char side[sizeof(path) + 8];
        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
    }
    rmdir(dir);
    return done_testing();
}
