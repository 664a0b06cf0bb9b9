/* test_roster.c — rosters as clients see them (PRES-4, DIR-5): the
 * rosterver stream feature, get/add/rename/regroup/remove with pushes to
 * every interested resource, XEP-0237 versioning across reconnects, bad
 * input, forged pushes, the size limit and a 1,000-item roster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_ROSTER "jabber:iq:roster"
#define MAX_ITEMS 1000

/* jid, password */
// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "carol@example.test", "carol-pw",
    "erin@example.test", "erin-pw",
    "eve@example.test", "eve-pw",
    "big@example.test", "big-pw",
    "dave@other.test", "dave-pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

static int is_error(xmpp_stanza_t *st, const char *cond)
{
    const char *c = st ? h_error_condition(st) : NULL;
    return h_attr_eq(st, "type", "error") && c && strcmp(c, cond) == 0;
}

static xmpp_stanza_t *query_of(xmpp_stanza_t *iq)
{
    return iq ? xmpp_stanza_get_child_by_ns(iq, NS_ROSTER) : NULL;
}

static const char *query_ver(xmpp_stanza_t *iq)
{
    xmpp_stanza_t *q = query_of(iq);
    return q ? xmpp_stanza_get_attribute(q, "ver") : NULL;
}

static int item_count(xmpp_stanza_t *iq)
{
    int n = 0;
    xmpp_stanza_t *q = query_of(iq);
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "item") == 0)
            n++;
    return n;
}

static xmpp_stanza_t *item_of(xmpp_stanza_t *iq, const char *jid)
{
    xmpp_stanza_t *q = query_of(iq);
    for (xmpp_stanza_t *k = q ? xmpp_stanza_get_children(q) : NULL; k;
         k = xmpp_stanza_get_next(k)) {
        const char *j = xmpp_stanza_is_tag(k) ? xmpp_stanza_get_attribute(k, "jid") : NULL;
        if (j && strcmp(j, jid) == 0)
            return k;
    }
    return NULL;
}

static const char *item_attr(xmpp_stanza_t *iq, const char *jid, const char *attr)
{
    xmpp_stanza_t *it = item_of(iq, jid);
    return it ? xmpp_stanza_get_attribute(it, attr) : NULL;
}

static int attr_is(const char *v, const char *want)
{
    return want ? v && strcmp(v, want) == 0 : v == NULL;
}

/* The item's groups joined with ',' into buf. */
static const char *item_groups(xmpp_stanza_t *iq, const char *jid, char *buf, size_t len)
{
    buf[0] = '\0';
    xmpp_stanza_t *it = item_of(iq, jid);
    for (xmpp_stanza_t *g = it ? xmpp_stanza_get_children(it) : NULL; g;
         g = xmpp_stanza_get_next(g)) {
        if (!xmpp_stanza_is_tag(g) || strcmp(xmpp_stanza_get_name(g), "group") != 0)
            continue;
        char *t = xmpp_stanza_get_text(g);
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", used ? "," : "", t ? t : "");
        xmpp_free(xmpp_stanza_get_context(g), t);
    }
    return buf;
}

static xmpp_stanza_t *roster_get(h_client_t *c, const char *ver)
{
    char payload[128];
    if (ver)
        snprintf(payload, sizeof(payload), "<query xmlns='" NS_ROSTER "' ver='%s'/>", ver);
    else
        snprintf(payload, sizeof(payload), "<query xmlns='" NS_ROSTER "'/>");
    return h_iq(c, "get", NULL, payload, 10000);
}

/* A roster set with `item` as the inner XML of <query/>. */
static xmpp_stanza_t *roster_set(h_client_t *c, const char *item)
{
    char *payload = NULL;
    if (asprintf(&payload, "<query xmlns='" NS_ROSTER "'>%s</query>", item) < 0)
        return NULL;
    xmpp_stanza_t *r = h_iq(c, "set", NULL, payload, 10000);
    free(payload);
    return r;
}

