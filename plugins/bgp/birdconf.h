/**
 * @file birdconf.h
 * @brief The BIRD 2 include file wgm owns: generated from sessions and
 *        announcements, and checked with `bird -p`.
 *
 * The operator's bird.conf says `include "wgm.conf";` (at the start of a
 * line; protocols.md 4.6).  The generated text defines, and only defines:
 *  - `protocol static wgm_announce4` / `wgm_announce6`: one blackhole route
 *    per announced prefix, the origin of what wgm announces;
 *  - `protocol bgp wgm_<name>` per session, with ipv4 and ipv6 channels that
 *    import everything and export only the wgm_announce* routes meant for
 *    that session, adding their communities on the way out.
 *
 * Every value is validated before it is written; nothing the API accepts can
 * close a string, a block or a statement.  BIRD 2.0.12 strings have no
 * escapes at all (`"[^"\n]*"`), so quotes, backslashes and control
 * characters are refused rather than escaped.
 *
 * Errors are negative errno values; on failure @c err (when given) holds a
 * one-line reason naming the offending item.
 */
#ifndef WGM_BGP_BIRDCONF_H
#define WGM_BGP_BIRDCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest session name (the protocol is "wgm_" + name). */
#define BIRDCONF_NAME_MAX 32
/** Longest password: the Linux TCP-MD5 key limit. */
#define BIRDCONF_PASSWORD_MAX 80
/** Longest description. */
#define BIRDCONF_DESCRIPTION_MAX 128

/** One BGP session.  All pointers borrowed. */
struct birdconf_session {
    const char *name;        /**< [a-z0-9_], 1..#BIRDCONF_NAME_MAX */
    const char *neighbor;    /**< IPv4 or IPv6 address, no prefix length */
    const char *iface;       /**< NULL, or the interface (required for a link-local neighbor) */
    uint32_t remote_as;      /**< 1..4294967295 */
    uint32_t local_as;       /**< 1..4294967295 */
    unsigned hold_time;      /**< 0 (BIRD default) or 3..65535 */
    unsigned keepalive;      /**< 0 (BIRD default) or 1..65535, at most hold_time */
    unsigned connect_retry;  /**< 0 (BIRD default) or 1..65535 */
    const char *password;    /**< NULL or "" for none; printable ASCII without '"' and '\\' */
    bool multihop;
    unsigned multihop_ttl;   /**< 0 (BIRD default) or 1..255; only with multihop */
    bool ttl_security;
    bool enabled;            /**< false → `disabled;` */
    const char *description; /**< NULL or text without '"', '\\' and control characters */
};

/** A prefix to announce.  All pointers borrowed. */
struct birdconf_announcement {
    const char *prefix;             /**< "2001:db8::/48" or "192.0.2.0/24", host bits zero */
    const char *session;            /**< a session name, or NULL for all sessions */
    const char *const *communities; /**< "65000:1" each, both halves 0..65535 */
    size_t n_communities;
};

/**
 * Generate the include file.
 * @param out new NUL-terminated text (caller frees with free())
 * @param err NULL, or room for the reason on failure
 * @return 0, -EINVAL (a value fails validation), -EEXIST (two sessions with
 *         one name), -ENOENT (an announcement names no session) or -ENOMEM.
 */
int birdconf_generate(const struct birdconf_session *sessions, size_t n_sessions,
                      const struct birdconf_announcement *ann, size_t n_ann, char **out, char *err,
                      size_t errlen);

/**
 * Validate one session alone (what birdconf_generate checks for it).
 * @return 0 or -EINVAL with the reason in @p err.
 */
int birdconf_session_check(const struct birdconf_session *s, char *err, size_t errlen);

/**
 * A prefix length as it follows the '/': 1 to 3 decimal digits, no sign, no
 * leading zero, no white space, nothing after; at most @p max.
 * @return 0 (*@p len set) or -EINVAL.
 */
int birdconf_parse_len(const char *s, unsigned max, unsigned *len);

/**
 * A standard community "ASN:VALUE", each 0 to 65535 in decimal digits with
 * no sign, leading zero, white space or anything after.
 * @return 0 (*@p a, *@p b set) or -EINVAL.
 */
int birdconf_parse_community(const char *s, unsigned *a, unsigned *b);

/** How long birdconf_check lets bird parse before killing it. */
#define BIRDCONF_CHECK_TIMEOUT_MS 10000

/**
 * The whole environment of every process bgp.so starts (`bird -p`, the
 * private BIRD): PATH and LANG=C, NULL-terminated.  Nothing of wgmd's own
 * (WGM_ADMIN_PASSWORD, the database and cache URLs) is passed on.
 */
extern char *const birdconf_child_env[];

/**
 * Run `BIRD -p -c PATH` (fork and exec, no shell, stdin from /dev/null,
 * environment #birdconf_child_env) and wait at most
 * #BIRDCONF_CHECK_TIMEOUT_MS for it.
 * @param bird_binary absolute path of bird, e.g. "/usr/sbin/bird"
 * @param err NULL, or room for BIRD's message (its stderr, first line,
 *        without the "bird: " prefix) or another reason
 * @return 0 valid, -EINVAL the configuration is invalid (message in @p err),
 *         -ETIMEDOUT (bird was killed), -ENOENT/-EACCES (cannot execute) or
 *         another negative errno.
 */
int birdconf_check(const char *bird_binary, const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
