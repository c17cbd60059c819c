/* core/auth/schema: the core's own tables (module "core" in schema_migrations). */
#ifndef WGM_CORE_AUTH_SCHEMA_H
#define WGM_CORE_AUTH_SCHEMA_H

#include <stddef.h>
#include <wgm/host.h>

extern const struct wgm_migration wgm_core_migrations[];
extern const size_t wgm_core_migrations_count;

#endif
