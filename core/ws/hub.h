/* core/ws/hub: the WebSocket endpoint GET /ws/connect and the hub that
 * pushes bus events to connected clients.
 *
 * One thread runs an epoll loop over every client socket.  Bus events on
 * system_status, wireguard_status, bgp_status and alert become
 * {"type","data","timestamp"} messages, delivered to each client that
 * subscribed to the type and whose principal holds its permission.  Each
 * client has a bounded outbound queue; a client that lets it fill is closed
 * (1008) and never slows the bus or the others.
 *
 * A second thread re-checks every connection's credential each
 * [websocket] revalidate_interval seconds (ws/revalidate.h): one that no
 * longer holds is closed with 1008 and the reason; one whose permissions
 * changed has its types re-gated (a "permissions_changed" message).  A user
 * holds at most [websocket] max_per_user connections; the next handshake
 * gets 429 RATE_LIMIT_EXCEEDED. */
#ifndef WGM_CORE_WS_HUB_H
#define WGM_CORE_WS_HUB_H

struct wgm_daemon;
struct wgm_ws_hub;

/** Start the hub, subscribe to the bus and register GET /ws/connect
 *  (permission WGM_PERM_SELF, owner d->core_ctx).  Needs d->bus, d->router
 *  and d->core_ctx; the hub is stored in d->ws.  0 or a negative errno. */
int wgm_ws_register(struct wgm_daemon *d);
/** Close every client with 1001, stop the hub thread, leave the bus and
 *  free the hub.  Call before the HTTP server is freed (libmicrohttpd
 *  owns the upgraded sockets) and after it stopped handing out new
 *  connections; /ws/connect answers 503 from then on.  Accepts a daemon
 *  without a hub. */
void wgm_ws_shutdown(struct wgm_daemon *d);
/** Connected clients (for metrics); 0 without a hub. */
unsigned wgm_ws_client_count(struct wgm_daemon *d);

#endif
