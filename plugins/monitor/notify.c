/* plugins/monitor/notify: delivering alert notifications by webhook and mail.
 *
 * Each channel owns a FIFO and a thread that pops it and delivers with its
 * own libcurl easy handle, so a slow endpoint only ever delays its own
 * channel.  The channel lock guards the list, the counters and the stop
 * flag, and is never held across a transfer: that is what keeps
 * notifier_send() from waiting on the network.  The same condition
 * variable wakes the thread for new work and cuts a backoff wait short. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>
#include <wgm/abi.h>

#include "notify.h"

#ifdef WGM_VERSION
#define USER_AGENT "wgm-monitor/" WGM_VERSION
#else
#define USER_AGENT "wgm-monitor"
#endif

/* RFC 5322 2.1.1: at most 998 octets per line, CRLF not counted. */
#define MAIL_LINE_MAX 998
/* RFC 2047: an encoded-word is at most 75 characters.  "=?UTF-8?B?" and
 * "?=" take 12, leaving 60 base64 characters: 45 bytes of text. */
#define SUBJECT_CHUNK 45
/* RFC 2045: base64 lines of 76 characters carry 57 bytes each. */
#define BODY_B64_CHUNK 57

struct item {
    struct item *next;
    char *data; /* webhook: the JSON; e-mail: the whole RFC 5322 message */
    size_t len;
};

struct chan {
    struct notifier *nf;
    char *name;
    enum notify_kind kind;
    char *url; /* wiped: webhook URLs often carry a secret path */
    unsigned timeout_ms, retries, backoff_ms;
    char *auth_header;        /* "Authorization: Bearer <t>" or NULL; wiped */
    const char *token;        /* the <t> inside auth_header */
    unsigned char *hmac_key;  /* wiped */
    size_t hmac_key_len;
    char *mail_from;
    struct curl_slist *rcpt;  /* envelope recipients, also the To: list */
    char *username, *password; /* password wiped */
    bool require_tls;
    CURL *curl;               /* the thread's; kept: reuses the webhook connection */

    bool sync_ok;             /* lock and wake are initialised */
    pthread_mutex_t lock;
    pthread_cond_t wake;      /* CLOCK_MONOTONIC, for the backoff waits */
    struct item *head, *tail;
    size_t len, max;
    bool stop;
    struct notify_stats stats;
    bool running;
    pthread_t thread;
};

struct notifier {
    struct chan *chans;
    size_t n; /* entries of chans to destroy (the last one maybe half made) */
    notify_report_fn report;
    void *user;
};

/* What one attempt came to. */
struct outcome {
    bool ok, retry;
    long status;
    unsigned retry_after_ms;
    char error[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void wipe_free(char *s)
{
    if (!s)
        return;
    sodium_memzero(s, strlen(s));
    free(s);
}

/* Headers may hold the bearer token: wipe curl's copies too. */
static void slist_wipe_free(struct curl_slist *l)
{
    struct curl_slist *i;

    for (i = l; i; i = i->next)
        sodium_memzero(i->data, strlen(i->data));
    curl_slist_free_all(l);
}

static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);

    if (!s)
        return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A bare addr-spec: one '@' between non-empty parts, nothing that would
 * let it carry a display name, a second address or a header break.
 * Bytes >= 0x80 pass (SMTPUTF8 addresses). */
static bool valid_address(const char *a)
{
    const char *at;

    if (!a || !*a || strlen(a) > 254 || has_ctl(a) || strpbrk(a, " <>()[],;:\\\""))
        return false;
    at = strchr(a, '@');
    return at && at != a && at[1] && !strchr(at + 1, '@');
}

/* A growing buffer whose failure is sticky, so a message is built with
 * plain calls and checked once at the end. */
struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void buf_add(struct buf *b, const void *s, size_t n)
{
    char *p;
    size_t cap;

    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_base64(struct buf *b, const void *bin, size_t n)
{
    char out[sodium_base64_ENCODED_LEN(BODY_B64_CHUNK, sodium_base64_VARIANT_ORIGINAL)];

    /* callers pass at most BODY_B64_CHUNK >= SUBJECT_CHUNK bytes */
    sodium_bin2base64(out, sizeof out, bin, n, sodium_base64_VARIANT_ORIGINAL);
    buf_str(b, out);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static pthread_once_t libs_once = PTHREAD_ONCE_INIT;
static int libs_result;

/* curl_global_init is not thread-safe before libcurl 7.84, so it runs
 * once per process, here; sodium_init for randombytes (Message-ID). */
static void libs_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || sodium_init() < 0)
        libs_result = -EIO;
}

/* Parsed by curl itself so that what we accept is what it will fetch. */
static int check_url(const char *url, enum notify_kind kind)
{
    CURLU *u;
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
    bool good;
    int r = -EINVAL;

    if (!url || !*url || has_ctl(url))
        return -EINVAL;
    u = curl_url();
    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
        goto out;
    if (kind == NOTIFY_WEBHOOK)
        good = !strcmp(scheme, "http") || !strcmp(scheme, "https");
    else
        good = !strcmp(scheme, "smtp") || !strcmp(scheme, "smtps");
    /* credentials belong in the fields, which are wiped and never echoed */
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK)
        good = false;
    if (good)
        r = 0;
out:
    if (pass)
        sodium_memzero(pass, strlen(pass));
    curl_free(pass);
    curl_free(user);
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(u);
    return r;
}

