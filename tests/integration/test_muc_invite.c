/* test_muc_invite.c — invitations to groups over real sockets (issue #16,
 * GRP-5): mediated (XEP-0045 §7.8.2) and direct (XEP-0249) invitations
 * reach every available client of the invitee and wait in the offline
 * store for an invitee with none; who may invite (allowinvites, members in
 * members-only rooms, who then become members); declines go back to the
 * inviter; nothing crosses a tenant.  Also the bad input of point 8 that
 * test_muc.c does not cover: an oversized room message, a forged 'from'
 * and malformed configuration forms get their errors while the other
 * occupants keep talking. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness-muc.h"
#include "tests/integration/harness.h"

#define SVC "groups.example.test"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_USER NS_MUC "#user"
#define NS_ADMIN NS_MUC "#admin"
#define NS_OWNER NS_MUC "#owner"
#define NS_CONFERENCE "jabber:x:conference"
#define FIELD(var, val) "<field var='muc#roomconfig_" var "'><value>" val "</value></field>"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "frank@example.test", "pw",
    "oscar@other.test", "pw", "tina@third.test", "pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

static void mediated_invite(h_client_t *c, const char *room_bare, const char *id, const char *who)
{
    h_send(c,
           "<message to='%s' id='%s'><x xmlns='" NS_USER "'><invite to='%s'>"
           "<reason>join us</reason></invite></x></message>",
           room_bare, id, who);
}

/* The mediated invitation from `room_bare` naming `inviter`, if it came. */
static int got_mediated(h_client_t *c, const char *room_bare, const char *inviter, int timeout_ms)
{
    xmpp_stanza_t *m = h_wait(c, &(h_match_t){.name = "message", .from = room_bare}, timeout_ms);
    xmpp_stanza_t *x = h_child(m, "x", NS_USER);
    xmpp_stanza_t *inv = x ? xmpp_stanza_get_child_by_name(x, "invite") : NULL;
    int ok = inv && h_attr_eq(inv, "from", inviter);
    h_rel(m);
    return ok;
}

/* The direct invitation to `room_bare` (from anyone), if it came. */
static int got_direct(h_client_t *c, const char *room_bare, int timeout_ms)
{
    xmpp_stanza_t *m =
        h_wait(c, &(h_match_t){.name = "message", .child_ns = NS_CONFERENCE}, timeout_ms);
    xmpp_stanza_t *x = h_child(m, "x", NS_CONFERENCE);
    int ok = x && h_attr_eq(x, "jid", room_bare);
    h_rel(m);
    return ok;
}

/* ---- cases ---- */

/* GRP-5: both kinds of invitation to a bare JID reach every available
 * client of the invitee (not only the one of highest priority); a client
 * with a negative priority asked not to get messages to the bare JID
 * (RFC 6121 §8.5.2.1.1) and gets none, as for any message. */
static void invitations_reach_every_client_of_the_invitee(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *b_desk = h_login(ctx, srv, "bob@example.test/desk", "pw", 5);
    h_client_t *b_phone = h_login(ctx, srv, "bob@example.test/phone", "pw", 0);
    h_client_t *b_away = h_login(ctx, srv, "bob@example.test/away", "pw", -1);
    if (!alice || !b_desk || !b_phone || !b_away ||
        !h_muc_create(alice, "everyone", "Al", FIELD("membersonly", "1"), 0))
        goto out;
    h_drain(b_desk);
    h_drain(b_phone);
    h_drain(b_away);
    mediated_invite(alice, h_muc_room("everyone"), "m1", "bob@example.test");
    CHECK_MSG(got_mediated(b_desk, h_muc_room("everyone"), "alice@example.test", 5000),
              "the priority-5 client got no mediated invitation");
    CHECK_MSG(got_mediated(b_phone, h_muc_room("everyone"), "alice@example.test", 5000),
              "the priority-0 client got no mediated invitation");
    h_send(alice,
           "<message to='bob@example.test' id='d1'><x xmlns='" NS_CONFERENCE "' jid='%s' "
           "reason='the plan'/></message>",
           h_muc_room("everyone"));
    CHECK_MSG(got_direct(b_desk, h_muc_room("everyone"), 5000),
              "the priority-5 client got no direct invitation");
    CHECK_MSG(got_direct(b_phone, h_muc_room("everyone"), 5000),
              "the priority-0 client got no direct invitation");
    /* A direct invitation sent as chat (some clients do) too. */
    h_send(alice,
           "<message type='chat' to='bob@example.test' id='d2'><x xmlns='" NS_CONFERENCE
           "' jid='%s'/></message>",
           h_muc_room("everyone"));
    CHECK(got_direct(b_desk, h_muc_room("everyone"), 5000));
    CHECK(got_direct(b_phone, h_muc_room("everyone"), 5000));
    h_settle(b_away);
    CHECK_MSG(h_count(b_away, &(h_match_t){.name = "message"}) == 0,
              "a negative-priority client got a message to the bare JID");
    /* Every client may use it: the invitee is a member now. */
    CHECK(strcmp(h_muc_enter(b_phone, "everyone", "Bo"), "ok") == 0);
    h_muc_leave(b_phone, "everyone", "Bo");
    h_muc_leave(alice, "everyone", "Al");
out:
    h_client_free(alice);
    h_client_free(b_desk);
    h_client_free(b_phone);
    h_client_free(b_away);
    h_ctx_free(ctx);
}

