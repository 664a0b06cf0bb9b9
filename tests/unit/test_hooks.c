/* test_hooks.c — which module hooks a stanza reaches (core/hooks.c): by
 * event, by target (host, bare, full, the sender's own JID), by payload
 * namespace and element, by type; in priority order across modules; and a
 * claim that stops the rest.  Hooks run through pl_hooks_run on hosts built
 * from a configuration, as the router runs them. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

#define NS_PING "urn:test:ping"
#define NS_X "urn:test:x"

/* What the handlers saw: one letter per handler that ran, in order. */
typedef struct seen {
    char order[32];
    char claim;            /* the handler that returns PL_DONE, or 0 */
    char payload[32];      /* the payload name the last handler got, "-" for none */
    char type[16], id[16]; /* hc->type and hc->id of the last call */
    const char *module;    /* the module of the last call */
    const pl_jid_t *from, *to;
} seen_t;

static pl_hook_result_t note(pl_hook_ctx_t *hc, char letter)
{
    seen_t *s = pl_module_data(hc->module);
    size_t n = strlen(s->order);
    ck_assert_uint_lt(n, sizeof(s->order) - 1);
    s->order[n] = letter;
    snprintf(s->payload, sizeof(s->payload), "%s", hc->payload ? hc->payload->name : "-");
    snprintf(s->type, sizeof(s->type), "%s", hc->type);
    snprintf(s->id, sizeof(s->id), "%s", hc->id);
    s->module = pl_module_name(hc->module);
    s->from = hc->from;
    s->to = hc->to;
    return s->claim == letter ? PL_DONE : PL_PASS;
}

/* One handler per hook, so the order shows which hooks ran. */
static pl_hook_result_t hook_a(pl_hook_ctx_t *hc)
{
    return note(hc, 'a');
}
static pl_hook_result_t hook_b(pl_hook_ctx_t *hc)
{
    return note(hc, 'b');
}
static pl_hook_result_t hook_c(pl_hook_ctx_t *hc)
{
    return note(hc, 'c');
}
static pl_hook_result_t hook_d(pl_hook_ctx_t *hc)
{
    return note(hc, 'd');
}
static pl_hook_result_t hook_e(pl_hook_ctx_t *hc)
{
    return note(hc, 'e');
}
static pl_hook_result_t hook_f(pl_hook_ctx_t *hc)
{
    return note(hc, 'f');
}
static pl_hook_result_t hook_g(pl_hook_ctx_t *hc)
{
    return note(hc, 'g');
}
static pl_hook_result_t hook_h(pl_hook_ctx_t *hc)
{
    return note(hc, 'h');
}
static pl_hook_result_t hook_i(pl_hook_ctx_t *hc)
{
    return note(hc, 'i');
}
static pl_hook_result_t hook_j(pl_hook_ctx_t *hc)
{
    return note(hc, 'j');
}
static pl_hook_result_t hook_k(pl_hook_ctx_t *hc)
{
    return note(hc, 'k');
}

/* Listed out of priority order on purpose: the core sorts them. */
static const pl_hook_def_t one_hooks[] = {
    /* IQ: ping get to the host; ping-namespace anything to an account;
     * any payload at all, last. */
    {.event = PL_EV_IQ, .targets = PL_TO_ANY, .priority = PL_PRIO_FALLBACK, .handler = hook_c},
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST,
     .ns = NS_PING,
     .element = "ping",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = hook_a},
    {.event = PL_EV_IQ,
     .targets = PL_TO_BARE | PL_TO_FULL,
     .ns = NS_PING,
     .priority = PL_PRIO_HANDLER + 1,
     .handler = hook_b},
    /* Messages: any child in NS_X, last; chat only; a full JID only, as
     * an observer; an <x/> in NS_X, first. */
    {.event = PL_EV_MESSAGE, .ns = NS_X, .priority = PL_PRIO_FALLBACK, .handler = hook_g},
    {.event = PL_EV_MESSAGE, .type = "chat", .priority = PL_PRIO_HANDLER, .handler = hook_e},
    {.event = PL_EV_MESSAGE,
     .targets = PL_TO_FULL,
     .priority = PL_PRIO_OBSERVER,
     .handler = hook_f},
    {.event = PL_EV_MESSAGE,
     .ns = NS_X,
     .element = "x",
     .priority = PL_PRIO_FILTER,
     .handler = hook_d},
    /* Presence for the sender's own JID. */
    {.event = PL_EV_PRESENCE,
     .targets = PL_TO_SELF,
     .priority = PL_PRIO_HANDLER,
     .handler = hook_h},
    /* A session event: its filters mean nothing there. */
    {.event = PL_EV_SESSION_BOUND,
     .ns = "urn:test:never",
     .type = "never",
     .targets = PL_TO_HOST,
     .priority = PL_PRIO_OBSERVER,
     .handler = hook_i},
    {0},
};

