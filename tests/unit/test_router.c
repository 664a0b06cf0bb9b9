/* test_router.c — where a stanza goes.  The RFC 6121 §8.5 delivery rules
 * (xmpp/route-rules.c): who receives a stanza addressed to a local account;
 * and the router's decisions (core/router.c) before them: the sender's
 * policy hooks, a component, a domain not served here, the host itself, a
 * local account (existing or not, its message hooks, the undelivered hooks,
 * bounces), and the stanza-id a message to an account gets.  The decisions
 * are watched through a recording module's hooks and the answers to IQs
 * the server sends, on a server without loops (tests/unit/helpers.h). */
#include <errno.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/server.h"
#include "lib/buf.h"
#include "storage/storage.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "xmpp/route-rules.h"

static const pl_route_candidate_t two[] = {
    {.resource = "desk", .available = 1, .priority = 5},
    {.resource = "phone", .available = 1, .priority = 1},
};

START_TEST(message_to_bare_reaches_all_nonnegative)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", NULL, 1, two, 2, sel),
                     PL_ROUTE_DELIVER);
    ck_assert(sel[0] && sel[1]);
}
END_TEST

START_TEST(negative_priority_is_skipped_for_bare_but_not_full)
{
    pl_route_candidate_t c[] = {
        {.resource = "a", .available = 1, .priority = -1},
        {.resource = "b", .available = 1, .priority = 0},
    };
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, NULL, NULL, 1, c, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(!sel[0] && sel[1]);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", "a", 1, c, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(sel[0] && !sel[1]);
}
END_TEST

START_TEST(only_negative_or_unavailable_means_undelivered)
{
    pl_route_candidate_t c[] = {
        {.resource = "a", .available = 1, .priority = -5},
        {.resource = "b", .available = 0, .priority = 10},
    };
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", NULL, 1, c, 2, sel),
                     PL_ROUTE_UNDELIVERED);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "normal", NULL, 1, NULL, 0, sel),
                     PL_ROUTE_UNDELIVERED);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "headline", NULL, 1, c, 2, sel),
                     PL_ROUTE_DROP);
}
END_TEST

START_TEST(a_stanza_to_an_unknown_resource_falls_back_or_bounces_by_kind)
{
    unsigned char sel[2];
    /* chat falls back to the account; normal is refused; IQ get/set refused;
     * IQ result dropped; presence dropped. */
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", "gone", 1, two, 2, sel),
                     PL_ROUTE_DELIVER);
    ck_assert(sel[0] && sel[1]);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "normal", "gone", 1, two, 2, sel),
                     PL_ROUTE_BOUNCE);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "error", "gone", 1, two, 2, sel),
                     PL_ROUTE_DROP);
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "get", "gone", 1, two, 2, sel), PL_ROUTE_BOUNCE);
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "result", "gone", 1, two, 2, sel), PL_ROUTE_DROP);
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, NULL, "gone", 1, two, 2, sel), PL_ROUTE_DROP);
}
END_TEST

START_TEST(full_jid_reaches_only_that_resource)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "get", "phone", 1, two, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(!sel[0] && sel[1]);
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, NULL, "desk", 1, two, 2, sel),
                     PL_ROUTE_DELIVER);
    ck_assert(sel[0] && !sel[1]);
}
END_TEST

START_TEST(iq_to_bare_is_for_the_server)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_IQ, "get", NULL, 1, two, 2, sel), PL_ROUTE_SERVER);
}
END_TEST

START_TEST(a_stanza_to_a_nonexistent_account_bounces_or_is_dropped)
{
    unsigned char sel[1];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "chat", NULL, 0, NULL, 0, sel),
                     PL_ROUTE_BOUNCE);
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "headline", NULL, 0, NULL, 0, sel),
                     PL_ROUTE_DROP);
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, "subscribe", NULL, 0, NULL, 0, sel),
                     PL_ROUTE_DROP);
}
END_TEST

START_TEST(groupchat_to_an_account_is_refused)
{
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_MESSAGE, "groupchat", NULL, 1, two, 2, sel),
                     PL_ROUTE_BOUNCE);
}
END_TEST

START_TEST(presence_to_bare_reaches_available_whatever_priority)
{
    pl_route_candidate_t c[] = {
        {.resource = "a", .available = 1, .priority = -1},
        {.resource = "b", .available = 0, .priority = 3},
    };
    unsigned char sel[2];
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, NULL, NULL, 1, c, 2, sel), PL_ROUTE_DELIVER);
    ck_assert(sel[0] && !sel[1]);
    c[0].available = 0;
    ck_assert_int_eq(pl_route_rules(PL_KIND_PRESENCE, "subscribe", NULL, 1, c, 2, sel),
                     PL_ROUTE_UNDELIVERED);
}
END_TEST

/* Server ids: strictly increasing, sorted as strings, and they parse back. */
START_TEST(ids_increase_and_sort_as_strings)
{
    pl_server_t *srv = calloc(1, sizeof(*srv));
    char prev[PL_ID_SIZE] = "", id[PL_ID_SIZE];
    unsigned long long prev_v = 0;
    for (int i = 0; i < 10000; i++) {
        pl_server_new_id(srv, id);
        ck_assert_uint_eq(strlen(id), PL_ID_SIZE - 1);
        unsigned long long v = pl_id_value(id);
        ck_assert(v > prev_v);
        ck_assert_int_gt(strcmp(id, prev), 0);
        prev_v = v;
        memcpy(prev, id, sizeof(id));
    }
    char back[PL_ID_SIZE];
    pl_id_format(prev_v, back);
    ck_assert_str_eq(back, prev);
    pl_id_format(0, back);
    ck_assert_str_eq(back, "0000000000000");
    ck_assert_uint_eq(pl_id_value("0000000000001"), 1);
    ck_assert_uint_eq(pl_id_value("000000000000I"), 0); /* not a digit */
    ck_assert_uint_eq(pl_id_value("000000000001"), 0);  /* too short */
    ck_assert_uint_eq(pl_id_value("00000000000001"), 0); /* too long */
    ck_assert_uint_eq(pl_id_value("G000000000000"), 0); /* more than 64 bits */
    free(srv);
}
END_TEST

