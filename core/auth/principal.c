/* core/auth/principal: permission matching. */
#include <string.h>
#include "auth/principal.h"

bool wgm_principal_can(const struct wgm_principal *p, const char *permission)
{
    size_t i;
    json_t *v;

    if (!p || !p->via)
        return false;
    if (p->scope != WGM_SCOPE_FULL)
        return false;
    if (!permission || strcmp(permission, WGM_PERM_SELF) == 0)
        return true;
    json_array_foreach(p->permissions, i, v)
    {
        const char *have = json_string_value(v);
        size_t n;
        if (!have)
            continue;
        if (strcmp(have, "*") == 0 || strcmp(have, permission) == 0)
            return true;
        /* "wireguard.*" covers "wireguard.view" but not "wireguardx.view". */
        n = strlen(have);
        if (n >= 2 && have[n - 1] == '*' && have[n - 2] == '.' && strncmp(have, permission, n - 1) == 0)
            return true;
    }
    return false;
}

void wgm_principal_clear(struct wgm_principal *p)
{
    if (!p)
        return;
    json_decref(p->permissions);
    memset(p, 0, sizeof(*p));
}
