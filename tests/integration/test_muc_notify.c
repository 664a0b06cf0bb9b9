/* test_muc_notify.c — members who are not joined learn of a group's
 * messages (Parley issue #16, GRP-6, GRP-7): the room tells every member
 * of its tenant through PL_EV_NOTIFY, the inbox (XEP-0430) shows the group
 * with its last message and unread count, joined or not and counted once,
 * and what the member sends (its own message, a marker to the room, an
 * XEP-0490 position) reads it; push (XEP-0357, a fake app server as in
 * test_push.c) wakes members with no connected client as the room's push
 * setting says (all, mentions — by XEP-0372 reference and plain @name —
 * or none), and mentions per message are capped.  Another tenant's user on
 * the member list is never told.  A burst of messages in groups new to a
 * member keeps its inbox within max_conversations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness-muc.h"
#include "tests/integration/harness.h"

#define SVC "groups.example.test"
#define APP "bot.example.test"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_USER NS_MUC "#user"
#define NS_ADMIN NS_MUC "#admin"
#define NS_OWNER NS_MUC "#owner"
#define NS_GROUPS "urn:parley:groups"
#define NS_INBOX "urn:xmpp:inbox:1"
#define NS_SID "urn:xmpp:sid:0"
#define NS_REF "urn:xmpp:reference:0"
#define MDS "urn:xmpp:mds:displayed:0"
#define GF(var, val) "<field var='" var "'><value>" val "</value></field>"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "olga@corp.test", "pw",
    NULL,
};
// clang-format on

/* ---- the room ---- */

/* A contact group `room` owned by `owner` (nick Alice) with these members
 * and the push setting `push` (NULL: the default). */
static int make_group(h_client_t *owner, const char *room, const char *const *members,
                      const char *push)
{
    if (!CHECK_MSG(strcmp(h_muc_enter(owner, room, "Alice"), "ok") == 0, "creating %s", room))
        return 0;
    char q[2048], jid[128];
    snprintf(jid, sizeof(jid), "%s@" SVC, room);
    snprintf(q, sizeof(q),
             "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' type='submit'>"
             "<field var='FORM_TYPE'><value>" NS_GROUPS
             "</value></field>" GF("kind", "contact") "%s%s%s</x></query>",
             push ? "<field var='push'><value>" : "", push ? push : "",
             push ? "</value></field>" : "");
    const char *r = h_iq_outcome(owner, "set", jid, q);
    int ok = CHECK_MSG(strcmp(r, "result") == 0, "configuring %s: %s", room, r);
    char items[1536] = "";
    for (size_t i = 0; members[i]; i++)
        snprintf(items + strlen(items), sizeof(items) - strlen(items),
                 "<item affiliation='member' jid='%s'/>", members[i]);
    snprintf(q, sizeof(q), "<query xmlns='" NS_ADMIN "'>%s</query>", items);
    r = h_iq_outcome(owner, "set", jid, q);
    ok = CHECK_MSG(strcmp(r, "result") == 0, "members of %s: %s", room, r) && ok;
    h_drain(owner);
    return ok;
}

static const char *set_push(h_client_t *owner, const char *room, const char *push)
{
    char q[1024], jid[128];
    snprintf(jid, sizeof(jid), "%s@" SVC, room);
    snprintf(q, sizeof(q),
             "<query xmlns='" NS_OWNER "'><x xmlns='jabber:x:data' type='submit'>"
             "<field var='FORM_TYPE'><value>" NS_GROUPS "</value></field>"
             "<field var='push'><value>%s</value></field></x></query>",
             push);
    return h_iq_outcome(owner, "set", jid, q);
}

/* Says `body` (with extra children, may be "") in the room and waits for
 * the room's echo; returns the room's stanza-id of it into sid (64). */
