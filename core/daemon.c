/* core/daemon: configuration, start-up order and shutdown order. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "api.h"
#include "auth/auth.h"
#include "auth/schema.h"
#include "logs/api.h"
#include "logs/retention.h"
#include "logs/store.h"
#include "sysconfig.h"
#include "ws/hub.h"
#include "cache/cache.h"
#include "conf.h"
#include "daemon.h"
#include "db/db.h"
#include "events.h"
#include "http/request.h"
#include "http/router.h"
#include "http/server.h"
#include "log.h"
#include "metrics.h"
#include "plugin/host_table.h"
#include "plugin/loader.h"
#include "plugin/services.h"
#include "scheduler.h"
#include "secret.h"
#include "util.h"

/* A section is a plugin's when such a plugin is installed, or when it only
 * says `enabled = no`: distributions ship drop-ins for plugins packaged
 * separately, and a disabled absent plugin is no error. */
static bool is_plugin_section(const char *name, void *arg)
{
    struct wgm_daemon *d = arg;
    const char *where = wgm_conf_where(d->conf, name, "enabled");

    if (d->plugins && wgm_plugins_has(d->plugins, name))
        return true;
    return where && !wgm_conf_get_bool(d->conf, name, "enabled", true);
}

/* A section for a plugin that is not installed may only say enabled = no. */
static int check_absent_plugin(const char *name, struct wgm_daemon *d, char *err, size_t errlen)
{
    static const struct wgm_conf_key none[] = {{NULL}};
    return wgm_conf_apply_schema(d->conf, name, none, true, err, errlen);
}

struct absent_check {
    struct wgm_daemon *d;
    char *err;
    size_t errlen;
    int r;
};

static void each_absent(const char *name, void *arg)
{
    struct absent_check *a = arg;
    if (a->r == 0 && is_plugin_section(name, a->d) && !wgm_plugins_has(a->d->plugins, name))
        a->r = check_absent_plugin(name, a->d, a->err, a->errlen);
}

/* An enabled section for a plugin that is not installed is a mistake the
 * operator wants named at the line that enables it. */
struct enabled_absent {
    struct wgm_daemon *d;
    char *err;
    size_t errlen;
    int r;
};

static void each_enabled_absent(const char *name, void *arg)
{
    struct enabled_absent *a = arg;
    const char *where = wgm_conf_where(a->d->conf, name, "enabled");
    bool is_core = false;

    for (const struct wgm_conf_section *s = wgm_core_sections; s->name; s++)
        is_core = is_core || strcmp(s->name, name) == 0;
    if (a->r || is_core || !where || wgm_plugins_has(a->d->plugins, name) ||
        !wgm_conf_get_bool(a->d->conf, name, "enabled", false))
        return;
    snprintf(a->err, a->errlen, "%s: [%s] is enabled, but no plugin '%s' is installed in %s", where, name, name,
             wgm_conf_get(a->d->conf, "core", "plugin_dir"));
    a->r = -ENOENT;
}

int wgm_daemon_configure(struct wgm_daemon *d, const char *path, char *err, size_t errlen)
{
    int r;

    d->config_path = path;
    d->conf = wgm_conf_new();
    if (!d->conf)
        return -ENOMEM;
    if ((r = wgm_conf_load(d->conf, path, err, errlen)) < 0)
        return r;
    /* [core] first: it says where the plugins are. */
    if ((r = wgm_conf_apply_schema(d->conf, "core", wgm_core_sections[0].keys, false, err, errlen)) < 0)
        return r;
    if ((r = wgm_plugins_discover(wgm_conf_get(d->conf, "core", "plugin_dir"), &d->plugins, err, errlen)) < 0)
        return r;
    struct enabled_absent ea = {d, err, errlen, 0};
    wgm_conf_each_section(d->conf, each_enabled_absent, &ea);
    if (ea.r < 0)
        return ea.r;
    if ((r = wgm_conf_apply_core(d->conf, is_plugin_section, d, err, errlen)) < 0)
        return r;
    if ((r = wgm_plugins_configure(d->plugins, d->conf, err, errlen)) < 0)
        return r;
    struct absent_check a = {d, err, errlen, 0};
    wgm_conf_each_section(d->conf, each_absent, &a);
    if (a.r < 0)
        return a.r;
    wgm_log_set_level((enum wgm_log_level)wgm_log_level_parse(wgm_conf_get(d->conf, "log", "level")));
    return 0;
}

static void cache_log(int level, const char *msg)
{
    wgm_log((enum wgm_log_level)level, "cache", "%s", msg);
}

