/* config-private.h — what the configuration loader's files share: the error
 * collector (every problem is kept, each tagged with its file and line), the
 * typed-key machinery that reads libconfig values through a conf[] table,
 * and the per-host module setup.  Nothing outside server/config*.c uses it. */
#ifndef PL_CONFIG_PRIVATE_H
#define PL_CONFIG_PRIVATE_H

#include <libconfig.h>
#include <stddef.h>

#include "config/conf.h"
#include "config/config.h"
#include "lib/buf.h"

/* One problem found, kept until the report is put together. */
typedef struct pl_cfg_error {
    char *file;    /* the name the operator would open */
    unsigned line; /* 0: about the file as a whole */
    size_t seq;    /* the order found, so sorting is stable */
    char *text;
} pl_cfg_error_t;

/* One load in progress. */
typedef struct pl_cfg_ctx {
    pl_cfg_error_t *errv;
    size_t nerrs, cap;
    const char *label;    /* the main file's name, or the string's label */
    const char *base_dir; /* relative paths are joined to this; "" keeps them */
} pl_cfg_ctx_t;

/* Records "FILE:LINE: message" for the setting `at`.  With `at` NULL the
 * problem concerns the file as a whole and is reported at line 1. */
void pl_cfg_err(pl_cfg_ctx_t *cx, const config_setting_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same with a file name as libconfig gives it (NULL = the main file) and a
 * line (0 = no line: "FILE: message"). */
void pl_cfg_err_at(pl_cfg_ctx_t *cx, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Every error, main file first, then by file name and line, one per line
 * without a final newline; NULL when there are none.  Empties the list. */
char *pl_cfg_report(pl_cfg_ctx_t *cx);

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
 * the known keys.  Defaults are not applied here.  Returns 0, or -1 when
 * anything was wrong (every problem is recorded, not only the first). */
int pl_cfg_apply_group(pl_cfg_ctx_t *cx, const config_setting_t *group, const pl_conf_def_t *defs,
                       const char *const *extra, void *base, const char *where);

/* Enables the modules listed in `mods` (the host's "modules" group, may be
 * NULL) on `h`: looks each up in the registry, builds and validates its
 * config struct, checks hard dependencies and sorts them so that
 * dependencies come first. */
void pl_cfg_host_modules(pl_cfg_ctx_t *cx, pl_host_conf_t *h, const config_setting_t *mods,
                         const pl_conf_module_t *reg, size_t nreg);

/* Frees one host's module configs (struct fields and the structs). */
void pl_cfg_free_modules(pl_host_conf_t *h);

#endif
