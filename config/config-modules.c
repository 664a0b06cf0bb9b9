/* config-modules.c — enabling modules on a host: each name is looked up in
 * the compiled-in registry, its config struct is built from the module's
 * conf[] table, hard dependencies are checked, and the host's modules are
 * put in the order the core starts them (dependencies first). */
#include <libconfig.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-private.h"
#include "config/config.h"
#include "lib/buf.h"
#include "lib/util.h"

static size_t find_module(const pl_conf_module_t *reg, size_t nreg, const char *name)
{
    for (size_t i = 0; i < nreg; i++)
        if (reg[i].name && strcmp(reg[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* Bytes a field of this type occupies in the module's struct. */
static size_t field_size(pl_conf_type_t type)
{
    switch (type) {
    case PL_CONF_BOOL: return sizeof(int);
    case PL_CONF_STRING: return sizeof(char *);
    default: return sizeof(long long);
    }
}

/* A table whose offsets point past conf_size would have the loader write
 * outside the struct, so such a module is refused before anything is
 * written. */
static int defs_fit(const pl_conf_module_t *desc, char *err, size_t errlen)
{
    for (const pl_conf_def_t *d = desc->conf; d && d->key; d++) {
        if (d->offset + field_size(d->type) > desc->conf_size) {
            snprintf(err, errlen, "key '%s' lies outside the module's config struct (%zu bytes)",
                     d->key, desc->conf_size);
            return -1;
        }
    }
    return 0;
}

static void unknown_module(pl_cfg_ctx_t *cx, const config_setting_t *s, const char *name,
                           const pl_conf_module_t *reg, size_t nreg)
{
    pl_buf_t known;
    pl_buf_init(&known);
    for (size_t i = 0; i < nreg; i++)
        if (reg[i].name)
            pl_buf_printf(&known, "%s%s", known.len ? ", " : "", reg[i].name);
    pl_cfg_err(cx, s, "unknown module '%s' (known: %s)", name,
               known.len ? pl_buf_cstr(&known) : "none");
    pl_buf_deinit(&known);
}

/* Builds the config struct of one module: zeroed, defaults, then the values
 * the file gives.  Returns 0, or -1 after recording an error. */
static int build_conf(pl_cfg_ctx_t *cx, pl_module_conf_t *mc, const config_setting_t *s,
                      const char *hostname)
{
    const pl_conf_module_t *desc = &mc->info;
    char where[512], err[256];
    snprintf(where, sizeof(where), "module '%s' on host '%s'", desc->name, hostname);
    if (defs_fit(desc, err, sizeof(err)) < 0) {
        pl_cfg_err(cx, s, "%s: %s", where, err);
        return -1;
    }
    if (desc->conf_size)
        mc->conf = pl_xcalloc(1, desc->conf_size);
    if (pl_conf_apply_defaults(desc->conf, mc->conf, err, sizeof(err)) < 0) {
        pl_cfg_err(cx, s, "%s: %s", where, err);
        return -1;
    }
    return pl_cfg_apply_group(cx, s, desc->conf, NULL, mc->conf, where);
}

/* ---- dependency order ---- */

typedef struct order {
    pl_cfg_ctx_t *cx;
    const pl_host_conf_t *h;
    const config_setting_t *const *at; /* each module's setting, for lines */
    unsigned char *mark;               /* 0 unvisited, 1 on the path, 2 placed */
    size_t *path;
    size_t depth;
    pl_module_conf_t *out;
    size_t nout;
    int cycle;
} order_t;

static size_t enabled_index(const pl_host_conf_t *h, const char *name)
{
    for (size_t i = 0; i < h->nmodules; i++)
        if (strcmp(h->modules[i].info.name, name) == 0)
            return i;
    return SIZE_MAX;
}

static void report_cycle(order_t *o, size_t back_to)
{
    pl_buf_t path;
    pl_buf_init(&path);
    size_t from = 0;
    while (o->path[from] != back_to)
        from++;
    for (size_t k = from; k < o->depth; k++)
        pl_buf_printf(&path, "%s -> ", o->h->modules[o->path[k]].info.name);
    pl_buf_puts(&path, o->h->modules[back_to].info.name);
    pl_cfg_err(o->cx, o->at[back_to], "modules on host '%s' depend on each other in a cycle: %s",
               o->h->name ? o->h->name : "?", pl_buf_cstr(&path));
    pl_buf_deinit(&path);
    o->cycle = 1;
}

/* Depth-first: a module is placed after everything it requires or wants
 * that is enabled here.  Modules with no relation keep the file's order. */
static void visit(order_t *o, size_t i)
{
    if (o->cycle || o->mark[i] == 2)
        return;
    if (o->mark[i] == 1) {
        report_cycle(o, i);
        return;
    }
    o->mark[i] = 1;
    o->path[o->depth++] = i;
    const pl_conf_module_t *desc = &o->h->modules[i].info;
    const char *const *lists[] = {desc->requires, desc->wants};
    for (size_t l = 0; l < 2 && !o->cycle; l++) {
        for (size_t k = 0; lists[l] && lists[l][k] && !o->cycle; k++) {
            size_t j = enabled_index(o->h, lists[l][k]);
            if (j != SIZE_MAX)
                visit(o, j);
        }
    }
    if (o->cycle)
        return;
    o->depth--;
    o->mark[i] = 2;
    o->out[o->nout++] = o->h->modules[i];
}

static void order_modules(pl_cfg_ctx_t *cx, pl_host_conf_t *h, const config_setting_t *const *at)
{
    order_t o = {
        .cx = cx,
        .h = h,
        .at = at,
        .mark = pl_xcalloc(h->nmodules, 1),
        .path = pl_xcalloc(h->nmodules, sizeof(size_t)),
        .out = pl_xcalloc(h->nmodules, sizeof(pl_module_conf_t)),
    };
    for (size_t i = 0; i < h->nmodules && !o.cycle; i++)
        visit(&o, i);
    if (!o.cycle)
        memcpy(h->modules, o.out, h->nmodules * sizeof(pl_module_conf_t));
    free(o.mark);
    free(o.path);
    free(o.out);
}

static void check_requires(pl_cfg_ctx_t *cx, const pl_host_conf_t *h,
                           const config_setting_t *const *at)
{
    for (size_t i = 0; i < h->nmodules; i++) {
        const pl_conf_module_t *desc = &h->modules[i].info;
        for (size_t k = 0; desc->requires && desc->requires[k]; k++)
            if (enabled_index(h, desc->requires[k]) == SIZE_MAX)
                pl_cfg_err(cx, at[i], "module '%s' on host '%s' requires module '%s'", desc->name,
                           h->name ? h->name : "?", desc->requires[k]);
    }
}

void pl_cfg_host_modules(pl_cfg_ctx_t *cx, pl_host_conf_t *h, const config_setting_t *mods,
                         const pl_conf_module_t *reg, size_t nreg)
{
    if (!mods)
        return;
    const char *hostname = h->name ? h->name : "?";
    if (!config_setting_is_group(mods)) {
        pl_cfg_err(cx, mods,
                   "host '%s': 'modules' must be a group { name = { ... }; ... } (got %s)",
                   hostname, pl_cfg_type_name(mods));
        return;
    }
    size_t n = (size_t)config_setting_length(mods);
    h->modules = pl_xcalloc(n, sizeof(pl_module_conf_t));
    const config_setting_t **at = pl_xcalloc(n, sizeof(*at));
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(mods, (unsigned)i);
        const char *name = config_setting_name(s);
        size_t index = find_module(reg, nreg, name);
        if (index == SIZE_MAX) {
            unknown_module(cx, s, name, reg, nreg);
            continue;
        }
        if (reg[index].refused) {
            pl_cfg_err(cx, s, "module '%s': %s", name, reg[index].refused);
            continue;
        }
        if (!config_setting_is_group(s)) {
            pl_cfg_err(cx, s,
                       "module '%s' on host '%s' must be written as a group, e.g. %s = {}; "
                       "(got %s)",
                       name, hostname, name, pl_cfg_type_name(s));
            continue;
        }
        pl_module_conf_t *mc = &h->modules[h->nmodules];
        at[h->nmodules++] = s;
        mc->module = index;
        mc->info = reg[index];
        mc->line = (int)config_setting_source_line(s);
        build_conf(cx, mc, s, hostname);
    }
    check_requires(cx, h, at);
    order_modules(cx, h, at);
    free(at);
}

void pl_cfg_free_modules(pl_host_conf_t *h)
{
    for (size_t i = 0; i < h->nmodules; i++) {
        pl_module_conf_t *mc = &h->modules[i];
        if (mc->conf)
            pl_conf_free_fields(mc->info.conf, mc->conf);
        free(mc->conf);
    }
    free(h->modules);
    h->modules = NULL;
    h->nmodules = 0;
}
