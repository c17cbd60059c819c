/* plugins/wireguard/linkstats: link counters into JSON, null when unread. */
#include "linkstats.h"
#include "rtnl.h"

/* A counter read, else null (meant to run) or 0 (stopped). */
static json_t *counter(bool read, uint64_t v, bool running)
{
    if (read)
        return json_integer((json_int_t)v);
    return running ? json_null() : json_integer(0);
}

void wg_linkstats_bytes(json_t *obj, const char *ifname, bool running)
{
    struct wg_link_stats ls = {0};
    bool read = wg_rtnl_link_stats(ifname, &ls) == 0;
    json_object_set_new(obj, "bytes_received", counter(read, ls.rx_bytes, running));
    json_object_set_new(obj, "bytes_sent", counter(read, ls.tx_bytes, running));
}

json_t *wg_linkstats_json(const char *ifname, bool running)
{
    struct wg_link_stats ls = {0};
    bool read = wg_rtnl_link_stats(ifname, &ls) == 0;
    return json_pack("{s:o,s:o,s:o,s:o}", "rx_bytes", counter(read, ls.rx_bytes, running), "tx_bytes",
                     counter(read, ls.tx_bytes, running), "rx_packets", counter(read, ls.rx_packets, running),
                     "tx_packets", counter(read, ls.tx_packets, running));
}
