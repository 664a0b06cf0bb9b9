/* stanza.c — immutable, reference-counted element trees: references, the
 * readdressed copy that shares children, navigation, the serialiser with its
 * lazily cached bytes, and the builder that makes new trees. */
#include "xmpp/stanza.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/util.h"
#include "xmpp/ns.h"

/* The serialised form, made once and published with a compare-exchange. */
typedef struct stanza_bytes {
    size_t len;
    char data[];
} stanza_bytes_t;

/* The struct itself lives in its own arena, next to the nodes, so a parsed
 * stanza costs one arena and nothing else. */
struct pl_stanza {
    _Atomic size_t refs;
    pl_arena_t *arena;
    const pl_xml_t *root;
    size_t wire_size;
    /* A readdressed stanza borrows the children (and most strings) of the
     * stanza it was made from, and keeps it alive with this reference. */
    pl_stanza_t *base;
    _Atomic(stanza_bytes_t *) bytes;
};

static pl_stanza_t *stanza_alloc(size_t first_block, pl_arena_t **arena_out)
{
    pl_arena_t *a = pl_arena_new(first_block);
    pl_stanza_t *s = pl_arena_zalloc(a, sizeof(*s));
    atomic_init(&s->refs, 1);
    atomic_init(&s->bytes, NULL);
    s->arena = a;
    if (arena_out)
        *arena_out = a;
    return s;
}

pl_stanza_t *pl_stanza_new_unfrozen(pl_arena_t **arena_out)
{
    return stanza_alloc(1024, arena_out);
}

void pl_stanza_freeze(pl_stanza_t *s, const pl_xml_t *root, size_t wire_size)
{
    s->root = root;
    s->wire_size = wire_size;
}

