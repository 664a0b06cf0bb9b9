/* test_muc_archive.c — the room archive (XEP-0313 on the room JID, issue
 * #16 GRP-6): a member who was not in the room pages through what it
 * missed, forward and backward with RSM, filtered by nick; the archive
 * outlives a restart; who may read it (members of a members-only room,
 * the host's users in an open room, never outcasts or another tenant);
 * and a room whose owner turned archiving off keeps nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define SVC "groups.example.test"
#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_FWD "urn:xmpp:forward:0"
#define NS_MUC "http://jabber.org/protocol/muc"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "oscar@other.test", "pw",
    NULL,
};
// clang-format on

/* Alice enters `room` as Al (creating it) and submits the room form with
 * `fields` (muc#roomconfig_ var/value pairs as XML). */
static int open_room(h_client_t *alice, const char *room, const char *fields)
{
    h_send(alice, "<presence to='%s@" SVC "/Al'><x xmlns='" NS_MUC "'/></presence>", room);
    char from[128];
    snprintf(from, sizeof(from), "%s@" SVC "/Al", room);
    xmpp_stanza_t *p = h_wait(alice, &(h_match_t){.name = "presence", .from = from}, 5000);
    int entered = CHECK_MSG(p && !h_attr_eq(p, "type", "error"), "alice entering %s", room);
    if (p)
        xmpp_stanza_release(p);
    char form[2048], to[128];
    snprintf(form, sizeof(form),
             "<query xmlns='" NS_MUC "#owner'><x xmlns='jabber:x:data' type='submit'>"
             "<field var='FORM_TYPE'><value>" NS_MUC "#roomconfig</value></field>%s</x></query>",
             fields);
    snprintf(to, sizeof(to), "%s@" SVC, room);
    int ok = entered && CHECK(strcmp(h_iq_outcome(alice, "set", to, form), "result") == 0);
    h_drain(alice);
    return ok;
}

static const char *affiliate(h_client_t *owner, const char *room, const char *jid,
                             const char *affil)
{
    char q[512], to[128];
    snprintf(q, sizeof(q),
             "<query xmlns='" NS_MUC "#admin'><item affiliation='%s' jid='%s'/></query>", affil,
             jid);
    snprintf(to, sizeof(to), "%s@" SVC, room);
    return h_iq_outcome(owner, "set", to, q);
}

/* Alice says body1..bodyN in the room, waiting for each to come back. */
static int say_all(h_client_t *alice, const char *room, const char *const *bodies)
{
    char from[128];
    snprintf(from, sizeof(from), "%s@" SVC "/Al", room);
    int ok = 1;
    for (const char *const *b = bodies; *b; b++) {
        h_send(alice, "<message to='%s@" SVC "' type='groupchat' id='%s'><body>%s</body></message>",
               room, h_id(), *b);
        xmpp_stanza_t *m = h_wait(
            alice, &(h_match_t){.name = "message", .type = "groupchat", .from = from, .body = *b},
            5000);
        ok &= CHECK_MSG(m != NULL, "%s not reflected", *b);
        if (m)
            xmpp_stanza_release(m);
    }
    h_settle(alice); /* the archive writes commit */
    return ok;
}

/* One page of the room's archive as `c` asks it (query children `inner`):
 * the bodies in the order they came (comma-separated), the fin's
 * complete/first/last/count; returns the IQ's outcome. */
typedef struct page {
    char bodies[512];
    char first[64], last[64];
    int complete;
    long count;
    int well_formed; /* every item is a forwarded groupchat from room/nick with a delay */
} page_t;

