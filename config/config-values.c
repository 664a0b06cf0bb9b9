/* config-values.c — typed configuration values: parsing durations and sizes,
 * applying a conf[] table's defaults, and reading libconfig settings into
 * the fields a table describes (type, bounds, validator), with an error that
 * names the file and line for every value that does not fit. */
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/conf.h"
#include "config/config-private.h"
#include "config/config.h"
#include "lib/buf.h"
#include "lib/util.h"

/* ---- errors ---- */

/* libconfig records an @include'd file by the name written in the directive,
 * which it looked up in the main file's directory. */
static char *file_name(const pl_cfg_ctx_t *cx, const char *file)
{
    pl_buf_t b;
    pl_buf_init(&b);
    if (!file || strcmp(file, cx->label) == 0)
        pl_buf_puts(&b, cx->label);
    else if (file[0] != '/' && cx->base_dir[0])
        pl_buf_printf(&b, "%s%s", cx->base_dir, file);
    else
        pl_buf_puts(&b, file);
    char *out = pl_xstrdup(pl_buf_cstr(&b));
    pl_buf_deinit(&b);
    return out;
}

static void add_error(pl_cfg_ctx_t *cx, const char *file, unsigned line, const char *fmt,
                      va_list ap)
{
    if (cx->nerrs == cx->cap) {
        cx->cap = cx->cap ? cx->cap * 2 : 8;
        cx->errv = pl_xrealloc(cx->errv, cx->cap * sizeof(*cx->errv));
    }
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_vprintf(&b, fmt, ap);
    cx->errv[cx->nerrs] = (pl_cfg_error_t){
        .file = file_name(cx, file),
        .line = line,
        .seq = cx->nerrs,
        .text = pl_xstrdup(pl_buf_cstr(&b)),
    };
    cx->nerrs++;
    pl_buf_deinit(&b);
}

void pl_cfg_err(pl_cfg_ctx_t *cx, const config_setting_t *at, const char *fmt, ...)
{
    unsigned line = at ? config_setting_source_line(at) : 0;
    va_list ap;
    va_start(ap, fmt);
    /* Line 0 is the root group: the file as a whole, reported at line 1. */
    add_error(cx, at ? config_setting_source_file(at) : NULL, line ? line : 1, fmt, ap);
    va_end(ap);
}

void pl_cfg_err_at(pl_cfg_ctx_t *cx, const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_error(cx, file, line, fmt, ap);
    va_end(ap);
}

/* By file, then line, then the order found. */
static int error_cmp(const void *pa, const void *pb)
{
    const pl_cfg_error_t *a = pa, *b = pb;
    int c = strcmp(a->file, b->file);
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

char *pl_cfg_report(pl_cfg_ctx_t *cx)
{
    if (!cx->nerrs)
        return NULL;
    /* The main file's errors come first: sort those apart from the rest. */
    size_t nmain = 0;
    for (size_t i = 0; i < cx->nerrs; i++) {
        if (strcmp(cx->errv[i].file, cx->label) == 0) {
            pl_cfg_error_t t = cx->errv[nmain];
            cx->errv[nmain++] = cx->errv[i];
            cx->errv[i] = t;
        }
    }
    qsort(cx->errv, nmain, sizeof(*cx->errv), error_cmp);
    qsort(cx->errv + nmain, cx->nerrs - nmain, sizeof(*cx->errv), error_cmp);
    pl_buf_t b;
    pl_buf_init(&b);
    for (size_t i = 0; i < cx->nerrs; i++) {
        const pl_cfg_error_t *e = &cx->errv[i];
        if (i)
            pl_buf_puts(&b, "\n");
        if (e->line)
            pl_buf_printf(&b, "%s:%u: %s", e->file, e->line, e->text);
        else
            pl_buf_printf(&b, "%s: %s", e->file, e->text);
        free(e->file);
        free(e->text);
    }
    free(cx->errv);
    cx->errv = NULL;
    cx->nerrs = cx->cap = 0;
    char *out = pl_xstrdup(pl_buf_cstr(&b));
    pl_buf_deinit(&b);
    return out;
}

const char *pl_cfg_type_name(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_GROUP: return "a group { ... }";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a decimal number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "true/false";
    case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
    case CONFIG_TYPE_LIST: return "a list ( ... )";
    default: return "nothing";
    }
}

/* ---- durations and sizes ---- */

