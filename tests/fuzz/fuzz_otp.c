/* libFuzzer harness for core/otp/totp: the base32 secret parser, the code
 * check on user input, and the key URI builder.
 *
 * Input lines: base32 text, a code, an issuer, an account.  Invariants:
 * whatever decodes re-encodes and decodes to the same bytes; verify only
 * answers with its documented codes; a built URI has no raw byte outside
 * the URI character set. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "otp/totp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Next '\n'-terminated field of *s (the rest of the input for the last). */
static char *field(char **s)
{
    char *f = *s, *nl;

    if (!f)
        return NULL;
    if ((nl = strchr(f, '\n'))) {
        *nl = '\0';
        *s = nl + 1;
    } else {
        *s = NULL;
    }
    return f;
}

static void check_base32(const char *text)
{
    unsigned char key[256], again[256];
    size_t n, n2;
    char *enc;
    int r = wgm_base32_decode(text, key, sizeof(key), &n);

    if (r != 0 && r != -EINVAL && r != -ENOBUFS)
        abort();
    if (r != 0)
        return;
    if (n > strlen(text) * 5 / 8)
        abort();
    if (wgm_base32_encode(key, n, &enc) != 0)
        abort();
    if (wgm_base32_decode(enc, again, sizeof(again), &n2) != 0 || n2 != n || memcmp(key, again, n) != 0)
        abort();
    free(enc);
}

static void check_verify(const char *text, const char *code)
{
    unsigned char key[64];
    size_t n;
    int64_t step = -1;
    const time_t now = 1700000000;
    int r;

    if (wgm_base32_decode(text, key, sizeof(key), &n) != 0 || n == 0)
        memcpy(key, "12345678901234567890", n = 20);
    r = wgm_totp_verify(key, n, now, code, NULL, 0, &step);
    if (r == 0 && (step < now / 30 - 1 || step > now / 30 + 1))
        abort();
    if (r != 0 && r != -EINVAL && r != -EACCES)
        abort(); /* no replay possible with last_used_step 0 */
}

static void check_uri(const char *issuer, const char *account)
{
    char *uri;
    int r = wgm_totp_uri(issuer, account, "JBSWY3DPEHPK3PXP", NULL, &uri);

    if (r != 0 && r != -EINVAL)
        abort();
    if (r != 0)
        return;
    if (strncmp(uri, "otpauth://totp/", 15) != 0)
        abort();
    for (const unsigned char *p = (const unsigned char *)uri; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"<>\\^`{|}#", *p))
            abort();
    free(uri);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *rest, *b32, *code, *issuer, *account;

    if (size > 4096 || !(buf = malloc(size + 1)))
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    rest = buf;
    b32 = field(&rest);
    code = field(&rest);
    issuer = field(&rest);
    account = field(&rest);

    check_base32(b32);
    if (code)
        check_verify(b32, code);
    if (account)
        check_uri(issuer, account);
    free(buf);
    return 0;
}
