/* plugins/wireguard/counters: per-client transfer totals that survive
 * counter resets (interface recreated, wireguard-go restarted, key
 * rotated).  The device's counters are read on the status tick; when one
 * goes down, what it had counted is added to a stored offset. */
#ifndef WGM_WG_COUNTERS_H
#define WGM_WG_COUNTERS_H

#include <stdint.h>
#include <time.h>
#include "device.h"

struct wg_totals {
    uint64_t rx, tx;          /* offset + what the device counts now */
    time_t last_handshake;    /* 0 = never */
    bool live;                /* seen on the device at the last tick */
};

/* Fold the device's peers of server @server_id into the totals. */
void wg_counters_update(int64_t server_id, const struct wg_device *dev);
/* Totals of client @client_id; from the database when never seen live. */
void wg_counters_get(int64_t client_id, struct wg_totals *out);
/* Latest handshake of any peer of @server_id seen on its device; 0 = none. */
time_t wg_counters_server_handshake(int64_t server_id);
/* Write last-seen values (batched; the status timer calls it). */
void wg_counters_flush(void);
void wg_counters_free(void);

#endif
