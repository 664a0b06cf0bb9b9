/* test_routing.c — where stanzas go (CORE-4, RFC 6121 §8.5 as coded in
 * xmpp/route-rules.c): bare and full JIDs, priorities, unavailable
 * resources, the errors senders get back, and stamping of 'from'. */
#include <string.h>

#include "tests/integration/harness.h"

/* jid, password */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "bob@example.test", "bob-pw",
    "carol@example.test", "carol-pw",
    "mallory@example.test", "mallory-pw",
    NULL,
};
// clang-format on

/* Waits for a message with `body`; checks it arrived and came from `from`. */
static int got(h_client_t *c, const char *body, const char *from)
{
    xmpp_stanza_t *m = h_wait(c, &(h_match_t){.name = "message", .body = body}, 5000);
    int ok = CHECK_MSG(m != NULL, "'%s' did not reach %s", body, h_jid(c));
    if (m && from) {
        const char *f = xmpp_stanza_get_from(m);
        ok = CHECK_MSG(f && strcmp(f, from) == 0, "from='%s', expected '%s'", f ? f : "", from);
    }
    if (m)
        xmpp_stanza_release(m);
    return ok;
}

/* Proves `body` did NOT reach `c`: a later message straight to c's full JID
 * arrives, and anything sent before it would have arrived first. */
static void not_got(h_client_t *sender, h_client_t *c, const char *body)
{
    const char *marker = h_id();
    h_send(sender, "<message to='%s'><body>%s</body></message>", h_jid(c), marker);
    got(c, marker, NULL);
    CHECK_MSG(h_count(c, &(h_match_t){.name = "message", .body = body}) == 0, "'%s' reached %s",
              body, h_jid(c));
}

/* Sends a message and waits for the error that comes back. */
static void expect_bounce(h_client_t *sender, const char *to, const char *type, const char *cond)
{
    const char *id = h_id();
    h_send(sender, "<message to='%s' id='%s'%s%s%s><body>anyone?</body></message>", to, id,
           type ? " type='" : "", type ? type : "", type ? "'" : "");
    xmpp_stanza_t *err = h_wait(sender, &(h_match_t){.name = "message", .id = id}, 5000);
    if (CHECK_MSG(err != NULL, "no answer for a message to %s", to)) {
        const char *t = xmpp_stanza_get_type(err), *c = h_error_condition(err);
        CHECK_MSG(t && strcmp(t, "error") == 0, "type='%s'", t ? t : "");
        CHECK_MSG(c && strcmp(c, cond) == 0, "condition '%s', expected '%s'", c ? c : "", cond);
        xmpp_stanza_release(err);
    }
}

