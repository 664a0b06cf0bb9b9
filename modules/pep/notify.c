/* notify.c — who may read a PEP node and who hears of a change.  Readers
 * follow the node's access model against the owner's roster; listeners are
 * the owner's available resources and the available resources of contacts
 * with a presence subscription (FROM on the owner's side) whose entity
 * capabilities carry NODE+notify (XEP-0163 §4.3 filtered notifications). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/pep/pep-private.h"
#include "xmpp/ns.h"

/* 1 when the owner's roster gives `contact` a subscription FROM the owner
 * (the contact receives the owner's presence). */
static int has_from(pep_state_t *st, const char *owner, const char *contact)
{
    pl_roster_item_t it;
    pl_roster_item_init(&it);
    int found = st->roster ? pl_roster_get(st->roster, owner, contact, &it) : 0;
    int from = found == 1 && (it.sub & PL_SUB_FROM);
    pl_roster_item_clear(&it);
    return from;
}

static const char *domain_of(const char *bare)
{
    const char *at = strchr(bare, '@');
    return at ? at + 1 : bare;
}

pep_access_t pep_effective_access(pep_state_t *st, const char *owner, const char *node,
                                  pep_access_t access)
{
    /* XEP-0084: contacts learn of a new avatar from the metadata node and
     * then fetch the data by id, so who may see the data is who may see the
     * metadata.  Reads and notifications both ask here, so a data node
     * configured on its own can neither leak the picture to those the
     * metadata hides it from nor keep it from those it is shown to. */
    if (strcmp(node, PEP_NODE_AVATAR_DATA) == 0) {
        pep_node_t meta;
        if (pep_node_get(st, owner, PEP_NODE_AVATAR_META, &meta) == 1)
            access = meta.conf.access;
        pep_node_clear(&meta);
    }
    return access;
}

int pep_may_read(pep_state_t *st, const char *owner, const char *node, const pep_node_conf_t *conf,
                 const char *requester)
{
    if (strcmp(owner, requester) == 0)
        return 1;
    switch (pep_effective_access(st, owner, node, conf->access)) {
    case PEP_ACCESS_OPEN:
        return strcmp(domain_of(owner), domain_of(requester)) == 0 ||
               has_from(st, owner, requester);
    case PEP_ACCESS_PRESENCE: return has_from(st, owner, requester);
    case PEP_ACCESS_WHITELIST: return 0;
    }
    return 0;
}

pl_stanza_t *pep_event_item(const char *node, const char *id, const pl_xml_t *payload)
{
    pl_builder_t *b = pl_build_new("event", PEP_NS_EVENT);
    pl_build_child(b, "items", PEP_NS_EVENT);
    pl_build_attr(b, "node", node);
    pl_build_child(b, "item", PEP_NS_EVENT);
    pl_build_attr(b, "id", id);
    if (payload)
        pl_build_copy(b, payload);
    return pl_build_finish(b);
}

/* The headline message carrying `event`, from the owner, without 'to'. */
static pl_stanza_t *event_message(const char *owner, const pl_xml_t *event)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", owner);
    pl_build_attr(b, "type", "headline");
    pl_build_copy(b, event);
    return pl_build_finish(b);
}

static void send_to(const pl_stanza_t *msg, pl_session_t *s, const char *full)
{
    pl_stanza_t *st = pl_stanza_readdress(msg, PL_KEEP, full);
    pl_session_send_stanza(s, st);
    pl_stanza_unref(&st);
}

/* Sends to the available resources of `bare`; with `feature` set, only to
 * those whose caps have it.  Returns how many got it. */
static int send_to_account(pep_state_t *st, const pl_stanza_t *msg, const char *bare,
                           const char *feature)
{
    pl_resource_t res[PEP_MAX_RESOURCES];
    size_t n = pl_server_resources(pl_module_server(st->ctx), bare, res, PEP_MAX_RESOURCES);
    int sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (!res[i].available)
            continue;
        if (feature && !pep_caps_has(st->caps, res[i].jid->full, res[i].presence, feature))
            continue;
        send_to(msg, res[i].session, res[i].jid->full);
        sent++;
    }
    pl_resources_release(res, n);
    return sent;
}

typedef struct contacts {
    char **jids;
    size_t n;
    unsigned want; /* PL_SUB_* bit the contact must have */
} contacts_t;

