/* xml.c — the XMPP stream parser: expat in namespace mode turned into stream
 * events and one frozen stanza per top-level element, with the size, depth
 * and shape bounds enforced while bytes arrive rather than after. */
#include "xmpp/xml.h"

#include <expat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/util.h"
#include "xmpp/ns.h"

/* Expat joins a namespace URI and a local name with this character.  It is
 * not a legal XML 1.0 character, so it can never occur inside a name. */
#define NS_SEP '\x01'
/* XML_Parse takes an int length; larger feeds are passed in pieces. */
#define CHUNK_MAX ((size_t)1 << 30)

typedef enum parse_state {
    ST_OK,      /* parsing */
    ST_STOPPED, /* pl_xml_parser_stop: input is dropped until reset */
    ST_CLOSED,  /* the peer closed the stream: input is dropped until reset */
    ST_ERROR,   /* the error callback ran: feed returns -1 until reset */
} parse_state_t;

/* One open element of the stanza being built.  frames[1] is the stanza. */
typedef struct frame {
    pl_xml_t *el;
    pl_xml_t *last; /* last child so far */
} frame_t;

struct pl_xml_parser {
    XML_Parser xp;
    pl_xml_limits_t lim;
    pl_xml_callbacks_t cb;
    void *ud;

    parse_state_t state;
    /* XML_StopParser has been called: the handlers ignore whatever expat
     * still reports from the current buffer. */
    int halted;
    int in_expat; /* inside XML_Parse, so changes must wait for it to return */
    int in_feed;
    int reset_pending, free_pending;
    /* An error found inside a handler, reported once XML_Parse returns. */
    int err_pending;
    pl_xml_error_t err;
    const char *err_text;

    unsigned depth; /* open elements, the stream root included */
    frame_t *frames;
    unsigned nframes;
    pl_stanza_t *st; /* the stanza under construction, if any */
    pl_arena_t *arena;
    pl_buf_t text;    /* character data not yet turned into a node */
    unsigned nsdecls; /* namespace declarations seen for the next element */
    char *content_ns; /* default namespace declared on the stream root */
    /* The stream root's start tag exactly as the peer sent it, so an idle
     * stream can give its expat parser back (pl_xml_parser_sleep) and a new
     * one can be brought to the same state by replaying this tag. */
    char *root_tag;
    size_t root_tag_len;
    int asleep;    /* no expat parser until the next feed */
    int in_cdata;  /* inside <![CDATA[ ... ]]>, which the root tag cannot recreate */
    int replaying; /* parsing root_tag: the stream is not opened again */

    /* Byte positions on the current expat parser (which counts from 0).
     * Outside a stanza everything before `mark` has been consumed; inside
     * one, everything since `stanza_start` is held against the limit. */
    uint64_t fed, mark, stanza_start;
    uint64_t resume_at; /* end of the event during which a callback ran */
};

void pl_xml_limits_default(pl_xml_limits_t *l)
{
    *l = (pl_xml_limits_t){
        .max_stanza_bytes = 262144,
        .max_depth = 32,
        .max_attrs = 32,
        .max_name_len = 256,
    };
}

const char *pl_xml_error_condition(pl_xml_error_t err)
{
    switch (err) {
    case PL_XML_ERR_NOT_WELL_FORMED: return "not-well-formed";
    case PL_XML_ERR_RESTRICTED_XML: return "restricted-xml";
    case PL_XML_ERR_POLICY_VIOLATION: return "policy-violation";
    case PL_XML_ERR_INVALID_NAMESPACE: return "invalid-namespace";
    case PL_XML_ERR_BAD_FORMAT: return "bad-format";
    case PL_XML_ERR_BAD_NAMESPACE_PREFIX: return "bad-namespace-prefix";
    }
    return "undefined-condition";
}

/* ---- helpers for the handlers ---- */

static uint64_t event_start(pl_xml_parser_t *p)
{
    return (uint64_t)XML_GetCurrentByteIndex(p->xp);
}

static uint64_t event_end(pl_xml_parser_t *p)
{
    return event_start(p) + (uint64_t)XML_GetCurrentByteCount(p->xp);
}

