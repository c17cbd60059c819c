/* core/http/server: libmicrohttpd glue and the request pipeline. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <microhttpd.h>
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "logs/access.h"
#include "server.h"
#include "util.h"

struct wgm_http {
    struct MHD_Daemon *mhd;
    struct wgm_http_opts opts;
    char *tls_cert, *tls_key; /* PEM text; MHD wants it in memory */
    char hsts[48];            /* Strict-Transport-Security value; "" without TLS */
    atomic_uint in_flight;
    atomic_bool access_log;
    pthread_mutex_t stats_lock;
    struct wgm_http_stats stats;
};

#define MAX_REQUEST_ID 128
/* TLS 1.2 and 1.3 only, forward-secret key exchange, AEAD ciphers. */
#define DEFAULT_TLS_PRIORITIES                                                                         \
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:"   \
    "+AES-128-GCM:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA"

/* The attribute tells clang's -Wformat-nonliteral that fmt is MHD's printf format. */
__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    wgm_log(WGM_LOG_WARN, "http", "%s", line);
}

/* Echo a client's request id only when it is short and plain, so it cannot
 * smuggle anything into headers or logs. */
static bool sane_request_id(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++)
        if (n >= MAX_REQUEST_ID || !(isalnum((unsigned char)s[n]) || strchr("-_.:", s[n])))
            return false;
    return n > 0;
}

static void client_ip(struct MHD_Connection *c, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;

    snprintf(buf, len, "-");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)len);
}

int wgm_http_log_escape(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    int changed = 0;

    if (!outlen)
        return -ENOSPC;
    for (const unsigned char *p = (const unsigned char *)in; p && *p; p++) {
        /* Control bytes, DEL, space and the backslash itself: \xNN keeps a
         * line one line and its space-separated fields where they are. */
        bool esc = *p < 0x21 || *p == 0x7f || *p == '\\';
        if (o + (esc ? 4 : 1) >= outlen) {
            out[o] = '\0';
            return -ENOSPC;
        }
        if (esc) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
            changed = 1;
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o] = '\0';
    return changed;
}

/* Replace *@s (malloc'd) by its escaped form when it needs one. */
static void escape_in_place(char **s)
{
    size_t n = strlen(*s) * 4 + 1;
    char *e = malloc(n);

    if (e && wgm_http_log_escape(*s, e, n) > 0) {
        free(*s);
        *s = e;
    } else {
        free(e);
    }
}

/* The handler has run: from here the path and method are only logged (the
 * audit record, the access line and record), so they are logged escaped
 * and a %0a in the URL cannot end a line. */
static void log_safe(struct wgm_request *r)
{
    char m[sizeof(r->method) * 4];

    escape_in_place(&r->path);
    r->pub.path = r->path;
    if (wgm_http_log_escape(r->method, m, sizeof(m)) > 0) {
        m[sizeof(r->method) - 1] = '\0'; /* a cut escape is still no control byte */
        memcpy(r->method, m, sizeof(r->method));
    }
}

static struct wgm_request *request_new(struct wgm_http *h, struct MHD_Connection *c, const char *method,
                                       const char *url)
{
    struct wgm_request *r = calloc(1, sizeof(*r));
    const char *rid;

    if (!r || !(r->path = strdup(url))) {
        free(r);
        return NULL;
    }
    r->conn = c;
    r->start_us = wgm_now_us();
    snprintf(r->method, sizeof(r->method), "%s", method);
    rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-ID");
    if (sane_request_id(rid))
        snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
    else
        wgm_request_id_new(r->request_id, sizeof(r->request_id));
    client_ip(c, r->client_ip, sizeof(r->client_ip));
    r->pub.host = h->opts.host_table;
    r->pub.method = r->method;
    r->pub.path = r->path;
    r->pub.request_id = r->request_id;
    r->resp.pub.host = h->opts.host_table;
    r->resp.request_id = r->request_id;
    r->daemon = h->opts.daemon;
    return r;
}

static void request_free(struct wgm_request *r)
{
    if (!r)
        return;
    if (r->resp.file_set)
        close(r->resp.file_fd);
    wgm_response_clear(&r->resp);
    wgm_response_free_guard_headers(&r->resp);
    wgm_principal_clear(&r->principal);
    json_decref(r->pub.body);
    free(r->body_buf);
    free(r->path);
    free(r);
}

