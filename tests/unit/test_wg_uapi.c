/* UAPI text protocol: the set encoder and get/errno parsers on exact
 * strings (protocols.md §2.4), edge cases and malformed replies, a 10 000
 * peer round trip, and the socket transport against a fake server thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <sodium.h>
#include "tap.h"
#include "../../plugins/wireguard/device.h"
#include "../../plugins/wireguard/uapi.h"

/* protocols.md §2.4's example, with the shortened keys written out. */
#define PRIV "08eb3c1f5a2e4d6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c57"
#define PEER "38c8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d1a"
#define PSK "23550f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d4"
/* `wg pubkey` of PRIV: an independent X25519. */
#define PUB "b801f2c17ca60a0083d98c479ca5db40c01e1f238481adbb0c287fa4cd7ee665"
#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"

static const char example_set[] =
    "set=1\nprivate_key=" PRIV "\nlisten_port=51820\nreplace_peers=true\npublic_key=" PEER
    "\npreshared_key=" PSK "\nendpoint=[fd10::2]:51821\npersistent_keepalive_interval=5\n"
    "replace_allowed_ips=true\nallowed_ip=10.77.0.2/32\nallowed_ip=fd77::2/128\n\n";
static const char example_get[] =
    "private_key=" PRIV "\nlisten_port=51820\npublic_key=" PEER "\npreshared_key=" PSK
    "\nprotocol_version=1\nendpoint=[fd10::2]:51821\nlast_handshake_time_sec=1795982551\n"
    "last_handshake_time_nsec=459834515\ntx_bytes=616\nrx_bytes=380\npersistent_keepalive_interval=5\n"
    "allowed_ip=10.77.0.2/32\nallowed_ip=fd77::2/128\nerrno=0\n\n";

static void key_from_hex(uint8_t key[WG_KEY_LEN], const char *hex)
{
    size_t n = 0;
    if (sodium_hex2bin(key, WG_KEY_LEN, hex, strlen(hex), NULL, &n, NULL) != 0 || n != WG_KEY_LEN)
        abort();
}

static bool key_eq_hex(const uint8_t key[WG_KEY_LEN], const char *hex)
{
    uint8_t k[WG_KEY_LEN];
    key_from_hex(k, hex);
    return memcmp(k, key, WG_KEY_LEN) == 0;
}

static void add_ip(struct wg_peer *p, const char *s)
{
    struct wg_allowedip a;
    if (wg_allowedip_parse(s, &a) != 0 || wg_peer_add_allowedip(p, &a) != 0)
        abort();
}

static const char *ip_str(const struct wg_allowedip *a, char *buf, size_t len)
{
    return wg_allowedip_format(a, buf, len);
}

/* is_str for multi-line protocol text: a mismatch is printed escaped, so
 * the TAP stream stays one line per result. */
