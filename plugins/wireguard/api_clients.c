/* plugins/wireguard/api_clients: /wireguard/clients — list, create, read,
 * update, delete, config (text or QR PNG), enable/disable, key rotation.
 * Every write re-applies only that server's difference to the device. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include <wgm/input.h>
#include "api_common.h"
#include "keys.h"
#include "store.h"
#include "wgquick.h"

static bool valid_name(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("_.-@ ", *s)))
            return false;
    return true;
}

static int not_found(struct wgm_resp *resp, int64_t id)
{
    return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such client", json_pack("{s:I}", "id", (json_int_t)id));
}

static int no_endpoint(struct wgm_resp *resp)
{
    return wgm_resp_error(resp, 409, "RESOURCE_CONFLICT", "no endpoint is known for this client's server",
                          json_pack("{s:s}", "endpoint",
                                    "set the server's endpoint or [wireguard] public_endpoint; this host has no "
                                    "address to offer"));
}

static json_t *png_data_uri(const unsigned char *png, size_t len)
{
    static const char prefix[] = "data:image/png;base64,";
    size_t b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *buf = malloc(sizeof(prefix) + b64len);
    json_t *v;
    if (!buf)
        return json_null();
    memcpy(buf, prefix, sizeof(prefix) - 1);
    sodium_bin2base64(buf + sizeof(prefix) - 1, b64len, png, len, sodium_base64_VARIANT_ORIGINAL);
    v = json_string(buf);
    free(buf);
    return v;
}

static json_t *client_json(struct wgm_db *db, int64_t id, bool secrets, int64_t *server_id)
{
    struct wgm_stmt *st = NULL;
    json_t *out = NULL;
    if (wg.host->db_prepare(db, "SELECT " WG_CLIENT_COLUMNS " FROM wg_clients WHERE id = ?", &st) == 0) {
        wg.host->stmt_bind_int(st, 1, id);
        if (wg.host->stmt_step(st) == WGM_DB_ROW) {
            out = wg_store_client_json(st, secrets);
            if (server_id)
                *server_id = wg.host->stmt_column_int(st, 1);
        }
    }
    wg.host->stmt_free(st);
    return out;
}

/* One client changed: one peer changes on the device. */
static void apply(int64_t server_id, int64_t client_id, const uint8_t *old_key)
{
    int r = wg_apply_client(server_id, client_id, old_key);
    if (r < 0)
        WG_LOG(WGM_LOG_WARN, "server %lld, client %lld: %s", (long long)server_id, (long long)client_id, strerror(-r));
}

static int list_clients(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = wg.host;
    struct wgm_v v;
    struct wgm_page pg;
    long long server_id = 0;
    const char *status, *search = wgm_req_query(req, "search");
    char *like = NULL, sql[1200];
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *list = NULL;
    long long total = 0;
    bool has_server;
    int r = 0;
    static const char where[] =
        " WHERE (? = 0 OR server_id = ?) AND (? IS NULL OR name LIKE ? ESCAPE '!' OR description LIKE ? ESCAPE '!')"
        " AND (? IS NULL OR (? = 'disabled' AND enabled = 0) OR (? = 'active' AND enabled = 1 AND"
        " (expires_at IS NULL OR expires_at > ?)) OR (? = 'expired' AND enabled = 1 AND expires_at <= ?))";

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    has_server = wgm_v_query_int(&v, req, "server_id", 1, INT64_MAX, &server_id);
    status = wgm_v_query_enum(&v, req, "status", "active|disabled|expired");
    if (search && strlen(search) > 100)
        wgm_v_fail(&v, "search", "must be at most 100 characters");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!has_server)
        server_id = 0;
    if (search && !(like = wgm_like_pattern(search)))
        return -ENOMEM;
    if (!(db = h->db_acquire(wg.ctx))) {
        free(like);
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM wg_clients%s", where);
        else
            snprintf(sql, sizeof(sql), "SELECT " WG_CLIENT_COLUMNS " FROM wg_clients%s ORDER BY id LIMIT ? OFFSET ?",
                     where);
        if ((r = h->db_prepare(db, sql, &st)) < 0)
            goto out;
        h->stmt_bind_int(st, 1, server_id);
        h->stmt_bind_int(st, 2, server_id);
        for (int i = 3; i <= 5; i++)
            h->stmt_bind_text(st, i, like);
        for (int i = 6; i <= 8; i++)
            h->stmt_bind_text(st, i, status);
        h->stmt_bind_int(st, 9, time(NULL));
        h->stmt_bind_text(st, 10, status);
        h->stmt_bind_int(st, 11, time(NULL));
        if (pass == 0) {
            if ((r = h->stmt_step(st)) != WGM_DB_ROW)
                goto out;
            total = h->stmt_column_int(st, 0);
        } else {
            bool secrets = h->req_can(req, "wireguard.secrets");
            h->stmt_bind_int(st, 12, pg.size);
            h->stmt_bind_int(st, 13, (pg.page - 1) * pg.size);
            list = json_array();
            while ((r = h->stmt_step(st)) == WGM_DB_ROW)
                json_array_append_new(list, wg_store_client_json(st, secrets));
            if (r < 0)
                goto out;
        }
        h->stmt_free(st);
        st = NULL;
    }
    r = wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "clients", list, "pagination", wgm_pagination(&pg, total)));
    list = NULL;