static int set_ok(h_client_t *c, const char *item)
{
    xmpp_stanza_t *r = roster_set(c, item);
    int ok = h_attr_eq(r, "type", "result");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

/* The next roster push, which must come from the account's bare JID (or
 * have no 'from'). */
static xmpp_stanza_t *wait_push(h_client_t *c, int timeout_ms)
{
    xmpp_stanza_t *p =
        h_wait(c, &(h_match_t){.name = "iq", .type = "set", .child_ns = NS_ROSTER}, timeout_ms);
    if (p) {
        const char *from = xmpp_stanza_get_from(p);
        char bare[128];
        snprintf(bare, sizeof(bare), "%s", h_jid(c));
        char *slash = strchr(bare, '/');
        if (slash)
            *slash = '\0';
        CHECK_MSG(!from || strcmp(from, bare) == 0, "push from %s", from);
        CHECK_MSG(item_count(p) == 1, "push with %d items", item_count(p));
        CHECK(query_ver(p) != NULL);
    }
    return p;
}

static int pushes_pending(h_client_t *c)
{
    return h_count(c, &(h_match_t){.name = "iq", .type = "set", .child_ns = NS_ROSTER});
}

/* Lets the server flush anything in flight, by a ping round trip. */
static void settle(h_client_t *c)
{
    xmpp_stanza_t *r = h_iq(c, "get", NULL, "<ping xmlns='urn:xmpp:ping'/>", 5000);
    if (r)
        xmpp_stanza_release(r);
}

static void release(xmpp_stanza_t **st)
{
    if (*st)
        xmpp_stanza_release(*st);
    *st = NULL;
}

/* ---- cases ---- */

static void rosterver_feature_is_offered_after_login(h_server_t *srv)
{
    h_raw_t r;
    if (CHECK(h_raw_login(&r, srv, "alice", "alice-pw", "raw")))
        CHECK_MSG(strstr(r.buf, "urn:xmpp:features:rosterver") != NULL, "features: %s", r.buf);
    h_raw_close(&r);

    /* Not before authentication, and not on a host without the module. */
    h_raw_t pre;
    if (CHECK(h_raw_connect(&pre, srv->c2s_port) && h_raw_starttls(&pre, "example.test")))
        CHECK(strstr(pre.buf, "rosterver") == NULL);
    h_raw_close(&pre);
    h_raw_t other;
    char cond[128], jid[128];
    h_scram_t p = {.mech = "SCRAM-SHA-256", .user = "dave", .password = "dave-pw"};
    if (CHECK(h_raw_connect(&other, srv->c2s_port) && h_raw_starttls(&other, "other.test") &&
              h_raw_scram(&other, &p, cond, sizeof(cond)) == H_AUTH_OK &&
              h_raw_bind(&other, "other.test", "raw", jid, sizeof(jid))))
        CHECK(strstr(other.buf, "rosterver") == NULL);
    h_raw_close(&other);
}

static void empty_roster_has_a_version(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "erin@example.test/one", "erin-pw", 0);
    xmpp_stanza_t *r = a ? roster_get(a, NULL) : NULL;
    if (CHECK(h_attr_eq(r, "type", "result"))) {
        CHECK(query_of(r) != NULL);
        CHECK(query_ver(r) != NULL);
        CHECK(item_count(r) == 0);
    }
    release(&r);
    /* The same version again: nothing changed, an empty result. */
    r = a ? roster_get(a, "0") : NULL;
    if (CHECK(h_attr_eq(r, "type", "result")))
        CHECK(query_of(r) == NULL);
    release(&r);
    h_client_free(a);
    h_ctx_free(ctx);
}

