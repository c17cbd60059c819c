/* plugins/ipv6pool/api_pools: /ipv6/pools — list, create, read, update,
 * delete — and the ipv6_status event with every pool's figures.
 *
 * ipv6_status also gives, per pool, its prefix and how many prefixes are
 * delegated to a client (allocations with a client_id).  At most once a
 * minute ipv6.delegations (not pushed to WebSocket clients) lists them: the
 * whole state behind the ipv6.allocation.* events, so a subscriber that
 * missed some (bgp loaded later, a restart) converges.
 *
 * Counts are exact at any size: total_prefixes, available_prefixes and
 * reserved_prefixes are JSON integers up to 2^53 (the largest every JSON
 * reader holds exactly) and decimal strings above it.  Pools are few, so a
 * new or moved pool is checked against every other pool for overlap
 * (O(pools), never O(prefixes)). */
#include <ctype.h>
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
extern int64_t v6p_quarantine_s;

int v6p_pools_register(void);
void v6p_status_publish(void);
int v6p_pool_load(struct wgm_db *db, int64_t id, struct v6_pool *pool, bool *active, bool *auto_assign);

/* Allocations shown with each pool: the first ones by prefix, so the read
 * is one range of the (pool_id, idx) index whatever the pool holds. */
#define POOL_ALLOCATIONS_SHOWN 20
#define JSON_EXACT_MAX ((v6_u128)1 << 53)
#define ATTEMPTS 20

#define POOL_COLUMNS                                                                                               \
    "p.id, p.name, p.prefix, p.prefix_length, p.description, p.auto_assign, p.reserved, p.status, p.created_at," \
    " p.updated_at, s.allocated FROM ipv6_pools p LEFT JOIN ipv6_pool_state s ON s.pool_id = p.id"

struct pool_row {
    int64_t id, created_at, updated_at, allocated;
    char name[65], status[17];
    struct v6_prefix prefix;
    unsigned plen;
    v6_u128 reserved;
    bool auto_assign, has_desc;
    char description[2048];
};

static bool is_mysql(struct wgm_db *db)
{
    return strcmp(v6p_host->db_dialect(db), "mysql") == 0;
}

