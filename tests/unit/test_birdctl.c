/* Unit tests for plugins/bgp/birdctl: the reply parser on the raw replies
 * captured from bird 2.0.12 (protocols.md 4.4-4.5), fed whole, byte at a
 * time and back to back; bounds and garbage; and the show protocols /
 * show route parsers on the same captures plus a few replies synthesised
 * from the documented grammar (marked as such). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "birdctl.h"

static const char show_status[] =
    "1000-BIRD 2.0.12\n"
    "1011-Router ID is 10.20.0.1\n"
    " Hostname is vm\n"
    " Current server time is 2026-11-29 20:04:07.789\n"
    " Last reboot on 2026-11-29 20:03:55.013\n"
    " Last reconfiguration on 2026-11-29 20:03:55.013\n"
    "0013 Daemon is up and running\n";

static const char show_protocols[] =
    "2002-Name       Proto      Table      State  Since         Info\n"
    "1002-device1    Device     ---        up     20:03:55.013  \n"
    " st6        Static     master6    up     20:03:55.013  \n"
    " peerB      BGP        ---        up     20:03:59.774  Established   \n"
    "0000 \n";

static const char show_protocols_all[] =
    "2002-Name       Proto      Table      State  Since         Info\n"
    "1002-peerB      BGP        ---        up     20:03:59.774  Established   \n"
    "1006-  Description:    link to B\n"
    "   BGP state:          Established\n"
    "     Neighbor address: fd20::2\n"
    "     Neighbor AS:      65002\n"
    "     Local AS:         65001\n"
    "     Neighbor ID:      10.20.0.2\n"
    "     Local capabilities\n"
    "       Multiprotocol\n"
    "         AF announced: ipv4 ipv6\n"
    "       Route refresh\n"
    "       Graceful restart\n"
    "       4-octet AS numbers\n"
    "       Enhanced refresh\n"
    "       Long-lived graceful restart\n"
    "     Neighbor capabilities\n"
    "       (same list; AF announced: ipv6)\n"
    "     Session:          external AS4\n"
    "     Source address:   fd20::1\n"
    "     Hold timer:       81.070/90\n"
    "     Keepalive timer:  19.785/30\n"
    "   Channel ipv6\n"
    "     State:          UP\n"
    "     Table:          master6\n"
    "     Preference:     100\n"
    "     Input filter:   ACCEPT\n"
    "     Output filter:  ACCEPT\n"
    "     Routes:         1 imported, 2 exported, 1 preferred\n"
    "     Route change stats:     received   rejected   filtered    ignored   accepted\n"
    "       Import updates:              1          0          0          0          1\n"
    "       Import withdraws:            0          0        ---          0          0\n"
    "       Export updates:              3          1          0        ---          2\n"
    "       Export withdraws:            0        ---        ---        ---          0\n"
    "     BGP Next hop:   fd20::1 fe80::a4aa:c0ff:feed:1c2b\n"
    "   Channel ipv4\n"
    "     State:          DOWN\n"
    "     ...\n"
    " \n"
    "0000 \n";

static const char show_route_all[] =
    "1007-Table master4:\n"
    " 192.0.2.0/24         unreachable [st4 20:03:55.013] * (200)\n"
    " \n"
    " Table master6:\n"
    " fd98:1::/48          unicast [peerB 20:04:02.777] * (100) [AS65002i]\n"
    " \tvia fd20::2 on refbvA\n"
    "1008-\tType: BGP univ\n"
    "1012-\tBGP.origin: IGP\n"
    " \tBGP.as_path: 65002\n"
    " \tBGP.next_hop: fd20::2 fe80::9015:e3ff:feec:e101\n"
    " \tBGP.local_pref: 100\n"
    "1007-fd99:2::/48          blackhole [st6 20:03:55.013] * (200)\n"
    "0000 \n";

/* Feed all of @s at once; the one reply it holds, or NULL. */
static struct birdctl_reply *parse_one(const char *s, size_t n, int *rc)
{
    struct birdctl_parser *p = birdctl_parser_new();
    struct birdctl_reply *r = NULL;
    size_t used = 0;

