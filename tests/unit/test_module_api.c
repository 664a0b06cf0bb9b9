/* test_module_api.c — what the core promises a module about its place on a
 * host: its hooks run in one fixed order (priority, then the module's place
 * on the host, then the hook's place in its descriptor), and the session
 * flags it reserves are bits no other module on the host has. */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/module-conf.h"
#include "tests/unit/suites.h"

/* ---- hooks that say who ran ---- */

/* The order handlers ran in, one letter each; reached through every
 * module's data pointer, which the tests set. */
typedef struct trail {
    char ran[32];
    size_t n;
} trail_t;

static pl_hook_result_t ran(pl_hook_ctx_t *hc, char letter)
{
    trail_t *t = pl_module_data(hc->module);
    if (t->n + 1 < sizeof(t->ran))
        t->ran[t->n++] = letter;
    return PL_PASS;
}

static pl_hook_result_t hook_a(pl_hook_ctx_t *hc)
{
    return ran(hc, 'a');
}
static pl_hook_result_t hook_b(pl_hook_ctx_t *hc)
{
    return ran(hc, 'b');
}
static pl_hook_result_t hook_c(pl_hook_ctx_t *hc)
{
    return ran(hc, 'c');
}
static pl_hook_result_t hook_d(pl_hook_ctx_t *hc)
{
    return ran(hc, 'd');
}
static pl_hook_result_t hook_e(pl_hook_ctx_t *hc)
{
    return ran(hc, 'e');
}
static pl_hook_result_t hook_f(pl_hook_ctx_t *hc)
{
    return ran(hc, 'f');
}
static pl_hook_result_t hook_g(pl_hook_ctx_t *hc)
{
    return ran(hc, 'g');
}

/* Three modules' message hooks at three priorities.  Enabled in the order
 * first, second, third, they run: g (the only filter), then the handlers
 * a b (first's, in its order), c d (second's), e (third's), then the
 * observer f. */
static const pl_hook_def_t first_hooks[] = {
    {.event = PL_EV_MESSAGE, .priority = PL_PRIO_HANDLER, .handler = hook_a},
    {.event = PL_EV_MESSAGE, .priority = PL_PRIO_HANDLER, .handler = hook_b},
    {.event = PL_EV_MESSAGE, .priority = PL_PRIO_OBSERVER, .handler = hook_f},
    {.handler = NULL},
};
static const pl_hook_def_t second_hooks[] = {
    {.event = PL_EV_MESSAGE, .priority = PL_PRIO_HANDLER, .handler = hook_c},
    {.event = PL_EV_MESSAGE, .priority = PL_PRIO_HANDLER, .handler = hook_d},
    {.handler = NULL},
};
static const pl_hook_def_t third_hooks[] = {
    {.event = PL_EV_MESSAGE, .priority = PL_PRIO_FILTER, .handler = hook_g},
    {.event = PL_EV_MESSAGE, .priority = PL_PRIO_HANDLER, .handler = hook_e},
    {.handler = NULL},
};

#define FAKE(id, ...) static const pl_module_desc_t id = {.abi = PL_MODULE_ABI, __VA_ARGS__}
FAKE(m_first, .name = "first", .hooks = first_hooks);
FAKE(m_second, .name = "second", .hooks = second_hooks);
FAKE(m_third, .name = "third", .hooks = third_hooks);
FAKE(m_one_flag, .name = "one_flag", .session_flags = 1);
FAKE(m_two_flags, .name = "two_flags", .session_flags = 2);
FAKE(m_most_flags, .name = "most_flags", .session_flags = 21);
FAKE(m_too_many, .name = "too_many", .session_flags = 25);
#undef FAKE

static const pl_module_desc_t *const registry[] = {
    &m_first, &m_second, &m_third, &m_one_flag, &m_two_flags, &m_most_flags, &m_too_many,
};

#define HEAD                                                                                       \
    "tls = { cert = \"c.pem\"; key = \"k.pem\"; };\n"                                              \
    "listen = ( { type = \"c2s\"; port = 5222; } );\n"

/* A server with the configured hosts and their modules created (not
 * started: nothing here needs storage or loops).  NULL, with the error in
 * *error, when the hosts cannot be created. */
