/* test_blocking.c — XEP-0191 over real sockets: the blocklist and its
 * pushes, what a block does to messages, IQs and presence in both
 * directions, domain and full-JID items, and the refusals of bad input. */
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_BLOCKING "urn:xmpp:blocking"
#define NS_BLOCKING_ERRORS "urn:xmpp:blocking:errors"
#define NS_ROSTER "jabber:iq:roster"

/* Every case uses its own accounts: blocklists outlive the sessions. */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "frank@example.test", "pw",
    "gina@example.test", "pw", "hank@example.test", "pw", "ivan@example.test", "pw",
    "judy@example.test", "pw", "kim@example.test", "pw", "leo@example.test", "pw",
    "mia@example.test", "pw", "ned@example.test", "pw", "olga@example.test", "pw",
    "oscar@other.test", "pw", "pia@example.test", "pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

static int block(h_client_t *c, const char *jid)
{
    char p[512];
    snprintf(p, sizeof(p), "<block xmlns='" NS_BLOCKING "'><item jid='%s'/></block>", jid);
    return strcmp(h_iq_outcome(c, "set", NULL, p), "result") == 0;
}

static int unblock(h_client_t *c, const char *jid)
{
    char p[512];
    snprintf(p, sizeof(p), "<unblock xmlns='" NS_BLOCKING "'><item jid='%s'/></unblock>", jid);
    return strcmp(h_iq_outcome(c, "set", NULL, p), "result") == 0;
}

/* The blocklist's items as "a b c " (in the server's order); "?" on failure. */
static void blocklist(h_client_t *c, char *out, size_t len)
{
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<blocklist xmlns='" NS_BLOCKING "'/>", 5000);
    xmpp_stanza_t *l =
        r && h_attr_eq(r, "type", "result") ? xmpp_stanza_get_child_by_name(r, "blocklist") : NULL;
    snprintf(out, len, "%s", l ? "" : "?");
    for (xmpp_stanza_t *k = l ? xmpp_stanza_get_children(l) : NULL; k;
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

static int list_has(h_client_t *c, const char *jid)
{
    char l[2048], want[300];
    blocklist(c, l, sizeof(l));
    snprintf(want, sizeof(want), "%s ", jid);
    return strstr(l, want) != NULL;
}

static int list_len(h_client_t *c)
{
    char l[2048];
    blocklist(c, l, sizeof(l));
    if (l[0] == '?')
        return -1;
    int n = 0;
    for (char *p = l; *p; p++)
        n += *p == ' ';
    return n;
}

/* A blocklist push: <iq type='set'> with <block/> or <unblock/>, holding
 * `jid` (NULL: no item at all). */
typedef struct push_want {
    const char *element, *jid;
} push_want_t;

static int is_push(xmpp_stanza_t *st, const push_want_t *w)
{
    if (strcmp(xmpp_stanza_get_name(st), "iq") != 0 || !h_attr_eq(st, "type", "set"))
        return 0;
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name_and_ns(st, w->element, NS_BLOCKING);
    if (!e)
        return 0;
    xmpp_stanza_t *item = xmpp_stanza_get_child_by_name(e, "item");
    return w->jid ? item && h_attr_eq(item, "jid", w->jid) : item == NULL;
}

static int wait_push(h_client_t *c, const char *element, const char *jid, int timeout_ms)
{
    push_want_t w = {element, jid};
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        for (size_t i = 0; i < c->ninbox; i++) {
            if (is_push(c->inbox[i], &w)) {
                xmpp_stanza_release(c->inbox[i]);
                memmove(c->inbox + i, c->inbox + i + 1, (c->ninbox - i - 1) * sizeof(*c->inbox));
                c->ninbox--;
                return 1;
            }
        }
        if (h_now_ms() >= deadline)
            return 0;
        xmpp_run_once(c->ctx, 5);
    }
}

/* Stanzas in the inbox whose 'from' starts with `from` (any kind when
 * name is NULL). */
static int count_from(h_client_t *c, const char *name, const char *from)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++) {
        const char *f = xmpp_stanza_get_from(c->inbox[i]);
        n += (!name || strcmp(xmpp_stanza_get_name(c->inbox[i]), name) == 0) && f &&
             strncmp(f, from, strlen(from)) == 0;
    }
    return n;
}

