/* core/log: leveled log lines to stderr.  The level is atomic so SIGHUP can
 * change it while requests are logging. */
#ifndef WGM_CORE_LOG_H
#define WGM_CORE_LOG_H

#include <stdarg.h>
#include <wgm/host.h>

/* "error" | "warn" | "info" | "debug" (case-insensitive) → level, or -EINVAL. */
int wgm_log_level_parse(const char *name);
const char *wgm_log_level_name(enum wgm_log_level level);
void wgm_log_set_level(enum wgm_log_level level);
enum wgm_log_level wgm_log_get_level(void);
int wgm_log_enabled(enum wgm_log_level level);

/* @tag names the emitter ("core", "http", a plugin name). */
void wgm_log(enum wgm_log_level level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wgm_logv(enum wgm_log_level level, const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* A second destination for every record at or above the current level,
 * called after the stderr write on the logging thread: @tag is never NULL,
 * @message is the formatted text without prefix or newline, both borrowed
 * for the call.  It must not block (the log store queues and returns).
 * NULL removes it. */
typedef void (*wgm_log_sink_fn)(enum wgm_log_level level, const char *tag, const char *message);
void wgm_log_set_sink(wgm_log_sink_fn sink);

#define log_error(...) wgm_log(WGM_LOG_ERROR, "core", __VA_ARGS__)
#define log_warn(...) wgm_log(WGM_LOG_WARN, "core", __VA_ARGS__)
#define log_info(...) wgm_log(WGM_LOG_INFO, "core", __VA_ARGS__)
#define log_debug(...) wgm_log(WGM_LOG_DEBUG, "core", __VA_ARGS__)

#endif
