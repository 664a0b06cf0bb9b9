/* bookmarks.c — XEP-0402 PEP native bookmarks with the XEP-0048
 * compatibility of XEP-0402 §compat: a jabber:iq:private get or set of
 * <storage xmlns='storage:bookmarks'/> is answered from, or turned into,
 * the items of the user's urn:xmpp:bookmarks:1 node, so old and new clients
 * see the same bookmarks.  The module talks to the pep module the way a
 * client would — pubsub IQs from the user's bare JID to itself — so the
 * node's limits, access model and notifications apply unchanged.  Other
 * private-storage namespaces pass on to the private module. */
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/util.h"
#include "xmpp/ns.h"

#define NS_LEGACY "storage:bookmarks"
#define NS_BOOKMARKS "urn:xmpp:bookmarks:1"
#define NODE NS_BOOKMARKS
#define MAX_CONFERENCES 256
#define STEP_TIMEOUT_MS 10000

/* One private-storage request being served over several pubsub IQs. */
typedef struct convert {
    pl_server_t *server;
    pl_module_ctx_t *ctx;
    char *user;       /* bare JID */
    char *reply_from; /* the request's 'to', or the user's bare JID */
    char *reply_to;   /* the client's full JID */
    char *iq_id;
    /* set: the conferences to store, and the ids to retract afterwards */
    pl_stanza_t *request;
    const pl_xml_t **confs;
    size_t nconfs, next_conf;
    char **stale;
    size_t nstale, next_stale;
} convert_t;

static void convert_free(convert_t **cp)
{
    convert_t *c = *cp;
    if (!c)
        return;
    *cp = NULL;
    free(c->user);
    free(c->reply_from);
    free(c->reply_to);
    free(c->iq_id);
    pl_stanza_unref(&c->request);
    free(c->confs);
    for (size_t i = 0; i < c->nstale; i++)
        free(c->stale[i]);
    free(c->stale);
    free(c);
}

static void send_reply(convert_t *c, pl_stanza_t *st)
{
    pl_stanza_t *addressed = pl_stanza_readdress(st, c->reply_from, c->reply_to);
    pl_stanza_unref(&st);
    pl_route_take(c->server, addressed);
}

/* The condition of an error answer (or internal-server-error). */
static pl_stanza_err_t condition_of(const pl_stanza_t *response)
{
    static const pl_stanza_err_t conds[] = {
        PL_ERR_BAD_REQUEST,    PL_ERR_CONFLICT,    PL_ERR_FORBIDDEN,       PL_ERR_ITEM_NOT_FOUND,
        PL_ERR_NOT_ACCEPTABLE, PL_ERR_NOT_ALLOWED, PL_ERR_POLICY_VIOLATION};
    const pl_xml_t *err =
        response ? pl_xml_child(pl_stanza_root(response), "error", PL_NS_CLIENT) : NULL;
    const pl_xml_t *cond = err ? pl_xml_first_element(err) : NULL;
    for (size_t i = 0; cond && i < sizeof(conds) / sizeof(conds[0]); i++)
        if (strcmp(cond->name, pl_stanza_err_name(conds[i])) == 0)
            return conds[i];
    return PL_ERR_INTERNAL_SERVER_ERROR;
}

static void fail(convert_t *c, pl_stanza_err_t cond, const char *text)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "error");
    pl_build_attr(b, "id", c->iq_id);
    pl_build_child(b, "error", PL_NS_CLIENT);
    pl_build_attr(b, "type", pl_stanza_err_type(cond));
    pl_build_child(b, pl_stanza_err_name(cond), PL_NS_STANZA_ERRORS);
    pl_build_up(b);
    if (text) {
        pl_build_child(b, "text", PL_NS_STANZA_ERRORS);
        pl_build_text(b, text, strlen(text));
        pl_build_up(b);
    }
    send_reply(c, pl_build_finish(b));
    convert_free(&c);
}

static int is_result(const pl_stanza_t *response)
{
    const char *type = response ? pl_stanza_attr(response, "type") : NULL;
    return type && strcmp(type, "result") == 0;
}

