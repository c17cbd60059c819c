/* The userspace backend against a real wireguard-go, in a private network
 * namespace: start, configure, read back (checked once against `wg show
 * dump`), change, 2000 peers, adoption by a second backend, stop.
 *
 * The tests run in a forked child that unshares its network namespace; the
 * parent only waits and then kills whatever is still listening on the
 * test's sockets, so an assertion, crash or hang in the child leaves no
 * process, socket, interface or namespace behind (the namespace dies with
 * the last process in it). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "tap.h"
#include "../../plugins/wireguard/backend.h"
#include "../../plugins/wireguard/device.h"
#include "../../plugins/wireguard/rtnl.h"
#include "../../plugins/wireguard/uapi.h"

#define N_MANY 2000
/* Generous: valgrind slows everything down. */
#define CHILD_TIMEOUT_S 600

static char if_main[WG_IFNAMSIZ], if_adopt[WG_IFNAMSIZ], if_slow[WG_IFNAMSIZ];
static char slow_script[64], slow_pidfile[80];
static const char *program = "wireguard-go";

static bool in_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[4096];
    if (strchr(name, '/'))
        return access(name, X_OK) == 0;
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
        if (access(buf, X_OK) == 0)
            return true;
        path = colon ? colon + 1 : NULL;
    }
    return false;
}

static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    const char *paren;
    int fd, ppid = -1;
    ssize_t n;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    paren = strrchr(buf, ')');
    if (!paren || sscanf(paren + 2, "%*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

static bool sock_exists(const char *ifname)
{
    char path[128];
    struct stat st;
    wg_uapi_sock_path(NULL, ifname, path, sizeof(path));
    return stat(path, &st) == 0;
}

static void add_ip(struct wg_peer *p, const char *s)
{
    struct wg_allowedip a;
    if (wg_allowedip_parse(s, &a) != 0 || wg_peer_add_allowedip(p, &a) != 0)
        abort();
}

static void b64(const uint8_t key[WG_KEY_LEN], char out[45])
{
    sodium_bin2base64(out, 45, key, WG_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A peer's allowed IPs, "a,b,c" in the order given, or sorted. */
static char *ips_text(const struct wg_peer *p, bool sorted, char *buf, size_t len)
{
    char strs[16][64];
    char *ptrs[16];
    size_t n = p->n_allowedips < 16 ? p->n_allowedips : 16, k = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        wg_allowedip_format(&p->allowedips[i], strs[i], sizeof(strs[i]));
        ptrs[i] = strs[i];
    }
    if (sorted)
        qsort(ptrs, n, sizeof(ptrs[0]), cmp_str);
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? "," : "", ptrs[i]);
    return buf;
}

static char *endpoint_text(const struct wg_peer *p, char *buf, size_t len)
{
    char addr[INET6_ADDRSTRLEN];
    if (!(p->flags & WG_PEER_HAS_ENDPOINT))
        snprintf(buf, len, "(none)");
    else if (p->endpoint.family == AF_INET)
        snprintf(buf, len, "%s:%u", inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, addr, sizeof(addr)),
                 ntohs(p->endpoint.in4.sin_port));
    else
        snprintf(buf, len, "[%s]:%u", inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, addr, sizeof(addr)),
                 ntohs(p->endpoint.in6.sin6_port));
    return buf;
}

static struct wg_peer *new_peer(struct wg_device *d, uint8_t priv_out[WG_KEY_LEN])
{
    uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
    randombytes_buf(priv, sizeof(priv));
    crypto_scalarmult_base(pub, priv);
    if (priv_out)
        memcpy(priv_out, priv, WG_KEY_LEN);
    explicit_bzero(priv, sizeof(priv));
    return wg_device_add_peer(d, pub);
}

