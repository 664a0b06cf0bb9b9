/* test_map.c — the string map under hosts, components, the session table,
 * pending IQs and the limits tables: lookups, replacement, deletion, a
 * walk that sees each key once, keys copied in, and a table that stays
 * small however many keys come and go. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "lib/map.h"
#include "tests/unit/suites.h"

START_TEST(puts_gets_deletes_and_walks_a_thousand_keys)
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

START_TEST(an_empty_map_finds_nothing)
{
    pl_map_t m;
    pl_map_init(&m);
    ck_assert_ptr_null(pl_map_get(&m, "a"));
    ck_assert_ptr_null(pl_map_del(&m, "a"));
    size_t pos = 0;
    ck_assert_int_eq(pl_map_iter(&m, &pos, NULL, NULL), 0);
    int v;
    pl_map_put(&m, "a", &v);
    ck_assert_ptr_eq(pl_map_del(&m, "a"), &v);
    ck_assert_ptr_null(pl_map_del(&m, "a")); /* gone once */
    ck_assert_ptr_null(pl_map_get(&m, "a"));
    ck_assert_uint_eq(m.count, 0);
    pl_map_deinit(&m);
    pl_map_deinit(&m); /* a deinit map is an empty map */
}
END_TEST

START_TEST(keys_are_copied_in)
{
    pl_map_t m;
    pl_map_init(&m);
    char key[16] = "alice@x";
    int v;
    pl_map_put(&m, key, &v);
    strcpy(key, "mallory@x");
    ck_assert_ptr_eq(pl_map_get(&m, "alice@x"), &v);
    ck_assert_ptr_null(pl_map_get(&m, "mallory@x"));
    /* Keys differing only in case or length are different keys. */
    ck_assert_ptr_null(pl_map_get(&m, "Alice@x"));
    ck_assert_ptr_null(pl_map_get(&m, "alice@"));
    ck_assert_ptr_null(pl_map_get(&m, ""));
    pl_map_deinit(&m);
}
END_TEST

START_TEST(the_walk_sees_each_live_key_once_with_its_value)
{
    pl_map_t m;
    pl_map_init(&m);
    int values[200], seen[200] = {0};
    char key[16];
    for (int i = 0; i < 200; i++) {
        values[i] = i;
        snprintf(key, sizeof(key), "%d", i);
        pl_map_put(&m, key, &values[i]);
    }
    for (int i = 0; i < 200; i += 3) {
        snprintf(key, sizeof(key), "%d", i);
        pl_map_del(&m, key);
    }
    const char *k;
    void *v;
    for (size_t pos = 0; pl_map_iter(&m, &pos, &k, &v);) {
        int i = *(int *)v;
        snprintf(key, sizeof(key), "%d", i);
        ck_assert_str_eq(k, key);
        seen[i]++;
    }
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(seen[i], i % 3 ? 1 : 0);
    pl_map_deinit(&m);
}
END_TEST

/* Keys that come and go (an address per connection, an id per pending IQ)
 * must not make the table grow: deleted slots are reclaimed. */
START_TEST(keys_that_come_and_go_leave_the_table_small)
{
    pl_map_t m;
    pl_map_init(&m);
    char key[32];
    int v, kept[4];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "kept%d", i);
        pl_map_put(&m, key, &kept[i]);
    }
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
        ck_assert_ptr_null(pl_map_put(&m, key, &v));
        ck_assert_ptr_eq(pl_map_del(&m, key), &v);
    }
    ck_assert_uint_eq(m.count, 4);
    ck_assert_msg(m.cap <= 64, "%zu slots for 4 keys", m.cap);
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "kept%d", i);
        ck_assert_ptr_eq(pl_map_get(&m, key), &kept[i]);
    }
    pl_map_deinit(&m);
}
END_TEST

Suite *map_suite(void)
{
    Suite *s = suite_create("map");
    TCase *tc = tcase_create("map");
    tcase_add_test(tc, puts_gets_deletes_and_walks_a_thousand_keys);
    tcase_add_test(tc, an_empty_map_finds_nothing);
    tcase_add_test(tc, keys_are_copied_in);
    tcase_add_test(tc, the_walk_sees_each_live_key_once_with_its_value);
    tcase_add_test(tc, keys_that_come_and_go_leave_the_table_small);
    suite_add_tcase(s, tc);
    return s;
}
