/* test_load.c — many clients at once (REL-2, CORE-4 under load): 200
 * libstrophe clients in one context log in together, each messages the
 * next, and every message must arrive; `parleyctl online` sees them all. */
#include <stdio.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NCLIENTS 200

typedef struct crowd {
    h_client_t *c[NCLIENTS];
    char jid[NCLIENTS][48];
} crowd_t;

static int all_settled(void *ud)
{
    crowd_t *w = ud;
    for (int i = 0; i < NCLIENTS; i++)
        if (!w->c[i]->connected && !w->c[i]->disconnected)
            return 0;
    return 1;
}

static int count_connected(crowd_t *w)
{
    int n = 0;
    for (int i = 0; i < NCLIENTS; i++)
        n += w->c[i]->connected;
    return n;
}

/* The body client i expects from client i-1. */
static void body_for(int i, char *buf, size_t len)
{
    snprintf(buf, len, "hello user%03d from user%03d", i, (i + NCLIENTS - 1) % NCLIENTS);
}

static int all_delivered(void *ud)
{
    crowd_t *w = ud;
    char body[64];
    for (int i = 0; i < NCLIENTS; i++) {
        body_for(i, body, sizeof(body));
        if (h_count(w->c[i], &(h_match_t){.name = "message", .body = body}) == 0)
            return 0;
    }
    return 1;
}

static int all_ponged(void *ud)
{
    crowd_t *w = ud;
    for (int i = 0; i < NCLIENTS; i++)
        if (h_count(w->c[i], &(h_match_t){.name = "iq", .id = "ready", .type = "result"}) == 0)
            return 0;
    return 1;
}

static void two_hundred_clients_message_in_a_ring(h_server_t *srv)
{
    static crowd_t w;
    xmpp_ctx_t *ctx = h_ctx_new();
    long long t0 = h_now_ms();
    for (int i = 0; i < NCLIENTS; i++) {
        snprintf(w.jid[i], sizeof(w.jid[i]), "user%03d@example.test", i);
        char pw[32];
        snprintf(pw, sizeof(pw), "pw-user%03d", i);
        w.c[i] = h_client_new(ctx, srv, w.jid[i], pw, H_STARTTLS);
    }
    h_run_until(ctx, all_settled, &w, 90000);
    int n = count_connected(&w);
    printf("    %d of %d logged in after %lld ms\n", n, NCLIENTS, h_now_ms() - t0);
    if (CHECK_MSG(n == NCLIENTS, "only %d logged in", n)) {
        /* Initial presence, and a round trip so it has been applied
         * before anyone sends to a bare JID. */
        for (int i = 0; i < NCLIENTS; i++)
            h_send(w.c[i],
                   "<presence/><iq type='get' id='ready'><ping xmlns='urn:xmpp:ping'/></iq>");
        CHECK(h_run_until(ctx, all_ponged, &w, 60000));
        char out[65536];
        int rc = h_ctl(srv, NULL, out, sizeof(out), (const char *[]){"online", NULL});
        int online = 0;
        for (char *p = out; (p = strstr(p, "@example.test/")); p++)
            online++;
        CHECK_MSG(rc == 0 && online == NCLIENTS, "parleyctl online: rc %d, %d sessions", rc,
                  online);
        t0 = h_now_ms();
        for (int i = 0; i < NCLIENTS; i++) {
            char body[64];
            body_for((i + 1) % NCLIENTS, body, sizeof(body));
            h_send(w.c[i], "<message to='%s' type='chat'><body>%s</body></message>",
                   w.jid[(i + 1) % NCLIENTS], body);
        }
        CHECK(h_run_until(ctx, all_delivered, &w, 60000));
        printf("    ring of %d messages delivered in %lld ms\n", NCLIENTS, h_now_ms() - t0);
        int missing = 0;
        for (int i = 0; i < NCLIENTS; i++) {
            char body[64];
            body_for(i, body, sizeof(body));
            missing += h_count(w.c[i], &(h_match_t){.name = "message", .body = body}) == 0;
        }
        CHECK_MSG(missing == 0, "%d messages missing", missing);
        CHECK_MSG(count_connected(&w) == NCLIENTS, "%d still connected", count_connected(&w));
    }
    for (int i = 0; i < NCLIENTS; i++)
        if (w.c[i]->connected)
            xmpp_disconnect(w.c[i]->conn);
    for (int i = 0; i < NCLIENTS; i++)
        h_client_free(w.c[i]);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    static char names[NCLIENTS][48], passwords[NCLIENTS][32];
    static const char *accounts[2 * NCLIENTS + 1];
    for (int i = 0; i < NCLIENTS; i++) {
        snprintf(names[i], sizeof(names[i]), "user%03d@example.test", i);
        snprintf(passwords[i], sizeof(passwords[i]), "pw-user%03d", i);
        accounts[2 * i] = names[i];
        accounts[2 * i + 1] = passwords[i];
    }
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "conn_per_ip = 1000; auth_fail_per_ip = 1000;",
        /* Fewer PBKDF2 rounds keep 200 logins quick, also under ASan. */
        .host_extra = "auth = { scram_iterations = 4096; };",
        .log_level = "info",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0)
        H_RUN(two_hundred_clients_message_in_a_ring, &srv);
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
