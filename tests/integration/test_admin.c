/* test_admin.c — operating the server: parleyctl against the running server
 * (accounts, who is online, deleting ends sessions), config checking,
 * SIGHUP reload and SIGTERM shutdown as clients and the operator see them. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/seal.h"
#include "tests/integration/harness.h"

/* jid, password */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "bob@example.test", "bob-pw",
    NULL,
};
// clang-format on

/* parleyctl with up to three words after -c CONF; output in out. */
static int ctl(h_server_t *srv, const char *input, char *out, size_t len, const char *a,
               const char *b, const char *c, const char *d)
{
    return h_ctl(srv, input, out, len, (const char *[]){a, b, c, d, NULL});
}

static void user_add_with_password_argument(h_server_t *srv)
{
    char out[4096];
    size_t mark = h_log_mark(srv);
    int rc = ctl(srv, NULL, out, sizeof(out), "user", "add", "erin@example.test", "erin-pw");
    CHECK_MSG(rc == 0 && strstr(out, "erin@example.test: added"), "rc %d: %s", rc, out);
    /* It went through the running server, not around it. */
    CHECK(h_log_has(srv, mark, "event=admin.account", "op=add", "jid=erin@example.test",
                    "via=control", NULL));
    CHECK(h_can_login(srv, "erin@example.test", "erin-pw"));
}

static void user_add_with_password_on_stdin(h_server_t *srv)
{
    char out[4096];
    int rc = ctl(srv, "frank-pw\n", out, sizeof(out), "user", "add", "frank@example.test", NULL);
    CHECK_MSG(rc == 0 && strstr(out, "frank@example.test: added"), "rc %d: %s", rc, out);
    CHECK(h_can_login(srv, "frank@example.test", "frank-pw"));
    CHECK_MSG(!strstr(out, "frank-pw"), "the password was echoed: %s", out);
}

static void user_list_shows_accounts(h_server_t *srv)
{
    char out[8192];
    int rc = ctl(srv, NULL, out, sizeof(out), "user", "list", NULL, NULL);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, out);
    static const char *const want[] = {"alice@example.test\n", "bob@example.test\n",
                                       "erin@example.test\n", "frank@example.test\n"};
    for (size_t i = 0; i < 4; i++)
        CHECK_MSG(strstr(out, want[i]) != NULL, "%s missing from: %s", want[i], out);
    rc = ctl(srv, NULL, out, sizeof(out), "user", "list", "other.test", NULL);
    CHECK_MSG(rc == 0 && !strstr(out, "alice@example.test"), "rc %d: %s", rc, out);
}

static int not_listed_online(void *ud)
{
    h_server_t *srv = ud;
    char out[8192];
    ctl(srv, NULL, out, sizeof(out), "online", NULL, NULL, NULL);
    return strstr(out, "alice@example.test/desk") == NULL;
}

static void online_lists_sessions(h_server_t *srv)
{
    char out[8192];
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    if (alice) {
        int rc = ctl(srv, NULL, out, sizeof(out), "online", NULL, NULL, NULL);
        CHECK_MSG(rc == 0 && strstr(out, "alice@example.test/desk"), "rc %d: %s", rc, out);
    }
    h_client_free(alice);
    /* Gone from the list once she logs out. */
    long long deadline = h_now_ms() + 5000;
    while (!not_listed_online(srv) && h_now_ms() < deadline)
        xmpp_run_once(ctx, 20);
    CHECK(not_listed_online(srv));
    h_ctx_free(ctx);
}

static void user_passwd_changes_password(h_server_t *srv)
{
    char out[4096];
    int rc = ctl(srv, NULL, out, sizeof(out), "user", "passwd", "erin@example.test", "erin-new");
    CHECK_MSG(rc == 0 && strstr(out, "password changed"), "rc %d: %s", rc, out);
    CHECK_MSG(h_can_login(srv, "erin@example.test", "erin-new"), "new password refused");
    CHECK_MSG(!h_can_login(srv, "erin@example.test", "erin-pw"), "old password still works");
}

