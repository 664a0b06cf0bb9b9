/* test_hostile_data.c — what a hostile peer puts into stanzas, names and
 * addresses (issue #14): a stanza that would poison its recipient's parser
 * is refused at the sender's stream, a subdomain is not its parent's tenant,
 * messages to names nobody holds cost no memory, questions to a peer that
 * never answers are bounded, files are private whatever the umask, a
 * resource cannot forge log fields, and avatar data follows its metadata's
 * access model in notifications as in reads.  Alice and bob stay logged in
 * throughout and keep chatting. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define NS_MAM "urn:xmpp:mam:2"
#define NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define NS_EVENT "http://jabber.org/protocol/pubsub#event"
#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_CAPS "http://jabber.org/protocol/caps"
#define APP "bot.example.test"
#define FORGED_RESOURCE "x ip=6.6.6.6 jid=admin@x"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "mallory@example.test", "pw", "dave@other.test", "pw", "eve@sub.example.test", "pw",
    "judy@example.test", "pw", "kate@example.test", "pw", "leo@example.test", "pw",
    "quinn@example.test", "pw", "pat@example.test", "pw",
    "u01@example.test", "pw", "u02@example.test", "pw", "u03@example.test", "pw",
    "u04@example.test", "pw", "u05@example.test", "pw", "u06@example.test", "pw",
    "u07@example.test", "pw", "u08@example.test", "pw", "u09@example.test", "pw",
    "u10@example.test", "pw", "u11@example.test", "pw", "u12@example.test", "pw",
    "u13@example.test", "pw", "u14@example.test", "pw", "u15@example.test", "pw",
    "u16@example.test", "pw", "u17@example.test", "pw", "u18@example.test", "pw",
    "u19@example.test", "pw", "u20@example.test", "pw",
    NULL,
};
// clang-format on

/* sub.example.test is a tenant of its own, not part of example.test. */
#define EXTRA_HOSTS "{ name = \"sub.example.test\"; modules = { disco = {}; ping = {}; }; }"
#define MODULES                                                                                    \
    "roster = {}; presence = { max_items = 20; max_pending = 10; }; offline = {}; mam = {}; "    \
    "vcard = {}; "                             \
    "pep = { caps_max_pending = 5; }; push = { timeout = \"3s\"; max_counters = 16; };"
#define LIMITS "stanza_rate = 100000; stanza_burst = 100000; max_pending_iqs = 40;"

typedef struct pair {
    xmpp_ctx_t *ctx;
    h_client_t *alice, *bob;
} pair_t;

static pair_t P;

static void release(xmpp_stanza_t *st)
{
    if (st)
        xmpp_stanza_release(st);
}

/* The bodies of the user's whole archive, "|"-joined into out; 1 when the
 * query was answered with a result. */
static int archive_bodies(h_client_t *c, char *out, size_t len)
{
    static int seq;
    char qid[16], payload[128];
    snprintf(qid, sizeof(qid), "hq%d", ++seq);
    snprintf(payload, sizeof(payload), "<query xmlns='" NS_MAM "' queryid='%s'/>", qid);
    out[0] = '\0';
    h_settle(c); /* the archive writes of what just arrived have committed */
    xmpp_stanza_t *iq = h_iq(c, "set", NULL, payload, 10000);
    int ok = h_attr_eq(iq, "type", "result");
    release(iq);
    xmpp_stanza_t *m;
    while ((m = h_wait(c, &(h_match_t){.name = "message", .child_ns = NS_MAM}, 0))) {
        xmpp_stanza_t *r = xmpp_stanza_get_child_by_ns(m, NS_MAM);
        xmpp_stanza_t *fw = r ? xmpp_stanza_get_child_by_name(r, "forwarded") : NULL;
        xmpp_stanza_t *orig = fw ? xmpp_stanza_get_child_by_name(fw, "message") : NULL;
        char *body = orig ? h_child_text(orig, "body") : NULL;
        if (body && h_attr_eq(r, "queryid", qid)) {
            size_t used = strlen(out);
            snprintf(out + used, len - used, "%s%s", used ? "|" : "", body);
        }
        free(body);
        xmpp_stanza_release(m);
    }
    return ok;
}

/* ---- finding 2: one message must not disconnect its recipient ---- */

/* <xml:poison/> was re-serialised as <poison xmlns='http://www.w3.org/XML/
 * 1998/namespace'/>, which no parser accepts: bob's client dropped, and the
 * copies stored for an offline user and in the archive could not be read.
 * Now the sender's stream ends with bad-namespace-prefix and nothing of the
 * poisoned stanza is routed or stored; what came before it is. */
