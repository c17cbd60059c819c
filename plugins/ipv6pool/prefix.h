/**
 * @file prefix.h
 * @brief 128-bit IPv6 prefix arithmetic for the ipv6pool plugin.
 *
 * Pure functions, no allocation, no I/O, thread-safe.  An address is a
 * host-order unsigned 128-bit number (the first byte on the wire is the most
 * significant), so prefix arithmetic is plain integer arithmetic: a pool
 * P/L carved into prefixes of length N holds 2^(N-L) of them, and the one at
 * index i is P + (i << (128 - N)).
 *
 * Errors are negative errno values:
 *  - -EINVAL  malformed text (syntax, IPv4, junk, overlong) or wrong length
 *  - -ERANGE  a number out of range (length > 128, decimal > 2^128-1, index
 *             past the end, a prefix outside its pool)
 *  - -EDOM    host bits set where they must be zero
 *  - -ENOBUFS an output buffer too small
 */
#ifndef WGM_IPV6POOL_PREFIX_H
#define WGM_IPV6POOL_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An unsigned 128-bit integer (gcc and clang on 64-bit targets). */
typedef unsigned __int128 v6_u128;

/** The largest v6_u128, 2^128 - 1. */
#define V6_U128_MAX (~(v6_u128)0)

/** Room for any prefix in text: 39 address characters, "/128" and the NUL. */
#define V6_PREFIX_STRLEN 44
/** Room for any address in text, with the NUL. */
#define V6_ADDR_STRLEN 40
/** Room for any count in decimal (2^128 has 39 digits), with the NUL. */
#define V6_DEC_STRLEN 40
/** The fixed width of the storage form of a v6_u128 (v6_u128_to_hex), without the NUL. */
#define V6_HEX_LEN 32

/** Parse flag: clear host bits instead of refusing them with -EDOM. */
#define V6_PARSE_NORMALISE 0x1u

/** An IPv6 prefix.  Invariant kept by every function here: the bits of
 *  @c addr past @c len are zero. */
struct v6_prefix {
    v6_u128 addr; /**< network address, host order */
    uint8_t len;  /**< prefix length, 0..128 */
};

/**
 * A number of prefixes, 0 ..= 2^128.  One bit wider than v6_u128 because a
 * /0 carved into /128s holds exactly 2^128; that is the only value with
 * @c top set (and then @c low is 0).
 */
struct v6_count {
    v6_u128 low; /**< the value modulo 2^128 */
    bool top;    /**< the value is 2^128 */
};

/** The netmask of a /@p len as a number: the top @p len bits set.  @p len <= 128. */
v6_u128 v6_mask(unsigned len);

/**
 * Parse "addr/len" of @p n bytes (no NUL needed; an embedded NUL is junk).
 * Strict: only hex digits and ':' before the one '/', a decimal length
 * without sign, spaces or leading zeros, at most 43 bytes in all.  IPv4 in
 * any spelling (including ::ffff:a.b.c.d) and zone ids are refused.
 * @param flags 0 or #V6_PARSE_NORMALISE.
 * @return 0, -EINVAL (syntax), -ERANGE (length > 128) or -EDOM (host bits
 *         set without #V6_PARSE_NORMALISE).  @p out is written only on 0.
 */
int v6_prefix_parse(const char *s, size_t n, unsigned flags, struct v6_prefix *out);

/** Format @p a per RFC 5952 (lowercase, longest zero run of two or more
 *  groups as "::", never a dotted quad).  0 or -ENOBUFS. */
int v6_addr_format(v6_u128 a, char *buf, size_t size);

/** Format @p p as "addr/len" in the form of v6_addr_format.  0 or -ENOBUFS. */
int v6_prefix_format(const struct v6_prefix *p, char *buf, size_t size);

/** True when @p inner lies within @p outer (equal counts). */
bool v6_prefix_contains(const struct v6_prefix *outer, const struct v6_prefix *inner);

/** True when @p a and @p b share an address (one contains the other). */
bool v6_prefix_overlaps(const struct v6_prefix *a, const struct v6_prefix *b);

/**
 * Check that @p p is one of the prefixes a pool @p pool carved into
 * /@p plen hands out.
 * @return 0; -EINVAL when @p p is not a /@p plen; -EDOM when its host
 *         bits are set; -ERANGE when it lies outside @p pool.
 */
int v6_sub_check(const struct v6_prefix *pool, unsigned plen, const struct v6_prefix *p);

/** True when v6_sub_check() answers 0. */
bool v6_prefix_aligned(const struct v6_prefix *pool, unsigned plen, const struct v6_prefix *p);

/**
 * The number of /@p plen prefixes in a /@p pool_len: 2^(plen - pool_len).
 * @return 0 or -EINVAL (plen < pool_len or plen > 128).
 */
int v6_sub_count(unsigned pool_len, unsigned plen, struct v6_count *out);

/** The index of the last /@p plen in a /@p pool_len (the count minus one,
 *  which always fits).  Requires pool_len <= plen <= 128. */
v6_u128 v6_sub_last(unsigned pool_len, unsigned plen);

/**
 * The index of @p sub among the /sub->len prefixes of @p pool (0 for the
 * first).  @return 0 or the errors of v6_sub_check().
 */
int v6_sub_index(const struct v6_prefix *pool, const struct v6_prefix *sub, v6_u128 *idx);

/**
 * The /@p plen prefix at index @p idx of @p pool.
 * @return 0, -EINVAL (plen < pool->len or > 128), -ERANGE (idx past the last).
 */
int v6_sub_at(const struct v6_prefix *pool, unsigned plen, v6_u128 idx, struct v6_prefix *out);

/** @p c minus @p n, in place.  0, or -ERANGE when @p n > @p c (@p c unchanged). */
int v6_count_sub(struct v6_count *c, v6_u128 n);

/** -1, 0 or 1 as @p c is below, equal to or above @p n. */
int v6_count_cmp(const struct v6_count *c, v6_u128 n);

/** Format @p c in decimal, exactly (2^128 included).  0 or -ENOBUFS. */
int v6_count_format(const struct v6_count *c, char *buf, size_t size);

/** Format @p v in decimal, exactly.  0 or -ENOBUFS. */
int v6_u128_format(v6_u128 v, char *buf, size_t size);

/**
 * Parse a decimal of @p n bytes: digits only, no sign, spaces or leading
 * zeros ("0" itself is fine).
 * @return 0, -EINVAL (syntax) or -ERANGE (above 2^128 - 1).
 */
int v6_u128_parse(const char *s, size_t n, v6_u128 *out);

/**
 * The storage form of @p v: exactly #V6_HEX_LEN lowercase hex digits and a
 * NUL in @p buf.  Fixed width and lowercase, so byte order (SQLite BINARY,
 * MariaDB ascii_bin) is numeric order and the column indexes, compares and
 * sorts like the number.
 */
void v6_u128_to_hex(v6_u128 v, char buf[V6_HEX_LEN + 1]);

/** Parse the storage form: exactly #V6_HEX_LEN lowercase hex digits.  0 or -EINVAL. */
int v6_u128_from_hex(const char *s, size_t n, v6_u128 *out);

#ifdef __cplusplus
}
#endif
#endif
