/*
 * core/cache: one suite run on the in-process store and, when
 * WGM_TEST_REDIS_URL is set, on that Redis; then the Redis-only behaviour
 * (fallback when Redis dies, recovery, password hygiene) against a private
 * redis-server this program starts on 127.0.0.1:36390 and always stops.
 * Every wait is bounded.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <wgm/host.h>            /* enum wgm_log_level */

#include "cache/cache.h"
#include "tap.h"

#define PRIV_PORT 36390
#define PRIV_PASS "pw-S3cr@t!"          /* what redis-server is given */
#define PRIV_PASS_ENC "pw-S3cr%40t!"    /* the same, percent-encoded */
#define SECRET_MARK "S3cr"              /* must never show in logs or errors */
#define WATCHDOG_S 300

/* ---- helpers ------------------------------------------------------------ */

static char key_prefix[64];

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

/* Test keys carry a per-run prefix so runs sharing one Redis do not meet. */
static const char *K(char *buf, const char *name)
{
    snprintf(buf, 256, "%s%s", key_prefix, name);
    return buf;
}

/* Poll until @key is gone; false if it outlives @timeout_ms. */
static bool wait_gone(struct wgm_cache *c, const char *key, long timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    char *v = NULL;

    for (;;) {
        int rc = wgm_cache_get(c, key, &v);

        free(v);
        v = NULL;
        if (rc == -ENOENT)
            return true;
        if (now_ms() > deadline)
            return false;
        sleep_ms(100);
    }
}

static bool get_is(struct wgm_cache *c, const char *key, const char *want)
{
    char *v = NULL;
    bool same = wgm_cache_get(c, key, &v) == 0 && v && strcmp(v, want) == 0;

    free(v);
    return same;
}

/* ---- log capture ---------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_warns, log_infos, log_others;
static char log_text[8192];

static void capture_log(int level, const char *msg)
{
    pthread_mutex_lock(&log_lock);
    if (level == WGM_LOG_WARN)
        log_warns++;
    else if (level == WGM_LOG_INFO)
        log_infos++;
    else
        log_others++;
    strncat(log_text, msg, sizeof(log_text) - strlen(log_text) - 2);
    strcat(log_text, "\n");
    printf("# log(%d): %s\n", level, msg);
    pthread_mutex_unlock(&log_lock);
}

static void log_reset(void)
{
    pthread_mutex_lock(&log_lock);
    log_warns = log_infos = log_others = 0;
    log_text[0] = '\0';
    pthread_mutex_unlock(&log_lock);
}

/* ---- the shared suite ------------------------------------------------------ */

static bool is_redis(const char *url)
{
    return url != NULL;
}

static void t_backend(struct wgm_cache *c, const char *url)
{
    struct wgm_cache_stats st;

    is_str(wgm_cache_backend(c), is_redis(url) ? "redis" : "memory", "backend name");
    is_int(wgm_cache_ping(c), 0, "ping answers");
    wgm_cache_stats(c, &st);
    ok(!st.degraded, "not degraded");
}

static void t_get_missing(struct wgm_cache *c, const char *url)
{
    char k[256], *v = (char *)"junk";

    is_int(wgm_cache_get(c, K(k, "missing"), &v), -ENOENT, "get of a missing key");
    ok(v == NULL, "value is NULL on a miss");
    is_int(wgm_cache_get(c, NULL, &v), -EINVAL, "NULL key refused");
    is_int(wgm_cache_set(c, K(k, "x"), NULL, 0), -EINVAL, "NULL value refused");
}

static void t_set_get(struct wgm_cache *c, const char *url)
{
    char k[256];

    is_int(wgm_cache_set(c, K(k, "k1"), "hello", 0), 0, "set");
    ok(get_is(c, k, "hello"), "get returns what was set");
    is_int(wgm_cache_set(c, K(k, "empty"), "", 0), 0, "set of an empty value");
    ok(get_is(c, k, ""), "empty value round-trips");
    wgm_cache_del(c, K(k, "k1"));
    wgm_cache_del(c, K(k, "empty"));
}

