/* core/auth/session: access tokens and rotating refresh tokens.
 *
 * A refresh token is "rt_" + 43 random base64url characters; only its
 * SHA-256 is stored.  Each login starts a family; refreshing marks the
 * presented token used and issues the next one in the family.  Presenting
 * a used token again means it was copied: the whole family is revoked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "auth/auth.h"
#include "auth/jwt.h"
#include "cache/cache.h"
#include "daemon.h"
#include "db/db.h"
#include "sysconfig.h"

void wgm_auth_sha256_hex(const char *s, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(out, 65, h, sizeof(h));
}

char *wgm_auth_access_token(struct wgm_daemon *d, int64_t user_id, enum wgm_token_scope scope, unsigned ttl)
{
    struct wgm_jwt_claims c = {.user_id = user_id, .scope = scope};
    size_t keylen;
    const unsigned char *key = wgm_auth_jwt_key(d, &keylen);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c.iat = ts.tv_sec;
    c.iat_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    c.exp = c.iat + ttl;
    return wgm_jwt_issue(key, keylen, &c);
}

static void random_b64(char *out, size_t outlen, size_t bytes)
{
    unsigned char raw[64];
    randombytes_buf(raw, bytes);
    sodium_bin2base64(out, outlen, raw, bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Insert a refresh token of @family; its text into @token (64 bytes). */
