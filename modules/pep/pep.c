/* pep.c — XEP-0163 Personal Eventing Protocol: every account is a
 * publish-subscribe service at its bare JID (XEP-0060 basics, in pubsub.c),
 * whose subscribers are the owner and the contacts that receive the owner's
 * presence and advertise NODE+notify in their entity capabilities
 * (XEP-0115, learnt by caps-cache.c).  This file holds the descriptor, the
 * configuration, and the presence observers that trigger the caps questions
 * and the "last published item on presence" sends. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/pep/pep-private.h"
#include "xmpp/ns.h"

/* Per session: whether its last items were sent for the caps it shows. */
typedef struct pep_session {
    int announced;
    char ver[PL_CAPS_MAX_HASH_B64];
} pep_session_t;

static pep_state_t *state_of(pl_hook_ctx_t *hc)
{
    return pl_module_data(hc->module);
}

/* PL_EV_PRE_ROUTE, broadcast available presence (no 'to'): the first one of
 * a session, or one with new caps, gets the last items of the nodes it
 * wants; caps not known yet are asked first (the answer sends them). */
static int broadcast_presence(const pl_hook_ctx_t *hc)
{
    return hc->session && strcmp(pl_stanza_name(hc->stanza), "presence") == 0 &&
           !pl_stanza_attr(hc->stanza, "to");
}

static pl_hook_result_t presence_available(pl_hook_ctx_t *hc)
{
    if (!broadcast_presence(hc))
        return PL_PASS;
    pep_state_t *st = state_of(hc);
    pep_session_t *ss = pl_module_session_state(hc->module, hc->session);
    pl_caps_ref_t ref;
    int has_caps = pl_caps_from_presence(pl_stanza_root(hc->stanza), &ref);
    const char *ver = has_caps ? ref.ver : "";
    if (!ss || (ss->announced && strncmp(ss->ver, ver, sizeof(ss->ver) - 1) == 0))
        return PL_PASS;
    ss->announced = 1;
    snprintf(ss->ver, sizeof(ss->ver), "%s", ver);
    if (!has_caps)
        return PL_PASS;
    char **interests;
    size_t n;
    int known = pep_caps_interests(st->caps, hc->from->full, hc->stanza, &interests, &n);
    if (known == 1) {
        pep_send_last_items(st, hc->from->full, interests, n);
        pep_strings_free(&interests, n);
    } else if (known < 0) {
        pep_caps_learn(st, hc->from->full, &ref);
    }
    return PL_PASS;
}

/* Unavailable: the next available presence counts as a fresh start. */
static pl_hook_result_t presence_unavailable(pl_hook_ctx_t *hc)
{
    if (!broadcast_presence(hc))
        return PL_PASS;
    pep_session_t *ss = pl_module_session_state(hc->module, hc->session);
    if (ss)
        ss->announced = 0;
    return PL_PASS;
}

static pl_hook_result_t session_closed(pl_hook_ctx_t *hc)
{
    pep_state_t *st = state_of(hc);
    if (st && hc->from && hc->from->full)
        pep_caps_forget(st->caps, hc->from->full);
    return PL_PASS;
}

static int pep_start(pl_module_ctx_t *ctx)
{
    pep_state_t *st = pl_xcalloc(1, sizeof(*st));
    st->ctx = ctx;
    st->conf = pl_module_conf(ctx);
    st->nodes = pl_module_store(ctx, "nodes");
    st->items = pl_module_store(ctx, "items");
    if (pl_roster_open(pl_server_storage(pl_module_server(ctx)), &st->roster) != 0) {
        pl_module_log(ctx, PL_LOG_ERROR, "start", "error=\"cannot open the roster\"");
        free(st);
        return -1;
    }
    st->caps = pep_caps_new((size_t)st->conf->caps_cache_size, (size_t)st->conf->caps_max_pending);
    pl_module_set_data(ctx, st);
    return 0;
}

static void pep_stop(pl_module_ctx_t *ctx)
{
    pep_state_t *st = pl_module_data(ctx);
    if (!st)
        return;
    pep_caps_free(&st->caps);
    free(st);
    pl_module_set_data(ctx, NULL);
}

