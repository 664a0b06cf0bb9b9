/* control.c — serves parleyctl on the control socket: account add, delete
 * and password change (written through the storage thread), account list,
 * who is online and what connections hold — the commands of
 * control-commands.c that a server runs, dispatched by that table.
 * Deleting an account ends its sessions and removes everything kept for it
 * (see "deleting an account" below). */
#include "core/control.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/accounts-admin.h"
#include "core/c2s/c2s.h"
#include "core/control-commands.h"
#include "core/core.h"
#include "lib/util.h"
#include "storage/storage.h"

#define CTL_MAX_SESSIONS 4096 /* sessions of one account ended on deletion */

typedef struct ctl_conn ctl_conn_t;

/* Lives until pl_control_free, after the storage has closed: a connection
 * whose job the storage thread still runs at shutdown is freed only then. */
struct pl_control {
    uv_pipe_t pipe;
    char *path;
    int open;
    ctl_conn_t *conns; /* every connection not yet freed */
};

struct ctl_conn {
    uv_pipe_t pipe;
    pl_server_t *srv;
    struct pl_control *ctl;
    ctl_conn_t *prev, *next;
    char req[PL_CONTROL_MAX_REQUEST];
    size_t len;
    int answered;
    pl_admin_job_t job;
    int job_active; /* from the request until its answer */
};

typedef struct ctl_write {
    uv_write_t req;
    ctl_conn_t *conn;
    char data[];
} ctl_write_t;

static void conn_free(ctl_conn_t **cp)
{
    ctl_conn_t *c = *cp;
    if (!c)
        return;
    *cp = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        c->ctl->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->job_active)
        pl_admin_job_deinit(&c->job);
    free(c);
}

