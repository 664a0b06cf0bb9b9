/* query.c — XEP-0313 queries: the search form, paged queries with data
 * form filters and XEP-0059 paging, and #extended metadata.  The request is
 * checked on the loop, the archive is read on a worker thread
 * (pl_server_work), and the results go back to the asking session in order:
 * one <message><result/></message> per item, then the <fin/> IQ. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/server.h"
#include "lib/util.h"
#include "modules/mam/mam-private.h"
#include "xep/mam-query.h"
#include "xmpp/ns.h"

#define MAM_MAX_RESOURCES 64

/* ---- the search form ---- */

pl_hook_result_t mam_query_form(pl_hook_ctx_t *hc)
{
    if (!mam_own_request(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only the account itself may search its archive");
        return PL_DONE;
    }
    pl_reply_take(hc, pl_mam_form_reply(hc->id, 1));
    return PL_DONE;
}

/* ---- the job ---- */

typedef struct mam_job {
    pl_server_t *server;
    pl_archive_t *archive;
    pl_resource_t res;   /* the asking session (a reference) */
    mam_session_t *slot; /* its counter of queries in flight */
    char *owner, *reply_from, *request_id, *queryid;
    int metadata; /* a <metadata/> request rather than a query */
    pl_mam_req_t req; /* the query, with its strings owned here */
    /* The answer. */
    int rc;
    pl_archive_page_t page;
    int64_t first, last; /* metadata */
} mam_job_t;

static void job_free(mam_job_t **jp)
{
    mam_job_t *j = *jp;
    if (!j)
        return;
    *jp = NULL;
    pl_archive_page_deinit(&j->page);
    pl_resources_release(&j->res, j->res.session ? 1 : 0);
    free(j->owner);
    free(j->reply_from);
    free(j->request_id);
    free(j->queryid);
    pl_mam_req_deinit(&j->req);
    free(j);
}

/* Worker thread: only the archive and the job's own fields. */
static void job_work(void *ud)
{
    mam_job_t *j = ud;
    if (j->metadata)
        j->rc = pl_archive_bounds(j->archive, j->owner, &j->first, &j->last);
    else
        j->rc = pl_archive_query(j->archive, &j->req.q, &j->page);
}

static pl_builder_t *iq_begin(const mam_job_t *j, const char *type)
{
    return pl_mam_iq_begin(type, j->request_id, j->reply_from, j->res.jid->full);
}

static void send_page(mam_job_t *j)
{
    for (size_t i = 0; i < j->page.n; i++) {
        const pl_archive_item_t *it = &j->page.items[j->req.flip ? j->page.n - 1 - i : i];
        pl_stanza_t *st = pl_mam_result(j->owner, j->res.jid->full, j->queryid, it);
        if (!st)
            continue; /* a damaged record: the page goes on without it */
        pl_session_send_stanza(j->res.session, st);
        pl_stanza_unref(&st);
    }
    pl_builder_t *b = iq_begin(j, "result");
    pl_mam_fin(b, &j->req, &j->page, j->queryid);
    pl_stanza_t *st = pl_build_finish(b);
    pl_session_send_stanza(j->res.session, st);
    pl_stanza_unref(&st);
}

static void build_bound(pl_builder_t *b, const char *name, int64_t key)
{
    char id[PL_ID_SIZE], stamp[40];
    pl_id_format((unsigned long long)key, id);
    pl_mam_time_format(key, stamp, sizeof(stamp));
    pl_build_child(b, name, PL_NS_MAM);
    pl_build_attr(b, "id", id);
    pl_build_attr(b, "timestamp", stamp);
    pl_build_up(b);
}

static void send_metadata(mam_job_t *j)
{
    pl_builder_t *b = iq_begin(j, "result");
    pl_build_child(b, "metadata", PL_NS_MAM);
    if (j->rc == 1) {
        build_bound(b, "start", j->first);
        build_bound(b, "end", j->last);
    }
    pl_build_up(b);
    pl_stanza_t *st = pl_build_finish(b);
    pl_session_send_stanza(j->res.session, st);
    pl_stanza_unref(&st);
}

/* On the asking session's loop. */
static void job_done(void *ud)
{
    mam_job_t *j = ud;
    j->slot->queries--;
    if (j->rc < 0) {
        const char *text;
        pl_stanza_err_t cond = pl_mam_query_error(j->rc, &text);
        pl_stanza_t *st =
            pl_mam_iq_error(j->request_id, j->reply_from, j->res.jid->full, cond, text);
        pl_session_send_stanza(j->res.session, st);
        pl_stanza_unref(&st);
    } else if (j->metadata)
        send_metadata(j);
    else
        send_page(j);
    job_free(&j);
}

/* A job for the asking session, holding a reference to it; NULL (after an
 * error reply) when it cannot take another query. */
static mam_job_t *job_new(pl_hook_ctx_t *hc)
{
    mam_session_t *slot = pl_module_session_state(hc->module, hc->session);
    if (slot->queries >= MAM_MAX_QUERIES_PER_SESSION) {
        pl_reply_error(hc, PL_ERR_RESOURCE_CONSTRAINT, "wait for your other archive queries");
        return NULL;
    }
    pl_resource_t res[MAM_MAX_RESOURCES];
    size_t n = pl_server_resources(hc->server, hc->from->bare, res, MAM_MAX_RESOURCES);
    mam_job_t *j = pl_xcalloc(1, sizeof(*j));
    for (size_t i = 0; i < n; i++) {
        if (res[i].session == hc->session && !j->res.session)
            j->res = res[i];
        else
            pl_resources_release(&res[i], 1);
    }
    if (!j->res.session) {
        free(j);
        return NULL; /* the session is going away: nobody to answer */
    }
    mam_mod_t *m = pl_module_data(hc->module);
    const char *to = pl_stanza_attr(hc->stanza, "to");
    j->server = hc->server;
    j->archive = m->archive;
    j->slot = slot;
    j->owner = pl_xstrdup(hc->from->bare);
    j->reply_from = pl_xstrdup(to ? to : hc->from->bare);
    j->request_id = pl_xstrdup(hc->id);
    const char *queryid = pl_xml_attr(hc->payload, "queryid");
    j->queryid = queryid ? pl_xstrndup(queryid, 256) : NULL;
    return j;
}

static void job_submit(pl_hook_ctx_t *hc, mam_job_t *j)
{
    j->slot->queries++;
    if (pl_server_work(hc->server, job_work, job_done, j) != 0) {
        j->slot->queries--;
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        job_free(&j);
    }
}

pl_hook_result_t mam_metadata(pl_hook_ctx_t *hc)
{
    if (!mam_own_request(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only the account itself may read its archive");
        return PL_DONE;
    }
    mam_job_t *j = job_new(hc);
    if (j) {
        j->metadata = 1;
        job_submit(hc, j);
    }
    return PL_DONE;
}

/* ---- reading the request ---- */

pl_hook_result_t mam_query(pl_hook_ctx_t *hc)
{
    if (!mam_own_request(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only the account itself may read its archive");
        return PL_DONE;
    }
    const mam_conf_t *conf = pl_module_conf(hc->module);
    mam_job_t *j = job_new(hc);
    if (!j)
        return PL_DONE;
    pl_stanza_err_t cond;
    const char *text;
    if (pl_mam_req_read(&j->req, hc->payload, (size_t)conf->default_page, (size_t)conf->max_page,
                        &cond, &text) != 0) {
        pl_reply_error(hc, cond, text);
        job_free(&j);
        return PL_DONE;
    }
    j->req.q.owner = j->owner;
    j->req.q.budget_ms = (unsigned)conf->query_timeout;
    job_submit(hc, j);
    return PL_DONE;
}
