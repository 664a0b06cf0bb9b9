/* test_inbox.c — the server-kept conversation list (XEP-0430 Inbox, IM-4)
 * over real sockets: conversations with their unread counts in activity
 * order, reads on another client (chat markers, XEP-0490 positions, a
 * reply) seen by the first client and pushed to it, counts that survive
 * logout and a restart, paging, and bad requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_INBOX "urn:xmpp:inbox:1"
#define NS_PARLEY "urn:parley:inbox"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_SID "urn:xmpp:sid:0"
#define NS_MARKERS "urn:xmpp:chat-markers:0"
#define MDS "urn:xmpp:mds:displayed:0"

/* Every case uses its own user: conversations outlive the sessions. */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "frank@example.test", "pw",
    "gina@example.test", "pw", "hank@example.test", "pw", "ivan@example.test", "pw",
    "judy@example.test", "pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

typedef struct conv {
    char jid[128];
    int unread;
    char id[64];
    char body[512];
    char from[128];
    char displayed[64];
} conv_t;

typedef struct inbox {
    conv_t c[16];
    int n;
    int total, unread, all_unread, count;
    char first[128], last[128];
    char error[64]; /* the error condition, "" on success */
} inbox_t;

static void copy_attr(char *dst, size_t cap, xmpp_stanza_t *st, const char *name)
{
    const char *v = st ? xmpp_stanza_get_attribute(st, name) : NULL;
    snprintf(dst, cap, "%s", v ? v : "");
}

static int attr_int(xmpp_stanza_t *st, const char *name)
{
    const char *v = st ? xmpp_stanza_get_attribute(st, name) : NULL;
    return v ? atoi(v) : -1;
}

static void child_text(char *dst, size_t cap, xmpp_stanza_t *parent, const char *name)
{
    char *t = parent ? h_child_text(parent, name) : NULL;
    snprintf(dst, cap, "%s", t ? t : "");
    free(t);
}

/* Sends an inbox query (attributes and RSM XML may be "") and collects the
 * entry messages that came before the IQ answer.  0 when an answer came. */
static int query(h_client_t *c, const char *attrs, const char *rsm, inbox_t *out)
{
    memset(out, 0, sizeof(*out));
    h_drain(c);
    char payload[1024];
    snprintf(payload, sizeof(payload), "<inbox xmlns='" NS_INBOX "' %s>%s</inbox>", attrs, rsm);
    xmpp_stanza_t *r = h_iq(c, "get", NULL, payload, 5000);
    if (!r)
        return -1;
    const char *cond = h_error_condition(r);
    if (!h_attr_eq(r, "type", "result"))
        snprintf(out->error, sizeof(out->error), "%s", cond ? cond : "error");
    xmpp_stanza_t *fin = xmpp_stanza_get_child_by_name_and_ns(r, "fin", NS_INBOX);
    out->total = attr_int(fin, "total");
    out->unread = attr_int(fin, "unread");
    out->all_unread = attr_int(fin, "all-unread");
    xmpp_stanza_t *set = fin ? xmpp_stanza_get_child_by_name_and_ns(fin, "set", NS_RSM) : NULL;
    child_text(out->first, sizeof(out->first), set, "first");
    child_text(out->last, sizeof(out->last), set, "last");
    char count[16];
    child_text(count, sizeof(count), set, "count");
    out->count = *count ? atoi(count) : -1;
    xmpp_stanza_release(r);
    for (size_t i = 0; i < c->ninbox && out->n < 16; i++) {
        xmpp_stanza_t *m = c->inbox[i];
        xmpp_stanza_t *e = xmpp_stanza_get_child_by_name_and_ns(m, "entry", NS_INBOX);
        if (!e)
            continue;
        conv_t *cv = &out->c[out->n++];
        copy_attr(cv->jid, sizeof(cv->jid), e, "jid");
        cv->unread = attr_int(e, "unread");
        copy_attr(cv->id, sizeof(cv->id), e, "id");
        xmpp_stanza_t *st = xmpp_stanza_get_child_by_name_and_ns(m, "state", NS_PARLEY);
        copy_attr(cv->displayed, sizeof(cv->displayed), st, "displayed");
        xmpp_stanza_t *res = xmpp_stanza_get_child_by_name_and_ns(m, "result", "urn:xmpp:mam:2");
        xmpp_stanza_t *fw = res ? xmpp_stanza_get_child_by_name(res, "forwarded") : NULL;
        xmpp_stanza_t *msg = fw ? xmpp_stanza_get_child_by_name(fw, "message") : NULL;
        child_text(cv->body, sizeof(cv->body), msg, "body");
        copy_attr(cv->from, sizeof(cv->from), msg, "from");
    }
    return 0;
}