out:
    json_decref(list);
    h->stmt_free(st);
    h->db_release(db);
    free(like);
    return r < 0 ? r : 0;
}

/* Which unique value of a new client is taken, for a 409 naming it. */
static const char *taken_client_field(struct wgm_db *db, int64_t server_id, const char *name, int64_t off4, int64_t off6)
{
    static const char *const sql[] = {"SELECT 1 FROM wg_clients WHERE server_id = ? AND name = ?",
                                      "SELECT 1 FROM wg_clients WHERE server_id = ? AND ip4_off = ?",
                                      "SELECT 1 FROM wg_clients WHERE server_id = ? AND ip6_off = ?"};
    static const char *const fields[] = {"name", "ipv4_address", "ipv6_address"};
    for (int i = 0; i < 3; i++) {
        struct wgm_stmt *st = NULL;
        bool hit = false;
        if ((i == 1 && off4 < 0) || (i == 2 && off6 < 0))
            continue;
        if (wg.host->db_prepare(db, sql[i], &st) == 0) {
            wg.host->stmt_bind_int(st, 1, server_id);
            if (i == 0)
                wg.host->stmt_bind_text(st, 2, name);
            else
                wg.host->stmt_bind_int(st, 2, i == 1 ? off4 : off6);
            hit = wg.host->stmt_step(st) == WGM_DB_ROW;
        }
        wg.host->stmt_free(st);
        if (hit)
            return fields[i];
    }
    return "name";
}

/* Resolve one address family for a new client: explicit (inside the
 * subnet and free) or auto-assigned.  Fills @addr ("a.b.c.d/32") and @off. */
static int pick_address(struct wgm_db *db, int64_t server_id, const char *subnet_s, const char *explicit,
                        bool auto_assign, int family, char *addr, size_t addrlen, int64_t *off, struct wgm_v *v,
                        const char *field)
{
    struct wg_subnet sn;
    struct wg_allowedip a;
    int r;

    *off = -1;
    addr[0] = '\0';
    if (!subnet_s || !*subnet_s) {
        if (explicit)
            wgm_v_fail(v, field, "the server has no %s subnet", family == AF_INET ? "IPv4" : "IPv6");
        return 0;
    }
    if (wg_subnet_parse(subnet_s, &sn) < 0)
        return -EINVAL;
    if (explicit) {
        if (wg_allowedip_parse(explicit, &a) < 0 || a.family != family ||
            a.cidr != (family == AF_INET ? 32 : 128) || (*off = wg_subnet_offset(&sn, &a)) < 0 || *off == sn.self_off) {
            wgm_v_fail(v, field, "must be a free host address (/%d) inside %s", family == AF_INET ? 32 : 128, subnet_s);
            *off = -1;
            return 0;
        }
        if ((r = wg_store_forget_offset(db, server_id, family, *off)) < 0)
            return r;
    } else if (auto_assign) {
        if ((r = wg_store_take_offset(db, server_id, family, &sn, off)) < 0)
            return r;
    } else {
        return 0;
    }
    wg_subnet_address(&sn, *off, &a);
    wg_allowedip_format(&a, addr, addrlen);
    return 0;
}

