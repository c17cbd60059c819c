/* plugins/wireguard/netlink: the kernel backend.  WireGuard devices are
 * read and changed over generic netlink (family "wireguard"), links are
 * made and removed over rtnetlink (rtnl.c).  The message encoding and
 * decoding are pure functions (netlink.h); the backend below only moves
 * their bytes through sockets, as wireguard-tools' ipc-linux.h does. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <libmnl/libmnl.h>
#include "backend.h"
#include "netlink.h"
#include "rtnl.h"

/* How often a GET is restarted because the peer list changed under the dump
 * (NLM_F_DUMP_INTR).  wireguard-tools retries forever; a bound keeps a
 * device that is rewritten non-stop from pinning a worker thread. */
#define WG_NL_GET_RETRIES 16

/* ------------------------------------------------------------------------
 * Shared: control messages and datagram checks
 * ------------------------------------------------------------------------ */

/* Netlink subsystems report errors with either sign; anything outside the
 * errno range is not an errno at all. */
static int errno_from(int32_t v)
{
    if (v < -4095 || v > 4095)
        return -EPROTO;
    return v < 0 ? v : -v;
}

/* Every callback `data` used with ctl_cbs starts with an int error slot, so
 * the control callbacks can record the kernel's error without going through
 * errno, which the data callbacks may clobber (malloc). */
static int ctl_error(const struct nlmsghdr *nlh, void *data)
{
    int *err = data;
    struct nlmsgerr e;

    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(e))) {
        *err = -EBADMSG;
        return MNL_CB_ERROR;
    }
    memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
    if (e.error == 0)
        return MNL_CB_STOP; /* an ACK */
    *err = errno_from(e.error);
    return MNL_CB_ERROR;
}

/* libmnl's own DONE handler ignores the int the kernel puts there, yet a
 * dump that fails half-way reports its error only in it.  wireguard-tools
 * also wants NLM_F_MULTI and exactly 4 bytes; with extended ACKs the
 * kernel may append TLVs after the int, so only its presence is required. */
static int ctl_done(const struct nlmsghdr *nlh, void *data)
{
    int *err = data;
    int32_t v;

    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(v)))
        return MNL_CB_STOP;
    memcpy(&v, mnl_nlmsg_get_payload(nlh), sizeof(v));
    if (v == 0)
        return MNL_CB_STOP;
    *err = errno_from(v);
    return MNL_CB_ERROR;
}

/* NOOP and OVERRUN stay NULL: mnl_cb_run2 then skips them. */
static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
    [NLMSG_ERROR] = ctl_error,
    [NLMSG_DONE] = ctl_done,
};

/* libmnl 1.0.4's mnl_nlmsg_ok compares nlmsg_len as a signed int, so a
 * length of 0x80000000 or more passes and the callbacks would read past the
 * datagram.  Check every header ourselves first; also refuse trailing bytes
 * that do not form a message (a truncated one). */
static int check_datagram(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    size_t rem = len;

    while (rem >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)p;
        size_t n = nlh->nlmsg_len;

        if (n < sizeof(*nlh) || n > rem)
            return -EBADMSG;
        n = MNL_ALIGN(n);
        if (n >= rem)
            return 0; /* the last message; its padding may be missing */
        rem -= n;
        p += n;
    }
    return rem ? -EBADMSG : 0;
}

/* ------------------------------------------------------------------------
 * Encoding WG_CMD_SET_DEVICE
 * ------------------------------------------------------------------------ */

static bool valid_allowedip(const struct wg_allowedip *a)
{
    return (a->family == AF_INET && a->cidr <= 32) || (a->family == AF_INET6 && a->cidr <= 128);
}

int wg_nl_set_init(struct wg_nl_set *s, const struct wg_device *change)
{
    size_t namelen;

    memset(s, 0, sizeof(*s));
    if (!change)
        return -EINVAL;
    namelen = strnlen(change->name, sizeof(change->name));
    if (namelen == sizeof(change->name) || (namelen == 0 && change->ifindex == 0))
        return -EINVAL;
    if (change->n_peers && !change->peers)
        return -EINVAL;
    for (size_t i = 0; i < change->n_peers; i++) {
        const struct wg_peer *p = &change->peers[i];

        if (p->n_allowedips && !p->allowedips)
            return -EINVAL;
        for (size_t j = 0; j < p->n_allowedips; j++)
            if (!valid_allowedip(&p->allowedips[j]))
                return -EINVAL;
        if ((p->flags & WG_PEER_HAS_ENDPOINT) && p->endpoint.family != AF_INET &&
            p->endpoint.family != AF_INET6)
            return -EINVAL;
    }
    s->change = change;
    return 0;
}