static void message_to_bare_jid_arrives(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        h_send(alice,
               "<message to='bob@example.test' type='chat'><body>hello bare</body></message>");
        got(bob, "hello bare", "alice@example.test/home");
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void message_to_full_jid_reaches_only_that_resource(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *desk = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    h_client_t *phone = desk ? h_login(ctx, srv, "bob@example.test/phone", "bob-pw", 0) : NULL;
    if (phone) {
        h_send(alice, "<message to='bob@example.test/phone' type='chat'><body>for the phone</body>"
                      "</message>");
        got(phone, "for the phone", "alice@example.test/home");
        not_got(alice, desk, "for the phone");
    }
    h_client_free(phone);
    h_client_free(desk);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void bare_chat_reaches_every_nonnegative_resource(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *p5 = alice ? h_login(ctx, srv, "bob@example.test/p5", "bob-pw", 5) : NULL;
    h_client_t *p1 = p5 ? h_login(ctx, srv, "bob@example.test/p1", "bob-pw", 1) : NULL;
    if (p1) {
        h_send(alice, "<message to='bob@example.test' type='chat'><body>to all of you</body>"
                      "</message>");
        got(p5, "to all of you", "alice@example.test/home");
        got(p1, "to all of you", "alice@example.test/home");
    }
    h_client_free(p1);
    h_client_free(p5);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void negative_priority_gets_full_jid_but_not_bare(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *pos = alice ? h_login(ctx, srv, "bob@example.test/pos", "bob-pw", 0) : NULL;
    h_client_t *neg = pos ? h_login(ctx, srv, "bob@example.test/neg", "bob-pw", -1) : NULL;
    if (neg) {
        h_send(alice, "<message to='bob@example.test' type='chat'><body>bare one</body></message>");
        got(pos, "bare one", NULL);
        not_got(alice, neg, "bare one"); /* the marker itself is the full-JID delivery */
        h_send(alice, "<message to='bob@example.test/neg' type='chat'><body>just you</body>"
                      "</message>");
        got(neg, "just you", "alice@example.test/home");
    }
    h_client_free(neg);
    h_client_free(pos);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void unavailable_resource_gets_no_bare_messages(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *on = alice ? h_login(ctx, srv, "bob@example.test/on", "bob-pw", 0) : NULL;
    h_client_t *off = on ? h_login(ctx, srv, "bob@example.test/off", "bob-pw", 0) : NULL;
    if (off) {
        h_send(off, "<presence type='unavailable'/>");
        xmpp_stanza_t *pong = h_iq(off, "get", NULL, "<ping xmlns='urn:xmpp:ping'/>", 5000);
        CHECK(pong != NULL);
        if (pong)
            xmpp_stanza_release(pong);
        h_send(alice,
               "<message to='bob@example.test' type='chat'><body>are you in?</body></message>");
        got(on, "are you in?", NULL);
        not_got(alice, off, "are you in?");
    }
    h_client_free(off);
    h_client_free(on);
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* §8.5.3.2.1: a chat to a resource that is gone goes to the account. */
static void chat_to_unknown_resource_goes_to_account(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        h_send(alice, "<message to='bob@example.test/gone' type='chat'><body>redirected</body>"
                      "</message>");
        got(bob, "redirected", "alice@example.test/home");
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void normal_message_to_unknown_resource_bounces(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        expect_bounce(alice, "bob@example.test/gone", NULL, "service-unavailable");
        expect_bounce(alice, "bob@example.test/gone", "normal", "service-unavailable");
        not_got(alice, bob, "anyone?");
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void iq_to_unknown_resource_bounces(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        xmpp_stanza_t *r =
            h_iq(alice, "get", "bob@example.test/gone", "<query xmlns='jabber:iq:version'/>", 5000);
        if (CHECK_MSG(r != NULL, "no answer")) {
            const char *c = h_error_condition(r);
            CHECK_MSG(c && strcmp(c, "service-unavailable") == 0, "condition %s", c ? c : "none");
            CHECK(strcmp(xmpp_stanza_get_type(r), "error") == 0);
            xmpp_stanza_release(r);
        }
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void iq_between_full_jids_round_trips(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        h_send(alice, "<iq type='get' id='v1' to='bob@example.test/desk'>"
                      "<query xmlns='jabber:iq:version'/></iq>");
        xmpp_stanza_t *q =
            h_wait(bob,
                   &(h_match_t){
                       .name = "iq", .type = "get", .id = "v1", .from = "alice@example.test/home"},
                   5000);
        if (CHECK_MSG(q != NULL, "bob did not get the IQ")) {
            h_send(bob, "<iq type='result' id='v1' to='alice@example.test/home'>"
                        "<query xmlns='jabber:iq:version'><name>BobClient</name></query></iq>");
            xmpp_stanza_release(q);
            xmpp_stanza_t *r = h_wait(
                alice,
                &(h_match_t){
                    .name = "iq", .type = "result", .id = "v1", .from = "bob@example.test/desk"},
                5000);
            if (CHECK_MSG(r != NULL, "alice did not get bob's answer")) {
                char *name = h_child_text(r, "name");
                CHECK(name && strcmp(name, "BobClient") == 0);
                free(name);
                xmpp_stanza_release(r);
            }
        }
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void message_to_nonexistent_user_bounces(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    if (alice) {
        expect_bounce(alice, "ghost@example.test", "chat", "service-unavailable");
        expect_bounce(alice, "ghost@example.test/res", "chat", "service-unavailable");
    }
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* carol exists but is offline; no offline-storage module is configured. */
static void message_to_offline_user_bounces(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    if (alice)
        expect_bounce(alice, "carol@example.test", "chat", "service-unavailable");
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void message_to_unserved_domain_bounces(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    if (alice)
        expect_bounce(alice, "someone@elsewhere.invalid", "chat", "remote-server-not-found");
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void spoofed_from_ends_stream(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    h_client_t *mallory = bob ? h_login(ctx, srv, "mallory@example.test/x", "mallory-pw", 0) : NULL;
    if (mallory) {
        h_send(mallory, "<message from='alice@example.test/home' to='bob@example.test' type='chat'>"
                        "<body>spoofed</body></message>");
        CHECK(h_wait_disconnect(mallory, 5000));
        CHECK_MSG(mallory->stream_error == XMPP_SE_INVALID_FROM, "stream error %d",
                  mallory->stream_error);
        not_got(alice, bob, "spoofed");
    }
    h_client_free(mallory);
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void own_bare_from_is_accepted(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        h_send(alice, "<message from='alice@example.test' to='bob@example.test' type='chat'>"
                      "<body>from my bare jid</body></message>");
        got(bob, "from my bare jid", "alice@example.test/home");
        CHECK(alice->connected);
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void malformed_to_gets_jid_malformed(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    if (alice) {
        expect_bounce(alice, "@example.test", "chat", "jid-malformed");
        expect_bounce(alice, "bob@exa mple.test", "chat", "jid-malformed");
        CHECK(alice->connected);
    }
    h_client_free(alice);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {.accounts = accounts};
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(message_to_bare_jid_arrives, &srv);
        H_RUN(message_to_full_jid_reaches_only_that_resource, &srv);
        H_RUN(bare_chat_reaches_every_nonnegative_resource, &srv);
        H_RUN(negative_priority_gets_full_jid_but_not_bare, &srv);
        H_RUN(unavailable_resource_gets_no_bare_messages, &srv);
        H_RUN(chat_to_unknown_resource_goes_to_account, &srv);
        H_RUN(normal_message_to_unknown_resource_bounces, &srv);
        H_RUN(iq_to_unknown_resource_bounces, &srv);
        H_RUN(iq_between_full_jids_round_trips, &srv);
        H_RUN(message_to_nonexistent_user_bounces, &srv);
        H_RUN(message_to_offline_user_bounces, &srv);
        H_RUN(message_to_unserved_domain_bounces, &srv);
        H_RUN(spoofed_from_ends_stream, &srv);
        H_RUN(own_bare_from_is_accepted, &srv);
        H_RUN(malformed_to_gets_jid_malformed, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
