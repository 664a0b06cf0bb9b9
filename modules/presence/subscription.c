/* subscription.c — presence subscriptions (RFC 6121 §3): the state tables
 * for the user's side (outbound: the user's client sent the stanza) and the
 * contact's side (inbound: it arrived for a local account), and the write
 * jobs that commit a change before anyone is told about it. */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/presence/presence-private.h"
#include "xep/roster.h"
#include "xmpp/ns.h"

presence_sub_kind_t presence_sub_kind(const char *type)
{
    if (!type)
        return 0;
    if (strcmp(type, "subscribe") == 0)
        return SUB_SUBSCRIBE;
    if (strcmp(type, "subscribed") == 0)
        return SUB_SUBSCRIBED;
    if (strcmp(type, "unsubscribe") == 0)
        return SUB_UNSUBSCRIBE;
    if (strcmp(type, "unsubscribed") == 0)
        return SUB_UNSUBSCRIBED;
    return 0;
}

static int item_is_empty(const pl_roster_item_t *it)
{
    return !it->in_roster && it->sub == PL_SUB_NONE && !it->ask && !it->pending_in && !it->approved;
}

static void clear_pending(pl_roster_item_t *it)
{
    it->pending_in = 0;
    free(it->pending_status);
    it->pending_status = NULL;
}

/* The user's server, for a stanza the user sent (RFC 6121 §3.1.2, §3.1.5,
 * §3.2.2, §3.3.2, §3.4). */
void presence_sub_outbound(presence_sub_kind_t kind, pl_roster_item_t *it, int exists,
                           presence_sub_effect_t *e)
{
    memset(e, 0, sizeof(*e));
    switch (kind) {
    case SUB_SUBSCRIBE:
        /* A request creates a visible item with ask='subscribe'; with a
         * subscription already in place it changes nothing but still goes
         * out (the contact's server answers it for the contact). */
        if (!(it->sub & PL_SUB_TO) && (!exists || !it->in_roster || !it->ask)) {
            it->in_roster = 1;
            it->ask = 1;
            e->store = 1;
        }
        e->route = 1;
        break;
    case SUB_SUBSCRIBED:
        if (it->sub & PL_SUB_FROM)
            break; /* nothing to approve: neither stored nor routed */
        if (it->pending_in) {
            it->sub |= PL_SUB_FROM;
            clear_pending(it);
            it->approved = 0;
            it->in_roster = 1;
            e->store = 1;
            e->route = 1;
        } else if (!it->approved || !it->in_roster) {
            /* No request yet: pre-approve the one that may come (§3.4). */
            it->approved = 1;
            it->in_roster = 1;
            e->store = 1;
        }
        break;
    case SUB_UNSUBSCRIBE:
        if ((it->sub & PL_SUB_TO) || it->ask) {
            it->sub &= ~(unsigned)PL_SUB_TO;
            it->ask = 0;
            e->store = 1;
        }
        e->route = 1;
        break;
    case SUB_UNSUBSCRIBED: {
        int had_from = (it->sub & PL_SUB_FROM) != 0;
        if (had_from || it->pending_in || it->approved) {
            e->route = had_from || it->pending_in;
            e->from_removed = had_from;
            it->sub &= ~(unsigned)PL_SUB_FROM;
            clear_pending(it);
            it->approved = 0;
            e->store = 1;
        }
        break;
    }
    }
    e->remove = e->store && item_is_empty(it);
}

/* The contact's server, for a stanza that arrived for the user (RFC 6121
 * §3.1.3, §3.1.6, §3.2.3, §3.3.3). */
void presence_sub_inbound(presence_sub_kind_t kind, pl_roster_item_t *it, int exists,
                          const char *status, presence_sub_effect_t *e)
{
    memset(e, 0, sizeof(*e));
    switch (kind) {
    case SUB_SUBSCRIBE:
        if (it->sub & PL_SUB_FROM) {
            e->auto_reply = 1; /* already approved: answer for the user */
        } else if (it->approved) {
            it->sub |= PL_SUB_FROM;
            it->approved = 0;
            clear_pending(it);
            e->store = 1;
            e->auto_reply = 1;
        } else {
            if (!exists)
                it->in_roster = 0; /* remembered, not listed (§3.1.3) */
            it->pending_in = 1;
            free(it->pending_status);
            it->pending_status = status ? pl_xstrdup(status) : NULL;
            e->store = 1;
            e->deliver = 1;
        }
        break;
    case SUB_SUBSCRIBED:
        if (it->ask) {
            it->sub |= PL_SUB_TO;
            it->ask = 0;
            e->store = 1;
            e->deliver = 1;
            e->to_added = 1;
        }
        break;
    case SUB_UNSUBSCRIBE: {
        int had_from = (it->sub & PL_SUB_FROM) != 0;
        if (had_from || it->pending_in) {
            it->sub &= ~(unsigned)PL_SUB_FROM;
            clear_pending(it);
            it->approved = 0;
            e->store = 1;
            e->deliver = 1;
            e->from_removed = had_from;
        }
        break;
    }
    case SUB_UNSUBSCRIBED:
        if ((it->sub & PL_SUB_TO) || it->ask) {
            it->sub &= ~(unsigned)PL_SUB_TO;
            it->ask = 0;
            e->store = 1;
            e->deliver = 1;
        }
        break;
    }
    e->remove = e->store && item_is_empty(it);
}