/* The error is <not-acceptable/> with <blocked xmlns='urn:xmpp:blocking:errors'/>. */
static int is_blocked_error(xmpp_stanza_t *st)
{
    const char *cond = st ? h_error_condition(st) : NULL;
    xmpp_stanza_t *err = st ? xmpp_stanza_get_child_by_name(st, "error") : NULL;
    return cond && strcmp(cond, "not-acceptable") == 0 && err &&
           xmpp_stanza_get_child_by_name_and_ns(err, "blocked", NS_BLOCKING_ERRORS) != NULL;
}

static void send_message(h_client_t *c, const char *to, const char *id, const char *body)
{
    h_send(c, "<message type='chat' to='%s' id='%s'><body>%s</body></message>", to, id, body);
}

/* Logs in, asks for the roster, sends initial presence: a presence client. */
static h_client_t *login_presence(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid)
{
    h_client_t *c = h_client_new(ctx, srv, jid, "pw", H_STARTTLS);
    if (!CHECK_MSG(h_client_wait_login(c, 15000), "login of %s", jid)) {
        h_client_free(c);
        return NULL;
    }
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000);
    CHECK_MSG(h_attr_eq(r, "type", "result"), "roster of %s", jid);
    if (r)
        xmpp_stanza_release(r);
    h_send(c, "<presence/>");
    h_settle(c);
    return c;
}

/* ---- tests ---- */

static void blocklist_get_block_unblock_and_unblock_all(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "pw", 0);
    if (!alice)
        goto out;
    CHECK(list_len(alice) == 0);
    CHECK(strcmp(h_iq_outcome(alice, "set", NULL,
                              "<block xmlns='" NS_BLOCKING "'><item jid='Bob@Example.TEST'/>"
                              "<item jid='carol@example.test'/><item jid='bob@example.test'/>"
                              "</block>"),
                 "result") == 0);
    /* Normalised and without the duplicate. */
    CHECK(list_len(alice) == 2);
    CHECK(list_has(alice, "bob@example.test"));
    CHECK(list_has(alice, "carol@example.test"));
    CHECK(block(alice, "bob@example.test")); /* blocking again changes nothing */
    CHECK(list_len(alice) == 2);
    CHECK(unblock(alice, "bob@example.test"));
    CHECK(!list_has(alice, "bob@example.test"));
    CHECK(list_has(alice, "carol@example.test"));
    CHECK(unblock(alice, "nobody@example.test")); /* not on the list: still fine */
    CHECK(block(alice, "dave@example.test"));
    CHECK(list_len(alice) == 2);
    CHECK(strcmp(h_iq_outcome(alice, "set", NULL, "<unblock xmlns='" NS_BLOCKING "'/>"),
                 "result") == 0);
    CHECK(list_len(alice) == 0);
    /* The server advertises the feature. */
    xmpp_stanza_t *r = h_iq(alice, "get", "example.test",
                            "<query xmlns='http://jabber.org/protocol/disco#info'/>", 5000);
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
    int found = 0;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        found |= xmpp_stanza_is_tag(k) && h_attr_eq(k, "var", NS_BLOCKING);
    CHECK_MSG(found, "urn:xmpp:blocking not in the server's disco#info");
    if (r)
        xmpp_stanza_release(r);