static int create_client(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "server_id", "ipv4_address", "ipv6_address", "allowed_ips",
                                        "dns_servers", "persistent_keepalive", "auto_assign_ip", "description",
                                        "preshared_key", "expires_at", "enabled", NULL};
    const struct wgm_host *h = wg.host;
    struct wgm_v v;
    const char *name, *ip4_in, *ip6_in, *desc, *expires_s;
    json_t *allowed, *dns, *def_allowed = json_pack("[s,s]", "0.0.0.0/0", "::/0"), *empty = json_array(), *out = NULL;
    long long server_id, keepalive;
    bool auto_assign, want_psk, enabled;
    time_t expires = 0;
    struct wg_server_row srv;
    struct wgm_db *db = NULL;
    struct wgm_stmt *st = NULL;
    char ip4[64], ip6[64], *sealed_priv = NULL, *sealed_psk = NULL, *allowed_s = NULL, *dns_s = NULL, *srv_dns = NULL;
    char pub_b64[WG_KEY_B64_LEN];
    uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], psk[WG_KEY_LEN];
    int64_t off4 = -1, off6 = -1, id = 0, now = (int64_t)time(NULL);
    int r;

    (void)ctx;
    /* A body that is not an object is that one error, not missing fields. */
    if (!wgm_v_begin(&v, req->body, true))
        goto invalid;
    wgm_v_only(&v, known);
    name = wgm_v_str(&v, "name", true, 1, 64);
    if (name && !valid_name(name))
        wgm_v_fail(&v, "name", "may contain letters, digits, space, '_', '.', '-' and '@' only");
    server_id = wgm_v_int(&v, "server_id", true, 1, INT64_MAX, 0);
    ip4_in = wgm_v_str(&v, "ipv4_address", false, 1, 18);
    ip6_in = wgm_v_str(&v, "ipv6_address", false, 1, 50);
    allowed = wg_v_str_array(&v, "allowed_ips", 64, wg_valid_cidr);
    dns = wg_v_str_array(&v, "dns_servers", 8, wg_valid_ip);
    keepalive = wgm_v_int(&v, "persistent_keepalive", false, 0, 65535, -1);
    auto_assign = wgm_v_bool(&v, "auto_assign_ip", !ip4_in && !ip6_in);
    desc = wgm_v_str(&v, "description", false, 0, 500);
    want_psk = wgm_v_bool(&v, "preshared_key", true);
    enabled = wgm_v_bool(&v, "enabled", true);
    expires_s = wgm_v_str(&v, "expires_at", false, 1, 40);
    if (expires_s) {
        int64_t ms;
        /* Strict RFC 3339: strptime would take leading blanks and short fields. */
        size_t n = strlen(expires_s);
        if (wgm_in_parse_time(expires_s, &ms, NULL) < 0 || (expires_s[n - 1] != 'Z' && expires_s[n - 1] != 'z') ||
            (expires = (time_t)(ms / 1000)) <= time(NULL))
            wgm_v_fail(&v, "expires_at", "must be a UTC RFC 3339 time in the future (…Z)");
    }
    if (!wgm_v_ok(&v))
        goto invalid;
    if (!(db = h->db_acquire(wg.ctx))) {
        r = wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
        goto out;
    }
    if ((r = h->db_begin(db)) < 0)
        goto out;
    if ((r = wg_store_server(db, server_id, &srv)) == -ENOENT) {
        wgm_v_fail(&v, "server_id", "no such server");
        goto invalid;
    }
    if (r < 0)
        goto out;
    {
        struct wgm_stmt *s2 = NULL;
        if (h->db_prepare(db, "SELECT ipv4_address, ipv6_address, dns_servers FROM wg_servers WHERE id = ?", &s2) == 0) {
            h->stmt_bind_int(s2, 1, server_id);
            if (h->stmt_step(s2) == WGM_DB_ROW) {
                const char *d = h->stmt_column_text(s2, 2);
                srv_dns = d ? strdup(d) : NULL;
                r = pick_address(db, server_id, h->stmt_column_text(s2, 0), ip4_in, auto_assign, AF_INET, ip4,
                                 sizeof(ip4), &off4, &v, "ipv4_address");
                if (r == 0)
                    r = pick_address(db, server_id, h->stmt_column_text(s2, 1), ip6_in, auto_assign, AF_INET6, ip6,
                                     sizeof(ip6), &off6, &v, "ipv6_address");
            }
        }
        h->stmt_free(s2);
    }
    if (r == -ENOSPC) {
        r = wgm_resp_error(resp, 409, "SUBNET_FULL", "no free address is left in the server's subnet",
                           json_pack("{s:I}", "server_id", (json_int_t)server_id));
        goto out;
    }
    if (r < 0)
        goto out;
    if (!wgm_v_ok(&v))
        goto invalid;
    /* No address given and none to assign: a missing parameter (400). */
    if (off4 < 0 && off6 < 0) {
        wgm_v_missing(&v, "ipv4_address");
        json_object_set_new(v.details, "ipv4_address", json_string("is required (or ipv6_address, or auto_assign_ip)"));
        goto invalid;
    }
    if ((r = wg_key_generate(priv, pub)) < 0 || !(sealed_priv = wg_store_seal_key(priv))) {
        r = -EIO;
        goto out;
    }
    if (want_psk) {
        wg_key_preshared(psk);
        if (!(sealed_psk = wg_store_seal_key(psk))) {
            r = -EIO;
            goto out;
        }
    }
    wg_key_to_base64(pub, pub_b64);
    allowed_s = json_dumps(allowed ? allowed : def_allowed, JSON_COMPACT);
    dns_s = dns ? json_dumps(dns, JSON_COMPACT) : (srv_dns ? strdup(srv_dns) : json_dumps(empty, JSON_COMPACT));
    r = h->db_prepare(db,
                      "INSERT INTO wg_clients (server_id, name, description, public_key, private_key, preshared_key,"
                      " ipv4_address, ipv6_address, ip4_off, ip6_off, allowed_ips, extra_ips, dns_servers,"
                      " persistent_keepalive, enabled, expires_at, created_at, updated_at)"
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?)",
                      &st);
    if (r == 0) {
        h->stmt_bind_int(st, 1, server_id);
        h->stmt_bind_text(st, 2, name);
        h->stmt_bind_text(st, 3, desc);
        h->stmt_bind_text(st, 4, pub_b64);
        h->stmt_bind_text(st, 5, sealed_priv);
        h->stmt_bind_text(st, 6, sealed_psk);
        h->stmt_bind_text(st, 7, off4 >= 0 ? ip4 : NULL);
        h->stmt_bind_text(st, 8, off6 >= 0 ? ip6 : NULL);
        if (off4 >= 0)
            h->stmt_bind_int(st, 9, off4);
        else
            h->stmt_bind_null(st, 9);
        if (off6 >= 0)
            h->stmt_bind_int(st, 10, off6);
        else
            h->stmt_bind_null(st, 10);
        h->stmt_bind_text(st, 11, allowed_s);
        h->stmt_bind_text(st, 12, dns_s);
        h->stmt_bind_int(st, 13, keepalive >= 0 ? keepalive : srv.keepalive);
        h->stmt_bind_int(st, 14, enabled);
        if (expires)
            h->stmt_bind_int(st, 15, expires);
        else
            h->stmt_bind_null(st, 15);
        h->stmt_bind_int(st, 16, now);
        h->stmt_bind_int(st, 17, now);
        r = h->stmt_step(st);
        id = r >= 0 ? h->stmt_last_id(st) : 0;
    }
    h->stmt_free(st);
    st = NULL;
    if (r == WGM_DB_ECONSTRAINT) {
        const char *field = taken_client_field(db, server_id, name, off4, off6);
        r = wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "already used by another client of this server",
                           json_pack("{s:s}", field, "is already used by another client"));
        goto out;
    }
    if (r < 0 || (r = h->db_commit(db)) < 0)
        goto out;
    apply(server_id, id, NULL);
    out = client_json(db, id, h->req_can(req, "wireguard.secrets"), NULL);
    if (out) {
        char *config = NULL;
        /* No endpoint known yet: the client exists, its config comes once
         * one is set (GET .../config answers 409 until then). */
        json_object_set_new(out, "config", json_null());
        json_object_set_new(out, "qr_code", json_null());
        if (wg_client_config(id, &config) == 0) {
            unsigned char *png = NULL;
            size_t len = 0;
            json_object_set_new(out, "config", json_string(config));
            if (h->qr_png(config, 6, &png, &len) == 0) {
                json_object_set_new(out, "qr_code", png_data_uri(png, len));
                h->free(png);
            }
            explicit_bzero(config, strlen(config));
            free(config);
        }
    }
    h->publish(wg.ctx, "wireguard.client.created", json_pack("{s:I,s:I}", "id", (json_int_t)id, "server_id", (json_int_t)server_id));
    r = out ? wgm_resp_json_msg(resp, 201, out, "Client created", "客户端创建成功") : -EIO;
    goto out;
