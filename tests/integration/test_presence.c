/* test_presence.c — presence and subscriptions as users see them (PRES-1,
 * PRES-2 status text, PRES-4, PRES-5): the RFC 6121 subscription handshake
 * with roster pushes, pre-approval, cancelling, requests kept for offline
 * contacts, probes at login, broadcast to subscribers only, directed
 * presence, the unavailable owed when a connection just drops, and Parley's
 * product states with their limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define NS_ROSTER "jabber:iq:roster"
#define NS_STATE "urn:parley:presence"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw",
    "carol@example.test", "pw", "dave@example.test", "pw",
    "erin@example.test", "pw", "frank@example.test", "pw",
    "gina@example.test", "pw", "hank@example.test", "pw",
    "ivan@example.test", "pw", "judy@example.test", "pw",
    "kate@example.test", "pw", "leo@example.test", "pw",
    "mike@example.test", "pw", "nina@example.test", "pw",
    "oscar@example.test", "pw", "pat@example.test", "pw",
    "quinn@example.test", "pw", "rita@example.test", "pw",
    "sam@example.test", "pw", "tina@example.test", "pw",
    "uma@example.test", "pw", "vic@example.test", "pw",
    "wendy@example.test", "pw", "xena@example.test", "pw",
    "yuri@example.test", "pw", "zoe@example.test", "pw",
    "amy@example.test", "pw", "ben@example.test", "pw",
    NULL,
};
// clang-format on

/* ---- waiting for a stanza by what it says ---- */

typedef int (*pred_fn)(xmpp_stanza_t *st, const void *arg);

static xmpp_stanza_t *take_pred(h_client_t *c, pred_fn p, const void *arg)
{
    for (size_t i = 0; i < c->ninbox; i++) {
        if (p(c->inbox[i], arg)) {
            xmpp_stanza_t *st = c->inbox[i];
            memmove(c->inbox + i, c->inbox + i + 1, (c->ninbox - i - 1) * sizeof(*c->inbox));
            c->ninbox--;
            return st;
        }
    }
    return NULL;
}

/* Waits for a matching stanza and removes it from the inbox; 1 when found. */
static int wait_pred(h_client_t *c, pred_fn p, const void *arg, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        xmpp_stanza_t *st = take_pred(c, p, arg);
        if (st) {
            xmpp_stanza_release(st);
            return 1;
        }
        if (h_now_ms() >= deadline)
            return 0;
        xmpp_run_once(c->ctx, 5);
    }
}

static int count_pred(h_client_t *c, pred_fn p, const void *arg)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++)
        n += p(c->inbox[i], arg);
    return n;
}

static int child_text_eq(xmpp_stanza_t *st, const char *name, const char *want)
{
    if (!want)
        return 1;
    char *t = h_child_text(st, name);
    int ok = t && strcmp(t, want) == 0;
    free(t);
    return ok;
}

/* A roster push carrying one item in a given state. */
typedef struct push_want {
    const char *jid, *sub, *ask, *approved; /* ask/approved NULL = absent */
} push_want_t;

static int is_push(xmpp_stanza_t *st, const void *arg)
{
    const push_want_t *w = arg;
    if (strcmp(xmpp_stanza_get_name(st), "iq") != 0 || !h_attr_eq(st, "type", "set"))
        return 0;
    xmpp_stanza_t *q = xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_ROSTER);
    xmpp_stanza_t *item = q ? xmpp_stanza_get_child_by_name(q, "item") : NULL;
    return item && h_attr_eq(item, "jid", w->jid) && h_attr_eq(item, "subscription", w->sub) &&
           h_attr_eq(item, "ask", w->ask) &&
           (w->approved
                ? h_attr_eq(item, "approved", w->approved)
                : !h_attr_eq(item, "approved", "true") && !h_attr_eq(item, "approved", "1"));
}

/* A presence; type NULL = available; other NULL fields match anything. */
typedef struct pres_want {
    const char *from, *type, *show, *status, *state;
} pres_want_t;