out:
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void changes_are_pushed_to_resources_that_asked(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *one = h_login(ctx, srv, "dave@example.test/one", "pw", 0);
    h_client_t *two = h_login(ctx, srv, "dave@example.test/two", "pw", 0);
    h_client_t *three = h_login(ctx, srv, "dave@example.test/three", "pw", 0);
    if (!one || !two || !three)
        goto out;
    CHECK(list_len(one) == 0);
    CHECK(list_len(two) == 0);
    h_drain(one);
    h_drain(two);
    h_drain(three);
    CHECK(block(one, "x@example.test"));
    CHECK_MSG(wait_push(two, "block", "x@example.test", 5000), "no block push on /two");
    CHECK_MSG(wait_push(one, "block", "x@example.test", 5000), "no block push on /one");
    h_settle(three);
    CHECK_MSG(count_from(three, "iq", "dave@example.test") == 0,
              "/three never asked for the blocklist but got a push");
    CHECK(unblock(two, "x@example.test"));
    CHECK_MSG(wait_push(one, "unblock", "x@example.test", 5000), "no unblock push on /one");
    CHECK(block(two, "y@example.test"));
    CHECK(wait_push(one, "block", "y@example.test", 5000));
    CHECK(strcmp(h_iq_outcome(one, "set", NULL, "<unblock xmlns='" NS_BLOCKING "'/>"), "result") ==
          0);
    CHECK_MSG(wait_push(two, "unblock", NULL, 5000), "no unblock-all push on /two");
    /* The list is the same whoever asks. */
    CHECK(list_len(three) == 0);
out:
    h_client_free(one);
    h_client_free(two);
    h_client_free(three);
    h_ctx_free(ctx);
}

static void messages_blocked_in_both_directions(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *erin = h_login(ctx, srv, "erin@example.test/home", "pw", 0);
    h_client_t *frank = h_login(ctx, srv, "frank@example.test/home", "pw", 0);
    if (!erin || !frank)
        goto out;
    CHECK(block(erin, "frank@example.test"));
    h_drain(erin);
    send_message(frank, "erin@example.test", "m1", "hello?");
    xmpp_stanza_t *e =
        h_wait(frank, &(h_match_t){.name = "message", .type = "error", .id = "m1"}, 5000);
    const char *cond = e ? h_error_condition(e) : NULL;
    CHECK_MSG(cond && strcmp(cond, "service-unavailable") == 0, "frank's bounce: %s",
              cond ? cond : "none");
    if (e)
        xmpp_stanza_release(e);
    send_message(frank, "erin@example.test/home", "m2", "hello again?");
    e = h_wait(frank,
               &(h_match_t){
                   .name = "message", .type = "error", .id = "m2", .error = "service-unavailable"},
               5000);
    CHECK_MSG(e != NULL, "message to the full JID not bounced");
    if (e)
        xmpp_stanza_release(e);
    h_settle(erin);
    CHECK_MSG(count_from(erin, "message", "frank@") == 0, "a message from frank reached erin");

    send_message(erin, "frank@example.test", "m3", "go away");
    e = h_wait(erin, &(h_match_t){.name = "message", .type = "error", .id = "m3"}, 5000);
    CHECK_MSG(is_blocked_error(e), "erin's message to frank: no not-acceptable+blocked");
    if (e)
        xmpp_stanza_release(e);
    h_settle(frank);
    CHECK_MSG(count_from(frank, "message", "erin@") == 0, "erin's message reached frank");

    CHECK(unblock(erin, "frank@example.test"));
    send_message(frank, "erin@example.test", "m4", "friends again");
    e = h_wait(erin, &(h_match_t){.name = "message", .body = "friends again"}, 5000);
    CHECK_MSG(e != NULL, "after unblock the message did not arrive");
    if (e)
        xmpp_stanza_release(e);
out:
    h_client_free(erin);
    h_client_free(frank);
    h_ctx_free(ctx);
}

