/*
 * core/cache: token buckets (wgm_cache_bucket_take) and the rate-limit
 * policy on them (wgm_ratelimit_*).  One suite run on the in-process store
 * and, when WGM_TEST_REDIS_URL is set, on that Redis; then a short check
 * that limits keep working when Redis dies, against a private redis-server
 * this program starts on 127.0.0.1:36392 and always stops.
 *
 * Also the client-address rules of the anonymous bucket (auth/netaddr.h:
 * strict parsing, IPv4-mapped peers as IPv4, one bucket per IPv6 /64) and
 * requests that must pass two buckets (an API key's and its owner's).
 *
 * Rates are chosen so that refill during a step is far below one token,
 * or the refill the elapsed time allows is accounted for: the counts stay
 * exact under valgrind.  Every wait is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/netaddr.h"
#include "cache/cache.h"
#include "cache/ratelimit.h"
#include "tap.h"

#define PRIV_PORT 36392
#define WATCHDOG_S 300

/* ---- helpers ------------------------------------------------------------ */

static char subj_prefix[64];

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Subjects carry a per-run prefix so runs sharing one Redis do not meet. */
static const char *S(char *buf, const char *name)
{
    snprintf(buf, 128, "%s%s", subj_prefix, name);
    return buf;
}

/* Drop @subject's bucket (tests leave nothing behind in a shared Redis). */
static void drop(struct wgm_cache *c, const char *subject)
{
    char key[160];

    snprintf(key, sizeof(key), "rl:%s", subject);
    wgm_cache_del(c, key);
}

/* Check until refused (at most @max times); how many passed, -1 on an error. */
static int drain(struct wgm_cache *c, const char *subject, unsigned per_minute, unsigned burst,
                 int max, struct wgm_ratelimit *last)
{
    int n = 0;

    for (int i = 0; i < max; i++) {
        if (wgm_ratelimit_check(c, subject, per_minute, burst, last) < 0)
            return -1;
        if (!last->allowed)
            return n;
        n++;
    }
    return n;
}

static void print_log(int level, const char *msg)
{
    printf("# log(%d): %s\n", level, msg);
}

/* ---- the shared suite ------------------------------------------------------ */

static bool is_redis(const char *url)
{
    return url != NULL;
}

/* A fresh bucket passes exactly @burst, counting down, then refuses. */
static void t_burst(struct wgm_cache *c, const char *url)
{
    struct wgm_ratelimit r;
    char s[128];
    int bad = 0;
    time_t t0 = time(NULL);

    S(s, "burst");
    for (unsigned i = 0; i < 5; i++) {
        /* 60/min: a token a second, none arrives during these calls */
        if (wgm_ratelimit_check(c, s, 60, 5, &r) < 0 || !r.allowed || r.remaining != 4 - i ||
            r.limit != 5 || r.per_minute != 60)
            bad++;
    }
    is_int(bad, 0, "5 of burst 5 pass, remaining 4..0, limit 5 (the capacity), 60 per minute");
    is_int(wgm_ratelimit_check(c, s, 60, 5, &r), 0, "6th check");
    ok(!r.allowed, "6th is refused");
    is_int(r.remaining, 0, "remaining 0");
    is_int(r.retry_after, 1, "retry after 1 s at a token a second");
    ok(r.reset >= t0 + 4 && r.reset <= time(NULL) + 6, "reset ~5 s ahead (%lld s)",
       (long long)(r.reset - t0));
    is_int(wgm_ratelimit_check(c, s, 60, 5, &r), 0, "7th check");
    ok(!r.allowed && r.remaining == 0, "still refused: a refusal takes nothing back");
    drop(c, s);
}

