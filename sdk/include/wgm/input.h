/**
 * @file input.h
 * @brief Reading request input with errors that name the field.
 *
 * Header-only, so plugins use it without linking anything from wgmd.
 * Each getter records "field: reason" in v->details on failure; a handler
 * reads all its fields, then answers 422 VALIDATION_ERROR if any failed:
 *
 * @code
 * struct wgm_v v;
 * wgm_v_begin(&v, req->body, true);
 * const char *name = wgm_v_str(&v, "name", true, 1, 64);
 * if (!wgm_v_ok(&v))
 *     return wgm_v_respond(&v, resp);
 * wgm_v_end(&v);
 * @endcode
 */
#ifndef WGM_INPUT_H
#define WGM_INPUT_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <wgm/host.h>

/** Validation in progress. */
struct wgm_v {
    json_t *body;    /**< borrowed; may be NULL or not an object */
    json_t *details; /**< owned: field → reason */
    unsigned missing; /**< how many details are absent required fields (wgm_v_missing) */
};

/* Helpers of wgm_in_parse_time.  @n decimal digits at @s, or -1. */
static inline int wgm_in_digits_(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!(s[i] >= '0' && s[i] <= '9'))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static inline int wgm_in_days_in_month_(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm): exact for every year, unlike timegm with a 32-bit time_t. */
static inline int64_t wgm_in_days_from_civil_(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/** Strict RFC 3339 ("2024-01-01T00:00:00Z", "...T01:00:00.250+01:00") into
 *  Unix milliseconds; digits past milliseconds are dropped.  @p frac (may be
 *  NULL) tells whether a fraction was written.  0 or -EINVAL. */
static inline int wgm_in_parse_time(const char *s, int64_t *ms, bool *frac)
{
    int y, mo, d, h, mi, se, fr = 0, off = 0;
    bool has_frac = false;
    const char *p;

    /* Fixed positions: strptime would take "2024-1-1 0:0:0" and leading blanks. */
    if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return -EINVAL;
    y = wgm_in_digits_(s, 4);
    mo = wgm_in_digits_(s + 5, 2);
    d = wgm_in_digits_(s + 8, 2);
    h = wgm_in_digits_(s + 11, 2);
    mi = wgm_in_digits_(s + 14, 2);
    se = wgm_in_digits_(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > wgm_in_days_in_month_(y, mo) || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || se < 0 || se > 60)
        return -EINVAL;
    p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; (*p >= '0' && *p <= '9'); p++, n++)
            if (n < 3)
                fr = fr * 10 + (*p - '0');
        if (n == 0)
            return -EINVAL;
        for (; n < 3; n++)
            fr *= 10;
        has_frac = true;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = wgm_in_digits_(p + 1, 2), om = p[3] == ':' ? wgm_in_digits_(p + 4, 2) : -1;
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -EINVAL;
        off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    *ms = ((wgm_in_days_from_civil_(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) - (int64_t)off * 60) * 1000 + fr;
    if (frac)
        *frac = has_frac;
    return 0;
}

/** Unix time @p t as RFC 3339 UTC ("2024-01-01T00:00:00Z"), the form the
 *  API writes every time in (and wgm_in_parse_time reads).  @p buf needs
 *  #WGM_TIME_LEN bytes; returns @p buf. */
#define WGM_TIME_LEN 21
static inline char *wgm_time_format(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        if (len)
            buf[0] = '\0';
    }
    return buf;
}

/** Page (>= 1) and size (1..max) from the query; defaults 1 and 20. */
struct wgm_page {
    long long page, size;
};

/** The LIKE escape character.  Not the backslash: that is also the string
 *  literal escape in MySQL, so ESCAPE '\\' would differ between dialects. */
#define WGM_LIKE_ESCAPE '!'