static bool put_device_attrs(struct nlmsghdr *nlh, size_t buflen, const struct wg_device *d)
{
    if ((d->flags & WG_DEVICE_HAS_PRIVATE_KEY) &&
        !mnl_attr_put_check(nlh, buflen, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, d->private_key))
        return false;
    if ((d->flags & WG_DEVICE_HAS_LISTEN_PORT) &&
        !mnl_attr_put_u16_check(nlh, buflen, WGDEVICE_A_LISTEN_PORT, d->listen_port))
        return false;
    if ((d->flags & WG_DEVICE_HAS_FWMARK) && !mnl_attr_put_u32_check(nlh, buflen, WGDEVICE_A_FWMARK, d->fwmark))
        return false;
    /* Only here, in message 1: repeated, it would wipe the peers that the
     * earlier messages of this same change have just added. */
    if ((d->flags & WG_DEVICE_REPLACE_PEERS) &&
        !mnl_attr_put_u32_check(nlh, buflen, WGDEVICE_A_FLAGS, WGDEVICE_F_REPLACE_PEERS))
        return false;
    return true;
}

/* The attributes of one peer fragment that precede its allowed IPs. */
static bool put_peer_head(struct nlmsghdr *nlh, size_t buflen, const struct wg_peer *p, bool first_fragment)
{
    uint32_t flags = 0;

    if (!mnl_attr_put_check(nlh, buflen, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, p->public_key))
        return false;
    /* These two are repeated: a continuation without REMOVE_ME would
     * re-create the peer just removed, one without UPDATE_ONLY would create
     * a peer the first fragment deliberately left absent. */
    if (p->flags & WG_PEER_REMOVE_ME)
        flags |= WGPEER_F_REMOVE_ME;
    if (p->flags & WG_PEER_UPDATE_ONLY)
        flags |= WGPEER_F_UPDATE_ONLY;
    if (first_fragment) {
        /* Repeated, REPLACE_ALLOWEDIPS would drop the allowed IPs the
         * earlier fragments added; the rest need saying only once. */
        if (p->flags & WG_PEER_REPLACE_ALLOWEDIPS)
            flags |= WGPEER_F_REPLACE_ALLOWEDIPS;
        if ((p->flags & WG_PEER_HAS_PRESHARED_KEY) &&
            !mnl_attr_put_check(nlh, buflen, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, p->preshared_key))
            return false;
        if ((p->flags & WG_PEER_HAS_ENDPOINT) && p->endpoint.family == AF_INET &&
            !mnl_attr_put_check(nlh, buflen, WGPEER_A_ENDPOINT, sizeof(p->endpoint.in4), &p->endpoint.in4))
            return false;
        if ((p->flags & WG_PEER_HAS_ENDPOINT) && p->endpoint.family == AF_INET6 &&
            !mnl_attr_put_check(nlh, buflen, WGPEER_A_ENDPOINT, sizeof(p->endpoint.in6), &p->endpoint.in6))
            return false;
        if ((p->flags & WG_PEER_HAS_KEEPALIVE) &&
            !mnl_attr_put_u16_check(nlh, buflen, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, p->keepalive))
            return false;
    }
    if (flags && !mnl_attr_put_u32_check(nlh, buflen, WGPEER_A_FLAGS, flags))
        return false;
    return true;
}

static bool put_allowedip(struct nlmsghdr *nlh, size_t buflen, const struct wg_allowedip *a)
{
    struct nlattr *nest = mnl_attr_nest_start_check(nlh, buflen, 0);
    bool fits;

    if (!nest)
        return false;
    fits = mnl_attr_put_u16_check(nlh, buflen, WGALLOWEDIP_A_FAMILY, a->family) &&
           (a->family == AF_INET ? mnl_attr_put_check(nlh, buflen, WGALLOWEDIP_A_IPADDR, sizeof(a->ip4), &a->ip4)
                                 : mnl_attr_put_check(nlh, buflen, WGALLOWEDIP_A_IPADDR, sizeof(a->ip6), &a->ip6)) &&
           mnl_attr_put_u8_check(nlh, buflen, WGALLOWEDIP_A_CIDR_MASK, a->cidr);
    if (fits)
        mnl_attr_nest_end(nlh, nest);
    else
        mnl_attr_nest_cancel(nlh, nest);
    return fits;
}

/* As many of @p's allowed IPs from *next on as fit; returns how many. */
static size_t put_allowedips(struct nlmsghdr *nlh, size_t buflen, const struct wg_peer *p, size_t *next)
{
    struct nlattr *nest = mnl_attr_nest_start_check(nlh, buflen, WGPEER_A_ALLOWEDIPS);
    size_t added = 0;

    if (!nest)
        return 0;
    while (*next < p->n_allowedips && put_allowedip(nlh, buflen, &p->allowedips[*next])) {
        (*next)++;
        added++;
    }
    if (added)
        mnl_attr_nest_end(nlh, nest);
    else
        mnl_attr_nest_cancel(nlh, nest);
    return added;
}

