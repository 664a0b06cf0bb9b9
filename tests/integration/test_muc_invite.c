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

static void rel(xmpp_stanza_t *st)
{
    if (st)
        xmpp_stanza_release(st);
}

static const char *occ(const char *room, const char *nick)
{
    static char buf[8][256];
    static unsigned next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s@" SVC "/%s", room, nick);
    return b;
}

static const char *room_jid(const char *room)
{
    static char buf[8][256];
    static unsigned next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s@" SVC, room);
    return b;
}

static int has_status(xmpp_stanza_t *st, const char *code)
{
    xmpp_stanza_t *x = h_child(st, "x", NS_USER);
    for (xmpp_stanza_t *k = x ? xmpp_stanza_get_children(x) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "status") == 0 &&
            h_attr_eq(k, "code", code))
            return 1;
    return 0;
}

/* Enters room/nick: "ok" on the self-presence (110), else the error
 * condition or "timeout". */
static const char *enter_at(h_client_t *c, const char *occupant)
{
    static char out[8][64];
    static unsigned next;
    char *o = out[next++ % 8];
    h_send(c, "<presence to='%s'><x xmlns='" NS_MUC "'/></presence>", occupant);
    long long deadline = h_now_ms() + 5000;
    snprintf(o, 64, "timeout");
    while (h_now_ms() < deadline) {
        xmpp_stanza_t *p = h_wait(c, &(h_match_t){.name = "presence", .from = occupant}, 5000);
        if (!p)
            break;
        int done = 1;
        if (h_attr_eq(p, "type", "error")) {
            const char *cond = h_error_condition(p);
            snprintf(o, 64, "%s", cond ? cond : "error");
        } else if (has_status(p, "110")) {
            snprintf(o, 64, "ok");
        } else {
            done = 0;
        }
        rel(p);
        if (done)
            break;
    }
    return o;
}

static const char *enter(h_client_t *c, const char *room, const char *nick)
{
    return enter_at(c, occ(room, nick));
}

static void leave(h_client_t *c, const char *room, const char *nick)
{
    h_send(c, "<presence to='%s' type='unavailable'/>", occ(room, nick));
    rel(h_wait(c, &(h_match_t){.name = "presence", .type = "unavailable", .from = occ(room, nick)},
               5000));
}

static const char *configure(h_client_t *c, const char *room, const char *fields)
{
    char q[2048];
    snprintf(q, sizeof(q),
             "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' type='submit'>"
             "<field var='FORM_TYPE'><value>" NS_MUC "#roomconfig</value></field>%s</x></query>",
             fields ? fields : "");
    return h_iq_outcome(c, "set", room_jid(room), q);
}

static int create_room(h_client_t *owner, const char *room, const char *nick, const char *fields)
{
    int ok =
        CHECK_MSG(strcmp(enter(owner, room, nick), "ok") == 0, "creating %s", room) &&
        CHECK_MSG(strcmp(configure(owner, room, fields), "result") == 0, "configuring %s", room);
    h_drain(owner);
    return ok;
}

static const char *admin_item(h_client_t *c, const char *room, const char *item)
{
    char q[512];
    snprintf(q, sizeof(q), "<query xmlns='" NS_ADMIN "'>%s</query>", item);
    return h_iq_outcome(c, "set", room_jid(room), q);
}

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
    rel(m);
    return ok;
}

/* The direct invitation to `room_bare` (from anyone), if it came. */
static int got_direct(h_client_t *c, const char *room_bare, int timeout_ms)
{
    xmpp_stanza_t *m =
        h_wait(c, &(h_match_t){.name = "message", .child_ns = NS_CONFERENCE}, timeout_ms);
    xmpp_stanza_t *x = h_child(m, "x", NS_CONFERENCE);
    int ok = x && h_attr_eq(x, "jid", room_bare);
    rel(m);
    return ok;
}

static int error_is(xmpp_stanza_t *st, const char *cond)
{
    const char *c = st ? h_error_condition(st) : NULL;
    int yes = c && strcmp(c, cond) == 0;
    rel(st);
    return yes;
}

static void say(h_client_t *c, const char *room, const char *body)
{
    h_send(c, "<message to='%s' type='groupchat' id='%s'><body>%s</body></message>", room_jid(room),
           h_id(), body);
}

