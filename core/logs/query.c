/* core/logs/query: filters, WHERE fragments and row conversion shared by
 * the list and export endpoints. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "db/db.h"
#include "logs/query.h"
#include <wgm/input.h>
#include "validate.h"
#include "util.h"

static const char *const levels[] = {"DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"};

const char *wgm_logs_level_canon(const char *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcasecmp(s, levels[i]) == 0)
            return levels[i];
    /* syslog's and Python's spelling of the same level */
    if (strcasecmp(s, "WARNING") == 0)
        return "WARN";
    return NULL;
}

int wgm_logs_time_parse(const char *s, int64_t *ms, bool *frac)
{
    return wgm_in_parse_time(s, ms, frac);
}

static int add_error(json_t *errors, const char *field, const char *reason)
{
    return json_object_set_new(errors, field, json_string(reason)) < 0 ? -ENOMEM : -EINVAL;
}

static int parse_time_arg(json_t *errors, const char *field, const char *s, bool *has, int64_t *ms, bool end)
{
    bool frac;

    if (!s)
        return 0;
    if (wgm_logs_time_parse(s, ms, &frac) < 0)
        return add_error(errors, field, "must be an RFC 3339 time such as 2024-01-01T00:00:00Z");
    /* "until 23:59:59" means until the end of that second. */
    if (end && !frac)
        *ms += 999;
    *has = true;
    return 0;
}

/* Keep the first failure that matters: -ENOMEM over -EINVAL over 0. */
static int worst(int a, int b)
{
    return a == -ENOMEM || b == -ENOMEM ? -ENOMEM : a < 0 ? a : b;
}

int wgm_logs_filter_parse(struct wgm_logs_filter *f, const char *level, const char *start_time,
                          const char *end_time, const char *search, const char *module, const char *user_id,
                          json_t *errors)
{
    int r = 0;
    long long uid;

    memset(f, 0, sizeof(*f));
    if (level && !(f->level = wgm_logs_level_canon(level)))
        r = worst(r, add_error(errors, "level", "must be one of DEBUG, INFO, WARN (or WARNING), ERROR, CRITICAL"));
    r = worst(r, parse_time_arg(errors, "start_time", start_time, &f->has_start, &f->start_ms, false));
    r = worst(r, parse_time_arg(errors, "end_time", end_time, &f->has_end, &f->end_ms, true));
    if (f->has_start && f->has_end && f->end_ms < f->start_ms)
        r = worst(r, add_error(errors, "end_time", "must not be before start_time"));
    /* An empty search is no search: forms send "search=" for a blank box. */
    if (search && *search) {
        if (strlen(search) > WGM_LOGS_SEARCH_MAX)
            r = worst(r, add_error(errors, "search", "must be at most 256 bytes"));
        else if (!(f->like = wgm_like_pattern(search)))
            r = -ENOMEM;
    }
    if (module) {
        size_t n = strlen(module);
        if (n == 0 || n > WGM_LOGS_MODULE_MAX)
            r = worst(r, add_error(errors, "module", "must be 1 to 64 bytes"));
        else
            f->module = module;
    }
    if (user_id) {
        if (wgm_parse_ll(user_id, 1, INT64_MAX, &uid) < 0)
            r = worst(r, add_error(errors, "user_id", "must be a positive integer"));
        else {
            f->user_id = uid;
            f->has_user = true;
        }
    }
    return r;
}

void wgm_logs_filter_clear(struct wgm_logs_filter *f)
{
    if (!f)
        return;
    free(f->like);
    memset(f, 0, sizeof(*f));
}

/* The fixed fragments, in binding order.  Nothing else ever reaches the SQL. */
static const char frag_start[] = "ts >= ?";
static const char frag_end[] = "ts <= ?";
static const char frag_level[] = "level = ?";
static const char frag_module[] = "module = ?";
static const char frag_search[] = "message LIKE ? ESCAPE '!'";
static const char frag_user[] = "user_id = ?";

