/*
 * core/cache/ratelimit: request rate limits as token buckets in the cache
 * (in-process, or shared by every wgmd on one Redis), and the spec's
 * X-RateLimit-* headers and 429 details.
 *
 * A subject ("user:12", "key:ak_x", "ip:192.0.2.1") gets a bucket of
 * @burst tokens (0: @per_minute) refilled at @per_minute / 60 a second; each
 * request takes one.  The limits are parameters of every check, so a changed
 * limit applies to the next request.  Thread-safe.
 */
#ifndef WGM_CORE_CACHE_RATELIMIT_H
#define WGM_CORE_CACHE_RATELIMIT_H

#include <stdbool.h>
#include <time.h>

#include <jansson.h>

#include "cache/cache.h"

/** The outcome of one check, in the spec's terms. */
struct wgm_ratelimit {
    bool allowed;           /* false: answer 429 RATE_LIMIT_EXCEEDED */
    unsigned limit;         /* X-RateLimit-Limit: requests per minute */
    unsigned remaining;     /* X-RateLimit-Remaining: whole requests left now */
    time_t reset;           /* X-RateLimit-Reset: unix time the bucket is full again */
    unsigned retry_after;   /* X-RateLimit-Retry-After: whole seconds (>= 1) until
                             * the next request would pass; meaningful when refused */
};

/**
 * Take one request from @subject's bucket.  0 with @out filled (allowed or
 * not); -EINVAL for a NULL or empty argument, @per_minute 0, or a @burst
 * that would take over 1e9 s to refill at that rate; another
 * negative errno when the cache fails (the caller decides whether to let
 * the request through).  @subject is borrowed.
 */
int wgm_ratelimit_check(struct wgm_cache *c, const char *subject, unsigned per_minute,
                        unsigned burst, struct wgm_ratelimit *out);

/**
 * The 429 error's details: {"limit", "remaining", "reset_time" (RFC 3339
 * UTC), "retry_after"}.  New reference, or NULL (NULL @r, no memory).
 */
json_t *wgm_ratelimit_details(const struct wgm_ratelimit *r);

/**
 * Call @add for X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset
 * and, when refused, X-RateLimit-Retry-After.  Names and values are
 * borrowed for the call only.  0, -EINVAL for NULL arguments, or the first
 * negative value @add returns (the rest are not added).
 */
int wgm_ratelimit_headers(const struct wgm_ratelimit *r,
                          int (*add)(void *arg, const char *name, const char *value), void *arg);

#endif
