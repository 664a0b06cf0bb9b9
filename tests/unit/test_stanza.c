/* test_stanza.c — stanza trees: what the builder and the serialiser write,
 * navigation, readdressed copies sharing children, references and the cached
 * bytes (also from several threads at once). */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "xmpp/ns.h"
#include "xmpp/stanza.h"
#include "xmpp/xml.h"

static const char *bytes_of(const pl_stanza_t *s) { return pl_stanza_bytes(s, NULL); }

START_TEST(built_stanzas_serialise_with_escaped_values_and_inherited_namespaces)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", "a'b\"c<d>&e");
    pl_build_child(b, "query", PL_NS_DISCO_INFO);
    pl_build_child(b, "identity", NULL); /* NULL: the parent's namespace */
    pl_build_attr(b, "category", "server");
    pl_build_up(b);
    pl_build_child(b, "feature", PL_NS_DISCO_INFO);
    pl_build_attr(b, "var", PL_NS_PING);
    pl_build_up(b);
    pl_build_up(b);
    pl_build_text_child(b, "note", "urn:x", "1 < 2 & 'q' \"d\" > 0");
    pl_build_child(b, "text", PL_NS_STANZA_ERRORS);
    pl_build_attr(b, "xml:lang", "en");
    pl_build_text(b, "part one, ", 10);
    pl_build_text(b, "part two", 8);
    pl_stanza_t *s = pl_build_finish(b); /* closes what is still open */
    ck_assert_str_eq(bytes_of(s),
                     "<iq type='result' id='a&apos;b&quot;c&lt;d&gt;&amp;e'>"
                     "<query xmlns='http://jabber.org/protocol/disco#info'>"
                     "<identity category='server'/><feature var='urn:xmpp:ping'/></query>"
                     "<note xmlns='urn:x'>1 &lt; 2 &amp; 'q' \"d\" &gt; 0</note>"
                     "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>"
                     "part one, part two</text></iq>");
    ck_assert_uint_eq(pl_stanza_wire_size(s), 0);
    ck_assert_str_eq(pl_stanza_name(s), "iq");
    ck_assert_str_eq(pl_stanza_attr(s, "type"), "result");
    ck_assert_ptr_null(pl_stanza_attr(s, "to"));
    pl_stanza_unref(&s);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(empty_elements_and_foreign_roots_serialise_with_their_namespaces)
{
    pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
    pl_stanza_t *s = pl_build_finish(b);
    ck_assert_str_eq(bytes_of(s), "<presence/>");
    pl_stanza_unref(&s);

    b = pl_build_new("features", PL_NS_STREAMS);
    pl_build_child(b, "starttls", PL_NS_TLS);
    pl_build_child(b, "required", PL_NS_TLS);
    s = pl_build_finish(b);
    ck_assert_str_eq(bytes_of(s), "<features xmlns='http://etherx.jabber.org/streams'><starttls "
                                  "xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
                                  "</features>");
    pl_stanza_unref(&s);

    /* Values are copied: the caller's strings may go away. */
    char name[] = "message", val[] = "chat";
    b = pl_build_new(name, NULL);
    pl_build_attr(b, "type", val);
    pl_build_text_child(b, "body", NULL, "");
    name[0] = val[0] = 'X';
    s = pl_build_finish(b);
    ck_assert_str_eq(bytes_of(s), "<message type='chat'><body/></message>");
    pl_stanza_unref(&s);

    b = pl_build_new("iq", NULL);
    pl_build_child(b, "x", "urn:x");
    pl_build_abort(b); /* nothing leaks (ASan) */
}
END_TEST

START_TEST(an_attribute_after_a_child_aborts)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_child(b, "query", "urn:q");
    pl_build_up(b);
    pl_build_attr(b, "type", "get");
}
END_TEST

START_TEST(going_up_past_the_root_aborts)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_up(b);
}
END_TEST

