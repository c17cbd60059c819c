/* core/auth/principal: who is making a request, and what they may do.
 *
 * Set by the auth guard before a handler runs; NULL on public routes
 * called without credentials. */
#ifndef WGM_CORE_AUTH_PRINCIPAL_H
#define WGM_CORE_AUTH_PRINCIPAL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

/* Permission of routes any authenticated principal may call (their own
 * profile, their own API keys, the WebSocket). */
#define WGM_PERM_SELF "self"

enum wgm_auth_via {
    WGM_AUTH_JWT = 1,     /* Authorization: Bearer <access token> */
    WGM_AUTH_API_KEY,     /* X-API-Key or Authorization: Bearer ak_... */
};

/* What an access token is good for.  Only FULL reaches ordinary routes. */
enum wgm_token_scope {
    WGM_SCOPE_FULL = 0,
    WGM_SCOPE_2FA_PENDING, /* only POST /auth/verify-2fa */
    WGM_SCOPE_PASSWORD,    /* force_change: only changing the password */
};

struct wgm_principal {
    int64_t user_id;
    char username[65];
    char role[16];             /* admin | manager | user */
    enum wgm_auth_via via;
    enum wgm_token_scope scope;
    char api_key_id[40];       /* "" unless via == WGM_AUTH_API_KEY */
    char token_id[40];         /* jti of the access token, "" for API keys */
    json_t *permissions;       /* effective permissions: array of strings (owned) */
    /* An API key's own bucket (0 otherwise); its requests draw from the
     * owner's api_rate_limit bucket as well (auth/guard.c). */
    unsigned rate_per_minute;
    unsigned rate_burst;
};

/* True when @p holds @permission: "*" grants all, "x.*" grants "x.<any>",
 * WGM_PERM_SELF is granted to every principal with full scope. */
bool wgm_principal_can(const struct wgm_principal *p, const char *permission);
/* Free the permissions and clear.  Accepts NULL. */
void wgm_principal_clear(struct wgm_principal *p);

#endif
