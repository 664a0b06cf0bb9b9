/* module-conf.c — the configuration loader's view of the module registry
 * (module-conf.h). */
#include "core/module-conf.h"

#include <stdlib.h>

#include "core/module.h"
#include "lib/util.h"

pl_conf_module_t *pl_module_conf_views(const pl_module_desc_t *const *registry, size_t n)
{
    pl_conf_module_t *v = pl_xcalloc(n ? n : 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        const pl_module_desc_t *d = registry[i];
        v[i] = (pl_conf_module_t){
            .name = d->name,
            .conf = d->conf,
            .conf_size = d->conf_size,
            .requires = d->requires,
            .wants = d->wants,
            .refused = d->abi != PL_MODULE_ABI
                           ? "it was built for another module ABI than this server's"
                           : NULL,
        };
    }
    return v;
}

pl_config_t *pl_config_load_modules(const char *path, const pl_module_desc_t *const *registry,
                                    size_t n, char **error)
{
    pl_conf_module_t *v = pl_module_conf_views(registry, n);
    pl_config_t *c = pl_config_load(path, v, n, error);
    free(v);
    return c;
}

pl_config_t *pl_config_load_string_modules(const char *text, const char *name,
                                           const pl_module_desc_t *const *registry, size_t n,
                                           char **error)
{
    pl_conf_module_t *v = pl_module_conf_views(registry, n);
    pl_config_t *c = pl_config_load_string(text, name, v, n, error);
    free(v);
    return c;
}
