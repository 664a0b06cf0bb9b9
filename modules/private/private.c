/* private.c — XEP-0049 private XML storage: a user keeps elements of their
 * own namespaces on the server (client preferences, the DIR-5 personal
 * directory).  One record per (user, {namespace}element), plus a per-user
 * count so the item limit is enforced inside the write job that adds items.
 * The pep module answers storage:bookmarks itself, with a higher priority. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/util.h"
#include "modules/private/directory.h"
#include "storage/storage.h"
#include "xep/stored-xml.h"
#include "xmpp/ns.h"

#define PRIVATE_KEY_MAX 511    /* LMDB's key limit */
#define PRIVATE_MAX_PER_SET 32 /* elements one set may carry */

typedef struct private_conf {
    long long max_size;
    long long max_items;
} private_conf_t;

/* ---- keys ----
 * "bare\0{ns}name" holds an element; "bare\0" (empty sub-key) holds the
 * number of elements the user has, as decimal text. */

static int item_key(pl_buf_t *k, const char *bare, const char *ns, const char *name)
{
    pl_buf_reset(k);
    pl_buf_append(k, bare, strlen(bare) + 1);
    pl_buf_printf(k, "{%s}%s", ns, name);
    return k->len <= PRIVATE_KEY_MAX ? 0 : -1;
}

static void count_key(pl_buf_t *k, const char *bare)
{
    pl_buf_reset(k);
    pl_buf_append(k, bare, strlen(bare) + 1);
}

/* XEP-0049 §2: namespaces of the protocol itself and of vCards are not
 * private data. */
static int reserved_ns(const char *ns)
{
    return strncmp(ns, "jabber:", 7) == 0 || strncmp(ns, "http://jabber.org/", 18) == 0 ||
           strcmp(ns, PL_NS_VCARD) == 0;
}

/* Only the user's own account: no 'to', or 'to' = the user's bare JID. */
static int for_oneself(const pl_hook_ctx_t *hc)
{
    if (!hc->from->local)
        return 0; /* components and servers have no private storage */
    if (!pl_stanza_attr(hc->stanza, "to"))
        return 1;
    return hc->to->local && !hc->to->resource && strcmp(hc->to->bare, hc->from->bare) == 0;
}

/* Checks one element a client wants to store or read; answers the client and
 * returns -1 when it may not. */
static int element_acceptable(pl_hook_ctx_t *hc, const pl_xml_t *e)
{
    if (!e->ns[0]) {
        pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, "the element needs its own namespace");
        return -1;
    }
    if (reserved_ns(e->ns)) {
        pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, "that namespace is reserved (XEP-0049)");
        return -1;
    }
    return 0;
}

/* ---- get ---- */

static pl_hook_result_t private_get(pl_hook_ctx_t *hc)
{
    if (!for_oneself(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "private data belongs to its owner only");
        return PL_DONE;
    }
    const pl_xml_t *want = pl_xml_first_element(hc->payload);
    if (!want) {
        pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, "name the element to read");
        return PL_DONE;
    }
    if (pl_xml_next(want, NULL, NULL)) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "one element per request");
        return PL_DONE;
    }
    if (element_acceptable(hc, want) != 0)
        return PL_DONE;
    pl_buf_t key, val;
    pl_buf_init(&key);
    pl_buf_init(&val);
    int found = 0;
    if (item_key(&key, hc->from->bare, want->ns, want->name) == 0)
        found = pl_kv_get(pl_module_store(hc->module, "items"), key.data, key.len, &val);
    pl_stanza_t *stored = found == 1 ? pl_stored_xml_decode(val.data, val.len) : NULL;
    if (found < 0 || (found == 1 && !stored)) {
        pl_module_log(hc->module, PL_LOG_ERROR, "read_failed", "jid=%s status=%d", hc->from->bare,
                      found);
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
    } else {
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", "result");
        pl_build_attr(b, "id", hc->id);
        pl_build_child(b, "query", PL_NS_PRIVATE);
        if (stored) {
            pl_build_copy(b, pl_stanza_root(stored));
        } else {
            pl_build_child(b, want->name, want->ns);
            pl_build_up(b);
        }
        pl_reply_take(hc, pl_build_finish(b));
    }
    pl_stanza_unref(&stored);
    pl_buf_deinit(&key);
    pl_buf_deinit(&val);
    return PL_DONE;
}

/* ---- set ---- */

typedef struct private_item {
    pl_buf_t key;
    pl_buf_t xml;
} private_item_t;

typedef struct private_set {
    pl_server_t *server;
    pl_kv_t *kv;
    pl_stanza_t *request; /* held for the reply */
    char *bare;
    long long max_items;
    private_item_t items[PRIVATE_MAX_PER_SET];
    size_t nitems;
} private_set_t;

static void private_set_free(private_set_t **pp)
{
    private_set_t *p = *pp;
    if (!p)
        return;
    *pp = NULL;
    for (size_t i = 0; i < p->nitems; i++) {
        pl_buf_deinit(&p->items[i].key);
        pl_buf_deinit(&p->items[i].xml);
    }
    pl_stanza_unref(&p->request);
    free(p->bare);
    free(p);
}

