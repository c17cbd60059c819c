/* libFuzzer harness for plugins/monitor/procfs and sample: the input, made
 * a C string, given to every text parser (stat, loadavg, meminfo, net/dev,
 * mountinfo then diskstats, a temperature file); then split at an
 * input-chosen point into a previous and a current snapshot (each half
 * through every parser) and the two derived into a sample.
 *
 * Invariants: only 0 or -ENOMEM; lists within MON_LIST_MAX; names
 * NUL-terminated inside their fields; disks sorted by mount point, absolute,
 * one per major:minor; a temperature in range; derived percentages within
 * 0..100 and rates finite and not negative. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/monitor/procfs.h"
#include "../../plugins/monitor/sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rc(int rc)
{
    if (rc != 0 && rc != -ENOMEM)
        abort();
}

static void check_str(const char *s, size_t size)
{
    if (!memchr(s, '\0', size))
        abort();
}

static void check_snapshot(const struct mon_snapshot *s)
{
    size_t i;

    if (s->n_netifs > MON_LIST_MAX || s->n_disks > MON_LIST_MAX || (s->n_netifs && !s->netifs) ||
        (s->n_disks && !s->disks) || s->cores < 0 || s->cores > MON_LIST_MAX)
        abort();
    for (i = 0; i < s->n_netifs; i++) {
        check_str(s->netifs[i].name, sizeof(s->netifs[i].name));
        if (s->netifs[i].name[0] == '\0' || strpbrk(s->netifs[i].name, " \t\n:"))
            abort();
    }
    for (i = 0; i < s->n_disks; i++) {
        const struct mon_disk *d = &s->disks[i];

        check_str(d->mount, sizeof(d->mount));
        check_str(d->device, sizeof(d->device));
        check_str(d->fstype, sizeof(d->fstype));
        if (d->mount[0] != '/' || (i > 0 && strcmp(s->disks[i - 1].mount, d->mount) > 0))
            abort();
    }
    /* One entry per device: quadratic, but fuzz inputs are small. */
    for (i = 0; i < s->n_disks && s->n_disks < 512; i++)
        for (size_t j = i + 1; j < s->n_disks; j++)
            if (s->disks[i].major == s->disks[j].major && s->disks[i].minor == s->disks[j].minor)
                abort();
    if (s->has_load && (!isfinite(s->load[0]) || s->load[0] < 0 || s->load[1] < 0 || s->load[2] < 0))
        abort();
}

static void check_pct(double v)
{
    if (!(v >= 0 && v <= 100))
        abort();
}

static void check_rate(double v)
{
    if (!isfinite(v) || v < 0)
        abort();
}

static void check_sample(const struct mon_sample *m)
{
    size_t i;

    if (m->has_cpu_usage)
        check_pct(m->cpu_usage);
    if (m->has_mem) {
        check_pct(m->mem_usage_percent);
        if (m->mem_used > m->mem_total)
            abort();
    }
    check_pct(m->disk_usage_percent);
    check_rate(m->read_iops);
    check_rate(m->write_iops);
    check_rate(m->bytes_sent_ps);
    check_rate(m->drops_ps);
    for (i = 0; i < m->n_disks; i++) {
        check_pct(m->disks[i].usage_percent);
        check_rate(m->disks[i].read_iops);
        check_rate(m->disks[i].write_iops);
    }
    for (i = 0; i < m->n_netifs; i++) {
        const struct mon_netif_sample *n = &m->netifs[i];

        check_rate(n->bytes_sent_ps);
        check_rate(n->bytes_recv_ps);
        check_rate(n->packets_sent_ps);
        check_rate(n->packets_recv_ps);
        check_rate(n->errors_ps);
        check_rate(n->drops_ps);
        if (!n->has_rates && n->bytes_sent_ps != 0)
            abort();
    }
}

/* Every parser over @text into @s (which it owns afterwards). */
static void parse_all(const char *text, struct mon_snapshot *s)
{
    double t;

    check_rc(mon_parse_stat(text, s));
    check_rc(mon_parse_loadavg(text, s));
    check_rc(mon_parse_meminfo(text, s));
    check_rc(mon_parse_netdev(text, s));
    check_rc(mon_parse_mountinfo(text, s));
    check_rc(mon_parse_diskstats(text, s));
    if (mon_parse_millidegrees(text, &t) == 0 && !(t > -100 && t <= 200))
        abort();
    check_snapshot(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mon_snapshot prev = {.taken = {1, 0}}, cur = {.taken = {3, 500000000}};
    struct mon_sample m;
    size_t cut = size ? (size_t)data[0] * 131 % (size + 1) : 0;
    char *text = malloc(size + 1);

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    /* The halves: text[0, cut) and text[cut, size). */
    parse_all(text + cut, &cur);
    text[cut] = '\0';
    parse_all(text, &prev);
    check_rc(mon_sample_derive(&prev, &cur, &m));
    check_sample(&m);
    mon_sample_clear(&m);
    check_rc(mon_sample_derive(NULL, &cur, &m));
    check_sample(&m);
    mon_sample_clear(&m);

    mon_snapshot_clear(&prev);
    mon_snapshot_clear(&cur);
    free(text);
    return 0;
}
