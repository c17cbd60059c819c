/* plugins/ipv6pool/prefix: IPv6 prefixes as 128-bit integers.
 *
 * Everything is integer arithmetic on unsigned __int128, so a pool of 2^48
 * or 2^128 prefixes costs what a pool of 256 does: nothing here ever looks
 * at more than one prefix. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "prefix.h"

/* Longest valid "addr/len": eight full groups, seven colons, "/128". */
#define PREFIX_MAXLEN (V6_PREFIX_STRLEN - 1)
#define ADDR_MAXLEN (V6_ADDR_STRLEN - 1)
/* 2^128 - 1 has 39 decimal digits. */
#define DEC_MAXLEN 39

static const char hexdigits[] = "0123456789abcdef";

/* 2^128 does not fit the type; its text is all we ever need of it. */
static const char two_128[] = "340282366920938463463374607431768211456";

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

v6_u128 v6_mask(unsigned len)
{
    /* A shift by the full width is undefined, hence the special case. */
    if (len == 0)
        return 0;
    if (len >= 128)
        return V6_U128_MAX;
    return V6_U128_MAX << (128 - len);
}

static bool canonical(const struct v6_prefix *p)
{
    return p->len <= 128 && (p->addr & ~v6_mask(p->len)) == 0;
}

int v6_prefix_parse(const char *s, size_t n, unsigned flags, struct v6_prefix *out)
{
    char text[V6_ADDR_STRLEN];
    unsigned char bytes[16];
    const char *slash;
    size_t alen, llen, i;
    unsigned len = 0;
    v6_u128 a = 0;

    if (!s || !out || n == 0 || n > PREFIX_MAXLEN || (flags & ~V6_PARSE_NORMALISE))
        return -EINVAL;
    if (!(slash = memchr(s, '/', n)))
        return -EINVAL;
    alen = (size_t)(slash - s);
    llen = n - alen - 1;
    /* Only hex digits and colons: this refuses dotted quads, zone ids,
     * spaces and NULs before inet_pton sees the text, so what we accept
     * does not depend on libc leniency. */
    if (alen < 2 || alen > ADDR_MAXLEN)
        return -EINVAL;
    for (i = 0; i < alen; i++)
        if (!is_hex(s[i]) && s[i] != ':')
            return -EINVAL;
    /* A length is 1-3 digits without a leading zero, "0" itself aside. */
    if (llen == 0 || (llen > 1 && slash[1] == '0'))
        return -EINVAL;
    for (i = 0; i < llen; i++) {
        char c = slash[1 + i];
        if (c < '0' || c > '9')
            return -EINVAL;
        if (len <= 128)
            len = len * 10 + (unsigned)(c - '0');
    }
    if (len > 128)
        return -ERANGE;
    memcpy(text, s, alen);
    text[alen] = '\0';
    if (inet_pton(AF_INET6, text, bytes) != 1)
        return -EINVAL;
    for (i = 0; i < 16; i++)
        a = a << 8 | bytes[i];
    if (a & ~v6_mask(len)) {
        if (!(flags & V6_PARSE_NORMALISE))
            return -EDOM;
        a &= v6_mask(len);
    }
    out->addr = a;
    out->len = (uint8_t)len;
    return 0;
}

/* Writes into @tmp (at least V6_ADDR_STRLEN) and answers the length. */
static size_t addr_text(v6_u128 a, char *tmp)
{
    unsigned g[8];
    int i, best = -1, bestlen = 0, cur = -1, curlen = 0;
    bool after_gap = false;
    size_t o = 0;

    for (i = 0; i < 8; i++)
        g[i] = (unsigned)(a >> (112 - 16 * i)) & 0xffffu;
    /* RFC 5952 4.2: the longest run of zero groups, the first on a tie,
     * and never a single group. */
    for (i = 0; i < 8; i++) {
        if (g[i]) {
            cur = -1;
            continue;
        }
        if (cur < 0) {
            cur = i;
            curlen = 0;
        }
        if (++curlen > bestlen) {
            best = cur;
            bestlen = curlen;
        }
    }
    if (bestlen < 2)
        best = -1;
    for (i = 0; i < 8; i++) {
        int shift;
        bool lead = true;

        if (i == best) {
            tmp[o++] = ':';
            tmp[o++] = ':';
            i += bestlen - 1;
            after_gap = true;
            continue;
        }
        if (i > 0 && !after_gap)
            tmp[o++] = ':';
        after_gap = false;
        for (shift = 12; shift >= 0; shift -= 4) {
            unsigned d = (g[i] >> shift) & 0xfu;
            if (d == 0 && lead && shift > 0)
                continue;
            lead = false;
            tmp[o++] = hexdigits[d];
        }
    }
    tmp[o] = '\0';
    return o;
}

int v6_addr_format(v6_u128 a, char *buf, size_t size)
{
    char tmp[V6_ADDR_STRLEN];
    size_t n = addr_text(a, tmp);

    if (!buf || size < n + 1)
        return -ENOBUFS;
    memcpy(buf, tmp, n + 1);
    return 0;
}

