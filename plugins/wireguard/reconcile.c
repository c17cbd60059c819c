/* plugins/wireguard/reconcile: make the device match the database.
 *
 * Read the device, compute the difference, apply only that: a new client
 * adds one peer, a changed client replaces one peer's allowed IPs, a
 * removed or disabled client removes one peer.  Nothing restarts the
 * interface for a peer change; an interface that vanished is recreated. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "keys.h"
#include "rtnl.h"
#include "store.h"
#include "subnet.h"

static int cmp_key(const void *a, const void *b)
{
    return memcmp(((const struct wg_peer *)a)->public_key, ((const struct wg_peer *)b)->public_key, WG_KEY_LEN);
}

static int cmp_ip(const void *a, const void *b)
{
    const struct wg_allowedip *x = a, *y = b;
    if (x->family != y->family)
        return x->family - y->family;
    if (x->cidr != y->cidr)
        return x->cidr - y->cidr;
    return memcmp(&x->ip6, &y->ip6, x->family == AF_INET ? 4 : 16);
}

/* Same prefixes regardless of order (both lists get sorted). */
static bool same_ips(struct wg_peer *a, struct wg_peer *b)
{
    if (a->n_allowedips != b->n_allowedips)
        return false;
    qsort(a->allowedips, a->n_allowedips, sizeof(*a->allowedips), cmp_ip);
    qsort(b->allowedips, b->n_allowedips, sizeof(*b->allowedips), cmp_ip);
    for (size_t i = 0; i < a->n_allowedips; i++)
        if (cmp_ip(&a->allowedips[i], &b->allowedips[i]) != 0)
            return false;
    return true;
}

static void record(struct wgm_db *db, int64_t id, const char *error)
{
    struct wgm_stmt *st = NULL;
    if (wg.host->db_prepare(db, "UPDATE wg_servers SET last_error = ? WHERE id = ?", &st) == 0) {
        wg.host->stmt_bind_text(st, 1, error);
        wg.host->stmt_bind_int(st, 2, id);
        wg.host->stmt_step(st);
    }
    wg.host->stmt_free(st);
}

static int add_ip_text(struct wg_peer *p, const char *s)
{
    struct wg_allowedip a;
    return s && wg_allowedip_parse(s, &a) == 0 ? wg_peer_add_allowedip(p, &a) : 0;
}

/* The peers the database wants, sorted by key, into @want. */
static int desired_peers(struct wgm_db *db, int64_t id, struct wg_device *want)
{
    const struct wgm_host *h = wg.host;
    struct wgm_stmt *st = NULL;
    int r = h->db_prepare(db,
                          "SELECT public_key, preshared_key, ipv4_address, ipv6_address, extra_ips FROM wg_clients"
                          " WHERE server_id = ? AND enabled = 1 AND (expires_at IS NULL OR expires_at > ?)",
                          &st);
    if (r < 0)
        return r;
    h->stmt_bind_int(st, 1, id);
    h->stmt_bind_int(st, 2, time(NULL));
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        uint8_t key[WG_KEY_LEN];
        struct wg_peer *p;
        json_t *extra, *v;
        size_t i;
        if (wg_key_from_base64(h->stmt_column_text(st, 0), key) < 0 || !(p = wg_device_add_peer(want, key)))
            continue;
        if (wg_store_open_key(h->stmt_column_text(st, 1), p->preshared_key) == 0)
            p->flags |= WG_PEER_HAS_PRESHARED_KEY;
        add_ip_text(p, h->stmt_column_text(st, 2));
        add_ip_text(p, h->stmt_column_text(st, 3));
        /* Delegated prefixes are routed to the peer, and beyond the
         * interface's own subnet they need a route on the server too. */
        extra = json_loads(h->stmt_column_text(st, 4) ? h->stmt_column_text(st, 4) : "[]", 0, NULL);
        json_array_foreach(extra, i, v)
        {
            struct wg_allowedip a;
            if (wg_allowedip_parse(json_string_value(v), &a) == 0 && wg_peer_add_allowedip(p, &a) == 0)
                wg_rtnl_route_add(want->name, &a);
        }
        json_decref(extra);
    }
    h->stmt_free(st);
    if (r < 0)
        return r;
    qsort(want->peers, want->n_peers, sizeof(*want->peers), cmp_key);
    return 0;
}

