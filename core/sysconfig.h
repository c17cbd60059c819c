/* core/sysconfig: the spec's system configuration (GET/PUT /system/config).
 *
 * One JSON document: defaults, overlaid by what is stored in the
 * system_config table.  PUT validates every field it names (partial
 * updates), persists, and applies live.  Other nodes sharing the database
 * re-read it on a timer. */
#ifndef WGM_CORE_SYSCONFIG_H
#define WGM_CORE_SYSCONFIG_H

#include <stdbool.h>
#include <jansson.h>
#include "auth/netaddr.h"
#include "auth/password.h"

struct wgm_daemon;

/* Entries security.ip_whitelist may hold. */
#define WGM_IP_WHITELIST_MAX 64

/* A typed snapshot of the values the core acts on. */
struct wgm_sysconfig {
    unsigned session_timeout;     /* access token lifetime, seconds */
    unsigned refresh_days, remember_me_days;
    unsigned api_rate_limit;      /* requests per minute per user */
    unsigned anonymous_rate_limit; /* per minute per IP without credentials */
    bool enable_rate_limiting, enable_audit_logging, two_factor_enabled;
    unsigned max_login_attempts, lockout_duration;
    struct wgm_password_policy policy;
    bool debug_mode;              /* log level debug; 5xx answers carry details */
    bool maintenance_mode;        /* mutations need system.edit (daemon.c) */
    unsigned maintenance_retry_after; /* seconds, the Retry-After of MAINTENANCE_MODE */
    unsigned max_log_size;        /* MiB of stored log records (logs/retention.c) */
    unsigned backup_retention;    /* days; published for backup.so */
    char app_name[101];
    /* security.enable_ip_whitelist + ip_whitelist: the guard refuses every
     * other client address before authentication (auth/guard.c). */
    bool enable_ip_whitelist;
    unsigned n_ip_whitelist;
    struct wgm_cidr ip_whitelist[WGM_IP_WHITELIST_MAX];
    unsigned max_api_keys_per_user; /* usable keys a user may hold (auth/apikeys.c) */
};

int wgm_sysconfig_start(struct wgm_daemon *d, char *err, size_t errlen);
void wgm_sysconfig_stop(struct wgm_daemon *d);
void wgm_sysconfig_get(struct wgm_daemon *d, struct wgm_sysconfig *out);
/* SIGHUP read [log] level @level: it becomes the level debug_mode returns
 * to.  Returns the level to apply now (debug while debug_mode is on). */
enum wgm_log_level wgm_sysconfig_file_level_changed(struct wgm_daemon *d, enum wgm_log_level level);
int wgm_sysconfig_register(struct wgm_daemon *d);
/* Publish the public document on the "system.config" topic (once after
 * the plugins started; PUT and the reload timer publish on change). */
void wgm_sysconfig_publish(struct wgm_daemon *d);

#endif
