/**
 * @file notify.h
 * @brief Notification channels of monitor.so: webhook and e-mail delivery.
 *
 * The alert evaluator hands a message to notifier_send(), which copies it
 * into the channel's bounded queue and returns at once; it never waits on
 * the network.  Each channel has its own queue and delivery thread, so a
 * dead webhook never delays mail and vice versa.  The thread delivers with
 * libcurl, retries transient failures with exponential backoff and reports
 * every message's final outcome through the callback given to
 * notifier_new().
 *
 * Every message notifier_send() accepted (returned 0) gets exactly one
 * report: delivered, failed, or dropped by notifier_free().
 *
 * Retry policy:
 *  - webhook: connection errors, timeouts, HTTP 5xx and 429 are retried;
 *    other statuses (4xx: a configuration error; 3xx: redirects are not
 *    followed) and TLS/URL errors fail at once.
 *  - e-mail: connection errors, timeouts and 4xx replies are retried;
 *    5xx replies fail at once.
 *
 * Nothing here logs.  Secrets (bearer token, HMAC key, SMTP password) are
 * copied into memory that is wiped when the notifier is freed, and never
 * appear in a report.  The URL is wiped too, since webhook URLs often carry
 * a secret path; credentials inside the URL are refused (use the fields).
 *
 * libcurl: notifier_new() calls curl_global_init() once per process (under
 * pthread_once), because on old libcurl it is not thread-safe; the rest of
 * the process must not call it concurrently with the first notifier_new().
 * curl_global_cleanup() is never called (other users may still need it).
 * Transfers use CURLOPT_NOSIGNAL, and the delivery threads block every
 * signal, so the host's handlers never run on them and a peer that hangs
 * up cannot kill the process with SIGPIPE.
 */
#ifndef WGM_MONITOR_NOTIFY_H
#define WGM_MONITOR_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a channel delivers to. */
enum notify_kind {
    NOTIFY_WEBHOOK, /**< HTTP(S) POST of the message's JSON */
    NOTIFY_EMAIL,   /**< SMTP(S) mail of the message's subject and text */
};

/** Used when notify_channel.timeout_ms is 0. */
#define NOTIFY_DEFAULT_TIMEOUT_MS 10000u
/** Used when notify_channel.backoff_ms is 0. */
#define NOTIFY_DEFAULT_BACKOFF_MS 1000u
/** Longest wait between two attempts, whatever the backoff or Retry-After. */
#define NOTIFY_BACKOFF_MAX_MS 60000u
/** Used when notifier_new()'s queue_max is 0. */
#define NOTIFY_DEFAULT_QUEUE_MAX 64u

/**
 * Configuration of one channel; borrowed by notifier_new(), which copies
 * every string and buffer (the caller may free or wipe its own at once).
 * Use designated initialisers: members may be appended.
 */
struct notify_channel {
    /** Name alert rules list in notification_channels ("webhook", "email");
     *  non-empty and unique within a notifier. */
    const char *name;
    enum notify_kind kind;
    /** Webhook: http:// or https:// URL.  E-mail: smtp:// or smtps:// URL of
     *  the relay.  No user:password@ in it (use username/password). */
    const char *url;
    /** Per attempt, connect and transfer together; 0 means
     *  #NOTIFY_DEFAULT_TIMEOUT_MS. */
    unsigned timeout_ms;
    /** Extra attempts after the first (0: a single attempt). */
    unsigned retries;
    /** Wait before the first retry, doubled for each one after, capped at
     *  #NOTIFY_BACKOFF_MAX_MS; 0 means #NOTIFY_DEFAULT_BACKOFF_MS. */
    unsigned backoff_ms;

    /* --- webhook --- */
    /** Secret or NULL: sent as "Authorization: Bearer <token>".  No CR/LF. */
    const char *bearer_token;
    /** Secret or NULL: adds "X-WGM-Signature: sha256=<hex HMAC-SHA256 of
     *  the body under this key>".  hmac_key_len must be > 0 when set. */
    const unsigned char *hmac_key;
    size_t hmac_key_len;