static void t_overwrite(struct wgm_cache *c, const char *url)
{
    char k[256];

    K(k, "ow");
    wgm_cache_set(c, k, "one", 0);
    is_int(wgm_cache_set(c, k, "a considerably longer second value", 0), 0, "overwrite");
    ok(get_is(c, k, "a considerably longer second value"), "get sees the new value");
    is_int(wgm_cache_set(c, k, "3", 0), 0, "overwrite with a shorter value");
    ok(get_is(c, k, "3"), "get sees the shorter value");
    wgm_cache_del(c, k);
}

static void t_del(struct wgm_cache *c, const char *url)
{
    char k[256], *v = NULL;

    K(k, "del");
    wgm_cache_set(c, k, "x", 0);
    is_int(wgm_cache_del(c, k), 0, "del of an existing key");
    is_int(wgm_cache_get(c, k, &v), -ENOENT, "gone after del");
    free(v);
    is_int(wgm_cache_del(c, k), 0, "del of a missing key is 0 too");
}

static void t_ttl(struct wgm_cache *c, const char *url)
{
    char k[256], k2[256], k3[256];

    K(k, "ttl");
    K(k2, "ttl-keep");
    K(k3, "ttl-cleared");
    is_int(wgm_cache_set(c, k, "short", 1), 0, "set with a 1 s TTL");
    wgm_cache_set(c, k2, "forever", 0);
    wgm_cache_set(c, k3, "was short", 1);
    wgm_cache_set(c, k3, "now forever", 0);     /* a set without TTL drops it */
    ok(get_is(c, k, "short"), "readable before expiry");
    ok(wait_gone(c, k, 3000), "expired within 3 s");
    ok(get_is(c, k2, "forever"), "a key without TTL stays");
    ok(get_is(c, k3, "now forever"), "set without TTL clears an earlier TTL");
    wgm_cache_del(c, k2);
    wgm_cache_del(c, k3);
}

static void t_incr(struct wgm_cache *c, const char *url)
{
    char k[256], kp[256], kn[256], kb[256];
    int64_t v = 0;

    K(k, "incr");
    K(kp, "incr-persist");
    K(kn, "incr-notnum");
    K(kb, "incr-big");
    is_int(wgm_cache_incr(c, k, 5, 1, &v), 0, "incr of a missing key");
    is_int(v, 5, "starts at 0 + delta");
    wgm_cache_incr(c, k, 3, 1, &v);
    is_int(v, 8, "adds");
    wgm_cache_incr(c, k, -10, 1, &v);
    is_int(v, -2, "negative delta");
    ok(get_is(c, k, "-2"), "get reads the counter as text");
    wgm_cache_incr(c, kp, 1, 0, &v);
    ok(wait_gone(c, k, 3000), "the counter created with a 1 s TTL expired (increments kept it)");
    is_int(wgm_cache_incr(c, k, 1, 1, &v), 0, "incr after expiry");
    is_int(v, 1, "starts again from 0");
    wgm_cache_incr(c, kp, 1, 0, &v);
    is_int(v, 2, "a counter created with TTL 0 survives");
    wgm_cache_set(c, kn, "abc", 0);
    is_int(wgm_cache_incr(c, kn, 1, 0, &v), -EINVAL, "incr of a non-integer is -EINVAL");
    wgm_cache_set(c, kb, "9223372036854775807", 0);
    is_int(wgm_cache_incr(c, kb, 1, 0, &v), -ERANGE, "incr past INT64_MAX is -ERANGE");
    ok(get_is(c, kb, "9223372036854775807"), "a failed incr changes nothing");
    wgm_cache_del(c, k);
    wgm_cache_del(c, kp);
    wgm_cache_del(c, kn);
    wgm_cache_del(c, kb);
}

#define N_THREADS 4
#define N_INCR 500

struct incr_arg {
    struct wgm_cache *c;
    const char *key;
    int64_t seen[N_INCR];
    int errors;
};

static void *incr_thread(void *p)
{
    struct incr_arg *a = p;

    for (int i = 0; i < N_INCR; i++)
        if (wgm_cache_incr(a->c, a->key, 1, 60, &a->seen[i]) < 0)
            a->errors++;
    return NULL;
}