typedef struct unit {
    const char *suffix;
    long long factor;
} unit_t;

static const unit_t duration_units[] = {
    {.suffix = "", .factor = 1000}, /* a bare number means seconds */
    {.suffix = "ms", .factor = 1},
    {.suffix = "s", .factor = 1000},
    {.suffix = "m", .factor = 60 * 1000},
    {.suffix = "h", .factor = 60 * 60 * 1000},
    {.suffix = "d", .factor = 24 * 60 * 60 * 1000},
    {.suffix = NULL},
};

static const unit_t size_units[] = {
    {.suffix = "", .factor = 1},
    /* The first spelling of each factor is the one used in messages. */
    {.suffix = "k", .factor = 1LL << 10}, {.suffix = "K", .factor = 1LL << 10},
    {.suffix = "M", .factor = 1LL << 20}, {.suffix = "m", .factor = 1LL << 20},
    {.suffix = "G", .factor = 1LL << 30}, {.suffix = "g", .factor = 1LL << 30},
    {.suffix = "T", .factor = 1LL << 40}, {.suffix = "t", .factor = 1LL << 40},
    {.suffix = NULL},
};

/* Unsigned decimal digits followed by exactly one of the suffixes.  Signs,
 * spaces, fractions and anything that overflows a long long are refused,
 * so "-5s", "1.5h" and "99999999999999999999" are all errors. */
