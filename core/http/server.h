/* core/http/server: libmicrohttpd with its internal thread pool on epoll.
 *
 * Per request: X-Request-ID (echoed when sane, else generated), body
 * collected up to the limit (413 past it), route match (404/405), JSON body
 * parsed (400 with position on error), the guard (auth and rate limits, set
 * by later subsystems), the handler, then one access-log line. */
#ifndef WGM_CORE_HTTP_SERVER_H
#define WGM_CORE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "request.h"
#include "router.h"

struct wgm_http;

/* Runs for every request after routing (req->match.handler is NULL when no
 * route matched), before the handler.  Return 0 to go on, or fill
 * req->resp (an error envelope) and return non-zero to answer with it. */
typedef int (*wgm_http_guard_fn)(void *arg, struct wgm_request *req);

struct wgm_http_opts {
    const char *host;
    unsigned port; /* 0: any free port (see wgm_http_port) */
    unsigned threads;
    size_t body_limit;
    unsigned connection_timeout_s;
    const char *tls_cert_file, *tls_key_file;
    bool access_log;
    struct wgm_router *router;
    const struct wgm_host *host_table;
    struct wgm_ctx *core_ctx; /* owner passed to handlers registered by the core */
    wgm_http_guard_fn guard;
    void *guard_arg;
    /* Runs after the handler, before the response is queued (audit). */
    void (*after)(void *arg, struct wgm_request *req);
    void *daemon; /* handed to core handlers through struct wgm_request */
};

struct wgm_http_stats {
    uint64_t requests, client_errors, server_errors;
    uint64_t total_us;  /* summed handling time */
    unsigned in_flight;
    unsigned connections; /* open HTTP connections (MHD's count) */
};

int wgm_http_start(const struct wgm_http_opts *opts, struct wgm_http **out, char *err, size_t errlen);
unsigned wgm_http_port(const struct wgm_http *h);
/* Stop accepting, wait up to @timeout_ms for in-flight requests, then stop.
 * Returns the number of requests still in flight when it gave up. */
unsigned wgm_http_drain(struct wgm_http *h, unsigned timeout_ms);
struct wgm_http *wgm_http_free(struct wgm_http *h);
void wgm_http_stats(struct wgm_http *h, struct wgm_http_stats *out);
void wgm_http_set_access_log(struct wgm_http *h, bool on);

/* Answer with the contents of @fd (a regular file of @size bytes, read
 * from its current offset), streamed by libmicrohttpd rather than loaded:
 * the response owns @fd from this call on, whatever happens (it is closed
 * when sent, or with the request).  Headers are added with resp_header as
 * usual.  0 or -EBADF. */
int wgm_http_respond_file(struct wgm_resp *resp, unsigned status, const char *content_type, int fd, uint64_t size);

/* Copy @in to @out with control bytes, DEL, space and backslash written as
 * \xNN, so a logged path or method stays one line and one field.  1 when
 * something was escaped, 0 when nothing was, -ENOSPC when @out was too
 * small (@out is still NUL-terminated). */
int wgm_http_log_escape(const char *in, char *out, size_t outlen);

#endif
