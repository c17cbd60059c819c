/* plugins/wireguard/endpoint: validating, rendering and detecting the
 * endpoint a client config names. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wgm/input.h>
#include "endpoint.h"

static bool is_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

static bool is_ipv6(const char *s)
{
    struct in6_addr a;
    return inet_pton(AF_INET6, s, &a) == 1;
}

/* "[v6]" with a valid v6 inside. */
static bool is_bracketed_ipv6(const char *s, size_t n)
{
    char inner[INET6_ADDRSTRLEN];
    if (n < 4 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= sizeof(inner))
        return false;
    memcpy(inner, s + 1, n - 2);
    inner[n - 2] = '\0';
    return is_ipv6(inner);
}

static bool is_hostname(const char *s, size_t n)
{
    size_t label = 0;
    bool all_digits_or_dots = true;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            /* Empty labels and labels ending in '-' are not names. */
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
        if (c == '-' && label == 0)
            return false;
        if (!(c >= '0' && c <= '9'))
            all_digits_or_dots = false;
        if (++label > 63)
            return false;
    }
    /* "1.2.3.999" is a bad IPv4 literal, not a name. */
    return label > 0 && s[n - 1] != '-' && !all_digits_or_dots;
}

bool wg_endpoint_host_valid(const char *s)
{
    size_t n;
    if (!s)
        return false;
    n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    return is_ipv4(s) || is_ipv6(s) || is_bracketed_ipv6(s, n) || is_hostname(s, n);
}

bool wg_endpoint_valid(const char *s)
{
    const char *colon, *port = NULL;
    size_t hostlen;
    long long p;
    if (!s || !*s || strlen(s) > WG_ENDPOINT_MAX)
        return false;
    colon = strrchr(s, ':');
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        hostlen = (size_t)(close - s) + 1;
        port = close[1] ? close + 2 : NULL;
        if (!is_bracketed_ipv6(s, hostlen))
            return false;
    } else if (colon && colon == strchr(s, ':')) {
        char host[WG_ENDPOINT_MAX + 1];
        /* Exactly one colon: host:port. */
        hostlen = (size_t)(colon - s);
        memcpy(host, s, hostlen);
        host[hostlen] = '\0';
        if (!is_ipv4(host) && !is_hostname(host, hostlen))
            return false;
        port = colon + 1;
    } else if (!wg_endpoint_host_valid(s)) {
        return false;
    }
    return !port || wgm_in_parse_ll(port, 1, 65535, &p) == 0;
}

int wg_endpoint_render(const char *ep, unsigned port, char *buf, size_t len)
{
    const char *close, *colon;
    bool has_port;
    int n;

    /* Not re-validated: a row stored under older, looser rules still renders. */
    if (!ep || !*ep || port == 0 || port > 65535)
        return -EINVAL;
    close = strrchr(ep, ']');
    colon = strrchr(ep, ':');
    has_port = ep[0] == '[' ? close && close[1] == ':' : colon && colon == strchr(ep, ':');
    if (has_port)
        n = snprintf(buf, len, "%s", ep);
    else if (ep[0] == '[')
        n = snprintf(buf, len, "%s:%u", ep, port);
    else if (strchr(ep, ':'))
        n = snprintf(buf, len, "[%s]:%u", ep, port);
    else
        n = snprintf(buf, len, "%s:%u", ep, port);
    return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

/* Lower is better; -1 for an address never used. */
static int v6_class(const struct in6_addr *a)
{
    if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
        IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_V4MAPPED(a) ||
        IN6_IS_ADDR_V4COMPAT(a))
        return -1;
    return (a->s6_addr[0] & 0xfe) == 0xfc ? 2 : 0; /* fc00::/7 is unique local */
}

static int v4_class(const struct in_addr *a)
{
    uint32_t x = ntohl(a->s_addr);
    if ((x >> 24) == 0 || (x >> 24) == 127 || (x >> 16) == 0xa9fe || (x >> 28) == 0xe || (x >> 28) == 0xf)
        return -1; /* 0/8, loopback, 169.254/16, multicast, reserved and broadcast */
    if ((x >> 24) == 10 || (x >> 20) == 0xac1 || (x >> 16) == 0xc0a8 || (x >> 22) == (0x64400000u >> 22))
        return 3; /* 10/8, 172.16/12, 192.168/16, 100.64/10 */
    return 1;
}

/* An interface of the list whose link type is ARPHRD_NONE. */
static bool tunnel_link(const struct ifaddrs *list, const char *name)
{
    for (const struct ifaddrs *i = list; i; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && i->ifa_name && !strcmp(i->ifa_name, name))
            return ((const struct sockaddr_ll *)(const void *)i->ifa_addr)->sll_hatype == ARPHRD_NONE;
    return false;
}

int wg_endpoint_pick(const struct ifaddrs *list, char *buf, size_t len)
{
    const struct ifaddrs *best = NULL;
    int best_class = 99;

    for (const struct ifaddrs *i = list; i; i = i->ifa_next) {
        int c;
        if (!i->ifa_addr || !i->ifa_name || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
            continue;
        if (i->ifa_addr->sa_family == AF_INET6)
            c = v6_class(&((const struct sockaddr_in6 *)(const void *)i->ifa_addr)->sin6_addr);
        else if (i->ifa_addr->sa_family == AF_INET)
            c = v4_class(&((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr);
        else
            continue;
        if (c < 0 || c >= best_class || tunnel_link(list, i->ifa_name))
            continue;
        best = i;
        best_class = c;
    }
    if (!best)
        return -ENOENT;
    if (!inet_ntop(best->ifa_addr->sa_family,
                   best->ifa_addr->sa_family == AF_INET6
                       ? (const void *)&((const struct sockaddr_in6 *)(const void *)best->ifa_addr)->sin6_addr
                       : (const void *)&((const struct sockaddr_in *)(const void *)best->ifa_addr)->sin_addr,
                   buf, (socklen_t)len))
        return -ENOSPC;
    return 0;
}

int wg_endpoint_detect(char *buf, size_t len)
{
    struct ifaddrs *list = NULL;
    int r;
    if (getifaddrs(&list) < 0)
        return -errno;
    r = wg_endpoint_pick(list, buf, len);
    freeifaddrs(list);
    return r;
}
