/* plugins/wireguard/api_servers: /wireguard/servers — list, create, read,
 * update, delete, start, stop, status.  Runtime facts (status, counters,
 * handshakes) come from the device, never from the database. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include "api_common.h"
#include "endpoint.h"
#include "keys.h"
#include "linkstats.h"
#include "rtnl.h"
#include "store.h"

static bool valid_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= WG_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
        return false;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("_=+.-", *s)))
            return false;
    return true;
}

static bool valid_name(const char *s)
{
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || strchr("_.-", *s)))
            return false;
    return true;
}

/* Runtime status: desired state checked against the device. */
static const char *runtime_status(const struct wg_server_row *s, bool has_error)
{
    if (!s->running)
        return "stopped";
    if (has_error || wg.backend->ops->exists(wg.backend, s->interface) != 0)
        return "error";
    return "running";
}

/* Device-derived fields of a listed server. */
static void add_runtime(json_t *obj, const struct wg_server_row *s, bool has_error)
{
    const char *status = runtime_status(s, has_error);
    json_object_set_new(obj, "status", json_string(status));
    wg_linkstats_bytes(obj, s->interface, s->running);
}

static json_t *server_json(struct wgm_db *db, int64_t id, const struct wgm_req *req)
{
    struct wgm_stmt *st = NULL;
    json_t *out = NULL;
    if (wg.host->db_prepare(db,
                            "SELECT " WG_SERVER_COLUMNS ", (SELECT COUNT(*) FROM wg_clients c WHERE c.server_id = wg_servers.id)"
                            " FROM wg_servers WHERE id = ?",
                            &st) == 0) {
        wg.host->stmt_bind_int(st, 1, id);
        if (wg.host->stmt_step(st) == WGM_DB_ROW) {
            struct wg_server_row row;
            wg_store_server_read(st, &row);
            out = wg_store_server_json(st, wg.host->req_can(req, "wireguard.secrets"));
            json_object_set_new(out, "clients_count", json_integer(wg.host->stmt_column_int(st, 19)));
            add_runtime(out, &row, wg.host->stmt_column_type(st, 15) != WGM_DB_NULL);
        }
    }
    wg.host->stmt_free(st);
    return out;
}

static int list_servers(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const struct {
        const char *name, *asc, *desc;
    } sorts[] = {
        {"name", " ORDER BY name ASC, id ASC", " ORDER BY name DESC, id DESC"},
        {"listen_port", " ORDER BY listen_port ASC", " ORDER BY listen_port DESC"},
        {"created_at", " ORDER BY created_at ASC, id ASC", " ORDER BY created_at DESC, id DESC"},
        {"id", " ORDER BY id ASC", " ORDER BY id DESC"},
    };
    const struct wgm_host *h = wg.host;
    struct wgm_v v;
    struct wgm_page pg;
    const char *status, *sort, *order, *search = wgm_req_query(req, "search"), *order_sql = sorts[3].asc;
    char *like = NULL, sql[1024];
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *list = NULL;
    long long total = 0;
    int r = 0;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 100, &pg);
    status = wgm_v_query_enum(&v, req, "status", "running|stopped|error");
    sort = wgm_v_query_enum(&v, req, "sort", "name|listen_port|created_at|id");
    order = wgm_v_query_enum(&v, req, "order", "asc|desc");
    if (search && strlen(search) > 100)
        wgm_v_fail(&v, "search", "must be at most 100 characters");
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!sort)
        sort = "id";
    for (size_t i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
        if (!strcmp(sort, sorts[i].name))
            order_sql = order && !strcmp(order, "desc") ? sorts[i].desc : sorts[i].asc;
    if (search && !(like = wgm_like_pattern(search)))
        return -ENOMEM;
    if (!(db = wg_db_or_503(resp))) {
        free(like);
        return 0;
    }
    /* Status is filtered on what the database knows (desired state and the
     * last reconcile error); the answer then shows the device's truth. */
    static const char where[] =
        " WHERE (? IS NULL OR name LIKE ? ESCAPE '!' OR interface LIKE ? ESCAPE '!' OR description LIKE ? ESCAPE '!')"
        " AND (? IS NULL OR (? = 'stopped' AND desired = 'stopped') OR (? = 'running' AND desired = 'running'"
        " AND last_error IS NULL) OR (? = 'error' AND desired = 'running' AND last_error IS NOT NULL))";
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM wg_servers%s", where);
        else
            snprintf(sql, sizeof(sql),
                     "SELECT " WG_SERVER_COLUMNS ", (SELECT COUNT(*) FROM wg_clients c WHERE c.server_id = wg_servers.id)"
                     " FROM wg_servers%s%s LIMIT ? OFFSET ?",
                     where, order_sql);
        if ((r = h->db_prepare(db, sql, &st)) < 0)
            goto out;
        for (int i = 1; i <= 4; i++)
            h->stmt_bind_text(st, i, like);
        for (int i = 5; i <= 8; i++)
            h->stmt_bind_text(st, i, status);
        if (pass == 0) {
            if ((r = h->stmt_step(st)) != WGM_DB_ROW)
                goto out;
            total = h->stmt_column_int(st, 0);
        } else {
            bool secrets = h->req_can(req, "wireguard.secrets");
            h->stmt_bind_int(st, 9, pg.size);
            h->stmt_bind_int(st, 10, (pg.page - 1) * pg.size);
            list = json_array();
            while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
                struct wg_server_row row;
                json_t *o = wg_store_server_json(st, secrets);
                wg_store_server_read(st, &row);
                json_object_set_new(o, "clients_count", json_integer(h->stmt_column_int(st, 19)));
                add_runtime(o, &row, h->stmt_column_type(st, 15) != WGM_DB_NULL);
                json_array_append_new(list, o);
            }
            if (r < 0)
                goto out;
        }
        h->stmt_free(st);
        st = NULL;
    }
    r = wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "servers", list, "pagination", wgm_pagination(&pg, total)));
    list = NULL;