static void t_incr_threads(struct wgm_cache *c, const char *url)
{
    static struct incr_arg args[N_THREADS];
    static bool hit[N_THREADS * N_INCR + 1];
    pthread_t th[N_THREADS];
    char k[256], want[32];
    int errors = 0, dup_or_range = 0;

    K(k, "ctr");
    wgm_cache_del(c, k);
    memset(hit, 0, sizeof(hit));
    for (int t = 0; t < N_THREADS; t++) {
        memset(&args[t], 0, sizeof(args[t]));
        args[t].c = c;
        args[t].key = k;
        pthread_create(&th[t], NULL, incr_thread, &args[t]);
    }
    for (int t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        errors += args[t].errors;
        for (int i = 0; i < N_INCR; i++) {
            int64_t s = args[t].seen[i];

            if (s < 1 || s > N_THREADS * N_INCR || hit[s])
                dup_or_range++;
            else
                hit[s] = true;
        }
    }
    is_int(errors, 0, "4 threads x 500 incr: no errors");
    snprintf(want, sizeof(want), "%d", N_THREADS * N_INCR);
    ok(get_is(c, k, want), "final value is exactly 2000");
    is_int(dup_or_range, 0, "every increment returned a distinct value in 1..2000");
    wgm_cache_del(c, k);
}

static void t_binary(struct wgm_cache *c, const char *url)
{
    static const char odd[] = "a b  \"q\" 'x' %s %n $3\r\n*1\r\nline2\n\ttab\\ end ";
    const size_t big_len = 100 * 1024;
    char k[256], kodd[300], *big, *v = NULL;

    K(k, "big");
    snprintf(kodd, sizeof(kodd), "%skey with spaces \"quoted\"\nand a newline", key_prefix);
    is_int(wgm_cache_set(c, kodd, odd, 60), 0, "set: key and value with spaces, quotes, CRLF");
    ok(get_is(c, kodd, odd), "round-trips byte for byte");
    big = malloc(big_len + 1);
    if (!big)
        abort();
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i % 97 == 0 ? '\n' : i % 13 == 0 ? ' ' : 33 + (int)(i % 94));
    big[big_len] = '\0';
    is_int(wgm_cache_set(c, k, big, 60), 0, "set of a 100 KB value");
    is_int(wgm_cache_get(c, k, &v), 0, "get of the 100 KB value");
    ok(v && strlen(v) == big_len && memcmp(v, big, big_len) == 0, "100 KB value intact");
    free(v);
    free(big);
    wgm_cache_del(c, k);
    wgm_cache_del(c, kodd);
}

static void t_stats(struct wgm_cache *c, const char *url)
{
    struct wgm_cache_stats s0, s1, f0, f1;
    struct wgm_cache *f = NULL;
    char k[256], err[256], *v = NULL;

    K(k, "stats");
    wgm_cache_set(c, k, "1", 60);
    wgm_cache_stats(c, &s0);
    wgm_cache_get(c, k, &v);
    free(v);
    v = NULL;
    wgm_cache_get(c, K(k, "stats-miss"), &v);
    wgm_cache_get(c, k, &v);
    wgm_cache_stats(c, &s1);
    is_int(s1.hits - s0.hits, 1, "stats: one hit counted");
    is_int(s1.misses - s0.misses, 2, "stats: two misses counted");

    /* keys: a fresh instance (memory: empty; Redis: the same db) */
    is_int(wgm_cache_open(url, capture_log, &f, err, sizeof(err)), 0, "second instance opens");
    if (!f)
        return;
    wgm_cache_stats(f, &f0);
    wgm_cache_set(f, K(k, "sk1"), "a", 60);
    wgm_cache_set(f, K(k, "sk2"), "b", 60);
    wgm_cache_set(f, K(k, "sk3"), "c", 60);
    wgm_cache_stats(f, &f1);
    if (is_redis(url))
        ok(f1.keys >= 3, "stats: keys counts the db (%llu)", (unsigned long long)f1.keys);
    else
        ok(f0.keys == 0 && f1.keys == 3, "stats: keys counts the store (%llu -> %llu)",
           (unsigned long long)f0.keys, (unsigned long long)f1.keys);
    /* memory: the store's own accounting grows with a large value and
     * shrinks back when it goes; Redis: used_memory from INFO */
    ok(f1.memory_bytes > 0, "stats: memory_bytes reported (%lld)", (long long)f1.memory_bytes);
    if (!is_redis(url)) {
        static char big[65537];
        struct wgm_cache_stats f2, f3;
        memset(big, 'x', sizeof(big) - 1);
        wgm_cache_set(f, K(k, "big"), big, 60);
        wgm_cache_stats(f, &f2);
        ok(f2.memory_bytes >= f1.memory_bytes + 65536, "stats: a 64 KiB value is counted (%lld -> %lld)",
           (long long)f1.memory_bytes, (long long)f2.memory_bytes);
        wgm_cache_del(f, K(k, "big"));
        wgm_cache_stats(f, &f3);
        is_int(f3.memory_bytes, f1.memory_bytes, "stats: and uncounted when deleted");
    }
    wgm_cache_del(f, K(k, "sk1"));
    wgm_cache_del(f, K(k, "sk2"));
    wgm_cache_del(f, K(k, "sk3"));
    wgm_cache_del(c, K(k, "stats"));
    wgm_cache_close(f);
}

