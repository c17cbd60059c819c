/* core/auth/api_auth: /auth/login, /auth/refresh, /auth/logout,
 * /auth/verify-2fa, /auth/2fa/{enroll,confirm,disable}, /auth/change-password and /users/me. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sodium.h>
#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/users.h"
#include "api.h"
#include "cache/cache.h"
#include "daemon.h"
#include "plugin/loader.h"
#include "db/db.h"
#include "http/request.h"
#include "http/router.h"
#include "log.h"
#include "otp/qr.h"
#include "otp/totp.h"
#include "secret.h"
#include "sysconfig.h"
#include "util.h"
#include "validate.h"

#define PENDING_TTL 300  /* seconds to enter the second factor */
#define PASSWORD_TTL 900 /* seconds to change an expired password */
#define ISSUER "wgm"
#define PENDING_MAX_FAILURES 5 /* wrong codes that end one 2FA-pending token */
/* Seconds a run of failed logins is remembered, from its first failure:
 * an unknown name's count in the cache and a real account's alike. */
#define FAILURE_WINDOW 86400

/* Run @sql with integer binds (terminated by INT64_MIN). */
static int exec_ints(struct wgm_db *db, const char *sql, ...)
{
    struct wgm_stmt *st = NULL;
    va_list ap;
    int r = wgm_db_prepare(db, sql, &st), i = 1;
    if (r < 0)
        return r;
    va_start(ap, sql);
    for (int64_t v = va_arg(ap, int64_t); v != INT64_MIN; v = va_arg(ap, int64_t))
        wgm_stmt_bind_int(st, i++, v);
    va_end(ap);
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}

/* A failed password or code: count it, and lock once the limit is hit.
 * login_attempts keeps the count that locked the account (shown in user
 * answers); a lock that has run out starts the count afresh, and so does a
 * run that began FAILURE_WINDOW ago (failed_since), as an unknown name's
 * cached count expires (ghost_failure): the answers do not tell the two
 * apart.  locked_until and failed_since are assigned first so MySQL's
 * left-to-right SET reads the old login_attempts, as SQLite does.  Returns
 * the lock's end, or 0. */
