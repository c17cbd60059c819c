/* plugins/bgp/api_announcements: /bgp/announcements — prefixes wgm
 * originates (a static blackhole route exported to one session or all),
 * with optional standard communities.
 *
 * Each row has a source: "api" (made here) or "ipv6pool" (made by
 * follow.c from the pool events, source_ref "pool:ID").  The API cannot
 * delete an ipv6pool row: the pool owns it, and the next ipv6_status would
 * put it back anyway, so a 200 would be a lie; 409 says what to do instead.
 * An API row may repeat an ipv6pool row's prefix (to keep it announced
 * whatever the pool does); BIRD gets the route once. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include <wgm/wgm.h>
#include "birdconf.h"

const struct wgm_host *bgp_host(void);
struct wgm_ctx *bgp_ctx(void);
int bgp_apply(struct wgm_db *db, char *err, size_t errlen);
int bgp_bird_error(struct wgm_resp *resp, int r, const char *err);
void bgp_lock(void);
void bgp_unlock(void);
int bgp_announcements_register(void);

/* addr/len with the host bits zero. */
static bool valid_prefix(const char *s)
{
    char buf[64];
    unsigned char a[16];
    const char *slash = strchr(s, '/');
    unsigned len;
    int fam, bits;
    if (!slash || (size_t)(slash - s) >= sizeof(buf))
        return false;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    if (inet_pton(AF_INET, buf, a) == 1)
        fam = AF_INET;
    else if (inet_pton(AF_INET6, buf, a) == 1)
        fam = AF_INET6;
    else
        return false;
    bits = fam == AF_INET ? 32 : 128;
    if (birdconf_parse_len(slash + 1, (unsigned)bits, &len) < 0)
        return false;
    for (int i = (int)len; i < bits; i++)
        if ((a[i / 8] >> (7 - i % 8)) & 1)
            return false;
    return true;
}

static bool valid_community(const char *s)
{
    unsigned a, b;
    return birdconf_parse_community(s, &a, &b) == 0;
}

static json_t *ann_json(struct wgm_stmt *st)
{
    const struct wgm_host *h = bgp_host();
    char ts[32];
    json_t *c = json_loads(h->stmt_column_text(st, 3) ? h->stmt_column_text(st, 3) : "[]", 0, NULL);
    wgm_time_format(h->stmt_column_int(st, 5), ts, sizeof(ts));
    return json_pack("{s:I,s:s,s:o,s:s?,s:o,s:s?,s:s,s:s,s:s?}", "id", (json_int_t)h->stmt_column_int(st, 0), "prefix",
                     h->stmt_column_text(st, 1),
                     "session_id", h->stmt_column_type(st, 2) == WGM_DB_NULL ? json_null()
                                                                             : json_integer(h->stmt_column_int(st, 2)),
                     "session", h->stmt_column_text(st, 6), "communities", c ? c : json_array(), "description",
                     h->stmt_column_text(st, 4), "created_at", ts, "source",
                     h->stmt_column_text(st, 7) ? h->stmt_column_text(st, 7) : "api", "source_ref",
                     h->stmt_column_text(st, 8));
}

#define ACOLS "a.id, a.prefix, a.session_id, a.communities, a.description, a.created_at, s.name, a.source, a.source_ref"

