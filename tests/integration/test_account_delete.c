/* test_account_delete.c — deleting an account (parleyctl user del) removes
 * everything the server kept for it.  Alice fills every store a client can
 * reach (roster, subscriptions, vCard, private XML, PEP, blocklist, push
 * registration, archive, inbox, offline queue); an operator deletes her and
 * creates the account again; the new alice must see none of it, and bob's
 * own data must stay. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/archive.h"
#include "storage/storage.h"
#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "bob@example.test", "bob-pw",
    NULL,
};
// clang-format on

#define APP "bot.example.test"
#define OLD "old-secret" /* every piece of alice's old data carries it */

/* What a client would see of alice's old data in one answer: the IQ
 * answer and whatever came before it (MAM results, inbox entries). */
static int iq_shows(h_client_t *c, const char *type, const char *to, const char *payload,
                    const char *needle, char *cond, size_t condlen)
{
    h_drain(c);
    xmpp_stanza_t *r = h_iq(c, type, to, payload, 10000);
    if (cond) {
        const char *e = r ? h_error_condition(r) : "timeout";
        snprintf(cond, condlen, "%s", e ? e : "");
    }
    int found = 0;
    for (size_t i = 0; i < c->ninbox && !found; i++) {
        char *text = NULL;
        size_t len = 0;
        if (xmpp_stanza_to_text(c->inbox[i], &text, &len) == 0) {
            found = strstr(text, needle) != NULL;
            xmpp_free(c->ctx, text);
        }
    }
    if (r) {
        char *text = NULL;
        size_t len = 0;
        if (xmpp_stanza_to_text(r, &text, &len) == 0) {
            found |= strstr(text, needle) != NULL;
            xmpp_free(c->ctx, text);
        }
        xmpp_stanza_release(r);
    }
    return found;
}

static int ok_iq(h_client_t *c, const char *type, const char *to, const char *payload)
{
    xmpp_stanza_t *r = h_iq(c, type, to, payload, 10000);
    int ok = r && h_attr_eq(r, "type", "result");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

/* Answers every publish the fake app server received; returns how many. */
static int answer_publishes(h_client_t *app, int timeout_ms)
{
    int n = 0;
    xmpp_stanza_t *iq;
    while ((iq = h_wait(app, &(h_match_t){.name = "iq", .type = "set"}, timeout_ms))) {
        h_send(app, "<iq type='result' id='%s' to='%s' from='" APP "'/>", xmpp_stanza_get_id(iq),
               xmpp_stanza_get_from(iq));
        xmpp_stanza_release(iq);
        n++;
        timeout_ms = 300;
    }
    return n;
}

static int ctl(h_server_t *srv, char *out, size_t len, const char *verb, const char *jid,
               const char *pw)
{
    return h_ctl(srv, NULL, out, len, (const char *[]){"user", verb, jid, pw, NULL});
}

/* The questions asked of alice's account before and after; `want` says
 * whether the old data must show.  Returns how many answers showed it. */
static int old_data_shown(h_client_t *alice, int want)
{
    int shown = 0;
    char cond[64];
    struct {
        const char *what, *type, *to, *payload;
    } asks[] = {
        {"roster", "get", NULL, "<query xmlns='jabber:iq:roster'/>"},
        {"vcard", "get", NULL, "<vCard xmlns='vcard-temp'/>"},
        {"private", "get", NULL,
         "<query xmlns='jabber:iq:private'><keep xmlns='urn:example:old'/></query>"},
        {"pep", "get", "alice@example.test",
         "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:example:old'/>"
         "</pubsub>"},
        {"archive", "set", NULL, "<query xmlns='urn:xmpp:mam:2' queryid='q1'/>"},
        {"inbox", "get", NULL, "<inbox xmlns='urn:xmpp:inbox:1'/>"},
    };
    for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
        int s = iq_shows(alice, asks[i].type, asks[i].to, asks[i].payload, OLD, cond, sizeof(cond));
        CHECK_MSG(s == want, "%s: old data %s (error '%s')", asks[i].what,
                  s ? "still shown" : "missing", cond);
        shown += s;
    }
    /* The blocklist holds a JID, not the marker. */
    int s = iq_shows(alice, "get", NULL, "<blocklist xmlns='urn:xmpp:blocking'/>",
                     "blocked-" OLD "@example.test", NULL, 0);
    CHECK_MSG(s == want, "blocklist: old item %s", s ? "still shown" : "missing");
    return shown + s;
}

