/* plugins/wireguard/wgquick: a client's configuration in wg-quick format. */
#ifndef WGM_WG_WGQUICK_H
#define WGM_WG_WGQUICK_H

#include <stdint.h>

/* Render the config of client @client_id.  New string (free()) into @out.
 * 0, -ENOENT (no such client), -ENODATA (the private key is not held by
 * wgm) or a db error. */
int wg_client_config(int64_t client_id, char **out);

#endif
