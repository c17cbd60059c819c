/* plugins/wireguard/uapi: encoder, parsers and transport of the UAPI text
 * protocol (protocols.md §2).  Follows wireguard-tools' ipc-uapi.h, with
 * stricter parsing: this reply crosses a process boundary, so every line is
 * checked before it lands in the device model. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "uapi.h"

#define KEY_HEX_LEN (2 * WG_KEY_LEN)
/* A value other than a key (numbers, endpoints, prefixes) is short:
 * "[ffff:...:255.255.255.255%4294967295]:65535" is under 70 bytes. */
#define SHORT_VALUE_MAX 128
/* Linux's MAX_ERRNO: a larger errno is not an errno. */
#define ERRNO_MAX 4095

void wg_uapi_buf_wipe(struct wg_uapi_buf *b)
{
    if (!b)
        return;
    if (b->data) {
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Grow @b to hold at least @need bytes.  realloc would leave the old copy,
 * keys included, in freed memory, so the old block is wiped by hand. */
static int buf_reserve(struct wg_uapi_buf *b, size_t need)
{
    char *grown;
    if (need <= b->cap)
        return 0;
    grown = malloc(need);
    if (!grown)
        return -ENOMEM;
    if (b->data) {
        memcpy(grown, b->data, b->len);
        explicit_bzero(b->data, b->cap);
        free(b->data);
    }
    b->data = grown;
    b->cap = need;
    return 0;
}

/* ---- encoder -------------------------------------------------------- */

static int put(struct wg_uapi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(struct wg_uapi_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    /* The buffer was sized from an upper bound, so this only guards it. */
    if (n < 0 || (size_t)n >= b->cap - b->len)
        return -EOVERFLOW;
    b->len += (size_t)n;
    return 0;
}

static int put_key(struct wg_uapi_buf *b, const char *name, const uint8_t key[WG_KEY_LEN])
{
    int r = put(b, "%s=", name);
    if (r < 0)
        return r;
    if (b->cap - b->len < KEY_HEX_LEN + 2)
        return -EOVERFLOW;
    /* Straight into the request: no stack copy of a secret's hex. */
    sodium_bin2hex(b->data + b->len, KEY_HEX_LEN + 1, key, WG_KEY_LEN);
    b->len += KEY_HEX_LEN;
    return put(b, "\n");
}

static bool allowedip_valid(const struct wg_allowedip *a)
{
    return (a->family == AF_INET && a->cidr <= 32) || (a->family == AF_INET6 && a->cidr <= 128);
}

static int put_endpoint(struct wg_uapi_buf *b, const struct wg_peer *p)
{
    char addr[INET6_ADDRSTRLEN];
    if (p->endpoint.family == AF_INET) {
        inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, addr, sizeof(addr));
        return put(b, "endpoint=%s:%u\n", addr, ntohs(p->endpoint.in4.sin_port));
    }
    inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, addr, sizeof(addr));
    if (p->endpoint.in6.sin6_scope_id)
        return put(b, "endpoint=[%s%%%u]:%u\n", addr, p->endpoint.in6.sin6_scope_id,
                   ntohs(p->endpoint.in6.sin6_port));
    return put(b, "endpoint=[%s]:%u\n", addr, ntohs(p->endpoint.in6.sin6_port));
}

/* Upper bounds per part of a request; generous so that put() never runs out. */
#define BOUND_DEVICE 512
#define BOUND_PEER 512
#define BOUND_ALLOWEDIP 80

static int encode_size(const struct wg_device *c, size_t *out)
{
    size_t total = BOUND_DEVICE, part;
    if (c->n_peers && !c->peers)
        return -EINVAL;
    for (size_t i = 0; i < c->n_peers; i++) {
        const struct wg_peer *p = &c->peers[i];
        if (p->n_allowedips && !p->allowedips)
            return -EINVAL;
        if ((p->flags & WG_PEER_HAS_ENDPOINT) && !(p->flags & WG_PEER_REMOVE_ME) &&
            p->endpoint.family != AF_INET && p->endpoint.family != AF_INET6)
            return -EINVAL;
        for (size_t j = 0; j < p->n_allowedips; j++)
            if (!allowedip_valid(&p->allowedips[j]))
                return -EINVAL;
        if (__builtin_mul_overflow(p->n_allowedips, (size_t)BOUND_ALLOWEDIP, &part) ||
            __builtin_add_overflow(part, (size_t)BOUND_PEER, &part) ||
            __builtin_add_overflow(total, part, &total))
            return -ENOMEM;
    }
    *out = total;
    return 0;
}

static int encode_peer(struct wg_uapi_buf *b, const struct wg_peer *p)
{
    int r = put_key(b, "public_key", p->public_key);
    if (r < 0)
        return r;
    /* The server ignores every later line for a removed peer. */
    if (p->flags & WG_PEER_REMOVE_ME)
        return put(b, "remove=true\n");
    if ((p->flags & WG_PEER_UPDATE_ONLY) && (r = put(b, "update_only=true\n")) < 0)
        return r;
    if ((p->flags & WG_PEER_HAS_PRESHARED_KEY) && (r = put_key(b, "preshared_key", p->preshared_key)) < 0)
        return r;
    if ((p->flags & WG_PEER_HAS_ENDPOINT) && (r = put_endpoint(b, p)) < 0)
        return r;
    if ((p->flags & WG_PEER_HAS_KEEPALIVE) &&
        (r = put(b, "persistent_keepalive_interval=%u\n", p->keepalive)) < 0)
        return r;
    if ((p->flags & WG_PEER_REPLACE_ALLOWEDIPS) && (r = put(b, "replace_allowed_ips=true\n")) < 0)
        return r;
    for (size_t j = 0; j < p->n_allowedips; j++) {
        char ip[INET6_ADDRSTRLEN + 8];
        if ((r = put(b, "allowed_ip=%s\n", wg_allowedip_format(&p->allowedips[j], ip, sizeof(ip)))) < 0)
            return r;
    }
    return 0;
}

int wg_uapi_encode_set(const struct wg_device *change, struct wg_uapi_buf *out)
{
    size_t size;
    int r;

    if (!change || !out || out->data)
        return -EINVAL;
    r = encode_size(change, &size);
    if (r < 0)
        return r;
    r = buf_reserve(out, size);
    if (r < 0)
        return r;
    r = put(out, "set=1\n");
    if (r == 0 && (change->flags & WG_DEVICE_HAS_PRIVATE_KEY))
        r = put_key(out, "private_key", change->private_key);
    if (r == 0 && (change->flags & WG_DEVICE_HAS_LISTEN_PORT))
        r = put(out, "listen_port=%u\n", change->listen_port);
    if (r == 0 && (change->flags & WG_DEVICE_HAS_FWMARK))
        r = put(out, "fwmark=%u\n", change->fwmark);
    if (r == 0 && (change->flags & WG_DEVICE_REPLACE_PEERS))
        r = put(out, "replace_peers=true\n");
    for (size_t i = 0; r == 0 && i < change->n_peers; i++)
        r = encode_peer(out, &change->peers[i]);
    if (r == 0)
        r = put(out, "\n");
    if (r < 0)
        wg_uapi_buf_wipe(out);
    return r;
}

/* ---- parsers -------------------------------------------------------- */

struct field {
    const char *key, *value;
    size_t key_len, value_len;
};

static bool key_is(const struct field *f, const char *name)
{
    return f->key_len == strlen(name) && memcmp(f->key, name, f->key_len) == 0;
}

/* Plain decimal: no sign, no spaces, no empty string, at most @max. */
static int parse_u64(const struct field *f, uint64_t max, uint64_t *out)
{
    uint64_t x = 0;
    if (f->value_len == 0 || f->value_len > 20)
        return -EPROTO;
    for (size_t i = 0; i < f->value_len; i++) {
        unsigned digit = (unsigned char)f->value[i] - '0';
        if (digit > 9 || x > (max - digit) / 10)
            return -EPROTO;
        x = x * 10 + digit;
    }
    *out = x;
    return 0;
}

/* 64 hex digits in either case; wireguard-go sends lowercase. */
static int parse_key(const struct field *f, uint8_t key[WG_KEY_LEN])
{
    size_t bin_len = 0;
    if (f->value_len != KEY_HEX_LEN ||
        sodium_hex2bin(key, WG_KEY_LEN, f->value, f->value_len, NULL, &bin_len, NULL) != 0 ||
        bin_len != WG_KEY_LEN)
        return -EPROTO;
    return 0;
}

/* Copy a short value so the libc parsers get their NUL. */
static int short_value(const struct field *f, char *buf, size_t len)
{
    if (f->value_len == 0 || f->value_len >= len)
        return -EPROTO;
    memcpy(buf, f->value, f->value_len);
    buf[f->value_len] = '\0';
    return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
    struct field f = {.value = s, .value_len = strlen(s)};
    uint64_t v;
    if (parse_u64(&f, 65535, &v) < 0)
        return -EPROTO;
    *out = (uint16_t)v;
    return 0;
}

/* `a.b.c.d:port` or `[v6]:port`, v6 possibly with a %zone. */
static int parse_endpoint(const struct field *f, struct wg_peer *p)
{
    char buf[SHORT_VALUE_MAX];
    char *colon, *zone;
    uint16_t port;

    if (short_value(f, buf, sizeof(buf)) < 0)
        return -EPROTO;
    memset(&p->endpoint, 0, sizeof(p->endpoint));
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close || close[1] != ':' || parse_port(close + 2, &port) < 0)
            return -EPROTO;
        *close = '\0';
        zone = strchr(buf + 1, '%');
        if (zone)
            *zone++ = '\0';
        if (inet_pton(AF_INET6, buf + 1, &p->endpoint.in6.sin6_addr) != 1)
            return -EPROTO;
        if (zone) {
            struct field zf = {.value = zone, .value_len = strlen(zone)};
            uint64_t id;
            if (!*zone)
                return -EPROTO;
            /* Go prints link-local zones by interface name.  A name that
             * no longer exists leaves scope 0 rather than failing the
             * whole read of the device. */
            if (parse_u64(&zf, UINT32_MAX, &id) == 0)
                p->endpoint.in6.sin6_scope_id = (uint32_t)id;
            else
                p->endpoint.in6.sin6_scope_id = if_nametoindex(zone);
        }
        p->endpoint.in6.sin6_family = AF_INET6;
        p->endpoint.in6.sin6_port = htons(port);
    } else {
        colon = strrchr(buf, ':');
        if (!colon || parse_port(colon + 1, &port) < 0)
            return -EPROTO;
        *colon = '\0';
        if (inet_pton(AF_INET, buf, &p->endpoint.in4.sin_addr) != 1)
            return -EPROTO;
        p->endpoint.in4.sin_family = AF_INET;
        p->endpoint.in4.sin_port = htons(port);
    }
    p->flags |= WG_PEER_HAS_ENDPOINT;
    return 0;
}

