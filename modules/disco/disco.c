/* disco.c — XEP-0030 service discovery for the server and for accounts.
 * Features and identities come from the descriptors of the modules enabled
 * on the host, so a module is advertised exactly while it is loaded. */
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "xmpp/ns.h"

static void add_feature(void *ud, const char *var)
{
    pl_builder_t *b = ud;
    pl_build_child(b, "feature", PL_NS_DISCO_INFO);
    pl_build_attr(b, "var", var);
    pl_build_up(b);
}

static void add_identity(void *ud, const char *category, const char *type, const char *name)
{
    pl_builder_t *b = ud;
    pl_build_child(b, "identity", PL_NS_DISCO_INFO);
    pl_build_attr(b, "category", category);
    pl_build_attr(b, "type", type);
    if (name)
        pl_build_attr(b, "name", name);
    pl_build_up(b);
}

static pl_builder_t *reply_start(pl_hook_ctx_t *hc, const char *ns)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "query", ns);
    return b;
}

/* Nodes are not used by any module yet: a query for one finds nothing. */
static int node_given(pl_hook_ctx_t *hc)
{
    const char *node = pl_xml_attr(hc->payload, "node");
    if (node && *node) {
        pl_reply_error(hc, PL_ERR_ITEM_NOT_FOUND, "no such node");
        return 1;
    }
    return 0;
}

static pl_hook_result_t disco_info(pl_hook_ctx_t *hc)
{
    if (node_given(hc))
        return PL_DONE;
    int account = hc->to->local != NULL;
    pl_builder_t *b = reply_start(hc, PL_NS_DISCO_INFO);
    if (account) {
        add_identity(b, "account", "registered", NULL);
    } else {
        add_identity(b, "server", "im", "Parley");
    }
    pl_host_each_identity(hc->host, account, add_identity, b);
    pl_host_each_feature(hc->host, account, add_feature, b);
    pl_reply_take(hc, pl_build_finish(b));
    return PL_DONE;
}

static void add_item(void *ud, const char *domain)
{
    pl_builder_t *b = ud;
    pl_build_child(b, "item", PL_NS_DISCO_ITEMS);
    pl_build_attr(b, "jid", domain);
    pl_build_up(b);
}

static pl_hook_result_t disco_items(pl_hook_ctx_t *hc)
{
    if (node_given(hc))
        return PL_DONE;
    pl_builder_t *b = reply_start(hc, PL_NS_DISCO_ITEMS);
    if (!hc->to->local)
        pl_host_each_component(hc->host, add_item, b);
    if (!hc->to->local)
        pl_host_each_service(hc->host, add_item, b);
    pl_reply_take(hc, pl_build_finish(b));
    return PL_DONE;
}

static const char *const features[] = {PL_NS_DISCO_INFO, PL_NS_DISCO_ITEMS, NULL};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_BARE, .ns = PL_NS_DISCO_INFO,
     .element = "query", .type = "get", .priority = PL_PRIO_HANDLER, .handler = disco_info},
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_BARE, .ns = PL_NS_DISCO_ITEMS,
     .element = "query", .type = "get", .priority = PL_PRIO_HANDLER, .handler = disco_items},
    {0},
};

const pl_module_desc_t pl_mod_disco = {
    .name = "disco",
    .abi = PL_MODULE_ABI,
    .description = "Service discovery (XEP-0030) for the server and accounts",
    .features = features,
    .account_features = features,
    .hooks = hooks,
};
