/* harness.c — the integration tests' runner and server: check-and-count
 * test cases, a real parleyd in a temp directory with config, certificate
 * and accounts, helper processes (parleyctl), and reading the server log.
 * The clients live in harness-client.c (libstrophe) and harness-raw.c. */
#include "tests/integration/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define H_MAX_SERVERS 8

/* The runner's state: one test process runs one test at a time. */
static struct {
    const char *build;
    int passed, failed;
    const char *test; /* running test case, NULL between cases */
    long long test_start_ms;
    int test_failures;
    char first_failure[512];
    h_server_t *servers[H_MAX_SERVERS];
    int nservers;
    unsigned next_id;
} H;

/* ---- runner ---- */

long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *h_id(void)
{
    static char ids[8][24];
    char *id = ids[H.next_id % 8];
    snprintf(id, sizeof(ids[0]), "h%u", ++H.next_id);
    return id;
}

int h_check(int ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
    if (ok)
        return 1;
    char msg[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    }
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    char where[512];
    snprintf(where, sizeof(where), "%s:%d: %s%s%s", base, line, expr, msg[0] ? " -- " : "", msg);
    if (H.test_failures++ == 0)
        snprintf(H.first_failure, sizeof(H.first_failure), "%s", where);
    printf("    check failed: %s\n", where);
    fflush(stdout);
    return 0;
}

void h_init(void)
{
    H.build = getenv("PARLEY_BUILD") ? getenv("PARLEY_BUILD") : "build";
    signal(SIGPIPE, SIG_IGN);
    /* The clients trust the test certificate anyway; an empty CA store
     * spares libstrophe parsing the system one twice per login (~40 ms). */
    setenv("SSL_CERT_FILE", "/dev/null", 1);
    setenv("SSL_CERT_DIR", "/nonexistent", 1);
    setvbuf(stdout, NULL, _IOLBF, 0);
    xmpp_initialize();
}

static void begin_case(const char *name)
{
    H.test = name;
    H.test_start_ms = h_now_ms();
    H.test_failures = 0;
    H.first_failure[0] = '\0';
}

static void end_case(void)
{
    const char *timing = getenv("H_TIMING"); /* H_TIMING=1: how long each case took */
    if (timing && *timing == '1')
        printf("    (%lld ms)\n", h_now_ms() - H.test_start_ms);
    if (H.test_failures == 0) {
        H.passed++;
        printf("%s: ok\n", H.test);
    } else {
        H.failed++;
        printf("%s: FAILED (%s)\n", H.test, H.first_failure);
        for (int i = 0; i < H.nservers; i++) {
            printf("---- last 40 lines of %s ----\n", H.servers[i]->log);
            h_log_tail(H.servers[i], 40);
            printf("----\n");
        }
    }
    H.test = NULL;
}

