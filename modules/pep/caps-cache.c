/* caps-cache.c — the server's XEP-0115 cache: which features a resource
 * has, learnt once per verification string by asking one resource its
 * disco#info and checking the hash.  Verified answers are shared by every
 * resource that shows the same hash and ver (bounded; the least recently
 * used entry goes first); answers that do not verify, and legacy caps
 * without a hash, are kept for the resource that gave them only, until it
 * goes offline.  One mutex guards it: hooks run on every loop. */
#include <stdlib.h>
#include <string.h>

#include "lib/map.h"
#include "lib/util.h"
#include "modules/pep/pep-private.h"
#include "xmpp/ns.h"

#define CAPS_ASK_TIMEOUT_MS 10000
#define CAPS_MAX_WAITERS 64 /* resources waiting on one question */

typedef struct caps_entry {
    char **features; /* sorted */
    size_t n;
    uint64_t used; /* LRU tick */
    char *ver;     /* resource entries: the ver they answered for */
} caps_entry_t;

typedef struct caps_pending {
    char *waiters[CAPS_MAX_WAITERS]; /* full JIDs */
    size_t nwaiters;
} caps_pending_t;

struct pep_caps {
    pthread_mutex_t lock;
    pl_map_t shared;    /* "hash ver" -> entry */
    pl_map_t resources; /* full JID -> entry */
    pl_map_t pending;   /* "hash ver" or "full JID" -> caps_pending_t */
    size_t max;
    size_t max_pending; /* questions in flight (each lives CAPS_ASK_TIMEOUT_MS at most) */
    uint64_t tick;
};

static void entry_free(caps_entry_t **ep)
{
    caps_entry_t *e = *ep;
    if (!e)
        return;
    *ep = NULL;
    pep_strings_free(&e->features, e->n);
    free(e->ver);
    free(e);
}

static void pending_free(caps_pending_t **pp)
{
    caps_pending_t *p = *pp;
    if (!p)
        return;
    *pp = NULL;
    for (size_t i = 0; i < p->nwaiters; i++)
        free(p->waiters[i]);
    free(p);
}

pep_caps_t *pep_caps_new(size_t max_entries, size_t max_pending)
{
    pep_caps_t *c = pl_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pl_map_init(&c->shared);
    pl_map_init(&c->resources);
    pl_map_init(&c->pending);
    c->max = max_entries ? max_entries : 10000;
    c->max_pending = max_pending ? max_pending : 1024;
    return c;
}