/* `errno=N`: wireguard-go sends -N; accept N too, as wireguard-tools does. */
static int parse_errno_value(const struct field *f, int *out)
{
    struct field digits = *f;
    uint64_t v;
    if (digits.value_len && digits.value[0] == '-') {
        digits.value++;
        digits.value_len--;
    }
    if (parse_u64(&digits, ERRNO_MAX, &v) < 0)
        return -EPROTO;
    *out = -(int)v;
    return 0;
}

/* Split the line [p, nl) into key and value; reject anything a server
 * would not send: no '=', an empty key, key bytes outside [a-z0-9_],
 * control bytes in the value. */
static int split_line(const char *p, size_t n, struct field *f)
{
    const char *eq = memchr(p, '=', n);
    if (!eq || eq == p)
        return -EPROTO;
    f->key = p;
    f->key_len = (size_t)(eq - p);
    f->value = eq + 1;
    f->value_len = n - f->key_len - 1;
    for (size_t i = 0; i < f->key_len; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return -EPROTO;
    }
    for (size_t i = 0; i < f->value_len; i++) {
        unsigned char c = (unsigned char)f->value[i];
        if (c < 0x20 || c == 0x7f)
            return -EPROTO;
    }
    return 0;
}

static int parse_device_field(struct wg_device *d, const struct field *f)
{
    uint64_t v;
    if (key_is(f, "private_key")) {
        if (parse_key(f, d->private_key) < 0)
            return -EPROTO;
        if (crypto_scalarmult_base(d->public_key, d->private_key) != 0)
            return -EPROTO;
        d->flags |= WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_PUBLIC_KEY;
    } else if (key_is(f, "listen_port")) {
        if (parse_u64(f, 65535, &v) < 0)
            return -EPROTO;
        d->listen_port = (uint16_t)v;
        d->flags |= WG_DEVICE_HAS_LISTEN_PORT;
    } else if (key_is(f, "fwmark")) {
        if (parse_u64(f, UINT32_MAX, &v) < 0)
            return -EPROTO;
        d->fwmark = (uint32_t)v;
        d->flags |= WG_DEVICE_HAS_FWMARK;
    } else {
        return 1; /* not a device key */
    }
    return 0;
}

