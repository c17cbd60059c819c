/* plugins/bgp/birdctl: talking to BIRD 2 over its control socket.
 *
 * The parser is the only part that sees raw socket bytes, so it is written
 * to accept anything: every buffer is bounded, a bad line poisons the
 * parser instead of being guessed at, and the output parsers only read the
 * already-split lines and copy into fixed-size fields. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "birdctl.h"

bool birdctl_reply_failed(const struct birdctl_reply *r)
{
    return r && r->code >= 8000;
}

const char *birdctl_reply_message(const struct birdctl_reply *r)
{
    if (!r || r->n_lines == 0)
        return "";
    return r->lines[r->n_lines - 1].text;
}

struct birdctl_reply *birdctl_reply_free(struct birdctl_reply *r)
{
    size_t i;

    if (!r)
        return NULL;
    for (i = 0; i < r->n_lines; i++)
        free(r->lines[i].text);
    free(r->lines);
    free(r);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Incremental parser                                                  */

struct birdctl_parser {
    char line[BIRDCTL_LINE_MAX];
    size_t len;                /* bytes of the partial line in line[] */
    struct birdctl_reply *cur; /* reply in progress, NULL between replies */
    size_t cap;                /* capacity of cur->lines */
    size_t bytes;              /* text bytes in cur */
    unsigned code;             /* code of the last coded line in cur */
    size_t async;
    int err;                   /* sticky: the stream is out of sync */
};

struct birdctl_parser *birdctl_parser_new(void)
{
    return calloc(1, sizeof(struct birdctl_parser));
}

void birdctl_parser_reset(struct birdctl_parser *p)
{
    p->cur = birdctl_reply_free(p->cur);
    p->len = 0;
    p->cap = 0;
    p->bytes = 0;
    p->code = 0;
    p->async = 0;
    p->err = 0;
}

struct birdctl_parser *birdctl_parser_free(struct birdctl_parser *p)
{
    if (!p)
        return NULL;
    birdctl_parser_reset(p);
    free(p);
    return NULL;
}

bool birdctl_parser_idle(const struct birdctl_parser *p)
{
    return !p->cur && p->len == 0;
}

size_t birdctl_parser_async(const struct birdctl_parser *p)
{
    return p->async;
}

static int append_line(struct birdctl_parser *p, unsigned code, const char *text, size_t len)
{
    struct birdctl_reply *r = p->cur;
    char *copy;

    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return -ENOMEM;
        p->cur = r;
        p->cap = 0;
        p->bytes = 0;
    }
    if (r->n_lines >= BIRDCTL_LINES_MAX || len > BIRDCTL_REPLY_MAX - p->bytes)
        return -EMSGSIZE;
    if (r->n_lines == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 16;
        struct birdctl_line *nl = realloc(r->lines, ncap * sizeof(*nl));

        if (!nl)
            return -ENOMEM;
        r->lines = nl;
        p->cap = ncap;
    }
    copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    r->lines[r->n_lines].code = code;
    r->lines[r->n_lines].text = copy;
    r->lines[r->n_lines].len = len;
    r->n_lines++;
    r->code = code;
    p->bytes += len;
    return 0;
}

/* One complete line (without its newline).  1 if it ended the reply. */
static int take_line(struct birdctl_parser *p, const char *s, size_t len)
{
    unsigned code;
    int r;

    /* Text goes into C strings; an embedded NUL is not BIRD talking. */
    if (memchr(s, '\0', len))
        return -EPROTO;
    if (len >= 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
        isdigit((unsigned char)s[2]) && isdigit((unsigned char)s[3]) && (s[4] == '-' || s[4] == ' ')) {
        code = (unsigned)(s[0] - '0') * 1000 + (unsigned)(s[1] - '0') * 100 + (unsigned)(s[2] - '0') * 10 +
               (unsigned)(s[3] - '0');
        r = append_line(p, code, s + 5, len - 5);
        if (r < 0)
            return r;
        p->code = code;
        return s[4] == ' ';
    }
    if (len >= 1 && s[0] == ' ') {
        /* A continuation needs a coded line before it in the same reply. */
        if (!p->cur)
            return -EPROTO;
        r = append_line(p, p->code, s + 1, len - 1);
        return r < 0 ? r : 0;
    }
    if (len >= 1 && s[0] == '+') {
        /* Asynchronous log line: not part of any reply, even mid-reply. */
        p->async++;
        return 0;
    }
    return -EPROTO;
}

