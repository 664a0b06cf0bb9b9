/* test_login.c — logging in (CORE-1, CORE-2, CORE-3): STARTTLS and direct
 * TLS, every SASL mechanism including SCRAM -PLUS channel binding, failures
 * that look the same for wrong passwords and unknown users, resource binding
 * and conflicts, and what the server refuses (PLAIN in clear, TLS 1.1). */
#include <string.h>

#include "tests/integration/harness.h"

/* jid, password */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "bob@example.test", "bob-pw",
    NULL,
};
// clang-format on

static int is_result(xmpp_stanza_t *st)
{
    const char *type = st ? xmpp_stanza_get_type(st) : NULL;
    return type && strcmp(type, "result") == 0;
}

static void starttls_scram_sha256_login_binds(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *c = h_client_new(ctx, srv, "alice@example.test/laptop", "alice-pw", H_STARTTLS);
    if (CHECK(h_client_wait_login(c, 10000))) {
        CHECK(xmpp_conn_is_secured(c->conn));
        CHECK_MSG(strcmp(h_jid(c), "alice@example.test/laptop") == 0, "bound %s", h_jid(c));
        CHECK(h_log_has(srv, mark, "event=c2s.auth", "ok=1", "jid=alice@example.test",
                        "mechanism=SCRAM-SHA-256", NULL));
        CHECK(h_log_has(srv, mark, "event=c2s.bind", "jid=alice@example.test/laptop", "tls=TLSv1.",
                        NULL));
        xmpp_stanza_t *pong = h_iq(c, "get", "example.test", "<ping xmlns='urn:xmpp:ping'/>", 5000);
        CHECK(is_result(pong));
        if (pong)
            xmpp_stanza_release(pong);
    }
    h_client_free(c);
    h_ctx_free(ctx);
}

static void direct_tls_login_binds(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *c = h_client_new(ctx, srv, "bob@example.test/phone", "bob-pw", H_DIRECT_TLS);
    if (CHECK(h_client_wait_login(c, 10000))) {
        CHECK(xmpp_conn_is_secured(c->conn));
        CHECK_MSG(strcmp(h_jid(c), "bob@example.test/phone") == 0, "bound %s", h_jid(c));
    }
    h_client_free(c);
    h_ctx_free(ctx);
}

/* A failed login must end the attempt and be logged, and must look the same
 * for a wrong password and for an account that does not exist. */
static void expect_login_refused(h_server_t *srv, const char *jid, const char *password)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *c = h_client_new(ctx, srv, jid, password, H_STARTTLS);
    CHECK_MSG(!h_client_wait_login(c, 15000), "%s logged in with a bad password", jid);
    CHECK(c->disconnected);
    char bare[128];
    snprintf(bare, sizeof(bare), "jid=%s", jid);
    CHECK(
        h_log_wait(srv, mark, 3000, "event=c2s.auth", "ok=0", bare, "reason=not-authorized", NULL));
    CHECK(!h_log_has(srv, mark, "event=c2s.auth", "ok=1", NULL));
    h_client_free(c);
    h_ctx_free(ctx);
}

static void wrong_password_is_refused(h_server_t *srv)
{
    expect_login_refused(srv, "alice@example.test", "not-her-password");
}

static void unknown_user_is_refused_the_same_way(h_server_t *srv)
{
    expect_login_refused(srv, "nobody@example.test", "alice-pw");
}

static void same_resource_replaces_first_session(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *first = h_login(ctx, srv, "alice@example.test/same", "alice-pw", 0);
    h_client_t *second = first ? h_login(ctx, srv, "alice@example.test/same", "alice-pw", 0) : NULL;
    h_client_t *bob = second ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        CHECK(h_wait_disconnect(first, 5000));
        CHECK_MSG(first->stream_error == XMPP_SE_CONFLICT, "stream error %d", first->stream_error);
        CHECK(second->connected);
        h_send(bob, "<message to='alice@example.test/same' type='chat'><body>still there?</body>"
                    "</message>");
        xmpp_stanza_t *m =
            h_wait(second, &(h_match_t){.name = "message", .body = "still there?"}, 5000);
        CHECK_MSG(m != NULL, "the new session did not get the message");
        if (m)
            xmpp_stanza_release(m);
    }
    h_client_free(bob);
    h_client_free(second);
    h_client_free(first);
    h_ctx_free(ctx);
}

static void server_picks_resource_for_bare_jid(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "alice@example.test", "alice-pw", 0);
    h_client_t *b = a ? h_login(ctx, srv, "alice@example.test", "alice-pw", 0) : NULL;
    if (b) {
        const char *prefix = "alice@example.test/";
        CHECK_MSG(strncmp(h_jid(a), prefix, strlen(prefix)) == 0 &&
                      strlen(h_jid(a)) > strlen(prefix),
                  "bound %s", h_jid(a));
        CHECK_MSG(strcmp(h_jid(a), h_jid(b)) != 0, "both got %s", h_jid(a));
        CHECK(a->connected && b->connected);
    }
    h_client_free(b);
    h_client_free(a);
    h_ctx_free(ctx);
}

