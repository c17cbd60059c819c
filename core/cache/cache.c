/*
 * core/cache: the front.  Picks the store from the URL and, for Redis,
 * keeps an in-process store behind it: when Redis stops answering, calls go
 * to the in-process store (one warning), Redis is tried again at most every
 * CACHE_RETRY_MS by whichever call comes first, and it is used again as soon
 * as it answers (one notice).  The fallback is emptied at both transitions
 * so it never serves what it kept from an earlier outage.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wgm/host.h>           /* enum wgm_log_level */

#include "cache/backend.h"
#include "cache/cache.h"

#define CACHE_RETRY_MS 3000

struct wgm_cache {
    struct wgm_cache_backend *primary;   /* what the URL configured */
    struct wgm_cache_backend *fallback;  /* in-process; only behind Redis */
    wgm_cache_log_fn log;
    pthread_mutex_t lock;                /* transitions, next_retry_ms, probing */
    atomic_bool degraded;
    int64_t next_retry_ms;
    bool probing;
    atomic_uint_fast64_t hits, misses;
};

enum cache_op_kind { OP_GET, OP_SET, OP_DEL, OP_INCR, OP_KEYS, OP_MEMORY, OP_BUCKET };

/* One call, so the routing and fallback logic exists once. */
struct cache_op {
    enum cache_op_kind kind;
    const char *key;
    const char *value;
    unsigned ttl_s;
    int64_t delta;
    char **out_value;
    int64_t *out_int;
    uint64_t *out_keys;
    int64_t *out_memory;
    double capacity, refill_per_s, cost;
    bool *out_allowed;
    double *out_tokens;
};

static int64_t cache_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cache_run(struct wgm_cache_backend *b, const struct cache_op *op)
{
    switch (op->kind) {
    case OP_GET:
        return b->ops->get(b, op->key, op->out_value);
    case OP_SET:
        return b->ops->set(b, op->key, op->value, op->ttl_s);
    case OP_DEL:
        return b->ops->del(b, op->key);
    case OP_INCR:
        return b->ops->incr(b, op->key, op->delta, op->ttl_s, op->out_int);
    case OP_KEYS:
        return b->ops->keys(b, op->out_keys);
    case OP_MEMORY:
        return b->ops->memory ? b->ops->memory(b, op->out_memory) : -EOPNOTSUPP;
    case OP_BUCKET:
        return b->ops->bucket_take(b, op->key, op->capacity, op->refill_per_s, op->cost,
                                   op->out_allowed, op->out_tokens);
    }
    return -EINVAL;
}

static void cache_log(struct wgm_cache *c, int level, const char *msg)
{
    if (c->log)
        c->log(level, msg);
}

