/* plugins/wireguard/backend: one small interface over the two ways to drive
 * WireGuard, as wireguard-tools' ipc layer does:
 *   - kernel: generic netlink (libmnl) for the device, rtnetlink for links;
 *   - userspace: an implementation process (wireguard-go by default) per
 *     interface, driven over its UAPI socket /var/run/wireguard/NAME.sock.
 * Addresses, routes and link state go through rtnetlink (rtnl.h) for both.
 * All functions return 0 or a negative errno. */
#ifndef WGM_WG_BACKEND_H
#define WGM_WG_BACKEND_H

#include <sys/types.h>
#include "device.h"

struct wg_backend;

struct wg_backend_ops {
    const char *name; /* "kernel" or "userspace" */
    /* Create the interface @ifname (kernel: RTM_NEWLINK kind wireguard;
     * userspace: start the implementation and wait for its socket). */
    int (*link_add)(struct wg_backend *b, const char *ifname);
    /* Remove it (userspace: also stop the process). */
    int (*link_del)(struct wg_backend *b, const char *ifname);
    /* 0 when the WireGuard device @ifname exists and answers, -ENODEV otherwise. */
    int (*exists)(struct wg_backend *b, const char *ifname);
    /* Read the whole device (peers, stats).  *out is new: wg_device_free. */
    int (*get)(struct wg_backend *b, const char *ifname, struct wg_device **out);
    /* Apply @change (its flags say what; peers carry their own flags).
     * Large peer sets are split as the protocol requires. */
    int (*set)(struct wg_backend *b, const struct wg_device *change);
    void (*free)(struct wg_backend *b);
    /* Optional (NULL for the kernel): the pid of the implementation process
     * serving @ifname, started by us or adopted.  0 or -ENODEV. */
    int (*pid)(struct wg_backend *b, const char *ifname, pid_t *out);
};

struct wg_backend {
    const struct wg_backend_ops *ops;
};

/* Kernel backend; -EPROTONOSUPPORT when the wireguard genl family is absent. */
int wg_backend_kernel_new(struct wg_backend **out);
/* Userspace backend running @program (e.g. "wireguard-go") per interface,
 * with sockets in @sock_dir (normally /var/run/wireguard). */
int wg_backend_userspace_new(const char *program, const char *sock_dir, struct wg_backend **out);
/* The version @program reports for `@program --version` ("0.0.20220316"
 * of "wireguard-go v0.0.20220316"), run once with argv only and the
 * minimal environment, bounded in time.  0, -ENOENT, -ETIMEDOUT or -EPROTO. */
int wg_userspace_version(const char *program, char *buf, size_t len);
/* The environment every child gets: PATH and what wireguard-go reads,
 * nothing of wgmd's own (no WGM_*, no database or cache URLs).  Static. */
char *const *wg_child_env(void);

#endif
