/* main.c - cxbroker: command line, signals, and the server's life cycle.
 *
 *   cxbroker -c FILE [-v]        run in the foreground, log to stderr
 *   cxbroker --check-config FILE check a config and exit (0 valid, 1 not)
 *
 * SIGTERM/SIGINT: finish the current batch, write cursors and a checkpoint,
 * exit 0. SIGHUP: reload the config; a bad one is refused and the running one
 * stays.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cx_error.h"
#include "log.h"
#include "server.h"

static volatile int s_stop = 0;
static volatile int s_reload = 0;

static void s_on_signal(int sig)
{
    if (sig == SIGHUP)
        s_reload = 1;
    else
        s_stop = 1;
}

static void s_usage(FILE *f)
{
    fprintf(f, "usage: cxbroker -c FILE [-v]\n"
               "       cxbroker --check-config FILE\n"
               "  -c, --config FILE     the YAML config (see config/cxbroker.yaml)\n"
               "      --check-config F  check F and exit: 0 valid, 1 invalid (file:line:col: why)\n"
               "  -v, --verbose         debug logging\n"
               "  -h, --help            this text\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                         {"check-config", required_argument, 0, 'C'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *path = NULL;
    bool check = false;
    int c;
    /* One malloc arena: contexts are freed by the loop and allocated by the
     * checkpoint and ZeroMQ threads too; one arena per thread held 60 MB more
     * in holes with 1M customers (W1, docs/benchmarks.md), for no speed. */
    mallopt(M_ARENA_MAX, 1);
    while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'C':
            path = optarg;
            check = true;
            break;
        case 'v': cx_log_set_level(CX_LOG_DEBUG); break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!path) {
        s_usage(stderr);
        return 2;
    }
    cx_config_t *cfg = NULL;
    cx_config_error_t ce;
    if (cx_config_load(path, &cfg, &ce) != 0) {
        char msg[600];
        cx_config_error_format(&ce, msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
        return 1;
    }
    if (check) {
        printf("%s: ok (%zu partners, %zu routes)\n", path, cfg->n_partners, cfg->n_routes);
        cx_config_destroy(&cfg);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    cx_broker_t *b = NULL;
    int rc = cx_server_open(cfg, path, &s_stop, &b);
    if (rc) {
        fprintf(stderr, "cxbroker: cannot start: %s\n", cx_strerror(rc));
        return 1;
    }
    rc = cx_server_run(b, &s_reload);
    cx_server_destroy(&b);
    return rc ? 1 : 0;
}
