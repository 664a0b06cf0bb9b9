/* test_pep.c — personal eventing as users see it (PRES-2, PRES-3, GRP-8):
 * publishing and reading one's own items, notifications filtered by the
 * contacts' entity capabilities (with the server's caps cache asking each
 * verification string once), access models, the last item sent when a
 * contact comes online, avatars (XEP-0084), vCard4 (XEP-0292), limits and
 * bad input, retraction, node configuration, and XEP-0402 bookmarks seen
 * through XEP-0048 private storage and back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_ROSTER "jabber:iq:roster"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_OWNER "http://jabber.org/protocol/pubsub#owner"
#define NS_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_NICK "http://jabber.org/protocol/nick"
#define NS_MOOD "http://jabber.org/protocol/mood"
#define NS_PRIVATE "jabber:iq:private"
#define NS_BOOKMARKS "urn:xmpp:bookmarks:1"
#define CAPS_NODE "https://parley.test/client"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "frank@example.test", "pw",
    "gina@example.test", "pw", "hank@example.test", "pw", "ivan@example.test", "pw",
    "judy@example.test", "pw", "kate@example.test", "pw", "leo@example.test", "pw",
    "mike@example.test", "pw", "nina@example.test", "pw", "oscar@example.test", "pw",
    "pat@example.test", "pw", "quinn@example.test", "pw", "rita@example.test", "pw",
    "sam@example.test", "pw", "tina@example.test", "pw",
    NULL,
};
// clang-format on

/* ---- the test clients' entity capabilities ----
 * The ver strings are the XEP-0115 SHA-1 hashes of exactly these answers. */
typedef struct caps {
    const char *ver;
    const char *features; /* <identity/> and <feature/> elements */
} caps_t;

#define ID_TEST "<identity category='client' type='pc' name='ParleyTest'/>"
#define FEAT(v) "<feature var='" v "'/>"

/* Interested in everything the tests publish. */
static const caps_t caps_notify = {
    .ver = "5BZkRbzP5Vl+o8YRYL2YOj2upts=",
    .features = ID_TEST FEAT("http://jabber.org/protocol/caps") FEAT(NS_INFO)
        FEAT(NS_NICK "+notify") FEAT(NS_MOOD "+notify") FEAT("urn:xmpp:avatar:metadata+notify")
            FEAT("urn:xmpp:vcard4+notify") FEAT("urn:example:presence-node+notify")
                FEAT("urn:example:open+notify") FEAT(NS_BOOKMARKS "+notify"),
};

/* Knows nicknames but wants no notifications. */
static const caps_t caps_quiet = {
    .ver = "fxkYai23+KQyX0XLoR9B/UaY2ow=",
    .features = ID_TEST FEAT("http://jabber.org/protocol/caps") FEAT(NS_INFO) FEAT(NS_NICK),
};

/* Its answer does not hash to its ver: believed for that resource only. */
static const caps_t caps_liar = {
    .ver = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    .features = ID_TEST FEAT(NS_INFO) FEAT(NS_MOOD "+notify"),
};

/* ---- stanza helpers ---- */

static int error_is(xmpp_stanza_t *st, const char *cond, const char *pubsub_cond)
{
    const char *c = st ? h_error_condition(st) : NULL;
    if (!h_attr_eq(st, "type", "error") || !c || strcmp(c, cond) != 0)
        return 0;
    if (!pubsub_cond)
        return 1;
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(st, "error");
    return e && xmpp_stanza_get_child_by_name_and_ns(e, pubsub_cond, NS_ERRORS) != NULL;
}

/* Text of the first descendant element named `name` (depth-first). */
static char *find_text(xmpp_stanza_t *st, const char *name)
{
    for (xmpp_stanza_t *k = st ? xmpp_stanza_get_children(st) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        if (!xmpp_stanza_is_tag(k))
            continue;
        if (strcmp(xmpp_stanza_get_name(k), name) == 0)
            return xmpp_stanza_get_text(k);
        char *t = find_text(k, name);
        if (t)
            return t;
    }
    return NULL;
}

static int has_text(xmpp_stanza_t *st, const char *name, const char *want)
{
    char *t = find_text(st, name);
    int ok = t && strcmp(t, want) == 0;
    if (t)
        xmpp_free(xmpp_stanza_get_context(st), t);
    return ok;
}

/* Item ids in an items answer, in order, joined by ','. */
static void item_ids(xmpp_stanza_t *r, char *out, size_t len)
{
    out[0] = '\0';
    xmpp_stanza_t *items = h_child(h_child(r, "pubsub", NS_PUBSUB), "items", NS_PUBSUB);
    for (xmpp_stanza_t *k = items ? xmpp_stanza_get_children(items) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        if (!xmpp_stanza_is_tag(k) || strcmp(xmpp_stanza_get_name(k), "item") != 0)
            continue;
        const char *id = xmpp_stanza_get_id(k);
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", used ? "," : "", id ? id : "?");
    }
}