static int check_channel(const struct notify_channel *c)
{
    size_t i;
    int r;

    if (!c->name || !*c->name || (c->kind != NOTIFY_WEBHOOK && c->kind != NOTIFY_EMAIL))
        return -EINVAL;
    r = check_url(c->url, c->kind);
    if (r < 0)
        return r;
    if (c->kind == NOTIFY_WEBHOOK) {
        if (c->bearer_token && (!*c->bearer_token || has_ctl(c->bearer_token)))
            return -EINVAL;
        if (!c->hmac_key != !c->hmac_key_len)
            return -EINVAL;
        return 0;
    }
    if (!valid_address(c->mail_from) || !c->mail_to || c->n_mail_to == 0)
        return -EINVAL;
    for (i = 0; i < c->n_mail_to; i++)
        if (!valid_address(c->mail_to[i]))
            return -EINVAL;
    if (c->password && !c->username)
        return -EINVAL;
    return 0;
}

static void chan_destroy(struct chan *c)
{
    struct item *it;

    while ((it = c->head)) {
        c->head = it->next;
        free(it->data);
        free(it);
    }
    if (c->sync_ok) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
    }
    free(c->name);
    wipe_free(c->url);
    wipe_free(c->auth_header);
    if (c->hmac_key) {
        sodium_memzero(c->hmac_key, c->hmac_key_len);
        free(c->hmac_key);
    }
    free(c->mail_from);
    curl_slist_free_all(c->rcpt);
    curl_easy_cleanup(c->curl);
    free(c->username);
    wipe_free(c->password);
}

/* Copy @cfg into the zeroed @c; on error chan_destroy() cleans up. */
static int chan_init(struct chan *c, const struct notify_channel *cfg, size_t max,
                     struct notifier *nf)
{
    pthread_condattr_t ca;
    struct curl_slist *l;
    size_t i;
    int r;

    c->nf = nf;
    c->kind = cfg->kind;
    c->max = max;
    c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : NOTIFY_DEFAULT_TIMEOUT_MS;
    c->backoff_ms = cfg->backoff_ms ? cfg->backoff_ms : NOTIFY_DEFAULT_BACKOFF_MS;
    if (c->backoff_ms > NOTIFY_BACKOFF_MAX_MS)
        c->backoff_ms = NOTIFY_BACKOFF_MAX_MS;
    c->retries = cfg->retries;
    c->require_tls = cfg->require_tls;
    c->name = strdup(cfg->name);
    c->url = strdup(cfg->url);
    /* made here, so ENOMEM shows now and threads never touch curl globals */
    c->curl = curl_easy_init();
    if (!c->name || !c->url || !c->curl)
        return -ENOMEM;

    if (cfg->kind == NOTIFY_WEBHOOK && cfg->bearer_token) {
        c->auth_header = concat("Authorization: Bearer ", cfg->bearer_token);
        if (!c->auth_header)
            return -ENOMEM;
        c->token = c->auth_header + strlen("Authorization: Bearer ");
    }
    if (cfg->kind == NOTIFY_WEBHOOK && cfg->hmac_key) {
        c->hmac_key = malloc(cfg->hmac_key_len);
        if (!c->hmac_key)
            return -ENOMEM;
        memcpy(c->hmac_key, cfg->hmac_key, cfg->hmac_key_len);
        c->hmac_key_len = cfg->hmac_key_len;
    }
    if (cfg->kind == NOTIFY_EMAIL) {
        c->mail_from = strdup(cfg->mail_from);
        if (!c->mail_from)
            return -ENOMEM;
        for (i = 0; i < cfg->n_mail_to; i++) {
            l = curl_slist_append(c->rcpt, cfg->mail_to[i]);
            if (!l)
                return -ENOMEM;
            c->rcpt = l;
        }
        if ((cfg->username && !(c->username = strdup(cfg->username))) ||
            (cfg->password && !(c->password = strdup(cfg->password))))
            return -ENOMEM;
    }

