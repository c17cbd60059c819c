/* plugins/ipv6pool: the plugin descriptor, configuration and life cycle.
 * The only exported symbol is wgm_plugin_v1.
 *
 * State shared by the files of the plugin (each declares what it uses):
 * the host table, the plugin's context and the configured quarantine. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wgm/input.h>
#include <wgm/wgm.h>

const struct wgm_host *v6p_host;
struct wgm_ctx *v6p_ctx;
int64_t v6p_quarantine_s;

/* schema.c */
int v6p_migrate(const struct wgm_host *h, struct wgm_ctx *ctx);
/* api_pools.c */
int v6p_pools_register(void);
void v6p_status_publish(void);
/* api_allocations.c */
int v6p_allocations_register(void);
void v6p_expire_run(void);

static void status_tick(struct wgm_ctx *ctx, void *data)
{
    (void)ctx;
    (void)data;
    v6p_status_publish();
}

static void expire_tick(struct wgm_ctx *ctx, void *data)
{
    (void)ctx;
    (void)data;
    v6p_expire_run();
}

/* An INT key (bounds checked by the core), parsed strictly: no atoi. */
static long long conf_ll(const struct wgm_host *host, struct wgm_ctx *ctx, const char *key)
{
    long long v = 0;
    wgm_in_parse_ll(host->conf_get(ctx, key), 0, INT64_MAX, &v);
    return v;
}

static int ipv6pool_init(struct wgm_ctx *ctx, const struct wgm_host *host)
{
    int r;

    v6p_host = host;
    v6p_ctx = ctx;
    v6p_quarantine_s = conf_ll(host, ctx, "quarantine_seconds");
    if ((r = v6p_migrate(host, ctx)) < 0) {
        host->log(ctx, WGM_LOG_ERROR, "migrations failed: %s", strerror(-r));
        return r;
    }
    if ((r = v6p_pools_register()) < 0 || (r = v6p_allocations_register()) < 0)
        return r;
    if (host->timer_add(ctx, (unsigned)conf_ll(host, ctx, "status_interval_ms"), status_tick, NULL, NULL) < 0 ||
        host->timer_add(ctx, (unsigned)conf_ll(host, ctx, "expire_interval_ms"), expire_tick, NULL, NULL) < 0)
        return -ENOMEM;
    host->log(ctx, WGM_LOG_INFO, "quarantine of released prefixes: %lld s", (long long)v6p_quarantine_s);
    return 0;
}

static void ipv6pool_fini(struct wgm_ctx *ctx)
{
    (void)ctx;
}

static const struct wgm_conf_key ipv6pool_config[] = {
    {.key = "quarantine_seconds", .type = WGM_CONF_INT, .def = "86400", .min = 0, .max = 31536000,
     .help = "seconds a released prefix rests before it is handed out again"},
    {.key = "status_interval_ms", .type = WGM_CONF_INT, .def = "5000", .min = 100, .max = 3600000,
     .help = "how often ipv6_status (per-pool counts) is published"},
    {.key = "delegations_interval_ms", .type = WGM_CONF_INT, .def = "60000", .min = 100, .max = 3600000,
     .help = "how often ipv6.delegations (every delegated prefix, for bgp.so to converge) is published"},
    {.key = "expire_interval_ms", .type = WGM_CONF_INT, .def = "30000", .min = 100, .max = 3600000,
     .help = "how often allocations past their expires_at are released"},
    {NULL},
};

WGM_EXPORT const struct wgm_plugin wgm_plugin_v1 = {
    WGM_PLUGIN_HEADER,
    .name = "ipv6pool",
    .version = WGM_VERSION,
    .description = "IPv6 prefix pools carved into delegated prefixes",
    .feature = "ipv6_management",
    .config = ipv6pool_config,
    .init = ipv6pool_init,
    .fini = ipv6pool_fini,
};