static void cache_degrade(struct wgm_cache *c)
{
    bool changed = false;
    char why[160], msg[512];

    pthread_mutex_lock(&c->lock);
    if (!atomic_load(&c->degraded)) {
        c->fallback->ops->clear(c->fallback);
        c->next_retry_ms = cache_now_ms() + CACHE_RETRY_MS;
        atomic_store(&c->degraded, true);
        changed = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (!changed)
        return;
    c->primary->ops->last_error(c->primary, why, sizeof(why));
    snprintf(msg, sizeof(msg),
             "cache: redis %s is not answering (%s); using the in-process cache, "
             "retrying every %d s", c->primary->ops->target(c->primary), why,
             CACHE_RETRY_MS / 1000);
    cache_log(c, WGM_LOG_WARN, msg);
}

static void cache_recover(struct wgm_cache *c)
{
    bool changed = false;
    char msg[512];

    pthread_mutex_lock(&c->lock);
    if (atomic_load(&c->degraded)) {
        atomic_store(&c->degraded, false);
        c->fallback->ops->clear(c->fallback);
        changed = true;
    }
    pthread_mutex_unlock(&c->lock);
    if (!changed)
        return;
    snprintf(msg, sizeof(msg), "cache: redis %s answers again; using it",
             c->primary->ops->target(c->primary));
    cache_log(c, WGM_LOG_INFO, msg);
}

/* While degraded, the first caller after the retry time pings Redis (the
 * others carry on with the fallback meanwhile).  True when Redis is back. */
static bool cache_probe(struct wgm_cache *c)
{
    int64_t now = cache_now_ms();
    bool due;
    int rc;

    pthread_mutex_lock(&c->lock);
    due = atomic_load(&c->degraded) && !c->probing && now >= c->next_retry_ms;
    if (due) {
        c->probing = true;
        c->next_retry_ms = now + CACHE_RETRY_MS;
    }
    pthread_mutex_unlock(&c->lock);
    if (!due)
        return false;
    rc = c->primary->ops->ping(c->primary);
    pthread_mutex_lock(&c->lock);
    c->probing = false;
    pthread_mutex_unlock(&c->lock);
    if (rc < 0)
        return false;
    cache_recover(c);
    return true;
}

static int cache_dispatch(struct wgm_cache *c, const struct cache_op *op)
{
    int rc;

    if (!c->fallback)
        return cache_run(c->primary, op);
    if (atomic_load(&c->degraded) && !cache_probe(c))
        return cache_run(c->fallback, op);
    rc = cache_run(c->primary, op);
    if (!wgm_cache_unavailable(rc))
        return rc;
    cache_degrade(c);
    return cache_run(c->fallback, op);
}

int wgm_cache_open(const char *url, wgm_cache_log_fn log, struct wgm_cache **out,
                   char *err, size_t errlen)
{
    struct wgm_cache *c;
    char why[256] = "";
    int rc;

    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return -EINVAL;
    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    atomic_init(&c->degraded, false);
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    c->log = log;
    if (!url || !*url || strcmp(url, "memory://") == 0) {
        rc = wgm_cache_memory_new(&c->primary);
        goto out;
    }
    rc = wgm_cache_redis_new(url, &c->primary, why, sizeof(why));
    if (rc < 0)
        goto out;
    rc = wgm_cache_memory_new(&c->fallback);
    if (rc < 0)
        goto out;
    /* A refused password or db is the operator's to fix now; a Redis that
     * is merely down (yet) is what the fallback is for. */
    rc = c->primary->ops->ping(c->primary);
    if (rc == -EACCES || rc == -ENXIO) {
        char reason[160];

        c->primary->ops->last_error(c->primary, reason, sizeof(reason));
        snprintf(why, sizeof(why), "redis %s: %s", c->primary->ops->target(c->primary), reason);
        goto out;
    }
    if (rc < 0)
        cache_degrade(c);
    rc = 0;
out:
    if (rc < 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s", why[0] ? why : strerror(-rc));
        wgm_cache_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

struct wgm_cache *wgm_cache_close(struct wgm_cache *c)
{
    if (!c)
        return NULL;
    if (c->primary)
        c->primary->ops->free(c->primary);
    if (c->fallback)
        c->fallback->ops->free(c->fallback);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return NULL;
}

const char *wgm_cache_backend(const struct wgm_cache *c)
{
    return c ? c->primary->ops->name : NULL;
}

int wgm_cache_ping(struct wgm_cache *c)
{
    int rc;

    if (!c)
        return -EINVAL;
    rc = c->primary->ops->ping(c->primary);
    if (c->fallback) {
        if (rc == 0)
            cache_recover(c);
        else if (wgm_cache_unavailable(rc))
            cache_degrade(c);
    }
    return rc;
}

void wgm_cache_stats(struct wgm_cache *c, struct wgm_cache_stats *out)
{
    struct cache_op op = { .kind = OP_KEYS };
    uint64_t keys = 0;

    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    op.out_keys = &keys;
    if (cache_dispatch(c, &op) == 0)
        out->keys = keys;
    out->hits = atomic_load(&c->hits);
    out->misses = atomic_load(&c->misses);
    out->degraded = atomic_load(&c->degraded);
    out->memory_bytes = -1;
    op = (struct cache_op){ .kind = OP_MEMORY, .out_memory = &out->memory_bytes };
    if (cache_dispatch(c, &op) < 0)
        out->memory_bytes = -1;
}

int wgm_cache_get(struct wgm_cache *c, const char *key, char **value)
{
    struct cache_op op = { .kind = OP_GET, .key = key, .out_value = value };
    int rc;

    if (value)
        *value = NULL;
    if (!c || !key || !value)
        return -EINVAL;
    rc = cache_dispatch(c, &op);
    if (rc == 0)
        atomic_fetch_add(&c->hits, 1);
    else if (rc == -ENOENT)
        atomic_fetch_add(&c->misses, 1);
    return rc;
}

int wgm_cache_set(struct wgm_cache *c, const char *key, const char *value, unsigned ttl_s)
{
    struct cache_op op = { .kind = OP_SET, .key = key, .value = value, .ttl_s = ttl_s };

    if (!c || !key || !value)
        return -EINVAL;
    return cache_dispatch(c, &op);
}

int wgm_cache_del(struct wgm_cache *c, const char *key)
{
    struct cache_op op = { .kind = OP_DEL, .key = key };

    if (!c || !key)
        return -EINVAL;
    return cache_dispatch(c, &op);
}

int wgm_cache_incr(struct wgm_cache *c, const char *key, int64_t delta, unsigned ttl_s, int64_t *out)
{
    struct cache_op op = { .kind = OP_INCR, .key = key, .delta = delta, .ttl_s = ttl_s,
                           .out_int = out };

    if (!c || !key || !out)
        return -EINVAL;
    return cache_dispatch(c, &op);
}

/* Bounds keep every derived time finite and far below what PEXPIRE and a
 * uint64_t of milliseconds hold. */
#define BUCKET_MAX 1e12
#define BUCKET_MAX_FILL_S 1e9

/* Milliseconds until @tokens grows to @want at @rate a second, rounded up. */
static uint64_t bucket_ms_until(double tokens, double want, double rate)
{
    if (tokens + WGM_BUCKET_EPSILON >= want)
        return 0;
    return (uint64_t)ceil((want - tokens) / rate * 1000.0);
}

int wgm_cache_bucket_take(struct wgm_cache *c, const char *key, double capacity, double refill_per_s,
                          double cost, struct wgm_bucket_state *out)
{
    struct cache_op op = { .kind = OP_BUCKET, .key = key, .capacity = capacity,
                           .refill_per_s = refill_per_s, .cost = cost };
    bool allowed = false;
    double tokens = 0, want;
    int rc;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!c || !key || !out)
        return -EINVAL;
    /* written so that NaN fails every test */
    if (!(capacity > 0 && capacity <= BUCKET_MAX) || !(refill_per_s > 0 && refill_per_s <= BUCKET_MAX) ||
        !(cost >= 0 && cost <= capacity) || !(capacity / refill_per_s <= BUCKET_MAX_FILL_S))
        return -EINVAL;
    op.out_allowed = &allowed;
    op.out_tokens = &tokens;
    rc = cache_dispatch(c, &op);
    if (rc < 0)
        return rc;
    /* a look (cost 0) asks about the next whole token */
    want = cost > 1 ? cost : 1;
    if (want > capacity)
        want = capacity;
    out->allowed = allowed;
    out->tokens = tokens;
    out->ms_to_token = bucket_ms_until(tokens, want, refill_per_s);
    out->ms_to_full = bucket_ms_until(tokens, capacity, refill_per_s);
    return 0;
}
