/* test_hostile_auth.c — what an attacker can do before logging in (issue
 * #14): flood the SASL2 parser with repeated children, negotiate SASL for
 * ever, tell real accounts from unknown ones by the SCRAM challenge or by
 * PLAIN's timing, guess a component's secret, replay a captured FAST login,
 * and fill the back-off tables with made-up names and addresses.  Each group
 * runs against its own server with the limits it needs. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "victim@example.test", "victim-pw",
    NULL,
};
// clang-format on

#define NS_SASL2 "urn:xmpp:sasl:2"
#define UA_ID "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define UA "<user-agent xmlns='" NS_SASL2 "' id='" UA_ID "'/>"

static int connect_tls_from(h_raw_t *r, h_server_t *srv, const char *source)
{
    return h_raw_connect_from(r, source, srv->c2s_port) && h_raw_starttls(r, "example.test");
}

static int connect_tls(h_raw_t *r, h_server_t *srv)
{
    return connect_tls_from(r, srv, NULL);
}

/* base64 of a SCRAM client-first message for `user`. */
static char *client_first(const char *user)
{
    char msg[1200];
    unsigned char rnd[12];
    RAND_bytes(rnd, sizeof(rnd));
    char *nonce = h_b64_encode(rnd, sizeof(rnd));
    int n = snprintf(msg, sizeof(msg), "n,,n=%s,r=%s", user, nonce);
    free(nonce);
    return h_b64_encode((unsigned char *)msg, (size_t)n);
}

/* ---- finding 1: the SASL2 parser and SASL traffic before login ---- */

/* An <authenticate/> that would start a SCRAM exchange, with `n` copies of
 * <user-agent/>. */
static char *authenticate_with_user_agents(int n)
{
    static const char ua[] = UA;
    char *first = client_first("alice");
    size_t cap = (size_t)n * sizeof(ua) + 512;
    char *out = malloc(cap), *p = out;
    p += sprintf(p,
                 "<authenticate xmlns='" NS_SASL2 "' mechanism='SCRAM-SHA-256'>"
                 "<initial-response>%s</initial-response>",
                 first);
    free(first);
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s", ua);
    sprintf(p, "</authenticate><abort xmlns='" NS_SASL2 "'/>");
    return out;
}

/* The attack of the issue: 2,000 <user-agent/> children, then <abort/>,
 * round after round, reconnecting whenever the server ends the stream.  The
 * server used to keep (and leak) every copy but the last. */
static void repeated_user_agent_flood_keeps_memory(h_server_t *srv)
{
    enum { WARMUP = 20, ROUNDS = 300 };
    char *flood = authenticate_with_user_agents(2000);
    h_raw_t r;
    int connected = 0, reconnects = 0, answered = 0;
    long rss0 = 0;
    long long t0 = h_now_ms();
    for (int round = 0; round < WARMUP + ROUNDS; round++) {
        if (round == WARMUP)
            rss0 = h_server_rss_kb(srv);
        if (!connected) {
            if (!CHECK(connect_tls(&r, srv)))
                break;
            connected = 1;
            reconnects++;
        }
        h_raw_send(&r, flood, strlen(flood));
        if (h_raw_wait(&r, "<aborted", 10000)) {
            answered++;
            continue;
        }
        /* The server ended the stream (too many attempts): reconnect. */
        h_raw_close(&r);
        connected = 0;
    }
    if (connected)
        h_raw_close(&r);
    free(flood);
    usleep(300 * 1000);
    long rss1 = h_server_rss_kb(srv);
    printf("    %d rounds in %lld ms over %d connections, RSS %ld -> %ld KiB\n", WARMUP + ROUNDS,
           h_now_ms() - t0, reconnects, rss0, rss1);
    CHECK_MSG(rss0 > 0 && rss1 - rss0 < 16 * 1024, "RSS grew from %ld to %ld KiB", rss0, rss1);
    /* Aborts count as attempts now, so a stream does not last the flood. */
    CHECK_MSG(reconnects > 10, "only %d connections for %d rounds", reconnects, WARMUP + ROUNDS);
    CHECK(answered > 0);
    /* And the server is fine for everyone else. */
    CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "after-flood"));
    h_raw_close(&r);
}