pl_stanza_t *pl_stanza_ref(const pl_stanza_t *s)
{
    if (!s)
        return NULL;
    /* The count is the one mutable part of a frozen stanza. */
    pl_stanza_t *m = (pl_stanza_t *)s;
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void pl_stanza_unref(pl_stanza_t **sp)
{
    pl_stanza_t *s = *sp;
    *sp = NULL;
    /* A loop rather than recursion: chains of readdressed copies can be long. */
    while (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        pl_stanza_t *base = s->base;
        free(atomic_load_explicit(&s->bytes, memory_order_acquire));
        pl_arena_t *arena = s->arena;
        pl_arena_free(&arena); /* s itself goes with it */
        s = base;
    }
}

const pl_xml_t *pl_stanza_root(const pl_stanza_t *s) { return s->root; }

const char *pl_stanza_name(const pl_stanza_t *s) { return s->root ? s->root->name : NULL; }

const char *pl_stanza_attr(const pl_stanza_t *s, const char *name)
{
    return s->root ? pl_xml_attr(s->root, name) : NULL;
}

size_t pl_stanza_wire_size(const pl_stanza_t *s) { return s->wire_size; }

/* Fills one slot of the new root's attribute array with a replacement value
 * (copied into the new arena); returns how many slots were used. */
static unsigned put_address(pl_arena_t *a, pl_attr_t *slot, const char *name, const char *value)
{
    if (!value)
        return 0;
    slot->name = name;
    slot->ns = NULL;
    slot->value = pl_arena_strdup(a, value);
    return 1;
}

/* ---- compact copies ---- */

/* What pl_arena_alloc takes for n bytes. */
static size_t arena_bytes(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    return n ? n : 16;
}

static size_t str_bytes(const char *s) { return s ? arena_bytes(strlen(s) + 1) : 0; }

/* The arena space a deep copy of `e`, its descendants and its following
 * siblings takes (the same sums compact_copy makes). */
static size_t tree_bytes(const pl_xml_t *e, const char *parent_ns)
{
    size_t n = 0;
    for (; e; e = e->next) {
        n += arena_bytes(sizeof(pl_xml_t));
        if (e->kind == PL_XML_TEXT) {
            n += arena_bytes(e->text_len + 1);
            continue;
        }
        n += str_bytes(e->name);
        if (e->ns[0] && !(parent_ns && strcmp(e->ns, parent_ns) == 0))
            n += str_bytes(e->ns);
        if (e->nattrs)
            n += arena_bytes(e->nattrs * sizeof(pl_attr_t));
        for (unsigned i = 0; i < e->nattrs; i++)
            n += str_bytes(e->attrs[i].name) + str_bytes(e->attrs[i].ns) +
                 str_bytes(e->attrs[i].value);
        n += tree_bytes(e->children, e->ns);
    }
    return n;
}

static const char *copy_str(pl_arena_t *a, const char *s) { return s ? pl_arena_strdup(a, s) : NULL; }

static const pl_xml_t *compact_copy(pl_arena_t *a, const pl_xml_t *e, const char *parent_ns)
{
    const pl_xml_t *first = NULL;
    pl_xml_t *prev = NULL;
    for (; e; e = e->next) {
        pl_xml_t *c = pl_arena_zalloc(a, sizeof(*c));
        c->kind = e->kind;
        if (e->kind == PL_XML_TEXT) {
            c->text = pl_arena_strndup(a, e->text, e->text_len);
            c->text_len = e->text_len;
        } else {
            c->name = copy_str(a, e->name);
            if (!e->ns[0])
                c->ns = "";
            else if (parent_ns && strcmp(e->ns, parent_ns) == 0)
                c->ns = parent_ns;
            else
                c->ns = copy_str(a, e->ns);
            if (e->nattrs) {
                pl_attr_t *attrs = pl_arena_alloc(a, e->nattrs * sizeof(*attrs));
                for (unsigned i = 0; i < e->nattrs; i++) {
                    attrs[i].name = copy_str(a, e->attrs[i].name);
                    attrs[i].ns = copy_str(a, e->attrs[i].ns);
                    attrs[i].value = copy_str(a, e->attrs[i].value);
                }
                c->attrs = attrs;
                c->nattrs = e->nattrs;
            }
            c->children = compact_copy(a, e->children, c->ns);
        }
        if (prev)
            prev->next = c;
        else
            first = c;
        prev = c;
    }
    return first;
}

pl_stanza_t *pl_stanza_compact(const pl_stanza_t *s)
{
    const pl_xml_t *root = s->root;
    /* The root alone, not its siblings (a frozen root has none anyway). */
    pl_xml_t lone = *root;
    lone.next = NULL;
    size_t need = arena_bytes(sizeof(pl_stanza_t)) + tree_bytes(&lone, NULL);
    pl_arena_t *a;
    pl_stanza_t *c = stanza_alloc(need, &a);
    pl_stanza_freeze(c, compact_copy(a, &lone, NULL), s->wire_size);
    return c;
}

pl_stanza_t *pl_stanza_readdress(const pl_stanza_t *s, const char *from, const char *to)
{
    const pl_xml_t *old = s->root;
    if (!old)
        pl_die("pl_stanza_readdress on an unfrozen stanza");
    pl_arena_t *a;
    pl_stanza_t *n = stanza_alloc(256, &a);
    pl_xml_t *root = pl_arena_alloc(a, sizeof(*root));
    *root = *old;
    root->next = NULL;
    pl_attr_t *attrs = pl_arena_alloc(a, (old->nattrs + 2) * sizeof(*attrs));
    unsigned k = 0;
    int seen_from = 0, seen_to = 0;
    for (unsigned i = 0; i < old->nattrs; i++) {
        const pl_attr_t *at = &old->attrs[i];
        if (!at->ns && strcmp(at->name, "from") == 0 && from != PL_KEEP) {
            seen_from = 1;
            k += put_address(a, &attrs[k], "from", from);
        } else if (!at->ns && strcmp(at->name, "to") == 0 && to != PL_KEEP) {
            seen_to = 1;
            k += put_address(a, &attrs[k], "to", to);
        } else {
            attrs[k++] = *at; /* strings stay in the base stanza's arena */
        }
    }
    if (!seen_from && from != PL_KEEP)
        k += put_address(a, &attrs[k], "from", from);
    if (!seen_to && to != PL_KEEP)
        k += put_address(a, &attrs[k], "to", to);
    root->attrs = attrs;
    root->nattrs = k;
    n->root = root;
    n->wire_size = s->wire_size;
    n->base = pl_stanza_ref(s);
    return n;
}

static void put_attr_value(pl_buf_t *out, const char *value);

pl_stanza_t *pl_stanza_readdress_to(const pl_stanza_t *s, const char *to)
{
    pl_stanza_t *n = pl_stanza_readdress(s, PL_KEEP, to);
    if (!to || pl_stanza_attr(s, "to"))
        return n;
    /* The copy's root has the base's attributes, then 'to' (readdress
     * appends a missing one): its bytes are the base's with the attribute
     * inserted where the start tag closes.  '>' inside attribute values is
     * always written as &gt;, so the first '>' closes the start tag. */
    size_t blen;
    const char *b = pl_stanza_bytes(s, &blen);
    const char *gt = memchr(b, '>', blen);
    if (!gt)
        return n;
    size_t at = (size_t)(gt - b);
    if (at > 0 && b[at - 1] == '/')
        at--;
    pl_buf_t buf;
    pl_buf_init(&buf);
    pl_buf_reserve(&buf, blen + strlen(to) + 16);
    pl_buf_append(&buf, b, at);
    pl_buf_puts(&buf, " to");
    put_attr_value(&buf, to);
    pl_buf_append(&buf, b + at, blen - at);
    stanza_bytes_t *mine = pl_xmalloc(sizeof(*mine) + buf.len + 1);
    mine->len = buf.len;
    memcpy(mine->data, buf.data, buf.len);
    mine->data[buf.len] = '\0';
    pl_buf_deinit(&buf);
    /* Nobody else has seen n yet. */
    atomic_store_explicit(&n->bytes, mine, memory_order_release);
    return n;
}

const char *pl_stanza_bytes(const pl_stanza_t *s, size_t *len)
{
    pl_stanza_t *m = (pl_stanza_t *)s;
    stanza_bytes_t *cached = atomic_load_explicit(&m->bytes, memory_order_acquire);
    if (!cached) {
        pl_buf_t buf;
        pl_buf_init(&buf);
        if (s->root)
            pl_xml_serialize(s->root, PL_NS_CLIENT, &buf);
        stanza_bytes_t *mine = pl_xmalloc(sizeof(*mine) + buf.len + 1);
        mine->len = buf.len;
        if (buf.len)
            memcpy(mine->data, buf.data, buf.len);
        mine->data[buf.len] = '\0';
        pl_buf_deinit(&buf);
        /* Two threads may race here; the loser frees its copy and uses the
         * winner's, so every caller sees the same pointer. */
        stanza_bytes_t *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(&m->bytes, &expected, mine,
                                                    memory_order_acq_rel, memory_order_acquire)) {
            cached = mine;
        } else {
            free(mine);
            cached = expected;
        }
    }
    if (len)
        *len = cached->len;
    return cached->data;
}