/* ---- the router's decisions ---- */

#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* What a recording module's hooks saw, one line per hook that ran:
 * "LABEL@HOST TYPE[ CONDITION][ sid=BY...]" (TYPE "-" when absent), e.g.
 * "message:bare@example.test chat" or
 * "message:full@example.test error service-unavailable". */
typedef struct rec {
    pl_buf_t log;
    const char *claim; /* the label whose hook returns PL_DONE, or NULL */
    pl_stanza_t *last; /* the last stanza a message hook saw (a reference) */
    char answer[64];   /* what an IQ the server sent got back: "result", a
                          condition, or "" while nothing came */
    int batches;       /* the batching NOTIFY hook counts addressees and logs
                          "batch-end@HOST n=N" at the end of each batch */
} rec_t;

/* The defined condition of an error stanza, or NULL. */
static const char *condition_of(const pl_stanza_t *st)
{
    const pl_xml_t *e = pl_xml_child(pl_stanza_root(st), "error", NULL);
    const pl_xml_t *c = e ? pl_xml_child(e, NULL, NS_STANZAS) : NULL;
    return c ? c->name : NULL;
}

static pl_hook_result_t note(pl_hook_ctx_t *hc, const char *label)
{
    rec_t *r = pl_module_data(hc->module);
    const char *cond = condition_of(hc->stanza);
    pl_buf_printf(&r->log, "%s@%s %s", label, pl_host_name(hc->host), *hc->type ? hc->type : "-");
    if (cond)
        pl_buf_printf(&r->log, " %s", cond);
    for (const pl_xml_t *c = pl_xml_child(pl_stanza_root(hc->stanza), "stanza-id", PL_NS_SID); c;
         c = pl_xml_next(c, "stanza-id", PL_NS_SID))
        pl_buf_printf(&r->log, " sid=%s", pl_xml_attr(c, "by"));
    pl_buf_puts(&r->log, "\n");
    if (strncmp(label, "message", 7) == 0) {
        pl_stanza_unref(&r->last);
        r->last = pl_stanza_ref((pl_stanza_t *)hc->stanza);
    }
    return r->claim && strcmp(r->claim, label) == 0 ? PL_DONE : PL_PASS;
}

static pl_hook_result_t pre_route(pl_hook_ctx_t *hc)
{
    return note(hc, "pre-route");
}
static pl_hook_result_t iq_host(pl_hook_ctx_t *hc)
{
    return note(hc, "iq:host");
}
static pl_hook_result_t iq_self(pl_hook_ctx_t *hc)
{
    return note(hc, "iq:self");
}
static pl_hook_result_t iq_bare(pl_hook_ctx_t *hc)
{
    return note(hc, "iq:bare");
}
static pl_hook_result_t iq_full(pl_hook_ctx_t *hc)
{
    return note(hc, "iq:full");
}
static pl_hook_result_t msg_host(pl_hook_ctx_t *hc)
{
    return note(hc, "message:host");
}
static pl_hook_result_t msg_self(pl_hook_ctx_t *hc)
{
    return note(hc, "message:self");
}
static pl_hook_result_t msg_bare(pl_hook_ctx_t *hc)
{
    return note(hc, "message:bare");
}
static pl_hook_result_t msg_full(pl_hook_ctx_t *hc)
{
    return note(hc, "message:full");
}
static pl_hook_result_t presence(pl_hook_ctx_t *hc)
{
    return note(hc, "presence");
}
static pl_hook_result_t undelivered(pl_hook_ctx_t *hc)
{
    return note(hc, "undelivered");
}
/* Notifications: the flags, sender and addressee go to the log too. */
static pl_hook_result_t notified(pl_hook_ctx_t *hc, const char *label)
{
    rec_t *r = pl_module_data(hc->module);
    pl_buf_printf(&r->log, "%s flags=%u from=%s to=%s ", label, hc->notify, hc->from->full,
                  hc->to->full);
    return note(hc, label);
}
static pl_hook_result_t notify_first(pl_hook_ctx_t *hc)
{
    return notified(hc, "notify:first");
}
static pl_hook_result_t notify_second(pl_hook_ctx_t *hc)
{
    return notified(hc, "notify:second");
}

/* Counts the addressees of a batch in its slot, when asked to. */
static pl_hook_result_t notify_batched(pl_hook_ctx_t *hc)
{
    rec_t *r = pl_module_data(hc->module);
    if (!r->batches)
        return PL_PASS;
    int *n = *hc->batch;
    if (!n)
        *hc->batch = n = calloc(1, sizeof(*n));
    ++*n;
    return PL_PASS;
}
static void notify_batch_end(pl_module_ctx_t *mod, void *batch)
{
    rec_t *r = pl_module_data(mod);
    int *n = batch;
    pl_buf_printf(&r->log, "batch-end@%s n=%d\n", pl_host_name(pl_module_host(mod)), *n);
    free(n);
}

/* One hook per target, so the log shows the target bits the router chose;
 * for a stanza with several bits the higher priority runs first. */
