/* plugins/bgp/api_sessions: /bgp/sessions — list, create, read, update,
 * delete, start, stop.  Status, uptime, route counts, last error and
 * statistics come from BIRD (`show protocols all`), never the database. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include <wgm/wgm.h>
#include "birdconf.h"
#include "birdctl.h"

const struct wgm_host *bgp_host(void);
struct wgm_ctx *bgp_ctx(void);
long long bgp_default_local_as(void);
int bgp_apply(struct wgm_db *db, char *err, size_t errlen);
int bgp_bird(const char *cmd, struct birdctl_reply **out);
int bgp_bird_error(struct wgm_resp *resp, int r, const char *err);
void bgp_lock(void);
void bgp_unlock(void);
int bgp_sessions_register(void);
int bgp_fetch_protocols(struct birdctl_protocol **out, size_t *n);
const char *bgp_session_facts(const struct birdctl_protocol *protos, size_t n, const char *name, long long *uptime,
                              long long *recv, long long *adv);

#define COLS "id, name, neighbor, remote_as, local_as, password, hold_time, keepalive, connect_retry," \
             " multihop, ttl_security, enabled, description, created_at, updated_at"

static struct wgm_db *db_or_503(struct wgm_resp *resp)
{
    return wgm_db_or_503(bgp_host(), bgp_ctx(), resp);
}

static int parse_id(const struct wgm_req *req, struct wgm_resp *resp, int64_t *id)
{
    return wgm_v_path_id(req, resp, "session", id);
}

static int not_found(struct wgm_resp *resp, int64_t id)
{
    return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such session", json_pack("{s:I}", "id", (json_int_t)id));
}

/* All protocols BIRD knows (one `show protocols all` for every session),
 * or a negative errno (BIRD unreachable). */
int bgp_fetch_protocols(struct birdctl_protocol **out, size_t *n)
{
    struct birdctl_reply *rep = NULL;
    int r = bgp_bird("show protocols all", &rep);
    *out = NULL;
    *n = 0;
    if (r == 0)
        r = birdctl_parse_protocols(rep, out, n);
    birdctl_reply_free(rep);
    return r;
}

static const struct birdctl_protocol *find_proto(const struct birdctl_protocol *p, size_t n, const char *name)
{
    char want[64];
    snprintf(want, sizeof(want), "wgm_%s", name);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(p[i].name, want))
            return &p[i];
    return NULL;
}

static const char *status_of(const struct birdctl_protocol *p)
{
    static const char *const map[][2] = {{"Established", "established"}, {"Idle", "idle"}, {"Active", "active"},
                                         {"Connect", "connect"}, {"OpenSent", "opensent"},
                                         {"OpenConfirm", "openconfirm"}, {"Passive", "active"}};
    if (!p)
        return "idle";
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(p->bgp_state, map[i][0]))
            return map[i][1];
    return "idle";
}

static json_t *na_int(long long v)
{
    return v == BIRDCTL_NA ? json_null() : json_integer((json_int_t)v);
}

/* The status (spec enum), uptime (seconds established, else 0) and route
 * counts over all channels of session @name in BIRD's @protos.  A session
 * BIRD does not list (not configured yet) is idle with nothing. */
const char *bgp_session_facts(const struct birdctl_protocol *protos, size_t n, const char *name, long long *uptime,
                              long long *recv, long long *adv)
{
    const struct birdctl_protocol *p = find_proto(protos, n, name);
    const char *status = status_of(p);
    long long age = 0;

    *recv = *adv = 0;
    for (size_t i = 0; p && i < p->n_channels; i++) {
        *recv += p->channels[i].imported > 0 ? p->channels[i].imported : 0;
        *adv += p->channels[i].exported > 0 ? p->channels[i].exported : 0;
    }
    *uptime = !strcmp(status, "established") && birdctl_since_age(p->since, time(NULL), &age) == 0 ? age : 0;
    return status;
}

