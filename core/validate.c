/* core/validate: field-by-field input checks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "validate.h"
#include "util.h"

bool wgm_v_begin(struct wgm_v *v, json_t *body, bool body_required)
{
    v->body = body;
    v->details = json_object();
    if (body_required && !json_is_object(body)) {
        wgm_v_fail(v, "body", body ? "must be a JSON object" : "is required");
        return false;
    }
    if (body && !json_is_object(body))
        wgm_v_fail(v, "body", "must be a JSON object");
    return wgm_v_ok(v);
}

void wgm_v_fail(struct wgm_v *v, const char *field, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    if (json_object_get(v->details, field))
        return; /* the first reason is the useful one */
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    json_object_set_new(v->details, field, json_string(why));
}

bool wgm_v_ok(const struct wgm_v *v)
{
    return json_object_size(v->details) == 0;
}

int wgm_v_respond(struct wgm_v *v, struct wgm_resp *resp)
{
    json_t *d = v->details;
    v->details = NULL;
    return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed", d);
}

void wgm_v_end(struct wgm_v *v)
{
    json_decref(v->details);
    v->details = NULL;
}

static json_t *field(struct wgm_v *v, const char *name)
{
    json_t *f = json_is_object(v->body) ? json_object_get(v->body, name) : NULL;
    return json_is_null(f) ? NULL : f;
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

const char *wgm_v_str(struct wgm_v *v, const char *name, bool required, size_t min, size_t max)
{
    json_t *f = field(v, name);
    size_t n;
    if (!f) {
        if (required)
            wgm_v_fail(v, name, "is required");
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
    n = utf8_len(json_string_value(f));
    if (n < min || n > max) {
        wgm_v_fail(v, name, "must be %zu to %zu characters", min, max);
        return NULL;
    }
    return json_string_value(f);
}

static bool in_choices(const char *s, const char *choices)
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

const char *wgm_v_enum(struct wgm_v *v, const char *name, bool required, const char *choices)
{
    const char *s = wgm_v_str(v, name, required, 1, 64);
    if (s && !in_choices(s, choices)) {
        wgm_v_fail(v, name, "must be one of %s", choices);
        return NULL;
    }
    return s;
}

bool wgm_v_bool(struct wgm_v *v, const char *name, bool def)
{
    json_t *f = field(v, name);
    if (!f)
        return def;
    if (!json_is_boolean(f)) {
        wgm_v_fail(v, name, "must be a boolean");
        return def;
    }
    return json_is_true(f);
}

long long wgm_v_int(struct wgm_v *v, const char *name, bool required, long long min, long long max, long long def)
{
    json_t *f = field(v, name);
    if (!f) {
        if (required)
            wgm_v_fail(v, name, "is required");
        return def;
    }
    if (!json_is_integer(f) || json_integer_value(f) < min || json_integer_value(f) > max) {
        wgm_v_fail(v, name, "must be an integer from %lld to %lld", min, max);
        return def;
    }
    return json_integer_value(f);
}

json_t *wgm_v_str_array(struct wgm_v *v, const char *name, size_t max, bool (*check)(const char *))
{
    json_t *f = field(v, name), *e;
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

void wgm_v_only(struct wgm_v *v, const char *const *known)
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

bool wgm_v_query_int(struct wgm_v *v, const struct wgm_req *req, const char *name, long long min, long long max,
                     long long *out)
{
    const char *s = wgm_req_query(req, name);
    if (!s)
        return false;
    if (wgm_parse_ll(s, min, max, out) < 0) {
        wgm_v_fail(v, name, "must be an integer from %lld to %lld", min, max);
        return false;
    }
    return true;
}

const char *wgm_v_query_enum(struct wgm_v *v, const struct wgm_req *req, const char *name, const char *choices)
{
    const char *s = wgm_req_query(req, name);
    if (s && !in_choices(s, choices)) {
        wgm_v_fail(v, name, "must be one of %s", choices);
        return NULL;
    }
    return s;
}

bool wgm_v_page(struct wgm_v *v, const struct wgm_req *req, long long max_size, struct wgm_page *out)
{
    out->page = 1;
    out->size = 20;
    wgm_v_query_int(v, req, "page", 1, 1000000, &out->page);
    wgm_v_query_int(v, req, "size", 1, max_size, &out->size);
    return wgm_v_ok(v);
}

json_t *wgm_pagination(const struct wgm_page *p, long long total)
{
    long long pages = (total + p->size - 1) / p->size;
    return json_pack("{s:I,s:I,s:I,s:I,s:b,s:b}", "page", (json_int_t)p->page, "size", (json_int_t)p->size, "total",
                     (json_int_t)total, "pages", (json_int_t)pages, "has_next", p->page < pages, "has_prev",
                     p->page > 1);
}

char *wgm_like_pattern(const char *s)
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
