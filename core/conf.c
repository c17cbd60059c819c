/* core/config: INI files + conf.d + environment, validated against schemas. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ini.h>
#include "conf.h"
#include "util.h"

struct entry {
    char *section, *key, *value, *where;
};

struct section {
    char *name, *where; /* where its header first appeared */
};

struct wgm_conf {
    struct entry *v;
    size_t n, cap;
    struct section *sections; /* seen in files, first-seen order */
    size_t nsections;
};

/* Short environment names documented for scripts/run and containers. */
static const struct {
    const char *env, *section, *key;
} env_aliases[] = {
    {"WGM_LISTEN", "http", "listen"},
    {"WGM_STATE_DIR", "core", "state_dir"},
    {"WGM_DATABASE_URL", "database", "url"},
    {"WGM_CACHE_URL", "cache", "url"},
    {"WGM_PLUGIN_DIR", "core", "plugin_dir"},
    {"WGM_DRIVER_DIR", "core", "driver_dir"},
    {"WGM_LOG_LEVEL", "log", "level"},
    {"WGM_ADMIN_PASSWORD", "auth", "admin_password"},
    {"WGM_ADMIN_EMAIL", "auth", "admin_email"},
};

static const struct wgm_conf_key enabled_key = {
    .key = "enabled", .type = WGM_CONF_BOOL, .def = "yes", .help = "load this plugin"};

struct wgm_conf *wgm_conf_new(void)
{
    return calloc(1, sizeof(struct wgm_conf));
}

struct wgm_conf *wgm_conf_free(struct wgm_conf *c)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].section);
        free(c->v[i].key);
        free(c->v[i].value);
        free(c->v[i].where);
    }
    for (size_t i = 0; i < c->nsections; i++) {
        free(c->sections[i].name);
        free(c->sections[i].where);
    }
    free(c->sections);
    free(c->v);
    free(c);
    return NULL;
}

static struct entry *find(const struct wgm_conf *c, const char *section, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].section, section) == 0 && strcmp(c->v[i].key, key) == 0)
            return &c->v[i];
    return NULL;
}

static int note_section(struct wgm_conf *c, const char *section, const char *where)
{
    struct section *grown;
    for (size_t i = 0; i < c->nsections; i++)
        if (strcmp(c->sections[i].name, section) == 0)
            return 0;
    grown = realloc(c->sections, (c->nsections + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    c->sections = grown;
    grown[c->nsections].name = strdup(section);
    grown[c->nsections].where = strdup(where);
    if (!grown[c->nsections].name || !grown[c->nsections].where) {
        free(grown[c->nsections].name);
        free(grown[c->nsections].where);
        return -ENOMEM;
    }
    c->nsections++;
    return 0;
}

int wgm_conf_set(struct wgm_conf *c, const char *section, const char *key, const char *value,
                 const char *where)
{
    struct entry *e = find(c, section, key);
    char *nv = strdup(value), *nw = strdup(where);

    if (!nv || !nw)
        goto fail;
    if (!e) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 32;
            struct entry *grown = realloc(c->v, cap * sizeof(*grown));
            if (!grown)
                goto fail;
            c->v = grown;
            c->cap = cap;
        }
        e = &c->v[c->n];
        e->section = strdup(section);
        e->key = strdup(key);
        if (!e->section || !e->key) {
            free(e->section);
            free(e->key);
            goto fail;
        }
        e->value = e->where = NULL;
        c->n++;
    }
    free(e->value);
    free(e->where);
    e->value = nv;
    e->where = nw;
    return 0;
fail:
    free(nv);
    free(nw);
    return -ENOMEM;
}

/* Parse state: libinih does not report line numbers to the handler, so a
 * reader wrapper counts lines, and catches lines longer than inih's buffer. */
struct parse {
    struct wgm_conf *conf;
    FILE *fp;
    const char *path;
    int line;
    char *err;
    size_t errlen;
    int failed;
};

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static char *counting_reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    char *s = fgets(str, num, p->fp);
    size_t len, lead;

    if (!s)
        return NULL;
    p->line++;
    len = strlen(s);
    if (len == (size_t)num - 1 && s[len - 1] != '\n' && !feof(p->fp)) {
        if (!p->failed)
            snprintf(p->err, p->errlen, "%s:%d: line longer than %d characters", p->path, p->line, num - 2);
        p->failed = -EINVAL;
        /* Skip the rest of the over-long line so counting stays right. */
        for (int ch = fgetc(p->fp); ch != EOF && ch != '\n'; ch = fgetc(p->fp))
            ;
        s[0] = '\0';
        return s;
    }
    /* Leading blanks would make inih treat the line as a continuation of
     * the previous value; indentation is cosmetic here, so drop it. */
    lead = strspn(s, " \t");
    if (lead)
        memmove(s, s + lead, len - lead + 1);
    /* Section headers are noted here, not in the handler: inih reports
     * only keys, so an empty section or its header line would be lost. */
    if (s[0] == '[' && !p->failed) {
        size_t close = strcspn(s, "]");
        if (s[close] == ']') {
            char name[INI_MAX_LINE], where[4096 + 16];
            snprintf(name, sizeof(name), "%.*s", (int)close - 1, s + 1);
            snprintf(where, sizeof(where), "%s:%d", p->path, p->line);
            if (!valid_name(name)) {
                snprintf(p->err, p->errlen, "%s: section names must be lower-case letters, digits, '_' or '-'",
                         where);
                p->failed = -EINVAL;
            } else if (note_section(p->conf, name, where) < 0) {
                p->failed = -ENOMEM;
            }
        }
    }
    return s;
}