/* An invitee with no client online finds both invitations when it logs in
 * (the offline store keeps them, XEP-0160), and the mediated one has made
 * it a member of the members-only room it names. */
static void an_offline_invitee_gets_its_invitations_at_login(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *dave = NULL;
    if (!alice || !h_muc_create(alice, "later", "Al", FIELD("membersonly", "1"), 0))
        goto out;
    mediated_invite(alice, h_muc_room("later"), "m2", "dave@example.test");
    h_send(alice,
           "<message to='dave@example.test' id='d3'><x xmlns='" NS_CONFERENCE "' jid='%s'/>"
           "</message>",
           h_muc_room("later"));
    h_settle(alice);
    CHECK_MSG(h_count(alice, &(h_match_t){.name = "message", .type = "error"}) == 0,
              "an invitation to an offline user bounced");
    dave = h_login(ctx, srv, "dave@example.test/d", "pw", 0);
    if (!dave)
        goto out;
    CHECK_MSG(got_mediated(dave, h_muc_room("later"), "alice@example.test", 5000),
              "the stored mediated invitation did not come at login");
    CHECK_MSG(got_direct(dave, h_muc_room("later"), 5000),
              "the stored direct invitation did not come at login");
    CHECK(strcmp(h_muc_enter(dave, "later", "Da"), "ok") == 0);
    h_muc_leave(dave, "later", "Da");
    h_muc_leave(alice, "later", "Al");
out:
    h_client_free(alice);
    h_client_free(dave);
    h_ctx_free(ctx);
}

/* §7.8.2 with muc#roomconfig_allowinvites: in a members-only room a
 * member invites (the invitee becomes a member and enters) while the room
 * allows it; switched off, only admins and owners invite.  In an open
 * room with it off, an occupant who is not an admin is refused too.  A
 * decline goes back to the inviter from the room. */
