/* test_jid.c — JID parsing and normalisation (RFC 7622): case folding, domain
 * forms, forbidden characters, length limits, empty parts, bad UTF-8 and
 * comparison. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/suites.h"
#include "xmpp/jid.h"

/* The normalised full JID, or NULL when parsing fails (in which case the
 * struct must have been left zeroed). */
static char *full_of(const char *in)
{
    pl_jid_t j;
    memset(&j, 0xa5, sizeof(j)); /* parse must not rely on initialisation */
    if (pl_jid_parse(&j, in) != 0) {
        ck_assert_ptr_null(j.local);
        ck_assert_ptr_null(j.domain);
        ck_assert_ptr_null(j.resource);
        ck_assert_ptr_null(j.bare);
        ck_assert_ptr_null(j.full);
        return NULL;
    }
    char *full = strdup(j.full);
    pl_jid_deinit(&j);
    return full;
}

static void expect(const char *in, const char *want)
{
    char *got = full_of(in);
    if (!want) {
        ck_assert_msg(got == NULL, "'%s' should be rejected, got '%s'", in, got);
    } else {
        ck_assert_msg(got != NULL, "'%s' should parse", in);
        ck_assert_str_eq(got, want);
    }
    free(got);
}

/* A string of n copies of c. */
static char *rep(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

START_TEST(a_jid_splits_into_local_domain_resource_bare_and_full)
{
    pl_jid_t j;
    ck_assert_int_eq(pl_jid_parse(&j, "juliet@example.com/balcony"), 0);
    ck_assert_str_eq(j.local, "juliet");
    ck_assert_str_eq(j.domain, "example.com");
    ck_assert_str_eq(j.resource, "balcony");
    ck_assert_str_eq(j.bare, "juliet@example.com");
    ck_assert_str_eq(j.full, "juliet@example.com/balcony");
    pl_jid_deinit(&j);
    pl_jid_deinit(&j); /* deinit leaves a zeroed struct: a second call is harmless */

    ck_assert_int_eq(pl_jid_parse(&j, "example.com"), 0);
    ck_assert_ptr_null(j.local);
    ck_assert_ptr_null(j.resource);
    ck_assert_str_eq(j.bare, "example.com");
    ck_assert_str_eq(j.full, "example.com");
    pl_jid_deinit(&j);

    ck_assert_int_eq(pl_jid_parse(&j, "example.com/x"), 0);
    ck_assert_ptr_null(j.local);
    ck_assert_str_eq(j.bare, "example.com");
    ck_assert_str_eq(j.full, "example.com/x");
    pl_jid_deinit(&j);
}
END_TEST

START_TEST(local_parts_and_domains_fold_case_and_resources_keep_it)
{
    expect("Juliet@Example.COM/Balcony", "juliet@example.com/Balcony");
    expect("ROMEO@MONTAGUE.LIT", "romeo@montague.lit");
    /* Latin-1, Latin Extended-A, Greek, Cyrillic, Armenian, Vietnamese. */
    expect("\xc3\x89LODIE@example.com", "\xc3\xa9lodie@example.com");           /* É */
    expect("\xc5\x81UKASZ@example.com", "\xc5\x82ukasz@example.com");           /* Ł */
    expect("\xc5\xb8@example.com", "\xc3\xbf@example.com");                     /* Ÿ → ÿ */
    expect("\xce\xa3\xce\xa9\xce\x9a@example.com",
           "\xcf\x83\xcf\x89\xce\xba@example.com");                    /* ΣΩΚ */
    expect("\xce\x86@example.com", "\xce\xac@example.com");                     /* Ά */
    expect("\xd0\x9f\xd0\x95\xd0\xa2\xd0\xa0@example.com",
           "\xd0\xbf\xd0\xb5\xd1\x82\xd1\x80@example.com");                    /* ПЕТР */
    expect("\xd0\x81@example.com", "\xd1\x91@example.com");                     /* Ё */
    expect("\xd4\xb1@example.com", "\xd5\xa1@example.com");                     /* Ա */
    expect("\xe1\xba\xae@example.com", "\xe1\xba\xaf@example.com");             /* Ắ */
    expect("\xe1\xba\x9e@example.com", "\xc3\x9f@example.com");                 /* ẞ → ß */
    /* İ lowers to i + combining dot above; ß and already-lower letters stay. */
    expect("\xc4\xb0@example.com", "i\xcc\x87@example.com");
    expect("stra\xc3\x9f" "e@example.com", "stra\xc3\x9f" "e@example.com");
    /* Fullwidth ASCII is width-mapped first. */
    expect("\xef\xbc\xaa\xef\xbd\x95@example.com", "ju@example.com");
    /* The resource keeps its case. */
    expect("a@b/\xc3\x89LODIE", "a@b/\xc3\x89LODIE");
}
END_TEST

START_TEST(domains_are_host_names_or_ip_literals_in_lower_case)
{
    expect("example.com.", "example.com");
    expect("a@Example.COM./r", "a@example.com/r");
    expect("example.com..", NULL);
    expect(".", NULL);
    expect(".example.com", NULL);
    expect("a..b", NULL);
    expect("-a.com", NULL);
    expect("a-.com", NULL);
    expect("a-b.com", "a-b.com");
    expect("xn--mnchen-3ya.de", "xn--mnchen-3ya.de");
    expect("under_score.com", NULL);
    expect("exa mple.com", NULL);
    expect("a@b@c", NULL);
    expect("a@b@c/d", NULL);
    /* IPv4 literals; a numeric top label that is not an address is not a name. */
    expect("192.168.0.1", "192.168.0.1");
    expect("u@10.0.0.1/r", "u@10.0.0.1/r");
    expect("256.1.1.1", NULL);
    expect("1.2.3", NULL);
    expect("01.2.3.4", NULL);
    expect("123", NULL);
    expect("host.123", NULL);
    expect("123.example", "123.example");
    /* IPv6 literals, in canonical form. */
    expect("[::1]", "[::1]");
    expect("u@[0:0::1]/r", "u@[::1]/r");
    expect("[2001:DB8::1]", "[2001:db8::1]");
    expect("[::ffff:192.0.2.1]", "[::ffff:192.0.2.1]");
    expect("[::1", NULL);
    expect("::1", NULL);
    expect("[]", NULL);
    expect("[xyz]", NULL);
    expect("[::1]x", NULL);
    expect("[fe80::1%eth0]", NULL);
    /* Internationalised labels are folded to lower case. */
    expect("M\xc3\x9c" "NCHEN.de", "m\xc3\xbc" "nchen.de");
    expect("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x9c\xd0\x95\xd0\xa0.\xd1\x80\xd1\x84",
           "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84");
    expect("a\xc2\xa0" "b.com", NULL);    /* no-break space */
    expect("a\xe2\x80\xa2" "b.com", NULL); /* bullet: a symbol, not a letter */
    expect("a\xc3\x97" "b.com", NULL);    /* multiplication sign */
    expect("a\xe3\x80\x82" "b", NULL);    /* ideographic full stop */
    /* Label lengths. */
    char *l63 = rep('a', 63), *l64 = rep('a', 64);
    char buf[200];
    snprintf(buf, sizeof(buf), "%s.com", l63);
    expect(buf, buf);
    snprintf(buf, sizeof(buf), "%s.com", l64);
    expect(buf, NULL);
    /* İ lowers to two code points and is counted as such, so that what we
     * produce always parses again. */
    expect("\xc4\xb0.com", "i\xcc\x87.com");
    snprintf(buf, sizeof(buf), "%.62s\xc4\xb0.com", l63);
    expect(buf, NULL);
    free(l63);
    free(l64);
}
END_TEST

START_TEST(characters_precis_forbids_are_refused_in_local_parts)
{
    static const char *const bad[] = {"\"", "&", "'", "/", ":", "<", ">", "@", " ", "\t",
                                      "\n", "\x7f",
                                      "\xc2\x85",     /* NEL, a C1 control */
                                      "\xc2\x9f",     /* C1 */
                                      "\xc2\xa0",     /* no-break space */
                                      "\xe3\x80\x80", /* ideographic space */
                                      "\xe2\x80\x8b", /* zero-width space */
                                      "\xef\xbb\xbf", /* BOM */
                                      "\xef\xbc\xa0"}; /* fullwidth '@' */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char s[32];
        snprintf(s, sizeof(s), "ab%scd", bad[i]);
        char *n = pl_jid_norm_local(s, strlen(s));
        ck_assert_msg(n == NULL, "localpart with forbidden char #%zu accepted", i);
        /* Through the parser, for those that do not split the JID. */
        if (strcmp(bad[i], "/") != 0 && strcmp(bad[i], "@") != 0) {
            snprintf(s, sizeof(s), "ab%scd@example.com", bad[i]);
            expect(s, NULL);
        }
    }
    /* An embedded NUL within the given length is a control character. */
    ck_assert_ptr_null(pl_jid_norm_local("ab\0cd", 5));
    char *ok = pl_jid_norm_local("Ab-c.d_e+f", 10);
    ck_assert_str_eq(ok, "ab-c.d_e+f");
    free(ok);
}
END_TEST

