/* test_xml.c — the stream parser as its owner sees it: the events and stanzas
 * that come out for given bytes, however the bytes are split, and the stream
 * errors for oversized, restricted or malformed input. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/suites.h"
#include "xmpp/ns.h"
#include "xmpp/stanza.h"
#include "xmpp/xml.h"

#define S(x) ((x) ? (x) : "-")

/* Everything the callbacks saw, as text, so runs can be compared. */
typedef struct rec {
    pl_buf_t log;
    int opens, stanzas, closes, errors;
    pl_xml_error_t err;
    char err_text[256];
    size_t fed_at_error; /* bytes fed when the error callback ran */
    size_t fed;
    pl_xml_parser_t *parser;
    pl_stanza_t *last; /* a reference to the last stanza */
} rec_t;

static void on_open(void *ud, const pl_stream_header_t *h)
{
    rec_t *r = ud;
    r->opens++;
    pl_buf_printf(&r->log, "open %s|%s|ct=%s|to=%s|from=%s|id=%s|v=%s|lang=%s\n", h->name, h->ns,
                  h->content_ns, S(h->to), S(h->from), S(h->id), S(h->version), S(h->lang));
}

static void on_stanza(void *ud, pl_stanza_t *s)
{
    rec_t *r = ud;
    r->stanzas++;
    size_t len;
    const char *bytes = pl_stanza_bytes(s, &len);
    pl_buf_printf(&r->log, "stanza %zu %.*s\n", pl_stanza_wire_size(s), (int)len, bytes);
    pl_stanza_unref(&r->last);
    r->last = pl_stanza_ref(s);
    const char *cmd = pl_stanza_attr(s, "cmd");
    if (cmd && strcmp(cmd, "reset") == 0)
        pl_xml_parser_reset(r->parser);
    else if (cmd && strcmp(cmd, "stop") == 0)
        pl_xml_parser_stop(r->parser);
    else if (cmd && strcmp(cmd, "free") == 0) {
        pl_xml_parser_free(&r->parser);
    }
}

static void on_close(void *ud)
{
    rec_t *r = ud;
    r->closes++;
    pl_buf_puts(&r->log, "close\n");
}

static void on_error(void *ud, pl_xml_error_t err, const char *text)
{
    rec_t *r = ud;
    r->errors++;
    r->err = err;
    r->fed_at_error = r->fed;
    snprintf(r->err_text, sizeof(r->err_text), "%s", S(text));
    pl_buf_printf(&r->log, "error %s\n", pl_xml_error_condition(err));
}

static const pl_xml_callbacks_t cbs = {
    .stream_open = on_open,
    .stanza = on_stanza,
    .stream_close = on_close,
    .error = on_error,
};

static void rec_init(rec_t *r, const pl_xml_limits_t *lim)
{
    memset(r, 0, sizeof(*r));
    pl_buf_init(&r->log);
    r->parser = pl_xml_parser_new(lim, &cbs, r);
}

static void rec_deinit(rec_t *r)
{
    pl_xml_parser_free(&r->parser);
    pl_stanza_unref(&r->last);
    pl_buf_deinit(&r->log);
}

static int feed(rec_t *r, const char *data, size_t len)
{
    int rc = 0;
    if (r->parser) {
        r->fed += len;
        rc = pl_xml_parser_feed(r->parser, data, len);
    }
    return rc;
}

static int feeds(rec_t *r, const char *s) { return feed(r, s, strlen(s)); }

/* Feeds `s` in pieces of `chunk` bytes; returns the last feed's result. */
static int feed_chunked(rec_t *r, const char *s, size_t len, size_t chunk)
{
    int rc = 0;
    for (size_t off = 0; off < len; off += chunk)
        rc = feed(r, s + off, len - off < chunk ? len - off : chunk);
    return rc;
}

/* The log of feeding `s` in pieces of `chunk` bytes (caller frees). */
static char *run_chunked(const pl_xml_limits_t *lim, const char *s, size_t len, size_t chunk)
{
    rec_t r;
    rec_init(&r, lim);
    feed_chunked(&r, s, len, chunk);
    char *out = strdup(pl_buf_cstr(&r.log));
    rec_deinit(&r);
    return out;
}

static char *run_split(const char *s, size_t len, size_t at)
{
    rec_t r;
    rec_init(&r, NULL);
    feed(&r, s, at);
    feed(&r, s + at, len - at);
    char *out = strdup(pl_buf_cstr(&r.log));
    rec_deinit(&r);
    return out;
}

/* Every split into two parts and one byte at a time give the same events
 * and the same stanzas as the whole buffer at once. */
static void check_all_splits(const char *s)
{
    size_t len = strlen(s);
    char *ref = run_chunked(NULL, s, len, len);
    for (size_t at = 0; at <= len; at++) {
        char *got = run_split(s, len, at);
        ck_assert_msg(strcmp(got, ref) == 0, "split at %zu:\n%s\nvs one-shot:\n%s", at, got, ref);
        free(got);
    }
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        char *got = run_chunked(NULL, s, len, chunk);
        ck_assert_msg(strcmp(got, ref) == 0, "chunk %zu:\n%s\nvs one-shot:\n%s", chunk, got, ref);
        free(got);
    }
    free(ref);
}

#define HEADER                                                                                     \
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "        \
    "to='example.com' version='1.0' xml:lang='en'>"

