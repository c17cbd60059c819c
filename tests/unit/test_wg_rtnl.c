/* rtnl.c against the real kernel, inside a network namespace of its own
 * (unshare(CLONE_NEWNET)): whatever it creates is private to this process
 * and disappears when it exits.  Skips without root or unshare; a link
 * that cannot be created fails.  Uses a
 * `dummy` link, or a veth pair where the dummy module is missing. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "backend.h"
#include "rtnl.h"
#include "tap.h"

#define IF "wgmtest0"

static struct wg_allowedip prefix(const char *s)
{
    struct wg_allowedip a;

    if (wg_allowedip_parse(s, &a) != 0)
        abort();
    return a;
}

static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

    if (fd < 0)
        return -errno;
    snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", IF);
    r = ioctl(fd, req, ifr) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int link_flags(void)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    return if_ioctl(SIOCGIFFLAGS, &ifr) < 0 ? -1 : ifr.ifr_flags;
}

static int link_mtu(void)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof(ifr));
    return if_ioctl(SIOCGIFMTU, &ifr) < 0 ? -1 : ifr.ifr_mtu;
}

/* Whether IF carries @addr/@plen, per getifaddrs. */
static bool has_addr(const char *addr, unsigned plen)
{
    struct ifaddrs *list, *i;
    bool found = false;

    if (getifaddrs(&list) != 0)
        return false;
    for (i = list; i && !found; i = i->ifa_next) {
        char buf[INET6_ADDRSTRLEN] = "";
        unsigned bits = 0;
        int fam;

        if (!i->ifa_addr || strcmp(i->ifa_name, IF) != 0)
            continue;
        fam = i->ifa_addr->sa_family;
        if (fam == AF_INET) {
            uint32_t m = ntohl(((struct sockaddr_in *)(void *)i->ifa_netmask)->sin_addr.s_addr);

            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, buf, sizeof(buf));
            while (m & 0x80000000u) {
                bits++;
                m <<= 1;
            }
        } else if (fam == AF_INET6) {
            const uint8_t *m = ((struct sockaddr_in6 *)(void *)i->ifa_netmask)->sin6_addr.s6_addr;

            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, buf, sizeof(buf));
            for (int b = 0; b < 128 && (m[b / 8] & (0x80 >> (b % 8))); b++)
                bits++;
        } else {
            continue;
        }
        found = strcmp(buf, addr) == 0 && bits == plen;
    }
    freeifaddrs(list);
    return found;
}

/* Whether the main table has an IPv4 route to @dst/@plen via IF. */
static bool has_route4(const char *dst, unsigned plen)
{
    FILE *f = fopen("/proc/net/route", "r");
    char line[512], ifname[IFNAMSIZ + 1];
    unsigned long d, gw, flags, refcnt, use, metric, mask;
    struct in_addr want;
    bool found = false;

    if (!f)
        return false;
    inet_pton(AF_INET, dst, &want);
    while (!found && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%16s %lx %lx %lx %lu %lu %lu %lx", ifname, &d, &gw, &flags, &refcnt, &use, &metric,
                   &mask) != 8)
            continue;
        found = strcmp(ifname, IF) == 0 && (uint32_t)d == want.s_addr &&
                (uint32_t)mask == (plen ? htonl(~0u << (32 - plen)) : 0);
    }
    fclose(f);
    return found;
}

/* Whether there is an IPv6 route to @dst/@plen via IF. */
static bool has_route6(const char *dst, unsigned plen)
{
    FILE *f = fopen("/proc/net/ipv6_route", "r");
    char line[512], hex[33], want[33], ifname[IFNAMSIZ + 1];
    unsigned len;
    struct in6_addr a;
    bool found = false;

    if (!f)
        return false;
    inet_pton(AF_INET6, dst, &a);
    for (int i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", a.s6_addr[i]);
    while (!found && fgets(line, sizeof(line), f)) {
        char *last = strrchr(line, ' ');

        if (!last || sscanf(line, "%32s %x", hex, &len) != 2 || sscanf(last + 1, "%16s", ifname) != 1)
            continue;
        found = strcmp(hex, want) == 0 && len == plen && strcmp(ifname, IF) == 0;
    }
    fclose(f);
    return found;
}

/* The other end of a veth pair: the one link that is neither lo nor IF. */
static bool veth_peer(char name[IFNAMSIZ])
{
    struct if_nameindex *list = if_nameindex(), *i;
    bool found = false;

    for (i = list; i && i->if_index; i++) {
        if (strcmp(i->if_name, "lo") && strcmp(i->if_name, IF)) {
            snprintf(name, IFNAMSIZ, "%s", i->if_name);
            found = true;
        }
    }
    if (list)
        if_freenameindex(list);
    return found;
}

static void send_udp(const char *dst)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9) };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    inet_pton(AF_INET, dst, &sin.sin_addr);
    if (fd >= 0) {
        (void)sendto(fd, "x", 1, 0, (struct sockaddr *)&sin, sizeof(sin));
        close(fd);
    }
}

