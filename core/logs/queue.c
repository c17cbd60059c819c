/* core/logs/queue: a ring of pointers under one mutex.  A ring (not a list)
 * so the bound is memory allocated once, and a push under pressure costs
 * no allocation. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "logs/queue.h"

int wgm_logq_init(struct wgm_logq *q)
{
    pthread_condattr_t ca;
    int r;

    *q = (struct wgm_logq){0};
    if ((r = pthread_mutex_init(&q->lock, NULL)) != 0)
        return -r;
    /* Monotonic, so a clock step cannot stretch the writer's batch wait. */
    if ((r = pthread_condattr_init(&ca)) != 0)
        goto fail;
    r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (r == 0)
        r = pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (r == 0)
        return 0;
fail:
    pthread_mutex_destroy(&q->lock);
    return -r;
}

int wgm_logq_open(struct wgm_logq *q, size_t cap)
{
    void **ring;
    int r = 0;

    if (cap == 0)
        return -EINVAL;
    ring = calloc(cap, sizeof(*ring));
    if (!ring)
        return -ENOMEM;
    pthread_mutex_lock(&q->lock);
    if (q->open || q->ring) {
        r = -EBUSY;
    } else {
        q->ring = ring;
        ring = NULL;
        q->cap = cap;
        q->head = q->count = q->want = 0;
        q->dropped = 0;
        q->open = true;
    }
    pthread_mutex_unlock(&q->lock);
    free(ring);
    return r;
}

int wgm_logq_push(struct wgm_logq *q, void *item)
{
    int r = 0;

    pthread_mutex_lock(&q->lock);
    if (!q->open) {
        r = -EPIPE;
    } else if (q->count == q->cap) {
        q->dropped++;
        r = -ENOSPC;
    } else {
        q->ring[(q->head + q->count) % q->cap] = item;
        q->count++;
        /* Wake the consumer only when its batch is full: below that it
         * wakes on its own timeout, and a signal per record would cost a
         * context switch per log line. */
        if (q->want && q->count >= q->want)
            pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

ssize_t wgm_logq_pop(struct wgm_logq *q, void **out, size_t max, unsigned wait_ms)
{
    struct timespec deadline;
    size_t n;

    if (max == 0)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->lock);
    while (q->open && q->count < max) {
        q->want = max;
        if (pthread_cond_timedwait(&q->cond, &q->lock, &deadline) == ETIMEDOUT)
            break;
    }
    q->want = 0;
    if (!q->open && q->count == 0) {
        pthread_mutex_unlock(&q->lock);
        return -EPIPE;
    }
    n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++) {
        out[i] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
    }
    q->count -= n;
    pthread_mutex_unlock(&q->lock);
    return (ssize_t)n;
}

uint64_t wgm_logq_take_dropped(struct wgm_logq *q)
{
    uint64_t n;

    pthread_mutex_lock(&q->lock);
    n = q->dropped;
    q->dropped = 0;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void wgm_logq_close(struct wgm_logq *q)
{
    pthread_mutex_lock(&q->lock);
    q->open = false;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void wgm_logq_clear(struct wgm_logq *q, void (*free_item)(void *item))
{
    void **ring;
    size_t head, count, cap;

    pthread_mutex_lock(&q->lock);
    q->open = false;
    ring = q->ring;
    head = q->head;
    count = q->count;
    cap = q->cap;
    q->ring = NULL;
    q->cap = q->head = q->count = 0;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    /* Freed outside the lock: free_item may be slow or may log. */
    for (size_t i = 0; ring && free_item && i < count; i++)
        free_item(ring[(head + i) % cap]);
    free(ring);
}

void wgm_logq_destroy(struct wgm_logq *q, void (*free_item)(void *item))
{
    if (!q)
        return;
    wgm_logq_clear(q, free_item);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
}
