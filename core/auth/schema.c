/* core/auth/schema: users, sessions (refresh tokens), API keys and the
 * system configuration.  Times are unix seconds in integers, the one type
 * both dialects order and compare the same way. */
#include "auth/schema.h"

static const char *const v1_sqlite[] = {
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " username TEXT NOT NULL UNIQUE,"
    " email TEXT UNIQUE,"
    " full_name TEXT,"
    " password_hash TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " permissions TEXT NOT NULL DEFAULT '[]',"
    " two_factor_enabled INTEGER NOT NULL DEFAULT 0,"
    " totp_secret TEXT,"
    " totp_pending TEXT,"
    " totp_last_step INTEGER NOT NULL DEFAULT 0,"
    " force_change INTEGER NOT NULL DEFAULT 0,"
    " password_changed_at INTEGER NOT NULL,"
    " tokens_valid_after INTEGER NOT NULL DEFAULT 0,"
    " last_login INTEGER,"
    " login_attempts INTEGER NOT NULL DEFAULT 0,"
    " locked_until INTEGER,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE TABLE refresh_tokens ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " family TEXT NOT NULL,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " remember_me INTEGER NOT NULL DEFAULT 0,"
    " expires_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " used_at INTEGER,"
    " revoked_at INTEGER)",
    "CREATE INDEX refresh_tokens_family ON refresh_tokens(family)",
    "CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id)",
    "CREATE TABLE api_keys ("
    " id TEXT PRIMARY KEY,"
    " user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " description TEXT,"
    " secret_hash TEXT NOT NULL,"
    " access_level TEXT NOT NULL,"
    " permissions TEXT NOT NULL,"
    " allowed_ips TEXT NOT NULL,"
    " allowed_endpoints TEXT NOT NULL,"
    " requests_per_minute INTEGER NOT NULL,"
    " burst_limit INTEGER NOT NULL,"
    " expires_at INTEGER,"
    " status TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " last_used INTEGER)",
    "CREATE INDEX api_keys_user ON api_keys(user_id)",
    "CREATE TABLE system_config ("
    " name TEXT PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    NULL,
};

/* IF NOT EXISTS: MySQL DDL commits itself, so a migration that failed
 * half-way must be able to run again. */
static const char *const v1_mysql[] = {
    "CREATE TABLE IF NOT EXISTS users ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " username VARCHAR(64) NOT NULL UNIQUE,"
    " email VARCHAR(254) UNIQUE,"
    " full_name VARCHAR(128),"
    " password_hash VARCHAR(255) NOT NULL,"
    " role VARCHAR(16) NOT NULL,"
    " status VARCHAR(16) NOT NULL,"
    " permissions TEXT NOT NULL,"
    " two_factor_enabled TINYINT NOT NULL DEFAULT 0,"
    " totp_secret VARCHAR(255),"
    " totp_pending VARCHAR(255),"
    " totp_last_step BIGINT NOT NULL DEFAULT 0,"
    " force_change TINYINT NOT NULL DEFAULT 0,"
    " password_changed_at BIGINT NOT NULL,"
    " tokens_valid_after BIGINT NOT NULL DEFAULT 0,"
    " last_login BIGINT,"
    " login_attempts INT NOT NULL DEFAULT 0,"
    " locked_until BIGINT,"
    " created_at BIGINT NOT NULL,"
    " updated_at BIGINT NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS refresh_tokens ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " user_id BIGINT NOT NULL,"
    " family CHAR(32) NOT NULL,"
    " token_hash CHAR(64) NOT NULL UNIQUE,"
    " remember_me TINYINT NOT NULL DEFAULT 0,"
    " expires_at BIGINT NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " used_at BIGINT,"
    " revoked_at BIGINT,"
    " INDEX refresh_tokens_family (family),"
    " FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " id VARCHAR(32) NOT NULL PRIMARY KEY,"
    " user_id BIGINT NOT NULL,"
    " name VARCHAR(100) NOT NULL,"
    " description TEXT,"
    " secret_hash CHAR(64) NOT NULL,"
    " access_level VARCHAR(16) NOT NULL,"
    " permissions TEXT NOT NULL,"
    " allowed_ips TEXT NOT NULL,"
    " allowed_endpoints TEXT NOT NULL,"
    " requests_per_minute INT NOT NULL,"
    " burst_limit INT NOT NULL,"
    " expires_at BIGINT,"
    " status VARCHAR(16) NOT NULL,"
    " created_at BIGINT NOT NULL,"
    " last_used BIGINT,"
    " FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS system_config ("
    " name VARCHAR(64) NOT NULL PRIMARY KEY,"
    " value TEXT NOT NULL,"
    " updated_at BIGINT NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};

/* Revoked access tokens (logout, spent 2FA-pending tokens) by jti, kept
 * until the token would have expired anyway: the cache alone would lose
 * them on a restart, a Redis outage or on another node. */
static const char *const v2_sqlite[] = {
    "CREATE TABLE revoked_tokens ("
    " jti TEXT PRIMARY KEY,"
    " expires_at INTEGER NOT NULL)",
    "CREATE INDEX revoked_tokens_expires ON revoked_tokens(expires_at)",
    NULL,
};

static const char *const v2_mysql[] = {
    "CREATE TABLE IF NOT EXISTS revoked_tokens ("
    " jti VARCHAR(40) NOT NULL PRIMARY KEY,"
    " expires_at BIGINT NOT NULL,"
    " INDEX revoked_tokens_expires (expires_at)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};

/* Counts that must outlive the cache: wrong codes on one 2FA-pending token
 * (kept until the token would have expired), and the start of a user's
 * current run of failed logins, which is forgotten after the same window as
 * an unknown name's count in the cache. */
static const char *const v3_sqlite[] = {
    "CREATE TABLE pending_token_failures ("
    " jti TEXT PRIMARY KEY,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " expires_at INTEGER NOT NULL)",
    "CREATE INDEX pending_token_failures_expires ON pending_token_failures(expires_at)",
    "ALTER TABLE users ADD COLUMN failed_since INTEGER",
    NULL,
};

static const char *const v3_mysql[] = {
    "CREATE TABLE IF NOT EXISTS pending_token_failures ("
    " jti VARCHAR(40) NOT NULL PRIMARY KEY,"
    " failures INT NOT NULL DEFAULT 0,"
    " expires_at BIGINT NOT NULL,"
    " INDEX pending_token_failures_expires (expires_at)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "ALTER TABLE users ADD COLUMN IF NOT EXISTS failed_since BIGINT",
    NULL,
};

const struct wgm_migration wgm_core_migrations[] = {
    {.version = 1, .sqlite = v1_sqlite, .mysql = v1_mysql},
    {.version = 2, .sqlite = v2_sqlite, .mysql = v2_mysql},
    {.version = 3, .sqlite = v3_sqlite, .mysql = v3_mysql},
};
const size_t wgm_core_migrations_count = sizeof(wgm_core_migrations) / sizeof(wgm_core_migrations[0]);
