/* Unit tests for plugins/monitor/notify: the delivery engine against tiny
 * HTTP and SMTP servers of its own, each a thread on an ephemeral port of
 * 127.0.0.1 following a per-connection script.  Checked: what arrives (body
 * byte for byte, headers, signature, envelope, RFC 5322/2047 form), the
 * retry policy, per-attempt timeouts, the queue bound, that a stalled
 * receiver neither blocks notifier_send() nor the other channel, and that
 * notifier_free() cuts a backoff short.  Every wait is bounded; alarm()
 * turns a hang into a failure.  No time is asserted. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "tap.h"
#include "notify.h"

#define IO_TIMEOUT_MS 10000 /* a test server gives up on a silent peer */
#define WAIT_MS 30000       /* longest wait for an expected event */
#define HOLD_MS 120000      /* a held request outlasts any wait of the test */
#define STALL (-1)          /* HTTP script: hold the request until released */
#define WATCHDOG_S 600      /* the whole test, valgrind included */

static const unsigned char hmac_key[] = "0123456789abcdef-not-so-secret-hmac-key";
static const char token[] = "tok-3f9a1c-SECRET";

/* ------------------------------------------------------------------ */
/* Reports                                                             */

#define MAX_REPORTS 16
struct rep {
    char channel[32];
    bool delivered;
    int attempts;
    long status;
    bool has_error;
    char error[256];
};

static pthread_mutex_t rep_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rep reps[MAX_REPORTS];
static int n_reps;

static void on_report(const struct notify_result *r, void *user)
{
    struct rep *p;

    (void)user;
    pthread_mutex_lock(&rep_mu);
    if (n_reps < MAX_REPORTS) {
        p = &reps[n_reps++];
        snprintf(p->channel, sizeof p->channel, "%s", r->channel);
        p->delivered = r->delivered;
        p->attempts = r->attempts;
        p->status = r->status;
        p->has_error = r->error != NULL;
        snprintf(p->error, sizeof p->error, "%s", r->error ? r->error : "");
    }
    pthread_mutex_unlock(&rep_mu);
}

static void reps_reset(void)
{
    pthread_mutex_lock(&rep_mu);
    n_reps = 0;
    pthread_mutex_unlock(&rep_mu);
}

static int reps_count(void)
{
    int n;

    pthread_mutex_lock(&rep_mu);
    n = n_reps;
    pthread_mutex_unlock(&rep_mu);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* Wait for @n reports in all; a copy of report @i goes to @out. */
static bool wait_report(int n, int i, struct rep *out)
{
    int k;

    for (k = 0; k < WAIT_MS / 5 && reps_count() < n; k++)
        sleep_ms(5);
    if (reps_count() < n)
        return false;
    pthread_mutex_lock(&rep_mu);
    *out = reps[i];
    pthread_mutex_unlock(&rep_mu);
    return true;
}

/* ------------------------------------------------------------------ */
/* Scripted servers                                                    */

enum srv_kind { SRV_HTTP, SRV_SMTP };

struct srv {
    enum srv_kind kind;
    /* per connection: HTTP status or STALL; SMTP reply code to MAIL FROM;
     * connections past the end use the last entry */
    int script[4];
    int n_script;
    bool auth; /* SMTP: advertise AUTH PLAIN */

    int lfd, quit[2];
    unsigned short port;
    pthread_t th;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int conns;    /* accepted */
    int requests; /* HTTP requests read / SMTP DATA received */
    int answered; /* HTTP answers sent */
    int stalled;  /* HTTP requests being held */
    bool release; /* let held requests answer 200 */

    /* the last request */
    char *head, *body; /* HTTP: request line + headers; body */
    size_t body_len;
    char mail_from[256], rcpt[4][256], auth_plain[256];
    int n_rcpt;
    char *data; /* SMTP: the message, dot-stuffing undone */
};

static void srv_bump(struct srv *s, int *field)
{
    pthread_mutex_lock(&s->mu);
    (*field)++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Wait until *@field >= @want. */
static bool srv_wait(struct srv *s, int *field, int want)
{
    struct timespec dl;
    bool got;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&s->mu);
    while (*field < want && pthread_cond_timedwait(&s->cv, &s->mu, &dl) == 0)
        ;
    got = *field >= want;
    pthread_mutex_unlock(&s->mu);
    return got;
}

static int srv_get(struct srv *s, int *field)
{
    int v;

    pthread_mutex_lock(&s->mu);
    v = *field;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* 1 when @fd is readable, 0 on timeout or when the server is stopping. */
static int io_wait(struct srv *s, int fd, int ms)
{
    struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = s->quit[0], .events = POLLIN } };

    if (poll(p, 2, ms) <= 0 || p[1].revents)
        return 0;
    return 1;
}

static void send_str(int fd, const char *s)
{
    size_t n = strlen(s);
    ssize_t w;

    while (n > 0 && (w = send(fd, s, n, MSG_NOSIGNAL)) > 0) {
        s += w;
        n -= (size_t)w;
    }
}

/* A buffered reader of one connection. */
struct conn {
    struct srv *s;
    int fd;
    char buf[65536];
    size_t len;
};