START_TEST(resources_keep_slashes_and_spaces_but_refuse_controls)
{
    expect("a@b/r@x/y", "a@b/r@x/y");
    expect("a@b//", "a@b//");
    expect("b/a@c", "b/a@c");
    expect("a@b/with space", "a@b/with space");
    expect("a@b/x\x01y", NULL);
    expect("a@b/x\x7fy", NULL);
    expect("a@b/x\xc2\x85y", NULL);
    expect("a@b/\xe2\x98\x83", "a@b/\xe2\x98\x83"); /* snowman is fine */
    ck_assert_ptr_null(pl_jid_norm_resource("a\0b", 3));
}
END_TEST

START_TEST(empty_parts_are_refused)
{
    static const char *const bad[] = {"",   "@",          "@example.com", "juliet@",
                                      "/",  "@/",         "example.com/", "juliet@example.com/",
                                      "/r", "juliet@/r",  "@example.com/r"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect(bad[i], NULL);
    pl_jid_t j;
    ck_assert_int_eq(pl_jid_parse(&j, NULL), -1);
    ck_assert_ptr_null(j.full);
}
END_TEST

START_TEST(parts_are_limited_to_1023_bytes)
{
    char *s1023 = rep('a', 1023), *s1024 = rep('a', 1024);
    char *buf = malloc(4000);

    snprintf(buf, 4000, "%s@example.com", s1023);
    expect(buf, buf);
    snprintf(buf, 4000, "%s@example.com", s1024);
    expect(buf, NULL);

    snprintf(buf, 4000, "a@example.com/%s", s1023);
    expect(buf, buf);
    snprintf(buf, 4000, "a@example.com/%s", s1024);
    expect(buf, NULL);

    /* 16 labels of 63 'a' plus dots is 1023 bytes; one more letter is 1024.
     * A trailing dot does not count. */
    char *label = rep('a', 63);
    char domain[1100] = "";
    for (int i = 0; i < 16; i++) {
        if (i)
            strcat(domain, ".");
        strcat(domain, label);
    }
    ck_assert_uint_eq(strlen(domain), 1023);
    expect(domain, domain);
    snprintf(buf, 4000, "%s.", domain);
    expect(buf, domain);
    domain[1023 - 64] = '\0'; /* drop the last label, then add one of 64 chars worth */
    snprintf(buf, 4000, "%s.a%s", domain, label);
    ck_assert_uint_eq(strlen(buf), 1024);
    expect(buf, NULL); /* the 64-char label fails as well as the total */
    snprintf(buf, 4000, "%s.a.%.61s", domain, label);
    ck_assert_uint_eq(strlen(buf), 1023);
    expect(buf, buf);
    snprintf(buf, 4000, "%s.ab.%.61s", domain, label);
    ck_assert_uint_eq(strlen(buf), 1024);
    expect(buf, NULL);

    /* A multi-byte localpart: 511 two-byte letters plus one is 1023 bytes. */
    char *wide = malloc(1100);
    wide[0] = '\0';
    for (int i = 0; i < 511; i++)
        strcat(wide, "\xc3\xa9");
    strcat(wide, "a");
    char *n = pl_jid_norm_local(wide, strlen(wide));
    ck_assert_ptr_nonnull(n);
    free(n);
    strcat(wide, "a");
    ck_assert_ptr_null(pl_jid_norm_local(wide, strlen(wide)));

    free(wide);
    free(label);
    free(buf);
    free(s1023);
    free(s1024);
}
END_TEST

START_TEST(ill_formed_utf8_is_refused_in_every_part)
{
    static const char *const bad[] = {
        "\xc3\x28@example.com",         /* bad continuation */
        "\xc0\xaf@example.com",         /* overlong '/' */
        "\xe0\x80\xaf@example.com",     /* overlong, three bytes */
        "\xed\xa0\x80@example.com",     /* surrogate */
        "\xf4\x90\x80\x80@example.com", /* above U+10FFFF */
        "\xe2\x82@example.com",         /* truncated */
        "\x80@example.com",             /* stray continuation */
        "\xff@example.com",
        "a@exam\xc3ple.com",
        "a@example.com/\xff",
        "a@example.com/\xe2\x82",
        "a@example.com/\xed\xbf\xbf",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect(bad[i], NULL);
}
END_TEST

START_TEST(jids_built_from_parts_or_copied_are_normalised_and_checked)
{
    pl_jid_t j, d;
    ck_assert_int_eq(pl_jid_from_parts(&j, "Juliet", "EXAMPLE.com.", "Balcony"), 0);
    ck_assert_str_eq(j.full, "juliet@example.com/Balcony");
    ck_assert_int_eq(pl_jid_dup(&d, &j), 0);
    ck_assert_str_eq(d.full, j.full);
    ck_assert_str_eq(d.bare, "juliet@example.com");
    ck_assert_ptr_ne(d.full, j.full);
    ck_assert_int_eq(pl_jid_equal(&d, &j), 1);
    pl_jid_deinit(&d);
    pl_jid_deinit(&j);

    ck_assert_int_eq(pl_jid_from_parts(&j, NULL, "example.com", NULL), 0);
    ck_assert_str_eq(j.full, "example.com");
    ck_assert_int_eq(pl_jid_dup(&d, &j), 0);
    ck_assert_ptr_null(d.local);
    ck_assert_ptr_null(d.resource);
    pl_jid_deinit(&d);
    pl_jid_deinit(&j);

    ck_assert_int_eq(pl_jid_from_parts(&j, "", "example.com", NULL), -1);
    ck_assert_ptr_null(j.domain);
    ck_assert_int_eq(pl_jid_from_parts(&j, "a", "example.com", ""), -1);
    ck_assert_int_eq(pl_jid_from_parts(&j, "a", NULL, NULL), -1);
    ck_assert_int_eq(pl_jid_from_parts(&j, "a@b", "example.com", NULL), -1);
    ck_assert_int_eq(pl_jid_from_parts(&j, "a", "example.com", "r/x@y"), 0);
    ck_assert_str_eq(j.full, "a@example.com/r/x@y");
    pl_jid_deinit(&j);

    memset(&j, 0, sizeof(j));
    ck_assert_int_eq(pl_jid_dup(&d, &j), -1);
    ck_assert_ptr_null(d.full);
}
END_TEST

START_TEST(equality_compares_normalised_jids_with_case_sensitive_resources)
{
    pl_jid_t a, b, c, e;
    ck_assert_int_eq(pl_jid_parse(&a, "Juliet@EXAMPLE.com/Home"), 0);
    ck_assert_int_eq(pl_jid_parse(&b, "juliet@example.com./Home"), 0);
    ck_assert_int_eq(pl_jid_parse(&c, "juliet@example.com/home"), 0);
    ck_assert_int_eq(pl_jid_parse(&e, "juliet@example.com"), 0);
    ck_assert_int_eq(pl_jid_equal(&a, &b), 1);
    ck_assert_int_eq(pl_jid_equal(&a, &c), 0); /* resources are case-sensitive */
    ck_assert_int_eq(pl_jid_bare_equal(&a, &c), 1);
    ck_assert_int_eq(pl_jid_equal(&a, &e), 0);
    ck_assert_int_eq(pl_jid_bare_equal(&a, &e), 1);
    pl_jid_t zero;
    memset(&zero, 0, sizeof(zero));
    ck_assert_int_eq(pl_jid_equal(&zero, &zero), 0);
    ck_assert_int_eq(pl_jid_bare_equal(&a, &zero), 0);
    pl_jid_deinit(&a);
    pl_jid_deinit(&b);
    pl_jid_deinit(&c);
    pl_jid_deinit(&e);
}
END_TEST

START_TEST(part_normalisers_read_only_len_bytes_and_refuse_empty_parts)
{
    char *d = pl_jid_norm_domain("Example.COM.", 12);
    ck_assert_str_eq(d, "example.com");
    free(d);
    /* Only len bytes are read. */
    d = pl_jid_norm_domain("example.comXYZ", 11);
    ck_assert_str_eq(d, "example.com");
    free(d);
    ck_assert_ptr_null(pl_jid_norm_domain("", 0));
    ck_assert_ptr_null(pl_jid_norm_local("", 0));
    ck_assert_ptr_null(pl_jid_norm_resource("", 0));
    char *r = pl_jid_norm_resource("Res ource", 9);
    ck_assert_str_eq(r, "Res ource");
    free(r);
}
END_TEST

Suite *jid_suite(void)
{
    Suite *s = suite_create("jid");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, a_jid_splits_into_local_domain_resource_bare_and_full);
    tcase_add_test(tc, local_parts_and_domains_fold_case_and_resources_keep_it);
    tcase_add_test(tc, domains_are_host_names_or_ip_literals_in_lower_case);
    tcase_add_test(tc, characters_precis_forbids_are_refused_in_local_parts);
    tcase_add_test(tc, resources_keep_slashes_and_spaces_but_refuse_controls);
    tcase_add_test(tc, empty_parts_are_refused);
    tcase_add_test(tc, parts_are_limited_to_1023_bytes);
    tcase_add_test(tc, ill_formed_utf8_is_refused_in_every_part);
    tcase_add_test(tc, jids_built_from_parts_or_copied_are_normalised_and_checked);
    tcase_add_test(tc, equality_compares_normalised_jids_with_case_sensitive_resources);
    tcase_add_test(tc, part_normalisers_read_only_len_bytes_and_refuse_empty_parts);
    suite_add_tcase(s, tc);
    return s;
}