static time_t count_failure(struct wgm_daemon *d, struct wgm_db *db, int64_t id)
{
    struct wgm_sysconfig cfg;
    time_t now = time(NULL), until;
    struct wgm_stmt *st = NULL;

    wgm_sysconfig_get(d, &cfg);
    until = now + cfg.lockout_duration;
    exec_ints(db,
              "UPDATE users SET login_attempts = 0, locked_until = NULL"
              " WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)"
              " AND (locked_until IS NOT NULL OR failed_since IS NULL OR failed_since <= ?)",
              id, (int64_t)now, (int64_t)(now - FAILURE_WINDOW), INT64_MIN);
    exec_ints(db,
              "UPDATE users SET locked_until = CASE WHEN login_attempts + 1 >= ? THEN ? ELSE locked_until END,"
              " failed_since = CASE WHEN login_attempts = 0 THEN ? ELSE failed_since END,"
              " login_attempts = login_attempts + 1 WHERE id = ?",
              (int64_t)cfg.max_login_attempts, (int64_t)until, (int64_t)now, id, INT64_MIN);
    until = 0;
    if (wgm_db_prepare(db, "SELECT locked_until FROM users WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_int(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW && wgm_stmt_column_int(st, 0) > now)
            until = (time_t)wgm_stmt_column_int(st, 0);
    }
    wgm_stmt_free(st);
    return until;
}

/* The end of the account's lock when it is locked now, else 0. */
static time_t locked_now(struct wgm_db *db, int64_t id)
{
    struct wgm_stmt *st = NULL;
    time_t until = 0;
    if (wgm_db_prepare(db, "SELECT locked_until FROM users WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_int(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW && wgm_stmt_column_int(st, 0) > time(NULL))
            until = (time_t)wgm_stmt_column_int(st, 0);
    }
    wgm_stmt_free(st);
    return until;
}

/* Failures for a username that does not exist are counted in the cache,
 * so such a name answers 401 and then 423 after the same number of tries
 * as a real account: the lockout does not reveal which names exist. */
static void ghost_keys(const char *username, char count[96], char lock[96])
{
    char h[65];
    wgm_auth_sha256_hex(username, h);
    snprintf(count, 96, "auth:ghost:%s", h);
    snprintf(lock, 96, "auth:ghostlock:%s", h);
}

static time_t ghost_locked(struct wgm_daemon *d, const char *username)
{
    char count[96], lock[96], *val = NULL;
    time_t until = 0;
    ghost_keys(username, count, lock);
    if (wgm_cache_get(d->cache, lock, &val) == 0) {
        long long v;
        if (wgm_in_parse_ll(val, 0, INT64_MAX, &v) == 0)
            until = (time_t)v;
        free(val);
    }
    return until > time(NULL) ? until : 0;
}

static time_t ghost_failure(struct wgm_daemon *d, const char *username)
{
    struct wgm_sysconfig cfg;
    char count[96], lock[96], val[24];
    int64_t n = 0;
    time_t until;

    wgm_sysconfig_get(d, &cfg);
    ghost_keys(username, count, lock);
    if (wgm_cache_incr(d->cache, count, 1, FAILURE_WINDOW, &n) < 0 || n < (int64_t)cfg.max_login_attempts)
        return 0;
    until = time(NULL) + cfg.lockout_duration;
    snprintf(val, sizeof(val), "%lld", (long long)until);
    wgm_cache_set(d->cache, lock, val, cfg.lockout_duration);
    wgm_cache_del(d->cache, count);
    return until;
}

/* Every hashing slot is taken (core/auth/password.c): come back shortly. */
static int busy_error(const struct wgm_req *req, struct wgm_resp *resp)
{
    req->host->resp_header(resp, "Retry-After", "1");
    return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "too many password checks at once; retry shortly",
                          json_pack("{s:s}", "reason", "password_hashing_busy"));
}

/* True when the password has to change before a full session: an admin
 * forced it, or it is older than the policy's max_age_days. */
static bool must_change(struct wgm_daemon *d, bool force_change, int64_t changed_at)
{
    struct wgm_sysconfig cfg;
    wgm_sysconfig_get(d, &cfg);
    return force_change || (cfg.policy.max_age_days && changed_at + 86400LL * cfg.policy.max_age_days < time(NULL));
}

static bool user_must_change(struct wgm_daemon *d, struct wgm_db *db, int64_t id)
{
    struct wgm_stmt *st = NULL;
    bool r = false;
    if (wgm_db_prepare(db, "SELECT force_change, password_changed_at FROM users WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_int(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW)
            r = must_change(d, wgm_stmt_column_int(st, 0) != 0, wgm_stmt_column_int(st, 1));
    }
    wgm_stmt_free(st);
    return r;
}

/* A wrong password or code from a signed-in user (2FA settings, password
 * change): counted like a failed login; 401 naming @field, or 423. */
static int session_failure(struct wgm_daemon *d, struct wgm_db *db, int64_t id, struct wgm_resp *resp,
                           const char *message, json_t *details);

static int locked_error(struct wgm_resp *resp, time_t until)
{
    char ts[32];
    return wgm_resp_error(resp, 423, "ACCOUNT_LOCKED", "too many failed attempts; the account is locked",
                          json_pack("{s:s}", "locked_until", wgm_time_rfc3339(until, ts, sizeof(ts))));
}

static int session_failure(struct wgm_daemon *d, struct wgm_db *db, int64_t id, struct wgm_resp *resp,
                           const char *message, json_t *details)
{
    time_t until = count_failure(d, db, id);
    if (until) {
        json_decref(details);
        return locked_error(resp, until);
    }
    return wgm_resp_error(resp, 401, "INVALID_CREDENTIALS", message, details);
}

/* Tokens for a finished login, the user object, last_login. */
static int complete_login(struct wgm_daemon *d, struct wgm_db *db, int64_t id, bool remember_me, struct wgm_resp *resp)
{
    json_t *out = json_object();
    int r;

    exec_ints(db, "UPDATE users SET login_attempts = 0, locked_until = NULL, last_login = ? WHERE id = ?",
              (int64_t)time(NULL), id, INT64_MIN);
    if ((r = wgm_session_issue(d, db, id, remember_me, out)) < 0) {
        json_decref(out);
        return r;
    }
    json_object_set_new(out, "user", wgm_user_load(db, id));
    return wgm_resp_json(resp, 200, out);
}

/* A token good for one thing only (the second factor, or a new password). */
static int limited_login(struct wgm_daemon *d, struct wgm_db *db, int64_t id, enum wgm_token_scope scope,
                         const char *flag, bool verified, struct wgm_resp *resp)
{
    unsigned ttl = scope == WGM_SCOPE_2FA_PENDING ? PENDING_TTL : PASSWORD_TTL;
    char *tok = wgm_auth_access_token(d, id, scope, ttl);
    json_t *out;
    if (!tok)
        return -ENOMEM;
    out = json_pack("{s:b,s:s,s:s,s:i,s:o}", flag, 1, "access_token", tok, "token_type", "bearer", "expires_in",
                    (int)ttl, "user", wgm_user_load(db, id));
    free(tok);
    if (verified)
        json_object_set_new(out, "verified", json_true());
    return wgm_resp_json(resp, 200, out);
}

static int login(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"username", "password", "remember_me", NULL};
    struct wgm_daemon *d = ctx->daemon;
    struct wgm_v v;
    const char *username, *password;
    bool remember_me;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    char hash[256] = "";
    int64_t id = 0, changed_at = 0;
    time_t locked = 0;
    bool found = false, active = false, two_factor = false, force_change = false;
    int r;

    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    username = wgm_v_str(&v, "username", true, 1, 64);
    password = wgm_v_str(&v, "password", true, 1, 1024);
    remember_me = wgm_v_bool(&v, "remember_me", false);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    if ((r = wgm_db_prepare(db,
                            "SELECT id, password_hash, status, locked_until, two_factor_enabled, force_change,"
                            " password_changed_at FROM users WHERE username = ?",
                            &st)) < 0)
        goto out;
    wgm_stmt_bind_text(st, 1, username);
    if (wgm_stmt_step(st) == WGM_DB_ROW) {
        found = true;
        id = wgm_stmt_column_int(st, 0);
        snprintf(hash, sizeof(hash), "%s", wgm_stmt_column_text(st, 1));
        active = strcmp(wgm_stmt_column_text(st, 2), "active") == 0;
        locked = (time_t)wgm_stmt_column_int(st, 3);
        two_factor = wgm_stmt_column_int(st, 4) != 0;
        force_change = wgm_stmt_column_int(st, 5) != 0;
        changed_at = wgm_stmt_column_int(st, 6);
    }
    wgm_stmt_free(st);
    st = NULL;
    if (!found)
        locked = ghost_locked(d, username);
    if (locked > time(NULL)) {
        r = locked_error(resp, locked);
        goto out;
    }
    /* An unknown user costs one verification too: no timing oracle. */
    if ((r = wgm_password_verify(found ? hash : NULL, password)) == -EBUSY) {
        r = busy_error(req, resp);
        goto out;
    }
    if (r != 0) {
        time_t until = found ? count_failure(d, db, id) : ghost_failure(d, username);
        r = until ? locked_error(resp, until)
                  : wgm_resp_error(resp, 401, "INVALID_CREDENTIALS", "wrong username or password", NULL);
        goto out;
    }
    if (!active) {
        r = wgm_resp_error(resp, 403, "ACCOUNT_DISABLED", "this account is not active", NULL);
        goto out;
    }
    force_change = must_change(d, force_change, changed_at);
    if (two_factor) {
        r = limited_login(d, db, id, WGM_SCOPE_2FA_PENDING, "two_factor_required", false, resp);
        goto out;
    }
    if (force_change) {
        r = limited_login(d, db, id, WGM_SCOPE_PASSWORD, "password_change_required", false, resp);
        goto out;
    }
    r = complete_login(d, db, id, remember_me, resp);
out:
    wgm_stmt_free(st);
    wgm_db_release(db);
    sodium_memzero(hash, sizeof(hash));
    return r;
}

/* The refresh token: "Authorization: Bearer rt_..." as in the spec, or
 * {"refresh_token": "..."} in the body. */
static const char *refresh_token_of(const struct wgm_req *req)
{
    const char *h = req->host->req_header(req, "Authorization");
    json_t *b = json_object_get(req->body, "refresh_token");
    if (h && strncasecmp(h, "Bearer ", 7) == 0 && strncmp(h + 7, "rt_", 3) == 0)
        return h + 7;
    return json_is_string(b) ? json_string_value(b) : NULL;
}

static int refresh(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const char *tok = refresh_token_of(req);
    json_t *out;
    int r;

    if (!tok || strlen(tok) > 128)
        return wgm_resp_error(resp, 401, "TOKEN_INVALID", "a refresh token is required",
                              json_pack("{s:s}", "refresh_token", "missing"));
    out = json_object();
    r = wgm_session_refresh(ctx->daemon, tok, out);
    if (r == 0)
        return wgm_resp_json(resp, 200, out);
    json_decref(out);
    if (r == -ETIMEDOUT)
        return wgm_resp_error(resp, 401, "TOKEN_EXPIRED", "refresh token has expired", NULL);
    if (r == -EIO)
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    if (r == -EACCES)
        wgm_log(WGM_LOG_WARN, "auth", "refresh token refused (revoked, or reused: family revoked) request_id=%s",
                req->request_id);
    return wgm_resp_error(resp, 401, "TOKEN_INVALID", "refresh token is not valid", NULL);
}

static int logout(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_principal *me = wgm_request_principal(req);
    json_t *b = json_object_get(req->body, "refresh_token");
    struct wgm_jwt_claims c = {0};
    const char *h = req->host->req_header(req, "Authorization");
    size_t keylen;
    const unsigned char *key = wgm_auth_jwt_key(ctx->daemon, &keylen);

    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        wgm_jwt_verify(key, keylen, h + 7, time(NULL), &c);
    if (b && !json_is_string(b))
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "refresh_token", "must be a string"));
    if (wgm_session_logout(ctx->daemon, json_string_value(b), me->token_id, c.exp) < 0)
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "cannot record the logout", NULL);
    return wgm_resp_json_msg(resp, 200, json_pack("{s:b}", "logged_out", 1), "Logged out", "已退出登录");
}