/* `wg show IF dump` agrees with what our get parsed. */
static void cross_check_wg(const struct wg_device *d)
{
    char cmd[128], line[2048], k1[45], k2[45];
    size_t peers_seen = 0, peers_ok = 0;
    bool iface_ok = false;
    FILE *f;

    if (!in_path("wg")) {
        skip("wg (wireguard-tools) not installed");
        skip("wg (wireguard-tools) not installed");
        return;
    }
    snprintf(cmd, sizeof(cmd), "wg show %s dump", d->name);
    f = popen(cmd, "r");
    if (!f) {
        ok(0, "popen wg");
        ok(0, "popen wg");
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        char *fields[9];
        size_t n = 0;
        line[strcspn(line, "\n")] = '\0';
        for (char *save = NULL, *t = strtok_r(line, "\t", &save); t && n < 9; t = strtok_r(NULL, "\t", &save))
            fields[n++] = t;
        if (n == 4 && !iface_ok) {
            char port[16];
            b64(d->private_key, k1);
            b64(d->public_key, k2);
            snprintf(port, sizeof(port), "%u", d->listen_port);
            iface_ok = !strcmp(fields[0], k1) && !strcmp(fields[1], k2) && !strcmp(fields[2], port) &&
                       !strcmp(fields[3], (d->flags & WG_DEVICE_HAS_FWMARK) ? "?" : "off");
            if (!iface_ok)
                printf("# wg interface line: %s %s %s %s\n", fields[0], fields[1], fields[2], fields[3]);
        } else if (n == 8) {
            char ep[80], ips[512], num[3][32];
            const struct wg_peer *p = NULL;
            peers_seen++;
            for (size_t i = 0; i < d->n_peers && !p; i++) {
                b64(d->peers[i].public_key, k1);
                if (!strcmp(k1, fields[0]))
                    p = &d->peers[i];
            }
            if (!p)
                continue;
            if (p->flags & WG_PEER_HAS_PRESHARED_KEY)
                b64(p->preshared_key, k2);
            else
                snprintf(k2, sizeof(k2), "(none)");
            ips_text(p, false, ips, sizeof(ips));
            snprintf(num[0], sizeof(num[0]), "%lld", (long long)p->last_handshake.tv_sec);
            snprintf(num[1], sizeof(num[1]), "%llu", (unsigned long long)p->rx_bytes);
            snprintf(num[2], sizeof(num[2]), "%llu", (unsigned long long)p->tx_bytes);
            if (!strcmp(fields[1], k2) && !strcmp(fields[2], endpoint_text(p, ep, sizeof(ep))) &&
                !strcmp(fields[3], p->n_allowedips ? ips : "(none)") && !strcmp(fields[4], num[0]) &&
                !strcmp(fields[5], num[1]) && !strcmp(fields[6], num[2]) &&
                (p->keepalive ? atoi(fields[7]) == p->keepalive : !strcmp(fields[7], "off")))
                peers_ok++;
            else
                printf("# wg peer line differs: ep %s ips %s ka %s\n", fields[2], fields[3], fields[7]);
        }
    }
    pclose(f);
    ok(iface_ok, "wg show dump: private key, public key, port, fwmark agree");
    ok(peers_seen == d->n_peers && peers_ok == d->n_peers,
       "wg show dump: all %zu peers agree (PSK, endpoint, allowed IPs, counters, keepalive)", d->n_peers);
}

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, WG_KEY_LEN);
}

