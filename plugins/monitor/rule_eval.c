/* plugins/monitor/rule_eval: see rule_eval.h. */
#include <string.h>
#include "rule_eval.h"

static const char *const names[] = {[COND_GT] = ">", [COND_GE] = ">=", [COND_LT] = "<",
                                    [COND_LE] = "<=", [COND_EQ] = "==", [COND_NE] = "!="};

bool mon_cond_parse(const char *s, enum mon_cond *out)
{
    for (unsigned i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (enum mon_cond)i;
            return true;
        }
    return false;
}

const char *mon_cond_name(enum mon_cond c)
{
    return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

bool mon_cond_holds(enum mon_cond c, double value, double threshold)
{
    switch (c) {
    case COND_GT: return value > threshold;
    case COND_GE: return value >= threshold;
    case COND_LT: return value < threshold;
    case COND_LE: return value <= threshold;
    case COND_EQ: return value == threshold;
    case COND_NE: return value != threshold;
    }
    return false;
}

enum mon_transition mon_rule_step(struct mon_rule_state *s, bool holds, int64_t now, int64_t duration_s)
{
    if (!holds) {
        enum mon_rule_phase was = s->phase;
        s->phase = RULE_OK;
        return was == RULE_FIRING ? TRANS_RESOLVE : TRANS_NONE;
    }
    if (s->phase == RULE_OK) {
        s->phase = RULE_PENDING;
        s->pending_since = now;
    }
    if (s->phase == RULE_PENDING && now - s->pending_since >= duration_s) {
        s->phase = RULE_FIRING;
        s->notified = false;
        return TRANS_FIRE;
    }
    return TRANS_NONE;
}

bool mon_rule_notify_fire(struct mon_rule_state *s, int64_t now, int64_t cooldown_s)
{
    if (s->last_notified && now - s->last_notified < cooldown_s)
        return false;
    s->last_notified = now;
    s->notified = true;
    return true;
}