enum { PEER_DONE, PEER_NONE, PEER_PART };

/* One fragment of the current peer: all of what is left of it (PEER_DONE),
 * nothing (PEER_NONE: the nest is cancelled and the peer starts the next
 * message), or a part that the next message continues (PEER_PART). */
static int put_peer(struct nlmsghdr *nlh, size_t buflen, struct wg_nl_set *s)
{
    const struct wg_peer *p = &s->change->peers[s->peer];
    struct nlattr *nest = mnl_attr_nest_start_check(nlh, buflen, 0);
    size_t added;

    if (!nest)
        return PEER_NONE;
    if (!put_peer_head(nlh, buflen, p, !s->peer_started)) {
        mnl_attr_nest_cancel(nlh, nest);
        return PEER_NONE;
    }
    added = put_allowedips(nlh, buflen, p, &s->aip);
    if (s->aip == p->n_allowedips) {
        mnl_attr_nest_end(nlh, nest);
        return PEER_DONE;
    }
    if (added == 0 && s->peer_started) {
        /* A continuation without a single allowed IP says nothing new. */
        mnl_attr_nest_cancel(nlh, nest);
        return PEER_NONE;
    }
    mnl_attr_nest_end(nlh, nest);
    s->peer_started = true;
    return PEER_PART;
}

int wg_nl_set_next(struct wg_nl_set *s, void *buf, size_t buflen, uint16_t family, uint32_t seq)
{
    const struct wg_device *d = s->change;
    struct nlmsghdr *nlh;
    struct genlmsghdr *genl;
    bool first, progress;

    if (!d)
        return -EINVAL;
    if (s->done)
        return 0;
    if (buflen < WG_NL_SET_MIN_BUFSIZE)
        return -EMSGSIZE;
    if (buflen > INT_MAX)
        buflen = INT_MAX;
    /* Zeroed so that no stale byte (an earlier message's key) is sent as
     * padding or left in a cancelled nest. */
    memset(buf, 0, buflen);
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = family;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
    genl->cmd = WG_CMD_SET_DEVICE;
    genl->version = WG_GENL_VERSION;

    if (d->name[0] ? !mnl_attr_put_strz_check(nlh, buflen, WGDEVICE_A_IFNAME, d->name)
                   : !mnl_attr_put_u32_check(nlh, buflen, WGDEVICE_A_IFINDEX, d->ifindex))
        return -EMSGSIZE;
    first = s->n_msgs == 0;
    if (first && !put_device_attrs(nlh, buflen, d))
        return -EMSGSIZE;
    progress = first;

    if (s->peer < d->n_peers) {
        struct nlattr *peers = mnl_attr_nest_start_check(nlh, buflen, WGDEVICE_A_PEERS);
        int r = PEER_DONE;

        while (peers && s->peer < d->n_peers && (r = put_peer(nlh, buflen, s)) == PEER_DONE) {
            s->peer++;
            s->aip = 0;
            s->peer_started = false;
            progress = true;
        }
        if (r == PEER_PART)
            progress = true;
        if (peers && (char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)peers > (ptrdiff_t)MNL_ATTR_HDRLEN)
            mnl_attr_nest_end(nlh, peers);
        else if (peers)
            mnl_attr_nest_cancel(nlh, peers);
    }
    if (!progress)
        return -EMSGSIZE;
    s->n_msgs++;
    if (s->peer >= d->n_peers)
        s->done = true;
    return (int)nlh->nlmsg_len;
}

/* ------------------------------------------------------------------------
 * Decoding a WG_CMD_GET_DEVICE dump
 * ------------------------------------------------------------------------ */

typedef int (*attr_fn)(const struct nlattr *a, void *data);

/* Walk the attributes in @len bytes at @start.  Unlike mnl_attr_parse,
 * which stops quietly at the first attribute that does not fit, a cut
 * attribute or trailing bytes make the whole message bad, as in the
 * kernel's strict parsing. */
static int walk_attrs(const void *start, size_t len, attr_fn fn, void *data)
{
    const struct nlattr *a = start;
    int rem = (int)len;

    if (len > INT_MAX)
        return -EBADMSG;
    while (mnl_attr_ok(a, rem)) {
        int r = fn(a, data);

        if (r < 0)
            return r;
        rem -= (int)MNL_ALIGN(a->nla_len);
        a = mnl_attr_next(a);
    }
    return rem > 0 ? -EBADMSG : 0;
}

static int walk_nested(const struct nlattr *nest, attr_fn fn, void *data)
{
    return walk_attrs(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), fn, data);
}

/* Copy a fixed-size payload: refuses any other length.  memcpy, because a
 * u64 after a 4-byte attribute header need not be 8-aligned. */
static int get_exact(const struct nlattr *a, void *out, size_t len)
{
    if (mnl_attr_get_payload_len(a) != len)
        return -EBADMSG;
    memcpy(out, mnl_attr_get_payload(a), len);
    return 0;
}

