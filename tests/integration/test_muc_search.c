/* test_muc_search.c — group search and discovery on the group service
 * over real sockets (issue #16 GRP-4): jabber:iq:search with a data form
 * by name (any case, spaces ignored, Chinese substrings) and by id, paged
 * both ways with XEP-0059, scoped to the searcher's tenant and to the
 * rooms it may see; bad forms; disco#items paged; IQs to an occupant
 * forwarded to its client; and a deleted account leaving its rooms, the
 * last owner's room handed over or ended. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness-muc.h"
#include "tests/integration/harness.h"

#define SVC "groups.example.test"
#define SVC3 "groups.third.test"
#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_USER NS_MUC "#user"
#define NS_ADMIN NS_MUC "#admin"
#define NS_OWNER NS_MUC "#owner"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_SEARCH "jabber:iq:search"
#define NS_XDATA "jabber:x:data"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define RC(var, val) "<field var='muc#roomconfig_" var "'><value>" val "</value></field>"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "pw", "bob@example.test", "pw", "carol@example.test", "pw",
    "dave@example.test", "pw", "erin@example.test", "pw", "tom@third.test", "pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

/* Enters room/nick at `svc`: "ok" on the self-presence, else the error
 * condition or "timeout". */
static const char *enter_at(h_client_t *c, const char *svc, const char *room, const char *nick)
{
    return h_muc_join(c, h_muc_occ_at(svc, room, nick), NULL, NULL, NULL);
}

/* Creates and configures a persistent room with more roomconfig fields
 * and optional extra forms after it. */
static int create_at(h_client_t *owner, const char *svc, const char *room, const char *fields,
                     const char *more)
{
    const char *r = enter_at(owner, svc, room, "Own");
    int ok = CHECK_MSG(strcmp(r, "ok") == 0, "creating %s: %s", room, r);
    char q[4096], to[256];
    snprintf(q, sizeof(q),
             "<query xmlns='" NS_OWNER "'><x xmlns='" NS_XDATA "' type='submit'>"
             "<field var='FORM_TYPE'><value>" NS_MUC
             "#roomconfig</value></field>" RC("persistentroom", "1") "%s</x>%s</query>",
             fields ? fields : "", more ? more : "");
    snprintf(to, sizeof(to), "%s@%s", room, svc);
    const char *s = h_iq_outcome(owner, "set", to, q);
    ok = ok && CHECK_MSG(strcmp(s, "result") == 0, "configuring %s: %s", room, s);
    h_drain(owner);
    return ok;
}

static int create(h_client_t *owner, const char *room, const char *name, const char *fields)
{
    char f[2048];
    snprintf(f, sizeof(f), RC("roomname", "%s") "%s", name, fields ? fields : "");
    return create_at(owner, SVC, room, f, NULL);
}

/* What a search answered: the room JIDs in order, the <set/>'s count,
 * first, its index and last, or the error condition. */
typedef struct found {
    char jids[128][128];
    int n;
    int count; /* -1: no <count/> */
    char first[128], last[128];
    int index; /* -1: none */
    char error[64];
    char name0[256], kind0[32], members0[16]; /* the first item's fields */
} found_t;

static void read_set(xmpp_stanza_t *q, found_t *f)
{
    xmpp_stanza_t *set = h_child(q, "set", NS_RSM);
    char *t;
    if (set && (t = h_child_text(set, "count"))) {
        f->count = atoi(t);
        free(t);
    }
    if (set && (t = h_child_text(set, "first"))) {
        snprintf(f->first, sizeof(f->first), "%s", t);
        free(t);
        xmpp_stanza_t *fe = xmpp_stanza_get_child_by_name(set, "first");
        const char *ix = fe ? xmpp_stanza_get_attribute(fe, "index") : NULL;
        f->index = ix ? atoi(ix) : -1;
    }
    if (set && (t = h_child_text(set, "last"))) {
        snprintf(f->last, sizeof(f->last), "%s", t);
        free(t);
    }
}

