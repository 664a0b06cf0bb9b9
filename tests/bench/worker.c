/* worker.c — one event loop (thread) of parley-bench and its share of the
 * accounts: paces logins, expires the slow ones, runs the scenario's turns
 * for the measured phase, drains and closes.  A group is the set of loops
 * of one process; the coordinator reads their progress from atomics and
 * steers them with a uv_async wake-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/bench/bench.h"

#define TICK_MS 1
#define DRAIN_IDLE_NS 1000000000ull /* a drain ends after a second with nothing new */
#define JOIN_SCAN_NS 20000000ull    /* muc: retries and join timeouts looked at this often */

enum { CMD_BIT_RUN = 1, CMD_BIT_STOP = 2, CMD_BIT_JOIN = 4 };

struct bench_group {
    const bench_opts_t *o;
    SSL_CTX *ssl_ctx;
    int nworkers;
    bench_worker_t **workers;
    uv_mutex_t *wake_lock; /* one per worker: guards `wake_closed` */
    int *wake_closed;
};

static void enter_close(bench_worker_t *w);

/* CPU seconds of the calling thread (a worker is one thread). */
static double thread_cpu_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t secs_to_ns(double s)
{
    return (uint64_t)(s * 1e9);
}

uint32_t bench_neighbour(const bench_opts_t *o, uint32_t n, int64_t d)
{
    int64_t m = o->users;
    int64_t rel = ((int64_t)n - (int64_t)o->first + d) % m;
    if (rel < 0)
        rel += m;
    return o->first + (uint32_t)rel;
}

/* ---- the list of logins in progress, oldest first (for --timeout) ---- */

static void pending_add(bench_worker_t *w, bench_conn_t *c)
{
    c->prev = w->pending_tail;
    c->next = NULL;
    if (w->pending_tail)
        w->pending_tail->next = c;
    else
        w->pending_head = c;
    w->pending_tail = c;
    c->flags |= BENCH_CF_IN_LIST;
}

void bench_worker_pending_remove(bench_worker_t *w, bench_conn_t *c)
{
    if (!(c->flags & BENCH_CF_IN_LIST))
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->pending_head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->pending_tail = c->prev;
    c->prev = c->next = NULL;
    c->flags &= (uint16_t)~BENCH_CF_IN_LIST;
}

/* ---- logins ---- */

static void login_done(bench_worker_t *w)
{
    w->inflight--;
    atomic_fetch_sub_explicit(&w->a_pending, 1, memory_order_relaxed);
}

void bench_worker_logged_in(bench_worker_t *w, bench_conn_t *c)
{
    uint64_t now = bench_now_ns();
    bench_worker_pending_remove(w, c);
    login_done(w);
    bench_hist_record(&w->stats.login, (now - c->t_start) / 1000);
    w->stats.c[BENCH_C_LOGIN_OK]++;
    w->stats.login_t1 = now;
    atomic_fetch_add_explicit(&w->a_login_ok, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->a_online, 1, memory_order_relaxed);
    if (w->o->scenario == BENCH_LOGIN && !w->o->keep)
        bench_conn_close(c); /* cycling: the account is free for the next login */
}

void bench_worker_login_failed(bench_worker_t *w, bench_user_t *u, int reason, const char *detail)
{
    if (u->conn)
        bench_worker_pending_remove(w, u->conn);
    login_done(w);
    if (reason < 0)
        return; /* abandoned at the end of the run: not a failure */
    w->stats.fail[reason]++;
    w->stats.c[BENCH_C_LOGIN_FAILED]++;
    w->stats.login_t1 = bench_now_ns();
    u->failed = 1;
    atomic_fetch_add_explicit(&w->a_login_failed, 1, memory_order_relaxed);
    if (!w->stats.first_error[0]) {
        char name[128];
        bench_user_name(w->o, u->n, name, sizeof(name));
        snprintf(w->stats.first_error, sizeof(w->stats.first_error), "%s: %s: %s", name,
                 bench_fail_names[reason], detail ? detail : "");
    }
}

