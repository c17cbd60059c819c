/* libFuzzer harness for core/http/router.
 *
 * Input: "METHOD PATH" on the first line, optionally a route template on
 * the second.  PATH is matched against a router holding the API's real
 * route shapes (built once); the template is added to a scratch router and
 * must then match itself.  Any invariant broken aborts, so libFuzzer
 * reports it as a crash. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int handler(struct wgm_ctx *c, const struct wgm_req *q, struct wgm_resp *p)
{
    (void)c;
    (void)q;
    (void)p;
    return 0;
}

/* The spec's shapes: literals beside parameters ("/users/me" vs
 * "/users/{id}"), nested parameters, actions, the WebSocket endpoint. */
static const struct {
    const char *method, *template;
} routes[] = {
    {"GET", "/api/v1/health"},
    {"POST", "/api/v1/auth/login"},
    {"POST", "/api/v1/auth/refresh"},
    {"POST", "/api/v1/auth/logout"},
    {"POST", "/api/v1/auth/2fa/verify"},
    {"GET", "/api/v1/users"},
    {"POST", "/api/v1/users"},
    {"GET", "/api/v1/users/me"},
    {"PUT", "/api/v1/users/me"},
    {"GET", "/api/v1/users/{id}"},
    {"PUT", "/api/v1/users/{id}"},
    {"PATCH", "/api/v1/users/{id}"},
    {"DELETE", "/api/v1/users/{id}"},
    {"POST", "/api/v1/users/{id}/2fa/enable"},
    {"GET", "/api/v1/api-keys"},
    {"DELETE", "/api/v1/api-keys/{id}"},
    {"GET", "/api/v1/wireguard/servers"},
    {"POST", "/api/v1/wireguard/servers"},
    {"GET", "/api/v1/wireguard/servers/{id}"},
    {"DELETE", "/api/v1/wireguard/servers/{id}"},
    {"POST", "/api/v1/wireguard/servers/{id}/start"},
    {"POST", "/api/v1/wireguard/servers/{id}/stop"},
    {"GET", "/api/v1/wireguard/servers/{id}/clients"},
    {"GET", "/api/v1/wireguard/servers/{server_id}/clients/{client_id}"},
    {"GET", "/api/v1/wireguard/clients/{id}/config"},
    {"GET", "/api/v1/wireguard/clients/{id}/qrcode"},
    {"GET", "/api/v1/ipv6/pools/{id}/allocations"},
    {"GET", "/api/v1/bgp/sessions/{id}/status"},
    {"GET", "/api/v1/system/info"},
    {"GET", "/api/v1/logs"},
    {"GET", "/ws/connect"},
};

static struct wgm_router *build(void)
{
    struct wgm_router *r = wgm_router_new();

    if (!r)
        abort();
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (wgm_router_add(r, NULL, routes[i].method, routes[i].template, "perm", handler) != 0)
            abort();
    return r;
}

/* What a FOUND match promises the request pipeline. */
static void check_match(const struct wgm_route_match *m, const char *method)
{
    if (!m->template || !m->method || strcmp(m->method, method) != 0 || m->handler != handler ||
        m->nparams > WGM_ROUTE_MAX_PARAMS)
        abort();
    for (size_t i = 0; i < m->nparams; i++) {
        const char *v = m->params[i].value;
        if (!memchr(m->params[i].name, '\0', sizeof(m->params[i].name)) ||
            !memchr(v, '\0', sizeof(m->params[i].value)) || !*v || strchr(v, '/'))
            abort();
    }
}

/* A template the router accepted must match a path spelled like itself,
 * each "{name}" binding the literal text "{name}". */
static void scratch(const char *method, const char *template)
{
    struct wgm_router *r = wgm_router_new();
    struct wgm_route_match m;

    if (!r)
        abort();
    if (wgm_router_add(r, NULL, method, template, NULL, handler) == 0) {
        if (wgm_router_match(r, method, template, &m) != WGM_ROUTE_FOUND)
            abort();
        check_match(&m, method);
        if (strcmp(m.template, template) != 0)
            abort();
        for (size_t i = 0; i < m.nparams; i++) {
            const char *v = m.params[i].value;
            size_t n = strlen(v);
            if (v[0] != '{' || v[n - 1] != '}' || strncmp(v + 1, m.params[i].name, n - 2) != 0 ||
                m.params[i].name[n - 2] != '\0')
                abort();
        }
        if (wgm_router_add(r, NULL, method, template, NULL, handler) != -EEXIST)
            abort();
    }
    wgm_router_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct wgm_router *api; /* built once; reachable, so not a leak */
    struct wgm_route_match m;
    char *buf, *path, *template = NULL, *nl;
    enum wgm_route_result res;

    if (!api)
        api = build();
    if (!(buf = malloc(size + 1)))
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if ((nl = strchr(buf, '\n'))) {
        *nl = '\0';
        template = nl + 1;
    }
    path = strchr(buf, ' ');
    if (path)
        *path++ = '\0';
    else
        path = buf + strlen(buf); /* no space: empty path, all method */

    res = wgm_router_match(api, buf, path, &m);
    if (res == WGM_ROUTE_FOUND)
        check_match(&m, buf);
    else if (res == WGM_ROUTE_BAD_METHOD && !m.allow[0])
        abort(); /* a 405 must say what is allowed */
    else if (res != WGM_ROUTE_NOT_FOUND && res != WGM_ROUTE_BAD_METHOD)
        abort();

    if (template)
        scratch(buf, template);
    free(buf);
    return 0;
}
