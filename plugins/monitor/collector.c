/* plugins/monitor/collector: one sampling round.  Reads /proc and /sys
 * (procfs.c), derives usage and rates against the previous round
 * (sample.c), adds the daemon's own figures (host->app_stats) and the
 * services' (services.c), then feeds the ring and rollups, publishes
 * system_status and lets the alert rules look at the values. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include "monitor.h"

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void set(struct mon_values *v, int id, bool has, double value)
{
    v->has[id] = has;
    v->v[id] = has ? value : 0;
}

static void system_values(const struct mon_sample *s, struct mon_values *v)
{
    set(v, M_CPU_USAGE, s->has_cpu_usage, s->cpu_usage);
    set(v, M_CPU_LOAD1, s->has_load, s->load[0]);
    set(v, M_CPU_LOAD5, s->has_load, s->load[1]);
    set(v, M_CPU_LOAD15, s->has_load, s->load[2]);
    set(v, M_CPU_TEMPERATURE, s->has_temperature, s->temperature);
    set(v, M_MEMORY_USAGE, s->has_mem, s->mem_usage_percent);
    set(v, M_MEMORY_USED, s->has_mem, (double)s->mem_used);
    set(v, M_MEMORY_FREE, s->has_mem, (double)s->mem_free);
    set(v, M_MEMORY_CACHED, s->has_mem, (double)s->mem_cached);
    set(v, M_MEMORY_BUFFERS, s->has_mem, (double)s->mem_buffers);
    set(v, M_DISK_USAGE, s->has_disk, s->disk_usage_percent);
    set(v, M_DISK_USED, s->has_disk, (double)s->disk_used);
    set(v, M_DISK_FREE, s->has_disk, (double)s->disk_free);
    set(v, M_DISK_READ_IOPS, s->has_iops, s->read_iops);
    set(v, M_DISK_WRITE_IOPS, s->has_iops, s->write_iops);
    set(v, M_NET_BYTES_SENT, s->has_net_rates, s->bytes_sent_ps);
    set(v, M_NET_BYTES_RECV, s->has_net_rates, s->bytes_recv_ps);
    set(v, M_NET_PACKETS_SENT, s->has_net_rates, s->packets_sent_ps);
    set(v, M_NET_PACKETS_RECV, s->has_net_rates, s->packets_recv_ps);
    set(v, M_NET_ERRORS, s->has_net_rates, s->errors_ps);
    set(v, M_NET_DROPS, s->has_net_rates, s->drops_ps);
}

/* Rates over the interval between two readings of the daemon's counters;
 * a ratio without requests in the interval is absent, not 0. */
static void app_values(const struct wgm_app_stats *a, const struct wgm_app_stats *p, double secs,
                       struct mon_values *v)
{
    set(v, M_API_ACTIVE_CONNECTIONS, true, a->http_connections);
    set(v, M_DB_CONNECTIONS_IN_USE, true, a->db_in_use);
    set(v, M_WS_CLIENTS, true, a->ws_clients);
    if (!p || secs <= 0 || a->http_requests < p->http_requests)
        return;
    uint64_t req = a->http_requests - p->http_requests;
    uint64_t errs = (a->http_client_errors - p->http_client_errors) + (a->http_server_errors - p->http_server_errors);
    uint64_t q = a->db_queries - p->db_queries;
    uint64_t look = (a->cache_hits - p->cache_hits) + (a->cache_misses - p->cache_misses);
    set(v, M_API_REQUESTS_PER_MINUTE, true, (double)req * 60.0 / secs);
    set(v, M_API_RESPONSE_TIME_AVG, req > 0, req ? (double)(a->http_total_us - p->http_total_us) / 1000.0 / (double)req : 0);
    set(v, M_API_ERROR_RATE, req > 0, req ? 100.0 * (double)errs / (double)req : 0);
    set(v, M_DB_QUERY_TIME_AVG, q > 0, q ? (double)(a->db_query_us - p->db_query_us) / 1000.0 / (double)q : 0);
    set(v, M_CACHE_HIT_RATE, look > 0, look ? 100.0 * (double)(a->cache_hits - p->cache_hits) / (double)look : 0);
}

