/* test_muc.c — XEP-0045 multi-user chat on the group service
 * (groups.example.test) over real sockets: creating and configuring rooms,
 * entering with every refusal the XEP names, occupant presence and who sees
 * real JIDs, groupchat with the room's stanza-id, history on entering,
 * subject, private messages, kick/ban/voice, affiliation lists, nickname
 * changes, destruction with an alternate venue, disco, persistence across
 * a restart, and the limits (flood, room count, occupants). */
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
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define FIELD(var, val) "<field var='muc#roomconfig_" var "'><value>" val "</value></field>"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "frank@example.test", "pw",
    "oscar@other.test", "pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

static xmpp_stanza_t *muc_x(xmpp_stanza_t *st)
{
    return h_child(st, "x", NS_USER);
}

static int is_subject(xmpp_stanza_t *st, const void *ud)
{
    (void)ud;
    return strcmp(xmpp_stanza_get_name(st), "message") == 0 &&
           xmpp_stanza_get_child_by_name(st, "subject") != NULL;
}

/* ---- cases ---- */

/* §10.1: the first to enter creates the room, owns it, and it stays
 * locked (others get item-not-found) until the owner accepts the default
 * configuration (an instant room). */
static void the_first_joiner_creates_a_locked_room_and_unlocks_it_by_configuring(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob)
        goto out;
    xmpp_stanza_t *self = NULL;
    CHECK(strcmp(h_muc_enter_x(alice, "tea", "Al", NULL, &self), "ok") == 0);
    xmpp_stanza_t *it = h_muc_item_of(self);
    CHECK(h_muc_has_status(self, "201") && h_muc_has_status(self, "110"));
    CHECK(it && h_attr_eq(it, "affiliation", "owner") && h_attr_eq(it, "role", "moderator"));
    if (self)
        xmpp_stanza_release(self);
    CHECK_MSG(strcmp(h_muc_enter(bob, "tea", "Bo"), "item-not-found") == 0,
              "bob entered a locked room");
    /* The owner asks for the form, then submits it empty: an instant room. */
    xmpp_stanza_t *form =
        h_iq(alice, "get", h_muc_room("tea"), "<query xmlns='" NS_OWNER "'/>", 5000);
    xmpp_stanza_t *q = h_child(form, "query", NS_OWNER);
    xmpp_stanza_t *x = q ? h_child(q, "x", "jabber:x:data") : NULL;
    CHECK_MSG(x && h_attr_eq(x, "type", "form"), "no configuration form");
    if (form)
        xmpp_stanza_release(form);
    CHECK(strcmp(h_iq_outcome(bob, "get", h_muc_room("tea"), "<query xmlns='" NS_OWNER "'/>"),
                 "forbidden") == 0);
    CHECK(strcmp(h_iq_outcome(alice, "set", h_muc_room("tea"),
                              "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' "
                              "type='submit'/></query>"),
                 "result") == 0);
    CHECK(strcmp(h_muc_enter(bob, "tea", "Bo"), "ok") == 0);
    /* A groupchat 1.0 join (no <x/>) makes an unlocked instant room at once. */
    h_send(bob, "<presence to='%s'/>", h_muc_occ("gc10", "Bo"));
    xmpp_stanza_t *p = h_muc_presence_from(bob, h_muc_occ("gc10", "Bo"), NULL);
    CHECK(p && h_muc_has_status(p, "110") && h_muc_has_status(p, "201"));
    if (p)
        xmpp_stanza_release(p);
    CHECK(strcmp(h_muc_enter(alice, "gc10", "Al"), "ok") == 0);
    /* Cancelling the first configuration cancels the room (§10.1.3). */
    CHECK(strcmp(h_muc_enter(bob, "cancelled", "Bo"), "ok") == 0);
    CHECK(strcmp(h_iq_outcome(bob, "set", h_muc_room("cancelled"),
                              "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' "
                              "type='cancel'/></query>"),
                 "result") == 0);
    CHECK(h_got(h_muc_presence_from(bob, h_muc_occ("cancelled", "Bo"), "unavailable")));
    CHECK(strcmp(h_iq_outcome(bob, "get", h_muc_room("cancelled"),
                              "<query xmlns='" NS_DISCO_INFO "'/>"),
                 "item-not-found") == 0);
    h_muc_leave(alice, "tea", "Al");
    h_muc_leave(bob, "tea", "Bo");
    h_muc_leave(alice, "gc10", "Al");
    h_muc_leave(bob, "gc10", "Bo");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* §7.2.3, §7.14: a newcomer gets the others' presence, then everyone gets
 * the newcomer's; real JIDs only to moderators in a semi-anonymous room and
 * to everyone (with 100) in a non-anonymous one; leaving is broadcast. */
