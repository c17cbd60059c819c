/* plugins/monitor/channels: the notification channels of the [monitor]
 * section ("webhook" and "email") turned into a notifier (notify.c).
 * Secrets never sit in the configuration in clear: each is either read
 * from a file (webhook_token_file, webhook_hmac_key_file,
 * email_password_file), which must not be readable by group or others, or
 * given sealed ("sealed:<token>" from `wgmd --seal`), opened with the
 * master key.  Delivery results are logged without secrets. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wgm/input.h>
#include "monitor.h"
#include "notify.h"

#define SECRET_MAX 4096

struct secret {
    char *data;
    size_t len;
    bool from_host; /* opened by the host: freed with free_secret */
};

static const char *conf(const char *key)
{
    const char *v = mon.host->conf_get(mon.ctx, key);
    return v && *v ? v : NULL;
}

static void secret_free(struct secret *s)
{
    if (!s->data)
        return;
    if (s->from_host)
        mon.host->free_secret(s->data, s->len);
    else {
        explicit_bzero(s->data, s->len);
        free(s->data);
    }
    memset(s, 0, sizeof(*s));
}

/* The file's content without one trailing newline. */
static int read_secret_file(const char *path, struct secret *out)
{
    struct stat stt;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

    if (fd < 0)
        return -errno;
    if (fstat(fd, &stt) < 0) {
        r = -errno;
        goto out;
    }
    if (stt.st_mode & (S_IRWXG | S_IRWXO)) {
        MON_LOG(WGM_LOG_ERROR, "%s is readable by group or others; chmod 600 it", path);
        r = -EPERM;
        goto out;
    }
    if (!(out->data = malloc(SECRET_MAX + 1))) {
        r = -ENOMEM;
        goto out;
    }
    n = read(fd, out->data, SECRET_MAX);
    if (n < 0) {
        r = -errno;
        goto out;
    }
    while (n > 0 && (out->data[n - 1] == '\n' || out->data[n - 1] == '\r'))
        n--;
    out->data[n] = '\0';
    out->len = (size_t)n;
out:
    close(fd);
    if (r < 0 && out->data) {
        free(out->data);
        out->data = NULL;
    }
    return r;
}

/* @key (sealed value) or @key_file; absent is fine (0 with data NULL). */
static int load_secret(const char *key, const char *key_file, struct secret *out)
{
    const char *sealed = conf(key), *file = conf(key_file);
    int r;

    memset(out, 0, sizeof(*out));
    if (sealed && file) {
        MON_LOG(WGM_LOG_ERROR, "[monitor] set %s or %s, not both", key, key_file);
        return -EINVAL;
    }
    if (file) {
        if ((r = read_secret_file(file, out)) < 0)
            MON_LOG(WGM_LOG_ERROR, "[monitor] %s: cannot read %s: %s", key_file, file, strerror(-r));
        return r;
    }
    if (!sealed)
        return 0;
    if (strncmp(sealed, "sealed:", 7) != 0) {
        MON_LOG(WGM_LOG_ERROR, "[monitor] %s must be sealed (\"sealed:...\" from `wgmd --seal`) or use %s", key,
                key_file);
        return -EINVAL;
    }
    if ((r = mon.host->secret_open(mon.ctx, sealed + 7, &out->data, &out->len)) < 0) {
        MON_LOG(WGM_LOG_ERROR, "[monitor] %s cannot be opened with this state dir's master key", key);
        return r;
    }
    out->from_host = true;
    return 0;
}

static void report(const struct notify_result *r, void *user)
{
    (void)user;
    if (r->delivered)
        MON_LOG(WGM_LOG_INFO, "notification sent through %s (%d attempt(s))", r->channel, r->attempts);
    else
        MON_LOG(WGM_LOG_WARN, "notification through %s failed after %d attempt(s): %s", r->channel, r->attempts,
                r->error ? r->error : "unknown error");
}

