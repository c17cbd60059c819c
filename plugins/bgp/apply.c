/* plugins/bgp/apply: sessions and announcements → the include file wgm owns.
 * Render everything from the database, write a candidate, check it with
 * `bird -p` (inside a wrapper that mirrors the main config), rename it over
 * the include file and tell BIRD `configure`.  A failing candidate is never
 * applied; a refused `configure` puts the previous file back.
 *
 * Writers (API handlers, the ipv6pool follower) hold bgp_lock() from before
 * their db_begin until after their commit or rollback.  bgp_apply renders
 * the committed rows plus the caller's own, so without the lock two
 * writers could each apply a file missing the other's row. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <wgm/wgm.h>
#include "birdconf.h"
#include "birdctl.h"

/* plugin.c */
const struct wgm_host *bgp_host(void);
struct wgm_ctx *bgp_ctx(void);
const char *bgp_socket(void);
const char *bgp_include_path(void);
const char *bgp_bird_binary(void);
const char *bgp_router_id(void);
/* shared with the api_*.c files */
int bgp_render(struct wgm_db *db, char **text, char *err, size_t errlen);
int bgp_write_include(void);
int bgp_apply(struct wgm_db *db, char *err, size_t errlen);
int bgp_bird(const char *cmd, struct birdctl_reply **out);
int bgp_bird_error(struct wgm_resp *resp, int r, const char *err);
void bgp_lock(void);
void bgp_unlock(void);
/* files.c */
int bgp_file_temp(const char *path, const char *text, char *tmp, size_t tmplen);
int bgp_file_commit(const char *tmp, const char *path);
int bgp_file_replace(const char *path, const char *text);
char *bgp_file_read(const char *path);

#define BGP_BIRD_TIMEOUT_MS 5000

/* The writer lock (file comment).  Take it after db_acquire, never the
 * other way round, so a holder never waits for a pooled connection. */
static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

void bgp_lock(void)
{
    pthread_mutex_lock(&apply_lock);
}

void bgp_unlock(void)
{
    pthread_mutex_unlock(&apply_lock);
}

struct owned_session {
    struct birdconf_session s;
    char *name, *neighbor, *password, *description;
};

struct owned_ann {
    struct birdconf_announcement a;
    char *prefix, *session;
    char **comms;
};

static char *dup_col(struct wgm_stmt *st, int col)
{
    const char *s = bgp_host()->stmt_column_text(st, col);
    return s ? strdup(s) : NULL;
}