/* A pubsub event from `from` about `node`; `retract` set: a retraction of
 * that id; else an item (with `text` somewhere in it when given). */
typedef struct event_want {
    const char *from, *node, *retract, *text_name, *text;
} event_want_t;

static int is_event(xmpp_stanza_t *st, const event_want_t *w)
{
    if (strcmp(xmpp_stanza_get_name(st), "message") != 0 || !h_attr_eq(st, "type", "headline") ||
        !h_attr_eq(st, "from", w->from))
        return 0;
    xmpp_stanza_t *items = h_child(h_child(st, "event", NS_EVENT), "items", NS_EVENT);
    if (!items || !h_attr_eq(items, "node", w->node))
        return 0;
    if (w->retract)
        return h_attr_eq(h_child(items, "retract", NS_EVENT), "id", w->retract);
    xmpp_stanza_t *item = h_child(items, "item", NS_EVENT);
    return item && (!w->text || has_text(item, w->text_name, w->text));
}

static int count_events(h_client_t *c, const event_want_t *w)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++)
        n += is_event(c->inbox[i], w);
    return n;
}

static int wait_event(h_client_t *c, const event_want_t *w, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    while (!count_events(c, w) && h_now_ms() < deadline)
        xmpp_run_once(c->ctx, 5);
    return count_events(c, w) > 0;
}

/* The server's disco#info question about our caps, if one is in the inbox
 * (removed from it); NULL otherwise. */
static xmpp_stanza_t *take_disco_question(h_client_t *c)
{
    for (size_t i = 0; i < c->ninbox; i++) {
        xmpp_stanza_t *st = c->inbox[i];
        if (strcmp(xmpp_stanza_get_name(st), "iq") == 0 && h_attr_eq(st, "type", "get") &&
            h_child(st, "query", NS_INFO)) {
            memmove(c->inbox + i, c->inbox + i + 1, (c->ninbox - i - 1) * sizeof(*c->inbox));
            c->ninbox--;
            return st;
        }
    }
    return NULL;
}

/* Waits up to timeout_ms for the server's disco#info question and answers
 * it with `caps`; returns 1 when there was one. */
static int answer_disco(h_client_t *c, const caps_t *caps, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    xmpp_stanza_t *q;
    while (!(q = take_disco_question(c)) && h_now_ms() < deadline)
        xmpp_run_once(c->ctx, 5);
    if (!q)
        return 0;
    const char *node = xmpp_stanza_get_attribute(h_child(q, "query", NS_INFO), "node");
    CHECK_MSG(node && strncmp(node, CAPS_NODE "#", strlen(CAPS_NODE) + 1) == 0, "node asked: %s",
              node ? node : "");
    h_send(c,
           "<iq type='result' id='%s' to='%s'><query xmlns='" NS_INFO "' node='%s'>%s</query></iq>",
           xmpp_stanza_get_id(q), xmpp_stanza_get_from(q), node ? node : "", caps->features);
    xmpp_stanza_release(q);
    return 1;
}

enum { ASK_ANY = -1, ASK_NO = 0, ASK_YES = 1 };

/* Logs in, asks for the roster, sends initial presence with `caps` (or
 * none), answers the server's disco#info question; `expect` says whether
 * that question must (not) come. */
static h_client_t *login(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const caps_t *caps,
                         int expect)
{
    h_client_t *c = h_client_new(ctx, srv, jid, "pw", H_STARTTLS);
    if (!CHECK_MSG(h_client_wait_login(c, 15000), "login of %s", jid)) {
        h_client_free(c);
        return NULL;
    }
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<query xmlns='" NS_ROSTER "'/>", 5000);
    if (r)
        xmpp_stanza_release(r);
    if (caps)
        h_send(c,
               "<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='" CAPS_NODE
               "' ver='%s'/></presence>",
               caps->ver);
    else
        h_send(c, "<presence/>");
    int asked = caps ? answer_disco(c, caps, expect == ASK_NO ? 800 : 3000) : 0;
    if (expect != ASK_ANY)
        CHECK_MSG(asked == expect, "%s: disco#info asked %d, expected %d", jid, asked, expect);
    h_settle(c);
    return c;
}

/* Publishes `payload` as item `id` of `node` (options: extra XML after
 * </publish>, e.g. publish-options); returns the answer. */
static xmpp_stanza_t *publish(h_client_t *c, const char *node, const char *id, const char *payload,
                              const char *options)
{
    char *xml = malloc(strlen(payload) + (options ? strlen(options) : 0) + 1024);
    sprintf(xml,
            "<pubsub xmlns='" NS_PUBSUB
            "'><publish node='%s'><item%s%s%s>%s</item></publish>%s</pubsub>",
            node, id ? " id='" : "", id ? id : "", id ? "'" : "", payload, options ? options : "");
    xmpp_stanza_t *r = h_iq(c, "set", NULL, xml, 5000);
    free(xml);
    return r;
}