START_TEST(a_copied_element_outlives_its_source)
{
    pl_stanza_t *in = ut_parse("<iq type='get' id='1'><query xmlns='jabber:iq:version' "
                               "xmlns:a='urn:a' a:x='y'>hello <name>Parley &amp; co</name><v/>"
                               "</query></iq>");
    const pl_xml_t *q = pl_xml_first_element(pl_stanza_root(in));
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_copy(b, q);
    pl_stanza_unref(&in); /* the copy must not point into it */
    pl_stanza_t *out = pl_build_finish(b);
    ck_assert_str_eq(bytes_of(out), "<iq type='result'><query xmlns='jabber:iq:version' "
                                    "xmlns:ns1='urn:a' ns1:x='y'>hello <name>Parley &amp; co"
                                    "</name><v/></query></iq>");
    const pl_xml_t *cq = pl_xml_child(pl_stanza_root(out), "query", PL_NS_VERSION);
    ck_assert_ptr_nonnull(cq);
    ck_assert_str_eq(cq->attrs[0].ns, "urn:a");
    pl_stanza_unref(&out);
}
END_TEST

/* The builder cannot make an element a parser would refuse (xml.c refuses
 * the reserved namespaces; nothing else may produce them). */
START_TEST(an_element_in_the_xml_namespace_aborts)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_child(b, "poison", PL_NS_XML);
}
END_TEST

START_TEST(an_element_in_the_xmlns_namespace_aborts)
{
    pl_build_new("iq", PL_NS_XMLNS);
}
END_TEST

START_TEST(a_prefixed_name_aborts)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_child(b, "xml:poison", NULL);
}
END_TEST

START_TEST(a_name_that_is_not_an_xml_name_aborts)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_child(b, "a b", NULL);
}
END_TEST

START_TEST(an_xmlns_attribute_aborts)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "xmlns", "urn:x");
}
END_TEST

START_TEST(an_attribute_name_that_is_not_an_xml_name_aborts)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "to='x' y", "z");
}
END_TEST

/* Text the server makes up (not parsed) may hold what XML cannot carry: it
 * comes out as U+FFFD, and the result parses back. */
START_TEST(serialising_replaces_what_xml_cannot_carry)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "id",
                  "a\x01"
                  "b\xff\tc");
    /* ESC; a broken two-byte sequence; U+FFFE (not an XML character); a
     * smiley, which stays. */
    pl_build_text_child(b, "body", NULL, "x\x1by\xc3(z\xef\xbf\xbe\xe2\x98\xba\r\n");
    pl_build_child(b, "nul", NULL);
    pl_build_text(b, "a\0b", 3);
    pl_stanza_t *s = pl_build_finish(b);
    const char *want = "<message id='a\xef\xbf\xbd"
                       "b\xef\xbf\xbd&#9;c'><body>x\xef\xbf\xbdy"
                       "\xef\xbf\xbd(z\xef\xbf\xbd\xe2\x98\xba&#13;\n</body>"
                       "<nul>a\xef\xbf\xbd"
                       "b</nul></message>";
    ck_assert_str_eq(bytes_of(s), want);
    pl_stanza_t *again = ut_parse(want);
    ck_assert_str_eq(bytes_of(again), want);
    pl_stanza_unref(&again);
    pl_stanza_unref(&s);
}
END_TEST

/* A hand-made tree: what the serialiser does with shapes the builder does
 * not make (namespaced attributes, no namespace at all). */
START_TEST(hand_made_trees_serialise_namespaced_attributes_and_empty_namespaces)
{
    pl_attr_t attrs[] = {
        { .name = "lang", .ns = PL_NS_XML, .value = "en" },
        { .name = "a", .ns = "urn:one", .value = "1" },
        { .name = "b", .ns = "urn:two", .value = "<&>" },
        { .name = "c", .ns = "urn:one", .value = "3" },
        { .name = "d", .ns = NULL, .value = "'\"" },
    };
    pl_xml_t text = { .kind = PL_XML_TEXT, .text = "a<b", .text_len = 3 };
    pl_xml_t bare = { .kind = PL_XML_ELEMENT, .name = "bare", .ns = "", .next = &text };
    pl_xml_t root = {
        .kind = PL_XML_ELEMENT,
        .name = "x",
        .ns = "urn:x",
        .attrs = attrs,
        .nattrs = 5,
        .children = &bare,
    };
    pl_buf_t out;
    pl_buf_init(&out);
    pl_xml_serialize(&root, "urn:x", &out);
    ck_assert_str_eq(pl_buf_cstr(&out),
                     "<x xmlns:ns2='urn:one' xmlns:ns3='urn:two' xml:lang='en' ns2:a='1' "
                     "ns3:b='&lt;&amp;&gt;' ns2:c='3' d='&apos;&quot;'><bare xmlns=''/>a&lt;b</x>");
    pl_buf_reset(&out);
    pl_xml_serialize(&bare, "", &out);
    ck_assert_str_eq(pl_buf_cstr(&out), "<bare/>");
    pl_buf_reset(&out);
    pl_xml_serialize(&bare, PL_NS_CLIENT, &out);
    ck_assert_str_eq(pl_buf_cstr(&out), "<bare xmlns=''/>");
    pl_buf_deinit(&out);
}
END_TEST

