/* test_muc_mention.c — the mention parser of the group service
 * (modules/muc/mention.c, GRP-7): XEP-0372 references to a member's bare
 * JID or to an occupant's room/nick, the plain "@name" form with its word
 * boundaries (addresses are not mentions, nicks with spaces, CJK names
 * without a space after them), and the cap on mentions per message. */
#include <check.h>
#include <string.h>

#include "modules/muc/muc-private.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

#define ROOM "tea@groups.example.test"

/* Candidates: occupants with nicks, and members who are not joined. */
static const muc_mention_who_t who[] = {
    {.bare = "alice@example.test", .nick = "Alice"},
    {.bare = "ann@example.test", .nick = "Ann"},
    {.bare = "annlee@example.test", .nick = "Ann Lee"},
    {.bare = "bob@example.test"},
    {.bare = "zhang@example.test", .nick = "张三"},
    {.bare = "li@example.test", .nick = "李"},
    {.bare = "carol.smith@example.test"},
};
#define NWHO (sizeof(who) / sizeof(who[0]))

/* Who the message mentions, as "i,j,..." of the candidates' indices. */
static const char *mentions(const char *xml, size_t max)
{
    static char out[128];
    unsigned char hit[NWHO];
    pl_stanza_t *st = ut_parse(xml);
    size_t n = muc_mentions_find(pl_stanza_root(st), ROOM, who, NWHO, max, hit);
    pl_stanza_unref(&st);
    out[0] = '\0';
    size_t seen = 0;
    for (size_t i = 0; i < NWHO; i++)
        if (hit[i]) {
            snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%zu", seen ? "," : "", i);
            seen++;
        }
    ck_assert_uint_eq(seen, n);
    return out;
}

static const char *body(const char *text)
{
    static char xml[512];
    snprintf(xml, sizeof(xml), "<message type='groupchat'><body>%s</body></message>", text);
    return mentions(xml, 20);
}

START_TEST(plain_at_names_an_occupants_nick_or_a_members_localpart)
{
    ck_assert_str_eq(body("@Alice look"), "0");
    ck_assert_str_eq(body("hi @bob!"), "3");  /* a member who is not joined: its localpart */
    ck_assert_str_eq(body("hi @alice"), "0"); /* ASCII letters without case */
    ck_assert_str_eq(body("(@Ann), @bob."), "1,3");
    ck_assert_str_eq(body("@carol.smith: see"), "6");
    ck_assert_str_eq(body("@nobody and @"), "");
    ck_assert_str_eq(body("no mention here"), "");
}
END_TEST

START_TEST(an_address_or_a_longer_word_is_not_a_mention)
{
    ck_assert_str_eq(body("mail bob@example.test"), "");
    ck_assert_str_eq(body("x@Alice"), "");
    ck_assert_str_eq(body("@Alicea @bobby @bob_x @bob.x"), "");
    ck_assert_str_eq(body("@@bob @bob@example.test"), "");
}
END_TEST

START_TEST(the_longest_name_wins_so_nicks_may_have_spaces)
{
    ck_assert_str_eq(body("@Ann Lee please"), "2");
    ck_assert_str_eq(body("@Ann please"), "1");
    ck_assert_str_eq(body("@Ann Leeds"), "1"); /* "Ann Lee" does not stand there */
}
END_TEST

START_TEST(cjk_names_need_no_space_after_them)
{
    ck_assert_str_eq(body("@张三你好"), "4");
    ck_assert_str_eq(body("你好@张三，请看"), "4");
    ck_assert_str_eq(body("@李"), "5");
    ck_assert_str_eq(body("@bob你好"), "3"); /* a Latin name before CJK text */
}
END_TEST

START_TEST(references_name_a_bare_jid_or_an_occupant)
{
    ck_assert_str_eq(
        mentions("<message type='groupchat'><body>hey</body>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' begin='0' end='3' "
                 "uri='xmpp:bob@example.test'/>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' "
                 "uri='xmpp:" ROOM "/Ann%20Lee'/>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' "
                 "uri='xmpp:Alice@Example.test?message'/>"
                 "</message>",
                 20),
        "0,2,3");
    /* Not a mention: another type, not an xmpp: URI, an occupant of
     * another room, a resource of a member, nobody in the room. */
    ck_assert_str_eq(
        mentions("<message type='groupchat'><body>hey</body>"
                 "<reference xmlns='urn:xmpp:reference:0' type='data' uri='xmpp:bob@example.test'/>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' "
                 "uri='mailto:bob@example.test'/>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' "
                 "uri='xmpp:other@groups.example.test/Ann'/>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' "
                 "uri='xmpp:bob@example.test/phone'/>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' "
                 "uri='xmpp:eve@example.test'/>"
                 "<reference xmlns='urn:xmpp:reference:0' type='mention' uri='xmpp:%zz'/>"
                 "</message>",
                 20),
        "");
}
END_TEST

START_TEST(mentions_per_message_are_capped)
{
    ck_assert_str_eq(
        mentions("<message type='groupchat'><body>@Alice @Ann @bob @李</body></message>", 2),
        "0,1");
    ck_assert_str_eq(
        mentions("<message type='groupchat'><body>@Alice @Ann @bob @李</body></message>", 0), "");
    /* The same member twice counts once. */
    ck_assert_str_eq(
        mentions("<message type='groupchat'><body>@bob @bob @bob @Ann</body></message>", 2), "1,3");
    /* A flood of '@' is looked at only so far: past the first 64 signs,
     * nothing more is found. */
    char xml[1024] = "<message type='groupchat'><body>";
    for (int i = 0; i < 70; i++)
        strcat(xml, "@x ");
    strcat(xml, "@bob</body></message>");
    ck_assert_str_eq(mentions(xml, 20), "");
}
END_TEST

Suite *muc_mention_suite(void)
{
    Suite *s = suite_create("muc_mention");
    TCase *tc = tcase_create("mention");
    tcase_add_test(tc, plain_at_names_an_occupants_nick_or_a_members_localpart);
    tcase_add_test(tc, an_address_or_a_longer_word_is_not_a_mention);
    tcase_add_test(tc, the_longest_name_wins_so_nicks_may_have_spaces);
    tcase_add_test(tc, cjk_names_need_no_space_after_them);
    tcase_add_test(tc, references_name_a_bare_jid_or_an_occupant);
    tcase_add_test(tc, mentions_per_message_are_capped);
    suite_add_tcase(s, tc);
    return s;
}