static int parse_scaled(const char *s, const unit_t *units, long long *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    long long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        int d = *s - '0';
        if (v > (LLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    for (const unit_t *u = units; u->suffix; u++) {
        if (strcmp(s, u->suffix) != 0)
            continue;
        if (v > LLONG_MAX / u->factor)
            return -1;
        *out = v * u->factor;
        return 0;
    }
    return -1;
}

int pl_conf_parse_duration(const char *s, long long *ms)
{
    return parse_scaled(s, duration_units, ms);
}

int pl_conf_parse_size(const char *s, long long *bytes)
{
    return parse_scaled(s, size_units, bytes);
}

/* The largest unit that divides the value exactly, so bounds read the way
 * people write them ("between 100ms and 1d", "at most 64M"). */
static const char *format_scaled(char *buf, size_t len, long long v, const unit_t *units,
                                 const char *base_suffix)
{
    const unit_t *best = NULL;
    for (const unit_t *u = units; u->suffix; u++) {
        if (!u->suffix[0] || v % u->factor != 0)
            continue;
        if (!best || u->factor > best->factor)
            best = u;
    }
    if (best && v != 0)
        snprintf(buf, len, "%lld%s", v / best->factor, best->suffix);
    else
        snprintf(buf, len, "%lld%s", v, base_suffix);
    return buf;
}

static const char *format_value(char *buf, size_t len, pl_conf_type_t type, long long v)
{
    if (type == PL_CONF_DURATION)
        return format_scaled(buf, len, v, duration_units, "ms");
    if (type == PL_CONF_SIZE)
        return format_scaled(buf, len, v, size_units, "");
    snprintf(buf, len, "%lld", v);
    return buf;
}

/* ---- defaults ---- */

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    for (size_t i = 0; yes[i]; i++)
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
    for (size_t i = 0; no[i]; i++)
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    return -1;
}

static int parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static int bounded(const pl_conf_def_t *def) { return def->min != 0 || def->max != 0; }

int pl_conf_apply_defaults(const pl_conf_def_t *defs, void *base, char *err, size_t errlen)
{
    static const char *const type_names[] = {
        [PL_CONF_BOOL] = "boolean",   [PL_CONF_INT] = "integer", [PL_CONF_STRING] = "string",
        [PL_CONF_DURATION] = "duration", [PL_CONF_SIZE] = "size",
    };
    for (const pl_conf_def_t *d = defs; d && d->key; d++) {
        void *field = (char *)base + d->offset;
        if (d->type < PL_CONF_BOOL || d->type > PL_CONF_SIZE) {
            snprintf(err, errlen, "key '%s' has an unknown type %d", d->key, (int)d->type);
            return -1;
        }
        if (d->type == PL_CONF_STRING) {
            free(*(char **)field);
            *(char **)field = d->def ? pl_xstrdup(d->def) : NULL;
            continue;
        }
        long long v = 0;
        int b = 0, bad = 0;
        if (d->def && d->type == PL_CONF_BOOL)
            bad = parse_bool(d->def, &b);
        else if (d->def && d->type == PL_CONF_INT)
            bad = parse_int(d->def, &v);
        else if (d->def && d->type == PL_CONF_DURATION)
            bad = pl_conf_parse_duration(d->def, &v);
        else if (d->def && d->type == PL_CONF_SIZE)
            bad = pl_conf_parse_size(d->def, &v);
        if (bad) {
            snprintf(err, errlen, "the built-in default of '%s' (\"%s\") is not a valid %s", d->key,
                     d->def, type_names[d->type]);
            return -1;
        }
        if (d->type == PL_CONF_BOOL) {
            *(int *)field = b;
            continue;
        }
        if (bounded(d) && (v < d->min || v > d->max)) {
            snprintf(err, errlen, "the built-in default of '%s' (\"%s\") is outside its bounds",
                     d->key, d->def ? d->def : "0");
            return -1;
        }
        *(long long *)field = v;
    }
    return 0;
}

void pl_conf_free_fields(const pl_conf_def_t *defs, void *base)
{
    if (!base)
        return;
    for (const pl_conf_def_t *d = defs; d && d->key; d++) {
        if (d->type != PL_CONF_STRING)
            continue;
        char **field = (char **)((char *)base + d->offset);
        free(*field);
        *field = NULL;
    }
}

const pl_conf_def_t *pl_conf_find(const pl_conf_def_t *defs, const char *key)
{
    for (const pl_conf_def_t *d = defs; d && d->key; d++)
        if (strcmp(d->key, key) == 0)
            return d;
    return NULL;
}

/* ---- reading libconfig settings ---- */

static int is_integer(const config_setting_t *s)
{
    return config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64;
}

/* A duration written as a number of seconds, whole or decimal. */
static int seconds_to_ms(const config_setting_t *s, long long *ms)
{
    if (is_integer(s)) {
        long long v = config_setting_get_int64(s);
        if (v < 0 || v > LLONG_MAX / 1000)
            return -1;
        *ms = v * 1000;
        return 0;
    }
    double f = config_setting_get_float(s) * 1000.0;
    if (!isfinite(f) || f < 0 || f >= 9.2e18)
        return -1;
    *ms = llround(f);
    return 0;
}

/* Reads a number-like value (INT, DURATION, SIZE) and checks its bounds. */
static int read_number(pl_cfg_ctx_t *cx, const pl_conf_def_t *def, const config_setting_t *s,
                       const char *pre, long long *out)
{
    const char *key = def->key;
    int type = config_setting_type(s);
    long long v = 0;
    if (def->type == PL_CONF_INT) {
        if (!is_integer(s)) {
            pl_cfg_err(cx, s, "%s'%s' must be an integer (got %s)", pre, key, pl_cfg_type_name(s));
            return -1;
        }
        v = config_setting_get_int64(s);
    } else if (def->type == PL_CONF_DURATION) {
        int bad;
        if (type == CONFIG_TYPE_STRING)
            bad = pl_conf_parse_duration(config_setting_get_string(s), &v);
        else if (is_integer(s) || type == CONFIG_TYPE_FLOAT)
            bad = seconds_to_ms(s, &v);
        else {
            pl_cfg_err(cx, s, "%s'%s' must be a duration such as 30 or \"30s\" (got %s)", pre,
                       key, pl_cfg_type_name(s));
            return -1;
        }
        if (bad) {
            if (type == CONFIG_TYPE_STRING)
                pl_cfg_err(cx, s,
                           "%s'%s': \"%s\" is not a duration (write a whole number followed by "
                           "ms, s, m, h or d, e.g. \"500ms\", \"30s\", \"10m\", \"2h\", \"7d\")",
                           pre, key, config_setting_get_string(s));
            else
                pl_cfg_err(cx, s, "%s'%s' must be a non-negative number of seconds", pre, key);
            return -1;
        }
    } else {
        int bad;
        if (type == CONFIG_TYPE_STRING)
            bad = pl_conf_parse_size(config_setting_get_string(s), &v);
        else if (is_integer(s)) {
            v = config_setting_get_int64(s);
            bad = v < 0;
        } else {
            pl_cfg_err(cx, s, "%s'%s' must be a size such as 65536 or \"64k\" (got %s)", pre, key,
                       pl_cfg_type_name(s));
            return -1;
        }
        if (bad) {
            if (type == CONFIG_TYPE_STRING)
                pl_cfg_err(cx, s,
                           "%s'%s': \"%s\" is not a size (write a whole number of bytes, "
                           "optionally followed by k, M, G or T, e.g. \"64k\", \"10M\", \"1G\")",
                           pre, key, config_setting_get_string(s));
            else
                pl_cfg_err(cx, s, "%s'%s' must not be negative", pre, key);
            return -1;
        }
    }
    if (bounded(def) && (v < def->min || v > def->max)) {
        char lo[32], hi[32], got[32];
        pl_cfg_err(cx, s, "%s'%s' must be between %s and %s (got %s)", pre, key,
                   format_value(lo, sizeof(lo), def->type, def->min),
                   format_value(hi, sizeof(hi), def->type, def->max),
                   format_value(got, sizeof(got), def->type, v));
        return -1;
    }
    *out = v;
    return 0;
}

int pl_cfg_set_field(pl_cfg_ctx_t *cx, const pl_conf_def_t *def, const config_setting_t *s,
                     void *base, const char *where)
{
    char pre[256];
    snprintf(pre, sizeof(pre), "%s%s", where ? where : "", where ? ": " : "");
    void *field = (char *)base + def->offset;
    switch (def->type) {
    case PL_CONF_BOOL:
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
            pl_cfg_err(cx, s, "%s'%s' must be true or false (got %s)", pre, def->key,
                       pl_cfg_type_name(s));
            return -1;
        }
        *(int *)field = config_setting_get_bool(s) ? 1 : 0;
        break;
    case PL_CONF_STRING:
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
            pl_cfg_err(cx, s, "%s'%s' must be a string (got %s)", pre, def->key,
                       pl_cfg_type_name(s));
            return -1;
        }
        free(*(char **)field);
        *(char **)field = pl_xstrdup(config_setting_get_string(s));
        break;
    case PL_CONF_INT:
    case PL_CONF_DURATION:
    case PL_CONF_SIZE: {
        long long v;
        if (read_number(cx, def, s, pre, &v) < 0)
            return -1;
        *(long long *)field = v;
        break;
    }
    default:
        pl_cfg_err(cx, s, "%s'%s' has an unknown type in its definition", pre, def->key);
        return -1;
    }
    if (def->validate) {
        char msg[256] = "";
        if (def->validate(field, msg, sizeof(msg)) < 0) {
            pl_cfg_err(cx, s, "%s'%s': %s", pre, def->key, msg[0] ? msg : "invalid value");
            return -1;
        }
    }
    return 0;
}