struct aip_parse {
    uint16_t family;
    uint8_t cidr;
    uint8_t addr[16];
    size_t addr_len;
    bool has_family, has_cidr;
};

static int aip_attr(const struct nlattr *a, void *data)
{
    struct aip_parse *ap = data;
    size_t len = mnl_attr_get_payload_len(a);

    switch (mnl_attr_get_type(a)) {
    case WGALLOWEDIP_A_FAMILY:
        ap->has_family = true;
        return get_exact(a, &ap->family, sizeof(ap->family));
    case WGALLOWEDIP_A_IPADDR:
        if (len != 4 && len != 16)
            return -EBADMSG;
        ap->addr_len = len;
        memcpy(ap->addr, mnl_attr_get_payload(a), len);
        return 0;
    case WGALLOWEDIP_A_CIDR_MASK:
        ap->has_cidr = true;
        return get_exact(a, &ap->cidr, sizeof(ap->cidr));
    default:
        return 0; /* padding, or newer than this code (e.g. flags) */
    }
}

static int aip_entry(const struct nlattr *a, void *data)
{
    struct wg_peer *p = data;
    struct aip_parse ap;
    struct wg_allowedip ip;
    int r;

    memset(&ap, 0, sizeof(ap));
    memset(&ip, 0, sizeof(ip));
    r = walk_nested(a, aip_attr, &ap);
    if (r < 0)
        return r;
    if (!ap.has_family || !ap.has_cidr)
        return -EBADMSG;
    if (ap.family == AF_INET && ap.addr_len == sizeof(ip.ip4))
        memcpy(&ip.ip4, ap.addr, sizeof(ip.ip4));
    else if (ap.family == AF_INET6 && ap.addr_len == sizeof(ip.ip6))
        memcpy(&ip.ip6, ap.addr, sizeof(ip.ip6));
    else
        return -EBADMSG; /* no address, or one that is not of its family */
    ip.family = ap.family;
    ip.cidr = ap.cidr;
    r = wg_peer_add_allowedip(p, &ip);
    return r == -EINVAL ? -EBADMSG : r;
}

struct peer_parse {
    struct wg_peer p; /* p.allowedips is owned here until committed */
    bool has_key, has_handshake, has_rx, has_tx;
};

static int get_endpoint(const struct nlattr *a, struct wg_peer *p)
{
    size_t len = mnl_attr_get_payload_len(a);
    sa_family_t family;

    if (len < sizeof(struct sockaddr))
        return -EBADMSG;
    memcpy(&family, mnl_attr_get_payload(a), sizeof(family));
    if (family == AF_INET && len == sizeof(p->endpoint.in4))
        memcpy(&p->endpoint.in4, mnl_attr_get_payload(a), len);
    else if (family == AF_INET6 && len == sizeof(p->endpoint.in6))
        memcpy(&p->endpoint.in6, mnl_attr_get_payload(a), len);
    else
        return -EBADMSG;
    p->flags |= WG_PEER_HAS_ENDPOINT;
    return 0;
}

static int peer_attr(const struct nlattr *a, void *data)
{
    struct peer_parse *pp = data;
    struct wg_peer *p = &pp->p;
    uint32_t flags;
    int64_t ts[2];
    int r;

    switch (mnl_attr_get_type(a)) {
    case WGPEER_A_PUBLIC_KEY:
        pp->has_key = true;
        return get_exact(a, p->public_key, WG_KEY_LEN);
    case WGPEER_A_PRESHARED_KEY:
        p->flags |= WG_PEER_HAS_PRESHARED_KEY;
        return get_exact(a, p->preshared_key, WG_KEY_LEN);
    case WGPEER_A_FLAGS: /* SET only; read so that a SET decodes back */
        r = get_exact(a, &flags, sizeof(flags));
        if (r < 0)
            return r;
        if (flags & WGPEER_F_REMOVE_ME)
            p->flags |= WG_PEER_REMOVE_ME;
        if (flags & WGPEER_F_REPLACE_ALLOWEDIPS)
            p->flags |= WG_PEER_REPLACE_ALLOWEDIPS;
        if (flags & WGPEER_F_UPDATE_ONLY)
            p->flags |= WG_PEER_UPDATE_ONLY;
        return 0;
    case WGPEER_A_ENDPOINT:
        return get_endpoint(a, p);
    case WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL:
        p->flags |= WG_PEER_HAS_KEEPALIVE;
        return get_exact(a, &p->keepalive, sizeof(p->keepalive));
    case WGPEER_A_LAST_HANDSHAKE_TIME: /* struct __kernel_timespec: s64, s64 */
        r = get_exact(a, ts, sizeof(ts));
        if (r < 0)
            return r;
        p->last_handshake.tv_sec = (time_t)ts[0];
        p->last_handshake.tv_nsec = (long)ts[1];
        pp->has_handshake = true;
        return 0;
    case WGPEER_A_RX_BYTES:
        pp->has_rx = true;
        return get_exact(a, &p->rx_bytes, sizeof(p->rx_bytes));
    case WGPEER_A_TX_BYTES:
        pp->has_tx = true;
        return get_exact(a, &p->tx_bytes, sizeof(p->tx_bytes));
    case WGPEER_A_ALLOWEDIPS:
        return walk_nested(a, aip_entry, p);
    case WGPEER_A_PROTOCOL_VERSION:
        return get_exact(a, &flags, sizeof(flags));
    default:
        return 0; /* type 0 is the kernel's padding before u64s */
    }
}

