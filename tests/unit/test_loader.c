/* Plugin loader against the fixtures in tests/fixtures: every broken one is
 * refused for its own reason, the good ones start in requirement order, and
 * a failed init leaves no registration behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf.h"
#include "daemon.h"
#include "events.h"
#include "http/router.h"
#include "log.h"
#include "plugin/loader.h"
#include "scheduler.h"
#include "tap.h"

static json_t *find_plugin(json_t *list, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(list, i, p) if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0) return p;
    return NULL;
}

static void expect(json_t *list, const char *name, const char *state, const char *reason_part)
{
    json_t *p = find_plugin(list, name);
    const char *st = p ? json_string_value(json_object_get(p, "state")) : NULL;
    const char *reason = p ? json_string_value(json_object_get(p, "reason")) : NULL;
    ok(p && st && strcmp(st, state) == 0 &&
           (!reason_part ? reason == NULL : (reason && strstr(reason, reason_part) != NULL)),
       "%s: %s (%s)", name, st ? st : "missing", reason ? reason : "no reason");
}

int main(void)
{
    const char *dir = getenv("WGM_TEST_FIXTURE_DIR");
    struct wgm_daemon d = {0};
    struct wgm_plugins *p;
    struct wgm_route_match m;
    char err[512] = "", conf_path[] = "/tmp/wgm-test-loader.XXXXXX";
    json_t *list;
    int fd;

    if (!dir)
        skip_all("WGM_TEST_FIXTURE_DIR not set (run through make check)");
    wgm_log_set_level(WGM_LOG_ERROR);

    /* The config may name plugin sections; a bad value for good's key must
     * be caught before its init runs. */
    fd = mkstemp(conf_path);
    dprintf(fd, "[good]\ncount = 11\n");
    close(fd);
    d.conf = wgm_conf_new();
    wgm_conf_load(d.conf, conf_path, err, sizeof(err));
    is_int(wgm_plugins_discover(dir, &p, err, sizeof(err)), 0, "discover fixtures");
    is_int(wgm_plugins_configure(p, d.conf, err, sizeof(err)), -EINVAL, "bad plugin key value refused");
    ok(strstr(err, ":2") && strstr(err, "count"), "error names file:line and key: %s", err);
    wgm_conf_free(d.conf);
    fd = open(conf_path, O_WRONLY | O_TRUNC);
    dprintf(fd, "[good]\ncount = 5\n[newer_minor]\nenabled = yes\n");
    close(fd);
    d.conf = wgm_conf_new();
    wgm_conf_load(d.conf, conf_path, err, sizeof(err));
    ok(wgm_plugins_configure(p, d.conf, err, sizeof(err)) == 0, "valid plugin config accepted (%s)", err);
    is_str(wgm_conf_get(d.conf, "good", "greeting"), "hello", "plugin default applied");

    d.router = wgm_router_new();
    d.sched = wgm_sched_new(1);
    d.bus = wgm_bus_new(100);
    d.plugins = p;
    wgm_plugins_start(p, &d);
    list = wgm_plugins_json(p);

    expect(list, "good", "running", NULL);
    expect(list, "a_needs_good", "running", NULL);
    expect(list, "no_symbol", "refused", "no wgm_plugin_v1 symbol");
    expect(list, "bad_magic", "refused", "bad magic 0xdeadbeef");
    expect(list, "other_major", "refused", "ABI major 2");
    {
        /* The fixture asks for one minor more than this build provides. */
        char newer[32];
        snprintf(newer, sizeof(newer), "needs ABI 1.%d", WGM_ABI_MINOR + 1);
        expect(list, "newer_minor", "refused", newer);
    }
    expect(list, "wrong_signature", "refused", "signature");
    expect(list, "init_fails", "failed", "init returned -5");
    expect(list, "missing_requirement", "refused", "'not_installed_anywhere', which is not installed");
    expect(list, "needs_failed", "refused", "'init_fails', which is failed");
    {
        json_t *f = wgm_plugins_features(p);
        char *s = json_dumps(f, JSON_COMPACT);
        ok(strstr(s, "\"good\"") && strstr(s, "a_needs_good_feature") && !strstr(s, "init_fails"),
           "features list only running plugins: %s", s);
        free(s);
        json_decref(f);
    }
    /* Start order: a_needs_good must come after good although it sorts first. */
    {
        size_t i;
        json_t *e;
        int pos_good = -1, pos_needs = -1;
        json_array_foreach(list, i, e)
        {
            const char *n = json_string_value(json_object_get(e, "name"));
            if (strcmp(n, "good") == 0)
                pos_good = (int)i;
            if (strcmp(n, "a_needs_good") == 0)
                pos_needs = (int)i;
        }
        ok(pos_good >= 0 && pos_needs > pos_good, "requires orders start (good %d, a_needs_good %d)", pos_good,
           pos_needs);
    }
    json_decref(list);

    is_int(wgm_router_match(d.router, "GET", "/api/v1/fixtures/good", &m), WGM_ROUTE_FOUND, "good's route live");
    is_int(wgm_router_match(d.router, "GET", "/api/v1/fixtures/init_fails", &m), WGM_ROUTE_NOT_FOUND,
           "failed plugin's route removed");
    is_int(wgm_router_match(d.router, "GET", "/api/v1/fixtures/needs_failed", &m), WGM_ROUTE_NOT_FOUND,
           "refused plugin registered nothing");

    wgm_plugins_stop(p);
    is_int(wgm_router_match(d.router, "GET", "/api/v1/fixtures/good", &m), WGM_ROUTE_NOT_FOUND,
           "stop removes routes");
    wgm_plugins_free(p);
    wgm_sched_free(d.sched);
    wgm_bus_free(d.bus);
    wgm_router_free(d.router);
    wgm_conf_free(d.conf);
    unlink(conf_path);
    return done_testing();
}