static void poisoned_stanza_is_refused_at_the_sender(h_server_t *srv)
{
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    if (CHECK(h_raw_login(&r, srv, "mallory", "pw", "poison"))) {
        h_raw_sendf(&r, "<message to='bob@example.test' type='chat' id='m1'><body>before the poison"
                        "</body></message>"
                        "<message to='carol@example.test' type='chat' id='m2'><body>for carol"
                        "</body></message>"
                        "<message to='bob@example.test' type='chat' id='m3'><body>poison</body>"
                        "<x xmlns='urn:example:x'><xml:poison/></x></message>");
        CHECK_MSG(h_raw_wait(&r, "<bad-namespace-prefix", 5000), "no stream error: %s",
                  r.buf ? r.buf : "");
        CHECK(h_raw_wait_eof(&r, 5000));
        CHECK(h_log_has(srv, mark, "event=stream.error", "jid=mallory@example.test/poison",
                        "condition=bad-namespace-prefix", NULL));
    }
    h_raw_close(&r);
    /* Straight to an offline user, at the stanza's top level this time. */
    if (CHECK(h_raw_login(&r, srv, "mallory", "pw", "poison2"))) {
        h_raw_sendf(&r, "<message to='carol@example.test' type='chat'><body>poison</body>"
                        "<xml:poison/></message>");
        CHECK(h_raw_wait(&r, "<bad-namespace-prefix", 5000));
        CHECK(h_raw_wait_eof(&r, 5000));
    }
    h_raw_close(&r);

    xmpp_stanza_t *m =
        h_wait(P.bob, &(h_match_t){.name = "message", .body = "before the poison"}, 5000);
    CHECK_MSG(m != NULL, "the message before the poison did not arrive");
    release(m);
    h_still_chatting(P.alice, P.bob, "refused stanza");
    CHECK(h_count(P.bob, &(h_match_t){.name = "message", .body = "poison"}) == 0);

    /* bob's archive reads back whole, without the poisoned message. */
    char bodies[4096];
    CHECK_MSG(archive_bodies(P.bob, bodies, sizeof(bodies)), "bob's archive query failed");
    CHECK_MSG(strstr(bodies, "before the poison") && !strstr(bodies, "|poison"), "archive: %s",
              bodies);

    /* carol comes online: her offline message is there, the poison is not,
     * and she stays connected. */
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/home", "pw", 0);
    if (carol) {
        xmpp_stanza_t *o =
            h_wait(carol, &(h_match_t){.name = "message", .body = "for carol"}, 5000);
        CHECK_MSG(o != NULL, "carol's offline message is gone");
        release(o);
        h_settle(carol);
        CHECK(carol->connected && !carol->disconnected);
        CHECK(h_count(carol, &(h_match_t){.name = "message", .body = "poison"}) == 0);
        CHECK(archive_bodies(carol, bodies, sizeof(bodies)));
        CHECK_MSG(strstr(bodies, "for carol") && !strstr(bodies, "poison"), "archive: %s", bodies);
        CHECK(carol->connected);
    }
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* ---- finding 7: a subdomain is not its parent's tenant ---- */

static const char *vcard_answer(h_client_t *c, const char *to, char *fn, size_t fnlen)
{
    static char cond[64];
    fn[0] = '\0';
    xmpp_stanza_t *r = h_iq(c, "get", to, "<vCard xmlns='vcard-temp'/>", 5000);
    const char *e = r ? h_error_condition(r) : "timeout";
    snprintf(cond, sizeof(cond), "%s", e ? e : "");
    xmpp_stanza_t *v = r ? xmpp_stanza_get_child_by_name(r, "vCard") : NULL;
    char *t = v ? h_child_text(v, "FN") : NULL;
    snprintf(fn, fnlen, "%s", t ? t : "");
    free(t);
    release(r);
    return cond;
}

static void vcard_stays_in_its_tenant(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *eve = h_login(ctx, srv, "eve@sub.example.test/x", "pw", 0);
    h_client_t *dave = h_login(ctx, srv, "dave@other.test/x", "pw", 0);
    h_client_t *bot = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    if (!eve || !dave || !CHECK(h_client_wait_login(bot, 5000)))
        goto out;
    xmpp_stanza_t *r = h_iq(P.alice, "set", NULL,
                            "<vCard xmlns='vcard-temp'><FN>Alice Private</FN>"
                            "<TEL><NUMBER>+1 555 0100</NUMBER></TEL></vCard>",
                            5000);
    CHECK(h_attr_eq(r, "type", "result"));
    release(r);
    char fn[128];
    /* Same tenant: bob may. */
    CHECK(strcmp(vcard_answer(P.bob, "alice@example.test", fn, sizeof(fn)), "") == 0 &&
          strcmp(fn, "Alice Private") == 0);
    /* eve@sub.example.test is on another host whose name ends in ours. */
    const char *cond = vcard_answer(eve, "alice@example.test", fn, sizeof(fn));
    CHECK_MSG(strcmp(cond, "forbidden") == 0 && !fn[0], "eve got '%s' (%s)", fn, cond);
    cond = vcard_answer(dave, "alice@example.test", fn, sizeof(fn));
    CHECK_MSG(strcmp(cond, "forbidden") == 0 && !fn[0], "dave got '%s' (%s)", fn, cond);
    /* The component configured on example.test belongs to its tenant. */
    h_send(bot, "<iq type='get' id='vc1' from='" APP "' to='alice@example.test'>"
                "<vCard xmlns='vcard-temp'/></iq>");
    xmpp_stanza_t *a = h_wait(bot, &(h_match_t){.name = "iq", .id = "vc1"}, 5000);
    xmpp_stanza_t *v = a ? xmpp_stanza_get_child_by_name(a, "vCard") : NULL;
    char *t = v ? h_child_text(v, "FN") : NULL;
    CHECK_MSG(h_attr_eq(a, "type", "result") && t && !strcmp(t, "Alice Private"),
              "the component got %s", t ? t : "nothing");
    free(t);
    release(a);
out:
    h_client_free(bot);
    h_client_free(dave);
    h_client_free(eve);
    h_ctx_free(ctx);
    h_still_chatting(P.alice, P.bob, "vcard");
}

/* ---- finding 8: per-address state must be bounded ---- */

/* Headlines to 40,000 names nobody holds (twice): the push module counted each
 * before the router knew the account did not exist, and kept the count
 * forever (+23 MB per 20,000). */
static void messages_to_nobody_cost_nothing(h_server_t *srv)
{
    enum { N = 40000, BATCH = 250 };
    /* Long names (a localpart may have 1023 bytes) make each forgotten
     * entry cost what an attacker would make it cost. */
    char pad[201];
    memset(pad, 'g', 200);
    pad[200] = '\0';
    h_raw_t r;
    if (!CHECK(h_raw_login(&r, srv, "mallory", "pw", "ghosts"))) {
        h_raw_close(&r);
        return;
    }
    /* A first round warms the allocator up. */
    char *buf = malloc(BATCH * 384);
    for (int round = 0; round < 2; round++) {
        long rss_before = h_server_rss_kb(srv);
        for (int i = 0; i < N; i += BATCH) {
            char *p = buf;
            for (int k = 0; k < BATCH; k++)
                p += sprintf(p,
                             "<message to='%s%d-%d@example.test' type='headline'>"
                             "<body>boo</body><no-store xmlns='urn:xmpp:hints'/></message>",
                             pad, round, i + k);
            h_raw_send(&r, buf, (size_t)(p - buf));
            h_raw_poll(&r);
        }
        /* A round trip: everything before it has been handled. */
        h_raw_sendf(&r, "<iq type='get' id='sync%d'><ping xmlns='urn:xmpp:ping'/></iq>", round);
        char want[32];
        snprintf(want, sizeof(want), "id='sync%d'", round);
        CHECK(h_raw_wait(&r, want, 30000));
        long rss_after = h_server_rss_kb(srv);
        printf("    round %d: RSS %ld -> %ld KiB\n", round, rss_before, rss_after);
        if (round == 1)
            CHECK_MSG(rss_before > 0 && rss_after - rss_before < 4 * 1024,
                      "RSS grew from %ld to %ld KiB for %d messages to nobody", rss_before,
                      rss_after, N);
    }
    free(buf);
    h_raw_close(&r);
    h_still_chatting(P.alice, P.bob, "ghosts");
}

/* Twenty accounts with a push registration, max_counters = 16: the counts
 * table never holds more than 16, so in a second round some count has
 * started again at 1, none is wrong, and everyone is still told. */
static void push_counts_are_bounded(h_server_t *srv)
{
    enum { USERS = 20 };
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *app = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    if (!CHECK(h_client_wait_login(app, 5000)))
        goto out;
    for (int i = 1; i <= USERS; i++) {
        char jid[64];
        snprintf(jid, sizeof(jid), "u%02d@example.test/phone", i);
        h_client_t *u = h_login(ctx, srv, jid, "pw", 0);
        xmpp_stanza_t *r =
            u ? h_iq(u, "set", NULL, "<enable xmlns='urn:xmpp:push:0' jid='" APP "' node='n'/>",
                     5000)
              : NULL;
        CHECK_MSG(h_attr_eq(r, "type", "result"), "%s could not register", jid);
        release(r);
        h_client_free(u);
    }
    h_run_for(ctx, 300);
    int counts[3] = {0}, published = 0;
    for (int round = 1; round <= 2; round++) {
        for (int i = 1; i <= USERS; i++)
            h_send(P.bob, "<message to='u%02d@example.test' type='chat'><body>r%d</body></message>",
                   i, round);
        h_settle(P.bob);
        for (int n = 0; n < USERS; n++) {
            xmpp_stanza_t *iq = h_wait(app, &(h_match_t){.name = "iq", .type = "set"}, 5000);
            if (!CHECK_MSG(iq, "round %d: publish %d of %d did not come", round, n + 1, USERS))
                break;
            h_send(app, "<iq type='result' id='%s' to='%s' from='" APP "'/>",
                   xmpp_stanza_get_id(iq), xmpp_stanza_get_from(iq));
            published++;
            /* The count sits in the summary form's message-count field. */
            const char *xml = NULL;
            size_t len = 0;
            char *text = NULL;
            if (xmpp_stanza_to_text(iq, &text, &len) == 0)
                xml = text;
            const char *v = xml ? strstr(xml, "message-count") : NULL;
            v = v ? strstr(v, "<value>") : NULL;
            int c = v ? atoi(v + 7) : 0;
            if (round == 2 && c >= 1 && c <= 2)
                counts[c]++;
            else if (round == 1)
                CHECK_MSG(c == 1, "round 1: count %d", c);
            else
                CHECK_MSG(0, "round 2: count %d", c);
            if (text)
                xmpp_free(ctx, text);
            xmpp_stanza_release(iq);
        }
        /* The app server's answers leave its client only when its loop
         * runs: flush them, so the next round's questions do not meet
         * this round's as unanswered ones (max_pending_iqs is 40). */
        h_run_for(ctx, 300);
    }
    CHECK_MSG(published == 2 * USERS, "%d publishes", published);
    CHECK_MSG(counts[1] >= USERS - 16 && counts[2] <= 16 && counts[1] + counts[2] == USERS,
              "round 2: %d counts of 1, %d of 2", counts[1], counts[2]);
out:
    h_client_free(app);
    h_ctx_free(ctx);
    h_still_chatting(P.alice, P.bob, "push counters");
}

/* An app server that never answers: every message to an offline account
 * with a push registration is a question held for the timeout.  At most
 * limits.max_pending_iqs (40 here) are in flight; the rest are not asked. */
static void questions_to_a_silent_peer_are_bounded(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *app = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    h_client_t *pat = h_login(ctx, srv, "pat@example.test/phone", "pw", 0);
    size_t mark = h_log_mark(srv);
    if (!CHECK(h_client_wait_login(app, 5000)) || !pat)
        goto out;
    xmpp_stanza_t *r = h_iq(pat, "set", NULL,
                            "<enable xmlns='urn:xmpp:push:0' jid='" APP "' node='silent'/>", 5000);
    CHECK(h_attr_eq(r, "type", "result"));
    release(r);
    h_client_free(pat);
    pat = NULL;
    h_run_for(ctx, 300);
    for (int i = 0; i < 200; i++)
        h_send(P.bob, "<message to='pat@example.test' type='chat'><body>n%d</body></message>", i);
    h_settle(P.bob);
    h_run_for(ctx, 1500);
    int asked = h_count(app, &(h_match_t){.name = "iq", .type = "set"});
    CHECK_MSG(asked > 0 && asked <= 40, "the app server was asked %d times", asked);
    CHECK(h_log_wait(srv, mark, 3000, "event=limits.pending_iqs", "limit=40", NULL));
    h_still_chatting(P.alice, P.bob, "silent app server");
    /* Once the unanswered ones time out (3 s), questions are asked again. */
    h_run_for(ctx, 3500);
    int before = h_count(app, &(h_match_t){.name = "iq", .type = "set"});
    h_send(P.bob, "<message to='pat@example.test' type='chat'><body>later</body></message>");
    h_settle(P.bob);
    long long deadline = h_now_ms() + 5000;
    while (h_count(app, &(h_match_t){.name = "iq", .type = "set"}) == before &&
           h_now_ms() < deadline)
        h_run_for(ctx, 50);
    CHECK_MSG(h_count(app, &(h_match_t){.name = "iq", .type = "set"}) > before,
              "no question after the others timed out");
out:
    h_client_free(pat);
    h_client_free(app);
    h_ctx_free(ctx);
}

/* A client showing a new caps ver in every presence and never answering
 * the server's disco#info: at most pep.caps_max_pending (5) questions. */
static void caps_questions_are_bounded(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *q = h_login(ctx, srv, "quinn@example.test/x", "pw", 0);
    if (!q)
        goto out;
    for (int i = 0; i < 40; i++)
        h_send(q,
               "<presence><c xmlns='" NS_CAPS "' hash='sha-1' node='urn:example:c' "
               "ver='ver%02dAAAAAAAAAAAAAAAAAAAAAAA='/></presence>",
               i);
    h_settle(q);
    h_run_for(ctx, 500);
    int asked = 0;
    for (size_t i = 0; i < q->ninbox; i++) {
        xmpp_stanza_t *st = q->inbox[i];
        asked += !strcmp(xmpp_stanza_get_name(st), "iq") && h_attr_eq(st, "type", "get") &&
                 xmpp_stanza_get_child_by_ns(st, NS_INFO) != NULL;
    }
    CHECK_MSG(asked >= 1 && asked <= 5, "asked %d disco#info questions", asked);
out:
    h_client_free(q);
    h_ctx_free(ctx);
    h_still_chatting(P.alice, P.bob, "caps flood");
}

/* ---- finding 11: log values cannot forge fields or lines ---- */

typedef struct field {
    char key[64];
    char value[4096];
} field_t;

/* Parses one key=value line (values bare or quoted with \" \\ \n \r \t
 * \xNN); returns the number of fields, or -1 when the line is not one. */
static int parse_line(const char *s, field_t *out, int max)
{
    int n = 0;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        if (n == max)
            return -1;
        field_t *f = &out[n++];
        size_t k = 0, v = 0;
        while (*s && *s != '=' && *s != ' ' && *s != '"' && k + 1 < sizeof(f->key))
            f->key[k++] = *s++;
        f->key[k] = '\0';
        if (*s != '=' || k == 0)
            return -1;
        s++;
        if (*s == '"') {
            for (s++; *s && *s != '"'; s++) {
                char c = *s;
                if (c == '\\') {
                    s++;
                    c = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : *s;
                    if (*s == 'x' && s[1] && s[2]) {
                        char hex[3] = {s[1], s[2], 0};
                        c = (char)strtol(hex, NULL, 16);
                        s += 2;
                    }
                    if (!*s)
                        return -1;
                } else if ((unsigned char)c < 0x20) {
                    return -1;
                }
                if (v + 1 < sizeof(f->value))
                    f->value[v++] = c;
            }
            if (*s != '"')
                return -1;
            s++;
            if (*s && *s != ' ')
                return -1;
        } else {
            while (*s && *s != ' ') {
                if (*s == '"' || (unsigned char)*s < 0x20)
                    return -1;
                if (v + 1 < sizeof(f->value))
                    f->value[v++] = *s;
                s++;
            }
        }
        f->value[v] = '\0';
    }
    return n;
}