int birdctl_parser_feed(struct birdctl_parser *p, const char *data, size_t n, size_t *used,
                        struct birdctl_reply **out)
{
    size_t i = 0;
    int r;

    *used = 0;
    *out = NULL;
    if (p->err)
        return p->err;
    while (i < n) {
        const char *nl = memchr(data + i, '\n', n - i);
        size_t chunk = nl ? (size_t)(nl - (data + i)) : n - i;
        const char *line;
        size_t len;

        if (chunk > BIRDCTL_LINE_MAX - p->len) {
            r = -EMSGSIZE;
            goto fail;
        }
        if (!nl) {
            memcpy(p->line + p->len, data + i, chunk);
            p->len += chunk;
            i = n;
            break;
        }
        if (p->len) {
            memcpy(p->line + p->len, data + i, chunk);
            line = p->line;
            len = p->len + chunk;
        } else {
            /* Whole line in the input: parse it in place, no copy. */
            line = data + i;
            len = chunk;
        }
        i += chunk + 1;
        p->len = 0;
        r = take_line(p, line, len);
        if (r < 0)
            goto fail;
        if (r == 1) {
            *out = p->cur;
            p->cur = NULL;
            p->code = 0;
            *used = i;
            return 1;
        }
    }
    *used = i;
    return 0;
fail:
    p->err = r;
    *used = i;
    return r;
}

/* ------------------------------------------------------------------ */
/* Client                                                              */

struct birdctl_conn {
    int fd;
    struct birdctl_parser *parser;
    char buf[4096];
    size_t off, len; /* unparsed bytes read past the last reply */
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for @events until @deadline (monotonic ms).  0 or -ETIMEDOUT/-errno. */
static int wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        long long left = deadline - now_ms();
        int r;

        if (left <= 0)
            return -ETIMEDOUT;
        r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r > 0)
            return 0;
    }
}

/* Read until the parser yields a reply. */
static int read_reply(struct birdctl_conn *c, long long deadline, struct birdctl_reply **out)
{
    for (;;) {
        ssize_t got;
        int r;

        if (c->len > c->off) {
            size_t used;

            r = birdctl_parser_feed(c->parser, c->buf + c->off, c->len - c->off, &used, out);
            c->off += used;
            if (r != 0)
                return r < 0 ? r : 0;
        }
        c->off = c->len = 0;
        r = wait_fd(c->fd, POLLIN, deadline);
        if (r < 0)
            return r;
        got = recv(c->fd, c->buf, sizeof(c->buf), 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return -ECONNRESET;
        c->len = (size_t)got;
    }
}

static int send_all(int fd, const char *s, size_t n, long long deadline)
{
    while (n > 0) {
        /* MSG_NOSIGNAL: a BIRD that went away must not kill the daemon. */
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        int r;

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            r = wait_fd(fd, POLLOUT, deadline);
            if (r < 0)
                return r;
            continue;
        }
        if (w < 0)
            return -errno;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

struct birdctl_conn *birdctl_close(struct birdctl_conn *c)
{
    if (!c)
        return NULL;
    if (c->fd >= 0)
        close(c->fd);
    birdctl_parser_free(c->parser);
    free(c);
    return NULL;
}

static int open_until(const char *path, long long deadline, struct birdctl_conn **out)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct birdctl_conn *c = NULL;
    struct birdctl_reply *greeting = NULL;
    size_t plen = strlen(path);
    int r;

    *out = NULL;
    if (plen == 0)
        return -EINVAL;
    if (plen >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, plen);
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->parser = birdctl_parser_new();
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (!c->parser || c->fd < 0) {
        r = c->parser ? -errno : -ENOMEM;
        goto out;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if (errno != EINPROGRESS && errno != EAGAIN) {
            r = -errno;
            goto out;
        }
        r = wait_fd(c->fd, POLLOUT, deadline);
        if (r < 0)
            goto out;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            r = soerr ? -soerr : -errno;
            goto out;
        }
    }
    r = read_reply(c, deadline, &greeting);
    if (r < 0)
        goto out;
    if (greeting->code != 1) {
        r = -EPROTO;
        goto out;
    }
    *out = c;
    c = NULL;
    r = 0;
out:
    birdctl_reply_free(greeting);
    birdctl_close(c);
    return r;
}

