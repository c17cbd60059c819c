/* plugins/wireguard/service: the "wireguard" entry of GET /system/info's
 * services, read live on every call: the backend (kernel module and its
 * version, or the userspace program, its version read once at start),
 * whether it is usable, and each interface wgm runs with its process. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "store.h"

json_t *wg_service_info(struct wgm_ctx *ctx, void *data);

/* /sys/module/wireguard/version, or "" when unreadable (built in without
 * one, or not loaded). */
static void kernel_version(char *buf, size_t len)
{
    int fd = open("/sys/module/wireguard/version", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

json_t *wg_service_info(struct wgm_ctx *ctx, void *data)
{
    const struct wgm_host *h = wg.host;
    bool kernel = strcmp(wg.backend->ops->name, "kernel") == 0, usable;
    char version[64] = "";
    struct wgm_db *db;
    struct wgm_stmt *st = NULL;
    json_t *ifaces = json_array(), *out, *first_pid = json_null();
    long long wanted = 0, up = 0;

    (void)ctx;
    (void)data;
    if (kernel) {
        /* The module can be unloaded under us: ask /sys each time. */
        usable = access("/sys/module/wireguard", F_OK) == 0;
        kernel_version(version, sizeof(version));
    } else {
        usable = wg.userspace_version[0] != '\0';
        snprintf(version, sizeof(version), "%s", wg.userspace_version);
    }
    if ((db = h->db_acquire(wg.ctx)) &&
        h->db_prepare(db, "SELECT interface FROM wg_servers WHERE desired = 'running' ORDER BY id", &st) == 0) {
        while (h->stmt_step(st) == WGM_DB_ROW) {
            const char *ifname = h->stmt_column_text(st, 0);
            bool exists = ifname && wg.backend->ops->exists(wg.backend, ifname) == 0;
            pid_t pid = 0;
            json_t *o;
            if (!ifname)
                continue;
            wanted++;
            up += exists;
            o = json_pack("{s:s,s:s}", "interface", ifname, "status", exists ? "running" : "error");
            if (wg.backend->ops->pid && wg.backend->ops->pid(wg.backend, ifname, &pid) == 0) {
                json_object_set_new(o, "pid", json_integer(pid));
                if (json_is_null(first_pid))
                    first_pid = json_integer(pid);
            } else {
                json_object_set_new(o, "pid", json_null());
            }
            json_array_append_new(ifaces, o);
        }
    }
    h->stmt_free(st);
    h->db_release(db);
    out = json_pack("{s:s,s:s,s:s?,s:o,s:I,s:I,s:o}", "status",
                    !usable ? "unavailable" : up < wanted ? "degraded" : "running", "backend",
                    kernel ? "kernel" : wg.userspace_name, "version", version[0] ? version : NULL, "pid", first_pid,
                    "servers_running", (json_int_t)up, "servers_desired_running", (json_int_t)wanted, "interfaces",
                    ifaces);
    return out;
}
