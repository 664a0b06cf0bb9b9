/* test_close_paths.c — every way a client connection ends, and the bounds on
 * what a peer can make the server hold (REL-2, CORE-10; issue #14 findings
 * 3, 4, 12, 13, 16).
 *
 * Alice's connections end in each way a connection can end: her clean
 * </stream:stream>, EOF, a broken TLS stream, not reading (slow consumer),
 * no answer to the server's ping, a conflict with a newer login, and server
 * shutdown.  After each, bob (a subscribed contact, logged in throughout)
 * gets her unavailable presence, a message for her is stored rather than
 * swallowed, an IQ to her old address is answered with an error, and
 * `parleyctl online` / `parleyctl stats` show nothing left of her.
 *
 * The bounds: output is refused before it is queued past max_output_bytes;
 * stream management keeps at most max_unacked stanzas / max_unacked_bytes
 * for a detached session (past them it ends and the messages go to the
 * offline store); a resumption that resends a nearly full queue survives;
 * nonzas count against the stanza rate; connections over conn_per_ip are
 * refused at accept, not held until the login timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "bob@example.test", "bob-pw",
    NULL,
};
// clang-format on

#define SM "urn:xmpp:sm:3"
#define CONN_PER_IP 12

#define LIMITS                                                                                     \
    "max_stanza_bytes = \"64k\"; max_unacked_bytes = \"128k\"; max_output_bytes = \"256k\"; "    \
    "max_unacked = 50; idle_timeout = \"4s\"; ping_timeout = \"1s\"; resume_timeout = \"60s\"; "  \
    "conn_per_ip = 12; stanza_rate = 50; stanza_burst = 300;"

/* bob stays logged in (and subscribed to alice) for the whole file. */
static xmpp_ctx_t *ctx;
static h_client_t *bob;

/* Raw waits that keep bob's loop running (he answers the server's pings:
 * idle_timeout is short here so the ping case is quick). */
static int rwait(h_raw_t *r, const char *needle, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    do {
        if (h_raw_wait(r, needle, 20))
            return 1;
        if (bob)
            h_run_for(ctx, 10);
    } while (h_now_ms() < deadline);
    return 0;
}

static int reof(h_raw_t *r, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    do {
        if (h_raw_wait_eof(r, 20))
            return 1;
        if (bob)
            h_run_for(ctx, 10);
    } while (h_now_ms() < deadline);
    return 0;
}

/* ---- what the server says about itself ---- */

/* A counter from `parleyctl stats`, or -1. */
static long stat_of(h_server_t *srv, const char *key)
{
    char out[4096];
    if (h_ctl(srv, NULL, out, sizeof(out), (const char *[]){"stats", NULL}) != 0)
        return -1;
    size_t kl = strlen(key);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, key, kl) && p[kl] == ' ')
            return strtol(p + kl + 1, NULL, 10);
    return -1;
}

/* Waits (running bob's loop) until the counter equals want; 1 when it did. */
static int stat_becomes(h_server_t *srv, const char *key, long want, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    long v;
    while ((v = stat_of(srv, key)) != want && h_now_ms() < deadline)
        h_run_for(ctx, 50);
    return CHECK_MSG(v == want, "stats %s is %ld, expected %ld", key, v, want);
}

static int listed_online(h_server_t *srv, const char *full)
{
    char out[8192];
    h_ctl(srv, NULL, out, sizeof(out), (const char *[]){"online", NULL});
    return strstr(out, full) != NULL;
}

/* ---- alice ---- */

/* Raw login as alice/resource with initial presence (and SM when `sm`:
 * "resume" for a resumable session, "plain" without); bob sees her come
 * online.  The resumption id goes into id when asked. */
