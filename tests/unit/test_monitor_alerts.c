/* plugins/monitor/alerts.c against a host table whose database is a fixed
 * list of rule rows: every rule the SELECT returns is loaded and evaluated
 * on its own (the reload loop once stopped after the first row), each fires
 * and resolves with its own alert and its own notification, and a reload
 * after a change keeps the state of the rules that stay. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "monitor.h"

/* ------------------------------------------------------------------ */
/* Fake database: SELECT ... FROM mon_alert_rules returns rows[];
 * everything else is done at once.                                   */

struct fake_rule {
    int64_t id;
    const char *name, *metric, *cond;
    double threshold;
    const char *level;
    int64_t duration;
    int enabled;
};

static struct fake_rule rows[8];
static size_t n_rows;
static int64_t next_alert_id = 100;
static int inserts, updates, sends;
static char last_subject[512];

struct wgm_db {
    int unused;
};
struct wgm_stmt {
    bool rules;   /* the rules SELECT */
    bool insert;  /* INSERT INTO mon_alerts */
    size_t at;    /* next row */
    const struct fake_rule *cur;
    char text[64];
};

static struct wgm_db the_db;

static struct wgm_db *f_acquire(struct wgm_ctx *ctx)
{
    (void)ctx;
    return &the_db;
}
static void f_release(struct wgm_db *db)
{
    (void)db;
}
static int f_prepare(struct wgm_db *db, const char *sql, struct wgm_stmt **out)
{
    struct wgm_stmt *st = calloc(1, sizeof(*st));
    (void)db;
    if (!st)
        return -ENOMEM;
    st->rules = strstr(sql, "FROM mon_alert_rules") != NULL;
    st->insert = strncmp(sql, "INSERT INTO mon_alerts", 22) == 0;
    if (strncmp(sql, "UPDATE mon_alerts", 17) == 0)
        updates++;
    *out = st;
    return 0;
}
static int f_bind_int(struct wgm_stmt *st, int i, int64_t v)
{
    (void)st, (void)i, (void)v;
    return 0;
}
static int f_bind_double(struct wgm_stmt *st, int i, double v)
{
    (void)st, (void)i, (void)v;
    return 0;
}
static int f_bind_text(struct wgm_stmt *st, int i, const char *v)
{
    (void)st, (void)i, (void)v;
    return 0;
}
static int f_bind_null(struct wgm_stmt *st, int i)
{
    (void)st, (void)i;
    return 0;
}
static int f_step(struct wgm_stmt *st)
{
    if (st->insert) {
        inserts++;
        return WGM_DB_DONE;
    }
    if (!st->rules || st->at >= n_rows)
        return WGM_DB_DONE;
    st->cur = &rows[st->at++];
    return WGM_DB_ROW;
}
static int64_t f_col_int(struct wgm_stmt *st, int col)
{
    const struct fake_rule *r = st->cur;
    switch (col) {
    case 0:
        return r->id;
    case 6:
        return r->duration;
    case 7:
        return r->enabled;
    case 8:
        return 0; /* cooldown_minutes */
    }
    return 0;
}
static double f_col_double(struct wgm_stmt *st, int col)
{
    return col == 4 ? st->cur->threshold : 0;
}
static const char *f_col_text(struct wgm_stmt *st, int col)
{
    const struct fake_rule *r = st->cur;
    switch (col) {
    case 1:
        return r->name;
    case 2:
        return r->metric;
    case 3:
        return r->cond;
    case 5:
        return r->level;
    case 9:
        return "[\"webhook\"]";
    }
    return NULL;
}
static int64_t f_last_id(struct wgm_stmt *st)
{
    (void)st;
    return next_alert_id++;
}
static void f_free(struct wgm_stmt *st)
{
    free(st);
}
static int f_publish(struct wgm_ctx *ctx, const char *topic, json_t *payload)
{
    (void)ctx, (void)topic;
    json_decref(payload);
    return 0;
}
static int f_subscribe(struct wgm_ctx *ctx, const char *topic, wgm_event_fn fn, void *data)
{
    (void)ctx, (void)topic, (void)fn, (void)data;
    return 0;
}
static void f_log(struct wgm_ctx *ctx, enum wgm_log_level level, const char *fmt, ...)
{
    (void)ctx, (void)level, (void)fmt;
}

struct mon_plugin mon;

/* channels.c's entry point: count what would be sent. */
int mon_channels_send(json_t *channels, const char *subject, const char *text, const char *json)
{
    (void)channels, (void)text, (void)json;
    sends++;
    snprintf(last_subject, sizeof(last_subject), "%s", subject);
    return 0;
}

