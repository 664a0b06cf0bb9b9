/* config-private.h — what the configuration loader's files share: the error
 * collector (every problem is kept, each tagged with its file and line), the
 * typed-key machinery that reads libconfig values through a conf[] table,
 * and the per-host module setup.  Nothing outside server/config*.c uses it. */
#ifndef PL_CONFIG_PRIVATE_H
#define PL_CONFIG_PRIVATE_H

#include <libconfig.h>
#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "config.h"

/* One load in progress.  Errors accumulate in `errs`, one per line. */
typedef struct pl_cfg_ctx {
    pl_buf_t errs;
    size_t nerrs;
    const char *label;    /* file name for settings read from a string */
    const char *base_dir; /* relative paths are joined to this; "" keeps them */
} pl_cfg_ctx_t;

/* Records "FILE:LINE: message" for the setting `at`.  With `at` NULL the
 * problem concerns the file as a whole and is reported at line 1. */
void pl_cfg_err(pl_cfg_ctx_t *cx, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "a string", "an integer", "a group"... for messages about wrong types. */
const char *pl_cfg_type_name(const config_setting_t *s);

/* The def named `key`, or NULL. */
const pl_conf_def_t *pl_conf_find(const pl_conf_def_t *defs, const char *key);

/* Writes the value of `s` into the field `def` describes, after checking its
 * type, bounds and validator.  `where` names the enclosing section in
 * messages ("limits", "module 'ping' on host 'a.example'"), NULL for the top
 * level.  Returns 0, or -1 after recording an error. */
int pl_cfg_set_field(pl_cfg_ctx_t *cx, const pl_conf_def_t *def, const config_setting_t *s,
                     void *base, const char *where);

/* Applies every member of `group` (a libconfig group, or NULL for "absent")
 * through `defs`.  Members named in `extra` (NULL-terminated, may be NULL)
 * are left to the caller; any other unknown member is an error that lists
 * the known keys.  Defaults are not applied here. */
void pl_cfg_apply_group(pl_cfg_ctx_t *cx, const config_setting_t *group, const pl_conf_def_t *defs,
                        const char *const *extra, void *base, const char *where);

/* Enables the modules listed in `mods` (the host's "modules" group, may be
 * NULL) on `h`: looks each up in the registry, builds and validates its
 * config struct, checks hard dependencies and sorts them so that
 * dependencies come first. */
void pl_cfg_host_modules(pl_cfg_ctx_t *cx, pl_host_conf_t *h, const config_setting_t *mods,
                         const pl_module_desc_t *const *reg, size_t nreg);

/* Frees one host's module configs (struct fields and the structs). */
void pl_cfg_free_modules(pl_host_conf_t *h);

#endif
