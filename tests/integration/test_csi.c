/* test_csi.c — client state indication (XEP-0352, issue #5 point 9): while
 * a client says it is inactive, presence for it is held and collapsed to
 * the newest per sender; messages still flow (one with a body first lets
 * the held presence out); <active/> sends what was held; a resumed stream
 * gets what was held when its connection died. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw", "bob@example.test", "bob-pw",
    "carol@example.test", "carol-pw",
    NULL,
};
// clang-format on

#define CSI "urn:xmpp:csi:0"

static void presence_to(h_client_t *c, const char *to, const char *show)
{
    h_send(c, "<presence to='%s'><show>%s</show></presence>", to, show);
    h_run_for(c->ctx, 20);
}

/* A ping round trip: everything the server had for alice before it is in
 * her buffer afterwards. */
static int raw_sync(h_raw_t *r, const char *id)
{
    char want[64];
    h_raw_sendf(r, "<iq type='get' id='%s'><ping xmlns='urn:xmpp:ping'/></iq>", id);
    snprintf(want, sizeof(want), "id='%s'", id);
    return h_raw_wait(r, want, 5000);
}

static int count_in(const char *hay, size_t len, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (const char *p = hay; (p = memmem(p, len - (size_t)(p - hay), needle, nl)); p += nl)
        n++;
    return n;
}

static void inactive_client_gets_presence_later_and_collapsed(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/desk", "carol-pw", 0);
    h_raw_t r;
    if (!bob || !carol || !CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "phone")))
        goto out;
    CHECK(strstr(r.buf, "<csi xmlns='" CSI "'/>"));
    h_raw_sendf(&r, "<presence/><inactive xmlns='" CSI "'/>");
    CHECK(raw_sync(&r, "s1"));
    size_t start = r.seen;
    presence_to(bob, "alice@example.test/phone", "away");
    presence_to(bob, "alice@example.test/phone", "dnd");
    presence_to(carol, "alice@example.test/phone", "xa");
    h_settle(bob);
    h_settle(carol);
    /* Chat states carry no body: they flow, and let nothing out. */
    h_send(bob, "<message to='alice@example.test/phone' type='chat'>"
                "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    h_settle(bob);
    CHECK(raw_sync(&r, "s2"));
    CHECK(strstr(r.buf + start, "<composing"));
    CHECK_MSG(!strstr(r.buf + start, "<presence"), "presence reached an inactive client: %s",
              r.buf + start);
    /* A message with a body: the held presence first, newest only. */
    h_send(bob, "<message to='alice@example.test/phone' type='chat'><body>wake</body></message>");
    h_settle(bob);
    CHECK(h_raw_wait(&r, "<body>wake</body>", 5000));
    const char *seg = r.buf + start;
    size_t seglen = r.len - start;
    char *dnd = memmem(seg, seglen, "<show>dnd</show>", 16);
    char *xa = memmem(seg, seglen, "<show>xa</show>", 15);
    char *wake = memmem(seg, seglen, "<body>wake</body>", 17);
    CHECK_MSG(dnd && xa && wake && dnd < wake && xa < wake, "held presence missing or late: %s",
              seg);
    CHECK(count_in(seg, seglen, "<show>away</show>") == 0);
    CHECK(count_in(seg, seglen, "<show>dnd</show>") == 1);
    /* Still inactive: held again; <active/> lets it out. */
    start = r.len;
    presence_to(bob, "alice@example.test/phone", "chat");
    h_settle(bob);
    CHECK(raw_sync(&r, "s3"));
    CHECK(!strstr(r.buf + start, "<show>chat</show>"));
    h_raw_sendf(&r, "<active xmlns='" CSI "'/>");
    CHECK(h_raw_wait(&r, "<show>chat</show>", 5000));
    /* Active again: presence goes straight through. */
    presence_to(carol, "alice@example.test/phone", "away");
    CHECK(h_raw_wait(&r, "<show>away</show>", 5000));
    h_raw_sendf(&r, "<inactive xmlns='" CSI "' extra='x'/><sleepy xmlns='" CSI "'/>");
    CHECK(h_raw_wait(&r, "<unsupported-stanza-type", 5000));
    h_raw_close(&r);
out:
    h_client_free(carol);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Presence held for an inactive client whose connection dies goes into the
 * stream-management queue and arrives on resumption. */
static void held_presence_survives_resumption(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/desk", "bob-pw", 0);
    h_raw_t r, r2;
    char el[256], id[64];
    memset(&r2, 0, sizeof(r2));
    r2.fd = -1;
    if (!bob || !CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "tablet")))
        goto out;
    h_raw_sendf(&r, "<presence/><enable xmlns='urn:xmpp:sm:3' resume='true'/>"
                    "<inactive xmlns='" CSI "'/>");
    if (!CHECK(h_raw_element(&r, "<enabled", el, sizeof(el))) ||
        !CHECK(h_xml_attr_in(el, "id", id, sizeof(id))))
        goto out;
    presence_to(bob, "alice@example.test/tablet", "dnd");
    h_settle(bob);
    size_t mark = h_log_mark(srv);
    h_raw_close(&r);
    CHECK(h_log_wait(srv, mark, 5000, "event=sm.detached", "jid=alice@example.test/tablet", NULL));
    if (CHECK(h_raw_auth(&r2, srv, "alice", "alice-pw"))) {
        h_raw_sendf(&r2, "<resume xmlns='urn:xmpp:sm:3' previd='%s' h='0'/>", id);
        CHECK(h_raw_wait(&r2, "<resumed", 5000));
        CHECK_MSG(h_raw_wait(&r2, "<show>dnd</show>", 5000), "held presence lost: %s", r2.buf);
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
        .modules = "roster = {}; presence = {};",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(inactive_client_gets_presence_later_and_collapsed, &srv);
        H_RUN(held_presence_survives_resumption, &srv);
    }
    h_server_stop(&srv);
    return h_finish("test_csi");
}
