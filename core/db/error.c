/*
 * Error texts of core/db.  Every message that may quote a driver or server
 * passes through here, so a password is masked even when a driver or the
 * server echoes it back.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

/* Copy @src into @dst (size @dstlen), every occurrence of @secret replaced. */
static void copy_masked(char *dst, size_t dstlen, const char *src, const char *secret)
{
    size_t slen = secret ? strlen(secret) : 0, o = 0;

    while (*src && o + 1 < dstlen) {
        if (slen && strncmp(src, secret, slen) == 0) {
            for (const char *m = "***"; *m && o + 1 < dstlen; m++)
                dst[o++] = *m;
            src += slen;
            continue;
        }
        dst[o++] = *src++;
    }
    dst[o] = '\0';
}

void wgm_db_set_err(char *err, size_t errlen, const char *secret, const char *fmt, ...)
{
    va_list ap;
    char *full = NULL;
    int n;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    /* Format in full before masking: truncating first could leave a
     * password's prefix behind that no longer matches. */
    n = vasprintf(&full, fmt, ap);
    va_end(ap);
    if (n < 0) {
        copy_masked(err, errlen, "out of memory formatting a database error", NULL);
        return;
    }
    copy_masked(err, errlen, full, secret);
    free(full);
}
