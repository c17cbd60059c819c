/*
 * core/cache: key/value cache with TTLs.  In-process by default; Redis
 * (hiredis) when a redis:// URL is configured.  When Redis stops answering,
 * operations fall back to the in-process store (one warning), and Redis is
 * tried again every few seconds; on recovery it is used again (one notice).
 * Thread-safe.
 */
#ifndef WGM_CORE_CACHE_H
#define WGM_CORE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wgm_cache;

struct wgm_cache_stats {
    uint64_t hits, misses;
    uint64_t keys;          /* keys in the active backend (DBSIZE for Redis) */
    int64_t memory_bytes;   /* memory the active backend uses; -1 when unknown */
    bool degraded;          /* Redis configured but not answering */
};

/* Log sink so the cache can report degrade/recover once at the boundary. */
typedef void (*wgm_cache_log_fn)(int level, const char *msg);

/* @url NULL, "" or "memory://" for in-process; "redis://[:password@]host[:port][/db]"
 * or "unix:///path/to/redis.sock" for Redis.  0 or a negative errno with a
 * reason in @err (never the password). */
int wgm_cache_open(const char *url, wgm_cache_log_fn log, struct wgm_cache **out,
                   char *err, size_t errlen);
struct wgm_cache *wgm_cache_close(struct wgm_cache *c);
/* "memory" or "redis" (what is configured, even while degraded). */
const char *wgm_cache_backend(const struct wgm_cache *c);
/* 0 when the configured backend answers now. */
int wgm_cache_ping(struct wgm_cache *c);
void wgm_cache_stats(struct wgm_cache *c, struct wgm_cache_stats *out);

/* @value is new (free()); 0, -ENOENT, or a negative errno. */
int wgm_cache_get(struct wgm_cache *c, const char *key, char **value);
int wgm_cache_set(struct wgm_cache *c, const char *key, const char *value, unsigned ttl_s);
int wgm_cache_del(struct wgm_cache *c, const char *key);
/* Atomic add; a missing key starts at 0 and gets @ttl_s (0: none). */
int wgm_cache_incr(struct wgm_cache *c, const char *key, int64_t delta, unsigned ttl_s, int64_t *out);

/** The outcome of one wgm_cache_bucket_take(). */
struct wgm_bucket_state {
    bool allowed;           /* the tokens were taken */
    double tokens;          /* left after the take, or held now when refused */
    uint64_t ms_to_token;   /* until a take of the same cost (at least 1 token,
                             * at most the capacity) would succeed; 0: now */
    uint64_t ms_to_full;    /* until the bucket is full again; 0: full */
};

/**
 * Token bucket at @key: refill @refill_per_s tokens a second up to
 * @capacity, then take @cost tokens if that many are there (all or nothing).
 * A missing bucket starts full; an idle one disappears once full again.
 * Atomic across threads and, on Redis, across every process sharing that
 * Redis (one clock: Redis's).  @capacity and @refill_per_s are parameters of
 * each call, so a changed limit applies at once: a lowered capacity clamps
 * the tokens held.  While degraded, buckets live in the in-process store.
 * @cost 0 only looks.
 *
 * 0 with @out filled; -EINVAL for NULL arguments, a non-finite or
 * out-of-range number (0 < @capacity and @refill_per_s <= 1e12,
 * @capacity / @refill_per_s <= 1e9 s, 0 <= @cost <= @capacity) or a @key
 * holding a plain value; another negative errno on failure.
 */
int wgm_cache_bucket_take(struct wgm_cache *c, const char *key, double capacity, double refill_per_s,
                          double cost, struct wgm_bucket_state *out);

#endif
