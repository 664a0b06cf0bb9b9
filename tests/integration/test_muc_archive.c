/* test_muc_archive.c — the room archive (XEP-0313 on the room JID, issue
 * #16 GRP-6): a member who was not in the room pages through what it
 * missed, forward and backward with RSM, filtered by nick; the archive
 * outlives a restart; who may read it (members of a members-only room,
 * the host's users in an open room, never outcasts or another tenant);
 * a room whose owner turned archiving off keeps nothing; status 170 to who
 * enters a logged room and 170/171 when logging goes on/off (XEP-0045
 * §7.2.12, §10.2.1); and, on a second server with a retention of seconds,
 * the purge of old room messages (archive and history) in batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness-muc.h"
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
    /* The first presence back is enough: a fresh room has no one else. */
    h_send(alice, "<presence to='%s'><x xmlns='" NS_MUC "'/></presence>", h_muc_occ(room, "Al"));
    xmpp_stanza_t *p =
        h_wait(alice, &(h_match_t){.name = "presence", .from = h_muc_occ(room, "Al")}, 5000);
    int entered = CHECK_MSG(p && !h_attr_eq(p, "type", "error"), "alice entering %s", room);
    h_rel(p);
    int ok = entered && CHECK(strcmp(h_muc_configure(alice, room, fields), "result") == 0);
    h_drain(alice);
    return ok;
}

