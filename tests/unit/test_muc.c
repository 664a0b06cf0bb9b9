/* test_muc.c — the muc module's parts that need no server: XEP-0045's
 * decisions (who enters, who changes whose role or affiliation), the room
 * model (affiliations with their dates, occupants, the history ring and
 * the history a joiner asks for), the stored room record (round trip,
 * and refusal of records that are not one), and the group kinds' rules
 * (the heir of the last owner, the expiry of idle temporary groups). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "modules/muc/muc-private.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "xep/rsm.h"

#define ROOM "tea@groups.example.test"

static muc_join_req_t req(muc_affil_t a)
{
    return (muc_join_req_t){.affil = a, .password_ok = 1, .occupants = 1, .max = 10};
}

START_TEST(join_refusals_follow_xep_0045_section_7_2)
{
    muc_config_t c;
    muc_config_default(&c);
    muc_join_req_t j = req(MUC_AFFIL_NONE);
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_NONE);
    /* A locked room is there only for its owner. */
    ck_assert_int_eq(muc_join_decide(&c, 1, &j), PL_ERR_ITEM_NOT_FOUND);
    j.affil = MUC_AFFIL_OWNER;
    ck_assert_int_eq(muc_join_decide(&c, 1, &j), PL_ERR_NONE);
    j = req(MUC_AFFIL_OUTCAST);
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_FORBIDDEN);
    c.flags |= MUC_CONF_MEMBERS_ONLY;
    j = req(MUC_AFFIL_NONE);
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_REGISTRATION_REQUIRED);
    j.affil = MUC_AFFIL_MEMBER;
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_NONE);
    /* Banned wins over members-only. */
    j.affil = MUC_AFFIL_OUTCAST;
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_FORBIDDEN);
    c.flags = MUC_CONF_PASSWORD;
    j = req(MUC_AFFIL_MEMBER);
    j.password_ok = 0;
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_NOT_AUTHORIZED);
    j.affil = MUC_AFFIL_OWNER;
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_NONE);
    c.flags = 0;
    j = req(MUC_AFFIL_NONE);
    j.nick_taken = 1;
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_CONFLICT);
    j = req(MUC_AFFIL_MEMBER);
    j.occupants = 10;
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_SERVICE_UNAVAILABLE);
    /* Admins and owners enter a full room. */
    j.affil = MUC_AFFIL_ADMIN;
    ck_assert_int_eq(muc_join_decide(&c, 0, &j), PL_ERR_NONE);
}
END_TEST

START_TEST(a_newcomer_gets_the_role_of_its_affiliation)
{
    muc_config_t c;
    muc_config_default(&c);
    ck_assert_int_eq(muc_default_role(&c, MUC_AFFIL_NONE), MUC_ROLE_PARTICIPANT);
    ck_assert_int_eq(muc_default_role(&c, MUC_AFFIL_MEMBER), MUC_ROLE_PARTICIPANT);
    ck_assert_int_eq(muc_default_role(&c, MUC_AFFIL_ADMIN), MUC_ROLE_MODERATOR);
    ck_assert_int_eq(muc_default_role(&c, MUC_AFFIL_OWNER), MUC_ROLE_MODERATOR);
    c.flags |= MUC_CONF_MODERATED;
    ck_assert_int_eq(muc_default_role(&c, MUC_AFFIL_NONE), MUC_ROLE_VISITOR);
    ck_assert_int_eq(muc_default_role(&c, MUC_AFFIL_MEMBER), MUC_ROLE_PARTICIPANT);
}
END_TEST

START_TEST(role_changes_follow_the_moderator_tables)
{
    const muc_affil_t N = MUC_AFFIL_NONE, M = MUC_AFFIL_MEMBER, A = MUC_AFFIL_ADMIN,
                      O = MUC_AFFIL_OWNER;
    const muc_role_t V = MUC_ROLE_VISITOR, P = MUC_ROLE_PARTICIPANT, MO = MUC_ROLE_MODERATOR,
                     X = MUC_ROLE_NONE;
    /* Only moderators change roles. */
    ck_assert_int_eq(muc_may_set_role(M, P, N, P, X), PL_ERR_FORBIDDEN);
    /* A moderator kicks and silences those below. */
    ck_assert_int_eq(muc_may_set_role(A, MO, N, P, X), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_role(A, MO, M, P, V), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_role(N, MO, N, V, P), PL_ERR_NONE);
    /* Nobody kicks an admin or owner, not even an owner. */
    ck_assert_int_eq(muc_may_set_role(O, MO, A, MO, X), PL_ERR_NOT_ALLOWED);
    ck_assert_int_eq(muc_may_set_role(O, MO, O, MO, V), PL_ERR_NOT_ALLOWED);
    /* A moderator without affiliation cannot kick a member. */
    ck_assert_int_eq(muc_may_set_role(N, MO, M, P, X), PL_ERR_NOT_ALLOWED);
    /* Moderator status is granted and revoked by admins and owners only. */
    ck_assert_int_eq(muc_may_set_role(N, MO, N, P, MO), PL_ERR_NOT_ALLOWED);
    ck_assert_int_eq(muc_may_set_role(A, MO, N, P, MO), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_role(A, MO, M, MO, P), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_role(N, MO, N, MO, P), PL_ERR_NOT_ALLOWED);
}
END_TEST

