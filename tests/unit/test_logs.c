/*
 * core/logs: the parts that need no HTTP.  The queue's drop-and-count, the
 * filters (times, levels, LIKE escaping, WHERE fragments), the export
 * writers (CSV quoting and formula guard, one-line TXT, JSON), export names
 * and expiry, UTF-8 cleaning, and the store itself on a temporary SQLite
 * database: sink, structured records, a failing database that must not
 * feed itself, and the retention purge.  With WGM_TEST_MYSQL_URL the
 * non-destructive store checks also run on MariaDB.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <wgm/input.h>

#include "daemon.h"
#include "db/db.h"
#include "log.h"
#include "logs/export.h"
#include "logs/query.h"
#include "logs/queue.h"
#include "logs/retention.h"
#include "logs/store.h"
#include "validate.h"
#include "tap.h"

/* --- queue -------------------------------------------------------------- */

static void test_queue_basics(void)
{
    struct wgm_logq q;
    void *out[8];
    int a = 1, b = 2, c = 3, d = 4;

    ok(wgm_logq_init(&q) == 0, "queue: init");
    is_int(wgm_logq_push(&q, &a), -EPIPE, "queue: push before open is refused");
    is_int(wgm_logq_take_dropped(&q), 0, "queue: a refusal while closed is not a drop");
    is_int(wgm_logq_open(&q, 0), -EINVAL, "queue: capacity 0 refused");
    is_int(wgm_logq_open(&q, 3), 0, "queue: open with capacity 3");
    is_int(wgm_logq_open(&q, 3), -EBUSY, "queue: open twice refused");
    is_int(wgm_logq_push(&q, &a), 0, "queue: push 1");
    is_int(wgm_logq_push(&q, &b), 0, "queue: push 2");
    is_int(wgm_logq_push(&q, &c), 0, "queue: push 3");
    is_int(wgm_logq_push(&q, &d), -ENOSPC, "queue: push into a full queue is refused at once");
    is_int(wgm_logq_push(&q, &d), -ENOSPC, "queue: and again");
    is_int(wgm_logq_take_dropped(&q), 2, "queue: both drops counted");
    is_int(wgm_logq_take_dropped(&q), 0, "queue: the count resets when taken");
    is_int(wgm_logq_pop(&q, out, 2, 0), 2, "queue: pop 2 of 3");
    ok(out[0] == &a && out[1] == &b, "queue: oldest first");
    is_int(wgm_logq_push(&q, &d), 0, "queue: room again after a pop");
    is_int(wgm_logq_pop(&q, out, 8, 20), 2, "queue: a short batch after the wait");
    ok(out[0] == &c && out[1] == &d, "queue: order kept across the wrap");
    is_int(wgm_logq_pop(&q, out, 8, 10), 0, "queue: empty pop times out with 0");
    wgm_logq_push(&q, &a);
    wgm_logq_close(&q);
    is_int(wgm_logq_push(&q, &b), -EPIPE, "queue: push after close refused");
    is_int(wgm_logq_pop(&q, out, 8, 1000), 1, "queue: what was queued is still delivered after close");
    is_int(wgm_logq_pop(&q, out, 8, 1000), -EPIPE, "queue: then -EPIPE, without waiting");
    wgm_logq_destroy(&q, NULL);
}