static pl_server_t *server_with(const char *hosts, char **error)
{
    char text[2048];
    snprintf(text, sizeof(text), "%shosts = ( %s );\n", HEAD, hosts);
    char *err = NULL;
    pl_config_t *c = pl_config_load_string_modules(text, "t.cfg", registry,
                                                   sizeof(registry) / sizeof(registry[0]), &err);
    ck_assert_msg(c != NULL, "%s", err ? err : "");
    pl_server_t *srv = pl_server_new(c, registry, sizeof(registry) / sizeof(registry[0]));
    if (pl_hosts_create(srv, error) != 0) {
        pl_hosts_stop(srv);
        pl_server_free(&srv);
        return NULL;
    }
    return srv;
}

static void server_free(pl_server_t **srvp)
{
    pl_hosts_stop(*srvp);
    pl_server_free(srvp);
}

static pl_module_ctx_t *module_on(pl_server_t *srv, const char *host, const char *name)
{
    pl_host_t *h = pl_server_host(srv, host);
    ck_assert_ptr_nonnull(h);
    for (size_t m = 0; m < h->nmods; m++)
        if (strcmp(h->mods[m].desc->name, name) == 0)
            return &h->mods[m];
    ck_abort_msg("module %s is not on %s", name, host);
    return NULL;
}

/* ---- hook order ---- */

/* The sort is given the hooks in many scrambled orders and must always
 * return the one order: with a comparison that looked at the priority
 * only, equal priorities would keep whatever order they came in (a stable
 * sort) or any order at all (qsort). */
START_TEST(equal_priorities_run_in_module_then_descriptor_order_whatever_the_input)
{
    const pl_hook_entry_t in_order[] = {
        {.def = &third_hooks[0], .module = 2, .index = 0},  /* g */
        {.def = &first_hooks[0], .module = 0, .index = 0},  /* a */
        {.def = &first_hooks[1], .module = 0, .index = 1},  /* b */
        {.def = &second_hooks[0], .module = 1, .index = 0}, /* c */
        {.def = &second_hooks[1], .module = 1, .index = 1}, /* d */
        {.def = &third_hooks[1], .module = 2, .index = 1},  /* e */
        {.def = &first_hooks[2], .module = 0, .index = 2},  /* f */
    };
    enum { N = sizeof(in_order) / sizeof(in_order[0]) };
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        pl_hook_entry_t e[N];
        memcpy(e, in_order, sizeof(e));
        if (round == 0) {
            for (size_t i = 0; i < N / 2; i++) { /* reversed */
                pl_hook_entry_t t = e[i];
                e[i] = e[N - 1 - i];
                e[N - 1 - i] = t;
            }
        } else {
            for (size_t i = N - 1; i > 0; i--) { /* a reproducible shuffle */
                seed = seed * 1103515245u + 12345u;
                size_t j = (seed >> 16) % (i + 1);
                pl_hook_entry_t t = e[i];
                e[i] = e[j];
                e[j] = t;
            }
        }
        pl_hooks_sort(e, N);
        for (size_t i = 0; i < N; i++)
            ck_assert_msg(e[i].def == in_order[i].def,
                          "round %d: position %zu holds module %zu hook %zu, wanted module %zu "
                          "hook %zu",
                          round, i, e[i].module, e[i].index, in_order[i].module, in_order[i].index);
    }
}
END_TEST

/* The same order end to end: modules enabled on a host, a message run
 * through its hooks. */
START_TEST(a_host_runs_hooks_by_priority_then_module_then_descriptor)
{
    char *error = NULL;
    pl_server_t *srv = server_with("{ name = \"demo.local\";\n"
                                   "  modules = { first = {}; second = {}; third = {}; }; }",
                                   &error);
    ck_assert_msg(srv != NULL, "%s", error ? error : "");
    pl_host_t *h = pl_server_host(srv, "demo.local");
    trail_t trail = {.n = 0};
    for (size_t m = 0; m < h->nmods; m++)
        pl_module_set_data(&h->mods[m], &trail);
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", "alice@demo.local/phone");
    pl_build_attr(b, "to", "bob@demo.local");
    pl_stanza_t *st = pl_build_finish(b);
    pl_jid_t from, to;
    ck_assert_int_eq(pl_jid_parse(&from, "alice@demo.local/phone"), 0);
    ck_assert_int_eq(pl_jid_parse(&to, "bob@demo.local"), 0);
    ck_assert_int_eq(pl_hooks_run(h, PL_EV_MESSAGE, st, &from, &to, NULL, PL_TO_BARE), PL_PASS);
    ck_assert_str_eq(trail.ran, "gabcdef");
    pl_jid_deinit(&from);
    pl_jid_deinit(&to);
    pl_stanza_unref(&st);
    server_free(&srv);
}
END_TEST