static int is_presence(xmpp_stanza_t *st, const void *arg)
{
    const pres_want_t *w = arg;
    if (strcmp(xmpp_stanza_get_name(st), "presence") != 0 || !h_attr_eq(st, "from", w->from) ||
        !h_attr_eq(st, "type", w->type))
        return 0;
    if (!child_text_eq(st, "show", w->show) || !child_text_eq(st, "status", w->status))
        return 0;
    if (w->state) {
        xmpp_stanza_t *s = xmpp_stanza_get_child_by_name_and_ns(st, "state", NS_STATE);
        if (!s || !h_attr_eq(s, "value", w->state))
            return 0;
    }
    return 1;
}

static int is_any_presence_from(xmpp_stanza_t *st, const void *arg)
{
    const char *from = xmpp_stanza_get_from(st);
    return strcmp(xmpp_stanza_get_name(st), "presence") == 0 && from &&
           strncmp(from, arg, strlen(arg)) == 0;
}

static int is_presence_error(xmpp_stanza_t *st, const void *arg)
{
    const char *cond = h_error_condition(st);
    return strcmp(xmpp_stanza_get_name(st), "presence") == 0 && h_attr_eq(st, "type", "error") &&
           cond && strcmp(cond, arg) == 0;
}

/* ---- clients ---- */

/* Logs in, asks for the roster (so roster pushes come), then sends initial
 * presence (`presence` XML, or a plain one). */
static h_client_t *login(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const char *presence)
{
    h_client_t *c = h_client_new(ctx, srv, jid, "pw", H_STARTTLS);
    if (!CHECK_MSG(h_client_wait_login(c, 15000), "login of %s", jid)) {
        h_client_free(c);
        return NULL;
    }
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000);
    CHECK_MSG(r && h_attr_eq(r, "type", "result"), "roster of %s", jid);
    if (r)
        xmpp_stanza_release(r);
    if (presence)
        h_send(c, "%s", presence);
    h_settle(c);
    return c;
}

static void send_sub(h_client_t *c, const char *type, const char *to)
{
    h_send(c, "<presence type='%s' to='%s'/>", type, to);
}

/* a and b subscribe to each other (both online, plain presence). */
static void make_mutual(h_client_t *a, const char *a_bare, h_client_t *b, const char *b_bare)
{
    pres_want_t sub_a = {.from = a_bare, .type = "subscribe"};
    pres_want_t sub_b = {.from = b_bare, .type = "subscribe"};
    pres_want_t ok_a = {.from = a_bare, .type = "subscribed"};
    pres_want_t ok_b = {.from = b_bare, .type = "subscribed"};
    send_sub(a, "subscribe", b_bare);
    CHECK(wait_pred(b, is_presence, &sub_a, 5000));
    send_sub(b, "subscribed", a_bare);
    CHECK(wait_pred(a, is_presence, &ok_b, 5000));
    send_sub(b, "subscribe", a_bare);
    CHECK(wait_pred(a, is_presence, &sub_b, 5000));
    send_sub(a, "subscribed", b_bare);
    CHECK(wait_pred(b, is_presence, &ok_a, 5000));
    h_drain(a);
    h_drain(b);
}

/* The <item/> for `jid` in the client's roster, checked against sub/ask. */
static int roster_has(h_client_t *c, const char *jid, const char *sub, const char *ask)
{
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000);
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name_and_ns(r, "query", NS_ROSTER) : NULL;
    int found = 0;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && h_attr_eq(k, "jid", jid))
            found = h_attr_eq(k, "subscription", sub) && h_attr_eq(k, "ask", ask);
    if (r)
        xmpp_stanza_release(r);
    return found;
}

/* ---- tests ---- */