static found_t *search_to(h_client_t *c, const char *svc, const char *fields, const char *rsm)
{
    static found_t f;
    memset(&f, 0, sizeof(f));
    f.count = f.index = -1;
    char q[140000];
    snprintf(q, sizeof(q),
             "<query xmlns='" NS_SEARCH "'><x xmlns='" NS_XDATA "' type='submit'>"
             "<field var='FORM_TYPE' type='hidden'><value>" NS_SEARCH "</value></field>"
             "%s</x>%s</query>",
             fields ? fields : "", rsm ? rsm : "");
    xmpp_stanza_t *r = h_iq(c, "set", svc, q, 5000);
    if (!r) {
        snprintf(f.error, sizeof(f.error), "timeout");
        return &f;
    }
    if (!h_attr_eq(r, "type", "result")) {
        const char *e = h_error_condition(r);
        snprintf(f.error, sizeof(f.error), "%s", e ? e : "error");
        h_rel(r);
        return &f;
    }
    xmpp_stanza_t *query = h_child(r, "query", NS_SEARCH);
    xmpp_stanza_t *x = h_child(query, "x", NS_XDATA);
    for (xmpp_stanza_t *it = x ? xmpp_stanza_get_children(x) : NULL; it;
         it = xmpp_stanza_get_next(it)) {
        if (!xmpp_stanza_is_tag(it) || strcmp(xmpp_stanza_get_name(it), "item") != 0 || f.n >= 128)
            continue;
        h_muc_field(it, "jid", f.jids[f.n], sizeof(f.jids[0]), "");
        if (f.n == 0) {
            h_muc_field(it, "name", f.name0, sizeof(f.name0), "");
            h_muc_field(it, "kind", f.kind0, sizeof(f.kind0), "");
            h_muc_field(it, "members", f.members0, sizeof(f.members0), "");
        }
        f.n++;
    }
    read_set(query, &f);
    h_rel(r);
    return &f;
}

static found_t *search(h_client_t *c, const char *fields, const char *rsm)
{
    return search_to(c, SVC, fields, rsm);
}

#define NAME(v) "<field var='name'><value>" v "</value></field>"
#define ID(v) "<field var='id'><value>" v "</value></field>"

/* The JIDs a search found, joined by spaces, without the service. */
static const char *list(const found_t *f)
{
    static char out[4096];
    out[0] = '\0';
    for (int i = 0; i < f->n; i++) {
        char local[128];
        snprintf(local, sizeof(local), "%s", f->jids[i]);
        char *at = strchr(local, '@');
        if (at)
            *at = '\0';
        if (i)
            strcat(out, " ");
        strcat(out, local);
    }
    return f->error[0] ? f->error : out;
}

/* ---- cases ---- */

/* Names match as a substring, letters in any case, spaces ignored, and
 * Chinese as it is written; the result form carries the reported fields. */