/* Read more into c->buf; false on EOF, error, timeout or stop. */
static bool conn_fill(struct conn *c)
{
    ssize_t r;

    if (c->len + 1 >= sizeof c->buf || !io_wait(c->s, c->fd, IO_TIMEOUT_MS))
        return false;
    r = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    c->buf[c->len] = '\0';
    return true;
}

/* One CRLF-terminated line, without the CRLF, into @out. */
static bool conn_line(struct conn *c, char *out, size_t cap)
{
    char *e;
    size_t n;
    int i;

    for (i = 0; i < 1000; i++) {
        e = c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL;
        if (e) {
            n = (size_t)(e - c->buf);
            snprintf(out, cap, "%.*s", (int)n, c->buf);
            memmove(c->buf, e + 2, c->len - n - 2);
            c->len -= n + 2;
            return true;
        }
        if (!conn_fill(c))
            return false;
    }
    return false;
}

static void http_answer(int fd, int status)
{
    char resp[256];

    snprintf(resp, sizeof resp,
             "HTTP/1.1 %d Scripted\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
             "Connection: close\r\n\r\nok\n",
             status);
    send_str(fd, resp);
}

/* Hold the request until released (then 200), the client leaves, or the
 * server stops. */
static void http_stall(struct srv *s, int fd)
{
    struct pollfd p;
    char b[64];
    int i;

    srv_bump(s, &s->stalled);
    for (i = 0; i < HOLD_MS / 10; i++) {
        pthread_mutex_lock(&s->mu);
        if (s->release) {
            pthread_mutex_unlock(&s->mu);
            http_answer(fd, 200);
            srv_bump(s, &s->answered);
            break;
        }
        pthread_mutex_unlock(&s->mu);
        if (io_wait(s, fd, 10) == 0) {
            p = (struct pollfd){ .fd = s->quit[0], .events = POLLIN };
            if (poll(&p, 1, 0) > 0)
                break;
            continue;
        }
        if (recv(fd, b, sizeof b, 0) <= 0)
            break; /* the client gave up (its timeout) */
    }
    pthread_mutex_lock(&s->mu);
    s->stalled--;
    pthread_mutex_unlock(&s->mu);
}

static void serve_http(struct srv *s, struct conn *c, int action)
{
    char *end = NULL, *cl;
    size_t head_len, want = 0;
    int i;

    for (i = 0; i < 1000 && !(end = strstr(c->buf, "\r\n\r\n")); i++)
        if (!conn_fill(c))
            return;
    if (!end)
        return;
    head_len = (size_t)(end - c->buf) + 4;
    cl = strcasestr(c->buf, "\r\nContent-Length:");
    if (cl && cl < end)
        want = strtoul(cl + strlen("\r\nContent-Length:"), NULL, 10);
    for (i = 0; i < 1000 && c->len < head_len + want; i++)
        if (!conn_fill(c))
            return;
    if (c->len < head_len + want)
        return;

    pthread_mutex_lock(&s->mu);
    free(s->head);
    free(s->body);
    s->head = strndup(c->buf, head_len);
    s->body = malloc(want + 1);
    memcpy(s->body, c->buf + head_len, want);
    s->body[want] = '\0';
    s->body_len = want;
    s->requests++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);

    if (action == STALL) {
        http_stall(s, c->fd);
        return;
    }
    http_answer(c->fd, action);
    srv_bump(s, &s->answered);
}

/* Read DATA up to the lone dot, undoing the dot-stuffing. */
static char *smtp_data(struct conn *c)
{
    char line[4096];
    size_t len = 0, cap = 1 << 16, n;
    char *d = malloc(cap);
    int i;

    for (i = 0; i < 10000 && conn_line(c, line, sizeof line); i++) {
        if (!strcmp(line, ".")) {
            d[len] = '\0';
            return d;
        }
        n = strlen(line);
        if (len + n + 3 > cap)
            break;
        memcpy(d + len, line[0] == '.' ? line + 1 : line, line[0] == '.' ? n - 1 : n);
        len += line[0] == '.' ? n - 1 : n;
        memcpy(d + len, "\r\n", 2);
        len += 2;
    }
    free(d);
    return NULL;
}

