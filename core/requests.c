/* requests.c — what the server starts on its own: IQs it sends to clients
 * (a module asking a client's disco#info, say) with their answers matched by
 * id and sender, and module timers.  Both are driven by one one-second tick
 * on the first loop; answers and callbacks go back to the loop that asked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lib/util.h"

typedef struct pending_iq {
    char *to;          /* who was asked: only an answer from there counts */
    pl_loop_t *loop;   /* where `done` runs */
    uint64_t deadline; /* monotonic ms */
    pl_iq_done_fn done;
    void *ud;
} pending_iq_t;

struct pl_mod_timer {
    struct pl_mod_timer *next;
    pl_module_ctx_t *ctx;
    unsigned interval_ms;
    uint64_t due;
    void (*fn)(pl_module_ctx_t *ctx);
};

void pl_requests_init(pl_server_t *srv)
{
    pthread_mutex_init(&srv->req_lock, NULL);
    pl_map_init(&srv->pending_iqs);
}

/* Runs `done` on the loop that asked: directly when that is this one. */
typedef struct answer {
    pl_iq_done_fn done;
    void *ud;
} answer_t;

static void run_answer(void *ud, pl_stanza_t *st)
{
    answer_t *a = ud;
    a->done(a->ud, st);
    free(a);
}

static void finish(pending_iq_t *p, const pl_stanza_t *response)
{
    if (p->loop == pl_current_loop || !p->loop) {
        p->done(p->ud, response);
    } else {
        answer_t *a = pl_xmalloc(sizeof(*a));
        a->done = p->done;
        a->ud = p->ud;
        pl_loop_call(p->loop, run_answer, a, response);
    }
    free(p->to);
    free(p);
}

int pl_server_send_iq_take(pl_server_t *srv, pl_stanza_t *iq, unsigned timeout_ms,
                           pl_iq_done_fn done, void *ud)
{
    const char *from = pl_stanza_attr(iq, "from"), *to = pl_stanza_attr(iq, "to");
    pl_jid_t to_j, from_j;
    if (!from || !to || pl_jid_parse(&to_j, to) != 0) {
        pl_stanza_unref(&iq);
        return -1;
    }
    /* Both addresses are parsed now: they point into the stanza, which
     * is released below once its copy is built. */
    if (pl_jid_parse(&from_j, from) != 0) {
        pl_jid_deinit(&to_j);
        pl_stanza_unref(&iq);
        return -1;
    }
    char id[40], rnd[13];
    pl_random_id(rnd, 12);
    /* Peers make modules ask (a push per message for an offline account, a
     * caps question per new ver), and an app server that never answers
     * holds each question for its whole timeout: the table is bounded, and
     * past the bound a question is not asked at all (the caller hears so
     * at once and treats it as unanswered). */
    pthread_mutex_lock(&srv->req_lock);
    if (srv->pending_iqs.count >= (size_t)pl_server_limits(srv)->max_pending_iqs) {
        srv->pending_refused++;
        pthread_mutex_unlock(&srv->req_lock);
        pl_jid_deinit(&from_j);
        pl_jid_deinit(&to_j);
        pl_stanza_unref(&iq);
        return -EBUSY;
    }
    pending_iq_t *p = pl_xcalloc(1, sizeof(*p));
    p->to = pl_xstrdup(to_j.full);
    p->loop = pl_current_loop;
    p->deadline = pl_mono_ms() + (timeout_ms ? timeout_ms : 30000);
    p->done = done;
    p->ud = ud;
    snprintf(id, sizeof(id), "pl%llu-%s", (unsigned long long)++srv->next_iq_id, rnd);
    pl_map_put(&srv->pending_iqs, id, p);
    pthread_mutex_unlock(&srv->req_lock);
    /* The stanza is immutable: a copy carries the id. */
    const pl_xml_t *root = pl_stanza_root(iq);
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    for (unsigned i = 0; i < root->nattrs; i++)
        if (strcmp(root->attrs[i].name, "id") != 0 && !root->attrs[i].ns)
            pl_build_attr(b, root->attrs[i].name, root->attrs[i].value);
    pl_build_attr(b, "id", id);
    for (const pl_xml_t *c = pl_xml_first_element(root); c; c = pl_xml_next(c, NULL, NULL))
        pl_build_copy(b, c);
    pl_stanza_unref(&iq);
    pl_stanza_t *sent = pl_build_finish(b);
    pl_router_route(srv, sent, &from_j, &to_j, NULL);
    pl_jid_deinit(&from_j);
    pl_stanza_unref(&sent);
    pl_jid_deinit(&to_j);
    return 0;
}

