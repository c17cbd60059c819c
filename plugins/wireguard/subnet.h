/* plugins/wireguard/subnet: a server's IPv4/IPv6 subnet and the client
 * addresses inside it, as offsets from the network address.  Offsets make
 * "the next free address" an integer counter plus a free list, so
 * assignment never scans clients. */
#ifndef WGM_WG_SUBNET_H
#define WGM_WG_SUBNET_H

#include <stdbool.h>
#include <stdint.h>
#include "device.h"

struct wg_subnet {
    struct wg_allowedip net;   /* network address (host bits zero) + prefix */
    struct wg_allowedip self;  /* the server's own address (as configured) */
    int64_t self_off;          /* offset of the server's address */
    int64_t max_off;           /* largest usable offset */
};

/* Parse a server address "10.0.0.1/24" / "2001:db8::1/64".  The prefix
 * must leave room for clients (v4 ≤ /30, v6 ≤ /126).  0 or -EINVAL. */
int wg_subnet_parse(const char *s, struct wg_subnet *out);
/* Offset of @addr inside @sn, or -1 when outside / network / broadcast. */
int64_t wg_subnet_offset(const struct wg_subnet *sn, const struct wg_allowedip *addr);
/* The host address (/32 or /128) at @off. */
void wg_subnet_address(const struct wg_subnet *sn, int64_t off, struct wg_allowedip *out);

#endif
