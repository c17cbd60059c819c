/* core/api_users: /users — list, create, read, update, delete, reset password.
 *
 * Nobody grants what they do not hold: a role may be given, and a
 * permission granted, only when the editor holds all of it; and nobody
 * changes, resets or deletes a user who holds more than they do.  The last
 * active admin can be neither deleted, demoted nor deactivated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ctype.h>
#include "api.h"
#include "auth/auth.h"
#include "auth/password.h"
#include "auth/users.h"
#include "daemon.h"
#include "plugin/loader.h"
#include "db/db.h"
#include "http/request.h"
#include "http/router.h"
#include "sysconfig.h"
#include "validate.h"

static bool valid_username(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool valid_email(const char *s)
{
    const char *at = strchr(s, '@');
    return at && at != s && strchr(at + 1, '.') && !strchr(at + 1, '@') && !strpbrk(s, " \t\r\n<>\"") &&
           at[1] != '.' && s[strlen(s) - 1] != '.';
}

/* "user@localhost" is the first admin's default: a dotless domain is
 * accepted for localhost only. */
bool wgm_api_email_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    const char *at = s ? strchr(s, '@') : NULL;
    if (n < 3 || n > 254)
        return false;
    if (at && strcmp(at, "@localhost") == 0)
        return at != s && !strpbrk(s, " \t\r\n<>\"") && strchr(s, '@') == at;
    return valid_email(s);
}

static int parse_id(const struct wgm_req *req, struct wgm_resp *resp, int64_t *id)
{
    return wgm_v_path_id(req, resp, "user", id);
}

static int list_users(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    /* ORDER BY cannot take a parameter; the column comes from this fixed list. */
    static const struct {
        const char *name, *asc, *desc;
    } sorts[] = {
        {"username", " ORDER BY username ASC, id ASC", " ORDER BY username DESC, id DESC"},
        {"email", " ORDER BY email ASC, id ASC", " ORDER BY email DESC, id DESC"},
        {"created_at", " ORDER BY created_at ASC, id ASC", " ORDER BY created_at DESC, id DESC"},
        {"last_login", " ORDER BY last_login ASC, id ASC", " ORDER BY last_login DESC, id DESC"},
    };
    struct wgm_daemon *d = ctx->daemon;
    struct wgm_v v;
    struct wgm_page pg;
    const char *search, *role, *status, *sort, *order, *order_sql = sorts[2].asc;
    char *like = NULL, where[256], sql[1024];
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *users = NULL;
    long long total = 0;
    int r, n;

    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    search = wgm_req_query(req, "search");
    role = wgm_v_query_enum(&v, req, "role", "admin|manager|user");
    status = wgm_v_query_enum(&v, req, "status", "active|inactive|suspended");
    sort = wgm_v_query_enum(&v, req, "sort", "username|email|created_at|last_login");
    order = wgm_v_query_enum(&v, req, "order", "asc|desc");
    if (search && strlen(search) > 100)
        wgm_v_fail(&v, "search", "must be at most 100 characters");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    for (size_t i = 0; sort && i < sizeof(sorts) / sizeof(sorts[0]); i++)
        if (strcmp(sort, sorts[i].name) == 0)
            order_sql = order && strcmp(order, "desc") == 0 ? sorts[i].desc : sorts[i].asc;
    if (!sort && order && strcmp(order, "desc") == 0)
        order_sql = sorts[2].desc;
    /* Each filter is a fixed fragment; absent ones are disabled with a NULL
     * bind, so one statement shape serves every combination. */
    snprintf(where, sizeof(where),
             " WHERE (? IS NULL OR username LIKE ? ESCAPE '!' OR email LIKE ? ESCAPE '!')"
             " AND (? IS NULL OR role = ?) AND (? IS NULL OR status = ?)");
    if (search && !(like = wgm_like_pattern(search)))
        return -ENOMEM;
    if (!(db = wgm_api_db(d, resp))) {
        free(like);
        return 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            n = snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM users%s", where);
        else
            n = snprintf(sql, sizeof(sql), "SELECT " WGM_USER_COLUMNS " FROM users%s%s LIMIT ? OFFSET ?", where,
                         order_sql);
        if (n < 0 || (size_t)n >= sizeof(sql) || (r = wgm_db_prepare(db, sql, &st)) < 0) {
            r = -EIO;
            goto out;
        }
        wgm_stmt_bind_text(st, 1, like);
        wgm_stmt_bind_text(st, 2, like);
        wgm_stmt_bind_text(st, 3, like);
        wgm_stmt_bind_text(st, 4, role);
        wgm_stmt_bind_text(st, 5, role);
        wgm_stmt_bind_text(st, 6, status);
        wgm_stmt_bind_text(st, 7, status);
        if (pass == 0) {
            if ((r = wgm_stmt_step(st)) != WGM_DB_ROW)
                goto out;
            total = wgm_stmt_column_int(st, 0);
        } else {
            wgm_stmt_bind_int(st, 8, pg.size);
            wgm_stmt_bind_int(st, 9, (pg.page - 1) * pg.size);
            users = json_array();
            while ((r = wgm_stmt_step(st)) == WGM_DB_ROW)
                json_array_append_new(users, wgm_user_row_json(st));
            if (r < 0)
                goto out;
        }
        wgm_stmt_free(st);
        st = NULL;
    }
    r = wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "users", users, "pagination", wgm_pagination(&pg, total)));
    users = NULL;
