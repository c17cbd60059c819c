/* core/ws/frame: RFC 6455 parser, encoder and handshake helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "ws/frame.h"

/* Incremental UTF-8 check: how many continuation bytes are still due and
 * the range the next one must fall in (the narrowed ranges after E0, ED,
 * F0 and F4 reject overlongs, surrogates and code points past U+10FFFF). */
struct utf8 {
    uint8_t need, lo, hi;
};

static bool utf8_step(struct utf8 *u, uint8_t c)
{
    if (u->need == 0) {
        if (c < 0x80)
            return true;
        if (c < 0xC2) /* stray continuation byte, or overlong C0/C1 */
            return false;
        if (c < 0xE0) {
            *u = (struct utf8){1, 0x80, 0xBF};
        } else if (c < 0xF0) {
            *u = (struct utf8){2, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF};
        } else if (c < 0xF5) {
            *u = (struct utf8){3, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF};
        } else {
            return false;
        }
        return true;
    }
    if (c < u->lo || c > u->hi)
        return false;
    u->need--;
    u->lo = 0x80;
    u->hi = 0xBF;
    return true;
}

static bool utf8_feed(struct utf8 *u, const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!utf8_step(u, s[i]))
            return false;
    return true;
}

bool wgm_ws_utf8_valid(const void *s, size_t len)
{
    struct utf8 u = {0, 0, 0};
    return utf8_feed(&u, s, len) && u.need == 0;
}

bool wgm_ws_close_code_valid(uint16_t code)
{
    /* 1004-1006 and 1015 are reserved or local-only; 1016-2999 are for
     * future RFCs; 1012-1014 are IANA-registered and in use. */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/* --- parser ---------------------------------------------------------- */

struct wgm_ws_parser {
    size_t max_message;
    int err;
    uint16_t err_code;
    const char *err_text;

    /* The frame being read: header bytes until complete, then payload. */
    uint8_t hdr[14];
    unsigned hdr_have, hdr_need;
    bool in_payload, fin;
    uint8_t opcode, mask[4];
    uint64_t remaining, pos;

    /* The data message being reassembled. */
    bool in_message, msg_returned;
    uint8_t msg_opcode;
    uint8_t *msg;
    size_t msg_len, msg_cap;
    struct utf8 utf8;

    /* The control frame being read (never fragmented, at most 125 bytes). */
    uint8_t ctrl[WGM_WS_MAX_CONTROL + 1];
    size_t ctrl_len;
};

struct wgm_ws_parser *wgm_ws_parser_new(size_t max_message)
{
    struct wgm_ws_parser *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->max_message = max_message ? max_message : WGM_WS_DEFAULT_MAX_MESSAGE;
    p->hdr_need = 2;
    return p;
}

struct wgm_ws_parser *wgm_ws_parser_free(struct wgm_ws_parser *p)
{
    if (p) {
        free(p->msg);
        free(p);
    }
    return NULL;
}

uint16_t wgm_ws_parser_close_code(const struct wgm_ws_parser *p)
{
    return p->err ? p->err_code : 0;
}

const char *wgm_ws_parser_error(const struct wgm_ws_parser *p)
{
    return p->err ? p->err_text : NULL;
}

static int fail(struct wgm_ws_parser *p, uint16_t code, const char *why)
{
    p->err_code = code;
    p->err_text = why;
    switch (code) {
    case WGM_WS_CLOSE_INVALID_DATA:
        p->err = -EILSEQ;
        break;
    case WGM_WS_CLOSE_TOO_BIG:
        p->err = -EMSGSIZE;
        break;
    case WGM_WS_CLOSE_INTERNAL:
        p->err = -ENOMEM;
        break;
    default:
        p->err = -EPROTO;
    }
    return p->err;
}

static bool is_control(uint8_t opcode)
{
    return opcode & 0x8;
}

/* The first two bytes already tell most violations; rejecting them before
 * the rest arrives means a bad client is dropped without being buffered. */
static int check_base(struct wgm_ws_parser *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1], len7 = b1 & 0x7F;

    p->fin = b0 & 0x80;
    p->opcode = b0 & 0x0F;
    if (b0 & 0x70)
        return fail(p, WGM_WS_CLOSE_PROTOCOL, "reserved bits set without an extension");
    switch (p->opcode) {
    case WGM_WS_CONTINUATION:
        if (!p->in_message)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "continuation frame without a message to continue");
        break;
    case WGM_WS_TEXT:
    case WGM_WS_BINARY:
        if (p->in_message)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "new message before the fragmented one finished");
        break;
    case WGM_WS_CLOSE:
    case WGM_WS_PING:
    case WGM_WS_PONG:
        if (!p->fin)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "fragmented control frame");
        if (len7 > WGM_WS_MAX_CONTROL)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "control frame longer than 125 bytes");
        break;
    default:
        return fail(p, WGM_WS_CLOSE_PROTOCOL, "reserved opcode");
    }
    if (!(b1 & 0x80))
        return fail(p, WGM_WS_CLOSE_PROTOCOL, "client frame not masked");
    p->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
    return 0;
}

