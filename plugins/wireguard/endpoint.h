/* plugins/wireguard/endpoint: what a client dials.  A server's own
 * `endpoint`, else the host-wide [wireguard] public_endpoint, else an
 * address of this host picked by the rules of wg_endpoint_pick.  Pure
 * functions (no plugin state), so the unit tests drive them directly. */
#ifndef WGM_WG_ENDPOINT_H
#define WGM_WG_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <ifaddrs.h>

/* The longest endpoint text: a 253-byte DNS name with ":65535".  A bare
 * name of any valid length still renders (port added) within it. */
#define WG_ENDPOINT_MAX 259
/* Room for any rendered endpoint and its NUL. */
#define WG_ENDPOINT_LEN 272

/* A DNS host name (RFC 1123 labels), an IPv4 literal, or an IPv6 literal
 * bare or in brackets; nothing else (no port, no white space). */
bool wg_endpoint_host_valid(const char *s);

/* host, host:port, IPv6, or [IPv6]:port; a port must be 1..65535. */
bool wg_endpoint_valid(const char *s);

/* @ep (as wg_endpoint_valid takes it) with @port added where it has none,
 * IPv6 in brackets: "vpn.example.com:51820", "[2001:db8::1]:51820".
 * 0, or -EINVAL for an empty @ep or a result that does not fit. */
int wg_endpoint_render(const char *ep, unsigned port, char *buf, size_t len);

/* The host's address clients should dial, from @list (as getifaddrs
 * gives it), into @buf as a bare address.  Skipped: interfaces down,
 * loopback, ARPHRD_NONE links (WireGuard and TUN, wgm's own among them),
 * unspecified, loopback, link-local and multicast addresses.  Preference:
 * IPv6 global unicast outside fc00::/7, then IPv4 outside the private,
 * shared (100.64/10) and link-local ranges, then IPv6 ULA, then private
 * IPv4; the first of the best class wins.  0, or -ENOENT when none. */
int wg_endpoint_pick(const struct ifaddrs *list, char *buf, size_t len);

/* wg_endpoint_pick over the live getifaddrs of this host. */
int wg_endpoint_detect(char *buf, size_t len);

#endif
