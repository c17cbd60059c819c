/* core/auth/apikeys: API keys "ak_<id>_<secret>".
 *
 * Only the SHA-256 of the secret is stored (the secret has 190 bits of
 * entropy, so a slow hash buys nothing) and compared in constant time.  A
 * key never does more than its creator can do now: its permissions are
 * intersected with the creator's at every use.  last_used is noted in
 * memory and written in batches, not once per request. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "auth/auth.h"
#include "auth/netaddr.h"
#include "auth/users.h"
#include "api.h"
#include "daemon.h"
#include "plugin/loader.h"
#include "db/db.h"
#include "http/request.h"
#include "http/router.h"
#include "scheduler.h"
#include "sysconfig.h"
#include "util.h"
#include "validate.h"

#define ID_CHARS 10
#define SECRET_CHARS 32
#define KEY_COLUMNS                                                                                          \
    "id, user_id, name, description, access_level, permissions, allowed_ips, allowed_endpoints,"             \
    " requests_per_minute, burst_limit, expires_at, status, created_at, last_used"

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Last-use notes, flushed by a timer.  Bounded: past the cap a note is
 * dropped, which only makes last_used a little stale. */
#define TOUCH_CAP 4096
static pthread_mutex_t touch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char id[ID_CHARS + 4];
    int64_t at;
} touches[TOUCH_CAP];
static size_t ntouches;

static void random_alnum(char *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = alnum[randombytes_uniform(sizeof(alnum) - 1)];
    out[n] = '\0';
}

/* Split "ak_<id>_<secret>" → id "ak_<id>" and secret. */
static int parse_key(const char *key, char id[ID_CHARS + 4], const char **secret)
{
    if (strncmp(key, "ak_", 3) != 0 || strlen(key) != 3 + ID_CHARS + 1 + SECRET_CHARS || key[3 + ID_CHARS] != '_')
        return -EINVAL;
    memcpy(id, key, 3 + ID_CHARS);
    id[3 + ID_CHARS] = '\0';
    *secret = key + 3 + ID_CHARS + 1;
    return 0;
}

static json_t *json_col(struct wgm_stmt *st, int col)
{
    const char *s = wgm_stmt_column_text(st, col);
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    return v ? v : json_array();
}

static json_t *time_col(struct wgm_stmt *st, int col)
{
    char buf[32];
    if (wgm_stmt_column_type(st, col) == WGM_DB_NULL)
        return json_null();
    return json_string(wgm_time_rfc3339((time_t)wgm_stmt_column_int(st, col), buf, sizeof(buf)));
}

/* The spec's key object (without the secret) from a KEY_COLUMNS row. */
static json_t *key_json(struct wgm_stmt *st)
{
    const char *desc = wgm_stmt_column_text(st, 3);
    time_t exp = (time_t)wgm_stmt_column_int(st, 10);
    const char *status = wgm_stmt_column_text(st, 11);
    bool expired = wgm_stmt_column_type(st, 10) != WGM_DB_NULL && exp < time(NULL);
    return json_pack("{s:s,s:I,s:s,s:o,s:s,s:o,s:o,s:o,s:{s:I,s:I},s:o,s:s,s:o,s:o}", "id",
                     wgm_stmt_column_text(st, 0), "user_id", (json_int_t)wgm_stmt_column_int(st, 1), "name",
                     wgm_stmt_column_text(st, 2), "description", desc ? json_string(desc) : json_null(),
                     "access_level", wgm_stmt_column_text(st, 4), "permissions", json_col(st, 5), "allowed_ips",
                     json_col(st, 6), "allowed_endpoints", json_col(st, 7), "rate_limit", "requests_per_minute",
                     (json_int_t)wgm_stmt_column_int(st, 8), "burst_limit", (json_int_t)wgm_stmt_column_int(st, 9),
                     "expires_at", time_col(st, 10), "status",
                     strcmp(status, "active") == 0 && expired ? "expired" : status, "created_at", time_col(st, 12),
                     "last_used", time_col(st, 13));
}

