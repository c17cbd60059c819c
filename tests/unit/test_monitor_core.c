/* plugins/monitor pure parts: the catalogue, rollup buckets and ring, and
 * the alert rule state machine (duration, resolve, cooldown). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "catalog.h"
#include "rollup.h"
#include "rule_eval.h"
#include "tap.h"

static void test_catalog(void)
{
    is_int(mon_metric_lookup("cpu.usage"), M_CPU_USAGE, "cpu.usage found");
    is_int(mon_metric_lookup("system.memory.usage"), M_MEMORY_USAGE, "system. prefix accepted");
    is_int(mon_metric_lookup("network.bytes_sent_per_second"), M_NET_BYTES_SENT, "network.bytes_sent_per_second found");
    /* the old counter-like names of the rates stay as aliases */
    is_int(mon_metric_lookup("network.bytes_sent"), M_NET_BYTES_SENT, "alias network.bytes_sent");
    is_int(mon_metric_lookup("system.network.bytes_recv"), M_NET_BYTES_RECV, "alias with the system. prefix");
    is_int(mon_metric_lookup("network.drops"), M_NET_DROPS, "alias network.drops");
    for (size_t i = 0; i < mon_metric_aliases_count; i++) {
        int m = mon_metric_aliases[i].metric;
        if (m < 0 || m >= M_COUNT || mon_metric_lookup(mon_metric_aliases[i].name) != m ||
            strcmp(mon_metrics[m].name, mon_metric_aliases[i].name) == 0) {
            ok(0, "alias %s names another metric", mon_metric_aliases[i].name);
            return;
        }
    }
    ok(1, "every alias is found and differs from the name it stands for");
    /* a metric whose unit is a rate is named as one (the lesson of bytes_sent) */
    for (int i = 0; i < M_COUNT; i++) {
        const char *u = mon_metrics[i].unit, *n = mon_metrics[i].name;
        if (strcmp(u, "bytes_per_second") == 0 || strcmp(u, "packets_per_second") == 0 || strcmp(u, "per_second") == 0) {
            size_t ln = strlen(n);
            if (ln < 11 || strcmp(n + ln - 11, "_per_second") != 0) {
                ok(0, "rate %s is named like a counter", n);
                return;
            }
        }
    }
    ok(1, "every per-second metric says so in its name");
    is_int(mon_metric_lookup("cpu.nope"), -1, "unknown metric");
    is_int(mon_metric_lookup(NULL), -1, "NULL");
    for (int i = 0; i < M_COUNT; i++)
        if (!mon_metrics[i].name || mon_metric_lookup(mon_metrics[i].name) != i) {
            ok(0, "catalogue entry %d is named and found", i);
            return;
        }
    ok(1, "every catalogue entry is named and found by its name");
}

static struct mon_values one(int metric, double v)
{
    struct mon_values x;
    memset(&x, 0, sizeof(x));
    x.has[metric] = true;
    x.v[metric] = v;
    return x;
}

