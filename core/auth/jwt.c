/* core/auth/jwt: issue and verify HS256 tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jwt.h>
#include <sodium.h>
#include "auth/jwt.h"
#include "validate.h"

#define ISSUER "wgm"
#define CLOCK_SKEW_S 30

static const char *const scope_names[] = {"full", "2fa", "password"};

char *wgm_jwt_issue(const unsigned char *key, size_t keylen, struct wgm_jwt_claims *c)
{
    jwt_t *j = NULL;
    char sub[24], *out = NULL;

    if (!key || keylen < 32)
        return NULL;
    if (!c->jti[0]) {
        unsigned char raw[16];
        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(c->jti, sizeof(c->jti), raw, sizeof(raw));
    }
    snprintf(sub, sizeof(sub), "%lld", (long long)c->user_id);
    if (jwt_new(&j) != 0)
        return NULL;
    if (jwt_add_grant(j, "iss", ISSUER) == 0 && jwt_add_grant(j, "sub", sub) == 0 &&
        jwt_add_grant(j, "jti", c->jti) == 0 && jwt_add_grant(j, "scope", scope_names[c->scope]) == 0 &&
        jwt_add_grant_int(j, "iat", (long)c->iat) == 0 && jwt_add_grant_int(j, "exp", (long)c->exp) == 0 &&
        jwt_add_grant_int(j, "ims", (long)c->iat_ms) == 0 &&
        jwt_set_alg(j, JWT_ALG_HS256, key, (int)keylen) == 0)
        out = jwt_encode_str(j);
    jwt_free(j);
    return out;
}

/* The header is checked before libjwt sees the token: only exactly
 * {"alg":"HS256", "typ":"JWT"} shapes get through. */
static int header_is_hs256(const char *token)
{
    const char *dot = strchr(token, '.');
    unsigned char buf[256];
    size_t len;
    json_t *h;
    int ok;

    if (!dot || dot == token || (size_t)(dot - token) > 300)
        return 0;
    if (sodium_base642bin(buf, sizeof(buf) - 1, token, (size_t)(dot - token), NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return 0;
    buf[len] = '\0';
    h = json_loadb((const char *)buf, len, 0, NULL);
    ok = h && json_is_string(json_object_get(h, "alg")) &&
         strcmp(json_string_value(json_object_get(h, "alg")), "HS256") == 0;
    json_decref(h);
    return ok;
}

/* The HS256 signature checked here, in constant time, before libjwt sees
 * the token: the guarantee does not rest on how a distribution's libjwt
 * compares MACs.  The signature must be exactly 32 bytes of canonical
 * unpadded base64url. */
static int signature_ok(const unsigned char *key, size_t keylen, const char *token)
{
    const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    unsigned char sig[crypto_auth_hmacsha256_BYTES + 1], mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t siglen = 0;
    const char *end = NULL;
    int ok;

    if (!dot2 || strchr(dot2 + 1, '.'))
        return 0;
    if (sodium_base642bin(sig, sizeof(sig), dot2 + 1, strlen(dot2 + 1), NULL, &siglen, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        siglen != crypto_auth_hmacsha256_BYTES || *end)
        return 0;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)token, (unsigned long long)(dot2 - token));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof(st));
    ok = sodium_memcmp(sig, mac, sizeof(mac)) == 0;
    sodium_memzero(mac, sizeof(mac));
    return ok;
}

int wgm_jwt_verify(const unsigned char *key, size_t keylen, const char *token, time_t now,
                   struct wgm_jwt_claims *out)
{
    jwt_t *j = NULL;
    const char *iss, *sub, *jti, *scope;
    long long uid;
    long iat, exp, ims;
    int r = -EINVAL;

    memset(out, 0, sizeof(*out));
    if (!key || keylen < 32 || !token || strlen(token) > 4096 || !header_is_hs256(token) ||
        !signature_ok(key, keylen, token))
        return -EINVAL;
    if (jwt_decode(&j, token, key, (int)keylen) != 0 || !j)
        return -EINVAL;
    if (jwt_get_alg(j) != JWT_ALG_HS256)
        goto out;
    iss = jwt_get_grant(j, "iss");
    sub = jwt_get_grant(j, "sub");
    jti = jwt_get_grant(j, "jti");
    scope = jwt_get_grant(j, "scope");
    errno = 0;
    iat = jwt_get_grant_int(j, "iat");
    if (errno)
        goto out;
    errno = 0;
    exp = jwt_get_grant_int(j, "exp");
    if (errno)
        goto out;
    errno = 0;
    ims = jwt_get_grant_int(j, "ims");
    if (errno)
        goto out;
    if (!iss || strcmp(iss, ISSUER) != 0 || !sub || !jti || strlen(jti) >= sizeof(out->jti) || !scope)
        goto out;
    if (wgm_in_parse_ll(sub, 1, INT64_MAX, &uid) < 0)
        goto out;
    out->user_id = uid;
    for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++) {
        if (strcmp(scope, scope_names[i]) == 0) {
            out->scope = (enum wgm_token_scope)i;
            r = 0;
        }
    }
    if (r < 0)
        goto out;
    snprintf(out->jti, sizeof(out->jti), "%s", jti);
    out->iat = (time_t)iat;
    out->iat_ms = ims;
    out->exp = (time_t)exp;
    if (iat > now + CLOCK_SKEW_S)
        r = -EINVAL;
    else if (exp < now)
        r = -ETIMEDOUT;
out:
    jwt_free(j);
    return r;
}