static void add_rename_regroup_remove_push_to_every_interested_resource(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *a = h_login(ctx, srv, "alice@example.test/desk", "alice-pw", 0);
    h_client_t *b = h_login(ctx, srv, "alice@example.test/phone", "alice-pw", 0);
    h_client_t *quiet = h_login(ctx, srv, "alice@example.test/quiet", "alice-pw", 0);
    if (!a || !b || !quiet)
        goto out;
    xmpp_stanza_t *r = roster_get(a, NULL), *pa = NULL, *pb = NULL;
    CHECK(h_attr_eq(r, "type", "result") && item_count(r) == 0);
    release(&r);
    r = roster_get(b, NULL);
    release(&r);
    char groups[256];
    long last_ver = -1;

    /* Add: the result, then the push on both resources that asked for the
     * roster, the one that set it included. */
    CHECK(set_ok(a, "<item jid='Bob@Example.Test' name='Bob'><group>Friends</group></item>"));
    pa = wait_push(a, 5000);
    pb = wait_push(b, 5000);
    if (CHECK(pa && pb)) {
        CHECK(attr_is(item_attr(pa, "bob@example.test", "name"), "Bob"));
        CHECK(attr_is(item_attr(pa, "bob@example.test", "subscription"), "none"));
        CHECK(!strcmp(item_groups(pb, "bob@example.test", groups, sizeof(groups)), "Friends"));
        CHECK(attr_is(query_ver(pa), query_ver(pb)));
        last_ver = atol(query_ver(pa));
    }
    release(&pa);
    release(&pb);

    /* Rename. */
    CHECK(set_ok(b, "<item jid='bob@example.test' name='Bobby'><group>Friends</group></item>"));
    pa = wait_push(a, 5000);
    pb = wait_push(b, 5000);
    if (CHECK(pa && pb)) {
        CHECK(attr_is(item_attr(pa, "bob@example.test", "name"), "Bobby"));
        CHECK_MSG(atol(query_ver(pb)) > last_ver, "ver after %ld", last_ver);
        last_ver = atol(query_ver(pb));
    }
    release(&pa);
    release(&pb);

    /* Move to two other groups; no name removes the name. */
    CHECK(
        set_ok(a, "<item jid='bob@example.test'><group>Work</group><group>Family</group></item>"));
    pa = wait_push(a, 5000);
    pb = wait_push(b, 5000);
    if (CHECK(pa && pb)) {
        CHECK(attr_is(item_attr(pb, "bob@example.test", "name"), NULL));
        CHECK(!strcmp(item_groups(pb, "bob@example.test", groups, sizeof(groups)), "Work,Family"));
        CHECK(atol(query_ver(pb)) > last_ver);
    }
    release(&pa);
    release(&pb);
    r = roster_get(b, NULL);
    if (CHECK(h_attr_eq(r, "type", "result") && item_count(r) == 1))
        CHECK(!strcmp(item_groups(r, "bob@example.test", groups, sizeof(groups)), "Work,Family"));
    release(&r);

    /* A client cannot set its subscription state. */
    CHECK(set_ok(a, "<item jid='bob@example.test' subscription='both' ask='subscribe'/>"));
    pa = wait_push(a, 5000);
    if (CHECK(pa)) {
        CHECK(attr_is(item_attr(pa, "bob@example.test", "subscription"), "none"));
        CHECK(attr_is(item_attr(pa, "bob@example.test", "ask"), NULL));
    }
    release(&pa);
    pb = wait_push(b, 5000);
    release(&pb);

    /* Remove. */
    CHECK(set_ok(b, "<item jid='bob@example.test' subscription='remove'/>"));
    pa = wait_push(a, 5000);
    pb = wait_push(b, 5000);
    if (CHECK(pa && pb)) {
        CHECK(attr_is(item_attr(pa, "bob@example.test", "subscription"), "remove"));
        CHECK(attr_is(item_attr(pb, "bob@example.test", "subscription"), "remove"));
    }
    release(&pa);
    release(&pb);
    r = roster_get(a, NULL);
    CHECK(h_attr_eq(r, "type", "result") && item_count(r) == 0);
    release(&r);

    /* The resource that never asked for its roster got no push. */
    settle(quiet);
    CHECK_MSG(pushes_pending(quiet) == 0, "%d pushes to a resource without roster",
              pushes_pending(quiet));
out:
    h_client_free(quiet);
    h_client_free(b);
    h_client_free(a);
    h_ctx_free(ctx);
}

