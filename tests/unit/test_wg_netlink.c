/* WireGuard generic netlink, without a kernel: a GET reply written out byte
 * by byte, split dumps and their coalescing, NLMSG_DONE errors, the SET
 * splitter on 3001 peers (sizes, NLA_F_NESTED, which attributes go in
 * which fragment) with a round trip through the decoder, and malformed
 * input.
 *
 * `test_wg_netlink --write DIR` writes the recorded dumps used here as
 * DIR/<name>.bin (tests/fixtures/netlink/ and the fuzz seed corpus
 * tests/fuzz/corpus/wg_netlink/ were made with it). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/wireguard.h>
#include <libmnl/libmnl.h>
#include "netlink.h"
#include "tap.h"

#define FAM 0x1d /* a plausible dynamic genl family id */
#define BUFSZ 8192

/* ------------------------------------------------------------------ */
/* (a) a GET reply, byte by byte, as the kernel emits it               */
/* ------------------------------------------------------------------ */

#define LE16(v) (uint8_t)((v) & 0xff), (uint8_t)(((v) >> 8) & 0xff)
#define LE32(v) LE16((uint32_t)(v) & 0xffff), LE16(((uint32_t)(v) >> 16) & 0xffff)
#define LE64(v) LE32((uint64_t)(v) & 0xffffffffu), LE32((uint64_t)(v) >> 32)
#define BE16(v) (uint8_t)(((v) >> 8) & 0xff), (uint8_t)((v) & 0xff)
#define NLA(len, type) LE16(len), LE16(type)
#define NEST 0x8000
#define B8(b) b, b, b, b, b, b, b, b
#define KEY(b) B8(b), B8(b), B8(b), B8(b)
#define PAD4 NLA(4, 0) /* the kernel's type-0 pad before a u64 */

/* One message: header, genl header, device attributes, 2 peers. */
static const uint8_t get_reply[] __attribute__((aligned(4))) = {
    /* nlmsghdr: len 572, type FAM, flags MULTI, seq 1, pid 0 */
    LE32(572), LE16(FAM), LE16(NLM_F_MULTI), LE32(1), LE32(0),
    /* genlmsghdr: cmd GET_DEVICE, version 1 */
    WG_CMD_GET_DEVICE, 1, 0, 0,
    NLA(6, WGDEVICE_A_LISTEN_PORT), LE16(51820), 0, 0,
    NLA(8, WGDEVICE_A_FWMARK), LE32(0x1234),
    NLA(8, WGDEVICE_A_IFINDEX), LE32(7),
    NLA(8, WGDEVICE_A_IFNAME), 'w', 'g', '0', 0,
    NLA(36, WGDEVICE_A_PRIVATE_KEY), KEY(0x11),
    NLA(36, WGDEVICE_A_PUBLIC_KEY), KEY(0x22),
    NLA(448, NEST | WGDEVICE_A_PEERS),
      /* peer 1: 236 bytes */
      NLA(236, NEST | 0),
        NLA(36, WGPEER_A_PUBLIC_KEY), KEY(0xa1),
        NLA(36, WGPEER_A_PRESHARED_KEY), KEY(0x5a),
        NLA(20, WGPEER_A_LAST_HANDSHAKE_TIME), LE64(1700000000), LE64(123456789),
        NLA(6, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL), LE16(25), 0, 0,
        PAD4, NLA(12, WGPEER_A_TX_BYTES), LE64(0x0102030405060708ull),
        PAD4, NLA(12, WGPEER_A_RX_BYTES), LE64(987654321),
        NLA(8, WGPEER_A_PROTOCOL_VERSION), LE32(1),
        /* sockaddr_in: family, port (network order), 192.0.2.1, zero[8] */
        NLA(20, WGPEER_A_ENDPOINT), LE16(AF_INET), BE16(51820), 192, 0, 2, 1, B8(0),
        NLA(72, NEST | WGPEER_A_ALLOWEDIPS),
          NLA(28, NEST | 0),
            NLA(5, WGALLOWEDIP_A_CIDR_MASK), 24, 0, 0, 0,
            NLA(6, WGALLOWEDIP_A_FAMILY), LE16(AF_INET), 0, 0,
            NLA(8, WGALLOWEDIP_A_IPADDR), 10, 0, 0, 0,
          NLA(40, NEST | 0),
            NLA(5, WGALLOWEDIP_A_CIDR_MASK), 64, 0, 0, 0,
            NLA(6, WGALLOWEDIP_A_FAMILY), LE16(AF_INET6), 0, 0,
            NLA(20, WGALLOWEDIP_A_IPADDR), 0xfd, 0, 0, 1, 0, 0, 0, 0, B8(0),
      /* peer 2: 208 bytes */
      NLA(208, NEST | 0),
        NLA(36, WGPEER_A_PUBLIC_KEY), KEY(0xb2),
        NLA(36, WGPEER_A_PRESHARED_KEY), KEY(0),
        NLA(20, WGPEER_A_LAST_HANDSHAKE_TIME), LE64(0), LE64(0),
        NLA(6, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL), LE16(0), 0, 0,
        PAD4, NLA(12, WGPEER_A_TX_BYTES), LE64(0),
        PAD4, NLA(12, WGPEER_A_RX_BYTES), LE64(0),
        NLA(8, WGPEER_A_PROTOCOL_VERSION), LE32(1),
        /* sockaddr_in6: family, port, flowinfo, 2001:db8::1, scope id */
        NLA(32, WGPEER_A_ENDPOINT), LE16(AF_INET6), BE16(51821), LE32(0),
          0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, LE32(0),
        NLA(32, NEST | WGPEER_A_ALLOWEDIPS),
          NLA(28, NEST | 0),
            NLA(8, WGALLOWEDIP_A_IPADDR), 192, 168, 7, 7,
            NLA(6, WGALLOWEDIP_A_FAMILY), LE16(AF_INET), 0, 0,
            NLA(5, WGALLOWEDIP_A_CIDR_MASK), 32, 0, 0, 0,
};

/* NLMSG_DONE carrying its int: 0, or a mid-dump error. */
#define DONE_MSG(err) LE32(20), LE16(NLMSG_DONE), LE16(NLM_F_MULTI), LE32(1), LE32(0), LE32(err)
static const uint8_t done_ok[] __attribute__((aligned(4))) = { DONE_MSG(0) };
static const uint8_t done_enodev[] __attribute__((aligned(4))) = { DONE_MSG(-ENODEV) };
/* NLMSG_ERROR -ENODEV (the reply for an unknown interface): error, then
 * the request's header echoed. */
static const uint8_t error_enodev[] __attribute__((aligned(4))) = {
    LE32(36), LE16(NLMSG_ERROR), LE16(0), LE32(1), LE32(0), LE32(-ENODEV),
    LE32(32), LE16(FAM), LE16(NLM_F_REQUEST | NLM_F_DUMP), LE32(1), LE32(0),
};

/* ------------------------------------------------------------------ */
/* helpers                                                              */
/* ------------------------------------------------------------------ */

/* A 4-byte aligned buffer for building messages. */
struct msg {
    uint32_t w[BUFSZ / 4];
};

static struct nlmsghdr *msg_begin(struct msg *m, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh;
    struct genlmsghdr *g;

    memset(m, 0, sizeof(*m));
    nlh = mnl_nlmsg_put_header(m);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = 1;
    g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->cmd = WG_CMD_GET_DEVICE;
    g->version = 1;
    return nlh;
}