static const pl_hook_def_t rec_hooks[] = {
    {.event = PL_EV_PRE_ROUTE, .handler = pre_route},
    {.event = PL_EV_IQ, .targets = PL_TO_SELF, .priority = 4, .handler = iq_self},
    {.event = PL_EV_IQ, .targets = PL_TO_HOST, .priority = 3, .handler = iq_host},
    {.event = PL_EV_IQ, .targets = PL_TO_BARE, .priority = 2, .handler = iq_bare},
    {.event = PL_EV_IQ, .targets = PL_TO_FULL, .priority = 1, .handler = iq_full},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_SELF, .priority = 4, .handler = msg_self},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_HOST, .priority = 3, .handler = msg_host},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_BARE, .priority = 2, .handler = msg_bare},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_FULL, .priority = 1, .handler = msg_full},
    {.event = PL_EV_PRESENCE, .handler = presence},
    {.event = PL_EV_UNDELIVERED, .handler = undelivered},
    {.event = PL_EV_NOTIFY, .priority = 2, .handler = notify_first},
    {.event = PL_EV_NOTIFY, .targets = PL_TO_BARE, .priority = 1, .handler = notify_second},
    {.event = PL_EV_NOTIFY, .handler = notify_batched, .batch_end = notify_batch_end},
    /* Names targets a notification never has: never runs. */
    {.event = PL_EV_NOTIFY, .targets = PL_TO_FULL | PL_TO_HOST, .handler = notify_second},
    {0},
};
static const pl_module_desc_t mod_rec = {.name = "rec", .abi = PL_MODULE_ABI, .hooks = rec_hooks};
/* Asks for XEP-0359 stanza-ids on the hosts it is enabled on. */
static const pl_module_desc_t mod_ids = {.name = "ids", .abi = PL_MODULE_ABI, .stanza_ids = 1};

/* A service module: serves rooms.<host> and records what reaches it there;
 * it claims IQs to a room only when told to ("svc-iq"). */
static pl_hook_result_t svc_domain(pl_hook_ctx_t *hc)
{
    return note(hc, "svc:domain");
}
static pl_hook_result_t svc_bare(pl_hook_ctx_t *hc)
{
    return note(hc, "svc:bare");
}
static pl_hook_result_t svc_full(pl_hook_ctx_t *hc)
{
    return note(hc, "svc:full");
}
static pl_hook_result_t svc_iq(pl_hook_ctx_t *hc)
{
    return note(hc, "svc-iq");
}
static int svc_init(pl_module_ctx_t *ctx)
{
    char domain[128];
    snprintf(domain, sizeof(domain), "rooms.%s", pl_host_name(pl_module_host(ctx)));
    return pl_module_serve(ctx, domain);
}
static const pl_hook_def_t svc_hooks[] = {
    {.event = PL_EV_MESSAGE, .targets = PL_TO_SVC_DOMAIN, .handler = svc_domain},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_SVC_BARE, .handler = svc_bare},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_SVC_FULL, .handler = svc_full},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_SVC_ANY, .handler = svc_full},
    {.event = PL_EV_IQ, .targets = PL_TO_SVC_BARE, .ns = "urn:test:q", .handler = svc_iq},
    {0},
};
static const pl_module_desc_t mod_svc = {
    .name = "svc", .abi = PL_MODULE_ABI, .hooks = svc_hooks, .init = svc_init};
static const pl_module_desc_t *const registry[] = {&mod_rec, &mod_ids, &mod_svc};

#define HOSTS                                                                                      \
    "hosts = ( { name = \"example.test\"; modules = { rec = {}; ids = {}; svc = {}; };\n"          \
    "            components = ( { domain = \"bot.example.test\"; secret = \"s\"; } ); },\n"        \
    "          { name = \"other.test\"; modules = { rec = {}; svc = {}; }; } );"

typedef struct fixture {
    char dir[64];
    pl_server_t *srv;
    rec_t rec;
} fixture_t;

static int put_account(pl_wtxn_t *txn, void *ud)
{
    return pl_accounts_put(txn, ud);
}

static void add_account(fixture_t *f, const char *bare, unsigned flags)
{
    pl_account_t acc = {.created = 1732291200, .flags = flags};
    snprintf(acc.jid, sizeof(acc.jid), "%s", bare);
    ck_assert_int_eq(pl_storage_write_sync(f->srv->storage, put_account, &acc), 0);
}

/* example.test (with stanza-ids) has alice and bob, and dave disabled;
 * other.test has carol.  Nobody is online. */
static void fx_open(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    pl_buf_init(&f->rec.log);
    ut_tmpdir_new(f->dir, "router");
    f->srv = ut_server_new(HOSTS, registry, 3, f->dir);
    for (size_t i = 0; i < f->srv->nhosts; i++)
        for (size_t m = 0; m < f->srv->hosts[i]->nmods; m++)
            pl_module_set_data(&f->srv->hosts[i]->mods[m], &f->rec);
    add_account(f, "alice@example.test", 0);
    add_account(f, "bob@example.test", 0);
    add_account(f, "dave@example.test", PL_ACCOUNT_DISABLED);
    add_account(f, "carol@other.test", 0);
}

static void fx_close(fixture_t *f)
{
    ut_server_free(&f->srv);
    ut_tmpdir_free(f->dir);
    pl_stanza_unref(&f->rec.last);
    pl_buf_deinit(&f->rec.log);
}

/* A local session as the router sees one (its stream kind, and for a
 * component its state and tenant); freed with free(). */
static pl_session_t *fake_session(const pl_stream_ops_t *ops, pl_component_t *component)
{
    pl_session_t *s = calloc(1, sizeof(*s));
    s->ops = ops;
    s->stream = component;
    s->host = component ? component->host : NULL;
    return s;
}

/* Routes `xml` as a stream would: `from` is its 'from' attribute, the
 * missing 'to' means the sender's host, and `origin` is the session it
 * came from (NULL: the server routes it).  Returns the log of what the
 * hooks saw, from this stanza on. */