/* One session row (columns COLS) with BIRD's facts. */
static json_t *session_json(struct wgm_stmt *st, const struct birdctl_protocol *protos, size_t n)
{
    const struct wgm_host *h = bgp_host();
    const char *name = h->stmt_column_text(st, 1);
    const struct birdctl_protocol *p = find_proto(protos, n, name);
    long long recv, adv, uptime, upd_in = 0, upd_out = 0, age = 0;
    const char *status = bgp_session_facts(protos, n, name, &uptime, &recv, &adv);
    char created[32], updated[32], last[32];
    time_t now = time(NULL);
    bool have_age = p && birdctl_since_age(p->since, now, &age) == 0;

    for (size_t i = 0; p && i < p->n_channels; i++) {
        const struct birdctl_channel *c = &p->channels[i];
        upd_in += c->import_updates.received > 0 ? c->import_updates.received : 0;
        upd_out += c->export_updates.accepted > 0 ? c->export_updates.accepted : 0;
    }
    wgm_time_format((time_t)h->stmt_column_int(st, 13), created, sizeof(created));
    wgm_time_format((time_t)h->stmt_column_int(st, 14), updated, sizeof(updated));
    if (have_age)
        wgm_time_format(now - (time_t)age, last, sizeof(last));
    return json_pack("{s:I,s:s,s:s,s:I,s:I,s:s,s:I,s:I,s:I,s:s?,s:s?,s:b,s:s?,s:s?,"
                     "s:{s:s?,s:I,s:I,s:I,s:b,s:b},"
                     "s:{s:n,s:n,s:o,s:o,s:n,s:n},s:s,s:s}",
                     "id", (json_int_t)h->stmt_column_int(st, 0), "name", name, "neighbor", h->stmt_column_text(st, 2),
                     "remote_as", (json_int_t)h->stmt_column_int(st, 3), "local_as",
                     (json_int_t)h->stmt_column_int(st, 4), "status", status, "uptime", (json_int_t)uptime, "routes_received",
                     (json_int_t)recv, "routes_advertised", (json_int_t)adv, "last_update", have_age ? last : NULL,
                     "last_error", p && p->last_error[0] ? p->last_error : NULL, "enabled",
                     h->stmt_column_int(st, 11) != 0, "description", h->stmt_column_text(st, 12), "bird_state",
                     p ? p->state : NULL, "config", "password",
                     h->stmt_column_text(st, 5) && *h->stmt_column_text(st, 5) ? "***REDACTED***" : NULL, "hold_time",
                     (json_int_t)h->stmt_column_int(st, 6), "keepalive", (json_int_t)h->stmt_column_int(st, 7),
                     "connect_retry", (json_int_t)h->stmt_column_int(st, 8), "multihop",
                     h->stmt_column_int(st, 9) != 0, "ttl_security", h->stmt_column_int(st, 10) != 0, "statistics",
                     "messages_received", "messages_sent", "updates_received", p ? na_int(upd_in) : json_null(),
                     "updates_sent", p ? na_int(upd_out) : json_null(), "notifications_received",
                     "notifications_sent", "created_at", created, "updated_at", updated);
}

/* The session @id as JSON with BIRD's facts; NULL and *@status 404/503. */
static json_t *load_session(struct wgm_db *db, int64_t id, int *status)
{
    const struct wgm_host *h = bgp_host();
    struct birdctl_protocol *protos = NULL;
    size_t n = 0;
    struct wgm_stmt *st = NULL;
    json_t *out = NULL;
    if (bgp_fetch_protocols(&protos, &n) < 0) {
        *status = 503;
        return NULL;
    }
    *status = 404;
    if (h->db_prepare(db, "SELECT " COLS " FROM bgp_sessions WHERE id = ?", &st) == 0) {
        h->stmt_bind_int(st, 1, id);
        if (h->stmt_step(st) == WGM_DB_ROW)
            out = session_json(st, protos, n);
    }
    h->stmt_free(st);
    free(protos);
    return out;
}

