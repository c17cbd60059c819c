/* core/auth/password: argon2id via libsodium, and the policy rules. */
#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "auth/password.h"

/* argon2id takes ~64 MiB and most of a core for a while: at most this many
 * run at once, so a login flood cannot occupy every HTTP worker.  0 means
 * no limit (unit tests, wgmd before wgm_password_limit). */
static atomic_uint slots_max;
static atomic_uint slots_used;
#define HASH_WAIT_MS 10000 /* a new hash (password change, reset) waits this long for a slot */

void wgm_password_limit(unsigned n) { atomic_store(&slots_max, n); }

static bool slot_try(void)
{
    unsigned max = atomic_load(&slots_max);
    if (max == 0)
        return true;
    if (atomic_fetch_add(&slots_used, 1) < max)
        return true;
    atomic_fetch_sub(&slots_used, 1);
    return false;
}

static void slot_release(void)
{
    if (atomic_load(&slots_max) != 0)
        atomic_fetch_sub(&slots_used, 1);
}

/* Wait up to HASH_WAIT_MS for a slot: hashing a new password is rare and
 * comes from a signed-in user, so it waits instead of failing at once. */
static bool slot_wait(void)
{
    struct timespec pause = {0, 10 * 1000000};
    for (int waited = 0; waited < HASH_WAIT_MS; waited += 10) {
        if (slot_try())
            return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

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
    int r = 0;

    if (outlen < crypto_pwhash_STRBYTES)
        return -ENOSPC;
    if (!slot_wait())
        return -EBUSY;
    if (crypto_pwhash_str_alg(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        r = -ENOMEM;
    slot_release();
    return r;
}

int wgm_password_verify(const char *hash, const char *password)
{
    int r;

    if (!slot_try())
        return -EBUSY;
    if (!hash) {
        pthread_once(&dummy_once, make_dummy_hash);
        /* The result is ignored on purpose: only the time spent matters. */
        if (crypto_pwhash_str_verify(dummy_hash, password, strlen(password)) == 0)
            r = -EACCES;
        else
            r = -EACCES;
    } else {
        r = crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 ? 0 : -EACCES;
    }
    slot_release();
    return r;
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
