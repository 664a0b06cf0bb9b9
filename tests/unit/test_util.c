/* test_util.c — the small utilities everything leans on: copies that
 * always end in a NUL, RFC 3339 timestamps, random ids in the URL-safe
 * alphabet, constant-time comparison, clocks, and the abort for broken
 * invariants. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "tests/unit/suites.h"

START_TEST(copies_hold_exactly_what_was_asked_and_a_nul)
{
    char *a = pl_xstrndup("abcdef", 3);
    ck_assert_str_eq(a, "abc");
    free(a);
    a = pl_xstrndup("ab\0cd", 5); /* n bytes, whatever they are */
    ck_assert_int_eq(memcmp(a, "ab\0cd", 6), 0);
    free(a);
    char src[] = "source";
    a = pl_xstrdup(src);
    src[0] = 'S';
    ck_assert_str_eq(a, "source");
    free(a);
    /* Zero-sized requests still give memory that can be freed. */
    void *p = pl_xmalloc(0), *q = pl_xcalloc(0, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(q);
    p = pl_xrealloc(p, 0);
    ck_assert_ptr_nonnull(p);
    free(p);
    free(q);
    unsigned char *z = pl_xcalloc(64, 4);
    for (int i = 0; i < 256; i++)
        ck_assert_uint_eq(z[i], 0);
    free(z);
}
END_TEST

START_TEST(timestamps_are_rfc3339_utc)
{
    char buf[32];
    pl_format_time(0, buf, sizeof(buf), 0);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    pl_format_time(0, buf, sizeof(buf), 1);
    ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
    pl_format_time(1767225600123LL, buf, sizeof(buf), 1);
    ck_assert_str_eq(buf, "2026-01-01T00:00:00.123Z");
    pl_format_time(951825845007LL, buf, sizeof(buf), 1); /* a leap day */
    ck_assert_str_eq(buf, "2000-02-29T12:04:05.007Z");
    pl_format_time(951825845999LL, buf, sizeof(buf), 0); /* seconds are not rounded up */
    ck_assert_str_eq(buf, "2000-02-29T12:04:05Z");
}
END_TEST

START_TEST(random_ids_use_the_url_safe_alphabet_and_differ)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char a[201], b[201];
    pl_random_id(a, 200);
    pl_random_id(b, 200);
    ck_assert_uint_eq(strlen(a), 200);
    ck_assert_uint_eq(strspn(a, alphabet), 200);
    ck_assert_str_ne(a, b);
    /* All 64 characters are used (6 bits of entropy each): in 4000
     * characters one is missing with a probability of about 1e-26. */
    char many[4001];
    pl_random_id(many, 4000);
    for (const char *c = alphabet; *c; c++)
        ck_assert_msg(strchr(many, *c), "'%c' never drawn", *c);
    char none[1] = {'x'};
    pl_random_id(none, 0);
    ck_assert_str_eq(none, "");
    unsigned char r1[32] = {0}, r2[32] = {0};
    pl_random_bytes(r1, sizeof(r1));
    pl_random_bytes(r2, sizeof(r2));
    ck_assert_int_ne(memcmp(r1, r2, sizeof(r1)), 0);
}
END_TEST

START_TEST(constant_time_comparison_tells_equal_from_different)
{
    ck_assert_int_eq(pl_ct_equal("secret", "secret", 6), 1);
    ck_assert_int_eq(pl_ct_equal("secret", "secreT", 6), 0);
    ck_assert_int_eq(pl_ct_equal("Secret", "secret", 6), 0);
    ck_assert_int_eq(pl_ct_equal("abc", "abd", 2), 1); /* only n bytes */
    ck_assert_int_eq(pl_ct_equal("a", "b", 0), 1);
}
END_TEST

START_TEST(clocks_tell_the_time_and_never_go_back)
{
    int64_t now = pl_now_ms();
    int64_t sys = (int64_t)time(NULL) * 1000;
    ck_assert_int_ge(now, sys - 2000);
    ck_assert_int_le(now, sys + 2000);
    uint64_t m = pl_mono_ms();
    for (int i = 0; i < 1000; i++) {
        uint64_t next = pl_mono_ms();
        ck_assert_uint_ge(next, m);
        m = next;
    }
}
END_TEST

START_TEST(a_broken_invariant_aborts)
{
    pl_die("broken invariant %d", 42);
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_add_test(tc, copies_hold_exactly_what_was_asked_and_a_nul);
    tcase_add_test(tc, timestamps_are_rfc3339_utc);
    tcase_add_test(tc, random_ids_use_the_url_safe_alphabet_and_differ);
    tcase_add_test(tc, constant_time_comparison_tells_equal_from_different);
    tcase_add_test(tc, clocks_tell_the_time_and_never_go_back);
    tcase_add_test_raise_signal(tc, a_broken_invariant_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}
