/* fuzz_xml.c — libFuzzer target for the stream parser: arbitrary bytes fed
 * in arbitrary pieces must never crash, leak or hand out a stanza whose
 * serialisation does not parse back to itself.
 *
 * Build and run (from the repository root):
 *   clang -std=c17 -D_GNU_SOURCE -g -O1 -I. -fsanitize=fuzzer,address,undefined \
 *     tests/fuzz/fuzz_xml.c server/xml.c server/stanza.c server/arena.c server/buf.c \
 *     server/util.c -lexpat -lcrypto -o build/fuzz_xml
 *   build/fuzz_xml -max_total_time=30 [corpus-dir]
 *
 * The first input byte picks the feeding pattern and options; the rest is
 * the stream. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/buf.h"
#include "server/stanza.h"
#include "server/util.h"
#include "server/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER                                                                                     \
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "        \
    "to='example.com' version='1.0'>"

typedef struct fuzz_ctx {
    pl_xml_parser_t *parser;
    int reset_on_attr; /* reset when a stanza carries an attribute "r" */
    int stop_on_attr;  /* stop when a stanza carries an attribute "s" */
    int errors, closes;
} fuzz_ctx_t;

static void keep_last(void *ud, pl_stanza_t *s)
{
    pl_stanza_t **out = ud;
    pl_stanza_unref(out);
    *out = pl_stanza_ref(s);
}

/* What the serialiser writes must parse back to the same bytes. */
static void check_round_trip(pl_stanza_t *s)
{
    static const pl_xml_callbacks_t cb = { .stanza = keep_last };
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
        pl_xml_parser_feed(p, bytes, len) != 0 || !again)
        pl_die("serialisation does not parse: %.*s", (int)len, bytes);
    size_t len2;
    const char *bytes2 = pl_stanza_bytes(again, &len2);
    if (len != len2 || memcmp(bytes, bytes2, len) != 0 || pl_stanza_wire_size(again) != len)
        pl_die("round trip differs:\n%.*s\n%.*s", (int)len, bytes, (int)len2, bytes2);
    pl_stanza_unref(&again);
    pl_xml_parser_free(p);
}

static void on_stanza(void *ud, pl_stanza_t *s)
{
    fuzz_ctx_t *c = ud;
    check_round_trip(s);

    /* Exercise the other tree operations on what the parser made. */
    pl_stanza_t *re = pl_stanza_readdress(s, "a@b/c", PL_KEEP);
    pl_builder_t *b = pl_build_new("iq", NULL);
    pl_build_attr(b, "type", "result");
    pl_build_copy(b, pl_stanza_root(re));
    pl_stanza_t *copy = pl_build_finish(b);
    pl_stanza_bytes(copy, NULL);
    pl_buf_t t;
    pl_buf_init(&t);
    pl_xml_text(pl_stanza_root(s), &t);
    const pl_xml_t *root = pl_stanza_root(s);
    for (const pl_xml_t *e = pl_xml_first_element(root); e; e = pl_xml_next(e, NULL, NULL))
        pl_xml_child_text(e, NULL, NULL, &t);
    pl_buf_deinit(&t);
    pl_stanza_unref(&copy);
    pl_stanza_unref(&re);

    if (c->reset_on_attr && pl_stanza_attr(s, "r"))
        pl_xml_parser_reset(c->parser);
    else if (c->stop_on_attr && pl_stanza_attr(s, "s"))
        pl_xml_parser_stop(c->parser);
}

static void on_open(void *ud, const pl_stream_header_t *h)
{
    if (!h->name || !h->ns || !h->content_ns)
        abort();
}

static void on_close(void *ud) { ((fuzz_ctx_t *)ud)->closes++; }

static void on_error(void *ud, pl_xml_error_t err, const char *text)
{
    fuzz_ctx_t *c = ud;
    if (c->errors++ || !text || !pl_xml_error_condition(err))
        abort(); /* exactly one error per stream, with a text */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t chunks[] = { 1, 2, 3, 7, 16, 64, 4096, SIZE_MAX };
    static const pl_xml_callbacks_t cb = {
        .stream_open = on_open,
        .stanza = on_stanza,
        .stream_close = on_close,
        .error = on_error,
    };
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    size_t chunk = chunks[flags & 7];
    pl_xml_limits_t lim;
    pl_xml_limits_default(&lim);
    if (flags & 0x10)
        lim = (pl_xml_limits_t){ .max_stanza_bytes = 300, .max_depth = 4, .max_attrs = 5,
                                 .max_name_len = 60 };
    fuzz_ctx_t c = { .reset_on_attr = !!(flags & 0x20), .stop_on_attr = !!(flags & 0x40) };
    c.parser = pl_xml_parser_new(&lim, &cb, &c);
    if (flags & 0x08)
        pl_xml_parser_feed(c.parser, HEADER, strlen(HEADER));
    for (size_t off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        int rc = pl_xml_parser_feed(c.parser, (const char *)data + off, n);
        if (rc != 0 && !c.errors)
            abort(); /* -1 only after the error callback ran */
        off += n;
    }
    if (flags & 0x80) {
        /* A restart in the middle of whatever was left half-parsed. */
        pl_xml_parser_reset(c.parser);
        c.errors = 0;
        pl_xml_parser_feed(c.parser, HEADER "<presence/>", strlen(HEADER "<presence/>"));
        if (c.errors)
            abort();
    }
    pl_xml_parser_free(c.parser);
    return 0;
}
