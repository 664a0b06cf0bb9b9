/* pubsub.c — the XEP-0060 requests a PEP service answers: publish (with
 * auto-create and publish-options), retract, create, items; and the owner's
 * configure, delete and purge.  Every change is one storage write job that
 * re-reads the node inside the transaction, so concurrent requests from
 * several loops cannot lose updates; the client's answer and the
 * notifications go out after the commit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/pep/pep-private.h"
#include "xep/stored-xml.h"
#include "xmpp/ns.h"

#define ITEMS_ANSWER_BUDGET (2u * 1024 * 1024) /* payload bytes in one items answer */

typedef enum job_kind {
    JOB_PUBLISH = 1,
    JOB_RETRACT,
    JOB_CREATE,
    JOB_CONFIGURE,
    JOB_DELETE,
    JOB_PURGE,
} job_kind_t;

typedef struct job {
    job_kind_t kind;
    pep_state_t *st;
    char *owner, *node, *item_id;
    char *reply_from, *reply_to, *iq_id;
    pl_buf_t xml;         /* publish: the serialised payload */
    pl_stanza_t *payload; /* publish: a reference to the stanza holding it */
    const pl_xml_t *payload_el;
    pep_options_t opts;
    int have_opts;
    int notify;           /* retract: notify='true' */
    pep_node_conf_t conf; /* the node's configuration after the job */
} job_t;

/* ---- errors ---- */

static pl_stanza_t *error_stanza(const char *id, pl_stanza_err_t cond, const char *app,
                                 const char *app_attr, const char *text)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "error");
    pl_build_attr(b, "id", id);
    pl_build_child(b, "error", PL_NS_CLIENT);
    pl_build_attr(b, "type", pl_stanza_err_type(cond));
    pl_build_child(b, pl_stanza_err_name(cond), PL_NS_STANZA_ERRORS);
    pl_build_up(b);
    if (app) {
        pl_build_child(b, app, PEP_NS_ERRORS);
        if (app_attr)
            pl_build_attr(b, "feature", app_attr);
        pl_build_up(b);
    }
    if (text) {
        pl_build_child(b, "text", PL_NS_STANZA_ERRORS);
        pl_build_attr(b, "xml:lang", "en");
        pl_build_text(b, text, strlen(text));
        pl_build_up(b);
    }
    return pl_build_finish(b);
}

static pl_hook_result_t fail(pl_hook_ctx_t *hc, pl_stanza_err_t cond, const char *app,
                             const char *text)
{
    pl_reply_take(hc, error_stanza(hc->id, cond, app, NULL, text));
    return PL_DONE;
}

static pl_hook_result_t unsupported(pl_hook_ctx_t *hc, const char *feature)
{
    pl_reply_take(
        hc, error_stanza(hc->id, PL_ERR_FEATURE_NOT_IMPLEMENTED, "unsupported", feature, NULL));
    return PL_DONE;
}

/* ---- checks ---- */

static pep_state_t *state_of(pl_hook_ctx_t *hc)
{
    return pl_module_data(hc->module);
}

/* The service addressed: the account in 'to', or the sender's own. */
static const char *service_of(const pl_hook_ctx_t *hc)
{
    return hc->to->local ? hc->to->bare : hc->from->bare;
}

static int name_ok(const char *s, size_t max)
{
    if (!s || !*s || strlen(s) > max)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20)
            return 0;
    return 1;
}

/* ---- jobs ---- */

static job_t *job_new(pl_hook_ctx_t *hc, job_kind_t kind, const char *node)
{
    job_t *j = pl_xcalloc(1, sizeof(*j));
    j->kind = kind;
    j->st = state_of(hc);
    j->owner = pl_xstrdup(service_of(hc));
    j->node = pl_xstrdup(node);
    const char *to = pl_stanza_attr(hc->stanza, "to");
    j->reply_from = pl_xstrdup(to ? to : hc->from->bare);
    j->reply_to = pl_xstrdup(hc->from->full);
    j->iq_id = pl_xstrdup(hc->id);
    pl_buf_init(&j->xml);
    return j;
}