/* Open the user's sealed TOTP secret (@col "totp_secret" or "totp_pending")
 * into raw key bytes.  0 or a negative errno. */
static int user_totp_key(struct wgm_daemon *d, struct wgm_db *db, int64_t id, bool pending, unsigned char *key,
                         size_t *keylen, int64_t *last_step)
{
    struct wgm_stmt *st = NULL;
    char *b32 = NULL;
    size_t b32len = 0;
    int r = wgm_db_prepare(db,
                           pending ? "SELECT totp_pending, totp_last_step FROM users WHERE id = ?"
                                   : "SELECT totp_secret, totp_last_step FROM users WHERE id = ?",
                           &st);
    if (r < 0)
        return r;
    wgm_stmt_bind_int(st, 1, id);
    if (wgm_stmt_step(st) != WGM_DB_ROW || !wgm_stmt_column_text(st, 0)) {
        wgm_stmt_free(st);
        return -ENOENT;
    }
    r = wgm_secret_open(d->keyring, wgm_stmt_column_text(st, 0), &b32, &b32len);
    *last_step = wgm_stmt_column_int(st, 1);
    wgm_stmt_free(st);
    if (r < 0)
        return r;
    r = wgm_base32_decode(b32, key, 64, keylen);
    wgm_secret_free(b32, b32len);
    return r;
}

