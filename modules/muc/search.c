/* search.c — group search on the group service (issue #16 GRP-4):
 * jabber:iq:search (XEP-0055) with a data form, by name (fuzzy, see
 * muc_search_fold) and by id (exact), answered with a result form with
 * reported fields and paged with XEP-0059.  The searcher sees the public
 * rooms of its own tenant and the rooms it belongs to; the members-only and
 * hidden rooms of others never appear.  docs/modules/muc.md, "Group
 * search", says why XEP-0055 rather than XEP-0433. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "xep/forms.h"
#include "xep/rsm.h"

enum {
    SEARCH_PAGE_DEFAULT = 50, /* results per page when the client says nothing */
    SEARCH_PAGE_MAX = 100,    /* and at most, whatever it asks */
};

static const char instructions[] =
    "Search the groups of this service by name (any part of it, letters in any case, "
    "spaces ignored) or by id (the group's address or the part before the @). Fill in the "
    "form; leave both empty to list every group you may see.";

void muc_search_fold(const char *s, size_t len, pl_buf_t *out)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            continue;
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
        } else if (c == 0xc3 && i + 1 < len) {
            /* U+00C0..U+00DE (À..Þ, but not × U+00D7) fold to U+00E0..U+00FE:
             * the Latin-1 letters of the western European languages. */
            unsigned char d = (unsigned char)s[i + 1];
            if (d >= 0x80 && d <= 0x9e && d != 0x97)
                d = (unsigned char)(d + 0x20);
            char two[2] = {(char)c, (char)d};
            pl_buf_append(out, two, 2);
            i++;
            continue;
        } else if (c == 0xe3 && i + 2 < len && (unsigned char)s[i + 1] == 0x80 &&
                   (unsigned char)s[i + 2] == 0x80) {
            i += 2; /* U+3000 IDEOGRAPHIC SPACE, the space of CJK input methods */
            continue;
        }
        pl_buf_append(out, (const char *)&c, 1);
    }
}

int muc_search_match(const char *folded_needle, size_t nlen, const char *name)
{
    if (nlen == 0)
        return 1;
    pl_buf_t h;
    pl_buf_init(&h);
    muc_search_fold(name, strlen(name), &h);
    int hit = 0;
    /* Byte substring on folded UTF-8: a needle that is whole characters
     * can only match at character boundaries, so CJK needs no more. */
    for (size_t i = 0; !hit && i + nlen <= h.len; i++)
        hit = memcmp(h.data + i, folded_needle, nlen) == 0;
    pl_buf_deinit(&h);
    return hit;
}

/* Whom search shows a room: a member (or above) always, anyone of the
 * tenant the public rooms that are not members-only; a locked room only
 * its owners; an outcast nothing. */
static int searchable(const muc_room_t *r, const char *bare)
{
    muc_affil_t a = muc_room_affil(r, bare);
    if (a == MUC_AFFIL_OUTCAST)
        return 0;
    if (r->locked)
        return a == MUC_AFFIL_OWNER;
    if (a >= MUC_AFFIL_MEMBER)
        return 1;
    return (r->config.flags & MUC_CONF_PUBLIC) && !(r->config.flags & MUC_CONF_MEMBERS_ONLY);
}

int muc_rooms_by_jid(const void *a, const void *b)
{
    const muc_room_t *x = *(const muc_room_t *const *)a, *y = *(const muc_room_t *const *)b;
    return strcmp(x->jid, y->jid);
}

void muc_rooms_page(muc_room_t *const *v, size_t n, const pl_rsm_t *q, size_t *from, size_t *to)
{
    size_t lo = 0, hi = n;
    if (q->has_after) {
        while (lo < n && strcmp(v[lo]->jid, q->after) <= 0)
            lo++;
    } else if (q->has_before) {
        if (q->before[0])
            while (hi > 0 && strcmp(v[hi - 1]->jid, q->before) >= 0)
                hi--;
        lo = hi > q->max ? hi - q->max : 0;
    } else if (q->has_index) {
        lo = q->index < n ? q->index : n;
    }
    if (hi - lo > q->max)
        hi = lo + q->max;
    *from = lo;
    *to = hi;
}

static void result_field(pl_builder_t *b, const char *var, const char *value)
{
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", var);
    pl_build_text_child(b, "value", PL_NS_DATA_FORMS, value);
    pl_build_up(b);
}

static void reported(pl_builder_t *b, const char *var, const char *type, const char *label)
{
    pl_build_child(b, "field", PL_NS_DATA_FORMS);
    pl_build_attr(b, "var", var);
    pl_build_attr(b, "type", type);
    pl_build_attr(b, "label", label);
    pl_build_up(b);
}