/* Append @pp's peer to @d, or merge it into the last peer when it has the
 * same key: the kernel continues a peer whose allowed IPs did not fit with
 * its key and the remaining allowed IPs (wireguard-tools' coalesce_peers). */
static int commit_peer(struct wg_device *d, struct peer_parse *pp)
{
    struct wg_peer *p = &pp->p, *last = d->n_peers ? &d->peers[d->n_peers - 1] : NULL;

    if (!last || memcmp(last->public_key, p->public_key, WG_KEY_LEN) != 0) {
        struct wg_peer *n = wg_device_add_peer(d, p->public_key);

        if (!n)
            return -ENOMEM;
        *n = *p;
        p->allowedips = NULL; /* moved */
        p->n_allowedips = p->cap_allowedips = 0;
        return 0;
    }
    for (size_t i = 0; i < p->n_allowedips; i++) {
        int r = wg_peer_add_allowedip(last, &p->allowedips[i]);

        if (r < 0)
            return r;
    }
    last->flags |= p->flags & (WG_PEER_REMOVE_ME | WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_UPDATE_ONLY);
    if (p->flags & WG_PEER_HAS_PRESHARED_KEY) {
        memcpy(last->preshared_key, p->preshared_key, WG_KEY_LEN);
        last->flags |= WG_PEER_HAS_PRESHARED_KEY;
    }
    if (p->flags & WG_PEER_HAS_ENDPOINT) {
        last->endpoint = p->endpoint;
        last->flags |= WG_PEER_HAS_ENDPOINT;
    }
    if (p->flags & WG_PEER_HAS_KEEPALIVE) {
        last->keepalive = p->keepalive;
        last->flags |= WG_PEER_HAS_KEEPALIVE;
    }
    if (pp->has_handshake)
        last->last_handshake = p->last_handshake;
    if (pp->has_rx)
        last->rx_bytes = p->rx_bytes;
    if (pp->has_tx)
        last->tx_bytes = p->tx_bytes;
    return 0;
}

static int peer_entry(const struct nlattr *a, void *data)
{
    struct wg_nl_dump *d = data;
    struct peer_parse pp;
    int r;

    memset(&pp, 0, sizeof(pp));
    r = walk_nested(a, peer_attr, &pp);
    if (r == 0 && !pp.has_key)
        r = -EBADMSG;
    if (r == 0)
        r = commit_peer(d->dev, &pp);
    free(pp.p.allowedips);
    explicit_bzero(&pp, sizeof(pp)); /* the preshared key */
    return r;
}

static int get_ifname(const struct nlattr *a, char name[WG_IFNAMSIZ])
{
    const char *s = mnl_attr_get_payload(a);
    size_t len = mnl_attr_get_payload_len(a), n = strnlen(s, len);

    if (n == len || n == 0 || n >= WG_IFNAMSIZ)
        return -EBADMSG; /* not NUL-terminated, empty or too long */
    memcpy(name, s, n + 1);
    return 0;
}

static int device_attr(const struct nlattr *a, void *data)
{
    struct wg_nl_dump *d = data;
    struct wg_device *dev = d->dev;
    uint32_t flags;
    int r;

    switch (mnl_attr_get_type(a)) {
    case WGDEVICE_A_IFINDEX:
        return get_exact(a, &dev->ifindex, sizeof(dev->ifindex));
    case WGDEVICE_A_IFNAME:
        return get_ifname(a, dev->name);
    case WGDEVICE_A_PRIVATE_KEY:
        dev->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
        return get_exact(a, dev->private_key, WG_KEY_LEN);
    case WGDEVICE_A_PUBLIC_KEY:
        dev->flags |= WG_DEVICE_HAS_PUBLIC_KEY;
        return get_exact(a, dev->public_key, WG_KEY_LEN);
    case WGDEVICE_A_LISTEN_PORT:
        dev->flags |= WG_DEVICE_HAS_LISTEN_PORT;
        return get_exact(a, &dev->listen_port, sizeof(dev->listen_port));
    case WGDEVICE_A_FWMARK:
        dev->flags |= WG_DEVICE_HAS_FWMARK;
        return get_exact(a, &dev->fwmark, sizeof(dev->fwmark));
    case WGDEVICE_A_FLAGS: /* SET only; read so that a SET decodes back */
        r = get_exact(a, &flags, sizeof(flags));
        if (r < 0)
            return r;
        if (flags & WGDEVICE_F_REPLACE_PEERS)
            dev->flags |= WG_DEVICE_REPLACE_PEERS;
        return 0;
    case WGDEVICE_A_PEERS:
        return walk_nested(a, peer_entry, d);
    default:
        return 0;
    }
}

