/* test_push.c — push notifications (XEP-0357, issue #5 point 6).  The app
 * server is a fake: a component (bot.example.test) that records the
 * publishes it receives and answers them.  Alice registers, her connection
 * dies (stream management keeps the session, detached) or she logs out,
 * and bob's messages become summaries at the app server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw", "bob@example.test", "bob-pw",
    NULL,
};
// clang-format on

#define APP "bot.example.test"

static const char *const secret_form =
    "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
    "<value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
    "<field var='secret'><value>s3</value></field></x>";

/* Waits for a publish at the app server and answers it (result, or an
 * error of type cancel when `refuse`).  Returns it (release it) or NULL. */
static xmpp_stanza_t *next_publish(h_client_t *app, int refuse, int timeout_ms)
{
    xmpp_stanza_t *iq = h_wait(app, &(h_match_t){.name = "iq", .type = "set"}, timeout_ms);
    if (!iq)
        return NULL;
    const char *id = xmpp_stanza_get_id(iq), *from = xmpp_stanza_get_from(iq);
    if (refuse)
        h_send(app,
               "<iq type='error' id='%s' to='%s' from='" APP "'><error type='cancel'>"
               "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
               id, from);
    else
        h_send(app, "<iq type='result' id='%s' to='%s' from='" APP "'/>", id, from);
    h_run_for(app->ctx, 20);
    return iq;
}

/* Nothing reaches the app server for a while. */
static int no_publish(h_client_t *app)
{
    xmpp_stanza_t *iq = next_publish(app, 0, 800);
    if (iq)
        xmpp_stanza_release(iq);
    return iq == NULL;
}

/* The value of a summary field, or NULL (heap string). */
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

static const char *node_of(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *ps = xmpp_stanza_get_child_by_name(iq, "pubsub");
    xmpp_stanza_t *pub = ps ? xmpp_stanza_get_child_by_name(ps, "publish") : NULL;
    return pub ? xmpp_stanza_get_attribute(pub, "node") : "";
}

static int field_is(xmpp_stanza_t *iq, const char *var, const char *want)
{
    char *v = field(iq, var);
    int ok = want ? v && !strcmp(v, want) : v == NULL;
    if (!ok)
        printf("    field %s = %s, wanted %s\n", var, v ? v : "(none)", want ? want : "(none)");
    free(v);
    return ok;
}

