/* xml.h — the XMPP stream parser: expat in namespace mode, fed bytes as they
 * arrive, producing one frozen stanza per top-level element.
 *
 * Bounds (all checked while parsing, before any tree is handed out): stanza
 * size in bytes, element depth, attributes per element, name length.  A
 * DOCTYPE, entity declaration, processing instruction or comment ends the
 * stream with restricted-xml.  An element in a reserved namespace (written
 * <xml:foo/>) ends it with bad-namespace-prefix: no XMPP element lives there,
 * and no serialisation of it would parse again (a default namespace may not
 * be bound to the XML namespace), so it must never reach a tree. */
#ifndef PL_XML_H
#define PL_XML_H

#include <stddef.h>

#include "xmpp/stanza.h"

typedef struct pl_xml_limits {
    size_t max_stanza_bytes; /* default 262144 */
    unsigned max_depth;      /* default 32 */
    unsigned max_attrs;      /* per element, default 32 */
    unsigned max_name_len;   /* element/attribute name incl. namespace, default 256 */
} pl_xml_limits_t;

void pl_xml_limits_default(pl_xml_limits_t *l);

/* RFC 6120 stream error conditions the parser can raise. */
typedef enum pl_xml_error {
    PL_XML_ERR_NOT_WELL_FORMED = 1,
    PL_XML_ERR_RESTRICTED_XML,
    PL_XML_ERR_POLICY_VIOLATION, /* a bound was exceeded */
    PL_XML_ERR_INVALID_NAMESPACE,
    PL_XML_ERR_BAD_FORMAT,
    /* An element in a reserved namespace (the XML namespace, reachable only
     * through the reserved "xml:" prefix, or the xmlns namespace). */
    PL_XML_ERR_BAD_NAMESPACE_PREFIX,
} pl_xml_error_t;

/* The stream header's attributes, borrowed for the duration of the callback. */
typedef struct pl_stream_header {
    const char *to, *from, *id, *version, *lang;
    const char *content_ns; /* default namespace declared on the header ("" if none) */
    const char *name;       /* local name of the root ("stream") */
    const char *ns;         /* namespace of the root */
} pl_stream_header_t;

typedef struct pl_xml_callbacks {
    void (*stream_open)(void *ud, const pl_stream_header_t *h);
    /* Borrows `s`: take a reference to keep it past the call. */
    void (*stanza)(void *ud, pl_stanza_t *s);
    void (*stream_close)(void *ud);
    /* After an error the parser ignores further input until reset. */
    void (*error)(void *ud, pl_xml_error_t err, const char *text);
} pl_xml_callbacks_t;

typedef struct pl_xml_parser pl_xml_parser_t;

pl_xml_parser_t *pl_xml_parser_new(const pl_xml_limits_t *limits, const pl_xml_callbacks_t *cb,
                                   void *ud);
/* Frees the parser and clears *pp; NULL is allowed.  Called from one of the
 * parser's own callbacks, it frees it once the current feed returns. */
void pl_xml_parser_free(pl_xml_parser_t **pp);
/* Starts a fresh stream (after STARTTLS and SASL success). */
void pl_xml_parser_reset(pl_xml_parser_t *p);
/* Feeds bytes.  Callbacks run from inside this call; a callback may call
 * pl_xml_parser_reset or pl_xml_parser_stop, which take effect when the
 * current element finishes (the remaining bytes are parsed on the new stream,
 * or dropped after stop).  Returns 0, or -1 once the stream is in error. */
int pl_xml_parser_feed(pl_xml_parser_t *p, const char *data, size_t len);
void pl_xml_parser_stop(pl_xml_parser_t *p);
/* Gives the expat parser and its buffers back while the stream is idle:
 * only between stanzas with nothing half-read.  The next feed brings a new
 * parser to the same place by replaying the stream's root tag, invisibly to
 * the callbacks.  Returns 1 if the parser is asleep. */
int pl_xml_parser_sleep(pl_xml_parser_t *p);
const char *pl_xml_error_condition(pl_xml_error_t err);

#endif
