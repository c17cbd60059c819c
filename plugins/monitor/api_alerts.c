/* plugins/monitor/api_alerts: alert rules (CRUD) and alerts (list,
 * acknowledge).  Every rule change is one statement (a delete also resolves
 * the rule's active alerts, in the same transaction), then the evaluator
 * re-reads the rules. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include "monitor.h"
#include "rule_eval.h"

#define RULE_COLUMNS                                                                                  \
    "id, name, description, metric_name, condition_op, threshold, level, duration, enabled,"          \
    " cooldown_minutes, notification_channels, tags, created_at, updated_at"
#define LEVELS "info|warning|error|critical"

static json_t *rule_json(struct wgm_stmt *st)
{
    const struct wgm_host *h = mon.host;
    char c[32], u[32];
    const char *desc = h->stmt_column_text(st, 2); /* "" is a cleared one */
    json_t *channels = json_loads(h->stmt_column_text(st, 10), 0, NULL), *tags = json_loads(h->stmt_column_text(st, 11), 0, NULL);
    wgm_time_format(h->stmt_column_int(st, 12), c, sizeof(c));
    wgm_time_format(h->stmt_column_int(st, 13), u, sizeof(u));
    return json_pack("{s:I,s:s,s:o,s:s,s:s,s:f,s:s,s:I,s:b,s:I,s:o,s:o,s:s,s:s,s:s}", "id",
                     (json_int_t)h->stmt_column_int(st, 0), "name", h->stmt_column_text(st, 1), "description",
                     desc && *desc ? json_string(desc) : json_null(), "metric_name", h->stmt_column_text(st, 3), "condition",
                     h->stmt_column_text(st, 4), "threshold", h->stmt_column_double(st, 5), "level",
                     h->stmt_column_text(st, 6), "duration", (json_int_t)h->stmt_column_int(st, 7), "enabled",
                     h->stmt_column_int(st, 8) != 0, "cooldown_minutes", (json_int_t)h->stmt_column_int(st, 9),
                     "notification_channels", channels ? channels : json_array(), "tags", tags ? tags : json_object(),
                     "created_at", c, "updated_at", u, "state", mon_alerts_rule_state(h->stmt_column_int(st, 0)));
}

static int fetch_rule(struct wgm_db *db, int64_t id, json_t **out)
{
    const struct wgm_host *h = mon.host;
    struct wgm_stmt *st = NULL;
    int r;
    *out = NULL;
    if ((r = h->db_prepare(db, "SELECT " RULE_COLUMNS " FROM mon_alert_rules WHERE id = ?", &st)) < 0)
        return r;
    h->stmt_bind_int(st, 1, id);
    r = h->stmt_step(st);
    if (r == WGM_DB_ROW)
        *out = rule_json(st);
    h->stmt_free(st);
    return r == WGM_DB_ROW ? (*out ? 0 : -ENOMEM) : r < 0 ? r : -ENOENT;
}

/* Validated rule fields; absent ones (PUT) stay NULL / has_* false. */
struct rule_in {
    const char *name, *description, *metric_name, *condition, *level;
    bool has_threshold, has_duration, has_enabled, has_cooldown;
    double threshold;
    long long duration, cooldown;
    bool enabled;
    char *channels, *tags; /* JSON text, new */
};

static void rule_in_free(struct rule_in *in)
{
    free(in->channels);
    free(in->tags);
}

static bool present(struct wgm_v *v, const char *name)
{
    return json_object_get(v->body, name) != NULL;
}

