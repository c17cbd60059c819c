/* core/validate: the core uses the SDK's header-only input helpers, the
 * same ones plugins use (<wgm/input.h>). */
#ifndef WGM_CORE_VALIDATE_H
#define WGM_CORE_VALIDATE_H

#include <wgm/input.h>

#endif