static const char *route(fixture_t *f, const char *xml, pl_session_t *origin)
{
    pl_buf_reset(&f->rec.log);
    pl_stanza_t *st = ut_parse(xml);
    const char *fa = pl_stanza_attr(st, "from"), *ta = pl_stanza_attr(st, "to");
    pl_jid_t from, to;
    ck_assert_int_eq(pl_jid_parse(&from, fa), 0);
    ck_assert_int_eq(ta ? pl_jid_parse(&to, ta) : pl_jid_from_parts(&to, NULL, from.domain, NULL),
                     0);
    pl_router_route(f->srv, st, &from, &to, origin);
    pl_jid_deinit(&from);
    pl_jid_deinit(&to);
    pl_stanza_unref(&st);
    return pl_buf_cstr(&f->rec.log);
}

static void on_answer(void *ud, const pl_stanza_t *response)
{
    rec_t *r = ud;
    const char *cond = response ? condition_of(response) : NULL;
    snprintf(r->answer, sizeof(r->answer), "%s",
             !response ? "timeout"
             : cond    ? cond
                       : pl_stanza_attr(response, "type"));
}

/* The server (or an account, `from`) sends an IQ get to `to`: what comes
 * back at once ("" when nothing does), the hooks' log in *log. */
static const char *ask(fixture_t *f, const char *from, const char *to, const char **log)
{
    pl_buf_reset(&f->rec.log);
    f->rec.answer[0] = '\0';
    char xml[256];
    snprintf(xml, sizeof(xml),
             "<iq type='get' id='x' from='%s' to='%s'><query xmlns='urn:test:q'/></iq>", from, to);
    ck_assert_int_eq(pl_server_send_iq_take(f->srv, ut_parse(xml), 0, on_answer, &f->rec), 0);
    *log = pl_buf_cstr(&f->rec.log);
    return f->rec.answer;
}

START_TEST(a_modules_service_domain_reaches_its_own_service_hooks_alone)
{
    fixture_t f;
    fx_open(&f);
    pl_session_t *alice = fake_session(&pl_c2s_ops, NULL);
    /* The sender's policy hooks run as for any address; then only the
     * serving module's PL_TO_SVC_* hooks, never the host's own. */
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='room@rooms.example.test' "
                           "type='groupchat'><body>hi</body></message>",
                           alice),
                     "pre-route@example.test groupchat\n"
                     "svc:bare@example.test groupchat\n");
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' "
                           "to='room@rooms.example.test/nick' type='chat'><body>hi</body></message>",
                           NULL),
                     "svc:full@example.test chat\n");
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='rooms.example.test'>"
                           "<body>hi</body></message>",
                           NULL),
                     "svc:domain@example.test -\n");
    ck_assert_str_eq(route(&f,
                           "<presence from='alice@example.test/desk' "
                           "to='room@rooms.example.test/nick'/>",
                           NULL),
                     "svc:full@example.test -\n");
    /* Another host's service is that host's module. */
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='room@rooms.other.test' "
                           "type='groupchat'><body>hi</body></message>",
                           NULL),
                     "svc:bare@other.test groupchat\n");
    ck_assert_ptr_eq(pl_server_tenant_of(f.srv, "rooms.other.test"), f.srv->hosts[1]);
    /* An IQ request nobody takes gets service-unavailable; one the module
     * takes is its to answer. */
    const char *log;
    ck_assert_str_eq(ask(&f, "alice@example.test", "room@rooms.example.test", &log),
                     "service-unavailable");
    ck_assert_str_eq(log, "svc-iq@example.test get\n");
    ck_assert_str_eq(ask(&f, "alice@example.test", "room@rooms.example.test/nick", &log),
                     "service-unavailable");
    ck_assert_str_eq(log, "");
    f.rec.claim = "svc-iq";
    ck_assert_str_eq(ask(&f, "alice@example.test", "room@rooms.example.test", &log), "");
    ck_assert_str_eq(log, "svc-iq@example.test get\n");
    free(alice);
    fx_close(&f);
}
END_TEST

START_TEST(a_service_domain_is_refused_where_something_already_answers_for_it)
{
    fixture_t f;
    fx_open(&f);
    pl_host_t *h = f.srv->hosts[0];
    pl_module_ctx_t *rec = &h->mods[0], *svc = &h->mods[2];
    ck_assert_str_eq(pl_module_service(svc), "rooms.example.test");
    ck_assert_ptr_null(pl_module_service(rec));
    ck_assert_int_eq(pl_module_serve(rec, "other.test"), -EEXIST);        /* a host */
    ck_assert_int_eq(pl_module_serve(rec, "bot.example.test"), -EEXIST);  /* a component */
    ck_assert_int_eq(pl_module_serve(rec, "Rooms.Other.Test"), -EEXIST);  /* a service */
    ck_assert_int_eq(pl_module_serve(rec, "a@free.example.test"), -EINVAL);
    ck_assert_int_eq(pl_module_serve(rec, "free.example.test/r"), -EINVAL);
    ck_assert_int_eq(pl_module_serve(rec, ""), -EINVAL);
    ck_assert_int_eq(pl_module_serve(rec, "Free.Example.Test"), 0);
    ck_assert_str_eq(pl_module_service(rec), "free.example.test");
    ck_assert_int_eq(pl_module_serve(rec, "more.example.test"), -EALREADY);
    fx_close(&f);
}
END_TEST