/* 0 when @code is the user's current TOTP (and not replayed); the step is
 * stored.  -EACCES/-EINVAL (wrong), -EALREADY (replayed), -ENOENT (no
 * secret): the caller's failure; anything else is the database's. */
static int check_code(struct wgm_daemon *d, struct wgm_db *db, int64_t id, bool pending, const char *code)
{
    unsigned char key[64];
    size_t keylen = 0;
    int64_t last = 0, matched = 0;
    struct wgm_totp_cfg cfg = WGM_TOTP_DEFAULTS;
    int r = user_totp_key(d, db, id, pending, key, &keylen, &last);

    /* A pending secret has never signed anyone in: its codes are not
     * replays of the current secret's (a re-enrolment's confirm may fall in
     * the step the enrol's current code used). */
    if (r == 0)
        r = wgm_totp_verify(key, keylen, time(NULL), code, &cfg, pending ? 0 : last, &matched);
    sodium_memzero(key, sizeof(key));
    if (r == 0 && pending)
        return exec_ints(db,
                         "UPDATE users SET totp_last_step = CASE WHEN totp_last_step < ? THEN ? ELSE totp_last_step END"
                         " WHERE id = ?",
                         matched, matched, id, INT64_MIN);
    if (r == 0) {
        /* Claim the step: of two requests racing with one code, only the
         * one whose UPDATE changes the row wins. */
        struct wgm_stmt *st = NULL;
        if ((r = wgm_db_prepare(db, "UPDATE users SET totp_last_step = ? WHERE id = ? AND totp_last_step < ?", &st)) <
            0)
            return r;
        wgm_stmt_bind_int(st, 1, matched);
        wgm_stmt_bind_int(st, 2, id);
        wgm_stmt_bind_int(st, 3, matched);
        r = wgm_stmt_step(st);
        if (r >= 0)
            r = wgm_stmt_changes(st) == 1 ? 0 : -EALREADY;
        wgm_stmt_free(st);
    }
    return r;
}

