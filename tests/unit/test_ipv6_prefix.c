/* Unit tests for plugins/ipv6pool/prefix: parse, format, containment,
 * indices and exact counts at the edges (/0, /127, /128, 2^128). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tap.h"
#include "prefix.h"

static int parse(const char *s, unsigned flags, struct v6_prefix *p)
{
    return v6_prefix_parse(s, strlen(s), flags, p);
}

/* Parse @in strictly and format it again. */
static const char *round_trip(const char *in, char *buf, size_t size)
{
    struct v6_prefix p;

    if (parse(in, 0, &p) < 0 || v6_prefix_format(&p, buf, size) < 0)
        return NULL;
    return buf;
}

static struct v6_prefix pfx(const char *s)
{
    struct v6_prefix p = {0};

    if (parse(s, 0, &p) < 0)
        printf("# cannot parse %s\n", s);
    return p;
}

/* @in with control bytes escaped, so that a TAP line stays one line. */
static const char *printable(const char *in, char *buf, size_t size)
{
    size_t o = 0;

    for (; *in && o + 5 < size; in++)
        o += (size_t)snprintf(buf + o, size - o, (unsigned char)*in < 0x20 ? "\\x%02x" : "%c", *in);
    buf[o] = '\0';
    return buf;
}

static const char *u128_text(v6_u128 v, char *buf)
{
    return v6_u128_format(v, buf, V6_DEC_STRLEN) == 0 ? buf : NULL;
}

static const char *count_text(const struct v6_count *c, char *buf)
{
    return v6_count_format(c, buf, V6_DEC_STRLEN) == 0 ? buf : NULL;
}