static int publish_ok(h_client_t *c, const char *node, const char *id, const char *payload,
                      const char *options)
{
    xmpp_stanza_t *r = publish(c, node, id, payload, options);
    int ok = h_attr_eq(r, "type", "result");
    if (!ok && r) {
        const char *cond = h_error_condition(r);
        printf("  publish to %s failed: %s\n", node, cond ? cond : "?");
    }
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

/* Items of `owner`'s node (NULL: one's own); `inner` (may be NULL) goes
 * inside <items/>, e.g. <item id='x'/>. */
static xmpp_stanza_t *get_items(h_client_t *c, const char *owner, const char *node,
                                const char *inner)
{
    char xml[1024];
    snprintf(xml, sizeof(xml), "<pubsub xmlns='" NS_PUBSUB "'><items node='%s'>%s</items></pubsub>",
             node, inner ? inner : "");
    return h_iq(c, "get", owner, xml, 5000);
}

#define OPTIONS(fields)                                                                            \
    "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "              \
    "type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></"             \
    "field>" fields "</x></publish-options>"
#define FIELD(var, value) "<field var='" var "'><value>" value "</value></field>"

#define NICK(n) "<nick xmlns='" NS_NICK "'>" n "</nick>"
#define MOOD(m) "<mood xmlns='" NS_MOOD "'><" m "/></mood>"

/* ---- tests ---- */

static void publish_and_retrieve_own_item(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = login(ctx, srv, "alice@example.test/home", NULL, ASK_ANY);
    if (!alice) {
        h_ctx_free(ctx);
        return;
    }
    xmpp_stanza_t *r = publish(alice, NS_NICK, "current", NICK("Alice A."), NULL);
    if (CHECK(h_attr_eq(r, "type", "result"))) {
        xmpp_stanza_t *item = h_child(
            h_child(h_child(r, "pubsub", NS_PUBSUB), "publish", NS_PUBSUB), "item", NS_PUBSUB);
        CHECK(h_attr_eq(item, "id", "current"));
    }
    if (r)
        xmpp_stanza_release(r);
    /* The owner hears of its own publication. */
    CHECK(wait_event(
        alice,
        &(event_want_t){
            .from = "alice@example.test", .node = NS_NICK, .text_name = "nick", .text = "Alice A."},
        3000));
    r = get_items(alice, NULL, NS_NICK, NULL);
    CHECK(h_attr_eq(r, "type", "result") && has_text(r, "nick", "Alice A."));
    if (r)
        xmpp_stanza_release(r);
    r = get_items(alice, "alice@example.test", NS_NICK, NULL);
    CHECK(h_attr_eq(r, "type", "result") && has_text(r, "nick", "Alice A."));
    if (r)
        xmpp_stanza_release(r);
    /* Without an id the server makes one; a node nobody created is not found. */
    r = publish(alice, NS_MOOD, NULL, MOOD("happy"), NULL);
    xmpp_stanza_t *item =
        h_child(h_child(h_child(r, "pubsub", NS_PUBSUB), "publish", NS_PUBSUB), "item", NS_PUBSUB);
    const char *gen = item ? xmpp_stanza_get_id(item) : NULL;
    CHECK(h_attr_eq(r, "type", "result") && gen && strlen(gen) >= 8);
    if (r)
        xmpp_stanza_release(r);
    r = get_items(alice, NULL, "urn:example:never-created", NULL);
    CHECK(error_is(r, "item-not-found", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* Disco of the account advertises PEP: the pubsub/pep identity
     * (XEP-0163 section 4) next to account/registered, and the features. */
    r = h_iq(alice, "get", "alice@example.test", "<query xmlns='" NS_INFO "'/>", 5000);
    int publish_feature = 0, options_feature = 0, compat = 0, pep_identity = 0, registered = 0;
    xmpp_stanza_t *q = h_child(r, "query", NS_INFO);
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        publish_feature |= h_attr_eq(k, "var", NS_PUBSUB "#publish");
        options_feature |= h_attr_eq(k, "var", NS_PUBSUB "#publish-options");
        compat |= h_attr_eq(k, "var", NS_BOOKMARKS "#compat");
        pep_identity |= h_attr_eq(k, "category", "pubsub") && h_attr_eq(k, "type", "pep");
        registered |= h_attr_eq(k, "category", "account") && h_attr_eq(k, "type", "registered");
    }
    CHECK(publish_feature && options_feature && compat);
    CHECK_MSG(pep_identity && registered, "account disco#info: pubsub/pep %d, account %d",
              pep_identity, registered);
    if (r)
        xmpp_stanza_release(r);
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* bob publishes; carol's client wants nick notifications, dave's does not.
 * The server asks carol's caps once: her second resource, with the same
 * ver, is not asked and still gets the event. */
static void notifications_follow_notify_caps(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *bob = login(ctx, srv, "bob@example.test/desk", &caps_quiet, ASK_ANY);
    h_client_t *carol = login(ctx, srv, "carol@example.test/one", &caps_notify, ASK_ANY);
    h_client_t *dave = login(ctx, srv, "dave@example.test/pc", &caps_quiet, ASK_ANY);
    h_client_t *carol2 = NULL;
    if (!bob || !carol || !dave)
        goto out;
    h_make_mutual(bob, "bob@example.test", carol, "carol@example.test");
    h_make_mutual(bob, "bob@example.test", dave, "dave@example.test");
    carol2 = login(ctx, srv, "carol@example.test/two", &caps_notify, ASK_NO);
    if (!carol2)
        goto out;
    /* one question per ver, whichever resource showed it first */
    CHECK_MSG(h_log_count(srv, mark, "event=pep.caps_ask") <= 2, "asked %d times",
              h_log_count(srv, mark, "event=pep.caps_ask"));
    h_drain(carol);
    h_drain(dave);
    CHECK(publish_ok(bob, NS_NICK, "current", NICK("Bobby"), NULL));
    event_want_t ev = {
        .from = "bob@example.test", .node = NS_NICK, .text_name = "nick", .text = "Bobby"};
    CHECK_MSG(wait_event(carol, &ev, 3000), "carol/one got no event");
    CHECK_MSG(wait_event(carol2, &ev, 3000), "carol/two got no event");
    CHECK_MSG(wait_event(bob, &ev, 3000), "the owner got no event");
    h_settle(dave);
    CHECK_MSG(count_events(dave, &ev) == 0, "dave's client did not ask for nick events");
out:
    h_client_free(carol2);
    h_client_free(dave);
    h_client_free(carol);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* A client whose disco#info does not match its ver is believed for itself
 * only: the next resource showing that ver is asked again. */
static void unverifiable_caps_are_not_shared(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = login(ctx, srv, "sam@example.test/one", &caps_liar, ASK_YES);
    h_client_t *b = login(ctx, srv, "sam@example.test/two", &caps_liar, ASK_YES);
    /* the honest client showing that ver is served from the shared cache */
    h_client_t *c = login(ctx, srv, "sam@example.test/three", &caps_notify, ASK_NO);
    h_client_free(c);
    h_client_free(b);
    h_client_free(a);
    h_ctx_free(ctx);
}

static void access_models(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *erin = login(ctx, srv, "erin@example.test/a", NULL, ASK_ANY);
    h_client_t *frank = login(ctx, srv, "frank@example.test/a", &caps_notify, ASK_ANY);
    h_client_t *gina = login(ctx, srv, "gina@example.test/a", &caps_notify, ASK_ANY);
    if (!erin || !frank || !gina)
        goto out;
    h_make_mutual(erin, "erin@example.test", frank, "frank@example.test");
    CHECK(publish_ok(erin, "urn:example:presence-node", "1", "<x xmlns='urn:example'>p</x>", NULL));
    CHECK(publish_ok(erin, "urn:example:open", "1", "<x xmlns='urn:example'>o</x>",
                     OPTIONS(FIELD("pubsub#access_model", "open"))));
    CHECK(publish_ok(erin, "urn:example:wl", "1", "<x xmlns='urn:example'>w</x>",
                     OPTIONS(FIELD("pubsub#access_model", "whitelist"))));
    /* presence: the subscribed contact reads, the stranger may not */
    xmpp_stanza_t *r = get_items(frank, "erin@example.test", "urn:example:presence-node", NULL);
    CHECK_MSG(h_attr_eq(r, "type", "result") && has_text(r, "x", "p"),
              "contact read presence node");
    if (r)
        xmpp_stanza_release(r);
    r = get_items(gina, "erin@example.test", "urn:example:presence-node", NULL);
    CHECK_MSG(error_is(r, "forbidden", "presence-subscription-required"), "stranger refused");
    if (r)
        xmpp_stanza_release(r);
    /* open: anyone on the host */
    r = get_items(gina, "erin@example.test", "urn:example:open", NULL);
    CHECK_MSG(h_attr_eq(r, "type", "result") && has_text(r, "x", "o"), "stranger reads open node");
    if (r)
        xmpp_stanza_release(r);
    /* whitelist: the owner only */
    r = get_items(frank, "erin@example.test", "urn:example:wl", NULL);
    CHECK_MSG(error_is(r, "forbidden", "closed-node"), "contact refused on whitelist");
    if (r)
        xmpp_stanza_release(r);
    r = get_items(erin, NULL, "urn:example:wl", NULL);
    CHECK(h_attr_eq(r, "type", "result") && has_text(r, "x", "w"));
    if (r)
        xmpp_stanza_release(r);
    /* Only the contact got events; the stranger (with +notify) got none. */
    CHECK(wait_event(
        frank, &(event_want_t){.from = "erin@example.test", .node = "urn:example:presence-node"},
        3000));
    h_settle(gina);
    CHECK(count_events(gina, &(event_want_t){.from = "erin@example.test",
                                             .node = "urn:example:presence-node"}) == 0);
    CHECK(count_events(
              gina, &(event_want_t){.from = "erin@example.test", .node = "urn:example:open"}) == 0);
    /* Nobody may publish to someone else's service. */
    xmpp_stanza_t *p =
        h_iq(frank, "set", "erin@example.test",
             "<pubsub xmlns='" NS_PUBSUB "'><publish node='urn:example:open'>"
             "<item id='x'><x xmlns='urn:example'>evil</x></item></publish></pubsub>",
             5000);
    CHECK(error_is(p, "forbidden", NULL));
    if (p)
        xmpp_stanza_release(p);
out:
    h_client_free(gina);
    h_client_free(frank);
    h_client_free(erin);
    h_ctx_free(ctx);
}

static void last_item_sent_on_presence(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *hank = login(ctx, srv, "hank@example.test/a", NULL, ASK_ANY);
    h_client_t *ivan = login(ctx, srv, "ivan@example.test/a", NULL, ASK_ANY);
    h_client_t *hank2 = NULL;
    if (!hank || !ivan)
        goto out;
    h_make_mutual(hank, "hank@example.test", ivan, "ivan@example.test");
    h_client_free(ivan);
    ivan = NULL;
    CHECK(publish_ok(hank, NS_MOOD, "current", MOOD("sleepy"), NULL));
    event_want_t ev = {.from = "hank@example.test", .node = NS_MOOD};
    ivan = login(ctx, srv, "ivan@example.test/b", &caps_notify, ASK_ANY);
    CHECK_MSG(ivan && wait_event(ivan, &ev, 3000), "ivan did not get hank's last mood");
    /* The owner's own new resource gets it too. */
    hank2 = login(ctx, srv, "hank@example.test/b", &caps_notify, ASK_ANY);
    CHECK_MSG(hank2 && wait_event(hank2, &ev, 3000), "hank/b did not get its own last mood");
    /* A resource without +notify gets nothing. */
    h_client_t *quiet = login(ctx, srv, "ivan@example.test/c", &caps_quiet, ASK_ANY);
    if (quiet) {
        h_settle(quiet);
        CHECK(count_events(quiet, &ev) == 0);
    }
    h_client_free(quiet);
out:
    h_client_free(hank2);
    h_client_free(ivan);
    h_client_free(hank);
    h_ctx_free(ctx);
}

static void avatar_metadata_and_data(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *judy = login(ctx, srv, "judy@example.test/a", NULL, ASK_ANY);
    h_client_t *kate = login(ctx, srv, "kate@example.test/a", &caps_notify, ASK_ANY);
    h_client_t *leo = login(ctx, srv, "leo@example.test/a", &caps_notify, ASK_ANY);
    if (!judy || !kate || !leo)
        goto out;
    h_make_mutual(judy, "judy@example.test", kate, "kate@example.test");
    const char *hash = "111f4b3c50d7b0df729d299bc6f8e9ef9066971f";
    CHECK(publish_ok(judy, "urn:xmpp:avatar:data", hash,
                     "<data xmlns='urn:xmpp:avatar:data'>iVBORw0KGgoAAAANSUhEUgAAAAE=</data>",
                     NULL));
    CHECK(publish_ok(judy, "urn:xmpp:avatar:metadata", hash,
                     "<metadata xmlns='urn:xmpp:avatar:metadata'><info bytes='20' id='111f4b3c50d7"
                     "b0df729d299bc6f8e9ef9066971f' height='1' width='1' type='image/png'/>"
                     "</metadata>",
                     NULL));
    /* kate hears of the metadata, then fetches the data by id */
    CHECK(wait_event(
        kate, &(event_want_t){.from = "judy@example.test", .node = "urn:xmpp:avatar:metadata"},
        3000));
    char inner[128];
    snprintf(inner, sizeof(inner), "<item id='%s'/>", hash);
    xmpp_stanza_t *r = get_items(kate, "judy@example.test", "urn:xmpp:avatar:data", inner);
    CHECK(h_attr_eq(r, "type", "result") && has_text(r, "data", "iVBORw0KGgoAAAANSUhEUgAAAAE="));
    if (r)
        xmpp_stanza_release(r);
    /* the data node follows the metadata's access: a stranger may not */
    r = get_items(leo, "judy@example.test", "urn:xmpp:avatar:data", inner);
    CHECK(error_is(r, "forbidden", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* metadata opened to everyone: the data node follows */
    CHECK(publish_ok(judy, "urn:xmpp:avatar:metadata", "open-config",
                     "<metadata xmlns='urn:xmpp:avatar:metadata'/>", NULL));
    xmpp_stanza_t *c =
        h_iq(judy, "set", NULL,
             "<pubsub xmlns='" NS_OWNER "'><configure node='urn:xmpp:avatar:metadata'>"
             "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
             "type='hidden'><value>http://jabber.org/protocol/pubsub#node_config"
             "</value></field>" FIELD("pubsub#access_model", "open") "</x>"
                                                                     "</configure></pubsub>",
             5000);
    CHECK(h_attr_eq(c, "type", "result"));
    if (c)
        xmpp_stanza_release(c);
    r = get_items(leo, "judy@example.test", "urn:xmpp:avatar:data", inner);
    CHECK(h_attr_eq(r, "type", "result") && has_text(r, "data", "iVBORw0KGgoAAAANSUhEUgAAAAE="));
    if (r)
        xmpp_stanza_release(r);
out:
    h_client_free(leo);
    h_client_free(kate);
    h_client_free(judy);
    h_ctx_free(ctx);
}

static void vcard4_publish_and_read(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *mike = login(ctx, srv, "mike@example.test/a", NULL, ASK_ANY);
    h_client_t *nina = login(ctx, srv, "nina@example.test/a", &caps_notify, ASK_ANY);
    if (!mike || !nina)
        goto out;
    h_make_mutual(mike, "mike@example.test", nina, "nina@example.test");
    CHECK(publish_ok(mike, "urn:xmpp:vcard4", "current",
                     "<vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'><fn><text>Mike Mole</text>"
                     "</fn><email><text>mike@example.test</text></email></vcard>",
                     NULL));
    CHECK(wait_event(nina,
                     &(event_want_t){.from = "mike@example.test",
                                     .node = "urn:xmpp:vcard4",
                                     .text_name = "text",
                                     .text = "Mike Mole"},
                     3000));
    xmpp_stanza_t *r = get_items(nina, "mike@example.test", "urn:xmpp:vcard4", NULL);
    CHECK(h_attr_eq(r, "type", "result") && has_text(r, "text", "Mike Mole"));
    if (r)
        xmpp_stanza_release(r);
out:
    h_client_free(nina);
    h_client_free(mike);
    h_ctx_free(ctx);
}

/* max_item_size is 4k in this server's config. */
static void oversize_and_malformed_publishes_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *oscar = login(ctx, srv, "oscar@example.test/a", NULL, ASK_ANY);
    if (!oscar) {
        h_ctx_free(ctx);
        return;
    }
    char *big = malloc(6000);
    strcpy(big, "<x xmlns='urn:example'>");
    memset(big + strlen(big), 'a', 5000);
    strcpy(big + 23 + 5000, "</x>");
    xmpp_stanza_t *r = publish(oscar, "urn:example:big", "1", big, NULL);
    CHECK(error_is(r, "not-acceptable", "payload-too-big"));
    if (r)
        xmpp_stanza_release(r);
    free(big);
    /* a value outside the field's range */
    r = publish(oscar, "urn:example:f", "1", "<x xmlns='urn:example'/>",
                OPTIONS(FIELD("pubsub#access_model", "bogus")));
    CHECK(error_is(r, "bad-request", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* a form without FORM_TYPE */
    r = publish(oscar, "urn:example:f", "1", "<x xmlns='urn:example'/>",
                "<publish-options><x xmlns='jabber:x:data' type='submit'>" FIELD(
                    "pubsub#persist_items", "true") "</x></publish-options>");
    CHECK(error_is(r, "bad-request", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* max_items beyond the server's bound */
    r = publish(oscar, "urn:example:f", "1", "<x xmlns='urn:example'/>",
                OPTIONS(FIELD("pubsub#max_items", "100000")));
    CHECK(error_is(r, "bad-request", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* two payloads, no payload, no node */
    r = publish(oscar, "urn:example:f", "1", "<x xmlns='urn:example'/><y xmlns='urn:example'/>",
                NULL);
    CHECK(error_is(r, "bad-request", "invalid-payload"));
    if (r)
        xmpp_stanza_release(r);
    r = publish(oscar, "urn:example:f", "1", "", NULL);
    CHECK(error_is(r, "bad-request", "payload-required"));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(oscar, "set", NULL,
             "<pubsub xmlns='" NS_PUBSUB "'><publish><item><x xmlns='urn:example'/></item>"
             "</publish></pubsub>",
             5000);
    CHECK(error_is(r, "bad-request", "nodeid-required"));
    if (r)
        xmpp_stanza_release(r);
    /* Nothing of that was stored: the node does not exist. */
    r = get_items(oscar, NULL, "urn:example:f", NULL);
    CHECK(error_is(r, "item-not-found", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* An existing node whose configuration differs: precondition not met. */
    CHECK(publish_ok(oscar, "urn:example:pre", "1", "<x xmlns='urn:example'/>", NULL));
    r = publish(oscar, "urn:example:pre", "2", "<x xmlns='urn:example'/>",
                OPTIONS(FIELD("pubsub#access_model", "open")));
    CHECK(error_is(r, "conflict", "precondition-not-met"));
    if (r)
        xmpp_stanza_release(r);
    h_client_free(oscar);
    h_ctx_free(ctx);
}

static void retract_and_max_items(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *pat = login(ctx, srv, "pat@example.test/a", NULL, ASK_ANY);
    if (!pat) {
        h_ctx_free(ctx);
        return;
    }
    const char *opts = OPTIONS(FIELD("pubsub#max_items", "3"));
    CHECK(publish_ok(pat, "urn:example:list", "a", "<x xmlns='urn:example'>a</x>", opts));
    CHECK(publish_ok(pat, "urn:example:list", "b", "<x xmlns='urn:example'>b</x>", opts));
    CHECK(publish_ok(pat, "urn:example:list", "c", "<x xmlns='urn:example'>c</x>", opts));
    CHECK(publish_ok(pat, "urn:example:list", "d", "<x xmlns='urn:example'>d</x>", opts));
    char ids[256];
    xmpp_stanza_t *r = get_items(pat, NULL, "urn:example:list", NULL);
    item_ids(r, ids, sizeof(ids));
    CHECK_MSG(strcmp(ids, "b,c,d") == 0, "items %s", ids); /* the oldest went */
    if (r)
        xmpp_stanza_release(r);
    char req[256];
    snprintf(req, sizeof(req),
             "<pubsub xmlns='" NS_PUBSUB "'><items node='urn:example:list' "
             "max_items='1'/></pubsub>");
    r = h_iq(pat, "get", NULL, req, 5000);
    item_ids(r, ids, sizeof(ids));
    CHECK_MSG(strcmp(ids, "d") == 0, "max_items=1 gave %s", ids);
    if (r)
        xmpp_stanza_release(r);
    h_drain(pat);
    r = h_iq(pat, "set", NULL,
             "<pubsub xmlns='" NS_PUBSUB "'><retract node='urn:example:list' notify='true'>"
             "<item id='c'/></retract></pubsub>",
             5000);
    CHECK(h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    CHECK(wait_event(
        pat,
        &(event_want_t){.from = "pat@example.test", .node = "urn:example:list", .retract = "c"},
        3000));
    r = get_items(pat, NULL, "urn:example:list", NULL);
    item_ids(r, ids, sizeof(ids));
    CHECK_MSG(strcmp(ids, "b,d") == 0, "after retract: %s", ids);
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(pat, "set", NULL,
             "<pubsub xmlns='" NS_PUBSUB "'><retract node='urn:example:list'>"
             "<item id='zzz'/></retract></pubsub>",
             5000);
    CHECK(error_is(r, "item-not-found", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* configure: the form shows the node's settings; the owner only */
    r = h_iq(pat, "get", NULL,
             "<pubsub xmlns='" NS_OWNER "'><configure node='urn:example:list'/></pubsub>", 5000);
    CHECK(h_attr_eq(r, "type", "result") &&
          has_text(r, "value", "http://jabber.org/protocol/pubsub#node_config"));
    if (r)
        xmpp_stanza_release(r);
    /* purge empties the node, delete removes it */
    r = h_iq(pat, "set", NULL,
             "<pubsub xmlns='" NS_OWNER "'><purge node='urn:example:list'/></pubsub>", 5000);
    CHECK(h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    r = get_items(pat, NULL, "urn:example:list", NULL);
    item_ids(r, ids, sizeof(ids));
    CHECK_MSG(h_attr_eq(r, "type", "result") && ids[0] == '\0', "after purge: %s", ids);
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(pat, "set", NULL,
             "<pubsub xmlns='" NS_OWNER "'><delete node='urn:example:list'/></pubsub>", 5000);
    CHECK(h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    r = get_items(pat, NULL, "urn:example:list", NULL);
    CHECK(error_is(r, "item-not-found", NULL));
    if (r)
        xmpp_stanza_release(r);
    h_client_free(pat);
    h_ctx_free(ctx);
}

/* max_nodes is 5 in this server's config. */
static void too_many_nodes_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *quinn = login(ctx, srv, "quinn@example.test/a", NULL, ASK_ANY);
    if (!quinn) {
        h_ctx_free(ctx);
        return;
    }
    char node[64];
    for (int i = 1; i <= 5; i++) {
        snprintf(node, sizeof(node), "urn:example:n%d", i);
        CHECK_MSG(publish_ok(quinn, node, "1", "<x xmlns='urn:example'/>", NULL), "node %d", i);
    }
    xmpp_stanza_t *r = publish(quinn, "urn:example:n6", "1", "<x xmlns='urn:example'/>", NULL);
    CHECK(error_is(r, "policy-violation", "max-nodes-exceeded"));
    if (r)
        xmpp_stanza_release(r);
    /* publishing again to an existing node is fine */
    CHECK(publish_ok(quinn, "urn:example:n1", "2", "<x xmlns='urn:example'/>", NULL));
    r = h_iq(quinn, "set", NULL,
             "<pubsub xmlns='" NS_OWNER "'><delete node='urn:example:n2'/></pubsub>", 5000);
    CHECK(h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    CHECK(publish_ok(quinn, "urn:example:n6", "1", "<x xmlns='urn:example'/>", NULL));
    h_client_free(quinn);
    h_ctx_free(ctx);
}

#define BOOKMARK_OPTIONS                                                                           \
    OPTIONS(FIELD("pubsub#persist_items", "true") FIELD("pubsub#max_items", "max") FIELD(          \
        "pubsub#send_last_published_item", "never") FIELD("pubsub#access_model", "whitelist"))

static int storage_has(xmpp_stanza_t *r, const char *jid, const char *nick)
{
    xmpp_stanza_t *st = h_child(h_child(r, "query", NS_PRIVATE), "storage", "storage:bookmarks");
    for (xmpp_stanza_t *k = st ? xmpp_stanza_get_children(st) : NULL; k;
         k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && h_attr_eq(k, "jid", jid))
            return !nick || has_text(k, "nick", nick);
    return 0;
}

static void bookmarks_through_private_storage(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *rita = login(ctx, srv, "rita@example.test/a", NULL, ASK_ANY);
    if (!rita) {
        h_ctx_free(ctx);
        return;
    }
    /* XEP-0402 publish, XEP-0048 read */
    CHECK(publish_ok(rita, NS_BOOKMARKS, "council@muc.example.test",
                     "<conference xmlns='" NS_BOOKMARKS "' name='Council' autojoin='true'>"
                     "<nick>Rita</nick></conference>",
                     BOOKMARK_OPTIONS));
    xmpp_stanza_t *r = h_iq(rita, "get", NULL,
                            "<query xmlns='" NS_PRIVATE "'><storage xmlns='storage:bookmarks'/>"
                            "</query>",
                            5000);
    CHECK_MSG(h_attr_eq(r, "type", "result") && storage_has(r, "council@muc.example.test", "Rita"),
              "0402 bookmark visible through XEP-0048");
    xmpp_stanza_t *conf =
        h_child(h_child(h_child(r, "query", NS_PRIVATE), "storage", "storage:bookmarks"),
                "conference", "storage:bookmarks");
    CHECK(h_attr_eq(conf, "autojoin", "true") && h_attr_eq(conf, "name", "Council"));
    if (r)
        xmpp_stanza_release(r);
    /* XEP-0048 write replaces the set: one new, the old one gone */
    r = h_iq(rita, "set", NULL,
             "<query xmlns='" NS_PRIVATE "'><storage xmlns='storage:bookmarks'>"
             "<conference jid='tea@muc.example.test' name='Tea' autojoin='false'><nick>R</nick>"
             "</conference><conference jid='news@muc.example.test' name='News'/>"
             "</storage></query>",
             8000);
    CHECK_MSG(h_attr_eq(r, "type", "result"), "XEP-0048 set");
    if (r)
        xmpp_stanza_release(r);
    r = get_items(rita, NULL, NS_BOOKMARKS, NULL);
    char ids[512];
    item_ids(r, ids, sizeof(ids));
    CHECK_MSG(strcmp(ids, "tea@muc.example.test,news@muc.example.test") == 0, "items %s", ids);
    CHECK(has_text(r, "nick", "R"));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(rita, "get", NULL,
             "<query xmlns='" NS_PRIVATE "'><storage xmlns='storage:bookmarks'/></query>", 5000);
    CHECK(storage_has(r, "tea@muc.example.test", "R") &&
          storage_has(r, "news@muc.example.test", NULL) &&
          !storage_has(r, "council@muc.example.test", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* bookmarks are whitelist: a contact cannot read them */
    h_client_t *tina = login(ctx, srv, "tina@example.test/a", NULL, ASK_ANY);
    if (tina) {
        h_make_mutual(rita, "rita@example.test", tina, "tina@example.test");
        r = get_items(tina, "rita@example.test", NS_BOOKMARKS, NULL);
        CHECK(error_is(r, "forbidden", NULL));
        if (r)
            xmpp_stanza_release(r);
    }
    h_client_free(tina);
    /* a bad conference jid */
    r = h_iq(rita, "set", NULL,
             "<query xmlns='" NS_PRIVATE "'><storage xmlns='storage:bookmarks'>"
             "<conference name='x'/></storage></query>",
             5000);
    CHECK(error_is(r, "bad-request", NULL));
    if (r)
        xmpp_stanza_release(r);
    /* other namespaces are still the private module's */
    r = h_iq(rita, "set", NULL,
             "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'>blue</prefs></query>",
             5000);
    CHECK(h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(rita, "get", NULL,
             "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'/></query>", 5000);
    CHECK(h_attr_eq(r, "type", "result") && has_text(r, "prefs", "blue"));
    if (r)
        xmpp_stanza_release(r);
    h_client_free(rita);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; private = {}; "
                   "pep = { max_item_size = \"4k\"; max_nodes = 5; }; bookmarks = {};",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(publish_and_retrieve_own_item, &srv);
        H_RUN(notifications_follow_notify_caps, &srv);
        H_RUN(unverifiable_caps_are_not_shared, &srv);
        H_RUN(access_models, &srv);
        H_RUN(last_item_sent_on_presence, &srv);
        H_RUN(avatar_metadata_and_data, &srv);
        H_RUN(vcard4_publish_and_read, &srv);
        H_RUN(oversize_and_malformed_publishes_refused, &srv);
        H_RUN(retract_and_max_items, &srv);
        H_RUN(too_many_nodes_refused, &srv);
        H_RUN(bookmarks_through_private_storage, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