static void msg_done(struct msg *m, int32_t err, uint16_t flags)
{
    struct nlmsghdr *nlh;

    memset(m, 0, sizeof(*m));
    nlh = mnl_nlmsg_put_header(m);
    nlh->nlmsg_type = NLMSG_DONE;
    nlh->nlmsg_flags = flags;
    nlh->nlmsg_seq = 1;
    memcpy(mnl_nlmsg_put_extra_header(nlh, sizeof(err)), &err, sizeof(err));
}

static struct nlmsghdr *hdr(struct msg *m)
{
    return (struct nlmsghdr *)(void *)m;
}

static size_t msg_len(const void *m)
{
    return ((const struct nlmsghdr *)m)->nlmsg_len;
}

static void key_fill(uint8_t key[WG_KEY_LEN], unsigned v)
{
    for (unsigned i = 0; i < WG_KEY_LEN; i++)
        key[i] = (uint8_t)(v >> (8 * (i % 4)) ^ (i * 7));
}

static void put_aip(struct nlmsghdr *nlh, const char *cidr)
{
    struct wg_allowedip a;
    struct nlattr *n;

    if (wg_allowedip_parse(cidr, &a) != 0)
        abort();
    n = mnl_attr_nest_start(nlh, 0);
    mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, a.family);
    if (a.family == AF_INET)
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 4, &a.ip4);
    else
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 16, &a.ip6);
    mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, a.cidr);
    mnl_attr_nest_end(nlh, n);
}

/* A peer with @key_v, optional extras, and the allowed IPs in @ips
 * (NULL-terminated). */
static void put_peer(struct nlmsghdr *nlh, unsigned key_v, int full, const char *const *ips)
{
    uint8_t key[WG_KEY_LEN];
    struct nlattr *peer = mnl_attr_nest_start(nlh, 0), *list;

    key_fill(key, key_v);
    mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, key);
    if (full) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4000 + key_v) };

        sin.sin_addr.s_addr = htonl(0xc6336400u + key_v); /* 198.51.100.x */
        memset(key, 0x77, sizeof(key));
        mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, key);
        mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 15);
        mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
        mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 100 + key_v);
    }
    if (ips && *ips) {
        list = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
        for (; *ips; ips++)
            put_aip(nlh, *ips);
        mnl_attr_nest_end(nlh, list);
    }
    mnl_attr_nest_end(nlh, peer);
}

static void put_device(struct nlmsghdr *nlh, const char *name, uint16_t port)
{
    mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, port);
    mnl_attr_put_u32(nlh, WGDEVICE_A_IFINDEX, 9);
    mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, name);
}

/* Concatenate messages into one datagram in @out; returns its length. */
static size_t cat(struct msg *out, const void *const *msgs, size_t n)
{
    uint8_t *p = (uint8_t *)out;
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        memcpy(p + o, msgs[i], msg_len(msgs[i]));
        o += MNL_ALIGN(msg_len(msgs[i]));
    }
    return o;
}

static const char *fmt_ip(const struct wg_allowedip *a, char *buf)
{
    return wg_allowedip_format(a, buf, INET6_ADDRSTRLEN + 8);
}

static bool key_is(const uint8_t *key, unsigned v)
{
    uint8_t want[WG_KEY_LEN];

    key_fill(want, v);
    return memcmp(key, want, WG_KEY_LEN) == 0;
}

static bool key_all(const uint8_t *key, uint8_t b)
{
    for (int i = 0; i < WG_KEY_LEN; i++)
        if (key[i] != b)
            return false;
    return true;
}

/* Decode a single datagram followed by a separate DONE datagram. */
static int decode1(const void *buf, size_t len, struct wg_device **out)
{
    const void *bufs[2] = { buf, done_ok };
    size_t lens[2] = { len, sizeof(done_ok) };

    return wg_nl_decode(bufs, lens, 2, FAM, out);
}

/* ------------------------------------------------------------------ */

static void check_get_reply(const struct wg_device *d, const char *what)
{
    char ip[INET6_ADDRSTRLEN + 8], ep[INET6_ADDRSTRLEN];
    const struct wg_peer *p;

    ok(d != NULL, "%s: decoded", what);
    if (!d)
        return;
    is_str(d->name, "wg0", "ifname");
    is_int(d->ifindex, 7, "ifindex");
    is_int(d->listen_port, 51820, "listen port (host order)");
    is_int(d->fwmark, 0x1234, "fwmark");
    is_int(d->flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_PUBLIC_KEY | WG_DEVICE_HAS_LISTEN_PORT |
                         WG_DEVICE_HAS_FWMARK, "device flags");
    ok(key_all(d->private_key, 0x11) && key_all(d->public_key, 0x22), "device keys");
    is_int(d->n_peers, 2, "two peers");
    if (d->n_peers != 2)
        return;
    p = &d->peers[0];
    ok(key_all(p->public_key, 0xa1), "peer 1 public key");
    ok(key_all(p->preshared_key, 0x5a) && (p->flags & WG_PEER_HAS_PRESHARED_KEY), "peer 1 preshared key");
    is_int(p->last_handshake.tv_sec, 1700000000, "peer 1 handshake sec");
    is_int(p->last_handshake.tv_nsec, 123456789, "peer 1 handshake nsec");
    is_int(p->keepalive, 25, "peer 1 keepalive");
    ok(p->flags & WG_PEER_HAS_KEEPALIVE, "peer 1 keepalive flagged");
    ok(p->tx_bytes == 0x0102030405060708ull, "peer 1 tx bytes after a pad attribute");
    ok(p->rx_bytes == 987654321ull, "peer 1 rx bytes after a pad attribute");
    ok((p->flags & WG_PEER_HAS_ENDPOINT) && p->endpoint.family == AF_INET, "peer 1 endpoint is IPv4");
    is_str(inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, ep, sizeof(ep)), "192.0.2.1", "peer 1 endpoint address");
    is_int(ntohs(p->endpoint.in4.sin_port), 51820, "peer 1 endpoint port");
    is_int(p->n_allowedips, 2, "peer 1 allowed IPs");
    if (p->n_allowedips == 2) {
        is_str(fmt_ip(&p->allowedips[0], ip), "10.0.0.0/24", "peer 1 allowed IP 1");
        is_str(fmt_ip(&p->allowedips[1], ip), "fd00:1::/64", "peer 1 allowed IP 2");
    }
    p = &d->peers[1];
    ok(key_all(p->public_key, 0xb2), "peer 2 public key");
    ok((p->flags & WG_PEER_HAS_PRESHARED_KEY) && wg_key_is_zero(p->preshared_key), "peer 2 has no preshared key");
    ok(p->last_handshake.tv_sec == 0 && p->last_handshake.tv_nsec == 0, "peer 2 never shook hands");
    ok(p->endpoint.family == AF_INET6, "peer 2 endpoint is IPv6");
    is_str(inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, ep, sizeof(ep)), "2001:db8::1", "peer 2 endpoint address");
    is_int(ntohs(p->endpoint.in6.sin6_port), 51821, "peer 2 endpoint port");
    is_int(p->n_allowedips, 1, "peer 2 allowed IPs");
    if (p->n_allowedips == 1)
        is_str(fmt_ip(&p->allowedips[0], ip), "192.168.7.7/32", "peer 2 allowed IP (attributes in another order)");
}

