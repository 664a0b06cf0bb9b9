/* xep/forms.c — XEP-0004 data forms: bounded parsing and building. */
#include "xep/forms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "xmpp/ns.h"

void pl_form_deinit(pl_form_t *f)
{
    for (size_t i = 0; i < f->nfields; i++) {
        pl_form_field_t *fl = &f->fields[i];
        for (size_t v = 0; v < fl->nvalues; v++)
            free(fl->values[v]);
        free(fl->values);
        free(fl->var);
        free(fl->type);
    }
    free(f->fields);
    free(f->type);
    memset(f, 0, sizeof(*f));
}

static int parse_field(const pl_xml_t *e, pl_form_field_t *out, size_t *values_left)
{
    pl_buf_t text;
    pl_buf_init(&text);
    int rc = 0;
    for (const pl_xml_t *v = pl_xml_child(e, "value", PL_NS_DATA_FORMS); v && rc == 0;
         v = pl_xml_next(v, "value", PL_NS_DATA_FORMS)) {
        pl_buf_reset(&text);
        pl_xml_text(v, &text);
        if (*values_left == 0 || text.len > PL_FORM_MAX_VALUE ||
            (text.len && memchr(text.data, '\0', text.len))) {
            rc = -EINVAL;
            break;
        }
        (*values_left)--;
        out->values = pl_xrealloc(out->values, (out->nvalues + 1) * sizeof(char *));
        out->values[out->nvalues++] = pl_xstrndup(text.len ? text.data : "", text.len);
    }
    pl_buf_deinit(&text);
    return rc;
}

int pl_form_parse(const pl_xml_t *x, pl_form_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!x || strcmp(x->name, "x") != 0 || strcmp(x->ns, PL_NS_DATA_FORMS) != 0)
        return -EINVAL;
    const char *type = pl_xml_attr(x, "type");
    out->type = pl_xstrdup(type ? type : "");
    size_t values_left = PL_FORM_MAX_VALUES;
    int rc = 0;
    for (const pl_xml_t *e = pl_xml_child(x, "field", PL_NS_DATA_FORMS); e && rc == 0;
         e = pl_xml_next(e, "field", PL_NS_DATA_FORMS)) {
        const char *var = pl_xml_attr(e, "var");
        const char *ftype = pl_xml_attr(e, "type");
        if (!var) {
            if (ftype && strcmp(ftype, "fixed") == 0)
                continue; /* labels carry no data */
            rc = -EINVAL;
            break;
        }
        if (out->nfields == PL_FORM_MAX_FIELDS || pl_form_field(out, var)) {
            rc = -EINVAL;
            break;
        }
        out->fields = pl_xrealloc(out->fields, (out->nfields + 1) * sizeof(*out->fields));
        pl_form_field_t *f = &out->fields[out->nfields++];
        memset(f, 0, sizeof(*f));
        f->var = pl_xstrdup(var);
        f->type = ftype ? pl_xstrdup(ftype) : NULL;
        rc = parse_field(e, f, &values_left);
    }
    if (rc != 0)
        pl_form_deinit(out);
    return rc;
}

const pl_form_field_t *pl_form_field(const pl_form_t *f, const char *var)
{
    for (size_t i = 0; i < f->nfields; i++)
        if (strcmp(f->fields[i].var, var) == 0)
            return &f->fields[i];
    return NULL;
}

const char *pl_form_value(const pl_form_t *f, const char *var)
{
    const pl_form_field_t *fl = pl_form_field(f, var);
    return fl && fl->nvalues ? fl->values[0] : NULL;
}

void pl_form_build_begin(pl_builder_t *b, const char *type, const char *form_type)
{
    pl_build_child(b, "x", PL_NS_DATA_FORMS);
    pl_build_attr(b, "type", type);
    if (form_type)
        pl_form_build_field(b, "FORM_TYPE", "hidden", NULL, form_type);
}

void pl_form_build_field(pl_builder_t *b, const char *var, const char *type, const char *label,
                         const char *value)
{
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", var);
    if (type)
        pl_build_attr(b, "type", type);
    if (label)
        pl_build_attr(b, "label", label);
    if (value)
        pl_build_text_child(b, "value", PL_NS_DATA_FORMS, value);
    pl_build_up(b);
}
