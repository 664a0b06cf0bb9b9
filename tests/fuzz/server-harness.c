/* server-harness.c — the in-process server of the fuzz targets (see
 * server-harness.h): one pl_server_t started from a configuration string on
 * loop 0 of this thread, sessions made with pl_session_open_fd on one end of
 * a socketpair, the loop run without blocking until everything the input
 * caused is done, and the checks that every input must pass. */
#include "tests/fuzz/server-harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/accounts-admin.h"
#include "core/c2s/c2s.h"
#include "core/core.h"
#include "core/module-conf.h"
#include "lib/base64.h"
#include "lib/util.h"
#include "modules/registry.h"
#include "storage/storage.h"
#include "tests/fuzz/helpers.h"

#define FZ_MAX_CONNS 8
#define FZ_MAX_OUTPUT (16u << 20) /* per connection: beyond this it is not kept */
#define FZ_SETTLE_MS 20000        /* a server that is never quiet is a finding */
#define FZ_USER "fuzz"
#define FZ_PASSWORD "fuzz-pw"
#define FZ_PEER "peer"
#define FZ_PEER_PASSWORD "peer-pw"
#define STREAM_HEADER                                                                              \
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "                                   \
    "xmlns:stream='http://etherx.jabber.org/streams' to='" FZ_DOMAIN "' version='1.0'>"
#define SERVER_HEADER "<?xml version='1.0'?><stream:stream "
#define XML_NS "http://www.w3.org/XML/1998/namespace"

typedef enum conn_kind { CONN_C2S, CONN_COMPONENT, CONN_CONTROL } conn_kind_t;

typedef struct fz_conn {
    conn_kind_t kind;
    int fd;          /* our end, -1 once closed */
    pl_session_t *s; /* a reference (client and component connections) */
    pl_buf_t out;    /* what the server wrote to us */
    size_t scanned;  /* out is searched for ids and tokens from here */
    int truncated;   /* out reached FZ_MAX_OUTPUT */
} fz_conn_t;

/* The harness lives for the process: libFuzzer calls the target function
 * with no context of its own. */
static struct {
    pl_server_t *srv;
    char dir[256];
    pid_t owner; /* the process that made dir (fork mode children make their own) */
    fz_conn_t conns[FZ_MAX_CONNS];
    size_t nconns;
    fz_conn_t *cur;
    char smid[128];
    char token[128];
} F;

/* ---- the data directory ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_dir(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
    if (F.dir[0] && F.owner == getpid())
        remove_dir(F.dir);
}

/* Directories of fuzzing processes that died without cleaning up (a crash
 * is what fuzzing looks for), found by the pid in their name. */
static void remove_stale_dirs(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid = 0;
        if (sscanf(e->d_name, "parley-fuzz-%d-", &pid) != 1 || pid <= 0)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
        remove_dir(path);
    }
    closedir(d);
}

/* ---- running the loop ---- */

static pl_loop_t *loop0(void)
{
    return F.srv->loops[0];
}

static void scan_output(fz_conn_t *c)
{
    /* The last SM id and FAST token, for @SMID@, @TOKEN@ and @HT@. */
    static const struct {
        const char *before;
        char *into;
    } finds[] = {
        {"<enabled xmlns='urn:xmpp:sm:3' id='", F.smid},
        {" token='", F.token},
    };
    const char *data = c->out.data;
    size_t from = c->scanned > 64 ? c->scanned - 64 : 0;
    for (size_t f = 0; f < sizeof(finds) / sizeof(finds[0]) && data; f++) {
        size_t blen = strlen(finds[f].before);
        for (const char *p = data + from;
             (p = memmem(p, c->out.len - (size_t)(p - data), finds[f].before, blen));) {
            p += blen;
            const char *q = memchr(p, '\'', c->out.len - (size_t)(p - data));
            if (!q)
                break;
            if ((size_t)(q - p) < 128) {
                memcpy(finds[f].into, p, (size_t)(q - p));
                finds[f].into[q - p] = '\0';
            }
        }
    }
    c->scanned = c->out.len;
}

