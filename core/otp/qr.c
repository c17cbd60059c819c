/* core/otp/qr: libqrencode for the symbol, libpng (writing to memory) for
 * the image, libsodium for the base64 of the data URI. */
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <qrencode.h>
#include <sodium.h>
#include "qr.h"

static const char data_uri_prefix[] = "data:image/png;base64,";

/* The PNG grows here through png_set_write_fn. */
struct membuf {
    unsigned char *data;
    size_t len, cap;
};

static void mem_write(png_structp png, png_bytep bytes, png_size_t n)
{
    struct membuf *b = png_get_io_ptr(png);

    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 1024;
        unsigned char *p;
        while (n > cap - b->len) {
            if (cap > SIZE_MAX / 2)
                png_error(png, "PNG too large");
            cap *= 2;
        }
        if (!(p = realloc(b->data, cap)))
            png_error(png, "out of memory"); /* longjmps; the caller frees b->data */
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

/* Library code does not print: errors unwind to write_png's setjmp, and
 * warnings (none expected for this simple image) are dropped. */
static void on_error(png_structp png, png_const_charp msg)
{
    (void)msg;
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Everything that may longjmp happens in here.  Nothing local is changed
 * between setjmp and a longjmp that matters afterwards: the error path only
 * returns, and all resources belong to the caller. */
static int write_png(png_structp png, png_infop info, const QRcode *qr, unsigned scale, unsigned char *row)
{
    const png_uint_32 side = (png_uint_32)(qr->width + 2 * WGM_QR_QUIET_ZONE) * scale;
    const size_t rowbytes = (side + 7) / 8;

    if (setjmp(png_jmpbuf(png)))
        return -EIO;
    png_set_IHDR(png, info, side, side, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (png_uint_32 y = 0; y < side; y++) {
        long my = (long)(y / scale) - WGM_QR_QUIET_ZONE;

        /* 1 is white in grayscale; dark modules clear their bits, which
         * libpng packs most significant first. */
        memset(row, 0xff, rowbytes);
        if (my >= 0 && my < qr->width) {
            for (png_uint_32 x = 0; x < side; x++) {
                long mx = (long)(x / scale) - WGM_QR_QUIET_ZONE;
                /* Bit 0 of each libqrencode module byte is "dark". */
                if (mx >= 0 && mx < qr->width && (qr->data[my * qr->width + mx] & 1))
                    row[x / 8] &= (unsigned char)~(0x80u >> (x % 8));
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    return 0;
}

int wgm_qr_png(const char *text, unsigned scale, unsigned char **png, size_t *len)
{
    struct membuf buf = {0};
    QRcode *qr = NULL;
    png_structp ps = NULL;
    png_infop info = NULL;
    unsigned char *row = NULL;
    int r;

    if (png)
        *png = NULL;
    if (len)
        *len = 0;
    if (!text || !*text || !png || !len || scale == 0 || scale > WGM_QR_MAX_SCALE)
        return -EINVAL;

    errno = 0;
    qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) {
        r = errno == ERANGE ? -EMSGSIZE : errno == EINVAL ? -EINVAL : -ENOMEM;
        goto out;
    }
    row = malloc(((size_t)(qr->width + 2 * WGM_QR_QUIET_ZONE) * scale + 7) / 8);
    ps = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, on_error, on_warning);
    info = ps ? png_create_info_struct(ps) : NULL;
    if (!row || !ps || !info) {
        r = -ENOMEM;
        goto out;
    }
    png_set_write_fn(ps, &buf, mem_write, mem_flush);
    r = write_png(ps, info, qr, scale, row);
    if (r == 0) {
        *png = buf.data;
        *len = buf.len;
        buf.data = NULL;
    }
out:
    if (ps)
        png_destroy_write_struct(&ps, info ? &info : NULL);
    free(buf.data);
    free(row);
    QRcode_free(qr);
    return r;
}

char *wgm_qr_data_uri(const char *text)
{
    unsigned char *png;
    size_t len, b64len;
    char *uri;
    int r;

    if ((r = wgm_qr_png(text, WGM_QR_URI_SCALE, &png, &len)) < 0) {
        errno = -r;
        return NULL;
    }
    b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    uri = malloc(sizeof(data_uri_prefix) - 1 + b64len);
    if (uri) {
        memcpy(uri, data_uri_prefix, sizeof(data_uri_prefix) - 1);
        sodium_bin2base64(uri + sizeof(data_uri_prefix) - 1, b64len, png, len, sodium_base64_VARIANT_ORIGINAL);
    }
    free(png);
    if (!uri)
        errno = ENOMEM;
    return uri;
}