static void record_auth(struct srv *s, const char *b64)
{
    unsigned char bin[256];
    size_t n = 0;

    if (sodium_base642bin(bin, sizeof bin - 1, b64, strlen(b64), NULL, &n, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return;
    pthread_mutex_lock(&s->mu);
    memcpy(s->auth_plain, bin, n < sizeof s->auth_plain ? n : sizeof s->auth_plain);
    pthread_mutex_unlock(&s->mu);
}

static void serve_smtp(struct srv *s, struct conn *c, int mail_reply)
{
    char line[4096];
    char reply[64];
    char *data;
    int i;

    send_str(c->fd, "220 test ESMTP\r\n");
    for (i = 0; i < 100 && conn_line(c, line, sizeof line); i++) {
        if (!strncasecmp(line, "EHLO ", 5)) {
            send_str(c->fd, s->auth ? "250-test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                                    : "250-test\r\n250 8BITMIME\r\n");
        } else if (!strncasecmp(line, "AUTH PLAIN", 10)) {
            if (line[10] == ' ') {
                record_auth(s, line + 11);
            } else {
                send_str(c->fd, "334 \r\n");
                if (!conn_line(c, line, sizeof line))
                    return;
                record_auth(s, line);
            }
            send_str(c->fd, "235 2.7.0 ok\r\n");
        } else if (!strncasecmp(line, "MAIL FROM:", 10)) {
            pthread_mutex_lock(&s->mu);
            snprintf(s->mail_from, sizeof s->mail_from, "%.200s", line + 10);
            s->n_rcpt = 0;
            pthread_mutex_unlock(&s->mu);
            snprintf(reply, sizeof reply, "%d scripted\r\n", mail_reply);
            send_str(c->fd, reply);
        } else if (!strncasecmp(line, "RCPT TO:", 8)) {
            pthread_mutex_lock(&s->mu);
            if (s->n_rcpt < 4)
                snprintf(s->rcpt[s->n_rcpt++], sizeof s->rcpt[0], "%.200s", line + 8);
            pthread_mutex_unlock(&s->mu);
            send_str(c->fd, "250 ok\r\n");
        } else if (!strcasecmp(line, "DATA")) {
            send_str(c->fd, "354 go ahead\r\n");
            data = smtp_data(c);
            if (!data)
                return;
            pthread_mutex_lock(&s->mu);
            free(s->data);
            s->data = data;
            s->requests++;
            pthread_cond_broadcast(&s->cv);
            pthread_mutex_unlock(&s->mu);
            send_str(c->fd, "250 2.0.0 queued\r\n");
        } else if (!strcasecmp(line, "QUIT")) {
            send_str(c->fd, "221 bye\r\n");
            return;
        } else if (!strcasecmp(line, "RSET") || !strcasecmp(line, "NOOP")) {
            send_str(c->fd, "250 ok\r\n");
        } else {
            send_str(c->fd, "502 not here\r\n");
        }
    }
}

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    struct conn *c = malloc(sizeof *c);
    int i, idx, fd;

    for (i = 0; c && i < 64; i++) {
        if (!io_wait(s, s->lfd, WAIT_MS))
            break;
        fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&s->mu);
        idx = s->conns++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        c->s = s;
        c->fd = fd;
        c->len = 0;
        c->buf[0] = '\0';
        idx = idx < s->n_script ? idx : s->n_script - 1;
        if (s->kind == SRV_HTTP)
            serve_http(s, c, s->script[idx]);
        else
            serve_smtp(s, c, s->script[idx]);
        close(fd);
    }
    free(c);
    return NULL;
}

static void srv_start(struct srv *s, enum srv_kind kind, const int *script, int n, bool auth)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;

    memset(s, 0, sizeof *s);
    s->kind = kind;
    memcpy(s->script, script, (size_t)n * sizeof *script);
    s->n_script = n;
    s->auth = auth;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->lfd, 16) < 0 ||
        getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0 || pipe(s->quit) < 0) {
        perror("test server");
        exit(1);
    }
    s->port = ntohs(a.sin_port);
    if (pthread_create(&s->th, NULL, srv_main, s)) {
        perror("pthread_create");
        exit(1);
    }
}

static void srv_release(struct srv *s)
{
    pthread_mutex_lock(&s->mu);
    s->release = true;
    pthread_mutex_unlock(&s->mu);
}

static void srv_stop(struct srv *s)
{
    if (write(s->quit[1], "q", 1) != 1)
        perror("write");
    pthread_join(s->th, NULL);
    close(s->lfd);
    close(s->quit[0]);
    close(s->quit[1]);
    free(s->head);
    free(s->body);
    free(s->data);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

static void srv_url(const struct srv *s, const char *scheme, const char *path, char *out,
                    size_t cap)
{
    snprintf(out, cap, "%s://127.0.0.1:%u%s", scheme, s->port, path);
}

/* ------------------------------------------------------------------ */
/* Message inspection                                                  */

/* The unfolded value of header @name in the header block of @msg. */
static bool header(const char *msg, const char *name, char *out, size_t cap)
{
    const char *end = strstr(msg, "\r\n\r\n"), *p = msg, *v;
    size_t n = strlen(name), k = 0;

    while (end && p < end) {
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            for (v = p + n + 1; *v == ' '; v++)
                ;
            for (; v < end + 2 && k + 1 < cap; v++) {
                if (v[0] == '\r' && v[1] == '\n') {
                    if (v[2] != ' ' && v[2] != '\t')
                        break;
                    v++; /* unfold: drop the CRLF, keep the blank */
                    continue;
                }
                out[k++] = *v;
            }
            out[k] = '\0';
            return true;
        }
        p = strstr(p, "\r\n");
        if (!p)
            break;
        p += 2;
    }
    return false;
}

