/* test_sasl2.c — the phone that wakes up (issue #5 point 8): SASL2
 * (XEP-0388) without a stream restart, bind2 (XEP-0386) with stream
 * management and CSI inline, stream resumption inside <authenticate/>, and
 * FAST tokens (XEP-0484, HT-SHA-256-NONE/-EXPR) that log in with one
 * message: replay counts, invalidation, mechanism binding, restarts. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw", "bob@example.test", "bob-pw",
    NULL,
};
// clang-format on

#define UA "<user-agent xmlns='urn:xmpp:sasl:2' id='d4565fa7-4d72-4749-b3d3-740edbf87770'>" \
           "<software>Test</software><device>Phone</device></user-agent>"
#define UA2 "<user-agent xmlns='urn:xmpp:sasl:2' id='another-device'/>"

static int connect_tls(h_raw_t *r, h_server_t *srv)
{
    return CHECK(h_raw_connect(r, srv->c2s_port)) && CHECK(h_raw_starttls(r, "example.test"));
}

/* SCRAM-SHA-256 over SASL2 with `inline_xml`; 1 on success (the whole
 * <success/> element is then in r->buf). */
static int sasl2_login(h_raw_t *r, h_server_t *srv, const char *user, const char *pw,
                       const char *inline_xml)
{
    char cond[256];
    h_scram_t p = {.mech = "SCRAM-SHA-256", .user = user, .password = pw, .sasl2 = inline_xml};
    if (!connect_tls(r, srv))
        return 0;
    int rc = h_raw_scram(r, &p, cond, sizeof(cond));
    return CHECK_MSG(rc == H_AUTH_OK, "SASL2 login: %d %s", rc, cond);
}

/* The text of the last <success …>…</success> received. */
static const char *last_success(h_raw_t *r)
{
    const char *p = NULL;
    for (const char *q = r->buf; (q = strstr(q, "<success")); q++)
        p = q;
    return p ? p : "";
}

static void features_offer_sasl2_bind2_fast(h_server_t *srv)
{
    h_raw_t r;
    if (connect_tls(&r, srv)) {
        CHECK(strstr(r.buf, "<authentication xmlns='urn:xmpp:sasl:2'><mechanism>"));
        CHECK(strstr(r.buf, "<bind xmlns='urn:xmpp:bind:0'><inline>"));
        CHECK(strstr(r.buf, "<feature var='urn:xmpp:sm:3'/>"));
        CHECK(strstr(r.buf, "<fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE"));
    }
    h_raw_close(&r);
}