int bgp_render(struct wgm_db *db, char **text, char *err, size_t errlen)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_stmt *st = NULL;
    struct owned_session *ss = NULL;
    struct owned_ann *aa = NULL;
    struct birdconf_session *sv = NULL;
    struct birdconf_announcement *av = NULL;
    size_t ns = 0, na = 0;
    int r;

    *text = NULL;
    if ((r = h->db_prepare(db,
                           "SELECT name, neighbor, remote_as, local_as, password, hold_time, keepalive, connect_retry,"
                           " multihop, ttl_security, enabled, description FROM bgp_sessions ORDER BY id",
                           &st)) < 0)
        goto out;
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        struct owned_session *n = realloc(ss, (ns + 1) * sizeof(*ss)), *o;
        if (!n) {
            r = -ENOMEM;
            goto out;
        }
        ss = n;
        o = &ss[ns++];
        memset(o, 0, sizeof(*o));
        o->name = dup_col(st, 0);
        o->neighbor = dup_col(st, 1);
        o->description = dup_col(st, 11);
        if (h->stmt_column_text(st, 4) && *h->stmt_column_text(st, 4)) {
            char *plain = NULL;
            size_t len = 0;
            if (h->secret_open(bgp_ctx(), h->stmt_column_text(st, 4), &plain, &len) < 0) {
                snprintf(err, errlen, "session %s: the stored password cannot be opened", o->name ? o->name : "?");
                r = -EIO;
                goto out;
            }
            o->password = strndup(plain, len);
            h->free_secret(plain, len);
        }
        o->s.name = o->name;
        o->s.neighbor = o->neighbor;
        o->s.remote_as = (uint32_t)h->stmt_column_int(st, 2);
        o->s.local_as = (uint32_t)h->stmt_column_int(st, 3);
        o->s.password = o->password;
        o->s.hold_time = (unsigned)h->stmt_column_int(st, 5);
        o->s.keepalive = (unsigned)h->stmt_column_int(st, 6);
        o->s.connect_retry = (unsigned)h->stmt_column_int(st, 7);
        o->s.multihop = h->stmt_column_int(st, 8) != 0;
        o->s.ttl_security = h->stmt_column_int(st, 9) != 0;
        o->s.enabled = h->stmt_column_int(st, 10) != 0;
        o->s.description = o->description;
    }
    if (r < 0)
        goto out;
    h->stmt_free(st);
    st = NULL;
    if ((r = h->db_prepare(db,
                           "SELECT a.prefix, s.name, a.communities FROM bgp_announcements a"
                           " LEFT JOIN bgp_sessions s ON s.id = a.session_id ORDER BY a.id",
                           &st)) < 0)
        goto out;
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        struct owned_ann *n = realloc(aa, (na + 1) * sizeof(*aa)), *o;
        json_t *c;
        if (!n) {
            r = -ENOMEM;
            goto out;
        }
        aa = n;
        o = &aa[na++];
        memset(o, 0, sizeof(*o));
        o->prefix = dup_col(st, 0);
        o->session = dup_col(st, 1);
        c = json_loads(h->stmt_column_text(st, 2) ? h->stmt_column_text(st, 2) : "[]", 0, NULL);
        if (json_is_array(c) && json_array_size(c) > 0) {
            o->comms = calloc(json_array_size(c), sizeof(char *));
            for (size_t i = 0; o->comms && i < json_array_size(c); i++)
                if (json_is_string(json_array_get(c, i)))
                    o->comms[o->a.n_communities++] = strdup(json_string_value(json_array_get(c, i)));
        }
        json_decref(c);
        o->a.prefix = o->prefix;
        o->a.session = o->session;
        o->a.communities = (const char *const *)o->comms;
    }
    if (r < 0)
        goto out;
    sv = calloc(ns ? ns : 1, sizeof(*sv));
    av = calloc(na ? na : 1, sizeof(*av));
    if (!sv || !av) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ns; i++)
        sv[i] = ss[i].s;
    for (size_t i = 0; i < na; i++)
        av[i] = aa[i].a;
    r = birdconf_generate(sv, ns, av, na, text, err, errlen);
out:
    h->stmt_free(st);
    for (size_t i = 0; i < ns; i++) {
        free(ss[i].name);
        free(ss[i].neighbor);
        if (ss[i].password) {
            explicit_bzero(ss[i].password, strlen(ss[i].password));
            free(ss[i].password);
        }
        free(ss[i].description);
    }
    for (size_t i = 0; i < na; i++) {
        free(aa[i].prefix);
        free(aa[i].session);
        for (size_t j = 0; j < aa[i].a.n_communities; j++)
            free(aa[i].comms[j]);
        free(aa[i].comms);
    }
    free(ss);
    free(aa);
    free(sv);
    free(av);
    return r < 0 ? r : 0;
}

/* At start and before a restart of the private BIRD: whatever the database
 * says, unchecked (it was checked when it was applied). */
int bgp_write_include(void)
{
    struct wgm_db *db = bgp_host()->db_acquire(bgp_ctx());
    char *text = NULL, err[256] = "";
    int r = -EIO;
    /* Rendered under the lock: a writer's commit lands before or after. */
    pthread_mutex_lock(&apply_lock);
    if (db)
        r = bgp_render(db, &text, err, sizeof(err));
    if (r < 0) {
        char *old = bgp_file_read(bgp_include_path());
        bgp_host()->log(bgp_ctx(), WGM_LOG_WARN, "cannot render the BIRD include file: %s", err[0] ? err : strerror(-r));
        r = old ? 0 : bgp_file_replace(bgp_include_path(), "# generated by wgmd; nothing configured yet\n");
        free(old);
    } else {
        r = bgp_file_replace(bgp_include_path(), text);
    }
    pthread_mutex_unlock(&apply_lock);
    bgp_host()->db_release(db);
    free(text);
    return r;
}