static const char *field_of(const field_t *f, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(f[i].key, key))
            return f[i].value;
    return NULL;
}

/* mallory (traced) binds the resource "x ip=6.6.6.6 jid=admin@x" and sends
 * a body with line breaks that spell out an event of their own. */
static void resources_cannot_forge_log_fields(h_server_t *srv)
{
    size_t mark = h_log_mark(srv);
    h_raw_t r;
    if (CHECK(h_raw_login(&r, srv, "mallory", "pw", FORGED_RESOURCE))) {
        h_raw_sendf(&r, "<message to='bob@example.test' type='chat' id='lf'><body>one\n"
                        "ts=2030-01-01T00:00:00.000Z level=error event=forged.event "
                        "jid=admin@x\r\ntwo</body></message>");
        xmpp_stanza_t *m = h_wait(P.bob, &(h_match_t){.name = "message", .id = "lf"}, 5000);
        CHECK_MSG(m != NULL, "the message did not arrive");
        release(m);
        h_raw_sendf(&r, "<iq type='get' id='lf-sync'><ping xmlns='urn:xmpp:ping'/></iq>");
        CHECK(h_raw_wait(&r, "lf-sync", 5000));
    }
    h_raw_close(&r);
    CHECK(h_log_wait(srv, mark, 3000, "event=c2s.bind", "mallory@example.test/x", NULL));
    FILE *f = fopen(srv->log, "r");
    if (!CHECK(f != NULL))
        return;
    fseek(f, (long)mark, SEEK_SET);
    static char line[65536];
    static field_t fields[64];
    int lines = 0, bad = 0, forged = 0, bind_ok = 0, traced_in = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        lines++;
        int n = parse_line(line, fields, 64);
        if (n < 3 || strcmp(fields[0].key, "ts") != 0) {
            if (bad++ < 3)
                printf("    not one event: %.200s\n", line);
            continue;
        }
        const char *event = field_of(fields, n, "event");
        for (int i = 0; i < n; i++) {
            if ((!strcmp(fields[i].key, "ip") && !strcmp(fields[i].value, "6.6.6.6")) ||
                (!strcmp(fields[i].key, "jid") && !strcmp(fields[i].value, "admin@x")) ||
                (!strcmp(fields[i].key, "event") && !strcmp(fields[i].value, "forged.event"))) {
                if (forged++ < 3)
                    printf("    forged field %s=%s in: %.200s\n", fields[i].key, fields[i].value,
                           line);
            }
        }
        const char *jid = field_of(fields, n, "jid");
        if (event && !strcmp(event, "c2s.bind"))
            bind_ok |= jid && !strcmp(jid, "mallory@example.test/" FORGED_RESOURCE);
        const char *data = field_of(fields, n, "data");
        if (event && !strcmp(event, "stanza.in") && data && strstr(data, "forged.event"))
            traced_in |= strstr(data, "one\nts=2030") && strstr(data, "\r\ntwo") ? 1 : 2;
    }
    fclose(f);
    CHECK_MSG(lines > 0 && bad == 0, "%d of %d log lines are not one event each", bad, lines);
    CHECK_MSG(forged == 0, "%d forged fields", forged);
    CHECK_MSG(bind_ok, "no c2s.bind line with the whole resource as the jid");
    CHECK_MSG(traced_in == 1, "the traced stanza did not keep its line breaks (%d)", traced_in);
    h_still_chatting(P.alice, P.bob, "log injection");
}