/* A second module whose hooks fall between the first one's. */
static const pl_hook_def_t two_hooks[] = {
    {.event = PL_EV_MESSAGE, .priority = 700, .handler = hook_j},
    {.event = PL_EV_IQ, .ns = NS_PING, .priority = PL_PRIO_FILTER, .handler = hook_k},
    {0},
};

static const pl_module_desc_t mod_one = {.name = "one", .abi = PL_MODULE_ABI, .hooks = one_hooks};
static const pl_module_desc_t mod_two = {.name = "two", .abi = PL_MODULE_ABI, .hooks = two_hooks};
static const pl_module_desc_t *const registry[] = {&mod_one, &mod_two};

/* a.test: module one; b.test: one and two; c.test: none. */
#define HOSTS                                                                                      \
    "hosts = ( { name = \"a.test\"; modules = { one = {}; }; },\n"                                 \
    "          { name = \"b.test\"; modules = { two = {}; one = {}; }; },\n"                       \
    "          { name = \"c.test\"; } );"

typedef struct fixture {
    pl_server_t *srv;
    seen_t seen;
    pl_jid_t from, to;
} fixture_t;

static void fx_open(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    f->srv = ut_server_new(HOSTS, registry, 2, NULL);
    for (size_t i = 0; i < f->srv->nhosts; i++)
        for (size_t m = 0; m < f->srv->hosts[i]->nmods; m++)
            pl_module_set_data(&f->srv->hosts[i]->mods[m], &f->seen);
}

static void fx_close(fixture_t *f)
{
    pl_jid_deinit(&f->from);
    pl_jid_deinit(&f->to);
    ut_server_free(&f->srv);
}

/* Runs the hooks of `ev` on `host` for `xml` sent by alice@a.test/desk to
 * `to`, under the target bits `target`; returns the handlers that ran. */
static const char *run(fixture_t *f, const char *host, pl_event_t ev, const char *to,
                       unsigned target, const char *xml, pl_hook_result_t want)
{
    memset(f->seen.order, 0, sizeof(f->seen.order));
    pl_jid_deinit(&f->from);
    pl_jid_deinit(&f->to);
    ck_assert_int_eq(pl_jid_parse(&f->from, "alice@a.test/desk"), 0);
    ck_assert_int_eq(pl_jid_parse(&f->to, to), 0);
    pl_stanza_t *st = ut_parse(xml);
    pl_hook_result_t r =
        pl_hooks_run(pl_server_host(f->srv, host), ev, st, &f->from, &f->to, NULL, target);
    pl_stanza_unref(&st);
    ck_assert_msg(r == want, "%s: %s, hooks ran: '%s'", xml, r == PL_DONE ? "claimed" : "passed",
                  f->seen.order);
    return f->seen.order;
}

#define PING_GET "<iq type='get' id='p1'><ping xmlns='" NS_PING "'/></iq>"