static void read_rule(struct wgm_v *v, bool create, struct rule_in *in)
{
    static const char *const known[] = {"name", "description", "metric_name", "condition", "threshold", "level",
                                        "duration", "enabled", "cooldown_minutes", "notification_channels", "tags", NULL};
    enum mon_cond cond;
    json_t *j;

    memset(in, 0, sizeof(*in));
    wgm_v_only(v, known);
    in->name = wgm_v_str(v, "name", create, 1, 128);
    if (present(v, "description") && !json_is_null(json_object_get(v->body, "description")))
        in->description = wgm_v_str(v, "description", false, 0, 1000);
    in->metric_name = wgm_v_str(v, "metric_name", create, 1, 64);
    if (in->metric_name && mon_metric_lookup(in->metric_name) < 0)
        wgm_v_fail(v, "metric_name", "unknown metric (GET /monitoring/metrics lists them)");
    in->condition = wgm_v_str(v, "condition", create, 1, 2);
    if (in->condition && !mon_cond_parse(in->condition, &cond))
        wgm_v_fail(v, "condition", "must be one of >, >=, <, <=, ==, !=");
    if ((j = json_object_get(v->body, "threshold"))) {
        if (!json_is_number(j) || !isfinite(json_number_value(j)))
            wgm_v_fail(v, "threshold", "must be a number");
        in->has_threshold = true;
        in->threshold = json_number_value(j);
    } else if (create) {
        wgm_v_missing(v, "threshold");
    }
    in->level = present(v, "level") || create ? wgm_v_enum(v, "level", false, LEVELS) : NULL;
    if (create && !in->level && !present(v, "level"))
        in->level = "warning";
    if ((in->has_duration = present(v, "duration") || create))
        in->duration = wgm_v_int(v, "duration", false, 0, 604800, 60);
    if ((in->has_cooldown = present(v, "cooldown_minutes") || create))
        in->cooldown = wgm_v_int(v, "cooldown_minutes", false, 0, 10080, 5);
    if ((in->has_enabled = present(v, "enabled") || create))
        in->enabled = wgm_v_bool(v, "enabled", true);
    if ((j = json_object_get(v->body, "notification_channels"))) {
        size_t i;
        json_t *c;
        if (!json_is_array(j) || json_array_size(j) > 8) {
            wgm_v_fail(v, "notification_channels", "must be an array of at most 8 channel names");
        } else {
            json_array_foreach(j, i, c) {
                if (!json_is_string(c) || !mon_channel_known(json_string_value(c))) {
                    wgm_v_fail(v, "notification_channels",
                               "\"%s\" is not a configured channel (configure webhook_url or email_url in [monitor])",
                               json_is_string(c) ? json_string_value(c) : "?");
                    break;
                }
            }
            in->channels = json_dumps(j, JSON_COMPACT);
        }
    } else if (create) {
        in->channels = strdup("[]");
    }
    if ((j = json_object_get(v->body, "tags"))) {
        const char *k;
        json_t *t;
        if (!json_is_object(j) || json_object_size(j) > 32) {
            wgm_v_fail(v, "tags", "must be an object of at most 32 string values");
        } else {
            json_object_foreach(j, k, t) {
                if (!json_is_string(t) || strlen(k) > 64 || strlen(json_string_value(t)) > 256) {
                    wgm_v_fail(v, "tags", "values must be strings (keys up to 64, values up to 256 characters)");
                    break;
                }
            }
            in->tags = json_dumps(j, JSON_COMPACT);
        }
    } else if (create) {
        in->tags = strdup("{}");
    }
}

/* Parameters 1..11 of both the INSERT and the UPDATE, in column order; a
 * field absent from a PUT binds NULL, which the UPDATE's COALESCE keeps. */
static void bind_rule(struct wgm_stmt *st, const struct rule_in *in)
{
    const struct wgm_host *h = mon.host;
    h->stmt_bind_text(st, 1, in->name);
    h->stmt_bind_text(st, 2, in->description);
    h->stmt_bind_text(st, 3, in->metric_name);
    h->stmt_bind_text(st, 4, in->condition);
    if (in->has_threshold)
        h->stmt_bind_double(st, 5, in->threshold);
    else
        h->stmt_bind_null(st, 5);
    h->stmt_bind_text(st, 6, in->level);
    if (in->has_duration)
        h->stmt_bind_int(st, 7, in->duration);
    else
        h->stmt_bind_null(st, 7);
    if (in->has_enabled)
        h->stmt_bind_int(st, 8, in->enabled);
    else
        h->stmt_bind_null(st, 8);
    if (in->has_cooldown)
        h->stmt_bind_int(st, 9, in->cooldown);
    else
        h->stmt_bind_null(st, 9);
    h->stmt_bind_text(st, 10, in->channels);
    h->stmt_bind_text(st, 11, in->tags);
}

static bool unique_violation(int r)
{
    return r == WGM_DB_ECONSTRAINT;
}

static int conflict(struct wgm_resp *resp)
{
    return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "an alert rule with this name exists",
                          json_pack("{s:s}", "name", "already exists"));
}