START_TEST(affiliation_changes_follow_the_admin_and_owner_tables)
{
    const muc_affil_t B = MUC_AFFIL_OUTCAST, N = MUC_AFFIL_NONE, M = MUC_AFFIL_MEMBER,
                      A = MUC_AFFIL_ADMIN, O = MUC_AFFIL_OWNER;
    ck_assert_int_eq(muc_may_set_affil(M, N, M, 1), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_set_affil(N, N, B, 1), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_set_affil(A, N, M, 1), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_affil(A, M, B, 1), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_affil(A, N, A, 1), PL_ERR_NOT_ALLOWED);
    ck_assert_int_eq(muc_may_set_affil(A, A, N, 1), PL_ERR_NOT_ALLOWED);
    ck_assert_int_eq(muc_may_set_affil(A, O, B, 1), PL_ERR_NOT_ALLOWED);
    ck_assert_int_eq(muc_may_set_affil(O, N, A, 1), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_affil(O, A, B, 1), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_affil(O, N, O, 1), PL_ERR_NONE);
    /* The last owner stays; one of two may go. */
    ck_assert_int_eq(muc_may_set_affil(O, O, A, 1), PL_ERR_CONFLICT);
    ck_assert_int_eq(muc_may_set_affil(O, O, N, 2), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_list_affil(O, A), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_list_affil(A, M), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_list_affil(A, B), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_list_affil(A, O), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_list_affil(M, M), PL_ERR_FORBIDDEN);
}
END_TEST

START_TEST(subject_and_real_jids_follow_the_configuration)
{
    muc_config_t c;
    muc_config_default(&c);
    ck_assert_int_eq(muc_may_set_subject(&c, MUC_ROLE_PARTICIPANT), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_set_subject(&c, MUC_ROLE_VISITOR), PL_ERR_FORBIDDEN);
    c.flags &= ~(unsigned)MUC_CONF_CHANGE_SUBJECT;
    ck_assert_int_eq(muc_may_set_subject(&c, MUC_ROLE_PARTICIPANT), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_set_subject(&c, MUC_ROLE_MODERATOR), PL_ERR_NONE);
    ck_assert(!muc_may_see_jid(&c, MUC_ROLE_PARTICIPANT));
    ck_assert(muc_may_see_jid(&c, MUC_ROLE_MODERATOR));
    c.flags |= MUC_CONF_WHOIS_ANYONE;
    ck_assert(muc_may_see_jid(&c, MUC_ROLE_VISITOR));
}
END_TEST

/* §7.8.2 and GRP-2: who invites, by room kind and allowinvites. */
START_TEST(invitations_follow_the_room_kind_and_allowinvites)
{
    muc_config_t c;
    muc_config_default(&c);
    const muc_affil_t X = MUC_AFFIL_OUTCAST, N = MUC_AFFIL_NONE, M = MUC_AFFIL_MEMBER,
                      A = MUC_AFFIL_ADMIN, O = MUC_AFFIL_OWNER;
    /* An open room: any occupant; with allowinvites off, admins and owners. */
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_ROOM, N), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_ROOM, X), PL_ERR_FORBIDDEN);
    c.flags |= MUC_CONF_NO_INVITES;
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_ROOM, M), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_ROOM, A), PL_ERR_NONE);
    /* Members-only rooms and contact groups: members; off: admins. */
    c.flags = (c.flags & ~(unsigned)MUC_CONF_NO_INVITES) | MUC_CONF_MEMBERS_ONLY;
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_ROOM, N), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_ROOM, M), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_CONTACT, M), PL_ERR_NONE);
    c.flags |= MUC_CONF_NO_INVITES;
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_ROOM, M), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_CONTACT, M), PL_ERR_FORBIDDEN);
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_CONTACT, O), PL_ERR_NONE);
    /* A temporary group: every member, whatever allowinvites says. */
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_TEMPORARY, M), PL_ERR_NONE);
    ck_assert_int_eq(muc_may_invite(&c, MUC_KIND_TEMPORARY, N), PL_ERR_FORBIDDEN);
    muc_config_deinit(&c);
}
END_TEST

