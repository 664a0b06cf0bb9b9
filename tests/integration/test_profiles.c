/* test_profiles.c — what users see of profiles and personal data: vCards
 * (XEP-0054) with the avatar hash (XEP-0153) and the batched update notice
 * to contacts (PRES-3), private XML storage (XEP-0049) with the personal
 * directory format (DIR-5), and last activity (XEP-0012). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

#define NS_VCARD "vcard-temp"
#define NS_PRIVATE "jabber:iq:private"
#define NS_LAST "jabber:iq:last"
#define NS_CONTACTS "urn:parley:contacts:0"
#define NS_DIR "urn:parley:directory:0"

/* vcard max_size 2k, private max_size 1k and 3 items, notices every second. */
#define MODULES                                                                                    \
    "roster = {}; presence = {}; vcard = { notify_interval = \"1s\"; max_size = \"2k\"; };"        \
    " private = { max_size = \"1k\"; max_items = 3; }; last = {};"

// clang-format off
static const char *const accounts[] = {
    "alice@example.test", "alice-pw",
    "bob@example.test", "bob-pw",
    "carol@example.test", "carol-pw",
    "erin@example.test", "erin-pw",
    "frank@example.test", "frank-pw",
    "gina@example.test", "gina-pw",
    "dave@other.test", "dave-pw",
    NULL,
};
// clang-format on

/* ---- helpers ---- */

/* An IQ that must fail with `cond`. */
static int iq_fails(h_client_t *c, const char *type, const char *to, const char *payload,
                    const char *cond)
{
    xmpp_stanza_t *r = h_iq(c, type, to, payload, 5000);
    const char *got = r && h_attr_eq(r, "type", "error") ? h_error_condition(r) : NULL;
    int ok = CHECK_MSG(got && strcmp(got, cond) == 0, "wanted %s, got %s (%s)", cond,
                       got ? got : "no error", r ? xmpp_stanza_get_type(r) : "timeout");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

static int iq_ok(h_client_t *c, const char *type, const char *to, const char *payload)
{
    xmpp_stanza_t *r = h_iq(c, type, to, payload, 5000);
    int ok = CHECK_MSG(h_attr_eq(r, "type", "result"), "%s %s: %s", type, payload,
                       r ? (h_error_condition(r) ? h_error_condition(r) : "?") : "timeout");
    if (r)
        xmpp_stanza_release(r);
    return ok;
}

/* Text of `name` in the answer to a vCard get (heap, or NULL). */
static char *vcard_field(h_client_t *c, const char *to, const char *name)
{
    xmpp_stanza_t *r = h_iq(c, "get", to, "<vCard xmlns='" NS_VCARD "'/>", 5000);
    char *v = NULL;
    if (CHECK_MSG(h_attr_eq(r, "type", "result"), "vCard get of %s", to ? to : "own"))
        v = h_child_text(r, name);
    if (r)
        xmpp_stanza_release(r);
    return v;
}

static void sha1_hex(const unsigned char *data, size_t len, char hex[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static int never(void *ud)
{
    (void)ud;
    return 0;
}

/* Keeps the clients of `ctx` running for `ms` milliseconds. */
static void pump(xmpp_ctx_t *ctx, int ms)
{
    h_run_until(ctx, never, NULL, ms);
}

typedef struct session_pair {
    xmpp_ctx_t *ctx;
    h_client_t *a, *b;
} session_pair_t;

static int open_pair(session_pair_t *p, h_server_t *srv, const char *a, const char *apw,
                     const char *b, const char *bpw)
{
    p->ctx = h_ctx_new();
    p->a = h_login(p->ctx, srv, a, apw, 0);
    p->b = b ? h_login(p->ctx, srv, b, bpw, 0) : NULL;
    return p->a && (!b || p->b);
}

static void close_pair(session_pair_t *p)
{
    h_client_free(p->a);
    h_client_free(p->b);
    h_ctx_free(p->ctx);
}

/* `watcher` subscribes to `owner`'s presence and `owner` approves: the
 * owner's roster item for the watcher then has FROM. */
static int subscribe(h_client_t *watcher, h_client_t *owner, const char *owner_bare,
                     const char *watcher_bare)
{
    h_send(watcher, "<presence type='subscribe' to='%s'/>", owner_bare);
    xmpp_stanza_t *req = h_wait(owner, &(h_match_t){.name = "presence", .type = "subscribe"}, 5000);
    if (!CHECK_MSG(req != NULL, "no subscription request reached %s", owner_bare))
        return 0;
    xmpp_stanza_release(req);
    h_send(owner, "<presence type='subscribed' to='%s'/>", watcher_bare);
    xmpp_stanza_t *ok =
        h_wait(watcher, &(h_match_t){.name = "presence", .type = "subscribed"}, 5000);
    if (!CHECK_MSG(ok != NULL, "no subscription approval reached %s", watcher_bare))
        return 0;
    xmpp_stanza_release(ok);
    return 1;
}

/* ---- vCard ---- */

static void vcard_set_then_get_own(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", NULL, NULL) &&
        iq_ok(p.a, "set", NULL,
              "<vCard xmlns='" NS_VCARD "'><FN>Alice Liddell</FN><NICKNAME>al</NICKNAME>"
              "<EMAIL><INTERNET/><USERID>alice@example.test</USERID></EMAIL></vCard>")) {
        char *fn = vcard_field(p.a, NULL, "FN");
        CHECK_MSG(fn && strcmp(fn, "Alice Liddell") == 0, "FN '%s'", fn ? fn : "");
        free(fn);
        char *user = vcard_field(p.a, "alice@example.test", "USERID");
        CHECK_MSG(user && strcmp(user, "alice@example.test") == 0, "USERID '%s'", user ? user : "");
        free(user);
    }
    close_pair(&p);
}

static void vcard_is_empty_when_never_set(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "erin@example.test/home", "erin-pw", NULL, NULL)) {
        xmpp_stanza_t *r = h_iq(p.a, "get", NULL, "<vCard xmlns='" NS_VCARD "'/>", 5000);
        if (CHECK(h_attr_eq(r, "type", "result"))) {
            xmpp_stanza_t *v = xmpp_stanza_get_child_by_name(r, "vCard");
            CHECK_MSG(v && !xmpp_stanza_get_children(v), "an empty <vCard/> was expected");
        }
        if (r)
            xmpp_stanza_release(r);
    }
    close_pair(&p);
}

