/* test_carbons.c — XEP-0280 Message Carbons over real sockets: alice has
 * three clients (a and b enable carbons, c does not) and talks to bob.
 * Every case counts what each client received, so a copy that goes to the
 * wrong client, twice, or back to the sender fails. */
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_FORWARD "urn:xmpp:forward:0"
#define NS_SID "urn:xmpp:sid:0"
#define NS_INFO "http://jabber.org/protocol/disco#info"

#define ALICE "alice@example.test"
#define BOB "bob@example.test"

// clang-format off
static const char *const accounts[] = {
    ALICE, "pw", BOB, "pw", "carol@example.test", "pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

typedef struct family {
    xmpp_ctx_t *ctx;
    h_client_t *a, *b, *c; /* alice's clients; a and b enable carbons */
    h_client_t *bob;
} family_t;

static int enable(h_client_t *c)
{
    return strcmp(h_iq_outcome(c, "set", NULL, "<enable xmlns='" NS_CARBONS "'/>"), "result") == 0;
}

static int disable(h_client_t *c)
{
    return strcmp(h_iq_outcome(c, "set", NULL, "<disable xmlns='" NS_CARBONS "'/>"), "result") == 0;
}

/* alice/a (carbons), alice/b (carbons, priority `b_prio`), alice/c (no
 * carbons), bob/phone.  0 when a login failed. */
static int family_start(family_t *f, h_server_t *srv, int b_prio)
{
    memset(f, 0, sizeof(*f));
    f->ctx = h_ctx_new();
    f->a = h_login(f->ctx, srv, ALICE "/a", "pw", 0);
    f->b = h_login(f->ctx, srv, ALICE "/b", "pw", b_prio);
    f->c = h_login(f->ctx, srv, ALICE "/c", "pw", 0);
    f->bob = h_login(f->ctx, srv, BOB "/phone", "pw", 0);
    if (!f->a || !f->b || !f->c || !f->bob)
        return 0;
    return CHECK(enable(f->a)) && CHECK(enable(f->b));
}

static void family_stop(family_t *f)
{
    h_client_free(f->a);
    h_client_free(f->b);
    h_client_free(f->c);
    h_client_free(f->bob);
    h_ctx_free(f->ctx);
}

/* Lets the sender's stanza through the server, then everyone's. */
static void settle_all(family_t *f, h_client_t *sender)
{
    h_settle(sender);
    h_client_t *all[] = {f->a, f->b, f->c, f->bob};
    for (size_t i = 0; i < 4; i++)
        if (all[i] != sender)
            h_settle(all[i]);
}

static void drain_all(family_t *f)
{
    h_client_t *all[] = {f->a, f->b, f->c, f->bob};
    for (size_t i = 0; i < 4; i++)
        h_drain(all[i]);
}

static char *body_of(xmpp_stanza_t *msg)
{
    return msg ? h_child_text(msg, "body") : NULL;
}

/* The message inside a carbon (<sent|received><forwarded><message>), or
 * NULL when `st` is not a carbon of that direction. */
static xmpp_stanza_t *carbon_inner(xmpp_stanza_t *st, const char *dir)
{
    if (strcmp(xmpp_stanza_get_name(st), "message") != 0)
        return NULL;
    xmpp_stanza_t *w = xmpp_stanza_get_child_by_name_and_ns(st, dir, NS_CARBONS);
    xmpp_stanza_t *fw = w ? xmpp_stanza_get_child_by_name_and_ns(w, "forwarded", NS_FORWARD) : NULL;
    return fw ? xmpp_stanza_get_child_by_name(fw, "message") : NULL;
}

/* Carbons of direction `dir` ("sent"/"received") in c's inbox whose inner
 * body is `body`; each must come from alice's bare JID, to c's full JID. */
static int count_carbons(h_client_t *c, const char *dir, const char *body)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++) {
        xmpp_stanza_t *inner = carbon_inner(c->inbox[i], dir);
        char *t = inner ? body_of(inner) : NULL;
        if (t && strcmp(t, body) == 0) {
            CHECK_MSG(h_attr_eq(c->inbox[i], "from", ALICE), "a carbon not from alice's bare JID");
            CHECK_MSG(h_attr_eq(c->inbox[i], "to", h_jid(c)), "a carbon not to the client");
            n++;
        }
        free(t);
    }
    return n;
}