static int enable(h_client_t *c, const char *node, int body)
{
    char payload[1024];
    snprintf(payload, sizeof(payload),
             "<enable xmlns='urn:xmpp:push:0' jid='" APP "' node='%s'>%s%s</enable>", node,
             body ? "<include-body xmlns='urn:parley:push'/>" : "", secret_form);
    xmpp_stanza_t *r = h_iq(c, "set", NULL, payload, 5000);
    int ok = r && h_attr_eq(r, "type", "result");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

static void chat(h_client_t *bob, const char *body)
{
    h_send(bob, "<message to='alice@example.test' type='chat'><body>%s</body></message>", body);
    h_run_for(bob->ctx, 20);
}

static void registration_and_summaries(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *app = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/phone", "alice-pw", 0);
    h_raw_t r;
    memset(&r, 0, sizeof(r));
    r.fd = -1;
    if (!CHECK(h_client_wait_login(app, 5000)) || !bob || !alice)
        goto out;
    CHECK(enable(alice, "n-plain", 0));
    CHECK(enable(alice, "n-body", 1));
    /* Alice is connected: nothing is pushed. */
    chat(bob, "seen live");
    xmpp_stanza_t *live = h_wait(alice, &(h_match_t){.name = "message", .body = "seen live"}, 5000);
    if (CHECK(live))
        xmpp_stanza_release(live);
    h_settle(bob);
    CHECK(h_count(app, &(h_match_t){.name = "iq"}) == 0);
    /* Alice logs out: each message is pushed to both nodes. */
    h_client_free(alice);
    alice = NULL;
    h_run_for(ctx, 200);
    chat(bob, "first");
    chat(bob, "second");
    int plain = 0, body = 0;
    for (int i = 0; i < 4; i++) {
        xmpp_stanza_t *iq = next_publish(app, 0, 5000);
        if (!CHECK_MSG(iq, "publish %d of 4 did not come", i + 1))
            break;
        CHECK(h_attr_eq(iq, "from", "alice@example.test"));
        int is_body = !strcmp(node_of(iq), "n-body");
        body += is_body;
        plain += !strcmp(node_of(iq), "n-plain");
        CHECK(field_is(iq, "FORM_TYPE", "urn:xmpp:push:summary"));
        CHECK(field_is(iq, "last-message-sender", "bob@example.test/desk"));
        char *count = field(iq, "message-count");
        char *text = field(iq, "last-message-body");
        CHECK(count && (!strcmp(count, "1") || !strcmp(count, "2")));
        if (is_body)
            CHECK_MSG(text && !strcmp(text, !strcmp(count ? count : "", "1") ? "first" : "second"),
                      "body %s for count %s", text ? text : "(none)", count ? count : "-");
        else
            CHECK_MSG(!text, "a body went to a node that did not ask for it");
        free(count);
        free(text);
        /* The client's publish-options travel with every publish. */
        xmpp_stanza_t *ps = xmpp_stanza_get_child_by_name(iq, "pubsub");
        char *opts = NULL;
        size_t len = 0;
        if (ps && xmpp_stanza_get_child_by_name(ps, "publish-options"))
            xmpp_stanza_to_text(xmpp_stanza_get_child_by_name(ps, "publish-options"), &opts, &len);
        CHECK_MSG(opts && strstr(opts, "s3"), "publish-options: %s", opts ? opts : "(none)");
        if (opts)
            xmpp_free(ctx, opts);
        xmpp_stanza_release(iq);
    }
    CHECK(plain == 2 && body == 2);

    /* A stream-management session whose connection died counts as gone. */
    if (CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "sm"))) {
        h_raw_sendf(&r, "<presence/><enable xmlns='urn:xmpp:sm:3' resume='true'/>");
        CHECK(h_raw_wait(&r, "<enabled", 5000));
        chat(bob, "while connected");
        CHECK(h_raw_wait(&r, "<body>while connected</body>", 5000));
        h_settle(bob);
        CHECK(h_count(app, &(h_match_t){.name = "iq"}) == 0);
        size_t mark = h_log_mark(srv);
        h_raw_close(&r);
        CHECK(h_log_wait(srv, mark, 5000, "event=sm.detached", NULL));
        chat(bob, "while detached");
        xmpp_stanza_t *a = next_publish(app, 0, 5000), *b = next_publish(app, 0, 5000);
        CHECK_MSG(a && b, "a detached session's account was not pushed");
        /* The count started again when the session bound. */
        if (a)
            CHECK(field_is(a, "message-count", "1"));
        if (a)
            xmpp_stanza_release(a);
        if (b)
            xmpp_stanza_release(b);
    }

    /* Disabling one node, then the whole app server. */
    alice = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    if (alice) {
        xmpp_stanza_t *d =
            h_iq(alice, "set", NULL, "<disable xmlns='urn:xmpp:push:0' jid='" APP "' node='n-body'/>",
                 5000);
        CHECK(d && h_attr_eq(d, "type", "result"));
        if (d)
            xmpp_stanza_release(d);
        h_client_free(alice);
        alice = NULL;
        h_run_for(ctx, 200);
    }
    chat(bob, "one node left");
    xmpp_stanza_t *only = next_publish(app, 0, 5000);
    if (CHECK(only)) {
        CHECK(!strcmp(node_of(only), "n-plain"));
        xmpp_stanza_release(only);
    }
    CHECK(no_publish(app));
    alice = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    if (alice) {
        xmpp_stanza_t *d =
            h_iq(alice, "set", NULL, "<disable xmlns='urn:xmpp:push:0' jid='" APP "'/>", 5000);
        CHECK(d && h_attr_eq(d, "type", "result"));
        if (d)
            xmpp_stanza_release(d);
        h_client_free(alice);
        alice = NULL;
        h_run_for(ctx, 200);
    }
    chat(bob, "nobody registered");
    CHECK(no_publish(app));