static void run_tests(void)
{
    struct wg_backend *b = NULL, *b2 = NULL, *bad = NULL;
    struct wg_device *set = NULL, *got = NULL;
    uint8_t keys[3][WG_KEY_LEN];
    pid_t pid = 0, pid2 = 0;
    char ips[512], ep[80];
    int r;

    is_int(wg_backend_userspace_new(program, NULL, &b), 0, "new userspace backend");
    if (!b)
        return;
    is_str(b->ops->name, "userspace", "ops name");
    is_int(b->ops->exists(b, if_main), -ENODEV, "exists before link_add: -ENODEV");
    is_int(b->ops->get(b, if_main, &got), -ENODEV, "get before link_add: -ENODEV");
    is_int(b->ops->link_add(b, "bad/name"), -EINVAL, "link_add refuses a name with '/'");

    /* ---- start ---- */
    r = b->ops->link_add(b, if_main);
    is_int(r, 0, "link_add starts wireguard-go");
    if (r != 0)
        goto out;
    is_int(b->ops->exists(b, if_main), 0, "exists: the socket answers");
    ok(wg_rtnl_ifindex(if_main) > 0, "the TUN link exists in our namespace");
    is_int(wg_uapi_server_pid(NULL, if_main, &pid), 0, "the socket's listener pid");
    ok(pid > 0 && kill(pid, 0) == 0 && parent_of(pid) == getpid(), "it is our child (pid %d)", (int)pid);
    is_int(b->ops->link_add(b, if_main), -EEXIST, "link_add again: -EEXIST");

    /* ---- configure: key, port, 3 peers ---- */
    set = wg_device_new(if_main);
    randombytes_buf(set->private_key, WG_KEY_LEN);
    set->private_key[0] &= 248; /* clamped, as wireguard-go stores it */
    set->private_key[31] = (set->private_key[31] & 127) | 64;
    set->listen_port = 51820;
    set->flags = WG_DEVICE_HAS_PRIVATE_KEY | WG_DEVICE_HAS_LISTEN_PORT | WG_DEVICE_REPLACE_PEERS;
    {
        struct wg_peer *p = new_peer(set, NULL);
        randombytes_buf(p->preshared_key, WG_KEY_LEN);
        p->flags = WG_PEER_HAS_PRESHARED_KEY | WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE | WG_PEER_REPLACE_ALLOWEDIPS;
        p->endpoint.in4.sin_family = AF_INET;
        inet_pton(AF_INET, "192.0.2.1", &p->endpoint.in4.sin_addr);
        p->endpoint.in4.sin_port = htons(51820);
        p->keepalive = 25;
        add_ip(p, "10.0.0.2/32");
        add_ip(p, "fd00::2/128");
        p = new_peer(set, NULL);
        p->flags = WG_PEER_HAS_ENDPOINT | WG_PEER_REPLACE_ALLOWEDIPS;
        p->endpoint.in6.sin6_family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::1", &p->endpoint.in6.sin6_addr);
        p->endpoint.in6.sin6_port = htons(51821);
        add_ip(p, "10.0.1.0/24");
        p = new_peer(set, NULL);
        randombytes_buf(p->preshared_key, WG_KEY_LEN);
        p->flags = WG_PEER_HAS_PRESHARED_KEY | WG_PEER_REPLACE_ALLOWEDIPS;
        add_ip(p, "10.0.2.0/24");
        add_ip(p, "10.0.3.0/24");
        add_ip(p, "fd00:2::/64");
        for (int i = 0; i < 3; i++)
            memcpy(keys[i], set->peers[i].public_key, WG_KEY_LEN);
    }
    is_int(b->ops->set(b, set), 0, "set: private key, port 51820, 3 peers");
    is_int(b->ops->get(b, if_main, &got), 0, "get");
    if (got) {
        uint8_t pub[WG_KEY_LEN];
        const struct wg_peer *p;
        crypto_scalarmult_base(pub, set->private_key);
        ok(!memcmp(got->private_key, set->private_key, WG_KEY_LEN), "private key as set");
        ok((got->flags & WG_DEVICE_HAS_PUBLIC_KEY) && !memcmp(got->public_key, pub, WG_KEY_LEN),
           "public key derived");
        ok((got->flags & WG_DEVICE_HAS_LISTEN_PORT) && got->listen_port == 51820, "listen port");
        ok(!(got->flags & WG_DEVICE_HAS_FWMARK), "no fwmark");
        ok(got->ifindex == (uint32_t)wg_rtnl_ifindex(if_main), "ifindex filled in");
        is_int(got->n_peers, 3, "3 peers");
        p = wg_device_find_peer(got, keys[0]);
        ok(p && (p->flags & WG_PEER_HAS_PRESHARED_KEY) &&
               !memcmp(p->preshared_key, set->peers[0].preshared_key, WG_KEY_LEN),
           "peer 1: PSK");
        is_str(p ? endpoint_text(p, ep, sizeof(ep)) : NULL, "192.0.2.1:51820", "peer 1: v4 endpoint");
        ok(p && p->keepalive == 25, "peer 1: keepalive 25");
        is_str(p ? ips_text(p, true, ips, sizeof(ips)) : NULL, "10.0.0.2/32,fd00::2/128", "peer 1: allowed IPs");
        p = wg_device_find_peer(got, keys[1]);
        ok(p && !(p->flags & WG_PEER_HAS_PRESHARED_KEY), "peer 2: no PSK");
        is_str(p ? endpoint_text(p, ep, sizeof(ep)) : NULL, "[2001:db8::1]:51821", "peer 2: v6 endpoint");
        ok(p && p->keepalive == 0 && p->last_handshake.tv_sec == 0 && p->rx_bytes == 0, "peer 2: no keepalive, no handshake");
        is_str(p ? ips_text(p, true, ips, sizeof(ips)) : NULL, "10.0.1.0/24", "peer 2: allowed IPs");
        p = wg_device_find_peer(got, keys[2]);
        ok(p && (p->flags & WG_PEER_HAS_PRESHARED_KEY) &&
               !memcmp(p->preshared_key, set->peers[2].preshared_key, WG_KEY_LEN) &&
               !(p->flags & WG_PEER_HAS_ENDPOINT),
           "peer 3: PSK, no endpoint");
        is_str(p ? ips_text(p, true, ips, sizeof(ips)) : NULL, "10.0.2.0/24,10.0.3.0/24,fd00:2::/64",
               "peer 3: allowed IPs");
        cross_check_wg(got);
    }
    got = wg_device_free(got);
    set = wg_device_free(set);

    /* ---- change: remove one peer, replace another's allowed IPs ---- */
    set = wg_device_new(if_main);
    {
        struct wg_peer *p = wg_device_add_peer(set, keys[0]);
        p->flags = WG_PEER_REMOVE_ME;
        p = wg_device_add_peer(set, keys[1]);
        p->flags = WG_PEER_REPLACE_ALLOWEDIPS | WG_PEER_UPDATE_ONLY;
        add_ip(p, "10.9.9.0/24");
    }
    is_int(b->ops->set(b, set), 0, "set: REMOVE_ME one, REPLACE_ALLOWEDIPS another");
    is_int(b->ops->get(b, if_main, &got), 0, "get");
    if (got) {
        const struct wg_peer *p;
        is_int(got->n_peers, 2, "2 peers left");
        ok(!wg_device_find_peer(got, keys[0]), "the removed peer is gone");
        p = wg_device_find_peer(got, keys[1]);
        is_str(p ? ips_text(p, true, ips, sizeof(ips)) : NULL, "10.9.9.0/24", "allowed IPs replaced");
        is_str(p ? endpoint_text(p, ep, sizeof(ep)) : NULL, "[2001:db8::1]:51821", "its endpoint untouched");
        p = wg_device_find_peer(got, keys[2]);
        is_str(p ? ips_text(p, true, ips, sizeof(ips)) : NULL, "10.0.2.0/24,10.0.3.0/24,fd00:2::/64",
               "the third peer untouched");
        ok(got->listen_port == 51820 && (got->flags & WG_DEVICE_HAS_PRIVATE_KEY), "device keys untouched");
    }
    got = wg_device_free(got);
    set = wg_device_free(set);

    /* The server's error comes back as a negative errno. */
    set = wg_device_new(if_main);
    {
        struct wg_peer *p = new_peer(set, NULL);
        p->flags = WG_PEER_UPDATE_ONLY;
        add_ip(p, "10.8.0.0/16");
    }
    is_int(b->ops->set(b, set), 0, "update_only on an unknown peer is accepted");
    is_int(b->ops->get(b, if_main, &got), 0, "get");
    ok(got && got->n_peers == 2, "and creates nothing");
    got = wg_device_free(got);
    set = wg_device_free(set);

    /* ---- 2000 peers in one set ---- */
    set = wg_device_new(if_main);
    set->flags = WG_DEVICE_REPLACE_PEERS;
    for (unsigned i = 0; i < N_MANY; i++) {
        uint8_t k[WG_KEY_LEN];
        struct wg_peer *p;
        char ip[64];
        randombytes_buf(k, sizeof(k));
        p = wg_device_add_peer(set, k);
        p->flags = WG_PEER_REPLACE_ALLOWEDIPS;
        snprintf(ip, sizeof(ip), "10.%u.%u.%u/32", 100 + i / 65536, (i / 256) % 256, i % 256);
        add_ip(p, ip);
    }
    is_int(b->ops->set(b, set), 0, "set: 2000 peers, replace_peers");
    is_int(b->ops->get(b, if_main, &got), 0, "get");
    if (got && got->n_peers == N_MANY) {
        uint8_t(*want)[WG_KEY_LEN] = malloc(N_MANY * WG_KEY_LEN), (*have)[WG_KEY_LEN] = malloc(N_MANY * WG_KEY_LEN);
        size_t ips_ok = 0;
        for (size_t i = 0; i < N_MANY; i++) {
            memcpy(want[i], set->peers[i].public_key, WG_KEY_LEN);
            memcpy(have[i], got->peers[i].public_key, WG_KEY_LEN);
            ips_ok += got->peers[i].n_allowedips == 1;
        }
        qsort(want, N_MANY, WG_KEY_LEN, cmp_key);
        qsort(have, N_MANY, WG_KEY_LEN, cmp_key);
        ok(1, "get returns 2000 peers");
        ok(!memcmp(want, have, (size_t)N_MANY * WG_KEY_LEN), "exactly the 2000 keys set");
        is_int(ips_ok, N_MANY, "each with its one allowed IP");
        free(want);
        free(have);
    } else {
        ok(0, "get returns 2000 peers (got %zu)", got ? got->n_peers : 0);
        skip("no peers");
        skip("no peers");
    }
    got = wg_device_free(got);
    set = wg_device_free(set);

    /* ---- adoption: a second backend (a restarted wgmd) ---- */
    is_int(wg_backend_userspace_new(NULL, NULL, &b2), 0, "a second backend");
    if (b2) {
        is_int(b2->ops->exists(b2, if_main), 0, "adopts: exists");
        is_int(b2->ops->get(b2, if_main, &got), 0, "adopts: get");
        ok(got && got->n_peers == N_MANY, "adopts: sees the 2000 peers");
        got = wg_device_free(got);
        is_int(b2->ops->link_add(b2, if_main), -EEXIST, "adopts: link_add is -EEXIST");
        b2->ops->free(b2);
        b2 = NULL;
        is_int(b->ops->exists(b, if_main), 0, "freeing the adopter leaves the interface running");
    }

    /* ---- stop ---- */
    is_int(b->ops->link_del(b, if_main), 0, "link_del");
    ok(pid > 0 && kill(pid, 0) < 0 && errno == ESRCH, "the process is gone and reaped (ESRCH)");
    ok(!sock_exists(if_main), "the socket is gone");
    is_int(wg_rtnl_ifindex(if_main), -ENODEV, "the TUN link is gone");
    is_int(b->ops->exists(b, if_main), -ENODEV, "exists: -ENODEV");
    is_int(b->ops->link_del(b, if_main), -ENODEV, "link_del again: -ENODEV");

    /* ---- an adopted interface deleted by the backend that did not start it ---- */
    r = b->ops->link_add(b, if_adopt);
    is_int(r, 0, "link_add a second interface");
    if (r == 0) {
        wg_uapi_server_pid(NULL, if_adopt, &pid2);
        is_int(wg_backend_userspace_new(NULL, NULL, &b2), 0, "another backend");
        is_int(b2 ? b2->ops->link_del(b2, if_adopt) : -1, 0, "it deletes the adopted interface (SO_PEERCRED)");
        ok(!sock_exists(if_adopt), "socket gone");
        is_int(wg_rtnl_ifindex(if_adopt), -ENODEV, "link gone");
        is_int(b->ops->exists(b, if_adopt), -ENODEV, "the starter sees it gone");
        if (b2)
            b2->ops->free(b2);
        b2 = NULL;
    }

    /* ---- a process that dies on its own (its link deleted under it) ---- */
    r = b->ops->link_add(b, if_adopt);
    is_int(r, 0, "link_add the second name again");
    if (r == 0) {
        pid_t pid3 = 0;
        siginfo_t si;
        int waited = 0;
        wg_uapi_server_pid(NULL, if_adopt, &pid3);
        ok(pid2 > 0 && kill(pid2, 0) < 0 && errno == ESRCH, "the earlier process was reaped meanwhile");
        is_int(wg_rtnl_link_del(if_adopt), 0, "delete its TUN link behind the backend's back");
        /* Exited, not yet reaped: WNOWAIT leaves that to the backend. */
        do {
            memset(&si, 0, sizeof(si));
            if (waitid(P_PID, (id_t)pid3, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == pid3)
                break;
            struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        } while (++waited < 500);
        ok(si.si_pid == pid3, "wireguard-go exits when its link goes");
        is_int(b->ops->exists(b, if_adopt), -ENODEV, "exists: -ENODEV");
        is_int(b->ops->link_add(b, if_adopt), 0, "link_add the same name once more");
        ok(kill(pid3, 0) < 0 && errno == ESRCH, "the dead process was reaped, not left a zombie");
        is_int(b->ops->link_del(b, if_adopt), 0, "link_del");
    }

    /* ---- implementations that fail ---- */
    is_int(wg_backend_userspace_new("false", NULL, &bad), 0, "a backend running `false`");
    if (bad) {
        is_int(bad->ops->link_add(bad, if_slow), -EIO, "an implementation that exits: -EIO");
        is_int(bad->ops->link_add(bad, if_slow), -EIO, "again (nothing left behind)");
        bad->ops->free(bad);
        bad = NULL;
    }
    is_int(wg_backend_userspace_new("/nonexistent/wg-impl", NULL, &bad), 0, "a backend with a missing program");
    if (bad) {
        r = bad->ops->link_add(bad, if_slow);
        ok(r == -ENOENT, "a missing program: -ENOENT (got %d)", r);
        bad->ops->free(bad);
        bad = NULL;
    }
    is_int(wg_backend_userspace_new(slow_script, NULL, &bad), 0, "a backend whose program never answers");
    if (bad) {
        pid_t before = 0;
        is_int(bad->ops->link_add(bad, if_slow), -ETIMEDOUT, "never answers: -ETIMEDOUT after the bound");
        is_int(wg_uapi_server_pid(NULL, if_slow, &before), -ENODEV, "nothing listens");
        bad->ops->free(bad);
        bad = NULL;
    }

out:
    b->ops->free(b);
    ok(pid2 <= 0 || (kill(pid2, 0) < 0 && errno == ESRCH), "free reaped every process it started");
}

/* Whatever the child left: kill listeners on our sockets, remove them. */
static void cleanup(void)
{
    const char *names[] = {if_main, if_adopt, if_slow};
    FILE *f;
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        pid_t pid;
        if (wg_uapi_server_pid(NULL, names[i], &pid) == 0)
            kill(pid, SIGKILL);
        if (wg_uapi_sock_path(NULL, names[i], path, sizeof(path)) == 0)
            unlink(path);
    }
    f = fopen(slow_pidfile, "r");
    if (f) {
        int pid;
        if (fscanf(f, "%d", &pid) == 1 && pid > 1)
            kill(pid, SIGKILL);
        fclose(f);
    }
    unlink(slow_pidfile);
    unlink(slow_script);
    /* Reap what the child orphaned (we have no other children). */
    for (int i = 0; i < 300; i++) {
        pid_t w = waitpid(-1, NULL, WNOHANG);
        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
        if (w < 0)
            break;
        if (w == 0)
            nanosleep(&ts, NULL);
    }
}

