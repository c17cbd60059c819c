/* plugins/wireguard: the plugin descriptor, configuration and life cycle.
 * The only exported symbol is wgm_plugin_v1. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "counters.h"
#include "store.h"

struct wg_plugin wg = {.apply_lock = PTHREAD_MUTEX_INITIALIZER};

void wg_clients_expire(void);
void wg_status_publish(void);
int wg_metrics_register(void);

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
    if ((r = host->migrate(ctx, wg_migrations, wg_migrations_count)) < 0 || (r = wg_servers_register()) < 0 ||
        (r = wg_clients_register()) < 0 || (r = wg_prefixes_subscribe()) < 0 || (r = wg_metrics_register()) < 0)
        return r;
    if (host->timer_add(ctx, (unsigned)atoi(host->conf_get(ctx, "reconcile_interval_ms")), reconcile_tick, NULL, NULL) < 0 ||
        host->timer_add(ctx, (unsigned)atoi(host->conf_get(ctx, "status_interval_ms")), status_tick, NULL, NULL) < 0 ||
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
