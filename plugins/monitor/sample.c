/* Usage and rates from two snapshots (sample.h).  Items of the previous
 * snapshot are found through a sorted array of pointers and bsearch(), so
 * a thousand interfaces cost a thousand lookups, not a million compares. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static double percent(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* (@cur - @prev) / @dt into *@out; false when the counter went backwards. */
static bool rate(uint64_t prev, uint64_t cur, double dt, double *out)
{
    if (cur < prev)
        return false;
    *out = (double)(cur - prev) / dt;
    return true;
}

/* Sort pointers to the @n items of @items (each @size bytes) with @cmp;
 * the index is searched with bsearch() and the same @cmp.  NULL on ENOMEM. */
static const void **index_new(const void *items, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    const void **index = calloc(n ? n : 1, sizeof(*index));
    size_t i;

    if (!index)
        return NULL;
    for (i = 0; i < n; i++)
        index[i] = (const char *)items + i * size;
    qsort(index, n, sizeof(*index), cmp);
    return index;
}

/* The item of @index that @cmp finds equal to the item @key, or NULL. */
static const void *index_find(const void **index, size_t n, const void *key, int (*cmp)(const void *, const void *))
{
    const void *const *hit = index ? bsearch(&key, index, n, sizeof(*index), cmp) : NULL;

    return hit ? *hit : NULL;
}

/* ------------------------------------------------------------------ */
/* CPU and memory                                                      */

static uint64_t cpu_total(const struct mon_cpu_times *t)
{
    return t->user + t->nice + t->system + t->idle + t->iowait + t->irq + t->softirq + t->steal;
}

static void derive_cpu(const struct mon_snapshot *prev, const struct mon_snapshot *cur, struct mon_sample *out)
{
    const struct mon_cpu_times *a = &prev->cpu, *b = &cur->cpu;
    uint64_t ta = cpu_total(a), tb = cpu_total(b);
    double idle;

    /* A total going backwards is a reset (CPU hotplug, VM restore). */
    if (!prev->has_cpu || !cur->has_cpu || tb <= ta)
        return;
    /* iowait alone may go backwards (Documentation/filesystems/proc.rst),
     * so the idle delta is signed and the result clamped. */
    idle = ((double)b->idle + (double)b->iowait) - ((double)a->idle + (double)a->iowait);
    out->cpu_usage = 100.0 * (1.0 - idle / (double)(tb - ta));
    if (out->cpu_usage < 0)
        out->cpu_usage = 0;
    if (out->cpu_usage > 100)
        out->cpu_usage = 100;
    out->has_cpu_usage = true;
}

static void derive_mem(const struct mon_snapshot *cur, struct mon_sample *out)
{
    uint64_t total = cur->mem_total, avail;

    if (!cur->has_mem || total == 0)
        return;
    if (cur->has_mem_available)
        avail = cur->mem_available;
    else /* before Linux 3.14: the old free(1) arithmetic */
        avail = sat_add(sat_add(cur->mem_free, cur->mem_cached), cur->mem_buffers);
    if (avail > total)
        avail = total;
    out->has_mem = true;
    out->mem_total = total;
    out->mem_used = total - avail;
    out->mem_available = avail;
    out->mem_free = cur->mem_free;
    out->mem_cached = cur->mem_cached;
    out->mem_buffers = cur->mem_buffers;
    out->mem_usage_percent = percent(out->mem_used, total);
}

/* ------------------------------------------------------------------ */
/* Disks                                                               */

/* The same filesystem: same mount point and same device. */
static int cmp_disk(const void *a, const void *b)
{
    const struct mon_disk *x = *(const struct mon_disk *const *)a, *y = *(const struct mon_disk *const *)b;
    int c = strcmp(x->mount, y->mount);

    if (c)
        return c;
    if (x->major != y->major)
        return x->major < y->major ? -1 : 1;
    return x->minor < y->minor ? -1 : x->minor > y->minor;
}

/* @s from the current disk @c and, when found, the previous one @p. */
static void disk_one(const struct mon_disk *p, const struct mon_disk *c, double dt, struct mon_disk_sample *s)
{
    double r, w;

    memcpy(s->mount, c->mount, sizeof(s->mount));
    memcpy(s->device, c->device, sizeof(s->device));
    memcpy(s->fstype, c->fstype, sizeof(s->fstype));
    if (c->has_space) {
        s->has_space = true;
        s->total = c->total;
        s->used = c->used;
        s->free = c->free;
        s->usage_percent = percent(c->used, sat_add(c->used, c->free));
    }
    if (p && p->has_io && c->has_io && rate(p->reads, c->reads, dt, &r) && rate(p->writes, c->writes, dt, &w)) {
        s->has_iops = true;
        s->read_iops = r;
        s->write_iops = w;
    }
}

static int derive_disks(const struct mon_snapshot *prev, const struct mon_snapshot *cur, double dt,
                        struct mon_sample *out)
{
    const void **index = NULL;
    size_t i;