static void test_get_reply(void)
{
    struct wg_device *d = NULL;
    struct msg one;
    const void *parts[2] = { get_reply, done_ok };
    size_t len;
    int r;

    is_int(msg_len(get_reply), sizeof(get_reply), "(a) hand-built message length is consistent");
    r = decode1(get_reply, sizeof(get_reply), &d);
    is_int(r, 0, "(a) GET reply + separate DONE decodes");
    check_get_reply(d, "(a) separate datagrams");
    d = wg_device_free(d);

    /* The kernel may put DONE in the same datagram as the last data. */
    len = cat(&one, parts, 2);
    {
        const void *bufs[1] = { &one };
        size_t lens[1] = { len };

        r = wg_nl_decode(bufs, lens, 1, FAM, &d);
    }
    is_int(r, 0, "(a) GET reply and DONE in one datagram");
    ok(d && d->n_peers == 2 && d->peers[1].n_allowedips == 1, "(a) same result in one datagram");
    d = wg_device_free(d);

    /* Family 0 accepts any data type; a wrong one is refused. */
    {
        const void *bufs[2] = { get_reply, done_ok };
        size_t lens[2] = { sizeof(get_reply), sizeof(done_ok) };

        is_int(wg_nl_decode(bufs, lens, 2, 0, &d), 0, "(a) family 0 accepts the message");
        d = wg_device_free(d);
        is_int(wg_nl_decode(bufs, lens, 2, FAM + 1, &d), -EPROTO, "(a) another family's message: -EPROTO");
        ok(d == NULL, "(a) nothing returned on error");
    }
}

/* (b) a dump split over 3 messages. */
static const char *const IPS_A[] = { "10.1.0.1/32", "10.1.0.2/32", NULL };
static const char *const IPS_B1[] = { "10.2.0.1/32", NULL };
static const char *const IPS_B2[] = { "10.2.0.2/32", "fd02::2/128", NULL };
static const char *const IPS_B3[] = { "10.2.0.3/32", NULL };
static const char *const IPS_C[] = { "10.3.0.1/32", NULL };

static void build_split(struct msg m[4], bool repeat_device)
{
    struct nlmsghdr *nlh;
    struct nlattr *peers;

    nlh = msg_begin(&m[0], FAM, NLM_F_MULTI);
    put_device(nlh, "wg1", 1000);
    peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
    put_peer(nlh, 0xA, 1, IPS_A);
    put_peer(nlh, 0xB, 1, IPS_B1);
    mnl_attr_nest_end(nlh, peers);

    /* Continuation: only PUBLIC_KEY + the remaining ALLOWEDIPS. */
    nlh = msg_begin(&m[1], FAM, NLM_F_MULTI);
    if (repeat_device)
        put_device(nlh, "wg1", 2000); /* the "first peer was cut" edge case */
    peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
    put_peer(nlh, 0xB, 0, IPS_B2);
    mnl_attr_nest_end(nlh, peers);

    nlh = msg_begin(&m[2], FAM, NLM_F_MULTI);
    peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
    put_peer(nlh, 0xB, 0, IPS_B3);
    put_peer(nlh, 0xC, 0, IPS_C);
    mnl_attr_nest_end(nlh, peers);

    msg_done(&m[3], 0, NLM_F_MULTI);
}

static void check_split(const struct wg_device *d, const char *what, uint16_t port)
{
    char ip[INET6_ADDRSTRLEN + 8];
    const struct wg_peer *b;

    ok(d && d->n_peers == 3, "%s: 3 peers after coalescing", what);
    if (!d || d->n_peers != 3)
        return;
    ok(key_is(d->peers[0].public_key, 0xA) && key_is(d->peers[1].public_key, 0xB) &&
           key_is(d->peers[2].public_key, 0xC), "%s: peers in arrival order", what);
    b = &d->peers[1];
    is_int(b->n_allowedips, 4, "split peer has all 4 allowed IPs");
    if (b->n_allowedips == 4) {
        ok(strcmp(fmt_ip(&b->allowedips[0], ip), "10.2.0.1/32") == 0 &&
               strcmp(fmt_ip(&b->allowedips[1], ip), "10.2.0.2/32") == 0 &&
               strcmp(fmt_ip(&b->allowedips[2], ip), "fd02::2/128") == 0 &&
               strcmp(fmt_ip(&b->allowedips[3], ip), "10.2.0.3/32") == 0,
           "%s: allowed IPs in order", what);
    }
    ok(b->keepalive == 15 && (b->flags & WG_PEER_HAS_ENDPOINT) && b->rx_bytes == 100 + 0xB,
       "%s: first fragment's fields kept", what);
    is_int(d->peers[0].n_allowedips, 2, "peer A allowed IPs");
    is_int(d->peers[2].n_allowedips, 1, "peer C allowed IPs");
    is_int(d->listen_port, port, "listen port");
    is_str(d->name, "wg1", "ifname");
}

static void test_split(void)
{
    struct msg m[4], joined[2];
    struct wg_device *d = NULL;
    const void *bufs[4];
    size_t lens[4];
    int r;

    build_split(m, false);
    for (int i = 0; i < 4; i++) {
        bufs[i] = &m[i];
        lens[i] = msg_len(&m[i]);
    }
    r = wg_nl_decode(bufs, lens, 4, FAM, &d);
    is_int(r, 0, "(b) split dump in 4 datagrams decodes");
    check_split(d, "(b) 4 datagrams", 1000);
    d = wg_device_free(d);

    /* Same messages, grouped 2 + 2 into datagrams. */
    {
        const void *g1[2] = { &m[0], &m[1] }, *g2[2] = { &m[2], &m[3] };

        lens[0] = cat(&joined[0], g1, 2);
        lens[1] = cat(&joined[1], g2, 2);
        bufs[0] = &joined[0];
        bufs[1] = &joined[1];
    }
    r = wg_nl_decode(bufs, lens, 2, FAM, &d);
    is_int(r, 0, "(b) split dump in 2 datagrams decodes");
    check_split(d, "(b) 2 datagrams", 1000);
    d = wg_device_free(d);

    /* Device attributes seen again overwrite. */
    build_split(m, true);
    for (int i = 0; i < 4; i++) {
        bufs[i] = &m[i];
        lens[i] = msg_len(&m[i]);
    }
    r = wg_nl_decode(bufs, lens, 4, FAM, &d);
    is_int(r, 0, "(b) continuation repeating the device attributes decodes");
    check_split(d, "(b) repeated device", 2000);
    d = wg_device_free(d);

    /* Only consecutive duplicates merge (as coalesce_peers): A B A stays 3. */
    {
        struct nlmsghdr *nlh = msg_begin(&m[0], FAM, NLM_F_MULTI);
        struct nlattr *peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);

        put_peer(nlh, 0xA, 0, IPS_A);
        put_peer(nlh, 0xB, 0, IPS_B1);
        put_peer(nlh, 0xA, 0, IPS_C);
        mnl_attr_nest_end(nlh, peers);
        r = decode1(&m[0], msg_len(&m[0]), &d);
        ok(r == 0 && d && d->n_peers == 3, "(b) non-consecutive duplicate keys are not merged");
        d = wg_device_free(d);
    }
}

