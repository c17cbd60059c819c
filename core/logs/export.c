/* core/logs/export: names, formats and expiry of export files. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "logs/export.h"

static const char *const formats[] = {"json", "csv", "txt"};

const char *wgm_logs_export_format(const char *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
        if (strcasecmp(s, formats[i]) == 0)
            return formats[i];
    return NULL;
}

const char *wgm_logs_export_content_type(const char *fmt)
{
    if (strcmp(fmt, "json") == 0)
        return "application/json";
    if (strcmp(fmt, "csv") == 0)
        return "text/csv; charset=utf-8";
    return "text/plain; charset=utf-8";
}

int wgm_logs_export_name(time_t now, const char *fmt, char *buf, size_t len)
{
    unsigned char raw[8];
    char hex[17], stamp[20];
    struct tm tm;
    int n;

    gmtime_r(&now, &tm);
    if (strftime(stamp, sizeof(stamp), "%Y%m%d_%H%M%S", &tm) != 15)
        return -ENOSPC;
    /* Unguessable, so one caller cannot fetch another's export by name. */
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    n = snprintf(buf, len, "logs_%s_%s.%s", stamp, hex, fmt);
    return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

static bool all(const char *s, size_t n, int (*cls)(int))
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !cls((unsigned char)s[i]))
            return false;
    return true;
}

static int lower_hex(int c)
{
    return isdigit(c) || (c >= 'a' && c <= 'f');
}

bool wgm_logs_export_name_valid(const char *name, const char **fmt)
{
    const char *f;

    /* logs_ DDDDDDDD _ DDDDDD _ 16 hex . ext: byte by byte, no pattern library
     * and nothing a "..", "/" or "%2f" could slip through. */
    if (!name || strncmp(name, "logs_", 5) != 0 || !all(name + 5, 8, isdigit) || name[13] != '_' ||
        !all(name + 14, 6, isdigit) || name[20] != '_' || !all(name + 21, 16, lower_hex) || name[37] != '.')
        return false;
    f = name + 38;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(f, formats[i]) == 0) {
            if (fmt)
                *fmt = formats[i];
            return true;
        }
    }
    return false;
}

int wgm_logs_csv_cell(FILE *f, const char *s)
{
    bool quote, guard;

    if (!s)
        return 0;
    /* OWASP's list: a spreadsheet evaluates a cell starting with these. */
    guard = s[0] && strchr("=+-@\t\r", s[0]);
    quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote && fputc('"', f) == EOF)
        return -EIO;
    if (guard && fputc('\'', f) == EOF)
        return -EIO;
    for (const char *p = s; *p; p++) {
        if (*p == '"' && fputc('"', f) == EOF)
            return -EIO;
        if (fputc(*p, f) == EOF)
            return -EIO;
    }
    if (quote && fputc('"', f) == EOF)
        return -EIO;
    return 0;
}

/* One line per record: control characters are escaped so a message with a
 * newline cannot forge a second record. */
static int txt_text(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        int r;
        if (*p == '\\')
            r = fputs("\\\\", f);
        else if (*p == '\n')
            r = fputs("\\n", f);
        else if (*p == '\r')
            r = fputs("\\r", f);
        else if (*p == '\t')
            r = fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            r = fprintf(f, "\\x%02x", *p);
        else
            r = fputc(*p, f);
        if (r < 0)
            return -EIO;
    }
    return 0;
}

static int txt_field(FILE *f, const char *name, const char *value)
{
    if (!value)
        return 0;
    if (fprintf(f, " %s=", name) < 0)
        return -EIO;
    return txt_text(f, value);
}

static int write_txt(FILE *f, const struct wgm_logs_row *row)
{
    char ts[40], uid[24];
    int r;

    wgm_logs_time_format(row->ts_ms, true, ts, sizeof(ts));
    if (fprintf(f, "%s %-8s [", ts, row->level ? row->level : "-") < 0 || txt_text(f, row->module) < 0 ||
        fputs("] ", f) < 0 || txt_text(f, row->message) < 0)
        return -EIO;
    snprintf(uid, sizeof(uid), "%lld", (long long)row->user_id);
    if ((r = txt_field(f, "user_id", row->user_id ? uid : NULL)) < 0 ||
        (r = txt_field(f, "api_key_id", row->api_key_id)) < 0 || (r = txt_field(f, "ip", row->ip_address)) < 0 ||
        (r = txt_field(f, "request_id", row->request_id)) < 0 || (r = txt_field(f, "details", row->details)) < 0 ||
        (r = txt_field(f, "tags", row->tags)) < 0)
        return r;
    return fputc('\n', f) == EOF ? -EIO : 0;
}

