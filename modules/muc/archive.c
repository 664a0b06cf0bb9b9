/* archive.c — the room archive (XEP-0313 on the room JID, GRP-6): every
 * groupchat message a persistent room accepts goes into the SQLite archive
 * (storage/archive.c) under the room's bare JID, with the sender's nick as
 * the peer's resource and its real bare JID as the peer, so members who
 * were not joined can page through what they missed.  Writes join the
 * group commit; queries run on a worker thread, and the answers are routed
 * from the room like any of its stanzas.  The query's form, paging and
 * result elements are xep/mam-query's, shared with the account archive.
 * After a restart the rooms' history rings are refilled from it once.
 * Messages older than archive_retention are purged in small batches for
 * the whole service (mam's purge works per host domain and does not reach
 * the rooms' archives). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "xep/mam-query.h"
#include "xep/stored-xml.h"

enum {
    MUC_ARCHIVE_PAGE = 50, /* items in a page the client does not size */
    MUC_ARCHIVE_MAX_PAGE = 250,
    MUC_ARCHIVE_QUERIES = 32, /* in flight on the whole service */
    MUC_ARCHIVE_BUDGET_MS = 5000,
};

int muc_archiving(const muc_room_t *r)
{
    return (r->config.flags & MUC_CONF_PERSISTENT) && !(r->config.flags & MUC_CONF_NO_ARCHIVE);
}

/* ---- writing ---- */

/* XEP-0334: what the sender asked not to keep stays out. */
static int no_store(const pl_stanza_t *msg)
{
    const pl_xml_t *root = pl_stanza_root(msg);
    return pl_xml_child(root, "no-store", PL_NS_HINTS) ||
           pl_xml_child(root, "no-permanent-store", PL_NS_HINTS);
}

void muc_archive_store(muc_state_t *st, const muc_room_t *r, const muc_occupant_t *o,
                       const pl_stanza_t *msg, const char *id)
{
    int64_t key = (int64_t)pl_id_value(id);
    if (!muc_archiving(r) || key <= 0 || no_store(msg))
        return;
    int rc =
        pl_mam_store(pl_module_server(st->ctx), r->jid, key, o->bare, o->nick, PL_ARCHIVE_IN, msg);
    if (rc != 0)
        pl_module_log(st->ctx, PL_LOG_WARN, "archive.store_failed", "room=%s error=%d", r->jid, rc);
}

static int forget_run(pl_wtxn_t *txn, void *ud)
{
    int rc = pl_archive_delete_owner(txn, ud);
    free(ud);
    return rc < 0 ? rc : 0;
}

static void forget_done(void *ud, int status)
{
    (void)ud; /* freed by forget_run */
    (void)status;
}

void muc_archive_forget(muc_state_t *st, const muc_room_t *r)
{
    char *owner = pl_xstrdup(r->jid);
    if (pl_server_write(pl_module_server(st->ctx), forget_run, forget_done, owner) != 0)
        free(owner);
}

/* ---- retention ---- */

typedef struct archive_purge {
    muc_state_t *st; /* for done only: run must not touch module state */
    char *domain;
    int64_t before_key;
    unsigned limit;
} archive_purge_t;

static int purge_run(pl_wtxn_t *txn, void *ud)
{
    archive_purge_t *p = ud;
    /* The rooms' bare JIDs are on the service's domain: every room, in
     * memory or not, and nothing of the accounts. */
    return pl_archive_purge(txn, p->domain, p->before_key, p->limit);
}

static void purge_done(void *ud, int status)
{
    archive_purge_t *p = ud;
    muc_state_t *st = p->st;
    st->purge_running = 0;
    /* A full batch means more is waiting: go on at the next tick, so no
     * transaction holds the storage long. */
    st->purge_more = status >= 0 && (unsigned)status == p->limit;
    if (!st->purge_more)
        st->next_purge_ms = pl_mono_ms() + (uint64_t)st->conf->archive_purge_interval;
    if (status > 0)
        pl_module_log(st->ctx, PL_LOG_INFO, "archive.purged", "service=%s messages=%d", p->domain,
                      status);
    else if (status < 0)
        pl_module_log(st->ctx, PL_LOG_WARN, "archive.purge_failed", "service=%s error=%d",
                      p->domain, status);
    free(p->domain);
    free(p);
}