void pep_caps_free(pep_caps_t **cp)
{
    pep_caps_t *c = *cp;
    if (!c)
        return;
    *cp = NULL;
    size_t pos = 0;
    void *v;
    while (pl_map_iter(&c->shared, &pos, NULL, &v)) {
        caps_entry_t *e = v;
        entry_free(&e);
    }
    pos = 0;
    while (pl_map_iter(&c->resources, &pos, NULL, &v)) {
        caps_entry_t *e = v;
        entry_free(&e);
    }
    pos = 0;
    while (pl_map_iter(&c->pending, &pos, NULL, &v)) {
        caps_pending_t *p = v;
        pending_free(&p);
    }
    pl_map_deinit(&c->shared);
    pl_map_deinit(&c->resources);
    pl_map_deinit(&c->pending);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

size_t pep_caps_size(pep_caps_t *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->shared.count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void shared_key(pl_buf_t *k, const char *hash, const char *ver)
{
    pl_buf_reset(k);
    pl_buf_printf(k, "%s %s", hash, ver);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The entry for a resource showing `ref` (lock held), or NULL. */
static caps_entry_t *lookup(pep_caps_t *c, const char *full, const pl_caps_ref_t *ref)
{
    caps_entry_t *e = NULL;
    if (ref->hash) {
        pl_buf_t k;
        pl_buf_init(&k);
        shared_key(&k, ref->hash, ref->ver);
        e = pl_map_get(&c->shared, pl_buf_cstr(&k));
        pl_buf_deinit(&k);
    }
    if (!e) {
        e = pl_map_get(&c->resources, full);
        if (e && strcmp(e->ver, ref->ver) != 0)
            e = NULL; /* it has changed its features since */
    }
    if (e)
        e->used = ++c->tick;
    return e;
}

static int presence_caps(const pl_stanza_t *presence, pl_caps_ref_t *ref)
{
    return presence && pl_caps_from_presence(pl_stanza_root(presence), ref);
}

int pep_caps_has(pep_caps_t *c, const char *full, const pl_stanza_t *presence, const char *feature)
{
    pl_caps_ref_t ref;
    if (!presence_caps(presence, &ref))
        return 0;
    pthread_mutex_lock(&c->lock);
    caps_entry_t *e = lookup(c, full, &ref);
    int has = e && bsearch(&feature, e->features, e->n, sizeof(char *), cmp_str) != NULL;
    pthread_mutex_unlock(&c->lock);
    return has;
}

int pep_caps_interests(pep_caps_t *c, const char *full, const pl_stanza_t *presence, char ***out,
                       size_t *n)
{
    *out = NULL;
    *n = 0;
    pl_caps_ref_t ref;
    if (!presence_caps(presence, &ref))
        return 0;
    pthread_mutex_lock(&c->lock);
    caps_entry_t *e = lookup(c, full, &ref);
    if (e) {
        static const char suffix[] = "+notify";
        const size_t sl = sizeof(suffix) - 1;
        for (size_t i = 0; i < e->n; i++) {
            size_t len = strlen(e->features[i]);
            if (len > sl && len - sl <= PEP_MAX_NODE_NAME &&
                strcmp(e->features[i] + len - sl, suffix) == 0) {
                *out = pl_xrealloc(*out, (*n + 1) * sizeof(char *));
                (*out)[(*n)++] = pl_xstrndup(e->features[i], len - sl);
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    return e ? 1 : -1;
}

void pep_caps_forget(pep_caps_t *c, const char *full)
{
    pthread_mutex_lock(&c->lock);
    caps_entry_t *e = pl_map_del(&c->resources, full);
    entry_free(&e);
    pthread_mutex_unlock(&c->lock);
}

/* Drops the least recently used shared entry (lock held).  A scan, but it
 * only happens when a new ver is learnt with the cache full. */
static void evict_one(pep_caps_t *c)
{
    size_t pos = 0, best_pos = 0;
    const char *key;
    void *v;
    const char *best = NULL;
    uint64_t oldest = UINT64_MAX;
    while (pl_map_iter(&c->shared, &pos, &key, &v)) {
        caps_entry_t *e = v;
        if (e->used < oldest) {
            oldest = e->used;
            best = key;
            best_pos = pos;
        }
    }
    (void)best_pos;
    if (best) {
        char *k = pl_xstrdup(best);
        caps_entry_t *e = pl_map_del(&c->shared, k);
        entry_free(&e);
        free(k);
    }
}

/* The features of a disco#info answer, sorted, as a new entry. */
static caps_entry_t *entry_from_query(const pl_xml_t *query, const char *ver)
{
    caps_entry_t *e = pl_xcalloc(1, sizeof(*e));
    e->ver = pl_xstrdup(ver);
    for (const pl_xml_t *f = pl_xml_child(query, "feature", PL_NS_DISCO_INFO);
         f && e->n < PL_CAPS_MAX_FEATURES; f = pl_xml_next(f, "feature", PL_NS_DISCO_INFO)) {
        const char *var = pl_xml_attr(f, "var");
        if (!var)
            continue;
        e->features = pl_xrealloc(e->features, (e->n + 1) * sizeof(char *));
        e->features[e->n++] = pl_xstrdup(var);
    }
    qsort(e->features, e->n, sizeof(char *), cmp_str);
    return e;
}

/* ---- asking ---- */

typedef struct ask {
    pep_state_t *st;
    char *key;  /* the pending entry */
    char *full; /* who was asked */
    char *hash; /* NULL: legacy caps */
    char *ver;
} ask_t;

static void ask_free(ask_t **ap)
{
    ask_t *a = *ap;
    if (!a)
        return;
    *ap = NULL;
    free(a->key);
    free(a->full);
    free(a->hash);
    free(a->ver);
    free(a);
}

/* Sends the waiters their last items now that their features are known. */
static void serve_waiters(pep_state_t *st, caps_pending_t *p)
{
    pl_server_t *srv = pl_module_server(st->ctx);
    for (size_t i = 0; i < p->nwaiters; i++) {
        const char *full = p->waiters[i];
        pl_jid_t j;
        if (pl_jid_parse(&j, full) != 0)
            continue;
        pl_resource_t res[PEP_MAX_RESOURCES];
        size_t n = pl_server_resources(srv, j.bare, res, PEP_MAX_RESOURCES);
        for (size_t r = 0; r < n; r++) {
            if (!res[r].available || strcmp(res[r].jid->full, full) != 0)
                continue;
            char **interests;
            size_t ni;
            if (pep_caps_interests(st->caps, full, res[r].presence, &interests, &ni) == 1) {
                pep_send_last_items(st, full, interests, ni);
                pep_strings_free(&interests, ni);
            }
        }
        pl_resources_release(res, n);
        pl_jid_deinit(&j);
    }
}

static void on_answer(void *ud, const pl_stanza_t *response)
{
    ask_t *a = ud;
    pep_state_t *st = a->st;
    pep_caps_t *c = st->caps;
    const char *type = response ? pl_stanza_attr(response, "type") : NULL;
    const pl_xml_t *query = type && !strcmp(type, "result")
                                ? pl_xml_child(pl_stanza_root(response), "query", PL_NS_DISCO_INFO)
                                : NULL;
    int verified = query && a->hash && pl_caps_verify(query, a->hash, a->ver) == 1;
    pthread_mutex_lock(&c->lock);
    caps_pending_t *p = pl_map_del(&c->pending, a->key);
    if (query) {
        caps_entry_t *e = entry_from_query(query, a->ver);
        e->used = ++c->tick;
        if (verified) {
            while (c->shared.count >= c->max)
                evict_one(c);
            caps_entry_t *replaced = pl_map_put(&c->shared, a->key, e);
            entry_free(&replaced);
        } else {
            caps_entry_t *replaced = pl_map_put(&c->resources, a->full, e);
            entry_free(&replaced);
        }
    }
    pthread_mutex_unlock(&c->lock);
    pl_module_log(st->ctx, PL_LOG_DEBUG, "caps_answer", "jid=%s ver=%s answered=%d verified=%d",
                  a->full, a->ver, query != NULL, verified);
    if (p) {
        if (query)
            serve_waiters(st, p);
        pending_free(&p);
    }
    ask_free(&a);
}

void pep_caps_learn(pep_state_t *st, const char *full, const pl_caps_ref_t *ref)
{
    pep_caps_t *c = st->caps;
    pl_buf_t k;
    pl_buf_init(&k);
    /* Legacy caps (no hash) cannot be verified: one question per resource. */
    if (ref->hash)
        shared_key(&k, ref->hash, ref->ver);
    else
        pl_buf_puts(&k, full);
    int ask = 0;
    pthread_mutex_lock(&c->lock);
    caps_pending_t *p = pl_map_get(&c->pending, pl_buf_cstr(&k));
    if (!p && c->pending.count < c->max_pending) {
        p = pl_xcalloc(1, sizeof(*p));
        pl_map_put(&c->pending, pl_buf_cstr(&k), p);
        ask = 1;
    }
    if (p && p->nwaiters < CAPS_MAX_WAITERS)
        p->waiters[p->nwaiters++] = pl_xstrdup(full);
    pthread_mutex_unlock(&c->lock);
    if (ask) {
        ask_t *a = pl_xcalloc(1, sizeof(*a));
        a->st = st;
        a->key = pl_xstrdup(pl_buf_cstr(&k));
        a->full = pl_xstrdup(full);
        a->hash = ref->hash ? pl_xstrdup(ref->hash) : NULL;
        a->ver = pl_xstrdup(ref->ver);
        const char *host = pl_host_name(pl_module_host(st->ctx));
        pl_buf_t node;
        pl_buf_init(&node);
        pl_buf_printf(&node, "%s#%s", ref->node, ref->ver);
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", "get");
        pl_build_attr(b, "from", host);
        pl_build_attr(b, "to", full);
        pl_build_child(b, "query", PL_NS_DISCO_INFO);
        pl_build_attr(b, "node", pl_buf_cstr(&node));
        pl_buf_deinit(&node);
        pl_module_log(st->ctx, PL_LOG_DEBUG, "caps_ask", "jid=%s ver=%s", full, ref->ver);
        if (pl_server_send_iq_take(pl_module_server(st->ctx), pl_build_finish(b),
                                   CAPS_ASK_TIMEOUT_MS, on_answer, a) != 0)
            on_answer(a, NULL);
    }
    pl_buf_deinit(&k);
}