static void fill_alice(h_client_t *alice, h_client_t *bob, h_client_t *app)
{
    CHECK(ok_iq(alice, "set", NULL,
                "<query xmlns='jabber:iq:roster'><item jid='carol@example.test' name='" OLD
                "'/></query>"));
    CHECK(ok_iq(alice, "set", NULL, "<vCard xmlns='vcard-temp'><FN>" OLD "</FN></vCard>"));
    CHECK(ok_iq(alice, "set", NULL,
                "<query xmlns='jabber:iq:private'><keep xmlns='urn:example:old'>" OLD
                "</keep></query>"));
    CHECK(ok_iq(alice, "set", NULL,
                "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:example:old'>"
                "<item id='i1'><entry xmlns='urn:example:old'>" OLD "</entry></item></publish>"
                "</pubsub>"));
    CHECK(ok_iq(alice, "set", NULL,
                "<block xmlns='urn:xmpp:blocking'><item jid='blocked-" OLD "@example.test'/>"
                "</block>"));
    CHECK(ok_iq(alice, "set", NULL,
                "<enable xmlns='urn:xmpp:push:0' jid='" APP "' node='n-old'/>"));
    /* Bob lets alice see his presence: his roster item for her gets FROM. */
    h_send(alice, "<presence to='bob@example.test' type='subscribe'/>");
    xmpp_stanza_t *sub =
        h_wait(bob, &(h_match_t){.name = "presence", .type = "subscribe"}, 5000);
    if (CHECK(sub))
        xmpp_stanza_release(sub);
    h_send(bob, "<presence to='alice@example.test' type='subscribed'/>");
    /* A message while she is online: archive and inbox. */
    h_send(bob, "<message to='alice@example.test' type='chat'><body>" OLD " live</body></message>");
    xmpp_stanza_t *m = h_wait(alice, &(h_match_t){.name = "message", .body = OLD " live"}, 5000);
    if (CHECK(m))
        xmpp_stanza_release(m);
    h_settle(bob);
    h_settle(alice);
    (void)app;
}

/* Bob's roster item for alice, as text ("" when absent). */
static void bob_item(h_client_t *bob, char *out, size_t len)
{
    out[0] = '\0';
    xmpp_stanza_t *r = h_iq(bob, "get", NULL, "<query xmlns='jabber:iq:roster'/>", 5000);
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
    for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it;
         it = xmpp_stanza_get_next(it)) {
        const char *jid = xmpp_stanza_get_attribute(it, "jid");
        const char *sub = xmpp_stanza_get_attribute(it, "subscription");
        if (jid && !strcmp(jid, "alice@example.test"))
            snprintf(out, len, "subscription=%s", sub ? sub : "?");
    }
    if (r)
        xmpp_stanza_release(r);
}