/* ---- finding 14: avatar data follows the metadata's access model ---- */

#define NS_AV_DATA "urn:xmpp:avatar:data"
#define NS_AV_META "urn:xmpp:avatar:metadata"
#define AV_HASH "111f4b3c50d7b0df729d299bc6f8e9ef9066971f"
#define OPTIONS(model)                                                                             \
    "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "              \
    "type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"       \
    "<field var='pubsub#access_model'><value>" model "</value></field></x></publish-options>"

static int publish_ok(h_client_t *c, const char *node, const char *payload, const char *options)
{
    char xml[2048];
    snprintf(xml, sizeof(xml),
             "<pubsub xmlns='" NS_PUBSUB "'><publish node='%s'><item id='" AV_HASH
             "'>%s</item></publish>%s</pubsub>",
             node, payload, options ? options : "");
    xmpp_stanza_t *r = h_iq(c, "set", NULL, xml, 5000);
    int ok = h_attr_eq(r, "type", "result");
    if (!ok)
        printf("    publish to %s: %s\n", node, r ? h_error_condition(r) : "timeout");
    release(r);
    return ok;
}

static int data_events(h_client_t *c, const char *from)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++) {
        xmpp_stanza_t *st = c->inbox[i];
        xmpp_stanza_t *ev = xmpp_stanza_get_child_by_ns(st, NS_EVENT);
        xmpp_stanza_t *items = ev ? xmpp_stanza_get_child_by_name(ev, "items") : NULL;
        n += items && h_attr_eq(st, "from", from) && h_attr_eq(items, "node", NS_AV_DATA);
    }
    return n;
}