/* Two instances on one URL: one store for Redis, two for memory. */
static void t_two_instances(struct wgm_cache *c, const char *url)
{
    struct wgm_cache *b = NULL;
    char k[256], err[256];
    int64_t v = 0;

    K(k, "shared");
    wgm_cache_del(c, k);
    is_int(wgm_cache_open(url, capture_log, &b, err, sizeof(err)), 0, "instance B opens");
    if (!b)
        return;
    wgm_cache_incr(c, k, 7, 60, &v);
    is_int(wgm_cache_incr(b, k, 1, 60, &v), 0, "incr via B");
    if (is_redis(url)) {
        is_int(v, 8, "B sees A's increment (one shared store)");
        ok(get_is(c, k, "8"), "A sees B's increment");
    } else {
        is_int(v, 1, "in-process stores are per instance");
        ok(get_is(c, k, "7"), "A keeps its own value");
    }
    wgm_cache_del(c, k);
    wgm_cache_del(b, k);
    wgm_cache_close(b);
}

struct suite_test {
    const char *name;
    void (*fn)(struct wgm_cache *c, const char *url);
};

static const struct suite_test suite[] = {
    { "backend", t_backend },
    { "get missing", t_get_missing },
    { "set/get", t_set_get },
    { "overwrite", t_overwrite },
    { "del", t_del },
    { "ttl expiry", t_ttl },
    { "incr", t_incr },
    { "incr from 4 threads", t_incr_threads },
    { "binary-safe values", t_binary },
    { "stats", t_stats },
    { "two instances", t_two_instances },
};

static void run_suite(const char *label, const char *url, const char *skip_why)
{
    struct wgm_cache *c = NULL;
    char err[256] = "", why[256];

    if (skip_why) {
        for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
            snprintf(why, sizeof(why), "%s: %s: %s", label, suite[i].name, skip_why);
            skip(why);
        }
        return;
    }
    log_reset();
    is_int(wgm_cache_open(url, capture_log, &c, err, sizeof(err)), 0, "open");
    if (!c) {
        printf("# %s: open failed: %s\n", label, err);
        return;
    }
    for (size_t i = 0; i < sizeof(suite) / sizeof(suite[0]); i++) {
        printf("# %s: %s\n", label, suite[i].name);
        suite[i].fn(c, url);
    }
    is_int(log_warns + log_infos + log_others, 0, "nothing logged while the store answers");
    wgm_cache_close(c);
}

/* ---- URL handling and an unreachable Redis ------------------------------- */

static void t_bad_urls(void)
{
    static const struct { const char *url; int rc; } bad[] = {
        { "ftp://example.org", -EINVAL },
        { "memory://x", -EINVAL },
        { "redis://", -EINVAL },
        { "redis://:hunter" SECRET_MARK "@", -EINVAL },
        { "redis://:hunter" SECRET_MARK "@localhost:0", -EINVAL },
        { "redis://:hunter" SECRET_MARK "@localhost:70000", -EINVAL },
        { "redis://:hunter" SECRET_MARK "@localhost:6379/x", -EINVAL },
        { "redis://:hunter" SECRET_MARK "@localhost:6379/0?timeout=1", -EINVAL },
        { "redis://:hunter%zz" SECRET_MARK "@localhost", -EINVAL },
        { "redis://user:@localhost", -EINVAL },
        { "redis://[::1:6379", -EINVAL },
        { "rediss://:hunter" SECRET_MARK "@localhost", -ENOTSUP },
        { "unix://relative/path", -EINVAL },
        { "unix:///tmp/r.sock?password=hunter" SECRET_MARK "&bogus=1", -EINVAL },
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct wgm_cache *c = (struct wgm_cache *)&c;     /* must be reset */
        char err[256] = "";
        int rc = wgm_cache_open(bad[i].url, capture_log, &c, err, sizeof(err));

        ok(rc == bad[i].rc && c == NULL && err[0] && !strstr(err, SECRET_MARK),
           "bad URL #%zu refused (rc %d, err \"%s\")", i, rc, err);
    }
}

