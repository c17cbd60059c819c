/* WebSocket codec: SHA-1 and accept key, every parser rule, chunking,
 * fragmentation, UTF-8 edge cases, close payloads, the encoder. */
#include <errno.h>
#include <stdint.h>
#include "ws/frame.h"
#include "tap.h"

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

/* Build a client frame into @out: @b0 is FIN|RSV|opcode as sent; @lenform
 * forces the 7/16/64-bit length form (0 = minimal); @masked=0 omits the
 * mask.  Returns the frame size. */
static size_t frame_ex(uint8_t *out, uint8_t b0, const void *payload, size_t len, int lenform, int masked)
{
    const uint8_t *pl = payload;
    size_t o = 0;

    out[o++] = b0;
    if (lenform == 0)
        lenform = len < 126 ? 7 : len <= 0xFFFF ? 16 : 64;
    if (lenform == 7) {
        out[o++] = (uint8_t)((masked ? 0x80 : 0) | len);
    } else if (lenform == 16) {
        out[o++] = (uint8_t)((masked ? 0x80 : 0) | 126);
        out[o++] = (uint8_t)(len >> 8);
        out[o++] = (uint8_t)len;
    } else {
        out[o++] = (uint8_t)((masked ? 0x80 : 0) | 127);
        for (int i = 0; i < 8; i++)
            out[o++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (masked) {
        memcpy(out + o, MASK, 4);
        o += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[o + i] = masked ? (uint8_t)(pl[i] ^ MASK[i & 3]) : pl[i];
    return o + len;
}

static size_t frame(uint8_t *out, uint8_t b0, const void *payload, size_t len)
{
    return frame_ex(out, b0, payload, len, 0, 1);
}

#define FIN 0x80

/* Events of one feed, copied out (the parser's buffers are borrowed). */
struct got {
    int n;
    int op[16];
    char data[16][256];
    size_t len[16];
    uint16_t code[16];
    int err;
    uint16_t err_code;
};

/* Feed @len bytes in chunks of @chunk (0 = all at once), collecting events
 * until the end or a failure. */
static void feed(struct wgm_ws_parser *p, const uint8_t *buf, size_t len, size_t chunk, struct got *g)
{
    size_t off = 0;

    memset(g, 0, sizeof(*g));
    while (off < len) {
        size_t n = chunk && len - off > chunk ? chunk : len - off, used;
        size_t coff = 0;
        while (coff < n) {
            struct wgm_ws_event ev;
            int r = wgm_ws_parse(p, buf + off + coff, n - coff, &used, &ev);
            coff += used;
            if (r < 0) {
                g->err = r;
                g->err_code = wgm_ws_parser_close_code(p);
                return;
            }
            if (r == 0)
                break;
            if (g->n < 16) {
                g->op[g->n] = ev.opcode;
                g->len[g->n] = ev.len;
                memcpy(g->data[g->n], ev.data, ev.len < 255 ? ev.len + 1 : 255);
                g->code[g->n] = ev.close_code;
            }
            g->n++;
        }
        off += n;
    }
}

/* One frame (or buffer) through a fresh parser: the failure, or 0. */
static int parse_one(const uint8_t *buf, size_t len, size_t max, uint16_t *code)
{
    struct wgm_ws_parser *p = wgm_ws_parser_new(max);
    struct got g;

    feed(p, buf, len, 0, &g);
    if (code)
        *code = g.err ? g.err_code : (g.n ? g.code[0] : 0);
    wgm_ws_parser_free(p);
    return g.err;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha1(void)
{
    /* RFC 3174 §7.3 test vectors, plus the empty string. */
    static const struct {
        const char *in;
        size_t repeat;
        const char *want;
    } v[] = {
        {"abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
        {"0123456701234567012345670123456701234567012345670123456701234567", 10,
         "dea356a2cddd90c7a7ecedc5ebb563934f460452"},
        {"", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = strlen(v[i].in);
        char *buf = malloc(n * v[i].repeat + 1);
        uint8_t d[20];
        char h[41];
        for (size_t k = 0; k < v[i].repeat; k++)
            memcpy(buf + k * n, v[i].in, n);
        wgm_ws_sha1(buf, n * v[i].repeat, d);
        hex(d, 20, h);
        is_str(h, v[i].want, "SHA-1 test vector");
        free(buf);
    }
    /* Lengths around the padding boundary (55, 56, 63, 64 bytes). */
    static const struct {
        size_t n;
        const char *want;
    } b[] = {
        {55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
        {56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
        {64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
    };
    for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
        char buf[64], h[41];
        uint8_t d[20];
        memset(buf, 'a', b[i].n);
        wgm_ws_sha1(buf, b[i].n, d);
        hex(d, 20, h);
        is_str(h, b[i].want, "SHA-1 of 'a' x N at a block boundary");
    }
}

static void test_handshake(void)
{
    char acc[WGM_WS_ACCEPT_LEN + 1];

    is_int(wgm_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc), 0, "accept key computed");
    is_str(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 accept test vector");
    ok(wgm_ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="), "all-zero key valid");
    ok(wgm_ws_key_valid("/+/+/+/+/+/+/+/+/+/+/w=="), "key with + and / valid");
    ok(!wgm_ws_key_valid(NULL), "NULL key invalid");
    ok(!wgm_ws_key_valid(""), "empty key invalid");
    ok(!wgm_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="), "23 chars invalid");
    ok(!wgm_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==="), "25 chars invalid");
    ok(!wgm_ws_key_valid("dGhlIHNhbXBsZSBub25jZQAA"), "no padding (18 bytes) invalid");
    ok(!wgm_ws_key_valid("dGhlIHNhbXBsZSBub25jZ!=="), "non-base64 char invalid");
    ok(!wgm_ws_key_valid("dGhlIHNhbXBsZSBub25jZR=="), "non-canonical last char invalid");
    ok(!wgm_ws_key_valid("dGhlIHNhbXBsZSBub25j=Q=="), "padding in the middle invalid");
    is_int(wgm_ws_accept_key("short", acc), -EINVAL, "accept refuses bad key");
}

static void test_basic(void)
{
    /* RFC 6455 §5.7: a masked "Hello". */
    static const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t hello_unmasked[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    struct wgm_ws_parser *p = wgm_ws_parser_new(0);
    struct got g;
    uint8_t buf[512];
    size_t n = 0;
    uint16_t code;

    feed(p, hello, sizeof(hello), 0, &g);
    ok(g.n == 1 && g.op[0] == WGM_WS_TEXT && g.len[0] == 5 && strcmp(g.data[0], "Hello") == 0,
       "RFC masked Hello");
    is_int(g.err, 0, "no error");

    is_int(parse_one(hello_unmasked, sizeof(hello_unmasked), 0, &code), -EPROTO, "unmasked frame refused");
    is_int(code, 1002, "unmasked -> 1002");

    /* Several frames in one buffer, and an empty text message. */
    n = frame(buf, FIN | WGM_WS_TEXT, "one", 3);
    n += frame(buf + n, FIN | WGM_WS_TEXT, "", 0);
    n += frame(buf + n, FIN | WGM_WS_PING, "", 0);
    n += frame(buf + n, FIN | WGM_WS_BINARY, "\xff\x00\xfe", 3);
    n += frame(buf + n, FIN | WGM_WS_PONG, "pp", 2);
    feed(p, buf, n, 0, &g);
    is_int(g.n, 5, "five events from one buffer");
    ok(g.op[0] == WGM_WS_TEXT && strcmp(g.data[0], "one") == 0, "first text");
    ok(g.op[1] == WGM_WS_TEXT && g.len[1] == 0 && g.data[1][0] == '\0', "empty text, NUL-terminated");
    ok(g.op[2] == WGM_WS_PING && g.len[2] == 0, "empty ping");
    ok(g.op[3] == WGM_WS_BINARY && g.len[3] == 3 && memcmp(g.data[3], "\xff\x00\xfe", 3) == 0,
       "binary not UTF-8-checked");
    ok(g.op[4] == WGM_WS_PONG && strcmp(g.data[4], "pp") == 0, "pong payload");

    /* The same stream one byte at a time gives the same events. */
    feed(p, buf, n, 1, &g);
    is_int(g.n, 5, "byte-at-a-time: five events");
    ok(strcmp(g.data[0], "one") == 0 && g.len[1] == 0 && g.op[2] == WGM_WS_PING && g.len[3] == 3 &&
           strcmp(g.data[4], "pp") == 0,
       "byte-at-a-time: same content");
    for (size_t c = 2; c <= 7; c++) {
        feed(p, buf, n, c, &g);
        ok(g.n == 5 && g.err == 0 && strcmp(g.data[4], "pp") == 0, "chunks of %zu bytes", c);
    }
    wgm_ws_parser_free(p);
    ok(wgm_ws_parser_free(NULL) == NULL, "free(NULL) is fine");
}

static void test_header_rules(void)
{
    uint8_t buf[70000];
    uint8_t big[200];
    size_t n;
    uint16_t code;

    memset(big, 'x', sizeof(big));
    for (int rsv = 1; rsv <= 3; rsv++) {
        n = frame(buf, (uint8_t)(FIN | (0x80 >> rsv) | WGM_WS_TEXT), "x", 1);
        is_int(parse_one(buf, n, 0, &code), -EPROTO, "RSV bit set refused");
        is_int(code, 1002, "RSV -> 1002");
    }
    for (int op = 3; op <= 0xF; op++) {
        if (op >= 8 && op <= 0xA)
            continue;
        n = frame(buf, (uint8_t)(FIN | op), "", 0);
        ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "reserved opcode 0x%X -> 1002", op);
    }
    n = frame(buf, WGM_WS_PING, "x", 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "fragmented ping -> 1002");
    n = frame(buf, WGM_WS_CLOSE, "", 0);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "fragmented close -> 1002");
    n = frame(buf, FIN | WGM_WS_PING, big, 126);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "ping of 126 bytes -> 1002");
    n = frame(buf, FIN | WGM_WS_PONG, big, 125);
    ok(parse_one(buf, n, 0, &code) == 0, "pong of 125 bytes ok");

    /* Minimal length encoding. */
    n = frame_ex(buf, FIN | WGM_WS_BINARY, big, 125, 16, 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "125 in 16-bit form -> 1002");
    n = frame_ex(buf, FIN | WGM_WS_BINARY, big, 126, 16, 1);
    ok(parse_one(buf, n, 0, &code) == 0, "126 in 16-bit form ok");
    n = frame_ex(buf, FIN | WGM_WS_BINARY, big, 200, 64, 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "200 in 64-bit form -> 1002");
    memset(buf, 'y', sizeof(buf));
    n = frame_ex(buf, FIN | WGM_WS_BINARY, buf + 20, 65535, 64, 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "65535 in 64-bit form -> 1002");
    n = frame_ex(buf, FIN | WGM_WS_BINARY, buf + 20, 65536, 0, 1);
    ok(n == 65536 + 14 && parse_one(buf, n, 100000, &code) == 0, "65536 in 64-bit form ok");
    /* 64-bit length with the most significant bit set. */
    static const uint8_t msb[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    ok(parse_one(msb, sizeof(msb), 0, &code) == -EPROTO && code == 1002, "64-bit length MSB set -> 1002");
    static const uint8_t huge[] = {0x82, 0xFF, 0x00, 0, 0, 0x10, 0, 0, 0, 0, 1, 2, 3, 4};
    ok(parse_one(huge, sizeof(huge), 0, &code) == -EMSGSIZE && code == 1009, "2^44-byte frame -> 1009 at header");

    /* An unmasked frame is refused after two bytes, before its payload. */
    struct wgm_ws_parser *p = wgm_ws_parser_new(0);
    struct wgm_ws_event ev;
    size_t used;
    static const uint8_t two[] = {0x81, 0x05};
    ok(wgm_ws_parse(p, two, 2, &used, &ev) == -EPROTO, "unmasked detected on the first two bytes");
    is_str(wgm_ws_parser_error(p), "client frame not masked", "error text");
    /* Failure is final. */
    n = frame(buf, FIN | WGM_WS_TEXT, "ok", 2);
    ok(wgm_ws_parse(p, buf, n, &used, &ev) == -EPROTO && used == 0, "failure is sticky");
    is_int(wgm_ws_parser_close_code(p), 1002, "code stays 1002");
    wgm_ws_parser_free(p);
    p = wgm_ws_parser_new(0);
    ok(wgm_ws_parser_close_code(p) == 0 && wgm_ws_parser_error(p) == NULL, "fresh parser has no error");
    wgm_ws_parser_free(p);
}

static void test_fragmentation(void)
{
    struct wgm_ws_parser *p = wgm_ws_parser_new(0);
    uint8_t buf[1024];
    size_t n;
    struct got g;
    uint16_t code;

    /* "Hel" + ping + "lo" + pong + "!" (final). */
    n = frame(buf, WGM_WS_TEXT, "Hel", 3);
    n += frame(buf + n, FIN | WGM_WS_PING, "p1", 2);
    n += frame(buf + n, WGM_WS_CONTINUATION, "lo", 2);
    n += frame(buf + n, FIN | WGM_WS_PONG, "", 0);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, "!", 1);
    n += frame(buf + n, FIN | WGM_WS_TEXT, "next", 4);
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        feed(p, buf, n, chunk, &g);
        ok(g.err == 0 && g.n == 4 && g.op[0] == WGM_WS_PING && strcmp(g.data[0], "p1") == 0 &&
               g.op[1] == WGM_WS_PONG && g.op[2] == WGM_WS_TEXT && strcmp(g.data[2], "Hello!") == 0 &&
               g.len[2] == 6 && strcmp(g.data[3], "next") == 0,
           "fragments with interleaved ping/pong reassembled (chunk %zu)", chunk);
    }
    /* Empty fragments are legal. */
    n = frame(buf, WGM_WS_BINARY, "", 0);
    n += frame(buf + n, WGM_WS_CONTINUATION, "", 0);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, "ab", 2);
    feed(p, buf, n, 0, &g);
    ok(g.n == 1 && g.op[0] == WGM_WS_BINARY && g.len[0] == 2, "empty fragments");
    wgm_ws_parser_free(p);

    n = frame(buf, FIN | WGM_WS_CONTINUATION, "x", 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "continuation with no message -> 1002");
    n = frame(buf, WGM_WS_TEXT, "a", 1);
    n += frame(buf + n, FIN | WGM_WS_TEXT, "b", 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "text inside a fragmented text -> 1002");
    n = frame(buf, WGM_WS_TEXT, "a", 1);
    n += frame(buf + n, FIN | WGM_WS_BINARY, "b", 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "binary inside a fragmented text -> 1002");
    n = frame(buf, FIN | WGM_WS_TEXT, "a", 1);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, "b", 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "continuation after a final frame -> 1002");
}

static void test_max_size(void)
{
    uint8_t buf[256], big[64];
    size_t n;
    uint16_t code;

    memset(big, 'z', sizeof(big));
    n = frame(buf, FIN | WGM_WS_TEXT, big, 16);
    ok(parse_one(buf, n, 16, &code) == 0, "message at the limit ok");
    n = frame(buf, FIN | WGM_WS_TEXT, big, 17);
    ok(parse_one(buf, n, 16, &code) == -EMSGSIZE && code == 1009, "one byte over -> 1009");
    n = frame(buf, WGM_WS_BINARY, big, 10);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, big, 6);
    ok(parse_one(buf, n, 16, &code) == 0, "fragmented message at the limit ok");
    n = frame(buf, WGM_WS_BINARY, big, 10);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, big, 7);
    ok(parse_one(buf, n, 16, &code) == -EMSGSIZE && code == 1009, "fragments summing over the limit -> 1009");
    /* Control frames do not count toward the message size. */
    n = frame(buf, WGM_WS_TEXT, big, 10);
    n += frame(buf + n, FIN | WGM_WS_PING, big, 60);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, big, 6);
    ok(parse_one(buf, n, 16, &code) == 0, "ping inside a message not counted");
    /* Only the header is needed to refuse. */
    uint8_t hdr[8];
    size_t h = frame(hdr, FIN | WGM_WS_TEXT, big, 0);
    hdr[1] = 0x80 | 100;
    ok(parse_one(hdr, h, 16, &code) == -EMSGSIZE, "oversize refused from the header alone");

    /* Default limit is 64 KiB. */
    static uint8_t large[65536 + 16];
    uint8_t *pl = malloc(65537);
    memset(pl, 'q', 65537);
    n = frame_ex(large, FIN | WGM_WS_TEXT, pl, 65536, 0, 1);
    ok(parse_one(large, n, 0, &code) == 0, "64 KiB text under the default limit");
    n = frame_ex(large, FIN | WGM_WS_TEXT, pl, 65537, 0, 1);
    ok(parse_one(large, n, 0, &code) == -EMSGSIZE && code == 1009, "64 KiB + 1 -> 1009 by default");
    free(pl);
}

/* One text message of @len bytes; 0 or the failure. */
static int text_one(const void *s, size_t len, uint16_t *code)
{
    uint8_t buf[64];
    size_t n = frame(buf, FIN | WGM_WS_TEXT, s, len);
    return parse_one(buf, n, 0, code);
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t len;
        bool valid;
        const char *name;
    } v[] = {
        {"ascii", 5, true, "ASCII"},
        {"\xc2\xa9", 2, true, "2-byte U+00A9"},
        {"\xe2\x82\xac", 3, true, "3-byte U+20AC"},
        {"\xf0\x9d\x84\x9e", 4, true, "4-byte U+1D11E"},
        {"\xed\x9f\xbf", 3, true, "U+D7FF (before surrogates)"},
        {"\xee\x80\x80", 3, true, "U+E000 (after surrogates)"},
        {"\xef\xbf\xbf", 3, true, "U+FFFF"},
        {"\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF"},
        {"\xc0\x80", 2, false, "overlong NUL C0 80"},
        {"\xc1\xbf", 2, false, "overlong C1"},
        {"\xe0\x80\x80", 3, false, "overlong 3-byte"},
        {"\xe0\x9f\xbf", 3, false, "overlong 3-byte U+07FF"},
        {"\xf0\x80\x80\x80", 4, false, "overlong 4-byte"},
        {"\xf0\x8f\xbf\xbf", 4, false, "overlong 4-byte U+FFFF"},
        {"\xed\xa0\x80", 3, false, "surrogate U+D800"},
        {"\xed\xbf\xbf", 3, false, "surrogate U+DFFF"},
        {"\xf4\x90\x80\x80", 4, false, "U+110000"},
        {"\xf5\x80\x80\x80", 4, false, "F5 lead"},
        {"\xff", 1, false, "FF byte"},
        {"\x80", 1, false, "stray continuation"},
        {"a\xe2\x82", 3, false, "truncated at the end"},
        {"\xe2\x28\xa1", 3, false, "bad continuation"},
        {"\xc2", 1, false, "lone lead byte"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint16_t code = 0;
        int r = text_one(v[i].s, v[i].len, &code);
        ok(v[i].valid ? r == 0 : r == -EILSEQ && code == 1007, "%s %s", v[i].name,
           v[i].valid ? "accepted" : "-> 1007");
        ok(wgm_ws_utf8_valid(v[i].s, v[i].len) == v[i].valid, "utf8_valid: %s", v[i].name);
    }

    /* Across fragments. */
    uint8_t buf[256];
    size_t n;
    uint16_t code;
    struct wgm_ws_parser *p = wgm_ws_parser_new(0);
    struct got g;
    n = frame(buf, WGM_WS_TEXT, "\xe2", 1);
    n += frame(buf + n, WGM_WS_CONTINUATION, "\x82", 1);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, "\xac", 1);
    feed(p, buf, n, 0, &g);
    ok(g.n == 1 && g.err == 0 && strcmp(g.data[0], "\xe2\x82\xac") == 0, "code point split over three fragments");
    wgm_ws_parser_free(p);
    n = frame(buf, WGM_WS_TEXT, "ok\xe2\x82", 4);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, "A", 1);
    ok(parse_one(buf, n, 0, &code) == -EILSEQ && code == 1007, "sequence broken across fragments -> 1007");
    n = frame(buf, WGM_WS_TEXT, "ok", 2);
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, "\xf0\x9d", 2);
    ok(parse_one(buf, n, 0, &code) == -EILSEQ && code == 1007, "final fragment ends mid-sequence -> 1007");
    /* Fail fast: a bad byte in a non-final fragment fails before FIN. */
    p = wgm_ws_parser_new(0);
    n = frame(buf, WGM_WS_TEXT, "\xff", 1);
    feed(p, buf, n, 0, &g);
    ok(g.err == -EILSEQ, "invalid byte in first fragment fails at once");
    wgm_ws_parser_free(p);
    /* Interleaved control frames keep the text state. */
    n = frame(buf, WGM_WS_TEXT, "\xf0\x9d", 2);
    n += frame(buf + n, FIN | WGM_WS_PING, "\xff", 1); /* control payloads are not text */
    n += frame(buf + n, FIN | WGM_WS_CONTINUATION, "\x84\x9e", 2);
    p = wgm_ws_parser_new(0);
    feed(p, buf, n, 1, &g);
    ok(g.err == 0 && g.n == 2 && g.op[1] == WGM_WS_TEXT && g.len[1] == 4, "ping inside a split code point");
    wgm_ws_parser_free(p);
}