static const char *affiliate(h_client_t *owner, const char *room, const char *jid,
                             const char *affil)
{
    char item[256];
    snprintf(item, sizeof(item), "<item affiliation='%s' jid='%s'/>", affil, jid);
    return h_muc_admin_set(owner, room, item);
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

/* The owner submits `fields` to `room`'s configuration. */
static const char *reconfigure(h_client_t *owner, const char *room, const char *fields)
{
    char form[1024], to[128];
    snprintf(form, sizeof(form),
             "<query xmlns='" NS_MUC
             "#owner'><x xmlns='jabber:x:data' type='submit'>%s</x></query>",
             fields);
    snprintf(to, sizeof(to), "%s@" SVC, room);
    return h_iq_outcome(owner, "set", to, form);
}

/* The next configuration-change message (status 104) `c` gets from `room`:
 * "104", "104+170", "104+171", or "none". */
static const char *change_notice(h_client_t *c, const char *room)
{
    char from[128];
    snprintf(from, sizeof(from), "%s@" SVC, room);
    xmpp_stanza_t *m =
        h_wait(c, &(h_match_t){.name = "message", .from = from, .child_ns = NS_MUC "#user"}, 5000);
    const char *got = !m                                                         ? "none"
                      : !h_muc_has_status(m, "104")                              ? "no 104"
                      : h_muc_has_status(m, "170") && h_muc_has_status(m, "171") ? "104+170+171"
                      : h_muc_has_status(m, "170")                               ? "104+170"
                      : h_muc_has_status(m, "171")                               ? "104+171"
                                                                                 : "104";
    if (m)
        xmpp_stanza_release(m);
    return got;
}

/* Bob enters `room` as Bo: 1 when his own presence carries 170, 0 when it
 * does not, -1 when he got none; *others_170 whether Alice's copy of it
 * carries 170 (it must not: it is for who enters). */
static int enter_says_170(h_client_t *alice, h_client_t *bob, const char *room, int *others_170)
{
    char from[128];
    snprintf(from, sizeof(from), "%s@" SVC "/Bo", room);
    h_send(bob, "<presence to='%s'><x xmlns='" NS_MUC "'/></presence>", from);
    xmpp_stanza_t *self = h_wait(bob, &(h_match_t){.name = "presence", .from = from}, 5000);
    xmpp_stanza_t *seen = h_wait(alice, &(h_match_t){.name = "presence", .from = from}, 5000);
    int r = self && h_muc_has_status(self, "110") ? h_muc_has_status(self, "170") : -1;
    *others_170 = seen ? h_muc_has_status(seen, "170") : -1;
    if (self)
        xmpp_stanza_release(self);
    if (seen)
        xmpp_stanza_release(seen);
    h_settle(bob);
    h_drain(bob);
    h_drain(alice);
    return r;
}

/* XEP-0045 §7.2.12 and §10.2.1: who enters a room that archives gets 170
 * in its own presence (and only there); a configuration change that turns
 * the archive on or off says 170 or 171 with its 104, also when it does so
 * by making the room temporary. */
static void logging_is_announced_with_170_and_171(h_server_t *srv)
{
    (void)srv;
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !open_room(alice, "logged", ROOMCONF("persistentroom", "1")) ||
        !open_room(alice, "unlogged",
                   ROOMCONF("persistentroom", "1") ROOMCONF("enablearchiving", "0")))
        goto out;
    int others = -2;
    int said = enter_says_170(alice, bob, "logged", &others);
    CHECK_MSG(said == 1, "entering a logged room: 170 in own presence = %d", said);
    CHECK_MSG(others == 0, "the others' copy of the newcomer's presence: 170 = %d", others);
    said = enter_says_170(alice, bob, "unlogged", &others);
    CHECK_MSG(said == 0, "entering a room without archive: 170 = %d", said);
    /* Off, on, another field, then temporary (no archive either). */
    CHECK_STR(reconfigure(alice, "logged", ROOMCONF("enablearchiving", "0")), "result");
    CHECK_STR(change_notice(bob, "logged"), "104+171");
    CHECK_STR(change_notice(alice, "logged"), "104+171");
    CHECK_STR(reconfigure(alice, "logged", ROOMCONF("enablearchiving", "1")), "result");
    CHECK_STR(change_notice(bob, "logged"), "104+170");
    CHECK_STR(reconfigure(alice, "logged", ROOMCONF("roomname", "Logged")), "result");
    CHECK_STR(change_notice(bob, "logged"), "104");
    CHECK_STR(reconfigure(alice, "logged", ROOMCONF("enablearchiving", "1")), "result");
    CHECK_STR(change_notice(bob, "logged"), "104");
    CHECK_STR(reconfigure(alice, "logged", ROOMCONF("persistentroom", "0")), "result");
    CHECK_STR(change_notice(bob, "logged"), "104+171");
    CHECK_STR(reconfigure(alice, "unlogged", ROOMCONF("enablearchiving", "1")), "result");
    CHECK_STR(change_notice(bob, "unlogged"), "104+170");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* The bodies `c` reads in `room`'s archive (the first page of 50). */
static const char *bodies_of(h_client_t *c, const char *room, page_t *p)
{
    const char *o = query(c, room, "", p);
    return strcmp(o, "result") == 0 ? p->bodies : o;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* archive_retention = 5 s, a purge every second, 2 messages a batch: the
 * old messages of every room of the service go (those of a room whose
 * archiving is off meanwhile too), the recent ones stay, and who enters
 * afterwards gets no old history from memory either.  Rooms are never
 * unloaded (every persistent room is in memory from the start), so the
 * room "not in memory" case is the archive-off room: the purge asks the
 * archive by the service's domain, not by the rooms it knows. */
static void old_room_messages_are_purged(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    size_t mark = h_log_mark(srv);
    static const char *const old1[] = {"o1", "o2", "o3", "o4", "o5", NULL};
    static const char *const old2[] = {"p1", "p2", "p3", NULL};
    static const char *const hushed[] = {"h1", NULL};
    if (!alice || !bob || !open_room(alice, "old", ROOMCONF("persistentroom", "1")) ||
        !open_room(alice, "old2", ROOMCONF("persistentroom", "1")) ||
        !open_room(alice, "hushed", ROOMCONF("persistentroom", "1")) ||
        !say_all(alice, "old", old1) || !say_all(alice, "old2", old2) ||
        !say_all(alice, "hushed", hushed))
        goto out;
    int64_t t0 = mono_ms();
    page_t p;
    CHECK_STR(bodies_of(bob, "old", &p), "o1,o2,o3,o4,o5");
    CHECK_STR(bodies_of(bob, "old2", &p), "p1,p2,p3");
    CHECK_STR(reconfigure(alice, "hushed", ROOMCONF("enablearchiving", "0")), "result");
    h_drain(alice);
    /* Gone after the retention, not before. */
    int gone = 0;
    int64_t gone_at = 0;
    while (!gone && mono_ms() - t0 < 20000) {
        usleep(250 * 1000);
        gone = strcmp(bodies_of(bob, "old", &p), "") == 0 &&
               strcmp(bodies_of(bob, "old2", &p), "") == 0;
        gone_at = mono_ms() - t0;
    }
    CHECK_MSG(gone, "old room messages still there after %lld ms: %s", (long long)gone_at,
              p.bodies);
    CHECK_MSG(gone_at >= 4000, "purged after %lld ms, the retention is 5 s", (long long)gone_at);
    /* A recent message outlives two more purges. */
    static const char *const recent[] = {"n1", NULL};
    if (!say_all(alice, "old", recent))
        goto out;
    usleep(2500 * 1000);
    CHECK_STR(bodies_of(bob, "old", &p), "n1");
    /* In batches of 2: the 9 old messages took at least 5 transactions. */
    CHECK_MSG(h_log_count(srv, mark, "archive.purged") >= 5, "purge transactions: %d",
              h_log_count(srv, mark, "archive.purged"));
    CHECK(h_log_has(srv, mark, "archive.purged", "service=" SVC, NULL));
    /* The room whose archiving was off lost its old message too. */
    CHECK_STR(reconfigure(alice, "hushed", ROOMCONF("enablearchiving", "1")), "result");
    h_drain(alice);
    CHECK_STR(bodies_of(alice, "hushed", &p), "");
    /* Who enters now gets the recent message only from the room's history. */
    h_send(bob, "<presence to='old@" SVC "/Bo'><x xmlns='" NS_MUC "'/></presence>");
    /* The subject comes last, after the history. */
    xmpp_stanza_t *subj =
        h_wait(bob, &(h_match_t){.name = "message", .from = "old@" SVC, .type = "groupchat"}, 5000);
    CHECK(subj != NULL);
    if (subj)
        xmpp_stanza_release(subj);
    int old_seen = 0, new_seen = 0;
    xmpp_stanza_t *m;
    while ((m = h_wait(bob, &(h_match_t){.name = "message", .from = "old@" SVC "/Al"}, 0))) {
        char *b = h_child_text(m, "body");
        old_seen += b && b[0] == 'o';
        new_seen += b && strcmp(b, "n1") == 0;
        free(b);
        xmpp_stanza_release(m);
    }
    CHECK_MSG(old_seen == 0 && new_seen == 1, "history on entering: %d old, %d recent", old_seen,
              new_seen);
out:
    h_client_free(alice);
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
        H_RUN(logging_is_announced_with_170_and_171, &srv);
        H_RUN(the_archive_survives_a_restart, &srv);
    }
    h_server_stop(&srv);
    /* A retention of seconds on a server of its own. */
    h_server_t short_srv;
    h_server_opts_t short_opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; muc = { archive_retention = \"5s\"; "
                   "archive_purge_interval = \"1s\"; archive_purge_batch = 2; };",
        .accounts = accounts,
    };
    if (h_server_start(&short_srv, &short_opts) == 0)
        H_RUN(old_room_messages_are_purged, &short_srv);
    h_server_stop(&short_srv);
    return h_finish(argv[0]);
}