static void escape(const char *s, char *out, size_t len)
{
    size_t k = 0;
    for (; s && *s && k + 3 < len; s++) {
        if (*s == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else {
            out[k++] = *s;
        }
    }
    out[k] = '\0';
}

static void is_text_at(const char *got, const char *want, const char *name, int line)
{
    char g[2048], w[2048];
    bool pass = got && want && strcmp(got, want) == 0;
    tap_report(pass, __FILE__, line, "%s", name);
    if (!pass) {
        escape(got ? got : "(null)", g, sizeof(g));
        escape(want, w, sizeof(w));
        printf("#   got:  %s\n#   want: %s\n", g, w);
    }
}
#define is_text(got, want, name) is_text_at((got), (want), (name), __LINE__)

static int parse(const char *s, struct wg_device **d)
{
    return wg_uapi_parse_get(s, strlen(s), "wgtest0", d);
}

static char *encode(const struct wg_device *d, int *r)
{
    struct wg_uapi_buf b = {0};
    char *s;
    *r = wg_uapi_encode_set(d, &b);
    if (*r < 0)
        return NULL;
    s = strdup(b.data);
    wg_uapi_buf_wipe(&b);
    return s;
}

/* ---- a parser of set requests, to check the encoder independently ---- */

static bool eq(const char *line, size_t n, const char *key, const char **value)
{
    size_t k = strlen(key);
    if (n <= k || memcmp(line, key, k) != 0 || line[k] != '=')
        return false;
    *value = line + k + 1;
    return true;
}

static int set_endpoint(struct wg_peer *p, const char *v, size_t n)
{
    char buf[128], *c;
    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    memset(&p->endpoint, 0, sizeof(p->endpoint));
    if (buf[0] == '[') {
        char *zone;
        c = strstr(buf, "]:");
        if (!c)
            return -1;
        *c = '\0';
        zone = strchr(buf, '%');
        if (zone) {
            *zone++ = '\0';
            p->endpoint.in6.sin6_scope_id = (uint32_t)atoi(zone);
        }
        if (inet_pton(AF_INET6, buf + 1, &p->endpoint.in6.sin6_addr) != 1)
            return -1;
        p->endpoint.in6.sin6_family = AF_INET6;
        p->endpoint.in6.sin6_port = htons((uint16_t)atoi(c + 2));
    } else {
        c = strrchr(buf, ':');
        if (!c)
            return -1;
        *c = '\0';
        if (inet_pton(AF_INET, buf, &p->endpoint.in4.sin_addr) != 1)
            return -1;
        p->endpoint.in4.sin_family = AF_INET;
        p->endpoint.in4.sin_port = htons((uint16_t)atoi(c + 1));
    }
    p->flags |= WG_PEER_HAS_ENDPOINT;
    return 0;
}

static struct wg_device *parse_set(const char *s)
{
    struct wg_device *d = wg_device_new("wgtest0");
    struct wg_peer *p = NULL;
    const char *v;
    char buf[160];

    if (strncmp(s, "set=1\n", 6) != 0)
        goto fail;
    s += 6;
    while (*s && *s != '\n') {
        const char *nl = strchr(s, '\n');
        size_t n;
        if (!nl)
            goto fail;
        n = (size_t)(nl - s);
        if (n >= sizeof(buf))
            goto fail;
        memcpy(buf, s, n);
        buf[n] = '\0';
        if (eq(buf, n, "public_key", &v)) {
            uint8_t k[WG_KEY_LEN];
            key_from_hex(k, v);
            p = wg_device_add_peer(d, k);
        } else if (!p && eq(buf, n, "private_key", &v)) {
            key_from_hex(d->private_key, v);
            d->flags |= WG_DEVICE_HAS_PRIVATE_KEY;
        } else if (!p && eq(buf, n, "listen_port", &v)) {
            d->listen_port = (uint16_t)atoi(v);
            d->flags |= WG_DEVICE_HAS_LISTEN_PORT;
        } else if (!p && eq(buf, n, "fwmark", &v)) {
            d->fwmark = (uint32_t)strtoul(v, NULL, 10);
            d->flags |= WG_DEVICE_HAS_FWMARK;
        } else if (!p && strcmp(buf, "replace_peers=true") == 0) {
            d->flags |= WG_DEVICE_REPLACE_PEERS;
        } else if (p && strcmp(buf, "remove=true") == 0) {
            p->flags |= WG_PEER_REMOVE_ME;
        } else if (p && strcmp(buf, "update_only=true") == 0) {
            p->flags |= WG_PEER_UPDATE_ONLY;
        } else if (p && strcmp(buf, "replace_allowed_ips=true") == 0) {
            p->flags |= WG_PEER_REPLACE_ALLOWEDIPS;
        } else if (p && eq(buf, n, "preshared_key", &v)) {
            key_from_hex(p->preshared_key, v);
            p->flags |= WG_PEER_HAS_PRESHARED_KEY;
        } else if (p && eq(buf, n, "persistent_keepalive_interval", &v)) {
            p->keepalive = (uint16_t)atoi(v);
            p->flags |= WG_PEER_HAS_KEEPALIVE;
        } else if (p && eq(buf, n, "endpoint", &v)) {
            if (set_endpoint(p, v, strlen(v)) < 0)
                goto fail;
        } else if (p && eq(buf, n, "allowed_ip", &v)) {
            add_ip(p, v);
        } else {
            goto fail;
        }
        s = nl + 1;
    }
    if (strcmp(s, "\n") != 0)
        goto fail;
    return d;
fail:
    return wg_device_free(d);
}

/* Field-by-field comparison; @pmask selects which peer flags must agree. */
static bool same_device(const struct wg_device *a, const struct wg_device *b, uint32_t dmask, uint32_t pmask,
                        char *why, size_t len)
{
    if ((a->flags & dmask) != (b->flags & dmask))
        return snprintf(why, len, "device flags %x vs %x", a->flags, b->flags), false;
    if ((a->flags & WG_DEVICE_HAS_PRIVATE_KEY) && memcmp(a->private_key, b->private_key, WG_KEY_LEN))
        return snprintf(why, len, "private key"), false;
    if ((a->flags & WG_DEVICE_HAS_LISTEN_PORT) && a->listen_port != b->listen_port)
        return snprintf(why, len, "port"), false;
    if ((a->flags & WG_DEVICE_HAS_FWMARK) && a->fwmark != b->fwmark)
        return snprintf(why, len, "fwmark"), false;
    if (a->n_peers != b->n_peers)
        return snprintf(why, len, "peers %zu vs %zu", a->n_peers, b->n_peers), false;
    for (size_t i = 0; i < a->n_peers; i++) {
        const struct wg_peer *p = &a->peers[i], *q = &b->peers[i];
        if ((p->flags & pmask) != (q->flags & pmask) || memcmp(p->public_key, q->public_key, WG_KEY_LEN))
            return snprintf(why, len, "peer %zu key/flags", i), false;
        if ((p->flags & WG_PEER_HAS_PRESHARED_KEY) && memcmp(p->preshared_key, q->preshared_key, WG_KEY_LEN))
            return snprintf(why, len, "peer %zu psk", i), false;
        if ((p->flags & WG_PEER_HAS_KEEPALIVE) && p->keepalive != q->keepalive)
            return snprintf(why, len, "peer %zu keepalive", i), false;
        if ((p->flags & WG_PEER_HAS_ENDPOINT) &&
            (p->endpoint.family != q->endpoint.family ||
             (p->endpoint.family == AF_INET ? memcmp(&p->endpoint.in4, &q->endpoint.in4, sizeof(p->endpoint.in4))
                                            : memcmp(&p->endpoint.in6, &q->endpoint.in6, sizeof(p->endpoint.in6)))))
            return snprintf(why, len, "peer %zu endpoint", i), false;
        if (p->n_allowedips != q->n_allowedips)
            return snprintf(why, len, "peer %zu allowed ips count", i), false;
        for (size_t j = 0; j < p->n_allowedips; j++) {
            char x[64], y[64];
            if (strcmp(ip_str(&p->allowedips[j], x, sizeof(x)), ip_str(&q->allowedips[j], y, sizeof(y))))
                return snprintf(why, len, "peer %zu ip %zu: %s vs %s", i, j, x, y), false;
        }
    }
    return true;
}

/* ---- encoder ---------------------------------------------------------- */

static struct wg_device *example_device(void)
{
    struct wg_device *d = wg_device_new("wgtest0");
    uint8_t k[WG_KEY_LEN];
    struct wg_peer *p;

    key_from_hex(d->private_key, PRIV);
    d->listen_port = 51820;
    d->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_REPLACE_PEERS;
    key_from_hex(k, PEER);
    p = wg_device_add_peer(d, k);
    key_from_hex(p->preshared_key, PSK);
    p->endpoint.in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "fd10::2", &p->endpoint.in6.sin6_addr);
    p->endpoint.in6.sin6_port = htons(51821);
    p->keepalive = 5;
    p->flags = WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE | WG_PEER_REPLACE_ALLOWEDIPS;
    add_ip(p, "10.77.0.2/32");
    add_ip(p, "fd77::2/128");
    return d;
}

