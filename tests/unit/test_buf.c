/* test_buf.c — the growable byte buffer every piece of output is assembled
 * in: appends keep every byte (NULs too), the C-string view, consuming the
 * front, and XML escaping that always gives text a parser accepts. */
#include <check.h>
#include <string.h>

#include "lib/buf.h"
#include "tests/unit/suites.h"

#define FFFD "\xef\xbf\xbd"

/* The escaped form of the first `len` bytes of `s`. */
static char *escaped(pl_buf_t *b, const char *s, size_t len, int attr)
{
    pl_buf_reset(b);
    pl_buf_escape(b, s, len, attr);
    return (char *)pl_buf_cstr(b);
}

START_TEST(appends_keep_every_byte_as_the_buffer_grows)
{
    pl_buf_t b;
    pl_buf_init(&b);
    ck_assert_uint_eq(b.len, 0);
    unsigned char chunk[37];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (unsigned char)(i * 7); /* includes NUL bytes */
    for (int i = 0; i < 300; i++)
        pl_buf_append(&b, chunk, sizeof(chunk));
    ck_assert_uint_eq(b.len, 300 * sizeof(chunk));
    ck_assert_uint_gt(b.cap, b.len); /* room for the NUL of pl_buf_cstr */
    for (int i = 0; i < 300; i++)
        ck_assert_int_eq(memcmp(b.data + i * sizeof(chunk), chunk, sizeof(chunk)), 0);
    pl_buf_append(&b, "ignored", 0);
    ck_assert_uint_eq(b.len, 300 * sizeof(chunk));
    pl_buf_deinit(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(printf_and_puts_append_text)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, "n=");
    pl_buf_printf(&b, "%d %s|", 42, "forty-two");
    pl_buf_printf(&b, "%s", ""); /* nothing to add */
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pl_buf_printf(&b, "%s", big); /* longer than the first allocation */
    ck_assert_uint_eq(b.len, strlen("n=42 forty-two|") + sizeof(big) - 1);
    ck_assert_int_eq(strncmp(pl_buf_cstr(&b), "n=42 forty-two|xxx", 18), 0);
    ck_assert_uint_eq(strlen(pl_buf_cstr(&b)), b.len);
    pl_buf_deinit(&b);
}
END_TEST

START_TEST(cstr_ends_the_text_without_counting_the_nul)
{
    pl_buf_t b;
    pl_buf_init(&b);
    ck_assert_str_eq(pl_buf_cstr(&b), "");
    ck_assert_uint_eq(b.len, 0);
    pl_buf_append(&b, "abc", 3);
    ck_assert_str_eq(pl_buf_cstr(&b), "abc");
    ck_assert_uint_eq(b.len, 3);
    pl_buf_append(&b, "d", 1); /* appending after the view overwrites its NUL */
    ck_assert_str_eq(pl_buf_cstr(&b), "abcd");
    pl_buf_deinit(&b);
}
END_TEST

START_TEST(consume_drops_the_front_and_reset_keeps_the_storage)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, "hello world");
    pl_buf_consume(&b, 6);
    ck_assert_str_eq(pl_buf_cstr(&b), "world");
    pl_buf_consume(&b, 0);
    ck_assert_str_eq(pl_buf_cstr(&b), "world");
    pl_buf_consume(&b, 99);
    ck_assert_uint_eq(b.len, 0);
    pl_buf_puts(&b, "again");
    char *data = b.data;
    size_t cap = b.cap;
    pl_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(b.cap, cap);
    pl_buf_deinit(&b);
}
END_TEST

START_TEST(escape_keeps_quotes_in_text_and_escapes_them_in_attributes)
{
    pl_buf_t b;
    pl_buf_init(&b);
    const char *s = "a&b<c>d'e\"f\tg\nh\ri";
    ck_assert_str_eq(escaped(&b, s, strlen(s), 0), "a&amp;b&lt;c&gt;d'e\"f\tg\nh&#13;i");
    ck_assert_str_eq(escaped(&b, s, strlen(s), 1),
                     "a&amp;b&lt;c&gt;d&apos;e&quot;f&#9;g&#10;h&#13;i");
    ck_assert_str_eq(escaped(&b, "", 0, 1), "");
    /* Only `len` bytes are read. */
    ck_assert_str_eq(escaped(&b, "ab<cd", 2, 0), "ab");
    pl_buf_deinit(&b);
}
END_TEST

START_TEST(escape_replaces_each_byte_xml_cannot_carry)
{
    pl_buf_t b;
    pl_buf_init(&b);
    /* Valid UTF-8 passes untouched: é, €, U+1D11E. */
    const char *ok = "\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e";
    ck_assert_str_eq(escaped(&b, ok, strlen(ok), 0), ok);
    ck_assert_str_eq(escaped(&b, "a\x01z", 3, 0), "a" FFFD "z");
    ck_assert_str_eq(escaped(&b, "a\0z", 3, 1), "a" FFFD "z");
    ck_assert_str_eq(escaped(&b, "\x1f", 1, 0), FFFD);
    /* A broken sequence: each bad byte once, the good byte after it kept. */
    static const char broken[] = {'\xc3', 'a'};
    ck_assert_str_eq(escaped(&b, broken, 2, 0), FFFD "a");
    ck_assert_str_eq(escaped(&b, "\xc0\x80", 2, 0), FFFD FFFD);          /* overlong NUL */
    ck_assert_str_eq(escaped(&b, "\xed\xa0\x80", 3, 0), FFFD FFFD FFFD); /* a surrogate */
    ck_assert_str_eq(escaped(&b, "\xe2\x82", 2, 0), FFFD FFFD);          /* cut short */
    /* Not characters in XML 1.0. */
    ck_assert_str_eq(escaped(&b, "\xef\xbf\xbe", 3, 0), FFFD);
    ck_assert_str_eq(escaped(&b, "\xef\xbf\xbf", 3, 0), FFFD);
    pl_buf_deinit(&b);
}
END_TEST

Suite *buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, appends_keep_every_byte_as_the_buffer_grows);
    tcase_add_test(tc, printf_and_puts_append_text);
    tcase_add_test(tc, cstr_ends_the_text_without_counting_the_nul);
    tcase_add_test(tc, consume_drops_the_front_and_reset_keeps_the_storage);
    tcase_add_test(tc, escape_keeps_quotes_in_text_and_escapes_them_in_attributes);
    tcase_add_test(tc, escape_replaces_each_byte_xml_cannot_carry);
    suite_add_tcase(s, tc);
    return s;
}