START_TEST(affiliations_keep_the_time_they_were_granted)
{
    muc_room_t *r = muc_room_new(ROOM, 0, 1000);
    ck_assert_str_eq(r->local, "tea");
    muc_room_set_affil(r, "a@x", MUC_AFFIL_OWNER, 1000);
    muc_room_set_affil(r, "b@x", MUC_AFFIL_MEMBER, 2000);
    muc_room_set_affil(r, "b@x", MUC_AFFIL_MEMBER, 3000); /* no change, same date */
    ck_assert_int_eq(muc_room_aff(r, "b@x")->since_ms, 2000);
    muc_room_set_affil(r, "b@x", MUC_AFFIL_ADMIN, 4000);
    ck_assert_int_eq(muc_room_aff(r, "b@x")->since_ms, 4000);
    ck_assert_int_eq(muc_room_affil(r, "b@x"), MUC_AFFIL_ADMIN);
    ck_assert_int_eq(muc_room_affil(r, "c@x"), MUC_AFFIL_NONE);
    muc_room_set_affil(r, "b@x", MUC_AFFIL_NONE, 5000);
    ck_assert_ptr_null(muc_room_aff(r, "b@x"));
    ck_assert_uint_eq(r->naffs, 1);
    ck_assert_uint_eq(muc_room_count_affil(r, MUC_AFFIL_OWNER), 1);
    muc_affil_t a;
    ck_assert_int_eq(muc_affil_parse("outcast", &a), 0);
    ck_assert_int_eq(a, MUC_AFFIL_OUTCAST);
    ck_assert_int_eq(muc_affil_parse("king", &a), -1);
    ck_assert_str_eq(muc_affil_name(MUC_AFFIL_NONE), "none");
    muc_role_t ro;
    ck_assert_int_eq(muc_role_parse("visitor", &ro), 0);
    ck_assert_int_eq(ro, MUC_ROLE_VISITOR);
    muc_room_free(&r);
    ck_assert_ptr_null(r);
}
END_TEST

START_TEST(occupants_are_found_by_nick_and_by_jid)
{
    muc_room_t *r = muc_room_new(ROOM, 0, 0);
    muc_occupant_t *a = muc_room_add(r, "Al", "a@x/1", "a@x", MUC_ROLE_PARTICIPANT);
    muc_room_add(r, "Bo", "b@x/1", "b@x", MUC_ROLE_VISITOR);
    ck_assert_ptr_eq(muc_room_by_nick(r, "Al"), a);
    ck_assert_ptr_eq(muc_room_by_jid(r, "a@x/1"), a);
    ck_assert_ptr_null(muc_room_by_nick(r, "al"));
    muc_occupant_rename(a, "Alan");
    ck_assert_ptr_eq(muc_room_by_nick(r, "Alan"), a);
    muc_room_remove(r, a);
    ck_assert_uint_eq(r->nocc, 1);
    ck_assert_ptr_null(muc_room_by_jid(r, "a@x/1"));
    muc_room_free(&r);
}
END_TEST

static pl_stanza_t *msg(int i)
{
    char xml[128];
    snprintf(xml, sizeof(xml), "<message type='groupchat'><body>m%d</body></message>", i);
    return ut_parse(xml);
}

static const char *body_at(const muc_room_t *r, size_t i)
{
    const pl_xml_t *b = pl_xml_child(pl_stanza_root(muc_room_history_at(r, i)->msg), "body", NULL);
    return b->children->text;
}