static void halt(pl_xml_parser_t *p)
{
    if (p->halted)
        return;
    p->halted = 1;
    if (p->in_expat)
        XML_StopParser(p->xp, XML_FALSE);
}

/* From inside a handler: remember the error and stop expat. */
static void fail(pl_xml_parser_t *p, pl_xml_error_t err, const char *text)
{
    if (p->halted)
        return;
    p->err_pending = 1;
    p->err = err;
    p->err_text = text;
    halt(p);
}

/* Splits an expat name "uri<SEP>local" (or just "local"). */
static const char *split_name(const char *raw, size_t *urilen)
{
    const char *sep = strchr(raw, NS_SEP);
    if (!sep) {
        *urilen = 0;
        return raw;
    }
    *urilen = (size_t)(sep - raw);
    return sep + 1;
}

static int uri_is(const char *uri, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(uri, want, len) == 0;
}

/* The namespace to store: the stream content namespaces become
 * jabber:client, and a namespace equal to the parent's shares its string. */
static const char *stored_ns(pl_xml_parser_t *p, const char *uri, size_t len, const char *parent)
{
    if (len == 0)
        return "";
    if (uri_is(uri, len, PL_NS_CLIENT) || uri_is(uri, len, PL_NS_SERVER) ||
        uri_is(uri, len, PL_NS_COMPONENT))
        return PL_NS_CLIENT;
    if (parent && uri_is(uri, len, parent))
        return parent;
    return pl_arena_strndup(p->arena, uri, len);
}

/* Namespaces in XML reserves two namespace names.  Expat already refuses to
 * bind a prefix or the default namespace to either (not-well-formed), but
 * the "xml" prefix is bound to the XML namespace without a declaration, so
 * <xml:foo/> arrives as an element in it.  Such an element has no legal
 * serialisation with a default namespace, and our trees carry no prefixes:
 * the stanza would go out as <foo xmlns='http://www.w3.org/XML/1998/...'/>,
 * which every recipient's parser rejects.  No XMPP protocol defines an
 * element there, so the stream is refused instead.  The condition is
 * bad-namespace-prefix (RFC 6120 4.9.3.2: "a namespace prefix that is
 * unsupported"): the prefix is the only way in, and invalid-namespace
 * (4.9.3.10) is defined for the stream and content namespaces only. */
static int reserved_ns(const char *uri, size_t len)
{
    return uri_is(uri, len, PL_NS_XML) || uri_is(uri, len, PL_NS_XMLNS);
}

/* Bounds that apply to every element, the stream root included. */
static int check_shape(pl_xml_parser_t *p, const char *name, const char **atts, unsigned nsdecls)
{
    size_t urilen;
    split_name(name, &urilen);
    if (reserved_ns(name, urilen)) {
        fail(p, PL_XML_ERR_BAD_NAMESPACE_PREFIX, "elements may not be in a reserved namespace");
        return 0;
    }
    if (strlen(name) > p->lim.max_name_len) {
        fail(p, PL_XML_ERR_POLICY_VIOLATION, "element name too long");
        return 0;
    }
    unsigned n = 0;
    for (; atts[2 * n]; n++) {
        if (strlen(atts[2 * n]) > p->lim.max_name_len) {
            fail(p, PL_XML_ERR_POLICY_VIOLATION, "attribute name too long");
            return 0;
        }
    }
    /* Namespace declarations count as attributes: they cost the same. */
    if (n + nsdecls > p->lim.max_attrs) {
        fail(p, PL_XML_ERR_POLICY_VIOLATION, "too many attributes");
        return 0;
    }
    return 1;
}

/* ---- the stream root ---- */

/* Copies the root start tag out of expat's buffer.  Expat keeps the bytes
 * of the current event there (XML_CONTEXT_BYTES, on in every distribution
 * build); without them the stream simply never sleeps. */
static void keep_root_tag(pl_xml_parser_t *p)
{
    free(p->root_tag);
    p->root_tag = NULL;
    p->root_tag_len = 0;
    int offset = 0, size = 0;
    const char *ctx = XML_GetInputContext(p->xp, &offset, &size);
    int len = XML_GetCurrentByteCount(p->xp);
    if (!ctx || len <= 0 || offset < 0 || offset + len > size)
        return;
    p->root_tag = pl_xstrndup(ctx + offset, (size_t)len);
    p->root_tag_len = (size_t)len;
}