static int list_sessions(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_v v;
    struct wgm_page pg;
    const char *status, *neighbor = wgm_req_query(req, "neighbor");
    struct birdctl_protocol *protos = NULL;
    size_t n = 0;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *all = json_array(), *page;
    int r;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    status = wgm_v_query_enum(&v, req, "status", "established|idle|active|connect|opensent|openconfirm");
    if (neighbor && strlen(neighbor) > 64)
        wgm_v_fail(&v, "neighbor", "must be at most 64 characters");
    if (!wgm_v_ok(&v)) {
        json_decref(all);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if ((r = bgp_fetch_protocols(&protos, &n)) < 0) {
        json_decref(all);
        return bgp_bird_error(resp, r, NULL);
    }
    if (!(db = db_or_503(resp))) {
        free(protos);
        json_decref(all);
        return 0;
    }
    if ((r = h->db_prepare(db, "SELECT " COLS " FROM bgp_sessions WHERE (? IS NULL OR neighbor = ?) ORDER BY id", &st)) == 0) {
        h->stmt_bind_text(st, 1, neighbor);
        h->stmt_bind_text(st, 2, neighbor);
        while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
            json_t *o = session_json(st, protos, n);
            if (status && strcmp(json_string_value(json_object_get(o, "status")), status)) {
                json_decref(o);
                continue;
            }
            json_array_append_new(all, o);
        }
    }
    h->stmt_free(st);
    h->db_release(db);
    free(protos);
    if (r < 0) {
        json_decref(all);
        return r;
    }
    page = json_array();
    for (size_t i = (size_t)((pg.page - 1) * pg.size); i < json_array_size(all) && json_array_size(page) < (size_t)pg.size; i++)
        json_array_append(page, json_array_get(all, i));
    r = wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "sessions", page, "pagination",
                                           wgm_pagination(&pg, (long long)json_array_size(all))));
    json_decref(all);
    return r;
}

static bool valid_name(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

static bool printable(const char *s, bool quotes_ok)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || (!quotes_ok && (*s == '"' || *s == '\\')))
            return false;
    return true;
}

/* A literal address a BGP session can be opened to. */
static bool unicast(const char *s)
{
    unsigned char a[16];
    static const unsigned char zero[16];
    if (inet_pton(AF_INET, s, a) == 1)
        return !(a[0] == 0 || a[0] >= 224);
    if (inet_pton(AF_INET6, s, a) != 1)
        return false;
    return memcmp(a, zero, 16) != 0 && a[0] != 0xff;
}

struct session_input {
    const char *name, *neighbor, *password, *description;
    long long remote_as, local_as, hold, keepalive, retry;
    bool multihop, ttl_security, enabled;
    bool has_password;
};

/* Fields shared by create and update.  @cur: the stored values (update). */
static void read_input(struct wgm_v *v, bool create, struct session_input *in, const struct session_input *cur)
{
    unsigned char buf[16];
    in->name = wgm_v_str(v, "name", create, 1, BIRDCONF_NAME_MAX);
    if (in->name && !valid_name(in->name))
        wgm_v_fail(v, "name", "may contain a-z, 0-9 and '_' only");
    in->neighbor = wgm_v_str(v, "neighbor", create, 2, 45);
    if (in->neighbor) {
        if (inet_pton(AF_INET, in->neighbor, buf) != 1 && inet_pton(AF_INET6, in->neighbor, buf) != 1)
            wgm_v_fail(v, "neighbor", "must be an IPv4 or IPv6 address");
        else if (!unicast(in->neighbor))
            wgm_v_fail(v, "neighbor", "must be a unicast address (not unspecified, multicast or broadcast)");
        else if (!strncasecmp(in->neighbor, "fe8", 3) || !strncasecmp(in->neighbor, "fe9", 3) ||
                 !strncasecmp(in->neighbor, "fea", 3) || !strncasecmp(in->neighbor, "feb", 3))
            wgm_v_fail(v, "neighbor", "link-local neighbors are not supported");
    }
    in->remote_as = wgm_v_int(v, "remote_as", create, 1, 4294967295LL, cur ? cur->remote_as : 0);
    in->local_as = wgm_v_int(v, "local_as", create && bgp_default_local_as() == 0, 1, 4294967295LL,
                             cur ? cur->local_as : bgp_default_local_as());
    in->has_password = json_object_get(v->body, "password") != NULL;
    in->password = wgm_v_str(v, "password", false, 0, BIRDCONF_PASSWORD_MAX);
    if (in->password && !printable(in->password, false))
        wgm_v_fail(v, "password", "must be printable ASCII without '\"' and '\\'");
    for (const char *p = in->password; p && *p; p++)
        if ((unsigned char)*p > 0x7e) {
            wgm_v_fail(v, "password", "must be printable ASCII without '\"' and '\\'");
            break;
        }
    in->hold = wgm_v_int(v, "hold_time", false, 0, 65535, cur ? cur->hold : 90);
    if (in->hold > 0 && in->hold < 3)
        wgm_v_fail(v, "hold_time", "must be 0 or 3 to 65535");
    in->keepalive = wgm_v_int(v, "keepalive", false, 0, 65535, cur ? cur->keepalive : (in->hold ? in->hold / 3 : 30));
    if (!json_object_get(v->details, "hold_time") && !json_object_get(v->details, "keepalive") && in->hold > 0 &&
        in->keepalive >= in->hold)
        wgm_v_fail(v, "keepalive", "must be less than hold_time");
    in->retry = wgm_v_int(v, "connect_retry", false, 0, 65535, cur ? cur->retry : 120);
    in->multihop = wgm_v_bool(v, "multihop", cur ? cur->multihop : false);
    in->ttl_security = wgm_v_bool(v, "ttl_security", cur ? cur->ttl_security : false);
    in->enabled = wgm_v_bool(v, "enabled", cur ? cur->enabled : true);
    in->description = wgm_v_str(v, "description", false, 0, BIRDCONF_DESCRIPTION_MAX);
    if (in->description && !printable(in->description, false))
        wgm_v_fail(v, "description", "must not contain '\"', '\\' or control characters");
}

