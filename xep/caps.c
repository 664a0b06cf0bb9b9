/* caps.c — XEP-0115 verification strings and hashes.  The strings of one
 * answer are gathered into arrays, sorted, checked for the duplicates §5.4
 * forbids, and concatenated with '<' separators. */
#include "xep/caps.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "xmpp/ns.h"
#include "xmpp/scram.h"

typedef struct identity {
    const char *category, *type, *lang, *name;
} identity_t;

typedef struct field {
    const char *var;
    char **values;
    size_t nvalues;
} field_t;

typedef struct form {
    char *form_type;
    field_t *fields;
    size_t nfields;
} form_t;

static const char *attr_or_empty(const pl_xml_t *e, const char *name)
{
    const char *v = pl_xml_attr(e, name);
    return v ? v : "";
}

/* '<' inside a string would make the separator ambiguous. */
static int bad_string(const char *s)
{
    return strchr(s, '<') != NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_identity(const void *a, const void *b)
{
    const identity_t *x = a, *y = b;
    int c = strcmp(x->category, y->category);
    if (!c)
        c = strcmp(x->type, y->type);
    if (!c)
        c = strcmp(x->lang, y->lang);
    if (!c)
        c = strcmp(x->name, y->name);
    return c;
}

static int cmp_field(const void *a, const void *b)
{
    return strcmp(((const field_t *)a)->var, ((const field_t *)b)->var);
}

static int cmp_form(const void *a, const void *b)
{
    return strcmp(((const form_t *)a)->form_type, ((const form_t *)b)->form_type);
}

static char *text_of(const pl_xml_t *e)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_xml_text(e, &b);
    char *s = pl_xstrdup(b.data ? b.data : "");
    pl_buf_deinit(&b);
    return s;
}

static void form_deinit(form_t *f)
{
    for (size_t i = 0; i < f->nfields; i++) {
        for (size_t k = 0; k < f->fields[i].nvalues; k++)
            free(f->fields[i].values[k]);
        free(f->fields[i].values);
    }
    free(f->fields);
    free(f->form_type);
}

/* Reads one data form.  Returns 1 (a form with a FORM_TYPE), 0 (no
 * FORM_TYPE: ignored), -1 ill-formed. */
static int form_read(const pl_xml_t *x, form_t *f)
{
    memset(f, 0, sizeof(*f));
    size_t nfields = 0;
    for (const pl_xml_t *fe = pl_xml_child(x, "field", PL_NS_DATA_FORMS); fe;
         fe = pl_xml_next(fe, "field", PL_NS_DATA_FORMS))
        nfields++;
    if (nfields > PL_CAPS_MAX_FIELDS)
        return -1;
    f->fields = pl_xcalloc(nfields ? nfields : 1, sizeof(field_t));
    for (const pl_xml_t *fe = pl_xml_child(x, "field", PL_NS_DATA_FORMS); fe;
         fe = pl_xml_next(fe, "field", PL_NS_DATA_FORMS)) {
        const char *var = pl_xml_attr(fe, "var");
        if (!var || bad_string(var))
            return -1;
        size_t nv = 0;
        for (const pl_xml_t *v = pl_xml_child(fe, "value", PL_NS_DATA_FORMS); v;
             v = pl_xml_next(v, "value", PL_NS_DATA_FORMS))
            nv++;
        if (nv > PL_CAPS_MAX_VALUES)
            return -1;
        if (strcmp(var, "FORM_TYPE") == 0) {
            const char *type = pl_xml_attr(fe, "type");
            if (f->form_type || nv != 1 || !type || strcmp(type, "hidden") != 0)
                return -1;
            f->form_type = text_of(pl_xml_child(fe, "value", PL_NS_DATA_FORMS));
            if (bad_string(f->form_type))
                return -1;
            continue;
        }
        field_t *fd = &f->fields[f->nfields++];
        fd->var = var;
        fd->values = pl_xcalloc(nv ? nv : 1, sizeof(char *));
        for (const pl_xml_t *v = pl_xml_child(fe, "value", PL_NS_DATA_FORMS); v;
             v = pl_xml_next(v, "value", PL_NS_DATA_FORMS)) {
            char *s = text_of(v);
            fd->values[fd->nvalues++] = s;
            if (bad_string(s))
                return -1;
        }
        qsort(fd->values, fd->nvalues, sizeof(char *), cmp_str);
    }
    if (!f->form_type)
        return 0;
    qsort(f->fields, f->nfields, sizeof(field_t), cmp_field);
    return 1;
}

static int append_identities(const pl_xml_t *query, pl_buf_t *out)
{
    identity_t ids[PL_CAPS_MAX_IDENTITIES];
    size_t n = 0;
    for (const pl_xml_t *e = pl_xml_child(query, "identity", PL_NS_DISCO_INFO); e;
         e = pl_xml_next(e, "identity", PL_NS_DISCO_INFO)) {
        if (n == PL_CAPS_MAX_IDENTITIES)
            return -1;
        identity_t *id = &ids[n++];
        id->category = attr_or_empty(e, "category");
        id->type = attr_or_empty(e, "type");
        id->lang = attr_or_empty(e, "xml:lang");
        id->name = attr_or_empty(e, "name");
        if (bad_string(id->category) || bad_string(id->type) || bad_string(id->lang) ||
            bad_string(id->name))
            return -1;
    }
    qsort(ids, n, sizeof(identity_t), cmp_identity);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cmp_identity(&ids[i - 1], &ids[i]) == 0)
            return -1;
        pl_buf_printf(out, "%s/%s/%s/%s<", ids[i].category, ids[i].type, ids[i].lang, ids[i].name);
    }
    return 0;
}

