/* core/http/router: templates split into segments; matching walks every
 * route (a few hundred at most) and keeps the most literal match. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "router.h"

struct route {
    struct route *next;
    char *method, *template, *permission;
    char *segs[WGM_ROUTE_MAX_SEGMENTS];
    size_t nsegs;
    wgm_handler_fn handler;
    struct wgm_ctx *owner;
};

struct wgm_router {
    pthread_rwlock_t lock;
    struct route *routes;
};

static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

static bool is_param(const char *seg)
{
    size_t n = strlen(seg);
    return n > 2 && seg[0] == '{' && seg[n - 1] == '}';
}

/* Split "/a/b/c" in place; one trailing slash is ignored.  -EINVAL for
 * empty segments ("//") or too many of them. */
static int split(char *path, char **segs, size_t *nsegs)
{
    size_t n = 0;
    char *p = path + 1;

    if (*path != '/')
        return -EINVAL;
    while (*p) {
        char *slash = strchr(p, '/');
        if (slash)
            *slash = '\0';
        if (*p == '\0' || n == WGM_ROUTE_MAX_SEGMENTS)
            return -EINVAL;
        segs[n++] = p;
        if (!slash)
            break;
        p = slash + 1;
    }
    *nsegs = n;
    return 0;
}

static void route_free(struct route *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->nsegs; i++)
        free(rt->segs[i]);
    free(rt->method);
    free(rt->template);
    free(rt->permission);
    free(rt);
}

struct wgm_router *wgm_router_new(void)
{
    struct wgm_router *r = calloc(1, sizeof(*r));
    if (r)
        pthread_rwlock_init(&r->lock, NULL);
    return r;
}

struct wgm_router *wgm_router_free(struct wgm_router *r)
{
    if (!r)
        return NULL;
    while (r->routes) {
        struct route *rt = r->routes;
        r->routes = rt->next;
        route_free(rt);
    }
    pthread_rwlock_destroy(&r->lock);
    free(r);
    return NULL;
}

static bool same_shape(const struct route *a, const struct route *b)
{
    if (a->nsegs != b->nsegs || strcmp(a->method, b->method) != 0)
        return false;
    for (size_t i = 0; i < a->nsegs; i++) {
        bool pa = is_param(a->segs[i]), pb = is_param(b->segs[i]);
        if (pa != pb || (!pa && strcmp(a->segs[i], b->segs[i]) != 0))
            return false;
    }
    return true;
}

static bool valid_method(const char *m)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m, methods[i]) == 0)
            return true;
    return false;
}

int wgm_router_add(struct wgm_router *r, struct wgm_ctx *owner, const char *method, const char *template,
                   const char *permission, wgm_handler_fn handler)
{
    struct route *rt;
    char *copy, *segs[WGM_ROUTE_MAX_SEGMENTS];
    size_t nparams = 0;
    int ret = -EINVAL;

    if (!method || !template || !handler || !valid_method(method) || strlen(template) > 512)
        return -EINVAL;
    rt = calloc(1, sizeof(*rt));
    copy = strdup(template);
    if (!rt || !copy) {
        free(rt);
        free(copy);
        return -ENOMEM;
    }
    if (split(copy, segs, &rt->nsegs) < 0)
        goto fail;
    for (size_t i = 0; i < rt->nsegs; i++) {
        if (is_param(segs[i]) && (++nparams > WGM_ROUTE_MAX_PARAMS || strlen(segs[i]) - 2 >= 32))
            goto fail;
        if (strchr(segs[i], '{') && !is_param(segs[i]))
            goto fail;
        if (!(rt->segs[i] = strdup(segs[i]))) {
            ret = -ENOMEM;
            rt->nsegs = i;
            goto fail;
        }
    }
    rt->method = strdup(method);
    rt->template = strdup(template);
    rt->permission = permission ? strdup(permission) : NULL;
    if (!rt->method || !rt->template || (permission && !rt->permission)) {
        ret = -ENOMEM;
        goto fail;
    }
    rt->handler = handler;
    rt->owner = owner;
    free(copy);
    copy = NULL;

    pthread_rwlock_wrlock(&r->lock);
    for (struct route *o = r->routes; o; o = o->next)
        if (same_shape(o, rt)) {
            pthread_rwlock_unlock(&r->lock);
            route_free(rt);
            return -EEXIST;
        }
    rt->next = r->routes;
    r->routes = rt;
    pthread_rwlock_unlock(&r->lock);
    return 0;
fail:
    free(copy);
    route_free(rt);
    return ret;
}

