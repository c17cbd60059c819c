/* core/events: in-process publish/subscribe by topic with JSON payloads.
 *
 * Publishing only enqueues (bounded; past the bound an event is dropped and
 * counted), so a publisher never waits for a slow subscriber.  One dispatcher
 * thread delivers in publish order.  Callbacks must not subscribe or
 * unsubscribe; they may publish. */
#ifndef WGM_CORE_EVENTS_H
#define WGM_CORE_EVENTS_H

#include <stdint.h>
#include <jansson.h>
#include <wgm/host.h>

struct wgm_bus;

/* The SDK's wgm_event_fn: @payload is borrowed for the call. */
typedef wgm_event_fn wgm_bus_fn;

struct wgm_bus_stats {
    uint64_t published, delivered, dropped;
};

struct wgm_bus *wgm_bus_new(unsigned queue_limit);
/* Deliver what is queued, stop the dispatcher, free.  Accepts NULL. */
struct wgm_bus *wgm_bus_free(struct wgm_bus *bus);
/* @payload is stolen.  -ENOSPC when the queue is full (payload freed). */
int wgm_bus_publish(struct wgm_bus *bus, const char *topic, json_t *payload);
/* @topic is an exact name or "*".  @owner groups subscriptions for removal. */
int wgm_bus_subscribe(struct wgm_bus *bus, struct wgm_ctx *owner, const char *topic, wgm_bus_fn fn, void *data);
/* Remove every subscription of @owner; returns after any of its running
 * callbacks has finished. */
void wgm_bus_unsubscribe_owner(struct wgm_bus *bus, struct wgm_ctx *owner);
/* Block until everything published so far has been delivered (tests, shutdown). */
void wgm_bus_flush(struct wgm_bus *bus);
void wgm_bus_stats(struct wgm_bus *bus, struct wgm_bus_stats *out);

#endif