/* A reader (mutual subscription) whose client asks for avatar data
 * notifications too.  Its caps answer is believed for its own resource. */
static h_client_t *avatar_reader(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid)
{
    h_client_t *c = h_login(ctx, srv, jid, "pw", 0);
    if (!c)
        return NULL;
    h_send(c, "<presence><c xmlns='" NS_CAPS "' hash='sha-1' node='urn:example:av' "
              "ver='avatarsAAAAAAAAAAAAAAAAAAAA='/></presence>");
    xmpp_stanza_t *q = NULL;
    long long deadline = h_now_ms() + 5000;
    while (!q && h_now_ms() < deadline) {
        for (size_t i = 0; i < c->ninbox && !q; i++)
            if (!strcmp(xmpp_stanza_get_name(c->inbox[i]), "iq") &&
                xmpp_stanza_get_child_by_ns(c->inbox[i], NS_INFO))
                q = c->inbox[i];
        if (!q)
            h_run_for(ctx, 20);
    }
    if (CHECK_MSG(q, "no caps question for %s", jid)) {
        xmpp_stanza_t *query = xmpp_stanza_get_child_by_ns(q, NS_INFO);
        h_send(c,
               "<iq type='result' id='%s' to='%s'><query xmlns='" NS_INFO "' node='%s'>"
               "<identity category='client' type='pc'/><feature var='" NS_INFO "'/>"
               "<feature var='" NS_AV_META "+notify'/><feature var='" NS_AV_DATA "+notify'/>"
               "</query></iq>",
               xmpp_stanza_get_id(q), xmpp_stanza_get_from(q),
               xmpp_stanza_get_attribute(query, "node"));
    }
    h_drain(c);
    return c;
}