out:
    json_decref(list);
    h->stmt_free(st);
    h->db_release(db);
    free(like);
    return r < 0 ? r : 0;
}

/* Which unique field a constraint error hit, for a 409 naming it. */
static const char *taken_field(struct wgm_db *db, int64_t self, const char *name, const char *iface, long long port)
{
    static const char *const fields[] = {"name", "interface", "listen_port"};
    static const char *const sql[] = {"SELECT id FROM wg_servers WHERE name = ? AND id <> ?",
                                      "SELECT id FROM wg_servers WHERE interface = ? AND id <> ?",
                                      "SELECT id FROM wg_servers WHERE listen_port = ? AND id <> ?"};
    for (int i = 0; i < 3; i++) {
        struct wgm_stmt *st = NULL;
        int found = 0;
        if ((i == 0 && !name) || (i == 1 && !iface) || (i == 2 && port <= 0))
            continue;
        if (wg.host->db_prepare(db, sql[i], &st) == 0) {
            if (i == 2)
                wg.host->stmt_bind_int(st, 1, port);
            else
                wg.host->stmt_bind_text(st, 1, i == 0 ? name : iface);
            wg.host->stmt_bind_int(st, 2, self);
            found = wg.host->stmt_step(st) == WGM_DB_ROW;
        }
        wg.host->stmt_free(st);
        if (found)
            return fields[i];
    }
    return NULL;
}

/* Fields shared by create and update; returns the JSON texts to store. */
struct server_input {
    const char *name, *iface, *ipv4, *ipv6, *endpoint, *description;
    long long port, mtu, keepalive;
    json_t *dns, *allowed;
    bool auto_start;
};