static long long deadline_of(int timeout_ms)
{
    return now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
}

int birdctl_open(const char *path, int timeout_ms, struct birdctl_conn **out)
{
    return open_until(path, deadline_of(timeout_ms), out);
}

static int cmd_until(struct birdctl_conn *c, const char *cmd, long long deadline, struct birdctl_reply **out)
{
    size_t len = strlen(cmd);
    char *line;
    size_t i;
    int r;

    *out = NULL;
    if (len == 0 || len > BIRDCTL_CMD_MAX)
        return -EINVAL;
    /* One command per line: a newline would smuggle in a second one. */
    for (i = 0; i < len; i++)
        if ((unsigned char)cmd[i] < 0x20 || cmd[i] == 0x7f)
            return -EINVAL;
    line = malloc(len + 1);
    if (!line)
        return -ENOMEM;
    memcpy(line, cmd, len);
    line[len] = '\n';
    r = send_all(c->fd, line, len + 1, deadline);
    free(line);
    if (r < 0)
        return r;
    r = read_reply(c, deadline, out);
    if (r < 0)
        return r;
    return birdctl_reply_failed(*out) ? -EREMOTEIO : 0;
}

int birdctl_cmd(struct birdctl_conn *c, const char *cmd, int timeout_ms, struct birdctl_reply **out)
{
    return cmd_until(c, cmd, deadline_of(timeout_ms), out);
}

int birdctl_run(const char *path, const char *cmd, int timeout_ms, struct birdctl_reply **out)
{
    long long deadline = deadline_of(timeout_ms);
    struct birdctl_conn *c = NULL;
    int r;

    *out = NULL;
    r = open_until(path, deadline, &c);
    if (r < 0)
        return r;
    r = cmd_until(c, cmd, deadline, out);
    birdctl_close(c);
    return r;
}

