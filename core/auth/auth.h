/* core/auth/auth: authentication state and the HTTP guard.
 *
 * The guard runs before every handler: it identifies the caller (JWT or
 * API key), applies the rate limit, checks the route's permission and the
 * token's scope, and the after-hook writes the audit record. */
#ifndef WGM_CORE_AUTH_AUTH_H
#define WGM_CORE_AUTH_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "auth/principal.h"

struct wgm_daemon;
struct wgm_db;
struct wgm_request;

/* Routes only a pending-2FA token may call, and routes a password-change
 * token may call (besides full tokens). */
#define WGM_PERM_2FA "2fa-pending"
#define WGM_PERM_PASSWORD "password-change"
/* Routes that need a signed-in person (a full JWT), never an API key:
 * managing API keys and two-factor settings. */
#define WGM_PERM_SESSION "session"

/* Load the JWT key (state_dir/jwt.key), create the first admin, start the
 * batched last-used writer. */
int wgm_auth_start(struct wgm_daemon *d, const char *admin_password, char *err, size_t errlen);
void wgm_auth_stop(struct wgm_daemon *d);
/* The /auth endpoints, /users/me and the API key endpoints. */
int wgm_auth_register(struct wgm_daemon *d);

/* The wgm_http_guard_fn and the after-hook. */
int wgm_auth_guard(void *daemon, struct wgm_request *r);
void wgm_auth_after(void *daemon, struct wgm_request *r);

/* --- shared between the auth files ------------------------------------ */

const unsigned char *wgm_auth_jwt_key(struct wgm_daemon *d, size_t *len);
/* A signed access token for @user_id with @scope living @ttl seconds. New. */
char *wgm_auth_access_token(struct wgm_daemon *d, int64_t user_id, enum wgm_token_scope scope, unsigned ttl);
/* Access + refresh tokens for a completed login into @out (token fields of
 * the spec's login answer).  A new refresh family.  0 or a negative errno. */
int wgm_session_issue(struct wgm_daemon *d, struct wgm_db *db, int64_t user_id, bool remember_me, json_t *out);
/* Rotate a refresh token: new pair into @out, or -ENOENT (unknown),
 * -ETIMEDOUT (expired), -EACCES (revoked, or reused: the family is revoked). */
int wgm_session_refresh(struct wgm_daemon *d, const char *refresh_token, json_t *out);
/* Revoke the family of @refresh_token (if given) and the access token @jti
 * until it would expire anyway. */
int wgm_session_logout(struct wgm_daemon *d, const char *refresh_token, const char *jti, time_t jti_exp);
/* Revoke access token @jti until @exp: in the database and the cache.
 * 0 or a negative errno (database). */
int wgm_session_revoke_jti(struct wgm_daemon *d, struct wgm_db *db, const char *jti, time_t exp);
/* 1 when @jti was revoked (cache, then database), 0 when not, or a
 * negative errno when the database cannot say. */
int wgm_session_jti_revoked(struct wgm_daemon *d, struct wgm_db *db, const char *jti);
/* One more wrong code on the 2FA-pending token @jti (living until @exp),
 * counted in the database so every node and a restart see it; the new
 * count into @failures.  0 or a negative errno (database). */
int wgm_session_pending_failure(struct wgm_db *db, const char *jti, time_t exp, int64_t *failures);
/* Every session of a user ends: refresh families revoked, access tokens
 * issued before now refused, API keys revoked (password change, reset,
 * disable). */
int wgm_session_revoke_user(struct wgm_daemon *d, struct wgm_db *db, int64_t user_id);

/* API keys: authenticate "ak_<id>_<secret>" into @p.  0, -ENOENT/-EACCES
 * (unknown, wrong secret, revoked), -ETIMEDOUT (expired). */
int wgm_apikey_authenticate(struct wgm_daemon *d, const char *key, struct wgm_principal *p, json_t **restrictions);
/* Note a use for the batched last_used writer. */
void wgm_apikey_touch(struct wgm_daemon *d, const char *id);
int wgm_apikeys_register(struct wgm_daemon *d);
void wgm_apikeys_flush(struct wgm_daemon *d);

/* Hash and store a new password (already checked against the policy) and
 * end every session of the user, in one transaction. */
int wgm_auth_set_password(struct wgm_daemon *d, struct wgm_db *db, int64_t id, const char *password, bool force_change);

/* SHA-256 hex of @s into @out (65 bytes). */
void wgm_auth_sha256_hex(const char *s, char out[65]);

#endif