int main(void)
{
    struct wg_allowedip v4 = prefix("10.77.0.1/24"), v6 = prefix("fd77::1/64");
    struct wg_allowedip r4 = prefix("10.78.0.0/16"), r4host = prefix("10.79.1.2/16"), r6 = prefix("fd78::/48");
    struct wg_link_stats st;
    struct wg_backend *kb = NULL;
    const char *kind = "dummy";
    char peer[IFNAMSIZ] = "";
    int r, idx;

    if (geteuid() != 0)
        skip_all("needs root for a private network namespace");
    if (unshare(CLONE_NEWNET) != 0)
        skip_all("unshare(CLONE_NEWNET) failed");

    r = wg_rtnl_link_add(IF, kind);
    if (r == -EOPNOTSUPP) {
        kind = "veth"; /* no dummy module: veth names its other end itself */
        r = wg_rtnl_link_add(IF, kind);
    }
    /* link_add is under test: a failure here fails the file (the rest needs
     * the link, so it stops), it does not turn into a skip. */
    is_int(r, 0, "link_add dummy (or veth)");
    if (r != 0)
        return done_testing();
    ok(1, "link_add(%s, \"%s\")", IF, kind);
    if (strcmp(kind, "veth") == 0)
        ok(veth_peer(peer), "veth peer is %s", peer);
    is_int(wg_rtnl_link_add(IF, kind), -EEXIST, "second link_add: -EEXIST");

    idx = wg_rtnl_ifindex(IF);
    ok(idx > 0 && (unsigned)idx == if_nametoindex(IF), "ifindex %d matches if_nametoindex", idx);
    is_int(wg_rtnl_ifindex("nosuch0"), -ENODEV, "ifindex of a missing link: -ENODEV");

    is_int(wg_rtnl_link_set_mtu(IF, 1380), 0, "set mtu 1380");
    is_int(link_mtu(), 1380, "mtu is 1380");
    is_int(wg_rtnl_link_set_mtu(IF, 1420), 0, "set mtu 1420");
    is_int(link_mtu(), 1420, "mtu is 1420");

    is_int(wg_rtnl_link_set_up(IF, true), 0, "set up");
    ok(link_flags() > 0 && (link_flags() & IFF_UP), "IFF_UP set");
    is_int(wg_rtnl_link_set_up(IF, false), 0, "set down");
    ok(link_flags() >= 0 && !(link_flags() & IFF_UP), "IFF_UP clear");
    is_int(wg_rtnl_link_set_up(IF, true), 0, "set up again");
    ok(link_flags() & IFF_UP, "IFF_UP set again");
    if (peer[0])
        wg_rtnl_link_set_up(peer, true);

    is_int(wg_rtnl_addr_add(IF, &v4), 0, "add 10.77.0.1/24");
    is_int(wg_rtnl_addr_add(IF, &v4), 0, "add it again: 0 (idempotent)");
    ok(has_addr("10.77.0.1", 24), "10.77.0.1/24 is on the link");
    is_int(wg_rtnl_addr_add(IF, &v6), 0, "add fd77::1/64");
    is_int(wg_rtnl_addr_add(IF, &v6), 0, "add it again: 0 (idempotent)");
    ok(has_addr("fd77::1", 64), "fd77::1/64 is on the link");

    is_int(wg_rtnl_route_add(IF, &r4), 0, "route add 10.78.0.0/16");
    is_int(wg_rtnl_route_add(IF, &r4), 0, "route add again: 0");
    ok(has_route4("10.78.0.0", 16), "10.78.0.0/16 via the link in the main table");
    is_int(wg_rtnl_route_add(IF, &r4host), 0, "route add 10.79.1.2/16 (host bits)");
    ok(has_route4("10.79.0.0", 16), "host bits masked: 10.79.0.0/16");
    is_int(wg_rtnl_route_add(IF, &r6), 0, "route add fd78::/48");
    is_int(wg_rtnl_route_add(IF, &r6), 0, "route add again: 0");
    ok(has_route6("fd78::", 48), "fd78::/48 via the link");

    is_int(wg_rtnl_route_del(IF, &r4), 0, "route del 10.78.0.0/16");
    ok(!has_route4("10.78.0.0", 16), "route gone");
    is_int(wg_rtnl_route_del(IF, &r4), 0, "route del again: 0");
    is_int(wg_rtnl_route_del(IF, &r4host), 0, "route del 10.79.0.0/16");
    is_int(wg_rtnl_route_del(IF, &r6), 0, "route del fd78::/48");
    ok(!has_route6("fd78::", 48), "IPv6 route gone");

    /* Counters: a datagram into the link's subnet goes out of it (dummy
     * directly, veth as an ARP request first). */
    is_int(wg_rtnl_link_stats(IF, &st), 0, "stats");
    send_udp("10.77.0.2");
    for (int i = 0; i < 100 && wg_rtnl_link_stats(IF, &st) == 0 && st.tx_packets == 0; i++) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };

        nanosleep(&ts, NULL);
        send_udp("10.77.0.2");
    }
    ok(st.tx_packets > 0 && st.tx_bytes > 0, "tx counted: %llu packets, %llu bytes",
       (unsigned long long)st.tx_packets, (unsigned long long)st.tx_bytes);
    if (peer[0]) {
        struct wg_link_stats ps;

        r = wg_rtnl_link_stats(peer, &ps);
        ok(r == 0 && ps.rx_packets > 0, "veth peer received %llu packets",
           (unsigned long long)ps.rx_packets);
    }

    is_int(wg_rtnl_addr_del(IF, &v4), 0, "del 10.77.0.1/24");
    ok(!has_addr("10.77.0.1", 24), "10.77.0.1 gone");
    is_int(wg_rtnl_addr_del(IF, &v4), 0, "del again: 0 (EADDRNOTAVAIL)");
    is_int(wg_rtnl_addr_del(IF, &v6), 0, "del fd77::1/64");
    ok(!has_addr("fd77::1", 64), "fd77::1 gone");
    is_int(wg_rtnl_addr_del(IF, &v6), 0, "del again: 0");

    /* Kernel errors come back as negative errno. */
    is_int(wg_rtnl_link_del("nosuch0"), -ENODEV, "link_del of a missing link: -ENODEV");
    is_int(wg_rtnl_link_set_mtu("nosuch0", 1400), -ENODEV, "set mtu of a missing link: -ENODEV");
    is_int(wg_rtnl_link_set_up("nosuch0", true), -ENODEV, "set up a missing link: -ENODEV");
    is_int(wg_rtnl_addr_add("nosuch0", &v4), -ENODEV, "addr add on a missing link: -ENODEV");
    is_int(wg_rtnl_route_add("nosuch0", &r4), -ENODEV, "route add on a missing link: -ENODEV");
    is_int(wg_rtnl_link_stats("nosuch0", &st), -ENODEV, "stats of a missing link: -ENODEV");
    is_int(wg_rtnl_link_add("wgmtest0123456789", "dummy"), -EINVAL, "17-character name: -EINVAL");
    is_int(wg_rtnl_link_set_mtu(IF, 0), -EINVAL, "mtu 0: -EINVAL");
    v4.cidr = 33;
    is_int(wg_rtnl_addr_add(IF, &v4), -EINVAL, "IPv4 /33: -EINVAL");
    is_int(wg_rtnl_link_add("wgmtest1", "nosuchkind"), -EOPNOTSUPP, "unknown link kind: -EOPNOTSUPP");
    r = wg_rtnl_link_add("wgmtest1", "wireguard");
    if (r == 0) {
        skip("the wireguard module is loaded here");
        wg_rtnl_link_del("wgmtest1");
    } else {
        is_int(r, -EOPNOTSUPP, "link kind wireguard without the module: -EOPNOTSUPP");
    }

    /* The kernel backend refuses to start without the genl family. */
    r = wg_backend_kernel_new(&kb);
    if (r == 0) {
        skip("the wireguard genl family exists here");
        kb->ops->free(kb);
    } else {
        is_int(r, -EPROTONOSUPPORT, "kernel backend without the module: -EPROTONOSUPPORT");
        ok(kb == NULL, "no backend returned");
    }

    is_int(wg_rtnl_link_del(IF), 0, "link_del");
    is_int(wg_rtnl_ifindex(IF), -ENODEV, "gone: -ENODEV");
    if (peer[0])
        is_int(wg_rtnl_ifindex(peer), -ENODEV, "veth peer went with it");
    return done_testing();
}
