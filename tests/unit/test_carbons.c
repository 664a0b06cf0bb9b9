/* test_carbons.c — the carbons module's rules (XEP-0280 §6): which
 * messages are copied in which direction, and the shape of a copy. */
#include <check.h>
#include <string.h>

#include "modules/carbons/carbons-private.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "xmpp/xml.h"

/* carbons_eligible of `xml` in both directions, as sent*2 + received. */
static int eligible(const char *xml)
{
    pl_stanza_t *s = ut_parse(xml);
    int r = carbons_eligible(s, CARBONS_SENT) * 2 + carbons_eligible(s, CARBONS_RECEIVED);
    pl_stanza_unref(&s);
    return r;
}

START_TEST(chat_and_normal_with_body_are_copied)
{
    ck_assert_int_eq(eligible("<message type='chat'><body>x</body></message>"), 3);
    ck_assert_int_eq(eligible("<message type='chat'/>"), 3);
    ck_assert_int_eq(eligible("<message><body>x</body></message>"), 3);
    ck_assert_int_eq(eligible("<message type='normal'><body>x</body></message>"), 3);
    ck_assert_int_eq(eligible("<message type='normal'><subject>x</subject></message>"), 0);
    ck_assert_int_eq(eligible("<message/>"), 0);
}
END_TEST

START_TEST(im_payloads_without_body_are_copied)
{
    ck_assert_int_eq(eligible("<message><request xmlns='urn:xmpp:receipts'/></message>"), 3);
    ck_assert_int_eq(eligible("<message><received xmlns='urn:xmpp:receipts' id='a'/></message>"),
                     3);
    ck_assert_int_eq(
        eligible("<message><active xmlns='http://jabber.org/protocol/chatstates'/></message>"), 3);
    ck_assert_int_eq(
        eligible("<message><displayed xmlns='urn:xmpp:chat-markers:0' id='a'/></message>"), 3);
    ck_assert_int_eq(eligible("<message><x xmlns='jabber:x:conference' jid='r@muc'/></message>"),
                     3);
}
END_TEST

START_TEST(other_types_are_not_copied)
{
    ck_assert_int_eq(eligible("<message type='headline'><body>x</body></message>"), 0);
    ck_assert_int_eq(eligible("<message type='groupchat'><body>x</body></message>"), 0);
    ck_assert_int_eq(eligible("<message type='error'><body>x</body></message>"), 0);
    ck_assert_int_eq(eligible("<message type='bogus'><body>x</body></message>"), 0);
}
END_TEST

START_TEST(private_and_no_copy_stop_copies)
{
    ck_assert_int_eq(eligible("<message type='chat'><body>x</body>"
                              "<private xmlns='urn:xmpp:carbons:2'/></message>"),
                     0);
    ck_assert_int_eq(eligible("<message type='chat'><body>x</body>"
                              "<no-copy xmlns='urn:xmpp:hints'/></message>"),
                     0);
    /* Other hints do not. */
    ck_assert_int_eq(eligible("<message type='chat'><body>x</body>"
                              "<no-store xmlns='urn:xmpp:hints'/></message>"),
                     3);
}
END_TEST

START_TEST(muc_private_messages_are_copied_when_sent_only)
{
    ck_assert_int_eq(eligible("<message type='chat'><body>x</body>"
                              "<x xmlns='http://jabber.org/protocol/muc#user'/></message>"),
                     2);
    /* A room's invitation is for the user, on every client. */
    ck_assert_int_eq(eligible("<message><x xmlns='http://jabber.org/protocol/muc#user'>"
                              "<invite from='a@b'/></x></message>"),
                     3);
}
END_TEST

START_TEST(carbons_are_never_copied_again)
{
    const char *xml = "<message type='chat'><received xmlns='urn:xmpp:carbons:2'>"
                      "<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
                      "type='chat'><body>x</body></message></forwarded></received></message>";
    ck_assert_int_eq(eligible(xml), 0);
    pl_stanza_t *s = ut_parse(xml);
    ck_assert(carbons_is_wrapped(s));
    pl_stanza_unref(&s);
    s = ut_parse("<message type='chat'><body>x</body><private xmlns='urn:xmpp:carbons:2'/>"
                 "</message>");
    ck_assert(!carbons_is_wrapped(s));
    pl_stanza_unref(&s);
}
END_TEST

START_TEST(a_copy_wraps_the_original)
{
    pl_stanza_t *orig = ut_parse("<message type='chat' from='a@h/1' to='b@h' id='m1'>"
                                 "<body>hi &amp; bye</body></message>");
    pl_stanza_t *c = carbons_wrap(orig, CARBONS_SENT, "a@h", "a@h/2");
    ck_assert_str_eq(pl_stanza_bytes(c, NULL),
                     "<message from='a@h' to='a@h/2' type='chat'>"
                     "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>"
                     "<message xmlns='jabber:client' type='chat' from='a@h/1' to='b@h' id='m1'>"
                     "<body>hi &amp; bye</body></message></forwarded></sent></message>");
    pl_stanza_unref(&c);
    pl_stanza_t *n = ut_parse("<message to='a@h'><body>x</body></message>");
    c = carbons_wrap(n, CARBONS_RECEIVED, "a@h", "a@h/2");
    ck_assert_ptr_null(pl_stanza_attr(c, "type"));
    ck_assert_ptr_nonnull(pl_xml_child(pl_stanza_root(c), "received", PL_NS_CARBONS));
    pl_stanza_unref(&c);
    pl_stanza_unref(&n);
    pl_stanza_unref(&orig);
}
END_TEST

Suite *carbons_suite(void)
{
    Suite *s = suite_create("carbons");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, chat_and_normal_with_body_are_copied);
    tcase_add_test(tc, im_payloads_without_body_are_copied);
    tcase_add_test(tc, other_types_are_not_copied);
    tcase_add_test(tc, private_and_no_copy_stop_copies);
    tcase_add_test(tc, muc_private_messages_are_copied_when_sent_only);
    tcase_add_test(tc, carbons_are_never_copied_again);
    tcase_add_test(tc, a_copy_wraps_the_original);
    suite_add_tcase(s, tc);
    return s;
}
