/* control.c — serves parleyctl on the control socket: account add, delete
 * and password change (written through the storage thread), account list,
 * and who is online.  Deleting an account ends its sessions. */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts-admin.h"
#include "core.h"
#include "storage/storage.h"
#include "util.h"

struct pl_control {
    uv_pipe_t pipe;
    char *path;
    int open;
};

typedef struct ctl_conn {
    uv_pipe_t pipe;
    pl_server_t *srv;
    char req[PL_CONTROL_MAX_REQUEST];
    size_t len;
    int answered;
    pl_admin_job_t job;
    int job_active;
} ctl_conn_t;

typedef struct ctl_write {
    uv_write_t req;
    ctl_conn_t *conn;
    char data[];
} ctl_write_t;

static void conn_closed(uv_handle_t *h)
{
    ctl_conn_t *c = h->data;
    if (c->job_active)
        pl_admin_job_free(&c->job);
    free(c);
}

static void conn_written(uv_write_t *req, int status)
{
    ctl_write_t *w = (ctl_write_t *)req;
    ctl_conn_t *c = w->conn;
    free(w);
    (void)status;
    if (!uv_is_closing((uv_handle_t *)&c->pipe))
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static void answer(ctl_conn_t *c, pl_buf_t *out)
{
    c->answered = 1;
    ctl_write_t *w = pl_xmalloc(sizeof(*w) + out->len);
    w->conn = c;
    memcpy(w->data, out->data, out->len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)out->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, conn_written) != 0) {
        free(w);
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
    }
}

static void answer_text(ctl_conn_t *c, const char *text)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, text);
    answer(c, &b);
    pl_buf_deinit(&b);
}

static void kick_sessions(pl_server_t *srv, const char *bare)
{
    pl_session_t *list[64];
    size_t n = pl_sessions_get(srv, bare, list, NULL, 64);
    for (size_t i = 0; i < n; i++) {
        if (list[i]->loop == pl_current_loop)
            pl_session_stream_error(list[i], "not-authorized", "the account was deleted");
        else
            pl_loop_post_close(list[i]->loop, list[i], "not-authorized", "the account was deleted");
        pl_session_unref(&list[i]);
    }
}

static void job_done(void *ud, int status)
{
    ctl_conn_t *c = ud;
    pl_server_t *srv = c->srv;
    if (status == 0) {
        static const char *const verbs[] = {[PL_ADMIN_ADD] = "added",
                                            [PL_ADMIN_DEL] = "deleted",
                                            [PL_ADMIN_PASSWD] = "password changed"};
        pl_log(&srv->log, PL_LOG_INFO, "admin.account", "op=%s jid=%s via=control",
               c->job.op == PL_ADMIN_ADD ? "add" : c->job.op == PL_ADMIN_DEL ? "del" : "passwd",
               c->job.bare);
        if (c->job.op == PL_ADMIN_DEL)
            kick_sessions(srv, c->job.bare);
        pl_buf_t b;
        pl_buf_init(&b);
        pl_buf_printf(&b, "ok\n%s: %s\n", c->job.bare, verbs[c->job.op]);
        answer(c, &b);
        pl_buf_deinit(&b);
    } else {
        pl_buf_t b;
        pl_buf_init(&b);
        pl_buf_printf(&b, "error: %s\n", c->job.error[0] ? c->job.error : "storage failure");
        answer(c, &b);
        pl_buf_deinit(&b);
    }
    pl_admin_job_free(&c->job);
    c->job_active = 0;
}

/* The storage job gets the connection; the admin job lives inside it. */
static int run_job(pl_wtxn_t *txn, void *ud)
{
    ctl_conn_t *c = ud;
    return pl_admin_job_run(txn, &c->job);
}

static void start_job(ctl_conn_t *c, pl_admin_op_t op, const char *jid, const char *password)
{
    pl_server_t *srv = c->srv;
    const char **hosts = pl_xcalloc(srv->nhosts ? srv->nhosts : 1, sizeof(char *));
    for (size_t i = 0; i < srv->nhosts; i++)
        hosts[i] = srv->hosts[i]->name;
    uint32_t iterations = 4096;
    pl_jid_t j;
    if (pl_jid_parse(&j, jid) == 0) {
        pl_host_t *h = pl_server_host(srv, j.domain);
        if (h)
            iterations = (uint32_t)h->conf->scram_iterations;
        pl_jid_deinit(&j);
    }
    int rc = pl_admin_job_init(&c->job, op, jid, password, iterations, hosts, srv->nhosts);
    free(hosts);
    c->job_active = 1;
    if (rc != 0 || pl_storage_write(srv->loops[0]->storage_port, run_job, job_done, c) != 0) {
        job_done(c, -1);
        return;
    }
}

static int list_visit(void *ud, const pl_account_t *acc)
{
    pl_buf_t *b = ud;
    pl_buf_printf(b, "%s%s\n", acc->jid, (acc->flags & PL_ACCOUNT_DISABLED) ? " (disabled)" : "");
    return 0;
}