static int dump_fail(struct wg_nl_dump *d, int err)
{
    d->err = err;
    return MNL_CB_ERROR;
}

static int dump_data_cb(const struct nlmsghdr *nlh, void *data)
{
    struct wg_nl_dump *d = data;
    size_t hdr = MNL_NLMSG_HDRLEN + MNL_ALIGN(GENL_HDRLEN);
    int r;

    if (d->family && nlh->nlmsg_type != d->family)
        return dump_fail(d, -EPROTO);
    if (nlh->nlmsg_len < hdr)
        return dump_fail(d, -EBADMSG);
    if (!d->dev) {
        /* Not wg_device_new: the name arrives with the attributes. */
        d->dev = calloc(1, sizeof(*d->dev));
        if (!d->dev)
            return dump_fail(d, -ENOMEM);
    }
    r = walk_attrs((const uint8_t *)nlh + hdr, nlh->nlmsg_len - hdr, device_attr, d);
    return r < 0 ? dump_fail(d, r) : MNL_CB_OK;
}

void wg_nl_dump_init(struct wg_nl_dump *d, uint16_t family)
{
    memset(d, 0, sizeof(*d));
    d->family = family;
}

int wg_nl_dump_feed(struct wg_nl_dump *d, const void *buf, size_t len, uint32_t seq, uint32_t portid)
{
    int r;

    if (d->err)
        return d->err;
    if (d->done)
        return 0;
    if ((!buf && len) || len > INT_MAX) {
        d->err = -EBADMSG;
        return d->err;
    }
    r = check_datagram(buf, len);
    if (r < 0) {
        d->err = r;
        return r;
    }
    errno = 0;
    r = mnl_cb_run2(buf, len, seq, portid, dump_data_cb, d, ctl_cbs, MNL_ARRAY_SIZE(ctl_cbs));
    if (r < 0) {
        /* libmnl's own checks (port, sequence, NLM_F_DUMP_INTR) say it in
         * errno; the callbacks said it in d->err. */
        if (!d->err)
            d->err = errno ? -errno : -EBADMSG;
        return d->err;
    }
    if (r == MNL_CB_STOP) {
        d->done = true;
        return 0;
    }
    return 1;
}

int wg_nl_dump_take(struct wg_nl_dump *d, struct wg_device **out)
{
    *out = NULL;
    if (d->err)
        return d->err;
    if (!d->done)
        return -EAGAIN;
    if (!d->dev)
        return -ENODATA;
    *out = d->dev;
    d->dev = NULL;
    return 0;
}

void wg_nl_dump_clear(struct wg_nl_dump *d)
{
    if (!d)
        return;
    wg_device_free(d->dev);
    wg_nl_dump_init(d, d->family);
}

int wg_nl_decode(const void *const *bufs, const size_t *lens, size_t n, uint16_t family,
                 struct wg_device **out)
{
    struct wg_nl_dump d;
    int r = 1;

    *out = NULL;
    wg_nl_dump_init(&d, family);
    for (size_t i = 0; i < n && r > 0; i++)
        r = wg_nl_dump_feed(&d, bufs[i], lens[i], 0, 0);
    if (r > 0)
        r = -EBADMSG; /* ended without NLMSG_DONE */
    if (r == 0)
        r = wg_nl_dump_take(&d, out);
    wg_nl_dump_clear(&d);
    return r;
}

/* ------------------------------------------------------------------------
 * The backend: sockets
 * ------------------------------------------------------------------------ */

struct kernel_backend {
    struct wg_backend base; /* first: the ops receive &base */
    uint16_t family;        /* the "wireguard" genl family id */
};

static bool valid_ifname(const char *name)
{
    size_t n;

    if (!name)
        return false;
    n = strnlen(name, WG_IFNAMSIZ);
    return n > 0 && n < WG_IFNAMSIZ;
}

/* CLOEXEC: the daemon also starts helper processes, which must not inherit
 * a netlink socket. */
static int nl_open(struct mnl_socket **out, uint32_t *portid)
{
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
    int r;

    *out = NULL;
    if (!nl)
        return -errno;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        r = -errno;
        mnl_socket_close(nl);
        return r;
    }
    *portid = mnl_socket_get_portid(nl);
    *out = nl;
    return 0;
}

