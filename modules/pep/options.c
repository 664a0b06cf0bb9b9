/* options.c — the XEP-0004 forms of node options: publish-options
 * (XEP-0060 §7.1.5) and node configuration (§8.2), limited to the fields
 * PEP uses.  Unknown fields are ignored; a known field with a value outside
 * its range makes the whole form invalid. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules/pep/pep-private.h"
#include "xmpp/ns.h"

static const char *const access_names[] = {
    [PEP_ACCESS_PRESENCE] = "presence",
    [PEP_ACCESS_OPEN] = "open",
    [PEP_ACCESS_WHITELIST] = "whitelist",
};

const char *pep_access_name(pep_access_t a)
{
    return access_names[a];
}

/* The single value of a field, or NULL (none, or more than one). */
static const char *single_value(const pl_xml_t *field, pl_buf_t *buf)
{
    const pl_xml_t *v = pl_xml_child(field, "value", PL_NS_DATA_FORMS);
    if (!v || pl_xml_next(v, "value", PL_NS_DATA_FORMS))
        return NULL;
    pl_buf_reset(buf);
    pl_xml_text(v, buf);
    return pl_buf_cstr(buf);
}

static int parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "1") || !strcmp(s, "true")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(s, "0") || !strcmp(s, "false")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_max(const char *s, long limit, long *out)
{
    if (!strcmp(s, "max")) {
        *out = limit;
        return 0;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > limit)
        return -1;
    *out = v;
    return 0;
}

static int parse_field(const char *var, const char *value, long limit, pep_options_t *o)
{
    if (!strcmp(var, "pubsub#access_model")) {
        for (int a = PEP_ACCESS_PRESENCE; a <= PEP_ACCESS_WHITELIST; a++) {
            if (!strcmp(value, access_names[a])) {
                o->conf.access = (pep_access_t)a;
                o->given |= PEP_OPT_ACCESS;
                return 0;
            }
        }
        return -1;
    }
    if (!strcmp(var, "pubsub#persist_items")) {
        o->given |= PEP_OPT_PERSIST;
        return parse_bool(value, &o->conf.persist);
    }
    if (!strcmp(var, "pubsub#max_items")) {
        o->given |= PEP_OPT_MAX_ITEMS;
        return parse_max(value, limit, &o->conf.max_items);
    }
    if (!strcmp(var, "pubsub#send_last_published_item")) {
        o->given |= PEP_OPT_SEND_LAST;
        if (!strcmp(value, "never")) {
            o->conf.send_last = 0;
            return 0;
        }
        if (!strcmp(value, "on_sub") || !strcmp(value, "on_sub_and_presence")) {
            o->conf.send_last = 1;
            return 0;
        }
        return -1;
    }
    return 0; /* a field PEP does not use */
}

int pep_options_parse(const pl_xml_t *x, const char *form_type, long max_items_limit,
                      pep_options_t *out)
{
    memset(out, 0, sizeof(*out));
    pep_node_conf_default(&out->conf);
    const char *type = x ? pl_xml_attr(x, "type") : NULL;
    if (!x || strcmp(x->ns, PL_NS_DATA_FORMS) != 0 || strcmp(x->name, "x") != 0 || !type ||
        strcmp(type, "submit") != 0)
        return -1;
    pl_buf_t buf;
    pl_buf_init(&buf);
    int rc = 0, have_type = 0, nfields = 0;
    for (const pl_xml_t *f = pl_xml_child(x, "field", PL_NS_DATA_FORMS); f && rc == 0;
         f = pl_xml_next(f, "field", PL_NS_DATA_FORMS)) {
        const char *var = pl_xml_attr(f, "var");
        const char *value = single_value(f, &buf);
        if (!var || !value || ++nfields > 64) {
            rc = -1;
        } else if (!strcmp(var, "FORM_TYPE")) {
            have_type = 1;
            if (strcmp(value, form_type) != 0)
                rc = -1;
        } else {
            rc = parse_field(var, value, max_items_limit, out);
        }
    }
    pl_buf_deinit(&buf);
    return rc == 0 && have_type ? 0 : -1;
}

void pep_options_apply(const pep_options_t *o, pep_node_conf_t *c)
{
    if (o->given & PEP_OPT_ACCESS)
        c->access = o->conf.access;
    if (o->given & PEP_OPT_PERSIST)
        c->persist = o->conf.persist;
    if (o->given & PEP_OPT_MAX_ITEMS)
        c->max_items = o->conf.max_items;
    if (o->given & PEP_OPT_SEND_LAST)
        c->send_last = o->conf.send_last;
}

int pep_options_match(const pep_options_t *o, const pep_node_conf_t *c)
{
    if ((o->given & PEP_OPT_ACCESS) && o->conf.access != c->access)
        return 0;
    if ((o->given & PEP_OPT_PERSIST) && o->conf.persist != c->persist)
        return 0;
    if ((o->given & PEP_OPT_MAX_ITEMS) && o->conf.max_items != c->max_items)
        return 0;
    if ((o->given & PEP_OPT_SEND_LAST) && o->conf.send_last != c->send_last)
        return 0;
    return 1;
}

static void field(pl_builder_t *b, const char *var, const char *type, const char *value)
{
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", var);
    pl_build_attr(b, "type", type);
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS, value);
    pl_build_up(b);
}

static void option(pl_builder_t *b, const char *value)
{
    pl_build_child(b, "option", PL_NS_DATA_FORMS);
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS, value);
    pl_build_up(b);
}

void pep_conf_form(pl_builder_t *b, const pep_node_conf_t *c, long max_items_limit)
{
    char num[32];
    pl_build_child(b, "x", PL_NS_DATA_FORMS);
    pl_build_attr(b, "type", "form");
    field(b, "FORM_TYPE", "hidden", PEP_FORM_NODE_CONFIG);
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", "pubsub#access_model");
    pl_build_attr(b, "type", "list-single");
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS, pep_access_name(c->access));
    for (int a = PEP_ACCESS_PRESENCE; a <= PEP_ACCESS_WHITELIST; a++)
        option(b, access_names[a]);
    pl_build_up(b);
    field(b, "pubsub#persist_items", "boolean", c->persist ? "1" : "0");
    snprintf(num, sizeof(num), "%ld", c->max_items);
    field(b, "pubsub#max_items", "text-single", num);
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", "pubsub#send_last_published_item");
    pl_build_attr(b, "type", "list-single");
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS,
                        c->send_last ? "on_sub_and_presence" : "never");
    option(b, "never");
    option(b, "on_sub_and_presence");
    pl_build_up(b);
    (void)max_items_limit;
    pl_build_up(b);
}
