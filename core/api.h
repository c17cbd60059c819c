/* core/api_*: the endpoints the core itself serves. */
#ifndef WGM_CORE_API_H
#define WGM_CORE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <wgm/host.h>

struct wgm_daemon;
struct wgm_db;

/* One row of a core route table. */
struct wgm_api_route {
    const char *method, *path, *permission;
    wgm_handler_fn handler;
};

/* Register @n routes owned by the core.  0 or the first error. */
int wgm_api_add_routes(struct wgm_daemon *d, const struct wgm_api_route *routes, size_t n);
/* A pooled connection, or NULL after answering 503 SERVICE_UNAVAILABLE. */
struct wgm_db *wgm_api_db(struct wgm_daemon *d, struct wgm_resp *resp);

/* GET /api/v1/version, /api/v1/health, /api/v1/plugins. */
int wgm_api_core_register(struct wgm_daemon *d);
/* /api/v1/users... */
int wgm_api_users_register(struct wgm_daemon *d);
/* The address rule of POST/PUT /users (3..254 bytes, one @, a dotted
 * domain) for the first admin's [auth] admin_email, which may also be
 * user@localhost, its default. */
bool wgm_api_email_valid(const char *s);
/* /api/v1/system/info, /api/v1/system/routes. */
int wgm_api_system_register(struct wgm_daemon *d);

#endif
