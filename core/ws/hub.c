/* core/ws/hub: handshake, client registry, epoll loop, bus fan-out. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#include "auth/auth.h"
#include "auth/jwt.h"
#include "conf.h"
#include "daemon.h"
#include "events.h"
#include "http/request.h"
#include "http/router.h"
#include "log.h"
#include "plugin/loader.h"
#include "util.h"
#include "ws/frame.h"
#include "ws/hub.h"
#include "ws/revalidate.h"

#define MAX_CLIENTS 1000u          /* upgraded + handshaking; more get 503 */
#define QUEUE_MAX_MSGS 256u        /* per client, outbound */
#define QUEUE_MAX_BYTES (1u << 20) /* per client, outbound */
#define MAX_INBOUND (64u * 1024u)  /* one reassembled client message */
#define PING_IDLE_MS 30000u        /* ping a client silent this long */
#define PING_TIMEOUT_MS 30000u     /* and drop it if it stays silent this long */
#define CLOSE_LINGER_MS 2000u      /* wait for our close frame to leave / the peer's FIN */
#define PENDING_TTL_MS 60000u      /* a 101 that never reached the upgrade handler */
#define SHUTDOWN_WAIT_MS 2000u
#define TICK_MS 1000u
#define READ_CHUNK 16384u
#define READS_PER_EVENT 4 /* then let other clients have a turn */
/* A connection whose credential could not be re-checked (database down)
 * this long, and at least three intervals, is closed with 1013. */
#define STALE_MIN_MS 60000u