static int reserve(struct wgm_ws_parser *p, size_t need)
{
    size_t cap;
    uint8_t *grown;

    if (need <= p->msg_cap)
        return 0;
    /* Geometric growth, but never past what the cap can require. */
    cap = p->msg_cap > p->max_message / 2 ? p->max_message + 1 : p->msg_cap * 2;
    if (cap < need)
        cap = need;
    grown = realloc(p->msg, cap);
    if (!grown)
        return fail(p, WGM_WS_CLOSE_INTERNAL, "out of memory");
    p->msg = grown;
    p->msg_cap = cap;
    return 0;
}

/* The whole header is in: lengths, mask key, size cap. */
static int begin_frame(struct wgm_ws_parser *p)
{
    uint8_t len7 = p->hdr[1] & 0x7F;
    uint64_t len = len7;
    unsigned off = 2;

    if (len7 == 126) {
        len = (uint64_t)p->hdr[2] << 8 | p->hdr[3];
        off = 4;
        if (len < 126)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "length not minimally encoded");
    } else if (len7 == 127) {
        len = 0;
        for (unsigned i = 2; i < 10; i++)
            len = len << 8 | p->hdr[i];
        off = 10;
        if (len >> 63)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "64-bit length with the top bit set");
        if (len <= 0xFFFF)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "length not minimally encoded");
    }
    memcpy(p->mask, p->hdr + off, 4);
    p->remaining = len;
    p->pos = 0;
    p->ctrl_len = 0;
    if (!is_control(p->opcode)) {
        if (p->opcode != WGM_WS_CONTINUATION) {
            p->in_message = true;
            p->msg_opcode = p->opcode;
            p->msg_len = 0;
            p->utf8 = (struct utf8){0, 0, 0};
        }
        /* Refuse on the header, before buffering a byte of an oversize message. */
        if (len > p->max_message - p->msg_len)
            return fail(p, WGM_WS_CLOSE_TOO_BIG, "message exceeds the size limit");
        if (reserve(p, p->msg_len + (size_t)len + 1) < 0)
            return p->err;
    }
    p->in_payload = true;
    return 0;
}

static int take_payload(struct wgm_ws_parser *p, const uint8_t *src, size_t n)
{
    uint8_t *dst = is_control(p->opcode) ? p->ctrl + p->ctrl_len : p->msg + p->msg_len;

    for (size_t k = 0; k < n; k++)
        dst[k] = src[k] ^ p->mask[(p->pos + k) & 3];
    p->pos += n;
    p->remaining -= n;
    if (is_control(p->opcode)) {
        p->ctrl_len += n;
        return 0;
    }
    p->msg_len += n;
    /* Fail fast on bad text instead of buffering up to the cap first. */
    if (p->msg_opcode == WGM_WS_TEXT && !utf8_feed(&p->utf8, dst, n))
        return fail(p, WGM_WS_CLOSE_INVALID_DATA, "text message is not valid UTF-8");
    return 0;
}