/* Interface-level state: link, MTU, addresses, up. */
static int ensure_link(const struct wg_server_row *s, const char *v4, const char *v6, char *err, size_t errlen)
{
    struct wg_subnet sn;
    int r = wg.backend->ops->exists(wg.backend, s->interface);

    if (r != 0) {
        r = wg.backend->ops->link_add(wg.backend, s->interface);
        if (r < 0 && r != -EEXIST) {
            snprintf(err, errlen, "cannot create %s (%s backend): %s", s->interface, wg.backend->ops->name, strerror(-r));
            return r;
        }
        WG_LOG(WGM_LOG_INFO, "created interface %s", s->interface);
    }
    if ((r = wg_rtnl_link_set_mtu(s->interface, s->mtu)) < 0) {
        snprintf(err, errlen, "%s: cannot set MTU %u: %s", s->interface, s->mtu, strerror(-r));
        return r;
    }
    if (v4 && *v4 && wg_subnet_parse(v4, &sn) == 0 && (r = wg_rtnl_addr_add(s->interface, &sn.self)) < 0) {
        snprintf(err, errlen, "%s: cannot add %s: %s", s->interface, v4, strerror(-r));
        return r;
    }
    if (v6 && *v6 && wg_subnet_parse(v6, &sn) == 0 && (r = wg_rtnl_addr_add(s->interface, &sn.self)) < 0) {
        snprintf(err, errlen, "%s: cannot add %s: %s", s->interface, v6, strerror(-r));
        return r;
    }
    if ((r = wg_rtnl_link_set_up(s->interface, true)) < 0) {
        snprintf(err, errlen, "%s: cannot bring it up: %s", s->interface, strerror(-r));
        return r;
    }
    return 0;
}

/* Peers and device keys: compute and apply the difference. */
static int apply_difference(struct wgm_db *db, const struct wg_server_row *s, char *err, size_t errlen)
{
    struct wg_device *have = NULL, *want = wg_device_new(s->interface), *change = wg_device_new(s->interface);
    uint8_t priv[WG_KEY_LEN];
    size_t changed = 0;
    int r;

    if (!want || !change) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = wg_store_server_private_key(db, s->id, priv)) < 0) {
        snprintf(err, errlen, "cannot open the server's private key");
        goto out;
    }
    if ((r = wg.backend->ops->get(wg.backend, s->interface, &have)) < 0) {
        snprintf(err, errlen, "%s: cannot read the device: %s", s->interface, strerror(-r));
        goto out;
    }
    if (!(have->flags & WG_DEVICE_HAS_PRIVATE_KEY) || memcmp(have->private_key, priv, WG_KEY_LEN) != 0) {
        memcpy(change->private_key, priv, WG_KEY_LEN);
        change->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
    }
    if (have->listen_port != s->listen_port) {
        change->listen_port = (uint16_t)s->listen_port;
        change->flags |= WG_DEVICE_HAS_LISTEN_PORT;
    }
    if ((r = desired_peers(db, s->id, want)) < 0) {
        snprintf(err, errlen, "cannot read the clients");
        goto out;
    }
    qsort(have->peers, have->n_peers, sizeof(*have->peers), cmp_key);
    /* Merge the two sorted lists: adds, changes, removals. */
    for (size_t i = 0, j = 0; i < want->n_peers || j < have->n_peers;) {
        int c = i == want->n_peers ? 1 : j == have->n_peers ? -1 : cmp_key(&want->peers[i], &have->peers[j]);
        struct wg_peer *w = c <= 0 ? &want->peers[i] : NULL, *hv = c >= 0 ? &have->peers[j] : NULL, *p;
        bool psk_differs = w && hv &&
                           ((w->flags & WG_PEER_HAS_PRESHARED_KEY) ? memcmp(w->preshared_key, hv->preshared_key, WG_KEY_LEN) != 0
                                                                   : !wg_key_is_zero(hv->preshared_key));
        if (w && (!hv || psk_differs || !same_ips(w, hv))) {
            if (!(p = wg_device_add_peer(change, w->public_key))) {
                r = -ENOMEM;
                goto out;
            }
            p->flags = WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_HAS_PRESHARED_KEY;
            memcpy(p->preshared_key, w->preshared_key, WG_KEY_LEN); /* zero removes it */
            for (size_t k = 0; k < w->n_allowedips; k++)
                if ((r = wg_peer_add_allowedip(p, &w->allowedips[k])) < 0)
                    goto out;
            changed++;
        } else if (!w) {
            if (!(p = wg_device_add_peer(change, hv->public_key))) {
                r = -ENOMEM;
                goto out;
            }
            p->flags = WG_PEER_REMOVE_ME;
            changed++;
        }
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    if (change->flags || change->n_peers) {
        r = wg.backend->ops->set(wg.backend, change);
        if (r < 0) {
            snprintf(err, errlen, "%s: cannot apply %zu peer change(s): %s", s->interface, changed, strerror(-r));
            goto out;
        }
        WG_LOG(WGM_LOG_DEBUG, "%s: applied %zu peer change(s)%s", s->interface, changed,
               change->flags ? " and device settings" : "");
    }
    r = 0;
out:
    explicit_bzero(priv, sizeof(priv));
    wg_device_free(have);
    wg_device_free(want);
    wg_device_free(change);
    return r;
}

