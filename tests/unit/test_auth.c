/* Pure auth logic: JWT issue/verify against libjwt 1.10's pitfalls,
 * argon2id and the password policy, permission matching. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <jwt.h>
#include <sodium.h>
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/principal.h"
#include "auth/users.h"
#include "tap.h"

static unsigned char key[WGM_JWT_KEY_BYTES], other[WGM_JWT_KEY_BYTES];

/* A token signed by libjwt itself with any algorithm and claims. */
static char *raw_token(jwt_alg_t alg, const unsigned char *k, size_t klen, long exp, const char *scope)
{
    jwt_t *j;
    char *out;
    jwt_new(&j);
    jwt_add_grant(j, "iss", "wgm");
    jwt_add_grant(j, "sub", "7");
    jwt_add_grant(j, "jti", "abc");
    jwt_add_grant(j, "scope", scope);
    jwt_add_grant_int(j, "iat", (long)time(NULL));
    jwt_add_grant_int(j, "ims", (long)time(NULL) * 1000);
    jwt_add_grant_int(j, "exp", exp);
    jwt_set_alg(j, alg, k, (int)klen);
    out = jwt_encode_str(j);
    jwt_free(j);
    return out;
}

static void test_jwt(void)
{
    struct wgm_jwt_claims c = {.user_id = 7, .scope = WGM_SCOPE_2FA_PENDING}, out;
    time_t now = time(NULL);
    char *tok, *t;

    c.iat = now;
    c.iat_ms = (int64_t)now * 1000 + 5;
    c.exp = now + 60;
    tok = wgm_jwt_issue(key, sizeof(key), &c);
    ok(tok != NULL, "issue");
    ok(strlen(c.jti) == 32, "jti filled in");
    is_int(wgm_jwt_verify(key, sizeof(key), tok, now, &out), 0, "verify own token");
    ok(out.user_id == 7 && out.scope == WGM_SCOPE_2FA_PENDING && out.iat_ms == c.iat_ms && !strcmp(out.jti, c.jti),
       "claims round-trip");
    is_int(wgm_jwt_verify(other, sizeof(other), tok, now, &out), -EINVAL, "wrong key refused");
    is_int(wgm_jwt_verify(key, sizeof(key), tok, now + 120, &out), -ETIMEDOUT, "expired reported as such");
    is_int(wgm_jwt_verify(NULL, 0, tok, now, &out), -EINVAL, "NULL key never verifies (libjwt would skip)");
    is_int(wgm_jwt_verify(key, 8, tok, now, &out), -EINVAL, "short key refused");
    ok(wgm_jwt_issue(NULL, 0, &c) == NULL, "no issuing without a key");
    tok[strlen(tok) - 2] ^= 1;
    is_int(wgm_jwt_verify(key, sizeof(key), tok, now, &out), -EINVAL, "tampered signature refused");
    free(tok);

    t = raw_token(JWT_ALG_HS384, key, sizeof(key), now + 60, "full");
    is_int(wgm_jwt_verify(key, sizeof(key), t, now, &out), -EINVAL, "HS384 with the same secret refused (alg pinned)");
    free(t);
    t = raw_token(JWT_ALG_HS512, key, sizeof(key), now + 60, "full");
    is_int(wgm_jwt_verify(key, sizeof(key), t, now, &out), -EINVAL, "HS512 refused");
    free(t);
    t = raw_token(JWT_ALG_NONE, NULL, 0, now + 60, "full");
    ok(t != NULL, "alg none token made");
    is_int(wgm_jwt_verify(key, sizeof(key), t, now, &out), -EINVAL, "alg none refused");
    free(t);
    t = raw_token(JWT_ALG_HS256, key, sizeof(key), now + 60, "root");
    is_int(wgm_jwt_verify(key, sizeof(key), t, now, &out), -EINVAL, "unknown scope refused");
    free(t);
    t = raw_token(JWT_ALG_HS256, key, sizeof(key), now + 60, "full");
    is_int(wgm_jwt_verify(key, sizeof(key), t, now, &out), 0, "libjwt-made HS256 token with our claims accepted");
    free(t);
    is_int(wgm_jwt_verify(key, sizeof(key), "", now, &out), -EINVAL, "empty token");
    is_int(wgm_jwt_verify(key, sizeof(key), "a.b.c", now, &out), -EINVAL, "garbage token");
    is_int(wgm_jwt_verify(key, sizeof(key), "eyJhbGciOiJIUzI1NiJ9", now, &out), -EINVAL, "header only");
}

