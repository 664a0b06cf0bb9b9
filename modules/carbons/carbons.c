/* carbons.c — XEP-0280 Message Carbons: a client that enables carbons gets a
 * copy of every chat message its account sends from another client (<sent/>)
 * and of every one the account receives that the router does not give it
 * directly (<received/>).  Which sessions enabled carbons is a core mark
 * (PL_RES_CARBONS), so any loop can see it in a resources snapshot; the
 * copies go straight to those sessions, never through the router again. */
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "modules/carbons/carbons-private.h"
#include "xmpp/ns.h"
#include "xmpp/route-rules.h"

/* Sessions of one account looked at for one message (as the router does). */
#define CARBONS_MAX_RESOURCES 64

/* ---- enable / disable (XEP-0280 §4, §5) ---- */

/* Only a client of this host enables carbons, for itself. */
static int own_client(const pl_hook_ctx_t *hc)
{
    if (!hc->session || !hc->from->local || !hc->from->resource ||
        strcmp(hc->from->domain, pl_host_name(hc->host)) != 0)
        return 0;
    /* An IQ to someone else's bare JID reaches the server too. */
    return !hc->to->local || strcmp(hc->to->bare, hc->from->bare) == 0;
}

static pl_hook_result_t carbons_iq(pl_hook_ctx_t *hc)
{
    if (!own_client(hc)) {
        pl_reply_error(hc, PL_ERR_NOT_ALLOWED, "carbons are enabled by a client for itself");
        return PL_DONE;
    }
    const char *name = hc->payload->name;
    int enable = strcmp(name, "enable") == 0, disable = strcmp(name, "disable") == 0;
    if (strcmp(hc->type, "set") != 0 || (!enable && !disable) ||
        pl_xml_first_element(hc->payload)) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "expected an IQ set with <enable/> or <disable/>");
        return PL_DONE;
    }
    /* Repeating either is not an error (§8.1): the mark just stays. */
    pl_session_set_flags(hc->session, enable ? PL_RES_CARBONS : 0, disable ? PL_RES_CARBONS : 0);
    pl_module_log(hc->module, PL_LOG_DEBUG, enable ? "enabled" : "disabled", "jid=%s",
                  hc->from->full);
    pl_reply_result(hc, NULL);
    return PL_DONE;
}

/* ---- copies ---- */

/* Marks in `direct` the resources the router gives a message addressed to
 * `resource` (NULL: the bare JID) by the rules of RFC 6121 §8.5
 * (xmpp/route-rules.c).  Returns 0 when the message is refused or dropped
 * and so copied to nobody; a message nobody takes now (offline storage)
 * still goes to the clients that asked for copies. */
static int direct_recipients(const char *type, const char *resource, const pl_resource_t *res,
                             size_t n, unsigned char *direct)
{
    pl_route_candidate_t cand[CARBONS_MAX_RESOURCES];
    for (size_t i = 0; i < n; i++)
        cand[i] = (pl_route_candidate_t){
            .resource = res[i].jid->resource ? res[i].jid->resource : "",
            .available = res[i].available,
            .priority = res[i].priority,
        };
    memset(direct, 0, n);
    pl_route_action_t act = pl_route_rules(PL_KIND_MESSAGE, type, resource, 1, cand, n, direct);
    if (act == PL_ROUTE_UNDELIVERED)
        memset(direct, 0, n);
    return act == PL_ROUTE_DELIVER || act == PL_ROUTE_UNDELIVERED;
}

/* Sends the wrapped copy of `msg` to every carbons-enabled session of
 * `bare` not marked in `skip`.  The copy is built once and readdressed
 * (children shared) for each further session. */
static size_t send_copies(const pl_stanza_t *msg, carbons_dir_t dir, const char *bare,
                          const pl_resource_t *res, size_t n, const unsigned char *skip)
{
    pl_stanza_t *first = NULL;
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(res[i].flags & PL_RES_CARBONS) || skip[i])
            continue;
        pl_stanza_t *copy =
            first ? pl_stanza_readdress(first, PL_KEEP, res[i].jid->full)
                  : pl_stanza_ref(first = carbons_wrap(msg, dir, bare, res[i].jid->full));
        pl_session_send_stanza(res[i].session, copy);
        pl_stanza_unref(&copy);
        sent++;
    }
    pl_stanza_unref(&first);
    return sent;
}

static int any_enabled(const pl_resource_t *res, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (res[i].flags & PL_RES_CARBONS)
            return 1;
    return 0;
}

/* PL_EV_PRE_ROUTE (observer): a message one of the user's clients sends.
 * Every other carbons-enabled client of the account gets a <sent/> copy,
 * whether or not the sending client enabled carbons (§7).  A message to
 * the user's own account also reaches some of those clients directly:
 * they get that instead of a copy. */