static int list_anns(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_v v;
    struct wgm_page pg;
    long long sid = 0, total = 0;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *list = json_array();
    int r;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 1000, &pg);
    wgm_v_query_int(&v, req, "session_id", 1, INT64_MAX, &sid);
    if (!wgm_v_ok(&v)) {
        json_decref(list);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if (!(db = h->db_acquire(bgp_ctx()))) {
        json_decref(list);
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    }
    if ((r = h->db_prepare(db, "SELECT COUNT(*) FROM bgp_announcements a WHERE (? = 0 OR a.session_id = ?)", &st)) == 0) {
        h->stmt_bind_int(st, 1, sid);
        h->stmt_bind_int(st, 2, sid);
        if ((r = h->stmt_step(st)) == WGM_DB_ROW)
            total = h->stmt_column_int(st, 0);
    }
    h->stmt_free(st);
    st = NULL;
    if (r >= 0 && (r = h->db_prepare(db,
                                     "SELECT " ACOLS " FROM bgp_announcements a LEFT JOIN bgp_sessions s"
                                     " ON s.id = a.session_id WHERE (? = 0 OR a.session_id = ?) ORDER BY a.id LIMIT ? OFFSET ?",
                                     &st)) == 0) {
        h->stmt_bind_int(st, 1, sid);
        h->stmt_bind_int(st, 2, sid);
        h->stmt_bind_int(st, 3, pg.size);
        h->stmt_bind_int(st, 4, (pg.page - 1) * pg.size);
        while ((r = h->stmt_step(st)) == WGM_DB_ROW)
            json_array_append_new(list, ann_json(st));
    }
    h->stmt_free(st);
    h->db_release(db);
    if (r < 0) {
        json_decref(list);
        return r;
    }
    return wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "announcements", list, "pagination", wgm_pagination(&pg, total)));
}

static int create_ann(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"prefix", "session_id", "communities", "description", NULL};
    const struct wgm_host *h = bgp_host();
    struct wgm_v v;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    const char *prefix, *desc;
    json_t *comms, *out = NULL;
    long long sid;
    char *comm_s, err[512];
    int64_t id = 0;
    int r, found = 0;

    (void)ctx;
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    prefix = wgm_v_str(&v, "prefix", true, 3, 49);
    if (prefix && !valid_prefix(prefix))
        wgm_v_fail(&v, "prefix", "must be an IPv4 or IPv6 prefix with the host bits zero");
    sid = wgm_v_int(&v, "session_id", false, 1, INT64_MAX, 0);
    comms = wgm_v_str_array(&v, "communities", 32, valid_community);
    if (json_object_get(v.details, "communities"))
        json_object_set_new(v.details, "communities", json_string("must be an array of at most 32 \"ASN:VALUE\" (0..65535 each)"));
    desc = wgm_v_str(&v, "description", false, 0, 500);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = h->db_acquire(bgp_ctx())))
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    if (sid) {
        if (h->db_prepare(db, "SELECT id FROM bgp_sessions WHERE id = ?", &st) == 0) {
            h->stmt_bind_int(st, 1, sid);
            found = h->stmt_step(st) == WGM_DB_ROW;
        }
        h->stmt_free(st);
        st = NULL;
        if (!found) {
            h->db_release(db);
            return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                                  json_pack("{s:s}", "session_id", "no such session"));
        }
    }
    found = 0;
    bgp_lock();
    if (h->db_prepare(db,
                      "SELECT id FROM bgp_announcements WHERE prefix = ? AND COALESCE(session_id, 0) = ?"
                      " AND source = 'api'",
                      &st) == 0) {
        h->stmt_bind_text(st, 1, prefix);
        h->stmt_bind_int(st, 2, sid);
        found = h->stmt_step(st) == WGM_DB_ROW;
    }
    h->stmt_free(st);
    st = NULL;
    if (found) {
        bgp_unlock();
        h->db_release(db);
        return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "this prefix is already announced there",
                              json_pack("{s:s}", "prefix", "is already announced to this session"));
    }
    comm_s = json_dumps(comms ? comms : json_array(), JSON_COMPACT);
    if ((r = h->db_begin(db)) == 0 &&
        (r = h->db_prepare(db, "INSERT INTO bgp_announcements (prefix, session_id, communities, description, created_at)"
                               " VALUES (?, ?, ?, ?, ?)",
                           &st)) == 0) {
        h->stmt_bind_text(st, 1, prefix);
        if (sid)
            h->stmt_bind_int(st, 2, sid);
        else
            h->stmt_bind_null(st, 2);
        h->stmt_bind_text(st, 3, comm_s);
        h->stmt_bind_text(st, 4, desc);
        h->stmt_bind_int(st, 5, time(NULL));
        r = h->stmt_step(st);
        id = r >= 0 ? h->stmt_last_id(st) : 0;
    }
    h->stmt_free(st);
    st = NULL;
    free(comm_s);
    if (r >= 0 && (r = bgp_apply(db, err, sizeof(err))) < 0) {
        h->db_rollback(db);
        bgp_unlock();
        h->db_release(db);
        return bgp_bird_error(resp, r, err);
    }
    if (r >= 0)
        r = h->db_commit(db);
    if (r < 0) {
        h->db_rollback(db);
        bgp_unlock();
        h->db_release(db);
        return r;
    }
    bgp_unlock();
    if (h->db_prepare(db, "SELECT " ACOLS " FROM bgp_announcements a LEFT JOIN bgp_sessions s ON s.id = a.session_id"
                          " WHERE a.id = ?", &st) == 0) {
        h->stmt_bind_int(st, 1, id);
        if (h->stmt_step(st) == WGM_DB_ROW)
            out = ann_json(st);
    }
    h->stmt_free(st);
    h->db_release(db);
    return out ? wgm_resp_json_msg(resp, 201, out, "BGP announcement created", "BGP宣告创建成功") : -EIO;
}