static int open_state_dir(struct wgm_daemon *d, char *err, size_t errlen)
{
    const char *dir = wgm_conf_get(d->conf, "core", "state_dir");
    char real[PATH_MAX];
    int r = wgm_mkdir_p(dir, 0700);

    if (r < 0) {
        snprintf(err, errlen, "state directory %s: %s", dir, strerror(-r));
        return r;
    }
    if (!realpath(dir, real)) {
        snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
        return -errno;
    }
    /* Store the absolute path so later relative lookups cannot drift. */
    if ((r = wgm_conf_set(d->conf, "core", "state_dir", real, wgm_conf_where(d->conf, "core", "state_dir"))) < 0)
        return r;
    d->state_dir = wgm_conf_get(d->conf, "core", "state_dir");
    return 0;
}

static int open_storage(struct wgm_daemon *d, char *err, size_t errlen)
{
    const char *url = wgm_conf_get(d->conf, "database", "url");
    char *default_url = NULL;
    int r;

    if (!url || !*url) {
        if (asprintf(&default_url, "sqlite://%s/wgm.db", d->state_dir) < 0)
            return -ENOMEM;
        url = default_url;
    }
    d->db_acquire_timeout_ms = (unsigned)wgm_conf_get_int(d->conf, "database", "acquire_timeout_ms", 5000);
    r = wgm_db_pool_open(url, (unsigned)wgm_conf_get_int(d->conf, "database", "pool_size", 8),
                         wgm_conf_get(d->conf, "core", "driver_dir"), &d->db, err, errlen);
    free(default_url);
    if (r < 0)
        return r;
    if ((r = wgm_db_migrate(d->db, "core", wgm_core_migrations, wgm_core_migrations_count, err, errlen)) < 0)
        return r;
    return wgm_cache_open(wgm_conf_get(d->conf, "cache", "url"), cache_log, &d->cache, err, errlen);
}

static int open_keyring(struct wgm_daemon *d, char *err, size_t errlen)
{
    const char *path = wgm_conf_get(d->conf, "core", "master_key_file");
    char *def = NULL;
    int r;

    if (!path || !*path) {
        if (asprintf(&def, "%s/master.key", d->state_dir) < 0)
            return -ENOMEM;
        path = def;
    }
    r = wgm_keyring_open(path, &d->keyring, err, errlen);
    free(def);
    return r;
}

/* Sign-in and sign-out are not mutations of managed state: during
 * maintenance an operator must still be able to log in to end it. */
static bool maintenance_exempt(const char *template)
{
    static const char *const exempt[] = {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                                         "/api/v1/auth/verify-2fa"};
    for (size_t i = 0; template && i < sizeof(exempt) / sizeof(exempt[0]); i++)
        if (strcmp(template, exempt[i]) == 0)
            return true;
    return false;
}

static bool mutating(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
           strcmp(method, "DELETE") == 0;
}

/* The auth guard, then maintenance_mode: a mutation of a matched route by
 * a caller without system.edit is refused with 503 MAINTENANCE_MODE. */
static int daemon_guard(void *arg, struct wgm_request *r)
{
    struct wgm_daemon *d = arg;
    struct wgm_sysconfig cfg;
    char retry[16];
    int rc = wgm_auth_guard(arg, r);

    if (rc != 0 || !r->match.handler || !mutating(r->method) || maintenance_exempt(r->match.template))
        return rc;
    wgm_sysconfig_get(d, &cfg);
    if (!cfg.maintenance_mode || (r->authenticated && wgm_principal_can(&r->principal, "system.edit")))
        return 0;
    snprintf(retry, sizeof(retry), "%u", cfg.maintenance_retry_after);
    wgm_response_clear(&r->resp);
    wgm_resp_error_impl(&r->resp.pub, 503, "MAINTENANCE_MODE", "wgm is in maintenance mode; try again later",
                        json_pack("{s:b,s:i}", "maintenance_mode", 1, "retry_after",
                                  (int)cfg.maintenance_retry_after));
    wgm_response_guard_header(&r->resp, "Retry-After", retry);
    return 1;
}