static void members_invite_while_the_room_allows_it(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    h_client_t *erin = h_login(ctx, srv, "erin@example.test/e", "pw", 0);
    if (!alice || !bob || !carol || !erin ||
        !h_muc_create(alice, "staff", "Al", FIELD("membersonly", "1"), 0))
        goto out;
    /* The form offers the field, on by default. */
    xmpp_stanza_t *form =
        h_iq(alice, "get", h_muc_room("staff"), "<query xmlns='" NS_OWNER "'/>", 5000);
    xmpp_stanza_t *x = h_child(h_child(form, "query", NS_OWNER), "x", "jabber:x:data");
    int offered = 0;
    for (xmpp_stanza_t *f = x ? xmpp_stanza_get_children(x) : NULL; f; f = xmpp_stanza_get_next(f))
        if (xmpp_stanza_is_tag(f) && h_attr_eq(f, "var", "muc#roomconfig_allowinvites")) {
            char *v = h_child_text(f, "value");
            offered = v && strcmp(v, "1") == 0;
            free(v);
        }
    h_rel(form);
    CHECK_MSG(offered, "the configuration form has no allowinvites set to 1");

    CHECK(strcmp(h_muc_admin_set(alice, "staff",
                                 "<item affiliation='member' jid='bob@example.test'/>"),
                 "result") == 0);
    CHECK(strcmp(h_muc_enter(bob, "staff", "Bo"), "ok") == 0);
    CHECK(strcmp(h_muc_enter(carol, "staff", "Ca"), "registration-required") == 0);
    mediated_invite(bob, h_muc_room("staff"), "m3", "carol@example.test");
    CHECK_MSG(got_mediated(carol, h_muc_room("staff"), "bob@example.test", 5000),
              "carol got no invitation from a member");
    CHECK_MSG(strcmp(h_muc_enter(carol, "staff", "Ca"), "ok") == 0,
              "a member's invitation did not make a member");
    h_muc_leave(carol, "staff", "Ca");

    /* Off: a member is refused, nothing changes for the invitee; the owner
     * still invites. */
    CHECK(strcmp(h_muc_configure(alice, "staff", FIELD("allowinvites", "0")), "result") == 0);
    mediated_invite(bob, h_muc_room("staff"), "m4", "erin@example.test");
    CHECK(h_error_is(h_wait(bob, &(h_match_t){.name = "message", .id = "m4"}, 5000), "forbidden"));
    h_settle(erin);
    CHECK(h_count(erin, &(h_match_t){.name = "message", .from = h_muc_room("staff")}) == 0);
    CHECK(strcmp(h_muc_enter(erin, "staff", "Er"), "registration-required") == 0);
    mediated_invite(alice, h_muc_room("staff"), "m5", "erin@example.test");
    CHECK(got_mediated(erin, h_muc_room("staff"), "alice@example.test", 5000));
    CHECK(strcmp(h_muc_enter(erin, "staff", "Er"), "ok") == 0);
    h_muc_leave(erin, "staff", "Er");

    /* The invitee says no: the inviter hears it from the room. */
    h_send(erin,
           "<message to='%s'><x xmlns='" NS_USER "'><decline to='alice@example.test'>"
           "<reason>busy</reason></decline></x></message>",
           h_muc_room("staff"));
    int declined = 0;
    for (xmpp_stanza_t *m;
         !declined &&
         (m = h_wait(alice, &(h_match_t){.name = "message", .from = h_muc_room("staff")}, 5000));
         h_rel(m)) {
        xmpp_stanza_t *ux = h_child(m, "x", NS_USER);
        xmpp_stanza_t *dec = ux ? xmpp_stanza_get_child_by_name(ux, "decline") : NULL;
        declined = dec && h_attr_eq(dec, "from", "erin@example.test");
    }
    CHECK_MSG(declined, "alice got no decline");
    h_muc_leave(bob, "staff", "Bo");

    /* An open room with allowinvites off: a plain occupant is refused. */
    CHECK(h_muc_create(alice, "lobby", "Al", FIELD("allowinvites", "0"), 0));
    CHECK(strcmp(h_muc_enter(bob, "lobby", "Bo"), "ok") == 0);
    mediated_invite(bob, h_muc_room("lobby"), "m6", "carol@example.test");
    CHECK(h_error_is(h_wait(bob, &(h_match_t){.name = "message", .id = "m6"}, 5000), "forbidden"));
    mediated_invite(alice, h_muc_room("lobby"), "m7", "carol@example.test");
    CHECK(got_mediated(carol, h_muc_room("lobby"), "alice@example.test", 5000));
    h_muc_leave(bob, "lobby", "Bo");
    h_muc_leave(alice, "lobby", "Al");
    h_muc_leave(alice, "staff", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_client_free(erin);
    h_ctx_free(ctx);
}

/* Invitations never cross a tenant: a user of another tenant cannot
 * invite into (nor enter) this tenant's rooms (not-acceptable: not an
 * occupant), an occupant cannot invite a user of another tenant
 * (forbidden, and the room does not grow a foreign member), a user
 * cannot invite into another tenant's room, and a decline is not relayed
 * to or from another tenant. */
static void invitations_stay_inside_the_tenant(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *oscar = h_login(ctx, srv, "oscar@other.test/o", "pw", 0);
    h_client_t *tina = h_login(ctx, srv, "tina@third.test/t", "pw", 0);
    if (!alice || !oscar || !tina ||
        !h_muc_create(alice, "home", "Al", FIELD("membersonly", "1"), 0))
        goto out;
    mediated_invite(oscar, h_muc_room("home"), "x1", "alice@example.test");
    CHECK(h_error_is(h_wait(oscar, &(h_match_t){.name = "message", .id = "x1"}, 5000),
                     "not-acceptable"));
    mediated_invite(alice, h_muc_room("home"), "x2", "oscar@other.test");
    CHECK(
        h_error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "x2"}, 5000), "forbidden"));
    h_settle(oscar);
    CHECK_MSG(h_count(oscar, &(h_match_t){.name = "message", .from = h_muc_room("home")}) == 0,
              "an invitation crossed to another tenant");
    xmpp_stanza_t *list =
        h_iq(alice, "get", h_muc_room("home"),
             "<query xmlns='" NS_ADMIN "'><item affiliation='member'/></query>", 5000);
    xmpp_stanza_t *q = h_child(list, "query", NS_ADMIN);
    int foreign = 0;
    for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it;
         it = xmpp_stanza_get_next(it))
        foreign |= xmpp_stanza_is_tag(it) && h_attr_eq(it, "jid", "oscar@other.test");
    CHECK_MSG(list && !foreign, "a refused invitation made a foreign member");
    h_rel(list);
    /* A decline to or from another tenant. */
    h_send(oscar,
           "<message to='%s' id='x3'><x xmlns='" NS_USER "'><decline to='alice@example.test'/>"
           "</x></message>",
           h_muc_room("home"));
    CHECK(
        h_error_is(h_wait(oscar, &(h_match_t){.name = "message", .id = "x3"}, 5000), "forbidden"));
    h_send(alice,
           "<message to='%s' id='x4'><x xmlns='" NS_USER "'><decline to='oscar@other.test'/>"
           "</x></message>",
           h_muc_room("home"));
    CHECK(
        h_error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "x4"}, 5000), "forbidden"));
    /* Another tenant's room (groups.third.test): alice is not an occupant
     * and cannot be one. */
    CHECK(strcmp(h_muc_join(tina, "there@groups.third.test/Ti", NULL, NULL, NULL), "ok") == 0);
    CHECK(strcmp(h_iq_outcome(tina, "set", "there@groups.third.test",
                              "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' "
                              "type='submit'/></query>"),
                 "result") == 0);
    CHECK(strcmp(h_muc_join(alice, "there@groups.third.test/Al", NULL, NULL, NULL), "forbidden") ==
          0);
    mediated_invite(alice, "there@groups.third.test", "x5", "bob@example.test");
    CHECK(h_error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "x5"}, 5000),
                     "not-acceptable"));
    h_muc_leave(alice, "home", "Al");