static int collect_contact(void *ud, const pl_roster_item_t *it)
{
    contacts_t *c = ud;
    if (!(it->sub & c->want))
        return 0;
    c->jids = pl_xrealloc(c->jids, (c->n + 1) * sizeof(char *));
    c->jids[c->n++] = pl_xstrdup(it->jid);
    return c->n >= PEP_MAX_CONTACTS;
}

static void contacts_with(pep_state_t *st, const char *user, unsigned want, contacts_t *out)
{
    memset(out, 0, sizeof(*out));
    out->want = want;
    if (st->roster)
        pl_roster_list(st->roster, user, 0, collect_contact, out);
}

void pep_notify(pep_state_t *st, const char *owner, const char *node, pep_access_t access,
                const pl_xml_t *event)
{
    pl_stanza_t *msg = event_message(owner, event);
    /* The owner is always subscribed to its own nodes (XEP-0163 §4.3.3). */
    int sent = send_to_account(st, msg, owner, NULL);
    if (pep_effective_access(st, owner, node, access) != PEP_ACCESS_WHITELIST) {
        char feature[PEP_MAX_NODE_NAME + 16];
        snprintf(feature, sizeof(feature), "%s+notify", node);
        contacts_t c;
        contacts_with(st, owner, PL_SUB_FROM, &c);
        for (size_t i = 0; i < c.n; i++)
            if (strcmp(c.jids[i], owner) != 0)
                sent += send_to_account(st, msg, c.jids[i], feature);
        pep_strings_free(&c.jids, c.n);
    }
    pl_module_log(st->ctx, PL_LOG_DEBUG, "notify", "owner=%s node=%s resources=%d", owner, node,
                  sent);
    pl_stanza_unref(&msg);
}

/* Sends the owner's last item of `node` to one resource if it exists, may
 * be read by `reader` and is not configured send_last = never. */
static void send_last_item(pep_state_t *st, const char *owner, const char *node, const char *reader,
                           const char *full, pl_session_t *s)
{
    pep_node_t n;
    if (pep_node_get(st, owner, node, &n) != 1) {
        pep_node_clear(&n);
        return;
    }
    if (n.nids > 0 && n.conf.send_last && pep_may_read(st, owner, node, &n.conf, reader)) {
        const char *id = n.ids[n.nids - 1];
        pl_stanza_t *payload = pep_item_get(st, owner, node, id);
        if (payload) {
            pl_stanza_t *ev = pep_event_item(node, id, pl_stanza_root(payload));
            pl_stanza_t *msg = event_message(owner, pl_stanza_root(ev));
            send_to(msg, s, full);
            pl_stanza_unref(&msg);
            pl_stanza_unref(&ev);
            pl_stanza_unref(&payload);
        }
    }
    pep_node_clear(&n);
}

void pep_send_last_items(pep_state_t *st, const char *full, char **interests, size_t n)
{
    if (n == 0)
        return;
    pl_jid_t j;
    if (pl_jid_parse(&j, full) != 0)
        return;
    pl_server_t *srv = pl_module_server(st->ctx);
    pl_resource_t res[PEP_MAX_RESOURCES];
    size_t nres = pl_server_resources(srv, j.bare, res, PEP_MAX_RESOURCES);
    pl_session_t *s = NULL;
    for (size_t i = 0; i < nres && !s; i++)
        if (res[i].available && strcmp(res[i].jid->full, full) == 0)
            s = res[i].session;
    if (s) {
        for (size_t k = 0; k < n; k++)
            send_last_item(st, j.bare, interests[k], j.bare, full, s);
        /* Contacts whose presence this user receives (TO on the user's side);
         * pep_may_read checks the owner's side. */
        contacts_t c;
        contacts_with(st, j.bare, PL_SUB_TO, &c);
        for (size_t i = 0; i < c.n; i++) {
            if (strcmp(c.jids[i], j.bare) == 0 || !pl_server_account_exists(srv, c.jids[i]))
                continue;
            for (size_t k = 0; k < n; k++)
                send_last_item(st, c.jids[i], interests[k], j.bare, full, s);
        }
        pep_strings_free(&c.jids, c.n);
    }
    pl_resources_release(res, nres);
    pl_jid_deinit(&j);
}