/* (c) how a dump ends. */
static void test_done(void)
{
    struct wg_device *d = NULL;
    struct wg_nl_dump st;
    struct msg m[4];
    const void *bufs[4];
    size_t lens[4];
    int r;

    bufs[0] = get_reply;
    lens[0] = sizeof(get_reply);
    bufs[1] = done_enodev;
    lens[1] = sizeof(done_enodev);
    r = wg_nl_decode(bufs, lens, 2, FAM, &d);
    is_int(r, -ENODEV, "(c) DONE carrying -ENODEV fails the dump");
    ok(d == NULL, "(c) no device from a failed dump");

    msg_done(&m[0], ENODEV, NLM_F_MULTI);
    bufs[1] = &m[0];
    lens[1] = msg_len(&m[0]);
    is_int(wg_nl_decode(bufs, lens, 2, FAM, &d), -ENODEV, "(c) DONE carrying +ENODEV: same error");

    msg_done(&m[0], INT32_MIN, NLM_F_MULTI);
    is_int(wg_nl_decode(bufs, lens, 2, FAM, &d), -EPROTO, "(c) DONE carrying INT_MIN: -EPROTO, no overflow");

    /* DONE without the int (older senders) just ends the dump. */
    {
        static const uint8_t bare[] __attribute__((aligned(4))) = {
            LE32(16), LE16(NLMSG_DONE), LE16(NLM_F_MULTI), LE32(1), LE32(0)
        };
        bufs[1] = bare;
        lens[1] = sizeof(bare);
        r = wg_nl_decode(bufs, lens, 2, FAM, &d);
        ok(r == 0 && d && d->n_peers == 2, "(c) DONE without payload ends the dump");
        d = wg_device_free(d);
    }

    bufs[0] = error_enodev;
    lens[0] = sizeof(error_enodev);
    is_int(wg_nl_decode(bufs, lens, 1, FAM, &d), -ENODEV, "(c) NLMSG_ERROR -ENODEV before any data");

    bufs[0] = done_ok;
    lens[0] = sizeof(done_ok);
    is_int(wg_nl_decode(bufs, lens, 1, FAM, &d), -ENODATA, "(c) DONE alone: -ENODATA");

    bufs[0] = get_reply;
    lens[0] = sizeof(get_reply);
    is_int(wg_nl_decode(bufs, lens, 1, FAM, &d), -EBADMSG, "(c) no DONE at the end: -EBADMSG");

    /* NLM_F_DUMP_INTR: the peer list changed during the dump. */
    build_split(m, false);
    hdr(&m[1])->nlmsg_flags |= NLM_F_DUMP_INTR;
    for (int i = 0; i < 4; i++) {
        bufs[i] = &m[i];
        lens[i] = msg_len(&m[i]);
    }
    is_int(wg_nl_decode(bufs, lens, 4, FAM, &d), -EINTR, "(c) NLM_F_DUMP_INTR: -EINTR (the caller restarts)");

    /* The streaming interface: sequence and port checks, sticky errors. */
    build_split(m, false);
    wg_nl_dump_init(&st, FAM);
    is_int(wg_nl_dump_feed(&st, &m[0], msg_len(&m[0]), 1, 0), 1, "(c) feed: more expected");
    is_int(wg_nl_dump_take(&st, &d), -EAGAIN, "(c) take before DONE: -EAGAIN");
    is_int(wg_nl_dump_feed(&st, &m[1], msg_len(&m[1]), 2, 0), -EPROTO, "(c) wrong sequence: -EPROTO");
    is_int(wg_nl_dump_feed(&st, &m[2], msg_len(&m[2]), 1, 0), -EPROTO, "(c) the error sticks");
    wg_nl_dump_clear(&st);
    hdr(&m[0])->nlmsg_pid = 4242;
    is_int(wg_nl_dump_feed(&st, &m[0], msg_len(&m[0]), 1, 77), -ESRCH, "(c) wrong port: -ESRCH");
    wg_nl_dump_clear(&st);
    is_int(wg_nl_dump_feed(&st, &m[0], msg_len(&m[0]), 1, 4242), 1, "(c) right port accepted");
    is_int(wg_nl_dump_feed(&st, &m[3], msg_len(&m[3]), 1, 4242), 0, "(c) DONE completes");
    is_int(wg_nl_dump_feed(&st, &m[3], msg_len(&m[3]), 1, 4242), 0, "(c) feeding after DONE is a no-op");
    is_int(wg_nl_dump_take(&st, &d), 0, "(c) take");
    ok(d && d->n_peers == 2, "(c) the device so far (peer B's first fragment)");
    d = wg_device_free(d);
    is_int(wg_nl_dump_take(&st, &d), -ENODATA, "(c) take twice: -ENODATA");
    wg_nl_dump_clear(&st);
    wg_nl_dump_clear(NULL);
}

/* ------------------------------------------------------------------ */
/* (d) SET splitting                                                    */
/* ------------------------------------------------------------------ */

#define N_SMALL 3000
#define BIG_AT 1500    /* the 500-IP peer's index */
#define BIG_IPS 500

static void make_ip(struct wg_allowedip *a, unsigned i, unsigned j)
{
    memset(a, 0, sizeof(*a));
    if ((i + j) % 2 == 0) {
        a->family = AF_INET;
        a->ip4.s_addr = htonl(0x0a000000u | (i << 8) | j);
        a->cidr = (uint8_t)(24 + j % 9);
    } else {
        a->family = AF_INET6;
        a->ip6.s6_addr[0] = 0xfd;
        a->ip6.s6_addr[1] = 0x77;
        a->ip6.s6_addr[12] = (uint8_t)(i >> 8);
        a->ip6.s6_addr[13] = (uint8_t)i;
        a->ip6.s6_addr[14] = (uint8_t)(j >> 8);
        a->ip6.s6_addr[15] = (uint8_t)j;
        a->cidr = (uint8_t)(64 + j % 65);
    }
}

static struct wg_device *make_change(void)
{
    struct wg_device *d = wg_device_new("wg-big");

    d->flags = WG_DEVICE_REPLACE_PEERS | WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_FWMARK;
    memset(d->private_key, 0x42, WG_KEY_LEN);
    d->listen_port = 51820;
    d->fwmark = 0x51820;
    for (unsigned i = 0; i <= N_SMALL; i++) {
        struct wg_peer *p;
        unsigned n_ips = i == BIG_AT ? BIG_IPS : 2;
        uint8_t key[WG_KEY_LEN];

        key_fill(key, i + 1);
        p = wg_device_add_peer(d, key);
        for (unsigned j = 0; j < n_ips; j++) {
            struct wg_allowedip a;

            make_ip(&a, i, j);
            wg_peer_add_allowedip(p, &a);
        }
        if (i == BIG_AT) {
            p->flags = WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_KEEPALIVE |
                       WG_PEER_HAS_ENDPOINT;
            memset(p->preshared_key, 0x99, WG_KEY_LEN);
            p->keepalive = 25;
            p->endpoint.in6.sin6_family = AF_INET6;
            p->endpoint.in6.sin6_port = htons(51821);
            inet_pton(AF_INET6, "2001:db8::77", &p->endpoint.in6.sin6_addr);
        } else if (i % 3 == 0) {
            p->flags = WG_PEER_HAS_ENDPOINT | WG_PEER_REPLACE_ALLOWEDIPS;
            p->endpoint.in4.sin_family = AF_INET;
            p->endpoint.in4.sin_port = htons((uint16_t)(1000 + i));
            p->endpoint.in4.sin_addr.s_addr = htonl(0xcb007100u + (i & 0xff));
        }
    }
    return d;
}

struct encoded {
    struct msg **m;
    size_t n;
};

static void encoded_free(struct encoded *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->m[i]);
    free(e->m);
    e->m = NULL;
    e->n = 0;
}

/* Encode all of @change at @buflen; 0 or the encoder's error. */
static int encode_all(const struct wg_device *change, size_t buflen, struct encoded *e, int *bad_len)
{
    struct wg_nl_set s;
    int r = wg_nl_set_init(&s, change);

    e->m = NULL;
    e->n = 0;
    *bad_len = 0;
    while (r == 0) {
        struct msg *m = malloc(sizeof(*m));

        r = wg_nl_set_next(&s, m, buflen, FAM, 7);
        if (r <= 0) {
            free(m);
            break;
        }
        if ((size_t)r > buflen || (size_t)r != msg_len(m))
            (*bad_len)++;
        e->m = realloc(e->m, (e->n + 1) * sizeof(*e->m));
        e->m[e->n++] = m;
        r = 0;
    }
    return r;
}