static void search_finds_rooms_by_name_in_any_case_and_in_chinese(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !create(alice, "eng", "Engineering Team", NULL) ||
        !create(alice, "cn", "产品设计小组", NULL) ||
        !create(alice, "rnd", "Random Things", NULL) || !create(alice, "cafe", "CAFÉ Crème", NULL))
        goto out;
    CHECK_STR(list(search(bob, NAME("engineering"), NULL)), "eng");
    found_t *f = search(bob, NAME("ENGINEER"), NULL);
    CHECK_STR(list(f), "eng");
    CHECK_STR(f->name0, "Engineering Team");
    CHECK_STR(f->kind0, "room");
    CHECK_STR(f->members0, "1");
    CHECK_INT(f->count, 1);
    CHECK_STR(list(search(bob, NAME("ringte"), NULL)), "eng");   /* spaces ignored */
    CHECK_STR(list(search(bob, NAME("ring   t"), NULL)), "eng"); /* in the needle too */
    CHECK_STR(list(search(bob, NAME("设计"), NULL)), "cn");
    CHECK_STR(list(search(bob, NAME("产品设计小组"), NULL)), "cn");
    CHECK_STR(list(search(bob, NAME("设计组"), NULL)), ""); /* not a substring */
    CHECK_STR(list(search(bob, NAME("café crÈme"), NULL)), "cafe");
    CHECK_STR(list(search(bob, NAME("t"), NULL)), "eng rnd");
    CHECK_STR(list(search(bob, NAME("zzz"), NULL)), "");
    /* No criteria: every room the searcher may see, in address order. */
    CHECK_STR(list(search(bob, "", NULL)), "cafe cn eng rnd");
    /* The search form, with instructions, and the service says it searches. */
    xmpp_stanza_t *r = h_iq(bob, "get", SVC, "<query xmlns='" NS_SEARCH "'/>", 5000);
    xmpp_stanza_t *q = h_child(r, "query", NS_SEARCH);
    xmpp_stanza_t *x = h_child(q, "x", NS_XDATA);
    CHECK(r && h_attr_eq(r, "type", "result") && x && h_attr_eq(x, "type", "form"));
    char *ins = q ? h_child_text(q, "instructions") : NULL;
    CHECK(ins && strstr(ins, "name"));
    free(ins);
    int fields = 0;
    for (xmpp_stanza_t *fl = x ? xmpp_stanza_get_children(x) : NULL; fl;
         fl = xmpp_stanza_get_next(fl))
        fields +=
            xmpp_stanza_is_tag(fl) && (h_attr_eq(fl, "var", "name") || h_attr_eq(fl, "var", "id"));
    CHECK_INT(fields, 2);
    h_rel(r);
    r = h_iq(bob, "get", SVC, "<query xmlns='" NS_DISCO_INFO "'/>", 5000);
    int feat = 0;
    q = h_child(r, "query", NS_DISCO_INFO);
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        feat += xmpp_stanza_is_tag(k) && h_attr_eq(k, "var", NS_SEARCH);
    CHECK_INT(feat, 1);
    h_rel(r);
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* The id is exact: the localpart or the room's address, nothing else. */
static void search_by_id_is_exact(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!bob)
        goto out;
    CHECK_STR(list(search(bob, ID("eng"), NULL)), "eng");
    CHECK_STR(list(search(bob, ID("ENG"), NULL)), "eng"); /* localparts are case-folded JIDs */
    CHECK_STR(list(search(bob, ID("eng@" SVC), NULL)), "eng");
    CHECK_STR(list(search(bob, ID("en"), NULL)), "");
    CHECK_STR(list(search(bob, ID("eng@groups.third.test"), NULL)), "");
    CHECK_STR(list(search(bob, ID("eng") NAME("team"), NULL)), "eng");
    CHECK_STR(list(search(bob, ID("eng") NAME("random"), NULL)), "");
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* XEP-0059 both ways over seven rooms, three at a time. */
static void search_pages_forward_and_back(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob)
        goto out;
    for (int i = 0; i < 7; i++) {
        char room[16], name[32];
        snprintf(room, sizeof(room), "page%d", i);
        snprintf(name, sizeof(name), "Paged Room %d", i);
        if (!create(alice, room, name, NULL))
            goto out;
    }
    char rsm[512], last[128], first[128];
    found_t *f = search(bob, NAME("paged"), "<set xmlns='" NS_RSM "'><max>3</max></set>");
    CHECK_STR(list(f), "page0 page1 page2");
    CHECK_INT(f->count, 7);
    CHECK_INT(f->index, 0);
    CHECK_STR(f->first, "page0@" SVC);
    snprintf(last, sizeof(last), "%s", f->last);
    snprintf(rsm, sizeof(rsm), "<set xmlns='" NS_RSM "'><max>3</max><after>%s</after></set>", last);
    f = search(bob, NAME("paged"), rsm);
    CHECK_STR(list(f), "page3 page4 page5");
    CHECK_INT(f->index, 3);
    snprintf(first, sizeof(first), "%s", f->first);
    snprintf(last, sizeof(last), "%s", f->last);
    snprintf(rsm, sizeof(rsm), "<set xmlns='" NS_RSM "'><max>3</max><after>%s</after></set>", last);
    f = search(bob, NAME("paged"), rsm);
    CHECK_STR(list(f), "page6");
    CHECK_INT(f->count, 7);
    /* Back from the second page: the first again. */
    snprintf(rsm, sizeof(rsm), "<set xmlns='" NS_RSM "'><max>3</max><before>%s</before></set>",
             first);
    CHECK_STR(list(search(bob, NAME("paged"), rsm)), "page0 page1 page2");
    /* The last page, an index, a count alone. */
    CHECK_STR(
        list(search(bob, NAME("paged"), "<set xmlns='" NS_RSM "'><max>2</max><before/></set>")),
        "page5 page6");
    CHECK_STR(list(search(bob, NAME("paged"),
                          "<set xmlns='" NS_RSM "'><max>2</max><index>4</index></set>")),
              "page4 page5");
    f = search(bob, NAME("paged"), "<set xmlns='" NS_RSM "'><max>0</max></set>");
    CHECK_STR(list(f), "");
    CHECK_INT(f->count, 7);
    CHECK_STR(list(search(bob, NAME("paged"), "<set xmlns='" NS_RSM "'><max>x</max></set>")),
              "bad-request");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Another tenant's public room is never found, and a user of another
 * tenant cannot search this one. */
