/* wgmd: parse the command line, configure, start, wait for signals. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "daemon.h"
#include "log.h"

#ifndef WGM_SYSCONFDIR
#define WGM_SYSCONFDIR "/etc/wgm"
#endif

/* -s: the secret from stdin (one trailing newline dropped) → "sealed:<token>". */
static int seal_stdin(struct wgm_daemon *d)
{
    char buf[4097], err[512] = "", *sealed = NULL;
    size_t n = fread(buf, 1, sizeof(buf), stdin);
    int r;

    if (n == sizeof(buf)) {
        fprintf(stderr, "the secret is longer than 4096 bytes\n");
        return 1;
    }
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    if (n == 0) {
        fprintf(stderr, "no secret on stdin\n");
        return 1;
    }
    r = wgm_daemon_seal(d, buf, n, &sealed, err, sizeof(err));
    explicit_bzero(buf, sizeof(buf));
    if (r < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("sealed:%s\n", sealed);
    free(sealed);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: wgmd [-c CONFIG] [-t] [-s] [-V]\n"
            "  -c CONFIG  main configuration file (default %s/wgm.conf);\n"
            "             CONFIG's directory/conf.d/*.conf are read after it\n"
            "  -t         check the configuration and exit\n"
            "  -s         read a secret on stdin and print it sealed under the\n"
            "             master key (\"sealed:...\", for secrets in the config)\n"
            "  -V         print the version and exit\n",
            WGM_SYSCONFDIR);
}

int main(int argc, char **argv)
{
    const char *config = WGM_SYSCONFDIR "/wgm.conf";
    struct wgm_daemon d = {0};
    char err[1024] = "";
    bool test_only = false, seal = false;
    sigset_t sigs;
    int opt, sig, rc = 0;

    /* Databases, keys and exports are private to wgmd's user by default. */
    umask(0077);
    while ((opt = getopt(argc, argv, "c:tsVh")) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 't': test_only = true; break;
        case 's': seal = true; break;
        case 'V': printf("wgmd %s (plugin ABI %d.%d, %s)\n", WGM_VERSION, WGM_ABI_MAJOR, WGM_ABI_MINOR,
                         WGM_ABI_SIGNATURE);
            return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    /* Block the signals we wait for before any thread starts, so every
     * thread inherits the mask and only sigwait below sees them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (wgm_daemon_configure(&d, config, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        wgm_daemon_stop(&d);
        return 1;
    }
    if (seal) {
        rc = seal_stdin(&d);
        wgm_daemon_stop(&d);
        return rc;
    }
    if (test_only) {
        printf("%s: configuration OK\n", config);
        wgm_daemon_stop(&d);
        return 0;
    }
    wgm_log(WGM_LOG_INFO, "core", "wgmd %s starting (config %s)", WGM_VERSION, config);
    if (wgm_daemon_start(&d, err, sizeof(err)) < 0) {
        wgm_log(WGM_LOG_ERROR, "core", "cannot start: %s", err);
        wgm_daemon_stop(&d);
        return 1;
    }
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            wgm_daemon_reload_log_level(&d);
            continue;
        }
        wgm_log(WGM_LOG_INFO, "core", "%s: draining and stopping", strsignal(sig));
        break;
    }
    wgm_daemon_stop(&d);
    wgm_log(WGM_LOG_INFO, "core", "stopped");
    return rc;
}