/* ---- navigation ---- */

const char *pl_xml_attr(const pl_xml_t *e, const char *name)
{
    for (unsigned i = 0; i < e->nattrs; i++)
        if (!e->attrs[i].ns && strcmp(e->attrs[i].name, name) == 0)
            return e->attrs[i].value;
    return NULL;
}

static int element_matches(const pl_xml_t *c, const char *name, const char *ns)
{
    return c->kind == PL_XML_ELEMENT && (!name || strcmp(c->name, name) == 0) &&
           (!ns || strcmp(c->ns, ns) == 0);
}

const pl_xml_t *pl_xml_child(const pl_xml_t *e, const char *name, const char *ns)
{
    for (const pl_xml_t *c = e->children; c; c = c->next)
        if (element_matches(c, name, ns))
            return c;
    return NULL;
}

const pl_xml_t *pl_xml_next(const pl_xml_t *prev, const char *name, const char *ns)
{
    for (const pl_xml_t *c = prev->next; c; c = c->next)
        if (element_matches(c, name, ns))
            return c;
    return NULL;
}

const pl_xml_t *pl_xml_first_element(const pl_xml_t *e) { return pl_xml_child(e, NULL, NULL); }

size_t pl_xml_text(const pl_xml_t *e, pl_buf_t *out)
{
    size_t before = out->len;
    for (const pl_xml_t *c = e->children; c; c = c->next)
        if (c->kind == PL_XML_TEXT)
            pl_buf_append(out, c->text, c->text_len);
    pl_buf_cstr(out);
    return out->len - before;
}