static void read_server_input(struct wgm_v *v, bool create, struct server_input *in)
{
    struct wg_subnet sn;
    in->name = wgm_v_str(v, "name", create, 1, 64);
    if (in->name && !valid_name(in->name))
        wgm_v_fail(v, "name", "may contain letters, digits, '_', '.' and '-' only");
    in->iface = wgm_v_str(v, "interface", false, 1, 15);
    if (in->iface && !valid_ifname(in->iface))
        wgm_v_fail(v, "interface", "must be a Linux interface name (1-15 of A-Z a-z 0-9 _ = + . -)");
    in->port = wgm_v_int(v, "listen_port", create, 1, 65535, 0);
    in->ipv4 = wgm_v_str(v, "ipv4_address", false, 9, 18);
    if (in->ipv4 && (wg_subnet_parse(in->ipv4, &sn) < 0 || sn.net.family != AF_INET))
        wgm_v_fail(v, "ipv4_address", "must be an IPv4 address with prefix, e.g. 10.0.0.1/24 (at most /30)");
    in->ipv6 = wgm_v_str(v, "ipv6_address", false, 4, 50);
    if (in->ipv6 && (wg_subnet_parse(in->ipv6, &sn) < 0 || sn.net.family != AF_INET6))
        wgm_v_fail(v, "ipv6_address", "must be an IPv6 address with prefix, e.g. 2001:db8::1/64 (at most /126)");
    /* Neither family given: a missing parameter (400), named as the first. */
    if (create && !in->ipv4 && !in->ipv6 && !json_object_get(v->details, "ipv4_address") &&
        !json_object_get(v->details, "ipv6_address")) {
        wgm_v_missing(v, "ipv4_address");
        json_object_set_new(v->details, "ipv4_address", json_string("is required (or ipv6_address)"));
    }
    in->dns = wg_v_str_array(v, "dns_servers", 8, wg_valid_ip);
    in->mtu = wgm_v_int(v, "mtu", false, 1280, 9000, 1420);
    in->keepalive = wgm_v_int(v, "persistent_keepalive", false, 0, 65535, 25);
    in->allowed = wg_v_str_array(v, "allowed_ips", 64, wg_valid_cidr);
    in->endpoint = wgm_v_str(v, "endpoint", false, 1, 255);
    if (in->endpoint && !wg_endpoint_valid(in->endpoint))
        wgm_v_fail(v, "endpoint", "must be host, host:port, IPv6 or [IPv6]:port");
    in->description = wgm_v_str(v, "description", false, 0, 500);
    in->auto_start = wgm_v_bool(v, "auto_start", false);
}

static int create_server(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "interface", "listen_port", "ipv4_address", "ipv6_address",
                                        "dns_servers", "mtu", "persistent_keepalive", "allowed_ips", "endpoint",
                                        "description", "auto_start", NULL};
    const struct wgm_host *h = wg.host;
    struct server_input in;
    struct wgm_v v;
    uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
    char pub_b64[WG_KEY_B64_LEN], *sealed = NULL, *dns_s, *allowed_s;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *def_allowed = json_pack("[s,s]", "0.0.0.0/0", "::/0"), *empty = json_array(), *out;
    int64_t id = 0, now = (int64_t)time(NULL);
    int r;

    (void)ctx;
    /* A body that is not an object is that one error, not missing fields. */
    if (wgm_v_begin(&v, req->body, true)) {
        wgm_v_only(&v, known);
        read_server_input(&v, true, &in);
    }
    if (!wgm_v_ok(&v)) {
        json_decref(def_allowed);
        json_decref(empty);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if (!in.iface)
        in.iface = in.name;
    if (!valid_ifname(in.iface)) {
        json_decref(def_allowed);
        json_decref(empty);
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "interface", "give an interface name of at most 15 characters"));
    }
    /* Never adopt (and later delete) an interface wgm did not create. */
    if (wg.backend->ops->exists(wg.backend, in.iface) == 0) {
        json_decref(def_allowed);
        json_decref(empty);
        return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "an interface of that name exists on this host",
                              json_pack("{s:s}", "interface", "already exists on the host"));
    }
    if (wg_key_generate(priv, pub) < 0 || !(sealed = wg_store_seal_key(priv))) {
        json_decref(def_allowed);
        json_decref(empty);
        return -EIO;
    }
    explicit_bzero(priv, sizeof(priv));
    wg_key_to_base64(pub, pub_b64);
    dns_s = json_dumps(in.dns ? in.dns : empty, JSON_COMPACT);
    allowed_s = json_dumps(in.allowed ? in.allowed : def_allowed, JSON_COMPACT);
    json_decref(def_allowed);
    json_decref(empty);
    if (!(db = wg_db_or_503(resp))) {
        r = 0;
        goto out;
    }
    r = h->db_prepare(db,
                      "INSERT INTO wg_servers (name, interface, listen_port, ipv4_address, ipv6_address, private_key,"
                      " public_key, endpoint, description, dns_servers, mtu, persistent_keepalive, allowed_ips, desired,"
                      " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, in.name);
        h->stmt_bind_text(st, 2, in.iface);
        h->stmt_bind_int(st, 3, in.port);
        h->stmt_bind_text(st, 4, in.ipv4);
        h->stmt_bind_text(st, 5, in.ipv6);
        h->stmt_bind_text(st, 6, sealed);
        h->stmt_bind_text(st, 7, pub_b64);
        h->stmt_bind_text(st, 8, in.endpoint);
        h->stmt_bind_text(st, 9, in.description);
        h->stmt_bind_text(st, 10, dns_s);
        h->stmt_bind_int(st, 11, in.mtu);
        h->stmt_bind_int(st, 12, in.keepalive);
        h->stmt_bind_text(st, 13, allowed_s);
        h->stmt_bind_text(st, 14, in.auto_start ? "running" : "stopped");
        h->stmt_bind_int(st, 15, now);
        h->stmt_bind_int(st, 16, now);
        r = h->stmt_step(st);
        id = r >= 0 ? h->stmt_last_id(st) : 0;
    }
    h->stmt_free(st);
    if (r == WGM_DB_ECONSTRAINT) {
        const char *f = taken_field(db, 0, in.name, in.iface, in.port);
        r = wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "a server already uses this value",
                           json_pack("{s:s}", f ? f : "name", "is already used by another server"));
        goto out_db;
    }
    if (r < 0)
        goto out_db;
    if (in.auto_start) {
        char err[256] = "";
        wg_reconcile_server(id, err, sizeof(err));
    }
    out = server_json(db, id, req);
    r = out ? wgm_resp_json_msg(resp, 201, out, "Server created", "服务器创建成功") : -EIO;