static void setup_host(struct wgm_host *h)
{
    memset(h, 0, sizeof(*h));
    h->struct_size = sizeof(*h);
    h->db_acquire = f_acquire;
    h->db_release = f_release;
    h->db_prepare = f_prepare;
    h->stmt_bind_int = f_bind_int;
    h->stmt_bind_double = f_bind_double;
    h->stmt_bind_text = f_bind_text;
    h->stmt_bind_null = f_bind_null;
    h->stmt_step = f_step;
    h->stmt_column_int = f_col_int;
    h->stmt_column_double = f_col_double;
    h->stmt_column_text = f_col_text;
    h->stmt_last_id = f_last_id;
    h->stmt_free = f_free;
    h->publish = f_publish;
    h->subscribe = f_subscribe;
    h->log = f_log;
}

static void values(struct mon_values *v, double mem, double load5, double temp)
{
    memset(v, 0, sizeof(*v));
    v->has[M_MEMORY_USAGE] = v->has[M_CPU_LOAD5] = v->has[M_CPU_TEMPERATURE] = true;
    v->v[M_MEMORY_USAGE] = mem;
    v->v[M_CPU_LOAD5] = load5;
    v->v[M_CPU_TEMPERATURE] = temp;
}

int main(void)
{
    static struct wgm_host host;
    struct mon_values v;
    int64_t t = 1000000;

    setup_host(&host);
    mon.host = &host;
    snprintf(mon.host_tag, sizeof(mon.host_tag), "test");
    rows[0] = (struct fake_rule){1, "mem", "memory.usage", ">", 10, "warning", 0, 1};
    rows[1] = (struct fake_rule){2, "load", "cpu.load5", ">=", 1.0, "critical", 0, 1};
    rows[2] = (struct fake_rule){3, "temp", "system.cpu.temperature", "<", 100, "info", 0, 1};
    rows[3] = (struct fake_rule){4, "never", "cpu.load5", "<", 0, "error", 0, 1};
    n_rows = 4;

    is_int(mon_alerts_reload(), 0, "reload");
    values(&v, 50, 2, 60);
    mon_alerts_evaluate(&v, t++);
    is_str(mon_alerts_rule_state(1), "firing", "rule 1 (lowest id) fires");
    is_str(mon_alerts_rule_state(2), "firing", "rule 2 fires: every row was loaded");
    is_str(mon_alerts_rule_state(3), "firing", "rule 3 fires (system. prefix, <)");
    is_str(mon_alerts_rule_state(4), "ok", "rule 4 never holds");
    is_int(inserts, 3, "one alert row per firing rule");
    is_int(sends, 3, "one notification per firing rule");
    ok(strcmp(last_subject, "[wgm info] active: temp") == 0, "subject names app, level, rule (%s)", last_subject);

    /* the same values again: nothing new */
    mon_alerts_evaluate(&v, t++);
    is_int(inserts, 3, "a firing rule does not fire again");

    /* only load stops holding: only rule 2 resolves */
    values(&v, 50, 0.5, 60);
    updates = 0;
    mon_alerts_evaluate(&v, t++);
    is_str(mon_alerts_rule_state(2), "ok", "rule 2 resolved");
    is_str(mon_alerts_rule_state(1), "firing", "rule 1 still firing");
    is_str(mon_alerts_rule_state(3), "firing", "rule 3 still firing");
    is_int(updates, 1, "one alert resolved");
    is_int(sends, 4, "the resolution notified");

    /* a change at run time: rule 4 now holds, rule 5 is new, rule 1 is gone */
    rows[0] = rows[1];
    rows[1] = rows[2];
    rows[2] = (struct fake_rule){4, "never", "cpu.load5", ">", 0, "error", 0, 1};
    rows[3] = (struct fake_rule){5, "added", "memory.usage", ">", 0, "warning", 0, 1};
    n_rows = 4;
    is_int(mon_alerts_reload(), 0, "reload after the change");
    is_str(mon_alerts_rule_state(3), "firing", "a rule that stays keeps its state");
    is_str(mon_alerts_rule_state(1), "ok", "a deleted rule is no longer known");
    mon_alerts_evaluate(&v, t++);
    is_str(mon_alerts_rule_state(4), "firing", "the changed rule fires at the next sample");
    is_str(mon_alerts_rule_state(5), "firing", "the added rule fires at the next sample");
    is_int(inserts, 5, "two more alerts, none for the rule that stayed firing");

    mon_alerts_fini();
    return done_testing();
}
