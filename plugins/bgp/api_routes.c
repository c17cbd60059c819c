/* plugins/bgp/api_routes: GET /bgp/routes — what BIRD learned over the
 * sessions wgm owns (`show route all`), filtered by session and by a
 * covering prefix, paginated. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include <wgm/wgm.h>
#include "birdconf.h"
#include "birdctl.h"

const struct wgm_host *bgp_host(void);
struct wgm_ctx *bgp_ctx(void);
int bgp_bird(const char *cmd, struct birdctl_reply **out);
int bgp_bird_error(struct wgm_resp *resp, int r, const char *err);
int bgp_routes_register(void);

struct net {
    int family;
    unsigned char a[16];
    int len;
};

static bool parse_net(const char *s, struct net *n)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    unsigned l;
    if (!slash || (size_t)(slash - s) >= sizeof(buf))
        return false;
    memcpy(buf, s, (size_t)(slash - s));
    buf[slash - s] = '\0';
    if (inet_pton(AF_INET, buf, n->a) == 1)
        n->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, n->a) == 1)
        n->family = AF_INET6;
    else
        return false;
    if (birdconf_parse_len(slash + 1, n->family == AF_INET ? 32 : 128, &l) < 0)
        return false;
    n->len = (int)l;
    return true;
}

/* True when @inner lies within @outer. */
static bool covers(const struct net *outer, const struct net *inner)
{
    if (outer->family != inner->family || inner->len < outer->len)
        return false;
    for (int i = 0; i < outer->len; i++) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((outer->a[byte] >> bit) & 1) != ((inner->a[byte] >> bit) & 1))
            return false;
    }
    return true;
}

static int list_routes(struct wgm_ctx *ctx, const struct wgm_req *req, struct wgm_resp *resp)
{
    const struct wgm_host *h = bgp_host();
    struct wgm_v v;
    struct wgm_page pg;
    long long sid = 0;
    const char *prefix = wgm_req_query(req, "prefix");
    struct net want;
    struct birdctl_reply *rep = NULL;
    struct birdctl_route *routes = NULL;
    size_t n = 0;
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *names = json_object(), *all = json_array(), *page;
    int r;

    (void)ctx;
    wgm_v_begin(&v, NULL, false);
    wgm_v_page(&v, req, 1000, &pg);
    wgm_v_query_int(&v, req, "session_id", 1, INT64_MAX, &sid);
    if (prefix && !parse_net(prefix, &want))
        wgm_v_fail(&v, "prefix", "must be an IPv4 or IPv6 prefix such as 2001:db8::/32");
    if (!wgm_v_ok(&v)) {
        json_decref(names);
        json_decref(all);
        return wgm_v_respond(&v, resp);
    }
    wgm_v_end(&v);
    if (!(db = h->db_acquire(bgp_ctx()))) {
        json_decref(names);
        json_decref(all);
        return wgm_resp_error(resp, 503, "SERVICE_UNAVAILABLE", "database unavailable", NULL);
    }
    if (h->db_prepare(db, "SELECT id, name FROM bgp_sessions", &st) == 0)
        while (h->stmt_step(st) == WGM_DB_ROW) {
            char proto[64];
            snprintf(proto, sizeof(proto), "wgm_%s", h->stmt_column_text(st, 1));
            json_object_set_new(names, proto, json_integer(h->stmt_column_int(st, 0)));
        }
    h->stmt_free(st);
    h->db_release(db);
    if ((r = bgp_bird("show route all", &rep)) == 0 || r == -EREMOTEIO)
        r = birdctl_parse_routes(rep, &routes, &n);
    birdctl_reply_free(rep);
    if (r < 0) {
        json_decref(names);
        json_decref(all);
        return bgp_bird_error(resp, r, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        const struct birdctl_route *rt = &routes[i];
        json_t *id = json_object_get(names, rt->proto), *comm, *o;
        struct net got;
        long long age = 0;
        char last[32] = "";
        if (!id || (sid && json_integer_value(id) != sid))
            continue;
        if (prefix && (!parse_net(rt->prefix, &got) || !covers(&want, &got)))
            continue;
        comm = json_array();
        for (size_t j = 0; j < rt->n_communities; j++) {
            char c[24];
            snprintf(c, sizeof(c), "%u:%u", rt->communities[j] >> 16, rt->communities[j] & 0xffff);
            json_array_append_new(comm, json_string(c));
        }
        if (birdctl_since_age(rt->since, time(NULL), &age) == 0) {
            wgm_time_format((int64_t)time(NULL) - (int64_t)age, last, sizeof(last));
        }
        o = json_pack("{s:s,s:s?,s:s,s:s?,s:o,s:o,s:o,s:O,s:s?,s:s}", "prefix", rt->prefix, "next_hop",
                      rt->next_hop[0] ? rt->next_hop : rt->bgp_next_hop[0] ? rt->bgp_next_hop : NULL, "as_path",
                      rt->as_path, "origin", rt->origin[0] ? rt->origin : NULL, "local_pref",
                      rt->local_pref == BIRDCTL_NA ? json_null() : json_integer((json_int_t)rt->local_pref), "med",
                      rt->med == BIRDCTL_NA ? json_null() : json_integer((json_int_t)rt->med), "community", comm,
                      "session_id", id, "last_update", last[0] ? last : NULL, "status",
                      rt->primary ? "active" : "inactive");
        json_array_append_new(all, o);
    }
    free(routes);
    json_decref(names);
    page = json_array();
    for (size_t i = (size_t)((pg.page - 1) * pg.size); i < json_array_size(all) && json_array_size(page) < (size_t)pg.size; i++)
        json_array_append(page, json_array_get(all, i));
    r = wgm_resp_json(resp, 200, json_pack("{s:o,s:o}", "routes", page, "pagination",
                                           wgm_pagination(&pg, (long long)json_array_size(all))));
    json_decref(all);
    return r;
}

int bgp_routes_register(void)
{
    return bgp_host()->route_add(bgp_ctx(), "GET", "/bgp/routes", "bgp.view", list_routes);
}