static json_t *u128_json(v6_u128 v)
{
    char buf[V6_DEC_STRLEN];
    if (v <= JSON_EXACT_MAX)
        return json_integer((json_int_t)v);
    v6_u128_format(v, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *count_json(const struct v6_count *c)
{
    char buf[V6_DEC_STRLEN];
    if (!c->top)
        return u128_json(c->low);
    v6_count_format(c, buf, sizeof(buf));
    return json_string(buf);
}

static void copy_text(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%s", s ? s : "");
}

/* Read a row of POOL_COLUMNS.  -EIO for a row the plugin did not write. */
static int read_pool(struct wgm_stmt *st, struct pool_row *p)
{
    const struct wgm_host *h = v6p_host;
    const char *prefix = h->stmt_column_text(st, 2), *reserved = h->stmt_column_text(st, 6);

    p->id = h->stmt_column_int(st, 0);
    copy_text(p->name, sizeof(p->name), h->stmt_column_text(st, 1));
    if (!prefix || v6_prefix_parse(prefix, strlen(prefix), 0, &p->prefix) < 0)
        return -EIO;
    p->plen = (unsigned)h->stmt_column_int(st, 3);
    p->has_desc = h->stmt_column_type(st, 4) != WGM_DB_NULL;
    copy_text(p->description, sizeof(p->description), h->stmt_column_text(st, 4));
    p->auto_assign = h->stmt_column_int(st, 5) != 0;
    if (!reserved || v6_u128_parse(reserved, strlen(reserved), &p->reserved) < 0)
        return -EIO;
    copy_text(p->status, sizeof(p->status), h->stmt_column_text(st, 7));
    p->created_at = h->stmt_column_int(st, 8);
    p->updated_at = h->stmt_column_int(st, 9);
    p->allocated = h->stmt_column_int(st, 10);
    return 0;
}

static void to_v6_pool(const struct pool_row *p, struct v6_pool *out)
{
    out->id = p->id;
    out->prefix = p->prefix;
    out->prefix_length = p->plen;
    out->reserved = p->reserved;
    out->quarantine_s = v6p_quarantine_s;
}

/* One pool by id: 0, -ENOENT or a database error.  @lock takes its row
 * lock on MariaDB (inside a transaction). */
static int fetch_pool(struct wgm_db *db, int64_t id, bool lock, struct pool_row *p)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_stmt *st = NULL;
    int r;

    r = h->db_prepare(db,
                      lock && is_mysql(db) ? "SELECT " POOL_COLUMNS " WHERE p.id = ? FOR UPDATE"
                                           : "SELECT " POOL_COLUMNS " WHERE p.id = ?",
                      &st);
    if (r == 0) {
        h->stmt_bind_int(st, 1, id);
        r = h->stmt_step(st);
        r = r == WGM_DB_ROW ? read_pool(st, p) : r == WGM_DB_DONE ? -ENOENT : r;
    }
    h->stmt_free(st);
    return r;
}

int v6p_pool_load(struct wgm_db *db, int64_t id, struct v6_pool *pool, bool *active, bool *auto_assign)
{
    struct pool_row p;
    int r = fetch_pool(db, id, false, &p);

    if (r < 0)
        return r;
    to_v6_pool(&p, pool);
    if (active)
        *active = strcmp(p.status, "active") == 0;
    if (auto_assign)
        *auto_assign = p.auto_assign;
    return 0;
}

/* The first allocations of a pool in the spec's short form. */
static json_t *pool_allocations(struct wgm_db *db, int64_t pool_id)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_stmt *st = NULL;
    json_t *list = json_array();

    if (h->db_prepare(db,
                      "SELECT id, client_id, client_name, prefix, allocated_at FROM ipv6_allocations"
                      " WHERE pool_id = ? ORDER BY idx LIMIT ?",
                      &st) == 0) {
        h->stmt_bind_int(st, 1, pool_id);
        h->stmt_bind_int(st, 2, POOL_ALLOCATIONS_SHOWN);
        while (h->stmt_step(st) == WGM_DB_ROW) {
            char ts[32];
            json_t *cid = h->stmt_column_type(st, 1) == WGM_DB_NULL ? json_null()
                                                                      : json_integer(h->stmt_column_int(st, 1));
            json_array_append_new(list, json_pack("{s:I,s:o,s:s?,s:s,s:s,s:s}", "id",
                                                  (json_int_t)h->stmt_column_int(st, 0), "client_id", cid,
                                                  "client_name", h->stmt_column_text(st, 2), "allocated_prefix",
                                                  h->stmt_column_text(st, 3), "status", "active", "allocated_at",
                                                  wgm_time_format((time_t)h->stmt_column_int(st, 4), ts, sizeof(ts))));
        }
    }
    h->stmt_free(st);
    return list;
}

static json_t *pool_json(struct wgm_db *db, const struct pool_row *p)
{
    struct v6_pool vp;
    struct v6_count total, avail;
    char prefix[V6_PREFIX_STRLEN], c[32], u[32];

    to_v6_pool(p, &vp);
    v6_pool_counts(&vp, p->allocated, &total, &avail);
    v6_prefix_format(&p->prefix, prefix, sizeof(prefix));
    return json_pack("{s:I,s:s,s:s,s:i,s:o,s:I,s:o,s:o,s:b,s:s,s:s?,s:s,s:s,s:o}", "id", (json_int_t)p->id, "name",
                     p->name, "prefix", prefix, "prefix_length", (int)p->plen, "total_prefixes", count_json(&total),
                     "allocated_prefixes", (json_int_t)p->allocated, "available_prefixes", count_json(&avail),
                     "reserved_prefixes", u128_json(p->reserved), "auto_assign", p->auto_assign, "status", p->status,
                     "description", p->has_desc ? p->description : NULL, "created_at",
                     wgm_time_format((time_t)p->created_at, c, sizeof(c)), "updated_at",
                     wgm_time_format((time_t)p->updated_at, u, sizeof(u)), "allocations", pool_allocations(db, p->id));
}

static struct wgm_db *db_or_503(struct wgm_resp *resp)
{
    return wgm_db_or_503(v6p_host, v6p_ctx, resp);
}

static int parse_id(const struct wgm_req *req, struct wgm_resp *resp, int64_t *id)
{
    return wgm_v_path_id(req, resp, "pool", id);
}

static int not_found(struct wgm_resp *resp, int64_t id)
{
    return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such pool", json_pack("{s:I}", "id", (json_int_t)id));
}

/* --- list --------------------------------------------------------------- */

