/* test_limits.c — the failed-login back-off curve (the string map the
 * limits tables are built on has its own tests in test_map.c). */
#include <check.h>
#include <stdint.h>

#include "core/core.h"
#include "tests/unit/suites.h"

START_TEST(backoff_starts_after_allowed_failures_and_doubles)
{
    ck_assert_uint_eq(pl_limits_backoff_ms(0, 5, 60000), 0);
    ck_assert_uint_eq(pl_limits_backoff_ms(4, 5, 60000), 0);
    ck_assert_uint_eq(pl_limits_backoff_ms(5, 5, 60000), 1000);
    ck_assert_uint_eq(pl_limits_backoff_ms(6, 5, 60000), 2000);
    ck_assert_uint_eq(pl_limits_backoff_ms(8, 5, 60000), 8000);
    ck_assert_uint_eq(pl_limits_backoff_ms(20, 5, 60000), 60000);
    ck_assert_uint_eq(pl_limits_backoff_ms(4000000000u, 5, 60000), 60000);
    /* 0 allowed failures disables the back-off. */
    ck_assert_uint_eq(pl_limits_backoff_ms(100, 0, 60000), 0);
}
END_TEST

Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, backoff_starts_after_allowed_failures_and_doubles);
    suite_add_tcase(s, tc);
    return s;
}