static void vcard_of_another_user_is_readable(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", "bob@example.test/home",
                  "bob-pw") &&
        iq_ok(p.a, "set", NULL, "<vCard xmlns='" NS_VCARD "'><FN>Alice Again</FN></vCard>")) {
        char *fn = vcard_field(p.b, "alice@example.test", "FN");
        CHECK_MSG(fn && strcmp(fn, "Alice Again") == 0, "FN '%s'", fn ? fn : "");
        free(fn);
    }
    close_pair(&p);
}

static void vcard_of_someone_else_cannot_be_set(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", "bob@example.test/home",
                  "bob-pw") &&
        iq_ok(p.a, "set", NULL, "<vCard xmlns='" NS_VCARD "'><FN>The Real Alice</FN></vCard>")) {
        iq_fails(p.b, "set", "alice@example.test",
                 "<vCard xmlns='" NS_VCARD "'><FN>Bob was here</FN></vCard>", "forbidden");
        iq_fails(p.b, "set", "example.test", "<vCard xmlns='" NS_VCARD "'><FN>x</FN></vCard>",
                 "forbidden");
        char *fn = vcard_field(p.b, "alice@example.test", "FN");
        CHECK_MSG(fn && strcmp(fn, "The Real Alice") == 0, "FN '%s'", fn ? fn : "");
        free(fn);
    }
    close_pair(&p);
}

static void vcard_from_another_domain_is_forbidden(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "dave@other.test/home", "dave-pw", NULL, NULL))
        iq_fails(p.a, "get", "alice@example.test", "<vCard xmlns='" NS_VCARD "'/>", "forbidden");
    close_pair(&p);
}

