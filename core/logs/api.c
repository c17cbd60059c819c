/* core/logs/api: GET /logs, /logs/export and the export download. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon.h"
#include "db/db.h"
#include "conf.h"
#include "http/router.h"
#include "http/server.h"
#include "logs/api.h"
#include "logs/export.h"
#include "logs/query.h"
#include "plugin/loader.h"
#include "util.h"

#define PAGE_MAX 1000000LL
#define SIZE_MAX_ROWS 100LL
#define SIZE_DEFAULT 20LL
#define DAY_MS (86400LL * 1000LL)

static const char *arg(const struct wgm_req *req, const char *name)
{
    return wgm_req_query(req, name);
}

static int validation_failed(struct wgm_resp *resp, json_t *errors)
{
    return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "invalid query parameters", errors);
}

static int db_unavailable(struct wgm_resp *resp)
{
    return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "the database is unavailable", NULL);
}

static int not_found(struct wgm_resp *resp, const char *name)
{
    return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such export, or it has expired",
                          name ? json_pack("{s:s}", "name", name) : NULL);
}

static int count_logs(struct wgm_db *db, const char *where, const struct wgm_logs_filter *f, int64_t *total)
{
    struct wgm_stmt *st = NULL;
    char sql[512];
    int rc;

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM logs%s", where);
    if ((rc = wgm_db_prepare(db, sql, &st)) < 0 || (rc = wgm_logs_filter_bind(f, st, 1)) < 0)
        goto out;
    rc = wgm_stmt_step(st);
    if (rc == WGM_DB_ROW) {
        *total = wgm_stmt_column_int(st, 0);
        rc = 0;
    } else if (rc == WGM_DB_DONE) {
        rc = WGM_DB_EERROR;
    }
out:
    wgm_stmt_free(st);
    return rc;
}

static int list_page(struct wgm_db *db, const char *where, const struct wgm_logs_filter *f, long long page,
                     long long size, json_t *out)
{
    struct wgm_stmt *st = NULL;
    struct wgm_logs_row row;
    char sql[768];
    int rc, idx;

    snprintf(sql, sizeof(sql), "SELECT " WGM_LOGS_COLUMNS " FROM logs%s ORDER BY ts DESC, id DESC LIMIT ? OFFSET ?",
             where);
    if ((rc = wgm_db_prepare(db, sql, &st)) < 0 || (rc = idx = wgm_logs_filter_bind(f, st, 1)) < 0 ||
        (rc = wgm_stmt_bind_int(st, idx, size)) < 0 || (rc = wgm_stmt_bind_int(st, idx + 1, (page - 1) * size)) < 0)
        goto out;
    while ((rc = wgm_stmt_step(st)) == WGM_DB_ROW) {
        wgm_logs_row_read(st, &row);
        if (json_array_append_new(out, wgm_logs_row_json(&row)) < 0) {
            rc = -ENOMEM;
            goto out;
        }
    }
out:
    wgm_stmt_free(st);
    return rc < 0 ? rc : 0;
}

static int get_logs(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    struct wgm_logs_filter f = {0};
    struct wgm_db *db = NULL;
    json_t *errors = json_object(), *logs = json_array(), *data;
    long long page = 1, size = SIZE_DEFAULT;
    int64_t total = 0, pages;
    const char *s;
    char where[256];
    int rc;

    if (!errors || !logs) {
        rc = -ENOMEM;
        goto out;
    }
    if ((s = arg(req, "page")) && wgm_parse_ll(s, 1, PAGE_MAX, &page) < 0)
        json_object_set_new(errors, "page", json_string("must be an integer from 1 to 1000000"));
    if ((s = arg(req, "size")) && wgm_parse_ll(s, 1, SIZE_MAX_ROWS, &size) < 0)
        json_object_set_new(errors, "size", json_string("must be an integer from 1 to 100"));
    rc = wgm_logs_filter_parse(&f, arg(req, "level"), arg(req, "start_time"), arg(req, "end_time"),
                               arg(req, "search"), arg(req, "module"), arg(req, "user_id"), errors);
    if (rc == -ENOMEM)
        goto out;
    if (json_object_size(errors)) {
        rc = validation_failed(resp, errors);
        errors = NULL;
        goto out;
    }
    if ((rc = wgm_logs_filter_where(&f, where, sizeof(where))) < 0)
        goto out;
    if (!(db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms))) {
        rc = db_unavailable(resp);
        goto out;
    }
    if ((rc = count_logs(db, where, &f, &total)) < 0 || (rc = list_page(db, where, &f, page, size, logs)) < 0)
        goto out;
    pages = (total + size - 1) / size;
    data = json_pack("{s:o,s:{s:I,s:I,s:I,s:I,s:b,s:b}}", "logs", logs, "pagination", "page", (json_int_t)page,
                     "size", (json_int_t)size, "total", (json_int_t)total, "pages", (json_int_t)pages, "has_next",
                     page < pages, "has_prev", page > 1);
    logs = NULL; /* stolen by json_pack, also when it fails */
    rc = data ? wgm_resp_json(resp, 200, data) : -ENOMEM;
