/* time.c — XEP-0202 entity time of the server (UTC, offset +00:00). */
#include "core/module.h"
#include "lib/util.h"
#include "xmpp/ns.h"

static pl_hook_result_t entity_time(pl_hook_ctx_t *hc)
{
    char utc[40];
    pl_format_time(pl_now_ms(), utc, sizeof(utc), 1);
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "time", PL_NS_TIME);
    pl_build_text_child(b, "tzo", PL_NS_TIME, "+00:00");
    pl_build_text_child(b, "utc", PL_NS_TIME, utc);
    pl_reply_take(hc, pl_build_finish(b));
    return PL_DONE;
}

static const char *const features[] = {PL_NS_TIME, NULL};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST, .ns = PL_NS_TIME, .element = "time", .type = "get",
     .priority = PL_PRIO_HANDLER, .handler = entity_time},
    {0},
};

const pl_module_desc_t pl_mod_time = {
    .name = "time",
    .abi = PL_MODULE_ABI,
    .description = "Entity time (XEP-0202)",
    .features = features,
    .hooks = hooks,
};
