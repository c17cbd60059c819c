/* core/logs/store: the log records behind GET /api/v1/logs.
 *
 * Two ways in: every line of the stderr logger (through wgm_log_set_sink;
 * its tag becomes the module), filtered by [logs] store_level; and
 * structured records from wgm_logstore_record (audit trail and the like),
 * which are deliberate and always kept.  Both only queue the record: a
 * writer thread inserts batches in one transaction each.  The queue is
 * bounded and never makes a caller wait: when it is full, records are
 * dropped and counted, and the count is stored as a WARN record once space
 * returns (at most once per 10 s).
 *
 * The store is process-wide, like the logger it listens to: one per wgmd. */
#ifndef WGM_CORE_LOGS_STORE_H
#define WGM_CORE_LOGS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <wgm/host.h>

struct wgm_daemon;

/* Records the queue holds before it drops. */
#define WGM_LOGSTORE_QUEUE 10000
/* Longest stored message and serialized details, in bytes; longer ones are cut. */
#define WGM_LOGSTORE_MESSAGE_MAX 8192
#define WGM_LOGSTORE_DETAILS_MAX 16384

/* Run the "logs" migrations on @d->db, read [logs] store_level from
 * @d->conf (NULL: defaults), start the writer and install the log sink.
 * Needs only the database pool: call it right after the pool is open so
 * start-up lines are stored too.  0 or a negative errno with a reason in
 * @err; -EALREADY when already started. */
int wgm_logstore_start(struct wgm_daemon *d, char *err, size_t errlen);
/* Remove the sink, write what is queued, stop the writer.  Call it before
 * the pool closes, after the last request, plugin and timer finished.
 * Safe when not started. */
void wgm_logstore_stop(struct wgm_daemon *d);

/* Queue one structured record.  @level is DEBUG|INFO|WARN|ERROR|CRITICAL
 * (case-insensitive; anything else is stored as INFO).  @module and
 * @message are required (NULL: nothing is stored).  @user_id <= 0,
 * NULL strings and NULL JSON are stored as NULL.  @details (an object) and
 * @tags (an array of strings) are stolen.  Strings are copied; invalid
 * UTF-8 is replaced.  Never blocks; silently dropped when the store is not
 * running or its queue is full (and then counted). */
void wgm_logstore_record(struct wgm_daemon *d, const char *level, const char *module, const char *message,
                         int64_t user_id, const char *api_key_id, const char *ip, const char *request_id,
                         json_t *details, json_t *tags);

/* While on (this thread only), the sink ignores log lines: the caller
 * stores that line's record itself with wgm_logstore_record. */
void wgm_logstore_sink_pause(bool on);
/* Would a line of @level pass [logs] store_level? */
bool wgm_logstore_wants(enum wgm_log_level level);

struct wgm_logstore_stats {
    uint64_t written;  /* records inserted */
    uint64_t dropped;  /* refused by a full queue */
    uint64_t failed;   /* lost to database errors */
};
/* Totals since the process started, for /system/info and the monitor. */
void wgm_logstore_stats(struct wgm_logstore_stats *out);

/* Copy at most @max bytes of @src into @dst (room for @max + 1) as valid
 * UTF-8: each byte that does not start a complete, shortest-form sequence
 * becomes '?', and a sequence is never cut.  Returns the bytes written
 * (without the NUL).  Used on everything the store keeps, because MariaDB
 * rejects invalid UTF-8 and JSON cannot carry it. */
size_t wgm_logs_utf8_copy(char *dst, const char *src, size_t max);

#endif
