/* fuzz_config.c — libFuzzer target for the configuration loader
 * (server/config*.c) with the real module registry: any text must load or
 * be refused with a message, never crash or leak, and a configuration that
 * loads must hold what config.h promises (values within their bounds, hosts
 * findable by name, every enabled module's config present).
 *
 * Input: the text of a configuration file.  @include is skipped: it reads
 * other files, which says nothing about the loader and could block on a
 * device. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/module-conf.h"
#include "core/module.h"
#include "lib/util.h"
#include "modules/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const pl_config_t *c)
{
    const pl_limits_conf_t *l = &c->limits;
    if (!c->data_dir || !c->control_socket || !c->tls_cert || !c->tls_key)
        pl_die("config: a required path is missing");
    if (l->max_stanza_bytes <= 0 || l->max_depth <= 0 || l->stanza_rate <= 0 ||
        l->max_unacked <= 0 || l->conn_per_ip < 0 || l->auth_timeout_ms < 0)
        pl_die("config: a limit out of its bounds");
    for (size_t i = 0; i < c->nlisten; i++)
        if (!c->listen[i].address || c->listen[i].port < 0 || c->listen[i].port > 65535 ||
            c->listen[i].kind < PL_LISTEN_C2S || c->listen[i].kind > PL_LISTEN_COMPONENT)
            pl_die("config: listener %zu is invalid", i);
    for (size_t i = 0; i < c->nhosts; i++) {
        const pl_host_conf_t *h = &c->hosts[i];
        if (!h->name || pl_config_host(c, h->name) != h)
            pl_die("config: host %zu cannot be found by its name", i);
        if (h->scram_iterations < 4096 || h->fast_lifetime_ms < 0)
            pl_die("config: host %s out of bounds", h->name);
        for (size_t m = 0; m < h->nmodules; m++)
            if (h->modules[m].module >= pl_module_registry_size ||
                (h->modules[m].info.conf_size && !h->modules[m].conf))
                pl_die("config: module %zu of %s has no config", m, h->name);
        for (size_t k = 0; k < h->ncomponents; k++)
            if (!h->components[k].domain || !h->components[k].secret)
                pl_die("config: component %zu of %s is incomplete", k, h->name);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = pl_xstrndup((const char *)data, size);
    if (strstr(text, "@include")) {
        free(text);
        return 0;
    }
    char *error = NULL;
    pl_config_t *c = pl_config_load_string_modules(text, "fuzz.conf", pl_module_registry,
                                                   pl_module_registry_size, &error);
    if (c) {
        if (error)
            pl_die("config: loaded, with an error: %s", error);
        check(c);
        pl_config_free(&c);
    } else if (!error || !*error) {
        pl_die("config: refused without a message");
    }
    free(error);
    free(text);
    return 0;
}