static void test_queue_clear_frees(void)
{
    struct wgm_logq q;

    wgm_logq_init(&q);
    wgm_logq_open(&q, 4);
    for (int i = 0; i < 4; i++)
        wgm_logq_push(&q, malloc(16));
    wgm_logq_clear(&q, free); /* valgrind proves the items were freed */
    is_int(wgm_logq_push(&q, &q), -EPIPE, "queue: cleared queue refuses pushes");
    is_int(wgm_logq_open(&q, 2), 0, "queue: a cleared queue can be opened again");
    wgm_logq_destroy(&q, free);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct qstats {
    struct wgm_logq *q;
    atomic_long accepted, refused;
};

static void *producer(void *arg)
{
    struct qstats *s = arg;
    static int token;

    for (int i = 0; i < PER_PRODUCER; i++) {
        if (wgm_logq_push(s->q, &token) == 0)
            atomic_fetch_add(&s->accepted, 1);
        else
            atomic_fetch_add(&s->refused, 1);
    }
    return NULL;
}

/* Producers outrun a slow consumer: nothing blocks, and every push is
 * either delivered or counted as dropped. */
static void test_queue_under_pressure(void)
{
    struct wgm_logq q;
    struct qstats s = {.q = &q};
    pthread_t th[PRODUCERS];
    void *out[64];
    long consumed = 0;
    ssize_t n;

    wgm_logq_init(&q);
    wgm_logq_open(&q, 100);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&th[i], NULL, producer, &s);
    for (int round = 0; round < 50; round++) {
        n = wgm_logq_pop(&q, out, 64, 1);
        consumed += n > 0 ? n : 0;
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    wgm_logq_close(&q);
    while ((n = wgm_logq_pop(&q, out, 64, 0)) >= 0)
        consumed += n;
    is_int(atomic_load(&s.accepted) + atomic_load(&s.refused), PRODUCERS * PER_PRODUCER,
           "queue pressure: every push answered");
    is_int(consumed, atomic_load(&s.accepted), "queue pressure: every accepted item delivered");
    is_int((long)wgm_logq_take_dropped(&q), atomic_load(&s.refused), "queue pressure: every refusal counted");
    ok(atomic_load(&s.refused) > 0, "queue pressure: the bound was hit (%ld drops)", atomic_load(&s.refused));
    wgm_logq_destroy(&q, NULL);
}

/* --- filters ------------------------------------------------------------ */

static void test_time_parse(void)
{
    int64_t ms = 0;
    bool frac = true;

    ok(wgm_logs_time_parse("2024-01-01T00:00:00Z", &ms, &frac) == 0 && ms == 1704067200000LL && !frac,
       "time: UTC");
    ok(wgm_logs_time_parse("2024-01-01T01:00:00+01:00", &ms, NULL) == 0 && ms == 1704067200000LL, "time: +01:00");
    ok(wgm_logs_time_parse("2023-12-31T19:30:00-04:30", &ms, NULL) == 0 && ms == 1704067200000LL, "time: -04:30");
    ok(wgm_logs_time_parse("2024-01-01T00:00:00.25Z", &ms, &frac) == 0 && ms == 1704067200250LL && frac,
       "time: fraction to milliseconds");
    ok(wgm_logs_time_parse("2024-01-01T00:00:00.123456789z", &ms, NULL) == 0 && ms == 1704067200123LL,
       "time: digits past ms dropped, lower-case z");
    ok(wgm_logs_time_parse("1970-01-01T00:00:00Z", &ms, NULL) == 0 && ms == 0, "time: epoch");
    ok(wgm_logs_time_parse("2024-02-29T12:00:00Z", &ms, NULL) == 0, "time: leap day");
    ok(wgm_logs_time_parse("2100-01-01T00:00:00Z", &ms, NULL) == 0 && ms == 4102444800000LL,
       "time: past 2038");
    static const char *const bad[] = {
        "", "2024-01-01", "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", " 2024-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00+01:00x", "2024-01-01T00:00:00ZZ", "yesterday", "1704067200",
        "2024-01-01T00:00:00+24:00",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(wgm_logs_time_parse(bad[i], &ms, NULL) == -EINVAL, "time: refuses \"%s\"", bad[i]);
    ok(wgm_logs_time_parse(NULL, &ms, NULL) == -EINVAL, "time: refuses NULL");
    /* the SDK's writer gives back what the parser reads */
    {
        char buf[WGM_TIME_LEN];
        is_str(wgm_time_format(1704067200, buf, sizeof(buf)), "2024-01-01T00:00:00Z", "time: format");
        ok(wgm_in_parse_time(wgm_time_format(951782400, buf, sizeof(buf)), &ms, NULL) == 0 && ms == 951782400000LL,
           "time: format and parse round-trip (2000-02-29)");
        is_str(wgm_time_format(0, buf, 5), "", "time: a short buffer gives \"\", not a cut time");
    }
}

static void test_like(void)
{
    char *p;

    is_str(p = wgm_like_pattern("plain"), "%plain%", "like: plain text wrapped");
    free(p);
    is_str(p = wgm_like_pattern("50%_off!"), "%50!%!_off!!%", "like: % _ and ! escaped");
    free(p);
    is_str(p = wgm_like_pattern("a\\b'c\""), "%a\\b'c\"%", "like: backslash and quotes are plain");
    free(p);
    is_str(p = wgm_like_pattern(""), "%%", "like: empty");
    free(p);
}

static void test_levels(void)
{
    is_str(wgm_logs_level_canon("error"), "ERROR", "level: case-insensitive");
    is_str(wgm_logs_level_canon("Critical"), "CRITICAL", "level: CRITICAL");
    is_str(wgm_logs_level_canon("WARN"), "WARN", "level: WARN");
    is_str(wgm_logs_level_canon("WARNING"), "WARN", "level: WARNING is WARN");
    is_str(wgm_logs_level_canon("warning"), "WARN", "level: warning is WARN");
    ok(wgm_logs_level_canon("WARNINGS") == NULL && wgm_logs_level_canon("WAR") == NULL, "level: no prefixes");
    ok(wgm_logs_level_canon("") == NULL && wgm_logs_level_canon(NULL) == NULL, "level: empty and NULL");
}

static void test_filter(void)
{
    struct wgm_logs_filter f;
    json_t *errors = json_object();
    char where[256];

    is_int(wgm_logs_filter_parse(&f, NULL, NULL, NULL, NULL, NULL, NULL, errors), 0, "filter: none");
    wgm_logs_filter_where(&f, where, sizeof(where));
    is_str(where, "", "filter: no WHERE without filters");
    wgm_logs_filter_clear(&f);

    is_int(wgm_logs_filter_parse(&f, "info", "2024-01-01T00:00:00Z", "2024-01-01T23:59:59Z", "x_y", "audit", "7",
                                 errors),
           0, "filter: all valid");
    is_int(json_object_size(errors), 0, "filter: no errors");
    is_str(f.level, "INFO", "filter: level canonical");
    is_int(f.end_ms, 1704153599999LL, "filter: an end without fraction covers its second");
    is_str(f.like, "%x!_y%", "filter: search escaped");
    ok(f.has_user && f.user_id == 7, "filter: user_id");
    wgm_logs_filter_where(&f, where, sizeof(where));
    is_str(where,
           " WHERE ts >= ? AND ts <= ? AND level = ? AND module = ? AND message LIKE ? ESCAPE '!' AND user_id = ?",
           "filter: WHERE from fixed fragments, in bind order");
    is_int(wgm_logs_filter_where(&f, where, 20), -ENOSPC, "filter: short buffer refused");
    wgm_logs_filter_clear(&f);

    is_int(wgm_logs_filter_parse(&f, "loud", "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z", NULL, "", "0", errors),
           -EINVAL, "filter: bad values");
    ok(json_object_get(errors, "level") && json_object_get(errors, "end_time") && json_object_get(errors, "module") &&
           json_object_get(errors, "user_id") && !json_object_get(errors, "start_time"),
       "filter: each bad field named, end before start names end_time");
    wgm_logs_filter_clear(&f);
    json_object_clear(errors);

    is_int(wgm_logs_filter_parse(&f, NULL, "soon", "2024-01-01T00:00:00Z.5", NULL, NULL, "12abc", errors), -EINVAL,
           "filter: unparsable times and ids");
    ok(json_object_get(errors, "start_time") && json_object_get(errors, "end_time") &&
           json_object_get(errors, "user_id"),
       "filter: start_time, end_time and user_id named");
    wgm_logs_filter_clear(&f);
    json_object_clear(errors);

    char longtext[WGM_LOGS_SEARCH_MAX + 2];
    memset(longtext, 'a', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    is_int(wgm_logs_filter_parse(&f, NULL, NULL, NULL, longtext, NULL, NULL, errors), -EINVAL,
           "filter: over-long search refused");
    wgm_logs_filter_clear(&f);
    json_object_clear(errors);
    is_int(wgm_logs_filter_parse(&f, NULL, NULL, NULL, "", NULL, NULL, errors), 0, "filter: empty search valid");
    ok(f.like == NULL, "filter: an empty search is no search");
    wgm_logs_filter_clear(&f);
    wgm_logs_filter_clear(NULL);
    json_decref(errors);
}

/* --- export ------------------------------------------------------------- */

/* Run @fn on a memory stream and return what it wrote (static buffer). */
static const char *csv(const char *cell)
{
    static char out[512];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    wgm_logs_csv_cell(f, cell);
    fclose(f);
    snprintf(out, sizeof(out), "%s", buf);
    free(buf);
    return out;
}

/* is_str for texts with line breaks: TAP descriptions must stay on one line. */
static void same_text(const char *got, const char *want, const char *name)
{
    ok(got && strcmp(got, want) == 0, "%s", name);
    if (!got || strcmp(got, want) != 0)
        for (const char *p = got ? got : "(null)"; *p; p++)
            printf(p == got || p[-1] == '\n' ? "#   got: %c" : "%c", *p == '\r' ? '~' : *p);
}

static void test_csv_cells(void)
{
    is_str(csv("plain"), "plain", "csv: plain cell bare");
    is_str(csv(""), "", "csv: empty");
    is_str(csv(NULL), "", "csv: NULL is an empty cell");
    is_str(csv("a,b"), "\"a,b\"", "csv: comma quoted");
    is_str(csv("say \"hi\""), "\"say \"\"hi\"\"\"", "csv: quotes doubled");
    same_text(csv("two\nlines"), "\"two\nlines\"", "csv: newline quoted");
    same_text(csv("cr\rhere"), "\"cr\rhere\"", "csv: CR quoted");
    is_str(csv("=1+2"), "'=1+2", "csv: = guarded");
    is_str(csv("+cmd"), "'+cmd", "csv: + guarded");
    is_str(csv("-2"), "'-2", "csv: - guarded");
    is_str(csv("@SUM(A1)"), "'@SUM(A1)", "csv: @ guarded");
    is_str(csv("\tx"), "'\tx", "csv: tab guarded");
    is_str(csv("=HYPERLINK(\"x\",\"y\")"), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"", "csv: guard inside the quotes");
    is_str(csv("a=b"), "a=b", "csv: = later in the cell is fine");
}

static char *export_text(const char *fmt, const struct wgm_logs_row *rows, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc = wgm_logs_export_begin(f, fmt);

    for (size_t i = 0; i < n && rc == 0; i++)
        rc = wgm_logs_export_row(f, fmt, &rows[i], i);
    if (rc == 0)
        rc = wgm_logs_export_end(f, fmt, n);
    fclose(f);
    if (rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void test_export_formats(void)
{
    struct wgm_logs_row rows[2] = {
        {.id = 1, .ts_ms = 1704067200123LL, .level = "INFO", .module = "audit",
         .message = "POST /api/v1/users -> 201", .user_id = 3, .ip_address = "::1", .request_id = "req_1",
         .details = "{\"status\":201}", .tags = "[\"a\"]"},
        {.id = 2, .ts_ms = 1704067201000LL, .level = "ERROR", .module = "core",
         .message = "=cmd|' /C calc'!A0\nforged line", .details = NULL, .tags = NULL},
    };
    char *s;
    json_t *j;

    s = export_text("csv", rows, 2);
    same_text(s,
           "id,timestamp,level,module,message,user_id,api_key_id,ip_address,request_id,details,tags,stack_trace\r\n"
           "1,2024-01-01T00:00:00Z,INFO,audit,POST /api/v1/users -> 201,3,,::1,req_1,\"{\"\"status\"\":201}\",\"[\"\"a\"\"]\",\r\n"
           "2,2024-01-01T00:00:01Z,ERROR,core,\"'=cmd|' /C calc'!A0\nforged line\",,,,,,,\r\n",
           "export: csv rows");
    free(s);

    s = export_text("txt", rows, 2);
    same_text(s,
           "2024-01-01T00:00:00.123Z INFO     [audit] POST /api/v1/users -> 201 user_id=3 ip=::1 request_id=req_1"
           " details={\"status\":201} tags=[\"a\"]\n"
           "2024-01-01T00:00:01.000Z ERROR    [core] =cmd|' /C calc'!A0\\nforged line\n",
           "export: txt one line per record, newline escaped");
    free(s);

    s = export_text("json", rows, 2);
    j = s ? json_loads(s, 0, NULL) : NULL;
    ok(json_is_array(j) && json_array_size(j) == 2, "export: json is an array of 2");
    is_str(json_string_value(json_object_get(json_array_get(j, 0), "timestamp")), "2024-01-01T00:00:00Z",
           "export: json timestamp");
    is_int(json_integer_value(json_object_get(json_object_get(json_array_get(j, 0), "details"), "status")), 201,
           "export: json details is an object");
    ok(json_is_null(json_object_get(json_array_get(j, 1), "user_id")) &&
           json_is_array(json_object_get(json_array_get(j, 1), "tags")),
       "export: json null user and empty tags");
    ok(json_object_get(json_array_get(j, 0), "stack_trace") && json_is_null(json_object_get(json_array_get(j, 0), "stack_trace")),
       "export: json stack_trace present and null");
    json_decref(j);
    free(s);

    s = export_text("json", rows, 0);
    j = s ? json_loads(s, 0, NULL) : NULL;
    ok(json_is_array(j) && json_array_size(j) == 0, "export: empty json export is []");
    json_decref(j);
    free(s);

    s = export_text("csv", rows, 0);
    ok(s && strchr(s, '\n') == s + strlen(s) - 1, "export: empty csv is the header");
    free(s);
}

static void test_export_names(void)
{
    char name[WGM_LOGS_EXPORT_NAME_MAX], other[WGM_LOGS_EXPORT_NAME_MAX];
    const char *fmt = NULL;

    is_int(wgm_logs_export_name(1704067200, "csv", name, sizeof(name)), 0, "name: made");
    ok(strncmp(name, "logs_20240101_000000_", 21) == 0 && strlen(name) == 41, "name: shape %s", name);
    ok(wgm_logs_export_name_valid(name, &fmt) && strcmp(fmt, "csv") == 0, "name: own names are valid");
    wgm_logs_export_name(1704067200, "csv", other, sizeof(other));
    ok(strcmp(name, other) != 0, "name: random part differs");
    is_int(wgm_logs_export_name(1704067200, "json", name, 20), -ENOSPC, "name: short buffer");
    ok(wgm_logs_export_name_valid("logs_20240101_000000_0123456789abcdef.json", &fmt) && strcmp(fmt, "json") == 0,
       "name: json");
    ok(wgm_logs_export_name_valid("logs_20240101_000000_0123456789abcdef.txt", NULL), "name: txt");
    static const char *const bad[] = {
        "", "logs_", "../logs_20240101_000000_0123456789abcdef.json",
        "logs_20240101_000000_0123456789abcdef.json/..", "logs_20240101_000000_0123456789abcdef.json.",
        "logs_20240101_000000_0123456789abcdef.JSON", "logs_20240101_000000_0123456789ABCDEF.json",
        "logs_20240101_000000_0123456789abcde.json", "logs_20240101_000000_0123456789abcdef0.json",
        "logs_20240101_000000_0123456789abcdef.exe", "logs_2024010a_000000_0123456789abcdef.json",
        "logs_20240101-000000_0123456789abcdef.json", "LOGS_20240101_000000_0123456789abcdef.json",
        "logs_20240101_000000_0123456789abcdef.jso", "logs_20240101_000000_0123456789abcdef",
        "logs_20240101_000000_..%2f..%2fetc%2fpasswd", "..%2f..%2fetc%2fpasswd", "..", ".",
        "logs_20240101_000000_0123456789abcdef.json\n", "logs_20240101_000000_0123456789abcdef.csv ",
        "/etc/passwd",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok(!wgm_logs_export_name_valid(bad[i], NULL), "name: refuses \"%.*s\" (#%zu)",
           (int)strcspn(bad[i], "\r\n"), bad[i], i);
    ok(!wgm_logs_export_name_valid(NULL, NULL), "name: refuses NULL");
    is_str(wgm_logs_export_format("CSV"), "csv", "format: case-insensitive");
    ok(wgm_logs_export_format("xml") == NULL && wgm_logs_export_format(NULL) == NULL, "format: others refused");
}

static void touch(const char *dir, const char *name, time_t mtime)
{
    char path[512];
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
    utimensat(AT_FDCWD, path, ts, 0);
}

static bool exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void remove_in(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static void test_export_sweep(const char *tmp)
{
    char dir[256];
    time_t now = time(NULL);
    const char *old = "logs_20240101_000000_0123456789abcdef.json";
    const char *fresh = "logs_20240101_000000_fedcba9876543210.csv";
    const char *foreign = "notes.txt";

    snprintf(dir, sizeof(dir), "%s/exports", tmp);
    mkdir(dir, 0700);
    touch(dir, old, now - WGM_LOGS_EXPORT_TTL_S - 5);
    touch(dir, fresh, now - 10);
    touch(dir, foreign, now - 10 * WGM_LOGS_EXPORT_TTL_S);
    is_int(wgm_logs_export_sweep(dir, now), 1, "sweep: one expired export deleted");
    ok(!exists(dir, old) && exists(dir, fresh) && exists(dir, foreign),
       "sweep: the fresh export and a foreign file stay");
    is_int(wgm_logs_export_sweep("/nonexistent/wgm-exports", now), 0, "sweep: missing directory is nothing to do");
    remove_in(dir, fresh);
    remove_in(dir, foreign);
    rmdir(dir);
}

/* --- UTF-8 -------------------------------------------------------------- */

static void test_utf8(void)
{
    char out[64];

    is_int(wgm_logs_utf8_copy(out, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 60), 15, "utf8: valid kept");
    is_str(out, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "utf8: valid bytes unchanged");
    wgm_logs_utf8_copy(out, "a\xff" "b\xc3" "c", 60);
    is_str(out, "a?b?c", "utf8: stray and cut bytes replaced");
    wgm_logs_utf8_copy(out, "\xc0\xaf\xe0\x80\xaf", 60);
    is_str(out, "?????", "utf8: overlong forms replaced");
    wgm_logs_utf8_copy(out, "\xed\xa0\x80", 60);
    is_str(out, "???", "utf8: surrogates replaced");
    wgm_logs_utf8_copy(out, "\xf4\x90\x80\x80", 60);
    is_str(out, "????", "utf8: past U+10FFFF replaced");
    is_int(wgm_logs_utf8_copy(out, "ab\xe2\x82\xac", 4), 2, "utf8: a sequence is never cut");
    is_str(out, "ab", "utf8: cut before the sequence");
    is_int(wgm_logs_utf8_copy(out, "abcdef", 3), 3, "utf8: bounded");
}

/* --- the store on a database -------------------------------------------- */

static int64_t scalar(struct wgm_db_pool *pool, const char *sql, const char *arg)
{
    struct wgm_db *db = wgm_db_acquire(pool, 2000);
    struct wgm_stmt *st = NULL;
    int64_t v = -1;

    if (db && wgm_db_prepare(db, sql, &st) == 0 && (!arg || wgm_stmt_bind_text(st, 1, arg) == 0) &&
        wgm_stmt_step(st) == WGM_DB_ROW)
        v = wgm_stmt_column_int(st, 0);
    wgm_stmt_free(st);
    wgm_db_release(db);
    return v;
}

static int exec(struct wgm_db_pool *pool, const char *sql)
{
    struct wgm_db *db = wgm_db_acquire(pool, 2000);
    struct wgm_stmt *st = NULL;
    int rc = db ? wgm_db_prepare(db, sql, &st) : -ETIMEDOUT;

    if (rc == 0)
        rc = wgm_stmt_step(st);
    wgm_stmt_free(st);
    wgm_db_release(db);
    return rc < 0 ? rc : 0;
}

/* Records of @module matching @f, through the same WHERE as the API. */
static json_t *query(struct wgm_db_pool *pool, struct wgm_logs_filter *f)
{
    struct wgm_db *db = wgm_db_acquire(pool, 2000);
    struct wgm_stmt *st = NULL;
    struct wgm_logs_row row;
    json_t *out = json_array();
    char where[256], sql[512];

    wgm_logs_filter_where(f, where, sizeof(where));
    snprintf(sql, sizeof(sql), "SELECT " WGM_LOGS_COLUMNS " FROM logs%s ORDER BY id", where);
    if (db && wgm_db_prepare(db, sql, &st) == 0 && wgm_logs_filter_bind(f, st, 1) > 0)
        while (wgm_stmt_step(st) == WGM_DB_ROW) {
            wgm_logs_row_read(st, &row);
            json_array_append_new(out, wgm_logs_row_json(&row));
        }
    wgm_stmt_free(st);
    wgm_db_release(db);
    return out;
}

static json_t *by_module(struct wgm_db_pool *pool, const char *module, const char *search)
{
    struct wgm_logs_filter f;
    json_t *errors = json_object(), *rows;

    wgm_logs_filter_parse(&f, NULL, NULL, NULL, search, module, NULL, errors);
    rows = query(pool, &f);
    wgm_logs_filter_clear(&f);
    json_decref(errors);
    return rows;
}

static void store_suite(const char *label, const char *url, bool destructive)
{
    const char *driver_dir = getenv("WGM_TEST_DRIVER_DIR");
    struct wgm_daemon d = {0};
    struct wgm_logstore_stats before, after;
    char err[512] = "", module[64];
    json_t *rows, *r;

    if (!driver_dir || !*driver_dir)
        driver_dir = "core/db/.libs";
    if (wgm_db_pool_open(url, 2, driver_dir, &d.db, err, sizeof(err)) < 0) {
        ok(0, "%s store: open pool: %s", label, err);
        return;
    }
    /* Unique per run: on MariaDB the table is shared with other tests. */
    snprintf(module, sizeof(module), "unit%ld_%d", (long)time(NULL), (int)getpid());

    is_int(wgm_logstore_start(&d, err, sizeof(err)), 0, "store: start (migrations, writer, sink)");
    if (err[0])
        printf("# %s\n", err);
    is_int(wgm_logstore_start(&d, err, sizeof(err)), -EALREADY, "store: second start refused");
    wgm_logstore_stats(&before);
    wgm_log(WGM_LOG_INFO, module, "hello %d from the sink", 42);
    wgm_log(WGM_LOG_WARN, module, "50%% off_today");
    wgm_log(WGM_LOG_INFO, module, "50%% offXtoday");
    wgm_log(WGM_LOG_DEBUG, module, "below the level: neither printed nor stored");
    wgm_logstore_record(&d, "critical", module, "structured \xff record", 9, "ak_1", "2001:db8::1", "req_abc",
                        json_pack("{s:s,s:i}", "what", "x", "n", 1), json_pack("[s,s]", "t1", "t2"));
    wgm_logstore_record(&d, "bogus", module, "unknown level is INFO", 0, NULL, NULL, NULL, json_string("not an object"),
                        json_pack("{}"));
    wgm_logstore_record(&d, "debug", module, "dir C:\\tmp\\x! done", 0, NULL, NULL, NULL, NULL, NULL);
    wgm_logstore_record(&d, "INFO", module, NULL, 0, NULL, NULL, NULL, json_object(), NULL); /* refused, freed */
    wgm_logstore_stop(&d);
    wgm_logstore_stop(&d); /* idempotent */
    wgm_logstore_stats(&after);
    wgm_log(WGM_LOG_INFO, module, "after stop: stderr only");
    wgm_logstore_record(&d, "INFO", module, "after stop: dropped quietly", 0, NULL, NULL, NULL, json_object(), NULL);

    rows = by_module(d.db, module, NULL);
    is_int(json_array_size(rows), 6, "store: 6 records stored, flushed by stop");
    r = json_array_get(rows, 0);
    is_str(json_string_value(json_object_get(r, "message")), "hello 42 from the sink", "store: sink message text");
    is_str(json_string_value(json_object_get(r, "level")), "INFO", "store: sink level");
    ok(json_is_null(json_object_get(r, "user_id")) && json_is_null(json_object_get(r, "details")) &&
           json_array_size(json_object_get(r, "tags")) == 0,
       "store: sink records have no user, details or tags");
    r = json_array_get(rows, 3);
    is_str(json_string_value(json_object_get(r, "level")), "CRITICAL", "store: structured level");
    is_str(json_string_value(json_object_get(r, "message")), "structured ? record", "store: invalid UTF-8 replaced");
    is_int(json_integer_value(json_object_get(r, "user_id")), 9, "store: user_id");
    is_str(json_string_value(json_object_get(r, "api_key_id")), "ak_1", "store: api_key_id");
    is_str(json_string_value(json_object_get(r, "ip_address")), "2001:db8::1", "store: ip");
    is_str(json_string_value(json_object_get(r, "request_id")), "req_abc", "store: request_id");
    is_str(json_string_value(json_object_get(json_object_get(r, "details"), "what")), "x", "store: details");
    is_str(json_string_value(json_array_get(json_object_get(r, "tags"), 1)), "t2", "store: tags");
    r = json_array_get(rows, 4);
    is_str(json_string_value(json_object_get(r, "level")), "INFO", "store: unknown level stored as INFO");
    ok(json_is_null(json_object_get(r, "details")) && json_array_size(json_object_get(r, "tags")) == 0,
       "store: details that are no object and tags that are no array are dropped");
    ok(after.written - before.written >= 6, "store: stats count written records");
    json_decref(rows);

    rows = by_module(d.db, module, "50% off_today");
    is_int(json_array_size(rows), 1, "store: search treats %% and _ literally");
    json_decref(rows);
    rows = by_module(d.db, module, "C:\\tmp\\x! d");
    is_int(json_array_size(rows), 1, "store: search treats backslash and ! literally");
    json_decref(rows);
    rows = by_module(d.db, module, "OFF");
    is_int(json_array_size(rows), 2, "store: search is case-insensitive for ASCII");
    json_decref(rows);

    /* Retention: on the shared MariaDB only a no-op cutoff (syntax check). */
    is_int(wgm_logs_purge(d.db, 2000, 0, 1), 0, "purge: nothing before the epoch");
    if (destructive) {
        is_int(exec(d.db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5003)"
                          " INSERT INTO logs (ts, level, module, message) SELECT i, 'INFO', 'old', 'x' FROM n"),
               0, "purge: 5003 old rows inserted");
        is_int(wgm_logs_purge(d.db, 2000, 1000000, 1), WGM_LOGS_PURGE_BATCH, "purge: one batch of 5000");
        is_int(wgm_logs_purge(d.db, 2000, 1000000, 10), 3, "purge: the rest");
        is_int(scalar(d.db, "SELECT COUNT(*) FROM logs WHERE module = ?", module), 6, "purge: recent rows kept");

        /* max_log_size: sizes are text bytes + WGM_LOGS_ROW_OVERHEAD; the
         * oldest go first, down to 90 % of the bound. */
        is_int(exec(d.db, "DELETE FROM logs"), 0, "size: table emptied");
        is_int(exec(d.db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)"
                          " INSERT INTO logs (ts, level, module, message)"
                          " SELECT i, 'INFO', 'big', hex(zeroblob(500)) FROM n"),
               0, "size: 10 rows of 1067 bytes");
        is_int(wgm_logs_enforce_size(d.db, 2000, 10670, 20), 0, "size: at the bound nothing goes");
        is_int(wgm_logs_enforce_size(d.db, 2000, 5000, 20), 6, "size: the 6 oldest go (4268 <= 4500)");
        is_int(scalar(d.db, "SELECT MIN(ts) FROM logs WHERE module = ?", "big"), 7, "size: the newest 4 stay");
        is_int(wgm_logs_enforce_size(d.db, 2000, 5000, 20), 0, "size: under the bound, a second run is a no-op");
        is_int(exec(d.db, "DELETE FROM logs"), 0, "size: table emptied again");
        is_int(exec(d.db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)"
                          " INSERT INTO logs (ts, level, module, message) SELECT i, 'INFO', 'sml', 'y' FROM n"),
               0, "size: 12000 rows of 68 bytes");
        is_int(wgm_logs_enforce_size(d.db, 2000, 816000, 1), 0, "size: exactly at the bound");
        is_int(wgm_logs_enforce_size(d.db, 2000, 100000, 1), WGM_LOGS_PURGE_BATCH,
               "size: one batch per run at most when asked");
        is_int(wgm_logs_enforce_size(d.db, 2000, 100000, 20), 12000 - 5000 - 1323, "size: the rest, over batches");
        is_int(scalar(d.db, "SELECT COUNT(*) FROM logs WHERE module = ?", "sml"), 1323, "size: 1323 x 68 <= 90000");
        is_int(scalar(d.db, "SELECT MAX(ts) FROM logs WHERE module = ?", "sml"), 12000, "size: the newest kept");

        /* The table gone: the writer fails, says so on stderr only, and
         * neither loops on its own warning nor hangs at stop. */
        is_int(exec(d.db, "DROP TABLE logs"), 0, "failing db: table dropped");
        is_int(wgm_logstore_start(&d, err, sizeof(err)), 0, "failing db: store starts (migration recorded)");
        wgm_logstore_stats(&before);
        wgm_log(WGM_LOG_ERROR, module, "this cannot be stored");
        for (int i = 0; i < 200; i++) { /* the writer's next batch, however slow the machine */
            wgm_logstore_stats(&after);
            if (after.failed != before.failed)
                break;
            usleep(50 * 1000);
        }
        usleep(1000 * 1000); /* room for a feedback loop to show itself */
        wgm_logstore_stats(&after);
        is_int(after.failed - before.failed, 1, "failing db: one record lost, counted once (no feedback loop)");
        wgm_log(WGM_LOG_ERROR, module, "nor this");
        wgm_logstore_stop(&d);
        wgm_logstore_stats(&after);
        is_int(after.failed - before.failed, 2, "failing db: stop flushes (and fails) the rest");
    } else {
        is_int(exec(d.db, "DELETE FROM logs WHERE module = 'no such module'") , 0, "mysql: delete syntax");
    }
    d.db = wgm_db_pool_close(d.db);
}

int main(void)
{
    char dir[] = "/tmp/wgm-test-logs.XXXXXX", url[300];
    const char *mysql_url = getenv("WGM_TEST_MYSQL_URL");

    if (!mkdtemp(dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    test_queue_basics();
    test_queue_clear_frees();
    test_queue_under_pressure();
    test_time_parse();
    test_like();
    test_levels();
    test_filter();
    test_csv_cells();
    test_export_formats();
    test_export_names();
    test_export_sweep(dir);
    test_utf8();

    snprintf(url, sizeof(url), "sqlite://%s/wgm.db", dir);
    store_suite("sqlite", url, true);
    if (mysql_url && *mysql_url)
        store_suite("mysql", mysql_url, false);
    else
        skip("mysql store suite: WGM_TEST_MYSQL_URL not set (run scripts/services)");

    for (const char *sfx = ""; sfx; sfx = !*sfx ? "-wal" : !strcmp(sfx, "-wal") ? "-shm" : NULL) {
        char p[400];
        snprintf(p, sizeof(p), "%s/wgm.db%s", dir, sfx);
        unlink(p);
    }
    rmdir(dir);
    return done_testing();
}
