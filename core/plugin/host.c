/* core/plugin/host: the host table.  Each entry adapts a core subsystem to
 * the plugin's context: names are scoped, owners recorded, errors logged at
 * this boundary once. */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache/cache.h"
#include "conf.h"
#include "daemon.h"
#include "db/db.h"
#include "events.h"
#include "http/request.h"
#include "http/router.h"
#include "log.h"
#include "metrics.h"
#include "plugin/host_table.h"
#include "plugin/loader.h"
#include "plugin/services.h"
#include "scheduler.h"
#include "otp/qr.h"
#include "secret.h"

static void host_log(struct wgm_ctx *ctx, enum wgm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void host_log(struct wgm_ctx *ctx, enum wgm_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wgm_logv(level, ctx->name, fmt, ap);
    va_end(ap);
}

static const char *host_conf_get(struct wgm_ctx *ctx, const char *key)
{
    return wgm_conf_get(ctx->daemon->conf, ctx->name, key);
}

static const char *host_state_dir(struct wgm_ctx *ctx)
{
    return ctx->daemon->state_dir;
}

/* Plugin routes live under the API base path. */
static int host_route_add(struct wgm_ctx *ctx, const char *method, const char *path, const char *permission,
                          wgm_handler_fn handler)
{
    char full[600];
    int r;

    if (!path || path[0] != '/' || strlen(path) > 500)
        return -EINVAL;
    snprintf(full, sizeof(full), "/api/v1%s", path);
    r = wgm_router_add(ctx->daemon->router, ctx, method, full, permission, handler);
    if (r < 0)
        wgm_log(WGM_LOG_ERROR, ctx->name, "cannot register %s %s: %s", method ? method : "(null)", full,
                strerror(-r));
    return r;
}

static int64_t host_timer_add(struct wgm_ctx *ctx, unsigned interval_ms, wgm_task_fn fn, void *data,
                              wgm_free_fn data_free)
{
    return wgm_sched_timer_add(ctx->daemon->sched, ctx, interval_ms, fn, data, data_free);
}

static int host_timer_del(struct wgm_ctx *ctx, int64_t id)
{
    return wgm_sched_timer_del(ctx->daemon->sched, ctx, id);
}

static int host_task_submit(struct wgm_ctx *ctx, wgm_task_fn fn, void *data, wgm_free_fn data_free)
{
    return wgm_sched_submit(ctx->daemon->sched, ctx, fn, data, data_free);
}

static int host_migrate(struct wgm_ctx *ctx, const struct wgm_migration *migrations, size_t count)
{
    char err[512] = "";
    int r = wgm_db_migrate(ctx->daemon->db, ctx->name, migrations, count, err, sizeof(err));
    if (r < 0)
        wgm_log(WGM_LOG_ERROR, ctx->name, "migration failed: %s", err);
    return r;
}

static struct wgm_db *host_db_acquire(struct wgm_ctx *ctx)
{
    return wgm_db_acquire(ctx->daemon->db, ctx->daemon->db_acquire_timeout_ms);
}

/* Cache keys are scoped by owner ("wireguard:...") so plugins cannot
 * collide with each other or with the core. */
static int scoped_key(struct wgm_ctx *ctx, const char *key, char *buf, size_t len)
{
    if (!key || !*key)
        return -EINVAL;
    if ((size_t)snprintf(buf, len, "%s:%s", ctx->name, key) >= len)
        return -ENAMETOOLONG;
    return 0;
}

static int host_cache_get(struct wgm_ctx *ctx, const char *key, char **value)
{
    char k[512];
    int r = scoped_key(ctx, key, k, sizeof(k));
    return r < 0 ? r : wgm_cache_get(ctx->daemon->cache, k, value);
}

static int host_cache_set(struct wgm_ctx *ctx, const char *key, const char *value, unsigned ttl_s)
{
    char k[512];
    int r = scoped_key(ctx, key, k, sizeof(k));
    return r < 0 ? r : wgm_cache_set(ctx->daemon->cache, k, value, ttl_s);
}

static int host_cache_del(struct wgm_ctx *ctx, const char *key)
{
    char k[512];
    int r = scoped_key(ctx, key, k, sizeof(k));
    return r < 0 ? r : wgm_cache_del(ctx->daemon->cache, k);
}

static int host_cache_incr(struct wgm_ctx *ctx, const char *key, int64_t delta, unsigned ttl_s, int64_t *out)
{
    char k[512];
    int r = scoped_key(ctx, key, k, sizeof(k));
    return r < 0 ? r : wgm_cache_incr(ctx->daemon->cache, k, delta, ttl_s, out);
}

static int host_publish(struct wgm_ctx *ctx, const char *topic, json_t *payload)
{
    return wgm_bus_publish(ctx->daemon->bus, topic, payload);
}

static int host_subscribe(struct wgm_ctx *ctx, const char *topic, wgm_event_fn fn, void *data)
{
    return wgm_bus_subscribe(ctx->daemon->bus, ctx, topic, fn, data);
}

static int host_secret_seal(struct wgm_ctx *ctx, const void *plain, size_t len, char **sealed)
{
    return wgm_secret_seal(ctx->daemon->keyring, plain, len, sealed);
}

static int host_secret_open(struct wgm_ctx *ctx, const char *sealed, char **plain, size_t *len)
{
    return wgm_secret_open(ctx->daemon->keyring, sealed, plain, len);
}

static void host_free(void *p)
{
    free(p);
}

static int host_req_can(const struct wgm_req *req, const char *permission)
{
    return wgm_principal_can(wgm_request_principal(req), permission);
}

static int host_route_add_root(struct wgm_ctx *ctx, const char *method, const char *path, const char *permission,
                               wgm_handler_fn handler)
{
    int r;
    /* the API and the WebSocket belong to the core's prefixes */
    if (!path || path[0] != '/' || strlen(path) > 500 || strncmp(path, "/api/", 5) == 0 ||
        strcmp(path, "/api") == 0 || strncmp(path, "/ws/", 4) == 0 || strcmp(path, "/ws") == 0)
        return -EINVAL;
    r = wgm_router_add(ctx->daemon->router, ctx, method, path, permission, handler);
    if (r < 0)
        wgm_log(WGM_LOG_ERROR, ctx->name, "cannot register %s %s: %s", method ? method : "(null)", path,
                strerror(-r));
    return r;
}


/* Copies only as much as the caller's struct holds: an older plugin passes
 * a shorter struct. */
static int host_app_stats(struct wgm_ctx *ctx, struct wgm_app_stats *out)
{
    struct wgm_app_stats full;
    uint32_t size;
    if (!out || out->struct_size < offsetof(struct wgm_app_stats, http_requests))
        return -EINVAL;
    size = out->struct_size < sizeof(full) ? out->struct_size : (uint32_t)sizeof(full);
    wgm_app_stats_fill(ctx->daemon, &full);
    full.struct_size = size;
    memcpy(out, &full, size);
    return 0;
}

static int host_metrics_register(struct wgm_ctx *ctx, wgm_metrics_fn fn, void *data)
{
    return wgm_metrics_register(ctx->daemon->metrics, ctx, fn, data);
}

static int host_metrics_render(struct wgm_ctx *ctx, char **text, size_t *len)
{
    char failed[256];
    int r = wgm_metrics_render(ctx->daemon->metrics, text, len, failed, sizeof(failed));
    if (r == 0 && failed[0])
        wgm_log(WGM_LOG_WARN, ctx->name, "metrics left out of the exposition (provider failed): %s", failed);
    return r;
}

static int64_t host_req_user(const struct wgm_req *req, const char **username)
{
    const struct wgm_principal *p = wgm_request_principal(req);
    if (username)
        *username = p ? p->username : "";
    return p ? p->user_id : 0;
}

static int host_service_register(struct wgm_ctx *ctx, const char *name, wgm_service_fn fn, void *data)
{
    int r = wgm_services_register(ctx->daemon->services, ctx, name, fn, data);
    if (r < 0)
        wgm_log(WGM_LOG_ERROR, ctx->name, "cannot register service '%s': %s", name ? name : "(null)", strerror(-r));
    return r;
}

static const struct wgm_host host_table = {
    .struct_size = sizeof(struct wgm_host),
    .abi_major = WGM_ABI_MAJOR,
    .abi_minor = WGM_ABI_MINOR,
    .log = host_log,
    .conf_get = host_conf_get,
    .state_dir = host_state_dir,
    .route_add = host_route_add,
    .req_param = wgm_req_param_impl,
    .req_query = wgm_req_query_impl,
    .req_header = wgm_req_header_impl,
    .resp_json = wgm_resp_json_impl,
    .resp_error = wgm_resp_error_impl,
    .resp_raw = wgm_resp_raw_impl,
    .resp_header = wgm_resp_header_impl,
    .timer_add = host_timer_add,
    .timer_del = host_timer_del,
    .task_submit = host_task_submit,
    .migrate = host_migrate,
    .db_acquire = host_db_acquire,
    .db_release = wgm_db_release,
    .db_dialect = wgm_db_dialect,
    .db_begin = wgm_db_begin,
    .db_commit = wgm_db_commit,
    .db_rollback = wgm_db_rollback,
    .db_prepare = wgm_db_prepare,
    .stmt_bind_int = wgm_stmt_bind_int,
    .stmt_bind_double = wgm_stmt_bind_double,
    .stmt_bind_text = wgm_stmt_bind_text,
    .stmt_bind_blob = wgm_stmt_bind_blob,
    .stmt_bind_null = wgm_stmt_bind_null,
    .stmt_step = wgm_stmt_step,
    .stmt_reset = wgm_stmt_reset,
    .stmt_column_count = wgm_stmt_column_count,
    .stmt_column_name = wgm_stmt_column_name,
    .stmt_column_type = wgm_stmt_column_type,
    .stmt_column_int = wgm_stmt_column_int,
    .stmt_column_double = wgm_stmt_column_double,
    .stmt_column_text = wgm_stmt_column_text,
    .stmt_column_blob = wgm_stmt_column_blob,
    .stmt_changes = wgm_stmt_changes,
    .stmt_last_id = wgm_stmt_last_id,
    .stmt_rows_json = wgm_stmt_rows_json,
    .stmt_free = wgm_stmt_free,
    .cache_get = host_cache_get,
    .cache_set = host_cache_set,
    .cache_del = host_cache_del,
    .cache_incr = host_cache_incr,
    .publish = host_publish,
    .subscribe = host_subscribe,
    .secret_seal = host_secret_seal,
    .secret_open = host_secret_open,
    .free = host_free,
    .free_secret = wgm_secret_free,
    .req_can = host_req_can,
    .qr_png = wgm_qr_png,
    .req_remote_addr = wgm_request_client_ip,
    .route_add_root = host_route_add_root,
    .app_stats = host_app_stats,
    .metrics_register = host_metrics_register,
    .metrics_family = wgm_metrics_family,
    .metrics_sample = wgm_metrics_sample,
    .metrics_render = host_metrics_render,
    .req_user = host_req_user,
    .resp_json_msg = wgm_resp_json_msg_impl,
    .service_register = host_service_register,
};

const struct wgm_host *wgm_host_table(void)
{
    return &host_table;
}

void wgm_ctx_unregister_all(struct wgm_ctx *ctx)
{
    struct wgm_daemon *d = ctx->daemon;
    if (d->router)
        wgm_router_remove_owner(d->router, ctx);
    if (d->sched)
        wgm_sched_cancel_owner(d->sched, ctx);
    if (d->bus)
        wgm_bus_unsubscribe_owner(d->bus, ctx);
    if (d->metrics)
        wgm_metrics_remove_owner(d->metrics, ctx);
    if (d->services)
        wgm_services_remove_owner(d->services, ctx);
}
