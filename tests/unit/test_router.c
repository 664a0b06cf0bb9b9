/* test_router.c — RFC 6121 §8.5 delivery rules (xmpp/route-rules.c): who
 * receives a stanza addressed to a local account. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/server.h"
#include "tests/unit/suites.h"
#include "xmpp/route-rules.h"

static const pl_route_candidate_t two[] = {
    {.resource = "desk", .available = 1, .priority = 5},
    {.resource = "phone", .available = 1, .priority = 1},
};

START_TEST(message_to_bare_reaches_all_nonnegative)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", NULL, 1, two, 2, sel),
                     PL_ROUTE_DELIVER);
    ck_assert(sel[0] && sel[1]);
}
END_TEST

START_TEST(negative_priority_skipped_for_bare_but_not_full)
{
    pl_route_candidate_t c[] = {
        {.resource = "a", .available = 1, .priority = -1},
        {.resource = "b", .available = 1, .priority = 0},
    };
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, NULL, NULL, 1, c, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(!sel[0] && sel[1]);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", "a", 1, c, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(sel[0] && !sel[1]);
}
END_TEST

START_TEST(only_negative_or_unavailable_means_undelivered)
{
    pl_route_candidate_t c[] = {
        {.resource = "a", .available = 1, .priority = -5},
        {.resource = "b", .available = 0, .priority = 10},
    };
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", NULL, 1, c, 2, sel),
                     PL_ROUTE_UNDELIVERED);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "normal", NULL, 1, NULL, 0, sel),
                     PL_ROUTE_UNDELIVERED);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "headline", NULL, 1, c, 2, sel),
                     PL_ROUTE_DROP);
}
END_TEST

START_TEST(unknown_full_jid)
{
    unsigned char sel[2];
    /* chat falls back to the account; normal is refused; IQ get/set refused;
     * IQ result dropped; presence dropped. */
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", "gone", 1, two, 2, sel),
                     PL_ROUTE_DELIVER);
    ck_assert(sel[0] && sel[1]);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "normal", "gone", 1, two, 2, sel),
                     PL_ROUTE_BOUNCE);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "error", "gone", 1, two, 2, sel),
                     PL_ROUTE_DROP);
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "get", "gone", 1, two, 2, sel), PL_ROUTE_BOUNCE);
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "result", "gone", 1, two, 2, sel), PL_ROUTE_DROP);
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, NULL, "gone", 1, two, 2, sel), PL_ROUTE_DROP);
}
END_TEST

START_TEST(full_jid_reaches_only_that_resource)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "get", "phone", 1, two, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(!sel[0] && sel[1]);
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, NULL, "desk", 1, two, 2, sel),
                     PL_ROUTE_DELIVER);
    ck_assert(sel[0] && !sel[1]);
}
END_TEST

START_TEST(iq_to_bare_is_for_the_server)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "get", NULL, 1, two, 2, sel), PL_ROUTE_SERVER);
}
END_TEST

START_TEST(nonexistent_account)
{
    unsigned char sel[1];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", NULL, 0, NULL, 0, sel),
                     PL_ROUTE_BOUNCE);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "headline", NULL, 0, NULL, 0, sel),
                     PL_ROUTE_DROP);
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, "subscribe", NULL, 0, NULL, 0, sel),
                     PL_ROUTE_DROP);
}
END_TEST

START_TEST(groupchat_to_account_refused)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "groupchat", NULL, 1, two, 2, sel),
                     PL_ROUTE_BOUNCE);
}
END_TEST

START_TEST(presence_to_bare_reaches_available_whatever_priority)
{
    pl_route_candidate_t c[] = {
        {.resource = "a", .available = 1, .priority = -1},
        {.resource = "b", .available = 0, .priority = 3},
    };
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, NULL, NULL, 1, c, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(sel[0] && !sel[1]);
    c[0].available = 0;
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, "subscribe", NULL, 1, c, 2, sel),
                     PL_ROUTE_UNDELIVERED);
}
END_TEST

/* Server ids: strictly increasing, sorted as strings, and they parse back. */
START_TEST(ids_increase_and_sort_as_strings)
{
    pl_server_t *srv = calloc(1, sizeof(*srv));
    char prev[PL_ID_SIZE] = "", id[PL_ID_SIZE];
    unsigned long long prev_v = 0;
    for (int i = 0; i < 10000; i++) {
        pl_server_new_id(srv, id);
        ck_assert_uint_eq(strlen(id), PL_ID_SIZE - 1);
        unsigned long long v = pl_id_value(id);
        ck_assert(v > prev_v);
        ck_assert_int_gt(strcmp(id, prev), 0);
        prev_v = v;
        memcpy(prev, id, sizeof(id));
    }
    char back[PL_ID_SIZE];
    pl_id_format(prev_v, back);
    ck_assert_str_eq(back, prev);
    pl_id_format(0, back);
    ck_assert_str_eq(back, "0000000000000");
    ck_assert_uint_eq(pl_id_value("0000000000001"), 1);
    ck_assert_uint_eq(pl_id_value("000000000000I"), 0); /* not a digit */
    ck_assert_uint_eq(pl_id_value("000000000001"), 0);  /* too short */
    ck_assert_uint_eq(pl_id_value("00000000000001"), 0); /* too long */
    ck_assert_uint_eq(pl_id_value("G000000000000"), 0); /* more than 64 bits */
    free(srv);
}
END_TEST

Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, message_to_bare_reaches_all_nonnegative);
    tcase_add_test(tc, negative_priority_skipped_for_bare_but_not_full);
    tcase_add_test(tc, only_negative_or_unavailable_means_undelivered);
    tcase_add_test(tc, unknown_full_jid);
    tcase_add_test(tc, full_jid_reaches_only_that_resource);
    tcase_add_test(tc, iq_to_bare_is_for_the_server);
    tcase_add_test(tc, nonexistent_account);
    tcase_add_test(tc, groupchat_to_account_refused);
    tcase_add_test(tc, presence_to_bare_reaches_available_whatever_priority);
    tcase_add_test(tc, ids_increase_and_sort_as_strings);
    suite_add_tcase(s, tc);
    return s;
}