/* Our own HS256 check: a signature is accepted only when it is exactly the
 * HMAC of header.payload under the key, in canonical encoding. */
static void test_jwt_signature(void)
{
    struct wgm_jwt_claims c = {.user_id = 7, .scope = WGM_SCOPE_FULL}, out;
    time_t now = time(NULL);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    char *tok, buf[4200], b64[64];
    size_t n;
    char *sig;

    c.iat = now;
    c.iat_ms = (int64_t)now * 1000;
    c.exp = now + 60;
    tok = wgm_jwt_issue(key, sizeof(key), &c);
    sig = strrchr(tok, '.') + 1;
    n = strlen(tok);

    /* the payload changed, the signature kept */
    snprintf(buf, sizeof(buf), "%s", tok);
    buf[strchr(buf, '.') - buf + 3] ^= 1;
    is_int(wgm_jwt_verify(key, sizeof(key), buf, now, &out), -EINVAL, "tampered payload refused");
    /* each signature byte matters */
    {
        int accepted = 0, probed = 0;
        for (size_t i = 0; i + 1 < strlen(sig); i += 7, probed++) {
            snprintf(buf, sizeof(buf), "%s", tok);
            buf[(size_t)(sig - tok) + i] = buf[(size_t)(sig - tok) + i] == 'A' ? 'B' : 'A';
            accepted += wgm_jwt_verify(key, sizeof(key), buf, now, &out) != -EINVAL;
        }
        ok(probed >= 6 && accepted == 0, "every probed signature character is checked (%d probed)", probed);
    }
    /* the last of 43 characters carries 2 bits and 4 padding bits: other
     * padding bits decode to the same bytes, and are still refused */
    snprintf(buf, sizeof(buf), "%s", tok);
    {
        static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t idx = (size_t)(strchr(alpha, buf[n - 1]) - alpha);
        buf[n - 1] = alpha[idx ^ 1];
    }
    is_int(wgm_jwt_verify(key, sizeof(key), buf, now, &out), -EINVAL, "non-canonical signature encoding refused");
    snprintf(buf, sizeof(buf), "%s=", tok);
    is_int(wgm_jwt_verify(key, sizeof(key), buf, now, &out), -EINVAL, "padded signature refused");
    snprintf(buf, sizeof(buf), "%.*s", (int)(n - 2), tok);
    is_int(wgm_jwt_verify(key, sizeof(key), buf, now, &out), -EINVAL, "truncated signature refused");
    snprintf(buf, sizeof(buf), "%s.x", tok);
    is_int(wgm_jwt_verify(key, sizeof(key), buf, now, &out), -EINVAL, "a fourth segment refused");
    snprintf(buf, sizeof(buf), "%.*s", (int)(sig - tok), tok);
    is_int(wgm_jwt_verify(key, sizeof(key), buf, now, &out), -EINVAL, "empty signature refused");

    /* the signature recomputed independently over header.payload verifies */
    crypto_auth_hmacsha256_init(&st, key, sizeof(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok, (unsigned long long)(sig - 1 - tok));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    is_str(sig, b64, "the signature is HMAC-SHA256(key, header.payload)");
    snprintf(buf, sizeof(buf), "%.*s%s", (int)(sig - tok), tok, b64);
    is_int(wgm_jwt_verify(key, sizeof(key), buf, now, &out), 0, "a recomputed signature verifies");
    free(tok);
}

static void test_password(void)
{
    struct wgm_password_policy p = {12, true, true, true, true, 90};
    char hash[256], why[128];

    is_int(wgm_password_hash("Correct-Horse-9", hash, sizeof(hash)), 0, "hash");
    ok(strncmp(hash, "$argon2id$", 10) == 0, "argon2id: %.20s", hash);
    is_int(wgm_password_verify(hash, "Correct-Horse-9"), 0, "right password");
    is_int(wgm_password_verify(hash, "Correct-Horse-8"), -EACCES, "wrong password");
    is_int(wgm_password_verify(NULL, "anything"), -EACCES, "no user: refused, after the same work");
    is_int(wgm_password_check(&p, "Correct-Horse-9", why, sizeof(why)), 0, "policy met");
    is_int(wgm_password_check(&p, "Sh0rt!", why, sizeof(why)), -EINVAL, "too short");
    ok(strstr(why, "12") != NULL, "reason names the length: %s", why);
    is_int(wgm_password_check(&p, "no-upper-case-9", why, sizeof(why)), -EINVAL, "needs upper case");
    is_int(wgm_password_check(&p, "NO-LOWER-CASE-9", why, sizeof(why)), -EINVAL, "needs lower case");
    is_int(wgm_password_check(&p, "No-Digits-Here!", why, sizeof(why)), -EINVAL, "needs a digit");
    is_int(wgm_password_check(&p, "NoSpecialChars99", why, sizeof(why)), -EINVAL, "needs a special character");
    p.require_special = false;
    is_int(wgm_password_check(&p, "NoSpecialChars99", why, sizeof(why)), 0, "rules follow the policy");
}

static void test_permissions(void)
{
    struct wgm_principal p = {.via = WGM_AUTH_JWT, .scope = WGM_SCOPE_FULL};
    p.permissions = json_pack("[s,s]", "wireguard.*", "bgp.view");
    ok(wgm_principal_can(&p, "wireguard.edit"), "prefix grant");
    ok(!wgm_principal_can(&p, "wireguardx.view"), "prefix stops at the dot");
    ok(wgm_principal_can(&p, "bgp.view") && !wgm_principal_can(&p, "bgp.edit"), "exact grant only");
    ok(wgm_principal_can(&p, WGM_PERM_SELF), "self for any full principal");
    p.scope = WGM_SCOPE_2FA_PENDING;
    ok(!wgm_principal_can(&p, "bgp.view") && !wgm_principal_can(&p, WGM_PERM_SELF), "pending scope can nothing");
    p.scope = WGM_SCOPE_FULL;
    wgm_principal_clear(&p);
    ok(!wgm_principal_can(&p, WGM_PERM_SELF), "cleared principal can nothing");
    p.via = WGM_AUTH_API_KEY;
    p.permissions = json_pack("[s]", "*");
    ok(wgm_principal_can(&p, "anything.at_all"), "star grants all");
    wgm_principal_clear(&p);

    ok(wgm_permission_valid("*") && wgm_permission_valid("wireguard.view") && wgm_permission_valid("ipv6.*"),
       "valid permission strings");
    ok(!wgm_permission_valid("Wireguard.view") && !wgm_permission_valid("view") && !wgm_permission_valid("a..b") &&
           !wgm_permission_valid("a.*.b") && !wgm_permission_valid("a.") && !wgm_permission_valid(""),
       "invalid permission strings");
    json_t *e = wgm_effective_permissions("admin", NULL);
    ok(json_array_size(e) == 1 && !strcmp(json_string_value(json_array_get(e, 0)), "*"), "admin is *");
    json_decref(e);
    json_t *grants = json_pack("[s]", "bgp.edit");
    e = wgm_effective_permissions("user", grants);
    char *s = json_dumps(e, JSON_COMPACT);
    ok(strstr(s, "wireguard.view") && strstr(s, "bgp.edit") && !strstr(s, "users.view"),
       "user defaults plus grants: %s", s);
    free(s);
    json_decref(e);
    json_decref(grants);
    ok(wgm_role_valid("manager") && !wgm_role_valid("root") && !wgm_role_valid(NULL), "roles");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(other, sizeof(other));
    test_jwt();
    test_jwt_signature();
    test_password();
    test_permissions();
    return done_testing();
}
