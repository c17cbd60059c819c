/* core/http/router: method + path template → handler.
 *
 * Templates are absolute ("/api/v1/wireguard/servers/{id}/start"); a
 * "{name}" segment matches one non-empty segment and binds it as a
 * parameter.  Where several templates match, the one with a literal segment
 * earliest wins, so "/users/me" beats "/users/{id}".  Routes belong to an
 * owner (a plugin context) and are removed together. */
#ifndef WGM_CORE_HTTP_ROUTER_H
#define WGM_CORE_HTTP_ROUTER_H

#include <stddef.h>
#include <wgm/host.h>

#define WGM_ROUTE_MAX_SEGMENTS 16
#define WGM_ROUTE_MAX_PARAMS 8

struct wgm_router;

/* What a match hands to the request pipeline.  Strings point into the
 * router (templates) or into the matched path copy (values). */
struct wgm_route_match {
    const char *method, *template, *permission;
    wgm_handler_fn handler;
    struct wgm_ctx *owner;
    size_t nparams;
    struct {
        char name[32];
        char value[256];
    } params[WGM_ROUTE_MAX_PARAMS];
    char allow[64]; /* methods of the path, for 405 */
};

enum wgm_route_result {
    WGM_ROUTE_FOUND = 0,
    WGM_ROUTE_NOT_FOUND = 1,
    WGM_ROUTE_BAD_METHOD = 2,
};

struct wgm_router *wgm_router_new(void);
struct wgm_router *wgm_router_free(struct wgm_router *r);
/* 0, -EEXIST (same method and same template shape), -EINVAL (bad method or
 * template), -ENOMEM.  @permission NULL means public. */
int wgm_router_add(struct wgm_router *r, struct wgm_ctx *owner, const char *method, const char *template,
                   const char *permission, wgm_handler_fn handler);
void wgm_router_remove_owner(struct wgm_router *r, struct wgm_ctx *owner);
enum wgm_route_result wgm_router_match(struct wgm_router *r, const char *method, const char *path,
                                       struct wgm_route_match *m);
/* Calls @fn for every route (under a read lock: @fn must not add routes). */
void wgm_router_each(struct wgm_router *r,
                     void (*fn)(const char *method, const char *template, const char *permission,
                                struct wgm_ctx *owner, void *arg),
                     void *arg);

#endif
