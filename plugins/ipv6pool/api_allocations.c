/* plugins/ipv6pool/api_allocations: /ipv6/allocations — allocate (the next
 * free prefix or a named one), list, read, release — and the expiry timer.
 *
 * An allocation may name a WireGuard client (client_id).  Creating one for
 * a client publishes ipv6.allocation.created, releasing it (by request, by
 * expiry or with its pool) ipv6.allocation.released, both with
 * {allocation_id, client_id, prefix, pool_id, pool_prefix}; released also
 * carries pool_has_delegated, whether the pool still has a client allocation
 * (so bgp can withdraw an aggregate with its last one).  The wireguard plugin
 * routes the prefix and bgp announces it when they are loaded; nothing here
 * depends on either.
 *
 * Released allocations leave the table (the allocator keeps the prefix in
 * quarantine), so every stored allocation is "active". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include <wgm/wgm.h>
#include "allocator.h"

/* plugin.c */
extern const struct wgm_host *v6p_host;
extern struct wgm_ctx *v6p_ctx;
/* api_pools.c */
int v6p_pool_load(struct wgm_db *db, int64_t id, struct v6_pool *pool, bool *active, bool *auto_assign);

int v6p_allocations_register(void);
void v6p_expire_run(void);

#define ATTEMPTS 50
#define EXPIRE_BATCH 100

#define ALLOC_COLUMNS \
    "id, pool_id, client_id, client_name, prefix, allocated_at, expires_at, description FROM ipv6_allocations"

static json_t *int_or_null(struct wgm_stmt *st, int col)
{
    if (v6p_host->stmt_column_type(st, col) == WGM_DB_NULL)
        return json_null();
    return json_integer(v6p_host->stmt_column_int(st, col));
}

static json_t *time_or_null(struct wgm_stmt *st, int col)
{
    char buf[32];
    if (v6p_host->stmt_column_type(st, col) == WGM_DB_NULL)
        return json_null();
    return json_string(wgm_time_format((time_t)v6p_host->stmt_column_int(st, col), buf, sizeof(buf)));
}

/* A row of ALLOC_COLUMNS in the spec's shape. */
static json_t *alloc_json(struct wgm_stmt *st, const char *status)
{
    const struct wgm_host *h = v6p_host;
    return json_pack("{s:I,s:I,s:o,s:s?,s:s,s:s,s:o,s:o,s:s?}", "id", (json_int_t)h->stmt_column_int(st, 0), "pool_id",
                     (json_int_t)h->stmt_column_int(st, 1), "client_id", int_or_null(st, 2), "client_name",
                     h->stmt_column_text(st, 3), "allocated_prefix", h->stmt_column_text(st, 4), "status", status,
                     "allocated_at", time_or_null(st, 5), "expires_at", time_or_null(st, 6), "description",
                     h->stmt_column_text(st, 7));
}

/* One allocation as JSON, or NULL (no such row or a database error in @r). */
static json_t *fetch_alloc(struct wgm_db *db, int64_t id, const char *status, int *r)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_stmt *st = NULL;
    json_t *out = NULL;

    *r = h->db_prepare(db, "SELECT " ALLOC_COLUMNS " WHERE id = ?", &st);
    if (*r == 0) {
        h->stmt_bind_int(st, 1, id);
        *r = h->stmt_step(st);
        if (*r == WGM_DB_ROW) {
            out = alloc_json(st, status);
            *r = 0;
        } else if (*r == WGM_DB_DONE) {
            *r = -ENOENT;
        }
    }
    h->stmt_free(st);
    return out;
}

static struct wgm_db *db_or_503(struct wgm_resp *resp)
{
    return wgm_db_or_503(v6p_host, v6p_ctx, resp);
}

static int parse_id(const struct wgm_req *req, struct wgm_resp *resp, int64_t *id)
{
    return wgm_v_path_id(req, resp, "allocation", id);
}

static int not_found(struct wgm_resp *resp, int64_t id)
{
    return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such allocation",
                          json_pack("{s:I}", "id", (json_int_t)id));
}

/* --- allocate --------------------------------------------------------------- */

struct alloc_txn {
    int64_t pool_id, client_id, expires_at, now;
    const char *client_name, *description;
    bool custom;
    struct v6_prefix want;
    struct v6_pool pool;
    struct v6_allocation out;
};

