/* core/metrics: the registry of Prometheus metrics providers and the writer
 * of the text exposition format (0.0.4) they fill through the host table.
 * The core registers its own provider (process, HTTP, database, cache,
 * WebSocket: metrics_core.c); plugins add theirs; monitor.so serves the
 * result on /metrics. */
#ifndef WGM_CORE_METRICS_H
#define WGM_CORE_METRICS_H

#include <stddef.h>
#include <wgm/host.h>

struct wgm_metrics_registry;

struct wgm_metrics_registry *wgm_metrics_registry_new(void);
struct wgm_metrics_registry *wgm_metrics_registry_free(struct wgm_metrics_registry *r);
/* Add @fn for @owner.  0 or -ENOMEM. */
int wgm_metrics_register(struct wgm_metrics_registry *r, struct wgm_ctx *owner, wgm_metrics_fn fn, void *data);
/* Forget every provider of @owner (its plugin is going away). */
void wgm_metrics_remove_owner(struct wgm_metrics_registry *r, struct wgm_ctx *owner);
/* Run every provider in registration order into @text (new, free()).
 * A provider that fails is skipped: what it wrote is cut off again and its
 * owner's name is appended to @failed (may be NULL). */
int wgm_metrics_render(struct wgm_metrics_registry *r, char **text, size_t *len, char *failed, size_t failed_len);

/* The writer, also used directly by the unit tests. */
int wgm_metrics_family(struct wgm_metrics *m, const char *name, const char *type, const char *help);
int wgm_metrics_sample(struct wgm_metrics *m, double value, const char *const *labels);

struct wgm_daemon;
/* host->app_stats: the daemon's HTTP, WebSocket, database and cache figures. */
void wgm_app_stats_fill(struct wgm_daemon *d, struct wgm_app_stats *out);

/* The core's own provider (metrics_core.c); @data is the struct wgm_daemon. */
int wgm_metrics_core(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data);

#endif
