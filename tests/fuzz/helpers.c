/* helpers.c — input to stanzas and tree walks for the fuzz targets that test
 * pure parsers of stanza payloads (data forms, RSM). */
#include "tests/fuzz/helpers.h"

#include <stdlib.h>
#include <string.h>

#include "xmpp/xml.h"

#define HEADER                                                                                     \
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "        \
    "to='example.com' version='1.0'>"

typedef struct each {
    void (*fn)(void *ud, const pl_stanza_t *st);
    void *ud;
} each_t;

static void on_stanza(void *ud, pl_stanza_t *st)
{
    each_t *e = ud;
    e->fn(e->ud, st);
}

void fuzz_each_stanza(const uint8_t *data, size_t size, void (*fn)(void *ud, const pl_stanza_t *st),
                      void *ud)
{
    static const pl_xml_callbacks_t cb = {.stanza = on_stanza};
    pl_xml_limits_t lim = {
        .max_stanza_bytes = 1u << 20, .max_depth = 64, .max_attrs = 64, .max_name_len = 1024};
    each_t e = {.fn = fn, .ud = ud};
    pl_xml_parser_t *p = pl_xml_parser_new(&lim, &cb, &e);
    if (pl_xml_parser_feed(p, HEADER, strlen(HEADER)) == 0)
        pl_xml_parser_feed(p, (const char *)data, size);
    pl_xml_parser_free(&p);
}

void fuzz_each_element(const pl_xml_t *e, void (*fn)(void *ud, const pl_xml_t *e), void *ud)
{
    fn(ud, e);
    for (const pl_xml_t *c = pl_xml_first_element(e); c; c = pl_xml_next(c, NULL, NULL))
        fuzz_each_element(c, fn, ud);
}

int fuzz_known(const char *id)
{
    const char *list = getenv("PARLEY_FUZZ_KNOWN");
    size_t n = strlen(id);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, id, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}
