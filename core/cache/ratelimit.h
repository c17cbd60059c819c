/*
 * core/cache/ratelimit: request rate limits as token buckets in the cache
 * (in-process, or shared by every wgmd on one Redis), and the spec's
 * X-RateLimit-* headers and 429 details.
 *
 * A subject ("user:12", "key:ak_x", "ip:192.0.2.1") gets a bucket of
 * @burst tokens (0: @per_minute) refilled at @per_minute / 60 a second; each
 * request takes one.  The limits are parameters of every check, so a changed
 * limit applies to the next request.  A request may have to pass several
 * buckets (an API key's own and its owner's): it passes when each has a
 * token, and the headers describe the tightest one.  Thread-safe.
 *
 * Header semantics: X-RateLimit-Limit is the capacity of the bucket (the
 * burst: the most requests that can be made at once), X-RateLimit-Remaining
 * the whole tokens in that same bucket, X-RateLimit-Reset when it is full
 * again, X-RateLimit-Per-Minute its refill rate.  Without a burst the
 * capacity is the per-minute rate, as the spec shows (1000 / 999).
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
    unsigned limit;         /* X-RateLimit-Limit: capacity of the bucket (its burst) */
    unsigned per_minute;    /* X-RateLimit-Per-Minute: its refill rate */
    unsigned remaining;     /* X-RateLimit-Remaining: whole tokens left in it now */
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

/** One bucket a request must pass: @subject borrowed, @burst 0 = @per_minute. */
struct wgm_ratelimit_bucket {
    const char *subject;
    unsigned per_minute, burst;
};

#define WGM_RATELIMIT_MAX_BUCKETS 4

/**
 * Take one request from each of @n buckets (1..WGM_RATELIMIT_MAX_BUCKETS).
 * The buckets after the first are looked at before anything is taken, so a
 * request one of them refuses costs the others nothing (two wgmd racing on
 * one Redis may still spend a token on a request that is then refused).
 * @out describes the bucket that refused, or when all passed the one with
 * the fewest whole tokens left (the first of equals).  Return values as
 * wgm_ratelimit_check.
 */
int wgm_ratelimit_check_all(struct wgm_cache *c, const struct wgm_ratelimit_bucket *b, size_t n,
                            struct wgm_ratelimit *out);

/**
 * The anonymous bucket's subject for the client address @ip (borrowed) into
 * @buf: "ip:192.0.2.1" for IPv4 (an IPv4-mapped IPv6 peer included), and for
 * IPv6 the peer's /64, "ip:2001:db8:1:2::/64": a host is handed at least a
 * /64, so rotating through its addresses buys no extra budget.  Text that is
 * no address is used as given ("ip:-").  0, or -EINVAL (NULL) / -ENOSPC.
 */
int wgm_ratelimit_ip_subject(const char *ip, char *buf, size_t len);

/**
 * The 429 error's details: {"limit", "remaining", "reset_time" (RFC 3339
 * UTC), "retry_after"}.  New reference, or NULL (NULL @r, no memory).
 */
json_t *wgm_ratelimit_details(const struct wgm_ratelimit *r);

/**
 * Call @add for X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset,
 * X-RateLimit-Per-Minute and, when refused, X-RateLimit-Retry-After.  Names and values are
 * borrowed for the call only.  0, -EINVAL for NULL arguments, or the first
 * negative value @add returns (the rest are not added).
 */
int wgm_ratelimit_headers(const struct wgm_ratelimit *r,
                          int (*add)(void *arg, const char *name, const char *value), void *arg);

#endif