invalid:
    r = wgm_v_respond(&v, resp);
out:
    wgm_v_end(&v);
    if (db) {
        h->db_rollback(db);
        h->db_release(db);
    }
    json_decref(def_allowed);
    json_decref(empty);
    h->free(sealed_priv);
    h->free(sealed_psk);
    free(allowed_s);
    free(dns_s);
    free(srv_dns);
    explicit_bzero(priv, sizeof(priv));
    explicit_bzero(psk, sizeof(psk));
    return r < 0 ? r : 0;
}

static int get_client(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    struct wgm_db *db;
    json_t *out;
    int64_t id;
    (void)ctx;
    if (wg_parse_id(req, resp, "client", &id) < 0)
        return 0;
    if (!(db = wg_db_or_503(resp)))
        return 0;
    out = client_json(db, id, wg.host->req_can(req, "wireguard.secrets"), NULL);
    wg.host->db_release(db);
    return out ? wgm_resp_json(resp, 200, out) : not_found(resp, id);
}

/* The server of client @id and (if @key) its current public key; 0,
 * -ENOENT or a db error. */
static int client_server(struct wgm_db *db, int64_t id, int64_t *server_id, uint8_t *key)
{
    struct wgm_stmt *st = NULL;
    int r = wg.host->db_prepare(db, "SELECT server_id, public_key FROM wg_clients WHERE id = ?", &st);
    if (r < 0)
        return r;
    wg.host->stmt_bind_int(st, 1, id);
    r = wg.host->stmt_step(st);
    *server_id = r == WGM_DB_ROW ? wg.host->stmt_column_int(st, 0) : 0;
    if (r == WGM_DB_ROW && key && wg_key_from_base64(wg.host->stmt_column_text(st, 1), key) < 0)
        r = -EINVAL;
    wg.host->stmt_free(st);
    return r == WGM_DB_ROW ? 0 : r < 0 ? r : -ENOENT;
}