/* No restart after SASL2: the stream goes on, and legacy binding works. */
static void sasl2_then_legacy_bind(h_server_t *srv)
{
    h_raw_t r;
    if (sasl2_login(&r, srv, "alice", "alice-pw", UA)) {
        CHECK(strstr(last_success(&r), "<authorization-identifier>alice@example.test<"));
        h_raw_sendf(&r, "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                        "<resource>legacy</resource></bind></iq>");
        CHECK(h_raw_wait(&r, "alice@example.test/legacy</jid>", 5000));
        h_raw_sendf(&r, "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
        CHECK(h_raw_wait(&r, "id='p1'", 5000));
    }
    h_raw_close(&r);
    /* A wrong password under SASL2: a SASL2 <failure/> with RFC 6120's
     * condition, and the stream stays open for another try. */
    char cond[128];
    h_scram_t bad = {.mech = "SCRAM-SHA-256", .user = "alice", .password = "nope", .sasl2 = ""};
    if (connect_tls(&r, srv)) {
        CHECK(h_raw_scram(&r, &bad, cond, sizeof(cond)) == H_AUTH_FAILED);
        CHECK_MSG(!strcmp(cond, "not-authorized"), "condition %s", cond);
        CHECK(strstr(r.buf, "<failure xmlns='urn:xmpp:sasl:2'><not-authorized"));
        h_raw_sendf(&r, "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='X-NOPE'>"
                        "<initial-response>=</initial-response></authenticate>");
        CHECK(h_raw_wait(&r, "<invalid-mechanism", 5000));
        h_raw_sendf(&r, "<response xmlns='urn:xmpp:sasl:2'>AAAA</response>");
        CHECK(h_raw_wait(&r, "<failure", 5000));
    }
    h_raw_close(&r);
}

static char sm_id[64];

/* One round trip: authenticated, bound (tag "mobile" → client kind),
 * SM enabled with resumption, and CSI inactive. */
static void bind2_in_one_round_trip(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_raw_t r;
    if (!bob || !sasl2_login(&r, srv, "alice", "alice-pw",
                             UA "<bind xmlns='urn:xmpp:bind:0'><tag>mobile</tag>"
                                "<enable xmlns='urn:xmpp:sm:3' resume='true'/>"
                                "<inactive xmlns='urn:xmpp:csi:0'/></bind>")) {
        h_client_free(bob);
        h_ctx_free(ctx);
        return;
    }
    const char *succ = last_success(&r);
    CHECK_MSG(strstr(succ, "<authorization-identifier>alice@example.test/mobile-"), "%s", succ);
    CHECK(strstr(succ, "<bound xmlns='urn:xmpp:bind:0'><enabled xmlns='urn:xmpp:sm:3' id='"));
    const char *en = strstr(succ, "<enabled");
    CHECK(en && h_xml_attr_in(en, "id", sm_id, sizeof(sm_id)));
    char full[128];
    const char *az = strstr(succ, "<authorization-identifier>");
    snprintf(full, sizeof(full), "%.*s", az ? (int)strcspn(az + 26, "<") : 0, az ? az + 26 : "");
    /* Bound and SM on: a stanza is counted. */
    h_raw_sendf(&r, "<presence/><r xmlns='urn:xmpp:sm:3'/>");
    CHECK(h_raw_wait(&r, "<a xmlns='urn:xmpp:sm:3' h='1'/>", 5000));
    /* CSI inactive: bob's presence waits, his message does not. */
    size_t start = r.len;
    h_send(bob, "<presence to='%s'><show>away</show></presence>", full);
    h_settle(bob);
    h_raw_sendf(&r, "<iq type='get' id='s1'><ping xmlns='urn:xmpp:ping'/></iq>");
    CHECK(h_raw_wait(&r, "id='s1'", 5000));
    CHECK(!strstr(r.buf + start, "<show>away</show>"));
    h_send(bob, "<message to='%s' type='chat'><body>hi</body></message>", full);
    h_settle(bob);
    CHECK(h_raw_wait(&r, "<show>away</show>", 5000));
    CHECK(h_raw_wait(&r, "<body>hi</body>", 5000));
    /* The connection dies; the next test resumes it inline. */
    h_raw_sendf(&r, "<a xmlns='urn:xmpp:sm:3' h='0'/>");
    size_t mark = h_log_mark(srv);
    h_raw_close(&r);
    CHECK(h_log_wait(srv, mark, 5000, "event=sm.detached", NULL));
    h_send(bob, "<message to='%s' type='chat'><body>while asleep</body></message>", full);
    h_settle(bob);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* bind2 can switch carbons on: the new session gets copies of a chat
 * addressed to the user's other client. */
static void bind2_enables_carbons(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_client_t *desk = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    h_raw_t r;
    memset(&r, 0, sizeof(r));
    r.fd = -1;
    if (bob && desk &&
        sasl2_login(&r, srv, "alice", "alice-pw",
                    UA "<bind xmlns='urn:xmpp:bind:0'><tag>carb</tag>"
                       "<enable xmlns='urn:xmpp:carbons:2'/></bind>")) {
        h_raw_sendf(&r, "<presence/>");
        h_send(bob, "<message to='alice@example.test/desk' type='chat'><body>copy me</body></message>");
        h_settle(bob);
        CHECK(h_raw_wait(&r, "<received xmlns='urn:xmpp:carbons:2'>", 5000));
        CHECK(h_raw_wait(&r, "<body>copy me</body>", 5000));
    }
    h_raw_close(&r);
    h_client_free(desk);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Inline resumption: <resumed/> inside <success/>, then everything the
 * client had not acknowledged. */
static void resume_inside_authenticate(h_server_t *srv)
{
    h_raw_t r;
    char inl[512];
    snprintf(inl, sizeof(inl), UA "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>", sm_id);
    if (!sm_id[0] || !sasl2_login(&r, srv, "alice", "alice-pw", inl))
        return;
    const char *succ = last_success(&r);
    CHECK_MSG(strstr(succ, "<resumed xmlns='urn:xmpp:sm:3' previd='"), "%s", succ);
    CHECK(strstr(succ, "<authorization-identifier>alice@example.test/mobile-"));
    CHECK(h_raw_wait(&r, "<body>hi</body>", 5000));
    CHECK(h_raw_wait(&r, "<body>while asleep</body>", 5000));
    h_raw_sendf(&r, "</stream:stream>");
    h_raw_wait_eof(&r, 5000);
    h_raw_close(&r);
    /* A resumption that fails falls back to the bind2 in the same request. */
    snprintf(inl, sizeof(inl),
             UA "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>"
                "<bind xmlns='urn:xmpp:bind:0'><tag>fallback</tag></bind>",
             sm_id);
    if (sasl2_login(&r, srv, "alice", "alice-pw", inl)) {
        succ = last_success(&r);
        CHECK_MSG(strstr(succ, "<failed xmlns='urn:xmpp:sm:3'><item-not-found"), "%s", succ);
        CHECK_MSG(strstr(succ, "<bound xmlns='urn:xmpp:bind:0'"), "%s", succ);
        CHECK(strstr(succ, "alice@example.test/fallback-"));
    }
    h_raw_close(&r);
}

/* HT-SHA-256-*: username NUL HMAC(token, "Initiator" || cb). */
static int fast_login(h_raw_t *r, h_server_t *srv, const char *mech, const char *token,
                      const char *extra, char *cond, size_t condlen)
{
    if (!connect_tls(r, srv))
        return H_AUTH_ERROR;
    unsigned char data[128], mac[32];
    size_t n = 9;
    memcpy(data, "Initiator", 9);
    if (!strcmp(mech, "HT-SHA-256-EXPR"))
        n += h_raw_channel_binding(r, "tls-exporter", data + n);
    unsigned len = 32;
    HMAC(EVP_sha256(), token, (int)strlen(token), data, n, mac, &len);
    unsigned char msg[64];
    memcpy(msg, "alice", 5);
    msg[5] = 0;
    memcpy(msg + 6, mac, 32);
    char *b = h_b64_encode(msg, 38);
    h_raw_sendf(r,
                "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='%s'>"
                "<initial-response>%s</initial-response>%s</authenticate>",
                mech, b, extra);
    free(b);
    for (long long deadline = h_now_ms() + 5000; h_now_ms() < deadline;) {
        if (strstr(r->buf, "</success>")) {
            /* Mutual authentication: the server proves it knows the token. */
            memcpy(data, "Responder", 9);
            HMAC(EVP_sha256(), token, (int)strlen(token), data, n, mac, &len);
            char *want = h_b64_encode(mac, 32);
            int ok = strstr(r->buf, want) != NULL;
            free(want);
            snprintf(cond, condlen, "%s", ok ? "" : "server proof wrong");
            return ok ? H_AUTH_OK : H_AUTH_ERROR;
        }
        const char *f = strstr(r->buf, "<failure xmlns='urn:xmpp:sasl:2'><");
        if (f) {
            snprintf(cond, condlen, "%.*s", (int)strcspn(f + 34, " />"), f + 34);
            return H_AUTH_FAILED;
        }
        if (!h_raw_poll(r))
            h_raw_wait(r, ">", 200);
    }
    snprintf(cond, condlen, "no answer");
    return H_AUTH_ERROR;
}

static int token_of(h_raw_t *r, char *out, size_t outlen)
{
    const char *t = strstr(last_success(r), "<token xmlns='urn:xmpp:fast:0'");
    return t && h_xml_attr_in(t, "token", out, outlen) && strstr(t, "expiry='");
}

static void fast_tokens(h_server_t *srv)
{
    h_raw_t r;
    char tok[128] = "", cond[128];
    if (sasl2_login(&r, srv, "alice", "alice-pw",
                    UA "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>"))
        CHECK_MSG(token_of(&r, tok, sizeof(tok)), "no token in %s", last_success(&r));
    h_raw_close(&r);
    if (!tok[0])
        return;
    /* One message, and bound at once with bind2. */
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok,
                     UA "<fast xmlns='urn:xmpp:fast:0' count='1'/>"
                        "<bind xmlns='urn:xmpp:bind:0'><tag>fast</tag></bind>",
                     cond, sizeof(cond)) == H_AUTH_OK);
    CHECK_MSG(strstr(last_success(&r), "alice@example.test/fast-"), "%s / %s", cond, r.buf);
    h_raw_close(&r);
    /* The same count again is a replay. */
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok, UA "<fast xmlns='urn:xmpp:fast:0' count='1'/>",
                     cond, sizeof(cond)) == H_AUTH_FAILED);
    CHECK_MSG(!strcmp(cond, "not-authorized"), "%s", cond);
    h_raw_close(&r);
    /* Another device's id, another mechanism, a wrong token, no <fast/>,
     * no user-agent: all refused. */
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok, UA2 "<fast xmlns='urn:xmpp:fast:0'/>", cond,
                     sizeof(cond)) == H_AUTH_FAILED);
    h_raw_close(&r);
    CHECK(fast_login(&r, srv, "HT-SHA-256-EXPR", tok, UA "<fast xmlns='urn:xmpp:fast:0'/>", cond,
                     sizeof(cond)) == H_AUTH_FAILED);
    h_raw_close(&r);
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", "not-the-token", UA "<fast xmlns='urn:xmpp:fast:0'/>",
                     cond, sizeof(cond)) == H_AUTH_FAILED);
    h_raw_close(&r);
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok, UA, cond, sizeof(cond)) == H_AUTH_FAILED);
    CHECK_MSG(!strcmp(cond, "invalid-mechanism"), "%s", cond);
    h_raw_close(&r);
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok, "<fast xmlns='urn:xmpp:fast:0'/>", cond,
                     sizeof(cond)) == H_AUTH_FAILED);
    CHECK_MSG(!strcmp(cond, "malformed-request"), "%s", cond);
    h_raw_close(&r);
    /* Tokens are stored: a restart changes nothing. */
    if (CHECK(h_server_restart(srv) == 0)) {
        CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok,
                         UA "<fast xmlns='urn:xmpp:fast:0' count='2'/>", cond,
                         sizeof(cond)) == H_AUTH_OK);
        h_raw_close(&r);
    }
    /* Invalidation: accepted once more, never again. */
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok,
                     UA "<fast xmlns='urn:xmpp:fast:0' count='3' invalidate='true'/>", cond,
                     sizeof(cond)) == H_AUTH_OK);
    h_raw_close(&r);
    CHECK(fast_login(&r, srv, "HT-SHA-256-NONE", tok, UA "<fast xmlns='urn:xmpp:fast:0' count='4'/>",
                     cond, sizeof(cond)) == H_AUTH_FAILED);
    h_raw_close(&r);
}