static int alloc_body(struct wgm_db *db, void *arg)
{
    const struct wgm_host *h = v6p_host;
    struct alloc_txn *t = arg;
    struct wgm_stmt *st = NULL;
    bool active = false, auto_assign = false;
    int r;

    if ((r = v6p_pool_load(db, t->pool_id, &t->pool, &active, &auto_assign)) < 0)
        return r == -ENOENT ? -ENXIO : r;
    if (!active)
        return -EACCES;
    if (!t->custom && !auto_assign)
        return -ENOEXEC;
    r = t->custom ? v6_alloc_custom(h, db, &t->pool, &t->want, t->now, &t->out)
                  : v6_alloc_auto(h, db, &t->pool, t->now, &t->out);
    if (r < 0)
        return r == -ENOENT ? -ENXIO : r;
    r = h->db_prepare(db,
                      "UPDATE ipv6_allocations SET client_id = ?, client_name = ?, description = ?, expires_at = ?"
                      " WHERE id = ?",
                      &st);
    if (r == 0) {
        if (t->client_id > 0)
            h->stmt_bind_int(st, 1, t->client_id);
        else
            h->stmt_bind_null(st, 1);
        h->stmt_bind_text(st, 2, t->client_name);
        h->stmt_bind_text(st, 3, t->description);
        if (t->expires_at > 0)
            h->stmt_bind_int(st, 4, t->expires_at);
        else
            h->stmt_bind_null(st, 4);
        h->stmt_bind_int(st, 5, t->out.id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    return r < 0 ? r : 0;
}

/* The WireGuard client's name when the wireguard tables exist: 1 found,
 * 0 no such client, -ENOSYS no WireGuard tables here. */
static int wireguard_client(struct wgm_db *db, int64_t id, char *name, size_t size)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_stmt *st = NULL;
    int r = h->db_prepare(db, "SELECT name FROM wg_clients WHERE id = ?", &st);

    if (r < 0) {
        h->stmt_free(st);
        return -ENOSYS;
    }
    h->stmt_bind_int(st, 1, id);
    r = h->stmt_step(st);
    if (r == WGM_DB_ROW)
        snprintf(name, size, "%s", h->stmt_column_text(st, 0) ? h->stmt_column_text(st, 0) : "");
    h->stmt_free(st);
    return r == WGM_DB_ROW ? 1 : r == WGM_DB_DONE ? 0 : -ENOSYS;
}

static int alloc_error(struct wgm_resp *resp, int r, const struct alloc_txn *t)
{
    char pool[V6_PREFIX_STRLEN];

    v6_prefix_format(&t->pool.prefix, pool, sizeof(pool));
    switch (r) {
    case -ENXIO:
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "pool_id", "no such pool"));
    case -EACCES:
        return wgm_resp_error(resp, 409, "POOL_DISABLED", "the pool is disabled",
                              json_pack("{s:s}", "pool_id", "is disabled"));
    case -ENOEXEC: {
        /* Absent where required (this pool only takes explicit prefixes): 400. */
        struct wgm_v v;
        wgm_v_begin(&v, NULL, false);
        wgm_v_missing(&v, "custom_prefix");
        json_object_set_new(v.details, "custom_prefix", json_string("is required: the pool does not assign automatically"));
        return wgm_v_respond(&v, resp);
    }
    case -ENOSPC:
        return wgm_resp_error(resp, 409, "POOL_EXHAUSTED", "the pool has no free prefix",
                              json_pack("{s:s,s:I}", "pool_id", "has no free prefix", "id", (json_int_t)t->pool_id));
    }
    if (!t->custom)
        return 1;
    switch (r) {
    case -EINVAL: {
        char why[32];
        snprintf(why, sizeof(why), "must be a /%u", t->pool.prefix_length);
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "custom_prefix", why));
    }
    case -EDOM:
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "custom_prefix", "is not aligned: host bits are set"));
    case -ERANGE:
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s+}", "custom_prefix", "is outside the pool ", pool));
    case -EPERM:
        return wgm_resp_error(resp, 409, "PREFIX_RESERVED", "the prefix is in the pool's reserved range",
                              json_pack("{s:s}", "custom_prefix", "is reserved"));
    case -EEXIST:
        return wgm_resp_error(resp, 409, "PREFIX_IN_USE", "the prefix is already allocated",
                              json_pack("{s:s}", "custom_prefix", "is already allocated"));
    }
    return 1;
}

