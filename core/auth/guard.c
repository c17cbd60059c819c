/* core/auth/guard: runs before every handler.
 *
 *   0. with security.enable_ip_whitelist, refuse any other client address
 *      (before credentials are even looked at);
 *   1. identify: Authorization: Bearer <JWT | ak_...>, X-API-Key, or for the
 *      WebSocket ?token= (browsers cannot set headers there);
 *   2. rate limit: per user, per API key, or per client IP;
 *   3. authorize: the route's permission, the token's scope, and an API
 *      key's own restrictions (source address, endpoints, read-only).
 * Public routes ignore bad credentials rather than refusing: a stale
 * header must not stop someone from logging in. */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/netaddr.h"
#include "auth/users.h"
#include "cache/cache.h"
#include "cache/ratelimit.h"
#include "daemon.h"
#include "db/db.h"
#include "http/request.h"
#include "logs/audit.h"
#include "sysconfig.h"

struct failure {
    const char *code, *message;
};

static const char *bearer(struct wgm_request *r)
{
    const char *h = wgm_req_header_impl(&r->pub, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static int auth_jwt(struct wgm_daemon *d, const char *token, struct wgm_principal *p, struct failure *f)
{
    struct wgm_jwt_claims c;
    size_t keylen;
    const unsigned char *key = wgm_auth_jwt_key(d, &keylen);
    struct wgm_db *db;
    int r = wgm_jwt_verify(key, keylen, token, time(NULL), &c);

    if (r == -ETIMEDOUT) {
        *f = (struct failure){"TOKEN_EXPIRED", "access token has expired"};
        return r;
    }
    if (r < 0) {
        *f = (struct failure){"TOKEN_INVALID", "access token is not valid"};
        return r;
    }
    db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    if (!db) {
        *f = (struct failure){"SERVICE_UNAVAILABLE", "database unavailable"};
        return -EIO;
    }
    /* Revocations live in the database (session.c), cached. */
    if ((r = wgm_session_jti_revoked(d, db, c.jti)) != 0) {
        wgm_db_release(db);
        *f = r > 0 ? (struct failure){"TOKEN_INVALID", "access token was revoked"}
                   : (struct failure){"SERVICE_UNAVAILABLE", "database unavailable"};
        return r > 0 ? -EACCES : -EIO;
    }
    r = wgm_user_principal(db, c.user_id, c.iat_ms, p);
    wgm_db_release(db);
    if (r == -EIO || r == WGM_DB_ERECONNECT) {
        *f = (struct failure){"SERVICE_UNAVAILABLE", "database unavailable"};
        return -EIO;
    }
    if (r < 0) {
        *f = (struct failure){"TOKEN_INVALID", "the session has ended"};
        return r;
    }
    p->via = WGM_AUTH_JWT;
    p->scope = c.scope;
    snprintf(p->token_id, sizeof(p->token_id), "%s", c.jti);
    return 0;
}

/* An API key's own limits; 0 or a reason for 403. */
static const char *key_restriction(struct wgm_request *r, json_t *restrictions)
{
    json_t *ips = json_object_get(restrictions, "allowed_ips");
    json_t *eps = json_object_get(restrictions, "allowed_endpoints");
    const char *level = json_string_value(json_object_get(restrictions, "access_level"));
    size_t i;
    json_t *v;
    bool ok;

    if (json_array_size(ips) > 0) {
        ok = false;
        /* An entry that does not parse (stored before parsing was strict)
         * matches nothing: fail closed. */
        json_array_foreach(ips, i, v) ok = ok || wgm_cidr_match_text(json_string_value(v), r->client_ip);
        if (!ok)
            return "this API key may not be used from this address";
    }
    if (json_array_size(eps) > 0) {
        ok = false;
        /* No FNM_PATHNAME, so a trailing star covers every path below it. */
        json_array_foreach(eps, i, v) ok = ok || fnmatch(json_string_value(v), r->path, 0) == 0;
        if (!ok)
            return "this API key may not call this endpoint";
    }
    if (level && strcmp(level, "read") == 0 && strcmp(r->method, "GET") != 0)
        return "this API key is read-only";
    return NULL;
}

/* The client address is in security.ip_whitelist (IPv4-mapped peers as
 * IPv4); an address that does not parse is not. */
static bool whitelisted(const struct wgm_sysconfig *cfg, const char *ip)
{
    struct wgm_addr a;

    if (wgm_addr_parse(ip, &a) < 0)
        return false;
    for (unsigned i = 0; i < cfg->n_ip_whitelist; i++)
        if (wgm_cidr_contains(&cfg->ip_whitelist[i], &a))
            return true;
    return false;
}

static int add_guard_header(void *arg, const char *name, const char *value)
{
    return wgm_response_guard_header(arg, name, value);
}

static void refuse(struct wgm_request *r, unsigned status, const char *code, const char *message, json_t *details)
{
    wgm_response_clear(&r->resp);
    wgm_resp_error_impl(&r->resp.pub, status, code, message, details);
}

int wgm_auth_guard(void *arg, struct wgm_request *r)
{
    struct wgm_daemon *d = arg;
    const char *perm = r->match.permission, *tok = bearer(r), *key = wgm_req_header_impl(&r->pub, "X-API-Key");
    struct failure fail = {"TOKEN_INVALID", "authentication required"};
    json_t *restrictions = NULL;
    struct wgm_sysconfig cfg;
    int rc = 0;

    wgm_sysconfig_get(d, &cfg);
    if (cfg.enable_ip_whitelist && !whitelisted(&cfg, r->client_ip)) {
        refuse(r, 403, "INSUFFICIENT_PERMISSIONS", "this address may not use the API",
               json_pack("{s:s,s:s}", "reason", "ip_not_whitelisted", "client_ip", r->client_ip));
        return 1;
    }
    if (!key && tok && strncmp(tok, "ak_", 3) == 0) {
        key = tok;
        tok = NULL;
    }
    if (tok && strncmp(tok, "rt_", 3) == 0)
        tok = NULL; /* a refresh token, for /auth/refresh's handler */
    if (!key && !tok && r->match.template && strcmp(r->match.template, "/ws/connect") == 0) {
        const char *q = wgm_req_query_impl(&r->pub, "token");
        if (q && strncmp(q, "ak_", 3) == 0)
            key = q;
        else
            tok = q;
    }
    if (key) {
        int ar = wgm_apikey_authenticate(d, key, &r->principal, &restrictions);
        if (ar == 0)
            r->authenticated = true;
        else if (ar == -ETIMEDOUT)
            fail = (struct failure){"TOKEN_EXPIRED", "API key has expired"};
        else if (ar == -EIO)
            fail = (struct failure){"SERVICE_UNAVAILABLE", "database unavailable"};
        else
            fail = (struct failure){"TOKEN_INVALID", "API key is not valid"};
    } else if (tok) {
        r->authenticated = auth_jwt(d, tok, &r->principal, &fail) == 0;
    }
    if (!r->authenticated)
        wgm_principal_clear(&r->principal);

    if (cfg.enable_rate_limiting) {
        struct wgm_ratelimit rl;
        struct wgm_ratelimit_bucket b[2];
        char key_subject[64], user_subject[64], ip_subject[96];
        size_t n = 1;
        /* Every request of a user, by token or by any of their keys, draws
         * from the user's bucket; a key's own bucket comes on top, so keys
         * can narrow the owner's budget but never widen it. */
        snprintf(user_subject, sizeof(user_subject), "user:%lld", (long long)r->principal.user_id);
        if (r->authenticated && r->principal.via == WGM_AUTH_API_KEY) {
            snprintf(key_subject, sizeof(key_subject), "key:%s", r->principal.api_key_id);
            b[0] = (struct wgm_ratelimit_bucket){key_subject, r->principal.rate_per_minute, r->principal.rate_burst};
            b[1] = (struct wgm_ratelimit_bucket){user_subject, cfg.api_rate_limit, 0};
            n = 2;
        } else if (r->authenticated) {
            b[0] = (struct wgm_ratelimit_bucket){user_subject, cfg.api_rate_limit, 0};
        } else {
            wgm_ratelimit_ip_subject(r->client_ip, ip_subject, sizeof(ip_subject));
            b[0] = (struct wgm_ratelimit_bucket){ip_subject, cfg.anonymous_rate_limit, 0};
        }
        if (wgm_ratelimit_check_all(d->cache, b, n, &rl) == 0) {
            wgm_ratelimit_headers(&rl, add_guard_header, &r->resp);
            if (!rl.allowed) {
                refuse(r, 429, "RATE_LIMIT_EXCEEDED", "rate limit exceeded", wgm_ratelimit_details(&rl));
                rc = 1;
                goto out;
            }
        }
    }

    if (!perm || !r->match.handler)
        goto out; /* public, or no route: the pipeline answers 404/405 */
    if (!r->authenticated) {
        refuse(r, strcmp(fail.code, "SERVICE_UNAVAILABLE") == 0 ? 503 : 401, fail.code, fail.message,
               json_pack("{s:s}", "permission", perm));
        rc = 1;
        goto out;
    }
    {
        const struct wgm_principal *p = &r->principal;
        const char *why = NULL, *reason = NULL;
        if (strcmp(perm, WGM_PERM_2FA) == 0) {
            if (p->scope != WGM_SCOPE_2FA_PENDING)
                why = "this endpoint takes the token returned by login", reason = "2fa_not_pending";
        } else if (p->scope == WGM_SCOPE_2FA_PENDING) {
            why = "two-factor verification required", reason = "2fa_required";
        } else if (strcmp(perm, WGM_PERM_PASSWORD) == 0) {
            if (p->via != WGM_AUTH_JWT)
                why = "needs a signed-in user", reason = "session_required";
        } else if (p->scope == WGM_SCOPE_PASSWORD) {
            why = "the password must be changed first", reason = "password_change_required";
        } else if (strcmp(perm, WGM_PERM_SESSION) == 0) {
            if (p->via != WGM_AUTH_JWT)
                why = "needs a signed-in user, not an API key", reason = "session_required";
        } else if (!wgm_principal_can(p, perm)) {
            why = "insufficient permissions", reason = "missing_permission";
        }
        if (!why && p->via == WGM_AUTH_API_KEY && (why = key_restriction(r, restrictions)))
            reason = "api_key_restriction";
        if (why) {
            refuse(r, 403, "INSUFFICIENT_PERMISSIONS", why, json_pack("{s:s,s:s}", "required", perm, "reason", reason));
            rc = 1;
            goto out;
        }
    }
    if (r->principal.via == WGM_AUTH_API_KEY)
        wgm_apikey_touch(d, r->principal.api_key_id);
out:
    json_decref(restrictions);
    return rc;
}

void wgm_auth_after(void *arg, struct wgm_request *r)
{
    struct wgm_daemon *d = arg;
    struct wgm_sysconfig cfg;

    wgm_sysconfig_get(d, &cfg);
    if (cfg.enable_audit_logging)
        wgm_audit_request(d, r);
}