static void open_stream(pl_xml_parser_t *p, const char *name, const char **atts)
{
    size_t urilen;
    const char *local = split_name(name, &urilen);
    char *uri = pl_xstrndup(name, urilen);
    pl_stream_header_t h = {
        .content_ns = p->content_ns ? p->content_ns : "",
        .name = local,
        .ns = uri,
    };
    for (size_t i = 0; atts[i]; i += 2) {
        size_t alen;
        const char *an = split_name(atts[i], &alen);
        const char *v = atts[i + 1];
        if (alen == 0 && strcmp(an, "to") == 0)
            h.to = v;
        else if (alen == 0 && strcmp(an, "from") == 0)
            h.from = v;
        else if (alen == 0 && strcmp(an, "id") == 0)
            h.id = v;
        else if (alen == 0 && strcmp(an, "version") == 0)
            h.version = v;
        else if (uri_is(atts[i], alen, PL_NS_XML) && strcmp(an, "lang") == 0)
            h.lang = v;
    }
    p->depth = 1;
    p->mark = p->resume_at = event_end(p);
    if (p->replaying) {
        free(uri);
        return;
    }
    keep_root_tag(p);
    if (p->cb.stream_open)
        p->cb.stream_open(p->ud, &h);
    free(uri);
}

/* ---- stanza trees ---- */

static void append_child(frame_t *f, pl_xml_t *node)
{
    if (f->last)
        f->last->next = node;
    else
        f->el->children = node;
    f->last = node;
}

/* Turns buffered character data into one text node of the innermost open
 * element, so adjacent runs (expat splits at entities and buffer ends)
 * become a single node. */
static void flush_text(pl_xml_parser_t *p)
{
    if (p->text.len == 0)
        return;
    pl_xml_t *t = pl_arena_zalloc(p->arena, sizeof(*t));
    t->kind = PL_XML_TEXT;
    t->text = pl_arena_strndup(p->arena, p->text.data, p->text.len);
    t->text_len = p->text.len;
    append_child(&p->frames[p->depth - 1], t);
    pl_buf_reset(&p->text);
}

static const pl_attr_t *convert_attrs(pl_xml_parser_t *p, const char **atts, unsigned *n_out)
{
    unsigned n = 0;
    while (atts[2 * n])
        n++;
    *n_out = n;
    if (n == 0)
        return NULL;
    pl_attr_t *attrs = pl_arena_alloc(p->arena, n * sizeof(*attrs));
    for (unsigned i = 0; i < n; i++) {
        size_t urilen;
        const char *raw = atts[2 * i];
        const char *local = split_name(raw, &urilen);
        attrs[i].ns = NULL;
        if (urilen == 0) {
            attrs[i].name = pl_arena_strdup(p->arena, local);
        } else if (uri_is(raw, urilen, PL_NS_XML)) {
            size_t ll = strlen(local);
            char *nm = pl_arena_alloc(p->arena, ll + 5);
            memcpy(nm, "xml:", 4);
            memcpy(nm + 4, local, ll + 1);
            attrs[i].name = nm;
        } else {
            attrs[i].name = pl_arena_strdup(p->arena, local);
            attrs[i].ns = pl_arena_strndup(p->arena, raw, urilen);
        }
        attrs[i].value = pl_arena_strdup(p->arena, atts[2 * i + 1]);
    }
    return attrs;
}

static void open_element(pl_xml_parser_t *p, const char *name, const char **atts)
{
    unsigned level = p->depth; /* 1 for the stanza itself */
    if (level > p->lim.max_depth) {
        fail(p, PL_XML_ERR_POLICY_VIOLATION, "elements nested too deeply");
        return;
    }
    flush_text(p);
    if (level == 1) {
        p->st = pl_stanza_new_unfrozen(&p->arena);
        p->stanza_start = event_start(p);
    }
    if (level >= p->nframes) {
        p->nframes = level + 8;
        p->frames = pl_xrealloc(p->frames, p->nframes * sizeof(*p->frames));
    }
    const char *parent_ns = level > 1 ? p->frames[level - 1].el->ns : NULL;
    size_t urilen;
    const char *local = split_name(name, &urilen);
    pl_xml_t *el = pl_arena_zalloc(p->arena, sizeof(*el));
    el->kind = PL_XML_ELEMENT;
    el->name = pl_arena_strdup(p->arena, local);
    el->ns = stored_ns(p, name, urilen, parent_ns);
    el->attrs = convert_attrs(p, atts, &el->nattrs);
    if (level > 1)
        append_child(&p->frames[level - 1], el);
    p->frames[level] = (frame_t){ .el = el, .last = NULL };
    p->depth++;
}

