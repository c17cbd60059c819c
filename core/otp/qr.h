/* core/otp/qr: QR codes as PNG images, for showing an otpauth:// URI to
 * an authenticator app during TOTP enrolment.
 *
 * Symbols use error correction level M and carry the text byte for byte
 * (case-sensitive); the image is 1-bit grayscale with the 4-module quiet
 * zone the standard requires, each module @p scale pixels square. */
#ifndef WGM_CORE_OTP_QR_H
#define WGM_CORE_OTP_QR_H

#include <stddef.h>

/** Blank modules around the symbol (ISO/IEC 18004 minimum). */
#define WGM_QR_QUIET_ZONE 4
/** Largest accepted @p scale. */
#define WGM_QR_MAX_SCALE 32
/** Pixels per module used by wgm_qr_data_uri. */
#define WGM_QR_URI_SCALE 6

/** Render @p text (borrowed, non-empty) as a PNG of
 *  (symbol width + 2 * WGM_QR_QUIET_ZONE) * @p scale pixels square.
 *  @p png is new (free()) and @p len its size.
 *  Returns 0; -EINVAL (NULL/empty text, @p scale 0 or above
 *  WGM_QR_MAX_SCALE); -EMSGSIZE when the text does not fit in the largest
 *  symbol (about 2300 bytes at level M); -ENOMEM; -EIO (libpng failed).
 *  Nothing is allocated on error. */
int wgm_qr_png(const char *text, unsigned scale, unsigned char **png, size_t *len);

/** The same image as "data:image/png;base64,..." (standard base64 with
 *  padding) at WGM_QR_URI_SCALE, ready for an <img src>.  New string
 *  (free()), or NULL with errno set to the positive form of
 *  wgm_qr_png's error. */
char *wgm_qr_data_uri(const char *text);

#endif
