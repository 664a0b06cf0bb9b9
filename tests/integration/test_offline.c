/* test_offline.c — offline messages (XEP-0160, IM-2) as users see them:
 * what a sender writes to an offline account arrives at its next login, in
 * order, with XEP-0203 delay stamps and XEP-0359 stanza-ids, and only
 * once; a full mailbox answers the sender with an error; hints, headlines
 * and chat states are respected; invitations and notices are kept; messages survive a restart;
 * expired ones are purged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/integration/harness.h"

#define NS_DELAY "urn:xmpp:delay"
#define NS_SID "urn:xmpp:sid:0"
#define NS_HINTS "urn:xmpp:hints"
#define NS_INFO "http://jabber.org/protocol/disco#info"
#define QUOTA 120

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "frank@example.test", "pw",
    "grace@example.test", "pw", "henry@example.test", "pw", "ivy@example.test", "pw",
    "jack@example.test", "pw", NULL,
};
// clang-format on

/* ---- helpers ---- */

static int message_count(h_client_t *c)
{
    return h_count(c, &(h_match_t){.name = "message"});
}

typedef struct want {
    h_client_t *c;
    int n;
} want_t;

static int has_n_messages(void *ud)
{
    want_t *w = ud;
    return message_count(w->c) >= w->n;
}

/* Waits until `c` holds at least n messages; returns how many it holds. */
static int wait_messages(h_client_t *c, int n, int timeout_ms)
{
    want_t w = {.c = c, .n = n};
    h_run_until(c->ctx, has_n_messages, &w, timeout_ms);
    return message_count(c);
}

/* The i-th message in the inbox (other stanzas skipped), or NULL. */
static xmpp_stanza_t *nth_message(h_client_t *c, int i)
{
    for (size_t k = 0; k < c->ninbox; k++) {
        const char *name = xmpp_stanza_get_name(c->inbox[k]);
        if (name && strcmp(name, "message") == 0 && i-- == 0)
            return c->inbox[k];
    }
    return NULL;
}

static int body_is(xmpp_stanza_t *m, const char *want)
{
    char *b = m ? h_child_text(m, "body") : NULL;
    int ok = b && strcmp(b, want) == 0;
    free(b);
    return ok;
}

static void chat(h_client_t *from, const char *to, const char *id, const char *body)
{
    h_send(from, "<message type='chat' to='%s' id='%s'><body>%s</body></message>", to, id, body);
}

/* An offline user's session: logged in, initial presence not yet sent. */
static h_client_t *login_silent(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid)
{
    h_client_t *c = h_client_new(ctx, srv, jid, "pw", H_STARTTLS);
    if (!CHECK_MSG(h_client_wait_login(c, 10000), "%s logged in", jid)) {
        h_client_free(c);
        return NULL;
    }
    return c;
}

/* No error came back to the sender. */
static void no_errors(h_client_t *sender)
{
    h_settle(sender);
    CHECK_MSG(h_count(sender, &(h_match_t){.name = "message", .type = "error"}) == 0,
              "the sender got no error");
}

/* ---- cases ---- */

