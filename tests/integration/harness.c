/* harness.c — runs the real parleyd for the integration tests: a temp
 * directory with config, certificate and accounts; libstrophe clients on a
 * polled loop; raw OpenSSL clients (with a hand-written SCRAM client side)
 * for what libstrophe cannot say; and the check-and-count test runner. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#define H_MAX_SERVERS 8

/* The runner's state: one test process runs one test at a time. */
static struct {
    const char *build;
    int passed, failed;
    const char *test;   /* running test case, NULL between cases */
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
    int in[2], outp[2];
    if (pipe(in) != 0 || pipe(outp) != 0)
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

static int free_port(void)
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
    fprintf(f,
            "data_dir = \"data\";\n"
            "control_socket = \"data/parleyd.sock\";\n"
            "log = { level = \"%s\"; };\n"
            "tls = { cert = \"tls/cert.pem\"; key = \"tls/key.pem\"; };\n"
            "listen = (\n"
            "  { type = \"c2s\"; address = \"127.0.0.1\"; port = %d; },\n"
            "  { type = \"c2s-tls\"; address = \"127.0.0.1\"; port = %d; },\n"
            "  { type = \"component\"; address = \"127.0.0.1\"; port = %d; }\n"
            ");\n"
            "limits = { %s };\n"
            "hosts = (\n"
            "  { name = \"example.test\";\n"
            "    %s\n"
            "    modules = { disco = {}; ping = {}; version = {}; time = {}; register = {}; };\n"
            "    components = ( { domain = \"bot.example.test\"; secret = \"s3cret\"; } ); },\n"
            "  { name = \"other.test\";\n"
            "    modules = { disco = {}; ping = {}; }; }\n"
            ");\n",
            log_level, srv->c2s_port, srv->tls_port, srv->comp_port,
            srv->opts.limits ? srv->opts.limits : "",
            srv->opts.host_extra ? srv->opts.host_extra : "");
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
    srv->c2s_port = free_port();
    srv->tls_port = free_port();
    srv->comp_port = free_port();
    if (!CHECK(srv->c2s_port > 0 && srv->tls_port > 0 && srv->comp_port > 0))
        return -1;
    if (!CHECK(h_server_write_config(srv, srv->opts.log_level ? srv->opts.log_level : "debug") == 0))
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

static int server_launch(h_server_t *srv)
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
        if (h_log_has(srv, 0, "event=server.ready", NULL))
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
    int rc = server_setup(srv) == 0 ? server_launch(srv) : -1;
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
            CHECK_MSG(WIFEXITED(srv->status) && WEXITSTATUS(srv->status) == 0,
                      "wait status 0x%x", srv->status);
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

/* ---- libstrophe clients ---- */

xmpp_ctx_t *h_ctx_new(void)
{
    const char *dbg = getenv("H_DEBUG");
    return xmpp_ctx_new(NULL, dbg && *dbg == '1' ? xmpp_get_default_logger(XMPP_LEVEL_DEBUG) : NULL);
}

void h_ctx_free(xmpp_ctx_t *ctx) { xmpp_ctx_free(ctx); }

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
                    void *ud)
{
    h_client_t *c = ud;
    (void)conn, (void)error;
    if (ev == XMPP_CONN_CONNECT) {
        c->connected = 1;
    } else if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL) {
        c->connected = 0;
        c->disconnected = 1;
        if (se)
            c->stream_error = (int)se->type;
    }
}

static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    h_client_t *c = ud;
    const char *type = xmpp_stanza_get_type(st);
    if (strcmp(xmpp_stanza_get_name(st), "iq") == 0 && type && strcmp(type, "get") == 0 &&
        xmpp_stanza_get_child_by_name_and_ns(st, "ping", "urn:xmpp:ping")) {
        c->pings++;
        if (!c->ignore_pings) {
            const char *from = xmpp_stanza_get_from(st);
            h_send(c, "<iq type='result' id='%s' to='%s'/>", xmpp_stanza_get_id(st),
                   from ? from : "");
        }
    }
    if (c->ninbox == c->capinbox) {
        c->capinbox = c->capinbox ? 2 * c->capinbox : 16;
        c->inbox = realloc(c->inbox, c->capinbox * sizeof(*c->inbox));
    }
    c->inbox[c->ninbox++] = xmpp_stanza_clone(st);
    (void)conn;
    return 1;
}