static void test_parse_ok(void)
{
    struct v6_prefix p;
    char buf[V6_PREFIX_STRLEN];

    is_int(parse("2001:db8::/32", 0, &p), 0, "parse 2001:db8::/32");
    ok(p.len == 32 && p.addr == (v6_u128)0x20010db8 << 96, "2001:db8::/32 value");
    is_int(parse("::/0", 0, &p), 0, "parse ::/0");
    ok(p.len == 0 && p.addr == 0, "::/0 value");
    is_int(parse("::1/128", 0, &p), 0, "parse ::1/128");
    ok(p.len == 128 && p.addr == 1, "::1/128 value");
    is_int(parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", 0, &p), 0, "parse all-ones /128 (43 bytes)");
    ok(p.addr == V6_U128_MAX, "all-ones value");
    is_int(parse("0000:0000:0000:0000:0000:0000:0000:0000/128", 0, &p), 0, "parse zero padded 43 bytes");
    is_int(parse("2001:DB8:0:0:0:0:0:0/32", 0, &p), 0, "uppercase and uncompressed accepted");
    is_str(round_trip("2001:DB8:0:0:0:0:0:0/32", buf, sizeof(buf)), "2001:db8::/32", "formatted canonically");
    is_int(parse("fe80::/127", 0, &p), 0, "parse /127");
    is_int(parse("1:2:3:4:5:6:7::/128", 0, &p), 0, ":: standing for one trailing group");

    /* Normalising. */
    is_int(parse("2001:db8::1/32", V6_PARSE_NORMALISE, &p), 0, "host bits cleared with NORMALISE");
    is_str(v6_prefix_format(&p, buf, sizeof(buf)) == 0 ? buf : NULL, "2001:db8::/32", "normalised value");
    is_int(parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/0", V6_PARSE_NORMALISE, &p), 0, "normalise to /0");
    ok(p.addr == 0 && p.len == 0, "normalised /0 is ::");
}

static void test_parse_errors(void)
{
    static const struct {
        const char *in;
        int want;
        const char *why;
    } cases[] = {
        {"", -EINVAL, "empty"},
        {"2001:db8::", -EINVAL, "no length"},
        {"2001:db8::/", -EINVAL, "empty length"},
        {"/64", -EINVAL, "empty address"},
        {":/64", -EINVAL, "one colon"},
        {"2001:db8::/129", -ERANGE, "length 129"},
        {"2001:db8::/999", -ERANGE, "length 999"},
        {"::/1000", -ERANGE, "length 1000"},
        {"2001:db8::/064", -EINVAL, "leading zero in length"},
        {"2001:db8::/00", -EINVAL, "length 00"},
        {"2001:db8::/+64", -EINVAL, "signed length"},
        {"2001:db8::/-1", -EINVAL, "negative length"},
        {"2001:db8::/6 4", -EINVAL, "space in length"},
        {"2001:db8::/64 ", -EINVAL, "trailing space"},
        {" 2001:db8::/64", -EINVAL, "leading space"},
        {"2001:db8::/ 64", -EINVAL, "space before the length (strtol would skip it)"},
        {"2001:db8:: /64", -EINVAL, "space before the slash"},
        {"2001:db8::/\t64", -EINVAL, "tab before the length"},
        {"2001:db8::/64\n", -EINVAL, "trailing newline"},
        {"2001:db8::/64x", -EINVAL, "trailing junk"},
        {"x2001:db8::/64", -EINVAL, "leading junk"},
        {"2001:db8::/32/64", -EINVAL, "two slashes"},
        {"2001:db8::1/32", -EDOM, "host bits set"},
        {"::1/127", -EDOM, "host bit of a /127"},
        {"8000::/0", -EDOM, "host bits of a /0"},
        {"192.168.0.0/16", -EINVAL, "IPv4"},
        {"::ffff:192.168.0.0/112", -EINVAL, "IPv4-mapped dotted quad"},
        {"::192.168.0.0/112", -EINVAL, "IPv4-compatible dotted quad"},
        {"fe80::%eth0/64", -EINVAL, "zone id"},
        {"2001:db8:::/48", -EINVAL, "triple colon"},
        {"2001::db8::/48", -EINVAL, "two ::"},
        {"12345::/16", -EINVAL, "five hex digits in a group"},
        {"1:2:3:4:5:6:7:8:9/128", -EINVAL, "nine groups"},
        {"1:2:3:4:5:6:7/128", -EINVAL, "seven groups"},
        {"g::/16", -EINVAL, "not hex"},
        {"2001:db8::/64/", -EINVAL, "trailing slash"},
        {"0000:0000:0000:0000:0000:0000:0000:00000/128", -EINVAL, "overlong (44 bytes)"},
        {"2001:0db8:0000:0000:0000:0000:0000:0000:/32", -EINVAL, "overlong address part"},
        {"::/00000000000000000000000000000000000000000", -EINVAL, "overlong length"},
    };
    struct v6_prefix p = {.addr = 42, .len = 7};
    char esc[128];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = parse(cases[i].in, 0, &p);
        tap_report(r == cases[i].want, __FILE__, __LINE__, "refuse %s: \"%s\" (got %d, want %d)",
                   cases[i].why, printable(cases[i].in, esc, sizeof(esc)), r, cases[i].want);
    }
    ok(p.addr == 42 && p.len == 7, "output untouched on errors");
    is_int(v6_prefix_parse("2001:db8::/32\0junk", 18, 0, &p), -EINVAL, "embedded NUL");
    is_int(v6_prefix_parse("::/32", 4, 0, &p), 0, "the length bounds the input (\"::/3\")");
    is_int(p.len, 3, "... giving /3");
    is_int(v6_prefix_parse("2001:db8::/32", 12, 0, &p), -EDOM, "\"2001:db8::/3\" has host bits");
    is_int(v6_prefix_parse("2001:db8::/32", 13, 0x2, &p), -EINVAL, "unknown flag");
    is_int(v6_prefix_parse(NULL, 3, 0, &p), -EINVAL, "NULL input");
}

static void test_format(void)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"::/0", "::/0"},
        {"::1/128", "::1/128"},
        {"1::/16", "1::/16"},
        {"2001:db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128"}, /* first of equal runs */
        {"2001:0:0:1:0:0:0:1/128", "2001:0:0:1::1/128"},       /* the longest run */
        {"2001:db8:0:1:1:1:1:1/128", "2001:db8:0:1:1:1:1:1/128"}, /* never one group */
        {"::ffff:c000:280/128", "::ffff:c000:280/128"},           /* no dotted quad */
        {"0:0:0:0:0:0:c000:280/128", "::c000:280/128"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
        {"1:0:0:0:0:0:0:0/16", "1::/16"},
        {"0:1:0:0:0:0:0:0/32", "0:1::/32"},
        {"1:2:3:4:5:6:7:0/128", "1:2:3:4:5:6:7:0/128"},
        {"1:2:3:4:5:6:0:0/112", "1:2:3:4:5:6::/112"},
        {"00ab:0c00::/32", "ab:c00::/32"},
    };
    char buf[V6_PREFIX_STRLEN], small[8];
    struct v6_prefix p;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_str(round_trip(cases[i].in, buf, sizeof(buf)), cases[i].want, cases[i].in);
    p = pfx("2001:db8::/32");
    is_int(v6_prefix_format(&p, small, sizeof(small)), -ENOBUFS, "prefix buffer too small");
    is_int(v6_prefix_format(&p, buf, 14), 0, "exact-size prefix buffer");
    is_int(v6_prefix_format(&p, buf, 13), -ENOBUFS, "one byte short");
    is_int(v6_addr_format(1, buf, 4), 0, "addr ::1 in 4 bytes");
    is_str(buf, "::1", "addr ::1");
    is_int(v6_addr_format(1, buf, 3), -ENOBUFS, "addr ::1 in 3 bytes");
}

