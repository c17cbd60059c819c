/* core/sysconfig: defaults + stored overrides, validated updates, live apply. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "api.h"
#include "cache/cache.h"
#include "conf.h"
#include "daemon.h"
#include "db/db.h"
#include "http/request.h"
#include "http/router.h"
#include "events.h"
#include "log.h"
#include "logs/query.h"
#include "logs/retention.h"
#include "plugin/loader.h"
#include "scheduler.h"
#include "sysconfig.h"

enum ftype { F_STR, F_BOOL, F_INT, F_LEVEL, F_CIDRS };

/* Every field of the document: where it lives, its type and bounds.
 * Read-only fields reflect the running daemon and cannot be set. */
static const struct field {
    const char *group, *name;
    enum ftype type;
    long long min, max;
    bool readonly;
} fields[] = {
    {NULL, "app_name", F_STR, 1, 100, false},
    {NULL, "app_version", F_STR, 0, 0, true},
    {NULL, "debug_mode", F_BOOL, 0, 0, false},
    {NULL, "log_level", F_LEVEL, 0, 0, false},
    {NULL, "max_log_size", F_INT, 1, 100000, false},
    {NULL, "backup_retention", F_INT, 1, 3650, false},
    {NULL, "session_timeout", F_INT, 300, 86400, false},
    {NULL, "refresh_token_days", F_INT, 1, 90, false},
    {NULL, "remember_me_days", F_INT, 1, 365, false},
    {NULL, "api_rate_limit", F_INT, 1, 1000000, false},
    {NULL, "anonymous_rate_limit", F_INT, 1, 1000000, false},
    {NULL, "database_pool_size", F_INT, 0, 0, true},
    {NULL, "cache_enabled", F_BOOL, 0, 0, true},
    {NULL, "monitoring_enabled", F_BOOL, 0, 0, true},
    {NULL, "two_factor_enabled", F_BOOL, 0, 0, false},
    {NULL, "maintenance_mode", F_BOOL, 0, 0, false},
    {NULL, "maintenance_retry_after", F_INT, 1, 86400, false},
    {"password_policy", "min_length", F_INT, 8, 128, false},
    {"password_policy", "require_uppercase", F_BOOL, 0, 0, false},
    {"password_policy", "require_lowercase", F_BOOL, 0, 0, false},
    {"password_policy", "require_digits", F_BOOL, 0, 0, false},
    {"password_policy", "require_special", F_BOOL, 0, 0, false},
    {"password_policy", "max_age_days", F_INT, 0, 3650, false},
    {"security", "enable_rate_limiting", F_BOOL, 0, 0, false},
    {"security", "enable_ip_whitelist", F_BOOL, 0, 0, false},
    {"security", "enable_audit_logging", F_BOOL, 0, 0, false},
    {"security", "max_login_attempts", F_INT, 1, 100, false},
    {"security", "lockout_duration", F_INT, 60, 86400, false},
    {"security", "ip_whitelist", F_CIDRS, 0, WGM_IP_WHITELIST_MAX, false},
    {"security", "max_api_keys_per_user", F_INT, 1, 10000, false},
};


struct wgm_sysconfig_store {
    pthread_mutex_t lock;
    json_t *stored;      /* what PUT wrote: only settable fields */
    struct wgm_sysconfig snap;
    int64_t loaded_at;   /* updated_at of the stored row */
    enum wgm_log_level file_level; /* [log] level, what applies without a stored log_level */
};

