/* test_muc_occupant.c — who said what in a room, across time (issue #16,
 * GRP-8): XEP-0421 occupant ids on every presence and message from an
 * occupant (live, in history, in the room archive), the same for a user in
 * a room whatever its nick, session or the server's restarts, different in
 * another room, never the JID, never what a client forged; and XEP-0359
 * stanza-ids that are the same for one message live, in the history given
 * on entering and in the room archive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness-muc.h"
#include "tests/integration/harness.h"

#define SVC "groups.example.test"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_USER NS_MUC "#user"
#define NS_OID "urn:xmpp:occupant-id:0"
#define NS_SID "urn:xmpp:sid:0"
#define NS_MAM "urn:xmpp:mam:2"
#define NS_FWD "urn:xmpp:forward:0"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define FIELD(var, val) "<field var='muc#roomconfig_" var "'><value>" val "</value></field>"
#define FORGED "<occupant-id xmlns='" NS_OID "' id='forged-by-the-client'/>"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    NULL,
};
// clang-format on

/* The one occupant id a stanza (or a message inside it) carries, copied to
 * out; "" when it has none, "several" when it has more than one. */
static const char *oid_of(xmpp_stanza_t *st, char *out, size_t len)
{
    int n = 0;
    out[0] = '\0';
    for (xmpp_stanza_t *k = st ? xmpp_stanza_get_children(st) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        if (!xmpp_stanza_is_tag(k) || strcmp(xmpp_stanza_get_name(k), "occupant-id") != 0)
            continue;
        const char *ns = xmpp_stanza_get_ns(k), *id = xmpp_stanza_get_attribute(k, "id");
        if (ns && strcmp(ns, NS_OID) == 0 && n++ == 0)
            snprintf(out, len, "%s", id ? id : "");
    }
    if (n > 1)
        snprintf(out, len, "several");
    return out;
}

/* An id the room made: base64url of 128 bits, not the JID nor the forgery. */
static int looks_made_by_the_room(const char *id)
{
    if (strlen(id) != 22 || strstr(id, "forged") || strstr(id, "bob") || strstr(id, "alice"))
        return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return 0;
    return 1;
}

/* Enters room/nick (the presence carrying `extra`, e.g. a forged occupant
 * id, and <x/> holding `inner`) and copies the occupant id of the
 * self-presence (110) to id; 1 when it came. */
static int enter(h_client_t *c, const char *room, const char *nick, const char *inner,
                 const char *extra, char *id, size_t len)
{
    xmpp_stanza_t *self = NULL;
    int ok = strcmp(h_muc_join(c, h_muc_occ(room, nick), inner, extra, &self), "ok") == 0;
    id[0] = '\0';
    if (self)
        oid_of(self, id, len);
    h_rel(self);
    return ok;
}

static int create_room(h_client_t *owner, const char *room, const char *nick, const char *fields,
                       char *id, size_t len)
{
    if (!CHECK_MSG(enter(owner, room, nick, NULL, NULL, id, len), "creating %s", room))
        return 0;
    int ok = CHECK_MSG(strcmp(h_muc_configure(owner, room, fields), "result") == 0,
                       "configuring %s", room);
    h_drain(owner);
    return ok;
}

static void sid_of(xmpp_stanza_t *m, char *out, size_t len)
{
    xmpp_stanza_t *sid = h_child(m, "stanza-id", NS_SID);
    const char *v = sid ? xmpp_stanza_get_attribute(sid, "id") : NULL;
    snprintf(out, len, "%s", v ? v : "");
}

/* ---- cases ---- */

/* Every presence and message from an occupant carries the room's id for
 * it, whatever the client put in; the room advertises the feature. */
