/* push.c — push notifications (XEP-0357, urn:xmpp:push:0).  A client
 * registers an app server (a pubsub service, usually a component that talks
 * to APNs/FCM) and a node; when a message with a body arrives for the
 * account and none of its sessions is connected — they are all gone or
 * detached by stream management, waiting for the phone to come back — the
 * server publishes a summary to every registered node: how many messages
 * came since the account was last connected, who sent the last one, and its
 * body only when the client asked for bodies (<include-body
 * xmlns='urn:parley:push'/> in <enable/>, see docs/extensions/push.md).
 *
 * Registrations live in the "push" store under bare '\0' app-server JID
 * '\0' node; the value is a flag byte ('b' with bodies, '-' without) and
 * the client's publish-options form as stored XML.  An app server that
 * answers a publish with an error of type cancel or auth loses the
 * registration (XEP-0357 §7: the device was unregistered). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/map.h"
#include "lib/util.h"
#include "storage/storage.h"
#include "xep/stored-xml.h"
#include "xmpp/ns.h"

#define PL_NS_PUSH "urn:xmpp:push:0"
#define PL_NS_PUSH_PARLEY "urn:parley:push"
#define PUSH_SUMMARY "urn:xmpp:push:summary"
#define PUSH_MAX_RESOURCES 64
#define PUSH_MAX_NODE 256
#define PUSH_MAX_BODY 512 /* bytes of body put in a notification */

typedef struct push_conf {
    long long max_registrations; /* per account */
    long long timeout_ms;        /* wait for the app server's answer */
    long long max_counters;      /* accounts whose message count is kept */
} push_conf_t;

/* Messages counted per account since it was last connected, shared by the
 * loops (a hook may run on any of them).  Only accounts with a registration
 * are counted (a message to a name nobody holds must cost nothing), and at
 * most max_counters of them: the count is a hint for the app server, so
 * when the table is full one count is forgotten (it starts again at 1). */
typedef struct push_mod {
    pthread_mutex_t lock;
    pl_map_t counts; /* bare JID -> (uintptr_t) count */
} push_mod_t;

/* ---- registrations ---- */

static size_t reg_key(pl_buf_t *k, const char *bare, const char *jid, const char *node)
{
    pl_buf_reset(k);
    pl_buf_append(k, bare, strlen(bare) + 1);
    pl_buf_append(k, jid, strlen(jid) + 1);
    pl_buf_append(k, node, strlen(node));
    return k->len;
}

typedef struct reg_write {
    pl_server_t *srv;
    pl_kv_t *kv;
    pl_buf_t key, val; /* val.len 0: delete the key (or, with prefix, all under it) */
    int prefix;        /* delete every key starting with key */
    long long max;     /* registrations allowed per account (put only) */
    size_t bare_len;   /* the account's part of the key, with its '\0' */
    pl_stanza_t *req;  /* the client's request, answered after commit (or NULL) */
} reg_write_t;

static void reg_write_free(reg_write_t **wp)
{
    reg_write_t *w = *wp;
    if (!w)
        return;
    *wp = NULL;
    pl_buf_deinit(&w->key);
    pl_buf_deinit(&w->val);
    pl_stanza_unref(&w->req);
    free(w);
}

typedef struct collect {
    pl_buf_t *keys; /* NUL-separated */
    size_t n;
} collect_t;

static int collect_key(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)val;
    (void)vlen;
    collect_t *c = ud;
    pl_buf_append(c->keys, &klen, sizeof(klen));
    pl_buf_append(c->keys, key, klen);
    c->n++;
    return 0;
}