START_TEST(history_keeps_the_newest_and_selects_by_every_limit)
{
    muc_room_t *r = muc_room_new(ROOM, 4, 0);
    for (int i = 1; i <= 6; i++) {
        pl_stanza_t *m = msg(i);
        muc_room_history_push(r, m, i * 10000);
        pl_stanza_unref(&m);
    }
    ck_assert_uint_eq(r->hist_len, 4);
    ck_assert_str_eq(body_at(r, 0), "m3");
    ck_assert_str_eq(body_at(r, 3), "m6");
    size_t first, len = muc_room_history_at(r, 0)->chars;
    muc_hist_req_t all = {.maxstanzas = -1, .maxchars = -1, .seconds = -1, .since_ms = -1};
    ck_assert_uint_eq(muc_history_select(r, &all, 60000, &first), 4);
    ck_assert_uint_eq(first, 0);
    muc_hist_req_t q = all;
    q.maxstanzas = 2;
    ck_assert_uint_eq(muc_history_select(r, &q, 60000, &first), 2);
    ck_assert_uint_eq(first, 2);
    q = all;
    q.maxchars = 0;
    ck_assert_uint_eq(muc_history_select(r, &q, 60000, &first), 0);
    q.maxchars = (long)(len * 3);
    ck_assert_uint_eq(muc_history_select(r, &q, 60000, &first), 3);
    q = all;
    q.seconds = 25; /* now 60 s: messages at 40, 50, 60 s */
    ck_assert_uint_eq(muc_history_select(r, &q, 60000, &first), 3);
    q = all;
    q.since_ms = 50000; /* strictly after */
    ck_assert_uint_eq(muc_history_select(r, &q, 60000, &first), 1);
    ck_assert_str_eq(body_at(r, first), "m6");
    muc_room_history_clear(r);
    ck_assert_uint_eq(muc_history_select(r, &all, 60000, &first), 0);
    muc_room_free(&r);
    /* A room without history keeps nothing. */
    r = muc_room_new(ROOM, 0, 0);
    pl_stanza_t *m = msg(1);
    muc_room_history_push(r, m, 1);
    pl_stanza_unref(&m);
    ck_assert_uint_eq(r->hist_len, 0);
    muc_room_free(&r);
}
END_TEST

static muc_room_t *sample_room(void)
{
    muc_room_t *r = muc_room_new(ROOM, 5, 1700000000000LL);
    r->gen = 42;
    r->config.flags = MUC_CONF_PERSISTENT | MUC_CONF_MEMBERS_ONLY | MUC_CONF_PASSWORD;
    r->config.max_occupants = 30;
    r->config.name = strdup("Tea\nroom & 茶");
    r->config.description = strdup("");
    r->config.password = strdup("s3cret word");
    r->subject = strdup("line 1\nline 2");
    r->subject_by = strdup("Al");
    r->active_ms = 1700000005000LL;
    muc_room_set_affil(r, "a@x", MUC_AFFIL_OWNER, 1);
    muc_room_set_affil(r, "b@x", MUC_AFFIL_ADMIN, 2);
    muc_room_set_affil(r, "c@x", MUC_AFFIL_OUTCAST, 3);
    return r;
}

/* What "fuzzy" means in group search (search.c): ASCII and Latin-1
 * capitals folded, spaces dropped, every other byte as it is. */
static int finds(const char *needle, const char *name)
{
    pl_buf_t n;
    pl_buf_init(&n);
    muc_search_fold(needle, strlen(needle), &n);
    int hit = muc_search_match(n.data, n.len, name);
    pl_buf_deinit(&n);
    return hit;
}

START_TEST(search_names_fold_case_and_spaces_and_keep_other_scripts)
{
    pl_buf_t b;
    pl_buf_init(&b);
    muc_search_fold("Engineering Team\t", 17, &b);
    ck_assert_str_eq(pl_buf_cstr(&b), "engineeringteam");
    b.len = 0;
    muc_search_fold("CAF\xc3\x89 \xc3\x97", 8, &b);           /* CAFÉ × */
    ck_assert_str_eq(pl_buf_cstr(&b), "caf\xc3\xa9\xc3\x97"); /* café × */
    b.len = 0;
    muc_search_fold("\xe4\xba\xa7\xe5\x93\x81\xe3\x80\x80\xe8\xae\xbe", 12, &b);
    ck_assert_str_eq(pl_buf_cstr(&b), "\xe4\xba\xa7\xe5\x93\x81\xe8\xae\xbe"); /* 产品设 */
    pl_buf_deinit(&b);
    ck_assert(finds("ENGINEER", "Engineering Team"));
    ck_assert(finds("ring te", "Engineering Team"));
    ck_assert(!finds("teams", "Engineering Team"));
    ck_assert(finds("", "anything"));
    ck_assert(finds(
        "\xe8\xae\xbe\xe8\xae\xa1",
        "\xe4\xba\xa7\xe5\x93\x81\xe8\xae\xbe\xe8\xae\xa1\xe5\xb0\x8f\xe7\xbb\x84")); /* 设计 in
                                                                                         产品设计小组
                                                                                       */
    ck_assert(!finds(
        "\xe8\xae\xbe\xe7\xbb\x84",
        "\xe4\xba\xa7\xe5\x93\x81\xe8\xae\xbe\xe8\xae\xa1\xe5\xb0\x8f\xe7\xbb\x84")); /* 设组 */
    ck_assert(finds("caf\xc3\xa9", "CAF\xc3\x89 Cr\xc3\xa8me"));
    /* A needle longer than the name, or at its very end. */
    ck_assert(!finds("engineering teams", "Engineering Team"));
    ck_assert(finds("team", "Engineering Team"));
}
END_TEST