/* 600/min = 10/s: after 300 ms about 3 tokens are back (capacity 3). */
static void t_refill(struct wgm_cache *c, const char *url)
{
    struct wgm_ratelimit r;
    char s[128];
    int64_t t0;
    int n, most;

    S(s, "refill");
    is_int(drain(c, s, 600, 3, 20, &r), 3, "burst 3 drained");
    ok(!r.allowed && r.retry_after == 1, "refused, retry after 1 s");
    sleep_ms(300);
    t0 = now_ms();
    n = drain(c, s, 600, 3, 20, &r);
    /* 3 back (the capacity), plus a token per 100 ms the loop took */
    most = 3 + (int)((now_ms() - t0) / 100) + 1;
    ok(n >= 3 && n <= most, "after 300 ms at 10/s, %d pass again (3..%d)", n, most);
    ok(!r.allowed, "then refused again");
    drop(c, s);
}

/* Slow rates: retry_after and reset in whole seconds; details and headers. */
struct hdrs {
    int n;
    char names[8][40], values[8][40];
};

static int add_header(void *arg, const char *name, const char *value)
{
    struct hdrs *h = arg;

    if (h->n >= 8)
        return -ENOSPC;
    snprintf(h->names[h->n], sizeof(h->names[0]), "%s", name);
    snprintf(h->values[h->n], sizeof(h->values[0]), "%s", value);
    h->n++;
    return 0;
}

static int add_header_fail(void *arg, const char *name, const char *value)
{
    (*(int *)arg)++;
    return -ENOMEM;
}

static void t_retry_reset(struct wgm_cache *c, const char *url)
{
    struct wgm_ratelimit r;
    struct hdrs h = { 0 };
    char s[128], want[32];
    json_t *d;
    time_t now;
    int calls = 0;

    S(s, "slow");
    /* 6/min: a token every 10 s */
    is_int(drain(c, s, 6, 2, 10, &r), 2, "burst 2 at 6/min");
    now = time(NULL);
    ok(!r.allowed && r.retry_after >= 9 && r.retry_after <= 10, "retry after ~10 s (%u)",
       r.retry_after);
    ok(r.reset >= now + 19 && r.reset <= now + 21, "reset ~20 s ahead (%lld)",
       (long long)(r.reset - now));
    d = wgm_ratelimit_details(&r);
    ok(d && json_is_object(d) && json_object_size(d) == 4, "details: an object of 4");
    is_int(json_integer_value(json_object_get(d, "limit")), 2, "details.limit is the capacity");
    is_int(json_integer_value(json_object_get(d, "remaining")), 0, "details.remaining");
    is_int(json_integer_value(json_object_get(d, "retry_after")), r.retry_after, "details.retry_after");
    {
        const char *rt = json_string_value(json_object_get(d, "reset_time"));
        char exp[32];
        struct tm tm;

        gmtime_r(&r.reset, &tm);
        strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        is_str(rt, exp, "details.reset_time is RFC 3339 UTC of reset");
    }
    json_decref(d);
    ok(wgm_ratelimit_details(NULL) == NULL, "details(NULL) is NULL");

    is_int(wgm_ratelimit_headers(&r, add_header, &h), 0, "headers of a refusal");
    is_int(h.n, 5, "five headers");
    is_str(h.names[0], "X-RateLimit-Limit", "Limit header");
    is_str(h.values[0], "2", "Limit value: the bucket's capacity");
    is_str(h.names[1], "X-RateLimit-Remaining", "Remaining header");
    is_str(h.values[1], "0", "Remaining value");
    snprintf(want, sizeof(want), "%lld", (long long)r.reset);
    is_str(h.names[2], "X-RateLimit-Reset", "Reset header");
    is_str(h.values[2], want, "Reset value is the unix time");
    is_str(h.names[3], "X-RateLimit-Per-Minute", "Per-Minute header");
    is_str(h.values[3], "6", "Per-Minute value: the refill rate");
    snprintf(want, sizeof(want), "%u", r.retry_after);
    is_str(h.names[4], "X-RateLimit-Retry-After", "Retry-After header");
    is_str(h.values[4], want, "Retry-After value");

    memset(&h, 0, sizeof(h));
    S(s, "slow-ok");
    wgm_ratelimit_check(c, s, 6, 2, &r);
    is_int(wgm_ratelimit_headers(&r, add_header, &h), 0, "headers of a pass");
    ok(h.n == 4 && strcmp(h.values[1], "1") == 0 && strcmp(h.values[0], "2") == 0,
       "four headers, no Retry-After; limit 2, remaining 1: one bucket");
    is_int(wgm_ratelimit_headers(&r, add_header_fail, &calls), -ENOMEM, "add's error is returned");
    is_int(calls, 1, "and stops there");
    is_int(wgm_ratelimit_headers(NULL, add_header, &h), -EINVAL, "NULL result refused");
    drop(c, s);
    drop(c, S(s, "slow"));
}