void muc_archive_purge(pl_module_ctx_t *ctx)
{
    muc_state_t *st = pl_module_data(ctx);
    if (st->conf->archive_retention <= 0 || st->purge_running ||
        (!st->purge_more && pl_mono_ms() < st->next_purge_ms))
        return;
    archive_purge_t *p = pl_xcalloc(1, sizeof(*p));
    p->st = st;
    p->domain = pl_xstrdup(st->service);
    /* Archive keys are the stanza-ids' microseconds. */
    p->before_key = (pl_now_ms() - st->conf->archive_retention) * 1000;
    p->limit = (unsigned)st->conf->archive_purge_batch;
    if (pl_server_write(pl_module_server(ctx), purge_run, purge_done, p) != 0) {
        free(p->domain);
        free(p);
        return;
    }
    st->purge_running = 1;
}

int64_t muc_archive_horizon(const muc_state_t *st, const muc_room_t *r, int64_t now_ms)
{
    if (st->conf->archive_retention <= 0 || !muc_archiving(r))
        return 0;
    return now_ms - st->conf->archive_retention;
}

/* ---- reading ---- */

typedef struct archive_job {
    muc_state_t *st;
    pl_server_t *server;
    char *room, *to, *request_id, *queryid;
    pl_mam_req_t req;
    int rc;
    pl_archive_page_t page;
} archive_job_t;

static void job_free(archive_job_t **jp)
{
    archive_job_t *j = *jp;
    if (!j)
        return;
    *jp = NULL;
    pl_archive_page_deinit(&j->page);
    pl_mam_req_deinit(&j->req);
    free(j->room);
    free(j->to);
    free(j->request_id);
    free(j->queryid);
    free(j);
}

/* Worker thread: only the archive and the job's own fields. */
static void job_work(void *ud)
{
    archive_job_t *j = ud;
    j->rc = pl_archive_query(j->st->archive, &j->req.q, &j->page);
}

/* On the loop that took the request: the items, then the <fin/>, routed in
 * that order to the asker. */
static void job_done(void *ud)
{
    archive_job_t *j = ud;
    atomic_fetch_sub(&j->st->queries, 1);
    if (j->rc < 0) {
        const char *text;
        pl_stanza_err_t cond = pl_mam_query_error(j->rc, &text);
        pl_route_take(j->server, pl_mam_iq_error(j->request_id, j->room, j->to, cond, text));
    } else {
        for (size_t i = 0; i < j->page.n; i++) {
            size_t k = j->req.flip ? j->page.n - 1 - i : i;
            pl_stanza_t *m = pl_mam_result(j->room, j->to, j->queryid, &j->page.items[k]);
            if (m)
                pl_route_take(j->server, m);
        }
        pl_builder_t *b = pl_mam_iq_begin("result", j->request_id, j->room, j->to);
        pl_mam_fin(b, &j->req, &j->page, j->queryid);
        pl_route_take(j->server, pl_build_finish(b));
    }
    job_free(&j);
}

/* Who may read a room's archive (0, or the condition and *why): members
 * and above of a members-only room, joined or not; in an open room anyone
 * of the service's own tenant who is not an outcast, and an occupant; a
 * password-protected room keeps its archive to occupants and members. */
static pl_stanza_err_t may_read(muc_state_t *st, const muc_room_t *r, const pl_hook_ctx_t *hc,
                                const char **why)
{
    muc_affil_t a = muc_room_affil(r, hc->from->bare);
    int occupant = muc_room_by_jid(r, hc->from->full) != NULL;
    *why = NULL;
    if (a == MUC_AFFIL_OUTCAST) {
        *why = "you are banned from this room";
        return PL_ERR_FORBIDDEN;
    }
    if (a >= MUC_AFFIL_MEMBER)
        return PL_ERR_NONE;
    if (r->config.flags & MUC_CONF_MEMBERS_ONLY) {
        *why = "only members read the archive of a members-only room";
        return PL_ERR_FORBIDDEN;
    }
    if (occupant)
        return PL_ERR_NONE;
    if (r->config.flags & MUC_CONF_PASSWORD) {
        *why = "enter the room to read its archive";
        return PL_ERR_NOT_ALLOWED;
    }
    if (pl_server_tenant_of(hc->server, hc->from->domain) != pl_module_host(st->ctx)) {
        *why = "the archive is for users of this service's host";
        return PL_ERR_FORBIDDEN;
    }
    return PL_ERR_NONE;
}

/* 'with' on a room archive: the room's JID with a nick (an occupant's
 * messages), or a real JID for those who may see real JIDs. */