static const conv_t *find(const inbox_t *ib, const char *jid)
{
    for (int i = 0; i < ib->n; i++)
        if (strcmp(ib->c[i].jid, jid) == 0)
            return &ib->c[i];
    return NULL;
}

static int unread_of(h_client_t *c, const char *jid)
{
    inbox_t ib;
    if (query(c, "", "", &ib) != 0 || *ib.error)
        return -2;
    const conv_t *cv = find(&ib, jid);
    return cv ? cv->unread : -1;
}

static void say(h_client_t *c, const char *to, const char *id, const char *body)
{
    h_send(c,
           "<message to='%s' type='chat' id='%s'><body>%s</body>"
           "<markable xmlns='" NS_MARKERS "'/></message>",
           to, id, body);
}

/* The stanza-id the recipient's server gave the message with this body. */
static int stanza_id_of(h_client_t *c, const char *body, char *out, size_t cap)
{
    xmpp_stanza_t *m = h_wait(c, &(h_match_t){.name = "message", .body = body}, 5000);
    xmpp_stanza_t *sid = m ? xmpp_stanza_get_child_by_name_and_ns(m, "stanza-id", NS_SID) : NULL;
    copy_attr(out, cap, sid, "id");
    if (m)
        xmpp_stanza_release(m);
    return *out != '\0';
}

/* ---- cases ---- */

static void conversations_are_listed_with_unread_counts(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "alice@example.test/desk", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/p", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/p", "pw", 0);
    if (!a || !bob || !carol)
        goto out;
    inbox_t ib;
    CHECK(query(a, "", "", &ib) == 0 && !*ib.error && ib.n == 0 && ib.total == 0);
    say(bob, "alice@example.test", "b1", "hello");
    say(bob, "alice@example.test", "b2", "are you there?");
    h_settle(bob);
    say(carol, "alice@example.test/desk", "c1", "lunch?");
    h_settle(carol);
    h_settle(a);
    if (!CHECK(query(a, "", "", &ib) == 0 && !*ib.error))
        goto out;
    CHECK_MSG(ib.n == 2, "%d entries", ib.n);
    CHECK_MSG(!strcmp(ib.c[0].jid, "carol@example.test"), "most recent first: %s", ib.c[0].jid);
    CHECK(ib.c[0].unread == 1 && !strcmp(ib.c[0].body, "lunch?"));
    CHECK(!strcmp(ib.c[0].from, "carol@example.test/p"));
    CHECK(!strcmp(ib.c[1].jid, "bob@example.test") && ib.c[1].unread == 2);
    CHECK_MSG(!strcmp(ib.c[1].body, "are you there?"), "last message: %s", ib.c[1].body);
    CHECK(*ib.c[1].id != '\0');
    CHECK_MSG(ib.total == 2 && ib.unread == 2 && ib.all_unread == 3, "fin %d %d %d", ib.total,
              ib.unread, ib.all_unread);
    /* unread-only and messages='false'. */
    say(a, "bob@example.test", "a1", "yes!");
    h_settle(a);
    CHECK(query(a, "unread-only='true' messages='false'", "", &ib) == 0 && ib.n == 1 &&
          !strcmp(ib.c[0].jid, "carol@example.test") && ib.c[0].body[0] == '\0');
out:
    h_client_free(a);
    h_client_free(bob);
    h_client_free(carol);
    h_ctx_free(ctx);
}

