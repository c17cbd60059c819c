/* core/util: time, ids and number parsing used across the core. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sodium.h>
#include <wgm/input.h>
#include "util.h"

char *wgm_time_rfc3339(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 && len)
        buf[0] = '\0';
    return buf;
}

int wgm_time_parse_rfc3339(const char *s, time_t *out)
{
    /* One strict RFC 3339 parser for the core and the plugins: strptime
     * skips white space and takes single-digit fields. */
    int64_t ms;
    if (!s || wgm_in_parse_time(s, &ms, NULL) < 0)
        return -EINVAL;
    *out = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    return 0;
}

uint64_t wgm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t wgm_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void wgm_request_id_new(char *buf, size_t len)
{
    unsigned char raw[8];
    char hex[17];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
    snprintf(buf, len, "req_%s", hex);
}

int wgm_parse_ll(const char *s, long long min, long long max, long long *out)
{
    return wgm_in_parse_ll(s, min, max, out);
}

int wgm_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    if (!s)
        return -EINVAL;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

int wgm_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port)
{
    const char *colon;
    size_t hl;
    long long p;

    if (!s || !*s)
        return -EINVAL;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        hl = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || memchr(s, ':', (size_t)(colon - s)))
            return -EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return -EINVAL;
    if (wgm_parse_ll(colon + 1, 0, 65535, &p) < 0)
        return -EINVAL;
    memcpy(host, s, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 0;
}

int wgm_mkdir_p(const char *path, unsigned mode)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}