out:
    h_raw_close(&r);
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(app);
    h_ctx_free(ctx);
}

/* An app server that answers with an error of type cancel no longer knows
 * the device: the registration goes. */
static void refused_publish_unregisters(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *app = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/phone", "alice-pw", 0);
    if (!CHECK(h_client_wait_login(app, 5000)) || !bob || !alice)
        goto out;
    CHECK(enable(alice, "gone", 0));
    h_client_free(alice);
    alice = NULL;
    h_run_for(ctx, 200);
    size_t mark = h_log_mark(srv);
    chat(bob, "to a lost phone");
    xmpp_stanza_t *iq = next_publish(app, 1, 5000);
    if (CHECK(iq))
        xmpp_stanza_release(iq);
    CHECK(h_log_wait(srv, mark, 5000, "event=push.disabled", NULL));
    h_run_for(ctx, 200);
    chat(bob, "again");
    CHECK(no_publish(app));
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(app);
    h_ctx_free(ctx);
}

static void bad_requests_and_limits(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    if (!alice)
        goto out;
    const char *bad[] = {
        "<enable xmlns='urn:xmpp:push:0' jid='" APP "'/>",
        "<enable xmlns='urn:xmpp:push:0' node='n'/>",
        "<enable xmlns='urn:xmpp:push:0' jid='@@bad' node='n'/>",
        "<disable xmlns='urn:xmpp:push:0'/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        xmpp_stanza_t *e = h_iq(alice, "set", NULL, bad[i], 5000);
        CHECK_MSG(e && h_error_condition(e) && !strcmp(h_error_condition(e), "bad-request"),
                  "%s -> %s", bad[i], e ? h_error_condition(e) : "nothing");
        if (e)
            xmpp_stanza_release(e);
    }
    /* Someone else's account. */
    xmpp_stanza_t *e = h_iq(alice, "set", "bob@example.test",
                            "<enable xmlns='urn:xmpp:push:0' jid='" APP "' node='n'/>", 5000);
    CHECK(e && h_attr_eq(e, "type", "error"));
    if (e)
        xmpp_stanza_release(e);
    /* max_registrations = 3 here. */
    CHECK(enable(alice, "l1", 0) && enable(alice, "l2", 0) && enable(alice, "l3", 0));
    CHECK(enable(alice, "l3", 1)); /* replacing one is not a new one */
    e = h_iq(alice, "set", NULL,
             "<enable xmlns='urn:xmpp:push:0' jid='" APP "' node='l4'/>", 5000);
    CHECK_MSG(e && h_error_condition(e) && !strcmp(h_error_condition(e), "resource-constraint"),
              "fourth registration: %s", e ? h_error_condition(e) : "nothing");
    if (e)
        xmpp_stanza_release(e);
    e = h_iq(alice, "set", NULL, "<disable xmlns='urn:xmpp:push:0' jid='" APP "'/>", 5000);
    CHECK(e && h_attr_eq(e, "type", "result"));
    if (e)
        xmpp_stanza_release(e);
out:
    h_client_free(alice);
    h_ctx_free(ctx);
}

int main(void)
{
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .modules = "roster = {}; presence = {}; push = { max_registrations = 3; timeout = \"5s\"; };",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(registration_and_summaries, &srv);
        H_RUN(refused_publish_unregisters, &srv);
        H_RUN(bad_requests_and_limits, &srv);
    }
    h_server_stop(&srv);
    return h_finish("test_push");
}
