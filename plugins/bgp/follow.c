/* plugins/bgp/follow: announcements that follow ipv6pool's delegations
 * ([bgp] announce_allocations).
 *
 * "Delegated" means an allocation bound to a client (client_id): only those
 * are routed to anyone, and only those have events.
 *  - each:      one announcement per delegated prefix;
 *  - aggregate: one per pool, its whole prefix, while the pool has at least
 *               one delegated prefix (an empty pool attracts no traffic);
 *  - no:        none; rows left from another mode are removed.
 *
 * The rows live in bgp_announcements with source "ipv6pool" and source_ref
 * "pool:ID" (in both modes: the pool is what owns them), so they survive
 * restarts, show in GET /bgp/announcements and reach BIRD through the same
 * bgp_apply as the API's, under the same writer lock.
 *
 * Events (ipv6.allocation.created / .released, ipv6.pool.deleted) give the
 * quick path.  ipv6.delegations, published once a minute (by default) with each pool's
 * prefix and delegated prefixes, gives convergence: the wanted set is
 * compared with the rows and only the difference is written, so a quiet
 * tick costs one SELECT and BIRD is not touched.  That covers events missed
 * while bgp.so was not loaded, a changed mode after a restart, and a failed
 * apply (rolled back, retried at the next tick).
 *
 * The bus calls us on its dispatcher thread in publish order.  Events are
 * queued there and drained by one task at a time, in order, so a release is
 * never applied before its creation.  A status is a snapshot read a moment
 * before it was published: a pool that events changed since the previous
 * status is left alone by this one (the next one settles it). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <wgm/wgm.h>

/* plugin.c */
const struct wgm_host *bgp_host(void);
struct wgm_ctx *bgp_ctx(void);
/* apply.c */
int bgp_apply(struct wgm_db *db, char *err, size_t errlen);
void bgp_lock(void);
void bgp_unlock(void);
/* shared with plugin.c */
int bgp_follow_init(const char *mode);
int bgp_follow_start(void);
void bgp_follow_fini(void);

enum follow_mode { FOLLOW_NO, FOLLOW_AGGREGATE, FOLLOW_EACH };

struct item {
    struct item *next;
    char topic[32];
    json_t *payload; /* a deep copy: the bus's payload is only borrowed */
};

static struct {
    enum follow_mode mode;
    pthread_mutex_t lock; /* guards the queue and `scheduled` */
    struct item *head, **tail;
    bool scheduled; /* a drain task is queued or running */
    /* Owned by the one running drain task. */
    json_t *touched; /* "pool:ID" -> true: changed by events since the last status */
    bool failing;    /* the last apply failed: say the next failures quietly */
} fw = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* One drain's writes: the transaction is opened by the first change. */
struct batch {
    struct wgm_db *db;
    bool in_tx, changed;
};

static void pool_ref(int64_t pool_id, char *ref, size_t len)
{
    snprintf(ref, len, "pool:%lld", (long long)pool_id);
}

static int ensure_tx(struct batch *b)
{
    int r;
    if (b->in_tx)
        return 0;
    if ((r = bgp_host()->db_begin(b->db)) < 0)
        return r;
    b->in_tx = true;
    return 0;
}

/* Add the row (@ref, @prefix) unless it is there. */
static int row_add(struct batch *b, const char *ref, const char *prefix)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_stmt *st = NULL;
    char desc[96];
    int r;

    if ((r = h->db_prepare(b->db,
                           "SELECT id FROM bgp_announcements WHERE source = 'ipv6pool' AND source_ref = ? AND prefix = ?",
                           &st)) < 0)
        goto out;
    h->stmt_bind_text(st, 1, ref);
    h->stmt_bind_text(st, 2, prefix);
    if ((r = h->stmt_step(st)) != WGM_DB_DONE)
        goto out; /* there already, or an error */
    h->stmt_free(st);
    st = NULL;
    if ((r = ensure_tx(b)) < 0 ||
        (r = h->db_prepare(b->db,
                           "INSERT INTO bgp_announcements (prefix, session_id, communities, description, created_at,"
                           " source, source_ref) VALUES (?, NULL, '[]', ?, ?, 'ipv6pool', ?)",
                           &st)) < 0)
        goto out;
    snprintf(desc, sizeof(desc), "%s ipv6pool %s", fw.mode == FOLLOW_EACH ? "delegated from" : "aggregate of", ref);
    h->stmt_bind_text(st, 1, prefix);
    h->stmt_bind_text(st, 2, desc);
    h->stmt_bind_int(st, 3, time(NULL));
    h->stmt_bind_text(st, 4, ref);
    r = h->stmt_step(st);
    if (r == WGM_DB_ECONSTRAINT)
        r = 0; /* another wgmd on this database added it first */
    else if (r >= 0)
        b->changed = true;