/* Sends a pubsub request as the user to the user's own PEP service. */
static void ask(convert_t *c, pl_stanza_t *pubsub_payload, const char *type, pl_iq_done_fn done)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", type);
    pl_build_attr(b, "from", c->user);
    pl_build_attr(b, "to", c->user);
    pl_build_copy(b, pl_stanza_root(pubsub_payload));
    pl_stanza_unref(&pubsub_payload);
    if (pl_server_send_iq_take(c->server, pl_build_finish(b), STEP_TIMEOUT_MS, done, c) != 0)
        fail(c, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
}

static void ask_items(convert_t *c, pl_iq_done_fn done)
{
    pl_builder_t *b = pl_build_new("pubsub", PL_NS_PUBSUB);
    pl_build_child(b, "items", PL_NS_PUBSUB);
    pl_build_attr(b, "node", NODE);
    ask(c, pl_build_finish(b), "get", done);
}

/* The <items/> of an items answer, or NULL. */
static const pl_xml_t *items_of(const pl_stanza_t *response)
{
    const pl_xml_t *ps = pl_xml_child(pl_stanza_root(response), "pubsub", PL_NS_PUBSUB);
    return ps ? pl_xml_child(ps, "items", PL_NS_PUBSUB) : NULL;
}

static const char *text_or_null(const pl_xml_t *e, const char *name, const char *ns, pl_buf_t *b)
{
    pl_buf_reset(b);
    return pl_xml_child_text(e, name, ns, b) ? pl_buf_cstr(b) : NULL;
}

/* ---- get: XEP-0402 items → XEP-0048 storage ---- */

static void legacy_conference(pl_builder_t *b, const char *jid, const pl_xml_t *conf)
{
    pl_buf_t t;
    pl_buf_init(&t);
    pl_build_child(b, "conference", NS_LEGACY);
    pl_build_attr(b, "jid", jid);
    const char *name = pl_xml_attr(conf, "name"), *autojoin = pl_xml_attr(conf, "autojoin");
    if (name)
        pl_build_attr(b, "name", name);
    pl_build_attr(b, "autojoin",
                  autojoin && (!strcmp(autojoin, "true") || !strcmp(autojoin, "1")) ? "true"
                                                                                    : "false");
    const char *nick = text_or_null(conf, "nick", NS_BOOKMARKS, &t);
    if (nick)
        pl_build_text_child(b, "nick", NS_LEGACY, nick);
    const char *password = text_or_null(conf, "password", NS_BOOKMARKS, &t);
    if (password)
        pl_build_text_child(b, "password", NS_LEGACY, password);
    pl_build_up(b);
    pl_buf_deinit(&t);
}

static void got_items_for_get(void *ud, const pl_stanza_t *response)
{
    convert_t *c = ud;
    const pl_xml_t *items = is_result(response) ? items_of(response) : NULL;
    if (!items && condition_of(response) != PL_ERR_ITEM_NOT_FOUND) {
        fail(c, condition_of(response), "cannot read the bookmarks");
        return;
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", c->iq_id);
    pl_build_child(b, "query", PL_NS_PRIVATE);
    pl_build_child(b, "storage", NS_LEGACY);
    for (const pl_xml_t *it = items ? pl_xml_child(items, "item", PL_NS_PUBSUB) : NULL; it;
         it = pl_xml_next(it, "item", PL_NS_PUBSUB)) {
        const char *jid = pl_xml_attr(it, "id");
        const pl_xml_t *conf = pl_xml_child(it, "conference", NS_BOOKMARKS);
        if (jid && conf)
            legacy_conference(b, jid, conf);
    }
    send_reply(c, pl_build_finish(b));
    convert_free(&c);
}

/* ---- set: XEP-0048 storage → XEP-0402 items ---- */

static void publish_next(convert_t *c);
static void retract_next(convert_t *c);

static void form_field(pl_builder_t *b, const char *var, const char *value)
{
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", var);
    if (!strcmp(var, "FORM_TYPE"))
        pl_build_attr(b, "type", "hidden");
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS, value);
    pl_build_up(b);
}

/* <pubsub><publish node><item id=JID><conference/></item></publish>
 * <publish-options/></pubsub> with the options XEP-0402 §5 requires. */
