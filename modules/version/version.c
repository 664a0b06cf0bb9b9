/* version.c — XEP-0092 software version of the server. */
#include <stddef.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "core/module.h"
#include "lib/version.h"
#include "xmpp/ns.h"

typedef struct version_conf {
    int show_os;
} version_conf_t;

static pl_hook_result_t version(pl_hook_ctx_t *hc)
{
    const version_conf_t *conf = pl_module_conf(hc->module);
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "query", PL_NS_VERSION);
    pl_build_text_child(b, "name", PL_NS_VERSION, "Parley");
    pl_build_text_child(b, "version", PL_NS_VERSION, PL_VERSION);
    struct utsname u;
    if (conf->show_os && uname(&u) == 0) {
        char os[sizeof(u.sysname) + sizeof(u.release) + 2];
        snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
        pl_build_text_child(b, "os", PL_NS_VERSION, os);
    }
    pl_reply_take(hc, pl_build_finish(b));
    return PL_DONE;
}

static const char *const features[] = {PL_NS_VERSION, NULL};

static const pl_conf_def_t conf[] = {
    {.key = "show_os", .type = PL_CONF_BOOL, .offset = offsetof(version_conf_t, show_os),
     .def = "false", .help = "include the operating system name and release in answers"},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST, .ns = PL_NS_VERSION, .element = "query",
     .type = "get", .priority = PL_PRIO_HANDLER, .handler = version},
    {0},
};

const pl_module_desc_t pl_mod_version = {
    .name = "version",
    .abi = PL_MODULE_ABI,
    .description = "Software version (XEP-0092)",
    .conf = conf,
    .conf_size = sizeof(version_conf_t),
    .features = features,
    .hooks = hooks,
};
