/* blocking.c — XEP-0191 blocking command: the user's blocklist (get, block,
 * unblock, unblock all), kept in step across the user's resources by pushes,
 * and what it does to traffic while a JID is on it: nothing from that JID
 * reaches the user, nothing from the user reaches it, and the user appears
 * offline to it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/util.h"
#include "storage/roster.h"
#include "storage/storage.h"
#include "xmpp/ns.h"

#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_BLOCKING_ERRORS "urn:xmpp:blocking:errors"

/* The module's session flags (pl_module_session_flag). */
enum {
    BLOCKING_FLAG_LIST, /* asked for its blocklist, so gets blocklist pushes (XEP-0191 §3.3) */
    BLOCKING_NFLAGS,
};

#define BLOCKING_KEY_MAX 511      /* LMDB's key limit */
#define BLOCKING_MAX_RESOURCES 64 /* resources of one account looked at */
#define BLOCKING_MAX_LABELS 16    /* parent domains tried for a domain item */

/* Records in the store "blocking.items", all under the owner's bare JID:
 *   owner '\0' <jid>     one per blocked JID (value "1"): the lookups
 *   owner '\0' "\x01n"   the number of items, present only when > 0, so a
 *                        user without a blocklist costs one lookup
 *   owner '\0' "\x01list" the JIDs, '\n'-separated, in blocking order: the
 *                        blocklist get and "unblock all"
 * A JID never contains control characters, so the sub-keys cannot clash. */
#define SUB_COUNT "\x01n"
#define SUB_LIST "\x01list"

typedef struct blocking_conf {
    long long max_items;
} blocking_conf_t;

typedef struct blocking_data {
    pl_kv_t *kv;
    pl_roster_t *roster;
} blocking_data_t;

static blocking_data_t *data_of(const pl_module_ctx_t *ctx)
{
    return pl_module_data(ctx);
}

/* ---- keys and lookups ---- */

/* owner '\0' sub into k; -1 when longer than a storage key may be. */
static int make_key(pl_buf_t *k, const char *owner, const char *sub)
{
    pl_buf_reset(k);
    pl_buf_puts(k, owner);
    pl_buf_append(k, "", 1);
    pl_buf_puts(k, sub);
    return k->len <= BLOCKING_KEY_MAX ? 0 : -1;
}

static int has_record(pl_kv_t *kv, const char *owner, const char *sub, pl_buf_t *k, pl_buf_t *v)
{
    return make_key(k, owner, sub) == 0 && pl_kv_get(kv, k->data, k->len, v) == 1;
}

/* The server an account lives on ("example.test" for "a@example.test"). */
static const char *owner_domain(const char *owner)
{
    const char *at = strchr(owner, '@');
    return at ? at + 1 : owner;
}

/* Never blocked, whatever the list says: the user's own account (so every
 * resource still reaches the others) and the user's own server (so the
 * blocklist itself can always be changed). */
static int exempt(const char *owner, const pl_jid_t *j)
{
    if (j->local)
        return strcmp(j->bare, owner) == 0;
    return !j->resource && strcmp(j->domain, owner_domain(owner)) == 0;
}

/* 1 when `owner`'s blocklist covers `j`, in the order of XEP-0191 §3.1:
 * user@domain/resource, user@domain, domain/resource, then the domain and
 * every domain it is a subdomain of. */
static int blocking_covers(pl_kv_t *kv, const char *owner, const pl_jid_t *j)
{
    if (!kv || !j->domain || exempt(owner, j))
        return 0;
    pl_buf_t k, v, cand;
    pl_buf_init(&k);
    pl_buf_init(&v);
    pl_buf_init(&cand);
    int hit = 0;
    if (!has_record(kv, owner, SUB_COUNT, &k, &v))
        goto out;
    if (j->local && j->resource && has_record(kv, owner, j->full, &k, &v)) {
        hit = 1;
        goto out;
    }
    if (j->local && has_record(kv, owner, j->bare, &k, &v)) {
        hit = 1;
        goto out;
    }
    if (j->resource) {
        pl_buf_printf(&cand, "%s/%s", j->domain, j->resource);
        if (has_record(kv, owner, pl_buf_cstr(&cand), &k, &v)) {
            hit = 1;
            goto out;
        }
    }
    const char *d = j->domain;
    for (int i = 0; d && *d && i < BLOCKING_MAX_LABELS; i++) {
        if (has_record(kv, owner, d, &k, &v)) {
            hit = 1;
            break;
        }
        d = strchr(d, '.');
        d = d ? d + 1 : NULL;
    }
out:
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    pl_buf_deinit(&cand);
    return hit;
}