out_db:
    h->db_release(db);
out:
    free(dns_s);
    free(allowed_s);
    h->free(sealed);
    return r < 0 ? r : 0;
}

static int get_server(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    int64_t id;
    struct wgm_db *db;
    json_t *out;
    (void)ctx;
    if (wg_parse_id(req, resp, "server", &id) < 0 || !(db = wg_db_or_503(resp)))
        return 0;
    out = server_json(db, id, req);
    wg.host->db_release(db);
    return out ? wgm_resp_json(resp, 200, out)
               : wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such server", json_pack("{s:I}", "id", (json_int_t)id));
}

static int update_server(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const known[] = {"name", "listen_port", "ipv4_address", "ipv6_address", "dns_servers", "mtu",
                                        "persistent_keepalive", "allowed_ips", "endpoint", "description", NULL};
    const struct wgm_host *h = wg.host;
    struct server_input in;
    struct wgm_v v;
    struct wg_server_row row;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    char *dns_s = NULL, *allowed_s = NULL, err[256] = "";
    json_t *out;
    int64_t id;
    int r;

    (void)ctx;
    if (wg_parse_id(req, resp, "server", &id) < 0)
        return 0;
    if (!wgm_v_begin(&v, req->body, true))
        return wgm_v_respond(&v, resp);
    wgm_v_only(&v, known);
    read_server_input(&v, false, &in);
    if (!wgm_v_ok(&v))
        return wgm_v_respond(&v, resp);
    wgm_v_end(&v);
    if (!(db = wg_db_or_503(resp)))
        return 0;
    if ((r = wg_store_server(db, id, &row)) == -ENOENT) {
        h->db_release(db);
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such server", json_pack("{s:I}", "id", (json_int_t)id));
    }
    /* Clients hold addresses of the subnet: it cannot move under them. */
    if ((in.ipv4 || in.ipv6) && r == 0) {
        struct wgm_stmt *c = NULL;
        long long n = 0;
        if (h->db_prepare(db, "SELECT COUNT(*) FROM wg_clients WHERE server_id = ?", &c) == 0) {
            h->stmt_bind_int(c, 1, id);
            if (h->stmt_step(c) == WGM_DB_ROW)
                n = h->stmt_column_int(c, 0);
        }
        h->stmt_free(c);
        if (n > 0) {
            h->db_release(db);
            return wgm_resp_error(resp, 409, "RESOURCE_CONFLICT", "the server has clients in its subnet",
                                  json_pack("{s:s}", in.ipv4 ? "ipv4_address" : "ipv6_address",
                                            "cannot change while clients exist"));
        }
    }
    dns_s = in.dns ? json_dumps(in.dns, JSON_COMPACT) : NULL;
    allowed_s = in.allowed ? json_dumps(in.allowed, JSON_COMPACT) : NULL;
    r = h->db_prepare(db,
                      "UPDATE wg_servers SET name = COALESCE(?, name), listen_port = COALESCE(?, listen_port),"
                      " ipv4_address = COALESCE(?, ipv4_address), ipv6_address = COALESCE(?, ipv6_address),"
                      " dns_servers = COALESCE(?, dns_servers), mtu = COALESCE(?, mtu),"
                      " persistent_keepalive = COALESCE(?, persistent_keepalive),"
                      " allowed_ips = COALESCE(?, allowed_ips), endpoint = COALESCE(?, endpoint),"
                      " description = COALESCE(?, description), updated_at = ? WHERE id = ?",
                      &st);
    if (r == 0) {
        json_t *b = req->body;
        h->stmt_bind_text(st, 1, in.name);
        if (in.port > 0)
            h->stmt_bind_int(st, 2, in.port);
        else
            h->stmt_bind_null(st, 2);
        h->stmt_bind_text(st, 3, in.ipv4);
        h->stmt_bind_text(st, 4, in.ipv6);
        h->stmt_bind_text(st, 5, dns_s);
        if (json_object_get(b, "mtu") && !json_is_null(json_object_get(b, "mtu")))
            h->stmt_bind_int(st, 6, in.mtu);
        else
            h->stmt_bind_null(st, 6);
        if (json_object_get(b, "persistent_keepalive") && !json_is_null(json_object_get(b, "persistent_keepalive")))
            h->stmt_bind_int(st, 7, in.keepalive);
        else
            h->stmt_bind_null(st, 7);
        h->stmt_bind_text(st, 8, allowed_s);
        h->stmt_bind_text(st, 9, in.endpoint);
        h->stmt_bind_text(st, 10, in.description);
        h->stmt_bind_int(st, 11, time(NULL));
        h->stmt_bind_int(st, 12, id);
        r = h->stmt_step(st);
    }
    h->stmt_free(st);
    free(dns_s);
    free(allowed_s);
    if (r == WGM_DB_ECONSTRAINT) {
        const char *f = taken_field(db, id, in.name, NULL, in.port);
        h->db_release(db);
        return wgm_resp_error(resp, 409, "RESOURCE_ALREADY_EXISTS", "a server already uses this value",
                              json_pack("{s:s}", f ? f : "name", "is already used by another server"));
    }
    /* A new subnet starts its addresses afresh (no clients hold any). */
    if (r >= 0 && in.ipv4)
        r = wg_store_reset_offsets(db, id, AF_INET);
    if (r >= 0 && in.ipv6)
        r = wg_store_reset_offsets(db, id, AF_INET6);
    if (r < 0) {
        h->db_release(db);
        return r;
    }
    wg_reconcile_server(id, err, sizeof(err));
    out = server_json(db, id, req);
    h->db_release(db);
    return out ? wgm_resp_json_msg(resp, 200, out, "Server updated", "服务器更新成功") : -EIO;
}

