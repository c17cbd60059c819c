/* plugins/wireguard/netlink: the pure half of the kernel backend, the
 * WireGuard generic netlink messages (linux/wireguard.h), as wireguard-tools'
 * ipc-linux.h builds and reads them.
 *
 * Nothing here touches a socket, so the unit tests and the fuzz harness
 * drive exactly the code the backend runs:
 *   - wg_nl_set_*: turn one change (struct wg_device) into the sequence of
 *     WG_CMD_SET_DEVICE messages the kernel accepts, split at a buffer size;
 *   - wg_nl_dump_*: turn the received datagrams of a WG_CMD_GET_DEVICE dump
 *     (data messages, then NLMSG_DONE or NLMSG_ERROR) into one device, with
 *     split peers coalesced.
 *
 * Every function returns 0 (or a documented positive value) or a negative
 * errno.  Buffers given to the decoder must be 4-byte aligned, as netlink
 * messages are. */
#ifndef WGM_WG_NETLINK_H
#define WGM_WG_NETLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "device.h"

/** Receive buffer for one socket.  The kernel sizes each dump message up to
 * the largest recvmsg length the socket has used (capped near 32 KiB), so a
 * socket keeps one fixed buffer of this size (protocols.md §1.5). */
#define WG_NL_RX_BUFSIZE 32768u

/** Smallest buffer wg_nl_set_next accepts.  Real callers use
 * MNL_SOCKET_BUFFER_SIZE (one page, at most 8 KiB), as wireguard-tools does. */
#define WG_NL_SET_MIN_BUFSIZE 256u

/** State of one SET encoding.  Fill it with wg_nl_set_init, then call
 * wg_nl_set_next until it returns 0.  The fields are private. */
struct wg_nl_set {
    const struct wg_device *change; /* borrowed; must outlive the encoding */
    size_t peer;                    /* next peer to (continue to) emit */
    size_t aip;                     /* next allowed IP of that peer */
    bool peer_started;              /* that peer's first fragment has gone out */
    bool done;
    unsigned n_msgs;                /* messages produced so far */
};

/** Check @change (borrowed) and prepare to encode it.  @change needs a name
 * (or an ifindex when the name is empty); every allowed IP must be AF_INET
 * with cidr <= 32 or AF_INET6 with cidr <= 128; a peer with
 * WG_PEER_HAS_ENDPOINT needs an AF_INET or AF_INET6 endpoint.  Everything
 * is checked before the first message is built, because the kernel applies
 * messages as they arrive: a SET is not atomic.  0 or -EINVAL. */
int wg_nl_set_init(struct wg_nl_set *s, const struct wg_device *change);

/** Build the next WG_CMD_SET_DEVICE message into @buf (@buflen bytes, at
 * least WG_NL_SET_MIN_BUFSIZE) with nlmsg_type @family and sequence @seq,
 * flags NLM_F_REQUEST | NLM_F_ACK.
 *
 * Splitting follows wireguard-tools' kernel_set_device: message 1 carries
 * the device attributes (private key, listen port, fwmark, REPLACE_PEERS);
 * later ones carry only the interface and peers.  A peer whose allowed IPs
 * do not fit is closed and continued in the next message with its
 * PUBLIC_KEY and the remaining ALLOWEDIPS only; REPLACE_ALLOWEDIPS, the
 * preshared key, endpoint and keepalive travel in its first fragment only,
 * while REMOVE_ME and UPDATE_ONLY are repeated in every fragment.  Every
 * nest carries NLA_F_NESTED.
 *
 * The caller sends each message and reads its ACK before asking for the
 * next one.  Returns the message length (> 0), 0 once every message has
 * been produced (at least one always is), or -EMSGSIZE when @buflen is too
 * small to make progress. */
int wg_nl_set_next(struct wg_nl_set *s, void *buf, size_t buflen, uint16_t family, uint32_t seq);

/** State of one GET_DEVICE dump being decoded.  The fields are private. */
struct wg_nl_dump {
    int err;                 /* first error; must stay first (control callbacks) */
    uint16_t family;         /* expected nlmsg_type; 0 accepts any data type */
    bool done;               /* NLMSG_DONE (or an ACK) has arrived */
    struct wg_device *dev;   /* owned; NULL until a data message arrives */
};

/** Start decoding a dump whose data messages have type @family (0: any). */
void wg_nl_dump_init(struct wg_nl_dump *d, uint16_t family);

/** Decode one received datagram @buf of @len bytes (one or more netlink
 * messages).  @seq and @portid are checked when non-zero, as mnl_cb_run does.
 *
 * Peers are appended in arrival order and a peer whose public key equals
 * the previous one's is merged into it (wireguard-tools' coalesce_peers);
 * device attributes seen again overwrite.  NLMSG_DONE ends the dump and
 * its int payload, when non-zero, is the dump's error.  Unknown attributes
 * and type-0 padding are skipped; truncated messages or attributes, wrong
 * lengths, missing public keys and allowed IPs whose address does not
 * match their family are refused.
 *
 * The genl command is not checked, so SET_DEVICE messages decode as well
 * (their FLAGS attributes come back as WG_DEVICE_REPLACE_PEERS and the
 * WG_PEER_* flags): the tests check the encoder with it.
 *
 * Returns 1 when more datagrams are expected, 0 when the dump is complete,
 * or a negative errno: -EINTR when the kernel flagged NLM_F_DUMP_INTR (the
 * caller restarts the whole dump), the kernel's error from NLMSG_ERROR or
 * NLMSG_DONE, -EBADMSG for malformed input, -EPROTO for a data message of
 * another type or another sequence number, -ESRCH for another port,
 * -ENOMEM.  After an error the state stays failed until wg_nl_dump_clear. */
int wg_nl_dump_feed(struct wg_nl_dump *d, const void *buf, size_t len, uint32_t seq, uint32_t portid);

/** Hand over the decoded device once wg_nl_dump_feed has returned 0:
 * *out is new (wg_device_free).  -ENODATA when the dump held no device
 * message, -EAGAIN when it is not complete, the feed error otherwise. */
int wg_nl_dump_take(struct wg_nl_dump *d, struct wg_device **out);

/** Free whatever @d holds and reset it to empty.  Accepts NULL. */
void wg_nl_dump_clear(struct wg_nl_dump *d);

/** Decode a whole dump given as @n datagrams (@bufs[i], @lens[i] bytes,
 * each 4-byte aligned) into *out (new: wg_device_free).  A dump that ends
 * without NLMSG_DONE is -EBADMSG.  Otherwise as wg_nl_dump_feed/_take. */
int wg_nl_decode(const void *const *bufs, const size_t *lens, size_t n, uint16_t family,
                 struct wg_device **out);

#endif