int wgm_apikey_authenticate(struct wgm_daemon *d, const char *key, struct wgm_principal *p, json_t **restrictions)
{
    char id[ID_CHARS + 4], hash[65];
    const char *secret;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    int r;

    if (parse_key(key, id, &secret) < 0)
        return -ENOENT;
    db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    if (!db)
        return -EIO;
    if ((r = wgm_db_prepare(db,
                            "SELECT secret_hash, user_id, status, expires_at, permissions, allowed_ips,"
                            " allowed_endpoints, access_level, requests_per_minute, burst_limit FROM api_keys WHERE id = ?",
                            &st)) < 0)
        goto out;
    wgm_stmt_bind_text(st, 1, id);
    if ((r = wgm_stmt_step(st)) != WGM_DB_ROW) {
        r = r < 0 ? -EIO : -ENOENT;
        goto out;
    }
    wgm_auth_sha256_hex(secret, hash);
    if (sodium_memcmp(hash, wgm_stmt_column_text(st, 0), 64) != 0 ||
        strcmp(wgm_stmt_column_text(st, 2), "active") != 0) {
        r = -EACCES;
        goto out;
    }
    if (wgm_stmt_column_type(st, 3) != WGM_DB_NULL && wgm_stmt_column_int(st, 3) < time(NULL)) {
        r = -ETIMEDOUT;
        goto out;
    }
    {
        int64_t owner = wgm_stmt_column_int(st, 1);
        json_t *key_perms = json_col(st, 4), *effective = json_array();
        size_t i;
        json_t *v;
        *restrictions = json_pack("{s:o,s:o,s:s}", "allowed_ips", json_col(st, 5), "allowed_endpoints",
                                  json_col(st, 6), "access_level", wgm_stmt_column_text(st, 7));
        p->rate_per_minute = (unsigned)wgm_stmt_column_int(st, 8);
        p->rate_burst = (unsigned)wgm_stmt_column_int(st, 9);
        wgm_stmt_free(st);
        st = NULL;
        /* The owner as they are now; an API key is no session, so no
         * token-age check (INT64_MAX). */
        r = wgm_user_principal(db, owner, INT64_MAX, p);
        if (r == 0) {
            p->scope = WGM_SCOPE_FULL;
            p->via = WGM_AUTH_API_KEY;
            json_array_foreach(key_perms, i, v)
            {
                if (wgm_principal_can(p, json_string_value(v)))
                    json_array_append(effective, v);
            }
            json_decref(p->permissions);
            p->permissions = effective;
            effective = NULL;
            snprintf(p->api_key_id, sizeof(p->api_key_id), "%s", id);
        } else {
            json_decref(*restrictions);
            *restrictions = NULL;
            r = r == -ENOENT ? -EACCES : r;
        }
        json_decref(effective);
        json_decref(key_perms);
    }
out:
    wgm_stmt_free(st);
    wgm_db_release(db);
    return r;
}

void wgm_apikey_touch(struct wgm_daemon *d, const char *id)
{
    int64_t now = (int64_t)time(NULL);
    (void)d;
    pthread_mutex_lock(&touch_lock);
    for (size_t i = 0; i < ntouches; i++) {
        if (strcmp(touches[i].id, id) == 0) {
            touches[i].at = now;
            pthread_mutex_unlock(&touch_lock);
            return;
        }
    }
    if (ntouches < TOUCH_CAP) {
        snprintf(touches[ntouches].id, sizeof(touches[ntouches].id), "%s", id);
        touches[ntouches++].at = now;
    }
    pthread_mutex_unlock(&touch_lock);
}

void wgm_apikeys_flush(struct wgm_daemon *d)
{
    static __typeof__(touches) batch;
    size_t n;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;

    pthread_mutex_lock(&touch_lock);
    n = ntouches;
    memcpy(batch, touches, n * sizeof(touches[0]));
    ntouches = 0;
    pthread_mutex_unlock(&touch_lock);
    if (n == 0 || !(db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms)))
        return;
    if (wgm_db_begin(db) == 0 && wgm_db_prepare(db, "UPDATE api_keys SET last_used = ? WHERE id = ?", &st) == 0) {
        for (size_t i = 0; i < n; i++) {
            wgm_stmt_bind_int(st, 1, batch[i].at);
            wgm_stmt_bind_text(st, 2, batch[i].id);
            wgm_stmt_step(st);
            wgm_stmt_reset(st);
        }
        wgm_stmt_free(st);
        wgm_db_commit(db);
    }
    wgm_db_rollback(db);
    wgm_db_release(db);
}

static void flush_tick(struct wgm_ctx *ctx, void *data)
{
    (void)data;
    wgm_apikeys_flush(ctx->daemon);
}

static bool valid_cidr(const char *s)
{
    struct wgm_cidr c;
    return wgm_cidr_parse(s, &c) == 0;
}

static bool valid_endpoint(const char *s)
{
    return s[0] == '/' && strlen(s) <= 200 && !strpbrk(s, " \t\r\n");
}

/* rate_limit {requests_per_minute, burst_limit}: per minute at most the
 * owner's @owner_rpm, a burst of at most twice that (the spec's example is
 * 1000 with 2000).  Failures name "rate_limit.<field>". */
