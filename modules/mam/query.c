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
#include "xep/forms.h"
#include "xep/rsm.h"
#include "xep/stored-xml.h"
#include "xmpp/ns.h"

#define MAM_MAX_RESOURCES 64

/* ---- XEP-0082 date-times ---- */

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 0;
}

int mam_time_parse(const char *s, int64_t *us)
{
    int Y, M, D, h, m, sec, off = 0;
    const char *p = s;
    if (!s || digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' ||
        digits(&p, 2, &D) || *p++ != 'T' || digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m) ||
        *p++ != ':' || digits(&p, 2, &sec))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60 || Y < 1970)
        return -1;
    int64_t frac = 0, scale = 1000000;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        for (; *p >= '0' && *p <= '9'; p++)
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = Y - 1900,
                    .tm_mon = M - 1,
                    .tm_mday = D,
                    .tm_hour = h,
                    .tm_min = m,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1 || tm.tm_mday != D) /* 31 February does not exist */
        return -1;
    *us = ((int64_t)t - off) * 1000000 + frac;
    return 0;
}

void mam_time_format(int64_t us, char *buf, size_t len)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
}

/* ---- the search form ---- */

pl_hook_result_t mam_query_form(pl_hook_ctx_t *hc)
{
    if (!mam_own_request(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only the account itself may search its archive");
        return PL_DONE;
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "query", PL_NS_MAM);
    pl_form_build_begin(b, "form", PL_NS_MAM);
    pl_form_build_field(b, "with", "jid-single", NULL, NULL);
    pl_form_build_field(b, "start", "text-single", NULL, NULL);
    pl_form_build_field(b, "end", "text-single", NULL, NULL);
    pl_form_build_field(b, "before-id", "text-single", NULL, NULL);
    pl_form_build_field(b, "after-id", "text-single", NULL, NULL);
    /* 'ids' is an open list (XEP-0122): any of the archive's ids. */
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", "ids");
    pl_build_attr(b, "type", "list-multi");
    pl_build_child(b, "validate", PL_NS_DATA_VALIDATE);
    pl_build_attr(b, "datatype", "xs:string");
    pl_build_child(b, "open", PL_NS_DATA_VALIDATE);
    pl_build_up(b);
    pl_build_up(b);
    pl_build_up(b);
    pl_form_build_field(b, PL_NS_FULLTEXT_FIELD, "text-single", "Search for words", NULL);
    pl_build_up(b); /* x */
    pl_build_up(b); /* query */
    pl_reply_take(hc, pl_build_finish(b));
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
    int flip;     /* <flip-page/>: send the page's items newest first */
    /* The query, with its strings owned here. */
    pl_archive_query_t q;
    char *with, *with_resource, *fulltext;
    int64_t keys[PL_ARCHIVE_MAX_IDS];
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
    free(j->with);
    free(j->with_resource);
    free(j->fulltext);
    free(j);
}

/* Worker thread: only the archive and the job's own fields. */
static void job_work(void *ud)
{
    mam_job_t *j = ud;
    if (j->metadata)
        j->rc = pl_archive_bounds(j->archive, j->owner, &j->first, &j->last);
    else
        j->rc = pl_archive_query(j->archive, &j->q, &j->page);
}

static pl_builder_t *iq_begin(const mam_job_t *j, const char *type)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", type);
    pl_build_attr(b, "id", j->request_id);
    pl_build_attr(b, "from", j->reply_from);
    pl_build_attr(b, "to", j->res.jid->full);
    return b;
}

static void send_error(mam_job_t *j, pl_stanza_err_t cond, const char *text)
{
    pl_builder_t *b = iq_begin(j, "error");
    pl_build_child(b, "error", PL_NS_CLIENT);
    pl_build_attr(b, "type", pl_stanza_err_type(cond));
    pl_build_child(b, pl_stanza_err_name(cond), PL_NS_STANZA_ERRORS);
    pl_build_up(b);
    if (text)
        pl_build_text_child(b, "text", PL_NS_STANZA_ERRORS, text);
    pl_build_up(b);
    pl_stanza_t *st = pl_build_finish(b);
    pl_session_send_stanza(j->res.session, st);
    pl_stanza_unref(&st);
}