static const char *query(h_client_t *c, const char *room, const char *inner, page_t *pg)
{
    static char outcome[64];
    memset(pg, 0, sizeof(*pg));
    pg->well_formed = 1;
    pg->count = -1;
    char id[32], to[128];
    snprintf(id, sizeof(id), "%s", h_id());
    snprintf(to, sizeof(to), "%s@" SVC, room);
    h_send(c,
           "<iq type='set' id='%s' to='%s'><query xmlns='" NS_MAM "' queryid='%s'>%s</query></iq>",
           id, to, id, inner);
    xmpp_stanza_t *iq = h_wait(c, &(h_match_t){.name = "iq", .id = id}, 5000);
    if (!iq)
        return "timeout";
    const char *cond = h_error_condition(iq);
    snprintf(outcome, sizeof(outcome), "%s",
             h_attr_eq(iq, "type", "result") ? "result"
             : cond                          ? cond
                                             : "error");
    xmpp_stanza_t *fin = h_child(iq, "fin", NS_MAM);
    if (fin) {
        pg->complete = h_attr_eq(fin, "complete", "true");
        xmpp_stanza_t *set = h_child(fin, "set", NS_RSM);
        char *t;
        if ((t = h_child_text(set, "first")))
            snprintf(pg->first, sizeof(pg->first), "%s", t), free(t);
        if ((t = h_child_text(set, "last")))
            snprintf(pg->last, sizeof(pg->last), "%s", t), free(t);
        if ((t = h_child_text(set, "count")))
            pg->count = atol(t), free(t);
    }
    xmpp_stanza_release(iq);
    xmpp_stanza_t *m;
    while ((m = h_wait(c, &(h_match_t){.name = "message", .child_ns = NS_MAM}, 0))) {
        xmpp_stanza_t *res = h_child(m, "result", NS_MAM);
        xmpp_stanza_t *fwd = h_child(res, "forwarded", NS_FWD);
        xmpp_stanza_t *inner_msg = h_child(fwd, "message", "jabber:client");
        char want_from[128];
        snprintf(want_from, sizeof(want_from), "%s@" SVC "/Al", room);
        if (!h_attr_eq(m, "from", to) || !h_attr_eq(res, "queryid", id) ||
            !h_child(fwd, "delay", "urn:xmpp:delay") || !inner_msg ||
            !h_attr_eq(inner_msg, "type", "groupchat") || !h_attr_eq(inner_msg, "from", want_from))
            pg->well_formed = 0;
        char *body = inner_msg ? h_child_text(inner_msg, "body") : NULL;
        size_t len = strlen(pg->bodies);
        snprintf(pg->bodies + len, sizeof(pg->bodies) - len, "%s%s", len ? "," : "",
                 body ? body : "?");
        free(body);
        xmpp_stanza_release(m);
    }
    return outcome;
}

static const char *const five[] = {"m1", "m2", "m3", "m4", "m5", NULL};

#define ROOMCONF(var, val) "<field var='muc#roomconfig_" var "'><value>" val "</value></field>"