static int conflict(struct wgm_db *db, int64_t self, const struct session_input *in, struct wgm_resp *resp)
{
    const struct wgm_host *h = bgp_host();
    static const char *const fields[] = {"name", "neighbor"};
    for (int i = 0; i < 2; i++) {
        struct wgm_stmt *st = NULL;
        const char *val = i == 0 ? in->name : in->neighbor;
        int found = 0;
        char sql[128];
        if (!val)
            continue;
        snprintf(sql, sizeof(sql), "SELECT id FROM bgp_sessions WHERE %s = ? AND id <> ?", fields[i]);
        if (h->db_prepare(db, sql, &st) == 0) {
            h->stmt_bind_text(st, 1, val);
            h->stmt_bind_int(st, 2, self);
            found = h->stmt_step(st) == WGM_DB_ROW;
        }
        h->stmt_free(st);
        if (found)
            return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "a session already uses this value",
                                  json_pack("{s:s}", fields[i], "is already used by another session"));
    }
    return 1;
}

static char *seal(const char *password)
{
    char *sealed = NULL;
    if (!password || !*password)
        return NULL;
    if (bgp_host()->secret_seal(bgp_ctx(), password, strlen(password), &sealed) < 0)
        return NULL;
    return sealed;
}

/* bgp_lock() then db_begin: a write that bgp_apply will render.  On
 * failure nothing is held. */
static int begin_locked(struct wgm_db *db)
{
    int r;
    bgp_lock();
    if ((r = bgp_host()->db_begin(db)) < 0)
        bgp_unlock();
    return r;
}

/* Roll back what begin_locked opened and let go of the lock. */
static void rollback_unlock(struct wgm_db *db)
{
    bgp_host()->db_rollback(db);
    bgp_unlock();
}

/* Apply inside the transaction of begin_locked: commit on success, roll
 * back and answer on failure.  Either way the lock is released.  Returns
 * 0 when applied. */
static int apply_or_rollback(struct wgm_db *db, struct wgm_resp *resp, int *answered)
{
    char err[512];
    int r = bgp_apply(db, err, sizeof(err));
    *answered = 0;
    if (r < 0) {
        rollback_unlock(db);
        *answered = 1;
        return bgp_bird_error(resp, r, err);
    }
    if ((r = bgp_host()->db_commit(db)) < 0)
        bgp_host()->db_rollback(db);
    bgp_unlock();
    return r;
}

/* The session as it is now, with the success message @en / @zh (NULL: a
 * read, no message). */
