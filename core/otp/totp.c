/* core/otp/totp: RFC 6238 over liboath, plus base32 and the key URI. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <liboath/oath.h>
#include <sodium.h>
#include "totp.h"

#define MAX_PERIOD 3600u
#define MAX_WINDOW 10u

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static int libs_rc;

/* oath_init() and sodium_init() touch global state; run them exactly once
 * whichever thread gets here first.  oath_done() is never called: the
 * library stays usable for the life of the process. */
static void libs_init(void)
{
    if (sodium_init() < 0 || oath_init() != OATH_OK)
        libs_rc = -EIO;
}

static int otp_ready(void)
{
    int r = pthread_once(&libs_once, libs_init);
    return r ? -r : libs_rc;
}

static bool cfg_valid(const struct wgm_totp_cfg *c)
{
    return (c->alg == WGM_TOTP_SHA1 || c->alg == WGM_TOTP_SHA256 || c->alg == WGM_TOTP_SHA512) &&
           (c->digits == 6 || c->digits == 8) && c->period >= 1 && c->period <= MAX_PERIOD &&
           c->window <= MAX_WINDOW;
}

/* ---- base32 ------------------------------------------------------------ */

int wgm_base32_encode(const void *data, size_t len, char **out)
{
    const unsigned char *p = data;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    char *s;

    if (!out || (!data && len))
        return -EINVAL;
    *out = NULL;
    if (len > (SIZE_MAX - 1) / 2)
        return -ENOMEM;
    /* 8 characters per 5 bytes, the last group rounded up. */
    s = malloc(len / 5 * 8 + (len % 5 * 8 + 4) / 5 + 1);
    if (!s)
        return -ENOMEM;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            s[n++] = b32_alphabet[(acc >> bits) & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits)
        s[n++] = b32_alphabet[(acc << (5 - bits)) & 31];
    s[n] = '\0';
    *out = s;
    return 0;
}