/* XEP-0059 pages over rooms sorted by JID (search and disco#items). */
START_TEST(room_pages_go_forward_back_and_by_index)
{
    muc_room_t rooms[7], *v[7];
    char jids[7][32];
    for (int i = 0; i < 7; i++) {
        snprintf(jids[i], sizeof(jids[i]), "r%d@groups.example.test", i);
        memset(&rooms[i], 0, sizeof(rooms[i]));
        rooms[i].jid = jids[i];
        v[i] = &rooms[i];
    }
    pl_rsm_t q = {.max = 3};
    size_t from, to;
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 0);
    ck_assert_uint_eq(to, 3);
    q.has_after = 1;
    snprintf(q.after, sizeof(q.after), "%s", jids[2]);
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 3);
    ck_assert_uint_eq(to, 6);
    snprintf(q.after, sizeof(q.after), "%s", jids[5]);
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 6);
    ck_assert_uint_eq(to, 7);
    /* An id between two rooms (one that went meanwhile) still pages. */
    snprintf(q.after, sizeof(q.after), "r2x@groups.example.test");
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 3);
    q = (pl_rsm_t){.max = 3, .has_before = 1};
    snprintf(q.before, sizeof(q.before), "%s", jids[3]);
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 0);
    ck_assert_uint_eq(to, 3);
    snprintf(q.before, sizeof(q.before), "%s", jids[1]);
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 0);
    ck_assert_uint_eq(to, 1);
    q.before[0] = '\0'; /* the last page */
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 4);
    ck_assert_uint_eq(to, 7);
    q = (pl_rsm_t){.max = 3, .has_index = 1, .index = 5};
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, 5);
    ck_assert_uint_eq(to, 7);
    q.index = 9;
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, to);
    q = (pl_rsm_t){.max = 0};
    muc_rooms_page(v, 7, &q, &from, &to);
    ck_assert_uint_eq(from, to);
}
END_TEST

START_TEST(a_room_record_round_trips)
{
    muc_room_t *r = sample_room(), *back = NULL;
    pl_buf_t b;
    pl_buf_init(&b);
    muc_record_encode(r, &b);
    ck_assert_uint_eq(muc_record_gen(b.data, b.len), 42);
    ck_assert_int_eq(muc_record_decode(ROOM, b.data, b.len, 5, &back), 0);
    ck_assert_str_eq(back->jid, ROOM);
    ck_assert_uint_eq(back->gen, 42);
    ck_assert_uint_eq(back->config.flags, r->config.flags);
    ck_assert_int_eq(back->config.max_occupants, 30);
    ck_assert_str_eq(back->config.name, "Tea\nroom & 茶");
    ck_assert_str_eq(back->config.description, "");
    ck_assert_str_eq(back->config.password, "s3cret word");
    ck_assert_str_eq(back->subject, "line 1\nline 2");
    ck_assert_str_eq(back->subject_by, "Al");
    ck_assert_int_eq(back->created_ms, 1700000000000LL);
    ck_assert_int_eq(back->active_ms, 1700000005000LL);
    ck_assert_uint_eq(back->naffs, 3);
    ck_assert_int_eq(muc_room_affil(back, "b@x"), MUC_AFFIL_ADMIN);
    ck_assert_int_eq(muc_room_aff(back, "b@x")->since_ms, 2);
    ck_assert_int_eq(muc_room_affil(back, "c@x"), MUC_AFFIL_OUTCAST);
    ck_assert_uint_eq(back->hist_cap, 5);
    ck_assert(!back->locked);
    pl_buf_t again;
    pl_buf_init(&again);
    muc_record_encode(back, &again);
    ck_assert_uint_eq(again.len, b.len);
    ck_assert(memcmp(again.data, b.data, b.len) == 0);
    pl_buf_deinit(&again);
    pl_buf_deinit(&b);
    muc_room_free(&back);
    muc_room_free(&r);
}
END_TEST

