/* libFuzzer harness for the WebSocket frame parser (core/ws/frame.c).
 *
 * Input byte 0 picks the chunk size (1..64) the rest is fed in, so frame
 * and UTF-8 boundaries land anywhere; byte 1 picks a small or the default
 * message cap, so the 1009 path is reached.  Every event is checked
 * against the parser's contract, and messages are re-encoded as server
 * frames. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ws/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(const struct wgm_ws_event *ev)
{
    uint8_t *out = NULL;
    size_t outlen;

    if (!ev->data || ev->data[ev->len] != '\0')
        abort();
    switch (ev->opcode) {
    case WGM_WS_TEXT:
        if (!wgm_ws_utf8_valid(ev->data, ev->len))
            abort();
        if (wgm_ws_frame_encode(WGM_WS_TEXT, ev->data, ev->len, &out, &outlen) != 0)
            abort();
        break;
    case WGM_WS_BINARY:
        if (wgm_ws_frame_encode(WGM_WS_BINARY, ev->data, ev->len, &out, &outlen) != 0)
            abort();
        break;
    case WGM_WS_PING:
    case WGM_WS_PONG:
        if (ev->len > WGM_WS_MAX_CONTROL || wgm_ws_frame_encode(WGM_WS_PONG, ev->data, ev->len, &out, &outlen) != 0)
            abort();
        break;
    case WGM_WS_CLOSE: {
        uint8_t pl[WGM_WS_MAX_CONTROL];
        char reason[WGM_WS_MAX_CONTROL + 1];
        if (ev->close_code == WGM_WS_CLOSE_NO_STATUS) {
            if (ev->len != 0)
                abort();
            break;
        }
        if (!wgm_ws_close_code_valid(ev->close_code) || ev->reason_len > 123 ||
            !wgm_ws_utf8_valid(ev->reason, ev->reason_len))
            abort();
        /* Echoing the peer's close must always be encodable. */
        memcpy(reason, ev->reason, ev->reason_len);
        reason[ev->reason_len] = '\0';
        if (memchr(reason, '\0', ev->reason_len))
            break; /* embedded NUL: the C-string reason would be shorter */
        if (wgm_ws_close_payload(pl, ev->close_code, reason) != (int)ev->len)
            abort();
        break;
    }
    default:
        abort();
    }
    if (out && (outlen < ev->len + 2 || (out[0] & 0x0F) == 0 || (out[1] & 0x80)))
        abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wgm_ws_parser *p;
    size_t chunk, max, off;

    if (size < 2)
        return 0;
    chunk = (size_t)(data[0] & 0x3F) + 1;
    max = data[1] & 1 ? 256 : 0;
    data += 2;
    size -= 2;
    p = wgm_ws_parser_new(max);
    if (!p)
        return 0;
    for (off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk, coff = 0;
        while (coff < n) {
            struct wgm_ws_event ev;
            size_t used = 0;
            int r = wgm_ws_parse(p, data + off + coff, n - coff, &used, &ev);
            if (used > n - coff)
                abort();
            coff += used;
            if (r < 0) {
                uint16_t code = wgm_ws_parser_close_code(p);
                if (!wgm_ws_parser_error(p) ||
                    (r == -EPROTO && code != 1002) || (r == -EILSEQ && code != 1007) ||
                    (r == -EMSGSIZE && code != 1009) || (r == -ENOMEM && code != 1011))
                    abort();
                goto out;
            }
            if (r == 0) {
                if (coff != n)
                    abort();
                break;
            }
            if (max && (ev.opcode == WGM_WS_TEXT || ev.opcode == WGM_WS_BINARY) && ev.len > max)
                abort();
            check_event(&ev);
        }
        off += n;
    }
out:
    wgm_ws_parser_free(p);
    return 0;
}
