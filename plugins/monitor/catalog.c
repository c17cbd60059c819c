/* plugins/monitor/catalog: see catalog.h. */
#include <string.h>
#include "catalog.h"

const struct mon_metric_def mon_metrics[M_COUNT] = {
    [M_CPU_USAGE] = {"cpu.usage", "percent", "system", "CPU busy time over the sampling interval"},
    [M_CPU_LOAD1] = {"cpu.load1", "load", "system", "1-minute load average"},
    [M_CPU_LOAD5] = {"cpu.load5", "load", "system", "5-minute load average"},
    [M_CPU_LOAD15] = {"cpu.load15", "load", "system", "15-minute load average"},
    [M_CPU_TEMPERATURE] = {"cpu.temperature", "celsius", "system", "hottest thermal zone"},
    [M_MEMORY_USAGE] = {"memory.usage", "percent", "system", "memory in use (total - available)"},
    [M_MEMORY_USED] = {"memory.used", "bytes", "system", "memory in use"},
    [M_MEMORY_FREE] = {"memory.free", "bytes", "system", "memory nobody uses (MemFree)"},
    [M_MEMORY_CACHED] = {"memory.cached", "bytes", "system", "page cache and reclaimable slab"},
    [M_MEMORY_BUFFERS] = {"memory.buffers", "bytes", "system", "block device buffers"},
    [M_DISK_USAGE] = {"disk.usage", "percent", "system", "space used over all mounted filesystems"},
    [M_DISK_USED] = {"disk.used", "bytes", "system", "space used over all mounted filesystems"},
    [M_DISK_FREE] = {"disk.free", "bytes", "system", "space still writable over all mounted filesystems"},
    [M_DISK_READ_IOPS] = {"disk.read_iops", "ops_per_second", "system", "completed reads per second"},
    [M_DISK_WRITE_IOPS] = {"disk.write_iops", "ops_per_second", "system", "completed writes per second"},
    [M_NET_BYTES_SENT] = {"network.bytes_sent_per_second", "bytes_per_second", "system", "bytes sent, all interfaces but lo"},
    [M_NET_BYTES_RECV] = {"network.bytes_recv_per_second", "bytes_per_second", "system", "bytes received, all interfaces but lo"},
    [M_NET_PACKETS_SENT] = {"network.packets_sent_per_second", "packets_per_second", "system", "packets sent, all interfaces but lo"},
    [M_NET_PACKETS_RECV] = {"network.packets_recv_per_second", "packets_per_second", "system",
                            "packets received, all interfaces but lo"},
    [M_NET_ERRORS] = {"network.errors_per_second", "per_second", "system", "receive and transmit errors"},
    [M_NET_DROPS] = {"network.drops_per_second", "per_second", "system", "receive and transmit drops"},
    [M_API_REQUESTS_PER_MINUTE] = {"api.requests_per_minute", "requests_per_minute", "application",
                                   "API requests answered"},
    [M_API_RESPONSE_TIME_AVG] = {"api.response_time_avg", "milliseconds", "application",
                                 "average handling time of the requests answered in the interval"},
    [M_API_ERROR_RATE] = {"api.error_rate", "percent", "application", "share of requests answered 4xx or 5xx"},
    [M_API_ACTIVE_CONNECTIONS] = {"api.active_connections", "connections", "application", "open HTTP connections"},
    [M_DB_QUERY_TIME_AVG] = {"database.query_time_avg", "milliseconds", "application",
                             "average statement execution time in the interval"},
    [M_DB_CONNECTIONS_IN_USE] = {"database.checked_out", "connections", "application",
                                 "pool connections checked out"},
    [M_CACHE_HIT_RATE] = {"cache.hit_rate", "percent", "application", "cache lookups that hit, in the interval"},
    [M_WS_CLIENTS] = {"websocket.clients", "clients", "application", "connected WebSocket clients"},
    [M_WG_ACTIVE_CONNECTIONS] = {"wireguard.active_connections", "peers", "service",
                                 "peers with a handshake in the last 3 minutes"},
    [M_WG_CLIENTS] = {"wireguard.clients_count", "clients", "service", "configured WireGuard clients"},
    [M_BGP_ESTABLISHED_SESSIONS] = {"bgp.established_sessions", "sessions", "service", "BGP sessions established"},
    [M_BGP_SESSIONS_DOWN] = {"bgp.sessions_down", "sessions", "service", "configured BGP sessions not established"},
};

/* The names the network rates had before they said "per second": the
 * dashboard's bytes_sent is a counter, so a rate may not share its name. */
const struct mon_metric_alias mon_metric_aliases[] = {
    {"network.bytes_sent", M_NET_BYTES_SENT},     {"network.bytes_recv", M_NET_BYTES_RECV},
    {"network.packets_sent", M_NET_PACKETS_SENT}, {"network.packets_recv", M_NET_PACKETS_RECV},
    {"network.errors", M_NET_ERRORS},             {"network.drops", M_NET_DROPS},
};
const size_t mon_metric_aliases_count = sizeof(mon_metric_aliases) / sizeof(mon_metric_aliases[0]);

int mon_metric_lookup(const char *name)
{
    if (!name)
        return -1;
    if (strncmp(name, "system.", 7) == 0)
        name += 7;
    for (int i = 0; i < M_COUNT; i++)
        if (strcmp(mon_metrics[i].name, name) == 0)
            return i;
    for (size_t i = 0; i < mon_metric_aliases_count; i++)
        if (strcmp(mon_metric_aliases[i].name, name) == 0)
            return mon_metric_aliases[i].metric;
    return -1;
}