static int reg_write_run(pl_wtxn_t *txn, void *ud)
{
    reg_write_t *w = ud;
    if (w->val.len) {
        pl_buf_t old;
        pl_buf_init(&old);
        int have = pl_kv_txn_get(txn, w->kv, w->key.data, w->key.len, &old);
        pl_buf_deinit(&old);
        if (have < 0)
            return have;
        if (!have) {
            collect_t c = {.keys = &(pl_buf_t){0}};
            pl_buf_init(c.keys);
            pl_kv_scan(w->kv, w->key.data, w->bare_len, collect_key, &c);
            pl_buf_deinit(c.keys);
            if ((long long)c.n >= w->max)
                return -EDQUOT;
        }
        return pl_kv_put(txn, w->kv, w->key.data, w->key.len, w->val.data, w->val.len);
    }
    if (!w->prefix) {
        int rc = pl_kv_del(txn, w->kv, w->key.data, w->key.len);
        return rc < 0 ? rc : 0;
    }
    pl_buf_t keys;
    pl_buf_init(&keys);
    collect_t c = {.keys = &keys};
    int rc = pl_kv_scan(w->kv, w->key.data, w->key.len, collect_key, &c);
    for (size_t off = 0; rc >= 0 && off < keys.len;) {
        size_t klen;
        memcpy(&klen, keys.data + off, sizeof(klen));
        off += sizeof(klen);
        int d = pl_kv_del(txn, w->kv, keys.data + off, klen);
        if (d < 0)
            rc = d;
        off += klen;
    }
    pl_buf_deinit(&keys);
    return rc < 0 ? rc : 0;
}

static void reg_write_done(void *ud, int status)
{
    reg_write_t *w = ud;
    if (w->req) {
        pl_server_t *srv = w->srv;
        if (status == -EDQUOT) {
            char text[96];
            snprintf(text, sizeof(text), "at most %lld push registrations per account", w->max);
            pl_reply_later(srv, w->req, PL_ERR_RESOURCE_CONSTRAINT, text);
        } else {
            pl_reply_later(srv, w->req, status == 0 ? PL_ERR_NONE : PL_ERR_INTERNAL_SERVER_ERROR,
                           NULL);
        }
    }
    reg_write_free(&w);
}

static reg_write_t *reg_write_new(pl_hook_ctx_t *hc, const char *bare)
{
    reg_write_t *w = pl_xcalloc(1, sizeof(*w));
    w->kv = pl_module_store(hc->module, "push");
    w->srv = hc->server;
    pl_buf_init(&w->key);
    pl_buf_init(&w->val);
    w->bare_len = strlen(bare) + 1;
    return w;
}

static void reg_submit(pl_hook_ctx_t *hc, reg_write_t *w)
{
    if (hc)
        w->req = pl_stanza_ref(hc->stanza);
    if (pl_server_write(w->srv, reg_write_run, reg_write_done, w) != 0) {
        if (hc)
            pl_reply_error(hc, PL_ERR_RESOURCE_CONSTRAINT, "storage is busy, try again");
        reg_write_free(&w);
    }
}

/* ---- enable / disable (XEP-0357 §5, §6) ---- */

/* Only for the account itself: <iq type='set'> with no 'to' or to its own
 * bare JID. */
static int own_request(pl_hook_ctx_t *hc)
{
    if (!hc->session || (pl_stanza_attr(hc->stanza, "to") &&
                         strcmp(hc->to->bare ? hc->to->bare : "", hc->from->bare) != 0)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "push notifications are set by the account itself");
        return 0;
    }
    return 1;
}

static pl_hook_result_t push_enable(pl_hook_ctx_t *hc)
{
    const push_conf_t *conf = pl_module_conf(hc->module);
    const pl_xml_t *en = hc->payload;
    const char *jid_s = pl_xml_attr(en, "jid"), *node = pl_xml_attr(en, "node");
    if (!own_request(hc))
        return PL_DONE;
    pl_jid_t app;
    if (!jid_s || !node || !*node || strlen(node) > PUSH_MAX_NODE ||
        pl_jid_parse(&app, jid_s) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "<enable/> needs a valid 'jid' and a 'node'");
        return PL_DONE;
    }
    reg_write_t *w = reg_write_new(hc, hc->from->bare);
    reg_key(&w->key, hc->from->bare, app.full, node);
    pl_jid_deinit(&app);
    if (w->key.len > 500) {
        reg_write_free(&w);
        pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, "app server JID and node are too long");
        return PL_DONE;
    }
    w->max = conf->max_registrations;
    int body = pl_xml_child(en, "include-body", PL_NS_PUSH_PARLEY) != NULL;
    pl_buf_append(&w->val, body ? "b" : "-", 1);
    const pl_xml_t *form = pl_xml_child(en, "x", PL_NS_DATA_FORMS);
    if (form)
        pl_stored_xml_encode(form, &w->val);
    reg_submit(hc, w);
    return PL_DONE;
}