static void iqs_blocked_in_both_directions(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *gina = h_login(ctx, srv, "gina@example.test/home", "pw", 0);
    h_client_t *hank = h_login(ctx, srv, "hank@example.test/home", "pw", 0);
    if (!gina || !hank)
        goto out;
    const char *disco = "<query xmlns='http://jabber.org/protocol/disco#info'/>";
    xmpp_stanza_t *r = h_iq(hank, "get", "gina@example.test", disco, 5000);
    CHECK_MSG(h_attr_eq(r, "type", "result"), "before the block the account answers");
    if (r)
        xmpp_stanza_release(r);
    CHECK(block(gina, "hank@example.test"));
    h_drain(gina);

    r = h_iq(hank, "get", "gina@example.test", disco, 5000);
    const char *cond = r ? h_error_condition(r) : NULL;
    CHECK_MSG(cond && strcmp(cond, "service-unavailable") == 0, "IQ to the bare JID: %s",
              cond ? cond : "none");
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(hank, "get", "gina@example.test/home", "<query xmlns='jabber:iq:version'/>", 5000);
    cond = r ? h_error_condition(r) : NULL;
    CHECK_MSG(cond && strcmp(cond, "service-unavailable") == 0, "IQ to the full JID: %s",
              cond ? cond : "none");
    if (r)
        xmpp_stanza_release(r);
    h_settle(gina);
    CHECK_MSG(count_from(gina, "iq", "hank@") == 0, "hank's IQ reached gina");

    r = h_iq(gina, "get", "hank@example.test/home", "<query xmlns='jabber:iq:version'/>", 5000);
    CHECK_MSG(is_blocked_error(r), "gina's IQ to hank: no not-acceptable+blocked");
    if (r)
        xmpp_stanza_release(r);
    h_settle(hank);
    CHECK_MSG(count_from(hank, "iq", "gina@") == 0, "gina's IQ reached hank");
out:
    h_client_free(gina);
    h_client_free(hank);
    h_ctx_free(ctx);
}

/* A component (bot.example.test) is blocked like anyone: its IQs to a user
 * who blocked its domain get service-unavailable and never arrive, from
 * the domain itself or from a JID at it. */
