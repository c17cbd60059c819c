/* core/scheduler: a FIFO of tasks served by N workers, plus one timer thread
 * that turns due timers into tasks. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include "scheduler.h"
#include "util.h"

struct timer {
    struct timer *next;
    int64_t id;
    struct wgm_ctx *owner;
    unsigned interval_ms;
    uint64_t due_ms;
    wgm_sched_fn fn;
    void *data;
    wgm_sched_free_fn data_free;
    bool queued_or_running;
};

struct task {
    struct task *next;
    struct wgm_ctx *owner;
    wgm_sched_fn fn;
    void *data;
    wgm_sched_free_fn data_free; /* NULL for a timer's run: the timer owns data */
    struct timer *timer;
};

struct wgm_sched {
    pthread_mutex_t lock;
    pthread_cond_t work, tick, done;
    struct task *head, *tail;
    struct timer *timers;
    int64_t next_id;
    bool stopping;
    unsigned nworkers;
    struct wgm_ctx **running_owner; /* per worker: owner of the task it runs, or NULL */
    pthread_t *workers;
    pthread_t timer_thread;
};

struct worker_arg {
    struct wgm_sched *s;
    unsigned index;
};

static void enqueue(struct wgm_sched *s, struct task *t)
{
    t->next = NULL;
    if (s->tail)
        s->tail->next = t;
    else
        s->head = t;
    s->tail = t;
    pthread_cond_signal(&s->work);
}

static void *worker_main(void *arg)
{
    struct worker_arg *wa = arg;
    struct wgm_sched *s = wa->s;
    unsigned me = wa->index;

    free(wa);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->work, &s->lock);
        if (s->stopping)
            break;
        struct task *t = s->head;
        s->head = t->next;
        if (!s->head)
            s->tail = NULL;
        s->running_owner[me] = t->owner;
        pthread_mutex_unlock(&s->lock);

        t->fn(t->owner, t->data);
        if (t->data_free)
            t->data_free(t->data);

        pthread_mutex_lock(&s->lock);
        if (t->timer)
            t->timer->queued_or_running = false;
        s->running_owner[me] = NULL;
        pthread_cond_broadcast(&s->done);
        free(t);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void deadline_from_ms(uint64_t due_ms, struct timespec *ts)
{
    /* Timers are kept in monotonic ms; the condvar uses CLOCK_MONOTONIC too. */
    ts->tv_sec = (time_t)(due_ms / 1000);
    ts->tv_nsec = (long)(due_ms % 1000) * 1000000L;
}

static void *timer_main(void *arg)
{
    struct wgm_sched *s = arg;

    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        uint64_t now = wgm_now_ms(), next = now + 60000;
        for (struct timer *t = s->timers; t; t = t->next) {
            if (t->due_ms <= now) {
                t->due_ms = now + t->interval_ms;
                if (!t->queued_or_running) {
                    struct task *task = calloc(1, sizeof(*task));
                    if (task) {
                        task->owner = t->owner;
                        task->fn = t->fn;
                        task->data = t->data;
                        task->timer = t;
                        t->queued_or_running = true;
                        enqueue(s, task);
                    }
                }
            }
            if (t->due_ms < next)
                next = t->due_ms;
        }
        struct timespec ts;
        deadline_from_ms(next, &ts);
        pthread_cond_timedwait(&s->tick, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

struct wgm_sched *wgm_sched_new(unsigned workers)
{
    struct wgm_sched *s = calloc(1, sizeof(*s));
    pthread_condattr_t ca;

    if (!s)
        return NULL;
    s->nworkers = workers ? workers : 2;
    s->workers = calloc(s->nworkers, sizeof(*s->workers));
    s->running_owner = calloc(s->nworkers, sizeof(*s->running_owner));
    if (!s->workers || !s->running_owner)
        goto fail;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->tick, &ca);
    pthread_condattr_destroy(&ca);
    for (unsigned i = 0; i < s->nworkers; i++) {
        struct worker_arg *wa = malloc(sizeof(*wa));
        if (!wa)
            abort(); /* start-up only: nothing sensible to unwind to */
        wa->s = s;
        wa->index = i;
        if (pthread_create(&s->workers[i], NULL, worker_main, wa) != 0)
            abort();
    }
    if (pthread_create(&s->timer_thread, NULL, timer_main, s) != 0)
        abort();
    return s;
fail:
    free(s->workers);
    free(s->running_owner);
    free(s);
    return NULL;
}

static void free_timer(struct timer *t)
{
    if (t->data_free)
        t->data_free(t->data);
    free(t);
}

struct wgm_sched *wgm_sched_free(struct wgm_sched *s)
{
    if (!s)
        return NULL;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->tick);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->timer_thread, NULL);
    for (unsigned i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    while (s->head) {
        struct task *t = s->head;
        s->head = t->next;
        if (t->data_free)
            t->data_free(t->data);
        free(t);
    }
    while (s->timers) {
        struct timer *t = s->timers;
        s->timers = t->next;
        free_timer(t);
    }
    pthread_cond_destroy(&s->tick);
    pthread_cond_destroy(&s->done);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    free(s->workers);
    free(s->running_owner);
    free(s);
    return NULL;
}