static int delete_ann(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = bgp_host();
    const char *s = wgm_req_param(req, "id");
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *owner = NULL;
    long long id;
    char err[512];
    int r;

    (void)ctx;
    if (wgm_in_parse_ll(s, 1, INT64_MAX, &id) < 0)
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such announcement", json_pack("{s:s}", "id", s ? s : ""));
    if (!(db = h->db_acquire(bgp_ctx())))
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    bgp_lock();
    if ((r = h->db_prepare(db, "SELECT source, source_ref FROM bgp_announcements WHERE id = ?", &st)) == 0) {
        h->stmt_bind_int(st, 1, id);
        r = h->stmt_step(st);
        if (r == WGM_DB_DONE)
            r = -ENOENT;
        else if (r == WGM_DB_ROW && h->stmt_column_text(st, 0) && strcmp(h->stmt_column_text(st, 0), "api"))
            owner = json_pack("{s:s,s:s?}", "source", h->stmt_column_text(st, 0), "source_ref",
                              h->stmt_column_text(st, 1));
    }
    h->stmt_free(st);
    st = NULL;
    if (r >= 0 && !owner && (r = h->db_begin(db)) == 0 &&
        (r = h->db_prepare(db, "DELETE FROM bgp_announcements WHERE id = ?", &st)) == 0) {
        h->stmt_bind_int(st, 1, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    if (r >= 0 && !owner && (r = bgp_apply(db, err, sizeof(err))) < 0) {
        h->db_rollback(db);
        bgp_unlock();
        h->db_release(db);
        return bgp_bird_error(resp, r, err);
    }
    if (r >= 0 && !owner)
        r = h->db_commit(db);
    if (r < 0)
        h->db_rollback(db);
    bgp_unlock();
    h->db_release(db);
    if (owner)
        return wgm_resp_error(resp, 409, "RESOURCE_CONFLICT",
                              "this announcement follows an ipv6pool pool and goes when the pool has no delegated"
                              " prefix left; release the allocations, or set [bgp] announce_allocations = no",
                              owner);
    if (r == -ENOENT)
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such announcement",
                              json_pack("{s:I}", "id", (json_int_t)id));
    if (r < 0)
        return r;
    return wgm_resp_json_msg(resp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1),
                             "BGP announcement deleted", "BGP宣告删除成功");
}

int bgp_announcements_register(void)
{
    int r;
    if ((r = bgp_host()->route_add(bgp_ctx(), "GET", "/bgp/announcements", "bgp.view", list_anns)) < 0 ||
        (r = bgp_host()->route_add(bgp_ctx(), "POST", "/bgp/announcements", "bgp.edit", create_ann)) < 0 ||
        (r = bgp_host()->route_add(bgp_ctx(), "DELETE", "/bgp/announcements/{id}", "bgp.edit", delete_ann)) < 0)
        return r;
    return 0;
}
