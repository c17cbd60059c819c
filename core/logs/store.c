/* core/logs/store: migrations, the log sink, and the writer thread. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "conf.h"
#include "daemon.h"
#include "db/db.h"
#include "log.h"
#include "logs/query.h"
#include "logs/queue.h"
#include "logs/store.h"
#include "util.h"

#define BATCH_MAX 500
#define BATCH_WAIT_MS 200
#define REPORT_INTERVAL_MS 10000
#define ACQUIRE_MS 2000
#define SHORT_MAX 128 /* api_key_id, ip, request_id */

/* The schema, one migration.  MariaDB gets its indexes inside CREATE TABLE:
 * there each DDL commits on its own, so a single statement keeps the
 * migration re-runnable.  ts is Unix milliseconds: an integer compares and
 * indexes the same on both dialects, unlike their date types. */
static const char *const v1_sqlite[] = {
    "CREATE TABLE IF NOT EXISTS logs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts INTEGER NOT NULL,"
    " level VARCHAR(8) NOT NULL,"
    " module VARCHAR(64) NOT NULL,"
    " message TEXT NOT NULL,"
    " user_id INTEGER NULL,"
    " api_key_id VARCHAR(128) NULL,"
    " ip_address VARCHAR(128) NULL,"
    " request_id VARCHAR(128) NULL,"
    " details TEXT NULL,"
    " tags TEXT NULL)",
    "CREATE INDEX IF NOT EXISTS idx_logs_ts ON logs (ts)",
    "CREATE INDEX IF NOT EXISTS idx_logs_level_ts ON logs (level, ts)",
    "CREATE INDEX IF NOT EXISTS idx_logs_module_ts ON logs (module, ts)",
    "CREATE INDEX IF NOT EXISTS idx_logs_user_id ON logs (user_id)",
    NULL,
};
static const char *const v1_mysql[] = {
    "CREATE TABLE IF NOT EXISTS logs ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " ts BIGINT NOT NULL,"
    " level VARCHAR(8) NOT NULL,"
    " module VARCHAR(64) NOT NULL,"
    " message TEXT NOT NULL,"
    " user_id BIGINT NULL,"
    " api_key_id VARCHAR(128) NULL,"
    " ip_address VARCHAR(128) NULL,"
    " request_id VARCHAR(128) NULL,"
    " details MEDIUMTEXT NULL,"
    " tags TEXT NULL,"
    " INDEX idx_logs_ts (ts),"
    " INDEX idx_logs_level_ts (level, ts),"
    " INDEX idx_logs_module_ts (module, ts),"
    " INDEX idx_logs_user_id (user_id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};
static const struct wgm_migration migrations[] = {
    {.version = 1, .sqlite = v1_sqlite, .mysql = v1_mysql},
};

static const char insert_sql[] =
    "INSERT INTO logs (ts, level, module, message, user_id, api_key_id, ip_address, request_id, details, tags)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* One record, strings packed behind it: one allocation per record. */
struct rec {
    int64_t ts_ms, user_id;
    const char *level; /* static */
    char *module, *message, *api_key_id, *ip, *request_id, *details, *tags;
    char data[];
};

static struct {
    pthread_once_t once;
    int init_rc;
    struct wgm_logq q;        /* static: a late sink call may still lock it */
    pthread_t writer;
    bool started;             /* start/stop run on the main thread only */
    struct wgm_db_pool *pool;
    atomic_int store_level;
    atomic_uint_fast64_t written, dropped, failed;
} S = {.once = PTHREAD_ONCE_INIT};

/* Set on the writer thread: what it logs goes to stderr only, never back
 * into the queue (a failing database would feed itself). */
static _Thread_local bool in_store;

size_t wgm_logs_utf8_copy(char *dst, const char *src, size_t max)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;

    while (s[i] && o < max) {
        unsigned char c = s[i];
        size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;

        if (c < 0x80)
            len = 1;
        else if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
            hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
        }
        for (size_t k = 1; k < len; k++) {
            unsigned char b = s[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
                len = 0;
                break;
            }
        }
        if (len == 0) {
            dst[o++] = '?';
            i++;
            continue;
        }
        if (o + len > max)
            break;
        memcpy(dst + o, s + i, len);
        o += len;
        i += len;
    }
    dst[o] = '\0';
    return o;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy @s (at most @max bytes, cleaned) to *@at, advancing it; NULL stays NULL. */
static char *pack(char **at, const char *s, size_t max)
{
    char *dst = *at;

    if (!s)
        return NULL;
    *at += wgm_logs_utf8_copy(dst, s, max) + 1;
    return dst;
}

static size_t room(const char *s, size_t max)
{
    size_t n;

    if (!s)
        return 0;
    n = strnlen(s, max);
    return n + 1;
}