static void conn_closed(uv_handle_t *h)
{
    ctl_conn_t *c = h->data;
    conn_free(&c);
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
    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return; /* shutdown closed it while the answer was being made */
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

/* ---- deleting an account ----
 * 1. The account is disabled (one write): no new login, and the router and
 *    modules treat it as absent from then on.
 * 2. Its sessions end, each on its own loop, while its roster still
 *    exists: contacts get the unavailable presence they are owed, and the
 *    writes the session's end causes (last activity, messages stream
 *    management hands back) are queued.  A call queued after them on every
 *    loop concerned is the barrier: when all have run, those writes are
 *    ahead of ours in the storage queue.
 * 3. The account and everything kept for it go in one write
 *    (pl_admin_job_run); sessions that slipped in meanwhile end too. */

static void end_session(void *ud, pl_stanza_t *unused)
{
    (void)unused;
    pl_session_t *s = ud;
    if (pl_sm_detached(s))
        pl_sm_end_detached(s, "account deleted");
    else
        pl_session_stream_error(s, "not-authorized", "the account was deleted");
    pl_session_unref(&s);
}

typedef struct del_barrier {
    ctl_conn_t *conn;
    atomic_size_t left; /* loops that have not run the barrier call yet */
} del_barrier_t;

static void delete_submit(ctl_conn_t *c);

static void barrier_passed(void *ud, pl_stanza_t *unused)
{
    (void)unused;
    del_barrier_t *b = ud;
    ctl_conn_t *c = b->conn;
    free(b);
    delete_submit(c);
}

static void barrier_arrive(void *ud, pl_stanza_t *unused)
{
    (void)unused;
    del_barrier_t *b = ud;
    if (atomic_fetch_sub(&b->left, 1) == 1)
        pl_loop_call(b->conn->srv->loops[0], barrier_passed, b, NULL);
}

/* Ends the account's sessions (on loop 0, the control loop); with `then`,
 * calls it once every loop that had one has ended it. */
static void end_sessions(ctl_conn_t *c, int then)
{
    pl_server_t *srv = c->srv;
    pl_session_t **list = pl_xcalloc(CTL_MAX_SESSIONS, sizeof(*list));
    size_t n = pl_sessions_get(srv, c->job.bare, list, NULL, CTL_MAX_SESSIONS);
    unsigned char *other = pl_xcalloc(srv->nloops ? srv->nloops : 1, 1);
    size_t nother = 0;
    for (size_t i = 0; i < n; i++) {
        pl_loop_t *loop = list[i]->loop;
        if (loop == pl_current_loop) {
            end_session(list[i], NULL); /* takes the reference */
            continue;
        }
        pl_loop_call(loop, end_session, list[i], NULL);
        for (size_t l = 0; l < srv->nloops; l++)
            if (srv->loops[l] == loop && !other[l]) {
                other[l] = 1;
                nother++;
            }
    }
    free(list);
    if (then && nother == 0) {
        free(other);
        delete_submit(c);
        return;
    }
    if (then) {
        del_barrier_t *b = pl_xcalloc(1, sizeof(*b));
        b->conn = c;
        atomic_init(&b->left, nother);
        for (size_t l = 0; l < srv->nloops; l++)
            if (other[l])
                pl_loop_call(srv->loops[l], barrier_arrive, b, NULL);
    }
    free(other);
}

static void answer_job(ctl_conn_t *c, int status)
{
    pl_server_t *srv = c->srv;
    if (status == 0) {
        static const char *const verbs[] = {[PL_ADMIN_ADD] = "added",
                                            [PL_ADMIN_DEL] = "deleted",
                                            [PL_ADMIN_PASSWD] = "password changed"};
        pl_log(&srv->log, PL_LOG_INFO, "admin.account", "op=%s jid=%s via=control",
               c->job.op == PL_ADMIN_ADD ? "add" : c->job.op == PL_ADMIN_DEL ? "del" : "passwd",
               c->job.bare);
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
    pl_admin_job_deinit(&c->job);
    c->job_active = 0;
}

static void job_done(void *ud, int status)
{
    ctl_conn_t *c = ud;
    if (status == 0 && c->job.op == PL_ADMIN_DEL) {
        end_sessions(c, 0); /* any that logged in before the account was disabled */
        pl_admin_job_after(&c->job, c->srv); /* e.g. contacts' roster pushes */
    }
    answer_job(c, status);
}

/* The storage job gets the connection; the admin job lives inside it. */
static int run_job(pl_wtxn_t *txn, void *ud)
{
    ctl_conn_t *c = ud;
    return pl_admin_job_run(txn, &c->job);
}

static void delete_submit(ctl_conn_t *c)
{
    if (pl_storage_write(c->srv->loops[0]->storage_port, run_job, job_done, c) != 0)
        job_done(c, -1);
}

/* Step 1: the account disabled, or an error when there is none. */
static int disable_run(pl_wtxn_t *txn, void *ud)
{
    ctl_conn_t *c = ud;
    pl_account_t *acc = pl_xcalloc(1, sizeof(*acc));
    int rc = pl_accounts_get(pl_wtxn_storage(txn), c->job.bare, acc);
    if (rc == 0)
        snprintf(c->job.error, sizeof(c->job.error), "no account %s", c->job.bare);
    else if (rc < 0)
        snprintf(c->job.error, sizeof(c->job.error), "storage error reading %s", c->job.bare);
    if (rc == 1) {
        acc->flags |= PL_ACCOUNT_DISABLED;
        rc = pl_accounts_put(txn, acc) < 0 ? -1 : 0;
    } else {
        rc = -1;
    }
    OPENSSL_cleanse(acc, sizeof(*acc));
    free(acc);
    return rc;
}

static void disable_done(void *ud, int status)
{
    ctl_conn_t *c = ud;
    if (status != 0) {
        answer_job(c, status);
        return;
    }
    end_sessions(c, 1);
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
    c->job.modules = srv->registry;
    c->job.nmodules = srv->nregistry;
    int del = op == PL_ADMIN_DEL;
    if (rc != 0 || pl_storage_write(srv->loops[0]->storage_port, del ? disable_run : run_job,
                                    del ? disable_done : job_done, c) != 0) {
        answer_job(c, -1);
        return;
    }
}

static int list_visit(void *ud, const pl_account_t *acc)
{
    pl_buf_t *b = ud;
    pl_buf_printf(b, "%s%s\n", acc->jid, (acc->flags & PL_ACCOUNT_DISABLED) ? " (disabled)" : "");
    return 0;
}

/* ---- questions every loop answers about its own sessions ----
 * Sessions belong to their loop: only it may read their TLS state, queues
 * and buffers.  A gather asks each loop in turn through its inbox, each
 * writes into its own slot, and the last one hands the whole back to
 * loop 0, which answers. */

typedef struct gather {
    ctl_conn_t *conn;
    void (*visit)(pl_loop_t *loop, pl_buf_t *out);
    void (*finish)(ctl_conn_t *c, struct gather *g);
    atomic_size_t left;
    size_t nslots;
    pl_buf_t slots[]; /* one per loop */
} gather_t;

static void gather_done(void *ud, pl_stanza_t *unused)
{
    (void)unused;
    gather_t *g = ud;
    g->finish(g->conn, g);
    for (size_t i = 0; i < g->nslots; i++)
        pl_buf_deinit(&g->slots[i]);
    free(g);
}

static void gather_visit(void *ud, pl_stanza_t *unused)
{
    (void)unused;
    gather_t *g = ud;
    pl_loop_t *loop = pl_current_loop;
    g->visit(loop, &g->slots[loop->index]);
    if (atomic_fetch_sub(&g->left, 1) == 1) {
        if (loop == g->conn->srv->loops[0])
            gather_done(g, NULL);
        else
            pl_loop_call(g->conn->srv->loops[0], gather_done, g, NULL);
    }
}

static void gather(ctl_conn_t *c, void (*visit)(pl_loop_t *, pl_buf_t *),
                   void (*finish)(ctl_conn_t *, gather_t *))
{
    pl_server_t *srv = c->srv;
    gather_t *g = pl_xcalloc(1, sizeof(*g) + srv->nloops * sizeof(pl_buf_t));
    g->conn = c;
    g->visit = visit;
    g->finish = finish;
    g->nslots = srv->nloops;
    atomic_init(&g->left, srv->nloops);
    for (size_t i = 0; i < srv->nloops; i++)
        pl_buf_init(&g->slots[i]);
    /* Posted to every loop, this one included, so no loop is visited
     * while this call is still on the stack. */
    for (size_t i = 0; i < srv->nloops; i++)
        pl_loop_call(srv->loops[i], gather_visit, g, NULL);
}

static void online_visit(pl_loop_t *loop, pl_buf_t *b)
{
    for (pl_session_t *s = loop->sessions; s; s = s->loop_next) {
        pl_tls_t *tls = pl_session_tls(s);
        if (s->in_table && !s->closing)
            pl_buf_printf(b, "%s\t%s\t%s\t%s\n", s->jid.full, s->ip,
                          s->available ? "available" : "unavailable",
                          tls ? pl_tls_version(tls) : "-");
    }
    for (pl_session_t *s = loop->hibernating; s; s = pl_sm_next_detached(s))
        pl_buf_printf(b, "%s\t%s\t%s\t%s\n", s->jid.full, s->ip,
                      s->available ? "available" : "unavailable", "detached");
}

/* Counters of what peers make the server hold, summed over the loops
 * (docs/ADMIN.md lists them). */
typedef struct loop_stats {
    unsigned long long connections, sessions, detached, sleeping, output_bytes;
    unsigned long long unacked, unacked_bytes, csi_held, csi_bytes, early;
} loop_stats_t;

static void stats_session(loop_stats_t *st, const pl_session_t *s)
{
    pl_session_held_t h;
    pl_session_held(s, &h);
    st->unacked += h.unacked;
    st->unacked_bytes += h.unacked_bytes;
    st->csi_held += h.held;
    st->csi_bytes += h.held_bytes;
    st->early += h.early;
}

static void stats_visit(pl_loop_t *loop, pl_buf_t *b)
{
    loop_stats_t st = {0};
    for (pl_session_t *s = loop->sessions; s; s = s->loop_next) {
        st.connections++;
        st.sessions += s->in_table && !pl_sm_detached(s);
        st.sleeping += s->asleep;
        st.output_bytes += pl_session_backlog(s);
        stats_session(&st, s);
    }
    for (pl_session_t *s = loop->hibernating; s; s = pl_sm_next_detached(s)) {
        st.detached++;
        stats_session(&st, s);
    }
    pl_buf_append(b, &st, sizeof(st));
}

static void stats_finish(ctl_conn_t *c, gather_t *g)
{
    loop_stats_t sum = {0};
    for (size_t i = 0; i < g->nslots; i++) {
        if (g->slots[i].len != sizeof(loop_stats_t))
            continue;
        const loop_stats_t *st = (const loop_stats_t *)g->slots[i].data;
        sum.connections += st->connections;
        sum.sessions += st->sessions;
        sum.detached += st->detached;
        sum.sleeping += st->sleeping;
        sum.output_bytes += st->output_bytes;
        sum.unacked += st->unacked;
        sum.unacked_bytes += st->unacked_bytes;
        sum.csi_held += st->csi_held;
        sum.csi_bytes += st->csi_bytes;
        sum.early += st->early;
    }
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_printf(&b,
                  "ok\nloops %zu\nconnections %llu\nsessions %llu\ndetached %llu\n"
                  "sleeping %llu\noutput_bytes %llu\nunacked_stanzas %llu\n"
                  "unacked_bytes %llu\ncsi_held %llu\ncsi_held_bytes %llu\n"
                  "handover_stanzas %llu\n",
                  g->nslots, sum.connections, sum.sessions, sum.detached, sum.sleeping,
                  sum.output_bytes, sum.unacked, sum.unacked_bytes, sum.csi_held, sum.csi_bytes,
                  sum.early);
    answer(c, &b);
    pl_buf_deinit(&b);
}

static void online_finish(ctl_conn_t *c, gather_t *g)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, "ok\n");
    for (size_t i = 0; i < g->nslots; i++)
        pl_buf_append(&b, g->slots[i].data, g->slots[i].len);
    answer(c, &b);
    pl_buf_deinit(&b);
}