void bench_worker_conn_gone(bench_worker_t *w, bench_user_t *u)
{
    u->conn = NULL;
    w->nconns--;
}

static void login_start(bench_worker_t *w, bench_user_t *u)
{
    if (!w->stats.login_t0)
        w->stats.login_t0 = bench_now_ns();
    w->inflight++;
    w->attempted++;
    w->stats.c[BENCH_C_LOGIN_STARTED]++;
    atomic_fetch_add_explicit(&w->a_pending, 1, memory_order_relaxed);
    bench_conn_start(w, u);
    if (u->conn)
        pending_add(w, u->conn);
}

/* The next account to log in, or NULL.  Cycling, an account is taken again
 * once its previous connection is gone. */
static bench_user_t *next_user(bench_worker_t *w, int cycling)
{
    if (!cycling)
        return w->cursor < w->nusers ? &w->users[w->cursor++] : NULL;
    for (uint32_t i = 0; i < w->nusers; i++) {
        bench_user_t *u = &w->users[w->cursor];
        w->cursor = (w->cursor + 1) % w->nusers;
        if (!u->conn)
            return u;
    }
    return NULL;
}

static void login_tick(bench_worker_t *w, uint64_t now)
{
    const bench_opts_t *o = w->o;
    int cycling = o->scenario == BENCH_LOGIN && !o->keep;
    double elapsed = (double)(now - w->phase_t0) / 1e9;
    if (cycling && elapsed >= o->duration_s) {
        w->stats.run_t1 = w->phase_t0 + secs_to_ns(o->duration_s);
        enter_close(w);
        return;
    }
    /* With a rate, logins start on a schedule (never more than the cap in
     * progress); without, the cap alone sets the pace. */
    uint64_t allowed = w->rate > 0 ? (uint64_t)(w->rate * elapsed) + 1 : UINT64_MAX;
    while (w->inflight < w->concurrency && w->attempted < allowed) {
        bench_user_t *u = next_user(w, cycling);
        if (!u)
            break;
        login_start(w, u);
    }
    if (!cycling && w->cursor >= w->nusers && w->inflight == 0) {
        w->phase = BENCH_PH_WAIT;
        atomic_store(&w->a_login_done, 1);
    }
}

static void expire_logins(bench_worker_t *w, uint64_t now)
{
    uint64_t limit = secs_to_ns(w->o->timeout_s);
    while (w->pending_head && now - w->pending_head->t_start >= limit) {
        char why[64];
        snprintf(why, sizeof(why), "not logged in after %.1f s", w->o->timeout_s);
        bench_conn_fail(w->pending_head, BENCH_FAIL_TIMEOUT, why);
    }
}

/* ---- phases ---- */

static void on_closed_handle(uv_handle_t *h)
{
    (void)h;
}

static void finish(bench_worker_t *w, bench_group_t *g)
{
    w->phase = BENCH_PH_DONE;
    uv_timer_stop(&w->tick);
    uv_close((uv_handle_t *)&w->tick, on_closed_handle);
    /* The coordinator may be about to wake this loop: only close the async
     * handle under the lock it sends under. */
    uv_mutex_lock(&g->wake_lock[w->index]);
    g->wake_closed[w->index] = 1;
    uv_mutex_unlock(&g->wake_lock[w->index]);
    uv_close((uv_handle_t *)&w->wake, on_closed_handle);
}

static void enter_close(bench_worker_t *w)
{
    uint64_t now = bench_now_ns();
    if (w->stats.run_t0 && !w->stats.run_t1)
        w->stats.run_t1 = now; /* stopped early: setup complete, or interrupted */
    w->phase = BENCH_PH_CLOSE;
    w->phase_t0 = now;
    for (uint32_t i = 0; i < w->nusers; i++)
        if (w->users[i].conn)
            bench_conn_close(w->users[i].conn);
}

