/* stanza.h — immutable, reference-counted XML element trees.
 *
 * The stream parser builds one tree per top-level element in its own arena
 * and freezes it; from then on nobody changes it.  Replies and new stanzas are
 * made with the builder.  A tree is shared by reference across fan-out, and
 * its serialised bytes are computed once and cached.
 *
 * Namespaces: every element carries its namespace URI.  The content namespace
 * of client and component streams is stored as PL_NS_CLIENT ("jabber:client")
 * whichever stream it arrived on, so modules compare against one string; the
 * serialiser writes no xmlns where an element's namespace equals its parent's
 * (the stream's content namespace counts as the parent of a stanza). */
#ifndef PL_STANZA_H
#define PL_STANZA_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

typedef enum pl_xml_kind { PL_XML_ELEMENT = 0, PL_XML_TEXT = 1 } pl_xml_kind_t;

/* One attribute.  `name` is the local name; an attribute in the XML
 * namespace is named "xml:lang" etc.  Other namespaced attributes keep their
 * namespace in `ns` (NULL for the usual unqualified ones). */
typedef struct pl_attr {
    const char *name;
    const char *ns;
    const char *value;
} pl_attr_t;

/* A node.  Read-only for everyone but the parser and the builder. */
typedef struct pl_xml {
    pl_xml_kind_t kind;
    const char *name; /* element: local name; text: NULL */
    const char *ns;   /* element: namespace URI ("" when none); text: NULL */
    const char *text; /* text: the characters (NUL-terminated, unescaped) */
    size_t text_len;
    const pl_attr_t *attrs;
    unsigned nattrs;
    const struct pl_xml *children; /* first child (elements and text) */
    const struct pl_xml *next;     /* next sibling */
} pl_xml_t;

typedef struct pl_stanza pl_stanza_t;

/* References.  pl_stanza_unref sets *sp to NULL.  Thread-safe (atomic). */
pl_stanza_t *pl_stanza_ref(const pl_stanza_t *s);
void pl_stanza_unref(pl_stanza_t **sp);

/* The root element. */
const pl_xml_t *pl_stanza_root(const pl_stanza_t *s);
/* Shortcuts on the root: element name, and attribute values (NULL if absent). */
const char *pl_stanza_name(const pl_stanza_t *s);
const char *pl_stanza_attr(const pl_stanza_t *s, const char *name);
/* Size in bytes of the element as it arrived (0 for built stanzas). */
size_t pl_stanza_wire_size(const pl_stanza_t *s);

/* A copy of `s` whose root carries new `from` / `to` values (NULL removes
 * the attribute, PL_KEEP keeps the old value).  Children are shared, not
 * copied.  Returns a new reference. */
#define PL_KEEP ((const char *)1)
pl_stanza_t *pl_stanza_readdress(const pl_stanza_t *s, const char *from, const char *to);

/* The same as pl_stanza_readdress(s, PL_KEEP, to) for fan-out: when `s`
 * has no 'to', the copy's serialised bytes are made from `s`'s cached
 * bytes by inserting " to='...'" at the end of the root's start tag (a
 * copy of the bytes, no walk of the tree), so a message sent to many
 * recipients is serialised once.  A stanza that has a 'to' gets an
 * ordinary readdressed copy.  Returns a new reference. */
pl_stanza_t *pl_stanza_readdress_to(const pl_stanza_t *s, const char *to);

/* A deep copy in one allocation of exactly the size it needs, sharing
 * nothing: for stanzas kept a long time (a session's presence), which would
 * otherwise hold the parser's whole first block or their base stanza. */
pl_stanza_t *pl_stanza_compact(const pl_stanza_t *s);

/* Serialised bytes of the whole stanza, computed on first use and cached
 * (thread-safe).  Valid as long as the caller holds a reference. */
const char *pl_stanza_bytes(const pl_stanza_t *s, size_t *len);

/* Tree navigation (all borrow; valid while the stanza is referenced). */
const char *pl_xml_attr(const pl_xml_t *e, const char *name);
/* First element child with this name and namespace; either may be NULL to
 * match any. */
const pl_xml_t *pl_xml_child(const pl_xml_t *e, const char *name, const char *ns);
/* Next element sibling after `prev` with the same filter. */
const pl_xml_t *pl_xml_next(const pl_xml_t *prev, const char *name, const char *ns);
/* First element child whatever its name. */
const pl_xml_t *pl_xml_first_element(const pl_xml_t *e);
/* Concatenated text of the direct text children, in a buffer the caller
 * owns (NUL-terminated); returns the length. */
size_t pl_xml_text(const pl_xml_t *e, pl_buf_t *out);
/* Text of the first child element with this name/ns, allocated in the
 * stanza-independent scratch `out`; 0 if no such child. */
int pl_xml_child_text(const pl_xml_t *e, const char *name, const char *ns, pl_buf_t *out);

/* Serialises an element subtree.  `parent_ns` is the namespace in scope
 * (xmlns is written only when the element's differs). */
void pl_xml_serialize(const pl_xml_t *e, const char *parent_ns, pl_buf_t *out);

/* ---- builder ----
 * Builds a new tree top-down.  pl_build_new opens the root; pl_build_child
 * opens a child and makes it current; pl_build_up closes the current element
 * and returns to its parent.  Attributes go on the current element and must
 * come before its children.  pl_build_finish freezes the tree and returns a
 * new reference (the builder is consumed).  Values are copied.
 * Names are code's, not peers': an element or attribute name that is not a
 * prefix-free XML name (attributes may be "xml:lang" and the like, never
 * "xmlns..."), or an element in the XML or xmlns namespace, aborts, so
 * nothing built can serialise to what a parser refuses.  Text and attribute
 * values may be anything: the serialiser replaces what XML cannot carry. */
typedef struct pl_builder pl_builder_t;

pl_builder_t *pl_build_new(const char *name, const char *ns);
void pl_build_attr(pl_builder_t *b, const char *name, const char *value);
void pl_build_child(pl_builder_t *b, const char *name, const char *ns);
/* Adds a complete child element with text content and closes it again. */
void pl_build_text_child(pl_builder_t *b, const char *name, const char *ns, const char *text);
void pl_build_text(pl_builder_t *b, const char *text, size_t len);
/* Deep-copies an existing element (and its subtree) as a child of the
 * current element. */
void pl_build_copy(pl_builder_t *b, const pl_xml_t *e);
/* Starts a builder holding a deep copy of `s`'s root: its name, namespace,
 * attributes and each child element for which `keep` (NULL: all) returns
 * non-zero; text children are kept.  The current element is the root, so
 * what is built next is appended after the copied children (a delay stamp,
 * a stanza-id).  Attributes cannot be added: use pl_stanza_readdress. */
pl_builder_t *pl_build_from(const pl_stanza_t *s, int (*keep)(void *ud, const pl_xml_t *child),
                            void *ud);
void pl_build_up(pl_builder_t *b);
pl_stanza_t *pl_build_finish(pl_builder_t *b);
void pl_build_abort(pl_builder_t *b);

/* ---- for the parser (xmpp/xml.c) only ----
 * A stanza under construction: the parser allocates nodes from its arena,
 * links them, and freezes it with the root and wire size. */
typedef struct pl_arena pl_arena_t;
pl_stanza_t *pl_stanza_new_unfrozen(pl_arena_t **arena_out);
void pl_stanza_freeze(pl_stanza_t *s, const pl_xml_t *root, size_t wire_size);

#endif
