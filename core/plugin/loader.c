/* core/plugin/loader: dlopen, descriptor checks, requires-ordering,
 * init/start and the reverse at shutdown.  One log line per refusal,
 * naming the file and the reason; the daemon goes on without the plugin. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "plugin/host_table.h"
#include "plugin/loader.h"

struct wgm_plugins {
    struct wgm_ctx **v;      /* in start order once started */
    size_t n;
};

const char *wgm_plugin_state_name(enum wgm_plugin_state s)
{
    switch (s) {
    case WGM_PLUGIN_FOUND: return "loaded";
    case WGM_PLUGIN_RUNNING: return "running";
    case WGM_PLUGIN_DISABLED: return "disabled";
    case WGM_PLUGIN_REFUSED: return "refused";
    case WGM_PLUGIN_FAILED: return "failed";
    case WGM_PLUGIN_STOPPED: return "stopped";
    }
    return "unknown";
}

static void set_state(struct wgm_ctx *ctx, enum wgm_plugin_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_state(struct wgm_ctx *ctx, enum wgm_plugin_state st, const char *fmt, ...)
{
    va_list ap;
    ctx->state = st;
    if (!fmt) {
        ctx->reason[0] = '\0';
        return;
    }
    va_start(ap, fmt);
    vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
    va_end(ap);
    if (st == WGM_PLUGIN_REFUSED || st == WGM_PLUGIN_FAILED)
        wgm_log(WGM_LOG_ERROR, "plugin", "%s %s: %s", st == WGM_PLUGIN_REFUSED ? "refused" : "failed",
                ctx->path, ctx->reason);
}

/* A plugin for another major exports wgm_plugin_vN instead; name it. */
static void explain_missing_symbol(struct wgm_ctx *ctx)
{
    for (int major = 0; major <= 9; major++) {
        char sym[32];
        if (major == WGM_ABI_MAJOR)
            continue;
        snprintf(sym, sizeof(sym), "wgm_plugin_v%d", major);
        if (dlsym(ctx->dl, sym)) {
            set_state(ctx, WGM_PLUGIN_REFUSED, "exports %s, built for ABI major %d; this wgmd speaks %d", sym,
                      major, WGM_ABI_MAJOR);
            return;
        }
    }
    set_state(ctx, WGM_PLUGIN_REFUSED, "no %s symbol: not a wgm plugin", WGM_PLUGIN_SYMBOL);
}

/* The order of checks matters: nothing past magic and struct_size is read
 * until they prove the descriptor has the layout we expect. */
static void check_descriptor(struct wgm_ctx *ctx)
{
    const struct wgm_plugin *p = dlsym(ctx->dl, WGM_PLUGIN_SYMBOL);
    const size_t min_size = offsetof(struct wgm_plugin, fini) + sizeof(p->fini);

    if (!p) {
        explain_missing_symbol(ctx);
        return;
    }
    if (p->magic != WGM_ABI_MAGIC) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "bad magic 0x%08x (expected 0x%08x)", p->magic, WGM_ABI_MAGIC);
        return;
    }
    if (p->abi_major != WGM_ABI_MAJOR) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "ABI major %u, this wgmd speaks %d", p->abi_major, WGM_ABI_MAJOR);
        return;
    }
    if (p->abi_minor > WGM_ABI_MINOR) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "needs ABI 1.%u, this wgmd provides 1.%d", p->abi_minor,
                  WGM_ABI_MINOR);
        return;
    }
    if (p->struct_size < min_size) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "descriptor too small (%u bytes, need %zu)", p->struct_size, min_size);
        return;
    }
    if (!p->signature || strcmp(p->signature, WGM_ABI_SIGNATURE) != 0) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "build signature '%s' differs from wgmd's '%s'",
                  p->signature ? p->signature : "(none)", WGM_ABI_SIGNATURE);
        return;
    }
    if (!p->name || strcmp(p->name, ctx->name) != 0) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "descriptor name '%s' does not match the file name '%s'",
                  p->name ? p->name : "(none)", ctx->name);
        return;
    }
    if (!p->version || !p->init || !p->fini) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "descriptor lacks %s", !p->version ? "version" : !p->init ? "init" : "fini");
        return;
    }
    ctx->desc = p;
    set_state(ctx, WGM_PLUGIN_FOUND, NULL);
}

static int so_filter(const struct dirent *d)
{
    return d->d_name[0] != '.' && fnmatch("*.so", d->d_name, 0) == 0;
}