static pl_hook_result_t carbons_outbound(pl_hook_ctx_t *hc)
{
    if (strcmp(pl_stanza_name(hc->stanza), "message") != 0 || !hc->session || !hc->from->local ||
        !hc->from->resource || !hc->to->local ||
        strcmp(hc->from->domain, pl_host_name(hc->host)) != 0 ||
        !carbons_eligible(hc->stanza, CARBONS_SENT))
        return PL_PASS;
    pl_resource_t res[CARBONS_MAX_RESOURCES];
    unsigned char skip[CARBONS_MAX_RESOURCES];
    size_t n = pl_server_resources(hc->server, hc->from->bare, res, CARBONS_MAX_RESOURCES);
    if (!any_enabled(res, n)) {
        pl_resources_release(res, n);
        return PL_PASS;
    }
    int to_self = strcmp(hc->to->bare, hc->from->bare) == 0;
    if (!to_self || !direct_recipients(hc->type, hc->to->resource, res, n, skip))
        memset(skip, 0, n);
    for (size_t i = 0; i < n; i++)
        if (res[i].session == hc->session)
            skip[i] = 1;
    send_copies(hc->stanza, CARBONS_SENT, hc->from->bare, res, n, skip);
    pl_resources_release(res, n);
    return PL_PASS;
}

/* PL_EV_MESSAGE (observer) to a local account: the clients of the account
 * that enabled carbons and that the router does not give the message to
 * get a <received/> copy (§6).  The message carries the router's
 * <stanza-id/>, so the copy does too.  Runs only when no earlier hook
 * consumed the message (blocking, a refused forgery). */
static pl_hook_result_t carbons_inbound(pl_hook_ctx_t *hc)
{
    /* One's own clients talking to each other: the sender's side made the
     * copies already (carbons_outbound). */
    if (hc->session && hc->from->local && strcmp(hc->from->bare, hc->to->bare) == 0)
        return PL_PASS;
    if (!carbons_eligible(hc->stanza, CARBONS_RECEIVED))
        return PL_PASS;
    pl_resource_t res[CARBONS_MAX_RESOURCES];
    unsigned char direct[CARBONS_MAX_RESOURCES];
    size_t n = pl_server_resources(hc->server, hc->to->bare, res, CARBONS_MAX_RESOURCES);
    if (any_enabled(res, n) && direct_recipients(hc->type, hc->to->resource, res, n, direct))
        send_copies(hc->stanza, CARBONS_RECEIVED, hc->to->bare, res, n, direct);
    pl_resources_release(res, n);
    return PL_PASS;
}

/* PL_EV_MESSAGE (filter) to a local account carrying a carbon wrapper.  The
 * server hands its copies straight to the user's sessions, so every routed
 * message with <sent/> or <received/> was written by some client: one that
 * would make another user's client show words its owner never wrote or
 * got.  Refused before delivery, offline storage and archives (§11). */
static pl_hook_result_t carbons_refuse_forged(pl_hook_ctx_t *hc)
{
    if (!carbons_is_wrapped(hc->stanza))
        return PL_PASS;
    pl_module_log(hc->module, PL_LOG_INFO, "forged", "from=%s to=%s", hc->from->full, hc->to->full);
    if (strcmp(hc->type, "error") != 0)
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "carbon copies are made by the user's server only");
    return PL_DONE;
}

static const char *const features[] = {PL_NS_CARBONS, NULL};

// clang-format off
static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_BARE, .ns = PL_NS_CARBONS,
     .priority = PL_PRIO_HANDLER, .handler = carbons_iq},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_BARE | PL_TO_FULL, .ns = PL_NS_CARBONS,
     .priority = PL_PRIO_FILTER, .handler = carbons_refuse_forged},
    {.event = PL_EV_PRE_ROUTE, .targets = PL_TO_BARE | PL_TO_FULL, .priority = PL_PRIO_OBSERVER,
     .handler = carbons_outbound},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_BARE | PL_TO_FULL, .priority = PL_PRIO_OBSERVER,
     .handler = carbons_inbound},
    {0},
};
// clang-format on

const pl_module_desc_t pl_mod_carbons = {
    .name = "carbons",
    .abi = PL_MODULE_ABI,
    .description = "Message Carbons (XEP-0280): copies of a user's chats to all its clients",
    .features = features,
    .hooks = hooks,
    /* Copies carry the router's XEP-0359 id, so a client can tell a carbon
     * from the same message redelivered after a stream dies. */
    .stanza_ids = 1,
};