/* Decode a value made of blank-separated UTF-8 "B" encoded-words. */
static bool decode_words(const char *v, char *out, size_t cap)
{
    const char *p = v, *e;
    size_t k = 0, n;

    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        if (strncmp(p, "=?UTF-8?B?", 10))
            return false;
        p += 10;
        e = strstr(p, "?=");
        if (!e || e - p + 2 + 10 > 75 ||
            sodium_base642bin((unsigned char *)out + k, cap - k - 1, p, (size_t)(e - p), NULL, &n,
                              NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
            return false;
        k += n;
        p = e + 2;
    }
    out[k] = '\0';
    return true;
}

/* Every line ends in CRLF and none is longer than 998 octets. */
static bool lines_ok(const char *m)
{
    size_t line = 0;
    char prev = '\0';

    for (; *m; prev = *m++) {
        if ((*m == '\n' && prev != '\r') || (*m == '\r' && m[1] != '\n'))
            return false;
        line = *m == '\n' ? 0 : line + 1;
        if (line > 999) /* 998 octets and the CR */
            return false;
    }
    return true;
}

static const char *body_of(const char *m)
{
    const char *b = strstr(m, "\r\n\r\n");

    return b ? b + 4 : "";
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static struct notify_channel webhook(const char *name, const char *url)
{
    return (struct notify_channel){
        .name = name, .kind = NOTIFY_WEBHOOK, .url = url, .timeout_ms = 10000,
        .retries = 3, .backoff_ms = 10,
    };
}

static const char *const rcpts[] = { "ops@example.org", "oncall@example.net" };

static struct notify_channel email(const char *name, const char *url)
{
    return (struct notify_channel){
        .name = name, .kind = NOTIFY_EMAIL, .url = url, .timeout_ms = 10000, .retries = 3,
        .backoff_ms = 10, .mail_from = "alerts@example.org", .mail_to = rcpts, .n_mail_to = 2,
    };
}

static int try_new(struct notify_channel c)
{
    struct notifier *nf = NULL;
    int r = notifier_new(&c, 1, 0, NULL, NULL, &nf);

    nf = notifier_free(nf);
    return r;
}

static void test_config(void)
{
    struct notify_channel two[2] = { webhook("a", "http://127.0.0.1:1/"),
                                     email("a", "smtp://127.0.0.1:1") };
    const char *const bad_to[] = { "ops@example.org", "x@y\r\nBcc: evil@example.com" };
    struct notify_msg m = { .subject = "s", .text = "t", .json = "{}" };
    struct notify_channel c;
    struct notify_stats st;
    struct notifier *nf = NULL;

    is_int(try_new(webhook("webhook", "https://hooks.example.org/x?y=1")), 0, "valid webhook");
    is_int(try_new(email("email", "smtps://mail.example.org:465")), 0, "valid email");
    is_int(try_new(webhook("webhook", NULL)), -EINVAL, "webhook without url");
    is_int(try_new(webhook("webhook", "")), -EINVAL, "webhook with empty url");
    is_int(try_new(webhook("webhook", "not a url")), -EINVAL, "malformed url");
    is_int(try_new(webhook("webhook", "smtp://127.0.0.1")), -EINVAL, "webhook with smtp url");
    is_int(try_new(webhook("webhook", "ftp://127.0.0.1/")), -EINVAL, "webhook with ftp url");
    is_int(try_new(email("email", "https://127.0.0.1/")), -EINVAL, "email with https url");
    is_int(try_new(email("email", NULL)), -EINVAL, "email without url");
    is_int(try_new(webhook("webhook", "https://u:pw@hooks.example.org/")), -EINVAL,
           "credentials in url");
    is_int(try_new(webhook("", "http://127.0.0.1/")), -EINVAL, "empty name");
    is_int(try_new(webhook(NULL, "http://127.0.0.1/")), -EINVAL, "no name");

    c = email("email", "smtp://127.0.0.1");
    c.mail_from = NULL;
    is_int(try_new(c), -EINVAL, "email without from");
    c = email("email", "smtp://127.0.0.1");
    c.n_mail_to = 0;
    is_int(try_new(c), -EINVAL, "email without to");
    c = email("email", "smtp://127.0.0.1");
    c.mail_from = "alerts@example.org\r\nBcc: evil@example.com";
    is_int(try_new(c), -EINVAL, "CRLF in from refused");
    c = email("email", "smtp://127.0.0.1");
    c.mail_to = bad_to;
    is_int(try_new(c), -EINVAL, "CRLF in to refused");
    c = email("email", "smtp://127.0.0.1");
    c.mail_from = "Alerts <alerts@example.org>";
    is_int(try_new(c), -EINVAL, "display name in from refused");
    c = webhook("webhook", "http://127.0.0.1/");
    c.bearer_token = "abc\r\nX-Evil: 1";
    is_int(try_new(c), -EINVAL, "CRLF in token refused");
    c = webhook("webhook", "http://127.0.0.1/");
    c.hmac_key = hmac_key;
    is_int(try_new(c), -EINVAL, "hmac key without length");

    is_int(notifier_new(two, 2, 0, NULL, NULL, &nf), -EINVAL, "duplicate names");
    ok(nf == NULL, "nothing made on error");
    two[1].name = "b";
    is_int(notifier_new(two, 2, 0, NULL, NULL, &nf), 0, "distinct names");
    is_int(notifier_send(nf, "nope", &m), -ENOENT, "unknown channel");
    is_int(notifier_send(nf, "b", &(struct notify_msg){ .subject = "x\r\nBcc: evil@example.com",
                                                         .text = "t" }),
           -EINVAL, "CRLF in subject refused");
    is_int(notifier_send(nf, "b", &(struct notify_msg){ .subject = "x\ny", .text = "t" }), -EINVAL,
           "LF in subject refused");
    is_int(notifier_send(nf, "a", &(struct notify_msg){ .subject = "s", .text = "t" }), -EINVAL,
           "webhook message without json refused");
    notifier_stats(nf, "nope", &st);
    ok(st.queued == 0 && st.dropped == 0, "unknown channel has zero stats");
    nf = notifier_free(nf);
    ok(nf == NULL && notifier_free(NULL) == NULL, "free returns NULL, accepts NULL");

    is_int(notifier_new(NULL, 0, 0, NULL, NULL, &nf), 0, "no channels is fine");
    nf = notifier_free(nf);
}

static void test_webhook_ok(void)
{
    static const int script[] = { 200 };
    const char *json = "{\"alert\":\"磁盘\",\"value\":91.5,\"esc\":\"a\\\"b\\n\",\"x\":[1,2]}";
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct notify_stats st;
    struct srv s;
    struct rep r;
    char url[128], v[512], want[128], hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state hs;

    srv_start(&s, SRV_HTTP, script, 1, false);
    srv_url(&s, "http", "/hook", url, sizeof url);
    c = webhook("webhook", url);
    c.bearer_token = token;
    c.hmac_key = hmac_key;
    c.hmac_key_len = sizeof hmac_key - 1;
    reps_reset();
    is_int(notifier_new(&c, 1, 4, on_report, NULL, &nf), 0, "webhook notifier");
    is_int(notifier_send(nf, "webhook", &(struct notify_msg){ .json = json }), 0, "send");
    ok(wait_report(1, 0, &r), "report arrived");
    ok(r.delivered && r.attempts == 1 && r.status == 200 && !r.has_error,
       "delivered at once (attempts %d, status %ld)", r.attempts, r.status);
    is_str(r.channel, "webhook", "report names the channel");

    pthread_mutex_lock(&s.mu);
    ok(s.body && s.body_len == strlen(json) && !memcmp(s.body, json, s.body_len),
       "body arrives byte for byte");
    ok(s.head && !strncmp(s.head, "POST /hook HTTP/1.1\r\n", 21), "POST to the path");
    ok(header(s.head, "Content-Type", v, sizeof v) && !strcmp(v, "application/json"),
       "Content-Type: application/json");
    snprintf(want, sizeof want, "Bearer %s", token);
    ok(header(s.head, "Authorization", v, sizeof v) && !strcmp(v, want), "bearer token sent");
    ok(header(s.head, "User-Agent", v, sizeof v) && !strncmp(v, "wgm-monitor", 11),
       "User-Agent wgm-monitor (%s)", v);
    ok(!header(s.head, "Expect", v, sizeof v), "no Expect: 100-continue");
    crypto_auth_hmacsha256_init(&hs, hmac_key, sizeof hmac_key - 1);
    crypto_auth_hmacsha256_update(&hs, (const unsigned char *)s.body, s.body_len);
    crypto_auth_hmacsha256_final(&hs, mac);
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(want, sizeof want, "sha256=%s", hex);
    ok(header(s.head, "X-WGM-Signature", v, sizeof v) && !strcmp(v, want),
       "X-WGM-Signature verifies");
    pthread_mutex_unlock(&s.mu);

    notifier_stats(nf, "webhook", &st);
    ok(st.queued == 1 && st.delivered == 1 && st.failed == 0 && st.retried == 0 && st.dropped == 0,
       "stats: queued 1, delivered 1");
    nf = notifier_free(nf);
    srv_stop(&s);
}

/* One message against a scripted HTTP server; returns its report. */
static struct rep webhook_run(const int *script, int n, unsigned timeout_ms, unsigned retries,
                              struct notify_stats *st, int *conns)
{
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct rep r = { .attempts = -1 };
    struct srv s;
    char url[128];

    srv_start(&s, SRV_HTTP, script, n, false);
    srv_url(&s, "http", "/hook", url, sizeof url);
    c = webhook("webhook", url);
    c.timeout_ms = timeout_ms;
    c.retries = retries;
    c.bearer_token = token;
    reps_reset();
    if (notifier_new(&c, 1, 4, on_report, NULL, &nf) == 0 &&
        notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{\"n\":1}" }) == 0)
        wait_report(1, 0, &r);
    notifier_stats(nf, "webhook", st);
    *conns = srv_get(&s, &s.conns);
    srv_stop(&s); /* first: an attempt still hanging on it ends now */
    nf = notifier_free(nf);
    return r;
}

static void test_webhook_policy(void)
{
    static const int s500[] = { 500, 500, 200 }, s400[] = { 400 }, s429[] = { 429, 200 },
                     stall[] = { STALL };
    struct notify_stats st;
    struct rep r;
    int conns;

    r = webhook_run(s500, 3, 10000, 3, &st, &conns);
    ok(r.delivered && r.attempts == 3 && r.status == 200, "500, 500, 200: delivered on attempt %d",
       r.attempts);
    ok(st.retried == 2 && st.delivered == 1 && st.failed == 0, "stats: retried %llu",
       (unsigned long long)st.retried);

    r = webhook_run(s400, 1, 10000, 3, &st, &conns);
    ok(!r.delivered && r.attempts == 1 && r.status == 400, "400: failed after %d attempt(s)",
       r.attempts);
    ok(r.has_error && strstr(r.error, "400"), "error names the status (%s)", r.error);
    ok(!strstr(r.error, token), "error carries no token");
    ok(st.retried == 0 && st.failed == 1 && conns == 1, "400 not retried");

    r = webhook_run(s429, 2, 10000, 3, &st, &conns);
    ok(r.delivered && r.attempts == 2, "429 is retried (attempts %d)", r.attempts);

    r = webhook_run(stall, 1, 300, 2, &st, &conns);
    ok(!r.delivered && r.attempts == 3 && r.status == 0, "silent server: %d timed-out attempts",
       r.attempts);
    ok(r.has_error && strstr(r.error, "timed out"), "timeout reported (%s)", r.error);
    ok(st.retried == 2 && st.failed == 1 && conns == 3, "timeouts retried (%d connections)", conns);
}

static void test_refused(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct rep r = { .attempts = -1 };
    char url[128];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    /* a port that was just free: nothing listens there now */
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", ntohs(a.sin_port));
    c = webhook("webhook", url);
    c.retries = 1;
    reps_reset();
    is_int(notifier_new(&c, 1, 4, on_report, NULL, &nf), 0, "notifier to a closed port");
    notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{}" });
    ok(wait_report(1, 0, &r), "report arrived");
    ok(!r.delivered && r.attempts == 2 && r.status == 0,
       "connection refused is retried (attempts %d)", r.attempts);
    nf = notifier_free(nf);
}

/* A stalled webhook: notifier_send still returns, the queue bound holds,
 * and mail goes out meanwhile. */
static void test_stalled(void)
{
    static const int hs[] = { STALL, 200 }, ms[] = { 250 };
    struct notify_channel c[2];
    struct notifier *nf = NULL;
    struct notify_stats st;
    struct srv h, m;
    struct rep r;
    char hurl[128], murl[128];
    int i, rc2, rc3, web_reports = 0;

    srv_start(&h, SRV_HTTP, hs, 2, false);
    srv_start(&m, SRV_SMTP, ms, 1, false);
    srv_url(&h, "http", "/", hurl, sizeof hurl);
    srv_url(&m, "smtp", "", murl, sizeof murl);
    c[0] = webhook("webhook", hurl);
    c[1] = email("email", murl);
    reps_reset();
    is_int(notifier_new(c, 2, 1, on_report, NULL, &nf), 0, "two channels, queue_max 1");

    is_int(notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{\"n\":1}" }), 0, "send 1");
    ok(srv_wait(&h, &h.stalled, 1), "receiver holds request 1");
    rc2 = notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{\"n\":2}" });
    rc3 = notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{\"n\":3}" });
    /* both returned although the receiver has not answered yet */
    ok(srv_get(&h, &h.answered) == 0 && reps_count() == 0,
       "notifier_send returned while the receiver is stalled");
    is_int(rc2, 0, "send 2 queued");
    is_int(rc3, -EAGAIN, "send 3: queue full");
    notifier_stats(nf, "webhook", &st);
    ok(st.queued == 2 && st.dropped == 1, "stats: queued 2, dropped 1");

    is_int(notifier_send(nf, "email", &(struct notify_msg){ .subject = "s", .text = "t" }), 0,
           "send mail");
    ok(wait_report(1, 0, &r) && !strcmp(r.channel, "email") && r.delivered,
       "mail delivered while the webhook is stalled");
    ok(srv_get(&h, &h.answered) == 0, "webhook still stalled then");

    srv_release(&h);
    ok(wait_report(3, 2, &r), "both webhook messages reported after release");
    pthread_mutex_lock(&rep_mu);
    for (i = 0; i < n_reps; i++)
        web_reports += !strcmp(reps[i].channel, "webhook") && reps[i].delivered;
    pthread_mutex_unlock(&rep_mu);
    is_int(web_reports, 2, "webhook messages delivered");
    notifier_stats(nf, NULL, &st);
    ok(st.queued == 3 && st.delivered == 3 && st.dropped == 1, "totals over both channels");
    nf = notifier_free(nf);
    srv_stop(&h);
    srv_stop(&m);
}