/* Reads what the server wrote to every open connection. */
static void drain(void)
{
    char buf[65536];
    for (size_t i = 0; i < F.nconns; i++) {
        fz_conn_t *c = &F.conns[i];
        if (c->fd < 0)
            continue;
        ssize_t n;
        while ((n = read(c->fd, buf, sizeof(buf))) > 0) {
            if (c->out.len + (size_t)n > FZ_MAX_OUTPUT)
                c->truncated = 1;
            if (!c->truncated)
                pl_buf_append(&c->out, buf, (size_t)n);
        }
        if (!c->truncated)
            scan_output(c);
    }
}

static int session_reading(pl_session_t *s)
{
    return s && !pl_session_ended(s);
}

/* Nothing the input caused is still under way. */
static int quiet(void)
{
    pl_loop_t *loop = loop0();
    if (loop->dirty || loop->uv.active_reqs.count || loop->uv.closing_handles ||
        !pl_storage_port_idle(loop->storage_port))
        return 0;
    pthread_mutex_lock(&loop->inbox_lock);
    int inbox = loop->inbox_head != NULL;
    pthread_mutex_unlock(&loop->inbox_lock);
    if (inbox)
        return 0;
    for (size_t i = 0; i < F.nconns; i++) {
        fz_conn_t *c = &F.conns[i];
        int avail = 0;
        if (c->fd >= 0 && ioctl(c->fd, FIONREAD, &avail) == 0 && avail > 0)
            return 0;
        if (c->s && c->s->write_pending)
            return 0;
        uv_os_fd_t sfd;
        if (session_reading(c->s) && uv_fileno((uv_handle_t *)&c->s->tcp, &sfd) == 0 &&
            ioctl(sfd, FIONREAD, &avail) == 0 && avail > 0)
            return 0;
    }
    return 1;
}

/* Runs the loop until the server has done everything it can. */
static void settle(void)
{
    pl_loop_t *loop = loop0();
    uint64_t deadline = pl_mono_ms() + FZ_SETTLE_MS;
    for (int calm = 0; calm < 2;) {
        drain();
        /* Waiting for another thread (hashing, storage): block until it
         * reports; otherwise one pass without blocking. */
        int waiting = loop->uv.active_reqs.count > 0 || !pl_storage_port_idle(loop->storage_port);
        uv_run(&loop->uv, waiting ? UV_RUN_ONCE : UV_RUN_NOWAIT);
        drain();
        calm = quiet() ? calm + 1 : 0;
        if (pl_mono_ms() > deadline)
            pl_die("fuzz harness: the server was still busy after %d ms", FZ_SETTLE_MS);
    }
}

/* ---- accounts ---- */

typedef struct admin_write {
    pl_admin_job_t job;
    int done, status;
} admin_write_t;

static int admin_run(pl_wtxn_t *txn, void *ud)
{
    admin_write_t *w = ud;
    return pl_admin_job_run(txn, &w->job);
}

static void admin_done(void *ud, int status)
{
    admin_write_t *w = ud;
    w->done = 1;
    w->status = status;
}

/* The account exists with its password again (an input may have changed
 * the password in-band, or deleted the account over the control socket):
 * created, or if that fails because it exists, given its password. */
static void account_reset(const char *user, const char *password)
{
    char bare[128];
    snprintf(bare, sizeof(bare), "%s@" FZ_DOMAIN, user);
    const char *hosts[] = {FZ_DOMAIN, "other.test"};
    static const pl_admin_op_t ops[] = {PL_ADMIN_ADD, PL_ADMIN_PASSWD};
    for (size_t i = 0; i < 2; i++) {
        admin_write_t w = {0};
        if (pl_admin_job_init(&w.job, ops[i], bare, password, 4096, hosts, 2) != 0)
            pl_die("fuzz harness: %s", w.job.error);
        if (pl_storage_write(loop0()->storage_port, admin_run, admin_done, &w) != 0)
            pl_die("fuzz harness: cannot queue an account write");
        while (!w.done)
            settle();
        pl_admin_job_deinit(&w.job);
        if (w.status == 0)
            return;
    }
    pl_die("fuzz harness: cannot restore account %s", bare);
}

