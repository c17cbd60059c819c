/* plugins/wireguard/rtnl: rtnetlink with libmnl, one NETLINK_ROUTE socket
 * per call (so calls from several threads never share one, and each works
 * in the calling thread's netns).  Requests follow iproute2 and
 * protocols.md §1.8; every request asks for an ACK so that the kernel's
 * verdict comes back as the return value. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include "rtnl.h"

/* Replies to RTM_GETLINK carry statistics and per-family configuration and
 * outgrow a page; a short buffer would truncate them (MSG_TRUNC). */
#define RTNL_BUFSIZE 32768u
/* Longest link kind accepted ("wireguard", "dummy", "veth", ...). */
#define RTNL_KIND_MAX 64u

static bool valid_name(const char *name)
{
    size_t n;

    if (!name)
        return false;
    n = strnlen(name, IFNAMSIZ);
    return n > 0 && n < IFNAMSIZ;
}

static bool valid_prefix(const struct wg_allowedip *a)
{
    return a && ((a->family == AF_INET && a->cidr <= 32) || (a->family == AF_INET6 && a->cidr <= 128));
}

/* A request in a zeroed buffer of RTNL_BUFSIZE bytes; the reply is read
 * into the same buffer once the request has gone. */
static struct nlmsghdr *req_start(void *buf, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    nlh->nlmsg_seq = (uint32_t)time(NULL);
    return nlh;
}

/* Send the request at the start of @buf and run the replies through @cb
 * until the ACK.  0 or the kernel's error as a negative errno. */
static int rtnl_talk(void *buf, mnl_cb_t cb, void *data)
{
    const struct nlmsghdr *nlh = buf;
    uint32_t seq = nlh->nlmsg_seq, portid;
    struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    int r;

    if (!nl)
        return -errno;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        r = -errno;
        goto out;
    }
    portid = mnl_socket_get_portid(nl);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        r = -errno;
        goto out;
    }
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, RTNL_BUFSIZE);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        /* libmnl's NLMSG_ERROR handler puts the kernel's error in errno;
         * the data callbacks here never fail. */
        errno = 0;
        r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
        if (r < 0) {
            r = errno ? -errno : -EPROTO;
            break;
        }
        if (r == MNL_CB_STOP) {
            r = 0;
            break;
        }
    }
out:
    mnl_socket_close(nl);
    return r;
}

/* One link request addressed by name (ifi_index 0 + IFLA_IFNAME): the
 * kernel looks the link up itself, in one round trip. */
static struct nlmsghdr *link_req(void *buf, uint16_t type, uint16_t flags, const char *ifname)
{
    struct nlmsghdr *nlh = req_start(buf, type, flags);
    struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));

    ifm->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
    return nlh;
}

int wg_rtnl_link_add(const char *ifname, const char *kind)
{
    struct nlmsghdr *nlh;
    struct nlattr *info;
    void *buf;
    int r;

    if (!valid_name(ifname) || !kind || !*kind || strnlen(kind, RTNL_KIND_MAX) == RTNL_KIND_MAX)
        return -EINVAL;
    buf = calloc(1, RTNL_BUFSIZE);
    if (!buf)
        return -ENOMEM;
    nlh = link_req(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, ifname);
    info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, kind);
    mnl_attr_nest_end(nlh, info);
    r = rtnl_talk(buf, NULL, NULL);
    free(buf);
    return r;
}

int wg_rtnl_link_del(const char *ifname)
{
    void *buf;
    int r;

    if (!valid_name(ifname))
        return -EINVAL;
    buf = calloc(1, RTNL_BUFSIZE);
    if (!buf)
        return -ENOMEM;
    link_req(buf, RTM_DELLINK, 0, ifname);
    r = rtnl_talk(buf, NULL, NULL);
    free(buf);
    return r;
}

/* What RTM_GETLINK told about one link. */
struct link_info {
    int ifindex;
    bool have64, have32;
    struct wg_link_stats s64, s32;
};