/* debug_mode: a 500 from a failing handler says what failed and where. */
static void daemon_after(void *arg, struct wgm_request *r)
{
    struct wgm_daemon *d = arg;
    struct wgm_sysconfig cfg;

    wgm_sysconfig_get(d, &cfg);
    if (cfg.debug_mode && r->handler_rc < 0 && r->resp.status == 500 && r->resp.error_code &&
        strcmp(r->resp.error_code, "INTERNAL_ERROR") == 0) {
        int e = -r->handler_rc;
        wgm_response_clear(&r->resp);
        wgm_resp_error_impl(&r->resp.pub, 500, "INTERNAL_ERROR", "internal server error",
                            json_pack("{s:i,s:s,s:s,s:s,s:s}", "errno", e, "error", strerror(e), "method", r->method,
                                      "route", r->match.template ? r->match.template : r->path, "owner",
                                      r->match.owner ? r->match.owner->name : "core"));
    }
    wgm_auth_after(arg, r);
}

/* The daemon itself, as the spec's HTTP front end ("nginx") would be. */
static json_t *wgmd_service(struct wgm_ctx *ctx, void *data)
{
    struct wgm_daemon *d = data;
    struct wgm_http_stats hs;

    (void)ctx;
    if (!d->http)
        return json_pack("{s:s,s:s,s:I}", "status", "starting", "version", WGM_VERSION, "pid", (json_int_t)getpid());
    wgm_http_stats(d->http, &hs);
    return json_pack("{s:s,s:s,s:I,s:I,s:i}", "status", "running", "version", WGM_VERSION, "pid",
                     (json_int_t)getpid(), "uptime", (json_int_t)(time(NULL) - d->started), "connections",
                     (int)hs.connections);
}

static int start_http(struct wgm_daemon *d, char *err, size_t errlen)
{
    struct wgm_http_opts o = {0};
    char host[256];
    unsigned port;
    const char *listen = wgm_conf_get(d->conf, "http", "listen");

    if (wgm_parse_listen(listen, host, sizeof(host), &port) < 0) {
        snprintf(err, errlen, "%s: [http] listen: '%s' is not host:port",
                 wgm_conf_where(d->conf, "http", "listen"), listen);
        return -EINVAL;
    }
    o.host = host;
    o.port = port;
    o.threads = (unsigned)wgm_conf_get_int(d->conf, "http", "threads", 4);
    o.body_limit = (size_t)wgm_conf_get_int(d->conf, "http", "body_limit", 1048576);
    o.connection_timeout_s = (unsigned)wgm_conf_get_int(d->conf, "http", "connection_timeout", 30);
    o.tls_cert_file = wgm_conf_get(d->conf, "http", "tls_cert");
    o.tls_key_file = wgm_conf_get(d->conf, "http", "tls_key");
    o.access_log = wgm_conf_get_bool(d->conf, "log", "access_log", true);
    o.router = d->router;
    o.host_table = wgm_host_table();
    o.core_ctx = d->core_ctx;
    o.guard = daemon_guard;
    o.after = daemon_after;
    o.guard_arg = d;
    o.daemon = d;
    int r = wgm_http_start(&o, &d->http, err, errlen);
    if (r == 0)
        wgm_log(WGM_LOG_INFO, "http", "listening on %s%s%s:%u%s", strchr(host, ':') ? "[" : "", host,
                strchr(host, ':') ? "]" : "", wgm_http_port(d->http), o.tls_cert_file ? " (TLS)" : "");
    return r;
}

int wgm_daemon_seal(struct wgm_daemon *d, const void *plain, size_t len, char **sealed, char *err, size_t errlen)
{
    int r;
    if ((r = open_state_dir(d, err, errlen)) < 0 || (r = open_keyring(d, err, errlen)) < 0)
        return r;
    if ((r = wgm_secret_seal(d->keyring, plain, len, sealed)) < 0)
        snprintf(err, errlen, "cannot seal: %s", strerror(-r));
    return r;
}

