/* test_clientpolicy.c — MC-1 over real sockets: one desktop and one mobile
 * client per account by default, a newer client of a full kind replaces
 * the oldest with a <conflict/> stream error, other resources are not
 * limited, and a configured limit (web = 2 here) is kept. */
#include <string.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw",
    NULL,
};
// clang-format on

/* Still logged in: the connection is up and answers a ping. */
static int alive(h_client_t *c)
{
    if (!c || c->disconnected)
        return 0;
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<ping xmlns='urn:xmpp:ping'/>", 5000);
    int ok = r && strcmp(xmpp_stanza_get_type(r), "result") == 0;
    if (r)
        xmpp_stanza_release(r);
    return ok && !c->disconnected;
}

static int replaced(h_client_t *c)
{
    return c && h_wait_disconnect(c, 5000) && c->stream_error == XMPP_SE_CONFLICT;
}

static void second_desktop_replaces_the_first(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *a = h_login(ctx, srv, "alice@example.test/desktop-A", "pw", 0);
    h_client_t *b = h_login(ctx, srv, "alice@example.test/Desktop-B", "pw", 0);
    CHECK_MSG(replaced(a), "the first desktop did not get a conflict stream error");
    CHECK_MSG(alive(b), "the new desktop was not kept");
    CHECK(h_log_has(srv, mark, "event=client_policy.replaced", "kind=desktop",
                    "old=alice@example.test/desktop-A", "new=alice@example.test/Desktop-B", NULL));
    /* What the replaced client reads: the condition and who replaced it. */
    h_raw_t raw;
    if (CHECK(h_raw_login(&raw, srv, "alice", "pw", "desktop-C"))) {
        CHECK_MSG(h_raw_wait(&raw, "<conflict", 1000) == 0, "the newest desktop was kicked");
        CHECK(replaced(b));
        h_client_t *d = h_login(ctx, srv, "alice@example.test/desktop-D", "pw", 0);
        CHECK_MSG(h_raw_wait(&raw, "<conflict", 5000), "no conflict stream error: %s",
                  raw.buf ? raw.buf : "");
        CHECK_MSG(raw.buf &&
                      strstr(raw.buf, "replaced by a newer desktop client (resource desktop-D)"),
                  "stream error text: %s", raw.buf ? raw.buf : "");
        CHECK(h_raw_wait_eof(&raw, 5000));
        CHECK(alive(d));
        h_client_free(d);
    }
    h_raw_close(&raw);
    h_client_free(a);
    h_client_free(b);
    h_ctx_free(ctx);
}

static void desktop_and_mobile_coexist(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *d = h_login(ctx, srv, "bob@example.test/desktop-1", "pw", 0);
    h_client_t *m = h_login(ctx, srv, "bob@example.test/mobile-1", "pw", 0);
    h_client_t *w = h_login(ctx, srv, "bob@example.test/web-1", "pw", 0);
    h_run_for(ctx, 300);
    CHECK_MSG(alive(d), "desktop ended by a mobile or web login");
    CHECK_MSG(alive(m), "mobile ended");
    CHECK_MSG(alive(w), "web ended");
    /* A second mobile replaces only the first mobile. */
    h_client_t *m2 = h_login(ctx, srv, "bob@example.test/MOBILE-2", "pw", 0);
    CHECK_MSG(replaced(m), "the first mobile was not replaced");
    CHECK(alive(d));
    CHECK(alive(w));
    CHECK(alive(m2));
    h_client_free(d);
    h_client_free(m);
    h_client_free(w);
    h_client_free(m2);
    h_ctx_free(ctx);
}

static void other_resources_are_unlimited(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    /* "desktopx" and "phone" are not kind prefixes: both count as other. */
    const char *jids[] = {"carol@example.test/laptop", "carol@example.test/phone",
                          "carol@example.test/desktopx", "carol@example.test/tablet"};
    h_client_t *c[4];
    for (int i = 0; i < 4; i++)
        c[i] = h_login(ctx, srv, jids[i], "pw", 0);
    h_run_for(ctx, 300);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(alive(c[i]), "%s was ended", jids[i]);
    for (int i = 0; i < 4; i++)
        h_client_free(c[i]);
    h_ctx_free(ctx);
}

/* web = 2 in this server's config. */
static void configured_limit_of_two(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    size_t mark = h_log_mark(srv);
    h_client_t *w1 = h_login(ctx, srv, "dave@example.test/web-1", "pw", 0);
    h_client_t *w2 = h_login(ctx, srv, "dave@example.test/web-2", "pw", 0);
    h_run_for(ctx, 300);
    CHECK_MSG(alive(w1) && alive(w2), "two web clients are allowed");
    h_client_t *w3 = h_login(ctx, srv, "dave@example.test/web", "pw", 0);
    CHECK_MSG(replaced(w1), "the oldest web client was not replaced");
    CHECK(alive(w2));
    CHECK(alive(w3));
    CHECK(h_log_count(srv, mark, "event=client_policy.replaced") == 1);
    h_client_t *w4 = h_login(ctx, srv, "dave@example.test/web-4", "pw", 0);
    CHECK_MSG(replaced(w2), "the next oldest web client was not replaced");
    CHECK(alive(w3));
    CHECK(alive(w4));
    h_client_free(w1);
    h_client_free(w2);
    h_client_free(w3);
    h_client_free(w4);
    h_ctx_free(ctx);
}

/* The replaced client may log in again; then it replaces the other. */
static void replaced_client_can_come_back(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "erin@example.test/desktop-A", "pw", 0);
    h_client_t *b = h_login(ctx, srv, "erin@example.test/desktop-B", "pw", 0);
    CHECK(replaced(a));
    h_client_t *a2 = h_login(ctx, srv, "erin@example.test/desktop-A", "pw", 0);
    CHECK_MSG(replaced(b), "desktop-B was not replaced by the returning desktop-A");
    CHECK(alive(a2));
    h_client_free(a);
    h_client_free(b);
    h_client_free(a2);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "client_policy = { web = 2; };",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(second_desktop_replaces_the_first, &srv);
        H_RUN(desktop_and_mobile_coexist, &srv);
        H_RUN(other_resources_are_unlimited, &srv);
        H_RUN(configured_limit_of_two, &srv);
        H_RUN(replaced_client_can_come_back, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