static json_t *defaults(void)
{
    return json_pack("{s:s,s:b,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:b,s:b,s:i,"
                     "s:{s:i,s:b,s:b,s:b,s:b,s:i},s:{s:b,s:b,s:b,s:i,s:i,s:o,s:i}}",
                     "app_name", "wgm", "debug_mode", 0, "log_level", "INFO", "max_log_size", 100,
                     "backup_retention", 30, "session_timeout", 3600, "refresh_token_days", 7,
                     "remember_me_days", 30, "api_rate_limit", 1000, "anonymous_rate_limit", 100,
                     "two_factor_enabled", 1, "maintenance_mode", 0, "maintenance_retry_after", 300,
                     "password_policy", "min_length", 12, "require_uppercase", 1,
                     "require_lowercase", 1, "require_digits", 1, "require_special", 1, "max_age_days", 90,
                     "security", "enable_rate_limiting", 1, "enable_ip_whitelist", 0, "enable_audit_logging", 1,
                     "max_login_attempts", 5, "lockout_duration", 900, "ip_whitelist", json_array(),
                     "max_api_keys_per_user", 50);
}

static const struct field *find_field(const char *group, const char *name)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct field *f = &fields[i];
        if (strcmp(f->name, name) == 0 && (group ? f->group && strcmp(f->group, group) == 0 : !f->group))
            return f;
    }
    return NULL;
}

static json_t *field_get(json_t *doc, const struct field *f)
{
    json_t *parent = f->group ? json_object_get(doc, f->group) : doc;
    return json_object_get(parent, f->name);
}

static void field_set(json_t *doc, const struct field *f, json_t *v /* borrowed */)
{
    json_t *parent = doc;
    if (f->group) {
        parent = json_object_get(doc, f->group);
        if (!parent) {
            parent = json_object();
            json_object_set_new(doc, f->group, parent);
        }
    }
    json_object_set(parent, f->name, v);
}

/* Effective document: defaults overlaid with the stored settable fields. */
static json_t *effective(struct wgm_daemon *d, json_t *stored)
{
    json_t *doc = defaults();
    struct wgm_db_stats st;

    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *v = field_get(stored, &fields[i]);
        if (v && !fields[i].readonly)
            field_set(doc, &fields[i], v);
    }
    /* One spelling in answers, whichever was stored ("warning" -> "WARN"). */
    const char *lv = wgm_logs_level_canon(json_string_value(json_object_get(doc, "log_level")));
    json_object_set_new(doc, "log_level", json_string(lv ? lv : "INFO"));
    wgm_db_pool_stats(d->db, &st);
    json_object_set_new(doc, "app_version", json_string(WGM_VERSION));
    json_object_set_new(doc, "database_pool_size", json_integer(st.size));
    json_object_set_new(doc, "cache_enabled", json_boolean(strcmp(wgm_cache_backend(d->cache), "redis") == 0));
    json_t *features = wgm_plugins_features(d->plugins);
    bool monitoring = false;
    size_t i;
    json_t *f;
    json_array_foreach(features, i, f) monitoring = monitoring || strcmp(json_string_value(f), "monitoring") == 0;
    json_decref(features);
    json_object_set_new(doc, "monitoring_enabled", json_boolean(monitoring));
    return doc;
}

static unsigned geti(json_t *doc, const char *group, const char *name)
{
    json_t *p = group ? json_object_get(doc, group) : doc;
    return (unsigned)json_integer_value(json_object_get(p, name));
}

static bool getb(json_t *doc, const char *group, const char *name)
{
    json_t *p = group ? json_object_get(doc, group) : doc;
    return json_is_true(json_object_get(p, name));
}

static enum wgm_log_level level_of(const char *s)
{
    if (!strcasecmp(s, "DEBUG"))
        return WGM_LOG_DEBUG;
    if (!strcasecmp(s, "INFO"))
        return WGM_LOG_INFO;
    if (!strcasecmp(s, "WARNING") || !strcasecmp(s, "WARN"))
        return WGM_LOG_WARN;
    return WGM_LOG_ERROR;
}