/* ---- the commands the server serves ----
 * Their names and argument counts are in pl_control_commands
 * (control-commands.c), which parleyctl checks against before it sends;
 * here is what the server does for each.  Each gets the arguments after
 * the command's name, their number within the table's bounds. */

typedef void (*ctl_handler_fn)(ctl_conn_t *c, char **args, size_t nargs);

static void user_add(ctl_conn_t *c, char **args, size_t nargs)
{
    start_job(c, PL_ADMIN_ADD, args[0], nargs > 1 ? args[1] : NULL);
}

static void user_del(ctl_conn_t *c, char **args, size_t nargs)
{
    start_job(c, PL_ADMIN_DEL, args[0], NULL);
}

static void user_passwd(ctl_conn_t *c, char **args, size_t nargs)
{
    start_job(c, PL_ADMIN_PASSWD, args[0], nargs > 1 ? args[1] : NULL);
}

static void user_list(ctl_conn_t *c, char **args, size_t nargs)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, "ok\n");
    pl_accounts_list(c->srv->storage, nargs ? args[0] : NULL, list_visit, &b);
    answer(c, &b);
    pl_buf_deinit(&b);
}

static void online(ctl_conn_t *c, char **args, size_t nargs)
{
    gather(c, online_visit, online_finish);
}

