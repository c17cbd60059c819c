/* plugins/wireguard/prefixes: delegated prefixes from ipv6pool.so.
 *
 * The plugins never call each other: ipv6pool publishes
 * ipv6.allocation.created / .released with {client_id, prefix}; this file
 * adds the prefix to (or removes it from) that client's routed prefixes,
 * then applies that one peer: AllowedIPs on the device and a route on the
 * server.  The work runs as a task, off the event dispatcher. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rtnl.h"
#include "store.h"

struct change {
    int64_t client_id;
    char prefix[64];
    bool add;
};

/* The client's routed prefixes with @prefix added or removed; 1 when the
 * list changed, 0 when not, or a negative errno.  Its server in @server_id. */
static int update_row(struct wgm_db *db, const struct change *c, int64_t *server_id)
{
    const struct wgm_host *h = wg.host;
    struct wgm_stmt *st = NULL;
    json_t *list = NULL, *v;
    size_t i, found = (size_t)-1;
    char *text = NULL;
    int r;

    if ((r = h->db_begin(db)) < 0)
        return r;
    if ((r = h->db_prepare(db, "SELECT server_id, extra_ips FROM wg_clients WHERE id = ?", &st)) < 0)
        goto out;
    h->stmt_bind_int(st, 1, c->client_id);
    if ((r = h->stmt_step(st)) != WGM_DB_ROW) {
        r = r < 0 ? r : -ENOENT;
        goto out;
    }
    *server_id = h->stmt_column_int(st, 0);
    list = json_loads(h->stmt_column_text(st, 1) ? h->stmt_column_text(st, 1) : "[]", 0, NULL);
    h->stmt_free(st);
    st = NULL;
    if (!json_is_array(list)) {
        json_decref(list);
        list = json_array();
    }
    json_array_foreach(list, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), c->prefix)) found = i;
    if (c->add == (found != (size_t)-1)) {
        r = 0; /* already as wanted: events may repeat */
        goto out;
    }
    if (c->add)
        json_array_append_new(list, json_string(c->prefix));
    else
        json_array_remove(list, found);
    text = json_dumps(list, JSON_COMPACT);
    if ((r = h->db_prepare(db, "UPDATE wg_clients SET extra_ips = ?, updated_at = ? WHERE id = ?", &st)) < 0)
        goto out;
    h->stmt_bind_text(st, 1, text);
    h->stmt_bind_int(st, 2, time(NULL));
    h->stmt_bind_int(st, 3, c->client_id);
    if ((r = h->stmt_step(st)) < 0 || (r = h->db_commit(db)) < 0)
        goto out;
    r = 1;
out:
    h->stmt_free(st);
    h->db_rollback(db);
    json_decref(list);
    free(text);
    return r;
}

static void apply_change(struct wgm_ctx *ctx, void *data)
{
    const struct change *c = data;
    struct wgm_db *db = wg.host->db_acquire(ctx);
    int64_t server_id = 0;
    int r;

    if (!db)
        return;
    r = update_row(db, c, &server_id);
    if (r == 1 && !c->add) {
        /* The route goes with the prefix; AllowedIPs follow from the row. */
        struct wg_server_row s;
        struct wg_allowedip a;
        if (wg_store_server(db, server_id, &s) == 0 && wg_allowedip_parse(c->prefix, &a) == 0)
            wg_rtnl_route_del(s.interface, &a);
    }
    wg.host->db_release(db);
    if (r == 1)
        r = wg_apply_client(server_id, c->client_id, NULL);
    if (r < 0)
        WG_LOG(WGM_LOG_WARN, "client %lld: cannot %s delegated prefix %s: %s", (long long)c->client_id,
               c->add ? "route" : "withdraw", c->prefix, strerror(-r));
    else
        WG_LOG(WGM_LOG_INFO, "client %lld: %s %s", (long long)c->client_id, c->add ? "routed" : "withdrew", c->prefix);
}

static void on_allocation(struct wgm_ctx *ctx, const char *topic, json_t *payload, void *data)
{
    struct wg_allowedip a;
    json_t *client = json_object_get(payload, "client_id");
    const char *prefix = json_string_value(json_object_get(payload, "prefix"));
    struct change *c;

    (void)data;
    /* Only IPv6 prefixes for one of our clients are ours to route. */
    if (!json_is_integer(client) || !prefix || wg_allowedip_parse(prefix, &a) < 0 || a.family != AF_INET6)
        return;
    c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->client_id = json_integer_value(client);
    c->add = strcmp(topic, "ipv6.allocation.created") == 0;
    wg_allowedip_format(&a, c->prefix, sizeof(c->prefix));
    if (wg.host->task_submit(ctx, apply_change, c, free) < 0)
        free(c);
}

int wg_prefixes_subscribe(void)
{
    int r = wg.host->subscribe(wg.ctx, "ipv6.allocation.created", on_allocation, NULL);
    return r < 0 ? r : wg.host->subscribe(wg.ctx, "ipv6.allocation.released", on_allocation, NULL);
}