static int create_allocation(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"pool_id", "client_id", "client_name", "description", "auto_assign",
                                        "custom_prefix", "expires_at", NULL};
    const struct wgm_host *h = v6p_host;
    struct alloc_txn t = {0};
    struct wgm_v v;
    struct wgm_db *db;
    const char *custom, *expires_s;
    char wg_name[65] = "";
    json_t *out;
    bool auto_assign;
    int r;

    (void)ctx;
    /* A body that is not an object is that one error, not missing fields. */
    if (!wgm_v_begin(&v, req->body, true))
        return wgm_v_respond(&v, resp);
    wgm_v_only(&v, known);
    t.pool_id = wgm_v_int(&v, "pool_id", true, 1, INT64_MAX, 0);
    t.client_id = wgm_v_int(&v, "client_id", false, 1, INT64_MAX, 0);
    t.client_name = wgm_v_str(&v, "client_name", false, 1, 64);
    t.description = wgm_v_str(&v, "description", false, 0, 500);
    custom = wgm_v_str(&v, "custom_prefix", false, 1, 64);
    auto_assign = wgm_v_bool(&v, "auto_assign", !custom);
    if (custom) {
        int pr = v6_prefix_parse(custom, strlen(custom), 0, &t.want);
        if (pr == -EDOM)
            wgm_v_fail(&v, "custom_prefix", "is not aligned: host bits are set");
        else if (pr < 0 || !strchr(custom, '/'))
            wgm_v_fail(&v, "custom_prefix", "must be an IPv6 prefix such as 2001:db8:0:1::/64");
        else if (auto_assign && json_is_true(json_object_get(req->body, "auto_assign")))
            wgm_v_fail(&v, "auto_assign", "must be false (or absent) with custom_prefix");
        t.custom = true;
    } else if (!auto_assign && !json_object_get(v.details, "custom_prefix")) {
        wgm_v_missing(&v, "custom_prefix");
        json_object_set_new(v.details, "custom_prefix", json_string("is required when auto_assign is false"));
    }
    expires_s = wgm_v_str(&v, "expires_at", false, 1, 40);
    t.now = (int64_t)time(NULL);
    if (expires_s) {
        int64_t ms;
        /* Strict RFC 3339: strptime would take leading blanks and short fields. */
        size_t n = strlen(expires_s);
        if (wgm_in_parse_time(expires_s, &ms, NULL) < 0 || (expires_s[n - 1] != 'Z' && expires_s[n - 1] != 'z') ||
            (t.expires_at = ms / 1000) <= t.now)
            wgm_v_fail(&v, "expires_at", "must be a UTC RFC 3339 time in the future (…Z)");
    }
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    if (!(db = db_or_503(resp))) {
        wgm_v_end(&v);
        return 0;
    }
    if (t.client_id > 0) {
        r = wireguard_client(db, t.client_id, wg_name, sizeof(wg_name));
        if (r == 0) {
            h->db_release(db);
            wgm_v_fail(&v, "client_id", "no such WireGuard client");
            return wgm_v_respond(&v, resp);
        }
        if (r == 1 && !t.client_name)
            t.client_name = wg_name;
    }
    wgm_v_end(&v);
    r = v6_txn_retry(h, db, ATTEMPTS, alloc_body, &t, NULL);
    if (r < 0) {
        h->db_release(db);
        return alloc_error(resp, r, &t) == 1 ? r : 0;
    }
    out = fetch_alloc(db, t.out.id, "active", &r);
    h->db_release(db);
    if (!out)
        return r < 0 ? r : -EIO;
    if (t.client_id > 0) {
        char prefix[V6_PREFIX_STRLEN], pool_prefix[V6_PREFIX_STRLEN];
        v6_prefix_format(&t.out.prefix, prefix, sizeof(prefix));
        v6_prefix_format(&t.pool.prefix, pool_prefix, sizeof(pool_prefix));
        h->publish(v6p_ctx, "ipv6.allocation.created",
                   json_pack("{s:I,s:I,s:s,s:I,s:s}", "allocation_id", (json_int_t)t.out.id, "client_id",
                             (json_int_t)t.client_id, "prefix", prefix, "pool_id", (json_int_t)t.pool_id,
                             "pool_prefix", pool_prefix));
    }
    return wgm_resp_json_msg(resp, 201, out, "IPv6 prefix allocated", "IPv6前缀分配成功");
}

/* --- read ----------------------------------------------------------------- */