static bool is_peer_key(const struct field *f)
{
    static const char *const keys[] = {"preshared_key", "endpoint", "persistent_keepalive_interval",
                                       "allowed_ip", "last_handshake_time_sec", "last_handshake_time_nsec",
                                       "rx_bytes", "tx_bytes", "protocol_version"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (key_is(f, keys[i]))
            return true;
    return false;
}

static int parse_peer_field(struct wg_peer *p, const struct field *f)
{
    uint64_t v;
    if (key_is(f, "preshared_key")) {
        if (parse_key(f, p->preshared_key) < 0)
            return -EPROTO;
        /* Always sent; all zero means none (as wireguard-tools reads it).
         * The last line wins, flag included. */
        if (wg_key_is_zero(p->preshared_key))
            p->flags &= ~(uint32_t)WG_PEER_HAS_PRESHARED_KEY;
        else
            p->flags |= WG_PEER_HAS_PRESHARED_KEY;
    } else if (key_is(f, "endpoint")) {
        return parse_endpoint(f, p);
    } else if (key_is(f, "persistent_keepalive_interval")) {
        if (parse_u64(f, 65535, &v) < 0)
            return -EPROTO;
        p->keepalive = (uint16_t)v;
        p->flags |= WG_PEER_HAS_KEEPALIVE;
    } else if (key_is(f, "allowed_ip")) {
        char buf[SHORT_VALUE_MAX];
        struct wg_allowedip a;
        int r;
        if (short_value(f, buf, sizeof(buf)) < 0 || !strchr(buf, '/') || wg_allowedip_parse(buf, &a) < 0)
            return -EPROTO;
        r = wg_peer_add_allowedip(p, &a);
        if (r < 0)
            return r == -ENOMEM ? r : -EPROTO;
    } else if (key_is(f, "last_handshake_time_sec")) {
        if (parse_u64(f, INT64_MAX, &v) < 0)
            return -EPROTO;
        p->last_handshake.tv_sec = (time_t)v;
    } else if (key_is(f, "last_handshake_time_nsec")) {
        if (parse_u64(f, 999999999, &v) < 0)
            return -EPROTO;
        p->last_handshake.tv_nsec = (long)v;
    } else if (key_is(f, "rx_bytes")) {
        if (parse_u64(f, UINT64_MAX, &p->rx_bytes) < 0)
            return -EPROTO;
    } else if (key_is(f, "tx_bytes")) {
        if (parse_u64(f, UINT64_MAX, &p->tx_bytes) < 0)
            return -EPROTO;
    } else if (key_is(f, "protocol_version")) {
        if (f->value_len != 1 || f->value[0] != '1')
            return -EPROTO;
    }
    /* Any other key: a newer implementation's addition, skipped. */
    return 0;
}

int wg_uapi_parse_get(const char *reply, size_t len, const char *ifname, struct wg_device **out)
{
    struct wg_device *d = NULL;
    const char *p = reply, *end;
    bool have_peer = false, have_errno = false, done = false;
    int status = 0, r = 0;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!reply && len)
        return -EINVAL;
    if (len > WG_UAPI_MAX_REPLY)
        return -EMSGSIZE;
    if (sodium_init() < 0)
        return -EIO;
    d = wg_device_new(ifname);
    if (!d)
        return ifname && *ifname && strlen(ifname) < WG_IFNAMSIZ ? -ENOMEM : -EINVAL;

    end = reply + len;
    while (r == 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct field f;
        if (!nl) {
            r = -EPROTO; /* unterminated line */
            break;
        }
        if (nl == p) {
            /* The empty line ends the reply: after errno, at the very end. */
            if (!have_errno || nl + 1 != end)
                r = -EPROTO;
            done = true;
            break;
        }
        if (have_errno || split_line(p, (size_t)(nl - p), &f) < 0) {
            r = -EPROTO;
            break;
        }
        p = nl + 1;
        if (key_is(&f, "errno")) {
            r = parse_errno_value(&f, &status);
            have_errno = true;
        } else if (key_is(&f, "public_key")) {
            uint8_t key[WG_KEY_LEN];
            r = parse_key(&f, key);
            if (r == 0 && !wg_device_add_peer(d, key))
                r = -ENOMEM;
            have_peer = true;
        } else if (!have_peer) {
            /* A peer key with no peer to belong to. */
            if (is_peer_key(&f))
                r = -EPROTO;
            else
                r = parse_device_field(d, &f);
            if (r > 0)
                r = 0; /* unknown device-level key: skipped */
        } else {
            /* Device keys belong before the first peer. */
            if (key_is(&f, "private_key") || key_is(&f, "listen_port") || key_is(&f, "fwmark"))
                r = -EPROTO;
            else
                r = parse_peer_field(&d->peers[d->n_peers - 1], &f);
        }
    }
    if (r == 0 && !done)
        r = -EPROTO;
    if (r == 0 && status != 0)
        r = status;
    if (r < 0) {
        wg_device_free(d);
        return r;
    }
    *out = d;
    return 0;
}