static int finish_update(struct wgm_db *db, int r, int64_t id, int64_t server_id, const uint8_t *old_key,
                         const struct wgm_req *req, struct wgm_resp *resp, const char *en, const char *zh)
{
    json_t *out;
    if (r == -ENOENT) {
        wg.host->db_release(db);
        return not_found(resp, id);
    }
    if (r == WGM_DB_ECONSTRAINT) {
        wg.host->db_release(db);
        return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "another client on this server has that name",
                              json_pack("{s:s}", "name", "is taken"));
    }
    if (r < 0) {
        wg.host->db_release(db);
        return r;
    }
    apply(server_id, id, old_key);
    out = client_json(db, id, wg.host->req_can(req, "wireguard.secrets"), NULL);
    wg.host->db_release(db);
    wg.host->publish(wg.ctx, "wireguard.client.updated",
                     json_pack("{s:I,s:I}", "id", (json_int_t)id, "server_id", (json_int_t)server_id));
    return out ? wgm_resp_json_msg(resp, 200, out, en, zh) : not_found(resp, id);
}

static int update_client(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "description", "allowed_ips", "dns_servers", "persistent_keepalive",
                                        "enabled", NULL};
    const struct wgm_host *h = wg.host;
    struct wgm_v v;
    const char *name, *desc;
    json_t *allowed, *dns;
    long long keepalive;
    bool has_enabled = json_object_get(req->body, "enabled") != NULL, enabled;
    char *allowed_s = NULL, *dns_s = NULL;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    int64_t id, server_id = 0;
    int r;

    (void)ctx;
    if (wg_parse_id(req, resp, "client", &id) < 0)
        return 0;
    if (!wgm_v_begin(&v, req->body, true))
        return wgm_v_respond(&v, resp);
    wgm_v_only(&v, known);
    name = wgm_v_str(&v, "name", false, 1, 64);
    if (name && !valid_name(name))
        wgm_v_fail(&v, "name", "may contain letters, digits, space, '_', '.', '-' and '@' only");
    desc = wgm_v_str(&v, "description", false, 0, 500);
    allowed = wg_v_str_array(&v, "allowed_ips", 64, wg_valid_cidr);
    dns = wg_v_str_array(&v, "dns_servers", 8, wg_valid_ip);
    keepalive = wgm_v_int(&v, "persistent_keepalive", false, 0, 65535, -1);
    enabled = wgm_v_bool(&v, "enabled", true);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wg_db_or_503(resp)))
        return 0;
    allowed_s = allowed ? json_dumps(allowed, JSON_COMPACT) : NULL;
    dns_s = dns ? json_dumps(dns, JSON_COMPACT) : NULL;
    r = client_server(db, id, &server_id, NULL);
    if (r == 0 && (r = h->db_prepare(db,
                                     "UPDATE wg_clients SET name = COALESCE(?, name), description = COALESCE(?, description),"
                                     " allowed_ips = COALESCE(?, allowed_ips), dns_servers = COALESCE(?, dns_servers),"
                                     " persistent_keepalive = COALESCE(?, persistent_keepalive),"
                                     " enabled = COALESCE(?, enabled), updated_at = ? WHERE id = ?",
                                     &st)) == 0) {
        h->stmt_bind_text(st, 1, name);
        h->stmt_bind_text(st, 2, desc);
        h->stmt_bind_text(st, 3, allowed_s);
        h->stmt_bind_text(st, 4, dns_s);
        if (keepalive >= 0)
            h->stmt_bind_int(st, 5, keepalive);
        else
            h->stmt_bind_null(st, 5);
        if (has_enabled)
            h->stmt_bind_int(st, 6, enabled);
        else
            h->stmt_bind_null(st, 6);
        h->stmt_bind_int(st, 7, time(NULL));
        h->stmt_bind_int(st, 8, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    free(allowed_s);
    free(dns_s);
    return finish_update(db, r < 0 ? r : 0, id, server_id, NULL, req, resp, "Client updated", "客户端更新成功");
}

static int set_enabled(const struct wgm_req *req, struct wgm_resp *resp, bool on)
{
    struct wgm_db *db;
    int64_t id, server_id = 0;
    int r;
    if (wg_parse_id(req, resp, "client", &id) < 0)
        return 0;
    if (!(db = wg_db_or_503(resp)))
        return 0;
    if ((r = client_server(db, id, &server_id, NULL)) == 0) {
        struct wgm_stmt *st = NULL;
        if ((r = wg.host->db_prepare(db, "UPDATE wg_clients SET enabled = ?, updated_at = ? WHERE id = ?", &st)) == 0) {
            wg.host->stmt_bind_int(st, 1, on);
            wg.host->stmt_bind_int(st, 2, time(NULL));
            wg.host->stmt_bind_int(st, 3, id);
            r = wg.host->stmt_step(st) < 0 ? -EIO : 0;
        }
        wg.host->stmt_free(st);
    }
    return finish_update(db, r, id, server_id, NULL, req, resp, on ? "Client enabled" : "Client disabled",
                         on ? "客户端已启用" : "客户端已禁用");
}

static int enable_client(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    (void)ctx;
    return set_enabled(req, resp, true);
}

static int disable_client(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    (void)ctx;
    return set_enabled(req, resp, false);
}

/* New keys, same client id: the old key stops working at once. */
static int rotate_keys(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
    char pub_b64[WG_KEY_B64_LEN], *sealed;
    uint8_t old_key[WG_KEY_LEN];
    struct wgm_db *db;
    int64_t id, server_id = 0;
    int r;

    (void)ctx;
    if (wg_parse_id(req, resp, "client", &id) < 0)
        return 0;
    if (wg_key_generate(priv, pub) < 0 || !(sealed = wg_store_seal_key(priv)))
        return -EIO;
    explicit_bzero(priv, sizeof(priv));
    wg_key_to_base64(pub, pub_b64);
    if (!(db = wg.host->db_acquire(wg.ctx))) {
        wg.host->free(sealed);
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    }
    if ((r = client_server(db, id, &server_id, old_key)) == 0) {
        struct wgm_stmt *st = NULL;
        /* New key, new counters: the device forgets the old peer. */
        if ((r = wg.host->db_prepare(db,
                                     "UPDATE wg_clients SET public_key = ?, private_key = ?, rx_offset = 0, tx_offset = 0,"
                                     " last_rx = 0, last_tx = 0, updated_at = ? WHERE id = ?",
                                     &st)) == 0) {
            wg.host->stmt_bind_text(st, 1, pub_b64);
            wg.host->stmt_bind_text(st, 2, sealed);
            wg.host->stmt_bind_int(st, 3, time(NULL));
            wg.host->stmt_bind_int(st, 4, id);
            r = wg.host->stmt_step(st);
            r = r == WGM_DB_ECONSTRAINT ? r : r < 0 ? -EIO : 0;
        }
        wg.host->stmt_free(st);
    }
    wg.host->free(sealed);
    return finish_update(db, r, id, server_id, r == 0 ? old_key : NULL, req, resp, "Client keys rotated",
                         "客户端密钥已更换");
}

static int delete_client(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    int64_t id, server_id = 0, off4 = -1, off6 = -1;
    uint8_t key[WG_KEY_LEN];
    bool has_key = false;
    int r;

    (void)ctx;
    if (wg_parse_id(req, resp, "client", &id) < 0)
        return 0;
    if (!(db = wg_db_or_503(resp)))
        return 0;
    if ((r = h->db_begin(db)) < 0)
        goto out;
    if ((r = h->db_prepare(db, "SELECT server_id, ip4_off, ip6_off, public_key FROM wg_clients WHERE id = ?", &st)) < 0)
        goto out;
    h->stmt_bind_int(st, 1, id);
    if ((r = h->stmt_step(st)) != WGM_DB_ROW) {
        h->stmt_free(st);
        st = NULL;
        r = r < 0 ? r : -ENOENT;
        goto out;
    }
    server_id = h->stmt_column_int(st, 0);
    if (h->stmt_column_type(st, 1) != WGM_DB_NULL)
        off4 = h->stmt_column_int(st, 1);
    if (h->stmt_column_type(st, 2) != WGM_DB_NULL)
        off6 = h->stmt_column_int(st, 2);
    has_key = wg_key_from_base64(h->stmt_column_text(st, 3), key) == 0;
    h->stmt_free(st);
    st = NULL;
    if ((r = h->db_prepare(db, "DELETE FROM wg_clients WHERE id = ?", &st)) == 0) {
        h->stmt_bind_int(st, 1, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    st = NULL;
    /* Addresses go back to the free list for the next client. */
    if (r >= 0 && off4 >= 0)
        r = wg_store_release_offset(db, server_id, AF_INET, off4);
    if (r >= 0 && off6 >= 0)
        r = wg_store_release_offset(db, server_id, AF_INET6, off6);
    if (r >= 0)
        r = h->db_commit(db);
out:
    h->db_rollback(db);
    h->db_release(db);
    if (r == -ENOENT)
        return not_found(resp, id);
    if (r < 0)
        return r;
    if (has_key)
        apply(server_id, 0, key);
    h->publish(wg.ctx, "wireguard.client.deleted", json_pack("{s:I,s:I}", "id", (json_int_t)id, "server_id", (json_int_t)server_id));
    return wgm_resp_json_msg(resp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "deleted", 1), "Client deleted",
                             "客户端删除成功");
}

/* The config a person imports: text/plain attachment, or the QR image. */
static int client_config(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const char *format = wgm_req_query(req, "format");
    char *config = NULL, disposition[128];
    int64_t id;
    int r;

    (void)ctx;
    if (wg_parse_id(req, resp, "client", &id) < 0)
        return 0;
    if (format && strcmp(format, "conf") && strcmp(format, "png"))
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "format", "must be conf or png"));
    r = wg_client_config(id, &config);
    if (r == -ENOENT)
        return not_found(resp, id);
    if (r == -EDESTADDRREQ)
        return no_endpoint(resp);
    if (r < 0)
        return r;
    if (format && !strcmp(format, "png")) {
        unsigned char *png = NULL;
        size_t len = 0;
        r = wg.host->qr_png(config, 8, &png, &len);
        if (r == 0) {
            r = wg.host->resp_raw(resp, 200, "image/png", png, len);
            wg.host->free(png);
        }
    } else {
        snprintf(disposition, sizeof(disposition), "attachment; filename=\"wgm-client-%lld.conf\"", (long long)id);
        wg.host->resp_header(resp, "Content-Disposition", disposition);
        r = wg.host->resp_raw(resp, 200, "text/plain; charset=utf-8", config, strlen(config));
    }
    explicit_bzero(config, strlen(config));
    free(config);
    return r;
}

