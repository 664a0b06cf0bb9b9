/* test_caps.c — XEP-0115 verification strings and hashes: the two worked
 * examples of the XEP (§5.2 simple, §5.3 with an extended form), the order
 * independence the sorting gives, and answers §5.4 calls ill-formed. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "xep/caps.h"
#include "xmpp/stanza.h"
#include "xmpp/xml.h"

/* The <query/> of an IQ result. */
static const pl_xml_t *query_of(const pl_stanza_t *iq)
{
    return pl_xml_child(pl_stanza_root(iq), "query", "http://jabber.org/protocol/disco#info");
}

#define Q_OPEN "<iq type='result' id='1'><query xmlns='http://jabber.org/protocol/disco#info'>"
#define Q_CLOSE "</query></iq>"

/* XEP-0115 §5.2, features deliberately out of order. */
static const char simple[] =
    Q_OPEN "<identity category='client' name='Exodus 0.9.1' type='pc'/>"
           "<feature var='http://jabber.org/protocol/muc'/>"
           "<feature var='http://jabber.org/protocol/disco#info'/>"
           "<feature var='http://jabber.org/protocol/caps'/>"
           "<feature var='http://jabber.org/protocol/disco#items'/>" Q_CLOSE;

/* XEP-0115 §5.3: two languages, and a software-information form. */
static const char complex_info[] =
    Q_OPEN "<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>"
           "<identity xml:lang='el' category='client' name='\xce\xa8 0.11' type='pc'/>"
           "<feature var='http://jabber.org/protocol/caps'/>"
           "<feature var='http://jabber.org/protocol/disco#info'/>"
           "<feature var='http://jabber.org/protocol/disco#items'/>"
           "<feature var='http://jabber.org/protocol/muc'/>"
           "<x xmlns='jabber:x:data' type='result'>"
           "<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value>"
           "</field>"
           "<field var='ip_version'><value>ipv6</value><value>ipv4</value></field>"
           "<field var='os'><value>Mac</value></field>"
           "<field var='os_version'><value>10.5.1</value></field>"
           "<field var='software'><value>Psi</value></field>"
           "<field var='software_version'><value>0.11</value></field>"
           "</x>" Q_CLOSE;