/* Raw client: STARTTLS then one SCRAM exchange; on success also binds. */
static int raw_scram_login(h_server_t *srv, const h_scram_t *p, char *cond, size_t condlen,
                           h_raw_t *r)
{
    if (!CHECK(h_raw_connect(r, srv->c2s_port)) || !CHECK(h_raw_starttls(r, "example.test")))
        return H_AUTH_ERROR;
    char mech[64];
    snprintf(mech, sizeof(mech), "<mechanism>%s</mechanism>", p->mech);
    CHECK_MSG(strstr(r->buf, mech) != NULL, "%s not offered", p->mech);
    int rc = h_raw_scram(r, p, cond, condlen);
    if (rc == H_AUTH_OK) {
        char jid[256];
        CHECK(h_raw_bind(r, "example.test", "raw", jid, sizeof(jid)));
        CHECK_MSG(strcmp(jid, "alice@example.test/raw") == 0, "bound %s", jid);
    }
    return rc;
}

static void raw_scram_sha1_login(h_server_t *srv)
{
    h_raw_t r;
    char cond[256];
    size_t mark = h_log_mark(srv);
    h_scram_t p = {.mech = "SCRAM-SHA-1", .user = "alice", .password = "alice-pw"};
    CHECK_MSG(raw_scram_login(srv, &p, cond, sizeof(cond), &r) == H_AUTH_OK, "%s", cond);
    CHECK(h_log_has(srv, mark, "event=c2s.auth", "ok=1", "mechanism=SCRAM-SHA-1", NULL));
    h_raw_close(&r);
}

static void raw_plain_login_over_tls(h_server_t *srv)
{
    h_raw_t r;
    char cond[256], jid[256];
    if (CHECK(h_raw_connect(&r, srv->c2s_port)) && CHECK(h_raw_starttls(&r, "example.test"))) {
        CHECK(strstr(r.buf, "<mechanism>PLAIN</mechanism>") != NULL);
        CHECK_MSG(h_raw_plain(&r, "alice", "alice-pw", cond, sizeof(cond)) == H_AUTH_OK, "%s",
                  cond);
        CHECK(h_raw_bind(&r, "example.test", "plain", jid, sizeof(jid)));
        CHECK_MSG(strcmp(jid, "alice@example.test/plain") == 0, "bound %s", jid);
    }
    h_raw_close(&r);
}

static void raw_plain_wrong_password_fails(h_server_t *srv)
{
    h_raw_t r;
    char cond[256];
    if (CHECK(h_raw_connect(&r, srv->c2s_port)) && CHECK(h_raw_starttls(&r, "example.test")))
        CHECK_MSG(h_raw_plain(&r, "alice", "nope", cond, sizeof(cond)) == H_AUTH_FAILED &&
                      strcmp(cond, "not-authorized") == 0,
                  "%s", cond);
    h_raw_close(&r);
}

static void scram_plus_with(h_server_t *srv, const char *cb_type)
{
    h_raw_t r;
    char cond[256];
    size_t mark = h_log_mark(srv);
    h_scram_t p = {
        .mech = "SCRAM-SHA-256-PLUS", .user = "alice", .password = "alice-pw", .cb_type = cb_type};
    CHECK_MSG(raw_scram_login(srv, &p, cond, sizeof(cond), &r) == H_AUTH_OK, "%s: %s", cb_type,
              cond);
    CHECK(h_log_has(srv, mark, "event=c2s.auth", "ok=1", "mechanism=SCRAM-SHA-256-PLUS", NULL));
    h_raw_close(&r);
}

static void scram_plus_tls_server_end_point(h_server_t *srv)
{
    scram_plus_with(srv, "tls-server-end-point");
}

static void scram_plus_tls_exporter(h_server_t *srv)
{
    h_raw_t r;
    if (CHECK(h_raw_connect(&r, srv->c2s_port)) && CHECK(h_raw_starttls(&r, "example.test")))
        CHECK_MSG(strstr(r.buf, "type='tls-exporter'") != NULL, "XEP-0440 list: %s", r.buf);
    h_raw_close(&r);
    scram_plus_with(srv, "tls-exporter");
}

/* RFC 9266 leaves tls-unique undefined on TLS 1.3, but the server accepts
 * it there (with the RFC 5929 meaning) for clients such as slixmpp. */
static void scram_plus_tls_unique(h_server_t *srv)
{
    scram_plus_with(srv, "tls-unique");
}

static void scram_plus_wrong_channel_binding_fails(h_server_t *srv)
{
    static const char *const types[] = {"tls-exporter", "tls-server-end-point", "tls-unique"};
    for (int i = 0; i < 3; i++) {
        h_raw_t r;
        char cond[256];
        h_scram_t p = {.mech = "SCRAM-SHA-256-PLUS",
                       .user = "alice",
                       .password = "alice-pw",
                       .cb_type = types[i],
                       .corrupt_cb = 1};
        CHECK_MSG(raw_scram_login(srv, &p, cond, sizeof(cond), &r) == H_AUTH_FAILED, "%s: %s",
                  types[i], cond);
        h_raw_close(&r);
    }
}