static void test_encode(void)
{
    struct wg_device *d = example_device(), *back;
    struct wg_uapi_buf b = {0};
    uint8_t k[WG_KEY_LEN];
    struct wg_peer *p;
    char *s;
    int r;

    s = encode(d, &r);
    is_int(r, 0, "encode the §2.4 example");
    is_text(s, example_set, "exactly the §2.4 set request");
    back = s ? parse_set(s) : NULL;
    ok(back && d->n_peers == 1 && back->n_peers == 1, "the test's set parser reads it back");
    wg_device_free(back);
    free(s);

    /* Encoding leaves a NUL after the request and reports its length. */
    r = wg_uapi_encode_set(d, &b);
    ok(r == 0 && b.len == strlen(example_set) && b.data[b.len] == '\0', "encode reports the length");
    is_int(wg_uapi_encode_set(d, &b), -EINVAL, "a non-empty output buffer is refused");
    wg_uapi_buf_wipe(&b);
    ok(!b.data && !b.len && !b.cap, "wipe resets the buffer");
    wg_uapi_buf_wipe(&b);
    wg_uapi_buf_wipe(NULL);
    ok(1, "wipe accepts an empty buffer and NULL");

    /* Uppercase input keys still go out as lowercase hex. */
    key_from_hex(d->private_key, "08EB3C1F5A2E4D6B7C8D9E0F1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C57");
    s = encode(d, &r);
    ok(s && strstr(s, "private_key=" PRIV "\n"), "keys are written as 64 lowercase hex");
    free(s);
    wg_device_free(d);

    /* Empty change. */
    d = wg_device_new("wgtest0");
    s = encode(d, &r);
    is_text(s, "set=1\n\n", "an empty change is set=1 and the blank line");
    free(s);

    /* fwmark, port 0, v4 endpoint, keepalive 0 (off), update_only, zone. */
    d->flags = WG_DEVICE_HAS_FWMARK | WG_DEVICE_HAS_LISTEN_PORT;
    d->fwmark = 4294967295u;
    d->listen_port = 0;
    key_from_hex(k, PEER);
    p = wg_device_add_peer(d, k);
    p->flags = WG_PEER_UPDATE_ONLY | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE;
    p->endpoint.in4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", &p->endpoint.in4.sin_addr);
    p->endpoint.in4.sin_port = htons(65535);
    p->keepalive = 0;
    key_from_hex(k, PSK);
    p = wg_device_add_peer(d, k);
    p->flags = WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_PRESHARED_KEY;
    p->endpoint.in6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "fe80::1", &p->endpoint.in6.sin6_addr);
    p->endpoint.in6.sin6_port = htons(1);
    p->endpoint.in6.sin6_scope_id = 3;
    s = encode(d, &r);
    is_text(s,
           "set=1\nlisten_port=0\nfwmark=4294967295\npublic_key=" PEER
           "\nupdate_only=true\nendpoint=192.0.2.7:65535\npersistent_keepalive_interval=0\npublic_key=" PSK
           "\npreshared_key=" ZERO "\nendpoint=[fe80::1%3]:1\n\n",
           "fwmark, port 0, update_only, v4 endpoint, keepalive off, zero PSK, v6 zone");
    free(s);

    /* A removed peer carries nothing else: the server ignores it anyway. */
    p = &d->peers[0];
    p->flags |= WG_PEER_REMOVE_ME | WG_PEER_REPLACE_ALLOWEDIPS;
    add_ip(p, "10.0.0.0/8");
    d->peers[1].flags = 0;
    d->flags = 0;
    s = encode(d, &r);
    is_text(s, "set=1\npublic_key=" PEER "\nremove=true\npublic_key=" PSK "\n\n", "remove=true and nothing else");
    free(s);

    /* Validation happens before anything is written. */
    d->peers[1].flags = WG_PEER_HAS_ENDPOINT;
    d->peers[1].endpoint.family = AF_UNIX;
    s = encode(d, &r);
    ok(!s && r == -EINVAL, "an endpoint of an unknown family is -EINVAL");
    d->peers[1].flags = 0;
    add_ip(&d->peers[1], "10.1.0.0/16");
    d->peers[1].allowedips[0].cidr = 33;
    s = encode(d, &r);
    ok(!s && r == -EINVAL, "an IPv4 allowed IP with cidr 33 is -EINVAL");
    d->peers[1].allowedips[0].family = AF_UNIX;
    s = encode(d, &r);
    ok(!s && r == -EINVAL, "an allowed IP of an unknown family is -EINVAL");
    is_int(wg_uapi_encode_set(NULL, &b), -EINVAL, "encode(NULL) is -EINVAL");
    wg_device_free(d);
}

/* ---- get parser ------------------------------------------------------- */