out:
    h->stmt_free(st);
    return r < 0 ? r : 0;
}

/* Remove (@ref, @prefix), or every row of @ref when @prefix is NULL. */
static int row_del(struct batch *b, const char *ref, const char *prefix)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_stmt *st = NULL;
    int r;

    if ((r = ensure_tx(b)) < 0 ||
        (r = h->db_prepare(b->db,
                           "DELETE FROM bgp_announcements WHERE source = 'ipv6pool' AND source_ref = ?"
                           " AND (? IS NULL OR prefix = ?)",
                           &st)) < 0)
        goto out;
    h->stmt_bind_text(st, 1, ref);
    h->stmt_bind_text(st, 2, prefix);
    h->stmt_bind_text(st, 3, prefix);
    if ((r = h->stmt_step(st)) >= 0 && h->stmt_changes(st) > 0)
        b->changed = true;
out:
    h->stmt_free(st);
    return r < 0 ? r : 0;
}

/* One allocation or pool event, applied to the rows. */
static int on_change(struct batch *b, const char *topic, json_t *ev)
{
    json_t *pool_id = json_object_get(ev, "pool_id");
    const char *prefix = json_string_value(json_object_get(ev, "prefix"));
    const char *pool_prefix = json_string_value(json_object_get(ev, "pool_prefix"));
    char ref[40];

    if (!strcmp(topic, "ipv6.pool.deleted")) {
        pool_id = json_object_get(ev, "id");
        prefix = NULL;
    } else if (!prefix || !pool_prefix) {
        return 0; /* an older ipv6pool: the next ipv6.delegations settles it */
    }
    if (!json_is_integer(pool_id))
        return 0;
    pool_ref(json_integer_value(pool_id), ref, sizeof(ref));
    json_object_set_new(fw.touched, ref, json_true());
    if (!strcmp(topic, "ipv6.pool.deleted"))
        return row_del(b, ref, NULL);
    if (!strcmp(topic, "ipv6.allocation.created"))
        return row_add(b, ref, fw.mode == FOLLOW_EACH ? prefix : pool_prefix);
    if (fw.mode == FOLLOW_EACH)
        return row_del(b, ref, prefix);
    /* aggregate: the pool's last delegated prefix takes the aggregate along */
    if (json_is_false(json_object_get(ev, "pool_has_delegated")))
        return row_del(b, ref, pool_prefix);
    return 0;
}

/* The rows ipv6.delegations @ev asks for, as "ref prefix" -> [ref, prefix]. */
static json_t *wanted(json_t *ev)
{
    json_t *want = json_object(), *pool, *d;
    size_t i, j;

    if (fw.mode == FOLLOW_NO)
        return want;
    json_array_foreach(json_object_get(ev, "pools"), i, pool) {
        json_t *id = json_object_get(pool, "id"), *list = json_object_get(pool, "delegated_prefixes");
        const char *prefix = json_string_value(json_object_get(pool, "prefix"));
        char ref[40], key[128];
        if (!json_is_integer(id) || !prefix || !json_is_array(list))
            continue;
        pool_ref(json_integer_value(id), ref, sizeof(ref));
        json_array_foreach(list, j, d) {
            const char *p = fw.mode == FOLLOW_EACH ? json_string_value(d) : prefix;
            if (!p)
                continue;
            snprintf(key, sizeof(key), "%s %s", ref, p);
            json_object_set_new(want, key, json_pack("[s,s]", ref, p));
            if (fw.mode == FOLLOW_AGGREGATE)
                break;
        }
    }
    return want;
}