static void rate_fields(struct wgm_v *v, json_t *rate, unsigned owner_rpm, long long *rpm, long long *burst)
{
    const char *k;
    json_t *f;

    if (!json_is_object(rate)) {
        wgm_v_fail(v, "rate_limit", "must be an object with requests_per_minute and burst_limit");
        return;
    }
    json_object_foreach(rate, k, f)
    {
        if (strcmp(k, "requests_per_minute") != 0 && strcmp(k, "burst_limit") != 0) {
            char path[80];
            snprintf(path, sizeof(path), "rate_limit.%.60s", k);
            wgm_v_fail(v, path, "unknown field");
        }
    }
    f = json_object_get(rate, "requests_per_minute");
    if (f && (!json_is_integer(f) || json_integer_value(f) < 1 || json_integer_value(f) > owner_rpm))
        wgm_v_fail(v, "rate_limit.requests_per_minute",
                   "must be an integer from 1 to %u (api_rate_limit: a key cannot exceed its owner's budget)",
                   owner_rpm);
    else if (f)
        *rpm = json_integer_value(f);
    f = json_object_get(rate, "burst_limit");
    if (f && (!json_is_integer(f) || json_integer_value(f) < 1 || json_integer_value(f) > 2LL * owner_rpm))
        wgm_v_fail(v, "rate_limit.burst_limit", "must be an integer from 1 to %llu", 2ULL * owner_rpm);
    else if (f)
        *burst = json_integer_value(f);
}

/* How many keys of @user can still be used, and how many cannot (revoked
 * or expired); in the caller's transaction.  0 or a negative errno. */
static int count_keys(struct wgm_db *db, int64_t user, long long *usable, long long *dead)
{
    struct wgm_stmt *st = NULL;
    int r = wgm_db_prepare(db,
                           "SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'active' AND"
                           " (expires_at IS NULL OR expires_at > ?) THEN 1 ELSE 0 END), 0)"
                           " FROM api_keys WHERE user_id = ?",
                           &st);
    if (r == 0) {
        wgm_stmt_bind_int(st, 1, time(NULL));
        wgm_stmt_bind_int(st, 2, user);
        if ((r = wgm_stmt_step(st)) == WGM_DB_ROW) {
            *usable = wgm_stmt_column_int(st, 1);
            *dead = wgm_stmt_column_int(st, 0) - *usable;
            r = 0;
        } else {
            r = -EIO;
        }
    }
    wgm_stmt_free(st);
    return r;
}

/* The per-user cap, checked where the key is inserted so two concurrent
 * creates cannot both take the last place: 0 (room made), 1 (full), or a
 * negative errno.  Revoked and expired keys do not count; once there are
 * as many of them as the cap allows, they are removed, so a user's rows
 * stay bounded (the audit log keeps their history). */
static int make_room(struct wgm_db *db, int64_t user, unsigned cap)
{
    struct wgm_stmt *st = NULL;
    long long usable = 0, dead = 0;
    int r;

    /* MariaDB: lock the owner's row so creates of one user queue up;
     * SQLite's BEGIN IMMEDIATE already serialises writers. */
    if (strcmp(wgm_db_dialect(db), "mysql") == 0) {
        if ((r = wgm_db_prepare(db, "SELECT id FROM users WHERE id = ? FOR UPDATE", &st)) == 0) {
            wgm_stmt_bind_int(st, 1, user);
            r = wgm_stmt_step(st) < 0 ? -EIO : 0;
        }
        wgm_stmt_free(st);
        st = NULL;
        if (r < 0)
            return r;
    }
    if ((r = count_keys(db, user, &usable, &dead)) < 0)
        return r;
    if (usable >= cap)
        return 1;
    if (dead < cap)
        return 0;
    if ((r = wgm_db_prepare(db,
                            "DELETE FROM api_keys WHERE user_id = ? AND (status <> 'active' OR"
                            " (expires_at IS NOT NULL AND expires_at <= ?))",
                            &st)) == 0) {
        wgm_stmt_bind_int(st, 1, user);
        wgm_stmt_bind_int(st, 2, time(NULL));
        r = wgm_stmt_step(st) < 0 ? -EIO : 0;
    }
    wgm_stmt_free(st);
    return r;
}