static void component_iqs_respect_the_block(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *pia = h_login(ctx, srv, "pia@example.test/home", "pw", 0);
    h_client_t *bot =
        pia ? h_client_new(ctx, srv, "bot.example.test", "s3cret", H_COMPONENT) : NULL;
    if (!bot || !CHECK_MSG(h_client_wait_login(bot, 10000), "component handshake"))
        goto out;
    h_send(bot, "<iq type='get' id='v1' from='bot.example.test' to='pia@example.test/home'>"
                "<query xmlns='jabber:iq:version'/></iq>");
    xmpp_stanza_t *st = h_wait(pia, &(h_match_t){.name = "iq", .id = "v1"}, 5000);
    CHECK_MSG(st != NULL, "before the block the bot's IQ arrives");
    if (st)
        xmpp_stanza_release(st);
    CHECK(block(pia, "bot.example.test"));
    h_drain(pia);
    /* (A component has no 'from' of its own for drain's ping: just wait.) */
    h_run_for(bot->ctx, 300);
    h_send(bot, "<iq type='get' id='v2' from='bot.example.test' to='pia@example.test/home'>"
                "<query xmlns='jabber:iq:version'/></iq>");
    st = h_wait(bot, &(h_match_t){.name = "iq", .id = "v2", .error = "service-unavailable"}, 5000);
    CHECK_MSG(st != NULL, "the bot's IQ to the full JID is refused with service-unavailable");
    if (st)
        xmpp_stanza_release(st);
    h_send(bot, "<iq type='get' id='v3' from='agent@bot.example.test' to='pia@example.test'>"
                "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
    st = h_wait(bot, &(h_match_t){.name = "iq", .id = "v3", .error = "service-unavailable"}, 5000);
    CHECK_MSG(st != NULL, "an IQ from a JID at the blocked domain is refused too");
    if (st)
        xmpp_stanza_release(st);
    h_settle(pia);
    CHECK_MSG(count_from(pia, "iq", "bot.example.test") == 0 &&
                  count_from(pia, "iq", "agent@bot.example.test") == 0,
              "a blocked component's IQ reached the user");
    /* Unblocked, the bot reaches her again. */
    CHECK(unblock(pia, "bot.example.test"));
    h_send(bot, "<iq type='get' id='v4' from='bot.example.test' to='pia@example.test/home'>"
                "<query xmlns='jabber:iq:version'/></iq>");
    st = h_wait(pia, &(h_match_t){.name = "iq", .id = "v4"}, 5000);
    CHECK_MSG(st != NULL, "after the unblock the bot's IQ arrives");
    if (st)
        xmpp_stanza_release(st);
out:
    h_client_free(bot);
    h_client_free(pia);
    h_ctx_free(ctx);
}

static void domain_and_full_jid_items(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *ivan = h_login(ctx, srv, "ivan@example.test/home", "pw", 0);
    h_client_t *phone = h_login(ctx, srv, "judy@example.test/phone", "pw", 0);
    h_client_t *laptop = h_login(ctx, srv, "judy@example.test/laptop", "pw", 0);
    h_client_t *oscar = h_login(ctx, srv, "oscar@other.test/home", "pw", 0);
    if (!ivan || !phone || !laptop || !oscar)
        goto out;
    CHECK(block(ivan, "other.test"));
    CHECK(block(ivan, "judy@example.test/phone"));
    h_drain(ivan);

    send_message(oscar, "ivan@example.test", "d1", "from the blocked domain");
    xmpp_stanza_t *e =
        h_wait(oscar,
               &(h_match_t){
                   .name = "message", .type = "error", .id = "d1", .error = "service-unavailable"},
               5000);
    CHECK_MSG(e != NULL, "the domain item did not stop oscar@other.test");
    if (e)
        xmpp_stanza_release(e);
    /* Subdomains of a blocked domain are blocked too. */
    send_message(ivan, "room@conference.other.test", "d2", "hi");
    e = h_wait(ivan, &(h_match_t){.name = "message", .type = "error", .id = "d2"}, 5000);
    CHECK_MSG(is_blocked_error(e), "subdomain of a blocked domain not refused");
    if (e)
        xmpp_stanza_release(e);

    send_message(phone, "ivan@example.test", "d3", "from the phone");
    e = h_wait(phone, &(h_match_t){.name = "message", .type = "error", .id = "d3"}, 5000);
    CHECK_MSG(e != NULL, "the blocked resource's message was not bounced");
    if (e)
        xmpp_stanza_release(e);
    send_message(laptop, "ivan@example.test", "d4", "from the laptop");
    e = h_wait(ivan, &(h_match_t){.name = "message", .body = "from the laptop"}, 5000);
    CHECK_MSG(e != NULL, "another resource of the same account was blocked too");
    if (e)
        xmpp_stanza_release(e);
    h_settle(ivan);
    CHECK(count_from(ivan, "message", "judy@example.test/phone") == 0);
    CHECK(count_from(ivan, "message", "oscar@") == 0);

    send_message(ivan, "judy@example.test/phone", "d5", "no");
    e = h_wait(ivan, &(h_match_t){.name = "message", .type = "error", .id = "d5"}, 5000);
    CHECK(is_blocked_error(e));
    if (e)
        xmpp_stanza_release(e);
    send_message(ivan, "judy@example.test/laptop", "d6", "yes");
    e = h_wait(laptop, &(h_match_t){.name = "message", .body = "yes"}, 5000);
    CHECK_MSG(e != NULL, "message to an unblocked resource did not arrive");
    if (e)
        xmpp_stanza_release(e);
out:
    h_client_free(ivan);
    h_client_free(phone);
    h_client_free(laptop);
    h_client_free(oscar);
    h_ctx_free(ctx);
}

/* max_items is 5 on this server. */
static void bad_input_and_limits_are_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *kim = h_login(ctx, srv, "kim@example.test/home", "pw", 0);
    if (!kim)
        goto out;
    const char *r = h_iq_outcome(kim, "set", NULL, "<block xmlns='" NS_BLOCKING "'/>");
    CHECK_MSG(strcmp(r, "bad-request") == 0, "empty block: %s", r);
    r = h_iq_outcome(kim, "set", NULL, "<block xmlns='" NS_BLOCKING "'><item/></block>");
    CHECK_MSG(strcmp(r, "bad-request") == 0, "item without jid: %s", r);
    r = h_iq_outcome(kim, "set", NULL,
                     "<block xmlns='" NS_BLOCKING "'><item jid='a@b@c'/></block>");
    CHECK_MSG(strcmp(r, "jid-malformed") == 0, "a@b@c: %s", r);
    r = h_iq_outcome(kim, "set", NULL,
                     "<block xmlns='" NS_BLOCKING "'><item jid='ok@example.test'/>"
                     "<item jid='@example.test'/></block>");
    CHECK_MSG(strcmp(r, "jid-malformed") == 0, "@example.test: %s", r);
    r = h_iq_outcome(kim, "set", NULL,
                     "<block xmlns='" NS_BLOCKING "'><item jid='kim@example.test'/></block>");
    CHECK_MSG(strcmp(r, "not-acceptable") == 0, "blocking yourself: %s", r);
    r = h_iq_outcome(kim, "set", NULL,
                     "<block xmlns='" NS_BLOCKING "'><item jid='example.test'/></block>");
    CHECK_MSG(strcmp(r, "not-acceptable") == 0, "blocking your server: %s", r);
    CHECK_MSG(list_len(kim) == 0, "a refused block left items behind");

    r = h_iq_outcome(kim, "set", NULL,
                     "<block xmlns='" NS_BLOCKING "'><item jid='u1@example.test'/>"
                     "<item jid='u2@example.test'/><item jid='u3@example.test'/>"
                     "<item jid='u4@example.test'/><item jid='u5@example.test'/>"
                     "<item jid='u6@example.test'/></block>");
    CHECK_MSG(strcmp(r, "not-acceptable") == 0, "6 items in one block: %s", r);
    CHECK(list_len(kim) == 0);
    r = h_iq_outcome(kim, "set", NULL,
                     "<block xmlns='" NS_BLOCKING "'><item jid='u1@example.test'/>"
                     "<item jid='u2@example.test'/><item jid='u3@example.test'/>"
                     "<item jid='u4@example.test'/></block>");
    CHECK_MSG(strcmp(r, "result") == 0, "4 items: %s", r);
    r = h_iq_outcome(kim, "set", NULL,
                     "<block xmlns='" NS_BLOCKING "'><item jid='u5@example.test'/>"
                     "<item jid='u6@example.test'/></block>");
    CHECK_MSG(strcmp(r, "not-acceptable") == 0, "beyond max_items: %s", r);
    CHECK_MSG(list_len(kim) == 4, "a refused block changed the list");
    CHECK(block(kim, "u1@example.test")); /* already there: no growth */
    CHECK(block(kim, "u5@example.test"));
    CHECK(list_len(kim) == 5);

    /* Someone else's server cannot answer for kim's list. */
    xmpp_stanza_t *st =
        h_iq(kim, "get", "other.test", "<blocklist xmlns='" NS_BLOCKING "'/>", 5000);
    CHECK_MSG(st && h_attr_eq(st, "type", "error"), "other.test answered a blocklist get");
    if (st)
        xmpp_stanza_release(st);
out:
    h_client_free(kim);
    h_ctx_free(ctx);
}