static void test_contains_overlaps(void)
{
    struct v6_prefix a = pfx("2001:db8::/32"), b = pfx("2001:db8:1::/48"), c = pfx("2001:db9::/32"),
                     d = pfx("2001:db8::/31"), all = pfx("::/0"), one = pfx("2001:db8::/128"),
                     last = pfx("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128");

    ok(v6_prefix_contains(&a, &a), "contains: equal");
    ok(v6_prefix_overlaps(&a, &a), "overlaps: equal");
    ok(v6_prefix_contains(&a, &b), "contains: nested");
    ok(!v6_prefix_contains(&b, &a), "contains: not the outer in the inner");
    ok(v6_prefix_overlaps(&a, &b) && v6_prefix_overlaps(&b, &a), "overlaps: nested, both ways");
    ok(!v6_prefix_contains(&a, &c) && !v6_prefix_overlaps(&a, &c), "adjacent: neither contains nor overlaps");
    ok(v6_prefix_contains(&d, &a) && v6_prefix_contains(&d, &c), "a /31 contains both adjacent /32s");
    ok(v6_prefix_overlaps(&c, &d), "... and overlaps the upper one");
    ok(!v6_prefix_overlaps(&b, &c), "disjoint");
    ok(v6_prefix_contains(&all, &c) && v6_prefix_overlaps(&c, &all), "::/0 contains everything");
    ok(v6_prefix_contains(&a, &one) && v6_prefix_contains(&a, &last), "first and last /128 inside");
    ok(v6_prefix_contains(&one, &one), "/128 contains itself");
}