static int list_allocations(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char where[] = " WHERE (? = 0 OR pool_id = ?) AND (? = 0 OR client_id = ?)"
                                " AND (? IS NULL OR client_name LIKE ? ESCAPE '!' OR prefix LIKE ? ESCAPE '!')";
    const struct wgm_host *h = v6p_host;
    const char *client = wgm_req_query(req, "client");
    struct wgm_v v;
    struct wgm_page pg;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    long long pool_id = 0, client_id = 0, total = 0;
    json_t *list = NULL;
    char *like = NULL, sql[512];
    int r = 0;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    wgm_v_query_int(&v, req, "pool_id", 1, INT64_MAX, &pool_id);
    wgm_v_query_int(&v, req, "client_id", 1, INT64_MAX, &client_id);
    /* Released allocations leave the table: "active" is the only state. */
    wgm_v_query_enum(&v, req, "status", "active");
    if (client && (strlen(client) < 1 || strlen(client) > 100))
        wgm_v_fail(&v, "client", "must be 1 to 100 characters");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (client && !(like = wgm_like_pattern(client)))
        return -ENOMEM;
    if (!(db = db_or_503(resp))) {
        free(like);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM ipv6_allocations%s", where);
        else
            snprintf(sql, sizeof(sql), "SELECT " ALLOC_COLUMNS "%s ORDER BY id LIMIT ? OFFSET ?", where);
        if ((r = h->db_prepare(db, sql, &st)) < 0)
            goto out;
        h->stmt_bind_int(st, 1, pool_id);
        h->stmt_bind_int(st, 2, pool_id);
        h->stmt_bind_int(st, 3, client_id);
        h->stmt_bind_int(st, 4, client_id);
        for (int i = 5; i <= 7; i++)
            h->stmt_bind_text(st, i, like);
        if (pass == 0) {
            if ((r = h->stmt_step(st)) != WGM_DB_ROW)
                goto out;
            total = h->stmt_column_int(st, 0);
        } else {
            h->stmt_bind_int(st, 8, pg.size);
            h->stmt_bind_int(st, 9, (pg.page - 1) * pg.size);
            list = json_array();
            while ((r = h->stmt_step(st)) == WGM_DB_ROW)
                json_array_append_new(list, alloc_json(st, "active"));
            if (r < 0)
                goto out;
        }
        h->stmt_free(st);
        st = NULL;
    }
    r = wgm_resp_json(resp, 200,
                      json_pack("{s:o,s:o}", "allocations", list, "pagination", wgm_pagination(&pg, total)));
    list = NULL;
out:
    json_decref(list);
    h->stmt_free(st);
    h->db_release(db);
    free(like);
    return r < 0 ? r : 0;
}

static int get_allocation(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_db *db;
    json_t *out;
    int64_t id;
    int r;

    (void)ctx;
    if (parse_id(req, resp, &id) < 0 || !(db = db_or_503(resp)))
        return 0;
    out = fetch_alloc(db, id, "active", &r);
    v6p_host->db_release(db);
    if (out)
        return wgm_resp_json(resp, 200, out);
    return r == -ENOENT ? not_found(resp, id) : r;
}

/* --- release ---------------------------------------------------------------- */

struct release_txn {
    int64_t id, now;
    json_t *row;            /* the allocation as it was, status "released" */
    char pool_prefix[V6_PREFIX_STRLEN];
    int pool_has_delegated; /* 1 while a client allocation is left in the pool */
};

/* 1 when @pool_id has an allocation bound to a client, 0 when not, or a
 * negative errno.  One index probe, not a count: pools can be huge. */