static int in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

static void unknown_key(pl_cfg_ctx_t *cx, const config_setting_t *s, const pl_conf_def_t *defs,
                        const char *const *extra, const char *where)
{
    pl_buf_t known;
    pl_buf_init(&known);
    for (const pl_conf_def_t *d = defs; d && d->key; d++)
        pl_buf_printf(&known, "%s%s", known.len ? ", " : "", d->key);
    for (size_t i = 0; extra && extra[i]; i++)
        pl_buf_printf(&known, "%s%s", known.len ? ", " : "", extra[i]);
    const char *name = config_setting_name(s) ? config_setting_name(s) : "?";
    if (known.len)
        pl_cfg_err(cx, s, "%s%sunknown key '%s' (known: %s)", where ? where : "",
                   where ? ": " : "", name, pl_buf_cstr(&known));
    else
        pl_cfg_err(cx, s, "%s%sunknown key '%s' (this section takes no settings)",
                   where ? where : "", where ? ": " : "", name);
    pl_buf_deinit(&known);
}

int pl_cfg_apply_group(pl_cfg_ctx_t *cx, const config_setting_t *group, const pl_conf_def_t *defs,
                       const char *const *extra, void *base, const char *where)
{
    if (!group)
        return 0;
    if (!config_setting_is_group(group)) {
        pl_cfg_err(cx, group, "%s must be a group { ... } (got %s)", where ? where : "setting",
                   pl_cfg_type_name(group));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        if (name && in_list(extra, name))
            continue;
        const pl_conf_def_t *def = name ? pl_conf_find(defs, name) : NULL;
        if (!def) {
            unknown_key(cx, s, defs, extra, where);
            rc = -1;
        } else if (pl_cfg_set_field(cx, def, s, base, where) < 0) {
            rc = -1;
        }
    }
    return rc;
}