/* <message><result queryid id><forwarded><delay/>original</forwarded></result></message> */
static void send_item(mam_job_t *j, const pl_archive_item_t *it)
{
    pl_stanza_t *orig = pl_stored_xml_decode(it->stanza, it->stanza_len);
    if (!orig)
        return; /* a damaged record: the page goes on without it */
    char id[PL_ID_SIZE], stamp[40], mid[24];
    pl_id_format((unsigned long long)it->key, id);
    mam_time_format(it->key, stamp, sizeof(stamp));
    pl_random_id(mid, 16);
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", j->owner);
    pl_build_attr(b, "to", j->res.jid->full);
    pl_build_attr(b, "id", mid);
    pl_build_child(b, "result", PL_NS_MAM);
    if (j->queryid)
        pl_build_attr(b, "queryid", j->queryid);
    pl_build_attr(b, "id", id);
    pl_build_child(b, "forwarded", PL_NS_FORWARD);
    pl_build_child(b, "delay", PL_NS_DELAY);
    pl_build_attr(b, "stamp", stamp);
    pl_build_up(b);
    pl_build_copy(b, pl_stanza_root(orig));
    pl_build_up(b);
    pl_build_up(b);
    pl_stanza_t *st = pl_build_finish(b);
    pl_session_send_stanza(j->res.session, st);
    pl_stanza_unref(&st);
    pl_stanza_unref(&orig);
}

static void send_page(mam_job_t *j)
{
    /* A flipped page holds the same items, only sent in reverse; <first/>
     * and <last/> still name the page's oldest and newest, so the client's
     * cursors work the same either way. */
    for (size_t i = 0; i < j->page.n; i++)
        send_item(j, &j->page.items[j->flip ? j->page.n - 1 - i : i]);
    char first[PL_ID_SIZE], last[PL_ID_SIZE];
    if (j->page.n) {
        pl_id_format((unsigned long long)j->page.items[0].key, first);
        pl_id_format((unsigned long long)j->page.items[j->page.n - 1].key, last);
    }
    pl_builder_t *b = iq_begin(j, "result");
    pl_build_child(b, "fin", PL_NS_MAM);
    if (j->page.complete)
        pl_build_attr(b, "complete", "true");
    if (j->queryid)
        pl_build_attr(b, "queryid", j->queryid);
    /* The index only on forward pages: slixmpp's RSM iterator takes
     * first index + items == count as "the end" in both directions, so an
     * index on the last page would stop its backward paging at once. */
    int backward = j->q.page_before || j->q.last_page;
    pl_rsm_build(b, j->page.n ? first : NULL, backward ? -1 : j->page.first_index,
                 j->page.n ? last : NULL, j->page.count);
    pl_build_up(b);
    pl_stanza_t *st = pl_build_finish(b);
    pl_session_send_stanza(j->res.session, st);
    pl_stanza_unref(&st);
}