static void messages_arrive_at_login_in_order_with_delay_and_ids(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (!bob)
        goto out;
    long long sent_at = (long long)time(NULL);
    for (int i = 0; i < 5; i++) {
        char id[16], body[32];
        snprintf(id, sizeof(id), "o%d", i);
        snprintf(body, sizeof(body), "offline %d", i);
        if (i == 2)
            h_send(bob, "<message to='alice@example.test' id='%s'><body>%s</body></message>", id,
                   body); /* type normal (absent) */
        else
            chat(bob, "alice@example.test", id, body);
    }
    no_errors(bob);

    h_client_t *alice = h_login(ctx, srv, "alice@example.test/phone", "pw", 0);
    if (!alice)
        goto out;
    CHECK_MSG(wait_messages(alice, 5, 5000) == 5, "5 stored messages, got %d",
              message_count(alice));
    h_settle(alice);
    CHECK_MSG(message_count(alice) == 5, "exactly 5, got %d", message_count(alice));
    char prev_sid[64] = "";
    for (int i = 0; i < 5; i++) {
        xmpp_stanza_t *m = nth_message(alice, i);
        char id[16], body[32];
        snprintf(id, sizeof(id), "o%d", i);
        snprintf(body, sizeof(body), "offline %d", i);
        CHECK_MSG(body_is(m, body), "message %d in order", i);
        CHECK_MSG(h_attr_eq(m, "id", id), "the sender's id kept on %d", i);
        CHECK(h_attr_eq(m, "from", "bob@example.test/desk"));
        xmpp_stanza_t *d = m ? xmpp_stanza_get_child_by_name_and_ns(m, "delay", NS_DELAY) : NULL;
        CHECK_MSG(d && h_attr_eq(d, "from", "example.test"), "delay from the server on %d", i);
        const char *stamp = d ? xmpp_stanza_get_attribute(d, "stamp") : NULL;
        /* "YYYY-MM-DDThh:mm:ss.mmmZ", UTC, at about the time it was sent. */
        CHECK_MSG(stamp && strlen(stamp) == 24 && stamp[10] == 'T' && stamp[23] == 'Z',
                  "stamp '%s'", stamp ? stamp : "");
        if (stamp) {
            struct tm tm = {0};
            CHECK(strptime(stamp, "%Y-%m-%dT%H:%M:%S", &tm) != NULL);
            long long at = (long long)timegm(&tm);
            CHECK_MSG(at >= sent_at - 1 && at <= (long long)time(NULL), "stamp %s in range", stamp);
        }
        xmpp_stanza_t *sid =
            m ? xmpp_stanza_get_child_by_name_and_ns(m, "stanza-id", NS_SID) : NULL;
        const char *sidv = sid ? xmpp_stanza_get_attribute(sid, "id") : NULL;
        CHECK_MSG(sid && h_attr_eq(sid, "by", "alice@example.test") && sidv,
                  "stanza-id by the account on %d", i);
        /* Server ids sort in arrival order: the queue came in that order. */
        if (sidv) {
            CHECK_MSG(strcmp(prev_sid, sidv) < 0, "stanza-ids increase (%s, %s)", prev_sid, sidv);
            snprintf(prev_sid, sizeof(prev_sid), "%s", sidv);
        }
    }
    h_client_free(alice);

    /* Delivered once: the next login finds nothing. */
    alice = h_login(ctx, srv, "alice@example.test/phone", "pw", 0);
    if (alice) {
        h_settle(alice);
        CHECK_MSG(message_count(alice) == 0, "nothing twice, got %d", message_count(alice));
        /* Online now: a message is delivered live, without a delay. */
        chat(bob, "alice@example.test", "live", "live one");
        xmpp_stanza_t *m = h_wait(alice, &(h_match_t){.name = "message", .body = "live one"}, 5000);
        CHECK_MSG(m && !xmpp_stanza_get_child_by_name_and_ns(m, "delay", NS_DELAY),
                  "live message without delay");
        if (m)
            xmpp_stanza_release(m);
        h_client_free(alice);
    }
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void full_mailbox_refuses_with_an_error(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (!bob)
        goto out;
    for (int i = 0; i <= QUOTA; i++) {
        char id[16], body[32];
        snprintf(id, sizeof(id), "q%d", i);
        snprintf(body, sizeof(body), "quota %d", i);
        chat(bob, "dave@example.test", id, body);
    }
    char over[16];
    snprintf(over, sizeof(over), "q%d", QUOTA);
    xmpp_stanza_t *err = h_wait(bob, &(h_match_t){.name = "message", .type = "error"}, 5000);
    CHECK_MSG(err, "the sender of message %d got an error", QUOTA + 1);
    CHECK_MSG(h_attr_eq(err, "id", over), "the error is for the message over quota (id %s)",
              err ? xmpp_stanza_get_id(err) : "");
    CHECK(h_attr_eq(err, "from", "dave@example.test"));
    const char *cond = err ? h_error_condition(err) : NULL;
    CHECK_MSG(cond && strcmp(cond, "service-unavailable") == 0, "condition %s",
              cond ? cond : "(none)");
    xmpp_stanza_t *e = err ? xmpp_stanza_get_child_by_name(err, "error") : NULL;
    char *text = e ? h_child_text(e, "text") : NULL;
    CHECK_MSG(text && strstr(text, "offline storage is full"), "text '%s'", text ? text : "");
    free(text);
    if (err)
        xmpp_stanza_release(err);
    h_settle(bob);
    CHECK_MSG(h_count(bob, &(h_match_t){.name = "message", .type = "error"}) == 0,
              "only one error");

    /* What fitted is delivered, in order, across delivery chunks. */
    h_client_t *dave = h_login(ctx, srv, "dave@example.test/home", "pw", 0);
    if (dave) {
        CHECK_MSG(wait_messages(dave, QUOTA, 10000) == QUOTA, "got %d of %d", message_count(dave),
                  QUOTA);
        h_settle(dave);
        CHECK_MSG(message_count(dave) == QUOTA, "exactly %d, got %d", QUOTA, message_count(dave));
        int in_order = 1;
        for (int i = 0; i < QUOTA; i++) {
            char body[32];
            snprintf(body, sizeof(body), "quota %d", i);
            in_order &= body_is(nth_message(dave, i), body);
        }
        CHECK_MSG(in_order, "all %d in order", QUOTA);
        h_client_free(dave);
    }
    /* Room again once delivered. */
    chat(bob, "dave@example.test", "again", "room again");
    no_errors(bob);
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void hints_headlines_and_chat_states(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (!bob)
        goto out;
    /* <no-store/>: not stored, the sender hears the recipient is offline. */
    h_send(bob, "<message type='chat' to='erin@example.test' id='ns'><body>not kept</body>"
                "<no-store xmlns='" NS_HINTS "'/></message>");
    xmpp_stanza_t *err =
        h_wait(bob, &(h_match_t){.name = "message", .type = "error", .id = "ns"}, 5000);
    const char *cond = err ? h_error_condition(err) : NULL;
    CHECK_MSG(cond && strcmp(cond, "service-unavailable") == 0, "no-store bounced: %s",
              cond ? cond : "(no error)");
    if (err)
        xmpp_stanza_release(err);
    /* Headlines are not stored (and, as before, not bounced). */
    h_send(bob, "<message type='headline' to='erin@example.test' id='hl'><body>news</body>"
                "</message>");
    /* A bare chat state is dropped quietly. */
    h_send(bob, "<message type='chat' to='erin@example.test' id='cs'>"
                "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    /* <store/> keeps a message with no body; a receipt is kept too. */
    h_send(bob, "<message to='erin@example.test' id='st'>"
                "<store xmlns='" NS_HINTS "'/><x xmlns='urn:example:payload'/></message>");
    h_send(bob, "<message to='erin@example.test' id='rc'>"
                "<received xmlns='urn:xmpp:receipts' id='abc'/></message>");
    chat(bob, "erin@example.test", "kept", "kept one");
    no_errors(bob);

    h_client_t *erin = h_login(ctx, srv, "erin@example.test/home", "pw", 0);
    if (erin) {
        wait_messages(erin, 3, 5000);
        h_settle(erin);
        CHECK_MSG(message_count(erin) == 3, "3 stored, got %d", message_count(erin));
        CHECK(h_attr_eq(nth_message(erin, 0), "id", "st"));
        CHECK(h_attr_eq(nth_message(erin, 1), "id", "rc"));
        CHECK(body_is(nth_message(erin, 2), "kept one"));
        CHECK_MSG(h_count(erin, &(h_match_t){.name = "message", .id = "ns"}) == 0, "no-store");
        CHECK_MSG(h_count(erin, &(h_match_t){.name = "message", .id = "hl"}) == 0, "headline");
        CHECK_MSG(h_count(erin, &(h_match_t){.name = "message", .id = "cs"}) == 0, "chat state");
        h_client_free(erin);
    }
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Group-chat invitations (XEP-0249 direct, XEP-0045 mediated) carry no
 * body and are stored; a notice sent as a headline hinted <store/> is
 * stored too (XEP-0334), where a plain headline is dropped. */
static void invitations_and_notices_are_stored(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (!bob)
        goto out;
    h_send(bob, "<message to='jack@example.test' id='direct'>"
                "<x xmlns='jabber:x:conference' jid='tea@muc.example.test' reason='tea?'/>"
                "</message>");
    h_send(bob, "<message to='jack@example.test' id='mediated'>"
                "<x xmlns='http://jabber.org/protocol/muc#user'><invite from='bob@example.test'>"
                "<reason>plans</reason></invite></x></message>");
    h_send(bob, "<message type='headline' to='jack@example.test' id='notice'>"
                "<subject>Office closed</subject><body>Friday</body>"
                "<store xmlns='" NS_HINTS "'/></message>");
    h_send(bob, "<message type='headline' to='jack@example.test' id='plain'><body>gone</body>"
                "</message>");
    no_errors(bob);

    h_client_t *jack = h_login(ctx, srv, "jack@example.test/home", "pw", 0);
    if (jack) {
        wait_messages(jack, 3, 5000);
        h_settle(jack);
        CHECK_MSG(message_count(jack) == 3, "3 stored, got %d", message_count(jack));
        xmpp_stanza_t *m = nth_message(jack, 0);
        CHECK(h_attr_eq(m, "id", "direct"));
        CHECK(m && xmpp_stanza_get_child_by_ns(m, "jabber:x:conference"));
        m = nth_message(jack, 1);
        CHECK(h_attr_eq(m, "id", "mediated"));
        xmpp_stanza_t *x =
            m ? xmpp_stanza_get_child_by_ns(m, "http://jabber.org/protocol/muc#user") : NULL;
        CHECK(x && xmpp_stanza_get_child_by_name(x, "invite"));
        m = nth_message(jack, 2);
        CHECK(h_attr_eq(m, "id", "notice") && h_attr_eq(m, "type", "headline"));
        CHECK(body_is(m, "Friday"));
        CHECK_MSG(m && xmpp_stanza_get_child_by_ns(m, NS_DELAY), "the notice has a delay stamp");
        CHECK_MSG(h_count(jack, &(h_match_t){.name = "message", .id = "plain"}) == 0,
                  "a headline without <store/> is not kept");
        h_client_free(jack);
    }
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void session_not_available_still_gets_them_stored(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    /* frank is connected but has not sent presence: not available. */
    h_client_t *frank = login_silent(ctx, srv, "frank@example.test/laptop");
    if (!bob || !frank)
        goto out;
    chat(bob, "frank@example.test", "f1", "while silent");
    no_errors(bob);
    h_settle(frank);
    CHECK_MSG(message_count(frank) == 0, "a session without presence gets nothing");
    /* Negative priority: available, but not for messages to the account. */
    h_send(frank, "<presence><priority>-1</priority></presence>");
    h_settle(frank);
    chat(bob, "frank@example.test", "f2", "while negative");
    no_errors(bob);
    h_settle(frank);
    CHECK_MSG(message_count(frank) == 0, "negative priority gets nothing");
    /* Priority 0: the queue comes. */
    h_send(frank, "<presence><priority>0</priority></presence>");
    wait_messages(frank, 2, 5000);
    h_settle(frank);
    CHECK_MSG(message_count(frank) == 2, "2 stored, got %d", message_count(frank));
    CHECK(body_is(nth_message(frank, 0), "while silent"));
    CHECK(body_is(nth_message(frank, 1), "while negative"));
out:
    h_client_free(frank);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void two_sessions_online_at_once_share_one_queue(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    h_client_t *h1 = login_silent(ctx, srv, "henry@example.test/one");
    h_client_t *h2 = login_silent(ctx, srv, "henry@example.test/two");
    if (!bob || !h1 || !h2)
        goto out;
    enum { N = 30 };
    for (int i = 0; i < N; i++) {
        char id[16], body[32];
        snprintf(id, sizeof(id), "h%d", i);
        snprintf(body, sizeof(body), "henry %d", i);
        chat(bob, "henry@example.test", id, body);
    }
    no_errors(bob);
    /* Both become available in the same instant. */
    h_send(h1, "<presence/>");
    h_send(h2, "<presence/>");
    h_run_for(ctx, 500);
    h_settle(h1);
    h_settle(h2);
    int n1 = message_count(h1), n2 = message_count(h2);
    CHECK_MSG(n1 + n2 == N, "each message once across both: %d + %d", n1, n2);
    int seen[N] = {0};
    for (int s = 0; s < 2; s++) {
        h_client_t *c = s ? h2 : h1;
        for (int i = 0; i < (s ? n2 : n1); i++) {
            char *b = h_child_text(nth_message(c, i), "body");
            int k = -1;
            if (b && sscanf(b, "henry %d", &k) == 1 && k >= 0 && k < N)
                seen[k]++;
            free(b);
        }
    }
    int all_once = 1;
    for (int i = 0; i < N; i++)
        all_once &= seen[i] == 1;
    CHECK_MSG(all_once, "every message exactly once");
out:
    h_client_free(h1);
    h_client_free(h2);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void nonexistent_account_gets_service_unavailable(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (bob) {
        chat(bob, "nobody@example.test", "nx", "to nobody");
        xmpp_stanza_t *err =
            h_wait(bob, &(h_match_t){.name = "message", .type = "error", .id = "nx"}, 5000);
        const char *cond = err ? h_error_condition(err) : NULL;
        CHECK_MSG(cond && strcmp(cond, "service-unavailable") == 0, "condition %s",
                  cond ? cond : "(no error)");
        if (err)
            xmpp_stanza_release(err);
    }
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void disco_lists_msgoffline(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    xmpp_stanza_t *r =
        bob ? h_iq(bob, "get", "example.test", "<query xmlns='" NS_INFO "'/>", 5000) : NULL;
    int found = 0;
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        found |= xmpp_stanza_is_tag(k) && h_attr_eq(k, "var", "msgoffline");
    CHECK_MSG(found, "feature msgoffline on the host");
    if (r)
        xmpp_stanza_release(r);
    h_client_free(bob);
    h_ctx_free(ctx);
}

static void stored_messages_survive_a_restart(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (bob) {
        chat(bob, "grace@example.test", "r1", "before restart 1");
        chat(bob, "grace@example.test", "r2", "before restart 2");
        no_errors(bob);
    }
    h_client_free(bob);
    h_ctx_free(ctx);
    if (!CHECK_MSG(h_server_restart(srv) == 0, "the server came back"))
        return;
    ctx = h_ctx_new();
    h_client_t *grace = h_login(ctx, srv, "grace@example.test/home", "pw", 0);
    if (grace) {
        wait_messages(grace, 2, 5000);
        h_settle(grace);
        CHECK_MSG(message_count(grace) == 2, "2 after the restart, got %d", message_count(grace));
        CHECK(body_is(nth_message(grace, 0), "before restart 1"));
        CHECK(body_is(nth_message(grace, 1), "before restart 2"));
        xmpp_stanza_t *m = nth_message(grace, 0);
        CHECK(m && xmpp_stanza_get_child_by_name_and_ns(m, "delay", NS_DELAY));
    }
    h_client_free(grace);
    h_ctx_free(ctx);
}

/* On a server with retention = "2s" and purge_interval = "1s". */
static void expired_messages_are_purged(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    if (!bob)
        goto out;
    chat(bob, "ivy@example.test", "old", "will expire");
    no_errors(bob);
    size_t mark = h_log_mark(srv);
    CHECK_MSG(h_log_wait(srv, mark, 8000, "offline.purge", "expired=1", NULL),
              "the purge removed it");
    chat(bob, "ivy@example.test", "new", "fresh one");
    no_errors(bob);
    h_client_t *ivy = h_login(ctx, srv, "ivy@example.test/home", "pw", 0);
    if (ivy) {
        wait_messages(ivy, 1, 5000);
        h_settle(ivy);
        CHECK_MSG(message_count(ivy) == 1, "only the fresh one, got %d", message_count(ivy));
        CHECK(body_is(nth_message(ivy, 0), "fresh one"));
    }
    h_client_free(ivy);
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; offline = { quota = 120; };",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(messages_arrive_at_login_in_order_with_delay_and_ids, &srv);
        H_RUN(full_mailbox_refuses_with_an_error, &srv);
        H_RUN(hints_headlines_and_chat_states, &srv);
        H_RUN(invitations_and_notices_are_stored, &srv);
        H_RUN(session_not_available_still_gets_them_stored, &srv);
        H_RUN(two_sessions_online_at_once_share_one_queue, &srv);
        H_RUN(nonexistent_account_gets_service_unavailable, &srv);
        H_RUN(disco_lists_msgoffline, &srv);
        H_RUN(stored_messages_survive_a_restart, &srv);
    }
    h_server_stop(&srv);

    h_server_t quick;
    h_server_opts_t qopts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "offline = { retention = \"2s\"; purge_interval = \"1s\"; };",
        .accounts = accounts,
    };
    if (h_server_start(&quick, &qopts) == 0)
        H_RUN(expired_messages_are_purged, &quick);
    h_server_stop(&quick);
    return h_finish(argv[0]);
}