static void test_sub(void)
{
    struct v6_prefix pool = pfx("2001:db8::/32"), p, q;
    char buf[V6_PREFIX_STRLEN];
    v6_u128 idx = 7;

    is_int(v6_sub_at(&pool, 64, 0, &p), 0, "first /64 of a /32");
    is_str(v6_prefix_format(&p, buf, sizeof(buf)) == 0 ? buf : NULL, "2001:db8::/64", "first /64");
    is_int(v6_sub_at(&pool, 64, 0xffffffffu, &p), 0, "last /64 of a /32");
    is_str(v6_prefix_format(&p, buf, sizeof(buf)) == 0 ? buf : NULL, "2001:db8:ffff:ffff::/64", "last /64");
    is_int(v6_sub_at(&pool, 64, 0x100000000u, &p), -ERANGE, "one past the last");
    is_int(v6_sub_at(&pool, 31, 0, &p), -EINVAL, "sub length shorter than the pool");
    is_int(v6_sub_at(&pool, 129, 0, &p), -EINVAL, "sub length 129");
    is_int(v6_sub_at(&pool, 32, 0, &p), 0, "the pool itself at /32");
    is_int(v6_sub_at(&pool, 32, 1, &p), -ERANGE, "nothing after it");

    q = pfx("2001:db8:1234:5678::/64");
    is_int(v6_sub_index(&pool, &q, &idx), 0, "index of 2001:db8:1234:5678::/64");
    ok(idx == 0x12345678u, "... is 0x12345678");
    is_int(v6_sub_at(&pool, 64, idx, &p), 0, "and back");
    ok(p.addr == q.addr && p.len == 64, "... the same prefix");
    q = pfx("2001:db9::/64");
    is_int(v6_sub_index(&pool, &q, &idx), -ERANGE, "index of a prefix outside");
    q = pfx("2001::/16");
    is_int(v6_sub_check(&pool, 64, &q), -EINVAL, "check: wrong length");
    q.addr = pool.addr | 1;
    q.len = 64;
    is_int(v6_sub_check(&pool, 64, &q), -EDOM, "check: host bits set");
    ok(!v6_prefix_aligned(&pool, 64, &q), "not aligned");
    q = pfx("2001:db8:ffff:ffff::/64");
    ok(v6_prefix_aligned(&pool, 64, &q), "last /64 aligned");
    q = pfx("2001:db8::/63");
    is_int(v6_sub_check(&pool, 64, &q), -EINVAL, "check: a /63 in a /64 pool");

    /* /0 and /128 edges. */
    pool = pfx("::/0");
    is_int(v6_sub_at(&pool, 128, V6_U128_MAX, &p), 0, "last /128 of ::/0");
    ok(p.addr == V6_U128_MAX && p.len == 128, "... is ffff...ffff/128");
    is_int(v6_sub_index(&pool, &p, &idx), 0, "its index");
    ok(idx == V6_U128_MAX, "... is 2^128 - 1");
    is_int(v6_sub_at(&pool, 0, 0, &p), 0, "::/0 at /0 is itself");
    is_int(v6_sub_index(&pool, &pool, &idx), 0, "index of ::/0 in ::/0");
    ok(idx == 0, "... is 0");
    is_int(v6_sub_at(&pool, 1, 1, &p), 0, "second /1 of ::/0");
    is_str(v6_prefix_format(&p, buf, sizeof(buf)) == 0 ? buf : NULL, "8000::/1", "... is 8000::/1");
    pool = pfx("2001:db8::/127");
    is_int(v6_sub_at(&pool, 128, 1, &p), 0, "second /128 of a /127");
    is_str(v6_prefix_format(&p, buf, sizeof(buf)) == 0 ? buf : NULL, "2001:db8::1/128", "... is ::1");
    is_int(v6_sub_at(&pool, 128, 2, &p), -ERANGE, "no third /128 in a /127");
    pool = pfx("2001:db8::1/128");
    is_int(v6_sub_at(&pool, 128, 0, &p), 0, "a /128 pool holds itself");
    ok(p.addr == pool.addr, "... the same address");
    pool = (struct v6_prefix){.addr = 1, .len = 64};
    is_int(v6_sub_at(&pool, 128, 0, &p), -EINVAL, "non-canonical pool refused");
}