static const char realistic[] =
    "<?xml version='1.0' encoding='UTF-8'?>\n" HEADER
    "<message from='juliet@example.com/balcony' to='romeo@example.net' type='chat' "
    "xml:lang='fr' id=\"m&amp;1\"><body>Wherefore art thou? &lt;3 &amp; &#x263A; "
    "\xc3\xa7" "a \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80</body>"
    "<thread>e0ffe42b</thread><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    " \n\t "
    "<iq type='get' id='x\"y&apos;' xmlns='jabber:client'><query xmlns='jabber:iq:roster' "
    "ver=''/></iq>\r\n"
    "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
    "<presence><x xmlns:foo='urn:foo' foo:bar='b&apos;z&lt;'><foo:y>t<![CDATA[<raw> & "
    "]]>x</foo:y><z/></x><status>a&#10;b&#13;c\r\nd</status></presence>"
    "</stream:stream>";

START_TEST(a_stream_yields_its_header_its_stanzas_and_its_close)
{
    rec_t r;
    rec_init(&r, NULL);
    ck_assert_int_eq(feeds(&r, realistic), 0);
    const char *want =
        "open stream|http://etherx.jabber.org/streams|ct=jabber:client|to=example.com|from=-|"
        "id=-|v=1.0|lang=en\n"
        "stanza 268 <message from='juliet@example.com/balcony' to='romeo@example.net' "
        "type='chat' xml:lang='fr' id='m&amp;1'><body>Wherefore art thou? &lt;3 &amp; "
        "\xe2\x98\xba \xc3\xa7" "a \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80</body>"
        "<thread>e0ffe42b</thread><active xmlns='http://jabber.org/protocol/chatstates'/>"
        "</message>\n"
        "stanza 97 <iq type='get' id='x&quot;y&apos;'><query xmlns='jabber:iq:roster' "
        "ver=''/></iq>\n"
        "stanza 83 <features xmlns='http://etherx.jabber.org/streams'><bind "
        "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></features>\n"
        "stanza 145 <presence><x xmlns:ns1='urn:foo' ns1:bar='b&apos;z&lt;'><y "
        "xmlns='urn:foo'>t&lt;raw&gt; &amp; x</y><z/></x><status>a\nb&#13;c\nd</status>"
        "</presence>\n"
        "close\n";
    ck_assert_str_eq(pl_buf_cstr(&r.log), want);
    ck_assert_int_eq(r.errors, 0);
    rec_deinit(&r);
}
END_TEST

/* Like run_chunked, but the parser is put to sleep after every feed. */
static char *run_chunked_sleeping(const char *s, size_t len, size_t chunk, int *slept)
{
    rec_t r;
    rec_init(&r, NULL);
    for (size_t off = 0; off < len; off += chunk) {
        feed(&r, s + off, len - off < chunk ? len - off : chunk);
        if (r.parser)
            *slept += pl_xml_parser_sleep(r.parser);
    }
    char *out = strdup(pl_buf_cstr(&r.log));
    rec_deinit(&r);
    return out;
}

/* A parser that sleeps whenever it can (between stanzas) and wakes on the
 * next bytes sees exactly what one that never sleeps sees. */
START_TEST(sleeping_changes_nothing)
{
    size_t len = strlen(realistic);
    char *ref = run_chunked(NULL, realistic, len, len);
    int slept = 0;
    for (size_t chunk = 1; chunk <= len; chunk++) {
        char *got = run_chunked_sleeping(realistic, len, chunk, &slept);
        ck_assert_msg(strcmp(got, ref) == 0, "chunk %zu:\n%s\nvs awake:\n%s", chunk, got, ref);
        free(got);
    }
    ck_assert_int_gt(slept, 50); /* it did sleep, many times */
    free(ref);
}
END_TEST

/* Sleep only at a stanza boundary; the prefixes the root declared still
 * resolve after waking, and the peer's own closing tag still matches. */
START_TEST(the_parser_sleeps_only_between_stanzas_and_wakes_intact)
{
    rec_t r;
    rec_init(&r, NULL);
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 0); /* no stream yet */
    feeds(&r, "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client' "
              "xmlns:f='urn:foo' to='example.com' version='1.0'>");
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 1);
    feeds(&r, "<message><body>half");
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 0);
    feeds(&r, "</body></message><pres");
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 0); /* a tag is half-read */
    feeds(&r, "ence/>");
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 1);
    feeds(&r, "<f:x a='1'/>");
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 1);
    feeds(&r, "</s:stream>");
    ck_assert_str_eq(pl_buf_cstr(&r.log),
                     "open stream|http://etherx.jabber.org/streams|ct=jabber:client|to=example.com|"
                     "from=-|id=-|v=1.0|lang=-\n"
                     "stanza 36 <message><body>half</body></message>\n"
                     "stanza 11 <presence/>\n"
                     "stanza 12 <x xmlns='urn:foo' a='1'/>\n"
                     "close\n");
    ck_assert_int_eq(r.opens, 1);
    ck_assert_int_eq(r.errors, 0);
    rec_deinit(&r);
}
END_TEST

/* The byte bound still counts from the stanza's start after a wake-up, and
 * errors after waking are the same stream errors. */
START_TEST(sleeping_keeps_the_limits_and_the_errors)
{
    pl_xml_limits_t lim;
    pl_xml_limits_default(&lim);
    lim.max_stanza_bytes = 200;
    rec_t r;
    rec_init(&r, &lim);
    feeds(&r, HEADER);
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 1);
    feeds(&r, "<message><body>");
    for (int i = 0; i < 10; i++)
        feeds(&r, "0123456789012345678901234567890123456789");
    ck_assert_int_eq(r.errors, 1);
    ck_assert_int_eq(r.err, PL_XML_ERR_POLICY_VIOLATION);
    rec_deinit(&r);

    rec_init(&r, NULL);
    feeds(&r, HEADER "<presence/>");
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 1);
    feeds(&r, "<message></iq>");
    ck_assert_int_eq(r.errors, 1);
    ck_assert_int_eq(r.err, PL_XML_ERR_NOT_WELL_FORMED);
    ck_assert_int_eq(pl_xml_parser_sleep(r.parser), 0); /* never after an error */
    rec_deinit(&r);
}
END_TEST