static int append_body(struct wgm_http *h, struct wgm_request *r, const char *data, size_t size)
{
    if (r->body_too_large || r->body_len + size > h->opts.body_limit) {
        r->body_too_large = true; /* keep reading so the 413 can be sent */
        return 0;
    }
    if (r->body_len + size + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + size + 1)
            cap *= 2;
        char *grown = realloc(r->body_buf, cap);
        if (!grown)
            return -ENOMEM;
        r->body_buf = grown;
        r->body_cap = cap;
    }
    memcpy(r->body_buf + r->body_len, data, size);
    r->body_len += size;
    r->body_buf[r->body_len] = '\0';
    return 0;
}

static void error(struct wgm_request *r, unsigned status, const char *code, const char *message,
                  json_t *details)
{
    wgm_response_clear(&r->resp);
    if (wgm_resp_error_impl(&r->resp.pub, status, code, message, details) < 0)
        r->resp.set = false;
}

/* Parse the body as JSON; a non-empty body that is not JSON is a 400. */
static int parse_body(struct wgm_request *r)
{
    json_error_t jerr;

    if (r->body_len == 0)
        return 0;
    r->pub.body = json_loadb(r->body_buf, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (r->pub.body)
        return 0;
    error(r, 400, "BAD_REQUEST", "request body is not valid JSON",
          json_pack("{s:s,s:i,s:i,s:i}", "body", jerr.text, "line", jerr.line, "column", jerr.column,
                    "position", jerr.position));
    return -EINVAL;
}

/* Order matters: the guard sees every request (rate limits and their
 * headers apply to 404s too), but authorizes only a matched route. */
static void dispatch(struct wgm_http *h, struct wgm_request *r)
{
    enum wgm_route_result rr;
    const char *ct;

    rr = wgm_router_match(h->opts.router, r->method, r->path, &r->match);
    if (h->opts.guard && h->opts.guard(h->opts.guard_arg, r) != 0) {
        if (!r->resp.set)
            error(r, 500, "INTERNAL_ERROR", "request guard failed", NULL);
        return;
    }
    if (r->body_too_large) {
        char limit[32];
        snprintf(limit, sizeof(limit), "%zu", h->opts.body_limit);
        error(r, 413, "PAYLOAD_TOO_LARGE", "request body exceeds the limit", json_pack("{s:s}", "body", limit));
        return;
    }
    if (rr == WGM_ROUTE_NOT_FOUND) {
        error(r, 404, "RESOURCE_NOT_FOUND", "no such endpoint", json_pack("{s:s}", "path", r->path));
        return;
    }
    if (rr == WGM_ROUTE_BAD_METHOD) {
        error(r, 405, "METHOD_NOT_ALLOWED", "method not allowed on this endpoint",
              json_pack("{s:s,s:s}", "method", r->method, "allowed", r->match.allow));
        wgm_resp_header_impl(&r->resp.pub, "Allow", r->match.allow);
        return;
    }
    /* Fail closed: a route that names a permission is never served without
     * a guard able to check it. */
    if (!h->opts.guard && r->match.permission) {
        error(r, 401, "TOKEN_INVALID", "authentication required",
              json_pack("{s:s}", "permission", r->match.permission));
        return;
    }
    ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (r->body_len && ct && strncasecmp(ct, "application/json", 16) != 0) {
        error(r, 415, "UNSUPPORTED_MEDIA_TYPE", "request body must be application/json",
              json_pack("{s:s}", "content_type", ct));
        return;
    }
    if (parse_body(r) < 0)
        return;
    int ret = r->match.handler(r->match.owner, &r->pub, &r->resp.pub);
    r->handler_rc = ret; /* for debug_mode's details (daemon.c) */
    if (ret < 0 || !r->resp.set) {
        wgm_log(WGM_LOG_ERROR, "http", "%s %s: handler failed (%s) request_id=%s", r->method, r->path,
                ret < 0 ? strerror(-ret) : "no response", r->request_id);
        error(r, 500, "INTERNAL_ERROR", "internal server error", NULL);
    }
}

int wgm_http_respond_file(struct wgm_resp *resp, unsigned status, const char *content_type, int fd, uint64_t size)
{
    struct wgm_response *r = (struct wgm_response *)resp;

    if (fd < 0)
        return -EBADF;
    if (r->file_set)
        close(r->file_fd);
    free(r->body);
    r->body = NULL; /* what marks the file as the body (see queue) */
    r->len = (size_t)size;
    r->status = status;
    r->set = true;
    r->file_fd = fd;
    r->file_size = size;
    r->file_set = true;
    snprintf(r->content_type, sizeof(r->content_type), "%s", content_type ? content_type : "application/octet-stream");
    return 0;
}

static enum MHD_Result queue(struct wgm_http *h, struct wgm_request *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ok;

    if (!r->resp.set)
        error(r, 500, "INTERNAL_ERROR", "internal server error", NULL);
    if (r->resp.upgrade_fn) {
        /* MHD adds "Connection: Upgrade" itself; the handler added Upgrade. */
        resp = MHD_create_response_for_upgrade((MHD_UpgradeHandler)r->resp.upgrade_fn, r->resp.upgrade_cls);
        if (!resp)
            return MHD_NO;
        for (const struct wgm_header *hd = r->resp.headers; hd; hd = hd->next)
            MHD_add_response_header(resp, hd->name, hd->value);
        ok = MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
        MHD_destroy_response(resp);
        return ok;
    }
    if (r->resp.file_set && !r->resp.body) {
        /* Streamed from the file in pieces (sendfile without TLS); the
         * response owns the descriptor from here on. */
        resp = MHD_create_response_from_fd64(r->resp.file_size, r->resp.file_fd);
        if (!resp)
            return MHD_NO;
        r->resp.file_set = false;
    } else {
        resp = MHD_create_response_from_buffer(r->resp.len, r->resp.body, MHD_RESPMEM_MUST_COPY);
    }
    if (!resp)
        return MHD_NO;
    if (h->hsts[0])
        MHD_add_response_header(resp, "Strict-Transport-Security", h->hsts);
    for (const struct wgm_header *hd = r->resp.guard_headers; hd; hd = hd->next)
        MHD_add_response_header(resp, hd->name, hd->value);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp.content_type);
    MHD_add_response_header(resp, "X-Request-ID", r->request_id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (const struct wgm_header *hd = r->resp.headers; hd; hd = hd->next)
        MHD_add_response_header(resp, hd->name, hd->value);
    ok = MHD_queue_response(r->conn, r->resp.status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct wgm_http *h = cls;
    struct wgm_request *r = *con_cls;

    (void)version;
    if (!r) {
        r = request_new(h, c, method, url);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&h->in_flight, 1);
        /* Refuse early when the client announces an oversize body. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        long long n;
        if (cl && wgm_parse_ll(cl, 0, 1LL << 62, &n) == 0 && (unsigned long long)n > h->opts.body_limit)
            r->body_too_large = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (append_body(h, r, upload_data, *upload_data_size) < 0)
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    dispatch(h, r);
    log_safe(r);
    if (h->opts.after)
        h->opts.after(h->opts.guard_arg, r);
    return queue(h, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct wgm_http *h = cls;
    struct wgm_request *r = *con_cls;
    uint64_t us;

    (void)c;
    if (!r)
        return;
    us = wgm_now_us() - r->start_us;
    pthread_mutex_lock(&h->stats_lock);
    h->stats.requests++;
    h->stats.total_us += us;
    if (r->resp.status >= 500)
        h->stats.server_errors++;
    else if (r->resp.status >= 400)
        h->stats.client_errors++;
    pthread_mutex_unlock(&h->stats_lock);
    if (!r->resp.set)
        log_safe(r); /* aborted before it was answered: on_request did not get to it */
    /* The stderr line; the log store gets the record below, with its
     * fields apart (logs/access.c). */
    if (atomic_load(&h->access_log)) {
        wgm_logs_access_stderr_only(true);
        wgm_log(WGM_LOG_INFO, "access", "%s %s %s %u %zu %.1fms request_id=%s%s%s%s", r->client_ip, r->method,
                r->path, r->resp.status, r->resp.len, (double)us / 1000.0, r->request_id,
                r->resp.error_code ? " error=" : "", r->resp.error_code ? r->resp.error_code : "",
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
        wgm_logs_access_stderr_only(false);
        wgm_logs_access(h->opts.daemon, r, us, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    }
    request_free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&h->in_flight, 1);
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    long size;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < (1 << 20) &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) &&
        fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = '\0';
    } else {
        free(buf);
        buf = NULL;
        snprintf(err, errlen, "%s: cannot read", path);
    }
    fclose(f);
    return buf;
}

static int make_addr(const char *host, unsigned port, struct sockaddr_storage *ss, bool *v6)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = true;
        return 0;
    }
    if (strcmp(host, "localhost") == 0)
        return make_addr("127.0.0.1", port, ss, v6);
    return -EINVAL;
}

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104: nobody else can reach it. */
static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