static void user_del_ends_live_session(h_server_t *srv)
{
    char out[4096];
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *frank = h_login(ctx, srv, "frank@example.test/desk", "frank-pw", 0);
    if (frank) {
        int rc = ctl(srv, NULL, out, sizeof(out), "user", "del", "frank@example.test", NULL);
        CHECK_MSG(rc == 0 && strstr(out, "frank@example.test: deleted"), "rc %d: %s", rc, out);
        CHECK(h_wait_disconnect(frank, 5000));
        CHECK_MSG(frank->stream_error == XMPP_SE_NOT_AUTHORIZED, "stream error %d",
                  frank->stream_error);
    }
    h_client_free(frank);
    h_ctx_free(ctx);
    CHECK_MSG(!h_can_login(srv, "frank@example.test", "frank-pw"), "deleted account still logs in");
    ctl(srv, NULL, out, sizeof(out), "user", "list", NULL, NULL);
    CHECK(!strstr(out, "frank@example.test"));
}

/* Bulk creation from stdin while the server runs: good lines become
 * accounts that can log in, existing ones are skipped, bad ones reported. */
static void user_import_creates_many_accounts(h_server_t *srv)
{
    char out[4096];
    const char *input = "# bulk accounts\n"
                        "imp1@example.test imp-pw-1\n"
                        "\n"
                        "imp2@example.test  pass with spaces\n"
                        "erin@example.test other\n"
                        "imp3@elsewhere.test x\n"
                        "imp4@example.test\n";
    int rc = ctl(srv, input, out, sizeof(out), "user", "import", "-", NULL);
    CHECK_MSG(rc == 1, "rc %d: bad lines must make the exit status non-zero", rc);
    CHECK_MSG(strstr(out, "2 added, 1 already existed, 2 rejected"), "%s", out);
    CHECK_MSG(strstr(out, "line 6: host 'elsewhere.test' is not configured"), "%s", out);
    CHECK_MSG(strstr(out, "line 7: a password is required"), "%s", out);
    CHECK(h_can_login(srv, "imp1@example.test", "imp-pw-1"));
    CHECK(h_can_login(srv, "imp2@example.test", "pass with spaces"));
    CHECK(!h_can_login(srv, "erin@example.test", "other"));
    rc = ctl(srv, NULL, out, sizeof(out), "user", "import", "/nonexistent/users.txt", NULL);
    CHECK_MSG(rc == 1 && strstr(out, "cannot read /nonexistent/users.txt"), "rc %d: %s", rc, out);
}

static void admin_errors_are_reported(h_server_t *srv)
{
    char out[4096];
    int rc = ctl(srv, NULL, out, sizeof(out), "user", "add", "alice@example.test", "other-pw");
    CHECK_MSG(rc != 0 && strstr(out, "already exists"), "rc %d: %s", rc, out);
    CHECK_MSG(h_can_login(srv, "alice@example.test", "alice-pw"), "alice's password was replaced");
    rc = ctl(srv, NULL, out, sizeof(out), "user", "add", "zed@nowhere.test", "pw");
    CHECK_MSG(rc != 0 && strstr(out, "nowhere.test"), "rc %d: %s", rc, out);
    rc = ctl(srv, NULL, out, sizeof(out), "user", "del", "ghost@example.test", NULL);
    CHECK_MSG(rc != 0 && strstr(out, "ghost@example.test"), "rc %d: %s", rc, out);
    rc = ctl(srv, NULL, out, sizeof(out), "user", "frobnicate", NULL, NULL);
    CHECK_MSG(rc == 2 && strstr(out, "usage"), "rc %d: %s", rc, out);
}