static ssize_t nl_recv(struct mnl_socket *nl, void *rx)
{
    ssize_t n;

    do
        n = mnl_socket_recvfrom(nl, rx, WG_NL_RX_BUFSIZE);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* Read until the reply to @seq ends with an ACK or DONE.  @data starts with
 * an int error slot (see ctl_cbs). */
static int nl_recv_run(struct mnl_socket *nl, void *rx, uint32_t seq, uint32_t portid, mnl_cb_t cb, void *data)
{
    int *err = data;

    for (;;) {
        ssize_t n = nl_recv(nl, rx);
        int r;

        if (n < 0)
            return (int)n;
        r = check_datagram(rx, (size_t)n);
        if (r < 0)
            return r;
        errno = 0;
        r = mnl_cb_run2(rx, (size_t)n, seq, portid, cb, data, ctl_cbs, MNL_ARRAY_SIZE(ctl_cbs));
        if (r < 0)
            return *err ? *err : errno ? -errno : -EBADMSG;
        if (r == MNL_CB_STOP)
            return 0;
    }
}

struct family_reply {
    int err; /* first: see ctl_cbs */
    uint16_t id;
};

static int family_attr_cb(const struct nlattr *a, void *data)
{
    struct family_reply *f = data;

    if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_get_payload_len(a) == sizeof(uint16_t))
        f->id = mnl_attr_get_u16(a);
    return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
    if (nlh->nlmsg_type == GENL_ID_CTRL)
        mnl_attr_parse(nlh, GENL_HDRLEN, family_attr_cb, data);
    return MNL_CB_OK;
}

static int resolve_family(uint16_t *id)
{
    struct family_reply f = { 0, 0 };
    struct mnl_socket *nl = NULL;
    struct nlmsghdr *nlh;
    struct genlmsghdr *genl;
    uint32_t portid, seq = (uint32_t)time(NULL);
    void *rx = calloc(1, WG_NL_RX_BUFSIZE);
    int r;

    if (!rx)
        return -ENOMEM;
    r = nl_open(&nl, &portid);
    if (r < 0)
        goto out;
    nlh = mnl_nlmsg_put_header(rx);
    nlh->nlmsg_type = GENL_ID_CTRL;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq;
    genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
    genl->cmd = CTRL_CMD_GETFAMILY;
    genl->version = 1;
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        r = -errno;
        goto out;
    }
    r = nl_recv_run(nl, rx, seq, portid, family_cb, &f);
    if (r == 0 && f.id == 0)
        r = -EBADMSG;
    if (r == 0)
        *id = f.id;
out:
    if (nl)
        mnl_socket_close(nl);
    free(rx);
    return r;
}

/* Open a socket and send the GET_DEVICE dump request for @ifname. */
static int dump_start(const struct kernel_backend *k, const char *ifname, void *buf, struct mnl_socket **nl,
                      uint32_t *portid, uint32_t *seq)
{
    struct nlmsghdr *nlh;
    struct genlmsghdr *genl;
    int r = nl_open(nl, portid);

    if (r < 0)
        return r;
    *seq = (uint32_t)time(NULL);
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = k->family;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = *seq;
    genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
    genl->cmd = WG_CMD_GET_DEVICE;
    genl->version = WG_GENL_VERSION;
    mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
    if (mnl_socket_sendto(*nl, nlh, nlh->nlmsg_len) < 0) {
        r = -errno;
        mnl_socket_close(*nl);
        *nl = NULL;
    }
    return r;
}

/* One complete dump on a fresh socket: after NLM_F_DUMP_INTR the rest of
 * the interrupted dump is still queued on the old one. */
static int get_once(const struct kernel_backend *k, const char *ifname, void *rx, struct wg_device **out)
{
    struct mnl_socket *nl = NULL;
    struct wg_nl_dump d;
    uint32_t portid, seq;
    int r;

    wg_nl_dump_init(&d, k->family);
    r = dump_start(k, ifname, rx, &nl, &portid, &seq);
    if (r == 0) {
        do {
            ssize_t n = nl_recv(nl, rx);

            r = n < 0 ? (int)n : wg_nl_dump_feed(&d, rx, (size_t)n, seq, portid);
        } while (r > 0);
        if (r == 0)
            r = wg_nl_dump_take(&d, out);
    }
    if (nl)
        mnl_socket_close(nl);
    wg_nl_dump_clear(&d);
    return r;
}

static int kernel_get(struct wg_backend *b, const char *ifname, struct wg_device **out)
{
    const struct kernel_backend *k = (const struct kernel_backend *)b;
    void *rx;
    int r;

    *out = NULL;
    if (!valid_ifname(ifname))
        return -EINVAL;
    rx = malloc(WG_NL_RX_BUFSIZE);
    if (!rx)
        return -ENOMEM;
    for (int tries = 0;; tries++) {
        r = get_once(k, ifname, rx, out);
        if (r != -EINTR || tries == WG_NL_GET_RETRIES)
            break;
    }
    explicit_bzero(rx, WG_NL_RX_BUFSIZE); /* it held the private key */
    free(rx);
    return r;
}

