/* plugins/wireguard/api_common: validators and plumbing of the endpoints. */
#include <arpa/inet.h>
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

