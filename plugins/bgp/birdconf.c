/* plugins/bgp/birdconf: the BIRD include file, from validated values only.
 *
 * The text is a BIRD configuration fragment, so anything copied into it is
 * code.  Each value is therefore parsed into its meaning first (an address
 * through inet_pton, a number as a number) and what is written is our own
 * rendering of that meaning, never the caller's bytes; the few free-text
 * values (password, description, interface) are checked against a
 * whitelist that cannot end a string. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "birdconf.h"

/* Room for "ffff:...:ffff/128" or an IPv4 prefix, with the NUL. */
#define PFX_STRLEN (INET6_ADDRSTRLEN + 4)

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* A growing string                                                    */

struct buf {
    char *s;
    size_t len, cap;
    int err; /* first failure; later appends are no-ops */
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->err)
        return;
    for (;;) {
        size_t room = b->cap - b->len;

        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->err = -EINVAL;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t ncap = b->cap ? b->cap * 2 : 4096;
            char *ns;

            while (ncap - b->len <= (size_t)n)
                ncap *= 2;
            ns = realloc(b->s, ncap);
            if (!ns) {
                b->err = -ENOMEM;
                return;
            }
            b->s = ns;
            b->cap = ncap;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

static int check_name(const char *s)
{
    size_t i, n = s ? strlen(s) : 0;

    if (n == 0 || n > BIRDCONF_NAME_MAX)
        return -EINVAL;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return -EINVAL;
    return 0;
}

/* Text that goes between double quotes.  BIRD strings end at the next '"'
 * or newline and have no escapes; '\\' is refused too so that a BIRD that
 * grows escapes cannot read the text differently. */
static int check_text(const char *s, size_t max, bool allow_high)
{
    size_t i, n = strlen(s);

    if (n > max)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f || (c >= 0x80 && !allow_high))
            return -EINVAL;
    }
    return 0;
}

static int check_iface(const char *s)
{
    size_t i, n = strlen(s);

    /* IFNAMSIZ - 1 */
    if (n == 0 || n > 15)
        return -EINVAL;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-' || s[i] == '.'))
            return -EINVAL;
    return 0;
}

/* An address: its family and our own rendering of it.  IPv4-mapped and
 * other dotted IPv6 forms are refused: BIRD's lexer does not take them. */
static int parse_addr(const char *s, int *family, unsigned char bin[16], char out[INET6_ADDRSTRLEN])
{
    if (!s || strlen(s) >= INET6_ADDRSTRLEN)
        return -EINVAL;
    if (inet_pton(AF_INET, s, bin) == 1)
        *family = AF_INET;
    else if (strchr(s, ':') && inet_pton(AF_INET6, s, bin) == 1)
        *family = AF_INET6;
    else
        return -EINVAL;
    if (!inet_ntop(*family, bin, out, INET6_ADDRSTRLEN))
        return -EINVAL;
    if (*family == AF_INET6 && strchr(out, '.'))
        return -EINVAL;
    return 0;
}

int birdconf_parse_len(const char *s, unsigned max, unsigned *len)
{
    unsigned v = 0;
    size_t i;

    /* 1..3 digits, no sign, no leading zero, no space, nothing after */
    if (!s || !s[0] || strlen(s) > 3 || (s[0] == '0' && s[1]))
        return -EINVAL;
    for (i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > max)
        return -EINVAL;
    *len = v;
    return 0;
}

static int parse_prefix(const char *s, int *family, char out[PFX_STRLEN])
{
    char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t alen, i;
    unsigned len = 0, max;

    if (!slash)
        return -EINVAL;
    alen = (size_t)(slash - s);
    if (alen == 0 || alen >= sizeof(addr))
        return -EINVAL;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (parse_addr(addr, family, bin, text) < 0)
        return -EINVAL;
    max = *family == AF_INET ? 32 : 128;
    if (birdconf_parse_len(slash + 1, max, &len) < 0)
        return -EINVAL;
    /* Host bits must be zero: BIRD refuses them, and two spellings of one
     * network would otherwise be two different announcements. */
    for (i = 0; i < max / 8; i++) {
        unsigned bit0 = (unsigned)i * 8;
        unsigned char mask = bit0 >= len ? 0xff : bit0 + 8 <= len ? 0 : (unsigned char)(0xff >> (len - bit0));

        if (bin[i] & mask)
            return -EINVAL;
    }
    snprintf(out, PFX_STRLEN, "%s/%u", text, len);
    return 0;
}