int pl_xml_child_text(const pl_xml_t *e, const char *name, const char *ns, pl_buf_t *out)
{
    const pl_xml_t *c = pl_xml_child(e, name, ns);
    if (!c)
        return 0;
    pl_xml_text(c, out);
    return 1;
}

/* ---- serialiser ---- */

static int attr_has_ns(const pl_attr_t *at) { return at->ns && *at->ns; }

static void put_attr_value(pl_buf_t *out, const char *value)
{
    pl_buf_puts(out, "='");
    pl_buf_escape(out, value, strlen(value), 1);
    pl_buf_append(out, "'", 1);
}

/* Attributes in a namespace other than XML's get a prefix declared on the
 * element itself: "ns<i>" where i is the position (from 1) of the first
 * attribute in that namespace, so equal namespaces share one prefix. */
static unsigned attr_prefix(const pl_xml_t *e, unsigned i)
{
    for (unsigned j = 0; j < i; j++)
        if (attr_has_ns(&e->attrs[j]) && strcmp(e->attrs[j].ns, e->attrs[i].ns) == 0)
            return j + 1;
    return i + 1;
}

static void serialize_attrs(const pl_xml_t *e, pl_buf_t *out)
{
    for (unsigned i = 0; i < e->nattrs; i++) {
        const pl_attr_t *at = &e->attrs[i];
        if (!attr_has_ns(at))
            continue;
        if (strcmp(at->ns, PL_NS_XML) != 0 && attr_prefix(e, i) == i + 1) {
            pl_buf_printf(out, " xmlns:ns%u", i + 1);
            put_attr_value(out, at->ns);
        }
    }
    for (unsigned i = 0; i < e->nattrs; i++) {
        const pl_attr_t *at = &e->attrs[i];
        pl_buf_append(out, " ", 1);
        if (attr_has_ns(at)) {
            if (strcmp(at->ns, PL_NS_XML) == 0)
                pl_buf_puts(out, "xml:");
            else
                pl_buf_printf(out, "ns%u:", attr_prefix(e, i));
        }
        pl_buf_puts(out, at->name);
        put_attr_value(out, at->value);
    }
}

void pl_xml_serialize(const pl_xml_t *e, const char *parent_ns, pl_buf_t *out)
{
    if (e->kind == PL_XML_TEXT) {
        pl_buf_escape(out, e->text, e->text_len, 0);
        return;
    }
    const char *ns = e->ns ? e->ns : "";
    pl_buf_append(out, "<", 1);
    pl_buf_puts(out, e->name);
    if (strcmp(ns, parent_ns ? parent_ns : "") != 0) {
        pl_buf_puts(out, " xmlns");
        put_attr_value(out, ns);
    }
    serialize_attrs(e, out);
    if (!e->children) {
        pl_buf_puts(out, "/>");
        return;
    }
    pl_buf_append(out, ">", 1);
    for (const pl_xml_t *c = e->children; c; c = c->next)
        pl_xml_serialize(c, ns, out);
    pl_buf_puts(out, "</");
    pl_buf_puts(out, e->name);
    pl_buf_append(out, ">", 1);
}

/* ---- builder ---- */

typedef struct build_frame {
    pl_xml_t *el;
    pl_xml_t *last;   /* last child so far, to append in order */
    pl_attr_t *attrs; /* el->attrs, writable */
    unsigned attrs_cap;
} build_frame_t;

struct pl_builder {
    pl_stanza_t *s;
    pl_arena_t *arena;
    pl_xml_t *root;
    build_frame_t *stack;
    size_t depth, cap;
};

static build_frame_t *build_top(pl_builder_t *b) { return &b->stack[b->depth - 1]; }

static void build_append(pl_builder_t *b, pl_xml_t *node)
{
    build_frame_t *f = build_top(b);
    if (f->last)
        f->last->next = node;
    else
        f->el->children = node;
    f->last = node;
}

/* The builder's names come from code, not from peers, so a bad one is a
 * bug: it dies rather than put out bytes the recipient cannot parse.  A
 * name must be an NCName without a prefix (the serialiser writes none,
 * only xmlns), checked on its ASCII characters; an attribute may also be
 * "xml:<name>" (xml:lang), never a namespace declaration. */