/** A whole decimal integer within [min,max]; 0, -EINVAL or -ERANGE. */
static inline int wgm_in_parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;
    /* strtoll skips leading white space and takes a sign: only an optional
     * '-' and digits are numbers here, with nothing after them. */
    if (!s || !((*s >= '0' && *s <= '9') || (*s == '-' && s[1] >= '0' && s[1] <= '9')))
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end)
        return -EINVAL;
    if (errno == ERANGE || v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

/** Record "@p field: reason" (the first reason per field wins). */
static inline void wgm_v_fail(struct wgm_v *v, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void wgm_v_fail(struct wgm_v *v, const char *field, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    if (json_object_get(v->details, field))
        return;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    json_object_set_new(v->details, field, json_string(why));
}

/** Record that required @p field (body field or query parameter) is
 *  absent: wgm_v_respond then answers 400 MISSING_PARAMETER, not 422. */
static inline void wgm_v_missing(struct wgm_v *v, const char *field)
{
    if (json_object_get(v->details, field))
        return;
    json_object_set_new(v->details, field, json_string("is required"));
    v->missing++;
}

/** True while no field has failed. */
static inline bool wgm_v_ok(const struct wgm_v *v)
{
    return json_object_size(v->details) == 0;
}

/** Start validating @p body (borrowed).  False, with a detail, when a
 *  required body is missing or the body is not an object. */
static inline bool wgm_v_begin(struct wgm_v *v, json_t *body, bool body_required)
{
    v->body = body;
    v->details = json_object();
    v->missing = 0;
    if (body_required && !json_is_object(body)) {
        if (body)
            wgm_v_fail(v, "body", "must be a JSON object");
        else
            wgm_v_missing(v, "body");
        return false;
    }
    if (body && !json_is_object(body))
        wgm_v_fail(v, "body", "must be a JSON object");
    return wgm_v_ok(v);
}

/** Answer with the collected details (stolen): 400 MISSING_PARAMETER when
 *  a required field is absent (the spec's "缺少必需参数"), else 422
 *  VALIDATION_ERROR for values present but invalid.  details names every
 *  field either way. */
static inline int wgm_v_respond(struct wgm_v *v, struct wgm_resp *resp)
{
    json_t *d = v->details;
    v->details = NULL;
    if (v->missing)
        return wgm_resp_error(resp, 400, "MISSING_PARAMETER", "required parameters are missing", d);
    return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed", d);
}

/** Release what the validation holds.  Safe after wgm_v_respond. */
static inline void wgm_v_end(struct wgm_v *v)
{
    json_decref(v->details);
    v->details = NULL;
}

static inline json_t *wgm_in_field(struct wgm_v *v, const char *name)
{
    json_t *f = json_is_object(v->body) ? json_object_get(v->body, name) : NULL;
    return json_is_null(f) ? NULL : f;
}

static inline size_t wgm_in_utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static inline bool wgm_in_choices(const char *s, const char *choices)
{
    size_t len = strlen(s);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t wl = bar ? (size_t)(bar - p) : strlen(p);
        if (wl == len && strncmp(p, s, len) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

/** String of @p min..@p max characters (UTF-8 code points); NULL when
 *  absent or bad.  Borrowed from the body. */
static inline const char *wgm_v_str(struct wgm_v *v, const char *name, bool required, size_t min, size_t max)
{
    json_t *f = wgm_in_field(v, name);
    size_t n;
    if (!f) {
        if (required)
            wgm_v_missing(v, name);
        return NULL;
    }
    if (!json_is_string(f)) {
        wgm_v_fail(v, name, "must be a string");
        return NULL;
    }
    if (strlen(json_string_value(f)) != json_string_length(f)) {
        wgm_v_fail(v, name, "must not contain NUL characters");
        return NULL;
    }
    n = wgm_in_utf8_len(json_string_value(f));
    if (n < min || n > max) {
        wgm_v_fail(v, name, "must be %zu to %zu characters", min, max);
        return NULL;
    }
    return json_string_value(f);
}

/** One of the '|'-separated @p choices, or NULL. */
static inline const char *wgm_v_enum(struct wgm_v *v, const char *name, bool required, const char *choices)
{
    const char *s = wgm_v_str(v, name, required, 1, 64);
    if (s && !wgm_in_choices(s, choices)) {
        wgm_v_fail(v, name, "must be one of %s", choices);
        return NULL;
    }
    return s;
}

/** A boolean; @p def when absent. */
static inline bool wgm_v_bool(struct wgm_v *v, const char *name, bool def)
{
    json_t *f = wgm_in_field(v, name);
    if (!f)
        return def;
    if (!json_is_boolean(f)) {
        wgm_v_fail(v, name, "must be a boolean");
        return def;
    }
    return json_is_true(f);
}

/** An integer in [@p min, @p max]; @p def when absent. */
static inline long long wgm_v_int(struct wgm_v *v, const char *name, bool required, long long min, long long max,
                                  long long def)
{
    json_t *f = wgm_in_field(v, name);
    if (!f) {
        if (required)
            wgm_v_missing(v, name);
        return def;
    }
    if (!json_is_integer(f) || json_integer_value(f) < min || json_integer_value(f) > max) {
        wgm_v_fail(v, name, "must be an integer from %lld to %lld", min, max);
        return def;
    }
    return json_integer_value(f);
}

/** An array of at most @p max non-empty strings, each passing @p check
 *  (may be NULL); borrowed, NULL when absent or bad. */
static inline json_t *wgm_v_str_array(struct wgm_v *v, const char *name, size_t max, bool (*check)(const char *))
{
    json_t *f = wgm_in_field(v, name), *e;
    size_t i;
    if (!f)
        return NULL;
    if (!json_is_array(f) || json_array_size(f) > max) {
        wgm_v_fail(v, name, "must be an array of at most %zu strings", max);
        return NULL;
    }
    json_array_foreach(f, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 256 ||
            (check && !check(json_string_value(e)))) {
            wgm_v_fail(v, name, "item %zu is not valid", i);
            return NULL;
        }
    }
    return f;
}

/** Every field of the body not in the NULL-terminated @p known fails. */
static inline void wgm_v_only(struct wgm_v *v, const char *const *known)
{
    const char *key;
    json_t *val;
    if (!json_is_object(v->body))
        return;
    json_object_foreach(v->body, key, val)
    {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok)
            wgm_v_fail(v, key, "is not a known field");
    }
}

/** Query integer @p name into @p out; false when absent or bad (bad fails). */
static inline bool wgm_v_query_int(struct wgm_v *v, const struct wgm_req *req, const char *name, long long min,
                                   long long max, long long *out)
{
    const char *s = wgm_req_query(req, name);
    if (!s)
        return false;
    if (wgm_in_parse_ll(s, min, max, out) < 0) {
        wgm_v_fail(v, name, "must be an integer from %lld to %lld", min, max);
        return false;
    }
    return true;
}

/** Query value that must be one of @p choices; NULL when absent or bad. */
static inline const char *wgm_v_query_enum(struct wgm_v *v, const struct wgm_req *req, const char *name,
                                           const char *choices)
{
    const char *s = wgm_req_query(req, name);
    if (s && !wgm_in_choices(s, choices)) {
        wgm_v_fail(v, name, "must be one of %s", choices);
        return NULL;
    }
    return s;
}

/** page and size query parameters (size at most @p max_size). */
static inline bool wgm_v_page(struct wgm_v *v, const struct wgm_req *req, long long max_size, struct wgm_page *out)
{
    out->page = 1;
    out->size = 20;
    wgm_v_query_int(v, req, "page", 1, 1000000, &out->page);
    wgm_v_query_int(v, req, "size", 1, max_size, &out->size);
    return wgm_v_ok(v);
}

/** The spec's pagination object for @p total items.  New. */
static inline json_t *wgm_pagination(const struct wgm_page *p, long long total)
{
    long long pages = (total + p->size - 1) / p->size;
    return json_pack("{s:I,s:I,s:I,s:I,s:b,s:b}", "page", (json_int_t)p->page, "size", (json_int_t)p->size, "total",
                     (json_int_t)total, "pages", (json_int_t)pages, "has_next", p->page < pages, "has_prev",
                     p->page > 1);
}

/** The {id} path parameter as a positive integer into @p id.  Otherwise
 *  answers 404 RESOURCE_NOT_FOUND "no such @p what" and returns -1. */
static inline int wgm_v_path_id(const struct wgm_req *req, struct wgm_resp *resp, const char *what, int64_t *id)
{
    const char *s = wgm_req_param(req, "id");
    long long v;
    if (wgm_in_parse_ll(s, 1, INT64_MAX, &v) < 0) {
        char msg[64];
        snprintf(msg, sizeof(msg), "no such %s", what);
        wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", msg, json_pack("{s:s}", "id", s ? s : ""));
        return -1;
    }
    *id = v;
    return 0;
}

/** A pooled connection (release with host->db_release), or NULL after
 *  answering 503 SERVICE_UNAVAILABLE. */
static inline struct wgm_db *wgm_db_or_503(const struct wgm_host *host, struct wgm_ctx *ctx, struct wgm_resp *resp)
{
    struct wgm_db *db = host->db_acquire(ctx);
    if (!db)
        wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    return db;
}

/** "%", "_" and the escape character escaped for LIKE ... ESCAPE '!',
 *  wrapped in %...%.  New (free()), NULL when out of memory. */
static inline char *wgm_like_pattern(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(2 * n + 3), *o = out;
    if (!out)
        return NULL;
    *o++ = '%';
    for (; *s; s++) {
        if (*s == '%' || *s == '_' || *s == WGM_LIKE_ESCAPE)
            *o++ = WGM_LIKE_ESCAPE;
        *o++ = *s;
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

#endif
