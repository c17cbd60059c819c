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
#include <stdint.h>

struct wgm_cache;

struct wgm_cache_stats {
    uint64_t hits, misses;
    uint64_t keys;          /* keys in the active backend (DBSIZE for Redis) */
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

#endif
