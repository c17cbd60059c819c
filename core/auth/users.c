/* core/auth/users: roles and permissions, user rows, the first admin. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "auth/password.h"
#include "api.h"
#include "auth/users.h"
#include "conf.h"
#include "daemon.h"
#include "db/db.h"
#include "log.h"
#include "sysconfig.h"
#include "util.h"

static const char *const manager_perms[] = {
    "users.view", "wireguard.view", "wireguard.edit", "bgp.view", "bgp.edit", "ipv6.view", "ipv6.edit",
    "monitoring.view", "monitoring.edit", "logs.view", "system.view", "backup.view", "cluster.view", NULL,
};
static const char *const user_perms[] = {
    "wireguard.view", "bgp.view", "ipv6.view", "monitoring.view", NULL,
};

bool wgm_role_valid(const char *role)
{
    return role && (!strcmp(role, "admin") || !strcmp(role, "manager") || !strcmp(role, "user"));
}

bool wgm_permission_valid(const char *perm)
{
    size_t n;
    if (!perm)
        return false;
    if (strcmp(perm, "*") == 0)
        return true;
    n = strlen(perm);
    if (n < 3 || n > 64 || !islower((unsigned char)perm[0]) || !strchr(perm, '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = perm[i];
        if (c == '*' && (i != n - 1 || perm[i - 1] != '.'))
            return false;
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_' || c == '.' || c == '*'))
            return false;
        if (c == '.' && (perm[i + 1] == '.' || perm[i + 1] == '\0'))
            return false;
    }
    return true;
}

static void add_unique(json_t *arr, const char *perm)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), perm) == 0) return;
    json_array_append_new(arr, json_string(perm));
}

json_t *wgm_effective_permissions(const char *role, json_t *explicit_grants)
{
    json_t *out = json_array();
    const char *const *defaults = NULL;
    size_t i;
    json_t *v;

    if (role && strcmp(role, "admin") == 0) {
        json_array_append_new(out, json_string("*"));
        return out;
    }
    defaults = role && strcmp(role, "manager") == 0 ? manager_perms : user_perms;
    for (; *defaults; defaults++)
        add_unique(out, *defaults);
    json_array_foreach(explicit_grants, i, v) if (json_is_string(v)) add_unique(out, json_string_value(v));
    return out;
}

static json_t *time_or_null(struct wgm_stmt *st, int col)
{
    char buf[32];
    if (wgm_stmt_column_type(st, col) == WGM_DB_NULL)
        return json_null();
    return json_string(wgm_time_rfc3339((time_t)wgm_stmt_column_int(st, col), buf, sizeof(buf)));
}

static json_t *text_or_null(struct wgm_stmt *st, int col)
{
    const char *s = wgm_stmt_column_text(st, col);
    return s ? json_string(s) : json_null();
}

json_t *wgm_user_row_json(struct wgm_stmt *st)
{
    const char *role = wgm_stmt_column_text(st, 4);
    json_t *explicit_grants = json_loads(wgm_stmt_column_text(st, 6) ? wgm_stmt_column_text(st, 6) : "[]", 0, NULL);
    time_t locked = (time_t)wgm_stmt_column_int(st, 12);
    json_t *u = json_pack("{s:I,s:s,s:o,s:o,s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:I,s:o,s:b}", "id",
                          (json_int_t)wgm_stmt_column_int(st, 0), "username", wgm_stmt_column_text(st, 1), "email",
                          text_or_null(st, 2), "full_name", text_or_null(st, 3), "role", role, "status",
                          wgm_stmt_column_text(st, 5), "two_factor_enabled", (int)wgm_stmt_column_int(st, 7),
                          "last_login", time_or_null(st, 8), "created_at", time_or_null(st, 9), "updated_at",
                          time_or_null(st, 10), "permissions", wgm_effective_permissions(role, explicit_grants),
                          "login_attempts", (json_int_t)wgm_stmt_column_int(st, 11), "locked_until",
                          locked > time(NULL) ? time_or_null(st, 12) : json_null(), "force_change",
                          (int)wgm_stmt_column_int(st, 13));
    json_decref(explicit_grants);
    return u;
}

json_t *wgm_user_load(struct wgm_db *db, int64_t id)
{
    struct wgm_stmt *st = NULL;
    json_t *u = NULL;
    if (wgm_db_prepare(db, "SELECT " WGM_USER_COLUMNS " FROM users WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_int(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW)
            u = wgm_user_row_json(st);
    }
    wgm_stmt_free(st);
    return u;
}

void wgm_user_password_hash(struct wgm_db *db, int64_t id, char *out, size_t len)
{
    struct wgm_stmt *st = NULL;
    out[0] = '\0';
    if (wgm_db_prepare(db, "SELECT password_hash FROM users WHERE id = ?", &st) == 0) {
        wgm_stmt_bind_int(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW)
            snprintf(out, len, "%s", wgm_stmt_column_text(st, 0));
    }
    wgm_stmt_free(st);
}

int wgm_user_principal(struct wgm_db *db, int64_t id, int64_t issued_ms, struct wgm_principal *p)
{
    struct wgm_stmt *st = NULL;
    int r = wgm_db_prepare(db,
                           "SELECT username, role, status, permissions, tokens_valid_after FROM users WHERE id = ?",
                           &st);
    if (r < 0)
        return r;
    wgm_stmt_bind_int(st, 1, id);
    r = wgm_stmt_step(st);
    if (r == WGM_DB_ROW) {
        if (strcmp(wgm_stmt_column_text(st, 2), "active") != 0 || issued_ms < wgm_stmt_column_int(st, 4)) {
            r = -EACCES;
        } else {
            json_t *grants = json_loads(wgm_stmt_column_text(st, 3), 0, NULL);
            p->user_id = id;
            snprintf(p->username, sizeof(p->username), "%s", wgm_stmt_column_text(st, 0));
            snprintf(p->role, sizeof(p->role), "%s", wgm_stmt_column_text(st, 1));
            json_decref(p->permissions);
            p->permissions = wgm_effective_permissions(p->role, grants);
            json_decref(grants);
            r = 0;
        }
    } else if (r == WGM_DB_DONE) {
        r = -ENOENT;
    }
    wgm_stmt_free(st);
    return r;
}

/* A random password that satisfies any policy this daemon accepts. */
static void random_password(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    size_t n = len - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    /* one of each class at fixed places keeps the policy satisfied */
    out[0] = 'A' + (char)randombytes_uniform(26);
    out[1] = 'a' + (char)randombytes_uniform(26);
    out[2] = '2' + (char)randombytes_uniform(8);
    out[3] = "-_.!@#%+"[randombytes_uniform(8)];
    out[n] = '\0';
}