/* The same rule against one item held in memory. */
static int item_covers(const pl_jid_t *item, const pl_jid_t *j)
{
    if (item->local) {
        if (!j->local || strcmp(item->bare, j->bare) != 0)
            return 0;
        return !item->resource || (j->resource && strcmp(item->resource, j->resource) == 0);
    }
    if (item->resource)
        return j->resource && strcmp(item->domain, j->domain) == 0 &&
               strcmp(item->resource, j->resource) == 0;
    size_t dl = strlen(j->domain), il = strlen(item->domain);
    if (dl == il)
        return strcmp(j->domain, item->domain) == 0;
    return dl > il && j->domain[dl - il - 1] == '.' &&
           strcmp(j->domain + dl - il, item->domain) == 0;
}

/* ---- the list record ---- */

typedef struct jids {
    char **v;
    size_t n, cap;
} jids_t;

static void jids_add(jids_t *l, const char *s, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = pl_xrealloc(l->v, l->cap * sizeof(char *));
    }
    l->v[l->n++] = pl_xstrndup(s, len);
}

static void jids_deinit(jids_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void jids_parse(jids_t *l, const char *data, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || data[i] == '\n') {
            if (i > start)
                jids_add(l, data + start, i - start);
            start = i + 1;
        }
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the owner's list (synchronous read); 0 or <0. */
static int list_read(pl_kv_t *kv, const char *owner, jids_t *out)
{
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    int rc = make_key(&k, owner, SUB_LIST) == 0 ? pl_kv_get(kv, k.data, k.len, &v) : 0;
    if (rc == 1)
        jids_parse(out, v.data, v.len);
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc < 0 ? rc : 0;
}

/* ---- a change, from the request to its pushes ---- */

typedef enum change_op { OP_BLOCK = 1, OP_UNBLOCK, OP_UNBLOCK_ALL } change_op_t;

typedef struct change {
    pl_server_t *server;
    pl_module_ctx_t *module;
    pl_kv_t *kv;
    change_op_t op;
    long long max_items;
    pl_stanza_t *request;   /* the client's IQ, for the reply */
    char *owner;            /* bare JID */
    char *requester;        /* full JID */
    char *reply_from;       /* the request's 'to', or the host */
    jids_t items;           /* normalised, sorted, unique; "unblock all": what was removed */
    unsigned char *changed; /* per item: really added / removed by this change */
} change_t;

static void change_free(change_t **cp)
{
    change_t *c = *cp;
    if (!c)
        return;
    *cp = NULL;
    pl_stanza_unref(&c->request);
    free(c->owner);
    free(c->requester);
    free(c->reply_from);
    jids_deinit(&c->items);
    free(c->changed);
    free(c);
}

static int put_item(pl_wtxn_t *txn, change_t *c, const char *jid, pl_buf_t *k)
{
    make_key(k, c->owner, jid);
    return pl_kv_put(txn, c->kv, k->data, k->len, "1", 1);
}

/* Writes the list and count records for `list` (removes both when empty). */
static int write_list(pl_wtxn_t *txn, change_t *c, const jids_t *list, pl_buf_t *k)
{
    int rc;
    if (list->n == 0) {
        make_key(k, c->owner, SUB_LIST);
        if ((rc = pl_kv_del(txn, c->kv, k->data, k->len)) < 0)
            return rc;
        make_key(k, c->owner, SUB_COUNT);
        rc = pl_kv_del(txn, c->kv, k->data, k->len);
        return rc < 0 ? rc : 0;
    }
    pl_buf_t v;
    pl_buf_init(&v);
    for (size_t i = 0; i < list->n; i++) {
        if (i)
            pl_buf_append(&v, "\n", 1);
        pl_buf_puts(&v, list->v[i]);
    }
    make_key(k, c->owner, SUB_LIST);
    rc = pl_kv_put(txn, c->kv, k->data, k->len, v.data, v.len);
    if (rc == 0) {
        pl_buf_reset(&v);
        pl_buf_printf(&v, "%zu", list->n);
        make_key(k, c->owner, SUB_COUNT);
        rc = pl_kv_put(txn, c->kv, k->data, k->len, v.data, v.len);
    }
    pl_buf_deinit(&v);
    return rc;
}

static int run_block(pl_wtxn_t *txn, change_t *c, jids_t *cur, pl_buf_t *k, pl_buf_t *v)
{
    size_t added = 0;
    for (size_t i = 0; i < c->items.n; i++) {
        make_key(k, c->owner, c->items.v[i]);
        int rc = pl_kv_txn_get(txn, c->kv, k->data, k->len, v);
        if (rc < 0)
            return rc;
        c->changed[i] = rc == 0;
        added += rc == 0;
    }
    if ((long long)(cur->n + added) > c->max_items)
        return -E2BIG;
    for (size_t i = 0; i < c->items.n; i++) {
        if (!c->changed[i])
            continue;
        int rc = put_item(txn, c, c->items.v[i], k);
        if (rc < 0)
            return rc;
        jids_add(cur, c->items.v[i], strlen(c->items.v[i]));
    }
    return added ? write_list(txn, c, cur, k) : 0;
}

static int run_unblock(pl_wtxn_t *txn, change_t *c, jids_t *cur, pl_buf_t *k)
{
    size_t removed = 0;
    for (size_t i = 0; i < c->items.n; i++) {
        make_key(k, c->owner, c->items.v[i]);
        int rc = pl_kv_del(txn, c->kv, k->data, k->len);
        if (rc < 0)
            return rc;
        c->changed[i] = rc == 1;
        removed += rc == 1;
    }
    if (!removed)
        return 0;
    jids_t keep = {0};
    for (size_t i = 0; i < cur->n; i++) {
        char **hit = bsearch(&cur->v[i], c->items.v, c->items.n, sizeof(char *), str_cmp);
        if (!hit)
            jids_add(&keep, cur->v[i], strlen(cur->v[i]));
    }
    int rc = write_list(txn, c, &keep, k);
    jids_deinit(&keep);
    return rc;
}

static int run_unblock_all(pl_wtxn_t *txn, change_t *c, jids_t *cur, pl_buf_t *k)
{
    for (size_t i = 0; i < cur->n; i++) {
        make_key(k, c->owner, cur->v[i]);
        int rc = pl_kv_del(txn, c->kv, k->data, k->len);
        if (rc < 0)
            return rc;
    }
    /* What was removed is what the presence side must undo. */
    jids_deinit(&c->items);
    c->items = *cur;
    memset(cur, 0, sizeof(*cur));
    free(c->changed);
    c->changed = pl_xcalloc(c->items.n + 1, 1);
    memset(c->changed, 1, c->items.n);
    jids_t none = {0};
    return write_list(txn, c, &none, k);
}

/* On the storage thread: read-modify-write of the owner's records, all in
 * this job's nested transaction (a failure leaves nothing half-done). */
static int change_run(pl_wtxn_t *txn, void *ud)
{
    change_t *c = ud;
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    jids_t cur = {0};
    make_key(&k, c->owner, SUB_LIST);
    int rc = pl_kv_txn_get(txn, c->kv, k.data, k.len, &v);
    if (rc == 1)
        jids_parse(&cur, v.data, v.len);
    if (rc >= 0) {
        switch (c->op) {
        case OP_BLOCK: rc = run_block(txn, c, &cur, &k, &v); break;
        case OP_UNBLOCK: rc = run_unblock(txn, c, &cur, &k); break;
        case OP_UNBLOCK_ALL: rc = run_unblock_all(txn, c, &cur, &k); break;
        }
    }
    jids_deinit(&cur);
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc;
}

/* Sends `reply` (consumed) to the requesting resource. */
static void reply_later(change_t *c, pl_stanza_t *reply)
{
    pl_route_take(c->server, pl_stanza_readdress(reply, c->reply_from, c->requester));
    pl_stanza_unref(&reply);
}

/* The block/unblock push of XEP-0191 §3.3-3.5 to every resource of the
 * owner that asked for the blocklist (the requester included). */
static void push_change(change_t *c)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    char id[24] = "push-";
    pl_random_id(id + 5, 12);
    pl_build_attr(b, "type", "set");
    pl_build_attr(b, "id", id);
    pl_build_attr(b, "from", c->owner);
    pl_build_child(b, c->op == OP_BLOCK ? "block" : "unblock", NS_BLOCKING);
    for (size_t i = 0; c->op != OP_UNBLOCK_ALL && i < c->items.n; i++) {
        pl_build_child(b, "item", NS_BLOCKING);
        pl_build_attr(b, "jid", c->items.v[i]);
        pl_build_up(b);
    }
    pl_stanza_t *push = pl_build_finish(b);
    unsigned asked = pl_module_session_flag(c->module, BLOCKING_FLAG_LIST);
    pl_resource_t res[BLOCKING_MAX_RESOURCES];
    size_t n = pl_server_resources(c->server, c->owner, res, BLOCKING_MAX_RESOURCES);
    for (size_t i = 0; i < n; i++) {
        if (!(res[i].flags & asked))
            continue;
        pl_stanza_t *one = pl_stanza_readdress(push, PL_KEEP, res[i].jid->full);
        pl_session_send_stanza(res[i].session, one);
        pl_stanza_unref(&one);
    }
    pl_resources_release(res, n);
    pl_stanza_unref(&push);
}