/* Pushed types and the permission each needs. */
static const struct {
    const char *type, *permission;
} types[] = {
    {"system_status", "monitoring.view"},
    {"wireguard_status", "wireguard.view"},
    {"bgp_status", "bgp.view"},
    {"ipv6_status", "ipv6.view"},
    {"alert", "monitoring.view"},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* An encoded frame, shared by every client it is queued for.  refs is
 * guarded by the hub lock. */
struct ws_buf {
    unsigned refs;
    size_t len;
    uint8_t data[];
};

enum client_state {
    ST_OPEN,
    ST_CLOSING,  /* our close frame is queued */
    ST_DRAINING, /* it has left and we sent FIN; discard input until EOF */
    ST_DONE,     /* handed back to libmicrohttpd; freed at the end of the loop turn */
};

struct ws_client {
    struct ws_client *next, *prev;
    uint64_t id;
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    struct wgm_principal principal; /* rebuilt from the request's, permissions deep-copied */
    int64_t iat_ms;                 /* JWT: issue time and expiry, for revalidation */
    time_t exp;
    uint64_t checked_ms;            /* when the credential last held */
    unsigned allowed, subscribed;   /* bit i: types[i] */
    bool explicit_subs;             /* false: "everything allowed" until the first subscribe */
    struct wgm_ws_parser *parser;
    uint8_t *extra; /* bytes the client sent right after its request */
    size_t extra_len;
    /* Outbound ring; q[qhead] may be partly sent (qoff bytes). */
    struct ws_buf *q[QUEUE_MAX_MSGS];
    unsigned qhead, qcount;
    size_t qbytes, qoff;
    enum client_state state;
    bool overflow;   /* the bus found the queue full: close as too slow */
    bool dirty;      /* something was queued: try to write */
    bool want_out;   /* registered for EPOLLOUT */
    bool ping_out;   /* our ping has not been answered by any traffic */
    uint64_t last_rx_ms, ping_sent_ms, deadline_ms;
};

/* A handshake answered with 101 whose socket has not reached on_upgrade. */
struct pending {
    struct pending *next;
    uint64_t id;
    struct wgm_ws_hub *hub;
    uint64_t created_ms;
    struct wgm_principal principal;
    int64_t iat_ms;
    time_t exp;
};

struct wgm_ws_hub {
    struct wgm_daemon *d;
    struct wgm_ctx owner; /* the hub's own bus owner, so shutdown removes just its subscriptions */
    pthread_mutex_t lock; /* clients, incoming, queues, stopping */
    struct ws_client *clients, *incoming;
    unsigned nclients; /* clients + incoming, not yet ST_DONE */
    atomic_uint count; /* copy of nclients for lock-free reads */
    unsigned npending; /* guarded by registry_lock */
    bool stopping;
    int epfd, evfd;
    pthread_t thread;
    bool thread_started;
    unsigned max_per_user;    /* [websocket] max_per_user */
    unsigned revalidate_ms;   /* [websocket] revalidate_interval */
    /* The revalidation thread: sleeps on auth_cond until the next pass or stop. */
    pthread_mutex_t auth_lock;
    pthread_cond_t auth_cond;
    bool auth_stop, auth_started, auth_failing;
    pthread_t auth_thread;
};

/* The upgrade handler gets an id rather than a pointer: the 101 can fail
 * to go out, and then nobody would ever free what a pointer pointed to.
 * Lock order: registry_lock, then a hub's lock. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pending *pending_head;
static uint64_t next_id;
static char owner_name[] = "ws";

static int type_index(const char *type)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(types[i].type, type) == 0)
            return (int)i;
    return -1;
}

static json_t *type_list(unsigned mask)
{
    json_t *a = json_array();
    for (size_t i = 0; i < NTYPES; i++)
        if (mask & (1u << i))
            json_array_append_new(a, json_string(types[i].type));
    return a;
}

/* The types @p may receive. */
static unsigned allowed_mask(const struct wgm_principal *p)
{
    unsigned mask = 0;
    for (size_t i = 0; i < NTYPES; i++)
        if (wgm_principal_can(p, types[i].permission))
            mask |= 1u << i;
    return mask;
}

static void principal_copy(struct wgm_principal *dst, const struct wgm_principal *src)
{
    *dst = *src;
    /* Deep: the request's copy dies with the request, and jansson
     * reference counts are not to be shared across threads. */
    dst->permissions = src->permissions ? json_deep_copy(src->permissions) : json_array();
}

static void wake(struct wgm_ws_hub *hub)
{
    uint64_t one = 1;
    ssize_t w = write(hub->evfd, &one, sizeof(one));
    (void)w; /* EAGAIN: the counter is already non-zero, a wake-up is due */
}

/* --- outbound queue (hub lock held) ------------------------------------ */

static struct ws_buf *buf_new(enum wgm_ws_opcode op, const void *payload, size_t len)
{
    uint8_t hdr[WGM_WS_MAX_HEADER];
    size_t h = wgm_ws_frame_header(hdr, op, len);
    struct ws_buf *b = malloc(sizeof(*b) + h + len);

    if (!b)
        return NULL;
    b->refs = 0;
    b->len = h + len;
    memcpy(b->data, hdr, h);
    if (len)
        memcpy(b->data + h, payload, len);
    return b;
}

static void buf_release(struct ws_buf *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static bool enqueue(struct ws_client *c, struct ws_buf *b)
{
    if (c->qcount >= QUEUE_MAX_MSGS || (c->qcount && c->qbytes + b->len > QUEUE_MAX_BYTES))
        return false;
    c->q[(c->qhead + c->qcount) % QUEUE_MAX_MSGS] = b;
    c->qcount++;
    c->qbytes += b->len;
    b->refs++;
    c->dirty = true;
    return true;
}

static void pop_head(struct ws_client *c)
{
    struct ws_buf *b = c->q[c->qhead];
    c->qbytes -= b->len;
    c->qhead = (c->qhead + 1) % QUEUE_MAX_MSGS;
    c->qcount--;
    c->qoff = 0;
    buf_release(b);
}

/* Forget what has not started to leave; a partly written frame must be
 * finished or the stream would be corrupt. */
static void drop_unsent(struct ws_client *c)
{
    unsigned keep = c->qoff ? 1 : 0;
    while (c->qcount > keep) {
        unsigned last = (c->qhead + c->qcount - 1) % QUEUE_MAX_MSGS;
        c->qbytes -= c->q[last]->len;
        buf_release(c->q[last]);
        c->qcount--;
    }
}

static void queue_control(struct ws_client *c, enum wgm_ws_opcode op, const void *payload, size_t len)
{
    struct ws_buf *b = buf_new(op, payload, len);
    if (!b || !enqueue(c, b)) {
        free(b);
        c->overflow = true;
    }
}

/* {"type","data","timestamp"} to one client; @data is stolen. */
static void send_msg(struct ws_client *c, const char *type, json_t *data)
{
    char ts[32];
    json_t *m = json_pack("{s:s,s:o,s:s}", "type", type, "data", data ? data : json_object(), "timestamp",
                          wgm_time_rfc3339(time(NULL), ts, sizeof(ts)));
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    struct ws_buf *b = text ? buf_new(WGM_WS_TEXT, text, strlen(text)) : NULL;

    if (!b || !enqueue(c, b)) {
        free(b);
        c->overflow = true;
    }
    free(text);
    json_decref(m);
}

static void send_error(struct ws_client *c, json_t *extra, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_error(struct ws_client *c, json_t *extra, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    json_t *data = extra ? extra : json_object();

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object_set_new(data, "message", json_string(msg));
    send_msg(c, "error", data);
}

/* --- connection life (hub thread, hub lock held) ----------------------- */

static void set_out(struct wgm_ws_hub *hub, struct ws_client *c, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};

    if (c->want_out != on && epoll_ctl(hub->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = on;
}

/* The connection is over: out of epoll now, before libmicrohttpd may
 * close (and reuse) the fd; the socket goes back to it in release(). */
static void finish(struct wgm_ws_hub *hub, struct ws_client *c, const char *why)
{
    if (c->state == ST_DONE)
        return;
    epoll_ctl(hub->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    c->state = ST_DONE;
    hub->nclients--;
    atomic_store(&hub->count, hub->nclients);
    wgm_log(WGM_LOG_DEBUG, "ws", "client %llu (%s) disconnected: %s; %u connected", (unsigned long long)c->id,
            c->principal.username, why, hub->nclients);
}

/* Start the closing handshake with @code (0: an empty close frame);
 * nothing but the close frame is sent from now on. */
static void client_close(struct ws_client *c, uint16_t code, const char *reason)
{
    uint8_t pl[WGM_WS_MAX_CONTROL];
    int n;

    if (c->state != ST_OPEN)
        return;
    drop_unsent(c);
    n = wgm_ws_close_payload(pl, code, reason);
    if (n < 0)
        n = wgm_ws_close_payload(pl, WGM_WS_CLOSE_INTERNAL, NULL);
    struct ws_buf *b = buf_new(WGM_WS_CLOSE, pl, (size_t)n);
    c->state = ST_CLOSING;
    c->deadline_ms = wgm_now_ms() + CLOSE_LINGER_MS;
    /* After drop_unsent there is room; without memory, just hang up. */
    if (!b || !enqueue(c, b)) {
        free(b);
        c->deadline_ms = 0;
    }
}

static int flush(struct wgm_ws_hub *hub, struct ws_client *c)
{
    c->dirty = false;
    while (c->qcount) {
        struct iovec iov[16];
        struct msghdr mh = {.msg_iov = iov};
        ssize_t w;

        for (unsigned i = 0; i < c->qcount && i < 16; i++) {
            struct ws_buf *b = c->q[(c->qhead + i) % QUEUE_MAX_MSGS];
            size_t off = i == 0 ? c->qoff : 0;
            iov[i].iov_base = b->data + off;
            iov[i].iov_len = b->len - off;
            mh.msg_iovlen = i + 1;
        }
        w = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out(hub, c, true);
                return 0;
            }
            return -errno;
        }
        while (w > 0) {
            size_t left = c->q[c->qhead]->len - c->qoff;
            if ((size_t)w >= left) {
                w -= (ssize_t)left;
                pop_head(c);
            } else {
                c->qoff += (size_t)w;
                w = 0;
            }
        }
    }
    set_out(hub, c, false);
    if (c->state == ST_CLOSING) {
        /* Our close is out: FIN, then read until the peer's FIN so unread
         * bytes cannot turn our close into a reset. */
        shutdown(c->fd, SHUT_WR);
        c->state = ST_DRAINING;
        c->deadline_ms = wgm_now_ms() + CLOSE_LINGER_MS;
    }
    return 0;
}

/* --- inbound ------------------------------------------------------------ */

static void handle_subscription(struct ws_client *c, json_t *msg, bool subscribe)
{
    json_t *list = json_object_get(json_object_get(msg, "data"), "types");
    json_t *unknown = json_array(), *forbidden = json_array(), *v;
    unsigned mask = 0;
    size_t i;

    if (!json_is_array(list)) {
        send_error(c, NULL, "%s needs data.types, an array of message types", subscribe ? "subscribe" : "unsubscribe");
        goto out;
    }
    json_array_foreach(list, i, v)
    {
        int t = json_is_string(v) ? type_index(json_string_value(v)) : -1;
        if (t < 0)
            json_array_append(unknown, v);
        else if (subscribe && !(c->allowed & (1u << t)))
            json_array_append(forbidden, v);
        else
            mask |= 1u << t;
    }
    if (json_array_size(unknown) || json_array_size(forbidden)) {
        char names[160] = "";
        json_t *bad = json_array();
        json_array_extend(bad, unknown);
        json_array_extend(bad, forbidden);
        json_array_foreach(bad, i, v)
        {
            const char *s = json_is_string(v) ? json_string_value(v) : "(not a string)";
            size_t used = strlen(names);
            snprintf(names + used, sizeof(names) - used, "%s%.40s", i ? ", " : "", s);
        }
        send_error(c, json_pack("{s:O,s:O,s:o}", "unknown", unknown, "forbidden", forbidden, "types", bad),
                   "cannot %s to: %s", subscribe ? "subscribe" : "unsubscribe", names);
        goto out;
    }
    if (subscribe) {
        /* The default "everything you may see" gives way to an explicit set. */
        if (!c->explicit_subs)
            c->subscribed = 0;
        c->subscribed |= mask;
    } else {
        c->subscribed &= ~mask;
    }
    c->explicit_subs = true;
    send_msg(c, subscribe ? "subscribed" : "unsubscribed", json_pack("{s:o}", "types", type_list(c->subscribed)));
out:
    json_decref(unknown);
    json_decref(forbidden);
}

static void handle_text(struct ws_client *c, const uint8_t *data, size_t len)
{
    json_error_t jerr;
    json_t *msg = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *type;

    if (!msg) {
        send_error(c, NULL, "message is not valid JSON: %s", jerr.text);
        return;
    }
    type = json_string_value(json_object_get(msg, "type"));
    if (!json_is_object(msg) || !type)
        send_error(c, NULL, "message must be an object with a string \"type\"");
    else if (strcmp(type, "ping") == 0)
        send_msg(c, "pong", json_deep_copy(json_object_get(msg, "data")));
    else if (strcmp(type, "subscribe") == 0)
        handle_subscription(c, msg, true);
    else if (strcmp(type, "unsubscribe") == 0)
        handle_subscription(c, msg, false);
    else
        send_error(c, json_pack("{s:s}", "type", type), "unknown message type '%.64s'", type);
    json_decref(msg);
}

static void handle_frame(struct ws_client *c, const struct wgm_ws_event *ev)
{
    switch (ev->opcode) {
    case WGM_WS_PING:
        queue_control(c, WGM_WS_PONG, ev->data, ev->len);
        break;
    case WGM_WS_PONG:
        break; /* liveness is any traffic; see client_read */
    case WGM_WS_CLOSE: {
        /* Echo the peer's code and reason; an empty close gets an empty one. */
        char reason[WGM_WS_MAX_CONTROL + 1];
        snprintf(reason, sizeof(reason), "%.*s", (int)ev->reason_len, ev->reason ? ev->reason : "");
        client_close(c, ev->close_code == WGM_WS_CLOSE_NO_STATUS ? 0 : ev->close_code, reason);
        break;
    }
    case WGM_WS_BINARY:
        client_close(c, WGM_WS_CLOSE_UNSUPPORTED, "binary messages are not supported");
        break;
    case WGM_WS_TEXT:
        handle_text(c, ev->data, ev->len);
        break;
    default:
        break;
    }
}

static void input(struct ws_client *c, const uint8_t *data, size_t len)
{
    size_t off = 0;

    while (off < len && c->state == ST_OPEN) {
        struct wgm_ws_event ev;
        size_t used;
        int r = wgm_ws_parse(c->parser, data + off, len - off, &used, &ev);
        off += used;
        if (r < 0) {
            client_close(c, wgm_ws_parser_close_code(c->parser), wgm_ws_parser_error(c->parser));
            return;
        }
        if (r == 0)
            break;
        handle_frame(c, &ev);
    }
}

static void client_read(struct wgm_ws_hub *hub, struct ws_client *c, uint64_t now)
{
    uint8_t buf[READ_CHUNK];

    for (int i = 0; i < READS_PER_EVENT && c->state != ST_DONE; i++) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                finish(hub, c, strerror(errno));
            return;
        }
        if (n == 0) {
            finish(hub, c, c->state == ST_OPEN ? "connection closed without a close frame" : "closed");
            return;
        }
        c->last_rx_ms = now;
        c->ping_out = false;
        input(c, buf, (size_t)n); /* ignored once closing */
        if ((size_t)n < sizeof(buf))
            return;
    }
}

/* --- the hub thread ------------------------------------------------------ */

static struct ws_client *client_free(struct ws_client *c)
{
    if (!c)
        return NULL;
    while (c->qcount)
        pop_head(c);
    wgm_ws_parser_free(c->parser);
    wgm_principal_clear(&c->principal);
    free(c->extra);
    free(c);
    return NULL;
}

/* Take clients from on_upgrade into the loop (hub lock held). */
static void adopt(struct wgm_ws_hub *hub, uint64_t now)
{
    while (hub->incoming) {
        struct ws_client *c = hub->incoming;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        hub->incoming = c->next;
        c->next = hub->clients;
        c->prev = NULL;
        if (hub->clients)
            hub->clients->prev = c;
        hub->clients = c;
        c->last_rx_ms = now;
        if (epoll_ctl(hub->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            /* finish() deletes from epoll; harmless when never added. */
            finish(hub, c, strerror(errno));
            continue;
        }
        c->allowed = allowed_mask(&c->principal);
        c->subscribed = c->allowed;
        c->checked_ms = now;
        wgm_log(WGM_LOG_DEBUG, "ws", "client %llu (%s) connected; %u connected", (unsigned long long)c->id,
                c->principal.username, hub->nclients);
        send_msg(c, "welcome",
                 json_pack("{s:{s:I,s:s,s:s},s:o}", "user", "id", (json_int_t)c->principal.user_id, "username",
                           c->principal.username, "role", c->principal.role, "types", type_list(c->allowed)));
        if (c->extra_len)
            input(c, c->extra, c->extra_len);
        free(c->extra);
        c->extra = NULL;
        c->extra_len = 0;
    }
}

static void tick(struct wgm_ws_hub *hub, uint64_t now)
{
    static const uint8_t ping_payload[] = "wgm";

    for (struct ws_client *c = hub->clients; c; c = c->next) {
        if (c->state == ST_OPEN) {
            if (c->ping_out && now - c->ping_sent_ms >= PING_TIMEOUT_MS) {
                finish(hub, c, "no answer to ping");
            } else if (!c->ping_out && now - c->last_rx_ms >= PING_IDLE_MS) {
                queue_control(c, WGM_WS_PING, ping_payload, sizeof(ping_payload) - 1);
                c->ping_out = true;
                c->ping_sent_ms = now;
            }
        } else if (c->state != ST_DONE && now >= c->deadline_ms) {
            finish(hub, c, "closing handshake timed out");
        }
    }
}

/* Forget 101s whose upgrade never happened (the client vanished). */
static void expire_pending(struct wgm_ws_hub *hub, uint64_t now)
{
    pthread_mutex_lock(&registry_lock);
    for (struct pending **pp = &pending_head; *pp;) {
        struct pending *p = *pp;
        if (p->hub == hub && now - p->created_ms >= PENDING_TTL_MS) {
            *pp = p->next;
            hub->npending--;
            wgm_principal_clear(&p->principal);
            free(p);
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

/* Unlink finished clients (hub lock held) onto @dead, for release(). */
static void reap(struct wgm_ws_hub *hub, struct ws_client **dead)
{
    for (struct ws_client *c = hub->clients, *next; c; c = next) {
        next = c->next;
        if (c->state != ST_DONE)
            continue;
        if (c->prev)
            c->prev->next = c->next;
        else
            hub->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->next = *dead;
        *dead = c;
    }
}

/* Hand the sockets back and free (hub lock not held: libmicrohttpd takes
 * its own locks).  The socket is never close()d here: libmicrohttpd owns it. */
static void release(struct ws_client *dead)
{
    while (dead) {
        struct ws_client *c = dead;
        dead = c->next;
        MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
        client_free(c);
    }
}

static void *hub_main(void *arg)
{
    struct wgm_ws_hub *hub = arg;
    struct epoll_event evs[64];
    uint64_t next_tick = wgm_now_ms() + TICK_MS, stop_deadline = 0;
    bool stop_started = false;

    for (;;) {
        int n = epoll_wait(hub->epfd, evs, 64, stop_started ? 50 : (int)TICK_MS);
        uint64_t now = wgm_now_ms();
        struct ws_client *dead = NULL;

        pthread_mutex_lock(&hub->lock);
        adopt(hub, now);
        for (int i = 0; i < n; i++) {
            struct ws_client *c = evs[i].data.ptr;
            if (!c) {
                uint64_t v;
                ssize_t r = read(hub->evfd, &v, sizeof(v));
                (void)r;
                continue;
            }
            if (c->state == ST_DONE)
                continue; /* finished earlier in this batch */
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                client_read(hub, c, now);
            if ((evs[i].events & EPOLLOUT) && c->state != ST_DONE)
                c->dirty = true;
        }
        if (hub->stopping && !stop_started) {
            stop_started = true;
            stop_deadline = now + SHUTDOWN_WAIT_MS;
            for (struct ws_client *c = hub->clients; c; c = c->next)
                client_close(c, WGM_WS_CLOSE_GOING_AWAY, "server shutting down");
        }
        bool do_tick = now >= next_tick;
        if (do_tick) {
            next_tick = now + TICK_MS;
            tick(hub, now);
        }
        for (struct ws_client *c = hub->clients; c; c = c->next) {
            if (c->overflow && c->state == ST_OPEN) {
                wgm_log(WGM_LOG_WARN, "ws", "closing client %llu (%s): too slow, %u messages (%zu bytes) queued",
                        (unsigned long long)c->id, c->principal.username, c->qcount, c->qbytes);
                client_close(c, WGM_WS_CLOSE_POLICY, "client too slow");
            } else if (c->overflow && c->state == ST_CLOSING && c->deadline_ms == 0) {
                finish(hub, c, "out of memory");
            }
            if (c->dirty && c->state != ST_DONE && c->state != ST_DRAINING) {
                int r = flush(hub, c);
                if (r < 0)
                    finish(hub, c, strerror(-r));
            }
        }
        bool done = stop_started && (!hub->clients || now >= stop_deadline);
        if (done)
            for (struct ws_client *c = hub->clients; c; c = c->next)
                finish(hub, c, "server shutting down");
        reap(hub, &dead);
        pthread_mutex_unlock(&hub->lock);
        release(dead);
        if (done)
            break;
        if (do_tick)
            expire_pending(hub, now);
    }
    return NULL;
}

/* --- revalidation (its own thread) -------------------------------------- */

static int cred_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct wgm_ws_cred *)a)->client_id, y = ((const struct wgm_ws_cred *)b)->client_id;
    return x < y ? -1 : x > y;
}

/* Apply one verdict to its client (hub lock held). */
static void apply_verdict(struct wgm_ws_hub *hub, struct ws_client *c, struct wgm_ws_cred *v, uint64_t now)
{
    uint64_t stale = 3u * (uint64_t)hub->revalidate_ms;

    if (v->verdict == WGM_WS_INVALID) {
        wgm_log(WGM_LOG_INFO, "ws", "closing client %llu (%s): %s", (unsigned long long)c->id, c->principal.username,
                v->reason);
        client_close(c, WGM_WS_CLOSE_POLICY, v->reason);
        return;
    }
    if (v->verdict == WGM_WS_UNKNOWN) {
        if (now - c->checked_ms >= (stale > STALE_MIN_MS ? stale : STALE_MIN_MS)) {
            wgm_log(WGM_LOG_WARN, "ws", "closing client %llu (%s): its credential could not be re-checked for %llu s",
                    (unsigned long long)c->id, c->principal.username,
                    (unsigned long long)((now - c->checked_ms) / 1000u));
            client_close(c, WGM_WS_CLOSE_TRY_LATER, "the credential cannot be re-checked now");
        }
        return;
    }
    c->checked_ms = now;
    json_decref(c->principal.permissions);
    c->principal.permissions = v->permissions; /* moved */
    v->permissions = NULL;
    unsigned mask = allowed_mask(&c->principal);
    if (mask == c->allowed)
        return;
    /* Re-gate: lost types stop at once, gained ones join the default set. */
    c->allowed = mask;
    c->subscribed = c->explicit_subs ? c->subscribed & mask : mask;
    send_msg(c, "permissions_changed",
             json_pack("{s:o,s:o}", "types", type_list(c->allowed), "subscribed", type_list(c->subscribed)));
}

/* One pass: snapshot the open connections, judge them without the hub
 * lock (database and cache I/O), then apply the verdicts. */
static void revalidate_pass(struct wgm_ws_hub *hub)
{
    struct wgm_ws_cred *creds = NULL;
    size_t n = 0, cap = 0;
    int r;

    pthread_mutex_lock(&hub->lock);
    for (struct ws_client *c = hub->clients; c; c = c->next)
        cap += c->state == ST_OPEN;
    if (cap && (creds = calloc(cap, sizeof(*creds)))) {
        for (struct ws_client *c = hub->clients; c && n < cap; c = c->next) {
            struct wgm_ws_cred *v;
            if (c->state != ST_OPEN)
                continue;
            v = &creds[n++];
            v->client_id = c->id;
            v->user_id = c->principal.user_id;
            v->via = c->principal.via;
            memcpy(v->role, c->principal.role, sizeof(v->role));
            memcpy(v->jti, c->principal.token_id, sizeof(v->jti));
            memcpy(v->api_key_id, c->principal.api_key_id, sizeof(v->api_key_id));
            v->iat_ms = c->iat_ms;
            v->exp = c->exp;
        }
    }
    pthread_mutex_unlock(&hub->lock);
    if (!n)
        goto out;
    r = wgm_ws_revalidate(hub->d, creds, n, time(NULL));
    /* One line when checking starts failing and one when it recovers. */
    if (r < 0 && !hub->auth_failing)
        wgm_log(WGM_LOG_WARN, "ws", "cannot re-check WebSocket credentials: %s", strerror(-r));
    else if (r == 0 && hub->auth_failing)
        wgm_log(WGM_LOG_INFO, "ws", "re-checking WebSocket credentials again");
    hub->auth_failing = r < 0;
    qsort(creds, n, sizeof(*creds), cred_cmp);
    pthread_mutex_lock(&hub->lock);
    uint64_t now = wgm_now_ms();
    for (struct ws_client *c = hub->clients; c; c = c->next) {
        struct wgm_ws_cred key = {.client_id = c->id}, *v;
        if (c->state != ST_OPEN || !(v = bsearch(&key, creds, n, sizeof(*creds), cred_cmp)))
            continue;
        apply_verdict(hub, c, v, now);
    }
    pthread_mutex_unlock(&hub->lock);
    wake(hub); /* close frames and notices were queued: the loop sends them */
out:
    for (size_t i = 0; i < n; i++)
        json_decref(creds[i].permissions);
    free(creds);
}

static void *auth_main(void *arg)
{
    struct wgm_ws_hub *hub = arg;
    struct timespec at;

    pthread_mutex_lock(&hub->auth_lock);
    while (!hub->auth_stop) {
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_sec += hub->revalidate_ms / 1000u;
        at.tv_nsec += (long)(hub->revalidate_ms % 1000u) * 1000000L;
        if (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        while (!hub->auth_stop && pthread_cond_timedwait(&hub->auth_cond, &hub->auth_lock, &at) != ETIMEDOUT)
            ;
        if (hub->auth_stop)
            break;
        pthread_mutex_unlock(&hub->auth_lock);
        revalidate_pass(hub);
        pthread_mutex_lock(&hub->auth_lock);
    }
    pthread_mutex_unlock(&hub->auth_lock);
    return NULL;
}

/* --- bus fan-out (dispatcher thread) ------------------------------------ */

static void on_event(struct wgm_ctx *ctx, const char *topic, json_t *payload, void *data)
{
    struct wgm_ws_hub *hub = data;
    int t = type_index(topic);
    char ts[32], *js = NULL, *text = NULL;
    struct ws_buf *b = NULL;
    bool queued = false;
    int len;

    (void)ctx;
    if (t < 0)
        return;
    /* Dump the borrowed payload as is: its reference count is the
     * publisher's business, not ours. */
    js = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!js)
        return;
    len = asprintf(&text, "{\"type\":\"%s\",\"data\":%s,\"timestamp\":\"%s\"}", types[t].type, js,
                   wgm_time_rfc3339(time(NULL), ts, sizeof(ts)));
    free(js);
    if (len < 0)
        return;
    b = buf_new(WGM_WS_TEXT, text, (size_t)len);
    free(text);
    if (!b)
        return;
    pthread_mutex_lock(&hub->lock);
    for (struct ws_client *c = hub->clients; c && !hub->stopping; c = c->next) {
        if (c->state != ST_OPEN || c->overflow || !(c->subscribed & c->allowed & (1u << t)))
            continue;
        if (!enqueue(c, b))
            c->overflow = true; /* closed by the hub thread; the others go on */
        queued = true;
    }
    if (b->refs == 0)
        free(b);
    pthread_mutex_unlock(&hub->lock);
    if (queued)
        wake(hub);
}

/* --- handshake (libmicrohttpd threads) ---------------------------------- */

/* Does the comma-separated header @value hold @token (case-insensitive)? */
static bool has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);

    while (value && *value) {
        value += strspn(value, " \t,");
        size_t n = strcspn(value, ",");
        size_t m = n;
        while (m && (value[m - 1] == ' ' || value[m - 1] == '\t'))
            m--;
        if (m == tl && strncasecmp(value, token, tl) == 0)
            return true;
        value += n;
    }
    return false;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, int sock, struct MHD_UpgradeResponseHandle *urh)
{
    uint64_t id = (uint64_t)(uintptr_t)cls;
    struct pending *p = NULL;
    struct ws_client *c = NULL;
    struct wgm_ws_hub *hub;
    int one = 1, zero = 0, fl;

    (void)conn;
    (void)con_cls;
    pthread_mutex_lock(&registry_lock);
    for (struct pending **pp = &pending_head; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            p = *pp;
            *pp = p->next;
            p->hub->npending--;
            break;
        }
    if (!p)
        goto refuse; /* expired, or the hub shut down */
    hub = p->hub;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->parser = wgm_ws_parser_new(MAX_INBOUND)) ||
        (extra_in_size && !(c->extra = malloc(extra_in_size))))
        goto refuse;
    c->id = p->id;
    c->fd = sock;
    c->urh = urh;
    c->principal = p->principal; /* moved */
    p->principal.permissions = NULL;
    c->iat_ms = p->iat_ms;
    c->exp = p->exp;
    if (extra_in_size)
        memcpy(c->extra, extra_in, extra_in_size);
    c->extra_len = extra_in_size;
    /* The loop never blocks on a socket; frames go out as soon as written. */
    if ((fl = fcntl(sock, F_GETFL)) >= 0)
        fcntl(sock, F_SETFL, fl | O_NONBLOCK);
    setsockopt(sock, IPPROTO_TCP, TCP_CORK, &zero, sizeof(zero)); /* not TCP under TLS: ignored */
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    pthread_mutex_lock(&hub->lock);
    /* stopping is set under registry_lock too, so the hub cannot have
     * stopped: its thread adopts and then closes this client. */
    c->next = hub->incoming;
    hub->incoming = c;
    hub->nclients++;
    atomic_store(&hub->count, hub->nclients);
    pthread_mutex_unlock(&hub->lock);
    pthread_mutex_unlock(&registry_lock);
    free(p);
    wake(hub);
    return;