static void test_parse_example(void)
{
    struct wg_device *d = NULL;
    const struct wg_peer *p;
    char ip[64], addr[INET6_ADDRSTRLEN];
    int r = parse(example_get, &d);

    is_int(r, 0, "parse the §2.4 get reply");
    if (!d) {
        skip("no device");
        return;
    }
    is_int(d->flags, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_PUBLIC_KEY | WG_DEVICE_HAS_LISTEN_PORT,
           "device flags: private, public (derived), port; no fwmark");
    ok(key_eq_hex(d->private_key, PRIV), "private key");
    ok(key_eq_hex(d->public_key, PUB), "public key derived with X25519 (= wg pubkey)");
    is_int(d->listen_port, 51820, "listen port");
    is_str(d->name, "wgtest0", "named after the interface asked for");
    is_int(d->n_peers, 1, "one peer");
    p = &d->peers[0];
    ok(key_eq_hex(p->public_key, PEER), "peer public key");
    ok((p->flags & WG_PEER_HAS_PRESHARED_KEY) && key_eq_hex(p->preshared_key, PSK), "preshared key");
    ok((p->flags & WG_PEER_HAS_ENDPOINT) && p->endpoint.family == AF_INET6 && ntohs(p->endpoint.in6.sin6_port) == 51821,
       "v6 endpoint port");
    inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, addr, sizeof(addr));
    is_str(addr, "fd10::2", "v6 endpoint address");
    is_int(p->last_handshake.tv_sec, 1795982551, "last handshake sec");
    is_int(p->last_handshake.tv_nsec, 459834515, "last handshake nsec");
    is_int(p->tx_bytes, 616, "tx bytes");
    is_int(p->rx_bytes, 380, "rx bytes");
    ok((p->flags & WG_PEER_HAS_KEEPALIVE) && p->keepalive == 5, "keepalive");
    is_int(p->n_allowedips, 2, "two allowed IPs");
    if (p->n_allowedips == 2) {
        is_str(ip_str(&p->allowedips[0], ip, sizeof(ip)), "10.77.0.2/32", "allowed IP v4");
        is_str(ip_str(&p->allowedips[1], ip, sizeof(ip)), "fd77::2/128", "allowed IP v6");
    }
    wg_device_free(d);
}

static void test_parse_variants(void)
{
    struct wg_device *d = NULL;
    char addr[INET6_ADDRSTRLEN];
    int r;

    /* Keys in another order, uppercase hex, an unknown key, no PSK. */
    r = parse("listen_port=1\nprivate_key=" "08EB3C1F5A2E4D6B7C8D9E0F1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C57"
              "\nsome_future_key=x y\npublic_key=" PEER "\nallowed_ip=0.0.0.0/0\nrx_bytes=18446744073709551615\n"
              "persistent_keepalive_interval=0\npreshared_key=" ZERO "\nendpoint=198.51.100.1:1\n"
              "another_future_key=1\nerrno=0\n\n",
              &d);
    is_int(r, 0, "any key order, uppercase hex, unknown keys skipped");
    ok(d && key_eq_hex(d->public_key, PUB) && d->listen_port == 1, "uppercase private key gives the same public key");
    ok(d && d->n_peers == 1 && !(d->peers[0].flags & WG_PEER_HAS_PRESHARED_KEY), "an all-zero PSK means none");
    ok(d && d->n_peers == 1 && d->peers[0].rx_bytes == UINT64_MAX, "rx_bytes up to 2^64-1");
    ok(d && d->n_peers == 1 && (d->peers[0].flags & WG_PEER_HAS_KEEPALIVE) && d->peers[0].keepalive == 0,
       "keepalive 0 is present and off");
    ok(d && d->n_peers == 1 && d->peers[0].endpoint.family == AF_INET &&
           d->peers[0].endpoint.in4.sin_addr.s_addr == htonl(0xc6336401) && ntohs(d->peers[0].endpoint.in4.sin_port) == 1,
       "v4 endpoint");
    d = wg_device_free(d);

    r = parse("public_key=" PEER "\nendpoint=[fe80::1%7]:51820\npublic_key=" PSK
              "\nendpoint=[::ffff:192.0.2.1]:9\nallowed_ip=::/0\nerrno=0\n\n",
              &d);
    is_int(r, 0, "v6 endpoints with a zone and v4-mapped");
    /* A wrong peer count is a parser failure: the three checks below fail
     * with it rather than turning into skips. */
    is_int(d ? d->n_peers : 0, 2, "two peers");
    if (d && d->n_peers == 2) {
        inet_ntop(AF_INET6, &d->peers[0].endpoint.in6.sin6_addr, addr, sizeof(addr));
        ok(!strcmp(addr, "fe80::1") && d->peers[0].endpoint.in6.sin6_scope_id == 7 &&
               ntohs(d->peers[0].endpoint.in6.sin6_port) == 51820,
           "[fe80::1%%7]:51820");
        inet_ntop(AF_INET6, &d->peers[1].endpoint.in6.sin6_addr, addr, sizeof(addr));
        is_str(addr, "::ffff:192.0.2.1", "v4-mapped v6 endpoint");
        ok(d->flags == 0, "no device keys: no device flags");
    } else {
        ok(0, "[fe80::1%%7]:51820 (no second peer parsed)");
        ok(0, "v4-mapped v6 endpoint (no second peer parsed)");
        ok(0, "no device keys: no device flags (no second peer parsed)");
    }
    d = wg_device_free(d);

    r = parse("public_key=" PEER "\nendpoint=[fe80::1%no-such-if0]:5\nerrno=0\n\n", &d);
    ok(r == 0 && d && d->peers[0].endpoint.in6.sin6_scope_id == 0, "a zone name that does not exist gives scope 0");
    d = wg_device_free(d);

    /* Repeated keys: the last line wins, flags included (found by fuzzing). */
    r = parse("public_key=" PEER "\npreshared_key=" PSK "\npreshared_key=" ZERO "\nerrno=0\n\n", &d);
    ok(r == 0 && d && !(d->peers[0].flags & WG_PEER_HAS_PRESHARED_KEY), "a PSK then zeros: no PSK");
    d = wg_device_free(d);
    r = parse("public_key=" PEER "\npreshared_key=" ZERO "\npreshared_key=" PSK "\nerrno=0\n\n", &d);
    ok(r == 0 && d && (d->peers[0].flags & WG_PEER_HAS_PRESHARED_KEY) && key_eq_hex(d->peers[0].preshared_key, PSK),
       "zeros then a PSK: that PSK");
    d = wg_device_free(d);

    r = parse("errno=0\n\n", &d);
    ok(r == 0 && d && d->n_peers == 0 && d->flags == 0, "an empty device");
    d = wg_device_free(d);
    r = parse("fwmark=4294967295\nerrno=0\n\n", &d);
    ok(r == 0 && d && d->fwmark == 4294967295u && (d->flags & WG_DEVICE_HAS_FWMARK), "fwmark up to 2^32-1");
    d = wg_device_free(d);
    r = parse("public_key=" PEER "\npublic_key=" PSK "\nerrno=0\n\n", &d);
    ok(r == 0 && d && d->n_peers == 2 && d->peers[0].n_allowedips == 0, "peers without anything else");
    d = wg_device_free(d);

    is_int(parse("errno=-22\n\n", &d), -EINVAL, "errno=-22 is -EINVAL");
    ok(!d, "no device on error");
    is_int(parse("errno=22\n\n", &d), -EINVAL, "errno=22 is -EINVAL too (absolute value)");
    is_int(parse("listen_port=5\nerrno=-98\n\n", &d), -EADDRINUSE, "errno after data: -EADDRINUSE");
    ok(!d, "no device on a server error");
    is_int(wg_uapi_parse_get("errno=0\n\n", 9, "", &d), -EINVAL, "an empty interface name is -EINVAL");
    is_int(wg_uapi_parse_get("errno=0\n\n", 9, "sixteen-chars-xx", &d), -EINVAL, "a 16-byte name is -EINVAL");
    is_int(wg_uapi_parse_get(NULL, 0, "wgtest0", &d), -EPROTO, "an empty reply is -EPROTO");
}

