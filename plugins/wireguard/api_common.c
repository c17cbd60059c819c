/* plugins/wireguard/api_common: validators and plumbing of the endpoints. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wgm/input.h>
#include "api_common.h"
#include "device.h"
#include "wireguard.h"

bool wg_valid_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

bool wg_valid_cidr(const char *s)
{
    struct wg_allowedip a;
    return strchr(s, '/') && wg_allowedip_parse(s, &a) == 0;
}

json_t *wg_v_str_array(struct wgm_v *v, const char *name, size_t max, bool (*check)(const char *))
{
    json_t *a = wgm_v_str_array(v, name, max, check), *e;
    size_t i;
    /* A NUL inside an item would hide trailing bytes from @check. */
    json_array_foreach(a, i, e)
    {
        if (strlen(json_string_value(e)) != json_string_length(e)) {
            wgm_v_fail(v, name, "item %zu is not valid", i);
            return NULL;
        }
    }
    return a;
}

json_t *wg_join_ips(const json_t *ips)
{
    size_t i, len = 0;
    json_t *e, *out;
    char *buf, *o;
    json_array_foreach(ips, i, e) len += json_string_length(e) + 2;
    if (!(buf = malloc(len + 1)))
        return json_null();
    o = buf;
    json_array_foreach(ips, i, e)
    {
        if (i) {
            *o++ = ',';
            *o++ = ' ';
        }
        memcpy(o, json_string_value(e), json_string_length(e));
        o += json_string_length(e);
    }
    *o = '\0';
    out = json_string(buf);
    free(buf);
    return out;
}

int wg_parse_id(const struct wgm_req *req, struct wgm_resp *resp, const char *what, int64_t *id)
{
    return wgm_v_path_id(req, resp, what, id);
}

struct wgm_db *wg_db_or_503(struct wgm_resp *resp)
{
    return wgm_db_or_503(wg.host, wg.ctx, resp);
}

int wg_register_routes(const struct wg_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int r = wg.host->route_add(wg.ctx, routes[i].method, routes[i].path, routes[i].permission, routes[i].handler);
        if (r < 0)
            return r;
    }
    return 0;
}

