/* main.c — parley-bench's coordinator.  In one process it starts a group of
 * worker loops and steers it through the phases (log in, run, drain,
 * close); with --procs it forks that many children, each running a group
 * over its share of the accounts, and steers them over pipes the same way.
 * It samples the server's /proc entry along the way and prints the report. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/bench.h"
#include "tests/bench/report.h"

#define STEP_MS 50
#define FD_MARGIN 64 /* stdio, loops, wake-ups, pipes, /proc reads */
/* muc with --server-pid: the server's memory is read this long after the
 * logins and after the joins, once what it buffered for them has gone
 * (Parley gives idle sessions' buffers back after a second of silence;
 * the other servers collect garbage), so the difference is the rooms. */
#define MUC_SETTLE_NS 2000000000ull

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* ---- the coordinator's view, shared by both modes ---- */

typedef struct ctl {
    const bench_opts_t *o;
    bench_run_t run;
    uint64_t t0, last_print, run_start;
    uint64_t next_checkpoint, checkpoint_step;
    int sent_run, sent_stop, sent_join;
    uint64_t settle_from; /* muc: when the logins or the joins were all done */
} ctl_t;

static int sample_server(const ctl_t *k, bench_procstat_t *out)
{
    return k->o->server_pid && bench_procstat_read(k->o->server_pid, out) == 0 ? 0 : -1;
}

static void ctl_init(ctl_t *k, const bench_opts_t *o, int procs, int threads)
{
    memset(k, 0, sizeof(*k));
    k->o = o;
    k->t0 = bench_now_ns();
    k->run.procs = procs;
    k->run.threads = threads;
    if (o->server_pid) {
        if (sample_server(k, &k->run.srv_base) == 0) {
            k->run.have_server = 1;
            k->run.curve[0].sessions = 0;
            k->run.curve[0].rss_kb = k->run.srv_base.rss_kb;
            k->run.ncurve = 1;
        } else {
            fprintf(stderr, "parley-bench: cannot read /proc/%d: server figures left out\n",
                    (int)o->server_pid);
        }
    }
    /* About twenty memory samples while the sessions come in. */
    k->checkpoint_step = o->users / 20 ? o->users / 20 : 1;
    k->next_checkpoint = k->checkpoint_step;
}

static void print_progress(ctl_t *k, const bench_progress_t *p, uint64_t now)
{
    if (k->o->quiet || now - k->last_print < 1000000000ull)
        return;
    k->last_print = now;
    fprintf(stderr,
            "[%6.1fs] online %llu, logging in %llu, logins %llu ok %llu failed, lost %llu, "
            "sent %llu, received %llu\n",
            (double)(now - k->t0) / 1e9, (unsigned long long)p->online,
            (unsigned long long)p->pending, (unsigned long long)p->login_ok,
            (unsigned long long)p->login_failed, (unsigned long long)p->lost,
            (unsigned long long)p->sent, (unsigned long long)p->recv);
}

/* Looks at the summed progress every STEP_MS; returns the command for the
 * workers (BENCH_CMD_NONE, _RUN or _STOP). */