/* ---- session flags ---- */

START_TEST(modules_get_session_flags_of_their_own_above_the_core_marks)
{
    char *error = NULL;
    pl_server_t *srv = server_with(
        "{ name = \"a.test\"; modules = { one_flag = {}; two_flags = {}; most_flags = {}; }; },\n"
        "{ name = \"b.test\"; modules = { two_flags = {}; }; }",
        &error);
    ck_assert_msg(srv != NULL, "%s", error ? error : "");
    unsigned core = PL_RES_ROSTER | PL_RES_CARBONS | PL_RES_DETACHED;
    /* 24 bits asked for on a.test: all there are, each a different one. */
    unsigned seen = 0;
    const char *names[] = {"one_flag", "two_flags", "most_flags"};
    const unsigned counts[] = {1, 2, 21};
    for (size_t k = 0; k < 3; k++) {
        pl_module_ctx_t *ctx = module_on(srv, "a.test", names[k]);
        for (unsigned i = 0; i < counts[k]; i++) {
            unsigned bit = pl_module_session_flag(ctx, i);
            ck_assert_msg(bit && !(bit & (bit - 1)), "%s flag %u is not one bit", names[k], i);
            ck_assert_msg(!(bit & core), "%s flag %u is a core mark", names[k], i);
            ck_assert_msg(!(bit & seen), "%s flag %u is taken already", names[k], i);
            seen |= bit;
        }
    }
    ck_assert_uint_eq(seen, ~0u << PL_RES_FIRST_MODULE_BIT);
    /* Another host hands out its own bits. */
    pl_module_ctx_t *other = module_on(srv, "b.test", "two_flags");
    ck_assert_uint_ne(pl_module_session_flag(other, 0), pl_module_session_flag(other, 1));
    ck_assert(!((pl_module_session_flag(other, 0) | pl_module_session_flag(other, 1)) & core));
    server_free(&srv);
}
END_TEST

START_TEST(a_host_whose_modules_want_more_flags_than_there_are_does_not_start)
{
    char *error = NULL;
    pl_server_t *srv =
        server_with("{ name = \"a.test\"; modules = { one_flag = {}; too_many = {}; }; }", &error);
    ck_assert_ptr_null(srv);
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(error, "host 'a.test': module 'too_many' asks for 25 session flags, but only "
                            "23 of 24 are left");
    free(error);
}
END_TEST

/* A flag the descriptor did not reserve is a bug in the module: it must
 * not quietly share another module's bit. */
START_TEST(a_flag_the_module_did_not_reserve_aborts)
{
    char *error = NULL;
    pl_server_t *srv =
        server_with("{ name = \"a.test\"; modules = { two_flags = {}; one_flag = {}; }; }", &error);
    ck_assert_ptr_nonnull(srv);
    pl_module_session_flag(module_on(srv, "a.test", "two_flags"), 2);
}
END_TEST

Suite *module_api_suite(void)
{
    Suite *s = suite_create("module_api");
    TCase *order = tcase_create("hook order");
    tcase_add_test(order, equal_priorities_run_in_module_then_descriptor_order_whatever_the_input);
    tcase_add_test(order, a_host_runs_hooks_by_priority_then_module_then_descriptor);
    suite_add_tcase(s, order);
    TCase *flags = tcase_create("session flags");
    tcase_add_test(flags, modules_get_session_flags_of_their_own_above_the_core_marks);
    tcase_add_test(flags, a_host_whose_modules_want_more_flags_than_there_are_does_not_start);
    tcase_add_test_raise_signal(flags, a_flag_the_module_did_not_reserve_aborts, SIGABRT);
    suite_add_tcase(s, flags);
    return s;
}