static void online_visit(void *ud, pl_session_t *s)
{
    pl_buf_t *b = ud;
    pl_buf_printf(b, "%s\t%s\t%s\t%s\n", s->jid.full, s->ip,
                  s->available ? "available" : "unavailable",
                  s->tls ? pl_tls_version(s->tls) : "-");
}

static void execute(ctl_conn_t *c, char **argv, size_t argc)
{
    pl_server_t *srv = c->srv;
    pl_buf_t b;
    pl_buf_init(&b);
    if (argc >= 3 && strcmp(argv[0], "user") == 0 && strcmp(argv[1], "add") == 0) {
        start_job(c, PL_ADMIN_ADD, argv[2], argc > 3 ? argv[3] : NULL);
    } else if (argc >= 3 && strcmp(argv[0], "user") == 0 && strcmp(argv[1], "del") == 0) {
        start_job(c, PL_ADMIN_DEL, argv[2], NULL);
    } else if (argc >= 3 && strcmp(argv[0], "user") == 0 && strcmp(argv[1], "passwd") == 0) {
        start_job(c, PL_ADMIN_PASSWD, argv[2], argc > 3 ? argv[3] : NULL);
    } else if (argc >= 2 && strcmp(argv[0], "user") == 0 && strcmp(argv[1], "list") == 0) {
        pl_buf_puts(&b, "ok\n");
        pl_accounts_list(srv->storage, argc > 2 ? argv[2] : NULL, list_visit, &b);
        answer(c, &b);
    } else if (argc >= 1 && strcmp(argv[0], "online") == 0) {
        pl_buf_puts(&b, "ok\n");
        pl_sessions_each(srv, online_visit, &b);
        answer(c, &b);
    } else {
        answer_text(c, "error: unknown command\n");
    }
    pl_buf_deinit(&b);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ctl_conn_t *c = h->data;
    buf->base = c->req + c->len;
    buf->len = sizeof(c->req) - c->len;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    ctl_conn_t *c = stream->data;
    if (nread < 0) {
        if (!c->answered && !uv_is_closing((uv_handle_t *)&c->pipe))
            uv_close((uv_handle_t *)&c->pipe, conn_closed);
        return;
    }
    c->len += (size_t)nread;
    /* The request ends with an empty word: two NULs in a row (or a lone
     * NUL for a request with no words). */
    int complete = (c->len >= 2 && c->req[c->len - 1] == '\0' && c->req[c->len - 2] == '\0') ||
                   (c->len == 1 && c->req[0] == '\0');
    if (!complete) {
        if (c->len == sizeof(c->req)) {
            uv_read_stop(stream);
            answer_text(c, "error: request too long\n");
        }
        return;
    }
    uv_read_stop(stream);
    char *argv[16];
    size_t argc = 0;
    for (size_t off = 0; off < c->len && argc < 16;) {
        size_t l = strlen(c->req + off);
        if (l == 0)
            break;
        argv[argc++] = c->req + off;
        off += l + 1;
    }
    execute(c, argv, argc);
}

static void on_connection(uv_stream_t *server, int status)
{
    pl_server_t *srv = server->data;
    if (status < 0)
        return;
    ctl_conn_t *c = pl_xcalloc(1, sizeof(*c));
    c->srv = srv;
    uv_pipe_init(server->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

int pl_control_start(pl_server_t *srv, char **error)
{
    const char *path = srv->config->control_socket;
    if (!path || !*path)
        return 0;
    struct pl_control *ctl = pl_xcalloc(1, sizeof(*ctl));
    ctl->path = pl_xstrdup(path);
    /* A socket file left by a crashed server would block the bind. */
    unlink(path);
    uv_pipe_init(&srv->loops[0]->uv, &ctl->pipe, 0);
    ctl->pipe.data = srv;
    mode_t old = umask(0077);
    int rc = uv_pipe_bind(&ctl->pipe, path);
    umask(old);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&ctl->pipe, 16, on_connection);
    if (rc != 0) {
        char buf[512];
        snprintf(buf, sizeof(buf), "cannot open control socket %s: %s", path, uv_strerror(rc));
        *error = pl_xstrdup(buf);
        uv_close((uv_handle_t *)&ctl->pipe, NULL);
        free(ctl->path);
        free(ctl);
        return -1;
    }
    chmod(path, 0600);
    ctl->open = 1;
    srv->control = ctl;
    return 0;
}

static void control_closed(uv_handle_t *h)
{
    pl_server_t *srv = h->data;
    struct pl_control *ctl = srv->control;
    srv->control = NULL;
    free(ctl->path);
    free(ctl);
}

void pl_control_stop(pl_server_t *srv)
{
    struct pl_control *ctl = srv->control;
    if (!ctl || !ctl->open)
        return;
    ctl->open = 0;
    unlink(ctl->path);
    uv_close((uv_handle_t *)&ctl->pipe, control_closed);
}
