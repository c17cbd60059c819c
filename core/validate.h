/* core/validate: reading request input with errors that name the field.
 *
 * Each getter records "field: reason" in v->details on failure; a handler
 * reads all fields, then answers 422 VALIDATION_ERROR if any failed. */
#ifndef WGM_CORE_VALIDATE_H
#define WGM_CORE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <wgm/host.h>

struct wgm_v {
    json_t *body;    /* borrowed; may be NULL or not an object */
    json_t *details; /* owned: field → reason */
};

/* Starts a validation of @body; false (with a detail) when it is not an object. */
bool wgm_v_begin(struct wgm_v *v, json_t *body, bool body_required);
void wgm_v_fail(struct wgm_v *v, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool wgm_v_ok(const struct wgm_v *v);
/* Answer 422 with the collected details (steals them).  Returns 0. */
int wgm_v_respond(struct wgm_v *v, struct wgm_resp *resp);
void wgm_v_end(struct wgm_v *v);

/* String of @min..@max characters (UTF-8 code points); NULL when absent or
 * bad.  Borrowed from the body. */
const char *wgm_v_str(struct wgm_v *v, const char *field, bool required, size_t min, size_t max);
/* One of the '|'-separated @choices. */
const char *wgm_v_enum(struct wgm_v *v, const char *field, bool required, const char *choices);
/* Boolean; @def when absent. */
bool wgm_v_bool(struct wgm_v *v, const char *field, bool def);
/* Integer in [min,max]; @def when absent. */
long long wgm_v_int(struct wgm_v *v, const char *field, bool required, long long min, long long max, long long def);
/* Array of at most @max strings, each passing @check (may be NULL);
 * borrowed, NULL when absent or bad. */
json_t *wgm_v_str_array(struct wgm_v *v, const char *field, size_t max, bool (*check)(const char *));
/* Fields in @body that are not in the NULL-terminated @known list fail. */
void wgm_v_only(struct wgm_v *v, const char *const *known);

/* Query helpers: page (>=1) and size (1..max), defaults 1 and 20. */
struct wgm_page {
    long long page, size;
};
bool wgm_v_page(struct wgm_v *v, const struct wgm_req *req, long long max_size, struct wgm_page *out);
/* Query integer / enum; recorded under the query parameter's name. */
bool wgm_v_query_int(struct wgm_v *v, const struct wgm_req *req, const char *name, long long min, long long max,
                     long long *out);
const char *wgm_v_query_enum(struct wgm_v *v, const struct wgm_req *req, const char *name, const char *choices);
/* The spec's pagination object. */
json_t *wgm_pagination(const struct wgm_page *p, long long total);
/* The LIKE escape character.  Not the backslash: that is also the string
 * literal escape in MySQL, so ESCAPE '\' would mean different SQL on each
 * dialect. */
#define WGM_LIKE_ESCAPE '!'
/* "%", "_" and "!" escaped for LIKE ... ESCAPE '!', wrapped in %...%.  New. */
char *wgm_like_pattern(const char *s);

#endif
