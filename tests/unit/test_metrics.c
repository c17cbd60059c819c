/* core/metrics: the exposition writer and the provider registry.  The
 * integration tests check a live /metrics with promtool; these pin the
 * escaping, the refusals and the cut-off of a failing provider. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "plugin/loader.h"
#include "tap.h"

static int good(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data)
{
    (void)ctx;
    (void)data;
    if (wgm_metrics_family(m, "t_up", "gauge", "Up.\nSecond \\ line") < 0)
        return -1;
    return wgm_metrics_sample(m, 1, (const char *const[]){"name", "a\"b\\c\nd", NULL});
}

/* Writes a family, then fails: everything it wrote must go. */
static int half(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data)
{
    (void)ctx;
    (void)data;
    wgm_metrics_family(m, "t_half", "counter", "Half.");
    wgm_metrics_sample(m, 3, NULL);
    return -EIO;
}

/* Reuses the family of good(): refused, so the provider fails. */
static int dup(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data)
{
    (void)ctx;
    (void)data;
    return wgm_metrics_family(m, "t_up", "gauge", "Again.");
}

static int values(struct wgm_ctx *ctx, struct wgm_metrics *m, void *data)
{
    int r;
    (void)ctx;
    (void)data;
    if ((r = wgm_metrics_family(m, "t_values", "untyped", "")) < 0)
        return r;
    wgm_metrics_sample(m, 0.5, (const char *const[]){"k", "half", NULL});
    wgm_metrics_sample(m, NAN, (const char *const[]){"k", "nan", NULL});
    wgm_metrics_sample(m, INFINITY, (const char *const[]){"k", "inf", NULL});
    wgm_metrics_sample(m, -INFINITY, (const char *const[]){"k", "-inf", NULL});
    wgm_metrics_sample(m, 18446744073709551615.0, (const char *const[]){"k", "big", NULL});
    is_int(wgm_metrics_sample(m, 1, (const char *const[]){"0bad", "x", NULL}), -EINVAL, "bad label name refused");
    is_int(wgm_metrics_sample(m, 1, (const char *const[]){"__name__", "x", NULL}), -EINVAL, "reserved label refused");
    is_int(wgm_metrics_family(m, "bad-name", "gauge", "x"), -EINVAL, "bad family name refused");
    is_int(wgm_metrics_family(m, "t_x", "histogram", "x"), -EINVAL, "unsupported type refused");
    return 0;
}

int main(void)
{
    struct wgm_metrics_registry *r = wgm_metrics_registry_new();
    struct wgm_ctx owner_a = {.name = "a"}, owner_b = {.name = "b"};
    char *text = NULL, failed[64];
    size_t len;

    wgm_metrics_register(r, &owner_a, good, NULL);
    wgm_metrics_register(r, &owner_b, half, NULL);
    wgm_metrics_register(r, &owner_b, dup, NULL);
    wgm_metrics_register(r, &owner_a, values, NULL);
    is_int(wgm_metrics_render(r, &text, &len, failed, sizeof(failed)), 0, "render");
    is_str(failed, "b, b", "both failing providers named");
    ok(strstr(text, "# HELP t_up Up.\\nSecond \\\\ line\n# TYPE t_up gauge\n") != NULL, "help escaped");
    ok(strstr(text, "t_up{name=\"a\\\"b\\\\c\\nd\"} 1\n") != NULL, "label value escaped");
    ok(!strstr(text, "t_half"), "a failing provider's output is cut");
    ok(!strstr(text, "Again."), "a duplicate family is refused");
    ok(strstr(text, "t_values{k=\"half\"} 0.5\n") && strstr(text, "t_values{k=\"nan\"} NaN\n") &&
           strstr(text, "t_values{k=\"inf\"} +Inf\n") && strstr(text, "t_values{k=\"-inf\"} -Inf\n") &&
           strstr(text, "t_values{k=\"big\"} 1.8446744073709552e+19\n"),
       "values spelled as Prometheus wants");
    is_int(strlen(text), len, "length matches");
    free(text);

    wgm_metrics_remove_owner(r, &owner_b);
    wgm_metrics_remove_owner(r, &owner_a);
    is_int(wgm_metrics_render(r, &text, &len, NULL, 0), 0, "render with no providers");
    is_int(len, 0, "empty exposition");
    free(text);
    wgm_metrics_registry_free(r);
    return done_testing();
}