/* The generated first password goes to stderr (the journal) alone, never
 * through wgm_log: its sink would copy it into the logs table, readable
 * through GET /logs.  One write(2), in wgm_log's line format. */
static void console_password(const char *password)
{
    char line[256], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    n = snprintf(line, sizeof(line),
                 "%s.000Z warn  [auth] created user 'admin' with generated password: %s"
                 " (the first login must change it; this line is not stored)\n",
                 stamp, password);
    if (n > 0 && (size_t)n < sizeof(line)) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n);
        (void)w;
    }
    sodium_memzero(line, sizeof(line));
    wgm_log(WGM_LOG_WARN, "auth", "created user 'admin' with a generated password, printed on stderr only");
}

int wgm_users_bootstrap(struct wgm_daemon *d, const char *password, char *err, size_t errlen)
{
    struct wgm_db *db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms);
    struct wgm_stmt *st = NULL;
    struct wgm_sysconfig cfg;
    char generated[25], hash[256], why[128];
    const char *email;
    int64_t now = (int64_t)time(NULL);
    bool committed = false, explained = false;
    int r;

    if (!db) {
        snprintf(err, errlen, "database unavailable");
        return -EIO;
    }
    /* Two nodes starting on one empty database: the transaction and the
     * UNIQUE username let exactly one create the admin. */
    if ((r = wgm_db_begin(db)) < 0 || (r = wgm_db_prepare(db, "SELECT COUNT(*) FROM users", &st)) < 0 ||
        (r = wgm_stmt_step(st)) != WGM_DB_ROW)
        goto out;
    if (wgm_stmt_column_int(st, 0) > 0) {
        r = 0;
        goto out;
    }
    wgm_stmt_free(st);
    st = NULL;
    wgm_sysconfig_get(d, &cfg);
    /* The spec's user model has a string email: the first admin gets one. */
    email = d->conf ? wgm_conf_get(d->conf, "auth", "admin_email") : NULL;
    if (!email)
        email = "admin@localhost";
    if (!wgm_api_email_valid(email)) {
        snprintf(err, errlen, "admin email (WGM_ADMIN_EMAIL / [auth] admin_email) '%.254s' is not an email address",
                 email);
        explained = true;
        r = -EINVAL;
        goto out;
    }
    if (password && *password) {
        if (wgm_password_check(&cfg.policy, password, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "admin password (WGM_ADMIN_PASSWORD / [auth] admin_password) %s", why);
            explained = true;
            r = -EINVAL;
            goto out;
        }
    } else {
        random_password(generated, sizeof(generated));
        password = generated;
    }
    if ((r = wgm_password_hash(password, hash, sizeof(hash))) < 0)
        goto out;
    /* A generated password was shown on the console: force_change makes the
     * first login replace it. */
    if ((r = wgm_db_prepare(db,
                            "INSERT INTO users (username, email, full_name, password_hash, role, status, permissions,"
                            " force_change, password_changed_at, created_at, updated_at)"
                            " VALUES ('admin', ?, 'Administrator', ?, 'admin', 'active', '[]', ?, ?, ?, ?)",
                            &st)) < 0)
        goto out;
    wgm_stmt_bind_text(st, 1, email);
    wgm_stmt_bind_text(st, 2, hash);
    wgm_stmt_bind_int(st, 3, password == generated);
    wgm_stmt_bind_int(st, 4, now);
    wgm_stmt_bind_int(st, 5, now);
    wgm_stmt_bind_int(st, 6, now);
    if ((r = wgm_stmt_step(st)) < 0)
        goto out;
    if ((r = wgm_db_commit(db)) < 0)
        goto out;
    committed = true;
    if (password == generated)
        console_password(generated);
    else
        wgm_log(WGM_LOG_INFO, "auth", "created user 'admin' with the configured password");
    r = 0;
out:
    if (r < 0 && !explained)
        snprintf(err, errlen, "cannot create the first admin user (%s)", strerror(-r));
    wgm_stmt_free(st);
    if (!committed)
        wgm_db_rollback(db); /* also ends the path where users already exist */
    wgm_db_release(db);
    sodium_memzero(generated, sizeof(generated));
    return r;
}
