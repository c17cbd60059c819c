/* core/auth/jwt: HS256 access tokens through libjwt 1.10.
 *
 * libjwt 1.10 does not pin the algorithm and skips verification with a
 * NULL key, so verification here: never passes a NULL/empty key, rejects
 * any header alg but HS256 before decoding, verifies the HMAC itself with
 * libsodium (constant time), checks the decoded alg, and validates
 * exp/iat/iss/typ by hand. */
#ifndef WGM_CORE_AUTH_JWT_H
#define WGM_CORE_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "auth/principal.h"

#define WGM_JWT_KEY_BYTES 64

struct wgm_jwt_claims {
    int64_t user_id;
    enum wgm_token_scope scope;
    char jti[40];
    time_t iat, exp;
    int64_t iat_ms; /* issue time in ms: revocation compares at this precision */
};

/* A new signed token for @c (jti filled in when empty).  New: free(). */
char *wgm_jwt_issue(const unsigned char *key, size_t keylen, struct wgm_jwt_claims *c);
/* 0 and the claims, or -EINVAL (malformed, wrong signature, wrong alg,
 * wrong issuer) or -ETIMEDOUT (expired; claims still filled). */
int wgm_jwt_verify(const unsigned char *key, size_t keylen, const char *token, time_t now,
                   struct wgm_jwt_claims *out);

#endif