    r = pthread_mutex_init(&c->lock, NULL);
    if (r)
        return -r;
    r = pthread_condattr_init(&ca);
    if (!r) {
        r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (!r)
            r = pthread_cond_init(&c->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (r) {
        pthread_mutex_destroy(&c->lock);
        return -r;
    }
    c->sync_ok = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Building messages (in the caller's thread, by notifier_send)        */

static void add_date(struct buf *b, time_t t)
{
    /* not strftime: the names must be English whatever the locale */
    static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    char s[64];

    gmtime_r(&t, &tm);
    snprintf(s, sizeof s, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    buf_str(b, s);
}

/* Bytes of the UTF-8 character at @s (1 for a stray byte), never past @n. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
    size_t want, i;

    if (s[0] >= 0xf0 && s[0] < 0xf8)
        want = 4;
    else if (s[0] >= 0xe0 && s[0] < 0xf0)
        want = 3;
    else if (s[0] >= 0xc0 && s[0] < 0xe0)
        want = 2;
    else
        return 1;
    for (i = 1; i < want && i < n && (s[i] & 0xc0) == 0x80; i++)
        ;
    return i;
}

/* Short printable ASCII goes as is.  Anything else (alert names may be
 * Chinese) becomes RFC 2047 UTF-8 "B" encoded-words, one per folded line,
 * each ending on a whole character so every word decodes on its own. */
static void add_subject(struct buf *b, const char *subject)
{
    const unsigned char *s = (const unsigned char *)subject;
    size_t n = strlen(subject), i, start, cl;
    bool plain = n <= 78 - strlen("Subject: ") && !strstr(subject, "=?");

    for (i = 0; plain && i < n; i++)
        plain = s[i] >= 0x20 && s[i] < 0x7f;
    if (plain) {
        buf_add(b, subject, n);
        return;
    }
    for (i = 0; i < n;) {
        start = i;
        while (i < n) {
            cl = utf8_char_len(s + i, n - i);
            if (i + cl - start > SUBJECT_CHUNK)
                break;
            i += cl;
        }
        if (start)
            buf_str(b, "\r\n ");
        buf_str(b, "=?UTF-8?B?");
        buf_base64(b, s + start, i - start);
        buf_str(b, "?=");
    }
}

/* LF, CRLF and a lone CR all become CRLF, and the text ends with one;
 * returns the longest line.  Dot-stuffing is curl's job. */
static size_t normalize_lines(struct buf *b, const char *text)
{
    size_t line = 0, longest = 0;

    for (; *text; text++) {
        if (*text == '\r' || *text == '\n') {
            if (text[0] == '\r' && text[1] == '\n')
                text++;
            buf_add(b, "\r\n", 2);
            line = 0;
            continue;
        }
        buf_add(b, text, 1);
        if (++line > longest)
            longest = line;
    }
    if (b->len < 2 || memcmp(b->p + b->len - 2, "\r\n", 2))
        buf_add(b, "\r\n", 2);
    return longest;
}

static int build_email(const struct chan *c, const struct notify_msg *m, struct item *it)
{
    struct buf b = { 0 }, body = { 0 };
    const struct curl_slist *to;
    unsigned char rnd[16];
    char hex[sizeof rnd * 2 + 1];
    bool base64;
    size_t i;

    if (!m->subject || !m->text || strpbrk(m->subject, "\r\n"))
        return -EINVAL;
    /* 8bit text may not have lines past 998 octets; base64 has no limit */
    base64 = normalize_lines(&body, m->text) > MAIL_LINE_MAX;
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);

    buf_str(&b, "Date: ");
    add_date(&b, time(NULL));
    buf_str(&b, "\r\nFrom: ");
    buf_str(&b, c->mail_from);
    buf_str(&b, "\r\nTo: ");
    for (to = c->rcpt; to; to = to->next) {
        buf_str(&b, to->data);
        if (to->next)
            buf_str(&b, ",\r\n ");
    }
    buf_str(&b, "\r\nSubject: ");
    add_subject(&b, m->subject);
    buf_str(&b, "\r\nMessage-ID: <");
    buf_str(&b, hex);
    buf_str(&b, strchr(c->mail_from, '@'));
    buf_str(&b, ">\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: ");
    buf_str(&b, base64 ? "base64" : "8bit");
    /* RFC 3834: tells vacation responders not to answer an alert */
    buf_str(&b, "\r\nAuto-Submitted: auto-generated\r\n\r\n");
    if (!base64) {
        buf_add(&b, body.p, body.len);
    } else {
        for (i = 0; i < body.len; i += BODY_B64_CHUNK) {
            buf_base64(&b, body.p + i,
                       body.len - i < BODY_B64_CHUNK ? body.len - i : BODY_B64_CHUNK);
            buf_str(&b, "\r\n");
        }
    }
    free(body.p);
    if (b.oom || body.oom) {
        free(b.p);
        return -ENOMEM;
    }
    it->data = b.p;
    it->len = b.len;
    return 0;
}

static int build_item(const struct chan *c, const struct notify_msg *m, struct item **out)
{
    struct item *it = calloc(1, sizeof *it);
    int r = 0;

    if (!it)
        return -ENOMEM;
    if (c->kind == NOTIFY_EMAIL) {
        r = build_email(c, m, it);
    } else if (!m->json) {
        r = -EINVAL;
    } else {
        it->len = strlen(m->json);
        it->data = malloc(it->len + 1);
        if (it->data)
            memcpy(it->data, m->json, it->len + 1);
        else
            r = -ENOMEM;
    }
    if (r < 0) {
        free(it);
        return r;
    }
    *out = it;
    return 0;
}

static void item_free(struct item *it)
{
    if (!it)
        return;
    free(it->data);
    free(it);
}

/* ------------------------------------------------------------------ */
/* One attempt (in the channel's thread)                               */

static size_t discard(char *p, size_t size, size_t n, void *user)
{
    return size * n;
}

struct upload {
    const char *p;
    size_t left;
};

static size_t read_upload(char *dst, size_t size, size_t n, void *user)
{
    struct upload *u = user;
    size_t k = size * n < u->left ? size * n : u->left;

    memcpy(dst, u->p, k);
    u->p += k;
    u->left -= k;
    return k;
}

/* Failures of the path rather than of the request: worth another try. */
static bool transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_OUT_OF_MEMORY:
        return true;
    default:
        return false;
    }
}

/* Stops at the first failing setopt; keeps the option lists readable. */
#define SETOPT(h, rc, opt, val) \
    do { \
        if ((rc) == CURLE_OK) \
            (rc) = curl_easy_setopt((h), (opt), (val)); \
    } while (0)

/* libcurl calls this about once a second (and more often while data moves),
 * also while it connects: a transfer in flight ends as soon as the notifier
 * is stopping, instead of holding the daemon's shutdown up to its timeout. */
static int abort_when_stopping(void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    const struct chan *c = data;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return __atomic_load_n(&c->stop, __ATOMIC_RELAXED) ? 1 : 0;
}

static CURLcode setup_common(CURL *h, const struct chan *c, char *errbuf)
{
    CURLcode rc = CURLE_OK;

    SETOPT(h, rc, CURLOPT_URL, c->url);
    SETOPT(h, rc, CURLOPT_ERRORBUFFER, errbuf);
    /* no SIGALRM for resolver timeouts: signals are process-wide */
    SETOPT(h, rc, CURLOPT_NOSIGNAL, 1L);
    SETOPT(h, rc, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    SETOPT(h, rc, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
    SETOPT(h, rc, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(h, rc, CURLOPT_USERAGENT, USER_AGENT);
    SETOPT(h, rc, CURLOPT_WRITEFUNCTION, discard);
    SETOPT(h, rc, CURLOPT_NOPROGRESS, 0L);
    SETOPT(h, rc, CURLOPT_XFERINFOFUNCTION, abort_when_stopping);
    SETOPT(h, rc, CURLOPT_XFERINFODATA, (void *)c);
    /* 7.85 deprecated the bitmask (a warning, so an error here) */
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(h, rc, CURLOPT_PROTOCOLS_STR, c->kind == NOTIFY_WEBHOOK ? "http,https" : "smtp,smtps");
#else
    SETOPT(h, rc, CURLOPT_PROTOCOLS,
           c->kind == NOTIFY_WEBHOOK ? (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)
                                     : (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
    return rc;
}

static CURLcode setup_webhook(CURL *h, const struct item *it, struct curl_slist *headers)
{
    CURLcode rc = CURLE_OK;

    SETOPT(h, rc, CURLOPT_POSTFIELDS, it->data);
    SETOPT(h, rc, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)it->len);
    SETOPT(h, rc, CURLOPT_HTTPHEADER, headers);
    return rc;
}

static CURLcode setup_email(CURL *h, const struct chan *c, struct upload *up)
{
    CURLcode rc = CURLE_OK;

    SETOPT(h, rc, CURLOPT_MAIL_FROM, c->mail_from);
    SETOPT(h, rc, CURLOPT_MAIL_RCPT, c->rcpt);
    SETOPT(h, rc, CURLOPT_UPLOAD, 1L);
    SETOPT(h, rc, CURLOPT_READFUNCTION, read_upload);
    SETOPT(h, rc, CURLOPT_READDATA, up);
    SETOPT(h, rc, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->left);
    /* alerts are rare: do not hold a relay connection open between them
     * (closing also sends QUIT) */
    SETOPT(h, rc, CURLOPT_FORBID_REUSE, 1L);
    if (c->require_tls)
        SETOPT(h, rc, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (c->username)
        SETOPT(h, rc, CURLOPT_USERNAME, c->username);
    if (c->password)
        SETOPT(h, rc, CURLOPT_PASSWORD, c->password);
    return rc;
}

static void classify_webhook(CURL *h, CURLcode rc, struct outcome *o)
{
    curl_off_t after = 0;

    if (rc != CURLE_OK) {
        o->retry = transient(rc);
        return;
    }
    if (o->status >= 200 && o->status < 300) {
        o->ok = true;
        return;
    }
    /* 4xx says our request is wrong (URL, token): retrying will not help.
     * 3xx too: redirects are not followed. */
    o->retry = o->status == 429 || o->status >= 500;
    snprintf(o->error, sizeof o->error, "HTTP %ld", o->status);
    if (o->retry && curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
        o->retry_after_ms = after >= NOTIFY_BACKOFF_MAX_MS / 1000 ? NOTIFY_BACKOFF_MAX_MS
                                                                  : (unsigned)after * 1000;
}

static void classify_email(CURLcode rc, struct outcome *o)
{
    if (rc == CURLE_OK)
        o->ok = true;
    else if (o->status >= 500 && o->status < 600)
        o->retry = false; /* permanent refusal */
    else if (o->status >= 400 && o->status < 500)
        o->retry = true;  /* transient refusal (greylisting, full queue) */
    else
        o->retry = transient(rc); /* failed between replies */
}

static void attempt(const struct chan *c, const struct item *it, struct curl_slist *headers,
                    struct outcome *o)
{
    struct upload up = { it->data, it->len };
    CURL *h = c->curl;
    CURLcode rc;

    memset(o, 0, sizeof *o);
    rc = setup_common(h, c, o->error);
    if (rc == CURLE_OK)
        rc = c->kind == NOTIFY_WEBHOOK ? setup_webhook(h, it, headers) : setup_email(h, c, &up);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(h);
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &o->status) != CURLE_OK)
        o->status = 0;
    if (c->kind == NOTIFY_WEBHOOK)
        classify_webhook(h, rc, o);
    else
        classify_email(rc, o);
    /* drop the pointers into this frame and the message; keeps connections */
    curl_easy_reset(h);

    if (o->ok) {
        o->error[0] = '\0';
        return;
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        snprintf(o->error, sizeof o->error, "aborted: notifier stopped");
    if (!o->error[0])
        snprintf(o->error, sizeof o->error, "%s", curl_easy_strerror(rc));
    /* curl does not echo secrets, but a report must never carry one */
    if ((c->token && strstr(o->error, c->token)) ||
        (c->password && *c->password && strstr(o->error, c->password)))
        snprintf(o->error, sizeof o->error, "%s", curl_easy_strerror(rc));
}

/* ------------------------------------------------------------------ */
/* The delivery thread                                                 */

/* Headers of one webhook POST; NULL on ENOMEM. */
static struct curl_slist *webhook_headers(const struct chan *c, const struct item *it)
{
    static const char prefix[] = "X-WGM-Signature: sha256=";
    char sig[sizeof prefix - 1 + crypto_auth_hmacsha256_BYTES * 2 + 1];
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    struct curl_slist *l = NULL, *n;
    const char *add[4];
    size_t i, k = 0;

    add[k++] = "Content-Type: application/json";
    add[k++] = "Expect:"; /* no 100-continue round trip for big bodies */
    if (c->auth_header)
        add[k++] = c->auth_header;
    if (c->hmac_key) {
        crypto_auth_hmacsha256_init(&st, c->hmac_key, c->hmac_key_len);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)it->data, it->len);
        crypto_auth_hmacsha256_final(&st, mac);
        sodium_memzero(&st, sizeof st);
        memcpy(sig, prefix, sizeof prefix - 1);
        sodium_bin2hex(sig + sizeof prefix - 1, sizeof sig - (sizeof prefix - 1), mac, sizeof mac);
        add[k++] = sig;
    }
    for (i = 0; i < k; i++) {
        n = curl_slist_append(l, add[i]);
        if (!n) {
            slist_wipe_free(l);
            return NULL;
        }
        l = n;
    }
    return l;
}

static void report(const struct chan *c, bool ok, int attempts, long status, const char *error)
{
    struct notify_result r = {
        .channel = c->name,
        .delivered = ok,
        .attempts = attempts,
        .status = status,
        .error = ok ? NULL : error,
    };

    if (c->nf->report)
        c->nf->report(&r, c->nf->user);
}

/* Wait @ms unless notifier_free() says stop.  @return false when stopped. */
static bool backoff(struct chan *c, unsigned ms)
{
    struct timespec dl;
    bool stop;

    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->lock);
    /* woken by notifier_send too: only the deadline or stop ends the wait */
    while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &dl) == 0)
        ;
    stop = c->stop;
    pthread_mutex_unlock(&c->lock);
    return !stop;
}

/* Attempts until delivered, refused for good, out of retries or stopped;
 * @o holds the last outcome.  @return the number of attempts. */
static int try_all(struct chan *c, const struct item *it, struct curl_slist *headers,
                   struct outcome *o)
{
    unsigned delay = c->backoff_ms, wait;
    int n = 0;

    for (;;) {
        attempt(c, it, headers, o);
        n++;
        if (o->ok || !o->retry || (unsigned)n > c->retries)
            return n;
        wait = o->retry_after_ms > delay ? o->retry_after_ms : delay;
        if (!backoff(c, wait))
            return n;
        delay = delay > NOTIFY_BACKOFF_MAX_MS / 2 ? NOTIFY_BACKOFF_MAX_MS : delay * 2;
        pthread_mutex_lock(&c->lock);
        c->stats.retried++;
        pthread_mutex_unlock(&c->lock);
    }
}

static void deliver(struct chan *c, const struct item *it)
{
    struct curl_slist *headers = NULL;
    struct outcome o;
    int n = 0;

    memset(&o, 0, sizeof o);
    if (c->kind == NOTIFY_WEBHOOK)
        headers = webhook_headers(c, it);
    if (c->kind == NOTIFY_WEBHOOK && !headers)
        snprintf(o.error, sizeof o.error, "%s", curl_easy_strerror(CURLE_OUT_OF_MEMORY));
    else
        n = try_all(c, it, headers, &o);
    slist_wipe_free(headers);

    /* counters first, so a report's reader sees them already updated */
    pthread_mutex_lock(&c->lock);
    if (o.ok)
        c->stats.delivered++;
    else
        c->stats.failed++;
    pthread_mutex_unlock(&c->lock);
    report(c, o.ok, n, o.status, o.error);
}

static void *chan_main(void *arg)
{
    struct chan *c = arg;
    struct item *it;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->stop && !c->head)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->stop)
            break;
        it = c->head;
        c->head = it->next;
        if (!c->head)
            c->tail = NULL;
        c->len--;
        pthread_mutex_unlock(&c->lock);
        deliver(c, it);
        item_free(it);
        pthread_mutex_lock(&c->lock);
    }
    /* stopping: what is still queued is dropped, and reported as such */
    while ((it = c->head)) {
        c->head = it->next;
        c->len--;
        c->stats.dropped++;
        pthread_mutex_unlock(&c->lock);
        report(c, false, 0, 0, "dropped: notifier stopped");
        item_free(it);
        pthread_mutex_lock(&c->lock);
    }
    c->tail = NULL;
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Public functions                                                    */

