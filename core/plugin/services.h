/* core/plugin/services: the registry behind GET /system/info "services".
 * Plugins add reporters through host->service_register; the core adds its
 * own ("wgmd").  Like the metrics registry, entries are owned by the
 * registering context and removed with it (failed init, unload). */
#ifndef WGM_CORE_PLUGIN_SERVICES_H
#define WGM_CORE_PLUGIN_SERVICES_H

#include <stdbool.h>
#include <jansson.h>
#include <wgm/host.h>

struct wgm_services;

struct wgm_services *wgm_services_new(void);
/* Accepts NULL. */
struct wgm_services *wgm_services_free(struct wgm_services *s);
/* True when @name is 1..63 characters of [a-z0-9_-]. */
bool wgm_service_name_valid(const char *name);
/* Add @fn as @name (copied) for @owner.  0, -EINVAL (bad name or no fn),
 * -EEXIST (name taken), -ENOMEM. */
int wgm_services_register(struct wgm_services *s, struct wgm_ctx *owner, const char *name, wgm_service_fn fn,
                          void *data);
/* Forget every entry of @owner. */
void wgm_services_remove_owner(struct wgm_services *s, struct wgm_ctx *owner);
/* {"name": object, ...} from every reporter, called without the registry
 * lock; a reporter returning NULL or a non-object is left out.  New. */
json_t *wgm_services_json(struct wgm_services *s);

#endif