/* The stanza's end tag: freeze, hand out, let go. */
static void finish_stanza(pl_xml_parser_t *p)
{
    uint64_t end = event_end(p);
    pl_stanza_t *st = p->st;
    p->st = NULL;
    p->arena = NULL;
    pl_stanza_freeze(st, p->frames[1].el, (size_t)(end - p->stanza_start));
    p->mark = p->resume_at = end;
    /* A large text body should not stay allocated on an idle stream. */
    if (p->text.cap > 4096)
        pl_buf_deinit(&p->text);
    if (p->cb.stanza)
        p->cb.stanza(p->ud, st);
    pl_stanza_unref(&st);
}

/* ---- expat handlers ---- */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    pl_xml_parser_t *p = ud;
    if (p->halted)
        return;
    unsigned nsdecls = p->nsdecls;
    p->nsdecls = 0;
    if (!check_shape(p, name, atts, nsdecls))
        return;
    if (p->depth == 0)
        open_stream(p, name, atts);
    else
        open_element(p, name, atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    pl_xml_parser_t *p = ud;
    if (p->halted)
        return;
    if (p->depth == 1) {
        /* </stream:stream>: anything after it is not ours to parse. */
        p->depth = 0;
        p->resume_at = event_end(p);
        p->state = ST_CLOSED;
        halt(p);
        if (p->cb.stream_close)
            p->cb.stream_close(p->ud);
        return;
    }
    flush_text(p);
    p->depth--;
    if (p->depth == 1)
        finish_stanza(p);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    pl_xml_parser_t *p = ud;
    if (p->halted)
        return;
    if (p->depth >= 2)
        pl_buf_append(&p->text, s, (size_t)len);
    else if (!p->in_cdata)
        /* Between stanzas (whitespace keepalives): consumed and forgotten. */
        p->mark = event_end(p);
}

/* A CDATA section between stanzas is consumed only once it is closed: a
 * parser put to sleep inside one would wake up parsing its text as markup. */
static void XMLCALL on_cdata_start(void *ud)
{
    pl_xml_parser_t *p = ud;
    p->in_cdata = 1;
}

static void XMLCALL on_cdata_end(void *ud)
{
    pl_xml_parser_t *p = ud;
    p->in_cdata = 0;
    if (!p->halted && p->depth == 1)
        p->mark = event_end(p);
}

static void XMLCALL on_ns_decl(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
    pl_xml_parser_t *p = ud;
    if (p->halted)
        return;
    p->nsdecls++;
    if (p->depth == 0 && !prefix) {
        free(p->content_ns);
        p->content_ns = pl_xstrdup(uri ? uri : "");
    }
}

/* Refused at its start, so no internal subset (and no entity) is ever
 * processed: the billion-laughs payload dies here. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    fail(ud, PL_XML_ERR_RESTRICTED_XML, "DTDs are not allowed");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                              int value_len, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
    fail(ud, PL_XML_ERR_RESTRICTED_XML, "entity declarations are not allowed");
}

static void XMLCALL on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
    fail(ud, PL_XML_ERR_RESTRICTED_XML, "processing instructions are not allowed");
}

static void XMLCALL on_comment(void *ud, const XML_Char *data)
{
    fail(ud, PL_XML_ERR_RESTRICTED_XML, "comments are not allowed");
}

/* ---- parser lifetime ---- */