    *rc = birdctl_parser_feed(p, s, n, &used, &r);
    if (*rc == 1 && used != n) {
        *rc = -1000;
        r = birdctl_reply_free(r);
    }
    birdctl_parser_free(p);
    return r;
}

/* Feed @s one byte at a time; the reply must complete on the last byte. */
static struct birdctl_reply *parse_bytewise(const char *s, size_t n, int *rc)
{
    struct birdctl_parser *p = birdctl_parser_new();
    struct birdctl_reply *r = NULL;
    size_t i, used;

    *rc = 0;
    for (i = 0; i < n; i++) {
        *rc = birdctl_parser_feed(p, s + i, 1, &used, &r);
        if (*rc < 0 || used != 1 || (*rc == 1) != (i == n - 1))
            break;
    }
    if (*rc != 1 || i != n) {
        *rc = *rc < 0 ? *rc : -1000;
        r = birdctl_reply_free(r);
    }
    birdctl_parser_free(p);
    return r;
}

static void test_status(void)
{
    struct birdctl_reply *r;
    int rc, mode;

    for (mode = 0; mode < 2; mode++) {
        const char *how = mode ? "bytewise" : "whole";

        r = mode ? parse_bytewise(show_status, sizeof(show_status) - 1, &rc)
                 : parse_one(show_status, sizeof(show_status) - 1, &rc);
        is_int(rc, 1, how);
        if (!r)
            continue;
        is_int(r->code, 13, "show status: reply code 0013");
        is_int(r->n_lines, 7, "show status: 7 lines");
        is_int(r->lines[0].code, 1000, "line 0 code 1000");
        is_str(r->lines[0].text, "BIRD 2.0.12", "line 0 text");
        is_int(r->lines[1].code, 1011, "line 1 code 1011");
        is_str(r->lines[1].text, "Router ID is 10.20.0.1", "line 1 text");
        is_int(r->lines[2].code, 1011, "continuation keeps 1011");
        is_str(r->lines[2].text, "Hostname is vm", "continuation: one space stripped");
        is_int(r->lines[5].code, 1011, "last continuation keeps 1011");
        is_str(r->lines[5].text, "Last reconfiguration on 2026-11-29 20:03:55.013", "line 5 text");
        is_str(birdctl_reply_message(r), "Daemon is up and running", "message");
        ok(!birdctl_reply_failed(r), "not failed");
        is_int(r->lines[2].len, strlen("Hostname is vm"), "len");
        birdctl_reply_free(r);
    }
}

/* birdctl_parse_status on the capture and on replies it must refuse. */
static void test_parse_status(void)
{
    static const char *const bad[] = {
        "1011-Router ID is 1.2.3.4\n0013 Daemon is up and running\n",   /* no version line */
        "1000-BIRD 2.0.12\n0000 \n",                                       /* not a status report */
        "1000-BIRD \n0013 Daemon is up and running\n",                     /* empty version */
    };
    struct birdctl_status st;
    struct birdctl_reply *r;
    int rc;

    r = parse_one(show_status, sizeof(show_status) - 1, &rc);
    is_int(birdctl_parse_status(r, &st), 0, "show status parsed");
    is_str(st.version, "2.0.12", "version");
    is_str(st.router_id, "10.20.0.1", "router id");
    is_str(st.message, "Daemon is up and running", "state message");
    birdctl_reply_free(r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = parse_one(bad[i], strlen(bad[i]), &rc);
        ok(r && birdctl_parse_status(r, &st) == -EPROTO, "refused: bad status reply %zu", i);
        birdctl_reply_free(r);
    }
    is_int(birdctl_parse_status(NULL, &st), -EINVAL, "NULL reply");
    is_int(birdctl_peer_pid(NULL), 0, "no connection, no peer pid");
}