/* What the structural walk over the encoded messages found. */
struct set_walk {
    int not_nested;        /* nests without NLA_F_NESTED */
    int no_ifname;         /* messages without IFNAME */
    int device_attrs_late; /* PRIVATE_KEY/LISTEN_PORT/FWMARK/FLAGS after message 1 */
    int replace_in_1;      /* REPLACE_PEERS seen in message 1 */
    int big_first;         /* fragments of the big peer carrying its first-fragment fields */
    int big_cont;          /* its continuation fragments */
    int big_cont_bad;      /* continuations with anything but PUBLIC_KEY + ALLOWEDIPS */
    int cont_bad;          /* same, for every other peer */
    int fragments;         /* peer fragments in total */
    uint32_t cont_flags_or; /* WGPEER_A_FLAGS seen in continuations */
    uint32_t first_flags_or;
};

static bool nested(const struct nlattr *a)
{
    return (a->nla_type & NLA_F_NESTED) != 0;
}

static void walk_set(const struct encoded *e, const uint8_t big_key[WG_KEY_LEN], struct set_walk *w)
{
    uint8_t prev[WG_KEY_LEN] = { 0 };
    bool have_prev = false;

    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < e->n; i++) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)e->m[i];
        const struct nlattr *a;
        bool ifname = false;

        mnl_attr_for_each(a, nlh, GENL_HDRLEN) {
            uint16_t t = mnl_attr_get_type(a);
            const struct nlattr *peer;

            if (t == WGDEVICE_A_IFNAME)
                ifname = true;
            if (t == WGDEVICE_A_PRIVATE_KEY || t == WGDEVICE_A_LISTEN_PORT || t == WGDEVICE_A_FWMARK ||
                t == WGDEVICE_A_FLAGS) {
                if (i > 0)
                    w->device_attrs_late++;
                else if (t == WGDEVICE_A_FLAGS && mnl_attr_get_u32(a) == WGDEVICE_F_REPLACE_PEERS)
                    w->replace_in_1++;
            }
            if (t != WGDEVICE_A_PEERS)
                continue;
            if (!nested(a))
                w->not_nested++;
            mnl_attr_for_each_nested(peer, a) {
                const struct nlattr *pa;
                const uint8_t *key = NULL;
                unsigned types = 0;
                uint32_t flags = 0;
                bool cont, big;

                w->fragments++;
                if (!nested(peer))
                    w->not_nested++;
                mnl_attr_for_each_nested(pa, peer) {
                    uint16_t pt = mnl_attr_get_type(pa);
                    const struct nlattr *ip;

                    types |= 1u << pt;
                    if (pt == WGPEER_A_PUBLIC_KEY)
                        key = mnl_attr_get_payload(pa);
                    if (pt == WGPEER_A_FLAGS)
                        flags = mnl_attr_get_u32(pa);
                    if (pt != WGPEER_A_ALLOWEDIPS)
                        continue;
                    if (!nested(pa))
                        w->not_nested++;
                    mnl_attr_for_each_nested(ip, pa)
                        if (!nested(ip))
                            w->not_nested++;
                }
                if (!key)
                    continue;
                cont = have_prev && memcmp(prev, key, WG_KEY_LEN) == 0;
                big = memcmp(key, big_key, WG_KEY_LEN) == 0;
                memcpy(prev, key, WG_KEY_LEN);
                have_prev = true;
                if (cont) {
                    bool only = (types & ~((1u << WGPEER_A_PUBLIC_KEY) | (1u << WGPEER_A_ALLOWEDIPS))) == 0;

                    w->cont_flags_or |= flags;
                    if (big) {
                        w->big_cont++;
                        w->big_cont_bad += !only;
                    } else {
                        w->cont_bad += !only;
                    }
                } else {
                    w->first_flags_or |= flags;
                    if (big && (types & (1u << WGPEER_A_PRESHARED_KEY)) && (types & (1u << WGPEER_A_ENDPOINT)) &&
                        (types & (1u << WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL)) &&
                        flags == WGPEER_F_REPLACE_ALLOWEDIPS)
                        w->big_first++;
                }
            }
        }
        if (!ifname)
            w->no_ifname++;
    }
}

static bool same_ip(const struct wg_allowedip *a, const struct wg_allowedip *b)
{
    if (a->family != b->family || a->cidr != b->cidr)
        return false;
    return a->family == AF_INET ? a->ip4.s_addr == b->ip4.s_addr
                                : memcmp(&a->ip6, &b->ip6, sizeof(a->ip6)) == 0;
}

/* Peers, allowed IPs and SET fields of @got equal those of @want. */
static int compare_peers(const struct wg_device *want, const struct wg_device *got)
{
    const uint32_t mask = WG_PEER_REMOVE_ME | WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_UPDATE_ONLY |
                          WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_KEEPALIVE | WG_PEER_HAS_ENDPOINT;
    int diffs = 0;

    if (want->n_peers != got->n_peers)
        return -1;
    for (size_t i = 0; i < want->n_peers; i++) {
        const struct wg_peer *a = &want->peers[i], *b = &got->peers[i];

        if (memcmp(a->public_key, b->public_key, WG_KEY_LEN) || (a->flags & mask) != (b->flags & mask) ||
            a->n_allowedips != b->n_allowedips) {
            diffs++;
            continue;
        }
        for (size_t j = 0; j < a->n_allowedips; j++)
            diffs += !same_ip(&a->allowedips[j], &b->allowedips[j]);
        if ((a->flags & WG_PEER_HAS_PRESHARED_KEY) && memcmp(a->preshared_key, b->preshared_key, WG_KEY_LEN))
            diffs++;
        if ((a->flags & WG_PEER_HAS_KEEPALIVE) && a->keepalive != b->keepalive)
            diffs++;
        if ((a->flags & WG_PEER_HAS_ENDPOINT) &&
            memcmp(&a->endpoint, &b->endpoint,
                   a->endpoint.family == AF_INET ? sizeof(a->endpoint.in4) : sizeof(a->endpoint.in6)))
            diffs++;
    }
    return diffs;
}

/* Decode the encoded SET messages as if they were a dump. */
static int decode_encoded(const struct encoded *e, struct wg_device **out)
{
    const void **bufs = calloc(e->n + 1, sizeof(*bufs));
    size_t *lens = calloc(e->n + 1, sizeof(*lens));
    struct msg done;
    int r;

    for (size_t i = 0; i < e->n; i++) {
        bufs[i] = e->m[i];
        lens[i] = msg_len(e->m[i]);
    }
    msg_done(&done, 0, NLM_F_MULTI);
    bufs[e->n] = &done;
    lens[e->n] = msg_len(&done);
    r = wg_nl_decode(bufs, lens, e->n + 1, FAM, out);
    free(bufs);
    free(lens);
    return r;
}

