/* test_loops.c — a server on several event loops (issue #4): each loop
 * listens on the same ports with SO_REUSEPORT, clients on different loops
 * reach each other, and a second parleyd on the same ports refuses to start
 * instead of silently sharing the connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw",
    NULL,
};
// clang-format on

#define MAX_CLIENTS 32

/* Clients log in until the kernel has put some on each loop (c2s.bind logs
 * the loop), then every one sends to every other and all arrive. */
static void messages_cross_loops(h_server_t *srv)
{
    CHECK(h_log_has(srv, 0, "event=server.ready", "loops=2", NULL));
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *c[MAX_CLIENTS] = {0};
    int n = 0;
    char jid[64];
    while (n < MAX_CLIENTS) {
        snprintf(jid, sizeof(jid), "%s@example.test/r%d", n % 2 ? "bob" : "alice", n);
        c[n] = h_login(ctx, srv, jid, "pw", 0);
        if (!c[n])
            goto out;
        n++;
        if (n >= 4 && h_log_count(srv, 0, "loop=0") > 0 && h_log_count(srv, 0, "loop=1") > 0)
            break;
    }
    CHECK_MSG(h_log_count(srv, 0, "loop=0") > 0 && h_log_count(srv, 0, "loop=1") > 0,
              "%d clients, all on one loop", n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j)
                h_send(c[i], "<message to='%s' type='chat'><body>%d-%d</body></message>",
                       h_jid(c[j]), i, j);
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            if (i == j)
                continue;
            char body[16];
            snprintf(body, sizeof(body), "%d-%d", i, j);
            xmpp_stanza_t *m = h_wait(c[j], &(h_match_t){.name = "message", .body = body}, 5000);
            CHECK_MSG(m, "message %s did not reach %s", body, h_jid(c[j]));
            if (m)
                xmpp_stanza_release(m);
        }
out:
    for (int i = 0; i < MAX_CLIENTS; i++)
        h_client_free(c[i]);
    h_ctx_free(ctx);
}

/* Stream management across loops: the connection that resumes a session
 * often lands on the other loop than the session; the handover must carry
 * the queued stanzas either way.  Cycles until both kinds were seen. */
static void resumption_works_across_loops(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "pw", 0);
    h_raw_t r;
    char el[256], id[64] = "";
    int received = 0, cross = 0, same = 0;
    if (!bob || !CHECK(h_raw_login(&r, srv, "alice", "pw", "roam")))
        goto out;
    h_raw_sendf(&r, "<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    if (!CHECK(h_raw_element(&r, "<enabled", el, sizeof(el))) ||
        !CHECK(h_xml_attr_in(el, "id", id, sizeof(id))))
        goto close;
    for (int i = 0; i < 16 && (!cross || !same); i++) {
        size_t mark = h_log_mark(srv);
        h_raw_close(&r);
        if (!CHECK(h_log_wait(srv, mark, 5000, "event=sm.detached", NULL)))
            goto out;
        char body[16];
        snprintf(body, sizeof(body), "q%d", i);
        h_send(bob, "<message to='alice@example.test/roam' type='chat'><body>%s</body></message>",
               body);
        h_settle(bob);
        if (!CHECK(h_raw_auth(&r, srv, "alice", "pw")))
            goto close;
        h_raw_sendf(&r, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='%d'/>", id, received);
        char want[32];
        snprintf(want, sizeof(want), "<body>%s</body>", body);
        if (!CHECK(h_raw_element(&r, "<resumed", el, sizeof(el))) ||
            !CHECK_MSG(h_raw_wait(&r, want, 5000), "%s not redelivered after resumption", body))
            goto close;
        received++;
        if (h_log_wait(srv, mark, 2000, "event=sm.resumed", "loop=0 old_loop=1", NULL) ||
            h_log_has(srv, mark, "event=sm.resumed", "loop=1 old_loop=0", NULL))
            cross++;
        else
            same++;
    }
    CHECK_MSG(cross > 0, "no resumption crossed loops in %d tries", cross + same);
close:
    h_raw_close(&r);
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* The same ports, another data directory: the second server must fail. */
static void second_server_on_the_same_ports_refuses_to_start(h_server_t *srv)
{
    char conf[600];
    snprintf(conf, sizeof(conf), "%s/second.conf", srv->dir);
    FILE *in = fopen(srv->conf, "r"), *out = fopen(conf, "w");
    if (!CHECK(in && out)) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return;
    }
    char line[1024];
    while (fgets(line, sizeof(line), in)) {
        if (strncmp(line, "data_dir", 8) == 0)
            fputs("data_dir = \"data2\";\n", out);
        else if (strncmp(line, "control_socket", 14) == 0)
            fputs("control_socket = \"data2/parleyd.sock\";\n", out);
        else
            fputs(line, out);
    }
    fclose(in);
    fclose(out);
    char msg[4096];
    int rc = h_run_prog("parleyd", NULL, msg, sizeof(msg), (const char *[]){"-c", conf, NULL});
    CHECK_MSG(rc != 0, "a second parleyd started on ports in use (exit %d)", rc);
    CHECK_MSG(strstr(msg, "Address already in use") != NULL, "its report: %s", msg);
    /* The first one still serves. */
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "alice@example.test/after", "pw", 0);
    h_client_free(a);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .accounts = accounts,
        .loops = 2,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(messages_cross_loops, &srv);
        H_RUN(resumption_works_across_loops, &srv);
        H_RUN(second_server_on_the_same_ports_refuses_to_start, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
