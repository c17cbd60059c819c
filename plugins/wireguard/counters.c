/* plugins/wireguard/counters: totals = stored offset + device counter.
 *
 * Memory holds one entry per client seen on a device; the database holds
 * the offset and the last value seen, written when a reset is detected and
 * every flush, so a restart of wgmd (or of the device) loses nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "counters.h"
#include "keys.h"
#include "store.h"

struct entry {
    int64_t client_id, server_id;
    uint8_t key[WG_KEY_LEN];
    uint64_t rx_offset, tx_offset, last_rx, last_tx;
    time_t last_handshake;
    bool live, dirty;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct entry *entries; /* sorted by key for bsearch */
static size_t n_entries;

static int cmp_entry(const void *a, const void *b)
{
    return memcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key, WG_KEY_LEN);
}

/* (Re)load the entries of @server_id from the database; with the lock. */
static void load_server(int64_t server_id)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wgm_stmt *st = NULL;
    size_t keep = 0;

    if (!db)
        return;
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i].server_id != server_id)
            entries[keep++] = entries[i];
    n_entries = keep;
    if (h->db_prepare(db,
                      "SELECT id, public_key, rx_offset, tx_offset, last_rx, last_tx FROM wg_clients WHERE server_id = ?",
                      &st) == 0) {
        h->stmt_bind_int(st, 1, server_id);
        while (h->stmt_step(st) == WGM_DB_ROW) {
            struct entry e = {.server_id = server_id};
            struct entry *grown;
            if (wg_key_from_base64(h->stmt_column_text(st, 1), e.key) < 0)
                continue;
            e.client_id = h->stmt_column_int(st, 0);
            e.rx_offset = (uint64_t)h->stmt_column_int(st, 2);
            e.tx_offset = (uint64_t)h->stmt_column_int(st, 3);
            e.last_rx = (uint64_t)h->stmt_column_int(st, 4);
            e.last_tx = (uint64_t)h->stmt_column_int(st, 5);
            grown = realloc(entries, (n_entries + 1) * sizeof(*entries));
            if (!grown)
                break;
            entries = grown;
            entries[n_entries++] = e;
        }
    }
    h->stmt_free(st);
    h->db_release(db);
    qsort(entries, n_entries, sizeof(*entries), cmp_entry);
}

void wg_counters_update(int64_t server_id, const struct wg_device *dev)
{
    bool reloaded = false;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i].server_id == server_id)
            entries[i].live = false;
    for (size_t i = 0; i < dev->n_peers; i++) {
        const struct wg_peer *p = &dev->peers[i];
        struct entry probe, *e;
        memcpy(probe.key, p->public_key, WG_KEY_LEN);
        e = bsearch(&probe, entries, n_entries, sizeof(*entries), cmp_entry);
        if (!e && !reloaded) {
            /* A client we have not seen: pick up new rows once per tick. */
            load_server(server_id);
            reloaded = true;
            e = bsearch(&probe, entries, n_entries, sizeof(*entries), cmp_entry);
        }
        if (!e)
            continue;
        /* A counter that went down was reset: bank what it had counted. */
        if (p->rx_bytes < e->last_rx || p->tx_bytes < e->last_tx) {
            e->rx_offset += e->last_rx;
            e->tx_offset += e->last_tx;
        }
        e->dirty = e->dirty || e->last_rx != p->rx_bytes || e->last_tx != p->tx_bytes;
        e->last_rx = p->rx_bytes;
        e->last_tx = p->tx_bytes;
        e->last_handshake = p->last_handshake.tv_sec;
        e->live = true;
    }
    pthread_mutex_unlock(&lock);
}

void wg_counters_get(int64_t client_id, struct wg_totals *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries; i++) {
        const struct entry *e = &entries[i];
        if (e->client_id != client_id)
            continue;
        out->rx = e->rx_offset + e->last_rx;
        out->tx = e->tx_offset + e->last_tx;
        out->last_handshake = e->last_handshake;
        out->live = e->live;
        break;
    }
    pthread_mutex_unlock(&lock);
}

time_t wg_counters_server_handshake(int64_t server_id)
{
    time_t latest = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i].server_id == server_id && entries[i].last_handshake > latest)
            latest = entries[i].last_handshake;
    pthread_mutex_unlock(&lock);
    return latest;
}

void wg_counters_flush(void)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    struct entry *copy;
    size_t n = 0;

    pthread_mutex_lock(&lock);
    copy = malloc((n_entries ? n_entries : 1) * sizeof(*copy));
    for (size_t i = 0; copy && i < n_entries; i++) {
        if (entries[i].dirty) {
            copy[n++] = entries[i];
            entries[i].dirty = false;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!copy || n == 0 || !(db = h->db_acquire(wg.ctx))) {
        free(copy);
        return;
    }
    /* One transaction for the whole batch: a write per peer per tick
     * would not scale to 100,000 peers. */
    if (h->db_begin(db) == 0 &&
        h->db_prepare(db, "UPDATE wg_clients SET rx_offset = ?, tx_offset = ?, last_rx = ?, last_tx = ? WHERE id = ?",
                      &st) == 0) {
        for (size_t i = 0; i < n; i++) {
            h->stmt_bind_int(st, 1, (int64_t)copy[i].rx_offset);
            h->stmt_bind_int(st, 2, (int64_t)copy[i].tx_offset);
            h->stmt_bind_int(st, 3, (int64_t)copy[i].last_rx);
            h->stmt_bind_int(st, 4, (int64_t)copy[i].last_tx);
            h->stmt_bind_int(st, 5, copy[i].client_id);
            h->stmt_step(st);
            h->stmt_reset(st);
        }
        h->db_commit(db);
    }
    h->stmt_free(st);
    h->db_rollback(db);
    h->db_release(db);
    free(copy);
}

void wg_counters_free(void)
{
    pthread_mutex_lock(&lock);
    free(entries);
    entries = NULL;
    n_entries = 0;
    pthread_mutex_unlock(&lock);
}
