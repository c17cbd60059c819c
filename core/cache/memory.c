/*
 * core/cache: the in-process store.  A chained hash table under one mutex.
 * Expired entries are dropped when touched, and every write also sweeps a
 * few buckets so keys nobody reads again do not pile up (bounded work per
 * call, like Redis's active expiry).  Token buckets are entries too; they
 * expire once full again, when they equal a missing one.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cache/backend.h"

#define MEM_MIN_BUCKETS 64u
#define MEM_SWEEP_BUCKETS 4u     /* buckets examined per write */
#define MEM_SWEEP_ENTRIES 32u    /* and at most this many entries */

struct mem_entry {
    struct mem_entry *next;
    uint64_t hash;
    int64_t expires_ms;          /* monotonic; 0: never */
    char *value;                 /* NULL for a token bucket */
    size_t cap;                  /* bytes allocated for value */
    /* A token bucket is its own kind of entry, as a HASH is in Redis: get
     * and incr refuse it, set replaces it. */
    bool bucket;
    double tokens;
    int64_t ts_us;               /* monotonic time of the last take */
    char key[];
};

struct mem_store {
    struct wgm_cache_backend base;
    pthread_mutex_t lock;
    struct mem_entry **buckets;
    size_t nbuckets;             /* a power of two */
    size_t count;
    size_t bytes;                /* keys, values and entry headers held */
    size_t sweep_cursor;
    uint64_t k0, k1;             /* SipHash key: random, so keys from
                                  * requests cannot be chosen to collide */
};

static int64_t mem_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mem_now_ms(void)
{
    return mem_now_us() / 1000;
}

/* SipHash-1-3 (as in Redis's dict.c): fast and keyed. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
    } while (0)

static uint64_t mem_hash(const struct mem_store *m, const char *key, size_t len)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ m->k0, v1 = 0x646f72616e646f6dULL ^ m->k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ m->k0, v3 = 0x7465646279746573ULL ^ m->k1;
    uint64_t b = (uint64_t)len << 56, w;
    const unsigned char *p = (const unsigned char *)key;
    size_t i, left = len & 7;

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, p + i, 8);
        v3 ^= w;
        SIPROUND;
        v0 ^= w;
    }
    for (size_t j = 0; j < left; j++)
        b |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static bool mem_expired(const struct mem_entry *e, int64_t now)
{
    return e->expires_ms != 0 && e->expires_ms <= now;
}

static void mem_entry_free(struct mem_entry *e)
{
    if (!e)
        return;
    free(e->value);
    free(e);
}

static size_t mem_entry_bytes(const struct mem_entry *e)
{
    return sizeof(*e) + strlen(e->key) + 1 + e->cap;
}

/* Unlink-side bookkeeping shared by removal, expiry and clearing. */
static void mem_forget(struct mem_store *m, struct mem_entry *e)
{
    m->count--;
    m->bytes -= mem_entry_bytes(e);
    mem_entry_free(e);
}

/* Find @key; an expired entry is removed on the way and reported absent.
 * @prevp receives the link that points at the entry (for removal). */
static struct mem_entry *mem_find(struct mem_store *m, const char *key, uint64_t h,
                                  int64_t now, struct mem_entry ***prevp)
{
    struct mem_entry **pp = &m->buckets[h & (m->nbuckets - 1)];

    while (*pp) {
        struct mem_entry *e = *pp;

        if (e->hash == h && strcmp(e->key, key) == 0) {
            if (mem_expired(e, now)) {
                *pp = e->next;
                mem_forget(m, e);
                return NULL;
            }
            if (prevp)
                *prevp = pp;
            return e;
        }
        pp = &e->next;
    }
    return NULL;
}

/* Bounded active expiry: a few buckets per call, resuming where the last
 * call stopped. */
static void mem_sweep(struct mem_store *m, int64_t now)
{
    unsigned seen = 0;

    for (unsigned n = 0; n < MEM_SWEEP_BUCKETS && seen < MEM_SWEEP_ENTRIES; n++) {
        struct mem_entry **pp = &m->buckets[m->sweep_cursor];

        m->sweep_cursor = (m->sweep_cursor + 1) & (m->nbuckets - 1);
        while (*pp && seen < MEM_SWEEP_ENTRIES) {
            struct mem_entry *e = *pp;

            seen++;
            if (mem_expired(e, now)) {
                *pp = e->next;
                mem_forget(m, e);
            } else {
                pp = &e->next;
            }
        }
    }
}

/* Double the table when it is fuller than one entry per bucket.  A failed
 * allocation just leaves longer chains. */
