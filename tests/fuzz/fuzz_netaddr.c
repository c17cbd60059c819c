/* libFuzzer harness for core/auth/netaddr.h (allowed_ips, ip_whitelist)
 * and the anonymous rate-limit subject built on it.
 *
 * Input: a rule, '\n', an address.  Invariants: a parsed rule has a known
 * family and bits within it; an accepted rule or address has no white
 * space and re-parses from its canonical text to the same value (an
 * IPv4-mapped one as IPv4); a prefix contains its own network address;
 * the subject of an IPv6 address ends in "/64" and fits its buffer. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "auth/netaddr.h"
#include "cache/ratelimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cidr(const char *s)
{
    struct wgm_cidr c, again;
    char text[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];

    if (wgm_cidr_parse(s, &c) != 0)
        return;
    if (strpbrk(s, " \t\r\n\v\f+"))
        abort();
    if (c.net.family == AF_INET ? c.bits > 32 : c.net.family == AF_INET6 ? c.bits > 128 : 1)
        abort();
    if (!inet_ntop(c.net.family, c.net.b, addr, sizeof(addr)))
        abort();
    snprintf(text, sizeof(text), "%s/%u", addr, c.bits);
    if (wgm_cidr_parse(text, &again) != 0 || again.bits != c.bits || again.net.family != c.net.family ||
        memcmp(again.net.b, c.net.b, 16) != 0)
        abort();
    if (!wgm_cidr_contains(&c, &c.net))
        abort();
}

static void check_addr(const char *s)
{
    struct wgm_addr a, again;
    char text[INET6_ADDRSTRLEN], subject[96];

    if (wgm_addr_parse(s, &a) == 0) {
        if (strpbrk(s, " \t\r\n\v\f/%[]"))
            abort();
        if (!inet_ntop(a.family, a.b, text, sizeof(text)) || wgm_addr_parse(text, &again) != 0 ||
            again.family != a.family || memcmp(again.b, a.b, 16) != 0)
            abort();
        if (wgm_ratelimit_ip_subject(s, subject, sizeof(subject)) != 0)
            abort();
        if (a.family == AF_INET6 && strcmp(subject + strlen(subject) - 3, "/64") != 0)
            abort();
    } else if (strlen(s) < 90 && wgm_ratelimit_ip_subject(s, subject, sizeof(subject)) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *nl;
    struct wgm_cidr c;
    struct wgm_addr a;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    check_cidr(buf);
    check_addr(buf);
    if (nl) {
        check_addr(nl + 1);
        if (wgm_cidr_parse(buf, &c) == 0 && wgm_addr_parse(nl + 1, &a) == 0 &&
            wgm_cidr_contains(&c, &a) != wgm_cidr_match_text(buf, nl + 1))
            abort();
    }
    free(buf);
    return 0;
}