/* Every child the server keeps something from may appear once; a second
 * one is a malformed-request that names it, before anything is stored. */
static void repeated_singletons_are_malformed(h_server_t *srv)
{
    static const struct {
        const char *xml, *text;
    } cases[] = {
        {UA UA, "&lt;user-agent/&gt; is repeated"},
        {"<initial-response>=</initial-response>", "&lt;initial-response/&gt; is repeated"},
        {"<bind xmlns='urn:xmpp:bind:0'/><bind xmlns='urn:xmpp:bind:0'/>",
         "&lt;bind/&gt; is repeated"},
        {"<bind xmlns='urn:xmpp:bind:0'><tag>a</tag><tag>b</tag></bind>",
         "&lt;tag/&gt; is repeated in &lt;bind/&gt;"},
        {"<resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>"
         "<resume xmlns='urn:xmpp:sm:3' previd='y' h='0'/>",
         "&lt;resume/&gt; is repeated"},
        {UA "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>"
            "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-EXPR'/>",
         "&lt;request-token/&gt; is repeated"},
        {UA "<fast xmlns='urn:xmpp:fast:0' count='1'/><fast xmlns='urn:xmpp:fast:0' count='2'/>",
         "&lt;fast/&gt; is repeated"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        h_raw_t r;
        if (!CHECK(connect_tls(&r, srv)))
            return;
        char *first = client_first("alice");
        h_raw_sendf(&r,
                    "<authenticate xmlns='" NS_SASL2 "' mechanism='SCRAM-SHA-256'>"
                    "<initial-response>%s</initial-response>%s</authenticate>",
                    first, cases[i].xml);
        free(first);
        CHECK_MSG(h_raw_wait(&r, "<failure xmlns='" NS_SASL2 "'><malformed-request", 5000),
                  "case %zu: %s", i, r.buf);
        CHECK_MSG(h_raw_wait(&r, cases[i].text, 5000), "case %zu: %s", i, r.buf);
        CHECK_MSG(!strstr(r.buf, "<challenge"), "case %zu: the exchange went on: %s", i, r.buf);
        h_raw_close(&r);
    }
}

/* An <abort/> ends an attempt like a failure: three and the stream goes.
 * It says nothing about a password, so it backs nobody off. */
static void aborts_count_as_attempts(h_server_t *srv)
{
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    if (CHECK(connect_tls(&r, srv))) {
        for (int i = 0; i < 4; i++) {
            char *first = client_first("alice");
            h_raw_sendf(&r,
                        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>"
                        "%s</auth><abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
                        first);
            free(first);
        }
        CHECK(h_raw_wait(&r, "<policy-violation", 5000));
        CHECK_MSG(h_raw_wait(&r, "too many failed authentication attempts", 5000), "%s", r.buf);
        CHECK(h_raw_wait_eof(&r, 5000));
        CHECK_MSG(h_log_count(srv, mark, "reason=aborted") == 3, "%d aborts logged",
                  h_log_count(srv, mark, "reason=aborted"));
    }
    h_raw_close(&r);
    /* Nobody is told to wait because of them. */
    CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "after-aborts"));
    h_raw_close(&r);
}

/* Answers to temporary-auth-failure do not count as attempts, but a stream
 * may send only so many SASL elements before it is authenticated. */
static void sasl_elements_are_bounded_before_login(h_server_t *srv)
{
    char cond[128];
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    /* One failure puts victim in back-off (auth_fail_per_account = 1). */
    if (CHECK(connect_tls(&r, srv))) {
        h_scram_t p = {.mech = "SCRAM-SHA-256", .user = "victim", .password = "guess"};
        CHECK(h_raw_scram(&r, &p, cond, sizeof(cond)) == H_AUTH_FAILED);
    }
    h_raw_close(&r);
    if (!CHECK(connect_tls(&r, srv)))
        return;
    char *burst = malloc(40 * 200), *q = burst;
    for (int i = 0; i < 40; i++) {
        char *first = client_first("victim");
        q += sprintf(q,
                     "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>"
                     "%s</auth>",
                     first);
        free(first);
    }
    h_raw_send(&r, burst, strlen(burst));
    free(burst);
    CHECK(h_raw_wait(&r, "<temporary-auth-failure", 5000));
    CHECK_MSG(h_raw_wait(&r, "too many SASL elements before login", 5000), "%s", r.buf);
    CHECK(h_raw_wait_eof(&r, 5000));
    int told = 0;
    for (const char *p = r.buf; (p = strstr(p, "<temporary-auth-failure")); p++)
        told++;
    CHECK_MSG(told >= 3 && told < 40, "%d answers", told);
    CHECK(h_log_has(srv, mark, "event=limits.sasl_elements", NULL));
    h_raw_close(&r);
}

