/* test_mam.c — history roaming (XEP-0313 with #extended, IM-3): what two
 * users exchange is archived for both, pages come back complete and in
 * order in both directions, the filters and full-text search narrow them,
 * bad requests and other users' archives are refused, preferences and hints
 * keep messages out, and the archive survives a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_INFO "http://jabber.org/protocol/disco#info"
#define D "example.test"

// clang-format off
static const char *const accounts[] = {
    "alice@" D, "pw", "bob@" D, "pw", "carol@" D, "pw", "dave@" D, "pw", "erin@" D, "pw",
    "frank@" D, "pw", "gina@" D, "pw", "hank@" D, "pw", "ivy@" D, "pw", "jack@" D, "pw",
    NULL,
};
// clang-format on

#define PAGE_MAX 300

/* What one query returned. */
typedef struct page {
    int n;
    char ids[PAGE_MAX][32];
    char bodies[PAGE_MAX][64];
    char stamps[PAGE_MAX][40];
    char from[PAGE_MAX][96];
    char first[32], last[32];
    int complete;
    int count;
    char error[64]; /* the error condition, or "" */
} page_t;

static void text_of(xmpp_stanza_t *parent, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    xmpp_stanza_t *c = parent ? xmpp_stanza_get_child_by_name(parent, name) : NULL;
    char *t = c ? xmpp_stanza_get_text(c) : NULL;
    if (t) {
        snprintf(out, len, "%s", t);
        xmpp_free(xmpp_stanza_get_context(c), t);
    }
}

/* Sends a query (form fields and RSM as XML) and gathers the results with
 * queryid `qid` that arrived before the <fin/>.  The page is heap
 * allocated (free it). */
static page_t *query(h_client_t *c, const char *to, const char *fields, const char *rsm)
{
    static int seq;
    char qid[16];
    snprintf(qid, sizeof(qid), "q%d", ++seq);
    char payload[8192];
    snprintf(payload, sizeof(payload), "<query xmlns='" NS_MAM "' queryid='%s'>%s%s%s%s%s</query>",
             qid,
             fields ? "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
                      "type='hidden'><value>" NS_MAM "</value></field>"
                    : "",
             fields ? fields : "", fields ? "</x>" : "", rsm ? rsm : "", "");
    page_t *p = calloc(1, sizeof(*p));
    xmpp_stanza_t *iq = h_iq(c, "set", to, payload, 10000);
    if (!iq) {
        snprintf(p->error, sizeof(p->error), "timeout");
        return p;
    }
    const char *cond = h_error_condition(iq);
    if (cond)
        snprintf(p->error, sizeof(p->error), "%s", cond);
    xmpp_stanza_t *fin = xmpp_stanza_get_child_by_name(iq, "fin");
    if (fin) {
        const char *complete = xmpp_stanza_get_attribute(fin, "complete");
        p->complete = complete && strcmp(complete, "true") == 0;
        xmpp_stanza_t *set = xmpp_stanza_get_child_by_ns(fin, NS_RSM);
        text_of(set, "first", p->first, sizeof(p->first));
        text_of(set, "last", p->last, sizeof(p->last));
        char count[32];
        text_of(set, "count", count, sizeof(count));
        p->count = count[0] ? atoi(count) : -1;
    }
    xmpp_stanza_release(iq);
    /* The results came before the answer, so they are all in the inbox. */
    xmpp_stanza_t *m;
    while ((m = h_wait(c, &(h_match_t){.name = "message", .child_ns = NS_MAM}, 0))) {
        xmpp_stanza_t *r = xmpp_stanza_get_child_by_ns(m, NS_MAM);
        const char *q = xmpp_stanza_get_attribute(r, "queryid");
        if (q && strcmp(q, qid) == 0 && p->n < PAGE_MAX) {
            xmpp_stanza_t *fw = xmpp_stanza_get_child_by_name(r, "forwarded");
            xmpp_stanza_t *delay = fw ? xmpp_stanza_get_child_by_name(fw, "delay") : NULL;
            xmpp_stanza_t *orig = fw ? xmpp_stanza_get_child_by_name(fw, "message") : NULL;
            snprintf(p->ids[p->n], sizeof(p->ids[0]), "%s",
                     xmpp_stanza_get_attribute(r, "id") ? xmpp_stanza_get_attribute(r, "id") : "");
            const char *stamp = delay ? xmpp_stanza_get_attribute(delay, "stamp") : NULL;
            snprintf(p->stamps[p->n], sizeof(p->stamps[0]), "%s", stamp ? stamp : "");
            const char *from = orig ? xmpp_stanza_get_from(orig) : NULL;
            snprintf(p->from[p->n], sizeof(p->from[0]), "%s", from ? from : "");
            text_of(orig, "body", p->bodies[p->n], sizeof(p->bodies[0]));
            p->n++;
        }
        xmpp_stanza_release(m);
    }
    return p;
}

