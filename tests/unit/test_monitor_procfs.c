/* Unit tests for plugins/monitor/procfs and sample: snapshots of the
 * fixture trees under tests/fixtures/procfs/ (a normal machine, a
 * container, an old minimal kernel, garbage), the parsers on strings, the
 * derivation on hand-made snapshots with exact expected figures, and the
 * real machine (invariants only). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "procfs.h"
#include "sample.h"

#define KB 1024ull

/* The fixture tree @name: under $WGM_TEST_SRCDIR (make check sets it),
 * else the source directory this was configured from. */
static const char *fixture(const char *name)
{
    static char path[PATH_MAX];
    const char *src = getenv("WGM_TEST_SRCDIR");

    if (!src || !*src)
        src = MON_TEST_SRCDIR;
    snprintf(path, sizeof(path), "%s/tests/fixtures/procfs/%s", src, name);
    return path;
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 1e-9 * (fabs(want) > 1 ? fabs(want) : 1);
}

#define is_dbl(got, want, name) do { double g_ = (got), w_ = (want); \
        ok(near(g_, w_), "%s (got %.9g, want %.9g)", name, g_, w_); } while (0)

static const struct mon_disk *disk_at(const struct mon_snapshot *s, const char *mount)
{
    for (size_t i = 0; i < s->n_disks; i++)
        if (strcmp(s->disks[i].mount, mount) == 0)
            return &s->disks[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Fixture trees                                                       */

static void test_normal(void)
{
    struct mon_snapshot s;
    struct mon_sample m;
    const struct mon_disk *d;

    is_int(mon_snapshot_read(fixture("normal"), &s), 0, "normal: read");
    ok(s.has_cpu, "normal: cpu line");
    is_int(s.cpu.user, 10132153, "cpu user");
    is_int(s.cpu.nice, 290696, "cpu nice");
    is_int(s.cpu.system, 3084719, "cpu system");
    is_int(s.cpu.idle, 46828483, "cpu idle");
    is_int(s.cpu.iowait, 16683, "cpu iowait");
    is_int(s.cpu.softirq, 25195, "cpu softirq");
    is_int(s.cpu.steal, 0, "cpu steal (guest columns ignored)");
    is_int(s.cores, 4, "four cpuN lines");

    ok(s.has_load && near(s.load[0], 0.52) && near(s.load[1], 1.05) && near(s.load[2], 2.50),
       "load 0.52 1.05 2.50");
    ok(s.has_temperature, "temperature");
    is_dbl(s.temperature, 61.5, "hottest thermal zone wins over hwmon, -273.2 ignored");

    ok(s.has_mem && s.has_mem_available, "meminfo with MemAvailable");
    is_int(s.mem_total, 16318480 * KB, "MemTotal in bytes");
    is_int(s.mem_free, 8123456 * KB, "MemFree");
    is_int(s.mem_available, 12345678 * KB, "MemAvailable");
    is_int(s.mem_buffers, 234567 * KB, "Buffers");
    is_int(s.mem_cached, (3456789 + 345678) * KB, "Cached + SReclaimable (not SwapCached)");

    is_int(s.n_netifs, 3, "three interfaces");
    if (s.n_netifs == 3) {
        is_str(s.netifs[0].name, "eth0", "sorted by name: eth0");
        is_str(s.netifs[1].name, "lo", "then lo");
        is_str(s.netifs[2].name, "wg0", "then wg0");
        ok(s.netifs[0].rx_bytes == 22638293 && s.netifs[0].rx_packets == 646 && s.netifs[0].rx_errors == 1 &&
               s.netifs[0].rx_drops == 2,
           "eth0 receive columns");
        ok(s.netifs[0].tx_bytes == 41013 && s.netifs[0].tx_packets == 483 && s.netifs[0].tx_errors == 3 &&
               s.netifs[0].tx_drops == 4,
           "eth0 transmit columns");
        ok(s.netifs[2].tx_drops == 5 && s.netifs[2].tx_bytes == 2000, "wg0 columns");
    }

    /* Counted: / (the bind mount /srv/data of 8:1 folded into it), /boot/efi,
     * the btrfs /data, "/home/my disk".  Not: proc, sysfs, udev, tmpfs,
     * cgroup2, a docker overlay, a snap squashfs, nfs. */
    is_int(s.n_disks, 4, "four real filesystems");
    if (s.n_disks == 4) {
        is_str(s.disks[0].mount, "/", "sorted by mount: /");
        is_str(s.disks[1].mount, "/boot/efi", "/boot/efi");
        is_str(s.disks[2].mount, "/data", "/data");
        is_str(s.disks[3].mount, "/home/my disk", "\\040 decoded to a space");
    }
    d = disk_at(&s, "/");
    ok(d && strcmp(d->device, "/dev/sda1") == 0 && strcmp(d->fstype, "ext4") == 0 && d->major == 8 && d->minor == 1,
       "/ is /dev/sda1 ext4 8:1");
    ok(d && d->has_io && d->reads == 4000 && d->writes == 2500, "/ I/Os from sda1's diskstats line");
    ok(d && d->has_space && d->total > 0 && d->used <= d->total && d->free <= d->total,
       "/ statvfs'd at the fixture root");
    d = disk_at(&s, "/boot/efi");
    ok(d && d->has_io && d->reads == 42 && d->writes == 7 && d->major == 259, "nvme partition I/Os");
    ok(d && !d->has_space, "no such directory in the tree: no space, not an error");
    d = disk_at(&s, "/data");
    ok(d && strcmp(d->fstype, "btrfs") == 0 && !d->has_io, "btrfs on an anonymous device: no I/O counters");
    d = disk_at(&s, "/home/my disk");
    ok(d && d->has_io && d->reads == 600 && d->writes == 100, "11-column (old kernel) diskstats line");
    ok(!disk_at(&s, "/srv/data"), "bind mount of the same device dropped");

    /* The first sample of this tree. */
    is_int(mon_sample_derive(NULL, &s, &m), 0, "normal: derive without prev");
    ok(!m.has_cpu_usage && !m.has_net_rates && !m.has_iops, "first sample: no cpu usage, no rates");
    is_int(m.cores, 4, "cores copied");
    ok(m.has_mem, "memory");
    is_int(m.mem_used, (16318480 - 12345678) * KB, "used = total - MemAvailable");
    is_int(m.mem_available, 12345678 * KB, "available");
    is_dbl(m.mem_usage_percent, 100.0 * (16318480 - 12345678) / 16318480, "memory percent");
    is_int(m.bytes_sent, 41013 + 2000, "bytes sent without lo");
    is_int(m.bytes_recv, 22638293 + 1000, "bytes received without lo");
    ok(m.has_disk && m.disk_total == disk_at(&s, "/")->total, "disk totals over the mounts with space");
    is_int(m.n_disks, 4, "four disk samples");
    is_int(m.n_netifs, 3, "three netif samples");
    ok(m.n_netifs == 3 && !m.netifs[0].has_rates && m.netifs[0].errors == 4 && m.netifs[0].drops == 6,
       "eth0 sample: errors and drops are rx + tx");
    mon_sample_clear(&m);
    mon_snapshot_clear(&s);
    ok(s.disks == NULL && s.netifs == NULL && s.n_disks == 0 && !s.has_cpu, "clear zeroes");
}

static void test_minimal(void)
{
    struct mon_snapshot s;
    struct mon_sample m;

    is_int(mon_snapshot_read(fixture("minimal"), &s), 0, "minimal: missing files are not errors");
    ok(s.has_cpu && s.cpu.user == 100 && s.cpu.system == 50 && s.cpu.idle == 850 && s.cpu.iowait == 0,
       "four-field cpu line, the rest 0");
    is_int(s.cores, 1, "one core");
    ok(!s.has_load && !s.has_temperature, "no loadavg, no temperature");
    ok(s.has_mem && !s.has_mem_available, "meminfo without MemAvailable");
    is_int(s.n_disks, 0, "no mountinfo: no disks");
    is_int(s.n_netifs, 0, "no net/dev: no interfaces");
    is_int(mon_sample_derive(NULL, &s, &m), 0, "derive");
    is_int(m.mem_used, (1000000 - 300000 - 150000 - 50000) * KB, "used = total - free - cached - buffers");
    is_dbl(m.mem_usage_percent, 50.0, "50%");
    ok(!m.has_disk && !m.has_iops && !m.has_net_rates && !m.has_load && !m.has_temperature,
       "everything else absent");
    mon_sample_clear(&m);
    mon_snapshot_clear(&s);
}

static void test_container(void)
{
    struct mon_snapshot s;
    const struct mon_disk *d;

    is_int(mon_snapshot_read(fixture("container"), &s), 0, "container: read");
    ok(!s.has_cpu && !s.has_mem && s.n_netifs == 0, "no stat, meminfo or net/dev");
    is_int(s.n_disks, 3, "overlay root, one mount of sda1, one of sdc1");
    if (s.n_disks == 3) {
        is_str(s.disks[0].mount, "/", "overlay at /");
        is_str(s.disks[1].mount, "/etc/hosts", "sda1 once: the shortest of its four mount points");
        is_str(s.disks[2].mount, "/mnt/b", "equal lengths: the first in the file");
    }
    d = disk_at(&s, "/");
    ok(d && strcmp(d->fstype, "overlay") == 0 && d->has_space && !d->has_io, "overlay root: space, no I/O");
    d = disk_at(&s, "/etc/hosts");
    ok(d && d->has_io && d->reads == 11 && d->writes == 22, "sda1 I/Os");
    mon_snapshot_clear(&s);
}

static void test_garbage(void)
{
    struct mon_snapshot s;
    const struct mon_disk *d;

    is_int(mon_snapshot_read(fixture("garbage"), &s), 0, "garbage: read");
    ok(s.has_cpu && s.cpu.user == 10 && s.cpu.idle == 40 && s.cpu.iowait == 50,
       "the first well-formed cpu line");
    is_int(s.cores, 2, "cpu0 and cpu1; cpux and an overflowing number are not cores");
    ok(!s.has_load, "bad loadavg: absent");
    ok(!s.has_mem, "MemTotal overflowing: no memory");
    is_int(s.mem_cached, 12 * KB, "Cached read, overflowing SReclaimable skipped");
    is_int(s.mem_free, 0, "MemFree in MB skipped");
    ok(s.has_temperature, "temperature from hwmon");
    is_dbl(s.temperature, 47.5, "no valid thermal zone: hottest hwmon temp*_input");
    is_int(s.n_netifs, 1, "only one well-formed interface");
    if (s.n_netifs == 1) {
        is_str(s.netifs[0].name, "wg0", "wg0 (no blank after the colon)");
        ok(s.netifs[0].rx_bytes == 1 && s.netifs[0].rx_drops == 4 && s.netifs[0].tx_bytes == 9 &&
               s.netifs[0].tx_drops == 12,
           "wg0 columns");
    }
    is_int(s.n_disks, 2, "two well-formed mounts");
    d = disk_at(&s, "/data\\x");
    ok(d && d->has_io && d->reads == 70 && d->writes == 80, "\\134 is a backslash; the first complete I/O line");
    ok(disk_at(&s, "/w\\04") != NULL, "a cut escape stays literal");
    mon_snapshot_clear(&s);
}

static void test_bad_args(void)
{
    struct mon_snapshot s;
    char *root = malloc(PATH_MAX + 10);

    is_int(mon_snapshot_read(NULL, &s), -EINVAL, "NULL root");
    is_int(mon_snapshot_read("/", NULL), -EINVAL, "NULL out");
    if (root) {
        memset(root, 'a', PATH_MAX + 9);
        root[0] = '/';
        root[PATH_MAX + 9] = '\0';
        is_int(mon_snapshot_read(root, &s), -ENAMETOOLONG, "root too long");
        free(root);
    }
    is_int(mon_snapshot_read("/nonexistent/wgm-procfs", &s), 0, "a root with nothing in it");
    ok(!s.has_cpu && !s.has_mem && !s.has_load && !s.has_temperature && s.n_disks == 0 && s.n_netifs == 0,
       "... reads nothing");
    mon_snapshot_clear(&s);
    mon_snapshot_clear(NULL);
    mon_sample_clear(NULL);
    is_int(mon_parse_stat(NULL, &s), -EINVAL, "parse_stat NULL");
    is_int(mon_parse_loadavg("1 2 3", NULL), -EINVAL, "parse_loadavg NULL");
    is_int(mon_parse_meminfo(NULL, &s), -EINVAL, "parse_meminfo NULL");
    is_int(mon_parse_netdev(NULL, &s), -EINVAL, "parse_netdev NULL");
    is_int(mon_parse_mountinfo(NULL, &s), -EINVAL, "parse_mountinfo NULL");
    is_int(mon_parse_diskstats("", NULL), -EINVAL, "parse_diskstats NULL");
    is_int(mon_sample_derive(NULL, NULL, NULL), -EINVAL, "derive NULL");
}

/* ------------------------------------------------------------------ */
/* Parsers on strings                                                  */

static void test_parsers(void)
{
    static const char *const bad_loads[] = {"", "1 2", "1e3 2 3", "1. 2 3", ".5 2 3", "-1 2 3", "1,5 2 3",
                                            "nan 1 2", "1234567890123456 1 1"};
    struct mon_snapshot s = {0};
    double t = 0;
    char *big;
    size_t i;

    mon_parse_loadavg("0.00 0.01 12.75 1/1 1\n", &s);
    ok(s.has_load && s.load[0] == 0 && near(s.load[1], 0.01) && near(s.load[2], 12.75), "loadavg exact");
    for (i = 0; i < sizeof(bad_loads) / sizeof(bad_loads[0]); i++) {
        mon_parse_loadavg(bad_loads[i], &s);
        ok(!s.has_load, "loadavg \"%s\" refused", bad_loads[i]);
    }

    is_int(mon_parse_millidegrees("45000\n", &t), 0, "45000");
    is_dbl(t, 45.0, "45 °C");
    is_int(mon_parse_millidegrees("-5500", &t), 0, "-5500");
    is_dbl(t, -5.5, "-5.5 °C");
    is_int(mon_parse_millidegrees("200001", &t), -EINVAL, "over 200 °C");
    is_int(mon_parse_millidegrees("-100000", &t), -EINVAL, "-100 °C");
    is_int(mon_parse_millidegrees("", &t), -EINVAL, "empty");
    is_int(mon_parse_millidegrees("12 13", &t), -EINVAL, "two numbers");
    is_int(mon_parse_millidegrees("-", &t), -EINVAL, "a sign alone");

    mon_parse_stat("cpu  18446744073709551615 0 0 0\ncpu  1 2 3 4\n", &s);
    ok(s.has_cpu && s.cpu.user == UINT64_MAX, "UINT64_MAX fits");
    mon_parse_stat("cpu  18446744073709551616 0 0 0\n", &s);
    ok(!s.has_cpu, "UINT64_MAX + 1 does not");
    mon_parse_stat("cpu 1 2 3\n", &s);
    ok(!s.has_cpu, "three fields are too few");
    mon_parse_stat("cpu 1 2 3 4 5 6 7 8 9 10 11 12\n", &s);
    ok(s.has_cpu && s.cpu.steal == 8, "more than ten fields: the first eight");

    mon_parse_meminfo("MemTotal: 10 kB\nMemTotal: 20 kB\n", &s);
    ok(s.has_mem && s.mem_total == 20 * KB, "last MemTotal wins");
    mon_parse_meminfo("MemTotal: 10\n", &s);
    ok(!s.has_mem, "no unit: skipped");

    /* netdev appends, mountinfo replaces. */
    mon_parse_netdev("a: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", &s);
    mon_parse_netdev("b: 1 2 3 4 5 6 7 8 9 10 11 12\n", &s);
    ok(s.n_netifs == 2 && strcmp(s.netifs[1].name, "b") == 0, "netdev appends; 12 columns are enough");
    mon_parse_netdev("0123456789012345678901234567890123456789012345678901234567890123456789: "
                     "1 2 3 4 5 6 7 8 9 10 11 12\n",
                     &s);
    ok(s.n_netifs == 3 && strlen(s.netifs[2].name) == MON_NAME_MAX - 1, "a too-long name is cut to its field");
    mon_parse_mountinfo("1 1 8:1 / /a\\011b\\012c rw - ext4 /dev/x rw\n", &s);
    ok(s.n_disks == 1 && strcmp(s.disks[0].mount, "/a\tb\nc") == 0, "\\011 and \\012 decoded");
    mon_parse_mountinfo("1 1 8:2 / /z rw - xfs /dev/y rw\n", &s);
    ok(s.n_disks == 1 && strcmp(s.disks[0].mount, "/z") == 0, "mountinfo replaces the list");
    mon_parse_mountinfo("1 1 0:9 / / rw - zfs rpool/ROOT rw\n1 1 0:8 / /o rw - overlay overlay rw\n"
                        "1 1 8:3 / /t rw - tmpfs /dev/fake rw\n1 1 8:4 / /c rw - cgroup2 /dev/fake rw\n",
                        &s);
    ok(s.n_disks == 1 && strcmp(s.disks[0].fstype, "zfs") == 0,
       "zfs by type; overlay off /, tmpfs and cgroup2 even from /dev/ refused");
    is_int(mon_parse_diskstats("garbage\n", &s), 0, "diskstats garbage");
    ok(!s.disks[0].has_io, "no line for 0:9");
    mon_parse_mountinfo("", &s);
    ok(s.n_disks == 0 && s.disks == NULL, "empty mountinfo: no disks");
    is_int(mon_parse_diskstats("8 1 sda1 1 2 3 4 5\n", &s), 0, "diskstats with no disks");
    mon_snapshot_clear(&s);

    /* Lists stop at MON_LIST_MAX. */
    big = malloc(6000 * 80);
    if (big) {
        size_t n = 0;

        for (i = 0; i < 6000; i++)
            n += (size_t)sprintf(big + n, "if%zu: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", i);
        is_int(mon_parse_netdev(big, &s), 0, "6000 interfaces");
        is_int(s.n_netifs, MON_LIST_MAX, "... kept MON_LIST_MAX");
        is_int(mon_parse_netdev(big, &s), 0, "appending to a full list");
        is_int(s.n_netifs, MON_LIST_MAX, "... still MON_LIST_MAX");
        for (n = 0, i = 0; i < 6000; i++)
            n += (size_t)sprintf(big + n, "%zu 1 8:%zu / /m%zu rw - ext4 /dev/d%zu rw\n", i, i, i, i);
        is_int(mon_parse_mountinfo(big, &s), 0, "6000 mounts");
        is_int(s.n_disks, MON_LIST_MAX, "... kept MON_LIST_MAX");
        mon_snapshot_clear(&s);
        free(big);
    }
}

/* ------------------------------------------------------------------ */
/* Derivation                                                          */

static struct mon_netif nif(const char *name, uint64_t rxb, uint64_t rxp, uint64_t rxe, uint64_t rxd, uint64_t txb,
                            uint64_t txp, uint64_t txe, uint64_t txd)
{
    struct mon_netif n = {.rx_bytes = rxb, .rx_packets = rxp, .rx_errors = rxe, .rx_drops = rxd,
                          .tx_bytes = txb, .tx_packets = txp, .tx_errors = txe, .tx_drops = txd};

    snprintf(n.name, sizeof(n.name), "%s", name);
    return n;
}

static struct mon_disk dsk(const char *mount, unsigned minor, bool io, uint64_t reads, uint64_t writes,
                           uint64_t total, uint64_t used, uint64_t free_)
{
    struct mon_disk d = {.major = 8, .minor = minor, .has_io = io, .reads = reads, .writes = writes,
                         .has_space = total > 0, .total = total, .used = used, .free = free_};

    snprintf(d.mount, sizeof(d.mount), "%s", mount);
    snprintf(d.device, sizeof(d.device), "/dev/sd%u", minor);
    return d;
}

static const struct mon_netif_sample *nif_sample(const struct mon_sample *m, const char *name)
{
    for (size_t i = 0; i < m->n_netifs; i++)
        if (strcmp(m->netifs[i].name, name) == 0)
            return &m->netifs[i];
    return NULL;
}

static void test_derive_exact(void)
{
    struct mon_netif pn[] = {
        nif("wg0", 9000, 90, 0, 0, 9000, 90, 0, 0),
        nif("lo", 1000, 10, 0, 0, 1000, 10, 0, 0),
        nif("eth0", 1000, 10, 0, 0, 2000, 20, 0, 0),
    };
    struct mon_netif cn[] = {
        nif("eth0", 6000, 35, 2, 4, 4500, 30, 3, 6), /* +5000 +25 +5 errors +10 drops | +2500 +10 */
        nif("lo", 251000, 2510, 0, 0, 251000, 2510, 0, 0),
        nif("wg0", 100, 1, 0, 0, 100, 1, 0, 0),      /* recreated: went backwards */
        nif("tun0", 500, 5, 0, 0, 500, 5, 0, 0),     /* new */
    };
    struct mon_disk pd[] = {
        dsk("/home", 17, true, 10, 10, 2000, 1000, 1000),
        dsk("/", 1, true, 100, 50, 1000, 600, 300),
        dsk("/srv", 33, true, 0, 0, 0, 0, 0),
    };
    struct mon_disk cd[] = {
        dsk("/", 1, true, 350, 300, 1000, 600, 300), /* +250 +250 in 2.5 s */
        dsk("/home", 17, false, 0, 0, 2000, 1000, 1000),
        dsk("/srv", 34, true, 500, 500, 0, 0, 0),    /* another device at /srv */
    };
    struct mon_snapshot prev = {
        .taken = {100, 0}, .has_cpu = true, .cpu = {100, 0, 50, 800, 50, 0, 0, 0}, .cores = 2,
        .netifs = pn, .n_netifs = 3, .disks = pd, .n_disks = 3,
    };
    struct mon_snapshot cur = {
        .taken = {102, 500000000}, .has_cpu = true, .cpu = {250, 0, 100, 980, 70, 0, 0, 0}, .cores = 2,
        .has_load = true, .load = {1, 2, 3}, .has_temperature = true, .temperature = 42.5,
        .has_mem = true, .mem_total = 1000, .mem_free = 100, .has_mem_available = true, .mem_available = 250,
        .netifs = cn, .n_netifs = 4, .disks = cd, .n_disks = 3,
    };
    const struct mon_netif_sample *n;
    struct mon_sample m;

    is_int(mon_sample_derive(&prev, &cur, &m), 0, "derive");
    /* total 1000 → 1400, idle 800 → 980 and iowait 50 → 70: 200 of 400
     * idle (iowait is idle time too). */
    ok(m.has_cpu_usage, "cpu usage");
    is_dbl(m.cpu_usage, 50.0, "cpu 50%");
    ok(m.cores == 2 && m.has_load && m.load[2] == 3 && m.has_temperature && m.temperature == 42.5,
       "cores, load, temperature copied");
    ok(m.has_mem && m.mem_used == 750 && m.mem_available == 250 && m.mem_free == 100, "memory");
    is_dbl(m.mem_usage_percent, 75.0, "memory 75%");

    n = nif_sample(&m, "eth0");
    ok(n && n->has_rates, "eth0 rates");
    if (n) {
        is_dbl(n->bytes_recv_ps, 2000.0, "eth0 recv 5000 B / 2.5 s");
        is_dbl(n->bytes_sent_ps, 1000.0, "eth0 sent 2500 B / 2.5 s");
        is_dbl(n->packets_recv_ps, 10.0, "eth0 25 packets in");
        is_dbl(n->packets_sent_ps, 4.0, "eth0 10 packets out");
        is_dbl(n->errors_ps, 2.0, "eth0 errors rx+tx");
        is_dbl(n->drops_ps, 4.0, "eth0 drops rx+tx");
        ok(n->bytes_sent == 4500 && n->bytes_recv == 6000 && n->errors == 5 && n->drops == 10, "eth0 cumulative");
    }
    n = nif_sample(&m, "wg0");
    ok(n && !n->has_rates && n->bytes_sent_ps == 0 && n->bytes_sent == 100, "recreated wg0: no rate, counters kept");
    n = nif_sample(&m, "tun0");
    ok(n && !n->has_rates, "new tun0: no rate");
    n = nif_sample(&m, "lo");
    ok(n && n->has_rates && near(n->bytes_sent_ps, 100000.0), "lo has its own rate");
    ok(m.has_net_rates, "network rates");
    is_dbl(m.bytes_sent_ps, 1000.0, "total sent: eth0 only (lo excluded, wg0/tun0 without rates)");
    is_dbl(m.bytes_recv_ps, 2000.0, "total recv");
    is_dbl(m.packets_recv_ps, 10.0, "total packets in");
    is_dbl(m.errors_ps, 2.0, "total errors");
    is_dbl(m.drops_ps, 4.0, "total drops");
    is_int(m.bytes_sent, 4500 + 100 + 500, "cumulative sent: all but lo");
    is_int(m.bytes_recv, 6000 + 100 + 500, "cumulative recv: all but lo");

    is_int(m.n_disks, 3, "three disk samples, current order");
    if (m.n_disks == 3) {
        ok(m.disks[0].has_iops, "/ iops");
        is_dbl(m.disks[0].read_iops, 100.0, "/ 250 reads / 2.5 s");
        is_dbl(m.disks[0].write_iops, 100.0, "/ 250 writes / 2.5 s");
        is_dbl(m.disks[0].usage_percent, 200.0 / 3, "/ used / (used + free), as df");
        ok(!m.disks[1].has_iops, "/home without counters now: no iops");
        is_dbl(m.disks[1].usage_percent, 50.0, "/home 50%");
        ok(!m.disks[2].has_iops && !m.disks[2].has_space, "/srv on another device: no iops; no space");
    }
    ok(m.has_iops, "iops");
    is_dbl(m.read_iops, 100.0, "total read iops");
    is_dbl(m.write_iops, 100.0, "total write iops");
    ok(m.has_disk && m.disk_total == 3000 && m.disk_used == 1600 && m.disk_free == 1300, "disk sums");
    is_dbl(m.disk_usage_percent, 100.0 * 1600 / 2900, "disk percent");
    mon_sample_clear(&m);
    ok(m.netifs == NULL && m.disks == NULL && !m.has_cpu_usage, "sample clear zeroes");

    /* The same snapshot as prev: no time passed, so no rates; cpu total
     * unchanged, so no usage either. */
    is_int(mon_sample_derive(&cur, &cur, &m), 0, "derive with dt 0");
    ok(!m.has_cpu_usage && !m.has_net_rates && !m.has_iops && m.n_netifs == 4 && !m.netifs[0].has_rates,
       "dt 0: no rates, no cpu usage");
    mon_sample_clear(&m);

    /* CPU times going backwards (hotplug, restore): no usage. */
    prev.cpu.idle = 100000;
    is_int(mon_sample_derive(&prev, &cur, &m), 0, "derive after a cpu reset");
    ok(!m.has_cpu_usage && m.has_net_rates, "cpu reset: no cpu usage, rates unaffected");
    mon_sample_clear(&m);

    /* iowait may go backwards alone: the usage is clamped, not absent. */
    prev.cpu = (struct mon_cpu_times){.user = 100, .idle = 800, .iowait = 500};
    cur.cpu = (struct mon_cpu_times){.user = 500, .idle = 800, .iowait = 400, .system = 100};
    is_int(mon_sample_derive(&prev, &cur, &m), 0, "derive with iowait going back");
    ok(m.has_cpu_usage && m.cpu_usage >= 0 && m.cpu_usage <= 100, "usage in 0..100 (%.3g)", m.cpu_usage);
    mon_sample_clear(&m);

    /* No prev: the first sample. */
    is_int(mon_sample_derive(NULL, &cur, &m), 0, "first sample");
    ok(!m.has_cpu_usage && !m.has_net_rates && !m.has_iops && m.bytes_sent == 5100 && m.has_disk,
       "first sample: counters and space, no rates");
    mon_sample_clear(&m);

    /* Memory without MemAvailable, and garbage bigger than the total. */
    cur.has_mem_available = false;
    cur.mem_free = 100;
    cur.mem_cached = 200;
    cur.mem_buffers = 50;
    is_int(mon_sample_derive(NULL, &cur, &m), 0, "derive (old meminfo)");
    ok(m.mem_used == 650 && m.mem_available == 350, "used = total - free - cached - buffers");
    mon_sample_clear(&m);
    cur.mem_free = UINT64_MAX;
    is_int(mon_sample_derive(NULL, &cur, &m), 0, "derive (free > total)");
    ok(m.has_mem && m.mem_used == 0 && m.mem_usage_percent == 0, "clamped at 0 used");
    mon_sample_clear(&m);
    cur.mem_total = 0;
    is_int(mon_sample_derive(NULL, &cur, &m), 0, "derive (MemTotal 0)");
    ok(!m.has_mem, "MemTotal 0: no memory figures");
    mon_sample_clear(&m);
}

/* A thousand interfaces, prev in reverse order: every one matched. */
static void test_derive_many(void)
{
    enum { N = 1000 };
    struct mon_netif *pn = calloc(N, sizeof(*pn)), *cn = calloc(N, sizeof(*cn));
    struct mon_snapshot prev = {.taken = {10, 0}}, cur = {.taken = {12, 0}};
    struct mon_sample m;
    size_t i, with = 0;

    if (!pn || !cn) {
        free(pn);
        free(cn);
        skip("out of memory");
        return;
    }
    for (i = 0; i < N; i++) {
        char name[16];

        snprintf(name, sizeof(name), "veth%04zu", i);
        pn[N - 1 - i] = nif(name, i, 0, 0, 0, i, 0, 0, 0);
        cn[i] = nif(name, i + 2 * i, 0, 0, 0, i, 0, 0, 0);
    }
    prev.netifs = pn;
    prev.n_netifs = N;
    cur.netifs = cn;
    cur.n_netifs = N;
    is_int(mon_sample_derive(&prev, &cur, &m), 0, "derive 1000 interfaces");
    for (i = 0; i < m.n_netifs; i++)
        with += m.netifs[i].has_rates && near(m.netifs[i].bytes_recv_ps, (double)i);
    is_int(with, N, "every interface matched with its own rate");
    is_dbl(m.bytes_recv_ps, (double)N * (N - 1) / 2, "sum of the rates");
    mon_sample_clear(&m);
    free(pn);
    free(cn);
}

/* ------------------------------------------------------------------ */
/* This machine: invariants only                                       */

static void test_real_machine(void)
{
    struct mon_snapshot a, b;
    struct mon_sample m;
    struct timespec pause = {0, 50 * 1000 * 1000};
    size_t i, bad = 0;

    is_int(mon_snapshot_read("/", &a), 0, "read /");
    ok(a.has_cpu && a.cores >= 1, "cpu line and at least one core (%d)", a.cores);
    ok(a.has_mem && a.mem_total > 0 && a.mem_free <= a.mem_total, "memory total %llu", (unsigned long long)a.mem_total);
    ok(!a.has_mem_available || a.mem_available <= a.mem_total, "available <= total");
    ok(!a.has_load || (a.load[0] >= 0 && a.load[1] >= 0 && a.load[2] >= 0), "load >= 0");
    ok(!a.has_temperature || (a.temperature > -100 && a.temperature <= 200), "temperature plausible");
    ok(a.n_netifs >= 1, "at least one interface (%zu)", a.n_netifs);
    for (i = 0; i < a.n_disks; i++)
        bad += a.disks[i].has_space && (a.disks[i].used > a.disks[i].total || a.disks[i].free > a.disks[i].total);
    is_int(bad, 0, "every disk: used and free within total");
    for (i = 0; i < a.n_disks; i++)
        printf("# disk %s %s %s %u:%u space=%d io=%d\n", a.disks[i].mount, a.disks[i].device, a.disks[i].fstype,
               a.disks[i].major, a.disks[i].minor, a.disks[i].has_space, a.disks[i].has_io);
    nanosleep(&pause, NULL);
    is_int(mon_snapshot_read("", &b), 0, "read \"\" (the same machine)");
    is_int(mon_sample_derive(&a, &b, &m), 0, "derive");
    ok(!m.has_cpu_usage || (m.cpu_usage >= 0 && m.cpu_usage <= 100), "cpu usage in 0..100");
    for (i = 0, bad = 0; i < m.n_netifs; i++)
        bad += m.netifs[i].has_rates && (m.netifs[i].bytes_recv_ps < 0 || m.netifs[i].bytes_sent_ps < 0);
    is_int(bad, 0, "no negative rate");
    ok(m.has_mem && m.mem_used <= m.mem_total && m.mem_usage_percent >= 0 && m.mem_usage_percent <= 100,
       "memory use within total");
    mon_sample_clear(&m);
    mon_snapshot_clear(&a);
    mon_snapshot_clear(&b);
}

int main(void)
{
    test_normal();
    test_minimal();
    test_container();
    test_garbage();
    test_bad_args();
    test_parsers();
    test_derive_exact();
    test_derive_many();
    test_real_machine();
    return done_testing();
}
