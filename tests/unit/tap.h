/* A tiny TAP producer for the C unit tests (read by automake's tap-driver). */
#ifndef WGM_TAP_H
#define WGM_TAP_H

#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <stdlib.h>

static int tap_n, tap_failed;

static inline void tap_report(int pass, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void tap_report(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    if (!pass)
        tap_failed++;
    printf("%s %d - ", pass ? "ok" : "not ok", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!pass)
        printf("#   failed at %s:%d\n", file, line);
    fflush(stdout);
}

#define ok(cond, ...) tap_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, name) do { long long g_ = (long long)(got), w_ = (long long)(want); \
        tap_report(g_ == w_, __FILE__, __LINE__, "%s (got %lld, want %lld)", name, g_, w_); } while (0)
#define is_str(got, want, name) do { const char *g_ = (got), *w_ = (want); \
        tap_report(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, __FILE__, __LINE__, \
                   "%s (got \"%s\", want \"%s\")", name, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); } while (0)
#define skip_all(reason) do { printf("1..0 # SKIP %s\n", reason); exit(0); } while (0)
#define skip(reason) do { tap_n++; printf("ok %d # SKIP %s\n", tap_n, reason); } while (0)

static inline int done_testing(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif
