/* core/auth/auth: the authentication subsystem's state and start-up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/password.h"
#include "auth/users.h"
#include "conf.h"
#include "daemon.h"
#include "secret.h"

struct wgm_auth {
    unsigned char *jwt_key; /* sodium_malloc: locked, wiped on free */
};

const unsigned char *wgm_auth_jwt_key(struct wgm_daemon *d, size_t *len)
{
    *len = WGM_JWT_KEY_BYTES;
    return d->auth->jwt_key;
}

int wgm_auth_start(struct wgm_daemon *d, const char *admin_password, char *err, size_t errlen)
{
    char path[4096 + 16];
    int r;

    d->auth = calloc(1, sizeof(*d->auth));
    if (!d->auth || !(d->auth->jwt_key = sodium_malloc(WGM_JWT_KEY_BYTES))) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(path, sizeof(path), "%s/jwt.key", d->state_dir);
    if ((r = wgm_keyfile_load(path, d->auth->jwt_key, WGM_JWT_KEY_BYTES, err, errlen)) < 0)
        return r;
    sodium_mprotect_readonly(d->auth->jwt_key);
    /* Half the workers at most hash, so the rest keep serving everything
     * else during a login flood. */
    {
        long long n = wgm_conf_get_int(d->conf, "auth", "hash_concurrency", 0);
        if (n <= 0)
            n = wgm_conf_get_int(d->conf, "http", "threads", 4) / 2;
        wgm_password_limit(n < 1 ? 1 : (unsigned)n);
    }
    return wgm_users_bootstrap(d, admin_password, err, errlen);
}

void wgm_auth_stop(struct wgm_daemon *d)
{
    if (!d->auth)
        return;
    wgm_apikeys_flush(d);
    sodium_free(d->auth->jwt_key);
    free(d->auth);
    d->auth = NULL;
}
