/* test_readstate.c — read state follows the user (issue #5 point 5, MC-3):
 * chat markers (XEP-0333) pass through to the other party, and the
 * "displayed up to here" position of each conversation, published by one
 * client as XEP-0490 message displayed synchronization (a PEP node with one
 * item per conversation), is read by the user's other clients, survives
 * logout and a restart, and stays private to the user. */
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

#define MDS "urn:xmpp:mds:displayed:0"

static int publish_position(h_client_t *c, const char *peer, const char *stanza_id)
{
    char xml[2048];
    snprintf(xml, sizeof(xml),
             "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='" MDS "'>"
             "<item id='%s'><displayed xmlns='" MDS "'><stanza-id xmlns='urn:xmpp:sid:0' "
             "by='alice@example.test' id='%s'/></displayed></item></publish>"
             "<publish-options><x xmlns='jabber:x:data' type='submit'>"
             "<field var='FORM_TYPE' type='hidden'><value>"
             "http://jabber.org/protocol/pubsub#publish-options</value></field>"
             "<field var='pubsub#persist_items'><value>true</value></field>"
             "<field var='pubsub#max_items'><value>max</value></field>"
             "<field var='pubsub#send_last_published_item'><value>never</value></field>"
             "<field var='pubsub#access_model'><value>whitelist</value></field>"
             "</x></publish-options></pubsub>",
             peer, stanza_id);
    xmpp_stanza_t *r = h_iq(c, "set", NULL, xml, 5000);
    int ok = r && h_attr_eq(r, "type", "result");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

/* The stanza-id displayed for `peer` as another client reads it, or "". */
static void read_position(h_client_t *c, const char *owner, const char *peer, char *out,
                          size_t outlen, char *cond, size_t condlen)
{
    out[0] = cond[0] = '\0';
    xmpp_stanza_t *r =
        h_iq(c, "get", owner,
             "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='" MDS "'/></pubsub>",
             5000);
    if (!r)
        return;
    if (h_error_condition(r))
        snprintf(cond, condlen, "%s", h_error_condition(r));
    char *text = NULL;
    size_t len = 0;
    xmpp_stanza_to_text(r, &text, &len);
    char pat[160];
    snprintf(pat, sizeof(pat), "<item id=\"%s\"", peer);
    const char *it = text ? strstr(text, pat) : NULL;
    const char *sid = it ? strstr(it, "<stanza-id") : NULL;
    const char *idp = sid ? strstr(sid, " id=\"") : NULL;
    if (idp)
        snprintf(out, outlen, "%.*s", (int)strcspn(idp + 5, "\""), idp + 5);
    if (text)
        xmpp_free(c->ctx, text);
    xmpp_stanza_release(r);
}

static void markers_pass_through(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/phone", "bob-pw", 0);
    if (alice && bob) {
        h_send(alice, "<message to='bob@example.test' type='chat' id='m1'><body>lunch?</body>"
                      "<markable xmlns='urn:xmpp:chat-markers:0'/></message>");
        xmpp_stanza_t *m = h_wait(bob, &(h_match_t){.name = "message", .body = "lunch?"}, 5000);
        if (CHECK(m))
            xmpp_stanza_release(m);
        h_send(bob, "<message to='alice@example.test/desk' type='chat'>"
                    "<displayed xmlns='urn:xmpp:chat-markers:0' id='m1'/></message>");
        m = h_wait(alice, &(h_match_t){.name = "message", .child_ns = "urn:xmpp:chat-markers:0"},
                   5000);
        if (CHECK_MSG(m, "the displayed marker did not reach alice")) {
            xmpp_stanza_t *d = xmpp_stanza_get_child_by_name(m, "displayed");
            CHECK(d && !strcmp(xmpp_stanza_get_attribute(d, "id"), "m1"));
            xmpp_stanza_release(m);
        }
    }
    h_client_free(bob);
    h_client_free(alice);
    h_ctx_free(ctx);
}

static void displayed_position_syncs_and_survives(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *desk = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    h_client_t *phone = h_login(ctx, srv, "alice@example.test/phone", "alice-pw", 0);
    char pos[128], cond[64];
    if (!desk || !phone)
        goto out;
    CHECK(publish_position(desk, "bob@example.test", "01J0000000001"));
    read_position(phone, NULL, "bob@example.test", pos, sizeof(pos), cond, sizeof(cond));
    CHECK_MSG(!strcmp(pos, "01J0000000001"), "phone sees '%s' (%s)", pos, cond);
    /* Reading further on the phone moves the one position per conversation. */
    CHECK(publish_position(phone, "bob@example.test", "01J0000000007"));
    CHECK(publish_position(phone, "carol@example.test", "01J0000000003"));
    read_position(desk, NULL, "bob@example.test", pos, sizeof(pos), cond, sizeof(cond));
    CHECK_MSG(!strcmp(pos, "01J0000000007"), "desk sees '%s'", pos);
    read_position(desk, NULL, "carol@example.test", pos, sizeof(pos), cond, sizeof(cond));
    CHECK(!strcmp(pos, "01J0000000003"));
    /* Private: bob cannot read alice's positions. */
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    if (bob) {
        read_position(bob, "alice@example.test", "bob@example.test", pos, sizeof(pos), cond,
                      sizeof(cond));
        CHECK_MSG(pos[0] == '\0' && cond[0], "bob read '%s' (%s)", pos, cond);
        h_client_free(bob);
    }
    h_client_free(desk);
    h_client_free(phone);
    desk = phone = NULL;
    /* Logged out and restarted: a new client still finds the positions. */
    if (!CHECK(h_server_restart(srv) == 0))
        goto out;
    h_client_t *fresh = h_login(ctx, srv, "alice@example.test/tablet", "alice-pw", 0);
    if (fresh) {
        read_position(fresh, NULL, "bob@example.test", pos, sizeof(pos), cond, sizeof(cond));
        CHECK_MSG(!strcmp(pos, "01J0000000007"), "after restart: '%s' (%s)", pos, cond);
        h_client_free(fresh);
    }
out:
    h_client_free(desk);
    h_client_free(phone);
    h_ctx_free(ctx);
}

int main(void)
{
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .modules = "roster = {}; presence = {}; pep = {};",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(markers_pass_through, &srv);
        H_RUN(displayed_position_syncs_and_survives, &srv);
    }
    h_server_stop(&srv);
    return h_finish("test_readstate");
}