static void new_account_sees_nothing_of_the_old_one(h_server_t *srv)
{
    char out[4096], item[128];
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *app = h_client_new(ctx, srv, APP, "s3cret", H_COMPONENT);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/phone", "alice-pw", 0);
    h_client_t *alice2 = NULL;
    if (!CHECK(h_client_wait_login(app, 5000)) || !bob || !alice)
        goto out;
    CHECK(ok_iq(bob, "set", NULL, "<vCard xmlns='vcard-temp'><FN>bob-keeps</FN></vCard>"));
    fill_alice(alice, bob, app);
    bob_item(bob, item, sizeof(item));
    CHECK_MSG(!strcmp(item, "subscription=from"), "bob's item for alice: '%s'", item);
    /* The data is there and readable (so the checks below can fail). */
    CHECK(old_data_shown(alice, 1) == 7);

    /* Alice goes offline; a message waits for her (and is pushed). */
    h_client_free(alice);
    alice = NULL;
    h_run_for(ctx, 200);
    h_send(bob,
           "<message to='alice@example.test' type='chat'><body>" OLD " offline</body></message>");
    CHECK_MSG(answer_publishes(app, 5000) == 1, "the registration did not push");
    h_settle(bob);
    h_drain(bob);

    int rc = ctl(srv, out, sizeof(out), "del", "alice@example.test", NULL);
    CHECK_MSG(rc == 0 && strstr(out, "alice@example.test: deleted"), "rc %d: %s", rc, out);
    /* Bob's client is told at once (a roster push), not at his next login. */
    xmpp_stanza_t *push =
        h_wait(bob, &(h_match_t){.name = "iq", .type = "set", .child_ns = "jabber:iq:roster"}, 5000);
    if (CHECK_MSG(push, "no roster push to bob")) {
        xmpp_stanza_t *q = xmpp_stanza_get_child_by_name(push, "query");
        xmpp_stanza_t *it = q ? xmpp_stanza_get_child_by_name(q, "item") : NULL;
        const char *jid = it ? xmpp_stanza_get_attribute(it, "jid") : NULL;
        const char *sub = it ? xmpp_stanza_get_attribute(it, "subscription") : NULL;
        CHECK_MSG(jid && sub && !strcmp(jid, "alice@example.test") && !strcmp(sub, "none"),
                  "pushed %s subscription=%s", jid ? jid : "-", sub ? sub : "-");
        CHECK(q && xmpp_stanza_get_attribute(q, "ver"));
        xmpp_stanza_release(push);
    }
    /* Bob's subscription to the old alice is cancelled; his item stays. */
    bob_item(bob, item, sizeof(item));
    CHECK_MSG(!strcmp(item, "subscription=none"), "bob's item for alice: '%s'", item);
    /* A message for the deleted account bounces and is kept nowhere. */
    h_drain(bob);
    h_send(bob, "<message to='alice@example.test' type='chat' id='late'><body>" OLD
                " late</body></message>");
    xmpp_stanza_t *err = h_wait(bob, &(h_match_t){.name = "message", .type = "error"}, 5000);
    if (CHECK_MSG(err, "no bounce for the deleted account"))
        xmpp_stanza_release(err);
    h_settle(bob);

    rc = ctl(srv, out, sizeof(out), "add", "alice@example.test", "alice-new");
    CHECK_MSG(rc == 0 && strstr(out, "added"), "rc %d: %s", rc, out);
    h_drain(bob);
    alice2 = h_login(ctx, srv, "alice@example.test/fresh", "alice-new", 0);
    if (!CHECK(alice2))
        goto out;
    /* Bob becomes available again: the new alice never subscribed. */
    h_send(bob, "<presence><status>back</status></presence>");
    h_settle(bob);
    h_settle(alice2);
    CHECK_MSG(h_count(alice2, &(h_match_t){.name = "presence", .from = "bob@example.test/desk"}) ==
                  0,
              "the new alice receives bob's presence");
    int offline = 0;
    for (size_t i = 0; i < alice2->ninbox; i++) {
        char *text = NULL;
        size_t len = 0;
        if (xmpp_stanza_to_text(alice2->inbox[i], &text, &len) == 0) {
            offline |= strstr(text, OLD) != NULL;
            xmpp_free(ctx, text);
        }
    }
    CHECK_MSG(!offline, "the old offline message was delivered to the new account");
    CHECK(old_data_shown(alice2, 0) == 0);

    /* The old push registration is gone: no publish while she is away. */
    h_client_free(alice2);
    alice2 = NULL;
    h_run_for(ctx, 200);
    h_send(bob, "<message to='alice@example.test' type='chat'><body>new one</body></message>");
    h_settle(bob);
    CHECK_MSG(answer_publishes(app, 800) == 0, "a publish for the old registration");

    /* Bob's own data stays: his vCard, his item for alice, his archive. */
    CHECK(iq_shows(bob, "get", NULL, "<vCard xmlns='vcard-temp'/>", "bob-keeps", NULL, 0));
    bob_item(bob, item, sizeof(item));
    CHECK_MSG(item[0], "bob lost his roster item for alice");
    CHECK(iq_shows(bob, "set", NULL, "<query xmlns='urn:xmpp:mam:2' queryid='b1'/>", OLD " live",
                   NULL, 0));
out:
    h_client_free(alice);
    h_client_free(alice2);
    h_client_free(bob);
    h_client_free(app);
    h_ctx_free(ctx);
}