static void test_captures_plain(void)
{
    struct birdctl_reply *r;
    int rc;

    r = parse_bytewise(show_protocols, sizeof(show_protocols) - 1, &rc);
    is_int(rc, 1, "show protocols bytewise");
    if (r) {
        is_int(r->code, 0, "code 0000");
        is_int(r->n_lines, 5, "5 lines");
        is_int(r->lines[0].code, 2002, "heading 2002");
        is_int(r->lines[2].code, 1002, "continuation row keeps 1002");
        is_str(r->lines[1].text, "device1    Device     ---        up     20:03:55.013  ", "row kept verbatim");
        is_str(r->lines[4].text, "", "0000 with empty text");
        birdctl_reply_free(r);
    }
    r = parse_bytewise(show_protocols_all, sizeof(show_protocols_all) - 1, &rc);
    is_int(rc, 1, "show protocols all bytewise");
    if (r) {
        is_int(r->n_lines, 40, "40 lines");
        is_str(r->lines[3].text, "  BGP state:          Established", "inner indentation kept");
        is_int(r->lines[38].code, 1006, "lone-space line is a 1006 continuation");
        is_str(r->lines[38].text, "", "lone space → empty text");
        birdctl_reply_free(r);
    }
    r = parse_bytewise(show_route_all, sizeof(show_route_all) - 1, &rc);
    is_int(rc, 1, "show route all bytewise");
    if (r) {
        is_int(r->n_lines, 13, "13 lines");
        is_int(r->lines[5].code, 1007, "via line keeps 1007");
        is_str(r->lines[5].text, "\tvia fd20::2 on refbvA", "tab after the space kept");
        is_int(r->lines[6].code, 1008, "1008");
        is_int(r->lines[9].code, 1012, "continuation keeps 1012");
        is_int(r->lines[11].code, 1007, "back to 1007");
        birdctl_reply_free(r);
    }
}

/* The 4.5 table: one reply each, code and message. */
static void test_short_replies(void)
{
    static const struct {
        const char *in;
        unsigned code;
        size_t lines;
        const char *msg;
        bool failed;
    } cases[] = {
        {"0001 BIRD 2.0.12 ready.\n", 1, 1, "BIRD 2.0.12 ready.", false},
        {"0002-Reading configuration from A.conf\n0020 Configuration OK\n", 20, 2, "Configuration OK", false},
        {"0002-Reading configuration from F\n8002 F:14:54 syntax error, unexpected ';', expecting ...\n", 8002, 2,
         "F:14:54 syntax error, unexpected ';', expecting ...", true},
        {"0002-Reading configuration from A.conf\n0004 Reconfiguration in progress\n", 4, 2,
         "Reconfiguration in progress", false},
        {"0002-Reading configuration from A.conf\n0022-Undo scheduled in 30 s\n0003 Reconfigured\n", 3, 3,
         "Reconfigured", false},
        {"0003-Daemon is up and running\n0022-Configuration unconfirmed, undo in 29.999 s\n0000 \n", 0, 3, "",
         false},
        {"0018 Reconfiguration confirmed\n", 18, 1, "Reconfiguration confirmed", false},
        {"0009-P: disabled\n0000 \n", 0, 2, "", false},
        {"0008-P: already disabled\n0000 \n", 0, 2, "", false},
        {"0011-st4: enabled\n0011-st6: enabled\n0000 \n", 0, 3, "", false},
        {"9001 syntax error, unexpected CF_SYM_UNDEFINED, expecting CF_SYM_KNOWN or TEXT or ALL\n", 9001, 1,
         "syntax error, unexpected CF_SYM_UNDEFINED, expecting CF_SYM_KNOWN or TEXT or ALL", true},
        {"8001 Network not found\n", 8001, 1, "Network not found", true},
        {"8007 Access denied\n", 8007, 1, "Access denied", true},
        {"0016 Access restricted\n", 16, 1, "Access restricted", false},
        {"0023 3\n", 23, 1, "3", false},
        {"0007 Shutdown requested\n", 7, 1, "Shutdown requested", false},
        {"9000 Command too long\n", 9000, 1, "Command too long", true},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct birdctl_reply *r;
        int rc;

        r = parse_bytewise(cases[i].in, strlen(cases[i].in), &rc);
        ok(rc == 1 && r && r->code == cases[i].code && r->n_lines == cases[i].lines &&
               strcmp(birdctl_reply_message(r), cases[i].msg) == 0 && birdctl_reply_failed(r) == cases[i].failed,
           "reply %zu: code %04u, %zu lines, \"%s\"", i, cases[i].code, cases[i].lines, cases[i].msg);
        birdctl_reply_free(r);
    }
}