int main(void)
{
    const char *env = getenv("WGM_WIREGUARD_GO");
    pid_t child, w;
    int st = 0, fd;
    long waited = 0;

    if (env && *env)
        program = env;
    if (geteuid() != 0)
        skip_all("needs root (network namespace, TUN)");
    if (!in_path(program))
        skip_all("wireguard-go not installed");
    if (access("/dev/net/tun", R_OK | W_OK) != 0)
        skip_all("/dev/net/tun missing");
    if (sodium_init() < 0)
        skip_all("libsodium failed to initialise");

    /* Names unique host-wide: the socket directory is shared by every
     * namespace. */
    snprintf(if_main, sizeof(if_main), "wgt%d", (int)getpid());
    snprintf(if_adopt, sizeof(if_adopt), "wga%d", (int)getpid());
    snprintf(if_slow, sizeof(if_slow), "wgs%d", (int)getpid());
    snprintf(slow_script, sizeof(slow_script), "/tmp/wgm-slow-impl.%d", (int)getpid());
    snprintf(slow_pidfile, sizeof(slow_pidfile), "%s.pid", slow_script);
    /* It never opens a socket, so cleanup finds it by its pid file; and it
     * ends by itself soon after the 5 s start bound anyway. */
    fd = open(slow_script, O_WRONLY | O_CREAT | O_TRUNC, 0700);
    if (fd < 0 || dprintf(fd, "#!/bin/sh\necho $$ > %s\nexec sleep 15\n", slow_pidfile) < 0)
        skip_all("cannot write a helper script in /tmp");
    close(fd);

    /* Processes orphaned by a dying child come to us, not to init (which
     * in a container may never reap them), so cleanup can reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    fflush(stdout);
    child = fork();
    if (child < 0) {
        unlink(slow_script);
        skip_all("fork failed");
    }
    if (child == 0) {
        alarm(CHILD_TIMEOUT_S);
        if (unshare(CLONE_NEWNET) != 0) {
            printf("1..0 # SKIP unshare(CLONE_NEWNET): %s\n", strerror(errno));
            fflush(stdout);
            _exit(0);
        }
        run_tests();
        fflush(stdout);
        exit(done_testing());
    }

    /* Bounded wait, then the child is killed; cleanup runs either way. */
    while ((w = waitpid(child, &st, WNOHANG)) == 0 && waited < (CHILD_TIMEOUT_S + 30) * 10L) {
        struct timespec ts = {.tv_nsec = 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        waited++;
    }
    if (w == 0) {
        kill(child, SIGKILL);
        waitpid(child, &st, 0);
    }
    cleanup();
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    printf("Bail out! test process died (%s)\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "timeout");
    return 1;
}