/* 1 when `c` hears `body` in `room` (from anyone). */
static int hears(h_client_t *c, const char *body)
{
    xmpp_stanza_t *m =
        h_wait(c, &(h_match_t){.name = "message", .type = "groupchat", .body = body}, 5000);
    rel(m);
    return m != NULL;
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
        !create_room(alice, "everyone", "Al", FIELD("membersonly", "1")))
        goto out;
    h_drain(b_desk);
    h_drain(b_phone);
    h_drain(b_away);
    mediated_invite(alice, room_jid("everyone"), "m1", "bob@example.test");
    CHECK_MSG(got_mediated(b_desk, room_jid("everyone"), "alice@example.test", 5000),
              "the priority-5 client got no mediated invitation");
    CHECK_MSG(got_mediated(b_phone, room_jid("everyone"), "alice@example.test", 5000),
              "the priority-0 client got no mediated invitation");
    h_send(alice,
           "<message to='bob@example.test' id='d1'><x xmlns='" NS_CONFERENCE "' jid='%s' "
           "reason='the plan'/></message>",
           room_jid("everyone"));
    CHECK_MSG(got_direct(b_desk, room_jid("everyone"), 5000),
              "the priority-5 client got no direct invitation");
    CHECK_MSG(got_direct(b_phone, room_jid("everyone"), 5000),
              "the priority-0 client got no direct invitation");
    /* A direct invitation sent as chat (some clients do) too. */
    h_send(alice,
           "<message type='chat' to='bob@example.test' id='d2'><x xmlns='" NS_CONFERENCE
           "' jid='%s'/></message>",
           room_jid("everyone"));
    CHECK(got_direct(b_desk, room_jid("everyone"), 5000));
    CHECK(got_direct(b_phone, room_jid("everyone"), 5000));
    h_settle(b_away);
    CHECK_MSG(h_count(b_away, &(h_match_t){.name = "message"}) == 0,
              "a negative-priority client got a message to the bare JID");
    /* Every client may use it: the invitee is a member now. */
    CHECK(strcmp(enter(b_phone, "everyone", "Bo"), "ok") == 0);
    leave(b_phone, "everyone", "Bo");
    leave(alice, "everyone", "Al");
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
    if (!alice || !create_room(alice, "later", "Al", FIELD("membersonly", "1")))
        goto out;
    mediated_invite(alice, room_jid("later"), "m2", "dave@example.test");
    h_send(alice,
           "<message to='dave@example.test' id='d3'><x xmlns='" NS_CONFERENCE "' jid='%s'/>"
           "</message>",
           room_jid("later"));
    h_settle(alice);
    CHECK_MSG(h_count(alice, &(h_match_t){.name = "message", .type = "error"}) == 0,
              "an invitation to an offline user bounced");
    dave = h_login(ctx, srv, "dave@example.test/d", "pw", 0);
    if (!dave)
        goto out;
    CHECK_MSG(got_mediated(dave, room_jid("later"), "alice@example.test", 5000),
              "the stored mediated invitation did not come at login");
    CHECK_MSG(got_direct(dave, room_jid("later"), 5000),
              "the stored direct invitation did not come at login");
    CHECK(strcmp(enter(dave, "later", "Da"), "ok") == 0);
    leave(dave, "later", "Da");
    leave(alice, "later", "Al");
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
        !create_room(alice, "staff", "Al", FIELD("membersonly", "1")))
        goto out;
    /* The form offers the field, on by default. */
    xmpp_stanza_t *form =
        h_iq(alice, "get", room_jid("staff"), "<query xmlns='" NS_OWNER "'/>", 5000);
    xmpp_stanza_t *x = h_child(h_child(form, "query", NS_OWNER), "x", "jabber:x:data");
    int offered = 0;
    for (xmpp_stanza_t *f = x ? xmpp_stanza_get_children(x) : NULL; f; f = xmpp_stanza_get_next(f))
        if (xmpp_stanza_is_tag(f) && h_attr_eq(f, "var", "muc#roomconfig_allowinvites")) {
            char *v = h_child_text(f, "value");
            offered = v && strcmp(v, "1") == 0;
            free(v);
        }
    rel(form);
    CHECK_MSG(offered, "the configuration form has no allowinvites set to 1");

    CHECK(strcmp(admin_item(alice, "staff", "<item affiliation='member' jid='bob@example.test'/>"),
                 "result") == 0);
    CHECK(strcmp(enter(bob, "staff", "Bo"), "ok") == 0);
    CHECK(strcmp(enter(carol, "staff", "Ca"), "registration-required") == 0);
    mediated_invite(bob, room_jid("staff"), "m3", "carol@example.test");
    CHECK_MSG(got_mediated(carol, room_jid("staff"), "bob@example.test", 5000),
              "carol got no invitation from a member");
    CHECK_MSG(strcmp(enter(carol, "staff", "Ca"), "ok") == 0,
              "a member's invitation did not make a member");
    leave(carol, "staff", "Ca");

    /* Off: a member is refused, nothing changes for the invitee; the owner
     * still invites. */
    CHECK(strcmp(configure(alice, "staff", FIELD("allowinvites", "0")), "result") == 0);
    mediated_invite(bob, room_jid("staff"), "m4", "erin@example.test");
    CHECK(error_is(h_wait(bob, &(h_match_t){.name = "message", .id = "m4"}, 5000), "forbidden"));
    h_settle(erin);
    CHECK(h_count(erin, &(h_match_t){.name = "message", .from = room_jid("staff")}) == 0);
    CHECK(strcmp(enter(erin, "staff", "Er"), "registration-required") == 0);
    mediated_invite(alice, room_jid("staff"), "m5", "erin@example.test");
    CHECK(got_mediated(erin, room_jid("staff"), "alice@example.test", 5000));
    CHECK(strcmp(enter(erin, "staff", "Er"), "ok") == 0);
    leave(erin, "staff", "Er");

    /* The invitee says no: the inviter hears it from the room. */
    h_send(erin,
           "<message to='%s'><x xmlns='" NS_USER "'><decline to='alice@example.test'>"
           "<reason>busy</reason></decline></x></message>",
           room_jid("staff"));
    int declined = 0;
    for (xmpp_stanza_t *m;
         !declined &&
         (m = h_wait(alice, &(h_match_t){.name = "message", .from = room_jid("staff")}, 5000));
         rel(m)) {
        xmpp_stanza_t *ux = h_child(m, "x", NS_USER);
        xmpp_stanza_t *dec = ux ? xmpp_stanza_get_child_by_name(ux, "decline") : NULL;
        declined = dec && h_attr_eq(dec, "from", "erin@example.test");
    }
    CHECK_MSG(declined, "alice got no decline");
    leave(bob, "staff", "Bo");

    /* An open room with allowinvites off: a plain occupant is refused. */
    CHECK(create_room(alice, "lobby", "Al", FIELD("allowinvites", "0")));
    CHECK(strcmp(enter(bob, "lobby", "Bo"), "ok") == 0);
    mediated_invite(bob, room_jid("lobby"), "m6", "carol@example.test");
    CHECK(error_is(h_wait(bob, &(h_match_t){.name = "message", .id = "m6"}, 5000), "forbidden"));
    mediated_invite(alice, room_jid("lobby"), "m7", "carol@example.test");
    CHECK(got_mediated(carol, room_jid("lobby"), "alice@example.test", 5000));
    leave(bob, "lobby", "Bo");
    leave(alice, "lobby", "Al");
    leave(alice, "staff", "Al");
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
    if (!alice || !oscar || !tina || !create_room(alice, "home", "Al", FIELD("membersonly", "1")))
        goto out;
    mediated_invite(oscar, room_jid("home"), "x1", "alice@example.test");
    CHECK(error_is(h_wait(oscar, &(h_match_t){.name = "message", .id = "x1"}, 5000),
                   "not-acceptable"));
    mediated_invite(alice, room_jid("home"), "x2", "oscar@other.test");
    CHECK(error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "x2"}, 5000), "forbidden"));
    h_settle(oscar);
    CHECK_MSG(h_count(oscar, &(h_match_t){.name = "message", .from = room_jid("home")}) == 0,
              "an invitation crossed to another tenant");
    xmpp_stanza_t *list =
        h_iq(alice, "get", room_jid("home"),
             "<query xmlns='" NS_ADMIN "'><item affiliation='member'/></query>", 5000);
    xmpp_stanza_t *q = h_child(list, "query", NS_ADMIN);
    int foreign = 0;
    for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it;
         it = xmpp_stanza_get_next(it))
        foreign |= xmpp_stanza_is_tag(it) && h_attr_eq(it, "jid", "oscar@other.test");
    CHECK_MSG(list && !foreign, "a refused invitation made a foreign member");
    rel(list);
    /* A decline to or from another tenant. */
    h_send(oscar,
           "<message to='%s' id='x3'><x xmlns='" NS_USER "'><decline to='alice@example.test'/>"
           "</x></message>",
           room_jid("home"));
    CHECK(error_is(h_wait(oscar, &(h_match_t){.name = "message", .id = "x3"}, 5000), "forbidden"));
    h_send(alice,
           "<message to='%s' id='x4'><x xmlns='" NS_USER "'><decline to='oscar@other.test'/>"
           "</x></message>",
           room_jid("home"));
    CHECK(error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "x4"}, 5000), "forbidden"));
    /* Another tenant's room (groups.third.test): alice is not an occupant
     * and cannot be one. */
    CHECK(strcmp(enter_at(tina, "there@groups.third.test/Ti"), "ok") == 0);
    CHECK(strcmp(h_iq_outcome(tina, "set", "there@groups.third.test",
                              "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' "
                              "type='submit'/></query>"),
                 "result") == 0);
    CHECK(strcmp(enter_at(alice, "there@groups.third.test/Al"), "forbidden") == 0);
    mediated_invite(alice, "there@groups.third.test", "x5", "bob@example.test");
    CHECK(error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "x5"}, 5000),
                   "not-acceptable"));
    leave(alice, "home", "Al");
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
    if (!alice || !bob || !carol || !frank || !create_room(alice, "noisy", "Al", NULL))
        goto out;
    CHECK(strcmp(enter(bob, "noisy", "Bo"), "ok") == 0);
    CHECK(strcmp(enter(carol, "noisy", "Ca"), "ok") == 0);
    CHECK(strcmp(enter(frank, "noisy", "Fr"), "ok") == 0);
    h_drain(alice);
    size_t n = 300 * 1024; /* over the default 256k */
    big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = 0;
    h_send(bob, "<message to='%s' type='groupchat' id='big'><body>%s</body></message>",
           room_jid("noisy"), big);
    CHECK_MSG(h_wait_disconnect(bob, 10000), "the oversized message did not end bob's stream");
    /* A forged 'from' (carol speaking as alice). */
    h_send(carol,
           "<message from='alice@example.test/a' to='%s' type='groupchat' id='f1'>"
           "<body>I am alice</body></message>",
           room_jid("noisy"));
    CHECK_MSG(h_wait_disconnect(carol, 5000), "the forger's stream stayed");
    say(frank, "noisy", "still here");
    CHECK_MSG(hears(alice, "still here"), "alice no longer hears the room");
    h_settle(alice);
    CHECK(h_count(alice, &(h_match_t){.name = "message", .body = "I am alice"}) == 0);
    CHECK(h_count(alice, &(h_match_t){.name = "message", .id = "big"}) == 0);
    leave(frank, "noisy", "Fr");
    leave(alice, "noisy", "Al");
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
    if (!alice || !bob || !create_room(alice, "forms", "Al", FIELD("roomname", "Forms")))
        goto out;
    CHECK(strcmp(enter(bob, "forms", "Bo"), "ok") == 0);
    h_drain(alice);
    CHECK(
        strcmp(h_iq_outcome(alice, "set", room_jid("forms"),
                            "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' type='submit'>"
                            "<field var='FORM_TYPE'><value>urn:example:other</value></field>" FIELD(
                                "roomname", "Other") "</x></query>"),
               "bad-request") == 0);
    CHECK(strcmp(configure(alice, "forms", FIELD("roomname", "Half") FIELD("maxusers", "ten")),
                 "not-acceptable") == 0);
    CHECK(strcmp(configure(alice, "forms", FIELD("maxusers", "12abc")), "not-acceptable") == 0);
    CHECK(strcmp(configure(alice, "forms", FIELD("roomname", "Half") FIELD("whois", "everybody")),
                 "not-acceptable") == 0);
    /* 10,000 fields (about 200 kB, inside the stanza limit). */
    size_t cap = 10000 * 24 + 512, len = 0;
    huge = malloc(cap);
    len += (size_t)snprintf(huge + len, cap - len,
                            "<iq type='set' id='huge' to='%s'><query xmlns='" NS_OWNER "'>"
                            "<x xmlns='jabber:x:data' type='submit'>",
                            room_jid("forms"));
    for (int i = 0; i < 10000; i++)
        len += (size_t)snprintf(huge + len, cap - len, "<field var='f%d'/>", i);
    snprintf(huge + len, cap - len, "</x></query></iq>");
    h_send(alice, "%s", huge);
    CHECK(error_is(h_wait(alice, &(h_match_t){.name = "iq", .id = "huge"}, 10000), "bad-request"));
    /* Nothing of the refused forms was applied. */
    xmpp_stanza_t *info = h_iq(bob, "get", room_jid("forms"),
                               "<query xmlns='http://jabber.org/protocol/disco#info'/>", 5000);
    xmpp_stanza_t *q = h_child(info, "query", "http://jabber.org/protocol/disco#info");
    xmpp_stanza_t *id = q ? xmpp_stanza_get_child_by_name(q, "identity") : NULL;
    CHECK_MSG(id && h_attr_eq(id, "name", "Forms"), "a refused form changed the room's name");
    rel(info);
    say(bob, "forms", "after the forms");
    CHECK(hears(alice, "after the forms"));
    leave(bob, "forms", "Bo");
    leave(alice, "forms", "Al");
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
