/* core/log: one line per record on stderr, formatted into a local buffer and
 * written with a single write(2) so lines from threads never interleave. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include "log.h"

static _Atomic int current_level = WGM_LOG_INFO;
static _Atomic(wgm_log_sink_fn) current_sink;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int wgm_log_level_parse(const char *name)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    if (strcasecmp(name, "warning") == 0)
        return WGM_LOG_WARN;
    return -EINVAL;
}

const char *wgm_log_level_name(enum wgm_log_level level)
{
    if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
        return "debug";
    return level_names[level];
}

void wgm_log_set_level(enum wgm_log_level level) { atomic_store(&current_level, (int)level); }
enum wgm_log_level wgm_log_get_level(void) { return (enum wgm_log_level)atomic_load(&current_level); }
int wgm_log_enabled(enum wgm_log_level level) { return (int)level <= atomic_load(&current_level); }
void wgm_log_set_sink(wgm_log_sink_fn sink) { atomic_store(&current_sink, sink); }

void wgm_logv(enum wgm_log_level level, const char *tag, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n, msg;
    int r;
    wgm_log_sink_fn sink;

    if (!wgm_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s [%s] ", ts.tv_nsec / 1000000,
                 wgm_log_level_name(level), tag ? tag : "core");
    if (r > 0)
        n += (size_t)r;
    if (n > sizeof(line) - 2) /* an absurdly long tag: keep room for the newline */
        n = sizeof(line) - 2;
    msg = n;
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    n = r < 0 ? n : (n + (size_t)r >= sizeof(line) - 1 ? sizeof(line) - 2 : n + (size_t)r);
    line[n++] = '\n';
    /* A failed write to stderr has nowhere to be reported, and must not
     * keep the record from the sink either. */
    ssize_t written = write(STDERR_FILENO, line, n);
    (void)written;
    sink = atomic_load(&current_sink);
    if (sink) {
        line[n - 1] = '\0';
        sink(level, tag ? tag : "core", line + msg);
    }
}

void wgm_log(enum wgm_log_level level, const char *tag, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wgm_logv(level, tag, fmt, ap);
    va_end(ap);
}