/* A transfer in flight when the notifier stops: aborted at once (through
 * curl's progress callback), not waited out for its 10-minute timeout. */
static void test_free_aborts_transfer(void)
{
    static const int script[] = { STALL };
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct srv s;
    struct rep r;
    char url[128];
    unsigned left;

    srv_start(&s, SRV_HTTP, script, 1, false);
    srv_url(&s, "http", "/", url, sizeof url);
    c = webhook("webhook", url);
    c.timeout_ms = 600000;
    c.retries = 0;
    reps_reset();
    is_int(notifier_new(&c, 1, 4, on_report, NULL, &nf), 0, "notifier with a 10-minute timeout");
    notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{\"n\":1}" });
    ok(srv_wait(&s, &s.stalled, 1), "receiver holds the request");
    /* a free that waited for the transfer would be killed by the watchdog */
    left = alarm(30);
    nf = notifier_free(nf);
    alarm(left);
    ok(nf == NULL, "notifier_free returned with the transfer in flight");
    if (wait_report(1, 0, &r))
        ok(!r.delivered && r.attempts == 1 && r.has_error && strstr(r.error, "aborted"),
           "the transfer was aborted (%s)", r.error);
    srv_release(&s);
    srv_stop(&s);
}

static void test_free_in_backoff(void)
{
    static const int script[] = { 500 };
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct srv s;
    struct rep r0, r1;
    char url[128];
    unsigned left;

    srv_start(&s, SRV_HTTP, script, 1, false);
    srv_url(&s, "http", "/", url, sizeof url);
    c = webhook("webhook", url);
    c.retries = 5;
    c.backoff_ms = 600000; /* capped at 60 s: longer than the watchdog below */
    reps_reset();
    is_int(notifier_new(&c, 1, 4, on_report, NULL, &nf), 0, "notifier with a long backoff");
    notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{\"n\":1}" });
    ok(srv_wait(&s, &s.answered, 1), "first attempt answered 500");
    notifier_send(nf, "webhook", &(struct notify_msg){ .json = "{\"n\":2}" });
    sleep_ms(100); /* let the thread settle into its wait (not required) */

    /* a free that waited out the backoff would be killed by the watchdog */
    left = alarm(30);
    nf = notifier_free(nf);
    alarm(left);
    ok(nf == NULL, "notifier_free returned during the backoff");
    is_int(reps_count(), 2, "both messages reported by the time free returns");
    if (wait_report(2, 0, &r0) && wait_report(2, 1, &r1)) {
        ok(!r0.delivered && r0.attempts == 1 && r0.status == 500, "in-backoff message failed");
        ok(!r1.delivered && r1.attempts == 0, "queued message dropped");
    }
    is_int(srv_get(&s, &s.conns), 1, "no retry after stop");
    srv_stop(&s);
}