out:
    wgm_db_release(db);
    wgm_logs_filter_clear(&f);
    json_decref(errors);
    json_decref(logs);
    return rc;
}

/* <state_dir>/exports, created 0700 and kept so: a directory that is a
 * symlink or someone else's is refused rather than written into. */
static int export_dir(struct wgm_daemon *d, char *buf, size_t len)
{
    struct stat st;
    int n = snprintf(buf, len, "%s/%s", d->state_dir, WGM_LOGS_EXPORT_DIR), r;

    if (!d->state_dir || n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    if ((r = wgm_mkdir_p(buf, 0700)) < 0)
        return r;
    if (lstat(buf, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return -ENOTDIR;
    if ((st.st_mode & 0777) != 0700 && chmod(buf, 0700) < 0)
        return -errno;
    return 0;
}

/* 1 with a 507 in @resp when the live exports in @dir hold more than
 * [logs] export_quota_mb (or reach it, before a new one: @before), 0 when
 * there is room, or a negative errno.  Expired files are deleted first;
 * live ones are someone's download and stay. */
static int over_quota(struct wgm_daemon *d, const char *dir, bool before, struct wgm_resp *resp)
{
    uint64_t quota = (uint64_t)wgm_conf_get_int(d->conf, "logs", "export_quota_mb", 256) << 20, used = 0;
    time_t now = time(NULL), next = 0;
    char retry[24];
    int rc = wgm_logs_export_usage(dir, now, &used, &next);

    if (rc < 0)
        return rc;
    if (before ? used < quota : used <= quota)
        return 0;
    rc = wgm_resp_error(resp, 507, "INSUFFICIENT_STORAGE",
                        "the log export quota is used up; try again when an earlier export expires",
                        json_pack("{s:I,s:I}", "quota_bytes", (json_int_t)quota, "used_bytes", (json_int_t)used));
    if (rc == 0 && next > now) {
        snprintf(retry, sizeof(retry), "%lld", (long long)(next - now));
        rc = resp->host->resp_header(resp, "Retry-After", retry);
    }
    return rc < 0 ? rc : 1;
}

/* Stream the matching rows into @f, oldest first.  @rows gets the count. */
static int write_export(struct wgm_db *db, const char *where, const struct wgm_logs_filter *flt,
                        const char *fmt, FILE *f, size_t *rows)
{
    struct wgm_stmt *st = NULL;
    struct wgm_logs_row row;
    char sql[768];
    int rc, idx;

    *rows = 0;
    snprintf(sql, sizeof(sql), "SELECT " WGM_LOGS_COLUMNS " FROM logs%s ORDER BY ts, id LIMIT ?", where);
    if ((rc = wgm_db_prepare(db, sql, &st)) < 0 || (rc = idx = wgm_logs_filter_bind(flt, st, 1)) < 0 ||
        (rc = wgm_stmt_bind_int(st, idx, WGM_LOGS_EXPORT_MAX_RECORDS)) < 0 ||
        (rc = wgm_logs_export_begin(f, fmt)) < 0)
        goto out;
    while ((rc = wgm_stmt_step(st)) == WGM_DB_ROW) {
        wgm_logs_row_read(st, &row);
        if ((rc = wgm_logs_export_row(f, fmt, &row, *rows)) < 0)
            goto out;
        (*rows)++;
    }
    if (rc == WGM_DB_DONE)
        rc = wgm_logs_export_end(f, fmt, *rows);
out:
    wgm_stmt_free(st);
    return rc;
}

/* Absent required parameters: 400 MISSING_PARAMETER naming each (the
 * spec's "缺少必需参数"); present but invalid ones stay 422. */
static int export_missing(const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const required[] = {"format", "start_time", "end_time"};
    json_t *missing = json_object();

    if (!missing)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!arg(req, required[i]))
            json_object_set_new(missing, required[i], json_string("is required"));
    if (!json_object_size(missing)) {
        json_decref(missing);
        return 0;
    }
    wgm_resp_error(resp, 400, "MISSING_PARAMETER", "required parameters are missing", missing);
    return 1;
}

static int export_validate(const struct wgm_req *req, struct wgm_logs_filter *flt, const char **fmt,
                           json_t *errors)
{
    const char *format = arg(req, "format"), *start = arg(req, "start_time"), *end = arg(req, "end_time");
    int rc;

    if (!(*fmt = wgm_logs_export_format(format)))
        json_object_set_new(errors, "format", json_string("must be json, csv or txt"));
    rc = wgm_logs_filter_parse(flt, arg(req, "level"), start, end, NULL, arg(req, "module"), NULL, errors);
    if (rc == -ENOMEM)
        return rc;
    /* The end covers its whole second, hence the extra second. */
    if (flt->has_start && flt->has_end && flt->end_ms - flt->start_ms >= WGM_LOGS_EXPORT_MAX_DAYS * DAY_MS + 1000 &&
        !json_object_get(errors, "end_time"))
        json_object_set_new(errors, "end_time", json_string("the range may cover at most 31 days"));
    return json_object_size(errors) ? -EINVAL : 0;
}

static int get_export(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    struct wgm_logs_filter flt = {0};
    struct wgm_db *db = NULL;
    json_t *errors = json_object(), *data;
    const char *fmt = NULL;
    char where[256], dir[4096], path[4200], name[WGM_LOGS_EXPORT_NAME_MAX], url[128], expires[32], reason[96];
    int64_t total = 0;
    size_t rows = 0;
    struct stat st;
    FILE *f = NULL;
    int rc, fd;

    path[0] = '\0';
    if (!errors)
        return -ENOMEM;
    if ((rc = export_missing(req, resp)) != 0) {
        json_decref(errors);
        return rc < 0 ? rc : 0;
    }
    rc = export_validate(req, &flt, &fmt, errors);
    if (rc == -EINVAL) {
        rc = validation_failed(resp, errors);
        errors = NULL;
        goto out;
    }
    if (rc < 0 || (rc = wgm_logs_filter_where(&flt, where, sizeof(where))) < 0)
        goto out;
    if (!(db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms))) {
        rc = db_unavailable(resp);
        goto out;
    }
    if ((rc = count_logs(db, where, &flt, &total)) < 0)
        goto out;
    if (total > WGM_LOGS_EXPORT_MAX_RECORDS) {
        snprintf(reason, sizeof(reason), "the range holds %lld records; at most %d can be exported", (long long)total,
                 WGM_LOGS_EXPORT_MAX_RECORDS);
        json_object_set_new(errors, "end_time", json_string(reason));
        rc = validation_failed(resp, errors);
        errors = NULL;
        goto out;
    }
    if ((rc = export_dir(d, dir, sizeof(dir))) < 0 || (rc = wgm_logs_export_name(time(NULL), fmt, name, sizeof(name))) < 0)
        goto out;
    if ((rc = over_quota(d, dir, true, resp)) != 0) {
        rc = rc < 0 ? rc : 0;
        goto out;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        path[0] = '\0'; /* not ours to unlink */
        goto out;
    }
    if (!(f = fdopen(fd, "w"))) {
        rc = -errno;
        close(fd);
        goto out;
    }
    if ((rc = write_export(db, where, &flt, fmt, f, &rows)) < 0)
        goto out;
    /* Release the connection before the slow part is over: the rest is disk. */
    wgm_db_release(db);
    db = NULL;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fstat(fileno(f), &st) != 0) {
        rc = -errno;
        goto out;
    }
    rc = fclose(f);
    f = NULL;
    if (rc != 0) {
        rc = -EIO;
        goto out;
    }
    /* The new file counts too: one that does not fit is not kept. */
    if ((rc = over_quota(d, dir, false, resp)) != 0) {
        rc = rc < 0 ? rc : 0;
        goto out;
    }
    snprintf(url, sizeof(url), "/api/v1/logs/export/download/%s", name);
    wgm_time_rfc3339(st.st_mtime + WGM_LOGS_EXPORT_TTL_S, expires, sizeof(expires));
    data = json_pack("{s:s,s:I,s:s,s:s,s:I}", "download_url", url, "file_size", (json_int_t)st.st_size, "expires_at",
                     expires, "format", fmt, "records", (json_int_t)rows);
    if (!data) {
        rc = -ENOMEM;
        goto out;
    }
    rc = wgm_resp_json_msg(resp, 200, data, "Log export ready", "日志导出成功");
    path[0] = '\0'; /* keep the file */
out:
    if (f)
        fclose(f);
    if (path[0])
        unlink(path);
    wgm_db_release(db);
    wgm_logs_filter_clear(&flt);
    json_decref(errors);
    return rc;
}