/* RFC 5802 §6: a client saying "y" (I could bind, but you cannot) to a
 * server that offers -PLUS reveals a downgrade; the server must refuse. */
static void scram_downgrade_claim_fails(h_server_t *srv)
{
    h_raw_t r;
    char cond[256];
    h_scram_t p = {
        .mech = "SCRAM-SHA-256", .user = "alice", .password = "alice-pw", .claim_no_server_cb = 1};
    CHECK_MSG(raw_scram_login(srv, &p, cond, sizeof(cond), &r) == H_AUTH_FAILED, "%s", cond);
    h_raw_close(&r);
}

static void plain_refused_before_tls(h_server_t *srv)
{
    h_raw_t r;
    if (CHECK(h_raw_connect(&r, srv->c2s_port)) && CHECK(h_raw_open_stream(&r, "example.test"))) {
        CHECK(strstr(r.buf, "<starttls") && strstr(r.buf, "<required/>"));
        CHECK_MSG(!strstr(r.buf, "<mechanisms"), "SASL offered in clear: %s", r.buf);
        /* base64("\0alice\0alice-pw") */
        h_raw_sendf(&r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                        "AGFsaWNlAGFsaWNlLXB3</auth>");
        CHECK(h_raw_wait(&r, "<encryption-required", 5000));
        CHECK(h_raw_wait(&r, "</stream:stream>", 5000));
        CHECK(h_raw_wait_eof(&r, 5000));
        CHECK(!strstr(r.buf, "<success"));
    }
    h_raw_close(&r);
}

static void tls_1_1_is_refused(h_server_t *srv)
{
    h_raw_t r;
    size_t mark = h_log_mark(srv);
    if (CHECK(h_raw_connect(&r, srv->tls_port)))
        CHECK(!h_raw_tls_handshake(&r, TLS1_VERSION, TLS1_1_VERSION));
    h_raw_close(&r);
    CHECK(h_log_wait(srv, mark, 3000, "event=tls.error", NULL));
}

/* TLS 1.2 still works; there tls-exporter is not offered, but
 * tls-server-end-point binding is. */
static void tls_1_2_is_accepted(h_server_t *srv)
{
    h_raw_t r;
    char cond[256];
    if (CHECK(h_raw_connect(&r, srv->tls_port)) &&
        CHECK(h_raw_tls_handshake(&r, TLS1_2_VERSION, TLS1_2_VERSION)) &&
        CHECK(h_raw_open_stream(&r, "example.test"))) {
        CHECK(strstr(r.buf, "<mechanism>SCRAM-SHA-256</mechanism>") != NULL);
        CHECK(!strstr(r.buf, "type='tls-exporter'"));
        h_scram_t p = {.mech = "SCRAM-SHA-256-PLUS",
                       .user = "alice",
                       .password = "alice-pw",
                       .cb_type = "tls-server-end-point"};
        CHECK_MSG(h_raw_scram(&r, &p, cond, sizeof(cond)) == H_AUTH_OK, "%s", cond);
    }
    h_raw_close(&r);
    /* tls-unique is well defined on TLS 1.2. */
    if (CHECK(h_raw_connect(&r, srv->tls_port)) &&
        CHECK(h_raw_tls_handshake(&r, TLS1_2_VERSION, TLS1_2_VERSION)) &&
        CHECK(h_raw_open_stream(&r, "example.test"))) {
        h_scram_t p = {.mech = "SCRAM-SHA-1-PLUS",
                       .user = "alice",
                       .password = "alice-pw",
                       .cb_type = "tls-unique"};
        CHECK_MSG(h_raw_scram(&r, &p, cond, sizeof(cond)) == H_AUTH_OK, "%s", cond);
    }
    h_raw_close(&r);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    /* Failed logins from 127.0.0.1 must not lock the later tests out. */
    h_server_opts_t opts = {.limits = "auth_fail_per_ip = 1000; auth_fail_per_account = 1000;",
                            .accounts = accounts};
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(starttls_scram_sha256_login_binds, &srv);
        H_RUN(direct_tls_login_binds, &srv);
        H_RUN(wrong_password_is_refused, &srv);
        H_RUN(unknown_user_is_refused_the_same_way, &srv);
        H_RUN(same_resource_replaces_first_session, &srv);
        H_RUN(server_picks_resource_for_bare_jid, &srv);
        H_RUN(raw_scram_sha1_login, &srv);
        H_RUN(raw_plain_login_over_tls, &srv);
        H_RUN(raw_plain_wrong_password_fails, &srv);
        H_RUN(scram_plus_tls_server_end_point, &srv);
        H_RUN(scram_plus_tls_exporter, &srv);
        H_RUN(scram_plus_tls_unique, &srv);
        H_RUN(scram_plus_wrong_channel_binding_fails, &srv);
        H_RUN(scram_downgrade_claim_fails, &srv);
        H_RUN(plain_refused_before_tls, &srv);
        H_RUN(tls_1_1_is_refused, &srv);
        H_RUN(tls_1_2_is_accepted, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