out:
    h_client_free(alice);
    h_client_free(oscar);
    h_client_free(tina);
    h_ctx_free(ctx);
}

/* Point 8: a room message over limits.max_stanza_bytes ends the sender's
 * stream (policy-violation) and reaches nobody; a forged 'from' ends the
 * forger's stream; the other occupants keep talking. */
static void oversized_and_forged_messages_harm_no_other_occupant(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    h_client_t *frank = h_login(ctx, srv, "frank@example.test/f", "pw", 0);
    char *big = NULL;
    if (!alice || !bob || !carol || !frank || !h_muc_create(alice, "noisy", "Al", NULL, 0))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "noisy", "Bo"), "ok") == 0);
    CHECK(strcmp(h_muc_enter(carol, "noisy", "Ca"), "ok") == 0);
    CHECK(strcmp(h_muc_enter(frank, "noisy", "Fr"), "ok") == 0);
    h_drain(alice);
    size_t n = 300 * 1024; /* over the default 256k */
    big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = 0;
    h_send(bob, "<message to='%s' type='groupchat' id='big'><body>%s</body></message>",
           h_muc_room("noisy"), big);
    CHECK_MSG(h_wait_disconnect(bob, 10000), "the oversized message did not end bob's stream");
    /* A forged 'from' (carol speaking as alice). */
    h_send(carol,
           "<message from='alice@example.test/a' to='%s' type='groupchat' id='f1'>"
           "<body>I am alice</body></message>",
           h_muc_room("noisy"));
    CHECK_MSG(h_wait_disconnect(carol, 5000), "the forger's stream stayed");
    h_muc_say(frank, "noisy", "still here");
    CHECK_MSG(h_muc_hears(alice, "still here"), "alice no longer hears the room");
    h_settle(alice);
    CHECK(h_count(alice, &(h_match_t){.name = "message", .body = "I am alice"}) == 0);
    CHECK(h_count(alice, &(h_match_t){.name = "message", .id = "big"}) == 0);
    h_muc_leave(frank, "noisy", "Fr");
    h_muc_leave(alice, "noisy", "Al");