static int list_pools(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char where[] = " WHERE (? IS NULL OR p.name LIKE ? ESCAPE '!' OR p.prefix LIKE ? ESCAPE '!'"
                                " OR p.description LIKE ? ESCAPE '!') AND (? IS NULL OR p.status = ?)";
    const struct wgm_host *h = v6p_host;
    const char *status, *search = wgm_req_query(req, "search");
    struct wgm_v v;
    struct wgm_page pg;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *list = NULL;
    char *like = NULL, sql[1024];
    long long total = 0;
    int r = 0;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    status = wgm_v_query_enum(&v, req, "status", "active|disabled");
    if (search && strlen(search) > 100)
        wgm_v_fail(&v, "search", "must be at most 100 characters");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (search && !(like = wgm_like_pattern(search)))
        return -ENOMEM;
    if (!(db = db_or_503(resp))) {
        free(like);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM ipv6_pools p%s", where);
        else
            snprintf(sql, sizeof(sql), "SELECT " POOL_COLUMNS "%s ORDER BY p.id LIMIT ? OFFSET ?", where);
        if ((r = h->db_prepare(db, sql, &st)) < 0)
            goto out;
        for (int i = 1; i <= 4; i++)
            h->stmt_bind_text(st, i, like);
        h->stmt_bind_text(st, 5, status);
        h->stmt_bind_text(st, 6, status);
        if (pass == 0) {
            if ((r = h->stmt_step(st)) != WGM_DB_ROW)
                goto out;
            total = h->stmt_column_int(st, 0);
        } else {
            /* Rows first, allocations after: one statement open at a time. */
            struct pool_row *rows = calloc((size_t)pg.size, sizeof(*rows));
            size_t n = 0;
            if (!rows) {
                r = -ENOMEM;
                goto out;
            }
            h->stmt_bind_int(st, 7, pg.size);
            h->stmt_bind_int(st, 8, (pg.page - 1) * pg.size);
            while (n < (size_t)pg.size && (r = h->stmt_step(st)) == WGM_DB_ROW)
                if ((r = read_pool(st, &rows[n])) == 0)
                    n++;
            h->stmt_free(st);
            st = NULL;
            if (r < 0) {
                free(rows);
                goto out;
            }
            list = json_array();
            for (size_t i = 0; i < n; i++)
                json_array_append_new(list, pool_json(db, &rows[i]));
            free(rows);
        }
        h->stmt_free(st);
        st = NULL;
    }
    r = wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "pools", list, "pagination", wgm_pagination(&pg, total)));
    list = NULL;
out:
    json_decref(list);
    h->stmt_free(st);
    h->db_release(db);
    free(like);
    return r < 0 ? r : 0;
}

/* --- input -------------------------------------------------------------- */

static bool valid_name(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("_.-", *s)))
            return false;
    return true;
}

struct pool_input {
    const char *name, *description, *status;
    bool has_prefix, has_plen, has_reserved, has_auto, auto_assign;
    struct v6_prefix prefix;
    unsigned plen;
    v6_u128 reserved;
};

static void read_pool_input(struct wgm_v *v, bool create, struct pool_input *in)
{
    const char *prefix;
    json_t *f;

    memset(in, 0, sizeof(*in));
    in->name = wgm_v_str(v, "name", create, 1, 64);
    if (in->name && !valid_name(in->name)) {
        wgm_v_fail(v, "name", "may contain letters, digits, '_', '.' and '-' only");
        in->name = NULL;
    }
    prefix = wgm_v_str(v, "prefix", create, 1, 64);
    if (prefix) {
        int r = v6_prefix_parse(prefix, strlen(prefix), 0, &in->prefix);
        if (r == -EDOM) {
            struct v6_prefix n;
            char hint[V6_PREFIX_STRLEN];
            v6_prefix_parse(prefix, strlen(prefix), V6_PARSE_NORMALISE, &n);
            v6_prefix_format(&n, hint, sizeof(hint));
            wgm_v_fail(v, "prefix", "host bits must be zero (the network is %s)", hint);
        } else if (r == -ERANGE) {
            wgm_v_fail(v, "prefix", "the prefix length must be at most 128");
        } else if (r < 0 || !strchr(prefix, '/')) {
            wgm_v_fail(v, "prefix", "must be an IPv6 prefix such as 2001:db8::/48");
        } else if (in->prefix.len >= 128) {
            wgm_v_fail(v, "prefix", "a /128 cannot be carved into prefixes");
        } else {
            in->has_prefix = true;
        }
    }
    if ((f = wgm_in_field(v, "prefix_length"))) {
        long long n = wgm_v_int(v, "prefix_length", false, 1, 128, 0);
        if (n > 0) {
            in->plen = (unsigned)n;
            in->has_plen = true;
        }
    } else if (create) {
        wgm_v_missing(v, "prefix_length");
    }
    in->description = wgm_v_str(v, "description", false, 0, 500);
    if ((f = wgm_in_field(v, "auto_assign"))) {
        in->auto_assign = wgm_v_bool(v, "auto_assign", true);
        in->has_auto = json_is_boolean(f);
    } else {
        in->auto_assign = true;
    }
    in->status = wgm_v_enum(v, "status", false, "active|disabled");
    if ((f = wgm_in_field(v, "reserved_prefixes"))) {
        if (json_is_integer(f) && json_integer_value(f) >= 0) {
            in->reserved = (v6_u128)json_integer_value(f);
            in->has_reserved = true;
        } else if (json_is_string(f) &&
                   v6_u128_parse(json_string_value(f), json_string_length(f), &in->reserved) == 0) {
            in->has_reserved = true;
        } else {
            wgm_v_fail(v, "reserved_prefixes", "must be a non-negative integer (or a decimal string)");
        }
    }
}

