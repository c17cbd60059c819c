/* core/auth/password: argon2id via libsodium, and the policy rules. */
#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "auth/password.h"

/* Hash of a random password, verified against when the user does not
 * exist so both paths take the same time. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy_hash(void)
{
    char random_pw[33];
    unsigned char raw[16];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(random_pw, sizeof(random_pw), raw, sizeof(raw));
    if (crypto_pwhash_str_alg(dummy_hash, random_pw, strlen(random_pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        dummy_hash[0] = '\0';
}

int wgm_password_hash(const char *password, char *out, size_t outlen)
{
    if (outlen < crypto_pwhash_STRBYTES)
        return -ENOSPC;
    if (crypto_pwhash_str_alg(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return -ENOMEM;
    return 0;
}

int wgm_password_verify(const char *hash, const char *password)
{
    if (!hash) {
        pthread_once(&dummy_once, make_dummy_hash);
        /* The result is ignored on purpose: only the time spent matters. */
        if (crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
            return -EACCES;
        return -EACCES;
    }
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? 0 : -EACCES;
}

int wgm_password_check(const struct wgm_password_policy *p, const char *password, char *why, size_t whylen)
{
    size_t len = strlen(password);
    bool upper = false, lower = false, digit = false, special = false;

    if (len < p->min_length) {
        snprintf(why, whylen, "must be at least %u characters", p->min_length);
        return -EINVAL;
    }
    if (len > 1024) {
        snprintf(why, whylen, "must be at most 1024 characters");
        return -EINVAL;
    }
    for (const unsigned char *c = (const unsigned char *)password; *c; c++) {
        if (isupper(*c))
            upper = true;
        else if (islower(*c))
            lower = true;
        else if (isdigit(*c))
            digit = true;
        else
            special = true; /* punctuation, spaces and non-ASCII all count */
    }
    if (p->require_uppercase && !upper)
        snprintf(why, whylen, "must contain an upper-case letter");
    else if (p->require_lowercase && !lower)
        snprintf(why, whylen, "must contain a lower-case letter");
    else if (p->require_digits && !digit)
        snprintf(why, whylen, "must contain a digit");
    else if (p->require_special && !special)
        snprintf(why, whylen, "must contain a special character");
    else
        return 0;
    return -EINVAL;
}
