/* test_sm.c — stream management (XEP-0198, issue #5 point 4): the server
 * counts and acknowledges stanzas both ways, keeps what a client has not
 * acknowledged, lets a client whose connection died resume and get exactly
 * the unacknowledged stanzas again, and hands them to the account's other
 * clients when the session is not resumed.  Alice is a raw client (to drop
 * connections and write nonzas by hand); bob is libstrophe. */
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

#define SM "urn:xmpp:sm:3"

/* Logs in and enables SM; the resumption id goes into id (may be NULL). */
static int sm_login(h_raw_t *r, h_server_t *srv, const char *resource, char *id, size_t idlen)
{
    char el[512];
    if (!CHECK(h_raw_login(r, srv, "alice", "alice-pw", resource)))
        return 0;
    h_raw_sendf(r, "<presence/><enable xmlns='" SM "' resume='true'/>");
    if (!CHECK(h_raw_element(r, "<enabled", el, sizeof(el))))
        return 0;
    CHECK(strstr(el, "resume='true'"));
    if (id && !CHECK(h_xml_attr_in(el, "id", id, idlen)))
        return 0;
    return 1;
}

static int raw_auth(h_raw_t *r, h_server_t *srv, const char *user, const char *pw)
{
    return CHECK(h_raw_auth(r, srv, user, pw));
}

/* Sends and lets libstrophe write it out (its loop only runs when asked). */
static void send_to_alice(h_client_t *bob, const char *resource, const char *body)
{
    h_send(bob, "<message to='alice@example.test/%s' type='chat'><body>%s</body></message>",
           resource, body);
    h_run_for(bob->ctx, 20);
}

/* The feature is offered after authentication; <r/> is answered with the
 * number of stanzas handled; the server asks for acks and accepts them; a
 * count above what was sent ends the stream. */
static void acks_count_both_ways(h_server_t *srv)
{
    h_raw_t r;
    char el[256];
    if (!CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "acks")))
        return;
    CHECK(strstr(r.buf, "<sm xmlns='" SM "'/>"));
    h_raw_sendf(&r, "<enable xmlns='" SM "'/>");
    CHECK(h_raw_element(&r, "<enabled", el, sizeof(el)));
    CHECK(!strstr(el, "resume="));
    /* Two pings and a presence: three stanzas handled. */
    h_raw_sendf(&r, "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
                    "<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq><presence/>"
                    "<r xmlns='" SM "'/>");
    CHECK(h_raw_element(&r, "<a xmlns='" SM "'", el, sizeof(el)));
    CHECK_MSG(strstr(el, "h='3'"), "got %s", el);
    /* The server sent at least the two ping results and asks for an ack. */
    CHECK(h_raw_wait(&r, "<r xmlns='" SM "'/>", 5000));
    h_raw_sendf(&r, "<a xmlns='" SM "' h='2'/>");
    h_raw_sendf(&r, "<iq type='get' id='p3'><ping xmlns='urn:xmpp:ping'/></iq>");
    CHECK(h_raw_wait(&r, "id='p3'", 5000));
    /* Far more than was ever sent. */
    h_raw_sendf(&r, "<a xmlns='" SM "' h='1000'/>");
    CHECK(h_raw_wait(&r, "<undefined-condition", 5000));
    CHECK(h_raw_wait_eof(&r, 5000));
    h_raw_close(&r);
}