static pl_stanza_t *publish_request(const pl_xml_t *legacy)
{
    pl_buf_t t;
    pl_buf_init(&t);
    pl_builder_t *b = pl_build_new("pubsub", PL_NS_PUBSUB);
    pl_build_child(b, "publish", PL_NS_PUBSUB);
    pl_build_attr(b, "node", NODE);
    pl_build_child(b, "item", PL_NS_PUBSUB);
    pl_build_attr(b, "id", pl_xml_attr(legacy, "jid"));
    pl_build_child(b, "conference", NS_BOOKMARKS);
    const char *name = pl_xml_attr(legacy, "name"), *autojoin = pl_xml_attr(legacy, "autojoin");
    if (name)
        pl_build_attr(b, "name", name);
    if (autojoin && (!strcmp(autojoin, "true") || !strcmp(autojoin, "1")))
        pl_build_attr(b, "autojoin", "true");
    const char *nick = text_or_null(legacy, "nick", NS_LEGACY, &t);
    if (nick)
        pl_build_text_child(b, "nick", NS_BOOKMARKS, nick);
    const char *password = text_or_null(legacy, "password", NS_LEGACY, &t);
    if (password)
        pl_build_text_child(b, "password", NS_BOOKMARKS, password);
    pl_build_up(b); /* conference */
    pl_build_up(b); /* item */
    pl_build_up(b); /* publish */
    pl_build_child(b, "publish-options", PL_NS_PUBSUB);
    pl_build_child(b, "x", PL_NS_DATA_FORMS);
    pl_build_attr(b, "type", "submit");
    form_field(b, "FORM_TYPE", PL_NS_PUBSUB_PUBLISH_OPTIONS);
    form_field(b, "pubsub#persist_items", "true");
    form_field(b, "pubsub#max_items", "max");
    form_field(b, "pubsub#send_last_published_item", "never");
    form_field(b, "pubsub#access_model", "whitelist");
    pl_buf_deinit(&t);
    return pl_build_finish(b);
}

static void step_done(void *ud, const pl_stanza_t *response)
{
    convert_t *c = ud;
    if (!is_result(response)) {
        fail(c, condition_of(response), "cannot store the bookmarks");
        return;
    }
    if (c->next_conf < c->nconfs)
        publish_next(c);
    else
        retract_next(c);
}

static void publish_next(convert_t *c)
{
    ask(c, publish_request(c->confs[c->next_conf++]), "set", step_done);
}

static void retract_next(convert_t *c)
{
    if (c->next_stale == c->nstale) {
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", "result");
        pl_build_attr(b, "id", c->iq_id);
        send_reply(c, pl_build_finish(b));
        convert_free(&c);
        return;
    }
    pl_builder_t *b = pl_build_new("pubsub", PL_NS_PUBSUB);
    pl_build_child(b, "retract", PL_NS_PUBSUB);
    pl_build_attr(b, "node", NODE);
    pl_build_attr(b, "notify", "true");
    pl_build_child(b, "item", PL_NS_PUBSUB);
    pl_build_attr(b, "id", c->stale[c->next_stale++]);
    ask(c, pl_build_finish(b), "set", step_done);
}

static int in_new_set(const convert_t *c, const char *id)
{
    for (size_t i = 0; i < c->nconfs; i++)
        if (strcmp(pl_xml_attr(c->confs[i], "jid"), id) == 0)
            return 1;
    return 0;
}

/* The current items tell which bookmarks the new storage drops. */
static void got_items_for_set(void *ud, const pl_stanza_t *response)
{
    convert_t *c = ud;
    const pl_xml_t *items = is_result(response) ? items_of(response) : NULL;
    if (!items && condition_of(response) != PL_ERR_ITEM_NOT_FOUND) {
        fail(c, condition_of(response), "cannot read the bookmarks");
        return;
    }
    for (const pl_xml_t *it = items ? pl_xml_child(items, "item", PL_NS_PUBSUB) : NULL;
         it && c->nstale < MAX_CONFERENCES; it = pl_xml_next(it, "item", PL_NS_PUBSUB)) {
        const char *id = pl_xml_attr(it, "id");
        if (!id || in_new_set(c, id))
            continue;
        c->stale = pl_xrealloc(c->stale, (c->nstale + 1) * sizeof(char *));
        c->stale[c->nstale++] = pl_xstrdup(id);
    }
    if (c->nconfs > 0)
        publish_next(c);
    else
        retract_next(c);
}