/* ---- presence at block and unblock time ---- */

/* The changed items, parsed once for matching against contacts. */
typedef struct parsed {
    pl_jid_t *v;
    size_t n;
} parsed_t;

static void parsed_load(parsed_t *p, const change_t *c)
{
    p->v = pl_xcalloc(c->items.n + 1, sizeof(pl_jid_t));
    p->n = 0;
    for (size_t i = 0; i < c->items.n; i++)
        if (c->changed[i] && pl_jid_parse(&p->v[p->n], c->items.v[i]) == 0)
            p->n++;
}

static void parsed_deinit(parsed_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        pl_jid_deinit(&p->v[i]);
    free(p->v);
}

/* Roster contacts with a subscription, copied out of the read. */
typedef struct contact {
    char *jid;
    unsigned sub;
} contact_t;

typedef struct contacts {
    contact_t *v;
    size_t n, cap;
} contacts_t;

static int collect_contact(void *ud, const pl_roster_item_t *it)
{
    contacts_t *cs = ud;
    if (it->sub == PL_SUB_NONE)
        return 0;
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 32;
        cs->v = pl_xrealloc(cs->v, cs->cap * sizeof(contact_t));
    }
    cs->v[cs->n++] = (contact_t){.jid = pl_xstrdup(it->jid), .sub = it->sub};
    return 0;
}

