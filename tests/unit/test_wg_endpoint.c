/* endpoint.c: which hosts and endpoints are accepted, how the port is
 * added, and which address of a host is offered (on constructed
 * getifaddrs lists, so every class and skip rule is exercised). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <string.h>
#include "endpoint.h"
#include "tap.h"

static void test_host_valid(void)
{
    static const char *const good[] = {"vpn.example.com", "example", "a-b.c", "1.2.3.4", "2001:db8::1",
                                       "[2001:db8::1]", "xn--bcher-kva.example", "::1"};
    static const char *const bad[] = {"", " vpn.example.com", "vpn.example.com ", "vpn.example.com:51820",
                                      "[2001:db8::1]:51820", "-a.example", "a-.example", "a..example", ".example",
                                      "example.", "1.2.3.999", "300.1.1.1", "exa mple", "exa_mple", "[1.2.3.4]",
                                      "2001:db8::1%eth0", "[2001:db8::1", "vpn/1", "1.2.3.4\n"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(wg_endpoint_host_valid(good[i]), "host '%s' accepted", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(!wg_endpoint_host_valid(bad[i]), "host '%s' refused", bad[i]);
    ok(!wg_endpoint_host_valid(NULL), "NULL refused");
    {
        char label[80];
        memset(label, 'a', 64);
        label[64] = '\0';
        ok(!wg_endpoint_host_valid(label), "a 64-character label is refused");
        label[63] = '\0';
        ok(wg_endpoint_host_valid(label), "a 63-character label is accepted");
    }
}

static void test_endpoint_valid(void)
{
    static const char *const good[] = {"vpn.example.com", "vpn.example.com:51820", "1.2.3.4:1", "2001:db8::1",
                                       "[2001:db8::1]", "[2001:db8::1]:65535"};
    static const char *const bad[] = {"vpn.example.com:0", "vpn.example.com:65536", "vpn.example.com: 1",
                                      "vpn.example.com:+1", "vpn.example.com:1 ", "[2001:db8::1]:",
                                      "[2001:db8::1]x", "[zz::1]:1", "1.2.3.4:1:2x", "bad host:1", ""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ok(wg_endpoint_valid(good[i]), "endpoint '%s' accepted", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(!wg_endpoint_valid(bad[i]), "endpoint '%s' refused", bad[i]);
}

static void test_render(void)
{
    char buf[WG_ENDPOINT_LEN];
    is_int(wg_endpoint_render("vpn.example.com", 51820, buf, sizeof(buf)), 0, "render a host");
    is_str(buf, "vpn.example.com:51820", "port added to a host");
    wg_endpoint_render("vpn.example.com:443", 51820, buf, sizeof(buf));
    is_str(buf, "vpn.example.com:443", "a host's own port is kept");
    wg_endpoint_render("2001:db8::1", 51820, buf, sizeof(buf));
    is_str(buf, "[2001:db8::1]:51820", "IPv6 bracketed");
    wg_endpoint_render("[2001:db8::1]", 51821, buf, sizeof(buf));
    is_str(buf, "[2001:db8::1]:51821", "bracketed IPv6 gets the port");
    wg_endpoint_render("[2001:db8::1]:443", 51821, buf, sizeof(buf));
    is_str(buf, "[2001:db8::1]:443", "bracketed IPv6 with a port is kept");
    wg_endpoint_render("192.0.2.1", 1, buf, sizeof(buf));
    is_str(buf, "192.0.2.1:1", "IPv4 with the port");
    is_int(wg_endpoint_render("", 51820, buf, sizeof(buf)), -EINVAL, "empty endpoint: -EINVAL");
    is_int(wg_endpoint_render(NULL, 51820, buf, sizeof(buf)), -EINVAL, "no endpoint: -EINVAL");
    is_int(wg_endpoint_render("h", 0, buf, sizeof(buf)), -EINVAL, "port 0: -EINVAL");
    is_int(wg_endpoint_render("vpn.example.com", 51820, buf, 10), -EINVAL, "too small a buffer: -EINVAL");
}

/* The longest names: what is accepted renders (port added) into text that
 * is itself accepted, so a stored endpoint never yields a config line the
 * validator would refuse.  The fuzzer found a 250-byte name whose
 * rendered form was refused by an old 255-byte cap. */
static void test_long_names(void)
{
    char name[300], with_port[320], buf[WG_ENDPOINT_LEN];
    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes: the longest DNS name. */
    memset(name, 'a', 253);
    name[63] = name[127] = name[191] = '.';
    name[253] = '\0';
    ok(wg_endpoint_host_valid(name), "a 253-byte name is a host");
    ok(wg_endpoint_valid(name), "a 253-byte name is an endpoint");
    is_int(wg_endpoint_render(name, 65535, buf, sizeof(buf)), 0, "a 253-byte name renders");
    ok(wg_endpoint_valid(buf), "its rendered form (with :65535) is an endpoint");
    is_int((int)strlen(buf), WG_ENDPOINT_MAX, "which is WG_ENDPOINT_MAX long");
    snprintf(with_port, sizeof(with_port), "%s:1", name);
    ok(wg_endpoint_valid(with_port), "a 253-byte name with a port is an endpoint");
    name[253] = 'a';
    name[254] = '\0';
    ok(!wg_endpoint_valid(name), "a 254-byte name is not");
    snprintf(with_port, sizeof(with_port), "%s:1", name);
    ok(!wg_endpoint_valid(with_port), "nor with a port");
    memset(with_port, 'a', 310);
    with_port[309] = '\0';
    ok(!wg_endpoint_valid(with_port), "a 309-byte string is refused without overrunning");
}