static void check_config_reports_file_and_line(h_server_t *srv)
{
    char out[4096], bad[400], text[8192];
    FILE *f = fopen(srv->conf, "r");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += text[i] == '\n';
    snprintf(bad, sizeof(bad), "%s/bad.conf", srv->dir);
    f = fopen(bad, "w");
    if (!CHECK(f != NULL))
        return;
    fprintf(f, "%sfrobnicate = true;\n", text);
    fclose(f);
    int rc = h_run_prog("parleyd", NULL, out, sizeof(out),
                        (const char *[]){"-c", bad, "--check-config", NULL});
    char where[420];
    snprintf(where, sizeof(where), "%s:%d:", bad, lines + 1);
    CHECK_MSG(rc != 0 && strstr(out, where) && strstr(out, "frobnicate"), "rc %d, want '%s': %s",
              rc, where, out);
    rc = h_run_prog("parleyd", NULL, out, sizeof(out),
                    (const char *[]){"-c", srv->conf, "--check-config", NULL});
    CHECK_MSG(rc == 0 && strstr(out, "configuration OK"), "rc %d: %s", rc, out);
}

/* Alice messages bob; returns 1 when it arrived. */
static int chat(h_client_t *alice, h_client_t *bob)
{
    const char *id = h_id();
    h_send(alice, "<message to='bob@example.test' type='chat'><body>%s</body></message>", id);
    xmpp_stanza_t *m = h_wait(bob, &(h_match_t){.name = "message", .body = id}, 5000);
    if (m)
        xmpp_stanza_release(m);
    return m != NULL;
}