static void vcard_too_big_is_not_acceptable(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "carol@example.test/home", "carol-pw", NULL, NULL)) {
        char desc[3001];
        memset(desc, 'x', sizeof(desc) - 1);
        desc[sizeof(desc) - 1] = '\0';
        char payload[3200];
        snprintf(payload, sizeof(payload), "<vCard xmlns='" NS_VCARD "'><DESC>%s</DESC></vCard>",
                 desc);
        xmpp_stanza_t *r = h_iq(p.a, "set", NULL, payload, 5000);
        const char *cond = r ? h_error_condition(r) : NULL;
        CHECK_MSG(cond && strcmp(cond, "not-acceptable") == 0, "condition %s",
                  cond ? cond : "none");
        char *text = r ? h_child_text(r, "text") : NULL;
        CHECK_MSG(text && strstr(text, "2048"), "error text '%s'", text ? text : "");
        free(text);
        if (r)
            xmpp_stanza_release(r);
        char *got = vcard_field(p.a, NULL, "DESC");
        CHECK_MSG(!got, "the oversized vCard was stored");
        free(got);
    }
    close_pair(&p);
}

static void vcard_malformed_is_bad_request(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "carol@example.test/home", "carol-pw", NULL, NULL)) {
        iq_fails(p.a, "set", NULL, "<vcard xmlns='" NS_VCARD "'><FN>lower case</FN></vcard>",
                 "bad-request");
        iq_fails(p.a, "get", NULL, "<card xmlns='" NS_VCARD "'/>", "bad-request");
        iq_fails(p.a, "set", NULL,
                 "<vCard xmlns='" NS_VCARD "'><PHOTO><TYPE>image/png</TYPE>"
                 "<BINVAL>not*base64!</BINVAL></PHOTO></vCard>",
                 "bad-request");
    }
    close_pair(&p);
}

/* The hash a client advertises in presence (XEP-0153) is the SHA-1 of the
 * picture; another client reading the vCard gets that exact picture. */
static void vcard_photo_hash_round_trip(h_server_t *srv)
{
    static const unsigned char png[] = {0x89, 'P',  'N',  'G',  '\r', '\n', 0x1a, '\n', 0, 0,
                                        0,    13,   'I',  'H',  'D',  'R',  0,    0,    0, 1,
                                        0,    0,    0,    1,    8,    6,    0,    0,    0, 0x1f,
                                        0x15, 0xc4, 0x89, 0xfe, 0xed, 0xfa, 0xce};
    char hash[41];
    sha1_hex(png, sizeof(png), hash);
    char b64[128];
    int n = EVP_EncodeBlock((unsigned char *)b64, png, (int)sizeof(png));
    /* Split the base64 over two lines, as many clients do. */
    char wrapped[160];
    snprintf(wrapped, sizeof(wrapped), "%.20s\n%s", b64, b64 + 20);
    (void)n;
    session_pair_t p;
    if (!open_pair(&p, srv, "gina@example.test/home", "gina-pw", "bob@example.test/home",
                   "bob-pw")) {
        close_pair(&p);
        return;
    }
    subscribe(p.b, p.a, "gina@example.test", "bob@example.test");
    char payload[512];
    snprintf(payload, sizeof(payload),
             "<vCard xmlns='" NS_VCARD "'><FN>Gina</FN><PHOTO><TYPE>image/png</TYPE>"
             "<BINVAL>%s</BINVAL></PHOTO></vCard>",
             wrapped);
    if (iq_ok(p.a, "set", NULL, payload)) {
        h_send(p.a, "<presence><x xmlns='vcard-temp:x:update'><photo>%s</photo></x></presence>",
               hash);
        xmpp_stanza_t *pres = h_wait(p.b,
                                     &(h_match_t){.name = "presence",
                                                  .from = "gina@example.test/home",
                                                  .child_ns = "vcard-temp:x:update"},
                                     5000);
        char *advertised = pres ? h_child_text(pres, "photo") : NULL;
        CHECK_MSG(advertised && strcmp(advertised, hash) == 0, "advertised '%s'",
                  advertised ? advertised : "");
        char *binval = vcard_field(p.b, "gina@example.test", "BINVAL");
        if (CHECK(binval != NULL)) {
            char packed[160];
            size_t k = 0;
            for (const char *c = binval; *c && k < sizeof(packed) - 1; c++)
                if (*c != '\n' && *c != '\r' && *c != ' ')
                    packed[k++] = *c;
            packed[k] = '\0';
            unsigned char raw[128];
            int len = EVP_DecodeBlock(raw, (const unsigned char *)packed, (int)k);
            size_t pad = k >= 2 ? (packed[k - 1] == '=') + (packed[k - 2] == '=') : 0;
            char got[41] = "";
            if (len >= 0)
                sha1_hex(raw, (size_t)len - pad, got);
            CHECK_MSG(advertised && strcmp(got, advertised) == 0, "stored photo hashes to %s", got);
        }
        free(binval);
        free(advertised);
        if (pres)
            xmpp_stanza_release(pres);
    }
    close_pair(&p);
}