static int link_attr_cb(const struct nlattr *a, void *data)
{
    struct link_info *li = data;
    size_t len = mnl_attr_get_payload_len(a);
    /* Both structs begin rx_packets, tx_packets, rx_bytes, tx_bytes; copy
     * instead of casting, as a 64-bit attribute is only 4-byte aligned. */
    uint64_t v64[4];
    uint32_t v32[4];

    switch (mnl_attr_get_type(a)) {
    case IFLA_STATS64:
        if (len < sizeof(v64))
            break;
        memcpy(v64, mnl_attr_get_payload(a), sizeof(v64));
        li->s64 = (struct wg_link_stats){ .rx_packets = v64[0], .tx_packets = v64[1],
                                          .rx_bytes = v64[2], .tx_bytes = v64[3] };
        li->have64 = true;
        break;
    case IFLA_STATS:
        if (len < sizeof(v32))
            break;
        memcpy(v32, mnl_attr_get_payload(a), sizeof(v32));
        li->s32 = (struct wg_link_stats){ .rx_packets = v32[0], .tx_packets = v32[1],
                                          .rx_bytes = v32[2], .tx_bytes = v32[3] };
        li->have32 = true;
        break;
    default:
        break;
    }
    return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
    struct link_info *li = data;
    struct ifinfomsg ifm;

    if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifm)))
        return MNL_CB_OK;
    memcpy(&ifm, mnl_nlmsg_get_payload(nlh), sizeof(ifm));
    li->ifindex = ifm.ifi_index;
    mnl_attr_parse(nlh, sizeof(ifm), link_attr_cb, li);
    return MNL_CB_OK;
}

static int link_get(const char *ifname, struct link_info *li)
{
    void *buf;
    int r;

    memset(li, 0, sizeof(*li));
    if (!valid_name(ifname))
        return -EINVAL;
    buf = calloc(1, RTNL_BUFSIZE);
    if (!buf)
        return -ENOMEM;
    link_req(buf, RTM_GETLINK, 0, ifname);
    r = rtnl_talk(buf, link_cb, li);
    free(buf);
    if (r == 0 && li->ifindex <= 0)
        r = -ENODEV;
    return r;
}

int wg_rtnl_ifindex(const char *ifname)
{
    struct link_info li;
    int r = link_get(ifname, &li);

    return r < 0 ? r : li.ifindex;
}

/* RTM_NEWLINK without NLM_F_CREATE changes an existing link (-ENODEV when
 * there is none). */
static int link_change(const char *ifname, bool set_up, bool up, uint32_t mtu)
{
    struct nlmsghdr *nlh;
    struct ifinfomsg *ifm;
    void *buf;
    int r;

    if (!valid_name(ifname))
        return -EINVAL;
    buf = calloc(1, RTNL_BUFSIZE);
    if (!buf)
        return -ENOMEM;
    nlh = link_req(buf, RTM_NEWLINK, 0, ifname);
    ifm = mnl_nlmsg_get_payload(nlh);
    if (set_up) {
        ifm->ifi_change = IFF_UP;
        ifm->ifi_flags = up ? IFF_UP : 0;
    }
    if (mtu)
        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
    r = rtnl_talk(buf, NULL, NULL);
    free(buf);
    return r;
}

int wg_rtnl_link_set_up(const char *ifname, bool up)
{
    return link_change(ifname, true, up, 0);
}

int wg_rtnl_link_set_mtu(const char *ifname, unsigned mtu)
{
    /* 0 would mean "no change" to link_change; the kernel refuses it too. */
    if (mtu == 0)
        return -EINVAL;
    return link_change(ifname, false, false, (uint32_t)mtu);
}