static void test_email_ok(void)
{
    static const int script[] = { 250 };
    const char *subject = "磁盘使用率告警：节点 wg-gw-01 的根分区使用率已超过百分之九十";
    const char *text = "Disk usage is 91.5%\n.hidden dot line\r\nüber alles\rlast line";
    const char *want_body = "Disk usage is 91.5%\r\n.hidden dot line\r\nüber alles\r\nlast line\r\n";
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct srv s;
    struct rep r;
    char url[128], v[1024], dec[512];

    srv_start(&s, SRV_SMTP, script, 1, true);
    srv_url(&s, "smtp", "", url, sizeof url);
    c = email("email", url);
    c.username = "wgm";
    c.password = "smtp-SECRET-pw";
    reps_reset();
    is_int(notifier_new(&c, 1, 4, on_report, NULL, &nf), 0, "email notifier");
    is_int(notifier_send(nf, "email", &(struct notify_msg){ .subject = subject, .text = text }), 0,
           "send");
    ok(wait_report(1, 0, &r), "report arrived");
    ok(r.delivered && r.attempts == 1 && r.status == 250, "mail delivered (status %ld, %s)",
       r.status, r.error);

    pthread_mutex_lock(&s.mu);
    is_str(s.mail_from, "<alerts@example.org>", "envelope sender");
    is_int(s.n_rcpt, 2, "two envelope recipients");
    is_str(s.rcpt[0], "<ops@example.org>", "recipient 1");
    is_str(s.rcpt[1], "<oncall@example.net>", "recipient 2");
    ok(!memcmp(s.auth_plain, "\0wgm\0smtp-SECRET-pw", 19), "AUTH PLAIN with the credentials");
    ok(s.data != NULL, "message received");
    if (s.data) {
        ok(lines_ok(s.data), "CRLF line endings, lines <= 998");
        ok(header(s.data, "Date", v, sizeof v) && strlen(v) == 31 && !strcmp(v + 25, " +0000"),
           "Date: %s", v);
        ok(header(s.data, "From", v, sizeof v) && !strcmp(v, "alerts@example.org"), "From");
        ok(header(s.data, "To", v, sizeof v) &&
               !strcmp(v, "ops@example.org, oncall@example.net"),
           "To lists both (%s)", v);
        ok(header(s.data, "Subject", v, sizeof v) && !strncmp(v, "=?UTF-8?B?", 10),
           "Subject is RFC 2047 encoded");
        ok(strchr(v, ' ') != NULL, "long subject folded into several words");
        ok(decode_words(v, dec, sizeof dec) && !strcmp(dec, subject), "Subject decodes");
        ok(header(s.data, "Message-ID", v, sizeof v) && v[0] == '<' &&
               strstr(v, "@example.org>"),
           "Message-ID %s", v);
        ok(header(s.data, "MIME-Version", v, sizeof v) && !strcmp(v, "1.0"), "MIME-Version");
        ok(header(s.data, "Content-Type", v, sizeof v) &&
               !strcmp(v, "text/plain; charset=utf-8"),
           "Content-Type");
        ok(header(s.data, "Content-Transfer-Encoding", v, sizeof v) && !strcmp(v, "8bit"),
           "Content-Transfer-Encoding: 8bit");
        is_str(body_of(s.data), want_body, "body text, dot line intact");
        ok(!strstr(s.data, "SECRET"), "no secret in the message");
    }
    pthread_mutex_unlock(&s.mu);
    nf = notifier_free(nf);
    srv_stop(&s);
}

