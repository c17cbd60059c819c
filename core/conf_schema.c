/* The core's configuration schema: every key wgmd itself understands. */
#include <stdint.h>
#include "conf.h"

#ifndef WGM_LOCALSTATEDIR
#define WGM_LOCALSTATEDIR "/var/lib/wgm"
#endif
#ifndef WGM_PLUGINDIR
#define WGM_PLUGINDIR "/usr/lib/wgm/plugins"
#endif
#ifndef WGM_DRIVERDIR
#define WGM_DRIVERDIR "/usr/lib/wgm/drivers"
#endif

#define STR(k, d, h) {.key = k, .type = WGM_CONF_STRING, .def = d, .help = h}
#define INT(k, d, lo, hi, h) {.key = k, .type = WGM_CONF_INT, .def = d, .min = lo, .max = hi, .help = h}
#define BOOL(k, d, h) {.key = k, .type = WGM_CONF_BOOL, .def = d, .help = h}
#define ENUM(k, d, c, h) {.key = k, .type = WGM_CONF_ENUM, .def = d, .choices = c, .help = h}

static const struct wgm_conf_key core_keys[] = {
    STR("state_dir", WGM_LOCALSTATEDIR, "state directory: database, master key, secrets"),
    STR("plugin_dir", WGM_PLUGINDIR, "directory of plugin modules (<name>.so)"),
    STR("driver_dir", WGM_DRIVERDIR, "directory of database driver modules"),
    STR("master_key_file", NULL, "secret-sealing key (default <state_dir>/master.key, 0600)"),
    {NULL},
};

static const struct wgm_conf_key http_keys[] = {
    STR("listen", "127.0.0.1:8080", "address:port to serve HTTP on ([v6]:port for IPv6)"),
    INT("threads", "4", 1, 256, "HTTP worker threads"),
    INT("body_limit", "1048576", 1024, 67108864, "largest request body in bytes (413 beyond)"),
    INT("connection_timeout", "30", 1, 3600, "idle connection timeout in seconds"),
    INT("drain_timeout", "10", 0, 600, "seconds SIGTERM waits for in-flight requests"),
    STR("tls_cert", NULL, "PEM certificate; with tls_key enables HTTPS"),
    STR("tls_key", NULL, "PEM private key for tls_cert"),
    STR("tls_priorities", NULL, "GnuTLS priority string for HTTPS (default: TLS 1.2/1.3, ECDHE/DHE, AEAD only)"),
    INT("hsts_max_age", "31536000", 0, 63072000, "Strict-Transport-Security max-age with TLS; 0 sends none"),
    INT("max_connections_per_ip", "128", 0, 65535, "open HTTP connections one client address may hold; 0: no limit"),
    {NULL},
};

static const struct wgm_conf_key database_keys[] = {
    STR("url", NULL, "sqlite:///path/wgm.db (default <state_dir>/wgm.db) or mysql://user:pass@host:port/db"),
    INT("pool_size", "8", 1, 256, "pooled connections"),
    INT("acquire_timeout_ms", "5000", 10, 60000, "wait for a free connection before 503"),
    {NULL},
};

static const struct wgm_conf_key cache_keys[] = {
    STR("url", "", "empty for in-process, or redis://[:password@]host:port/db"),
    {NULL},
};

static const struct wgm_conf_key websocket_keys[] = {
    INT("max_per_user", "16", 1, 1000, "WebSocket connections one user may hold (429 beyond)"),
    INT("revalidate_interval", "5", 1, 300, "seconds between re-checks of each WebSocket's credential"),
    {NULL},
};

static const struct wgm_conf_key log_keys[] = {
    ENUM("level", "info", "error|warn|info|debug", "log level (SIGHUP re-reads it)"),
    BOOL("access_log", "yes", "one line per HTTP request"),
    {NULL},
};

static const struct wgm_conf_key logs_keys[] = {
    INT("retention_days", "30", 1, 3650, "days the log store keeps records before deleting them"),
    ENUM("store_level", "info", "debug|info|warn|error", "least severe log level written to the log store"),
    INT("export_quota_mb", "256", 1, 1048576, "total size of log export files kept; oldest expired go first (507 beyond)"),
    {NULL},
};

static const struct wgm_conf_key auth_keys[] = {
    STR("admin_password", NULL, "password of the first admin on an empty database"),
    STR("admin_email", "admin@localhost", "email of the first admin on an empty database"),
    INT("hash_concurrency", "0", 0, 256, "password hashes (argon2id) at once; 0: half of [http] threads, at least 1"),
    {NULL},
};

const struct wgm_conf_section wgm_core_sections[] = {
    {"core", core_keys},
    {"http", http_keys},
    {"database", database_keys},
    {"cache", cache_keys},
    {"websocket", websocket_keys},
    {"log", log_keys},
    {"logs", logs_keys},
    {"auth", auth_keys},
    {NULL, NULL},
};
