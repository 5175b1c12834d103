/* cxtest.c - see cxtest.h. */
#include "cxtest.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int s_passed, s_failed;
static const char *s_name;
static int64_t s_t0;

void cxt_begin(const char *name)
{
    s_name = name;
    s_t0 = cx_now_us();
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
}

int cxt_end(void)
{
    printf("%s: %d passed, %d failed\n", s_name, s_passed, s_failed);
    printf("%d passed, %d failed\n", s_passed, s_failed);
    return s_failed ? 1 : 0;
}

void cxt_check(bool ok, const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (ok) {
        s_passed++;
        printf("ok   %s\n", msg);
    } else {
        s_failed++;
        printf("FAIL %s (%s:%d)\n", msg, file, line);
    }
}

void cxt_note(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[%7.2fs] %s\n", (double)(cx_now_us() - s_t0) / 1e6, msg);
}

const char *cxt_bin(const char *prog)
{
    static char path[4][512];
    static int i;
    const char *bin = getenv("CX_BIN");
    i = (i + 1) % 4;
    snprintf(path[i], sizeof path[i], "%s/%s", bin && *bin ? bin : "build/bin", prog);
    return path[i];
}

int cxt_broker_init(cxt_broker_t *b, const char *extra)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "/tmp/cxtest-XXXXXX");
    if (!mkdtemp(b->dir)) return -1;
    snprintf(b->config, sizeof b->config, "%s/cxbroker.yaml", b->dir);
    snprintf(b->pub_ep, sizeof b->pub_ep, "ipc://%s/pub.sock", b->dir);
    snprintf(b->deliver_ep, sizeof b->deliver_ep, "ipc://%s/deliver.sock", b->dir);
    snprintf(b->admin_ep, sizeof b->admin_ep, "ipc://%s/admin.sock", b->dir);
    FILE *f = fopen(b->config, "w");
    if (!f) return -1;
    fprintf(f, "listen:\n  publish: %s\n  deliver: %s\n  admin: %s\n", b->pub_ep, b->deliver_ep,
            b->admin_ep);
    fprintf(f, "storage:\n  path: data\n  map_size: 1GiB\n  sync: full\n");
    if (extra) fputs(extra, f);
    fclose(f);
    return 0;
}

int cxt_broker_start(cxt_broker_t *b)
{
    char log[300];
    snprintf(log, sizeof log, "%s/broker.log", b->dir);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        execl(cxt_bin("cxbroker"), "cxbroker", "-c", b->config, (char *)NULL);
        _exit(127);
    }
    b->pid = pid;
    for (int i = 0; i < 300; i++) { /* up to 30 s: recovery may replay */
        Cx__AdminReply *r = NULL;
        if (cx_admin_call(b->admin_ep, "stats", NULL, 0, 100, &r) == 0) {
            cx__admin_reply__free_unpacked(r, NULL);
            return 0;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            b->pid = 0;
            fprintf(stderr, "cxbroker exited at start; see %s\n", log);
            return -1;
        }
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

int cxt_broker_stop(cxt_broker_t *b)
{
    if (!b->pid) return -1;
    kill(b->pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 300; i++) {
        if (waitpid(b->pid, &st, WNOHANG) == b->pid) {
            b->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    cxt_broker_kill9(b);
    return -1;
}

void cxt_broker_kill9(cxt_broker_t *b)
{
    if (!b->pid) return;
    kill(b->pid, SIGKILL);
    waitpid(b->pid, NULL, 0);
    b->pid = 0;
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A sanitizer report in the broker's log fails the test that ran it. */
static void s_check_log(cxt_broker_t *b)
{
    char path[300], line[512];
    snprintf(path, sizeof path, "%s/broker.log", b->dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    int reports = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "Sanitizer") || strstr(line, "runtime error:")) {
            if (reports++ < 20) fprintf(stderr, "broker.log: %s", line);
        }
    }
    fclose(f);
    cxt_check(reports == 0, __FILE__, __LINE__,
              "no sanitizer report in the broker's log (%d lines)", reports);
}

void cxt_broker_cleanup(cxt_broker_t *b)
{
    if (b->pid) cxt_broker_stop(b);
    if (b->dir[0]) s_check_log(b);
    if (b->dir[0] && !getenv("CX_KEEP")) nftw(b->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

Cx__AdminReply *cxt_admin(cxt_broker_t *b, const char *cmd, const char *arg)
{
    Cx__AdminReply *r = NULL;
    const char *args[1] = {arg};
    if (cx_admin_call(b->admin_ep, cmd, args, arg ? 1 : 0, 10000, &r) != 0) return NULL;
    return r;
}

int64_t cxt_stat(cxt_broker_t *b, const char *name)
{
    Cx__AdminReply *r = cxt_admin(b, "stats", NULL);
    if (!r || !r->stats) {
        if (r) cx__admin_reply__free_unpacked(r, NULL);
        return -1;
    }
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(&cx__stats__descriptor, name);
    int64_t v = -1;
    if (f && f->type == PROTOBUF_C_TYPE_UINT64)
        v = (int64_t) * (uint64_t *)((char *)r->stats + f->offset);
    cx__admin_reply__free_unpacked(r, NULL);
    return v;
}

int cxt_run(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
    }
    if (buf) buf[len] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

uint64_t cxt_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}