/* Greeting, reply, async line and another reply in one buffer. */
static void test_stream(void)
{
    static const char in[] = "0001 BIRD 2.0.12 ready.\n"
                             "0009-P: disabled\n"
                             "+Config timeout expired, starting undo\n"
                             "0000 \n"
                             "+<3 messages lost>\n"
                             "0023 3\n"
                             "0011-P: ena";
    struct birdctl_parser *p = birdctl_parser_new();
    struct birdctl_reply *r = NULL;
    const char *s = in;
    size_t n = sizeof(in) - 1, used;
    unsigned codes[3];
    int k = 0, rc;

    while ((rc = birdctl_parser_feed(p, s, n, &used, &r)) == 1) {
        if (k < 3)
            codes[k] = r->code;
        if (k == 1)
            is_int(r->n_lines, 2, "async line not part of the reply");
        k++;
        r = birdctl_reply_free(r);
        s += used;
        n -= used;
    }
    is_int(rc, 0, "stream: then more needed");
    is_int(k, 3, "three replies");
    ok(k == 3 && codes[0] == 1 && codes[1] == 0 && codes[2] == 23, "codes 0001, 0000, 0023");
    is_int(birdctl_parser_async(p), 2, "two async lines skipped");
    ok(!birdctl_parser_idle(p), "partial line buffered");
    rc = birdctl_parser_feed(p, "bled\n0000 \n", 11, &used, &r);
    ok(rc == 1 && r && r->n_lines == 2 && strcmp(r->lines[0].text, "P: enabled") == 0,
       "partial line completed across feeds");
    r = birdctl_reply_free(r);
    ok(birdctl_parser_idle(p), "idle after the reply");
    rc = birdctl_parser_feed(p, "", 0, &used, &r);
    ok(rc == 0 && used == 0 && !r, "empty feed");
    birdctl_parser_free(p);
}

static int feed_all(const char *s, size_t n)
{
    struct birdctl_parser *p = birdctl_parser_new();
    struct birdctl_reply *r = NULL;
    size_t used;
    int rc;

    rc = birdctl_parser_feed(p, s, n, &used, &r);
    birdctl_reply_free(r);
    birdctl_parser_free(p);
    return rc;
}