/* A result of check_code that is the caller's mistake (counted), not a
 * database failure. */
static bool code_refused(int r)
{
    return r == -EACCES || r == -EINVAL || r == -EALREADY || r == -ENOENT;
}

/* A wrong code on a pending token: counted toward the account's lockout,
 * and the token itself ends after PENDING_MAX_FAILURES of them. */
static void pending_failure(struct wgm_daemon *d, struct wgm_db *db, const char *jti)
{
    time_t exp = time(NULL) + PENDING_TTL; /* at or after the token's own expiry */
    int64_t n = 0;

    /* Counted in the database, so another node, a restart or a lost cache
     * does not give the token fresh tries; when it cannot be counted, the
     * token ends now. */
    if (wgm_session_pending_failure(db, jti, exp, &n) < 0 || n >= PENDING_MAX_FAILURES)
        wgm_session_revoke_jti(d, db, jti, exp);
}

static int verify_2fa(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"code", "method", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_v v;
    const char *code;
    struct wgm_db *db;
    time_t until;
    json_t *out;
    int r;

    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    code = wgm_v_str(&v, "code", true, 6, 8);
    wgm_v_enum(&v, "method", false, "totp");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    /* The second factor is under the same lock as the password. */
    if ((until = locked_now(db, me->user_id))) {
        wgm_db_release(db);
        return locked_error(resp, until);
    }
    r = check_code(d, db, me->user_id, false, code);
    if (r < 0 && !code_refused(r)) {
        wgm_db_release(db);
        return r;
    }
    if (r < 0) {
        pending_failure(d, db, me->token_id);
        r = session_failure(d, db, me->user_id, resp, r == -EALREADY ? "this code was already used" : "wrong code",
                            json_pack("{s:s}", "code", r == -EALREADY ? "already used" : "does not match"));
        wgm_db_release(db);
        return r;
    }
    /* The pending token is spent: it may not be used for a second login. */
    if ((r = wgm_session_revoke_jti(d, db, me->token_id, time(NULL) + PENDING_TTL)) < 0) {
        wgm_db_release(db);
        return r;
    }
    exec_ints(db, "UPDATE users SET login_attempts = 0, locked_until = NULL, last_login = ? WHERE id = ?",
              (int64_t)time(NULL), me->user_id, INT64_MIN);
    /* As login without 2FA: a password that must change gets only the
     * token that can change it. */
    if (user_must_change(d, db, me->user_id)) {
        r = limited_login(d, db, me->user_id, WGM_SCOPE_PASSWORD, "password_change_required", true, resp);
        wgm_db_release(db);
        return r;
    }
    out = json_object();
    r = wgm_session_issue(d, db, me->user_id, false, out);
    if (r == 0) {
        json_object_set_new(out, "verified", json_true());
        json_object_set_new(out, "user", wgm_user_load(db, me->user_id));
    }
    wgm_db_release(db);
    if (r < 0) {
        json_decref(out);
        return r;
    }
    return wgm_resp_json(resp, 200, out);
}

