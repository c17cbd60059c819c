/* core/otp/totp: time-based one-time passwords (RFC 6238) for two-factor
 * login, the base32 form of their secrets (RFC 4648, no padding) and the
 * otpauth:// key URI that authenticator apps scan.
 *
 * The HMAC and truncation are liboath's; this file adds what a server
 * needs around them: random secrets, a drift window, constant-time
 * comparison and replay refusal (RFC 6238 §5.2).  Every function is
 * thread-safe. */
#ifndef WGM_CORE_OTP_TOTP_H
#define WGM_CORE_OTP_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/** Raw secret length made by wgm_totp_secret_new (160 bits, RFC 4226 §4). */
#define WGM_TOTP_SECRET_BYTES 20
/** Room for the longest code and its NUL. */
#define WGM_TOTP_CODE_MAX 9

/** HMAC behind the code.  Many apps only honour SHA1. */
enum wgm_totp_alg {
    WGM_TOTP_SHA1 = 0,
    WGM_TOTP_SHA256 = 1,
    WGM_TOTP_SHA512 = 2,
};

/** Parameters shared by generation, verification and the URI.  A NULL
 *  pointer wherever one is taken means WGM_TOTP_DEFAULTS. */
struct wgm_totp_cfg {
    enum wgm_totp_alg alg; /**< SHA1 */
    unsigned digits;       /**< 6 or 8 */
    unsigned period;       /**< seconds per step, 1..3600; 30 */
    unsigned window;       /**< steps accepted either side of now by verify, 0..10; 1 */
};

/** SHA1, 6 digits, 30 s, ±1 step: what every authenticator app expects. */
#define WGM_TOTP_DEFAULTS ((struct wgm_totp_cfg){.alg = WGM_TOTP_SHA1, .digits = 6, .period = 30, .window = 1})

/** Encode @p len bytes of @p data as upper-case RFC 4648 base32 without
 *  '=' padding.  @p out is new (free(), or wgm_totp_secret_free for a
 *  secret).  0, -EINVAL, -ENOMEM. */
int wgm_base32_encode(const void *data, size_t len, char **out);

/** Decode base32 text into @p out (at most @p size bytes), setting @p outlen.
 *  Case-insensitive; spaces are skipped (apps show secrets in groups);
 *  trailing '=' padding is accepted when it completes an 8-character group.
 *  Returns 0, -EINVAL for a character outside the alphabet or an impossible
 *  length, -ENOBUFS when @p size is too small.  On error @p out is wiped.
 *  Decoding n characters yields at most n * 5 / 8 bytes. */
int wgm_base32_decode(const char *in, void *out, size_t size, size_t *outlen);

/** A new random secret of WGM_TOTP_SECRET_BYTES, base32-encoded into
 *  @p base32 (new: release with wgm_totp_secret_free).  0, -ENOMEM, -EIO. */
int wgm_totp_secret_new(char **base32);

/** Wipe and free a base32 secret.  Accepts NULL; returns NULL. */
char *wgm_totp_secret_free(char *base32);

/** The code for unix time @p t (>= 0) under @p key (raw bytes, borrowed)
 *  into @p code (digits + NUL).  0, -EINVAL (bad cfg, empty key, negative
 *  or unrepresentable time), -EIO (liboath failed). */
int wgm_totp_code(const void *key, size_t keylen, time_t t, const struct wgm_totp_cfg *cfg,
                  char code[WGM_TOTP_CODE_MAX]);

/** Check the user's @p code at unix time @p now.
 *
 *  The steps now/period - window .. now/period + window are all computed and
 *  compared in constant time.  @p last_used_step is the step stored after
 *  the user's previous successful login (0 if none): a step at or before it
 *  is never accepted again.  On success the accepted step is written to
 *  @p matched_step; the caller must store it as the new last_used_step.
 *
 *  Returns 0; -EINVAL when @p code is not exactly cfg->digits ASCII digits
 *  (or for a bad cfg, key or time); -EALREADY when the code is right but its
 *  step was already used (a replay); -EACCES for a wrong code; -EIO. */
int wgm_totp_verify(const void *key, size_t keylen, time_t now, const char *code,
                    const struct wgm_totp_cfg *cfg, int64_t last_used_step, int64_t *matched_step);

/** The key URI for enrolment:
 *  "otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30".
 *  @p issuer may be NULL or "" (then the label is the account alone and no
 *  issuer parameter is written).  Label and issuer are percent-encoded
 *  (spaces as %20; '@' stays literal in the label, as in Google's examples).
 *  @p secret_b32 must be unpadded upper-case base32.  @p uri is new (free()).
 *  0, -EINVAL (colon in issuer or account, empty account, bad secret or
 *  cfg), -ENOMEM. */
int wgm_totp_uri(const char *issuer, const char *account, const char *secret_b32,
                 const struct wgm_totp_cfg *cfg, char **uri);

#endif
