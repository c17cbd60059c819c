/* plugins/monitor/catalog: the metrics the monitor records, by name.
 * One table says what each metric is (name, unit, category); the collector
 * fills a vector of current values indexed by enum mon_metric_id, which the
 * history, the alert rules and the dashboard all read.  Pure: no host. */
#ifndef WGM_MONITOR_CATALOG_H
#define WGM_MONITOR_CATALOG_H

#include <stdbool.h>

enum mon_metric_id {
    M_CPU_USAGE,
    M_CPU_LOAD1,
    M_CPU_LOAD5,
    M_CPU_LOAD15,
    M_CPU_TEMPERATURE,
    M_MEMORY_USAGE,
    M_MEMORY_USED,
    M_MEMORY_FREE,
    M_MEMORY_CACHED,
    M_MEMORY_BUFFERS,
    M_DISK_USAGE,
    M_DISK_USED,
    M_DISK_FREE,
    M_DISK_READ_IOPS,
    M_DISK_WRITE_IOPS,
    M_NET_BYTES_SENT,
    M_NET_BYTES_RECV,
    M_NET_PACKETS_SENT,
    M_NET_PACKETS_RECV,
    M_NET_ERRORS,
    M_NET_DROPS,
    M_API_REQUESTS_PER_MINUTE,
    M_API_RESPONSE_TIME_AVG,
    M_API_ERROR_RATE,
    M_API_ACTIVE_CONNECTIONS,
    M_DB_QUERY_TIME_AVG,
    M_DB_CONNECTIONS_IN_USE,
    M_CACHE_HIT_RATE,
    M_WS_CLIENTS,
    M_WG_ACTIVE_CONNECTIONS,
    M_WG_CLIENTS,
    M_BGP_ESTABLISHED_SESSIONS,
    M_BGP_SESSIONS_DOWN,
    M_COUNT
};

struct mon_metric_def {
    const char *name;        /* "cpu.usage" */
    const char *unit;        /* "percent", "bytes", "bytes_per_second", ... */
    const char *category;    /* "system", "application", "service" */
    const char *description;
};

extern const struct mon_metric_def mon_metrics[M_COUNT];

/* A deprecated name still accepted for a metric (history, alert rules). */
struct mon_metric_alias {
    const char *name;        /* "network.bytes_sent" */
    int metric;              /* what it names now */
};

extern const struct mon_metric_alias mon_metric_aliases[];
extern const size_t mon_metric_aliases_count;

/* The id of @name, which may carry the "system." prefix the spec's alert
 * rule example uses ("system.memory.usage") and may be a deprecated alias
 * ("network.bytes_sent"); -1 when unknown. */
int mon_metric_lookup(const char *name);

/* The current value of every metric; has[i] false when the machine or the
 * plugin does not expose it this round. */
struct mon_values {
    double v[M_COUNT];
    bool has[M_COUNT];
};

#endif