/* A frame is complete: 1 with @ev filled, 0 for a non-final fragment. */
static int end_frame(struct wgm_ws_parser *p, struct wgm_ws_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (is_control(p->opcode)) {
        p->ctrl[p->ctrl_len] = '\0';
        ev->opcode = p->opcode;
        ev->data = p->ctrl;
        ev->len = p->ctrl_len;
        if (p->opcode != WGM_WS_CLOSE)
            return 1;
        ev->close_code = WGM_WS_CLOSE_NO_STATUS;
        if (p->ctrl_len == 1)
            return fail(p, WGM_WS_CLOSE_PROTOCOL, "close payload of one byte");
        if (p->ctrl_len >= 2) {
            ev->close_code = (uint16_t)(p->ctrl[0] << 8 | p->ctrl[1]);
            if (!wgm_ws_close_code_valid(ev->close_code))
                return fail(p, WGM_WS_CLOSE_PROTOCOL, "invalid close code");
            ev->reason = (const char *)p->ctrl + 2;
            ev->reason_len = p->ctrl_len - 2;
            if (!wgm_ws_utf8_valid(ev->reason, ev->reason_len))
                return fail(p, WGM_WS_CLOSE_INVALID_DATA, "close reason is not valid UTF-8");
        }
        return 1;
    }
    if (!p->fin)
        return 0;
    if (p->msg_opcode == WGM_WS_TEXT && p->utf8.need)
        return fail(p, WGM_WS_CLOSE_INVALID_DATA, "text message ends inside a UTF-8 sequence");
    p->in_message = false;
    p->msg_returned = true;
    p->msg[p->msg_len] = '\0';
    ev->opcode = p->msg_opcode;
    ev->data = p->msg;
    ev->len = p->msg_len;
    return 1;
}

int wgm_ws_parse(struct wgm_ws_parser *p, const void *buf, size_t len, size_t *used, struct wgm_ws_event *ev)
{
    const uint8_t *in = buf;
    size_t i = 0;
    int r = 0;

    *used = 0;
    if (p->err)
        return p->err;
    if (p->msg_returned) {
        /* The caller is done with the message we returned last time. */
        p->msg_returned = false;
        p->msg_len = 0;
    }
    for (;;) {
        if (!p->in_payload) {
            while (p->hdr_have < p->hdr_need && i < len)
                p->hdr[p->hdr_have++] = in[i++];
            if (p->hdr_have < p->hdr_need)
                break;
            if (p->hdr_have == 2) {
                if ((r = check_base(p)) < 0)
                    break;
                continue; /* read the extended length and mask key */
            }
            if ((r = begin_frame(p)) < 0)
                break;
        }
        if (p->remaining) {
            size_t n = len - i;
            if (n == 0)
                break;
            if (n > p->remaining)
                n = (size_t)p->remaining;
            if ((r = take_payload(p, in + i, n)) < 0)
                break;
            i += n;
            if (p->remaining)
                break;
        }
        p->in_payload = false;
        p->hdr_have = 0;
        p->hdr_need = 2;
        if ((r = end_frame(p, ev)) != 0)
            break;
    }
    *used = i;
    return r;
}

/* --- encoder --------------------------------------------------------- */