START_TEST(records_that_are_not_rooms_are_refused)
{
    muc_room_t *r = sample_room(), *back = (muc_room_t *)1;
    pl_buf_t b;
    pl_buf_init(&b);
    muc_record_encode(r, &b);
    /* Every truncation of a good record is refused or loses nothing it
     * claims: cut inside a field, it must be refused. */
    for (size_t cut = 0; cut < b.len; cut++) {
        int rc = muc_record_decode(ROOM, b.data, cut, 5, &back);
        if (rc == 0)
            muc_room_free(&back);
        else
            ck_assert_ptr_null(back);
        ck_assert_msg(rc == -EBADMSG || cut >= b.len - 1 || b.data[cut - 1] == '\n',
                      "cut at %zu decoded", cut);
    }
    const char *bad[] = {
        "",
        "muc2 1 0 0 0 0\n",                               /* another version */
        "muc1 1 0 0 0\n",                                 /* short header */
        "muc1 1 0 0 0 0 junk\n",                          /* long header */
        "muc1 1 4096 0 0 0\na 9\n3 0 a@x/1\n",            /* unknown flag */
        "muc1 1 0 -5 0 0\na 7\n3 0 a@x\n",                /* negative limit */
        "muc1 1 0 0 0 0\n",                               /* no owner */
        "muc1 1 0 0 0 0\na 7\n0 0 a@x\n",                 /* affiliation none stored */
        "muc1 1 0 0 0 0\na 7\n9 0 a@x\n",                 /* no such affiliation */
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\na 7\n2 0 a@x\n",   /* twice */
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\nz 1\nq\n",         /* unknown field */
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\nn 1\na\nn 1\nb\n", /* name twice */
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\nn 99\nshort\n",    /* length past the end */
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\nn 2\nabc\n",       /* no newline after the value */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        back = (muc_room_t *)1;
        ck_assert_msg(muc_record_decode(ROOM, bad[i], strlen(bad[i]), 5, &back) == -EBADMSG,
                      "bad record %zu decoded", i);
        ck_assert_ptr_null(back);
    }
    const char nul[] = "muc1 1 0 0 0 0\na 7\n3 0 a@x\nn 3\na\0b\n";
    ck_assert_int_eq(muc_record_decode(ROOM, nul, sizeof(nul) - 1, 5, &back), -EBADMSG);
    const char good[] = "muc1 1 0 0 0 0\na 7\n3 0 a@x\n";
    ck_assert_int_eq(muc_record_decode(ROOM, good, sizeof(good) - 1, 5, &back), 0);
    muc_room_free(&back);
    ck_assert_uint_eq(muc_record_gen("garbage", 7), 0);
    pl_buf_t k;
    pl_buf_init(&k);
    ck_assert_int_eq(muc_record_key(&k, "groups.example.test", "tea"), 0);
    ck_assert_uint_eq(k.len, strlen("groups.example.test") + 1 + 3);
    pl_buf_deinit(&k);
    pl_buf_deinit(&b);
    muc_room_free(&r);
}
END_TEST

/* GRP-5: the last owner's heir is the oldest admin, else the oldest
 * member; the same instant goes to the smaller JID; nobody: NULL (the
 * group is dismissed). */
