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

struct MHD_Connection;

struct wgm_header {
    struct wgm_header *next;
    char *name, *value;
};

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
};

/* Host-table implementations (see wgm/host.h for contracts). */
const char *wgm_req_param_impl(const struct wgm_req *req, const char *name);
const char *wgm_req_query_impl(const struct wgm_req *req, const char *name);
const char *wgm_req_header_impl(const struct wgm_req *req, const char *name);
int wgm_resp_json_impl(struct wgm_resp *resp, unsigned status, json_t *data);
int wgm_resp_error_impl(struct wgm_resp *resp, unsigned status, const char *code, const char *message,
                        json_t *details);
int wgm_resp_raw_impl(struct wgm_resp *resp, unsigned status, const char *content_type, const void *data,
                      size_t len);
int wgm_resp_header_impl(struct wgm_resp *resp, const char *name, const char *value);
/* Free body and headers; the response can be filled again. */
void wgm_response_clear(struct wgm_response *r);

#endif
