/* core/ws/frame: the RFC 6455 codec, without I/O.
 *
 * The parser is fed whatever bytes a socket produced (any chunking) and
 * yields whole messages and control frames; it enforces every rule of a
 * server reading client frames (masking, RSV bits, opcodes, control frame
 * limits, minimal lengths, fragmentation, UTF-8 of text, a size cap, close
 * payloads).  The encoder writes server frames (unmasked, FIN set, minimal
 * length).  The handshake helpers validate Sec-WebSocket-Key and compute
 * Sec-WebSocket-Accept. */
#ifndef WGM_CORE_WS_FRAME_H
#define WGM_CORE_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Frame opcodes (RFC 6455 §5.2). */
enum wgm_ws_opcode {
    WGM_WS_CONTINUATION = 0x0,
    WGM_WS_TEXT = 0x1,
    WGM_WS_BINARY = 0x2,
    WGM_WS_CLOSE = 0x8,
    WGM_WS_PING = 0x9,
    WGM_WS_PONG = 0xA,
};

/** Close codes the core sends (RFC 6455 §7.4.1, IANA registry). */
enum {
    WGM_WS_CLOSE_NORMAL = 1000,
    WGM_WS_CLOSE_GOING_AWAY = 1001,
    WGM_WS_CLOSE_PROTOCOL = 1002,
    WGM_WS_CLOSE_UNSUPPORTED = 1003,
    WGM_WS_CLOSE_NO_STATUS = 1005, /* never on the wire: "the close frame had no code" */
    WGM_WS_CLOSE_INVALID_DATA = 1007,
    WGM_WS_CLOSE_POLICY = 1008,
    WGM_WS_CLOSE_TOO_BIG = 1009,
    WGM_WS_CLOSE_INTERNAL = 1011,
    WGM_WS_CLOSE_TRY_LATER = 1013,
};

/** Largest control frame payload (§5.5). */
#define WGM_WS_MAX_CONTROL 125
/** Largest server frame header: 2 bytes + 64-bit length. */
#define WGM_WS_MAX_HEADER 10
/** Length of Sec-WebSocket-Accept (base64 of 20 bytes), without the NUL. */
#define WGM_WS_ACCEPT_LEN 28
/** Message cap used when wgm_ws_parser_new() is given 0. */
#define WGM_WS_DEFAULT_MAX_MESSAGE (64u * 1024u)

struct wgm_ws_parser;

/** One complete message or control frame. */
struct wgm_ws_event {
    /** WGM_WS_TEXT, WGM_WS_BINARY, WGM_WS_CLOSE, WGM_WS_PING or WGM_WS_PONG. */
    enum wgm_ws_opcode opcode;
    /** Unmasked payload, borrowed from the parser until its next call;
     *  always non-NULL and followed by a NUL byte (not counted in @len). */
    const uint8_t *data;
    size_t len;
    /** CLOSE only: the peer's code, or WGM_WS_CLOSE_NO_STATUS when the frame
     *  was empty; the reason (valid UTF-8, not NUL-terminated) and its length. */
    uint16_t close_code;
    const char *reason;
    size_t reason_len;
};

/** A parser for one client connection (new; free with wgm_ws_parser_free).
 *  @max_message caps a whole (reassembled) data message in bytes; 0 means
 *  WGM_WS_DEFAULT_MAX_MESSAGE.  NULL when out of memory. */
struct wgm_ws_parser *wgm_ws_parser_new(size_t max_message);
/** Free @p.  Accepts NULL; returns NULL. */
struct wgm_ws_parser *wgm_ws_parser_free(struct wgm_ws_parser *p);

/** Consume bytes from @buf (@len of them, any chunking) until one event is
 *  complete.
 *  @return 1 with @ev filled and *@used bytes consumed (call again with the
 *  rest); 0 when all @len bytes were consumed and more are needed; or a
 *  negative errno when the connection must fail: -EPROTO (close 1002),
 *  -EILSEQ (1007), -EMSGSIZE (1009), -ENOMEM (1011).  A failure is final:
 *  later calls return it again.  wgm_ws_parser_close_code() gives the code. */
int wgm_ws_parse(struct wgm_ws_parser *p, const void *buf, size_t len, size_t *used, struct wgm_ws_event *ev);
/** Close code for the parser's failure, or 0 while it has not failed. */
uint16_t wgm_ws_parser_close_code(const struct wgm_ws_parser *p);
/** Why the parser failed (static text), or NULL while it has not failed. */
const char *wgm_ws_parser_error(const struct wgm_ws_parser *p);

/** Write the header of a server frame (FIN set, unmasked, minimal length
 *  encoding) for a @len-byte payload into @out; returns its size (2, 4 or 10). */
size_t wgm_ws_frame_header(uint8_t out[WGM_WS_MAX_HEADER], enum wgm_ws_opcode opcode, uint64_t len);
/** Encode a whole server frame into a new buffer (*@out, free()).
 *  @return 0; -EINVAL for CONTINUATION or an unknown opcode, or a control
 *  payload over 125 bytes; -EILSEQ for TEXT that is not UTF-8; -ENOMEM. */
int wgm_ws_frame_encode(enum wgm_ws_opcode opcode, const void *payload, size_t len, uint8_t **out,
                        size_t *outlen);
/** Close payload for @code and @reason (may be NULL) into @out; the reason
 *  is cut at a character boundary to fit 123 bytes.  @code 0 gives an empty
 *  payload.  @return its length, or -EINVAL when @code may not be sent or
 *  @reason is not UTF-8. */
int wgm_ws_close_payload(uint8_t out[WGM_WS_MAX_CONTROL], uint16_t code, const char *reason);
/** True when a peer may send @code in a close frame (1000-1003, 1007-1014,
 *  3000-4999). */
bool wgm_ws_close_code_valid(uint16_t code);

/** True when @s (@len bytes) is well-formed UTF-8 (no overlongs, no
 *  surrogates, nothing above U+10FFFF). */
bool wgm_ws_utf8_valid(const void *s, size_t len);

/** True when @key is a Sec-WebSocket-Key: 24 base64 characters that decode
 *  to 16 bytes. */
bool wgm_ws_key_valid(const char *key);
/** Sec-WebSocket-Accept for @key into @out (NUL-terminated).
 *  @return 0, or -EINVAL when @key is not valid. */
int wgm_ws_accept_key(const char *key, char out[WGM_WS_ACCEPT_LEN + 1]);
/** SHA-1 of @len bytes (for the accept key only: SHA-1 is not a security
 *  primitive here). */
void wgm_ws_sha1(const void *data, size_t len, uint8_t out[20]);

#endif