/* XEP-0237: a client that comes back with the version it last saw gets only
 * what changed since, removals included, as pushes after an empty result. */
static void reconnect_with_version_gets_only_changes(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *c = h_login(ctx, srv, "carol@example.test/desk", "carol-pw", 0);
    if (!c)
        goto out;
    CHECK(set_ok(c, "<item jid='x1@example.test' name='one'/>"));
    CHECK(set_ok(c, "<item jid='x2@example.test' name='two'/>"));
    CHECK(set_ok(c, "<item jid='x3@example.test' name='three'/>"));
    xmpp_stanza_t *r = roster_get(c, NULL);
    char seen[32] = "";
    const char *v = query_ver(r);
    if (CHECK(h_attr_eq(r, "type", "result") && item_count(r) == 3 && v))
        snprintf(seen, sizeof(seen), "%s", v);
    release(&r);
    h_client_free(c);

    /* Changes while the client is away (from another resource). */
    c = h_login(ctx, srv, "carol@example.test/phone", "carol-pw", 0);
    if (!c)
        goto out;
    CHECK(set_ok(c, "<item jid='x4@example.test' name='four'/>"));
    CHECK(set_ok(c, "<item jid='x2@example.test' subscription='remove'/>"));
    CHECK(set_ok(c, "<item jid='x1@example.test' name='uno'/>"));
    h_client_free(c);

    c = h_login(ctx, srv, "carol@example.test/desk", "carol-pw", 0);
    if (!c)
        goto out;
    r = roster_get(c, seen);
    if (CHECK_MSG(h_attr_eq(r, "type", "result"), "roster get with ver %s", seen))
        CHECK_MSG(query_of(r) == NULL || item_count(r) == 0, "a diff came as a full roster");
    release(&r);
    static const char *const want[][2] = {
        {"x4@example.test", "none"}, {"x2@example.test", "remove"}, {"x1@example.test", "none"}};
    char last[32] = "";
    long prev = atol(seen);
    for (size_t i = 0; i < 3; i++) {
        xmpp_stanza_t *p = wait_push(c, 5000);
        if (!CHECK_MSG(p, "push %zu missing", i))
            break;
        CHECK_MSG(item_of(p, want[i][0]) != NULL, "push %zu is not for %s", i, want[i][0]);
        CHECK(attr_is(item_attr(p, want[i][0], "subscription"), want[i][1]));
        CHECK_MSG(atol(query_ver(p)) > prev, "versions in order");
        prev = atol(query_ver(p));
        snprintf(last, sizeof(last), "%s", query_ver(p));
        if (i == 2)
            CHECK(attr_is(item_attr(p, "x1@example.test", "name"), "uno"));
        xmpp_stanza_release(p);
    }
    settle(c);
    CHECK_MSG(pushes_pending(c) == 0, "%d extra pushes", pushes_pending(c));
    h_client_free(c);

    /* With the newest version: nothing at all. */
    c = h_login(ctx, srv, "carol@example.test/desk", "carol-pw", 0);
    if (!c)
        goto out;
    r = roster_get(c, last);
    if (CHECK(h_attr_eq(r, "type", "result")))
        CHECK(query_of(r) == NULL);
    release(&r);
    settle(c);
    CHECK(pushes_pending(c) == 0);

    /* A version this server never issued, or no usable one: the full
     * roster with the current version. */
    static const char *const bogus[] = {"abc", "99999999", "",
                                        "-1",  "12x",      "123456789012345678901234567890"};
    for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++) {
        r = roster_get(c, bogus[i]);
        if (CHECK_MSG(h_attr_eq(r, "type", "result"), "ver '%s'", bogus[i])) {
            CHECK_MSG(item_count(r) == 3, "ver '%s': %d items", bogus[i], item_count(r));
            CHECK(attr_is(query_ver(r), last));
            CHECK(item_of(r, "x2@example.test") == NULL);
        }
        release(&r);
    }
    settle(c);
    CHECK(pushes_pending(c) == 0);
out:
    h_client_free(c);
    h_ctx_free(ctx);
}