static int respond_session(struct wgm_db *db, int64_t id, unsigned code, struct wgm_resp *resp, const char *en,
                           const char *zh)
{
    int status;
    json_t *out = load_session(db, id, &status);
    bgp_host()->db_release(db);
    if (!out)
        return status == 503 ? bgp_bird_error(resp, -EHOSTDOWN, NULL) : not_found(resp, id);
    return en ? wgm_resp_json_msg(resp, code, out, en, zh) : wgm_resp_json(resp, code, out);
}

static int create_session(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "neighbor", "remote_as", "local_as", "password", "hold_time",
                                        "keepalive", "connect_retry", "multihop", "ttl_security", "enabled",
                                        "description", NULL};
    const struct wgm_host *h = bgp_host();
    struct session_input in;
    struct wgm_v v;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    char *sealed = NULL;
    int64_t id = 0, now = (int64_t)time(NULL);
    int r, answered;

    (void)ctx;
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    read_input(&v, true, &in, NULL);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (in.password && *in.password && !(sealed = seal(in.password)))
        return -EIO;
    if (!(db = db_or_503(resp))) {
        h->free(sealed);
        return 0;
    }
    if ((r = conflict(db, 0, &in, resp)) != 1) {
        h->db_release(db);
        h->free(sealed);
        return r;
    }
    if ((r = begin_locked(db)) < 0)
        goto fail;
    r = h->db_prepare(db,
                      "INSERT INTO bgp_sessions (name, neighbor, remote_as, local_as, password, hold_time, keepalive,"
                      " connect_retry, multihop, ttl_security, enabled, description, created_at, updated_at)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, in.name);
        h->stmt_bind_text(st, 2, in.neighbor);
        h->stmt_bind_int(st, 3, in.remote_as);
        h->stmt_bind_int(st, 4, in.local_as);
        h->stmt_bind_text(st, 5, sealed);
        h->stmt_bind_int(st, 6, in.hold);
        h->stmt_bind_int(st, 7, in.keepalive);
        h->stmt_bind_int(st, 8, in.retry);
        h->stmt_bind_int(st, 9, in.multihop);
        h->stmt_bind_int(st, 10, in.ttl_security);
        h->stmt_bind_int(st, 11, in.enabled);
        h->stmt_bind_text(st, 12, in.description);
        h->stmt_bind_int(st, 13, now);
        h->stmt_bind_int(st, 14, now);
        r = h->stmt_step(st);
        id = r >= 0 ? h->stmt_last_id(st) : 0;
    }
    h->stmt_free(st);
    h->free(sealed);
    sealed = NULL;
    if (r == WGM_DB_ECONSTRAINT) {
        rollback_unlock(db);
        r = wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "a session already uses this name or neighbor",
                           json_pack("{s:s}", "neighbor", "is already used by another session"));
        h->db_release(db);
        return r;
    }
    if (r < 0) {
        rollback_unlock(db);
        goto fail;
    }
    r = apply_or_rollback(db, resp, &answered);
    if (answered) {
        h->db_release(db);
        return r;
    }
    if (r < 0)
        goto fail;
    return respond_session(db, id, 201, resp, "BGP session created", "BGP会话创建成功");
fail:
    h->db_rollback(db);
    h->db_release(db);
    h->free(sealed);
    return r < 0 ? r : -EIO;
}

static int get_session(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    int64_t id;
    struct wgm_db *db;
    (void)ctx;
    if (parse_id(req, resp, &id) < 0 || !(db = db_or_503(resp)))
        return 0;
    return respond_session(db, id, 200, resp, NULL, NULL);
}

/* The stored values of @id; -ENOENT when absent. */
static int load_input(struct wgm_db *db, int64_t id, struct session_input *cur)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_stmt *st = NULL;
    int r = h->db_prepare(db, "SELECT " COLS " FROM bgp_sessions WHERE id = ?", &st);
    memset(cur, 0, sizeof(*cur));
    if (r == 0) {
        h->stmt_bind_int(st, 1, id);
        r = h->stmt_step(st);
        if (r == WGM_DB_ROW) {
            cur->remote_as = h->stmt_column_int(st, 3);
            cur->local_as = h->stmt_column_int(st, 4);
            cur->hold = h->stmt_column_int(st, 6);
            cur->keepalive = h->stmt_column_int(st, 7);
            cur->retry = h->stmt_column_int(st, 8);
            cur->multihop = h->stmt_column_int(st, 9) != 0;
            cur->ttl_security = h->stmt_column_int(st, 10) != 0;
            cur->enabled = h->stmt_column_int(st, 11) != 0;
            r = 0;
        } else if (r >= 0) {
            r = -ENOENT;
        }
    }
    h->stmt_free(st);
    return r;
}

