/* plugins/wireguard/wgquick: what a person pastes into their WireGuard app. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "keys.h"
#include "store.h"
#include "wgquick.h"

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
    char b64[WG_KEY_B64_LEN], *buf = NULL;
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
    /* The endpoint is what clients dial: host, host:port or [v6]:port. */
    {
        const char *ep = h->stmt_column_text(st, 8);
        if (ep && *ep) {
            const char *close = strrchr(ep, ']');
            const char *colon = strrchr(ep, ':');
            bool has_port = ep[0] == '[' ? close && close[1] == ':' : colon && colon == strchr(ep, ':');
            if (has_port)
                fprintf(f, "Endpoint = %s\n", ep);
            else if (strchr(ep, ':') && ep[0] != '[')
                fprintf(f, "Endpoint = [%s]:%lld\n", ep, (long long)h->stmt_column_int(st, 9));
            else
                fprintf(f, "Endpoint = %s:%lld\n", ep, (long long)h->stmt_column_int(st, 9));
        }
    }
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