static int delete_server(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    static const char *const deletes[] = {"DELETE FROM wg_clients WHERE server_id = ?",
                                          "DELETE FROM wg_free_ips WHERE server_id = ?",
                                          "DELETE FROM wg_servers WHERE id = ?"};
    const struct wgm_host *h = wg.host;
    const char *force = wgm_req_query(req, "force");
    struct wg_server_row row;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    long long clients = 0;
    int64_t id;
    int r;

    (void)ctx;
    if (wg_parse_id(req, resp, "server", &id) < 0)
        return 0;
    if (force && strcmp(force, "true") && strcmp(force, "false"))
        return wgm_resp_error(resp, 422, "VALIDATION_ERROR", "validation failed",
                              json_pack("{s:s}", "force", "must be true or false"));
    if (!(db = wg_db_or_503(resp)))
        return 0;
    if ((r = h->db_begin(db)) < 0 || (r = wg_store_server(db, id, &row)) < 0) {
        h->db_rollback(db);
        h->db_release(db);
        return r == -ENOENT ? wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such server",
                                             json_pack("{s:I}", "id", (json_int_t)id))
                            : r;
    }
    if (h->db_prepare(db, "SELECT COUNT(*) FROM wg_clients WHERE server_id = ?", &st) == 0) {
        h->stmt_bind_int(st, 1, id);
        if (h->stmt_step(st) == WGM_DB_ROW)
            clients = h->stmt_column_int(st, 0);
    }
    h->stmt_free(st);
    st = NULL;
    if (clients > 0 && !(force && !strcmp(force, "true"))) {
        h->db_rollback(db);
        h->db_release(db);
        return wgm_resp_error(resp, 409, "RESOURCE_CONFLICT", "the server has clients; repeat with ?force=true",
                              json_pack("{s:I}", "clients_count", (json_int_t)clients));
    }
    for (size_t i = 0; i < 3 && r >= 0; i++) {
        if ((r = h->db_prepare(db, deletes[i], &st)) == 0) {
            h->stmt_bind_int(st, 1, id);
            r = h->stmt_step(st);
        }
        h->stmt_free(st);
        st = NULL;
    }
    if (r < 0 || (r = h->db_commit(db)) < 0) {
        h->db_rollback(db);
        h->db_release(db);
        return r;
    }
    h->db_release(db);
    /* The rows are gone: take the interface down with them. */
    pthread_mutex_lock(&wg.apply_lock);
    if (wg.backend->ops->exists(wg.backend, row.interface) == 0)
        wg.backend->ops->link_del(wg.backend, row.interface);
    pthread_mutex_unlock(&wg.apply_lock);
    h->publish(wg.ctx, "wireguard.server.deleted", json_pack("{s:I,s:s}", "id", (json_int_t)id, "interface", row.interface));
    return wgm_resp_json_msg(resp, 200,
                             json_pack("{s:I,s:b,s:I}", "id", (json_int_t)id, "deleted", 1, "clients_deleted",
                                       (json_int_t)clients),
                             "Server deleted", "服务器删除成功");
}