/* Plain (not wrapped) messages in c's inbox with this body. */
static int count_plain(h_client_t *c, const char *body)
{
    return h_count(c, &(h_match_t){.name = "message", .body = body});
}

/* Every message in c's inbox, whatever it is. */
static int count_messages(h_client_t *c)
{
    return h_count(c, &(h_match_t){.name = "message"});
}

static void send_chat(h_client_t *c, const char *to, const char *type, const char *body,
                      const char *extra)
{
    h_send(c, "<message to='%s' type='%s' id='%s'><body>%s</body>%s</message>", to, type, h_id(),
           body, extra ? extra : "");
}

/* ---- cases ---- */

static void server_advertises_carbons(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, ALICE "/a", "pw", 0);
    xmpp_stanza_t *r =
        a ? h_iq(a, "get", "example.test", "<query xmlns='" NS_INFO "'/>", 5000) : NULL;
    int found = 0;
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        const char *var = xmpp_stanza_is_tag(k) ? xmpp_stanza_get_attribute(k, "var") : NULL;
        found |= var && strcmp(var, NS_CARBONS) == 0;
    }
    CHECK_MSG(found, "disco#info of the server lacks urn:xmpp:carbons:2");
    if (r)
        xmpp_stanza_release(r);
    h_client_free(a);
    h_ctx_free(ctx);
}

static void enable_and_disable_answer_and_repeat(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, ALICE "/a", "pw", 0);
    if (!a)
        goto out;
    CHECK(enable(a));
    CHECK_MSG(enable(a), "a second enable is not an error (XEP-0280 §8.1)");
    CHECK(disable(a));
    CHECK_MSG(disable(a), "a second disable is not an error");
    /* Addressed to the own bare JID or the server: the same request. */
    CHECK(!strcmp(h_iq_outcome(a, "set", ALICE, "<enable xmlns='" NS_CARBONS "'/>"), "result"));
    CHECK(!strcmp(h_iq_outcome(a, "set", "example.test", "<disable xmlns='" NS_CARBONS "'/>"),
                  "result"));
out:
    h_client_free(a);
    h_ctx_free(ctx);
}

static void bad_requests_are_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, ALICE "/a", "pw", 0);
    if (!a)
        goto out;
    CHECK(!strcmp(h_iq_outcome(a, "get", NULL, "<enable xmlns='" NS_CARBONS "'/>"), "bad-request"));
    CHECK(!strcmp(h_iq_outcome(a, "set", NULL, "<switch-on xmlns='" NS_CARBONS "'/>"),
                  "bad-request"));
    CHECK(!strcmp(h_iq_outcome(a, "set", NULL, "<enable xmlns='" NS_CARBONS "'><x/></enable>"),
                  "bad-request"));
    /* Nobody turns on carbons for somebody else's account. */
    CHECK(!strcmp(h_iq_outcome(a, "set", BOB, "<enable xmlns='" NS_CARBONS "'/>"), "not-allowed"));
out:
    h_client_free(a);
    h_ctx_free(ctx);
}

static void sent_messages_are_copied_to_the_other_enabled_clients(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    drain_all(&f);
    send_chat(f.a, BOB, "chat", "from a", NULL);
    settle_all(&f, f.a);
    CHECK_MSG(count_plain(f.bob, "from a") == 1, "bob got the message once");
    CHECK_MSG(count_carbons(f.b, "sent", "from a") == 1, "b got one <sent/> copy");
    CHECK_MSG(count_messages(f.a) == 0, "no copy back to the sender");
    CHECK_MSG(count_messages(f.c) == 0, "no copy to c, which did not enable carbons");
    CHECK(count_messages(f.b) == 1 && count_messages(f.bob) == 1);
    /* The copy holds the original as sent, from the sender's full JID. */
    xmpp_stanza_t *st = h_wait(f.b, &(h_match_t){.name = "message", .child_ns = NS_CARBONS}, 10);
    xmpp_stanza_t *inner = st ? carbon_inner(st, "sent") : NULL;
    CHECK(inner && h_attr_eq(inner, "from", h_jid(f.a)) && h_attr_eq(inner, "to", BOB) &&
          h_attr_eq(inner, "type", "chat"));
    CHECK_MSG(st && h_attr_eq(st, "type", "chat"), "the wrapper keeps the type");
    if (st)
        xmpp_stanza_release(st);
    drain_all(&f);

    /* c did not enable carbons, but what it sends is copied all the same. */
    send_chat(f.c, BOB "/phone", "chat", "from c", NULL);
    settle_all(&f, f.c);
    CHECK(count_carbons(f.a, "sent", "from c") == 1 && count_messages(f.a) == 1);
    CHECK(count_carbons(f.b, "sent", "from c") == 1 && count_messages(f.b) == 1);
    CHECK(count_messages(f.c) == 0);
    CHECK(count_plain(f.bob, "from c") == 1);
out:
    family_stop(&f);
}