int birdctl_peer_pid(const struct birdctl_conn *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (!c || getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
        return 0;
    return cred.pid > 0 ? (int)cred.pid : 0;
}

/* ------------------------------------------------------------------ */
/* Output parsers: helpers                                             */

/* Copy at most @n bytes of @s into @dst[size], truncating. */
static void copy_n(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void copy_trim(char *dst, size_t size, const char *s)
{
    size_t n;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    copy_n(dst, size, s, n);
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Next whitespace-separated token of *@s: its start and length. */
static size_t next_token(const char **s, const char **tok)
{
    const char *p = skip_ws(*s), *e = p;

    while (*e && *e != ' ' && *e != '\t')
        e++;
    *tok = p;
    *s = e;
    return (size_t)(e - p);
}

/* An unsigned decimal of at most 19 digits, the whole of [s, s+n). */
static int parse_num(const char *s, size_t n, long long *v)
{
    long long x = 0;
    size_t i;

    if (n == 0 || n > 18)
        return -EINVAL;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -EINVAL;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

/* A number or "---" as the next token. */
static int parse_count_tok(const char **s, long long *v)
{
    const char *tok;
    size_t n = next_token(s, &tok);

    if (n == 3 && memcmp(tok, "---", 3) == 0) {
        *v = BIRDCTL_NA;
        return 0;
    }
    return parse_num(tok, n, v);
}

/* If @s (after leading blanks) starts with @key, the value after it, trimmed
 * of leading blanks; else NULL. */
static const char *field(const char *s, const char *key)
{
    size_t kl = strlen(key);

    if (strncmp(s, key, kl) != 0)
        return NULL;
    return skip_ws(s + kl);
}

static bool is_date(const char *s, size_t n)
{
    return n == 10 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[3]) && s[4] == '-' &&
           s[7] == '-' && isdigit((unsigned char)s[9]);
}

static bool is_clock(const char *s, size_t n)
{
    return n >= 8 && isdigit((unsigned char)s[0]) && s[2] == ':' && s[5] == ':';
}

/* ------------------------------------------------------------------ */
/* show protocols [all]                                                */

static const char *const bgp_states[] = {
    "Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close", "Down", "Passive",
};

static bool is_bgp_state(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < sizeof(bgp_states) / sizeof(bgp_states[0]); i++)
        if (strlen(bgp_states[i]) == n && memcmp(bgp_states[i], s, n) == 0)
            return true;
    return false;
}

/* "name proto table state since  info" in fixed widths; a long-format
 * since ("2026-11-29 20:03:59") holds a space, so fields are split on
 * blanks and a date followed by a clock is taken as one since. */
static void parse_proto_row(const char *s, struct birdctl_protocol *p)
{
    const char *tok, *save;
    size_t n;

    n = next_token(&s, &tok);
    copy_n(p->name, sizeof(p->name), tok, n);
    n = next_token(&s, &tok);
    copy_n(p->proto, sizeof(p->proto), tok, n);
    n = next_token(&s, &tok);
    copy_n(p->table, sizeof(p->table), tok, n);
    n = next_token(&s, &tok);
    copy_n(p->state, sizeof(p->state), tok, n);
    n = next_token(&s, &tok);
    if (is_date(tok, n)) {
        const char *t2;
        size_t n2;

        save = s;
        n2 = next_token(&s, &t2);
        if (is_clock(t2, n2))
            n = (size_t)(t2 + n2 - tok);
        else
            s = save;
    }
    copy_n(p->since, sizeof(p->since), tok, n);
    copy_trim(p->info, sizeof(p->info), s);
    if (strcmp(p->proto, "BGP") == 0) {
        const char *is = p->info;

        n = next_token(&is, &tok);
        if (is_bgp_state(tok, n)) {
            copy_n(p->bgp_state, sizeof(p->bgp_state), tok, n);
            copy_trim(p->last_error, sizeof(p->last_error), is);
        } else {
            /* A down BGP protocol shows only its last error. */
            copy_trim(p->last_error, sizeof(p->last_error), p->info);
        }
    }
}

/* "81.070/90" → 90. */
static int negotiated(const char *v)
{
    const char *slash = strchr(v, '/');
    long long x;
    size_t n;

    if (!slash)
        return -1;
    slash++;
    n = strspn(slash, "0123456789");
    if (parse_num(slash, n, &x) < 0 || x > INT_MAX)
        return -1;
    return (int)x;
}

static uint32_t parse_as(const char *v)
{
    long long x;

    if (parse_num(v, strspn(v, "0123456789"), &x) < 0 || x > UINT32_MAX)
        return 0;
    return (uint32_t)x;
}

/* "1 imported, 0 filtered, 2 exported, 1 preferred" */
static void parse_routes_line(const char *v, struct birdctl_channel *ch)
{
    while (*v) {
        const char *tok;
        long long x;
        size_t n = next_token(&v, &tok);

        if (n == 0)
            break;
        if (parse_num(tok, n, &x) < 0)
            continue;
        n = next_token(&v, &tok);
        if (n && tok[n - 1] == ',')
            n--;
        if (n == 8 && memcmp(tok, "imported", 8) == 0)
            ch->imported = x;
        else if (n == 8 && memcmp(tok, "filtered", 8) == 0)
            ch->filtered = x;
        else if (n == 8 && memcmp(tok, "exported", 8) == 0)
            ch->exported = x;
        else if (n == 9 && memcmp(tok, "preferred", 9) == 0)
            ch->preferred = x;
    }
}

static void parse_stats_row(const char *v, struct birdctl_stats_row *row)
{
    struct birdctl_stats_row t;

    if (parse_count_tok(&v, &t.received) < 0 || parse_count_tok(&v, &t.rejected) < 0 ||
        parse_count_tok(&v, &t.filtered) < 0 || parse_count_tok(&v, &t.ignored) < 0 ||
        parse_count_tok(&v, &t.accepted) < 0)
        return;
    *row = t;
}

static void init_row(struct birdctl_stats_row *r)
{
    r->received = r->rejected = r->filtered = r->ignored = r->accepted = BIRDCTL_NA;
}

static bool channel_field(const char *s, struct birdctl_channel *ch)
{
    const char *v;

    if ((v = field(s, "State:")))
        copy_trim(ch->state, sizeof(ch->state), v);
    else if ((v = field(s, "Table:")))
        copy_trim(ch->table, sizeof(ch->table), v);
    else if ((v = field(s, "Routes:")))
        parse_routes_line(v, ch);
    else if ((v = field(s, "Import updates:")))
        parse_stats_row(v, &ch->import_updates);
    else if ((v = field(s, "Import withdraws:")))
        parse_stats_row(v, &ch->import_withdraws);
    else if ((v = field(s, "Export updates:")))
        parse_stats_row(v, &ch->export_updates);
    else if ((v = field(s, "Export withdraws:")))
        parse_stats_row(v, &ch->export_withdraws);
    else
        return false;
    return true;
}

static void proto_field(const char *s, struct birdctl_protocol *p)
{
    const char *v;

    if ((v = field(s, "Description:")))
        copy_trim(p->description, sizeof(p->description), v);
    else if ((v = field(s, "Message:")))
        copy_trim(p->message, sizeof(p->message), v);
    else if ((v = field(s, "BGP state:")))
        copy_trim(p->bgp_state, sizeof(p->bgp_state), v);
    else if ((v = field(s, "Neighbor address:")))
        copy_trim(p->neighbor, sizeof(p->neighbor), v);
    else if ((v = field(s, "Neighbor range:")))
        copy_trim(p->neighbor, sizeof(p->neighbor), v);
    else if ((v = field(s, "Neighbor AS:")))
        p->neighbor_as = parse_as(v);
    else if ((v = field(s, "Local AS:")))
        p->local_as = parse_as(v);
    else if ((v = field(s, "Neighbor ID:")))
        copy_trim(p->neighbor_id, sizeof(p->neighbor_id), v);
    else if ((v = field(s, "Session:")))
        copy_trim(p->session, sizeof(p->session), v);
    else if ((v = field(s, "Source address:")))
        copy_trim(p->source, sizeof(p->source), v);
    else if ((v = field(s, "Hold timer:")))
        p->hold_time = negotiated(v);
    else if ((v = field(s, "Keepalive timer:")))
        p->keepalive = negotiated(v);
    else if ((v = field(s, "Last error:")))
        copy_trim(p->last_error, sizeof(p->last_error), v);
}

static void init_channel(struct birdctl_channel *ch, const char *name)
{
    memset(ch, 0, sizeof(*ch));
    copy_trim(ch->name, sizeof(ch->name), name);
    ch->imported = ch->filtered = ch->exported = ch->preferred = BIRDCTL_NA;
    init_row(&ch->import_updates);
    init_row(&ch->import_withdraws);
    init_row(&ch->export_updates);
    init_row(&ch->export_withdraws);
}

int birdctl_parse_protocols(const struct birdctl_reply *r, struct birdctl_protocol **out, size_t *n)
{
    struct birdctl_protocol *v = NULL, *p = NULL;
    struct birdctl_channel *ch = NULL;
    size_t cnt = 0, cap = 0, i;
    int ret;

    *out = NULL;
    *n = 0;
    if (birdctl_reply_failed(r))
        return -EREMOTEIO;
    for (i = 0; i < r->n_lines; i++) {
        const struct birdctl_line *l = &r->lines[i];
        const char *s, *val;

        if (l->code == 1002) {
            if (cnt == BIRDCTL_PROTOCOLS_MAX) {
                ret = -EMSGSIZE;
                goto fail;
            }
            if (cnt == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                struct birdctl_protocol *nv = realloc(v, ncap * sizeof(*nv));

                if (!nv) {
                    ret = -ENOMEM;
                    goto fail;
                }
                v = nv;
                cap = ncap;
            }
            p = &v[cnt++];
            memset(p, 0, sizeof(*p));
            p->hold_time = p->keepalive = -1;
            ch = NULL;
            parse_proto_row(l->text, p);
            continue;
        }
        if (l->code != 1006)
            continue;
        if (!p) {
            ret = -EPROTO;
            goto fail;
        }
        s = skip_ws(l->text);
        if ((val = field(s, "Channel ")) && *val) {
            if (p->n_channels < BIRDCTL_CHANNELS_MAX) {
                ch = &p->channels[p->n_channels++];
                init_channel(ch, val);
            } else {
                ch = NULL;
            }
            continue;
        }
        if (ch && channel_field(s, ch))
            continue;
        proto_field(s, p);
    }
    *out = v;
    *n = cnt;
    return 0;
fail:
    free(v);
    return ret;
}

/* "HH:MM:SS[.fff]" and nothing else: 0 or -EINVAL. */
static int check_clock(const char *s)
{
    if (!(isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) && s[2] == ':' &&
          isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) && s[5] == ':' &&
          isdigit((unsigned char)s[6]) && isdigit((unsigned char)s[7])))
        return -EINVAL;
    s += 8;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        s += strspn(s, "0123456789");
    }
    return *s ? -EINVAL : 0;
}