static int say(h_client_t *c, const char *room, const char *body, const char *extra, char *sid)
{
    h_send(c, "<message to='%s@" SVC "' type='groupchat' id='%s'><body>%s</body>%s</message>", room,
           h_id(), body, extra);
    xmpp_stanza_t *m =
        h_wait(c, &(h_match_t){.name = "message", .type = "groupchat", .body = body}, 5000);
    if (!CHECK_MSG(m, "the room did not echo \"%s\"", body))
        return 0;
    xmpp_stanza_t *s = h_child(m, "stanza-id", NS_SID);
    const char *id = s ? xmpp_stanza_get_attribute(s, "id") : NULL;
    if (sid)
        snprintf(sid, 64, "%s", id ? id : "");
    h_rel(m);
    h_settle(c);
    return 1;
}

/* ---- the inbox ---- */

typedef struct conv {
    int found;
    int unread;
    char id[64], body[512], from[256], type[32];
    int total;
    int mentions; /* urn:parley:inbox <state mentions/>, 0 when absent */
} conv_t;

/* `c`'s inbox entry for `jid` (found 0 when there is none), and the
 * number of conversations in total. */
static conv_t inbox_entry(h_client_t *c, const char *jid)
{
    conv_t out = {.unread = -1, .total = -1};
    h_drain(c);
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<inbox xmlns='" NS_INBOX "'/>", 5000);
    if (!CHECK(r && h_attr_eq(r, "type", "result"))) {
        h_rel(r);
        return out;
    }
    xmpp_stanza_t *fin = h_child(r, "fin", NS_INBOX);
    const char *t = fin ? xmpp_stanza_get_attribute(fin, "total") : NULL;
    out.total = t ? atoi(t) : -1;
    h_rel(r);
    for (size_t i = 0; i < c->ninbox; i++) {
        xmpp_stanza_t *m = c->inbox[i];
        xmpp_stanza_t *e = h_child(m, "entry", NS_INBOX);
        if (!e || !h_attr_eq(e, "jid", jid))
            continue;
        out.found = 1;
        const char *u = xmpp_stanza_get_attribute(e, "unread");
        out.unread = u ? atoi(u) : -1;
        xmpp_stanza_t *state = h_child(m, "state", "urn:parley:inbox");
        const char *mn = state ? xmpp_stanza_get_attribute(state, "mentions") : NULL;
        out.mentions = mn ? atoi(mn) : 0;
        const char *id = xmpp_stanza_get_attribute(e, "id");
        snprintf(out.id, sizeof(out.id), "%s", id ? id : "");
        xmpp_stanza_t *res = h_child(m, "result", "urn:xmpp:mam:2");
        xmpp_stanza_t *fw = res ? xmpp_stanza_get_child_by_name(res, "forwarded") : NULL;
        xmpp_stanza_t *msg = fw ? xmpp_stanza_get_child_by_name(fw, "message") : NULL;
        char *b = msg ? h_child_text(msg, "body") : NULL;
        snprintf(out.body, sizeof(out.body), "%s", b ? b : "");
        free(b);
        const char *f = msg ? xmpp_stanza_get_attribute(msg, "from") : NULL;
        snprintf(out.from, sizeof(out.from), "%s", f ? f : "");
        const char *ty = msg ? xmpp_stanza_get_attribute(msg, "type") : NULL;
        snprintf(out.type, sizeof(out.type), "%s", ty ? ty : "");
    }
    h_drain(c);
    return out;
}

/* GRP-6: a member who never joined sees the group with its last message
 * and unread count; a joined member is counted once; the sender has it
 * read; a marker to the room, an XEP-0490 position naming the room and the
 * member's own message read it; another tenant's member hears nothing. */
