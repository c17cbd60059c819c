/*
 * core/cache: the Redis store, over hiredis' synchronous API.
 *
 * A small pool of connections, each under its own mutex, so request threads
 * rarely wait for one another; connect and command timeouts keep a dead or
 * unreachable Redis from holding a request for long.  Every command goes out
 * in argv form: keys and values are never spliced into command text.  Keys
 * get a "wgm:" prefix so wgm can share a Redis with other programs.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "cache/backend.h"

#define RDS_POOL 4
#define RDS_TIMEOUT_MS 500
/* After a failed connect, other callers fail at once for this long instead
 * of each waiting out its own connect timeout. */
#define RDS_FAIL_FAST_MS 1000
#define RDS_PREFIX "wgm:"
#define RDS_DEFAULT_PORT 6379
#define RDS_MAX_DB 1000000

/* INCRBY plus an expiry only when the key was created: one atomic step. */
static const char rds_incr_script[] =
    "local e=redis.call('EXISTS',KEYS[1]) "
    "local v=redis.call('INCRBY',KEYS[1],ARGV[1]) "
    "if e==0 and tonumber(ARGV[2])>0 then redis.call('EXPIRE',KEYS[1],ARGV[2]) end "
    "return v";

/*
 * Token bucket (wgm_bucket_step in backend.h, in Lua): HASH {tokens, ts}.
 * The clock is Redis's TIME, so every wgmd node sharing this Redis sees one
 * clock; the key lives until the bucket would be full again (then it equals
 * a missing one) plus a second.  Numbers go out with %.17g: redis.call would
 * turn a Lua number into text with only 14 digits.  replicate_commands lets
 * Redis < 5 write after TIME; later versions do that anyway.
 */
static const char rds_bucket_script[] =
    "if redis.replicate_commands then redis.replicate_commands() end "
    "local cap=tonumber(ARGV[1]) local rate=tonumber(ARGV[2]) local cost=tonumber(ARGV[3]) "
    "local tm=redis.call('TIME') "
    "local now=tonumber(tm[1])*1000000+tonumber(tm[2]) "
    "local h=redis.call('HMGET',KEYS[1],'tokens','ts') "
    "local t=tonumber(h[1]) local ts=tonumber(h[2]) "
    "if t==nil or ts==nil then t=cap ts=now end "
    "if now>ts then t=t+(now-ts)*rate/1e6 end "
    "if t>cap then t=cap end "
    "local ok=0 "
    "if t+1e-9>=cost then t=t-cost ok=1 if t<0 then t=0 end end "
    "local tt=string.format('%.17g',t) "
    "redis.call('HSET',KEYS[1],'tokens',tt,'ts',string.format('%.0f',now)) "
    "redis.call('PEXPIRE',KEYS[1],string.format('%.0f',math.ceil((cap-t)/rate*1000)+1000)) "
    "return {ok,tt}";

struct rds_slot {
    pthread_mutex_t lock;
    redisContext *ctx;           /* NULL until connected or after a failure */
};

struct rds_store {
    struct wgm_cache_backend base;
    char *host;                  /* TCP, or */
    char *path;                  /* unix socket */
    int port;
    int db;
    char *user, *pass;           /* NULL when not given */
    char target[300];            /* for log lines: no credentials */
    struct rds_slot slots[RDS_POOL];
    atomic_uint next_slot;
    atomic_int_fast64_t fail_until_ms;
    pthread_mutex_t err_lock;
    char last_err[160];
    pthread_mutex_t sha_lock;
    char bucket_sha[41];         /* SHA1 of rds_bucket_script; "" until loaded */
};

static int64_t rds_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rds_set_err(struct rds_store *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rds_set_err(struct rds_store *r, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&r->err_lock);
    va_start(ap, fmt);
    vsnprintf(r->last_err, sizeof(r->last_err), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&r->err_lock);
}

/* hiredis writes with write(2): a peer that went away would raise SIGPIPE
 * and kill the daemon unless it ignores the signal.  Block it around our
 * socket use and swallow one we caused, so the library is safe either way. */
struct rds_pipe_guard {
    sigset_t old;
    bool was_pending;
};