START_TEST(children_and_attributes_are_found_by_name_and_namespace)
{
    pl_stanza_t *s = ut_parse("<message to='a@b' type='chat'>one<body>hi</body>two<x "
                              "xmlns='urn:x'/><body xml:lang='de'>hallo</body><x xmlns='urn:y'/>"
                              "<body>third</body></message>");
    const pl_xml_t *m = pl_stanza_root(s);
    ck_assert_str_eq(pl_xml_attr(m, "type"), "chat");
    ck_assert_ptr_null(pl_xml_attr(m, "id"));
    const pl_xml_t *first = pl_xml_first_element(m);
    ck_assert_str_eq(first->name, "body");
    ck_assert_ptr_eq(pl_xml_child(m, "body", PL_NS_CLIENT), first);
    ck_assert_ptr_null(pl_xml_child(m, "body", "urn:x"));
    ck_assert_str_eq(pl_xml_child(m, NULL, "urn:y")->name, "x");
    ck_assert_str_eq(pl_xml_child(m, "x", NULL)->ns, "urn:x");
    const pl_xml_t *second = pl_xml_next(first, "body", NULL);
    ck_assert_str_eq(pl_xml_attr(second, "xml:lang"), "de");
    const pl_xml_t *third = pl_xml_next(second, "body", PL_NS_CLIENT);
    ck_assert_ptr_nonnull(third);
    ck_assert_ptr_null(pl_xml_next(third, "body", NULL));
    ck_assert_str_eq(pl_xml_next(first, NULL, NULL)->ns, "urn:x");

    pl_buf_t t;
    pl_buf_init(&t);
    ck_assert_uint_eq(pl_xml_text(m, &t), 6);
    ck_assert_str_eq(pl_buf_cstr(&t), "onetwo");
    pl_buf_reset(&t);
    ck_assert_int_eq(pl_xml_child_text(m, "body", NULL, &t), 1);
    ck_assert_str_eq(pl_buf_cstr(&t), "hi");
    pl_buf_reset(&t);
    ck_assert_int_eq(pl_xml_child_text(m, "x", "urn:x", &t), 1);
    ck_assert_uint_eq(t.len, 0);
    ck_assert_str_eq(pl_buf_cstr(&t), "");
    ck_assert_int_eq(pl_xml_child_text(m, "subject", NULL, &t), 0);
    pl_buf_deinit(&t);
    pl_stanza_unref(&s);
}
END_TEST