static void test_set_split(void)
{
    static const size_t sizes[] = { 4096, WG_NL_SET_MIN_BUFSIZE, 8192 };
    struct wg_device *change = make_change(), *back = NULL;
    uint8_t big_key[WG_KEY_LEN];
    struct set_walk w;
    struct encoded e;
    size_t total_ips = 0;
    int r, bad_len;

    key_fill(big_key, BIG_AT + 1);
    for (size_t i = 0; i < change->n_peers; i++)
        total_ips += change->peers[i].n_allowedips;

    r = encode_all(change, 4096, &e, &bad_len);
    is_int(r, 0, "(d) 3001 peers encode at 4096 bytes");
    ok(e.n > 50, "(d) split into %zu messages", e.n);
    is_int(bad_len, 0, "(d) every message <= 4096 bytes and its nlmsg_len is the returned length");
    walk_set(&e, big_key, &w);
    is_int(w.not_nested, 0, "(d) NLA_F_NESTED on every nest (PEERS, peers, ALLOWEDIPS, allowed IPs)");
    is_int(w.no_ifname, 0, "(d) IFNAME in every message");
    is_int(w.replace_in_1, 1, "(d) REPLACE_PEERS in message 1");
    is_int(w.device_attrs_late, 0, "(d) private key, listen port, fwmark, flags only in message 1");
    is_int(w.big_first, 1, "(d) the 500-IP peer's first fragment has PSK, endpoint, keepalive, REPLACE_ALLOWEDIPS");
    ok(w.big_cont >= 4, "(d) the 500-IP peer continues in %d more fragments", w.big_cont);
    is_int(w.big_cont_bad, 0, "(d) its continuations carry only PUBLIC_KEY + ALLOWEDIPS");
    is_int(w.cont_bad, 0, "(d) every other continuation too");
    is_int(w.cont_flags_or, 0, "(d) no REPLACE_ALLOWEDIPS (no flags at all) in a continuation");
    {
        const struct nlmsghdr *m0 = (const struct nlmsghdr *)e.m[0];
        const struct genlmsghdr *g = mnl_nlmsg_get_payload(m0);

        ok(m0->nlmsg_type == FAM && m0->nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK) && m0->nlmsg_seq == 7 &&
               g->cmd == WG_CMD_SET_DEVICE && g->version == WG_GENL_VERSION,
           "(d) header: family, REQUEST|ACK, seq, SET_DEVICE v1");
    }

    r = decode_encoded(&e, &back);
    is_int(r, 0, "(d) the messages decode as a dump");
    if (back) {
        size_t ips = 0;

        for (size_t i = 0; i < back->n_peers; i++)
            ips += back->peers[i].n_allowedips;
        is_int(back->n_peers, N_SMALL + 1, "(d) round trip: all peers");
        is_int(ips, total_ips, "(d) round trip: all allowed IPs");
        is_int(compare_peers(change, back), 0, "(d) round trip: keys, IPs, flags, PSK, endpoint, keepalive equal");
        ok(back->flags == change->flags && key_all(back->private_key, 0x42) && back->listen_port == 51820 &&
               back->fwmark == 0x51820 && strcmp(back->name, "wg-big") == 0,
           "(d) round trip: device fields");
    }
    back = wg_device_free(back);
    encoded_free(&e);

    for (size_t k = 1; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        r = encode_all(change, sizes[k], &e, &bad_len);
        ok(r == 0 && bad_len == 0, "(d) encodes at %zu bytes in %zu messages, each within the buffer", sizes[k], e.n);
        walk_set(&e, big_key, &w);
        ok(w.not_nested == 0 && w.device_attrs_late == 0 && w.big_first == 1 && w.big_cont_bad == 0 && w.cont_bad == 0,
           "(d) %zu bytes: same fragment rules", sizes[k]);
        r = decode_encoded(&e, &back);
        ok(r == 0 && back && compare_peers(change, back) == 0, "(d) %zu bytes: round trip", sizes[k]);
        back = wg_device_free(back);
        encoded_free(&e);
    }
    wg_device_free(change);
}

static void test_set_misc(void)
{
    struct wg_device *d = wg_device_new("wg0"), *back = NULL;
    struct wg_nl_set s;
    struct encoded e;
    struct set_walk w;
    struct msg m;
    struct wg_peer *p;
    struct wg_allowedip a;
    uint8_t key[WG_KEY_LEN];
    int r, bad_len;

    key_fill(key, 99);
    /* Nothing to change but the name: one message, IFNAME only. */
    r = encode_all(d, 4096, &e, &bad_len);
    ok(r == 0 && e.n == 1 && msg_len(e.m[0]) == MNL_NLMSG_HDRLEN + GENL_HDRLEN + MNL_ATTR_HDRLEN + 4,
       "empty change: one message with IFNAME only");
    encoded_free(&e);

    /* REPLACE_PEERS and no peers: clears them, in one message. */
    d->flags = WG_DEVICE_REPLACE_PEERS;
    r = encode_all(d, 4096, &e, &bad_len);
    walk_set(&e, key, &w);
    ok(r == 0 && e.n == 1 && w.replace_in_1 == 1, "REPLACE_PEERS without peers: one message");
    encoded_free(&e);

    /* By index when there is no name. */
    d->name[0] = '\0';
    d->ifindex = 12;
    r = encode_all(d, 4096, &e, &bad_len);
    ok(r == 0 && e.n == 1 && decode_encoded(&e, &back) == 0 && back && back->ifindex == 12,
       "no name: IFINDEX instead");
    back = wg_device_free(back);
    encoded_free(&e);
    d->ifindex = 0;
    is_int(wg_nl_set_init(&s, d), -EINVAL, "neither name nor ifindex: -EINVAL");
    is_int(wg_nl_set_next(&s, &m, sizeof(m), FAM, 1), -EINVAL, "next after a failed init: -EINVAL");
    strcpy(d->name, "wg0");

    /* REMOVE_ME and UPDATE_ONLY are repeated in every fragment. */
    p = wg_device_add_peer(d, key);
    p->flags = WG_PEER_REMOVE_ME | WG_PEER_UPDATE_ONLY | WG_PEER_REPLACE_ALLOWEDIPS;
    for (unsigned j = 0; j < 300; j++) {
        make_ip(&a, 3, j);
        wg_peer_add_allowedip(p, &a);
    }
    r = encode_all(d, 4096, &e, &bad_len);
    walk_set(&e, key, &w);
    ok(r == 0 && e.n >= 3 && w.big_cont == (int)e.n - 1, "300-IP peer: %zu fragments", e.n);
    is_int(w.first_flags_or, WGPEER_F_REMOVE_ME | WGPEER_F_UPDATE_ONLY | WGPEER_F_REPLACE_ALLOWEDIPS,
           "first fragment: REMOVE_ME | UPDATE_ONLY | REPLACE_ALLOWEDIPS");
    is_int(w.cont_flags_or, WGPEER_F_REMOVE_ME | WGPEER_F_UPDATE_ONLY,
           "continuations: REMOVE_ME | UPDATE_ONLY repeated, REPLACE_ALLOWEDIPS not");
    r = decode_encoded(&e, &back);
    ok(r == 0 && back && compare_peers(d, back) == 0, "300-IP peer round trip");
    back = wg_device_free(back);
    encoded_free(&e);

    /* Refused before anything is built. */
    is_int(wg_nl_set_init(&s, NULL), -EINVAL, "init(NULL): -EINVAL");
    p->allowedips[7].cidr = 129;
    is_int(wg_nl_set_init(&s, d), -EINVAL, "allowed IP cidr 129: -EINVAL");
    make_ip(&p->allowedips[7], 3, 7);
    p->allowedips[8].family = AF_UNIX;
    is_int(wg_nl_set_init(&s, d), -EINVAL, "allowed IP of family AF_UNIX: -EINVAL");
    p->allowedips[8].family = AF_INET;
    p->allowedips[8].cidr = 33;
    is_int(wg_nl_set_init(&s, d), -EINVAL, "IPv4 cidr 33: -EINVAL");
    make_ip(&p->allowedips[8], 3, 8);
    p->flags |= WG_PEER_HAS_ENDPOINT;
    is_int(wg_nl_set_init(&s, d), -EINVAL, "endpoint flagged but family unset: -EINVAL");
    p->flags &= ~(uint32_t)WG_PEER_HAS_ENDPOINT;
    is_int(wg_nl_set_init(&s, d), 0, "repaired change: init 0");
    is_int(wg_nl_set_next(&s, &m, WG_NL_SET_MIN_BUFSIZE - 1, FAM, 1), -EMSGSIZE, "buffer below the minimum: -EMSGSIZE");
    wg_device_free(d);
}