    if (cur->n_disks == 0)
        return 0;
    out->disks = calloc(cur->n_disks, sizeof(*out->disks));
    if (prev)
        index = index_new(prev->disks, prev->n_disks, sizeof(*prev->disks), cmp_disk);
    if (!out->disks || (prev && !index)) {
        free(index);
        return -ENOMEM;
    }
    out->n_disks = cur->n_disks;
    for (i = 0; i < cur->n_disks; i++) {
        const struct mon_disk *c = &cur->disks[i];
        const struct mon_disk *p = prev ? index_find(index, prev->n_disks, c, cmp_disk) : NULL;
        struct mon_disk_sample *s = &out->disks[i];

        disk_one(p, c, dt, s);
        if (s->has_space) {
            out->has_disk = true;
            out->disk_total = sat_add(out->disk_total, s->total);
            out->disk_used = sat_add(out->disk_used, s->used);
            out->disk_free = sat_add(out->disk_free, s->free);
        }
        if (s->has_iops) {
            out->has_iops = true;
            out->read_iops += s->read_iops;
            out->write_iops += s->write_iops;
        }
    }
    out->disk_usage_percent = percent(out->disk_used, sat_add(out->disk_used, out->disk_free));
    free(index);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Network                                                             */

static int cmp_netif(const void *a, const void *b)
{
    return strcmp((*(const struct mon_netif *const *)a)->name, (*(const struct mon_netif *const *)b)->name);
}

/* The cumulative half of a netif sample. */
static void netif_counters(const struct mon_netif *n, struct mon_netif_sample *s)
{
    memcpy(s->name, n->name, sizeof(s->name));
    s->bytes_sent = n->tx_bytes;
    s->bytes_recv = n->rx_bytes;
    s->packets_sent = n->tx_packets;
    s->packets_recv = n->rx_packets;
    s->errors = sat_add(n->rx_errors, n->tx_errors);
    s->drops = sat_add(n->rx_drops, n->tx_drops);
}

/* The rates of @s against the counters @p had.  False, @s untouched, if
 * any went backwards. */
static bool netif_rates(const struct mon_netif *p, double dt, struct mon_netif_sample *s)
{
    struct mon_netif_sample a, r = *s;

    netif_counters(p, &a);
    if (!rate(a.bytes_sent, r.bytes_sent, dt, &r.bytes_sent_ps) ||
        !rate(a.bytes_recv, r.bytes_recv, dt, &r.bytes_recv_ps) ||
        !rate(a.packets_sent, r.packets_sent, dt, &r.packets_sent_ps) ||
        !rate(a.packets_recv, r.packets_recv, dt, &r.packets_recv_ps) ||
        !rate(a.errors, r.errors, dt, &r.errors_ps) || !rate(a.drops, r.drops, dt, &r.drops_ps))
        return false;
    r.has_rates = true;
    *s = r;
    return true;
}

static int derive_netifs(const struct mon_snapshot *prev, const struct mon_snapshot *cur, double dt,
                         struct mon_sample *out)
{
    const void **index = NULL;
    size_t i;

    if (cur->n_netifs == 0)
        return 0;
    out->netifs = calloc(cur->n_netifs, sizeof(*out->netifs));
    if (prev)
        index = index_new(prev->netifs, prev->n_netifs, sizeof(*prev->netifs), cmp_netif);
    if (!out->netifs || (prev && !index)) {
        free(index);
        return -ENOMEM;
    }
    out->n_netifs = cur->n_netifs;
    for (i = 0; i < cur->n_netifs; i++) {
        const struct mon_netif *c = &cur->netifs[i];
        const struct mon_netif *p = prev ? index_find(index, prev->n_netifs, c, cmp_netif) : NULL;
        struct mon_netif_sample *s = &out->netifs[i];
        /* Loopback traffic never leaves the machine: not in the totals. */
        bool lo = strcmp(c->name, "lo") == 0;

        netif_counters(c, s);
        if (p)
            netif_rates(p, dt, s);
        if (lo)
            continue;
        out->bytes_sent = sat_add(out->bytes_sent, s->bytes_sent);
        out->bytes_recv = sat_add(out->bytes_recv, s->bytes_recv);
        if (!s->has_rates)
            continue;
        out->has_net_rates = true;
        out->bytes_sent_ps += s->bytes_sent_ps;
        out->bytes_recv_ps += s->bytes_recv_ps;
        out->packets_sent_ps += s->packets_sent_ps;
        out->packets_recv_ps += s->packets_recv_ps;
        out->errors_ps += s->errors_ps;
        out->drops_ps += s->drops_ps;
    }
    free(index);
    return 0;
}

/* ------------------------------------------------------------------ */

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

int mon_sample_derive(const struct mon_snapshot *prev, const struct mon_snapshot *cur, struct mon_sample *out)
{
    double dt = 0;
    int r;

    if (!cur || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->wall = time(NULL);
    if (prev) {
        derive_cpu(prev, cur, out);
        dt = seconds_between(&prev->taken, &cur->taken);
    }
    out->cores = cur->cores;
    out->has_load = cur->has_load;
    memcpy(out->load, cur->load, sizeof(out->load));
    out->has_temperature = cur->has_temperature;
    out->temperature = cur->temperature;
    derive_mem(cur, out);

    /* Rates need time to have passed: otherwise they are all absent. */
    if (dt <= 0)
        prev = NULL;
    r = derive_disks(prev, cur, dt, out);
    if (r == 0)
        r = derive_netifs(prev, cur, dt, out);
    if (r < 0)
        mon_sample_clear(out);
    return r;
}

void mon_sample_clear(struct mon_sample *s)
{
    if (!s)
        return;
    free(s->disks);
    free(s->netifs);
    memset(s, 0, sizeof(*s));
}
