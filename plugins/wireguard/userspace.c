/* plugins/wireguard/userspace: the backend for hosts without the kernel
 * module.  One implementation process (wireguard-go by default) per
 * interface, driven over its UAPI socket; links, addresses and routes still
 * go through rtnetlink.
 *
 * The backend remembers the pids it started (name -> pid) so it can stop
 * and reap exactly those: wgmd has other children, so there is no SIGCHLD
 * handler and no waitpid(-1).  An interface whose process outlived an
 * earlier wgmd is adopted through its socket: exists/get/set only need the
 * socket, and link_del finds the process with SO_PEERCRED. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "backend.h"
#include "rtnl.h"
#include "uapi.h"

#define DEFAULT_PROGRAM "wireguard-go"
/* How long a new process may take to answer on its socket. */
#define START_TIMEOUT_MS 5000
/* How long SIGTERM is given before SIGKILL. */
#define STOP_TIMEOUT_MS 3000
#define POLL_STEP_MS 10
/* sizeof(sockaddr_un.sun_path): wg_uapi_sock_path refuses longer paths. */
#define SOCK_PATH_MAX 108

struct proc {
    char name[WG_IFNAMSIZ];
    pid_t pid;     /* 0 until spawned */
    bool starting; /* link_add owns it: nobody else reaps or stops it */
};

struct userspace {
    struct wg_backend base; /* first: the ops receive &base */
    char *program, *sock_dir;
    pthread_mutex_t lock; /* guards procs */
    struct proc *procs;
    size_t n_procs, cap_procs;
};

