/* directory.c — validation of the personal directory (urn:parley:directory:0)
 * stored through XEP-0049.  Every client of the user reads this element back
 * and trusts its shape, so the server refuses anything the format does not
 * define rather than storing it for the next client to trip over. */
#include "modules/private/directory.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/map.h"

static int refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Character data between elements may only be whitespace (indentation). */
static int only_whitespace(const pl_xml_t *t)
{
    for (size_t i = 0; i < t->text_len; i++)
        if (!strchr(" \t\r\n", t->text[i]))
            return 0;
    return 1;
}

/* Attribute names allowed on an element, NULL-terminated. */
static int attrs_known(const pl_xml_t *e, const char *const *known, char *why, size_t whylen)
{
    for (unsigned i = 0; i < e->nattrs; i++) {
        const pl_attr_t *a = &e->attrs[i];
        int ok = 0;
        for (size_t k = 0; known[k] && !a->ns; k++)
            ok |= strcmp(a->name, known[k]) == 0;
        if (!ok)
            return refuse(why, whylen, "unknown attribute '%s' on <%s/>", a->name, e->name);
    }
    return 0;
}

static int length_ok(const char *v, size_t min, size_t max)
{
    size_t n = v ? strlen(v) : 0;
    return n >= min && n <= max;
}

static int check_group_order(const pl_xml_t *order, char *why, size_t whylen)
{
    static const char *const none[] = {NULL}, *const group_attrs[] = {"name", NULL};
    if (attrs_known(order, none, why, whylen) != 0)
        return -1;
    pl_map_t seen;
    pl_map_init(&seen);
    size_t n = 0;
    int rc = 0;
    for (const pl_xml_t *c = order->children; c && rc == 0; c = c->next) {
        if (c->kind == PL_XML_TEXT) {
            if (!only_whitespace(c))
                rc = refuse(why, whylen, "text is not allowed in <group-order/>");
            continue;
        }
        const char *name = pl_xml_attr(c, "name");
        if (strcmp(c->name, "group") != 0 || strcmp(c->ns, PL_NS_PARLEY_DIRECTORY) != 0)
            rc = refuse(why, whylen, "unknown element <%s/> in <group-order/>", c->name);
        else if (attrs_known(c, group_attrs, why, whylen) != 0)
            rc = -1;
        else if (c->children)
            rc = refuse(why, whylen, "<group/> in <group-order/> is empty");
        else if (++n > DIRECTORY_MAX_GROUPS)
            rc = refuse(why, whylen, "at most %d groups", DIRECTORY_MAX_GROUPS);
        else if (!length_ok(name, 1, DIRECTORY_MAX_FIELD))
            rc = refuse(why, whylen, "a group name must be 1 to %d bytes", DIRECTORY_MAX_FIELD);
        else if (pl_map_put(&seen, name, (void *)1))
            rc = refuse(why, whylen, "group '%s' is listed twice", name);
    }
    pl_map_deinit(&seen);
    return rc;
}

static int check_contact_group(const pl_xml_t *g, char *why, size_t whylen)
{
    if (g->nattrs)
        return refuse(why, whylen, "<group/> in <contact/> takes no attributes");
    size_t len = 0;
    for (const pl_xml_t *t = g->children; t; t = t->next) {
        if (t->kind != PL_XML_TEXT)
            return refuse(why, whylen, "<group/> in <contact/> holds only its name");
        len += t->text_len;
    }
    if (len == 0 || len > DIRECTORY_MAX_FIELD)
        return refuse(why, whylen, "a group name must be 1 to %d bytes", DIRECTORY_MAX_FIELD);
    return 0;
}

static int check_contact(const pl_xml_t *c, pl_map_t *ids, char *why, size_t whylen)
{
    static const char *const known[] = {"id", "name", "phone", "email", "org", "note", NULL};
    if (attrs_known(c, known, why, whylen) != 0)
        return -1;
    const char *id = pl_xml_attr(c, "id");
    if (!length_ok(id, 1, DIRECTORY_MAX_ID))
        return refuse(why, whylen, "a contact needs an id of 1 to %d bytes", DIRECTORY_MAX_ID);
    if (pl_map_put(ids, id, (void *)1))
        return refuse(why, whylen, "contact id '%s' is used twice", id);
    if (!length_ok(pl_xml_attr(c, "name"), 1, DIRECTORY_MAX_FIELD))
        return refuse(why, whylen, "contact '%s' needs a name of 1 to %d bytes", id,
                      DIRECTORY_MAX_FIELD);
    static const char *const fields[] = {"phone", "email", "org"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (!length_ok(pl_xml_attr(c, fields[i]), 0, DIRECTORY_MAX_FIELD))
            return refuse(why, whylen, "'%s' of contact '%s' is longer than %d bytes", fields[i],
                          id, DIRECTORY_MAX_FIELD);
    if (!length_ok(pl_xml_attr(c, "note"), 0, DIRECTORY_MAX_NOTE))
        return refuse(why, whylen, "the note of contact '%s' is longer than %d bytes", id,
                      DIRECTORY_MAX_NOTE);
    size_t groups = 0;
    for (const pl_xml_t *g = c->children; g; g = g->next) {
        if (g->kind == PL_XML_TEXT) {
            if (!only_whitespace(g))
                return refuse(why, whylen, "text is not allowed in <contact/>");
            continue;
        }
        if (strcmp(g->name, "group") != 0 || strcmp(g->ns, PL_NS_PARLEY_DIRECTORY) != 0)
            return refuse(why, whylen, "unknown element <%s/> in <contact/>", g->name);
        if (++groups > DIRECTORY_MAX_CONTACT_GROUPS)
            return refuse(why, whylen, "a contact is in at most %d groups",
                          DIRECTORY_MAX_CONTACT_GROUPS);
        if (check_contact_group(g, why, whylen) != 0)
            return -1;
    }
    return 0;
}

int directory_validate(const pl_xml_t *dir, char *why, size_t whylen)
{
    static const char *const none[] = {NULL};
    if (strcmp(dir->name, "directory") != 0)
        return refuse(why, whylen, "the element in %s is <directory/>", PL_NS_PARLEY_DIRECTORY);
    if (attrs_known(dir, none, why, whylen) != 0)
        return -1;
    pl_map_t ids;
    pl_map_init(&ids);
    size_t orders = 0, contacts = 0;
    int rc = 0;
    for (const pl_xml_t *c = dir->children; c && rc == 0; c = c->next) {
        if (c->kind == PL_XML_TEXT) {
            if (!only_whitespace(c))
                rc = refuse(why, whylen, "text is not allowed in <directory/>");
        } else if (strcmp(c->ns, PL_NS_PARLEY_DIRECTORY) != 0) {
            rc = refuse(why, whylen, "unknown element <%s/> in <directory/>", c->name);
        } else if (strcmp(c->name, "group-order") == 0) {
            rc = ++orders > 1 ? refuse(why, whylen, "one <group-order/> at most")
                              : check_group_order(c, why, whylen);
        } else if (strcmp(c->name, "contact") == 0) {
            rc = ++contacts > DIRECTORY_MAX_CONTACTS
                     ? refuse(why, whylen, "at most %d contacts", DIRECTORY_MAX_CONTACTS)
                     : check_contact(c, &ids, why, whylen);
        } else {
            rc = refuse(why, whylen, "unknown element <%s/> in <directory/>", c->name);
        }
    }
    pl_map_deinit(&ids);
    return rc;
}