int64_t wgm_sched_timer_add(struct wgm_sched *s, struct wgm_ctx *owner, unsigned interval_ms, wgm_sched_fn fn,
                            void *data, wgm_sched_free_fn data_free)
{
    struct timer *t;

    if (!fn || interval_ms == 0)
        return -EINVAL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->owner = owner;
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->data = data;
    t->data_free = data_free;
    pthread_mutex_lock(&s->lock);
    t->id = ++s->next_id;
    t->due_ms = wgm_now_ms() + interval_ms;
    t->next = s->timers;
    s->timers = t;
    pthread_cond_signal(&s->tick);
    pthread_mutex_unlock(&s->lock);
    return t->id;
}

/* Drop queued runs of @t and wait for a running one; called with the lock. */
static void quiesce_timer_locked(struct wgm_sched *s, struct timer *t)
{
    for (struct task **p = &s->head; *p;) {
        if ((*p)->timer == t) {
            struct task *dead = *p;
            *p = dead->next;
            free(dead);
            t->queued_or_running = false;
        } else {
            p = &(*p)->next;
        }
    }
    s->tail = NULL;
    for (struct task *q = s->head; q; q = q->next)
        s->tail = q;
    while (t->queued_or_running)
        pthread_cond_wait(&s->done, &s->lock);
}

int wgm_sched_timer_del(struct wgm_sched *s, struct wgm_ctx *owner, int64_t id)
{
    pthread_mutex_lock(&s->lock);
    for (struct timer **p = &s->timers; *p; p = &(*p)->next) {
        struct timer *t = *p;
        if (t->id != id || t->owner != owner)
            continue;
        *p = t->next;
        quiesce_timer_locked(s, t);
        pthread_mutex_unlock(&s->lock);
        free_timer(t);
        return 0;
    }
    pthread_mutex_unlock(&s->lock);
    return -ENOENT;
}

int wgm_sched_submit(struct wgm_sched *s, struct wgm_ctx *owner, wgm_sched_fn fn, void *data,
                     wgm_sched_free_fn data_free)
{
    struct task *t;

    if (!fn)
        return -EINVAL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->owner = owner;
    t->fn = fn;
    t->data = data;
    t->data_free = data_free;
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        free(t);
        return -ESHUTDOWN;
    }
    enqueue(s, t);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static bool owner_running(struct wgm_sched *s, struct wgm_ctx *owner)
{
    for (unsigned i = 0; i < s->nworkers; i++)
        if (s->running_owner[i] == owner)
            return true;
    return false;
}

void wgm_sched_cancel_owner(struct wgm_sched *s, struct wgm_ctx *owner)
{
    struct timer *dead = NULL;

    pthread_mutex_lock(&s->lock);
    for (struct timer **p = &s->timers; *p;) {
        struct timer *t = *p;
        if (t->owner == owner) {
            *p = t->next;
            quiesce_timer_locked(s, t);
            t->next = dead;
            dead = t;
        } else {
            p = &t->next;
        }
    }
    for (struct task **p = &s->head; *p;) {
        struct task *t = *p;
        if (t->owner == owner) {
            *p = t->next;
            if (t->data_free)
                t->data_free(t->data);
            free(t);
        } else {
            p = &t->next;
        }
    }
    s->tail = NULL;
    for (struct task *q = s->head; q; q = q->next)
        s->tail = q;
    while (owner_running(s, owner))
        pthread_cond_wait(&s->done, &s->lock);
    pthread_mutex_unlock(&s->lock);
    while (dead) {
        struct timer *t = dead;
        dead = t->next;
        free_timer(t);
    }
}