static void occupants_see_each_other_and_real_jids_only_as_the_room_allows(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "semi", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "semi", "Bo"), "ok") == 0);
    xmpp_stanza_t *p = h_muc_presence_from(bob, h_muc_occ("semi", "Al"), NULL);
    xmpp_stanza_t *it = h_muc_item_of(p);
    CHECK_MSG(it && h_attr_eq(it, "role", "moderator") && h_attr_eq(it, "jid", NULL),
              "bob saw the owner wrongly");
    if (p)
        xmpp_stanza_release(p);
    p = h_muc_presence_from(alice, h_muc_occ("semi", "Bo"), NULL);
    it = h_muc_item_of(p);
    CHECK_MSG(it && h_attr_eq(it, "role", "participant") &&
                  h_attr_eq(it, "jid", "bob@example.test/b"),
              "the moderator did not see bob's JID");
    if (p)
        xmpp_stanza_release(p);
    /* Entering again under the same nick (a client that lost track) gives
     * the whole entry sequence again: the others, itself, the subject. */
    h_drain(bob);
    xmpp_stanza_t *again = NULL;
    CHECK(strcmp(h_muc_enter_x(bob, "semi", "Bo", "<history maxstanzas='0'/>", &again), "ok") == 0);
    h_rel(again);
    CHECK(h_got(h_muc_presence_from(bob, h_muc_occ("semi", "Al"), NULL)));
    CHECK(h_got(h_wait_for(bob, is_subject, NULL, 5000)));
    h_drain(alice);
    /* A status change is broadcast too. */
    h_send(bob, "<presence to='%s'><show>away</show></presence>", h_muc_occ("semi", "Bo"));
    p = h_muc_presence_from(alice, h_muc_occ("semi", "Bo"), NULL);
    char *show = p ? h_child_text(p, "show") : NULL;
    CHECK(show && strcmp(show, "away") == 0);
    free(show);
    if (p)
        xmpp_stanza_release(p);
    h_muc_leave(bob, "semi", "Bo");
    p = h_muc_presence_from(alice, h_muc_occ("semi", "Bo"), "unavailable");
    it = h_muc_item_of(p);
    CHECK(it && h_attr_eq(it, "role", "none"));
    if (p)
        xmpp_stanza_release(p);

    CHECK(h_muc_create(alice, "open", "Al", FIELD("whois", "anyone"), 1));
    xmpp_stanza_t *self = NULL;
    CHECK(strcmp(h_muc_enter_x(bob, "open", "Bo", NULL, &self), "ok") == 0);
    CHECK_MSG(self && h_muc_has_status(self, "100"), "no 100 in a non-anonymous room");
    if (self)
        xmpp_stanza_release(self);
    /* 100 warns the newcomer alone; the others' copy carries no status. */
    p = h_muc_presence_from(alice, h_muc_occ("open", "Bo"), NULL);
    CHECK_MSG(p && !h_muc_has_status(p, "100") && !h_muc_has_status(p, "110"),
              "the others' copy of an entering presence carries the newcomer's status");
    if (p)
        xmpp_stanza_release(p);
    p = h_muc_presence_from(bob, h_muc_occ("open", "Al"), NULL);
    it = h_muc_item_of(p);
    CHECK(it && h_attr_eq(it, "jid", "alice@example.test/a"));
    if (p)
        xmpp_stanza_release(p);
    h_muc_leave(bob, "open", "Bo");
    h_muc_leave(alice, "open", "Al");
    h_muc_leave(alice, "semi", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* §7.4 and XEP-0359: everyone, the sender too, gets the message from the
 * sender's occupant JID with the room's stanza-id; a stanza-id the client
 * forged is dropped. */
static void groupchat_reaches_every_occupant_with_the_rooms_stanza_id(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!alice || !bob || !carol || !h_muc_create(alice, "chat", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "chat", "Bo"), "ok") == 0);
    CHECK(strcmp(h_muc_enter(carol, "chat", "Ca"), "ok") == 0);
    h_drain(alice);
    h_drain(bob);
    h_drain(carol);
    h_send(bob,
           "<message to='%s' type='groupchat' id='m1'><body>hello all</body>"
           "<stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='%s'/></message>",
           h_muc_room("chat"), h_muc_room("chat"));
    h_client_t *all[] = {alice, bob, carol};
    for (int i = 0; i < 3; i++) {
        xmpp_stanza_t *m = h_muc_heard(all[i], h_muc_occ("chat", "Bo"), "hello all");
        xmpp_stanza_t *sid = h_child(m, "stanza-id", "urn:xmpp:sid:0");
        CHECK_MSG(m, "client %d did not get the message", i);
        CHECK_MSG(sid && h_attr_eq(sid, "by", h_muc_room("chat")) &&
                      !h_attr_eq(sid, "id", "forged"),
                  "client %d: no room stanza-id", i);
        int sids = 0;
        for (xmpp_stanza_t *k = m ? xmpp_stanza_get_children(m) : NULL; k;
             k = xmpp_stanza_get_next(k))
            sids += xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "stanza-id") == 0;
        CHECK_MSG(sids == 1, "client %d: %d stanza-ids", i, sids);
        CHECK_MSG(m && h_attr_eq(m, "id", "m1"), "client %d: the sender's id was not kept", i);
        if (m)
            xmpp_stanza_release(m);
    }
    h_muc_leave(carol, "chat", "Ca");
    h_muc_leave(bob, "chat", "Bo");
    h_muc_leave(alice, "chat", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* The core stamps who sent a stanza, and the room names the sender by the
 * nick of that session: a 'from' naming another occupant ends the forger's
 * stream and reaches nobody; a groupchat to an occupant JID is bad-request;
 * someone outside the room is not-acceptable; a room that does not exist
 * is item-not-found. */
static void an_occupant_cannot_speak_as_another_or_from_outside(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!alice || !bob || !carol || !h_muc_create(alice, "forge", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "forge", "Bo"), "ok") == 0);
    h_drain(alice);
    h_send(carol, "<message to='%s' type='groupchat' id='out1'><body>let me in</body></message>",
           h_muc_room("forge"));
    CHECK(h_error_is(h_wait(carol, &(h_match_t){.name = "message", .id = "out1"}, 5000),
                     "not-acceptable"));
    h_send(carol, "<message to='%s' type='groupchat' id='none1'><body>x</body></message>",
           h_muc_room("nosuchroom"));
    CHECK(h_error_is(h_wait(carol, &(h_match_t){.name = "message", .id = "none1"}, 5000),
                     "item-not-found"));
    h_send(bob, "<message to='%s' type='groupchat' id='gc2'><body>x</body></message>",
           h_muc_occ("forge", "Al"));
    CHECK(
        h_error_is(h_wait(bob, &(h_match_t){.name = "message", .id = "gc2"}, 5000), "bad-request"));
    h_send(bob,
           "<message from='alice@example.test/a' to='%s' type='groupchat' id='f1'>"
           "<body>I am alice</body></message>",
           h_muc_room("forge"));
    CHECK(h_wait_disconnect(bob, 5000));
    h_settle(alice);
    CHECK_MSG(h_count(alice, &(h_match_t){.name = "message", .body = "I am alice"}) == 0,
              "the forged message reached the room");
    h_muc_leave(alice, "forge", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_ctx_free(ctx);
}

static int count_history(h_client_t *c, const char *room, int *delayed)
{
    h_settle(c);
    int n = 0;
    *delayed = 0;
    for (size_t i = 0; i < c->ninbox; i++) {
        xmpp_stanza_t *m = c->inbox[i];
        if (strcmp(xmpp_stanza_get_name(m), "message") != 0 ||
            !xmpp_stanza_get_child_by_name(m, "body"))
            continue;
        n++;
        xmpp_stanza_t *d = h_child(m, "delay", "urn:xmpp:delay");
        *delayed += d && h_attr_eq(d, "from", h_muc_room(room));
    }
    return n;
}