static pl_stanza_err_t fix_with(const muc_room_t *r, const pl_hook_ctx_t *hc, pl_mam_req_t *req,
                                const char **why)
{
    if (!req->with)
        return PL_ERR_NONE;
    if (strcmp(req->with, r->jid) == 0) {
        free(req->with);
        req->with = NULL;
        req->q.with = NULL; /* with_resource alone: the nick, or no filter */
        return PL_ERR_NONE;
    }
    muc_affil_t a = muc_room_affil(r, hc->from->bare);
    if (a < MUC_AFFIL_ADMIN && !(r->config.flags & MUC_CONF_WHOIS_ANYONE)) {
        *why = "only the room's admins search by real JID in a semi-anonymous room";
        return PL_ERR_FORBIDDEN;
    }
    /* A real JID's resource is not stored (the nick is): the bare JID. */
    free(req->with_resource);
    req->with_resource = NULL;
    req->q.with_resource = NULL;
    return PL_ERR_NONE;
}

/* The checks both requests share, under the lock: 0, or the condition. */
static pl_stanza_err_t may_query(muc_state_t *st, const muc_room_t *r, const pl_hook_ctx_t *hc,
                                 const char **why)
{
    if (!r || (r->locked && muc_room_affil(r, hc->from->bare) != MUC_AFFIL_OWNER)) {
        *why = "no such room";
        return PL_ERR_ITEM_NOT_FOUND;
    }
    if (!muc_archiving(r)) {
        *why = "this room keeps no archive";
        return PL_ERR_FEATURE_NOT_IMPLEMENTED;
    }
    return may_read(st, r, hc, why);
}

/* The search form: the same filters as an account's archive. */
pl_hook_result_t muc_archive_form(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    const char *why = NULL;
    pthread_mutex_lock(&st->lock);
    pl_stanza_err_t cond = may_query(st, pl_map_get(&st->rooms, hc->to->bare), hc, &why);
    pthread_mutex_unlock(&st->lock);
    if (cond)
        pl_reply_error(hc, cond, why);
    else
        pl_reply_take(hc, pl_mam_form_reply(hc->id, 0));
    return PL_DONE;
}

pl_hook_result_t muc_archive_query(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    archive_job_t *j = pl_xcalloc(1, sizeof(*j));
    pl_stanza_err_t cond = PL_ERR_NONE;
    const char *why = NULL;
    if (pl_mam_req_read(&j->req, hc->payload, MUC_ARCHIVE_PAGE, MUC_ARCHIVE_MAX_PAGE, &cond,
                        &why) != 0) {
        pl_reply_error(hc, cond, why);
        job_free(&j);
        return PL_DONE;
    }
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
    if (!(cond = may_query(st, r, hc, &why)))
        cond = fix_with(r, hc, &j->req, &why);
    if (!cond)
        j->room = pl_xstrdup(r->jid);
    pthread_mutex_unlock(&st->lock);
    if (cond) {
        pl_reply_error(hc, cond, why);
        job_free(&j);
        return PL_DONE;
    }
    if (atomic_fetch_add(&st->queries, 1) >= MUC_ARCHIVE_QUERIES) {
        atomic_fetch_sub(&st->queries, 1);
        pl_reply_error(hc, PL_ERR_RESOURCE_CONSTRAINT, "the archive is busy; try again shortly");
        job_free(&j);
        return PL_DONE;
    }
    j->st = st;
    j->server = hc->server;
    j->to = pl_xstrdup(hc->from->full);
    j->request_id = pl_xstrdup(hc->id);
    const char *queryid = pl_xml_attr(hc->payload, "queryid");
    j->queryid = queryid ? pl_xstrndup(queryid, 256) : NULL;
    j->req.q.owner = j->room;
    j->req.q.budget_ms = MUC_ARCHIVE_BUDGET_MS;
    if (pl_server_work(hc->server, job_work, job_done, j) != 0) {
        atomic_fetch_sub(&st->queries, 1);
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        job_free(&j);
    }
    return PL_DONE;
}

/* ---- history after a restart ---- */

typedef struct warm_room {
    char *jid;
    size_t cap;
    int rc;
    pl_archive_page_t page;
} warm_room_t;

typedef struct warm_job {
    muc_state_t *st;
    warm_room_t *rooms;
    size_t n;
} warm_job_t;

