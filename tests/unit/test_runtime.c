/* Event bus and scheduler: ordering, bounds, ownership and cancellation. */
#include <errno.h>
#include <stdatomic.h>
#include <unistd.h>
#include "events.h"
#include "scheduler.h"
#include "tap.h"

static struct wgm_ctx *const A = (struct wgm_ctx *)0x10, *const B = (struct wgm_ctx *)0x20;

static atomic_int seen_a, seen_b, seen_all, last_seq, order_ok = 1;

static void on_event(struct wgm_ctx *owner, const char *topic, json_t *payload, void *data)
{
    (void)data;
    (void)topic;
    int seq = (int)json_integer_value(json_object_get(payload, "seq"));
    if (owner == A) {
        if (seq != atomic_load(&last_seq) + 1)
            atomic_store(&order_ok, 0);
        atomic_store(&last_seq, seq);
        atomic_fetch_add(&seen_a, 1);
    } else {
        atomic_fetch_add(&seen_b, 1);
    }
}

static void on_all(struct wgm_ctx *owner, const char *topic, json_t *payload, void *data)
{
    (void)owner; (void)topic; (void)payload; (void)data;
    atomic_fetch_add(&seen_all, 1);
}

static void slow(struct wgm_ctx *owner, const char *topic, json_t *payload, void *data)
{
    (void)owner; (void)topic; (void)payload; (void)data;
    usleep(20000);
}

static atomic_int ticks_a, ticks_b, task_runs, freed;
static void tick(struct wgm_ctx *owner, void *data)
{
    (void)data;
    atomic_fetch_add(owner == A ? &ticks_a : &ticks_b, 1);
}
static void task(struct wgm_ctx *owner, void *data)
{
    (void)owner;
    atomic_fetch_add(&task_runs, *(int *)data);
}
static void count_free(void *p)
{
    atomic_fetch_add(&freed, 1);
    free(p);
}

static void test_bus(void)
{
    struct wgm_bus *bus = wgm_bus_new(100000);
    struct wgm_bus_stats st;

    ok(bus != NULL, "bus created");
    is_int(wgm_bus_subscribe(bus, A, "wireguard.client.created", on_event, NULL), 0, "subscribe A");
    is_int(wgm_bus_subscribe(bus, B, "other.topic", on_event, NULL), 0, "subscribe B");
    is_int(wgm_bus_subscribe(bus, B, "*", on_all, NULL), 0, "subscribe wildcard");
    is_int(wgm_bus_subscribe(bus, A, "", on_event, NULL), -EINVAL, "empty topic refused");
    for (int i = 1; i <= 1000; i++)
        wgm_bus_publish(bus, "wireguard.client.created", json_pack("{s:i}", "seq", i));
    wgm_bus_publish(bus, "other.topic", json_pack("{s:i}", "seq", 0));
    is_int(wgm_bus_publish(bus, "", json_object()), -EINVAL, "empty topic publish refused");
    wgm_bus_flush(bus);
    is_int(atomic_load(&seen_a), 1000, "every event delivered to its topic");
    ok(atomic_load(&order_ok), "delivered in publish order");
    is_int(atomic_load(&seen_b), 1, "other topic delivered only to its subscriber");
    is_int(atomic_load(&seen_all), 1001, "wildcard sees all");
    wgm_bus_unsubscribe_owner(bus, A);
    wgm_bus_publish(bus, "wireguard.client.created", json_pack("{s:i}", "seq", 1001));
    wgm_bus_flush(bus);
    is_int(atomic_load(&seen_a), 1000, "unsubscribed owner gets nothing");
    wgm_bus_stats(bus, &st);
    is_int(st.published, 1002, "published counted");
    wgm_bus_free(bus);

    /* A bounded queue drops (and counts) rather than blocking the publisher. */
    bus = wgm_bus_new(5);
    wgm_bus_subscribe(bus, A, "t", slow, NULL);
    int refused = 0;
    for (int i = 0; i < 50; i++)
        refused += wgm_bus_publish(bus, "t", json_object()) == -ENOSPC;
    ok(refused > 0, "full queue refuses with -ENOSPC (%d refused)", refused);
    wgm_bus_stats(bus, &st);
    is_int(st.dropped, refused, "drops counted");
    wgm_bus_free(bus);
}

static void test_sched(void)
{
    struct wgm_sched *s = wgm_sched_new(2);
    int64_t ta, tb;

    ta = wgm_sched_timer_add(s, A, 20, tick, NULL, NULL);
    tb = wgm_sched_timer_add(s, B, 20, tick, malloc(1), count_free);
    ok(ta > 0 && tb > 0 && ta != tb, "timers get distinct ids");
    is_int(wgm_sched_timer_add(s, A, 0, tick, NULL, NULL), -EINVAL, "zero interval refused");
    usleep(250000);
    ok(atomic_load(&ticks_a) >= 3 && atomic_load(&ticks_b) >= 3, "timers fire (%d, %d)", atomic_load(&ticks_a),
       atomic_load(&ticks_b));
    is_int(wgm_sched_timer_del(s, A, tb), -ENOENT, "cannot delete another owner's timer");
    wgm_sched_cancel_owner(s, B);
    is_int(atomic_load(&freed), 1, "cancelled timer's data freed");
    int b_then = atomic_load(&ticks_b);
    usleep(100000);
    is_int(atomic_load(&ticks_b), b_then, "cancelled owner's timer stops");
    is_int(wgm_sched_timer_del(s, A, ta), 0, "delete own timer");
    int a_then = atomic_load(&ticks_a);
    usleep(100000);
    is_int(atomic_load(&ticks_a), a_then, "deleted timer stops");

    for (int i = 0; i < 100; i++) {
        int *v = malloc(sizeof(int));
        *v = 2;
        wgm_sched_submit(s, A, task, v, count_free);
    }
    for (int i = 0; i < 200 && atomic_load(&task_runs) < 200; i++)
        usleep(5000);
    is_int(atomic_load(&task_runs), 200, "every task ran once");
    is_int(atomic_load(&freed), 101, "task data freed after each run");
    wgm_sched_free(s);
}

int main(void)
{
    test_bus();
    test_sched();
    return done_testing();
}