/* A user who is online when deleted: the session ends, and the data goes
 * as it does for one who is offline. */
static void online_user_is_disconnected_and_forgotten(h_server_t *srv)
{
    char out[4096];
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_client_t *dave = NULL;
    int rc = ctl(srv, out, sizeof(out), "add", "dave@example.test", "dave-pw");
    CHECK_MSG(rc == 0, "rc %d: %s", rc, out);
    dave = h_login(ctx, srv, "dave@example.test/desk", "dave-pw", 0);
    if (!bob || !dave)
        goto out;
    CHECK(ok_iq(dave, "set", NULL, "<vCard xmlns='vcard-temp'><FN>" OLD "</FN></vCard>"));
    rc = ctl(srv, out, sizeof(out), "del", "dave@example.test", NULL);
    CHECK_MSG(rc == 0 && strstr(out, "deleted"), "rc %d: %s", rc, out);
    CHECK(h_wait_disconnect(dave, 5000));
    CHECK_MSG(dave->stream_error == XMPP_SE_NOT_AUTHORIZED, "stream error %d", dave->stream_error);
    h_client_free(dave);
    dave = NULL;
    rc = ctl(srv, out, sizeof(out), "add", "dave@example.test", "dave-new");
    CHECK_MSG(rc == 0, "rc %d: %s", rc, out);
    dave = h_login(ctx, srv, "dave@example.test/again", "dave-new", 0);
    if (!dave)
        goto out;
    char cond[64];
    CHECK_MSG(!iq_shows(dave, "get", NULL, "<vCard xmlns='vcard-temp'/>", OLD, cond, sizeof(cond)),
              "the new dave sees the old vCard");
out:
    h_client_free(dave);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Deleting an account that does not exist says so and changes nothing. */
static void deleting_an_unknown_account_fails(h_server_t *srv)
{
    char out[4096];
    int rc = ctl(srv, out, sizeof(out), "del", "nobody@example.test", NULL);
    CHECK_MSG(rc != 0 && strstr(out, "no account nobody@example.test"), "rc %d: %s", rc, out);
}

/* ---- a shutdown in the middle of a deletion ---- */

#define ERIN "erin@example.test"
#define ERIN_ROWS 200000 /* enough to keep the deleting write busy a while */

static int fill_erin(pl_wtxn_t *txn, void *ud)
{
    long from = *(long *)ud;
    for (long i = from; i < from + 1000; i++) {
        char stanza[160];
        int len = snprintf(stanza, sizeof(stanza),
                           "<message xmlns='jabber:client' to='" ERIN "' from='x@example.test/r'>"
                           "<body>m%ld</body></message>",
                           i);
        pl_archive_msg_t m = {.owner = ERIN,
                              .key = 1700000000000000LL + i * 1000,
                              .peer = "x@example.test",
                              .peer_resource = "r",
                              .dir = 0,
                              .stanza = stanza,
                              .stanza_len = (size_t)len,
                              .body = stanza,
                              .body_len = (size_t)len};
        if (pl_archive_insert(txn, &m) < 0)
            return -1;
    }
    return 0;
}

static long erin_rows(h_server_t *srv)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/data/history.db", srv->dir);
    sqlite3 *db;
    sqlite3_stmt *q;
    long n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM archive WHERE owner = '" ERIN "'", -1, &q,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(q) == SQLITE_ROW)
            n = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return n;
}