static void contacts_deinit(contacts_t *cs)
{
    for (size_t i = 0; i < cs->n; i++)
        free(cs->v[i].jid);
    free(cs->v);
}

static void send_unavailable(pl_session_t *to_session, const char *from, const char *to)
{
    pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
    pl_build_attr(b, "type", "unavailable");
    pl_build_attr(b, "from", from);
    pl_build_attr(b, "to", to);
    pl_stanza_t *st = pl_build_finish(b);
    pl_session_send_stanza(to_session, st);
    pl_stanza_unref(&st);
}

/* Blocked contacts that could see the user's presence (a FROM
 * subscription) now see every available resource of the user go offline
 * (XEP-0191 §3.3).  Sent to their sessions directly: the filters below
 * would drop it now that the block is in force. */
static void hide_presence(change_t *c, const contacts_t *cs, const parsed_t *items)
{
    pl_resource_t mine[BLOCKING_MAX_RESOURCES];
    size_t nmine = pl_server_resources(c->server, c->owner, mine, BLOCKING_MAX_RESOURCES);
    for (size_t i = 0; i < cs->n && nmine; i++) {
        if (!(cs->v[i].sub & PL_SUB_FROM))
            continue;
        pl_resource_t theirs[BLOCKING_MAX_RESOURCES];
        size_t nt = pl_server_resources(c->server, cs->v[i].jid, theirs, BLOCKING_MAX_RESOURCES);
        for (size_t t = 0; t < nt; t++) {
            int covered = 0;
            for (size_t k = 0; k < items->n && !covered; k++)
                covered = item_covers(&items->v[k], theirs[t].jid);
            if (!covered || !theirs[t].available)
                continue;
            for (size_t m = 0; m < nmine; m++)
                if (mine[m].available)
                    send_unavailable(theirs[t].session, mine[m].jid->full, theirs[t].jid->full);
        }
        pl_resources_release(theirs, nt);
    }
    pl_resources_release(mine, nmine);
}