static int update_session(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "neighbor", "remote_as", "local_as", "password", "hold_time",
                                        "keepalive", "connect_retry", "multihop", "ttl_security", "enabled",
                                        "description", NULL};
    const struct wgm_host *h = bgp_host();
    struct session_input in, cur;
    struct wgm_v v;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    char *sealed = NULL;
    int64_t id;
    int r, answered;

    (void)ctx;
    if (parse_id(req, resp, &id) < 0 || !(db = db_or_503(resp)))
        return 0;
    if ((r = load_input(db, id, &cur)) < 0) {
        h->db_release(db);
        return r == -ENOENT ? not_found(resp, id) : r;
    }
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    read_input(&v, false, &in, &cur);
    if (!wgm_v_ok(&v)) {
        h->db_release(db);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if ((r = conflict(db, id, &in, resp)) != 1) {
        h->db_release(db);
        return r;
    }
    if (in.password && *in.password && !(sealed = seal(in.password))) {
        h->db_release(db);
        return -EIO;
    }
    if ((r = begin_locked(db)) < 0)
        goto fail;
    r = h->db_prepare(db,
                      "UPDATE bgp_sessions SET name = COALESCE(?, name), neighbor = COALESCE(?, neighbor),"
                      " remote_as = ?, local_as = ?, password = CASE WHEN ? = 1 THEN ? ELSE password END,"
                      " hold_time = ?, keepalive = ?, connect_retry = ?, multihop = ?, ttl_security = ?, enabled = ?,"
                      " description = COALESCE(?, description), updated_at = ? WHERE id = ?",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, in.name);
        h->stmt_bind_text(st, 2, in.neighbor);
        h->stmt_bind_int(st, 3, in.remote_as);
        h->stmt_bind_int(st, 4, in.local_as);
        h->stmt_bind_int(st, 5, in.has_password);
        h->stmt_bind_text(st, 6, sealed);
        h->stmt_bind_int(st, 7, in.hold);
        h->stmt_bind_int(st, 8, in.keepalive);
        h->stmt_bind_int(st, 9, in.retry);
        h->stmt_bind_int(st, 10, in.multihop);
        h->stmt_bind_int(st, 11, in.ttl_security);
        h->stmt_bind_int(st, 12, in.enabled);
        h->stmt_bind_text(st, 13, in.description);
        h->stmt_bind_int(st, 14, time(NULL));
        h->stmt_bind_int(st, 15, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    h->free(sealed);
    sealed = NULL;
    if (r == WGM_DB_ECONSTRAINT) {
        rollback_unlock(db);
        h->db_release(db);
        return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "a session already uses this name or neighbor",
                              json_pack("{s:s}", "neighbor", "is already used by another session"));
    }
    if (r < 0) {
        rollback_unlock(db);
        goto fail;
    }
    r = apply_or_rollback(db, resp, &answered);
    if (answered) {
        h->db_release(db);
        return r;
    }
    if (r < 0)
        goto fail;
    return respond_session(db, id, 200, resp, "BGP session updated", "BGP会话更新成功");
fail:
    h->db_rollback(db);
    h->db_release(db);
    h->free(sealed);
    return r < 0 ? r : -EIO;
}

static int run_in_tx(struct wgm_db *db, int64_t id, const char *const *sql, size_t n, struct wgm_resp *resp)
{
    const struct wgm_host *h = bgp_host();
    int r, answered;
    if ((r = begin_locked(db)) < 0)
        return r;
    for (size_t i = 0; i < n && r >= 0; i++) {
        struct wgm_stmt *st = NULL;
        if ((r = h->db_prepare(db, sql[i], &st)) == 0) {
            h->stmt_bind_int(st, 1, id);
            r = h->stmt_step(st);
        }
        h->stmt_free(st);
    }
    if (r < 0) {
        rollback_unlock(db);
        return r;
    }
    r = apply_or_rollback(db, resp, &answered);
    return answered ? (r < 0 ? r : 1) : r;
}