static XML_Parser expat_new(pl_xml_parser_t *p)
{
    /* The encoding argument overrides whatever the peer declares: XMPP is
     * UTF-8 only. */
    XML_Parser xp = XML_ParserCreateNS("UTF-8", NS_SEP);
    if (!xp)
        pl_die("out of memory creating an XML parser");
    XML_SetUserData(xp, p);
    XML_SetElementHandler(xp, on_start, on_end);
    XML_SetCharacterDataHandler(xp, on_text);
    XML_SetCdataSectionHandler(xp, on_cdata_start, on_cdata_end);
    XML_SetStartNamespaceDeclHandler(xp, on_ns_decl);
    XML_SetStartDoctypeDeclHandler(xp, on_doctype);
    XML_SetEntityDeclHandler(xp, on_entity);
    XML_SetProcessingInstructionHandler(xp, on_pi);
    XML_SetCommentHandler(xp, on_comment);
    XML_SetParamEntityParsing(xp, XML_PARAM_ENTITY_PARSING_NEVER);
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
    /* Deferral would hold back complete stanzas until more bytes arrive,
     * and a chat peer may send nothing more for a long time. */
    XML_SetReparseDeferralEnabled(xp, XML_FALSE);
#endif
    return xp;
}

/* Back to "before the stream header", on a fresh expat parser. */
static void reset_now(pl_xml_parser_t *p)
{
    if (p->xp)
        XML_ParserFree(p->xp);
    p->xp = expat_new(p);
    pl_stanza_unref(&p->st);
    p->arena = NULL;
    pl_buf_reset(&p->text);
    free(p->content_ns);
    p->content_ns = NULL;
    free(p->root_tag);
    p->root_tag = NULL;
    p->root_tag_len = 0;
    p->asleep = p->in_cdata = 0;
    p->state = ST_OK;
    p->halted = p->reset_pending = p->err_pending = 0;
    p->depth = p->nsdecls = 0;
    p->fed = p->mark = p->stanza_start = p->resume_at = 0;
}

pl_xml_parser_t *pl_xml_parser_new(const pl_xml_limits_t *limits, const pl_xml_callbacks_t *cb,
                                   void *ud)
{
    pl_xml_parser_t *p = pl_xcalloc(1, sizeof(*p));
    pl_xml_limits_t def;
    pl_xml_limits_default(&def);
    p->lim = limits ? *limits : def;
    /* A zero bound means "not configured", not "nothing allowed". */
    if (!p->lim.max_stanza_bytes)
        p->lim.max_stanza_bytes = def.max_stanza_bytes;
    if (!p->lim.max_depth)
        p->lim.max_depth = def.max_depth;
    if (!p->lim.max_attrs)
        p->lim.max_attrs = def.max_attrs;
    if (!p->lim.max_name_len)
        p->lim.max_name_len = def.max_name_len;
    if (cb)
        p->cb = *cb;
    p->ud = ud;
    pl_buf_init(&p->text);
    reset_now(p);
    return p;
}

static void destroy(pl_xml_parser_t *p)
{
    if (p->xp)
        XML_ParserFree(p->xp);
    free(p->root_tag);
    pl_stanza_unref(&p->st);
    pl_buf_deinit(&p->text);
    free(p->content_ns);
    free(p->frames);
    free(p);
}

void pl_xml_parser_free(pl_xml_parser_t **pp)
{
    pl_xml_parser_t *p = pp ? *pp : NULL;
    if (!p)
        return;
    *pp = NULL;
    if (p->in_feed) {
        /* Freed from one of its own callbacks: finish unwinding first. */
        p->free_pending = 1;
        halt(p);
        return;
    }
    destroy(p);
}

void pl_xml_parser_reset(pl_xml_parser_t *p)
{
    if (p->in_expat) {
        /* From a callback: the new stream starts right after the current
         * event; pl_xml_parser_feed does the switch once expat returns. */
        p->reset_pending = 1;
        p->state = ST_OK;
        halt(p);
        return;
    }
    reset_now(p);
}

void pl_xml_parser_stop(pl_xml_parser_t *p)
{
    if (p->state == ST_ERROR)
        return;
    p->state = ST_STOPPED;
    if (p->in_expat) {
        halt(p);
        return;
    }
    pl_stanza_unref(&p->st);
    p->arena = NULL;
}