static void send_chat(h_client_t *c, const char *to, const char *body)
{
    h_send(c, "<message to='%s' type='chat' id='%s'><body>%s</body></message>", to, h_id(), body);
}

static char *field(char *buf, size_t len, const char *var, const char *value)
{
    snprintf(buf, len, "<field var='%s'><value>%s</value></field>", var, value);
    return buf;
}

static void messages_archived_for_both_sides(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@" D "/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@" D "/b", "pw", 0);
    if (!alice || !bob)
        goto out;
    send_chat(alice, "bob@" D, "hello bob");
    xmpp_stanza_t *got = h_wait(bob, &(h_match_t){.name = "message", .body = "hello bob"}, 5000);
    char sid[32] = "";
    if (CHECK(got)) {
        xmpp_stanza_t *s = xmpp_stanza_get_child_by_ns(got, "urn:xmpp:sid:0");
        if (CHECK(s))
            snprintf(sid, sizeof(sid), "%s", xmpp_stanza_get_attribute(s, "id"));
        xmpp_stanza_release(got);
    }
    send_chat(bob, "alice@" D "/a", "hi alice");
    h_settle(alice);
    h_settle(bob);

    page_t *pb = query(bob, NULL, NULL, NULL);
    CHECK_MSG(pb->error[0] == 0, "error %s", pb->error);
    if (CHECK(pb->n == 2)) {
        CHECK_MSG(strcmp(pb->ids[0], sid) == 0, "archive id %s, stanza-id %s", pb->ids[0], sid);
        CHECK(strcmp(pb->bodies[0], "hello bob") == 0);
        CHECK(strcmp(pb->from[0], "alice@" D "/a") == 0);
        CHECK(strcmp(pb->bodies[1], "hi alice") == 0);
        CHECK(pb->stamps[0][0] && strchr(pb->stamps[0], 'T') && strchr(pb->stamps[0], 'Z'));
    }
    CHECK(pb->complete && pb->count == 2);
    page_t *pa = query(alice, "alice@" D, NULL, NULL);
    if (CHECK(pa->n == 2)) {
        CHECK(strcmp(pa->bodies[0], "hello bob") == 0);
        CHECK(strcmp(pa->bodies[1], "hi alice") == 0);
        CHECK(strcmp(pa->ids[0], pb->ids[0]) != 0); /* the sender's copy has its own id */
    }
    free(pa);
    free(pb);
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Pages through carol's archive with `max` per page, forward or backward,
 * and checks that "page 1".."page n" each came once, in order. */
static void page_through(h_client_t *c, int total, int max, int backward)
{
    int seen = 0, pages = 0;
    char cursor[32] = "";
    int expect = backward ? total : 1;
    for (;;) {
        char rsm[256];
        if (backward)
            snprintf(rsm, sizeof(rsm),
                     "<set xmlns='" NS_RSM "'><max>%d</max><before>%s</before></set>", max, cursor);
        else if (cursor[0])
            snprintf(rsm, sizeof(rsm),
                     "<set xmlns='" NS_RSM "'><max>%d</max><after>%s</after></set>", max, cursor);
        else
            snprintf(rsm, sizeof(rsm), "<set xmlns='" NS_RSM "'><max>%d</max></set>", max);
        page_t *p = query(c, NULL, "<field var='with'><value>dave@" D "</value></field>", rsm);
        int ok = CHECK_MSG(!p->error[0] && p->count == total && p->n <= max,
                           "page %d: %s n=%d count=%d", pages, p->error, p->n, p->count);
        /* Items inside a page are oldest first, whichever way we go. */
        for (int i = 0; ok && i < p->n; i++) {
            char want[32];
            int k = backward ? expect - (p->n - 1 - i) : expect + i;
            snprintf(want, sizeof(want), "page %d", k);
            ok = CHECK_MSG(strcmp(p->bodies[i], want) == 0, "got '%s' want '%s'", p->bodies[i],
                           want);
        }
        seen += p->n;
        expect += backward ? -p->n : p->n;
        pages++;
        if (p->n)
            snprintf(cursor, sizeof(cursor), "%s", backward ? p->first : p->last);
        int done = p->complete || !ok || p->n == 0;
        free(p);
        if (done || pages > total / max + 2)
            break;
    }
    CHECK_MSG(seen == total, "saw %d of %d", seen, total);
    CHECK_MSG(pages == (total + max - 1) / max, "%d pages", pages);
}

static void paging_both_ways_gives_every_message_once(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *dave = h_login(ctx, srv, "dave@" D "/d", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@" D "/c", "pw", 0);
    if (!dave || !carol)
        goto out;
    for (int i = 1; i <= 120; i++) {
        char body[32];
        snprintf(body, sizeof(body), "page %d", i);
        send_chat(dave, "carol@" D, body);
    }
    h_settle(dave);
    h_drain(carol);
    /* The archive is written by the storage thread in group commits: the
     * round trip above does not wait for them, so wait for the count. */
    long long deadline = h_now_ms() + 10000;
    for (;;) {
        page_t *c = query(carol, NULL, NULL, "<set xmlns='" NS_RSM "'><max>0</max></set>");
        int all = c->count == 120;
        free(c);
        if (all || h_now_ms() > deadline)
            break;
        h_run_for(ctx, 100);
    }
    page_through(carol, 120, 50, 0);
    page_through(carol, 120, 50, 1);
    /* max=0 counts; too big a max is capped at max_page (here 100). */
    page_t *p = query(carol, NULL, NULL, "<set xmlns='" NS_RSM "'><max>0</max></set>");
    CHECK(!p->error[0] && p->n == 0 && p->count == 120);
    free(p);
    p = query(carol, NULL, NULL, "<set xmlns='" NS_RSM "'><max>100000</max></set>");
    CHECK_MSG(!p->error[0] && p->n == 100 && !p->complete, "n=%d", p->n);
    free(p);
    /* No <set/>: the default page (50), the oldest first. */
    p = query(carol, NULL, NULL, NULL);
    CHECK(p->n == 50 && strcmp(p->bodies[0], "page 1") == 0);
    free(p);
    /* <flip-page/> sends the same page newest first; <first/> and <last/>
     * still name its oldest and newest, whichever way it is sent. */
    static const char *const shapes[] = {"<before/>", "<after>%s</after>"};
    page_t *plain = query(carol, NULL, NULL, "<set xmlns='" NS_RSM "'><max>10</max></set>");
    for (size_t s = 0; s < 2; s++) {
        char cursor[64], rsm[256];
        snprintf(cursor, sizeof(cursor), shapes[s], plain->last);
        snprintf(rsm, sizeof(rsm), "<set xmlns='" NS_RSM "'><max>10</max>%s</set>", cursor);
        page_t *in_order = query(carol, NULL, NULL, rsm);
        snprintf(rsm + strlen(rsm), sizeof(rsm) - strlen(rsm), "<flip-page xmlns='" NS_MAM "'/>");
        page_t *flipped = query(carol, NULL, NULL, rsm);
        int same = CHECK_MSG(!flipped->error[0] && flipped->n == 10 && in_order->n == 10,
                             "flipped: %s n=%d", flipped->error, flipped->n);
        for (int i = 0; same && i < 10; i++)
            same = CHECK_MSG(strcmp(flipped->ids[i], in_order->ids[9 - i]) == 0,
                             "flipped item %d is %s", i, flipped->bodies[i]);
        CHECK(strcmp(flipped->first, in_order->first) == 0 &&
              strcmp(flipped->last, in_order->last) == 0 && flipped->count == 120);
        CHECK(strcmp(flipped->bodies[0], s == 0 ? "page 120" : "page 20") == 0);
        free(in_order);
        free(flipped);
    }
    free(plain);
out:
    h_client_free(dave);
    h_client_free(carol);
    h_ctx_free(ctx);
}

static void filters_narrow_the_results(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *erin = h_login(ctx, srv, "erin@" D "/e", "pw", 0);
    h_client_t *frank = h_login(ctx, srv, "frank@" D "/f", "pw", 0);
    h_client_t *gina = h_login(ctx, srv, "gina@" D "/g", "pw", 0);
    if (!erin || !frank || !gina)
        goto out;
    for (int i = 1; i <= 10; i++) {
        char body[32];
        snprintf(body, sizeof(body), "f%d %s", i, i == 7 ? "zebra crossing" : "plain");
        send_chat(frank, "erin@" D, body);
        h_settle(frank); /* distinct times for start/end */
    }
    send_chat(gina, "erin@" D, "from gina");
    h_settle(gina);
    h_drain(erin);
    char f1[256], f2[256], both[600];

    page_t *all = query(erin, NULL, NULL, NULL);
    if (!CHECK(all->n == 11)) {
        free(all);
        goto out;
    }
    page_t *p = query(erin, NULL, field(f1, sizeof(f1), "with", "gina@" D), NULL);
    CHECK(p->n == 1 && strcmp(p->bodies[0], "from gina") == 0);
    free(p);
    p = query(erin, NULL, field(f1, sizeof(f1), "with", "frank@" D "/f"), NULL); /* full JID */
    CHECK(p->n == 10);
    free(p);
    p = query(erin, NULL, field(f1, sizeof(f1), "with", "frank@" D "/other"), NULL);
    CHECK(p->n == 0 && p->complete);
    free(p);

    snprintf(both, sizeof(both), "%s%s", field(f1, sizeof(f1), "start", all->stamps[4]),
             field(f2, sizeof(f2), "end", all->stamps[7]));
    p = query(erin, NULL, both, NULL);
    CHECK_MSG(p->n == 4 && strcmp(p->bodies[0], "f5 plain") == 0, "start/end gave %d", p->n);
    free(p);

    snprintf(both, sizeof(both), "%s%s", field(f1, sizeof(f1), "after-id", all->ids[1]),
             field(f2, sizeof(f2), "before-id", all->ids[5]));
    p = query(erin, NULL, both, NULL);
    CHECK_MSG(p->n == 3 && strcmp(p->bodies[0], "f3 plain") == 0, "after/before-id gave %d", p->n);
    free(p);

    snprintf(both, sizeof(both), "<field var='ids'><value>%s</value><value>%s</value></field>",
             all->ids[0], all->ids[8]);
    p = query(erin, NULL, both, NULL);
    CHECK(p->n == 2 && strcmp(p->bodies[1], "f9 plain") == 0);
    free(p);

    p = query(erin, NULL, field(f1, sizeof(f1), "{urn:xmpp:fulltext:0}fulltext", "zebra"), NULL);
    CHECK_MSG(p->n == 1 && strcmp(p->bodies[0], "f7 zebra crossing") == 0, "fulltext gave %d",
              p->n);
    free(p);
    p = query(erin, NULL, field(f1, sizeof(f1), "{urn:xmpp:fulltext:0}fulltext", "CROSS*"), NULL);
    CHECK(p->n == 1);
    free(p);
    free(all);
out:
    h_client_free(erin);
    h_client_free(frank);
    h_client_free(gina);
    h_ctx_free(ctx);
}

static void bad_requests_are_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@" D "/bad", "pw", 0);
    if (!alice)
        goto out;
    char f[256];
    static const struct {
        const char *fields, *rsm, *cond;
    } cases[] = {
        {"<field var='after-id'><value>01ABCDEFGHJKM</value></field>", NULL, "item-not-found"},
        {"<field var='before-id'><value>not-an-id</value></field>", NULL, "item-not-found"},
        {NULL, "<set xmlns='" NS_RSM "'><after>01ABCDEFGHJKM</after></set>", "item-not-found"},
        {NULL, "<set xmlns='" NS_RSM "'><before>zzz</before></set>", "item-not-found"},
        {"<field var='start'><value>yesterday</value></field>", NULL, "bad-request"},
        {"<field var='end'><value>2024-02-30T00:00:00Z</value></field>", NULL, "bad-request"},
        {"<field var='with'><value>@@</value></field>", NULL, "bad-request"},
        {"<field var='colour'><value>red</value></field>", NULL, "feature-not-implemented"},
        {NULL, "<set xmlns='" NS_RSM "'><max>-1</max></set>", "bad-request"},
        {NULL, "<set xmlns='" NS_RSM "'><max>lots</max></set>", "bad-request"},
        {"<field var='{urn:xmpp:fulltext:0}fulltext'><value>!!!</value></field>", NULL,
         "bad-request"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        page_t *p = query(alice, NULL, cases[i].fields, cases[i].rsm);
        CHECK_MSG(strcmp(p->error, cases[i].cond) == 0, "case %zu: '%s', want %s", i, p->error,
                  cases[i].cond);
        free(p);
    }
    /* A wrong FORM_TYPE. */
    xmpp_stanza_t *r = h_iq(alice, "set", NULL,
                            "<query xmlns='" NS_MAM "'><x xmlns='jabber:x:data' type='submit'>"
                            "<field var='FORM_TYPE'><value>urn:other</value></field></x></query>",
                            5000);
    CHECK(r && h_error_condition(r) && strcmp(h_error_condition(r), "bad-request") == 0);
    if (r)
        xmpp_stanza_release(r);
    /* Too many ids. */
    char big[8000] = "<field var='ids'>";
    for (int i = 0; i < 101; i++)
        strcat(big, "<value>01ABCDEFGHJKM</value>");
    strcat(big, "</field>");
    page_t *p = query(alice, NULL, big, NULL);
    CHECK_MSG(strcmp(p->error, "policy-violation") == 0, "%s", p->error);
    free(p);
    (void)f;
out:
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void another_users_archive_is_forbidden(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@" D "/spy", "pw", 0);
    if (!alice)
        goto out;
    page_t *p = query(alice, "bob@" D, NULL, NULL);
    CHECK_MSG(strcmp(p->error, "forbidden") == 0, "%s", p->error);
    CHECK(p->n == 0);
    free(p);
    static const char *const others[] = {"<prefs xmlns='" NS_MAM "'/>",
                                         "<metadata xmlns='" NS_MAM "'/>",
                                         "<query xmlns='" NS_MAM "'/>"};
    for (size_t i = 0; i < 3; i++) {
        xmpp_stanza_t *r = h_iq(alice, "get", "bob@" D, others[i], 5000);
        CHECK_MSG(r && h_error_condition(r) && strcmp(h_error_condition(r), "forbidden") == 0, "%s",
                  others[i]);
        if (r)
            xmpp_stanza_release(r);
    }
out:
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void prefs_never_keeps_messages_out(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *hank = h_login(ctx, srv, "hank@" D "/h", "pw", 0);
    h_client_t *ivy = h_login(ctx, srv, "ivy@" D "/i", "pw", 0);
    if (!hank || !ivy)
        goto out;
    /* hank archives nothing by default but always ivy's... then never ivy. */
    xmpp_stanza_t *r = h_iq(hank, "set", NULL,
                            "<prefs xmlns='" NS_MAM "' default='never'><always><jid>ivy@" D
                            "</jid></always><never/></prefs>",
                            5000);
    CHECK(r && h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(hank, "get", NULL, "<prefs xmlns='" NS_MAM "'/>", 5000);
    xmpp_stanza_t *prefs = r ? xmpp_stanza_get_child_by_name(r, "prefs") : NULL;
    CHECK(prefs && strcmp(xmpp_stanza_get_attribute(prefs, "default"), "never") == 0);
    xmpp_stanza_t *always = prefs ? xmpp_stanza_get_child_by_name(prefs, "always") : NULL;
    char jid[64];
    text_of(always, "jid", jid, sizeof(jid));
    CHECK(strcmp(jid, "ivy@" D) == 0);
    if (r)
        xmpp_stanza_release(r);

    send_chat(ivy, "hank@" D, "kept: ivy is always");
    send_chat(hank, "alice@" D, "not kept: default never");
    h_settle(ivy);
    h_settle(hank);
    page_t *p = query(hank, NULL, NULL, NULL);
    CHECK_MSG(p->n == 1 && strcmp(p->bodies[0], "kept: ivy is always") == 0, "n=%d", p->n);
    free(p);

    r = h_iq(hank, "set", NULL,
             "<prefs xmlns='" NS_MAM "' default='always'><always/><never><jid>ivy@" D
             "</jid></never></prefs>",
             5000);
    CHECK(r && h_attr_eq(r, "type", "result"));
    if (r)
        xmpp_stanza_release(r);
    send_chat(ivy, "hank@" D, "not kept: ivy is never");
    h_settle(ivy);
    h_settle(hank);
    p = query(hank, NULL, NULL, NULL);
    CHECK_MSG(p->n == 1, "n=%d", p->n);
    free(p);
    /* ivy's own archive (default always) has both of hers. */
    p = query(ivy, NULL, field(jid, sizeof(jid), "with", "hank@" D), NULL);
    CHECK_MSG(p->n == 2, "n=%d", p->n);
    free(p);

    r = h_iq(hank, "set", NULL, "<prefs xmlns='" NS_MAM "' default='sometimes'/>", 5000);
    CHECK(r && h_error_condition(r) && strcmp(h_error_condition(r), "bad-request") == 0);
    if (r)
        xmpp_stanza_release(r);
out:
    h_client_free(hank);
    h_client_free(ivy);
    h_ctx_free(ctx);
}

/* Markers and <store/> are history; chat states alone, no-store and
 * errors are not.  A message to an offline account is archived too. */
static void what_is_archived(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *jack = h_login(ctx, srv, "jack@" D "/j", "pw", 0);
    if (!jack)
        goto out;
    h_send(jack, "<message to='gina@" D "' type='chat'><received xmlns='urn:xmpp:chat-markers:0' "
                 "id='m1'/></message>");
    h_send(jack, "<message to='gina@" D "' type='chat'><displayed xmlns='urn:xmpp:chat-markers:0' "
                 "id='m1'/></message>");
    h_send(jack, "<message to='gina@" D "' type='chat'><composing "
                 "xmlns='http://jabber.org/protocol/chatstates'/></message>");
    h_send(jack, "<message to='gina@" D "' type='chat'><body>secret</body>"
                 "<no-store xmlns='urn:xmpp:hints'/></message>");
    h_send(jack, "<message to='gina@" D "' type='chat'><body>ephemeral</body>"
                 "<no-permanent-store xmlns='urn:xmpp:hints'/></message>");
    h_send(jack, "<message to='gina@" D "' type='error'><body>err</body></message>");
    h_send(jack, "<message to='gina@" D "'><reactions xmlns='urn:xmpp:reactions:0' id='m1'/>"
                 "<store xmlns='urn:xmpp:hints'/></message>");
    send_chat(jack, "gina@" D, "while you were away");
    h_settle(jack);
    page_t *p = query(jack, NULL, "<field var='with'><value>gina@" D "</value></field>", NULL);
    CHECK_MSG(p->n == 4, "sender archived %d", p->n);
    free(p);
    /* gina logs in later: her archive has the same four. */
    h_client_t *gina = h_login(ctx, srv, "gina@" D "/g2", "pw", 0);
    if (gina) {
        p = query(gina, NULL, "<field var='with'><value>jack@" D "</value></field>", NULL);
        CHECK_MSG(p->n == 4, "recipient archived %d", p->n);
        if (p->n == 4)
            CHECK(strcmp(p->bodies[3], "while you were away") == 0);
        free(p);
    }
    h_client_free(gina);
out:
    h_client_free(jack);
    h_ctx_free(ctx);
}

static void form_metadata_and_features(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@" D "/form", "pw", 0);
    if (!bob)
        goto out;
    xmpp_stanza_t *r = h_iq(bob, "get", NULL, "<query xmlns='" NS_MAM "'/>", 5000);
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
    xmpp_stanza_t *x = q ? xmpp_stanza_get_child_by_ns(q, "jabber:x:data") : NULL;
    int fields = 0, fulltext = 0, groupchat = 0;
    for (xmpp_stanza_t *f = x ? xmpp_stanza_get_children(x) : NULL; f;
         f = xmpp_stanza_get_next(f)) {
        const char *var = xmpp_stanza_is_tag(f) ? xmpp_stanza_get_attribute(f, "var") : NULL;
        fields += var != NULL;
        fulltext |= var && strcmp(var, "{urn:xmpp:fulltext:0}fulltext") == 0;
        /* XEP-0313: the server understands include-groupchat. */
        groupchat |= var && strcmp(var, "include-groupchat") == 0 &&
                     strcmp(xmpp_stanza_get_type(f), "boolean") == 0;
        /* 'ids' is an open list: any archive id, none offered. */
        if (var && strcmp(var, "ids") == 0) {
            xmpp_stanza_t *v = xmpp_stanza_get_child_by_name(f, "validate");
            CHECK(strcmp(xmpp_stanza_get_type(f), "list-multi") == 0 && v &&
                  xmpp_stanza_get_child_by_name(v, "open") &&
                  !xmpp_stanza_get_child_by_name(f, "option"));
        }
    }
    CHECK_MSG(fields == 9 && fulltext && groupchat, "%d fields", fields);
    if (r)
        xmpp_stanza_release(r);

    page_t *all = query(bob, NULL, NULL, NULL);
    r = h_iq(bob, "get", NULL, "<metadata xmlns='" NS_MAM "'/>", 5000);
    xmpp_stanza_t *md = r ? xmpp_stanza_get_child_by_name(r, "metadata") : NULL;
    xmpp_stanza_t *start = md ? xmpp_stanza_get_child_by_name(md, "start") : NULL;
    xmpp_stanza_t *end = md ? xmpp_stanza_get_child_by_name(md, "end") : NULL;
    if (CHECK(start && end && all->n >= 2)) {
        CHECK(strcmp(xmpp_stanza_get_attribute(start, "id"), all->ids[0]) == 0);
        CHECK(strcmp(xmpp_stanza_get_attribute(end, "id"), all->ids[all->n - 1]) == 0);
        CHECK(xmpp_stanza_get_attribute(end, "timestamp") != NULL);
    }
    if (r)
        xmpp_stanza_release(r);
    free(all);

    r = h_iq(bob, "get", "bob@" D, "<query xmlns='" NS_INFO "'/>", 5000);
    static const char *const want[] = {NS_MAM, NS_MAM "#extended", NS_MAM "#groupchat-field",
                                       "urn:xmpp:sid:0"};
    for (size_t i = 0; i < 4; i++) {
        int found = 0;
        xmpp_stanza_t *qq = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
        for (xmpp_stanza_t *f = qq ? xmpp_stanza_get_children(qq) : NULL; f;
             f = xmpp_stanza_get_next(f))
            found |= xmpp_stanza_is_tag(f) && xmpp_stanza_get_attribute(f, "var") &&
                     strcmp(xmpp_stanza_get_attribute(f, "var"), want[i]) == 0;
        CHECK_MSG(found, "feature %s", want[i]);
    }
    if (r)
        xmpp_stanza_release(r);
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void archive_survives_restart(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *carol = h_login(ctx, srv, "carol@" D "/c", "pw", 0);
    page_t *before =
        carol ? query(carol, NULL, NULL, "<set xmlns='" NS_RSM "'><max>0</max></set>") : NULL;
    h_client_free(carol);
    h_ctx_free(ctx);
    if (!CHECK(before && before->count >= 120) || !CHECK(h_server_restart(srv) == 0)) {
        free(before);
        return;
    }
    ctx = h_ctx_new();
    carol = h_login(ctx, srv, "carol@" D "/c", "pw", 0);
    page_t *after =
        carol ? query(carol, NULL, NULL, "<set xmlns='" NS_RSM "'><before/></set>") : NULL;
    CHECK(after && after->count == before->count && after->n == 50 &&
          strcmp(after->bodies[49], "page 120") == 0 && after->complete == 0);
    free(after);
    free(before);
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* On a server with a two-second retention: messages disappear in batches
 * of two, one batch a second while more are due. */
static void retention_purges_old_messages(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@" D "/r", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@" D "/r", "pw", 0);
    if (!alice || !bob)
        goto out;
    for (int i = 0; i < 5; i++)
        send_chat(alice, "bob@" D, "soon gone");
    h_settle(alice);
    page_t *p = query(bob, NULL, NULL, NULL);
    CHECK_MSG(p->n == 5, "n=%d before the purge", p->n);
    free(p);
    int left = -1;
    for (int waited = 0; waited < 10000 && left != 0; waited += 500) {
        h_run_for(ctx, 500);
        p = query(bob, NULL, NULL, NULL);
        left = p->n;
        free(p);
    }
    CHECK_MSG(left == 0, "%d left after 10 s", left);
    p = query(alice, NULL, NULL, NULL);
    CHECK_MSG(p->n == 0, "sender kept %d", p->n);
    free(p);
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* ---- groupchat in the occupant's own archive (mam.archive_groupchat) ---- */

#define ROOMS "groups." D

/* Enters room/nick (creating an instant room when it is new: a groupchat
 * 1.0 join) and waits for the self-presence; 1 when it came. */
static int join_room(h_client_t *c, const char *room, const char *nick, int muc_x)
{
    char occ[256];
    snprintf(occ, sizeof(occ), "%s@" ROOMS "/%s", room, nick);
    h_send(c, "<presence to='%s'>%s</presence>", occ,
           muc_x ? "<x xmlns='http://jabber.org/protocol/muc'/>" : "");
    xmpp_stanza_t *p = h_wait(c, &(h_match_t){.name = "presence", .from = occ}, 5000);
    int ok = p && !h_attr_eq(p, "type", "error");
    if (p)
        xmpp_stanza_release(p);
    return ok;
}

static void say_in(h_client_t *c, const char *room, const char *body)
{
    h_send(c, "<message to='%s@" ROOMS "' type='groupchat' id='%s'><body>%s</body></message>", room,
           h_id(), body);
}

/* The room's stanza-id on the groupchat `body` that `c` received. */
static int heard_id(h_client_t *c, const char *body, char *id, size_t len)
{
    xmpp_stanza_t *m =
        h_wait(c, &(h_match_t){.name = "message", .type = "groupchat", .body = body}, 5000);
    xmpp_stanza_t *sid = m ? xmpp_stanza_get_child_by_ns(m, "urn:xmpp:sid:0") : NULL;
    const char *v = sid ? xmpp_stanza_get_attribute(sid, "id") : NULL;
    snprintf(id, len, "%s", v ? v : "");
    if (m)
        xmpp_stanza_release(m);
    return v != NULL;
}

#define INCLUDE_GC(v) "<field var='include-groupchat'><value>" v "</value></field>"

/* On (mam.archive_groupchat): what a joined occupant's sessions receive
 * from a room is in its own archive once (two sessions, one copy), under
 * the room's stanza-id, from room/nick; queries leave it out unless
 * include-groupchat is true; history replayed on entering is not kept;
 * a message hinted <no-store/> is not kept. */
static void groupchat_is_kept_for_occupants_and_asked_for(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@" D "/a", "pw", 0);
    h_client_t *bob1 = h_login(ctx, srv, "bob@" D "/one", "pw", 0);
    h_client_t *bob2 = h_login(ctx, srv, "bob@" D "/two", "pw", 0);
    h_client_t *dave = h_login(ctx, srv, "dave@" D "/d", "pw", 0);
    if (!alice || !bob1 || !bob2 || !dave)
        goto out;
    CHECK(join_room(alice, "gc", "Al", 0));
    CHECK(join_room(bob1, "gc", "Bo", 1));
    CHECK(join_room(bob2, "gc", "Bo2", 1));
    send_chat(alice, "bob@" D, "one to one");
    say_in(alice, "gc", "first in the room");
    say_in(alice, "gc", "second in the room");
    h_send(alice, "<message to='gc@" ROOMS "' type='groupchat'><body>not kept</body>"
                  "<no-store xmlns='urn:xmpp:hints'/></message>");
    char id1[32], id2[32];
    CHECK(heard_id(bob1, "first in the room", id1, sizeof(id1)));
    CHECK(heard_id(bob1, "second in the room", id2, sizeof(id2)));
    h_settle(bob2);
    h_settle(bob1);
    /* Dave enters afterwards and gets the history: not his archive's. */
    CHECK(join_room(dave, "gc", "Da", 1));
    h_settle(dave);

    page_t *p = query(bob1, NULL, NULL, NULL);
    CHECK_MSG(p->n == 1 && strcmp(p->bodies[0], "one to one") == 0,
              "by default only the 1:1 message: %d", p->n);
    free(p);
    p = query(bob1, NULL, INCLUDE_GC("false"), NULL);
    CHECK_MSG(p->n == 1, "include-groupchat false: %d", p->n);
    free(p);
    p = query(bob1, NULL, INCLUDE_GC("true"), NULL);
    CHECK_MSG(p->n == 3, "include-groupchat true: %d (each room message once)", p->n);
    if (p->n == 3) {
        CHECK(strcmp(p->bodies[1], "first in the room") == 0);
        CHECK(strcmp(p->bodies[2], "second in the room") == 0);
        CHECK_MSG(strcmp(p->ids[1], id1) == 0 && strcmp(p->ids[2], id2) == 0,
                  "the archive id is not the room's stanza-id (%s vs %s)", p->ids[1], id1);
        CHECK(strcmp(p->from[1], "gc@" ROOMS "/Al") == 0);
    }
    free(p);
    p = query(bob1, NULL, INCLUDE_GC("1") "<field var='with'><value>gc@" ROOMS "</value></field>",
              NULL);
    CHECK_MSG(p->n == 2, "with the room: %d", p->n);
    free(p);
    p = query(bob1, NULL, INCLUDE_GC("maybe"), NULL);
    CHECK_MSG(strcmp(p->error, "bad-request") == 0, "a bad boolean: %s", p->error);
    free(p);
    p = query(dave, NULL, INCLUDE_GC("true"), NULL);
    CHECK_MSG(p->n == 0, "history on entering was archived: %d", p->n);
    free(p);
    /* From now on dave is an occupant too. */
    say_in(alice, "gc", "third in the room");
    char id3[32];
    CHECK(heard_id(dave, "third in the room", id3, sizeof(id3)));
    h_settle(dave);
    p = query(dave, NULL, INCLUDE_GC("true"), NULL);
    CHECK_MSG(p->n == 1 && strcmp(p->ids[0], id3) == 0, "dave's archive: %d", p->n);
    free(p);
out:
    h_client_free(alice);
    h_client_free(bob1);
    h_client_free(bob2);
    h_client_free(dave);
    h_ctx_free(ctx);
}

/* Off (the default): nothing of a room goes into an occupant's archive,
 * and asking for it is allowed and finds nothing. */
static void groupchat_is_not_kept_by_default(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *ivy = h_login(ctx, srv, "ivy@" D "/i", "pw", 0);
    h_client_t *hank = h_login(ctx, srv, "hank@" D "/h", "pw", 0);
    if (!ivy || !hank)
        goto out;
    CHECK(join_room(ivy, "quiet", "Iv", 0));
    CHECK(join_room(hank, "quiet", "Ha", 1));
    say_in(ivy, "quiet", "not for the archive");
    char id[32];
    CHECK(heard_id(hank, "not for the archive", id, sizeof(id)));
    h_settle(hank);
    page_t *p =
        query(hank, NULL,
              INCLUDE_GC("true") "<field var='with'><value>quiet@" ROOMS "</value></field>", NULL);
    CHECK_MSG(p->error[0] == 0 && p->n == 0, "archived while off: %d %s", p->n, p->error);
    free(p);
out:
    h_client_free(ivy);
    h_client_free(hank);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000; stanza_rate = 100000; stanza_burst = 100000;",
        .modules = "roster = {}; presence = {}; muc = {}; mam = { max_page = 100; };",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(messages_archived_for_both_sides, &srv);
        H_RUN(paging_both_ways_gives_every_message_once, &srv);
        H_RUN(filters_narrow_the_results, &srv);
        H_RUN(bad_requests_are_refused, &srv);
        H_RUN(another_users_archive_is_forbidden, &srv);
        H_RUN(prefs_never_keeps_messages_out, &srv);
        H_RUN(what_is_archived, &srv);
        H_RUN(form_metadata_and_features, &srv);
        H_RUN(archive_survives_restart, &srv);
        H_RUN(groupchat_is_not_kept_by_default, &srv);
    }
    h_server_stop(&srv);
    h_server_opts_t gc_opts = opts;
    gc_opts.modules = "roster = {}; presence = {}; muc = {}; mam = { archive_groupchat = true; };";
    if (h_server_start(&srv, &gc_opts) == 0)
        H_RUN(groupchat_is_kept_for_occupants_and_asked_for, &srv);
    h_server_stop(&srv);
    h_server_opts_t short_opts = opts;
    short_opts.modules = "mam = { retention = \"2s\"; purge_interval = \"1s\"; purge_batch = 2; };";
    if (h_server_start(&srv, &short_opts) == 0)
        H_RUN(retention_purges_old_messages, &srv);
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