static pl_hook_result_t push_disable(pl_hook_ctx_t *hc)
{
    const pl_xml_t *dis = hc->payload;
    const char *jid_s = pl_xml_attr(dis, "jid"), *node = pl_xml_attr(dis, "node");
    if (!own_request(hc))
        return PL_DONE;
    pl_jid_t app;
    if (!jid_s || pl_jid_parse(&app, jid_s) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "<disable/> needs a valid 'jid'");
        return PL_DONE;
    }
    reg_write_t *w = reg_write_new(hc, hc->from->bare);
    /* Without a node: every node on that app server (XEP-0357 §6). */
    reg_key(&w->key, hc->from->bare, app.full, node && *node ? node : "");
    w->prefix = !(node && *node);
    pl_jid_deinit(&app);
    reg_submit(hc, w);
    return PL_DONE;
}

/* ---- counting and publishing ---- */

static unsigned long count_message(push_mod_t *m, const char *bare, int reset, size_t max)
{
    pthread_mutex_lock(&m->lock);
    uintptr_t n = (uintptr_t)pl_map_get(&m->counts, bare);
    if (reset) {
        if (n)
            pl_map_del(&m->counts, bare);
        n = 0;
    } else {
        if (!n && m->counts.count >= max) {
            size_t pos = 0;
            const char *victim;
            if (pl_map_iter(&m->counts, &pos, &victim, NULL)) {
                char *k = pl_xstrdup(victim); /* the key dies with its slot */
                pl_map_del(&m->counts, k);
                free(k);
            }
        }
        n++;
        pl_map_put(&m->counts, bare, (void *)n);
    }
    pthread_mutex_unlock(&m->lock);
    return (unsigned long)n;
}

/* 1 when some session of the account is connected (not detached). */
static int someone_connected(pl_server_t *srv, const char *bare)
{
    pl_resource_t res[PUSH_MAX_RESOURCES];
    size_t n = pl_server_resources(srv, bare, res, PUSH_MAX_RESOURCES);
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= !(res[i].flags & PL_RES_DETACHED);
    pl_resources_release(res, n);
    return any;
}

typedef struct publish {
    pl_server_t *srv;
    pl_kv_t *kv;
    pl_buf_t key; /* the registration, dropped if the app server refuses */
    char *bare;
} publish_t;

static void publish_answer(void *ud, const pl_stanza_t *resp)
{
    publish_t *p = ud;
    const char *type = resp ? pl_stanza_attr(resp, "type") : NULL;
    const pl_xml_t *err = resp ? pl_xml_child(pl_stanza_root(resp), "error", NULL) : NULL;
    const char *etype = err ? pl_xml_attr(err, "type") : NULL;
    if (type && !strcmp(type, "error") && etype && (!strcmp(etype, "cancel") || !strcmp(etype, "auth"))) {
        /* The app server no longer knows this device. */
        reg_write_t *w = pl_xcalloc(1, sizeof(*w));
        w->kv = p->kv;
        w->srv = p->srv;
        pl_buf_init(&w->key);
        pl_buf_init(&w->val);
        pl_buf_append(&w->key, p->key.data, p->key.len);
        if (pl_server_write(p->srv, reg_write_run, reg_write_done, w) != 0)
            reg_write_free(&w);
        pl_log(pl_server_log(p->srv), PL_LOG_INFO, "push.disabled",
               "jid=%s reason=app-server-error", p->bare);
    }
    pl_buf_deinit(&p->key);
    free(p->bare);
    free(p);
}

typedef struct notify {
    pl_hook_ctx_t *hc;
    const char *sender, *body;
    unsigned long count; /* counted at the first registration found */
    const push_conf_t *conf;
} notify_t;

static void add_field(pl_builder_t *b, const char *var, const char *value)
{
    pl_build_child(b, "field", NULL);
    pl_build_attr(b, "var", var);
    pl_build_text_child(b, "value", NULL, value);
    pl_build_up(b);
}