out:
    free(big);
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_client_free(frank);
    h_ctx_free(ctx);
}

/* Point 8: malformed muc#roomconfig forms are refused whole (another
 * FORM_TYPE bad-request; a maxusers that is not a number and an unknown
 * whois not-acceptable; a form of 10,000 fields bad-request), the room
 * keeps its configuration, and its occupants keep talking. */
static void malformed_configuration_forms_are_refused_whole(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    char *huge = NULL;
    if (!alice || !bob || !h_muc_create(alice, "forms", "Al", FIELD("roomname", "Forms"), 0))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "forms", "Bo"), "ok") == 0);
    h_drain(alice);
    CHECK(
        strcmp(h_iq_outcome(alice, "set", h_muc_room("forms"),
                            "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' type='submit'>"
                            "<field var='FORM_TYPE'><value>urn:example:other</value></field>" FIELD(
                                "roomname", "Other") "</x></query>"),
               "bad-request") == 0);
    CHECK(
        strcmp(h_muc_configure(alice, "forms", FIELD("roomname", "Half") FIELD("maxusers", "ten")),
               "not-acceptable") == 0);
    CHECK(strcmp(h_muc_configure(alice, "forms", FIELD("maxusers", "12abc")), "not-acceptable") ==
          0);
    CHECK(strcmp(h_muc_configure(alice, "forms",
                                 FIELD("roomname", "Half") FIELD("whois", "everybody")),
                 "not-acceptable") == 0);
    /* 10,000 fields (about 200 kB, inside the stanza limit). */
    size_t cap = 10000 * 24 + 512, len = 0;
    huge = malloc(cap);
    len += (size_t)snprintf(huge + len, cap - len,
                            "<iq type='set' id='huge' to='%s'><query xmlns='" NS_OWNER "'>"
                            "<x xmlns='jabber:x:data' type='submit'>",
                            h_muc_room("forms"));
    for (int i = 0; i < 10000; i++)
        len += (size_t)snprintf(huge + len, cap - len, "<field var='f%d'/>", i);
    snprintf(huge + len, cap - len, "</x></query></iq>");
    h_send(alice, "%s", huge);
    CHECK(
        h_error_is(h_wait(alice, &(h_match_t){.name = "iq", .id = "huge"}, 10000), "bad-request"));
    /* Nothing of the refused forms was applied. */
    xmpp_stanza_t *info = h_iq(bob, "get", h_muc_room("forms"),
                               "<query xmlns='http://jabber.org/protocol/disco#info'/>", 5000);
    xmpp_stanza_t *q = h_child(info, "query", "http://jabber.org/protocol/disco#info");
    xmpp_stanza_t *id = q ? xmpp_stanza_get_child_by_name(q, "identity") : NULL;
    CHECK_MSG(id && h_attr_eq(id, "name", "Forms"), "a refused form changed the room's name");
    h_rel(info);
    h_muc_say(bob, "forms", "after the forms");
    CHECK(h_muc_hears(alice, "after the forms"));
    h_muc_leave(bob, "forms", "Bo");
    h_muc_leave(alice, "forms", "Al");
out:
    free(huge);
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; offline = {}; muc = {};",
        .accounts = accounts,
        .extra_hosts = "{ name = \"third.test\"; modules = { disco = {}; roster = {}; "
                       "presence = {}; muc = {}; }; }",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(invitations_reach_every_client_of_the_invitee, &srv);
        H_RUN(an_offline_invitee_gets_its_invitations_at_login, &srv);
        H_RUN(members_invite_while_the_room_allows_it, &srv);
        H_RUN(invitations_stay_inside_the_tenant, &srv);
        H_RUN(oversized_and_forged_messages_harm_no_other_occupant, &srv);
        H_RUN(malformed_configuration_forms_are_refused_whole, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
