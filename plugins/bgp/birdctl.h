/**
 * @file birdctl.h
 * @brief BIRD 2 control socket: reply parser, client and output parsers.
 *
 * Three layers, each usable alone:
 *  - an incremental, allocation-bounded parser of the reply stream
 *    (protocols.md 4.2): bytes in, complete replies out;
 *  - a blocking client with deadlines: connect to the UNIX socket, check the
 *    0001 greeting, send one command line, read one reply;
 *  - parsers that turn the text of `show protocols [all]` and
 *    `show route [all]` replies into fixed-size structs.
 *
 * Nothing here logs.  Errors are negative errno values:
 *  - -EPROTO    bytes that are not BIRD reply lines
 *  - -EMSGSIZE  a line longer than #BIRDCTL_LINE_MAX or a reply past
 *               #BIRDCTL_REPLY_MAX bytes / #BIRDCTL_LINES_MAX lines
 *  - -EREMOTEIO BIRD answered with an error reply (8000-9999); the reply
 *               is still handed out so its message can be shown
 *  - -ETIMEDOUT the deadline passed
 *  - -ECONNRESET BIRD closed the connection in the middle of a reply
 *  - -EINVAL    a bad argument (a command with a newline, too long, ...)
 *  - -ENOMEM, and the errno of socket calls
 *
 * Text fields of the output structs are always NUL-terminated; a value too
 * long for its field is truncated (BIRD bounds its own lines to ~512 bytes,
 * so only hostile input gets there).
 */
#ifndef WGM_BGP_BIRDCTL_H
#define WGM_BGP_BIRDCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest line accepted, without its newline.  BIRD's own limit is ~512. */
#define BIRDCTL_LINE_MAX 4096
/** Most text bytes (over all lines) in one reply. */
#define BIRDCTL_REPLY_MAX (8u << 20)
/** Most lines in one reply. */
#define BIRDCTL_LINES_MAX 262144
/** Longest command BIRD reads (its RX buffer is 4096 with the newline). */
#define BIRDCTL_CMD_MAX 4095

/** One reply line: its code (continuations carry the code of the line
 *  before) and its text without the code, the separator and the newline. */
struct birdctl_line {
    unsigned code; /**< 0..9999 */
    char *text;    /**< owned by the reply, NUL-terminated */
    size_t len;    /**< strlen(text) */
};

/** One complete reply. */
struct birdctl_reply {
    unsigned code;             /**< code of the last line: the reply's status */
    size_t n_lines;            /**< at least 1 */
    struct birdctl_line *lines;
};

/** The reply class is code / 1000: 0 ok, 1 table row, 2 heading, 8 run-time
 *  error, 9 parse error.  True for classes 8 and 9. */
bool birdctl_reply_failed(const struct birdctl_reply *r);

/** The text of the last line (the status or error message); borrowed. */
const char *birdctl_reply_message(const struct birdctl_reply *r);

/** Free a reply; NULL is fine.  @return NULL. */
struct birdctl_reply *birdctl_reply_free(struct birdctl_reply *r);

/* ------------------------------------------------------------------ */
/* Incremental parser                                                  */

/** Parser state; opaque. */
struct birdctl_parser;

/** A new parser (new, free with birdctl_parser_free). NULL on ENOMEM. */
struct birdctl_parser *birdctl_parser_new(void);

/** Free a parser and any reply in progress; NULL is fine.  @return NULL. */
struct birdctl_parser *birdctl_parser_free(struct birdctl_parser *p);

/** Forget everything, including a sticky error. */
void birdctl_parser_reset(struct birdctl_parser *p);

/**
 * Feed bytes.  Stops right after the line that ends a reply, so one call
 * yields at most one reply; feed the rest (@p data + *@p used) again.
 * Asynchronous `+` lines are skipped (counted in birdctl_parser_async()).
 * @param used  set to the number of bytes consumed (all of them unless a
 *              reply completed)
 * @param out   on 1, a new reply (caller frees)
 * @return 1 a reply is complete, 0 more bytes needed, or a negative errno
 *         (-EPROTO, -EMSGSIZE, -ENOMEM) that sticks until reset.
 */