static void received_messages_are_copied_to_the_clients_not_addressed(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    drain_all(&f);
    /* To a full JID: a gets it, b a <received/> copy, c nothing. */
    send_chat(f.bob, ALICE "/a", "chat", "to a", NULL);
    settle_all(&f, f.bob);
    CHECK_MSG(count_plain(f.a, "to a") == 1 && count_messages(f.a) == 1, "a got it directly");
    CHECK_MSG(count_carbons(f.b, "received", "to a") == 1 && count_messages(f.b) == 1,
              "b got exactly one <received/> copy");
    CHECK_MSG(count_messages(f.c) == 0, "c did not enable carbons");
    CHECK_MSG(count_messages(f.bob) == 0, "nothing came back to bob");
    /* The copy carries the stanza-id the direct delivery carries. */
    xmpp_stanza_t *direct = h_wait(f.a, &(h_match_t){.name = "message", .body = "to a"}, 10);
    xmpp_stanza_t *copy = h_wait(f.b, &(h_match_t){.name = "message"}, 10);
    xmpp_stanza_t *inner = copy ? carbon_inner(copy, "received") : NULL;
    xmpp_stanza_t *id1 =
        direct ? xmpp_stanza_get_child_by_name_and_ns(direct, "stanza-id", NS_SID) : NULL;
    xmpp_stanza_t *id2 =
        inner ? xmpp_stanza_get_child_by_name_and_ns(inner, "stanza-id", NS_SID) : NULL;
    const char *v1 = id1 ? xmpp_stanza_get_attribute(id1, "id") : NULL;
    const char *v2 = id2 ? xmpp_stanza_get_attribute(id2, "id") : NULL;
    CHECK_MSG(v1 && v2 && strcmp(v1, v2) == 0, "the copy keeps the same stanza-id");
    CHECK(inner && h_attr_eq(inner, "from", h_jid(f.bob)) && h_attr_eq(inner, "to", ALICE "/a"));
    if (direct)
        xmpp_stanza_release(direct);
    if (copy)
        xmpp_stanza_release(copy);
    drain_all(&f);

    /* To c's full JID: a and b both get copies. */
    send_chat(f.bob, ALICE "/c", "chat", "to c", NULL);
    settle_all(&f, f.bob);
    CHECK(count_plain(f.c, "to c") == 1 && count_messages(f.c) == 1);
    CHECK(count_carbons(f.a, "received", "to c") == 1 && count_messages(f.a) == 1);
    CHECK(count_carbons(f.b, "received", "to c") == 1 && count_messages(f.b) == 1);
out:
    family_stop(&f);
}

static void bare_jid_messages_reach_everyone_directly(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    drain_all(&f);
    send_chat(f.bob, ALICE, "chat", "to all", NULL);
    settle_all(&f, f.bob);
    h_client_t *mine[] = {f.a, f.b, f.c};
    for (size_t i = 0; i < 3; i++)
        CHECK_MSG(count_plain(mine[i], "to all") == 1 && count_messages(mine[i]) == 1,
                  "client %zu got the message once, and no copy", i);
out:
    family_stop(&f);
}

static void negative_priority_client_gets_a_copy_instead(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, -1))
        goto out;
    drain_all(&f);
    /* RFC 6121 §8.5.2.1.1: a bare-JID message skips b (priority -1); b
     * enabled carbons, so it gets a copy. */
    send_chat(f.bob, ALICE, "chat", "skip b", NULL);
    settle_all(&f, f.bob);
    CHECK(count_plain(f.a, "skip b") == 1 && count_messages(f.a) == 1);
    CHECK(count_plain(f.c, "skip b") == 1 && count_messages(f.c) == 1);
    CHECK_MSG(count_carbons(f.b, "received", "skip b") == 1 && count_messages(f.b) == 1,
              "b got one <received/> copy and not the message");