static void t_independent(struct wgm_cache *c, const char *url)
{
    struct wgm_ratelimit r;
    char a[128], b[128];

    S(a, "user:12");
    S(b, "ip:192.0.2.1");
    is_int(drain(c, a, 6, 2, 10, &r), 2, "subject A drained");
    is_int(wgm_ratelimit_check(c, b, 6, 2, &r), 0, "subject B checked");
    ok(r.allowed && r.remaining == 1, "B is untouched by A (remaining %u)", r.remaining);
    is_int(wgm_ratelimit_check(c, a, 6, 2, &r), 0, "A checked again");
    ok(!r.allowed, "A still refused");
    drop(c, a);
    drop(c, b);
}

#define N_THREADS 4
#define N_CHECKS 400
#define CAPACITY 1000

struct hammer {
    struct wgm_cache *c;
    const char *subject;
    int allowed, errors;
};

static void *hammer_thread(void *p)
{
    struct hammer *h = p;
    struct wgm_ratelimit r;

    for (int i = 0; i < N_CHECKS; i++) {
        if (wgm_ratelimit_check(h->c, h->subject, 1, CAPACITY, &r) < 0)
            h->errors++;
        else if (r.allowed)
            h->allowed++;
    }
    return NULL;
}

/* 1600 checks on a bucket of 1000 at 1/min: exactly 1000 pass (plus a token
 * a minute, should the run be that slow). */
static void t_threads(struct wgm_cache *c, const char *url)
{
    struct hammer h[N_THREADS];
    pthread_t th[N_THREADS];
    int allowed = 0, errors = 0;
    int64_t t0 = now_ms();
    long extra;
    char s[128];

    S(s, "hammer");
    for (int t = 0; t < N_THREADS; t++) {
        h[t] = (struct hammer){ .c = c, .subject = s };
        pthread_create(&th[t], NULL, hammer_thread, &h[t]);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        allowed += h[t].allowed;
        errors += h[t].errors;
    }
    extra = (long)((now_ms() - t0) / 60000);
    printf("# 4 x %d checks took %lld ms\n", N_CHECKS, (long long)(now_ms() - t0));
    is_int(errors, 0, "4 threads x 400 checks: no errors");
    is_int(allowed, CAPACITY + extra, "exactly 1000 passed in all");
    drop(c, s);
}

/* Two caches on one URL: one budget on Redis (two wgmd), two in memory. */
static void t_two_instances(struct wgm_cache *c, const char *url)
{
    struct wgm_cache *b = NULL;
    struct wgm_ratelimit r;
    char s[128], err[256];
    int passed = 0;

    S(s, "shared");
    is_int(wgm_cache_open(url, print_log, &b, err, sizeof(err)), 0, "second instance opens");
    if (!b)
        return;
    for (int i = 0; i < 10; i++) {
        struct wgm_cache *which = i % 2 ? b : c;

        if (wgm_ratelimit_check(which, s, 6, 4, &r) == 0 && r.allowed)
            passed++;
    }
    if (is_redis(url))
        is_int(passed, 4, "alternating instances share one budget of 4");
    else
        is_int(passed, 8, "in-process instances have a budget each (4 + 4)");
    drop(c, s);
    drop(b, s);
    wgm_cache_close(b);
}