static int alice_up(h_raw_t *r, h_server_t *srv, const char *resource, const char *sm, char *id,
                    size_t idlen)
{
    char el[512], from[128];
    if (!CHECK(h_raw_login(r, srv, "alice", "alice-pw", resource)))
        return 0;
    h_raw_sendf(r, "<presence/>");
    if (sm) {
        h_raw_sendf(r, "<enable xmlns='" SM "'%s/>", strcmp(sm, "resume") ? "" : " resume='true'");
        if (!CHECK(h_raw_element(r, "<enabled", el, sizeof(el))))
            return 0;
        if (id && !CHECK(h_xml_attr_in(el, "id", id, idlen)))
            return 0;
    }
    snprintf(from, sizeof(from), "alice@example.test/%s", resource);
    xmpp_stanza_t *p = h_wait(bob, &(h_match_t){.name = "presence", .from = from}, 5000);
    if (!CHECK_MSG(p && !xmpp_stanza_get_type(p), "bob did not see %s come online", from))
        return 0;
    xmpp_stanza_release(p);
    return 1;
}

static void bob_says(const char *to, const char *body)
{
    h_send(bob, "<message to='%s' type='chat'><body>%s</body></message>", to, body);
    h_run_for(ctx, 10);
}

/* After alice/resource ended: what everybody else must see. `after` is a
 * message bob sends her once she is gone; it must reach her next login. */
static void check_ended(h_server_t *srv, const char *resource, const char *after)
{
    char full[128];
    snprintf(full, sizeof(full), "alice@example.test/%s", resource);
    xmpp_stanza_t *p =
        h_wait(bob, &(h_match_t){.name = "presence", .type = "unavailable", .from = full}, 8000);
    CHECK_MSG(p, "bob was not told %s went offline", full);
    if (p)
        xmpp_stanza_release(p);
    CHECK_MSG(!listed_online(srv, full), "%s still listed by parleyctl online", full);
    stat_becomes(srv, "sessions", 1, 5000); /* bob alone */
    stat_becomes(srv, "connections", 1, 5000);
    stat_becomes(srv, "detached", 0, 1000);
    stat_becomes(srv, "unacked_stanzas", 0, 1000);
    stat_becomes(srv, "output_bytes", 0, 5000);
    /* Her old address answers for her: an IQ gets an error, a message is
     * stored for her next login. */
    xmpp_stanza_t *iq = h_iq(bob, "get", full, "<ping xmlns='urn:xmpp:ping'/>", 5000);
    CHECK_MSG(iq && h_attr_eq(iq, "type", "error"), "an IQ to %s was not answered with an error",
              full);
    if (iq)
        xmpp_stanza_release(iq);
    bob_says(full, after);
    h_settle(bob);
    h_client_t *again = h_login(ctx, srv, "alice@example.test/next", "alice-pw", 0);
    if (again) {
        xmpp_stanza_t *m = h_wait(again, &(h_match_t){.name = "message", .body = after}, 5000);
        CHECK_MSG(m, "the message sent after %s ended was lost", full);
        if (m)
            xmpp_stanza_release(m);
    }
    h_client_free(again);
    p = h_wait(bob,
               &(h_match_t){.name = "presence",
                            .type = "unavailable",
                            .from = "alice@example.test/next"},
               5000);
    if (p)
        xmpp_stanza_release(p);
    h_drain(bob);
}

/* ---- the ways to end ---- */

static void clean_close(h_server_t *srv)
{
    h_raw_t r;
    if (alice_up(&r, srv, "clean", NULL, NULL, 0)) {
        h_raw_sendf(&r, "</stream:stream>");
        CHECK(rwait(&r, "</stream:stream>", 5000));
        CHECK(reof(&r, 5000));
    }
    h_raw_close(&r);
    check_ended(srv, "clean", "after clean");
}

static void eof_without_goodbye(h_server_t *srv)
{
    h_raw_t r;
    alice_up(&r, srv, "eof", NULL, NULL, 0);
    h_raw_close(&r);
    check_ended(srv, "eof", "after eof");
}