size_t wgm_ws_frame_header(uint8_t out[WGM_WS_MAX_HEADER], enum wgm_ws_opcode opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int wgm_ws_frame_encode(enum wgm_ws_opcode opcode, const void *payload, size_t len, uint8_t **out,
                        size_t *outlen)
{
    uint8_t hdr[WGM_WS_MAX_HEADER], *buf;
    size_t h;

    switch (opcode) {
    case WGM_WS_TEXT:
        if (!wgm_ws_utf8_valid(payload, len))
            return -EILSEQ;
        break;
    case WGM_WS_BINARY:
        break;
    case WGM_WS_CLOSE:
    case WGM_WS_PING:
    case WGM_WS_PONG:
        if (len > WGM_WS_MAX_CONTROL)
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    h = wgm_ws_frame_header(hdr, opcode, len);
    if (len > SIZE_MAX - h || !(buf = malloc(h + len + (len == 0))))
        return -ENOMEM;
    memcpy(buf, hdr, h);
    if (len)
        memcpy(buf + h, payload, len);
    *out = buf;
    *outlen = h + len;
    return 0;
}

int wgm_ws_close_payload(uint8_t out[WGM_WS_MAX_CONTROL], uint16_t code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    if (code == 0)
        return 0;
    if (!wgm_ws_close_code_valid(code) || (reason && !wgm_ws_utf8_valid(reason, n)))
        return -EINVAL;
    if (n > WGM_WS_MAX_CONTROL - 2) {
        n = WGM_WS_MAX_CONTROL - 2;
        /* Back up to the start of a character so the cut stays UTF-8. */
        while (n > 0 && ((uint8_t)reason[n] & 0xC0) == 0x80)
            n--;
    }
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (n)
        memcpy(out + 2, reason, n);
    return (int)(n + 2);
}

/* --- handshake ------------------------------------------------------- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
    const char *at = c ? strchr(b64_alphabet, c) : NULL;
    return at ? (int)(at - b64_alphabet) : -1;
}

bool wgm_ws_key_valid(const char *key)
{
    int last;

    if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
        return false;
    for (int i = 0; i < 22; i++)
        if (b64_value(key[i]) < 0)
            return false;
    /* The last character carries 2 bits of the 16th byte; the other 4 are
     * padding and zero in any canonical encoding of 16 bytes. */
    last = b64_value(key[21]);
    return (last & 0x0F) == 0;
}

static uint32_t rol32(uint32_t x, unsigned n)
{
    return x << n | x >> (32 - n);
}

static void sha1_block(uint32_t h[5], const uint8_t b[64])
{
    uint32_t w[80], a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4];

    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)b[4 * t] << 24 | (uint32_t)b[4 * t + 1] << 16 | (uint32_t)b[4 * t + 2] << 8 | b[4 * t + 3];
    for (int t = 16; t < 80; t++)
        w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (bb & c) | (~bb & d);
            k = 0x5A827999;
        } else if (t < 40) {
            f = bb ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (t < 60) {
            f = (bb & c) | (bb & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = bb ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol32(bb, 30);
        bb = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += bb;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void wgm_ws_sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const uint8_t *in = data;
    uint8_t tail[128] = {0};
    size_t full = len / 64 * 64, rest = len - full, tail_len;
    uint64_t bits = (uint64_t)len * 8;

    for (size_t i = 0; i < full; i += 64)
        sha1_block(h, in + i);
    if (rest)
        memcpy(tail, in + full, rest);
    tail[rest] = 0x80;
    tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, tail);
    if (tail_len == 128)
        sha1_block(h, tail + 64);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

int wgm_ws_accept_key(const char *key, char out[WGM_WS_ACCEPT_LEN + 1])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char joined[24 + sizeof(guid)];
    uint8_t d[21] = {0}; /* one zero byte past the digest pads the last group */
    char *o = out;

    if (!wgm_ws_key_valid(key))
        return -EINVAL;
    memcpy(joined, key, 24);
    memcpy(joined + 24, guid, sizeof(guid) - 1);
    wgm_ws_sha1(joined, 24 + sizeof(guid) - 1, d);
    for (int i = 0; i < 21; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *o++ = b64_alphabet[v >> 18 & 63];
        *o++ = b64_alphabet[v >> 12 & 63];
        *o++ = b64_alphabet[v >> 6 & 63];
        *o++ = b64_alphabet[v & 63];
    }
    out[27] = '='; /* 20 bytes: the last group holds 2 bytes */
    out[28] = '\0';
    return 0;
}