/* An integer key (plugin.c has checked it is digits within its bounds). */
static unsigned conf_uint(const char *key)
{
    long long v = 0;
    wgm_in_parse_ll(conf(key), 0, UINT_MAX, &v);
    return (unsigned)v;
}

static bool is_yes(const char *v)
{
    return v && (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"));
}

static char *recipients_buf;
static const char *recipients[32];

int mon_channels_init(void)
{
    struct notify_channel ch[2];
    struct secret token = {0}, hmac = {0}, password = {0};
    size_t n = 0, nto = 0;
    int r;

    memset(ch, 0, sizeof(ch));
    if ((r = load_secret("webhook_token", "webhook_token_file", &token)) < 0 ||
        (r = load_secret("webhook_hmac_key", "webhook_hmac_key_file", &hmac)) < 0 ||
        (r = load_secret("email_password", "email_password_file", &password)) < 0)
        goto out;
    if (conf("webhook_url")) {
        ch[n++] = (struct notify_channel){
            .name = "webhook", .kind = NOTIFY_WEBHOOK, .url = conf("webhook_url"),
            .timeout_ms = conf_uint("webhook_timeout_ms"), .retries = conf_uint("webhook_retries"),
            .backoff_ms = conf_uint("webhook_backoff_ms"), .bearer_token = token.data,
            .hmac_key = (const unsigned char *)hmac.data, .hmac_key_len = hmac.len};
    }
    if (conf("email_url")) {
        const char *to = conf("email_to");
        char *save = NULL;
        if (!to || !conf("email_from")) {
            MON_LOG(WGM_LOG_ERROR, "[monitor] email_url needs email_from and email_to");
            r = -EINVAL;
            goto out;
        }
        if (!(recipients_buf = strdup(to))) {
            r = -ENOMEM;
            goto out;
        }
        for (char *t = strtok_r(recipients_buf, ", ", &save); t && nto < 32; t = strtok_r(NULL, ", ", &save))
            recipients[nto++] = t;
        ch[n++] = (struct notify_channel){
            .name = "email", .kind = NOTIFY_EMAIL, .url = conf("email_url"),
            .timeout_ms = conf_uint("email_timeout_ms"), .retries = conf_uint("email_retries"),
            .backoff_ms = conf_uint("email_backoff_ms"), .mail_from = conf("email_from"), .mail_to = recipients,
            .n_mail_to = nto, .username = conf("email_username"), .password = password.data,
            .require_tls = is_yes(mon.host->conf_get(mon.ctx, "email_require_tls"))};
    }
    if (n && (r = notifier_new(ch, n, NOTIFY_DEFAULT_QUEUE_MAX, report, NULL, &mon.notifier)) < 0)
        MON_LOG(WGM_LOG_ERROR, "[monitor] the notification channels are not valid: %s", strerror(-r));
out:
    /* the notifier copied what it needs */
    secret_free(&token);
    secret_free(&hmac);
    secret_free(&password);
    free(recipients_buf);
    recipients_buf = NULL;
    return r < 0 ? r : 0;
}

void mon_channels_fini(void)
{
    mon.notifier = notifier_free(mon.notifier);
}

bool mon_channel_known(const char *name)
{
    if (strcmp(name, "webhook") == 0)
        return conf("webhook_url") != NULL;
    if (strcmp(name, "email") == 0)
        return conf("email_url") != NULL;
    return false;
}

/* Hand one message to every channel listed; never waits on the network. */
int mon_channels_send(json_t *channels, const char *subject, const char *text, const char *json)
{
    const struct notify_msg msg = {.subject = subject, .text = text, .json = json};
    size_t i;
    json_t *c;
    int r = 0;

    if (!mon.notifier)
        return 0;
    json_array_foreach(channels, i, c) {
        int rc = notifier_send(mon.notifier, json_string_value(c), &msg);
        if (rc < 0) {
            MON_LOG(WGM_LOG_WARN, "notification through %s not queued: %s", json_string_value(c),
                    rc == -EAGAIN ? "queue full" : strerror(-rc));
            r = rc;
        }
    }
    return r;
}