/* ---- muc: entering the rooms ----
 * Once the coordinator has every account logged in, each loop asks for its
 * accounts' memberships, at most --concurrency (its share) unsettled at a
 * time.  Whoever arrives first in a room makes it; the others may be told
 * the room does not exist while it is locked, and try again shortly. */

void bench_worker_join_settled(bench_worker_t *w, bench_membership_t *ms, int state)
{
    uint64_t now = bench_now_ns();
    if (ms->state == BENCH_MS_JOINING || ms->state == BENCH_MS_RETRY)
        w->joins_open--;
    ms->state = (uint8_t)state;
    w->joins_left--;
    w->stats.join_t1 = now;
    if (state == BENCH_MS_JOINED) {
        w->stats.c[BENCH_C_MUC_JOINED]++;
        bench_hist_record(&w->stats.join, (now - ms->t0) / 1000);
    } else {
        w->stats.c[BENCH_C_MUC_JOIN_FAILED]++;
    }
}

static int online(const bench_user_t *u)
{
    return u->conn && u->conn->state == BENCH_CS_ONLINE;
}

static void join_finish(bench_worker_t *w)
{
    w->joined = 1;
    w->phase = BENCH_PH_WAIT;
    atomic_store(&w->a_join_done, 1);
}

static void join_tick(bench_worker_t *w, uint64_t now)
{
    while (w->joins_open < w->concurrency && w->join_user < w->nusers) {
        bench_user_t *u = &w->users[w->join_user];
        if (w->join_m >= u->nrooms) {
            w->join_user++;
            w->join_m = 0;
            continue;
        }
        uint32_t m = w->join_m++;
        bench_membership_t *ms = &u->rooms[m];
        ms->t0 = now;
        if (!online(u)) {
            bench_worker_join_settled(w, ms, BENCH_MS_FAILED);
            continue;
        }
        if (!w->stats.join_t0)
            w->stats.join_t0 = now;
        ms->state = BENCH_MS_JOINING;
        w->joins_open++;
        bench_muc_join(u->conn, m);
    }
    if (now - w->join_scan >= JOIN_SCAN_NS) {
        w->join_scan = now;
        uint64_t limit = secs_to_ns(w->o->timeout_s);
        for (uint32_t i = 0; i < w->nusers; i++) {
            bench_user_t *u = &w->users[i];
            for (uint32_t m = 0; m < u->nrooms; m++) {
                bench_membership_t *ms = &u->rooms[m];
                if (ms->state != BENCH_MS_JOINING && ms->state != BENCH_MS_RETRY)
                    continue;
                if (now - ms->t0 >= limit || !online(u)) {
                    if (!w->stats.first_error[0])
                        snprintf(w->stats.first_error, sizeof(w->stats.first_error),
                                 "a room not entered after %.1f s%s", w->o->timeout_s,
                                 online(u) ? "" : " (the session is gone)");
                    bench_worker_join_settled(w, ms, BENCH_MS_FAILED);
                } else if (ms->state == BENCH_MS_RETRY && now >= ms->due) {
                    ms->state = BENCH_MS_JOINING;
                    bench_muc_join(u->conn, m);
                }
            }
        }
    }
    if (w->joins_left == 0)
        join_finish(w);
}

static void enter_join(bench_worker_t *w)
{
    uint64_t now = bench_now_ns();
    w->phase = BENCH_PH_JOIN;
    w->phase_t0 = now;
    w->join_user = w->join_m = 0;
    w->join_scan = now;
    join_tick(w, now);
}

static void enter_run(bench_worker_t *w)
{
    uint64_t now = bench_now_ns();
    w->phase = BENCH_PH_RUN;
    w->phase_t0 = now;
    w->stats.run_t0 = now;
    w->cpu_run0 = thread_cpu_s();
    w->turns = 0;
    if (w->o->scenario == BENCH_LOGIN) {
        w->stats.run_t1 = now; /* --keep: the logins were the whole run */
        enter_close(w);
    }
}