/* ---- write jobs ---- */

typedef struct sub_job {
    pl_server_t *server;
    const pl_module_ctx_t *module;
    pl_roster_t *roster;
    int inbound;
    presence_sub_kind_t kind;
    char *user;            /* whose roster item changes */
    char *contact;         /* the item's JID */
    char *status;          /* inbound subscribe: the request's text */
    pl_stanza_t *stanza;   /* addressed from the sender's bare JID to the other's */
    pl_roster_item_t item; /* the item after the change */
    int pushed;            /* a visible part of the item changed */
    presence_sub_effect_t effect;
    long long max_items, max_pending;
    const char *refused;   /* a new record would pass a bound: why */
} sub_job_t;

static void job_free(sub_job_t **jp)
{
    sub_job_t *j = *jp;
    if (!j)
        return;
    *jp = NULL;
    pl_roster_item_clear(&j->item);
    pl_stanza_unref(&j->stanza);
    free(j->user);
    free(j->contact);
    free(j->status);
    free(j);
}

static int visible_differs(const pl_roster_item_t *a, int a_exists, const pl_roster_item_t *b)
{
    int av = a_exists && a->in_roster;
    if (!av && !b->in_roster)
        return 0;
    return av != b->in_roster || a->sub != b->sub || !a->ask != !b->ask ||
           !a->approved != !b->approved;
}

/* On the storage thread: read, apply the table, write — all in one job so
 * concurrent changes to the same item serialise. */
static int sub_job_run(pl_wtxn_t *txn, void *ud)
{
    sub_job_t *j = ud;
    pl_roster_item_t it;
    pl_roster_item_init(&it);
    int found = pl_roster_txn_get(txn, j->roster, j->user, j->contact, &it);
    if (found < 0) {
        pl_roster_item_clear(&it);
        return found;
    }
    if (!found) {
        it.jid = pl_xstrdup(j->contact);
        it.in_roster = 0;
    }
    int was_visible = found && it.in_roster;
    pl_roster_item_t before;
    pl_roster_item_copy(&before, &it);
    if (j->inbound)
        presence_sub_inbound(j->kind, &it, found, j->status, &j->effect);
    else
        presence_sub_outbound(j->kind, &it, found, &j->effect);
    /* A peer must not grow a roster without bound: a user sending requests
     * to ever new JIDs, or strangers (a component's made-up JIDs, say)
     * sending requests to a user.  Counted here, inside the job, so
     * pipelined requests cannot all pass before any is written. */
    if (j->effect.store && !j->effect.remove && (!found || it.in_roster != was_visible)) {
        long n = it.in_roster ? pl_roster_txn_count(txn, j->roster, j->user)
                              : pl_roster_txn_count_hidden(txn, j->roster, j->user);
        if (n < 0) {
            pl_roster_item_clear(&it);
            pl_roster_item_clear(&before);
            return (int)n;
        }
        if (it.in_roster && n >= j->max_items)
            j->refused = "the roster is full";
        else if (!it.in_roster && !found && n >= j->max_pending)
            j->refused = "too many subscription requests are waiting for an answer";
        if (j->refused) {
            pl_roster_item_clear(&it);
            pl_roster_item_clear(&before);
            return 0;
        }
    }
    int64_t rc = 0;
    if (j->effect.store) {
        if (j->effect.remove)
            rc = found ? pl_roster_remove(txn, j->roster, j->user, j->contact) : 0;
        else
            rc = pl_roster_put(txn, j->roster, j->user, &it);
    }
    j->pushed = j->effect.store && !j->effect.remove && visible_differs(&before, was_visible, &it);
    pl_roster_item_clear(&before);
    j->item = it;
    return rc < 0 ? (int)rc : 0;
}