static void t_unreachable(void)
{
    struct wgm_cache *c = NULL;
    struct wgm_cache_stats st;
    char err[256] = "";
    int64_t v = 0;
    int fails = 0;

    log_reset();
    is_int(wgm_cache_open("redis://:x" SECRET_MARK "@127.0.0.1:1/2", capture_log, &c, err,
                          sizeof(err)), 0, "open with Redis down succeeds (degraded)");
    if (!c)
        return;
    is_str(wgm_cache_backend(c), "redis", "backend is still redis");
    wgm_cache_stats(c, &st);
    ok(st.degraded, "degraded from the start");
    for (int i = 0; i < 20; i++) {
        char *s = NULL;

        if (wgm_cache_set(c, "down", "v", 0) < 0 || wgm_cache_get(c, "down", &s) < 0)
            fails++;
        free(s);
    }
    is_int(fails, 0, "set/get served in-process");
    is_int(wgm_cache_incr(c, "down-ctr", 2, 0, &v), 0, "incr served in-process");
    is_int(v, 2, "incr value");
    ok(wgm_cache_ping(c) < 0, "ping reports Redis down");
    is_int(log_warns, 1, "exactly one warning");
    is_int(log_infos, 0, "no recovery notice");
    ok(!strstr(log_text, SECRET_MARK), "the password is not logged");
    ok(strstr(log_text, "127.0.0.1:1") != NULL, "the warning names the target");
    wgm_cache_close(c);
}

/* ---- a private redis-server -------------------------------------------- */

static char priv_dir[64];
static char priv_pidfile[128];
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

static pid_t read_pidfile(void)
{
    FILE *f = fopen(priv_pidfile, "r");
    long pid = 0;

    if (!f)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return (pid_t)pid;
}

/* Gone or a zombie nobody reaped (a container's PID 1 may not). */
static bool process_gone(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;
    char *p;
    bool gone = true;

    if (kill(pid, 0) < 0)
        return true;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (!f)
        return true;
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
        gone = p[2] == 'Z' || p[2] == 'X';
    fclose(f);
    return gone;
}

static bool priv_start(void)
{
    char port[16], logfile[128], sock[128];
    int64_t deadline;
    pid_t launcher;
    int status;

    snprintf(port, sizeof(port), "%d", PRIV_PORT);
    snprintf(logfile, sizeof(logfile), "%s/redis.log", priv_dir);
    snprintf(sock, sizeof(sock), "%s/redis.sock", priv_dir);
    unlink(priv_pidfile);
    launcher = fork();
    if (launcher < 0)
        return false;
    if (launcher == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--daemonize", "yes",
               "--pidfile", priv_pidfile, "--dir", priv_dir, "--logfile", logfile,
               "--requirepass", PRIV_PASS, "--unixsocket", sock,
               "--unixsocketperm", "700", (char *)NULL);
        _exit(127);
    }
    /* the launcher exits once redis has daemonized */
    deadline = now_ms() + 5000;
    while (waitpid(launcher, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(launcher, SIGKILL);
            waitpid(launcher, &status, 0);
            return false;
        }
        sleep_ms(20);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return false;
    deadline = now_ms() + 5000;
    while (!(priv_pid = read_pidfile()) || !port_open(PRIV_PORT)) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(50);
    }
    return true;
}

/* Kill the private redis hard (a crash, as far as the cache can tell). */
static bool priv_kill(void)
{
    pid_t pid = priv_pid;
    int64_t deadline = now_ms() + 5000;

    if (pid <= 0)
        return true;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, WNOHANG) == 0 || !process_gone(pid) || port_open(PRIV_PORT)) {
        if (now_ms() > deadline)
            return false;
        sleep_ms(20);
    }
    priv_pid = 0;
    return true;
}

