/* test_abuse.c — bad input and floods (REL-2, CORE-10): each gets its clear
 * stream error and ends only the offending stream, while alice and bob,
 * logged in throughout, keep chatting.  Limits here are deliberately tight. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

/* jid, password */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "bob@example.test", "bob-pw",
    "mallory@example.test", "mallory-pw",
    "flooder@example.test", "flooder-pw",
    "victim@example.test", "victim-pw",
    NULL,
};
// clang-format on

#define LIMITS                                                                                     \
    "max_stanza_bytes = \"64k\"; conn_per_ip = 20; auth_fail_per_ip = 1000; "                      \
    "auth_fail_per_account = 3; auth_backoff_max = \"1s\"; stanza_rate = 20; stanza_burst = 40;"

/* alice and bob stay logged in for the whole file. */
typedef struct pair {
    xmpp_ctx_t *ctx;
    h_client_t *alice, *bob;
} pair_t;

static pair_t P;

static void malformed_xml_ends_only_that_stream(h_server_t *srv)
{
    h_raw_t r;
    if (CHECK(h_raw_login(&r, srv, "mallory", "mallory-pw", "x"))) {
        h_raw_sendf(&r, "<message to='bob@example.test'><body>oops</message>");
        CHECK(h_raw_wait(&r, "<not-well-formed", 5000));
        CHECK(h_raw_wait_eof(&r, 5000));
    }
    h_raw_close(&r);
    h_still_chatting(P.alice, P.bob, "malformed xml");
}

static void oversized_stanza_is_policy_violation(h_server_t *srv)
{
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    if (CHECK(h_raw_login(&r, srv, "mallory", "mallory-pw", "big"))) {
        size_t n = 100 * 1024;
        char *body = malloc(n + 1);
        memset(body, 'a', n);
        body[n] = '\0';
        /* The server may hang up before all of it is sent: that is fine. */
        h_raw_sendf(&r, "<message to='bob@example.test' type='chat'><body>%s</body></message>",
                    body);
        free(body);
        CHECK(h_raw_wait(&r, "<policy-violation", 5000));
        CHECK(h_raw_wait_eof(&r, 5000));
        CHECK(h_log_has(srv, mark, "event=stream.error", "jid=mallory@example.test/big",
                        "condition=policy-violation", NULL));
    }
    h_raw_close(&r);
    h_still_chatting(P.alice, P.bob, "oversized stanza");
    CHECK(h_count(P.bob, &(h_match_t){.name = "message", .from = "mallory@example.test/big"}) == 0);
}

/* Billion laughs: 10^9 "lol"s if entities were expanded. */
static const char laughs[] =
    "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"
    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"
    "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"
    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>"
    "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>"
    "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>"
    "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"
    "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>]>"
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.test' version='1.0'><message><body>&lol9;</body></message>";