/* What the drain watches: deliveries, and answers to archive queries. */
static uint64_t received(const bench_worker_t *w)
{
    const uint64_t *c = w->stats.c;
    return c[BENCH_C_CHAT_RECV] + c[BENCH_C_PRES_RECV] + c[BENCH_C_MAM_DONE] +
           c[BENCH_C_MAM_ERRORS] + c[BENCH_C_MUC_RECV] + c[BENCH_C_MUC_ECHO] +
           c[BENCH_C_MUC_ERRORS];
}

static void run_tick(bench_worker_t *w, uint64_t now)
{
    const bench_opts_t *o = w->o;
    uint64_t elapsed = now - w->phase_t0;
    if (elapsed >= secs_to_ns(o->duration_s)) {
        w->stats.run_t1 = w->phase_t0 + secs_to_ns(o->duration_s);
        w->stats.gen_cpu_run_s = thread_cpu_s() - w->cpu_run0;
        if (o->scenario == BENCH_CHAT || o->scenario == BENCH_PRESENCE ||
            o->scenario == BENCH_MAM || o->scenario == BENCH_MUC) {
            w->phase = BENCH_PH_DRAIN;
            w->phase_t0 = now;
            w->drain_idle_since = now;
            w->drain_last = received(w);
        } else {
            enter_close(w);
        }
        return;
    }
    if (o->scenario == BENCH_HOLD || w->nusers == 0)
        return;
    if (o->scenario == BENCH_MUC && o->muc_fast) {
        /* One message into every room at the start; each echo then sends
         * the next (muc.c). */
        for (; w->turns < w->nusers; w->turns++)
            if (online(&w->users[w->turns]))
                bench_muc_post(w->users[w->turns].conn);
        return;
    }
    /* Turns are spread evenly: account i of this loop acts at offsets
     * i/n of every interval, so the load is smooth rather than in bursts. */
    double per_interval = (double)elapsed / 1e9 / o->interval_s * w->nusers;
    uint64_t due = (uint64_t)per_interval;
    if (o->scenario == BENCH_SETUP_ROSTERS && due > w->nusers)
        due = w->nusers;
    while (w->turns < due) {
        bench_user_t *u = &w->users[w->turns % w->nusers];
        w->turns++;
        if (!u->conn || u->conn->state != BENCH_CS_ONLINE)
            continue;
        if (o->scenario == BENCH_CHAT)
            bench_client_chat(u->conn);
        else if (o->scenario == BENCH_PRESENCE)
            bench_client_presence(u->conn);
        else if (o->scenario == BENCH_MAM)
            bench_client_mam(u->conn);
        else if (o->scenario == BENCH_MUC)
            bench_muc_post(u->conn);
        else if (!u->setup_sent)
            bench_client_setup_roster(u->conn);
    }
}

static void drain_tick(bench_worker_t *w, uint64_t now)
{
    uint64_t recv = received(w);
    if (recv != w->drain_last) {
        w->drain_last = recv;
        w->drain_idle_since = now;
    }
    if (now - w->phase_t0 >= secs_to_ns(w->o->drain_s) ||
        now - w->drain_idle_since >= DRAIN_IDLE_NS)
        enter_close(w);
}

static void on_tick(uv_timer_t *t)
{
    bench_worker_t *w = t->data;
    uint64_t now = bench_now_ns();
    expire_logins(w, now);
    switch (w->phase) {
    case BENCH_PH_LOGIN: login_tick(w, now); break;
    case BENCH_PH_JOIN: join_tick(w, now); break;
    case BENCH_PH_RUN: run_tick(w, now); break;
    case BENCH_PH_DRAIN: drain_tick(w, now); break;
    default: break;
    }
    if (w->phase == BENCH_PH_CLOSE && w->nconns == 0)
        finish(w, w->group);
}