static void test_counts(void)
{
    struct v6_count c;
    char buf[V6_DEC_STRLEN];
    v6_u128 v;

    is_int(v6_sub_count(0, 128, &c), 0, "count /0 into /128");
    ok(c.top && c.low == 0, "... is 2^128 (top bit)");
    is_str(count_text(&c, buf), "340282366920938463463374607431768211456", "2^128 exact");
    is_int(v6_count_cmp(&c, V6_U128_MAX), 1, "2^128 > 2^128-1");
    is_int(v6_count_sub(&c, 1), 0, "2^128 - 1");
    is_str(count_text(&c, buf), "340282366920938463463374607431768211455", "2^128 - 1 exact");
    is_int(v6_count_cmp(&c, V6_U128_MAX), 0, "equals V6_U128_MAX");
    is_int(v6_sub_count(0, 128, &c), 0, "again");
    is_int(v6_count_sub(&c, V6_U128_MAX), 0, "2^128 - (2^128 - 1)");
    is_str(count_text(&c, buf), "1", "... is 1");
    is_int(v6_count_sub(&c, 2), -ERANGE, "1 - 2 refused");
    is_str(count_text(&c, buf), "1", "... unchanged");
    is_int(v6_sub_count(0, 128, &c), 0, "and again");
    is_int(v6_count_sub(&c, 0), 0, "2^128 - 0");
    ok(c.top, "... still 2^128");

    is_int(v6_sub_count(1, 128, &c), 0, "count /1 into /128");
    is_str(count_text(&c, buf), "170141183460469231731687303715884105728", "2^127 exact");
    is_int(v6_sub_count(64, 128, &c), 0, "count /64 into /128");
    is_str(count_text(&c, buf), "18446744073709551616", "2^64 exact");
    is_int(v6_sub_count(32, 64, &c), 0, "count /32 into /64");
    is_str(count_text(&c, buf), "4294967296", "2^32");
    is_int(v6_sub_count(16, 64, &c), 0, "count /16 into /64");
    is_str(count_text(&c, buf), "281474976710656", "2^48");
    is_int(v6_sub_count(10, 64, &c), 0, "count /10 into /64");
    is_int(v6_count_sub(&c, ((v6_u128)1 << 53) - 1), 0, "2^54 - (2^53 - 1)");
    is_str(count_text(&c, buf), "9007199254740993", "2^53 + 1 exact (not a double)");
    is_int(v6_sub_count(56, 64, &c), 0, "count /56 into /64");
    is_str(count_text(&c, buf), "256", "256");
    is_int(v6_sub_count(64, 64, &c), 0, "count /64 into /64");
    is_str(count_text(&c, buf), "1", "1");
    is_int(v6_sub_count(127, 128, &c), 0, "count /127 into /128");
    is_str(count_text(&c, buf), "2", "2");
    is_int(v6_sub_count(64, 63, &c), -EINVAL, "shorter sub length refused");
    is_int(v6_sub_count(0, 129, &c), -EINVAL, "length 129 refused");

    ok(v6_sub_last(0, 128) == V6_U128_MAX, "last index of /0 into /128");
    ok(v6_sub_last(32, 64) == 0xffffffffu, "last index of /32 into /64");
    ok(v6_sub_last(64, 64) == 0, "last index of /64 into /64");

    /* Decimal text. */
    is_str(u128_text(0, buf), "0", "format 0");
    is_str(u128_text(V6_U128_MAX, buf), "340282366920938463463374607431768211455", "format 2^128-1");
    is_str(u128_text(((v6_u128)1 << 53) + 1, buf), "9007199254740993", "format 2^53+1");
    is_str(u128_text((v6_u128)1 << 64, buf), "18446744073709551616", "format 2^64");
    is_int(v6_u128_format(12345, buf, 5), -ENOBUFS, "format into a short buffer");
    is_int(v6_u128_format(12345, buf, 6), 0, "format into an exact buffer");

    is_int(v6_u128_parse("340282366920938463463374607431768211455", 39, &v), 0, "parse 2^128-1");
    ok(v == V6_U128_MAX, "... exact");
    is_int(v6_u128_parse("340282366920938463463374607431768211456", 39, &v), -ERANGE, "parse 2^128");
    is_int(v6_u128_parse("999999999999999999999999999999999999999", 39, &v), -ERANGE, "parse 39 nines");
    is_int(v6_u128_parse("1000000000000000000000000000000000000000", 40, &v), -ERANGE, "parse 40 digits");
    is_int(v6_u128_parse("9007199254740993", 16, &v), 0, "parse 2^53+1");
    ok(v == ((v6_u128)1 << 53) + 1, "... exact");
    is_int(v6_u128_parse("18446744073709551616", 20, &v), 0, "parse 2^64");
    ok(v == (v6_u128)1 << 64, "... exact");
    is_int(v6_u128_parse("0", 1, &v), 0, "parse 0");
    ok(v == 0, "... is 0");
    is_int(v6_u128_parse("", 0, &v), -EINVAL, "parse empty");
    is_int(v6_u128_parse("01", 2, &v), -EINVAL, "parse leading zero");
    is_int(v6_u128_parse("-1", 2, &v), -EINVAL, "parse negative");
    is_int(v6_u128_parse("+1", 2, &v), -EINVAL, "parse plus");
    is_int(v6_u128_parse("1 ", 2, &v), -EINVAL, "parse trailing space");
    is_int(v6_u128_parse(" 1", 2, &v), -EINVAL, "parse leading space (strtoull would skip it)");
    is_int(v6_u128_parse("\t1", 2, &v), -EINVAL, "parse leading tab");
    is_int(v6_u128_parse("1e3", 3, &v), -EINVAL, "parse exponent");
    is_int(v6_u128_parse("0x10", 4, &v), -EINVAL, "parse hex");
    is_int(v6_u128_parse("1.0", 3, &v), -EINVAL, "parse fraction");
    is_int(v6_u128_parse("12\0", 3, &v), -EINVAL, "parse embedded NUL");
}