static struct rec *rec_new(const char *level, const char *module, const char *message, int64_t user_id,
                           const char *api_key_id, const char *ip, const char *request_id, const char *details,
                           const char *tags)
{
    size_t size = room(module, WGM_LOGS_MODULE_MAX) + room(message, WGM_LOGSTORE_MESSAGE_MAX) +
                  room(api_key_id, SHORT_MAX) + room(ip, SHORT_MAX) + room(request_id, SHORT_MAX) +
                  room(details, WGM_LOGSTORE_DETAILS_MAX) + room(tags, WGM_LOGSTORE_DETAILS_MAX);
    struct rec *r = malloc(sizeof(*r) + size);
    char *at;

    if (!r)
        return NULL;
    at = r->data;
    r->ts_ms = now_ms();
    r->user_id = user_id > 0 ? user_id : 0;
    r->level = level;
    r->module = pack(&at, module, WGM_LOGS_MODULE_MAX);
    r->message = pack(&at, message, WGM_LOGSTORE_MESSAGE_MAX);
    r->api_key_id = pack(&at, api_key_id, SHORT_MAX);
    r->ip = pack(&at, ip, SHORT_MAX);
    r->request_id = pack(&at, request_id, SHORT_MAX);
    r->details = pack(&at, details, WGM_LOGSTORE_DETAILS_MAX);
    r->tags = pack(&at, tags, WGM_LOGSTORE_DETAILS_MAX);
    return r;
}

static void rec_free(void *p)
{
    free(p);
}

static void enqueue(struct rec *r)
{
    int rc;

    if (!r)
        return;
    rc = wgm_logq_push(&S.q, r);
    if (rc == -ENOSPC)
        atomic_fetch_add(&S.dropped, 1);
    if (rc < 0)
        free(r);
}

static const char *stored_level(enum wgm_log_level level)
{
    switch (level) {
    case WGM_LOG_ERROR: return "ERROR";
    case WGM_LOG_WARN: return "WARN";
    case WGM_LOG_INFO: return "INFO";
    case WGM_LOG_DEBUG:
    default: return "DEBUG";
    }
}

/* Set around a line whose record is stored in structured form instead. */
static _Thread_local bool paused;

void wgm_logstore_sink_pause(bool on)
{
    paused = on;
}

bool wgm_logstore_wants(enum wgm_log_level level)
{
    return (int)level <= atomic_load(&S.store_level);
}

static void sink(enum wgm_log_level level, const char *tag, const char *message)
{
    if (in_store || paused || (int)level > atomic_load(&S.store_level))
        return;
    enqueue(rec_new(stored_level(level), tag, message, 0, NULL, NULL, NULL, NULL, NULL));
}

/* Serialize @j (stolen) if it has the wanted type; details too large for a
 * record are replaced by a note saying so. */
static char *dump(json_t *j, bool object)
{
    char *s = NULL;

    if (j && (object ? json_is_object(j) : json_is_array(j)))
        s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)); /* 4.6, not 4.5999999999999996 */
    json_decref(j);
    if (s && strlen(s) > WGM_LOGSTORE_DETAILS_MAX) {
        size_t n = strlen(s);
        free(s);
        s = NULL;
        if (object && asprintf(&s, "{\"truncated\":true,\"size\":%zu}", n) < 0)
            s = NULL;
    }
    return s;
}

void wgm_logstore_record(struct wgm_daemon *d, const char *level, const char *module, const char *message,
                         int64_t user_id, const char *api_key_id, const char *ip, const char *request_id,
                         json_t *details, json_t *tags)
{
    const char *lv = wgm_logs_level_canon(level);
    char *dj, *tj;

    (void)d; /* the store is process-wide; d keeps the call shaped like the others */
    if (!module || !message) {
        json_decref(details);
        json_decref(tags);
        return;
    }
    dj = dump(details, true);
    tj = dump(tags, false);
    enqueue(rec_new(lv ? lv : "INFO", module, message, user_id, api_key_id, ip, request_id, dj, tj));
    free(dj);
    free(tj);
}

static int bind_rec(struct wgm_stmt *st, const struct rec *r)
{
    int rc;

    if ((rc = wgm_stmt_bind_int(st, 1, r->ts_ms)) < 0 || (rc = wgm_stmt_bind_text(st, 2, r->level)) < 0 ||
        (rc = wgm_stmt_bind_text(st, 3, r->module)) < 0 || (rc = wgm_stmt_bind_text(st, 4, r->message)) < 0)
        return rc;
    rc = r->user_id ? wgm_stmt_bind_int(st, 5, r->user_id) : wgm_stmt_bind_null(st, 5);
    if (rc < 0 || (rc = wgm_stmt_bind_text(st, 6, r->api_key_id)) < 0 ||
        (rc = wgm_stmt_bind_text(st, 7, r->ip)) < 0 || (rc = wgm_stmt_bind_text(st, 8, r->request_id)) < 0 ||
        (rc = wgm_stmt_bind_text(st, 9, r->details)) < 0 || (rc = wgm_stmt_bind_text(st, 10, r->tags)) < 0)
        return rc;
    return 0;
}