START_TEST(a_readdressed_copy_shares_the_children)
{
    pl_stanza_t *orig = ut_parse("<message from='evil@x' to='romeo@example.net' id='7' "
                                 "type='chat'><body>hi &amp; bye</body></message>");
    pl_stanza_t *a = pl_stanza_readdress(orig, "juliet@example.com/balcony", PL_KEEP);
    ck_assert_ptr_ne(a, orig);
    ck_assert_ptr_eq(pl_stanza_root(a)->children, pl_stanza_root(orig)->children);
    ck_assert_str_eq(bytes_of(a), "<message from='juliet@example.com/balcony' "
                                  "to='romeo@example.net' id='7' type='chat'><body>hi &amp; "
                                  "bye</body></message>");
    ck_assert_uint_eq(pl_stanza_wire_size(a), pl_stanza_wire_size(orig));
    /* The original is untouched. */
    ck_assert_str_eq(pl_stanza_attr(orig, "from"), "evil@x");

    pl_stanza_t *b = pl_stanza_readdress(a, NULL, "other@example.net");
    ck_assert_str_eq(bytes_of(b), "<message to='other@example.net' id='7' type='chat'><body>hi "
                                  "&amp; bye</body></message>");
    pl_stanza_t *c = pl_stanza_readdress(b, "s@x", "t@y");
    /* Dropping every other reference first: c keeps its bases alive. */
    pl_stanza_unref(&orig);
    pl_stanza_unref(&a);
    pl_stanza_unref(&b);
    ck_assert_str_eq(bytes_of(c), "<message to='t@y' id='7' type='chat' from='s@x'><body>hi "
                                  "&amp; bye</body></message>");
    ck_assert_str_eq(pl_xml_first_element(pl_stanza_root(c))->children->text, "hi & bye");
    pl_stanza_unref(&c);

    pl_builder_t *bl = pl_build_new("presence", NULL);
    pl_stanza_t *p = pl_build_finish(bl);
    pl_stanza_t *q = pl_stanza_readdress(p, "a@b", NULL);
    ck_assert_str_eq(bytes_of(q), "<presence from='a@b'/>");
    pl_stanza_unref(&p);
    pl_stanza_unref(&q);
}
END_TEST

/* Fan-out copies get their bytes spliced from the base's: they must be
 * exactly what serialising the readdressed tree writes, for roots with
 * children, empty roots, escaped values and namespaced attributes, and a
 * base that already has a 'to' falls back to the ordinary copy. */
START_TEST(a_fanout_copy_writes_what_the_tree_serialises_to)
{
    const char *cases[] = {
        "<message from='room@groups.x/nick' type='groupchat' id='a&apos;b'><body>1 &gt; 0 "
        "&amp; x</body><stanza-id xmlns='urn:xmpp:sid:0' id='I' by='room@groups.x'/></message>",
        "<presence from='r@g/n'/>",
        "<presence xmlns:a='urn:a' a:k='v&gt;' from='r@g/n'><x xmlns='urn:b'/></presence>",
        "<message from='a@b' to='old@c'><body>t</body></message>",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pl_stanza_t *base = ut_parse(cases[i]);
        (void)bytes_of(base); /* cached first, as fan-out does */
        pl_stanza_t *fast = pl_stanza_readdress_to(base, "u@h/r'<&>");
        pl_stanza_t *slow = pl_stanza_readdress(base, PL_KEEP, "u@h/r'<&>");
        char *want = strdup(bytes_of(slow));
        ck_assert_str_eq(bytes_of(fast), want);
        ck_assert_str_eq(pl_stanza_attr(fast, "to"), "u@h/r'<&>");
        /* And the tree itself agrees with its bytes. */
        pl_stanza_t *again = pl_stanza_compact(fast);
        ck_assert_str_eq(bytes_of(again), want);
        free(want);
        pl_stanza_unref(&again);
        pl_stanza_unref(&slow);
        pl_stanza_unref(&fast);
        pl_stanza_unref(&base);
    }
}
END_TEST

/* A compact copy writes the same bytes and shares nothing: it outlives the
 * stanza (and the readdressed chain) it was made from. */