static void room_item(pl_builder_t *b, const muc_room_t *r)
{
    char num[32];
    pl_build_child(b, "item", PL_NS_DATA_FORMS);
    result_field(b, "jid", r->jid);
    result_field(b, "name", r->config.name ? r->config.name : r->local);
    result_field(b, "description", r->config.description ? r->config.description : "");
    result_field(b, "kind", muc_kind_name(r->kind));
    snprintf(num, sizeof(num), "%zu", muc_group_members(r->affs, r->naffs));
    result_field(b, "members", num);
    snprintf(num, sizeof(num), "%zu", r->nocc);
    result_field(b, "occupants", num);
    pl_build_up(b);
}

pl_hook_result_t muc_search_get(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    if (pl_server_tenant_of(hc->server, hc->from->domain) != pl_module_host(st->ctx)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only users of this host search its groups");
        return PL_DONE;
    }
    pl_builder_t *b = pl_build_new("query", MUC_NS_SEARCH);
    pl_build_text_child(b, "instructions", MUC_NS_SEARCH, instructions);
    pl_form_build_begin(b, "form", MUC_NS_SEARCH);
    pl_build_text_child(b, "title", PL_NS_DATA_FORMS, "Group search");
    pl_build_text_child(b, "instructions", PL_NS_DATA_FORMS, instructions);
    pl_form_build_field(b, "name", "text-single", "Name contains", NULL);
    pl_form_build_field(b, "id", "text-single", "Group id or address", NULL);
    pl_build_up(b);
    pl_stanza_t *q = pl_build_finish(b);
    pl_reply_result(hc, pl_stanza_root(q));
    pl_stanza_unref(&q);
    return PL_DONE;
}

/* Bytes of the text of the form's field `var` (its values together), to
 * refuse a long search before the form is read. */
static size_t field_bytes(const pl_xml_t *x, const char *var)
{
    size_t n = 0;
    pl_buf_t t;
    pl_buf_init(&t);
    for (const pl_xml_t *f = pl_xml_child(x, "field", PL_NS_DATA_FORMS); f;
         f = pl_xml_next(f, "field", PL_NS_DATA_FORMS)) {
        const char *v = pl_xml_attr(f, "var");
        if (!v || strcmp(v, var) != 0)
            continue;
        for (const pl_xml_t *val = pl_xml_child(f, "value", PL_NS_DATA_FORMS); val;
             val = pl_xml_next(val, "value", PL_NS_DATA_FORMS)) {
            t.len = 0;
            n += pl_xml_text(val, &t);
        }
    }
    pl_buf_deinit(&t);
    return n;
}

typedef struct search_req {
    pl_buf_t needle;  /* the name, folded; empty: any */
    char *id_bare;    /* the room asked for by id, or NULL */
    int id_elsewhere; /* the id names another service: nothing matches */
    pl_rsm_t rsm;
} search_req_t;

/* Reads the request into *q: PL_ERR_NONE, or the condition and *why. */
static pl_stanza_err_t read_request(const pl_xml_t *query, const char *service, search_req_t *q,
                                    const char **why)
{
    const pl_xml_t *x = pl_xml_child(query, "x", PL_NS_DATA_FORMS);
    for (const pl_xml_t *c = pl_xml_first_element(query); c; c = pl_xml_next(c, NULL, NULL)) {
        if ((c == x) || (strcmp(c->name, "set") == 0 && strcmp(c->ns, PL_NS_RSM) == 0))
            continue;
        *why = "search groups with the data form (fields name and id); get it with a search get";
        return PL_ERR_BAD_REQUEST;
    }
    if (!x) {
        *why = "search groups with the data form (fields name and id); get it with a search get";
        return PL_ERR_BAD_REQUEST;
    }
    if (field_bytes(x, "name") > MUC_MAX_NAME || field_bytes(x, "id") > MUC_JID_MAX) {
        *why = "a name to search for is at most 256 bytes, an id at most a JID's length";
        return PL_ERR_NOT_ACCEPTABLE;
    }
    pl_form_t f = {0};
    pl_stanza_err_t e = PL_ERR_NONE;
    if (pl_form_parse(x, &f) != 0) {
        *why = "the search form is not a valid data form (or a value is too long)";
        e = PL_ERR_BAD_REQUEST;
        goto out;
    }
    if (f.type && strcmp(f.type, "submit") != 0) {
        *why = "the search form must be submitted (type='submit')";
        e = PL_ERR_BAD_REQUEST;
        goto out;
    }
    for (size_t i = 0; i < f.nfields; i++) {
        const char *v = f.fields[i].var;
        if (strcmp(v, "FORM_TYPE") == 0) {
            const char *ft = f.fields[i].nvalues ? f.fields[i].values[0] : "";
            if (strcmp(ft, MUC_NS_SEARCH) != 0) {
                *why = "the form's FORM_TYPE is not jabber:iq:search";
                e = PL_ERR_BAD_REQUEST;
                goto out;
            }
        } else if (strcmp(v, "name") != 0 && strcmp(v, "id") != 0) {
            *why = "unknown search field: the fields are name and id";
            e = PL_ERR_BAD_REQUEST;
            goto out;
        }
    }
    const char *name = pl_form_value(&f, "name");
    if (name)
        muc_search_fold(name, strlen(name), &q->needle);
    const char *id = pl_form_value(&f, "id");
    while (id && *id == ' ')
        id++;
    if (id && *id) {
        pl_buf_t full;
        pl_buf_init(&full);
        pl_buf_puts(&full, id);
        if (!strchr(id, '@')) {
            pl_buf_puts(&full, "@");
            pl_buf_puts(&full, service);
        }
        pl_jid_t j;
        if (pl_jid_parse(&j, pl_buf_cstr(&full)) != 0 || !j.local) {
            q->id_elsewhere = 1; /* not a room's address: nothing has it */
        } else {
            if (strcmp(j.domain, service) != 0)
                q->id_elsewhere = 1;
            else
                q->id_bare = pl_xstrdup(j.bare);
            pl_jid_deinit(&j);
        }
        pl_buf_deinit(&full);
    }
    if (pl_rsm_parse(pl_xml_child(query, "set", PL_NS_RSM), SEARCH_PAGE_DEFAULT, SEARCH_PAGE_MAX,
                     &q->rsm) != 0) {
        *why = "the result set request (XEP-0059) is malformed";
        e = PL_ERR_BAD_REQUEST;
    }
out:
    pl_form_deinit(&f);
    return e;
}

