/* plugins/monitor/api_dashboard: GET /monitoring/dashboard.  System figures
 * are the latest sample (refresh=true takes one now), application figures
 * the daemon's counters (rates over the last sampling interval), service
 * figures the latest wireguard_status / bgp_status, and the alerts summary
 * counts active alerts and lists those raised within time_range. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include "monitor.h"

static json_t *num_or_null(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

static json_t *application_json(void)
{
    const struct mon_values *v = &mon.values;
    const struct wgm_app_stats *a = &mon.app;
    json_t *out;
    double hits, misses;

    pthread_mutex_lock(&mon.lock);
    hits = v->has[M_CACHE_HIT_RATE] ? v->v[M_CACHE_HIT_RATE] : -1;
    misses = hits >= 0 ? 100.0 - hits : -1;
    out = json_pack("{s:{s:i,s:i,s:i,s:o,s:I},s:{s:o,s:o,s:o,s:I,s:s,s:b},s:{s:o,s:o,s:o,s:i,s:i}}", "database",
                    "pool_size", (int)a->db_pool_size, "checked_out", (int)a->db_in_use, "active_connections",
                    (int)a->db_open, "query_time_avg", num_or_null(v->has[M_DB_QUERY_TIME_AVG], v->v[M_DB_QUERY_TIME_AVG]),
                    "slow_queries", (json_int_t)a->db_slow_queries, "cache", "hit_rate", num_or_null(hits >= 0, hits),
                    "miss_rate", num_or_null(misses >= 0, misses), "memory_usage",
                    a->cache_memory_bytes >= 0 ? json_integer(a->cache_memory_bytes) : json_null(), "keys_count",
                    (json_int_t)a->cache_keys, "backend", a->cache_backend ? a->cache_backend : "memory", "degraded",
                    a->cache_degraded != 0, "api", "requests_per_minute",
                    num_or_null(v->has[M_API_REQUESTS_PER_MINUTE], v->v[M_API_REQUESTS_PER_MINUTE]),
                    "response_time_avg", num_or_null(v->has[M_API_RESPONSE_TIME_AVG], v->v[M_API_RESPONSE_TIME_AVG]),
                    "error_rate", num_or_null(v->has[M_API_ERROR_RATE], v->v[M_API_ERROR_RATE]), "active_connections",
                    (int)a->http_connections, "websocket_clients", (int)a->ws_clients);
    pthread_mutex_unlock(&mon.lock);
    return out;
}

static int dashboard(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const struct {
        const char *name;
        int64_t seconds;
    } ranges[] = {{"1h", 3600}, {"6h", 21600}, {"24h", 86400}, {"7d", 604800}, {"30d", 2592000}};
    const char *range = wgm_req_query(req, "time_range"), *refresh = wgm_req_query(req, "refresh");
    int64_t seconds = 3600;
    struct wgm_v v;
    struct wgm_db *db;
    json_t *alerts, *out;
    int r;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    range = wgm_v_query_enum(&v, req, "time_range", "1h|6h|24h|7d|30d");
    if (refresh && strcmp(refresh, "true") && strcmp(refresh, "false"))
        wgm_v_fail(&v, "refresh", "must be true or false");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    for (size_t i = 0; range && i < sizeof(ranges) / sizeof(ranges[0]); i++)
        if (strcmp(range, ranges[i].name) == 0)
            seconds = ranges[i].seconds;
    if ((refresh && strcmp(refresh, "true") == 0) || !mon.has_sample) {
        if ((r = mon_collect_now()) < 0)
            mon.host->log(mon.ctx, WGM_LOG_WARN, "dashboard refresh: %s", strerror(-r));
    }
    if (!(db = wgm_db_or_503(mon.host, mon.ctx, resp)))
        return 0;
    alerts = mon_alerts_summary(db, (int64_t)time(NULL) - seconds);
    mon.host->db_release(db);
    out = json_pack("{s:o,s:o,s:o,s:o,s:s}", "system_metrics", mon_system_metrics_json(), "application_metrics",
                    application_json(), "service_metrics", mon_services_json(), "alerts", alerts, "time_range",
                    range ? range : "1h");
    return out ? wgm_resp_json(resp, 200, out) : -ENOMEM;
}

int mon_api_dashboard_register(void)
{
    return mon.host->route_add(mon.ctx, "GET", "/monitoring/dashboard", "monitoring.view", dashboard);
}
