/* plugins/bgp/status: the bgp_status event, every [bgp] status_interval
 * seconds; the WebSocket hub pushes it to holders of bgp.view.
 *
 * The database gives the sessions (id, name, neighbor); everything else
 * comes from one `show protocols all` for all of them.  When BIRD does not
 * answer: available false, and every figure BIRD would have given null
 * (sessions_count stays: it is the number of configured sessions). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <wgm/wgm.h>
#include "birdctl.h"

/* plugin.c */
const struct wgm_host *bgp_host(void);
struct wgm_ctx *bgp_ctx(void);
/* api_sessions.c */
int bgp_fetch_protocols(struct birdctl_protocol **out, size_t *n);
const char *bgp_session_facts(const struct birdctl_protocol *protos, size_t n, const char *name, long long *uptime,
                              long long *recv, long long *adv);
/* shared with plugin.c */
void bgp_status_tick(struct wgm_ctx *ctx, void *data);

/* An integer, or null while BIRD is away. */
static json_t *fact(bool available, long long v)
{
    return available ? json_integer((json_int_t)v) : json_null();
}

void bgp_status_tick(struct wgm_ctx *ctx, void *data)
{
    const struct wgm_host *h = bgp_host();
    struct birdctl_protocol *protos = NULL;
    struct wgm_stmt *st = NULL;
    struct wgm_db *db;
    json_t *sessions;
    size_t n = 0;
    long long established = 0, recv_all = 0, adv_all = 0;
    bool available;
    int r;

    (void)ctx;
    (void)data;
    /* Skipped without a database: a status that lists no sessions would
     * tell clients they were deleted. */
    if (!(db = h->db_acquire(bgp_ctx())))
        return;
    available = bgp_fetch_protocols(&protos, &n) == 0;
    sessions = json_array();
    if ((r = h->db_prepare(db, "SELECT id, name, neighbor FROM bgp_sessions ORDER BY id", &st)) == 0) {
        while ((r = h->stmt_step(st)) == WGM_DB_ROW) {
            long long uptime = 0, recv = 0, adv = 0;
            const char *status = NULL;
            if (available) {
                status = bgp_session_facts(protos, n, h->stmt_column_text(st, 1), &uptime, &recv, &adv);
                established += !strcmp(status, "established");
                recv_all += recv;
                adv_all += adv;
            }
            json_array_append_new(sessions, json_pack("{s:I,s:s?,s:s?,s:s?,s:o,s:o,s:o}", "id",
                                                      (json_int_t)h->stmt_column_int(st, 0), "name",
                                                      h->stmt_column_text(st, 1), "neighbor",
                                                      h->stmt_column_text(st, 2), "status", status, "uptime",
                                                      fact(available, uptime), "routes_received",
                                                      fact(available, recv), "routes_advertised",
                                                      fact(available, adv)));
        }
    }
    h->stmt_free(st);
    h->db_release(db);
    free(protos);
    if (r < 0) {
        json_decref(sessions);
        return;
    }
    h->publish(bgp_ctx(), "bgp_status",
               json_pack("{s:b,s:I,s:o,s:o,s:o,s:o}", "available", available, "sessions_count",
                         (json_int_t)json_array_size(sessions), "established_sessions", fact(available, established),
                         "routes_received", fact(available, recv_all), "routes_advertised",
                         fact(available, adv_all), "sessions", sessions));
}