/* Before login, SASL elements draw on the same token bucket as stanzas
 * (stanza_rate = 1, stanza_burst = 2 on this server). */
static void sasl_is_rate_limited_before_login(h_server_t *srv)
{
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    if (!CHECK(connect_tls(&r, srv)))
        return;
    char *first = client_first("alice");
    h_raw_sendf(
        &r,
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>%s</auth>"
        "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>"
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>%s</auth>",
        first, first);
    free(first);
    CHECK(h_raw_wait(&r, "<policy-violation", 5000));
    CHECK_MSG(h_raw_wait(&r, "stanza rate exceeded", 5000), "%s", r.buf);
    CHECK(h_raw_wait_eof(&r, 5000));
    CHECK(h_log_has(srv, mark, "event=limits.stanza_rate", "sasl=1", NULL));
    h_raw_close(&r);
    /* At a human pace, the same exchange works. */
    usleep(2100 * 1000);
    char cond[128] = "";
    h_scram_t p = {.mech = "SCRAM-SHA-256", .user = "alice", .password = "alice-pw"};
    if (CHECK(connect_tls(&r, srv)))
        CHECK_MSG(h_raw_scram(&r, &p, cond, sizeof(cond)) == H_AUTH_OK, "%s", cond);
    h_raw_close(&r);
}

/* ---- finding 5: the SCRAM challenge of an unknown user ---- */

typedef struct challenge {
    int iterations;
    char salt[64]; /* base64 */
    size_t salt_len;
} challenge_t;

static int scram_challenge(h_server_t *srv, const char *mech, const char *user, challenge_t *c)
{
    h_raw_t r;
    memset(c, 0, sizeof(*c));
    int ok = 0;
    if (connect_tls(&r, srv)) {
        char *first = client_first(user);
        h_raw_sendf(&r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>",
                    mech, first);
        free(first);
        if (h_raw_wait(&r, "</challenge>", 5000)) {
            const char *end = r.buf + r.seen - strlen("</challenge>"), *start = end;
            while (start > r.buf && start[-1] != '>')
                start--;
            char b64[512];
            snprintf(b64, sizeof(b64), "%.*s", (int)(end - start), start);
            size_t n;
            char *text = (char *)h_b64_decode(b64, &n);
            const char *s = text ? strstr(text, ",s=") : NULL;
            const char *i = text ? strstr(text, ",i=") : NULL;
            if (s && i && i > s) {
                snprintf(c->salt, sizeof(c->salt), "%.*s", (int)(i - s - 3), s + 3);
                unsigned char *raw = h_b64_decode(c->salt, &c->salt_len);
                free(raw);
                c->iterations = atoi(i + 3);
                ok = 1;
            }
            free(text);
        }
    }
    h_raw_close(&r);
    return CHECK_MSG(ok, "no challenge for %s (%s)", user, mech);
}

/* What the server used to send for an unknown user: a salt anyone could
 * compute from the name. */
static void public_fake_salt(const char *user, char *out, size_t outlen)
{
    char in[256];
    unsigned char d[32];
    int n = snprintf(in, sizeof(in), "parley scram fake salt\n%s", user);
    EVP_Digest(in, (size_t)n, d, NULL, EVP_sha256(), NULL);
    char *b = h_b64_encode(d, 16);
    snprintf(out, outlen, "%s", b);
    free(b);
}

static challenge_t ghost_before_restart;