static void job_free(job_t **jp)
{
    job_t *j = *jp;
    if (!j)
        return;
    *jp = NULL;
    free(j->owner);
    free(j->node);
    free(j->item_id);
    free(j->reply_from);
    free(j->reply_to);
    free(j->iq_id);
    pl_buf_deinit(&j->xml);
    pl_stanza_unref(&j->payload);
    free(j);
}

static void job_send(job_t *j, pl_stanza_t *st)
{
    pl_stanza_t *addressed = pl_stanza_readdress(st, j->reply_from, j->reply_to);
    pl_stanza_unref(&st);
    pl_route_take(pl_module_server(j->st->ctx), addressed);
}

static void job_reply_result(job_t *j, int with_publish)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", j->iq_id);
    if (with_publish) {
        pl_build_child(b, "pubsub", PL_NS_PUBSUB);
        pl_build_child(b, "publish", PL_NS_PUBSUB);
        pl_build_attr(b, "node", j->node);
        pl_build_child(b, "item", PL_NS_PUBSUB);
        pl_build_attr(b, "id", j->item_id);
    }
    job_send(j, pl_build_finish(b));
}

static void job_reply_status(job_t *j, int status)
{
    pl_stanza_err_t cond = PL_ERR_INTERNAL_SERVER_ERROR;
    const char *app = NULL, *text = NULL;
    switch (status) {
    case -EDQUOT:
        cond = PL_ERR_POLICY_VIOLATION;
        app = "max-nodes-exceeded";
        text = "too many nodes";
        break;
    case -ECANCELED:
        cond = PL_ERR_CONFLICT;
        app = "precondition-not-met";
        break;
    case -ENOENT: cond = PL_ERR_ITEM_NOT_FOUND; break;
    case -EEXIST:
        cond = PL_ERR_CONFLICT;
        text = "the node exists";
        break;
    default:
        pl_module_log(j->st->ctx, PL_LOG_ERROR, "write_failed", "owner=%s node=%s status=%d",
                      j->owner, j->node, status);
    }
    job_send(j, error_stanza(j->iq_id, cond, app, NULL, text));
}

/* Deletes the items whose ids were dropped from a node. */
static int drop_items(pl_wtxn_t *txn, job_t *j, char **ids, size_t n)
{
    pep_node_t tmp = {.ids = ids, .nids = n};
    return pep_items_delete_all(txn, j->st, j->owner, j->node, &tmp);
}

/* Trims a node to its max_items (and to nothing when not persistent). */
static int trim(pl_wtxn_t *txn, job_t *j, pep_node_t *n)
{
    long keep = n->conf.persist ? n->conf.max_items : 0;
    if ((long)n->nids <= keep)
        return 0;
    size_t drop = n->nids - (size_t)keep;
    int rc = drop_items(txn, j, n->ids, drop);
    for (size_t i = 0; i < drop; i++)
        free(n->ids[i]);
    memmove(n->ids, n->ids + drop, (n->nids - drop) * sizeof(char *));
    n->nids -= drop;
    return rc;
}

