/* stored-xml.c — serialised elements in stores, read back with the same
 * bounded parser the streams use (a record was a stanza's child once, so it
 * fits the stream limits; the wrapper element below stands in for the
 * stream root). */
#include "xep/stored-xml.h"

#include "xmpp/xml.h"

void pl_stored_xml_encode(const pl_xml_t *e, pl_buf_t *out)
{
    pl_xml_serialize(e, "", out);
}

typedef struct decode_state {
    pl_stanza_t *element;
    int count;
    int failed;
} decode_state_t;

static void on_element(void *ud, pl_stanza_t *s)
{
    decode_state_t *d = ud;
    if (d->count++ == 0)
        d->element = pl_stanza_ref(s);
}

static void on_error(void *ud, pl_xml_error_t err, const char *text)
{
    (void)err;
    (void)text;
    ((decode_state_t *)ud)->failed = 1;
}

pl_stanza_t *pl_stored_xml_decode(const char *data, size_t len)
{
    static const char open[] = "<stored>", close[] = "</stored>";
    pl_xml_limits_t lim;
    pl_xml_limits_default(&lim);
    lim.max_stanza_bytes = len + sizeof(open) + sizeof(close);
    decode_state_t d = {0};
    pl_xml_callbacks_t cb = {.stanza = on_element, .error = on_error};
    pl_xml_parser_t *p = pl_xml_parser_new(&lim, &cb, &d);
    int ok = pl_xml_parser_feed(p, open, sizeof(open) - 1) == 0 &&
             pl_xml_parser_feed(p, data, len) == 0 &&
             pl_xml_parser_feed(p, close, sizeof(close) - 1) == 0;
    pl_xml_parser_free(&p);
    if (!ok || d.failed || d.count != 1) {
        pl_stanza_unref(&d.element);
        return NULL;
    }
    return d.element;
}
