/* plugins/wireguard/device: the in-memory shape of a WireGuard device and
 * its peers, shared by both backends (kernel netlink and userspace UAPI),
 * modelled on wireguard-tools' containers.h.
 *
 * The same struct describes what a device IS (from get) and what to
 * CHANGE (for set): flags say which fields are present and how peers
 * apply, exactly as in the netlink and UAPI protocols. */
#ifndef WGM_WG_DEVICE_H
#define WGM_WG_DEVICE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define WG_KEY_LEN 32
#define WG_IFNAMSIZ 16

struct wg_allowedip {
    uint16_t family; /* AF_INET or AF_INET6 */
    union {
        struct in_addr ip4;
        struct in6_addr ip6;
    };
    uint8_t cidr;
};

enum wg_peer_flags {
    WG_PEER_REMOVE_ME = 1u << 0,          /* delete this peer */
    WG_PEER_REPLACE_ALLOWEDIPS = 1u << 1, /* clear its allowed IPs before adding */
    WG_PEER_UPDATE_ONLY = 1u << 2,        /* never create it */
    WG_PEER_HAS_PRESHARED_KEY = 1u << 3,  /* preshared_key is meaningful (all zero removes) */
    WG_PEER_HAS_KEEPALIVE = 1u << 4,      /* keepalive is meaningful (0 = off) */
    WG_PEER_HAS_ENDPOINT = 1u << 5,       /* endpoint is meaningful */
};

struct wg_peer {
    uint32_t flags;
    uint8_t public_key[WG_KEY_LEN];
    uint8_t preshared_key[WG_KEY_LEN];
    union {
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        sa_family_t family;
    } endpoint;
    uint16_t keepalive;              /* seconds, 0 = off */
    struct timespec last_handshake;  /* wall clock; 0 = never (get only) */
    uint64_t rx_bytes, tx_bytes;     /* get only */
    struct wg_allowedip *allowedips;
    size_t n_allowedips, cap_allowedips;
};

enum wg_device_flags {
    WG_DEVICE_REPLACE_PEERS = 1u << 0,   /* remove every peer not in this set */
    WG_DEVICE_HAS_PRIVATE_KEY = 1u << 1,
    WG_DEVICE_HAS_PUBLIC_KEY = 1u << 2,  /* get only (userspace derives it) */
    WG_DEVICE_HAS_LISTEN_PORT = 1u << 3,
    WG_DEVICE_HAS_FWMARK = 1u << 4,
};

struct wg_device {
    char name[WG_IFNAMSIZ];
    uint32_t ifindex;
    uint32_t flags;
    uint8_t private_key[WG_KEY_LEN], public_key[WG_KEY_LEN];
    uint16_t listen_port;
    uint32_t fwmark;
    struct wg_peer *peers;
    size_t n_peers, cap_peers;
};

/* New empty device named @name (≤ 15 bytes), or NULL. */
struct wg_device *wg_device_new(const char *name);
/* Free a device and its peers.  Accepts NULL; returns NULL. */
struct wg_device *wg_device_free(struct wg_device *d);
/* Append a zeroed peer with @public_key; NULL on ENOMEM.  The pointer is
 * valid until the next wg_device_add_peer. */
struct wg_peer *wg_device_add_peer(struct wg_device *d, const uint8_t public_key[WG_KEY_LEN]);
/* Append an allowed IP to @p.  0 or -ENOMEM / -EINVAL (bad family/cidr). */
int wg_peer_add_allowedip(struct wg_peer *p, const struct wg_allowedip *a);
/* The peer with @public_key, or NULL. */
struct wg_peer *wg_device_find_peer(const struct wg_device *d, const uint8_t public_key[WG_KEY_LEN]);
/* Parse "addr/cidr" (IPv4 or IPv6, cidr optional = full length) into @out;
 * host bits are kept as written.  0 or -EINVAL. */
int wg_allowedip_parse(const char *s, struct wg_allowedip *out);
/* Format @a as "addr/cidr" into @buf (at least INET6_ADDRSTRLEN + 4). */
char *wg_allowedip_format(const struct wg_allowedip *a, char *buf, size_t len);
/* True when the key is all zero (no key). */
bool wg_key_is_zero(const uint8_t key[WG_KEY_LEN]);

#endif
