/* core/metrics_core: the daemon's own figures — for host->app_stats (the
 * monitor's dashboard) and as the first Prometheus provider (process, HTTP,
 * database, cache, WebSocket).  Everything is read from the subsystems'
 * counters or /proc/self at the time of the call. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "cache/cache.h"
#include "daemon.h"
#include "db/db.h"
#include "http/server.h"
#include "metrics.h"
#include "ws/hub.h"

void wgm_app_stats_fill(struct wgm_daemon *d, struct wgm_app_stats *out)
{
    struct wgm_http_stats hs = {0};
    struct wgm_db_stats ds = {0};
    struct wgm_cache_stats cs = {0};

    memset(out, 0, sizeof(*out));
    out->struct_size = sizeof(*out);
    if (d->http)
        wgm_http_stats(d->http, &hs);
    wgm_db_pool_stats(d->db, &ds);
    wgm_cache_stats(d->cache, &cs);
    out->http_requests = hs.requests;
    out->http_client_errors = hs.client_errors;
    out->http_server_errors = hs.server_errors;
    out->http_total_us = hs.total_us;
    out->http_in_flight = hs.in_flight;
    out->http_connections = hs.connections;
    out->ws_clients = wgm_ws_client_count(d);
    out->db_pool_size = ds.size;
    out->db_open = ds.open;
    out->db_in_use = ds.in_use;
    out->db_queries = ds.queries;
    out->db_query_us = ds.query_us;
    out->db_slow_queries = ds.slow_queries;
    out->cache_hits = cs.hits;
    out->cache_misses = cs.misses;
    out->cache_keys = cs.keys;
    out->cache_memory_bytes = cs.memory_bytes;
    out->cache_backend = d->cache ? wgm_cache_backend(d->cache) : "memory";
    out->cache_degraded = cs.degraded;
}

/* utime, stime (ticks), vsize (bytes), rss (pages) from /proc/self/stat. */
static int self_stat(double *cpu_s, double *vsize, double *rss)
{
    char buf[1024], *p;
    unsigned long ut, st, vs;
    long rs;
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name may hold spaces and parentheses: fields start after the last ')' */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %*u %lu %ld",
               &ut, &st, &vs, &rs) != 4)
        return -1;
    *cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    *vsize = (double)vs;
    *rss = (double)rs * (double)sysconf(_SC_PAGESIZE);
    return 0;
}

static double open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    double n = 0;
    if (!dir)
        return -1;
    while ((e = readdir(dir)))
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n - 1; /* the directory stream's own descriptor */
}

#define FAMILY(name, type, help) \
    if ((r = wgm_metrics_family(m, name, type, help)) < 0) \
        return r
#define SAMPLE(v, labels) \
    if ((r = wgm_metrics_sample(m, v, labels)) < 0) \
        return r

int wgm_metrics_core(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data)
{
    struct wgm_daemon *d = data;
    struct wgm_app_stats s;
    struct rlimit rl;
    double cpu, vsize, rss, fds;
    int r;

    (void)ctx;
    wgm_app_stats_fill(d, &s);
    if (self_stat(&cpu, &vsize, &rss) == 0) {
        FAMILY("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        SAMPLE(cpu, NULL);
        FAMILY("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        SAMPLE(vsize, NULL);
        FAMILY("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        SAMPLE(rss, NULL);
    }
    if ((fds = open_fds()) >= 0) {
        FAMILY("process_open_fds", "gauge", "Number of open file descriptors.");
        SAMPLE(fds, NULL);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        FAMILY("process_max_fds", "gauge", "Maximum number of open file descriptors.");
        SAMPLE((double)rl.rlim_cur, NULL);
    }
    FAMILY("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    SAMPLE((double)d->started, NULL);

    FAMILY("wgm_http_requests_total", "counter", "HTTP requests answered, by status class.");
    SAMPLE((double)(s.http_requests - s.http_client_errors - s.http_server_errors),
           ((const char *const[]){"class", "ok", NULL}));
    SAMPLE((double)s.http_client_errors, ((const char *const[]){"class", "4xx", NULL}));
    SAMPLE((double)s.http_server_errors, ((const char *const[]){"class", "5xx", NULL}));
    FAMILY("wgm_http_request_duration_seconds_total", "counter", "Summed handling time of the answered requests.");
    SAMPLE((double)s.http_total_us / 1e6, NULL);
    FAMILY("wgm_http_requests_in_flight", "gauge", "Requests being handled now.");
    SAMPLE(s.http_in_flight, NULL);
    FAMILY("wgm_http_connections", "gauge", "Open HTTP connections.");
    SAMPLE(s.http_connections, NULL);
    FAMILY("wgm_websocket_clients", "gauge", "Connected WebSocket clients.");
    SAMPLE(s.ws_clients, NULL);

    FAMILY("wgm_db_pool_connections", "gauge", "Database pool connections by state.");
    SAMPLE(s.db_pool_size, ((const char *const[]){"state", "configured", NULL}));
    SAMPLE(s.db_open, ((const char *const[]){"state", "open", NULL}));
    SAMPLE(s.db_in_use, ((const char *const[]){"state", "in_use", NULL}));
    FAMILY("wgm_db_queries_total", "counter", "Statements executed.");
    SAMPLE((double)s.db_queries, NULL);
    FAMILY("wgm_db_query_duration_seconds_total", "counter", "Summed statement execution time.");
    SAMPLE((double)s.db_query_us / 1e6, NULL);
    FAMILY("wgm_db_slow_queries_total", "counter", "Statements that took 100 ms or more.");
    SAMPLE((double)s.db_slow_queries, NULL);

    FAMILY("wgm_cache_lookups_total", "counter", "Cache lookups by result.");
    SAMPLE((double)s.cache_hits, ((const char *const[]){"result", "hit", NULL}));
    SAMPLE((double)s.cache_misses, ((const char *const[]){"result", "miss", NULL}));
    FAMILY("wgm_cache_keys", "gauge", "Keys in the cache backend.");
    SAMPLE((double)s.cache_keys, ((const char *const[]){"backend", s.cache_backend, NULL}));
    if (s.cache_memory_bytes >= 0) {
        FAMILY("wgm_cache_memory_bytes", "gauge", "Memory the cache backend uses.");
        SAMPLE((double)s.cache_memory_bytes, ((const char *const[]){"backend", s.cache_backend, NULL}));
    }
    FAMILY("wgm_cache_degraded", "gauge", "1 while Redis is configured but not answering.");
    SAMPLE(s.cache_degraded, NULL);
    return 0;
}