/* Recompute the snapshot; with the lock held. */
static void apply_locked(struct wgm_daemon *d, struct wgm_sysconfig_store *s, bool set_log_level)
{
    json_t *doc = effective(d, s->stored);
    struct wgm_sysconfig *c = &s->snap;
    bool was_debug = c->debug_mode;

    c->session_timeout = geti(doc, NULL, "session_timeout");
    c->refresh_days = geti(doc, NULL, "refresh_token_days");
    c->remember_me_days = geti(doc, NULL, "remember_me_days");
    c->api_rate_limit = geti(doc, NULL, "api_rate_limit");
    c->anonymous_rate_limit = geti(doc, NULL, "anonymous_rate_limit");
    c->two_factor_enabled = getb(doc, NULL, "two_factor_enabled");
    c->enable_rate_limiting = getb(doc, "security", "enable_rate_limiting");
    c->enable_audit_logging = getb(doc, "security", "enable_audit_logging");
    c->max_login_attempts = geti(doc, "security", "max_login_attempts");
    c->lockout_duration = geti(doc, "security", "lockout_duration");
    c->policy.min_length = geti(doc, "password_policy", "min_length");
    c->policy.require_uppercase = getb(doc, "password_policy", "require_uppercase");
    c->policy.require_lowercase = getb(doc, "password_policy", "require_lowercase");
    c->policy.require_digits = getb(doc, "password_policy", "require_digits");
    c->policy.require_special = getb(doc, "password_policy", "require_special");
    c->policy.max_age_days = geti(doc, "password_policy", "max_age_days");
    c->max_api_keys_per_user = geti(doc, "security", "max_api_keys_per_user");
    /* Stored lists were validated by PUT; an entry that no longer parses
     * is dropped (and with an empty list the whitelist refuses everyone). */
    c->enable_ip_whitelist = getb(doc, "security", "enable_ip_whitelist");
    c->n_ip_whitelist = 0;
    {
        json_t *list = json_object_get(json_object_get(doc, "security"), "ip_whitelist"), *e;
        size_t i;
        json_array_foreach(list, i, e)
        {
            if (c->n_ip_whitelist < WGM_IP_WHITELIST_MAX &&
                wgm_cidr_parse(json_string_value(e), &c->ip_whitelist[c->n_ip_whitelist]) == 0)
                c->n_ip_whitelist++;
        }
    }
    c->debug_mode = getb(doc, NULL, "debug_mode");
    c->maintenance_mode = getb(doc, NULL, "maintenance_mode");
    c->maintenance_retry_after = geti(doc, NULL, "maintenance_retry_after");
    c->max_log_size = geti(doc, NULL, "max_log_size");
    c->backup_retention = geti(doc, NULL, "backup_retention");
    snprintf(c->app_name, sizeof(c->app_name), "%s", json_string_value(json_object_get(doc, "app_name")));
    /* debug_mode means log level debug while on.  Otherwise the file's
     * [log] level rules at start; a stored log_level applies once someone
     * set it through the API; switching debug_mode off returns to it. */
    if (set_log_level && c->debug_mode)
        wgm_log_set_level(WGM_LOG_DEBUG);
    else if (set_log_level && json_object_get(s->stored, "log_level"))
        wgm_log_set_level(level_of(json_string_value(json_object_get(doc, "log_level"))));
    else if (set_log_level && was_debug)
        wgm_log_set_level(s->file_level);
    json_decref(doc);
}

/* The public document on "system.config" (there are no secrets in it; the
 * WebSocket hub pushes only its own topics, not this one), and a
 * system_status message {maintenance_mode, retry_after} when
 * maintenance_mode differs from @was_maint: every default role holds
 * monitoring.view, so every signed-in client hears it. */
static void publish(struct wgm_daemon *d, bool was_maint, bool announce)
{
    struct wgm_sysconfig_store *s = d->sysconfig;
    struct wgm_sysconfig c;
    json_t *doc;

    if (!d->bus)
        return;
    pthread_mutex_lock(&s->lock);
    doc = effective(d, s->stored);
    c = s->snap;
    pthread_mutex_unlock(&s->lock);
    if (doc)
        wgm_bus_publish(d->bus, "system.config", doc);
    if (announce && c.maintenance_mode != was_maint) {
        wgm_log(WGM_LOG_WARN, "core", "maintenance mode is now %s", c.maintenance_mode ? "on" : "off");
        wgm_bus_publish(d->bus, "system_status",
                        json_pack("{s:b,s:i}", "maintenance_mode", c.maintenance_mode, "retry_after",
                                  (int)c.maintenance_retry_after));
    }
}