START_TEST(a_stanza_for_a_component_domain_bounces_while_the_component_is_away)
{
    fixture_t f;
    fx_open(&f);
    pl_session_t *alice = fake_session(&pl_c2s_ops, NULL);
    /* The sender's policy hooks, then the error back to the sender: the
     * host's own hooks never see the stanza. */
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='bot.example.test' "
                           "type='chat'><body>hi</body></message>",
                           alice),
                     "pre-route@example.test chat\n"
                     "message:full@example.test error service-unavailable\n");
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='x@bot.example.test/r' "
                           "type='chat'><body>hi</body></message>",
                           NULL),
                     "message:full@example.test error service-unavailable\n");
    const char *log;
    ck_assert_str_eq(ask(&f, "example.test", "bot.example.test", &log), "service-unavailable");
    ck_assert_str_eq(log, "");
    free(alice);
    fx_close(&f);
}
END_TEST

START_TEST(a_stanza_for_a_domain_not_served_here_bounces_remote_server_not_found)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='x@remote.test' "
                           "type='chat'><body>hi</body></message>",
                           NULL),
                     "message:full@example.test error remote-server-not-found\n");
    /* A subdomain of a host is another domain. */
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='sub.example.test' "
                           "type='chat'><body>hi</body></message>",
                           NULL),
                     "message:full@example.test error remote-server-not-found\n");
    const char *log;
    ck_assert_str_eq(ask(&f, "example.test", "remote.test", &log), "remote-server-not-found");
    ck_assert_str_eq(ask(&f, "alice@example.test", "y@remote.test/r", &log),
                     "remote-server-not-found");
    fx_close(&f);
}
END_TEST

START_TEST(the_host_answers_through_its_hooks_and_refuses_unclaimed_requests)
{
    fixture_t f;
    fx_open(&f);
    const char *log;
    /* An IQ request to a host: its hooks, then service-unavailable. */
    ck_assert_str_eq(ask(&f, "alice@example.test", "example.test", &log), "service-unavailable");
    ck_assert_str_eq(log, "iq:host@example.test get\n");
    ck_assert_str_eq(ask(&f, "alice@example.test", "other.test", &log), "service-unavailable");
    ck_assert_str_eq(log, "iq:host@other.test get\n");
    /* A hook that claims it answers for itself: nothing from the router. */
    f.rec.claim = "iq:host";
    ck_assert_str_eq(ask(&f, "alice@example.test", "example.test", &log), "");
    ck_assert_str_eq(log, "iq:host@example.test get\n");
    /* Messages and presence to the host are not refused. */
    f.rec.claim = NULL;
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='example.test'>"
                           "<body>hi</body></message>",
                           NULL),
                     "message:host@example.test -\n");
    ck_assert_str_eq(route(&f, "<presence from='alice@example.test/desk' to='other.test'/>", NULL),
                     "presence@other.test -\n");
    fx_close(&f);
}
END_TEST

START_TEST(a_stanza_without_to_is_for_the_host_and_the_sender_itself)
{
    fixture_t f;
    fx_open(&f);
    pl_session_t *alice = fake_session(&pl_c2s_ops, NULL);
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' type='chat'>"
                           "<body>hi</body></message>",
                           alice),
                     "pre-route@example.test chat\n"
                     "message:self@example.test chat\n"
                     "message:host@example.test chat\n");
    /* With 'to' her own bare JID: her account, and herself. */
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='alice@example.test' "
                           "type='headline'><body>hi</body></message>",
                           NULL),
                     "message:self@example.test headline sid=alice@example.test\n"
                     "message:bare@example.test headline sid=alice@example.test\n");
    const char *log;
    ck_assert_str_eq(ask(&f, "alice@example.test", "alice@example.test", &log),
                     "service-unavailable");
    ck_assert_str_eq(log, "iq:self@example.test get\n"
                          "iq:bare@example.test get\n");
    free(alice);
    fx_close(&f);
}
END_TEST

START_TEST(a_resource_of_the_host_itself_does_not_exist)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='example.test/admin' "
                           "type='chat'><body>hi</body></message>",
                           NULL),
                     "message:full@example.test error service-unavailable\n");
    const char *log;
    ck_assert_str_eq(ask(&f, "example.test", "example.test/admin", &log), "service-unavailable");
    ck_assert_str_eq(log, "");
    fx_close(&f);
}
END_TEST

START_TEST(an_iq_to_an_accounts_bare_jid_is_answered_by_the_server_for_it)
{
    fixture_t f;
    fx_open(&f);
    const char *log;
    /* An account that exists, online or not: the host's hooks for it. */
    ck_assert_str_eq(ask(&f, "alice@example.test", "bob@example.test", &log),
                     "service-unavailable");
    ck_assert_str_eq(log, "iq:bare@example.test get\n");
    f.rec.claim = "iq:bare";
    ck_assert_str_eq(ask(&f, "alice@example.test", "bob@example.test", &log), "");
    /* No such account, or a disabled one: refused before any hook. */
    ck_assert_str_eq(ask(&f, "alice@example.test", "nobody@example.test", &log),
                     "service-unavailable");
    ck_assert_str_eq(log, "");
    ck_assert_str_eq(ask(&f, "alice@example.test", "dave@example.test", &log),
                     "service-unavailable");
    ck_assert_str_eq(log, "");
    /* A full JID with no session: refused, no hook. */
    ck_assert_str_eq(ask(&f, "alice@example.test", "bob@example.test/gone", &log),
                     "service-unavailable");
    ck_assert_str_eq(log, "");
    fx_close(&f);
}
END_TEST

#define CHAT_TO(to)                                                                                \
    "<message from='alice@example.test/desk' to='" to "' type='chat'><body>hi</body></message>"

