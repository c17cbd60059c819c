/* plugins/monitor/api_metrics: GET /monitoring/metrics (what can be asked
 * for) and GET /monitoring/metrics/system (history of one metric).  History
 * comes from the rollup buckets (1m, 5m, 15m, 1h) or, with the extension
 * interval=raw, from the in-memory ring of recent samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wgm/input.h>
#include "monitor.h"

#define MAX_POINTS 2000

static int list_metrics(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    json_t *list = json_array(), *intervals = json_array(), *retention = json_object();
    (void)ctx;
    (void)req;
    pthread_mutex_lock(&mon.lock);
    for (int i = 0; i < M_COUNT; i++)
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "name", mon_metrics[i].name, "unit",
                                              mon_metrics[i].unit, "category", mon_metrics[i].category, "description",
                                              mon_metrics[i].description, "current_value",
                                              mon.values.has[i] ? json_real(mon.values.v[i]) : json_null(),
                                              "deprecated", 0));
    /* old names still answer (history, rules) and say what replaced them */
    for (size_t a = 0; a < mon_metric_aliases_count; a++) {
        int i = mon_metric_aliases[a].metric;
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:o,s:b,s:s}", "name", mon_metric_aliases[a].name,
                                              "unit", mon_metrics[i].unit, "category", mon_metrics[i].category,
                                              "description", mon_metrics[i].description, "current_value",
                                              mon.values.has[i] ? json_real(mon.values.v[i]) : json_null(),
                                              "deprecated", 1, "replaced_by", mon_metrics[i].name));
    }
    pthread_mutex_unlock(&mon.lock);
    for (int r = 0; r < MON_RES_COUNT; r++) {
        json_array_append_new(intervals, json_string(mon_resolution_names[r]));
        json_object_set_new(retention, mon_resolution_names[r], json_integer(mon.retention_s[r]));
    }
    json_array_append_new(intervals, json_string("raw"));
    return wgm_resp_json(resp, 200,
                         json_pack("{s:o,s:o,s:o,s:i,s:s}", "metrics", list, "intervals", intervals, "retention_seconds",
                                   retention, "sample_interval_seconds", (int)mon.interval_s, "host", mon.host_tag));
}

static json_t *point(int64_t t, double value, const struct mon_bucket *b, const char *host)
{
    char ts[32];
    json_t *p;
    wgm_time_format(t, ts, sizeof(ts));
    p = json_pack("{s:s,s:f,s:{s:s}}", "timestamp", ts, "value", value, "tags", "host", host);
    if (p && b) {
        json_object_set_new(p, "min", json_real(b->min));
        json_object_set_new(p, "max", json_real(b->max));
        json_object_set_new(p, "count", json_integer(b->count));
    }
    return p;
}

/* Points of the ring (this node only) within [from, to], oldest first. */
static json_t *raw_points(int metric, int64_t from, int64_t to, struct mon_bucket *total)
{
    json_t *out = json_array();
    pthread_mutex_lock(&mon.lock);
    for (size_t i = mon.rollup.ring_len; i-- > 0;) {
        const struct mon_raw *s = mon_rollup_raw(&mon.rollup, i);
        if (!s || s->t < from || s->t > to || !s->values.has[metric])
            continue;
        struct mon_bucket b = {s->t, s->values.v[metric], s->values.v[metric], s->values.v[metric], 1};
        mon_bucket_merge(total, &b);
        json_array_append_new(out, point(s->t, s->values.v[metric], NULL, mon.host_tag));
    }
    pthread_mutex_unlock(&mon.lock);
    return out;
}

static int history(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const char *name = wgm_req_query(req, "metric"), *start = wgm_req_query(req, "start_time"),
               *end = wgm_req_query(req, "end_time"), *interval = wgm_req_query(req, "interval"),
               *host = wgm_req_query(req, "host");
    int64_t from_ms = 0, to_ms = 0, from, to;
    int metric = -1, res = -1, r;
    bool raw = false;
    struct wgm_v v;
    struct mon_bucket total = {0}, *pts = NULL;
    size_t n = 0;
    json_t *points;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    if (!name)
        wgm_v_missing(&v, "metric");
    else if ((metric = mon_metric_lookup(name)) < 0)
        wgm_v_fail(&v, "metric", "unknown metric (GET /monitoring/metrics lists them)");
    if (!start)
        wgm_v_missing(&v, "start_time");
    else if (wgm_in_parse_time(start, &from_ms, NULL) < 0)
        wgm_v_fail(&v, "start_time", "must be an RFC 3339 time such as 2024-01-01T00:00:00Z");
    if (!end)
        wgm_v_missing(&v, "end_time");
    else if (wgm_in_parse_time(end, &to_ms, NULL) < 0)
        wgm_v_fail(&v, "end_time", "must be an RFC 3339 time such as 2024-01-01T23:59:59Z");
    else if (start && wgm_v_ok(&v) && to_ms < from_ms)
        wgm_v_fail(&v, "end_time", "must not be before start_time");
    if (interval && !(raw = strcmp(interval, "raw") == 0) && (res = mon_resolution_lookup(interval)) < 0)
        wgm_v_fail(&v, "interval", "must be one of 1m, 5m, 15m, 1h, raw");
    if (host && (!*host || strlen(host) > 63))
        wgm_v_fail(&v, "host", "must be 1 to 63 characters");
    from = from_ms / 1000;
    to = to_ms / 1000;
    if (wgm_v_ok(&v) && !raw) {
        /* a bucket counts when its start lies in the range */
        if (res >= 0 && (to - from) / (int64_t)mon_resolutions[res] + 1 > MAX_POINTS)
            wgm_v_fail(&v, "interval", "the range would return %lld points (at most %d): use a coarser interval",
                       (long long)((to - from) / (int64_t)mon_resolutions[res] + 1), MAX_POINTS);
        for (int i = 0; res < 0 && i < MON_RES_COUNT; i++)
            if ((to - from) / (int64_t)mon_resolutions[i] + 1 <= MAX_POINTS)
                res = i;
        if (wgm_v_ok(&v) && res < 0)
            wgm_v_fail(&v, "end_time", "the range is too long for %d points of 1h", MAX_POINTS);
    }
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);

    if (raw) {
        points = raw_points(metric, from, to, &total);
    } else {
        if ((r = mon_store_history(metric, res, from, to, host ? host : mon.host_tag, &pts, &n)) < 0)
            return r == -EAGAIN ? wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "the database is not reachable", NULL)
                                : r;
        points = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(points, point(pts[i].start, pts[i].sum / pts[i].count, &pts[i], host ? host : mon.host_tag));
            mon_bucket_merge(&total, &pts[i]);
        }
        free(pts);
    }
    return wgm_resp_json(
        resp, 200,
        json_pack("{s:s,s:s,s:s,s:o,s:{s:o,s:o,s:o,s:I}}", "metric", mon_metrics[metric].name, "unit",
                  mon_metrics[metric].unit, "interval", raw ? "raw" : mon_resolution_names[res], "data_points", points,
                  "statistics", "min", total.count ? json_real(total.min) : json_null(), "max",
                  total.count ? json_real(total.max) : json_null(), "avg",
                  total.count ? json_real(total.sum / total.count) : json_null(), "count",
                  (json_int_t)json_array_size(points)));
}

int mon_api_metrics_register(void)
{
    int r;
    if ((r = mon.host->route_add(mon.ctx, "GET", "/monitoring/metrics", "monitoring.view", list_metrics)) < 0)
        return r;
    return mon.host->route_add(mon.ctx, "GET", "/monitoring/metrics/system", "monitoring.view", history);
}