/* The spec's example: 1000/min with a burst of 2000. */
static void t_burst_over_limit(struct wgm_cache *c, const char *url)
{
    struct wgm_ratelimit r;
    char s[128];
    int64_t t0 = now_ms();
    time_t now;
    double refill;
    int n;

    S(s, "big");
    is_int(wgm_ratelimit_check(c, s, 1000, 2000, &r), 0, "first check");
    /* Limit and Remaining describe one bucket: capacity 2000, 1999 left. */
    ok(r.allowed && r.limit == 2000 && r.remaining == 1999 && r.per_minute == 1000,
       "limit 2000 (capacity), remaining 1999, 1000 per minute (%u/%u)", r.limit, r.remaining);
    n = drain(c, s, 1000, 2000, 4000, &r) + 1;
    refill = (double)(now_ms() - t0) / 1000.0 * 1000.0 / 60.0;
    printf("# %d passed in %lld ms\n", n, (long long)(now_ms() - t0));
    ok(n >= 2000 && n <= 2000 + (int)ceil(refill) + 1, "2000 pass, plus what refilled meanwhile (%d)",
       n);
    now = time(NULL);
    ok(!r.allowed && r.retry_after == 1, "then refused, retry after 1 s");
    ok(r.reset >= now + 110 && r.reset <= now + 121, "reset ~120 s ahead (%lld)",
       (long long)(r.reset - now));
    drop(c, s);
}

/* Limits are parameters of each check: a change applies to the next one. */
static void t_live_change(struct wgm_cache *c, const char *url)
{
    struct wgm_ratelimit r;
    char s[128];

    S(s, "live");
    for (int i = 0; i < 3; i++)
        wgm_ratelimit_check(c, s, 60, 10, &r);
    is_int(r.remaining, 7, "60/min burst 10: 3 taken, 7 left");
    wgm_ratelimit_check(c, s, 60, 5, &r);
    ok(r.allowed && r.remaining == 4, "burst lowered to 5: clamped to 5, one taken (%u)",
       r.remaining);
    wgm_ratelimit_check(c, s, 120, 0, &r);
    ok(r.allowed && r.remaining == 3 && r.limit == 120,
       "raised to 120/min: capacity 120 but the tokens are not refilled at once (%u)",
       r.remaining);
    wgm_ratelimit_check(c, s, 2, 0, &r);
    ok(r.allowed && r.remaining == 1 && r.limit == 2, "lowered to 2/min: clamped to 2, one taken (%u)",
       r.remaining);
    wgm_ratelimit_check(c, s, 2, 0, &r);
    ok(r.allowed && r.remaining == 0, "last token");
    wgm_ratelimit_check(c, s, 2, 0, &r);
    ok(!r.allowed && r.retry_after >= 29 && r.retry_after <= 30,
       "refused; at 2/min the next token is ~30 s away (%u)", r.retry_after);
    drop(c, s);
}