static void search_stays_in_the_searchers_tenant(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *tom = h_login(ctx, srv, "tom@third.test/t", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!tom || !bob || !create_at(tom, SVC3, "shared", RC("roomname", "Shared Lounge"), NULL) ||
        !create(bob, "lounge", "Bobs Lounge", NULL))
        goto out;
    CHECK_STR(list(search_to(tom, SVC3, NAME("lounge"), NULL)), "shared");
    CHECK_STR(list(search(bob, NAME("lounge"), NULL)), "lounge");
    CHECK_STR(list(search(bob, ID("shared"), NULL)), "");
    CHECK_STR(list(search_to(tom, SVC, NAME("lounge"), NULL)), "forbidden");
    CHECK_STR(list(search_to(bob, SVC3, NAME("lounge"), NULL)), "forbidden");
out:
    h_client_free(tom);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Hidden and members-only rooms are found by those who belong to them. */
static void hidden_and_members_only_rooms_are_found_only_by_their_own(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob || !create(alice, "secret", "Secret Plans", RC("publicroom", "0")) ||
        !create(alice, "club", "Club House", RC("membersonly", "1")))
        goto out;
    CHECK_STR(list(search(bob, NAME("secret"), NULL)), "");
    CHECK_STR(list(search(bob, ID("secret"), NULL)), "");
    CHECK_STR(list(search(bob, NAME("club"), NULL)), "");
    CHECK_STR(list(search(alice, NAME("secret"), NULL)), "secret");
    CHECK_STR(list(search(alice, NAME("club"), NULL)), "club");
    CHECK_STR(h_muc_admin_set(alice, "club", "<item jid='bob@example.test' affiliation='member'/>"),
              "result");
    CHECK_STR(
        h_muc_admin_set(alice, "secret", "<item jid='bob@example.test' affiliation='member'/>"),
        "result");
    CHECK_STR(list(search(bob, NAME("club"), NULL)), "club");
    CHECK_STR(list(search(bob, ID("secret"), NULL)), "secret");
    /* An outcast sees nothing of a room, public or not. */
    CHECK_STR(h_muc_admin_set(alice, "eng", "<item jid='bob@example.test' affiliation='outcast'/>"),
              "result");
    CHECK_STR(list(search(bob, ID("eng"), NULL)), "");
    CHECK_STR(h_muc_admin_set(alice, "eng", "<item jid='bob@example.test' affiliation='none'/>"),
              "result");
    CHECK_STR(list(search(bob, ID("eng"), NULL)), "eng");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* Forms the search does not take get clear errors. */
static void bad_searches_get_clear_errors(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!bob)
        goto out;
    CHECK_STR(list(search(bob, "<field var='owner'><value>x</value></field>", NULL)),
              "bad-request");
    /* The classic fields mean nothing for rooms. */
    CHECK_STR(
        h_iq_outcome(bob, "set", SVC, "<query xmlns='" NS_SEARCH "'><first>x</first></query>"),
        "bad-request");
    CHECK_STR(h_iq_outcome(bob, "set", SVC,
                           "<query xmlns='" NS_SEARCH "'><x xmlns='" NS_XDATA "' type='submit'>"
                           "<field var='FORM_TYPE'><value>urn:other</value></field></x></query>"),
              "bad-request");
    /* Longer than a room name may be: refused, not searched. */
    static char big[110 * 1024];
    memset(big, 'a', 300);
    big[300] = '\0';
    char fields[sizeof(big) + 128];
    snprintf(fields, sizeof(fields), "<field var='name'><value>%s</value></field>", big);
    CHECK_STR(list(search(bob, fields, NULL)), "not-acceptable");
    memset(big, 'b', 100 * 1024);
    big[100 * 1024] = '\0';
    snprintf(fields, sizeof(fields), "<field var='name'><value>%s</value></field>", big);
    CHECK_STR(list(search(bob, fields, NULL)), "not-acceptable");
    /* The stream is still fine. */
    CHECK_STR(list(search(bob, ID("eng"), NULL)), "eng");
out:
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* The service's disco#items: public rooms only, 100 a page without RSM
 * (with the total), any page with it. */
static void disco_items_are_paged_and_hide_hidden_rooms(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    if (!alice || !bob)
        goto out;
    /* Up to 110 public rooms on the service. */
    found_t *all = search(alice, "", "<set xmlns='" NS_RSM "'><max>0</max></set>");
    int have = all->count;
    for (int i = 0; have < 112; i++, have++) {
        char room[16];
        snprintf(room, sizeof(room), "many%03d", i);
        if (!create(alice, room, room, NULL))
            goto out;
    }
    xmpp_stanza_t *r = h_iq(bob, "get", SVC, "<query xmlns='" NS_DISCO_ITEMS "'/>", 5000);
    xmpp_stanza_t *q = h_child(r, "query", NS_DISCO_ITEMS);
    int n = 0, secret = 0;
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "item") == 0) {
            n++;
            secret += h_attr_eq(k, "jid", "secret@" SVC);
        }
    found_t f;
    memset(&f, 0, sizeof(f));
    f.count = f.index = -1;
    read_set(q, &f);
    CHECK_INT(n, 100);
    CHECK_MSG(f.count >= 110, "count %d", f.count);
    int total = f.count;
    h_rel(r);
    /* Paging through all of it, 40 at a time. */
    char after[128] = "", rsm[512];
    int seen = 0, pages = 0;
    for (;;) {
        if (after[0])
            snprintf(rsm, sizeof(rsm),
                     "<query xmlns='" NS_DISCO_ITEMS "'><set xmlns='" NS_RSM
                     "'><max>40</max><after>%s</after></set></query>",
                     after);
        else
            snprintf(rsm, sizeof(rsm),
                     "<query xmlns='" NS_DISCO_ITEMS "'><set xmlns='" NS_RSM
                     "'><max>40</max></set></query>");
        r = h_iq(bob, "get", SVC, rsm, 5000);
        q = h_child(r, "query", NS_DISCO_ITEMS);
        int got = 0;
        for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k;
             k = xmpp_stanza_get_next(k))
            if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "item") == 0) {
                got++;
                secret += h_attr_eq(k, "jid", "secret@" SVC);
            }
        memset(&f, 0, sizeof(f));
        f.count = f.index = -1;
        read_set(q, &f);
        h_rel(r);
        seen += got;
        pages++;
        if (got < 40 || pages > 10)
            break;
        CHECK_INT(f.count, total);
        snprintf(after, sizeof(after), "%s", f.last);
    }
    CHECK_INT(seen, total);
    CHECK_INT(pages, (total + 39) / 40 + (total % 40 == 0));
    CHECK_INT(secret, 0);
    /* The last page, backwards. */
    r = h_iq(bob, "get", SVC,
             "<query xmlns='" NS_DISCO_ITEMS "'><set xmlns='" NS_RSM
             "'><max>5</max><before/></set></query>",
             5000);
    memset(&f, 0, sizeof(f));
    f.count = f.index = -1;
    read_set(h_child(r, "query", NS_DISCO_ITEMS), &f);
    CHECK_INT(f.index, total - 5);
    h_rel(r);
    CHECK_STR(h_iq_outcome(bob, "get", SVC,
                           "<query xmlns='" NS_DISCO_ITEMS "'><set xmlns='" NS_RSM
                           "'><max>-1</max></set></query>"),
              "bad-request");