/* A constructed getifaddrs list: interfaces with link types and addresses. */
struct fake {
    struct ifaddrs ifa;
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_ll ll;
    } addr;
};

static struct fake pool[32];
static size_t n_pool;

static void add(const char *name, unsigned flags, const char *ip, unsigned short hatype)
{
    struct fake *f = &pool[n_pool];
    memset(f, 0, sizeof(*f));
    f->ifa.ifa_name = (char *)name;
    f->ifa.ifa_flags = flags;
    f->ifa.ifa_addr = &f->addr.sa;
    if (!ip) {
        f->addr.ll.sll_family = AF_PACKET;
        f->addr.ll.sll_hatype = hatype;
    } else if (strchr(ip, ':')) {
        f->addr.in6.sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &f->addr.in6.sin6_addr);
    } else {
        f->addr.in4.sin_family = AF_INET;
        inet_pton(AF_INET, ip, &f->addr.in4.sin_addr);
    }
    if (n_pool)
        pool[n_pool - 1].ifa.ifa_next = &f->ifa;
    n_pool++;
}

static const char *pick(void)
{
    static char buf[INET6_ADDRSTRLEN];
    int r = wg_endpoint_pick(n_pool ? &pool[0].ifa : NULL, buf, sizeof(buf));
    n_pool = 0;
    return r == 0 ? buf : r == -ENOENT ? "(none)" : "(error)";
}

static void test_pick(void)
{
    const unsigned UP = IFF_UP | IFF_RUNNING;

    add("lo", UP | IFF_LOOPBACK, NULL, ARPHRD_LOOPBACK);
    add("lo", UP | IFF_LOOPBACK, "127.0.0.1", 0);
    add("lo", UP | IFF_LOOPBACK, "::1", 0);
    is_str(pick(), "(none)", "only loopback: nothing");

    add("eth0", UP, NULL, ARPHRD_ETHER);
    add("eth0", UP, "169.254.1.1", 0);
    add("eth0", UP, "fe80::1", 0);
    add("eth0", UP, "ff02::1", 0);
    add("eth0", UP, "224.0.0.1", 0);
    is_str(pick(), "(none)", "link-local and multicast: nothing");

    add("eth0", UP, NULL, ARPHRD_ETHER);
    add("eth0", UP, "10.0.0.5", 0);
    add("eth0", UP, "fd00::2", 0);
    add("eth0", UP, "192.0.2.2", 0);
    add("eth1", UP, NULL, ARPHRD_ETHER);
    add("eth1", UP, "2001:db8:1::5", 0);
    is_str(pick(), "2001:db8:1::5", "global IPv6 beats every other class, on any interface");

    add("eth0", UP, NULL, ARPHRD_ETHER);
    add("eth0", UP, "10.0.0.5", 0);
    add("eth0", UP, "fd00::2", 0);
    add("eth0", UP, "192.0.2.2", 0);
    add("eth0", UP, "198.51.100.7", 0);
    is_str(pick(), "192.0.2.2", "then the first public IPv4, before a ULA");

    add("eth0", UP, NULL, ARPHRD_ETHER);
    add("eth0", UP, "10.0.0.5", 0);
    add("eth0", UP, "100.64.0.9", 0);
    add("eth0", UP, "fd00::2", 0);
    is_str(pick(), "fd00::2", "then a ULA, before private IPv4 and 100.64/10");

    add("eth0", UP, NULL, ARPHRD_ETHER);
    add("eth0", UP, "172.20.0.1", 0);
    add("eth0", UP, "192.168.1.1", 0);
    is_str(pick(), "172.20.0.1", "then the first private IPv4");

    add("wg0", UP | IFF_POINTOPOINT | IFF_NOARP, NULL, ARPHRD_NONE);
    add("wg0", UP | IFF_POINTOPOINT | IFF_NOARP, "2001:db8:9::1", 0);
    add("eth0", UP, NULL, ARPHRD_ETHER);
    add("eth0", UP, "10.0.0.5", 0);
    is_str(pick(), "10.0.0.5", "a WireGuard/TUN link (ARPHRD_NONE) is never offered");

    add("eth0", IFF_BROADCAST, NULL, ARPHRD_ETHER);
    add("eth0", IFF_BROADCAST, "2001:db8:1::5", 0);
    add("ppp0", UP | IFF_POINTOPOINT, NULL, ARPHRD_PPP);
    add("ppp0", UP | IFF_POINTOPOINT, "203.0.113.4", 0);
    is_str(pick(), "203.0.113.4", "an interface that is down is skipped; PPP is not a tunnel");

    add("eth0", UP, NULL, ARPHRD_ETHER);
    add("eth0", UP, "::ffff:192.0.2.1", 0);
    add("eth0", UP, "::", 0);
    add("eth0", UP, "0.0.0.0", 0);
    is_str(pick(), "(none)", "v4-mapped and unspecified addresses: nothing");

    is_str(pick(), "(none)", "an empty list: nothing");
}

int main(void)
{
    char buf[INET6_ADDRSTRLEN];
    int r;

    test_host_valid();
    test_endpoint_valid();
    test_render();
    test_long_names();
    test_pick();
    /* The live host: whatever it answers is an address or -ENOENT. */
    r = wg_endpoint_detect(buf, sizeof(buf));
    ok(r == -ENOENT || (r == 0 && (strchr(buf, ':') || strchr(buf, '.'))), "detect on this host: %d %s", r,
       r == 0 ? buf : "");
    return done_testing();
}
