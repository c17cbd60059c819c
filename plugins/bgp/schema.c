/* plugins/bgp/schema: sessions and announcements.  Only the configuration
 * is stored; status and counters always come from BIRD.  Passwords are
 * stored sealed by the host (secret_seal). */
#include <wgm/wgm.h>

extern const struct wgm_migration bgp_migrations[];
extern const size_t bgp_migrations_count;

static const char *const v1_sqlite[] = {
    "CREATE TABLE bgp_sessions ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " neighbor TEXT NOT NULL UNIQUE,"
    " remote_as INTEGER NOT NULL, local_as INTEGER NOT NULL,"
    " password TEXT,"
    " hold_time INTEGER NOT NULL DEFAULT 90, keepalive INTEGER NOT NULL DEFAULT 30,"
    " connect_retry INTEGER NOT NULL DEFAULT 120,"
    " multihop INTEGER NOT NULL DEFAULT 0, ttl_security INTEGER NOT NULL DEFAULT 0,"
    " enabled INTEGER NOT NULL DEFAULT 1, description TEXT,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE TABLE bgp_announcements ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " prefix TEXT NOT NULL,"
    " session_id INTEGER REFERENCES bgp_sessions(id),"
    " communities TEXT NOT NULL DEFAULT '[]',"
    " description TEXT,"
    " created_at INTEGER NOT NULL)",
    "CREATE INDEX bgp_announcements_prefix ON bgp_announcements(prefix)",
    NULL,
};

static const char *const v1_mysql[] = {
    "CREATE TABLE IF NOT EXISTS bgp_sessions ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(32) NOT NULL UNIQUE,"
    " neighbor VARCHAR(64) NOT NULL UNIQUE,"
    " remote_as BIGINT NOT NULL, local_as BIGINT NOT NULL,"
    " password TEXT,"
    " hold_time INT NOT NULL DEFAULT 90, keepalive INT NOT NULL DEFAULT 30,"
    " connect_retry INT NOT NULL DEFAULT 120,"
    " multihop TINYINT NOT NULL DEFAULT 0, ttl_security TINYINT NOT NULL DEFAULT 0,"
    " enabled TINYINT NOT NULL DEFAULT 1, description TEXT,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS bgp_announcements ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " prefix VARCHAR(64) NOT NULL,"
    " session_id BIGINT NULL,"
    " communities TEXT NOT NULL,"
    " description TEXT,"
    " created_at BIGINT NOT NULL,"
    " KEY bgp_announcements_prefix (prefix),"
    " FOREIGN KEY (session_id) REFERENCES bgp_sessions(id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};

/* Where an announcement comes from: "api", or "ipv6pool" with source_ref
 * "pool:ID" (follow.c).  The unique key lets two wgmd on one database
 * follow the same pool without doubling its rows; API rows have a NULL
 * source_ref, which a unique key never compares equal.  MariaDB commits
 * each DDL, so its variant is one statement. */
static const char *const v2_sqlite[] = {
    "ALTER TABLE bgp_announcements ADD COLUMN source TEXT NOT NULL DEFAULT 'api'",
    "ALTER TABLE bgp_announcements ADD COLUMN source_ref TEXT",
    "CREATE UNIQUE INDEX bgp_announcements_source ON bgp_announcements(source, source_ref, prefix)",
    NULL,
};

static const char *const v2_mysql[] = {
    "ALTER TABLE bgp_announcements"
    " ADD COLUMN source VARCHAR(16) NOT NULL DEFAULT 'api',"
    " ADD COLUMN source_ref VARCHAR(64) NULL,"
    " ADD UNIQUE KEY bgp_announcements_source (source, source_ref, prefix)",
    NULL,
};

const struct wgm_migration bgp_migrations[] = {
    {.version = 1, .sqlite = v1_sqlite, .mysql = v1_mysql},
    {.version = 2, .sqlite = v2_sqlite, .mysql = v2_mysql},
};
const size_t bgp_migrations_count = sizeof(bgp_migrations) / sizeof(bgp_migrations[0]);