static void subscription_handshake_then_mutual(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = login(ctx, srv, "alice@example.test/a", "<presence/>");
    h_client_t *bob =
        login(ctx, srv, "bob@example.test/b", "<presence><status>at work</status></presence>");
    if (!alice || !bob)
        goto out;
    h_send(alice, "<presence type='subscribe' to='bob@example.test'><status>it is alice</status>"
                  "</presence>");
    push_want_t a1 = {.jid = "bob@example.test", .sub = "none", .ask = "subscribe"};
    CHECK_MSG(wait_pred(alice, is_push, &a1, 5000), "push with ask='subscribe'");
    pres_want_t req = {.from = "alice@example.test", .type = "subscribe", .status = "it is alice"};
    CHECK_MSG(wait_pred(bob, is_presence, &req, 5000), "bob gets the request with its text");
    send_sub(bob, "subscribed", "alice@example.test");
    push_want_t b1 = {.jid = "alice@example.test", .sub = "from"};
    CHECK_MSG(wait_pred(bob, is_push, &b1, 5000), "bob's push: from");
    push_want_t a2 = {.jid = "bob@example.test", .sub = "to"};
    CHECK_MSG(wait_pred(alice, is_push, &a2, 5000), "alice's push: to");
    pres_want_t ok = {.from = "bob@example.test", .type = "subscribed"};
    CHECK(wait_pred(alice, is_presence, &ok, 5000));
    pres_want_t bobs = {.from = "bob@example.test/b", .status = "at work"};
    CHECK_MSG(wait_pred(alice, is_presence, &bobs, 5000), "alice gets bob's current presence");
    CHECK(roster_has(alice, "bob@example.test", "to", NULL));
    CHECK(roster_has(bob, "alice@example.test", "from", NULL));

    /* The other direction makes it 'both'. */
    send_sub(bob, "subscribe", "alice@example.test");
    pres_want_t req2 = {.from = "bob@example.test", .type = "subscribe"};
    CHECK(wait_pred(alice, is_presence, &req2, 5000));
    send_sub(alice, "subscribed", "bob@example.test");
    push_want_t a3 = {.jid = "bob@example.test", .sub = "both"};
    push_want_t b3 = {.jid = "alice@example.test", .sub = "both"};
    CHECK_MSG(wait_pred(alice, is_push, &a3, 5000), "alice's push: both");
    CHECK_MSG(wait_pred(bob, is_push, &b3, 5000), "bob's push: both");
    pres_want_t alices = {.from = "alice@example.test/a"};
    CHECK_MSG(wait_pred(bob, is_presence, &alices, 5000), "bob gets alice's presence");
    CHECK(roster_has(alice, "bob@example.test", "both", NULL));
    CHECK(roster_has(bob, "alice@example.test", "both", NULL));
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void preapproval_answers_the_request_at_once(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *carol = login(ctx, srv, "carol@example.test/c", "<presence/>");
    h_client_t *dave = login(ctx, srv, "dave@example.test/d", "<presence/>");
    if (!carol || !dave)
        goto out;
    send_sub(carol, "subscribed", "dave@example.test");
    push_want_t c1 = {.jid = "dave@example.test", .sub = "none", .approved = "true"};
    CHECK_MSG(wait_pred(carol, is_push, &c1, 5000), "push with approved='true'");
    h_settle(dave);
    pres_want_t any_carol = {.from = "carol@example.test", .type = "subscribed"};
    CHECK_MSG(count_pred(dave, is_presence, &any_carol) == 0,
              "a pre-approval is not sent to the contact");
    send_sub(dave, "subscribe", "carol@example.test");
    CHECK_MSG(wait_pred(dave, is_presence, &any_carol, 5000), "answered without carol");
    pres_want_t carols = {.from = "carol@example.test/c"};
    CHECK(wait_pred(dave, is_presence, &carols, 5000));
    push_want_t c2 = {.jid = "dave@example.test", .sub = "from"};
    CHECK(wait_pred(carol, is_push, &c2, 5000));
    h_settle(carol);
    pres_want_t req = {.from = "dave@example.test", .type = "subscribe"};
    CHECK_MSG(count_pred(carol, is_presence, &req) == 0, "carol is not asked");
out:
    h_client_free(carol);
    h_client_free(dave);
    h_ctx_free(ctx);
}

static void unsubscribe_unsubscribed_and_denial(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *erin = login(ctx, srv, "erin@example.test/e", "<presence/>");
    h_client_t *frank = login(ctx, srv, "frank@example.test/f", "<presence/>");
    if (!erin || !frank)
        goto out;
    make_mutual(erin, "erin@example.test", frank, "frank@example.test");
    /* frank stops receiving erin's presence. */
    send_sub(frank, "unsubscribe", "erin@example.test");
    push_want_t f1 = {.jid = "erin@example.test", .sub = "from"};
    CHECK(wait_pred(frank, is_push, &f1, 5000));
    pres_want_t uns = {.from = "frank@example.test", .type = "unsubscribe"};
    CHECK_MSG(wait_pred(erin, is_presence, &uns, 5000), "erin is told");
    push_want_t e1 = {.jid = "frank@example.test", .sub = "to"};
    CHECK(wait_pred(erin, is_push, &e1, 5000));
    pres_want_t gone = {.from = "erin@example.test/e", .type = "unavailable"};
    CHECK_MSG(wait_pred(frank, is_presence, &gone, 5000), "frank sees erin go unavailable");
    /* frank cancels erin's subscription to him. */
    send_sub(frank, "unsubscribed", "erin@example.test");
    push_want_t f2 = {.jid = "erin@example.test", .sub = "none"};
    CHECK(wait_pred(frank, is_push, &f2, 5000));
    pres_want_t unsd = {.from = "frank@example.test", .type = "unsubscribed"};
    CHECK(wait_pred(erin, is_presence, &unsd, 5000));
    push_want_t e2 = {.jid = "frank@example.test", .sub = "none"};
    CHECK(wait_pred(erin, is_push, &e2, 5000));
    pres_want_t fgone = {.from = "frank@example.test/f", .type = "unavailable"};
    CHECK(wait_pred(erin, is_presence, &fgone, 5000));
    /* A request refused with 'unsubscribed' clears the asker's ask. */
    send_sub(erin, "subscribe", "frank@example.test");
    push_want_t e3 = {.jid = "frank@example.test", .sub = "none", .ask = "subscribe"};
    CHECK(wait_pred(erin, is_push, &e3, 5000));
    pres_want_t req = {.from = "erin@example.test", .type = "subscribe"};
    CHECK(wait_pred(frank, is_presence, &req, 5000));
    send_sub(frank, "unsubscribed", "erin@example.test");
    CHECK_MSG(wait_pred(erin, is_push, &e2, 5000), "ask cleared after the refusal");
    CHECK(roster_has(erin, "frank@example.test", "none", NULL));
    /* A cancelled subscription is not broadcast to any more. */
    h_drain(erin);
    h_send(frank, "<presence><status>after</status></presence>");
    h_settle(frank);
    h_settle(erin);
    CHECK(count_pred(erin, is_any_presence_from, "frank@example.test") == 0);
out:
    h_client_free(erin);
    h_client_free(frank);
    h_ctx_free(ctx);
}

/* Removing a contact from the roster cancels both subscriptions (RFC 6121
 * §2.5.2): the contact is told, its roster follows, and each side sees the
 * other go unavailable. */
static void roster_remove_cancels_both_ways(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *amy = login(ctx, srv, "amy@example.test/a", "<presence/>");
    h_client_t *ben = login(ctx, srv, "ben@example.test/b", "<presence/>");
    if (!amy || !ben)
        goto out;
    make_mutual(amy, "amy@example.test", ben, "ben@example.test");
    xmpp_stanza_t *r = h_iq(amy, "set", NULL,
                            "<query xmlns='" NS_ROSTER "'><item jid='ben@example.test' "
                            "subscription='remove'/></query>",
                            5000);
    CHECK(r && h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    push_want_t g = {.jid = "ben@example.test", .sub = "remove"};
    CHECK(wait_pred(amy, is_push, &g, 5000));
    pres_want_t uns = {.from = "amy@example.test", .type = "unsubscribe"};
    pres_want_t unsd = {.from = "amy@example.test", .type = "unsubscribed"};
    CHECK_MSG(wait_pred(ben, is_presence, &uns, 5000), "ben is told of the unsubscribe");
    CHECK_MSG(wait_pred(ben, is_presence, &unsd, 5000), "ben is told of the unsubscribed");
    pres_want_t g_gone = {.from = "amy@example.test/a", .type = "unavailable"};
    CHECK_MSG(wait_pred(ben, is_presence, &g_gone, 5000), "ben sees amy go unavailable");
    pres_want_t h_gone = {.from = "ben@example.test/b", .type = "unavailable"};
    CHECK_MSG(wait_pred(amy, is_presence, &h_gone, 5000), "amy sees ben go unavailable");
    h_settle(ben);
    CHECK(roster_has(ben, "amy@example.test", "none", NULL));
    /* Neither hears the other's presence any more. */
    h_drain(amy);
    h_drain(ben);
    h_send(amy, "<presence><show>away</show></presence>");
    h_send(ben, "<presence><show>away</show></presence>");
    h_settle(amy);
    h_settle(ben);
    CHECK(count_pred(ben, is_any_presence_from, "amy@example.test") == 0);
    CHECK(count_pred(amy, is_any_presence_from, "ben@example.test") == 0);
out:
    h_client_free(amy);
    h_client_free(ben);
    h_ctx_free(ctx);
}

static void request_to_offline_contact_comes_at_login(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *gina = login(ctx, srv, "gina@example.test/g", "<presence/>");
    if (!gina)
        goto out;
    h_send(gina, "<presence type='subscribe' to='hank@example.test'><status>please</status>"
                 "</presence>");
    h_settle(gina);
    h_client_t *hank = login(ctx, srv, "hank@example.test/h", NULL);
    if (hank) {
        h_settle(hank);
        pres_want_t req = {.from = "gina@example.test", .type = "subscribe"};
        CHECK_MSG(count_pred(hank, is_presence, &req) == 0, "nothing before initial presence");
        h_send(hank, "<presence/>");
        pres_want_t req_text = {
            .from = "gina@example.test", .type = "subscribe", .status = "please"};
        CHECK_MSG(wait_pred(hank, is_presence, &req_text, 5000), "request kept with its text");
        CHECK_MSG(!roster_has(hank, "gina@example.test", "none", NULL),
                  "a pending request is not a roster item");
        send_sub(hank, "subscribed", "gina@example.test");
        pres_want_t ok = {.from = "hank@example.test", .type = "subscribed"};
        CHECK(wait_pred(gina, is_presence, &ok, 5000));
        CHECK(roster_has(hank, "gina@example.test", "from", NULL));
        h_client_free(hank);
    }
out:
    h_client_free(gina);
    h_ctx_free(ctx);
}

static void login_probes_bring_contacts_presence(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *ivan = login(ctx, srv, "ivan@example.test/i", "<presence/>");
    h_client_t *judy = login(ctx, srv, "judy@example.test/j", "<presence/>");
    if (!ivan || !judy)
        goto out;
    make_mutual(ivan, "ivan@example.test", judy, "judy@example.test");
    h_send(judy, "<presence><show>xa</show><status>far away</status></presence>");
    h_settle(judy);
    h_client_free(ivan);
    ivan = login(ctx, srv, "ivan@example.test/i2", "<presence/>");
    if (ivan) {
        pres_want_t judys = {.from = "judy@example.test/j", .show = "xa", .status = "far away"};
        CHECK_MSG(wait_pred(ivan, is_presence, &judys, 5000), "judy's presence at login");
    }
    pres_want_t ivans = {.from = "ivan@example.test/i2"};
    CHECK_MSG(wait_pred(judy, is_presence, &ivans, 5000), "judy sees ivan come online");
out:
    h_client_free(ivan);
    h_client_free(judy);
    h_ctx_free(ctx);
}

static void broadcast_reaches_subscribers_only(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *kate = login(ctx, srv, "kate@example.test/k", "<presence/>");
    h_client_t *leo = login(ctx, srv, "leo@example.test/l", "<presence/>");
    h_client_t *mike = login(ctx, srv, "mike@example.test/m", "<presence/>");
    if (!kate || !leo || !mike)
        goto out;
    make_mutual(kate, "kate@example.test", leo, "leo@example.test");
    h_drain(mike);
    h_send(kate, "<presence><show>away</show><status>lunch</status><priority>5</priority>"
                 "</presence>");
    pres_want_t want = {.from = "kate@example.test/k", .show = "away", .status = "lunch"};
    xmpp_stanza_t *got = NULL;
    long long deadline = h_now_ms() + 5000;
    while (!(got = take_pred(leo, is_presence, &want)) && h_now_ms() < deadline)
        xmpp_run_once(ctx, 5);
    if (CHECK_MSG(got, "leo gets kate's away")) {
        char *prio = h_child_text(got, "priority");
        CHECK(prio && strcmp(prio, "5") == 0);
        free(prio);
        xmpp_stanza_release(got);
    }
    CHECK_MSG(wait_pred(kate, is_presence, &want, 5000), "kate gets her own presence back");
    h_send(kate, "<presence><show>chat</show></presence>");
    pres_want_t chat = {.from = "kate@example.test/k", .show = "chat"};
    CHECK(wait_pred(leo, is_presence, &chat, 5000));
    h_settle(kate);
    h_settle(mike);
    CHECK_MSG(count_pred(mike, is_any_presence_from, "kate@example.test") == 0,
              "no presence for a non-subscriber");
out:
    h_client_free(kate);
    h_client_free(leo);
    h_client_free(mike);
    h_ctx_free(ctx);
}

static void directed_presence_and_its_unavailable(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *nina = login(ctx, srv, "nina@example.test/n", "<presence/>");
    h_client_t *oscar = login(ctx, srv, "oscar@example.test/o", "<presence/>");
    if (!nina || !oscar)
        goto out;
    h_send(nina, "<presence to='oscar@example.test/o'><status>hello you</status></presence>");
    pres_want_t hi = {.from = "nina@example.test/n", .status = "hello you"};
    CHECK(wait_pred(oscar, is_presence, &hi, 5000));
    h_client_free(nina);
    nina = NULL;
    pres_want_t bye = {.from = "nina@example.test/n", .type = "unavailable"};
    CHECK_MSG(wait_pred(oscar, is_presence, &bye, 5000), "unavailable at disconnect");
    /* A probe without a subscription is not answered. */
    h_send(oscar, "<presence type='probe' to='zoe@example.test'/>");
    h_settle(oscar);
    CHECK(count_pred(oscar, is_any_presence_from, "zoe@example.test") == 0);
out:
    h_client_free(nina);
    h_client_free(oscar);
    h_ctx_free(ctx);
}

static void dropped_connection_sends_unavailable(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *pat = login(ctx, srv, "pat@example.test/setup", "<presence/>");
    h_client_t *quinn = login(ctx, srv, "quinn@example.test/q", "<presence/>");
    if (!pat || !quinn)
        goto out;
    make_mutual(pat, "pat@example.test", quinn, "quinn@example.test");
    h_client_free(pat);
    pat = NULL;
    h_drain(quinn);
    h_raw_t raw;
    if (CHECK(h_raw_login(&raw, srv, "pat", "pw", "raw"))) {
        h_raw_sendf(&raw, "<presence><status>raw</status></presence>");
        pres_want_t up = {.from = "pat@example.test/raw", .status = "raw"};
        CHECK(wait_pred(quinn, is_presence, &up, 5000));
        h_raw_close(&raw); /* no </stream>, no TLS close_notify */
        pres_want_t down = {.from = "pat@example.test/raw", .type = "unavailable"};
        CHECK_MSG(wait_pred(quinn, is_presence, &down, 5000), "unavailable after a TCP drop");
    }
out:
    h_client_free(pat);
    h_client_free(quinn);
    h_ctx_free(ctx);
}

static void own_resources_see_each_other(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a =
        login(ctx, srv, "rita@example.test/desk", "<presence><show>dnd</show></presence>");
    h_client_t *b = a ? login(ctx, srv, "rita@example.test/phone", "<presence/>") : NULL;
    if (!a || !b)
        goto out;
    pres_want_t desk = {.from = "rita@example.test/desk", .show = "dnd"};
    CHECK_MSG(wait_pred(b, is_presence, &desk, 5000), "the new resource learns the other");
    pres_want_t phone = {.from = "rita@example.test/phone"};
    CHECK_MSG(wait_pred(a, is_presence, &phone, 5000), "the other learns the new one");
    h_client_free(b);
    b = NULL;
    pres_want_t gone = {.from = "rita@example.test/phone", .type = "unavailable"};
    CHECK(wait_pred(a, is_presence, &gone, 5000));
out:
    h_client_free(a);
    h_client_free(b);
    h_ctx_free(ctx);
}

static void busy_and_secondary_states_pass_through(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *sam = login(ctx, srv, "sam@example.test/s", "<presence/>");
    h_client_t *tina = login(ctx, srv, "tina@example.test/t", "<presence/>");
    if (!sam || !tina)
        goto out;
    make_mutual(sam, "sam@example.test", tina, "tina@example.test");
    h_send(sam, "<presence><show>dnd</show><status>signature</status>"
                "<state xmlns='" NS_STATE "' value='busy'/></presence>");
    pres_want_t busy = {
        .from = "sam@example.test/s", .show = "dnd", .state = "busy", .status = "signature"};
    CHECK(wait_pred(tina, is_presence, &busy, 5000));
    h_send(sam, "<presence><show>dnd</show><state xmlns='" NS_STATE "' value='in-call'/>"
                "</presence>");
    pres_want_t call = {.from = "sam@example.test/s", .state = "in-call"};
    CHECK(wait_pred(tina, is_presence, &call, 5000));
    h_send(sam, "<presence><state xmlns='" NS_STATE "' value='at the dentist'/></presence>");
    pres_want_t custom = {.from = "sam@example.test/s", .state = "at the dentist"};
    CHECK(wait_pred(tina, is_presence, &custom, 5000));
    /* Kept for probes: a new resource of tina sees the same state. */
    h_client_t *tina2 = login(ctx, srv, "tina@example.test/t2", "<presence/>");
    if (tina2) {
        CHECK_MSG(wait_pred(tina2, is_presence, &custom, 5000), "state in the probe answer");
        h_client_free(tina2);
    }
out:
    h_client_free(sam);
    h_client_free(tina);
    h_ctx_free(ctx);
}

static void invalid_state_and_long_status_are_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *uma = login(ctx, srv, "uma@example.test/u", "<presence/>");
    h_client_t *vic = login(ctx, srv, "vic@example.test/v", "<presence/>");
    if (!uma || !vic)
        goto out;
    make_mutual(uma, "uma@example.test", vic, "vic@example.test");
    char long_value[80], long_status[1100];
    memset(long_value, 'x', 65);
    long_value[65] = 0;
    memset(long_status, 's', 1025);
    long_status[1025] = 0;
    char bad[5][1300];
    snprintf(bad[0], sizeof(bad[0]),
             "<presence><state xmlns='" NS_STATE "' value='busy'/>"
             "<state xmlns='" NS_STATE "' value='in-call'/></presence>");
    snprintf(bad[1], sizeof(bad[1]),
             "<presence><state xmlns='" NS_STATE "' value='busy' colour='red'/></presence>");
    snprintf(bad[2], sizeof(bad[2]),
             "<presence><state xmlns='" NS_STATE "' value='%s'/></presence>", long_value);
    snprintf(bad[3], sizeof(bad[3]), "<presence><status>%s</status></presence>", long_status);
    snprintf(bad[4], sizeof(bad[4]), "<presence><mood xmlns='" NS_STATE "'/></presence>");
    for (int i = 0; i < 5; i++) {
        h_send(uma, "%s", bad[i]);
        CHECK_MSG(wait_pred(uma, is_presence_error, "bad-request", 5000), "case %d refused", i);
    }
    /* Also as directed presence. */
    h_send(uma, "<presence to='vic@example.test/v'><status>%s</status></presence>", long_status);
    CHECK(wait_pred(uma, is_presence_error, "bad-request", 5000));
    h_settle(uma);
    h_settle(vic);
    CHECK_MSG(count_pred(vic, is_any_presence_from, "uma@example.test") == 0,
              "refused presence is not broadcast");
    /* Exactly at the limits is fine. */
    long_status[1024] = 0;
    long_value[64] = 0;
    h_send(uma, "<presence><status>%s</status><state xmlns='" NS_STATE "' value='%s'/></presence>",
           long_status, long_value);
    pres_want_t ok = {.from = "uma@example.test/u", .status = long_status, .state = long_value};
    CHECK(wait_pred(vic, is_presence, &ok, 5000));
out:
    h_client_free(uma);
    h_client_free(vic);
    h_ctx_free(ctx);
}

static void probe_answered_only_for_subscribers(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *wendy = login(ctx, srv, "wendy@example.test/w", "<presence/>");
    h_client_t *xena =
        login(ctx, srv, "xena@example.test/x", "<presence><status>xs</status></presence>");
    h_client_t *yuri = login(ctx, srv, "yuri@example.test/y", "<presence/>");
    if (!wendy || !xena || !yuri)
        goto out;
    /* PRES-5: wendy asks to be told when xena comes online; a one-way
     * subscription reveals nothing of wendy to xena. */
    send_sub(wendy, "subscribe", "xena@example.test");
    pres_want_t req = {.from = "wendy@example.test", .type = "subscribe"};
    CHECK(wait_pred(xena, is_presence, &req, 5000));
    send_sub(xena, "subscribed", "wendy@example.test");
    pres_want_t xs = {.from = "xena@example.test/x", .status = "xs"};
    CHECK(wait_pred(wendy, is_presence, &xs, 5000));
    h_drain(wendy);
    h_send(wendy, "<presence type='probe' to='xena@example.test'/>");
    CHECK_MSG(wait_pred(wendy, is_presence, &xs, 5000), "probe answered for a subscriber");
    h_send(yuri, "<presence type='probe' to='xena@example.test'/>");
    h_settle(yuri);
    CHECK_MSG(count_pred(yuri, is_any_presence_from, "xena@example.test") == 0,
              "probe without subscription not answered");
    /* xena leaves and comes back: wendy is told both times. */
    h_client_free(xena);
    pres_want_t off = {.from = "xena@example.test/x", .type = "unavailable"};
    CHECK(wait_pred(wendy, is_presence, &off, 5000));
    xena = login(ctx, srv, "xena@example.test/x", "<presence/>");
    pres_want_t on = {.from = "xena@example.test/x"};
    CHECK_MSG(wait_pred(wendy, is_presence, &on, 5000), "told when xena comes online");
    if (xena) {
        h_settle(xena);
        CHECK_MSG(count_pred(xena, is_any_presence_from, "wendy@example.test") == 0,
                  "xena does not see wendy's presence");
    }
out:
    h_client_free(wendy);
    h_client_free(xena);
    h_client_free(yuri);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {};",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(subscription_handshake_then_mutual, &srv);
        H_RUN(preapproval_answers_the_request_at_once, &srv);
        H_RUN(unsubscribe_unsubscribed_and_denial, &srv);
        H_RUN(roster_remove_cancels_both_ways, &srv);
        H_RUN(request_to_offline_contact_comes_at_login, &srv);
        H_RUN(login_probes_bring_contacts_presence, &srv);
        H_RUN(broadcast_reaches_subscribers_only, &srv);
        H_RUN(directed_presence_and_its_unavailable, &srv);
        H_RUN(dropped_connection_sends_unavailable, &srv);
        H_RUN(own_resources_see_each_other, &srv);
        H_RUN(busy_and_secondary_states_pass_through, &srv);
        H_RUN(invalid_state_and_long_status_are_refused, &srv);
        H_RUN(probe_answered_only_for_subscribers, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