static int ascii_name_ok(const char *name)
{
    const unsigned char *n = (const unsigned char *)name;
    if (!n[0] || (n[0] < 0x80 && !(isalpha(n[0]) || n[0] == '_')))
        return 0;
    for (; *n; n++)
        if (*n < 0x80 && !(isalnum(*n) || *n == '_' || *n == '-' || *n == '.'))
            return 0;
    return 1;
}

static void check_element_name(const char *name, const char *ns)
{
    if (!name || !ascii_name_ok(name))
        pl_die("builder: element name '%s' is not an XML name without prefix",
               name ? name : "(null)");
    /* The parser refuses these (xml.c); so must the builder, or a module
     * could send what no parser reads back. */
    if (ns && (strcmp(ns, PL_NS_XML) == 0 || strcmp(ns, PL_NS_XMLNS) == 0))
        pl_die("builder: <%s/> in the reserved namespace %s", name, ns);
}

static void check_attr_name(const char *name)
{
    const char *local = name && strncmp(name, "xml:", 4) == 0 ? name + 4 : name;
    if (!local || !ascii_name_ok(local) || strncmp(name, "xmlns", 5) == 0)
        pl_die("builder: attribute name '%s' is not allowed", name ? name : "(null)");
}

/* A NULL namespace means "the same as the enclosing element" (for the root:
 * jabber:client), which is what builders of replies nearly always want. */
static pl_xml_t *build_element(pl_builder_t *b, const char *name, const char *ns,
                               const char *parent_ns)
{
    check_element_name(name, ns);
    pl_xml_t *el = pl_arena_zalloc(b->arena, sizeof(*el));
    el->kind = PL_XML_ELEMENT;
    el->name = pl_arena_strdup(b->arena, name);
    if (!ns)
        el->ns = parent_ns;
    else if (parent_ns && strcmp(ns, parent_ns) == 0)
        el->ns = parent_ns; /* share the parent's copy */
    else
        el->ns = pl_arena_strdup(b->arena, ns);
    return el;
}

static void build_push(pl_builder_t *b, pl_xml_t *el)
{
    if (b->depth == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->stack = pl_xrealloc(b->stack, b->cap * sizeof(*b->stack));
    }
    b->stack[b->depth++] = (build_frame_t){ .el = el, .last = NULL, .attrs = NULL, .attrs_cap = 0 };
}

pl_builder_t *pl_build_new(const char *name, const char *ns)
{
    pl_builder_t *b = pl_xcalloc(1, sizeof(*b));
    b->s = stanza_alloc(512, &b->arena);
    b->root = build_element(b, name, ns ? ns : PL_NS_CLIENT, NULL);
    build_push(b, b->root);
    return b;
}

void pl_build_attr(pl_builder_t *b, const char *name, const char *value)
{
    build_frame_t *f = build_top(b);
    pl_xml_t *el = f->el;
    if (el->children)
        pl_die("pl_build_attr(%s) on <%s> after its children", name, el->name);
    check_attr_name(name);
    if (el->nattrs == f->attrs_cap) {
        unsigned cap = f->attrs_cap ? f->attrs_cap * 2 : 4;
        pl_attr_t *attrs = pl_arena_alloc(b->arena, cap * sizeof(*attrs));
        if (el->nattrs)
            memcpy(attrs, f->attrs, el->nattrs * sizeof(*attrs));
        el->attrs = f->attrs = attrs;
        f->attrs_cap = cap;
    }
    pl_attr_t *at = &f->attrs[el->nattrs++];
    at->name = pl_arena_strdup(b->arena, name);
    at->ns = NULL;
    at->value = pl_arena_strdup(b->arena, value);
}

void pl_build_child(pl_builder_t *b, const char *name, const char *ns)
{
    pl_xml_t *el = build_element(b, name, ns, build_top(b)->el->ns);
    build_append(b, el);
    build_push(b, el);
}

void pl_build_text(pl_builder_t *b, const char *text, size_t len)
{
    if (len == 0)
        return;
    pl_xml_t *t = pl_arena_zalloc(b->arena, sizeof(*t));
    t->kind = PL_XML_TEXT;
    t->text = pl_arena_strndup(b->arena, text, len);
    t->text_len = len;
    build_append(b, t);
}

void pl_build_text_child(pl_builder_t *b, const char *name, const char *ns, const char *text)
{
    pl_build_child(b, name, ns);
    if (text)
        pl_build_text(b, text, strlen(text));
    pl_build_up(b);
}

