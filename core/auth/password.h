/* core/auth/password: argon2id hashing and the password policy. */
#ifndef WGM_CORE_AUTH_PASSWORD_H
#define WGM_CORE_AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

struct wgm_password_policy {
    unsigned min_length;
    bool require_uppercase, require_lowercase, require_digits, require_special;
    unsigned max_age_days; /* 0: passwords never expire */
};

/* At most @n hashes or verifications run at once (0: no limit). */
void wgm_password_limit(unsigned n);
/* argon2id (libsodium's interactive limits) into @out (crypto_pwhash_STRBYTES).
 * Waits a bounded time for a slot; -EBUSY when none came free. */
int wgm_password_hash(const char *password, char *out, size_t outlen);
/* 0 when @password matches @hash; -EACCES otherwise; -EBUSY at once when
 * every slot is taken (the caller answers 503, nothing is counted).
 * Constant time in the password; a NULL @hash still spends one
 * verification so a missing user costs what a wrong password costs. */
int wgm_password_verify(const char *hash, const char *password);
/* 0, or -EINVAL with the first rule broken in @why. */
int wgm_password_check(const struct wgm_password_policy *p, const char *password, char *why, size_t whylen);

#endif