static void test_bad_input(void)
{
    static const struct {
        const char *in;
        size_t n;
        int rc;
        const char *what;
    } cases[] = {
        {" continuation first\n", 20, -EPROTO, "continuation before any coded line"},
        {"hello\n", 6, -EPROTO, "garbage"},
        {"\n", 1, -EPROTO, "empty line"},
        {"0000\n", 5, -EPROTO, "code without separator"},
        {"000 x\n", 6, -EPROTO, "three digits"},
        {"00a0 x\n", 7, -EPROTO, "non-digit code"},
        {"0000:x\n", 7, -EPROTO, "wrong separator"},
        {"0000-a\0b\n", 9, -EPROTO, "embedded NUL"},
        {"0000 done\n 1\n", 13, 1, "continuation after the end is the next reply's problem"},
        {"\xff\xfe\n", 3, -EPROTO, "binary"},
        {"1000-x\r\n0000 \r\n", 15, 1, "CR kept as text"},
    };
    struct birdctl_parser *p;
    struct birdctl_reply *r = NULL;
    char *big;
    size_t i, used;
    int rc;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        is_int(feed_all(cases[i].in, cases[i].n), cases[i].rc, cases[i].what);

    /* Sticky error until reset. */
    p = birdctl_parser_new();
    rc = birdctl_parser_feed(p, "junk\n", 5, &used, &r);
    is_int(rc, -EPROTO, "junk");
    rc = birdctl_parser_feed(p, "0000 \n", 6, &used, &r);
    is_int(rc, -EPROTO, "error sticks");
    birdctl_parser_reset(p);
    rc = birdctl_parser_feed(p, "0000 \n", 6, &used, &r);
    ok(rc == 1 && r && r->code == 0, "reset clears it");
    r = birdctl_reply_free(r);

    /* Line bounds: exactly BIRDCTL_LINE_MAX is fine, one more is not, in
     * one piece or split. */
    big = malloc(BIRDCTL_LINE_MAX + 2);
    memset(big, 'x', BIRDCTL_LINE_MAX + 1);
    memcpy(big, "0000 ", 5);
    big[BIRDCTL_LINE_MAX] = '\n';
    birdctl_parser_reset(p);
    rc = birdctl_parser_feed(p, big, BIRDCTL_LINE_MAX + 1, &used, &r);
    ok(rc == 1 && r && r->lines[0].len == BIRDCTL_LINE_MAX - 5, "line of exactly the maximum");
    r = birdctl_reply_free(r);
    big[BIRDCTL_LINE_MAX] = 'x';
    big[BIRDCTL_LINE_MAX + 1] = '\n';
    birdctl_parser_reset(p);
    is_int(birdctl_parser_feed(p, big, BIRDCTL_LINE_MAX + 2, &used, &r), -EMSGSIZE, "line one past the maximum");
    birdctl_parser_reset(p);
    for (i = 0, rc = 0; i < BIRDCTL_LINE_MAX + 2 && rc == 0; i += 1000)
        rc = birdctl_parser_feed(p, big + i, i + 1000 > BIRDCTL_LINE_MAX + 2 ? BIRDCTL_LINE_MAX + 2 - i : 1000,
                                 &used, &r);
    is_int(rc, -EMSGSIZE, "overlong line in pieces");
    birdctl_parser_reset(p);
    /* No newline ever: refused once the buffer is full, not grown. */
    rc = birdctl_parser_feed(p, big, BIRDCTL_LINE_MAX, &used, &r);
    is_int(rc, 0, "full buffer, no newline yet");
    rc = birdctl_parser_feed(p, "x", 1, &used, &r);
    is_int(rc, -EMSGSIZE, "one more byte without newline");
    free(big);

    /* Line count bound: BIRDCTL_LINES_MAX lines in one reply, then one more. */
    birdctl_parser_reset(p);
    rc = birdctl_parser_feed(p, "1000-a\n", 7, &used, &r);
    for (i = 1; i < BIRDCTL_LINES_MAX && rc == 0; i++)
        rc = birdctl_parser_feed(p, " b\n", 3, &used, &r);
    is_int(rc, 0, "maximum number of lines accepted");
    is_int(birdctl_parser_feed(p, " c\n", 3, &used, &r), -EMSGSIZE, "one line too many");
    birdctl_parser_free(p);
    ok(birdctl_parser_free(NULL) == NULL && birdctl_reply_free(NULL) == NULL && birdctl_close(NULL) == NULL,
       "destructors take NULL");
}