static int lexical(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static struct wgm_ctx *ctx_new(const char *dir, const char *file)
{
    struct wgm_ctx *ctx = calloc(1, sizeof(*ctx));
    size_t stem = strlen(file) - 3;

    if (!ctx)
        return NULL;
    ctx->name = strndup(file, stem);
    if (asprintf(&ctx->path, "%s/%s", dir, file) < 0)
        ctx->path = NULL;
    if (!ctx->name || !ctx->path) {
        free(ctx->name);
        free(ctx->path);
        free(ctx);
        return NULL;
    }
    return ctx;
}

int wgm_plugins_discover(const char *dir, struct wgm_plugins **out, char *err, size_t errlen)
{
    struct wgm_plugins *p = calloc(1, sizeof(*p));
    struct dirent **names = NULL;
    int n;

    if (!p)
        return -ENOMEM;
    n = scandir(dir, &names, so_filter, lexical);
    if (n < 0) {
        if (errno == ENOENT) {
            *out = p;
            return 0;
        }
        snprintf(err, errlen, "plugin directory %s: %s", dir, strerror(errno));
        free(p);
        return -errno;
    }
    p->v = calloc((size_t)n + 1, sizeof(*p->v));
    for (int i = 0; i < n; i++) {
        struct wgm_ctx *ctx = p->v ? ctx_new(dir, names[i]->d_name) : NULL;
        free(names[i]);
        if (!ctx)
            continue;
        p->v[p->n++] = ctx;
        ctx->dl = dlopen(ctx->path, RTLD_NOW | RTLD_LOCAL);
        if (!ctx->dl) {
            set_state(ctx, WGM_PLUGIN_REFUSED, "cannot load: %s", dlerror());
            continue;
        }
        check_descriptor(ctx);
    }
    free(names);
    *out = p;
    return 0;
}

bool wgm_plugins_has(const struct wgm_plugins *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i]->name, name) == 0)
            return true;
    return false;
}

static struct wgm_ctx *find(const struct wgm_plugins *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i]->name, name) == 0)
            return p->v[i];
    return NULL;
}

int wgm_plugins_configure(struct wgm_plugins *p, struct wgm_conf *conf, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n; i++) {
        struct wgm_ctx *ctx = p->v[i];
        const struct wgm_conf_key *keys = ctx->desc ? ctx->desc->config : NULL;
        int r;
        /* A refused plugin's section still gets `enabled` checked; its other
         * keys cannot be, since its descriptor is not trusted. */
        if (!ctx->desc && ctx->state == WGM_PLUGIN_REFUSED) {
            if (!wgm_conf_get(conf, ctx->name, "enabled"))
                continue;
        }
        r = wgm_conf_apply_schema(conf, ctx->name, ctx->desc ? keys : NULL, true, err, errlen);
        if (r < 0 && ctx->desc)
            return r;
        if (ctx->desc && !wgm_conf_get_bool(conf, ctx->name, "enabled", true))
            set_state(ctx, WGM_PLUGIN_DISABLED, "enabled = no (%s)", wgm_conf_where(conf, ctx->name, "enabled"));
    }
    return 0;
}

/* Depth-first placement of @ctx after its requirements.  A requirement
 * that is absent, refused or failed refuses @ctx too. */
static bool place(struct wgm_plugins *p, struct wgm_ctx *ctx, struct wgm_ctx **order, size_t *n,
                  unsigned depth)
{
    if (ctx->state != WGM_PLUGIN_FOUND)
        return ctx->state == WGM_PLUGIN_RUNNING;
    for (size_t i = 0; i < *n; i++)
        if (order[i] == ctx)
            return true;
    if (depth > p->n) {
        set_state(ctx, WGM_PLUGIN_REFUSED, "circular requirement");
        return false;
    }
    for (const char *const *req = ctx->desc->requires; req && *req; req++) {
        struct wgm_ctx *dep = find(p, *req);
        if (!dep) {
            set_state(ctx, WGM_PLUGIN_REFUSED, "requires plugin '%s', which is not installed", *req);
            return false;
        }
        if (!place(p, dep, order, n, depth + 1) || dep->state != WGM_PLUGIN_FOUND) {
            if (ctx->state == WGM_PLUGIN_FOUND)
                set_state(ctx, WGM_PLUGIN_REFUSED, "requires plugin '%s', which is %s", *req,
                          wgm_plugin_state_name(dep->state));
            return false;
        }
    }
    order[(*n)++] = ctx;
    return true;
}

static void fail_init(struct wgm_ctx *ctx, const char *what, int r)
{
    wgm_ctx_unregister_all(ctx);
    set_state(ctx, WGM_PLUGIN_FAILED, "%s returned %d (%s)", what, r, strerror(r < 0 ? -r : r));
}

