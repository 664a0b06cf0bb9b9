/* fuzz_xml.c — libFuzzer target for the stream parser (xmpp/xml.c) and the
 * stanza tree (xmpp/stanza.c): arbitrary bytes fed in arbitrary pieces
 * must never crash or leak, and every stanza handed out must serialise to
 * bytes that parse back to themselves, copy (compact, rebuilt, filtered,
 * readdressed) to the same bytes, and come out the same whether or not the
 * parser slept between pieces (pl_xml_parser_sleep, as idle sessions do).
 *
 * Input: the first byte picks the feeding pattern and options, the rest is
 * the stream.  Built and run by `make fuzz-smoke` / `make fuzz`
 * (docs/FUZZING.md); by hand: make fuzz-build FUZZ=fuzz_xml, then
 * build-fuzz/fuzz/fuzz_xml -dict=tests/fuzz/fuzz_xml.dict tests/fuzz/corpus/fuzz_xml */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "tests/fuzz/helpers.h"
#include "xmpp/stanza.h"
#include "xmpp/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER                                                                                     \
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "        \
    "to='example.com' version='1.0'>"

#define XML_NS "http://www.w3.org/XML/1998/namespace"

/* Flags (the first input byte). */
#define F_CHUNK 0x07  /* piece size: chunks[] */
#define F_HEADER 0x08 /* a well-formed stream header first */
#define F_SMALL 0x10  /* tight limits */
#define F_RESET 0x20  /* reset when a stanza carries an attribute "r" */
#define F_STOP 0x40   /* stop when a stanza carries an attribute "s" */
#define F_AGAIN 0x80  /* a reset and a fresh stream at the end */

typedef struct fuzz_ctx {
    pl_xml_parser_t *parser;
    unsigned flags;
    int errors, closes;
    pl_buf_t trace; /* everything the callbacks saw, to compare two runs */
} fuzz_ctx_t;

static void keep_last(void *ud, pl_stanza_t *s)
{
    pl_stanza_t **out = ud;
    pl_stanza_unref(out);
    *out = pl_stanza_ref(s);
}

static void same_bytes(const char *what, const pl_stanza_t *a, const pl_stanza_t *b)
{
    size_t la, lb;
    const char *ba = pl_stanza_bytes(a, &la), *bb = pl_stanza_bytes(b, &lb);
    if (la != lb || memcmp(ba, bb, la) != 0)
        pl_die("%s changed the stanza:\n%.*s\n%.*s", what, (int)la, ba, (int)lb, bb);
}

/* What the serialiser writes must parse back to the same bytes. */
static void check_round_trip(pl_stanza_t *s)
{
    static const pl_xml_callbacks_t cb = {.stanza = keep_last};
    pl_xml_limits_t big = {
        .max_stanza_bytes = 64u << 20,
        .max_depth = 100000,
        .max_attrs = 100000,
        .max_name_len = 1u << 20,
    };
    size_t len;
    const char *bytes = pl_stanza_bytes(s, &len);
    pl_stanza_t *again = NULL;
    pl_xml_parser_t *p = pl_xml_parser_new(&big, &cb, &again);
    if (pl_xml_parser_feed(p, HEADER, strlen(HEADER)) != 0 ||
        pl_xml_parser_feed(p, bytes, len) != 0 || !again) {
        /* Issue #14 finding 2: an element in the xml: namespace is written
         * with that namespace as its default one. */
        if (fuzz_known("xml-prefix") && memmem(bytes, len, "'" XML_NS "'", strlen(XML_NS) + 2)) {
            pl_stanza_unref(&again);
            pl_xml_parser_free(&p);
            return;
        }
        pl_die("serialisation does not parse: %.*s", (int)len, bytes);
    }
    same_bytes("a serialise/parse round trip", s, again);
    if (pl_stanza_wire_size(again) != len)
        pl_die("wire size %zu of %zu bytes", pl_stanza_wire_size(again), len);
    pl_stanza_unref(&again);
    pl_xml_parser_free(&p);
}

static int keep_odd(void *ud, const pl_xml_t *child)
{
    unsigned *n = ud;
    return (*n)++ & 1;
}

