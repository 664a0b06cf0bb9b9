/* test_encryption.c — encryption at rest (issue #5 point 10, IM-6): with
 * storage.key_file set, what the offline store, the archive and the inbox
 * keep of a message is sealed — its words are not in the data files — and still
 * comes back to the user; without the key file the server does not start. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw", "bob@example.test", "bob-pw",
    NULL,
};
// clang-format on

#define SECRET "quantum marmalade"

static char keydir[64], keyfile[96];

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 20, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    int found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static void offline_messages_are_sealed(h_server_t *srv)
{
    CHECK(h_log_has(srv, 0, "event=storage.sealed", "current_key=1", NULL));
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    if (bob) {
        for (int i = 0; i < 3; i++)
            h_send(bob,
                   "<message to='alice@example.test' type='chat'><body>" SECRET
                   " %d</body></message>",
                   i);
        h_settle(bob);
        CHECK(h_count(bob, &(h_match_t){.name = "message", .type = "error"}) == 0);
        h_client_free(bob);
    }
    /* A clean stop writes everything out; then look at the files. */
    if (!CHECK(h_server_restart(srv) == 0))
        goto out;
    char path[400];
    snprintf(path, sizeof(path), "%s/data/hot/data.mdb", srv->dir);
    CHECK_MSG(file_contains(path, SECRET) == 0, "the message text is readable in %s", path);
    CHECK(file_contains(path, "alice@example.test") == 1); /* the right file was read */
    /* The archive (history.db and its WAL) holds the same messages, sealed,
     * and an index of keyed tokens instead of words. */
    const char *files[] = {"history.db", "history.db-wal"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/data/%s", srv->dir, files[i]);
        CHECK_MSG(file_contains(path, "marmalade") <= 0, "the message text is readable in %s",
                  path);
    }
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/phone", "alice-pw", 0);
    if (alice) {
        for (int i = 0; i < 3; i++) {
            char body[64];
            snprintf(body, sizeof(body), SECRET " %d", i);
            xmpp_stanza_t *m = h_wait(alice, &(h_match_t){.name = "message", .body = body}, 5000);
            if (CHECK_MSG(m, "sealed offline message %d did not arrive", i))
                xmpp_stanza_release(m);
        }
        /* The conversation list (sealed in the hot store) still shows the
         * last message's text. */
        xmpp_stanza_t *ib = h_iq(alice, "get", NULL, "<inbox xmlns='urn:xmpp:inbox:1'/>", 5000);
        CHECK_MSG(ib && h_attr_eq(ib, "type", "result"), "inbox query failed");
        if (ib)
            xmpp_stanza_release(ib);
        int shown = 0;
        for (size_t i = 0; i < alice->ninbox; i++) {
            xmpp_stanza_t *r = xmpp_stanza_get_child_by_ns(alice->inbox[i], "urn:xmpp:mam:2");
            xmpp_stanza_t *fw = r ? xmpp_stanza_get_child_by_name(r, "forwarded") : NULL;
            xmpp_stanza_t *m = fw ? xmpp_stanza_get_child_by_name(fw, "message") : NULL;
            char *body = m && xmpp_stanza_get_child_by_ns(alice->inbox[i], "urn:xmpp:inbox:1")
                             ? h_child_text(m, "body")
                             : NULL;
            shown += body && strcmp(body, SECRET " 2") == 0;
            free(body);
        }
        CHECK_MSG(shown == 1, "the inbox entry shows the last message's text (%d)", shown);
        h_drain(alice);
        /* Full-text search over the sealed archive: whole words work. */
        h_send(alice,
               "<iq type='set' id='ft'><query xmlns='urn:xmpp:mam:2' queryid='f1'>"
               "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
               "<value>urn:xmpp:mam:2</value></field><field var='{urn:xmpp:fulltext:0}fulltext'>"
               "<value>marmalade</value></field></x></query></iq>");
        xmpp_stanza_t *fin = h_wait(alice, &(h_match_t){.name = "iq", .id = "ft"}, 5000);
        CHECK_MSG(fin && h_attr_eq(fin, "type", "result"), "full-text query failed");
        if (fin)
            xmpp_stanza_release(fin);
        CHECK_MSG(h_count(alice, &(h_match_t){.name = "message", .child_ns = "urn:xmpp:mam:2"}) ==
                      3,
                  "%d archive results for the word",
                  h_count(alice, &(h_match_t){.name = "message", .child_ns = "urn:xmpp:mam:2"}));
        h_client_free(alice);
    }
out:
    h_ctx_free(ctx);
}

/* The key file gone: the server refuses to start rather than write in
 * clear, and says which file it needs. */
static void missing_key_file_stops_the_server(h_server_t *srv)
{
    char moved[128], out[4096];
    snprintf(moved, sizeof(moved), "%s.away", keyfile);
    if (!CHECK(rename(keyfile, moved) == 0))
        return;
    kill(srv->pid, SIGTERM);
    CHECK(h_server_wait_exit(srv, 15000));
    int rc = h_run_prog("parleyd", NULL, out, sizeof(out), (const char *[]){"-c", srv->conf, NULL});
    CHECK_MSG(rc != 0, "parleyd started without its key file");
    CHECK_MSG(strstr(out, keyfile) != NULL, "the error does not name the key file: %s", out);
    CHECK(rename(moved, keyfile) == 0);
    /* With the key back, it starts and serves again. */
    CHECK(h_server_relaunch(srv) == 0);
}

int main(void)
{
    h_init();
    snprintf(keydir, sizeof(keydir), "/tmp/parley-keys-XXXXXX");
    if (!mkdtemp(keydir))
        return 1;
    snprintf(keyfile, sizeof(keyfile), "%s/at-rest.keys", keydir);
    char out[1024];
    if (h_run_prog("parleyctl", NULL, out, sizeof(out),
                   (const char *[]){"key", "generate", keyfile, NULL}) != 0) {
        fprintf(stderr, "parleyctl key generate failed: %s\n", out);
        return 1;
    }
    char top[256];
    snprintf(top, sizeof(top), "storage = { key_file = \"%s\"; };", keyfile);
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .top_extra = top,
        .modules = "roster = {}; presence = {}; offline = {}; mam = {}; inbox = {};",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(offline_messages_are_sealed, &srv);
        H_RUN(missing_key_file_stops_the_server, &srv);
    }
    h_server_stop(&srv);
    unlink(keyfile);
    rmdir(keydir);
    return h_finish("test_encryption");
}
