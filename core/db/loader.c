/*
 * Driver modules: the URL scheme picks db_<driver>.so in the driver
 * directory, so wgmd only maps libmariadb when a mysql:// URL is used.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "db/internal.h"

struct scheme {
    const char *name;
    const char *module;
};

static const struct scheme schemes[] = {
    { "sqlite", "db_sqlite.so" },
    { "mysql", "db_mysql.so" },
    { "mariadb", "db_mysql.so" },
};

/* The scheme of @url into @out: letters, digits, '+', '-', '.' before ':'.
 * Only that part is ever quoted back, so a password cannot show up. */
static int url_scheme(const char *url, char *out, size_t outlen)
{
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

    if (n == 0 || n >= outlen || url[n] != ':')
        return -EINVAL;
    memcpy(out, url, n);
    out[n] = '\0';
    return 0;
}

int wgm_db_driver_load(const char *url, const char *driver_dir,
                       const struct wgm_db_driver **drv, void **dl,
                       char *err, size_t errlen)
{
    char scheme[16], path[PATH_MAX];
    const char *module = NULL;
    const struct wgm_db_driver *d;
    void *h;
    int n;

    *drv = NULL;
    *dl = NULL;
    if (url_scheme(url, scheme, sizeof(scheme)) < 0) {
        wgm_db_set_err(err, errlen, NULL,
                       "database URL has no scheme (expected sqlite:// or mysql://)");
        return -EINVAL;
    }
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strcasecmp(scheme, schemes[i].name) == 0)
            module = schemes[i].module;
    if (!module) {
        wgm_db_set_err(err, errlen, NULL,
                       "unsupported database URL scheme '%s' (expected sqlite:// or mysql://)",
                       scheme);
        return -EPROTONOSUPPORT;
    }
    if (!driver_dir || !*driver_dir)
        driver_dir = ".";
    n = snprintf(path, sizeof(path), "%s/%s", driver_dir, module);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        wgm_db_set_err(err, errlen, NULL, "driver directory path too long");
        return -ENAMETOOLONG;
    }
    /* Check first: dlopen's message for a missing file is less clear. */
    if (access(path, R_OK) < 0) {
        int e = errno;

        wgm_db_set_err(err, errlen, NULL, "database driver %s: %s", path, strerror(e));
        return -e;
    }
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();

        wgm_db_set_err(err, errlen, NULL, "cannot load database driver: %s",
                       why ? why : path);
        return -ENOEXEC;
    }
    d = dlsym(h, WGM_DB_DRIVER_SYMBOL);
    if (!d) {
        wgm_db_set_err(err, errlen, NULL, "database driver %s does not export %s",
                       path, WGM_DB_DRIVER_SYMBOL);
        dlclose(h);
        return -ENOEXEC;
    }
    if (d->abi != WGM_DB_DRIVER_ABI) {
        wgm_db_set_err(err, errlen, NULL, "database driver %s has ABI %u, wgmd wants %u",
                       path, (unsigned)d->abi, (unsigned)WGM_DB_DRIVER_ABI);
        dlclose(h);
        return -ENOEXEC;
    }
    if (!d->dialect || !d->connect || !d->disconnect || !d->ping || !d->server_version ||
        !d->exec || !d->errmsg || !d->prepare || !d->bind_int || !d->bind_double ||
        !d->bind_text || !d->bind_blob || !d->bind_null || !d->step || !d->reset ||
        !d->column_count || !d->column_name || !d->column_type || !d->column_int ||
        !d->column_double || !d->column_text || !d->column_blob || !d->changes ||
        !d->last_id || !d->finalize) {
        wgm_db_set_err(err, errlen, NULL, "database driver %s is incomplete", path);
        dlclose(h);
        return -ENOEXEC;
    }
    *drv = d;
    *dl = h;
    return 0;
}

void wgm_db_driver_unload(void *dl)
{
    if (dl)
        dlclose(dl);
}
