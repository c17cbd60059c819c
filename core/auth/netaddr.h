/* core/auth/netaddr: strict IPv4/IPv6 addresses and CIDR prefixes, and
 * matching a client address against them.
 *
 * Used wherever an address list is an access rule (API keys' allowed_ips,
 * security.ip_whitelist) and for the anonymous rate-limit bucket.  Strict
 * on purpose: no white space, no sign, no leading zeros in a prefix length,
 * nothing after the last digit.  An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4 peer) is
 * the IPv4 address, and a prefix inside ::ffff:0:0/96 is the IPv4 prefix,
 * so one rule covers a client however it connected.
 *
 * Header-only (static inline): core/auth and core/cache both use it and
 * neither links the other. */
#ifndef WGM_CORE_AUTH_NETADDR_H
#define WGM_CORE_AUTH_NETADDR_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/** An address: family AF_INET (4 bytes used) or AF_INET6 (16). */
struct wgm_addr {
    int family;
    unsigned char b[16];
};

/** A prefix: an address and how many leading bits of it count. */
struct wgm_cidr {
    struct wgm_addr net;
    unsigned bits;
};

static const unsigned char wgm_addr_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/** IPv4-mapped IPv6 → IPv4, in place; other addresses are left alone. */
static inline void wgm_addr_unmap(struct wgm_addr *a)
{
    if (a->family == AF_INET6 && memcmp(a->b, wgm_addr_mapped_prefix, 12) == 0) {
        memmove(a->b, a->b + 12, 4);
        memset(a->b + 4, 0, 12);
        a->family = AF_INET;
    }
}

/**
 * Parse @s (borrowed) as one address, inet_pton-strict: "192.0.2.1",
 * "2001:db8::1", "::ffff:192.0.2.1" (becomes IPv4).  No zone index, no
 * brackets, no white space.  0 or -EINVAL.
 */
static inline int wgm_addr_parse(const char *s, struct wgm_addr *out)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s || strlen(s) > INET6_ADDRSTRLEN)
        return -EINVAL;
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, out->b) != 1)
            return -EINVAL;
        out->family = AF_INET6;
        wgm_addr_unmap(out);
        return 0;
    }
    if (inet_pton(AF_INET, s, out->b) != 1)
        return -EINVAL;
    out->family = AF_INET;
    return 0;
}

/**
 * Parse @s (borrowed) as "address" or "address/bits": bits is 0..32 for
 * IPv4, 0..128 for IPv6, decimal digits only, no leading zero but "0".  A
 * bare address is a single host (/32 or /128).  An IPv6 prefix of 96 bits
 * or more inside ::ffff:0:0/96 becomes the IPv4 prefix (bits - 96); a
 * shorter one stays IPv6 and matches no IPv4 client.  Host bits beyond the
 * prefix are allowed (they are masked when matching).  0 or -EINVAL.
 */
static inline int wgm_cidr_parse(const char *s, struct wgm_cidr *out)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash;
    size_t alen;
    unsigned bits = 0, max;

    memset(out, 0, sizeof(*out));
    if (!s)
        return -EINVAL;
    slash = strchr(s, '/');
    alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(addr))
        return -EINVAL;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    /* Parsed without unmapping: a mapped prefix is converted below. */
    if (strchr(addr, ':')) {
        if (inet_pton(AF_INET6, addr, out->net.b) != 1)
            return -EINVAL;
        out->net.family = AF_INET6;
    } else {
        if (inet_pton(AF_INET, addr, out->net.b) != 1)
            return -EINVAL;
        out->net.family = AF_INET;
    }
    max = out->net.family == AF_INET ? 32 : 128;
    if (!slash) {
        bits = max;
    } else {
        const char *p = slash + 1;
        size_t n = strlen(p);
        if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
            return -EINVAL;
        for (size_t i = 0; i < n; i++) {
            if (p[i] < '0' || p[i] > '9')
                return -EINVAL;
            bits = bits * 10 + (unsigned)(p[i] - '0');
        }
        if (bits > max)
            return -EINVAL;
    }
    out->bits = bits;
    if (out->net.family == AF_INET6 && bits >= 96 && memcmp(out->net.b, wgm_addr_mapped_prefix, 12) == 0) {
        wgm_addr_unmap(&out->net);
        out->bits = bits - 96;
    }
    return 0;
}

/** True when @a lies in @c (same family, first c->bits bits equal). */
static inline bool wgm_cidr_contains(const struct wgm_cidr *c, const struct wgm_addr *a)
{
    unsigned bits = c->bits;
    int len = a->family == AF_INET ? 4 : 16;

    if (c->net.family != a->family)
        return false;
    for (int i = 0; i < len && bits > 0; i++, bits = bits >= 8 ? bits - 8 : 0) {
        unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));
        if ((a->b[i] & mask) != (c->net.b[i] & mask))
            return false;
    }
    return true;
}

/** @addr (text, borrowed) matched against the CIDR text @cidr; false when
 * either does not parse. */
static inline bool wgm_cidr_match_text(const char *cidr, const char *addr)
{
    struct wgm_cidr c;
    struct wgm_addr a;
    return wgm_cidr_parse(cidr, &c) == 0 && wgm_addr_parse(addr, &a) == 0 && wgm_cidr_contains(&c, &a);
}

#endif