int birdctl_parser_feed(struct birdctl_parser *p, const char *data, size_t n, size_t *used,
                        struct birdctl_reply **out);

/** True between replies with no partial line buffered. */
bool birdctl_parser_idle(const struct birdctl_parser *p);

/** Number of asynchronous `+` lines skipped since the last reset. */
size_t birdctl_parser_async(const struct birdctl_parser *p);

/* ------------------------------------------------------------------ */
/* Client                                                              */

/** A connection to a BIRD control socket; opaque. */
struct birdctl_conn;

/**
 * Connect to the UNIX socket @p path and read the greeting (code 0001).
 * @param timeout_ms for the connect and the greeting together
 * @param out new connection (free with birdctl_close)
 * @return 0, -ENAMETOOLONG, -EPROTO (not a 0001 greeting), -ETIMEDOUT,
 *         -ECONNRESET or a socket errno.
 */
int birdctl_open(const char *path, int timeout_ms, struct birdctl_conn **out);

/**
 * Send one command and read its reply.
 * @param cmd one line without the newline, 1..#BIRDCTL_CMD_MAX bytes, no
 *            control characters
 * @param out the reply (new, caller frees), set on 0 and on -EREMOTEIO
 * @return 0, -EREMOTEIO (an 8000-9999 reply), -EINVAL, -ETIMEDOUT,
 *         -ECONNRESET, -EPROTO, -EMSGSIZE, -ENOMEM or a socket errno.  After
 *         anything but 0 and -EREMOTEIO the connection is unusable.
 */
int birdctl_cmd(struct birdctl_conn *c, const char *cmd, int timeout_ms, struct birdctl_reply **out);

/** Close; NULL is fine.  @return NULL. */
struct birdctl_conn *birdctl_close(struct birdctl_conn *c);

/** birdctl_open + birdctl_cmd + birdctl_close, one deadline for all. */
int birdctl_run(const char *path, const char *cmd, int timeout_ms, struct birdctl_reply **out);

/**
 * The pid of the process at the other end of @p c (SO_PEERCRED), or 0 when
 * the kernel does not say.
 */
int birdctl_peer_pid(const struct birdctl_conn *c);

/* ------------------------------------------------------------------ */
/* show status                                                         */

/** What `show status` says (protocols.md 4.4). */
struct birdctl_status {
    char version[32];    /**< "2.0.12", from "1000-BIRD 2.0.12" */
    char router_id[64];  /**< from "1011-Router ID is ...", or "" */
    char message[128];   /**< the 0013 line: "Daemon is up and running" */
};

/**
 * Parse a `show status` reply.
 * @return 0, -EINVAL (NULL argument) or -EPROTO (no 1000 "BIRD x" line, or
 *         the reply does not end in 0013).
 */
int birdctl_parse_status(const struct birdctl_reply *r, struct birdctl_status *out);

/* ------------------------------------------------------------------ */
/* show protocols [all]                                                */

/** A count BIRD printed as `---` or did not print at all. */
#define BIRDCTL_NA (-1LL)

/** One row of the "Route change stats" table; #BIRDCTL_NA for `---`. */
struct birdctl_stats_row {
    long long received, rejected, filtered, ignored, accepted;
};

/** One channel of a protocol (`Channel ipv6` block). */
struct birdctl_channel {
    char name[16];   /**< "ipv4", "ipv6", ... */
    char state[16];  /**< DOWN, START, UP, FLUSHING */
    char table[64];
    long long imported, filtered, exported, preferred; /**< "Routes:" line, #BIRDCTL_NA if absent */
    struct birdctl_stats_row import_updates, import_withdraws, export_updates, export_withdraws;
};

/** Most channels kept per protocol; more are ignored. */
#define BIRDCTL_CHANNELS_MAX 4