void wgm_router_remove_owner(struct wgm_router *r, struct wgm_ctx *owner)
{
    pthread_rwlock_wrlock(&r->lock);
    for (struct route **p = &r->routes; *p;) {
        struct route *rt = *p;
        if (rt->owner == owner) {
            *p = rt->next;
            route_free(rt);
        } else {
            p = &rt->next;
        }
    }
    pthread_rwlock_unlock(&r->lock);
}

/* Literal segments score as bits from the left, so an earlier literal
 * outranks any number of later ones.  -1 when the path does not fit. */
static long long score(const struct route *rt, char **segs, size_t nsegs)
{
    long long s = 0;
    if (rt->nsegs != nsegs)
        return -1;
    for (size_t i = 0; i < nsegs; i++) {
        s <<= 1;
        if (is_param(rt->segs[i]))
            continue;
        if (strcmp(rt->segs[i], segs[i]) != 0)
            return -1;
        s |= 1;
    }
    return s;
}

static void append_allow(char *allow, size_t len, const char *method)
{
    if (strstr(allow, method))
        return;
    size_t used = strlen(allow);
    snprintf(allow + used, len - used, "%s%s", used ? ", " : "", method);
}

enum wgm_route_result wgm_router_match(struct wgm_router *r, const char *method, const char *path,
                                       struct wgm_route_match *m)
{
    char copy[1024], *segs[WGM_ROUTE_MAX_SEGMENTS];
    size_t nsegs;
    const struct route *best = NULL;
    long long best_score = -1, path_score = -1;

    memset(m, 0, sizeof(*m));
    if (strlen(path) >= sizeof(copy))
        return WGM_ROUTE_NOT_FOUND;
    strcpy(copy, path);
    if (split(copy, segs, &nsegs) < 0)
        return WGM_ROUTE_NOT_FOUND;

    pthread_rwlock_rdlock(&r->lock);
    /* First the best-fitting template regardless of method, then the best
     * one for this method among those equally specific: a method mismatch
     * on the most specific path is a 405, not a fall-through. */
    for (const struct route *rt = r->routes; rt; rt = rt->next) {
        long long s = score(rt, segs, nsegs);
        if (s > path_score)
            path_score = s;
    }
    for (const struct route *rt = r->routes; rt && path_score >= 0; rt = rt->next) {
        long long s = score(rt, segs, nsegs);
        if (s != path_score)
            continue;
        append_allow(m->allow, sizeof(m->allow), rt->method);
        if (strcmp(rt->method, method) == 0 && s > best_score) {
            best = rt;
            best_score = s;
        }
    }
    if (!best) {
        pthread_rwlock_unlock(&r->lock);
        return path_score < 0 ? WGM_ROUTE_NOT_FOUND : WGM_ROUTE_BAD_METHOD;
    }
    m->method = best->method;
    m->template = best->template;
    m->permission = best->permission;
    m->handler = best->handler;
    m->owner = best->owner;
    for (size_t i = 0; i < nsegs; i++) {
        if (!is_param(best->segs[i]))
            continue;
        size_t nl = strlen(best->segs[i]) - 2;
        if (strlen(segs[i]) >= sizeof(m->params[0].value)) {
            pthread_rwlock_unlock(&r->lock);
            return WGM_ROUTE_NOT_FOUND;
        }
        memcpy(m->params[m->nparams].name, best->segs[i] + 1, nl);
        m->params[m->nparams].name[nl] = '\0';
        strcpy(m->params[m->nparams].value, segs[i]);
        m->nparams++;
    }
    pthread_rwlock_unlock(&r->lock);
    return WGM_ROUTE_FOUND;
}

void wgm_router_each(struct wgm_router *r,
                     void (*fn)(const char *method, const char *template, const char *permission,
                                struct wgm_ctx *owner, void *arg),
                     void *arg)
{
    pthread_rwlock_rdlock(&r->lock);
    for (const struct route *rt = r->routes; rt; rt = rt->next)
        fn(rt->method, rt->template, rt->permission, rt->owner, arg);
    pthread_rwlock_unlock(&r->lock);
}
