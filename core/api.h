/* core/api_*: the endpoints the core itself serves. */
#ifndef WGM_CORE_API_H
#define WGM_CORE_API_H

struct wgm_daemon;

/* GET /api/v1/version, /api/v1/health, /api/v1/plugins. */
int wgm_api_core_register(struct wgm_daemon *d);
/* /api/v1/users... */
int wgm_api_users_register(struct wgm_daemon *d);
/* /api/v1/system/info, /api/v1/system/routes. */
int wgm_api_system_register(struct wgm_daemon *d);

#endif