static void broken_tls_stream(h_server_t *srv)
{
    h_raw_t r;
    if (alice_up(&r, srv, "tls", NULL, NULL, 0)) {
        /* An application-data record that does not decrypt, written under
         * the TLS layer. */
        static const char junk[] = "\x17\x03\x03\x00\x20"
                                   "0123456789abcdef0123456789abcdef";
        CHECK(write(r.fd, junk, sizeof(junk) - 1) == (ssize_t)(sizeof(junk) - 1));
    }
    check_ended(srv, "tls", "after tls");
    h_raw_close(&r);
}

/* Alice stops reading; bob sends her far more than max_output_bytes plus
 * what the kernel buffers.  The server must refuse output before it holds
 * more than the bound, then end her session properly. */
static void slow_reader(h_server_t *srv)
{
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    h_raw_rcvbuf = 4096;
    int up = alice_up(&r, srv, "slow", NULL, NULL, 0);
    h_raw_rcvbuf = 0;
    if (up) {
        size_t n = 60 * 1024;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\0';
        for (int i = 0; i < 150 && !h_log_has(srv, mark, "event=session.end", "how=slow", NULL);
             i++) {
            h_send(bob, "<message to='alice@example.test/slow' type='chat'><body>%d %s</body>"
                        "</message>",
                   i, big);
            h_run_for(ctx, 20);
        }
        free(big);
        CHECK_MSG(h_log_wait(srv, mark, 5000, "event=limits.output", NULL),
                  "the output bound was never hit");
        CHECK(h_log_wait(srv, mark, 5000, "event=session.end", "how=slow", NULL));
        /* Nothing was queued past the bound: the line reports what was held
         * when the next stanza did not fit. */
        char line[64];
        int over = 0;
        for (int i = 0; i < 1000; i++) {
            snprintf(line, sizeof(line), "pending=%d", 256 * 1024 + i * 1024);
            over |= h_log_has(srv, mark, "event=limits.output", line, NULL);
        }
        CHECK_MSG(!over, "more than max_output_bytes was queued");
    }
    check_ended(srv, "slow", "after slow");
    h_raw_close(&r);
}

static void no_answer_to_ping(h_server_t *srv)
{
    h_raw_t r;
    if (alice_up(&r, srv, "mute", NULL, NULL, 0)) {
        /* idle_timeout 4 s, then the ping, unanswered for 1 s. */
        CHECK(rwait(&r, "urn:xmpp:ping", 8000));
        CHECK(rwait(&r, "<connection-timeout", 5000));
        CHECK(reof(&r, 5000));
    }
    h_raw_close(&r);
    check_ended(srv, "mute", "after ping");
}

static void conflict_with_newer_login(h_server_t *srv)
{
    h_raw_t old, fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.fd = -1;
    if (alice_up(&old, srv, "twice", NULL, NULL, 0) &&
        CHECK(h_raw_login(&fresh, srv, "alice", "alice-pw", "twice"))) {
        CHECK(rwait(&old, "<conflict", 5000));
        CHECK(reof(&old, 5000));
        /* The full JID lives on in the new session: no unavailable for it
         * (the new client sends its own presence when it is ready). */
        stat_becomes(srv, "sessions", 2, 5000);
        /* The address belongs to the new session now. */
        bob_says("alice@example.test/twice", "to the new one");
        CHECK(rwait(&fresh, "<body>to the new one</body>", 5000));
        h_raw_sendf(&fresh, "</stream:stream>");
        CHECK(reof(&fresh, 5000));
    }
    h_raw_close(&old);
    h_raw_close(&fresh);
    stat_becomes(srv, "sessions", 1, 5000);
    h_drain(bob);
}

/* ---- stream management bounds ---- */

/* A detached session keeps at most max_unacked stanzas: past that it ends,
 * bob is told, and everything it held reaches her through the offline
 * store. */
