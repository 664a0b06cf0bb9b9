/* roster.c — the "roster" module: roster get and set (RFC 6121 §2) with
 * versioning (XEP-0237), pushes to every interested resource, and refusal
 * of roster pushes a client tries to send to someone else.  The items live
 * in storage/roster.c, shared with the presence module that changes
 * subscription states. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/util.h"
#include "storage/roster.h"
#include "xep/roster.h"
#include "xmpp/ns.h"

#define ROSTER_MAX_RESOURCES 64 /* resources of one account told of a removal */

typedef struct roster_conf {
    long long max_items;
} roster_conf_t;

/* ---- roster get ---- */

/* XEP-0237 versions are opaque strings; ours are decimal counters.  1 and
 * the number for a decimal string, 0 for anything else ("" included). */
static int parse_ver(const char *s, uint64_t *out)
{
    if (!s || !*s || strlen(s) > 20)
        return 0;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static int add_item(void *ud, const pl_roster_item_t *it)
{
    pl_roster_item_xml(ud, it);
    return 0;
}

static void send_full_roster(pl_hook_ctx_t *hc, pl_roster_t *r)
{
    /* The version is read before the items: if a change commits in between,
     * the client holds an item newer than its version and merely receives
     * it again in its next diff, never misses one. */
    char ver[24];
    snprintf(ver, sizeof(ver), "%" PRIu64, pl_roster_version(r, hc->from->bare));
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "query", PL_NS_ROSTER);
    pl_build_attr(b, "ver", ver);
    int rc = pl_roster_list(r, hc->from->bare, 0, add_item, b);
    if (rc < 0) {
        pl_build_abort(b);
        pl_module_log(hc->module, PL_LOG_ERROR, "roster.read_failed", "jid=%s error=%d",
                      hc->from->bare, rc);
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    pl_reply_take(hc, pl_build_finish(b));
}

/* The changes of a diff, copied out of the read transaction. */
typedef struct changes {
    pl_roster_item_t *items;
    size_t n, cap;
} changes_t;

static int collect_change(void *ud, const pl_roster_item_t *it)
{
    changes_t *c = ud;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = pl_xrealloc(c->items, c->cap * sizeof(*c->items));
    }
    pl_roster_item_copy(&c->items[c->n++], it);
    return 0;
}

static pl_hook_result_t roster_get(pl_hook_ctx_t *hc)
{
    pl_roster_t *r = pl_module_data(hc->module);
    if (!hc->session || !hc->from->resource) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "rosters are read by their owner's clients");
        return PL_DONE;
    }
    pl_session_set_flags(hc->session, PL_RES_ROSTER, 0);
    uint64_t since;
    if (!parse_ver(pl_xml_attr(hc->payload, "ver"), &since)) {
        send_full_roster(hc, r);
        return PL_DONE;
    }
    changes_t c = {0};
    int rc = pl_roster_changes(r, hc->from->bare, since, collect_change, &c);
    if (rc == 0) {
        send_full_roster(hc, r);
    } else if (rc < 0) {
        pl_module_log(hc->module, PL_LOG_ERROR, "roster.read_failed", "jid=%s error=%d",
                      hc->from->bare, rc);
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
    } else {
        /* XEP-0237 §2.4: an empty result, then one push per change to this
         * resource only (the others are up to date), oldest first. */
        pl_reply_result(hc, NULL);
        for (size_t i = 0; i < c.n; i++) {
            pl_stanza_t *push =
                pl_roster_push_stanza(hc->from->bare, hc->from->full, &c.items[i], "diff-");
            pl_session_send_stanza(hc->session, push);
            pl_stanza_unref(&push);
        }
    }
    for (size_t i = 0; i < c.n; i++)
        pl_roster_item_clear(&c.items[i]);
    free(c.items);
    return PL_DONE;
}

/* ---- roster set ---- */

/* One roster set on its way through the storage thread.  Everything the
 * job and the reply need is copied: the stanza is gone by then. */
typedef struct roster_set {
    pl_server_t *server;
    pl_roster_t *roster;
    char *user; /* bare JID of the account */
    char *to;   /* full JID of the resource that asked */
    char *id;   /* its IQ id */
    int remove;
    long long max_items;
    pl_roster_item_t item; /* the request (jid, name, groups); after the job, what to push */
    /* Set by the job. */
    pl_stanza_err_t error;
    const char *error_text;
    unsigned old_sub; /* a removed item's subscription, for the presence it implies */
    int old_ask, old_pending_in;
} roster_set_t;

