/* test_mam_query.c — the XEP-0313 request reading and date-times that the
 * account archive and the room archive share (xep/mam-query.c). */
#include <check.h>
#include <string.h>

#include "core/server.h"
#include "tests/unit/suites.h"
#include "xep/mam-query.h"
#include "xep/stored-xml.h"
#include "xmpp/stanza.h"

#define FORM(fields)                                                                               \
    "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value>"  \
    "</field>" fields "</x>"
#define FIELD(var, val) "<field var='" var "'><value>" val "</value></field>"

/* Reads <query xmlns='urn:xmpp:mam:2'>inner</query> (default page 10, cap
 * 20); 0 or -1 with *cond. */
static int read_query(const char *inner, pl_mam_req_t *r, pl_stanza_err_t *cond)
{
    char xml[2048];
    snprintf(xml, sizeof(xml), "<query xmlns='urn:xmpp:mam:2'>%s</query>", inner);
    pl_stanza_t *st = pl_stored_xml_decode(xml, strlen(xml));
    ck_assert_ptr_nonnull(st);
    memset(r, 0, sizeof(*r));
    const char *text = NULL;
    *cond = PL_ERR_NONE;
    int rc = pl_mam_req_read(r, pl_stanza_root(st), 10, 20, cond, &text);
    pl_stanza_unref(&st);
    return rc;
}

START_TEST(date_times_read_offsets_and_fractions_and_refuse_impossible_dates)
{
    int64_t us;
    ck_assert_int_eq(pl_mam_time_parse("1970-01-01T00:00:01Z", &us), 0);
    ck_assert_int_eq(us, 1000000);
    ck_assert_int_eq(pl_mam_time_parse("1970-01-01T01:00:01.5+01:00", &us), 0);
    ck_assert_int_eq(us, 1500000);
    ck_assert_int_eq(pl_mam_time_parse("2026-02-31T00:00:00Z", &us), -1);
    ck_assert_int_eq(pl_mam_time_parse("2026-02-01T00:00:00", &us), -1);
    ck_assert_int_eq(pl_mam_time_parse(NULL, &us), -1);
    char buf[40];
    pl_mam_time_format(1500000, buf, sizeof(buf));
    ck_assert_str_eq(buf, "1970-01-01T00:00:01.500000Z");
}
END_TEST

START_TEST(a_query_fills_filters_and_the_page)
{
    pl_mam_req_t r;
    pl_stanza_err_t cond;
    char id[PL_ID_SIZE], inner[1024];
    pl_id_format(123456789, id);
    snprintf(inner, sizeof(inner),
             FORM(FIELD("with", "room@groups.x/Al") FIELD(
                 "start", "1970-01-01T00:00:02Z")) "<set "
                                                   "xmlns='http://jabber.org/protocol/"
                                                   "rsm'><max>50</max><before>%s</before></set>"
                                                   "<flip-page/>",
             id);
    ck_assert_int_eq(read_query(inner, &r, &cond), 0);
    ck_assert_str_eq(r.q.with, "room@groups.x");
    ck_assert_str_eq(r.q.with_resource, "Al");
    ck_assert_int_eq(r.q.start, 2000000);
    ck_assert_int_eq(r.q.end, 0);
    ck_assert_uint_eq(r.q.max, 20); /* capped */
    ck_assert_int_eq(r.q.page_before, 123456789);
    ck_assert(r.flip);
    pl_mam_req_deinit(&r);
    /* Nothing at all: the default page, no filter. */
    ck_assert_int_eq(read_query("", &r, &cond), 0);
    ck_assert_uint_eq(r.q.max, 10);
    ck_assert_ptr_null(r.q.with);
    pl_mam_req_deinit(&r);
}
END_TEST

START_TEST(bad_queries_get_the_xep_0313_conditions)
{
    pl_mam_req_t r;
    pl_stanza_err_t cond;
    ck_assert_int_eq(read_query("<x xmlns='jabber:x:data' type='submit'>" FIELD(
                                    "FORM_TYPE", "urn:xmpp:other") "</x>",
                                &r, &cond),
                     -1);
    ck_assert_int_eq(cond, PL_ERR_BAD_REQUEST);
    pl_mam_req_deinit(&r);
    ck_assert_int_eq(read_query(FORM(FIELD("color", "red")), &r, &cond), -1);
    ck_assert_int_eq(cond, PL_ERR_FEATURE_NOT_IMPLEMENTED);
    pl_mam_req_deinit(&r);
    ck_assert_int_eq(read_query(FORM(FIELD("start", "yesterday")), &r, &cond), -1);
    ck_assert_int_eq(cond, PL_ERR_BAD_REQUEST);
    pl_mam_req_deinit(&r);
    ck_assert_int_eq(read_query(FORM(FIELD("after-id", "not-ours")), &r, &cond), -1);
    ck_assert_int_eq(cond, PL_ERR_ITEM_NOT_FOUND);
    pl_mam_req_deinit(&r);
}
END_TEST

Suite *mam_query_suite(void)
{
    Suite *s = suite_create("mam_query");
    TCase *tc = tcase_create("mam_query");
    tcase_add_test(tc, date_times_read_offsets_and_fractions_and_refuse_impossible_dates);
    tcase_add_test(tc, a_query_fills_filters_and_the_page);
    tcase_add_test(tc, bad_queries_get_the_xep_0313_conditions);
    suite_add_tcase(s, tc);
    return s;
}
