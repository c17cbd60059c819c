/**
 * @file procfs.h
 * @brief A snapshot of the machine's raw counters from /proc and /sys.
 *
 * mon_snapshot_read() reads every source once, each file with one open and
 * a read to EOF into one buffer, and fills a #mon_snapshot with raw values:
 * CPU ticks, load, the hottest temperature, memory, the mounted real
 * filesystems with their space and completed I/Os, and the network
 * interfaces' counters.  Rates and percentages are sample.h's business.
 *
 * Nothing here logs.  Functions return 0 or a negative errno; only bad
 * arguments (-EINVAL, -ENAMETOOLONG) and -ENOMEM are errors.  A source that
 * is missing or unreadable leaves its has_* flag false or its list empty.
 *
 * The parsers take untrusted text: malformed lines are skipped (a number
 * that overflows is malformed), and each list stops growing at
 * #MON_LIST_MAX entries.  A mount point too long for its field makes its
 * line malformed (a cut path would statvfs() another directory); other
 * names are cut to their field (Linux keeps them far shorter).
 */
#ifndef WGM_MONITOR_PROCFS_H
#define WGM_MONITOR_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Size of an interface or device name field, with its NUL. */
#define MON_NAME_MAX 64
/** Size of a mount point field, with its NUL. */
#define MON_MOUNT_MAX 256
/** Size of a filesystem type field, with its NUL. */
#define MON_FSTYPE_MAX 32
/** Most entries in one list (interfaces, mounts); lines past it are ignored. */
#define MON_LIST_MAX 4096
/** Most bytes read from one file; the cut-off partial line is dropped. */
#define MON_FILE_MAX (16u << 20)

/** The aggregate "cpu" line of /proc/stat, in USER_HZ ticks.  Fields an
 *  old kernel does not print are 0.  guest time is already inside user. */
struct mon_cpu_times {
    uint64_t user, nice, system, idle, iowait, irq, softirq, steal;
};

/** One network interface of /proc/net/dev: cumulative counters. */
struct mon_netif {
    char name[MON_NAME_MAX];
    uint64_t rx_bytes, rx_packets, rx_errors, rx_drops;
    uint64_t tx_bytes, tx_packets, tx_errors, tx_drops;
};

/** One mounted real filesystem, one entry per device (major:minor). */
struct mon_disk {
    char mount[MON_MOUNT_MAX];   /**< decoded (\\040 is a space) */
    char device[MON_NAME_MAX];   /**< the mount source: "/dev/sda1", "overlay" */
    char fstype[MON_FSTYPE_MAX];
    unsigned major, minor;       /**< st_dev of the filesystem, from mountinfo */
    /** statvfs() of the mount point worked; the three sizes are valid. */
    bool has_space;
    /** Bytes: total = f_blocks*f_frsize, free = f_bavail*f_frsize (what
     *  users may still write), used = (f_blocks-f_bfree)*f_frsize. */
    uint64_t total, used, free;
    /** A /proc/diskstats line has this major:minor; reads/writes are valid. */
    bool has_io;
    uint64_t reads, writes;      /**< completed I/Os since boot */
};

/** The raw counters at one moment.  Owns its two lists. */
struct mon_snapshot {
    struct timespec taken;         /**< CLOCK_MONOTONIC when reading began */

    bool has_cpu;                  /**< the aggregate "cpu" line was read */
    struct mon_cpu_times cpu;
    int cores;                     /**< number of "cpuN" lines (0 if none) */

    bool has_load;
    double load[3];                /**< 1, 5 and 15 minute load averages */

    /** °C: the hottest thermal zone; only without any readable zone, the
     *  hottest hwmon temp*_input.  Values outside -100..200 °C are ignored
     *  (zones without a sensor report things like -273 or 0xffff...). */
    bool has_temperature;
    double temperature;

    /** MemTotal was read.  All in bytes (meminfo says kB). */
    bool has_mem;
    uint64_t mem_total, mem_free, mem_buffers;
    /** Cached + SReclaimable: reclaimable slab is cache too; free(1) and
     *  psutil count it the same way. */
    uint64_t mem_cached;
    /** MemAvailable exists (Linux >= 3.14); otherwise mem_available is 0. */
    bool has_mem_available;
    uint64_t mem_available;

    /** Real filesystems, sorted by mount point (owned). */
    struct mon_disk *disks;
    size_t n_disks;
    /** Interfaces as read; mon_snapshot_read() sorts them by name (owned). */
    struct mon_netif *netifs;
    size_t n_netifs;
};

/**
 * Read a snapshot.
 * @param root "" or "/" for this machine; otherwise a directory put in
 *             front of /proc/..., /sys/... and of every mount point given to
 *             statvfs() (tests and benchmarks use fixture trees)
 * @param out  filled (caller owns it: mon_snapshot_clear()); zeroed on error
 * @return 0, -EINVAL (NULL argument), -ENAMETOOLONG (root too long) or
 *         -ENOMEM.
 */
int mon_snapshot_read(const char *root, struct mon_snapshot *out);

/** Free the lists and zero @p s; NULL is fine. */
void mon_snapshot_clear(struct mon_snapshot *s);

/* ------------------------------------------------------------------ */
/* Text parsers, exposed for the tests and the fuzzer.  Each reads a
 * NUL-terminated buffer and fills only its own part of @p out.         */

/** /proc/stat: the aggregate "cpu" line (sets has_cpu) and the number of
 *  "cpuN" lines (cores).  @return 0, or -EINVAL for a NULL argument. */
int mon_parse_stat(const char *text, struct mon_snapshot *out);

/** /proc/loadavg: the first three fields.  @return 0 or -EINVAL. */
int mon_parse_loadavg(const char *text, struct mon_snapshot *out);

/** /proc/meminfo: MemTotal (sets has_mem), MemFree, MemAvailable,
 *  Buffers, Cached, SReclaimable.  @return 0 or -EINVAL. */
int mon_parse_meminfo(const char *text, struct mon_snapshot *out);

/** /proc/net/dev: appends one #mon_netif per interface line to
 *  out->netifs (in file order, duplicates kept).
 *  @return 0, -EINVAL or -ENOMEM (the lines before it stay appended). */
int mon_parse_netdev(const char *text, struct mon_snapshot *out);

/**
 * /proc/self/mountinfo: replaces out->disks with the real filesystems.
 * Counted: a source starting with "/dev/" or a known on-disk type (ext2/3/4,
 * xfs, btrfs, zfs, f2fs, vfat, exfat, ntfs, ntfs3, jfs, reiserfs), and
 * overlay only at "/" (a container's root); never a pseudo or memory
 * filesystem, nor a read-only image (squashfs, iso9660, erofs: always
 * full).  One entry per major:minor: the shortest mount point, the first on
 * a tie.  Sorted by mount point; has_space and has_io false.
 * @return 0, -EINVAL or -ENOMEM (out->disks then empty).
 */
int mon_parse_mountinfo(const char *text, struct mon_snapshot *out);

/** One sysfs temperature file (thermal_zoneN/temp, hwmonN/tempM_input):
 *  an integer in millidegrees Celsius.  @return 0 with *@p celsius set, or
 *  -EINVAL (NULL, not an integer, or outside -100..200 °C). */
int mon_parse_millidegrees(const char *text, double *celsius);

/** /proc/diskstats: sets has_io, reads and writes of each entry of
 *  out->disks whose major:minor has a line (the first such line).
 *  @return 0, -EINVAL or -ENOMEM. */
int mon_parse_diskstats(const char *text, struct mon_snapshot *out);

#ifdef __cplusplus
}
#endif

#endif