static void on_wake(uv_async_t *a)
{
    bench_worker_t *w = a->data;
    int bits = atomic_exchange(&w->a_cmd, 0);
    if ((bits & CMD_BIT_JOIN) && w->phase == BENCH_PH_WAIT && !w->joined)
        enter_join(w);
    if ((bits & CMD_BIT_RUN) && w->phase == BENCH_PH_WAIT)
        enter_run(w);
    if ((bits & CMD_BIT_STOP) && w->phase < BENCH_PH_CLOSE)
        enter_close(w);
}

static void worker_main(void *arg)
{
    bench_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_store(&w->a_finished, 1);
}

/* ---- the group ---- */

/* --tls-resume: a session (TLS 1.3 ticket) the server sent is kept with
 * the account, for its next login.  1: we keep the reference. */
static int keep_session(SSL *ssl, SSL_SESSION *sess)
{
    bench_conn_t *c = SSL_get_app_data(ssl);
    if (!c || !c->user)
        return 0;
    if (c->user->tls_session)
        SSL_SESSION_free(c->user->tls_session);
    c->user->tls_session = sess;
    return 1;
}

static SSL_CTX *make_ssl_ctx(const bench_opts_t *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* A load generator trusts whatever certificate the server under test
     * has (usually self-signed). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (o->tls_resume) {
        /* Sessions are kept per account (keep_session), not in OpenSSL's
         * cache, which is shared and locked. */
        SSL_CTX_set_session_cache_mode(ctx,
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, keep_session);
    } else {
        /* Every login is a full handshake, as for a client that starts cold. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    /* Whole records (and whatever follows them) in one read of the socket,
     * instead of a read for each record's header and another for its body. */
    SSL_CTX_set_read_ahead(ctx, 1);
    long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
    /* Idle sessions give their buffers back when there are tens of
     * thousands of them; where every session receives all the time
     * (chat, presence, mam, muc) that would be a free and a malloc of 16 KiB
     * on every read. */
    if (o->scenario == BENCH_LOGIN || o->scenario == BENCH_HOLD ||
        o->scenario == BENCH_SETUP_ROSTERS)
        mode |= SSL_MODE_RELEASE_BUFFERS;
    SSL_CTX_set_mode(ctx, mode);
    return ctx;
}

bench_group_t *bench_group_start(const bench_opts_t *o, uint32_t first, uint32_t n)
{
    bench_group_t *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->o = o;
    g->ssl_ctx = make_ssl_ctx(o);
    g->nworkers = o->threads < (int)n ? o->threads : (int)n;
    if (g->nworkers < 1)
        g->nworkers = 1;
    g->workers = calloc((size_t)g->nworkers, sizeof(*g->workers));
    g->wake_lock = calloc((size_t)g->nworkers, sizeof(*g->wake_lock));
    g->wake_closed = calloc((size_t)g->nworkers, sizeof(*g->wake_closed));
    if (!g->ssl_ctx || !g->workers || !g->wake_lock || !g->wake_closed) {
        fprintf(stderr, "parley-bench: cannot set up TLS or allocate the workers\n");
        exit(1);
    }
    int cycling = o->scenario == BENCH_LOGIN && !o->keep;
    uint64_t now = bench_now_ns();
    for (int i = 0; i < g->nworkers; i++) {
        bench_worker_t *w = calloc(1, sizeof(*w));
        uint32_t lo = first + (uint32_t)((uint64_t)n * (uint64_t)i / (uint64_t)g->nworkers);
        uint32_t hi = first + (uint32_t)((uint64_t)n * (uint64_t)(i + 1) / (uint64_t)g->nworkers);
        if (!w || !(w->users = calloc(hi - lo ? hi - lo : 1, sizeof(*w->users)))) {
            fprintf(stderr, "parley-bench: out of memory for %u accounts\n", n);
            exit(1);
        }
        g->workers[i] = w;
        uv_mutex_init(&g->wake_lock[i]);
        w->index = i;
        w->group = g;
        w->o = o;
        w->ssl_ctx = g->ssl_ctx;
        w->nusers = hi - lo;
        w->user_base = lo;
        for (uint32_t k = 0; k < w->nusers; k++) {
            w->users[k].n = lo + k;
            if (o->scenario == BENCH_MUC) {
                if (bench_muc_assign(o, &w->users[k]) != 0) {
                    fprintf(stderr, "parley-bench: out of memory for the rooms\n");
                    exit(1);
                }
                w->joins_left += w->users[k].nrooms;
            }
        }
        w->rate = o->rate / g->nworkers;
        w->concurrency = o->concurrency / (uint32_t)g->nworkers;
        if (w->concurrency < 1)
            w->concurrency = 1;
        w->source_next = (uint32_t)i;
        bench_stats_init(&w->stats);
        w->phase = BENCH_PH_LOGIN;
        w->phase_t0 = now;
        if (cycling)
            w->stats.run_t0 = now;
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->wake, on_wake);
        w->wake.data = w;
        uv_timer_init(&w->loop, &w->tick);
        w->tick.data = w;
        uv_timer_start(&w->tick, on_tick, TICK_MS, TICK_MS);
    }
    for (int i = 0; i < g->nworkers; i++)
        if (uv_thread_create(&g->workers[i]->thread, worker_main, g->workers[i]) != 0) {
            fprintf(stderr, "parley-bench: cannot start a worker thread\n");
            exit(1);
        }
    return g;
}