static void test_close(void)
{
    uint8_t buf[256], pl[128];
    size_t n;
    uint16_t code;
    struct wgm_ws_parser *p;
    struct got g;

    n = frame(buf, FIN | WGM_WS_CLOSE, "", 0);
    ok(parse_one(buf, n, 0, &code) == 0 && code == 1005, "empty close -> code 1005");
    n = frame(buf, FIN | WGM_WS_CLOSE, "\x03", 1);
    ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "one-byte close -> 1002");

    static const uint16_t good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                                    3999, 4000, 4999};
    static const uint16_t bad[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        pl[0] = (uint8_t)(good[i] >> 8);
        pl[1] = (uint8_t)good[i];
        n = frame(buf, FIN | WGM_WS_CLOSE, pl, 2);
        ok(parse_one(buf, n, 0, &code) == 0 && code == good[i], "close code %u accepted", good[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pl[0] = (uint8_t)(bad[i] >> 8);
        pl[1] = (uint8_t)bad[i];
        n = frame(buf, FIN | WGM_WS_CLOSE, pl, 2);
        ok(parse_one(buf, n, 0, &code) == -EPROTO && code == 1002, "close code %u -> 1002", bad[i]);
    }
    p = wgm_ws_parser_new(0);
    n = frame(buf, FIN | WGM_WS_CLOSE, "\x03\xe8" "bye \xe2\x82\xac", 9);
    struct wgm_ws_event ev;
    size_t used;
    ok(wgm_ws_parse(p, buf, n, &used, &ev) == 1 && used == n, "close with reason parsed");
    ok(ev.opcode == WGM_WS_CLOSE && ev.close_code == 1000 && ev.reason_len == 7 &&
           memcmp(ev.reason, "bye \xe2\x82\xac", 7) == 0,
       "close code and UTF-8 reason");
    wgm_ws_parser_free(p);
    n = frame(buf, FIN | WGM_WS_CLOSE, "\x03\xe8\xc0\x80", 4);
    ok(parse_one(buf, n, 0, &code) == -EILSEQ && code == 1007, "close reason not UTF-8 -> 1007");
    pl[0] = 0x03;
    pl[1] = 0xe8;
    memset(pl + 2, 'r', 123);
    n = frame(buf, FIN | WGM_WS_CLOSE, pl, 125);
    ok(parse_one(buf, n, 0, &code) == 0 && code == 1000, "close with 123-byte reason ok");
    n = frame(buf, FIN | WGM_WS_CLOSE, pl, 126);
    ok(parse_one(buf, n, 0, &code) == -EPROTO, "close with 124-byte reason -> 1002");
    /* A close inside a fragmented message is a control frame like any other. */
    p = wgm_ws_parser_new(0);
    n = frame(buf, WGM_WS_TEXT, "x", 1);
    n += frame(buf + n, FIN | WGM_WS_CLOSE, "\x03\xe9", 2);
    feed(p, buf, n, 0, &g);
    ok(g.n == 1 && g.op[0] == WGM_WS_CLOSE && g.code[0] == 1001, "close between fragments");
    wgm_ws_parser_free(p);
}

/* Turn a server frame into the client frame a peer would send (mask bit
 * and key) and parse it back. */
static void test_encoder(void)
{
    uint8_t h[WGM_WS_MAX_HEADER], *out, pl[WGM_WS_MAX_CONTROL];
    size_t len;
    int r;

    is_int(wgm_ws_frame_header(h, WGM_WS_TEXT, 0), 2, "0 bytes: 2-byte header");
    ok(h[0] == 0x81 && h[1] == 0, "FIN|TEXT, unmasked, length 0");
    is_int(wgm_ws_frame_header(h, WGM_WS_TEXT, 125), 2, "125: 2-byte header");
    is_int(h[1], 125, "7-bit length");
    is_int(wgm_ws_frame_header(h, WGM_WS_BINARY, 126), 4, "126: 4-byte header");
    ok(h[0] == 0x82 && h[1] == 126 && h[2] == 0 && h[3] == 126, "16-bit length");
    is_int(wgm_ws_frame_header(h, WGM_WS_TEXT, 65535), 4, "65535: 4-byte header");
    is_int(wgm_ws_frame_header(h, WGM_WS_TEXT, 65536), 10, "65536: 10-byte header");
    ok(h[1] == 127 && h[2] == 0 && h[7] == 1 && h[8] == 0 && h[9] == 0, "64-bit length");

    is_int(wgm_ws_frame_encode(WGM_WS_PING, "abc", 3, &out, &len), 0, "encode ping");
    ok(len == 5 && out[0] == 0x89 && out[1] == 3 && memcmp(out + 2, "abc", 3) == 0, "ping bytes");
    free(out);
    is_int(wgm_ws_frame_encode(WGM_WS_PONG, "", 0, &out, &len), 0, "encode empty pong");
    ok(len == 2 && out[0] == 0x8A && out[1] == 0, "empty pong bytes");
    free(out);
    memset(pl, 'p', sizeof(pl));
    is_int(wgm_ws_frame_encode(WGM_WS_PING, pl, 126, &out, &len), -EINVAL, "126-byte ping refused");
    is_int(wgm_ws_frame_encode(WGM_WS_CONTINUATION, "a", 1, &out, &len), -EINVAL, "continuation refused");
    is_int(wgm_ws_frame_encode((enum wgm_ws_opcode)3, "a", 1, &out, &len), -EINVAL, "reserved opcode refused");
    is_int(wgm_ws_frame_encode(WGM_WS_TEXT, "\xc0\x80", 2, &out, &len), -EILSEQ, "invalid text refused");

    /* Round trip through the parser. */
    static char text[70000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 26);
    size_t sizes[] = {0, 1, 125, 126, 65535, 65536, sizeof(text)};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        struct wgm_ws_parser *p = wgm_ws_parser_new(100000);
        struct wgm_ws_event ev;
        size_t used, hl;
        r = wgm_ws_frame_encode(WGM_WS_TEXT, text, sizes[k], &out, &len);
        hl = len - sizes[k];
        uint8_t *masked = malloc(len + 4);
        memcpy(masked, out, hl);
        masked[1] |= 0x80;
        memcpy(masked + hl, MASK, 4);
        for (size_t i = 0; i < sizes[k]; i++)
            masked[hl + 4 + i] = (uint8_t)(out[hl + i] ^ MASK[i & 3]);
        int pr = wgm_ws_parse(p, masked, len + 4, &used, &ev);
        ok(r == 0 && pr == 1 && used == len + 4 && ev.len == sizes[k] && memcmp(ev.data, text, sizes[k]) == 0,
           "round trip of %zu bytes", sizes[k]);
        free(masked);
        free(out);
        wgm_ws_parser_free(p);
    }

    /* Close payloads. */
    is_int(wgm_ws_close_payload(pl, 1000, NULL), 2, "close 1000, no reason");
    ok(pl[0] == 0x03 && pl[1] == 0xe8, "close code big-endian");
    is_int(wgm_ws_close_payload(pl, 0, "ignored"), 0, "code 0: empty payload");
    is_int(wgm_ws_close_payload(pl, 1005, NULL), -EINVAL, "1005 may not be sent");
    is_int(wgm_ws_close_payload(pl, 1006, NULL), -EINVAL, "1006 may not be sent");
    is_int(wgm_ws_close_payload(pl, 1015, NULL), -EINVAL, "1015 may not be sent");
    is_int(wgm_ws_close_payload(pl, 999, NULL), -EINVAL, "999 may not be sent");
    is_int(wgm_ws_close_payload(pl, 1008, "\xff"), -EINVAL, "non-UTF-8 reason refused");
    char reason[200];
    memset(reason, 'a', 122);
    strcpy(reason + 122, "\xe2\x82\xac tail");
    r = wgm_ws_close_payload(pl, 1009, reason);
    ok(r == 124 && wgm_ws_utf8_valid(pl + 2, (size_t)r - 2), "long reason cut before a split character (%d)", r);
    memset(reason, 'b', 150);
    reason[150] = '\0';
    is_int(wgm_ws_close_payload(pl, 1001, reason), 125, "long ASCII reason cut to 123 bytes");
    r = wgm_ws_close_payload(pl, 1001, "bye");
    is_int(wgm_ws_frame_encode(WGM_WS_CLOSE, pl, (size_t)r, &out, &len), 0, "encode close");
    ok(len == 7 && out[0] == 0x88 && out[1] == 5 && out[2] == 0x03 && out[3] == 0xe9 && memcmp(out + 4, "bye", 3) == 0,
       "close frame bytes");
    free(out);
}

int main(void)
{
    test_sha1();
    test_handshake();
    test_basic();
    test_header_rules();
    test_fragmentation();
    test_max_size();
    test_utf8();
    test_close();
    test_encoder();
    return done_testing();
}
