/**
 * @file host.h
 * @brief The host table: the only way a plugin reaches wgmd.
 *
 * wgmd passes a `const struct wgm_host *` to the plugin's init.  It stays
 * valid until fini returns.  Members are only ever appended; test for a
 * member newer than the one you were built with using WGM_HOST_HAS().
 *
 * Ownership words used below: *borrowed* (the callee does not keep or free
 * it), *stolen* (the callee takes the reference, also on failure), *new*
 * (the caller must free it with the named function).
 *
 * Threading: route handlers run on HTTP worker threads, timers and tasks on
 * core worker threads, event callbacks on the event dispatcher thread.  Any
 * of them may run concurrently, so plugin state needs its own locking.
 */
#ifndef WGM_HOST_H
#define WGM_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <wgm/plugin.h>
#include <wgm/db.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Log levels, most severe first. */
enum wgm_log_level {
    WGM_LOG_ERROR = 0,
    WGM_LOG_WARN,
    WGM_LOG_INFO,
    WGM_LOG_DEBUG,
};

/** Permission for routes anyone may call without credentials. */
#define WGM_PERM_PUBLIC NULL

/**
 * An HTTP request as a handler sees it.  Only the members shown are public;
 * the core keeps more behind them.  Everything is borrowed for the duration
 * of the handler call.
 */
struct wgm_req {
    const struct wgm_host *host; /**< the host table, for the inline helpers */
    const char *method;          /**< "GET", "POST", ... */
    const char *path;            /**< full path without the query, e.g. "/api/v1/version" */
    const char *request_id;      /**< the X-Request-ID of this request */
    json_t *body;                /**< parsed JSON body, or NULL when there is none */
};

/** A response under construction; opaque but for the host pointer. */
struct wgm_resp {
    const struct wgm_host *host; /**< the host table, for the inline helpers */
};

/** Figures of the running daemon, for monitoring (host->app_stats).  Counters
 *  are cumulative since start; callers compute rates from two readings. */
struct wgm_app_stats {
    uint32_t struct_size;          /**< set by the caller to sizeof(struct wgm_app_stats) */
    uint64_t http_requests;        /**< requests answered */
    uint64_t http_client_errors;   /**< answered 4xx */
    uint64_t http_server_errors;   /**< answered 5xx */
    uint64_t http_total_us;        /**< summed handling time of the answered requests */
    uint32_t http_in_flight;       /**< requests being handled now */
    uint32_t http_connections;     /**< open HTTP connections now */
    uint32_t ws_clients;           /**< connected WebSocket clients */
    uint32_t db_pool_size;         /**< configured database connections */
    uint32_t db_open;              /**< of which connected */
    uint32_t db_in_use;            /**< of which checked out now */
    uint64_t db_queries;           /**< statements executed */
    uint64_t db_query_us;          /**< their summed execution time (first step) */
    uint64_t db_slow_queries;      /**< of which took 100 ms or more */
    uint64_t cache_hits, cache_misses; /**< cache lookups */
    uint64_t cache_keys;           /**< keys in the cache backend */
    int64_t cache_memory_bytes;    /**< memory the cache backend uses, -1 when unknown */
    const char *cache_backend;     /**< "memory" or "redis"; static */
    uint32_t cache_degraded;       /**< 1 while Redis is configured but not answering */
};

/** A Prometheus exposition being written (host->metrics_*). */
struct wgm_metrics;
/** A metrics provider: write families with host->metrics_family and
 *  host->metrics_sample.  Runs on the thread of the scrape; 0 or errno. */
typedef int (*wgm_metrics_fn)(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data);

/** A service reporter for GET /system/info (host->service_register):
 *  returns a new JSON object, or NULL. */
typedef json_t *(*wgm_service_fn)(struct wgm_ctx *ctx, void *data);