static void route_probe(pl_server_t *srv, const char *from, const char *to)
{
    pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
    pl_build_attr(b, "type", "probe");
    pl_build_attr(b, "from", from);
    pl_build_attr(b, "to", to);
    pl_route_take(srv, pl_build_finish(b));
}

/* After an unblock, presence flows again both ways as the subscriptions
 * allow (XEP-0191 §3.4).  Rather than re-deciding what each side may see,
 * each side is probed on the other's behalf: the presence module answers
 * by its own rules, and the filters below still drop what another item of
 * the list covers. */
static void show_presence(change_t *c, const contacts_t *cs, const parsed_t *items)
{
    for (size_t i = 0; i < cs->n; i++) {
        pl_jid_t contact;
        if (pl_jid_parse(&contact, cs->v[i].jid) != 0)
            continue;
        const char *only = NULL; /* an item for one resource of the contact */
        int match = 0;
        for (size_t k = 0; k < items->n && !match; k++) {
            const pl_jid_t *it = &items->v[k];
            if (it->local && it->resource && strcmp(it->bare, contact.bare) == 0) {
                match = 1;
                only = it->full;
            } else if (!it->resource) {
                match = item_covers(it, &contact);
            }
        }
        if (match && (cs->v[i].sub & PL_SUB_FROM))
            route_probe(c->server, only ? only : contact.bare, c->owner);
        if (match && (cs->v[i].sub & PL_SUB_TO))
            route_probe(c->server, c->owner, contact.bare);
        pl_jid_deinit(&contact);
    }
}

static void presence_effects(change_t *c)
{
    pl_roster_t *r = data_of(c->module)->roster;
    if (!r)
        return;
    parsed_t items;
    parsed_load(&items, c);
    contacts_t cs = {0};
    if (items.n && pl_roster_list(r, c->owner, 1, collect_contact, &cs) >= 0) {
        if (c->op == OP_BLOCK)
            hide_presence(c, &cs, &items);
        else
            show_presence(c, &cs, &items);
    }
    contacts_deinit(&cs);
    parsed_deinit(&items);
}

/* Back on the requester's loop once the change is durable. */
static void change_done(void *ud, int status)
{
    change_t *c = ud;
    const blocking_conf_t *conf = pl_module_conf(c->module);
    if (status == -E2BIG) {
        char text[96];
        snprintf(text, sizeof(text), "a blocklist holds at most %lld JIDs", conf->max_items);
        reply_later(c, pl_stanza_error(c->request, PL_ERR_NOT_ACCEPTABLE, text));
    } else if (status < 0) {
        pl_module_log(c->module, PL_LOG_ERROR, "write_failed", "jid=%s error=%d", c->owner, status);
        reply_later(c, pl_stanza_error(c->request, PL_ERR_INTERNAL_SERVER_ERROR, NULL));
    } else {
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", "result");
        const char *id = pl_stanza_attr(c->request, "id");
        if (id)
            pl_build_attr(b, "id", id);
        reply_later(c, pl_build_finish(b));
        push_change(c);
        presence_effects(c);
        pl_module_log(c->module, PL_LOG_INFO,
                      c->op == OP_BLOCK     ? "block"
                      : c->op == OP_UNBLOCK ? "unblock"
                                            : "unblock_all",
                      "jid=%s items=%zu", c->owner, c->items.n);
    }
    change_free(&c);
}