START_TEST(an_iq_reaches_the_hooks_of_its_payload_type_and_target)
{
    fixture_t f;
    fx_open(&f);
    /* To the host: the ping-get hook, then the catch-all. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST, PING_GET, PL_PASS), "ac");
    /* The same payload to an account: the account's ping hook instead. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "bob@a.test", PL_TO_BARE, PING_GET, PL_PASS),
                     "bc");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "bob@a.test/x", PL_TO_FULL, PING_GET, PL_PASS),
                     "bc");
    /* A set is not a get; another element is not <ping/>; another
     * namespace is not NS_PING. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST,
                         "<iq type='set' id='p'><ping xmlns='" NS_PING "'/></iq>", PL_PASS),
                     "c");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST,
                         "<iq type='get' id='p'><pong xmlns='" NS_PING "'/></iq>", PL_PASS),
                     "c");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "bob@a.test", PL_TO_BARE,
                         "<iq type='get' id='p'><ping xmlns='urn:test:other'/></iq>", PL_PASS),
                     "c");
    /* The payload is the IQ's first element, and the handler gets it. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "bob@a.test", PL_TO_BARE,
                         "<iq type='get' id='p'><pong xmlns='urn:test:other'/>"
                         "<ping xmlns='" NS_PING "'/></iq>",
                         PL_PASS),
                     "c");
    ck_assert_str_eq(f.seen.payload, "pong");
    fx_close(&f);
}
END_TEST

START_TEST(only_iq_requests_with_a_payload_reach_iq_hooks)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST,
                         "<iq type='result' id='p'><ping xmlns='" NS_PING "'/></iq>", PL_PASS),
                     "");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST,
                         "<iq type='error' id='p'><ping xmlns='" NS_PING "'/></iq>", PL_PASS),
                     "");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST,
                         "<iq id='p'><ping xmlns='" NS_PING "'/></iq>", PL_PASS),
                     "");
    ck_assert_str_eq(
        run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST, "<iq type='get' id='p'/>", PL_PASS), "");
    fx_close(&f);
}
END_TEST

START_TEST(a_message_reaches_hooks_by_child_namespace_type_and_target)
{
    fixture_t f;
    fx_open(&f);
    const char *chat_x = "<message type='chat'><body>hi</body><x xmlns='" NS_X "'/></message>";
    /* Highest priority first: the <x/> filter, chat, any NS_X child. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_MESSAGE, "bob@a.test", PL_TO_BARE, chat_x, PL_PASS),
                     "deg");
    ck_assert_str_eq(f.seen.payload, "x"); /* the child the NS_X hook matched */
    /* To a full JID the full-JID observer runs too, after the others. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_MESSAGE, "bob@a.test/x", PL_TO_FULL, chat_x, PL_PASS),
                     "degf");
    /* Another element in NS_X: only the hook that names no element. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_MESSAGE, "bob@a.test", PL_TO_BARE,
                         "<message type='chat'><y xmlns='" NS_X "'/></message>", PL_PASS),
                     "eg");
    ck_assert_str_eq(f.seen.payload, "y");
    /* No type is not "chat"; a hook without a namespace gets no payload. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_MESSAGE, "bob@a.test", PL_TO_BARE,
                         "<message><body>hi</body></message>", PL_PASS),
                     "");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_MESSAGE, "bob@a.test/x", PL_TO_FULL,
                         "<message type='chat'><body>hi</body></message>", PL_PASS),
                     "ef");
    ck_assert_str_eq(f.seen.payload, "-");
    fx_close(&f);
}
END_TEST

START_TEST(presence_hooks_for_the_senders_own_jid_see_only_that)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_str_eq(run(&f, "a.test", PL_EV_PRESENCE, "a.test", PL_TO_HOST | PL_TO_SELF,
                         "<presence/>", PL_PASS),
                     "h");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_PRESENCE, "alice@a.test", PL_TO_BARE | PL_TO_SELF,
                         "<presence type='probe'/>", PL_PASS),
                     "h");
    ck_assert_str_eq(
        run(&f, "a.test", PL_EV_PRESENCE, "bob@a.test", PL_TO_BARE, "<presence/>", PL_PASS), "");
    /* Presence never reaches message or IQ hooks. */
    ck_assert_str_eq(run(&f, "a.test", PL_EV_PRESENCE, "bob@a.test/x", PL_TO_FULL,
                         "<presence type='chat'><x xmlns='" NS_X "'/></presence>", PL_PASS),
                     "");
    fx_close(&f);
}
END_TEST

START_TEST(hooks_run_in_priority_order_across_modules_until_one_claims)
{
    fixture_t f;
    fx_open(&f);
    const char *chat_x = "<message type='chat'><x xmlns='" NS_X "'/></message>";
    /* On b.test module two's hook (700) runs between one's filter (1000)
     * and its handler (500), whatever the order the modules are listed. */
    ck_assert_str_eq(run(&f, "b.test", PL_EV_MESSAGE, "bob@b.test", PL_TO_BARE, chat_x, PL_PASS),
                     "djeg");
    ck_assert_str_eq(run(&f, "b.test", PL_EV_IQ, "b.test", PL_TO_HOST, PING_GET, PL_PASS), "kac");
    ck_assert_str_eq(f.seen.module, "one");
    /* A claim stops the chain and is the result. */
    f.seen.claim = 'j';
    ck_assert_str_eq(run(&f, "b.test", PL_EV_MESSAGE, "bob@b.test", PL_TO_BARE, chat_x, PL_DONE),
                     "dj");
    ck_assert_str_eq(f.seen.module, "two");
    f.seen.claim = 'g';
    ck_assert_str_eq(run(&f, "b.test", PL_EV_MESSAGE, "bob@b.test", PL_TO_BARE, chat_x, PL_DONE),
                     "djeg");
    /* A claim by a hook that does not match changes nothing. */
    f.seen.claim = 'f';
    ck_assert_str_eq(run(&f, "b.test", PL_EV_MESSAGE, "bob@b.test", PL_TO_BARE, chat_x, PL_PASS),
                     "djeg");
    /* Module two is not enabled on a.test. */
    f.seen.claim = 0;
    ck_assert_str_eq(run(&f, "a.test", PL_EV_MESSAGE, "bob@a.test", PL_TO_BARE, chat_x, PL_PASS),
                     "deg");
    fx_close(&f);
}
END_TEST