static const char *const account_features[] = {
    PL_NS_PUBSUB "#publish",
    PL_NS_PUBSUB "#auto-create",
    PL_NS_PUBSUB "#create-nodes",
    PL_NS_PUBSUB "#persistent-items",
    PL_NS_PUBSUB "#access-presence",
    PL_NS_PUBSUB "#access-open",
    PL_NS_PUBSUB "#access-whitelist",
    PL_NS_PUBSUB_PUBLISH_OPTIONS,
    PL_NS_PUBSUB "#retrieve-items",
    PL_NS_PUBSUB "#retract-items",
    PL_NS_PUBSUB "#delete-nodes",
    PL_NS_PUBSUB "#purge-nodes",
    PL_NS_PUBSUB "#last-published",
    PL_NS_PUBSUB "#config-node",
    PL_NS_PUBSUB "#filtered-notifications",
    PL_NS_PUBSUB "#presence-notifications",
    NULL,
};

static const pl_identity_t identities[] = {
    {.category = "pubsub", .type = "pep"},
    {0},
};

static const pl_store_def_t stores[] = {
    {.name = "nodes", .kind = PL_STORE_KV, .schema_version = 1},
    {.name = "items", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_conf_def_t conf[] = {
    {.key = "max_item_size",
     .type = PL_CONF_SIZE,
     .offset = offsetof(pep_conf_t, max_item_size),
     .def = "64k",
     .min = 256,
     .max = 1024 * 1024,
     .help = "largest item payload, serialised, in bytes"},
    {.key = "max_nodes",
     .type = PL_CONF_INT,
     .offset = offsetof(pep_conf_t, max_nodes),
     .def = "100",
     .min = 1,
     .max = 10000,
     .help = "nodes per account"},
    {.key = "max_items",
     .type = PL_CONF_INT,
     .offset = offsetof(pep_conf_t, max_items),
     .def = "256",
     .min = 1,
     .max = 10000,
     .help = "highest pubsub#max_items a node may have (\"max\" means this)"},
    {.key = "caps_cache_size",
     .type = PL_CONF_INT,
     .offset = offsetof(pep_conf_t, caps_cache_size),
     .def = "10000",
     .min = 16,
     .max = 1000000,
     .help = "verified entity-capabilities entries kept (least recently used go)"},
    {.key = "caps_max_pending",
     .type = PL_CONF_INT,
     .offset = offsetof(pep_conf_t, caps_max_pending),
     .def = "1024",
     .min = 1,
     .max = 100000,
     .help = "disco#info questions about new caps awaiting an answer; past it none is asked"},
    {0},
};

static const char *const wants[] = {"roster", "presence", NULL};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ,
     .targets = PL_TO_BARE | PL_TO_SELF,
     .ns = PL_NS_PUBSUB,
     .element = "pubsub",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = pep_pubsub_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_BARE | PL_TO_SELF,
     .ns = PL_NS_PUBSUB,
     .element = "pubsub",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = pep_pubsub_set},
    {.event = PL_EV_IQ,
     .targets = PL_TO_BARE | PL_TO_SELF,
     .ns = PEP_NS_OWNER,
     .element = "pubsub",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = pep_owner_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_BARE | PL_TO_SELF,
     .ns = PEP_NS_OWNER,
     .element = "pubsub",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = pep_owner_set},
    {.event = PL_EV_PRE_ROUTE,
     .targets = PL_TO_HOST,
     .type = "",
     .priority = PL_PRIO_OBSERVER,
     .handler = presence_available},
    {.event = PL_EV_PRE_ROUTE,
     .targets = PL_TO_HOST,
     .type = "unavailable",
     .priority = PL_PRIO_OBSERVER,
     .handler = presence_unavailable},
    {.event = PL_EV_SESSION_CLOSED, .priority = PL_PRIO_OBSERVER, .handler = session_closed},
    {0},
};

const pl_module_desc_t pl_mod_pep = {
    .name = "pep",
    .abi = PL_MODULE_ABI,
    .description = "Personal eventing (XEP-0163) with entity-capabilities filtering (XEP-0115)",
    .wants = wants,
    .conf = conf,
    .conf_size = sizeof(pep_conf_t),
    .features = account_features,
    .account_features = account_features,
    .identities = identities,
    .account_identities = identities,
    .stores = stores,
    .hooks = hooks,
    .init = NULL,
    .start = pep_start,
    .stop = pep_stop,
    .session_state_size = sizeof(pep_session_t),
};