refuse:
    pthread_mutex_unlock(&registry_lock);
    if (p)
        wgm_principal_clear(&p->principal);
    free(p);
    client_free(c);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static int bad_header(struct wgm_resp *resp, unsigned status, const char *header, const char *why)
{
    return wgm_resp_error_impl(resp, status, "BAD_REQUEST", "invalid WebSocket handshake",
                               json_pack("{s:s}", header, why));
}

/* The access token the guard accepted (same precedence as the guard):
 * its issue time and expiry are what revalidation compares. */
static int token_claims(struct wgm_daemon *d, const struct wgm_req *req, const struct wgm_principal *who,
                        struct wgm_jwt_claims *claims)
{
    const char *h = wgm_req_header_impl(req, "Authorization"), *tok = NULL;
    const unsigned char *key;
    size_t keylen;

    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        tok = h + 7;
        while (*tok == ' ')
            tok++;
        if (!*tok || strncmp(tok, "ak_", 3) == 0 || strncmp(tok, "rt_", 3) == 0)
            tok = NULL;
    }
    if (!tok)
        tok = wgm_req_query_impl(req, "token");
    key = wgm_auth_jwt_key(d, &keylen);
    if (!tok || wgm_jwt_verify(key, keylen, tok, time(NULL), claims) < 0 || strcmp(claims->jti, who->token_id) != 0 ||
        claims->user_id != who->user_id)
        return -EACCES;
    return 0;
}