/* leo and mia are mutual contacts; leo blocks mia. */
static void blocked_contact_sees_the_user_offline(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *leo = login_presence(ctx, srv, "leo@example.test/home");
    h_client_t *mia = login_presence(ctx, srv, "mia@example.test/home");
    if (!leo || !mia)
        goto out;
    h_make_mutual(leo, "leo@example.test", mia, "mia@example.test");
    /* Control: presence flows before the block. */
    h_send(leo, "<presence><show>chat</show></presence>");
    CHECK_MSG(h_wait_presence(mia, "leo@example.test/home", NULL, 5000),
              "no presence before block");
    h_drain(mia);

    CHECK(block(leo, "mia@example.test"));
    CHECK_MSG(h_wait_presence(mia, "leo@example.test/home", "unavailable", 5000),
              "mia did not see leo go offline at block time");
    h_send(leo, "<presence><show>away</show></presence>");
    h_send(mia, "<presence><show>dnd</show></presence>");
    h_settle(leo);
    h_settle(mia);
    CHECK_MSG(count_from(mia, "presence", "leo@") == 0, "leo's presence reached mia");
    CHECK_MSG(count_from(leo, "presence", "mia@") == 0, "mia's presence reached leo");

    /* A new session of mia: the login probes bring nothing from leo. */
    h_client_free(mia);
    mia = login_presence(ctx, srv, "mia@example.test/again");
    if (!mia)
        goto out;
    h_settle(mia);
    CHECK_MSG(count_from(mia, "presence", "leo@") == 0, "leo's presence answered mia's probe");
    h_settle(leo);
    CHECK_MSG(count_from(leo, "presence", "mia@") == 0, "mia's login presence reached leo");
    h_drain(leo);

    CHECK(unblock(leo, "mia@example.test"));
    CHECK_MSG(h_wait_presence(mia, "leo@example.test/home", NULL, 5000),
              "after unblock mia did not get leo's presence");
    CHECK_MSG(h_wait_presence(leo, "mia@example.test/again", NULL, 5000),
              "after unblock leo did not get mia's presence");
    h_drain(mia);
    h_send(leo, "<presence><show>xa</show></presence>");
    CHECK_MSG(h_wait_presence(mia, "leo@example.test/home", NULL, 5000),
              "presence does not flow after unblock");
out:
    h_client_free(leo);
    h_client_free(mia);
    h_ctx_free(ctx);
}