int wgm_http_start(const struct wgm_http_opts *opts, struct wgm_http **out, char *err, size_t errlen)
{
    struct wgm_http *h = calloc(1, sizeof(*h));
    struct sockaddr_storage ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_UPGRADE;
    const struct wgm_conf *conf = opts->daemon ? ((struct wgm_daemon *)opts->daemon)->conf : NULL;
    const char *prio = conf ? wgm_conf_get(conf, "http", "tls_priorities") : NULL;
    unsigned per_ip = conf ? (unsigned)wgm_conf_get_int(conf, "http", "max_connections_per_ip", 128) : 0;
    long long hsts = conf ? wgm_conf_get_int(conf, "http", "hsts_max_age", 31536000) : 31536000;
    struct MHD_OptionItem tls[4] = {{MHD_OPTION_END, 0, NULL}};
    bool v6;

    if (!h)
        return -ENOMEM;
    if (!prio || !*prio)
        prio = DEFAULT_TLS_PRIORITIES;
    h->opts = *opts;
    pthread_mutex_init(&h->stats_lock, NULL);
    atomic_store(&h->access_log, opts->access_log);
    if (make_addr(opts->host, opts->port, &ss, &v6) < 0) {
        snprintf(err, errlen, "listen address '%s' is not an IPv4 or IPv6 address", opts->host);
        goto fail;
    }
    if (v6)
        flags |= MHD_USE_IPv6;
    if (opts->tls_cert_file || opts->tls_key_file) {
        if (!opts->tls_cert_file || !opts->tls_key_file) {
            snprintf(err, errlen, "TLS needs both tls_cert and tls_key");
            goto fail;
        }
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "TLS is configured but this libmicrohttpd was built without it");
            goto fail;
        }
        if (!(h->tls_cert = read_file(opts->tls_cert_file, err, errlen)) ||
            !(h->tls_key = read_file(opts->tls_key_file, err, errlen)))
            goto fail;
        flags |= MHD_USE_TLS;
        tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
        tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
        tls[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)prio};
        if (hsts > 0)
            snprintf(h->hsts, sizeof(h->hsts), "max-age=%lld", hsts);
    }
    errno = 0;
    h->mhd = MHD_start_daemon(
        flags, (uint16_t)opts->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)opts->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, MHD_OPTION_CONNECTION_LIMIT, 4096u,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!h->mhd) {
        snprintf(err, errlen, "cannot listen on %s:%u: %s", opts->host, opts->port,
                 errno ? strerror(errno)
                 : h->tls_cert ? "libmicrohttpd refused the TLS set-up (check tls_cert, tls_key and tls_priorities)"
                               : "libmicrohttpd refused the options");
        goto fail;
    }
    if (!h->tls_cert && !is_loopback(&ss))
        wgm_log(WGM_LOG_WARN, "http",
                "listening on %s without TLS: passwords and tokens cross the network in clear; set [http] tls_cert "
                "and tls_key, or serve through a TLS proxy on this host",
                opts->host);
    *out = h;
    return 0;