static int clock_fields(const char *s, int *h, int *m, int *sec)
{
    int r = check_clock(s);

    if (r < 0)
        return r;
    *h = (s[0] - '0') * 10 + (s[1] - '0');
    *m = (s[3] - '0') * 10 + (s[4] - '0');
    *sec = (s[6] - '0') * 10 + (s[7] - '0');
    return *h < 24 && *m < 60 && *sec < 61 ? 0 : -EINVAL;
}

int birdctl_since_age(const char *since, time_t now, long long *secs)
{
    struct tm tm;
    time_t t;
    int h = 0, m = 0, s = 0;

    if (!localtime_r(&now, &tm))
        return -EINVAL;
    if (is_date(since, strnlen(since, 10)) && (since[10] == '\0' || since[10] == ' ')) {
        long long y, mo, d;

        if (parse_num(since, 4, &y) < 0 || parse_num(since + 5, 2, &mo) < 0 ||
            parse_num(since + 8, 2, &d) < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1970)
            return -EINVAL;
        if (since[10] == ' ' && clock_fields(since + 11, &h, &m, &s) < 0)
            return -EINVAL;
        tm.tm_year = (int)y - 1900;
        tm.tm_mon = (int)mo - 1;
        tm.tm_mday = (int)d;
    } else if (clock_fields(since, &h, &m, &s) < 0) {
        return -EINVAL;
    }
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    t = mktime(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    /* A bare clock is today's; in the future it must be yesterday's. */
    if (t > now && !isdigit((unsigned char)since[2]))
        t -= 86400;
    *secs = t > now ? 0 : (long long)(now - t);
    return 0;
}

/* ------------------------------------------------------------------ */
/* show route [all]                                                    */

/* "PREFIX TYPE [PROTO SINCE[ from X]] * (PREF) [ASnnnX]", the prefix
 * blank for a second route to the same network. */
static int parse_route_line(const char *s, struct birdctl_route *rt, const struct birdctl_route *prev)
{
    const char *tok, *lb, *rb, *q;
    size_t n;

    if (*s == ' ' || *s == '\t') {
        if (!prev)
            return -EPROTO;
        copy_n(rt->prefix, sizeof(rt->prefix), prev->prefix, strlen(prev->prefix));
    } else {
        n = next_token(&s, &tok);
        copy_n(rt->prefix, sizeof(rt->prefix), tok, n);
    }
    n = next_token(&s, &tok);
    if (n == 0 || *tok == '[')
        return -EPROTO;
    copy_n(rt->type, sizeof(rt->type), tok, n);
    lb = strchr(s, '[');
    rb = lb ? strchr(lb, ']') : NULL;
    if (!rb)
        return -EPROTO;
    /* Inside the brackets: proto, since (maybe with a space), "from X". */
    q = lb + 1;
    {
        const char *end = rb, *from = NULL, *f;

        for (f = q; f + 6 <= end; f++)
            if (memcmp(f, " from ", 6) == 0) {
                from = f;
                break;
            }
        n = strcspn(q, " ]");
        copy_n(rt->proto, sizeof(rt->proto), q, n);
        q += n;
        if (from) {
            copy_n(rt->from, sizeof(rt->from), from + 6, (size_t)(end - (from + 6)));
            end = from;
        }
        while (q < end && *q == ' ')
            q++;
        copy_n(rt->since, sizeof(rt->since), q, q < end ? (size_t)(end - q) : 0);
    }
    s = rb + 1;
    while (*s) {
        n = next_token(&s, &tok);
        if (n == 0)
            break;
        if (n == 1 && *tok == '*') {
            rt->primary = true;
        } else if (n >= 3 && tok[0] == '(' && tok[n - 1] == ')') {
            long long x;

            if (parse_num(tok + 1, n - 2, &x) == 0 && x <= INT_MAX)
                rt->pref = (int)x;
        } else if (n >= 5 && memcmp(tok, "[AS", 3) == 0 && tok[n - 1] == ']') {
            char o = tok[n - 2];

            if (o == 'i')
                copy_n(rt->origin, sizeof(rt->origin), "igp", 3);
            else if (o == 'e')
                copy_n(rt->origin, sizeof(rt->origin), "egp", 3);
            else if (o == '?')
                copy_n(rt->origin, sizeof(rt->origin), "incomplete", 10);
        }
    }
    return 0;
}

/* "\tvia IP on IFACE ..." or "\tdev IFACE"; only the first hop is kept. */
static void parse_hop(const char *s, struct birdctl_route *rt)
{
    const char *tok;
    size_t n;

    if (rt->next_hop[0] || rt->iface[0])
        return;
    n = next_token(&s, &tok);
    if (n == 3 && memcmp(tok, "via", 3) == 0) {
        n = next_token(&s, &tok);
        copy_n(rt->next_hop, sizeof(rt->next_hop), tok, n);
        n = next_token(&s, &tok);
        if (n == 2 && memcmp(tok, "on", 2) == 0) {
            n = next_token(&s, &tok);
            copy_n(rt->iface, sizeof(rt->iface), tok, n);
        }
    } else if (n == 3 && memcmp(tok, "dev", 3) == 0) {
        n = next_token(&s, &tok);
        copy_n(rt->iface, sizeof(rt->iface), tok, n);
    }
}

/* "(65000,1) (65000,2)" */
static void parse_communities(const char *s, struct birdctl_route *rt)
{
    while (*s && rt->n_communities < BIRDCTL_COMMUNITIES_MAX) {
        long long a, b;
        size_t na, nb;

        s = strchr(s, '(');
        if (!s)
            break;
        s++;
        na = strspn(s, "0123456789");
        if (parse_num(s, na, &a) < 0 || s[na] != ',')
            continue;
        s += na + 1;
        s = skip_ws(s);
        nb = strspn(s, "0123456789");
        if (parse_num(s, nb, &b) < 0 || s[nb] != ')' || a > 65535 || b > 65535)
            continue;
        s += nb + 1;
        rt->communities[rt->n_communities++] = (uint32_t)a << 16 | (uint32_t)b;
    }
}

static void parse_attr(const char *s, struct birdctl_route *rt)
{
    const char *v;
    long long x;

    if ((v = field(s, "BGP.origin:"))) {
        if (strncmp(v, "IGP", 3) == 0)
            copy_n(rt->origin, sizeof(rt->origin), "igp", 3);
        else if (strncmp(v, "EGP", 3) == 0)
            copy_n(rt->origin, sizeof(rt->origin), "egp", 3);
        else if (strncmp(v, "Incomplete", 10) == 0)
            copy_n(rt->origin, sizeof(rt->origin), "incomplete", 10);
    } else if ((v = field(s, "BGP.as_path:"))) {
        copy_trim(rt->as_path, sizeof(rt->as_path), v);
    } else if ((v = field(s, "BGP.next_hop:"))) {
        copy_trim(rt->bgp_next_hop, sizeof(rt->bgp_next_hop), v);
    } else if ((v = field(s, "BGP.local_pref:"))) {
        if (parse_num(v, strspn(v, "0123456789"), &x) == 0)
            rt->local_pref = x;
    } else if ((v = field(s, "BGP.med:"))) {
        if (parse_num(v, strspn(v, "0123456789"), &x) == 0)
            rt->med = x;
    } else if ((v = field(s, "BGP.community:"))) {
        parse_communities(v, rt);
    }
}

int birdctl_parse_routes(const struct birdctl_reply *r, struct birdctl_route **out, size_t *n)
{
    struct birdctl_route *v = NULL;
    bool in_route = false; /* v[cnt - 1] takes hop and attribute lines */
    char table[64] = "";
    size_t cnt = 0, cap = 0, i;
    int ret;

    *out = NULL;
    *n = 0;
    if (r->code == 8001)
        return 0;
    if (birdctl_reply_failed(r))
        return -EREMOTEIO;
    for (i = 0; i < r->n_lines; i++) {
        const struct birdctl_line *l = &r->lines[i];
        const char *s = l->text, *val;

        if (l->code != 1007 && l->code != 1008 && l->code != 1012)
            continue;
        if (*s == '\t') {
            /* A next hop or an attribute of the route before it. */
            if (!in_route)
                continue;
            if (l->code == 1007)
                parse_hop(s + 1, &v[cnt - 1]);
            else
                parse_attr(s + 1, &v[cnt - 1]);
            continue;
        }
        if (l->code != 1007)
            continue;
        if (*skip_ws(s) == '\0') {
            /* Tables are separated by an empty line. */
            in_route = false;
            continue;
        }
        if ((val = field(s, "Table ")) && *val) {
            size_t tl = strcspn(val, ":");

            copy_n(table, sizeof(table), val, tl);
            in_route = false;
            continue;
        }
        if (cnt == BIRDCTL_ROUTES_MAX) {
            ret = -EMSGSIZE;
            goto fail;
        }
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct birdctl_route *nv = realloc(v, ncap * sizeof(*nv));

            if (!nv) {
                ret = -ENOMEM;
                goto fail;
            }
            v = nv;
            cap = ncap;
        }
        memset(&v[cnt], 0, sizeof(v[cnt]));
        v[cnt].pref = -1;
        v[cnt].local_pref = v[cnt].med = BIRDCTL_NA;
        copy_n(v[cnt].table, sizeof(v[cnt].table), table, strlen(table));
        ret = parse_route_line(s, &v[cnt], in_route ? &v[cnt - 1] : NULL);
        if (ret < 0)
            goto fail;
        cnt++;
        in_route = true;
    }
    *out = v;
    *n = cnt;
    return 0;
fail:
    free(v);
    return ret;
}

/* ------------------------------------------------------------------ */
/* show status                                                         */

int birdctl_parse_status(const struct birdctl_reply *r, struct birdctl_status *out)
{
    bool have_version = false;

    if (!r || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (r->n_lines == 0 || r->code != 13)
        return -EPROTO;
    for (size_t i = 0; i < r->n_lines; i++) {
        const struct birdctl_line *l = &r->lines[i];
        const char *tok;
        size_t n;

        if (l->code == 1000 && strncmp(l->text, "BIRD ", 5) == 0) {
            const char *v = l->text + 5;
            n = next_token(&v, &tok);
            if (n == 0 || n >= sizeof(out->version))
                return -EPROTO;
            copy_n(out->version, sizeof(out->version), tok, n);
            have_version = true;
        } else if (l->code == 1011 && strncmp(l->text, "Router ID is ", 13) == 0) {
            const char *v = l->text + 13;
            n = next_token(&v, &tok);
            copy_n(out->router_id, sizeof(out->router_id), tok, n);
        }
    }
    copy_trim(out->message, sizeof(out->message), r->lines[r->n_lines - 1].text);
    return have_version ? 0 : -EPROTO;
}