/* A blocked contact who is not subscribed learns nothing at block time. */
static void non_subscribers_get_no_unavailable(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *ned = login_presence(ctx, srv, "ned@example.test/home");
    h_client_t *olga = login_presence(ctx, srv, "olga@example.test/home");
    if (!ned || !olga)
        goto out;
    h_drain(olga);
    CHECK(block(ned, "olga@example.test"));
    h_settle(olga);
    CHECK_MSG(count_from(olga, "presence", "ned@") == 0, "olga is no contact but saw ned");
    /* Directed presence to a blocked JID is refused like any stanza. */
    h_send(ned, "<presence to='olga@example.test' id='p1'/>");
    xmpp_stanza_t *e =
        h_wait(ned, &(h_match_t){.name = "presence", .type = "error", .id = "p1"}, 5000);
    CHECK_MSG(is_blocked_error(e), "directed presence to a blocked JID not refused");
    if (e)
        xmpp_stanza_release(e);
    h_settle(olga);
    CHECK(count_from(olga, "presence", "ned@") == 0);
out:
    h_client_free(ned);
    h_client_free(olga);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; blocking = { max_items = 5; };",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(blocklist_get_block_unblock_and_unblock_all, &srv);
        H_RUN(changes_are_pushed_to_resources_that_asked, &srv);
        H_RUN(messages_blocked_in_both_directions, &srv);
        H_RUN(iqs_blocked_in_both_directions, &srv);
        H_RUN(component_iqs_respect_the_block, &srv);
        H_RUN(domain_and_full_jid_items, &srv);
        H_RUN(bad_input_and_limits_are_refused, &srv);
        H_RUN(blocked_contact_sees_the_user_offline, &srv);
        H_RUN(non_subscribers_get_no_unavailable, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
