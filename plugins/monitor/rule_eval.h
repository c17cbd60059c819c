/* plugins/monitor/rule_eval: when an alert rule fires, resolves and
 * notifies.  Pure (no host, no clock of its own): the collector calls
 * mon_rule_step once per sample with the current value.
 *
 *   OK --holds--> PENDING --held for duration--> FIRING --stops holding--> OK
 *        PENDING --stops holding--> OK
 *
 * A missing value (metric not exposed this round) counts as not holding. */
#ifndef WGM_MONITOR_RULE_EVAL_H
#define WGM_MONITOR_RULE_EVAL_H

#include <stdbool.h>
#include <stdint.h>

enum mon_cond { COND_GT, COND_GE, COND_LT, COND_LE, COND_EQ, COND_NE };

/* ">", ">=", "<", "<=", "==", "!=" into @out; false when not one of them. */
bool mon_cond_parse(const char *s, enum mon_cond *out);
const char *mon_cond_name(enum mon_cond c);
bool mon_cond_holds(enum mon_cond c, double value, double threshold);

enum mon_rule_phase { RULE_OK, RULE_PENDING, RULE_FIRING };

struct mon_rule_state {
    enum mon_rule_phase phase;
    int64_t pending_since;   /* when the condition started holding */
    int64_t last_notified;   /* last firing notification, 0: never */
    bool notified;           /* the current firing was notified */
};

enum mon_transition { TRANS_NONE, TRANS_FIRE, TRANS_RESOLVE };

/* Advance @s by one sample at @now.  @duration_s 0 fires at once. */
enum mon_transition mon_rule_step(struct mon_rule_state *s, bool holds, int64_t now, int64_t duration_s);

/* Whether a firing at @now notifies: not within @cooldown_s of the last
 * firing notification.  Records it when true. */
bool mon_rule_notify_fire(struct mon_rule_state *s, int64_t now, int64_t cooldown_s);

#endif