/* ------------------------------------------------------------------ */
/* (e) malformed input                                                  */
/* ------------------------------------------------------------------ */

enum bad {
    BAD_NONE, BAD_PUBKEY_31, BAD_NO_PUBKEY, BAD_PRIVKEY_33, BAD_PSK_16, BAD_IP4_LEN16, BAD_IP6_LEN4, BAD_IP_LEN5,
    BAD_NO_FAMILY, BAD_NO_CIDR, BAD_NO_ADDR, BAD_CIDR33, BAD_FAMILY_UNIX, BAD_EP6_SHORT, BAD_EP_TINY,
    BAD_EP_UNIX, BAD_IFNAME_NONUL, BAD_IFNAME_LONG, BAD_IFNAME_EMPTY, BAD_PORT_LEN4, BAD_NEST_LEFTOVER,
    BAD_HANDSHAKE_8, BAD_RX_4, BAD_KEEPALIVE_1, BAD_CIDR_LEN2, BAD_FWMARK_2, BAD_FLAGS_2, BAD_SHORT_GENL,
    N_BAD
};

static const char *const bad_name[N_BAD] = {
    "well-formed", "PUBLIC_KEY of 31 bytes", "peer without PUBLIC_KEY", "PRIVATE_KEY of 33 bytes",
    "PRESHARED_KEY of 16 bytes", "AF_INET with a 16-byte IPADDR", "AF_INET6 with a 4-byte IPADDR",
    "IPADDR of 5 bytes", "allowed IP without FAMILY", "allowed IP without CIDR_MASK", "allowed IP without IPADDR",
    "IPv4 cidr 33", "allowed IP of family AF_UNIX", "AF_INET6 endpoint of 16 bytes", "endpoint of 8 bytes",
    "endpoint of family AF_UNIX", "IFNAME without NUL", "IFNAME of 17 bytes", "empty IFNAME",
    "LISTEN_PORT of 4 bytes", "bytes left over in a peer nest", "LAST_HANDSHAKE_TIME of 8 bytes",
    "RX_BYTES of 4 bytes", "KEEPALIVE of 1 byte", "CIDR_MASK of 2 bytes", "FWMARK of 2 bytes",
    "peer FLAGS of 2 bytes", "no room for the genl header",
};

static void build_bad(struct msg *m, enum bad which)
{
    struct nlmsghdr *nlh = msg_begin(m, FAM, NLM_F_MULTI);
    struct nlattr *peers, *peer, *list, *ip;
    uint8_t key[40] = { 0 }, addr[16] = { 0 };
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
    uint16_t family = AF_INET;

    if (which == BAD_SHORT_GENL) {
        nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 2;
        return;
    }
    memset(key, 0x33, sizeof(key));
    if (which == BAD_IFNAME_NONUL)
        mnl_attr_put(nlh, WGDEVICE_A_IFNAME, 4, "wg0x");
    else if (which == BAD_IFNAME_LONG)
        mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg0123456789abcd");
    else if (which == BAD_IFNAME_EMPTY)
        mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "");
    else
        mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, "wg0");
    if (which == BAD_PORT_LEN4)
        mnl_attr_put_u32(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
    else
        mnl_attr_put_u16(nlh, WGDEVICE_A_LISTEN_PORT, 51820);
    if (which == BAD_FWMARK_2)
        mnl_attr_put_u16(nlh, WGDEVICE_A_FWMARK, 1);
    else
        mnl_attr_put_u32(nlh, WGDEVICE_A_FWMARK, 1);
    mnl_attr_put(nlh, WGDEVICE_A_PRIVATE_KEY, which == BAD_PRIVKEY_33 ? 33 : 32, key);

    peers = mnl_attr_nest_start(nlh, WGDEVICE_A_PEERS);
    peer = mnl_attr_nest_start(nlh, 0);
    if (which == BAD_PUBKEY_31)
        mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 31, key);
    else if (which != BAD_NO_PUBKEY)
        mnl_attr_put(nlh, WGPEER_A_PUBLIC_KEY, 32, key);
    mnl_attr_put(nlh, WGPEER_A_PRESHARED_KEY, which == BAD_PSK_16 ? 16 : 32, key);
    if (which == BAD_EP6_SHORT)
        mnl_attr_put(nlh, WGPEER_A_ENDPOINT, 16, &sin6);
    else if (which == BAD_EP_TINY)
        mnl_attr_put(nlh, WGPEER_A_ENDPOINT, 8, &sin6);
    else if (which == BAD_EP_UNIX) {
        sin6.sin6_family = AF_UNIX;
        mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin6), &sin6);
    } else
        mnl_attr_put(nlh, WGPEER_A_ENDPOINT, sizeof(sin6), &sin6);
    mnl_attr_put(nlh, WGPEER_A_LAST_HANDSHAKE_TIME, which == BAD_HANDSHAKE_8 ? 8 : 16, addr);
    if (which == BAD_RX_4)
        mnl_attr_put_u32(nlh, WGPEER_A_RX_BYTES, 1);
    else
        mnl_attr_put_u64(nlh, WGPEER_A_RX_BYTES, 1);
    if (which == BAD_KEEPALIVE_1)
        mnl_attr_put_u8(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 1);
    else
        mnl_attr_put_u16(nlh, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 1);
    if (which == BAD_FLAGS_2)
        mnl_attr_put_u16(nlh, WGPEER_A_FLAGS, 1);
    mnl_attr_put_u32(nlh, WGPEER_A_PROTOCOL_VERSION, 1);

    list = mnl_attr_nest_start(nlh, WGPEER_A_ALLOWEDIPS);
    ip = mnl_attr_nest_start(nlh, 0);
    if (which == BAD_IP6_LEN4)
        family = AF_INET6;
    if (which == BAD_FAMILY_UNIX)
        family = AF_UNIX;
    if (which != BAD_NO_FAMILY)
        mnl_attr_put_u16(nlh, WGALLOWEDIP_A_FAMILY, family);
    if (which == BAD_IP4_LEN16)
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 16, addr);
    else if (which == BAD_IP_LEN5)
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 5, addr);
    else if (which != BAD_NO_ADDR)
        mnl_attr_put(nlh, WGALLOWEDIP_A_IPADDR, 4, addr);
    if (which == BAD_CIDR_LEN2)
        mnl_attr_put_u16(nlh, WGALLOWEDIP_A_CIDR_MASK, 8);
    else if (which != BAD_NO_CIDR)
        mnl_attr_put_u8(nlh, WGALLOWEDIP_A_CIDR_MASK, which == BAD_CIDR33 ? 33 : 8);
    mnl_attr_nest_end(nlh, ip);
    mnl_attr_nest_end(nlh, list);
    if (which == BAD_NEST_LEFTOVER) {
        /* 4 bytes that claim to be an attribute of 3: not one. */
        uint8_t junk[4] = { 3, 0, 0, 0 };

        memcpy(mnl_nlmsg_get_payload_tail(nlh), junk, sizeof(junk));
        nlh->nlmsg_len += sizeof(junk);
    }
    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, peers);
}

