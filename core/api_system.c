/* core/api_system: GET /system/info — the machine, the application, the
 * database, the cache and the plugins, all read live (uname, /proc,
 * /etc/os-release, the pool, the cache), never invented. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "api.h"
#include "cache/cache.h"
#include "daemon.h"
#include "db/db.h"
#include "http/router.h"
#include "plugin/loader.h"
#include "plugin/services.h"
#include "sysconfig.h"
#include "util.h"

#ifndef WGM_BUILD_DATE
#define WGM_BUILD_DATE "unknown"
#endif

/* PRETTY_NAME from os-release, or NULL. */
static json_t *os_name(void)
{
    FILE *f = fopen("/etc/os-release", "re");
    char line[512];
    json_t *out = NULL;
    if (!f)
        return json_null();
    while (!out && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
            char *v = line + 12;
            v[strcspn(v, "\n")] = '\0';
            if (*v == '"') {
                v++;
                v[strcspn(v, "\"")] = '\0';
            }
            out = json_string(v);
        }
    }
    fclose(f);
    return out ? out : json_null();
}

static json_t *timezone_name(void)
{
    char buf[PATH_MAX];
    const char *tz = getenv("TZ");
    ssize_t n;
    FILE *f;
    if (tz && *tz)
        return json_string(tz[0] == ':' ? tz + 1 : tz);
    f = fopen("/etc/timezone", "re");
    if (f) {
        if (fgets(buf, sizeof(buf), f)) {
            fclose(f);
            buf[strcspn(buf, "\n")] = '\0';
            return json_string(buf);
        }
        fclose(f);
    }
    n = readlink("/etc/localtime", buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        const char *z = strstr(buf, "zoneinfo/");
        return json_string(z ? z + 9 : buf);
    }
    return json_string("UTC");
}

static json_t *system_part(void)
{
    struct utsname u;
    double load[3] = {0, 0, 0};
    double up = 0;
    char host[256] = "";
    FILE *f = fopen("/proc/uptime", "re");
    const char *locale = getenv("LC_ALL");

    if (f) {
        if (fscanf(f, "%lf", &up) != 1)
            up = 0;
        fclose(f);
    }
    uname(&u);
    gethostname(host, sizeof(host) - 1);
    int nload = getloadavg(load, 3);
    if (!locale || !*locale)
        locale = getenv("LANG");
    return json_pack("{s:s,s:o,s:s,s:s,s:I,s:o,s:o,s:o,s:i,s:I}", "hostname", host, "os", os_name(), "kernel",
                     u.release, "architecture", u.machine, "uptime", (json_int_t)up, "load_average",
                     nload == 3 ? json_pack("[f,f,f]", load[0], load[1], load[2]) : json_null(), "timezone",
                     timezone_name(), "locale", locale && *locale ? json_string(locale) : json_null(), "cpu_count",
                     (int)sysconf(_SC_NPROCESSORS_ONLN), "memory_total",
                     (json_int_t)sysconf(_SC_PHYS_PAGES) * (json_int_t)sysconf(_SC_PAGESIZE));
}

static int get_info(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    struct wgm_db_stats ds;
    struct wgm_cache_stats cs;
    const char *dialect = wgm_db_pool_dialect(d->db);
    const char *version = wgm_db_pool_server_version(d->db);
    int db_up = wgm_db_pool_ping(d->db) == 0, cache_up = wgm_cache_ping(d->cache) == 0;
    struct wgm_sysconfig cfg;

    (void)req;
    wgm_sysconfig_get(d, &cfg);
    wgm_db_pool_stats(d->db, &ds);
    wgm_cache_stats(d->cache, &cs);
    /* environment (a Python deployment notion) and max_connections (the
     * database server's limit, not wgm's) are left out; see the README. */
    return wgm_resp_json(
        resp, 200,
        json_pack("{s:o,s:{s:s,s:s,s:s,s:I,s:I,s:b,s:b},s:{s:s,s:s?,s:s,s:i,s:i},"
                  "s:{s:s,s:s,s:b,s:I,s:I,s:I},s:o,s:o}",
                  "system", system_part(), "application", "name", cfg.app_name, "version", WGM_VERSION,
                  "build_date", WGM_BUILD_DATE, "pid", (json_int_t)getpid(), "uptime",
                  (json_int_t)(time(NULL) - d->started), "debug_mode", cfg.debug_mode, "maintenance_mode",
                  cfg.maintenance_mode, "database", "type", strcmp(dialect, "mysql") == 0 ? "MySQL" : "SQLite",
                  "version", version, "status", db_up ? "connected" : "disconnected", "pool_size", (int)ds.size,
                  "active_connections", (int)ds.in_use, "cache", "backend", wgm_cache_backend(d->cache), "status",
                  cache_up ? "connected" : "disconnected", "degraded", cs.degraded, "keys", (json_int_t)cs.keys,
                  "hits", (json_int_t)cs.hits, "misses", (json_int_t)cs.misses, "plugins",
                  wgm_plugins_json(d->plugins), "services", wgm_services_json(d->services)));
}

/* Every route with its permission: what the authorization test walks, and
 * what an operator reads to build a least-privilege API key. */
static void add_route(const char *method, const char *template, const char *permission, struct wgm_ctx *owner,
                      void *arg)
{
    json_array_append_new(arg, json_pack("{s:s,s:s,s:s?,s:s}", "method", method, "path", template, "permission",
                                         permission, "owner", owner ? owner->name : "core"));
}

static int get_routes(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    json_t *routes = json_array();
    (void)req;
    wgm_router_each(ctx->daemon->router, add_route, routes);
    return wgm_resp_json(resp, 200, json_pack("{s:o}", "routes", routes));
}

int wgm_api_system_register(struct wgm_daemon *d)
{
    static const struct wgm_api_route routes[] = {
        {"GET", "/api/v1/system/info", "system.view", get_info},
        {"GET", "/api/v1/system/routes", "system.view", get_routes},
    };
    return wgm_api_add_routes(d, routes, sizeof(routes) / sizeof(routes[0]));
}
