/* plugins/monitor/prometheus: GET /metrics in the text exposition format.
 * The host renders every provider (the core's process/HTTP/database/cache
 * figures, wireguard.so's per-peer figures when it is loaded, and the
 * system figures below, from the latest sample).  Access, from [monitor]
 * prometheus: off (no route), loopback (open, but only to 127.0.0.0/8 and
 * ::1), or auth (a JWT or API key holding monitoring.view, as a Bearer
 * token: what Prometheus' authorization setting sends). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "monitor.h"

#define FAMILY(name, type, help) \
    if ((r = h->metrics_family(m, name, type, help)) < 0) \
        goto out
#define SAMPLE(v, ...) \
    if ((r = h->metrics_sample(m, v, (const char *const[]){__VA_ARGS__, NULL})) < 0) \
        goto out
#define SAMPLE0(v) \
    if ((r = h->metrics_sample(m, v, NULL)) < 0) \
        goto out

static int provide(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data)
{
    const struct wgm_host *h = mon.host;
    const struct mon_sample *s = &mon.sample;
    int r = 0;

    (void)ctx;
    (void)data;
    pthread_mutex_lock(&mon.lock);
    FAMILY("wgm_monitor_samples_total", "counter", "Sampling rounds of the monitor.");
    SAMPLE0((double)mon.samples);
    FAMILY("wgm_monitor_sample_cpu_seconds_total", "counter", "CPU time spent sampling /proc and /sys.");
    SAMPLE0((double)mon.sample_cpu_ns / 1e9);
    if (!mon.has_sample)
        goto out;
    if (s->has_cpu_usage) {
        FAMILY("wgm_system_cpu_usage_percent", "gauge", "CPU busy over the last sampling interval.");
        SAMPLE0(s->cpu_usage);
    }
    FAMILY("wgm_system_cpu_cores", "gauge", "CPU cores.");
    SAMPLE0(s->cores);
    if (s->has_load) {
        FAMILY("wgm_system_load_average", "gauge", "Load average.");
        SAMPLE(s->load[0], "period", "1m");
        SAMPLE(s->load[1], "period", "5m");
        SAMPLE(s->load[2], "period", "15m");
    }
    if (s->has_temperature) {
        FAMILY("wgm_system_temperature_celsius", "gauge", "Hottest thermal zone.");
        SAMPLE0(s->temperature);
    }
    if (s->has_mem) {
        FAMILY("wgm_system_memory_bytes", "gauge", "Memory by state.");
        SAMPLE((double)s->mem_total, "state", "total");
        SAMPLE((double)s->mem_used, "state", "used");
        SAMPLE((double)s->mem_free, "state", "free");
        SAMPLE((double)s->mem_available, "state", "available");
        SAMPLE((double)s->mem_cached, "state", "cached");
        SAMPLE((double)s->mem_buffers, "state", "buffers");
    }
    FAMILY("wgm_system_filesystem_bytes", "gauge", "Filesystem space by mount point and state.");
    for (size_t i = 0; i < s->n_disks; i++) {
        const struct mon_disk_sample *d = &s->disks[i];
        if (!d->has_space)
            continue;
        SAMPLE((double)d->total, "mount", d->mount, "device", d->device, "state", "total");
        SAMPLE((double)d->used, "mount", d->mount, "device", d->device, "state", "used");
        SAMPLE((double)d->free, "mount", d->mount, "device", d->device, "state", "free");
    }
    FAMILY("wgm_system_disk_iops", "gauge", "Completed I/Os per second over the last sampling interval.");
    for (size_t i = 0; i < s->n_disks; i++) {
        const struct mon_disk_sample *d = &s->disks[i];
        if (!d->has_iops)
            continue;
        SAMPLE(d->read_iops, "mount", d->mount, "device", d->device, "op", "read");
        SAMPLE(d->write_iops, "mount", d->mount, "device", d->device, "op", "write");
    }
    FAMILY("wgm_system_network_bytes_total", "counter", "Bytes by interface and direction.");
    for (size_t i = 0; i < s->n_netifs; i++) {
        SAMPLE((double)s->netifs[i].bytes_recv, "interface", s->netifs[i].name, "direction", "receive");
        SAMPLE((double)s->netifs[i].bytes_sent, "interface", s->netifs[i].name, "direction", "transmit");
    }
    FAMILY("wgm_system_network_packets_total", "counter", "Packets by interface and direction.");
    for (size_t i = 0; i < s->n_netifs; i++) {
        SAMPLE((double)s->netifs[i].packets_recv, "interface", s->netifs[i].name, "direction", "receive");
        SAMPLE((double)s->netifs[i].packets_sent, "interface", s->netifs[i].name, "direction", "transmit");
    }
    FAMILY("wgm_system_network_errors_total", "counter", "Receive and transmit errors by interface.");
    for (size_t i = 0; i < s->n_netifs; i++)
        SAMPLE((double)s->netifs[i].errors, "interface", s->netifs[i].name);
    FAMILY("wgm_system_network_drops_total", "counter", "Receive and transmit drops by interface.");
    for (size_t i = 0; i < s->n_netifs; i++)
        SAMPLE((double)s->netifs[i].drops, "interface", s->netifs[i].name);
out:
    pthread_mutex_unlock(&mon.lock);
    return r;
}

static bool loopback(const char *addr)
{
    return addr && (strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 || strncmp(addr, "::ffff:127.", 11) == 0);
}

static int serve(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    char *text = NULL;
    size_t len = 0;
    int r;

    if (strcmp(mon.host->conf_get(mon.ctx, "prometheus"), "loopback") == 0 &&
        !loopback(mon.host->req_remote_addr(req)))
        return wgm_resp_error(resp, 403, "INSUFFICIENT_PERMISSIONS", "/metrics is served to loopback clients only", NULL);
    if ((r = mon.host->metrics_render(ctx, &text, &len)) < 0)
        return r;
    r = mon.host->resp_raw(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    mon.host->free(text);
    return r;
}

int mon_prometheus_register(void)
{
    const char *mode = mon.host->conf_get(mon.ctx, "prometheus");
    int r;
    if ((r = mon.host->metrics_register(mon.ctx, provide, NULL)) < 0 || strcmp(mode, "off") == 0)
        return r;
    return mon.host->route_add_root(mon.ctx, "GET", "/metrics",
                                    strcmp(mode, "auth") == 0 ? "monitoring.view" : WGM_PERM_PUBLIC, serve);
}