static void detached_queue_is_bounded(h_server_t *srv)
{
    h_raw_t r;
    char id[64], el[256];
    if (!alice_up(&r, srv, "away", "resume", id, sizeof(id))) {
        h_raw_close(&r);
        return;
    }
    h_raw_close(&r);
    stat_becomes(srv, "detached", 1, 5000);
    for (int i = 0; i < 60; i++) {
        char body[32];
        snprintf(body, sizeof(body), "queued %d", i);
        bob_says("alice@example.test/away", body);
    }
    h_settle(bob);
    stat_becomes(srv, "detached", 0, 5000);
    stat_becomes(srv, "unacked_stanzas", 0, 1000);
    xmpp_stanza_t *p = h_wait(bob,
                              &(h_match_t){.name = "presence",
                                           .type = "unavailable",
                                           .from = "alice@example.test/away"},
                              5000);
    CHECK_MSG(p, "bob was not told the overflowing session ended");
    if (p)
        xmpp_stanza_release(p);
    CHECK_MSG(!h_count(bob, &(h_match_t){.name = "message", .type = "error"}),
              "messages bounced instead of being stored");
    /* The session is gone: resuming it fails. */
    h_raw_t r2;
    if (CHECK(h_raw_auth(&r2, srv, "alice", "alice-pw"))) {
        h_raw_sendf(&r2, "<resume xmlns='" SM "' previd='%s' h='0'/>", id);
        CHECK(h_raw_element(&r2, "<failed", el, sizeof(el)));
        CHECK(strstr(r2.buf, "item-not-found"));
    }
    h_raw_close(&r2);
    /* All 60, in order, from the offline store. */
    h_client_t *again = h_login(ctx, srv, "alice@example.test/back", "alice-pw", 0);
    if (again) {
        for (int i = 0; i < 60; i++) {
            char body[32];
            snprintf(body, sizeof(body), "queued %d", i);
            xmpp_stanza_t *m = h_wait(again, &(h_match_t){.name = "message", .body = body}, 5000);
            if (!CHECK_MSG(m, "'%s' was lost", body))
                break;
            xmpp_stanza_release(m);
        }
    }
    h_client_free(again);
    h_drain(bob);
}

/* The byte bound applies the same way: three 50 KB messages pass 128k. */
static void detached_bytes_are_bounded(h_server_t *srv)
{
    h_raw_t r;
    char id[64];
    if (!alice_up(&r, srv, "heavy", "resume", id, sizeof(id))) {
        h_raw_close(&r);
        return;
    }
    h_raw_close(&r);
    stat_becomes(srv, "detached", 1, 5000);
    size_t n = 50 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'y', n);
    big[n] = '\0';
    for (int i = 0; i < 2; i++)
        bob_says("alice@example.test/heavy", big);
    h_settle(bob);
    CHECK_MSG(stat_of(srv, "detached") == 1, "two messages (100 KB) should still fit");
    long bytes = stat_of(srv, "unacked_bytes");
    CHECK_MSG(bytes > 100 * 1024 && bytes <= 128 * 1024, "unacked_bytes %ld", bytes);
    bob_says("alice@example.test/heavy", big);
    free(big);
    h_settle(bob);
    stat_becomes(srv, "detached", 0, 5000);
    stat_becomes(srv, "unacked_bytes", 0, 1000);
    h_client_t *again = h_login(ctx, srv, "alice@example.test/back", "alice-pw", 0);
    if (again) {
        h_settle(again);
        CHECK_MSG(h_count(again, &(h_match_t){.name = "message"}) == 3,
                  "%d of the 3 big messages arrived",
                  h_count(again, &(h_match_t){.name = "message"}));
    }
    h_client_free(again);
    h_drain(bob);
}

/* Resuming a queue close to its bound resends all of it at once without
 * tripping the output bound (the old server dropped such a stream). */