static void rds_pipe_block(struct rds_pipe_guard *g)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    sigemptyset(&pending);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void rds_pipe_unblock(struct rds_pipe_guard *g)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pending);
    if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
        const struct timespec zero = { 0, 0 };

        sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Map a Redis error reply: server states that mean "cannot serve now" make
 * the front fall back; the rest are answers to this one command. */
static int rds_map_error(struct rds_store *r, const char *msg)
{
    static const char *const unavailable[] = {
        "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY",
        "MISCONF", "NOREPLICAS",
    };
    static const char *const refused[] = { "NOAUTH", "WRONGPASS", "NOPERM" };

    /* EVALSHA of a script the server does not hold (restart, SCRIPT FLUSH):
     * the caller sends the script itself */
    if (strncmp(msg, "NOSCRIPT", 8) == 0)
        return -ENOEXEC;

    for (size_t i = 0; i < sizeof(unavailable) / sizeof(unavailable[0]); i++)
        if (strncmp(msg, unavailable[i], strlen(unavailable[i])) == 0) {
            rds_set_err(r, "%.120s", msg);
            return -EIO;
        }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (strncmp(msg, refused[i], strlen(refused[i])) == 0) {
            rds_set_err(r, "%.120s", msg);
            return -EACCES;
        }
    if (strncmp(msg, "OOM", 3) == 0)
        return -ENOMEM;
    if (strstr(msg, "overflow"))
        return -ERANGE;
    if (strstr(msg, "not an integer") || strncmp(msg, "WRONGTYPE", 9) == 0)
        return -EINVAL;
    return -EPROTO;
}

/* A pooled connection is idle between commands, so anything readable on
 * it means the server closed it (restart, idle timeout) or sent junk. */
static bool rds_alive(const redisContext *ctx)
{
    struct pollfd p = { .fd = ctx->fd, .events = POLLIN };

    return !ctx->err && poll(&p, 1, 0) == 0;
}

/* Run a command on a fresh connection during its setup (AUTH, SELECT). */
static int rds_setup_command(struct rds_store *r, redisContext *ctx, int argc, const char **argv,
                             int refused_rc, const char *what)
{
    size_t lens[3];
    redisReply *reply;
    int rc = 0;

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    reply = redisCommandArgv(ctx, argc, argv, lens);
    if (!reply) {
        rds_set_err(r, "%s", ctx->errstr[0] ? ctx->errstr : "connection lost");
        return -EIO;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        /* server states (LOADING ...) stay "unavailable"; others are ours */
        rc = rds_map_error(r, reply->str);
        if (rc != -EIO) {
            rds_set_err(r, "%s", what);   /* no reply text: it might echo input */
            rc = refused_rc;
        }
    }
    freeReplyObject(reply);
    return rc;
}

static int rds_connect(struct rds_store *r, struct rds_slot *s)
{
    const struct timeval tv = { .tv_sec = RDS_TIMEOUT_MS / 1000,
                                .tv_usec = (RDS_TIMEOUT_MS % 1000) * 1000 };
    redisContext *ctx;
    char dbbuf[16];
    int rc = 0;

    if (rds_now_ms() < atomic_load(&r->fail_until_ms))
        return -EIO;    /* last_err still says why */
    ctx = r->path ? redisConnectUnixWithTimeout(r->path, tv)
                  : redisConnectWithTimeout(r->host, r->port, tv);
    if (!ctx)
        return -ENOMEM;
    if (ctx->err) {
        rds_set_err(r, "%s", ctx->errstr);
        rc = -EIO;
        goto out;
    }
    if (redisSetTimeout(ctx, tv) != REDIS_OK) {
        rds_set_err(r, "cannot set socket timeouts");
        rc = -EIO;
        goto out;
    }
    if (!r->path)
        redisEnableKeepAlive(ctx);
    if (r->pass) {
        const char *argv[3] = { "AUTH", r->user ? r->user : r->pass, r->pass };

        rc = rds_setup_command(r, ctx, r->user ? 3 : 2, argv, -EACCES, "authentication failed");
        if (rc < 0)
            goto out;
    }
    if (r->db) {
        const char *argv[2] = { "SELECT", dbbuf };

        snprintf(dbbuf, sizeof(dbbuf), "%d", r->db);
        rc = rds_setup_command(r, ctx, 2, argv, -ENXIO, "cannot select the configured db");
        if (rc < 0)
            goto out;
    }
    s->ctx = ctx;
    ctx = NULL;
out:
    if (ctx) {
        redisFree(ctx);
        atomic_store(&r->fail_until_ms, rds_now_ms() + RDS_FAIL_FAST_MS);
    }
    return rc;
}

