/* Config: files, conf.d order, env overrides, validation with file:line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "conf.h"
#include "tap.h"

static char dir[] = "/tmp/wgm-test-conf.XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int load(const char *main_text, char *err, size_t errlen, struct wgm_conf **out)
{
    char path[512];
    int r;
    write_file("wgm.conf", main_text);
    snprintf(path, sizeof(path), "%s/wgm.conf", dir);
    *out = wgm_conf_new();
    r = wgm_conf_load(*out, path, err, errlen);
    if (r == 0)
        r = wgm_conf_apply_core(*out, NULL, NULL, err, errlen);
    return r;
}

int main(void)
{
    struct wgm_conf *c;
    char err[512], path[600];

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/conf.d", dir);
    mkdir(path, 0700);

    /* defaults */
    is_int(load("[http]\n", err, sizeof(err), &c), 0, "empty section loads");
    is_str(wgm_conf_get(c, "http", "listen"), "127.0.0.1:8080", "default listen");
    is_str(wgm_conf_where(c, "http", "listen"), "default", "default is marked");
    is_int(wgm_conf_get_int(c, "http", "threads", 0), 4, "default threads");
    c = wgm_conf_free(c);

    /* file values, indentation, comments */
    is_int(load("; comment\n[http]\n  listen = 127.0.0.1:9000 ; inline\nthreads=8\n[log]\nlevel = debug\n", err,
                sizeof(err), &c), 0, "values load");
    is_str(wgm_conf_get(c, "http", "listen"), "127.0.0.1:9000", "value with inline comment and indent");
    snprintf(path, sizeof(path), "%s/wgm.conf:3", dir);
    is_str(wgm_conf_where(c, "http", "listen"), path, "where names file:line");
    is_str(wgm_conf_get(c, "log", "level"), "debug", "enum value");
    c = wgm_conf_free(c);

    /* conf.d: lexical order, later wins */
    write_file("conf.d/20-b.conf", "[http]\nthreads = 20\n");
    write_file("conf.d/10-a.conf", "[http]\nthreads = 10\nbody_limit = 2048\n");
    write_file("conf.d/ignored.txt", "[http]\nthreads = 99\n");
    is_int(load("[http]\nthreads = 2\n", err, sizeof(err), &c), 0, "conf.d loads");
    is_int(wgm_conf_get_int(c, "http", "threads", 0), 20, "later drop-in wins");
    is_int(wgm_conf_get_int(c, "http", "body_limit", 0), 2048, "earlier drop-in keys kept");
    c = wgm_conf_free(c);
    snprintf(path, sizeof(path), "%s/conf.d/20-b.conf", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/conf.d/10-a.conf", dir);
    unlink(path);

    /* environment */
    setenv("WGM_HTTP_THREADS", "16", 1);
    setenv("WGM_LISTEN", "127.0.0.1:7000", 1);
    is_int(load("[http]\nthreads = 2\nlisten = 127.0.0.1:1\n", err, sizeof(err), &c), 0, "env loads");
    is_int(wgm_conf_get_int(c, "http", "threads", 0), 16, "WGM_HTTP_THREADS overrides file");
    is_str(wgm_conf_get(c, "http", "listen"), "127.0.0.1:7000", "short form WGM_LISTEN");
    is_str(wgm_conf_where(c, "http", "threads"), "env WGM_HTTP_THREADS", "env is named");
    c = wgm_conf_free(c);
    setenv("WGM_HTTP_LISTEN", "127.0.0.1:7001", 1);
    is_int(load("[http]\n", err, sizeof(err), &c), 0, "both forms");
    is_str(wgm_conf_get(c, "http", "listen"), "127.0.0.1:7001", "long form beats short form");
    c = wgm_conf_free(c);
    setenv("WGM_HTTP_THREADS", "zero", 1);
    is_int(load("[http]\n", err, sizeof(err), &c), -EINVAL, "bad env value refused");
    ok(strstr(err, "env WGM_HTTP_THREADS") != NULL, "error names the variable: %s", err);
    c = wgm_conf_free(c);
    unsetenv("WGM_HTTP_THREADS");
    unsetenv("WGM_LISTEN");
    unsetenv("WGM_HTTP_LISTEN");

    /* errors name file and line */
    is_int(load("[http]\nthreads = 2\nlisen = x\n", err, sizeof(err), &c), -EINVAL, "unknown key refused");
    ok(strstr(err, "wgm.conf:3") && strstr(err, "lisen"), "unknown key at file:line: %s", err);
    c = wgm_conf_free(c);
    is_int(load("[http]\nthreads = 1000\n", err, sizeof(err), &c), -EINVAL, "out of range refused");
    ok(strstr(err, "wgm.conf:2") && strstr(err, "threads"), "range error at file:line: %s", err);
    c = wgm_conf_free(c);
    is_int(load("[log]\nlevel = loud\n", err, sizeof(err), &c), -EINVAL, "bad enum refused");
    ok(strstr(err, "error|warn|info|debug") != NULL, "enum error lists choices: %s", err);
    c = wgm_conf_free(c);
    is_int(load("[log]\naccess_log = maybe\n", err, sizeof(err), &c), -EINVAL, "bad bool refused");
    c = wgm_conf_free(c);
    is_int(load("[nonsense]\nx = 1\n", err, sizeof(err), &c), -EINVAL, "unknown section refused");
    ok(strstr(err, "wgm.conf:1") && strstr(err, "[nonsense]"), "section error at its header line: %s", err);
    c = wgm_conf_free(c);
    is_int(load("[http]\n[empty]\n", err, sizeof(err), &c), -EINVAL, "empty unknown section refused");
    ok(strstr(err, "wgm.conf:2") != NULL, "empty section at its line: %s", err);
    c = wgm_conf_free(c);
    is_int(load("[Bad Name]\nx = 1\n", err, sizeof(err), &c), -EINVAL, "bad section name refused");
    c = wgm_conf_free(c);
    is_int(load("[http]\nthis is not ini\n", err, sizeof(err), &c), -EINVAL, "syntax error refused");
    ok(strstr(err, "wgm.conf:2") != NULL, "syntax error at line 2: %s", err);
    c = wgm_conf_free(c);
    is_int(load("key = 1\n", err, sizeof(err), &c), -EINVAL, "key outside section refused");
    c = wgm_conf_free(c);
    {
        char big[600] = "[http]\nlisten = ";
        memset(big + strlen(big), 'x', 400);
        strcat(big, "\n");
        is_int(load(big, err, sizeof(err), &c), -EINVAL, "over-long line refused");
        ok(strstr(err, "longer than") != NULL, "long line reason: %s", err);
        c = wgm_conf_free(c);
    }
    write_file("conf.d/50-bad.conf", "[http]\nthreads = -1\n");
    is_int(load("[http]\n", err, sizeof(err), &c), -EINVAL, "bad drop-in refused");
    ok(strstr(err, "50-bad.conf:2") != NULL, "drop-in error names its file: %s", err);
    c = wgm_conf_free(c);
    snprintf(path, sizeof(path), "%s/conf.d/50-bad.conf", dir);
    unlink(path);

    c = wgm_conf_new();
    is_int(wgm_conf_load(c, "/nonexistent/wgm.conf", err, sizeof(err)), -ENOENT, "missing main file");
    c = wgm_conf_free(c);

    /* plugin schema with implicit enabled */
    {
        static const struct wgm_conf_key keys[] = {
            {.key = "mode", .type = WGM_CONF_ENUM, .def = "a", .choices = "a|b"}, {NULL}};
        is_int(load("[wireguard]\nenabled = no\nmode = b\n", err, sizeof(err), &c), -EINVAL,
               "plugin section unknown to core alone");
        c = wgm_conf_free(c);
        c = wgm_conf_new();
        write_file("wgm.conf", "[wireguard]\nenabled = no\nmode = b\n");
        snprintf(path, sizeof(path), "%s/wgm.conf", dir);
        wgm_conf_load(c, path, err, sizeof(err));
        is_int(wgm_conf_apply_schema(c, "wireguard", keys, true, err, sizeof(err)), 0, "plugin schema applies");
        ok(!wgm_conf_get_bool(c, "wireguard", "enabled", true), "enabled = no read");
        setenv("WGM_WIREGUARD_ENABLED", "yes", 1);
        is_int(wgm_conf_apply_schema(c, "wireguard", keys, true, err, sizeof(err)), 0, "env enable");
        ok(wgm_conf_get_bool(c, "wireguard", "enabled", false), "WGM_WIREGUARD_ENABLED=yes wins");
        unsetenv("WGM_WIREGUARD_ENABLED");
        c = wgm_conf_free(c);
    }

    snprintf(path, sizeof(path), "rm -rf '%s'", dir);
    if (system(path) != 0)
        return 1;
    return done_testing();
}