static void bad_roster_sets_are_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *c = h_login(ctx, srv, "erin@example.test/bad", "erin-pw", 0);
    if (!c) {
        h_ctx_free(ctx);
        return;
    }
    xmpp_stanza_t *r = roster_get(c, NULL);
    release(&r);
    char *long_name = malloc(1026), *many_groups = malloc(33 * 20 + 64);
    memset(long_name, 'n', 1025);
    long_name[1025] = '\0';
    strcpy(many_groups, "<item jid='g@example.test'>");
    for (int i = 0; i < 33; i++)
        sprintf(many_groups + strlen(many_groups), "<group>g%d</group>", i);
    strcat(many_groups, "</item>");
    char *named = NULL, long_jid[700];
    memset(long_jid, 'j', 600);
    strcpy(long_jid + 600, "@example.test");
    char long_item[800];
    snprintf(long_item, sizeof(long_item), "<item jid='%s'/>", long_jid);
    if (asprintf(&named, "<item jid='n@example.test' name='%s'/>", long_name) < 0)
        named = NULL;

    struct {
        const char *item, *cond;
    } cases[] = {
        {"<item jid='a@example.test'/><item jid='b@example.test'/>", "bad-request"},
        {"", "bad-request"},
        {"<item name='no jid'/>", "bad-request"},
        {"<item jid='a@b@example.test'/>", "bad-request"},
        {"<item jid='@example.test'/>", "bad-request"},
        {named, "not-acceptable"},
        {many_groups, "not-acceptable"},
        {"<item jid='d@example.test'><group>A</group><group>A</group></item>", "bad-request"},
        {"<item jid='e@example.test'><group></group></item>", "not-acceptable"},
        {"<item jid='nobody@example.test' subscription='remove'/>", "item-not-found"},
        {long_item, "not-acceptable"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!cases[i].item)
            continue;
        r = roster_set(c, cases[i].item);
        CHECK_MSG(is_error(r, cases[i].cond), "case %zu: %s, not %s", i,
                  r ? xmpp_stanza_get_type(r) : "no answer",
                  r && h_error_condition(r) ? h_error_condition(r) : "-");
        release(&r);
    }
    /* The limits themselves are allowed. */
    long_name[1024] = '\0';
    free(named);
    if (asprintf(&named, "<item jid='n@example.test' name='%s'/>", long_name) >= 0)
        CHECK(set_ok(c, named));
    xmpp_stanza_t *p = wait_push(c, 5000);
    release(&p);
    /* Nothing else was saved or pushed. */
    r = roster_get(c, NULL);
    CHECK_MSG(h_attr_eq(r, "type", "result") && item_count(r) == 1, "%d items", item_count(r));
    release(&r);
    settle(c);
    CHECK(pushes_pending(c) == 0);
    CHECK(set_ok(c, "<item jid='n@example.test' subscription='remove'/>"));
    free(named);
    free(many_groups);
    free(long_name);
    h_client_free(c);
    h_ctx_free(ctx);
}

/* Only the server sends roster pushes: a roster set addressed to another
 * account (or another resource) is refused before it is routed. */
static void roster_push_from_a_stranger_is_refused(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *alice = h_login(ctx, srv, "alice@example.test/victim", "alice-pw", 0);
    h_client_t *eve = h_login(ctx, srv, "eve@example.test/evil", "eve-pw", 0);
    if (!alice || !eve)
        goto out;
    xmpp_stanza_t *r = roster_get(alice, NULL);
    release(&r);
    const char *push = "<query xmlns='" NS_ROSTER "'><item jid='eve@example.test' "
                       "subscription='both'/></query>";
    r = h_iq(eve, "set", "alice@example.test", push, 5000);
    CHECK_MSG(is_error(r, "forbidden"), "to the bare JID: %s",
              r && h_error_condition(r) ? h_error_condition(r) : "-");
    release(&r);
    r = h_iq(eve, "set", "alice@example.test/victim", push, 5000);
    CHECK_MSG(is_error(r, "forbidden"), "to the full JID");
    release(&r);
    /* Nor between two resources of the same account. */
    h_client_t *alice2 = h_login(ctx, srv, "alice@example.test/other", "alice-pw", 0);
    if (alice2) {
        r = h_iq(alice2, "set", "alice@example.test/victim", push, 5000);
        CHECK(is_error(r, "forbidden"));
        release(&r);
    }
    settle(alice);
    CHECK(pushes_pending(alice) == 0);
    CHECK(h_count(alice, &(h_match_t){.name = "iq", .type = "set"}) == 0);
    r = roster_get(alice, NULL);
    CHECK(h_attr_eq(r, "type", "result") && item_of(r, "eve@example.test") == NULL);
    release(&r);
    h_client_free(alice2);
out:
    h_client_free(eve);
    h_client_free(alice);
    h_ctx_free(ctx);
}