/* The checks that need the final geometry: length and reserved range. */
static void check_geometry(struct wgm_v *v, const struct v6_prefix *prefix, unsigned plen, v6_u128 reserved)
{
    struct v6_count total;

    if (plen <= prefix->len) {
        wgm_v_fail(v, "prefix_length", "must be greater than the pool's prefix length (%u) and at most 128",
                   (unsigned)prefix->len);
        return;
    }
    v6_sub_count(prefix->len, plen, &total);
    if (v6_count_cmp(&total, reserved) < 0) {
        char buf[V6_DEC_STRLEN];
        v6_count_format(&total, buf, sizeof(buf));
        wgm_v_fail(v, "reserved_prefixes", "must be at most the pool's %s prefixes", buf);
    }
}

/* --- transactions --------------------------------------------------------- */

struct pool_txn {
    int64_t id;                 /* the pool (update, delete); the new id (create) */
    const struct pool_input *in;
    struct pool_row old;        /* update: the row before */
    struct v6_prefix prefix;    /* the resulting geometry */
    unsigned plen;
    v6_u128 reserved;
    int64_t overlap_id;         /* -EADDRINUSE: the pool in the way */
    char overlap[V6_PREFIX_STRLEN + 70];
    const char *conflict;       /* -EBUSY-free 409s: what is in the way */
    int64_t allocated;          /* delete: allocations released */
    bool force;
    json_t *events;             /* delete: released client allocations */
};

/* Another pool sharing addresses with @p, except @self: -EADDRINUSE. */
static int check_overlap(struct wgm_db *db, int64_t self, const struct v6_prefix *p, struct pool_txn *t)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_stmt *st = NULL;
    int r;

    r = h->db_prepare(db,
                      is_mysql(db) ? "SELECT id, name, prefix FROM ipv6_pools FOR UPDATE"
                                   : "SELECT id, name, prefix FROM ipv6_pools",
                      &st);
    if (r < 0)
        return r;
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        const char *text = h->stmt_column_text(st, 2);
        struct v6_prefix other;
        if (h->stmt_column_int(st, 0) == self || !text || v6_prefix_parse(text, strlen(text), 0, &other) < 0)
            continue;
        if (v6_prefix_overlaps(p, &other)) {
            t->overlap_id = h->stmt_column_int(st, 0);
            snprintf(t->overlap, sizeof(t->overlap), "overlaps pool %.64s (%s)", h->stmt_column_text(st, 1), text);
            r = -EADDRINUSE;
            break;
        }
    }
    h->stmt_free(st);
    return r < 0 ? r : 0;
}