/* Without TCP_NODELAY two small stanzas in a row wait for a delayed ACK
 * (~40 ms) on loopback. */
static int set_nodelay(xmpp_conn_t *conn, void *sock)
{
    int one = 1;
    (void)conn;
    return setsockopt(*(int *)sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int conn_failed(void *ud) { return *(int *)ud; }

static void on_probe(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
                     void *ud)
{
    (void)conn, (void)ev, (void)error, (void)se;
    *(int *)ud = 1;
}

/* libstrophe 0.12.2 allocates the stream-management state only in
 * xmpp_connect_client(), and a component connection then crashes on its
 * first stanza after the handshake (NULL sm_state).  Borrow one from a
 * client connection that fails at once against a closed port. */
static void give_sm_state(xmpp_ctx_t *ctx, xmpp_conn_t *conn)
{
    xmpp_conn_t *probe = xmpp_conn_new(ctx);
    int done = 0;
    xmpp_conn_set_jid(probe, "probe@example.test");
    if (xmpp_connect_client(probe, "127.0.0.1", (unsigned short)free_port(), on_probe, &done) == 0)
        h_run_until(ctx, conn_failed, &done, 5000);
    xmpp_sm_state_t *sm = done ? xmpp_conn_get_sm_state(probe) : NULL;
    if (sm && xmpp_conn_set_sm_state(conn, sm) != 0)
        xmpp_free_sm_state(sm);
    xmpp_conn_release(probe);
}

h_client_t *h_client_new(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const char *password,
                         int mode)
{
    h_client_t *c = calloc(1, sizeof(*c));
    c->ctx = ctx;
    c->stream_error = -1;
    c->conn = xmpp_conn_new(ctx);
    xmpp_conn_set_jid(c->conn, jid);
    xmpp_conn_set_pass(c->conn, password);
    xmpp_handler_add(c->conn, on_stanza, NULL, NULL, NULL, c);
    xmpp_conn_set_sockopt_callback(c->conn, set_nodelay);
    int rc;
    if (mode == H_COMPONENT) {
        give_sm_state(ctx, c->conn);
        rc = xmpp_connect_component(c->conn, "127.0.0.1", (unsigned short)srv->comp_port, on_conn, c);
    } else {
        long flags = XMPP_CONN_FLAG_TRUST_TLS | XMPP_CONN_FLAG_DISABLE_SM |
                     (mode == H_DIRECT_TLS ? XMPP_CONN_FLAG_LEGACY_SSL : XMPP_CONN_FLAG_MANDATORY_TLS);
        xmpp_conn_set_flags(c->conn, flags);
        rc = xmpp_connect_client(c->conn, "127.0.0.1",
                                 (unsigned short)(mode == H_DIRECT_TLS ? srv->tls_port : srv->c2s_port),
                                 on_conn, c);
    }
    if (rc != 0)
        c->disconnected = 1;
    return c;
}

static int client_gone(void *ud) { return ((h_client_t *)ud)->disconnected; }

void h_client_free(h_client_t *c)
{
    if (!c)
        return;
    if (!c->disconnected) {
        xmpp_disconnect(c->conn);
        h_run_until(c->ctx, client_gone, c, 2000);
    }
    for (size_t i = 0; i < c->ninbox; i++)
        xmpp_stanza_release(c->inbox[i]);
    free(c->inbox);
    xmpp_conn_release(c->conn);
    free(c);
}

int h_run_until(xmpp_ctx_t *ctx, int (*cond)(void *ud), void *ud, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    while (!cond(ud) && h_now_ms() < deadline)
        xmpp_run_once(ctx, 5);
    return cond(ud);
}

static int client_settled(void *ud)
{
    h_client_t *c = ud;
    return c->connected || c->disconnected;
}

int h_client_wait_login(h_client_t *c, int timeout_ms)
{
    h_run_until(c->ctx, client_settled, c, timeout_ms);
    return c->connected;
}

int h_wait_disconnect(h_client_t *c, int timeout_ms)
{
    return h_run_until(c->ctx, client_gone, c, timeout_ms);
}

const char *h_jid(h_client_t *c)
{
    const char *j = c->connected ? xmpp_conn_get_bound_jid(c->conn) : NULL;
    return j ? j : "";
}

h_client_t *h_login(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const char *password,
                    int prio)
{
    h_client_t *c = h_client_new(ctx, srv, jid, password, H_STARTTLS);
    if (!CHECK_MSG(h_client_wait_login(c, 15000), "login of %s", jid)) {
        h_client_free(c);
        return NULL;
    }
    if (prio)
        h_send(c, "<presence><priority>%d</priority></presence>", prio);
    else
        h_send(c, "<presence/>");
    /* A round trip makes sure the server has applied the presence before
     * the test goes on (stanzas from one stream are handled in order). */
    xmpp_stanza_t *pong = h_iq(c, "get", NULL, "<ping xmlns='urn:xmpp:ping'/>", 10000);
    CHECK_MSG(pong != NULL, "no answer to ping after login of %s", jid);
    if (pong)
        xmpp_stanza_release(pong);
    return c;
}

void h_send(h_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n >= 0)
        xmpp_send_raw(c->conn, text, (size_t)n);
    free(text);
}

const char *h_error_condition(xmpp_stanza_t *st)
{
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
    for (xmpp_stanza_t *k = err ? xmpp_stanza_get_children(err) : NULL; k;
         k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "text") != 0)
            return xmpp_stanza_get_name(k);
    return NULL;
}

