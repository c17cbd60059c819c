/* plugins/wireguard/api_common: what the servers and clients endpoints share. */
#ifndef WGM_WG_API_COMMON_H
#define WGM_WG_API_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <wgm/wgm.h>

struct wg_route {
    const char *method, *path, *permission;
    wgm_handler_fn handler;
};

/* A literal IPv4 or IPv6 address. */
bool wg_valid_ip(const char *s);
/* "addr/prefix", IPv4 or IPv6. */
bool wg_valid_cidr(const char *s);
struct wgm_v;
/* wgm_v_str_array, also refusing an item with a NUL inside (the C
 * checkers would not see what follows it).  Borrowed, NULL when absent/bad. */
json_t *wg_v_str_array(struct wgm_v *v, const char *name, size_t max, bool (*check)(const char *));
/* The strings of @ips joined with ", " as `wg show` prints allowed ips
 * ("10.0.0.2/32, fd00::2/128"; "" for none).  New. */
json_t *wg_join_ips(const json_t *ips);
/* The {id} path parameter; answers 404 naming @what and returns -1 when
 * it is not a positive integer. */
int wg_parse_id(const struct wgm_req *req, struct wgm_resp *resp, const char *what, int64_t *id);
/* A pooled connection, or NULL after answering 503. */
struct wgm_db *wg_db_or_503(struct wgm_resp *resp);
/* Register @n routes under the plugin's context. */
int wg_register_routes(const struct wg_route *routes, size_t n);

#endif
