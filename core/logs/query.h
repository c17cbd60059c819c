/* core/logs/query: turning the query arguments of GET /logs and
 * /logs/export into a WHERE clause, and stored rows into JSON.
 *
 * The WHERE clause is assembled only from the fixed fragments below, each
 * with `?` placeholders; input reaches the database only as bound values. */
#ifndef WGM_CORE_LOGS_QUERY_H
#define WGM_CORE_LOGS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <wgm/db.h>

/* Longest accepted module filter and search text, in bytes. */
#define WGM_LOGS_MODULE_MAX 64
#define WGM_LOGS_SEARCH_MAX 256

/* The canonical level ("DEBUG", "INFO", "WARN", "ERROR", "CRITICAL") that
 * @s names case-insensitively ("WARNING" is "WARN"), or NULL.  Static
 * string.  GET /logs and /system/config's log_level both use it. */
const char *wgm_logs_level_canon(const char *s);

/* Strict RFC 3339 ("2024-01-01T00:00:00Z", "...T01:00:00.250+01:00") into
 * Unix milliseconds; digits past milliseconds are dropped.  @frac (may be
 * NULL) tells whether a fraction was written.  0 or -EINVAL. */
int wgm_logs_time_parse(const char *s, int64_t *ms, bool *frac);


struct wgm_logs_filter {
    bool has_start, has_end, has_user;
    int64_t start_ms, end_ms; /* both inclusive */
    int64_t user_id;
    const char *level;        /* canonical (static) or NULL */
    const char *module;       /* borrowed from the request, or NULL */
    char *like;               /* owned LIKE pattern for message, or NULL */
};

/* Validate the optional filter arguments (NULL: absent) into @f.  Every bad
 * one adds {"<field>": "<reason>"} to @errors.  An end time without a
 * fraction covers its whole second.  0 when all are valid, -EINVAL when
 * @errors got entries, -ENOMEM.  Clear @f afterwards in every case. */
int wgm_logs_filter_parse(struct wgm_logs_filter *f, const char *level, const char *start_time,
                          const char *end_time, const char *search, const char *module, const char *user_id,
                          json_t *errors);
/* Free what @f owns and zero it.  Accepts NULL. */
void wgm_logs_filter_clear(struct wgm_logs_filter *f);
/* Write "" or " WHERE <fragment> AND ..." for the filters set in @f into
 * @buf.  0 or -ENOSPC. */
int wgm_logs_filter_where(const struct wgm_logs_filter *f, char *buf, size_t len);
/* Bind @f's values in the order of wgm_logs_filter_where, starting at
 * placeholder @idx.  Returns the next free index, or a negative WGM_DB_E*. */
int wgm_logs_filter_bind(const struct wgm_logs_filter *f, struct wgm_stmt *st, int idx);

/* The select list wgm_logs_row_read expects, in its order. */
#define WGM_LOGS_COLUMNS \
    "id, ts, level, module, message, user_id, api_key_id, ip_address, request_id, details, tags"

/* One stored record; strings borrowed from the statement until its next step. */
struct wgm_logs_row {
    int64_t id, ts_ms;
    int64_t user_id;          /* 0 for NULL */
    const char *level, *module, *message;
    const char *api_key_id, *ip_address, *request_id; /* NULL for SQL NULL */
    const char *details, *tags; /* JSON text or NULL */
};

/* Read the current row of a statement selecting WGM_LOGS_COLUMNS. */
void wgm_logs_row_read(struct wgm_stmt *st, struct wgm_logs_row *row);
/* The API's view of a record: {id, level, message, module, user_id,
 * api_key_id, ip_address, request_id, timestamp, details (object or null),
 * tags (array), stack_trace (null: nothing records one)}.  New, or NULL
 * when out of memory. */
json_t *wgm_logs_row_json(const struct wgm_logs_row *row);
/* "2024-01-01T00:00:00Z" (@with_ms: "...00.000Z") of Unix ms @ms into @buf
 * (at least 25 bytes). */
char *wgm_logs_time_format(int64_t ms, bool with_ms, char *buf, size_t len);

#endif