static xmpp_stanza_t *find_child(xmpp_stanza_t *st, const char *name)
{
    for (xmpp_stanza_t *k = xmpp_stanza_get_children(st); k; k = xmpp_stanza_get_next(k)) {
        if (!xmpp_stanza_is_tag(k))
            continue;
        if (strcmp(xmpp_stanza_get_name(k), name) == 0)
            return k;
        xmpp_stanza_t *deep = find_child(k, name);
        if (deep)
            return deep;
    }
    return NULL;
}

char *h_child_text(xmpp_stanza_t *st, const char *name)
{
    xmpp_stanza_t *k = find_child(st, name);
    char *t = k ? xmpp_stanza_get_text(k) : NULL;
    char *copy = t ? strdup(t) : k ? strdup("") : NULL;
    if (t)
        xmpp_free(xmpp_stanza_get_context(st), t);
    return copy;
}

static int attr_is(xmpp_stanza_t *st, const char *attr, const char *want)
{
    const char *v = xmpp_stanza_get_attribute(st, attr);
    return !want || (v && strcmp(v, want) == 0);
}

int h_matches(xmpp_stanza_t *st, const h_match_t *m)
{
    if (m->name && strcmp(xmpp_stanza_get_name(st), m->name) != 0)
        return 0;
    if (!attr_is(st, "type", m->type) || !attr_is(st, "id", m->id) || !attr_is(st, "from", m->from))
        return 0;
    if (m->body) {
        xmpp_stanza_t *b = xmpp_stanza_get_child_by_name(st, "body");
        char *t = b ? xmpp_stanza_get_text(b) : NULL;
        int same = t && strcmp(t, m->body) == 0;
        if (t)
            xmpp_free(xmpp_stanza_get_context(st), t);
        if (!same)
            return 0;
    }
    if (m->child_ns && !xmpp_stanza_get_child_by_ns(st, m->child_ns))
        return 0;
    if (m->error) {
        const char *cond = h_error_condition(st);
        if (!cond || strcmp(cond, m->error) != 0)
            return 0;
    }
    return 1;
}

static xmpp_stanza_t *take(h_client_t *c, const h_match_t *m)
{
    for (size_t i = 0; i < c->ninbox; i++) {
        if (h_matches(c->inbox[i], m)) {
            xmpp_stanza_t *st = c->inbox[i];
            memmove(c->inbox + i, c->inbox + i + 1, (c->ninbox - i - 1) * sizeof(*c->inbox));
            c->ninbox--;
            return st;
        }
    }
    return NULL;
}