static void test_parse_malformed(void)
{
    static const char *const bad[] = {
        "listen_port=1\n\n",                       /* no errno */
        "errno=0\n",                               /* no blank line */
        "errno=0",                                 /* no newline at all */
        "listen_port=1\nerrno=0",                  /* unterminated */
        "\n",                                      /* blank only */
        "listen_port\nerrno=0\n\n",                /* no '=' */
        "=1\nerrno=0\n\n",                         /* empty key */
        "LISTEN_PORT=1\nerrno=0\n\n",              /* key case */
        "listen port=1\nerrno=0\n\n",              /* space in key */
        "listen_port=1\r\nerrno=0\n\n",            /* CR */
        "listen_port=1\nerrno=0\r\n\n",            /* CR in errno */
        "errno=0\nlisten_port=1\n\n",              /* line after errno */
        "errno=0\nerrno=0\n\n",                    /* errno twice */
        "errno=0\n\nlisten_port=1\n",              /* bytes after the end */
        "errno=0\n\n\n",                           /* extra blank */
        "listen_port=1\n\nerrno=0\n\n",            /* blank in the middle */
        "errno=\n\n", "errno=x\n\n", "errno=--1\n\n", "errno=-4096\n\n", "errno=+1\n\n", "errno= 0\n\n",
        "listen_port=65536\nerrno=0\n\n", "listen_port=-1\nerrno=0\n\n", "listen_port=+1\nerrno=0\n\n",
        "listen_port=\nerrno=0\n\n", "listen_port=1 \nerrno=0\n\n", "listen_port=0x10\nerrno=0\n\n",
        "listen_port=99999999999999999999999\nerrno=0\n\n", "fwmark=4294967296\nerrno=0\n\n",
        "private_key=" ZERO "0\nerrno=0\n\n",    /* 65 digits */
        "private_key=0000\nerrno=0\n\n",           /* short */
        "private_key=zz00000000000000000000000000000000000000000000000000000000000000\nerrno=0\n\n",
        "private_key=\nerrno=0\n\n",
        "public_key=" PEER "g\nerrno=0\n\n",
        "public_key=" PEER "\nlisten_port=1\nerrno=0\n\n",          /* device key after peers */
        "public_key=" PEER "\nprivate_key=" PRIV "\nerrno=0\n\n",
        "public_key=" PEER "\nfwmark=1\nerrno=0\n\n",
        "preshared_key=" PSK "\nerrno=0\n\n",                       /* peer key without a peer */
        "allowed_ip=10.0.0.0/8\nerrno=0\n\n",
        "endpoint=1.2.3.4:5\nerrno=0\n\n",
        "rx_bytes=1\nerrno=0\n\n",
        "public_key=" PEER "\npreshared_key=" PRIV "0\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=1.2.3.4\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=1.2.3.4:\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=1.2.3.4:65536\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=host.example:80\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=::1:80\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=[::1]80\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=[::1]:\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=[::1:80\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=[1.2.3.4]:80\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=[fe80::1%]:80\nerrno=0\n\n",
        "public_key=" PEER "\nendpoint=\nerrno=0\n\n",
        "public_key=" PEER "\nallowed_ip=10.0.0.1/33\nerrno=0\n\n",
        "public_key=" PEER "\nallowed_ip=fd00::/129\nerrno=0\n\n",
        "public_key=" PEER "\nallowed_ip=10.0.0.1\nerrno=0\n\n",
        "public_key=" PEER "\nallowed_ip=x/8\nerrno=0\n\n",
        "public_key=" PEER "\nallowed_ip=10.0.0.0/\nerrno=0\n\n",
        "public_key=" PEER "\nlast_handshake_time_nsec=1000000000\nerrno=0\n\n",
        "public_key=" PEER "\nlast_handshake_time_sec=9223372036854775808\nerrno=0\n\n",
        "public_key=" PEER "\ntx_bytes=18446744073709551616\nerrno=0\n\n",
        "public_key=" PEER "\npersistent_keepalive_interval=65536\nerrno=0\n\n",
        "public_key=" PEER "\nprotocol_version=2\nerrno=0\n\n",
    };
    size_t n_bad = sizeof(bad) / sizeof(bad[0]), refused = 0;
    static const char nul[] = "listen_port=1\0\nerrno=0\n\n";
    struct wg_device *d;
    char *huge;

    for (size_t i = 0; i < n_bad; i++) {
        d = (struct wg_device *)1;
        int r = parse(bad[i], &d);
        if (r == -EPROTO && d == NULL)
            refused++;
        else
            printf("# accepted or wrong error (%d): \"%s\"\n", r, bad[i]);
        wg_device_free(r == 0 ? d : NULL);
    }
    is_int(refused, n_bad, "every malformed reply is -EPROTO with no device");

    d = (struct wg_device *)1;
    is_int(wg_uapi_parse_get(nul, sizeof(nul) - 1, "wgtest0", &d), -EPROTO, "a NUL byte inside a line");
    ok(d == NULL, "out is NULL");

    /* Past the cap, refused before a byte is read. */
    huge = malloc(WG_UAPI_MAX_REPLY + 1);
    if (huge) {
        memset(huge, 'a', WG_UAPI_MAX_REPLY + 1);
        is_int(wg_uapi_parse_get(huge, WG_UAPI_MAX_REPLY + 1, "wgtest0", &d), -EMSGSIZE, "oversized reply: -EMSGSIZE");
        free(huge);
    } else {
        skip("no memory for the oversized reply");
    }
}