static void occupant_ids_go_with_every_presence_and_message_of_an_occupant(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    char al[64], bo[64], got[64];
    if (!alice || !bob || !create_room(alice, "oid", "Al", FIELD("changesubject", "1"), al, 64))
        goto out;
    CHECK_MSG(looks_made_by_the_room(al), "alice's own presence: occupant id '%s'", al);
    /* Bob forges one in his entering presence: the room replaces it. */
    CHECK(enter(bob, "oid", "Bo", NULL, FORGED, bo, sizeof(bo)));
    CHECK_MSG(looks_made_by_the_room(bo), "bob's own presence: occupant id '%s'", bo);
    CHECK_MSG(strcmp(al, bo) != 0, "alice and bob have the same id %s", al);
    xmpp_stanza_t *p =
        h_wait(alice, &(h_match_t){.name = "presence", .from = h_muc_occ("oid", "Bo")}, 5000);
    CHECK_MSG(p && strcmp(oid_of(p, got, sizeof(got)), bo) == 0,
              "alice sees bob's presence with occupant id '%s', not '%s'", got, bo);
    if (p)
        xmpp_stanza_release(p);
    /* What bob saw of alice on entering. */
    p = h_wait(bob, &(h_match_t){.name = "presence", .from = h_muc_occ("oid", "Al")}, 5000);
    CHECK_MSG(p && strcmp(oid_of(p, got, sizeof(got)), al) == 0,
              "bob sees alice with occupant id '%s', not '%s'", got, al);
    if (p)
        xmpp_stanza_release(p);
    h_drain(alice);
    h_drain(bob);
    /* A status change, forging again. */
    h_send(bob, "<presence to='%s'><show>away</show>" FORGED "</presence>", h_muc_occ("oid", "Bo"));
    p = h_wait(alice, &(h_match_t){.name = "presence", .from = h_muc_occ("oid", "Bo")}, 5000);
    CHECK_MSG(p && strcmp(oid_of(p, got, sizeof(got)), bo) == 0,
              "status change: occupant id '%s', not '%s'", got, bo);
    if (p)
        xmpp_stanza_release(p);
    /* Groupchat with a forged id: everyone gets bob's, once. */
    h_send(bob, "<message to='%s' type='groupchat' id='g1'><body>hello</body>" FORGED "</message>",
           h_muc_room("oid"));
    h_client_t *both[] = {alice, bob};
    for (int i = 0; i < 2; i++) {
        xmpp_stanza_t *m = h_muc_heard(both[i], h_muc_occ("oid", "Bo"), "hello");
        CHECK_MSG(m && strcmp(oid_of(m, got, sizeof(got)), bo) == 0,
                  "client %d: groupchat with occupant id '%s', not '%s'", i, got, bo);
        if (m)
            xmpp_stanza_release(m);
    }
    /* A private message and a subject change. */
    h_send(bob, "<message to='%s' type='chat'><body>psst</body>" FORGED "</message>",
           h_muc_occ("oid", "Al"));
    xmpp_stanza_t *m = h_wait(
        alice, &(h_match_t){.name = "message", .from = h_muc_occ("oid", "Bo"), .body = "psst"},
        5000);
    CHECK_MSG(m && strcmp(oid_of(m, got, sizeof(got)), bo) == 0,
              "private message with occupant id '%s', not '%s'", got, bo);
    if (m)
        xmpp_stanza_release(m);
    h_send(bob, "<message to='%s' type='groupchat'><subject>Tea</subject>" FORGED "</message>",
           h_muc_room("oid"));
    m = h_wait(alice, &(h_match_t){.name = "message", .from = h_muc_occ("oid", "Bo")}, 5000);
    CHECK_MSG(m && h_child(m, "subject", "jabber:client") &&
                  strcmp(oid_of(m, got, sizeof(got)), bo) == 0,
              "subject change with occupant id '%s', not '%s'", got, bo);
    if (m)
        xmpp_stanza_release(m);
    /* A nick change: both presences carry the same id. */
    h_send(bob, "<presence to='%s'/>", h_muc_occ("oid", "Bob2"));
    p = h_wait(
        alice,
        &(h_match_t){.name = "presence", .from = h_muc_occ("oid", "Bo"), .type = "unavailable"},
        5000);
    CHECK_MSG(p && strcmp(oid_of(p, got, sizeof(got)), bo) == 0,
              "nick change (303): occupant id '%s', not '%s'", got, bo);
    if (p)
        xmpp_stanza_release(p);
    p = h_wait(alice, &(h_match_t){.name = "presence", .from = h_muc_occ("oid", "Bob2")}, 5000);
    CHECK_MSG(p && strcmp(oid_of(p, got, sizeof(got)), bo) == 0,
              "new nick: occupant id '%s', not '%s'", got, bo);
    if (p)
        xmpp_stanza_release(p);
    /* Leaving. */
    h_send(bob, "<presence to='%s' type='unavailable'/>", h_muc_occ("oid", "Bob2"));
    p = h_wait(
        alice,
        &(h_match_t){.name = "presence", .from = h_muc_occ("oid", "Bob2"), .type = "unavailable"},
        5000);
    CHECK_MSG(p && strcmp(oid_of(p, got, sizeof(got)), bo) == 0,
              "leaving: occupant id '%s', not '%s'", got, bo);
    if (p)
        xmpp_stanza_release(p);
    /* The room says it does this. */
    xmpp_stanza_t *r =
        h_iq(alice, "get", h_muc_room("oid"), "<query xmlns='" NS_DISCO_INFO "'/>", 5000);
    xmpp_stanza_t *q = h_child(r, "query", NS_DISCO_INFO);
    int feature = 0;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        feature |= xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "feature") == 0 &&
                   h_attr_eq(k, "var", NS_OID);
    CHECK_MSG(feature, "the room's disco#info does not list " NS_OID);
    if (r)
        xmpp_stanza_release(r);
    h_muc_leave(alice, "oid", "Al");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* The same user in the same room: the same id under another nick, from
 * another session, after a restart; another room: another id. */