void wgm_sysconfig_publish(struct wgm_daemon *d)
{
    publish(d, false, false);
}

/* Read the stored row; 1 when it changed since the last load. */
static int load(struct wgm_daemon *d, struct wgm_sysconfig_store *s)
{
    struct wgm_db *db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    struct wgm_stmt *st = NULL;
    int changed = 0;

    if (!db)
        return -EIO;
    if (wgm_db_prepare(db, "SELECT value, updated_at FROM system_config WHERE name = 'system'", &st) == 0 &&
        wgm_stmt_step(st) == WGM_DB_ROW) {
        int64_t at = wgm_stmt_column_int(st, 1);
        json_t *v = json_loads(wgm_stmt_column_text(st, 0), 0, NULL);
        pthread_mutex_lock(&s->lock);
        if (v && json_is_object(v) && at != s->loaded_at) {
            json_decref(s->stored);
            s->stored = json_incref(v);
            s->loaded_at = at;
            changed = 1;
        }
        pthread_mutex_unlock(&s->lock);
        json_decref(v);
    }
    wgm_stmt_free(st);
    wgm_db_release(db);
    return changed;
}

static void reload_tick(struct wgm_ctx *ctx, void *data)
{
    struct wgm_daemon *d = ctx->daemon;
    (void)data;
    if (load(d, d->sysconfig) == 1) {
        bool was_maint;
        pthread_mutex_lock(&d->sysconfig->lock);
        was_maint = d->sysconfig->snap.maintenance_mode;
        apply_locked(d, d->sysconfig, true);
        pthread_mutex_unlock(&d->sysconfig->lock);
        /* Another node changed it: this node's subscribers hear it too. */
        publish(d, was_maint, true);
    }
}

enum wgm_log_level wgm_sysconfig_file_level_changed(struct wgm_daemon *d, enum wgm_log_level level)
{
    struct wgm_sysconfig_store *s = d->sysconfig;
    enum wgm_log_level apply = level;
    if (!s)
        return level;
    pthread_mutex_lock(&s->lock);
    s->file_level = level;
    if (s->snap.debug_mode)
        apply = WGM_LOG_DEBUG;
    pthread_mutex_unlock(&s->lock);
    return apply;
}

int wgm_sysconfig_start(struct wgm_daemon *d, char *err, size_t errlen)
{
    struct wgm_sysconfig_store *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->stored = json_object();
    s->file_level = wgm_log_get_level();
    d->sysconfig = s;
    load(d, s);
    pthread_mutex_lock(&s->lock);
    apply_locked(d, s, true);
    pthread_mutex_unlock(&s->lock);
    if (wgm_sched_timer_add(d->sched, d->core_ctx, 10000, reload_tick, NULL, NULL) < 0) {
        snprintf(err, errlen, "cannot start the configuration reload timer");
        return -ENOMEM;
    }
    return 0;
}

void wgm_sysconfig_stop(struct wgm_daemon *d)
{
    if (!d->sysconfig)
        return;
    json_decref(d->sysconfig->stored);
    pthread_mutex_destroy(&d->sysconfig->lock);
    free(d->sysconfig);
    d->sysconfig = NULL;
}

void wgm_sysconfig_get(struct wgm_daemon *d, struct wgm_sysconfig *out)
{
    pthread_mutex_lock(&d->sysconfig->lock);
    *out = d->sysconfig->snap;
    pthread_mutex_unlock(&d->sysconfig->lock);
}