/* Whether @id has two-factor sign-in on now. */
static bool two_factor_on(struct wgm_db *db, int64_t id)
{
    struct wgm_stmt *st = NULL;
    bool on = false;
    if (wgm_db_prepare(db, "SELECT two_factor_enabled FROM users WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_int(st, 1, id);
        on = wgm_stmt_step(st) == WGM_DB_ROW && wgm_stmt_column_int(st, 0) != 0;
    }
    wgm_stmt_free(st);
    return on;
}

/* A signed-in user proves the factors again before 2FA settings change:
 * the password, and (@code non-NULL) a current TOTP code.  0 when both
 * hold; otherwise the answer (423, 503 or a counted 401) is in @resp and
 * 1 is returned. */
static int reauthenticate(struct wgm_daemon *d, const struct wgm_req *req, struct wgm_db *db, int64_t id,
                          const char *password, const char *code, struct wgm_resp *resp)
{
    char hash[256] = "";
    time_t until;
    int r;

    if ((until = locked_now(db, id))) {
        locked_error(resp, until);
        return 1;
    }
    wgm_user_password_hash(db, id, hash, sizeof(hash));
    r = wgm_password_verify(hash[0] ? hash : NULL, password);
    sodium_memzero(hash, sizeof(hash));
    if (r == -EBUSY) {
        busy_error(req, resp);
        return 1;
    }
    if (r == 0 && code)
        r = check_code(d, db, id, false, code);
    if (r < 0 && r != -EACCES && !code_refused(r)) {
        wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "cannot check the code now", NULL);
        return 1;
    }
    if (r != 0) {
        session_failure(d, db, id, resp, code ? "password or code is wrong" : "password is wrong", NULL);
        return 1;
    }
    return 0;
}