void wgm_plugins_start(struct wgm_plugins *p, struct wgm_daemon *d)
{
    struct wgm_ctx **order = calloc(p->n + 1, sizeof(*order));
    size_t n = 0;

    if (!order)
        return;
    for (size_t i = 0; i < p->n; i++)
        p->v[i]->daemon = d;
    for (size_t i = 0; i < p->n; i++)
        place(p, p->v[i], order, &n, 0);

    /* init in order; a plugin whose requirement failed in init is refused. */
    for (size_t i = 0; i < n; i++) {
        struct wgm_ctx *ctx = order[i];
        bool deps_ok = true;
        for (const char *const *req = ctx->desc->requires; req && *req && deps_ok; req++) {
            struct wgm_ctx *dep = find(p, *req);
            if (!dep->initialised) {
                set_state(ctx, WGM_PLUGIN_REFUSED, "requires plugin '%s', which is %s", *req,
                          wgm_plugin_state_name(dep->state));
                deps_ok = false;
            }
        }
        if (!deps_ok)
            continue;
        int r = ctx->desc->init(ctx, wgm_host_table());
        if (r != 0) {
            fail_init(ctx, "init", r);
            continue;
        }
        ctx->initialised = true;
    }
    for (size_t i = 0; i < n; i++) {
        struct wgm_ctx *ctx = order[i];
        if (!ctx->initialised)
            continue;
        int r = ctx->desc->start ? ctx->desc->start(ctx) : 0;
        if (r != 0) {
            fail_init(ctx, "start", r);
            ctx->desc->fini(ctx);
            ctx->initialised = false;
            continue;
        }
        set_state(ctx, WGM_PLUGIN_RUNNING, NULL);
        wgm_log(WGM_LOG_INFO, "plugin", "started %s %s (%s)", ctx->name, ctx->desc->version, ctx->path);
    }
    /* Keep start order for a reverse shutdown; the others follow. */
    for (size_t i = 0, k = 0; i < p->n; i++) {
        bool placed = false;
        for (size_t j = 0; j < n && !placed; j++)
            placed = order[j] == p->v[i];
        if (!placed)
            order[n + k++] = p->v[i];
    }
    memcpy(p->v, order, p->n * sizeof(*order));
    free(order);
}

void wgm_plugins_stop(struct wgm_plugins *p)
{
    for (size_t i = p->n; i-- > 0;) {
        struct wgm_ctx *ctx = p->v[i];
        if (!ctx->initialised)
            continue;
        if (ctx->state == WGM_PLUGIN_RUNNING && ctx->desc->stop)
            ctx->desc->stop(ctx);
        wgm_ctx_unregister_all(ctx);
        ctx->desc->fini(ctx);
        ctx->initialised = false;
        set_state(ctx, WGM_PLUGIN_STOPPED, NULL);
    }
}

struct wgm_plugins *wgm_plugins_free(struct wgm_plugins *p)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n; i++) {
        struct wgm_ctx *ctx = p->v[i];
        if (ctx->dl)
            dlclose(ctx->dl);
        free(ctx->name);
        free(ctx->path);
        free(ctx);
    }
    free(p->v);
    free(p);
    return NULL;
}

json_t *wgm_plugins_json(const struct wgm_plugins *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->n; i++) {
        const struct wgm_ctx *ctx = p->v[i];
        const struct wgm_plugin *d = ctx->desc;
        json_t *reqs = json_array();
        char abi[16];
        for (const char *const *r = d ? d->requires : NULL; r && *r; r++)
            json_array_append_new(reqs, json_string(*r));
        if (d)
            snprintf(abi, sizeof(abi), "%u.%u", d->abi_major, d->abi_minor);
        json_array_append_new(
            arr, json_pack("{s:s,s:s?,s:s?,s:s?,s:s,s:s?,s:o,s:s}", "name", ctx->name, "version",
                           d ? d->version : NULL, "description", d ? d->description : NULL, "abi", d ? abi : NULL,
                           "state", wgm_plugin_state_name(ctx->state), "reason",
                           ctx->reason[0] ? ctx->reason : NULL, "requires", reqs, "file", ctx->path));
    }
    return arr;
}

json_t *wgm_plugins_features(const struct wgm_plugins *p)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->n; i++) {
        const struct wgm_ctx *ctx = p->v[i];
        if (ctx->state == WGM_PLUGIN_RUNNING)
            json_array_append_new(arr, json_string(ctx->desc->feature ? ctx->desc->feature : ctx->name));
    }
    return arr;
}