/* Check one field's new value; 0 or -EINVAL with a reason. */
static int check_field(const struct field *f, json_t *v, json_t *current, char *why, size_t len)
{
    if (f->readonly) {
        if (json_equal(v, current))
            return 0;
        snprintf(why, len, "is read-only");
        return -EINVAL;
    }
    switch (f->type) {
    case F_BOOL:
        if (json_is_boolean(v))
            return 0;
        snprintf(why, len, "must be a boolean");
        return -EINVAL;
    case F_INT:
        if (json_is_integer(v) && json_integer_value(v) >= f->min && json_integer_value(v) <= f->max)
            return 0;
        snprintf(why, len, "must be an integer from %lld to %lld", f->min, f->max);
        return -EINVAL;
    case F_STR:
        if (json_is_string(v) && json_string_length(v) >= (size_t)f->min && json_string_length(v) <= (size_t)f->max)
            return 0;
        snprintf(why, len, "must be a string of %lld to %lld characters", f->min, f->max);
        return -EINVAL;
    case F_LEVEL:
        /* The spellings GET /logs accepts: WARN and WARNING alike, any case. */
        if (json_is_string(v) && wgm_logs_level_canon(json_string_value(v)))
            return 0;
        snprintf(why, len, "must be one of DEBUG, INFO, WARN (or WARNING), ERROR, CRITICAL");
        return -EINVAL;
    case F_CIDRS: {
        struct wgm_cidr cidr;
        json_t *e;
        size_t i;
        if (!json_is_array(v) || json_array_size(v) > (size_t)f->max) {
            snprintf(why, len, "must be an array of at most %lld CIDR strings", f->max);
            return -EINVAL;
        }
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e) || wgm_cidr_parse(json_string_value(e), &cidr) < 0) {
                snprintf(why, len, "entry %zu is not an IPv4 or IPv6 address or CIDR prefix", i);
                return -EINVAL;
            }
        }
        return 0;
    }
    }
    return -EINVAL;
}

/* The whitelist as it would be after a PUT: enabling it with an empty
 * list, or with one that leaves out the caller's own address, would lock
 * everyone (or the caller) out; refused with the field named. */
static void check_ip_whitelist(struct wgm_daemon *d, json_t *next, const char *client, json_t *details)
{
    json_t *doc = effective(d, next), *list, *e;
    struct wgm_cidr c;
    struct wgm_addr a;
    bool mine = false;
    size_t i;

    list = json_object_get(json_object_get(doc, "security"), "ip_whitelist");
    if (!getb(doc, "security", "enable_ip_whitelist")) {
        json_decref(doc);
        return;
    }
    if (json_array_size(list) == 0) {
        json_object_set_new(details, "security.ip_whitelist",
                            json_string("must list at least one address or prefix while enable_ip_whitelist is on"));
    } else {
        bool have = wgm_addr_parse(client, &a) == 0;
        json_array_foreach(list, i, e)
        {
            if (have && wgm_cidr_parse(json_string_value(e), &c) == 0 && wgm_cidr_contains(&c, &a))
                mine = true;
        }
        if (!mine)
            json_object_set_new(details, "security.ip_whitelist",
                                json_pack("s+", "does not include your own address ", client));
    }
    json_decref(doc);
}

static int save(struct wgm_daemon *d, json_t *stored, int64_t now)
{
    struct wgm_db *db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    struct wgm_stmt *st = NULL;
    char *text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
    const char *sql = strcmp(wgm_db_dialect(db ? db : NULL), "mysql") == 0
                          ? "INSERT INTO system_config (name, value, updated_at) VALUES ('system', ?, ?)"
                            " ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)"
                          : "INSERT INTO system_config (name, value, updated_at) VALUES ('system', ?, ?)"
                            " ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    int r = -EIO;

    if (db && text && (r = wgm_db_prepare(db, sql, &st)) == 0 && (r = wgm_stmt_bind_text(st, 1, text)) == 0 &&
        (r = wgm_stmt_bind_int(st, 2, now)) == 0)
        r = wgm_stmt_step(st) < 0 ? -EIO : 0;
    wgm_stmt_free(st);
    wgm_db_release(db);
    free(text);
    return r;
}

static int get_config(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    json_t *doc;
    (void)req;
    pthread_mutex_lock(&d->sysconfig->lock);
    doc = effective(d, d->sysconfig->stored);
    pthread_mutex_unlock(&d->sysconfig->lock);
    return wgm_resp_json(resp, 200, doc);
}