static void test_email_forms(void)
{
    static const int script[] = { 250 };
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct srv s;
    struct rep r;
    char url[128], v[256], text[1600], got[1700], *b64 = NULL, *p, *q;
    size_t n = 0;

    memset(text, 'x', 1500);
    strcpy(text + 1500, "\nend");
    srv_start(&s, SRV_SMTP, script, 1, false);
    srv_url(&s, "smtp", "", url, sizeof url);
    c = email("email", url);
    reps_reset();
    is_int(notifier_new(&c, 1, 4, on_report, NULL, &nf), 0, "email notifier");
    notifier_send(nf, "email", &(struct notify_msg){ .subject = "disk full", .text = text });
    ok(wait_report(1, 0, &r) && r.delivered, "long-line mail delivered");
    pthread_mutex_lock(&s.mu);
    if (s.data) {
        ok(lines_ok(s.data), "no line over 998 octets");
        ok(header(s.data, "Subject", v, sizeof v) && !strcmp(v, "disk full"),
           "short ASCII subject stays plain");
        ok(header(s.data, "Content-Transfer-Encoding", v, sizeof v) && !strcmp(v, "base64"),
           "a 1500-octet line switches to base64");
        b64 = strdup(body_of(s.data));
        for (p = q = b64; *p; p++) /* drop the line breaks */
            if (*p != '\r' && *p != '\n')
                *q++ = *p;
        *q = '\0';
        ok(sodium_base642bin((unsigned char *)got, sizeof got - 1, b64, strlen(b64), NULL, &n,
                             NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
               n == 1507 && !memcmp(got, text, 1500) && !memcmp(got + 1500, "\r\nend\r\n", 7),
           "base64 body decodes to the text with CRLF");
        free(b64);
    } else {
        ok(0, "message received");
    }
    pthread_mutex_unlock(&s.mu);
    nf = notifier_free(nf);
    srv_stop(&s);
}

static struct rep email_run(const int *script, int n, struct notify_stats *st, int *conns)
{
    struct notify_channel c;
    struct notifier *nf = NULL;
    struct rep r = { .attempts = -1 };
    struct srv s;
    char url[128];

    srv_start(&s, SRV_SMTP, script, n, false);
    srv_url(&s, "smtp", "", url, sizeof url);
    c = email("email", url);
    reps_reset();
    if (notifier_new(&c, 1, 4, on_report, NULL, &nf) == 0 &&
        notifier_send(nf, "email", &(struct notify_msg){ .subject = "s", .text = "t" }) == 0)
        wait_report(1, 0, &r);
    notifier_stats(nf, "email", st);
    nf = notifier_free(nf);
    *conns = srv_get(&s, &s.conns);
    srv_stop(&s);
    return r;
}

static void test_email_policy(void)
{
    static const int s451[] = { 451, 250 }, s550[] = { 550 };
    struct notify_stats st;
    struct rep r;
    int conns;

    r = email_run(s451, 2, &st, &conns);
    ok(r.delivered && r.attempts == 2 && r.status == 250, "451 then 250: delivered on attempt %d",
       r.attempts);
    ok(st.retried == 1 && st.delivered == 1, "stats: retried %llu",
       (unsigned long long)st.retried);

    r = email_run(s550, 1, &st, &conns);
    ok(!r.delivered && r.attempts == 1 && r.status == 550, "550: failed after %d attempt(s)",
       r.attempts);
    ok(r.has_error && r.error[0], "error reported (%s)", r.error);
    ok(st.retried == 0 && st.failed == 1 && conns == 1, "550 not retried");
}

int main(void)
{
    static const char *const proxies[] = { "http_proxy",  "HTTP_PROXY", "https_proxy",
                                           "HTTPS_PROXY", "all_proxy",  "ALL_PROXY" };
    size_t i;

    alarm(WATCHDOG_S);
    signal(SIGPIPE, SIG_IGN);
    for (i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]); /* loopback only */
    if (sodium_init() < 0)
        skip_all("libsodium failed to initialise");

    test_config();
    test_webhook_ok();
    test_webhook_policy();
    test_refused();
    test_stalled();
    test_free_in_backoff();
    test_free_aborts_transfer();
    test_email_ok();
    test_email_forms();
    test_email_policy();
    return done_testing();
}