static void test_protocols(void)
{
    struct birdctl_protocol *v = NULL;
    struct birdctl_reply *r;
    size_t n = 0;
    int rc;

    r = parse_one(show_protocols, sizeof(show_protocols) - 1, &rc);
    rc = r ? birdctl_parse_protocols(r, &v, &n) : -1;
    is_int(rc, 0, "show protocols parsed");
    is_int(n, 3, "three protocols");
    if (n == 3) {
        is_str(v[0].name, "device1", "name");
        is_str(v[0].proto, "Device", "proto");
        is_str(v[0].table, "---", "table");
        is_str(v[0].state, "up", "state");
        is_str(v[0].since, "20:03:55.013", "since");
        is_str(v[0].info, "", "empty info");
        is_str(v[0].bgp_state, "", "no BGP state for Device");
        is_str(v[1].name, "st6", "continuation row name");
        is_str(v[1].table, "master6", "table");
        is_str(v[2].name, "peerB", "BGP row");
        is_str(v[2].bgp_state, "Established", "BGP state from the row");
        is_str(v[2].last_error, "", "no error");
        is_int(v[2].n_channels, 0, "no channels without all");
        is_int(v[2].hold_time, -1, "no hold time without all");
    }
    free(v);
    birdctl_reply_free(r);

    r = parse_one(show_protocols_all, sizeof(show_protocols_all) - 1, &rc);
    rc = r ? birdctl_parse_protocols(r, &v, &n) : -1;
    is_int(rc, 0, "show protocols all parsed");
    is_int(n, 1, "one protocol");
    if (n == 1) {
        const struct birdctl_protocol *p = &v[0];
        const struct birdctl_channel *c = &p->channels[0];

        is_str(p->name, "peerB", "name");
        is_str(p->state, "up", "state");
        is_str(p->since, "20:03:59.774", "since");
        is_str(p->description, "link to B", "description");
        is_str(p->bgp_state, "Established", "BGP state");
        is_str(p->neighbor, "fd20::2", "neighbor address");
        is_int(p->neighbor_as, 65002, "neighbor AS");
        is_int(p->local_as, 65001, "local AS");
        is_str(p->neighbor_id, "10.20.0.2", "neighbor ID");
        is_str(p->session, "external AS4", "session");
        is_str(p->source, "fd20::1", "source address");
        is_int(p->hold_time, 90, "negotiated hold time");
        is_int(p->keepalive, 30, "negotiated keepalive");
        is_str(p->last_error, "", "no last error");
        is_int(p->n_channels, 2, "two channels");
        is_str(c->name, "ipv6", "channel 0 ipv6");
        is_str(c->state, "UP", "channel state");
        is_str(c->table, "master6", "channel table");
        is_int(c->imported, 1, "imported");
        is_int(c->exported, 2, "exported");
        is_int(c->preferred, 1, "preferred");
        is_int(c->filtered, BIRDCTL_NA, "filtered not shown");
        ok(c->import_updates.received == 1 && c->import_updates.rejected == 0 && c->import_updates.filtered == 0 &&
               c->import_updates.ignored == 0 && c->import_updates.accepted == 1,
           "import updates 1 0 0 0 1");
        ok(c->import_withdraws.received == 0 && c->import_withdraws.filtered == BIRDCTL_NA &&
               c->import_withdraws.accepted == 0,
           "import withdraws with ---");
        ok(c->export_updates.received == 3 && c->export_updates.rejected == 1 && c->export_updates.filtered == 0 &&
               c->export_updates.ignored == BIRDCTL_NA && c->export_updates.accepted == 2,
           "export updates 3 1 0 --- 2");
        ok(c->export_withdraws.received == 0 && c->export_withdraws.rejected == BIRDCTL_NA &&
               c->export_withdraws.ignored == BIRDCTL_NA && c->export_withdraws.accepted == 0,
           "export withdraws");
        is_str(p->channels[1].name, "ipv4", "channel 1 ipv4");
        is_str(p->channels[1].state, "DOWN", "ipv4 DOWN");
        is_int(p->channels[1].imported, BIRDCTL_NA, "ipv4 no routes line");
        is_int(p->channels[1].import_updates.received, BIRDCTL_NA, "ipv4 no stats");
    }
    free(v);
    birdctl_reply_free(r);
}

/* Synthesised from protocols.md 4.4 (widths, states, error classes): two
 * BGP protocols in one `show protocols all`, one down with only its error,
 * one in start with an error after the state, and a long-format since. */
static void test_protocols_synth(void)
{
    static const char in[] =
        "2002-Name       Proto      Table      State  Since         Info\n"
        "1002-wgm_a      BGP        ---        start  2026-11-28 10:00:00  Active        Socket: Connection refused\n"
        "1006-  BGP state:          Active\n"
        "     Neighbor address: fe80::1%wg0\n"
        "     Neighbor AS:      4200000000\n"
        "     Local AS:         65000\n"
        "     Connect delay:    3.000/5\n"
        "     Last error:       Socket: Connection refused\n"
        "   Channel ipv4\n"
        "     State:          DOWN\n"
        "   Channel ipv6\n"
        "     State:          DOWN\n"
        "     Routes:         0 imported, 5 filtered, 0 exported, 0 preferred\n"
        " \n"
        "1002-wgm_b      BGP        ---        down   2026-11-27    Received: Administrative shutdown\n"
        "1006-  Message:        maintenance\n"
        "   BGP state:          Down\n"
        "     Neighbor address: 192.0.2.2\n"
        " \n"
        "0000 \n";
    struct birdctl_protocol *v = NULL;
    struct birdctl_reply *r;
    size_t n = 0;
    int rc;

    r = parse_one(in, sizeof(in) - 1, &rc);
    rc = r ? birdctl_parse_protocols(r, &v, &n) : -1;
    is_int(rc, 0, "synthetic protocols parsed");
    is_int(n, 2, "two");
    if (n == 2) {
        is_str(v[0].since, "2026-11-28 10:00:00", "long since joined");
        is_str(v[0].bgp_state, "Active", "Active");
        is_str(v[0].last_error, "Socket: Connection refused", "last error");
        is_str(v[0].neighbor, "fe80::1%wg0", "link-local neighbor with iface");
        is_int(v[0].neighbor_as, 4200000000u, "4-byte AS");
        is_int(v[0].n_channels, 2, "two channels");
        is_int(v[0].channels[1].filtered, 5, "filtered count");
        is_str(v[1].state, "down", "down");
        is_str(v[1].since, "2026-11-27", "date-only since");
        is_str(v[1].bgp_state, "Down", "BGP state Down from details");
        is_str(v[1].last_error, "Received: Administrative shutdown", "error-only info");
        is_str(v[1].message, "maintenance", "message");
    }
    free(v);
    birdctl_reply_free(r);

    /* Error replies and details without a row. */
    r = parse_one("9001 syntax error\n", strlen("9001 syntax error\n"), &rc);
    is_int(birdctl_parse_protocols(r, &v, &n), -EREMOTEIO, "error reply");
    birdctl_reply_free(r);
    r = parse_one("1006-  BGP state: Idle\n0000 \n", strlen("1006-  BGP state: Idle\n0000 \n"), &rc);
    is_int(birdctl_parse_protocols(r, &v, &n), -EPROTO, "details without a row");
    birdctl_reply_free(r);
}