/* PRES-3: bob sees alice's presence, carol does not; a change of alice's
 * vCard reaches bob (once, however many changes) within the interval of
 * one second, and never carol. */
static void vcard_change_notice_reaches_subscribed_contacts_only(h_server_t *srv)
{
    session_pair_t p;
    if (!open_pair(&p, srv, "frank@example.test/home", "frank-pw", "bob@example.test/notice",
                   "bob-pw")) {
        close_pair(&p);
        return;
    }
    h_client_t *carol = h_login(p.ctx, srv, "carol@example.test/notice", "carol-pw", 0);
    if (carol && subscribe(p.b, p.a, "frank@example.test", "bob@example.test")) {
        /* Let a batch pass so earlier changes are out of the way. */
        pump(p.ctx, 1500);
        h_match_t notice = {.name = "message",
                            .type = "headline",
                            .from = "frank@example.test",
                            .child_ns = NS_CONTACTS};
        while (h_count(p.b, &notice) > 0)
            xmpp_stanza_release(h_wait(p.b, &notice, 0));
        iq_ok(p.a, "set", NULL, "<vCard xmlns='" NS_VCARD "'><FN>Frank 1</FN></vCard>");
        iq_ok(p.a, "set", NULL, "<vCard xmlns='" NS_VCARD "'><FN>Frank 2</FN></vCard>");
        xmpp_stanza_t *m = h_wait(p.b, &notice, 4000);
        if (CHECK_MSG(m != NULL, "no update notice within the interval")) {
            xmpp_stanza_t *u = xmpp_stanza_get_child_by_ns(m, NS_CONTACTS);
            const char *jid = u ? xmpp_stanza_get_attribute(u, "jid") : NULL;
            const char *vh = u ? xmpp_stanza_get_attribute(u, "vcard-hash") : NULL;
            const char *ph = u ? xmpp_stanza_get_attribute(u, "photo-hash") : NULL;
            CHECK(jid && strcmp(jid, "frank@example.test") == 0);
            CHECK_MSG(vh && strlen(vh) == 40, "vcard-hash '%s'", vh ? vh : "");
            CHECK_MSG(ph && ph[0] == '\0', "photo-hash '%s' without a photo", ph ? ph : "");
            xmpp_stanza_release(m);
        }
        pump(p.ctx, 1500);
        CHECK_MSG(h_count(p.b, &notice) == 0, "two changes in a batch gave %d more notices",
                  h_count(p.b, &notice));
        CHECK_MSG(h_count(carol, &(h_match_t){.child_ns = NS_CONTACTS}) == 0,
                  "a stranger was told");
        /* An unchanged vCard set again is no change. */
        iq_ok(p.a, "set", NULL, "<vCard xmlns='" NS_VCARD "'><FN>Frank 2</FN></vCard>");
        pump(p.ctx, 2500);
        CHECK_MSG(h_count(p.b, &notice) == 0, "an unchanged vCard was announced");
    }
    h_client_free(carol);
    close_pair(&p);
}

/* ---- private XML storage ---- */

static void private_set_and_get(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", NULL, NULL) &&
        iq_ok(p.a, "set", NULL,
              "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'>"
              "<theme>dark</theme></prefs></query>")) {
        xmpp_stanza_t *r = h_iq(p.a, "get", NULL,
                                "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'/>"
                                "</query>",
                                5000);
        char *theme = h_attr_eq(r, "type", "result") ? h_child_text(r, "theme") : NULL;
        CHECK_MSG(theme && strcmp(theme, "dark") == 0, "theme '%s'", theme ? theme : "");
        free(theme);
        if (r)
            xmpp_stanza_release(r);
    }
    close_pair(&p);
}

