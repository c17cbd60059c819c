/* core/ws/revalidate: batched re-checks of WebSocket credentials. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/users.h"
#include "daemon.h"
#include "db/db.h"
#include "ws/revalidate.h"

/* Ids per IN (...) list: a few hundred queries cover 10 000 users. */
#define BATCH 64

void wgm_ws_judge(struct wgm_ws_cred *c, const struct wgm_ws_user *user, const struct wgm_ws_key *key,
                  int revoked, time_t now)
{
    struct wgm_principal owner = {0};

    c->verdict = WGM_WS_UNKNOWN;
    c->reason = NULL;
    json_decref(c->permissions);
    c->permissions = NULL;
    /* What the clock or revoked_tokens decides needs no user row. */
    if (c->via == WGM_AUTH_JWT && c->exp > 0 && now > c->exp) {
        c->verdict = WGM_WS_INVALID;
        c->reason = "the access token has expired";
        return;
    }
    if (c->via == WGM_AUTH_JWT && revoked > 0) {
        c->verdict = WGM_WS_INVALID;
        c->reason = "the session has ended";
        return;
    }
    if (c->via == WGM_AUTH_API_KEY && key && key->found) {
        if (!key->active) {
            c->verdict = WGM_WS_INVALID;
            c->reason = "the API key has been revoked";
            return;
        }
        if (key->expires && key->expires_at < (int64_t)now) {
            c->verdict = WGM_WS_INVALID;
            c->reason = "the API key has expired";
            return;
        }
    } else if (c->via == WGM_AUTH_API_KEY && key) {
        c->verdict = WGM_WS_INVALID;
        c->reason = "the API key no longer exists";
        return;
    }
    if (!user)
        return;
    if (!user->found) {
        c->verdict = WGM_WS_INVALID;
        c->reason = "the account no longer exists";
        return;
    }
    if (!user->active) {
        c->verdict = WGM_WS_INVALID;
        c->reason = "the account is not active";
        return;
    }
    if (c->via == WGM_AUTH_JWT && c->iat_ms < user->tokens_valid_after) {
        c->verdict = WGM_WS_INVALID;
        c->reason = "the session has ended";
        return;
    }
    /* The welcome told the client its role: a new role is a new session. */
    if (strcmp(c->role, user->role) != 0) {
        c->verdict = WGM_WS_INVALID;
        c->reason = "the account's role has changed";
        return;
    }
    if (c->via == WGM_AUTH_JWT) {
        if (revoked < 0)
            return; /* revoked_tokens could not be read */
        c->permissions = json_deep_copy(user->permissions);
    } else if (c->via == WGM_AUTH_API_KEY) {
        size_t i;
        json_t *v;
        if (!key)
            return;
        /* As at authentication: the key's list within what its owner holds now. */
        owner.via = WGM_AUTH_JWT;
        owner.scope = WGM_SCOPE_FULL;
        owner.permissions = user->permissions;
        c->permissions = json_array();
        json_array_foreach(key->permissions, i, v)
        {
            /* New strings: the list goes to the hub thread, the key's row does not. */
            if (json_is_string(v) && wgm_principal_can(&owner, json_string_value(v)))
                json_array_append_new(c->permissions, json_string(json_string_value(v)));
        }
    } else {
        return;
    }
    if (c->permissions)
        c->verdict = WGM_WS_VALID;
}

/* --- lookups ---------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t unique_i64(int64_t *v, size_t n)
{
    size_t m = 0;
    qsort(v, n, sizeof(*v), cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i])
            v[m++] = v[i];
    return m;
}

static size_t unique_str(const char **v, size_t n)
{
    size_t m = 0;
    qsort(v, n, sizeof(*v), cmp_str);
    for (size_t i = 0; i < n; i++)
        if (m == 0 || strcmp(v[m - 1], v[i]) != 0)
            v[m++] = v[i];
    return m;
}

/* "SELECT ... WHERE <col> IN (?, ..., ?)" with BATCH placeholders: one
 * statement text for every batch; a short last batch repeats its last id. */
static void in_query(char *buf, size_t len, const char *head)
{
    size_t n = (size_t)snprintf(buf, len, "%s (", head);
    for (int i = 0; i < BATCH && n + 4 < len; i++)
        n += (size_t)snprintf(buf + n, len - n, i ? ", ?" : "?");
    snprintf(buf + n, len - n, ")");
}

