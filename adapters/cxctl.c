/* cxctl - ask a running cxbroker: a customer's context, stats, partners, reload. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cx.h"
#include "cx_json.h"

static void s_usage(FILE *f)
{
    fprintf(f, "usage: cxctl -a ADMIN_ENDPOINT COMMAND [ARGS]\n"
               "commands:\n"
               "  context CUSTOMER_ID   the customer's context as JSON (exit 1 if unknown)\n"
               "  stats                 counters as JSON\n"
               "  partners              each partner: connected, cursor, backlog, in flight\n"
               "  reload                reload the config file (a bad one is refused)\n"
               "  -a, --admin EP        e.g. ipc://var/admin.sock\n"
               "  -t, --timeout SEC     wait this long for the broker (default 5)\n");
}

static int s_print(const ProtobufCMessage *m)
{
    json_t *j = cx_json_from_message(m);
    if (!j) return 1;
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) printf("%s\n", s);
    free(s);
    json_decref(j);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"admin", required_argument, 0, 'a'},
                                         {"timeout", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *ep = NULL;
    int timeout = 5, c;
    while ((c = getopt_long(argc, argv, "+a:t:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': ep = optarg; break;
        case 't': timeout = atoi(optarg); break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!ep || optind >= argc) {
        s_usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    Cx__AdminReply *rep = NULL;
    int rc = cx_admin_call(ep, cmd, (const char *const *)argv + optind + 1,
                           (size_t)(argc - optind - 1), timeout * 1000, &rep);
    if (rc) {
        fprintf(stderr, "cxctl: %s: %s%s\n", ep, cx_strerror(rc),
                rc == CX_E_TIMEOUT ? " (is the broker running?)" : "");
        return 1;
    }
    int status = 0;
    if (rep->code) {
        fprintf(stderr, "cxctl: %s\n", rep->error ? rep->error : cx_strerror(rep->code));
        status = 1;
    } else if (rep->context) {
        status = s_print(&rep->context->base);
    } else if (rep->stats) {
        status = s_print(&rep->stats->base);
    } else if (strcmp(cmd, "partners") == 0) {
        Cx__AdminReply only = CX__ADMIN_REPLY__INIT;
        only.partners = rep->partners;
        only.n_partners = rep->n_partners;
        status = s_print(&only.base);
    } else if (rep->text) {
        printf("%s\n", rep->text);
    }
    cx__admin_reply__free_unpacked(rep, NULL);
    return status;
}