/* §7.2.15: a newcomer gets the recent messages it asks for (maxstanzas,
 * maxchars, seconds, since), each with a <delay/> from the room, and then
 * the subject. */
static void history_on_entering_honours_what_the_client_asks(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "hist", "Al", NULL, 1))
        goto out;
    for (int i = 1; i <= 4; i++) {
        char body[16];
        snprintf(body, sizeof(body), "h%d", i);
        h_muc_say(alice, "hist", body);
        h_rel(h_muc_heard(alice, h_muc_occ("hist", "Al"), body));
    }
    struct {
        const char *inner;
        int want;
    } cases[] = {
        {"", 4},
        {"<history maxstanzas='2'/>", 2},
        {"<history maxchars='0'/>", 0},
        {"<history seconds='3600'/>", 4},
        {"<history since='1970-01-01T00:00:00Z'/>", 4},
        {"<history since='2999-01-01T00:00:00Z'/>", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        h_drain(bob);
        CHECK(strcmp(h_muc_enter_x(bob, "hist", "Bo", cases[i].inner, NULL), "ok") == 0);
        int delayed, n = count_history(bob, "hist", &delayed);
        CHECK_MSG(n == cases[i].want && delayed == n, "%s: %d messages, %d delayed, want %d",
                  cases[i].inner, n, delayed, cases[i].want);
        xmpp_stanza_t *subj = h_wait_for(bob, is_subject, NULL, 2000);
        CHECK_MSG(subj && xmpp_stanza_get_child_by_name(subj, "subject"), "%s: no subject",
                  cases[i].inner);
        if (subj)
            xmpp_stanza_release(subj);
        h_muc_leave(bob, "hist", "Bo");
    }
    h_muc_leave(alice, "hist", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* §8.1: a participant may set the subject while the room allows it, and
 * everyone gets it; a room that does not gets forbidden; newcomers see it
 * from who set it. */
static void the_subject_is_set_by_whom_the_room_allows(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!alice || !bob || !carol || !h_muc_create(alice, "subj", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "subj", "Bo"), "ok") == 0);
    h_drain(alice);
    h_drain(bob);
    h_send(bob, "<message to='%s' type='groupchat'><subject>Tea time</subject></message>",
           h_muc_room("subj"));
    xmpp_stanza_t *m =
        h_wait(alice, &(h_match_t){.name = "message", .from = h_muc_occ("subj", "Bo")}, 5000);
    char *t = m ? h_child_text(m, "subject") : NULL;
    CHECK(t && strcmp(t, "Tea time") == 0);
    free(t);
    if (m)
        xmpp_stanza_release(m);
    CHECK(strcmp(h_muc_enter(carol, "subj", "Ca"), "ok") == 0);
    m = h_wait(carol, &(h_match_t){.name = "message", .from = h_muc_occ("subj", "Bo")}, 5000);
    t = m ? h_child_text(m, "subject") : NULL;
    CHECK_MSG(t && strcmp(t, "Tea time") == 0, "the newcomer did not get the subject");
    free(t);
    if (m)
        xmpp_stanza_release(m);
    CHECK(strcmp(h_muc_configure(alice, "subj", FIELD("changesubject", "0")), "result") == 0);
    /* Occupants are told the configuration changed (104). */
    m = h_wait(bob, &(h_match_t){.name = "message", .from = h_muc_room("subj")}, 5000);
    CHECK(m && h_muc_has_status(m, "104"));
    if (m)
        xmpp_stanza_release(m);
    h_send(bob, "<message to='%s' type='groupchat' id='s2'><subject>Mine</subject></message>",
           h_muc_room("subj"));
    CHECK(h_error_is(h_wait(bob, &(h_match_t){.name = "message", .id = "s2"}, 5000), "forbidden"));
    h_muc_leave(carol, "subj", "Ca");
    h_muc_leave(bob, "subj", "Bo");
    h_muc_leave(alice, "subj", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* §7.5: a message to room/nick reaches that occupant from the sender's
 * occupant JID, marked with muc#user; an unknown nick is item-not-found. */
static void private_messages_go_between_occupants(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "pm", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "pm", "Bo"), "ok") == 0);
    h_send(alice, "<message to='%s' type='chat' id='p1'><body>psst</body></message>",
           h_muc_occ("pm", "Bo"));
    xmpp_stanza_t *m = h_wait(
        bob, &(h_match_t){.name = "message", .from = h_muc_occ("pm", "Al"), .body = "psst"}, 5000);
    CHECK(m && h_attr_eq(m, "type", "chat") && muc_x(m));
    if (m)
        xmpp_stanza_release(m);
    h_send(alice, "<message to='%s' type='chat' id='p2'><body>anyone?</body></message>",
           h_muc_occ("pm", "Nobody"));
    CHECK(h_error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "p2"}, 5000),
                     "item-not-found"));
    h_muc_leave(bob, "pm", "Bo");
    h_muc_leave(alice, "pm", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* §7.2.5-§7.2.9 and §7.2.1: each refusal with its condition. */
static void entering_is_refused_with_the_xep_0045_conditions(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    h_client_t *oscar = h_login(ctx, srv, "oscar@other.test/o", "pw", 0);
    if (!alice || !bob || !carol || !oscar)
        goto out;
    CHECK(h_muc_create(alice, "secret", "Al",
                       FIELD("passwordprotectedroom", "1") FIELD("roomsecret", "tea4two"), 1));
    CHECK(strcmp(h_muc_enter(bob, "secret", "Bo"), "not-authorized") == 0);
    CHECK(strcmp(h_muc_enter_x(bob, "secret", "Bo", "<password>wrong</password>", NULL),
                 "not-authorized") == 0);
    CHECK(strcmp(h_muc_enter_x(bob, "secret", "Bo", "<password>tea4two</password>", NULL), "ok") ==
          0);
    CHECK(strcmp(h_muc_enter_x(carol, "secret", "Bo", "<password>tea4two</password>", NULL),
                 "conflict") == 0);
    /* A password-protected room without a password is refused as a form. */
    CHECK(strcmp(h_muc_configure(alice, "secret", FIELD("roomsecret", "")), "not-acceptable") == 0);
    CHECK(strcmp(h_muc_configure(alice, "secret", FIELD("membersonly", "maybe")),
                 "not-acceptable") == 0);
    CHECK(strcmp(h_iq_outcome(alice, "set", h_muc_room("secret"),
                              "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' "
                              "type='submit'><field><value>v</value></field></x></query>"),
                 "bad-request") == 0);
    h_muc_leave(bob, "secret", "Bo");
    h_muc_leave(alice, "secret", "Al");

    CHECK(h_muc_create(alice, "club", "Al", FIELD("membersonly", "1"), 1));
    CHECK(strcmp(h_muc_enter(bob, "club", "Bo"), "registration-required") == 0);
    /* A refused entry carries <x xmlns='…/muc'/>, which clients look for. */
    h_send(bob, "<presence to='%s' id='rr'><x xmlns='" NS_MUC "'/></presence>",
           h_muc_occ("club", "Bo"));
    xmpp_stanza_t *refused = h_wait(bob, &(h_match_t){.name = "presence", .id = "rr"}, 5000);
    CHECK(refused && h_child(refused, "x", NS_MUC) && h_error_is(refused, "registration-required"));
    CHECK(strcmp(h_iq_outcome(alice, "set", h_muc_room("club"),
                              "<query xmlns='" NS_ADMIN "'><item affiliation='member' "
                              "jid='bob@example.test'/></query>"),
                 "result") == 0);
    CHECK(strcmp(h_muc_enter(bob, "club", "Bo"), "ok") == 0);
    h_muc_leave(bob, "club", "Bo");

    CHECK(h_muc_create(alice, "small", "Al", FIELD("maxusers", "2"), 1));
    CHECK(strcmp(h_muc_enter(bob, "small", "Bo"), "ok") == 0);
    CHECK(strcmp(h_muc_enter(carol, "small", "Ca"), "service-unavailable") == 0);
    h_muc_leave(bob, "small", "Bo");
    CHECK(strcmp(h_muc_enter(carol, "small", "Ca"), "ok") == 0);
    h_muc_leave(carol, "small", "Ca");
    h_muc_leave(alice, "small", "Al");

    /* No nickname; another tenant's user. */
    h_send(bob, "<presence to='%s' id='nn'><x xmlns='" NS_MUC "'/></presence>", h_muc_room("club"));
    CHECK(h_error_is(h_wait(bob, &(h_match_t){.name = "presence", .id = "nn"}, 5000),
                     "jid-malformed"));
    CHECK(strcmp(h_muc_enter(oscar, "club", "Os"), "forbidden") == 0);
    h_muc_leave(alice, "club", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_client_free(oscar);
    h_ctx_free(ctx);
}

/* §8.2, §8.4, §8.5, §9.1: a moderator kicks (307), bans (301; the banned
 * cannot come back), and in a moderated room visitors speak only once
 * given voice; a participant may do none of it, nobody kicks an owner. */
static void moderators_kick_ban_and_give_voice(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!alice || !bob || !carol ||
        !h_muc_create(alice, "mod", "Al", FIELD("moderatedroom", "1"), 1))
        goto out;
    xmpp_stanza_t *self = NULL;
    CHECK(strcmp(h_muc_enter_x(bob, "mod", "Bo", NULL, &self), "ok") == 0);
    CHECK(self && h_attr_eq(h_muc_item_of(self), "role", "visitor"));
    if (self)
        xmpp_stanza_release(self);
    CHECK(strcmp(h_muc_enter(carol, "mod", "Ca"), "ok") == 0);
    h_send(bob, "<message to='%s' type='groupchat' id='v1'><body>hi</body></message>",
           h_muc_room("mod"));
    CHECK(h_error_is(h_wait(bob, &(h_match_t){.name = "message", .id = "v1"}, 5000), "forbidden"));
    CHECK(strcmp(h_muc_admin_set(bob, "mod", "<item nick='Ca' role='none'/>"), "forbidden") == 0);
    CHECK(strcmp(h_muc_admin_set(alice, "mod", "<item nick='Bo' role='participant'/>"), "result") ==
          0);
    xmpp_stanza_t *p = h_muc_presence_from(bob, h_muc_occ("mod", "Bo"), NULL);
    CHECK(p && h_attr_eq(h_muc_item_of(p), "role", "participant"));
    if (p)
        xmpp_stanza_release(p);
    h_muc_say(bob, "mod", "voiced");
    CHECK(h_got(h_muc_heard(carol, h_muc_occ("mod", "Bo"), "voiced")));
    /* Bob is a participant, not a moderator: he kicks nobody. */
    CHECK(strcmp(h_muc_admin_set(bob, "mod", "<item nick='Al' role='none'/>"), "forbidden") == 0);
    CHECK(strcmp(h_muc_admin_set(alice, "mod", "<item nick='Al' role='none'/>"), "not-allowed") ==
          0);
    CHECK(strcmp(h_muc_admin_set(alice, "mod", "<item nick='Nobody' role='none'/>"),
                 "item-not-found") == 0);
    CHECK(strcmp(h_muc_admin_set(alice, "mod",
                                 "<item nick='Bo' role='none'><reason>too loud</reason></item>"),
                 "result") == 0);
    p = h_muc_presence_from(bob, h_muc_occ("mod", "Bo"), "unavailable");
    CHECK_MSG(p && h_muc_has_status(p, "307") && h_muc_has_status(p, "110"),
              "bob was not told of the kick");
    xmpp_stanza_t *it = h_muc_item_of(p);
    xmpp_stanza_t *actor = it ? xmpp_stanza_get_child_by_name(it, "actor") : NULL;
    CHECK(actor && h_attr_eq(actor, "nick", "Al"));
    if (p)
        xmpp_stanza_release(p);
    p = h_muc_presence_from(carol, h_muc_occ("mod", "Bo"), "unavailable");
    CHECK(p && h_muc_has_status(p, "307"));
    if (p)
        xmpp_stanza_release(p);
    /* Kicked is not banned: bob comes back, then is banned. */
    CHECK(strcmp(h_muc_enter(bob, "mod", "Bo"), "ok") == 0);
    /* Banned by nick: the occupant's bare JID is what is banned. */
    CHECK(strcmp(h_muc_admin_set(alice, "mod", "<item affiliation='outcast' nick='Bo'/>"),
                 "result") == 0);
    p = h_muc_presence_from(bob, h_muc_occ("mod", "Bo"), "unavailable");
    CHECK(p && h_muc_has_status(p, "301"));
    if (p)
        xmpp_stanza_release(p);
    CHECK(strcmp(h_muc_enter(bob, "mod", "Bo"), "forbidden") == 0);
    h_muc_leave(carol, "mod", "Ca");
    h_muc_leave(alice, "mod", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* The jids of an affiliation list, "a b " in the server's order, or "?". */
static void affil_list(h_client_t *c, const char *room, const char *affil, char *out, size_t len)
{
    char q[256];
    snprintf(q, sizeof(q), "<query xmlns='" NS_ADMIN "'><item affiliation='%s'/></query>", affil);
    xmpp_stanza_t *r = h_iq(c, "get", h_muc_room(room), q, 5000);
    xmpp_stanza_t *qq = r && h_attr_eq(r, "type", "result") ? h_child(r, "query", NS_ADMIN) : NULL;
    snprintf(out, len, "%s", qq ? "" : (r && h_error_condition(r) ? h_error_condition(r) : "?"));
    for (xmpp_stanza_t *k = qq ? xmpp_stanza_get_children(qq) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        const char *jid = xmpp_stanza_is_tag(k) ? xmpp_stanza_get_attribute(k, "jid") : NULL;
        if (jid && strlen(out) + strlen(jid) + 2 < len) {
            strcat(out, jid);
            strcat(out, " ");
        }
    }
    if (r)
        xmpp_stanza_release(r);
}

/* §9.5, §10.3-§10.8: lists are read and changed by whom the XEP allows;
 * an admin manages members but not admins or owners; the last owner
 * cannot step down; a refused item changes nothing of its request. */
static void affiliation_lists_are_read_and_changed_by_rank(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "ranks", "Al", NULL, 1))
        goto out;
    char l[512];
    affil_list(alice, "ranks", "owner", l, sizeof(l));
    CHECK_MSG(strcmp(l, "alice@example.test ") == 0, "owners: %s", l);
    CHECK(strcmp(h_muc_admin_set(alice, "ranks",
                                 "<item affiliation='admin' jid='bob@example.test'/>"
                                 "<item affiliation='member' jid='carol@example.test'/>"),
                 "result") == 0);
    affil_list(bob, "ranks", "member", l, sizeof(l));
    CHECK_MSG(strcmp(l, "carol@example.test ") == 0, "members as admin: %s", l);
    affil_list(bob, "ranks", "owner", l, sizeof(l));
    CHECK_MSG(strcmp(l, "forbidden") == 0, "owners as admin: %s", l);
    CHECK(strcmp(
              h_muc_admin_set(bob, "ranks", "<item affiliation='member' jid='dave@example.test'/>"),
              "result") == 0);
    CHECK(
        strcmp(h_muc_admin_set(bob, "ranks", "<item affiliation='admin' jid='dave@example.test'/>"),
               "not-allowed") == 0);
    CHECK(
        strcmp(h_muc_admin_set(bob, "ranks", "<item affiliation='none' jid='alice@example.test'/>"),
               "not-allowed") == 0);
    CHECK(strcmp(h_muc_admin_set(alice, "ranks",
                                 "<item affiliation='member' jid='alice@example.test'/>"),
                 "conflict") == 0);
    /* One bad item: the good one before it is not applied either. */
    CHECK(strcmp(h_muc_admin_set(alice, "ranks",
                                 "<item affiliation='member' jid='erin@example.test'/>"
                                 "<item affiliation='king' jid='frank@example.test'/>"),
                 "bad-request") == 0);
    affil_list(alice, "ranks", "member", l, sizeof(l));
    CHECK_MSG(strcmp(l, "carol@example.test dave@example.test ") == 0, "members: %s", l);
    CHECK(strcmp(h_muc_admin_set(alice, "ranks", "<item affiliation='member' jid='x@y/res'/>"),
                 "jid-malformed") == 0);
    CHECK(strcmp(h_muc_admin_set(alice, "ranks", "<item affiliation='member' nick='Nobody'/>"),
                 "item-not-found") == 0);
    h_muc_leave(alice, "ranks", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* §7.6: a new nick is announced as unavailable from the old one with 303
 * and the new nick, then available from the new one; a taken nick is
 * conflict and changes nothing. */
static void nick_changes_are_announced_and_conflicts_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "nicks", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "nicks", "Bo"), "ok") == 0);
    h_drain(alice);
    h_send(bob, "<presence to='%s'/>", h_muc_occ("nicks", "Bob2"));
    xmpp_stanza_t *p = h_muc_presence_from(alice, h_muc_occ("nicks", "Bo"), "unavailable");
    CHECK(p && h_muc_has_status(p, "303") && h_attr_eq(h_muc_item_of(p), "nick", "Bob2"));
    if (p)
        xmpp_stanza_release(p);
    p = h_muc_presence_from(alice, h_muc_occ("nicks", "Bob2"), NULL);
    CHECK(p != NULL);
    if (p)
        xmpp_stanza_release(p);
    p = h_muc_presence_from(bob, h_muc_occ("nicks", "Bob2"), NULL);
    CHECK(p && h_muc_has_status(p, "110"));
    if (p)
        xmpp_stanza_release(p);
    h_send(bob, "<presence to='%s' id='nc'/>", h_muc_occ("nicks", "Al"));
    CHECK(h_error_is(h_wait(bob, &(h_match_t){.name = "presence", .id = "nc"}, 5000), "conflict"));
    h_muc_say(bob, "nicks", "still Bob2");
    CHECK(h_got(h_muc_heard(alice, h_muc_occ("nicks", "Bob2"), "still Bob2")));
    h_muc_leave(bob, "nicks", "Bob2");
    h_muc_leave(alice, "nicks", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* §10.9: occupants leave with <destroy jid=alternate/> and the reason; the
 * room is gone afterwards; only an owner destroys. */
static void destroying_a_room_sends_everyone_to_the_alternate_venue(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "doomed", "Al", FIELD("persistentroom", "1"), 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "doomed", "Bo"), "ok") == 0);
    const char *destroy = "<query xmlns='" NS_OWNER "'><destroy jid='new@" SVC "'>"
                          "<reason>moved</reason></destroy></query>";
    CHECK(strcmp(h_iq_outcome(bob, "set", h_muc_room("doomed"), destroy), "forbidden") == 0);
    CHECK(strcmp(h_iq_outcome(alice, "set", h_muc_room("doomed"), destroy), "result") == 0);
    xmpp_stanza_t *p = h_muc_presence_from(bob, h_muc_occ("doomed", "Bo"), "unavailable");
    xmpp_stanza_t *d = p && muc_x(p) ? xmpp_stanza_get_child_by_name(muc_x(p), "destroy") : NULL;
    char *why = d ? h_child_text(d, "reason") : NULL;
    CHECK(d && h_attr_eq(d, "jid", "new@" SVC) && why && strcmp(why, "moved") == 0);
    free(why);
    if (p)
        xmpp_stanza_release(p);
    CHECK(
        strcmp(h_iq_outcome(bob, "get", h_muc_room("doomed"), "<query xmlns='" NS_DISCO_INFO "'/>"),
               "item-not-found") == 0);
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static int has_feature(xmpp_stanza_t *q, const char *var)
{
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "feature") == 0 &&
            h_attr_eq(k, "var", var))
            return 1;
    return 0;
}

