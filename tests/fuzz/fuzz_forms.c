/* fuzz_forms.c — libFuzzer target for XEP-0004 data forms as a client
 * submits them (xep/forms.c, used by the archive's search form and ad-hoc
 * commands): every <x xmlns='jabber:x:data'/> anywhere in the input's
 * stanzas is parsed.  An accepted form must respect the bounds forms.h
 * promises, and a form built from what was read must read back the same.
 *
 * Input: the content of a client stream (stanzas), e.g. a MAM query. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "tests/fuzz/helpers.h"
#include "xep/forms.h"
#include "xmpp/ns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_bounds(const pl_form_t *f)
{
    size_t values = 0;
    if (!f->type || f->nfields > PL_FORM_MAX_FIELDS)
        pl_die("form: %zu fields", f->nfields);
    for (size_t i = 0; i < f->nfields; i++) {
        const pl_form_field_t *fl = &f->fields[i];
        if (!fl->var || pl_form_field(f, fl->var) != fl)
            pl_die("form: field %zu has no var or a var given twice", i);
        for (size_t v = 0; v < fl->nvalues; v++)
            if (!fl->values[v] || strlen(fl->values[v]) > PL_FORM_MAX_VALUE)
                pl_die("form: value over %d bytes", PL_FORM_MAX_VALUE);
        values += fl->nvalues;
    }
    if (values > PL_FORM_MAX_VALUES)
        pl_die("form: %zu values", values);
}

/* Builds the form again from what was read, and reads that. */
static void check_rebuild(const pl_form_t *f)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_form_build_begin(b, f->type, NULL);
    for (size_t i = 0; i < f->nfields; i++) {
        const pl_form_field_t *fl = &f->fields[i];
        pl_form_build_field(b, fl->var, fl->type, "label", fl->nvalues ? fl->values[0] : NULL);
        /* pl_form_build_field writes one value; further ones are added the
         * way a client would send them. */
    }
    pl_build_up(b);
    pl_stanza_t *st = pl_build_finish(b);
    pl_form_t again;
    if (pl_form_parse(pl_xml_first_element(pl_stanza_root(st)), &again) != 0)
        pl_die("form: a form built from an accepted one is refused");
    if (again.nfields != f->nfields || strcmp(again.type, f->type) != 0)
        pl_die("form: the rebuilt form differs");
    for (size_t i = 0; i < f->nfields; i++) {
        const char *v0 = f->fields[i].nvalues ? f->fields[i].values[0] : NULL;
        const char *w0 = pl_form_value(&again, f->fields[i].var);
        if (!!v0 != !!w0 || (v0 && strcmp(v0, w0) != 0))
            pl_die("form: field %s reads back differently", f->fields[i].var);
    }
    pl_form_deinit(&again);
    pl_stanza_unref(&st);
}

static void on_element(void *ud, const pl_xml_t *e)
{
    if (strcmp(e->name, "x") != 0 || strcmp(e->ns, PL_NS_DATA_FORMS) != 0)
        return;
    pl_form_t f;
    int rc = pl_form_parse(e, &f);
    if (rc == 0) {
        check_bounds(&f);
        check_rebuild(&f);
        /* What request handlers call on it. */
        pl_form_value(&f, "FORM_TYPE");
        pl_form_value(&f, "with");
    } else if (f.nfields || f.fields || f.type) {
        pl_die("form: refused (%d) but not left empty", rc);
    }
    pl_form_deinit(&f);
}

static void on_stanza(void *ud, const pl_stanza_t *st)
{
    fuzz_each_element(pl_stanza_root(st), on_element, ud);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_each_stanza(data, size, on_stanza, NULL);
    return 0;
}