/* ---- connections ---- */

static fz_conn_t *conn_new(conn_kind_t kind)
{
    if (F.nconns == FZ_MAX_CONNS)
        return NULL;
    fz_conn_t *c = &F.conns[F.nconns++];
    *c = (fz_conn_t){.kind = kind, .fd = -1};
    pl_buf_init(&c->out);
    int sv[2];
    if (kind == CONN_CONTROL) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", F.srv->config->control_socket);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
            pl_die("fuzz harness: cannot connect to the control socket: %s", strerror(errno));
        return c;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        pl_die("fuzz harness: socketpair: %s", strerror(errno));
    c->fd = sv[0];
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    int component = kind == CONN_COMPONENT;
    pl_session_t *s = pl_session_new(loop0(), component ? &pl_component_ops : &pl_c2s_ops,
                                     component ? PL_LISTEN_COMPONENT : PL_LISTEN_C2S);
    /* A socketpair in the same process is as private as TLS: the stream
     * goes straight to features and SASL, as over WebSocket on HTTPS. */
    s->secure = 1;
    c->s = pl_session_ref(s);
    if (pl_session_open_fd(s, sv[1], "fuzz") != 0)
        pl_die("fuzz harness: pl_session_open_fd failed");
    return c;
}

static void send_bytes(fz_conn_t *c, const char *data, size_t len)
{
    if (!c || c->fd < 0)
        return;
    while (len > 0) {
        ssize_t n = write(c->fd, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            settle(); /* the server reads, and we read what it answers */
        } else {
            return; /* the server closed the connection: the rest is lost */
        }
    }
}

static void send_str(fz_conn_t *c, const char *s)
{
    send_bytes(c, s, strlen(s));
}

static int output_has(fz_conn_t *c, size_t from, const char *needle)
{
    return c->out.len > from &&
           memmem(c->out.data + from, c->out.len - from, needle, strlen(needle)) != NULL;
}

/* The client side of SCRAM-SHA-256 for the logins the scripts ask for:
 * the server then needs no password hashing (PLAIN would cost a PBKDF2 per
 * login), and the salted password is derived once per account and salt. */
typedef struct salted {
    char key[256]; /* user, salt and iterations */
    unsigned char pw[32];
} salted_t;