/** A route handler: fill @p resp and return 0, or a negative errno (the core answers 500). */
typedef int (*wgm_handler_fn)(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp);
/** A timer or task body.  @p data is the user data given at registration. */
typedef void (*wgm_task_fn)(struct wgm_ctx *ctx, void *data);
/** Frees user data handed to the host; may be NULL when there is nothing to free. */
typedef void (*wgm_free_fn)(void *data);
/** An event callback.  @p payload is borrowed; take a reference to keep it. */
typedef void (*wgm_event_fn)(struct wgm_ctx *ctx, const char *topic, json_t *payload, void *data);

/** One numbered schema migration of a module. */
struct wgm_migration {
    int version;                      /**< 1, 2, 3 ... in order, never reused */
    const char *const *sqlite;        /**< NULL-terminated statements for SQLite */
    const char *const *mysql;         /**< NULL-terminated statements for MariaDB/MySQL, or NULL to use @c sqlite */
};

/** The host table.  See the file comment for threading and ownership. */
struct wgm_host {
    uint32_t struct_size;   /**< sizeof(struct wgm_host) in the running wgmd */
    uint16_t abi_major;     /**< #WGM_ABI_MAJOR of the running wgmd */
    uint16_t abi_minor;     /**< #WGM_ABI_MINOR of the running wgmd */

    /* --- logging and configuration --------------------------------- */

