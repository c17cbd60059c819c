/* core/api_core: version, health and plugin listing. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "api.h"
#include "cache/cache.h"
#include "conf.h"
#include "daemon.h"
#include "db/db.h"
#include "http/router.h"
#include "plugin/loader.h"
#include "sysconfig.h"
#include "util.h"

#ifndef WGM_BUILD_DATE
#define WGM_BUILD_DATE "unknown"
#endif

static int get_version(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_sysconfig cfg;
    (void)req;
    wgm_sysconfig_get(ctx->daemon, &cfg);
    return wgm_resp_json(resp, 200,
                         json_pack("{s:s,s:s,s:s,s:s,s:o}", "name", cfg.app_name, "version", WGM_VERSION,
                                   "build_date", WGM_BUILD_DATE, "api_version", "v1", "features",
                                   wgm_plugins_features(ctx->daemon->plugins)));
}

/* The database decides health: without it nothing works.  A cache that
 * fell back to memory is "degraded", still 200. */
static int get_health(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    uint64_t t0 = wgm_now_ms();
    int db_ok = wgm_db_pool_ping(d->db) == 0;
    uint64_t db_ms = wgm_now_ms() - t0;
    int cache_ok;
    const char *backend = wgm_cache_backend(d->cache);
    struct wgm_cache_stats cs;
    char ts[32];

    (void)req;
    t0 = wgm_now_ms();
    cache_ok = wgm_cache_ping(d->cache) == 0;
    uint64_t cache_ms = wgm_now_ms() - t0;
    wgm_cache_stats(d->cache, &cs);

    struct wgm_sysconfig cfg;
    wgm_sysconfig_get(d, &cfg);
    /* Maintenance is still 200: a balancer must keep sending reads. */
    const char *status = !db_ok                       ? "unhealthy"
                         : cfg.maintenance_mode       ? "maintenance"
                         : (!cache_ok || cs.degraded) ? "degraded"
                                                      : "healthy";
    json_t *checks = json_pack(
        "{s:s,s:b,s:I,s:{s:s,s:s,s:I},s:{s:s,s:s,s:b,s:I},s:s}", "status", status, "maintenance_mode",
        cfg.maintenance_mode, "uptime",
        (json_int_t)(time(NULL) - d->started), "database", "status", db_ok ? "up" : "down", "type",
        wgm_db_pool_dialect(d->db), "latency_ms", (json_int_t)db_ms, "cache", "status", cache_ok ? "up" : "down",
        "backend", backend, "degraded", cs.degraded, "latency_ms", (json_int_t)cache_ms, "timestamp",
        wgm_time_rfc3339(time(NULL), ts, sizeof(ts)));
    if (!db_ok)
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database is unreachable", checks);
    return wgm_resp_json(resp, 200, checks);
}

static int get_plugins(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    (void)req;
    return wgm_resp_json(resp, 200, json_pack("{s:o}", "plugins", wgm_plugins_json(ctx->daemon->plugins)));
}

int wgm_api_add_routes(struct wgm_daemon *d, const struct wgm_api_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = wgm_router_add(d->router, d->core_ctx, routes[i].method, routes[i].path, routes[i].permission,
                               routes[i].handler);
        if (r < 0)
            return r;
    }
    return 0;
}

struct wgm_db *wgm_api_db(struct wgm_daemon *d, struct wgm_resp *resp)
{
    struct wgm_db *db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    if (!db)
        wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    return db;
}

int wgm_api_core_register(struct wgm_daemon *d)
{
    static const struct wgm_api_route routes[] = {
        {"GET", "/api/v1/version", WGM_PERM_PUBLIC, get_version},
        /* Load balancers probe health without credentials. */
        {"GET", "/api/v1/health", WGM_PERM_PUBLIC, get_health},
        {"GET", "/api/v1/plugins", "system.view", get_plugins},
    };
    return wgm_api_add_routes(d, routes, sizeof(routes) / sizeof(routes[0]));
}
