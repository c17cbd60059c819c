/* core/metrics: provider registry and the text exposition writer.  The
 * writer validates names and escapes help texts and label values, so a
 * provider cannot produce an exposition Prometheus refuses; a family name
 * written twice (two providers, or one twice) is refused, because the format
 * wants each family in one block. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "metrics.h"
#include "plugin/loader.h"

struct provider {
    struct wgm_ctx *owner;
    wgm_metrics_fn fn;
    void *data;
};

struct wgm_metrics_registry {
    pthread_mutex_t mu;
    struct provider *list;
    size_t n;
};

/* One exposition being written. */
struct wgm_metrics {
    char *buf;
    size_t len, cap;
    int err;            /* first error: later writes are no-ops */
    char family[128];   /* current family; samples need one */
    char **families;    /* every family written so far */
    size_t n_families;
};

struct wgm_metrics_registry *wgm_metrics_registry_new(void)
{
    struct wgm_metrics_registry *r = calloc(1, sizeof(*r));
    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

struct wgm_metrics_registry *wgm_metrics_registry_free(struct wgm_metrics_registry *r)
{
    if (!r)
        return NULL;
    free(r->list);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
}

int wgm_metrics_register(struct wgm_metrics_registry *r, struct wgm_ctx *owner, wgm_metrics_fn fn, void *data)
{
    struct provider *n;
    if (!r || !fn)
        return -EINVAL;
    pthread_mutex_lock(&r->mu);
    n = realloc(r->list, (r->n + 1) * sizeof(*n));
    if (!n) {
        pthread_mutex_unlock(&r->mu);
        return -ENOMEM;
    }
    r->list = n;
    r->list[r->n++] = (struct provider){owner, fn, data};
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void wgm_metrics_remove_owner(struct wgm_metrics_registry *r, struct wgm_ctx *owner)
{
    size_t j = 0;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++)
        if (r->list[i].owner != owner)
            r->list[j++] = r->list[i];
    r->n = j;
    pthread_mutex_unlock(&r->mu);
}

static void put(struct wgm_metrics *m, const char *s, size_t n)
{
    if (m->err)
        return;
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        char *b;
        while (cap < m->len + n + 1)
            cap *= 2;
        if (!(b = realloc(m->buf, cap))) {
            m->err = -ENOMEM;
            return;
        }
        m->buf = b;
        m->cap = cap;
    }
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = '\0';
}

static void puts_(struct wgm_metrics *m, const char *s)
{
    put(m, s, strlen(s));
}

static void putf(struct wgm_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct wgm_metrics *m, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        m->err = m->err ? m->err : -EOVERFLOW;
        return;
    }
    put(m, tmp, (size_t)n);
}

/* Help texts escape \ and newline; label values also ". */
static void put_escaped(struct wgm_metrics *m, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            puts_(m, "\\\\");
        else if (*s == '\n')
            puts_(m, "\\n");
        else if (quote && *s == '"')
            puts_(m, "\\\"");
        else
            put(m, s, 1);
    }
}

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              (colon && *s == ':')))
            return false;
    return true;
}

int wgm_metrics_family(struct wgm_metrics *m, const char *name, const char *type, const char *help)
{
    char **n;
    if (!m || !valid_name(name, true) || strlen(name) >= sizeof(m->family) || !type ||
        (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "untyped")))
        return -EINVAL;
    for (size_t i = 0; i < m->n_families; i++)
        if (strcmp(m->families[i], name) == 0)
            return -EEXIST;
    if (!(n = realloc(m->families, (m->n_families + 1) * sizeof(*n))) || !(n[m->n_families] = strdup(name))) {
        if (n)
            m->families = n;
        return -ENOMEM;
    }
    m->families = n;
    m->n_families++;
    strcpy(m->family, name);
    puts_(m, "# HELP ");
    puts_(m, name);
    puts_(m, " ");
    put_escaped(m, help ? help : "", false);
    puts_(m, "\n# TYPE ");
    puts_(m, name);
    puts_(m, " ");
    puts_(m, type);
    puts_(m, "\n");
    return m->err;
}

int wgm_metrics_sample(struct wgm_metrics *m, double value, const char *const *labels)
{
    if (!m || !m->family[0])
        return -EINVAL;
    if (labels)
        for (size_t i = 0; labels[i]; i += 2)
            if (!valid_name(labels[i], false) || strncmp(labels[i], "__", 2) == 0 || !labels[i + 1])
                return -EINVAL;
    puts_(m, m->family);
    if (labels && labels[0]) {
        puts_(m, "{");
        for (size_t i = 0; labels[i]; i += 2) {
            if (i)
                puts_(m, ",");
            puts_(m, labels[i]);
            puts_(m, "=\"");
            put_escaped(m, labels[i + 1], true);
            puts_(m, "\"");
        }
        puts_(m, "}");
    }
    if (isnan(value))
        puts_(m, " NaN\n");
    else if (isinf(value))
        puts_(m, value > 0 ? " +Inf\n" : " -Inf\n");
    else if (value == (double)(long long)value && value < 9007199254740992.0 && value > -9007199254740992.0)
        putf(m, " %lld\n", (long long)value);
    else
        putf(m, " %.17g\n", value);
    return m->err;
}

int wgm_metrics_render(struct wgm_metrics_registry *r, char **text, size_t *len, char *failed, size_t failed_len)
{
    struct wgm_metrics m = {0};
    struct provider *list = NULL;
    size_t n;
    int rc = 0;

    *text = NULL;
    *len = 0;
    if (failed && failed_len)
        failed[0] = '\0';
    /* Copy the list so a slow provider never holds the registry lock. */
    pthread_mutex_lock(&r->mu);
    n = r->n;
    if (n && (list = malloc(n * sizeof(*list))))
        memcpy(list, r->list, n * sizeof(*list));
    pthread_mutex_unlock(&r->mu);
    if (n && !list)
        return -ENOMEM;
    put(&m, "", 0);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t mark = m.len, fam_mark = m.n_families;
        int pr = list[i].fn(list[i].owner, &m, list[i].data);
        if (m.err == -ENOMEM) {
            rc = -ENOMEM;
        } else if (pr < 0 || m.err) {
            /* Drop what the failing provider wrote, keep the rest. */
            m.len = mark;
            if (m.buf)
                m.buf[mark] = '\0';
            while (m.n_families > fam_mark)
                free(m.families[--m.n_families]);
            m.err = 0;
            if (failed && failed_len) {
                size_t used = strlen(failed);
                snprintf(failed + used, failed_len - used, "%s%s", used ? ", " : "",
                         list[i].owner ? list[i].owner->name : "?");
            }
        }
        m.family[0] = '\0';
    }
    free(list);
    for (size_t i = 0; i < m.n_families; i++)
        free(m.families[i]);
    free(m.families);
    if (rc < 0) {
        free(m.buf);
        return rc;
    }
    *text = m.buf;
    *len = m.len;
    return 0;
}