START_TEST(the_heir_is_the_oldest_admin_else_the_oldest_member)
{
    muc_aff_t affs[] = {
        {.jid = "zed@x", .affil = MUC_AFFIL_MEMBER, .since_ms = 10},
        {.jid = "old@x", .affil = MUC_AFFIL_OUTCAST, .since_ms = 1},
        {.jid = "bea@x", .affil = MUC_AFFIL_ADMIN, .since_ms = 50},
        {.jid = "amy@x", .affil = MUC_AFFIL_ADMIN, .since_ms = 40},
        {.jid = "cat@x", .affil = MUC_AFFIL_MEMBER, .since_ms = 5},
    };
    size_t n = sizeof(affs) / sizeof(affs[0]);
    /* An admin wins over an older member; the oldest admin wins. */
    ck_assert_str_eq(muc_group_heir(affs, n)->jid, "amy@x");
    /* Granted at the same instant: the smaller JID, whatever the order. */
    affs[2].since_ms = 40;
    ck_assert_str_eq(muc_group_heir(affs, n)->jid, "amy@x");
    affs[3].jid = "dan@x";
    ck_assert_str_eq(muc_group_heir(affs, n)->jid, "bea@x");
    /* No admin: the oldest member; outcasts never inherit. */
    affs[2].affil = affs[3].affil = MUC_AFFIL_NONE;
    ck_assert_str_eq(muc_group_heir(affs, n)->jid, "cat@x");
    affs[4].since_ms = 10;
    ck_assert_str_eq(muc_group_heir(affs, n)->jid, "cat@x");
    affs[0].jid = "abe@x";
    ck_assert_str_eq(muc_group_heir(affs, n)->jid, "abe@x");
    ck_assert_uint_eq(muc_group_members(affs, n), 2);
    /* The last member gone: nobody inherits. */
    affs[0].affil = affs[4].affil = MUC_AFFIL_NONE;
    ck_assert_ptr_null(muc_group_heir(affs, n));
    ck_assert_ptr_null(muc_group_heir(NULL, 0));
    ck_assert_uint_eq(muc_group_members(affs, n), 0);
    /* An owner is not an heir (there is one already). */
    affs[0].affil = MUC_AFFIL_OWNER;
    ck_assert_ptr_null(muc_group_heir(affs, n));
    ck_assert_uint_eq(muc_group_members(affs, n), 1);
}
END_TEST

/* GRP-2: only a configured temporary group idle for the whole period
 * expires; 0 means never. */
START_TEST(only_idle_temporary_groups_expire)
{
    muc_room_t *r = muc_room_new(ROOM, 0, 1000);
    const int64_t day = 24LL * 3600 * 1000, expiry = 60 * day;
    r->active_ms = 1000;
    ck_assert(!muc_group_expired(r, 1000 + 61 * day, expiry)); /* a plain room */
    r->kind = MUC_KIND_CONTACT;
    ck_assert(!muc_group_expired(r, 1000 + 61 * day, expiry)); /* contact groups stay */
    r->kind = MUC_KIND_TEMPORARY;
    ck_assert(!muc_group_expired(r, 1000 + expiry - 1, expiry));
    ck_assert(muc_group_expired(r, 1000 + expiry, expiry));
    ck_assert(!muc_group_expired(r, 1000 + 61 * day, 0)); /* expiry off */
    r->active_ms = 1000 + 30 * day;                       /* activity moves it */
    ck_assert(!muc_group_expired(r, 1000 + 61 * day, expiry));
    r->active_ms = 1000;
    r->locked = 1; /* not configured yet: not a group yet */
    ck_assert(!muc_group_expired(r, 1000 + 61 * day, expiry));
    muc_room_free(&r);
}
END_TEST

/* GRP-5: in a group every member may quit; changing others stays as
 * XEP-0045 says. */
START_TEST(group_members_may_quit)
{
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_MEMBER, 1, MUC_AFFIL_MEMBER, MUC_AFFIL_NONE, 9),
        PL_ERR_NONE);
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_ADMIN, 1, MUC_AFFIL_ADMIN, MUC_AFFIL_NONE, 9),
        PL_ERR_NONE);
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_OWNER, 1, MUC_AFFIL_OWNER, MUC_AFFIL_NONE, 9),
        PL_ERR_NONE);
    /* Not to ban or promote oneself, nor to remove someone else. */
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_MEMBER, 1, MUC_AFFIL_MEMBER, MUC_AFFIL_OUTCAST, 9),
        PL_ERR_FORBIDDEN);
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_MEMBER, 1, MUC_AFFIL_MEMBER, MUC_AFFIL_ADMIN, 9),
        PL_ERR_FORBIDDEN);
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_MEMBER, 0, MUC_AFFIL_MEMBER, MUC_AFFIL_NONE, 9),
        PL_ERR_FORBIDDEN);
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_ADMIN, 0, MUC_AFFIL_ADMIN, MUC_AFFIL_NONE, 9),
        PL_ERR_NOT_ALLOWED);
    ck_assert_int_eq(
        muc_group_may_set_affil(MUC_AFFIL_ADMIN, 0, MUC_AFFIL_MEMBER, MUC_AFFIL_NONE, 9),
        PL_ERR_NONE);
}
END_TEST