static int ini_handler_fn(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    char where[4096 + 16];

    if (p->failed)
        return 1;
    if (!*section) {
        snprintf(p->err, p->errlen, "%s:%d: key '%s' outside of a [section]", p->path, p->line, name);
        p->failed = -EINVAL;
        return 1;
    }
    if (!valid_name(section) || !valid_name(name)) {
        snprintf(p->err, p->errlen, "%s:%d: names must be lower-case letters, digits, '_' or '-'",
                 p->path, p->line);
        p->failed = -EINVAL;
        return 1;
    }
    snprintf(where, sizeof(where), "%s:%d", p->path, p->line);
    if (wgm_conf_set(p->conf, section, name, value, where) < 0) {
        p->failed = -ENOMEM;
        snprintf(p->err, p->errlen, "%s:%d: out of memory", p->path, p->line);
    }
    return 1;
}

int wgm_conf_load_file(struct wgm_conf *c, const char *path, char *err, size_t errlen)
{
    struct parse p = {.conf = c, .path = path, .err = err, .errlen = errlen};
    int r;

    p.fp = fopen(path, "re");
    if (!p.fp) {
        r = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return r;
    }
    r = ini_parse_stream(counting_reader, &p, ini_handler_fn, &p);
    fclose(p.fp);
    if (p.failed)
        return p.failed;
    if (r > 0) {
        snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path, r);
        return -EINVAL;
    }
    if (r < 0) {
        snprintf(err, errlen, "%s: cannot parse", path);
        return -EIO;
    }
    return 0;
}

static int conf_filter(const struct dirent *d)
{
    return d->d_name[0] != '.' && fnmatch("*.conf", d->d_name, 0) == 0;
}