static int create_rule(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = mon.host;
    struct wgm_v v;
    struct rule_in in;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL), id = 0;
    json_t *out;
    int r;

    (void)ctx;
    if (!wgm_v_begin(&v, req->body, true))
        return wgm_v_respond(&v, resp);
    read_rule(&v, true, &in);
    if (!wgm_v_ok(&v)) {
        rule_in_free(&in);
        return wgm_v_respond(&v, resp);
    }
    if (!(db = wgm_db_or_503(h, mon.ctx, resp))) {
        rule_in_free(&in);
        wgm_v_end(&v);
        return 0;
    }
    r = h->db_prepare(db,
                      "INSERT INTO mon_alert_rules (name, description, metric_name, condition_op, threshold, level,"
                      " duration, enabled, cooldown_minutes, notification_channels, tags, created_at, updated_at)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &st);
    if (r == 0) {
        bind_rule(st, &in);
        h->stmt_bind_int(st, 12, now);
        h->stmt_bind_int(st, 13, now);
        r = h->stmt_step(st);
        if (r == WGM_DB_DONE)
            id = h->stmt_last_id(st);
    }
    h->stmt_free(st);
    rule_in_free(&in);
    wgm_v_end(&v);
    if (unique_violation(r)) {
        h->db_release(db);
        return conflict(resp);
    }
    if (r < 0 || (r = fetch_rule(db, id, &out)) < 0) {
        h->db_release(db);
        return r;
    }
    h->db_release(db);
    mon_alerts_reload();
    return wgm_resp_json_msg(resp, 201, out, "Alert rule created", "告警规则创建成功");
}

static int list_rules(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = mon.host;
    struct wgm_v v;
    struct wgm_page pg;
    const char *level, *enabled;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    long long total = 0;
    json_t *list = json_array();
    int r, en = -1;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    level = wgm_v_query_enum(&v, req, "level", LEVELS);
    enabled = wgm_v_query_enum(&v, req, "enabled", "true|false");
    if (!wgm_v_ok(&v)) {
        json_decref(list);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if (enabled)
        en = strcmp(enabled, "true") == 0;
    if (!(db = wgm_db_or_503(h, mon.ctx, resp))) {
        json_decref(list);
        return 0;
    }
    r = h->db_prepare(db, "SELECT COUNT(*) FROM mon_alert_rules WHERE (? IS NULL OR level = ?) AND (? < 0 OR enabled = ?)", &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, level);
        h->stmt_bind_text(st, 2, level);
        h->stmt_bind_int(st, 3, en);
        h->stmt_bind_int(st, 4, en);
        if ((r = h->stmt_step(st)) == WGM_DB_ROW)
            total = h->stmt_column_int(st, 0);
    }
    h->stmt_free(st);
    st = NULL;
    if (r >= 0)
        r = h->db_prepare(db,
                          "SELECT " RULE_COLUMNS " FROM mon_alert_rules WHERE (? IS NULL OR level = ?)"
                          " AND (? < 0 OR enabled = ?) ORDER BY id LIMIT ? OFFSET ?",
                          &st);
    if (r >= 0) {
        h->stmt_bind_text(st, 1, level);
        h->stmt_bind_text(st, 2, level);
        h->stmt_bind_int(st, 3, en);
        h->stmt_bind_int(st, 4, en);
        h->stmt_bind_int(st, 5, pg.size);
        h->stmt_bind_int(st, 6, (pg.page - 1) * pg.size);
        while ((r = h->stmt_step(st)) == WGM_DB_ROW)
            json_array_append_new(list, rule_json(st));
    }
    h->stmt_free(st);
    h->db_release(db);
    if (r < 0) {
        json_decref(list);
        return r;
    }
    return wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "rules", list, "pagination", wgm_pagination(&pg, total)));
}

static int get_rule(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_db *db;
    int64_t id;
    json_t *out;
    int r;
    (void)ctx;
    if (wgm_v_path_id(req, resp, "alert rule", &id) < 0)
        return 0;
    if (!(db = wgm_db_or_503(mon.host, mon.ctx, resp)))
        return 0;
    r = fetch_rule(db, id, &out);
    mon.host->db_release(db);
    if (r == -ENOENT)
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "alert rule not found", NULL);
    return r < 0 ? r : wgm_resp_json(resp, 200, out);
}

/* Only the fields given change; each is bound as NULL when absent and
 * COALESCE keeps the stored value. */