static void the_inbox_shows_the_group_to_every_member(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/desk", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/desk", "pw", 0);
    h_client_t *bob = NULL, *olga = NULL;
    static const char *const members[] = {"bob@example.test", "carol@example.test",
                                          "olga@corp.test", NULL};
    char sid1[64], sid2[64];
    if (!alice || !carol || !make_group(alice, "team", members, NULL))
        goto out;
    CHECK(strcmp(h_muc_enter(carol, "team", "Cee"), "ok") == 0);
    h_drain(carol);
    if (!say(alice, "team", "one", "", sid1) || !say(alice, "team", "two", "", sid2))
        goto out;
    /* Carol, joined, got both live. */
    CHECK_INT(h_count(carol, &(h_match_t){.name = "message", .type = "groupchat"}), 2);
    /* Bob never joined: the group is in his inbox. */
    bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (!bob)
        goto out;
    conv_t b = inbox_entry(bob, "team@" SVC);
    CHECK(b.found);
    CHECK_INT(b.unread, 2);
    CHECK_INT(b.mentions, 0);
    CHECK_STR(b.body, "two");
    CHECK_STR(b.from, "team@" SVC "/Alice");
    CHECK_STR(b.type, "groupchat");
    CHECK_STR(b.id, sid2); /* the room's stanza-id: what markers and positions name */
    /* Carol, joined, is not counted twice. */
    conv_t c = inbox_entry(carol, "team@" SVC);
    CHECK(c.found);
    CHECK_INT(c.unread, 2);
    /* The sender has it read, with its own message last. */
    conv_t a = inbox_entry(alice, "team@" SVC);
    CHECK(a.found);
    CHECK_INT(a.unread, 0);
    CHECK_STR(a.body, "two");
    /* Carol displays the first message with a marker to the room. */
    h_send(carol,
           "<message to='team@" SVC "' type='groupchat'>"
           "<displayed xmlns='urn:xmpp:chat-markers:0' id='%s'/></message>",
           sid1);
    h_settle(carol);
    CHECK_INT(inbox_entry(carol, "team@" SVC).unread, 1);
    /* Her own message reads the rest. */
    say(carol, "team", "hi all", "", NULL);
    c = inbox_entry(carol, "team@" SVC);
    CHECK_INT(c.unread, 0);
    CHECK_STR(c.body, "hi all");
    /* Bob publishes an XEP-0490 position with the room's stanza-id. */
    CHECK_INT(inbox_entry(bob, "team@" SVC).unread, 3);
    char xml[1024];
    snprintf(xml, sizeof(xml),
             "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='" MDS "'>"
             "<item id='team@" SVC "'><displayed xmlns='" MDS "'><stanza-id xmlns='" NS_SID "' "
             "by='team@" SVC "' id='%s'/></displayed></item></publish></pubsub>",
             sid2);
    h_rel(h_iq(bob, "set", NULL, xml, 5000));
    h_settle(bob);
    CHECK_INT(inbox_entry(bob, "team@" SVC).unread, 1); /* carol's "hi all" is newer */
    /* Olga (corp.test, another tenant) is on the member list: nothing. */
    olga = h_login(ctx, srv, "olga@corp.test/desk", "pw", 0);
    if (olga) {
        conv_t o = inbox_entry(olga, "team@" SVC);
        CHECK(!o.found);
        CHECK_INT(o.total, 0);
    }
out:
    h_client_free(olga);
    h_client_free(bob);
    h_client_free(carol);
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* ---- push ---- */

/* Waits for a publish at the app server, answers it, returns it. */
static xmpp_stanza_t *next_publish(h_client_t *app, int timeout_ms)
{
    xmpp_stanza_t *iq = h_wait(app, &(h_match_t){.name = "iq", .type = "set"}, timeout_ms);
    if (!iq)
        return NULL;
    h_send(app, "<iq type='result' id='%s' to='%s' from='" APP "'/>", xmpp_stanza_get_id(iq),
           xmpp_stanza_get_from(iq));
    h_run_for(app->ctx, 20);
    return iq;
}

static char *field(xmpp_stanza_t *iq, const char *var)
{
    xmpp_stanza_t *ps = xmpp_stanza_get_child_by_name(iq, "pubsub");
    xmpp_stanza_t *pub = ps ? xmpp_stanza_get_child_by_name(ps, "publish") : NULL;
    xmpp_stanza_t *item = pub ? xmpp_stanza_get_child_by_name(pub, "item") : NULL;
    xmpp_stanza_t *n = item ? xmpp_stanza_get_child_by_name(item, "notification") : NULL;
    xmpp_stanza_t *x = n ? xmpp_stanza_get_child_by_name(n, "x") : NULL;
    for (xmpp_stanza_t *f = x ? xmpp_stanza_get_children(x) : NULL; f;
         f = xmpp_stanza_get_next(f)) {
        const char *v = xmpp_stanza_get_attribute(f, "var");
        if (v && !strcmp(v, var))
            return h_child_text(f, "value");
    }
    return NULL;
}