int bgp_bird(const char *cmd, struct birdctl_reply **out)
{
    *out = NULL;
    return birdctl_run(bgp_socket(), cmd, BGP_BIRD_TIMEOUT_MS, out);
}

/* True for the errors that mean "BIRD is not there". */
static bool unreachable(int r)
{
    return r == -ENOENT || r == -ECONNREFUSED || r == -ECONNRESET || r == -ETIMEDOUT || r == -EPROTO ||
           r == -EACCES || r == -ENOTSOCK || r == -EPIPE || r == -EHOSTDOWN;
}

/* Render @db's view (the caller's open transaction included), check it and
 * hand it to BIRD.  The caller holds bgp_lock(). */
int bgp_apply(struct wgm_db *db, char *err, size_t errlen)
{
    const char *inc = bgp_include_path();
    char cand[PATH_MAX + 16] = "", wrap[PATH_MAX + 16] = "", *text = NULL, *old = NULL, *wtext = NULL;
    struct birdctl_reply *rep = NULL;
    int r;

    err[0] = '\0';
    if ((r = bgp_render(db, &text, err, errlen)) < 0)
        return r == -ENOMEM || r == -EIO ? r : -EINVAL;
    /* BIRD must be there to apply anything */
    if ((r = bgp_bird("show status", &rep)) < 0 && r != -EREMOTEIO) {
        snprintf(err, errlen, "BIRD is not reachable at %s: %s", bgp_socket(), strerror(-r));
        r = -EHOSTDOWN;
        goto out;
    }
    rep = birdctl_reply_free(rep);
    /* the candidate and its wrapper are fresh files beside the include
     * file (files.c); the wrapper names the candidate */
    if ((r = bgp_file_temp(inc, text, cand, sizeof(cand))) < 0) {
        snprintf(err, errlen, "cannot write beside %s: %s", inc, strerror(-r));
        cand[0] = '\0';
        goto out;
    }
    if (asprintf(&wtext, "router id %s;\nprotocol device { }\ninclude \"%s\";\n", bgp_router_id(), cand) < 0) {
        wtext = NULL;
        r = -ENOMEM;
        unlink(cand);
        goto out;
    }
    if ((r = bgp_file_temp(inc, wtext, wrap, sizeof(wrap))) < 0) {
        snprintf(err, errlen, "cannot write beside %s: %s", inc, strerror(-r));
        unlink(cand);
        goto out;
    }
    r = birdconf_check(bgp_bird_binary(), wrap, err, errlen);
    unlink(wrap);
    if (r < 0) {
        unlink(cand);
        if (r != -EINVAL && !err[0])
            snprintf(err, errlen, "bird -p: %s", strerror(-r));
        goto out;
    }
    old = bgp_file_read(inc);
    if ((r = bgp_file_commit(cand, inc)) < 0) {
        snprintf(err, errlen, "cannot replace %s: %s", inc, strerror(-r));
        goto out;
    }
    r = bgp_bird("configure", &rep);
    if (r < 0) {
        if (r == -EREMOTEIO)
            snprintf(err, errlen, "BIRD refused the configuration: %s", birdctl_reply_message(rep));
        else
            snprintf(err, errlen, "BIRD is not reachable at %s: %s", bgp_socket(), strerror(-r));
        if (old)
            bgp_file_replace(inc, old);
        else
            unlink(inc);
        r = r == -EREMOTEIO ? -EINVAL : -EHOSTDOWN;
    }
out:
    birdctl_reply_free(rep);
    free(old);
    free(text);
    free(wtext);
    return r;
}

/* Answer for a failed bgp_bird/bgp_apply. */
int bgp_bird_error(struct wgm_resp *resp, int r, const char *err)
{
    if (r == -EHOSTDOWN || unreachable(r))
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", err && *err ? err : "BIRD is not running",
                              json_pack("{s:s}", "bird_socket", bgp_socket()));
    if (r == -EINVAL)
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "BIRD rejected the configuration",
                              json_pack("{s:s}", "bird", err && *err ? err : "invalid configuration"));
    return wgm_resp_error(resp, 500, "INTERNAL_ERROR", err && *err ? err : "BIRD request failed", NULL);
}