static int put_config(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    struct wgm_sysconfig_store *s = d->sysconfig;
    json_t *body = req->body, *details = json_object(), *next, *current;
    const char *key;
    json_t *val;
    int64_t now = (int64_t)time(NULL);
    unsigned old_log_size;
    bool was_maint, lowered;
    int r;

    if (!json_is_object(body)) {
        json_decref(details);
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "body must be a JSON object",
                              json_pack("{s:s}", "body", "expected an object of settings"));
    }
    pthread_mutex_lock(&s->lock);
    current = effective(d, s->stored);
    next = json_deep_copy(s->stored);
    /* Unknown names are errors: a typo must not look like success. */
    json_object_foreach(body, key, val)
    {
        if (strcmp(key, "password_policy") == 0 || strcmp(key, "security") == 0) {
            const char *inner;
            json_t *iv;
            if (!json_is_object(val)) {
                json_object_set_new(details, key, json_string("must be an object"));
                continue;
            }
            json_object_foreach(val, inner, iv)
            {
                if (!find_field(key, inner)) {
                    char path[160];
                    snprintf(path, sizeof(path), "%s.%s", key, inner);
                    json_object_set_new(details, path, json_string("unknown setting"));
                }
            }
        } else if (!find_field(NULL, key)) {
            json_object_set_new(details, key, json_string("unknown setting"));
        }
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const struct field *f = &fields[i];
        json_t *parent = f->group ? json_object_get(body, f->group) : body;
        json_t *v = json_is_object(parent) ? json_object_get(parent, f->name) : NULL;
        char why[128], path[96];
        if (!v)
            continue;
        snprintf(path, sizeof(path), "%s%s%s", f->group ? f->group : "", f->group ? "." : "", f->name);
        if (check_field(f, v, field_get(current, f), why, sizeof(why)) < 0)
            json_object_set_new(details, path, json_string(why));
        else if (f->type == F_LEVEL) {
            json_t *canon = json_string(wgm_logs_level_canon(json_string_value(v)));
            field_set(next, f, canon);
            json_decref(canon);
        }
        else if (!f->readonly)
            field_set(next, f, v);
    }
    if (json_object_size(details) == 0)
        check_ip_whitelist(d, next, wgm_request_client_ip(req), details);
    if (json_object_size(details) > 0) {
        pthread_mutex_unlock(&s->lock);
        json_decref(current);
        json_decref(next);
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "invalid settings", details);
    }
    r = save(d, next, now);
    if (r < 0) {
        pthread_mutex_unlock(&s->lock);
        json_decref(current);
        json_decref(next);
        json_decref(details);
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "cannot store the configuration", NULL);
    }
    json_decref(s->stored);
    s->stored = next;
    was_maint = s->snap.maintenance_mode;
    old_log_size = s->snap.max_log_size;
    apply_locked(d, s, true);
    /* The stored row's own time, so the reload timer does not take our
     * write for another node's and announce it twice. */
    s->loaded_at = now;
    json_decref(current);
    current = effective(d, s->stored);
    lowered = s->snap.max_log_size < old_log_size;
    pthread_mutex_unlock(&s->lock);
    json_decref(details);
    wgm_log(WGM_LOG_INFO, "core", "system configuration updated");
    publish(d, was_maint, true);
    if (lowered)
        wgm_logs_size_kick(d); /* a lower bound applies now, not at the next tick */
    return wgm_resp_json_msg(resp, 200, current, "Configuration updated", "系统配置更新成功");
}

int wgm_sysconfig_register(struct wgm_daemon *d)
{
    static const struct wgm_api_route routes[] = {
        {"GET", "/api/v1/system/config", "system.view", get_config},
        {"PUT", "/api/v1/system/config", "system.edit", put_config},
    };
    return wgm_api_add_routes(d, routes, sizeof(routes) / sizeof(routes[0]));
}