int pl_requests_answer(pl_server_t *srv, const pl_stanza_t *st, const pl_jid_t *from)
{
    const char *id = pl_stanza_attr(st, "id");
    if (!id || strncmp(id, "pl", 2) != 0)
        return 0;
    pthread_mutex_lock(&srv->req_lock);
    pending_iq_t *p = pl_map_get(&srv->pending_iqs, id);
    if (p && from && strcmp(p->to, from->full) == 0)
        pl_map_del(&srv->pending_iqs, id);
    else
        p = NULL;
    pthread_mutex_unlock(&srv->req_lock);
    if (!p)
        return 0;
    finish(p, st);
    return 1;
}

int pl_module_every(pl_module_ctx_t *ctx, unsigned interval_ms, void (*fn)(pl_module_ctx_t *ctx))
{
    if (!interval_ms || !fn)
        return -1;
    pl_server_t *srv = ctx->host->server;
    struct pl_mod_timer *t = pl_xcalloc(1, sizeof(*t));
    t->ctx = ctx;
    t->interval_ms = interval_ms;
    t->due = pl_mono_ms() + interval_ms;
    t->fn = fn;
    pthread_mutex_lock(&srv->req_lock);
    t->next = srv->mod_timers;
    srv->mod_timers = t;
    pthread_mutex_unlock(&srv->req_lock);
    return 0;
}

static void on_tick(uv_timer_t *h)
{
    pl_server_t *srv = h->data;
    uint64_t now = pl_mono_ms();
    /* Requests nobody answered in time: all of them, or a burst of
     * questions to a silent peer would expire slower than it arrives. */
    pending_iq_t **expired = NULL;
    size_t n = 0, cap = 0, refused;
    pthread_mutex_lock(&srv->req_lock);
    size_t pos = 0;
    const char *key;
    void *v;
    while (pl_map_iter(&srv->pending_iqs, &pos, &key, &v)) {
        pending_iq_t *p = v;
        if (p->deadline <= now) {
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                expired = pl_xrealloc(expired, cap * sizeof(*expired));
            }
            expired[n++] = p;
            pl_map_del(&srv->pending_iqs, key); /* the slot stays: iteration goes on */
        }
    }
    refused = srv->pending_refused;
    srv->pending_refused = 0;
    pthread_mutex_unlock(&srv->req_lock);
    for (size_t i = 0; i < n; i++)
        finish(expired[i], NULL);
    free(expired);
    if (refused)
        pl_log(&srv->log, PL_LOG_WARN, "limits.pending_iqs", "refused=%zu limit=%lld", refused,
               pl_server_limits(srv)->max_pending_iqs);
    /* Module timers (the list only grows before the loops run). */
    for (struct pl_mod_timer *t = srv->mod_timers; t; t = t->next) {
        if (now < t->due || !t->ctx->started)
            continue;
        t->due = now + t->interval_ms;
        t->fn(t->ctx);
    }
}

void pl_requests_start(pl_server_t *srv)
{
    uv_timer_init(&srv->loops[0]->uv, &srv->tick);
    srv->tick.data = srv;
    uv_timer_start(&srv->tick, on_tick, 1000, 1000);
}

void pl_requests_stop(pl_server_t *srv)
{
    if (!srv->tick.data)
        return;
    uv_timer_stop(&srv->tick);
    if (!uv_is_closing((uv_handle_t *)&srv->tick))
        uv_close((uv_handle_t *)&srv->tick, NULL);
    /* Whoever still waits for an answer hears that none will come. */
    for (;;) {
        pending_iq_t *p = NULL;
        pthread_mutex_lock(&srv->req_lock);
        size_t pos = 0;
        const char *key;
        void *v;
        if (pl_map_iter(&srv->pending_iqs, &pos, &key, &v)) {
            p = v;
            pl_map_del(&srv->pending_iqs, key);
        }
        pthread_mutex_unlock(&srv->req_lock);
        if (!p)
            break;
        finish(p, NULL);
    }
}

void pl_requests_free(pl_server_t *srv)
{
    while (srv->mod_timers) {
        struct pl_mod_timer *t = srv->mod_timers;
        srv->mod_timers = t->next;
        free(t);
    }
    /* A server that never ran its loops (pl_requests_stop had nothing to
     * stop) may still hold questions; nobody waits for them now. */
    size_t pos = 0;
    void *v;
    while (pl_map_iter(&srv->pending_iqs, &pos, NULL, &v)) {
        pending_iq_t *p = v;
        free(p->to);
        free(p);
    }
    pl_map_deinit(&srv->pending_iqs);
    pthread_mutex_destroy(&srv->req_lock);
}
