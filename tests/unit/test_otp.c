/* core/otp: RFC 6238 and RFC 4226 vectors, base32, verification window,
 * replay refusal, key URIs, and QR PNGs read back with libpng. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <sodium.h>
#include "otp/qr.h"
#include "otp/totp.h"
#include "tap.h"

static const char seed20[] = "12345678901234567890";
static const char seed32[] = "12345678901234567890123456789012";
static const char seed64[] = "1234567890123456789012345678901234567890123456789012345678901234";

/* ---- TOTP vectors --------------------------------------------------------- */

/* RFC 6238 Appendix B: 8 digits, X = 30, T0 = 0. */
static const struct {
    time_t t;
    const char *sha1, *sha256, *sha512;
} rfc6238[] = {
    {59, "94287082", "46119246", "90693936"},
    {1111111109, "07081804", "68084774", "25091201"},
    {1111111111, "14050471", "67062674", "99943326"},
    {1234567890, "89005924", "91819424", "93441116"},
    {2000000000, "69279037", "90698825", "38618901"},
    {20000000000, "65353130", "77737706", "47863826"},
};

/* RFC 4226 Appendix D, counts 0..9. */
static const char *const rfc4226[] = {"755224", "287082", "359152", "969429", "338314",
                                      "254676", "287922", "162583", "399871", "520489"};

static void test_vectors(void)
{
    struct wgm_totp_cfg c = WGM_TOTP_DEFAULTS;
    char code[WGM_TOTP_CODE_MAX];

    c.digits = 8;
    for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
        c.alg = WGM_TOTP_SHA1;
        is_int(wgm_totp_code(seed20, 20, rfc6238[i].t, &c, code), 0, "SHA1 code computed");
        is_str(code, rfc6238[i].sha1, "RFC 6238 SHA1");
        c.alg = WGM_TOTP_SHA256;
        is_int(wgm_totp_code(seed32, 32, rfc6238[i].t, &c, code), 0, "SHA256 code computed");
        is_str(code, rfc6238[i].sha256, "RFC 6238 SHA256");
        c.alg = WGM_TOTP_SHA512;
        is_int(wgm_totp_code(seed64, 64, rfc6238[i].t, &c, code), 0, "SHA512 code computed");
        is_str(code, rfc6238[i].sha512, "RFC 6238 SHA512");
    }
    for (int i = 0; i < 10; i++) {
        is_int(wgm_totp_code(seed20, 20, (time_t)i * 30, NULL, code), 0, "HOTP via TOTP computed");
        is_str(code, rfc4226[i], "RFC 4226 Appendix D");
    }
    is_int(wgm_totp_code(seed20, 20, 29, NULL, code), 0, "last second of step 0");
    is_str(code, rfc4226[0], "t = 29 is still step 0");

    c = WGM_TOTP_DEFAULTS;
    c.digits = 7;
    is_int(wgm_totp_code(seed20, 20, 59, &c, code), -EINVAL, "7 digits refused");
    c = WGM_TOTP_DEFAULTS;
    c.period = 0;
    is_int(wgm_totp_code(seed20, 20, 59, &c, code), -EINVAL, "period 0 refused");
    c = WGM_TOTP_DEFAULTS;
    c.alg = (enum wgm_totp_alg)7;
    is_int(wgm_totp_code(seed20, 20, 59, &c, code), -EINVAL, "unknown algorithm refused");
    is_int(wgm_totp_code(seed20, 0, 59, NULL, code), -EINVAL, "empty key refused");
    is_int(wgm_totp_code(seed20, 20, -1, NULL, code), -EINVAL, "negative time refused");
}

/* The first calls race on liboath's one-time initialisation. */
static void *thread_codes(void *arg)
{
    struct wgm_totp_cfg c = WGM_TOTP_DEFAULTS;
    char code[WGM_TOTP_CODE_MAX];
    intptr_t bad = 0;

    (void)arg;
    c.digits = 8;
    for (int i = 0; i < 200; i++)
        if (wgm_totp_code(seed20, 20, 59, &c, code) != 0 || strcmp(code, "94287082") != 0)
            bad++;
    return (void *)bad;
}

static void test_threads(void)
{
    pthread_t th[4];
    intptr_t bad = 0;

    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_codes, NULL);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        bad += (intptr_t)ret;
    }
    is_int(bad, 0, "concurrent first use gives right codes");
}