static void scram_challenge_does_not_tell_unknown_users(h_server_t *srv)
{
    challenge_t alice, ghost, ghost2, alice1, ghost1;
    if (!scram_challenge(srv, "SCRAM-SHA-256", "alice", &alice) ||
        !scram_challenge(srv, "SCRAM-SHA-256", "ghost", &ghost) ||
        !scram_challenge(srv, "SCRAM-SHA-256", "ghost", &ghost2) ||
        !scram_challenge(srv, "SCRAM-SHA-1", "alice", &alice1) ||
        !scram_challenge(srv, "SCRAM-SHA-1", "ghost", &ghost1))
        return;
    /* The configured count (auth.scram_iterations = 200000 here), for both. */
    CHECK_MSG(alice.iterations == 200000 && ghost.iterations == alice.iterations,
              "i=%d for alice, i=%d for ghost", alice.iterations, ghost.iterations);
    CHECK_MSG(alice1.iterations == ghost1.iterations, "SHA-1: i=%d / i=%d", alice1.iterations,
              ghost1.iterations);
    CHECK_MSG(ghost.salt_len == alice.salt_len && ghost1.salt_len == alice1.salt_len,
              "salts of %zu and %zu bytes", ghost.salt_len, alice.salt_len);
    /* Stable for one name, as a real account's is... */
    CHECK_MSG(strcmp(ghost.salt, ghost2.salt) == 0, "%s / %s", ghost.salt, ghost2.salt);
    /* ...with a salt of its own per hash, as a real account has... */
    CHECK(strcmp(alice.salt, alice1.salt) != 0);
    CHECK_MSG(strcmp(ghost.salt, ghost1.salt) != 0, "SHA-1 and SHA-256 salts equal: %s",
              ghost.salt);
    /* ...and not what anyone can compute from the name. */
    char pub[64];
    public_fake_salt("ghost", pub, sizeof(pub));
    CHECK_MSG(strcmp(ghost.salt, pub) != 0, "the salt is the public function of the name");
    ghost_before_restart = ghost;
    /* The end of the exchange is the same as a wrong password's. */
    char c1[128] = "", c2[128] = "";
    h_raw_t r;
    h_scram_t bad = {.mech = "SCRAM-SHA-256", .user = "alice", .password = "wrong"};
    h_scram_t unknown = {.mech = "SCRAM-SHA-256", .user = "ghost", .password = "wrong"};
    int rc1 = connect_tls(&r, srv) ? h_raw_scram(&r, &bad, c1, sizeof(c1)) : -2;
    h_raw_close(&r);
    int rc2 = connect_tls(&r, srv) ? h_raw_scram(&r, &unknown, c2, sizeof(c2)) : -2;
    h_raw_close(&r);
    CHECK_MSG(rc1 == H_AUTH_FAILED && rc2 == H_AUTH_FAILED && !strcmp(c1, "not-authorized") &&
                  !strcmp(c2, "not-authorized"),
              "wrong password: %d %s, unknown user: %d %s", rc1, c1, rc2, c2);
}

/* The secret behind the unknown users' salts survives a restart. */
static void unknown_user_salt_survives_restart(h_server_t *srv)
{
    challenge_t ghost;
    if (!ghost_before_restart.salt[0] || !CHECK(h_server_restart(srv) == 0) ||
        !scram_challenge(srv, "SCRAM-SHA-256", "ghost", &ghost))
        return;
    CHECK_MSG(strcmp(ghost.salt, ghost_before_restart.salt) == 0, "%s before, %s after",
              ghost_before_restart.salt, ghost.salt);
    CHECK(ghost.iterations == ghost_before_restart.iterations);
    CHECK(h_log_has(srv, 0, "event=server.ready", NULL));
}

/* ---- finding 6: PLAIN takes as long for an unknown user ---- */

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Milliseconds the server took to refuse a PLAIN login, or -1. */
static long long plain_refusal_ms(h_server_t *srv, const char *user)
{
    h_raw_t r;
    char cond[128] = "";
    long long ms = -1;
    if (connect_tls(&r, srv)) {
        long long t0 = h_now_ms();
        int rc = h_raw_plain(&r, user, "not-the-password", cond, sizeof(cond));
        if (CHECK_MSG(rc == H_AUTH_FAILED && !strcmp(cond, "not-authorized"), "%s: %d %s", user, rc,
                      cond))
            ms = h_now_ms() - t0;
    }
    h_raw_close(&r);
    return ms;
}