static void resume_of_a_full_queue_survives(h_server_t *srv)
{
    h_raw_t r;
    char id[64], el[256];
    if (!alice_up(&r, srv, "full", "resume", id, sizeof(id))) {
        h_raw_close(&r);
        return;
    }
    h_raw_close(&r);
    stat_becomes(srv, "detached", 1, 5000);
    size_t n = 3000;
    char *text = malloc(n + 1);
    memset(text, 'z', n);
    text[n] = '\0';
    for (int i = 0; i < 40; i++) {
        h_send(bob, "<message to='alice@example.test/full' type='chat'><body>%d %s</body></message>",
               i, text);
        h_run_for(ctx, 5);
    }
    free(text);
    h_settle(bob);
    CHECK(stat_of(srv, "detached") == 1 && stat_of(srv, "unacked_stanzas") == 40);
    if (CHECK(h_raw_auth(&r, srv, "alice", "alice-pw"))) {
        h_raw_sendf(&r, "<resume xmlns='" SM "' previd='%s' h='0'/>", id);
        if (CHECK(h_raw_element(&r, "<resumed", el, sizeof(el)))) {
            CHECK(rwait(&r, "<body>39 ", 5000));
            h_raw_sendf(&r, "<a xmlns='" SM "' h='40'/>");
            stat_becomes(srv, "sessions", 2, 5000);
            stat_becomes(srv, "unacked_stanzas", 0, 5000);
            h_raw_sendf(&r, "</stream:stream>");
            CHECK(reof(&r, 5000));
        }
    }
    h_raw_close(&r);
    stat_becomes(srv, "sessions", 1, 5000);
    h_drain(bob);
}

/* Nonzas cost like stanzas: a burst of <r/> ends the stream with
 * policy-violation instead of being answered one by one. */
static void nonza_flood_is_rate_limited(h_server_t *srv)
{
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    if (alice_up(&r, srv, "flood", "plain", NULL, 0)) {
        size_t n = 1000, one = strlen("<r xmlns='" SM "'/>");
        char *burst = malloc(n * one + 1);
        for (size_t i = 0; i < n; i++)
            memcpy(burst + i * one, "<r xmlns='" SM "'/>", one);
        burst[n * one] = '\0';
        h_raw_send(&r, burst, n * one);
        free(burst);
        CHECK(rwait(&r, "<policy-violation", 5000));
        reof(&r, 5000);
        int answers = 0;
        for (const char *p = r.buf; (p = strstr(p, "<a xmlns")); p++)
            answers++;
        CHECK_MSG(answers < 400, "%d of %zu <r/> were answered", answers, n);
        CHECK(h_log_has(srv, mark, "event=limits.stanza_rate", NULL));
    }
    h_raw_close(&r);
    check_ended(srv, "flood", "after flood");
}

/* Connections over conn_per_ip are refused when they are accepted: silent
 * ones are not held open until the login timeout. */
static void connections_over_the_bound_refused_at_accept(h_server_t *srv)
{
    long open_now = stat_of(srv, "connections");
    int room = CONN_PER_IP - (int)open_now;
    if (!CHECK_MSG(room > 0 && room < CONN_PER_IP, "connections: %ld", open_now))
        return;
    h_raw_t conns[CONN_PER_IP + 3];
    int n = room + 3;
    for (int i = 0; i < n; i++)
        CHECK(h_raw_connect(&conns[i], srv->c2s_port));
    /* Which ones are over the bound depends on the order the loops
     * accepted them in: exactly three are refused, within moments. */
    int refused[CONN_PER_IP + 3] = {0}, nrefused = 0;
    long long deadline = h_now_ms() + 3000;
    while (nrefused < 3 && h_now_ms() < deadline) {
        for (int i = 0; i < n; i++)
            if (!refused[i] && h_raw_wait_eof(&conns[i], 10)) {
                refused[i] = 1;
                nrefused++;
                CHECK(strstr(conns[i].buf ? conns[i].buf : "", "<policy-violation"));
            }
        h_run_for(ctx, 10);
    }
    CHECK_MSG(nrefused == 3, "%d connections over the bound were refused at once, not 3", nrefused);
    /* Those within the bound are still open and usable. */
    for (int i = 0; i < n; i++)
        if (!refused[i]) {
            CHECK(h_raw_open_stream(&conns[i], "example.test"));
            break;
        }
    for (int i = 0; i < n; i++)
        h_raw_close(&conns[i]);
    stat_becomes(srv, "connections", open_now, 5000);
}