START_TEST(the_simple_example_gives_the_xeps_string_and_hash)
{
    pl_stanza_t *iq = ut_parse(simple);
    pl_buf_t s;
    pl_buf_init(&s);
    ck_assert_int_eq(pl_caps_ver_string(query_of(iq), &s), 0);
    ck_assert_str_eq(pl_buf_cstr(&s), "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<"
                                      "http://jabber.org/protocol/disco#info<"
                                      "http://jabber.org/protocol/disco#items<"
                                      "http://jabber.org/protocol/muc<");
    char h[PL_CAPS_MAX_HASH_B64];
    ck_assert_int_gt(pl_caps_hash("sha-1", s.data, s.len, h, sizeof(h)), 0);
    ck_assert_str_eq(h, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    ck_assert_int_eq(pl_caps_verify(query_of(iq), "sha-1", "QgayPKawpkPSDYmwT/WM94uAlu0="), 1);
    ck_assert_int_eq(pl_caps_verify(query_of(iq), "sha-1", "q07IKJEyjvHSyhy//CH0CxmKi8w="), 0);
    pl_buf_deinit(&s);
    pl_stanza_unref(&iq);
}
END_TEST

START_TEST(the_complex_example_with_a_form_verifies)
{
    pl_stanza_t *iq = ut_parse(complex_info);
    pl_buf_t s;
    pl_buf_init(&s);
    ck_assert_int_eq(pl_caps_ver_string(query_of(iq), &s), 0);
    ck_assert_str_eq(pl_buf_cstr(&s),
                     "client/pc/el/\xce\xa8 0.11<client/pc/en/Psi 0.11<"
                     "http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<"
                     "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"
                     "urn:xmpp:dataforms:softwareinfo<ip_version<ipv4<ipv6<os<Mac<"
                     "os_version<10.5.1<software<Psi<software_version<0.11<");
    ck_assert_int_eq(pl_caps_verify(query_of(iq), "sha-1", "q07IKJEyjvHSyhy//CH0CxmKi8w="), 1);
    pl_buf_deinit(&s);
    pl_stanza_unref(&iq);
}
END_TEST

START_TEST(other_hashes_work_and_unknown_ones_are_refused)
{
    char h[PL_CAPS_MAX_HASH_B64];
    /* SHA-256 of the empty string, base64. */
    ck_assert_int_eq(pl_caps_hash("sha-256", "", 0, h, sizeof(h)), 44);
    ck_assert_str_eq(h, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    ck_assert_int_gt(pl_caps_hash("sha-512", "x", 1, h, sizeof(h)), 0);
    ck_assert_int_eq(pl_caps_hash("md5", "x", 1, h, sizeof(h)), -1);
    ck_assert_int_eq(pl_caps_hash("sha-1", "x", 1, h, 10), -1); /* buffer too small */
    pl_stanza_t *iq = ut_parse(simple);
    ck_assert_int_eq(pl_caps_verify(query_of(iq), "whirlpool", "x"), -1);
    pl_stanza_unref(&iq);
}
END_TEST

/* Each of these is ill-formed by §5.4 (or ambiguous) and must not verify. */
static const char *const malformed[] = {
    /* duplicate identity */
    Q_OPEN "<identity category='client' type='pc'/><identity category='client' type='pc'/>" Q_CLOSE,
    /* duplicate feature */
    Q_OPEN "<feature var='a'/><feature var='a'/>" Q_CLOSE,
    /* feature without var */
    Q_OPEN "<feature/>" Q_CLOSE,
    /* FORM_TYPE not hidden */
    Q_OPEN "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>u</value>"
           "</field></x>" Q_CLOSE,
    /* FORM_TYPE with two values */
    Q_OPEN "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
           "<value>u</value><value>v</value></field></x>" Q_CLOSE,
    /* two forms with one FORM_TYPE */
    Q_OPEN "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
           "<value>u</value></field></x><x xmlns='jabber:x:data' type='result'>"
           "<field var='FORM_TYPE' type='hidden'><value>u</value></field></x>" Q_CLOSE,
    /* a separator inside a name (the identity/feature merge attack) */
    Q_OPEN "<identity category='client' type='pc' name='a&lt;http://x'/>" Q_CLOSE,
    /* a field without var */
    Q_OPEN "<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'>"
           "<value>u</value></field><field><value>1</value></field></x>" Q_CLOSE,
};

START_TEST(malformed_answers_do_not_verify)
{
    pl_stanza_t *iq = ut_parse(malformed[_i]);
    pl_buf_t s;
    pl_buf_init(&s);
    ck_assert_int_eq(pl_caps_ver_string(query_of(iq), &s), -1);
    ck_assert_int_eq(pl_caps_verify(query_of(iq), "sha-1", "QgayPKawpkPSDYmwT/WM94uAlu0="), -1);
    pl_buf_deinit(&s);
    pl_stanza_unref(&iq);
}
END_TEST

START_TEST(form_without_form_type_is_ignored)
{
    pl_stanza_t *a = ut_parse(Q_OPEN "<feature var='a'/>" Q_CLOSE);
    pl_stanza_t *b = ut_parse(Q_OPEN "<feature var='a'/><x xmlns='jabber:x:data' type='result'>"
                                     "<field var='x'><value>1</value></field></x>" Q_CLOSE);
    pl_buf_t s1, s2;
    pl_buf_init(&s1);
    pl_buf_init(&s2);
    ck_assert_int_eq(pl_caps_ver_string(query_of(a), &s1), 0);
    ck_assert_int_eq(pl_caps_ver_string(query_of(b), &s2), 0);
    ck_assert_str_eq(pl_buf_cstr(&s1), pl_buf_cstr(&s2));
    ck_assert_int_eq(pl_caps_ver_string(NULL, &s1), -1);
    pl_buf_deinit(&s1);
    pl_buf_deinit(&s2);
    pl_stanza_unref(&a);
    pl_stanza_unref(&b);
}
END_TEST

START_TEST(too_many_identities_are_refused)
{
    pl_buf_t xml;
    pl_buf_init(&xml);
    pl_buf_puts(&xml, Q_OPEN);
    for (int i = 0; i <= PL_CAPS_MAX_IDENTITIES; i++)
        pl_buf_printf(&xml, "<identity category='c%d' type='t'/>", i);
    pl_buf_puts(&xml, Q_CLOSE);
    pl_stanza_t *iq = ut_parse(pl_buf_cstr(&xml));
    pl_buf_t s;
    pl_buf_init(&s);
    ck_assert_int_eq(pl_caps_ver_string(query_of(iq), &s), -1);
    pl_buf_deinit(&s);
    pl_buf_deinit(&xml);
    pl_stanza_unref(&iq);
}
END_TEST

START_TEST(a_presences_caps_element_is_read_only_when_complete)
{
    pl_stanza_t *p = ut_parse("<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
                              "node='http://x.example/c' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"
                              "</presence>");
    pl_caps_ref_t c;
    ck_assert_int_eq(pl_caps_from_presence(pl_stanza_root(p), &c), 1);
    ck_assert_str_eq(c.hash, "sha-1");
    ck_assert_str_eq(c.node, "http://x.example/c");
    ck_assert_str_eq(c.ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
    pl_stanza_unref(&p);
    p = ut_parse("<presence><c xmlns='http://jabber.org/protocol/caps' node='n'/></presence>");
    ck_assert_int_eq(pl_caps_from_presence(pl_stanza_root(p), &c), 0);
    pl_stanza_unref(&p);
    p = ut_parse("<presence/>");
    ck_assert_int_eq(pl_caps_from_presence(pl_stanza_root(p), &c), 0);
    pl_stanza_unref(&p);
}
END_TEST

Suite *caps_suite(void)
{
    Suite *s = suite_create("caps");
    TCase *tc = tcase_create("xep0115");
    tcase_add_test(tc, the_simple_example_gives_the_xeps_string_and_hash);
    tcase_add_test(tc, the_complex_example_with_a_form_verifies);
    tcase_add_test(tc, other_hashes_work_and_unknown_ones_are_refused);
    tcase_add_loop_test(tc, malformed_answers_do_not_verify, 0,
                        (int)(sizeof(malformed) / sizeof(malformed[0])));
    tcase_add_test(tc, form_without_form_type_is_ignored);
    tcase_add_test(tc, too_many_identities_are_refused);
    tcase_add_test(tc, a_presences_caps_element_is_read_only_when_complete);
    suite_add_tcase(s, tc);
    return s;
}