out:
    family_stop(&f);
}

static void private_and_no_copy_are_honoured(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    drain_all(&f);
    send_chat(f.a, BOB, "chat", "secret out",
              "<private xmlns='" NS_CARBONS "'/><no-copy xmlns='urn:xmpp:hints'/>");
    send_chat(f.a, BOB, "chat", "hint only", "<no-copy xmlns='urn:xmpp:hints'/>");
    send_chat(f.a, BOB, "chat", "private only", "<private xmlns='" NS_CARBONS "'/>");
    settle_all(&f, f.a);
    CHECK(count_plain(f.bob, "secret out") == 1 && count_plain(f.bob, "hint only") == 1 &&
          count_plain(f.bob, "private only") == 1);
    CHECK_MSG(count_messages(f.b) == 0, "b got a copy of a private message it sent");
    drain_all(&f);
    send_chat(f.bob, ALICE "/a", "chat", "secret in", "<private xmlns='" NS_CARBONS "'/>");
    send_chat(f.bob, ALICE "/a", "chat", "hinted in", "<no-copy xmlns='urn:xmpp:hints'/>");
    settle_all(&f, f.bob);
    CHECK(count_plain(f.a, "secret in") == 1 && count_plain(f.a, "hinted in") == 1);
    CHECK_MSG(count_messages(f.b) == 0, "b got a copy of a private message a received");
    CHECK(count_messages(f.c) == 0);
out:
    family_stop(&f);
}

