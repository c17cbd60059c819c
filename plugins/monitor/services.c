/* plugins/monitor/services: WireGuard and BGP figures for the dashboard
 * and the alert rules, taken from the status events those plugins publish
 * (wireguard_status, bgp_status) — the plugins never call each other.  A
 * plugin that is not loaded never publishes, so its figures are absent; a
 * status older than STALE_S (plugin unloaded, daemon wedged) is dropped. */
#include <string.h>
#include <time.h>
#include "monitor.h"

#define STALE_S 120

struct latest {
    json_t *payload;
    time_t at;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct latest wg_status, bgp_status;

static void keep(struct latest *l, json_t *payload)
{
    pthread_mutex_lock(&lock);
    json_decref(l->payload);
    l->payload = json_incref(payload);
    l->at = time(NULL);
    pthread_mutex_unlock(&lock);
}

static void on_wireguard(struct wgm_ctx *ctx, const char *topic, json_t *payload, void *data)
{
    (void)ctx;
    (void)topic;
    (void)data;
    keep(&wg_status, payload);
}

static void on_bgp(struct wgm_ctx *ctx, const char *topic, json_t *payload, void *data)
{
    (void)ctx;
    (void)topic;
    (void)data;
    keep(&bgp_status, payload);
}

int mon_services_subscribe(void)
{
    int r;
    if ((r = mon.host->subscribe(mon.ctx, "wireguard_status", on_wireguard, NULL)) < 0)
        return r;
    return mon.host->subscribe(mon.ctx, "bgp_status", on_bgp, NULL);
}

/* A reference to the fresh payload, or NULL. */
static json_t *fresh(struct latest *l)
{
    json_t *p = NULL;
    pthread_mutex_lock(&lock);
    if (l->payload && time(NULL) - l->at <= STALE_S)
        p = json_incref(l->payload);
    pthread_mutex_unlock(&lock);
    return p;
}

struct wg_figures {
    json_int_t servers, clients, traffic, active;
};

static void wg_sum(json_t *p, struct wg_figures *f)
{
    size_t i;
    json_t *s;
    memset(f, 0, sizeof(*f));
    json_array_foreach(json_object_get(p, "servers"), i, s) {
        f->servers++;
        f->clients += json_integer_value(json_object_get(s, "clients_count"));
        f->traffic += json_integer_value(json_object_get(s, "bytes_received")) +
                      json_integer_value(json_object_get(s, "bytes_sent"));
        f->active += json_integer_value(json_object_get(s, "active_peers"));
    }
}

void mon_services_values(struct mon_values *v)
{
    json_t *wg = fresh(&wg_status), *bgp = fresh(&bgp_status);
    if (wg) {
        struct wg_figures f;
        wg_sum(wg, &f);
        v->has[M_WG_ACTIVE_CONNECTIONS] = v->has[M_WG_CLIENTS] = true;
        v->v[M_WG_ACTIVE_CONNECTIONS] = (double)f.active;
        v->v[M_WG_CLIENTS] = (double)f.clients;
    }
    if (bgp && json_is_true(json_object_get(bgp, "available"))) {
        json_int_t total = json_integer_value(json_object_get(bgp, "sessions_count"));
        json_int_t up = json_integer_value(json_object_get(bgp, "established_sessions"));
        v->has[M_BGP_ESTABLISHED_SESSIONS] = v->has[M_BGP_SESSIONS_DOWN] = true;
        v->v[M_BGP_ESTABLISHED_SESSIONS] = (double)up;
        v->v[M_BGP_SESSIONS_DOWN] = (double)(total - up);
    }
    json_decref(wg);
    json_decref(bgp);
}

static json_t *copy_or_null(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v ? json_copy(v) : json_null();
}

json_t *mon_services_json(void)
{
    json_t *out = json_object(), *wg = fresh(&wg_status), *bgp = fresh(&bgp_status);
    if (wg) {
        struct wg_figures f;
        wg_sum(wg, &f);
        json_object_set_new(out, "wireguard",
                            json_pack("{s:I,s:I,s:I,s:I}", "servers_count", f.servers, "clients_count", f.clients,
                                      "total_traffic", f.traffic, "active_connections", f.active));
    }
    if (bgp)
        json_object_set_new(out, "bgp",
                            json_pack("{s:o,s:o,s:o,s:o,s:o}", "available", copy_or_null(bgp, "available"),
                                      "sessions_count", copy_or_null(bgp, "sessions_count"), "established_sessions",
                                      copy_or_null(bgp, "established_sessions"), "routes_received",
                                      copy_or_null(bgp, "routes_received"), "routes_advertised",
                                      copy_or_null(bgp, "routes_advertised")));
    json_decref(wg);
    json_decref(bgp);
    return out;
}

void mon_services_fini(void);
void mon_services_fini(void)
{
    pthread_mutex_lock(&lock);
    wg_status.payload = (json_decref(wg_status.payload), NULL);
    bgp_status.payload = (json_decref(bgp_status.payload), NULL);
    pthread_mutex_unlock(&lock);
}