static void stats(ctl_conn_t *c, char **args, size_t nargs)
{
    gather(c, stats_visit, stats_finish);
}

/* Commands without a handler here are parleyctl's own (import, keys). */
static const ctl_handler_fn handlers[PL_CTL__COUNT] = {
    [PL_CTL_USER_ADD] = user_add,       [PL_CTL_USER_DEL] = user_del,
    [PL_CTL_USER_PASSWD] = user_passwd, [PL_CTL_USER_LIST] = user_list,
    [PL_CTL_ONLINE] = online,           [PL_CTL_STATS] = stats,
};

static void execute(ctl_conn_t *c, char **argv, size_t argc)
{
    size_t nargs = 0;
    const pl_control_cmd_t *cmd = pl_control_find(argv, argc, &nargs);
    if (!cmd || !handlers[cmd->id]) {
        answer_text(c, "error: unknown command\n");
        return;
    }
    if (!pl_control_args_ok(cmd, nargs)) {
        pl_buf_t b;
        pl_buf_init(&b);
        pl_buf_puts(&b, "error: usage: ");
        pl_control_synopsis(cmd, &b);
        pl_buf_puts(&b, "\n");
        answer(c, &b);
        pl_buf_deinit(&b);
        return;
    }
    handlers[cmd->id](c, argv + (argc - nargs), nargs);
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
    c->ctl = srv->control;
    c->next = c->ctl->conns;
    if (c->next)
        c->next->prev = c;
    c->ctl->conns = c;
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

void pl_control_stop(pl_server_t *srv)
{
    struct pl_control *ctl = srv->control;
    if (!ctl || !ctl->open)
        return;
    ctl->open = 0;
    unlink(ctl->path);
    uv_close((uv_handle_t *)&ctl->pipe, NULL);
    /* Idle connections go now; one with a job keeps its memory, which the
     * job (storage thread, loop calls) still points at, for
     * pl_control_free.  The loops' last walk closes its pipe. */
    for (ctl_conn_t *c = ctl->conns; c; c = c->next)
        if (!c->job_active && !uv_is_closing((uv_handle_t *)&c->pipe))
            uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

void pl_control_free(pl_server_t *srv)
{
    struct pl_control *ctl = srv->control;
    if (!ctl)
        return;
    while (ctl->conns) {
        ctl_conn_t *c = ctl->conns; /* conn_free unlinks it */
        conn_free(&c);
    }
    free(ctl->path);
    free(ctl);
    srv->control = NULL;
}