static struct rds_slot *rds_acquire(struct rds_store *r)
{
    unsigned start = atomic_fetch_add(&r->next_slot, 1);
    struct rds_slot *s;

    for (unsigned i = 0; i < RDS_POOL; i++) {
        s = &r->slots[(start + i) % RDS_POOL];
        if (pthread_mutex_trylock(&s->lock) == 0)
            return s;
    }
    s = &r->slots[start % RDS_POOL];
    pthread_mutex_lock(&s->lock);
    return s;
}

/* Send one command; on success @out holds a reply that is not an error. */
static int rds_command(struct rds_store *r, int argc, const char **argv, const size_t *lens,
                       redisReply **out)
{
    struct rds_slot *s = rds_acquire(r);
    struct rds_pipe_guard guard;
    redisReply *reply;
    int rc = 0;

    rds_pipe_block(&guard);
    if (s->ctx && !rds_alive(s->ctx)) {
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    if (!s->ctx) {
        rc = rds_connect(r, s);
        if (rc < 0)
            goto out;
    }
    reply = redisCommandArgv(s->ctx, argc, argv, lens);
    if (!reply) {
        /* the context is unusable after any I/O or protocol error; hiredis
         * reports a socket timeout as EAGAIN's text, say what it means */
        if (strcmp(s->ctx->errstr, strerror(EAGAIN)) == 0)
            rds_set_err(r, "no answer within %d ms", RDS_TIMEOUT_MS);
        else
            rds_set_err(r, "%s", s->ctx->errstr[0] ? s->ctx->errstr : "connection lost");
        redisFree(s->ctx);
        s->ctx = NULL;
        rc = -EIO;
        goto out;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        rc = rds_map_error(r, reply->str);
        freeReplyObject(reply);
        goto out;
    }
    *out = reply;
out:
    rds_pipe_unblock(&guard);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* "wgm:" + @key in @buf when it fits, else in a new allocation (*@heap). */
static const char *rds_key(const char *key, char *buf, size_t buflen, char **heap, size_t *len)
{
    size_t klen = strlen(key), n = sizeof(RDS_PREFIX) - 1 + klen;
    char *p = buf;

    *heap = NULL;
    if (n + 1 > buflen) {
        p = *heap = malloc(n + 1);
        if (!p)
            return NULL;
    }
    memcpy(p, RDS_PREFIX, sizeof(RDS_PREFIX) - 1);
    memcpy(p + sizeof(RDS_PREFIX) - 1, key, klen + 1);
    *len = n;
    return p;
}

static int rds_get(struct wgm_cache_backend *b, const char *key, char **value)
{
    struct rds_store *r = (struct rds_store *)b;
    char kbuf[256], *kheap;
    const char *argv[2] = { "GET", NULL };
    size_t lens[2] = { 3, 0 };
    redisReply *reply = NULL;
    int rc;

    argv[1] = rds_key(key, kbuf, sizeof(kbuf), &kheap, &lens[1]);
    if (!argv[1])
        return -ENOMEM;
    rc = rds_command(r, 2, argv, lens, &reply);
    if (rc < 0)
        goto out;
    if (reply->type == REDIS_REPLY_NIL) {
        rc = -ENOENT;
    } else if (reply->type == REDIS_REPLY_STRING) {
        *value = malloc(reply->len + 1);
        if (*value) {
            memcpy(*value, reply->str, reply->len);
            (*value)[reply->len] = '\0';
        } else {
            rc = -ENOMEM;
        }
    } else {
        rc = -EPROTO;
    }
out:
    freeReplyObject(reply);
    free(kheap);
    return rc;
}

static int rds_set(struct wgm_cache_backend *b, const char *key, const char *value, unsigned ttl_s)
{
    struct rds_store *r = (struct rds_store *)b;
    char kbuf[256], *kheap, ttl[16];
    const char *argv[5] = { "SET", NULL, value, "EX", ttl };
    size_t lens[5] = { 3, 0, strlen(value), 2, 0 };
    redisReply *reply = NULL;
    int rc;

    argv[1] = rds_key(key, kbuf, sizeof(kbuf), &kheap, &lens[1]);
    if (!argv[1])
        return -ENOMEM;
    lens[4] = (size_t)snprintf(ttl, sizeof(ttl), "%u", ttl_s);
    rc = rds_command(r, ttl_s ? 5 : 3, argv, lens, &reply);
    if (rc == 0 && reply->type != REDIS_REPLY_STATUS)
        rc = -EPROTO;
    freeReplyObject(reply);
    free(kheap);
    return rc;
}

static int rds_del(struct wgm_cache_backend *b, const char *key)
{
    struct rds_store *r = (struct rds_store *)b;
    char kbuf[256], *kheap;
    const char *argv[2] = { "DEL", NULL };
    size_t lens[2] = { 3, 0 };
    redisReply *reply = NULL;
    int rc;

    argv[1] = rds_key(key, kbuf, sizeof(kbuf), &kheap, &lens[1]);
    if (!argv[1])
        return -ENOMEM;
    rc = rds_command(r, 2, argv, lens, &reply);
    if (rc == 0 && reply->type != REDIS_REPLY_INTEGER)
        rc = -EPROTO;
    freeReplyObject(reply);
    free(kheap);
    return rc;
}

static int rds_incr(struct wgm_cache_backend *b, const char *key, int64_t delta, unsigned ttl_s,
                    int64_t *out)
{
    struct rds_store *r = (struct rds_store *)b;
    char kbuf[256], *kheap, dbuf[24], tbuf[16];
    const char *argv[6] = { "EVAL", rds_incr_script, "1", NULL, dbuf, tbuf };
    size_t lens[6] = { 4, sizeof(rds_incr_script) - 1, 1, 0, 0, 0 };
    redisReply *reply = NULL;
    int rc;

    argv[3] = rds_key(key, kbuf, sizeof(kbuf), &kheap, &lens[3]);
    if (!argv[3])
        return -ENOMEM;
    lens[4] = (size_t)snprintf(dbuf, sizeof(dbuf), "%" PRId64, delta);
    lens[5] = (size_t)snprintf(tbuf, sizeof(tbuf), "%u", ttl_s);
    rc = rds_command(r, 6, argv, lens, &reply);
    if (rc == 0) {
        if (reply->type == REDIS_REPLY_INTEGER)
            *out = (int64_t)reply->integer;
        else
            rc = -EPROTO;
    }
    freeReplyObject(reply);
    free(kheap);
    return rc;
}

/* The script's SHA1 in @sha, from SCRIPT LOAD the first time. */
static int rds_bucket_sha(struct rds_store *r, char sha[41])
{
    const char *argv[3] = { "SCRIPT", "LOAD", rds_bucket_script };
    size_t lens[3] = { 6, 4, sizeof(rds_bucket_script) - 1 };
    redisReply *reply = NULL;
    int rc;

    pthread_mutex_lock(&r->sha_lock);
    memcpy(sha, r->bucket_sha, 41);
    pthread_mutex_unlock(&r->sha_lock);
    if (sha[0])
        return 0;
    rc = rds_command(r, 3, argv, lens, &reply);
    if (rc < 0)
        return rc;
    if (reply->type != REDIS_REPLY_STRING || reply->len != 40) {
        rc = -EPROTO;
        goto out;
    }
    memcpy(sha, reply->str, 40);
    sha[40] = '\0';
    pthread_mutex_lock(&r->sha_lock);
    memcpy(r->bucket_sha, sha, 41);
    pthread_mutex_unlock(&r->sha_lock);
out:
    freeReplyObject(reply);
    return rc;
}

static int rds_bucket_take(struct wgm_cache_backend *b, const char *key, double capacity,
                           double refill_per_s, double cost, bool *allowed, double *tokens)
{
    struct rds_store *r = (struct rds_store *)b;
    char kbuf[256], *kheap = NULL, sha[41], cbuf[32], rbuf[32], tbuf[32], *end;
    const char *argv[7] = { "EVALSHA", sha, "1", NULL, cbuf, rbuf, tbuf };
    size_t lens[7] = { 7, 40, 1, 0, 0, 0, 0 };
    redisReply *reply = NULL;
    double t;
    int rc;

    rc = rds_bucket_sha(r, sha);
    if (rc < 0)
        return rc;
    argv[3] = rds_key(key, kbuf, sizeof(kbuf), &kheap, &lens[3]);
    if (!argv[3])
        return -ENOMEM;
    lens[4] = (size_t)snprintf(cbuf, sizeof(cbuf), "%.17g", capacity);
    lens[5] = (size_t)snprintf(rbuf, sizeof(rbuf), "%.17g", refill_per_s);
    lens[6] = (size_t)snprintf(tbuf, sizeof(tbuf), "%.17g", cost);
    rc = rds_command(r, 7, argv, lens, &reply);
    if (rc == -ENOEXEC) {
        argv[0] = "EVAL";
        lens[0] = 4;
        argv[1] = rds_bucket_script;
        lens[1] = sizeof(rds_bucket_script) - 1;
        rc = rds_command(r, 7, argv, lens, &reply);
    }
    if (rc < 0)
        goto out;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        rc = -EPROTO;
        goto out;
    }
    errno = 0;
    t = strtod(reply->element[1]->str, &end);
    if (errno || *end || !isfinite(t)) {
        rc = -EPROTO;
        goto out;
    }
    *allowed = reply->element[0]->integer == 1;
    *tokens = t;
out:
    freeReplyObject(reply);
    free(kheap);
    return rc;
}

static int rds_ping(struct wgm_cache_backend *b)
{
    struct rds_store *r = (struct rds_store *)b;
    const char *argv[1] = { "PING" };
    size_t lens[1] = { 4 };
    redisReply *reply = NULL;
    int rc;

    rc = rds_command(r, 1, argv, lens, &reply);
    if (rc == 0 && reply->type != REDIS_REPLY_STATUS)
        rc = -EPROTO;
    freeReplyObject(reply);
    return rc;
}

/* used_memory from INFO memory: what the server holds for every client, the
 * figure operators compare against maxmemory. */
static int rds_memory(struct wgm_cache_backend *b, int64_t *out)
{
    struct rds_store *r = (struct rds_store *)b;
    const char *argv[2] = { "INFO", "memory" };
    size_t lens[2] = { 4, 6 };
    redisReply *reply = NULL;
    const char *p;
    int rc;

    rc = rds_command(r, 2, argv, lens, &reply);
    if (rc == 0) {
        if (reply->type == REDIS_REPLY_STRING &&
            (p = strstr(reply->str, "\nused_memory:")))
            *out = strtoll(p + 13, NULL, 10);
        else
            rc = -EPROTO;
    }
    freeReplyObject(reply);
    return rc;
}

static int rds_keys(struct wgm_cache_backend *b, uint64_t *out)
{
    struct rds_store *r = (struct rds_store *)b;
    const char *argv[1] = { "DBSIZE" };
    size_t lens[1] = { 6 };
    redisReply *reply = NULL;
    int rc;

    rc = rds_command(r, 1, argv, lens, &reply);
    if (rc == 0) {
        if (reply->type == REDIS_REPLY_INTEGER && reply->integer >= 0)
            *out = (uint64_t)reply->integer;
        else
            rc = -EPROTO;
    }
    freeReplyObject(reply);
    return rc;
}

static void rds_last_error(struct wgm_cache_backend *b, char *buf, size_t len)
{
    struct rds_store *r = (struct rds_store *)b;

    pthread_mutex_lock(&r->err_lock);
    snprintf(buf, len, "%s", r->last_err[0] ? r->last_err : "unknown error");
    pthread_mutex_unlock(&r->err_lock);
}

static const char *rds_target(struct wgm_cache_backend *b)
{
    return ((struct rds_store *)b)->target;
}

static void rds_free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static struct wgm_cache_backend *rds_free(struct wgm_cache_backend *b)
{
    struct rds_store *r = (struct rds_store *)b;

    if (!r)
        return NULL;
    for (int i = 0; i < RDS_POOL; i++) {
        if (r->slots[i].ctx)
            redisFree(r->slots[i].ctx);
        pthread_mutex_destroy(&r->slots[i].lock);
    }
    pthread_mutex_destroy(&r->err_lock);
    pthread_mutex_destroy(&r->sha_lock);
    free(r->host);
    free(r->path);
    rds_free_secret(r->user);
    rds_free_secret(r->pass);
    free(r);
    return NULL;
}

static const struct wgm_cache_backend_ops rds_ops = {
    .name = "redis",
    .get = rds_get,
    .set = rds_set,
    .del = rds_del,
    .incr = rds_incr,
    .bucket_take = rds_bucket_take,
    .ping = rds_ping,
    .keys = rds_keys,
    .memory = rds_memory,
    .last_error = rds_last_error,
    .target = rds_target,
    .free = rds_free,
};

static int rds_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode @len bytes of @s into a new string; NULL for empty input.
 * -EINVAL on a bad escape or an encoded NUL. */
static int rds_decode(const char *s, size_t len, char **out)
{
    char *d, *p;

    *out = NULL;
    if (len == 0)
        return 0;
    d = p = malloc(len + 1);
    if (!d)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;

        if (s[i] != '%') {
            *p++ = s[i];
            continue;
        }
        hi = i + 2 < len ? rds_hex(s[i + 1]) : -1;
        lo = i + 2 < len ? rds_hex(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            explicit_bzero(d, (size_t)(p - d));   /* a prefix of the secret */
            free(d);
            return -EINVAL;
        }
        *p++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *p = '\0';
    *out = d;
    return 0;
}

/* Parse a decimal number in [@min, @max] spanning exactly @len bytes. */
static int rds_number(const char *s, size_t len, long min, long max, long *out)
{
    long v = 0;

    if (len == 0 || len > 9)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "/path[?db=N][&password=P]" (the query form redis-py uses: a socket
 * path leaves no room for credentials in the authority). */
static int rds_parse_unix(struct rds_store *r, const char *spec, char *err, size_t errlen)
{
    size_t plen = strcspn(spec, "?");
    const char *q = spec + plen;
    long v;
    int rc;

    if (spec[0] != '/' || plen < 2) {
        snprintf(err, errlen, "redis URL: unix:// needs an absolute socket path");
        return -EINVAL;
    }
    if (plen >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "redis URL: socket path too long");
        return -EINVAL;
    }
    r->path = strndup(spec, plen);
    if (!r->path)
        return -ENOMEM;
    snprintf(r->target, sizeof(r->target), "unix:%.280s", r->path);
    while (*q) {
        const char *name = q + 1;
        size_t n = strcspn(name, "&");

        if (n > 3 && strncmp(name, "db=", 3) == 0) {
            if (rds_number(name + 3, n - 3, 0, RDS_MAX_DB, &v) < 0) {
                snprintf(err, errlen, "redis URL: bad db number");
                return -EINVAL;
            }
            r->db = (int)v;
        } else if (n > 9 && strncmp(name, "password=", 9) == 0 && !r->pass) {
            rc = rds_decode(name + 9, n - 9, &r->pass);
            if (rc < 0) {
                snprintf(err, errlen, "redis URL: bad percent-encoding in the password");
                return rc;
            }
        } else {
            snprintf(err, errlen, "redis URL: unix:// takes only ?db=N&password=P");
            return -EINVAL;
        }
        q = name + n;
    }
    return 0;
}

/* Fill @r from "redis://[[user]:password@]host[:port][/db]" or "unix:///path".
 * Messages never include the credentials. */
static int rds_parse(struct rds_store *r, const char *url, char *err, size_t errlen)
{
    const char *rest, *at, *host, *hend, *p;
    long v;
    int rc;

    if (strncmp(url, "unix://", 7) == 0)
        return rds_parse_unix(r, url + 7, err, errlen);
    if (strncmp(url, "rediss://", 9) == 0) {
        /* Debian 12's hiredis has no TLS (hiredis_ssl came with 1.0). */
        snprintf(err, errlen,
                 "redis URL: TLS (rediss://) is not supported: hiredis %d.%d has no TLS; use a Unix socket"
                 " (unix:///run/redis/redis.sock) or a local TLS tunnel (stunnel or spiped listening on"
                 " 127.0.0.1) with redis://127.0.0.1:PORT",
                 HIREDIS_MAJOR, HIREDIS_MINOR);
        return -ENOTSUP;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "cache URL: unsupported scheme (want memory://, redis:// or unix://)");
        return -EINVAL;
    }
    rest = url + 8;
    /* the last '@': a password may contain an unencoded '@', a host cannot */
    at = strrchr(rest, '@');
    host = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));

        if (colon) {
            rc = rds_decode(rest, (size_t)(colon - rest), &r->user);
            if (rc == 0)
                rc = rds_decode(colon + 1, (size_t)(at - colon - 1), &r->pass);
        } else {
            rc = rds_decode(rest, (size_t)(at - rest), &r->pass);
        }
        if (rc < 0) {
            snprintf(err, errlen, "redis URL: bad percent-encoding in the credentials");
            return rc;
        }
        if (r->user && !r->pass) {
            snprintf(err, errlen, "redis URL: a user name needs a password");
            return -EINVAL;
        }
        host = at + 1;
    }
    if (*host == '[') {
        host++;
        hend = strchr(host, ']');
        if (!hend) {
            snprintf(err, errlen, "redis URL: unterminated [IPv6 address]");
            return -EINVAL;
        }
        p = hend + 1;
    } else {
        hend = host + strcspn(host, ":/?#");
        p = hend;
    }
    if (hend == host) {
        snprintf(err, errlen, "redis URL: no host");
        return -EINVAL;
    }
    r->host = strndup(host, (size_t)(hend - host));
    if (!r->host)
        return -ENOMEM;
    r->port = RDS_DEFAULT_PORT;
    if (*p == ':') {
        size_t n = strcspn(p + 1, "/?#");

        if (rds_number(p + 1, n, 1, 65535, &v) < 0) {
            snprintf(err, errlen, "redis URL: bad port");
            return -EINVAL;
        }
        r->port = (int)v;
        p += 1 + n;
    }
    if (*p == '/') {
        size_t n = strlen(p + 1);

        if (n > 0 && rds_number(p + 1, n, 0, RDS_MAX_DB, &v) < 0) {
            snprintf(err, errlen, "redis URL: bad db number");
            return -EINVAL;
        }
        r->db = n > 0 ? (int)v : 0;
        p += 1 + n;
    }
    if (*p) {
        snprintf(err, errlen, "redis URL: unexpected text after host, port and db");
        return -EINVAL;
    }
    snprintf(r->target, sizeof(r->target), strchr(r->host, ':') ? "[%.256s]:%d" : "%.256s:%d",
             r->host, r->port);
    return 0;
}

int wgm_cache_redis_new(const char *url, struct wgm_cache_backend **out, char *err, size_t errlen)
{
    struct rds_store *r = calloc(1, sizeof(*r));
    int rc;

    if (!r)
        return -ENOMEM;
    r->base.ops = &rds_ops;
    pthread_mutex_init(&r->err_lock, NULL);
    pthread_mutex_init(&r->sha_lock, NULL);
    for (int i = 0; i < RDS_POOL; i++)
        pthread_mutex_init(&r->slots[i].lock, NULL);
    atomic_init(&r->next_slot, 0);
    atomic_init(&r->fail_until_ms, 0);
    rc = rds_parse(r, url, err, errlen);
    if (rc < 0) {
        rds_free(&r->base);
        return rc;
    }
    *out = &r->base;
    return 0;
}