/* With 200,000 PBKDF2 iterations a real account's check takes tens of ms;
 * an unknown name used to be refused at once.  Medians of interleaved
 * attempts, and a generous factor: load slows both sides alike. */
static void plain_unknown_user_takes_as_long(h_server_t *srv)
{
    enum { N = 9 };
    long long known[N], unknown[N];
    for (int i = 0; i < N; i++) {
        known[i] = plain_refusal_ms(srv, "alice");
        unknown[i] = plain_refusal_ms(srv, "nobody-here");
    }
    qsort(known, N, sizeof(known[0]), cmp_ll);
    qsort(unknown, N, sizeof(unknown[0]), cmp_ll);
    long long k = known[N / 2], u = unknown[N / 2];
    printf("    PLAIN refusal, median of %d: existing account %lld ms, unknown %lld ms\n", N, k, u);
    CHECK_MSG(k >= 0 && u >= 0 && 2 * u >= k, "existing %lld ms, unknown %lld ms", k, u);
}

/* ---- finding 15: a captured FAST login replayed ---- */

/* <authenticate/> for HT-SHA-256-NONE with `token`: the same bytes on any
 * connection, which is what makes a captured one worth replaying. */
static void fast_message(const char *token, const char *extra, char *out, size_t outlen)
{
    unsigned char mac[32], msg[64];
    unsigned len = 32;
    HMAC(EVP_sha256(), token, (int)strlen(token), (const unsigned char *)"Initiator", 9, mac, &len);
    memcpy(msg, "alice", 5);
    msg[5] = 0;
    memcpy(msg + 6, mac, 32);
    char *b = h_b64_encode(msg, 38);
    snprintf(out, outlen,
             "<authenticate xmlns='" NS_SASL2 "' mechanism='HT-SHA-256-NONE'>"
             "<initial-response>%s</initial-response>" UA "%s</authenticate>",
             b, extra);
    free(b);
}

/* Sends `msg` on a new connection: H_AUTH_OK (the whole <success/> is then
 * in out, if given) or H_AUTH_FAILED. */
static int fast_send(h_server_t *srv, const char *msg, char *out, size_t outlen)
{
    h_raw_t r;
    int rc = H_AUTH_ERROR;
    if (connect_tls(&r, srv)) {
        h_raw_send(&r, msg, strlen(msg));
        for (long long deadline = h_now_ms() + 5000; h_now_ms() < deadline && rc == H_AUTH_ERROR;) {
            if (strstr(r.buf, "</success>"))
                rc = H_AUTH_OK;
            else if (strstr(r.buf, "<failure"))
                rc = H_AUTH_FAILED;
            else if (!h_raw_poll(&r))
                h_raw_wait(&r, ">", 100);
        }
        if (out)
            snprintf(out, outlen, "%s", r.buf ? r.buf : "");
    }
    h_raw_close(&r);
    return rc;
}

static int token_in(const char *text, char *out, size_t outlen)
{
    const char *t = strstr(text, "<token xmlns='urn:xmpp:fast:0'");
    return t && h_xml_attr_in(t, "token", out, outlen);
}