/* The first datagram of a dump answers the question; closing the socket
 * then abandons the rest, so a device with many peers costs one message. */
static int kernel_exists(struct wg_backend *b, const char *ifname)
{
    const struct kernel_backend *k = (const struct kernel_backend *)b;
    struct mnl_socket *nl = NULL;
    struct wg_nl_dump d;
    uint32_t portid, seq;
    void *rx;
    int r;

    if (!valid_ifname(ifname))
        return -ENODEV;
    rx = malloc(WG_NL_RX_BUFSIZE);
    if (!rx)
        return -ENOMEM;
    wg_nl_dump_init(&d, k->family);
    r = dump_start(k, ifname, rx, &nl, &portid, &seq);
    if (r == 0) {
        do {
            ssize_t n = nl_recv(nl, rx);

            r = n < 0 ? (int)n : wg_nl_dump_feed(&d, rx, (size_t)n, seq, portid);
        } while (r > 0 && !d.dev);
        if (r >= 0)
            r = d.dev ? 0 : -ENODEV;
        else if (r == -EINTR)
            r = 0; /* NLM_F_DUMP_INTR is only set on data of a device that exists */
        else if (r == -EOPNOTSUPP)
            r = -ENODEV; /* a link, but not a WireGuard one */
    }
    if (nl)
        mnl_socket_close(nl);
    wg_nl_dump_clear(&d);
    explicit_bzero(rx, WG_NL_RX_BUFSIZE);
    free(rx);
    return r;
}

struct ack_reply {
    int err; /* first: see ctl_cbs */
};

static int kernel_set(struct wg_backend *b, const struct wg_device *change)
{
    const struct kernel_backend *k = (const struct kernel_backend *)b;
    struct mnl_socket *nl = NULL;
    struct wg_nl_set s;
    /* One page (at most 8 KiB) per message, as wireguard-tools uses: far
     * below the kernel's limit of sk_sndbuf - 32 bytes. */
    size_t txlen = MNL_SOCKET_BUFFER_SIZE;
    uint8_t *tx = NULL, *rx = NULL;
    uint32_t portid, seq = (uint32_t)time(NULL);
    int r = wg_nl_set_init(&s, change);

    if (r < 0)
        return r;
    tx = malloc(txlen);
    rx = malloc(WG_NL_RX_BUFSIZE);
    if (!tx || !rx) {
        r = -ENOMEM;
        goto out;
    }
    r = nl_open(&nl, &portid);
    if (r < 0)
        goto out;
    /* Each message is acknowledged before the next is built: the kernel
     * applies them in order and stops at the first failing one. */
    for (;;) {
        struct ack_reply ack = { 0 };

        seq++;
        r = wg_nl_set_next(&s, tx, txlen, k->family, seq);
        if (r <= 0)
            break;
        if (mnl_socket_sendto(nl, tx, (size_t)r) < 0) {
            r = -errno;
            break;
        }
        r = nl_recv_run(nl, rx, seq, portid, NULL, &ack);
        if (r < 0)
            break;
    }
out:
    if (nl)
        mnl_socket_close(nl);
    if (tx)
        explicit_bzero(tx, txlen); /* keys */
    if (rx)
        explicit_bzero(rx, WG_NL_RX_BUFSIZE); /* an error echoes the request */
    free(tx);
    free(rx);
    return r;
}

static int kernel_link_add(struct wg_backend *b, const char *ifname)
{
    return valid_ifname(ifname) ? wg_rtnl_link_add(ifname, WG_GENL_NAME) : -EINVAL;
}

static int kernel_link_del(struct wg_backend *b, const char *ifname)
{
    return valid_ifname(ifname) ? wg_rtnl_link_del(ifname) : -EINVAL;
}

static void kernel_free(struct wg_backend *b)
{
    free(b);
}

static const struct wg_backend_ops kernel_ops = {
    .name = "kernel",
    .link_add = kernel_link_add,
    .link_del = kernel_link_del,
    .exists = kernel_exists,
    .get = kernel_get,
    .set = kernel_set,
    .free = kernel_free,
};

int wg_backend_kernel_new(struct wg_backend **out)
{
    struct kernel_backend *k;
    uint16_t family = 0;
    int r;

    *out = NULL;
    r = resolve_family(&family);
    if (r == -ENOENT)
        return -EPROTONOSUPPORT; /* no wireguard module: as wireguard-tools says it */
    if (r < 0)
        return r;
    k = calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->base.ops = &kernel_ops;
    k->family = family;
    *out = &k->base;
    return 0;
}
