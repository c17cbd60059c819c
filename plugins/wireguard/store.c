/* plugins/wireguard/store: rows to structs and JSON, keys at rest, and the
 * address allocator. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include "api_common.h"
#include "counters.h"
#include "keys.h"
#include "store.h"

static const char *text(struct wgm_stmt *st, int col)
{
    const char *s = wg.host->stmt_column_text(st, col);
    return s ? s : "";
}

static json_t *text_or_null(struct wgm_stmt *st, int col)
{
    const char *s = wg.host->stmt_column_text(st, col);
    return s ? json_string(s) : json_null();
}

static json_t *json_col(struct wgm_stmt *st, int col)
{
    json_t *v = json_loads(text(st, col), 0, NULL);
    return v ? v : json_array();
}

static json_t *time_col(struct wgm_stmt *st, int col)
{
    char buf[32];
    if (wg.host->stmt_column_type(st, col) == WGM_DB_NULL)
        return json_null();
    return json_string(wgm_time_format((time_t)wg.host->stmt_column_int(st, col), buf, sizeof(buf)));
}

char *wg_store_seal_key(const uint8_t key[WG_KEY_LEN])
{
    char *sealed = NULL;
    char b64[WG_KEY_B64_LEN];
    wg_key_to_base64(key, b64);
    if (wg.host->secret_seal(wg.ctx, b64, strlen(b64), &sealed) < 0)
        sealed = NULL;
    explicit_bzero(b64, sizeof(b64));
    return sealed;
}

int wg_store_open_key(const char *sealed, uint8_t key[WG_KEY_LEN])
{
    char *plain = NULL;
    size_t len = 0;
    int r;
    if (!sealed || !*sealed)
        return -ENOENT;
    r = wg.host->secret_open(wg.ctx, sealed, &plain, &len);
    if (r < 0)
        return r;
    r = wg_key_from_base64(plain, key);
    wg.host->free_secret(plain, len);
    return r;
}

/* A sealed column as base64 for API output, or null. */
static json_t *opened_key(struct wgm_stmt *st, int col)
{
    uint8_t key[WG_KEY_LEN];
    char b64[WG_KEY_B64_LEN];
    json_t *v;
    if (wg_store_open_key(wg.host->stmt_column_text(st, col), key) < 0)
        return json_null();
    wg_key_to_base64(key, b64);
    v = json_string(b64);
    explicit_bzero(key, sizeof(key));
    explicit_bzero(b64, sizeof(b64));
    return v;
}

void wg_store_server_read(struct wgm_stmt *st, struct wg_server_row *out)
{
    memset(out, 0, sizeof(*out));
    out->id = wg.host->stmt_column_int(st, 0);
    snprintf(out->name, sizeof(out->name), "%s", text(st, 1));
    snprintf(out->interface, sizeof(out->interface), "%s", text(st, 2));
    out->listen_port = (unsigned)wg.host->stmt_column_int(st, 3);
    snprintf(out->ipv4, sizeof(out->ipv4), "%s", text(st, 4));
    snprintf(out->ipv6, sizeof(out->ipv6), "%s", text(st, 5));
    snprintf(out->public_key, sizeof(out->public_key), "%s", text(st, 7));
    snprintf(out->endpoint, sizeof(out->endpoint), "%s", text(st, 8));
    out->mtu = (unsigned)wg.host->stmt_column_int(st, 11);
    out->keepalive = (unsigned)wg.host->stmt_column_int(st, 12);
    out->running = strcmp(text(st, 14), "running") == 0;
    out->started_at = wg.host->stmt_column_int(st, 16);
}

int wg_store_server(struct wgm_db *db, int64_t id, struct wg_server_row *out)
{
    struct wgm_stmt *st = NULL;
    int r = wg.host->db_prepare(db, "SELECT " WG_SERVER_COLUMNS " FROM wg_servers WHERE id = ?", &st);
    if (r < 0)
        return r;
    wg.host->stmt_bind_int(st, 1, id);
    r = wg.host->stmt_step(st);
    if (r == WGM_DB_ROW) {
        wg_store_server_read(st, out);
        r = 0;
    } else if (r == WGM_DB_DONE) {
        r = -ENOENT;
    }
    wg.host->stmt_free(st);
    return r;
}

int wg_store_server_private_key(struct wgm_db *db, int64_t id, uint8_t key[WG_KEY_LEN])
{
    struct wgm_stmt *st = NULL;
    int r = wg.host->db_prepare(db, "SELECT private_key FROM wg_servers WHERE id = ?", &st);
    if (r < 0)
        return r;
    wg.host->stmt_bind_int(st, 1, id);
    r = wg.host->stmt_step(st) == WGM_DB_ROW ? wg_store_open_key(wg.host->stmt_column_text(st, 0), key) : -ENOENT;
    wg.host->stmt_free(st);
    return r;
}

