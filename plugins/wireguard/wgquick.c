/* plugins/wireguard/wgquick: what a person pastes into their WireGuard app. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "endpoint.h"
#include "keys.h"
#include "store.h"
#include "wgquick.h"

static pthread_mutex_t detect_lock = PTHREAD_MUTEX_INITIALIZER;
static char detected[INET6_ADDRSTRLEN]; /* last detected address, for logging changes */
static bool detect_logged;              /* the first result is logged too, even "none" */

static bool conf_yes(const char *v)
{
    return v && (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"));
}

int wg_public_host(char *buf, size_t len)
{
    const char *conf = wg.host->conf_get(wg.ctx, "public_endpoint");
    char now[INET6_ADDRSTRLEN];
    int r;

    if (conf && *conf) {
        snprintf(buf, len, "%s", conf);
        return 0;
    }
    if (!conf_yes(wg.host->conf_get(wg.ctx, "public_endpoint_auto")))
        return -ENOENT;
    r = wg_endpoint_detect(now, sizeof(now));
    if (r < 0)
        now[0] = '\0';
    /* Read live on every render; logged when it changes (first time included). */
    pthread_mutex_lock(&detect_lock);
    if (!detect_logged || strcmp(now, detected) != 0) {
        detect_logged = true;
        if (now[0])
            WG_LOG(WGM_LOG_INFO, "public endpoint: %s of this host (detected; set [wireguard] public_endpoint to override)",
                   now);
        else
            WG_LOG(WGM_LOG_WARN, "public endpoint: no usable address on this host; client configs need a server "
                                 "endpoint or [wireguard] public_endpoint");
        snprintf(detected, sizeof(detected), "%s", now);
    }
    pthread_mutex_unlock(&detect_lock);
    if (!now[0])
        return -ENOENT;
    snprintf(buf, len, "%s", now);
    return 0;
}

int wg_public_endpoint_init(void)
{
    const char *conf = wg.host->conf_get(wg.ctx, "public_endpoint");
    char buf[WG_ENDPOINT_LEN];

    if (conf && *conf) {
        if (!wg_endpoint_host_valid(conf)) {
            WG_LOG(WGM_LOG_ERROR, "public_endpoint: '%s' is not a host name or an IP address (no port: each "
                                  "server's listen_port is added)", conf);
            return -EINVAL;
        }
        WG_LOG(WGM_LOG_INFO, "public endpoint: %s (configured)", conf);
        return 0;
    }
    if (!conf_yes(wg.host->conf_get(wg.ctx, "public_endpoint_auto"))) {
        WG_LOG(WGM_LOG_INFO, "public endpoint: not set and detection is off; servers need an endpoint of their own");
        return 0;
    }
    wg_public_host(buf, sizeof(buf));
    return 0;
}

int wg_server_endpoint(const char *server_ep, unsigned port, char *buf, size_t len)
{
    char host[WG_ENDPOINT_LEN];
    if (server_ep && *server_ep)
        return wg_endpoint_render(server_ep, port, buf, len);
    if (wg_public_host(host, sizeof(host)) < 0)
        return -EDESTADDRREQ;
    return wg_endpoint_render(host, port, buf, len);
}

static void join_array(FILE *f, const char *text)
{
    json_t *a = json_loads(text ? text : "[]", 0, NULL), *v;
    size_t i;
    json_array_foreach(a, i, v) fprintf(f, "%s%s", i ? ", " : "", json_string_value(v));
    json_decref(a);
}

int wg_client_config(int64_t client_id, char **out)
{
    const struct wgm_host *h = wg.host;
    struct wgm_db *db = h->db_acquire(wg.ctx);
    struct wgm_stmt *st = NULL;
    uint8_t priv[WG_KEY_LEN], psk[WG_KEY_LEN];
    char b64[WG_KEY_B64_LEN], *buf = NULL, ep[WG_ENDPOINT_LEN];
    size_t len = 0;
    FILE *f = NULL;
    int r;

    if (!db)
        return -EIO;
    r = h->db_prepare(db,
                      "SELECT c.private_key, c.preshared_key, c.ipv4_address, c.ipv6_address, c.allowed_ips,"
                      " c.dns_servers, c.persistent_keepalive, s.public_key, s.endpoint, s.listen_port, s.mtu"
                      " FROM wg_clients c JOIN wg_servers s ON s.id = c.server_id WHERE c.id = ?",
                      &st);
    if (r < 0)
        goto out;
    h->stmt_bind_int(st, 1, client_id);
    if ((r = h->stmt_step(st)) != WGM_DB_ROW) {
        r = r < 0 ? r : -ENOENT;
        goto out;
    }
    if (wg_store_open_key(h->stmt_column_text(st, 0), priv) < 0) {
        r = -ENODATA;
        goto out;
    }
    f = open_memstream(&buf, &len);
    if (!f) {
        r = -ENOMEM;
        goto out;
    }
    wg_key_to_base64(priv, b64);
    fprintf(f, "[Interface]\nPrivateKey = %s\nAddress = ", b64);
    {
        const char *v4 = h->stmt_column_text(st, 2), *v6 = h->stmt_column_text(st, 3);
        fprintf(f, "%s%s%s\n", v4 ? v4 : "", v4 && v6 ? ", " : "", v6 ? v6 : "");
    }
    if (strcmp(h->stmt_column_text(st, 5) ? h->stmt_column_text(st, 5) : "[]", "[]") != 0) {
        fputs("DNS = ", f);
        join_array(f, h->stmt_column_text(st, 5));
        fputc('\n', f);
    }
    fprintf(f, "MTU = %lld\n\n[Peer]\nPublicKey = %s\n", (long long)h->stmt_column_int(st, 10),
            h->stmt_column_text(st, 7));
    if (wg_store_open_key(h->stmt_column_text(st, 1), psk) == 0) {
        wg_key_to_base64(psk, b64);
        fprintf(f, "PresharedKey = %s\n", b64);
    }
    /* A config without an Endpoint cannot connect: none is rendered. */
    if (wg_server_endpoint(h->stmt_column_text(st, 8), (unsigned)h->stmt_column_int(st, 9), ep, sizeof(ep)) < 0) {
        r = -EDESTADDRREQ;
        goto out;
    }
    fprintf(f, "Endpoint = %s\n", ep);
    fputs("AllowedIPs = ", f);
    join_array(f, h->stmt_column_text(st, 4));
    fputc('\n', f);
    if (h->stmt_column_int(st, 6) > 0)
        fprintf(f, "PersistentKeepalive = %lld\n", (long long)h->stmt_column_int(st, 6));
    if (fclose(f) != 0) {
        f = NULL;
        r = -ENOMEM;
        goto out;
    }
    f = NULL;
    *out = buf;
    buf = NULL;
    r = 0;
out:
    if (f)
        fclose(f);
    if (buf) {
        explicit_bzero(buf, len);
        free(buf);
    }
    explicit_bzero(priv, sizeof(priv));
    explicit_bzero(psk, sizeof(psk));
    explicit_bzero(b64, sizeof(b64));
    h->stmt_free(st);
    h->db_release(db);
    return r;
}