static int set_desired(const struct wgm_req *req, struct wgm_resp *resp, bool run)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    struct wg_server_row row;
    char err[256] = "";
    int64_t id;
    int r;

    if (wg_parse_id(req, resp, "server", &id) < 0 || !(db = wg_db_or_503(resp)))
        return 0;
    r = h->db_prepare(db, "UPDATE wg_servers SET desired = ?, last_error = NULL, started_at = ?, updated_at = ? WHERE id = ?",
                      &st);
    if (r == 0) {
        h->stmt_bind_text(st, 1, run ? "running" : "stopped");
        if (run)
            h->stmt_bind_int(st, 2, time(NULL));
        else
            h->stmt_bind_null(st, 2);
        h->stmt_bind_int(st, 3, time(NULL));
        h->stmt_bind_int(st, 4, id);
        r = h->stmt_step(st);
        if (r >= 0 && h->stmt_changes(st) == 0)
            r = -ENOENT;
    }
    h->stmt_free(st);
    if (r == -ENOENT) {
        h->db_release(db);
        return wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such server", json_pack("{s:I}", "id", (json_int_t)id));
    }
    if (r < 0) {
        h->db_release(db);
        return r;
    }
    r = wg_reconcile_server(id, err, sizeof(err));
    if (r < 0) {
        h->db_release(db);
        return wgm_resp_error(resp, 500, "INTERNAL_ERROR", run ? "the interface could not be started" : "the interface could not be stopped",
                              json_pack("{s:s}", "interface", err));
    }
    wg_store_server(db, id, &row);
    h->db_release(db);
    {
        char ts[32];
        json_t *out;
        pid_t pid = 0;
        wgm_time_format((time_t)row.started_at, ts, sizeof(ts));
        out = json_pack("{s:I,s:s,s:s?}", "id", (json_int_t)id, "status", run ? "running" : "stopped", "started_at",
                        run ? ts : NULL);
        /* The implementation process of a userspace interface; the kernel has none. */
        if (run && wg.backend->ops->pid && wg.backend->ops->pid(wg.backend, row.interface, &pid) == 0)
            json_object_set_new(out, "pid", json_integer(pid));
        else
            json_object_set_new(out, "pid", json_null());
        return run ? wgm_resp_json_msg(resp, 200, out, "Server started", "服务器启动成功")
                   : wgm_resp_json_msg(resp, 200, out, "Server stopped", "服务器停止成功");
    }
}

static int start_server(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    (void)ctx;
    return set_desired(req, resp, true);
}

static int stop_server(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    (void)ctx;
    return set_desired(req, resp, false);
}

