/* plugins/wireguard/schema: servers, clients, released address offsets.
 * Private keys are stored sealed by the host (secret_seal). */
#include "wireguard.h"

static const char *const v1_sqlite[] = {
    "CREATE TABLE wg_servers ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " interface TEXT NOT NULL UNIQUE,"
    " listen_port INTEGER NOT NULL UNIQUE,"
    " ipv4_address TEXT, ipv6_address TEXT,"
    " private_key TEXT NOT NULL, public_key TEXT NOT NULL,"
    " endpoint TEXT, description TEXT,"
    " dns_servers TEXT NOT NULL DEFAULT '[]',"
    " mtu INTEGER NOT NULL DEFAULT 1420,"
    " persistent_keepalive INTEGER NOT NULL DEFAULT 25,"
    " allowed_ips TEXT NOT NULL,"
    " desired TEXT NOT NULL DEFAULT 'stopped',"
    " last_error TEXT, started_at INTEGER,"
    " ip4_next INTEGER NOT NULL DEFAULT 1, ip6_next INTEGER NOT NULL DEFAULT 1,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    "CREATE TABLE wg_clients ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " server_id INTEGER NOT NULL REFERENCES wg_servers(id),"
    " name TEXT NOT NULL, description TEXT,"
    " public_key TEXT NOT NULL, private_key TEXT, preshared_key TEXT,"
    " ipv4_address TEXT, ipv6_address TEXT, ip4_off INTEGER, ip6_off INTEGER,"
    " allowed_ips TEXT NOT NULL, extra_ips TEXT NOT NULL DEFAULT '[]',"
    " dns_servers TEXT NOT NULL DEFAULT '[]',"
    " persistent_keepalive INTEGER NOT NULL DEFAULT 25,"
    " enabled INTEGER NOT NULL DEFAULT 1, expires_at INTEGER,"
    " rx_offset INTEGER NOT NULL DEFAULT 0, tx_offset INTEGER NOT NULL DEFAULT 0,"
    " last_rx INTEGER NOT NULL DEFAULT 0, last_tx INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " UNIQUE (server_id, public_key), UNIQUE (server_id, name),"
    " UNIQUE (server_id, ip4_off), UNIQUE (server_id, ip6_off))",
    "CREATE INDEX wg_clients_server ON wg_clients(server_id, id)",
    "CREATE TABLE wg_free_ips ("
    " server_id INTEGER NOT NULL, family INTEGER NOT NULL, off INTEGER NOT NULL,"
    " PRIMARY KEY (server_id, family, off))",
    NULL,
};

static const char *const v1_mysql[] = {
    "CREATE TABLE IF NOT EXISTS wg_servers ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(64) NOT NULL UNIQUE,"
    " interface VARCHAR(15) NOT NULL UNIQUE,"
    " listen_port INT NOT NULL UNIQUE,"
    " ipv4_address VARCHAR(64), ipv6_address VARCHAR(64),"
    " private_key VARCHAR(255) NOT NULL, public_key CHAR(44) NOT NULL,"
    " endpoint VARCHAR(255), description TEXT,"
    " dns_servers TEXT NOT NULL,"
    " mtu INT NOT NULL DEFAULT 1420,"
    " persistent_keepalive INT NOT NULL DEFAULT 25,"
    " allowed_ips TEXT NOT NULL,"
    " desired VARCHAR(16) NOT NULL DEFAULT 'stopped',"
    " last_error TEXT, started_at BIGINT,"
    " ip4_next BIGINT NOT NULL DEFAULT 1, ip6_next BIGINT NOT NULL DEFAULT 1,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS wg_clients ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " server_id BIGINT NOT NULL,"
    " name VARCHAR(64) NOT NULL, description TEXT,"
    " public_key CHAR(44) NOT NULL, private_key VARCHAR(255), preshared_key VARCHAR(255),"
    " ipv4_address VARCHAR(64), ipv6_address VARCHAR(64), ip4_off BIGINT, ip6_off BIGINT,"
    " allowed_ips TEXT NOT NULL, extra_ips TEXT NOT NULL,"
    " dns_servers TEXT NOT NULL,"
    " persistent_keepalive INT NOT NULL DEFAULT 25,"
    " enabled TINYINT NOT NULL DEFAULT 1, expires_at BIGINT,"
    " rx_offset BIGINT NOT NULL DEFAULT 0, tx_offset BIGINT NOT NULL DEFAULT 0,"
    " last_rx BIGINT NOT NULL DEFAULT 0, last_tx BIGINT NOT NULL DEFAULT 0,"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
    " UNIQUE KEY wg_clients_key (server_id, public_key), UNIQUE KEY wg_clients_name (server_id, name),"
    " UNIQUE KEY wg_clients_ip4 (server_id, ip4_off), UNIQUE KEY wg_clients_ip6 (server_id, ip6_off),"
    " FOREIGN KEY (server_id) REFERENCES wg_servers(id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS wg_free_ips ("
    " server_id BIGINT NOT NULL, family INT NOT NULL, off BIGINT NOT NULL,"
    " PRIMARY KEY (server_id, family, off)"
    ") ENGINE=InnoDB",
    NULL,
};

const struct wgm_migration wg_migrations[] = {
    {.version = 1, .sqlite = v1_sqlite, .mysql = v1_mysql},
};
const size_t wg_migrations_count = sizeof(wg_migrations) / sizeof(wg_migrations[0]);
