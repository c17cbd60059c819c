/* core/plugin/loader: finding, checking, ordering, starting and stopping
 * plugins.  Each plugin gets a wgm_ctx that owns everything it registers. */
#ifndef WGM_CORE_PLUGIN_LOADER_H
#define WGM_CORE_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <wgm/plugin.h>

struct wgm_daemon;
struct wgm_conf;

enum wgm_plugin_state {
    WGM_PLUGIN_FOUND = 0, /* descriptor accepted, not started */
    WGM_PLUGIN_RUNNING,
    WGM_PLUGIN_DISABLED,  /* enabled = no */
    WGM_PLUGIN_REFUSED,   /* failed a check: ABI, signature, requirement */
    WGM_PLUGIN_FAILED,    /* init or start returned an error */
    WGM_PLUGIN_STOPPED,
};

/* A plugin context: the handle a plugin receives, and the owner key for its
 * routes, timers and subscriptions.  The core has one too (desc == NULL). */
struct wgm_ctx {
    struct wgm_daemon *daemon;
    char *name;
    char *path;
    void *dl;
    const struct wgm_plugin *desc;
    enum wgm_plugin_state state;
    char reason[256];
    bool initialised;
};

struct wgm_plugins;

/* Scan @dir for *.so, dlopen each and check its descriptor.  Refusals are
 * recorded (and logged once each) but are not errors.  A missing @dir is
 * an empty set. */
int wgm_plugins_discover(const char *dir, struct wgm_plugins **out, char *err, size_t errlen);
/* Does a discovered plugin (accepted or not) carry this name? */
bool wgm_plugins_has(const struct wgm_plugins *p, const char *name);
/* Validate each accepted plugin's config section, apply its env overrides,
 * and mark those with enabled = no.  Config errors are fatal: -EINVAL. */
int wgm_plugins_configure(struct wgm_plugins *p, struct wgm_conf *conf, char *err, size_t errlen);
/* Order by `requires`, then init and start each in order; a failing plugin
 * loses its registrations and its dependents are refused. */
void wgm_plugins_start(struct wgm_plugins *p, struct wgm_daemon *d);
/* stop + fini in reverse order, remove registrations, dlclose. */
void wgm_plugins_stop(struct wgm_plugins *p);
struct wgm_plugins *wgm_plugins_free(struct wgm_plugins *p);
/* [{name, version, description, abi, state, reason, requires, file}] (new). */
json_t *wgm_plugins_json(const struct wgm_plugins *p);
/* Features of running plugins, for /version (new array). */
json_t *wgm_plugins_features(const struct wgm_plugins *p);
const char *wgm_plugin_state_name(enum wgm_plugin_state s);

/* Remove every registration a context made (routes, timers, tasks, subscriptions). */
void wgm_ctx_unregister_all(struct wgm_ctx *ctx);

#endif