/* A token bound to channel binding (tls-exporter), and rotation: a new
 * token asked for while logging in with the old one; the old one still
 * works until the new one is used. */
static void fast_with_channel_binding_and_rotation(h_server_t *srv)
{
    h_raw_t r;
    char t1[128] = "", t2[128] = "", cond[128];
    if (sasl2_login(&r, srv, "alice", "alice-pw",
                    UA "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-EXPR'/>"))
        CHECK(token_of(&r, t1, sizeof(t1)));
    h_raw_close(&r);
    if (!t1[0])
        return;
    CHECK(fast_login(&r, srv, "HT-SHA-256-EXPR", t1,
                     UA "<fast xmlns='urn:xmpp:fast:0'/>"
                        "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-EXPR'/>",
                     cond, sizeof(cond)) == H_AUTH_OK);
    CHECK(token_of(&r, t2, sizeof(t2)) && strcmp(t1, t2) != 0);
    h_raw_close(&r);
    /* The client may have missed t2: t1 still works... */
    CHECK(fast_login(&r, srv, "HT-SHA-256-EXPR", t1, UA "<fast xmlns='urn:xmpp:fast:0'/>", cond,
                     sizeof(cond)) == H_AUTH_OK);
    h_raw_close(&r);
    /* ...until t2 has been used. */
    CHECK(fast_login(&r, srv, "HT-SHA-256-EXPR", t2, UA "<fast xmlns='urn:xmpp:fast:0'/>", cond,
                     sizeof(cond)) == H_AUTH_OK);
    h_raw_close(&r);
    CHECK(fast_login(&r, srv, "HT-SHA-256-EXPR", t1, UA "<fast xmlns='urn:xmpp:fast:0'/>", cond,
                     sizeof(cond)) == H_AUTH_FAILED);
    h_raw_close(&r);
}

int main(void)
{
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .limits = "auth_fail_per_ip = 1000; auth_fail_per_account = 1000;",
        .modules = "roster = {}; presence = {}; carbons = {};",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(features_offer_sasl2_bind2_fast, &srv);
        H_RUN(sasl2_then_legacy_bind, &srv);
        H_RUN(bind2_in_one_round_trip, &srv);
        H_RUN(resume_inside_authenticate, &srv);
        H_RUN(bind2_enables_carbons, &srv);
        H_RUN(fast_tokens, &srv);
        H_RUN(fast_with_channel_binding_and_rotation, &srv);
    }
    h_server_stop(&srv);
    return h_finish("test_sasl2");
}