static int exec1(struct wgm_db *db, const char *sql, int64_t id)
{
    const struct wgm_host *h = v6p_host;
    struct wgm_stmt *st = NULL;
    int r = h->db_prepare(db, sql, &st);
    if (r == 0) {
        h->stmt_bind_int(st, 1, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    return r < 0 ? r : 0;
}

static int create_txn(struct wgm_db *db, void *arg)
{
    const struct wgm_host *h = v6p_host;
    struct pool_txn *t = arg;
    struct wgm_stmt *st = NULL;
    struct v6_pool vp;
    char prefix[V6_PREFIX_STRLEN], reserved[V6_DEC_STRLEN];
    int64_t now = (int64_t)time(NULL);
    int r;

    if ((r = check_overlap(db, 0, &t->prefix, t)) < 0)
        return r;
    v6_prefix_format(&t->prefix, prefix, sizeof(prefix));
    v6_u128_format(t->reserved, reserved, sizeof(reserved));
    r = h->db_prepare(db,
                      "INSERT INTO ipv6_pools (name, prefix, prefix_length, description, auto_assign, reserved, status,"
                      " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, t->in->name);
        h->stmt_bind_text(st, 2, prefix);
        h->stmt_bind_int(st, 3, t->plen);
        h->stmt_bind_text(st, 4, t->in->description);
        h->stmt_bind_int(st, 5, t->in->auto_assign);
        h->stmt_bind_text(st, 6, reserved);
        h->stmt_bind_text(st, 7, t->in->status ? t->in->status : "active");
        h->stmt_bind_int(st, 8, now);
        h->stmt_bind_int(st, 9, now);
        r = h->stmt_step(st);
        t->id = r >= 0 ? h->stmt_last_id(st) : 0;
    }
    h->stmt_free(st);
    if (r < 0)
        return r == WGM_DB_ECONSTRAINT ? -EEXIST : r;
    vp = (struct v6_pool){.id = t->id, .prefix = t->prefix, .prefix_length = t->plen, .reserved = t->reserved,
                          .quarantine_s = v6p_quarantine_s};
    r = v6_alloc_pool_init(h, db, &vp);
    return r == -EEXIST ? WGM_DB_EERROR : r; /* a state row without a pool: damage */
}

/* 409s and 422s from a failed transaction; 1 when @r was not one of them. */
static int txn_answer(struct wgm_resp *resp, int r, const struct pool_txn *t)
{
    if (r == -EEXIST)
        return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "a pool of that name exists",
                              json_pack("{s:s}", "name", "is already used by another pool"));
    if (r == -EADDRINUSE)
        return wgm_resp_error(resp, 409, "POOL_OVERLAP", "the prefix overlaps another pool",
                              json_pack("{s:s,s:I}", "prefix", t->overlap, "pool_id", (json_int_t)t->overlap_id));
    if (r == -ENOTEMPTY)
        return wgm_resp_error(resp, 409, "POOL_IN_USE", t->conflict,
                              json_pack("{s:s,s:I}", "allocations", "the pool has allocations", "allocated_prefixes",
                                        (json_int_t)t->allocated));
    if (r == -ENOENT)
        return not_found(resp, t->id);
    return 1;
}

static int create_pool(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "prefix", "prefix_length", "description", "auto_assign",
                                        "reserved_prefixes", "status", NULL};
    const struct wgm_host *h = v6p_host;
    struct pool_input in;
    struct pool_txn t = {0};
    struct pool_row row;
    struct wgm_v v;
    struct wgm_db *db;
    int r;

    (void)ctx;
    /* A body that is not an object is that one error, not missing fields. */
    if (!wgm_v_begin(&v, req->body, true))
        return wgm_v_respond(&v, resp);
    wgm_v_only(&v, known);
    read_pool_input(&v, true, &in);
    if (in.has_prefix && in.has_plen)
        check_geometry(&v, &in.prefix, in.plen, in.has_reserved ? in.reserved : 0);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    t.in = &in;
    t.prefix = in.prefix;
    t.plen = in.plen;
    t.reserved = in.has_reserved ? in.reserved : 0;
    if (!(db = db_or_503(resp)))
        return 0;
    r = v6_txn_retry(h, db, ATTEMPTS, create_txn, &t, NULL);
    if (r < 0) {
        h->db_release(db);
        r = txn_answer(resp, r, &t) == 1 ? r : 0;
        return r;
    }
    r = fetch_pool(db, t.id, false, &row);
    if (r == 0) {
        char prefix[V6_PREFIX_STRLEN];
        v6_prefix_format(&row.prefix, prefix, sizeof(prefix));
        h->publish(v6p_ctx, "ipv6.pool.created",
                   json_pack("{s:I,s:s,s:s}", "id", (json_int_t)t.id, "name", in.name, "prefix", prefix));
        r = wgm_resp_json_msg(resp, 201, pool_json(db, &row), "IPv6 pool created", "IPv6前缀池创建成功");
    }
    h->db_release(db);
    return r < 0 ? r : 0;
}