/* The cache operation itself. */
static void t_bucket_api(struct wgm_cache *c, const char *url)
{
    struct wgm_bucket_state st;
    char k[160], *v = NULL;
    int64_t deadline;
    int rc = 0;

    snprintf(k, sizeof(k), "%sbucket", subj_prefix);
    is_int(wgm_cache_bucket_take(c, k, 0, 1, 0, &st), -EINVAL, "capacity 0 refused");
    is_int(wgm_cache_bucket_take(c, k, 1, 0, 0, &st), -EINVAL, "refill 0 refused");
    is_int(wgm_cache_bucket_take(c, k, NAN, 1, 0, &st), -EINVAL, "NaN refused");
    is_int(wgm_cache_bucket_take(c, k, 1, INFINITY, 0, &st), -EINVAL, "infinity refused");
    is_int(wgm_cache_bucket_take(c, k, 2, 1, 3, &st), -EINVAL, "cost over capacity refused");
    is_int(wgm_cache_bucket_take(c, k, 2, 1, -1, &st), -EINVAL, "negative cost refused");
    is_int(wgm_cache_bucket_take(c, k, 1e9, 0.1, 1, &st), -EINVAL, "over 1e9 s to fill refused");
    is_int(wgm_cache_bucket_take(c, NULL, 1, 1, 1, &st), -EINVAL, "NULL key refused");
    is_int(wgm_cache_bucket_take(c, k, 1, 1, 1, NULL), -EINVAL, "NULL out refused");

    is_int(wgm_cache_bucket_take(c, k, 4, 0.5, 0, &st), 0, "a look (cost 0)");
    ok(st.allowed && st.tokens == 4 && st.ms_to_token == 0 && st.ms_to_full == 0,
       "created full: 4 tokens, nothing to wait for");
    wgm_cache_bucket_take(c, k, 4, 0.5, 2.5, &st);
    ok(st.allowed && fabs(st.tokens - 1.5) < 0.01, "fractional cost 2.5: 1.5 left (%g)", st.tokens);
    ok(st.ms_to_token >= 1990 && st.ms_to_token <= 2000, "1 token needed at 0.5/s: ~2000 ms (%llu)",
       (unsigned long long)st.ms_to_token);
    ok(st.ms_to_full >= 4990 && st.ms_to_full <= 5000, "full in ~5000 ms (%llu)",
       (unsigned long long)st.ms_to_full);
    wgm_cache_bucket_take(c, k, 4, 0.5, 2, &st);
    ok(!st.allowed && fabs(st.tokens - 1.5) < 0.01, "cost 2 refused, nothing taken (%g)", st.tokens);
    ok(st.ms_to_token >= 900 && st.ms_to_token <= 1000, "the same cost fits in ~1000 ms (%llu)",
       (unsigned long long)st.ms_to_token);
    is_int(wgm_cache_get(c, k, &v), -EINVAL, "get of a bucket is -EINVAL (a HASH in Redis)");
    free(v);
    v = NULL;
    is_int(wgm_cache_set(c, k, "plain", 60), 0, "set replaces a bucket");
    is_int(wgm_cache_bucket_take(c, k, 4, 0.5, 1, &st), -EINVAL, "bucket on a plain value is -EINVAL");
    wgm_cache_del(c, k);

    /* an idle bucket disappears once full again (Redis adds a second) */
    wgm_cache_bucket_take(c, k, 2, 10, 2, &st);
    ok(st.allowed && st.ms_to_full >= 190 && st.ms_to_full <= 200, "drained: full in ~200 ms");
    deadline = now_ms() + 4000;
    while (now_ms() < deadline && (rc = wgm_cache_get(c, k, &v)) != -ENOENT) {
        free(v);
        v = NULL;
        sleep_ms(100);
    }
    is_int(rc, -ENOENT, "the full bucket's key expired");
    wgm_cache_del(c, k);
}

/* A key's bucket and its owner's: both must have a token; a refusal by
 * either spends nothing of the other; the answer is the tightest bucket. */
static void t_two_buckets(struct wgm_cache *c, const char *url)
{
    struct wgm_ratelimit r;
    char k1[128], k2[128], u[128];
    struct wgm_ratelimit_bucket a[2], b[2];
    int n;

    S(k1, "key:one");
    S(k2, "key:two");
    S(u, "user:7");
    /* 6/min: a token every 10 s, none comes back during the test */
    a[0] = (struct wgm_ratelimit_bucket){k1, 6, 3};
    a[1] = (struct wgm_ratelimit_bucket){u, 6, 5};
    b[0] = (struct wgm_ratelimit_bucket){k2, 6, 10};
    b[1] = a[1];
    is_int(wgm_ratelimit_check_all(c, a, 2, &r), 0, "key one + user");
    ok(r.allowed && r.limit == 3 && r.remaining == 2, "tightest is the key's bucket: limit 3, remaining 2 (%u/%u)",
       r.limit, r.remaining);
    n = 1;
    while (n < 10 && wgm_ratelimit_check_all(c, a, 2, &r) == 0 && r.allowed)
        n++;
    is_int(n, 3, "key one passes its own 3");
    ok(!r.allowed && r.limit == 3, "then its own bucket refuses (limit %u)", r.limit);
    is_int(wgm_ratelimit_check(c, u, 6, 5, &r), 0, "look at the user's bucket");
    ok(r.allowed && r.remaining == 1, "the refusal spent none of the user's: 3 + this one taken, 1 left (%u)",
       r.remaining);
    is_int(wgm_ratelimit_check_all(c, b, 2, &r), 0, "key two + user");
    ok(r.allowed && r.limit == 5 && r.remaining == 0, "the user's last token; tightest now the user's (%u/%u)",
       r.limit, r.remaining);
    is_int(wgm_ratelimit_check_all(c, b, 2, &r), 0, "key two again");
    ok(!r.allowed && r.limit == 5 && r.per_minute == 6, "refused by the owner's bucket (limit %u)", r.limit);
    is_int(wgm_ratelimit_check(c, k2, 6, 10, &r), 0, "look at key two");
    ok(r.allowed && r.remaining == 8, "the owner's refusal spent none of key two's: 9 -> 8 (%u)", r.remaining);
    is_int(wgm_ratelimit_check_all(c, a, 0, &r), -EINVAL, "no buckets refused");
    is_int(wgm_ratelimit_check_all(c, a, WGM_RATELIMIT_MAX_BUCKETS + 1, &r), -EINVAL, "too many refused");
    b[1].per_minute = 0;
    is_int(wgm_ratelimit_check_all(c, b, 2, &r), -EINVAL, "a bucket with rate 0 refused");
    drop(c, k1);
    drop(c, k2);
    drop(c, u);
}

