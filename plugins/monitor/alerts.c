/* plugins/monitor/alerts: alert rules held in memory, evaluated on every
 * sample (rule_eval.c decides), and what firing and resolving do: a row in
 * mon_alerts, an `alert` event for the WebSocket, and notifications
 * through the rule's channels unless the rule's cooldown says not yet.
 * Decisions are taken under the rules lock; database writes, events and
 * notifications happen after it is released. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wgm/input.h>
#include "monitor.h"
#include "rule_eval.h"

struct rule {
    int64_t id;
    char name[129];
    char metric_name[65];
    char level[16];
    int metric;
    enum mon_cond cond;
    double threshold;
    int64_t duration_s, cooldown_s;
    bool enabled;
    json_t *channels;
    struct mon_rule_state st;
    int64_t alert_id;          /* the active alert while firing */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rule *rules;
static size_t n_rules;

/* What to do once the lock is released. */
struct action {
    enum mon_transition what;
    struct rule r;             /* copy; channels referenced */
    double value;
    bool has_value, notify;
};

static void rules_free(struct rule *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(list[i].channels);
    free(list);
}

static const struct rule *find(const struct rule *list, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].id == id)
            return &list[i];
    return NULL;
}

/* The active alert of each rule, so a restart resolves what was firing. */
static void load_active(struct wgm_db *db, struct rule *list, size_t n)
{
    const struct wgm_host *h = mon.host;
    struct wgm_stmt *st = NULL;
    if (h->db_prepare(db, "SELECT rule_id, id, created_at FROM mon_alerts WHERE status = 'active' AND host = ?", &st) < 0)
        return;
    h->stmt_bind_text(st, 1, mon.host_tag);
    while (h->stmt_step(st) == WGM_DB_ROW) {
        struct rule *r = (struct rule *)find(list, n, h->stmt_column_int(st, 0));
        if (r && r->st.phase != RULE_FIRING) {
            r->st.phase = RULE_FIRING;
            r->st.notified = true;
            r->st.last_notified = h->stmt_column_int(st, 2);
            r->alert_id = h->stmt_column_int(st, 1);
        }
    }
    h->stmt_free(st);
}

/* One row of the rules SELECT below into @x. */
static void rule_from_row(struct wgm_stmt *st, struct rule *x)
{
    const struct wgm_host *h = mon.host;
    memset(x, 0, sizeof(*x));
    x->id = h->stmt_column_int(st, 0);
    snprintf(x->name, sizeof(x->name), "%s", h->stmt_column_text(st, 1));
    snprintf(x->metric_name, sizeof(x->metric_name), "%s", h->stmt_column_text(st, 2));
    x->metric = mon_metric_lookup(x->metric_name);
    if (!mon_cond_parse(h->stmt_column_text(st, 3), &x->cond))
        x->metric = -1; /* never evaluated */
    x->threshold = h->stmt_column_double(st, 4);
    snprintf(x->level, sizeof(x->level), "%s", h->stmt_column_text(st, 5));
    x->duration_s = h->stmt_column_int(st, 6);
    x->enabled = h->stmt_column_int(st, 7) != 0;
    x->cooldown_s = h->stmt_column_int(st, 8) * 60;
    x->channels = json_loads(h->stmt_column_text(st, 9), 0, NULL);
    if (!json_is_array(x->channels)) {
        json_decref(x->channels);
        x->channels = json_array();
    }
}

