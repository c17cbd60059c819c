/* The ceiling for tests/bench/http: libmicrohttpd configured like wgmd
 * (internal thread pool on epoll) answering one fixed JSON body, with no
 * routing, envelopes or logging.  Usage: ceiling PORT THREADS */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>

static const char body[] =
    "{\"success\":true,\"data\":{\"version\":\"0.0.0\",\"build_date\":\"2026-01-01T00:00:00Z\","
    "\"api_version\":\"v1\",\"features\":[]}}";

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *data, size_t *size, void **state)
{
    struct MHD_Response *r;
    enum MHD_Result ok;
    (void)cls; (void)url; (void)method; (void)version; (void)data; (void)size;
    if (!*state) {
        *state = (void *)1;
        return MHD_YES;
    }
    r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

int main(int argc, char **argv)
{
    sigset_t set;
    int sig;
    struct MHD_Daemon *d;

    if (argc != 3)
        return 2;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, (uint16_t)atoi(argv[1]),
                         NULL, NULL, answer, NULL, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)atoi(argv[2]),
                         MHD_OPTION_END);
    if (!d)
        return 1;
    printf("ready\n");
    fflush(stdout);
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