static void an_occupant_id_is_stable_in_a_room_and_differs_between_rooms(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *bob2 = NULL;
    char al[64], first[64], again[64], other[64], al2[64];
    if (!alice || !bob ||
        !create_room(alice, "stay", "Al", FIELD("persistentroom", "1"), al, sizeof(al)) ||
        !create_room(alice, "elsewhere", "Al", NULL, al2, sizeof(al2)))
        goto out;
    CHECK_MSG(strcmp(al, al2) != 0, "alice has the same id %s in two rooms", al);
    CHECK(enter(bob, "stay", "Bo", NULL, NULL, first, sizeof(first)));
    CHECK(looks_made_by_the_room(first));
    h_muc_leave(bob, "stay", "Bo");
    /* Another nick from another session of bob's. */
    bob2 = h_login(ctx, srv, "bob@example.test/phone", "pw", 0);
    CHECK(bob2 && enter(bob2, "stay", "Bobby", NULL, FORGED, again, sizeof(again)));
    CHECK_MSG(strcmp(first, again) == 0, "bob's id changed from %s to %s on entering again", first,
              again);
    CHECK(enter(bob, "elsewhere", "Bo", NULL, NULL, other, sizeof(other)));
    CHECK_MSG(looks_made_by_the_room(other) && strcmp(other, first) != 0,
              "bob's id in another room: %s (here %s)", other, first);
    h_client_free(bob2);
    bob2 = NULL;
    h_client_free(bob);
    bob = NULL;
    h_client_free(alice);
    alice = NULL;
    if (!CHECK(h_server_restart(srv) == 0))
        goto out;
    bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    char after[64], al_after[64];
    CHECK(alice && enter(alice, "stay", "Al", NULL, NULL, al_after, sizeof(al_after)));
    CHECK(bob && enter(bob, "stay", "Bo", NULL, NULL, after, sizeof(after)));
    CHECK_MSG(strcmp(after, first) == 0, "bob's id after a restart: %s, before %s", after, first);
    CHECK_MSG(strcmp(al_after, al) == 0, "alice's id after a restart: %s, before %s", al_after, al);
out:
    h_client_free(bob2);
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* One message, one stanza-id and one occupant id wherever it is read:
 * live, in the history given on entering, in the room archive. */
static void a_message_keeps_its_ids_live_in_history_and_in_the_archive(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    char al[64], bo[64], got[64], live_sid[64] = "", hist_sid[64] = "";
    if (!alice || !bob || !carol ||
        !create_room(alice, "kept", "Al", FIELD("persistentroom", "1"), al, sizeof(al)))
        goto out;
    CHECK(enter(bob, "kept", "Bo", NULL, NULL, bo, sizeof(bo)));
    h_drain(alice);
    h_send(bob,
           "<message to='%s' type='groupchat' id='k1'><body>to keep</body>"
           "<stanza-id xmlns='" NS_SID "' by='%s' id='forged'/>" FORGED "</message>",
           h_muc_room("kept"), h_muc_room("kept"));
    xmpp_stanza_t *m = h_muc_heard(alice, h_muc_occ("kept", "Bo"), "to keep");
    sid_of(m, live_sid, sizeof(live_sid));
    CHECK_MSG(m && live_sid[0] && strcmp(live_sid, "forged") != 0, "live: stanza-id '%s'",
              live_sid);
    CHECK_MSG(m && strcmp(oid_of(m, got, sizeof(got)), bo) == 0, "live: occupant id '%s'", got);
    if (m)
        xmpp_stanza_release(m);
    h_settle(bob); /* the archive write commits */
    /* Carol enters and gets it as history. */
    char ca[64];
    CHECK(enter(carol, "kept", "Ca", "<history maxstanzas='5'/>", NULL, ca, sizeof(ca)));
    m = h_muc_heard(carol, h_muc_occ("kept", "Bo"), "to keep");
    sid_of(m, hist_sid, sizeof(hist_sid));
    CHECK_MSG(m && h_child(m, "delay", "urn:xmpp:delay"), "no history with a delay");
    CHECK_MSG(strcmp(hist_sid, live_sid) == 0, "history: stanza-id '%s', live '%s'", hist_sid,
              live_sid);
    CHECK_MSG(m && strcmp(oid_of(m, got, sizeof(got)), bo) == 0, "history: occupant id '%s'", got);
    if (m)
        xmpp_stanza_release(m);
    /* The room archive: the result's id is the stanza-id, and the message
     * it forwards carries both ids. */
    h_send(carol, "<iq type='set' id='arch' to='%s'><query xmlns='" NS_MAM "' queryid='qa'/></iq>",
           h_muc_room("kept"));
    xmpp_stanza_t *iq = h_wait(carol, &(h_match_t){.name = "iq", .id = "arch"}, 5000);
    CHECK_MSG(iq && h_attr_eq(iq, "type", "result"), "the archive query failed");
    if (iq)
        xmpp_stanza_release(iq);
    int found = 0;
    while ((m = h_wait(carol, &(h_match_t){.name = "message", .child_ns = NS_MAM}, 0))) {
        xmpp_stanza_t *res = h_child(m, "result", NS_MAM);
        xmpp_stanza_t *fwd = h_child(res, "forwarded", NS_FWD);
        xmpp_stanza_t *inner = h_child(fwd, "message", "jabber:client");
        char *body = inner ? h_child_text(inner, "body") : NULL;
        if (body && strcmp(body, "to keep") == 0) {
            char arch_sid[64];
            sid_of(inner, arch_sid, sizeof(arch_sid));
            found = 1;
            CHECK_MSG(h_attr_eq(res, "id", live_sid), "archive: result id is not %s", live_sid);
            CHECK_MSG(strcmp(arch_sid, live_sid) == 0, "archive: stanza-id '%s', live '%s'",
                      arch_sid, live_sid);
            CHECK_MSG(strcmp(oid_of(inner, got, sizeof(got)), bo) == 0,
                      "archive: occupant id '%s', not '%s'", got, bo);
        }
        free(body);
        xmpp_stanza_release(m);
    }
    CHECK_MSG(found, "the message is not in the room archive");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; muc = {};",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(occupant_ids_go_with_every_presence_and_message_of_an_occupant, &srv);
        H_RUN(a_message_keeps_its_ids_live_in_history_and_in_the_archive, &srv);
        H_RUN(an_occupant_id_is_stable_in_a_room_and_differs_between_rooms, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
