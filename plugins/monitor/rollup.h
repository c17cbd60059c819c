/* plugins/monitor/rollup: samples → the in-memory ring of raw values and
 * the min/max/sum/count buckets of 1 m, 5 m, 15 m and 1 h that go to the
 * database.  Pure (no host, no locking): the plugin holds its lock around
 * these calls and writes the closed buckets in batches. */
#ifndef WGM_MONITOR_ROLLUP_H
#define WGM_MONITOR_ROLLUP_H

#include <stddef.h>
#include <stdint.h>
#include "catalog.h"

#define MON_RES_COUNT 4
/* Bucket widths in seconds, finest first. */
extern const unsigned mon_resolutions[MON_RES_COUNT];
/* "1m", "5m", "15m", "1h". */
extern const char *const mon_resolution_names[MON_RES_COUNT];
/* Index of @name in mon_resolutions, or -1. */
int mon_resolution_lookup(const char *name);

struct mon_bucket {
    int64_t start;       /* Unix seconds, a multiple of the width */
    double min, max, sum;
    uint32_t count;      /* 0: empty */
};

/* A bucket that closed, waiting to be written. */
struct mon_closed {
    int metric;
    int res;
    struct mon_bucket b;
};

/* One raw sample in the ring. */
struct mon_raw {
    int64_t t;
    struct mon_values values;
};

struct mon_rollup {
    struct mon_bucket open[M_COUNT][MON_RES_COUNT];
    struct mon_closed *closed;   /* pending writes */
    size_t n_closed, cap_closed;
    size_t max_closed;           /* past it the oldest are dropped (database away) */
    uint64_t dropped;
    struct mon_raw *ring;
    size_t ring_size, ring_len, ring_head; /* head: next slot to write */
};

/* Set up with a ring of @ring_size samples and at most @max_closed pending
 * buckets.  0 or -ENOMEM. */
int mon_rollup_init(struct mon_rollup *r, size_t ring_size, size_t max_closed);
void mon_rollup_free(struct mon_rollup *r);

/* Record the values at @t: into the ring, and into every open bucket; a
 * bucket whose window @t has left is moved to the pending list first.
 * 0 or -ENOMEM (the sample is still in the ring). */
int mon_rollup_add(struct mon_rollup *r, int64_t t, const struct mon_values *values);

/* Move every non-empty open bucket to the pending list (shutdown: the
 * database merges a partial bucket with a later one of the same start). */
int mon_rollup_close_all(struct mon_rollup *r);

/* Take the pending list (caller frees it with free()). */
struct mon_closed *mon_rollup_take(struct mon_rollup *r, size_t *n);
/* Put back what could not be written, oldest first, ahead of newer ones. */
int mon_rollup_putback(struct mon_rollup *r, struct mon_closed *list, size_t n);

/* Merge @b into @into (same window). */
void mon_bucket_merge(struct mon_bucket *into, const struct mon_bucket *b);

/* The i-th newest raw sample (0: latest), or NULL. */
const struct mon_raw *mon_rollup_raw(const struct mon_rollup *r, size_t i);

#endif