/* SIGTERM while parleyctl deletes an account with a large archive: the
 * server exits cleanly (exit 0, nothing leaked or touched after free
 * under ASan: the connection and its job outlive the loops until the
 * storage has finished), and the deletion is all or nothing. */
static void shutdown_during_a_deletion_is_clean(h_server_t *srv)
{
    kill(srv->pid, SIGTERM);
    if (!CHECK(h_server_wait_exit(srv, 15000)))
        return;
    char dir[400], *err = NULL;
    snprintf(dir, sizeof(dir), "%s/data", srv->dir);
    pl_storage_t *st;
    if (!CHECK_MSG(pl_storage_open(&st, &(pl_storage_opts_t){.dir = dir}, &err) == 0, "%s",
                   err ? err : "?"))
        return;
    for (long i = 0; i < ERIN_ROWS; i += 1000)
        if (!CHECK(pl_storage_write_sync(st, fill_erin, &i) == 0))
            break;
    pl_storage_close(&st);
    if (!CHECK(h_server_relaunch(srv) == 0))
        return;

    pid_t child = fork();
    if (child == 0) {
        char out[512];
        _exit(h_ctl(srv, NULL, out, sizeof(out), (const char *[]){"user", "del", ERIN, NULL}));
    }
    usleep(150 * 1000);
    kill(srv->pid, SIGTERM);
    int ok = CHECK_MSG(h_server_wait_exit(srv, 30000), "parleyd did not exit after SIGTERM");
    CHECK_MSG(ok && WIFEXITED(srv->status) && WEXITSTATUS(srv->status) == 0, "wait status 0x%x",
              srv->status);
    CHECK(!h_log_has(srv, 0, "AddressSanitizer", NULL));
    CHECK(!h_log_has(srv, 0, "LeakSanitizer", NULL));
    int st_child;
    waitpid(child, &st_child, 0);

    /* All or nothing: the account with its whole archive, or neither. */
    char list[4096];
    CHECK(h_ctl(srv, NULL, list, sizeof(list), (const char *[]){"user", "list", NULL}) == 0);
    long rows = erin_rows(srv);
    if (strstr(list, ERIN))
        CHECK_MSG(rows == ERIN_ROWS, "the account is there with %ld of its messages", rows);
    else
        CHECK_MSG(rows == 0, "the account is gone but %ld of its messages stay", rows);
    CHECK(h_server_relaunch(srv) == 0);
}

int main(void)
{
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .modules = "roster = {}; presence = {}; vcard = {}; private = {}; pep = {}; "
                   "blocking = {}; offline = {}; mam = {}; inbox = {}; last = {}; "
                   "push = { timeout = \"5s\"; };",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(new_account_sees_nothing_of_the_old_one, &srv);
        H_RUN(online_user_is_disconnected_and_forgotten, &srv);
        H_RUN(deleting_an_unknown_account_fails, &srv);
    }
    h_server_stop(&srv);

    /* No module with timers of its own: only the deletion is in flight. */
    static const char *const erin[] = {ERIN, "erin-pw", NULL};
    h_server_t srv2;
    h_server_opts_t opts2 = {.accounts = erin, .modules = "roster = {}; presence = {};"};
    if (h_server_start(&srv2, &opts2) == 0)
        H_RUN(shutdown_during_a_deletion_is_clean, &srv2);
    h_server_stop(&srv2);
    return h_finish("test_account_delete");
}
