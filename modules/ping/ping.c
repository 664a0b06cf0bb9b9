/* ping.c — XEP-0199: answers pings to the server and to an account's bare
 * JID.  Pings to a full JID go to that client; the server's own pings to
 * idle clients are sent by the core (c2s.c). */
#include "core/module.h"
#include "xmpp/ns.h"

static pl_hook_result_t ping(pl_hook_ctx_t *hc)
{
    pl_reply_result(hc, NULL);
    return PL_DONE;
}

static const char *const features[] = {PL_NS_PING, NULL};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_BARE, .ns = PL_NS_PING, .element = "ping",
     .type = "get", .priority = PL_PRIO_HANDLER, .handler = ping},
    {0},
};

const pl_module_desc_t pl_mod_ping = {
    .name = "ping",
    .abi = PL_MODULE_ABI,
    .description = "XMPP ping (XEP-0199)",
    .features = features,
    .account_features = features,
    .hooks = hooks,
};