void bench_group_progress(bench_group_t *g, bench_progress_t *p)
{
    memset(p, 0, sizeof(*p));
    p->workers = (uint32_t)g->nworkers;
    for (int i = 0; i < g->nworkers; i++) {
        bench_worker_t *w = g->workers[i];
        p->online += atomic_load_explicit(&w->a_online, memory_order_relaxed);
        p->pending += atomic_load_explicit(&w->a_pending, memory_order_relaxed);
        p->login_ok += atomic_load_explicit(&w->a_login_ok, memory_order_relaxed);
        p->login_failed += atomic_load_explicit(&w->a_login_failed, memory_order_relaxed);
        p->lost += atomic_load_explicit(&w->a_lost, memory_order_relaxed);
        p->sent += atomic_load_explicit(&w->a_sent, memory_order_relaxed);
        p->recv += atomic_load_explicit(&w->a_recv, memory_order_relaxed);
        p->login_done += (uint32_t)atomic_load(&w->a_login_done);
        p->finished += (uint32_t)atomic_load(&w->a_finished);
        p->join_done += (uint32_t)atomic_load(&w->a_join_done);
    }
}

void bench_group_command(bench_group_t *g, int cmd)
{
    int bit = cmd == BENCH_CMD_RUN    ? CMD_BIT_RUN
              : cmd == BENCH_CMD_JOIN ? CMD_BIT_JOIN
                                      : CMD_BIT_STOP;
    for (int i = 0; i < g->nworkers; i++) {
        atomic_fetch_or(&g->workers[i]->a_cmd, bit);
        uv_mutex_lock(&g->wake_lock[i]);
        if (!g->wake_closed[i])
            uv_async_send(&g->workers[i]->wake);
        uv_mutex_unlock(&g->wake_lock[i]);
    }
}

void bench_group_finish(bench_group_t *g, bench_stats_t *out)
{
    for (int i = 0; i < g->nworkers; i++) {
        bench_worker_t *w = g->workers[i];
        uv_thread_join(&w->thread);
        bench_stats_merge(out, &w->stats);
        for (uint32_t k = 0; k < w->nusers; k++) {
            free(w->users[k].keys);
            if (w->users[k].tls_session)
                SSL_SESSION_free(w->users[k].tls_session);
            free(w->users[k].contacts);
            free(w->users[k].rooms);
        }
        free(w->users);
        uv_loop_close(&w->loop);
        uv_mutex_destroy(&g->wake_lock[i]);
        free(w);
    }
    SSL_CTX_free(g->ssl_ctx);
    free(g->workers);
    free(g->wake_lock);
    free(g->wake_closed);
    free(g);
}