static int update_rule(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = mon.host;
    struct wgm_v v;
    struct rule_in in;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    int64_t id;
    json_t *out;
    int r;

    (void)ctx;
    if (wgm_v_path_id(req, resp, "alert rule", &id) < 0)
        return 0;
    if (!wgm_v_begin(&v, req->body, true))
        return wgm_v_respond(&v, resp);
    read_rule(&v, false, &in);
    if (json_is_null(json_object_get(req->body, "description")))
        in.description = "";
    if (!wgm_v_ok(&v)) {
        rule_in_free(&in);
        return wgm_v_respond(&v, resp);
    }
    if (!(db = wgm_db_or_503(h, mon.ctx, resp))) {
        rule_in_free(&in);
        wgm_v_end(&v);
        return 0;
    }
    r = h->db_prepare(db,
                      "UPDATE mon_alert_rules SET name = COALESCE(?, name), description = COALESCE(?, description),"
                      " metric_name = COALESCE(?, metric_name), condition_op = COALESCE(?, condition_op),"
                      " threshold = COALESCE(?, threshold), level = COALESCE(?, level), duration = COALESCE(?, duration),"
                      " enabled = COALESCE(?, enabled), cooldown_minutes = COALESCE(?, cooldown_minutes),"
                      " notification_channels = COALESCE(?, notification_channels), tags = COALESCE(?, tags),"
                      " updated_at = ? WHERE id = ?",
                      &st);
    if (r == 0) {
        bind_rule(st, &in);
        h->stmt_bind_int(st, 12, (int64_t)time(NULL));
        h->stmt_bind_int(st, 13, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    rule_in_free(&in);
    wgm_v_end(&v);
    if (unique_violation(r)) {
        h->db_release(db);
        return conflict(resp);
    }
    if (r >= 0)
        r = fetch_rule(db, id, &out);
    h->db_release(db);
    if (r == -ENOENT)
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "alert rule not found", NULL);
    if (r < 0)
        return r;
    mon_alerts_reload();
    return wgm_resp_json_msg(resp, 200, out, "Alert rule updated", "告警规则更新成功");
}

static int delete_rule(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = mon.host;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    int64_t id, gone = 0;
    int r;

    (void)ctx;
    if (wgm_v_path_id(req, resp, "alert rule", &id) < 0)
        return 0;
    if (!(db = wgm_db_or_503(h, mon.ctx, resp)))
        return 0;
    if ((r = h->db_begin(db)) < 0)
        goto out;
    if ((r = h->db_prepare(db, "DELETE FROM mon_alert_rules WHERE id = ?", &st)) == 0) {
        h->stmt_bind_int(st, 1, id);
        if ((r = h->stmt_step(st)) >= 0)
            gone = h->stmt_changes(st);
    }
    h->stmt_free(st);
    st = NULL;
    /* an alert of a rule that no longer exists can never resolve by itself */
    if (r >= 0 && gone &&
        (r = h->db_prepare(db,
                           "UPDATE mon_alerts SET status = 'resolved', resolved_at = ?,"
                           " message = 'resolved: the rule was deleted' WHERE rule_id = ? AND status = 'active'",
                           &st)) == 0) {
        h->stmt_bind_int(st, 1, (int64_t)time(NULL));
        h->stmt_bind_int(st, 2, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    r = r < 0 || !gone ? h->db_rollback(db), r : h->db_commit(db);
out:
    h->db_release(db);
    if (r < 0)
        return r;
    if (!gone)
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "alert rule not found", NULL);
    mon_alerts_reload();
    return wgm_resp_json_msg(resp, 200, json_pack("{s:I}", "id", (json_int_t)id), "Alert rule deleted",
                             "告警规则删除成功");
}

/* "alert_12" (as the spec writes alert ids) or "12". */
static int alert_id(const struct wgm_req *req, struct wgm_resp *resp, int64_t *id)
{
    const char *s = mon.host->req_param(req, "id");
    long long v;
    if (s && strncmp(s, "alert_", 6) == 0)
        s += 6;
    if (!s || wgm_in_parse_ll(s, 1, INT64_MAX, &v) < 0) {
        wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such alert", json_pack("{s:s}", "id", s ? s : ""));
        return 0;
    }
    *id = v;
    return 1;
}

static int list_alerts(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = mon.host;
    struct wgm_v v;
    struct wgm_page pg;
    const char *status, *level, *ack;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    long long total = 0;
    json_t *list = json_array();
    int r, acked = -1;
    static const char *const where = " WHERE (? IS NULL OR status = ?) AND (? IS NULL OR level = ?)"
                                     " AND (? < 0 OR acknowledged = ?)";

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    status = wgm_v_query_enum(&v, req, "status", "active|resolved");
    level = wgm_v_query_enum(&v, req, "level", LEVELS);
    ack = wgm_v_query_enum(&v, req, "acknowledged", "true|false");
    if (!wgm_v_ok(&v)) {
        json_decref(list);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if (ack)
        acked = strcmp(ack, "true") == 0;
    if (!(db = wgm_db_or_503(h, mon.ctx, resp))) {
        json_decref(list);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        char sql[512];
        snprintf(sql, sizeof(sql), pass ? "SELECT " MON_ALERT_COLUMNS " FROM mon_alerts%s ORDER BY id DESC LIMIT ? OFFSET ?"
                                        : "SELECT COUNT(*) FROM mon_alerts%s",
                 where);
        if ((r = h->db_prepare(db, sql, &st)) < 0)
            break;
        h->stmt_bind_text(st, 1, status);
        h->stmt_bind_text(st, 2, status);
        h->stmt_bind_text(st, 3, level);
        h->stmt_bind_text(st, 4, level);
        h->stmt_bind_int(st, 5, acked);
        h->stmt_bind_int(st, 6, acked);
        if (pass) {
            h->stmt_bind_int(st, 7, pg.size);
            h->stmt_bind_int(st, 8, (pg.page - 1) * pg.size);
            while ((r = h->stmt_step(st)) == WGM_DB_ROW)
                json_array_append_new(list, mon_alert_json(st));
        } else if ((r = h->stmt_step(st)) == WGM_DB_ROW) {
            total = h->stmt_column_int(st, 0);
        }
        h->stmt_free(st);
        st = NULL;
        if (r < 0)
            break;
    }
    h->db_release(db);
    if (r < 0) {
        json_decref(list);
        return r;
    }
    return wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "alerts", list, "pagination", wgm_pagination(&pg, total)));
}

static int acknowledge(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = mon.host;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    const char *who = "";
    int64_t id;
    json_t *out = NULL;
    int r;

    (void)ctx;
    if ((r = alert_id(req, resp, &id)) <= 0)
        return r;
    h->req_user(req, &who);
    if (!(db = wgm_db_or_503(h, mon.ctx, resp)))
        return 0;
    /* the first acknowledgement stays: who saw it first is what matters */
    r = h->db_prepare(db,
                      "UPDATE mon_alerts SET acknowledged = 1, acknowledged_by = ?, acknowledged_at = ?"
                      " WHERE id = ? AND acknowledged = 0",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, who);
        h->stmt_bind_int(st, 2, (int64_t)time(NULL));
        h->stmt_bind_int(st, 3, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    st = NULL;
    if (r >= 0 && (r = h->db_prepare(db, "SELECT " MON_ALERT_COLUMNS " FROM mon_alerts WHERE id = ?", &st)) == 0) {
        h->stmt_bind_int(st, 1, id);
        if ((r = h->stmt_step(st)) == WGM_DB_ROW)
            out = mon_alert_json(st);
    }
    h->stmt_free(st);
    h->db_release(db);
    if (r < 0)
        return r;
    if (!out)
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "alert not found", NULL);
    return wgm_resp_json_msg(resp, 200, out, "Alert acknowledged", "告警确认成功");
}

int mon_api_alerts_register(void)
{
    static const struct {
        const char *method, *path, *permission;
        wgm_handler_fn handler;
    } routes[] = {
        {"GET", "/monitoring/alerts/rules", "monitoring.view", list_rules},
        {"POST", "/monitoring/alerts/rules", "monitoring.edit", create_rule},
        {"GET", "/monitoring/alerts/rules/{id}", "monitoring.view", get_rule},
        {"PUT", "/monitoring/alerts/rules/{id}", "monitoring.edit", update_rule},
        {"DELETE", "/monitoring/alerts/rules/{id}", "monitoring.edit", delete_rule},
        {"GET", "/monitoring/alerts", "monitoring.view", list_alerts},
        {"POST", "/monitoring/alerts/{id}/acknowledge", "monitoring.edit", acknowledge},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        int r = mon.host->route_add(mon.ctx, routes[i].method, routes[i].path, routes[i].permission, routes[i].handler);
        if (r < 0)
            return r;
    }
    return 0;
}