json_t *wg_store_server_json(struct wgm_stmt *st, bool secrets)
{
    json_t *s = json_pack("{s:I,s:s,s:s,s:I,s:o,s:o,s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:{s:o,s:I,s:I,s:o}}", "id",
                          (json_int_t)wg.host->stmt_column_int(st, 0), "name", text(st, 1), "interface", text(st, 2),
                          "listen_port", (json_int_t)wg.host->stmt_column_int(st, 3), "ipv4_address",
                          text_or_null(st, 4), "ipv6_address", text_or_null(st, 5), "public_key", text(st, 7),
                          "endpoint", text_or_null(st, 8), "description", text_or_null(st, 9), "desired_status",
                          text(st, 14), "last_error", text_or_null(st, 15), "created_at", time_col(st, 17),
                          "updated_at", time_col(st, 18), "config", "dns_servers", json_col(st, 10), "mtu",
                          (json_int_t)wg.host->stmt_column_int(st, 11), "persistent_keepalive",
                          (json_int_t)wg.host->stmt_column_int(st, 12), "allowed_ips", json_col(st, 13));
    if (s) {
        time_t hs = wg_counters_server_handshake(wg.host->stmt_column_int(st, 0));
        char buf[32];
        json_object_set_new(s, "last_handshake", hs ? json_string(wgm_time_format(hs, buf, sizeof(buf))) : json_null());
    }
    if (s && secrets)
        json_object_set_new(s, "private_key", opened_key(st, 6));
    return s;
}

json_t *wg_store_client_json(struct wgm_stmt *st, bool secrets)
{
    json_t *allowed = json_col(st, 9), *extra = json_col(st, 10);
    time_t expires = (time_t)wg.host->stmt_column_int(st, 14);
    bool enabled = wg.host->stmt_column_int(st, 13) != 0;
    bool expired = wg.host->stmt_column_type(st, 14) != WGM_DB_NULL && expires <= time(NULL);
    json_t *c = json_pack("{s:I,s:I,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:s,s:b,s:b,s:o,s:o,s:o}", "id",
                          (json_int_t)wg.host->stmt_column_int(st, 0), "server_id",
                          (json_int_t)wg.host->stmt_column_int(st, 1), "name", text(st, 2), "description",
                          text_or_null(st, 3), "public_key", text(st, 4), "ipv4_address", text_or_null(st, 7),
                          "ipv6_address", text_or_null(st, 8), "allowed_ips", allowed, "routed_prefixes", extra,
                          "dns_servers", json_col(st, 11), "persistent_keepalive",
                          (json_int_t)wg.host->stmt_column_int(st, 12), "status",
                          !enabled ? "disabled" : expired ? "expired" : "active", "enabled", enabled,
                          "has_preshared_key", wg.host->stmt_column_type(st, 6) != WGM_DB_NULL, "expires_at",
                          time_col(st, 14), "created_at", time_col(st, 15), "updated_at", time_col(st, 16));
    if (c) {
        /* Totals from the device (via the status tick), never stored guesses. */
        struct wg_totals t;
        wg_counters_get(wg.host->stmt_column_int(st, 0), &t);
        if (!t.live && !t.rx && !t.tx) {
            t.rx = (uint64_t)wg.host->stmt_column_int(st, 17);
            t.tx = (uint64_t)wg.host->stmt_column_int(st, 18);
        }
        json_object_set_new(c, "bytes_received", json_integer((json_int_t)t.rx));
        json_object_set_new(c, "bytes_sent", json_integer((json_int_t)t.tx));
        if (t.last_handshake) {
            char buf[32];
            json_object_set_new(c, "last_handshake", json_string(wgm_time_format(t.last_handshake, buf, sizeof(buf))));
        } else {
            json_object_set_new(c, "last_handshake", json_null());
        }
    }
    if (c && secrets) {
        json_object_set_new(c, "private_key", opened_key(st, 5));
        json_object_set_new(c, "preshared_key", opened_key(st, 6));
    }
    return c;
}

int wg_store_forget_offset(struct wgm_db *db, int64_t server_id, int family, int64_t off)
{
    struct wgm_stmt *st = NULL;
    int r = wg.host->db_prepare(db, "DELETE FROM wg_free_ips WHERE server_id = ? AND family = ? AND off = ?", &st);
    if (r < 0)
        return r;
    wg.host->stmt_bind_int(st, 1, server_id);
    wg.host->stmt_bind_int(st, 2, family);
    wg.host->stmt_bind_int(st, 3, off);
    r = wg.host->stmt_step(st);
    wg.host->stmt_free(st);
    return r < 0 ? r : 0;
}