START_TEST(compact_copy_is_the_same_stanza)
{
    const char *xml = "<presence xml:lang='fr' id='p&amp;1'><show>dnd</show>"
                      "<status>in a call &lt;3</status><c xmlns='http://jabber.org/protocol/caps' "
                      "hash='sha-1' node='n' ver='v='/><x xmlns:a='urn:a' a:k='v'><y "
                      "xmlns=''/><a:z>t</a:z></x><state xmlns='urn:parley:presence'>"
                      "call</state></presence>";
    pl_stanza_t *orig = ut_parse(xml);
    pl_stanza_t *ra = pl_stanza_readdress(orig, "juliet@example.com/balcony", PL_KEEP);
    char *want = strdup(bytes_of(ra));
    pl_stanza_t *c = pl_stanza_compact(ra);
    pl_stanza_unref(&orig);
    pl_stanza_unref(&ra);
    ck_assert_str_eq(bytes_of(c), want);
    ck_assert_uint_eq(pl_stanza_wire_size(c), strlen(xml));
    const pl_xml_t *caps = pl_xml_child(pl_stanza_root(c), "c", "http://jabber.org/protocol/caps");
    ck_assert_ptr_nonnull(caps);
    ck_assert_str_eq(pl_xml_attr(caps, "ver"), "v=");
    ck_assert_ptr_nonnull(pl_xml_child(pl_stanza_root(c), "show", PL_NS_CLIENT));
    free(want);
    pl_stanza_unref(&c);

    pl_stanza_t *empty = pl_build_finish(pl_build_new("presence", NULL));
    pl_stanza_t *ce = pl_stanza_compact(empty);
    ck_assert_str_eq(bytes_of(ce), "<presence/>");
    pl_stanza_unref(&empty);
    pl_stanza_unref(&ce);
}
END_TEST

static int drop_by_a(void *ud, const pl_xml_t *c)
{
    (void)ud;
    const char *by = pl_xml_attr(c, "by");
    return !(strcmp(c->name, "stanza-id") == 0 && by && strcmp(by, "a@x") == 0);
}

START_TEST(building_from_a_stanza_filters_its_children_and_appends_new_ones)
{
    pl_stanza_t *orig =
        ut_parse("<message xml:lang='fr' to='a@x' type='chat'><body>salut</body>"
                 "<stanza-id xmlns='urn:xmpp:sid:0' by='a@x' id='forged'/>"
                 "<stanza-id xmlns='urn:xmpp:sid:0' by='b@x' id='kept'/></message>");
    pl_builder_t *b = pl_build_from(orig, drop_by_a, NULL);
    pl_build_child(b, "delay", PL_NS_DELAY);
    pl_build_attr(b, "stamp", "2026-11-23T00:00:00Z");
    pl_build_up(b);
    pl_stanza_t *copy = pl_build_finish(b);
    pl_stanza_unref(&orig);
    ck_assert_str_eq(bytes_of(copy),
                     "<message xml:lang='fr' to='a@x' type='chat'><body>salut</body>"
                     "<stanza-id xmlns='urn:xmpp:sid:0' by='b@x' id='kept'/>"
                     "<delay xmlns='urn:xmpp:delay' stamp='2026-11-23T00:00:00Z'/></message>");
    pl_stanza_unref(&copy);

    /* No filter: a plain deep copy. */
    pl_stanza_t *p = ut_parse("<presence><show>away</show></presence>");
    pl_stanza_t *same = pl_build_finish(pl_build_from(p, NULL, NULL));
    ck_assert_str_eq(bytes_of(same), bytes_of(p));
    pl_stanza_unref(&p);
    pl_stanza_unref(&same);
}
END_TEST

START_TEST(references_keep_a_stanza_until_the_last_unref)
{
    pl_stanza_t *s = ut_parse("<presence/>");
    pl_stanza_t *r1 = pl_stanza_ref(s), *r2 = pl_stanza_ref(s);
    ck_assert_ptr_eq(r1, s);
    ck_assert_ptr_eq(r2, s);
    pl_stanza_unref(&s);
    ck_assert_ptr_null(s);
    pl_stanza_unref(&r1);
    ck_assert_str_eq(pl_stanza_name(r2), "presence");
    pl_stanza_unref(&r2);
    pl_stanza_unref(&r2); /* already NULL: nothing happens */
    ck_assert_ptr_null(pl_stanza_ref(NULL));
}
END_TEST

START_TEST(bytes_are_cached)
{
    pl_stanza_t *s = ut_parse("<iq type='get' id='c'><ping xmlns='urn:xmpp:ping'/></iq>");
    size_t len1 = 0, len2 = 0;
    const char *b1 = pl_stanza_bytes(s, &len1);
    const char *b2 = pl_stanza_bytes(s, &len2);
    ck_assert_ptr_eq(b1, b2);
    ck_assert_uint_eq(len1, strlen(b1));
    ck_assert_uint_eq(len1, len2);
    pl_stanza_t *r = pl_stanza_ref(s);
    ck_assert_ptr_eq(pl_stanza_bytes(r, NULL), b1);
    pl_stanza_unref(&r);
    pl_stanza_unref(&s);
}
END_TEST