static int write_csv(FILE *f, const struct wgm_logs_row *row)
{
    char ts[40];
    int r = 0;

    wgm_logs_time_format(row->ts_ms, false, ts, sizeof(ts));
    if (fprintf(f, "%lld,%s,", (long long)row->id, ts) < 0)
        return -EIO;
    if ((r = wgm_logs_csv_cell(f, row->level)) < 0 || fputc(',', f) == EOF ||
        (r = wgm_logs_csv_cell(f, row->module)) < 0 || fputc(',', f) == EOF ||
        (r = wgm_logs_csv_cell(f, row->message)) < 0 || fputc(',', f) == EOF)
        return -EIO;
    if (row->user_id && fprintf(f, "%lld", (long long)row->user_id) < 0)
        return -EIO;
    if (fputc(',', f) == EOF || (r = wgm_logs_csv_cell(f, row->api_key_id)) < 0 || fputc(',', f) == EOF ||
        (r = wgm_logs_csv_cell(f, row->ip_address)) < 0 || fputc(',', f) == EOF ||
        (r = wgm_logs_csv_cell(f, row->request_id)) < 0 || fputc(',', f) == EOF ||
        (r = wgm_logs_csv_cell(f, row->details)) < 0 || fputc(',', f) == EOF ||
        (r = wgm_logs_csv_cell(f, row->tags)) < 0 || fputs(",\r\n", f) == EOF) /* stack_trace: empty */
        return -EIO;
    return 0;
}

static int write_json(FILE *f, const struct wgm_logs_row *row, size_t index)
{
    json_t *o = wgm_logs_row_json(row);
    int r = 0;

    if (!o)
        return -ENOMEM;
    if (fputs(index ? ",\n" : "\n", f) == EOF || json_dumpf(o, f, JSON_COMPACT) < 0)
        r = -EIO;
    json_decref(o);
    return r;
}

int wgm_logs_export_begin(FILE *f, const char *fmt)
{
    int r = 0;

    if (strcmp(fmt, "json") == 0)
        r = fputc('[', f) == EOF ? -EIO : 0;
    else if (strcmp(fmt, "csv") == 0)
        r = fputs("id,timestamp,level,module,message,user_id,api_key_id,ip_address,request_id,details,tags,stack_trace\r\n",
                  f) == EOF
                ? -EIO
                : 0;
    return r;
}

int wgm_logs_export_row(FILE *f, const char *fmt, const struct wgm_logs_row *row, size_t index)
{
    if (strcmp(fmt, "json") == 0)
        return write_json(f, row, index);
    if (strcmp(fmt, "csv") == 0)
        return write_csv(f, row);
    return write_txt(f, row);
}

int wgm_logs_export_end(FILE *f, const char *fmt, size_t rows)
{
    if (strcmp(fmt, "json") == 0 && fputs(rows ? "\n]\n" : "]\n", f) == EOF)
        return -EIO;
    return 0;
}

int wgm_logs_export_sweep(const char *dir, time_t now)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat st;
    int n = 0;

    if (!d)
        return errno == ENOENT ? 0 : -errno;
    while ((e = readdir(d))) {
        if (!wgm_logs_export_name_valid(e->d_name, NULL) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            st.st_mtime + WGM_LOGS_EXPORT_TTL_S > now)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            n++;
    }
    closedir(d);
    return n;
}

int wgm_logs_export_usage(const char *dir, time_t now, uint64_t *bytes, time_t *next_expiry)
{
    DIR *d;
    struct dirent *e;
    struct stat st;
    int r;

    *bytes = 0;
    *next_expiry = 0;
    /* Expired files are nobody's any more: they go before any quota check. */
    if ((r = wgm_logs_export_sweep(dir, now)) < 0)
        return r;
    if (!(d = opendir(dir)))
        return errno == ENOENT ? 0 : -errno;
    while ((e = readdir(d))) {
        if (!wgm_logs_export_name_valid(e->d_name, NULL) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        *bytes += (uint64_t)st.st_size;
        if (!*next_expiry || st.st_mtime + WGM_LOGS_EXPORT_TTL_S < *next_expiry)
            *next_expiry = st.st_mtime + WGM_LOGS_EXPORT_TTL_S;
    }
    closedir(d);
    return 0;
}