/* Connections of @user_id open or on their way (registry and hub locks held). */
static unsigned user_connections(struct wgm_ws_hub *hub, int64_t user_id)
{
    unsigned n = 0;

    for (struct pending *p = pending_head; p; p = p->next)
        n += p->hub == hub && p->principal.user_id == user_id;
    for (struct ws_client *c = hub->incoming; c; c = c->next)
        n += c->principal.user_id == user_id;
    for (struct ws_client *c = hub->clients; c; c = c->next)
        n += c->state == ST_OPEN && c->principal.user_id == user_id;
    return n;
}

static int ws_connect(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *who = wgm_request_principal(req);
    const char *version = wgm_req_header_impl(req, MHD_HTTP_HEADER_SEC_WEBSOCKET_VERSION);
    char accept[WGM_WS_ACCEPT_LEN + 1];
    struct wgm_jwt_claims claims = {0};
    struct wgm_ws_hub *hub;
    struct pending *p;
    unsigned mine;
    uint64_t id;
    int r;

    if (!who) /* the guard lets no anonymous caller through; fail closed anyway */
        return wgm_resp_error_impl(resp, 401, "TOKEN_INVALID", "authentication required", NULL);
    if (who->via == WGM_AUTH_JWT && token_claims(d, req, who, &claims) < 0)
        return wgm_resp_error_impl(resp, 401, "TOKEN_INVALID", "access token is not valid", NULL);
    if (!has_token(wgm_req_header_impl(req, MHD_HTTP_HEADER_UPGRADE), "websocket"))
        return bad_header(resp, 400, "Upgrade", "must be websocket");
    if (!has_token(wgm_req_header_impl(req, MHD_HTTP_HEADER_CONNECTION), "upgrade"))
        return bad_header(resp, 400, "Connection", "must contain Upgrade");
    if (!version || strcmp(version, "13") != 0) {
        r = wgm_resp_error_impl(resp, 426, "BAD_REQUEST", "unsupported WebSocket version",
                                json_pack("{s:s}", "Sec-WebSocket-Version", "must be 13"));
        return r < 0 ? r : wgm_resp_header_impl(resp, "Sec-WebSocket-Version", "13");
    }
    if (wgm_ws_accept_key(wgm_req_header_impl(req, MHD_HTTP_HEADER_SEC_WEBSOCKET_KEY), accept) < 0)
        return bad_header(resp, 400, "Sec-WebSocket-Key", "must be 24 characters of base64 encoding 16 bytes");

    pthread_mutex_lock(&registry_lock);
    hub = d->ws;
    if (!hub || hub->stopping) {
        pthread_mutex_unlock(&registry_lock);
        return wgm_resp_error_impl(resp, 503, "SERVICE_UNAVAILABLE", "the server is shutting down", NULL);
    }
    pthread_mutex_lock(&hub->lock);
    unsigned used = hub->nclients + hub->npending;
    mine = user_connections(hub, who->user_id);
    pthread_mutex_unlock(&hub->lock);
    if (used >= MAX_CLIENTS) {
        pthread_mutex_unlock(&registry_lock);
        return wgm_resp_error_impl(resp, 503, "SERVICE_UNAVAILABLE", "too many WebSocket connections",
                                   json_pack("{s:I}", "limit", (json_int_t)MAX_CLIENTS));
    }
    /* Refused before the upgrade, so the client sees why (a 429, not a close). */
    if (mine >= hub->max_per_user) {
        pthread_mutex_unlock(&registry_lock);
        return wgm_resp_error_impl(resp, 429, "RATE_LIMIT_EXCEEDED", "too many WebSocket connections for this user",
                                   json_pack("{s:I,s:I}", "limit", (json_int_t)hub->max_per_user, "connections",
                                             (json_int_t)mine));
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        pthread_mutex_unlock(&registry_lock);
        return -ENOMEM;
    }
    p->id = id = ++next_id;
    p->hub = hub;
    p->created_ms = wgm_now_ms();
    principal_copy(&p->principal, who);
    p->iat_ms = claims.iat_ms;
    p->exp = claims.exp;
    p->next = pending_head;
    pending_head = p;
    hub->npending++;
    pthread_mutex_unlock(&registry_lock);

    /* libmicrohttpd adds "Connection: Upgrade" itself. */
    if ((r = wgm_resp_header_impl(resp, "Upgrade", "websocket")) < 0 ||
        (r = wgm_resp_header_impl(resp, "Sec-WebSocket-Accept", accept)) < 0)
        return r; /* the pending entry expires */
    return wgm_response_upgrade((struct wgm_response *)resp, on_upgrade, (void *)(uintptr_t)id);
}