static int notify_one(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    notify_t *n = ud;
    /* key: bare '\0' app '\0' node */
    const char *k = key;
    const char *app = memchr(k, '\0', klen);
    if (!app || vlen < 1)
        return 0;
    app++;
    const char *node = memchr(app, '\0', klen - (size_t)(app - k));
    if (!node)
        return 0;
    node++;
    char node_s[PUSH_MAX_NODE + 1];
    size_t nlen = klen - (size_t)(node - k);
    if (nlen > PUSH_MAX_NODE)
        return 0;
    memcpy(node_s, node, nlen);
    node_s[nlen] = '\0';
    if (!n->count)
        n->count = count_message(pl_module_data(n->hc->module), n->hc->to->bare, 0,
                                 (size_t)n->conf->max_counters);
    int with_body = ((const char *)val)[0] == 'b';
    pl_stanza_t *opts = vlen > 1 ? pl_stored_xml_decode((const char *)val + 1, vlen - 1) : NULL;
    char count[24];
    snprintf(count, sizeof(count), "%lu", n->count);
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "set");
    pl_build_attr(b, "from", n->hc->to->bare);
    pl_build_attr(b, "to", app);
    pl_build_child(b, "pubsub", PL_NS_PUBSUB);
    pl_build_child(b, "publish", NULL);
    pl_build_attr(b, "node", node_s);
    pl_build_child(b, "item", NULL);
    pl_build_child(b, "notification", PL_NS_PUSH);
    pl_build_child(b, "x", PL_NS_DATA_FORMS);
    pl_build_attr(b, "type", "submit");
    add_field(b, "FORM_TYPE", PUSH_SUMMARY);
    add_field(b, "message-count", count);
    add_field(b, "last-message-sender", n->sender);
    if (with_body && n->body)
        add_field(b, "last-message-body", n->body);
    pl_build_up(b); /* x */
    pl_build_up(b); /* notification */
    pl_build_up(b); /* item */
    pl_build_up(b); /* publish */
    if (opts) {
        pl_build_child(b, "publish-options", NULL);
        pl_build_copy(b, pl_stanza_root(opts));
        pl_build_up(b);
        pl_stanza_unref(&opts);
    }
    pl_stanza_t *iq = pl_build_finish(b);
    publish_t *p = pl_xcalloc(1, sizeof(*p));
    p->srv = n->hc->server;
    p->kv = pl_module_store(n->hc->module, "push");
    p->bare = pl_xstrdup(n->hc->to->bare);
    pl_buf_init(&p->key);
    pl_buf_append(&p->key, key, klen);
    if (pl_server_send_iq_take(n->hc->server, iq, (unsigned)n->conf->timeout_ms, publish_answer,
                               p) != 0) {
        pl_buf_deinit(&p->key);
        free(p->bare);
        free(p);
    }
    return 0;
}

static void push_summary(pl_hook_ctx_t *hc);

/* A message for the account (this hook sees every one, whether sessions
 * take it or the offline store does, and before the router knows whether
 * the account exists): if nobody is connected to read it, tell the
 * registered app servers.  Nothing is kept for an address without a
 * registration.  Observer: it never consumes it. */
static pl_hook_result_t push_message(pl_hook_ctx_t *hc)
{
    const pl_xml_t *root = pl_stanza_root(hc->stanza);
    const char *type = hc->type;
    if (!hc->to->local || !strcmp(type, "error") || !strcmp(type, "groupchat") ||
        !pl_xml_child(root, "body", PL_NS_CLIENT))
        return PL_PASS;
    push_summary(hc);
    return PL_PASS;
}

/* PL_EV_NOTIFY: a group's message for a member (modules/muc), pushed as a
 * 1:1 message would be when the room wants it pushed to this member (every
 * message, or the ones that mention it: the room's push setting) and none
 * of the member's clients is connected.  The summary's sender is the
 * occupant who spoke (room@service/nick). */
static pl_hook_result_t push_notified(pl_hook_ctx_t *hc)
{
    if (!(hc->notify & PL_NOTIFY_PUSH) || !hc->to->local || hc->to->resource ||
        !pl_xml_child(pl_stanza_root(hc->stanza), "body", PL_NS_CLIENT))
        return PL_PASS;
    push_summary(hc);
    return PL_PASS;
}

/* Publishes the summary of the hook's message to every registered app
 * server of its addressee, unless one of its clients is connected. */