static void befriend(h_client_t *a, const char *a_bare, h_client_t *b, const char *b_bare)
{
    h_send(a, "<presence type='subscribe' to='%s'/>", b_bare);
    h_send(b, "<presence type='subscribe' to='%s'/>", a_bare);
    h_settle(a);
    h_settle(b);
    h_send(a, "<presence type='subscribed' to='%s'/>", b_bare);
    h_send(b, "<presence type='subscribed' to='%s'/>", a_bare);
    h_settle(a);
    h_settle(b);
    h_drain(a);
    h_drain(b);
}

static void avatar_data_follows_metadata_access(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *judy = h_login(ctx, srv, "judy@example.test/a", "pw", 0);
    h_client_t *leo = h_login(ctx, srv, "leo@example.test/a", "pw", 0);
    h_client_t *kate = avatar_reader(ctx, srv, "kate@example.test/a");
    if (!judy || !leo || !kate)
        goto out;
    befriend(judy, "judy@example.test", kate, "kate@example.test");
    befriend(leo, "leo@example.test", kate, "kate@example.test");
    h_drain(kate);

    /* judy hides her avatar (metadata whitelist) but her data node has the
     * default access model (presence): kate may not read the data, so she
     * must not be sent it either. */
    CHECK(publish_ok(judy, NS_AV_META, "<metadata xmlns='" NS_AV_META "'/>", OPTIONS("whitelist")));
    CHECK(publish_ok(judy, NS_AV_DATA, "<data xmlns='" NS_AV_DATA "'>AAAA</data>", NULL));
    h_settle(judy);
    h_settle(kate);
    CHECK_MSG(data_events(kate, "judy@example.test") == 0,
              "kate was sent avatar data she may not read");
    char inner[160];
    snprintf(inner, sizeof(inner),
             "<pubsub xmlns='" NS_PUBSUB "'><items node='" NS_AV_DATA "'/></pubsub>");
    xmpp_stanza_t *r = h_iq(kate, "get", "judy@example.test", inner, 5000);
    CHECK(r && h_error_condition(r) && !strcmp(h_error_condition(r), "forbidden"));
    release(r);

    /* leo shows his avatar (metadata presence) while his data node is
     * whitelist: kate may read the data, so she is sent it as well. */
    CHECK(publish_ok(leo, NS_AV_META, "<metadata xmlns='" NS_AV_META "'/>", NULL));
    CHECK(publish_ok(leo, NS_AV_DATA, "<data xmlns='" NS_AV_DATA "'>BBBB</data>",
                     OPTIONS("whitelist")));
    h_settle(leo);
    long long deadline = h_now_ms() + 3000;
    while (!data_events(kate, "leo@example.test") && h_now_ms() < deadline)
        h_run_for(ctx, 20);
    CHECK_MSG(data_events(kate, "leo@example.test") == 1,
              "kate was not sent avatar data she may read");
    r = h_iq(kate, "get", "leo@example.test", inner, 5000);
    CHECK(h_attr_eq(r, "type", "result"));
    release(r);
out:
    h_client_free(kate);
    h_client_free(leo);
    h_client_free(judy);
    h_ctx_free(ctx);
}