    /** Log a line tagged with the plugin's name.  Never log secrets. */
    void (*log)(struct wgm_ctx *ctx, enum wgm_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /** Value of @p key in the plugin's own section (validated, default applied),
     *  or NULL when unset without default.  Borrowed, valid until fini. */
    const char *(*conf_get)(struct wgm_ctx *ctx, const char *key);
    /** The daemon's state directory (absolute path).  Borrowed. */
    const char *(*state_dir)(struct wgm_ctx *ctx);

    /* --- HTTP ------------------------------------------------------- */

    /** Register @p handler for @p method on @p path, relative to /api/v1
     *  (e.g. "/wireguard/servers/{id}/start").  @p permission is the string a
     *  caller must hold ("wireguard.edit") or #WGM_PERM_PUBLIC.
     *  Returns 0, -EEXIST for a taken method+path, -EINVAL for a bad template. */
    int (*route_add)(struct wgm_ctx *ctx, const char *method, const char *path,
                     const char *permission, wgm_handler_fn handler);
    /** Value of path parameter @p name ("id" for "{id}"), or NULL.  Borrowed. */
    const char *(*req_param)(const struct wgm_req *req, const char *name);
    /** Decoded value of query argument @p name, or NULL.  Borrowed. */
    const char *(*req_query)(const struct wgm_req *req, const char *name);
    /** Value of request header @p name (case-insensitive), or NULL.  Borrowed. */
    const char *(*req_header)(const struct wgm_req *req, const char *name);
    /** Answer with the success envelope {"success":true,"data":@p data}.
     *  @p data is stolen (may be NULL for no data). */
    int (*resp_json)(struct wgm_resp *resp, unsigned status, json_t *data);
    /** Answer with the error envelope.  @p code is a spec error code such as
     *  "VALIDATION_ERROR"; @p details (object or NULL) is stolen. */
    int (*resp_error)(struct wgm_resp *resp, unsigned status, const char *code,
                      const char *message, json_t *details);
    /** Answer with raw bytes (copied), e.g. a config file or a PNG. */
    int (*resp_raw)(struct wgm_resp *resp, unsigned status, const char *content_type,
                    const void *data, size_t len);
    /** Add a response header (copied). */
    int (*resp_header)(struct wgm_resp *resp, const char *name, const char *value);

    /* --- timers and tasks ------------------------------------------- */

    /** Run @p fn every @p interval_ms on a worker thread, first after one interval.
     *  The host owns @p data from a successful call and frees it with @p data_free
     *  when the timer is removed.  Returns a timer id > 0 or a negative errno. */
    int64_t (*timer_add)(struct wgm_ctx *ctx, unsigned interval_ms, wgm_task_fn fn,
                         void *data, wgm_free_fn data_free);
    /** Cancel a timer; waits for a running invocation to end.  0 or -ENOENT. */
    int (*timer_del)(struct wgm_ctx *ctx, int64_t timer_id);
    /** Run @p fn once on a worker thread as soon as one is free.  Ownership of
     *  @p data as for timer_add.  0 or a negative errno. */
    int (*task_submit)(struct wgm_ctx *ctx, wgm_task_fn fn, void *data, wgm_free_fn data_free);

    /* --- database (see wgm/db.h for statements and status codes) ---- */

    /** Apply the plugin's migrations not yet recorded in schema_migrations,
     *  each in its own transaction, recorded under the plugin's name. */
    int (*migrate)(struct wgm_ctx *ctx, const struct wgm_migration *migrations, size_t count);
    /** Take a pooled connection; NULL when the database is unreachable.  New: db_release. */
    struct wgm_db *(*db_acquire)(struct wgm_ctx *ctx);
    /** Return a connection to the pool (rolls back an open transaction).  Accepts NULL. */
    void (*db_release)(struct wgm_db *db);
    /** The dialect of @p db: "sqlite" or "mysql". */
    const char *(*db_dialect)(struct wgm_db *db);
    /** Begin, commit or roll back a transaction on @p db.  0 or WGM_DB_E*. */
    int (*db_begin)(struct wgm_db *db);
    int (*db_commit)(struct wgm_db *db);   /**< see db_begin */
    int (*db_rollback)(struct wgm_db *db); /**< see db_begin */
    /** Prepare @p sql (with `?` placeholders) on @p db.  New: stmt_free. */
    int (*db_prepare)(struct wgm_db *db, const char *sql, struct wgm_stmt **stmt);
    /** Bind parameter @p idx (1-based).  Text and blobs are copied. */
    int (*stmt_bind_int)(struct wgm_stmt *st, int idx, int64_t v);
    int (*stmt_bind_double)(struct wgm_stmt *st, int idx, double v); /**< see stmt_bind_int */
    int (*stmt_bind_text)(struct wgm_stmt *st, int idx, const char *v); /**< NULL binds NULL */
    int (*stmt_bind_blob)(struct wgm_stmt *st, int idx, const void *v, size_t len); /**< see stmt_bind_int */
    int (*stmt_bind_null)(struct wgm_stmt *st, int idx); /**< see stmt_bind_int */
    /** Execute or fetch the next row: WGM_DB_ROW, WGM_DB_DONE or a WGM_DB_E* code. */
    int (*stmt_step)(struct wgm_stmt *st);
    /** Forget the current result and binds so the statement can run again. */
    int (*stmt_reset)(struct wgm_stmt *st);
    int (*stmt_column_count)(struct wgm_stmt *st);            /**< columns of the result */
    const char *(*stmt_column_name)(struct wgm_stmt *st, int col); /**< borrowed */
    enum wgm_db_type (*stmt_column_type)(struct wgm_stmt *st, int col); /**< of the current row */
    int64_t (*stmt_column_int)(struct wgm_stmt *st, int col);  /**< 0 for NULL */
    double (*stmt_column_double)(struct wgm_stmt *st, int col); /**< 0.0 for NULL */
    /** Text of a column, NUL-terminated, or NULL for SQL NULL.  Borrowed until the next step. */
    const char *(*stmt_column_text)(struct wgm_stmt *st, int col);
    /** Bytes of a column; @p len receives the size.  Borrowed until the next step. */
    const void *(*stmt_column_blob)(struct wgm_stmt *st, int col, size_t *len);
    /** Rows affected by the last INSERT/UPDATE/DELETE. */
    int64_t (*stmt_changes)(struct wgm_stmt *st);
    /** Id generated by the last INSERT on this statement's connection. */
    int64_t (*stmt_last_id)(struct wgm_stmt *st);
    /** Step through every remaining row into a JSON array of objects keyed by
     *  column name (integers, reals, strings, null).  New, or NULL on error
     *  with the status in @p status (may be NULL). */
    json_t *(*stmt_rows_json)(struct wgm_stmt *st, int *status);
    /** Finalize a statement.  Accepts NULL. */
    void (*stmt_free)(struct wgm_stmt *st);

    /* --- cache ------------------------------------------------------ */

    /** Fetch @p key into @p value (new, free with host->free).  0, -ENOENT, or a negative errno. */
    int (*cache_get)(struct wgm_ctx *ctx, const char *key, char **value);
    /** Store @p value under @p key for @p ttl_s seconds (0: no expiry). */
    int (*cache_set)(struct wgm_ctx *ctx, const char *key, const char *value, unsigned ttl_s);
    /** Remove @p key.  0 whether or not it existed. */
    int (*cache_del)(struct wgm_ctx *ctx, const char *key);
    /** Add @p delta to the integer at @p key (created as 0 with @p ttl_s when
     *  absent) and store the result in @p out. */
    int (*cache_incr)(struct wgm_ctx *ctx, const char *key, int64_t delta, unsigned ttl_s, int64_t *out);

    /* --- events ----------------------------------------------------- */

    /** Publish @p payload (stolen) on @p topic.  Delivery is asynchronous and
     *  in order; the publisher never waits for subscribers. */
    int (*publish)(struct wgm_ctx *ctx, const char *topic, json_t *payload);
    /** Call @p fn for every event on @p topic ("*" for all).  0 or a negative errno. */
    int (*subscribe)(struct wgm_ctx *ctx, const char *topic, wgm_event_fn fn, void *data);

    /* --- secrets ---------------------------------------------------- */

    /** Encrypt @p len bytes under the master key (XChaCha20-Poly1305) into a
     *  printable token (new, free with host->free) safe to store in the database. */
    int (*secret_seal)(struct wgm_ctx *ctx, const void *plain, size_t len, char **sealed);
    /** Decrypt a token from secret_seal into @p plain (new, NUL-terminated for
     *  convenience, free with host->free_secret) and its length.  -EBADMSG when forged. */
    int (*secret_open)(struct wgm_ctx *ctx, const char *sealed, char **plain, size_t *len);
    /** Free memory the host returned as new.  Accepts NULL. */
    void (*free)(void *p);
    /** Wipe and free a secret from secret_open.  Accepts NULL. */
    void (*free_secret)(void *p, size_t len);

    /* --- callers and helpers ------------------------------------------ */

    /** True when the caller of @p req holds @p permission (e.g. a plugin
     *  deciding whether to show secrets).  False for anonymous callers. */
    int (*req_can)(const struct wgm_req *req, const char *permission);
    /** Render @p text as a QR code PNG (scale pixels per module, 1..32).
     *  @p png is new (host->free).  0, -EMSGSIZE (text too long) or errno. */
    int (*qr_png)(const char *text, unsigned scale, unsigned char **png, size_t *len);

    /* --- ABI 1.1 ----------------------------------------------------- */

    /** Client address of @p req as text ("127.0.0.1", "::1").  Borrowed. */
    const char *(*req_remote_addr)(const struct wgm_req *req);
    /** Like route_add, but @p path is absolute and outside the API base
     *  ("/metrics").  Paths under /api/ and /ws/ are refused with -EINVAL. */
    int (*route_add_root)(struct wgm_ctx *ctx, const char *method, const char *path,
                          const char *permission, wgm_handler_fn handler);
    /** Fill @p out (set out->struct_size first; members past it are left
     *  alone) with the daemon's HTTP, WebSocket, database and cache figures. */
    int (*app_stats)(struct wgm_ctx *ctx, struct wgm_app_stats *out);
    /** Add a Prometheus metrics provider, called on every metrics_render.
     *  The host owns nothing; the provider goes away with the plugin. */
    int (*metrics_register)(struct wgm_ctx *ctx, wgm_metrics_fn fn, void *data);
    /** Start family @p name ([a-zA-Z_:][a-zA-Z0-9_:]*) of @p type ("counter",
     *  "gauge" or "untyped") with @p help (escaped by the host).  -EINVAL for
     *  a bad name or type, -EEXIST when another provider wrote the family. */
    int (*metrics_family)(struct wgm_metrics *m, const char *name, const char *type, const char *help);
    /** One sample of the current family.  @p labels is NULL or a
     *  NULL-terminated list of name, value pairs (values escaped by the host;
     *  names must be valid label names).  NaN and infinities are written as
     *  Prometheus spells them. */
    int (*metrics_sample)(struct wgm_metrics *m, double value, const char *const *labels);
    /** Run every provider (the core's own first: process, HTTP, database,
     *  cache, WebSocket) into one exposition in the text format 0.0.4.
     *  @p text is new (host->free).  A failing provider is skipped and logged. */
    int (*metrics_render)(struct wgm_ctx *ctx, char **text, size_t *len);
    /** The caller of @p req: its user id (0 when anonymous) and user name
     *  (borrowed, "" when anonymous), e.g. for "acknowledged_by". */
    int64_t (*req_user)(const struct wgm_req *req, const char **username);

    /* --- ABI 1.2 ----------------------------------------------------- */

    /** Like resp_json, with the envelope's "message": @p en, or @p zh when
     *  the request's Accept-Language prefers Chinese (either may be NULL;
     *  the other is used).  Both borrowed. */
    int (*resp_json_msg)(struct wgm_resp *resp, unsigned status, json_t *data, const char *en, const char *zh);
    /** Add a service to GET /system/info's "services" as @p name (copied;
     *  [a-z0-9_-], one per name).  @p fn runs on the request's thread and
     *  returns a new object read live (at least "status"; "version", "pid"
     *  as known), or NULL when it has nothing to say.  The host owns nothing;
     *  the entry goes away with the plugin.  -EEXIST for a taken name. */
    int (*service_register)(struct wgm_ctx *ctx, const char *name, wgm_service_fn fn, void *data);

    /* ABI 1.x additions are appended here. */
};

/** True when the running host has member @p m (it may be newer than the SDK). */
#define WGM_HOST_HAS(host, m) \
    ((host)->struct_size >= offsetof(struct wgm_host, m) + sizeof((host)->m) && (host)->m != NULL)

/** Shorthand: answer @p resp with success envelope around @p data (stolen). */
static inline int wgm_resp_json(struct wgm_resp *resp, unsigned status, json_t *data)
{
    return resp->host->resp_json(resp, status, data);
}

/** Shorthand: success envelope around @p data (stolen) with a "message"
 *  in English (@p en) or Chinese (@p zh), as the request prefers.  On a
 *  host older than ABI 1.2 the message is left out. */
static inline int wgm_resp_json_msg(struct wgm_resp *resp, unsigned status, json_t *data, const char *en,
                                    const char *zh)
{
    if (WGM_HOST_HAS(resp->host, resp_json_msg))
        return resp->host->resp_json_msg(resp, status, data, en, zh);
    return resp->host->resp_json(resp, status, data);
}

/** Shorthand: answer @p resp with an error envelope; @p details is stolen. */
static inline int wgm_resp_error(struct wgm_resp *resp, unsigned status, const char *code,
                                 const char *message, json_t *details)
{
    return resp->host->resp_error(resp, status, code, message, details);
}

/** Shorthand: path parameter of @p req. */
static inline const char *wgm_req_param(const struct wgm_req *req, const char *name)
{
    return req->host->req_param(req, name);
}

/** Shorthand: query argument of @p req. */
static inline const char *wgm_req_query(const struct wgm_req *req, const char *name)
{
    return req->host->req_query(req, name);
}

#ifdef __cplusplus
}
#endif
#endif