START_TEST(input_split_at_any_byte_parses_the_same)
{
    check_all_splits(realistic);
}
END_TEST

START_TEST(wire_size_is_bytes_on_the_wire)
{
    rec_t r;
    rec_init(&r, NULL);
    feeds(&r, HEADER);
    const char *st = "<message id='1'><body>x &amp; y</body></message>";
    feeds(&r, st);
    ck_assert_uint_eq(pl_stanza_wire_size(r.last), strlen(st));
    feeds(&r, "  <presence/>");
    ck_assert_uint_eq(pl_stanza_wire_size(r.last), strlen("<presence/>"));
    feeds(&r, "<presence  type = 'unavailable' />");
    ck_assert_uint_eq(pl_stanza_wire_size(r.last), strlen("<presence  type = 'unavailable' />"));
    rec_deinit(&r);
}
END_TEST

START_TEST(namespaces_resolve_on_every_element)
{
    rec_t r;
    rec_init(&r, NULL);
    feeds(&r, HEADER "<iq id='1'><x xmlns:foo='urn:foo'><foo:y/><w/></x></iq>");
    const pl_xml_t *iq = pl_stanza_root(r.last);
    ck_assert_str_eq(iq->ns, PL_NS_CLIENT);
    const pl_xml_t *x = pl_xml_child(iq, "x", NULL);
    ck_assert_ptr_nonnull(x);
    ck_assert_str_eq(x->ns, PL_NS_CLIENT); /* inherits the default */
    ck_assert_ptr_nonnull(pl_xml_child(x, "y", "urn:foo"));
    ck_assert_ptr_nonnull(pl_xml_child(x, "w", PL_NS_CLIENT));
    ck_assert_str_eq(pl_stanza_bytes(r.last, NULL),
                     "<iq id='1'><x><y xmlns='urn:foo'/><w/></x></iq>");

    feeds(&r, "<stream:features><mechanisms "
              "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
              "</stream:features>");
    const pl_xml_t *f = pl_stanza_root(r.last);
    ck_assert_str_eq(f->name, "features");
    ck_assert_str_eq(f->ns, PL_NS_STREAMS);
    ck_assert_ptr_nonnull(pl_xml_child(f, "mechanisms", PL_NS_SASL));

    /* xmlns='' takes an element out of every namespace, and stays so. */
    feeds(&r, "<message><x xmlns=''/></message>");
    ck_assert_str_eq(pl_xml_first_element(pl_stanza_root(r.last))->ns, "");
    ck_assert_str_eq(pl_stanza_bytes(r.last, NULL), "<message><x xmlns=''/></message>");

    /* A prefixed stanza in the content namespace is the same stanza. */
    feeds(&r, "<c:message xmlns:c='jabber:client' to='a@b'><c:body>hi</c:body></c:message>");
    ck_assert_str_eq(pl_stanza_bytes(r.last, NULL), "<message to='a@b'><body>hi</body></message>");
    ck_assert_int_eq(r.errors, 0);
    rec_deinit(&r);
}
END_TEST

START_TEST(content_namespaces_become_client)
{
    static const char *const streams[] = { "jabber:component:accept", "jabber:server" };
    for (int i = 0; i < 2; i++) {
        rec_t r;
        rec_init(&r, NULL);
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "<stream:stream xmlns='%s' xmlns:stream='http://etherx.jabber.org/streams' "
                 "to='c.example.com'><message to='a@b'><body>x</body><x xmlns='urn:x'/>"
                 "</message>",
                 streams[i]);
        feeds(&r, buf);
        ck_assert_int_eq(r.opens, 1);
        ck_assert_ptr_nonnull(strstr(pl_buf_cstr(&r.log), streams[i])); /* header: as declared */
        const pl_xml_t *m = pl_stanza_root(r.last);
        ck_assert_str_eq(m->ns, PL_NS_CLIENT);
        ck_assert_str_eq(pl_xml_first_element(m)->ns, PL_NS_CLIENT);
        ck_assert_str_eq(pl_stanza_bytes(r.last, NULL),
                         "<message to='a@b'><body>x</body><x xmlns='urn:x'/></message>");
        rec_deinit(&r);
    }
}
END_TEST

/* SASL and component handshakes carry their payload as the stanza's own
 * text, split by expat at entities and buffer ends. */