static void fast_replay_is_refused(h_server_t *srv)
{
    h_raw_t r;
    char cond[128], t1[128] = "", t2[128] = "", t3[128] = "", t4[128] = "";
    char msg[1024], out[8192];
    h_scram_t p = {.mech = "SCRAM-SHA-256",
                   .user = "alice",
                   .password = "alice-pw",
                   .sasl2 =
                       UA "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>"};
    if (connect_tls(&r, srv) && CHECK(h_raw_scram(&r, &p, cond, sizeof(cond)) == H_AUTH_OK))
        CHECK(token_in(r.buf, t1, sizeof(t1)));
    h_raw_close(&r);
    if (!t1[0])
        return;
    /* A client that sends no count logs in, and is handed a new token. */
    fast_message(t1, "<fast xmlns='urn:xmpp:fast:0'/>", msg, sizeof(msg));
    CHECK(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_OK);
    CHECK_MSG(token_in(out, t2, sizeof(t2)) && strcmp(t1, t2) != 0, "no new token: %s", out);
    /* The same bytes, captured and sent again, do not log anyone in. */
    size_t mark = h_log_mark(srv);
    CHECK_MSG(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_FAILED, "replay accepted: %s", out);
    CHECK(strstr(out, "<not-authorized"));
    CHECK(h_log_has(srv, mark, "event=c2s.fast_replay", "jid=alice@example.test", NULL));
    /* The honest client goes on with its new token. */
    if (!t2[0])
        return;
    fast_message(t2, "<fast xmlns='urn:xmpp:fast:0'/>", msg, sizeof(msg));
    CHECK(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_OK);
    CHECK(token_in(out, t3, sizeof(t3)));
    if (!t3[0])
        return;
    /* With a count, a replay is refused as before... */
    fast_message(t3, "<fast xmlns='urn:xmpp:fast:0' count='7'/>", msg, sizeof(msg));
    CHECK(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_OK);
    CHECK(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_FAILED);
    /* ...and counts belong to a token: a new one starts again from 1
     * (XEP-0484: the client resets its count when the token changes). */
    fast_message(t3,
                 "<fast xmlns='urn:xmpp:fast:0' count='8'/>"
                 "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>",
                 msg, sizeof(msg));
    CHECK(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_OK);
    CHECK(token_in(out, t4, sizeof(t4)));
    if (!t4[0])
        return;
    fast_message(t4, "<fast xmlns='urn:xmpp:fast:0' count='1'/>", msg, sizeof(msg));
    CHECK_MSG(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_OK, "count 1 on a new token: %s",
              out);
    CHECK(fast_send(srv, msg, out, sizeof(out)) == H_AUTH_FAILED);
}

/* ---- finding 9: component secrets ---- */

/* One XEP-0114 handshake from `source`: 1 accepted, 0 refused (the stream
 * error's text in why). */
static int component_handshake(h_server_t *srv, const char *source, const char *secret, char *why,
                               size_t whylen)
{
    h_raw_t r;
    int ok = 0;
    snprintf(why, whylen, "no answer");
    if (h_raw_connect_from(&r, source, srv->comp_port) &&
        h_raw_sendf(&r, "<stream:stream xmlns='jabber:component:accept' "
                        "xmlns:stream='http://etherx.jabber.org/streams' "
                        "to='bot.example.test'>") &&
        h_raw_wait(&r, "<stream:stream", 5000) && h_raw_wait(&r, ">", 5000)) {
        char id[64] = "";
        const char *st = strstr(r.buf, "<stream:stream");
        h_xml_attr_in(st, "id", id, sizeof(id));
        char input[256];
        int n = snprintf(input, sizeof(input), "%s%s", id, secret);
        unsigned char md[20];
        EVP_Digest(input, (size_t)n, md, NULL, EVP_sha1(), NULL);
        char hex[41];
        for (int i = 0; i < 20; i++)
            sprintf(hex + 2 * i, "%02x", md[i]);
        h_raw_sendf(&r, "<handshake>%s</handshake>", hex);
        for (long long deadline = h_now_ms() + 5000; h_now_ms() < deadline;) {
            if (strstr(r.buf, "<handshake/>")) {
                ok = 1;
                break;
            }
            const char *e = strstr(r.buf, "<stream:error>");
            if (e && strstr(e, "</stream:error>")) {
                const char *cond = e + strlen("<stream:error><");
                const char *t = strstr(e, "<text");
                t = t ? strchr(t, '>') : NULL;
                snprintf(why, whylen, "%.*s: %.*s", (int)strcspn(cond, " />"), cond,
                         t ? (int)strcspn(t + 1, "<") : 0, t ? t + 1 : "");
                break;
            }
            if (!h_raw_poll(&r) && !h_raw_wait(&r, ">", 100) && r.eof)
                break;
        }
    }
    h_raw_close(&r);
    return ok;
}

/* The client login back-off is per IP; component failures used to feed it
 * (auth_fail_per_ip = 2 on this server), and nothing slowed down guessing
 * the secret itself. */