static int get_pool(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct pool_row row;
    struct wgm_db *db;
    int64_t id;
    int r;

    (void)ctx;
    if (parse_id(req, resp, &id) < 0 || !(db = db_or_503(resp)))
        return 0;
    r = fetch_pool(db, id, false, &row);
    if (r == 0)
        r = wgm_resp_json(resp, 200, pool_json(db, &row));
    else if (r == -ENOENT)
        r = not_found(resp, id);
    v6p_host->db_release(db);
    return r < 0 ? r : 0;
}

/* --- update --------------------------------------------------------------- */

static int update_txn(struct wgm_db *db, void *arg)
{
    const struct wgm_host *h = v6p_host;
    struct pool_txn *t = arg;
    const struct pool_input *in = t->in;
    struct wgm_stmt *st = NULL;
    char prefix[V6_PREFIX_STRLEN], reserved[V6_DEC_STRLEN];
    bool moved;
    int r;

    if ((r = fetch_pool(db, t->id, true, &t->old)) < 0)
        return r;
    t->prefix = in->has_prefix ? in->prefix : t->old.prefix;
    t->plen = in->has_plen ? in->plen : t->old.plen;
    t->reserved = in->has_reserved ? in->reserved : t->old.reserved;
    moved = t->prefix.addr != t->old.prefix.addr || t->prefix.len != t->old.prefix.len || t->plen != t->old.plen;
    {
        struct wgm_v v;
        wgm_v_begin(&v, NULL, false);
        check_geometry(&v, &t->prefix, t->plen, t->reserved);
        if (!wgm_v_ok(&v)) {
            /* Handed back to the handler as the details of a 422. */
            t->events = v.details;
            v.details = NULL;
            return -EDOM;
        }
        wgm_v_end(&v);
    }
    if (moved) {
        if (t->old.allocated > 0) {
            t->allocated = t->old.allocated;
            t->conflict = "the prefix of a pool with allocations cannot change";
            return -ENOTEMPTY;
        }
        if ((r = check_overlap(db, t->id, &t->prefix, t)) < 0)
            return r;
    }
    v6_prefix_format(&t->prefix, prefix, sizeof(prefix));
    v6_u128_format(t->reserved, reserved, sizeof(reserved));
    r = h->db_prepare(db,
                      "UPDATE ipv6_pools SET name = COALESCE(?, name), prefix = ?, prefix_length = ?,"
                      " description = COALESCE(?, description), auto_assign = ?, reserved = ?,"
                      " status = COALESCE(?, status), updated_at = ? WHERE id = ?",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, in->name);
        h->stmt_bind_text(st, 2, prefix);
        h->stmt_bind_int(st, 3, t->plen);
        h->stmt_bind_text(st, 4, in->description);
        h->stmt_bind_int(st, 5, in->has_auto ? in->auto_assign : t->old.auto_assign);
        h->stmt_bind_text(st, 6, reserved);
        h->stmt_bind_text(st, 7, in->status);
        h->stmt_bind_int(st, 8, time(NULL));
        h->stmt_bind_int(st, 9, t->id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    if (r < 0)
        return r == WGM_DB_ECONSTRAINT ? -EEXIST : r;
    if (moved) {
        /* No allocations: the state starts afresh on the new geometry
         * (resting released prefixes belonged to the old one). */
        struct v6_pool vp = {.id = t->id, .prefix = t->prefix, .prefix_length = t->plen, .reserved = t->reserved,
                             .quarantine_s = v6p_quarantine_s};
        if ((r = v6_alloc_pool_drop(h, db, t->id)) < 0 || (r = v6_alloc_pool_init(h, db, &vp)) < 0)
            return r == -EEXIST ? WGM_DB_EERROR : r;
    }
    return 0;
}

static int update_pool(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "prefix", "prefix_length", "description", "auto_assign",
                                        "reserved_prefixes", "status", NULL};
    const struct wgm_host *h = v6p_host;
    struct pool_input in;
    struct pool_txn t = {0};
    struct pool_row row;
    struct wgm_v v;
    struct wgm_db *db;
    int64_t id;
    int r;

    (void)ctx;
    if (parse_id(req, resp, &id) < 0)
        return 0;
    /* A body that is not an object is that one error, not missing fields. */
    if (!wgm_v_begin(&v, req->body, true))
        return wgm_v_respond(&v, resp);
    wgm_v_only(&v, known);
    read_pool_input(&v, false, &in);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    t.id = id;
    t.in = &in;
    if (!(db = db_or_503(resp)))
        return 0;
    r = v6_txn_retry(h, db, ATTEMPTS, update_txn, &t, NULL);
    if (r == -EDOM) {
        h->db_release(db);
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed", t.events);
    }
    json_decref(t.events);
    if (r < 0) {
        h->db_release(db);
        return txn_answer(resp, r, &t) == 1 ? r : 0;
    }
    r = fetch_pool(db, id, false, &row);
    if (r == 0)
        r = wgm_resp_json_msg(resp, 200, pool_json(db, &row), "IPv6 pool updated", "IPv6前缀池更新成功");
    h->db_release(db);
    return r < 0 ? r : 0;
}