/* Back on the loop once the change is durable: tell everyone. */
static void sub_job_done(void *ud, int status)
{
    sub_job_t *j = ud;
    const presence_sub_effect_t *e = &j->effect;
    if (status < 0) {
        pl_module_log(j->module, PL_LOG_WARN, "subscription_failed", "user=%s contact=%s status=%d",
                      j->user, j->contact, status);
        goto out;
    }
    if (j->refused) {
        /* The sender hears why: the user when their own roster is full,
         * the stranger when the user's pending requests are. */
        pl_module_log(j->module, PL_LOG_INFO, "subscription_refused",
                      "user=%s contact=%s inbound=%d reason=%s", j->user, j->contact, j->inbound,
                      j->refused);
        if (strcmp(pl_stanza_attr(j->stanza, "type") ? pl_stanza_attr(j->stanza, "type") : "",
                   "error") != 0)
            pl_route_take(j->server,
                          pl_stanza_error(j->stanza, PL_ERR_RESOURCE_CONSTRAINT, j->refused));
        goto out;
    }
    if (j->pushed)
        pl_roster_push(j->server, j->user, &j->item);
    if (!j->inbound) {
        if (e->route)
            pl_route_take(j->server, pl_stanza_ref(j->stanza));
        if (e->from_removed)
            presence_send_unavailable_of(j->server, j->user, j->contact);
        goto out;
    }
    if (e->deliver) {
        pl_resource_t res[PRESENCE_MAX_RESOURCES];
        size_t n = pl_server_resources(j->server, j->user, res, PRESENCE_MAX_RESOURCES);
        for (size_t i = 0; i < n; i++)
            if (res[i].available)
                pl_session_send_stanza(res[i].session, j->stanza);
        pl_resources_release(res, n);
    }
    if (e->auto_reply) {
        pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
        pl_build_attr(b, "type", "subscribed");
        pl_build_attr(b, "from", j->user);
        pl_build_attr(b, "to", j->contact);
        pl_route_take(j->server, pl_build_finish(b));
    }
    if (e->to_added)
        presence_send_current_of(j->server, j->module, j->contact, j->user);
    if (e->from_removed)
        presence_send_unavailable_of(j->server, j->user, j->contact);
out:
    job_free(&j);
}

static void sub_job_start(pl_hook_ctx_t *hc, int inbound, const char *user, const char *contact)
{
    sub_job_t *j = pl_xcalloc(1, sizeof(*j));
    j->server = hc->server;
    j->module = hc->module;
    j->roster = presence_roster(hc->module);
    j->inbound = inbound;
    const presence_conf_t *conf = pl_module_conf(hc->module);
    j->max_items = conf->max_items;
    j->max_pending = conf->max_pending;
    j->kind = presence_sub_kind(hc->type);
    j->user = pl_xstrdup(user);
    j->contact = pl_xstrdup(contact);
    pl_roster_item_init(&j->item);
    if (inbound && j->kind == SUB_SUBSCRIBE)
        j->status = presence_status_text(hc->stanza);
    /* Subscription stanzas travel between bare JIDs (RFC 6121 §3.1.2). */
    j->stanza = inbound ? pl_stanza_readdress(hc->stanza, contact, user)
                        : pl_stanza_readdress(hc->stanza, user, contact);
    if (!j->roster || pl_server_write(hc->server, sub_job_run, sub_job_done, j) != 0) {
        pl_module_log(hc->module, PL_LOG_WARN, "subscription_failed",
                      "user=%s contact=%s reason=queue", user, contact);
        job_free(&j);
    }
}

/* PL_EV_PRE_ROUTE: the user's client sent subscribe/subscribed/unsubscribe/
 * unsubscribed to a contact. */
pl_hook_result_t presence_out_subscription(pl_hook_ctx_t *hc)
{
    if (strcmp(pl_stanza_name(hc->stanza), "presence") != 0 || !hc->session || !hc->from->local)
        return PL_PASS;
    if (!pl_stanza_attr(hc->stanza, "to")) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "a subscription stanza needs a 'to' address");
        return PL_DONE;
    }
    if (!hc->to->local && strcmp(hc->to->domain, pl_host_name(hc->host)) == 0)
        return PL_PASS; /* to the server itself: ignored there */
    if (strcmp(hc->to->bare, hc->from->bare) == 0)
        return PL_DONE; /* one's own presence needs no subscription */
    const presence_conf_t *conf = pl_module_conf(hc->module);
    const char *why;
    if (presence_check(hc->stanza, (size_t)conf->max_status, &why) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, why);
        return PL_DONE;
    }
    sub_job_start(hc, 0, hc->from->bare, hc->to->bare);
    return PL_DONE;
}

/* PL_EV_PRESENCE for a local account: a subscription stanza from a contact
 * (routed after the contact's own side committed, or from a component). */
pl_hook_result_t presence_in_subscription(pl_hook_ctx_t *hc)
{
    if (!hc->to->local)
        return PL_PASS;
    if (strcmp(hc->from->bare, hc->to->bare) == 0)
        return PL_DONE;
    const presence_conf_t *conf = pl_module_conf(hc->module);
    const char *why;
    if (presence_check(hc->stanza, (size_t)conf->max_status, &why) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, why); /* from a component */
        return PL_DONE;
    }
    if (!pl_server_account_exists(hc->server, hc->to->bare)) {
        /* Nobody to ask: a request is refused at once (RFC 6121 §3.1.3). */
        if (presence_sub_kind(hc->type) == SUB_SUBSCRIBE) {
            pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
            pl_build_attr(b, "type", "unsubscribed");
            pl_build_attr(b, "from", hc->to->bare);
            pl_build_attr(b, "to", hc->from->bare);
            pl_route_take(hc->server, pl_build_finish(b));
        }
        return PL_DONE;
    }
    sub_job_start(hc, 1, hc->to->bare, hc->from->bare);
    return PL_DONE;
}
