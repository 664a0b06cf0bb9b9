/* helpers.h — what the fuzz targets share that needs no server: turning the
 * input into stanzas with the real stream parser, and walking their trees. */
#ifndef PL_FUZZ_HELPERS_H
#define PL_FUZZ_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "xmpp/stanza.h"

/* Parses `data` as the content of a jabber:client stream (a header is put
 * in front) with generous limits and calls fn for every stanza; the stanza
 * is borrowed for the call.  Stops quietly at the first XML error. */
void fuzz_each_stanza(const uint8_t *data, size_t size, void (*fn)(void *ud, const pl_stanza_t *st),
                      void *ud);
/* Calls fn for `e` and every element below it, depth first. */
void fuzz_each_element(const pl_xml_t *e, void (*fn)(void *ud, const pl_xml_t *e), void *ud);

/* 1 when the finding `id` is listed in $PARLEY_FUZZ_KNOWN (comma separated):
 * long runs may go past findings already reported and being fixed
 * (tests/fuzz/regress/README.md) to look for others.  Never set by
 * make fuzz-smoke. */
int fuzz_known(const char *id);

#endif
