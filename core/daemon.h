/* core/daemon: the one object that holds wgmd's subsystems together. */
#ifndef WGM_CORE_DAEMON_H
#define WGM_CORE_DAEMON_H

#include <stdbool.h>
#include <time.h>
#include <wgm/host.h>

struct wgm_conf;
struct wgm_keyring;
struct wgm_db_pool;
struct wgm_cache;
struct wgm_bus;
struct wgm_sched;
struct wgm_router;
struct wgm_http;
struct wgm_plugins;
struct wgm_ws_hub;
struct wgm_auth;
struct wgm_sysconfig_store;
struct wgm_metrics_registry;
struct wgm_services;

struct wgm_daemon {
    const char *config_path;
    struct wgm_conf *conf;
    const char *state_dir;      /* borrowed from conf */
    struct wgm_keyring *keyring;
    struct wgm_db_pool *db;
    unsigned db_acquire_timeout_ms;
    struct wgm_cache *cache;
    struct wgm_bus *bus;
    struct wgm_sched *sched;
    struct wgm_router *router;
    struct wgm_http *http;
    struct wgm_plugins *plugins;
    struct wgm_ctx *core_ctx;   /* owner of the core's own routes and timers */
    struct wgm_ws_hub *ws;      /* WebSocket hub (core/ws/hub.h) */
    struct wgm_auth *auth;
    struct wgm_sysconfig_store *sysconfig;
    struct wgm_metrics_registry *metrics; /* Prometheus providers (core/metrics.h) */
    struct wgm_services *services;        /* /system/info reporters (core/plugin/services.h) */
    time_t started;
};

/* Load and validate the configuration at @path (plugins included) into
 * @d->conf.  0, or a negative errno with "file:line: reason" in @err. */
int wgm_daemon_configure(struct wgm_daemon *d, const char *path, char *err, size_t errlen);
/* `wgmd --seal`: seal @plain under the master key of the configured state
 * dir (created on first use) into @sealed (new, free()).  0 or -errno. */
int wgm_daemon_seal(struct wgm_daemon *d, const void *plain, size_t len, char **sealed, char *err, size_t errlen);
/* Bring every subsystem up and start serving.  0 or a negative errno. */
int wgm_daemon_start(struct wgm_daemon *d, char *err, size_t errlen);
/* Drain HTTP, stop plugins, close everything.  Safe on a partly started daemon. */
void wgm_daemon_stop(struct wgm_daemon *d);
/* SIGHUP: re-read the log level from the configuration. */
void wgm_daemon_reload_log_level(struct wgm_daemon *d);

#endif