static int insert_refresh(struct wgm_db *db, int64_t user_id, const char *family, bool remember_me,
                          time_t expires, char token[64])
{
    struct wgm_stmt *st = NULL;
    char hash[65];
    int r;

    memcpy(token, "rt_", 3);
    random_b64(token + 3, 61, 32);
    wgm_auth_sha256_hex(token, hash);
    if ((r = wgm_db_prepare(db,
                            "INSERT INTO refresh_tokens (user_id, family, token_hash, remember_me, expires_at, created_at)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            &st)) < 0)
        return r;
    wgm_stmt_bind_int(st, 1, user_id);
    wgm_stmt_bind_text(st, 2, family);
    wgm_stmt_bind_text(st, 3, hash);
    wgm_stmt_bind_int(st, 4, remember_me);
    wgm_stmt_bind_int(st, 5, expires);
    wgm_stmt_bind_int(st, 6, time(NULL));
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}

static int fill_tokens(struct wgm_daemon *d, int64_t user_id, const char *refresh, json_t *out)
{
    struct wgm_sysconfig cfg;
    char *access;

    wgm_sysconfig_get(d, &cfg);
    access = wgm_auth_access_token(d, user_id, WGM_SCOPE_FULL, cfg.session_timeout);
    if (!access)
        return -ENOMEM;
    json_object_set_new(out, "access_token", json_string(access));
    json_object_set_new(out, "token_type", json_string("bearer"));
    json_object_set_new(out, "expires_in", json_integer(cfg.session_timeout));
    json_object_set_new(out, "refresh_token", json_string(refresh));
    free(access);
    return 0;
}

static time_t refresh_expiry(struct wgm_daemon *d, bool remember_me)
{
    struct wgm_sysconfig cfg;
    wgm_sysconfig_get(d, &cfg);
    return time(NULL) + 86400 * (time_t)(remember_me ? cfg.remember_me_days : cfg.refresh_days);
}

int wgm_session_issue(struct wgm_daemon *d, struct wgm_db *db, int64_t user_id, bool remember_me, json_t *out)
{
    char family[33], token[64];
    unsigned char raw[16];
    int r;

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(family, sizeof(family), raw, sizeof(raw));
    r = insert_refresh(db, user_id, family, remember_me, refresh_expiry(d, remember_me), token);
    if (r == 0)
        r = fill_tokens(d, user_id, token, out);
    sodium_memzero(token, sizeof(token));
    return r;
}

static int revoke_family(struct wgm_db *db, const char *family)
{
    struct wgm_stmt *st = NULL;
    int r = wgm_db_prepare(db, "UPDATE refresh_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL", &st);
    if (r < 0)
        return r;
    wgm_stmt_bind_int(st, 1, time(NULL));
    wgm_stmt_bind_text(st, 2, family);
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}

int wgm_session_refresh(struct wgm_daemon *d, const char *refresh_token, json_t *out)
{
    struct wgm_db *db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    struct wgm_stmt *st = NULL;
    char hash[65], family[40] = "", token[64] = "";
    int64_t id = 0, user_id = 0;
    bool remember_me = false, used = false, revoked = false;
    time_t expires = 0;
    int r;

    if (!db)
        return -EIO;
    wgm_auth_sha256_hex(refresh_token, hash);
    if ((r = wgm_db_begin(db)) < 0)
        goto out;
    if ((r = wgm_db_prepare(db,
                            "SELECT t.id, t.user_id, t.family, t.remember_me, t.expires_at, t.used_at, t.revoked_at, u.status"
                            " FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                            &st)) < 0)
        goto out;
    wgm_stmt_bind_text(st, 1, hash);
    if ((r = wgm_stmt_step(st)) != WGM_DB_ROW) {
        r = r < 0 ? r : -ENOENT;
        goto out;
    }
    id = wgm_stmt_column_int(st, 0);
    user_id = wgm_stmt_column_int(st, 1);
    snprintf(family, sizeof(family), "%s", wgm_stmt_column_text(st, 2));
    remember_me = wgm_stmt_column_int(st, 3) != 0;
    expires = (time_t)wgm_stmt_column_int(st, 4);
    used = wgm_stmt_column_type(st, 5) != WGM_DB_NULL;
    revoked = wgm_stmt_column_type(st, 6) != WGM_DB_NULL || strcmp(wgm_stmt_column_text(st, 7), "active") != 0;
    wgm_stmt_free(st);
    st = NULL;
    if (revoked) {
        r = -EACCES;
        goto out;
    }
    if (used) {
        /* A rotated token came back: someone holds a copy.  End the family. */
        if ((r = revoke_family(db, family)) == 0 && (r = wgm_db_commit(db)) == 0)
            r = -EACCES;
        goto out;
    }
    if (expires < time(NULL)) {
        r = -ETIMEDOUT;
        goto out;
    }
    /* "used_at IS NULL" makes two concurrent refreshes race for one row:
     * only one changes it. */
    if ((r = wgm_db_prepare(db, "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL", &st)) < 0)
        goto out;
    wgm_stmt_bind_int(st, 1, time(NULL));
    wgm_stmt_bind_int(st, 2, id);
    if ((r = wgm_stmt_step(st)) < 0)
        goto out;
    if (wgm_stmt_changes(st) != 1) {
        r = -EACCES;
        goto out;
    }
    if ((r = insert_refresh(db, user_id, family, remember_me, refresh_expiry(d, remember_me), token)) < 0 ||
        (r = fill_tokens(d, user_id, token, out)) < 0 || (r = wgm_db_commit(db)) < 0)
        goto out;
    r = 0;
out:
    wgm_stmt_free(st);
    wgm_db_rollback(db);
    wgm_db_release(db);
    sodium_memzero(token, sizeof(token));
    return r;
}

/* Record @jti as revoked until @exp in the database (the truth every node
 * and every restart sees); rows past their expiry are pruned on the way. */
static int persist_revoked(struct wgm_db *db, const char *jti, time_t exp)
{
    struct wgm_stmt *st = NULL;
    int r;

    if ((r = wgm_db_prepare(db, "DELETE FROM revoked_tokens WHERE expires_at < ?", &st)) == 0) {
        wgm_stmt_bind_int(st, 1, time(NULL));
        r = wgm_stmt_step(st);
    }
    wgm_stmt_free(st);
    st = NULL;
    if (r < 0)
        return r;
    if ((r = wgm_db_prepare(db, "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?)", &st)) < 0)
        return r;
    wgm_stmt_bind_text(st, 1, jti);
    wgm_stmt_bind_int(st, 2, exp);
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    /* already revoked (a second logout with one token) is success */
    return r < 0 && r != WGM_DB_ECONSTRAINT ? r : 0;
}

int wgm_session_revoke_jti(struct wgm_daemon *d, struct wgm_db *db, const char *jti, time_t exp)
{
    char key[64];
    int r;

    if (!jti || !*jti || exp < time(NULL))
        return 0;
    if ((r = persist_revoked(db, jti, exp)) < 0)
        return r;
    /* The cache copy answers the guard without a query; losing it (Redis
     * down) costs a query, never the revocation. */
    snprintf(key, sizeof(key), "auth:revoked:%s", jti);
    wgm_cache_set(d->cache, key, "1", (unsigned)(exp - time(NULL)) + 1);
    return 0;
}

/* One statement with the binds (jti text, then integers) of the pending
 * failure count. */
static int pending_exec(struct wgm_db *db, const char *sql, const char *jti, int64_t a, int64_t b,
                        int64_t *column)
{
    struct wgm_stmt *st = NULL;
    int r, i = 1;

    if ((r = wgm_db_prepare(db, sql, &st)) < 0)
        return r;
    if (a != INT64_MIN)
        wgm_stmt_bind_int(st, i++, a);
    if (jti)
        wgm_stmt_bind_text(st, i++, jti);
    if (b != INT64_MIN)
        wgm_stmt_bind_int(st, i++, b);
    r = wgm_stmt_step(st);
    if (column && r == WGM_DB_ROW)
        *column = wgm_stmt_column_int(st, 0);
    else if (column && r >= 0)
        r = -ENOENT;
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}

int wgm_session_pending_failure(struct wgm_db *db, const char *jti, time_t exp, int64_t *failures)
{
    int r;

    if ((r = wgm_db_begin(db)) < 0)
        return r;
    /* Expired tokens' counts go, as revocations do.  The row is created
     * (a second node racing here gets the constraint, which is fine), then
     * one UPDATE adds the failure under the row's lock, and the count is
     * read back inside the same transaction. */
    r = pending_exec(db, "DELETE FROM pending_token_failures WHERE expires_at < ?", NULL, (int64_t)time(NULL),
                     INT64_MIN, NULL);
    if (r == 0) {
        r = pending_exec(db, "INSERT INTO pending_token_failures (jti, failures, expires_at) VALUES (?, 0, ?)", jti,
                         INT64_MIN, (int64_t)exp, NULL);
        if (r == WGM_DB_ECONSTRAINT)
            r = 0;
    }
    if (r == 0)
        r = pending_exec(db, "UPDATE pending_token_failures SET failures = failures + 1 WHERE jti = ?", jti,
                         INT64_MIN, INT64_MIN, NULL);
    if (r == 0)
        r = pending_exec(db, "SELECT failures FROM pending_token_failures WHERE jti = ?", jti, INT64_MIN,
                         INT64_MIN, failures);
    if (r == 0)
        r = wgm_db_commit(db);
    if (r < 0)
        wgm_db_rollback(db);
    return r;
}

int wgm_session_jti_revoked(struct wgm_daemon *d, struct wgm_db *db, const char *jti)
{
    struct wgm_stmt *st = NULL;
    char key[64], *val = NULL;
    int r;

    snprintf(key, sizeof(key), "auth:revoked:%s", jti);
    if (wgm_cache_get(d->cache, key, &val) == 0) {
        free(val);
        return 1;
    }
    if ((r = wgm_db_prepare(db, "SELECT 1 FROM revoked_tokens WHERE jti = ?", &st)) < 0)
        return r;
    wgm_stmt_bind_text(st, 1, jti);
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    return r < 0 ? r : r == WGM_DB_ROW;
}

int wgm_session_logout(struct wgm_daemon *d, const char *refresh_token, const char *jti, time_t jti_exp)
{
    struct wgm_db *db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    int r = 0;

    if (!db)
        return -EIO;
    if ((r = wgm_session_revoke_jti(d, db, jti, jti_exp)) < 0) {
        wgm_db_release(db);
        return r;
    }
    if (refresh_token && *refresh_token) {
        struct wgm_stmt *st = NULL;
        char hash[65];
        wgm_auth_sha256_hex(refresh_token, hash);
        if (wgm_db_prepare(db, "SELECT family FROM refresh_tokens WHERE token_hash = ?", &st) == 0) {
            wgm_stmt_bind_text(st, 1, hash);
            if (wgm_stmt_step(st) == WGM_DB_ROW) {
                char family[40];
                snprintf(family, sizeof(family), "%s", wgm_stmt_column_text(st, 0));
                wgm_stmt_free(st);
                st = NULL;
                r = revoke_family(db, family);
            }
        }
        wgm_stmt_free(st);
    }
    wgm_db_release(db);
    return r;
}

int wgm_session_revoke_user(struct wgm_daemon *d, struct wgm_db *db, int64_t user_id)
{
    struct wgm_stmt *st = NULL;
    struct timespec ts;
    int64_t now, now_ms;
    int r;

    (void)d;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = ts.tv_sec;
    /* Access tokens issued before this millisecond stop working. */
    now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
    if ((r = wgm_db_prepare(db, "UPDATE users SET tokens_valid_after = ? WHERE id = ?", &st)) < 0)
        return r;
    wgm_stmt_bind_int(st, 1, now_ms);
    wgm_stmt_bind_int(st, 2, user_id);
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    st = NULL;
    if (r < 0)
        return r;
    if ((r = wgm_db_prepare(db, "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                            &st)) < 0)
        return r;
    wgm_stmt_bind_int(st, 1, now);
    wgm_stmt_bind_int(st, 2, user_id);
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    st = NULL;
    if (r < 0)
        return r;
    /* API keys are credentials of the same person: a password change,
     * reset or deactivation ends them too (status as apikeys.c sets it on
     * DELETE).  A revoked key stays listed, and cannot come back. */
    if ((r = wgm_db_prepare(db, "UPDATE api_keys SET status = 'revoked' WHERE user_id = ? AND status = 'active'",
                            &st)) < 0)
        return r;
    wgm_stmt_bind_int(st, 1, user_id);
    r = wgm_stmt_step(st);
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}