static void component_guessing_backs_off_alone(h_server_t *srv)
{
    char why[256];
    size_t mark = h_log_mark(srv);
    for (int i = 0; i < 5; i++) {
        CHECK(!component_handshake(srv, NULL, "guess", why, sizeof(why)));
        CHECK_MSG(strncmp(why, "not-authorized", 14) == 0, "guess %d: %s", i + 1, why);
    }
    /* Five failures (component_fail_per_ip): now even the right secret
     * waits, and is told why. */
    CHECK(!component_handshake(srv, NULL, "s3cret", why, sizeof(why)));
    CHECK_MSG(strstr(why, "policy-violation") && strstr(why, "try again in"), "%s", why);
    CHECK(h_log_has(srv, mark, "event=limits.component_backoff", "domain=bot.example.test", NULL));
    /* Clients on the same address are not slowed down by it. */
    h_raw_t r;
    char cond[128] = "";
    if (CHECK(connect_tls(&r, srv))) {
        h_scram_t p = {.mech = "SCRAM-SHA-256", .user = "alice", .password = "alice-pw"};
        int rc = h_raw_scram(&r, &p, cond, sizeof(cond));
        CHECK_MSG(rc == H_AUTH_OK, "client login after component failures: %d %s", rc, cond);
    }
    h_raw_close(&r);
    /* Once the back-off (auth_backoff_max = 2s) is over, the secret works. */
    int ok = 0;
    for (long long deadline = h_now_ms() + 8000; !ok && h_now_ms() < deadline;) {
        ok = component_handshake(srv, NULL, "s3cret", why, sizeof(why));
        if (!ok)
            usleep(250 * 1000);
    }
    CHECK_MSG(ok, "the component could not connect again: %s", why);
}

/* Guesses spread over many addresses still count for the component's
 * domain. */
static void component_guessing_from_many_addresses(h_server_t *srv)
{
    char why[256], source[32];
    for (int i = 0; i < 5; i++) {
        snprintf(source, sizeof(source), "127.0.9.%d", i + 1);
        CHECK(!component_handshake(srv, source, "guess", why, sizeof(why)));
    }
    CHECK(!component_handshake(srv, "127.0.9.100", "s3cret", why, sizeof(why)));
    CHECK_MSG(strstr(why, "policy-violation") && strstr(why, "try again in"), "%s", why);
    int ok = 0;
    for (long long deadline = h_now_ms() + 8000; !ok && h_now_ms() < deadline;) {
        ok = component_handshake(srv, NULL, "s3cret", why, sizeof(why));
        if (!ok)
            usleep(250 * 1000);
    }
    CHECK_MSG(ok, "the component could not connect again: %s", why);
}

/* ---- the back-off tables (limits.max_tracked_failures = 100 here) ---- */

/* One connection from `source` that fails SCRAM for two made-up names
 * (garbage proofs, no waiting between the steps). */
static void fail_two_names(h_server_t *srv, const char *source, int k)
{
    h_raw_t r;
    if (connect_tls_from(&r, srv, source)) {
        for (int j = 0; j < 2; j++) {
            char user[64];
            snprintf(user, sizeof(user), "made-up-%d-%d-%08x", k, j, (unsigned)rand());
            char *first = client_first(user);
            h_raw_sendf(&r,
                        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                        "mechanism='SCRAM-SHA-256'>%s</auth>"
                        "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA</response>",
                        first);
            free(first);
        }
        h_raw_wait(&r, "</failure>", 5000);
        h_raw_wait(&r, "</failure>", 5000);
    }
    h_raw_close(&r);
}

static int victim_login(h_server_t *srv, const char *source, const char *password, char *cond,
                        size_t condlen)
{
    h_raw_t r;
    int rc = H_AUTH_ERROR;
    snprintf(cond, condlen, "no stream");
    if (connect_tls_from(&r, srv, source)) {
        h_scram_t p = {.mech = "SCRAM-SHA-256", .user = "victim", .password = password};
        rc = h_raw_scram(&r, &p, cond, condlen);
    }
    h_raw_close(&r);
    return rc;
}