fail:
    wgm_http_free(h);
    return -EINVAL;
}

unsigned wgm_http_port(const struct wgm_http *h)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : 0;
}

unsigned wgm_http_drain(struct wgm_http *h, unsigned timeout_ms)
{
    uint64_t deadline = wgm_now_ms() + timeout_ms;
    MHD_socket fd = MHD_quiesce_daemon(h->mhd);

    if (fd != MHD_INVALID_SOCKET)
        close(fd); /* we own the listening socket after quiesce */
    while (atomic_load(&h->in_flight) > 0 && wgm_now_ms() < deadline)
        usleep(10000);
    return atomic_load(&h->in_flight);
}

struct wgm_http *wgm_http_free(struct wgm_http *h)
{
    if (!h)
        return NULL;
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    if (h->tls_key)
        explicit_bzero(h->tls_key, strlen(h->tls_key));
    free(h->tls_key);
    free(h->tls_cert);
    pthread_mutex_destroy(&h->stats_lock);
    free(h);
    return NULL;
}

void wgm_http_stats(struct wgm_http *h, struct wgm_http_stats *out)
{
    pthread_mutex_lock(&h->stats_lock);
    *out = h->stats;
    pthread_mutex_unlock(&h->stats_lock);
    out->in_flight = atomic_load(&h->in_flight);
    out->connections = 0;
    if (h->mhd) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info)
            out->connections = info->num_connections;
    }
}

void wgm_http_set_access_log(struct wgm_http *h, bool on)
{
    atomic_store(&h->access_log, on);
}