int mon_alerts_reload(void)
{
    const struct wgm_host *h = mon.host;
    struct wgm_db *db = h->db_acquire(mon.ctx);
    struct wgm_stmt *st = NULL;
    struct rule *list = NULL;
    size_t n = 0;
    int r;

    if (!db)
        return -EAGAIN;
    r = h->db_prepare(db,
                      "SELECT id, name, metric_name, condition_op, threshold, level, duration, enabled,"
                      " cooldown_minutes, notification_channels FROM mon_alert_rules ORDER BY id",
                      &st);
    /* The step's result is tested alone: r is WGM_DB_ROW after each row, so
     * a loop condition that also wants r == 0 stops after the first rule. */
    if (r == 0) {
        while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
            struct rule *nl = realloc(list, (n + 1) * sizeof(*nl));
            if (!nl) {
                r = -ENOMEM;
                break;
            }
            list = nl;
            rule_from_row(st, &list[n++]);
        }
    }
    h->stmt_free(st);
    if (r < 0) {
        h->db_release(db);
        rules_free(list, n);
        return r;
    }
    load_active(db, list, n);
    h->db_release(db);
    pthread_mutex_lock(&lock);
    /* rules that stay keep their evaluation state */
    for (size_t i = 0; i < n; i++) {
        const struct rule *old = find(rules, n_rules, list[i].id);
        if (old) {
            list[i].st = old->st;
            list[i].alert_id = old->alert_id;
        }
    }
    rules_free(rules, n_rules);
    rules = list;
    n_rules = n;
    pthread_mutex_unlock(&lock);
    return 0;
}

int mon_alerts_init(void)
{
    return mon_alerts_reload();
}

void mon_alerts_fini(void)
{
    pthread_mutex_lock(&lock);
    rules_free(rules, n_rules);
    rules = NULL;
    n_rules = 0;
    pthread_mutex_unlock(&lock);
}

static void format_value(char *buf, size_t len, double v)
{
    snprintf(buf, len, "%.6g", v);
}

/* The spec's alert object from the fields of an alert. */
static json_t *alert_object(int64_t id, int64_t rule_id, const char *name, const char *level, const char *status,
                            const char *metric, bool has_value, double value, double threshold, const char *cond,
                            const char *message, int64_t created, int64_t resolved, bool ack, const char *ack_by,
                            int64_t ack_at)
{
    char sid[32], c[32], rs[32], as[32];
    snprintf(sid, sizeof(sid), "alert_%lld", (long long)id);
    wgm_time_format(created, c, sizeof(c));
    if (resolved)
        wgm_time_format(resolved, rs, sizeof(rs));
    if (ack_at)
        wgm_time_format(ack_at, as, sizeof(as));
    return json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:o,s:f,s:s,s:s,s:s,s:o,s:b,s:o,s:o}", "id", sid, "rule_id",
                     (json_int_t)rule_id, "name", name, "level", level, "status", status, "metric_name", metric,
                     "current_value", has_value ? json_real(value) : json_null(), "threshold", threshold, "condition",
                     cond, "message", message, "created_at", c, "resolved_at",
                     resolved ? json_string(rs) : json_null(), "acknowledged", ack, "acknowledged_by",
                     ack_by ? json_string(ack_by) : json_null(), "acknowledged_at",
                     ack_at ? json_string(as) : json_null());
}

json_t *mon_alert_json(struct wgm_stmt *st)
{
    const struct wgm_host *h = mon.host;
    return alert_object(h->stmt_column_int(st, 0), h->stmt_column_int(st, 1), h->stmt_column_text(st, 2),
                        h->stmt_column_text(st, 3), h->stmt_column_text(st, 4), h->stmt_column_text(st, 5),
                        h->stmt_column_type(st, 6) != WGM_DB_NULL, h->stmt_column_double(st, 6),
                        h->stmt_column_double(st, 7), h->stmt_column_text(st, 8), h->stmt_column_text(st, 9),
                        h->stmt_column_int(st, 10), h->stmt_column_int(st, 11), h->stmt_column_int(st, 12) != 0,
                        h->stmt_column_text(st, 13), h->stmt_column_int(st, 14));
}

