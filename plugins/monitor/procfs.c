/* A snapshot of /proc and /sys (procfs.h): first the scanning helpers and
 * the text parsers, which see only a NUL-terminated buffer, then the
 * reading of the files that feeds them. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "procfs.h"

/* ------------------------------------------------------------------ */
/* Scanning: a span is [p, end) inside one line, never past its '\n'.  */

struct span {
    const char *p, *end;
};

/* The next line of *text without its '\n'; false at the end. */
static bool next_line(const char **text, struct span *line)
{
    const char *nl;

    if (**text == '\0')
        return false;
    nl = strchrnul(*text, '\n');
    line->p = *text;
    line->end = nl;
    *text = *nl ? nl + 1 : nl;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The next blank-separated word of @s; false when only blanks are left. */
static bool next_word(struct span *s, struct span *w)
{
    while (s->p < s->end && is_blank(*s->p))
        s->p++;
    if (s->p == s->end)
        return false;
    w->p = s->p;
    while (s->p < s->end && !is_blank(*s->p))
        s->p++;
    w->end = s->p;
    return true;
}

static size_t span_len(struct span w)
{
    return (size_t)(w.end - w.p);
}

static bool span_is(struct span w, const char *lit)
{
    return span_len(w) == strlen(lit) && memcmp(w.p, lit, span_len(w)) == 0;
}

/* All of @w is an unsigned decimal that fits 64 bits. */
static bool span_u64(struct span w, uint64_t *v)
{
    uint64_t x = 0;

    if (w.p == w.end)
        return false;
    for (; w.p < w.end; w.p++) {
        unsigned d = (unsigned)(*w.p - '0');

        if (d > 9 || x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

/* All of @w is "DIGITS[.DIGITS]" (as /proc/loadavg prints it); parsed by
 * hand because strtod() follows the locale's decimal point. */
static bool span_decimal(struct span w, double *v)
{
    const char *dot = memchr(w.p, '.', span_len(w));
    struct span ip = {w.p, dot ? dot : w.end}, fp = {dot ? dot + 1 : w.end, w.end};
    uint64_t i, f = 0;
    double scale = 1;

    /* Bounded digit counts keep the conversion exact enough and finite. */
    if (span_len(ip) > 15 || span_len(fp) > 9 || !span_u64(ip, &i) || (dot && !span_u64(fp, &f)))
        return false;
    for (size_t k = 0; k < span_len(fp); k++)
        scale *= 10;
    *v = (double)i + (double)f / scale;
    return true;
}

/* Up to @max numbers from @s into @v.  The count read, or -1 when a word
 * is not a number (the line is malformed). */
static int next_u64s(struct span *s, uint64_t *v, int max)
{
    struct span w;
    int n = 0;

    while (n < max && next_word(s, &w)) {
        if (!span_u64(w, &v[n]))
            return -1;
        n++;
    }
    return n;
}

/* Copy @w into @dst of @size, cut to fit. */
static void span_copy(struct span w, char *dst, size_t size)
{
    size_t n = span_len(w) < size - 1 ? span_len(w) : size - 1;

    memcpy(dst, w.p, n);
    dst[n] = '\0';
}

/* Lines in @text: an upper bound on the entries a list parser appends. */
static size_t count_lines(const char *text)
{
    size_t n = 0;

    while (*text) {
        n++;
        text = strchrnul(text, '\n');
        if (*text)
            text++;
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* /proc/stat, /proc/loadavg, /proc/meminfo                            */

int mon_parse_stat(const char *text, struct mon_snapshot *out)
{
    struct span line, w;

    if (!text || !out)
        return -EINVAL;
    out->has_cpu = false;
    memset(&out->cpu, 0, sizeof(out->cpu));
    out->cores = 0;
    while (next_line(&text, &line)) {
        uint64_t v[8] = {0}, cpu_no;

        if (!next_word(&line, &w) || span_len(w) < 3 || memcmp(w.p, "cpu", 3) != 0)
            continue;
        if (span_len(w) == 3 && !out->has_cpu) {
            /* user nice system idle, then iowait irq softirq steal since
             * 2.6.x; guest and guest_nice are already inside user/nice. */
            if (next_u64s(&line, v, 8) < 4)
                continue;
            out->cpu = (struct mon_cpu_times){.user = v[0], .nice = v[1], .system = v[2], .idle = v[3],
                                              .iowait = v[4], .irq = v[5], .softirq = v[6], .steal = v[7]};
            out->has_cpu = true;
        } else if (span_u64((struct span){w.p + 3, w.end}, &cpu_no) && out->cores < MON_LIST_MAX) {
            out->cores++;
        }
    }
    return 0;
}

int mon_parse_loadavg(const char *text, struct mon_snapshot *out)
{
    struct span line, w;
    double load[3];
    int i;

    if (!text || !out)
        return -EINVAL;
    out->has_load = false;
    if (!next_line(&text, &line))
        return 0;
    for (i = 0; i < 3; i++)
        if (!next_word(&line, &w) || !span_decimal(w, &load[i]))
            return 0;
    memcpy(out->load, load, sizeof(load));
    out->has_load = true;
    return 0;
}

int mon_parse_meminfo(const char *text, struct mon_snapshot *out)
{
    uint64_t total = 0, free_ = 0, avail = 0, buffers = 0, cached = 0, sreclaim = 0;
    bool has_total = false, has_avail = false;
    const struct {
        const char *key;
        uint64_t *value;
        bool *seen;
    } keys[] = {
        {"MemTotal:", &total, &has_total}, {"MemFree:", &free_, NULL},    {"MemAvailable:", &avail, &has_avail},
        {"Buffers:", &buffers, NULL},      {"Cached:", &cached, NULL},    {"SReclaimable:", &sreclaim, NULL},
    };
    struct span line, key, unit;

    if (!text || !out)
        return -EINVAL;
    while (next_line(&text, &line)) {
        uint64_t kb;
        size_t i;

        if (!next_word(&line, &key) || next_u64s(&line, &kb, 1) != 1 || !next_word(&line, &unit) ||
            !span_is(unit, "kB") || kb > UINT64_MAX / 1024)
            continue;
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            if (span_is(key, keys[i].key)) {
                *keys[i].value = kb * 1024;
                if (keys[i].seen)
                    *keys[i].seen = true;
            }
        }
    }
    out->has_mem = has_total;
    out->mem_total = total;
    out->mem_free = free_;
    out->mem_buffers = buffers;
    out->mem_cached = cached > UINT64_MAX - sreclaim ? UINT64_MAX : cached + sreclaim; /* garbage */
    out->has_mem_available = has_avail;
    out->mem_available = avail;
    return 0;
}

int mon_parse_millidegrees(const char *text, double *celsius)
{
    struct span line, w;
    uint64_t v;
    bool neg;

    if (!text || !celsius || !next_line(&text, &line) || !next_word(&line, &w))
        return -EINVAL;
    neg = *w.p == '-';
    if (neg)
        w.p++;
    if (!span_u64(w, &v) || v > 200000 || (neg && v >= 100000) || next_word(&line, &w))
        return -EINVAL;
    *celsius = (neg ? -(double)v : (double)v) / 1000.0;
    return 0;
}

/* ------------------------------------------------------------------ */
/* /proc/net/dev                                                       */

int mon_parse_netdev(const char *text, struct mon_snapshot *out)
{
    struct mon_netif *v;
    struct span line;
    size_t room, lines;

    if (!text || !out)
        return -EINVAL;
    room = out->n_netifs < MON_LIST_MAX ? MON_LIST_MAX - out->n_netifs : 0;
    lines = count_lines(text);
    if (lines < room)
        room = lines;
    if (room == 0)
        return 0;
    /* One allocation for the most it can hold: no growth per line. */
    v = realloc(out->netifs, (out->n_netifs + room) * sizeof(*v));
    if (!v)
        return -ENOMEM;
    out->netifs = v;
    while (room > 0 && next_line(&text, &line)) {
        /* "  eth0: rxbytes rxpackets rxerrs rxdrop fifo frame compressed
         * multicast txbytes txpackets txerrs txdrop ..."; the two header
         * lines have no ':'.  Names cannot hold ':' or blanks. */
        const char *colon = memchr(line.p, ':', span_len(line));
        struct span name, rest, extra;
        uint64_t c[16];

        if (!colon)
            continue;
        rest = (struct span){line.p, colon};
        if (!next_word(&rest, &name) || next_word(&rest, &extra))
            continue;
        rest = (struct span){colon + 1, line.end};
        if (next_u64s(&rest, c, 16) < 12)
            continue;
        v = &out->netifs[out->n_netifs++];
        span_copy(name, v->name, sizeof(v->name));
        v->rx_bytes = c[0];
        v->rx_packets = c[1];
        v->rx_errors = c[2];
        v->rx_drops = c[3];
        v->tx_bytes = c[8];
        v->tx_packets = c[9];
        v->tx_errors = c[10];
        v->tx_drops = c[11];
        room--;
    }
    if (out->n_netifs == 0) {
        free(out->netifs);
        out->netifs = NULL;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* /proc/self/mountinfo                                                */

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

/* Whether a mount is a real filesystem whose space means something. */
static bool counted(const char *fstype, const char *source, const char *mount)
{
    static const char *const on_disk[] = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat",
                                          "exfat", "ntfs", "ntfs3", "jfs", "reiserfs", NULL};
    /* Kernel and memory filesystems, and read-only images that are always
     * 100% full (snap packages would pin the totals). */
    static const char *const never[] = {
        "proc",      "sysfs",   "tmpfs",   "devtmpfs", "devpts",   "ramfs",   "mqueue",    "hugetlbfs",
        "debugfs",   "tracefs", "securityfs", "pstore", "bpf",     "configfs", "fusectl",  "autofs",
        "binfmt_misc", "efivarfs", "rpc_pipefs", "nsfs", "squashfs", "iso9660", "erofs", NULL};

    if (strncmp(fstype, "cgroup", 6) == 0 || in_list(fstype, never))
        return false;
    /* A container's root is an overlay; anywhere else an overlay is some
     * runtime's layer and repeats the space of the disk below it. */
    if (strcmp(fstype, "overlay") == 0)
        return strcmp(mount, "/") == 0;
    return strncmp(source, "/dev/", 5) == 0 || in_list(fstype, on_disk);
}

/* Decode mountinfo's octal escapes (\040 space, \011 tab, \012 newline,
 * \134 backslash) of @w into @dst.  False if it does not fit or holds a
 * NUL: a path that is not the mount point is worse than none. */
static bool unescape(struct span w, char *dst, size_t size)
{
    size_t n = 0;

    while (w.p < w.end) {
        char c = *w.p++;

        if (c == '\\' && w.end - w.p >= 3 && w.p[0] >= '0' && w.p[0] <= '3' && w.p[1] >= '0' && w.p[1] <= '7' &&
            w.p[2] >= '0' && w.p[2] <= '7') {
            c = (char)((w.p[0] - '0') << 6 | (w.p[1] - '0') << 3 | (w.p[2] - '0'));
            w.p += 3;
        }
        if (c == '\0' || n + 1 >= size)
            return false;
        dst[n++] = c;
    }
    dst[n] = '\0';
    return true;
}

/* "MAJOR:MINOR" */
static bool span_devno(struct span w, unsigned *major, unsigned *minor)
{
    const char *colon = memchr(w.p, ':', span_len(w));
    uint64_t a, b;

    if (!colon || !span_u64((struct span){w.p, colon}, &a) || !span_u64((struct span){colon + 1, w.end}, &b) ||
        a > UINT_MAX || b > UINT_MAX)
        return false;
    *major = (unsigned)a;
    *minor = (unsigned)b;
    return true;
}

/* One mountinfo line into @d if it is a counted filesystem:
 * "ID PARENT MAJ:MIN ROOT MOUNT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
static bool parse_mount_line(struct span line, struct mon_disk *d)
{
    struct span id, parent, devno, root, mount, w, fstype, source;
    char fs[64], src[MON_MOUNT_MAX];

    if (!next_word(&line, &id) || !next_word(&line, &parent) || !next_word(&line, &devno) ||
        !next_word(&line, &root) || !next_word(&line, &mount) || !span_devno(devno, &d->major, &d->minor))
        return false;
    do {
        if (!next_word(&line, &w))
            return false; /* no "-" separator */
    } while (!span_is(w, "-"));
    if (!next_word(&line, &fstype) || !next_word(&line, &source) || !unescape(mount, d->mount, sizeof(d->mount)) ||
        d->mount[0] != '/' || !unescape(fstype, fs, sizeof(fs)) || !unescape(source, src, sizeof(src)) ||
        !counted(fs, src, d->mount))
        return false;
    span_copy((struct span){fs, fs + strlen(fs)}, d->fstype, sizeof(d->fstype));
    span_copy((struct span){src, src + strlen(src)}, d->device, sizeof(d->device));
    return true;
}

/* Device first, then the shorter mount point, then file order (the
 * pointers are into one array): the first of each device is the keeper. */
static int cmp_dev_then_mount(const void *a, const void *b)
{
    const struct mon_disk *x = *(const struct mon_disk *const *)a, *y = *(const struct mon_disk *const *)b;
    size_t lx = strlen(x->mount), ly = strlen(y->mount);

    if (x->major != y->major)
        return x->major < y->major ? -1 : 1;
    if (x->minor != y->minor)
        return x->minor < y->minor ? -1 : 1;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int cmp_mount(const void *a, const void *b)
{
    const struct mon_disk *x = *(const struct mon_disk *const *)a, *y = *(const struct mon_disk *const *)b;
    int c = strcmp(x->mount, y->mount);

    /* Two devices stacked on one mount point: keep file order. */
    return c ? c : (x < y ? -1 : x > y);
}

int mon_parse_mountinfo(const char *text, struct mon_snapshot *out)
{
    struct mon_disk *all = NULL, **keep = NULL;
    size_t n = 0, k = 0, i, room;
    struct span line;
    int r = 0;

    if (!text || !out)
        return -EINVAL;
    free(out->disks);
    out->disks = NULL;
    out->n_disks = 0;
    room = count_lines(text);
    if (room > MON_LIST_MAX)
        room = MON_LIST_MAX;
    if (room == 0)
        return 0;
    all = calloc(room, sizeof(*all));
    keep = calloc(room, sizeof(*keep));
    if (!all || !keep) {
        r = -ENOMEM;
        goto out;
    }
    while (n < room && next_line(&text, &line))
        if (parse_mount_line(line, &all[n]))
            n++;
    if (n == 0)
        goto out;

    /* Dedup by device in O(n log n): sort pointers, keep each run's head. */
    for (i = 0; i < n; i++)
        keep[i] = &all[i];
    qsort(keep, n, sizeof(*keep), cmp_dev_then_mount);
    for (i = 0; i < n; i++)
        if (k == 0 || keep[k - 1]->major != keep[i]->major || keep[k - 1]->minor != keep[i]->minor)
            keep[k++] = keep[i];
    qsort(keep, k, sizeof(*keep), cmp_mount);

    out->disks = calloc(k, sizeof(*out->disks));
    if (!out->disks) {
        r = -ENOMEM;
        goto out;
    }
    for (i = 0; i < k; i++)
        out->disks[i] = *keep[i];
    out->n_disks = k;
out:
    free(keep);
    free(all);
    return r;
}

/* ------------------------------------------------------------------ */
/* /proc/diskstats                                                     */

static int cmp_devno(const void *a, const void *b)
{
    const struct mon_disk *x = *(const struct mon_disk *const *)a, *y = *(const struct mon_disk *const *)b;

    if (x->major != y->major)
        return x->major < y->major ? -1 : 1;
    return x->minor < y->minor ? -1 : x->minor > y->minor;
}

int mon_parse_diskstats(const char *text, struct mon_snapshot *out)
{
    struct mon_disk **by_dev;
    struct span line;
    size_t i;

    if (!text || !out)
        return -EINVAL;
    if (out->n_disks == 0)
        return 0;
    /* Sorted pointers: one bsearch per line, not a scan of the mounts. */
    by_dev = calloc(out->n_disks, sizeof(*by_dev));
    if (!by_dev)
        return -ENOMEM;
    for (i = 0; i < out->n_disks; i++) {
        by_dev[i] = &out->disks[i];
        by_dev[i]->has_io = false;
    }
    qsort(by_dev, out->n_disks, sizeof(*by_dev), cmp_devno);
    while (next_line(&text, &line)) {
        /* "MAJOR MINOR NAME reads rmerged rsectors rms writes ..." */
        struct mon_disk key, *pkey = &key, **hit;
        struct span name;
        uint64_t dev[2], c[5];

        if (next_u64s(&line, dev, 2) != 2 || dev[0] > UINT_MAX || dev[1] > UINT_MAX ||
            !next_word(&line, &name) || next_u64s(&line, c, 5) != 5)
            continue;
        key = (struct mon_disk){.major = (unsigned)dev[0], .minor = (unsigned)dev[1]};
        hit = bsearch(&pkey, by_dev, out->n_disks, sizeof(*by_dev), cmp_devno);
        if (!hit || (*hit)->has_io)
            continue;
        (*hit)->has_io = true;
        (*hit)->reads = c[0];
        (*hit)->writes = c[4];
    }
    free(by_dev);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Reading the files                                                   */

/* One buffer reused for every file of a snapshot. */
struct buf {
    char *data;
    size_t cap;
};

/* Read the whole file @path into @b, NUL-terminated, at most MON_FILE_MAX
 * bytes (then without the cut-off last line).  0, -ENOMEM, or the errno of
 * open/read: the caller treats those as "source missing". */
static int slurp(const char *path, struct buf *b)
{
    size_t len = 0;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t got;

        /* Grow when full, always keeping a byte for the NUL. */
        if (len + 1 >= b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 65536;
            char *p;

            if (b->cap == MON_FILE_MAX + 1) {
                /* At the limit: drop the cut line rather than parse half a number. */
                char *nl = memrchr(b->data, '\n', len);

                len = nl ? (size_t)(nl - b->data) + 1 : 0;
                break;
            }
            if (cap > MON_FILE_MAX + 1)
                cap = MON_FILE_MAX + 1;
            p = realloc(b->data, cap);
            if (!p) {
                r = -ENOMEM;
                break;
            }
            b->data = p;
            b->cap = cap;
        }
        got = read(fd, b->data + len, b->cap - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            r = -errno;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (r == 0)
        b->data[len] = '\0';
    return r;
}

/* @root + @rel into @path of PATH_MAX; false if it does not fit. */
static bool join(char *path, const char *root, const char *rel)
{
    int n = snprintf(path, PATH_MAX, "%s%s", root, rel);

    return n > 0 && n < PATH_MAX;
}

/* If @path holds a valid temperature hotter than *@hottest, take it. */
static int consider_temp(const char *path, struct buf *b, bool *found, double *hottest)
{
    double t;
    int r = slurp(path, b);

    if (r == -ENOMEM)
        return r;
    if (r == 0 && mon_parse_millidegrees(b->data, &t) == 0 && (!*found || t > *hottest)) {
        *hottest = t;
        *found = true;
    }
    return 0;
}

/* The hottest valid reading among the files @root/@pattern (a glob). */
static int hottest_of(const char *root, const char *pattern, struct buf *b, bool *found, double *hottest)
{
    char path[PATH_MAX];
    size_t n = 0, i;
    glob_t g;
    int r = 0;

    /* The root is a path, not a pattern: escape glob's metacharacters. */
    for (; *root && n + 2 < sizeof(path); root++) {
        if (strchr("\\*?[", *root))
            path[n++] = '\\';
        path[n++] = *root;
    }
    if (*root || n + strlen(pattern) >= sizeof(path))
        return 0;
    strcpy(path + n, pattern);
    switch (glob(path, GLOB_NOSORT, NULL, &g)) {
    case 0:
        break;
    case GLOB_NOSPACE:
        return -ENOMEM;
    default: /* no match, unreadable directory */
        return 0;
    }
    for (i = 0; i < g.gl_pathc && r == 0; i++)
        r = consider_temp(g.gl_pathv[i], b, found, hottest);
    globfree(&g);
    return r;
}

/* Thermal zones are what the firmware calls the machine's temperature;
 * hwmon sensors (coretemp, k10temp, nvme, ...) only stand in without any. */
static int read_temperature(const char *root, struct buf *b, struct mon_snapshot *out)
{
    int r = hottest_of(root, "/sys/class/thermal/thermal_zone*/temp", b, &out->has_temperature,
                       &out->temperature);

    if (r == 0 && !out->has_temperature)
        r = hottest_of(root, "/sys/class/hwmon/hwmon*/temp*_input", b, &out->has_temperature,
                       &out->temperature);
    return r;
}

/* statvfs() of each mount point; a failure leaves has_space false. */
static void read_space(const char *root, struct mon_snapshot *out)
{
    char path[PATH_MAX];
    struct statvfs st;
    size_t i;

    for (i = 0; i < out->n_disks; i++) {
        struct mon_disk *d = &out->disks[i];

        if (!join(path, root, d->mount) || statvfs(path, &st) != 0 || st.f_bfree > st.f_blocks)
            continue;
        d->total = (uint64_t)st.f_blocks * st.f_frsize;
        d->free = (uint64_t)st.f_bavail * st.f_frsize;
        d->used = (uint64_t)(st.f_blocks - st.f_bfree) * st.f_frsize;
        d->has_space = true;
    }
}

static int cmp_netif(const void *a, const void *b)
{
    return strcmp(((const struct mon_netif *)a)->name, ((const struct mon_netif *)b)->name);
}

int mon_snapshot_read(const char *root, struct mon_snapshot *out)
{
    /* In this order: diskstats fills the mounts that mountinfo found. */
    static const struct {
        const char *rel;
        int (*parse)(const char *text, struct mon_snapshot *out);
    } files[] = {
        {"/proc/stat", mon_parse_stat},
        {"/proc/loadavg", mon_parse_loadavg},
        {"/proc/meminfo", mon_parse_meminfo},
        {"/proc/net/dev", mon_parse_netdev},
        {"/proc/self/mountinfo", mon_parse_mountinfo},
        {"/proc/diskstats", mon_parse_diskstats},
    };
    struct buf b = {NULL, 0};
    char path[PATH_MAX];
    size_t i;
    int r = 0;

    if (!root || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (strcmp(root, "/") == 0)
        root = "";
    /* Room for the longest file below and for any mount point. */
    if (strlen(root) + MON_MOUNT_MAX + 64 >= PATH_MAX)
        return -ENAMETOOLONG;
    clock_gettime(CLOCK_MONOTONIC, &out->taken);

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (!join(path, root, files[i].rel))
            continue;
        r = slurp(path, &b);
        if (r == 0)
            r = files[i].parse(b.data, out);
        if (r == -ENOMEM)
            goto out;
    }
    r = read_temperature(root, &b, out);
    if (r < 0)
        goto out;
    read_space(root, out);
    if (out->n_netifs > 1)
        qsort(out->netifs, out->n_netifs, sizeof(*out->netifs), cmp_netif);
out:
    free(b.data);
    if (r < 0)
        mon_snapshot_clear(out);
    return r < 0 ? r : 0;
}

void mon_snapshot_clear(struct mon_snapshot *s)
{
    if (!s)
        return;
    free(s->disks);
    free(s->netifs);
    memset(s, 0, sizeof(*s));
}