static int scram_login(fz_conn_t *c, const char *user, const char *password)
{
    static salted_t cache[4];
    static unsigned next;
    char nonce[25], first_bare[128];
    pl_random_id(nonce, sizeof(nonce) - 1);
    snprintf(first_bare, sizeof(first_bare), "n=%s,r=%s", user, nonce);
    char first[160];
    snprintf(first, sizeof(first), "n,,%s", first_bare);
    char *b64 = pl_base64_encode((const uint8_t *)first, strlen(first));
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_printf(&b,
                  STREAM_HEADER "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                                "mechanism='SCRAM-SHA-256'>%s</auth>",
                  b64);
    free(b64);
    size_t mark = c->out.len;
    send_bytes(c, b.data, b.len);
    pl_buf_deinit(&b);
    settle();
    /* <challenge xmlns='...'>base64(r=...,s=...,i=...)</challenge> */
    const char *ch =
        c->out.len > mark ? memmem(c->out.data + mark, c->out.len - mark, "<challenge", 10) : NULL;
    const char *open = ch ? memchr(ch, '>', c->out.len - (size_t)(ch - c->out.data)) : NULL;
    const char *close_ = open ? memchr(open, '<', c->out.len - (size_t)(open - c->out.data)) : NULL;
    if (!close_)
        return 0;
    size_t sflen;
    char *server_first = (char *)pl_base64_decode(open + 1, (size_t)(close_ - open - 1), &sflen);
    const char *r = server_first ? strstr(server_first, "r=") : NULL;
    const char *s = server_first ? strstr(server_first, ",s=") : NULL;
    const char *i = server_first ? strstr(server_first, ",i=") : NULL;
    if (!r || !s || !i) {
        free(server_first);
        return 0;
    }
    char key[256];
    snprintf(key, sizeof(key), "%s %s", user, s);
    salted_t *sp = NULL;
    for (size_t k = 0; k < 4 && !sp; k++)
        if (strcmp(cache[k].key, key) == 0)
            sp = &cache[k];
    if (!sp) {
        size_t salt_len;
        uint8_t *salt = pl_base64_decode(s + 3, (size_t)(i - s - 3), &salt_len);
        sp = &cache[next++ % 4];
        snprintf(sp->key, sizeof(sp->key), "%s", key);
        PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, atoi(i + 3),
                          EVP_sha256(), 32, sp->pw);
        free(salt);
    }
    unsigned char client_key[32], stored[32], sig[32], proof[32];
    unsigned len = 32;
    HMAC(EVP_sha256(), sp->pw, 32, (const unsigned char *)"Client Key", 10, client_key, &len);
    SHA256(client_key, 32, stored);
    char without_proof[160];
    snprintf(without_proof, sizeof(without_proof), "c=biws,r=%.*s", (int)(s - r - 2), r + 2);
    pl_buf_init(&b);
    pl_buf_printf(&b, "%s,%s,%s", first_bare, server_first, without_proof);
    HMAC(EVP_sha256(), stored, 32, (const unsigned char *)b.data, b.len, sig, &len);
    pl_buf_deinit(&b);
    free(server_first);
    for (int k = 0; k < 32; k++)
        proof[k] = client_key[k] ^ sig[k];
    char *p64 = pl_base64_encode(proof, 32);
    pl_buf_init(&b);
    pl_buf_printf(&b, "%s,p=%s", without_proof, p64);
    free(p64);
    b64 = pl_base64_encode((const uint8_t *)b.data, b.len);
    pl_buf_reset(&b);
    pl_buf_printf(&b, "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>", b64);
    free(b64);
    mark = c->out.len;
    send_bytes(c, b.data, b.len);
    pl_buf_deinit(&b);
    settle();
    return output_has(c, mark, "<success");
}

/* A client connection logged in (and bound unless bind = 0). */
static fz_conn_t *login(const char *user, const char *password, int bind)
{
    fz_conn_t *c = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        c = conn_new(CONN_C2S);
        if (!c)
            return NULL;
        if (scram_login(c, user, password))
            break;
        /* The account was changed by an earlier input: restore it. */
        close(c->fd);
        c->fd = -1;
        settle();
        account_reset(user, password);
        c = NULL;
    }
    if (!c)
        pl_die("fuzz harness: %s cannot log in", user);
    send_str(c, STREAM_HEADER);
    if (bind) {
        char iq[256];
        snprintf(iq, sizeof(iq),
                 "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                 "<resource>%s%zu</resource></bind></iq>",
                 user, F.nconns);
        send_str(c, iq);
    }
    settle();
    return c;
}

static void handshake(fz_conn_t *c)
{
    if (!c || !c->s || c->kind != CONN_COMPONENT)
        return;
    char input[256];
    int n = snprintf(input, sizeof(input), "%s%s", c->s->stream_id, FZ_COMPONENT_SECRET);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_Digest(input, (size_t)n, md, &len, EVP_sha1(), NULL);
    char hs[128] = "<handshake>";
    for (unsigned i = 0; i < len; i++)
        snprintf(hs + 11 + 2 * i, 3, "%02x", md[i]);
    strcat(hs, "</handshake>");
    send_str(c, hs);
}

/* ---- the server ---- */