static void priv_cleanup(void)
{
    DIR *d;
    struct dirent *de;
    char path[400];

    priv_kill();
    if (!priv_dir[0])
        return;
    d = opendir(priv_dir);
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", priv_dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(priv_dir);
    priv_dir[0] = '\0';
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

#define PRIV_URL_ENC "redis://:" PRIV_PASS_ENC "@127.0.0.1:36390/3"
#define PRIV_URL_RAW "redis://:" PRIV_PASS "@127.0.0.1:36390/3"     /* unencoded '@' */

static void t_private_redis(void)
{
    struct wgm_cache *a = NULL, *b = NULL, *u = NULL;
    struct wgm_cache_stats st;
    char err[256] = "", unix_url[256], *v = NULL;
    int64_t n = 0, deadline, t0;
    int fails = 0, rc;

    ok(priv_start(), "private redis-server started on 127.0.0.1:%d", PRIV_PORT);
    if (!priv_pid)
        return;

    /* refused credentials and db are errors at open, without the password */
    log_reset();
    rc = wgm_cache_open("redis://:wrong-" SECRET_MARK "@127.0.0.1:36390", capture_log, &a, err,
                        sizeof(err));
    ok(rc == -EACCES && !a && err[0] && !strstr(err, SECRET_MARK),
       "wrong password: -EACCES (rc %d, err \"%s\")", rc, err);
    rc = wgm_cache_open("redis://:" PRIV_PASS_ENC "@127.0.0.1:36390/99", capture_log, &a, err,
                        sizeof(err));
    ok(rc == -ENXIO && !a && err[0] && !strstr(err, SECRET_MARK),
       "db out of range: -ENXIO (rc %d, err \"%s\")", rc, err);
    is_int(log_warns + log_infos, 0, "refusals at open are returned, not logged");

    is_int(wgm_cache_open(PRIV_URL_ENC, capture_log, &a, err, sizeof(err)), 0,
           "open A (percent-encoded password, db 3)");
    is_int(wgm_cache_open(PRIV_URL_RAW, capture_log, &b, err, sizeof(err)), 0,
           "open B (raw '@' in the password)");
    snprintf(unix_url, sizeof(unix_url), "unix://%s/redis.sock?db=3&password=%s", priv_dir,
             PRIV_PASS_ENC);
    is_int(wgm_cache_open(unix_url, capture_log, &u, err, sizeof(err)), 0, "open U (unix socket)");
    if (!a || !b || !u)
        goto out;
    wgm_cache_stats(a, &st);
    ok(!st.degraded, "A not degraded");
    is_int(wgm_cache_set(a, "before", "1", 0), 0, "A: set before the crash");
    wgm_cache_incr(b, "shared", 5, 60, &n);
    wgm_cache_incr(a, "shared", 2, 60, &n);
    is_int(n, 7, "A and B share one store");
    ok(get_is(u, "before", "1"), "U sees A's key through the socket");

    /* Redis dies: everything keeps working in-process */
    ok(priv_kill(), "private redis killed");
    log_reset();
    is_int(wgm_cache_set(a, "during", "x", 0), 0, "A: set while Redis is down");
    ok(get_is(a, "during", "x"), "A: get while Redis is down");
    is_int(wgm_cache_incr(a, "dctr", 1, 0, &n), 0, "A: incr while Redis is down");
    for (int i = 0; i < 20; i++)
        if (wgm_cache_incr(a, "dctr", 1, 0, &n) < 0)
            fails++;
    is_int(fails, 0, "20 more operations succeed");
    is_int(n, 21, "in-process counter");
    wgm_cache_stats(a, &st);
    ok(st.degraded, "A degraded");
    is_int(st.keys, 2, "keys counts the in-process store while degraded");
    is_int(wgm_cache_get(a, "before", &v), -ENOENT, "the fallback starts empty");
    free(v);
    v = NULL;
    ok(wgm_cache_ping(a) < 0, "ping reports Redis down");
    is_int(log_warns, 1, "exactly one warning");
    is_int(log_infos, 0, "no notice yet");

    /* Redis comes back on the same port */
    ok(priv_start(), "private redis-server restarted");
    deadline = now_ms() + 10000;
    do {
        wgm_cache_set(a, "probe", "p", 5);     /* operations drive the retry */
        wgm_cache_stats(a, &st);
        if (!st.degraded)
            break;
        sleep_ms(200);
    } while (now_ms() < deadline);
    ok(!st.degraded, "A recovered within 10 s");
    is_int(log_warns, 1, "still exactly one warning");
    is_int(log_infos, 1, "exactly one recovery notice");
    is_int(wgm_cache_ping(a), 0, "ping answers");
    is_int(wgm_cache_set(a, "after", "back", 0), 0, "A: set after recovery");
    wgm_cache_close(b);
    b = NULL;
    is_int(wgm_cache_open(PRIV_URL_ENC, capture_log, &b, err, sizeof(err)), 0, "open a new B");
    if (!b)
        goto out;
    ok(get_is(b, "after", "back"), "B reads A's post-recovery write from Redis");
    is_int(wgm_cache_get(b, "during", &v), -ENOENT, "writes made during the outage stayed in-process");
    free(v);
    v = NULL;
    is_int(wgm_cache_get(a, "during", &v), -ENOENT, "A reads Redis again, not the old fallback");
    free(v);
    v = NULL;
    ok(get_is(u, "after", "back"), "U (unix socket), idle during the outage, reconnects");
    wgm_cache_stats(u, &st);
    ok(!st.degraded, "U never degraded: a dead pooled connection is just replaced");
    is_int(log_warns, 1, "one warning in all");

    /* a frozen Redis: the command timeout lets calls fall back instead of hanging */
    log_reset();
    kill(priv_pid, SIGSTOP);
    t0 = now_ms();
    is_int(wgm_cache_set(a, "frozen", "f", 0), 0, "A: set while Redis is frozen");
    printf("# that set took %lld ms (command timeout, then in-process)\n",
           (long long)(now_ms() - t0));
    ok(get_is(a, "frozen", "f"), "A: get while Redis is frozen");
    wgm_cache_stats(a, &st);
    ok(st.degraded, "A degraded by the timeout");
    kill(priv_pid, SIGCONT);
    deadline = now_ms() + 10000;
    do {
        wgm_cache_set(a, "probe", "p", 5);
        wgm_cache_stats(a, &st);
        if (!st.degraded)
            break;
        sleep_ms(200);
    } while (now_ms() < deadline);
    ok(!st.degraded, "A recovered within 10 s of the thaw");
    is_int(log_warns, 1, "one warning for the freeze");
    is_int(log_infos, 1, "one notice for the thaw");
    ok(get_is(a, "after", "back"), "A reads Redis again after the thaw");
    ok(!strstr(log_text, SECRET_MARK) && !strstr(err, SECRET_MARK), "no password in logs or errors");
out:
    wgm_cache_close(a);
    wgm_cache_close(b);
    wgm_cache_close(u);
    ok(priv_kill(), "private redis stopped");
}

int main(void)
{
    const char *redis_url = getenv("WGM_TEST_REDIS_URL");
    struct sigaction sa = { .sa_handler = on_fatal_signal };

    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(key_prefix, sizeof(key_prefix), "test_cache:%ld:%ld:", (long)getpid(),
             (long)time(NULL));
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    alarm(WATCHDOG_S);
    /* the daemonized redis-server becomes our child, so we can reap it */
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    run_suite("memory", NULL, NULL);
    run_suite("redis", redis_url && *redis_url ? redis_url : NULL,
              redis_url && *redis_url ? NULL : "WGM_TEST_REDIS_URL not set");

    printf("# URL handling and an unreachable Redis\n");
    t_bad_urls();
    t_unreachable();

    printf("# private redis-server: fallback and recovery\n");
    if (!have_program("redis-server")) {
        skip("fallback/recovery: redis-server is not installed");
    } else if (port_open(PRIV_PORT)) {
        skip("fallback/recovery: port 36390 is already in use");
    } else {
        char tmpl[] = "/tmp/wgm-test-cache-XXXXXX";

        if (!mkdtemp(tmpl)) {
            ok(0, "mkdtemp: %s", strerror(errno));
        } else {
            snprintf(priv_dir, sizeof(priv_dir), "%s", tmpl);
            snprintf(priv_pidfile, sizeof(priv_pidfile), "%s/redis.pid", priv_dir);
            atexit(priv_cleanup);
            t_private_redis();
        }
    }
    return done_testing();
}
