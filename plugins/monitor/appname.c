/* plugins/monitor/appname: the application name notifications carry.  The
 * core publishes `system.config` (the /system/config data object) once
 * after the plugins start and after every change; until the first event
 * the name is "wgm", the core's default. */
#include <stdio.h>
#include <string.h>
#include "monitor.h"

#define APP_NAME_DEFAULT "wgm"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char app_name[128] = APP_NAME_DEFAULT;

static void on_config(struct wgm_ctx *ctx, const char *topic, json_t *payload, void *data)
{
    const char *name = json_string_value(json_object_get(payload, "app_name"));
    (void)ctx;
    (void)topic;
    (void)data;
    /* a config without the key leaves the name as it was */
    if (!name)
        return;
    pthread_mutex_lock(&lock);
    snprintf(app_name, sizeof(app_name), "%s", *name ? name : APP_NAME_DEFAULT);
    /* it goes into a mail header: no line break may come with it */
    for (char *p = app_name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    pthread_mutex_unlock(&lock);
}

int mon_appname_subscribe(void)
{
    return mon.host->subscribe(mon.ctx, "system.config", on_config, NULL);
}

void mon_appname(char *buf, size_t len)
{
    pthread_mutex_lock(&lock);
    snprintf(buf, len, "%s", app_name);
    pthread_mutex_unlock(&lock);
}