/** One protocol: the 1002 row and, with `all`, its 1006 details. */
struct birdctl_protocol {
    char name[64];
    char proto[32];        /**< "BGP", "Static", "Device", ... */
    char table[64];        /**< "---" for BGP */
    char state[16];        /**< up, start, down, stop, flush */
    char since[40];        /**< as BIRD printed it (see birdctl_since_age) */
    char info[256];        /**< the rest of the row, trimmed */
    char bgp_state[16];    /**< Established, Active, ..., Down; "" if not BGP */
    char last_error[256];  /**< "Socket: Connection refused", or "" */
    char description[128];
    char message[128];     /**< shutdown / disable message */
    char neighbor[64];     /**< "fd20::2" (with "%iface" for link-local) */
    char neighbor_id[64];
    char source[64];       /**< "Source address:" */
    char session[32];      /**< "external AS4", ... */
    uint32_t neighbor_as;  /**< 0 if absent */
    uint32_t local_as;     /**< 0 if absent */
    int hold_time;         /**< negotiated seconds, -1 if absent */
    int keepalive;         /**< negotiated seconds, -1 if absent */
    size_t n_channels;
    struct birdctl_channel channels[BIRDCTL_CHANNELS_MAX];
};

/** Most protocols one parse returns. */
#define BIRDCTL_PROTOCOLS_MAX 65536

/**
 * Parse a `show protocols` or `show protocols all [NAME]` reply.
 * @param out new array of *@p n entries (free with free(); NULL when 0)
 * @return 0, -EREMOTEIO (an error reply), -EPROTO (details before a row),
 *         -EMSGSIZE (too many protocols) or -ENOMEM.
 */
int birdctl_parse_protocols(const struct birdctl_reply *r, struct birdctl_protocol **out, size_t *n);

/**
 * Seconds since a protocol's "since" text, relative to @p now (local time,
 * as BIRD prints it).  Understands "HH:MM:SS[.fff]" (today, or yesterday if
 * that would be in the future), "YYYY-MM-DD" (midnight: a lower bound) and
 * "YYYY-MM-DD HH:MM:SS[.fff]".
 * @return 0 and *@p secs >= 0, or -EINVAL.
 */
int birdctl_since_age(const char *since, time_t now, long long *secs);

/* ------------------------------------------------------------------ */
/* show route [all]                                                    */

/** Most standard communities kept per route; more are ignored. */
#define BIRDCTL_COMMUNITIES_MAX 32

/** One route of a `show route [all]` listing. */
struct birdctl_route {
    char table[64];       /**< "master6" */
    char prefix[64];      /**< "fd98:1::/48" */
    char type[16];        /**< unicast, unreachable, blackhole, prohibit, ... */
    char proto[64];       /**< the protocol it came from */
    char since[40];
    char from[64];        /**< "from X" in the brackets, or "" */
    bool primary;         /**< `*`: the preferred route for its network */
    int pref;             /**< preference, -1 if absent */
    char next_hop[64];    /**< first "via" address, or "" */
    char iface[32];       /**< its "on IFACE" / "dev IFACE", or "" */
    char origin[16];      /**< "igp", "egp", "incomplete" or "" */
    char as_path[256];    /**< "65001 65002"; "" if none */
    char bgp_next_hop[128];
    long long local_pref; /**< #BIRDCTL_NA if absent */
    long long med;        /**< #BIRDCTL_NA if absent */
    size_t n_communities;
    uint32_t communities[BIRDCTL_COMMUNITIES_MAX]; /**< (asn << 16) | value */
};

/** Most routes one parse returns. */
#define BIRDCTL_ROUTES_MAX 1000000

/**
 * Parse a `show route [all] [...]` reply.  An 8001 "Network not found"
 * reply is an empty list, not an error.
 * @param out new array of *@p n entries (free with free(); NULL when 0)
 * @return 0, -EREMOTEIO (other error replies), -EPROTO, -EMSGSIZE or -ENOMEM.
 */
int birdctl_parse_routes(const struct birdctl_reply *r, struct birdctl_route **out, size_t *n);

#ifdef __cplusplus
}
#endif

#endif
