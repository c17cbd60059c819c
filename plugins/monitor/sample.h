/**
 * @file sample.h
 * @brief Usage and rates derived from two snapshots (procfs.h).
 *
 * mon_sample_derive() turns the raw counters of a previous and a current
 * #mon_snapshot into what the dashboard shows: CPU busy percent, memory and
 * disk usage, IOPS and network rates.  A value whose inputs are missing is
 * absent (its has_* flag false), never invented: the first sample has no
 * rates, and a counter that went backwards (interface recreated, device
 * replaced, counter reset) gives that item no rate for that round.
 *
 * Items are matched between the snapshots by name (interfaces) or by mount
 * point and device (disks) through a sorted index: O(n log n).
 *
 * Nothing here logs.  Functions return 0 or a negative errno.
 */
#ifndef WGM_MONITOR_SAMPLE_H
#define WGM_MONITOR_SAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "procfs.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One interface: cumulative counters and, from the second sample, rates. */
struct mon_netif_sample {
    char name[MON_NAME_MAX];
    uint64_t bytes_sent, bytes_recv, packets_sent, packets_recv;
    uint64_t errors, drops;   /**< rx + tx */
    /** The interface was in the previous snapshot and no counter went
     *  backwards; the *_ps values are valid. */
    bool has_rates;
    double bytes_sent_ps, bytes_recv_ps, packets_sent_ps, packets_recv_ps, errors_ps, drops_ps;
};

/** One counted filesystem (see mon_parse_mountinfo()). */
struct mon_disk_sample {
    char mount[MON_MOUNT_MAX];
    char device[MON_NAME_MAX];
    char fstype[MON_FSTYPE_MAX];
    /** statvfs() worked: the sizes and usage_percent are valid. */
    bool has_space;
    uint64_t total, used, free;  /**< bytes; free is what users may write */
    double usage_percent;        /**< used / (used + free), as df(1) shows it */
    /** I/O counters in both snapshots, not gone backwards. */
    bool has_iops;
    double read_iops, write_iops;
};

/** What one sampling round reports.  Owns its two lists. */
struct mon_sample {
    time_t wall;                  /**< time(NULL) when derived; the caller may overwrite it */

    /** 100 * (1 - (idle+iowait) delta / total delta), clamped to 0..100;
     *  needs a previous snapshot with CPU times. */
    bool has_cpu_usage;
    double cpu_usage;
    int cores;
    bool has_load;
    double load[3];
    bool has_temperature;
    double temperature;           /**< °C */

    /** MemTotal was read and is not 0.  Bytes. */
    bool has_mem;
    uint64_t mem_total;
    /** total - MemAvailable when the kernel has it, else
     *  total - free - cached - buffers (never below 0). */
    uint64_t mem_used;
    uint64_t mem_free;            /**< MemFree: memory nobody uses at all */
    uint64_t mem_available;       /**< total - used: what programs can still get */
    uint64_t mem_cached;          /**< Cached + SReclaimable */
    uint64_t mem_buffers;
    double mem_usage_percent;     /**< used / total */

    /** At least one disk has_space; the sums are over those disks. */
    bool has_disk;
    uint64_t disk_total, disk_used, disk_free;
    double disk_usage_percent;    /**< used / (used + free), as df(1) */

    /** At least one disk has_iops; the sums are over those disks. */
    bool has_iops;
    double read_iops, write_iops;

    /** Current snapshot's disks, same order (owned). */
    struct mon_disk_sample *disks;
    size_t n_disks;

    /** At least one interface other than "lo" has_rates; the totals are
     *  the sum over those (an interface without rates this round is left
     *  out, not counted as 0). */
    bool has_net_rates;
    double bytes_sent_ps, bytes_recv_ps, packets_sent_ps, packets_recv_ps, errors_ps, drops_ps;
    /** Cumulative bytes over every interface but "lo". */
    uint64_t bytes_sent, bytes_recv;

    /** Current snapshot's interfaces, "lo" included, same order (owned). */
    struct mon_netif_sample *netifs;
    size_t n_netifs;
};

/**
 * Derive a sample.
 * @param prev the previous snapshot (borrowed), or NULL for the first
 *             sample: then no CPU usage and no rates
 * @param cur  the current snapshot (borrowed)
 * @param out  filled (caller owns it: mon_sample_clear()); zeroed on error.
 *             Rates need cur->taken after prev->taken.
 * @return 0, -EINVAL (NULL @p cur or @p out) or -ENOMEM.
 */
int mon_sample_derive(const struct mon_snapshot *prev, const struct mon_snapshot *cur, struct mon_sample *out);

/** Free the lists and zero @p s; NULL is fine. */
void mon_sample_clear(struct mon_sample *s);

#ifdef __cplusplus
}
#endif

#endif