START_TEST(a_stanzas_own_text_is_joined_across_entities_and_splits)
{
    const char *in = HEADER "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                            "AGp1bGll&#x64;AByMG0zMG15cjBtMzA=</auth><handshake>x<y/>z</handshake>";
    check_all_splits(in);
    rec_t r;
    rec_init(&r, NULL);
    feed(&r, in, strlen(in) - 40); /* ends inside the auth text */
    feeds(&r, in + strlen(in) - 40);
    ck_assert_int_eq(r.stanzas, 2);
    pl_buf_t t;
    pl_buf_init(&t);
    ck_assert_uint_eq(pl_xml_text(pl_stanza_root(r.last), &t), 2);
    ck_assert_str_eq(pl_buf_cstr(&t), "xz");
    pl_buf_deinit(&t);
    feeds(&r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGll&#x64;");
    feeds(&r, "AByMG0zMG15cjBtMzA=</auth>");
    const pl_xml_t *auth = pl_stanza_root(r.last);
    ck_assert_ptr_nonnull(auth->children);
    ck_assert_ptr_null(auth->children->next); /* one text node, not three */
    ck_assert_str_eq(auth->children->text, "AGp1bGlldAByMG0zMG15cjBtMzA=");
    ck_assert_str_eq(pl_xml_attr(auth, "mechanism"), "PLAIN");
    rec_deinit(&r);
}
END_TEST

START_TEST(any_root_is_reported)
{
    rec_t r;
    rec_init(&r, NULL);
    feeds(&r, "<hello xmlns='urn:other' id='7'><a/>");
    ck_assert_str_eq(pl_buf_cstr(&r.log), "open hello|urn:other|ct=urn:other|to=-|from=-|id=7|v=-|"
                                          "lang=-\nstanza 4 <a xmlns='urn:other'/>\n");
    rec_deinit(&r);
}
END_TEST

/* Parses one stanza after HEADER and returns a reference to it. */
static pl_stanza_t *parse_one(const char *stanza)
{
    rec_t r;
    rec_init(&r, NULL);
    feeds(&r, HEADER);
    feeds(&r, stanza);
    ck_assert_int_eq(r.errors, 0);
    ck_assert_int_eq(r.stanzas, 1);
    pl_stanza_t *s = r.last;
    r.last = NULL;
    rec_deinit(&r);
    return s;
}

START_TEST(escapes_and_character_references_decode_in_text_and_attributes)
{
    pl_stanza_t *s = parse_one("<message id=\"q&quot;'&lt;&amp;&gt;\" to='&#65;&#x42;\"'>"
                               "<body>&lt;b&gt; &amp;amp; 'single' \"double\" &#65;&#x263a;]]&gt;"
                               "</body></message>");
    ck_assert_str_eq(pl_stanza_attr(s, "id"), "q\"'<&>");
    ck_assert_str_eq(pl_stanza_attr(s, "to"), "AB\"");
    pl_buf_t t;
    pl_buf_init(&t);
    ck_assert_int_eq(pl_xml_child_text(pl_stanza_root(s), "body", PL_NS_CLIENT, &t), 1);
    ck_assert_str_eq(pl_buf_cstr(&t), "<b> &amp; 'single' \"double\" A\xe2\x98\xba]]>");
    pl_buf_deinit(&t);

    const char *once = pl_stanza_bytes(s, NULL);
    ck_assert_str_eq(once, "<message id='q&quot;&apos;&lt;&amp;&gt;' to='AB&quot;'><body>&lt;b&gt; "
                           "&amp;amp; 'single' \"double\" A\xe2\x98\xba]]&gt;</body></message>");
    /* What we write parses back to the same tree. */
    pl_stanza_t *again = parse_one(once);
    ck_assert_str_eq(pl_stanza_bytes(again, NULL), once);
    ck_assert_uint_eq(pl_stanza_wire_size(again), strlen(once));
    pl_stanza_unref(&again);
    pl_stanza_unref(&s);
}
END_TEST

START_TEST(attributes_keep_their_namespaces_and_order)
{
    pl_stanza_t *s = parse_one("<presence xml:lang='de'><x xmlns:a='urn:a' xmlns:b='urn:b' "
                               "a:one='1' b:two='2' a:three='3' plain='p'/></presence>");
    const pl_xml_t *root = pl_stanza_root(s);
    ck_assert_str_eq(pl_xml_attr(root, "xml:lang"), "de");
    ck_assert_ptr_eq(root->attrs[0].ns, NULL);
    const pl_xml_t *x = pl_xml_first_element(root);
    ck_assert_uint_eq(x->nattrs, 4);
    ck_assert_str_eq(x->attrs[0].name, "one");
    ck_assert_str_eq(x->attrs[0].ns, "urn:a");
    ck_assert_ptr_null(pl_xml_attr(x, "one")); /* only unqualified attributes */
    ck_assert_str_eq(pl_xml_attr(x, "plain"), "p");
    const char *bytes = pl_stanza_bytes(s, NULL);
    ck_assert_str_eq(bytes, "<presence xml:lang='de'><x xmlns:ns1='urn:a' xmlns:ns2='urn:b' "
                            "ns1:one='1' ns2:two='2' ns1:three='3' plain='p'/></presence>");
    pl_stanza_t *again = parse_one(bytes);
    ck_assert_str_eq(pl_stanza_bytes(again, NULL), bytes);
    pl_stanza_unref(&again);
    pl_stanza_unref(&s);
}
END_TEST

/* ---- limits ---- */

static pl_xml_limits_t limits(size_t bytes, unsigned depth, unsigned attrs, unsigned name)
{
    pl_xml_limits_t l;
    pl_xml_limits_default(&l);
    if (bytes)
        l.max_stanza_bytes = bytes;
    if (depth)
        l.max_depth = depth;
    if (attrs)
        l.max_attrs = attrs;
    if (name)
        l.max_name_len = name;
    return l;
}

/* A <message/> of exactly `size` bytes. */
static char *message_of(size_t size)
{
    const char *head = "<message><body>", *tail = "</body></message>";
    size_t fixed = strlen(head) + strlen(tail);
    ck_assert_uint_ge(size, fixed);
    char *m = malloc(size + 1);
    strcpy(m, head);
    memset(m + strlen(head), 'A', size - fixed);
    strcpy(m + size - strlen(tail), tail);
    return m;
}

START_TEST(a_stanza_over_the_byte_limit_is_a_policy_violation)
{
    pl_xml_limits_t l = limits(200, 0, 0, 0);
    for (size_t chunk = 1; chunk <= 1000; chunk = chunk * 10) {
        char *ok = message_of(200), *big = message_of(201);
        rec_t r;
        rec_init(&r, &l);
        feeds(&r, HEADER);
        for (int i = 0; i < 3; i++)
            feed_chunked(&r, ok, 200, chunk);
        ck_assert_int_eq(r.stanzas, 3);
        ck_assert_int_eq(r.errors, 0);
        ck_assert_int_eq(feed_chunked(&r, big, 201, chunk), -1);
        ck_assert_int_eq(r.stanzas, 3);
        ck_assert_int_eq(r.errors, 1);
        ck_assert_int_eq(r.err, PL_XML_ERR_POLICY_VIOLATION);
        ck_assert_int_eq(feeds(&r, "<presence/>"), -1);
        ck_assert_int_eq(r.stanzas, 3);
        rec_deinit(&r);
        free(ok);
        free(big);
    }
}
END_TEST

/* An attribute value that never ends is refused once it passes the bound,
 * not buffered until memory runs out. */
START_TEST(an_unterminated_attribute_is_refused_at_the_byte_limit)
{
    pl_xml_limits_t l = limits(1000, 0, 0, 0);
    rec_t r;
    rec_init(&r, &l);
    feeds(&r, HEADER);
    size_t header = r.fed;
    feeds(&r, "<message to='");
    char junk[100];
    memset(junk, 'A', sizeof(junk));
    for (int i = 0; i < 100000 && r.errors == 0; i++)
        feed(&r, junk, sizeof(junk));
    ck_assert_int_eq(r.errors, 1);
    ck_assert_int_eq(r.err, PL_XML_ERR_POLICY_VIOLATION);
    ck_assert_uint_le(r.fed_at_error - header, 1000 + sizeof(junk));
    rec_deinit(&r);
}
END_TEST

START_TEST(an_oversized_stream_header_is_refused)
{
    pl_xml_limits_t l = limits(300, 0, 0, 0);
    rec_t r;
    rec_init(&r, &l);
    feeds(&r, "<stream:stream xmlns='jabber:client' to='");
    for (int i = 0; i < 300 && r.errors == 0; i++)
        feeds(&r, "a");
    ck_assert_int_eq(r.errors, 1);
    ck_assert_int_eq(r.err, PL_XML_ERR_POLICY_VIOLATION);
    ck_assert_int_eq(r.opens, 0);
    rec_deinit(&r);
}
END_TEST

/* Whitespace keepalives between stanzas, however many, are not a stanza. */
START_TEST(keepalives_do_not_count)
{
    pl_xml_limits_t l = limits(200, 0, 0, 0);
    char *spaces = malloc(20001);
    memset(spaces, ' ', 20000);
    spaces[20000] = '\0';
    for (size_t chunk = 1; chunk <= 100000; chunk *= 100) {
        rec_t r;
        rec_init(&r, &l);
        feeds(&r, HEADER);
        feed_chunked(&r, spaces, 20000, chunk);
        feeds(&r, "<presence/>\n\n");
        feed(&r, spaces, 20000);
        feeds(&r, "<presence/>");
        ck_assert_int_eq(r.errors, 0);
        ck_assert_int_eq(r.stanzas, 2);
        rec_deinit(&r);
    }
    free(spaces);
}
END_TEST

static rec_t *run_one(const pl_xml_limits_t *l, const char *header, const char *stanza)
{
    rec_t *r = malloc(sizeof(*r));
    rec_init(r, l);
    feeds(r, header);
    feeds(r, stanza);
    return r;
}

static void expect_result(const pl_xml_limits_t *l, const char *header, const char *stanza,
                          int ok)
{
    rec_t *r = run_one(l, header, stanza);
    if (ok) {
        ck_assert_msg(r->errors == 0 && r->stanzas == 1, "expected to pass: %s (%s)", stanza,
                      r->err_text);
    } else {
        ck_assert_msg(r->errors == 1 && r->stanzas == 0, "expected to fail: %s", stanza);
        ck_assert_int_eq(r->err, PL_XML_ERR_POLICY_VIOLATION);
    }
    rec_deinit(r);
    free(r);
}

START_TEST(elements_deeper_than_the_limit_are_refused)
{
    pl_xml_limits_t l = limits(0, 3, 0, 0);
    expect_result(&l, HEADER, "<a><b><c/></b></a>", 1);
    expect_result(&l, HEADER, "<a><b><c>text</c><c/></b><b/></a>", 1);
    expect_result(&l, HEADER, "<a><b><c><d/></c></b></a>", 0);
}
END_TEST

START_TEST(elements_with_too_many_attributes_are_refused)
{
    pl_xml_limits_t l = limits(0, 0, 4, 0);
    /* The header has 2 namespace declarations and 2 attributes. */
    const char *hdr = "<stream:stream xmlns='jabber:client' "
                      "xmlns:stream='http://etherx.jabber.org/streams' to='x' version='1.0'>";
    expect_result(&l, hdr, "<a w='1' x='2' y='3' z='4'/>", 1);
    expect_result(&l, hdr, "<a><b w='1' x='2' y='3' z='4'/></a>", 1);
    expect_result(&l, hdr, "<a v='0' w='1' x='2' y='3' z='4'/>", 0);
    expect_result(&l, hdr, "<a><b v='0' w='1' x='2' y='3' z='4'/></a>", 0);
    /* Namespace declarations count too. */
    expect_result(&l, hdr, "<a xmlns='urn:x' x='2' y='3' z='4'/>", 1);
    expect_result(&l, hdr, "<a xmlns='urn:x' xmlns:p='urn:p' x='2' y='3' z='4'/>", 0);
    /* And the header itself is bounded. */
    rec_t *r = run_one(&l, "<stream:stream xmlns='jabber:client' "
                           "xmlns:stream='http://etherx.jabber.org/streams' to='x' version='1.0' "
                           "from='y'>",
                       "");
    ck_assert_int_eq(r->opens, 0);
    ck_assert_int_eq(r->err, PL_XML_ERR_POLICY_VIOLATION);
    rec_deinit(r);
    free(r);
}
END_TEST

START_TEST(names_longer_than_the_limit_are_refused)
{
    pl_xml_limits_t l = limits(0, 0, 0, 40);
    /* No default namespace, so names are only their local part; the stream
     * root is "<streams URI>\x01stream", 39 bytes. */
    const char *hdr = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>";
    char n40[41], n41[42], st[200];
    memset(n40, 'n', 40);
    n40[40] = '\0';
    memset(n41, 'n', 41);
    n41[41] = '\0';
    snprintf(st, sizeof(st), "<%s/>", n40);
    expect_result(&l, hdr, st, 1);
    snprintf(st, sizeof(st), "<%s/>", n41);
    expect_result(&l, hdr, st, 0);
    snprintf(st, sizeof(st), "<a><%s/></a>", n41);
    expect_result(&l, hdr, st, 0);
    snprintf(st, sizeof(st), "<a %s='1'/>", n40);
    expect_result(&l, hdr, st, 1);
    snprintf(st, sizeof(st), "<a %s='1'/>", n41);
    expect_result(&l, hdr, st, 0);
    /* The namespace counts: "urn:x\x01" is 6 more bytes. */
    snprintf(st, sizeof(st), "<a xmlns='urn:x'><%s/></a>", n40 + 6);
    expect_result(&l, hdr, st, 1);
    snprintf(st, sizeof(st), "<a xmlns='urn:x'><%s/></a>", n40 + 5);
    expect_result(&l, hdr, st, 0);
}
END_TEST

/* ---- restricted XML ---- */

/* The classic entity expansion bomb: ten levels of ten references. */
static void billion_laughs(pl_buf_t *b)
{
    pl_buf_puts(b, "<?xml version='1.0'?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 'lol'>\n");
    for (int level = 1; level <= 9; level++) {
        pl_buf_printf(b, " <!ENTITY lol%d '", level);
        for (int i = 0; i < 10; i++)
            pl_buf_printf(b, "&lol%d;", level - 1);
        pl_buf_puts(b, "'>\n");
    }
    pl_buf_puts(b, "]>\n" HEADER "<message><body>&lol9;</body></message>");
}

START_TEST(a_doctype_is_refused_before_any_entity_expands)
{
    /* Whole, and byte by byte: refused before the first entity is even
     * complete, so nothing can be expanded. */
    pl_buf_t bomb;
    pl_buf_init(&bomb);
    billion_laughs(&bomb);
    const char *in = pl_buf_cstr(&bomb);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        rec_t r;
        rec_init(&r, NULL);
        ck_assert_int_eq(feed_chunked(&r, in, bomb.len, bytewise ? 1 : bomb.len), -1);
        ck_assert_int_eq(r.errors, 1);
        ck_assert_int_eq(r.err, PL_XML_ERR_RESTRICTED_XML);
        ck_assert_int_eq(r.opens, 0);
        ck_assert_int_eq(r.stanzas, 0);
        if (bytewise) {
            size_t first_entity = (size_t)(strstr(in, "<!ENTITY") - in);
            ck_assert_uint_lt(r.fed_at_error, first_entity);
        }
        rec_deinit(&r);
    }
    pl_buf_deinit(&bomb);
}
END_TEST

