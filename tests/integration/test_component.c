/* test_component.c — XEP-0114 external components (CORE-7): the secret
 * handshake, routing in both directions between users and a bot, the
 * component's address space, and what senders see while it is away. */
#include <string.h>

#include "tests/integration/harness.h"

/* jid, password */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    NULL,
};
// clang-format on

static h_client_t *connect_bot(xmpp_ctx_t *ctx, h_server_t *srv)
{
    h_client_t *bot = h_client_new(ctx, srv, "bot.example.test", "s3cret", H_COMPONENT);
    if (!CHECK_MSG(h_client_wait_login(bot, 10000), "component handshake failed (stream error %d)",
                   bot->stream_error)) {
        h_client_free(bot);
        return NULL;
    }
    return bot;
}

static int got(h_client_t *c, const h_match_t *m, const char *what)
{
    xmpp_stanza_t *st = h_wait(c, m, 5000);
    if (st)
        xmpp_stanza_release(st);
    return CHECK_MSG(st != NULL, "%s did not arrive", what);
}

static void component_connects_with_secret(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *bot = connect_bot(ctx, srv);
    CHECK(h_log_has(srv, mark, "event=component.auth", "ok=1", "domain=bot.example.test", NULL));
    h_client_free(bot);
    h_ctx_free(ctx);
}

static void wrong_secret_is_not_authorized(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *bot = h_client_new(ctx, srv, "bot.example.test", "guess", H_COMPONENT);
    CHECK(!h_client_wait_login(bot, 10000));
    CHECK_MSG(bot->stream_error == XMPP_SE_NOT_AUTHORIZED, "stream error %d", bot->stream_error);
    CHECK(h_log_has(srv, mark, "event=component.auth", "ok=0", "domain=bot.example.test", NULL));
    h_client_free(bot);
    h_ctx_free(ctx);
}

static void unknown_component_domain_is_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bot = h_client_new(ctx, srv, "rogue.example.test", "s3cret", H_COMPONENT);
    CHECK(!h_client_wait_login(bot, 10000));
    CHECK_MSG(bot->stream_error == XMPP_SE_HOST_UNKNOWN, "stream error %d", bot->stream_error);
    h_client_free(bot);
    h_ctx_free(ctx);
}

static void users_reach_the_component(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bot = connect_bot(ctx, srv);
    h_client_t *alice = bot ? h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0) : NULL;
    if (alice) {
        h_send(alice, "<message to='bot.example.test' type='chat'><body>hi bot</body></message>");
        h_send(alice,
               "<message to='anything@bot.example.test' type='chat'><body>hi user of bot</body>"
               "</message>");
        got(bot,
            &(h_match_t){.name = "message", .body = "hi bot", .from = "alice@example.test/home"},
            "message to the component's domain");
        got(bot,
            &(h_match_t){
                .name = "message", .body = "hi user of bot", .from = "alice@example.test/home"},
            "message to a JID at the component");
        /* An IQ goes through and the component's answer comes back. */
        h_send(alice, "<iq type='get' id='q1' to='anything@bot.example.test'>"
                      "<query xmlns='jabber:iq:version'/></iq>");
        if (got(bot, &(h_match_t){.name = "iq", .id = "q1", .type = "get"},
                "IQ to the component")) {
            h_send(bot, "<iq type='result' id='q1' from='anything@bot.example.test' "
                        "to='alice@example.test/home'><query xmlns='jabber:iq:version'>"
                        "<name>Bot</name></query></iq>");
            got(alice,
                &(h_match_t){.name = "iq",
                             .id = "q1",
                             .type = "result",
                             .from = "anything@bot.example.test"},
                "the component's IQ answer");
        }
    }
    h_client_free(alice);
    h_client_free(bot);
    h_ctx_free(ctx);
}

static void component_reaches_users(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bot = connect_bot(ctx, srv);
    h_client_t *alice = bot ? h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0) : NULL;
    if (alice) {
        h_send(bot, "<message from='bot.example.test' to='alice@example.test' type='chat'>"
                    "<body>beep</body></message>");
        got(alice, &(h_match_t){.name = "message", .body = "beep", .from = "bot.example.test"},
            "message from the component's domain");
        h_send(bot, "<message from='+15551234@bot.example.test/sms' to='alice@example.test/home' "
                    "type='chat'><body>sms reply</body></message>");
        got(alice,
            &(h_match_t){
                .name = "message", .body = "sms reply", .from = "+15551234@bot.example.test/sms"},
            "message from a JID at the component");
    }
    h_client_free(alice);
    h_client_free(bot);
    h_ctx_free(ctx);
}

static void component_cannot_send_as_others(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bot = connect_bot(ctx, srv);
    h_client_t *alice = bot ? h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0) : NULL;
    if (alice) {
        h_send(bot, "<message from='admin@example.test' to='alice@example.test' type='chat'>"
                    "<body>trust me</body></message>");
        CHECK(h_wait_disconnect(bot, 5000));
        CHECK_MSG(bot->stream_error == XMPP_SE_INVALID_FROM, "stream error %d", bot->stream_error);
        /* Nothing reached alice: a later server round trip would come after it. */
        xmpp_stanza_t *r =
            h_iq(alice, "get", "example.test", "<ping xmlns='urn:xmpp:ping'/>", 5000);
        CHECK(r != NULL);
        if (r)
            xmpp_stanza_release(r);
        CHECK(h_count(alice, &(h_match_t){.name = "message", .body = "trust me"}) == 0);
    }
    h_client_free(alice);
    h_client_free(bot);
    h_ctx_free(ctx);
}

static void component_offline_means_service_unavailable(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    if (alice) {
        h_send(alice, "<message to='bot.example.test' id='off1' type='chat'><body>anyone?</body>"
                      "</message>");
        xmpp_stanza_t *err = h_wait(alice, &(h_match_t){.name = "message", .id = "off1"}, 5000);
        if (CHECK_MSG(err != NULL, "no error came back")) {
            const char *c = h_error_condition(err);
            CHECK(strcmp(xmpp_stanza_get_type(err), "error") == 0);
            CHECK_MSG(c && strcmp(c, "service-unavailable") == 0, "condition %s", c ? c : "none");
            xmpp_stanza_release(err);
        }
    }
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* A component that reconnects takes over; the stale stream is told why. */
static void reconnecting_component_replaces_old_stream(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *old = connect_bot(ctx, srv);
    h_client_t *fresh = old ? connect_bot(ctx, srv) : NULL;
    h_client_t *alice = fresh ? h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0) : NULL;
    if (alice) {
        CHECK(h_wait_disconnect(old, 5000));
        CHECK_MSG(old->stream_error == XMPP_SE_CONFLICT, "stream error %d", old->stream_error);
        h_send(alice, "<message to='bot.example.test' type='chat'><body>new bot?</body></message>");
        got(fresh, &(h_match_t){.name = "message", .body = "new bot?"},
            "message to the new stream");
    }
    h_client_free(alice);
    h_client_free(fresh);
    h_client_free(old);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {.limits = "auth_fail_per_ip = 1000;", .accounts = accounts};
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(component_connects_with_secret, &srv);
        H_RUN(wrong_secret_is_not_authorized, &srv);
        H_RUN(unknown_component_domain_is_refused, &srv);
        H_RUN(users_reach_the_component, &srv);
        H_RUN(component_reaches_users, &srv);
        H_RUN(component_cannot_send_as_others, &srv);
        H_RUN(component_offline_means_service_unavailable, &srv);
        H_RUN(reconnecting_component_replaces_old_stream, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
