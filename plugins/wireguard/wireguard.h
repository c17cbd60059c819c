/* plugins/wireguard: shared state of the plugin's files.  Everything is
 * static to the plugin; only the descriptor is exported. */
#ifndef WGM_WG_PLUGIN_H
#define WGM_WG_PLUGIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <wgm/wgm.h>
#include "backend.h"

struct wg_plugin {
    const struct wgm_host *host;
    struct wgm_ctx *ctx;
    struct wg_backend *backend;
    /* One reconcile at a time: API writes and the timer both apply. */
    pthread_mutex_t apply_lock;
    /* Userspace backend: the program's name and the version it reported
     * at start ("" when it did not answer). */
    char userspace_name[64], userspace_version[64];
};

extern struct wg_plugin wg;
extern const struct wgm_migration wg_migrations[];
extern const size_t wg_migrations_count;

#define WG_LOG(level, ...) wg.host->log(wg.ctx, level, __VA_ARGS__)

/* Routes of servers and clients. */
int wg_servers_register(void);
int wg_clients_register(void);
/* Bring server @id's device in line with the database (desired state,
 * peers, addresses).  Only the difference is applied.  0 or -errno with a
 * reason in @err. */
int wg_reconcile_server(int64_t id, char *err, size_t errlen);
/* Apply one client's peer without reading the device: set it as the
 * database says (or remove it), and remove @old_key (may be NULL) first.
 * client_id 0 with @old_key only removes.  Falls back to a full reconcile
 * of the server when the interface is not there or the set fails. */
int wg_apply_client(int64_t server_id, int64_t client_id, const uint8_t *old_key);
/* Follow ipv6pool's allocation events (delegated prefixes). */
int wg_prefixes_subscribe(void);
/* Every server; the timer and start-up call this. */
void wg_reconcile_all(void);

#endif