/* ---- finding 10: files are private whatever the umask ---- */

static int mode_of(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat sb;
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static void files_are_private(h_server_t *srv)
{
    /* Written with umask 022 in force (main sets it before this server). */
    static const struct {
        const char *path;
        int mode;
    } want[] = {
        {"data", 0700},
        {"data/hot", 0700},
        {"data/hot/data.mdb", 0600},
        {"data/hot/lock.mdb", 0600},
        {"data/history.db", 0600},
        {"data/history.db-wal", 0600},
        {"data/history.db-shm", 0600},
        {"data/parleyd.sock", 0600},
        {"tls", 0700},
        {"tls/key.pem", 0600},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int m = mode_of(srv->dir, want[i].path);
        CHECK_MSG(m == want[i].mode, "%s has mode %04o, wanted %04o", want[i].path, m,
                  want[i].mode);
    }
    CHECK(!h_log_has(srv, 0, "event=storage.permissions", NULL));
    /* A data directory opened up by someone else is reported at start. */
    char path[600];
    snprintf(path, sizeof(path), "%s/data", srv->dir);
    CHECK(chmod(path, 0755) == 0);
    size_t mark = h_log_mark(srv);
    if (CHECK(h_server_restart(srv) == 0))
        CHECK(h_log_has(srv, mark, "event=storage.permissions", "mode=0755", NULL));
    chmod(path, 0700);
}

/* Subscriptions cannot grow a roster without bound: kate's requests to 30
 * new JIDs stop at presence.max_items (20), and 30 requests from a
 * component's made-up JIDs to leo stop at presence.max_pending (10); each
 * refused request gets resource-constraint back. */
static int count_kind(h_client_t *c, const char *name, const char *type, const char *cond)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++) {
        xmpp_stanza_t *st = c->inbox[i];
        const char *t = xmpp_stanza_get_type(st);
        if (strcmp(xmpp_stanza_get_name(st), name) != 0 || !t || strcmp(t, type) != 0)
            continue;
        const char *got = h_error_condition(st);
        n += !cond || (got && strcmp(got, cond) == 0);
    }
    return n;
}

