/* mam-query.c — what an account's archive (modules/mam) and a room's
 * (modules/muc) share of XEP-0313: the write job, date-times, the query's
 * filters and paging read into an archive query, and the answer's
 * elements. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/server.h"
#include "lib/util.h"
#include "xep/forms.h"
#include "xep/mam-query.h"
#include "xep/rsm.h"
#include "xep/stored-xml.h"
#include "xmpp/ns.h"

/* ---- storing ---- */

typedef struct store_job {
    char *owner, *peer, *peer_resource;
    int64_t key;
    pl_archive_dir_t dir;
    pl_buf_t stanza, body;
} store_job_t;

static void store_free(store_job_t **wp)
{
    store_job_t *w = *wp;
    if (!w)
        return;
    *wp = NULL;
    free(w->owner);
    free(w->peer);
    free(w->peer_resource);
    pl_buf_deinit(&w->stanza);
    pl_buf_deinit(&w->body);
    free(w);
}

/* The job owns its data and frees it here: run executes for every
 * accepted job, while done is dropped when the loop's port closes first. */
static int store_run(pl_wtxn_t *txn, void *ud)
{
    store_job_t *w = ud;
    pl_archive_msg_t msg = {
        .owner = w->owner,
        .key = w->key,
        .peer = w->peer,
        .peer_resource = w->peer_resource,
        .dir = w->dir,
        .stanza = w->stanza.data,
        .stanza_len = w->stanza.len,
        .body = w->body.len ? w->body.data : NULL,
        .body_len = w->body.len,
    };
    int rc = pl_archive_insert(txn, &msg);
    store_free(&w);
    return rc;
}

static void store_done(void *ud, int status)
{
    (void)ud; /* freed by store_run */
    (void)status;
}

int pl_mam_store(pl_server_t *srv, const char *owner, int64_t key, const char *peer,
                 const char *peer_resource, pl_archive_dir_t dir, const pl_stanza_t *st)
{
    store_job_t *w = pl_xcalloc(1, sizeof(*w));
    w->owner = pl_xstrdup(owner);
    w->peer = pl_xstrdup(peer);
    w->peer_resource = peer_resource ? pl_xstrdup(peer_resource) : NULL;
    w->key = key;
    w->dir = dir;
    pl_buf_init(&w->stanza);
    pl_buf_init(&w->body);
    pl_stored_xml_encode(pl_stanza_root(st), &w->stanza);
    pl_xml_child_text(pl_stanza_root(st), "body", PL_NS_CLIENT, &w->body);
    int rc = pl_server_write(srv, store_run, store_done, w);
    if (rc != 0)
        store_free(&w);
    return rc;
}

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

int pl_mam_time_parse(const char *s, int64_t *us)
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

void pl_mam_time_format(int64_t us, char *buf, size_t len)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
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