static int ctl_step(ctl_t *k, const bench_progress_t *p)
{
    const bench_opts_t *o = k->o;
    bench_run_t *r = &k->run;
    uint64_t now = bench_now_ns();
    if (p->online > r->peak_online)
        r->peak_online = p->online;
    print_progress(k, p, now);
    if (r->have_server && !k->sent_run && p->online >= k->next_checkpoint &&
        r->ncurve < BENCH_CURVE_MAX) {
        bench_procstat_t ps;
        if (sample_server(k, &ps) == 0) {
            r->curve[r->ncurve].sessions = p->online;
            r->curve[r->ncurve].rss_kb = ps.rss_kb;
            r->ncurve++;
        }
        while (k->next_checkpoint <= p->online)
            k->next_checkpoint += k->checkpoint_step;
    }
    if (interrupted && !k->sent_stop) {
        k->sent_stop = 1;
        return BENCH_CMD_STOP;
    }
    uint64_t settle = r->have_server ? MUC_SETTLE_NS : 0;
    if (o->scenario == BENCH_MUC && !k->sent_join && p->workers && p->login_done == p->workers) {
        /* Every account is in: the rooms are entered next, all together,
         * so the server's memory before and after tells what the rooms
         * cost apart from the sessions. */
        if (!k->settle_from)
            k->settle_from = now;
        if (now - k->settle_from < settle)
            return BENCH_CMD_NONE;
        k->settle_from = 0;
        k->sent_join = 1;
        r->online_held = p->online;
        r->have_held = sample_server(k, &r->srv_held) == 0;
        return BENCH_CMD_JOIN;
    }
    if (o->scenario == BENCH_MUC && !k->sent_run && k->sent_join && p->join_done == p->workers) {
        if (!k->settle_from)
            k->settle_from = now;
        if (now - k->settle_from < settle)
            return BENCH_CMD_NONE;
        k->sent_run = 1;
        k->run_start = now;
        r->have_joined = sample_server(k, &r->srv_joined) == 0;
        return BENCH_CMD_RUN;
    }
    if (o->scenario != BENCH_MUC && !k->sent_run && p->workers && p->login_done == p->workers) {
        k->sent_run = 1;
        k->run_start = now;
        r->online_held = p->online;
        r->have_held = sample_server(k, &r->srv_held) == 0;
        return BENCH_CMD_RUN;
    }
    if (!k->sent_run || k->sent_stop)
        return BENCH_CMD_NONE;
    /* The memory and CPU "at the end of the measured phase" are read a
     * little before the workers' own clocks end it, while every session is
     * still there. */
    double lead = o->duration_s / 10 < 0.2 ? o->duration_s / 10 : 0.2;
    uint64_t run_end = k->run_start + (uint64_t)((o->duration_s - lead) * 1e9);
    if (!r->have_run_end && now >= run_end && o->scenario != BENCH_LOGIN) {
        r->online_run_end = p->online;
        r->have_run_end = sample_server(k, &r->srv_run_end) == 0;
    }
    int done = 0;
    if (o->scenario == BENCH_SETUP_ROSTERS)
        done = p->login_ok > 0 && p->recv >= p->login_ok; /* every roster complete */
    else if (o->scenario == BENCH_CHAT || o->scenario == BENCH_MAM)
        done = now >= run_end && p->sent > 0 && p->recv >= p->sent;
    else if (o->scenario == BENCH_MUC)
        done = now >= run_end && p->sent > 0 && p->recv >= p->sent * (o->occupants - 1);
    else if (o->scenario == BENCH_PRESENCE)
        done = now >= run_end && p->sent > 0 && p->recv >= p->sent * o->roster_size;
    if (done && now >= k->run_start + (uint64_t)(o->duration_s * 1e9)) {
        k->sent_stop = 1;
        return BENCH_CMD_STOP;
    }
    if (done && o->scenario == BENCH_SETUP_ROSTERS) {
        k->sent_stop = 1;
        return BENCH_CMD_STOP;
    }
    return BENCH_CMD_NONE;
}

static void ctl_finish(ctl_t *k)
{
    if (k->run.have_server && sample_server(k, &k->run.srv_end) != 0)
        k->run.srv_end = k->run.srv_base; /* the server is gone: say nothing new */
    k->run.wall_s = (double)(bench_now_ns() - k->t0) / 1e9;
}

