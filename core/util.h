/* core/util: small helpers shared by the core. */
#ifndef WGM_CORE_UTIL_H
#define WGM_CORE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* RFC 3339 UTC ("2024-01-01T00:00:00Z") of @t into @buf (at least 21 bytes). */
char *wgm_time_rfc3339(time_t t, char *buf, size_t len);
/* Parse RFC 3339 ("...Z" or "+hh:mm"); 0 or -EINVAL. */
int wgm_time_parse_rfc3339(const char *s, time_t *out);
/* Monotonic milliseconds and microseconds. */
uint64_t wgm_now_ms(void);
uint64_t wgm_now_us(void);
/* "req_" + 16 random hex digits into @buf (at least 21 bytes). */
void wgm_request_id_new(char *buf, size_t len);
/* Parse a whole decimal integer within [min,max]; 0 or -EINVAL/-ERANGE. */
int wgm_parse_ll(const char *s, long long min, long long max, long long *out);
/* yes/no, true/false, on/off, 1/0; 0 or -EINVAL. */
int wgm_parse_bool(const char *s, bool *out);
/* Split "host:port" / "[v6]:port" into @host and @port (0 = any free
 * port); 0 or -EINVAL. */
int wgm_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port);
/* mkdir -p with @mode for each created component; 0 or a negative errno. */
int wgm_mkdir_p(const char *path, unsigned mode);

#endif