int wg_reconcile_server(int64_t id, char *err, size_t errlen)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wg_server_row s;
    char v4[64] = "", v6[64] = "";
    int r;

    if (!db) {
        snprintf(err, errlen, "database unavailable");
        return -EIO;
    }
    pthread_mutex_lock(&wg.apply_lock);
    if ((r = wg_store_server(db, id, &s)) < 0) {
        snprintf(err, errlen, "no such server");
        goto out;
    }
    snprintf(v4, sizeof(v4), "%s", s.ipv4);
    snprintf(v6, sizeof(v6), "%s", s.ipv6);
    if (!s.running) {
        if (wg.backend->ops->exists(wg.backend, s.interface) == 0 &&
            (r = wg.backend->ops->link_del(wg.backend, s.interface)) < 0) {
            snprintf(err, errlen, "cannot remove %s: %s", s.interface, strerror(-r));
            goto out;
        }
        r = 0;
        goto out;
    }
    if ((r = ensure_link(&s, v4, v6, err, errlen)) < 0)
        goto out;
    r = apply_difference(db, &s, err, errlen);
out:
    if (r != -ENOENT)
        record(db, id, r < 0 ? err : NULL);
    if (r < 0 && r != -ENOENT)
        WG_LOG(WGM_LOG_WARN, "server %lld: %s", (long long)id, err);
    pthread_mutex_unlock(&wg.apply_lock);
    h->db_release(db);
    return r;
}

void wg_reconcile_all(void)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wgm_stmt *st = NULL;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;

    if (!db)
        return;
    if (h->db_prepare(db, "SELECT id FROM wg_servers ORDER BY id", &st) == 0) {
        while (h->stmt_step(st) == WGM_DB_ROW) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                int64_t *grown = realloc(ids, nc * sizeof(*ids));
                if (!grown)
                    break;
                ids = grown;
                cap = nc;
            }
            ids[n++] = h->stmt_column_int(st, 0);
        }
    }
    h->stmt_free(st);
    h->db_release(db);
    for (size_t i = 0; i < n; i++) {
        char err[256];
        wg_reconcile_server(ids[i], err, sizeof(err));
    }
    free(ids);
}