static int addr_msg(const char *ifname, const struct wg_allowedip *a, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh;
    struct ifaddrmsg *ifa;
    void *buf;
    int ifindex, r;

    if (!valid_prefix(a))
        return -EINVAL;
    ifindex = wg_rtnl_ifindex(ifname);
    if (ifindex < 0)
        return ifindex;
    buf = calloc(1, RTNL_BUFSIZE);
    if (!buf)
        return -ENOMEM;
    nlh = req_start(buf, type, flags);
    ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
    ifa->ifa_family = (uint8_t)a->family;
    ifa->ifa_prefixlen = a->cidr;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (uint32_t)ifindex;
    if (a->family == AF_INET) {
        /* IPv4 requires IFA_LOCAL (IFA_ADDRESS alone is EINVAL); iproute2
         * sends both with the same bytes on a non-point-to-point add. */
        mnl_attr_put(nlh, IFA_LOCAL, sizeof(a->ip4), &a->ip4);
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof(a->ip4), &a->ip4);
    } else {
        /* No duplicate address detection: a tunnel has no neighbours to
         * ask, and DAD would hold the address tentative for a second. */
        ifa->ifa_flags = IFA_F_NODAD;
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof(a->ip6), &a->ip6);
        mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
    }
    r = rtnl_talk(buf, NULL, NULL);
    free(buf);
    return r;
}

int wg_rtnl_addr_add(const char *ifname, const struct wg_allowedip *addr)
{
    int r = addr_msg(ifname, addr, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);

    return r == -EEXIST ? 0 : r;
}

int wg_rtnl_addr_del(const char *ifname, const struct wg_allowedip *addr)
{
    int r = addr_msg(ifname, addr, RTM_DELADDR, 0);

    return r == -EADDRNOTAVAIL ? 0 : r; /* already gone */
}

/* The network of @a: the kernel refuses an IPv4 route whose destination
 * has host bits set ("Invalid prefix for given prefix length"). */
static void prefix_mask(const struct wg_allowedip *a, uint8_t out[16])
{
    size_t len = a->family == AF_INET ? 4 : 16;

    memcpy(out, a->family == AF_INET ? (const void *)&a->ip4 : (const void *)&a->ip6, len);
    for (size_t i = 0; i < len; i++) {
        unsigned bits = a->cidr > i * 8 ? a->cidr - (unsigned)i * 8 : 0;

        if (bits < 8)
            out[i] &= (uint8_t)(0xff00u >> bits);
    }
}

static int route_msg(const char *ifname, const struct wg_allowedip *dst, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *nlh;
    struct rtmsg *rtm;
    uint8_t net[16];
    void *buf;
    int ifindex, r;

    if (!valid_prefix(dst))
        return -EINVAL;
    ifindex = wg_rtnl_ifindex(ifname);
    if (ifindex < 0)
        return ifindex;
    buf = calloc(1, RTNL_BUFSIZE);
    if (!buf)
        return -ENOMEM;
    nlh = req_start(buf, type, flags);
    rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
    rtm->rtm_family = (uint8_t)dst->family;
    rtm->rtm_dst_len = dst->cidr;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_type = RTN_UNICAST;
    if (type == RTM_NEWROUTE) {
        rtm->rtm_protocol = RTPROT_STATIC;
        rtm->rtm_scope = RT_SCOPE_LINK; /* no gateway: on the link itself */
    } else {
        /* As `ip route del`: match the route whatever scope or protocol it
         * was added with; destination, table and interface identify it. */
        rtm->rtm_scope = RT_SCOPE_NOWHERE;
    }
    prefix_mask(dst, net);
    mnl_attr_put(nlh, RTA_DST, dst->family == AF_INET ? 4 : 16, net);
    mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
    r = rtnl_talk(buf, NULL, NULL);
    free(buf);
    return r;
}

int wg_rtnl_route_add(const char *ifname, const struct wg_allowedip *dst)
{
    int r = route_msg(ifname, dst, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);

    return r == -EEXIST ? 0 : r;
}

int wg_rtnl_route_del(const char *ifname, const struct wg_allowedip *dst)
{
    int r = route_msg(ifname, dst, RTM_DELROUTE, 0);

    return r == -ESRCH ? 0 : r; /* already gone */
}

int wg_rtnl_link_stats(const char *ifname, struct wg_link_stats *out)
{
    struct link_info li;
    int r;

    memset(out, 0, sizeof(*out));
    r = link_get(ifname, &li);
    if (r < 0)
        return r;
    if (li.have64)
        *out = li.s64;
    else if (li.have32)
        *out = li.s32; /* kernels or links without 64-bit counters */
    else
        return -ENODATA;
    return 0;
}
