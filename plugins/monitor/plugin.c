/* plugins/monitor: the plugin descriptor, configuration and life cycle.
 * The only exported symbol is wgm_plugin_v1. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wgm/input.h>
#include "monitor.h"
#include "notify.h"

struct mon_plugin mon = {.lock = PTHREAD_MUTEX_INITIALIZER};

void mon_services_fini(void);

/* An integer key, checked by check_ints() at init. */
static long long conf_ll(const char *key)
{
    long long v = 0;
    wgm_in_parse_ll(mon.host->conf_get(mon.ctx, key), LLONG_MIN, LLONG_MAX, &v);
    return v;
}

static int check_ints(void);

static int monitor_init(struct wgm_ctx *ctx, const struct wgm_host *host)
{
    static const char *const retention_keys[MON_RES_COUNT] = {"retention_1m", "retention_5m", "retention_15m",
                                                              "retention_1h"};
    const char *tag, *root;
    int r;

    mon.host = host;
    mon.ctx = ctx;
    if (!WGM_HOST_HAS(host, req_user)) {
        host->log(ctx, WGM_LOG_ERROR, "this wgmd is too old for monitor.so (needs ABI 1.1)");
        return -ENOTSUP;
    }
    if ((r = check_ints()) < 0)
        return r;
    mon.interval_s = (unsigned)conf_ll("interval");
    for (int i = 0; i < MON_RES_COUNT; i++)
        mon.retention_s[i] = conf_ll(retention_keys[i]) * 86400;
    mon.alert_retention_s = conf_ll("alert_retention") * 86400;
    tag = host->conf_get(ctx, "host_tag");
    if (tag && *tag)
        snprintf(mon.host_tag, sizeof(mon.host_tag), "%s", tag);
    else if (gethostname(mon.host_tag, sizeof(mon.host_tag) - 1) < 0)
        strcpy(mon.host_tag, "localhost");
    root = host->conf_get(ctx, "proc_root");
    if (root && strlen(root) >= sizeof(mon.root)) {
        host->log(ctx, WGM_LOG_ERROR, "[monitor] proc_root is too long");
        return -ENAMETOOLONG;
    }
    snprintf(mon.root, sizeof(mon.root), "%s", root ? root : "");
    if ((r = mon_rollup_init(&mon.rollup, (size_t)conf_ll("ring_size"), 200000)) < 0)
        return r;
    if ((r = host->migrate(ctx, mon_migrations, mon_migrations_count)) < 0 || (r = mon_channels_init()) < 0 ||
        (r = mon_alerts_init()) < 0 || (r = mon_services_subscribe()) < 0 || (r = mon_appname_subscribe()) < 0 || (r = mon_api_metrics_register()) < 0 ||
        (r = mon_api_dashboard_register()) < 0 || (r = mon_api_alerts_register()) < 0 ||
        (r = mon_prometheus_register()) < 0)
        return r;
    if (host->timer_add(ctx, mon.interval_s * 1000u, mon_collect_tick, NULL, NULL) < 0)
        return -ENOMEM;
    host->log(ctx, WGM_LOG_INFO, "sampling every %u s as host \"%s\"; /metrics: %s; channels:%s%s%s", mon.interval_s,
              mon.host_tag, host->conf_get(ctx, "prometheus"), mon_channel_known("webhook") ? " webhook" : "",
              mon_channel_known("email") ? " email" : "",
              mon_channel_known("webhook") || mon_channel_known("email") ? "" : " none");
    return 0;
}

/* The first sample at start: rates need two, so the dashboard has figures
 * from the first request on. */
static int monitor_start(struct wgm_ctx *ctx)
{
    (void)ctx;
    mon_collect_now();
    return 0;
}

static void monitor_fini(struct wgm_ctx *ctx)
{
    (void)ctx;
    /* partial buckets are merged with their continuation after a restart */
    pthread_mutex_lock(&mon.lock);
    mon_rollup_close_all(&mon.rollup);
    pthread_mutex_unlock(&mon.lock);
    mon_store_flush();
    mon_channels_fini();
    mon_alerts_fini();
    mon_services_fini();
    pthread_mutex_lock(&mon.lock);
    mon_rollup_free(&mon.rollup);
    mon_snapshot_clear(&mon.prev);
    mon_sample_clear(&mon.sample);
    mon.has_prev = mon.has_sample = false;
    pthread_mutex_unlock(&mon.lock);
}

