/* core/logs/export: export files of the log store.
 *
 * Files live in <state_dir>/exports (0700), are 0600, and are named
 * logs_<YYYYMMDD_HHMMSS>_<16 hex>.<json|csv|txt>; the download endpoint
 * accepts nothing but that exact shape, so a name can never walk out of the
 * directory.  A file expires WGM_LOGS_EXPORT_TTL_S after it was written. */
#ifndef WGM_CORE_LOGS_EXPORT_H
#define WGM_CORE_LOGS_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "logs/query.h"

#define WGM_LOGS_EXPORT_TTL_S 3600
#define WGM_LOGS_EXPORT_DIR "exports"
/* Room for a name ("logs_20240101_000000_0123456789abcdef.json": 42) and its NUL. */
#define WGM_LOGS_EXPORT_NAME_MAX 48

/* The canonical format ("json", "csv", "txt") @s names case-insensitively,
 * or NULL.  Static string. */
const char *wgm_logs_export_format(const char *s);
/* MIME type of a canonical format. */
const char *wgm_logs_export_content_type(const char *fmt);
/* A fresh name for a file written at @now, with 64 random bits.  0 or -ENOSPC. */
int wgm_logs_export_name(time_t now, const char *fmt, char *buf, size_t len);
/* True when @name has exactly the shape of wgm_logs_export_name; @fmt (may
 * be NULL) receives the canonical format. */
bool wgm_logs_export_name_valid(const char *name, const char **fmt);

/* One CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF,
 * quotes doubled; a cell a spreadsheet would run as a formula (first
 * character = + - @ tab CR) gets a leading single quote.  NULL writes an
 * empty cell.  0 or -EIO. */
int wgm_logs_csv_cell(FILE *f, const char *s);

/* Streaming writers: begin once, one call per row (@index counts from 0),
 * end once.  0 or -EIO / -ENOMEM. */
int wgm_logs_export_begin(FILE *f, const char *fmt);
int wgm_logs_export_row(FILE *f, const char *fmt, const struct wgm_logs_row *row, size_t index);
int wgm_logs_export_end(FILE *f, const char *fmt, size_t rows);

/* Delete the export files in @dir written more than WGM_LOGS_EXPORT_TTL_S
 * before @now (only names of the export shape are touched).  Returns how
 * many were deleted, or a negative errno when @dir cannot be read (a
 * missing directory is 0). */
int wgm_logs_export_sweep(const char *dir, time_t now);

/* After a sweep at @now: the bytes the remaining (live) export files in
 * @dir hold, and when the first of them expires (0: there is none).  0, or
 * a negative errno when @dir cannot be read (a missing directory is 0
 * bytes). */
int wgm_logs_export_usage(const char *dir, time_t now, uint64_t *bytes, time_t *next_expiry);

#endif