static void only_conversation_messages_are_copied(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    drain_all(&f);
    /* Copied: normal with a body, chat state alone, a receipt alone. */
    send_chat(f.bob, ALICE "/a", "normal", "normal body", NULL);
    h_send(f.bob, "<message to='" ALICE "/a' type='chat' id='cs'>"
                  "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    h_send(f.bob, "<message to='" ALICE "/a' id='rc'>"
                  "<received xmlns='urn:xmpp:receipts' id='m1'/></message>");
    /* Not copied: headline, normal without body or IM payload, a private
     * message from a MUC occupant, an error. */
    send_chat(f.bob, ALICE "/a", "headline", "news", NULL);
    h_send(f.bob, "<message to='" ALICE "/a' id='nb'><subject>x</subject></message>");
    send_chat(f.bob, ALICE "/a", "chat", "muc pm",
              "<x xmlns='http://jabber.org/protocol/muc#user'/>");
    h_send(f.bob, "<message to='" ALICE "/a' type='error' id='er'>"
                  "<error type='cancel'><item-not-found "
                  "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    settle_all(&f, f.bob);
    CHECK(count_carbons(f.b, "received", "normal body") == 1);
    int copies = h_count(f.b, &(h_match_t){.name = "message", .child_ns = NS_CARBONS});
    CHECK_MSG(copies == 3, "b got %d copies, expected 3 (body, chat state, receipt)", copies);
    CHECK_MSG(count_messages(f.b) == 3, "b got something else");
out:
    family_stop(&f);
}

static void disable_stops_the_copies(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    CHECK(disable(f.b));
    drain_all(&f);
    send_chat(f.a, BOB, "chat", "after disable", NULL);
    send_chat(f.bob, ALICE "/a", "chat", "reply after disable", NULL);
    settle_all(&f, f.a);
    settle_all(&f, f.bob);
    CHECK_MSG(count_messages(f.b) == 0, "b still gets copies after disabling");
    CHECK(count_plain(f.a, "reply after disable") == 1);
    /* And enabling again brings them back. */
    CHECK(enable(f.b));
    send_chat(f.bob, ALICE "/a", "chat", "enabled again", NULL);
    settle_all(&f, f.bob);
    CHECK(count_carbons(f.b, "received", "enabled again") == 1);
out:
    family_stop(&f);
}

static void messages_between_own_clients_are_not_doubled(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    drain_all(&f);
    /* a → c: c gets it, b gets one <sent/> copy, a nothing. */
    send_chat(f.a, ALICE "/c", "chat", "a to c", NULL);
    settle_all(&f, f.a);
    CHECK(count_plain(f.c, "a to c") == 1 && count_messages(f.c) == 1);
    CHECK_MSG(count_carbons(f.b, "sent", "a to c") == 1 && count_messages(f.b) == 1,
              "b got %d messages", count_messages(f.b));
    CHECK(count_messages(f.a) == 0);
    drain_all(&f);
    /* a → b: b has the message itself, so no copy of it. */
    send_chat(f.a, ALICE "/b", "chat", "a to b", NULL);
    settle_all(&f, f.a);
    CHECK_MSG(count_plain(f.b, "a to b") == 1 && count_messages(f.b) == 1, "b got %d messages",
              count_messages(f.b));
    CHECK(count_messages(f.a) == 0 && count_messages(f.c) == 0);
out:
    family_stop(&f);
}

static void forged_carbons_are_refused(h_server_t *srv)
{
    family_t f;
    if (!family_start(&f, srv, 0))
        goto out;
    drain_all(&f);
    /* bob pretends alice's other client received something. */
    h_send(f.bob, "<message to='" ALICE "/a' type='chat' id='forged1'>"
                  "<received xmlns='" NS_CARBONS "'><forwarded xmlns='" NS_FORWARD "'>"
                  "<message xmlns='jabber:client' from='carol@example.test/x' to='" ALICE "/b' "
                  "type='chat'><body>fake</body></message></forwarded></received></message>");
    h_send(f.bob, "<message to='" ALICE "' type='chat' id='forged2'>"
                  "<sent xmlns='" NS_CARBONS "'><forwarded xmlns='" NS_FORWARD "'>"
                  "<message xmlns='jabber:client' from='" ALICE "/b' to='carol@example.test' "
                  "type='chat'><body>fake</body></message></forwarded></sent></message>");
    xmpp_stanza_t *e1 =
        h_wait(f.bob, &(h_match_t){.name = "message", .id = "forged1", .error = "forbidden"}, 5000);
    xmpp_stanza_t *e2 =
        h_wait(f.bob, &(h_match_t){.name = "message", .id = "forged2", .error = "forbidden"}, 5000);
    CHECK_MSG(e1 && e2, "forged carbons were not refused with <forbidden/>");
    if (e1)
        xmpp_stanza_release(e1);
    if (e2)
        xmpp_stanza_release(e2);
    settle_all(&f, f.bob);
    CHECK_MSG(count_messages(f.a) == 0 && count_messages(f.b) == 0 && count_messages(f.c) == 0,
              "a forged carbon reached alice");
    /* Not even alice's own client may hand one to another. */
    h_send(f.c, "<message to='" ALICE "/a' type='chat' id='forged3'>"
                "<received xmlns='" NS_CARBONS "'><forwarded xmlns='" NS_FORWARD "'>"
                "<message xmlns='jabber:client' from='carol@example.test/x' to='" ALICE "' "
                "type='chat'><body>fake</body></message></forwarded></received></message>");
    xmpp_stanza_t *e3 =
        h_wait(f.c, &(h_match_t){.name = "message", .id = "forged3", .error = "forbidden"}, 5000);
    CHECK(e3 != NULL);
    if (e3)
        xmpp_stanza_release(e3);
    settle_all(&f, f.c);
    CHECK(count_messages(f.a) == 0 && count_messages(f.b) == 0);
out:
    family_stop(&f);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "carbons = {};",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(server_advertises_carbons, &srv);
        H_RUN(enable_and_disable_answer_and_repeat, &srv);
        H_RUN(bad_requests_are_refused, &srv);
        H_RUN(sent_messages_are_copied_to_the_other_enabled_clients, &srv);
        H_RUN(received_messages_are_copied_to_the_clients_not_addressed, &srv);
        H_RUN(bare_jid_messages_reach_everyone_directly, &srv);
        H_RUN(negative_priority_client_gets_a_copy_instead, &srv);
        H_RUN(private_and_no_copy_are_honoured, &srv);
        H_RUN(only_conversation_messages_are_copied, &srv);
        H_RUN(disable_stops_the_copies, &srv);
        H_RUN(messages_between_own_clients_are_not_doubled, &srv);
        H_RUN(forged_carbons_are_refused, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
