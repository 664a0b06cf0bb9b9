/* module-conf.h — loading the configuration with the compiled-in modules:
 * the core tells the loader what it needs of each module descriptor (its
 * keys, struct size, dependencies), so the configuration layer knows
 * nothing of the module interface. */
#ifndef PL_MODULE_CONF_H
#define PL_MODULE_CONF_H

#include <stddef.h>

#include "config/config.h"

typedef struct pl_module_desc pl_module_desc_t;

/* What the loader needs of each descriptor, in registry order (a module
 * built for another ABI is marked refused).  The caller frees the array. */
pl_conf_module_t *pl_module_conf_views(const pl_module_desc_t *const *registry, size_t n);

/* pl_config_load / pl_config_load_string with a module registry; a host's
 * pl_module_conf_t.module indexes `registry`. */
pl_config_t *pl_config_load_modules(const char *path, const pl_module_desc_t *const *registry,
                                    size_t n, char **error);
pl_config_t *pl_config_load_string_modules(const char *text, const char *name,
                                           const pl_module_desc_t *const *registry, size_t n,
                                           char **error);

#endif