static int create_key(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "description", "access_level", "permissions", "allowed_ips",
                                        "allowed_endpoints", "rate_limit", "expires_at", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_sysconfig cfg;
    struct wgm_v v;
    const char *name, *desc, *level, *expires_s;
    json_t *perms, *ips, *eps, *rate;
    long long rpm, burst = 0;
    time_t expires = 0;
    char id[ID_CHARS + 4], secret[SECRET_CHARS + 1], full[64], hash[65];
    struct wgm_db *db = NULL;
    struct wgm_stmt *st = NULL;
    json_t *out = NULL;
    int r;

    wgm_sysconfig_get(d, &cfg);
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    name = wgm_v_str(&v, "name", true, 1, 100);
    desc = wgm_v_str(&v, "description", false, 0, 500);
    level = wgm_v_enum(&v, "access_level", false, "read|write|admin");
    perms = wgm_v_str_array(&v, "permissions", 64, wgm_permission_valid);
    ips = wgm_v_str_array(&v, "allowed_ips", 64, valid_cidr);
    eps = wgm_v_str_array(&v, "allowed_endpoints", 64, valid_endpoint);
    /* A key narrows its owner's budget, never widens it: every request
     * also draws from the owner's bucket (api_rate_limit, guard.c). */
    rpm = cfg.api_rate_limit;
    rate = json_object_get(req->body, "rate_limit");
    if (rate && !json_is_null(rate))
        rate_fields(&v, rate, cfg.api_rate_limit, &rpm, &burst);
    expires_s = wgm_v_str(&v, "expires_at", false, 1, 40);
    if (expires_s && (wgm_time_parse_rfc3339(expires_s, &expires) < 0 || expires <= time(NULL)))
        wgm_v_fail(&v, "expires_at", "must be an RFC 3339 time in the future");
    /* Never more than the creator holds. */
    if (perms) {
        size_t i;
        json_t *p;
        json_array_foreach(perms, i, p) if (!wgm_principal_can(me, json_string_value(p)))
            wgm_v_fail(&v, "permissions", "'%s' exceeds your own permissions", json_string_value(p));
    }
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!level)
        level = "read";
    /* Without a list the key takes the creator's permissions; access_level
     * "read" still limits it to GET. */
    if (!perms)
        perms = me->permissions;

    random_alnum(id + 3, ID_CHARS);
    memcpy(id, "ak_", 3);
    random_alnum(secret, SECRET_CHARS);
    snprintf(full, sizeof(full), "%s_%s", id, secret);
    wgm_auth_sha256_hex(secret, hash);
    db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    if (!db)
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    if ((r = wgm_db_begin(db)) < 0 || (r = make_room(db, me->user_id, cfg.max_api_keys_per_user)) != 0) {
        wgm_db_rollback(db);
        wgm_db_release(db);
        sodium_memzero(secret, sizeof(secret));
        sodium_memzero(full, sizeof(full));
        if (r < 0)
            return r;
        return wgm_resp_error(resp, 409, "RESOURCE_CONFLICT", "too many API keys",
                              json_pack("{s:s,s:I}", "api_keys",
                                        "you hold the most usable API keys allowed"
                                        " (security.max_api_keys_per_user); revoke one first",
                                        "limit", (json_int_t)cfg.max_api_keys_per_user));
    }
    {
        json_t *empty = json_array();
        char *perms_s = json_dumps(perms, JSON_COMPACT);
        char *ips_s = json_dumps(ips ? ips : empty, JSON_COMPACT);
        char *eps_s = json_dumps(eps ? eps : empty, JSON_COMPACT);
        json_decref(empty);
        r = wgm_db_prepare(db,
                           "INSERT INTO api_keys (id, user_id, name, description, secret_hash, access_level, permissions,"
                           " allowed_ips, allowed_endpoints, requests_per_minute, burst_limit, expires_at, status, created_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)",
                           &st);
        if (r == 0) {
            wgm_stmt_bind_text(st, 1, id);
            wgm_stmt_bind_int(st, 2, me->user_id);
            wgm_stmt_bind_text(st, 3, name);
            wgm_stmt_bind_text(st, 4, desc);
            wgm_stmt_bind_text(st, 5, hash);
            wgm_stmt_bind_text(st, 6, level);
            wgm_stmt_bind_text(st, 7, perms_s);
            wgm_stmt_bind_text(st, 8, ips_s);
            wgm_stmt_bind_text(st, 9, eps_s);
            wgm_stmt_bind_int(st, 10, rpm);
            wgm_stmt_bind_int(st, 11, burst ? burst : rpm);
            if (expires)
                wgm_stmt_bind_int(st, 12, expires);
            else
                wgm_stmt_bind_null(st, 12);
            wgm_stmt_bind_int(st, 13, time(NULL));
            r = wgm_stmt_step(st);
        }
        free(perms_s);
        free(ips_s);
        free(eps_s);
        wgm_stmt_free(st);
        st = NULL;
    }
    if (r < 0 || (r = wgm_db_commit(db)) < 0) {
        wgm_db_rollback(db);
        wgm_db_release(db);
        sodium_memzero(secret, sizeof(secret));
        sodium_memzero(full, sizeof(full));
        return r < 0 ? r : -EIO;
    }
    if (wgm_db_prepare(db, "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_text(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW)
            out = key_json(st);
    }
    wgm_stmt_free(st);
    wgm_db_release(db);
    sodium_memzero(secret, sizeof(secret));
    if (!out)
        return -EIO;
    /* Shown once: only the hash is kept. */
    json_object_set_new(out, "api_key", json_string(full));
    sodium_memzero(full, sizeof(full));
    return wgm_resp_json_msg(resp, 201, out, "API key created", "API密钥创建成功");
}