static void start_server(void)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    remove_stale_dirs(base);
    snprintf(F.dir, sizeof(F.dir), "%s/parley-fuzz-%d-XXXXXX", base, (int)getpid());
    if (!mkdtemp(F.dir))
        pl_die("fuzz harness: mkdtemp: %s", strerror(errno));
    F.owner = getpid();
    atexit(cleanup);
    char cert[320], key[320];
    snprintf(cert, sizeof(cert), "%s/cert.pem", F.dir);
    snprintf(key, sizeof(key), "%s/key.pem", F.dir);
    const char *names[] = {FZ_DOMAIN, "other.test"};
    char *error = NULL;
    if (pl_tls_generate_selfsigned(cert, key, names, 2, 30, &error) != 0)
        pl_die("fuzz harness: %s", error);
    pl_buf_t conf;
    pl_buf_init(&conf);
    /* Every module, as on the demo host; no back-off and no per-IP limit,
     * since every connection comes from the same "address". */
    pl_buf_printf(
        &conf,
        "data_dir = \"%s/data\";\n"
        "loops = 1;\n"
        "log = { level = \"error\"; };\n"
        "tls = { cert = \"%s\"; key = \"%s\"; };\n"
        "storage = { lmdb_map_size = \"256M\"; };\n"
        "listen = ( { type = \"c2s\"; address = \"127.0.0.1\"; port = 0; } );\n"
        "limits = { conn_per_ip = 0; auth_fail_per_ip = 0; auth_fail_per_account = 0; "
        "max_unacked = 50; };\n"
        "hosts = (\n"
        "  { name = \"" FZ_DOMAIN "\"; auth = { scram_iterations = 4096; };\n"
        "    modules = { disco = {}; ping = {}; version = {}; time = {}; register = {};\n"
        "      roster = {}; presence = {}; vcard = {}; private = {}; last = {}; pep = {};\n"
        "      bookmarks = {}; blocking = {}; client_policy = {}; mam = {}; offline = {};\n"
        "      carbons = {}; inbox = {}; push = {}; muc = {}; };\n"
        "    components = ( { domain = \"" FZ_COMPONENT "\"; secret = \"" FZ_COMPONENT_SECRET
        "\"; } ); },\n"
        "  { name = \"other.test\"; modules = { disco = {}; ping = {}; vcard = {}; }; }\n"
        ");\n",
        F.dir, cert, key);
    pl_config_t *config = pl_config_load_string_modules(
        pl_buf_cstr(&conf), "fuzz", pl_module_registry, pl_module_registry_size, &error);
    pl_buf_deinit(&conf);
    if (!config)
        pl_die("fuzz harness: %s", error);
    F.srv = pl_server_new(config, pl_module_registry, pl_module_registry_size);
    if (pl_server_start(F.srv) != 0)
        pl_die("fuzz harness: the server did not start");
    /* Sessions sleep only when a script says so ('s'), not when the
     * wall clock happens to pass a second mid-input. */
    uv_timer_stop(&loop0()->housekeeping);
    signal(SIGPIPE, SIG_IGN);
    account_reset(FZ_USER, FZ_PASSWORD);
    account_reset(FZ_PEER, FZ_PEER_PASSWORD);
}

/* ---- checks ---- */

typedef struct out_check {
    int error;
    const char *text;
} out_check_t;

static void check_error(void *ud, pl_xml_error_t err, const char *text)
{
    out_check_t *o = ud;
    o->error = (int)err;
    o->text = text;
}

/* Each stream the server wrote (from one of its headers to the next) is
 * well-formed XML, as far as it goes. */