/* --- delete --------------------------------------------------------------- */

static int delete_txn(struct wgm_db *db, void *arg)
{
    const struct wgm_host *h = v6p_host;
    struct pool_txn *t = arg;
    struct wgm_stmt *st = NULL;
    char pool_prefix[V6_PREFIX_STRLEN];
    int r;

    json_decref(t->events);
    t->events = NULL;
    if ((r = fetch_pool(db, t->id, true, &t->old)) < 0)
        return r;
    t->allocated = t->old.allocated;
    if (t->allocated > 0 && !t->force) {
        t->conflict = "the pool has allocations; repeat with ?force=true";
        return -ENOTEMPTY;
    }
    /* The WireGuard clients losing a prefix, for the events after commit;
     * the pool goes with them, so none is left delegated. */
    t->events = json_array();
    v6_prefix_format(&t->old.prefix, pool_prefix, sizeof(pool_prefix));
    r = h->db_prepare(db,
                      "SELECT id, client_id, prefix FROM ipv6_allocations WHERE pool_id = ? AND client_id IS NOT NULL",
                      &st);
    if (r == 0) {
        h->stmt_bind_int(st, 1, t->id);
        while ((r = h->stmt_step(st)) == WGM_DB_ROW)
            json_array_append_new(t->events,
                                  json_pack("{s:I,s:I,s:s,s:I,s:s,s:b}", "allocation_id",
                                            (json_int_t)h->stmt_column_int(st, 0), "client_id",
                                            (json_int_t)h->stmt_column_int(st, 1), "prefix",
                                            h->stmt_column_text(st, 2), "pool_id", (json_int_t)t->id, "pool_prefix",
                                            pool_prefix, "pool_has_delegated", 0));
    }
    h->stmt_free(st);
    if (r < 0)
        return r;
    if ((r = v6_alloc_pool_drop(h, db, t->id)) < 0)
        return r;
    return exec1(db, "DELETE FROM ipv6_pools WHERE id = ?", t->id);
}

static int delete_pool(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = v6p_host;
    const char *force = wgm_req_query(req, "force");
    struct pool_txn t = {0};
    struct wgm_db *db;
    size_t i;
    json_t *e;
    int64_t id;
    int r;

    (void)ctx;
    if (parse_id(req, resp, &id) < 0)
        return 0;
    if (force && strcmp(force, "true") && strcmp(force, "false"))
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "force", "must be true or false"));
    t.id = id;
    t.force = force && !strcmp(force, "true");
    if (!(db = db_or_503(resp)))
        return 0;
    r = v6_txn_retry(h, db, ATTEMPTS, delete_txn, &t, NULL);
    h->db_release(db);
    if (r < 0) {
        json_decref(t.events);
        return txn_answer(resp, r, &t) == 1 ? r : 0;
    }
    json_array_foreach(t.events, i, e)
        h->publish(v6p_ctx, "ipv6.allocation.released", json_incref(e));
    json_decref(t.events);
    h->publish(v6p_ctx, "ipv6.pool.deleted", json_pack("{s:I}", "id", (json_int_t)id));
    return wgm_resp_json_msg(resp, 200,
                             json_pack("{s:I,s:b,s:I}", "id", (json_int_t)id, "deleted", 1, "allocations_released",
                                       (json_int_t)t.allocated),
                             "IPv6 pool deleted", "IPv6前缀池删除成功");
}

/* --- status event ----------------------------------------------------------- */