static const struct wgm_conf_key monitor_config[] = {
    {.key = "interval", .type = WGM_CONF_INT, .def = "10", .min = 1, .max = 3600,
     .help = "seconds between samples (system_status is published at this interval)"},
    {.key = "ring_size", .type = WGM_CONF_INT, .def = "720", .min = 2, .max = 1000000,
     .help = "raw samples kept in memory (interval=raw history, default 2 h at 10 s)"},
    {.key = "retention_1m", .type = WGM_CONF_INT, .def = "2", .min = 1, .max = 3650, .help = "days of 1-minute rollups"},
    {.key = "retention_5m", .type = WGM_CONF_INT, .def = "14", .min = 1, .max = 3650, .help = "days of 5-minute rollups"},
    {.key = "retention_15m", .type = WGM_CONF_INT, .def = "60", .min = 1, .max = 3650,
     .help = "days of 15-minute rollups"},
    {.key = "retention_1h", .type = WGM_CONF_INT, .def = "400", .min = 1, .max = 36500, .help = "days of 1-hour rollups"},
    {.key = "alert_retention", .type = WGM_CONF_INT, .def = "90", .min = 1, .max = 36500,
     .help = "days resolved alerts are kept"},
    {.key = "host_tag", .type = WGM_CONF_STRING, .def = "", .help = "the host tag of data points (empty: the hostname)"},
    {.key = "proc_root", .type = WGM_CONF_STRING, .def = "",
     .help = "directory holding proc/ and sys/ to read instead of / (containers mounting the host's)"},
    {.key = "prometheus", .type = WGM_CONF_ENUM, .def = "auth", .choices = "off|loopback|auth",
     .help = "GET /metrics: off, open to loopback clients, or auth (Bearer JWT or API key with monitoring.view)"},
    {.key = "webhook_url", .type = WGM_CONF_STRING, .def = "", .help = "http(s) URL the webhook channel POSTs alerts to"},
    {.key = "webhook_timeout_ms", .type = WGM_CONF_INT, .def = "5000", .min = 100, .max = 120000,
     .help = "per attempt"},
    {.key = "webhook_retries", .type = WGM_CONF_INT, .def = "3", .min = 0, .max = 20,
     .help = "extra attempts on network errors, 5xx and 429"},
    {.key = "webhook_backoff_ms", .type = WGM_CONF_INT, .def = "1000", .min = 10, .max = 60000,
     .help = "first retry delay, doubled each time (at most 60 s)"},
    {.key = "webhook_token", .type = WGM_CONF_STRING, .def = "",
     .help = "Bearer token, sealed (\"sealed:...\" from `wgmd --seal`)"},
    {.key = "webhook_token_file", .type = WGM_CONF_STRING, .def = "", .help = "file holding the Bearer token (mode 600)"},
    {.key = "webhook_hmac_key", .type = WGM_CONF_STRING, .def = "",
     .help = "key of the X-WGM-Signature HMAC-SHA256 header, sealed"},
    {.key = "webhook_hmac_key_file", .type = WGM_CONF_STRING, .def = "", .help = "file holding the HMAC key (mode 600)"},
    {.key = "email_url", .type = WGM_CONF_STRING, .def = "", .help = "smtp:// or smtps:// URL of the mail relay"},
    {.key = "email_from", .type = WGM_CONF_STRING, .def = "", .help = "sender address"},
    {.key = "email_to", .type = WGM_CONF_STRING, .def = "", .help = "recipient addresses, comma-separated"},
    {.key = "email_username", .type = WGM_CONF_STRING, .def = "", .help = "SMTP AUTH user (empty: no AUTH)"},
    {.key = "email_password", .type = WGM_CONF_STRING, .def = "", .help = "SMTP AUTH password, sealed"},
    {.key = "email_password_file", .type = WGM_CONF_STRING, .def = "", .help = "file holding the SMTP password (mode 600)"},
    {.key = "email_require_tls", .type = WGM_CONF_BOOL, .def = "yes", .help = "smtp:// only: insist on STARTTLS"},
    {.key = "email_timeout_ms", .type = WGM_CONF_INT, .def = "10000", .min = 100, .max = 120000, .help = "per attempt"},
    {.key = "email_retries", .type = WGM_CONF_INT, .def = "3", .min = 0, .max = 20,
     .help = "extra attempts on network errors and 4xx replies"},
    {.key = "email_backoff_ms", .type = WGM_CONF_INT, .def = "5000", .min = 10, .max = 60000,
     .help = "first retry delay, doubled each time (at most 60 s)"},
    {NULL},
};

/* Every integer key is digits within its bounds, nothing else: a value
 * atoll() would have read as its leading part is refused. */
static int check_ints(void)
{
    for (const struct wgm_conf_key *k = monitor_config; k->key; k++) {
        long long v;
        if (k->type != WGM_CONF_INT)
            continue;
        if (wgm_in_parse_ll(mon.host->conf_get(mon.ctx, k->key), k->min, k->max, &v) < 0) {
            MON_LOG(WGM_LOG_ERROR, "[monitor] %s must be an integer from %lld to %lld", k->key, (long long)k->min,
                    (long long)k->max);
            return -EINVAL;
        }
    }
    return 0;
}

WGM_EXPORT const struct wgm_plugin wgm_plugin_v1 = {
    WGM_PLUGIN_HEADER,
    .name = "monitor",
    .version = WGM_VERSION,
    .description = "system metrics, history, alert rules, notifications and /metrics",
    .feature = "monitoring",
    .config = monitor_config,
    .init = monitor_init,
    .start = monitor_start,
    .fini = monitor_fini,
};