static int enroll_2fa(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"password", "code", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_totp_cfg cfg = WGM_TOTP_DEFAULTS;
    struct wgm_sysconfig sc;
    char *b32 = NULL, *uri = NULL, *sealed = NULL, *qr = NULL;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    struct wgm_v v;
    const char *password = NULL, *code = NULL;
    bool on;
    int r;

    wgm_sysconfig_get(d, &sc);
    if (!sc.two_factor_enabled)
        return wgm_resp_error(resp, 403, "INSUFFICIENT_PERMISSIONS", "two-factor authentication is disabled",
                              json_pack("{s:s}", "two_factor_enabled", "false in system config"));
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    /* Replacing an active secret takes both factors, as removing it does:
     * a stolen session alone must not swap the second factor. */
    on = two_factor_on(db, me->user_id);
    wgm_v_begin(&v, req->body, on);
    wgm_v_only(&v, known);
    if (on) {
        password = wgm_v_str(&v, "password", true, 1, 1024);
        code = wgm_v_str(&v, "code", true, 6, 8);
    }
    if (!wgm_v_ok(&v)) {
        wgm_db_release(db);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if (on && reauthenticate(d, req, db, me->user_id, password, code, resp)) {
        wgm_db_release(db);
        return 0;
    }
    if ((r = wgm_totp_secret_new(&b32)) < 0 || (r = wgm_totp_uri(ISSUER, me->username, b32, &cfg, &uri)) < 0 ||
        (r = wgm_secret_seal(d->keyring, b32, strlen(b32), &sealed)) < 0)
        goto out;
    qr = wgm_qr_data_uri(uri);
    if ((r = wgm_db_prepare(db, "UPDATE users SET totp_pending = ? WHERE id = ?", &st)) == 0) {
        wgm_stmt_bind_text(st, 1, sealed);
        wgm_stmt_bind_int(st, 2, me->user_id);
        r = wgm_stmt_step(st) < 0 ? -EIO : 0;
    }
    wgm_stmt_free(st);
    if (r == 0)
        r = wgm_resp_json_msg(resp, 200,
                              json_pack("{s:s,s:s,s:s?,s:s}", "secret", b32, "otpauth_uri", uri, "qr_code", qr, "next",
                                        on ? "POST /api/v1/auth/2fa/confirm with a code from the app and your password"
                                           : "POST /api/v1/auth/2fa/confirm with a code from the app"),
                              "Two-factor enrolment started", "双因子认证注册已开始");
out:
    wgm_db_release(db);
    wgm_totp_secret_free(b32);
    free(uri);
    free(sealed);
    free(qr);
    return r;
}

static int confirm_2fa(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"code", "password", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_v v;
    const char *code, *password = NULL;
    struct wgm_db *db;
    bool on;
    int r;

    if (!(db = wgm_api_db(d, resp)))
        return 0;
    /* Replacing an active secret: the password again.  The current code
     * was proven at enrol, and only that enrol could store the pending
     * secret whose code is asked for here. */
    on = two_factor_on(db, me->user_id);
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    code = wgm_v_str(&v, "code", true, 6, 8);
    if (on)
        password = wgm_v_str(&v, "password", true, 1, 1024);
    if (!wgm_v_ok(&v)) {
        wgm_db_release(db);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if (on && reauthenticate(d, req, db, me->user_id, password, NULL, resp)) {
        wgm_db_release(db);
        return 0;
    }
    r = check_code(d, db, me->user_id, true, code);
    if (r == -ENOENT) {
        wgm_db_release(db);
        return wgm_resp_error(resp, 409, "RESOURCE_CONFLICT", "start with POST /auth/2fa/enroll", NULL);
    }
    if (r < 0) {
        wgm_db_release(db);
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "wrong code", json_pack("{s:s}", "code", "does not match"));
    }
    r = exec_ints(db,
                  "UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, two_factor_enabled = 1,"
                  " updated_at = ? WHERE id = ?",
                  (int64_t)time(NULL), me->user_id, INT64_MIN);
    wgm_db_release(db);
    return r < 0 ? r
                 : wgm_resp_json_msg(resp, 200, json_pack("{s:b}", "two_factor_enabled", 1),
                                     "Two-factor authentication enabled", "双因子认证已启用");
}

static int disable_2fa(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"password", "code", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_v v;
    const char *password, *code;
    struct wgm_db *db;
    int r;

    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    password = wgm_v_str(&v, "password", true, 1, 1024);
    code = wgm_v_str(&v, "code", true, 6, 8);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    /* Both factors, so a stolen session alone cannot remove the second;
     * failures count toward the lockout like failed logins. */
    if (reauthenticate(d, req, db, me->user_id, password, code, resp)) {
        wgm_db_release(db);
        return 0;
    }
    r = exec_ints(db,
                  "UPDATE users SET totp_secret = NULL, totp_pending = NULL, two_factor_enabled = 0, updated_at = ?"
                  " WHERE id = ?",
                  (int64_t)time(NULL), me->user_id, INT64_MIN);
    wgm_db_release(db);
    return r < 0 ? r
                 : wgm_resp_json_msg(resp, 200, json_pack("{s:b}", "two_factor_enabled", 0),
                                     "Two-factor authentication disabled", "双因子认证已禁用");
}

/* Set a new password (already checked); ends every session of the user. */
int wgm_auth_set_password(struct wgm_daemon *d, struct wgm_db *db, int64_t id, const char *password, bool force_change)
{
    char hash[256];
    struct wgm_stmt *st = NULL;
    int r;

    if ((r = wgm_password_hash(password, hash, sizeof(hash))) < 0)
        return r;
    if ((r = wgm_db_begin(db)) < 0)
        return r;
    if ((r = wgm_db_prepare(db,
                            "UPDATE users SET password_hash = ?, force_change = ?, password_changed_at = ?,"
                            " login_attempts = 0, locked_until = NULL, updated_at = ? WHERE id = ?",
                            &st)) == 0) {
        wgm_stmt_bind_text(st, 1, hash);
        wgm_stmt_bind_int(st, 2, force_change);
        wgm_stmt_bind_int(st, 3, time(NULL));
        wgm_stmt_bind_int(st, 4, time(NULL));
        wgm_stmt_bind_int(st, 5, id);
        r = wgm_stmt_step(st) < 0 ? -EIO : 0;
    }
    wgm_stmt_free(st);
    if (r == 0)
        r = wgm_session_revoke_user(d, db, id);
    if (r == 0)
        r = wgm_db_commit(db);
    if (r < 0)
        wgm_db_rollback(db);
    sodium_memzero(hash, sizeof(hash));
    return r;
}

static int change_password(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"current_password", "new_password", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_sysconfig cfg;
    struct wgm_v v;
    const char *current, *next;
    char why[128], hash[256] = "";
    struct wgm_db *db;
    time_t until;
    int r;

    wgm_sysconfig_get(d, &cfg);
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    current = wgm_v_str(&v, "current_password", true, 1, 1024);
    next = wgm_v_str(&v, "new_password", true, 1, 1024);
    if (next && wgm_password_check(&cfg.policy, next, why, sizeof(why)) < 0)
        wgm_v_fail(&v, "new_password", "%s", why);
    if (next && current && strcmp(next, current) == 0)
        wgm_v_fail(&v, "new_password", "must differ from the current password");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    if ((until = locked_now(db, me->user_id))) {
        wgm_db_release(db);
        return locked_error(resp, until);
    }
    wgm_user_password_hash(db, me->user_id, hash, sizeof(hash));
    r = wgm_password_verify(hash[0] ? hash : NULL, current);
    sodium_memzero(hash, sizeof(hash));
    if (r == -EBUSY) {
        wgm_db_release(db);
        return busy_error(req, resp);
    }
    if (r != 0) {
        r = session_failure(d, db, me->user_id, resp, "current password is wrong",
                            json_pack("{s:s}", "current_password", "does not match"));
        wgm_db_release(db);
        return r;
    }
    r = wgm_auth_set_password(d, db, me->user_id, next, false);
    wgm_db_release(db);
    if (r == -EBUSY)
        return busy_error(req, resp);
    if (r < 0)
        return r;
    return wgm_resp_json_msg(resp, 200,
                             json_pack("{s:b,s:s}", "changed", 1, "next", "log in again with the new password"),
                             "Password changed", "密码修改成功");
}

static int get_me(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_db *db = wgm_api_db(ctx->daemon, resp);
    json_t *u;
    if (!db)
        return 0;
    u = wgm_user_load(db, me->user_id);
    wgm_db_release(db);
    if (!u)
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "user not found", NULL);
    if (me->via == WGM_AUTH_API_KEY) {
        json_object_set_new(u, "api_key_id", json_string(me->api_key_id));
        json_object_set(u, "permissions", me->permissions); /* what this key may do */
    }
    return wgm_resp_json(resp, 200, u);
}

int wgm_auth_register(struct wgm_daemon *d)
{
    static const struct wgm_api_route routes[] = {
        {"POST", "/api/v1/auth/login", WGM_PERM_PUBLIC, login},
        {"POST", "/api/v1/auth/refresh", WGM_PERM_PUBLIC, refresh},
        {"POST", "/api/v1/auth/logout", WGM_PERM_SELF, logout},
        {"POST", "/api/v1/auth/verify-2fa", WGM_PERM_2FA, verify_2fa},
        {"POST", "/api/v1/auth/2fa/enroll", WGM_PERM_SESSION, enroll_2fa},
        {"POST", "/api/v1/auth/2fa/confirm", WGM_PERM_SESSION, confirm_2fa},
        {"POST", "/api/v1/auth/2fa/disable", WGM_PERM_SESSION, disable_2fa},
        {"POST", "/api/v1/auth/change-password", WGM_PERM_PASSWORD, change_password},
        {"GET", "/api/v1/users/me", WGM_PERM_SELF, get_me},
    };
    int r = wgm_api_add_routes(d, routes, sizeof(routes) / sizeof(routes[0]));
    return r < 0 ? r : wgm_apikeys_register(d);
}
