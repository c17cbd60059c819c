/* plugins/wireguard: the plugin descriptor, configuration and life cycle.
 * The only exported symbol is wgm_plugin_v1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wgm/input.h>
#include "counters.h"
#include "store.h"
#include "wgquick.h"

struct wg_plugin wg = {.apply_lock = PTHREAD_MUTEX_INITIALIZER};

void wg_clients_expire(void);
void wg_status_publish(void);
int wg_metrics_register(void);
json_t *wg_service_info(struct wgm_ctx *ctx, void *data);

/* An INT key (already checked by the core against its bounds). */
static unsigned conf_ms(const char *key)
{
    long long v = 0;
    wgm_in_parse_ll(wg.host->conf_get(wg.ctx, key), 1, UINT32_MAX, &v);
    return (unsigned)v;
}

/* The userspace program's name and version, asked once: /system/info
 * reports them without running a process per request. */
static void userspace_identify(void)
{
    const char *prog = wg.host->conf_get(wg.ctx, "userspace_program"), *base;
    int r;
    if (!prog || !*prog)
        prog = "wireguard-go";
    base = strrchr(prog, '/');
    snprintf(wg.userspace_name, sizeof(wg.userspace_name), "%s", base ? base + 1 : prog);
    r = wg_userspace_version(prog, wg.userspace_version, sizeof(wg.userspace_version));
    if (r < 0) {
        wg.userspace_version[0] = '\0';
        WG_LOG(WGM_LOG_WARN, "%s --version: %s", prog, strerror(-r));
    } else {
        WG_LOG(WGM_LOG_INFO, "%s %s", wg.userspace_name, wg.userspace_version);
    }
}

static void reconcile_tick(struct wgm_ctx *ctx, void *data)
{
    (void)ctx;
    (void)data;
    wg_reconcile_all();
}

static void expire_tick(struct wgm_ctx *ctx, void *data)
{
    (void)ctx;
    (void)data;
    wg_clients_expire();
}

static void status_tick(struct wgm_ctx *ctx, void *data)
{
    (void)ctx;
    (void)data;
    wg_status_publish();
}

/* backend = auto picks the kernel when its genl family exists. */
static int open_backend(void)
{
    const char *choice = wg.host->conf_get(wg.ctx, "backend");
    int r = -EPROTONOSUPPORT;

    if (strcmp(choice, "userspace") != 0) {
        r = wg_backend_kernel_new(&wg.backend);
        if (r == 0 || strcmp(choice, "kernel") == 0)
            return r;
    }
    return wg_backend_userspace_new(wg.host->conf_get(wg.ctx, "userspace_program"),
                                    wg.host->conf_get(wg.ctx, "socket_dir"), &wg.backend);
}

static int wireguard_init(struct wgm_ctx *ctx, const struct wgm_host *host)
{
    int r;

    wg.host = host;
    wg.ctx = ctx;
    if ((r = open_backend()) < 0) {
        host->log(ctx, WGM_LOG_ERROR, "no WireGuard backend (%s): %s", host->conf_get(ctx, "backend"), strerror(-r));
        return r;
    }
    host->log(ctx, WGM_LOG_INFO, "using the %s backend", wg.backend->ops->name);
    if (strcmp(wg.backend->ops->name, "userspace") == 0)
        userspace_identify();
    if ((r = wg_public_endpoint_init()) < 0)
        return r;
    if (WGM_HOST_HAS(host, service_register) && (r = host->service_register(ctx, "wireguard", wg_service_info, NULL)) < 0)
        return r;
    if ((r = host->migrate(ctx, wg_migrations, wg_migrations_count)) < 0 || (r = wg_servers_register()) < 0 ||
        (r = wg_clients_register()) < 0 || (r = wg_prefixes_subscribe()) < 0 || (r = wg_metrics_register()) < 0)
        return r;
    if (host->timer_add(ctx, conf_ms("reconcile_interval_ms"), reconcile_tick, NULL, NULL) < 0 ||
        host->timer_add(ctx, conf_ms("status_interval_ms"), status_tick, NULL, NULL) < 0 ||
        host->timer_add(ctx, 30000, expire_tick, NULL, NULL) < 0)
        return -ENOMEM;
    return 0;
}

static int wireguard_start(struct wgm_ctx *ctx)
{
    (void)ctx;
    wg_reconcile_all();
    return 0;
}

static void wireguard_fini(struct wgm_ctx *ctx)
{
    (void)ctx;
    wg_counters_flush();
    wg_counters_free();
    if (wg.backend)
        wg.backend->ops->free(wg.backend);
    wg.backend = NULL;
}

static const struct wgm_conf_key wireguard_config[] = {
    {.key = "backend", .type = WGM_CONF_ENUM, .def = "auto", .choices = "auto|kernel|userspace",
     .help = "kernel (netlink), userspace (wireguard-go over UAPI) or auto"},
    {.key = "userspace_program", .type = WGM_CONF_STRING, .def = "wireguard-go",
     .help = "userspace implementation started per interface"},
    {.key = "socket_dir", .type = WGM_CONF_STRING, .def = "/var/run/wireguard", .help = "UAPI socket directory"},
    {.key = "reconcile_interval_ms", .type = WGM_CONF_INT, .def = "30000", .min = 1000, .max = 3600000,
     .help = "how often devices are compared with the database"},
    {.key = "status_interval_ms", .type = WGM_CONF_INT, .def = "5000", .min = 1000, .max = 3600000,
     .help = "how often wireguard_status is published"},
    {.key = "public_endpoint", .type = WGM_CONF_STRING, .def = NULL,
     .help = "host name or IP clients dial (no port: each server's listen_port is added); a server's endpoint wins"},
    {.key = "public_endpoint_auto", .type = WGM_CONF_BOOL, .def = "yes",
     .help = "without public_endpoint, offer this host's global address (IPv6 first); no: servers need their own"},
    {NULL},
};

WGM_EXPORT const struct wgm_plugin wgm_plugin_v1 = {
    WGM_PLUGIN_HEADER,
    .name = "wireguard",
    .version = WGM_VERSION,
    .description = "WireGuard servers and clients, kernel or userspace, reconciled",
    .feature = "wireguard_management",
    .config = wireguard_config,
    .init = wireguard_init,
    .start = wireguard_start,
    .fini = wireguard_fini,
};