/* ---- base32 ----------------------------------------------------------------- */

static void test_base32(void)
{
    /* RFC 4648 §10 without the padding. */
    static const struct {
        const char *plain, *b32;
    } v[] = {{"", ""},          {"f", "MY"},          {"fo", "MZXQ"},        {"foo", "MZXW6"},
             {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"}};
    unsigned char buf[64];
    size_t n;
    char *s;

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        is_int(wgm_base32_encode(v[i].plain, strlen(v[i].plain), &s), 0, "encode");
        is_str(s, v[i].b32, "RFC 4648 vector encodes unpadded");
        free(s);
        is_int(wgm_base32_decode(v[i].b32, buf, sizeof(buf), &n), 0, "decode");
        ok(n == strlen(v[i].plain) && memcmp(buf, v[i].plain, n) == 0, "RFC 4648 vector \"%s\" decodes",
           v[i].b32);
    }

    is_int(wgm_base32_decode("JBSWY3DPEHPK3PXP", buf, sizeof(buf), &n), 0, "decode Google's example");
    ok(n == 10 && memcmp(buf, "Hello!\xde\xad\xbe\xef", 10) == 0, "JBSWY3DPEHPK3PXP is Hello! DE AD BE EF");
    is_int(wgm_base32_encode("Hello!\xde\xad\xbe\xef", 10, &s), 0, "encode Hello! DE AD BE EF");
    is_str(s, "JBSWY3DPEHPK3PXP", "and back");
    free(s);
    is_int(wgm_base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", buf, sizeof(buf), &n), 0, "decode RFC seed");
    ok(n == 20 && memcmp(buf, seed20, 20) == 0, "GEZDGNBV... is the RFC SHA1 seed");
    is_int(wgm_base32_encode(seed20, 20, &s), 0, "encode RFC seed");
    is_str(s, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "RFC seed round trip");
    free(s);

    is_int(wgm_base32_decode("jbsw y3dp ehpk 3pxp", buf, sizeof(buf), &n), 0, "lower case and spaces");
    ok(n == 10 && memcmp(buf, "Hello!\xde\xad\xbe\xef", 10) == 0, "same bytes");
    is_int(wgm_base32_decode("MZXW6YQ=", buf, sizeof(buf), &n), 0, "padding that completes the group");
    ok(n == 4 && memcmp(buf, "foob", 4) == 0, "padded decodes the same");
    is_int(wgm_base32_decode("MY======", buf, sizeof(buf), &n), 0, "six pad characters");
    is_int(wgm_base32_decode("MY=", buf, sizeof(buf), &n), -EINVAL, "padding short of the group");
    is_int(wgm_base32_decode("M=Y", buf, sizeof(buf), &n), -EINVAL, "data after padding");
    is_int(wgm_base32_decode("JBSWY3DP1", buf, sizeof(buf), &n), -EINVAL, "'1' is not base32");
    is_int(wgm_base32_decode("JBSWY3DP-EHPK", buf, sizeof(buf), &n), -EINVAL, "'-' is not base32");
    is_int(wgm_base32_decode("JBSW\tY3DP", buf, sizeof(buf), &n), -EINVAL, "tab refused");
    is_int(wgm_base32_decode("A", buf, sizeof(buf), &n), -EINVAL, "1 character: impossible length");
    is_int(wgm_base32_decode("ABC", buf, sizeof(buf), &n), -EINVAL, "3 characters: impossible length");
    is_int(wgm_base32_decode("ABCDEF", buf, sizeof(buf), &n), -EINVAL, "6 characters: impossible length");
    is_int(wgm_base32_decode("JBSWY3DPEHPK3PXP", buf, 9, &n), -ENOBUFS, "too small a buffer");
    ok(memcmp(buf, "\0\0\0\0\0\0\0\0\0", 9) == 0, "buffer wiped on error");
    is_int(wgm_base32_decode("JBSWY3DPEHPK3PXP", buf, 10, &n), 0, "exact buffer");

    /* Random secrets. */
    {
        char *a, *b;
        is_int(wgm_totp_secret_new(&a), 0, "new secret");
        is_int(wgm_totp_secret_new(&b), 0, "another");
        is_int(strlen(a), 32, "20 bytes are 32 base32 characters");
        ok(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == 32, "alphabet only, no padding: %s", a);
        ok(strcmp(a, b) != 0, "secrets differ");
        is_int(wgm_base32_decode(a, buf, sizeof(buf), &n), 0, "secret decodes");
        is_int(n, WGM_TOTP_SECRET_BYTES, "to 20 bytes");
        a = wgm_totp_secret_free(a);
        b = wgm_totp_secret_free(b);
        ok(!a && !b && !wgm_totp_secret_free(NULL), "free returns NULL and accepts NULL");
    }
}

/* ---- verification -------------------------------------------------------------- */

static void code_at(time_t t, const struct wgm_totp_cfg *c, char *code)
{
    if (wgm_totp_code(seed20, 20, t, c, code) != 0)
        strcpy(code, "x");
}

static void test_verify(void)
{
    const time_t now = 1111111111; /* step 37037037, 1 s into it */
    const int64_t step = now / 30;
    struct wgm_totp_cfg c = WGM_TOTP_DEFAULTS;
    char code[WGM_TOTP_CODE_MAX], wrong[WGM_TOTP_CODE_MAX];
    int64_t got = -1;

    code_at(now, NULL, code);
    is_int(wgm_totp_verify(seed20, 20, now, code, NULL, 0, &got), 0, "current code accepted");
    is_int(got, step, "matched step returned");
    is_int(wgm_totp_verify(seed20, 20, now, code, NULL, got, &got), -EALREADY, "same code again: replay");

    code_at(now - 30, NULL, code);
    got = -1;
    is_int(wgm_totp_verify(seed20, 20, now, code, NULL, 0, &got), 0, "previous step accepted (drift)");
    is_int(got, step - 1, "as step - 1");
    is_int(wgm_totp_verify(seed20, 20, now, code, NULL, step, &got), -EALREADY,
           "previous step after the current one was used: replay");
    code_at(now + 30, NULL, code);
    is_int(wgm_totp_verify(seed20, 20, now, code, NULL, step, &got), 0, "next step accepted after current");
    is_int(got, step + 1, "as step + 1");

    code_at(now - 60, NULL, code);
    is_int(wgm_totp_verify(seed20, 20, now, code, NULL, 0, &got), -EACCES, "two steps back refused");
    code_at(now + 60, NULL, code);
    is_int(wgm_totp_verify(seed20, 20, now, code, NULL, 0, &got), -EACCES, "two steps ahead refused");
    c.window = 2;
    is_int(wgm_totp_verify(seed20, 20, now, code, &c, 0, &got), 0, "accepted with window 2");
    is_int(got, step + 2, "as step + 2");
    c.window = 0;
    code_at(now - 30, NULL, code);
    is_int(wgm_totp_verify(seed20, 20, now, code, &c, 0, &got), -EACCES, "window 0: only now");
    c.window = 11;
    is_int(wgm_totp_verify(seed20, 20, now, code, &c, 0, &got), -EINVAL, "window above 10 refused");

    code_at(now, NULL, code);
    strcpy(wrong, code);
    wrong[5] = (char)('0' + (wrong[5] - '0' + 1) % 10);
    is_int(wgm_totp_verify(seed20, 20, now, wrong, NULL, 0, &got), -EACCES, "wrong code refused");
    is_int(wgm_totp_verify(seed20, 20, now, wrong, NULL, step, &got), -EACCES,
           "wrong code is -EACCES even after a login");

    is_int(wgm_totp_verify(seed20, 20, now, "12345", NULL, 0, &got), -EINVAL, "5 digits malformed");
    is_int(wgm_totp_verify(seed20, 20, now, "1234567", NULL, 0, &got), -EINVAL, "7 digits malformed");
    is_int(wgm_totp_verify(seed20, 20, now, "12a456", NULL, 0, &got), -EINVAL, "letter malformed");
    is_int(wgm_totp_verify(seed20, 20, now, " 12345", NULL, 0, &got), -EINVAL, "space malformed");
    is_int(wgm_totp_verify(seed20, 20, now, "-12345", NULL, 0, &got), -EINVAL, "sign malformed");
    is_int(wgm_totp_verify(seed20, 20, now, "", NULL, 0, &got), -EINVAL, "empty malformed");
    is_int(wgm_totp_verify(seed20, 20, now, NULL, NULL, 0, &got), -EINVAL, "NULL malformed");
    is_int(wgm_totp_verify(seed20, 20, now, "１２３４５６", NULL, 0, &got), -EINVAL, "full-width digits malformed");

    /* 8 digits, SHA256, the RFC vector itself. */
    c = WGM_TOTP_DEFAULTS;
    c.digits = 8;
    c.alg = WGM_TOTP_SHA256;
    is_int(wgm_totp_verify(seed32, 32, 1234567890, "91819424", &c, 0, &got), 0, "SHA256 8-digit vector");
    is_int(got, 1234567890 / 30, "at its step");
    is_int(wgm_totp_verify(seed32, 32, 1234567890, "918194", &c, 0, &got), -EINVAL,
           "6 digits where 8 are expected");
    c.digits = 8;
    c.alg = WGM_TOTP_SHA512;
    is_int(wgm_totp_verify(seed64, 64, 20000000000, "47863826", &c, 0, &got), 0, "SHA512 at 20000000000");
    is_int(got, 20000000000 / 30, "64-bit step");

    /* Around the epoch there is no step -1 to try. */
    code_at(0, NULL, code);
    is_int(wgm_totp_verify(seed20, 20, 5, code, NULL, -1, &got), 0, "step 0 with no earlier login");
    is_int(got, 0, "as step 0");
}

/* ---- key URI ----------------------------------------------------------------- */

static void test_uri(void)
{
    struct wgm_totp_cfg c = WGM_TOTP_DEFAULTS;
    char *u;

    is_int(wgm_totp_uri("Example", "alice@google.com", "JBSWY3DPEHPK3PXP", NULL, &u), 0, "Google example");
    is_str(u, "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"
              "&algorithm=SHA1&digits=6&period=30",
           "issuer in label and parameter");
    free(u);
    is_int(wgm_totp_uri("ACME Co", "john.doe@email.com", "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ", NULL, &u), 0,
           "space in issuer");
    is_str(u, "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
              "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
           "spaces are %20 in label and parameter");
    free(u);
    is_int(wgm_totp_uri("A&B=C/D?#", "bob smith+1%", "MZXW6YTBOI", NULL, &u), 0, "reserved characters");
    is_str(u, "otpauth://totp/A%26B%3DC%2FD%3F%23:bob%20smith%2B1%25?secret=MZXW6YTBOI"
              "&issuer=A%26B%3DC%2FD%3F%23&algorithm=SHA1&digits=6&period=30",
           "reserved characters percent-encoded");
    free(u);
    is_int(wgm_totp_uri("Zürich VPN", "müller", "MZXW6YTBOI", NULL, &u), 0, "UTF-8");
    is_str(u, "otpauth://totp/Z%C3%BCrich%20VPN:m%C3%BCller?secret=MZXW6YTBOI"
              "&issuer=Z%C3%BCrich%20VPN&algorithm=SHA1&digits=6&period=30",
           "UTF-8 bytes percent-encoded");
    free(u);
    is_int(wgm_totp_uri("Mail", "a@b", "MZXW6YTBOI", NULL, &u), 0, "'@' in the issuer parameter");
    ok(u && strstr(u, "Mail:a@b?") && !strstr(u, "issuer=Mail%40"), "label keeps '@': %s", u);
    free(u);
    is_int(wgm_totp_uri("Bad@Issuer", "x", "MZXW6YTBOI", NULL, &u), 0, "'@' in an issuer");
    ok(u && strstr(u, "&issuer=Bad%40Issuer&"), "is %%40 in the query: %s", u);
    free(u);
    is_int(wgm_totp_uri(NULL, "bob", "MZXW6YTBOI", NULL, &u), 0, "no issuer");
    is_str(u, "otpauth://totp/bob?secret=MZXW6YTBOI&algorithm=SHA1&digits=6&period=30", "account alone");
    free(u);
    c.alg = WGM_TOTP_SHA512;
    c.digits = 8;
    c.period = 60;
    is_int(wgm_totp_uri("wgm", "bob", "MZXW6YTBOI", &c, &u), 0, "other parameters");
    is_str(u, "otpauth://totp/wgm:bob?secret=MZXW6YTBOI&issuer=wgm&algorithm=SHA512&digits=8&period=60",
           "algorithm, digits and period written");
    free(u);

    u = (char *)1;
    is_int(wgm_totp_uri("a:b", "bob", "MZXW6YTBOI", NULL, &u), -EINVAL, "colon in issuer refused");
    ok(u == NULL, "no URI on error");
    is_int(wgm_totp_uri("wgm", "bob:x", "MZXW6YTBOI", NULL, &u), -EINVAL, "colon in account refused");
    is_int(wgm_totp_uri("wgm", "", "MZXW6YTBOI", NULL, &u), -EINVAL, "empty account refused");
    is_int(wgm_totp_uri("wgm", NULL, "MZXW6YTBOI", NULL, &u), -EINVAL, "NULL account refused");
    is_int(wgm_totp_uri("wgm", "bob", "mzxw6ytboi", NULL, &u), -EINVAL, "lower-case secret refused");
    is_int(wgm_totp_uri("wgm", "bob", "MY======", NULL, &u), -EINVAL, "padded secret refused");
    is_int(wgm_totp_uri("wgm", "bob", "", NULL, &u), -EINVAL, "empty secret refused");
}

/* ---- QR ---------------------------------------------------------------------- */

struct reader {
    const unsigned char *p;
    size_t len, off;
};

static void mem_read(png_structp png, png_bytep out, png_size_t n)
{
    struct reader *r = png_get_io_ptr(png);
    if (n > r->len - r->off)
        png_error(png, "read past end");
    memcpy(out, r->p + r->off, n);
    r->off += n;
}

/* Decode a 1-bit grayscale PNG into one byte per pixel (0 black, 1 white).
 * Returns the pixels (free()) or NULL; *w, *h, *depth, *type describe it. */
static unsigned char *read_png(const unsigned char *data, size_t len, png_uint_32 *w, png_uint_32 *h,
                               int *depth, int *type)
{
    struct reader rd = {data, len, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *volatile pix = NULL;
    unsigned char *volatile row = NULL;

    if (!info)
        goto out;
    if (setjmp(png_jmpbuf(png))) {
        free(pix);
        pix = NULL;
        goto out;
    }
    png_set_read_fn(png, &rd, mem_read);
    png_read_info(png, info);
    png_get_IHDR(png, info, w, h, depth, type, NULL, NULL, NULL);
    row = malloc(png_get_rowbytes(png, info));
    pix = malloc((size_t)*w * *h);
    if (!row || !pix)
        png_error(png, "oom");
    for (png_uint_32 y = 0; y < *h; y++) {
        png_read_row(png, row, NULL);
        for (png_uint_32 x = 0; x < *w; x++)
            pix[(size_t)y * *w + x] = (row[x / 8] >> (7 - x % 8)) & 1;
    }
    png_read_end(png, NULL);
out:
    free(row);
    png_destroy_read_struct(&png, &info, NULL);
    return pix;
}

static void test_qr(void)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char *png = NULL, *pix;
    size_t len = 0;
    png_uint_32 w = 0, h = 0;
    int depth = 0, type = -1;
    const unsigned scale = 3;
    const png_uint_32 side = (21 + 2 * WGM_QR_QUIET_ZONE) * scale; /* version 1: 21 modules */

    /* 8 bytes fit version 1 at level M (14 bytes of capacity). */
    is_int(wgm_qr_png("wgm test", scale, &png, &len), 0, "QR PNG made");
    ok(png && len > 8 && memcmp(png, sig, 8) == 0, "starts with the PNG signature (%zu bytes)", len);
    pix = png ? read_png(png, len, &w, &h, &depth, &type) : NULL;
    ok(pix != NULL, "libpng reads it back");
    is_int(w, side, "width: (21 + 8) * 3");
    is_int(h, side, "square");
    is_int(depth, 1, "1 bit per pixel");
    is_int(type, PNG_COLOR_TYPE_GRAY, "grayscale");
    if (pix && w == side && h == side) {
        const png_uint_32 q = WGM_QR_QUIET_ZONE * scale;
        int quiet_white = 1;
        for (png_uint_32 i = 0; i < side; i++)
            for (png_uint_32 j = 0; j < q; j++)
                quiet_white &= pix[j * side + i] & pix[(side - 1 - j) * side + i] & pix[i * side + j] &
                               pix[i * side + side - 1 - j];
        ok(quiet_white, "4-module quiet zone is white all round");
        /* Finder pattern at the top left: dark ring, light ring, dark centre. */
        ok(pix[q * side + q] == 0, "finder outer ring is black");
        ok(pix[(q + scale) * side + q + scale] == 1, "finder inner ring is white");
        ok(pix[(q + 3 * scale) * side + q + 3 * scale] == 0, "finder centre is black");
        ok(pix[(q + 3 * scale) * side + side - q - 3 * scale - 1] == 0, "top-right finder centre is black");
    } else {
        skip("image unreadable");
        skip("image unreadable");
        skip("image unreadable");
        skip("image unreadable");
        skip("image unreadable");
    }
    free(pix);
    free(png);

    /* A real enrolment URI: the size is that of some version. */
    {
        const char *uri = "otpauth://totp/wgm:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                          "&issuer=wgm&algorithm=SHA1&digits=6&period=30";
        is_int(wgm_qr_png(uri, 4, &png, &len), 0, "enrolment URI encodes");
        pix = png ? read_png(png, len, &w, &h, &depth, &type) : NULL;
        ok(pix && w == h && w % 4 == 0 && (w / 4 - 2 * WGM_QR_QUIET_ZONE - 17) % 4 == 0 &&
               w / 4 - 2 * WGM_QR_QUIET_ZONE > 21,
           "square, whole modules, a valid symbol width (%u px)", (unsigned)w);
        free(pix);
        free(png);
    }

    /* Data URI. */
    {
        static const char prefix[] = "data:image/png;base64,";
        char *d = wgm_qr_data_uri("wgm test");
        ok(d && strncmp(d, prefix, sizeof(prefix) - 1) == 0, "data URI prefix");
        ok(d && strncmp(d + sizeof(prefix) - 1, "iVBORw0KGgo", 11) == 0, "base64 of the PNG signature follows");
        if (d) {
            const char *b64 = d + sizeof(prefix) - 1;
            unsigned char *bin = malloc(strlen(b64));
            size_t blen = 0;
            int dec = bin ? sodium_base642bin(bin, strlen(b64), b64, strlen(b64), NULL, &blen, NULL,
                                              sodium_base64_VARIANT_ORIGINAL)
                          : -1;
            pix = dec == 0 ? read_png(bin, blen, &w, &h, &depth, &type) : NULL;
            is_int(dec, 0, "standard base64");
            is_int(pix ? w : 0, (21 + 2 * WGM_QR_QUIET_ZONE) * WGM_QR_URI_SCALE, "image at the URI scale");
            free(pix);
            free(bin);
        } else {
            skip("no data URI");
            skip("no data URI");
        }
        free(d);
    }

    /* Refusals leave nothing behind. */
    {
        char *big = malloc(3001);
        char *d;
        memset(big, 'x', 3000);
        big[3000] = '\0';
        png = (unsigned char *)1;
        len = 1;
        is_int(wgm_qr_png(big, 4, &png, &len), -EMSGSIZE, "3000 bytes do not fit a QR code");
        ok(png == NULL && len == 0, "no image on error");
        errno = 0;
        d = wgm_qr_data_uri(big);
        ok(d == NULL && errno == EMSGSIZE, "data URI refused with EMSGSIZE");
        free(big);
        is_int(wgm_qr_png("", 4, &png, &len), -EINVAL, "empty text refused");
        is_int(wgm_qr_png("x", 0, &png, &len), -EINVAL, "scale 0 refused");
        is_int(wgm_qr_png("x", WGM_QR_MAX_SCALE + 1, &png, &len), -EINVAL, "huge scale refused");
        is_int(wgm_qr_png(NULL, 4, &png, &len), -EINVAL, "NULL text refused");
        errno = 0;
        ok(wgm_qr_data_uri(NULL) == NULL && errno == EINVAL, "data URI of NULL refused");
    }
    /* The largest symbol still works, one byte more does not. */
    {
        char *big = malloc(2333);
        memset(big, 'y', 2332);
        big[2332] = '\0';
        is_int(wgm_qr_png(big, 1, &png, &len), -EMSGSIZE, "2332 bytes do not fit");
        big[2331] = '\0';
        is_int(wgm_qr_png(big, 1, &png, &len), 0, "2331 bytes fit (version 40 at level M)");
        pix = png ? read_png(png, len, &w, &h, &depth, &type) : NULL;
        is_int(pix ? w : 0, 177 + 2 * WGM_QR_QUIET_ZONE, "version 40 is 177 modules");
        free(pix);
        free(png);
        free(big);
    }
}

int main(void)
{
    test_threads(); /* first: the one-time initialisation must survive a race */
    test_vectors();
    test_base32();
    test_verify();
    test_uri();
    test_qr();
    return done_testing();
}