struct suite_test {
    const char *name;
    void (*fn)(struct wgm_cache *c, const char *url);
};

static const struct suite_test suite[] = {
    { "burst", t_burst },
    { "refill", t_refill },
    { "retry-after, reset, details, headers", t_retry_reset },
    { "independent subjects", t_independent },
    { "4 threads on one bucket", t_threads },
    { "two instances", t_two_instances },
    { "burst over the per-minute limit", t_burst_over_limit },
    { "limits change live", t_live_change },
    { "bucket API", t_bucket_api },
    { "two buckets per request", t_two_buckets },
};

/* ---- client addresses: strict parsing, mapped IPv4, /64 buckets ---------- */

static void t_addresses(void)
{
    static const char *const bad[] = {
        " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0/8\n", "10.0.0.0 /8", "10.0.0.0/ 8", "10.0.0.0/+8",
        "10.0.0.0/08", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/8x", "10.0.0.0/8/8", "10.0.0.0/-1",
        "010.0.0.1", "10.0.0", "10.0.0.0.1", "2001:db8::/129", "2001:db8::/0128", "fe80::1%eth0",
        "[::1]", "::1/", "", "/8", "2001:db8:::1", "10.0.0.256", "10.0.0.0/4294967304",
    };
    struct wgm_cidr cidr;
    struct wgm_addr a;
    char s1[96], s2[96];
    int fails = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (wgm_cidr_parse(bad[i], &cidr) == 0) {
            printf("# accepted: '%s'\n", bad[i]);
            fails++;
        }
    }
    is_int(fails, 0, "white space, signs, leading zeros, trailing bytes, zones, brackets: all refused");
    ok(wgm_addr_parse("10.0.0.1 ", &a) < 0 && wgm_addr_parse(" ::1", &a) < 0 && wgm_addr_parse("10.0.0.1/32", &a) < 0,
       "an address with anything around it is refused");
    ok(wgm_cidr_parse("10.0.0.0/8", &cidr) == 0 && cidr.bits == 8 && cidr.net.family == AF_INET, "10.0.0.0/8");
    ok(wgm_cidr_parse("0.0.0.0/0", &cidr) == 0 && cidr.bits == 0, "0.0.0.0/0");
    ok(wgm_cidr_parse("2001:db8::/32", &cidr) == 0 && cidr.bits == 32 && cidr.net.family == AF_INET6, "2001:db8::/32");
    ok(wgm_cidr_parse("192.0.2.7", &cidr) == 0 && cidr.bits == 32, "a bare address is a /32");
    ok(wgm_cidr_match_text("10.0.0.0/8", "10.200.3.4") && !wgm_cidr_match_text("10.0.0.0/8", "11.0.0.1"),
       "IPv4 match");
    ok(wgm_cidr_match_text("10.0.0.0/8", "::ffff:10.1.2.3"), "an IPv4-mapped peer matches an IPv4 rule");
    ok(!wgm_cidr_match_text("10.0.0.0/8", "::ffff:11.1.2.3"), "and a mapped peer outside it does not");
    ok(wgm_cidr_parse("::ffff:10.0.0.0/104", &cidr) == 0 && cidr.net.family == AF_INET && cidr.bits == 8,
       "::ffff:10.0.0.0/104 is 10.0.0.0/8");
    ok(wgm_cidr_match_text("::ffff:10.0.0.0/104", "10.9.9.9"), "a mapped rule matches a plain IPv4 peer");
    ok(wgm_cidr_match_text("2001:db8::/32", "2001:db8:ffff::1") && !wgm_cidr_match_text("2001:db8::/32", "2001:db9::1"),
       "IPv6 match");
    ok(!wgm_cidr_match_text("::/0", "127.0.0.1") && !wgm_cidr_match_text("0.0.0.0/0", "::1"),
       "families never cross (besides mapped IPv4)");
    ok(wgm_cidr_match_text("10.1.2.3/8", "10.9.9.9"), "host bits beyond the prefix are masked");
    ok(!wgm_cidr_match_text("10.0.0.0/8 ", "10.0.0.1"), "a rule that does not parse matches nothing");

    wgm_ratelimit_ip_subject("192.0.2.1", s1, sizeof(s1));
    is_str(s1, "ip:192.0.2.1", "IPv4 bucket per address");
    wgm_ratelimit_ip_subject("::ffff:192.0.2.1", s2, sizeof(s2));
    is_str(s2, "ip:192.0.2.1", "an IPv4-mapped peer shares the IPv4 bucket");
    wgm_ratelimit_ip_subject("2001:db8:1:2:aaaa:bbbb:cccc:dddd", s1, sizeof(s1));
    is_str(s1, "ip:2001:db8:1:2::/64", "IPv6 bucket per /64");
    wgm_ratelimit_ip_subject("2001:db8:1:2::1", s2, sizeof(s2));
    is_str(s2, s1, "another address of the same /64: the same bucket");
    wgm_ratelimit_ip_subject("2001:db8:1:3::1", s2, sizeof(s2));
    is_str(s2, "ip:2001:db8:1:3::/64", "the next /64: another bucket");
    wgm_ratelimit_ip_subject("-", s1, sizeof(s1));
    is_str(s1, "ip:-", "no address: used as given");
    is_int(wgm_ratelimit_ip_subject("2001:db8:1:2::1", s1, 8), -ENOSPC, "small buffer: -ENOSPC");
    is_int(wgm_ratelimit_ip_subject(NULL, s1, sizeof(s1)), -EINVAL, "NULL: -EINVAL");
}