static void on_stanza(void *ud, pl_stanza_t *s)
{
    fuzz_ctx_t *c = ud;
    check_round_trip(s);

    size_t len;
    const char *bytes = pl_stanza_bytes(s, &len);
    pl_buf_printf(&c->trace, "S%zu:", len);
    pl_buf_append(&c->trace, bytes, len);

    /* Copies say the same thing. */
    pl_stanza_t *compact = pl_stanza_compact(s);
    same_bytes("pl_stanza_compact", s, compact);
    pl_stanza_unref(&compact);
    pl_stanza_t *rebuilt = pl_build_finish(pl_build_from(s, NULL, NULL));
    same_bytes("pl_build_from", s, rebuilt);
    pl_stanza_unref(&rebuilt);
    unsigned n = 0;
    pl_builder_t *fb = pl_build_from(s, keep_odd, &n);
    pl_build_text_child(fb, "stamp", "urn:example:fuzz", "x");
    pl_stanza_t *filtered = pl_build_finish(fb);
    check_round_trip(filtered);
    pl_stanza_unref(&filtered);

    /* Exercise the other tree operations on what the parser made. */
    pl_stanza_t *re = pl_stanza_readdress(s, "a@b/c", PL_KEEP);
    check_round_trip(re);
    pl_builder_t *b = pl_build_new("iq", NULL);
    pl_build_attr(b, "type", "result");
    pl_build_copy(b, pl_stanza_root(re));
    pl_stanza_t *copy = pl_build_finish(b);
    check_round_trip(copy);
    pl_buf_t t;
    pl_buf_init(&t);
    pl_xml_text(pl_stanza_root(s), &t);
    const pl_xml_t *root = pl_stanza_root(s);
    for (const pl_xml_t *e = pl_xml_first_element(root); e; e = pl_xml_next(e, NULL, NULL))
        pl_xml_child_text(e, NULL, NULL, &t);
    pl_buf_deinit(&t);
    pl_stanza_unref(&copy);
    pl_stanza_unref(&re);

    if ((c->flags & F_RESET) && pl_stanza_attr(s, "r"))
        pl_xml_parser_reset(c->parser);
    else if ((c->flags & F_STOP) && pl_stanza_attr(s, "s"))
        pl_xml_parser_stop(c->parser);
}

static void on_open(void *ud, const pl_stream_header_t *h)
{
    fuzz_ctx_t *c = ud;
    if (!h->name || !h->ns || !h->content_ns)
        abort();
    pl_buf_printf(&c->trace, "O%s|%s|%s|%s|%s;", h->name, h->ns, h->content_ns, h->to ? h->to : "-",
                  h->version ? h->version : "-");
}

static void on_close(void *ud)
{
    fuzz_ctx_t *c = ud;
    c->closes++;
    pl_buf_puts(&c->trace, "C;");
}

static void on_error(void *ud, pl_xml_error_t err, const char *text)
{
    fuzz_ctx_t *c = ud;
    if (c->errors++ || !text || !pl_xml_error_condition(err))
        abort(); /* exactly one error per stream, with a text */
    pl_buf_printf(&c->trace, "E%s;", pl_xml_error_condition(err));
}

/* One pass over the input; with `sleepy` the parser is put to sleep between
 * pieces whenever it allows it. */
static void run(const uint8_t *data, size_t size, unsigned flags, int sleepy, pl_buf_t *trace)
{
    static const size_t chunks[] = {1, 2, 3, 7, 16, 64, 4096, SIZE_MAX};
    static const pl_xml_callbacks_t cb = {
        .stream_open = on_open,
        .stanza = on_stanza,
        .stream_close = on_close,
        .error = on_error,
    };
    size_t chunk = chunks[flags & F_CHUNK];
    pl_xml_limits_t lim;
    pl_xml_limits_default(&lim);
    if (flags & F_SMALL)
        lim = (pl_xml_limits_t){
            .max_stanza_bytes = 300, .max_depth = 4, .max_attrs = 5, .max_name_len = 60};
    fuzz_ctx_t c = {.flags = flags};
    pl_buf_init(&c.trace);
    c.parser = pl_xml_parser_new(&lim, &cb, &c);
    if (flags & F_HEADER)
        pl_xml_parser_feed(c.parser, HEADER, strlen(HEADER));
    for (size_t off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        int rc = pl_xml_parser_feed(c.parser, (const char *)data + off, n);
        if (rc != 0 && !c.errors)
            abort(); /* -1 only after the error callback ran */
        off += n;
        if (sleepy)
            pl_xml_parser_sleep(c.parser);
    }
    if (flags & F_AGAIN) {
        /* A restart in the middle of whatever was left half-parsed. */
        pl_xml_parser_reset(c.parser);
        c.errors = 0;
        pl_xml_parser_feed(c.parser, HEADER "<presence/>", strlen(HEADER "<presence/>"));
        if (c.errors)
            abort();
    }
    pl_xml_parser_free(&c.parser);
    *trace = c.trace;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    pl_buf_t awake, sleepy;
    run(data + 1, size - 1, flags, 0, &awake);
    run(data + 1, size - 1, flags, 1, &sleepy);
    /* Sleeping is invisible: the same stream, stanzas, close and error. */
    if (awake.len != sleepy.len || (awake.len && memcmp(awake.data, sleepy.data, awake.len) != 0))
        pl_die("sleeping between pieces changed what the parser saw:\n%.*s\n---\n%.*s",
               (int)awake.len, awake.data, (int)sleepy.len, sleepy.data);
    pl_buf_deinit(&awake);
    pl_buf_deinit(&sleepy);
    return 0;
}