static void reading_on_another_client_is_seen_and_pushed(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "dave@example.test/desk", "pw", 0);
    h_client_t *b = h_login(ctx, srv, "dave@example.test/phone", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/p", "pw", 0);
    if (!a || !b || !bob)
        goto out;
    for (int i = 1; i <= 3; i++) {
        char id[8], body[16];
        snprintf(id, sizeof(id), "m%d", i);
        snprintf(body, sizeof(body), "news %d", i);
        say(bob, "dave@example.test", id, body);
    }
    h_settle(bob);
    h_settle(a);
    CHECK(unread_of(a, "bob@example.test") == 3); /* a now gets pushes */
    /* The phone displays m2 (XEP-0333): one left. */
    h_send(b, "<message to='bob@example.test/p' id='mk1'>"
              "<displayed xmlns='" NS_MARKERS "' id='m2'/></message>");
    xmpp_stanza_t *push =
        h_wait(a, &(h_match_t){.name = "message", .type = "headline", .child_ns = NS_PARLEY}, 5000);
    xmpp_stanza_t *u =
        push ? xmpp_stanza_get_child_by_name_and_ns(push, "update", NS_PARLEY) : NULL;
    CHECK_MSG(u && h_attr_eq(u, "jid", "bob@example.test") && h_attr_eq(u, "unread", "1"),
              "no push of the read to the desk client");
    CHECK(push && h_attr_eq(push, "from", "dave@example.test"));
    if (push)
        xmpp_stanza_release(push);
    CHECK(unread_of(a, "bob@example.test") == 1);
    /* The phone (which never asked for its inbox) got no push. */
    CHECK(h_count(b, &(h_match_t){.name = "message", .child_ns = NS_PARLEY}) == 0);
    /* A marker for an unknown message changes nothing. */
    h_send(b, "<message to='bob@example.test/p' id='mk2'>"
              "<displayed xmlns='" NS_MARKERS "' id='no-such'/></message>");
    h_settle(b);
    CHECK(unread_of(a, "bob@example.test") == 1);
    /* Answering reads the whole conversation. */
    say(b, "bob@example.test", "r1", "thanks");
    h_settle(b);
    inbox_t ib;
    CHECK(query(a, "", "", &ib) == 0 && ib.n == 1 && ib.c[0].unread == 0 &&
          !strcmp(ib.c[0].body, "thanks") && !strcmp(ib.c[0].from, "dave@example.test/phone"));
    /* A note from one of the user's clients to another: a conversation
     * with oneself, never unread. */
    say(b, "dave@example.test/desk", "n1", "note to self");
    h_settle(b);
    h_settle(a);
    CHECK(unread_of(a, "dave@example.test") == 0);
out:
    h_client_free(a);
    h_client_free(b);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static int publish_position(h_client_t *c, const char *user, const char *peer, const char *sid)
{
    char xml[2048];
    snprintf(xml, sizeof(xml),
             "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='" MDS "'>"
             "<item id='%s'><displayed xmlns='" MDS "'><stanza-id xmlns='" NS_SID "' "
             "by='%s' id='%s'/></displayed></item></publish></pubsub>",
             peer, user, sid);
    xmpp_stanza_t *r = h_iq(c, "set", NULL, xml, 5000);
    int ok = r && h_attr_eq(r, "type", "result");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

static void displayed_position_on_pep_reads_up_to_it(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "erin@example.test/desk", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/p", "pw", 0);
    if (!a || !bob)
        goto out;
    say(bob, "erin@example.test", "x1", "one");
    say(bob, "erin@example.test", "x2", "two");
    say(bob, "erin@example.test", "x3", "three");
    h_settle(bob);
    char sid[64];
    if (!CHECK(stanza_id_of(a, "two", sid, sizeof(sid))))
        goto out;
    CHECK(publish_position(a, "erin@example.test", "bob@example.test", sid));
    h_settle(a);
    inbox_t ib;
    CHECK(query(a, "", "", &ib) == 0 && ib.n == 1);
    CHECK_MSG(ib.c[0].unread == 1, "unread %d after the position", ib.c[0].unread);
    CHECK_MSG(!strcmp(ib.c[0].displayed, sid), "displayed %s", ib.c[0].displayed);
out:
    h_client_free(a);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void counts_survive_logout_and_restart(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "frank@example.test/desk", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/p", "pw", 0);
    if (!a || !bob)
        goto out;
    say(bob, "frank@example.test", "s1", "before restart");
    say(bob, "frank@example.test", "s2", "me too");
    h_settle(bob);
    h_settle(a);
    h_client_free(a);
    a = NULL;
    h_client_free(bob);
    bob = NULL;
    h_ctx_free(ctx);
    ctx = NULL;
    if (!CHECK(h_server_restart(srv) == 0))
        return;
    ctx = h_ctx_new();
    a = h_login(ctx, srv, "frank@example.test/other", "pw", 0);
    inbox_t ib;
    if (a && CHECK(query(a, "", "", &ib) == 0 && ib.n == 1)) {
        CHECK(!strcmp(ib.c[0].jid, "bob@example.test") && ib.c[0].unread == 2 &&
              !strcmp(ib.c[0].body, "me too"));
    }
out:
    h_client_free(a);
    h_client_free(bob);
    if (ctx)
        h_ctx_free(ctx);
}

static void pages_walk_the_list(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *g = h_login(ctx, srv, "gina@example.test/desk", "pw", 0);
    const char *senders[] = {"alice", "bob", "carol", "dave", "erin"};
    for (int i = 0; i < 5 && g; i++) {
        char jid[64];
        snprintf(jid, sizeof(jid), "%s@example.test/pager", senders[i]);
        h_client_t *s = h_login(ctx, srv, jid, "pw", 0);
        if (!s)
            continue;
        say(s, "gina@example.test", "p", senders[i]);
        h_settle(s);
        h_client_free(s);
    }
    if (!g)
        goto out;
    h_settle(g);
    inbox_t ib;
    /* Newest first: erin, dave, carol, bob, alice. */
    CHECK(query(g, "", "<set xmlns='" NS_RSM "'><max>2</max></set>", &ib) == 0 && ib.n == 2);
    CHECK(!strcmp(ib.c[0].jid, "erin@example.test") && !strcmp(ib.c[1].jid, "dave@example.test"));
    CHECK(!strcmp(ib.first, "erin@example.test") && !strcmp(ib.last, "dave@example.test"));
    CHECK(ib.count == 5 && ib.total == 5);
    CHECK(query(g, "", "<set xmlns='" NS_RSM "'><max>2</max><after>dave@example.test</after></set>",
                &ib) == 0 &&
          ib.n == 2);
    CHECK(!strcmp(ib.c[0].jid, "carol@example.test") && !strcmp(ib.c[1].jid, "bob@example.test"));
    CHECK(query(g, "", "<set xmlns='" NS_RSM "'><max>2</max><after>bob@example.test</after></set>",
                &ib) == 0 &&
          ib.n == 1 && !strcmp(ib.c[0].jid, "alice@example.test"));
    CHECK(query(g, "",
                "<set xmlns='" NS_RSM "'><max>2</max><after>alice@example.test</after></set>",
                &ib) == 0 &&
          ib.n == 0 && !*ib.error && ib.count == 5);
    /* The last page, and the one before a given conversation. */
    CHECK(query(g, "", "<set xmlns='" NS_RSM "'><max>2</max><before/></set>", &ib) == 0 &&
          ib.n == 2 && !strcmp(ib.c[0].jid, "bob@example.test") &&
          !strcmp(ib.c[1].jid, "alice@example.test"));
    CHECK(query(g, "",
                "<set xmlns='" NS_RSM "'><max>2</max><before>carol@example.test</before></set>",
                &ib) == 0 &&
          ib.n == 2 && !strcmp(ib.c[0].jid, "erin@example.test"));
    /* max 0: only the counts. */
    CHECK(query(g, "", "<set xmlns='" NS_RSM "'><max>0</max></set>", &ib) == 0 && ib.n == 0 &&
          ib.count == 5 && ib.all_unread == 5);
out:
    h_client_free(g);
    h_ctx_free(ctx);
}

static void bad_requests_are_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *h = h_login(ctx, srv, "hank@example.test/desk", "pw", 0);
    if (!h)
        goto out;
    inbox_t ib;
    const char *rsm_cases[] = {
        "<set xmlns='" NS_RSM "'><max>-1</max></set>",
        "<set xmlns='" NS_RSM "'><max>lots</max></set>",
        "<set xmlns='" NS_RSM "'><max>99999999999</max></set>",
        "<set xmlns='" NS_RSM "'><after>a@b</after><before>c@d</before></set>",
        "<set xmlns='" NS_RSM "'><after/></set>",
        "<set xmlns='" NS_RSM "'><after>not a jid@@</after></set>",
    };
    for (size_t i = 0; i < sizeof(rsm_cases) / sizeof(rsm_cases[0]); i++)
        CHECK_MSG(query(h, "", rsm_cases[i], &ib) == 0 && !strcmp(ib.error, "bad-request"),
                  "case %zu: %s", i, ib.error);
    CHECK(query(h, "unread-only='maybe'", "", &ib) == 0 && !strcmp(ib.error, "bad-request"));
    CHECK(query(h, "", "<set xmlns='" NS_RSM "'><after>nobody@example.test</after></set>", &ib) ==
              0 &&
          !strcmp(ib.error, "item-not-found"));
    /* A set, another element, someone else's inbox. */
    xmpp_stanza_t *r = h_iq(h, "set", NULL, "<inbox xmlns='" NS_INBOX "'/>", 5000);
    CHECK(r && !strcmp(h_error_condition(r) ? h_error_condition(r) : "", "bad-request"));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(h, "get", NULL, "<fin xmlns='" NS_INBOX "'/>", 5000);
    CHECK(r && !strcmp(h_error_condition(r) ? h_error_condition(r) : "", "bad-request"));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(h, "get", "ivan@example.test", "<inbox xmlns='" NS_INBOX "'/>", 5000);
    CHECK(r && !strcmp(h_error_condition(r) ? h_error_condition(r) : "", "not-allowed"));
    if (r)
        xmpp_stanza_release(r);
    /* Addressed to the own bare JID is the same query. */
    r = h_iq(h, "get", "hank@example.test", "<inbox xmlns='" NS_INBOX "'/>", 5000);
    CHECK(r && h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
out:
    h_client_free(h);
    h_ctx_free(ctx);
}

static void the_limit_keeps_the_most_recent(h_server_t *srv)
{
    /* max_conversations = 6 in this server's config. */
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *j = h_login(ctx, srv, "judy@example.test/desk", "pw", 0);
    const char *senders[] = {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"};
    for (int i = 0; i < 8 && j; i++) {
        char jid[64];
        snprintf(jid, sizeof(jid), "%s@example.test/lim", senders[i]);
        h_client_t *s = h_login(ctx, srv, jid, "pw", 0);
        if (!s)
            continue;
        say(s, "judy@example.test", "l", senders[i]);
        h_settle(s);
        h_client_free(s);
    }
    if (!j)
        goto out;
    h_settle(j);
    inbox_t ib;
    CHECK(query(j, "", "", &ib) == 0 && ib.n == 6 && ib.total == 6);
    CHECK_MSG(!find(&ib, "alice@example.test") && !find(&ib, "bob@example.test") &&
                  find(&ib, "hank@example.test"),
              "the two least active conversations should have gone");
out:
    h_client_free(j);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; pep = {}; inbox = { max_conversations = 6; };",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(conversations_are_listed_with_unread_counts, &srv);
        H_RUN(reading_on_another_client_is_seen_and_pushed, &srv);
        H_RUN(displayed_position_on_pep_reads_up_to_it, &srv);
        H_RUN(counts_survive_logout_and_restart, &srv);
        H_RUN(pages_walk_the_list, &srv);
        H_RUN(bad_requests_are_refused, &srv);
        H_RUN(the_limit_keeps_the_most_recent, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