out:
    json_decref(users);
    wgm_stmt_free(st);
    wgm_db_release(db);
    free(like);
    return r < 0 ? r : 0;
}

/* @editor holds each permission in @perms (a JSON array; NULL: none). */
static bool holds_all(const struct wgm_principal *editor, json_t *perms)
{
    size_t i;
    json_t *p;
    json_array_foreach(perms, i, p) if (!wgm_principal_can(editor, json_string_value(p))) return false;
    return true;
}

/* May @editor hand out @role and @perms?  A reason, or NULL.  The rule is
 * a subset one, not a role ladder: a role's default permissions, and each
 * grant, must all be held by the editor now (as their token or API key
 * holds them), so users.edit alone cannot mint a manager. */
static const char *escalation(const struct wgm_principal *editor, const char *role, json_t *perms, const char **field)
{
    if (role) {
        json_t *defaults = wgm_effective_permissions(role, NULL);
        bool ok = holds_all(editor, defaults);
        json_decref(defaults);
        if (!ok) {
            *field = "role";
            return "you cannot give a role whose permissions you do not all hold";
        }
    }
    if (!holds_all(editor, perms)) {
        *field = "permissions";
        return "you cannot grant a permission you do not hold";
    }
    return NULL;
}

/* May @editor change, reset or delete @target (a user object)?  Only when
 * they hold every permission the target holds: otherwise a password reset
 * would hand them the target's powers.  A 403 answer, or 0 when allowed. */
static int outranked(const struct wgm_principal *editor, json_t *target, struct wgm_resp *resp, int *answered)
{
    *answered = 0;
    if (holds_all(editor, json_object_get(target, "permissions")))
        return 0;
    *answered = 1;
    return wgm_resp_error(resp, 403, "INSUFFICIENT_PERMISSIONS",
                          "this user holds permissions you do not; only someone holding them all may change them",
                          json_pack("{s:s,s:s}", "id", "holds permissions you do not", "reason", "target_outranks_you"));
}