/* Storage thread: every element of the request, or none of them. */
static int private_set_run(pl_wtxn_t *txn, void *ud)
{
    private_set_t *p = ud;
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    count_key(&k, p->bare);
    int rc = pl_kv_txn_get(txn, p->kv, k.data, k.len, &v);
    long long count = rc == 1 ? strtoll(pl_buf_cstr(&v), NULL, 10) : 0;
    for (size_t i = 0; rc >= 0 && i < p->nitems; i++) {
        private_item_t *it = &p->items[i];
        int had = pl_kv_txn_get(txn, p->kv, it->key.data, it->key.len, &v);
        if (had < 0)
            rc = had;
        else if (had == 0 && ++count > p->max_items)
            rc = -E2BIG;
        else
            rc = pl_kv_put(txn, p->kv, it->key.data, it->key.len, it->xml.data, it->xml.len);
    }
    if (rc >= 0) {
        char n[24];
        int nlen = snprintf(n, sizeof(n), "%lld", count);
        count_key(&k, p->bare);
        rc = pl_kv_put(txn, p->kv, k.data, k.len, n, (size_t)nlen);
    }
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc < 0 ? rc : 0;
}

static void private_set_done(void *ud, int status)
{
    private_set_t *p = ud;
    if (status == -E2BIG) {
        char text[96];
        snprintf(text, sizeof(text), "at most %lld stored elements per account", p->max_items);
        pl_reply_later(p->server, p->request, PL_ERR_NOT_ACCEPTABLE, text);
    } else {
        pl_reply_later(p->server, p->request,
                       status == 0 ? PL_ERR_NONE : PL_ERR_INTERNAL_SERVER_ERROR, NULL);
    }
    private_set_free(&p);
}

/* Checks and serialises each element into the job; answers the client and
 * returns -1 on the first one that may not be stored. */
static int private_set_collect(pl_hook_ctx_t *hc, const private_conf_t *conf, private_set_t *p)
{
    char why[160];
    for (const pl_xml_t *e = pl_xml_first_element(hc->payload); e; e = pl_xml_next(e, NULL, NULL)) {
        if (element_acceptable(hc, e) != 0)
            return -1;
        if (p->nitems == PRIVATE_MAX_PER_SET) {
            snprintf(why, sizeof(why), "at most %d elements per request", PRIVATE_MAX_PER_SET);
            pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, why);
            return -1;
        }
        if (strcmp(e->ns, PL_NS_PARLEY_DIRECTORY) == 0 &&
            directory_validate(e, why, sizeof(why)) != 0) {
            pl_reply_error(hc, PL_ERR_BAD_REQUEST, why);
            return -1;
        }
        private_item_t *it = &p->items[p->nitems++];
        pl_buf_init(&it->key);
        pl_buf_init(&it->xml);
        if (item_key(&it->key, hc->from->bare, e->ns, e->name) != 0) {
            pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, "the namespace and name are too long");
            return -1;
        }
        pl_stored_xml_encode(e, &it->xml);
        if ((long long)it->xml.len > conf->max_size) {
            snprintf(why, sizeof(why), "an element may be at most %lld bytes", conf->max_size);
            pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, why);
            return -1;
        }
    }
    if (p->nitems == 0) {
        pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, "nothing to store");
        return -1;
    }
    return 0;
}

static pl_hook_result_t private_set(pl_hook_ctx_t *hc)
{
    if (!for_oneself(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "private data belongs to its owner only");
        return PL_DONE;
    }
    const private_conf_t *conf = pl_module_conf(hc->module);
    private_set_t *p = pl_xcalloc(1, sizeof(*p));
    p->server = hc->server;
    p->kv = pl_module_store(hc->module, "items");
    p->bare = pl_xstrdup(hc->from->bare);
    p->max_items = conf->max_items;
    if (private_set_collect(hc, conf, p) != 0) {
        private_set_free(&p);
        return PL_DONE;
    }
    p->request = pl_stanza_ref(hc->stanza);
    if (pl_server_write(hc->server, private_set_run, private_set_done, p) != 0) {
        pl_reply_error(hc, PL_ERR_RESOURCE_CONSTRAINT, "storage is busy, try again");
        private_set_free(&p);
    }
    return PL_DONE;
}

static const char *const account_features[] = {PL_NS_PRIVATE, NULL};

static const pl_store_def_t stores[] = {
    {.name = "items", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_conf_def_t conf[] = {
    {.key = "max_size",
     .type = PL_CONF_SIZE,
     .offset = offsetof(private_conf_t, max_size),
     .def = "64k",
     .min = 256,
     .max = 1024 * 1024,
     .help = "largest stored element, serialised, in bytes"},
    {.key = "max_items",
     .type = PL_CONF_INT,
     .offset = offsetof(private_conf_t, max_items),
     .def = "100",
     .min = 1,
     .max = 10000,
     .help = "stored elements per account"},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST | PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_PRIVATE,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = private_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST | PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_PRIVATE,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = private_set},
    {0},
};

const pl_module_desc_t pl_mod_private = {
    .name = "private",
    .abi = PL_MODULE_ABI,
    .description = "Private XML storage (XEP-0049) and the personal directory extras",
    .conf = conf,
    .conf_size = sizeof(private_conf_t),
    .account_features = account_features,
    .stores = stores,
    .hooks = hooks,
};