static int roster_size(h_client_t *c)
{
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<query xmlns='jabber:iq:roster'/>", 5000);
    int n = 0;
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        n += xmpp_stanza_is_tag(k) && !strcmp(xmpp_stanza_get_name(k), "item");
    release(r);
    return n;
}

static void subscriptions_cannot_grow_a_roster(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *kate = h_login(ctx, srv, "kate@example.test/x", "pw", 0);
    h_client_t *bot = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    if (!kate || !CHECK(h_client_wait_login(bot, 5000)))
        goto out;
    int before = roster_size(kate); /* her contacts from earlier cases */
    for (int i = 0; i < 30; i++)
        h_send(kate, "<presence type='subscribe' to='ghost%02d@example.test'/>", i);
    h_settle(kate);
    /* Each refusal comes from a write job: wait for all of them. */
    int want = 30 - (20 - before);
    long long deadline = h_now_ms() + 10000;
    while (count_kind(kate, "presence", "error", "resource-constraint") < want &&
           h_now_ms() < deadline)
        h_run_for(ctx, 50);
    CHECK_MSG(roster_size(kate) == 20, "kate's roster has %d items", roster_size(kate));
    CHECK_MSG(count_kind(kate, "presence", "error", "resource-constraint") == 30 - (20 - before),
              "%d of kate's %d refused requests came back as errors",
              count_kind(kate, "presence", "error", "resource-constraint"), 30 - (20 - before));
    for (int i = 0; i < 30; i++)
        h_send(bot, "<presence type='subscribe' from='s%02d@" APP "' to='leo@example.test'/>", i);
    deadline = h_now_ms() + 10000;
    while (count_kind(bot, "presence", "error", "resource-constraint") < 20 &&
           h_now_ms() < deadline)
        h_run_for(ctx, 50);
    CHECK_MSG(count_kind(bot, "presence", "error", "resource-constraint") == 20,
              "%d of the 20 refused requests to leo came back as errors",
              count_kind(bot, "presence", "error", "resource-constraint"));
    /* leo sees the ten that were kept when he logs in. */
    h_client_t *leo = h_login(ctx, srv, "leo@example.test/x", "pw", 0);
    if (leo) {
        h_settle(leo);
        h_run_for(ctx, 300);
        CHECK_MSG(count_kind(leo, "presence", "subscribe", NULL) == 10,
                  "leo got %d pending requests", count_kind(leo, "presence", "subscribe", NULL));
    }
    h_client_free(leo);
out:
    h_client_free(kate);
    h_client_free(bot);
    h_ctx_free(ctx);
    h_still_chatting(P.alice, P.bob, "subscription flood");
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    /* ASan keeps freed memory in quarantine, which an RSS bound would count
     * as growth; a small quarantine keeps the bound meaningful there too. */
    char asan[512];
    snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=8",
             getenv("ASAN_OPTIONS") ? getenv("ASAN_OPTIONS") : "",
             getenv("ASAN_OPTIONS") ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .modules = MODULES,
        .limits = LIMITS,
        .extra_hosts = EXTRA_HOSTS,
        .log_extra = "trace = [ \"mallory@example.test\" ];",
    };
    if (h_server_start(&srv, &opts) == 0) {
        P.ctx = h_ctx_new();
        P.alice = h_login(P.ctx, &srv, "alice@example.test/home", "pw", 0);
        P.bob = h_login(P.ctx, &srv, "bob@example.test/home", "pw", 0);
        H_RUN(poisoned_stanza_is_refused_at_the_sender, &srv);
        H_RUN(vcard_stays_in_its_tenant, &srv);
        H_RUN(resources_cannot_forge_log_fields, &srv);
        H_RUN(avatar_data_follows_metadata_access, &srv);
        H_RUN(caps_questions_are_bounded, &srv);
        H_RUN(push_counts_are_bounded, &srv);
        H_RUN(questions_to_a_silent_peer_are_bounded, &srv);
        H_RUN(messages_to_nobody_cost_nothing, &srv);
        H_RUN(subscriptions_cannot_grow_a_roster, &srv);
        h_client_free(P.bob);
        h_client_free(P.alice);
        h_ctx_free(P.ctx);
    }
    h_server_stop(&srv);

    /* A second server made and run under umask 022. */
    mode_t old = umask(022);
    h_server_t priv;
    h_server_opts_t popts = {.accounts = (const char *const[]){"alice@example.test", "pw", NULL}};
    if (h_server_start(&priv, &popts) == 0) {
        xmpp_ctx_t *ctx = h_ctx_new();
        h_client_t *a = h_login(ctx, &priv, "alice@example.test/x", "pw", 0);
        h_client_free(a);
        h_ctx_free(ctx);
        H_RUN(files_are_private, &priv);
    }
    h_server_stop(&priv);
    umask(old);
    return h_finish(argv[0]);
}
