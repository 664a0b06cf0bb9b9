/* xep/rsm.h — XEP-0059 Result Set Management: reading a request's
 * <set xmlns='http://jabber.org/protocol/rsm'/> (max, after, before, index)
 * with bounds, and writing the answer's <set/> (first, last, count). */
#ifndef PL_XEP_RSM_H
#define PL_XEP_RSM_H

#include <stddef.h>

#include "xmpp/ns.h"
#include "xmpp/stanza.h"

#define PL_RSM_MAX_ID 256 /* bytes of an item id in <after/>/<before/> */

typedef struct pl_rsm {
    size_t max;     /* items wanted: the default when absent, capped */
    int max_capped; /* the client asked for more than the cap */
    int has_after;  /* <after>id</after> */
    int has_before; /* <before/>: with before[0] == '\0', the last page */
    int has_index;  /* <index>n</index> */
    size_t index;
    char after[PL_RSM_MAX_ID + 1];
    char before[PL_RSM_MAX_ID + 1];
} pl_rsm_t;

/* Fills `out` from `set` (which may be NULL: no paging asked, so the
 * defaults).  0, or -EINVAL for a request to refuse with bad-request: a
 * number that is not a non-negative decimal integer, an empty or too long
 * <after/>, both <after/> and <before/>, <index/> with either, or an element
 * repeated. */
int pl_rsm_parse(const pl_xml_t *set, size_t default_max, size_t cap, pl_rsm_t *out);

/* Appends <set xmlns=RSM> to the builder's current element: <first> (with
 * index when first_index >= 0) and <last> when first is not NULL, and
 * <count> when count >= 0. */
void pl_rsm_build(pl_builder_t *b, const char *first, long long first_index, const char *last,
                  long long count);

#endif