static struct chan *find(struct notifier *nf, const char *name)
{
    size_t i;

    for (i = 0; name && i < nf->n; i++)
        if (!strcmp(nf->chans[i].name, name))
            return &nf->chans[i];
    return NULL;
}

int notifier_new(const struct notify_channel *channels, size_t n, size_t queue_max,
                 notify_report_fn report_fn, void *user, struct notifier **out)
{
    struct notifier *nf = NULL;
    sigset_t all, old;
    size_t i, j;
    int r;

    if (!out || (n && !channels))
        return -EINVAL;
    *out = NULL;
    pthread_once(&libs_once, libs_init);
    if (libs_result < 0)
        return libs_result;
    for (i = 0; i < n; i++) {
        r = check_channel(&channels[i]);
        if (r < 0)
            return r;
        for (j = 0; j < i; j++)
            if (!strcmp(channels[i].name, channels[j].name))
                return -EINVAL;
    }

    nf = calloc(1, sizeof *nf);
    if (!nf)
        return -ENOMEM;
    nf->report = report_fn;
    nf->user = user;
    nf->chans = calloc(n ? n : 1, sizeof *nf->chans);
    if (!nf->chans) {
        r = -ENOMEM;
        goto fail;
    }
    for (i = 0; i < n; i++) {
        nf->n = i + 1;
        r = chan_init(&nf->chans[i], &channels[i], queue_max ? queue_max : NOTIFY_DEFAULT_QUEUE_MAX,
                      nf);
        if (r < 0)
            goto fail;
    }
    /* delivery threads take no signals: the host's handlers run elsewhere,
     * and a SIGPIPE from a closed socket stays pending, harmless */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0, r = 0; i < n && !r; i++) {
        r = -pthread_create(&nf->chans[i].thread, NULL, chan_main, &nf->chans[i]);
        nf->chans[i].running = !r;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r < 0)
        goto fail;
    *out = nf;
    return 0;