xmpp_stanza_t *h_wait(h_client_t *c, const h_match_t *m, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        xmpp_stanza_t *st = take(c, m);
        if (st || c->disconnected || h_now_ms() >= deadline)
            return st;
        xmpp_run_once(c->ctx, 5);
    }
}

int h_count(h_client_t *c, const h_match_t *m)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++)
        n += h_matches(c->inbox[i], m);
    return n;
}

xmpp_stanza_t *h_iq(h_client_t *c, const char *type, const char *to, const char *payload,
                    int timeout_ms)
{
    char id[24];
    snprintf(id, sizeof(id), "%s", h_id());
    if (to)
        h_send(c, "<iq type='%s' id='%s' to='%s'>%s</iq>", type, id, to, payload);
    else
        h_send(c, "<iq type='%s' id='%s'>%s</iq>", type, id, payload);
    return h_wait(c, &(h_match_t){.name = "iq", .id = id}, timeout_ms);
}

/* ---- raw clients ---- */

int h_raw_connect(h_raw_t *r, int port)
{
    memset(r, 0, sizeof(*r));
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return 0;
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
    return 1;
}

void h_raw_close(h_raw_t *r)
{
    if (r->ssl)
        SSL_free(r->ssl);
    if (r->ssl_ctx)
        SSL_CTX_free(r->ssl_ctx);
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

static void raw_reset(h_raw_t *r)
{
    r->len = r->seen = 0;
    if (r->buf)
        r->buf[0] = '\0';
}

static void wait_fd(int fd, short events, long long deadline)
{
    long long left = deadline - h_now_ms();
    struct pollfd p = {.fd = fd, .events = events};
    if (left > 0)
        poll(&p, 1, (int)left);
}

/* Reads what is there, waiting up to the deadline for the first byte:
 * 1 got data, 0 closed, -1 timed out. */
static int raw_fill(h_raw_t *r, long long deadline)
{
    for (;;) {
        char tmp[16384];
        ssize_t n;
        if (r->ssl) {
            int k = SSL_read(r->ssl, tmp, sizeof(tmp));
            n = k;
            if (k <= 0) {
                int e = SSL_get_error(r->ssl, k);
                n = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -1 : 0;
                errno = EAGAIN;
            }
        } else {
            n = read(r->fd, tmp, sizeof(tmp));
        }
        if (n > 0) {
            if (r->len + (size_t)n + 1 > r->cap) {
                r->cap = (r->len + (size_t)n + 1) * 2;
                r->buf = realloc(r->buf, r->cap);
            }
            memcpy(r->buf + r->len, tmp, (size_t)n);
            r->len += (size_t)n;
            r->buf[r->len] = '\0';
            return 1;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            r->eof = 1;
            return 0;
        }
        if (h_now_ms() >= deadline)
            return -1;
        wait_fd(r->fd, POLLIN, deadline);
    }
}

int h_raw_send(h_raw_t *r, const char *data, size_t len)
{
    long long deadline = h_now_ms() + 10000;
    while (len > 0) {
        ssize_t n;
        if (r->ssl) {
            int k = SSL_write(r->ssl, data, (int)len);
            int e = k > 0 ? 0 : SSL_get_error(r->ssl, k);
            if (k <= 0 && e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
                return 0;
            n = k > 0 ? k : 0;
        } else {
            n = send(r->fd, data, len, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return 0;
            if (n < 0)
                n = 0;
        }
        data += n;
        len -= (size_t)n;
        if (len > 0) {
            if (h_now_ms() >= deadline)
                return 0;
            wait_fd(r->fd, POLLOUT, deadline);
        }
    }
    return 1;
}

int h_raw_sendf(h_raw_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    int ok = n >= 0 && h_raw_send(r, text, (size_t)n);
    free(text);
    return ok;
}

int h_raw_wait(h_raw_t *r, const char *needle, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        char *hit = r->len > r->seen ? memmem(r->buf + r->seen, r->len - r->seen, needle,
                                              strlen(needle))
                                     : NULL;
        if (hit) {
            r->seen = (size_t)(hit - r->buf) + strlen(needle);
            return 1;
        }
        if (r->eof || raw_fill(r, deadline) < 0)
            return 0;
    }
}

int h_raw_poll(h_raw_t *r)
{
    int got = 0;
    while (!r->eof && raw_fill(r, 0) > 0)
        got = 1;
    return got;
}

int h_raw_wait_eof(h_raw_t *r, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    while (!r->eof)
        if (raw_fill(r, deadline) < 0)
            return 0;
    return 1;
}

int h_raw_open_stream(h_raw_t *r, const char *domain)
{
    raw_reset(r);
    return h_raw_sendf(r,
                       "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                       "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
                       domain) &&
           h_raw_wait(r, "</stream:features>", 10000);
}

int h_raw_tls_handshake(h_raw_t *r, int min_version, int max_version)
{
    r->ssl_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(r->ssl_ctx, SSL_VERIFY_NONE, NULL);
    if (min_version || max_version) {
        /* Old protocol versions are refused by OpenSSL's own default
         * security level; lower it so only the server can say no. */
        SSL_CTX_set_security_level(r->ssl_ctx, 0);
        SSL_CTX_set_cipher_list(r->ssl_ctx, "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(r->ssl_ctx, min_version);
        SSL_CTX_set_max_proto_version(r->ssl_ctx, max_version);
    }
    r->ssl = SSL_new(r->ssl_ctx);
    SSL_set_fd(r->ssl, r->fd);
    SSL_set_tlsext_host_name(r->ssl, "example.test");
    long long deadline = h_now_ms() + 10000;
    for (;;) {
        int k = SSL_connect(r->ssl);
        if (k == 1)
            break;
        int e = SSL_get_error(r->ssl, k);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || h_now_ms() >= deadline)
            return 0;
        wait_fd(r->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
    }
    raw_reset(r);
    return 1;
}

int h_raw_starttls(h_raw_t *r, const char *domain)
{
    return h_raw_open_stream(r, domain) && strstr(r->buf, "<starttls") &&
           h_raw_sendf(r, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") &&
           h_raw_wait(r, "<proceed", 10000) && h_raw_tls_handshake(r, 0, 0) &&
           h_raw_open_stream(r, domain);
}

/* ---- SASL on raw clients ---- */

static char *b64_encode(const unsigned char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static unsigned char *b64_decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    unsigned char *out = malloc(n + 1);
    int k = n ? EVP_DecodeBlock(out, (const unsigned char *)text, (int)n) : 0;
    if (k < 0) {
        free(out);
        return NULL;
    }
    while (n > 0 && text[n - 1] == '=') /* EVP_DecodeBlock counts padding */
        n--, k--;
    *len = (size_t)k;
    out[k] = '\0';
    return out;
}

/* Waits for the next <challenge/>, <success/>, <failure/> or stream error.
 * Returns 'c', 's', 'f' or 'e' (0 on timeout/close).  For challenge and
 * success `text` gets the content; for failure and stream errors the name
 * of the first child (the condition). */
static int sasl_answer(h_raw_t *r, char *text, size_t textlen)
{
    static const char *const names[] = {"challenge", "success", "failure", "stream:error"};
    long long deadline = h_now_ms() + 10000;
    for (;;) {
        const char *best = NULL;
        int which = -1;
        for (int i = 0; i < 4; i++) {
            char open[32];
            snprintf(open, sizeof(open), "<%s", names[i]);
            char *p = r->len > r->seen ? strstr(r->buf + r->seen, open) : NULL;
            if (p && (!best || p < best))
                best = p, which = i;
        }
        if (best) {
            const char *gt = strchr(best, '>');
            char close[32];
            snprintf(close, sizeof(close), "</%s>", names[which]);
            const char *end = gt && gt[-1] == '/' ? gt + 1 : gt ? strstr(gt, close) : NULL;
            if (end) {
                const char *body = gt[-1] == '/' ? end : gt + 1;
                size_t n = (size_t)(end - body);
                if (which >= 2 && body[0] == '<') { /* condition element's name */
                    body++;
                    n = strcspn(body, " />");
                }
                snprintf(text, textlen, "%.*s", (int)n, body);
                r->seen = (size_t)(end - r->buf);
                return "csfe"[which];
            }
        }
        if (r->eof || raw_fill(r, deadline) < 0)
            return 0;
    }
}

static void hmac(const EVP_MD *md, const unsigned char *key, size_t keylen, const void *data,
                 size_t len, unsigned char *out)
{
    unsigned outlen = 0;
    HMAC(md, key, (int)keylen, data, len, out, &outlen);
}

/* Channel-binding data for this TLS connection, by RFC 9266 / RFC 5929. */
static size_t channel_binding(h_raw_t *r, const char *type, unsigned char *out)
{
    if (strcmp(type, "tls-exporter") == 0) {
        static const char label[] = "EXPORTER-Channel-Binding";
        return SSL_export_keying_material(r->ssl, out, 32, label, sizeof(label) - 1, NULL, 0, 0) == 1
                   ? 32 : 0;
    }
    X509 *cert = SSL_get1_peer_certificate(r->ssl);
    int mdnid = 0;
    unsigned len = 0;
    if (cert && X509_get_signature_info(cert, &mdnid, NULL, NULL, NULL)) {
        const EVP_MD *md = EVP_get_digestbynid(mdnid);
        if (!md || mdnid == NID_md5 || mdnid == NID_sha1)
            md = EVP_sha256();
        X509_digest(cert, md, out, &len);
    }
    X509_free(cert);
    return len;
}

int h_raw_scram(h_raw_t *r, const h_scram_t *p, char *cond, size_t condlen)
{
    const EVP_MD *md = strstr(p->mech, "SHA-256") ? EVP_sha256() : EVP_sha1();
    size_t hlen = (size_t)EVP_MD_get_size(md);
    int plus = strstr(p->mech, "-PLUS") != NULL;
    char gs2[64], nonce[25], first_bare[256], msg[2048], text[2048];
    snprintf(gs2, sizeof(gs2), plus ? "p=%s,," : "%s,,",
             plus ? p->cb_type : p->claim_no_server_cb ? "y" : "n");
    unsigned char rnd[18];
    RAND_bytes(rnd, sizeof(rnd));
    char *rb = b64_encode(rnd, sizeof(rnd));
    snprintf(nonce, sizeof(nonce), "%s", rb);
    free(rb);
    snprintf(first_bare, sizeof(first_bare), "n=%s,r=%s", p->user, nonce);
    snprintf(msg, sizeof(msg), "%s%s", gs2, first_bare);
    char *b = b64_encode((unsigned char *)msg, strlen(msg));
    h_raw_sendf(r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>",
                p->mech, b);
    free(b);
    int k = sasl_answer(r, text, sizeof(text));
    if (k != 'c') {
        snprintf(cond, condlen, "%s%s", k == 'f' ? "" : "unexpected: ", k ? text : "no answer");
        return k == 'f' ? H_AUTH_FAILED : H_AUTH_ERROR;
    }
    size_t sflen;
    char *server_first = (char *)b64_decode(text, &sflen);
    char *rn = server_first ? strstr(server_first, "r=") : NULL;
    char *sp = server_first ? strstr(server_first, ",s=") : NULL;
    char *ip = server_first ? strstr(server_first, ",i=") : NULL;
    if (!rn || !sp || !ip || strncmp(rn + 2, nonce, strlen(nonce)) != 0) {
        snprintf(cond, condlen, "bad server-first-message");
        free(server_first);
        return H_AUTH_ERROR;
    }
    char full_nonce[256], salt64[256];
    snprintf(full_nonce, sizeof(full_nonce), "%.*s", (int)(sp - rn - 2), rn + 2);
    snprintf(salt64, sizeof(salt64), "%.*s", (int)(ip - sp - 3), sp + 3);
    int iterations = atoi(ip + 3);
    size_t saltlen;
    unsigned char *salt = b64_decode(salt64, &saltlen);
    unsigned char salted[64], client_key[64], stored_key[64], client_sig[64], proof[64];
    unsigned char server_key[64], server_sig[64];
    PKCS5_PBKDF2_HMAC(p->password, (int)strlen(p->password), salt, (int)saltlen, iterations, md,
                      (int)hlen, salted);
    free(salt);
    hmac(md, salted, hlen, "Client Key", 10, client_key);
    EVP_Digest(client_key, hlen, stored_key, NULL, md, NULL);
    unsigned char cbind[256];
    size_t cblen = strlen(gs2);
    memcpy(cbind, gs2, cblen);
    if (plus) {
        size_t n = channel_binding(r, p->cb_type, cbind + cblen);
        if (n && p->corrupt_cb)
            cbind[cblen] ^= 1;
        cblen += n;
    }
    char *c64 = b64_encode(cbind, cblen);
    char final_wo_proof[512], auth_msg[2048];
    snprintf(final_wo_proof, sizeof(final_wo_proof), "c=%s,r=%s", c64, full_nonce);
    free(c64);
    snprintf(auth_msg, sizeof(auth_msg), "%s,%s,%s", first_bare, server_first, final_wo_proof);
    free(server_first);
    hmac(md, stored_key, hlen, auth_msg, strlen(auth_msg), client_sig);
    for (size_t i = 0; i < hlen; i++)
        proof[i] = client_key[i] ^ client_sig[i];
    char *p64 = b64_encode(proof, hlen);
    snprintf(msg, sizeof(msg), "%s,p=%s", final_wo_proof, p64);
    free(p64);
    b = b64_encode((unsigned char *)msg, strlen(msg));
    h_raw_sendf(r, "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>", b);
    free(b);
    k = sasl_answer(r, text, sizeof(text));
    if (k != 's') {
        snprintf(cond, condlen, "%s%s", k == 'f' ? "" : "unexpected: ", k ? text : "no answer");
        return k == 'f' ? H_AUTH_FAILED : H_AUTH_ERROR;
    }
    hmac(md, salted, hlen, "Server Key", 10, server_key);
    hmac(md, server_key, hlen, auth_msg, strlen(auth_msg), server_sig);
    char *v64 = b64_encode(server_sig, hlen);
    size_t vlen;
    char *server_final = (char *)b64_decode(text, &vlen);
    int ok = server_final && strncmp(server_final, "v=", 2) == 0 && strcmp(server_final + 2, v64) == 0;
    snprintf(cond, condlen, "%s", ok ? "" : "server signature did not verify");
    free(server_final);
    free(v64);
    return ok ? H_AUTH_OK : H_AUTH_ERROR;
}

int h_raw_plain(h_raw_t *r, const char *user, const char *password, char *cond, size_t condlen)
{
    char msg[512], text[1024];
    size_t n = (size_t)snprintf(msg, sizeof(msg), "%c%s%c%s", 0, user, 0, password);
    char *b = b64_encode((unsigned char *)msg, n);
    h_raw_sendf(r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", b);
    free(b);
    int k = sasl_answer(r, text, sizeof(text));
    snprintf(cond, condlen, "%s%s", k == 'f' || k == 's' ? "" : "unexpected: ",
             k ? text : "no answer");
    return k == 's' ? H_AUTH_OK : k == 'f' ? H_AUTH_FAILED : H_AUTH_ERROR;
}

int h_raw_bind(h_raw_t *r, const char *domain, const char *resource, char *jid, size_t jidlen)
{
    if (!h_raw_open_stream(r, domain) || !strstr(r->buf, "urn:ietf:params:xml:ns:xmpp-bind"))
        return 0;
    h_raw_sendf(r, "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>%s</resource></bind></iq>", resource);
    if (!h_raw_wait(r, "</jid>", 10000))
        return 0;
    char *end = r->buf + r->seen - 6, *start = end;
    while (start > r->buf && start[-1] != '>')
        start--;
    snprintf(jid, jidlen, "%.*s", (int)(end - start), start);
    return 1;
}

int h_raw_login(h_raw_t *r, h_server_t *srv, const char *user, const char *password,
                const char *resource)
{
    char cond[256], jid[256];
    h_scram_t p = {.mech = "SCRAM-SHA-256", .user = user, .password = password};
    return h_raw_connect(r, srv->c2s_port) && h_raw_starttls(r, "example.test") &&
           h_raw_scram(r, &p, cond, sizeof(cond)) == H_AUTH_OK &&
           h_raw_bind(r, "example.test", resource, jid, sizeof(jid));
}