/* One transaction, one prepared statement for the whole batch. */
static int write_batch(struct rec **b, size_t n)
{
    struct wgm_db *db = wgm_db_acquire(S.pool, ACQUIRE_MS);
    struct wgm_stmt *st = NULL;
    int rc;

    if (!db)
        return -ETIMEDOUT;
    if ((rc = wgm_db_begin(db)) < 0 || (rc = wgm_db_prepare(db, insert_sql, &st)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if ((rc = bind_rec(st, b[i])) < 0 || (rc = wgm_stmt_step(st)) < 0 || (rc = wgm_stmt_reset(st)) < 0)
            goto out;
    }
    rc = wgm_db_commit(db);
out:
    wgm_stmt_free(st);
    if (rc < 0)
        wgm_db_rollback(db);
    wgm_db_release(db);
    return rc;
}

/* The note about lost records, written with the batch that follows the
 * loss so it lands once room (or the database) is back. */
static struct rec *loss_report(uint64_t dropped, uint64_t failed)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "log store lost records: %llu dropped (queue full), %llu not written (database errors)",
             (unsigned long long)dropped, (unsigned long long)failed);
    char details[96];
    snprintf(details, sizeof(details), "{\"dropped\":%llu,\"failed\":%llu}", (unsigned long long)dropped,
             (unsigned long long)failed);
    return rec_new("WARN", "logs", msg, 0, NULL, NULL, NULL, details, NULL);
}

static void *writer_main(void *arg)
{
    struct rec *batch[BATCH_MAX + 1];
    uint64_t last_report = 0, last_error = 0, lost_dropped = 0, lost_failed = 0;
    ssize_t got;

    (void)arg;
    in_store = true;
    while ((got = wgm_logq_pop(&S.q, (void **)batch, BATCH_MAX, BATCH_WAIT_MS)) >= 0) {
        size_t n = (size_t)got;
        uint64_t now = wgm_now_ms();
        struct rec *note = NULL;
        int rc = 0;

        /* The pop just made room: the moment to own up to earlier losses.
         * The counts are kept until a note about them is committed. */
        lost_dropped += wgm_logq_take_dropped(&S.q);
        if ((lost_dropped || lost_failed) && (!last_report || now - last_report >= REPORT_INTERVAL_MS) &&
            (note = loss_report(lost_dropped, lost_failed)))
            batch[n++] = note;
        if (n == 0)
            continue;
        /* A busy SQLite file or a dropped connection is worth one retry. */
        for (int attempt = 0; attempt < 2; attempt++) {
            rc = write_batch(batch, n);
            if (rc != WGM_DB_EBUSY && rc != WGM_DB_ERECONNECT)
                break;
        }
        if (rc < 0) {
            n -= note ? 1 : 0;
            atomic_fetch_add(&S.failed, n);
            lost_failed += n;
            /* stderr only (in_store), and at most once per interval. */
            if (!last_error || now - last_error >= REPORT_INTERVAL_MS) {
                wgm_log(WGM_LOG_WARN, "logs", "cannot store %zu log record(s): %s", n, strerror(-rc));
                last_error = now;
            }
            rec_free(note);
        } else {
            atomic_fetch_add(&S.written, n);
            if (note) {
                lost_dropped = lost_failed = 0;
                last_report = now;
                n--;
                rec_free(note);
            }
        }
        for (size_t i = 0; i < n; i++)
            rec_free(batch[i]);
    }
    return NULL;
}

static void init_once(void)
{
    S.init_rc = wgm_logq_init(&S.q);
}

int wgm_logstore_start(struct wgm_daemon *d, char *err, size_t errlen)
{
    const char *lv;
    int r;

    pthread_once(&S.once, init_once);
    if (S.init_rc < 0) {
        snprintf(err, errlen, "log store: %s", strerror(-S.init_rc));
        return S.init_rc;
    }
    if (S.started)
        return -EALREADY;
    if ((r = wgm_db_migrate(d->db, "logs", migrations, sizeof(migrations) / sizeof(migrations[0]), err,
                            errlen)) < 0)
        return r;
    lv = d->conf ? wgm_conf_get(d->conf, "logs", "store_level") : NULL;
    r = wgm_log_level_parse(lv ? lv : "info");
    atomic_store(&S.store_level, r < 0 ? WGM_LOG_INFO : r);
    if ((r = wgm_logq_open(&S.q, WGM_LOGSTORE_QUEUE)) < 0) {
        snprintf(err, errlen, "log store queue: %s", strerror(-r));
        return r;
    }
    S.pool = d->db;
    if ((r = pthread_create(&S.writer, NULL, writer_main, NULL)) != 0) {
        wgm_logq_clear(&S.q, rec_free);
        S.pool = NULL;
        snprintf(err, errlen, "log store writer thread: %s", strerror(r));
        return -r;
    }
    S.started = true;
    wgm_log_set_sink(sink);
    return 0;
}

void wgm_logstore_stop(struct wgm_daemon *d)
{
    (void)d;
    if (!S.started)
        return;
    wgm_log_set_sink(NULL);
    /* The writer drains what is queued, then sees the queue closed. */
    wgm_logq_close(&S.q);
    pthread_join(S.writer, NULL);
    wgm_logq_clear(&S.q, rec_free);
    S.pool = NULL;
    S.started = false;
}

void wgm_logstore_stats(struct wgm_logstore_stats *out)
{
    out->written = atomic_load(&S.written);
    out->dropped = atomic_load(&S.dropped);
    out->failed = atomic_load(&S.failed);
}