static int64_t v6p_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void v6p_status_publish(void)
{
    /* The full list of delegated prefixes goes out on its own topic and
     * less often: it grows with the allocations, and WebSocket clients of
     * ipv6_status only need the counts. */
    static int64_t last_delegations_ms;
    const struct wgm_host *h = v6p_host;
    struct wgm_db *db = h->db_acquire(v6p_ctx);
    struct wgm_stmt *st = NULL;
    json_t *pools, *lists, *by_id, *counts, *p;
    int64_t now_ms = v6p_now_ms();
    long long interval_ms = 0;
    bool full;
    /* An INT key the core has checked; parsed strictly all the same. */
    wgm_in_parse_ll(h->conf_get(v6p_ctx, "delegations_interval_ms"), 0, INT64_MAX, &interval_ms);
    full = now_ms - last_delegations_ms >= interval_ms;
    size_t i;
    int r;

    if (!db)
        return;
    pools = json_array();
    lists = json_array();
    by_id = json_object(); /* "id" -> that pool's delegated_prefixes */
    counts = json_object(); /* "id" -> number delegated */
    /* Two reads, no transaction (on SQLite that would hold the write lock):
     * a change between them only shows what is true a moment later. */
    if ((r = h->db_prepare(db, "SELECT " POOL_COLUMNS " ORDER BY p.id", &st)) < 0)
        goto out;
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        struct pool_row row;
        struct v6_pool vp;
        struct v6_count total, avail;
        char prefix[V6_PREFIX_STRLEN], key[24];
        json_t *delegated;
        if (read_pool(st, &row) < 0)
            continue;
        to_v6_pool(&row, &vp);
        v6_pool_counts(&vp, row.allocated, &total, &avail);
        v6_prefix_format(&row.prefix, prefix, sizeof(prefix));
        snprintf(key, sizeof(key), "%lld", (long long)row.id);
        delegated = json_array();
        json_object_set(by_id, key, delegated);
        json_array_append_new(lists, json_pack("{s:I,s:s,s:o}", "id", (json_int_t)row.id, "prefix", prefix,
                                               "delegated_prefixes", delegated));
        json_array_append_new(pools, json_pack("{s:I,s:s,s:s,s:s,s:o,s:I,s:o}", "id", (json_int_t)row.id, "name",
                                               row.name, "prefix", prefix, "status", row.status, "total_prefixes",
                                               count_json(&total), "allocated", (json_int_t)row.allocated,
                                               "available_prefixes", count_json(&avail)));
    }
    if (r < 0)
        goto out;
    h->stmt_free(st);
    st = NULL;
    if ((r = h->db_prepare(db,
                           full ? "SELECT pool_id, prefix FROM ipv6_allocations WHERE client_id IS NOT NULL"
                                  " ORDER BY pool_id, idx"
                                : "SELECT pool_id, COUNT(*) FROM ipv6_allocations WHERE client_id IS NOT NULL"
                                  " GROUP BY pool_id",
                           &st)) < 0)
        goto out;
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)h->stmt_column_int(st, 0));
        /* A pool created between the two reads is not listed: skipped. */
        if (full)
            json_array_append_new(json_object_get(by_id, key), json_string(h->stmt_column_text(st, 1)));
        else
            json_object_set_new(counts, key, json_integer((json_int_t)h->stmt_column_int(st, 1)));
    }
out:
    h->stmt_free(st);
    h->db_release(db);
    /* A half-read status would tell subscribers that prefixes were released. */
    if (r < 0) {
        json_decref(pools);
        json_decref(lists);
        json_decref(by_id);
        json_decref(counts);
        return;
    }
    json_array_foreach(pools, i, p) {
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(json_object_get(p, "id")));
        json_object_set_new(p, "delegated",
                            json_integer(full ? (json_int_t)json_array_size(json_object_get(by_id, key))
                                              : json_integer_value(json_object_get(counts, key))));
    }
    json_decref(by_id);
    json_decref(counts);
    h->publish(v6p_ctx, "ipv6_status", json_pack("{s:o}", "pools", pools));
    if (full) {
        last_delegations_ms = now_ms;
        h->publish(v6p_ctx, "ipv6.delegations", json_pack("{s:o}", "pools", lists));
    } else {
        json_decref(lists);
    }
}

int v6p_pools_register(void)
{
    static const struct {
        const char *method, *path, *permission;
        wgm_handler_fn handler;
    } routes[] = {
        {"GET", "/ipv6/pools", "ipv6.view", list_pools},
        {"POST", "/ipv6/pools", "ipv6.edit", create_pool},
        {"GET", "/ipv6/pools/{id}", "ipv6.view", get_pool},
        {"PUT", "/ipv6/pools/{id}", "ipv6.edit", update_pool},
        {"DELETE", "/ipv6/pools/{id}", "ipv6.edit", delete_pool},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int r = v6p_host->route_add(v6p_ctx, routes[i].method, routes[i].path, routes[i].permission,
                                    routes[i].handler);
        if (r < 0)
            return r;
    }
    return 0;
}