START_TEST(a_handler_gets_the_stanzas_type_id_and_addresses)
{
    fixture_t f;
    fx_open(&f);
    run(&f, "a.test", PL_EV_IQ, "a.test", PL_TO_HOST, PING_GET, PL_PASS);
    ck_assert_str_eq(f.seen.type, "get");
    ck_assert_str_eq(f.seen.id, "p1");
    ck_assert_ptr_eq(f.seen.from, &f.from);
    ck_assert_ptr_eq(f.seen.to, &f.to);
    /* Absent attributes are empty strings, never NULL. */
    run(&f, "a.test", PL_EV_MESSAGE, "bob@a.test/x", PL_TO_FULL, "<message/>", PL_PASS);
    ck_assert_str_eq(f.seen.order, "f");
    ck_assert_str_eq(f.seen.type, "");
    ck_assert_str_eq(f.seen.id, "");
    fx_close(&f);
}
END_TEST

START_TEST(a_host_without_hooks_for_an_event_passes_everything)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_str_eq(run(&f, "c.test", PL_EV_IQ, "c.test", PL_TO_HOST, PING_GET, PL_PASS), "");
    ck_assert_str_eq(run(&f, "a.test", PL_EV_UNDELIVERED, "bob@a.test", PL_TO_BARE,
                         "<message type='chat'><x xmlns='" NS_X "'/></message>", PL_PASS),
                     "");
    /* No host at all (a domain that is not served). */
    ck_assert_str_eq(
        run(&f, "nowhere.test", PL_EV_IQ, "nowhere.test", PL_TO_HOST, PING_GET, PL_PASS), "");
    fx_close(&f);
}
END_TEST

START_TEST(session_events_reach_every_hook_of_the_event_whatever_its_filters)
{
    fixture_t f;
    fx_open(&f);
    pl_session_t *s = calloc(1, sizeof(*s));
    ck_assert_int_eq(pl_jid_parse(&s->jid, "alice@a.test/desk"), 0);
    pl_hooks_session_event(pl_server_host(f.srv, "a.test"), PL_EV_SESSION_BOUND, s);
    ck_assert_str_eq(f.seen.order, "i");
    ck_assert_ptr_eq(f.seen.from, &s->jid);
    ck_assert_ptr_eq(f.seen.to, &s->jid);
    ck_assert_str_eq(f.seen.payload, "-");
    /* No hook for the other session event. */
    pl_hooks_session_event(pl_server_host(f.srv, "a.test"), PL_EV_SESSION_CLOSED, s);
    ck_assert_str_eq(f.seen.order, "i");
    pl_jid_deinit(&s->jid);
    free(s);
    fx_close(&f);
}
END_TEST

Suite *hooks_suite(void)
{
    Suite *s = suite_create("hooks");
    TCase *tc = tcase_create("matching");
    tcase_add_test(tc, an_iq_reaches_the_hooks_of_its_payload_type_and_target);
    tcase_add_test(tc, only_iq_requests_with_a_payload_reach_iq_hooks);
    tcase_add_test(tc, a_message_reaches_hooks_by_child_namespace_type_and_target);
    tcase_add_test(tc, presence_hooks_for_the_senders_own_jid_see_only_that);
    tcase_add_test(tc, hooks_run_in_priority_order_across_modules_until_one_claims);
    tcase_add_test(tc, a_handler_gets_the_stanzas_type_id_and_addresses);
    tcase_add_test(tc, a_host_without_hooks_for_an_event_passes_everything);
    tcase_add_test(tc, session_events_reach_every_hook_of_the_event_whatever_its_filters);
    suite_add_tcase(s, tc);
    return s;
}