static void set_free(roster_set_t **rsp)
{
    roster_set_t *rs = *rsp;
    if (!rs)
        return;
    *rsp = NULL;
    free(rs->user);
    free(rs->to);
    free(rs->id);
    pl_roster_item_clear(&rs->item);
    free(rs);
}

static int set_run_remove(pl_wtxn_t *txn, roster_set_t *rs)
{
    pl_roster_item_t old;
    pl_roster_item_init(&old);
    int rc = pl_roster_txn_get(txn, rs->roster, rs->user, rs->item.jid, &old);
    if (rc == 1 && old.in_roster) {
        rs->old_sub = old.sub;
        rs->old_ask = old.ask;
        rs->old_pending_in = old.pending_in;
        int64_t ver = pl_roster_remove(txn, rs->roster, rs->user, rs->item.jid);
        if (ver < 0) {
            rc = (int)ver;
        } else {
            rs->item.removed = 1;
            rs->item.ver = (uint64_t)ver;
            rc = 0;
        }
    } else if (rc >= 0) {
        rs->error = PL_ERR_ITEM_NOT_FOUND;
        rs->error_text = "no such item in your roster";
        rc = 0;
    }
    pl_roster_item_clear(&old);
    return rc;
}

static int set_run_update(pl_wtxn_t *txn, roster_set_t *rs)
{
    pl_roster_item_t old;
    pl_roster_item_init(&old);
    int rc = pl_roster_txn_get(txn, rs->roster, rs->user, rs->item.jid, &old);
    if (rc < 0)
        return rc;
    if (rc == 0 || !old.in_roster) {
        /* Counted here, inside the job, so pipelined sets cannot all pass
         * the check before any of them is written. */
        long n = pl_roster_txn_count(txn, rs->roster, rs->user);
        if (n < 0) {
            pl_roster_item_clear(&old);
            return (int)n;
        }
        if (n >= rs->max_items) {
            rs->error = PL_ERR_NOT_ALLOWED;
            rs->error_text = "your roster is full";
            pl_roster_item_clear(&old);
            return 0;
        }
    }
    /* The subscription state is the server's, whatever the client sent. */
    if (rc == 1) {
        rs->item.sub = old.sub;
        rs->item.ask = old.ask;
        rs->item.pending_in = old.pending_in;
        rs->item.approved = old.approved;
        rs->item.pending_status = old.pending_status;
        old.pending_status = NULL;
    }
    pl_roster_item_clear(&old);
    rs->item.in_roster = 1;
    int64_t ver = pl_roster_put(txn, rs->roster, rs->user, &rs->item);
    return ver < 0 ? (int)ver : 0;
}

static int set_run(pl_wtxn_t *txn, void *ud)
{
    roster_set_t *rs = ud;
    int rc = rs->remove ? set_run_remove(txn, rs) : set_run_update(txn, rs);
    if (rc == -ENAMETOOLONG) {
        /* A valid JID can be up to 3 KiB; a storage key only 511 bytes. */
        rs->error = PL_ERR_NOT_ACCEPTABLE;
        rs->error_text = "that JID is too long for a roster item";
        rc = 0;
    }
    return rc;
}

static void send_presence(pl_server_t *srv, const char *from, const char *to, const char *type)
{
    pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
    pl_build_attr(b, "type", type);
    pl_build_attr(b, "from", from);
    pl_build_attr(b, "to", to);
    pl_route_take(srv, pl_build_finish(b));
}

/* The contact loses its subscription to the user's presence: it sees every
 * available resource of the user go unavailable (RFC 6121 §3.3.2). */
static void send_unavailable(pl_server_t *srv, const char *user, const char *to)
{
    pl_resource_t res[ROSTER_MAX_RESOURCES];
    size_t n = pl_server_resources(srv, user, res, ROSTER_MAX_RESOURCES);
    for (size_t i = 0; i < n; i++) {
        if (!res[i].available)
            continue;
        pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
        pl_build_attr(b, "type", "unavailable");
        pl_build_attr(b, "from", res[i].jid->full);
        pl_build_attr(b, "to", to);
        pl_route_take(srv, pl_build_finish(b));
    }
    pl_resources_release(res, n);
}

