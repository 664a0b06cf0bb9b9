/* test_persistence.c — nothing a user stored is lost when the server
 * restarts: roster items with their names, groups and subscription states
 * (and the XEP-0237 version), the vCard, private XML, PEP items, the
 * blocklist and the last-activity record all come back from storage. */
#include <stdio.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_ROSTER "jabber:iq:roster"
#define NS_VCARD "vcard-temp"
#define NS_PRIVATE "jabber:iq:private"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_NICK "http://jabber.org/protocol/nick"
#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_LAST "jabber:iq:last"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw",
    NULL,
};
// clang-format on

/* What alice's first session learnt, checked after the restart. */
static char roster_ver[32];

static int result(xmpp_stanza_t *r)
{
    int ok = h_attr_eq(r, "type", "result");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

/* The mutual subscription alice and bob agree on, both online. */
static void subscribe_both_ways(h_client_t *alice, h_client_t *bob)
{
    h_send(alice, "<presence type='subscribe' to='bob@example.test'/>");
    xmpp_stanza_t *st = h_wait(
        bob, &(h_match_t){.name = "presence", .type = "subscribe", .from = "alice@example.test"},
        5000);
    CHECK_MSG(st, "bob got alice's request");
    if (st)
        xmpp_stanza_release(st);
    h_send(bob, "<presence type='subscribed' to='alice@example.test'/>");
    h_send(bob, "<presence type='subscribe' to='alice@example.test'/>");
    st = h_wait(alice,
                &(h_match_t){.name = "presence", .type = "subscribe", .from = "bob@example.test"},
                5000);
    CHECK_MSG(st, "alice got bob's request");
    if (st)
        xmpp_stanza_release(st);
    h_send(alice, "<presence type='subscribed' to='bob@example.test'/>");
    h_settle(alice);
    h_settle(bob);
}

static void store_everything(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/home", "pw", 0);
    if (!alice || !bob)
        goto out;
    /* Roster pushes come to resources that asked for the roster. */
    CHECK(result(h_iq(alice, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000)));
    CHECK(result(h_iq(bob, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000)));
    CHECK(result(h_iq(alice, "set", NULL,
                      "<query xmlns='" NS_ROSTER "'><item jid='bob@example.test' name='Bobby'>"
                      "<group>Work</group><group>Chess</group></item></query>",
                      5000)));
    subscribe_both_ways(alice, bob);
    CHECK(result(h_iq(alice, "set", NULL,
                      "<vCard xmlns='" NS_VCARD "'><FN>Alice Liddell</FN>"
                      "<TITLE>Engineer</TITLE></vCard>",
                      5000)));
    CHECK(result(h_iq(alice, "set", NULL,
                      "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'>"
                      "<theme>dark</theme></prefs></query>",
                      5000)));
    CHECK(result(h_iq(alice, "set", NULL,
                      "<pubsub xmlns='" NS_PUBSUB "'><publish node='" NS_NICK "'>"
                      "<item id='current'><nick xmlns='" NS_NICK "'>Ali</nick></item>"
                      "</publish></pubsub>",
                      5000)));
    CHECK(result(h_iq(alice, "set", NULL,
                      "<block xmlns='" NS_BLOCKING "'><item jid='spam.example.test'/></block>",
                      5000)));
    xmpp_stanza_t *r = h_iq(alice, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000);
    const char *ver = xmpp_stanza_get_attribute(h_child(r, "query", NS_ROSTER), "ver");
    CHECK_MSG(ver && *ver, "the roster has a version");
    snprintf(roster_ver, sizeof(roster_ver), "%s", ver ? ver : "");
    if (r)
        xmpp_stanza_release(r);
    /* alice leaves with a status text: last activity keeps it. */
    h_send(alice, "<presence type='unavailable'><status>gone fishing</status></presence>");
    h_settle(bob);
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void roster_item_ok(xmpp_stanza_t *q)
{
    xmpp_stanza_t *item = NULL;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && h_attr_eq(k, "jid", "bob@example.test"))
            item = k;
    CHECK_MSG(item, "bob is still in alice's roster");
    if (!item)
        return;
    CHECK(h_attr_eq(item, "name", "Bobby"));
    CHECK_MSG(h_attr_eq(item, "subscription", "both"), "subscription %s",
              xmpp_stanza_get_attribute(item, "subscription"));
    int work = 0, chess = 0;
    for (xmpp_stanza_t *g = xmpp_stanza_get_children(item); g; g = xmpp_stanza_get_next(g)) {
        char *t = xmpp_stanza_is_tag(g) ? xmpp_stanza_get_text(g) : NULL;
        work |= t && strcmp(t, "Work") == 0;
        chess |= t && strcmp(t, "Chess") == 0;
        if (t)
            xmpp_free(xmpp_stanza_get_context(g), t);
    }
    CHECK_MSG(work && chess, "groups kept");
}

static void everything_is_back(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    /* bob first, while alice is offline: her last activity survived. */
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/home", "pw", 0);
    if (!bob)
        goto out;
    xmpp_stanza_t *r = h_iq(bob, "get", "alice@example.test", "<query xmlns='" NS_LAST "'/>", 5000);
    xmpp_stanza_t *q = h_child(r, "query", NS_LAST);
    char *status = q ? xmpp_stanza_get_text(q) : NULL;
    CHECK_MSG(h_attr_eq(r, "type", "result") && q && xmpp_stanza_get_attribute(q, "seconds"),
              "last activity of alice after the restart");
    CHECK_MSG(status && strcmp(status, "gone fishing") == 0, "last status '%s'",
              status ? status : "");
    if (status)
        xmpp_free(ctx, status);
    if (r)
        xmpp_stanza_release(r);

    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "pw", 0);
    if (!alice)
        goto out;
    r = h_iq(alice, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000);
    roster_item_ok(h_child(r, "query", NS_ROSTER));
    if (r)
        xmpp_stanza_release(r);
    /* The version survived too: asking with it brings no changes. */
    char payload[128];
    snprintf(payload, sizeof(payload), "<query xmlns='" NS_ROSTER "' ver='%s'/>", roster_ver);
    r = h_iq(alice, "get", NULL, payload, 5000);
    CHECK_MSG(h_attr_eq(r, "type", "result") && !h_child(r, "query", NS_ROSTER),
              "roster get with the version from before the restart is an empty result");
    if (r)
        xmpp_stanza_release(r);
    h_settle(alice);
    CHECK_MSG(h_count(alice, &(h_match_t){.name = "iq", .type = "set"}) == 0,
              "no roster pushes: nothing changed");

    r = h_iq(alice, "get", NULL, "<vCard xmlns='" NS_VCARD "'/>", 5000);
    char *fn = h_child_text(h_child(r, "vCard", NS_VCARD), "FN");
    CHECK_MSG(fn && strcmp(fn, "Alice Liddell") == 0, "vCard FN '%s'", fn ? fn : "");
    free(fn);
    if (r)
        xmpp_stanza_release(r);

    r = h_iq(alice, "get", NULL,
             "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'/></query>", 5000);
    char *theme = h_child_text(
        h_child(h_child(r, "query", NS_PRIVATE), "prefs", "urn:example:prefs"), "theme");
    CHECK_MSG(theme && strcmp(theme, "dark") == 0, "private XML '%s'", theme ? theme : "");
    free(theme);
    if (r)
        xmpp_stanza_release(r);

    r = h_iq(alice, "get", NULL,
             "<pubsub xmlns='" NS_PUBSUB "'><items node='" NS_NICK "'/></pubsub>", 5000);
    xmpp_stanza_t *item =
        h_child(h_child(h_child(r, "pubsub", NS_PUBSUB), "items", NS_PUBSUB), "item", NS_PUBSUB);
    char *nick = h_child_text(item, "nick");
    CHECK_MSG(h_attr_eq(item, "id", "current") && nick && strcmp(nick, "Ali") == 0, "PEP nick '%s'",
              nick ? nick : "");
    free(nick);
    if (r)
        xmpp_stanza_release(r);

    r = h_iq(alice, "get", NULL, "<blocklist xmlns='" NS_BLOCKING "'/>", 5000);
    xmpp_stanza_t *bl = h_child(h_child(r, "blocklist", NS_BLOCKING), "item", NS_BLOCKING);
    CHECK_MSG(h_attr_eq(bl, "jid", "spam.example.test"), "blocklist kept");
    if (r)
        xmpp_stanza_release(r);

    /* The subscription works: bob sees alice come online. */
    xmpp_stanza_t *p = h_wait(
        bob, &(h_match_t){.name = "presence", .type = NULL, .from = "alice@example.test/home"},
        5000);
    CHECK_MSG(p, "bob sees alice's presence after the restart");
    if (p)
        xmpp_stanza_release(p);
    h_client_free(alice);
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void restart_keeps_user_data(h_server_t *srv)
{
    store_everything(srv);
    if (CHECK_MSG(h_server_restart(srv) == 0, "the server came back"))
        everything_is_back(srv);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; vcard = {}; private = {}; last = {}; pep = {};"
                   " blocking = {};",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0)
        H_RUN(restart_keeps_user_data, &srv);
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