out:
    h_client_free(alice);
    h_client_free(bob);
    h_ctx_free(ctx);
}

/* An IQ to room/nick goes to that occupant's client from the sender's
 * occupant JID and comes back with the sender's id; vCards go to the
 * occupant's account; strangers and unknown nicks are refused. */
static void iqs_to_an_occupant_reach_its_client(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *bob = h_login(ctx, srv, "bob@example.test/b", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!alice || !bob || !carol || !create(alice, "fw", "Forwarding", NULL))
        goto out;
    CHECK_STR(h_muc_enter(bob, "fw", "Bo"), "ok");
    h_drain(alice);
    h_drain(bob);
    /* Version: bob's client answers. */
    h_send(alice, "<iq type='get' id='v1' to='%s'><query xmlns='jabber:iq:version'/></iq>",
           h_muc_occ("fw", "Bo"));
    xmpp_stanza_t *fw = h_wait(
        bob, &(h_match_t){.name = "iq", .type = "get", .from = h_muc_occ("fw", "Own")}, 5000);
    CHECK_MSG(fw != NULL, "the request did not reach the occupant");
    if (fw) {
        CHECK(!h_attr_eq(fw, "id", "v1"));
        CHECK(h_child(fw, "query", "jabber:iq:version") != NULL);
        h_send(bob,
               "<iq type='result' id='%s' to='%s'><query xmlns='jabber:iq:version'>"
               "<name>BobClient</name><version>1.0</version></query></iq>",
               xmpp_stanza_get_id(fw), h_muc_occ("fw", "Own"));
        h_rel(fw);
    }
    xmpp_stanza_t *ans = h_wait(alice, &(h_match_t){.name = "iq", .id = "v1"}, 5000);
    CHECK(ans && h_attr_eq(ans, "type", "result") && h_attr_eq(ans, "from", h_muc_occ("fw", "Bo")));
    char *name = ans ? h_child_text(h_child(ans, "query", "jabber:iq:version"), "name") : NULL;
    CHECK(name && strcmp(name, "BobClient") == 0);
    free(name);
    h_rel(ans);
    /* An error from the client comes back as the error. */
    h_send(alice, "<iq type='set' id='s1' to='%s'><thing xmlns='urn:example:thing'/></iq>",
           h_muc_occ("fw", "Bo"));
    fw = h_wait(bob, &(h_match_t){.name = "iq", .type = "set", .from = h_muc_occ("fw", "Own")},
                5000);
    CHECK(fw != NULL);
    if (fw) {
        h_send(bob,
               "<iq type='error' id='%s' to='%s'><error type='cancel'><feature-not-implemented "
               "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
               xmpp_stanza_get_id(fw), h_muc_occ("fw", "Own"));
        h_rel(fw);
    }
    ans = h_wait(alice, &(h_match_t){.name = "iq", .id = "s1"}, 5000);
    CHECK(ans && h_attr_eq(ans, "type", "error") && h_attr_eq(ans, "from", h_muc_occ("fw", "Bo")) &&
          h_error_condition(ans) && strcmp(h_error_condition(ans), "feature-not-implemented") == 0);
    h_rel(ans);
    /* A ping from bob to the owner's nick, answered by alice's client. */
    h_send(bob, "<iq type='get' id='p1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>",
           h_muc_occ("fw", "Own"));
    fw = h_wait(alice, &(h_match_t){.name = "iq", .type = "get", .from = h_muc_occ("fw", "Bo")},
                5000);
    CHECK(fw != NULL);
    if (fw) {
        h_send(alice, "<iq type='result' id='%s' to='%s'/>", xmpp_stanza_get_id(fw),
               h_muc_occ("fw", "Bo"));
        h_rel(fw);
    }
    ans = h_wait(bob, &(h_match_t){.name = "iq", .id = "p1"}, 5000);
    CHECK(ans && h_attr_eq(ans, "type", "result"));
    h_rel(ans);
    /* vCard: the account's, answered by the server, not by the client. */
    CHECK_STR(
        h_iq_outcome(bob, "set", NULL, "<vCard xmlns='vcard-temp'><FN>Bob Builder</FN></vCard>"),
        "result");
    h_drain(bob);
    xmpp_stanza_t *vc =
        h_iq(alice, "get", h_muc_occ("fw", "Bo"), "<vCard xmlns='vcard-temp'/>", 5000);
    char *fn = vc ? h_child_text(h_child(vc, "vCard", "vcard-temp"), "FN") : NULL;
    CHECK_MSG(vc && h_attr_eq(vc, "type", "result") && fn && strcmp(fn, "Bob Builder") == 0,
              "vCard through the room: %s", fn ? fn : "none");
    free(fn);
    h_rel(vc);
    CHECK_INT(h_count(bob, &(h_match_t){.name = "iq", .type = "get"}), 0);
    /* A roster push through the room is still a stranger's push (the
     * roster module's filter sees room/nick as another account). */
    CHECK_STR(
        h_iq_outcome(alice, "set", h_muc_occ("fw", "Bo"),
                     "<query xmlns='jabber:iq:roster'><item jid='evil@example.test'/></query>"),
        "forbidden");
    /* A client that never answers holds at most 16 of one user's requests:
     * the 17th is refused at once (the server's request table is shared by
     * every tenant), and an answer makes room again. */
    h_drain(bob);
    for (int i = 0; i < 16; i++)
        h_send(alice, "<iq type='get' id='q%d' to='%s'><query xmlns='jabber:iq:version'/></iq>", i,
               h_muc_occ("fw", "Bo"));
    CHECK_STR(
        h_iq_outcome(alice, "get", h_muc_occ("fw", "Bo"), "<query xmlns='jabber:iq:version'/>"),
        "resource-constraint");
    h_settle(bob);
    const h_match_t relayed = {.name = "iq", .type = "get", .from = h_muc_occ("fw", "Own")};
    CHECK_INT(h_count(bob, &relayed), 16);
    fw = h_wait(bob, &relayed, 1000);
    if (fw) {
        h_send(bob, "<iq type='result' id='%s' to='%s'/>", xmpp_stanza_get_id(fw),
               h_muc_occ("fw", "Own"));
        h_rel(fw);
    }
    ans = h_wait(alice, &(h_match_t){.name = "iq", .type = "result", .from = h_muc_occ("fw", "Bo")},
                 5000);
    CHECK(ans != NULL);
    h_rel(ans);
    h_send(alice, "<iq type='get' id='q16' to='%s'><query xmlns='jabber:iq:version'/></iq>",
           h_muc_occ("fw", "Bo"));
    h_settle(bob);
    CHECK_MSG(h_count(bob, &relayed) == 16, "after an answer, one more request is relayed");
    h_drain(alice);
    h_drain(bob);
    /* Unknown nick, and someone outside the room. */
    CHECK_STR(
        h_iq_outcome(alice, "get", h_muc_occ("fw", "Nobody"), "<query xmlns='jabber:iq:version'/>"),
        "item-not-found");
    CHECK_STR(
        h_iq_outcome(carol, "get", h_muc_occ("fw", "Bo"), "<query xmlns='jabber:iq:version'/>"),
        "not-acceptable");
    CHECK_INT(h_count(bob, &(h_match_t){.name = "iq", .type = "get"}), 0);
out:
    h_client_free(alice);
    h_client_free(bob);
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* The owners of a room, from the owner list an owner reads. */
static int owns(h_client_t *c, const char *room, const char *jid)
{
    xmpp_stanza_t *r =
        h_iq(c, "get", h_muc_room(room),
             "<query xmlns='" NS_ADMIN "'><item affiliation='owner'/></query>", 5000);
    int found = 0;
    xmpp_stanza_t *q = h_child(r, "query", NS_ADMIN);
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        found += xmpp_stanza_is_tag(k) && h_attr_eq(k, "jid", jid);
    h_rel(r);
    return found;
}

/* Deleting an account takes it out of every room: a group or a room whose
 * last owner it was goes to the oldest admin, else the oldest member, and
 * a persistent room with nobody left ends.  It holds after a restart. */
static void a_deleted_account_leaves_its_rooms(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *dave = h_login(ctx, srv, "dave@example.test/d", "pw", 0);
    h_client_t *erin = h_login(ctx, srv, "erin@example.test/e", "pw", 0);
    h_client_t *carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    const char *groups_form = "<x xmlns='" NS_XDATA "' type='submit'><field var='FORM_TYPE'>"
                              "<value>urn:parley:groups</value></field><field var='kind'>"
                              "<value>contact</value></field></x>";
    if (!dave || !erin || !carol ||
        !create_at(dave, SVC, "dept", RC("roomname", "Department"), groups_form) ||
        !create(dave, "solo", "Solo Room", NULL) || !create(dave, "pair", "Pair Room", NULL))
        goto out;
    CHECK_STR(h_muc_admin_set(dave, "dept",
                              "<item jid='erin@example.test' affiliation='admin'/>"
                              "<item jid='carol@example.test' affiliation='member'/>"),
              "result");
    CHECK_STR(
        h_muc_admin_set(dave, "pair", "<item jid='carol@example.test' affiliation='member'/>"),
        "result");
    CHECK_STR(h_muc_enter(carol, "pair", "Ca"), "ok");
    h_drain(carol);
    h_client_free(dave);
    dave = NULL;
    char out[512];
    size_t mark = h_log_mark(srv);
    CHECK(h_ctl(srv, NULL, out, sizeof(out),
                (const char *[]){"user", "del", "dave@example.test", NULL}) == 0);
    CHECK(h_log_wait(srv, mark, 5000, "account.removed", "jid=dave@example.test", NULL));
    CHECK(owns(erin, "dept", "erin@example.test"));
    CHECK(!owns(erin, "dept", "dave@example.test"));
    CHECK(owns(carol, "pair", "carol@example.test"));
    /* Carol, in the room, hears that she is its owner now. */
    xmpp_stanza_t *p =
        h_wait(carol, &(h_match_t){.name = "presence", .from = h_muc_occ("pair", "Ca")}, 5000);
    xmpp_stanza_t *item = p ? h_child(h_child(p, "x", NS_USER), "item", NS_USER) : NULL;
    CHECK(item && h_attr_eq(item, "affiliation", "owner"));
    h_rel(p);
    CHECK_STR(h_iq_outcome(carol, "get", h_muc_room("solo"), "<query xmlns='" NS_DISCO_INFO "'/>"),
              "item-not-found");
    h_client_free(erin);
    h_client_free(carol);
    erin = carol = NULL;
    /* The stored rooms agree. */
    CHECK(h_server_restart(srv) == 0);
    erin = h_login(ctx, srv, "erin@example.test/e", "pw", 0);
    carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!erin || !carol)
        goto out;
    CHECK(owns(erin, "dept", "erin@example.test"));
    CHECK(!owns(erin, "dept", "dave@example.test"));
    CHECK(owns(carol, "pair", "carol@example.test"));
    CHECK_STR(h_iq_outcome(carol, "get", h_muc_room("solo"), "<query xmlns='" NS_DISCO_INFO "'/>"),
              "item-not-found");
out:
    h_client_free(dave);
    h_client_free(erin);
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* parleyctl deleting an account while the server is down edits the
 * stored rooms the same way: they start without it. */
static void an_account_deleted_while_the_server_is_down_leaves_its_rooms(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *erin = h_login(ctx, srv, "erin@example.test/e", "pw", 0);
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *carol = NULL;
    if (!erin || !alice || !create(erin, "erinroom", "Erin's", NULL) ||
        !create(erin, "erinsolo", "Erin alone", NULL))
        goto out;
    CHECK_STR(
        h_muc_admin_set(erin, "erinroom", "<item jid='alice@example.test' affiliation='admin'/>"),
        "result");
    CHECK(owns(erin, "dept", "erin@example.test")); /* from the case before */
    h_client_free(erin);
    h_client_free(alice);
    erin = alice = NULL;
    kill(srv->pid, SIGTERM);
    if (!CHECK(h_server_wait_exit(srv, 15000)))
        goto out;
    char out[512];
    CHECK_MSG(h_ctl(srv, NULL, out, sizeof(out),
                    (const char *[]){"user", "del", "erin@example.test", NULL}) == 0,
              "parleyctl: %s", out);
    CHECK(h_server_relaunch(srv) == 0);
    alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    carol = h_login(ctx, srv, "carol@example.test/c", "pw", 0);
    if (!alice || !carol)
        goto out;
    CHECK(owns(alice, "erinroom", "alice@example.test"));
    CHECK(!owns(alice, "erinroom", "erin@example.test"));
    CHECK(owns(carol, "dept", "carol@example.test")); /* the oldest member */
    CHECK_STR(
        h_iq_outcome(alice, "get", h_muc_room("erinsolo"), "<query xmlns='" NS_DISCO_INFO "'/>"),
        "item-not-found");
out:
    h_client_free(erin);
    h_client_free(alice);
    h_client_free(carol);
    h_ctx_free(ctx);
}

/* max_rooms is each tenant's own (one service per host, one limit per
 * service), and the refusal says why. */
static void each_tenant_has_its_own_room_limit_with_a_clear_error(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/a", "pw", 0);
    h_client_t *tom = h_login(ctx, srv, "tom@third.test/t", "pw", 0);
    if (!alice || !tom || !create(alice, "lim1", "One", NULL) ||
        !create(alice, "lim2", "Two", NULL))
        goto out;
    h_send(alice, "<presence to='%s'><x xmlns='" NS_MUC "'/></presence>", h_muc_occ("lim3", "Own"));
    xmpp_stanza_t *p = h_wait(
        alice, &(h_match_t){.name = "presence", .type = "error", .from = h_muc_occ("lim3", "Own")},
        5000);
    const char *cond = p ? h_error_condition(p) : NULL;
    CHECK_STR(cond ? cond : "none", "resource-constraint");
    char *text = p ? h_child_text(xmpp_stanza_get_child_by_name(p, "error"), "text") : NULL;
    CHECK_MSG(text && strstr(text, "as many rooms"), "text: %s", text ? text : "none");
    free(text);
    h_rel(p);
    /* The other tenant still creates rooms. */
    for (int i = 0; i < 3; i++) {
        char room[16];
        snprintf(room, sizeof(room), "t%d", i);
        CHECK(create_at(tom, SVC3, room, NULL, NULL));
    }
out:
    h_client_free(alice);
    h_client_free(tom);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; vcard = {}; muc = {};",
        .extra_hosts = "{ name = \"third.test\"; modules = { roster = {}; presence = {}; "
                       "muc = {}; }; }",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(search_finds_rooms_by_name_in_any_case_and_in_chinese, &srv);
        H_RUN(search_by_id_is_exact, &srv);
        H_RUN(search_pages_forward_and_back, &srv);
        H_RUN(search_stays_in_the_searchers_tenant, &srv);
        H_RUN(hidden_and_members_only_rooms_are_found_only_by_their_own, &srv);
        H_RUN(bad_searches_get_clear_errors, &srv);
        H_RUN(disco_items_are_paged_and_hide_hidden_rooms, &srv);
        H_RUN(iqs_to_an_occupant_reach_its_client, &srv);
        H_RUN(a_deleted_account_leaves_its_rooms, &srv);
        H_RUN(an_account_deleted_while_the_server_is_down_leaves_its_rooms, &srv);
    }
    h_server_stop(&srv);
    h_server_opts_t small = {
        .limits = "auth_fail_per_ip = 1000;",
        .modules = "roster = {}; presence = {}; muc = { max_rooms = 2; };",
        .extra_hosts = "{ name = \"third.test\"; modules = { roster = {}; presence = {}; "
                       "muc = { max_rooms = 5; }; }; }",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &small) == 0)
        H_RUN(each_tenant_has_its_own_room_limit_with_a_clear_error, &srv);
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