static void expect_error(const char *input, pl_xml_error_t want)
{
    rec_t r;
    rec_init(&r, NULL);
    ck_assert_int_eq(feeds(&r, input), -1);
    ck_assert_msg(r.errors == 1 && r.err == want, "%s: got %d errors, condition %d (%s)", input,
                  r.errors, r.errors ? (int)r.err : 0, r.err_text);
    ck_assert_int_eq(r.stanzas, 0);
    /* Ignored until reset, and no second error. */
    ck_assert_int_eq(feeds(&r, "<presence/>"), -1);
    ck_assert_int_eq(r.errors, 1);
    ck_assert_int_eq(r.stanzas, 0);
    rec_deinit(&r);
}

START_TEST(comments_processing_instructions_and_dtds_are_restricted_xml)
{
    expect_error("<!DOCTYPE stream:stream SYSTEM 'http://example.com/x.dtd'>" HEADER,
                 PL_XML_ERR_RESTRICTED_XML);
    expect_error("<!-- hello -->" HEADER, PL_XML_ERR_RESTRICTED_XML);
    expect_error(HEADER "<message><!-- hidden --></message>", PL_XML_ERR_RESTRICTED_XML);
    expect_error(HEADER "<!-- between -->", PL_XML_ERR_RESTRICTED_XML);
    expect_error(HEADER "<message><?php echo 1; ?></message>", PL_XML_ERR_RESTRICTED_XML);
    expect_error("<?xml-stylesheet href='x'?>" HEADER, PL_XML_ERR_RESTRICTED_XML);
    /* A partial stanza before the offence is dropped, never delivered. */
    expect_error(HEADER "<message><body>hi</body><!-- x -->", PL_XML_ERR_RESTRICTED_XML);
}
END_TEST