static struct userspace *to_userspace(struct wg_backend *b)
{
    return (struct userspace *)b;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- the pid table (callers hold the lock) -------------------------- */

static ssize_t table_find(const struct userspace *u, const char *name)
{
    for (size_t i = 0; i < u->n_procs; i++)
        if (strcmp(u->procs[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

static void table_remove(struct userspace *u, size_t i)
{
    u->procs[i] = u->procs[--u->n_procs];
}

static int table_reserve(struct userspace *u, const char *name)
{
    struct proc *p;
    if (table_find(u, name) >= 0)
        return -EEXIST;
    if (u->n_procs == u->cap_procs) {
        size_t cap = u->cap_procs ? u->cap_procs * 2 : 8;
        struct proc *grown = realloc(u->procs, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        u->procs = grown;
        u->cap_procs = cap;
    }
    p = &u->procs[u->n_procs++];
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->starting = true;
    return 0;
}

/* Gone, or a zombie waiting for a parent that is not us.  A zombie thread
 * group leader still counts as running while its other threads exit (Go
 * has several), since only then has it let go of its TUN and socket. */
static bool pid_gone(pid_t pid)
{
    char path[64], buf[2048];
    const char *state, *threads;
    ssize_t n;
    int fd;

    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    state = strstr(buf, "\nState:\t");
    threads = strstr(buf, "\nThreads:\t");
    return state && threads && (state[8] == 'Z' || state[8] == 'X') && atoi(threads + 10) <= 1;
}

/* Forget processes that died on their own (their TUN link was deleted, or
 * they crashed), reaping them so they do not linger as zombies. */
static void reap_dead(struct userspace *u)
{
    pthread_mutex_lock(&u->lock);
    for (size_t i = 0; i < u->n_procs;) {
        struct proc *p = &u->procs[i];
        int st;
        pid_t w = p->starting || p->pid <= 0 ? 0 : waitpid(p->pid, &st, WNOHANG);
        /* ECHILD alone proves nothing: with SIGCHLD ignored the kernel
         * reaps for us, and the process may still be running. */
        if ((w > 0 && w == p->pid) || (w < 0 && pid_gone(p->pid)))
            table_remove(u, i);
        else
            i++;
    }
    pthread_mutex_unlock(&u->lock);
}

/* ---- processes ------------------------------------------------------ */

/* Stop a child of ours: SIGTERM, a bounded wait, then SIGKILL; always reaped. */
static void stop_child(pid_t pid)
{
    long long deadline = now_ms() + STOP_TIMEOUT_MS;
    int st;
    pid_t w;

    kill(pid, SIGTERM);
    for (;;) {
        w = waitpid(pid, &st, WNOHANG);
        if (w == pid || (w < 0 && errno == ECHILD && pid_gone(pid)))
            return; /* reaped, here or by the kernel */
        if (now_ms() >= deadline)
            break;
        sleep_ms(POLL_STEP_MS);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

/* Stop a process that is not (known to be) our child, found by its socket. */
static void stop_foreign(pid_t pid)
{
    long long deadline = now_ms() + STOP_TIMEOUT_MS;

    kill(pid, SIGTERM);
    while (!pid_gone(pid)) {
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            deadline = now_ms() + STOP_TIMEOUT_MS;
            while (!pid_gone(pid) && now_ms() < deadline)
                sleep_ms(POLL_STEP_MS);
            return;
        }
        sleep_ms(POLL_STEP_MS);
    }
}

/* Built here, not copied from wgmd's environment: that holds the admin
 * password, database and cache URLs (WGM_*), which a tunnel process must
 * never see.  PATH is a fixed system one (posix_spawnp itself searches
 * wgmd's PATH for the program); WG_PROCESS_FOREGROUND keeps wireguard-go
 * our child, LOG_LEVEL keeps it quiet. */
char *const *wg_child_env(void)
{
    static char *const env[] = {(char *)"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                (char *)"WG_PROCESS_FOREGROUND=1", (char *)"LOG_LEVEL=error", NULL};
    return env;
}

/* posix_spawnp rather than fork: wgmd is multi-threaded, and glibc's
 * vfork-style spawn also reports a failed exec to us directly. */
static int spawn(const struct userspace *u, const char *ifname, pid_t *out)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    char *argv[] = {u->program, (char *)"-f", (char *)ifname, NULL};
    int r;

    r = posix_spawn_file_actions_init(&fa);
    if (r)
        return -r;
    r = posix_spawnattr_init(&attr);
    if (r) {
        posix_spawn_file_actions_destroy(&fa);
        return -r;
    }
    sigemptyset(&none);
    sigfillset(&all);
    /* Its own process group, so a terminal's ^C to wgmd does not stop the
     * tunnels; an empty mask and default handlers, because wgmd's threads
     * block or ignore signals the Go runtime must see (SIGTERM). */
    r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!r)
        r = posix_spawnattr_setpgroup(&attr, 0);
    if (!r)
        r = posix_spawnattr_setsigmask(&attr, &none);
    if (!r)
        r = posix_spawnattr_setsigdefault(&attr, &all);
    if (!r)
        r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* wgmd's sockets and database must not leak into the tunnel process. */
    if (!r)
        r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!r)
        r = posix_spawnp(out, u->program, &fa, &attr, argv, (char *const *)wg_child_env());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -r;
}

/* Wait until the new process answers a get on its socket.  If it exits
 * first, it is reaped here. */
static int wait_ready(const struct userspace *u, const char *ifname, pid_t pid)
{
    long long deadline = now_ms() + START_TIMEOUT_MS;
    for (;;) {
        struct wg_device *d = NULL;
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            /* 127 is how a spawned child reports that exec failed. */
            return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? -ENOENT : -EIO;
        if (w < 0 && errno == ECHILD && pid_gone(pid))
            return -EIO;
        if (wg_uapi_get(u->sock_dir, ifname, &d) == 0) {
            wg_device_free(d);
            return 0;
        }
        if (now_ms() >= deadline) {
            stop_child(pid);
            return -ETIMEDOUT;
        }
        sleep_ms(POLL_STEP_MS);
    }
}

/* ---- backend ops ---------------------------------------------------- */

static int us_link_add(struct wg_backend *b, const char *ifname)
{
    struct userspace *u = to_userspace(b);
    char path[SOCK_PATH_MAX];
    pid_t pid = 0;
    ssize_t i;
    int r;

    r = wg_uapi_sock_path(u->sock_dir, ifname, path, sizeof(path));
    if (r < 0)
        return r;
    reap_dead(u);
    pthread_mutex_lock(&u->lock);
    r = table_reserve(u, ifname);
    pthread_mutex_unlock(&u->lock);
    if (r < 0)
        return r;

    /* An answering socket is a live device, maybe from an earlier wgmd; a
     * link of that name would make the implementation fail to start. */
    if (wg_uapi_server_pid(u->sock_dir, ifname, &pid) == 0 || wg_rtnl_ifindex(ifname) >= 0)
        r = -EEXIST;
    if (r == 0)
        r = spawn(u, ifname, &pid);
    if (r == 0) {
        pthread_mutex_lock(&u->lock);
        i = table_find(u, ifname);
        u->procs[i].pid = pid;
        pthread_mutex_unlock(&u->lock);
        r = wait_ready(u, ifname, pid);
    }

    pthread_mutex_lock(&u->lock);
    i = table_find(u, ifname);
    if (r == 0)
        u->procs[i].starting = false;
    else
        table_remove(u, (size_t)i);
    pthread_mutex_unlock(&u->lock);
    return r;
}

static int us_link_del(struct wg_backend *b, const char *ifname)
{
    struct userspace *u = to_userspace(b);
    char path[SOCK_PATH_MAX];
    bool owned = false;
    pid_t pid = 0;
    ssize_t i;
    int r;

    r = wg_uapi_sock_path(u->sock_dir, ifname, path, sizeof(path));
    if (r < 0)
        return r;
    reap_dead(u);
    pthread_mutex_lock(&u->lock);
    i = table_find(u, ifname);
    if (i >= 0 && u->procs[i].starting) {
        r = -EBUSY;
    } else if (i >= 0) {
        pid = u->procs[i].pid;
        table_remove(u, (size_t)i);
    }
    pthread_mutex_unlock(&u->lock);
    if (r < 0)
        return r;

    if (pid > 0) {
        stop_child(pid);
        owned = true;
    } else if (wg_uapi_server_pid(u->sock_dir, ifname, &pid) == 0) {
        stop_foreign(pid);
        owned = true;
    }
    /* The implementation removes its socket on a clean exit, not after
     * SIGKILL; a leftover would make the next start probe a dead file. */
    if (unlink(path) == 0)
        owned = true;
    /* Only a link we had evidence for is deleted: the same name could be
     * someone else's interface. */
    if (owned && wg_rtnl_ifindex(ifname) >= 0) {
        r = wg_rtnl_link_del(ifname);
        if (r == -ENODEV)
            r = 0; /* went away by itself meanwhile */
    }
    if (r == 0 && !owned)
        r = -ENODEV;
    return r;
}

/* A listening socket and a link of that name: no full device read, which
 * costs time proportional to the peers (tens of ms at 10,000). */
static int us_exists(struct wg_backend *b, const char *ifname)
{
    struct userspace *u = to_userspace(b);
    pid_t pid;
    int r = wg_uapi_server_pid(u->sock_dir, ifname, &pid);
    if (r == -EINVAL)
        return r;
    if (r < 0 || wg_rtnl_ifindex(ifname) < 0)
        return -ENODEV;
    return 0;
}

static int us_get(struct wg_backend *b, const char *ifname, struct wg_device **out)
{
    struct userspace *u = to_userspace(b);
    int r, ifindex;

    r = wg_uapi_get(u->sock_dir, ifname, out);
    if (r < 0)
        return r;
    ifindex = wg_rtnl_ifindex(ifname);
    if (ifindex > 0)
        (*out)->ifindex = (uint32_t)ifindex;
    return 0;
}

static int us_set(struct wg_backend *b, const struct wg_device *change)
{
    struct userspace *u = to_userspace(b);
    if (!change)
        return -EINVAL;
    return wg_uapi_set(u->sock_dir, change);
}

static int us_pid(struct wg_backend *b, const char *ifname, pid_t *out)
{
    struct userspace *u = to_userspace(b);
    ssize_t i;
    pid_t pid = 0;

    reap_dead(u);
    pthread_mutex_lock(&u->lock);
    i = table_find(u, ifname);
    if (i >= 0 && !u->procs[i].starting)
        pid = u->procs[i].pid;
    pthread_mutex_unlock(&u->lock);
    /* Not started by this wgmd: adopted, its pid from the socket's peer. */
    if (pid <= 0 && wg_uapi_server_pid(u->sock_dir, ifname, &pid) < 0)
        return -ENODEV;
    if (pid <= 0)
        return -ENODEV;
    *out = pid;
    return 0;
}

/* The first line of `program --version` is "<name> v<version>". */
static int parse_version(const char *text, char *buf, size_t len)
{
    const char *sp = strchr(text, ' '), *end;
    if (!sp)
        return -EPROTO;
    sp++;
    if (*sp == 'v')
        sp++;
    for (end = sp; *end && *end != '\n' && *end != ' ' && *end != '\r'; end++)
        ;
    if (end == sp || (size_t)(end - sp) >= len)
        return -EPROTO;
    memcpy(buf, sp, (size_t)(end - sp));
    buf[end - sp] = '\0';
    return 0;
}

int wg_userspace_version(const char *program, char *buf, size_t len)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    char *argv[] = {(char *)program, (char *)"--version", NULL};
    char out[512];
    size_t got = 0;
    long long deadline = now_ms() + START_TIMEOUT_MS;
    int fds[2], r, st;
    pid_t pid = 0, w;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    r = posix_spawn_file_actions_init(&fa);
    if (r == 0 && (r = posix_spawnattr_init(&attr)) != 0)
        posix_spawn_file_actions_destroy(&fa);
    if (r) {
        close(fds[0]);
        close(fds[1]);
        return -r;
    }
    r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    if (!r)
        r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (!r)
        r = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!r)
        r = posix_spawnp(&pid, program, &fa, &attr, argv, (char *const *)wg_child_env());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (r) {
        close(fds[0]);
        return r == ENOENT ? -ENOENT : -r;
    }
    /* Read until EOF or the deadline; a program that hangs is killed. */
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    for (;;) {
        ssize_t n = read(fds[0], out + got, sizeof(out) - 1 - got);
        if (n > 0) {
            got += (size_t)n;
            if (got == sizeof(out) - 1)
                break;
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            r = -ETIMEDOUT;
            break;
        }
        sleep_ms(POLL_STEP_MS);
    }
    close(fds[0]);
    out[got] = '\0';
    /* Reap it: until the deadline it may exit by itself, then it is killed. */
    while ((w = waitpid(pid, &st, WNOHANG)) == 0 && now_ms() < deadline)
        sleep_ms(POLL_STEP_MS);
    if (w == 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    if (r < 0)
        return r;
    return parse_version(out, buf, len);
}

static void us_free(struct wg_backend *b)
{
    struct userspace *u = to_userspace(b);
    if (!u)
        return;
    for (size_t i = 0; i < u->n_procs; i++) {
        char path[SOCK_PATH_MAX];
        if (u->procs[i].pid <= 0)
            continue;
        stop_child(u->procs[i].pid);
        if (wg_uapi_sock_path(u->sock_dir, u->procs[i].name, path, sizeof(path)) == 0)
            unlink(path);
    }
    pthread_mutex_destroy(&u->lock);
    free(u->procs);
    free(u->program);
    free(u->sock_dir);
    free(u);
}

static const struct wg_backend_ops userspace_ops = {
    .name = "userspace",
    .link_add = us_link_add,
    .link_del = us_link_del,
    .exists = us_exists,
    .get = us_get,
    .set = us_set,
    .free = us_free,
    .pid = us_pid,
};

int wg_backend_userspace_new(const char *program, const char *sock_dir, struct wg_backend **out)
{
    struct userspace *u;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if ((program && !*program) || (sock_dir && !*sock_dir))
        return -EINVAL;
    u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->base.ops = &userspace_ops;
    u->program = strdup(program ? program : DEFAULT_PROGRAM);
    u->sock_dir = strdup(sock_dir ? sock_dir : WG_UAPI_DEFAULT_SOCK_DIR);
    if (!u->program || !u->sock_dir || pthread_mutex_init(&u->lock, NULL) != 0) {
        free(u->program);
        free(u->sock_dir);
        free(u);
        return -ENOMEM;
    }
    *out = &u->base;
    return 0;
}
