/* plugins/wireguard/status: the wireguard_status event the WebSocket pushes,
 * with counters read from the links. */
#include <string.h>
#include <time.h>
#include "counters.h"
#include "rtnl.h"
#include "store.h"

void wg_status_publish(void);

/* Peers with a handshake in the last 3 minutes: WireGuard re-handshakes
 * every 2 minutes while traffic flows, so older means idle or gone. */
static long long wg_active_peers(const struct wg_device *dev)
{
    struct timespec now;
    long long n = 0;
    clock_gettime(CLOCK_REALTIME, &now);
    for (size_t i = 0; i < dev->n_peers; i++)
        if (dev->peers[i].last_handshake.tv_sec > 0 && now.tv_sec - dev->peers[i].last_handshake.tv_sec <= 180)
            n++;
    return n;
}

void wg_status_publish(void)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wgm_stmt *st = NULL;
    json_t *servers = json_array();

    if (!db) {
        json_decref(servers);
        return;
    }
    if (h->db_prepare(db,
                      "SELECT " WG_SERVER_COLUMNS ", (SELECT COUNT(*) FROM wg_clients c WHERE c.server_id = wg_servers.id)"
                      " FROM wg_servers ORDER BY id",
                      &st) == 0) {
        while (h->stmt_step(st) == WGM_DB_ROW) {
            struct wg_server_row row;
            struct wg_link_stats ls = {0};
            long long active = 0;
            bool up;
            wg_store_server_read(st, &row);
            up = row.running && wg_rtnl_link_stats(row.interface, &ls) == 0;
            if (up) {
                struct wg_device *dev = NULL;
                if (wg.backend->ops->get(wg.backend, row.interface, &dev) == 0) {
                    wg_counters_update(row.id, dev);
                    active = wg_active_peers(dev);
                }
                wg_device_free(dev);
            }
            /* Unread counters of a server meant to run are null, not 0. */
            json_array_append_new(servers,
                                  json_pack("{s:I,s:s,s:s,s:I,s:I,s:o,s:o}", "id", (json_int_t)row.id, "name", row.name,
                                            "status", up ? "running" : row.running ? "error" : "stopped",
                                            "clients_count", (json_int_t)h->stmt_column_int(st, 19), "active_peers",
                                            (json_int_t)active, "bytes_received",
                                            up ? json_integer((json_int_t)ls.rx_bytes)
                                               : row.running ? json_null() : json_integer(0),
                                            "bytes_sent",
                                            up ? json_integer((json_int_t)ls.tx_bytes)
                                               : row.running ? json_null() : json_integer(0)));
        }
    }
    h->stmt_free(st);
    h->db_release(db);
    h->publish(wg.ctx, "wireguard_status", json_pack("{s:o}", "servers", servers));
    /* Last-seen counters reach the database every few ticks, in one batch. */
    static unsigned ticks;
    if (++ticks % 6 == 0)
        wg_counters_flush();
}