static void check_output(const fz_conn_t *c)
{
    static const pl_xml_callbacks_t cb = {.error = check_error};
    if (c->kind == CONN_CONTROL) {
        if (c->out.len && strncmp(c->out.data, "ok\n", 3) != 0 &&
            strncmp(c->out.data, "error: ", 7) != 0)
            pl_die("control answer is neither ok nor error: %.*s", (int)c->out.len, c->out.data);
        return;
    }
    if (c->truncated || !c->out.len)
        return;
    pl_xml_limits_t big = {.max_stanza_bytes = FZ_MAX_OUTPUT,
                           .max_depth = 1000,
                           .max_attrs = 1000,
                           .max_name_len = 1u << 16};
    const char *data = c->out.data, *end = data + c->out.len;
    const char *seg = memmem(data, c->out.len, SERVER_HEADER, strlen(SERVER_HEADER));
    if (seg != data)
        pl_die("the server wrote before its stream header: %.*s", (int)c->out.len, data);
    while (seg) {
        const char *next =
            memmem(seg + 1, (size_t)(end - seg - 1), SERVER_HEADER, strlen(SERVER_HEADER));
        const char *stop = next ? next : end;
        out_check_t o = {0};
        pl_xml_parser_t *p = pl_xml_parser_new(&big, &cb, &o);
        pl_xml_parser_feed(p, seg, (size_t)(stop - seg));
        pl_xml_parser_free(&p);
        if (o.error) {
            size_t len = (size_t)(stop - seg);
            /* Issue #14 finding 2, reported and being fixed (xml.c/stanza.c). */
            if (!(fuzz_known("xml-prefix") && memmem(seg, len, XML_NS, strlen(XML_NS))))
                pl_die("the server wrote XML that does not parse (%s: %s):\n%.*s",
                       pl_xml_error_condition((pl_xml_error_t)o.error), o.text ? o.text : "",
                       (int)(len > 8000 ? 8000 : len), seg);
        }
        seg = next;
    }
}

/* Everything closed: every session must be gone, from everywhere. */
static void finish(void)
{
    pl_loop_t *loop = loop0();
    for (size_t i = 0; i < F.nconns; i++)
        if (F.conns[i].fd >= 0) {
            close(F.conns[i].fd);
            F.conns[i].fd = -1;
        }
    settle();
    /* Detached stream-management sessions end as if their time ran out. */
    pl_sm_sweep(loop, 1);
    settle();
    for (size_t i = 0; i < F.nconns; i++) {
        fz_conn_t *c = &F.conns[i];
        if (c->s && c->s->handles_open)
            pl_die("session %llu still open after its connection ended",
                   (unsigned long long)c->s->id);
    }
    if (loop->sessions || loop->hibernating)
        pl_die("a session is still on the loop after every connection ended");
    if (pl_sessions_count_bare(F.srv, FZ_USER "@" FZ_DOMAIN) ||
        pl_sessions_count_bare(F.srv, FZ_PEER "@" FZ_DOMAIN))
        pl_die("a session is still in the session table after every connection ended");
    pthread_mutex_lock(&F.srv->sm_lock);
    size_t resumable = F.srv->resumable.count;
    pthread_mutex_unlock(&F.srv->sm_lock);
    if (resumable)
        pl_die("%zu resumable sessions left after every connection ended", resumable);
    if (atomic_load(&F.srv->session_count))
        pl_die("the session count is %zu with no connection",
               (size_t)atomic_load(&F.srv->session_count));
    for (size_t i = 0; i < F.nconns; i++) {
        if (getenv("PARLEY_FUZZ_TRACE"))
            fprintf(stderr, "== connection %zu (%s) got:\n%.*s\n", i,
                    F.conns[i].kind == CONN_C2S         ? "client"
                    : F.conns[i].kind == CONN_COMPONENT ? "component"
                                                        : "control",
                    (int)F.conns[i].out.len, F.conns[i].out.data ? F.conns[i].out.data : "");
        check_output(&F.conns[i]);
        pl_session_unref(&F.conns[i].s);
        pl_buf_deinit(&F.conns[i].out);
    }
    F.nconns = 0;
    F.cur = NULL;
}

/* ---- the script ---- */