static void test_parse_errno(void)
{
    is_int(wg_uapi_parse_errno("errno=0\n\n", 9), 0, "set reply errno=0");
    is_int(wg_uapi_parse_errno("errno=-22\n\n", 11), -EINVAL, "set reply errno=-22");
    is_int(wg_uapi_parse_errno("errno=-98\n\n", 11), -EADDRINUSE, "set reply errno=-98");
    is_int(wg_uapi_parse_errno("errno=-71\n\n", 11), -EPROTO, "set reply errno=-71");
    is_int(wg_uapi_parse_errno("errno=5\n\n", 9), -EIO, "set reply errno=5 (positive)");
    is_int(wg_uapi_parse_errno("errno=-4095\n\n", 13), -4095, "largest errno");
    is_int(wg_uapi_parse_errno("errno=-4096\n\n", 13), -EPROTO, "beyond MAX_ERRNO");
    is_int(wg_uapi_parse_errno("errno=0\n", 8), -EPROTO, "no blank line");
    is_int(wg_uapi_parse_errno("errno=\n\n", 8), -EPROTO, "no number");
    is_int(wg_uapi_parse_errno("errno=0\nx\n\n", 11), -EPROTO, "an extra line");
    is_int(wg_uapi_parse_errno("errno=1x\n\n", 10), -EPROTO, "trailing junk");
    is_int(wg_uapi_parse_errno("listen_port=1\nerrno=0\n\n", 23), -EPROTO, "data before errno");
    is_int(wg_uapi_parse_errno("", 0), -EPROTO, "empty");
    is_int(wg_uapi_parse_errno(NULL, 0), -EPROTO, "NULL");
}

/* ---- 10 000 peers through the encoder and both parsers ---------------- */

static void test_many_peers(void)
{
    enum { N = 10000 };
    struct wg_device *d = wg_device_new("wgtest0"), *back = NULL, *got = NULL;
    struct wg_uapi_buf b = {0};
    char why[256] = "", *reply = NULL;
    size_t rlen = 0;
    int r;

    randombytes_buf(d->private_key, WG_KEY_LEN);
    d->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_FWMARK | WG_DEVICE_REPLACE_PEERS;
    d->listen_port = 40000;
    d->fwmark = 0x1234;
    for (unsigned i = 0; i < N; i++) {
        uint8_t k[WG_KEY_LEN];
        struct wg_peer *p;
        char ip[64];
        randombytes_buf(k, sizeof(k));
        p = wg_device_add_peer(d, k);
        randombytes_buf(p->preshared_key, WG_KEY_LEN);
        p->flags = WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE | WG_PEER_REPLACE_ALLOWEDIPS;
        p->keepalive = (uint16_t)(i % 65536);
        if (i % 2) {
            p->endpoint.in4.sin_family = AF_INET;
            p->endpoint.in4.sin_addr.s_addr = htonl(0x0a000000u + i);
            p->endpoint.in4.sin_port = htons((uint16_t)(1 + i));
        } else {
            p->endpoint.in6.sin6_family = AF_INET6;
            inet_pton(AF_INET6, "2001:db8::", &p->endpoint.in6.sin6_addr);
            p->endpoint.in6.sin6_addr.s6_addr[14] = (uint8_t)(i >> 8);
            p->endpoint.in6.sin6_addr.s6_addr[15] = (uint8_t)i;
            p->endpoint.in6.sin6_port = htons((uint16_t)(60000 - i));
        }
        snprintf(ip, sizeof(ip), "10.%u.%u.0/24", (i >> 8) & 255, i & 255);
        add_ip(p, ip);
        snprintf(ip, sizeof(ip), "fd00:%x::/64", i);
        add_ip(p, ip);
    }

    r = wg_uapi_encode_set(d, &b);
    is_int(r, 0, "encode 10 000 peers");
    back = r == 0 ? parse_set(b.data) : NULL;
    ok(back && same_device(d, back, ~0u, ~0u, why, sizeof(why)), "set parser reads back the same 10 000 peers (%s)",
       why);

    /* The same lines, less the set-only ones, make a get reply. */
    if (r == 0) {
        const char *s = b.data + strlen("set=1\n");
        reply = malloc(b.len + 32);
        while (*s && *s != '\n') {
            const char *nl = strchr(s, '\n');
            size_t n = (size_t)(nl - s) + 1;
            if (strncmp(s, "replace_", 8) != 0) {
                memcpy(reply + rlen, s, n);
                rlen += n;
            }
            s = nl + 1;
        }
        memcpy(reply + rlen, "errno=0\n\n", 9);
        rlen += 9;
    }
    r = reply ? wg_uapi_parse_get(reply, rlen, "wgtest0", &got) : -1;
    is_int(r, 0, "parse 10 000 peers as a get reply");
    why[0] = '\0';
    ok(got && same_device(d, got, WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_FWMARK,
                          WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE, why, sizeof(why)),
       "get parser reads the same 10 000 peers (%s)", why);
    if (got) {
        uint8_t pub[WG_KEY_LEN];
        crypto_scalarmult_base(pub, d->private_key);
        ok(!memcmp(pub, got->public_key, WG_KEY_LEN) && (got->flags & WG_DEVICE_HAS_PUBLIC_KEY),
           "public key derived from the random private key");
    } else {
        skip("no device");
    }
    if (reply) {
        explicit_bzero(reply, rlen);
        free(reply);
    }
    wg_uapi_buf_wipe(&b);
    wg_device_free(back);
    wg_device_free(got);
    wg_device_free(d);
}