static void test_hex(void)
{
    char a[V6_HEX_LEN + 1], b[V6_HEX_LEN + 1];
    v6_u128 v, pairs[][2] = {
        {0, 1}, {0xff, 0x100}, {(v6_u128)1 << 63, (v6_u128)1 << 64},
        {((v6_u128)1 << 64) - 1, (v6_u128)1 << 64}, {V6_U128_MAX - 1, V6_U128_MAX},
        {0x7fffffffffffffffu, 0x8000000000000000u},
    };
    size_t i;

    v6_u128_to_hex(0, a);
    is_str(a, "00000000000000000000000000000000", "hex 0");
    v6_u128_to_hex(V6_U128_MAX, a);
    is_str(a, "ffffffffffffffffffffffffffffffff", "hex max");
    v6_u128_to_hex((v6_u128)0x20010db8 << 96 | 0xabc, a);
    is_str(a, "20010db8000000000000000000000abc", "hex reads like the address");
    is_int(v6_u128_from_hex(a, V6_HEX_LEN, &v), 0, "hex back");
    ok(v == ((v6_u128)0x20010db8 << 96 | 0xabc), "... exact");
    for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        v6_u128_to_hex(pairs[i][0], a);
        v6_u128_to_hex(pairs[i][1], b);
        ok(strcmp(a, b) < 0, "hex sorts like the number (pair %zu: %s < %s)", i, a, b);
    }
    is_int(v6_u128_from_hex("0000000000000000000000000000000A", V6_HEX_LEN, &v), -EINVAL, "uppercase hex refused");
    is_int(v6_u128_from_hex("000000000000000000000000000000a", V6_HEX_LEN - 1, &v), -EINVAL, "short hex refused");
    is_int(v6_u128_from_hex("0000000000000000000000000000000g", V6_HEX_LEN, &v), -EINVAL, "non-hex refused");
}

int main(void)
{
    test_parse_ok();
    test_parse_errors();
    test_format();
    test_contains_overlaps();
    test_sub();
    test_counts();
    test_hex();
    return done_testing();
}