static void run_suite(const char *label, const char *url, const char *skip_why)
{
    struct wgm_cache *c = NULL;
    struct wgm_cache_stats st;
    struct wgm_ratelimit r;
    char err[256] = "", why[256];

    if (skip_why) {
        for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
            snprintf(why, sizeof(why), "%s: %s: %s", label, suite[i].name, skip_why);
            skip(why);
        }
        return;
    }
    ok(wgm_cache_open(url, print_log, &c, err, sizeof(err)) == 0, "%s: open", label);
    if (!c) {
        printf("# %s: open failed: %s\n", label, err);
        return;
    }
    is_int(wgm_ratelimit_check(c, "", 60, 0, &r), -EINVAL, "empty subject refused");
    is_int(wgm_ratelimit_check(c, "x", 0, 0, &r), -EINVAL, "per_minute 0 refused");
    is_int(wgm_ratelimit_check(NULL, "x", 60, 0, &r), -EINVAL, "NULL cache refused");
    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        printf("# %s: %s\n", label, suite[i].name);
        suite[i].fn(c, url);
    }
    wgm_cache_stats(c, &st);
    ok(!st.degraded, "%s: never degraded", label);
    wgm_cache_close(c);
}

/* ---- a private redis-server, killed mid-run ------------------------------ */

static volatile pid_t priv_pid;

