/* core/auth/users: user rows, roles, effective permissions, bootstrap. */
#ifndef WGM_CORE_AUTH_USERS_H
#define WGM_CORE_AUTH_USERS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "auth/principal.h"

struct wgm_db;
struct wgm_stmt;
struct wgm_daemon;

/* Columns every user query selects, in the order users_row_json reads. */
#define WGM_USER_COLUMNS                                                                          \
    "id, username, email, full_name, role, status, permissions, two_factor_enabled, last_login, " \
    "created_at, updated_at, login_attempts, locked_until, force_change"

/* True for admin, manager, user. */
bool wgm_role_valid(const char *role);
/* Role defaults ∪ explicit grants (a JSON array of strings); new array. */
json_t *wgm_effective_permissions(const char *role, json_t *explicit_grants);
/* A syntactically valid permission: "*", "a.b", "a.*". */
bool wgm_permission_valid(const char *perm);

/* The spec's user object from a row selected with WGM_USER_COLUMNS. */
json_t *wgm_user_row_json(struct wgm_stmt *st);
/* The spec's user object for @id, or NULL when there is none. */
json_t *wgm_user_load(struct wgm_db *db, int64_t id);
/* The password hash of @id into @out, "" when there is none. */
void wgm_user_password_hash(struct wgm_db *db, int64_t id, char *out, size_t len);

/* Fill @p for user @id if the user exists, is active and tokens issued at
 * @issued_ms (unix ms) are still valid.  0, -ENOENT (gone), -EACCES
 * (inactive or tokens revoked), or a database error. */
int wgm_user_principal(struct wgm_db *db, int64_t id, int64_t issued_ms, struct wgm_principal *p);

/* On an empty users table, create `admin` with @password, or with a
 * random one printed once on stderr (never stored in the log table) and
 * force_change set.  0 or a negative errno with @err. */
int wgm_users_bootstrap(struct wgm_daemon *d, const char *password, char *err, size_t errlen);

#endif