static int run_publish(pl_wtxn_t *txn, job_t *j, pep_node_t *n, int found)
{
    const pep_conf_t *conf = j->st->conf;
    if (!found) {
        if (j->have_opts)
            pep_options_apply(&j->opts, &n->conf);
        int rc = pep_count_add(txn, j->st, j->owner, +1, (long)conf->max_nodes);
        if (rc < 0)
            return rc;
    } else if (j->have_opts && !pep_options_match(&j->opts, &n->conf)) {
        return -ECANCELED;
    }
    if (n->conf.persist) {
        pl_buf_t k;
        pl_buf_init(&k);
        int rc = pep_item_key(&k, j->owner, j->node, j->item_id) == 0
                     ? pl_kv_put(txn, j->st->items, k.data, k.len, j->xml.data, j->xml.len)
                     : -EINVAL;
        pl_buf_deinit(&k);
        if (rc < 0)
            return rc;
        char **dropped;
        size_t ndropped;
        pep_node_push_id(n, j->item_id, n->conf.max_items, &dropped, &ndropped);
        rc = drop_items(txn, j, dropped, ndropped);
        pep_strings_free(&dropped, ndropped);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int run_job(pl_wtxn_t *txn, void *ud)
{
    job_t *j = ud;
    pep_node_t n;
    int found = pep_node_txn_get(txn, j->st, j->owner, j->node, &n);
    int rc = found < 0 ? found : 0;
    if (rc == 0) {
        switch (j->kind) {
        case JOB_PUBLISH: rc = run_publish(txn, j, &n, found); break;
        case JOB_CREATE:
            if (found) {
                rc = -EEXIST;
            } else {
                if (j->have_opts)
                    pep_options_apply(&j->opts, &n.conf);
                rc = pep_count_add(txn, j->st, j->owner, +1, (long)j->st->conf->max_nodes);
            }
            break;
        case JOB_RETRACT:
            if (!found || !pep_node_remove_id(&n, j->item_id)) {
                rc = -ENOENT;
            } else {
                pl_buf_t k;
                pl_buf_init(&k);
                if (pep_item_key(&k, j->owner, j->node, j->item_id) == 0)
                    rc = pl_kv_del(txn, j->st->items, k.data, k.len);
                pl_buf_deinit(&k);
            }
            break;
        case JOB_CONFIGURE:
            if (!found) {
                rc = -ENOENT;
            } else {
                pep_options_apply(&j->opts, &n.conf);
                rc = trim(txn, j, &n);
            }
            break;
        case JOB_PURGE:
            if (!found) {
                rc = -ENOENT;
            } else {
                rc = pep_items_delete_all(txn, j->st, j->owner, j->node, &n);
                pep_strings_free(&n.ids, n.nids);
                n.nids = 0;
            }
            break;
        case JOB_DELETE:
            if (!found) {
                rc = -ENOENT;
            } else {
                rc = pep_items_delete_all(txn, j->st, j->owner, j->node, &n);
                pl_buf_t k;
                pl_buf_init(&k);
                if (rc >= 0 && pep_node_key(&k, j->owner, j->node) == 0)
                    rc = pl_kv_del(txn, j->st->nodes, k.data, k.len);
                pl_buf_deinit(&k);
                if (rc >= 0)
                    rc = pep_count_add(txn, j->st, j->owner, -1, 0);
            }
            break;
        }
    }
    if (rc >= 0 && j->kind != JOB_DELETE)
        rc = pep_node_put(txn, j->st, j->owner, j->node, &n);
    j->conf = n.conf;
    pep_node_clear(&n);
    return rc < 0 ? rc : 0;
}

/* An <event/> with one child under it: <delete node/>, <purge node/>, or
 * <items node><retract id/></items>. */
static pl_stanza_t *simple_event(const char *what, const char *node, const char *retract_id)
{
    pl_builder_t *b = pl_build_new("event", PEP_NS_EVENT);
    pl_build_child(b, what, PEP_NS_EVENT);
    pl_build_attr(b, "node", node);
    if (retract_id) {
        pl_build_child(b, "retract", PEP_NS_EVENT);
        pl_build_attr(b, "id", retract_id);
    }
    return pl_build_finish(b);
}

static void job_done(void *ud, int status)
{
    job_t *j = ud;
    if (status != 0) {
        job_reply_status(j, status);
        goto out;
    }
    job_reply_result(j, j->kind == JOB_PUBLISH);
    pl_stanza_t *ev = NULL;
    switch (j->kind) {
    case JOB_PUBLISH: ev = pep_event_item(j->node, j->item_id, j->payload_el); break;
    case JOB_RETRACT:
        if (j->notify)
            ev = simple_event("items", j->node, j->item_id);
        break;
    case JOB_DELETE: ev = simple_event("delete", j->node, NULL); break;
    case JOB_PURGE: ev = simple_event("purge", j->node, NULL); break;
    default: break;
    }
    if (ev) {
        pep_notify(j->st, j->owner, j->node, j->conf.access, pl_stanza_root(ev));
        pl_stanza_unref(&ev);
    }
out:
    job_free(&j);
}

static pl_hook_result_t job_submit(pl_hook_ctx_t *hc, job_t *j)
{
    if (pl_server_write(hc->server, run_job, job_done, j) != 0) {
        job_free(&j);
        return fail(hc, PL_ERR_RESOURCE_CONSTRAINT, NULL, "the server is busy");
    }
    return PL_DONE;
}

/* ---- requests ---- */

/* Reads an optional data form inside `parent` (publish-options or
 * configure).  0 none or valid, -1 invalid (answered). */
static int read_options(pl_hook_ctx_t *hc, const pl_xml_t *parent, const char *form_type, job_t *j)
{
    const pl_xml_t *x = parent ? pl_xml_child(parent, "x", PL_NS_DATA_FORMS) : NULL;
    if (!x)
        return 0;
    if (pep_options_parse(x, form_type, (long)j->st->conf->max_items, &j->opts) != 0) {
        fail(hc, PL_ERR_BAD_REQUEST, "invalid-options", "the options form is not valid");
        return -1;
    }
    j->have_opts = 1;
    return 0;
}

static int must_own(pl_hook_ctx_t *hc)
{
    if (strcmp(service_of(hc), hc->from->bare) == 0)
        return 1;
    fail(hc, PL_ERR_FORBIDDEN, NULL, "only the owner may change this service");
    return 0;
}

static pl_hook_result_t do_publish(pl_hook_ctx_t *hc, const pl_xml_t *pub, const pl_xml_t *po)
{
    pep_state_t *st = state_of(hc);
    const char *node = pl_xml_attr(pub, "node");
    if (!must_own(hc))
        return PL_DONE;
    if (!name_ok(node, PEP_MAX_NODE_NAME))
        return fail(hc, PL_ERR_BAD_REQUEST, "nodeid-required", "a node name is required");
    const pl_xml_t *item = pl_xml_child(pub, "item", PL_NS_PUBSUB);
    if (!item)
        return fail(hc, PL_ERR_BAD_REQUEST, "item-required", NULL);
    const pl_xml_t *payload = pl_xml_first_element(item);
    if (pl_xml_next(item, "item", PL_NS_PUBSUB) || (payload && pl_xml_next(payload, NULL, NULL)))
        return fail(hc, PL_ERR_BAD_REQUEST, "invalid-payload", "one item with one payload");
    if (!payload)
        return fail(hc, PL_ERR_BAD_REQUEST, "payload-required", NULL);
    const char *id = pl_xml_attr(item, "id");
    char generated[25];
    if (!id || !*id) {
        pl_random_id(generated, 24);
        id = generated;
    }
    if (!name_ok(id, PEP_MAX_ITEM_ID))
        return fail(hc, PL_ERR_BAD_REQUEST, NULL, "the item id is not acceptable");
    job_t *j = job_new(hc, JOB_PUBLISH, node);
    j->item_id = pl_xstrdup(id);
    if (read_options(hc, po, PL_NS_PUBSUB_PUBLISH_OPTIONS, j) != 0) {
        job_free(&j);
        return PL_DONE;
    }
    pl_stored_xml_encode(payload, &j->xml);
    pl_buf_t k;
    pl_buf_init(&k);
    int key_ok = pep_item_key(&k, j->owner, node, id) == 0;
    pl_buf_deinit(&k);
    if ((long long)j->xml.len > st->conf->max_item_size) {
        job_free(&j);
        return fail(hc, PL_ERR_NOT_ACCEPTABLE, "payload-too-big", "the item is too large");
    }
    if (!key_ok) {
        job_free(&j);
        return fail(hc, PL_ERR_NOT_ACCEPTABLE, NULL, "node name and item id are too long");
    }
    j->payload = pl_stanza_ref(hc->stanza);
    j->payload_el = payload;
    return job_submit(hc, j);
}

static pl_hook_result_t do_retract(pl_hook_ctx_t *hc, const pl_xml_t *ret)
{
    const char *node = pl_xml_attr(ret, "node");
    if (!must_own(hc))
        return PL_DONE;
    if (!name_ok(node, PEP_MAX_NODE_NAME))
        return fail(hc, PL_ERR_BAD_REQUEST, "nodeid-required", NULL);
    const pl_xml_t *item = pl_xml_child(ret, "item", PL_NS_PUBSUB);
    const char *id = item ? pl_xml_attr(item, "id") : NULL;
    if (!name_ok(id, PEP_MAX_ITEM_ID))
        return fail(hc, PL_ERR_BAD_REQUEST, "item-required", NULL);
    job_t *j = job_new(hc, JOB_RETRACT, node);
    j->item_id = pl_xstrdup(id);
    const char *notify = pl_xml_attr(ret, "notify");
    j->notify = notify && (!strcmp(notify, "true") || !strcmp(notify, "1"));
    return job_submit(hc, j);
}

static pl_hook_result_t do_create(pl_hook_ctx_t *hc, const pl_xml_t *create,
                                  const pl_xml_t *configure)
{
    const char *node = pl_xml_attr(create, "node");
    if (!must_own(hc))
        return PL_DONE;
    if (!name_ok(node, PEP_MAX_NODE_NAME))
        return fail(hc, PL_ERR_NOT_ACCEPTABLE, "nodeid-required", "PEP nodes have names");
    job_t *j = job_new(hc, JOB_CREATE, node);
    if (read_options(hc, configure, PEP_FORM_NODE_CONFIG, j) != 0) {
        job_free(&j);
        return PL_DONE;
    }
    return job_submit(hc, j);
}

pl_hook_result_t pep_pubsub_set(pl_hook_ctx_t *hc)
{
    const pl_xml_t *ps = hc->payload, *e;
    if ((e = pl_xml_child(ps, "publish", PL_NS_PUBSUB)))
        return do_publish(hc, e, pl_xml_child(ps, "publish-options", PL_NS_PUBSUB));
    if ((e = pl_xml_child(ps, "retract", PL_NS_PUBSUB)))
        return do_retract(hc, e);
    if ((e = pl_xml_child(ps, "create", PL_NS_PUBSUB)))
        return do_create(hc, e, pl_xml_child(ps, "configure", PL_NS_PUBSUB));
    if (pl_xml_child(ps, "subscribe", PL_NS_PUBSUB))
        return unsupported(hc, "subscribe");
    return fail(hc, PL_ERR_BAD_REQUEST, NULL, "unknown pubsub request");
}

/* Adds the node's items (the newest that fit the answer budget, in publish
 * order) — all, the last max_items, or those named. */
static void add_items(pep_state_t *st, pl_builder_t *b, const char *owner, const char *node,
                      const pep_node_t *n, const pl_xml_t *items_req)
{
    const char *max_s = pl_xml_attr(items_req, "max_items");
    long max = max_s ? strtol(max_s, NULL, 10) : 0;
    int named = pl_xml_child(items_req, "item", PL_NS_PUBSUB) != NULL;
    pl_stanza_t **found = pl_xcalloc(n->nids ? n->nids : 1, sizeof(pl_stanza_t *));
    size_t budget = ITEMS_ANSWER_BUDGET, taken = 0;
    for (size_t i = n->nids; i-- > 0;) {
        if (max > 0 && (long)taken >= max)
            break;
        if (named) {
            int wanted = 0;
            for (const pl_xml_t *it = pl_xml_child(items_req, "item", PL_NS_PUBSUB); it;
                 it = pl_xml_next(it, "item", PL_NS_PUBSUB)) {
                const char *id = pl_xml_attr(it, "id");
                if (id && strcmp(id, n->ids[i]) == 0)
                    wanted = 1;
            }
            if (!wanted)
                continue;
        }
        pl_stanza_t *p = pep_item_get(st, owner, node, n->ids[i]);
        if (!p)
            continue;
        size_t len;
        pl_stanza_bytes(p, &len);
        if (len > budget) {
            pl_stanza_unref(&p);
            break;
        }
        budget -= len;
        found[i] = p;
        taken++;
    }
    for (size_t i = 0; i < n->nids; i++) {
        if (!found[i])
            continue;
        pl_build_child(b, "item", PL_NS_PUBSUB);
        pl_build_attr(b, "id", n->ids[i]);
        pl_build_copy(b, pl_stanza_root(found[i]));
        pl_build_up(b);
        pl_stanza_unref(&found[i]);
    }
    free(found);
}

pl_hook_result_t pep_pubsub_get(pl_hook_ctx_t *hc)
{
    pep_state_t *st = state_of(hc);
    const pl_xml_t *items = pl_xml_child(hc->payload, "items", PL_NS_PUBSUB);
    if (!items)
        return unsupported(hc, "retrieve-subscriptions");
    const char *node = pl_xml_attr(items, "node");
    if (!name_ok(node, PEP_MAX_NODE_NAME))
        return fail(hc, PL_ERR_BAD_REQUEST, "nodeid-required", NULL);
    const char *owner = service_of(hc);
    pep_node_t n;
    int found = pep_node_get(st, owner, node, &n);
    if (found != 1) {
        pep_node_clear(&n);
        if (found < 0)
            return fail(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL, NULL);
        return fail(hc, PL_ERR_ITEM_NOT_FOUND, NULL, "no such node");
    }
    if (!pep_may_read(st, owner, node, &n.conf, hc->from->bare)) {
        int whitelist = n.conf.access == PEP_ACCESS_WHITELIST;
        pep_node_clear(&n);
        return fail(hc, PL_ERR_FORBIDDEN,
                    whitelist ? "closed-node" : "presence-subscription-required", NULL);
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "pubsub", PL_NS_PUBSUB);
    pl_build_child(b, "items", PL_NS_PUBSUB);
    pl_build_attr(b, "node", node);
    add_items(st, b, owner, node, &n, items);
    pep_node_clear(&n);
    pl_reply_take(hc, pl_build_finish(b));
    return PL_DONE;
}

pl_hook_result_t pep_owner_get(pl_hook_ctx_t *hc)
{
    pep_state_t *st = state_of(hc);
    const pl_xml_t *cfg = pl_xml_child(hc->payload, "configure", PEP_NS_OWNER);
    if (!cfg)
        return unsupported(hc, "config-node");
    if (!must_own(hc))
        return PL_DONE;
    const char *node = pl_xml_attr(cfg, "node");
    if (!name_ok(node, PEP_MAX_NODE_NAME))
        return fail(hc, PL_ERR_BAD_REQUEST, "nodeid-required", NULL);
    pep_node_t n;
    if (pep_node_get(st, service_of(hc), node, &n) != 1) {
        pep_node_clear(&n);
        return fail(hc, PL_ERR_ITEM_NOT_FOUND, NULL, "no such node");
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "pubsub", PEP_NS_OWNER);
    pl_build_child(b, "configure", PEP_NS_OWNER);
    pl_build_attr(b, "node", node);
    pep_conf_form(b, &n.conf, (long)st->conf->max_items);
    pep_node_clear(&n);
    pl_reply_take(hc, pl_build_finish(b));
    return PL_DONE;
}

pl_hook_result_t pep_owner_set(pl_hook_ctx_t *hc)
{
    const pl_xml_t *ps = hc->payload, *e;
    job_kind_t kind = 0;
    if ((e = pl_xml_child(ps, "configure", PEP_NS_OWNER)))
        kind = JOB_CONFIGURE;
    else if ((e = pl_xml_child(ps, "delete", PEP_NS_OWNER)))
        kind = JOB_DELETE;
    else if ((e = pl_xml_child(ps, "purge", PEP_NS_OWNER)))
        kind = JOB_PURGE;
    else
        return unsupported(hc, "owner");
    if (!must_own(hc))
        return PL_DONE;
    const char *node = pl_xml_attr(e, "node");
    if (!name_ok(node, PEP_MAX_NODE_NAME))
        return fail(hc, PL_ERR_BAD_REQUEST, "nodeid-required", NULL);
    job_t *j = job_new(hc, kind, node);
    if (kind == JOB_CONFIGURE) {
        const pl_xml_t *x = pl_xml_child(e, "x", PL_NS_DATA_FORMS);
        const char *xt = x ? pl_xml_attr(x, "type") : NULL;
        if (xt && strcmp(xt, "cancel") == 0) {
            job_free(&j);
            pl_reply_result(hc, NULL);
            return PL_DONE;
        }
        if (!x) {
            job_free(&j);
            return fail(hc, PL_ERR_BAD_REQUEST, "invalid-options", "a configuration form");
        }
        if (read_options(hc, e, PEP_FORM_NODE_CONFIG, j) != 0) {
            job_free(&j);
            return PL_DONE;
        }
    }
    return job_submit(hc, j);
}