START_TEST(a_message_to_an_offline_account_goes_to_the_undelivered_hooks_or_bounces)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_str_eq(route(&f, CHAT_TO("carol@other.test"), NULL),
                     "message:bare@other.test chat\n"
                     "undelivered@other.test chat\n"
                     "message:full@example.test error service-unavailable\n");
    /* A chat to a resource that is not there goes to the account. */
    ck_assert_str_eq(route(&f, CHAT_TO("carol@other.test/phone"), NULL),
                     "message:full@other.test chat\n"
                     "undelivered@other.test chat\n"
                     "message:full@example.test error service-unavailable\n");
    /* Kept by an undelivered hook (the offline store): no bounce. */
    f.rec.claim = "undelivered";
    ck_assert_str_eq(route(&f, CHAT_TO("carol@other.test"), NULL), "message:bare@other.test chat\n"
                                                                   "undelivered@other.test chat\n");
    /* Consumed by a message hook (blocking, say): nothing more. */
    f.rec.claim = "message:bare";
    ck_assert_str_eq(route(&f, CHAT_TO("carol@other.test"), NULL),
                     "message:bare@other.test chat\n");
    fx_close(&f);
}
END_TEST

START_TEST(a_message_to_a_missing_or_disabled_account_bounces)
{
    fixture_t f;
    fx_open(&f);
    /* The account's message hooks still see it first. */
    ck_assert_str_eq(route(&f, CHAT_TO("nobody@other.test"), NULL),
                     "message:bare@other.test chat\n"
                     "message:full@example.test error service-unavailable\n");
    f.rec.claim = "undelivered"; /* never asked: there is no account */
    ck_assert_str_eq(route(&f, CHAT_TO("dave@example.test"), NULL),
                     "message:bare@example.test chat sid=dave@example.test\n"
                     "message:full@example.test error service-unavailable\n");
    fx_close(&f);
}
END_TEST

START_TEST(an_error_is_never_answered_with_an_error)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='x@remote.test' "
                           "type='error'><body>hi</body></message>",
                           NULL),
                     "");
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='nobody@other.test' "
                           "type='error'/>",
                           NULL),
                     "message:bare@other.test error\n");
    ck_assert_str_eq(route(&f,
                           "<iq from='alice@example.test/desk' to='bot.example.test' "
                           "type='error' id='e'/>",
                           NULL),
                     "");
    fx_close(&f);
}
END_TEST

START_TEST(a_headline_to_an_offline_account_is_dropped_unless_hinted_store)
{
    fixture_t f;
    fx_open(&f);
    const char *plain = "<message from='alice@example.test/desk' to='carol@other.test' "
                        "type='headline'><body>news</body></message>";
    const char *hinted = "<message from='alice@example.test/desk' to='carol@other.test' "
                         "type='headline'><body>news</body>"
                         "<store xmlns='urn:xmpp:hints'/></message>";
    ck_assert_str_eq(route(&f, plain, NULL), "message:bare@other.test headline\n");
    /* Offered to the offline store, and dropped quietly when not kept. */
    ck_assert_str_eq(route(&f, hinted, NULL), "message:bare@other.test headline\n"
                                              "undelivered@other.test headline\n");
    fx_close(&f);
}
END_TEST

START_TEST(policy_hooks_of_the_senders_host_see_what_its_sessions_send)
{
    fixture_t f;
    fx_open(&f);
    pl_session_t *carol = fake_session(&pl_c2s_ops, NULL);
    const char *to_bob = "<message from='carol@other.test/x' to='bob@example.test' "
                         "type='chat'><body>hi</body></message>";
    /* The sender's tenant (other.test), not the recipient's. */
    ck_assert_str_eq(route(&f, to_bob, carol),
                     "pre-route@other.test chat\n"
                     "message:bare@example.test chat sid=bob@example.test\n"
                     "undelivered@example.test chat sid=bob@example.test\n"
                     "message:full@other.test error service-unavailable\n");
    /* What the server routes itself (no session) skips them. */
    ck_assert_str_eq(route(&f, to_bob, NULL),
                     "message:bare@example.test chat sid=bob@example.test\n"
                     "undelivered@example.test chat sid=bob@example.test\n"
                     "message:full@other.test error service-unavailable\n");
    /* A policy hook that claims the stanza stops it there. */
    f.rec.claim = "pre-route";
    ck_assert_str_eq(route(&f, to_bob, carol), "pre-route@other.test chat\n");
    free(carol);
    fx_close(&f);
}
END_TEST

START_TEST(a_components_stanzas_meet_the_policy_hooks_of_its_tenant)
{
    fixture_t f;
    fx_open(&f);
    pl_component_t *bot = pl_map_get(&f.srv->components, "bot.example.test");
    ck_assert_ptr_nonnull(bot);
    pl_session_t *s = fake_session(&pl_component_ops, bot);
    f.rec.claim = "undelivered";
    ck_assert_str_eq(route(&f,
                           "<message from='news@bot.example.test' to='carol@other.test' "
                           "type='chat'><body>hi</body></message>",
                           s),
                     "pre-route@example.test chat\n"
                     "message:bare@other.test chat\n"
                     "undelivered@other.test chat\n");
    free(s);
    fx_close(&f);
}
END_TEST

/* The id of the stanza-id `by` put on the last message a hook saw. */
static const char *stanza_id_of(fixture_t *f, const char *by)
{
    for (const pl_xml_t *c = pl_xml_child(pl_stanza_root(f->rec.last), "stanza-id", PL_NS_SID); c;
         c = pl_xml_next(c, "stanza-id", PL_NS_SID))
        if (strcmp(pl_xml_attr(c, "by"), by) == 0)
            return pl_xml_attr(c, "id");
    return NULL;
}

