/* plugins/wireguard/rtnl: rtnetlink (libmnl) for what both backends need:
 * link create/delete, up/down, MTU, addresses, routes, counters.
 * Every call opens its own NETLINK_ROUTE socket in the caller's netns.
 * 0 or a negative errno. */
#ifndef WGM_WG_RTNL_H
#define WGM_WG_RTNL_H

#include <stdbool.h>
#include <stdint.h>
#include "device.h"

struct wg_link_stats {
    uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets;
};

/* RTM_NEWLINK of kind @kind ("wireguard"); -EEXIST, -EOPNOTSUPP (no module). */
int wg_rtnl_link_add(const char *ifname, const char *kind);
int wg_rtnl_link_del(const char *ifname);
/* ifindex of @ifname or -ENODEV. */
int wg_rtnl_ifindex(const char *ifname);
int wg_rtnl_link_set_up(const char *ifname, bool up);
int wg_rtnl_link_set_mtu(const char *ifname, unsigned mtu);
/* Add/remove "addr/prefix" (IPv4 or IPv6; IFA_LOCAL+IFA_ADDRESS for v4,
 * IFA_F_NODAD for v6).  Adding an existing address is 0 (idempotent). */
int wg_rtnl_addr_add(const char *ifname, const struct wg_allowedip *addr);
int wg_rtnl_addr_del(const char *ifname, const struct wg_allowedip *addr);
/* Route @dst via the interface (scope link, proto static); existing → 0. */
int wg_rtnl_route_add(const char *ifname, const struct wg_allowedip *dst);
int wg_rtnl_route_del(const char *ifname, const struct wg_allowedip *dst);
/* Interface counters (IFLA_STATS64). */
int wg_rtnl_link_stats(const char *ifname, struct wg_link_stats *out);

#endif