int wgm_logs_filter_where(const struct wgm_logs_filter *f, char *buf, size_t len)
{
    const char *parts[6];
    size_t n = 0, used = 0;
    int r;

    _Static_assert(WGM_LIKE_ESCAPE == '!', "frag_search names the escape character");
    if (f->has_start)
        parts[n++] = frag_start;
    if (f->has_end)
        parts[n++] = frag_end;
    if (f->level)
        parts[n++] = frag_level;
    if (f->module)
        parts[n++] = frag_module;
    if (f->like)
        parts[n++] = frag_search;
    if (f->has_user)
        parts[n++] = frag_user;
    if (len == 0)
        return -ENOSPC;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        r = snprintf(buf + used, len - used, "%s%s", i ? " AND " : " WHERE ", parts[i]);
        if (r < 0 || (size_t)r >= len - used)
            return -ENOSPC;
        used += (size_t)r;
    }
    return 0;
}

int wgm_logs_filter_bind(const struct wgm_logs_filter *f, struct wgm_stmt *st, int idx)
{
    int r = 0;

    if (f->has_start && (r = wgm_stmt_bind_int(st, idx++, f->start_ms)) < 0)
        return r;
    if (f->has_end && (r = wgm_stmt_bind_int(st, idx++, f->end_ms)) < 0)
        return r;
    if (f->level && (r = wgm_stmt_bind_text(st, idx++, f->level)) < 0)
        return r;
    if (f->module && (r = wgm_stmt_bind_text(st, idx++, f->module)) < 0)
        return r;
    if (f->like && (r = wgm_stmt_bind_text(st, idx++, f->like)) < 0)
        return r;
    if (f->has_user && (r = wgm_stmt_bind_int(st, idx++, f->user_id)) < 0)
        return r;
    return idx;
}

static const char *text_or_null(struct wgm_stmt *st, int col)
{
    return wgm_stmt_column_type(st, col) == WGM_DB_NULL ? NULL : wgm_stmt_column_text(st, col);
}

void wgm_logs_row_read(struct wgm_stmt *st, struct wgm_logs_row *row)
{
    row->id = wgm_stmt_column_int(st, 0);
    row->ts_ms = wgm_stmt_column_int(st, 1);
    row->level = text_or_null(st, 2);
    row->module = text_or_null(st, 3);
    row->message = text_or_null(st, 4);
    row->user_id = wgm_stmt_column_type(st, 5) == WGM_DB_NULL ? 0 : wgm_stmt_column_int(st, 5);
    row->api_key_id = text_or_null(st, 6);
    row->ip_address = text_or_null(st, 7);
    row->request_id = text_or_null(st, 8);
    row->details = text_or_null(st, 9);
    row->tags = text_or_null(st, 10);
}

char *wgm_logs_time_format(int64_t ms, bool with_ms, char *buf, size_t len)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    size_t n;

    gmtime_r(&t, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    if (with_ms)
        snprintf(buf + n, len - n, ".%03dZ", (int)(ms - sec * 1000));
    else
        snprintf(buf + n, len - n, "Z");
    return buf;
}

/* Stored text is valid UTF-8 (the store cleans it), but a row written by
 * something else must not break a whole listing: such text becomes null. */
static json_t *str_or_null(const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    return v ? v : json_null();
}

json_t *wgm_logs_row_json(const struct wgm_logs_row *row)
{
    char ts[40];
    json_t *details = NULL, *tags = NULL;

    if (row->details) {
        details = json_loads(row->details, JSON_DECODE_ANY, NULL);
        if (details && !json_is_object(details)) {
            json_decref(details);
            details = NULL;
        }
    }
    if (row->tags) {
        tags = json_loads(row->tags, JSON_DECODE_ANY, NULL);
        if (tags && !json_is_array(tags)) {
            json_decref(tags);
            tags = NULL;
        }
    }
    /* stack_trace: the spec's field, always present; wgm (C) records no
     * stack traces, so it is null. */
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:n}", "id", (json_int_t)row->id, "level",
                     str_or_null(row->level), "message", str_or_null(row->message), "module",
                     str_or_null(row->module), "user_id",
                     row->user_id ? json_integer((json_int_t)row->user_id) : json_null(), "api_key_id",
                     str_or_null(row->api_key_id), "ip_address", str_or_null(row->ip_address), "request_id",
                     str_or_null(row->request_id), "timestamp", wgm_logs_time_format(row->ts_ms, false, ts, sizeof(ts)),
                     "details", details ? details : json_null(), "tags", tags ? tags : json_array(),
                     "stack_trace");
}