/* Make the rows what ipv6.delegations @ev says, except for the pools events
 * touched since the previous status. */
static int on_status(struct batch *b, json_t *ev)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_stmt *st = NULL;
    json_t *want, *gone = json_array(), *v;
    const char *key;
    size_t i;
    int r;

    /* An ipv6pool that predates the pool prefixes in ipv6.delegations tells us
     * nothing we could compare. */
    if (fw.mode != FOLLOW_NO && json_array_size(json_object_get(ev, "pools")) > 0 &&
        !json_object_get(json_array_get(json_object_get(ev, "pools"), 0), "delegated_prefixes")) {
        json_decref(gone);
        return 0;
    }
    want = wanted(ev);
    if ((r = h->db_prepare(b->db, "SELECT id, source_ref, prefix FROM bgp_announcements WHERE source = 'ipv6pool'",
                           &st)) < 0)
        goto out;
    while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
        const char *ref = h->stmt_column_text(st, 1), *prefix = h->stmt_column_text(st, 2);
        char k[128];
        if (!ref || !prefix || json_object_get(fw.touched, ref))
            continue;
        snprintf(k, sizeof(k), "%s %s", ref, prefix);
        if (json_object_get(want, k))
            json_object_del(want, k); /* there: nothing to do */
        else
            json_array_append_new(gone, json_pack("[s,s]", ref, prefix));
    }
    h->stmt_free(st);
    st = NULL;
    if (r < 0)
        goto out;
    json_array_foreach(gone, i, v)
        if ((r = row_del(b, json_string_value(json_array_get(v, 0)), json_string_value(json_array_get(v, 1)))) < 0)
            goto out;
    json_object_foreach(want, key, v) {
        if (json_object_get(fw.touched, json_string_value(json_array_get(v, 0))))
            continue;
        if ((r = row_add(b, json_string_value(json_array_get(v, 0)), json_string_value(json_array_get(v, 1)))) < 0)
            goto out;
    }
out:
    h->stmt_free(st);
    json_decref(want);
    json_decref(gone);
    return r < 0 ? r : 0;
}

/* Commit what @b wrote, with BIRD told first; on any failure nothing stays
 * (the next ipv6.delegations tries again). */
static void finish(struct batch *b, int r)
{
    const struct wgm_host *h = bgp_host();
    char err[512] = "";

    if (r == 0 && b->changed) {
        r = bgp_apply(b->db, err, sizeof(err));
        if (r == 0 && (r = h->db_commit(b->db)) < 0) {
            /* BIRD has the new file but the rows are gone: give it the old one. */
            h->db_rollback(b->db);
            bgp_apply(b->db, err, sizeof(err));
            snprintf(err, sizeof(err), "the database refused the commit");
        }
    }
    h->db_rollback(b->db); /* nothing open after a commit; a no-op then */
    if (r < 0) {
        h->log(bgp_ctx(), fw.failing ? WGM_LOG_DEBUG : WGM_LOG_WARN,
               "announcements following ipv6pool not applied (retried at the next ipv6.delegations): %s",
               err[0] ? err : strerror(-r));
        fw.failing = true;
    } else if (b->changed) {
        if (fw.failing)
            h->log(bgp_ctx(), WGM_LOG_INFO, "announcements following ipv6pool applied again");
        fw.failing = false;
    }
}

/* Apply the queued events @list in order, in one transaction and at most
 * one BIRD apply.  Of several statuses only the last is worth comparing. */
static void run_batch(struct item *list)
{
    struct batch b = {.db = bgp_host()->db_acquire(bgp_ctx())};
    struct item *last_status = NULL;
    int r = 0;

    for (struct item *it = list; it; it = it->next)
        if (!strcmp(it->topic, "ipv6.delegations"))
            last_status = it;
    if (!b.db) {
        /* Events are lost; ipv6.delegations brings their effect back. */
        bgp_host()->log(bgp_ctx(), WGM_LOG_DEBUG, "database unavailable; ipv6pool events skipped");
        return;
    }
    bgp_lock();
    for (struct item *it = list; it && r == 0; it = it->next) {
        if (strcmp(it->topic, "ipv6.delegations")) {
            r = fw.mode == FOLLOW_NO ? 0 : on_change(&b, it->topic, it->payload);
            continue;
        }
        if (it == last_status)
            r = on_status(&b, it->payload);
        json_object_clear(fw.touched);
    }
    finish(&b, r);
    bgp_unlock();
    bgp_host()->db_release(b.db);
}