    /* --- e-mail --- */
    /** Envelope sender and From:, a bare address ("alerts@example.org"). */
    const char *mail_from;
    /** Envelope recipients and To:, bare addresses; n_mail_to >= 1. */
    const char *const *mail_to;
    size_t n_mail_to;
    /** SMTP AUTH user name, or NULL for no authentication. */
    const char *username;
    /** Secret or NULL: SMTP AUTH password. */
    const char *password;
    /** smtp:// only: insist on STARTTLS (fail rather than send in clear). */
    bool require_tls;
};

/**
 * One notification; borrowed by notifier_send(), which copies what the
 * channel needs.  A webhook POSTs @c json (Content-Type: application/json);
 * an e-mail sends @c subject and @c text (UTF-8, any line endings).
 */
struct notify_msg {
    const char *subject; /**< e-mail: required; no CR or LF */
    const char *text;    /**< e-mail: required */
    const char *json;    /**< webhook: required, sent byte for byte */
};

/** A message's final outcome, as given to the report callback. */
struct notify_result {
    const char *channel; /**< borrowed: the channel's name */
    bool delivered;
    /** Attempts made: 1 + retries done; 0 when dropped by notifier_free(). */
    int attempts;
    /** Last HTTP status or SMTP reply code seen, 0 if none. */
    long status;
    /** NULL when delivered; else borrowed, valid during the callback only:
     *  curl's message or "HTTP <status>", never containing a secret. */
    const char *error;
};

/**
 * Called from a channel's delivery thread once per accepted message, after
 * its final outcome (so calls for different channels may run concurrently).
 * It may call notifier_send() and notifier_stats(), never notifier_free().
 * @param r     borrowed, valid during the call only
 * @param user  the pointer given to notifier_new()
 */
typedef void (*notify_report_fn)(const struct notify_result *r, void *user);

/** A set of channels with their queues and threads; opaque. */
struct notifier;

/**
 * Validate the channels, copy them and start one delivery thread each.
 * @param channels   borrowed array of @p n channel configurations
 * @param queue_max  messages each channel may hold waiting (the one being
 *                   delivered not counted); 0 means #NOTIFY_DEFAULT_QUEUE_MAX
 * @param report     called per final outcome; NULL for none
 * @param user       passed to @p report
 * @param out        on 0, a new notifier (free with notifier_free())
 * @return 0; -EINVAL for a bad configuration (missing or malformed URL, a
 *         scheme wrong for the kind, credentials in the URL, e-mail without
 *         sender or recipients, an address or token with CR/LF, an empty or
 *         duplicate name); -ENOMEM; -EIO if libcurl or libsodium failed to
 *         initialise; or the errno of pthread_create.
 */
int notifier_new(const struct notify_channel *channels, size_t n, size_t queue_max,
                 notify_report_fn report, void *user, struct notifier **out);

/**
 * Queue @p msg for delivery on the channel named @p channel.  Never waits
 * on the network: it only takes the channel's queue lock, which the
 * delivery thread never holds across a transfer.
 * @param msg  borrowed; what the channel needs is copied
 * @return 0 queued; -ENOENT no such channel; -EAGAIN the queue is full
 *         (counted as dropped); -EINVAL a field the channel needs is NULL or
 *         the subject holds CR/LF; -ESHUTDOWN notifier_free() has begun;
 *         -ENOMEM.
 */
int notifier_send(struct notifier *nf, const char *channel, const struct notify_msg *msg);

/** Counters of one channel since notifier_new(). */
struct notify_stats {
    uint64_t queued;    /**< messages accepted by notifier_send() */
    uint64_t delivered; /**< messages delivered */
    uint64_t failed;    /**< messages given up on after their attempts */
    uint64_t retried;   /**< attempts after a message's first */
    uint64_t dropped;   /**< refused with -EAGAIN, or still queued at free */
};

/**
 * Read the counters of the channel named @p channel (borrowed), or their
 * sums over all channels when @p channel is NULL.  An unknown name gives
 * all zeros.  @p out is filled in (owned by the caller).
 */
void notifier_stats(struct notifier *nf, const char *channel, struct notify_stats *out);

/**
 * Stop and free: interrupt backoff waits and abort an attempt in flight at
 * once (reported as failed, "aborted: notifier stopped"), drop and report
 * what is still queued, join the threads, wipe the secrets and free
 * everything.  NULL is fine.
 * @return NULL, for `nf = notifier_free(nf);`
 */
struct notifier *notifier_free(struct notifier *nf);

#ifdef __cplusplus
}
#endif

#endif
