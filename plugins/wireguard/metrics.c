/* plugins/wireguard/metrics: per-peer Prometheus metrics, read from the
 * devices at scrape time (one device read per running server, no per-peer
 * query).  The database only names the peers: client id and name, found by
 * public key in a sorted table.  Registered with host->metrics_register
 * when the host has it; monitor.so serves the exposition on /metrics. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "keys.h"
#include "store.h"

int wg_metrics_register(void);

struct named_peer {
    uint8_t key[WG_KEY_LEN];
    char id[24];
    char *name;
};

struct server_dev {
    char interface[WG_IFNAMSIZ];
    struct wg_device *dev;
    struct named_peer *names;
    size_t n_names;
};

static int by_key(const void *a, const void *b)
{
    return memcmp(((const struct named_peer *)a)->key, ((const struct named_peer *)b)->key, WG_KEY_LEN);
}

static int load_names(struct wgm_db *db, int64_t server_id, struct server_dev *s)
{
    const struct wgm_host *h = wg.host;
    struct wgm_stmt *st = NULL;
    size_t cap = 0;
    int r;

    if ((r = h->db_prepare(db, "SELECT id, name, public_key FROM wg_clients WHERE server_id = ?", &st)) < 0)
        return r;
    h->stmt_bind_int(st, 1, server_id);
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        struct named_peer *p;
        const char *key = h->stmt_column_text(st, 2), *name = h->stmt_column_text(st, 1);
        if (s->n_names == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct named_peer *n = realloc(s->names, ncap * sizeof(*n));
            if (!n) {
                r = -ENOMEM;
                break;
            }
            s->names = n;
            cap = ncap;
        }
        p = &s->names[s->n_names];
        if (!key || wg_key_from_base64(key, p->key) < 0)
            continue;
        snprintf(p->id, sizeof(p->id), "%lld", (long long)h->stmt_column_int(st, 0));
        if (!(p->name = strdup(name ? name : ""))) {
            r = -ENOMEM;
            break;
        }
        s->n_names++;
    }
    h->stmt_free(st);
    if (r < 0)
        return r;
    qsort(s->names, s->n_names, sizeof(*s->names), by_key);
    return 0;
}

static void servers_free(struct server_dev *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < list[i].n_names; j++)
            free(list[i].names[j].name);
        free(list[i].names);
        wg_device_free(list[i].dev);
    }
    free(list);
}

/* Every running server's device and peer names. */
static int load_servers(struct server_dev **out, size_t *count)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wgm_stmt *st = NULL;
    struct server_dev *list = NULL;
    size_t n = 0;
    int r;

    *out = NULL;
    *count = 0;
    if (!db)
        return -EAGAIN;
    if ((r = h->db_prepare(db, "SELECT id, interface FROM wg_servers WHERE desired = 'running' ORDER BY id", &st)) < 0)
        goto out;
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        struct server_dev *nl = realloc(list, (n + 1) * sizeof(*nl)), *s;
        if (!nl) {
            r = -ENOMEM;
            goto out;
        }
        list = nl;
        s = &list[n];
        memset(s, 0, sizeof(*s));
        snprintf(s->interface, sizeof(s->interface), "%s", h->stmt_column_text(st, 1));
        /* a server that should run but has no device is simply absent */
        if (wg.backend->ops->get(wg.backend, s->interface, &s->dev) < 0) {
            s->dev = NULL;
            continue;
        }
        n++;
        if ((r = load_names(db, h->stmt_column_int(st, 0), s)) < 0) {
            goto out;
        }
    }
    if (r == WGM_DB_DONE)
        r = 0;
out:
    h->stmt_free(st);
    h->db_release(db);
    if (r < 0) {
        servers_free(list, n);
        return r;
    }
    *out = list;
    *count = n;
    return 0;
}

enum peer_figure { HANDSHAKE, RX, TX };

static int write_family(struct wgm_metrics *m, const struct server_dev *list, size_t n, enum peer_figure what)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        [HANDSHAKE] = {"wgm_wireguard_peer_last_handshake_seconds", "gauge",
                       "Unix time of the peer's latest handshake (0: never)."},
        [RX] = {"wgm_wireguard_peer_receive_bytes_total", "counter", "Bytes received from the peer (device counter)."},
        [TX] = {"wgm_wireguard_peer_transmit_bytes_total", "counter", "Bytes sent to the peer (device counter)."},
    };
    const struct wgm_host *h = wg.host;
    int r;

    if ((r = h->metrics_family(m, fam[what].name, fam[what].type, fam[what].help)) < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < list[i].dev->n_peers; j++) {
            const struct wg_peer *p = &list[i].dev->peers[j];
            struct named_peer probe, *hit;
            char b64[WG_KEY_B64_LEN];
            double v;
            memcpy(probe.key, p->public_key, WG_KEY_LEN);
            hit = bsearch(&probe, list[i].names, list[i].n_names, sizeof(probe), by_key);
            wg_key_to_base64(p->public_key, b64);
            const char *labels[] = {"interface", list[i].interface, "public_key", b64, "client_id",
                                    hit ? hit->id : "", "client", hit ? hit->name : "", NULL};
            v = what == HANDSHAKE ? (double)p->last_handshake.tv_sec : what == RX ? (double)p->rx_bytes : (double)p->tx_bytes;
            if ((r = h->metrics_sample(m, v, labels)) < 0)
                return r;
        }
    }
    return 0;
}

static int provide(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data)
{
    struct server_dev *list;
    size_t n;
    int r;

    (void)ctx;
    (void)data;
    if ((r = load_servers(&list, &n)) < 0)
        return r;
    if ((r = write_family(m, list, n, HANDSHAKE)) == 0 && (r = write_family(m, list, n, RX)) == 0)
        r = write_family(m, list, n, TX);
    servers_free(list, n);
    return r;
}

int wg_metrics_register(void)
{
    if (!WGM_HOST_HAS(wg.host, metrics_register))
        return 0;
    return wg.host->metrics_register(wg.ctx, provide, NULL);
}