/* Copies `e` and its subtree into `a`.  Recursion depth is that of the
 * source tree, which the parser bounds. */
static pl_xml_t *copy_tree(pl_arena_t *a, const pl_xml_t *e, const char *parent_ns)
{
    pl_xml_t *n = pl_arena_zalloc(a, sizeof(*n));
    n->kind = e->kind;
    if (e->kind == PL_XML_TEXT) {
        n->text = pl_arena_strndup(a, e->text, e->text_len);
        n->text_len = e->text_len;
        return n;
    }
    n->name = pl_arena_strdup(a, e->name);
    const char *ns = e->ns ? e->ns : "";
    n->ns = parent_ns && strcmp(ns, parent_ns) == 0 ? parent_ns : pl_arena_strdup(a, ns);
    if (e->nattrs) {
        pl_attr_t *attrs = pl_arena_alloc(a, e->nattrs * sizeof(*attrs));
        for (unsigned i = 0; i < e->nattrs; i++) {
            attrs[i].name = pl_arena_strdup(a, e->attrs[i].name);
            attrs[i].ns = e->attrs[i].ns ? pl_arena_strdup(a, e->attrs[i].ns) : NULL;
            attrs[i].value = pl_arena_strdup(a, e->attrs[i].value);
        }
        n->attrs = attrs;
        n->nattrs = e->nattrs;
    }
    pl_xml_t *last = NULL;
    for (const pl_xml_t *c = e->children; c; c = c->next) {
        pl_xml_t *cc = copy_tree(a, c, n->ns);
        if (last)
            last->next = cc;
        else
            n->children = cc;
        last = cc;
    }
    return n;
}

void pl_build_copy(pl_builder_t *b, const pl_xml_t *e)
{
    build_append(b, copy_tree(b->arena, e, build_top(b)->el->ns));
}

pl_builder_t *pl_build_from(const pl_stanza_t *s, int (*keep)(void *ud, const pl_xml_t *child),
                            void *ud)
{
    const pl_xml_t *src = pl_stanza_root(s);
    pl_builder_t *b = pl_xcalloc(1, sizeof(*b));
    b->s = stanza_alloc(pl_stanza_wire_size(s) + 512, &b->arena);
    pl_xml_t *root = pl_arena_zalloc(b->arena, sizeof(*root));
    root->kind = PL_XML_ELEMENT;
    root->name = pl_arena_strdup(b->arena, src->name);
    root->ns = pl_arena_strdup(b->arena, src->ns ? src->ns : "");
    b->root = root;
    build_push(b, root);
    /* The root's attributes are copied as they are, namespaced ones too;
     * none can be added afterwards since children follow. */
    if (src->nattrs) {
        pl_attr_t *attrs = pl_arena_alloc(b->arena, src->nattrs * sizeof(*attrs));
        for (unsigned i = 0; i < src->nattrs; i++) {
            attrs[i].name = pl_arena_strdup(b->arena, src->attrs[i].name);
            attrs[i].ns = src->attrs[i].ns ? pl_arena_strdup(b->arena, src->attrs[i].ns) : NULL;
            attrs[i].value = pl_arena_strdup(b->arena, src->attrs[i].value);
        }
        root->attrs = attrs;
        root->nattrs = src->nattrs;
        build_top(b)->attrs = attrs;
        build_top(b)->attrs_cap = src->nattrs;
    }
    for (const pl_xml_t *c = src->children; c; c = c->next)
        if (!keep || c->kind != PL_XML_ELEMENT || keep(ud, c))
            build_append(b, copy_tree(b->arena, c, root->ns));
    return b;
}

void pl_build_up(pl_builder_t *b)
{
    if (b->depth <= 1)
        pl_die("pl_build_up past the root <%s>", b->root->name);
    b->depth--;
}

pl_stanza_t *pl_build_finish(pl_builder_t *b)
{
    pl_stanza_t *s = b->s;
    pl_stanza_freeze(s, b->root, 0);
    free(b->stack);
    free(b);
    return s;
}

void pl_build_abort(pl_builder_t *b)
{
    if (!b)
        return;
    pl_stanza_unref(&b->s);
    free(b->stack);
    free(b);
}
