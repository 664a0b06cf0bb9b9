/* roster.c — roster items as XML (RFC 6121 §2.1) and roster pushes to the
 * resources that asked for the roster, for every module that changes one. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "xep/roster.h"
#include "xmpp/ns.h"

static const char *subscription_name(unsigned sub)
{
    switch (sub & PL_SUB_BOTH) {
    case PL_SUB_TO: return "to";
    case PL_SUB_FROM: return "from";
    case PL_SUB_BOTH: return "both";
    default: return "none";
    }
}

void pl_roster_item_xml(pl_builder_t *b, const pl_roster_item_t *it)
{
    pl_build_child(b, "item", PL_NS_ROSTER);
    pl_build_attr(b, "jid", it->jid);
    if (it->removed) {
        pl_build_attr(b, "subscription", "remove");
        pl_build_up(b);
        return;
    }
    if (it->name)
        pl_build_attr(b, "name", it->name);
    pl_build_attr(b, "subscription", subscription_name(it->sub));
    if (it->ask)
        pl_build_attr(b, "ask", "subscribe");
    /* Pre-approval only means something until the contact subscribes. */
    if (it->approved && !(it->sub & PL_SUB_FROM))
        pl_build_attr(b, "approved", "true");
    for (size_t i = 0; i < it->ngroups; i++)
        pl_build_text_child(b, "group", PL_NS_ROSTER, it->groups[i]);
    pl_build_up(b);
}

pl_stanza_t *pl_roster_push_stanza(const char *user, const char *to, const pl_roster_item_t *it,
                                   const char *id_prefix)
{
    char id[32], ver[24];
    snprintf(id, 13, "%s", id_prefix);
    size_t n = strlen(id);
    pl_random_id(id + n, 12);
    snprintf(ver, sizeof(ver), "%" PRIu64, it->ver);
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "set");
    pl_build_attr(b, "id", id);
    pl_build_attr(b, "from", user);
    pl_build_attr(b, "to", to);
    pl_build_child(b, "query", PL_NS_ROSTER);
    pl_build_attr(b, "ver", ver);
    pl_roster_item_xml(b, it);
    return pl_build_finish(b);
}

/* A snapshot of the user's resources, growing the array until it holds
 * them all (accounts may have up to max_sessions_per_account). */
static size_t all_resources(pl_server_t *srv, const char *user, pl_resource_t **out)
{
    size_t max = 16;
    for (;;) {
        pl_resource_t *r = pl_xmalloc(max * sizeof(*r));
        size_t n = pl_server_resources(srv, user, r, max);
        if (n < max) {
            *out = r;
            return n;
        }
        pl_resources_release(r, n);
        free(r);
        max *= 4;
    }
}

void pl_roster_push(pl_server_t *srv, const char *user, const pl_roster_item_t *it)
{
    pl_resource_t *res;
    size_t n = all_resources(srv, user, &res);
    for (size_t i = 0; i < n; i++) {
        if (!(res[i].flags & PL_RES_ROSTER))
            continue;
        pl_stanza_t *push = pl_roster_push_stanza(user, res[i].jid->full, it, "push-");
        pl_session_send_stanza(res[i].session, push);
        pl_stanza_unref(&push);
    }
    pl_resources_release(res, n);
    free(res);
}