/* "65000:1" → 65000, 1 */
int birdconf_parse_community(const char *s, unsigned *a, unsigned *b)
{
    unsigned v[2] = {0, 0};
    int k;

    if (!s)
        return -EINVAL;
    for (k = 0; k < 2; k++) {
        size_t i = 0;

        if (!(s[0] >= '0' && s[0] <= '9') || (s[0] == '0' && s[1] >= '0' && s[1] <= '9'))
            return -EINVAL;
        while (s[i] >= '0' && s[i] <= '9') {
            v[k] = v[k] * 10 + (unsigned)(s[i] - '0');
            if (v[k] > 65535)
                return -EINVAL;
            i++;
        }
        s += i;
        if (k == 0 && *s++ != ':')
            return -EINVAL;
    }
    if (*s)
        return -EINVAL;
    *a = v[0];
    *b = v[1];
    return 0;
}

int birdconf_session_check(const struct birdconf_session *s, char *err, size_t errlen)
{
    char text[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    int family;

    if (check_name(s->name) < 0) {
        set_err(err, errlen, "session name must be 1-%d characters of a-z, 0-9 and _", BIRDCONF_NAME_MAX);
        return -EINVAL;
    }
    if (parse_addr(s->neighbor, &family, bin, text) < 0) {
        set_err(err, errlen, "session %s: neighbor is not an IPv4 or IPv6 address", s->name);
        return -EINVAL;
    }
    if ((family == AF_INET && (bin[0] == 0 || bin[0] >= 224)) ||
        (family == AF_INET6 && (bin[0] == 0xff || !memcmp(bin, in6addr_any.s6_addr, 16)))) {
        set_err(err, errlen, "session %s: neighbor %s is not a unicast address", s->name, text);
        return -EINVAL;
    }
    if (s->iface && check_iface(s->iface) < 0) {
        set_err(err, errlen, "session %s: bad interface name", s->name);
        return -EINVAL;
    }
    if (family == AF_INET6 && bin[0] == 0xfe && (bin[1] & 0xc0) == 0x80 && !s->iface) {
        set_err(err, errlen, "session %s: a link-local neighbor needs an interface", s->name);
        return -EINVAL;
    }
    if (s->remote_as == 0 || s->local_as == 0) {
        set_err(err, errlen, "session %s: AS numbers must be 1-4294967295", s->name);
        return -EINVAL;
    }
    if ((s->hold_time && s->hold_time < 3) || s->hold_time > 65535) {
        set_err(err, errlen, "session %s: hold time must be 0 or 3-65535", s->name);
        return -EINVAL;
    }
    if (s->keepalive > 65535 || (s->keepalive && s->hold_time && s->keepalive > s->hold_time)) {
        set_err(err, errlen, "session %s: keepalive must be 0 or 1-65535 and at most the hold time", s->name);
        return -EINVAL;
    }
    if (s->connect_retry > 65535) {
        set_err(err, errlen, "session %s: connect retry must be 0-65535", s->name);
        return -EINVAL;
    }
    if (s->password && check_text(s->password, BIRDCONF_PASSWORD_MAX, false) < 0) {
        set_err(err, errlen,
                "session %s: password must be at most %d printable ASCII characters without '\"' or '\\'",
                s->name, BIRDCONF_PASSWORD_MAX);
        return -EINVAL;
    }
    if (s->description && check_text(s->description, BIRDCONF_DESCRIPTION_MAX, true) < 0) {
        set_err(err, errlen,
                "session %s: description must be at most %d bytes without '\"', '\\' or control characters",
                s->name, BIRDCONF_DESCRIPTION_MAX);
        return -EINVAL;
    }
    if (s->multihop_ttl > 255 || (s->multihop_ttl && !s->multihop)) {
        set_err(err, errlen, "session %s: multihop ttl must be 1-255 and needs multihop", s->name);
        return -EINVAL;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Generation                                                          */

/* An announcement, validated and rendered. */
struct ann {
    int family;
    char prefix[PFX_STRLEN];
    const char *session; /* NULL for all */
    size_t n_comm;
    unsigned (*comm)[2];
};

static bool ann_for(const struct ann *a, const char *session)
{
    return !a->session || strcmp(a->session, session) == 0;
}

/* The export filter of one channel of one session: only the static routes
 * of the matching wgm_announce protocol, and only the prefixes announced to
 * this session, each with the union of its communities. */
static void put_export(struct buf *b, const struct ann *v, size_t n, int family, const char *session)
{
    const char *src = family == AF_INET ? "wgm_announce4" : "wgm_announce6";
    size_t i, j, k;
    bool any = false;

    for (i = 0; i < n && !any; i++)
        any = v[i].family == family && ann_for(&v[i], session);
    if (!any) {
        put(b, "\t\texport none;\n");
        return;
    }
    put(b, "\t\texport filter {\n");
    put(b, "\t\t\tif proto != \"%s\" then reject;\n", src);
    for (i = 0; i < n; i++) {
        bool first = true;

        if (v[i].family != family || !ann_for(&v[i], session))
            continue;
        /* Only the first mention of a prefix opens its block. */
        for (j = 0; j < i && first; j++)
            if (v[j].family == family && ann_for(&v[j], session) && strcmp(v[j].prefix, v[i].prefix) == 0)
                first = false;
        if (!first)
            continue;
        put(b, "\t\t\tif net = %s then {\n", v[i].prefix);
        for (j = i; j < n; j++) {
            if (v[j].family != family || !ann_for(&v[j], session) || strcmp(v[j].prefix, v[i].prefix) != 0)
                continue;
            for (k = 0; k < v[j].n_comm; k++)
                put(b, "\t\t\t\tbgp_community.add((%u,%u));\n", v[j].comm[k][0], v[j].comm[k][1]);
        }
        put(b, "\t\t\t\taccept;\n\t\t\t}\n");
    }
    put(b, "\t\t\treject;\n\t\t};\n");
}

static void put_static(struct buf *b, const struct ann *v, size_t n, int family)
{
    size_t i, j;

    put(b, "protocol static %s {\n\t%s;\n", family == AF_INET ? "wgm_announce4" : "wgm_announce6",
        family == AF_INET ? "ipv4" : "ipv6");
    for (i = 0; i < n; i++) {
        bool dup = false;

        if (v[i].family != family)
            continue;
        for (j = 0; j < i && !dup; j++)
            dup = strcmp(v[j].prefix, v[i].prefix) == 0;
        /* Blackhole: the announcement is an aggregate; more specific
         * routes (the WireGuard peers') still win locally. */
        if (!dup)
            put(b, "\troute %s blackhole;\n", v[i].prefix);
    }
    put(b, "}\n\n");
}

static void put_session(struct buf *b, const struct birdconf_session *s, const struct ann *v, size_t n)
{
    char text[INET6_ADDRSTRLEN];
    unsigned char bin[16];
    int family;

    /* Validated already; this only renders. */
    parse_addr(s->neighbor, &family, bin, text);
    put(b, "protocol bgp wgm_%s {\n", s->name);
    if (s->description && *s->description)
        put(b, "\tdescription \"%s\";\n", s->description);
    put(b, "\tlocal as %u;\n", s->local_as);
    put(b, "\tneighbor %s as %u;\n", text, s->remote_as);
    if (s->iface)
        put(b, "\tinterface \"%s\";\n", s->iface);
    if (s->hold_time)
        put(b, "\thold time %u;\n", s->hold_time);
    if (s->keepalive)
        put(b, "\tkeepalive time %u;\n", s->keepalive);
    if (s->connect_retry)
        put(b, "\tconnect retry time %u;\n", s->connect_retry);
    if (s->password && *s->password)
        put(b, "\tpassword \"%s\";\n", s->password);
    if (s->multihop && s->multihop_ttl)
        put(b, "\tmultihop %u;\n", s->multihop_ttl);
    else if (s->multihop)
        put(b, "\tmultihop;\n");
    if (s->ttl_security)
        put(b, "\tttl security on;\n");
    if (!s->enabled)
        put(b, "\tdisabled;\n");
    put(b, "\tipv4 {\n");
    /* IPv4 over an IPv6 session needs RFC 8950 next hops. */
    if (family == AF_INET6)
        put(b, "\t\textended next hop on;\n");
    put(b, "\t\timport all;\n");
    put_export(b, v, n, AF_INET, s->name);
    put(b, "\t};\n\tipv6 {\n\t\timport all;\n");
    put_export(b, v, n, AF_INET6, s->name);
    put(b, "\t};\n}\n\n");
}

int birdconf_generate(const struct birdconf_session *sessions, size_t n_sessions,
                      const struct birdconf_announcement *ann, size_t n_ann, char **out, char *err,
                      size_t errlen)
{
    struct ann *v = NULL;
    struct buf b = {0};
    size_t i, j, n_comm = 0;
    unsigned (*comm)[2] = NULL;
    int r;

    *out = NULL;
    for (i = 0; i < n_sessions; i++) {
        r = birdconf_session_check(&sessions[i], err, errlen);
        if (r < 0)
            goto out;
        for (j = 0; j < i; j++)
            if (strcmp(sessions[j].name, sessions[i].name) == 0) {
                set_err(err, errlen, "session %s is defined twice", sessions[i].name);
                r = -EEXIST;
                goto out;
            }
    }
    for (i = 0; i < n_ann; i++) {
        if (ann[i].n_communities > 1024 || (ann[i].n_communities && !ann[i].communities)) {
            set_err(err, errlen, "announcement %zu: too many communities", i);
            r = -EINVAL;
            goto out;
        }
        n_comm += ann[i].n_communities;
    }
    v = calloc(n_ann ? n_ann : 1, sizeof(*v));
    comm = calloc(n_comm ? n_comm : 1, sizeof(*comm));
    if (!v || !comm) {
        r = -ENOMEM;
        goto out;
    }
    n_comm = 0;
    for (i = 0; i < n_ann; i++) {
        if (parse_prefix(ann[i].prefix, &v[i].family, v[i].prefix) < 0) {
            set_err(err, errlen, "announcement %zu: not a network prefix (address/length, host bits zero)", i);
            r = -EINVAL;
            goto out;
        }
        if (ann[i].session) {
            for (j = 0; j < n_sessions; j++)
                if (strcmp(sessions[j].name, ann[i].session) == 0)
                    break;
            if (j == n_sessions) {
                set_err(err, errlen, "announcement %s: no such session", v[i].prefix);
                r = check_name(ann[i].session) < 0 ? -EINVAL : -ENOENT;
                goto out;
            }
            v[i].session = sessions[j].name;
        }
        v[i].comm = comm + n_comm;
        for (j = 0; j < ann[i].n_communities; j++) {
            if (birdconf_parse_community(ann[i].communities[j], &v[i].comm[j][0], &v[i].comm[j][1]) < 0) {
                set_err(err, errlen, "announcement %s: community %zu is not A:B with 0-65535 each", v[i].prefix,
                        j);
                r = -EINVAL;
                goto out;
            }
        }
        v[i].n_comm = ann[i].n_communities;
        n_comm += ann[i].n_communities;
    }

    put(&b, "# Generated by wgmd; rewritten on every BGP change.  Do not edit.\n\n");
    put_static(&b, v, n_ann, AF_INET);
    put_static(&b, v, n_ann, AF_INET6);
    for (i = 0; i < n_sessions; i++)
        put_session(&b, &sessions[i], v, n_ann);
    r = b.err;
    if (r < 0) {
        set_err(err, errlen, "out of memory");
        goto out;
    }
    *out = b.s;
    b.s = NULL;
out:
    free(b.s);
    free(comm);
    free(v);
    return r;
}

/* ------------------------------------------------------------------ */
/* bird -p -c FILE                                                     */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Read @fd until EOF or the deadline, keeping the first size-1 bytes.
 * 0 on EOF, -ETIMEDOUT, or -errno. */
static int drain(int fd, char *dst, size_t size, size_t *got, long long deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        char tmp[512];
        ssize_t n;
        int r;

        if (left <= 0)
            return -ETIMEDOUT;
        r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            continue;
        n = read(fd, tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        if (*got < size - 1) {
            size_t take = (size_t)n < size - 1 - *got ? (size_t)n : size - 1 - *got;

            memcpy(dst + *got, tmp, take);
            *got += take;
        }
    }
}

/* Wait for @pid until the deadline, then kill it.  The exit status. */
static int reap(pid_t pid, long long deadline, int *status)
{
    for (;;) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        pid_t w = waitpid(pid, status, WNOHANG);

        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
            return -ETIMEDOUT;
        }
        nanosleep(&ts, NULL);
    }
}

static char env_path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin", env_lang[] = "LANG=C";
char *const birdconf_child_env[] = {env_path, env_lang, NULL};

int birdconf_check(const char *bird_binary, const char *path, char *err, size_t errlen)
{
    long long deadline = now_ms() + BIRDCONF_CHECK_TIMEOUT_MS;
    char *argv[] = {(char *)bird_binary, (char *)"-p", (char *)"-c", (char *)path, NULL};
    int outp[2] = {-1, -1}, execp[2] = {-1, -1};
    char msg[1024], *line, *nl;
    size_t got = 0, eg = 0;
    int status = 0, child_errno = 0, r, devnull = -1;
    pid_t pid;

    if (err && errlen)
        err[0] = '\0';
    if (!bird_binary || !path || !*bird_binary || !*path)
        return -EINVAL;
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(execp, O_CLOEXEC) < 0) {
        r = -errno;
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        r = -errno;
        goto out;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls: the daemon is multi-threaded. */
        int e;

        if (dup2(devnull, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(outp[1], 2) < 0)
            _exit(127);
        execve(bird_binary, argv, birdconf_child_env);
        e = errno;
        if (write(execp[1], &e, sizeof(e)) < 0)
            _exit(127);
        _exit(127);
    }
    close_fd(&outp[1]);
    close_fd(&execp[1]);
    /* The exec pipe closes on a successful exec; an errno means it failed. */
    r = drain(execp[0], (char *)&child_errno, sizeof(child_errno) + 1, &eg, deadline);
    if (r == 0)
        r = drain(outp[0], msg, sizeof(msg), &got, deadline);
    msg[got] = '\0';
    {
        int rr = reap(pid, r == -ETIMEDOUT ? now_ms() : deadline, &status);

        if (r == 0)
            r = rr;
    }
    if (r < 0) {
        set_err(err, errlen, r == -ETIMEDOUT ? "bird -p did not finish in time" : "cannot run bird -p");
        goto out;
    }
    if (eg == sizeof(child_errno)) {
        r = child_errno > 0 ? -child_errno : -ENOEXEC;
        set_err(err, errlen, "cannot execute %s: %s", bird_binary, strerror(-r));
        goto out;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        r = 0;
        goto out;
    }
    /* "bird: FILE:LINE:COL message": the first line, without "bird: ". */
    line = msg;
    if (strncmp(line, "bird: ", 6) == 0)
        line += 6;
    nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
        set_err(err, errlen, "%s", *line ? line : "invalid configuration");
        r = -EINVAL;
    } else {
        set_err(err, errlen, "bird -p failed (status %d): %s", status, line);
        r = -EIO;
    }
out:
    close_fd(&devnull);
    close_fd(&outp[0]);
    close_fd(&outp[1]);
    close_fd(&execp[0]);
    close_fd(&execp[1]);
    return r;
}
