/* node.c — PEP nodes in the key-value stores.  A node record holds the
 * configuration and the item ids in publish order (so max_items trimming
 * and "last item" need no scan); each item's payload is its own record.
 * Record text: "v1 ACCESS PERSIST MAX SENDLAST\n" then one id per line (ids
 * never hold control characters: pep.c refuses them). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/pep/pep-private.h"
#include "xep/stored-xml.h"

void pep_node_conf_default(pep_node_conf_t *c)
{
    c->access = PEP_ACCESS_PRESENCE;
    c->persist = 1;
    c->max_items = 1;
    c->send_last = 1;
}

void pep_node_init(pep_node_t *n)
{
    memset(n, 0, sizeof(*n));
    pep_node_conf_default(&n->conf);
}

void pep_node_clear(pep_node_t *n)
{
    pep_strings_free(&n->ids, n->nids);
    n->nids = 0;
}

void pep_strings_free(char ***vp, size_t n)
{
    char **v = *vp;
    if (!v)
        return;
    *vp = NULL;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int pep_node_key(pl_buf_t *k, const char *owner, const char *node)
{
    pl_buf_reset(k);
    pl_buf_append(k, owner, strlen(owner) + 1);
    pl_buf_puts(k, node);
    return k->len <= PEP_KEY_MAX ? 0 : -1;
}

int pep_item_key(pl_buf_t *k, const char *owner, const char *node, const char *id)
{
    pl_buf_reset(k);
    pl_buf_append(k, owner, strlen(owner) + 1);
    pl_buf_append(k, node, strlen(node) + 1);
    pl_buf_puts(k, id);
    return k->len <= PEP_KEY_MAX ? 0 : -1;
}

void pep_count_key(pl_buf_t *k, const char *owner)
{
    pl_buf_reset(k);
    pl_buf_append(k, owner, strlen(owner) + 1);
}

static void node_encode(const pep_node_t *n, pl_buf_t *out)
{
    pl_buf_printf(out, "v1 %d %d %ld %d\n", (int)n->conf.access, n->conf.persist ? 1 : 0,
                  n->conf.max_items, n->conf.send_last ? 1 : 0);
    for (size_t i = 0; i < n->nids; i++)
        pl_buf_printf(out, "%s\n", n->ids[i]);
}

static int node_decode(const char *data, size_t len, pep_node_t *n)
{
    pep_node_init(n);
    const char *end = data + len, *nl = memchr(data, '\n', len);
    if (!nl || nl - data > 64)
        return -EBADMSG;
    char head[65];
    memcpy(head, data, (size_t)(nl - data));
    head[nl - data] = '\0';
    int access, persist, send_last;
    long max;
    if (sscanf(head, "v1 %d %d %ld %d", &access, &persist, &max, &send_last) != 4 || access < 0 ||
        access > PEP_ACCESS_WHITELIST || max < 1)
        return -EBADMSG;
    n->conf.access = (pep_access_t)access;
    n->conf.persist = persist != 0;
    n->conf.max_items = max;
    n->conf.send_last = send_last != 0;
    size_t cap = 0;
    for (const char *p = nl + 1; p < end;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            return -EBADMSG;
        if (n->nids == cap) {
            cap = cap ? cap * 2 : 8;
            n->ids = pl_xrealloc(n->ids, cap * sizeof(char *));
        }
        n->ids[n->nids++] = pl_xstrndup(p, (size_t)(e - p));
        p = e + 1;
    }
    return 0;
}

static int node_read(int found, pl_buf_t *val, pep_node_t *out)
{
    if (found != 1) {
        pep_node_init(out);
        return found;
    }
    int rc = node_decode(val->data, val->len, out);
    if (rc != 0) {
        pep_node_clear(out);
        return rc;
    }
    return 1;
}

int pep_node_get(pep_state_t *st, const char *owner, const char *node, pep_node_t *out)
{
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    int found = pep_node_key(&k, owner, node) == 0 ? pl_kv_get(st->nodes, k.data, k.len, &v) : 0;
    int rc = node_read(found, &v, out);
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc;
}

int pep_node_txn_get(pl_wtxn_t *txn, pep_state_t *st, const char *owner, const char *node,
                     pep_node_t *out)
{
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    int found =
        pep_node_key(&k, owner, node) == 0 ? pl_kv_txn_get(txn, st->nodes, k.data, k.len, &v) : 0;
    int rc = node_read(found, &v, out);
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc;
}

int pep_node_put(pl_wtxn_t *txn, pep_state_t *st, const char *owner, const char *node,
                 const pep_node_t *n)
{
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    int rc = -EINVAL;
    if (pep_node_key(&k, owner, node) == 0) {
        node_encode(n, &v);
        rc = pl_kv_put(txn, st->nodes, k.data, k.len, v.data, v.len);
    }
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc;
}

int pep_node_remove_id(pep_node_t *n, const char *id)
{
    for (size_t i = 0; i < n->nids; i++) {
        if (strcmp(n->ids[i], id) == 0) {
            free(n->ids[i]);
            memmove(&n->ids[i], &n->ids[i + 1], (n->nids - i - 1) * sizeof(char *));
            n->nids--;
            return 1;
        }
    }
    return 0;
}

void pep_node_push_id(pep_node_t *n, const char *id, long max, char ***dropped, size_t *ndropped)
{
    pep_node_remove_id(n, id);
    n->ids = pl_xrealloc(n->ids, (n->nids + 1) * sizeof(char *));
    n->ids[n->nids++] = pl_xstrdup(id);
    *dropped = NULL;
    *ndropped = 0;
    if (max < 1)
        max = 1;
    if ((long)n->nids <= max)
        return;
    size_t drop = n->nids - (size_t)max;
    *dropped = pl_xmalloc(drop * sizeof(char *));
    memcpy(*dropped, n->ids, drop * sizeof(char *));
    *ndropped = drop;
    memmove(n->ids, n->ids + drop, (n->nids - drop) * sizeof(char *));
    n->nids -= drop;
}

pl_stanza_t *pep_item_get(pep_state_t *st, const char *owner, const char *node, const char *id)
{
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    pl_stanza_t *item = NULL;
    if (pep_item_key(&k, owner, node, id) == 0 && pl_kv_get(st->items, k.data, k.len, &v) == 1)
        item = pl_stored_xml_decode(v.data, v.len);
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return item;
}

typedef struct each_ctx {
    int (*fn)(void *ud, const char *node);
    void *ud;
    size_t plen;
} each_ctx_t;

static int each_visit(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    each_ctx_t *e = ud;
    if (klen <= e->plen || klen - e->plen > PEP_MAX_NODE_NAME)
        return 0; /* the count record */
    char name[PEP_MAX_NODE_NAME + 1];
    memcpy(name, (const char *)key + e->plen, klen - e->plen);
    name[klen - e->plen] = '\0';
    return e->fn(e->ud, name);
}

