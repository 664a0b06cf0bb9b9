/* test_limits.c — the failed-login back-off curve and the string map the
 * limits tables (and hosts, components, sessions) are built on. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"
#include "lib/map.h"
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

START_TEST(map_put_get_del_iter)
{
    pl_map_t m;
    pl_map_init(&m);
    char key[32];
    int values[1000];
    for (int i = 0; i < 1000; i++) {
        values[i] = i;
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_ptr_null(pl_map_put(&m, key, &values[i]));
    }
    ck_assert_uint_eq(m.count, 1000);
    for (int i = 0; i < 1000; i += 2) {
        snprintf(key, sizeof(key), "k%d", i);
        ck_assert_ptr_eq(pl_map_del(&m, key), &values[i]);
    }
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        void *v = pl_map_get(&m, key);
        if (i % 2)
            ck_assert_ptr_eq(v, &values[i]);
        else
            ck_assert_ptr_null(v);
    }
    size_t pos = 0, seen = 0;
    while (pl_map_iter(&m, &pos, NULL, NULL))
        seen++;
    ck_assert_uint_eq(seen, 500);
    /* Replacing returns the old value and keeps the count. */
    ck_assert_ptr_eq(pl_map_put(&m, "k1", &values[0]), &values[1]);
    ck_assert_uint_eq(m.count, 500);
    pl_map_deinit(&m);
}
END_TEST

Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, backoff_starts_after_allowed_failures_and_doubles);
    tcase_add_test(tc, map_put_get_del_iter);
    suite_add_tcase(s, tc);
    return s;
}
