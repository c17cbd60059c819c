/*
 * core/config: wgmd's configuration.
 *
 * INI files through libinih: the main file, then conf.d/NAME.conf files beside it in
 * lexical order; a later value wins.  Then the environment: every key as
 * WGM_<SECTION>_<KEY>, plus a few short forms (WGM_LISTEN, ...).  Every
 * value remembers where it came from ("file:line" or "env WGM_X") so errors
 * can name it.  Sections are validated against a schema: the core's own, or
 * a plugin's `struct wgm_conf_key` list.
 */
#ifndef WGM_CORE_CONF_H
#define WGM_CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <wgm/plugin.h>

struct wgm_conf;

/* A section of the core's schema. */
struct wgm_conf_section {
    const char *name;
    const struct wgm_conf_key *keys; /* ended by {NULL} */
};

/* The core's sections (core, http, database, cache, websocket, log, logs, auth), ended by {NULL}. */
extern const struct wgm_conf_section wgm_core_sections[];

struct wgm_conf *wgm_conf_new(void);
struct wgm_conf *wgm_conf_free(struct wgm_conf *c);

/* Parse one INI file into @c.  Syntax errors and over-long lines are
 * "file:line: reason" in @err.  0 or a negative errno. */
int wgm_conf_load_file(struct wgm_conf *c, const char *path, char *err, size_t errlen);
/* Parse @main_path, then every conf.d/NAME.conf beside it in lexical order.
 * A missing conf.d is fine; a missing main file is -ENOENT. */
int wgm_conf_load(struct wgm_conf *c, const char *main_path, char *err, size_t errlen);

/* Apply environment overrides for @section from the schema @keys, then
 * validate: unknown keys, bad values.  Missing keys get their defaults.
 * @plugin adds the implicit `enabled` key (default yes). */
int wgm_conf_apply_schema(struct wgm_conf *c, const char *section, const struct wgm_conf_key *keys,
                          bool plugin, char *err, size_t errlen);
/* Validate every core section and reject sections that are neither core
 * sections nor accepted by @is_plugin_section. */
int wgm_conf_apply_core(struct wgm_conf *c, bool (*is_plugin_section)(const char *name, void *arg),
                        void *arg, char *err, size_t errlen);

/* Value (validated or default) or NULL; borrowed until wgm_conf_free. */
const char *wgm_conf_get(const struct wgm_conf *c, const char *section, const char *key);
/* "file:line", "env WGM_X" or "default"; NULL when unset. */
const char *wgm_conf_where(const struct wgm_conf *c, const char *section, const char *key);
bool wgm_conf_get_bool(const struct wgm_conf *c, const char *section, const char *key, bool def);
long long wgm_conf_get_int(const struct wgm_conf *c, const char *section, const char *key, long long def);
/* True when @section appears in a file or the environment set its `enabled`. */
bool wgm_conf_has_section(const struct wgm_conf *c, const char *section);
/* Calls @fn for every section name seen in the files, in first-seen order. */
void wgm_conf_each_section(const struct wgm_conf *c, void (*fn)(const char *name, void *arg), void *arg);
/* Set a value by hand (used for computed defaults).  0 or -ENOMEM. */
int wgm_conf_set(struct wgm_conf *c, const char *section, const char *key, const char *value,
                 const char *where);

/* Check @value against @k; 0 or -EINVAL with a reason in @why. */
int wgm_conf_check_value(const struct wgm_conf_key *k, const char *value, char *why, size_t whylen);

#endif