static int lexical(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int wgm_conf_load(struct wgm_conf *c, const char *main_path, char *err, size_t errlen)
{
    char dir[4096];
    const char *slash;
    struct dirent **names = NULL;
    int n, r;

    r = wgm_conf_load_file(c, main_path, err, errlen);
    if (r < 0)
        return r;
    slash = strrchr(main_path, '/');
    if (slash)
        snprintf(dir, sizeof(dir), "%.*s/conf.d", (int)(slash - main_path), main_path);
    else
        snprintf(dir, sizeof(dir), "conf.d");
    n = scandir(dir, &names, conf_filter, lexical);
    if (n < 0)
        return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", dir, strerror(errno)), -errno);
    r = 0;
    for (int i = 0; i < n; i++) {
        char path[4096 + 256];
        if (r == 0) {
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            r = wgm_conf_load_file(c, path, err, errlen);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

int wgm_conf_check_value(const struct wgm_conf_key *k, const char *value, char *why, size_t whylen)
{
    long long ll;
    bool b;

    switch (k->type) {
    case WGM_CONF_STRING:
        return 0;
    case WGM_CONF_BOOL:
        if (wgm_parse_bool(value, &b) == 0)
            return 0;
        snprintf(why, whylen, "'%s' is not a boolean (yes/no)", value);
        return -EINVAL;
    case WGM_CONF_INT:
        if (wgm_parse_ll(value, k->min, k->max, &ll) == 0)
            return 0;
        snprintf(why, whylen, "'%s' is not an integer from %lld to %lld", value, k->min, k->max);
        return -EINVAL;
    case WGM_CONF_ENUM: {
        const char *p = k->choices;
        size_t len = strlen(value);
        while (p && *p) {
            const char *bar = strchr(p, '|');
            size_t wl = bar ? (size_t)(bar - p) : strlen(p);
            if (wl == len && strncmp(p, value, len) == 0)
                return 0;
            p = bar ? bar + 1 : NULL;
        }
        snprintf(why, whylen, "'%s' is not one of %s", value, k->choices ? k->choices : "(none)");
        return -EINVAL;
    }
    }
    snprintf(why, whylen, "unknown key type");
    return -EINVAL;
}

static void env_name(char *buf, size_t len, const char *section, const char *key)
{
    size_t i = 0;
    const char *parts[2] = {section, key};

    i += (size_t)snprintf(buf, len, "WGM_");
    for (int p = 0; p < 2 && i < len - 1; p++) {
        for (const char *s = parts[p]; *s && i < len - 1; s++)
            buf[i++] = *s == '-' ? '_' : (char)toupper((unsigned char)*s);
        if (p == 0 && i < len - 1)
            buf[i++] = '_';
    }
    buf[i] = '\0';
}

/* The environment beats the files; the long form beats a short alias. */
static int apply_env(struct wgm_conf *c, const char *section, const struct wgm_conf_key *k)
{
    char name[256];
    const char *v;

    env_name(name, sizeof(name), section, k->key);
    v = getenv(name);
    if (!v) {
        for (size_t i = 0; i < sizeof(env_aliases) / sizeof(env_aliases[0]); i++)
            if (strcmp(env_aliases[i].section, section) == 0 && strcmp(env_aliases[i].key, k->key) == 0 &&
                (v = getenv(env_aliases[i].env))) {
                snprintf(name, sizeof(name), "%s", env_aliases[i].env);
                break;
            }
    }
    if (!v)
        return 0;
    char where[300];
    snprintf(where, sizeof(where), "env %s", name);
    return wgm_conf_set(c, section, k->key, v, where);
}

static int apply_key(struct wgm_conf *c, const char *section, const struct wgm_conf_key *k,
                     char *err, size_t errlen)
{
    struct entry *e;
    char why[256];
    int r = apply_env(c, section, k);

    if (r < 0)
        return r;
    e = find(c, section, k->key);
    if (!e)
        return k->def ? wgm_conf_set(c, section, k->key, k->def, "default") : 0;
    if (wgm_conf_check_value(k, e->value, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s: [%s] %s: %s", e->where, section, k->key, why);
        return -EINVAL;
    }
    return 0;
}

static const struct wgm_conf_key *schema_find(const struct wgm_conf_key *keys, const char *key)
{
    for (; keys && keys->key; keys++)
        if (strcmp(keys->key, key) == 0)
            return keys;
    return NULL;
}

int wgm_conf_apply_schema(struct wgm_conf *c, const char *section, const struct wgm_conf_key *keys,
                          bool plugin, char *err, size_t errlen)
{
    int r;

    /* Unknown keys first, so a typo is reported at its own line. */
    for (size_t i = 0; i < c->n; i++) {
        struct entry *e = &c->v[i];
        if (strcmp(e->section, section) != 0)
            continue;
        if (schema_find(keys, e->key) || (plugin && strcmp(e->key, "enabled") == 0))
            continue;
        snprintf(err, errlen, "%s: unknown key '%s' in [%s]", e->where, e->key, section);
        return -EINVAL;
    }
    if (plugin && (r = apply_key(c, section, &enabled_key, err, errlen)) < 0)
        return r;
    for (; keys && keys->key; keys++)
        if ((r = apply_key(c, section, keys, err, errlen)) < 0)
            return r;
    return 0;
}

static bool is_core_section(const char *name)
{
    for (const struct wgm_conf_section *s = wgm_core_sections; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return true;
    return false;
}

int wgm_conf_apply_core(struct wgm_conf *c, bool (*is_plugin_section)(const char *name, void *arg),
                        void *arg, char *err, size_t errlen)
{
    int r;

    for (size_t i = 0; i < c->nsections; i++) {
        const char *name = c->sections[i].name;
        if (is_core_section(name) || (is_plugin_section && is_plugin_section(name, arg)))
            continue;
        snprintf(err, errlen, "%s: unknown section [%s]", c->sections[i].where, name);
        return -EINVAL;
    }
    for (const struct wgm_conf_section *s = wgm_core_sections; s->name; s++)
        if ((r = wgm_conf_apply_schema(c, s->name, s->keys, false, err, errlen)) < 0)
            return r;
    return 0;
}

const char *wgm_conf_get(const struct wgm_conf *c, const char *section, const char *key)
{
    const struct entry *e = find(c, section, key);
    return e ? e->value : NULL;
}

const char *wgm_conf_where(const struct wgm_conf *c, const char *section, const char *key)
{
    const struct entry *e = find(c, section, key);
    return e ? e->where : NULL;
}

bool wgm_conf_get_bool(const struct wgm_conf *c, const char *section, const char *key, bool def)
{
    bool b;
    const char *v = wgm_conf_get(c, section, key);
    return v && wgm_parse_bool(v, &b) == 0 ? b : def;
}

long long wgm_conf_get_int(const struct wgm_conf *c, const char *section, const char *key, long long def)
{
    long long v;
    const char *s = wgm_conf_get(c, section, key);
    return s && wgm_parse_ll(s, -0x7fffffffffffffffLL, 0x7fffffffffffffffLL, &v) == 0 ? v : def;
}

bool wgm_conf_has_section(const struct wgm_conf *c, const char *section)
{
    for (size_t i = 0; i < c->nsections; i++)
        if (strcmp(c->sections[i].name, section) == 0)
            return true;
    return false;
}

void wgm_conf_each_section(const struct wgm_conf *c, void (*fn)(const char *name, void *arg), void *arg)
{
    for (size_t i = 0; i < c->nsections; i++)
        fn(c->sections[i].name, arg);
}
