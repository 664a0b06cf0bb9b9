/* test_services.c — what the server itself answers (CORE-5, CORE-6): disco,
 * ping, version, time, in-band password change, service-unavailable for the
 * rest, the idle ping that drops silent clients, and per-host module lists. */
#include <ctype.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_INFO "http://jabber.org/protocol/disco#info"
#define NS_ITEMS "http://jabber.org/protocol/disco#items"

/* jid, password */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "carol@example.test", "carol-pw",
    "dave@other.test", "dave-pw",
    NULL,
};
// clang-format on

/* 1 when the answer's <query/> has a child `name` with attribute
 * attr=value (and attr2=value2 when attr2 is given). */
static int query_has(xmpp_stanza_t *iq, const char *name, const char *attr, const char *value,
                     const char *attr2, const char *value2)
{
    xmpp_stanza_t *q = iq ? xmpp_stanza_get_child_by_name(iq, "query") : NULL;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        if (!xmpp_stanza_is_tag(k) || strcmp(xmpp_stanza_get_name(k), name) != 0)
            continue;
        const char *v = xmpp_stanza_get_attribute(k, attr);
        const char *v2 = attr2 ? xmpp_stanza_get_attribute(k, attr2) : NULL;
        if (v && strcmp(v, value) == 0 && (!attr2 || (v2 && strcmp(v2, value2) == 0)))
            return 1;
    }
    return 0;
}

static int has_feature(xmpp_stanza_t *iq, const char *var)
{
    return query_has(iq, "feature", "var", var, NULL, NULL);
}