int pep_node_each(pep_state_t *st, const char *owner, int (*fn)(void *ud, const char *node),
                  void *ud)
{
    pl_buf_t k;
    pl_buf_init(&k);
    pep_count_key(&k, owner);
    each_ctx_t e = {.fn = fn, .ud = ud, .plen = k.len};
    int rc = pl_kv_scan(st->nodes, k.data, k.len, each_visit, &e);
    pl_buf_deinit(&k);
    return rc;
}

int pep_items_delete_all(pl_wtxn_t *txn, pep_state_t *st, const char *owner, const char *node,
                         const pep_node_t *n)
{
    pl_buf_t k;
    pl_buf_init(&k);
    int rc = 0;
    for (size_t i = 0; i < n->nids && rc >= 0; i++)
        if (pep_item_key(&k, owner, node, n->ids[i]) == 0)
            rc = pl_kv_del(txn, st->items, k.data, k.len);
    pl_buf_deinit(&k);
    return rc < 0 ? rc : 0;
}

int pep_count_add(pl_wtxn_t *txn, pep_state_t *st, const char *owner, int delta, long max)
{
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    pep_count_key(&k, owner);
    int rc = pl_kv_txn_get(txn, st->nodes, k.data, k.len, &v);
    long count = rc == 1 ? strtol(pl_buf_cstr(&v), NULL, 10) : 0;
    if (rc >= 0) {
        count += delta;
        if (count < 0)
            count = 0;
        if (delta > 0 && count > max) {
            rc = -EDQUOT;
        } else {
            char num[32];
            int len = snprintf(num, sizeof(num), "%ld", count);
            rc = pl_kv_put(txn, st->nodes, k.data, k.len, num, (size_t)len);
        }
    }
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc;
}