/* ---- transport against a fake server ----------------------------------- */

enum fake_mode { FAKE_REPLY, FAKE_CLOSE, FAKE_SILENT, FAKE_EARLY_ERROR, FAKE_ENDLESS };

struct fake {
    int listen_fd;
    enum fake_mode mode;
    const char *reply;
    size_t reply_len;
    char *request; /* what the client sent, up to the blank line */
    size_t request_len;
};

static void send_all_or_stop(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n > 65536 ? 65536 : n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    size_t cap = 1 << 16;
    int fd = accept(f->listen_fd, NULL, NULL);
    char c;

    if (fd < 0)
        return NULL;
    f->request = malloc(cap);
    f->request_len = 0;
    /* Read the request up to its blank line (or just the first line). */
    for (;;) {
        ssize_t n = recv(fd, f->request + f->request_len, 1, 0);
        if (n <= 0)
            break;
        f->request_len++;
        if (f->request_len == cap)
            f->request = realloc(f->request, cap *= 2);
        if (f->mode == FAKE_EARLY_ERROR && f->request[f->request_len - 1] == '\n')
            break;
        if (f->request_len >= 2 && f->request[f->request_len - 1] == '\n' && f->request[f->request_len - 2] == '\n')
            break;
    }
    switch (f->mode) {
    case FAKE_REPLY:
    case FAKE_EARLY_ERROR:
        send_all_or_stop(fd, f->reply, f->reply_len);
        break;
    case FAKE_SILENT:
        while (recv(fd, &c, 1, 0) > 0) /* until the client gives up */
            ;
        break;
    case FAKE_ENDLESS: {
        static char lines[1 << 16];
        for (size_t i = 0; i < sizeof(lines); i += 4)
            memcpy(lines + i, "x=1\n", 4);
        while (send(fd, lines, sizeof(lines), MSG_NOSIGNAL) > 0)
            ;
        break;
    }
    case FAKE_CLOSE:
        break;
    }
    close(fd);
    return NULL;
}

static char sock_dir[] = "/tmp/wgm-uapi-test.XXXXXX";

static int fake_start(struct fake *f, pthread_t *t, const char *ifname)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    wg_uapi_sock_path(sock_dir, ifname, sun.sun_path, sizeof(sun.sun_path));
    unlink(sun.sun_path);
    f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(f->listen_fd, 4) < 0)
        return -1;
    return pthread_create(t, NULL, fake_main, f);
}

static void fake_stop(struct fake *f, pthread_t t, const char *ifname)
{
    char path[128];
    pthread_join(t, NULL);
    close(f->listen_fd);
    wg_uapi_sock_path(sock_dir, ifname, path, sizeof(path));
    unlink(path);
    free(f->request);
    f->request = NULL;
}