static int pool_has_delegated(struct wgm_db *db, int64_t pool_id)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_stmt *st = NULL;
    int r = h->db_prepare(db, "SELECT 1 FROM ipv6_allocations WHERE pool_id = ? AND client_id IS NOT NULL LIMIT 1", &st);

    if (r == 0) {
        h->stmt_bind_int(st, 1, pool_id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    return r == WGM_DB_ROW ? 1 : r;
}

static int release_body(struct wgm_db *db, void *arg)
{
    struct release_txn *t = arg;
    struct v6_pool pool;
    int r;

    json_decref(t->row);
    if (!(t->row = fetch_alloc(db, t->id, "released", &r)))
        return r;
    if ((r = v6p_pool_load(db, json_integer_value(json_object_get(t->row, "pool_id")), &pool, NULL, NULL)) < 0)
        return r;
    if ((r = v6_alloc_release_id(v6p_host, db, &pool, t->id, t->now)) < 0)
        return r;
    /* Only a client's allocation has an event to tell it in; probed inside
     * the transaction: what is left once this one is gone. */
    v6_prefix_format(&pool.prefix, t->pool_prefix, sizeof(t->pool_prefix));
    if (!json_is_integer(json_object_get(t->row, "client_id")))
        return 0;
    t->pool_has_delegated = pool_has_delegated(db, pool.id);
    return t->pool_has_delegated < 0 ? t->pool_has_delegated : 0;
}

/* Release allocation @id and publish the event: 0, -ENOENT or an error.
 * @row (may be NULL) receives the allocation as released (new). */
static int release(struct wgm_db *db, int64_t id, json_t **row)
{
    struct release_txn t = {.id = id, .now = (int64_t)time(NULL)};
    json_t *cid;
    int r = v6_txn_retry(v6p_host, db, ATTEMPTS, release_body, &t, NULL);

    if (r < 0) {
        json_decref(t.row);
        return r;
    }
    cid = json_object_get(t.row, "client_id");
    if (json_is_integer(cid))
        v6p_host->publish(v6p_ctx, "ipv6.allocation.released",
                          json_pack("{s:I,s:O,s:O,s:O,s:s,s:b}", "allocation_id", (json_int_t)id, "client_id", cid,
                                    "prefix", json_object_get(t.row, "allocated_prefix"), "pool_id",
                                    json_object_get(t.row, "pool_id"), "pool_prefix", t.pool_prefix,
                                    "pool_has_delegated", t.pool_has_delegated));
    if (row)
        *row = t.row;
    else
        json_decref(t.row);
    return 0;
}

static int delete_allocation(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_db *db;
    json_t *row = NULL;
    char ts[32];
    int64_t id;
    int r;

    (void)ctx;
    if (parse_id(req, resp, &id) < 0 || !(db = db_or_503(resp)))
        return 0;
    r = release(db, id, &row);
    v6p_host->db_release(db);
    if (r == -ENOENT)
        return not_found(resp, id);
    if (r < 0)
        return r;
    json_object_set_new(row, "released_at", json_string(wgm_time_format(time(NULL), ts, sizeof(ts))));
    return wgm_resp_json_msg(resp, 200, row, "IPv6 prefix released", "IPv6前缀释放成功");
}

/* The timer: release what expired, a batch at a time.  Several wgmd on one
 * database may race for the same rows; the loser sees -ENOENT. */
void v6p_expire_run(void)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_db *db = h->db_acquire(v6p_ctx);
    int64_t ids[EXPIRE_BATCH];
    size_t n, i, released = 0;

    if (!db)
        return;
    do {
        struct wgm_stmt *st = NULL;
        n = 0;
        if (h->db_prepare(db,
                          "SELECT id FROM ipv6_allocations WHERE expires_at IS NOT NULL AND expires_at <= ?"
                          " ORDER BY expires_at, id LIMIT ?",
                          &st) == 0) {
            h->stmt_bind_int(st, 1, time(NULL));
            h->stmt_bind_int(st, 2, EXPIRE_BATCH);
            while (n < EXPIRE_BATCH && h->stmt_step(st) == WGM_DB_ROW)
                ids[n++] = h->stmt_column_int(st, 0);
        }
        h->stmt_free(st);
        for (i = 0; i < n; i++) {
            int r = release(db, ids[i], NULL);
            if (r == 0)
                released++;
            else if (r != -ENOENT) {
                h->log(v6p_ctx, WGM_LOG_WARN, "expiring allocation %lld: %s", (long long)ids[i], strerror(-r));
                n = 0; /* try again at the next tick */
                break;
            }
        }
    } while (n == EXPIRE_BATCH);
    h->db_release(db);
    if (released)
        h->log(v6p_ctx, WGM_LOG_INFO, "released %zu expired allocation(s)", released);
}

int v6p_allocations_register(void)
{
    static const struct {
        const char *method, *path, *permission;
        wgm_handler_fn handler;
    } routes[] = {
        {"GET", "/ipv6/allocations", "ipv6.view", list_allocations},
        {"POST", "/ipv6/allocations", "ipv6.edit", create_allocation},
        {"GET", "/ipv6/allocations/{id}", "ipv6.view", get_allocation},
        {"DELETE", "/ipv6/allocations/{id}", "ipv6.edit", delete_allocation},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int r = v6p_host->route_add(v6p_ctx, routes[i].method, routes[i].path, routes[i].permission,
                                    routes[i].handler);
        if (r < 0)
            return r;
    }
    return 0;
}