START_TEST(malformed_xml_is_not_well_formed)
{
    expect_error(HEADER "<message><body></message>", PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "<message><body>&nbsp;</body></message>", PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "<message a='1' a='2'/>", PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "<message><body>\xff\xfe</body></message>", PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "<message><x:y/></message>", PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "<message>&#0;</message>", PL_XML_ERR_NOT_WELL_FORMED);
    expect_error("<<<", PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "</message>", PL_XML_ERR_NOT_WELL_FORMED);

    rec_t r;
    rec_init(&r, NULL);
    feeds(&r, HEADER "<message><body></message>");
    ck_assert_str_eq(r.err_text, "mismatched tag");
    rec_deinit(&r);
}
END_TEST

/* <xml:foo/> is namespace-well-formed (the xml prefix needs no
 * declaration) but has no serialisation a parser accepts once prefixes are
 * gone, so the parser refuses it wherever it appears (issue #14, finding 2). */
START_TEST(elements_in_reserved_namespaces_are_refused)
{
    expect_error(HEADER "<message><xml:poison/></message>", PL_XML_ERR_BAD_NAMESPACE_PREFIX);
    expect_error(HEADER "<message to='b@x'><body>hi</body><a xmlns='urn:a'><b><xml:c x='1'>"
                        "text</xml:c></b></a></message>",
                 PL_XML_ERR_BAD_NAMESPACE_PREFIX);
    expect_error(HEADER "<xml:message/>", PL_XML_ERR_BAD_NAMESPACE_PREFIX);
    /* Declaring the prefix (which is allowed) changes nothing. */
    expect_error(HEADER "<message xmlns:xml='" PL_NS_XML "'><xml:x/></message>",
                 PL_XML_ERR_BAD_NAMESPACE_PREFIX);
    /* The other ways into the reserved namespaces are expat's to refuse. */
    expect_error(HEADER "<message><x xmlns='" PL_NS_XML "'/></message>",
                 PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "<message><p:x xmlns:p='" PL_NS_XMLNS "'/></message>",
                 PL_XML_ERR_NOT_WELL_FORMED);
    expect_error(HEADER "<message><xmlns:x/></message>", PL_XML_ERR_NOT_WELL_FORMED);

    /* The stream root too: refused before any stream is opened. */
    rec_t r;
    rec_init(&r, NULL);
    ck_assert_int_eq(feeds(&r, "<?xml version='1.0'?><xml:stream xmlns='jabber:client' "
                               "xmlns:stream='http://etherx.jabber.org/streams' to='x'>"),
                     -1);
    ck_assert_int_eq(r.opens, 0);
    ck_assert_int_eq(r.errors, 1);
    ck_assert_int_eq(r.err, PL_XML_ERR_BAD_NAMESPACE_PREFIX);
    rec_deinit(&r);

    /* Byte by byte, the stanza before the offence still comes out and the
     * one holding it never does. */
    const char *in = HEADER "<presence/><message><xml:p/></message>";
    rec_init(&r, NULL);
    ck_assert_int_eq(feed_chunked(&r, in, strlen(in), 1), -1);
    ck_assert_int_eq(r.stanzas, 1);
    ck_assert_str_eq(pl_stanza_name(r.last), "presence");
    ck_assert_int_eq(r.err, PL_XML_ERR_BAD_NAMESPACE_PREFIX);
    rec_deinit(&r);

    /* Attributes in the XML namespace are what it is for, and stay. */
    pl_stanza_t *s = parse_one("<message xml:lang='en'><body xml:lang='de' xml:space='x'>hi"
                               "</body></message>");
    ck_assert_str_eq(pl_stanza_bytes(s, NULL), "<message xml:lang='en'><body xml:lang='de' "
                                               "xml:space='x'>hi</body></message>");
    pl_stanza_unref(&s);
}
END_TEST