static int64_t insert_alert(const struct action *a, const char *message, int64_t now)
{
    const struct wgm_host *h = mon.host;
    struct wgm_db *db = h->db_acquire(mon.ctx);
    struct wgm_stmt *st = NULL;
    int64_t id = 0;

    if (!db)
        return 0;
    if (h->db_prepare(db,
                      "INSERT INTO mon_alerts (rule_id, name, level, status, metric_name, current_value, threshold,"
                      " condition_op, message, host, created_at) VALUES (?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)",
                      &st) == 0) {
        h->stmt_bind_int(st, 1, a->r.id);
        h->stmt_bind_text(st, 2, a->r.name);
        h->stmt_bind_text(st, 3, a->r.level);
        h->stmt_bind_text(st, 4, a->r.metric_name);
        h->stmt_bind_double(st, 5, a->value);
        h->stmt_bind_double(st, 6, a->r.threshold);
        h->stmt_bind_text(st, 7, mon_cond_name(a->r.cond));
        h->stmt_bind_text(st, 8, message);
        h->stmt_bind_text(st, 9, mon.host_tag);
        h->stmt_bind_int(st, 10, now);
        if (h->stmt_step(st) == WGM_DB_DONE)
            id = h->stmt_last_id(st);
    }
    h->stmt_free(st);
    h->db_release(db);
    if (!id)
        MON_LOG(WGM_LOG_WARN, "alert %s fired but could not be stored", a->r.name);
    return id;
}

static void resolve_alert(int64_t id, const struct action *a, int64_t now)
{
    const struct wgm_host *h = mon.host;
    struct wgm_db *db = h->db_acquire(mon.ctx);
    struct wgm_stmt *st = NULL;
    if (!db)
        return;
    if (h->db_prepare(db, "UPDATE mon_alerts SET status = 'resolved', resolved_at = ?, current_value = ? WHERE id = ?",
                      &st) == 0) {
        h->stmt_bind_int(st, 1, now);
        if (a->has_value)
            h->stmt_bind_double(st, 2, a->value);
        else
            h->stmt_bind_null(st, 2);
        h->stmt_bind_int(st, 3, id);
        h->stmt_step(st);
    }
    h->stmt_free(st);
    h->db_release(db);
}

static void announce(const struct action *a, int64_t alert_id, const char *status, const char *message, int64_t now)
{
    json_t *data = alert_object(alert_id, a->r.id, a->r.name, a->r.level, status, a->r.metric_name, a->has_value,
                                a->value, a->r.threshold, mon_cond_name(a->r.cond), message, now,
                                strcmp(status, "resolved") == 0 ? now : 0, false, NULL, 0);
    if (!data)
        return;
    if (a->notify && a->r.channels && json_array_size(a->r.channels)) {
        char ts[32], subject[384], app[128], *body;
        char text[1024];
        wgm_time_format(now, ts, sizeof(ts));
        mon_appname(app, sizeof(app));
        snprintf(subject, sizeof(subject), "[%s %s] %s: %s", app, a->r.level, status, a->r.name);
        snprintf(text, sizeof(text), "%s\n\nlevel: %s\nstatus: %s\nmetric: %s %s %g\nhost: %s\ntime: %s\n", message, a->r.level, status, a->r.metric_name, mon_cond_name(a->r.cond),
                 a->r.threshold, mon.host_tag, ts);
        json_t *msg = json_pack("{s:s,s:O,s:s,s:s,s:s}", "type", "alert", "data", data, "timestamp", ts, "app_name", app,
                                "host", mon.host_tag);
        if (msg && (body = json_dumps(msg, JSON_COMPACT))) {
            mon_channels_send(a->r.channels, subject, text, body);
            free(body);
        }
        json_decref(msg);
    }
    mon.host->publish(mon.ctx, "alert", data);
}