/* Keys visible to the caller: their own; admins (users.edit) see all. */
static bool sees_all(const struct wgm_principal *me)
{
    return wgm_principal_can(me, "users.edit");
}

static int list_keys(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_db *db = wgm_db_acquire(ctx->daemon->db, ctx->daemon->db_acquire_timeout_ms);
    struct wgm_stmt *st = NULL;
    json_t *keys = json_array();
    int r;

    if (!db) {
        json_decref(keys);
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    }
    r = wgm_db_prepare(db,
                       sees_all(me) ? "SELECT " KEY_COLUMNS " FROM api_keys WHERE ? > 0 ORDER BY created_at DESC"
                                    : "SELECT " KEY_COLUMNS " FROM api_keys WHERE user_id = ? ORDER BY created_at DESC",
                       &st);
    if (r == 0) {
        wgm_stmt_bind_int(st, 1, me->user_id);
        while ((r = wgm_stmt_step(st)) == WGM_DB_ROW)
            json_array_append_new(keys, key_json(st));
    }
    wgm_stmt_free(st);
    wgm_db_release(db);
    if (r < 0) {
        json_decref(keys);
        return r;
    }
    return wgm_resp_json(resp, 200, json_pack("{s:o}", "api_keys", keys));
}

/* Load key {id} if the caller may see it; answers 404 otherwise. */
static json_t *load_visible(struct wgm_daemon *d, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_principal *me = wgm_request_principal(req);
    const char *id = wgm_req_param(req, "id");
    struct wgm_db *db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    struct wgm_stmt *st = NULL;
    json_t *key = NULL;

    if (!db) {
        wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
        return NULL;
    }
    if (wgm_db_prepare(db, "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_text(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW && (sees_all(me) || wgm_stmt_column_int(st, 1) == me->user_id))
            key = key_json(st);
    }
    wgm_stmt_free(st);
    wgm_db_release(db);
    if (!key)
        wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such API key", json_pack("{s:s}", "id", id));
    return key;
}

static int get_key(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    json_t *key = load_visible(ctx->daemon, req, resp);
    return key ? wgm_resp_json(resp, 200, key) : 0;
}

static int revoke_key(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    json_t *key = load_visible(d, req, resp);
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    int r = -EIO;

    if (!key)
        return 0;
    db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    if (db && (r = wgm_db_prepare(db, "UPDATE api_keys SET status = 'revoked' WHERE id = ?", &st)) == 0) {
        wgm_stmt_bind_text(st, 1, wgm_req_param(req, "id"));
        r = wgm_stmt_step(st) < 0 ? -EIO : 0;
    }
    wgm_stmt_free(st);
    wgm_db_release(db);
    if (r < 0) {
        json_decref(key);
        return r;
    }
    json_object_set_new(key, "status", json_string("revoked"));
    return wgm_resp_json_msg(resp, 200, key, "API key revoked", "API密钥已撤销");
}

int wgm_apikeys_register(struct wgm_daemon *d)
{
    static const struct wgm_api_route routes[] = {
        {"POST", "/api/v1/auth/api-keys", WGM_PERM_SESSION, create_key},
        {"GET", "/api/v1/auth/api-keys", WGM_PERM_SESSION, list_keys},
        {"GET", "/api/v1/auth/api-keys/{id}", WGM_PERM_SESSION, get_key},
        {"DELETE", "/api/v1/auth/api-keys/{id}", WGM_PERM_SESSION, revoke_key},
    };
    int r = wgm_api_add_routes(d, routes, sizeof(routes) / sizeof(routes[0]));
    if (r < 0)
        return r;
    return wgm_sched_timer_add(d->sched, d->core_ctx, 10000, flush_tick, NULL, NULL) < 0 ? -ENOMEM : 0;
}
