/* core/plugin/services: service reporters for GET /system/info. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "plugin/services.h"

struct entry {
    struct wgm_ctx *owner;
    char name[64];
    wgm_service_fn fn;
    void *data;
};

struct wgm_services {
    pthread_mutex_t mu;
    struct entry *list;
    size_t n;
};

struct wgm_services *wgm_services_new(void)
{
    struct wgm_services *s = calloc(1, sizeof(*s));
    if (s)
        pthread_mutex_init(&s->mu, NULL);
    return s;
}

struct wgm_services *wgm_services_free(struct wgm_services *s)
{
    if (!s)
        return NULL;
    free(s->list);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

bool wgm_service_name_valid(const char *name)
{
    size_t n = 0;
    if (!name)
        return false;
    for (; name[n]; n++)
        if (n >= 63 || !((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= '0' && name[n] <= '9') ||
                         name[n] == '_' || name[n] == '-'))
            return false;
    return n > 0;
}

int wgm_services_register(struct wgm_services *s, struct wgm_ctx *owner, const char *name, wgm_service_fn fn,
                          void *data)
{
    struct entry *n;
    if (!s || !fn || !wgm_service_name_valid(name))
        return -EINVAL;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->list[i].name, name) == 0) {
            pthread_mutex_unlock(&s->mu);
            return -EEXIST;
        }
    n = realloc(s->list, (s->n + 1) * sizeof(*n));
    if (!n) {
        pthread_mutex_unlock(&s->mu);
        return -ENOMEM;
    }
    s->list = n;
    s->list[s->n] = (struct entry){.owner = owner, .fn = fn, .data = data};
    strcpy(s->list[s->n].name, name);
    s->n++;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void wgm_services_remove_owner(struct wgm_services *s, struct wgm_ctx *owner)
{
    size_t j = 0;
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++)
        if (s->list[i].owner != owner)
            s->list[j++] = s->list[i];
    s->n = j;
    pthread_mutex_unlock(&s->mu);
}

json_t *wgm_services_json(struct wgm_services *s)
{
    json_t *out = json_object();
    struct entry *copy = NULL;
    size_t n;

    if (!out || !s)
        return out;
    /* A reporter may talk to BIRD or read /proc: never under the lock.
     * Plugins are only unloaded after HTTP has drained, so a copied entry
     * cannot outlive its code. */
    pthread_mutex_lock(&s->mu);
    n = s->n;
    if (n && (copy = malloc(n * sizeof(*copy))))
        memcpy(copy, s->list, n * sizeof(*copy));
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; copy && i < n; i++) {
        json_t *v = copy[i].fn(copy[i].owner, copy[i].data);
        if (json_is_object(v))
            json_object_set_new(out, copy[i].name, v);
        else
            json_decref(v);
    }
    free(copy);
    return out;
}