int wg_uapi_parse_errno(const char *reply, size_t len)
{
    static const char prefix[] = "errno=";
    struct field f;
    int status;

    if (!reply || len < sizeof(prefix) + 2 || memcmp(reply, prefix, sizeof(prefix) - 1) != 0 ||
        reply[len - 1] != '\n' || reply[len - 2] != '\n')
        return -EPROTO;
    f.key = reply;
    f.key_len = sizeof(prefix) - 2;
    f.value = reply + sizeof(prefix) - 1;
    f.value_len = len - (sizeof(prefix) - 1) - 2;
    if (parse_errno_value(&f, &status) < 0)
        return -EPROTO;
    return status;
}

/* ---- transport ------------------------------------------------------ */

int wg_uapi_sock_path(const char *sock_dir, const char *ifname, char *buf, size_t len)
{
    struct sockaddr_un sun;
    size_t n;
    int w;

    if (!ifname || !*ifname || strlen(ifname) >= WG_IFNAMSIZ || strchr(ifname, '/') ||
        strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
        return -EINVAL;
    for (const char *c = ifname; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return -EINVAL;
    if (!sock_dir)
        sock_dir = WG_UAPI_DEFAULT_SOCK_DIR;
    w = snprintf(buf, len, "%s/%s.sock", sock_dir, ifname);
    if (w < 0)
        return -EINVAL;
    n = (size_t)w;
    if (n >= len || n >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    return 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int uapi_connect(const char *sock_dir, const char *ifname, int *out)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    long long deadline = now_ms() + WG_UAPI_TIMEOUT_MS;
    int fd, r;

    r = wg_uapi_sock_path(sock_dir, ifname, sun.sun_path, sizeof(sun.sun_path));
    if (r < 0)
        return r;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    for (;;) {
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno == EISCONN)
            break;
        if (errno == EINTR)
            continue;
        /* A full backlog: AF_UNIX offers nothing to poll on, so retry. */
        if (errno == EAGAIN && now_ms() < deadline) {
            struct timespec ts = {.tv_nsec = 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        r = errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR ? -ENODEV
            : errno == EAGAIN                                            ? -ETIMEDOUT
                                                                         : -errno;
        close(fd);
        return r;
    }
    *out = fd;
    return 0;
}

static int wait_fd(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n;
    do
        n = poll(&pfd, 1, WG_UAPI_TIMEOUT_MS);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    return n == 0 ? -ETIMEDOUT : 0;
}

/* Send everything.  A server that met a protocol error replies and hangs
 * up while we may still be writing: EPIPE then means "go read the reply". */
static int send_all(int fd, const char *req, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = wait_fd(fd, POLLOUT);
            if (r < 0)
                return r;
        } else if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            return 0;
        } else {
            return n < 0 ? -errno : -EIO;
        }
    }
    return 0;
}

/* Read up to and including the first "\n\n", growing the buffer as peers
 * demand, up to WG_UAPI_MAX_REPLY.  Progress resets the timeout so a long
 * reply is not cut short; a silent server is. */
static int recv_reply(int fd, struct wg_uapi_buf *b)
{
    size_t scanned = 0;
    int r;
    for (;;) {
        ssize_t n;
        if (b->cap - b->len < 2) {
            size_t cap = b->cap ? b->cap * 2 : 4096;
            if (b->len >= WG_UAPI_MAX_REPLY)
                return -EMSGSIZE;
            if (cap > WG_UAPI_MAX_REPLY + 1)
                cap = WG_UAPI_MAX_REPLY + 1;
            r = buf_reserve(b, cap);
            if (r < 0)
                return r;
        }
        n = recv(fd, b->data + b->len, b->cap - b->len - 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return errno == ECONNRESET ? -EPROTO : -errno;
            r = wait_fd(fd, POLLIN);
            if (r < 0)
                return r;
            continue;
        }
        if (n == 0)
            return -EPROTO; /* closed before the empty line */
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        /* Look for "\n\n" in the new bytes and the one before them. */
        for (size_t i = scanned ? scanned - 1 : 0; i + 1 < b->len; i++) {
            if (b->data[i] == '\n' && b->data[i + 1] == '\n') {
                b->len = i + 2;
                b->data[b->len] = '\0';
                return 0;
            }
        }
        scanned = b->len;
    }
}

int wg_uapi_transact(const char *sock_dir, const char *ifname, const char *req, size_t req_len,
                     struct wg_uapi_buf *reply)
{
    int fd = -1, r;

    if (!req || !reply || reply->data)
        return -EINVAL;
    r = uapi_connect(sock_dir, ifname, &fd);
    if (r < 0)
        return r;
    r = send_all(fd, req, req_len);
    if (r == 0)
        r = recv_reply(fd, reply);
    close(fd);
    if (r < 0)
        wg_uapi_buf_wipe(reply);
    return r;
}

int wg_uapi_get(const char *sock_dir, const char *ifname, struct wg_device **out)
{
    static const char req[] = "get=1\n\n";
    struct wg_uapi_buf reply = {0};
    int r;

    if (!out)
        return -EINVAL;
    *out = NULL;
    r = wg_uapi_transact(sock_dir, ifname, req, sizeof(req) - 1, &reply);
    if (r == 0)
        r = wg_uapi_parse_get(reply.data, reply.len, ifname, out);
    wg_uapi_buf_wipe(&reply);
    return r;
}

int wg_uapi_set(const char *sock_dir, const struct wg_device *change)
{
    struct wg_uapi_buf req = {0}, reply = {0};
    int r;

    if (!change)
        return -EINVAL;
    r = wg_uapi_encode_set(change, &req);
    if (r == 0)
        r = wg_uapi_transact(sock_dir, change->name, req.data, req.len, &reply);
    if (r == 0)
        r = wg_uapi_parse_errno(reply.data, reply.len);
    wg_uapi_buf_wipe(&req);
    wg_uapi_buf_wipe(&reply);
    return r;
}

int wg_uapi_server_pid(const char *sock_dir, const char *ifname, pid_t *out)
{
    struct ucred cred = {0};
    socklen_t len = sizeof(cred);
    int fd = -1, r;

    if (!out)
        return -EINVAL;
    r = uapi_connect(sock_dir, ifname, &fd);
    if (r < 0)
        return r;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        r = -errno;
    else if (cred.pid <= 0)
        r = -ENODEV;
    else
        *out = cred.pid;
    close(fd);
    return r;
}