static void own_figures(bench_stats_t *s)
{
    bench_procstat_t me;
    bench_procstat_read(0, &me);
    s->gen_cpu_s = me.cpu_s;
    s->gen_rss_kb = me.rss_kb;
    s->gen_hwm_kb = me.hwm_kb;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- file descriptors ---- */

/* Makes sure one process can hold its sessions; raises the soft limit to
 * the hard one if that is enough, else says what to do.  0 ok, -1 not. */
static int check_fd_limit(const bench_opts_t *o, uint32_t accounts_per_proc)
{
    uint64_t sessions = accounts_per_proc;
    if (o->scenario == BENCH_LOGIN && !o->keep) {
        /* Cycling: each login in progress, and as many closing behind it. */
        uint64_t conc = (uint64_t)o->concurrency / (uint64_t)o->procs + 1;
        sessions = conc * 2 < sessions ? conc * 2 : sessions;
    }
    uint64_t need = sessions + FD_MARGIN + (uint64_t)o->threads * 4;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (need > rl.rlim_cur && rl.rlim_cur < rl.rlim_max) {
        struct rlimit raised = rl;
        raised.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl = raised;
    }
    if (need <= rl.rlim_cur)
        return 0;
    uint64_t usable = rl.rlim_cur > FD_MARGIN + (uint64_t)o->threads * 4 + 1
                          ? rl.rlim_cur - FD_MARGIN - (uint64_t)o->threads * 4
                          : 1;
    uint64_t procs = ((uint64_t)o->users + usable - 1) / usable;
    fprintf(stderr,
            "parley-bench: %llu sessions in one process need about %llu file descriptors, but "
            "this process may open only %llu (ulimit -n).\n"
            "Run with --procs %llu or more (each process holds its share of the sessions), or "
            "raise the limit.\n",
            (unsigned long long)sessions, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
            (unsigned long long)procs);
    return -1;
}

/* ---- one process ---- */

static int run_single(const bench_opts_t *o)
{
    if (check_fd_limit(o, o->users) != 0)
        return 1;
    ctl_t k;
    ctl_init(&k, o, 1, o->threads < (int)o->users ? o->threads : (int)o->users);
    bench_group_t *g = bench_group_start(o, o->first, o->users);
    bench_progress_t p;
    for (;;) {
        sleep_ms(STEP_MS);
        bench_group_progress(g, &p);
        int cmd = ctl_step(&k, &p);
        if (cmd != BENCH_CMD_NONE)
            bench_group_command(g, cmd);
        if (p.finished == p.workers)
            break;
    }
    bench_stats_t s;
    bench_stats_init(&s);
    bench_group_finish(g, &s);
    own_figures(&s);
    ctl_finish(&k);
    bench_report(o, &s, &k.run);
    return s.c[BENCH_C_LOGIN_OK] > 0 ? 0 : 1;
}

/* ---- several processes: frames over pipes ---- */

enum { FRAME_PROGRESS = 'P', FRAME_STATS = 'S' };

typedef struct child {
    pid_t pid;
    int to_fd, from_fd;
    bench_progress_t prog;
    bench_stats_t *stats;
    char *buf;
    size_t len, cap;
    int eof;
} child_t;

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(int fd, char type, const void *payload, uint32_t len)
{
    char head[5];
    head[0] = type;
    memcpy(head + 1, &len, 4);
    return write_all(fd, head, 5) == 0 && write_all(fd, payload, len) == 0 ? 0 : -1;
}

static int child_main(const bench_opts_t *o, uint32_t first, uint32_t n, int in_fd, int out_fd)
{
    bench_group_t *g = bench_group_start(o, first, n);
    bench_progress_t p;
    int parent_gone = 0, stopped = 0;
    for (;;) {
        struct pollfd pf = {.fd = in_fd, .events = POLLIN};
        if (!parent_gone && poll(&pf, 1, STEP_MS) > 0) {
            char cmds[16];
            ssize_t r = read(in_fd, cmds, sizeof(cmds));
            if (r <= 0) {
                parent_gone = 1; /* the coordinator died: wind down */
                bench_group_command(g, BENCH_CMD_STOP);
            }
            for (ssize_t i = 0; i < r; i++)
                bench_group_command(g, cmds[i] == 'R'   ? BENCH_CMD_RUN
                                       : cmds[i] == 'J' ? BENCH_CMD_JOIN
                                                        : BENCH_CMD_STOP);
        } else if (parent_gone) {
            sleep_ms(STEP_MS);
        }
        if (interrupted && !stopped) {
            stopped = 1;
            bench_group_command(g, BENCH_CMD_STOP);
        }
        bench_group_progress(g, &p);
        if (!parent_gone)
            send_frame(out_fd, FRAME_PROGRESS, &p, sizeof(p));
        if (p.finished == p.workers)
            break;
    }
    bench_stats_t *s = malloc(sizeof(*s));
    if (!s)
        return 1;
    bench_stats_init(s);
    bench_group_finish(g, s);
    own_figures(s);
    int rc = send_frame(out_fd, FRAME_STATS, s, sizeof(*s)) == 0 ? 0 : 1;
    free(s);
    return rc;
}

/* Reads what a child wrote and takes the complete frames.  0 ok, -1 at
 * end of file. */
static int child_read(child_t *ch)
{
    if (ch->cap - ch->len < 65536) {
        size_t cap = ch->cap ? ch->cap * 2 : 131072;
        char *b = realloc(ch->buf, cap);
        if (!b)
            return -1;
        ch->buf = b;
        ch->cap = cap;
    }
    ssize_t n = read(ch->from_fd, ch->buf + ch->len, ch->cap - ch->len);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n <= 0)
        return -1;
    ch->len += (size_t)n;
    size_t off = 0;
    while (ch->len - off >= 5) {
        uint32_t flen;
        memcpy(&flen, ch->buf + off + 1, 4);
        if (ch->len - off - 5 < flen)
            break;
        const char *payload = ch->buf + off + 5;
        if (ch->buf[off] == FRAME_PROGRESS && flen == sizeof(bench_progress_t)) {
            memcpy(&ch->prog, payload, flen);
        } else if (ch->buf[off] == FRAME_STATS && flen == sizeof(bench_stats_t)) {
            ch->stats = malloc(sizeof(bench_stats_t));
            if (ch->stats)
                memcpy(ch->stats, payload, flen);
        }
        off += 5 + flen;
    }
    memmove(ch->buf, ch->buf + off, ch->len - off);
    ch->len -= off;
    return 0;
}

