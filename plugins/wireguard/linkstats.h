/* plugins/wireguard/linkstats: a server's link counters as the API shows
 * them.  A counter that cannot be read is null, never 0: 0 would claim a
 * running interface moved nothing. */
#ifndef WGM_WG_LINKSTATS_H
#define WGM_WG_LINKSTATS_H

#include <stdbool.h>
#include <jansson.h>

/* Set "bytes_received" and "bytes_sent" of @obj from link @ifname's
 * counters: their values when readable; else null for a server meant to
 * run (@running), 0 for a stopped one (it has no link to count on). */
void wg_linkstats_bytes(json_t *obj, const char *ifname, bool running);

/* {"rx_bytes","tx_bytes","rx_packets","tx_packets"} of link @ifname, by
 * the same rule.  New. */
json_t *wg_linkstats_json(const char *ifname, bool running);

#endif
