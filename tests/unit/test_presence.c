/* test_presence.c — the presence module's subscription state tables (RFC
 * 6121 §3 and appendix A), one row at a time: given the item before and the
 * stanza, the item after and what the server does next. */
#include <check.h>
#include <stdlib.h>

#include "modules/presence/presence-private.h"
#include "tests/unit/suites.h"

/* An item in a given state (sub bits, ask, pending_in, approved, in_roster). */
static pl_roster_item_t item(unsigned sub, int ask, int pending, int approved, int in_roster)
{
    pl_roster_item_t it;
    pl_roster_item_init(&it);
    it.sub = sub;
    it.ask = ask;
    it.pending_in = pending;
    it.approved = approved;
    it.in_roster = in_roster;
    return it;
}

START_TEST(outbound_subscribe_sets_ask_and_routes)
{
    pl_roster_item_t it = item(PL_SUB_NONE, 0, 0, 0, 0);
    presence_sub_effect_t e;
    presence_sub_outbound(SUB_SUBSCRIBE, &it, 0, &e);
    ck_assert(it.ask && it.in_roster && e.store && e.route && !e.remove);
    it = item(PL_SUB_TO, 0, 0, 0, 1);
    presence_sub_outbound(SUB_SUBSCRIBE, &it, 1, &e);
    ck_assert(!it.ask && !e.store && e.route); /* already subscribed: routed, unchanged */
}
END_TEST

START_TEST(outbound_subscribed_approves_or_preapproves)
{
    presence_sub_effect_t e;
    pl_roster_item_t it = item(PL_SUB_NONE, 0, 1, 0, 0);
    presence_sub_outbound(SUB_SUBSCRIBED, &it, 1, &e);
    ck_assert(it.sub == PL_SUB_FROM && !it.pending_in && it.in_roster && e.store && e.route);
    it = item(PL_SUB_NONE, 0, 0, 0, 0);
    presence_sub_outbound(SUB_SUBSCRIBED, &it, 0, &e);
    ck_assert(it.approved && it.in_roster && e.store && !e.route); /* pre-approval */
    it = item(PL_SUB_FROM, 0, 0, 0, 1);
    presence_sub_outbound(SUB_SUBSCRIBED, &it, 1, &e);
    ck_assert(!e.store && !e.route);
}
END_TEST

START_TEST(outbound_unsubscribe_and_unsubscribed_cancel_what_exists)
{
    presence_sub_effect_t e;
    pl_roster_item_t it = item(PL_SUB_BOTH, 0, 0, 0, 1);
    presence_sub_outbound(SUB_UNSUBSCRIBE, &it, 1, &e);
    ck_assert(it.sub == PL_SUB_FROM && e.store && e.route && !e.from_removed);
    presence_sub_outbound(SUB_UNSUBSCRIBED, &it, 1, &e);
    ck_assert(it.sub == PL_SUB_NONE && e.store && e.route && e.from_removed && !e.remove);
    /* Refusing a request from someone not in the roster forgets them. */
    it = item(PL_SUB_NONE, 0, 1, 0, 0);
    presence_sub_outbound(SUB_UNSUBSCRIBED, &it, 1, &e);
    ck_assert(e.store && e.route && e.remove && !e.from_removed);
    /* Nothing to cancel: nothing sent. */
    it = item(PL_SUB_NONE, 0, 0, 0, 1);
    presence_sub_outbound(SUB_UNSUBSCRIBED, &it, 1, &e);
    ck_assert(!e.store && !e.route);
}
END_TEST

START_TEST(inbound_subscribe_waits_for_the_user_or_is_answered_at_once)
{
    presence_sub_effect_t e;
    pl_roster_item_t it = item(PL_SUB_NONE, 0, 0, 0, 0);
    presence_sub_inbound(SUB_SUBSCRIBE, &it, 0, "hello", &e);
    ck_assert(it.pending_in && !it.in_roster && e.store && e.deliver && !e.auto_reply);
    ck_assert_str_eq(it.pending_status, "hello");
    pl_roster_item_clear(&it);
    it = item(PL_SUB_NONE, 0, 0, 1, 1);
    presence_sub_inbound(SUB_SUBSCRIBE, &it, 1, NULL, &e);
    ck_assert(it.sub == PL_SUB_FROM && !it.approved && e.store && e.auto_reply && !e.deliver);
    it = item(PL_SUB_FROM, 0, 0, 0, 1);
    presence_sub_inbound(SUB_SUBSCRIBE, &it, 1, NULL, &e);
    ck_assert(!e.store && e.auto_reply && !e.deliver);
}
END_TEST

START_TEST(inbound_subscribed_counts_only_after_asking)
{
    presence_sub_effect_t e;
    pl_roster_item_t it = item(PL_SUB_NONE, 1, 0, 0, 1);
    presence_sub_inbound(SUB_SUBSCRIBED, &it, 1, NULL, &e);
    ck_assert(it.sub == PL_SUB_TO && !it.ask && e.store && e.deliver && e.to_added);
    it = item(PL_SUB_NONE, 0, 0, 0, 1);
    presence_sub_inbound(SUB_SUBSCRIBED, &it, 1, NULL, &e);
    ck_assert(it.sub == PL_SUB_NONE && !e.store && !e.deliver && !e.to_added);
}
END_TEST

START_TEST(inbound_unsubscribe_and_unsubscribed_cancel_what_exists)
{
    presence_sub_effect_t e;
    pl_roster_item_t it = item(PL_SUB_BOTH, 0, 0, 0, 1);
    presence_sub_inbound(SUB_UNSUBSCRIBE, &it, 1, NULL, &e);
    ck_assert(it.sub == PL_SUB_TO && e.store && e.deliver && e.from_removed);
    presence_sub_inbound(SUB_UNSUBSCRIBED, &it, 1, NULL, &e);
    ck_assert(it.sub == PL_SUB_NONE && e.store && e.deliver);
    presence_sub_inbound(SUB_UNSUBSCRIBED, &it, 1, NULL, &e);
    ck_assert(!e.store && !e.deliver);
    /* A request withdrawn before the user answered leaves nothing. */
    it = item(PL_SUB_NONE, 0, 1, 0, 0);
    presence_sub_inbound(SUB_UNSUBSCRIBE, &it, 1, NULL, &e);
    ck_assert(e.store && e.remove && e.deliver && !e.from_removed);
}
END_TEST

START_TEST(only_subscription_types_have_a_subscription_kind)
{
    ck_assert_int_eq(presence_sub_kind("subscribe"), SUB_SUBSCRIBE);
    ck_assert_int_eq(presence_sub_kind("unsubscribed"), SUB_UNSUBSCRIBED);
    ck_assert_int_eq(presence_sub_kind("probe"), 0);
    ck_assert_int_eq(presence_sub_kind(NULL), 0);
}
END_TEST

Suite *presence_suite(void)
{
    Suite *s = suite_create("presence");
    TCase *tc = tcase_create("subscription states");
    tcase_add_test(tc, outbound_subscribe_sets_ask_and_routes);
    tcase_add_test(tc, outbound_subscribed_approves_or_preapproves);
    tcase_add_test(tc, outbound_unsubscribe_and_unsubscribed_cancel_what_exists);
    tcase_add_test(tc, inbound_subscribe_waits_for_the_user_or_is_answered_at_once);
    tcase_add_test(tc, inbound_subscribed_counts_only_after_asking);
    tcase_add_test(tc, inbound_unsubscribe_and_unsubscribed_cancel_what_exists);
    tcase_add_test(tc, only_subscription_types_have_a_subscription_kind);
    suite_add_tcase(s, tc);
    return s;
}