static void test_since(void)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = 29, .tm_hour = 20, .tm_min = 4, .tm_sec = 7};
    time_t now;
    long long s = -1;

    setenv("TZ", "UTC", 1);
    tzset();
    now = timegm(&tm);
    ok(birdctl_since_age("20:03:59.774", now, &s) == 0 && s == 8, "clock today: 8 s");
    ok(birdctl_since_age("20:05:00", now, &s) == 0 && s == 86400 - 53, "clock in the future is yesterday");
    ok(birdctl_since_age("2026-11-28 20:04:07", now, &s) == 0 && s == 86400, "long form: one day");
    ok(birdctl_since_age("2026-11-27", now, &s) == 0 && s == 2 * 86400 + 20 * 3600 + 4 * 60 + 7, "date only");
    is_int(birdctl_since_age("25:00:00", now, &s), -EINVAL, "bad hour");
    is_int(birdctl_since_age("20:03:59x", now, &s), -EINVAL, "junk after clock");
    is_int(birdctl_since_age("", now, &s), -EINVAL, "empty");
    is_int(birdctl_since_age("2026-13-01", now, &s), -EINVAL, "bad month");
}

static void test_routes(void)
{
    struct birdctl_route *v = NULL;
    struct birdctl_reply *r;
    size_t n = 0;
    int rc;

    r = parse_one(show_route_all, sizeof(show_route_all) - 1, &rc);
    rc = r ? birdctl_parse_routes(r, &v, &n) : -1;
    is_int(rc, 0, "show route all parsed");
    is_int(n, 3, "three routes");
    if (n == 3) {
        is_str(v[0].table, "master4", "table master4");
        is_str(v[0].prefix, "192.0.2.0/24", "prefix");
        is_str(v[0].type, "unreachable", "type");
        is_str(v[0].proto, "st4", "proto");
        is_str(v[0].since, "20:03:55.013", "since");
        ok(v[0].primary, "primary");
        is_int(v[0].pref, 200, "preference");
        is_str(v[0].origin, "", "no origin");
        is_str(v[1].table, "master6", "table master6");
        is_str(v[1].prefix, "fd98:1::/48", "BGP prefix");
        is_str(v[1].type, "unicast", "unicast");
        is_str(v[1].proto, "peerB", "from peerB");
        is_str(v[1].next_hop, "fd20::2", "next hop");
        is_str(v[1].iface, "refbvA", "interface");
        is_str(v[1].origin, "igp", "origin");
        is_str(v[1].as_path, "65002", "AS path");
        is_str(v[1].bgp_next_hop, "fd20::2 fe80::9015:e3ff:feec:e101", "BGP next hop");
        is_int(v[1].local_pref, 100, "local pref");
        is_int(v[1].med, BIRDCTL_NA, "no MED");
        is_int(v[1].n_communities, 0, "no communities");
        is_str(v[2].prefix, "fd99:2::/48", "route after the attributes");
        is_str(v[2].type, "blackhole", "blackhole");
        is_str(v[2].table, "master6", "same table");
        is_str(v[2].as_path, "", "no AS path");
    }
    free(v);
    birdctl_reply_free(r);
}