static void private_missing_element_comes_back_empty(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", NULL, NULL)) {
        xmpp_stanza_t *r = h_iq(p.a, "get", "alice@example.test",
                                "<query xmlns='" NS_PRIVATE "'><none xmlns='urn:example:none'/>"
                                "</query>",
                                5000);
        if (CHECK(h_attr_eq(r, "type", "result"))) {
            xmpp_stanza_t *q = xmpp_stanza_get_child_by_name(r, "query");
            xmpp_stanza_t *e = q ? xmpp_stanza_get_child_by_name(q, "none") : NULL;
            const char *ns = e ? xmpp_stanza_get_ns(e) : NULL;
            CHECK_MSG(ns && strcmp(ns, "urn:example:none") == 0 && !xmpp_stanza_get_children(e),
                      "an empty <none xmlns='urn:example:none'/> was expected");
        }
        if (r)
            xmpp_stanza_release(r);
    }
    close_pair(&p);
}

static void private_refuses_what_xep_0049_refuses(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", "bob@example.test/home",
                  "bob-pw")) {
        iq_fails(p.a, "set", NULL,
                 "<query xmlns='" NS_PRIVATE "'><vCard xmlns='vcard-temp'/></query>",
                 "not-acceptable");
        iq_fails(p.a, "get", NULL,
                 "<query xmlns='" NS_PRIVATE "'><query xmlns='jabber:iq:roster'/></query>",
                 "not-acceptable");
        iq_fails(p.a, "set", NULL,
                 "<query xmlns='" NS_PRIVATE "'><x xmlns='http://jabber.org/protocol/x'/></query>",
                 "not-acceptable");
        iq_fails(p.a, "get", NULL, "<query xmlns='" NS_PRIVATE "'/>", "not-acceptable");
        iq_fails(p.a, "get", NULL,
                 "<query xmlns='" NS_PRIVATE "'><a xmlns='urn:a'/><b xmlns='urn:b'/></query>",
                 "bad-request");
        iq_fails(p.b, "get", "alice@example.test",
                 "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'/></query>",
                 "forbidden");
        iq_fails(p.b, "set", "alice@example.test",
                 "<query xmlns='" NS_PRIVATE "'><prefs xmlns='urn:example:prefs'/></query>",
                 "forbidden");
    }
    close_pair(&p);
}

static void private_limits_size_and_count(h_server_t *srv)
{
    session_pair_t p;
    if (!open_pair(&p, srv, "carol@example.test/home", "carol-pw", NULL, NULL)) {
        close_pair(&p);
        return;
    }
    char big[1200];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char payload[1400];
    snprintf(payload, sizeof(payload),
             "<query xmlns='" NS_PRIVATE "'><big xmlns='urn:x'>%s</big></query>", big);
    iq_fails(p.a, "set", NULL, payload, "not-acceptable");
    /* max_items = 3: three distinct elements fit, a fourth does not, and
     * replacing one of the three still works. */
    iq_ok(p.a, "set", NULL, "<query xmlns='" NS_PRIVATE "'><a xmlns='urn:x:1'>1</a></query>");
    iq_ok(p.a, "set", NULL,
          "<query xmlns='" NS_PRIVATE "'><a xmlns='urn:x:2'>2</a><a xmlns='urn:x:3'>3</a></query>");
    iq_fails(p.a, "set", NULL, "<query xmlns='" NS_PRIVATE "'><a xmlns='urn:x:4'>4</a></query>",
             "not-acceptable");
    iq_ok(p.a, "set", NULL, "<query xmlns='" NS_PRIVATE "'><a xmlns='urn:x:2'>two</a></query>");
    xmpp_stanza_t *r =
        h_iq(p.a, "get", NULL, "<query xmlns='" NS_PRIVATE "'><a xmlns='urn:x:4'/></query>", 5000);
    char *four = h_attr_eq(r, "type", "result") ? h_child_text(r, "a") : NULL;
    CHECK_MSG(four && !four[0], "the refused element was stored: '%s'", four ? four : "(error)");
    free(four);
    if (r)
        xmpp_stanza_release(r);
    r = h_iq(p.a, "get", NULL, "<query xmlns='" NS_PRIVATE "'><a xmlns='urn:x:2'/></query>", 5000);
    char *two = h_attr_eq(r, "type", "result") ? h_child_text(r, "a") : NULL;
    CHECK_MSG(two && strcmp(two, "two") == 0, "replaced element '%s'", two ? two : "(error)");
    free(two);
    if (r)
        xmpp_stanza_release(r);
    close_pair(&p);
}