/* One client's peer, as the database wants it, into @change. */
static int client_peer(struct wgm_db *db, int64_t client_id, int64_t *server_id, struct wg_device *change)
{
    const struct wgm_host *h = wg.host;
    struct wgm_stmt *st = NULL;
    uint8_t key[WG_KEY_LEN];
    struct wg_peer *p;
    json_t *extra, *v;
    size_t i;
    bool wanted;
    int r = h->db_prepare(db,
                          "SELECT server_id, public_key, preshared_key, ipv4_address, ipv6_address, extra_ips,"
                          " enabled = 1 AND (expires_at IS NULL OR expires_at > ?) FROM wg_clients WHERE id = ?",
                          &st);
    if (r < 0)
        return r;
    h->stmt_bind_int(st, 1, time(NULL));
    h->stmt_bind_int(st, 2, client_id);
    if ((r = h->stmt_step(st)) != WGM_DB_ROW) {
        h->stmt_free(st);
        return r < 0 ? r : -ENOENT;
    }
    *server_id = h->stmt_column_int(st, 0);
    wanted = h->stmt_column_int(st, 6) != 0;
    if (wg_key_from_base64(h->stmt_column_text(st, 1), key) < 0 || !(p = wg_device_add_peer(change, key))) {
        h->stmt_free(st);
        return -EINVAL;
    }
    if (!wanted) {
        p->flags = WG_PEER_REMOVE_ME;
        h->stmt_free(st);
        return 0;
    }
    p->flags = WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_HAS_PRESHARED_KEY;
    if (wg_store_open_key(h->stmt_column_text(st, 2), p->preshared_key) < 0)
        memset(p->preshared_key, 0, WG_KEY_LEN);
    add_ip_text(p, h->stmt_column_text(st, 3));
    add_ip_text(p, h->stmt_column_text(st, 4));
    extra = json_loads(h->stmt_column_text(st, 5) ? h->stmt_column_text(st, 5) : "[]", 0, NULL);
    json_array_foreach(extra, i, v)
    {
        struct wg_allowedip a;
        if (wg_allowedip_parse(json_string_value(v), &a) == 0 && wg_peer_add_allowedip(p, &a) == 0)
            wg_rtnl_route_add(change->name, &a);
    }
    json_decref(extra);
    h->stmt_free(st);
    return 0;
}

int wg_apply_client(int64_t server_id, int64_t client_id, const uint8_t *old_key)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wg_server_row s;
    struct wg_device *change = NULL;
    char err[256] = "";
    int r;

    if (!db)
        return -EIO;
    r = wg_store_server(db, server_id, &s);
    if (r < 0 || !s.running) {
        h->db_release(db);
        return r < 0 ? r : 0; /* a stopped server has no device to touch */
    }
    pthread_mutex_lock(&wg.apply_lock);
    if (wg.backend->ops->exists(wg.backend, s.interface) != 0 || !(change = wg_device_new(s.interface))) {
        r = -ENODEV;
        goto out;
    }
    if (old_key) {
        struct wg_peer *gone = wg_device_add_peer(change, old_key);
        if (!gone) {
            r = -ENOMEM;
            goto out;
        }
        gone->flags = WG_PEER_REMOVE_ME;
    }
    if (client_id > 0) {
        int64_t owner = 0;
        r = client_peer(db, client_id, &owner, change);
        if (r == 0 && owner != server_id)
            r = -EINVAL;
        if (r < 0 && r != -ENOENT)
            goto out;
    }
    r = change->n_peers ? wg.backend->ops->set(wg.backend, change) : 0;
out:
    pthread_mutex_unlock(&wg.apply_lock);
    wg_device_free(change);
    h->db_release(db);
    /* Anything unexpected (interface gone, set refused): the full
     * comparison repairs it. */
    if (r < 0 && r != -ENOENT)
        r = wg_reconcile_server(server_id, err, sizeof(err));
    return r == -ENOENT ? 0 : r;
}