static void set_reply(roster_set_t *rs, int status)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "id", rs->id);
    pl_build_attr(b, "from", rs->user);
    pl_build_attr(b, "to", rs->to);
    pl_stanza_err_t err = status < 0 ? PL_ERR_INTERNAL_SERVER_ERROR : rs->error;
    pl_build_attr(b, "type", err ? "error" : "result");
    if (err) {
        pl_build_child(b, "error", PL_NS_CLIENT);
        pl_build_attr(b, "type", pl_stanza_err_type(err));
        pl_build_child(b, pl_stanza_err_name(err), PL_NS_STANZA_ERRORS);
        pl_build_up(b);
        if (status >= 0 && rs->error_text)
            pl_build_text_child(b, "text", PL_NS_STANZA_ERRORS, rs->error_text);
        pl_build_up(b);
    }
    pl_route_take(rs->server, pl_build_finish(b));
}

/* After the commit: answer, then push to every interested resource (the
 * one that asked included, RFC 6121 §2.3.2), then tell the contact. */
static void set_done(void *ud, int status)
{
    roster_set_t *rs = ud;
    set_reply(rs, status);
    if (status == 0 && !rs->error) {
        pl_roster_push(rs->server, rs->user, &rs->item);
        /* RFC 6121 §2.5.2: removing an item cancels the subscriptions
         * both ways. */
        if (rs->remove && ((rs->old_sub & PL_SUB_TO) || rs->old_ask))
            send_presence(rs->server, rs->user, rs->item.jid, "unsubscribe");
        if (rs->remove && ((rs->old_sub & PL_SUB_FROM) || rs->old_pending_in))
            send_presence(rs->server, rs->user, rs->item.jid, "unsubscribed");
        if (rs->remove && (rs->old_sub & PL_SUB_FROM))
            send_unavailable(rs->server, rs->user, rs->item.jid);
    }
    set_free(&rs);
}

/* Checks the <item/> of a roster set and fills rs->item.  PL_ERR_NONE, or
 * the error condition with its text in *text. */
static pl_stanza_err_t parse_item(const pl_xml_t *query, roster_set_t *rs, const char **text)
{
    const pl_xml_t *item = pl_xml_child(query, "item", PL_NS_ROSTER);
    if (!item || pl_xml_next(item, "item", PL_NS_ROSTER)) {
        *text = "a roster set carries exactly one item";
        return PL_ERR_BAD_REQUEST;
    }
    const char *jid_s = pl_xml_attr(item, "jid");
    pl_jid_t jid;
    if (!jid_s || pl_jid_parse(&jid, jid_s) != 0) {
        *text = "the item needs a valid 'jid'";
        return PL_ERR_BAD_REQUEST;
    }
    rs->item.jid = pl_xstrdup(jid.full);
    pl_jid_deinit(&jid);
    const char *sub = pl_xml_attr(item, "subscription");
    if (sub && strcmp(sub, "remove") == 0) {
        rs->remove = 1;
        return PL_ERR_NONE;
    }
    const char *name = pl_xml_attr(item, "name");
    if (name && strlen(name) > PL_ROSTER_MAX_NAME) {
        *text = "the name is too long";
        return PL_ERR_NOT_ACCEPTABLE;
    }
    if (name && *name)
        rs->item.name = pl_xstrdup(name);
    size_t ngroups = 0;
    for (const pl_xml_t *g = pl_xml_child(item, "group", PL_NS_ROSTER); g;
         g = pl_xml_next(g, "group", PL_NS_ROSTER))
        ngroups++;
    if (ngroups > PL_ROSTER_MAX_GROUPS) {
        *text = "too many groups";
        return PL_ERR_NOT_ACCEPTABLE;
    }
    rs->item.groups = ngroups ? pl_xcalloc(ngroups, sizeof(char *)) : NULL;
    pl_buf_t buf;
    pl_buf_init(&buf);
    pl_stanza_err_t err = PL_ERR_NONE;
    for (const pl_xml_t *g = pl_xml_child(item, "group", PL_NS_ROSTER); g && !err;
         g = pl_xml_next(g, "group", PL_NS_ROSTER)) {
        pl_buf_reset(&buf);
        size_t len = pl_xml_text(g, &buf); /* appends */
        if (len == 0 || len > PL_ROSTER_MAX_NAME) {
            *text = len ? "a group name is too long" : "a group name is empty";
            err = PL_ERR_NOT_ACCEPTABLE;
            break;
        }
        for (size_t i = 0; i < rs->item.ngroups; i++)
            if (strcmp(rs->item.groups[i], pl_buf_cstr(&buf)) == 0) {
                *text = "the same group twice";
                err = PL_ERR_BAD_REQUEST;
            }
        if (!err)
            rs->item.groups[rs->item.ngroups++] = pl_xstrndup(buf.data, len);
    }
    pl_buf_deinit(&buf);
    return err;
}