static void personal_directory_is_validated(h_server_t *srv)
{
    session_pair_t p;
    if (!open_pair(&p, srv, "bob@example.test/home", "bob-pw", NULL, NULL)) {
        close_pair(&p);
        return;
    }
    static const char good[] =
        "<query xmlns='" NS_PRIVATE "'><directory xmlns='" NS_DIR "'>"
        "<group-order><group name='Family'/><group name='Work'/></group-order>"
        "<contact id='c1' name='Plumber' phone='+1 555 0100' note='Tuesdays'>"
        "<group>Family</group></contact>"
        "<contact id='c2' name='Taxi' phone='+1 555 0199' org='Cabs Inc'/>"
        "</directory></query>";
    if (iq_ok(p.a, "set", NULL, good)) {
        xmpp_stanza_t *r =
            h_iq(p.a, "get", NULL,
                 "<query xmlns='" NS_PRIVATE "'><directory xmlns='" NS_DIR "'/></query>", 5000);
        xmpp_stanza_t *q =
            h_attr_eq(r, "type", "result") ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
        xmpp_stanza_t *d = q ? xmpp_stanza_get_child_by_name(q, "directory") : NULL;
        xmpp_stanza_t *c = d ? xmpp_stanza_get_child_by_name(d, "contact") : NULL;
        const char *name = c ? xmpp_stanza_get_attribute(c, "name") : NULL;
        CHECK_MSG(name && strcmp(name, "Plumber") == 0, "first contact '%s'", name ? name : "");
        if (r)
            xmpp_stanza_release(r);
    }
    static const char *const bad[] = {
        "<directory xmlns='" NS_DIR "'><friend id='1' name='x'/></directory>",
        "<directory xmlns='" NS_DIR "'><contact id='1' name='x'/><contact id='1' name='y'/>"
        "</directory>",
        "<directory xmlns='" NS_DIR "'><contact id='1'/></directory>",
        "<directory xmlns='" NS_DIR "'><contact id='1' name='x' jid='a@b'/></directory>",
        "<directory xmlns='" NS_DIR "'><group-order/><group-order/></directory>",
        "<directory xmlns='" NS_DIR "'><group-order><group name='a'/><group name='a'/>"
        "</group-order></directory>",
        "<directory xmlns='" NS_DIR "'>loose text</directory>",
        "<dir xmlns='" NS_DIR "'/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char payload[512];
        snprintf(payload, sizeof(payload), "<query xmlns='" NS_PRIVATE "'>%s</query>", bad[i]);
        CHECK_MSG(iq_fails(p.a, "set", NULL, payload, "bad-request"), "accepted: %s", bad[i]);
    }
    close_pair(&p);
}

/* ---- last activity ---- */

static long long seconds_of(xmpp_stanza_t *r)
{
    xmpp_stanza_t *q = r ? xmpp_stanza_get_child_by_name(r, "query") : NULL;
    const char *s = q ? xmpp_stanza_get_attribute(q, "seconds") : NULL;
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : -1;
    return s && end && !*end && end != s ? v : -1;
}

static void last_server_uptime(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", NULL, NULL)) {
        xmpp_stanza_t *r = h_iq(p.a, "get", "example.test", "<query xmlns='" NS_LAST "'/>", 5000);
        CHECK(h_attr_eq(r, "type", "result"));
        long long up = seconds_of(r);
        CHECK_MSG(up >= 0 && up < 3600, "uptime %lld", up);
        if (r)
            xmpp_stanza_release(r);
    }
    close_pair(&p);
}