static void disco_info_lists_server_identity_and_features(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    xmpp_stanza_t *r =
        alice ? h_iq(alice, "get", "example.test", "<query xmlns='" NS_INFO "'/>", 5000) : NULL;
    if (CHECK(h_attr_eq(r, "type", "result"))) {
        CHECK(query_has(r, "identity", "category", "server", "type", "im"));
        static const char *const want[] = {"urn:xmpp:ping", "jabber:iq:version",
                                           "urn:xmpp:time", "jabber:iq:register",
                                           NS_INFO,         NS_ITEMS};
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            CHECK_MSG(has_feature(r, want[i]), "feature %s missing", want[i]);
    }
    if (r)
        xmpp_stanza_release(r);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void disco_items_lists_the_component(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    xmpp_stanza_t *r =
        alice ? h_iq(alice, "get", "example.test", "<query xmlns='" NS_ITEMS "'/>", 5000) : NULL;
    if (CHECK(h_attr_eq(r, "type", "result")))
        CHECK(query_has(r, "item", "jid", "bot.example.test", NULL, NULL));
    if (r)
        xmpp_stanza_release(r);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void disco_info_on_own_account(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    xmpp_stanza_t *r =
        alice ? h_iq(alice, "get", "alice@example.test", "<query xmlns='" NS_INFO "'/>", 5000)
              : NULL;
    if (CHECK(h_attr_eq(r, "type", "result"))) {
        CHECK(query_has(r, "identity", "category", "account", "type", "registered"));
        CHECK(!query_has(r, "identity", "category", "server", NULL, NULL));
    }
    if (r)
        xmpp_stanza_release(r);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void ping_version_and_time_answer(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    if (!alice) {
        h_ctx_free(ctx);
        return;
    }
    xmpp_stanza_t *r = h_iq(alice, "get", "example.test", "<ping xmlns='urn:xmpp:ping'/>", 5000);
    CHECK_MSG(h_attr_eq(r, "type", "result"), "ping");
    if (r)
        xmpp_stanza_release(r);

    r = h_iq(alice, "get", "example.test", "<query xmlns='jabber:iq:version'/>", 5000);
    if (CHECK_MSG(h_attr_eq(r, "type", "result"), "version")) {
        char *name = h_child_text(r, "name"), *version = h_child_text(r, "version");
        CHECK_MSG(name && strcmp(name, "Parley") == 0, "name '%s'", name ? name : "");
        CHECK(version && version[0]);
        free(name);
        free(version);
    }
    if (r)
        xmpp_stanza_release(r);

    r = h_iq(alice, "get", "example.test", "<time xmlns='urn:xmpp:time'/>", 5000);
    if (CHECK_MSG(h_attr_eq(r, "type", "result"), "time")) {
        char *utc = h_child_text(r, "utc"), *tzo = h_child_text(r, "tzo");
        /* 2026-11-22T17:20:00Z or with fractions */
        CHECK_MSG(utc && strlen(utc) >= 20 && utc[4] == '-' && utc[10] == 'T' &&
                      utc[strlen(utc) - 1] == 'Z',
                  "utc '%s'", utc ? utc : "");
        CHECK_MSG(tzo && strlen(tzo) == 6 && (tzo[0] == '+' || tzo[0] == '-') && tzo[3] == ':' &&
                      isdigit((unsigned char)tzo[1]),
                  "tzo '%s'", tzo ? tzo : "");
        free(utc);
        free(tzo);
    }
    if (r)
        xmpp_stanza_release(r);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void unknown_namespace_is_service_unavailable(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    xmpp_stanza_t *r = alice ? h_iq(alice, "get", "example.test",
                                    "<query xmlns='urn:example:nothing-here'/>", 5000)
                             : NULL;
    if (CHECK(h_attr_eq(r, "type", "error"))) {
        const char *c = h_error_condition(r);
        CHECK_MSG(c && strcmp(c, "service-unavailable") == 0, "condition %s", c ? c : "none");
    }
    if (r)
        xmpp_stanza_release(r);
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* idle_timeout and ping_timeout are 2 s here: a client that answers the
 * server's pings stays; one that ignores them is dropped. */
static void idle_clients_are_pinged_and_silent_ones_dropped(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_raw_t raw;
    if (!CHECK(h_raw_login(&raw, srv, "carol", "carol-pw", "silent"))) {
        h_raw_close(&raw);
        h_ctx_free(ctx);
        return;
    }
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/awake", "alice-pw", 0);
    long long deadline = h_now_ms() + 12000;
    while (alice && h_now_ms() < deadline && !(raw.eof && alice->pings >= 2)) {
        xmpp_run_once(ctx, 5);
        h_raw_poll(&raw);
    }
    CHECK_MSG(raw.buf && strstr(raw.buf, "urn:xmpp:ping"), "the silent client was never pinged");
    CHECK_MSG(raw.buf && strstr(raw.buf, "<connection-timeout"), "no connection-timeout: %s",
              raw.buf ? raw.buf : "");
    CHECK(raw.eof);
    CHECK(h_log_has(srv, mark, "event=c2s.ping_timeout", "jid=carol@example.test/silent", NULL));
    if (alice) {
        CHECK_MSG(alice->pings >= 2, "alice saw %d pings", alice->pings);
        CHECK(alice->connected);
        xmpp_stanza_t *r =
            h_iq(alice, "get", "example.test", "<ping xmlns='urn:xmpp:ping'/>", 5000);
        CHECK(h_attr_eq(r, "type", "result"));
        if (r)
            xmpp_stanza_release(r);
    }
    h_raw_close(&raw);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void password_change_in_band(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/home", "carol-pw", 0);
    xmpp_stanza_t *r = carol ? h_iq(carol, "set", NULL,
                                    "<query xmlns='jabber:iq:register'><username>carol</username>"
                                    "<password>carol-new-pw</password></query>",
                                    5000)
                             : NULL;
    CHECK_MSG(h_attr_eq(r, "type", "result"), "password change not confirmed");
    if (r)
        xmpp_stanza_release(r);
    h_client_free(carol);
    CHECK_MSG(h_can_login(srv, "carol@example.test", "carol-new-pw"), "new password refused");
    CHECK_MSG(!h_can_login(srv, "carol@example.test", "carol-pw"), "old password still works");
    h_ctx_free(ctx);
}

static void someone_elses_password_cannot_be_changed(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/home", "alice-pw", 0);
    xmpp_stanza_t *r = alice ? h_iq(alice, "set", NULL,
                                    "<query xmlns='jabber:iq:register'><username>carol</username>"
                                    "<password>stolen</password></query>",
                                    5000)
                             : NULL;
    CHECK(h_attr_eq(r, "type", "error"));
    if (r)
        xmpp_stanza_release(r);
    h_client_free(alice);
    CHECK(!h_can_login(srv, "carol@example.test", "stolen"));
    h_ctx_free(ctx);
}

/* other.test enables only disco and ping: no version there, and the
 * components of example.test are not its business. */
static void other_host_has_its_own_modules(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *dave = h_login(ctx, srv, "dave@other.test/home", "dave-pw", 0);
    if (!dave) {
        h_ctx_free(ctx);
        return;
    }
    xmpp_stanza_t *r = h_iq(dave, "get", "other.test", "<query xmlns='" NS_ITEMS "'/>", 5000);
    if (CHECK_MSG(h_attr_eq(r, "type", "result"), "disco#items"))
        CHECK(!query_has(r, "item", "jid", "bot.example.test", NULL, NULL));
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(dave, "get", "other.test", "<query xmlns='" NS_INFO "'/>", 5000);
    if (CHECK_MSG(h_attr_eq(r, "type", "result"), "disco#info")) {
        CHECK(has_feature(r, "urn:xmpp:ping"));
        CHECK(!has_feature(r, "jabber:iq:version"));
        CHECK(!has_feature(r, "urn:xmpp:time"));
    }
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(dave, "get", "other.test", "<query xmlns='jabber:iq:version'/>", 5000);
    if (CHECK_MSG(h_attr_eq(r, "type", "error"), "version answered on other.test")) {
        const char *c = h_error_condition(r);
        CHECK_MSG(c && strcmp(c, "service-unavailable") == 0, "condition %s", c ? c : "none");
    }
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(dave, "get", "other.test", "<ping xmlns='urn:xmpp:ping'/>", 5000);
    CHECK_MSG(h_attr_eq(r, "type", "result"), "ping on other.test");
    if (r)
        xmpp_stanza_release(r);
    h_client_free(dave);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "idle_timeout = \"2s\"; ping_timeout = \"2s\"; auth_fail_per_ip = 1000;",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(disco_info_lists_server_identity_and_features, &srv);
        H_RUN(disco_items_lists_the_component, &srv);
        H_RUN(disco_info_on_own_account, &srv);
        H_RUN(ping_version_and_time_answer, &srv);
        H_RUN(unknown_namespace_is_service_unavailable, &srv);
        H_RUN(idle_clients_are_pinged_and_silent_ones_dropped, &srv);
        H_RUN(password_change_in_band, &srv);
        H_RUN(someone_elses_password_cannot_be_changed, &srv);
        H_RUN(other_host_has_its_own_modules, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
