/* core/http/request: the per-request state behind the public wgm_req and
 * wgm_resp, and the envelope writers the host table exposes. */
#ifndef WGM_CORE_HTTP_REQUEST_H
#define WGM_CORE_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <wgm/host.h>
#include "router.h"
#include "auth/principal.h"

struct MHD_Connection;
struct MHD_UpgradeResponseHandle;

struct wgm_header {
    struct wgm_header *next;
    char *name, *value;
};

/* Always a member of its struct wgm_request: response.c finds the
 * request's headers (Accept-Language) from it. */
struct wgm_response {
    struct wgm_resp pub; /* first: handlers see only this */
    unsigned status;
    bool set;            /* a resp_* call produced a body */
    char *body;
    size_t len;
    char content_type[96];
    struct wgm_header *headers;
    const char *request_id; /* borrowed from the request */
    const char *error_code; /* for the access log; static string or NULL */
    /* Set by wgm_response_upgrade: answer 101 and hand the socket over. */
    void (*upgrade_fn)(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                       size_t extra_in_size, int sock, struct MHD_UpgradeResponseHandle *urh);
    void *upgrade_cls;
    /* Extra headers the guard adds to whatever the handler answers
     * (rate limits); kept apart so a handler's error keeps them. */
    struct wgm_header *guard_headers;
    /* Set by wgm_http_respond_file (server.c): the body streams from
     * file_fd while body is NULL; server.c closes it if it is never sent. */
    bool file_set;
    int file_fd;
    uint64_t file_size;
};

struct wgm_request {
    struct wgm_req pub; /* first: handlers see only this */
    struct MHD_Connection *conn;
    struct wgm_route_match match;
    char request_id[130];
    char method[16];
    char *path;
    char client_ip[64];
    char *body_buf;
    size_t body_len, body_cap;
    bool body_too_large;
    uint64_t start_us;
    struct wgm_response resp;
    /* Who is calling; principal.user_id == 0 and no via when anonymous. */
    struct wgm_principal principal;
    bool authenticated;
    void *daemon; /* struct wgm_daemon *, for core handlers */
    int handler_rc;  /* what the handler returned (a negative errno on failure) */
};

/* The principal of a request handled by the core, or NULL when anonymous. */
const struct wgm_principal *wgm_request_principal(const struct wgm_req *req);
/* Client address as text ("127.0.0.1", "::1"). */
const char *wgm_request_client_ip(const struct wgm_req *req);

/* Answer with 101 Switching Protocols and call @fn with the socket once the
 * headers are out (libmicrohttpd's upgrade API).  Headers for the 101 are
 * added with resp_header.  @fn must not close the socket: it finishes with
 * MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE). */
int wgm_response_upgrade(struct wgm_response *r,
                         void (*fn)(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                                    size_t extra_in_size, int sock, struct MHD_UpgradeResponseHandle *urh),
                         void *cls);
/* Add a header that survives whatever the handler answers (rate limits). */
int wgm_response_guard_header(struct wgm_response *r, const char *name, const char *value);

/* Host-table implementations (see wgm/host.h for contracts). */
const char *wgm_req_param_impl(const struct wgm_req *req, const char *name);
const char *wgm_req_query_impl(const struct wgm_req *req, const char *name);
const char *wgm_req_header_impl(const struct wgm_req *req, const char *name);
int wgm_resp_json_impl(struct wgm_resp *resp, unsigned status, json_t *data);
int wgm_resp_error_impl(struct wgm_resp *resp, unsigned status, const char *code, const char *message,
                        json_t *details);
int wgm_resp_json_msg_impl(struct wgm_resp *resp, unsigned status, json_t *data, const char *en, const char *zh);
/* Does Accept-Language @header (NULL: absent) weigh Chinese (zh, zh-*)
 * above English?  q-values per RFC 9110; a range naming a language beats
 * "*"; ties and malformed elements leave English. */
bool wgm_http_prefers_zh(const char *header);
int wgm_resp_raw_impl(struct wgm_resp *resp, unsigned status, const char *content_type, const void *data,
                      size_t len);
int wgm_resp_header_impl(struct wgm_resp *resp, const char *name, const char *value);
/* Free body and headers; the response can be filled again.  Guard
 * headers stay until wgm_response_free_guard_headers. */
void wgm_response_clear(struct wgm_response *r);
void wgm_response_free_guard_headers(struct wgm_response *r);

#endif
