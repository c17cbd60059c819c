/* plugins/monitor/rollup: see rollup.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rollup.h"

const unsigned mon_resolutions[MON_RES_COUNT] = {60, 300, 900, 3600};
const char *const mon_resolution_names[MON_RES_COUNT] = {"1m", "5m", "15m", "1h"};

int mon_resolution_lookup(const char *name)
{
    for (int i = 0; name && i < MON_RES_COUNT; i++)
        if (strcmp(name, mon_resolution_names[i]) == 0)
            return i;
    return -1;
}

int mon_rollup_init(struct mon_rollup *r, size_t ring_size, size_t max_closed)
{
    memset(r, 0, sizeof(*r));
    r->max_closed = max_closed ? max_closed : 1;
    r->ring_size = ring_size ? ring_size : 1;
    if (!(r->ring = calloc(r->ring_size, sizeof(*r->ring))))
        return -ENOMEM;
    return 0;
}

void mon_rollup_free(struct mon_rollup *r)
{
    if (!r)
        return;
    free(r->closed);
    free(r->ring);
    memset(r, 0, sizeof(*r));
}

static int push_closed(struct mon_rollup *r, int metric, int res, const struct mon_bucket *b)
{
    if (r->n_closed == r->max_closed) {
        /* the database has been away for long: keep the newest */
        memmove(r->closed, r->closed + 1, (r->n_closed - 1) * sizeof(*r->closed));
        r->n_closed--;
        r->dropped++;
    }
    if (r->n_closed == r->cap_closed) {
        size_t cap = r->cap_closed ? r->cap_closed * 2 : 64;
        struct mon_closed *n;
        if (cap > r->max_closed)
            cap = r->max_closed;
        if (!(n = realloc(r->closed, cap * sizeof(*n))))
            return -ENOMEM;
        r->closed = n;
        r->cap_closed = cap;
    }
    r->closed[r->n_closed++] = (struct mon_closed){metric, res, *b};
    return 0;
}

void mon_bucket_merge(struct mon_bucket *into, const struct mon_bucket *b)
{
    if (!b->count)
        return;
    if (!into->count) {
        *into = *b;
        return;
    }
    if (b->min < into->min)
        into->min = b->min;
    if (b->max > into->max)
        into->max = b->max;
    into->sum += b->sum;
    into->count += b->count;
}

int mon_rollup_add(struct mon_rollup *r, int64_t t, const struct mon_values *values)
{
    int rc = 0;

    r->ring[r->ring_head] = (struct mon_raw){t, *values};
    r->ring_head = (r->ring_head + 1) % r->ring_size;
    if (r->ring_len < r->ring_size)
        r->ring_len++;
    for (int m = 0; m < M_COUNT; m++) {
        if (!values->has[m])
            continue;
        for (int res = 0; res < MON_RES_COUNT; res++) {
            struct mon_bucket *b = &r->open[m][res];
            int64_t start = t - ((t % mon_resolutions[res]) + mon_resolutions[res]) % mon_resolutions[res];
            double v = values->v[m];
            if (b->count && b->start != start) {
                if (push_closed(r, m, res, b) < 0)
                    rc = -ENOMEM;
                b->count = 0;
            }
            if (!b->count) {
                *b = (struct mon_bucket){start, v, v, v, 1};
                continue;
            }
            if (v < b->min)
                b->min = v;
            if (v > b->max)
                b->max = v;
            b->sum += v;
            b->count++;
        }
    }
    return rc;
}

int mon_rollup_close_all(struct mon_rollup *r)
{
    int rc = 0;
    for (int m = 0; m < M_COUNT; m++)
        for (int res = 0; res < MON_RES_COUNT; res++)
            if (r->open[m][res].count) {
                if (push_closed(r, m, res, &r->open[m][res]) < 0)
                    rc = -ENOMEM;
                r->open[m][res].count = 0;
            }
    return rc;
}

struct mon_closed *mon_rollup_take(struct mon_rollup *r, size_t *n)
{
    struct mon_closed *list = r->closed;
    *n = r->n_closed;
    r->closed = NULL;
    r->n_closed = r->cap_closed = 0;
    return list;
}

int mon_rollup_putback(struct mon_rollup *r, struct mon_closed *list, size_t n)
{
    struct mon_closed *newer = r->closed;
    size_t n_newer = r->n_closed;
    int rc = 0;

    r->closed = NULL;
    r->n_closed = r->cap_closed = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = push_closed(r, list[i].metric, list[i].res, &list[i].b);
    for (size_t i = 0; i < n_newer && rc == 0; i++)
        rc = push_closed(r, newer[i].metric, newer[i].res, &newer[i].b);
    free(newer);
    return rc;
}

const struct mon_raw *mon_rollup_raw(const struct mon_rollup *r, size_t i)
{
    if (i >= r->ring_len)
        return NULL;
    return &r->ring[(r->ring_head + r->ring_size - 1 - i) % r->ring_size];
}