fail:
    notifier_free(nf);
    return r;
}

int notifier_send(struct notifier *nf, const char *channel, const struct notify_msg *msg)
{
    struct item *it = NULL;
    struct chan *c;
    int r = 0;

    if (!nf || !channel || !msg)
        return -EINVAL;
    c = find(nf, channel);
    if (!c)
        return -ENOENT;
    /* built before taking the lock: the thread never waits on a caller */
    r = build_item(c, msg, &it);
    if (r < 0)
        return r;
    pthread_mutex_lock(&c->lock);
    if (c->stop) {
        r = -ESHUTDOWN;
    } else if (c->len >= c->max) {
        c->stats.dropped++;
        r = -EAGAIN;
    } else {
        if (c->tail)
            c->tail->next = it;
        else
            c->head = it;
        c->tail = it;
        c->len++;
        c->stats.queued++;
        pthread_cond_signal(&c->wake);
        it = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    item_free(it);
    return r;
}

void notifier_stats(struct notifier *nf, const char *channel, struct notify_stats *out)
{
    struct chan *c;
    size_t i;

    memset(out, 0, sizeof *out);
    for (i = 0; nf && i < nf->n; i++) {
        c = &nf->chans[i];
        if (channel && strcmp(c->name, channel))
            continue;
        pthread_mutex_lock(&c->lock);
        out->queued += c->stats.queued;
        out->delivered += c->stats.delivered;
        out->failed += c->stats.failed;
        out->retried += c->stats.retried;
        out->dropped += c->stats.dropped;
        pthread_mutex_unlock(&c->lock);
    }
}

struct notifier *notifier_free(struct notifier *nf)
{
    struct chan *c;
    size_t i;

    if (!nf)
        return NULL;
    for (i = 0; i < nf->n; i++) {
        c = &nf->chans[i];
        if (!c->running)
            continue;
        pthread_mutex_lock(&c->lock);
        /* atomic: the transfer's progress callback reads it without the lock */
        __atomic_store_n(&c->stop, true, __ATOMIC_RELAXED);
        pthread_cond_broadcast(&c->wake);
        pthread_mutex_unlock(&c->lock);
    }
    for (i = 0; i < nf->n; i++)
        if (nf->chans[i].running)
            pthread_join(nf->chans[i].thread, NULL);
    for (i = 0; i < nf->n; i++)
        chan_destroy(&nf->chans[i]);
    free(nf->chans);
    free(nf);
    return NULL;
}