int wgm_daemon_start(struct wgm_daemon *d, char *err, size_t errlen)
{
    int r;

    d->started = time(NULL);
    if ((r = open_state_dir(d, err, errlen)) < 0 || (r = open_keyring(d, err, errlen)) < 0 ||
        (r = open_storage(d, err, errlen)) < 0)
        return r;
    d->bus = wgm_bus_new(10000);
    d->sched = wgm_sched_new(4);
    d->router = wgm_router_new();
    d->metrics = wgm_metrics_registry_new();
    d->services = wgm_services_new();
    d->core_ctx = calloc(1, sizeof(*d->core_ctx));
    if (!d->bus || !d->sched || !d->router || !d->metrics || !d->services || !d->core_ctx ||
        !(d->core_ctx->name = strdup("core"))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    d->core_ctx->daemon = d;
    d->core_ctx->state = WGM_PLUGIN_RUNNING;
    if ((r = wgm_metrics_register(d->metrics, d->core_ctx, wgm_metrics_core, d)) < 0 ||
        (r = wgm_services_register(d->services, d->core_ctx, "wgmd", wgmd_service, d)) < 0) {
        snprintf(err, errlen, "out of memory");
        return r;
    }
    if ((r = wgm_sysconfig_start(d, err, errlen)) < 0 || (r = wgm_logstore_start(d, err, errlen)) < 0 ||
        (r = wgm_auth_start(d, wgm_conf_get(d->conf, "auth", "admin_password"), err, errlen)) < 0)
        return r;
    if ((r = wgm_api_core_register(d)) < 0 || (r = wgm_auth_register(d)) < 0 || (r = wgm_api_users_register(d)) < 0 ||
        (r = wgm_sysconfig_register(d)) < 0 || (r = wgm_api_system_register(d)) < 0 ||
        (r = wgm_logs_register(d)) < 0 || (r = wgm_logs_retention_register(d)) < 0 || (r = wgm_ws_register(d)) < 0) {
        snprintf(err, errlen, "cannot register core routes: %s", strerror(-r));
        return r;
    }
    wgm_plugins_start(d->plugins, d);
    /* Subscribers (monitor.so's notification subjects, backup.so's
     * default retention) learn the settings once they are running. */
    wgm_sysconfig_publish(d);
    return start_http(d, err, errlen);
}

void wgm_daemon_stop(struct wgm_daemon *d)
{
    /* WebSocket clients first (1001): MHD counts an upgraded socket as in
     * flight until it closes, so the drain would otherwise wait them out. */
    if (d->router)
        wgm_ws_shutdown(d);
    if (d->http) {
        unsigned left = wgm_http_drain(d->http, (unsigned)wgm_conf_get_int(d->conf, "http", "drain_timeout", 10) * 1000u);
        if (left)
            wgm_log(WGM_LOG_WARN, "http", "%u request(s) still in flight after the drain timeout", left);
    }
    d->http = wgm_http_free(d->http);
    if (d->plugins)
        wgm_plugins_stop(d->plugins);
    if (d->core_ctx)
        wgm_ctx_unregister_all(d->core_ctx);
    wgm_auth_stop(d);
    if (d->db)
        wgm_logstore_stop(d);
    wgm_sysconfig_stop(d);
    d->sched = wgm_sched_free(d->sched);
    d->bus = wgm_bus_free(d->bus);
    d->router = wgm_router_free(d->router);
    d->plugins = wgm_plugins_free(d->plugins);
    d->metrics = wgm_metrics_registry_free(d->metrics);
    d->services = wgm_services_free(d->services);
    if (d->core_ctx) {
        free(d->core_ctx->name);
        free(d->core_ctx);
        d->core_ctx = NULL;
    }
    d->cache = wgm_cache_close(d->cache);
    d->db = wgm_db_pool_close(d->db);
    d->keyring = wgm_keyring_close(d->keyring);
    d->conf = wgm_conf_free(d->conf);
}

void wgm_daemon_reload_log_level(struct wgm_daemon *d)
{
    static const struct wgm_conf_key level_only[] = {
        {.key = "level", .type = WGM_CONF_ENUM, .def = "info", .choices = "error|warn|info|debug"},
        {.key = "access_log", .type = WGM_CONF_BOOL, .def = "yes"},
        {NULL},
    };
    struct wgm_conf *fresh = wgm_conf_new();
    char err[512];

    if (!fresh)
        return;
    if (wgm_conf_load(fresh, d->config_path, err, sizeof(err)) < 0 ||
        wgm_conf_apply_schema(fresh, "log", level_only, false, err, sizeof(err)) < 0) {
        wgm_log(WGM_LOG_WARN, "core", "SIGHUP: keeping log level %s: %s", wgm_log_level_name(wgm_log_get_level()),
                err);
    } else {
        int level = wgm_log_level_parse(wgm_conf_get(fresh, "log", "level"));
        /* debug_mode in /system/config outranks the file while it is on. */
        level = wgm_sysconfig_file_level_changed(d, (enum wgm_log_level)level);
        wgm_log_set_level((enum wgm_log_level)level);
        if (d->http)
            wgm_http_set_access_log(d->http, wgm_conf_get_bool(fresh, "log", "access_log", true));
        wgm_log(WGM_LOG_WARN, "core", "SIGHUP: log level is now %s", wgm_log_level_name((enum wgm_log_level)level));
    }
    wgm_conf_free(fresh);
}