/* Synthesised from 4.4: a second route to one network (blank prefix), a
 * "from" in the brackets, MED, communities, origin letter only. */
static void test_routes_synth(void)
{
    static const char in[] =
        "1007-Table master6:\n"
        " 2001:db8::/32        unicast [wgm_a 2026-11-29 10:00:00 from fe80::1] * (100) [AS65002?]\n"
        " \tvia fe80::1 on wg0\n"
        "1012-\tBGP.as_path: 65001 65002\n"
        " \tBGP.med: 50\n"
        " \tBGP.community: (65000,1) (65000,2) (65535,65281)\n"
        "1007-                     unicast [wgm_b 10:00:00] (100) [AS65003e]\n"
        " \tdev wg1\n"
        "0000 \n";
    struct birdctl_route *v = NULL;
    struct birdctl_reply *r;
    size_t n = 0;
    int rc;

    r = parse_one(in, sizeof(in) - 1, &rc);
    rc = r ? birdctl_parse_routes(r, &v, &n) : -1;
    is_int(rc, 0, "synthetic routes parsed");
    is_int(n, 2, "two routes");
    if (n == 2) {
        is_str(v[0].since, "2026-11-29 10:00:00", "long since");
        is_str(v[0].from, "fe80::1", "from");
        is_str(v[0].origin, "incomplete", "origin ?");
        is_int(v[0].med, 50, "MED");
        is_int(v[0].n_communities, 3, "three communities");
        ok(v[0].communities[0] == (65000u << 16 | 1) && v[0].communities[2] == (65535u << 16 | 65281),
           "community values");
        is_str(v[1].prefix, "2001:db8::/32", "blank prefix inherits");
        ok(!v[1].primary, "not primary");
        is_str(v[1].origin, "egp", "origin e");
        is_str(v[1].iface, "wg1", "dev line");
        is_str(v[1].next_hop, "", "no via");
    }
    free(v);
    birdctl_reply_free(r);

    r = parse_one("8001 Network not found\n", strlen("8001 Network not found\n"), &rc);
    ok(birdctl_parse_routes(r, &v, &n) == 0 && n == 0 && !v, "8001 is an empty list");
    birdctl_reply_free(r);
    r = parse_one("8007 Access denied\n", strlen("8007 Access denied\n"), &rc);
    is_int(birdctl_parse_routes(r, &v, &n), -EREMOTEIO, "other errors are errors");
    birdctl_reply_free(r);
    r = parse_one("1007-Table master6:\n                     unicast [x 1] (1)\n0000 \n", strlen("1007-Table master6:\n                     unicast [x 1] (1)\n0000 \n"), &rc);
    is_int(r ? birdctl_parse_routes(r, &v, &n) : -1, -EPROTO, "blank prefix with no route before");
    birdctl_reply_free(r);
    r = parse_one("1007-2001:db8::/32 unicast no brackets\n0000 \n", strlen("1007-2001:db8::/32 unicast no brackets\n0000 \n"), &rc);
    is_int(r ? birdctl_parse_routes(r, &v, &n) : -1, -EPROTO, "route line without brackets");
    birdctl_reply_free(r);
}

static void test_client_errors(void)
{
    struct birdctl_reply *r = (struct birdctl_reply *)1;
    char longpath[200];

    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    is_int(birdctl_run(longpath, "show status", 100, &r), -ENAMETOOLONG, "socket path too long");
    ok(r == NULL, "no reply on failure");
    is_int(birdctl_run("/nonexistent/bird.ctl", "show status", 100, &r), -ENOENT, "no socket");
}

int main(void)
{
    test_status();
    test_parse_status();
    test_captures_plain();
    test_short_replies();
    test_stream();
    test_bad_input();
    test_protocols();
    test_protocols_synth();
    test_since();
    test_routes();
    test_routes_synth();
    test_client_errors();
    return done_testing();
}