static int get_download(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    const char *name = wgm_req_param(req, "name"), *fmt = NULL;
    char path[4200], disposition[128];
    struct stat st;
    int fd = -1, rc;

    if (!wgm_logs_export_name_valid(name, &fmt) || !d->state_dir)
        return not_found(resp, NULL);
    snprintf(path, sizeof(path), "%s/%s/%s", d->state_dir, WGM_LOGS_EXPORT_DIR, name);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT || errno == ELOOP ? not_found(resp, name) : -errno;
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = not_found(resp, name);
        goto out;
    }
    if (st.st_mtime + WGM_LOGS_EXPORT_TTL_S <= time(NULL)) {
        unlink(path);
        rc = not_found(resp, name);
        goto out;
    }
    /* Streamed from the open file: nothing the size of the export is held
     * in memory, and a sweep that unlinks it meanwhile does not cut it. */
    rc = wgm_http_respond_file(resp, 200, wgm_logs_export_content_type(fmt), fd, (uint64_t)st.st_size);
    fd = -1; /* the response's now */
    if (rc < 0)
        goto out;
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
    rc = resp->host->resp_header(resp, "Content-Disposition", disposition);
out:
    if (fd >= 0)
        close(fd);
    return rc;
}

int wgm_logs_register(struct wgm_daemon *d)
{
    static const struct {
        const char *path;
        wgm_handler_fn fn;
    } routes[] = {
        {"/api/v1/logs", get_logs},
        {"/api/v1/logs/export", get_export},
        {"/api/v1/logs/export/download/{name}", get_download},
    };
    int r;

    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if ((r = wgm_router_add(d->router, d->core_ctx, "GET", routes[i].path, "logs.view", routes[i].fn)) < 0)
            return r;
    return 0;
}