static int apply_field(pl_mam_req_t *j, const pl_form_field_t *f, req_error_t *e)
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
        if (pl_mam_time_parse(v, &us) != 0)
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
    if (strcmp(f->var, "include-groupchat") == 0) {
        /* XEP-0313 §4.1.4 (0.8): a user archive's groupchat messages,
         * left out unless asked for. */
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            q->include_groupchat = 1;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            q->include_groupchat = 0;
        else
            return fail(e, PL_ERR_BAD_REQUEST, "include-groupchat is a boolean");
        return 0;
    }
    if (strcmp(f->var, PL_MAM_FULLTEXT_FIELD) == 0) {
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

static int read_form(pl_mam_req_t *j, const pl_xml_t *x, req_error_t *e)
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

static int read_rsm(pl_mam_req_t *j, const pl_xml_t *set, size_t default_page, size_t max_page,
                    req_error_t *e)
{
    pl_rsm_t rsm;
    if (pl_rsm_parse(set, default_page, max_page, &rsm) != 0)
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

int pl_mam_req_read(pl_mam_req_t *r, const pl_xml_t *query, size_t default_page, size_t max_page,
                    pl_stanza_err_t *cond, const char **text)
{
    r->q.keys = r->keys;
    req_error_t e = {0};
    if (read_form(r, pl_xml_child(query, "x", PL_NS_DATA_FORMS), &e) != 0 ||
        read_rsm(r, pl_xml_child(query, "set", PL_NS_RSM), default_page, max_page, &e) != 0) {
        *cond = e.cond;
        *text = e.text;
        return -1;
    }
    r->flip = pl_xml_child(query, "flip-page", PL_NS_MAM) != NULL;
    return 0;
}

void pl_mam_req_deinit(pl_mam_req_t *r)
{
    free(r->with);
    free(r->with_resource);
    free(r->fulltext);
    r->with = r->with_resource = r->fulltext = NULL;
}

/* ---- the answer ---- */

pl_stanza_t *pl_mam_result(const char *from, const char *to, const char *queryid,
                           const pl_archive_item_t *it)
{
    pl_stanza_t *orig = pl_stored_xml_decode(it->stanza, it->stanza_len);
    if (!orig)
        return NULL;
    char id[PL_ID_SIZE], stamp[40], mid[24];
    pl_id_format((unsigned long long)it->key, id);
    pl_mam_time_format(it->key, stamp, sizeof(stamp));
    pl_random_id(mid, 16);
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", from);
    pl_build_attr(b, "to", to);
    pl_build_attr(b, "id", mid);
    pl_build_child(b, "result", PL_NS_MAM);
    if (queryid)
        pl_build_attr(b, "queryid", queryid);
    pl_build_attr(b, "id", id);
    pl_build_child(b, "forwarded", PL_NS_FORWARD);
    pl_build_child(b, "delay", PL_NS_DELAY);
    pl_build_attr(b, "stamp", stamp);
    pl_build_up(b);
    pl_build_copy(b, pl_stanza_root(orig));
    pl_build_up(b);
    pl_build_up(b);
    pl_stanza_unref(&orig);
    return pl_build_finish(b);
}

void pl_mam_fin(pl_builder_t *b, const pl_mam_req_t *r, const pl_archive_page_t *page,
                const char *queryid)
{
    /* A flipped page holds the same items, only sent in reverse; <first/>
     * and <last/> still name the page's oldest and newest, so the client's
     * cursors work the same either way. */
    char first[PL_ID_SIZE], last[PL_ID_SIZE];
    if (page->n) {
        pl_id_format((unsigned long long)page->items[0].key, first);
        pl_id_format((unsigned long long)page->items[page->n - 1].key, last);
    }
    pl_build_child(b, "fin", PL_NS_MAM);
    if (page->complete)
        pl_build_attr(b, "complete", "true");
    if (queryid)
        pl_build_attr(b, "queryid", queryid);
    /* The index only on forward pages: slixmpp's RSM iterator takes
     * first index + items == count as "the end" in both directions, so an
     * index on the last page would stop its backward paging at once. */
    int backward = r->q.page_before || r->q.last_page;
    pl_rsm_build(b, page->n ? first : NULL, backward ? -1 : page->first_index,
                 page->n ? last : NULL, page->count);
    pl_build_up(b);
}

pl_builder_t *pl_mam_iq_begin(const char *type, const char *id, const char *from, const char *to)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", type);
    pl_build_attr(b, "id", id);
    pl_build_attr(b, "from", from);
    pl_build_attr(b, "to", to);
    return b;
}

pl_stanza_t *pl_mam_iq_error(const char *id, const char *from, const char *to, pl_stanza_err_t cond,
                             const char *text)
{
    pl_builder_t *b = pl_mam_iq_begin("error", id, from, to);
    pl_build_child(b, "error", PL_NS_CLIENT);
    pl_build_attr(b, "type", pl_stanza_err_type(cond));
    pl_build_child(b, pl_stanza_err_name(cond), PL_NS_STANZA_ERRORS);
    pl_build_up(b);
    if (text)
        pl_build_text_child(b, "text", PL_NS_STANZA_ERRORS, text);
    pl_build_up(b);
    return pl_build_finish(b);
}

pl_stanza_err_t pl_mam_query_error(int rc, const char **text)
{
    *text = NULL;
    switch (rc) {
    case -ENOENT: *text = "no message with that id in the archive"; return PL_ERR_ITEM_NOT_FOUND;
    case -ETIMEDOUT:
        *text = "the query took too long; narrow it down";
        return PL_ERR_RESOURCE_CONSTRAINT;
    case -EINVAL: *text = "nothing to search for in the full-text field"; return PL_ERR_BAD_REQUEST;
    default: return PL_ERR_INTERNAL_SERVER_ERROR;
    }
}

pl_stanza_t *pl_mam_form_reply(const char *id, int groupchat_field)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", id);
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
    pl_form_build_field(b, PL_MAM_FULLTEXT_FIELD, "text-single", "Search for words", NULL);
    if (groupchat_field)
        pl_form_build_field(b, "include-groupchat", "boolean", NULL, NULL);
    pl_build_up(b); /* x */
    pl_build_up(b); /* query */
    return pl_build_finish(b);
}