static void sighup_reloads_and_keeps_serving(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        /* debug -> info: stanza traces stop. */
        size_t mark = h_log_mark(srv);
        CHECK(h_server_write_config(srv, "info") == 0);
        kill(srv->pid, SIGHUP);
        CHECK(h_log_wait(srv, mark, 5000, "event=server.reload", "ok=1", NULL));
        mark = h_log_mark(srv);
        CHECK_MSG(chat(alice, bob), "no message after the reload");
        CHECK(bob->connected && alice->connected);
        CHECK_MSG(h_log_count(srv, mark, "event=stanza.out") == 0, "still logging at debug");

        /* A broken file is refused and the server goes on as it was. */
        FILE *f = fopen(srv->conf, "a");
        if (f) {
            fputs("limits = {\n", f);
            fclose(f);
        }
        mark = h_log_mark(srv);
        kill(srv->pid, SIGHUP);
        CHECK(h_log_wait(srv, mark, 5000, "event=server.reload", "ok=0", NULL));
        CHECK_MSG(chat(alice, bob), "no message after a failed reload");

        /* And back to debug. */
        CHECK(h_server_write_config(srv, "debug") == 0);
        mark = h_log_mark(srv);
        kill(srv->pid, SIGHUP);
        CHECK(h_log_wait(srv, mark, 5000, "event=server.reload", "ok=1", NULL));
        mark = h_log_mark(srv);
        CHECK(chat(alice, bob));
        CHECK_MSG(h_log_count(srv, mark, "event=stanza.out") > 0, "debug not restored");

        /* Reloaded limits hold for new streams (a stream keeps the parser
         * bounds it opened with): a stanza over the reloaded
         * max_stanza_bytes ends the sender's stream, and only its. */
        const char *before = srv->opts.limits;
        srv->opts.limits = "auth_fail_per_ip = 1000; max_stanza_bytes = 4096;";
        CHECK(h_server_write_config(srv, "info") == 0);
        mark = h_log_mark(srv);
        kill(srv->pid, SIGHUP);
        CHECK(h_log_wait(srv, mark, 5000, "event=server.reload", "ok=1", NULL));
        char body[6001];
        memset(body, 'x', sizeof(body) - 1);
        body[sizeof(body) - 1] = '\0';
        h_client_t *late = h_login(ctx, srv, "alice@example.test/late", "alice-pw", 0);
        CHECK(late != NULL);
        if (late) {
            h_send(late, "<message to='bob@example.test' type='chat'><body>%s</body></message>",
                   body);
            CHECK_MSG(h_wait_disconnect(late, 5000), "a stanza over the reloaded limit was taken");
            CHECK(bob->connected && alice->connected);
            h_client_free(late);
        }
        srv->opts.limits = before;
        CHECK(h_server_write_config(srv, "debug") == 0);
        mark = h_log_mark(srv);
        kill(srv->pid, SIGHUP);
        CHECK(h_log_wait(srv, mark, 5000, "event=server.reload", "ok=1", NULL));
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void sigterm_sends_system_shutdown(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    h_client_t *bob = alice ? h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0) : NULL;
    if (bob) {
        kill(srv->pid, SIGTERM);
        CHECK(h_wait_disconnect(alice, 10000) && h_wait_disconnect(bob, 10000));
        CHECK_MSG(alice->stream_error == XMPP_SE_SYSTEM_SHUTDOWN, "alice: stream error %d",
                  alice->stream_error);
        CHECK_MSG(bob->stream_error == XMPP_SE_SYSTEM_SHUTDOWN, "bob: stream error %d",
                  bob->stream_error);
        if (CHECK_MSG(h_server_wait_exit(srv, 15000), "parleyd did not exit"))
            CHECK_MSG(WIFEXITED(srv->status) && WEXITSTATUS(srv->status) == 0, "wait status 0x%x",
                      srv->status);
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* With the server down, parleyctl works on the storage directly. */
static void parleyctl_without_server(h_server_t *srv)
{
    char out[4096];
    if (!CHECK_MSG(!srv->running, "the server is still running"))
        return;
    int rc = ctl(srv, NULL, out, sizeof(out), "online", NULL, NULL, NULL);
    CHECK_MSG(rc != 0 && strstr(out, "not running"), "rc %d: %s", rc, out);
    rc = ctl(srv, NULL, out, sizeof(out), "user", "list", NULL, NULL);
    CHECK_MSG(rc == 0 && strstr(out, "erin@example.test") && !strstr(out, "frank@example.test"),
              "rc %d: %s", rc, out);
}

/* `key generate` makes an owner-only key file, then appends to it; the
 * server's loader reads what it wrote.  It needs no running server. */
static void key_generate_makes_owner_only_key_file(h_server_t *srv)
{
    char out[4096], path[512];
    snprintf(path, sizeof(path), "%s/at-rest.keys", srv->dir);
    int rc = ctl(srv, NULL, out, sizeof(out), "key", "generate", path, NULL);
    CHECK_MSG(rc == 0 && strstr(out, "key 1 added"), "rc %d: %s", rc, out);
    rc = ctl(srv, NULL, out, sizeof(out), "key", "generate", path, NULL);
    CHECK_MSG(rc == 0 && strstr(out, "key 2 added"), "rc %d: %s", rc, out);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    pl_seal_t *k = NULL;
    char *error = NULL;
    CHECK_MSG(pl_seal_load(path, &k, &error) == 0 && pl_seal_current_id(k) == 2, "%s",
              error ? error : "");
    pl_seal_free(&k);
    free(error);
    /* A key file others can read is refused, not appended to. */
    chmod(path, 0644);
    rc = ctl(srv, NULL, out, sizeof(out), "key", "generate", path, NULL);
    CHECK_MSG(rc != 0 && strstr(out, "chmod 600"), "rc %d: %s", rc, out);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {.limits = "auth_fail_per_ip = 1000;", .accounts = accounts};
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(user_add_with_password_argument, &srv);
        H_RUN(user_add_with_password_on_stdin, &srv);
        H_RUN(user_list_shows_accounts, &srv);
        H_RUN(online_lists_sessions, &srv);
        H_RUN(user_passwd_changes_password, &srv);
        H_RUN(user_del_ends_live_session, &srv);
        H_RUN(user_import_creates_many_accounts, &srv);
        H_RUN(admin_errors_are_reported, &srv);
        H_RUN(check_config_reports_file_and_line, &srv);
        H_RUN(sighup_reloads_and_keeps_serving, &srv);
        H_RUN(sigterm_sends_system_shutdown, &srv);
        H_RUN(parleyctl_without_server, &srv);
        H_RUN(key_generate_makes_owner_only_key_file, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
