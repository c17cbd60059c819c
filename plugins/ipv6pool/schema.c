/* plugins/ipv6pool/schema: the plugin's migrations.  The allocator's own
 * tables (allocator.h: pool state, allocations, released prefixes) keep
 * their versions 1..99; the plugin's start at 101, so either list can grow
 * without renumbering the other.  Both run under the module name
 * "ipv6pool". */
#include <errno.h>
#include <stdlib.h>
#include "allocator.h"

int v6p_migrate(const struct wgm_host *h, struct wgm_ctx *ctx);

/* Pools.  reserved is a decimal (it may exceed 2^64). */
static const char *const v101_sqlite[] = {
    "CREATE TABLE ipv6_pools ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " prefix TEXT NOT NULL,"
    " prefix_length INTEGER NOT NULL,"
    " description TEXT,"
    " auto_assign INTEGER NOT NULL DEFAULT 1,"
    " reserved TEXT NOT NULL DEFAULT '0',"
    " status TEXT NOT NULL DEFAULT 'active',"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
    NULL,
};

static const char *const v101_mysql[] = {
    "CREATE TABLE IF NOT EXISTS ipv6_pools ("
    " id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " name VARCHAR(64) NOT NULL UNIQUE,"
    " prefix VARCHAR(43) NOT NULL,"
    " prefix_length INT NOT NULL,"
    " description TEXT,"
    " auto_assign TINYINT NOT NULL DEFAULT 1,"
    " reserved VARCHAR(40) NOT NULL DEFAULT '0',"
    " status VARCHAR(16) NOT NULL DEFAULT 'active',"
    " created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    NULL,
};

/* What the API adds to the allocator's rows (all nullable: the allocator
 * inserts without them).  MariaDB commits each DDL, so its variant is one
 * statement. */
static const char *const v102_sqlite[] = {
    "ALTER TABLE ipv6_allocations ADD COLUMN client_id INTEGER",
    "ALTER TABLE ipv6_allocations ADD COLUMN client_name TEXT",
    "ALTER TABLE ipv6_allocations ADD COLUMN description TEXT",
    "ALTER TABLE ipv6_allocations ADD COLUMN expires_at INTEGER",
    "CREATE INDEX ipv6_allocations_client ON ipv6_allocations (client_id)",
    "CREATE INDEX ipv6_allocations_expiry ON ipv6_allocations (expires_at)",
    NULL,
};

static const char *const v102_mysql[] = {
    "ALTER TABLE ipv6_allocations"
    " ADD COLUMN client_id BIGINT NULL,"
    " ADD COLUMN client_name VARCHAR(64) NULL,"
    " ADD COLUMN description TEXT NULL,"
    " ADD COLUMN expires_at BIGINT NULL,"
    " ADD KEY ipv6_allocations_client (client_id),"
    " ADD KEY ipv6_allocations_expiry (expires_at)",
    NULL,
};

/* "Does this pool still delegate a prefix?" on every release of a
 * client's allocation: one index probe instead of a scan of the pool. */
static const char *const v103_sqlite[] = {
    "CREATE INDEX ipv6_allocations_pool_client ON ipv6_allocations (pool_id, client_id)",
    NULL,
};

static const char *const v103_mysql[] = {
    "ALTER TABLE ipv6_allocations ADD KEY ipv6_allocations_pool_client (pool_id, client_id)",
    NULL,
};

static const struct wgm_migration own[] = {
    {.version = 101, .sqlite = v101_sqlite, .mysql = v101_mysql},
    {.version = 102, .sqlite = v102_sqlite, .mysql = v102_mysql},
    {.version = 103, .sqlite = v103_sqlite, .mysql = v103_mysql},
};
#define OWN_COUNT (sizeof(own) / sizeof(own[0]))

int v6p_migrate(const struct wgm_host *h, struct wgm_ctx *ctx)
{
    size_t n = v6_alloc_migration_count + OWN_COUNT, i;
    struct wgm_migration *all = calloc(n, sizeof(*all));
    int r;

    if (!all)
        return -ENOMEM;
    for (i = 0; i < v6_alloc_migration_count; i++) {
        if (v6_alloc_migrations[i].version >= own[0].version) {
            free(all);
            return -EINVAL; /* the allocator outgrew its range */
        }
        all[i] = v6_alloc_migrations[i];
    }
    for (i = 0; i < OWN_COUNT; i++)
        all[v6_alloc_migration_count + i] = own[i];
    r = h->migrate(ctx, all, n);
    free(all);
    return r;
}
