/* libFuzzer harness for the WireGuard generic netlink decoder
 * (plugins/wireguard/netlink.c): the input is what the kernel would send
 * for a GET_DEVICE dump, one or more netlink messages.
 *
 * It is decoded twice: as one datagram, and cut into one datagram per
 * message.  Invariants: the result is 0 or a negative errno; when the
 * single datagram decodes, the cut one decodes to the same device (the
 * decoder keeps no state across datagrams but what it should); and a
 * decoded device, encoded back into SET_DEVICE messages and decoded
 * again, keeps its peers, allowed IPs and SET fields. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
#include "../../plugins/wireguard/netlink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAMILY 0 /* accept whatever data type the input uses */

static bool same_ip(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
    if (a->family != b->family || a->cidr != b->cidr)
        return false;
    return a->family == AF_INET ? a->ip4.s_addr == b->ip4.s_addr : memcmp(&a->ip6, &b->ip6, sizeof(a->ip6)) == 0;
}

/* Equal in everything a SET carries (stats and handshakes are GET only). */
static bool same_set(const struct wg_device *a, const struct wg_device *b, bool with_stats)
{
    const uint32_t pmask = WG_PEER_REMOVE_ME | WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_UPDATE_ONLY |
                           WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_KEEPALIVE | WG_PEER_HAS_ENDPOINT;
    const uint32_t dmask = with_stats ? ~0u : ~(uint32_t)WG_DEVICE_HAS_PUBLIC_KEY;

    if (strcmp(a->name, b->name) || (a->flags & dmask) != (b->flags & dmask) || a->n_peers != b->n_peers)
        return false;
    if (!a->name[0] && a->ifindex != b->ifindex)
        return false;
    if (((a->flags & WG_DEVICE_HAS_PRIVATE_KEY) && memcmp(a->private_key, b->private_key, WG_KEY_LEN)) ||
        ((a->flags & WG_DEVICE_HAS_LISTEN_PORT) && a->listen_port != b->listen_port) ||
        ((a->flags & WG_DEVICE_HAS_FWMARK) && a->fwmark != b->fwmark))
        return false;
    for (size_t i = 0; i < a->n_peers; i++) {
        const struct wg_peer *p = &a->peers[i], *q = &b->peers[i];

        if (memcmp(p->public_key, q->public_key, WG_KEY_LEN) || (p->flags & pmask) != (q->flags & pmask) ||
            p->n_allowedips != q->n_allowedips)
            return false;
        for (size_t j = 0; j < p->n_allowedips; j++)
            if (!same_ip(&p->allowedips[j], &q->allowedips[j]))
                return false;
        if ((p->flags & WG_PEER_HAS_PRESHARED_KEY) && memcmp(p->preshared_key, q->preshared_key, WG_KEY_LEN))
            return false;
        if ((p->flags & WG_PEER_HAS_KEEPALIVE) && p->keepalive != q->keepalive)
            return false;
        if ((p->flags & WG_PEER_HAS_ENDPOINT) &&
            memcmp(&p->endpoint, &q->endpoint,
                   p->endpoint.family == AF_INET ? sizeof(p->endpoint.in4) : sizeof(p->endpoint.in6)))
            return false;
        if (with_stats && (p->rx_bytes != q->rx_bytes || p->tx_bytes != q->tx_bytes ||
                           p->last_handshake.tv_sec != q->last_handshake.tv_sec ||
                           p->last_handshake.tv_nsec != q->last_handshake.tv_nsec))
            return false;
    }
    return true;
}

/* Decode @buf with each message in a datagram of its own (a broken header
 * chain sends the rest as one last datagram). */
static int decode_cut(const uint8_t *buf, size_t len, struct wg_device **out)
{
    struct wg_nl_dump d;
    size_t off = 0;
    int r = 1;

    wg_nl_dump_init(&d, FAMILY);
    while (r > 0 && off < len) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)(buf + off);
        size_t rem = len - off, n = rem;

        if (rem >= sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) && nlh->nlmsg_len <= rem)
            n = MNL_ALIGN((size_t)nlh->nlmsg_len) < rem ? MNL_ALIGN((size_t)nlh->nlmsg_len) : rem;
        r = wg_nl_dump_feed(&d, buf + off, n, 0, 0);
        off += n;
    }
    if (r > 0)
        r = -EBADMSG;
    if (r == 0)
        r = wg_nl_dump_take(&d, out);
    wg_nl_dump_clear(&d);
    return r;
}

/* Encode @dev as SET_DEVICE messages in @buflen-byte buffers, concatenate
 * them with a DONE and decode that.  0, or -1 when @dev cannot be a SET. */
static int round_trip(const struct wg_device *dev, size_t buflen, struct wg_device **out)
{
    struct wg_nl_set s;
    uint8_t *all = NULL, *msg = malloc(buflen);
    size_t len = 0;
    int r;

    *out = NULL;
    if (!msg)
        abort();
    if (wg_nl_set_init(&s, dev) != 0) {
        free(msg);
        return -1;
    }
    while ((r = wg_nl_set_next(&s, msg, buflen, 0x20, 1)) > 0) {
        if ((size_t)r > buflen)
            abort();
        all = realloc(all, len + MNL_ALIGN((size_t)r) + 32);
        if (!all)
            abort();
        memcpy(all + len, msg, (size_t)r);
        len += MNL_ALIGN((size_t)r);
    }
    if (r < 0)
        abort(); /* a valid change always encodes at these sizes */
    {
        struct nlmsghdr *done = (struct nlmsghdr *)(void *)(all + len);
        int32_t zero = 0;

        memset(done, 0, MNL_NLMSG_HDRLEN + sizeof(zero));
        done->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(zero);
        done->nlmsg_type = NLMSG_DONE;
        done->nlmsg_flags = NLM_F_MULTI;
        len += done->nlmsg_len;
    }
    {
        const void *bufs[1] = { all };
        size_t lens[1] = { len };

        r = wg_nl_decode(bufs, lens, 1, 0x20, out);
    }
    free(all);
    free(msg);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy in malloc'd memory: netlink messages are 4-byte aligned. */
    uint8_t *buf = malloc(size ? size : 1);
    struct wg_device *whole = NULL, *cut = NULL, *back = NULL;
    int r, rc;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    {
        const void *bufs[1] = { buf };
        size_t lens[1] = { size };

        r = wg_nl_decode(bufs, lens, 1, FAMILY, &whole);
    }
    if (r > 0 || (r == 0) != (whole != NULL))
        abort();
    rc = decode_cut(buf, size, &cut);
    if (rc > 0 || (rc == 0) != (cut != NULL))
        abort();
    if (r == 0 && (rc != 0 || !same_set(whole, cut, true)))
        abort();

    if (whole) {
        int rt = round_trip(whole, (size & 1) ? WG_NL_SET_MIN_BUFSIZE : 4096, &back);

        if (rt == 0 && !same_set(whole, back, false))
            abort();
        if (rt > 0 || (rt != 0 && rt != -1))
            abort();
    }
    wg_device_free(back);
    wg_device_free(cut);
    wg_device_free(whole);
    free(buf);
    return 0;
}
