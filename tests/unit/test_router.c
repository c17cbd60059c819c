/* Router: templates, parameters, precedence, 404/405, ownership. */
#include <errno.h>
#include "http/router.h"
#include "tap.h"

static int h1(struct wgm_ctx *c, const struct wgm_req *q, struct wgm_resp *r) { (void)c; (void)q; (void)r; return 1; }
static int h2(struct wgm_ctx *c, const struct wgm_req *q, struct wgm_resp *r) { (void)c; (void)q; (void)r; return 2; }
static int h3(struct wgm_ctx *c, const struct wgm_req *q, struct wgm_resp *r) { (void)c; (void)q; (void)r; return 3; }

static int count_cb_n;
static void count_cb(const char *m, const char *t, const char *p, struct wgm_ctx *o, void *arg)
{
    (void)m; (void)t; (void)p; (void)o; (void)arg;
    count_cb_n++;
}

int main(void)
{
    struct wgm_router *r = wgm_router_new();
    struct wgm_route_match m;
    struct wgm_ctx *a = (struct wgm_ctx *)0x1, *b = (struct wgm_ctx *)0x2;

    is_int(wgm_router_add(r, a, "GET", "/api/v1/users", "users.view", h1), 0, "add list");
    is_int(wgm_router_add(r, a, "GET", "/api/v1/users/{id}", "users.view", h2), 0, "add item");
    is_int(wgm_router_add(r, a, "GET", "/api/v1/users/me", NULL, h3), 0, "add literal beside param");
    is_int(wgm_router_add(r, b, "POST", "/api/v1/wireguard/servers/{id}/start", "wireguard.edit", h1), 0,
           "add action");
    is_int(wgm_router_add(r, b, "DELETE", "/api/v1/users/{id}", "users.edit", h1), 0, "add other method");

    is_int(wgm_router_add(r, a, "GET", "/api/v1/users/{user}", NULL, h1), -EEXIST,
           "same shape with another param name is a duplicate");
    is_int(wgm_router_add(r, a, "FETCH", "/x", NULL, h1), -EINVAL, "unknown method refused");
    is_int(wgm_router_add(r, a, "GET", "relative", NULL, h1), -EINVAL, "relative template refused");
    is_int(wgm_router_add(r, a, "GET", "/a//b", NULL, h1), -EINVAL, "empty segment refused");
    is_int(wgm_router_add(r, a, "GET", "/a/x{id}", NULL, h1), -EINVAL, "partial param refused");
    is_int(wgm_router_add(r, a, "GET", "/a", NULL, NULL), -EINVAL, "NULL handler refused");

    is_int(wgm_router_match(r, "GET", "/api/v1/users", &m), WGM_ROUTE_FOUND, "list matches");
    ok(m.handler == h1 && m.nparams == 0, "list handler, no params");
    is_str(m.permission, "users.view", "permission carried");
    is_int(wgm_router_match(r, "GET", "/api/v1/users/", &m), WGM_ROUTE_FOUND, "trailing slash tolerated");

    is_int(wgm_router_match(r, "GET", "/api/v1/users/42", &m), WGM_ROUTE_FOUND, "param matches");
    ok(m.handler == h2, "item handler");
    is_int(m.nparams, 1, "one param");
    is_str(m.params[0].name, "id", "param name");
    is_str(m.params[0].value, "42", "param value");

    is_int(wgm_router_match(r, "GET", "/api/v1/users/me", &m), WGM_ROUTE_FOUND, "literal matches");
    ok(m.handler == h3, "literal beats param");
    ok(m.permission == NULL, "public route has NULL permission");

    is_int(wgm_router_match(r, "POST", "/api/v1/wireguard/servers/7/start", &m), WGM_ROUTE_FOUND, "action");
    is_str(m.params[0].value, "7", "action param");
    ok(m.owner == b, "owner carried");

    is_int(wgm_router_match(r, "PUT", "/api/v1/users/42", &m), WGM_ROUTE_BAD_METHOD, "405 on wrong method");
    ok(strstr(m.allow, "GET") && strstr(m.allow, "DELETE") && !strstr(m.allow, "PUT"), "Allow lists methods");
    is_int(wgm_router_match(r, "GET", "/api/v1/nope", &m), WGM_ROUTE_NOT_FOUND, "404");
    is_int(wgm_router_match(r, "GET", "/api/v1/users/1/2", &m), WGM_ROUTE_NOT_FOUND, "extra segment 404");
    is_int(wgm_router_match(r, "GET", "", &m), WGM_ROUTE_NOT_FOUND, "empty path 404");
    is_int(wgm_router_match(r, "GET", "/api//v1", &m), WGM_ROUTE_NOT_FOUND, "double slash 404");
    {
        char long_path[2000];
        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = '\0';
        is_int(wgm_router_match(r, "GET", long_path, &m), WGM_ROUTE_NOT_FOUND, "over-long path 404");
    }

    wgm_router_each(r, count_cb, NULL);
    is_int(count_cb_n, 5, "each walks every route");
    wgm_router_remove_owner(r, b);
    is_int(wgm_router_match(r, "POST", "/api/v1/wireguard/servers/7/start", &m), WGM_ROUTE_NOT_FOUND,
           "owner's routes removed");
    is_int(wgm_router_match(r, "GET", "/api/v1/users/42", &m), WGM_ROUTE_FOUND, "others kept");
    is_int(wgm_router_match(r, "DELETE", "/api/v1/users/42", &m), WGM_ROUTE_BAD_METHOD,
           "removed method now 405");
    wgm_router_free(r);
    return done_testing();
}