START_TEST(a_message_to_an_account_carries_one_stanza_id_of_its_own)
{
    fixture_t f;
    fx_open(&f);
    pl_session_t *alice = fake_session(&pl_c2s_ops, NULL);
    f.rec.claim = "message:bare";
    /* On a host whose modules ask for them: one, by the recipient's bare
     * JID, a fresh server id; one the sender wrote under that name is a
     * forgery and goes; one by someone else stays. */
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='bob@example.test' "
                           "type='chat'><body>hi</body>"
                           "<stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.test' id='forged'/>"
                           "<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.test' id='theirs'/>"
                           "</message>",
                           alice),
                     "pre-route@example.test chat sid=bob@example.test sid=room@muc.test\n"
                     "message:bare@example.test chat sid=room@muc.test sid=bob@example.test\n");
    const char *id = stanza_id_of(&f, "bob@example.test");
    ck_assert_str_ne(id, "forged");
    ck_assert_uint_eq(strlen(id), PL_ID_SIZE - 1);
    ck_assert_uint_gt(pl_id_value(id), 0);
    ck_assert_str_eq(stanza_id_of(&f, "room@muc.test"), "theirs");
    /* Each message its own id. */
    char first[PL_ID_SIZE];
    snprintf(first, sizeof(first), "%s", id);
    route(&f, CHAT_TO("bob@example.test"), alice);
    ck_assert_str_gt(stanza_id_of(&f, "bob@example.test"), first);
    /* A message the server routes again with its id keeps it. */
    route(&f,
          "<message from='alice@example.test/desk' to='bob@example.test' type='chat'>"
          "<body>again</body>"
          "<stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.test' id='0000000000042'/></message>",
          NULL);
    ck_assert_str_eq(stanza_id_of(&f, "bob@example.test"), "0000000000042");
    /* Not on errors and groupchat messages, nor on a host whose modules
     * do not ask. */
    f.rec.claim = NULL;
    ck_assert_str_eq(route(&f,
                           "<message from='alice@example.test/desk' to='bob@example.test' "
                           "type='groupchat'><body>hi</body></message>",
                           NULL),
                     "message:bare@example.test groupchat\n"
                     "message:full@example.test error service-unavailable\n");
    ck_assert_str_eq(route(&f, CHAT_TO("carol@other.test"), NULL),
                     "message:bare@other.test chat\n"
                     "undelivered@other.test chat\n"
                     "message:full@example.test error service-unavailable\n");
    free(alice);
    fx_close(&f);
}
END_TEST

/* Notifies like a group service would; the hooks' log. */
static const char *notify(fixture_t *f, const char *xml, unsigned flags)
{
    pl_buf_reset(&f->rec.log);
    pl_stanza_t *st = ut_parse(xml);
    pl_notify(f->srv, st, flags);
    pl_stanza_unref(&st);
    return pl_buf_cstr(&f->rec.log);
}

#define GROUP_TO(to)                                                                               \
    "<message from='room@rooms.example.test/ann' to='" to "' type='groupchat'>"                    \
    "<body>hi</body></message>"

START_TEST(a_notification_reaches_the_notify_hooks_of_the_addressees_host_alone)
{
    fixture_t f;
    fx_open(&f);
    /* Every NOTIFY observer of the addressee's host runs, in priority
     * order, with the flags; a PL_DONE stops nothing; nothing else runs
     * (no message hook, no undelivered hook: nothing is delivered or
     * stored). */
    f.rec.claim = "notify:first";
    ck_assert_str_eq(notify(&f, GROUP_TO("bob@example.test"), PL_NOTIFY_PUSH | PL_NOTIFY_MENTION),
                     "notify:first flags=3 from=room@rooms.example.test/ann to=bob@example.test "
                     "notify:first@example.test groupchat\n"
                     "notify:second flags=3 from=room@rooms.example.test/ann to=bob@example.test "
                     "notify:second@example.test groupchat\n");
    f.rec.claim = NULL;
    ck_assert_str_eq(notify(&f, GROUP_TO("carol@other.test"), 0),
                     "notify:first flags=0 from=room@rooms.example.test/ann to=carol@other.test "
                     "notify:first@other.test groupchat\n"
                     "notify:second flags=0 from=room@rooms.example.test/ann to=carol@other.test "
                     "notify:second@other.test groupchat\n");
    /* Only an existing, enabled local account's bare JID. */
    ck_assert_str_eq(notify(&f, GROUP_TO("nobody@example.test"), PL_NOTIFY_PUSH), "");
    ck_assert_str_eq(notify(&f, GROUP_TO("dave@example.test"), PL_NOTIFY_PUSH), "");
    ck_assert_str_eq(notify(&f, GROUP_TO("bob@example.test/desk"), PL_NOTIFY_PUSH), "");
    ck_assert_str_eq(notify(&f, GROUP_TO("example.test"), PL_NOTIFY_PUSH), "");
    ck_assert_str_eq(notify(&f, GROUP_TO("bob@remote.test"), PL_NOTIFY_PUSH), "");
    ck_assert_str_eq(notify(&f, "<message to='bob@example.test'><body>x</body></message>", 0), "");
    ck_assert_int_eq(pl_notify_wanted(f.srv, "example.test"), 1);
    ck_assert_int_eq(pl_notify_wanted(f.srv, "remote.test"), 0);
    ck_assert_int_eq(pl_notify_wanted(f.srv, "rooms.example.test"), 0);
    fx_close(&f);
}
END_TEST

/* Notifies a batch like a group service would; the hooks' log. */
static const char *notify_many(fixture_t *f, const char *const *xml, const unsigned *flags,
                               size_t n)
{
    pl_buf_reset(&f->rec.log);
    /* One message (they differ only in 'to'), for each one's addressee. */
    pl_stanza_t *st[8];
    const char *to[8];
    for (size_t i = 0; i < n; i++) {
        st[i] = ut_parse(xml[i]);
        to[i] = pl_stanza_attr(st[i], "to");
    }
    pl_notify_many(f->srv, n ? st[0] : NULL, to, flags, n);
    for (size_t i = 0; i < n; i++)
        pl_stanza_unref(&st[i]);
    return pl_buf_cstr(&f->rec.log);
}