static void free_items(struct item *it)
{
    while (it) {
        struct item *next = it->next;
        json_decref(it->payload);
        free(it);
        it = next;
    }
}

/* The task: drain the queue until it stays empty. */
static void drain(struct wgm_ctx *ctx, void *data)
{
    (void)ctx;
    (void)data;
    for (;;) {
        struct item *list;
        pthread_mutex_lock(&fw.lock);
        list = fw.head;
        fw.head = NULL;
        fw.tail = &fw.head;
        if (!list)
            fw.scheduled = false;
        pthread_mutex_unlock(&fw.lock);
        if (!list)
            return;
        run_batch(list);
        free_items(list);
    }
}

/* Queue @payload under @topic and make sure a drain task will see it. */
static int enqueue(const char *topic, json_t *payload)
{
    struct item *it = calloc(1, sizeof(*it));
    bool submit = false;

    if (!it || !(it->payload = json_deep_copy(payload))) {
        free(it);
        return -ENOMEM;
    }
    snprintf(it->topic, sizeof(it->topic), "%s", topic);
    pthread_mutex_lock(&fw.lock);
    *fw.tail = it;
    fw.tail = &it->next;
    if (!fw.scheduled)
        submit = fw.scheduled = true;
    pthread_mutex_unlock(&fw.lock);
    if (submit && bgp_host()->task_submit(bgp_ctx(), drain, NULL, NULL) < 0) {
        /* Stays queued: the next event submits again. */
        pthread_mutex_lock(&fw.lock);
        fw.scheduled = false;
        pthread_mutex_unlock(&fw.lock);
        return -ENOMEM;
    }
    return 0;
}

static void on_event(struct wgm_ctx *ctx, const char *topic, json_t *payload, void *data)
{
    (void)ctx;
    (void)data;
    if (enqueue(topic, payload) < 0)
        bgp_host()->log(bgp_ctx(), WGM_LOG_WARN, "%s: cannot queue the event; the next ipv6.delegations settles it",
                        topic);
}

int bgp_follow_init(const char *mode)
{
    static const char *const topics[] = {"ipv6.allocation.created", "ipv6.allocation.released", "ipv6.pool.deleted",
                                         "ipv6.delegations"};
    int r;

    /* The host checked the value against the choices; be strict anyway. */
    if (!mode || !strcmp(mode, "aggregate"))
        fw.mode = FOLLOW_AGGREGATE;
    else if (!strcmp(mode, "each"))
        fw.mode = FOLLOW_EACH;
    else if (!strcmp(mode, "no"))
        fw.mode = FOLLOW_NO;
    else
        return -EINVAL;
    fw.head = NULL;
    fw.tail = &fw.head;
    fw.scheduled = false;
    fw.failing = false;
    if (!fw.touched && !(fw.touched = json_object()))
        return -ENOMEM;
    /* With "no" ipv6.delegations still matters: it removes rows of another mode. */
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        if ((r = bgp_host()->subscribe(bgp_ctx(), topics[i], on_event, NULL)) < 0)
            return r;
    return 0;
}

/* "no" also without ipv6pool: rows another mode left are withdrawn now,
 * as if an empty ipv6.delegations had come (once BIRD answers; else at the next
 * ipv6.delegations, if ipv6pool is loaded). */
int bgp_follow_start(void)
{
    json_t *empty;
    int r;

    if (fw.mode != FOLLOW_NO)
        return 0;
    if (!(empty = json_pack("{s:[]}", "pools")))
        return -ENOMEM;
    r = enqueue("ipv6.delegations", empty);
    json_decref(empty);
    return r;
}

/* At unload, after the host removed our subscriptions and tasks. */
void bgp_follow_fini(void)
{
    free_items(fw.head);
    fw.head = NULL;
    fw.tail = &fw.head;
    json_decref(fw.touched);
    fw.touched = NULL;
}
