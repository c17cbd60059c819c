/* core/plugin/host: the struct wgm_host handed to plugins. */
#ifndef WGM_CORE_PLUGIN_HOST_TABLE_H
#define WGM_CORE_PLUGIN_HOST_TABLE_H

#include <wgm/host.h>

/* The one host table; static, valid for the life of the process. */
const struct wgm_host *wgm_host_table(void);

#endif
