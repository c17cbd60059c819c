/**
 * @file plugin.h
 * @brief The wgm plugin ABI: the one descriptor a plugin exports.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * `wgm_plugin_v1`, a `const struct wgm_plugin`.  Declare it with
 * #WGM_PLUGIN_HEADER first so the loader can check magic, sizes, ABI
 * version and build signature before it touches anything else:
 *
 * @code
 * WGM_EXPORT const struct wgm_plugin wgm_plugin_v1 = {
 *     WGM_PLUGIN_HEADER,
 *     .name = "example", .version = "1.0.0",
 *     .init = example_init, .fini = example_fini,
 * };
 * @endcode
 *
 * Rules of the ABI:
 * - A break bumps #WGM_ABI_MAJOR and renames the entry symbol
 *   (`wgm_plugin_v2`), so a plugin for another major is simply not found.
 * - Within a major, structs only grow at the end (#WGM_ABI_MINOR counts the
 *   additions); use designated initialisers.
 * - A plugin reaches the core only through the `struct wgm_host` table it
 *   receives in init; it never links against wgmd's own symbols.
 */
#ifndef WGM_PLUGIN_H
#define WGM_PLUGIN_H

#include <stdint.h>
#include <stddef.h>
#include <wgm/abi.h>

#ifdef __cplusplus
extern "C" {
#endif

/** "WGMP": the first word of every descriptor. */
#define WGM_ABI_MAGIC 0x57474D50u
/** Incompatible revisions; a change here also renames the entry symbol. */
#define WGM_ABI_MAJOR 1
/** Compatible additions (appended members) within #WGM_ABI_MAJOR. */
#define WGM_ABI_MINOR 2
/** Name of the descriptor symbol the loader looks up. */
#define WGM_PLUGIN_SYMBOL "wgm_plugin_v1"

/** Marks the descriptor as the plugin's one exported symbol. */
#define WGM_EXPORT __attribute__((visibility("default")))

struct wgm_ctx;
struct wgm_host;

/** Type of a plugin configuration key, checked by the core before init. */
enum wgm_conf_type {
    WGM_CONF_STRING = 0, /**< any string */
    WGM_CONF_BOOL,       /**< yes/no, true/false, on/off, 1/0 */
    WGM_CONF_INT,        /**< decimal integer within [min, max] */
    WGM_CONF_ENUM,       /**< one of the `|`-separated words in `choices` */
};

/**
 * One key the plugin accepts in its config section.  The core rejects keys a
 * plugin does not declare (naming file and line) and validates values before
 * the plugin's init runs, so `host->conf_get` only returns checked values.
 * `enabled` is implicit and must not be declared.
 */
struct wgm_conf_key {
    const char *key;       /**< lower-case key name */
    enum wgm_conf_type type;
    const char *def;       /**< default value as text, or NULL for none */
    long long min, max;    /**< bounds for WGM_CONF_INT */
    const char *choices;   /**< "a|b|c" for WGM_CONF_ENUM */
    const char *help;      /**< one line for the configuration reference */
};

/** The descriptor.  All strings and arrays are static and borrowed by the core. */
struct wgm_plugin {
    uint32_t magic;            /**< #WGM_ABI_MAGIC */
    uint32_t struct_size;      /**< sizeof(struct wgm_plugin) as the plugin saw it */
    uint16_t abi_major;        /**< #WGM_ABI_MAJOR */
    uint16_t abi_minor;        /**< #WGM_ABI_MINOR the plugin was built with */
    const char *signature;     /**< #WGM_ABI_SIGNATURE */
    const char *name;          /**< unique; also its config section and file stem */
    const char *version;       /**< the plugin's own version */
    const char *description;   /**< one line */
    const char *feature;       /**< entry for /version `features`, or NULL */
    const char *const *requires; /**< NULL-terminated plugin names loaded first, or NULL */
    const struct wgm_conf_key *config; /**< keys of its section, ended by {NULL}, or NULL */
    /** Required.  Register routes, timers, subscriptions; run migrations.
     *  Return 0 or a negative errno; on failure the host removes every
     *  registration made through @p ctx and calls neither start nor fini. */
    int (*init)(struct wgm_ctx *ctx, const struct wgm_host *host);
    /** Optional.  Called after every plugin's init succeeded, in load order. */
    int (*start)(struct wgm_ctx *ctx);
    /** Optional.  Called at shutdown in reverse order, before fini. */
    void (*stop)(struct wgm_ctx *ctx);
    /** Required.  Free what init allocated.  Registrations are already gone. */
    void (*fini)(struct wgm_ctx *ctx);
    /* ABI 1.x additions are appended here. */
};

/** The first four members of every descriptor, in order. */
#define WGM_PLUGIN_HEADER                                   \
    .magic = WGM_ABI_MAGIC,                                 \
    .struct_size = sizeof(struct wgm_plugin),               \
    .abi_major = WGM_ABI_MAJOR,                             \
    .abi_minor = WGM_ABI_MINOR,                             \
    .signature = WGM_ABI_SIGNATURE

#ifdef __cplusplus
}
#endif
#endif