int v6_prefix_format(const struct v6_prefix *p, char *buf, size_t size)
{
    char tmp[V6_PREFIX_STRLEN];
    size_t n = addr_text(p->addr, tmp);
    unsigned len = p->len;

    tmp[n++] = '/';
    if (len >= 100)
        tmp[n++] = (char)('0' + len / 100);
    if (len >= 10)
        tmp[n++] = (char)('0' + len / 10 % 10);
    tmp[n++] = (char)('0' + len % 10);
    tmp[n] = '\0';
    if (!buf || size < n + 1)
        return -ENOBUFS;
    memcpy(buf, tmp, n + 1);
    return 0;
}

bool v6_prefix_contains(const struct v6_prefix *outer, const struct v6_prefix *inner)
{
    return inner->len >= outer->len && ((inner->addr ^ outer->addr) & v6_mask(outer->len)) == 0;
}

bool v6_prefix_overlaps(const struct v6_prefix *a, const struct v6_prefix *b)
{
    unsigned shorter = a->len < b->len ? a->len : b->len;

    return ((a->addr ^ b->addr) & v6_mask(shorter)) == 0;
}

int v6_sub_check(const struct v6_prefix *pool, unsigned plen, const struct v6_prefix *p)
{
    if (!canonical(pool) || plen > 128 || p->len != plen)
        return -EINVAL;
    if (p->addr & ~v6_mask(plen))
        return -EDOM;
    if (!v6_prefix_contains(pool, p))
        return -ERANGE;
    return 0;
}

bool v6_prefix_aligned(const struct v6_prefix *pool, unsigned plen, const struct v6_prefix *p)
{
    return v6_sub_check(pool, plen, p) == 0;
}

int v6_sub_count(unsigned pool_len, unsigned plen, struct v6_count *out)
{
    unsigned d;

    if (plen > 128 || plen < pool_len)
        return -EINVAL;
    d = plen - pool_len;
    out->top = d == 128;
    out->low = d == 128 ? 0 : (v6_u128)1 << d;
    return 0;
}

v6_u128 v6_sub_last(unsigned pool_len, unsigned plen)
{
    unsigned d;

    if (plen > 128 || plen < pool_len)
        return 0;
    d = plen - pool_len;
    return d == 128 ? V6_U128_MAX : ((v6_u128)1 << d) - 1;
}

int v6_sub_index(const struct v6_prefix *pool, const struct v6_prefix *sub, v6_u128 *idx)
{
    int r = v6_sub_check(pool, sub->len, sub);

    if (r < 0)
        return r;
    /* sub->len == 0 means pool is ::/0 and sub is the pool itself. */
    *idx = sub->len == 0 ? 0 : (sub->addr - pool->addr) >> (128 - sub->len);
    return 0;
}

int v6_sub_at(const struct v6_prefix *pool, unsigned plen, v6_u128 idx, struct v6_prefix *out)
{
    if (!canonical(pool) || plen > 128 || plen < pool->len)
        return -EINVAL;
    if (idx > v6_sub_last(pool->len, plen))
        return -ERANGE;
    /* idx fits in plen - pool->len bits, so the sum stays inside the pool. */
    out->addr = pool->addr + (plen == 0 ? 0 : idx << (128 - plen));
    out->len = (uint8_t)plen;
    return 0;
}

int v6_count_sub(struct v6_count *c, v6_u128 n)
{
    if (c->top) {
        if (n) {
            /* 2^128 - n for 0 < n < 2^128: unsigned wrap-around is exact here. */
            c->top = false;
            c->low = (v6_u128)0 - n;
        }
        return 0;
    }
    if (n > c->low)
        return -ERANGE;
    c->low -= n;
    return 0;
}

int v6_count_cmp(const struct v6_count *c, v6_u128 n)
{
    if (c->top)
        return 1;
    return c->low < n ? -1 : c->low > n;
}

int v6_u128_format(v6_u128 v, char *buf, size_t size)
{
    char tmp[V6_DEC_STRLEN];
    size_t o = sizeof(tmp) - 1, n;

    tmp[o] = '\0';
    do {
        tmp[--o] = (char)('0' + (unsigned)(v % 10));
        v /= 10;
    } while (v);
    n = sizeof(tmp) - 1 - o;
    if (!buf || size < n + 1)
        return -ENOBUFS;
    memcpy(buf, tmp + o, n + 1);
    return 0;
}

int v6_count_format(const struct v6_count *c, char *buf, size_t size)
{
    if (!c->top)
        return v6_u128_format(c->low, buf, size);
    if (!buf || size < sizeof(two_128))
        return -ENOBUFS;
    memcpy(buf, two_128, sizeof(two_128));
    return 0;
}

int v6_u128_parse(const char *s, size_t n, v6_u128 *out)
{
    v6_u128 v = 0;
    size_t i;

    if (!s || !out || n == 0 || (n > 1 && s[0] == '0'))
        return -EINVAL;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
    if (n > DEC_MAXLEN)
        return -ERANGE;
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (V6_U128_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

void v6_u128_to_hex(v6_u128 v, char buf[V6_HEX_LEN + 1])
{
    int i;

    for (i = V6_HEX_LEN - 1; i >= 0; i--) {
        buf[i] = hexdigits[(unsigned)v & 0xfu];
        v >>= 4;
    }
    buf[V6_HEX_LEN] = '\0';
}

int v6_u128_from_hex(const char *s, size_t n, v6_u128 *out)
{
    v6_u128 v = 0;
    size_t i;

    if (!s || !out || n != V6_HEX_LEN)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -EINVAL; /* uppercase too: it would sort apart from the rest */
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}