/* GET .../status: everything from the device and the link counters. */
static int server_status(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = wg.host;
    struct wg_server_row row;
    struct wg_device *dev = NULL;
    struct wgm_db *db;
    json_t *clients = json_array(), *out;
    int64_t id;
    int r;

    (void)ctx;
    if (wg_parse_id(req, resp, "server", &id) < 0 || !(db = wg_db_or_503(resp))) {
        json_decref(clients);
        return 0;
    }
    r = wg_store_server(db, id, &row);
    if (r < 0) {
        h->db_release(db);
        json_decref(clients);
        return r == -ENOENT ? wgm_resp_error(resp, 404, "RESOURCE_NOT_FOUND", "no such server",
                                             json_pack("{s:I}", "id", (json_int_t)id))
                            : r;
    }
    if (wg.backend->ops->get(wg.backend, row.interface, &dev) == 0) {
        struct wgm_stmt *st = NULL;
        h->db_prepare(db, "SELECT id, name FROM wg_clients WHERE server_id = ? AND public_key = ?", &st);
        for (size_t i = 0; i < dev->n_peers; i++) {
            const struct wg_peer *p = &dev->peers[i];
            char key[WG_KEY_B64_LEN], ts[32] = "", ip[64];
            json_t *ips = json_array();
            wg_key_to_base64(p->public_key, key);
            for (size_t j = 0; j < p->n_allowedips; j++)
                json_array_append_new(ips, json_string(wg_allowedip_format(&p->allowedips[j], ip, sizeof(ip))));
            if (p->last_handshake.tv_sec)
                wgm_time_format(p->last_handshake.tv_sec, ts, sizeof(ts));
            /* The spec's allowed_ips is one string, as `wg` prints it; the
             * array stays beside it for programs. */
            json_t *c = json_pack("{s:s,s:o,s:o,s:s?,s:I,s:I}", "public_key", key, "allowed_ips", wg_join_ips(ips),
                                  "allowed_ips_list", ips, "latest_handshake", ts[0] ? ts : NULL, "transfer_rx",
                                  (json_int_t)p->rx_bytes, "transfer_tx", (json_int_t)p->tx_bytes);
            if (p->endpoint.family == AF_INET || p->endpoint.family == AF_INET6) {
                char addr[INET6_ADDRSTRLEN], ep[INET6_ADDRSTRLEN + 10];
                if (p->endpoint.family == AF_INET) {
                    inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, addr, sizeof(addr));
                    snprintf(ep, sizeof(ep), "%s:%u", addr, ntohs(p->endpoint.in4.sin_port));
                } else {
                    inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, addr, sizeof(addr));
                    snprintf(ep, sizeof(ep), "[%s]:%u", addr, ntohs(p->endpoint.in6.sin6_port));
                }
                json_object_set_new(c, "endpoint", json_string(ep));
            }
            if (st) {
                h->stmt_reset(st);
                h->stmt_bind_int(st, 1, id);
                h->stmt_bind_text(st, 2, key);
                if (h->stmt_step(st) == WGM_DB_ROW) {
                    json_object_set_new(c, "client_id", json_integer(h->stmt_column_int(st, 0)));
                    json_object_set_new(c, "name", json_string(h->stmt_column_text(st, 1)));
                }
            }
            json_array_append_new(clients, c);
        }
        h->stmt_free(st);
    }
    h->db_release(db);
    out = json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:o,s:o}", "id", (json_int_t)id, "name", row.name, "interface",
                    row.interface, "status", dev ? "running" : row.running ? "error" : "stopped", "uptime",
                    (json_int_t)(dev && row.started_at ? time(NULL) - row.started_at : 0), "listen_port",
                    (json_int_t)(dev ? dev->listen_port : 0), "clients", clients, "interface_stats",
                    wg_linkstats_json(row.interface, row.running));
    wg_device_free(dev);
    return wgm_resp_json(resp, 200, out);
}

int wg_servers_register(void)
{
    static const struct wg_route routes[] = {
        {"GET", "/wireguard/servers", "wireguard.view", list_servers},
        {"POST", "/wireguard/servers", "wireguard.edit", create_server},
        {"GET", "/wireguard/servers/{id}", "wireguard.view", get_server},
        {"PUT", "/wireguard/servers/{id}", "wireguard.edit", update_server},
        {"DELETE", "/wireguard/servers/{id}", "wireguard.edit", delete_server},
        {"POST", "/wireguard/servers/{id}/start", "wireguard.edit", start_server},
        {"POST", "/wireguard/servers/{id}/stop", "wireguard.edit", stop_server},
        {"GET", "/wireguard/servers/{id}/status", "wireguard.view", server_status},
    };
    return wg_register_routes(routes, sizeof(routes) / sizeof(routes[0]));
}