static int create_user(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"username", "email", "password", "full_name", "role", "status",
                                        "permissions", "two_factor_enabled", "send_welcome_email", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_sysconfig cfg;
    struct wgm_v v;
    const char *username, *email, *password, *full_name, *role, *status, *field = NULL, *why;
    json_t *perms;
    char reason[128], hash[256];
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    char *perms_s;
    int64_t now = (int64_t)time(NULL), id;
    int r;

    wgm_sysconfig_get(d, &cfg);
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    username = wgm_v_str(&v, "username", true, 3, 64);
    if (username && !valid_username(username))
        wgm_v_fail(&v, "username", "may contain letters, digits, '.', '_' and '-' only");
    email = wgm_v_str(&v, "email", false, 3, 254);
    if (email && !valid_email(email))
        wgm_v_fail(&v, "email", "is not an email address");
    password = wgm_v_str(&v, "password", true, 1, 1024);
    if (password && wgm_password_check(&cfg.policy, password, reason, sizeof(reason)) < 0)
        wgm_v_fail(&v, "password", "%s", reason);
    full_name = wgm_v_str(&v, "full_name", false, 0, 128);
    role = wgm_v_enum(&v, "role", false, "admin|manager|user");
    status = wgm_v_enum(&v, "status", false, "active|inactive|suspended");
    perms = wgm_v_str_array(&v, "permissions", 64, wgm_permission_valid);
    if (wgm_v_bool(&v, "two_factor_enabled", false))
        wgm_v_fail(&v, "two_factor_enabled", "each user enrols their own second factor (POST /auth/2fa/enroll)");
    wgm_v_bool(&v, "send_welcome_email", false);
    if (!role)
        role = "user";
    if ((why = escalation(me, role, perms, &field)))
        wgm_v_fail(&v, field, "%s", why);
    if (!wgm_v_ok(&v)) {
        if (field && json_object_size(v.details) == 1) {
            json_t *dt = v.details;
            v.details = NULL;
            return wgm_resp_error(resp, 403, "INSUFFICIENT_PERMISSIONS", why, dt);
        }
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if ((r = wgm_password_hash(password, hash, sizeof(hash))) < 0)
        return r;
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    perms_s = perms ? json_dumps(perms, JSON_COMPACT) : NULL;
    r = wgm_db_prepare(db,
                       "INSERT INTO users (username, email, full_name, password_hash, role, status, permissions,"
                       " password_changed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       &st);
    if (r == 0) {
        wgm_stmt_bind_text(st, 1, username);
        wgm_stmt_bind_text(st, 2, email);
        wgm_stmt_bind_text(st, 3, full_name);
        wgm_stmt_bind_text(st, 4, hash);
        wgm_stmt_bind_text(st, 5, role);
        wgm_stmt_bind_text(st, 6, status ? status : "active");
        wgm_stmt_bind_text(st, 7, perms_s ? perms_s : "[]");
        wgm_stmt_bind_int(st, 8, now);
        wgm_stmt_bind_int(st, 9, now);
        wgm_stmt_bind_int(st, 10, now);
        r = wgm_stmt_step(st);
    }
    id = r >= 0 ? wgm_stmt_last_id(st) : 0;
    wgm_stmt_free(st);
    free(perms_s);
    if (r == WGM_DB_ECONSTRAINT) {
        wgm_db_release(db);
        return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "username or email already exists",
                              json_pack("{s:s}", "username", "username or email is taken"));
    }
    if (r < 0) {
        wgm_db_release(db);
        return r;
    }
    json_t *u = wgm_user_load(db, id);
    wgm_db_release(db);
    if (!u)
        return -EIO;
    return wgm_resp_json_msg(resp, 201, u, "User created", "用户创建成功");
}

static int get_user(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    int64_t id;
    struct wgm_db *db;
    json_t *u;
    if (parse_id(req, resp, &id) < 0)
        return 0;
    if (!(db = wgm_api_db(ctx->daemon, resp)))
        return 0;
    u = wgm_user_load(db, id);
    wgm_db_release(db);
    return u ? wgm_resp_json(resp, 200, u)
             : wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such user", json_pack("{s:I}", "id", (json_int_t)id));
}

/* Other active admins besides @id, counted inside the caller's transaction
 * (with row locks on MySQL) so two concurrent demotions cannot both pass. */
static long long other_admins(struct wgm_db *db, int64_t id)
{
    struct wgm_stmt *st = NULL;
    long long n = -1;
    const char *sql = strcmp(wgm_db_dialect(db), "mysql") == 0
                          ? "SELECT COUNT(*) FROM (SELECT id FROM users WHERE role = 'admin' AND status = 'active'"
                            " AND id <> ? FOR UPDATE) a"
                          : "SELECT COUNT(*) FROM users WHERE role = 'admin' AND status = 'active' AND id <> ?";
    if (wgm_db_prepare(db, sql, &st) == 0) {
        wgm_stmt_bind_int(st, 1, id);
        if (wgm_stmt_step(st) == WGM_DB_ROW)
            n = wgm_stmt_column_int(st, 0);
    }
    wgm_stmt_free(st);
    return n;
}

static int update_user(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"email", "full_name", "role", "status", "permissions", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_v v;
    const char *email, *full_name, *role, *status, *field = NULL, *why;
    json_t *perms, *current = NULL, *u;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    char *perms_s = NULL;
    int64_t id;
    int r;

    if (parse_id(req, resp, &id) < 0)
        return 0;
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    email = wgm_v_str(&v, "email", false, 3, 254);
    if (email && !valid_email(email))
        wgm_v_fail(&v, "email", "is not an email address");
    full_name = wgm_v_str(&v, "full_name", false, 0, 128);
    role = wgm_v_enum(&v, "role", false, "admin|manager|user");
    status = wgm_v_enum(&v, "status", false, "active|inactive|suspended");
    perms = wgm_v_str_array(&v, "permissions", 64, wgm_permission_valid);
    if ((why = escalation(me, role, perms, &field))) {
        wgm_v_end(&v);
        return wgm_resp_error(resp, 403, "INSUFFICIENT_PERMISSIONS", why, json_pack("{s:s}", field, why));
    }
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    if ((r = wgm_db_begin(db)) < 0)
        goto out;
    current = wgm_user_load(db, id);
    if (!current) {
        r = wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such user", json_pack("{s:I}", "id", (json_int_t)id));
        goto out;
    }
    /* Editing someone who holds more (an admin, say) is their peers' business. */
    {
        int answered;
        r = outranked(me, current, resp, &answered);
        if (answered)
            goto out;
    }
    if (strcmp(json_string_value(json_object_get(current, "role")), "admin") == 0 &&
        ((role && strcmp(role, "admin") != 0) || (status && strcmp(status, "active") != 0)) && other_admins(db, id) == 0) {
        r = wgm_resp_error(resp, 422, "VALIDATION_ERROR", "the last active admin cannot be demoted or deactivated",
                           json_pack("{s:s}", role && strcmp(role, "admin") != 0 ? "role" : "status",
                                     "this is the last active admin"));
        goto out;
    }
    perms_s = perms ? json_dumps(perms, JSON_COMPACT) : NULL;
    /* COALESCE keeps what the request does not name: a partial update. */
    r = wgm_db_prepare(db,
                       "UPDATE users SET email = COALESCE(?, email), full_name = COALESCE(?, full_name),"
                       " role = COALESCE(?, role), status = COALESCE(?, status),"
                       " permissions = COALESCE(?, permissions), updated_at = ? WHERE id = ?",
                       &st);
    if (r == 0) {
        wgm_stmt_bind_text(st, 1, email);
        wgm_stmt_bind_text(st, 2, full_name);
        wgm_stmt_bind_text(st, 3, role);
        wgm_stmt_bind_text(st, 4, status);
        wgm_stmt_bind_text(st, 5, perms_s);
        wgm_stmt_bind_int(st, 6, time(NULL));
        wgm_stmt_bind_int(st, 7, id);
        r = wgm_stmt_step(st);
    }
    wgm_stmt_free(st);
    if (r == WGM_DB_ECONSTRAINT) {
        r = wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "email already exists",
                           json_pack("{s:s}", "email", "is taken"));
        goto out;
    }
    /* Leaving "active" ends the user's sessions at once. */
    if (r >= 0 && status && strcmp(status, "active") != 0)
        r = wgm_session_revoke_user(d, db, id);
    if (r < 0 || (r = wgm_db_commit(db)) < 0)
        goto out;
    u = wgm_user_load(db, id);
    r = u ? wgm_resp_json_msg(resp, 200, u, "User updated", "用户更新成功") : -EIO;
out:
    wgm_db_rollback(db);
    wgm_db_release(db);
    json_decref(current);
    free(perms_s);
    return r < 0 ? r : 0;
}