pl_hook_result_t muc_search_set(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    if (pl_server_tenant_of(hc->server, hc->from->domain) != pl_module_host(st->ctx)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only users of this host search its groups");
        return PL_DONE;
    }
    search_req_t q = {0};
    pl_buf_init(&q.needle);
    const char *why = NULL;
    pl_stanza_err_t e = read_request(hc->payload, st->service, &q, &why);
    if (e) {
        pl_reply_error(hc, e, why);
        goto out;
    }
    pl_builder_t *b = pl_build_new("query", MUC_NS_SEARCH);
    pl_form_build_begin(b, "result", MUC_NS_SEARCH);
    pl_build_child(b, "reported", PL_NS_DATA_FORMS);
    reported(b, "jid", "jid-single", "Address");
    reported(b, "name", "text-single", "Name");
    reported(b, "description", "text-single", "Description");
    reported(b, "kind", "text-single", "Kind");
    reported(b, "members", "text-single", "Members");
    reported(b, "occupants", "text-single", "Occupants");
    pl_build_up(b);
    muc_room_t **v = NULL;
    size_t n = 0, cap = 0;
    pthread_mutex_lock(&st->lock);
    if (q.id_bare) {
        muc_room_t *r = pl_map_get(&st->rooms, q.id_bare);
        if (r && searchable(r, hc->from->bare) &&
            muc_search_match(q.needle.data, q.needle.len,
                             r->config.name ? r->config.name : r->local)) {
            v = pl_xmalloc(sizeof(*v));
            v[n++] = r;
        }
    } else if (!q.id_elsewhere) {
        const char *k;
        void *val;
        for (size_t i = 0; pl_map_iter(&st->rooms, &i, &k, &val);) {
            muc_room_t *r = val;
            if (!searchable(r, hc->from->bare) ||
                !muc_search_match(q.needle.data, q.needle.len,
                                  r->config.name ? r->config.name : r->local))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                v = pl_xrealloc(v, cap * sizeof(*v));
            }
            v[n++] = r;
        }
        if (n > 1)
            qsort(v, n, sizeof(*v), muc_rooms_by_jid);
    }
    size_t from, to;
    muc_rooms_page(v, n, &q.rsm, &from, &to);
    for (size_t i = from; i < to; i++)
        room_item(b, v[i]);
    pl_build_up(b); /* x */
    if (to > from)
        pl_rsm_build(b, v[from]->jid, (long long)from, v[to - 1]->jid, (long long)n);
    else
        pl_rsm_build(b, NULL, -1, NULL, (long long)n);
    pthread_mutex_unlock(&st->lock);
    free(v);
    pl_stanza_t *res = pl_build_finish(b);
    pl_reply_result(hc, pl_stanza_root(res));
    pl_stanza_unref(&res);
out:
    pl_buf_deinit(&q.needle);
    free(q.id_bare);
    return PL_DONE;
}
