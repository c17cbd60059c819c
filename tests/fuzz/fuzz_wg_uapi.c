/* libFuzzer harness for plugins/wireguard/uapi: the get-reply parser (the
 * bytes a wireguard-go socket sends back) and the set-reply parser.
 *
 * Invariants: a reply that parses re-encodes as a set request whose lines,
 * read back as a get reply, give the same device (keys, port, fwmark,
 * peers, PSKs, endpoints, keepalives, allowed IPs); errors are only the
 * documented ones. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../../plugins/wireguard/device.h"
#include "../../plugins/wireguard/uapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEER_FLAGS (WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE)
#define DEVICE_FLAGS (WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_PUBLIC_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_HAS_FWMARK)

static void check(int cond)
{
    if (!cond)
        abort();
}

static void same(const struct wg_device *a, const struct wg_device *b)
{
    check((a->flags & DEVICE_FLAGS) == (b->flags & DEVICE_FLAGS));
    check(!memcmp(a->private_key, b->private_key, WG_KEY_LEN) && !memcmp(a->public_key, b->public_key, WG_KEY_LEN));
    check(a->listen_port == b->listen_port && a->fwmark == b->fwmark && a->n_peers == b->n_peers);
    for (size_t i = 0; i < a->n_peers; i++) {
        const struct wg_peer *p = &a->peers[i], *q = &b->peers[i];
        check((p->flags & PEER_FLAGS) == (q->flags & PEER_FLAGS));
        check(!memcmp(p->public_key, q->public_key, WG_KEY_LEN));
        check(!memcmp(p->preshared_key, q->preshared_key, WG_KEY_LEN));
        check(!memcmp(&p->endpoint, &q->endpoint, sizeof(p->endpoint)));
        check(p->keepalive == q->keepalive && p->n_allowedips == q->n_allowedips);
        for (size_t j = 0; j < p->n_allowedips; j++) {
            char x[64], y[64];
            wg_allowedip_format(&p->allowedips[j], x, sizeof(x));
            wg_allowedip_format(&q->allowedips[j], y, sizeof(y));
            check(!strcmp(x, y));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wg_device *d = NULL, *again = NULL;
    struct wg_uapi_buf set = {0};
    char *reply;
    size_t len;
    int r;

    r = wg_uapi_parse_errno((const char *)data, size);
    check(r <= 0 && r >= -4095);

    r = wg_uapi_parse_get((const char *)data, size, "fuzz0", &d);
    check((r == 0) == (d != NULL));
    check(r <= 0 && r >= -4095);
    if (r < 0)
        return 0;

    /* The set request minus "set=1\n" and its blank line is a get reply. */
    check(wg_uapi_encode_set(d, &set) == 0);
    check(set.len >= 7 && !memcmp(set.data, "set=1\n", 6) && set.data[set.len - 1] == '\n');
    len = set.len - 7;
    reply = malloc(len + 9);
    check(reply != NULL);
    memcpy(reply, set.data + 6, len);
    memcpy(reply + len, "errno=0\n\n", 9);
    check(wg_uapi_parse_get(reply, len + 9, "fuzz0", &again) == 0);
    same(d, again);

    free(reply);
    wg_uapi_buf_wipe(&set);
    wg_device_free(again);
    wg_device_free(d);
    return 0;
}
