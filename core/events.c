/* core/events: bounded queue + one dispatcher thread. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "events.h"

struct event {
    struct event *next;
    char *topic;
    json_t *payload;
    uint64_t seq;
};

struct sub {
    struct sub *next;
    struct wgm_ctx *owner;
    char *topic;
    wgm_bus_fn fn;
    void *data;
};

struct wgm_bus {
    pthread_mutex_t lock;       /* queue and counters */
    pthread_cond_t wake, idle;
    struct event *head, *tail;
    unsigned queued, limit;
    uint64_t seq_published, seq_delivered;
    struct wgm_bus_stats stats;
    bool stopping;
    /* Held for reading while callbacks run, so removing an owner's
     * subscriptions waits for its callbacks in flight. */
    pthread_rwlock_t subs_lock;
    struct sub *subs;
    pthread_t thread;
};

static void deliver(struct wgm_bus *bus, struct event *ev)
{
    pthread_rwlock_rdlock(&bus->subs_lock);
    for (struct sub *s = bus->subs; s; s = s->next)
        if (strcmp(s->topic, "*") == 0 || strcmp(s->topic, ev->topic) == 0)
            s->fn(s->owner, ev->topic, ev->payload, s->data);
    pthread_rwlock_unlock(&bus->subs_lock);
}

static void *dispatcher(void *arg)
{
    struct wgm_bus *bus = arg;

    pthread_mutex_lock(&bus->lock);
    for (;;) {
        while (!bus->head && !bus->stopping)
            pthread_cond_wait(&bus->wake, &bus->lock);
        if (!bus->head && bus->stopping)
            break;
        struct event *ev = bus->head;
        bus->head = ev->next;
        if (!bus->head)
            bus->tail = NULL;
        bus->queued--;
        pthread_mutex_unlock(&bus->lock);

        deliver(bus, ev);

        pthread_mutex_lock(&bus->lock);
        bus->seq_delivered = ev->seq;
        bus->stats.delivered++;
        pthread_cond_broadcast(&bus->idle);
        json_decref(ev->payload);
        free(ev->topic);
        free(ev);
    }
    pthread_mutex_unlock(&bus->lock);
    return NULL;
}

struct wgm_bus *wgm_bus_new(unsigned queue_limit)
{
    struct wgm_bus *bus = calloc(1, sizeof(*bus));

    if (!bus)
        return NULL;
    bus->limit = queue_limit ? queue_limit : 10000;
    pthread_mutex_init(&bus->lock, NULL);
    pthread_cond_init(&bus->wake, NULL);
    pthread_cond_init(&bus->idle, NULL);
    pthread_rwlock_init(&bus->subs_lock, NULL);
    if (pthread_create(&bus->thread, NULL, dispatcher, bus) != 0) {
        pthread_rwlock_destroy(&bus->subs_lock);
        pthread_cond_destroy(&bus->idle);
        pthread_cond_destroy(&bus->wake);
        pthread_mutex_destroy(&bus->lock);
        free(bus);
        return NULL;
    }
    return bus;
}

struct wgm_bus *wgm_bus_free(struct wgm_bus *bus)
{
    if (!bus)
        return NULL;
    pthread_mutex_lock(&bus->lock);
    bus->stopping = true;
    pthread_cond_signal(&bus->wake);
    pthread_mutex_unlock(&bus->lock);
    pthread_join(bus->thread, NULL);
    while (bus->subs) {
        struct sub *s = bus->subs;
        bus->subs = s->next;
        free(s->topic);
        free(s);
    }
    pthread_rwlock_destroy(&bus->subs_lock);
    pthread_cond_destroy(&bus->idle);
    pthread_cond_destroy(&bus->wake);
    pthread_mutex_destroy(&bus->lock);
    free(bus);
    return NULL;
}

int wgm_bus_publish(struct wgm_bus *bus, const char *topic, json_t *payload)
{
    struct event *ev;

    if (!topic || !*topic) {
        json_decref(payload);
        return -EINVAL;
    }
    ev = calloc(1, sizeof(*ev));
    if (!ev || !(ev->topic = strdup(topic))) {
        free(ev);
        json_decref(payload);
        return -ENOMEM;
    }
    ev->payload = payload ? payload : json_object();
    pthread_mutex_lock(&bus->lock);
    if (bus->queued >= bus->limit || bus->stopping) {
        bus->stats.dropped++;
        pthread_mutex_unlock(&bus->lock);
        json_decref(ev->payload);
        free(ev->topic);
        free(ev);
        return -ENOSPC;
    }
    ev->seq = ++bus->seq_published;
    if (bus->tail)
        bus->tail->next = ev;
    else
        bus->head = ev;
    bus->tail = ev;
    bus->queued++;
    bus->stats.published++;
    pthread_cond_signal(&bus->wake);
    pthread_mutex_unlock(&bus->lock);
    return 0;
}

int wgm_bus_subscribe(struct wgm_bus *bus, struct wgm_ctx *owner, const char *topic, wgm_bus_fn fn, void *data)
{
    struct sub *s;

    if (!topic || !*topic || !fn)
        return -EINVAL;
    s = calloc(1, sizeof(*s));
    if (!s || !(s->topic = strdup(topic))) {
        free(s);
        return -ENOMEM;
    }
    s->owner = owner;
    s->fn = fn;
    s->data = data;
    pthread_rwlock_wrlock(&bus->subs_lock);
    s->next = bus->subs;
    bus->subs = s;
    pthread_rwlock_unlock(&bus->subs_lock);
    return 0;
}

void wgm_bus_unsubscribe_owner(struct wgm_bus *bus, struct wgm_ctx *owner)
{
    pthread_rwlock_wrlock(&bus->subs_lock);
    for (struct sub **p = &bus->subs; *p;) {
        struct sub *s = *p;
        if (s->owner == owner) {
            *p = s->next;
            free(s->topic);
            free(s);
        } else {
            p = &s->next;
        }
    }
    pthread_rwlock_unlock(&bus->subs_lock);
}

void wgm_bus_flush(struct wgm_bus *bus)
{
    pthread_mutex_lock(&bus->lock);
    uint64_t target = bus->seq_published;
    while (bus->seq_delivered < target && !(bus->stopping && !bus->head))
        pthread_cond_wait(&bus->idle, &bus->lock);
    pthread_mutex_unlock(&bus->lock);
}

void wgm_bus_stats(struct wgm_bus *bus, struct wgm_bus_stats *out)
{
    pthread_mutex_lock(&bus->lock);
    *out = bus->stats;
    pthread_mutex_unlock(&bus->lock);
}