/* --- life cycle ---------------------------------------------------------- */

static struct wgm_ws_hub *hub_free(struct wgm_ws_hub *hub)
{
    if (!hub)
        return NULL;
    if (hub->auth_started) {
        /* First: it may be in the middle of applying verdicts to clients. */
        pthread_mutex_lock(&hub->auth_lock);
        hub->auth_stop = true;
        pthread_cond_signal(&hub->auth_cond);
        pthread_mutex_unlock(&hub->auth_lock);
        pthread_join(hub->auth_thread, NULL);
    }
    if (hub->thread_started) {
        pthread_mutex_lock(&hub->lock);
        hub->stopping = true;
        pthread_mutex_unlock(&hub->lock);
        wake(hub);
        pthread_join(hub->thread, NULL);
    }
    /* Clients still incoming (no thread ever ran) are handed back. */
    while (hub->incoming) {
        struct ws_client *c = hub->incoming;
        hub->incoming = c->next;
        MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
        client_free(c);
    }
    if (hub->epfd >= 0)
        close(hub->epfd);
    if (hub->evfd >= 0)
        close(hub->evfd);
    pthread_mutex_destroy(&hub->lock);
    pthread_mutex_destroy(&hub->auth_lock);
    pthread_cond_destroy(&hub->auth_cond);
    free(hub);
    return NULL;
}

