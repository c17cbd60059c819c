/* core/logs/queue: the bounded hand-off between threads that log and the log
 * store's writer.
 *
 * Pushing never waits for the consumer: a full queue drops the item and
 * counts it, because a slow database must never slow a request down.  The
 * lock is held only for pointer moves.  Items are opaque pointers owned by
 * the queue from a successful push until they are popped. */
#ifndef WGM_CORE_LOGS_QUEUE_H
#define WGM_CORE_LOGS_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct wgm_logq {
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* CLOCK_MONOTONIC */
    void **ring;
    size_t cap, head, count;
    size_t want;           /* a waiting consumer wants this many; 0 when none waits */
    uint64_t dropped;      /* pushes refused because the ring was full */
    bool open;
};

/* Initialise the lock and condition; the queue is closed and empty.
 * 0 or a negative errno. */
int wgm_logq_init(struct wgm_logq *q);
/* Allocate room for @cap items and accept pushes.  0, -EINVAL, -EBUSY when
 * already open, -ENOMEM. */
int wgm_logq_open(struct wgm_logq *q, size_t cap);
/* Append @item: 0; -ENOSPC when full (the item stays the caller's and the
 * drop is counted); -EPIPE when closed (not counted: nobody is listening). */
int wgm_logq_push(struct wgm_logq *q, void *item);
/* Move up to @max items into @out, oldest first.  Waits until @max items
 * are there, the queue is closed, or @wait_ms passed, whichever is first.
 * Returns the number moved (0 on timeout), or -EPIPE once closed and empty. */
ssize_t wgm_logq_pop(struct wgm_logq *q, void **out, size_t max, unsigned wait_ms);
/* The drop count since the last call, reset to 0. */
uint64_t wgm_logq_take_dropped(struct wgm_logq *q);
/* Refuse further pushes and wake the consumer; queued items stay poppable. */
void wgm_logq_close(struct wgm_logq *q);
/* Close, free every queued item with @free_item (may be NULL) and the ring.
 * The lock stays usable, so a late push from another thread is refused
 * safely; the queue may be opened again. */
void wgm_logq_clear(struct wgm_logq *q, void (*free_item)(void *item));
/* Clear, then destroy the lock: only when no other thread can touch @q. */
void wgm_logq_destroy(struct wgm_logq *q, void (*free_item)(void *item));

#endif