/* Sends a piece of script text with its placeholders filled in. */
static void send_text(const char *data, size_t len)
{
    static const char *const marks[] = {"@SMID@", "@TOKEN@", "@HT@"};
    pl_buf_t b;
    pl_buf_init(&b);
    for (size_t i = 0; i < len;) {
        size_t m = 0, mlen = 0;
        if (data[i] == '@')
            for (m = 0; m < 3; m++) {
                mlen = strlen(marks[m]);
                if (len - i >= mlen && memcmp(data + i, marks[m], mlen) == 0)
                    break;
            }
        if (data[i] != '@' || m == 3) {
            pl_buf_append(&b, data + i, 1);
            i++;
            continue;
        }
        i += mlen;
        if (m == 0) {
            pl_buf_puts(&b, F.smid);
        } else if (m == 1) {
            pl_buf_puts(&b, F.token);
        } else {
            /* HT-SHA-256-NONE: authcid NUL HMAC-SHA-256(token, "Initiator"). */
            unsigned char msg[64] = FZ_USER;
            size_t n = strlen(FZ_USER) + 1;
            unsigned hl = 32;
            HMAC(EVP_sha256(), F.token, (int)strlen(F.token), (const unsigned char *)"Initiator", 9,
                 msg + n, &hl);
            char *b64 = pl_base64_encode(msg, n + hl);
            pl_buf_puts(&b, b64);
            free(b64);
        }
    }
    send_bytes(F.cur, b.data, b.len);
    pl_buf_deinit(&b);
}

static void command(char cmd)
{
    settle();
    fz_conn_t *c = NULL;
    switch (cmd) {
    case 'n': c = conn_new(CONN_C2S); break;
    case 'k': c = conn_new(CONN_COMPONENT); break;
    case 'C': c = conn_new(CONN_CONTROL); break;
    case 'l': c = login(FZ_USER, FZ_PASSWORD, 1); break;
    case 'a': c = login(FZ_USER, FZ_PASSWORD, 0); break;
    case 'p': c = login(FZ_PEER, FZ_PEER_PASSWORD, 1); break;
    case 'h': handshake(F.cur); break;
    case 's':
        if (F.cur && F.cur->s)
            pl_session_sleep(F.cur->s);
        break;
    case 'c':
        if (F.cur && F.cur->fd >= 0) {
            close(F.cur->fd);
            F.cur->fd = -1;
            settle();
        }
        break;
    case 't':
        /* Time passes for the current session: its timer fires as if it had
         * been silent for the idle timeout (login timeout before binding,
         * then a ping, then a ping timeout). */
        if (F.cur && F.cur->s && !F.cur->s->closing) {
            uint64_t idle = (uint64_t)pl_server_limits(F.srv)->idle_timeout_ms;
            pl_session_t *s = F.cur->s;
            s->last_rx_ms = s->last_rx_ms > idle ? s->last_rx_ms - idle : 0;
            pl_session_timer_fire(s);
            settle();
        }
        break;
    case 'x':
        /* Detached stream-management sessions reach their resume timeout. */
        pl_sm_sweep(loop0(), 1);
        settle();
        break;
    case 'w': break;
    default:
        if (cmd >= '0' && cmd <= '7' && (size_t)(cmd - '0') < F.nconns)
            F.cur = &F.conns[cmd - '0'];
        break;
    }
    if (c)
        F.cur = c;
}

static int is_command(char c)
{
    return c && strchr("nlapkhCcstxw01234567", c) != NULL;
}

void fz_run(char first, const uint8_t *data, size_t size)
{
    if (!F.srv || F.owner != getpid())
        start_server();
    F.smid[0] = F.token[0] = '\0';
    command(first);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *esc = memchr(p, 0xff, (size_t)(end - p));
        while (esc && esc + 1 < end && !is_command(esc[1]))
            esc = memchr(esc + 1, 0xff, (size_t)(end - esc - 1));
        if (!esc || esc + 1 >= end) {
            send_text(p, (size_t)(end - p));
            break;
        }
        send_text(p, (size_t)(esc - p));
        command(esc[1]);
        p = esc + 2;
    }
    settle();
    finish();
}