/* Is @off held by a client?  (An indexed lookup, not a scan.) */
static bool offset_taken(struct wgm_db *db, int64_t server_id, int family, int64_t off)
{
    struct wgm_stmt *st = NULL;
    bool taken = true; /* on error, do not hand it out */
    if (wg.host->db_prepare(db,
                            family == AF_INET ? "SELECT 1 FROM wg_clients WHERE server_id = ? AND ip4_off = ?"
                                              : "SELECT 1 FROM wg_clients WHERE server_id = ? AND ip6_off = ?",
                            &st) == 0) {
        wg.host->stmt_bind_int(st, 1, server_id);
        wg.host->stmt_bind_int(st, 2, off);
        taken = wg.host->stmt_step(st) != WGM_DB_DONE;
    }
    wg.host->stmt_free(st);
    return taken;
}

int wg_store_reset_offsets(struct wgm_db *db, int64_t server_id, int family)
{
    struct wgm_stmt *st = NULL;
    int r = wg.host->db_prepare(db, "DELETE FROM wg_free_ips WHERE server_id = ? AND family = ?", &st);
    if (r < 0)
        return r;
    wg.host->stmt_bind_int(st, 1, server_id);
    wg.host->stmt_bind_int(st, 2, family);
    r = wg.host->stmt_step(st);
    wg.host->stmt_free(st);
    if (r < 0)
        return r;
    r = wg.host->db_prepare(db,
                            family == AF_INET ? "UPDATE wg_servers SET ip4_next = 1 WHERE id = ?"
                                              : "UPDATE wg_servers SET ip6_next = 1 WHERE id = ?",
                            &st);
    if (r < 0)
        return r;
    wg.host->stmt_bind_int(st, 1, server_id);
    r = wg.host->stmt_step(st);
    wg.host->stmt_free(st);
    return r < 0 ? r : 0;
}

int wg_store_take_offset(struct wgm_db *db, int64_t server_id, int family, const struct wg_subnet *sn, int64_t *off)
{
    const struct wgm_host *h = wg.host;
    const char *col = family == AF_INET ? "ip4" : "ip6";
    struct wgm_stmt *st = NULL;
    int64_t next = 0;
    int r;

    /* A released address first: the free list keeps the subnet dense.  An
     * entry that is no longer usable (claimed explicitly since, or outside
     * a changed subnet) is dropped and the next one tried. */
    for (;;) {
        int64_t cand;
        if ((r = h->db_prepare(db, "SELECT off FROM wg_free_ips WHERE server_id = ? AND family = ? ORDER BY off LIMIT 1",
                               &st)) < 0)
            return r;
        h->stmt_bind_int(st, 1, server_id);
        h->stmt_bind_int(st, 2, family);
        r = h->stmt_step(st);
        cand = r == WGM_DB_ROW ? h->stmt_column_int(st, 0) : 0;
        h->stmt_free(st);
        st = NULL;
        if (r != WGM_DB_ROW)
            break;
        if ((r = wg_store_forget_offset(db, server_id, family, cand)) < 0)
            return r;
        if (cand >= 1 && cand <= sn->max_off && cand != sn->self_off && !offset_taken(db, server_id, family, cand)) {
            *off = cand;
            return 0;
        }
    }
    if (r < 0)
        return r;
    /* Otherwise the counter; an explicitly assigned address or the
     * server's own may sit there, so probe forward (by index, not a scan). */
    {
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT %s_next FROM wg_servers WHERE id = ?", col);
        if ((r = h->db_prepare(db, sql, &st)) < 0)
            return r;
        h->stmt_bind_int(st, 1, server_id);
        r = h->stmt_step(st);
        next = r == WGM_DB_ROW ? h->stmt_column_int(st, 0) : 0;
        h->stmt_free(st);
        st = NULL;
        if (r != WGM_DB_ROW)
            return r < 0 ? r : -ENOENT;
        for (;; next++) {
            if (next > sn->max_off)
                return -ENOSPC;
            if (next != sn->self_off && !offset_taken(db, server_id, family, next))
                break;
        }
        snprintf(sql, sizeof(sql), "UPDATE wg_servers SET %s_next = ? WHERE id = ?", col);
        if ((r = h->db_prepare(db, sql, &st)) < 0)
            return r;
        h->stmt_bind_int(st, 1, next + 1);
        h->stmt_bind_int(st, 2, server_id);
        r = h->stmt_step(st);
        h->stmt_free(st);
        if (r < 0)
            return r;
    }
    *off = next;
    return 0;
}

int wg_store_release_offset(struct wgm_db *db, int64_t server_id, int family, int64_t off)
{
    struct wgm_stmt *st = NULL;
    int r = wg.host->db_prepare(db, "INSERT INTO wg_free_ips (server_id, family, off) VALUES (?, ?, ?)", &st);
    if (r < 0)
        return r;
    wg.host->stmt_bind_int(st, 1, server_id);
    wg.host->stmt_bind_int(st, 2, family);
    wg.host->stmt_bind_int(st, 3, off);
    r = wg.host->stmt_step(st);
    wg.host->stmt_free(st);
    return r == WGM_DB_ECONSTRAINT ? 0 : r < 0 ? r : 0;
}
