/* plugins/monitor: state shared by the files of monitor.so.
 *
 *   collector.c   the sampling timer: /proc → sample → values → ring,
 *                 rollups, system_status, alert evaluation
 *   store.c       schema, batched rollup writes, retention, history reads
 *   alerts.c      rules in memory, firing/resolving, notifications
 *   services.c    wireguard_status / bgp_status followed over the bus
 *   appname.c     app_name from system.config, for notifications
 *   api_*.c       the /monitoring endpoints
 *   prometheus.c  GET /metrics and the system metrics provider
 *
 * One mutex (mon.lock) guards the sample, values, ring and rollups; the
 * alert rules have their own (alerts.c).  Neither is held across database
 * or network I/O. */
#ifndef WGM_MONITOR_H
#define WGM_MONITOR_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <wgm/wgm.h>
#include "catalog.h"
#include "procfs.h"
#include "rollup.h"
#include "sample.h"

struct notifier;

struct mon_plugin {
    const struct wgm_host *host;
    struct wgm_ctx *ctx;
    unsigned interval_s;            /* sampling interval */
    char host_tag[64];              /* "host" tag of data points */
    char root[256];                 /* /proc and /sys prefix ("" = this machine) */
    long long retention_s[MON_RES_COUNT];
    long long alert_retention_s;

    pthread_mutex_t lock;           /* everything below */
    struct mon_snapshot prev;
    bool has_prev;
    struct mon_sample sample;       /* latest */
    bool has_sample;
    struct mon_values values;       /* latest */
    int64_t sampled_at;             /* Unix seconds of the latest sample */
    struct wgm_app_stats app;       /* latest daemon figures */
    struct mon_rollup rollup;
    uint64_t samples;
    uint64_t sample_cpu_ns;         /* CPU time the sampling took, summed */

    struct notifier *notifier;      /* NULL: no channel configured */
};

extern struct mon_plugin mon;

#define MON_LOG(level, ...) mon.host->log(mon.ctx, level, __VA_ARGS__)

/* collector.c */
int mon_collect_now(void);        /* take a sample now (dashboard refresh) */
void mon_collect_tick(struct wgm_ctx *ctx, void *data);
/* Latest values and sample as JSON for the dashboard and system_status. */
json_t *mon_system_metrics_json(void);

/* store.c */
extern const struct wgm_migration mon_migrations[];
extern const size_t mon_migrations_count;
int mon_store_flush(void);        /* write pending buckets; 0 or errno */
void mon_store_retention(void);
/* Points of @metric at resolution @res in [@from, @to] (Unix s), merged
 * with buckets not yet written.  @points (new, array of {t,min,max,sum,count}). */
int mon_store_history(int metric, int res, int64_t from, int64_t to, const char *host, struct mon_bucket **points,
                      size_t *n);

/* alerts.c */
int mon_alerts_init(void);
void mon_alerts_fini(void);
void mon_alerts_evaluate(const struct mon_values *values, int64_t now);
int mon_alerts_reload(void);      /* re-read rules after a change */
/* The phase of rule @id for the API: "ok", "pending" or "firing". */
const char *mon_alerts_rule_state(int64_t id);
/* {active, critical, error, warning, info, recent:[...]} (new). */
json_t *mon_alerts_summary(struct wgm_db *db, int64_t since);
/* The spec's alert object of the current row of an ALERT_COLUMNS statement. */
json_t *mon_alert_json(struct wgm_stmt *st);
#define MON_ALERT_COLUMNS                                                                               \
    "id, rule_id, name, level, status, metric_name, current_value, threshold, condition_op, message,"  \
    " created_at, resolved_at, acknowledged, acknowledged_by, acknowledged_at"
bool mon_channel_known(const char *name);
int mon_channels_init(void);
void mon_channels_fini(void);
int mon_channels_send(json_t *channels, const char *subject, const char *text, const char *json);

/* appname.c: app_name of the latest system.config event ("wgm" before it) */
int mon_appname_subscribe(void);
void mon_appname(char *buf, size_t len);

/* services.c */
int mon_services_subscribe(void);
/* wireguard and bgp figures (new; keys absent when the plugin is absent). */
json_t *mon_services_json(void);
void mon_services_values(struct mon_values *v);

/* api_*.c, prometheus.c */
int mon_api_metrics_register(void);
int mon_api_dashboard_register(void);
int mon_api_alerts_register(void);
int mon_prometheus_register(void);

#endif