/* DIR-5 at scale: 1,000 contacts added by pipelined sets, then one get. */
static void thousand_item_roster_then_the_limit(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *c = h_login(ctx, srv, "big@example.test/desk", "big-pw", 0);
    if (!c) {
        h_ctx_free(ctx);
        return;
    }
    long long t0 = h_now_ms();
    for (int i = 0; i < MAX_ITEMS; i++)
        h_send(c,
               "<iq type='set' id='add%d'><query xmlns='" NS_ROSTER "'>"
               "<item jid='contact%04d@example.test' name='Contact %d'><group>G%d</group></item>"
               "</query></iq>",
               i, i, i, i % 10);
    int ok = 0;
    for (int i = 0; i < MAX_ITEMS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "add%d", i);
        xmpp_stanza_t *r = h_wait(c, &(h_match_t){.name = "iq", .id = id}, 30000);
        ok += h_attr_eq(r, "type", "result");
        if (r)
            xmpp_stanza_release(r);
        else
            break;
    }
    long long t1 = h_now_ms();
    CHECK_MSG(ok == MAX_ITEMS, "%d of %d sets succeeded", ok, MAX_ITEMS);
    xmpp_stanza_t *r = roster_get(c, NULL);
    long long t2 = h_now_ms();
    CHECK_MSG(h_attr_eq(r, "type", "result") && item_count(r) == MAX_ITEMS, "%d items",
              item_count(r));
    CHECK(attr_is(item_attr(r, "contact0999@example.test", "name"), "Contact 999"));
    printf("    %d pipelined roster sets: %lld ms; roster get of %d items: %lld ms\n", MAX_ITEMS,
           t1 - t0, item_count(r), t2 - t1);
    release(&r);

    /* The configured limit (max_items = 1000): one more is refused, changing
     * an existing item is still fine. */
    r = roster_set(c, "<item jid='one-too-many@example.test'/>");
    CHECK_MSG(is_error(r, "not-allowed"), "the 1001st item: %s",
              r && h_error_condition(r) ? h_error_condition(r) : "accepted");
    release(&r);
    CHECK(set_ok(c, "<item jid='contact0000@example.test' name='renamed'/>"));
    CHECK(set_ok(c, "<item jid='contact0001@example.test' subscription='remove'/>"));
    CHECK(set_ok(c, "<item jid='one-too-many@example.test'/>"));
    r = roster_get(c, NULL);
    CHECK(item_count(r) == MAX_ITEMS);
    release(&r);
    h_client_free(c);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .limits = "stanza_rate = 100000; stanza_burst = 100000; auth_fail_per_ip = 1000;",
        .modules = "roster = { max_items = 1000; };",
        .log_level = "info",
        .accounts = accounts,
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(rosterver_feature_is_offered_after_login, &srv);
        H_RUN(empty_roster_has_a_version, &srv);
        H_RUN(add_rename_regroup_remove_push_to_every_interested_resource, &srv);
        H_RUN(reconnect_with_version_gets_only_changes, &srv);
        H_RUN(bad_roster_sets_are_refused, &srv);
        H_RUN(roster_push_from_a_stranger_is_refused, &srv);
        H_RUN(thousand_item_roster_then_the_limit, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