/* Who got a publish in the next moments, sorted ("dave erin"), each
 * checked to name the room occupant as the sender and to carry `body`. */
static const char *pushed(h_client_t *app, const char *body)
{
    static char out[256];
    char who[8][64];
    int n = 0;
    xmpp_stanza_t *iq;
    while (n < 8 && (iq = next_publish(app, n ? 800 : 1500)) != NULL) {
        const char *from = xmpp_stanza_get_from(iq);
        snprintf(who[n], sizeof(who[n]), "%.*s", (int)strcspn(from ? from : "?", "@"),
                 from ? from : "?");
        char *sender = field(iq, "last-message-sender"), *b = field(iq, "last-message-body");
        CHECK_MSG(sender && !strcmp(sender, "pushy@" SVC "/Alice"), "sender %s",
                  sender ? sender : "(none)");
        CHECK_MSG(b && !strcmp(b, body), "body %s, want %s", b ? b : "(none)", body);
        free(sender);
        free(b);
        h_rel(iq);
        n++;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(who[j - 1], who[j]) > 0; j--) {
            char t[64];
            memcpy(t, who[j], sizeof(t));
            memcpy(who[j], who[j - 1], sizeof(t));
            memcpy(who[j - 1], t, sizeof(t));
        }
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "", who[i]);
    return out;
}

/* Registers push with bodies at the fake app server, then logs out. */
static int register_and_leave(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid)
{
    h_client_t *c = h_login(ctx, srv, jid, "pw", 0);
    if (!c)
        return 0;
    xmpp_stanza_t *r = h_iq(c, "set", NULL,
                            "<enable xmlns='urn:xmpp:push:0' jid='" APP "' node='n1'>"
                            "<include-body xmlns='urn:parley:push'/></enable>",
                            5000);
    int ok = CHECK(r && h_attr_eq(r, "type", "result"));
    h_rel(r);
    h_client_free(c);
    h_run_for(ctx, 200);
    return ok;
}

/* GRP-6/GRP-7: members with no connected client are pushed as the room
 * says: every message, only mentions (by reference, by @name), or none;
 * one message mentions at most max_mentions (2 here) members. */
static void push_follows_the_rooms_setting(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *app = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    h_client_t *alice = NULL, *dave = NULL;
    static const char *const members[] = {"bob@example.test", "dave@example.test",
                                          "erin@example.test", NULL};
    if (!CHECK(h_client_wait_login(app, 5000)) ||
        !register_and_leave(ctx, srv, "dave@example.test/phone") ||
        !register_and_leave(ctx, srv, "erin@example.test/phone"))
        goto out;
    alice = h_login(ctx, srv, "alice@example.test/desk", "pw", 0);
    if (!alice || !make_group(alice, "pushy", members, NULL))
        goto out;
    /* Default: all. */
    say(alice, "pushy", "hello all", "", NULL);
    CHECK_STR(pushed(app, "hello all"), "dave erin");
    /* Mentions only. */
    CHECK_STR(set_push(alice, "pushy", "mentions"), "result");
    h_drain(alice);
    say(alice, "pushy", "nobody in particular", "", NULL);
    CHECK_STR(pushed(app, "nobody in particular"), "");
    say(alice, "pushy", "ping @dave please", "", NULL);
    CHECK_STR(pushed(app, "ping @dave please"), "dave");
    say(alice, "pushy", "look at this",
        "<reference xmlns='" NS_REF "' type='mention' uri='xmpp:erin@example.test'/>", NULL);
    CHECK_STR(pushed(app, "look at this"), "erin");
    /* Capped: @bob and @dave are the two mentions; erin is not told. */
    say(alice, "pushy", "@bob @dave @erin meeting", "", NULL);
    CHECK_STR(pushed(app, "@bob @dave @erin meeting"), "dave");
    /* None: not even a mention. */
    CHECK_STR(set_push(alice, "pushy", "none"), "result");
    CHECK_STR(set_push(alice, "pushy", "sometimes"), "not-acceptable");
    h_drain(alice);
    say(alice, "pushy", "@dave quiet now", "", NULL);
    CHECK_STR(pushed(app, "@dave quiet now"), "");
    /* The inbox counted everything for dave all the same. */
    dave = h_login(ctx, srv, "dave@example.test/desk", "pw", 0);
    if (dave) {
        conv_t d = inbox_entry(dave, "pushy@" SVC);
        CHECK_INT(d.unread, 6);
        CHECK_STR(d.body, "@dave quiet now");
        /* Three of them mention him (also under push = none). */
        CHECK_INT(d.mentions, 3);
    }
    /* Dave is connected now: no push even for all. */
    CHECK_STR(set_push(alice, "pushy", "all"), "result");
    h_drain(alice);
    say(alice, "pushy", "@dave you are here", "", NULL);
    CHECK_STR(pushed(app, "@dave you are here"), "erin");
out:
    h_client_free(dave);
    h_client_free(alice);
    h_client_free(app);
    h_ctx_free(ctx);
}