/* Expired clients are disabled (and so leave the device) by a task. */
void wg_clients_expire(void);
void wg_clients_expire(void)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wgm_stmt *st = NULL;
    int64_t servers[64];
    size_t n = 0;

    if (!db)
        return;
    if (h->db_prepare(db, "SELECT DISTINCT server_id FROM wg_clients WHERE enabled = 1 AND expires_at <= ?", &st) == 0) {
        h->stmt_bind_int(st, 1, time(NULL));
        while (n < 64 && h->stmt_step(st) == WGM_DB_ROW)
            servers[n++] = h->stmt_column_int(st, 0);
    }
    h->stmt_free(st);
    st = NULL;
    if (n && h->db_prepare(db, "UPDATE wg_clients SET enabled = 0, updated_at = ? WHERE enabled = 1 AND expires_at <= ?",
                           &st) == 0) {
        h->stmt_bind_int(st, 1, time(NULL));
        h->stmt_bind_int(st, 2, time(NULL));
        h->stmt_step(st);
    }
    h->stmt_free(st);
    h->db_release(db);
    for (size_t i = 0; i < n; i++) {
        char err[256];
        WG_LOG(WGM_LOG_INFO, "disabled expired clients of server %lld", (long long)servers[i]);
        wg_reconcile_server(servers[i], err, sizeof(err));
    }
}

int wg_clients_register(void)
{
    static const struct wg_route routes[] = {
        {"GET", "/wireguard/clients", "wireguard.view", list_clients},
        {"POST", "/wireguard/clients", "wireguard.edit", create_client},
        {"GET", "/wireguard/clients/{id}", "wireguard.view", get_client},
        {"PUT", "/wireguard/clients/{id}", "wireguard.edit", update_client},
        {"DELETE", "/wireguard/clients/{id}", "wireguard.edit", delete_client},
        /* The config holds the client's private key: managers only. */
        {"GET", "/wireguard/clients/{id}/config", "wireguard.edit", client_config},
        {"POST", "/wireguard/clients/{id}/enable", "wireguard.edit", enable_client},
        {"POST", "/wireguard/clients/{id}/disable", "wireguard.edit", disable_client},
        {"POST", "/wireguard/clients/{id}/rotate-keys", "wireguard.edit", rotate_keys},
    };
    return wg_register_routes(routes, sizeof(routes) / sizeof(routes[0]));
}