/* Enters the error state and tells the owner, exactly once. */
static void raise_error(pl_xml_parser_t *p, pl_xml_error_t err, const char *text)
{
    p->state = ST_ERROR;
    p->err_pending = 0;
    pl_stanza_unref(&p->st); /* never hand out a partial stanza */
    p->arena = NULL;
    pl_buf_reset(&p->text);
    if (p->cb.error)
        p->cb.error(p->ud, err, text);
}

/* Runs expat over the input in pieces no larger than the byte bound still
 * allows, so expat never buffers more than one stanza's worth. */
static int feed_all(pl_xml_parser_t *p, const char *data, size_t len)
{
    while (len > 0 && p->state == ST_OK && !p->free_pending) {
        uint64_t base = p->st ? p->stanza_start : p->mark;
        uint64_t held = p->fed - base;
        if (held >= p->lim.max_stanza_bytes) {
            raise_error(p, PL_XML_ERR_POLICY_VIOLATION, "stanza too large");
            return -1;
        }
        size_t n = len;
        if (n > p->lim.max_stanza_bytes - held)
            n = (size_t)(p->lim.max_stanza_bytes - held);
        if (n > CHUNK_MAX)
            n = CHUNK_MAX;
        uint64_t chunk_start = p->fed;
        p->in_expat = 1;
        enum XML_Status status = XML_Parse(p->xp, data, (int)n, XML_FALSE);
        p->in_expat = 0;
        p->fed += n;
        if (p->free_pending)
            return 0;
        if (p->err_pending) {
            raise_error(p, p->err, p->err_text);
            return -1;
        }
        if (p->reset_pending) {
            /* The bytes after the event that asked for the reset belong to
             * the new stream. */
            parse_state_t after = p->state;
            uint64_t used = p->resume_at > chunk_start ? p->resume_at - chunk_start : 0;
            if (used > n)
                used = n;
            reset_now(p);
            if (after == ST_STOPPED)
                p->state = ST_STOPPED;
            data += used;
            len -= (size_t)used;
            continue;
        }
        if (status != XML_STATUS_OK && !p->halted) {
            raise_error(p, PL_XML_ERR_NOT_WELL_FORMED, XML_ErrorString(XML_GetErrorCode(p->xp)));
            return -1;
        }
        data += n;
        len -= n;
    }
    return p->state == ST_ERROR ? -1 : 0;
}

int pl_xml_parser_sleep(pl_xml_parser_t *p)
{
    /* Only between stanzas, with every byte fed so far consumed: then the
     * whole parse state is "inside the root element", which the root tag
     * alone recreates. */
    if (p->asleep || p->in_feed || p->state != ST_OK || p->depth != 1 || p->st ||
        !p->root_tag || p->fed != p->mark || p->text.len)
        return p->asleep;
    XML_ParserFree(p->xp);
    p->xp = NULL;
    free(p->frames);
    p->frames = NULL;
    p->nframes = 0;
    pl_buf_deinit(&p->text);
    p->asleep = 1;
    return 1;
}

/* A fresh expat parser that has read the root start tag again. */
static void wake(pl_xml_parser_t *p)
{
    p->asleep = 0;
    p->xp = expat_new(p);
    p->depth = p->nsdecls = 0;
    p->replaying = 1;
    p->in_expat = 1;
    enum XML_Status status = XML_Parse(p->xp, p->root_tag, (int)p->root_tag_len, XML_FALSE);
    p->in_expat = 0;
    p->replaying = 0;
    p->fed = p->mark = p->resume_at = p->root_tag_len;
    if (status != XML_STATUS_OK || p->depth != 1 || p->err_pending)
        raise_error(p, PL_XML_ERR_NOT_WELL_FORMED, "the stream could not be resumed");
}

int pl_xml_parser_feed(pl_xml_parser_t *p, const char *data, size_t len)
{
    if (p->in_feed)
        pl_die("pl_xml_parser_feed called from one of its own callbacks");
    if (p->state == ST_ERROR)
        return -1;
    if (p->asleep && len > 0 && p->state == ST_OK)
        wake(p);
    if (p->state == ST_ERROR)
        return -1;
    p->in_feed = 1;
    int rc = feed_all(p, data, len);
    p->in_feed = 0;
    if (p->free_pending)
        destroy(p);
    return rc;
}
