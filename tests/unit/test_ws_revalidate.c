/* WebSocket credential verdicts: expiry, revocation, tokens_valid_after,
 * account status, role change, API keys and the permissions a valid
 * connection keeps. */
#include <string.h>
#include "ws/revalidate.h"
#include "tap.h"

#define NOW ((time_t)1700000000)

static struct wgm_ws_cred jwt_cred(void)
{
    struct wgm_ws_cred c = {.client_id = 1, .user_id = 7, .via = WGM_AUTH_JWT, .iat_ms = (int64_t)NOW * 1000 - 5000,
                            .exp = NOW + 600};
    strcpy(c.role, "manager");
    strcpy(c.jti, "0123456789abcdef0123456789abcdef");
    return c;
}

static struct wgm_ws_user user_row(const char *role)
{
    struct wgm_ws_user u = {.id = 7, .found = true, .active = true, .tokens_valid_after = 0};
    snprintf(u.role, sizeof(u.role), "%s", role);
    u.permissions = json_pack("[s,s]", "monitoring.view", "wireguard.view");
    return u;
}

static void judge_is(struct wgm_ws_cred *c, const struct wgm_ws_user *u, const struct wgm_ws_key *k, int revoked,
                     time_t now, enum wgm_ws_verdict want, const char *reason, const char *name)
{
    wgm_ws_judge(c, u, k, revoked, now);
    is_int(c->verdict, want, name);
    if (reason)
        ok(c->reason && strstr(c->reason, reason), "%s: reason '%s' names '%s'", name, c->reason ? c->reason : "",
           reason);
    if (want == WGM_WS_VALID)
        ok(json_is_array(c->permissions), "%s: permissions handed back", name);
    else
        ok(c->permissions == NULL, "%s: no permissions unless valid", name);
    json_decref(c->permissions);
    c->permissions = NULL;
}

int main(void)
{
    struct wgm_ws_cred c = jwt_cred();
    struct wgm_ws_user u = user_row("manager");

    judge_is(&c, &u, NULL, 0, NOW, WGM_WS_VALID, NULL, "a live session holds");
    wgm_ws_judge(&c, &u, NULL, 0, NOW);
    ok(json_equal(c.permissions, u.permissions), "it gets the user's permissions now");
    ok(c.permissions != u.permissions, "as a copy of its own");
    json_decref(c.permissions);
    c.permissions = NULL;

    judge_is(&c, &u, NULL, 0, NOW + 600, WGM_WS_VALID, NULL, "valid up to its exp second");
    judge_is(&c, &u, NULL, 0, NOW + 601, WGM_WS_INVALID, "expired", "an expired token fails");
    judge_is(&c, NULL, NULL, -1, NOW + 601, WGM_WS_INVALID, "expired", "expiry needs no database");
    judge_is(&c, &u, NULL, 1, NOW, WGM_WS_INVALID, "ended", "a revoked jti (logout) fails");
    judge_is(&c, NULL, NULL, 1, NOW, WGM_WS_INVALID, "ended", "revocation needs no database");
    judge_is(&c, NULL, NULL, 0, NOW, WGM_WS_UNKNOWN, NULL, "no user row: unknown, kept");
    judge_is(&c, &u, NULL, -1, NOW, WGM_WS_UNKNOWN, NULL, "revocation list silent: unknown");

    u.tokens_valid_after = c.iat_ms + 1;
    judge_is(&c, &u, NULL, 0, NOW, WGM_WS_INVALID, "ended", "tokens_valid_after past the issue time fails");
    u.tokens_valid_after = c.iat_ms;
    judge_is(&c, &u, NULL, 0, NOW, WGM_WS_VALID, NULL, "tokens_valid_after equal to the issue time holds");
    u.tokens_valid_after = 0;

    u.active = false;
    judge_is(&c, &u, NULL, 0, NOW, WGM_WS_INVALID, "not active", "a suspended account fails");
    u.active = true;
    u.found = false;
    judge_is(&c, &u, NULL, 0, NOW, WGM_WS_INVALID, "no longer exists", "a deleted account fails");
    u.found = true;
    strcpy(u.role, "user");
    judge_is(&c, &u, NULL, 0, NOW, WGM_WS_INVALID, "role", "a role change fails");
    strcpy(u.role, "manager");

    /* API keys: the key's own list within the owner's permissions. */
    {
        struct wgm_ws_cred k = {.client_id = 2, .user_id = 7, .via = WGM_AUTH_API_KEY};
        struct wgm_ws_key key = {.found = true, .active = true, .user_id = 7};
        strcpy(k.role, "manager");
        strcpy(k.api_key_id, "ak_0123456789");
        strcpy(key.id, "ak_0123456789");
        key.permissions = json_pack("[s,s]", "wireguard.view", "bgp.view");

        wgm_ws_judge(&k, &u, &key, -1, NOW);
        is_int(k.verdict, WGM_WS_VALID, "a live API key holds (no jti to check)");
        ok(json_array_size(k.permissions) == 1 &&
               strcmp(json_string_value(json_array_get(k.permissions, 0)), "wireguard.view") == 0,
           "its permissions are the key's within the owner's");
        json_decref(k.permissions);
        k.permissions = NULL;

        judge_is(&k, &u, NULL, -1, NOW, WGM_WS_UNKNOWN, NULL, "no key row: unknown");
        key.active = false;
        judge_is(&k, &u, &key, -1, NOW, WGM_WS_INVALID, "revoked", "a revoked key fails");
        judge_is(&k, NULL, &key, -1, NOW, WGM_WS_INVALID, "revoked", "even without the owner's row");
        key.active = true;
        key.expires = true;
        key.expires_at = NOW - 1;
        judge_is(&k, &u, &key, -1, NOW, WGM_WS_INVALID, "expired", "an expired key fails");
        key.expires_at = NOW + 60;
        judge_is(&k, &u, &key, -1, NOW, WGM_WS_VALID, NULL, "a key expiring later holds");
        key.found = false;
        judge_is(&k, &u, &key, -1, NOW, WGM_WS_INVALID, "no longer exists", "a deleted key fails");
        key.found = true;
        u.active = false;
        judge_is(&k, &u, &key, -1, NOW, WGM_WS_INVALID, "not active", "a key of a suspended owner fails");
        u.active = true;
        json_decref(key.permissions);
    }
    json_decref(u.permissions);
    return done_testing();
}
