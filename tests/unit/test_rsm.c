/* test_rsm.c — XEP-0059 <set/> parsing edge cases and the answer's shape. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/suites.h"
#include "xep/rsm.h"
#include "xep/stored-xml.h"
#include "xmpp/stanza.h"

#define SET(body) "<set xmlns='http://jabber.org/protocol/rsm'>" body "</set>"

/* Parses `xml` as a <set/> with default 50 and cap 250. */
static int parse(const char *xml, pl_rsm_t *out)
{
    pl_stanza_t *st = pl_stored_xml_decode(xml, strlen(xml));
    ck_assert_ptr_nonnull(st);
    int rc = pl_rsm_parse(pl_stanza_root(st), 50, 250, out);
    pl_stanza_unref(&st);
    return rc;
}

START_TEST(a_missing_or_empty_set_gives_the_default_page_capped)
{
    pl_rsm_t r;
    ck_assert_int_eq(pl_rsm_parse(NULL, 50, 250, &r), 0);
    ck_assert_uint_eq(r.max, 50);
    ck_assert(!r.has_after && !r.has_before && !r.has_index);
    ck_assert_int_eq(parse(SET(""), &r), 0);
    ck_assert_uint_eq(r.max, 50);
    /* A default above the cap is capped too. */
    ck_assert_int_eq(pl_rsm_parse(NULL, 500, 250, &r), 0);
    ck_assert_uint_eq(r.max, 250);
}
END_TEST

START_TEST(an_empty_before_asks_for_the_last_page)
{
    pl_rsm_t r;
    ck_assert_int_eq(parse(SET("<max>10</max><before/>"), &r), 0);
    ck_assert(r.has_before);
    ck_assert_str_eq(r.before, "");
    ck_assert_uint_eq(r.max, 10);
    ck_assert_int_eq(parse(SET("<before>09ABC</before>"), &r), 0);
    ck_assert_str_eq(r.before, "09ABC");
}
END_TEST

START_TEST(after_takes_one_bounded_id_and_excludes_before)
{
    pl_rsm_t r;
    ck_assert_int_eq(parse(SET("<after>0123456789ABC</after>"), &r), 0);
    ck_assert(r.has_after);
    ck_assert_str_eq(r.after, "0123456789ABC");
    ck_assert_int_eq(parse(SET("<after/>"), &r), -EINVAL);
    ck_assert_int_eq(parse(SET("<after>a</after><before>b</before>"), &r), -EINVAL);
    ck_assert_int_eq(parse(SET("<after>a</after><after>b</after>"), &r), -EINVAL);
    char big[PL_RSM_MAX_ID + 200];
    strcpy(big, "<set xmlns='http://jabber.org/protocol/rsm'><after>");
    size_t n = strlen(big);
    memset(big + n, 'x', PL_RSM_MAX_ID + 1);
    strcpy(big + n + PL_RSM_MAX_ID + 1, "</after></set>");
    ck_assert_int_eq(parse(big, &r), -EINVAL);
}
END_TEST

START_TEST(max_zero_asks_for_a_count_and_a_large_max_is_capped)
{
    pl_rsm_t r;
    ck_assert_int_eq(parse(SET("<max>0</max>"), &r), 0);
    ck_assert_uint_eq(r.max, 0);
    ck_assert_int_eq(parse(SET("<max>100000</max>"), &r), 0);
    ck_assert_uint_eq(r.max, 250);
    ck_assert(r.max_capped);
    ck_assert_int_eq(parse(SET("<max> 7 </max>"), &r), 0);
    ck_assert_uint_eq(r.max, 7);
}
END_TEST

START_TEST(malformed_numbers_and_conflicting_cursors_are_refused)
{
    pl_rsm_t r;
    static const char *const bad[] = {
        SET("<max>-1</max>"),
        SET("<max>ten</max>"),
        SET("<max></max>"),
        SET("<max>1e3</max>"),
        SET("<max>12345678901</max>"),
        SET("<max>+5</max>"),
        SET("<max>1</max><max>2</max>"),
        SET("<index>x</index>"),
        SET("<index>1</index><after>a</after>"),
        SET("<index>1</index><before/>"),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(parse(bad[i], &r) == -EINVAL, "accepted %s", bad[i]);
    ck_assert_int_eq(parse(SET("<index>3</index>"), &r), 0);
    ck_assert(r.has_index);
    ck_assert_uint_eq(r.index, 3);
    /* Elements of other namespaces are not ours to judge. */
    ck_assert_int_eq(parse(SET("<max xmlns='other'>x</max>"), &r), 0);
}
END_TEST

START_TEST(the_answer_set_carries_first_last_and_count)
{
    pl_builder_t *b = pl_build_new("fin", "urn:xmpp:mam:2");
    pl_rsm_build(b, "A", 0, "B", 120);
    pl_stanza_t *st = pl_build_finish(b);
    size_t len;
    const char *xml = pl_stanza_bytes(st, &len);
    ck_assert_str_eq(xml, "<fin xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'>"
                          "<first index='0'>A</first><last>B</last><count>120</count></set></fin>");
    pl_stanza_unref(&st);

    b = pl_build_new("fin", "urn:xmpp:mam:2");
    pl_rsm_build(b, NULL, -1, NULL, 0);
    st = pl_build_finish(b);
    xml = pl_stanza_bytes(st, &len);
    ck_assert_str_eq(xml, "<fin xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'>"
                          "<count>0</count></set></fin>");
    pl_stanza_unref(&st);
}
END_TEST

Suite *rsm_suite(void)
{
    Suite *s = suite_create("rsm");
    TCase *tc = tcase_create("rsm");
    tcase_add_test(tc, a_missing_or_empty_set_gives_the_default_page_capped);
    tcase_add_test(tc, an_empty_before_asks_for_the_last_page);
    tcase_add_test(tc, after_takes_one_bounded_id_and_excludes_before);
    tcase_add_test(tc, max_zero_asks_for_a_count_and_a_large_max_is_capped);
    tcase_add_test(tc, malformed_numbers_and_conflicting_cursors_are_refused);
    tcase_add_test(tc, the_answer_set_carries_first_last_and_count);
    suite_add_tcase(s, tc);
    return s;
}
