/* xep/stored-xml.h — XML elements kept in a key-value store as their
 * serialised text (vCards, private XML storage) and turned back into frozen
 * trees when a client asks for them. */
#ifndef PL_XEP_STORED_XML_H
#define PL_XEP_STORED_XML_H

#include <stddef.h>

#include "lib/buf.h"
#include "xmpp/stanza.h"

/* Appends the element's text with no namespace in scope, so the record
 * declares every namespace it uses and reads back the same anywhere. */
void pl_stored_xml_encode(const pl_xml_t *e, pl_buf_t *out);

/* Parses one element written by pl_stored_xml_encode.  Returns a new
 * reference whose root is that element, or NULL when the text is not one
 * well-formed element (a damaged record). */
pl_stanza_t *pl_stored_xml_decode(const char *data, size_t len);

#endif