static json_t *json_text(struct wgm_stmt *st, int col)
{
    const char *s = wgm_stmt_column_text(st, col);
    json_t *v = s ? json_loads(s, 0, NULL) : NULL;
    if (v && !json_is_array(v)) {
        json_decref(v);
        v = NULL;
    }
    return v ? v : json_array();
}

/* Fill users[i] for every ids[i] (sorted, unique). */
static int load_users(struct wgm_db *db, const int64_t *ids, size_t n, struct wgm_ws_user *users)
{
    char sql[64 * 4 + 160];
    struct wgm_stmt *st = NULL;
    int r;

    for (size_t i = 0; i < n; i++)
        users[i].id = ids[i];
    in_query(sql, sizeof(sql), "SELECT id, role, status, permissions, tokens_valid_after FROM users WHERE id IN");
    if ((r = wgm_db_prepare(db, sql, &st)) < 0)
        return r;
    for (size_t off = 0; off < n && r >= 0; off += BATCH) {
        if (off && (r = wgm_stmt_reset(st)) < 0)
            break;
        for (int i = 0; i < BATCH; i++)
            wgm_stmt_bind_int(st, i + 1, ids[off + (size_t)i < n ? off + (size_t)i : n - 1]);
        while ((r = wgm_stmt_step(st)) == WGM_DB_ROW) {
            int64_t id = wgm_stmt_column_int(st, 0);
            const int64_t *hit = bsearch(&id, ids, n, sizeof(*ids), cmp_i64);
            struct wgm_ws_user *u;
            json_t *grants;
            if (!hit)
                continue;
            u = &users[hit - ids];
            u->found = true;
            snprintf(u->role, sizeof(u->role), "%s", wgm_stmt_column_text(st, 1));
            u->active = strcmp(wgm_stmt_column_text(st, 2), "active") == 0;
            u->tokens_valid_after = wgm_stmt_column_int(st, 4);
            grants = json_text(st, 3);
            json_decref(u->permissions);
            u->permissions = wgm_effective_permissions(u->role, grants);
            json_decref(grants);
        }
    }
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}

static int load_keys(struct wgm_db *db, const char **ids, size_t n, struct wgm_ws_key *keys)
{
    char sql[64 * 4 + 160];
    struct wgm_stmt *st = NULL;
    int r;

    for (size_t i = 0; i < n; i++)
        snprintf(keys[i].id, sizeof(keys[i].id), "%s", ids[i]);
    in_query(sql, sizeof(sql), "SELECT id, user_id, status, expires_at, permissions FROM api_keys WHERE id IN");
    if ((r = wgm_db_prepare(db, sql, &st)) < 0)
        return r;
    for (size_t off = 0; off < n && r >= 0; off += BATCH) {
        if (off && (r = wgm_stmt_reset(st)) < 0)
            break;
        for (int i = 0; i < BATCH; i++)
            wgm_stmt_bind_text(st, i + 1, ids[off + (size_t)i < n ? off + (size_t)i : n - 1]);
        while ((r = wgm_stmt_step(st)) == WGM_DB_ROW) {
            const char *id = wgm_stmt_column_text(st, 0);
            const char **hit = id ? bsearch(&id, ids, n, sizeof(*ids), cmp_str) : NULL;
            struct wgm_ws_key *k;
            if (!hit)
                continue;
            k = &keys[hit - ids];
            k->found = true;
            k->user_id = wgm_stmt_column_int(st, 1);
            k->active = strcmp(wgm_stmt_column_text(st, 2), "active") == 0;
            k->expires = wgm_stmt_column_type(st, 3) != WGM_DB_NULL;
            k->expires_at = wgm_stmt_column_int(st, 3);
            json_decref(k->permissions);
            k->permissions = json_text(st, 4);
        }
    }
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}

/* revoked[i] = 1 for each jtis[i] (sorted, unique) that logout recorded in
 * revoked_tokens, the table every node shares, else 0. */