static int delete_user(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *current = NULL;
    int64_t id;
    int r;

    if (parse_id(req, resp, &id) < 0)
        return 0;
    if (id == me->user_id)
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "you cannot delete yourself",
                              json_pack("{s:s}", "id", "is your own account"));
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    if ((r = wgm_db_begin(db)) < 0)
        goto out;
    current = wgm_user_load(db, id);
    if (!current) {
        r = wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such user", json_pack("{s:I}", "id", (json_int_t)id));
        goto out;
    }
    {
        int answered;
        r = outranked(me, current, resp, &answered);
        if (answered)
            goto out;
    }
    if (strcmp(json_string_value(json_object_get(current, "role")), "admin") == 0) {
        if (other_admins(db, id) == 0) {
            r = wgm_resp_error(resp, 422, "VALIDATION_ERROR", "the last active admin cannot be deleted",
                               json_pack("{s:s}", "id", "is the last active admin"));
            goto out;
        }
    }
    /* Sessions and keys go with the user (ON DELETE CASCADE, stated here
     * too so SQLite without foreign keys would not keep them). */
    static const char *const deletes[] = {"DELETE FROM refresh_tokens WHERE user_id = ?",
                                          "DELETE FROM api_keys WHERE user_id = ?", "DELETE FROM users WHERE id = ?"};
    for (size_t i = 0; i < 3 && r >= 0; i++) {
        if ((r = wgm_db_prepare(db, deletes[i], &st)) == 0) {
            wgm_stmt_bind_int(st, 1, id);
            r = wgm_stmt_step(st);
        }
        wgm_stmt_free(st);
        st = NULL;
    }
    if (r < 0 || (r = wgm_db_commit(db)) < 0)
        goto out;
    r = wgm_resp_json_msg(resp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1), "User deleted",
                          "用户删除成功");