static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int wgm_base32_decode(const char *in, void *out, size_t size, size_t *outlen)
{
    unsigned char *o = out;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0, nchars = 0, npad = 0;
    int r = 0;

    if (!in || !outlen || (!out && size))
        return -EINVAL;
    *outlen = 0;
    for (const char *p = in; *p; p++) {
        int v;
        if (*p == ' ')
            continue;
        if (*p == '=') {
            npad++;
            continue;
        }
        v = b32_value(*p);
        if (v < 0 || npad) { /* '=' only at the end */
            r = -EINVAL;
            goto out;
        }
        nchars++;
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if (n == size) {
                r = -ENOBUFS;
                goto out;
            }
            o[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* 1, 3 or 6 characters in the last group cannot come from whole bytes;
     * padding, when present, must complete that group. */
    if (nchars % 8 == 1 || nchars % 8 == 3 || nchars % 8 == 6 || (npad && (nchars + npad) % 8 != 0) ||
        npad > 6)
        r = -EINVAL;
out:
    sodium_memzero(&acc, sizeof(acc));
    if (r < 0)
        sodium_memzero(out, n);
    else
        *outlen = n;
    return r;
}

/* ---- codes ------------------------------------------------------------- */

int wgm_totp_secret_new(char **base32)
{
    unsigned char raw[WGM_TOTP_SECRET_BYTES];
    int r;

    if (!base32)
        return -EINVAL;
    *base32 = NULL;
    if ((r = otp_ready()) < 0)
        return r;
    randombytes_buf(raw, sizeof(raw));
    r = wgm_base32_encode(raw, sizeof(raw), base32);
    sodium_memzero(raw, sizeof(raw));
    return r;
}

char *wgm_totp_secret_free(char *base32)
{
    if (base32) {
        sodium_memzero(base32, strlen(base32));
        free(base32);
    }
    return NULL;
}

/* The code of one time step.  liboath takes a time, not a step, so hand
 * it the first second of the step. */
static int code_at_step(const void *key, size_t keylen, int64_t step, const struct wgm_totp_cfg *c,
                        char code[WGM_TOTP_CODE_MAX])
{
    int flags = c->alg == WGM_TOTP_SHA256 ? OATH_TOTP_HMAC_SHA256
                : c->alg == WGM_TOTP_SHA512 ? OATH_TOTP_HMAC_SHA512
                                            : 0;
    int r;

    if (step < 0 || step > INT64_MAX / c->period)
        return -EINVAL;
    r = oath_totp_generate2(key, keylen, (time_t)(step * c->period), c->period, OATH_TOTP_DEFAULT_START_TIME,
                            c->digits, flags, code);
    if (r == OATH_INVALID_DIGITS)
        return -EINVAL;
    return r == OATH_OK ? 0 : -EIO;
}

int wgm_totp_code(const void *key, size_t keylen, time_t t, const struct wgm_totp_cfg *cfg,
                  char code[WGM_TOTP_CODE_MAX])
{
    const struct wgm_totp_cfg c = cfg ? *cfg : WGM_TOTP_DEFAULTS;
    int r;

    if (!key || !keylen || !code || t < 0 || !cfg_valid(&c))
        return -EINVAL;
    if ((r = otp_ready()) < 0)
        return r;
    return code_at_step(key, keylen, (int64_t)t / c.period, &c, code);
}

int wgm_totp_verify(const void *key, size_t keylen, time_t now, const char *code,
                    const struct wgm_totp_cfg *cfg, int64_t last_used_step, int64_t *matched_step)
{
    const struct wgm_totp_cfg c = cfg ? *cfg : WGM_TOTP_DEFAULTS;
    char want[WGM_TOTP_CODE_MAX];
    int64_t cur, fresh = -1;
    bool stale = false;
    size_t len;
    int r;

    if (!key || !keylen || !code || !matched_step || now < 0 || !cfg_valid(&c))
        return -EINVAL;
    len = strnlen(code, c.digits + 1);
    if (len != c.digits)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9')
            return -EINVAL;
    if ((r = otp_ready()) < 0)
        return r;

    /* Nearest step first, so a fresh match closest to now wins; every step
     * of the window is computed and compared so timing says nothing. */
    cur = (int64_t)now / c.period;
    for (unsigned i = 0; i <= 2 * c.window; i++) {
        int64_t step;
        bool match;

        if (!(i & 1) && cur > INT64_MAX - (int64_t)i / 2)
            continue;
        step = (i & 1) ? cur - (int64_t)(i + 1) / 2 : cur + (int64_t)i / 2;

        if (step < 0)
            continue;
        r = code_at_step(key, keylen, step, &c, want);
        if (r == -EINVAL) /* beyond representable time: nothing to match */
            continue;
        if (r < 0)
            goto out;
        match = sodium_memcmp(want, code, c.digits) == 0;
        if (match && step > last_used_step && fresh < 0)
            fresh = step;
        else if (match && step <= last_used_step)
            stale = true;
    }
    if (fresh >= 0) {
        *matched_step = fresh;
        r = 0;
    } else {
        r = stale ? -EALREADY : -EACCES;
    }
out:
    sodium_memzero(want, sizeof(want));
    return r;
}

/* ---- key URI ------------------------------------------------------------ */

/* RFC 3986 unreserved characters pass; everything else becomes %XX.  In
 * the label '@' is a legal path character and stays readable. */
static char *pct_encode(char *dst, const char *src, bool keep_at)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~' || (keep_at && *p == '@')) {
            *dst++ = (char)*p;
        } else {
            *dst++ = '%';
            *dst++ = hex[*p >> 4];
            *dst++ = hex[*p & 15];
        }
    }
    *dst = '\0';
    return dst;
}

int wgm_totp_uri(const char *issuer, const char *account, const char *secret_b32,
                 const struct wgm_totp_cfg *cfg, char **uri)
{
    const struct wgm_totp_cfg c = cfg ? *cfg : WGM_TOTP_DEFAULTS;
    static const char *const alg_names[] = {"SHA1", "SHA256", "SHA512"};
    size_t ilen, alen, slen, cap;
    char *s, *p;

    if (!uri)
        return -EINVAL;
    *uri = NULL;
    if (!issuer)
        issuer = "";
    if (!account || !*account || strchr(account, ':') || strchr(issuer, ':') || !secret_b32 || !*secret_b32 ||
        !cfg_valid(&c))
        return -EINVAL;
    for (const char *q = secret_b32; *q; q++)
        if (!strchr(b32_alphabet, *q))
            return -EINVAL;
    ilen = strlen(issuer);
    alen = strlen(account);
    slen = strlen(secret_b32);
    if (ilen > 4096 || alen > 4096 || slen > 4096)
        return -EINVAL;
    /* Each label/issuer byte takes at most 3 characters; issuer appears twice. */
    cap = 128 + 6 * ilen + 3 * alen + slen;
    if (!(s = malloc(cap)))
        return -ENOMEM;
    p = s + sprintf(s, "otpauth://totp/");
    if (*issuer) {
        p = pct_encode(p, issuer, true);
        *p++ = ':';
    }
    p = pct_encode(p, account, true);
    p += sprintf(p, "?secret=%s", secret_b32);
    if (*issuer) {
        p += sprintf(p, "&issuer=");
        p = pct_encode(p, issuer, false);
    }
    sprintf(p, "&algorithm=%s&digits=%u&period=%u", alg_names[c.alg], c.digits, c.period);
    *uri = s;
    return 0;
}