static void run(struct action *a, int64_t now)
{
    char message[512], v[32], t[32];
    format_value(v, sizeof(v), a->value);
    format_value(t, sizeof(t), a->r.threshold);
    if (a->what == TRANS_FIRE) {
        int64_t id;
        snprintf(message, sizeof(message), "%s: %s is %s, %s %s", a->r.name, a->r.metric_name, v,
                 mon_cond_name(a->r.cond), t);
        id = insert_alert(a, message, now);
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_rules; i++)
            if (rules[i].id == a->r.id)
                rules[i].alert_id = id;
        pthread_mutex_unlock(&lock);
        if (id)
            announce(a, id, "active", message, now);
    } else if (a->what == TRANS_RESOLVE && a->r.alert_id) {
        if (a->has_value)
            snprintf(message, sizeof(message), "%s: resolved, %s is %s", a->r.name, a->r.metric_name, v);
        else
            snprintf(message, sizeof(message), "%s: resolved, %s is no longer reported", a->r.name, a->r.metric_name);
        resolve_alert(a->r.alert_id, a, now);
        announce(a, a->r.alert_id, "resolved", message, now);
    }
}

void mon_alerts_evaluate(const struct mon_values *values, int64_t now)
{
    struct action *actions = NULL;
    size_t n = 0;

    pthread_mutex_lock(&lock);
    if (n_rules && !(actions = calloc(n_rules, sizeof(*actions)))) {
        pthread_mutex_unlock(&lock);
        return;
    }
    for (size_t i = 0; i < n_rules; i++) {
        struct rule *r = &rules[i];
        bool has = r->metric >= 0 && values->has[r->metric];
        double value = has ? values->v[r->metric] : NAN;
        bool holds = r->enabled && has && mon_cond_holds(r->cond, value, r->threshold);
        enum mon_transition t = mon_rule_step(&r->st, holds, now, r->duration_s);
        if (t == TRANS_NONE)
            continue;
        struct action *a = &actions[n++];
        a->what = t;
        a->r = *r;
        a->r.channels = json_incref(r->channels);
        a->value = has ? value : 0;
        a->has_value = has;
        a->notify = t == TRANS_FIRE ? mon_rule_notify_fire(&r->st, now, r->cooldown_s) : r->st.notified;
        if (t == TRANS_RESOLVE)
            r->alert_id = 0;
    }
    pthread_mutex_unlock(&lock);
    for (size_t i = 0; i < n; i++) {
        run(&actions[i], now);
        json_decref(actions[i].r.channels);
    }
    free(actions);
}

const char *mon_alerts_rule_state(int64_t id)
{
    const char *s = "ok";
    pthread_mutex_lock(&lock);
    const struct rule *r = find(rules, n_rules, id);
    if (r)
        s = r->st.phase == RULE_FIRING ? "firing" : r->st.phase == RULE_PENDING ? "pending" : "ok";
    pthread_mutex_unlock(&lock);
    return s;
}

json_t *mon_alerts_summary(struct wgm_db *db, int64_t since)
{
    const struct wgm_host *h = mon.host;
    struct wgm_stmt *st = NULL;
    json_t *out = json_pack("{s:i,s:i,s:i,s:i,s:i}", "active", 0, "critical", 0, "error", 0, "warning", 0, "info", 0);
    json_t *recent = json_array();
    json_int_t active = 0;

    if (h->db_prepare(db, "SELECT level, COUNT(*) FROM mon_alerts WHERE status = 'active' GROUP BY level", &st) == 0) {
        while (h->stmt_step(st) == WGM_DB_ROW) {
            json_int_t c = h->stmt_column_int(st, 1);
            const char *level = h->stmt_column_text(st, 0);
            active += c;
            if (level && json_object_get(out, level))
                json_object_set_new(out, level, json_integer(c));
        }
    }
    h->stmt_free(st);
    st = NULL;
    json_object_set_new(out, "active", json_integer(active));
    if (h->db_prepare(db, "SELECT " MON_ALERT_COLUMNS " FROM mon_alerts WHERE created_at >= ? ORDER BY id DESC LIMIT 10",
                      &st) == 0) {
        h->stmt_bind_int(st, 1, since);
        while (h->stmt_step(st) == WGM_DB_ROW)
            json_array_append_new(recent, mon_alert_json(st));
    }
    h->stmt_free(st);
    json_object_set_new(out, "recent", recent);
    return out;
}
