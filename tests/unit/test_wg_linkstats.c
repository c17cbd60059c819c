/* linkstats.c: a link whose counters cannot be read gives null byte
 * counts for a server meant to run (0 only for a stopped one); a
 * readable link gives its numbers.  Live rtnetlink: "lo" exists in every
 * network namespace and needs no privileges to read. */
#include <string.h>
#include "linkstats.h"
#include "tap.h"

int main(void)
{
    json_t *o = json_object(), *s;

    wg_linkstats_bytes(o, "wgmnosuch0", true);
    ok(json_is_null(json_object_get(o, "bytes_received")), "running, unreadable: bytes_received is null");
    ok(json_is_null(json_object_get(o, "bytes_sent")), "running, unreadable: bytes_sent is null");
    wg_linkstats_bytes(o, "wgmnosuch0", false);
    ok(json_is_integer(json_object_get(o, "bytes_received")) &&
           json_integer_value(json_object_get(o, "bytes_received")) == 0,
       "stopped: bytes_received is 0");
    ok(json_is_integer(json_object_get(o, "bytes_sent")) && json_integer_value(json_object_get(o, "bytes_sent")) == 0,
       "stopped: bytes_sent is 0");
    wg_linkstats_bytes(o, "lo", true);
    ok(json_is_integer(json_object_get(o, "bytes_received")) && json_is_integer(json_object_get(o, "bytes_sent")),
       "a readable link: integer counts");
    json_decref(o);

    s = wg_linkstats_json("wgmnosuch0", true);
    ok(s && json_is_null(json_object_get(s, "rx_bytes")) && json_is_null(json_object_get(s, "tx_bytes")) &&
           json_is_null(json_object_get(s, "rx_packets")) && json_is_null(json_object_get(s, "tx_packets")),
       "interface_stats of an unreadable running link: all null");
    json_decref(s);
    s = wg_linkstats_json("wgmnosuch0", false);
    ok(s && json_integer_value(json_object_get(s, "rx_bytes")) == 0 && json_is_integer(json_object_get(s, "tx_packets")),
       "interface_stats of a stopped server: 0");
    json_decref(s);
    s = wg_linkstats_json("lo", true);
    ok(s && json_is_integer(json_object_get(s, "rx_bytes")) && json_is_integer(json_object_get(s, "tx_packets")),
       "interface_stats of a readable link: integers");
    json_decref(s);
    return done_testing();
}
