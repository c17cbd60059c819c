/* libFuzzer harness for plugins/wireguard/endpoint and the CIDR parser of
 * device.c: hosts, endpoints (API input and [wireguard] public_endpoint)
 * and allowed IPs, fed the raw input as a NUL-terminated string.
 *
 * Invariants: a valid host is a valid endpoint; nothing with white space
 * is accepted (callers refuse NULs inside strings; the parsers see C
 * strings); a valid endpoint renders into
 * something that is itself a valid endpoint and carries a port; a parsed
 * CIDR formats into text that parses to the same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/wireguard/device.h"
#include "../../plugins/wireguard/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s, buf[WG_ENDPOINT_LEN], text[64];
    struct wg_allowedip a, b;
    bool host, ep;

    if (size > 512)
        return 0;
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    host = wg_endpoint_host_valid(s);
    ep = wg_endpoint_valid(s);
    if (host && !ep)
        abort();
    if ((host || ep) && strpbrk(s, " \t\r\n\v\f"))
        abort();
    if (ep) {
        const char *colon;
        if (wg_endpoint_render(s, 51820, buf, sizeof(buf)) != 0 || !wg_endpoint_valid(buf))
            abort();
        colon = strrchr(buf, ':');
        if (!colon || (buf[0] == '[' && colon[-1] != ']'))
            abort();
    }
    if (wg_allowedip_parse(s, &a) == 0) {
        if (strpbrk(s, " \t\r\n\v\f+") || wg_allowedip_parse(wg_allowedip_format(&a, text, sizeof(text)), &b) != 0 ||
            a.family != b.family || a.cidr != b.cidr || memcmp(&a, &b, sizeof(a)) != 0)
            abort();
    }
    free(s);
    return 0;
}
