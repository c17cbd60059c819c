/*
 * core/cache/ratelimit: the policy over wgm_cache_bucket_take().  Keys are
 * "rl:<subject>" in the cache (so "wgm:rl:..." in Redis).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/netaddr.h"
#include "cache/backend.h"    /* WGM_BUCKET_EPSILON */
#include "cache/ratelimit.h"

#define RL_PREFIX "rl:"

static int64_t rl_realtime_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Seconds, rounded up, so a client that waits that long is not refused. */
static uint64_t rl_ceil_s(uint64_t ms)
{
    return ms / 1000 + (ms % 1000 != 0);
}

/* One bucket step of @cost (0: only a look) into @out. */
static int rl_take(struct wgm_cache *c, const struct wgm_ratelimit_bucket *b, double cost, struct wgm_ratelimit *out,
                   double *tokens)
{
    struct wgm_bucket_state st;
    char kbuf[256], *key = kbuf, *heap = NULL;
    unsigned capacity;
    size_t n;
    uint64_t retry;
    double whole;
    int rc;

    if (!b->subject || !*b->subject || b->per_minute == 0)
        return -EINVAL;
    capacity = b->burst ? b->burst : b->per_minute;
    n = sizeof(RL_PREFIX) - 1 + strlen(b->subject) + 1;
    if (n > sizeof(kbuf)) {
        key = heap = malloc(n);
        if (!key)
            return -ENOMEM;
    }
    snprintf(key, n, RL_PREFIX "%s", b->subject);
    rc = wgm_cache_bucket_take(c, key, capacity, b->per_minute / 60.0, cost, &st);
    if (rc < 0)
        goto out;
    out->allowed = st.allowed;
    out->limit = capacity;
    out->per_minute = b->per_minute;
    /* tokens is within the capacity, an unsigned */
    whole = floor(st.tokens + WGM_BUCKET_EPSILON);
    out->remaining = whole > 0 ? (unsigned)whole : 0;
    out->reset = (time_t)((rl_realtime_ms() + (int64_t)st.ms_to_full + 999) / 1000);
    retry = rl_ceil_s(st.ms_to_token);
    out->retry_after = retry < 1 ? 1 : retry > UINT_MAX ? UINT_MAX : (unsigned)retry;
    *tokens = st.tokens;
out:
    free(heap);
    return rc;
}

int wgm_ratelimit_check_all(struct wgm_cache *c, const struct wgm_ratelimit_bucket *b, size_t n,
                            struct wgm_ratelimit *out)
{
    struct wgm_ratelimit r[WGM_RATELIMIT_MAX_BUCKETS];
    double tokens;
    size_t best = 0;
    int rc;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!c || !b || !out || n == 0 || n > WGM_RATELIMIT_MAX_BUCKETS)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!b[i].subject || !*b[i].subject || b[i].per_minute == 0)
            return -EINVAL;
    /* A look first: an empty later bucket refuses without spending the
     * earlier ones' tokens.  Its real (refused) take gives the retry time. */
    for (size_t i = 1; i < n; i++) {
        if ((rc = rl_take(c, &b[i], 0, &r[i], &tokens)) < 0)
            return rc;
        if (tokens + WGM_BUCKET_EPSILON < 1) {
            if ((rc = rl_take(c, &b[i], 1, &r[i], &tokens)) < 0)
                return rc;
            if (!r[i].allowed) {
                *out = r[i];
                return 0;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = rl_take(c, &b[i], 1, &r[i], &tokens)) < 0)
            return rc;
        if (!r[i].allowed) {
            *out = r[i];
            return 0;
        }
        if (r[i].remaining < r[best].remaining)
            best = i;
    }
    *out = r[best];
    return 0;
}

int wgm_ratelimit_check(struct wgm_cache *c, const char *subject, unsigned per_minute, unsigned burst,
                        struct wgm_ratelimit *out)
{
    struct wgm_ratelimit_bucket b = {subject, per_minute, burst};
    return wgm_ratelimit_check_all(c, &b, 1, out);
}

int wgm_ratelimit_ip_subject(const char *ip, char *buf, size_t len)
{
    struct wgm_addr a;
    char text[INET6_ADDRSTRLEN];
    int n;

    if (!ip || !buf)
        return -EINVAL;
    if (wgm_addr_parse(ip, &a) < 0)
        n = snprintf(buf, len, "ip:%s", ip);
    else if (a.family == AF_INET)
        n = snprintf(buf, len, "ip:%s", inet_ntop(AF_INET, a.b, text, sizeof(text)));
    else {
        memset(a.b + 8, 0, 8);
        n = snprintf(buf, len, "ip:%s/64", inet_ntop(AF_INET6, a.b, text, sizeof(text)));
    }
    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

json_t *wgm_ratelimit_details(const struct wgm_ratelimit *r)
{
    char when[32];
    struct tm tm;

    if (!r)
        return NULL;
    if (!gmtime_r(&r->reset, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return NULL;
    return json_pack("{s:I, s:I, s:s, s:I}", "limit", (json_int_t)r->limit,
                     "remaining", (json_int_t)r->remaining, "reset_time", when,
                     "retry_after", (json_int_t)r->retry_after);
}

int wgm_ratelimit_headers(const struct wgm_ratelimit *r,
                          int (*add)(void *arg, const char *name, const char *value), void *arg)
{
    char v[32];
    int rc;

    if (!r || !add)
        return -EINVAL;
    snprintf(v, sizeof(v), "%u", r->limit);
    rc = add(arg, "X-RateLimit-Limit", v);
    if (rc < 0)
        return rc;
    snprintf(v, sizeof(v), "%u", r->remaining);
    rc = add(arg, "X-RateLimit-Remaining", v);
    if (rc < 0)
        return rc;
    snprintf(v, sizeof(v), "%lld", (long long)r->reset);
    rc = add(arg, "X-RateLimit-Reset", v);
    if (rc < 0)
        return rc;
    snprintf(v, sizeof(v), "%u", r->per_minute);
    rc = add(arg, "X-RateLimit-Per-Minute", v);
    if (rc < 0)
        return rc;
    if (r->allowed)
        return 0;
    snprintf(v, sizeof(v), "%u", r->retry_after);
    rc = add(arg, "X-RateLimit-Retry-After", v);
    return rc < 0 ? rc : 0;
}