/* A members-only persistent room; Bob is a member who never enters. */
static void a_member_who_was_not_joined_pages_the_archive_both_ways(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob ||
        !open_room(alice, "arc", ROOMCONF("persistentroom", "1") ROOMCONF("membersonly", "1")))
        goto out;
    CHECK(strcmp(affiliate(alice, "arc", "bob@example.test", "member"), "result") == 0);
    if (!say_all(alice, "arc", five))
        goto out;
    h_drain(bob);
    page_t p;
    /* Forward from the start, two at a time. */
    CHECK(strcmp(query(bob, "arc", "<set xmlns='" NS_RSM "'><max>2</max></set>", &p), "result") ==
          0);
    CHECK_MSG(strcmp(p.bodies, "m1,m2") == 0, "first page: %s", p.bodies);
    CHECK(p.well_formed && !p.complete && p.count == 5 && p.first[0] && p.last[0]);
    char inner[256];
    snprintf(inner, sizeof(inner), "<set xmlns='" NS_RSM "'><max>2</max><after>%s</after></set>",
             p.last);
    CHECK(strcmp(query(bob, "arc", inner, &p), "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "m3,m4") == 0, "second page: %s", p.bodies);
    CHECK(!p.complete);
    snprintf(inner, sizeof(inner), "<set xmlns='" NS_RSM "'><max>2</max><after>%s</after></set>",
             p.last);
    CHECK(strcmp(query(bob, "arc", inner, &p), "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "m5") == 0 && p.complete, "last page: %s complete=%d", p.bodies,
              p.complete);
    /* Backward from the end. */
    CHECK(strcmp(query(bob, "arc", "<set xmlns='" NS_RSM "'><max>2</max><before/></set>", &p),
                 "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "m4,m5") == 0 && !p.complete, "newest page: %s", p.bodies);
    snprintf(inner, sizeof(inner), "<set xmlns='" NS_RSM "'><max>2</max><before>%s</before></set>",
             p.first);
    CHECK(strcmp(query(bob, "arc", inner, &p), "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "m2,m3") == 0, "older page: %s", p.bodies);
    snprintf(inner, sizeof(inner), "<set xmlns='" NS_RSM "'><max>2</max><before>%s</before></set>",
             p.first);
    CHECK(strcmp(query(bob, "arc", inner, &p), "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "m1") == 0 && p.complete, "oldest page: %s", p.bodies);
    /* 'with' the room JID and a nick: that occupant's messages. */
    CHECK(
        strcmp(query(bob, "arc",
                     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>" NS_MAM
                     "</value></field><field var='with'><value>arc@" SVC "/Al</value></field></x>",
                     &p),
               "result") == 0);
    CHECK_MSG(p.count == 5 && p.complete, "with Al: %ld", p.count);
    CHECK(
        strcmp(query(bob, "arc",
                     "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>" NS_MAM
                     "</value></field><field var='with'><value>arc@" SVC
                     "/Nobody</value></field></x>",
                     &p),
               "result") == 0);
    CHECK_MSG(p.count == 0 && p.bodies[0] == '\0', "with Nobody: %ld", p.count);
    /* A real JID in a semi-anonymous room: only for admins. */
    CHECK(strcmp(query(bob, "arc",
                       "<x xmlns='jabber:x:data' type='submit'><field var='with'><value>"
                       "alice@example.test</value></field></x>",
                       &p),
                 "forbidden") == 0);
    CHECK(strcmp(query(alice, "arc",
                       "<x xmlns='jabber:x:data' type='submit'><field var='with'><value>"
                       "alice@example.test</value></field></x>",
                       &p),
                 "result") == 0 &&
          p.count == 5);
    /* The search form, for a member who is not in the room. */
    xmpp_stanza_t *fq = h_iq(bob, "get", "arc@" SVC, "<query xmlns='" NS_MAM "'/>", 5000);
    xmpp_stanza_t *fx = h_child(h_child(fq, "query", NS_MAM), "x", "jabber:x:data");
    int with = 0;
    for (xmpp_stanza_t *f = fx ? xmpp_stanza_get_children(fx) : NULL; f;
         f = xmpp_stanza_get_next(f))
        with |= xmpp_stanza_is_tag(f) && h_attr_eq(f, "var", "with");
    CHECK_MSG(h_attr_eq(fq, "type", "result") && with, "the room archive's search form");
    if (fq)
        xmpp_stanza_release(fq);
    /* Disco of an archived room names MAM. */
    xmpp_stanza_t *info = h_iq(bob, "get", "arc@" SVC,
                               "<query xmlns='http://jabber.org/protocol/disco#info'/>", 5000);
    int mam = 0;
    xmpp_stanza_t *q = h_child(info, "query", "http://jabber.org/protocol/disco#info");
    for (xmpp_stanza_t *f = q ? xmpp_stanza_get_children(q) : NULL; f; f = xmpp_stanza_get_next(f))
        mam |= xmpp_stanza_is_tag(f) && h_attr_eq(f, "var", NS_MAM);
    CHECK_MSG(mam, "disco#info of an archived room lacks " NS_MAM);
    if (info)
        xmpp_stanza_release(info);
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Non-members of a members-only room, outcasts of an open room and users
 * of another tenant are refused; a user of the host reads an open room's
 * archive without entering. */
static void the_archive_is_refused_to_whom_the_room_would_refuse(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    h_client_t *dave = h_login(ctx, srv, "dave@example.test/d", "pw", 0);
    h_client_t *oscar = h_login(ctx, srv, "oscar@other.test/o", "pw", 0);
    if (!alice || !carol || !dave || !oscar)
        goto out;
    page_t p;
    CHECK(strcmp(query(carol, "arc", "", &p), "forbidden") == 0);
    CHECK(strcmp(h_iq_outcome(carol, "get", "arc@" SVC, "<query xmlns='" NS_MAM "'/>"),
                 "forbidden") == 0);
    CHECK(strcmp(query(carol, "nosuchroom", "", &p), "item-not-found") == 0);
    static const char *const one[] = {"open1", NULL};
    if (!open_room(alice, "lobby", ROOMCONF("persistentroom", "1")) ||
        !say_all(alice, "lobby", one))
        goto out;
    CHECK(strcmp(query(carol, "lobby", "", &p), "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "open1") == 0 && p.complete, "carol in lobby: %s", p.bodies);
    CHECK(strcmp(affiliate(alice, "lobby", "dave@example.test", "outcast"), "result") == 0);
    CHECK(strcmp(query(dave, "lobby", "", &p), "forbidden") == 0 && !p.bodies[0]);
    CHECK(strcmp(query(oscar, "lobby", "", &p), "forbidden") == 0 && !p.bodies[0]);
out:
    h_client_free(alice);
    h_client_free(carol);
    h_client_free(dave);
    h_client_free(oscar);
    h_ctx_free(ctx);
}

/* enablearchiving off (and temporary rooms): nothing is kept, the query is
 * refused and disco does not name MAM. */
static void a_room_with_archiving_off_keeps_nothing(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    if (!alice)
        goto out;
    static const char *const one[] = {"secret", NULL};
    if (!open_room(alice, "quiet",
                   ROOMCONF("persistentroom", "1") ROOMCONF("enablearchiving", "0")) ||
        !say_all(alice, "quiet", one))
        goto out;
    page_t p;
    CHECK(strcmp(query(alice, "quiet", "", &p), "feature-not-implemented") == 0 && !p.bodies[0]);
    xmpp_stanza_t *info = h_iq(alice, "get", "quiet@" SVC,
                               "<query xmlns='http://jabber.org/protocol/disco#info'/>", 5000);
    xmpp_stanza_t *q = h_child(info, "query", "http://jabber.org/protocol/disco#info");
    int mam = 0;
    for (xmpp_stanza_t *f = q ? xmpp_stanza_get_children(q) : NULL; f; f = xmpp_stanza_get_next(f))
        mam |= xmpp_stanza_is_tag(f) && h_attr_eq(f, "var", NS_MAM);
    CHECK(q && !mam);
    if (info)
        xmpp_stanza_release(info);
    /* Turned back on: from then on it keeps messages. */
    char form[512];
    snprintf(form, sizeof(form),
             "<query xmlns='" NS_MUC "#owner'><x xmlns='jabber:x:data' type='submit'>"
             "%s</x></query>",
             ROOMCONF("enablearchiving", "1"));
    CHECK(strcmp(h_iq_outcome(alice, "set", "quiet@" SVC, form), "result") == 0);
    h_drain(alice);
    static const char *const two[] = {"kept", NULL};
    say_all(alice, "quiet", two);
    CHECK(strcmp(query(alice, "quiet", "", &p), "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "kept") == 0, "after turning it on: %s", p.bodies);
    /* A temporary room keeps no archive. */
    if (open_room(alice, "brief", ROOMCONF("persistentroom", "0")))
        CHECK(strcmp(query(alice, "brief", "", &p), "feature-not-implemented") == 0);
out:
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* After a restart the archive is all there, and the history rings of
 * archiving rooms are refilled from it (the in-memory ring is empty after a
 * restart): who enters still gets history. */
static void the_archive_survives_a_restart(h_server_t *srv)
{
    size_t mark = h_log_mark(srv);
    if (!CHECK(h_server_restart(srv) == 0))
        return;
    CHECK(h_log_wait(srv, mark, 10000, "history.loaded", "rooms=", NULL));
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!bob)
        goto out;
    page_t p;
    CHECK(strcmp(query(bob, "arc", "", &p), "result") == 0);
    CHECK_MSG(strcmp(p.bodies, "m1,m2,m3,m4,m5") == 0 && p.complete && p.well_formed,
              "after restart: %s", p.bodies);
    h_send(bob, "<presence to='arc@" SVC "/Bo'><x xmlns='" NS_MUC "'/></presence>");
    int n = 0;
    for (const char *const *m = five; *m; m++) {
        xmpp_stanza_t *h = h_wait(
            bob, &(h_match_t){.name = "message", .from = "arc@" SVC "/Al", .body = *m}, 5000);
        n += h && h_child(h, "delay", "urn:xmpp:delay") != NULL;
        if (h)
            xmpp_stanza_release(h);
    }
    CHECK_MSG(n == 5, "history after a restart: %d of 5 messages with a delay", n);
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; muc = {};",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(a_member_who_was_not_joined_pages_the_archive_both_ways, &srv);
        H_RUN(the_archive_is_refused_to_whom_the_room_would_refuse, &srv);
        H_RUN(a_room_with_archiving_off_keeps_nothing, &srv);
        H_RUN(the_archive_survives_a_restart, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
