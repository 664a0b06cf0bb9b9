/* test_log.c — the logging layer: values from the network come out quoted
 * and escaped so one event is one line and no value can make up a field,
 * in key=value and in JSON (issue #14, finding 11). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "tests/unit/suites.h"

/* The fields part of one logged line (after "event=NAME "), or the whole
 * JSON line without the timestamp; caller frees. */
static char *logged(int json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *logged(int json, const char *fmt, ...)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    pl_log_t log;
    pl_log_init(&log, PL_LOG_DEBUG, json);
    log.out = f;
    va_list ap;
    va_start(ap, fmt);
    pl_logv(&log, PL_LOG_INFO, "t.ev", fmt, ap);
    va_end(ap);
    fclose(f);
    pl_log_deinit(&log);
    /* Exactly one line. */
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_gt(size, 0);
    ck_assert_int_eq(text[size - 1], '\n');
    ck_assert_ptr_eq(strchr(text, '\n'), text + size - 1);
    text[size - 1] = '\0';
    const char *from = json ? strstr(text, "\"level\"") : strstr(text, "event=t.ev");
    ck_assert_ptr_nonnull(from);
    if (!json)
        from += strlen("event=t.ev") + (from[strlen("event=t.ev")] == ' ');
    char *out = strdup(from);
    free(text);
    return out;
}

#define EXPECT(want, got)                                                                          \
    do {                                                                                           \
        char *g_ = (got);                                                                          \
        ck_assert_str_eq(g_, want);                                                                \
        free(g_);                                                                                  \
    } while (0)

START_TEST(plain_values_stay_bare)
{
    EXPECT("session=12 jid=alice@example.test/home ip=127.0.0.1 n=7 big=18446744073709551615",
           logged(0, "session=%llu jid=%s ip=%s n=%zu big=%llu", 12ULL, "alice@example.test/home",
                  "127.0.0.1", (size_t)7, 18446744073709551615ULL));
    EXPECT("x=-3 h=0a pct=100% c=q u=\xe2\x98\xba",
           logged(0, "x=%d h=%02x pct=100%% c=%c u=%s", -3, 10u, 'q', "\xe2\x98\xba"));
}
END_TEST

START_TEST(forged_fields_are_quoted)
{
    /* A resource with spaces and '=' cannot add ip= or jid= fields. */
    EXPECT("session=1 jid=\"mallory@example.test/x ip=6.6.6.6 jid=admin@x\" ip=127.0.0.1",
           logged(0, "session=%d jid=%s ip=%s", 1, "mallory@example.test/x ip=6.6.6.6 jid=admin@x",
                  "127.0.0.1"));
    EXPECT("a=\"k=v\" b=\"\" c=\"say \\\"hi\\\" \\\\o/\"",
           logged(0, "a=%s b=%s c=%s", "k=v", "", "say \"hi\" \\o/"));
}
END_TEST

/* A network buffer is logged as %.*s and ends where its length says, with
 * no NUL after it: here it ends at a page nobody may read, so reading one
 * byte too far crashes the test whatever the build. */
START_TEST(a_value_with_a_precision_is_never_read_past_its_length)
{
    long page = sysconf(_SC_PAGESIZE);
    char *map =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(map, MAP_FAILED);
    ck_assert_int_eq(mprotect(map + page, (size_t)page, PROT_NONE), 0);
    char *data = map + page - 5;
    memcpy(data, "<a/>x", 5); /* no NUL: the next byte is the guard page */
    EXPECT("data=<a/>x", logged(0, "data=%.*s", 5, data));
    EXPECT("data=<a/>", logged(0, "data=%.*s", 4, data));
    munmap(map, (size_t)page * 2);
}
END_TEST

START_TEST(newlines_never_break_the_line)
{
    EXPECT("data=\"<message>\\n  <body>x</body>\\r\\n</message>\\t\\x01\\x7f\" next=1",
           logged(0, "data=%.*s next=%d", 41, "<message>\n  <body>x</body>\r\n</message>\t\x01\x7f",
                  1));
    /* Precision cuts the value before quoting. */
    EXPECT("data=\"ab c\"", logged(0, "data=%.*s", 4, "ab cdef"));
    EXPECT("data=abc", logged(0, "data=%.3s", "abcdef"));
    /* Broken UTF-8 is shown, not passed on. */
    EXPECT("v=\"a\\xffb\\xc3\"", logged(0, "v=%s",
                                        "a\xff"
                                        "b\xc3"));
    /* A value that is not after key= (the code's own text) is not quoted,
     * but still cannot start a line. */
    EXPECT("mechanism=PLAIN sasl2=1", logged(0, "mechanism=%s%s", "PLAIN", " sasl2=1"));
    EXPECT("x=1 evil\\nts=0", logged(0, "x=1%s", " evil\nts=0"));
}
END_TEST

START_TEST(values_inside_quotes_of_the_format_are_escaped_not_quoted_again)
{
    EXPECT("error=\"cannot create /tmp/a \\\"b\\\": No such file\"",
           logged(0, "error=\"cannot create %s: %s\"", "/tmp/a \"b\"", "No such file"));
    EXPECT("note=\"a b\" x=\"y z\"", logged(0, "note=\"a b\" x=%s", "y z"));
}
END_TEST

START_TEST(json_lines_carry_every_field_as_an_escaped_string)
{
    EXPECT("\"level\":\"info\",\"event\":\"t.ev\",\"jid\":\"m@x/x ip=6.6.6.6 jid=admin@x\","
           "\"n\":\"3\",\"data\":\"<a>\\n\\\"q\\\" \\\\ \\u0001\\ufffd</a>\"}",
           logged(1, "jid=%s n=%d data=%s", "m@x/x ip=6.6.6.6 jid=admin@x", 3,
                  "<a>\n\"q\" \\ \x01\xff</a>"));
    EXPECT("\"level\":\"info\",\"event\":\"t.ev\",\"error\":\"cannot \\\"x\\\"\",\"ok\":\"0\"}",
           logged(1, "error=\"cannot %s\" ok=%d", "\"x\"", 0));
}
END_TEST

START_TEST(the_quote_helper_escapes_and_always_closes_the_quotes)
{
    char buf[64];
    ck_assert_str_eq(pl_log_q(buf, sizeof(buf), "a \"b\"\n"), "\"a \\\"b\\\"\\n\"");
    ck_assert_str_eq(pl_log_q(buf, sizeof(buf), NULL), "\"\"");
    /* Truncated, and still closed: never ends in an escaping backslash. */
    ck_assert_str_eq(pl_log_q(buf, 6, "ab\\cd"), "\"ab\"");
    ck_assert_str_eq(pl_log_q(buf, 7, "abcdef"), "\"abcd\"");
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, plain_values_stay_bare);
    tcase_add_test(tc, forged_fields_are_quoted);
    tcase_add_test(tc, newlines_never_break_the_line);
    tcase_add_test(tc, a_value_with_a_precision_is_never_read_past_its_length);
    tcase_add_test(tc, values_inside_quotes_of_the_format_are_escaped_not_quoted_again);
    tcase_add_test(tc, json_lines_carry_every_field_as_an_escaped_string);
    tcase_add_test(tc, the_quote_helper_escapes_and_always_closes_the_quotes);
    suite_add_tcase(s, tc);
    return s;
}
