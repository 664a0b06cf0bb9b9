/* xep/forms.h — the little of XEP-0004 data forms that request handlers
 * need: reading a submitted form's fields (var -> values) with bounds, and
 * writing a form or result with typed fields. */
#ifndef PL_XEP_FORMS_H
#define PL_XEP_FORMS_H

#include <stddef.h>

#include "xmpp/stanza.h"

#define PL_FORM_MAX_FIELDS 64
#define PL_FORM_MAX_VALUES 256 /* values across all fields */
#define PL_FORM_MAX_VALUE 4096 /* bytes in one value */

typedef struct pl_form_field {
    char *var;
    char *type; /* NULL when absent */
    char **values;
    size_t nvalues;
} pl_form_field_t;

typedef struct pl_form {
    char *type; /* the <x type=''/>: "submit", "form", "result", "cancel" */
    pl_form_field_t *fields;
    size_t nfields;
} pl_form_t;

/* Reads <x xmlns='jabber:x:data'/>.  0, or -EINVAL (the form is refused
 * with bad-request): not a data form, a field without var (other than
 * fixed ones), a var given twice, or a bound above exceeded.  On error
 * `out` is left empty; either way release it with pl_form_deinit. */
int pl_form_parse(const pl_xml_t *x, pl_form_t *out);
/* Frees what the form holds and empties it; the form itself is the caller's. */
void pl_form_deinit(pl_form_t *f);
/* The field `var`, or NULL. */
const pl_form_field_t *pl_form_field(const pl_form_t *f, const char *var);
/* The first value of field `var`, or NULL when absent or empty of values. */
const char *pl_form_value(const pl_form_t *f, const char *var);

/* Opens <x xmlns='jabber:x:data' type=type> on the builder with the hidden
 * FORM_TYPE field when form_type is not NULL; close it with pl_build_up. */
void pl_form_build_begin(pl_builder_t *b, const char *type, const char *form_type);
/* Adds a field (type and label may be NULL) with one value (NULL: none). */
void pl_form_build_field(pl_builder_t *b, const char *var, const char *type, const char *label,
                         const char *value);

#endif