int wgm_ws_register(struct wgm_daemon *d)
{
    static const char *const topics[] = {"system_status", "wireguard_status", "bgp_status", "ipv6_status", "alert"};
    struct wgm_ws_hub *hub = calloc(1, sizeof(*hub));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    pthread_condattr_t ca;
    int r;

    if (!hub)
        return -ENOMEM;
    pthread_mutex_init(&hub->lock, NULL);
    pthread_mutex_init(&hub->auth_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hub->auth_cond, &ca);
    pthread_condattr_destroy(&ca);
    hub->max_per_user = (unsigned)wgm_conf_get_int(d->conf, "websocket", "max_per_user", 16);
    hub->revalidate_ms = (unsigned)wgm_conf_get_int(d->conf, "websocket", "revalidate_interval", 5) * 1000u;
    hub->d = d;
    hub->owner.daemon = d;
    hub->owner.name = owner_name;
    hub->owner.state = WGM_PLUGIN_RUNNING;
    hub->epfd = epoll_create1(EPOLL_CLOEXEC);
    hub->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (hub->epfd < 0 || hub->evfd < 0 || epoll_ctl(hub->epfd, EPOLL_CTL_ADD, hub->evfd, &ev) < 0) {
        r = -errno;
        goto fail;
    }
    if ((r = -pthread_create(&hub->thread, NULL, hub_main, hub)) < 0)
        goto fail;
    hub->thread_started = true;
    if ((r = -pthread_create(&hub->auth_thread, NULL, auth_main, hub)) < 0)
        goto fail;
    hub->auth_started = true;
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        if ((r = wgm_bus_subscribe(d->bus, &hub->owner, topics[i], on_event, hub)) < 0)
            goto fail;
    if ((r = wgm_router_add(d->router, d->core_ctx, "GET", "/ws/connect", WGM_PERM_SELF, ws_connect)) < 0)
        goto fail;
    pthread_mutex_lock(&registry_lock);
    d->ws = hub;
    pthread_mutex_unlock(&registry_lock);
    return 0;
fail:
    if (d->bus)
        wgm_bus_unsubscribe_owner(d->bus, &hub->owner);
    hub_free(hub);
    return r;
}

void wgm_ws_shutdown(struct wgm_daemon *d)
{
    struct wgm_ws_hub *hub;

    pthread_mutex_lock(&registry_lock);
    hub = d->ws;
    d->ws = NULL;
    if (hub) {
        for (struct pending **pp = &pending_head; *pp;) {
            struct pending *p = *pp;
            if (p->hub == hub) {
                *pp = p->next;
                wgm_principal_clear(&p->principal);
                free(p);
            } else {
                pp = &p->next;
            }
        }
        hub->npending = 0;
        pthread_mutex_lock(&hub->lock);
        hub->stopping = true;
        pthread_mutex_unlock(&hub->lock);
    }
    pthread_mutex_unlock(&registry_lock);
    if (!hub)
        return;
    /* Waits for a delivery in progress, so on_event never sees a freed hub. */
    if (d->bus)
        wgm_bus_unsubscribe_owner(d->bus, &hub->owner);
    hub_free(hub);
}

unsigned wgm_ws_client_count(struct wgm_daemon *d)
{
    unsigned n;

    pthread_mutex_lock(&registry_lock);
    n = d->ws ? atomic_load(&d->ws->count) : 0;
    pthread_mutex_unlock(&registry_lock);
    return n;
}