static bool have_program(const char *name)
{
    const char *path = getenv("PATH");
    char buf[512];

    while (path && *path) {
        size_t n = strcspn(path, ":");

        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

static bool port_open(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool up;

    if (fd < 0)
        return false;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return up;
}

/* In the foreground, as our child: a kill and a waitpid stop it for sure. */
static bool priv_start(void)
{
    char port[16];
    int64_t deadline;
    pid_t pid;

    snprintf(port, sizeof(port), "%d", PRIV_PORT);
    pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);

        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", "/tmp", (char *)NULL);
        _exit(127);
    }
    priv_pid = pid;
    deadline = now_ms() + 5000;
    while (!port_open(PRIV_PORT)) {
        if (now_ms() > deadline || waitpid(pid, NULL, WNOHANG) != 0)
            return false;
        sleep_ms(20);
    }
    return true;
}

/* SCRIPT FLUSH, as a Redis restart would drop the cached script. */
static bool priv_script_flush(void)
{
    static const char cmd[] = "*2\r\n$6\r\nSCRIPT\r\n$5\r\nFLUSH\r\n";
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PRIV_PORT) };
    struct timeval tv = { 2, 0 };
    char buf[16] = "";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool done;

    if (fd < 0)
        return false;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    done = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
           write(fd, cmd, sizeof(cmd) - 1) == (ssize_t)(sizeof(cmd) - 1) &&
           read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "+OK", 3) == 0;
    close(fd);
    return done;
}

static void priv_kill(void)
{
    pid_t pid = priv_pid;

    if (pid <= 0)
        return;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    priv_pid = 0;
}

static void on_fatal_signal(int sig)
{
    static const char msg[] = "Bail out! killed by a signal or the watchdog\n";
    pid_t pid = priv_pid;

    if (pid > 0)
        kill(pid, SIGKILL);
    if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0)
        _exit(2);
    _exit(1);
}

static void t_degraded(void)
{
    struct wgm_cache *c = NULL;
    struct wgm_cache_stats st;
    struct wgm_ratelimit r;
    char err[256], url[64], s[128];

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", PRIV_PORT);
    S(s, "degraded");
    ok(priv_start(), "private redis-server started on 127.0.0.1:%d", PRIV_PORT);
    is_int(wgm_cache_open(url, print_log, &c, err, sizeof(err)), 0, "open");
    if (!c || !priv_pid)
        goto out;
    is_int(wgm_ratelimit_check(c, s, 6, 3, &r), 0, "a check loads the script");
    ok(priv_script_flush(), "SCRIPT FLUSH");
    is_int(wgm_ratelimit_check(c, s, 6, 3, &r), 0, "EVALSHA meets NOSCRIPT, EVAL answers");
    ok(r.allowed && r.remaining == 1, "same bucket (remaining %u)", r.remaining);
    is_int(drain(c, s, 6, 3, 10, &r), 1, "burst 3 in Redis");
    wgm_cache_stats(c, &st);
    ok(!st.degraded, "not degraded so far");
    priv_kill();
    is_int(wgm_ratelimit_check(c, s, 6, 3, &r), 0, "a check with Redis dead succeeds");
    wgm_cache_stats(c, &st);
    ok(st.degraded, "served in-process (degraded)");
    ok(r.allowed && r.remaining == 2, "from a fresh in-process bucket (remaining %u)", r.remaining);
    is_int(drain(c, s, 6, 3, 10, &r), 2, "which holds the limit too");
out:
    wgm_cache_close(c);
    priv_kill();
}

int main(void)
{
    const char *redis_url = getenv("WGM_TEST_REDIS_URL");
    struct sigaction sa = { .sa_handler = on_fatal_signal };

    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(subj_prefix, sizeof(subj_prefix), "test_rl:%ld:%ld:", (long)getpid(), (long)time(NULL));
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm(WATCHDOG_S);

    t_addresses();
    run_suite("memory", NULL, NULL);
    if (redis_url && *redis_url)
        run_suite("redis", redis_url, NULL);
    else
        run_suite("redis", NULL, "WGM_TEST_REDIS_URL not set");

    printf("# Redis dies: limits go on in-process\n");
    if (!have_program("redis-server"))
        skip("degraded: redis-server is not installed");
    else if (port_open(PRIV_PORT))
        skip("degraded: port 36392 is already in use");
    else
        t_degraded();
    return done_testing();
}