START_TEST(kinds_and_join_authentication_read_and_write)
{
    muc_kind_t k;
    ck_assert_int_eq(muc_kind_parse("contact", &k), 0);
    ck_assert_int_eq(k, MUC_KIND_CONTACT);
    ck_assert_int_eq(muc_kind_parse("temporary", &k), 0);
    ck_assert_int_eq(k, MUC_KIND_TEMPORARY);
    ck_assert_int_eq(muc_kind_parse("Contact", &k), -1);
    ck_assert_int_eq(muc_kind_parse(NULL, &k), -1);
    ck_assert_str_eq(muc_kind_name(MUC_KIND_TEMPORARY), "temporary");
    unsigned f = MUC_CONF_PERSISTENT;
    ck_assert_str_eq(muc_join_auth_name(f), "none");
    ck_assert_int_eq(muc_join_auth_apply("approval", &f), 0);
    ck_assert_uint_eq(f, MUC_CONF_PERSISTENT | MUC_CONF_MEMBERS_ONLY);
    ck_assert_str_eq(muc_join_auth_name(f), "approval");
    ck_assert_int_eq(muc_join_auth_apply("password", &f), 0);
    ck_assert_uint_eq(f, MUC_CONF_PERSISTENT | MUC_CONF_PASSWORD);
    ck_assert_str_eq(muc_join_auth_name(f), "password");
    ck_assert_int_eq(muc_join_auth_apply("sometimes", &f), -1);
    ck_assert_uint_eq(f, MUC_CONF_PERSISTENT | MUC_CONF_PASSWORD);
    ck_assert_int_eq(muc_join_auth_apply("none", &f), 0);
    ck_assert_uint_eq(f, MUC_CONF_PERSISTENT);
}
END_TEST

/* A group's kind and bulletin are stored; a kind that is not one is
 * refused. */
START_TEST(a_groups_record_keeps_its_kind_and_bulletin)
{
    muc_room_t *r = muc_room_new(ROOM, 5, 1000);
    muc_room_set_affil(r, "a@x", MUC_AFFIL_OWNER, 1);
    r->kind = MUC_KIND_TEMPORARY;
    r->bulletin = strdup("lunch at\nnoon");
    pl_buf_t b;
    pl_buf_init(&b);
    muc_record_encode(r, &b);
    muc_room_t *back = NULL;
    ck_assert_int_eq(muc_record_decode(ROOM, b.data, b.len, 5, &back), 0);
    ck_assert_int_eq(back->kind, MUC_KIND_TEMPORARY);
    ck_assert_str_eq(back->bulletin, "lunch at\nnoon");
    muc_room_free(&back);
    const char *bad[] = {
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\ng 4\nroom\n",
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\ng 5\nother\n",
        "muc1 1 0 0 0 0\na 7\n3 0 a@x\ng 7\ncontact\ng 7\ncontact\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        back = (muc_room_t *)1;
        ck_assert_msg(muc_record_decode(ROOM, bad[i], strlen(bad[i]), 5, &back) == -EBADMSG,
                      "bad group record %zu decoded", i);
        ck_assert_ptr_null(back);
    }
    pl_buf_deinit(&b);
    muc_room_free(&r);
}
END_TEST

Suite *muc_suite(void)
{
    Suite *s = suite_create("muc");
    TCase *tc = tcase_create("muc");
    tcase_add_test(tc, join_refusals_follow_xep_0045_section_7_2);
    tcase_add_test(tc, a_newcomer_gets_the_role_of_its_affiliation);
    tcase_add_test(tc, role_changes_follow_the_moderator_tables);
    tcase_add_test(tc, affiliation_changes_follow_the_admin_and_owner_tables);
    tcase_add_test(tc, subject_and_real_jids_follow_the_configuration);
    tcase_add_test(tc, invitations_follow_the_room_kind_and_allowinvites);
    tcase_add_test(tc, affiliations_keep_the_time_they_were_granted);
    tcase_add_test(tc, occupants_are_found_by_nick_and_by_jid);
    tcase_add_test(tc, history_keeps_the_newest_and_selects_by_every_limit);
    tcase_add_test(tc, a_room_record_round_trips);
    tcase_add_test(tc, records_that_are_not_rooms_are_refused);
    tcase_add_test(tc, search_names_fold_case_and_spaces_and_keep_other_scripts);
    tcase_add_test(tc, room_pages_go_forward_back_and_by_index);
    tcase_add_test(tc, the_heir_is_the_oldest_admin_else_the_oldest_member);
    tcase_add_test(tc, only_idle_temporary_groups_expire);
    tcase_add_test(tc, kinds_and_join_authentication_read_and_write);
    tcase_add_test(tc, group_members_may_quit);
    tcase_add_test(tc, a_groups_record_keeps_its_kind_and_bulletin);
    suite_add_tcase(s, tc);
    return s;
}