START_TEST(a_reset_from_a_callback_starts_the_new_stream_in_the_same_buffer)
{
    /* A reset requested by the stanza callback: the new stream header in
     * the same buffer belongs to the new stream. */
    const char *in = HEADER "<iq type='set' id='tls' cmd='reset'/>"
                            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                            "xmlns:stream='http://etherx.jabber.org/streams' to='two' "
                            "version='1.0'><message id='after'/><presence/>";
    rec_t r;
    rec_init(&r, NULL);
    ck_assert_int_eq(feeds(&r, in), 0);
    ck_assert_str_eq(pl_buf_cstr(&r.log),
                     "open stream|http://etherx.jabber.org/streams|ct=jabber:client|"
                     "to=example.com|from=-|id=-|v=1.0|lang=en\n"
                     "stanza 37 <iq type='set' id='tls' cmd='reset'/>\n"
                     "open stream|http://etherx.jabber.org/streams|ct=jabber:client|to=two|"
                     "from=-|id=-|v=1.0|lang=-\n"
                     "stanza 21 <message id='after'/>\n"
                     "stanza 11 <presence/>\n");
    rec_deinit(&r);
    check_all_splits(in);
}
END_TEST

START_TEST(a_reset_between_feeds_forgets_a_partial_stanza)
{
    rec_t r;
    rec_init(&r, NULL);
    feeds(&r, HEADER "<message><body>never fin");
    pl_xml_parser_reset(r.parser);
    feeds(&r, "<?xml version='1.0'?>" HEADER "<presence/>");
    ck_assert_int_eq(r.errors, 0);
    ck_assert_int_eq(r.opens, 2);
    ck_assert_int_eq(r.stanzas, 1);
    ck_assert_str_eq(pl_stanza_name(r.last), "presence");

    /* After an error, a reset makes the parser usable again. */
    ck_assert_int_eq(feeds(&r, "<bad></worse>"), -1);
    ck_assert_int_eq(feeds(&r, "<presence/>"), -1);
    pl_xml_parser_reset(r.parser);
    ck_assert_int_eq(feeds(&r, HEADER "<message/>"), 0);
    ck_assert_int_eq(r.errors, 1);
    ck_assert_int_eq(r.opens, 3);
    ck_assert_str_eq(pl_stanza_name(r.last), "message");
    rec_deinit(&r);
}
END_TEST