START_TEST(a_batch_of_notifications_ends_once_per_host_for_each_hook)
{
    fixture_t f;
    fx_open(&f);
    f.rec.batches = 1;
    /* Every hook for every addressee, in order, each with its flags; a
     * missing account gets nothing and counts for nothing; then the end of
     * the batch, once, with what the hook kept in its slot. */
    const char *members[] = {GROUP_TO("bob@example.test"), GROUP_TO("nobody@example.test"),
                             GROUP_TO("alice@example.test")};
    const unsigned fl[] = {PL_NOTIFY_MENTION, PL_NOTIFY_PUSH, 0};
    ck_assert_str_eq(notify_many(&f, members, fl, 3),
                     "notify:first flags=2 from=room@rooms.example.test/ann to=bob@example.test "
                     "notify:first@example.test groupchat\n"
                     "notify:second flags=2 from=room@rooms.example.test/ann to=bob@example.test "
                     "notify:second@example.test groupchat\n"
                     "notify:first flags=0 from=room@rooms.example.test/ann to=alice@example.test "
                     "notify:first@example.test groupchat\n"
                     "notify:second flags=0 from=room@rooms.example.test/ann to=alice@example.test "
                     "notify:second@example.test groupchat\n"
                     "batch-end@example.test n=2\n");
    /* Another host in between ends the batch of the first. */
    const char *hosts[] = {GROUP_TO("bob@example.test"), GROUP_TO("carol@other.test"),
                           GROUP_TO("alice@example.test")};
    const unsigned none_flags[] = {0, 0, 0};
    const char *log = notify_many(&f, hosts, none_flags, 3);
    const char *end1 = strstr(log, "batch-end@example.test n=1\n");
    const char *carol = strstr(log, "to=carol@other.test");
    const char *end2 = strstr(log, "batch-end@other.test n=1\n");
    const char *alice = strstr(log, "to=alice@example.test");
    ck_assert(end1 && carol && end2 && alice);
    ck_assert(end1 < carol && carol < end2 && end2 < alice);
    ck_assert_str_eq(strstr(alice, "batch-end@"), "batch-end@example.test n=1\n");
    /* pl_notify is a batch of one; a batch nobody is told of has no end. */
    ck_assert_str_eq(notify(&f, GROUP_TO("bob@example.test"), PL_NOTIFY_PUSH),
                     "notify:first flags=1 from=room@rooms.example.test/ann to=bob@example.test "
                     "notify:first@example.test groupchat\n"
                     "notify:second flags=1 from=room@rooms.example.test/ann to=bob@example.test "
                     "notify:second@example.test groupchat\n"
                     "batch-end@example.test n=1\n");
    const char *nobody[] = {GROUP_TO("nobody@example.test"), GROUP_TO("bob@remote.test")};
    ck_assert_str_eq(notify_many(&f, nobody, none_flags, 2), "");
    ck_assert_str_eq(notify_many(&f, nobody, none_flags, 0), "");
    fx_close(&f);
}
END_TEST

Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, message_to_bare_reaches_all_nonnegative);
    tcase_add_test(tc, negative_priority_is_skipped_for_bare_but_not_full);
    tcase_add_test(tc, only_negative_or_unavailable_means_undelivered);
    tcase_add_test(tc, a_stanza_to_an_unknown_resource_falls_back_or_bounces_by_kind);
    tcase_add_test(tc, full_jid_reaches_only_that_resource);
    tcase_add_test(tc, iq_to_bare_is_for_the_server);
    tcase_add_test(tc, a_stanza_to_a_nonexistent_account_bounces_or_is_dropped);
    tcase_add_test(tc, groupchat_to_an_account_is_refused);
    tcase_add_test(tc, presence_to_bare_reaches_available_whatever_priority);
    tcase_add_test(tc, ids_increase_and_sort_as_strings);
    suite_add_tcase(s, tc);
    tc = tcase_create("decisions");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, a_stanza_for_a_component_domain_bounces_while_the_component_is_away);
    tcase_add_test(tc, a_modules_service_domain_reaches_its_own_service_hooks_alone);
    tcase_add_test(tc, a_service_domain_is_refused_where_something_already_answers_for_it);
    tcase_add_test(tc, a_stanza_for_a_domain_not_served_here_bounces_remote_server_not_found);
    tcase_add_test(tc, the_host_answers_through_its_hooks_and_refuses_unclaimed_requests);
    tcase_add_test(tc, a_stanza_without_to_is_for_the_host_and_the_sender_itself);
    tcase_add_test(tc, a_resource_of_the_host_itself_does_not_exist);
    tcase_add_test(tc, an_iq_to_an_accounts_bare_jid_is_answered_by_the_server_for_it);
    tcase_add_test(tc, a_message_to_an_offline_account_goes_to_the_undelivered_hooks_or_bounces);
    tcase_add_test(tc, a_message_to_a_missing_or_disabled_account_bounces);
    tcase_add_test(tc, an_error_is_never_answered_with_an_error);
    tcase_add_test(tc, a_headline_to_an_offline_account_is_dropped_unless_hinted_store);
    tcase_add_test(tc, policy_hooks_of_the_senders_host_see_what_its_sessions_send);
    tcase_add_test(tc, a_components_stanzas_meet_the_policy_hooks_of_its_tenant);
    tcase_add_test(tc, a_message_to_an_account_carries_one_stanza_id_of_its_own);
    tcase_add_test(tc, a_notification_reaches_the_notify_hooks_of_the_addressees_host_alone);
    tcase_add_test(tc, a_batch_of_notifications_ends_once_per_host_for_each_hook);
    suite_add_tcase(s, tc);
    return s;
}
