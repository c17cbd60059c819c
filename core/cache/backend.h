/*
 * core/cache internal: the interface between the cache front (cache.c) and
 * its stores (memory.c, redis.c).  Not part of the public API.
 *
 * Every operation returns 0 or a negative errno.  A store that cannot serve
 * at all (transport down, authentication refused, db not selectable, server
 * loading) answers with one of the codes wgm_cache_unavailable() accepts, so
 * the front knows to fall back; anything else (-ENOENT, -EINVAL for a value
 * that is not an integer, -ERANGE on overflow, -ENOMEM) is the answer itself.
 * Every store is thread-safe.
 */
#ifndef WGM_CORE_CACHE_BACKEND_H
#define WGM_CORE_CACHE_BACKEND_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wgm_cache_backend;

struct wgm_cache_backend_ops {
    const char *name;   /* "memory" | "redis" */
    /* @value is new (free()); -ENOENT when absent or expired. */
    int (*get)(struct wgm_cache_backend *b, const char *key, char **value);
    /* @value is copied; @ttl_s 0 means no expiry. */
    int (*set)(struct wgm_cache_backend *b, const char *key, const char *value, unsigned ttl_s);
    /* 0 whether or not the key existed. */
    int (*del)(struct wgm_cache_backend *b, const char *key);
    /* Atomic add; a missing key starts at 0 and gets @ttl_s (0: none);
     * an existing key keeps its expiry. */
    int (*incr)(struct wgm_cache_backend *b, const char *key, int64_t delta, unsigned ttl_s,
                int64_t *out);
    /* Token bucket (see wgm_cache_bucket_take; the front has checked the
     * numbers): refill, clamp to @capacity, take @cost if there; a plain
     * value at @key is -EINVAL.  The bucket expires once full again. */
    int (*bucket_take)(struct wgm_cache_backend *b, const char *key, double capacity,
                       double refill_per_s, double cost, bool *allowed, double *tokens);
    int (*ping)(struct wgm_cache_backend *b);
    /* Number of keys in the store (may count expired keys not yet removed). */
    int (*keys)(struct wgm_cache_backend *b, uint64_t *out);
    /* Optional: bytes of memory the store uses (Redis: used_memory). */
    int (*memory)(struct wgm_cache_backend *b, int64_t *out);
    /* Optional: drop every key (the front empties its fallback store). */
    int (*clear)(struct wgm_cache_backend *b);
    /* Optional: why the last unavailable answer happened, for the one log
     * line of the front.  Never contains a password. */
    void (*last_error)(struct wgm_cache_backend *b, char *buf, size_t len);
    /* Optional: a printable name of the target ("127.0.0.1:6379", no password). */
    const char *(*target)(struct wgm_cache_backend *b);
    /* Accepts NULL; returns NULL. */
    struct wgm_cache_backend *(*free)(struct wgm_cache_backend *b);
};

/* Every store begins with this header. */
struct wgm_cache_backend {
    const struct wgm_cache_backend_ops *ops;
};

/* True for the answers meaning "this store cannot serve now". */
static inline bool wgm_cache_unavailable(int rc)
{
    return rc == -EIO || rc == -EACCES || rc == -ENXIO;
}

/* Floating-point refill leaves 0.9999999 where 1 token was meant: a take
 * succeeds within this much (redis.c's script uses the same number). */
#define WGM_BUCKET_EPSILON 1e-9

/* One bucket step on @tokens held @elapsed_us ago (negative: the clock went
 * back, no refill).  A lowered capacity clamps.  True when @cost was taken. */
static inline bool wgm_bucket_step(double *tokens, int64_t elapsed_us, double capacity,
                                   double refill_per_s, double cost)
{
    double t = *tokens;

    if (elapsed_us > 0)
        t += (double)elapsed_us * refill_per_s / 1e6;
    if (t > capacity)
        t = capacity;
    if (t + WGM_BUCKET_EPSILON < cost) {
        *tokens = t;
        return false;
    }
    t -= cost;
    *tokens = t < 0 ? 0 : t;
    return true;
}

/* A new in-process store.  0 or -ENOMEM. */
int wgm_cache_memory_new(struct wgm_cache_backend **out);

/* A new Redis store for @url ("redis://[[user]:password@]host[:port][/db]",
 * host possibly an [IPv6] literal, or "unix:///path[?db=N][&password=P]";
 * credentials percent-decoded).  Parses only; no I/O (the first operation connects).
 * 0, -EINVAL (bad URL), -ENOTSUP (rediss://) or -ENOMEM, with a reason in
 * @err that never contains the password. */
int wgm_cache_redis_new(const char *url, struct wgm_cache_backend **out, char *err, size_t errlen);

#endif
