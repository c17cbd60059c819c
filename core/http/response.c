/* core/http/response: the spec's envelopes.
 *   success: {"success":true,"data":...}
 *   error:   {"success":false,"error":{"code","message","details","request_id","timestamp"}} */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <microhttpd.h>
#include "request.h"
#include "util.h"

static struct wgm_response *R(struct wgm_resp *resp)
{
    return (struct wgm_response *)resp;
}

static const struct wgm_request *Q(const struct wgm_req *req)
{
    return (const struct wgm_request *)req;
}

const char *wgm_req_param_impl(const struct wgm_req *req, const char *name)
{
    const struct wgm_route_match *m = &Q(req)->match;
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return m->params[i].value;
    return NULL;
}

const char *wgm_req_query_impl(const struct wgm_req *req, const char *name)
{
    return MHD_lookup_connection_value(Q(req)->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *wgm_req_header_impl(const struct wgm_req *req, const char *name)
{
    return MHD_lookup_connection_value(Q(req)->conn, MHD_HEADER_KIND, name);
}

const struct wgm_principal *wgm_request_principal(const struct wgm_req *req)
{
    const struct wgm_request *q = Q(req);
    return q->authenticated ? &q->principal : NULL;
}

const char *wgm_request_client_ip(const struct wgm_req *req)
{
    return Q(req)->client_ip;
}

static int header_push(struct wgm_header **list, const char *name, const char *value)
{
    struct wgm_header *h;

    /* Header injection: refuse CR/LF in names and values. */
    if (!name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return -EINVAL;
    h = calloc(1, sizeof(*h));
    if (!h || !(h->name = strdup(name)) || !(h->value = strdup(value))) {
        if (h)
            free(h->name);
        free(h);
        return -ENOMEM;
    }
    h->next = *list;
    *list = h;
    return 0;
}

static void header_list_free(struct wgm_header **list)
{
    while (*list) {
        struct wgm_header *h = *list;
        *list = h->next;
        free(h->name);
        free(h->value);
        free(h);
    }
}

int wgm_response_guard_header(struct wgm_response *r, const char *name, const char *value)
{
    return header_push(&r->guard_headers, name, value);
}

int wgm_response_upgrade(struct wgm_response *r,
                         void (*fn)(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                                    size_t extra_in_size, int sock, struct MHD_UpgradeResponseHandle *urh),
                         void *cls)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
    r->status = 101;
    r->set = true;
    r->upgrade_fn = fn;
    r->upgrade_cls = cls;
    return 0;
}

void wgm_response_clear(struct wgm_response *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
    r->set = false;
    r->error_code = NULL;
    r->upgrade_fn = NULL;
    r->upgrade_cls = NULL;
    header_list_free(&r->headers);
}

void wgm_response_free_guard_headers(struct wgm_response *r)
{
    header_list_free(&r->guard_headers);
}

static int set_body(struct wgm_response *r, unsigned status, const char *type, char *body, size_t len)
{
    free(r->body);
    r->body = body;
    r->len = len;
    r->status = status;
    r->set = true;
    snprintf(r->content_type, sizeof(r->content_type), "%s", type);
    return 0;
}

static int set_json(struct wgm_response *r, unsigned status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(doc);
    if (!text)
        return -ENOMEM;
    return set_body(r, status, "application/json", text, strlen(text));
}

int wgm_resp_json_impl(struct wgm_resp *resp, unsigned status, json_t *data)
{
    json_t *doc = json_pack("{s:b,s:o}", "success", 1, "data", data ? data : json_null());
    if (!doc)
        return -ENOMEM;
    return set_json(R(resp), status, doc);
}

/* Weight of one element's q parameter in thousandths (RFC 9110 12.4.2),
 * or -1 when it is malformed. */
static int qvalue(const char *p, const char *end)
{
    int q = 1000, scale = 100;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end)
        return q;
    if (*p++ != ';')
        return -1;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (end - p < 3 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
        return -1;
    p += 2;
    if (*p == '1' || *p == '0') {
        q = (*p++ - '0') * 1000;
    } else {
        return -1;
    }
    if (p < end && *p == '.') {
        for (p++; p < end && isdigit((unsigned char)*p) && scale; p++, scale /= 10)
            q += (*p - '0') * scale;
    }
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p == end && q <= 1000 ? q : -1;
}

bool wgm_http_prefers_zh(const char *header)
{
    /* The best weight given to a range naming each language, and to "*";
     * a range naming the language beats "*" (the more specific one wins). */
    int zh = -1, en = -1, any = -1;
    const char *p = header;

    while (p && *p) {
        const char *end = strchr(p, ','), *semi;
        size_t tag;
        int q;
        if (!end)
            end = p + strlen(p);
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        semi = memchr(p, ';', (size_t)(end - p));
        tag = (size_t)((semi ? semi : end) - p);
        while (tag && (p[tag - 1] == ' ' || p[tag - 1] == '\t'))
            tag--;
        q = qvalue(p + tag, end);
        if (q >= 0 && tag) {
            /* primary subtag: "zh-Hans-CN" is Chinese, "en-GB" English */
            size_t primary = strcspn(p, "-;, \t");
            if (primary > tag)
                primary = tag;
            if (tag == 1 && *p == '*')
                any = q > any ? q : any;
            else if (primary == 2 && strncasecmp(p, "zh", 2) == 0)
                zh = q > zh ? q : zh;
            else if (primary == 2 && strncasecmp(p, "en", 2) == 0)
                en = q > en ? q : en;
        }
        p = *end ? end + 1 : end;
    }
    if (zh < 0)
        zh = any;
    if (en < 0)
        en = any;
    /* English unless Chinese weighs more; a tie (or "*") stays English. */
    return zh > 0 && zh > en;
}

/* Every wgm_response lives inside its wgm_request (server.c), so the
 * request's headers are reachable from the response a handler fills. */
static const struct wgm_request *request_of(struct wgm_resp *resp)
{
    return (const struct wgm_request *)(const void *)((char *)R(resp) - offsetof(struct wgm_request, resp));
}

int wgm_resp_json_msg_impl(struct wgm_resp *resp, unsigned status, json_t *data, const char *en, const char *zh)
{
    const struct wgm_request *q = request_of(resp);
    const char *lang = q->conn ? MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Accept-Language") : NULL;
    const char *msg = wgm_http_prefers_zh(lang) ? (zh ? zh : en) : (en ? en : zh);
    json_t *doc = json_pack("{s:b,s:o}", "success", 1, "data", data ? data : json_null());
    if (!doc)
        return -ENOMEM;
    if (msg && json_object_set_new(doc, "message", json_string(msg)) < 0) {
        json_decref(doc);
        return -ENOMEM;
    }
    return set_json(R(resp), status, doc);
}

int wgm_resp_error_impl(struct wgm_resp *resp, unsigned status, const char *code, const char *message,
                        json_t *details)
{
    struct wgm_response *r = R(resp);
    char ts[32];
    json_t *doc;

    wgm_time_rfc3339(time(NULL), ts, sizeof(ts));
    doc = json_pack("{s:b,s:{s:s,s:s,s:o,s:s?,s:s}}", "success", 0, "error", "code", code, "message",
                    message ? message : code, "details", details ? details : json_object(), "request_id",
                    r->request_id, "timestamp", ts);
    if (!doc)
        return -ENOMEM;
    r->error_code = code;
    return set_json(r, status, doc);
}

int wgm_resp_raw_impl(struct wgm_resp *resp, unsigned status, const char *content_type, const void *data,
                      size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    return set_body(R(resp), status, content_type ? content_type : "application/octet-stream", copy, len);
}

int wgm_resp_header_impl(struct wgm_resp *resp, const char *name, const char *value)
{
    return header_push(&R(resp)->headers, name, value);
}