static void test_rollup(void)
{
    struct mon_rollup r;
    struct mon_closed *c;
    size_t n;
    struct mon_values v;

    is_int(mon_rollup_init(&r, 3, 1000), 0, "init");
    /* 3 samples in minute 0 (t = 600..659), one in minute 1 */
    v = one(M_CPU_USAGE, 10);
    mon_rollup_add(&r, 600, &v);
    v = one(M_CPU_USAGE, 30);
    mon_rollup_add(&r, 620, &v);
    v = one(M_CPU_USAGE, 20);
    mon_rollup_add(&r, 659, &v);
    is_int(r.n_closed, 0, "nothing closed within the minute");
    v = one(M_CPU_USAGE, 50);
    mon_rollup_add(&r, 660, &v);
    is_int(r.n_closed, 1, "the 1m bucket closed at the next minute");
    c = mon_rollup_take(&r, &n);
    ok(n == 1 && c[0].res == 0 && c[0].metric == M_CPU_USAGE && c[0].b.start == 600 && c[0].b.min == 10 &&
           c[0].b.max == 30 && c[0].b.sum == 60 && c[0].b.count == 3,
       "closed 1m bucket: start 600, min 10, max 30, sum 60, count 3");
    free(c);
    ok(r.open[M_CPU_USAGE][1].start == 600 && r.open[M_CPU_USAGE][1].count == 4, "the 5m bucket still fills");
    ok(r.open[M_CPU_USAGE][0].start == 660 && r.open[M_CPU_USAGE][0].count == 1, "a new 1m bucket started");
    is_int(r.open[M_MEMORY_USAGE][0].count, 0, "absent metrics make no bucket");

    /* the ring keeps the newest three */
    ok(mon_rollup_raw(&r, 0)->t == 660 && mon_rollup_raw(&r, 2)->t == 620 && !mon_rollup_raw(&r, 3),
       "ring: newest first, size bounded");

    /* put back what could not be written, ahead of newer buckets */
    mon_rollup_close_all(&r);
    c = mon_rollup_take(&r, &n);
    is_int(n, MON_RES_COUNT, "close_all closes one bucket per resolution");
    v = one(M_CPU_USAGE, 1);
    mon_rollup_add(&r, 4000, &v);
    mon_rollup_close_all(&r);
    is_int(mon_rollup_putback(&r, c, n), 0, "putback");
    ok(r.n_closed == 2 * MON_RES_COUNT && r.closed[0].b.start == 660 && r.closed[MON_RES_COUNT].b.start >= 3600,
       "put-back buckets come first");
    free(c);

    /* a bounded pending list drops the oldest */
    mon_rollup_free(&r);
    mon_rollup_init(&r, 2, 2);
    for (int i = 0; i < 5; i++) {
        v = one(M_CPU_USAGE, i);
        mon_rollup_add(&r, 60 * i, &v);
    }
    ok(r.n_closed == 2 && r.dropped > 0 && r.closed[1].b.start == 180, "bounded: keeps the newest, counts the drops");
    mon_rollup_free(&r);

    struct mon_bucket a = {0, 5, 9, 14, 2}, b = {0, 1, 7, 8, 2}, e = {0};
    mon_bucket_merge(&a, &b);
    ok(a.min == 1 && a.max == 9 && a.sum == 22 && a.count == 4, "merge: min of mins, max of maxes, sums added");
    mon_bucket_merge(&e, &b);
    ok(e.count == 2 && e.min == 1, "merge into empty copies");
    is_int(mon_resolution_lookup("15m"), 2, "15m");
    is_int(mon_resolution_lookup("2m"), -1, "2m unknown");
}

static void test_rules(void)
{
    struct mon_rule_state s = {0};
    enum mon_cond c;

    ok(mon_cond_parse(">=", &c) && c == COND_GE && !mon_cond_parse("=>", &c) && !mon_cond_parse(NULL, &c),
       "condition parsing");
    ok(mon_cond_holds(COND_GT, 2, 1) && !mon_cond_holds(COND_GT, 1, 1) && mon_cond_holds(COND_LE, 1, 1) &&
           mon_cond_holds(COND_NE, 1, 2) && mon_cond_holds(COND_EQ, 2, 2) && !mon_cond_holds(COND_LT, 2, 1),
       "conditions");
    ok(!mon_cond_holds(COND_NE, NAN, NAN) || 1, "NaN does not crash");

    /* duration 30 s, samples every 10 s */
    is_int(mon_rule_step(&s, true, 100, 30), TRANS_NONE, "t=100 holds: pending");
    is_int(s.phase, RULE_PENDING, "pending");
    is_int(mon_rule_step(&s, true, 120, 30), TRANS_NONE, "t=120 still pending");
    is_int(mon_rule_step(&s, false, 125, 30), TRANS_NONE, "a dip resets");
    is_int(s.phase, RULE_OK, "back to ok");
    is_int(mon_rule_step(&s, true, 130, 30), TRANS_NONE, "holds again at 130");
    is_int(mon_rule_step(&s, true, 150, 30), TRANS_NONE, "150: 20 s held");
    is_int(mon_rule_step(&s, true, 160, 30), TRANS_FIRE, "160: held 30 s, fires");
    is_int(mon_rule_step(&s, true, 170, 30), TRANS_NONE, "fires once");
    ok(mon_rule_notify_fire(&s, 160, 300), "first firing notifies");
    is_int(mon_rule_step(&s, false, 180, 30), TRANS_RESOLVE, "stops holding: resolves");
    ok(s.notified, "the resolution is notified because the firing was");
    is_int(mon_rule_step(&s, true, 190, 0), TRANS_FIRE, "duration 0 fires at once");
    ok(!mon_rule_notify_fire(&s, 190, 300), "within cooldown: no second notification");
    ok(!s.notified, "and the resolution will not be notified either");
    mon_rule_step(&s, false, 200, 0);
    mon_rule_step(&s, true, 470, 0);
    ok(mon_rule_notify_fire(&s, 470, 300), "after the cooldown it notifies again");
}

int main(void)
{
    test_catalog();
    test_rollup();
    test_rules();
    return done_testing();
}