void h_run_test(const char *name, h_test_fn fn, h_server_t *srv)
{
    begin_case(name);
    fn(srv);
    end_case();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int h_finish(const char *prog)
{
    const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
    const char *keep = getenv("H_KEEP"); /* H_KEEP=1 keeps the directories anyway */
    for (int i = 0; i < H.nservers; i++) {
        if (H.failed == 0 && !(keep && *keep == '1'))
            nftw(H.servers[i]->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        else
            printf("%s: kept %s for inspection\n", base, H.servers[i]->dir);
    }
    xmpp_shutdown();
    printf("%s: %d passed, %d failed\n", base, H.passed, H.failed);
    return H.failed ? 1 : 0;
}

/* ---- processes ---- */

static pid_t spawn(const char *path, char *const argv[], int in_fd, int out_fd)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    signal(SIGPIPE, SIG_DFL);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(out_fd, 2);
    execv(path, argv);
    _exit(127);
}

int h_run_prog(const char *prog, const char *input, char *out, size_t outlen,
               const char *const *argv)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", H.build, prog);
    char *args[32] = {path};
    size_t n = 1;
    for (; argv[n - 1] && n < 31; n++)
        args[n] = (char *)argv[n - 1];
    args[n] = NULL;
    /* Close-on-exec, so the child holds only the ends dup2'ed onto its
     * stdin/stdout: a program that reads stdin to the end sees EOF. */
    int in[2], outp[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = spawn(path, args, in[0], outp[1]);
    close(in[0]);
    close(outp[1]);
    if (input && write(in[1], input, strlen(input)) < 0)
        perror("write");
    close(in[1]);
    size_t used = 0;
    char tmp[4096];
    ssize_t r;
    while ((r = read(outp[0], tmp, sizeof(tmp))) > 0) {
        size_t take = out && used + 1 < outlen ? outlen - 1 - used : 0;
        if (take > (size_t)r)
            take = (size_t)r;
        if (take)
            memcpy(out + used, tmp, take);
        used += take;
    }
    close(outp[0]);
    if (out && outlen)
        out[used] = '\0';
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int h_ctl(h_server_t *srv, const char *input, char *out, size_t outlen, const char *const *args)
{
    const char *argv[32] = {"-c", srv->conf};
    size_t n = 2;
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return h_run_prog("parleyctl", input, out, outlen, argv);
}

/* ---- the server ---- */

int h_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int h_server_write_config(h_server_t *srv, const char *log_level)
{
    FILE *f = fopen(srv->conf, "w");
    if (!f)
        return -1;
    /* PARLEY_TEST_LOOPS runs the whole suite with that many event loops, so
     * one test's clients land on different loops (SO_REUSEPORT). */
    const char *loops = getenv("PARLEY_TEST_LOOPS");
    fprintf(f,
            "loops = %d;\n"
            "data_dir = \"data\";\n"
            "control_socket = \"data/parleyd.sock\";\n"
            "log = { level = \"%s\"; %s };\n"
            "tls = { cert = \"tls/cert.pem\"; key = \"tls/key.pem\"; };\n"
            "listen = (\n"
            "  { type = \"c2s\"; address = \"127.0.0.1\"; port = %d; },\n"
            "  { type = \"c2s-tls\"; address = \"127.0.0.1\"; port = %d; },\n"
            "  { type = \"component\"; address = \"127.0.0.1\"; port = %d; }\n"
            ");\n"
            "limits = { %s };\n"
            "%s\n"
            "hosts = (\n"
            "  { name = \"example.test\";\n"
            "    %s\n"
            "    modules = { disco = {}; ping = {}; version = {}; time = {}; register = {}; %s };\n"
            "    components = ( { domain = \"bot.example.test\"; secret = \"s3cret\"; } ); },\n"
            "  { name = \"other.test\";\n"
            "    modules = { disco = {}; ping = {}; }; }%s%s\n"
            ");\n",
            srv->opts.loops > 0        ? srv->opts.loops
            : loops && atoi(loops) > 0 ? atoi(loops)
                                       : 1,
            log_level, srv->opts.log_extra ? srv->opts.log_extra : "", srv->c2s_port, srv->tls_port,
            srv->comp_port, srv->opts.limits ? srv->opts.limits : "",
            srv->opts.top_extra ? srv->opts.top_extra : "",
            srv->opts.host_extra ? srv->opts.host_extra : "",
            srv->opts.modules ? srv->opts.modules : "", srv->opts.extra_hosts ? ",\n  " : "",
            srv->opts.extra_hosts ? srv->opts.extra_hosts : "");
    return fclose(f) == 0 ? 0 : -1;
}

static int server_setup(h_server_t *srv)
{
    char out[4096];
    snprintf(srv->dir, sizeof(srv->dir), "/tmp/parley-it-XXXXXX");
    if (!CHECK(mkdtemp(srv->dir) != NULL))
        return -1;
    H.servers[H.nservers++] = srv;
    snprintf(srv->conf, sizeof(srv->conf), "%s/parley.conf", srv->dir);
    snprintf(srv->log, sizeof(srv->log), "%s/parleyd.log", srv->dir);
    srv->c2s_port = h_free_port();
    srv->tls_port = h_free_port();
    srv->comp_port = h_free_port();
    if (!CHECK(srv->c2s_port > 0 && srv->tls_port > 0 && srv->comp_port > 0))
        return -1;
    if (!CHECK(h_server_write_config(srv, srv->opts.log_level ? srv->opts.log_level : "debug") ==
               0))
        return -1;
    int rc = h_run_prog("parleyd", NULL, out, sizeof(out),
                        (const char *[]){"-c", srv->conf, "--gen-cert", NULL});
    if (!CHECK_MSG(rc == 0, "parleyd --gen-cert: %s", out))
        return -1;
    for (const char *const *a = srv->opts.accounts; a && a[0] && a[1]; a += 2) {
        rc = h_ctl(srv, NULL, out, sizeof(out), (const char *[]){"user", "add", a[0], a[1], NULL});
        if (!CHECK_MSG(rc == 0, "parleyctl user add %s: %s", a[0], out))
            return -1;
    }
    return 0;
}

/* Starts parleyd on the prepared directory and waits for it to log
 * event=server.ready after log offset `mark`. */
static int server_launch(h_server_t *srv, size_t mark)
{
    int logfd = open(srv->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int nullfd = open("/dev/null", O_RDONLY);
    char path[512];
    snprintf(path, sizeof(path), "%s/parleyd", H.build);
    char *argv[] = {path, "-c", srv->conf, NULL};
    srv->pid = spawn(path, argv, nullfd, logfd);
    close(logfd);
    close(nullfd);
    if (!CHECK(srv->pid > 0))
        return -1;
    srv->running = 1;
    long long deadline = h_now_ms() + 10000;
    while (h_now_ms() < deadline) {
        if (h_log_has(srv, mark, "event=server.ready", NULL))
            return 0;
        if (h_server_wait_exit(srv, 0))
            break;
        usleep(10000);
    }
    return CHECK_MSG(0, "parleyd did not log event=server.ready within 10 s") ? 0 : -1;
}

int h_server_start(h_server_t *srv, const h_server_opts_t *opts)
{
    memset(srv, 0, sizeof(*srv));
    srv->opts = *opts;
    begin_case("start_server");
    int rc = server_setup(srv) == 0 ? server_launch(srv, 0) : -1;
    end_case();
    return rc;
}

int h_server_wait_exit(h_server_t *srv, int timeout_ms)
{
    if (!srv->running)
        return 1;
    long long deadline = h_now_ms() + timeout_ms;
    do {
        if (waitpid(srv->pid, &srv->status, WNOHANG) == srv->pid) {
            srv->running = 0;
            return 1;
        }
        if (timeout_ms > 0)
            usleep(5000);
    } while (h_now_ms() < deadline);
    return 0;
}

void h_server_stop(h_server_t *srv)
{
    begin_case("clean_shutdown");
    if (srv->pid > 0) {
        if (srv->running)
            kill(srv->pid, SIGTERM);
        if (!CHECK_MSG(h_server_wait_exit(srv, 15000), "parleyd did not exit after SIGTERM")) {
            kill(srv->pid, SIGKILL);
            h_server_wait_exit(srv, 5000);
        } else {
            CHECK_MSG(WIFEXITED(srv->status) && WEXITSTATUS(srv->status) == 0, "wait status 0x%x",
                      srv->status);
            CHECK(h_log_has(srv, 0, "event=server.stopped", NULL));
        }
        CHECK(!h_log_has(srv, 0, "AddressSanitizer", NULL));
        CHECK(!h_log_has(srv, 0, "LeakSanitizer", NULL));
        CHECK(!h_log_has(srv, 0, "runtime error:", NULL));
    } else {
        CHECK_MSG(0, "the server never started");
    }
    end_case();
}

int h_server_restart(h_server_t *srv)
{
    if (!CHECK(srv->running))
        return -1;
    kill(srv->pid, SIGTERM);
    if (!CHECK_MSG(h_server_wait_exit(srv, 15000), "parleyd did not exit after SIGTERM")) {
        kill(srv->pid, SIGKILL);
        h_server_wait_exit(srv, 5000);
        return -1;
    }
    if (!CHECK_MSG(WIFEXITED(srv->status) && WEXITSTATUS(srv->status) == 0,
                   "wait status 0x%x before the restart", srv->status))
        return -1;
    return server_launch(srv, h_log_mark(srv));
}

int h_server_relaunch(h_server_t *srv)
{
    if (!CHECK(!srv->running))
        return -1;
    return server_launch(srv, h_log_mark(srv));
}

int h_server_crash_restart(h_server_t *srv)
{
    if (!CHECK(srv->running))
        return -1;
    kill(srv->pid, SIGKILL);
    if (!CHECK_MSG(h_server_wait_exit(srv, 5000), "parleyd survived SIGKILL"))
        return -1;
    return server_launch(srv, h_log_mark(srv));
}

long h_server_rss_kb(h_server_t *srv)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)srv->pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* ---- the log ---- */

static char *read_from(const char *path, size_t offset, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    if (end < 0 || (size_t)end < offset) {
        fclose(f);
        return NULL;
    }
    *len = (size_t)end - offset;
    char *text = malloc(*len + 1);
    fseek(f, (long)offset, SEEK_SET);
    *len = fread(text, 1, *len, f);
    text[*len] = '\0';
    fclose(f);
    return text;
}

size_t h_log_mark(h_server_t *srv)
{
    struct stat st;
    return stat(srv->log, &st) == 0 ? (size_t)st.st_size : 0;
}

static int log_has_v(h_server_t *srv, size_t mark, va_list ap)
{
    const char *needles[16];
    int n = 0;
    for (const char *s; n < 16 && (s = va_arg(ap, const char *));)
        needles[n++] = s;
    size_t len;
    char *text = read_from(srv->log, mark, &len);
    int found = 0;
    for (char *line = text; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        found = 1;
        for (int i = 0; i < n && found; i++)
            found = strstr(line, needles[i]) != NULL;
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    return found;
}

int h_log_has(h_server_t *srv, size_t mark, ...)
{
    va_list ap;
    va_start(ap, mark);
    int found = log_has_v(srv, mark, ap);
    va_end(ap);
    return found;
}

int h_log_wait(h_server_t *srv, size_t mark, int timeout_ms, ...)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        va_list ap;
        va_start(ap, timeout_ms);
        int found = log_has_v(srv, mark, ap);
        va_end(ap);
        if (found || h_now_ms() >= deadline)
            return found;
        usleep(10000);
    }
}

int h_log_count(h_server_t *srv, size_t mark, const char *needle)
{
    size_t len;
    char *text = read_from(srv->log, mark, &len);
    int n = 0;
    for (char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    free(text);
    return n;
}

void h_log_tail(h_server_t *srv, int n)
{
    size_t len;
    char *text = read_from(srv->log, 0, &len);
    if (!text)
        return;
    size_t start = len;
    for (int lines = 0; start > 0; start--)
        if (text[start - 1] == '\n' && start != len && ++lines == n)
            break;
    fputs(text + start, stdout);
    free(text);
}