static int load_revoked(struct wgm_db *db, const char **jtis, size_t n, signed char *revoked)
{
    char sql[64 * 4 + 160];
    struct wgm_stmt *st = NULL;
    int r;

    memset(revoked, 0, n);
    in_query(sql, sizeof(sql), "SELECT jti FROM revoked_tokens WHERE jti IN");
    if ((r = wgm_db_prepare(db, sql, &st)) < 0)
        return r;
    for (size_t off = 0; off < n && r >= 0; off += BATCH) {
        if (off && (r = wgm_stmt_reset(st)) < 0)
            break;
        for (int i = 0; i < BATCH; i++)
            wgm_stmt_bind_text(st, i + 1, jtis[off + (size_t)i < n ? off + (size_t)i : n - 1]);
        while ((r = wgm_stmt_step(st)) == WGM_DB_ROW) {
            const char *jti = wgm_stmt_column_text(st, 0);
            const char **hit = jti ? bsearch(&jti, jtis, n, sizeof(*jtis), cmp_str) : NULL;
            if (hit)
                revoked[hit - jtis] = 1;
        }
    }
    wgm_stmt_free(st);
    return r < 0 ? r : 0;
}

int wgm_ws_revalidate(struct wgm_daemon *d, struct wgm_ws_cred *creds, size_t n, time_t now)
{
    int64_t *uids = calloc(n ? n : 1, sizeof(*uids));
    const char **kids = calloc(n ? n : 1, sizeof(*kids)), **jtis = calloc(n ? n : 1, sizeof(*jtis));
    struct wgm_ws_user *users = NULL;
    struct wgm_ws_key *keys = NULL;
    signed char *revoked = NULL;
    size_t nu = 0, nk = 0, nj = 0;
    struct wgm_db *db = NULL;
    bool users_ok = false, keys_ok = false, revoked_ok = false;
    int r = 0;

    if (!uids || !kids || !jtis) {
        r = -ENOMEM;
        goto judge;
    }
    for (size_t i = 0; i < n; i++) {
        uids[nu++] = creds[i].user_id;
        if (creds[i].via == WGM_AUTH_API_KEY)
            kids[nk++] = creds[i].api_key_id;
        else if (creds[i].via == WGM_AUTH_JWT && creds[i].jti[0])
            jtis[nj++] = creds[i].jti;
    }
    nu = unique_i64(uids, nu);
    nk = unique_str(kids, nk);
    nj = unique_str(jtis, nj);
    users = calloc(nu ? nu : 1, sizeof(*users));
    keys = calloc(nk ? nk : 1, sizeof(*keys));
    revoked = calloc(nj ? nj : 1, 1);
    if (!users || !keys || !revoked) {
        r = -ENOMEM;
        goto judge;
    }
    if (!(db = wgm_db_acquire(d->db, d->db_acquire_timeout_ms))) {
        r = -EIO;
        goto judge;
    }
    users_ok = (r = load_users(db, uids, nu, users)) == 0;
    if (users_ok)
        keys_ok = (r = load_keys(db, kids, nk, keys)) == 0;
    if (keys_ok)
        revoked_ok = (r = load_revoked(db, jtis, nj, revoked)) == 0;
    wgm_db_release(db);
judge:
    for (size_t i = 0; i < n; i++) {
        struct wgm_ws_cred *c = &creds[i];
        const int64_t *u = users_ok ? bsearch(&c->user_id, uids, nu, sizeof(*uids), cmp_i64) : NULL;
        const char *kid = c->api_key_id, *jti = c->jti;
        const char **k = keys_ok && c->via == WGM_AUTH_API_KEY ? bsearch(&kid, kids, nk, sizeof(*kids), cmp_str)
                                                              : NULL;
        const char **j = revoked_ok && c->via == WGM_AUTH_JWT && jti[0]
                             ? bsearch(&jti, jtis, nj, sizeof(*jtis), cmp_str)
                             : NULL;
        /* A token without a jti cannot have been revoked one by one. */
        int rv = j ? revoked[j - jtis] : jti[0] ? -1 : 0;
        wgm_ws_judge(c, u ? &users[u - uids] : NULL, k ? &keys[k - kids] : NULL, rv, now);
    }
    for (size_t i = 0; users && i < nu; i++)
        json_decref(users[i].permissions);
    for (size_t i = 0; keys && i < nk; i++)
        json_decref(keys[i].permissions);
    free(users);
    free(keys);
    free(revoked);
    free(uids);
    free(kids);
    free(jtis);
    return r;
}