/* Worker thread: the newest page of each room's archive. */
static void warm_work(void *ud)
{
    warm_job_t *w = ud;
    for (size_t i = 0; i < w->n; i++) {
        pl_archive_query_t q = {
            .owner = w->rooms[i].jid,
            .max = w->rooms[i].cap,
            .last_page = 1,
            .budget_ms = MUC_ARCHIVE_BUDGET_MS,
        };
        w->rooms[i].rc = pl_archive_query(w->st->archive, &q, &w->rooms[i].page);
    }
}

/* The archive key (stanza-id value) of a message in the ring, 0 if none. */
static int64_t hist_key(const muc_hist_t *h)
{
    const pl_xml_t *sid = pl_xml_child(pl_stanza_root(h->msg), "stanza-id", PL_NS_SID);
    const char *id = sid ? pl_xml_attr(sid, "id") : NULL;
    return id ? (int64_t)pl_id_value(id) : 0;
}

/* Puts the archived messages older than anything in the ring in front of
 * it: the ring may already hold what the room heard since the start (a
 * client that reconnects at once after a crash speaks within the second),
 * and those are all newer than what was archived before.  The newest
 * hist_cap of them all stay.  0 when the ring could not be ordered (a
 * message without the room's stanza-id) and was left alone. */
static int warm_merge(muc_room_t *r, const pl_archive_page_t *page)
{
    size_t had = r->hist_len;
    int64_t first = had ? hist_key(muc_room_history_at(r, 0)) : INT64_MAX;
    if (first <= 0)
        return 0;
    muc_hist_t *kept = had ? pl_xcalloc(had, sizeof(*kept)) : NULL;
    for (size_t i = 0; i < had; i++) {
        kept[i] = *muc_room_history_at(r, i);
        kept[i].msg = pl_stanza_ref(kept[i].msg);
    }
    muc_room_history_clear(r);
    for (size_t k = 0; k < page->n; k++) {
        const pl_archive_item_t *it = &page->items[k];
        if (it->key >= first)
            break; /* archived since the start: the ring has it */
        pl_stanza_t *m = pl_stored_xml_decode(it->stanza, it->stanza_len);
        if (m)
            muc_room_history_push(r, m, it->key / 1000);
        pl_stanza_unref(&m);
    }
    for (size_t i = 0; i < had; i++) {
        muc_room_history_push(r, kept[i].msg, kept[i].at_ms);
        pl_stanza_unref(&kept[i].msg);
    }
    free(kept);
    return 1;
}

/* Back on loop 0: into the rings, in front of what they heard meanwhile
 * (a room gone meanwhile is skipped). */
static void warm_done(void *ud)
{
    warm_job_t *w = ud;
    muc_state_t *st = w->st;
    size_t filled = 0;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < w->n; i++) {
        warm_room_t *wr = &w->rooms[i];
        muc_room_t *r = pl_map_get(&st->rooms, wr->jid);
        if (wr->rc == 0 && r && wr->page.n)
            filled += (size_t)warm_merge(r, &wr->page);
    }
    pthread_mutex_unlock(&st->lock);
    pl_module_log(st->ctx, PL_LOG_INFO, "history.loaded", "rooms=%zu", filled);
    for (size_t i = 0; i < w->n; i++) {
        free(w->rooms[i].jid);
        pl_archive_page_deinit(&w->rooms[i].page);
    }
    free(w->rooms);
    free(w);
}

void muc_archive_warm(pl_module_ctx_t *ctx)
{
    muc_state_t *st = pl_module_data(ctx);
    if (st->warmed)
        return;
    st->warmed = 1;
    warm_job_t *w = pl_xcalloc(1, sizeof(*w));
    w->st = st;
    const char *k;
    void *v;
    pthread_mutex_lock(&st->lock);
    size_t cap = 0;
    for (size_t i = 0; pl_map_iter(&st->rooms, &i, &k, &v);) {
        muc_room_t *r = v;
        if (!muc_archiving(r) || !r->hist_cap)
            continue;
        if (w->n == cap) {
            cap = cap ? cap * 2 : 16;
            w->rooms = pl_xrealloc(w->rooms, cap * sizeof(*w->rooms));
        }
        w->rooms[w->n++] = (warm_room_t){.jid = pl_xstrdup(r->jid), .cap = r->hist_cap};
    }
    pthread_mutex_unlock(&st->lock);
    if (!w->n || pl_server_work(pl_module_server(ctx), warm_work, warm_done, w) != 0) {
        for (size_t i = 0; i < w->n; i++)
            free(w->rooms[i].jid);
        free(w->rooms);
        free(w);
    }
}
