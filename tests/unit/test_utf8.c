/* test_utf8.c — the strict UTF-8 decoder and encoder under JIDs (PRECIS),
 * SASLprep and XML escaping: each sequence length and its boundaries, and
 * every kind of ill-formed input refused without moving on. */
#include <check.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/utf8.h"
#include "tests/unit/suites.h"

/* Decodes the whole of `s` as one code point: the code point, or -1. */
static long one(const char *s, size_t len)
{
    size_t i = 0;
    uint32_t cp = 0xdeadbeef;
    int rc = pl_utf8_next((const unsigned char *)s, len, &i, &cp);
    if (rc != 0) {
        ck_assert_uint_eq(i, 0); /* a refusal does not advance */
        return -1;
    }
    ck_assert_uint_eq(i, len);
    return (long)cp;
}

static const struct {
    uint32_t cp;
    const char *utf8;
} boundaries[] = {
    {0x00, "\x00"},
    {0x41, "A"},
    {0x7f, "\x7f"},
    {0x80, "\xc2\x80"},
    {0xe9, "\xc3\xa9"},
    {0x7ff, "\xdf\xbf"},
    {0x800, "\xe0\xa0\x80"},
    {0x20ac, "\xe2\x82\xac"},
    {0xd7ff, "\xed\x9f\xbf"},
    {0xe000, "\xee\x80\x80"},
    {0xfffd, "\xef\xbf\xbd"},
    {0xffff, "\xef\xbf\xbf"},
    {0x10000, "\xf0\x90\x80\x80"},
    {0x1d11e, "\xf0\x9d\x84\x9e"},
    {0x10ffff, "\xf4\x8f\xbf\xbf"},
};
#define NBOUNDARIES (sizeof(boundaries) / sizeof(boundaries[0]))

START_TEST(each_length_decodes_up_to_its_boundaries)
{
    for (size_t k = 0; k < NBOUNDARIES; k++) {
        size_t len = boundaries[k].cp ? strlen(boundaries[k].utf8) : 1;
        ck_assert_msg(one(boundaries[k].utf8, len) == (long)boundaries[k].cp, "U+%04X",
                      (unsigned)boundaries[k].cp);
    }
}
END_TEST

START_TEST(put_writes_what_next_reads)
{
    pl_buf_t b;
    pl_buf_init(&b);
    for (size_t k = 0; k < NBOUNDARIES; k++) {
        pl_buf_reset(&b);
        pl_utf8_put(&b, boundaries[k].cp);
        size_t len = boundaries[k].cp ? strlen(boundaries[k].utf8) : 1;
        ck_assert_uint_eq(b.len, len);
        ck_assert_int_eq(memcmp(b.data, boundaries[k].utf8, len), 0);
    }
    pl_buf_deinit(&b);
}
END_TEST

START_TEST(ill_formed_sequences_are_refused)
{
    static const char *const bad[] = {
        "\x80",             /* a continuation byte alone */
        "\xbf",             /* another */
        "\xc0\xaf",         /* overlong '/' */
        "\xc1\xbf",         /* overlong */
        "\xe0\x80\xaf",     /* overlong, three bytes */
        "\xe0\x9f\xbf",     /* overlong U+07FF */
        "\xf0\x8f\xbf\xbf", /* overlong U+FFFF */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xed\xbf\xbf",     /* surrogate U+DFFF */
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80", /* lead byte past U+10FFFF */
        "\xfe",
        "\xff",
        "\xc3\x41", /* the continuation is ASCII */
        "\xe2\x82\x41",
        "\xf0\x9d\x84\xc3", /* the continuation is a lead byte */
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        ck_assert_msg(one(bad[k], strlen(bad[k])) == -1, "accepted bad[%zu]", k);
}
END_TEST

START_TEST(a_sequence_cut_by_the_length_is_refused)
{
    /* The bytes are there, but past `len`: never read. */
    ck_assert_int_eq(one("\xe2\x82\xac", 2), -1);
    ck_assert_int_eq(one("\xf0\x9d\x84\x9e", 3), -1);
    ck_assert_int_eq(one("\xc3\xa9", 1), -1);
    /* Decoding goes on from where the last code point ended. */
    const unsigned char s[] = "a\xc3\xa9\xe2\x82\xac";
    size_t i = 0;
    uint32_t cp;
    ck_assert_int_eq(pl_utf8_next(s, sizeof(s) - 1, &i, &cp), 0);
    ck_assert_uint_eq(cp, 'a');
    ck_assert_int_eq(pl_utf8_next(s, sizeof(s) - 1, &i, &cp), 0);
    ck_assert_uint_eq(cp, 0xe9);
    ck_assert_uint_eq(i, 3);
    ck_assert_int_eq(pl_utf8_next(s, sizeof(s) - 1, &i, &cp), 0);
    ck_assert_uint_eq(cp, 0x20ac);
    ck_assert_uint_eq(i, sizeof(s) - 1);
}
END_TEST

Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, each_length_decodes_up_to_its_boundaries);
    tcase_add_test(tc, put_writes_what_next_reads);
    tcase_add_test(tc, ill_formed_sequences_are_refused);
    tcase_add_test(tc, a_sequence_cut_by_the_length_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