static void mem_grow(struct mem_store *m)
{
    size_t n = m->nbuckets * 2;
    struct mem_entry **nb;

    if (m->count <= m->nbuckets || n > SIZE_MAX / sizeof(*nb))
        return;
    nb = calloc(n, sizeof(*nb));
    if (!nb)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct mem_entry *e = m->buckets[i], *next;

        for (; e; e = next) {
            next = e->next;
            e->next = nb[e->hash & (n - 1)];
            nb[e->hash & (n - 1)] = e;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->nbuckets = n;
    m->sweep_cursor = 0;
}

static int64_t mem_deadline(unsigned ttl_s, int64_t now)
{
    return ttl_s ? now + (int64_t)ttl_s * 1000 : 0;
}

/* Store a copy of @value (@len bytes) in @e, reusing its buffer when it fits. */
static int mem_put_value(struct mem_store *m, struct mem_entry *e, const char *value, size_t len)
{
    if (!e->value || e->cap < len + 1) {
        char *v = malloc(len + 1);

        if (!v)
            return -ENOMEM;
        free(e->value);
        e->value = v;
        m->bytes += len + 1 - e->cap;
        e->cap = len + 1;
    }
    memcpy(e->value, value, len);
    e->value[len] = '\0';
    return 0;
}

static struct mem_entry *mem_insert(struct mem_store *m, const char *key, uint64_t h)
{
    size_t klen = strlen(key);
    struct mem_entry *e = calloc(1, sizeof(*e) + klen + 1);

    if (!e)
        return NULL;
    memcpy(e->key, key, klen + 1);
    e->hash = h;
    e->next = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    m->count++;
    m->bytes += mem_entry_bytes(e);
    return e;
}

static void mem_remove(struct mem_store *m, struct mem_entry **pp)
{
    struct mem_entry *e = *pp;

    *pp = e->next;
    mem_forget(m, e);
}

static int mem_get(struct wgm_cache_backend *b, const char *key, char **value)
{
    struct mem_store *m = (struct mem_store *)b;
    uint64_t h = mem_hash(m, key, strlen(key));
    struct mem_entry *e;
    int rc = -ENOENT;

    pthread_mutex_lock(&m->lock);
    e = mem_find(m, key, h, mem_now_ms(), NULL);
    if (e && e->bucket) {
        rc = -EINVAL;
    } else if (e) {
        *value = strdup(e->value);
        rc = *value ? 0 : -ENOMEM;
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_set(struct wgm_cache_backend *b, const char *key, const char *value, unsigned ttl_s)
{
    struct mem_store *m = (struct mem_store *)b;
    uint64_t h = mem_hash(m, key, strlen(key));
    int64_t now = mem_now_ms();
    struct mem_entry *e, **pp = NULL;
    int rc;

    pthread_mutex_lock(&m->lock);
    mem_sweep(m, now);
    e = mem_find(m, key, h, now, &pp);
    if (!e) {
        e = mem_insert(m, key, h);
        pp = &m->buckets[h & (m->nbuckets - 1)];
    }
    if (!e) {
        rc = -ENOMEM;
        goto out;
    }
    rc = mem_put_value(m, e, value, strlen(value));
    if (rc < 0) {
        /* never leave a fresh entry without a value behind */
        if (!e->value && !e->bucket)
            mem_remove(m, pp);
        goto out;
    }
    e->bucket = false;
    e->expires_ms = mem_deadline(ttl_s, now);
    mem_grow(m);
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_del(struct wgm_cache_backend *b, const char *key)
{
    struct mem_store *m = (struct mem_store *)b;
    uint64_t h = mem_hash(m, key, strlen(key));
    struct mem_entry **pp = NULL;

    pthread_mutex_lock(&m->lock);
    if (mem_find(m, key, h, mem_now_ms(), &pp))
        mem_remove(m, pp);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* Strict decimal int64, as Redis's INCRBY accepts it. */
static int mem_parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!*s || *s == ' ' || *s == '+' || (*s >= '\t' && *s <= '\r'))
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

static int mem_incr(struct wgm_cache_backend *b, const char *key, int64_t delta, unsigned ttl_s,
                    int64_t *out)
{
    struct mem_store *m = (struct mem_store *)b;
    uint64_t h = mem_hash(m, key, strlen(key));
    int64_t now = mem_now_ms(), cur = 0, next;
    struct mem_entry *e, **pp = NULL;
    bool fresh = false;
    char buf[24];
    int rc, n;

    pthread_mutex_lock(&m->lock);
    mem_sweep(m, now);
    e = mem_find(m, key, h, now, &pp);
    if (e && e->bucket) {
        rc = -EINVAL;
        goto out;
    }
    if (e) {
        rc = mem_parse_i64(e->value, &cur);
        if (rc < 0)
            goto out;
    }
    if (__builtin_add_overflow(cur, delta, &next)) {
        rc = -ERANGE;
        goto out;
    }
    if (!e) {
        e = mem_insert(m, key, h);
        if (!e) {
            rc = -ENOMEM;
            goto out;
        }
        pp = &m->buckets[h & (m->nbuckets - 1)];
        fresh = true;
    }
    n = snprintf(buf, sizeof(buf), "%" PRId64, next);
    rc = mem_put_value(m, e, buf, (size_t)n);
    if (rc < 0) {
        if (fresh)
            mem_remove(m, pp);
        goto out;
    }
    if (fresh) {
        e->expires_ms = mem_deadline(ttl_s, now);
        mem_grow(m);
    }
    *out = next;
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_bucket_take(struct wgm_cache_backend *b, const char *key, double capacity,
                           double refill_per_s, double cost, bool *allowed, double *tokens)
{
    struct mem_store *m = (struct mem_store *)b;
    uint64_t h = mem_hash(m, key, strlen(key));
    int64_t now_us = mem_now_us(), now = now_us / 1000;
    struct mem_entry *e;
    double t;
    int rc = 0;

    pthread_mutex_lock(&m->lock);
    mem_sweep(m, now);
    e = mem_find(m, key, h, now, NULL);
    if (e && !e->bucket) {
        rc = -EINVAL;
        goto out;
    }
    if (!e) {
        e = mem_insert(m, key, h);
        if (!e) {
            rc = -ENOMEM;
            goto out;
        }
        e->bucket = true;
        e->tokens = capacity;
        e->ts_us = now_us;
        mem_grow(m);
    }
    t = e->tokens;
    *allowed = wgm_bucket_step(&t, now_us - e->ts_us, capacity, refill_per_s, cost);
    e->tokens = t;
    e->ts_us = now_us;
    /* once full it equals a missing bucket, so let it go then (+1: never 0,
     * which would mean "no expiry") */
    e->expires_ms = now + (int64_t)ceil((capacity - t) / refill_per_s * 1000.0) + 1;
    *tokens = t;
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static int mem_ping(struct wgm_cache_backend *b)
{
    return 0;
}

static int mem_keys(struct wgm_cache_backend *b, uint64_t *out)
{
    struct mem_store *m = (struct mem_store *)b;

    pthread_mutex_lock(&m->lock);
    *out = m->count;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int mem_memory(struct wgm_cache_backend *b, int64_t *out)
{
    struct mem_store *m = (struct mem_store *)b;

    pthread_mutex_lock(&m->lock);
    *out = (int64_t)(m->bytes + m->nbuckets * sizeof(*m->buckets));
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void mem_drop_all(struct mem_store *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct mem_entry *e = m->buckets[i], *next;

        for (; e; e = next) {
            next = e->next;
            mem_entry_free(e);
        }
        m->buckets[i] = NULL;
    }
    m->count = 0;
    m->bytes = 0;
}

static int mem_clear(struct wgm_cache_backend *b)
{
    struct mem_store *m = (struct mem_store *)b;

    pthread_mutex_lock(&m->lock);
    mem_drop_all(m);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static struct wgm_cache_backend *mem_free(struct wgm_cache_backend *b)
{
    struct mem_store *m = (struct mem_store *)b;

    if (!m)
        return NULL;
    if (m->buckets)
        mem_drop_all(m);
    free(m->buckets);
    pthread_mutex_destroy(&m->lock);
    free(m);
    return NULL;
}

static const struct wgm_cache_backend_ops mem_ops = {
    .name = "memory",
    .get = mem_get,
    .set = mem_set,
    .del = mem_del,
    .incr = mem_incr,
    .bucket_take = mem_bucket_take,
    .ping = mem_ping,
    .keys = mem_keys,
    .memory = mem_memory,
    .clear = mem_clear,
    .free = mem_free,
};

int wgm_cache_memory_new(struct wgm_cache_backend **out)
{
    struct mem_store *m = calloc(1, sizeof(*m));
    uint64_t seed[2];

    if (!m)
        return -ENOMEM;
    m->base.ops = &mem_ops;
    pthread_mutex_init(&m->lock, NULL);
    m->nbuckets = MEM_MIN_BUCKETS;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        mem_free(&m->base);
        return -ENOMEM;
    }
    /* A weak seed (no entropy yet at early boot) only weakens flood resistance. */
    if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        seed[0] = (uint64_t)mem_now_ms() ^ (uint64_t)(uintptr_t)m;
        seed[1] = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL;
    }
    m->k0 = seed[0];
    m->k1 = seed[1];
    *out = &m->base;
    return 0;
}
