/* core/ws/revalidate: does each WebSocket connection's credential still hold?
 *
 * The hub copies the principal at the handshake; this re-checks it against
 * the database every few seconds, for many connections at a time: one
 * query per 64 distinct users, per 64 distinct API keys and per 64
 * distinct access tokens (revoked_tokens, which every node shares), never
 * one per connection.
 * A connection fails when its token expired or was revoked (logout), its
 * user's tokens were revoked (tokens_valid_after: password change, reset,
 * deactivation), the user is gone or no longer active, its role changed,
 * or its API key was revoked, deleted or expired.  Otherwise it gets the
 * permissions the user (or key) holds now, so the hub can re-gate topics. */
#ifndef WGM_CORE_WS_REVALIDATE_H
#define WGM_CORE_WS_REVALIDATE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include "auth/principal.h"

struct wgm_daemon;

enum wgm_ws_verdict {
    WGM_WS_UNKNOWN = 0, /* could not be checked (database down) */
    WGM_WS_VALID,
    WGM_WS_INVALID,
};

/* One connection's credential, as the hub saw it at the handshake, and the
 * verdict.  Filled by the hub; the verdict fields by wgm_ws_revalidate. */
struct wgm_ws_cred {
    uint64_t client_id;
    int64_t user_id;
    enum wgm_auth_via via;
    char role[16];       /* the role at the handshake */
    char jti[40];        /* WGM_AUTH_JWT */
    int64_t iat_ms;      /* WGM_AUTH_JWT: issue time, against tokens_valid_after */
    time_t exp;          /* WGM_AUTH_JWT: expiry */
    char api_key_id[40]; /* WGM_AUTH_API_KEY */
    /* out */
    enum wgm_ws_verdict verdict;
    const char *reason;  /* static English text for the close frame when INVALID */
    json_t *permissions; /* VALID: the effective permissions now (new, owned by the caller) */
};

/* What the database says about a user, and about an API key. */
struct wgm_ws_user {
    int64_t id;
    bool found, active;
    char role[16];
    int64_t tokens_valid_after; /* unix ms */
    json_t *permissions;        /* effective: role defaults + grants (owned) */
};

struct wgm_ws_key {
    char id[40];
    bool found, active;
    int64_t user_id;
    bool expires;
    int64_t expires_at;
    json_t *permissions; /* the key's own list (owned) */
};

/** Judge one credential (pure: no I/O).  @user is the row of c->user_id
 *  (NULL: unknown, the lookup failed), @key that of c->api_key_id for an
 *  API key (NULL: unknown), @revoked says whether a JWT's jti is in
 *  revoked_tokens (-1: unknown, 0: no, 1: yes).  Sets c->verdict,
 *  c->reason and, when valid, c->permissions (new). */
void wgm_ws_judge(struct wgm_ws_cred *c, const struct wgm_ws_user *user, const struct wgm_ws_key *key,
                  int revoked, time_t now);

/** Judge @n credentials against the database (d->db) as it is now.
 *  Blocking I/O: call it off the hub's event loop.  0, or a negative errno
 *  when the lookups failed (verdicts not decided by the clock alone stay
 *  WGM_WS_UNKNOWN). */
int wgm_ws_revalidate(struct wgm_daemon *d, struct wgm_ws_cred *creds, size_t n, time_t now);

#endif