out:
    wgm_db_rollback(db);
    wgm_db_release(db);
    json_decref(current);
    return r < 0 ? r : 0;
}

static int reset_password(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"new_password", "force_change", "send_email", NULL};
    struct wgm_daemon *d = ctx->daemon;
    const struct wgm_principal *me = wgm_request_principal(req);
    struct wgm_sysconfig cfg;
    struct wgm_v v;
    const char *password;
    bool force;
    char why[128];
    struct wgm_db *db;
    json_t *current;
    int64_t id;
    int r;

    if (parse_id(req, resp, &id) < 0)
        return 0;
    wgm_sysconfig_get(d, &cfg);
    wgm_v_begin(&v, req->body, true);
    wgm_v_only(&v, known);
    password = wgm_v_str(&v, "new_password", true, 1, 1024);
    if (password && wgm_password_check(&cfg.policy, password, why, sizeof(why)) < 0)
        wgm_v_fail(&v, "new_password", "%s", why);
    force = wgm_v_bool(&v, "force_change", true);
    wgm_v_bool(&v, "send_email", false);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wgm_api_db(d, resp)))
        return 0;
    current = wgm_user_load(db, id);
    if (!current) {
        wgm_db_release(db);
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such user", json_pack("{s:I}", "id", (json_int_t)id));
    }
    {
        int answered;
        r = outranked(me, current, resp, &answered);
        if (answered) {
            json_decref(current);
            wgm_db_release(db);
            return r < 0 ? r : 0;
        }
    }
    json_decref(current);
    r = wgm_auth_set_password(d, db, id, password, force);
    wgm_db_release(db);
    if (r < 0)
        return r;
    return wgm_resp_json_msg(resp, 200,
                             json_pack("{s:I,s:b,s:b}", "id", (json_int_t)id, "password_reset", 1, "force_change", force),
                             "Password reset", "密码重置成功");
}

int wgm_api_users_register(struct wgm_daemon *d)
{
    static const struct wgm_api_route routes[] = {
        {"GET", "/api/v1/users", "users.view", list_users},
        {"POST", "/api/v1/users", "users.edit", create_user},
        {"GET", "/api/v1/users/{id}", "users.view", get_user},
        {"PUT", "/api/v1/users/{id}", "users.edit", update_user},
        {"DELETE", "/api/v1/users/{id}", "users.edit", delete_user},
        {"POST", "/api/v1/users/{id}/reset-password", "users.edit", reset_password},
    };
    return wgm_api_add_routes(d, routes, sizeof(routes) / sizeof(routes[0]));
}
