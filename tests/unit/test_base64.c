/* test_base64.c — RFC 4648 base64 as SASL, FAST tokens and sealed records
 * take it from peers: the RFC's vectors, every byte value both ways, and
 * decoding that refuses anything but whole, padded quanta of the alphabet. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "tests/unit/suites.h"

START_TEST(rfc4648_vectors_round_trip_and_bad_input_is_refused)
{
    /* RFC 4648 §10. */
    static const char *const plain_text[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = pl_base64_encode((const uint8_t *)plain_text[i], strlen(plain_text[i]));
        ck_assert_str_eq(e, enc[i]);
        free(e);
        size_t n = 99;
        uint8_t *d = pl_base64_decode(enc[i], strlen(enc[i]), &n);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(n, strlen(plain_text[i]));
        ck_assert_int_eq(memcmp(d, plain_text[i], n), 0);
        free(d);
    }
    uint8_t bin[3] = {0xfb, 0xff, 0x00};
    char *e = pl_base64_encode(bin, 3);
    ck_assert_str_eq(e, "+/8A");
    free(e);

    static const char *const bad[] = {"Zg=",  "Zg",       "Z===", "====",  "=Zg=",
                                      "Zg=a", "Zm9v====", "Zm!v", " Zg==", "Zg==\n",
                                      "Zm 9", "Zm9v\r\n", "Zm9-", "Zm9_"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = 99;
        uint8_t *d = pl_base64_decode(bad[i], strlen(bad[i]), &n);
        ck_assert_msg(d == NULL, "accepted '%s'", bad[i]);
        ck_assert_uint_eq(n, 0);
    }
    /* Only len bytes are read. */
    size_t n;
    uint8_t *d = pl_base64_decode("Zm9v!!!", 4, &n);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(n, 3);
    free(d);
}
END_TEST

START_TEST(every_byte_value_round_trips_at_every_length)
{
    uint8_t data[256];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)(255 - i);
    for (size_t len = 0; len <= sizeof(data); len++) {
        char *e = pl_base64_encode(data, len);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(strlen(e), (len + 2) / 3 * 4);
        size_t n = 0;
        uint8_t *d = pl_base64_decode(e, strlen(e), &n);
        ck_assert_msg(d != NULL, "length %zu: %s refused", len, e);
        ck_assert_uint_eq(n, len);
        ck_assert_int_eq(memcmp(d, data, len), 0);
        free(d);
        free(e);
    }
}
END_TEST

START_TEST(decoded_data_ends_with_a_nul_it_does_not_count)
{
    size_t n = 99;
    uint8_t *d = pl_base64_decode("", 0, &n);
    ck_assert_ptr_nonnull(d); /* empty, not a failure */
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(d[0], 0);
    free(d);
    d = pl_base64_decode("YWJj", 4, &n); /* "abc" */
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq((char *)d, "abc");
    free(d);
    /* A NUL inside the data is data. */
    d = pl_base64_decode("YQBi", 4, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(memcmp(d, "a\0b", 4), 0);
    free(d);
    ck_assert_ptr_null(pl_base64_decode(NULL, 0, &n));
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(base64url_uses_the_url_alphabet_without_padding)
{
    /* RFC 4648 §5: '-' and '_' where base64 has '+' and '/'; no '='. */
    uint8_t bin[4] = {0xfb, 0xff, 0xbf, 0x01};
    char *e = pl_base64url_encode(bin, 3);
    ck_assert_str_eq(e, "-_-_");
    free(e);
    e = pl_base64url_encode(bin, 4);
    ck_assert_str_eq(e, "-_-_AQ");
    free(e);
    e = pl_base64url_encode((const uint8_t *)"f", 1);
    ck_assert_str_eq(e, "Zg");
    free(e);
    e = pl_base64url_encode((const uint8_t *)"", 0);
    ck_assert_str_eq(e, "");
    free(e);
}
END_TEST

Suite *base64_suite(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("base64");
    tcase_add_test(tc, rfc4648_vectors_round_trip_and_bad_input_is_refused);
    tcase_add_test(tc, every_byte_value_round_trips_at_every_length);
    tcase_add_test(tc, decoded_data_ends_with_a_nul_it_does_not_count);
    tcase_add_test(tc, base64url_uses_the_url_alphabet_without_padding);
    suite_add_tcase(s, tc);
    return s;
}