static void build_bound(pl_builder_t *b, const char *name, int64_t key)
{
    char id[PL_ID_SIZE], stamp[40];
    pl_id_format((unsigned long long)key, id);
    mam_time_format(key, stamp, sizeof(stamp));
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
    if (j->rc == -ENOENT)
        send_error(j, PL_ERR_ITEM_NOT_FOUND, "no message with that id in the archive");
    else if (j->rc == -ETIMEDOUT)
        send_error(j, PL_ERR_RESOURCE_CONSTRAINT, "the query took too long; narrow it down");
    else if (j->rc == -EINVAL)
        send_error(j, PL_ERR_BAD_REQUEST, "nothing to search for in the full-text field");
    else if (j->rc < 0)
        send_error(j, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
    else if (j->metadata)
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

typedef struct req_error {
    pl_stanza_err_t cond;
    const char *text;
} req_error_t;

static int fail(req_error_t *e, pl_stanza_err_t cond, const char *text)
{
    e->cond = cond;
    e->text = text;
    return -1;
}

/* An id the client names: its key, or item-not-found (an id that is not
 * one of ours names no message here). */
static int id_key(const char *id, int64_t *key, req_error_t *e)
{
    *key = (int64_t)pl_id_value(id);
    return *key > 0 ? 0 : fail(e, PL_ERR_ITEM_NOT_FOUND, "no message with that id in the archive");
}

static int apply_field(mam_job_t *j, const pl_form_field_t *f, req_error_t *e)
{
    const char *v = f->nvalues ? f->values[0] : NULL;
    pl_archive_query_t *q = &j->q;
    if (strcmp(f->var, "FORM_TYPE") == 0)
        return v && strcmp(v, PL_NS_MAM) == 0
                   ? 0
                   : fail(e, PL_ERR_BAD_REQUEST, "FORM_TYPE must be " PL_NS_MAM);
    if (strcmp(f->var, "ids") == 0) {
        if (f->nvalues > PL_ARCHIVE_MAX_IDS)
            return fail(e, PL_ERR_POLICY_VIOLATION, "too many ids in one query");
        for (size_t i = 0; i < f->nvalues; i++) {
            int64_t k = (int64_t)pl_id_value(f->values[i]);
            /* An id that is not ours matches nothing (-1 is no key). */
            j->keys[i] = k > 0 ? k : -1;
        }
        q->nkeys = f->nvalues;
        return 0;
    }
    if (!v || !v[0])
        return 0; /* an empty filter filters nothing */
    if (strcmp(f->var, "with") == 0) {
        pl_jid_t jid;
        if (pl_jid_parse(&jid, v) != 0)
            return fail(e, PL_ERR_BAD_REQUEST, "'with' is not a JID");
        j->with = pl_xstrdup(jid.bare);
        j->with_resource = jid.resource ? pl_xstrdup(jid.resource) : NULL;
        pl_jid_deinit(&jid);
        q->with = j->with;
        q->with_resource = j->with_resource;
        return 0;
    }
    if (strcmp(f->var, "start") == 0 || strcmp(f->var, "end") == 0) {
        int64_t us;
        if (mam_time_parse(v, &us) != 0)
            return fail(e, PL_ERR_BAD_REQUEST,
                        "dates are XEP-0082 date-times, e.g. 2024-05-01T10:00:00Z");
        if (f->var[0] == 's')
            q->start = us > 0 ? us : 1;
        else
            q->end = us > 0 ? us : 1;
        return 0;
    }
    if (strcmp(f->var, "after-id") == 0)
        return id_key(v, &q->after_key, e);
    if (strcmp(f->var, "before-id") == 0)
        return id_key(v, &q->before_key, e);
    if (strcmp(f->var, PL_NS_FULLTEXT_FIELD) == 0) {
        if (strlen(v) > PL_ARCHIVE_MAX_FULLTEXT)
            return fail(e, PL_ERR_POLICY_VIOLATION, "the search text is too long");
        j->fulltext = pl_xstrdup(v);
        q->fulltext = j->fulltext;
        return 0;
    }
    /* A filter we would silently ignore would return the wrong messages;
     * XEP-0313 names the error for a field the server does not know. */
    return fail(e, PL_ERR_FEATURE_NOT_IMPLEMENTED, "unsupported filter field");
}

static int read_form(mam_job_t *j, const pl_xml_t *x, req_error_t *e)
{
    if (!x)
        return 0;
    pl_form_t form;
    if (pl_form_parse(x, &form) != 0)
        return fail(e, PL_ERR_BAD_REQUEST, "malformed data form");
    int rc = 0;
    const char *type = form.type;
    if (strcmp(type, "submit") != 0 && strcmp(type, "") != 0)
        rc = fail(e, PL_ERR_BAD_REQUEST, "the form must be of type submit");
    for (size_t i = 0; rc == 0 && i < form.nfields; i++)
        rc = apply_field(j, &form.fields[i], e);
    pl_form_deinit(&form);
    return rc;
}

static int read_rsm(mam_job_t *j, const pl_xml_t *set, const mam_conf_t *conf, req_error_t *e)
{
    pl_rsm_t rsm;
    if (pl_rsm_parse(set, (size_t)conf->default_page, (size_t)conf->max_page, &rsm) != 0)
        return fail(e, PL_ERR_BAD_REQUEST, "malformed result set request");
    pl_archive_query_t *q = &j->q;
    q->max = rsm.max;
    if (rsm.has_after && id_key(rsm.after, &q->page_after, e) != 0)
        return -1;
    if (rsm.has_before) {
        if (!rsm.before[0])
            q->last_page = 1;
        else if (id_key(rsm.before, &q->page_before, e) != 0)
            return -1;
    }
    q->has_index = rsm.has_index;
    q->index = rsm.index;
    return 0;
}

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
    j->q.owner = j->owner;
    j->q.keys = j->keys;
    j->q.budget_ms = (unsigned)conf->query_timeout;
    req_error_t e = {0};
    if (read_form(j, pl_xml_child(hc->payload, "x", PL_NS_DATA_FORMS), &e) != 0 ||
        read_rsm(j, pl_xml_child(hc->payload, "set", PL_NS_RSM), conf, &e) != 0) {
        pl_reply_error(hc, e.cond, e.text);
        job_free(&j);
        return PL_DONE;
    }
    j->flip = pl_xml_child(hc->payload, "flip-page", PL_NS_MAM) != NULL;
    job_submit(hc, j);
    return PL_DONE;
}
