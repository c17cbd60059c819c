/*
 * A result set as JSON: an array of objects keyed by column name, so a list
 * endpoint is prepare, bind, wgm_stmt_rows_json, respond.
 */
#include <errno.h>
#include <stdlib.h>

#include "db/internal.h"

/* Blobs become standard base64 (RFC 4648, padded): JSON has no bytes. */
static json_t *base64_json(const unsigned char *p, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = (len + 2) / 3 * 4, o = 0;
    json_t *j;
    char *out;

    out = malloc(olen + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    j = json_stringn(out, o);
    free(out);
    return j;
}

static json_t *column_json(struct wgm_stmt *st, int col, int *rc)
{
    const void *b;
    const char *t;
    size_t len = 0;
    json_t *v;

    switch (wgm_stmt_column_type(st, col)) {
    case WGM_DB_INT:
        return json_integer((json_int_t)wgm_stmt_column_int(st, col));
    case WGM_DB_DOUBLE:
        return json_real(wgm_stmt_column_double(st, col));
    case WGM_DB_TEXT:
        t = wgm_stmt_column_text(st, col);
        if (!t)
            return json_null();
        v = json_string(t);
        /* jansson refuses invalid UTF-8: such text cannot be sent. */
        if (!v)
            *rc = WGM_DB_EINVALID;
        return v;
    case WGM_DB_BLOB:
        b = wgm_stmt_column_blob(st, col, &len);
        return base64_json(b, b ? len : 0);
    case WGM_DB_NULL:
    default:
        return json_null();
    }
}

json_t *wgm_stmt_rows_json(struct wgm_stmt *st, int *status)
{
    json_t *rows = NULL, *row = NULL;
    int rc, ncol;

    if (!st) {
        rc = WGM_DB_EINVALID;
        goto out;
    }
    rows = json_array();
    if (!rows) {
        rc = -ENOMEM;
        goto out;
    }
    while ((rc = wgm_stmt_step(st)) == WGM_DB_ROW) {
        ncol = wgm_stmt_column_count(st);
        row = json_object();
        if (!row) {
            rc = -ENOMEM;
            goto out;
        }
        for (int c = 0; c < ncol; c++) {
            const char *name = wgm_stmt_column_name(st, c);
            int crc = -ENOMEM;
            json_t *v;

            if (!name) {
                rc = WGM_DB_EINVALID;
                goto out;
            }
            v = column_json(st, c, &crc);
            /* json_object_set_new steals v, also when it fails. */
            if (!v || json_object_set_new(row, name, v) < 0) {
                rc = crc;
                goto out;
            }
        }
        if (json_array_append_new(rows, row) < 0) {
            row = NULL;
            rc = -ENOMEM;
            goto out;
        }
        row = NULL;
    }
out:
    json_decref(row);
    if (rc < 0) {
        json_decref(rows);
        rows = NULL;
    }
    if (status)
        *status = rc < 0 ? rc : WGM_DB_DONE;
    return rows;
}