static int has_item(xmpp_stanza_t *q, const char *jid)
{
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && h_attr_eq(k, "jid", jid))
            return 1;
    return 0;
}

/* XEP-0045 §6: the host lists the service; the service is a text
 * conference and lists public rooms only; a room shows the features of its
 * configuration and the muc#roominfo form. */
static void disco_shows_the_service_its_public_rooms_and_each_rooms_features(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    if (!alice ||
        !h_muc_create(alice, "shown", "Al",
                      FIELD("roomname", "Shown room") FIELD("roomdesc", "for all")
                          FIELD("persistentroom", "1") FIELD("membersonly", "1"),
                      1) ||
        !h_muc_create(alice, "hidden", "Al", FIELD("publicroom", "0"), 1))
        goto out;
    xmpp_stanza_t *r =
        h_iq(alice, "get", "example.test", "<query xmlns='" NS_DISCO_ITEMS "'/>", 5000);
    CHECK_MSG(has_item(h_child(r, "query", NS_DISCO_ITEMS), SVC), "the host does not list " SVC);
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(alice, "get", SVC, "<query xmlns='" NS_DISCO_INFO "'/>", 5000);
    xmpp_stanza_t *q = h_child(r, "query", NS_DISCO_INFO);
    xmpp_stanza_t *id = q ? xmpp_stanza_get_child_by_name(q, "identity") : NULL;
    CHECK(id && h_attr_eq(id, "category", "conference") && h_attr_eq(id, "type", "text"));
    CHECK(has_feature(q, NS_MUC));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(alice, "get", SVC, "<query xmlns='" NS_DISCO_ITEMS "'/>", 5000);
    q = h_child(r, "query", NS_DISCO_ITEMS);
    CHECK(has_item(q, h_muc_room("shown")) && !has_item(q, h_muc_room("hidden")));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(alice, "get", h_muc_room("shown"), "<query xmlns='" NS_DISCO_INFO "'/>", 5000);
    q = h_child(r, "query", NS_DISCO_INFO);
    id = q ? xmpp_stanza_get_child_by_name(q, "identity") : NULL;
    CHECK(id && h_attr_eq(id, "name", "Shown room"));
    CHECK(has_feature(q, NS_MUC) && has_feature(q, "muc_persistent") &&
          has_feature(q, "muc_membersonly") && has_feature(q, "muc_public") &&
          has_feature(q, "muc_semianonymous") && has_feature(q, "muc_unsecured") &&
          has_feature(q, NS_MUC "#stable_id") && has_feature(q, NS_MUC "#self-ping-optimization"));
    xmpp_stanza_t *x = q ? h_child(q, "x", "jabber:x:data") : NULL;
    int desc = 0;
    for (xmpp_stanza_t *k = x ? xmpp_stanza_get_children(x) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && h_attr_eq(k, "var", "muc#roominfo_description")) {
            char *v = h_child_text(k, "value");
            desc = v && strcmp(v, "for all") == 0;
            free(v);
        }
    CHECK_MSG(desc, "no muc#roominfo_description");
    if (r)
        xmpp_stanza_release(r);
    CHECK(strcmp(h_iq_outcome(alice, "get", h_muc_room("nowhere"),
                              "<query xmlns='" NS_DISCO_INFO "'/>"),
                 "item-not-found") == 0);
    /* An IQ the service does not know is service-unavailable. */
    CHECK(strcmp(h_iq_outcome(alice, "get", SVC, "<query xmlns='jabber:iq:version'/>"),
                 "service-unavailable") == 0);
    h_muc_leave(alice, "hidden", "Al");
    h_muc_leave(alice, "shown", "Al");
out:
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* What the module keeps in LMDB: after a restart the persistent room
 * still has its name, configuration, subject and lists; a temporary room
 * is gone. */
static void persistent_rooms_and_their_lists_survive_a_restart(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    if (!alice || !h_muc_create(alice, "keep", "Al",
                                FIELD("roomname", "Kept &amp; sound") FIELD("persistentroom", "1")
                                    FIELD("membersonly", "1"),
                                1))
        goto out;
    CHECK(strcmp(h_muc_admin_set(alice, "keep",
                                 "<item affiliation='member' jid='bob@example.test'/>"
                                 "<item affiliation='outcast' jid='carol@example.test'/>"),
                 "result") == 0);
    h_send(alice, "<message to='%s' type='groupchat'><subject>Kept subject</subject></message>",
           h_muc_room("keep"));
    h_rel(h_wait(alice, &(h_match_t){.name = "message", .from = h_muc_occ("keep", "Al")}, 5000));
    h_settle(alice);
    h_client_free(alice);
    alice = NULL;
    h_ctx_free(ctx);
    ctx = NULL;
    if (!CHECK(h_server_restart(srv) == 0))
        return;
    ctx = h_ctx_new();
    alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!alice || !bob || !carol) {
        h_client_free(bob);
        h_client_free(carol);
        goto out;
    }
    xmpp_stanza_t *r =
        h_iq(alice, "get", h_muc_room("keep"), "<query xmlns='" NS_DISCO_INFO "'/>", 5000);
    xmpp_stanza_t *q = h_child(r, "query", NS_DISCO_INFO);
    xmpp_stanza_t *id = q ? xmpp_stanza_get_child_by_name(q, "identity") : NULL;
    CHECK_MSG(id && h_attr_eq(id, "name", "Kept & sound"), "the room's name was lost");
    CHECK(has_feature(q, "muc_membersonly"));
    if (r)
        xmpp_stanza_release(r);
    char l[256];
    affil_list(alice, "keep", "member", l, sizeof(l));
    CHECK_MSG(strcmp(l, "bob@example.test ") == 0, "members after restart: %s", l);
    CHECK(strcmp(h_muc_enter(carol, "keep", "Ca"), "forbidden") == 0);
    CHECK(strcmp(h_muc_enter(bob, "keep", "Bo"), "ok") == 0);
    xmpp_stanza_t *m =
        h_wait(bob, &(h_match_t){.name = "message", .from = h_muc_occ("keep", "Al")}, 5000);
    char *t = m ? h_child_text(m, "subject") : NULL;
    CHECK_MSG(t && strcmp(t, "Kept subject") == 0, "the subject was lost");
    free(t);
    if (m)
        xmpp_stanza_release(m);
    h_muc_leave(bob, "keep", "Bo");
    CHECK(
        strcmp(h_iq_outcome(alice, "get", h_muc_room("tea"), "<query xmlns='" NS_DISCO_INFO "'/>"),
               "item-not-found") == 0);
    h_client_free(bob);
    h_client_free(carol);
out:
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* The presence module remembers directed presence: a client that
 * disappears without leaving is taken out of the room, and the others are
 * told. */
static void an_occupant_whose_session_ends_leaves_the_room(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "gone", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "gone", "Bo"), "ok") == 0);
    h_drain(alice);
    h_client_free(bob);
    bob = NULL;
    xmpp_stanza_t *p = h_muc_presence_from(alice, h_muc_occ("gone", "Bo"), "unavailable");
    CHECK_MSG(p != NULL, "no unavailable from the vanished occupant");
    if (p)
        xmpp_stanza_release(p);
    h_muc_leave(alice, "gone", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* A flood from one occupant is refused with resource-constraint past the
 * burst, and the others get only what was let through. */
static void a_flooding_occupant_is_slowed_with_a_clear_error(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "flood", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "flood", "Bo"), "ok") == 0);
    h_drain(alice);
    for (int i = 0; i < 20; i++)
        h_send(bob, "<message to='%s' type='groupchat' id='fl%d'><body>spam</body></message>",
               h_muc_room("flood"), i);
    h_settle(bob);
    h_settle(alice);
    int refused = h_count(bob, &(h_match_t){.name = "message", .error = "resource-constraint"});
    int got = h_count(alice, &(h_match_t){.name = "message", .body = "spam"});
    CHECK_MSG(refused > 0 && got > 0 && got + refused == 20, "refused %d, delivered %d", refused,
              got);
    h_muc_leave(bob, "flood", "Bo");
    h_muc_leave(alice, "flood", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* §7.8.2: the room passes an invitation on from itself, naming the
 * inviter; in a members-only room the invitee becomes a member and can
 * enter; a decline goes back to the inviter; someone outside the room and
 * a banned invitee are refused. */
static void mediated_invitations_reach_the_invitee_and_declines_the_inviter(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *dave = h_login(ctx, srv, "dave@example.test/d", "pw", 0);
    h_client_t *erin = h_login(ctx, srv, "erin@example.test/e", "pw", 0);
    if (!alice || !dave || !erin ||
        !h_muc_create(alice, "invites", "Al", FIELD("membersonly", "1"), 1))
        goto out;
    CHECK(strcmp(h_muc_enter(dave, "invites", "Da"), "registration-required") == 0);
    h_send(alice,
           "<message to='%s' id='i1'><x xmlns='" NS_USER "'><invite to='dave@example.test'>"
           "<reason>tea?</reason></invite></x></message>",
           h_muc_room("invites"));
    xmpp_stanza_t *m =
        h_wait(dave, &(h_match_t){.name = "message", .from = h_muc_room("invites")}, 5000);
    xmpp_stanza_t *inv = m && muc_x(m) ? xmpp_stanza_get_child_by_name(muc_x(m), "invite") : NULL;
    char *reason = inv ? h_child_text(inv, "reason") : NULL;
    CHECK_MSG(inv && h_attr_eq(inv, "from", "alice@example.test") && reason &&
                  strcmp(reason, "tea?") == 0,
              "dave got no invitation");
    free(reason);
    h_rel(m);
    CHECK(strcmp(h_muc_enter(dave, "invites", "Da"), "ok") == 0);
    h_muc_leave(dave, "invites", "Da");
    h_send(erin,
           "<message to='%s'><x xmlns='" NS_USER "'><decline to='alice@example.test'>"
           "<reason>busy</reason></decline></x></message>",
           h_muc_room("invites"));
    m = h_wait(alice, &(h_match_t){.name = "message", .from = h_muc_room("invites")}, 5000);
    xmpp_stanza_t *dec = m && muc_x(m) ? xmpp_stanza_get_child_by_name(muc_x(m), "decline") : NULL;
    CHECK_MSG(dec && h_attr_eq(dec, "from", "erin@example.test"), "alice got no decline");
    h_rel(m);
    h_send(erin,
           "<message to='%s' id='i2'><x xmlns='" NS_USER "'><invite to='frank@example.test'/>"
           "</x></message>",
           h_muc_room("invites"));
    CHECK(h_error_is(h_wait(erin, &(h_match_t){.name = "message", .id = "i2"}, 5000),
                     "not-acceptable"));
    CHECK(strcmp(h_muc_admin_set(alice, "invites",
                                 "<item affiliation='outcast' jid='frank@example.test'/>"),
                 "result") == 0);
    h_send(alice,
           "<message to='%s' id='i3'><x xmlns='" NS_USER "'><invite to='frank@example.test'/>"
           "</x></message>",
           h_muc_room("invites"));
    CHECK(
        h_error_is(h_wait(alice, &(h_match_t){.name = "message", .id = "i3"}, 5000), "forbidden"));
    h_muc_leave(alice, "invites", "Al");
out:
    h_client_free(alice);
    h_client_free(dave);
    h_client_free(erin);
    h_ctx_free(ctx);
}

/* XEP-0410: pinging one's own occupant JID says whether one is still in
 * the room (after a restart a client is not, whatever it believes). */
static void self_ping_tells_a_client_whether_it_is_still_in_the_room(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "pingme", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "pingme", "Bo"), "ok") == 0);
    const char *ping = "<ping xmlns='urn:xmpp:ping'/>";
    CHECK(strcmp(h_iq_outcome(alice, "get", h_muc_occ("pingme", "Al"), ping), "result") == 0);
    CHECK(strcmp(h_iq_outcome(alice, "get", h_muc_occ("pingme", "Nobody"), ping),
                 "item-not-found") == 0);
    /* A ping to another occupant is no self-ping: it goes to that
     * occupant's client (forward.c; more in test_muc_search.c), from the
     * pinger's occupant JID, and the answer comes back. */
    h_send(alice, "<iq type='get' id='pp1' to='%s'>%s</iq>", h_muc_occ("pingme", "Bo"), ping);
    xmpp_stanza_t *fw = h_wait(
        bob, &(h_match_t){.name = "iq", .type = "get", .from = h_muc_occ("pingme", "Al")}, 5000);
    CHECK(fw != NULL);
    if (fw) {
        h_send(bob, "<iq type='result' id='%s' to='%s'/>", xmpp_stanza_get_id(fw),
               h_muc_occ("pingme", "Al"));
        xmpp_stanza_release(fw);
    }
    xmpp_stanza_t *ans = h_wait(alice, &(h_match_t){.name = "iq", .id = "pp1"}, 5000);
    CHECK(ans && h_attr_eq(ans, "type", "result") &&
          h_attr_eq(ans, "from", h_muc_occ("pingme", "Bo")));
    if (ans)
        xmpp_stanza_release(ans);
    h_muc_leave(bob, "pingme", "Bo");
    CHECK(strcmp(h_iq_outcome(bob, "get", h_muc_occ("pingme", "Bo"), ping), "not-acceptable") == 0);
    CHECK(strcmp(h_iq_outcome(bob, "get", h_muc_occ("nosuchroom", "Bo"), ping), "not-acceptable") ==
          0);
    h_muc_leave(alice, "pingme", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Without the presence module nobody tells the room that a client went
 * away; the first groupchat message its server bounces removes it, with
 * 333 (§7.14), so the room holds no ghosts. */
static void an_occupant_whose_messages_bounce_is_removed(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "one", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "one", "Bo"), "ok") == 0);
    h_drain(alice);
    h_client_free(bob);
    bob = NULL;
    h_run_for(ctx, 300);
    CHECK_MSG(!h_count(alice, &(h_match_t){.name = "presence", .from = h_muc_occ("one", "Bo")}),
              "the room learnt of the departure without the presence module");
    h_muc_say(alice, "one", "anyone there?");
    xmpp_stanza_t *p = h_muc_presence_from(alice, h_muc_occ("one", "Bo"), "unavailable");
    CHECK_MSG(p && h_muc_has_status(p, "333"), "the gone occupant was not removed");
    h_rel(p);
    h_muc_leave(alice, "one", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* A client that is still connected may answer a message with an error
 * that would also mean "gone" (service-unavailable); its session is
 * alive, so it stays in the room. */
static void a_live_occupant_that_refuses_a_message_stays(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !h_muc_create(alice, "refusing", "Al", NULL, 1))
        goto out;
    CHECK(strcmp(h_muc_enter(bob, "refusing", "Bo"), "ok") == 0);
    h_drain(alice);
    h_send(bob,
           "<message to='%s' type='error' id='e1'><error type='cancel'><service-unavailable "
           "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
           h_muc_occ("refusing", "Al"));
    h_settle(alice);
    CHECK_MSG(
        !h_count(alice, &(h_match_t){.name = "presence", .from = h_muc_occ("refusing", "Bo")}),
        "bob was removed from the room");
    h_muc_say(bob, "refusing", "still here");
    CHECK(h_got(h_muc_heard(alice, h_muc_occ("refusing", "Bo"), "still here")));
    h_muc_leave(bob, "refusing", "Bo");
    h_muc_leave(alice, "refusing", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* max_rooms: past it a new room is refused with resource-constraint. */
static void the_room_count_per_host_is_bounded(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    if (alice) {
        CHECK(strcmp(h_muc_enter(alice, "one", "Al"), "ok") == 0);
        CHECK(strcmp(h_muc_enter(alice, "two", "Al"), "resource-constraint") == 0);
    }
    h_client_free(alice);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; "
                   "muc = { history_size = 10; occupant_rate = 1; occupant_burst = 8; };",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(the_first_joiner_creates_a_locked_room_and_unlocks_it_by_configuring, &srv);
        H_RUN(occupants_see_each_other_and_real_jids_only_as_the_room_allows, &srv);
        H_RUN(groupchat_reaches_every_occupant_with_the_rooms_stanza_id, &srv);
        H_RUN(an_occupant_cannot_speak_as_another_or_from_outside, &srv);
        H_RUN(history_on_entering_honours_what_the_client_asks, &srv);
        H_RUN(the_subject_is_set_by_whom_the_room_allows, &srv);
        H_RUN(private_messages_go_between_occupants, &srv);
        H_RUN(entering_is_refused_with_the_xep_0045_conditions, &srv);
        H_RUN(moderators_kick_ban_and_give_voice, &srv);
        H_RUN(affiliation_lists_are_read_and_changed_by_rank, &srv);
        H_RUN(nick_changes_are_announced_and_conflicts_refused, &srv);
        H_RUN(destroying_a_room_sends_everyone_to_the_alternate_venue, &srv);
        H_RUN(disco_shows_the_service_its_public_rooms_and_each_rooms_features, &srv);
        H_RUN(an_occupant_whose_session_ends_leaves_the_room, &srv);
        H_RUN(a_flooding_occupant_is_slowed_with_a_clear_error, &srv);
        H_RUN(self_ping_tells_a_client_whether_it_is_still_in_the_room, &srv);
        H_RUN(mediated_invitations_reach_the_invitee_and_declines_the_inviter, &srv);
        H_RUN(a_live_occupant_that_refuses_a_message_stays, &srv);
        H_RUN(persistent_rooms_and_their_lists_survive_a_restart, &srv);
    }
    h_server_stop(&srv);
    /* A server of its own, with one room at most and without the presence
     * module. */
    h_server_opts_t one_room = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; muc = { max_rooms = 1; };",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &one_room) == 0) {
        H_RUN(an_occupant_whose_messages_bounce_is_removed, &srv);
        H_RUN(the_room_count_per_host_is_bounded, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