static void entity_expansion_is_restricted_xml(h_server_t *srv)
{
    long rss_before = h_server_rss_kb(srv);
    for (int tls = 0; tls < 2; tls++) {
        h_raw_t r;
        long long t0 = h_now_ms();
        /* Once in clear at the start, once as the new stream after STARTTLS. */
        if (CHECK(h_raw_connect(&r, srv->c2s_port)) &&
            (!tls || CHECK(h_raw_open_stream(&r, "example.test") &&
                           h_raw_sendf(&r, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") &&
                           h_raw_wait(&r, "<proceed", 5000) && h_raw_tls_handshake(&r, 0, 0)))) {
            h_raw_send(&r, laughs, sizeof(laughs) - 1);
            CHECK_MSG(h_raw_wait(&r, "<restricted-xml", 5000), "tls=%d: %s", tls,
                      r.buf ? r.buf : "");
            CHECK(h_raw_wait_eof(&r, 5000));
            CHECK_MSG(h_now_ms() - t0 < 3000, "took %lld ms", h_now_ms() - t0);
        }
        h_raw_close(&r);
    }
    long rss_after = h_server_rss_kb(srv);
    CHECK_MSG(rss_before > 0 && rss_after - rss_before < 50 * 1024, "RSS %ld -> %ld KiB",
              rss_before, rss_after);
    h_still_chatting(P.alice, P.bob, "entity expansion");
}

/* One login attempt as victim; returns the SASL outcome and condition. */
static int victim_attempt(h_server_t *srv, const char *password, char *cond, size_t condlen)
{
    h_raw_t r;
    int rc = H_AUTH_ERROR;
    snprintf(cond, condlen, "no stream");
    if (h_raw_connect(&r, srv->c2s_port) && h_raw_starttls(&r, "example.test")) {
        h_scram_t p = {.mech = "SCRAM-SHA-256", .user = "victim", .password = password};
        rc = h_raw_scram(&r, &p, cond, condlen);
    }
    h_raw_close(&r);
    return rc;
}

/* auth_fail_per_account = 3, auth_fail_per_ip high: the account is
 * protected without locking everyone on 127.0.0.1 out. */
static void failed_login_flood_backs_off_per_account(h_server_t *srv)
{
    size_t mark = h_log_mark(srv);
    char cond[256];
    int refused = 0, backoff = 0, other = 0;
    for (int i = 0; i < 30; i++) {
        int rc = victim_attempt(srv, "guess", cond, sizeof(cond));
        if (i < 3)
            CHECK_MSG(rc == H_AUTH_FAILED && strcmp(cond, "not-authorized") == 0, "attempt %d: %s",
                      i + 1, cond);
        if (rc == H_AUTH_FAILED && strcmp(cond, "temporary-auth-failure") == 0)
            backoff++;
        else if (rc == H_AUTH_FAILED && strcmp(cond, "not-authorized") == 0)
            refused++;
        else
            other++;
    }
    CHECK_MSG(backoff >= 10 && other == 0, "%d refused, %d backed off, %d other", refused, backoff,
              other);
    CHECK(h_log_has(srv, mark, "event=limits.auth_backoff", "jid=victim@example.test", NULL));
    h_still_chatting(P.alice, P.bob, "login flood");

    /* The right password does not get through the back-off either: fail
     * once more so a fresh window has just started, then try it. */
    int rc = H_AUTH_FAILED;
    long long deadline = h_now_ms() + 10000;
    while (h_now_ms() < deadline &&
           (rc = victim_attempt(srv, "guess", cond, sizeof(cond))) == H_AUTH_FAILED &&
           strcmp(cond, "not-authorized") != 0)
        usleep(20 * 1000);
    rc = victim_attempt(srv, "victim-pw", cond, sizeof(cond));
    CHECK_MSG(rc == H_AUTH_FAILED && strcmp(cond, "temporary-auth-failure") == 0, "got %d %s", rc,
              cond);

    /* Others log in fine meanwhile, from the same address. */
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *fresh = h_login(ctx, srv, "alice@example.test/fresh", "alice-pw", 0);
    CHECK(fresh != NULL);
    h_client_free(fresh);
    h_ctx_free(ctx);

    /* And the victim gets in once the back-off (at most 1 s) is over. */
    deadline = h_now_ms() + 6000;
    while ((rc = victim_attempt(srv, "victim-pw", cond, sizeof(cond))) != H_AUTH_OK &&
           h_now_ms() < deadline)
        usleep(50 * 1000);
    CHECK_MSG(rc == H_AUTH_OK, "victim still locked out: %s", cond);
}

static void too_many_connections_from_one_ip(h_server_t *srv)
{
    enum { N = 25 };
    h_raw_t r[N];
    size_t mark = h_log_mark(srv);
    int accepted = 0, refused = 0;
    for (int i = 0; i < N; i++)
        CHECK(h_raw_connect(&r[i], srv->c2s_port));
    for (int i = 0; i < N; i++) {
        h_raw_sendf(&r[i], "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                           "xmlns:stream='http://etherx.jabber.org/streams' to='example.test' "
                           "version='1.0'>");
        if (h_raw_wait(&r[i], "</stream:features>", 5000))
            accepted++;
        else if (r[i].buf && strstr(r[i].buf, "<policy-violation"))
            refused++;
    }
    /* alice and bob hold 2 of the 20; a just-closed connection may still
     * be counted for a moment. */
    CHECK_MSG(accepted <= 18 && accepted >= 15 && accepted + refused == N,
              "%d accepted, %d refused", accepted, refused);
    CHECK(h_log_has(srv, mark, "event=limits.connections", "limit=20", NULL));
    for (int i = 0; i < N; i++)
        h_raw_close(&r[i]);
    h_still_chatting(P.alice, P.bob, "connection flood");
    /* Once they are gone, new connections are welcome again. */
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *c = NULL;
    for (int tries = 0; tries < 20 && !c; tries++) {
        c = h_client_new(ctx, srv, "mallory@example.test/again", "mallory-pw", H_STARTTLS);
        if (!h_client_wait_login(c, 5000)) {
            h_client_free(c);
            c = NULL;
            usleep(50 * 1000);
        }
    }
    CHECK_MSG(c != NULL, "no login possible after the connection flood");
    h_client_free(c);
    h_ctx_free(ctx);
}

static void stanza_flood_is_policy_violation(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *f = h_login(ctx, srv, "flooder@example.test/hose", "flooder-pw", 0);
    if (f) {
        /* Headlines to nobody are dropped silently: only the rate counts.
         * One write for all 200, so the client has nothing left to send
         * when the server hangs up (a write error would make libstrophe
         * drop the connection before it reads the stream error). */
        char *burst = malloc(200 * 96), *p = burst;
        for (int i = 0; i < 200; i++)
            p += sprintf(
                p, "<message to='nobody@example.test' type='headline'><body>%d</body></message>",
                i);
        h_send(f, "%s", burst);
        free(burst);
        CHECK(h_wait_disconnect(f, 5000));
        CHECK_MSG(f->stream_error == XMPP_SE_POLICY_VIOLATION, "stream error %d", f->stream_error);
        CHECK(h_log_has(srv, mark, "event=limits.stanza_rate", "jid=flooder@example.test/hose",
                        NULL));
    }
    h_client_free(f);
    h_ctx_free(ctx);
    h_still_chatting(P.alice, P.bob, "stanza flood");
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {.limits = LIMITS, .accounts = accounts};
    if (h_server_start(&srv, &opts) == 0) {
        P.ctx = h_ctx_new();
        P.alice = h_login(P.ctx, &srv, "alice@example.test/home", "alice-pw", 0);
        P.bob = h_login(P.ctx, &srv, "bob@example.test/home", "bob-pw", 0);
        H_RUN(malformed_xml_ends_only_that_stream, &srv);
        H_RUN(oversized_stanza_is_policy_violation, &srv);
        H_RUN(entity_expansion_is_restricted_xml, &srv);
        H_RUN(failed_login_flood_backs_off_per_account, &srv);
        H_RUN(too_many_connections_from_one_ip, &srv);
        H_RUN(stanza_flood_is_policy_violation, &srv);
        h_client_free(P.bob);
        h_client_free(P.alice);
        h_ctx_free(P.ctx);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