static json_t *num_or_null(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

static void publish_status(const struct mon_sample *s)
{
    json_t *d = json_pack("{s:o,s:o,s:o,s:{s:I,s:I,s:o,s:o}}", "cpu_usage", num_or_null(s->has_cpu_usage, s->cpu_usage),
                          "memory_usage", num_or_null(s->has_mem, s->mem_usage_percent), "disk_usage",
                          num_or_null(s->has_disk, s->disk_usage_percent), "network_traffic", "bytes_sent",
                          (json_int_t)s->bytes_sent, "bytes_recv", (json_int_t)s->bytes_recv, "bytes_sent_per_second",
                          num_or_null(s->has_net_rates, s->bytes_sent_ps), "bytes_recv_per_second",
                          num_or_null(s->has_net_rates, s->bytes_recv_ps));
    if (d)
        mon.host->publish(mon.ctx, "system_status", d);
}

/* One round at a time: a dashboard refresh and the timer must not derive
 * against each other's snapshots out of order. */
static pthread_mutex_t collect_lock = PTHREAD_MUTEX_INITIALIZER;

static int collect(void);
int mon_collect_now(void)
{
    int r;
    pthread_mutex_lock(&collect_lock);
    r = collect();
    pthread_mutex_unlock(&collect_lock);
    return r;
}

/* The daemon's counters of recent rounds: application rates are taken over
 * the last minute (requests_per_minute means that), not over whatever
 * short time a dashboard refresh left since the previous round. */
#define APP_WINDOW_US 60000000u
#define APP_HISTORY 128
static struct {
    uint64_t us;
    struct wgm_app_stats a;
} app_hist[APP_HISTORY];
static size_t app_head, app_len;

/* The oldest reading within the window, or NULL; under mon.lock. */
static const struct wgm_app_stats *app_base(uint64_t now_us, double *secs)
{
    for (size_t k = app_len; k-- > 0;) {
        size_t i = (app_head + APP_HISTORY - 1 - k) % APP_HISTORY;
        if (now_us - app_hist[i].us <= APP_WINDOW_US && now_us > app_hist[i].us) {
            *secs = (double)(now_us - app_hist[i].us) / 1e6;
            return &app_hist[i].a;
        }
    }
    return NULL;
}

static int collect(void)
{
    struct mon_snapshot cur;
    struct mon_sample s;
    struct mon_values v;
    struct wgm_app_stats app = {.struct_size = sizeof(app)};
    uint64_t cpu0 = thread_cpu_ns(), now_us;
    int64_t now = (int64_t)time(NULL);
    const struct wgm_app_stats *base;
    double secs = 0;
    int r;

    memset(&v, 0, sizeof(v));
    if ((r = mon_snapshot_read(mon.root, &cur)) < 0)
        return r;
    mon.host->app_stats(mon.ctx, &app);
    now_us = mono_us();

    pthread_mutex_lock(&mon.lock);
    r = mon_sample_derive(mon.has_prev ? &mon.prev : NULL, &cur, &s);
    if (r < 0) {
        pthread_mutex_unlock(&mon.lock);
        mon_snapshot_clear(&cur);
        return r;
    }
    s.wall = (time_t)now;
    system_values(&s, &v);
    base = app_base(now_us, &secs);
    app_values(&app, base, secs, &v);
    app_hist[app_head].us = now_us;
    app_hist[app_head].a = app;
    app_head = (app_head + 1) % APP_HISTORY;
    if (app_len < APP_HISTORY)
        app_len++;
    mon_services_values(&v);
    mon_snapshot_clear(&mon.prev);
    mon.prev = cur;
    mon.has_prev = true;
    mon_sample_clear(&mon.sample);
    mon.sample = s;
    mon.has_sample = true;
    mon.values = v;
    mon.sampled_at = now;
    mon.app = app;
    r = mon_rollup_add(&mon.rollup, now, &v);
    mon.samples++;
    mon.sample_cpu_ns += thread_cpu_ns() - cpu0;
    publish_status(&mon.sample);
    pthread_mutex_unlock(&mon.lock);

    mon_alerts_evaluate(&v, now);
    return r;
}

void mon_collect_tick(struct wgm_ctx *ctx, void *data)
{
    static int64_t last_retention;
    int r;
    (void)ctx;
    (void)data;
    if ((r = mon_collect_now()) < 0)
        MON_LOG(WGM_LOG_WARN, "sampling failed: %s", strerror(-r));
    /* buckets close at minute boundaries, so this writes about once a minute */
    mon_store_flush();
    if (time(NULL) - last_retention >= 3600) {
        last_retention = time(NULL);
        mon_store_retention();
    }
}

/* The dashboard's system_metrics; null where the machine does not say. */
json_t *mon_system_metrics_json(void)
{
    const struct mon_sample *s = &mon.sample;
    json_t *out, *ifs, *mounts, *load;

    pthread_mutex_lock(&mon.lock);
    if (!mon.has_sample) {
        pthread_mutex_unlock(&mon.lock);
        return json_null();
    }
    load = s->has_load ? json_pack("[f,f,f]", s->load[0], s->load[1], s->load[2]) : json_null();
    ifs = json_array();
    for (size_t i = 0; i < s->n_netifs; i++) {
        const struct mon_netif_sample *n = &s->netifs[i];
        /* the totals' rule (sample.c): loopback traffic never leaves the
         * machine, so lo is in neither the totals nor this list */
        if (strcmp(n->name, "lo") == 0)
            continue;
        json_array_append_new(
            ifs, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "name", n->name, "bytes_sent", (json_int_t)n->bytes_sent,
                           "bytes_recv", (json_int_t)n->bytes_recv, "packets_sent", (json_int_t)n->packets_sent,
                           "packets_recv", (json_int_t)n->packets_recv, "errors", (json_int_t)n->errors, "drops",
                           (json_int_t)n->drops, "bytes_sent_per_second", num_or_null(n->has_rates, n->bytes_sent_ps),
                           "bytes_recv_per_second", num_or_null(n->has_rates, n->bytes_recv_ps)));
    }
    mounts = json_array();
    for (size_t i = 0; i < s->n_disks; i++) {
        const struct mon_disk_sample *d = &s->disks[i];
        json_array_append_new(
            mounts, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "mount", d->mount, "device", d->device, "fstype",
                              d->fstype, "total", d->has_space ? json_integer((json_int_t)d->total) : json_null(), "used",
                              d->has_space ? json_integer((json_int_t)d->used) : json_null(), "free",
                              d->has_space ? json_integer((json_int_t)d->free) : json_null(), "usage_percent",
                              num_or_null(d->has_space, d->usage_percent), "read_iops",
                              num_or_null(d->has_iops, d->read_iops), "write_iops", num_or_null(d->has_iops, d->write_iops)));
    }
    out = json_pack(
        "{s:{s:o,s:i,s:o,s:o},s:{s:o,s:o,s:o,s:o,s:o,s:o},s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o},s:{s:o},s:s}", "cpu", "usage",
        num_or_null(s->has_cpu_usage, s->cpu_usage), "cores", s->cores, "load_average", load, "temperature",
        num_or_null(s->has_temperature, s->temperature), "memory", "total",
        s->has_mem ? json_integer((json_int_t)s->mem_total) : json_null(), "used",
        s->has_mem ? json_integer((json_int_t)s->mem_used) : json_null(), "free",
        s->has_mem ? json_integer((json_int_t)s->mem_available) : json_null(), "usage_percent",
        num_or_null(s->has_mem, s->mem_usage_percent), "cached",
        s->has_mem ? json_integer((json_int_t)s->mem_cached) : json_null(), "buffers",
        s->has_mem ? json_integer((json_int_t)s->mem_buffers) : json_null(), "disk", "total",
        s->has_disk ? json_integer((json_int_t)s->disk_total) : json_null(), "used",
        s->has_disk ? json_integer((json_int_t)s->disk_used) : json_null(), "free",
        s->has_disk ? json_integer((json_int_t)s->disk_free) : json_null(), "usage_percent",
        num_or_null(s->has_disk, s->disk_usage_percent), "read_iops", num_or_null(s->has_iops, s->read_iops),
        "write_iops", num_or_null(s->has_iops, s->write_iops), "mounts", mounts, "network", "interfaces", ifs,
        "sampled_at", "");
    if (out) {
        char ts[32];
        wgm_time_format(mon.sampled_at, ts, sizeof(ts));
        json_object_set_new(out, "sampled_at", json_string(ts));
    }
    pthread_mutex_unlock(&mon.lock);
    return out ? out : json_null();
}