/* ---- the private-storage hook ---- */

static convert_t *convert_new(pl_hook_ctx_t *hc)
{
    convert_t *c = pl_xcalloc(1, sizeof(*c));
    c->server = hc->server;
    c->ctx = hc->module;
    c->user = pl_xstrdup(hc->from->bare);
    const char *to = pl_stanza_attr(hc->stanza, "to");
    c->reply_from = pl_xstrdup(to ? to : hc->from->bare);
    c->reply_to = pl_xstrdup(hc->from->full);
    c->iq_id = pl_xstrdup(hc->id);
    return c;
}

/* The <storage xmlns='storage:bookmarks'/> a private request is about, or
 * NULL (another namespace: the private module's business). */
static const pl_xml_t *legacy_storage(const pl_hook_ctx_t *hc)
{
    const pl_xml_t *e = pl_xml_first_element(hc->payload);
    return e && !strcmp(e->name, "storage") && !strcmp(e->ns, NS_LEGACY) ? e : NULL;
}

static int for_oneself(pl_hook_ctx_t *hc)
{
    if (!pl_stanza_attr(hc->stanza, "to") ||
        (hc->to->local && !hc->to->resource && strcmp(hc->to->bare, hc->from->bare) == 0))
        return 1;
    pl_reply_error(hc, PL_ERR_FORBIDDEN, "private data belongs to its owner only");
    return 0;
}

static pl_hook_result_t private_get(pl_hook_ctx_t *hc)
{
    if (!legacy_storage(hc))
        return PL_PASS;
    if (for_oneself(hc))
        ask_items(convert_new(hc), got_items_for_get);
    return PL_DONE;
}

static pl_hook_result_t private_set(pl_hook_ctx_t *hc)
{
    const pl_xml_t *storage = legacy_storage(hc);
    if (!storage)
        return PL_PASS;
    if (!for_oneself(hc))
        return PL_DONE;
    size_t n = 0;
    for (const pl_xml_t *e = pl_xml_child(storage, "conference", NS_LEGACY); e;
         e = pl_xml_next(e, "conference", NS_LEGACY)) {
        const char *jid = pl_xml_attr(e, "jid");
        pl_jid_t j;
        if (!jid || pl_jid_parse(&j, jid) != 0) {
            pl_reply_error(hc, PL_ERR_BAD_REQUEST, "every conference needs a valid jid");
            return PL_DONE;
        }
        int bare = j.resource == NULL;
        pl_jid_deinit(&j);
        if (!bare) {
            pl_reply_error(hc, PL_ERR_BAD_REQUEST, "a conference jid is a bare JID");
            return PL_DONE;
        }
        if (++n > MAX_CONFERENCES) {
            pl_reply_error(hc, PL_ERR_POLICY_VIOLATION, "too many bookmarks");
            return PL_DONE;
        }
    }
    convert_t *c = convert_new(hc);
    c->request = pl_stanza_ref(hc->stanza);
    c->confs = pl_xcalloc(n ? n : 1, sizeof(pl_xml_t *));
    for (const pl_xml_t *e = pl_xml_child(storage, "conference", NS_LEGACY); e;
         e = pl_xml_next(e, "conference", NS_LEGACY)) {
        int dup = 0;
        for (size_t i = 0; i < c->nconfs; i++)
            dup |= strcmp(pl_xml_attr(c->confs[i], "jid"), pl_xml_attr(e, "jid")) == 0;
        if (!dup)
            c->confs[c->nconfs++] = e;
    }
    ask_items(c, got_items_for_set);
    return PL_DONE;
}

static const char *const account_features[] = {NS_BOOKMARKS "#compat", NULL};
static const char *const requires[] = {"pep", NULL};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST | PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_PRIVATE,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER + 50,
     .handler = private_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST | PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_PRIVATE,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER + 50,
     .handler = private_set},
    {0},
};

const pl_module_desc_t pl_mod_bookmarks = {
    .name = "bookmarks",
    .abi = PL_MODULE_ABI,
    .description = "Bookmarks (XEP-0402) with XEP-0048 private-storage compatibility",
    .requires = requires,
    .account_features = account_features,
    .hooks = hooks,
};
