/* plugins/wireguard/uapi: the WireGuard cross-platform userspace API (the
 * text protocol wireguard-go serves on /var/run/wireguard/NAME.sock), as in
 * wireguard-tools' ipc-uapi.h.
 *
 * The encoder and parsers are pure functions over buffers, so they are
 * unit-tested and fuzzed without sockets; the transport below them opens
 * one connection per operation, because after a protocol error the server
 * reads the rest of the stream as a new operation.
 *
 * Every function returns 0 or a negative errno.  Buffers that carry a
 * request or a reply may hold private and preshared keys: release them
 * with wg_uapi_buf_wipe, which clears them before freeing. */
#ifndef WGM_WG_UAPI_H
#define WGM_WG_UAPI_H

#include <stddef.h>
#include <sys/types.h>
#include "device.h"

/** Where wireguard-go (and wg(8)) put the sockets. */
#define WG_UAPI_DEFAULT_SOCK_DIR "/var/run/wireguard"
/** Largest get reply accepted: about 200 000 peers with a few allowed IPs. */
#define WG_UAPI_MAX_REPLY ((size_t)64 << 20)
/** How long an operation may make no progress before it fails (-ETIMEDOUT). */
#define WG_UAPI_TIMEOUT_MS 5000

/** A byte buffer holding a request or a reply. */
struct wg_uapi_buf {
    char *data;  /**< owned; NUL-terminated after len when non-NULL */
    size_t len;  /**< bytes used, not counting the NUL */
    size_t cap;  /**< bytes allocated */
};

/** Zero the bytes of @b, free them and reset @b to empty.  Accepts NULL
 * and an empty buffer. */
void wg_uapi_buf_wipe(struct wg_uapi_buf *b);

/** Encode @change (borrowed) as one complete `set=1` request ending with
 * the empty line.  Device keys come first, in the order private_key,
 * listen_port, fwmark, replace_peers, each only when its flag is set; then
 * per peer public_key and, unless it is removed, update_only,
 * preshared_key, endpoint, persistent_keepalive_interval,
 * replace_allowed_ips and its allowed_ip lines.  Keys are lowercase hex.
 * Everything is validated before anything is written: -EINVAL for an
 * endpoint or allowed IP of an unknown family or a bad cidr, -ENOMEM.
 * On success @out (empty on entry) owns the request; on error it is empty. */
int wg_uapi_encode_set(const struct wg_device *change, struct wg_uapi_buf *out);

/** Parse the reply to `get=1` (@len bytes of @reply, borrowed, need not be
 * NUL-terminated): key=value lines, the final `errno=N` and an empty line
 * that must end the buffer.  Keys are read by name, not position; unknown
 * well-formed keys are skipped (newer implementations add some), but a
 * device key after the first public_key is refused.  The public key is
 * derived from private_key (X25519).  *out is a new device named @ifname
 * (free with wg_device_free) on success and NULL otherwise.
 * Returns 0, the reply's errno as a negative number (-N for errno=N or
 * errno=-N), -EPROTO for a malformed reply, -EMSGSIZE when @len exceeds
 * WG_UAPI_MAX_REPLY, -EINVAL for a bad @ifname, -ENOMEM. */
int wg_uapi_parse_get(const char *reply, size_t len, const char *ifname, struct wg_device **out);

/** Parse the reply to `set=1`: exactly `errno=N` and an empty line.
 * Returns 0, -N (as for parse_get) or -EPROTO. */
int wg_uapi_parse_errno(const char *reply, size_t len);

/** Write "@sock_dir/@ifname.sock" into @buf of @len bytes.  -EINVAL for an
 * interface name that is empty, too long or holds '/'; -ENAMETOOLONG when
 * the path does not fit a UNIX socket address or @buf. */
int wg_uapi_sock_path(const char *sock_dir, const char *ifname, char *buf, size_t len);

/** One operation: connect to @ifname's socket in @sock_dir (NULL means
 * WG_UAPI_DEFAULT_SOCK_DIR), send the @req_len bytes of @req (borrowed),
 * read the reply up to and including the first empty line into @reply
 * (empty on entry; owned by the caller on success, empty on error).
 * -ENODEV when nothing listens on the socket, -ETIMEDOUT after
 * WG_UAPI_TIMEOUT_MS without progress, -EMSGSIZE past WG_UAPI_MAX_REPLY,
 * -EPROTO when the server closes before the empty line. */
int wg_uapi_transact(const char *sock_dir, const char *ifname, const char *req, size_t req_len,
                     struct wg_uapi_buf *reply);

/** Read the whole device @ifname: *out is new (wg_device_free).  Errors as
 * for wg_uapi_transact and wg_uapi_parse_get. */
int wg_uapi_get(const char *sock_dir, const char *ifname, struct wg_device **out);

/** Apply @change (borrowed) to the device named change->name.  Errors as
 * for wg_uapi_encode_set, wg_uapi_transact, and the server's errno (for
 * example -EINVAL, -EADDRINUSE).  Not atomic: the server applies lines as
 * it reads them, so an error can leave earlier lines applied. */
int wg_uapi_set(const char *sock_dir, const struct wg_device *change);

/** The pid of the process listening on @ifname's socket (SO_PEERCRED), so
 * an implementation started by an earlier wgmd can still be stopped.
 * -ENODEV when nothing listens. */
int wg_uapi_server_pid(const char *sock_dir, const char *ifname, pid_t *out);

#endif