static void misuse_gets_failed_or_errors(h_server_t *srv)
{
    h_raw_t r;
    /* Before bind: enabling is refused, the stream goes on. */
    if (raw_auth(&r, srv, "alice", "alice-pw")) {
        h_raw_sendf(&r, "<enable xmlns='" SM "'/>");
        CHECK(h_raw_wait(&r, "<failed xmlns='" SM "'><unexpected-request", 5000));
        h_raw_sendf(&r, "<r xmlns='" SM "'/>");
        CHECK(h_raw_wait(&r, "<failed xmlns='" SM "'><unexpected-request", 5000));
        h_raw_sendf(&r, "<resume xmlns='" SM "' previd='no-such-id' h='0'/>");
        CHECK(h_raw_wait(&r, "<failed xmlns='" SM "'><item-not-found", 5000));
        h_raw_sendf(&r, "<resume xmlns='" SM "' h='0'/>");
        CHECK(h_raw_wait(&r, "<bad-request", 5000));
        /* A failed resumption leaves the stream usable: bind as usual. */
        h_raw_sendf(&r, "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                        "<resource>after</resource></bind></iq>");
        CHECK(h_raw_wait(&r, "alice@example.test/after", 5000));
        h_raw_sendf(&r, "<enable xmlns='" SM "'/><enable xmlns='" SM "'/>");
        CHECK(h_raw_wait(&r, "<enabled", 5000));
        CHECK(h_raw_wait(&r, "<failed xmlns='" SM "'><unexpected-request", 5000));
        h_raw_sendf(&r, "<a xmlns='" SM "' h='x1'/>");
        CHECK(h_raw_wait(&r, "<bad-format", 5000));
        CHECK(h_raw_wait_eof(&r, 5000));
    }
    h_raw_close(&r);
}

/* The connection dies with two messages unacknowledged; one more arrives
 * while the session waits; the resumed stream gets exactly those three, in
 * order, and then new traffic as usual. */
static void resume_redelivers_unacked(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_raw_t r, r2;
    char id[64], el[256];
    memset(&r2, 0, sizeof(r2));
    r2.fd = -1;
    if (!bob || !sm_login(&r, srv, "phone", id, sizeof(id)))
        goto out;
    send_to_alice(bob, "phone", "m1");
    send_to_alice(bob, "phone", "m2");
    send_to_alice(bob, "phone", "m3");
    CHECK(h_raw_wait(&r, "<body>m3</body>", 5000));
    h_raw_sendf(&r, "<a xmlns='" SM "' h='1'/>"); /* m1 only */
    h_raw_sendf(&r, "<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>");
    CHECK(h_raw_wait(&r, "id='sync'", 5000));
    size_t mark = h_log_mark(srv);
    h_raw_close(&r); /* no </stream>: the connection just dies */
    CHECK(h_log_wait(srv, mark, 5000, "event=sm.detached", "jid=alice@example.test/phone", NULL));
    send_to_alice(bob, "phone", "m4");
    h_settle(bob);
    /* Nothing bounced back to bob: the detached session is still there. */
    CHECK(h_count(bob, &(h_match_t){.name = "message", .type = "error"}) == 0);
    if (!raw_auth(&r2, srv, "alice", "alice-pw"))
        goto out;
    /* h: alice's ping is the one stanza handled since <enable/>; she
     * acknowledged m1 only, so m2, m3, the ping result and m4 come again. */
    h_raw_sendf(&r2, "<resume xmlns='" SM "' previd='%s' h='1'/>", id);
    if (CHECK(h_raw_element(&r2, "<resumed", el, sizeof(el)))) {
        CHECK_MSG(strstr(el, "h='1'"), "got %s", el);
        CHECK(h_raw_wait(&r2, "<body>m2</body>", 5000));
        CHECK(h_raw_wait(&r2, "<body>m3</body>", 5000));
        CHECK(h_raw_wait(&r2, "id='sync'", 5000));
        CHECK(h_raw_wait(&r2, "<body>m4</body>", 5000));
        CHECK(!strstr(r2.buf, "<body>m1</body>"));
        /* The session is the same one: same JID, still reachable. */
        send_to_alice(bob, "phone", "m5");
        CHECK(h_raw_wait(&r2, "<body>m5</body>", 5000));
        h_raw_sendf(&r2, "<r xmlns='" SM "'/>");
        CHECK(h_raw_element(&r2, "<a xmlns='" SM "'", el, sizeof(el)));
        CHECK_MSG(strstr(el, "h='1'"), "got %s", el);
        /* Resuming the same id twice: the second one fails. */
        h_raw_t r3;
        if (raw_auth(&r3, srv, "alice", "alice-pw")) {
            h_raw_sendf(&r3, "<resume xmlns='" SM "' previd='%s' h='0'/>", id);
            CHECK(h_raw_wait(&r3, "<failed", 5000));
        }
        h_raw_close(&r3);
    }
out:
    h_raw_close(&r2);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Bob cannot take over alice's session with her resumption id. */
static void resume_needs_the_same_account(h_server_t *srv)
{
    h_raw_t r, rb;
    char id[64];
    memset(&rb, 0, sizeof(rb));
    rb.fd = -1;
    if (!sm_login(&r, srv, "tablet", id, sizeof(id)))
        goto out;
    h_raw_close(&r);
    if (raw_auth(&rb, srv, "bob", "bob-pw")) {
        h_raw_sendf(&rb, "<resume xmlns='" SM "' previd='%s' h='0'/>", id);
        CHECK(h_raw_wait(&rb, "<failed xmlns='" SM "'><item-not-found", 5000));
    }
out:
    h_raw_close(&rb);
}

/* A session that is not resumed in time ends: its unacknowledged messages
 * go to the account's other client, stamped with a delay; a clean close
 * is never resumable and hands them over at once. */
static void unresumed_messages_reach_other_clients(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_client_t *desk = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    h_raw_t r, r2;
    char id[64];
    memset(&r2, 0, sizeof(r2));
    r2.fd = -1;
    if (!bob || !desk || !sm_login(&r, srv, "laptop", id, sizeof(id)))
        goto out;
    h_drain(desk);
    send_to_alice(bob, "laptop", "t1");
    CHECK(h_raw_wait(&r, "<body>t1</body>", 5000));
    size_t mark = h_log_mark(srv);
    h_raw_close(&r);
    /* resume_timeout is 2 s in this server. */
    CHECK(h_log_wait(srv, mark, 8000, "event=sm.expired", "jid=alice@example.test/laptop", NULL));
    xmpp_stanza_t *m = h_wait(desk, &(h_match_t){.name = "message", .body = "t1"}, 5000);
    if (CHECK_MSG(m, "the unacknowledged message did not reach alice's other client")) {
        CHECK(xmpp_stanza_get_child_by_ns(m, "urn:xmpp:delay"));
        CHECK(h_attr_eq(m, "from", "bob@example.test/desk"));
        xmpp_stanza_release(m);
    }
    if (raw_auth(&r2, srv, "alice", "alice-pw")) {
        h_raw_sendf(&r2, "<resume xmlns='" SM "' previd='%s' h='0'/>", id);
        CHECK(h_raw_wait(&r2, "<item-not-found", 5000));
    }
    h_raw_close(&r2);

    /* Clean close: </stream> ends the session now. */
    if (!sm_login(&r, srv, "laptop", id, sizeof(id)))
        goto out;
    send_to_alice(bob, "laptop", "t2");
    CHECK(h_raw_wait(&r, "<body>t2</body>", 5000));
    h_raw_sendf(&r, "</stream:stream>");
    CHECK(h_raw_wait_eof(&r, 5000));
    h_raw_close(&r);
    m = h_wait(desk, &(h_match_t){.name = "message", .body = "t2"}, 5000);
    CHECK_MSG(m, "after a clean close the message did not reach the other client");
    if (m)
        xmpp_stanza_release(m);
    CHECK(h_count(bob, &(h_match_t){.name = "message", .type = "error"}) == 0);
out:
    h_client_free(desk);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* With nobody else online, the unacknowledged message of an expired
 * session comes back to the sender as an error rather than vanishing
 * (without an offline store on this host). */
static void unresumed_without_other_clients_bounces(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_raw_t r;
    if (!bob || !sm_login(&r, srv, "solo", NULL, 0))
        goto out;
    send_to_alice(bob, "solo", "lonely");
    CHECK(h_raw_wait(&r, "<body>lonely</body>", 5000));
    h_raw_close(&r);
    xmpp_stanza_t *e = h_wait(bob, &(h_match_t){.name = "message", .type = "error"}, 8000);
    CHECK_MSG(e, "no error came back for the message nobody received");
    if (e)
        xmpp_stanza_release(e);
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* A client that never acknowledges loses its connection, not its session:
 * the 21st unacknowledged stanza (max_unacked = 20) ends the stream, and a
 * resumption gets all of them.  (More while detached would end the session
 * too: test_close_paths checks that bound.) */
static void too_many_unacked_ends_the_connection(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_raw_t r, r2;
    char id[64], el[256];
    memset(&r2, 0, sizeof(r2));
    r2.fd = -1;
    if (!bob || !sm_login(&r, srv, "greedy", id, sizeof(id)))
        goto out;
    for (int i = 0; i < 21; i++) {
        char b[16];
        snprintf(b, sizeof(b), "g%d", i);
        send_to_alice(bob, "greedy", b);
    }
    CHECK(h_raw_wait(&r, "<resource-constraint", 5000));
    CHECK(h_raw_wait_eof(&r, 5000));
    h_raw_close(&r);
    if (raw_auth(&r2, srv, "alice", "alice-pw")) {
        h_raw_sendf(&r2, "<resume xmlns='" SM "' previd='%s' h='0'/>", id);
        if (CHECK(h_raw_element(&r2, "<resumed", el, sizeof(el)))) {
            CHECK(h_raw_wait(&r2, "<body>g0</body>", 5000));
            CHECK(h_raw_wait(&r2, "<body>g20</body>", 5000));
        }
    }
out:
    h_raw_close(&r2);
    h_client_free(bob);
    h_ctx_free(ctx);
}

int main(void)
{
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .limits = "resume_timeout = \"2s\"; max_unacked = 20;",
        .modules = "roster = {}; presence = {};",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(acks_count_both_ways, &srv);
        H_RUN(misuse_gets_failed_or_errors, &srv);
        H_RUN(resume_redelivers_unacked, &srv);
        H_RUN(resume_needs_the_same_account, &srv);
        H_RUN(unresumed_messages_reach_other_clients, &srv);
        H_RUN(unresumed_without_other_clients_bounces, &srv);
        H_RUN(too_many_unacked_ends_the_connection, &srv);
    }
    h_server_stop(&srv);
    return h_finish("test_sm");
}