static void backoff_tables_stay_bounded(h_server_t *srv)
{
    char cond[128];
    /* victim: three failures (auth_fail_per_account = 3) from 127.0.0.2. */
    for (int i = 0; i < 3; i++)
        CHECK(victim_login(srv, "127.0.0.2", "guess", cond, sizeof(cond)) == H_AUTH_FAILED);
    long rss0 = h_server_rss_kb(srv);
    size_t mark = h_log_mark(srv);
    /* 400 addresses, 800 made-up names: far past the bound of 100. */
    for (int k = 0; k < 400; k++) {
        char source[32];
        snprintf(source, sizeof(source), "127.0.%d.%d", 10 + k / 200, 1 + k % 200);
        fail_two_names(srv, source, k);
    }
    long rss1 = h_server_rss_kb(srv);
    printf("    RSS %ld -> %ld KiB\n", rss0, rss1);
    CHECK_MSG(rss1 - rss0 < 16 * 1024, "RSS %ld -> %ld KiB", rss0, rss1);
    CHECK(h_log_has(srv, mark, "event=limits.evicted", "table=accounts", "cap=100", NULL));
    CHECK(h_log_has(srv, mark, "event=limits.evicted", "table=ips", "cap=100", NULL));
    /* victim's record lived through it: one more failure (from elsewhere)
     * is its fourth, which backs it off, right password or not. */
    CHECK(victim_login(srv, "127.0.0.3", "guess", cond, sizeof(cond)) == H_AUTH_FAILED);
    int rc = victim_login(srv, "127.0.0.4", "victim-pw", cond, sizeof(cond));
    CHECK_MSG(rc == H_AUTH_FAILED && !strcmp(cond, "temporary-auth-failure"),
              "victim's back-off was forgotten: %d %s", rc, cond);
    /* And everyone else still logs in. */
    h_raw_t r;
    CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "after-table-flood"));
    h_raw_close(&r);
}

/* ---- runner ---- */

static void start(h_server_t *srv, const char *limits, const char *host_extra)
{
    h_server_opts_t opts = {.accounts = accounts, .limits = limits, .host_extra = host_extra};
    h_server_start(srv, &opts);
}

int main(void)
{
    h_init();
    /* Under AddressSanitizer freed memory waits in a quarantine (256 MB by
     * default) that RSS would count as growth: keep it small for these
     * servers, so the memory bounds mean the same in both builds. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=4", asan ? asan : "",
             asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    h_server_t sasl, rate, enumeration, comp, tables;

    start(&sasl, "auth_fail_per_ip = 0; auth_fail_per_account = 1; auth_backoff_max = \"5s\";",
          NULL);
    if (sasl.running) {
        H_RUN(repeated_singletons_are_malformed, &sasl);
        H_RUN(repeated_user_agent_flood_keeps_memory, &sasl);
        H_RUN(aborts_count_as_attempts, &sasl);
        H_RUN(sasl_elements_are_bounded_before_login, &sasl);
    }
    h_server_stop(&sasl);

    start(&rate, "auth_fail_per_ip = 0; stanza_rate = 1; stanza_burst = 2;", NULL);
    if (rate.running)
        H_RUN(sasl_is_rate_limited_before_login, &rate);
    h_server_stop(&rate);

    start(&enumeration, "auth_fail_per_ip = 0; auth_fail_per_account = 0;",
          "auth = { scram_iterations = 200000; };");
    if (enumeration.running) {
        H_RUN(scram_challenge_does_not_tell_unknown_users, &enumeration);
        H_RUN(plain_unknown_user_takes_as_long, &enumeration);
        H_RUN(fast_replay_is_refused, &enumeration);
        H_RUN(unknown_user_salt_survives_restart, &enumeration);
    }
    h_server_stop(&enumeration);

    start(&comp, "auth_fail_per_ip = 2; auth_backoff_max = \"2s\";", NULL);
    if (comp.running) {
        H_RUN(component_guessing_backs_off_alone, &comp);
        H_RUN(component_guessing_from_many_addresses, &comp);
    }
    h_server_stop(&comp);

    start(&tables,
          "max_tracked_failures = 100; auth_fail_per_ip = 3; auth_fail_per_account = 3; "
          "auth_backoff_max = \"60s\"; conn_per_ip = 0;",
          NULL);
    if (tables.running)
        H_RUN(backoff_tables_stay_bounded, &tables);
    h_server_stop(&tables);
    return h_finish("test_hostile_auth");
}