/* ---- shutdown ---- */

/* A detached and a connected SM session at shutdown: both clients are told
 * (or were gone), and their unacknowledged messages are in the offline store
 * after the restart. */
static void shutdown_keeps_unacknowledged_messages(h_server_t *srv)
{
    h_raw_t live, gone;
    if (!alice_up(&gone, srv, "gone", "resume", NULL, 0) ||
        !alice_up(&live, srv, "live", "resume", NULL, 0)) {
        h_raw_close(&gone);
        h_raw_close(&live);
        return;
    }
    h_raw_close(&gone);
    stat_becomes(srv, "detached", 1, 5000);
    bob_says("alice@example.test/gone", "held for gone");
    bob_says("alice@example.test/live", "unacked on live");
    CHECK(rwait(&live, "<body>unacked on live</body>", 5000));
    h_settle(bob);
    h_client_free(bob);
    bob = NULL;
    if (!CHECK(h_server_restart(srv) == 0)) {
        h_raw_close(&live);
        return;
    }
    CHECK(rwait(&live, "<system-shutdown", 5000));
    h_raw_close(&live);
    h_client_t *again = h_login(ctx, srv, "alice@example.test/after", "alice-pw", 0);
    if (again) {
        xmpp_stanza_t *a = h_wait(again, &(h_match_t){.body = "held for gone"}, 5000);
        xmpp_stanza_t *b = h_wait(again, &(h_match_t){.body = "unacked on live"}, 5000);
        CHECK_MSG(a && b, "lost at shutdown: %s%s", a ? "" : "'held for gone' ",
                  b ? "" : "'unacked on live'");
        if (a)
            xmpp_stanza_release(a);
        if (b)
            xmpp_stanza_release(b);
    }
    h_client_free(again);
}

/* ---- setup ---- */

static int subscribe_both(h_server_t *srv)
{
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/setup", "alice-pw", 0);
    if (!alice)
        return 0;
    h_send(alice, "<presence type='subscribe' to='bob@example.test'/>");
    h_send(bob, "<presence type='subscribe' to='alice@example.test'/>");
    h_settle(alice);
    h_settle(bob);
    h_send(alice, "<presence type='subscribed' to='bob@example.test'/>");
    h_send(bob, "<presence type='subscribed' to='alice@example.test'/>");
    h_settle(alice);
    h_settle(bob);
    h_client_free(alice);
    h_drain(bob);
    return 1;
}

static void setup(h_server_t *srv)
{
    bob = h_login(ctx, srv, "bob@example.test/watch", "bob-pw", 0);
    CHECK(bob && subscribe_both(srv));
}

int main(void)
{
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .limits = LIMITS,
        .modules = "roster = {}; presence = {}; offline = { quota_bytes = \"16M\"; };",
    };
    if (h_server_start(&srv, &opts) == 0) {
        ctx = h_ctx_new();
        H_RUN(setup, &srv);
        if (bob) {
            H_RUN(clean_close, &srv);
            H_RUN(eof_without_goodbye, &srv);
            H_RUN(broken_tls_stream, &srv);
            H_RUN(slow_reader, &srv);
            H_RUN(no_answer_to_ping, &srv);
            H_RUN(conflict_with_newer_login, &srv);
            H_RUN(detached_queue_is_bounded, &srv);
            H_RUN(detached_bytes_are_bounded, &srv);
            H_RUN(resume_of_a_full_queue_survives, &srv);
            H_RUN(nonza_flood_is_rate_limited, &srv);
            H_RUN(connections_over_the_bound_refused_at_accept, &srv);
            H_RUN(shutdown_keeps_unacknowledged_messages, &srv);
        }
        h_client_free(bob);
        h_ctx_free(ctx);
        h_server_stop(&srv);
    }
    return h_finish("test_close_paths");
}