typedef struct race {
    pl_stanza_t *s;
    const char *seen;
} race_t;

static void *race_thread(void *arg)
{
    race_t *r = arg;
    for (int i = 0; i < 1000; i++) {
        pl_stanza_t *mine = pl_stanza_ref(r->s);
        const char *b = pl_stanza_bytes(mine, NULL);
        if (!r->seen)
            r->seen = b;
        else if (r->seen != b)
            r->seen = "MISMATCH";
        pl_stanza_unref(&mine);
    }
    return NULL;
}

/* Several loops fanning out one stanza: every thread gets the same bytes
 * and the references balance. */
START_TEST(threads_share_a_stanza)
{
    for (int round = 0; round < 50; round++) {
        pl_stanza_t *s = ut_parse("<message to='a@b'><body>fan out</body></message>");
        race_t rs[8];
        pthread_t th[8];
        for (int i = 0; i < 8; i++) {
            rs[i] = (race_t){ .s = s, .seen = NULL };
            ck_assert_int_eq(pthread_create(&th[i], NULL, race_thread, &rs[i]), 0);
        }
        for (int i = 0; i < 8; i++)
            pthread_join(th[i], NULL);
        const char *b = pl_stanza_bytes(s, NULL);
        for (int i = 0; i < 8; i++)
            ck_assert_ptr_eq(rs[i].seen, b);
        ck_assert_str_eq(b, "<message to='a@b'><body>fan out</body></message>");
        pl_stanza_unref(&s);
    }
}
END_TEST

Suite *stanza_suite(void)
{
    Suite *s = suite_create("stanza");
    TCase *tc = tcase_create("stanza");
    tcase_add_test(tc, built_stanzas_serialise_with_escaped_values_and_inherited_namespaces);
    tcase_add_test(tc, empty_elements_and_foreign_roots_serialise_with_their_namespaces);
    tcase_add_test(tc, a_copied_element_outlives_its_source);
    tcase_add_test(tc, hand_made_trees_serialise_namespaced_attributes_and_empty_namespaces);
    tcase_add_test(tc, children_and_attributes_are_found_by_name_and_namespace);
    tcase_add_test(tc, a_readdressed_copy_shares_the_children);
    tcase_add_test(tc, compact_copy_is_the_same_stanza);
    tcase_add_test(tc, a_fanout_copy_writes_what_the_tree_serialises_to);
    tcase_add_test(tc, building_from_a_stanza_filters_its_children_and_appends_new_ones);
    tcase_add_test(tc, references_keep_a_stanza_until_the_last_unref);
    tcase_add_test(tc, bytes_are_cached);
    tcase_add_test(tc, threads_share_a_stanza);
    tcase_add_test(tc, serialising_replaces_what_xml_cannot_carry);
    suite_add_tcase(s, tc);
    TCase *misuse = tcase_create("misuse");
    tcase_add_test_raise_signal(misuse, an_attribute_after_a_child_aborts, SIGABRT);
    tcase_add_test_raise_signal(misuse, going_up_past_the_root_aborts, SIGABRT);
    tcase_add_test_raise_signal(misuse, an_element_in_the_xml_namespace_aborts, SIGABRT);
    tcase_add_test_raise_signal(misuse, an_element_in_the_xmlns_namespace_aborts, SIGABRT);
    tcase_add_test_raise_signal(misuse, a_prefixed_name_aborts, SIGABRT);
    tcase_add_test_raise_signal(misuse, a_name_that_is_not_an_xml_name_aborts, SIGABRT);
    tcase_add_test_raise_signal(misuse, an_xmlns_attribute_aborts, SIGABRT);
    tcase_add_test_raise_signal(misuse, an_attribute_name_that_is_not_an_xml_name_aborts, SIGABRT);
    suite_add_tcase(s, misuse);
    return s;
}