static void test_transport(void)
{
    struct fake f = {0};
    struct wg_uapi_buf reply = {0};
    struct wg_device *d = NULL, *change;
    char path[128], *big = NULL, *req = NULL;
    size_t big_len = 0;
    pthread_t t;
    pid_t pid = 0;
    int r;

    if (!mkdtemp(sock_dir)) {
        skip("mkdtemp failed");
        return;
    }

    is_int(wg_uapi_sock_path("/var/run/wireguard", "wg0", path, sizeof(path)), 0, "socket path");
    is_str(path, "/var/run/wireguard/wg0.sock", "socket path text");
    is_int(wg_uapi_sock_path(NULL, "wg0", path, sizeof(path)), 0, "default socket dir");
    is_str(path, WG_UAPI_DEFAULT_SOCK_DIR "/wg0.sock", "default socket dir text");
    is_int(wg_uapi_sock_path(NULL, "a/b", path, sizeof(path)), -EINVAL, "'/' in a name");
    is_int(wg_uapi_sock_path(NULL, "..", path, sizeof(path)), -EINVAL, "'..' as a name");
    is_int(wg_uapi_sock_path(NULL, "", path, sizeof(path)), -EINVAL, "empty name");
    is_int(wg_uapi_sock_path(NULL, "wg 0", path, sizeof(path)), -EINVAL, "space in a name");
    is_int(wg_uapi_sock_path(NULL, "0123456789abcdef", path, sizeof(path)), -EINVAL, "16-byte name");
    is_int(wg_uapi_sock_path("/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                             "wg0", path, sizeof(path)),
           -ENAMETOOLONG, "a path longer than sun_path");

    is_int(wg_uapi_get(sock_dir, "wgnone", &d), -ENODEV, "no socket: -ENODEV");
    ok(d == NULL, "no device");
    {
        /* A socket file nobody listens on (a dead implementation's). */
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        wg_uapi_sock_path(sock_dir, "wgdead", sun.sun_path, sizeof(sun.sun_path));
        bind(fd, (struct sockaddr *)&sun, sizeof(sun));
        close(fd);
        is_int(wg_uapi_get(sock_dir, "wgdead", &d), -ENODEV, "stale socket file: -ENODEV");
        unlink(sun.sun_path);
    }

    /* A get of the §2.4 reply. */
    f.mode = FAKE_REPLY;
    f.reply = example_get;
    f.reply_len = strlen(example_get);
    if (fake_start(&f, &t, "wgfake") == 0) {
        r = wg_uapi_get(sock_dir, "wgfake", &d);
        is_int(r, 0, "get from a fake server");
        ok(d && d->n_peers == 1 && key_eq_hex(d->public_key, PUB), "the device came through");
        fake_stop(&f, t, "wgfake");
        d = wg_device_free(d);
    }

    /* server_pid: SO_PEERCRED names the listener, here ourselves. */
    f.mode = FAKE_CLOSE;
    if (fake_start(&f, &t, "wgfake") == 0) {
        is_int(wg_uapi_server_pid(sock_dir, "wgfake", &pid), 0, "server pid");
        is_int(pid, getpid(), "the listener's pid");
        fake_stop(&f, t, "wgfake");
    }

    /* A set: the request arrives whole; the server's errno comes back. */
    change = example_device();
    f.mode = FAKE_REPLY;
    f.reply = "errno=-98\n\n";
    f.reply_len = 11;
    if (fake_start(&f, &t, "wgtest0") == 0) {
        is_int(wg_uapi_set(sock_dir, change), -EADDRINUSE, "set returns the server's errno");
        pthread_join(t, NULL);
        ok(f.request_len == strlen(example_set) && !memcmp(f.request, example_set, f.request_len),
           "the server got exactly the encoded request");
        close(f.listen_fd);
        free(f.request);
        wg_uapi_sock_path(sock_dir, "wgtest0", path, sizeof(path));
        unlink(path);
    }

    /* A server that fails on the first line and hangs up while a large
     * request is still being written: the reply still comes back. */
    {
        struct wg_peer *p = &change->peers[0];
        for (unsigned i = 0; i < 100000; i++) {
            char ip[64];
            snprintf(ip, sizeof(ip), "10.%u.%u.%u/32", i >> 16, (i >> 8) & 255, i & 255);
            add_ip(p, ip);
        }
    }
    f.mode = FAKE_EARLY_ERROR;
    f.reply = "errno=-22\n\n";
    f.reply_len = 11;
    if (fake_start(&f, &t, "wgtest0") == 0) {
        is_int(wg_uapi_set(sock_dir, change), -EINVAL, "early error while writing 6 MB: the errno, not EPIPE");
        fake_stop(&f, t, "wgtest0");
    }
    wg_device_free(change);

    /* Closed before the blank line. */
    f.mode = FAKE_REPLY;
    f.reply = "listen_port=1\nerrno=0\n";
    f.reply_len = strlen(f.reply);
    if (fake_start(&f, &t, "wgfake") == 0) {
        is_int(wg_uapi_get(sock_dir, "wgfake", &d), -EPROTO, "closed before the blank line: -EPROTO");
        fake_stop(&f, t, "wgfake");
    }
    f.mode = FAKE_CLOSE;
    if (fake_start(&f, &t, "wgfake") == 0) {
        is_int(wg_uapi_get(sock_dir, "wgfake", &d), -EPROTO, "closed with no reply: -EPROTO");
        fake_stop(&f, t, "wgfake");
    }

    /* A 50 000-peer reply (about 12 MB) arrives in many reads. */
    {
        size_t cap = 50000 * 400 + 64;
        big = malloc(cap);
        for (unsigned i = 0; i < 50000; i++) {
            uint8_t k[WG_KEY_LEN];
            char hex[65];
            randombytes_buf(k, sizeof(k));
            sodium_bin2hex(hex, sizeof(hex), k, sizeof(k));
            big_len += (size_t)snprintf(big + big_len, cap - big_len,
                                        "public_key=%s\npreshared_key=" ZERO "\nprotocol_version=1\n"
                                        "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\n"
                                        "rx_bytes=0\npersistent_keepalive_interval=0\nallowed_ip=10.%u.%u.0/24\n",
                                        hex, i >> 8, i & 255);
        }
        big_len += (size_t)snprintf(big + big_len, cap - big_len, "errno=0\n\n");
    }
    f.mode = FAKE_REPLY;
    f.reply = big;
    f.reply_len = big_len;
    if (fake_start(&f, &t, "wgfake") == 0) {
        r = wg_uapi_get(sock_dir, "wgfake", &d);
        ok(r == 0 && d && d->n_peers == 50000, "a %zu-byte reply with 50 000 peers (r=%d)", big_len, r);
        fake_stop(&f, t, "wgfake");
        d = wg_device_free(d);
    }
    free(big);

    /* The raw transact stops at the first blank line. */
    f.mode = FAKE_REPLY;
    f.reply = "errno=0\n\nleftover";
    f.reply_len = strlen(f.reply);
    if (fake_start(&f, &t, "wgfake") == 0) {
        req = strdup("get=1\n\n");
        r = wg_uapi_transact(sock_dir, "wgfake", req, strlen(req), &reply);
        ok(r == 0 && reply.len == 9 && !strcmp(reply.data, "errno=0\n\n"), "transact stops at the blank line");
        wg_uapi_buf_wipe(&reply);
        fake_stop(&f, t, "wgfake");
        free(req);
    }

    /* An endless reply is cut at WG_UAPI_MAX_REPLY. */
    f.mode = FAKE_ENDLESS;
    if (fake_start(&f, &t, "wgfake") == 0) {
        is_int(wg_uapi_get(sock_dir, "wgfake", &d), -EMSGSIZE, "an endless reply: -EMSGSIZE at 64 MiB");
        fake_stop(&f, t, "wgfake");
    }

    /* A server that never answers: bounded by WG_UAPI_TIMEOUT_MS. */
    f.mode = FAKE_SILENT;
    if (fake_start(&f, &t, "wgfake") == 0) {
        is_int(wg_uapi_get(sock_dir, "wgfake", &d), -ETIMEDOUT, "a silent server: -ETIMEDOUT");
        fake_stop(&f, t, "wgfake");
    }
    rmdir(sock_dir);
}

int main(void)
{
    if (sodium_init() < 0)
        skip_all("libsodium failed to initialise");
    test_encode();
    test_parse_example();
    test_parse_variants();
    test_parse_malformed();
    test_parse_errno();
    test_many_peers();
    test_transport();
    return done_testing();
}