static void test_malformed(void)
{
    struct wg_device *d = NULL;
    struct msg m;
    uint8_t *copy;
    int r, positive = 0, accepted = 0;

    for (int i = 0; i < N_BAD; i++) {
        build_bad(&m, (enum bad)i);
        r = decode1(&m, msg_len(&m), &d);
        if (i == BAD_NONE)
            ok(r == 0 && d && d->n_peers == 1 && d->peers[0].n_allowedips == 1, "(e) baseline: %s decodes",
               bad_name[i]);
        else
            ok(r == -EBADMSG && d == NULL, "(e) %s: -EBADMSG (got %d)", bad_name[i], r);
        d = wg_device_free(d);
    }

    /* Raw damage to the recorded reply. */
    copy = malloc(sizeof(get_reply) + 8);
    memcpy(copy, get_reply, sizeof(get_reply));
    /* IFNAME (at offset 44) claims more bytes than the message has left. */
    copy[44] = 0xc8;
    copy[45] = 0x02; /* nla_len 0x2c8 = 712 > what is left */
    is_int(decode1(copy, sizeof(get_reply), &d), -EBADMSG, "(e) attribute longer than its message: -EBADMSG");

    memcpy(copy, get_reply, sizeof(get_reply));
    is_int(decode1(copy, 100, &d), -EBADMSG, "(e) datagram shorter than nlmsg_len: -EBADMSG");
    copy[0] = 0xf0;
    copy[1] = copy[2] = copy[3] = 0xff;
    is_int(decode1(copy, sizeof(get_reply), &d), -EBADMSG,
           "(e) nlmsg_len 0xfffffff0 (libmnl compares it signed): -EBADMSG");
    memcpy(copy, get_reply, sizeof(get_reply));
    memset(copy + sizeof(get_reply), 0, 8);
    is_int(decode1(copy, sizeof(get_reply) + 8, &d), -EBADMSG, "(e) 8 trailing bytes after the message: -EBADMSG");
    copy[0] = 8;
    copy[1] = copy[2] = copy[3] = 0;
    is_int(decode1(copy, sizeof(get_reply), &d), -EBADMSG, "(e) nlmsg_len below the header size: -EBADMSG");

    /* Every cut of reply + DONE fails cleanly (valgrind checks the reads). */
    memcpy(copy, get_reply, sizeof(get_reply));
    for (size_t cut = 0; cut < sizeof(get_reply); cut++) {
        uint8_t *exact = malloc(cut ? cut : 1);
        memcpy(exact, copy, cut);
        r = decode1(exact, cut, &d);
        if (r == 0)
            accepted++;
        if (r > 0)
            positive++;
        d = wg_device_free(d);
        free(exact);
    }
    ok(accepted == 0 && positive == 0, "(e) all %zu truncations of the reply are refused", sizeof(get_reply));

    /* Every corruption of one nla_len / nlmsg_len byte: no crash, no leak. */
    for (size_t i = 0; i < sizeof(get_reply); i++) {
        for (int v = 0; v < 256; v += 51) {
            memcpy(copy, get_reply, sizeof(get_reply));
            copy[i] = (uint8_t)v;
            r = decode1(copy, sizeof(get_reply), &d);
            positive += r > 0;
            d = wg_device_free(d);
        }
    }
    is_int(positive, 0, "(e) single-byte corruptions: every result is 0 or a negative errno");
    free(copy);
}

/* The recorded dumps, also shipped as files (fixtures and fuzz seeds). */
struct recorded {
    const char *name;
    uint8_t *data;
    size_t len;
};

static size_t make_recorded(struct recorded *out)
{
    struct msg m[4], tmp;
    size_t n = 0, len;
    const void *parts[4];

    parts[0] = get_reply;
    parts[1] = done_ok;
    len = cat(&tmp, parts, 2);
    out[n].name = "get_reply";
    out[n].data = malloc(len);
    memcpy(out[n].data, &tmp, len);
    out[n++].len = len;

    build_split(m, false);
    for (int i = 0; i < 4; i++)
        parts[i] = &m[i];
    len = cat(&tmp, parts, 4);
    out[n].name = "split_dump";
    out[n].data = malloc(len);
    memcpy(out[n].data, &tmp, len);
    out[n++].len = len;

    parts[0] = get_reply;
    parts[1] = done_enodev;
    len = cat(&tmp, parts, 2);
    out[n].name = "done_enodev";
    out[n].data = malloc(len);
    memcpy(out[n].data, &tmp, len);
    out[n++].len = len;

    /* A small SET split at the minimum buffer: a peer in 3 fragments. */
    {
        struct wg_device *d = wg_device_new("wg2");
        struct wg_nl_set s;
        uint8_t key[WG_KEY_LEN];
        uint8_t *p = (uint8_t *)&tmp;
        int r;

        d->flags = WG_DEVICE_REPLACE_PEERS | WG_DEVICE_HAS_LISTEN_PORT;
        d->listen_port = 51000;
        for (unsigned i = 0; i < 2; i++) {
            struct wg_peer *peer;

            key_fill(key, 0x50 + i);
            peer = wg_device_add_peer(d, key);
            peer->flags = WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_HAS_KEEPALIVE;
            peer->keepalive = 5;
            for (unsigned j = 0; j < (i ? 12u : 1u); j++) {
                struct wg_allowedip a;

                make_ip(&a, i, j);
                wg_peer_add_allowedip(peer, &a);
            }
        }
        len = 0;
        wg_nl_set_init(&s, d);
        while ((r = wg_nl_set_next(&s, p + len, WG_NL_SET_MIN_BUFSIZE, FAM, 1)) > 0)
            len += MNL_ALIGN((size_t)r);
        msg_done(&m[0], 0, NLM_F_MULTI);
        memcpy(p + len, &m[0], msg_len(&m[0]));
        len += msg_len(&m[0]);
        wg_device_free(d);
        out[n].name = "set_split";
        out[n].data = malloc(len);
        memcpy(out[n].data, &tmp, len);
        out[n++].len = len;
    }
    return n;
}

static int write_recorded(const char *dir)
{
    struct recorded rec[8];
    size_t n = make_recorded(rec);
    int status = 0;

    for (size_t i = 0; i < n; i++) {
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s.bin", dir, rec[i].name);
        f = fopen(path, "wb");
        if (!f || fwrite(rec[i].data, 1, rec[i].len, f) != rec[i].len)
            status = 1;
        if (f && fclose(f) != 0)
            status = 1;
        free(rec[i].data);
    }
    return status;
}

static void test_fixture_files(void)
{
    const char *srcdir = getenv("WGM_TEST_SRCDIR");
    struct recorded rec[8];
    size_t n;

    if (!srcdir) {
        skip("WGM_TEST_SRCDIR not set: fixture files not checked");
        return;
    }
    n = make_recorded(rec);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct msg *buf = calloc(1, sizeof(*buf));
        struct wg_device *d = NULL;
        size_t got = 0;
        FILE *f;

        snprintf(path, sizeof(path), "%s/tests/fixtures/netlink/%s.bin", srcdir, rec[i].name);
        f = fopen(path, "rb");
        if (f) {
            got = fread(buf, 1, sizeof(*buf), f);
            fclose(f);
        }
        ok(got == rec[i].len && memcmp(buf, rec[i].data, got) == 0, "fixture %s.bin matches the test's bytes",
           rec[i].name);
        {
            const void *bufs[1] = { buf };
            int r = wg_nl_decode(bufs, &got, 1, FAM, &d);

            ok(strcmp(rec[i].name, "done_enodev") == 0 ? r == -ENODEV : r == 0, "fixture %s.bin decodes (%d)",
               rec[i].name, r);
        }
        wg_device_free(d);
        free(buf);
        free(rec[i].data);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_recorded(argv[2]);
    test_get_reply();
    test_split();
    test_done();
    test_set_split();
    test_set_misc();
    test_malformed();
    test_fixture_files();
    return done_testing();
}