static int run_parent(const bench_opts_t *o)
{
    int procs = o->procs;
    if (check_fd_limit(o, (o->users + (uint32_t)procs - 1) / (uint32_t)procs) != 0)
        return 1;
    child_t *kids = calloc((size_t)procs, sizeof(*kids));
    if (!kids)
        return 1;
    bench_opts_t share = *o;
    share.rate = o->rate / procs;
    share.concurrency = o->concurrency / (uint32_t)procs ? o->concurrency / (uint32_t)procs : 1;
    ctl_t k;
    ctl_init(&k, o, procs, o->threads);
    fflush(stdout);
    fflush(stderr);
    for (int i = 0; i < procs; i++) {
        int down[2], up[2];
        if (pipe(down) != 0 || pipe(up) != 0) {
            perror("parley-bench: pipe");
            return 1;
        }
        uint32_t lo = o->first + (uint32_t)((uint64_t)o->users * (uint64_t)i / (uint64_t)procs);
        uint32_t hi =
            o->first + (uint32_t)((uint64_t)o->users * (uint64_t)(i + 1) / (uint64_t)procs);
        pid_t pid = fork();
        if (pid < 0) {
            perror("parley-bench: fork");
            return 1;
        }
        if (pid == 0) {
            for (int j = 0; j < i; j++) {
                close(kids[j].to_fd);
                close(kids[j].from_fd);
            }
            close(down[1]);
            close(up[0]);
            _exit(child_main(&share, lo, hi - lo, down[0], up[1]));
        }
        close(down[0]);
        close(up[1]);
        kids[i].pid = pid;
        kids[i].to_fd = down[1];
        kids[i].from_fd = up[0];
    }

    struct pollfd *pfs = calloc((size_t)procs, sizeof(*pfs));
    for (;;) {
        int open_pipes = 0;
        for (int i = 0; i < procs; i++) {
            pfs[i].fd = kids[i].eof ? -1 : kids[i].from_fd;
            pfs[i].events = POLLIN;
            pfs[i].revents = 0;
            open_pipes += !kids[i].eof;
        }
        if (!open_pipes)
            break;
        if (poll(pfs, (nfds_t)procs, STEP_MS) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < procs; i++)
            if (pfs[i].revents && child_read(&kids[i]) != 0)
                kids[i].eof = 1;
        /* The sum of the children's latest progress; a child that ended
         * counts as finished whatever it said last. */
        bench_progress_t sum = {0};
        for (int i = 0; i < procs; i++) {
            bench_progress_t *p = &kids[i].prog;
            sum.online += p->online;
            sum.pending += p->pending;
            sum.login_ok += p->login_ok;
            sum.login_failed += p->login_failed;
            sum.lost += p->lost;
            sum.sent += p->sent;
            sum.recv += p->recv;
            uint32_t workers = p->workers ? p->workers : 1;
            sum.workers += workers;
            sum.login_done += kids[i].eof ? workers : p->login_done;
            sum.join_done += kids[i].eof ? workers : p->join_done;
        }
        int cmd = ctl_step(&k, &sum);
        if (cmd != BENCH_CMD_NONE) {
            char c = cmd == BENCH_CMD_RUN ? 'R' : cmd == BENCH_CMD_JOIN ? 'J' : 'S';
            for (int i = 0; i < procs; i++)
                if (!kids[i].eof && write_all(kids[i].to_fd, &c, 1) != 0)
                    kids[i].eof = 1;
        }
    }
    free(pfs);

    bench_stats_t s;
    bench_stats_init(&s);
    int missing = 0;
    for (int i = 0; i < procs; i++) {
        int status;
        waitpid(kids[i].pid, &status, 0);
        close(kids[i].to_fd);
        close(kids[i].from_fd);
        if (kids[i].stats)
            bench_stats_merge(&s, kids[i].stats);
        else
            missing++;
        free(kids[i].stats);
        free(kids[i].buf);
    }
    free(kids);
    if (missing)
        fprintf(stderr, "parley-bench: %d of %d processes ended without figures\n", missing, procs);
    ctl_finish(&k);
    bench_report(o, &s, &k.run);
    return s.c[BENCH_C_LOGIN_OK] > 0 && !missing ? 0 : 1;
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    int rc = bench_opts_parse(&o, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    o.origin_ns = bench_now_ns();
    return o.procs > 1 ? run_parent(&o) : run_single(&o);
}