/* ---- the protocol ---- */

/* Only a user's own resources manage the user's blocklist. */
static int own_request(const pl_hook_ctx_t *hc)
{
    return hc->session && hc->from->local && hc->from->resource &&
           strcmp(hc->from->domain, pl_host_name(hc->host)) == 0;
}

static pl_hook_result_t blocklist_get(pl_hook_ctx_t *hc)
{
    if (!own_request(hc)) {
        pl_reply_error(hc, PL_ERR_NOT_ALLOWED, "only an account has a blocklist");
        return PL_DONE;
    }
    /* Marked before reading: a change committing meanwhile is either in the
     * answer or pushed after it. */
    pl_session_set_flags(hc->session, pl_module_session_flag(hc->module, BLOCKING_FLAG_LIST), 0);
    jids_t list = {0};
    if (list_read(data_of(hc->module)->kv, hc->from->bare, &list) < 0) {
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        return PL_DONE;
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "blocklist", NS_BLOCKING);
    for (size_t i = 0; i < list.n; i++) {
        pl_build_child(b, "item", NS_BLOCKING);
        pl_build_attr(b, "jid", list.v[i]);
        pl_build_up(b);
    }
    pl_reply_take(hc, pl_build_finish(b));
    jids_deinit(&list);
    return PL_DONE;
}

/* Reads the <item/>s of a block/unblock into c->items (normalised, sorted,
 * unique).  PL_ERR_NONE, or a stanza error condition with its text in *why. */
static pl_stanza_err_t read_items(pl_hook_ctx_t *hc, change_t *c, const char **why)
{
    pl_buf_t k;
    pl_buf_init(&k);
    pl_stanza_err_t err = PL_ERR_NONE;
    for (const pl_xml_t *it = pl_xml_child(hc->payload, "item", NS_BLOCKING); it && !err;
         it = pl_xml_next(it, "item", NS_BLOCKING)) {
        const char *s = pl_xml_attr(it, "jid");
        pl_jid_t j;
        if (!s) {
            err = PL_ERR_BAD_REQUEST;
            *why = "an <item/> needs a 'jid'";
        } else if (pl_jid_parse(&j, s) != 0) {
            err = PL_ERR_JID_MALFORMED;
            *why = "not a valid JID";
        } else {
            if (make_key(&k, c->owner, j.full) != 0) {
                err = PL_ERR_NOT_ACCEPTABLE;
                *why = "the JID is too long to block";
            } else if (c->op == OP_BLOCK && exempt(c->owner, &j)) {
                err = PL_ERR_NOT_ACCEPTABLE;
                *why = "neither your own account nor your server can be blocked";
            } else if ((long long)c->items.n >= c->max_items) {
                err = PL_ERR_NOT_ACCEPTABLE;
                *why = "more items than a blocklist may hold";
            } else {
                jids_add(&c->items, j.full, strlen(j.full));
            }
            pl_jid_deinit(&j);
        }
    }
    pl_buf_deinit(&k);
    if (err)
        return err;
    if (c->items.n > 1)
        qsort(c->items.v, c->items.n, sizeof(char *), str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < c->items.n; i++) {
        if (u && strcmp(c->items.v[u - 1], c->items.v[i]) == 0)
            free(c->items.v[i]);
        else
            c->items.v[u++] = c->items.v[i];
    }
    c->items.n = u;
    return PL_ERR_NONE;
}

