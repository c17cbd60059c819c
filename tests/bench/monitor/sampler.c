/* The monitor's sampling round alone: figures only, asserts nothing.
 *
 * Reads a first snapshot of ROOT, then runs N rounds of what the plugin
 * does every few seconds: read a snapshot, derive a sample from it and the
 * previous one, drop the older snapshot.  Prints the CPU time (getrusage
 * user + sys) and the wall time per round in µs, and what a round saw:
 * interfaces, counted mounts, mounts with I/O counters.  Stops early when
 * the time budget runs out, and says how far it got.
 *
 * Usage: sampler ROOT [N [BUDGET_S]]   (ROOT "/" is this machine; N at most
 *        1000000, default 2000; BUDGET_S default 60) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "procfs.h"
#include "sample.h"

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    struct mon_snapshot prev, cur;
    struct mon_sample m = {0};
    struct rusage r0, r1;
    const char *root;
    long n, budget, done = 0;
    double t0, wall, user, sys;
    size_t with_io = 0, i;
    int rc;

    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s ROOT [N [BUDGET_S]]\n", argv[0]);
        return 2;
    }
    root = argv[1];
    n = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
    budget = argc > 3 ? strtol(argv[3], NULL, 10) : 60;
    if (n < 1 || n > 1000000 || budget < 1) {
        fprintf(stderr, "N must be 1..1000000 and BUDGET_S at least 1\n");
        return 2;
    }

    rc = mon_snapshot_read(root, &prev);
    if (rc < 0) {
        fprintf(stderr, "snapshot of %s: %s\n", root, strerror(-rc));
        return 1;
    }
    getrusage(RUSAGE_SELF, &r0);
    t0 = now_s();
    while (done < n && now_s() - t0 < (double)budget) {
        rc = mon_snapshot_read(root, &cur);
        if (rc == 0) {
            mon_sample_clear(&m);
            rc = mon_sample_derive(&prev, &cur, &m);
        }
        if (rc < 0) {
            fprintf(stderr, "round %ld: %s\n", done, strerror(-rc));
            break;
        }
        mon_snapshot_clear(&prev);
        prev = cur;
        done++;
    }
    wall = now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    user = tv_s(r1.ru_utime) - tv_s(r0.ru_utime);
    sys = tv_s(r1.ru_stime) - tv_s(r0.ru_stime);

    for (i = 0; i < prev.n_disks; i++)
        with_io += prev.disks[i].has_io;
    printf("  root %s: %zu interfaces, %zu mounts (%zu with I/O counters), %d cores%s%s\n", root, prev.n_netifs,
           prev.n_disks, with_io, prev.cores, prev.has_temperature ? ", temperature" : "",
           prev.has_mem ? ", memory" : "");
    if (done > 0) {
        printf("  %ld samples%s: cpu %.1f us/sample (user %.1f + sys %.1f), wall %.1f us/sample\n", done,
               done < n ? " (budget ran out)" : "", (user + sys) * 1e6 / (double)done, user * 1e6 / (double)done,
               sys * 1e6 / (double)done, wall * 1e6 / (double)done);
        printf("  last sample: cpu %s, net rates %s, iops %s\n", m.has_cpu_usage ? "yes" : "no",
               m.has_net_rates ? "yes" : "no", m.has_iops ? "yes" : "no");
    }
    mon_sample_clear(&m);
    mon_snapshot_clear(&prev);
    return rc < 0 ? 1 : 0;
}