/* ---- the limit ---- */

/* Messages in groups new to a member, sent at once, keep the member's
 * inbox within max_conversations (3 on this server): each new group
 * replaces the least active conversation, even when their writes are
 * queued together. */
static void group_conversations_keep_the_limit_under_a_burst(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/desk", "pw", 0);
    h_client_t *bob = NULL;
    static const char *const members[] = {"bob@example.test", NULL};
    static const char *const rooms[] = {"g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8"};
    if (!alice)
        goto out;
    for (int i = 0; i < 8; i++)
        if (!make_group(alice, rooms[i], members, "none"))
            goto out;
    /* Bob's inbox at the limit, one at a time. */
    for (int i = 0; i < 3; i++)
        if (!say(alice, rooms[i], "early", "", NULL))
            goto out;
    /* Then five new groups at once. */
    for (int i = 3; i < 8; i++)
        h_send(alice,
               "<message to='%s@" SVC "' type='groupchat' id='%s'><body>burst %d</body></message>",
               rooms[i], h_id(), i);
    xmpp_stanza_t *echo = h_wait(
        alice, &(h_match_t){.name = "message", .type = "groupchat", .body = "burst 7"}, 5000);
    CHECK(echo != NULL);
    h_rel(echo);
    h_settle(alice);
    bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (!bob)
        goto out;
    conv_t last = inbox_entry(bob, "g8@" SVC);
    CHECK_INT(last.total, 3);
    CHECK(last.found);
    CHECK_STR(last.body, "burst 7");
    CHECK(inbox_entry(bob, "g7@" SVC).found);
    CHECK(inbox_entry(bob, "g6@" SVC).found);
    for (int i = 0; i < 5; i++) {
        char jid[64];
        snprintf(jid, sizeof(jid), "%s@" SVC, rooms[i]);
        CHECK_MSG(!inbox_entry(bob, jid).found, "the less active %s should have gone", jid);
    }
out:
    h_client_free(bob);
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
        .modules = "roster = {}; presence = {}; pep = {}; inbox = {}; "
                   "push = { timeout = \"5s\"; }; muc = { max_mentions = 2; };",
        .extra_hosts = "{ name = \"corp.test\"; modules = { disco = {}; ping = {}; roster = {}; "
                       "presence = {}; inbox = {}; push = {}; }; }",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(the_inbox_shows_the_group_to_every_member, &srv);
        H_RUN(push_follows_the_rooms_setting, &srv);
    }
    h_server_stop(&srv);
    /* A server whose inbox keeps three conversations. */
    opts.modules = "roster = {}; presence = {}; inbox = { max_conversations = 3; }; muc = {};";
    if (h_server_start(&srv, &opts) == 0)
        H_RUN(group_conversations_keep_the_limit_under_a_burst, &srv);
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