static pl_hook_result_t blocking_set(pl_hook_ctx_t *hc)
{
    if (!own_request(hc)) {
        pl_reply_error(hc, PL_ERR_NOT_ALLOWED, "only an account has a blocklist");
        return PL_DONE;
    }
    const blocking_conf_t *conf = pl_module_conf(hc->module);
    change_t *c = pl_xcalloc(1, sizeof(*c));
    c->server = hc->server;
    c->module = hc->module;
    c->kv = data_of(hc->module)->kv;
    c->op = strcmp(hc->payload->name, "block") == 0 ? OP_BLOCK : OP_UNBLOCK;
    c->max_items = conf->max_items;
    c->owner = pl_xstrdup(hc->from->bare);
    const char *why = NULL;
    pl_stanza_err_t err = read_items(hc, c, &why);
    if (!err && c->op == OP_BLOCK && c->items.n == 0) {
        err = PL_ERR_BAD_REQUEST;
        why = "<block/> needs at least one <item/>";
    }
    if (err) {
        pl_reply_error(hc, err, why);
        change_free(&c);
        return PL_DONE;
    }
    if (c->op == OP_UNBLOCK && c->items.n == 0)
        c->op = OP_UNBLOCK_ALL;
    c->changed = pl_xcalloc(c->items.n + 1, 1);
    c->request = pl_stanza_ref(hc->stanza);
    c->requester = pl_xstrdup(hc->from->full);
    c->reply_from =
        pl_xstrdup(pl_stanza_attr(hc->stanza, "to") ? hc->to->full : pl_host_name(hc->host));
    int rc = pl_server_write(hc->server, change_run, change_done, c);
    if (rc != 0) {
        pl_reply_error(
            hc, rc == -EAGAIN ? PL_ERR_RESOURCE_CONSTRAINT : PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        change_free(&c);
    }
    return PL_DONE;
}

/* ---- enforcement ---- */

/* <not-acceptable/> with <blocked/> (XEP-0191 §3.3) for the user's own
 * stanza to a JID on the user's blocklist. */
static void reply_blocked(pl_hook_ctx_t *hc)
{
    const char *id = pl_stanza_attr(hc->stanza, "id");
    pl_builder_t *b = pl_build_new(pl_stanza_name(hc->stanza), PL_NS_CLIENT);
    pl_build_attr(b, "type", "error");
    if (id)
        pl_build_attr(b, "id", id);
    pl_build_child(b, "error", PL_NS_CLIENT);
    pl_build_attr(b, "type", "cancel"); /* as XEP-0191 §3.3 shows it, not the default modify */
    pl_build_child(b, pl_stanza_err_name(PL_ERR_NOT_ACCEPTABLE), PL_NS_STANZA_ERRORS);
    pl_build_up(b);
    pl_build_child(b, "blocked", NS_BLOCKING_ERRORS);
    pl_build_up(b);
    pl_build_up(b);
    pl_reply_take(hc, pl_build_finish(b));
}

static int is_request(const pl_hook_ctx_t *hc)
{
    return strcmp(hc->type, "get") == 0 || strcmp(hc->type, "set") == 0;
}

/* PL_EV_PRE_ROUTE: every stanza a local session or a component sends with
 * a 'to'.  Refuses what a user sends to a JID they blocked, and IQs to an
 * account that blocked the sender (IQs to a full JID meet no hook on the
 * recipient's side, so both directions are decided here). */
static pl_hook_result_t blocking_outbound(pl_hook_ctx_t *hc)
{
    if (!hc->session || !pl_stanza_attr(hc->stanza, "to"))
        return PL_PASS;
    pl_kv_t *kv = data_of(hc->module)->kv;
    int iq = strcmp(pl_stanza_name(hc->stanza), "iq") == 0;
    if (hc->from->local && blocking_covers(kv, hc->from->bare, hc->to)) {
        /* Errors and IQ results are not answered, only held back. */
        if (strcmp(hc->type, "error") != 0 && (!iq || is_request(hc)))
            reply_blocked(hc);
        return PL_DONE;
    }
    if (iq && hc->to->local && blocking_covers(kv, hc->to->bare, hc->from)) {
        if (is_request(hc))
            pl_reply_error(hc, PL_ERR_SERVICE_UNAVAILABLE, NULL);
        return PL_DONE;
    }
    return PL_PASS;
}

/* PL_EV_MESSAGE to a local account, before delivery or offline storage.
 * From a JID the recipient blocked: service-unavailable to a sending
 * client (XEP-0191 §3.3), as if the user did not exist.  From a local user
 * who blocked the recipient: server-made traffic on the user's behalf (PEP
 * notifications...) is dropped; the user's own was refused before routing. */
static pl_hook_result_t blocking_inbound_message(pl_hook_ctx_t *hc)
{
    pl_kv_t *kv = data_of(hc->module)->kv;
    if (blocking_covers(kv, hc->to->bare, hc->from)) {
        if (hc->session && strcmp(hc->type, "error") != 0)
            pl_reply_error(hc, PL_ERR_SERVICE_UNAVAILABLE, NULL);
        return PL_DONE;
    }
    if (hc->from->local && blocking_covers(kv, hc->from->bare, hc->to))
        return PL_DONE;
    return PL_PASS;
}

/* PL_EV_PRESENCE to a local account: dropped silently either way, which is
 * what keeps the user offline to a blocked contact — broadcasts and probe
 * answers of the presence module are routed without an origin and meet
 * this hook on the contact's side. */
static pl_hook_result_t blocking_inbound_presence(pl_hook_ctx_t *hc)
{
    pl_kv_t *kv = data_of(hc->module)->kv;
    if (blocking_covers(kv, hc->to->bare, hc->from) ||
        (hc->from->local && blocking_covers(kv, hc->from->bare, hc->to)))
        return PL_DONE;
    return PL_PASS;
}

/* ---- module ---- */

static int blocking_start(pl_module_ctx_t *ctx)
{
    blocking_data_t *d = pl_xcalloc(1, sizeof(*d));
    d->kv = pl_module_store(ctx, "items");
    if (!d->kv || pl_roster_open(pl_server_storage(pl_module_server(ctx)), &d->roster) != 0) {
        free(d);
        return -1;
    }
    pl_module_set_data(ctx, d);
    return 0;
}

static void blocking_stop(pl_module_ctx_t *ctx)
{
    free(pl_module_data(ctx));
    pl_module_set_data(ctx, NULL);
}

static const char *const features[] = {NS_BLOCKING, NULL};

static const pl_store_def_t stores[] = {
    {.name = "items", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_conf_def_t conf[] = {
    {.key = "max_items",
     .type = PL_CONF_INT,
     .offset = offsetof(blocking_conf_t, max_items),
     .def = "1000",
     .min = 1,
     .max = 100000,
     .help = "JIDs one blocklist may hold; more are refused with not-acceptable"},
    {0},
};

// clang-format off
static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_SELF, .ns = NS_BLOCKING,
     .element = "blocklist", .type = "get", .priority = PL_PRIO_HANDLER, .handler = blocklist_get},
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_SELF, .ns = NS_BLOCKING,
     .element = "block", .type = "set", .priority = PL_PRIO_HANDLER, .handler = blocking_set},
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_SELF, .ns = NS_BLOCKING,
     .element = "unblock", .type = "set", .priority = PL_PRIO_HANDLER, .handler = blocking_set},
    {.event = PL_EV_PRE_ROUTE, .priority = PL_PRIO_FILTER, .handler = blocking_outbound},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_BARE | PL_TO_FULL, .priority = PL_PRIO_FILTER,
     .handler = blocking_inbound_message},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_BARE | PL_TO_FULL, .priority = PL_PRIO_FILTER,
     .handler = blocking_inbound_presence},
    {0},
};
// clang-format on

const pl_module_desc_t pl_mod_blocking = {
    .name = "blocking",
    .abi = PL_MODULE_ABI,
    .description = "Blocking command (XEP-0191)",
    .conf = conf,
    .conf_size = sizeof(blocking_conf_t),
    .features = features,
    .stores = stores,
    .hooks = hooks,
    .start = blocking_start,
    .stop = blocking_stop,
    .session_flags = BLOCKING_NFLAGS,
};