static int delete_session(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const sql[] = {"DELETE FROM bgp_announcements WHERE session_id = ?",
                                      "DELETE FROM bgp_sessions WHERE id = ?"};
    const struct wgm_host *h = bgp_host();
    struct session_input cur;
    struct wgm_db *db;
    int64_t id;
    int r;
    (void)ctx;
    if (parse_id(req, resp, &id) < 0 || !(db = db_or_503(resp)))
        return 0;
    if ((r = load_input(db, id, &cur)) < 0) {
        h->db_release(db);
        return r == -ENOENT ? not_found(resp, id) : r;
    }
    r = run_in_tx(db, id, sql, 2, resp);
    h->db_release(db);
    if (r != 0)
        return r > 0 ? 0 : r;
    return wgm_resp_json_msg(resp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1), "BGP session deleted",
                             "BGP会话删除成功");
}

/* start/stop: persist enabled, apply, and enable/disable over the socket. */
static int set_enabled(const struct wgm_req *req, struct wgm_resp *resp, bool on)
{
    static const char *const sql_on[] = {"UPDATE bgp_sessions SET enabled = 1 WHERE id = ?"};
    static const char *const sql_off[] = {"UPDATE bgp_sessions SET enabled = 0 WHERE id = ?"};
    const struct wgm_host *h = bgp_host();
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    struct birdctl_reply *rep = NULL;
    char name[BIRDCONF_NAME_MAX + 1] = "", cmd[BIRDCONF_NAME_MAX + 32];
    int64_t id;
    int r;

    if (parse_id(req, resp, &id) < 0 || !(db = db_or_503(resp)))
        return 0;
    if (h->db_prepare(db, "SELECT name FROM bgp_sessions WHERE id = ?", &st) == 0) {
        h->stmt_bind_int(st, 1, id);
        if (h->stmt_step(st) == WGM_DB_ROW)
            snprintf(name, sizeof(name), "%s", h->stmt_column_text(st, 0));
    }
    h->stmt_free(st);
    if (!name[0]) {
        h->db_release(db);
        return not_found(resp, id);
    }
    r = run_in_tx(db, id, on ? sql_on : sql_off, 1, resp);
    if (r != 0) {
        h->db_release(db);
        return r > 0 ? 0 : r;
    }
    snprintf(cmd, sizeof(cmd), "%s wgm_%s", on ? "enable" : "disable", name);
    r = bgp_bird(cmd, &rep);
    birdctl_reply_free(rep);
    if (r < 0 && r != -EREMOTEIO) {
        h->db_release(db);
        return bgp_bird_error(resp, r, NULL);
    }
    return on ? respond_session(db, id, 200, resp, "BGP session started", "BGP会话启动成功")
              : respond_session(db, id, 200, resp, "BGP session stopped", "BGP会话停止成功");
}

static int start_session(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    (void)ctx;
    return set_enabled(req, resp, true);
}

static int stop_session(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    (void)ctx;
    return set_enabled(req, resp, false);
}

int bgp_sessions_register(void)
{
    static const struct {
        const char *method, *path, *perm;
        wgm_handler_fn fn;
    } routes[] = {
        {"GET", "/bgp/sessions", "bgp.view", list_sessions},
        {"POST", "/bgp/sessions", "bgp.edit", create_session},
        {"GET", "/bgp/sessions/{id}", "bgp.view", get_session},
        {"PUT", "/bgp/sessions/{id}", "bgp.edit", update_session},
        {"DELETE", "/bgp/sessions/{id}", "bgp.edit", delete_session},
        {"POST", "/bgp/sessions/{id}/start", "bgp.edit", start_session},
        {"POST", "/bgp/sessions/{id}/stop", "bgp.edit", stop_session},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int r = bgp_host()->route_add(bgp_ctx(), routes[i].method, routes[i].path, routes[i].perm, routes[i].fn);
        if (r < 0)
            return r;
    }
    return 0;
}
