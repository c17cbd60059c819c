/* plugins/wireguard/store: server and client rows, and address
 * assignment from a counter plus a free list (never a scan of clients). */
#ifndef WGM_WG_STORE_H
#define WGM_WG_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "device.h"
#include "subnet.h"
#include "wireguard.h"

struct wg_server_row {
    int64_t id;
    char name[65], interface[WG_IFNAMSIZ];
    unsigned listen_port, mtu, keepalive;
    char ipv4[64], ipv6[64];          /* "" when unset */
    char public_key[45];
    char endpoint[256];
    bool running;                      /* desired state */
    int64_t started_at;
};

/* Columns of wg_servers in the order wg_store_server_read expects. */
#define WG_SERVER_COLUMNS                                                                                  \
    "id, name, interface, listen_port, ipv4_address, ipv6_address, private_key, public_key, endpoint,"     \
    " description, dns_servers, mtu, persistent_keepalive, allowed_ips, desired, last_error, started_at," \
    " created_at, updated_at"

/* Columns of wg_clients for wg_store_client_json. */
#define WG_CLIENT_COLUMNS                                                                                  \
    "id, server_id, name, description, public_key, private_key, preshared_key, ipv4_address,"              \
    " ipv6_address, allowed_ips, extra_ips, dns_servers, persistent_keepalive, enabled, expires_at,"       \
    " created_at, updated_at, rx_offset, tx_offset"

/* Read the current row of a WG_SERVER_COLUMNS statement. */
void wg_store_server_read(struct wgm_stmt *st, struct wg_server_row *out);
/* Load server @id; 0, -ENOENT, or a db error. */
int wg_store_server(struct wgm_db *db, int64_t id, struct wg_server_row *out);
/* The server's private key (opened from its sealed form) into @key. */
int wg_store_server_private_key(struct wgm_db *db, int64_t id, uint8_t key[WG_KEY_LEN]);

/* The spec's server object from a WG_SERVER_COLUMNS row; @secrets adds the
 * private key (opened) for callers holding wireguard.secrets. */
json_t *wg_store_server_json(struct wgm_stmt *st, bool secrets);
/* The spec's client object from a WG_CLIENT_COLUMNS row. */
json_t *wg_store_client_json(struct wgm_stmt *st, bool secrets);

/* Take an address offset in @sn for server @server_id and @family
 * (AF_INET/AF_INET6): the lowest released one, else the next unused.
 * Inside the caller's transaction.  0, -ENOSPC (full) or a db error. */
int wg_store_take_offset(struct wgm_db *db, int64_t server_id, int family, const struct wg_subnet *sn, int64_t *off);
/* Drop @off from the free list (claimed explicitly). */
int wg_store_forget_offset(struct wgm_db *db, int64_t server_id, int family, int64_t off);
/* A family's subnet changed: start its counter again, forget released offsets. */
int wg_store_reset_offsets(struct wgm_db *db, int64_t server_id, int family);
/* Give an offset back for reuse. */
int wg_store_release_offset(struct wgm_db *db, int64_t server_id, int family, int64_t off);

/* Seal @key with the host; new string (host->free) or NULL. */
char *wg_store_seal_key(const uint8_t key[WG_KEY_LEN]);
/* Open a sealed key into @key; 0 or -EBADMSG. */
int wg_store_open_key(const char *sealed, uint8_t key[WG_KEY_LEN]);

#endif