static void push_summary(pl_hook_ctx_t *hc)
{
    const pl_xml_t *root = pl_stanza_root(hc->stanza);
    if (someone_connected(hc->server, hc->to->bare))
        return;
    pl_kv_t *kv = pl_module_store(hc->module, "push");
    pl_buf_t prefix, body;
    pl_buf_init(&prefix);
    pl_buf_init(&body);
    pl_buf_append(&prefix, hc->to->bare, strlen(hc->to->bare) + 1);
    pl_xml_child_text(root, "body", PL_NS_CLIENT, &body);
    if (body.len > PUSH_MAX_BODY) {
        /* Cut at a character boundary. */
        size_t cut = PUSH_MAX_BODY;
        while (cut > 0 && ((unsigned char)body.data[cut] & 0xc0) == 0x80)
            cut--;
        body.data[cut] = '\0';
    }
    notify_t n = {
        .hc = hc,
        .sender = pl_stanza_attr(hc->stanza, "from") ? pl_stanza_attr(hc->stanza, "from") : "",
        .body = body.len ? pl_buf_cstr(&body) : NULL,
        .count = 0,
        .conf = pl_module_conf(hc->module),
    };
    pl_kv_scan(kv, prefix.data, prefix.len, notify_one, &n);
    pl_buf_deinit(&prefix);
    pl_buf_deinit(&body);
}

/* A session bound: the account is connected, the count starts again. */
static pl_hook_result_t push_session_bound(pl_hook_ctx_t *hc)
{
    const push_conf_t *conf = pl_module_conf(hc->module);
    count_message(pl_module_data(hc->module), pl_session_jid(hc->session)->bare, 1,
                  (size_t)conf->max_counters);
    return PL_PASS;
}

/* ---- lifecycle ---- */

static int push_start(pl_module_ctx_t *ctx)
{
    push_mod_t *m = pl_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    pl_map_init(&m->counts);
    pl_module_set_data(ctx, m);
    return 0;
}

static void push_stop(pl_module_ctx_t *ctx)
{
    push_mod_t *m = pl_module_data(ctx);
    if (!m)
        return;
    pl_map_deinit(&m->counts);
    pthread_mutex_destroy(&m->lock);
    free(m);
    pl_module_set_data(ctx, NULL);
}

static const pl_conf_def_t conf_defs[] = {
    {.key = "max_registrations",
     .type = PL_CONF_INT,
     .offset = offsetof(push_conf_t, max_registrations),
     .def = "5",
     .min = 1,
     .max = 100,
     .help = "app server registrations (devices) per account"},
    {.key = "timeout",
     .type = PL_CONF_DURATION,
     .offset = offsetof(push_conf_t, timeout_ms),
     .def = "10s",
     .min = 1000,
     .max = 300000,
     .help = "wait for the app server's answer"},
    {.key = "max_counters",
     .type = PL_CONF_INT,
     .offset = offsetof(push_conf_t, max_counters),
     .def = "100000",
     .min = 16,
     .max = 10000000,
     .help = "accounts with a registration whose unread count is kept in memory"},
    {.key = NULL},
};

static const char *const account_features[] = {PL_NS_PUSH, NULL};

static const pl_store_def_t stores[] = {
    {.name = "push", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF,
     .ns = PL_NS_PUSH,
     .element = "enable",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = push_enable},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF,
     .ns = PL_NS_PUSH,
     .element = "disable",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = push_disable},
    {.event = PL_EV_MESSAGE,
     .targets = PL_TO_BARE | PL_TO_FULL,
     .priority = PL_PRIO_OBSERVER,
     .handler = push_message},
    {.event = PL_EV_NOTIFY,
     .targets = PL_TO_BARE,
     .priority = PL_PRIO_OBSERVER,
     .handler = push_notified},
    {.event = PL_EV_SESSION_BOUND, .priority = PL_PRIO_OBSERVER, .handler = push_session_bound},
    {0},
};

const pl_module_desc_t pl_mod_push = {
    .name = "push",
    .abi = PL_MODULE_ABI,
    .description = "push notifications to app servers when no client is connected (XEP-0357)",
    .conf = conf_defs,
    .conf_size = sizeof(push_conf_t),
    .account_features = account_features,
    .stores = stores,
    .hooks = hooks,
    .start = push_start,
    .stop = push_stop,
};
