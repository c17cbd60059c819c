/* plugins/wireguard/subnet: offset arithmetic on IPv4 and IPv6 subnets.
 * Offsets are capped below 2^62, far more addresses than any server has
 * clients, so IPv6 /64s fit in an int64. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "subnet.h"

#define MAX_OFFSET ((int64_t)1 << 62)

static void mask(struct wg_allowedip *a)
{
    uint8_t *b = a->family == AF_INET ? (uint8_t *)&a->ip4 : a->ip6.s6_addr;
    int len = a->family == AF_INET ? 4 : 16, bits = a->cidr;
    for (int i = 0; i < len; i++, bits -= 8)
        b[i] &= bits >= 8 ? 0xff : bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
}

/* The low 64 bits of @a's address minus those of @base, when the high
 * parts match; only meaningful inside one subnet. */
static uint64_t low64(const struct wg_allowedip *a)
{
    const uint8_t *b = a->family == AF_INET ? (const uint8_t *)&a->ip4 : a->ip6.s6_addr + 8;
    int len = a->family == AF_INET ? 4 : 8;
    uint64_t v = 0;
    for (int i = 0; i < len; i++)
        v = v << 8 | b[i];
    return v;
}

int wg_subnet_parse(const char *s, struct wg_subnet *out)
{
    int width;
    memset(out, 0, sizeof(*out));
    if (wg_allowedip_parse(s, &out->self) < 0 || !strchr(s, '/'))
        return -EINVAL;
    width = out->self.family == AF_INET ? 32 : 128;
    if (width - out->self.cidr < 2)
        return -EINVAL;
    out->net = out->self;
    mask(&out->net);
    out->max_off = width - out->self.cidr >= 62 ? MAX_OFFSET : ((int64_t)1 << (width - out->self.cidr)) - 1;
    if (out->self.family == AF_INET)
        out->max_off -= 1; /* the broadcast address */
    out->self_off = wg_subnet_offset(out, &out->self);
    return out->self_off < 0 ? -EINVAL : 0;
}

int64_t wg_subnet_offset(const struct wg_subnet *sn, const struct wg_allowedip *addr)
{
    struct wg_allowedip probe = *addr;
    uint64_t off;
    if (addr->family != sn->net.family)
        return -1;
    probe.cidr = sn->net.cidr;
    mask(&probe);
    if (memcmp(&probe.ip6, &sn->net.ip6, addr->family == AF_INET ? 4 : 16) != 0)
        return -1;
    /* Offsets live in the low 64 bits: in a subnet wider than /64 only its
     * first /64 is handed out. */
    if (addr->family == AF_INET6 && memcmp(addr->ip6.s6_addr, sn->net.ip6.s6_addr, 8) != 0)
        return -1;
    off = low64(addr) - low64(&sn->net);
    if (off == 0 || off > (uint64_t)sn->max_off)
        return -1;
    return (int64_t)off;
}

void wg_subnet_address(const struct wg_subnet *sn, int64_t off, struct wg_allowedip *out)
{
    uint8_t *b;
    int len;
    uint64_t v;

    *out = sn->net;
    out->cidr = sn->net.family == AF_INET ? 32 : 128;
    b = out->family == AF_INET ? (uint8_t *)&out->ip4 : out->ip6.s6_addr + 8;
    len = out->family == AF_INET ? 4 : 8;
    v = low64(&sn->net) + (uint64_t)off;
    for (int i = len - 1; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}
