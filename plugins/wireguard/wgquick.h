/* plugins/wireguard/wgquick: a client's configuration in wg-quick format. */
#ifndef WGM_WG_WGQUICK_H
#define WGM_WG_WGQUICK_H

#include <stdint.h>

#include <stddef.h>

/* Render the config of client @client_id.  New string (free()) into @out.
 * 0, -ENOENT (no such client), -ENODATA (the private key is not held by
 * wgm), -EDESTADDRREQ (no endpoint is known for its server) or a db error. */
int wg_client_config(int64_t client_id, char **out);

/* The endpoint clients of a server dial: @server_ep (its own `endpoint`,
 * may be NULL) or else the host-wide public host, with @port added where
 * none is given.  0 or -EDESTADDRREQ when nothing is known. */
int wg_server_endpoint(const char *server_ep, unsigned port, char *buf, size_t len);
/* The host-wide public host: [wireguard] public_endpoint, else (unless
 * public_endpoint_auto = no) this host's address, read live.  0 or -ENOENT. */
int wg_public_host(char *buf, size_t len);
/* Check public_endpoint and log what clients will dial; -EINVAL when the
 * configured value is not a host or address (init then fails). */
int wg_public_endpoint_init(void);

#endif