static int append_features(const pl_xml_t *query, pl_buf_t *out)
{
    size_t n = 0;
    for (const pl_xml_t *e = pl_xml_child(query, "feature", PL_NS_DISCO_INFO); e;
         e = pl_xml_next(e, "feature", PL_NS_DISCO_INFO))
        n++;
    if (n > PL_CAPS_MAX_FEATURES)
        return -1;
    const char **vars = pl_xcalloc(n ? n : 1, sizeof(char *));
    size_t k = 0;
    int rc = 0;
    for (const pl_xml_t *e = pl_xml_child(query, "feature", PL_NS_DISCO_INFO); e;
         e = pl_xml_next(e, "feature", PL_NS_DISCO_INFO)) {
        const char *var = pl_xml_attr(e, "var");
        if (!var || bad_string(var)) {
            rc = -1;
            break;
        }
        vars[k++] = var;
    }
    if (rc == 0) {
        qsort(vars, k, sizeof(char *), cmp_str);
        for (size_t i = 0; i < k && rc == 0; i++) {
            if (i > 0 && strcmp(vars[i - 1], vars[i]) == 0)
                rc = -1;
            else
                pl_buf_printf(out, "%s<", vars[i]);
        }
    }
    free(vars);
    return rc;
}

static int append_forms(const pl_xml_t *query, pl_buf_t *out)
{
    form_t forms[PL_CAPS_MAX_FORMS];
    size_t n = 0;
    int rc = 0;
    for (const pl_xml_t *x = pl_xml_child(query, "x", PL_NS_DATA_FORMS); x && rc == 0;
         x = pl_xml_next(x, "x", PL_NS_DATA_FORMS)) {
        if (n == PL_CAPS_MAX_FORMS) {
            rc = -1;
            break;
        }
        int r = form_read(x, &forms[n]);
        if (r == 1)
            n++;
        else
            form_deinit(&forms[n]);
        if (r < 0)
            rc = -1;
    }
    if (rc == 0) {
        qsort(forms, n, sizeof(form_t), cmp_form);
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i > 0 && strcmp(forms[i - 1].form_type, forms[i].form_type) == 0) {
                rc = -1;
                break;
            }
            pl_buf_printf(out, "%s<", forms[i].form_type);
            for (size_t f = 0; f < forms[i].nfields; f++) {
                const field_t *fd = &forms[i].fields[f];
                pl_buf_printf(out, "%s<", fd->var);
                for (size_t v = 0; v < fd->nvalues; v++)
                    pl_buf_printf(out, "%s<", fd->values[v]);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        form_deinit(&forms[i]);
    return rc;
}

int pl_caps_ver_string(const pl_xml_t *query, pl_buf_t *out)
{
    if (!query || query->kind != PL_XML_ELEMENT)
        return -1;
    if (append_identities(query, out) != 0 || append_features(query, out) != 0 ||
        append_forms(query, out) != 0)
        return -1;
    return 0;
}

static const EVP_MD *digest_by_name(const char *name)
{
    static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
    } table[] = {
        {"sha-1", EVP_sha1},     {"sha-224", EVP_sha224}, {"sha-256", EVP_sha256},
        {"sha-384", EVP_sha384}, {"sha-512", EVP_sha512},
    };
    for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].md();
    return NULL;
}

int pl_caps_hash(const char *hash_name, const void *data, size_t len, char *out, size_t outlen)
{
    const EVP_MD *md = digest_by_name(hash_name);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (!md || EVP_Digest(data, len, digest, &dlen, md, NULL) != 1)
        return -1;
    char *b64 = pl_base64_encode(digest, dlen);
    size_t n = strlen(b64);
    int rc = -1;
    if (n < outlen) {
        memcpy(out, b64, n + 1);
        rc = (int)n;
    }
    free(b64);
    return rc;
}

int pl_caps_verify(const pl_xml_t *query, const char *hash_name, const char *ver)
{
    if (!ver || !digest_by_name(hash_name))
        return -1;
    pl_buf_t s;
    pl_buf_init(&s);
    int rc = -1;
    char h[PL_CAPS_MAX_HASH_B64];
    if (pl_caps_ver_string(query, &s) == 0 &&
        pl_caps_hash(hash_name, s.data ? s.data : "", s.len, h, sizeof(h)) >= 0)
        rc = strcmp(h, ver) == 0;
    pl_buf_deinit(&s);
    return rc;
}

int pl_caps_from_presence(const pl_xml_t *presence, pl_caps_ref_t *out)
{
    memset(out, 0, sizeof(*out));
    const pl_xml_t *c = presence ? pl_xml_child(presence, "c", PL_NS_CAPS) : NULL;
    if (!c)
        return 0;
    out->node = pl_xml_attr(c, "node");
    out->ver = pl_xml_attr(c, "ver");
    out->hash = pl_xml_attr(c, "hash");
    if (!out->node || !*out->node || !out->ver || !*out->ver) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    return 1;
}