START_TEST(stop_drops_the_rest)
{
    rec_t r;
    rec_init(&r, NULL);
    ck_assert_int_eq(feeds(&r, HEADER "<presence cmd='stop'/><message/><bad></worse>"), 0);
    ck_assert_int_eq(r.stanzas, 1);
    ck_assert_int_eq(feeds(&r, "<message/>"), 0);
    ck_assert_int_eq(r.stanzas, 1);
    ck_assert_int_eq(r.errors, 0);

    /* Stopped from outside, with a stanza half read. */
    pl_xml_parser_reset(r.parser);
    feeds(&r, HEADER "<message><body>");
    pl_xml_parser_stop(r.parser);
    ck_assert_int_eq(feeds(&r, "x</body></message>"), 0);
    ck_assert_int_eq(r.stanzas, 1);
    rec_deinit(&r);
}
END_TEST

START_TEST(close_ends_the_stream)
{
    rec_t r;
    rec_init(&r, NULL);
    ck_assert_int_eq(feeds(&r, HEADER "<presence/></stream:stream>trailing <junk"), 0);
    ck_assert_int_eq(r.closes, 1);
    ck_assert_int_eq(r.errors, 0);
    ck_assert_int_eq(feeds(&r, "<message/>"), 0);
    ck_assert_int_eq(r.stanzas, 1);
    rec_deinit(&r);
}
END_TEST

START_TEST(the_parser_can_be_freed_from_its_own_callback)
{
    rec_t r;
    rec_init(&r, NULL);
    feeds(&r, HEADER "<presence cmd='free'/><message/>");
    ck_assert_ptr_null(r.parser);
    ck_assert_int_eq(r.stanzas, 1);
    rec_deinit(&r);
}
END_TEST

START_TEST(each_error_has_its_stream_error_condition)
{
    ck_assert_str_eq(pl_xml_error_condition(PL_XML_ERR_NOT_WELL_FORMED), "not-well-formed");
    ck_assert_str_eq(pl_xml_error_condition(PL_XML_ERR_RESTRICTED_XML), "restricted-xml");
    ck_assert_str_eq(pl_xml_error_condition(PL_XML_ERR_POLICY_VIOLATION), "policy-violation");
    ck_assert_str_eq(pl_xml_error_condition(PL_XML_ERR_INVALID_NAMESPACE), "invalid-namespace");
    ck_assert_str_eq(pl_xml_error_condition(PL_XML_ERR_BAD_FORMAT), "bad-format");
    ck_assert_str_eq(pl_xml_error_condition(PL_XML_ERR_BAD_NAMESPACE_PREFIX),
                     "bad-namespace-prefix");
    pl_xml_limits_t l;
    pl_xml_limits_default(&l);
    ck_assert_uint_eq(l.max_stanza_bytes, 262144);
    ck_assert_uint_eq(l.max_depth, 32);
}
END_TEST

Suite *xml_suite(void)
{
    Suite *s = suite_create("xml");
    TCase *tc = tcase_create("stream");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_stream_yields_its_header_its_stanzas_and_its_close);
    tcase_add_test(tc, input_split_at_any_byte_parses_the_same);
    tcase_add_test(tc, sleeping_changes_nothing);
    tcase_add_test(tc, the_parser_sleeps_only_between_stanzas_and_wakes_intact);
    tcase_add_test(tc, sleeping_keeps_the_limits_and_the_errors);
    tcase_add_test(tc, wire_size_is_bytes_on_the_wire);
    tcase_add_test(tc, namespaces_resolve_on_every_element);
    tcase_add_test(tc, content_namespaces_become_client);
    tcase_add_test(tc, a_stanzas_own_text_is_joined_across_entities_and_splits);
    tcase_add_test(tc, any_root_is_reported);
    tcase_add_test(tc, escapes_and_character_references_decode_in_text_and_attributes);
    tcase_add_test(tc, attributes_keep_their_namespaces_and_order);
    tcase_add_test(tc, a_reset_from_a_callback_starts_the_new_stream_in_the_same_buffer);
    tcase_add_test(tc, a_reset_between_feeds_forgets_a_partial_stanza);
    tcase_add_test(tc, stop_drops_the_rest);
    tcase_add_test(tc, close_ends_the_stream);
    tcase_add_test(tc, the_parser_can_be_freed_from_its_own_callback);
    tcase_add_test(tc, each_error_has_its_stream_error_condition);
    suite_add_tcase(s, tc);

    TCase *lim = tcase_create("limits");
    tcase_set_timeout(lim, 60);
    tcase_add_test(lim, a_stanza_over_the_byte_limit_is_a_policy_violation);
    tcase_add_test(lim, an_unterminated_attribute_is_refused_at_the_byte_limit);
    tcase_add_test(lim, an_oversized_stream_header_is_refused);
    tcase_add_test(lim, keepalives_do_not_count);
    tcase_add_test(lim, elements_deeper_than_the_limit_are_refused);
    tcase_add_test(lim, elements_with_too_many_attributes_are_refused);
    tcase_add_test(lim, names_longer_than_the_limit_are_refused);
    suite_add_tcase(s, lim);

    TCase *bad = tcase_create("refused");
    tcase_add_test(bad, a_doctype_is_refused_before_any_entity_expands);
    tcase_add_test(bad, comments_processing_instructions_and_dtds_are_restricted_xml);
    tcase_add_test(bad, malformed_xml_is_not_well_formed);
    tcase_add_test(bad, elements_in_reserved_namespaces_are_refused);
    suite_add_tcase(s, bad);
    return s;
}