static void last_online_user_is_zero_and_strangers_are_refused(h_server_t *srv)
{
    session_pair_t p;
    if (open_pair(&p, srv, "alice@example.test/home", "alice-pw", "erin@example.test/home",
                  "erin-pw")) {
        xmpp_stanza_t *r =
            h_iq(p.a, "get", "alice@example.test", "<query xmlns='" NS_LAST "'/>", 5000);
        CHECK_MSG(h_attr_eq(r, "type", "result") && seconds_of(r) == 0,
                  "own last activity while online");
        if (r)
            xmpp_stanza_release(r);
        iq_fails(p.b, "get", "alice@example.test", "<query xmlns='" NS_LAST "'/>", "forbidden");
    }
    close_pair(&p);
}

/* frank logs out with a status; a client of frank's that is not available
 * asks, and so does a contact who is subscribed to frank's presence. */
static void last_logout_time_and_status(h_server_t *srv)
{
    session_pair_t p;
    if (!open_pair(&p, srv, "frank@example.test/last", "frank-pw", "carol@example.test/last",
                   "carol-pw")) {
        close_pair(&p);
        return;
    }
    subscribe(p.b, p.a, "frank@example.test", "carol@example.test");
    /* Other frank sessions from earlier tests are gone by now. */
    h_send(p.a, "<presence type='unavailable'><status>Gone fishing</status></presence>");
    h_client_free(p.a);
    p.a = NULL;
    h_client_t *quiet =
        h_client_new(p.ctx, srv, "frank@example.test/quiet", "frank-pw", H_STARTTLS);
    if (CHECK(h_client_wait_login(quiet, 10000))) {
        xmpp_stanza_t *r = h_iq(quiet, "get", NULL, "<query xmlns='" NS_LAST "'/>", 5000);
        CHECK_MSG(h_attr_eq(r, "type", "result"), "own last activity after logout");
        long long s = seconds_of(r);
        CHECK_MSG(s >= 0 && s < 60, "seconds %lld", s);
        char *text = r ? h_child_text(r, "query") : NULL;
        CHECK_MSG(text && strcmp(text, "Gone fishing") == 0, "status '%s'", text ? text : "");
        free(text);
        if (r)
            xmpp_stanza_release(r);
    }
    xmpp_stanza_t *r = h_iq(p.b, "get", "frank@example.test", "<query xmlns='" NS_LAST "'/>", 5000);
    CHECK_MSG(h_attr_eq(r, "type", "result") && seconds_of(r) >= 0, "a subscribed contact asks");
    if (r)
        xmpp_stanza_release(r);
    h_client_free(quiet);
    close_pair(&p);
}

static void last_never_seen_is_item_not_found(h_server_t *srv)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    /* No presence ever sent by this account. */
    h_client_t *c = h_client_new(ctx, srv, "erin@example.test/quiet", "erin-pw", H_STARTTLS);
    (void)srv;
    if (CHECK(h_client_wait_login(c, 10000)))
        iq_fails(c, "get", NULL, "<query xmlns='" NS_LAST "'/>", "item-not-found");
    h_client_free(c);
    h_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    (void)argc;
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {.modules = MODULES, .accounts = accounts};
    if (h_server_start(&srv, &opts) == 0) {
        /* Before anything makes erin available. */
        H_RUN(last_never_seen_is_item_not_found, &srv);
        H_RUN(vcard_set_then_get_own, &srv);
        H_RUN(vcard_is_empty_when_never_set, &srv);
        H_RUN(vcard_of_another_user_is_readable, &srv);
        H_RUN(vcard_of_someone_else_cannot_be_set, &srv);
        H_RUN(vcard_from_another_domain_is_forbidden, &srv);
        H_RUN(vcard_too_big_is_not_acceptable, &srv);
        H_RUN(vcard_malformed_is_bad_request, &srv);
        H_RUN(vcard_photo_hash_round_trip, &srv);
        H_RUN(vcard_change_notice_reaches_subscribed_contacts_only, &srv);
        H_RUN(private_set_and_get, &srv);
        H_RUN(private_missing_element_comes_back_empty, &srv);
        H_RUN(private_refuses_what_xep_0049_refuses, &srv);
        H_RUN(private_limits_size_and_count, &srv);
        H_RUN(personal_directory_is_validated, &srv);
        H_RUN(last_server_uptime, &srv);
        H_RUN(last_online_user_is_zero_and_strangers_are_refused, &srv);
        H_RUN(last_logout_time_and_status, &srv);
    }
    h_server_stop(&srv);
    return h_finish(argv[0]);
}