static pl_hook_result_t roster_set(pl_hook_ctx_t *hc)
{
    if (!hc->session || !hc->from->resource) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "rosters are changed by their owner's clients");
        return PL_DONE;
    }
    const roster_conf_t *conf = pl_module_conf(hc->module);
    roster_set_t *rs = pl_xcalloc(1, sizeof(*rs));
    pl_roster_item_init(&rs->item);
    const char *text = NULL;
    pl_stanza_err_t err = parse_item(hc->payload, rs, &text);
    if (err) {
        pl_reply_error(hc, err, text);
        set_free(&rs);
        return PL_DONE;
    }
    rs->server = hc->server;
    rs->roster = pl_module_data(hc->module);
    rs->user = pl_xstrdup(hc->from->bare);
    rs->to = pl_xstrdup(hc->from->full);
    rs->id = pl_xstrdup(hc->id);
    rs->max_items = conf->max_items;
    int rc = pl_server_write(hc->server, set_run, set_done, rs);
    if (rc != 0) {
        pl_reply_error(
            hc, rc == -EAGAIN ? PL_ERR_RESOURCE_CONSTRAINT : PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        set_free(&rs);
    }
    return PL_DONE;
}

/* ---- policy ---- */

/* Roster pushes come from the user's own server only (RFC 6121 §2.1.6): a
 * roster set a client addresses to another account, or to another of its
 * own resources, would be a forged push. */
static pl_hook_result_t roster_stranger_push(pl_hook_ctx_t *hc)
{
    if (!hc->to->resource && hc->to->local && strcmp(hc->to->bare, hc->from->bare) == 0)
        return PL_PASS;
    pl_reply_error(hc, PL_ERR_FORBIDDEN, "Roster pushes from strangers are ignored");
    return PL_DONE;
}

/* ---- module ---- */

static int roster_start(pl_module_ctx_t *ctx)
{
    pl_roster_t *r;
    int rc = pl_roster_open(pl_server_storage(pl_module_server(ctx)), &r);
    if (rc != 0)
        return rc;
    pl_module_set_data(ctx, r);
    return 0;
}

static const pl_conf_def_t conf[] = {
    {.key = "max_items",
     .type = PL_CONF_INT,
     .offset = offsetof(roster_conf_t, max_items),
     .def = "5000",
     .min = 1,
     .max = 100000,
     .help = "roster items per account"},
    {0},
};

static const char *const stream_features[] = {"<ver xmlns='" PL_NS_ROSTER_VER "'/>", NULL};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF,
     .ns = PL_NS_ROSTER,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = roster_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF,
     .ns = PL_NS_ROSTER,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = roster_set},
    {.event = PL_EV_PRE_ROUTE,
     .targets = PL_TO_BARE | PL_TO_FULL,
     .ns = PL_NS_ROSTER,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_FILTER,
     .handler = roster_stranger_push},
    {0},
};

/* A deleted account: its roster goes, and so do the subscriptions its
 * contacts granted it, or a new account of the same name would receive
 * their presence without asking (the contacts keep the item itself).
 * The contacts' items that changed are the note: once the deletion has
 * committed, their online clients get a roster push (RFC 6121 §2.1.6). */
typedef struct removed_note {
    pl_roster_change_t *changed;
    size_t n;
} removed_note_t;

static int roster_account_removed(pl_wtxn_t *txn, const char *bare, void **note)
{
    removed_note_t *rn = pl_xcalloc(1, sizeof(*rn));
    if (pl_roster_delete_account(txn, bare, &rn->changed, &rn->n) < 0) {
        free(rn);
        return -1;
    }
    if (rn->n == 0) {
        free(rn);
        return 0;
    }
    *note = rn;
    return 0;
}

static void roster_account_removed_after(pl_server_t *srv, const char *bare, void *note)
{
    removed_note_t *rn = note;
    (void)bare;
    for (size_t i = 0; srv && i < rn->n; i++)
        pl_roster_push(srv, rn->changed[i].owner, &rn->changed[i].item);
    pl_roster_changes_free(&rn->changed, rn->n);
    free(rn);
}

const pl_module_desc_t pl_mod_roster = {
    .name = "roster",
    .abi = PL_MODULE_ABI,
    .description = "Rosters with versioning (RFC 6121 §2, XEP-0237)",
    .conf = conf,
    .conf_size = sizeof(roster_conf_t),
    .stream_features = stream_features,
    .hooks = hooks,
    .start = roster_start,
    .account_removed = roster_account_removed,
    .account_removed_after = roster_account_removed_after,
};
