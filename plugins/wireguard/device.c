/* plugins/wireguard/device: growing arrays of peers and allowed IPs. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "device.h"

struct wg_device *wg_device_new(const char *name)
{
    struct wg_device *d;
    if (!name || strlen(name) >= WG_IFNAMSIZ || !*name)
        return NULL;
    d = calloc(1, sizeof(*d));
    if (d)
        memcpy(d->name, name, strlen(name) + 1);
    return d;
}

struct wg_device *wg_device_free(struct wg_device *d)
{
    if (!d)
        return NULL;
    for (size_t i = 0; i < d->n_peers; i++)
        free(d->peers[i].allowedips);
    /* Peers hold preshared keys. */
    if (d->peers)
        explicit_bzero(d->peers, d->cap_peers * sizeof(*d->peers));
    free(d->peers);
    /* Devices carry private keys: wipe before returning the memory. */
    explicit_bzero(d, sizeof(*d));
    free(d);
    return NULL;
}

struct wg_peer *wg_device_add_peer(struct wg_device *d, const uint8_t public_key[WG_KEY_LEN])
{
    struct wg_peer *p;
    if (d->n_peers == d->cap_peers) {
        /* Not realloc: the old block would be freed with preshared keys in it. */
        size_t cap = d->cap_peers ? d->cap_peers * 2 : 16;
        struct wg_peer *grown = malloc(cap * sizeof(*grown));
        if (!grown)
            return NULL;
        if (d->peers) {
            memcpy(grown, d->peers, d->n_peers * sizeof(*grown));
            explicit_bzero(d->peers, d->cap_peers * sizeof(*d->peers));
            free(d->peers);
        }
        d->peers = grown;
        d->cap_peers = cap;
    }
    p = &d->peers[d->n_peers++];
    memset(p, 0, sizeof(*p));
    memcpy(p->public_key, public_key, WG_KEY_LEN);
    return p;
}

int wg_peer_add_allowedip(struct wg_peer *p, const struct wg_allowedip *a)
{
    if (!((a->family == AF_INET && a->cidr <= 32) || (a->family == AF_INET6 && a->cidr <= 128)))
        return -EINVAL;
    if (p->n_allowedips == p->cap_allowedips) {
        size_t cap = p->cap_allowedips ? p->cap_allowedips * 2 : 4;
        struct wg_allowedip *grown = realloc(p->allowedips, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        p->allowedips = grown;
        p->cap_allowedips = cap;
    }
    p->allowedips[p->n_allowedips++] = *a;
    return 0;
}

struct wg_peer *wg_device_find_peer(const struct wg_device *d, const uint8_t public_key[WG_KEY_LEN])
{
    for (size_t i = 0; i < d->n_peers; i++)
        if (memcmp(d->peers[i].public_key, public_key, WG_KEY_LEN) == 0)
            return &d->peers[i];
    return NULL;
}

int wg_allowedip_parse(const char *s, struct wg_allowedip *out)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(s, '/');
    size_t len = slash ? (size_t)(slash - s) : strlen(s);
    long cidr;
    const char *end;

    memset(out, 0, sizeof(*out));
    if (len == 0 || len >= sizeof(addr))
        return -EINVAL;
    memcpy(addr, s, len);
    addr[len] = '\0';
    if (inet_pton(AF_INET, addr, &out->ip4) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, &out->ip6) == 1)
        out->family = AF_INET6;
    else
        return -EINVAL;
    if (!slash) {
        out->cidr = out->family == AF_INET ? 32 : 128;
        return 0;
    }
    /* 1-3 digits and nothing else: strtol would take " 8", "+8" and "08". */
    end = slash + 1;
    cidr = 0;
    for (size_t i = 0; end[i]; i++) {
        if (end[i] < '0' || end[i] > '9' || i >= 3 || (i == 1 && end[0] == '0'))
            return -EINVAL;
        cidr = cidr * 10 + (end[i] - '0');
    }
    if (!*end || cidr > (out->family == AF_INET ? 32 : 128))
        return -EINVAL;
    out->cidr = (uint8_t)cidr;
    return 0;
}

char *wg_allowedip_format(const struct wg_allowedip *a, char *buf, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->ip4 : (const void *)&a->ip6, addr, sizeof(addr));
    snprintf(buf, len, "%s/%u", addr, a->cidr);
    return buf;
}

bool wg_key_is_zero(const uint8_t key[WG_KEY_LEN])
{
    uint8_t acc = 0;
    for (size_t i = 0; i < WG_KEY_LEN; i++)
        acc |= key[i];
    return acc == 0;
}
