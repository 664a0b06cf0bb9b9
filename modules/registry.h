/* registry.h — the table of compiled-in modules.  Adding a module: write
 * modules/NAME/NAME.c exporting `const pl_module_desc_t pl_mod_NAME`, list
 * it in registry.c, and enable it per host in the config. */
#ifndef PL_MODULES_REGISTRY_H
#define PL_MODULES_REGISTRY_H

#include <stddef.h>

#include "core/module.h"

extern const pl_module_desc_t *const pl_module_registry[];
extern const size_t pl_module_registry_size;

#endif
