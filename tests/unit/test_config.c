/* test_config.c — the configuration loader as an operator meets it: the
 * built-in default loads, and every kind of mistake is reported with the
 * file and line it sits on, all of them at once. */
#include <check.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/default-config.h"
#include "core/module-conf.h"
#include "core/module.h"
#include "modules/registry.h"
#include "tests/unit/suites.h"

/* ---- a fake registry: the built-in names plus modules made for testing ---- */

typedef struct version_conf {
    int show_os;
} version_conf_t;

static const pl_conf_def_t version_defs[] = {
    {.key = "show_os",
     .type = PL_CONF_BOOL,
     .offset = offsetof(version_conf_t, show_os),
     .def = "false"},
    {.key = NULL},
};

typedef struct tconf {
    long long count;
    long long wait_ms;
    long long quota;
    char *greeting;
    int enabled;
} tconf_t;

static int greeting_check(const void *field, char *err, size_t errlen)
{
    const char *s = *(char *const *)field;
    if (strncmp(s, "hello", 5) == 0)
        return 0;
    snprintf(err, errlen, "must start with \"hello\"");
    return -1;
}

static const pl_conf_def_t tconf_defs[] = {
    {.key = "count",
     .type = PL_CONF_INT,
     .offset = offsetof(tconf_t, count),
     .def = "3",
     .min = 1,
     .max = 10},
    {.key = "wait",
     .type = PL_CONF_DURATION,
     .offset = offsetof(tconf_t, wait_ms),
     .def = "30s",
     .min = 1000,
     .max = 3600000},
    {.key = "quota", .type = PL_CONF_SIZE, .offset = offsetof(tconf_t, quota), .def = "10M"},
    {.key = "greeting",
     .type = PL_CONF_STRING,
     .offset = offsetof(tconf_t, greeting),
     .def = "hello there",
     .validate = greeting_check},
    {.key = "enabled", .type = PL_CONF_BOOL, .offset = offsetof(tconf_t, enabled), .def = "yes"},
    {.key = NULL},
};

static const pl_conf_def_t bad_default_defs[] = {
    {.key = "n", .type = PL_CONF_INT, .offset = 0, .def = "lots", .min = 0, .max = 5},
    {.key = NULL},
};

static const char *const need_b[] = {"b", NULL};
static const char *const want_c[] = {"c", NULL};
static const char *const need_y[] = {"y", NULL};
static const char *const need_x[] = {"x", NULL};

#define FAKE(id, ...) static const pl_module_desc_t id = {.abi = PL_MODULE_ABI, __VA_ARGS__}
FAKE(m_disco, .name = "disco");
FAKE(m_ping, .name = "ping");
FAKE(m_version, .name = "version", .conf = version_defs, .conf_size = sizeof(version_conf_t));
FAKE(m_time, .name = "time");
FAKE(m_register, .name = "register");
FAKE(m_tconf, .name = "tconf", .conf = tconf_defs, .conf_size = sizeof(tconf_t));
FAKE(m_a, .name = "a", .requires = need_b);
FAKE(m_b, .name = "b", .wants = want_c);
FAKE(m_c, .name = "c");
FAKE(m_x, .name = "x", .requires = need_y);
FAKE(m_y, .name = "y", .requires = need_x);
FAKE(m_baddef, .name = "baddef", .conf = bad_default_defs, .conf_size = sizeof(long long));
FAKE(m_small, .name = "small", .conf = tconf_defs, .conf_size = 4);
#undef FAKE
/* Built against another module ABI: never enabled. */
static const pl_module_desc_t m_oldabi = {.abi = PL_MODULE_ABI + 1, .name = "oldabi"};

static const pl_module_desc_t *const registry[] = {
    &m_disco, &m_ping, &m_version, &m_time, &m_register, &m_tconf, &m_a,
    &m_b,     &m_c,    &m_x,       &m_y,    &m_baddef,   &m_small, &m_oldabi,
};
static const size_t nregistry = sizeof(registry) / sizeof(registry[0]);

/* ---- helpers ---- */

/* Two fixed lines every test config starts with, so the line numbers in
 * expected messages are easy to count: the next line is line 3. */
#define HEAD                                                                                       \
    "tls = { cert = \"c.pem\"; key = \"k.pem\"; };\n"                                              \
    "listen = ( { type = \"c2s\"; port = 5222; } );\n"
#define HOST "hosts = ( { name = \"demo.local\"; } );\n"

static pl_config_t *load(const char *text, char **err)
{
    return pl_config_load_string_modules(text, "t.cfg", registry, nregistry, err);
}

static pl_config_t *load_ok(const char *text)
{
    char *err = NULL;
    pl_config_t *c = load(text, &err);
    ck_assert_msg(c != NULL, "expected the config to load, got:\n%s", err ? err : "(no error)");
    ck_assert_ptr_null(err);
    return c;
}

/* Asserts that loading fails and that one line of the report is `line`. */
static char *expect_error(const char *text, const char *line)
{
    char *err = NULL;
    pl_config_t *c = load(text, &err);
    ck_assert_msg(c == NULL, "expected an error \"%s\", but the config loaded", line);
    ck_assert_ptr_nonnull(err);
    size_t n = strlen(line);
    int found = 0;
    for (const char *p = err; p && *p && !found; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        found = strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0');
    ck_assert_msg(found, "expected the line\n  %s\nin the report:\n%s", line, err);
    return err;
}

static void expect_error_free(const char *text, const char *line)
{
    free(expect_error(text, line));
}

static size_t count_lines(const char *s)
{
    size_t n = 1;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- the built-in default ---- */

START_TEST(default_config_loads)
{
    char *err = NULL;
    /* The real registry: the demo host enables every compiled-in module an
     * ordinary client needs, and their dependencies must hold. */
    pl_config_t *c =
        pl_config_load_modules(NULL, pl_module_registry, pl_module_registry_size, &err);
    ck_assert_msg(c != NULL, "%s", err ? err : "");
    ck_assert_ptr_null(c->path);
    ck_assert_str_eq(c->data_dir, "data");
    ck_assert_str_eq(c->tls_cert, "data/tls/cert.pem");
    ck_assert_str_eq(c->tls_key, "data/tls/key.pem");
    ck_assert_ptr_null(c->tls_ciphers);
    ck_assert_str_eq(c->control_socket, "data/parleyd.sock");
    ck_assert_str_eq(c->log_level, "info");
    ck_assert_str_eq(c->log_format, "text");
    ck_assert_int_eq(c->loops, 0); /* one per core */
    ck_assert_int_eq(c->lmdb_map_size, 1LL << 30);
    ck_assert_uint_eq(c->nlisten, 3);
    ck_assert_int_eq(c->listen[0].kind, PL_LISTEN_C2S);
    ck_assert_int_eq(c->listen[0].port, 5222);
    ck_assert_str_eq(c->listen[0].address, "0.0.0.0");
    ck_assert_int_eq(c->listen[1].kind, PL_LISTEN_C2S_TLS);
    ck_assert_int_eq(c->listen[1].port, 5223);
    ck_assert_int_eq(c->listen[2].kind, PL_LISTEN_COMPONENT);
    ck_assert_int_eq(c->listen[2].port, 5347);
    ck_assert_str_eq(c->listen[2].address, "127.0.0.1");
    ck_assert_uint_eq(c->nhosts, 1);
    const pl_host_conf_t *h = pl_config_host(c, "demo.local");
    ck_assert_ptr_eq(h, &c->hosts[0]);
    ck_assert_int_eq(h->allow_plain, 1);
    ck_assert_int_eq(h->scram_iterations, 10000);
    /* Everything an ordinary client needs, in dependency order. */
    const char *names[] = {"disco",  "ping",      "version",  "time",         "register",
                           "roster", "presence",  "vcard",    "private",      "last",
                           "pep",    "bookmarks", "blocking", "client_policy", "mam", "offline", "carbons", "inbox", "push", "muc"};
    size_t nnames = sizeof(names) / sizeof(names[0]);
    ck_assert_uint_eq(h->nmodules, nnames);
    for (size_t i = 0; i < nnames; i++)
        ck_assert_str_eq(h->modules[i].info.name, names[i]);
    ck_assert_int_eq(((const version_conf_t *)h->modules[2].conf)->show_os, 0);
    ck_assert_uint_eq(h->ncomponents, 1);
    ck_assert_str_eq(h->components[0].domain, "bot.demo.local");
    ck_assert_str_eq(h->components[0].secret, "demo-component-secret");
    /* The limits defaults documented in config.h. */
    const pl_limits_conf_t *l = &c->limits;
    ck_assert_int_eq(l->max_stanza_bytes, 262144);
    ck_assert_int_eq(l->max_depth, 32);
    ck_assert_int_eq(l->max_attrs, 32);
    ck_assert_int_eq(l->max_name_len, 256);
    ck_assert_int_eq(l->conn_per_ip, 64);
    ck_assert_int_eq(l->auth_fail_per_ip, 5);
    ck_assert_int_eq(l->auth_fail_per_account, 5);
    ck_assert_int_eq(l->auth_backoff_max_ms, 60000);
    ck_assert_int_eq(l->stanza_rate, 200);
    ck_assert_int_eq(l->stanza_burst, 400);
    ck_assert_int_eq(l->idle_timeout_ms, 300000);
    ck_assert_int_eq(l->ping_timeout_ms, 60000);
    ck_assert_int_eq(l->auth_timeout_ms, 30000);
    ck_assert_int_eq(l->max_sessions_per_account, 16);
    pl_config_free(&c);
    ck_assert_ptr_null(c);
}
END_TEST

START_TEST(default_config_names_a_missing_module)
{
    /* Find the line of "register" in the default text to check the report. */
    const char *text = pl_default_config_text();
    const char *at = strstr(text, "register = {}");
    ck_assert_ptr_nonnull(at);
    size_t line = 1;
    for (const char *p = text; p < at; p++)
        line += *p == '\n';
    const pl_module_desc_t *const four[] = {&m_disco, &m_ping, &m_version, &m_time};
    char *err = NULL;
    ck_assert_ptr_null(pl_config_load_modules("", four, 4, &err));
    char want[200];
    snprintf(want, sizeof(want),
             "<built-in>:%zu: unknown module 'register' (known: disco, ping, version, time)", line);
    /* The first line names the first unknown module; every later one is
     * reported too. */
    ck_assert_int_eq(strncmp(err, want, strlen(want)), 0);
    ck_assert_int_eq(err[strlen(want)], '\n');
    ck_assert_ptr_nonnull(strstr(err, "unknown module 'client_policy'"));
    free(err);
}
END_TEST

/* ---- unknown keys, everywhere ---- */

START_TEST(unknown_keys_are_reported_with_their_line)
{
    expect_error_free(HEAD HOST "colour = \"blue\";\n",
                      "t.cfg:4: unknown key 'colour' (known: data_dir, loops, control_socket, log, "
                      "tls, storage, listen, limits, hosts)");
    expect_error_free(HEAD HOST "log = {\n  level = \"info\";\n  colour = 1;\n};\n",
                      "t.cfg:6: log: unknown key 'colour' (known: level, format, trace)");
    expect_error_free("tls = { cert = \"c\"; key = \"k\";\n  pin = 1; };\n"
                      "listen = ( { type = \"c2s\"; } );\n" HOST,
                      "t.cfg:2: tls: unknown key 'pin' (known: cert, key, ciphers)");
    expect_error_free(HEAD HOST "limits = { max_stanzas = 5; };\n",
                      "t.cfg:4: limits: unknown key 'max_stanzas' (known: max_stanza_bytes, "
                      "max_depth, max_attrs, max_name_len, conn_per_ip, auth_fail_per_ip, "
                      "auth_fail_per_account, auth_backoff_max, stanza_rate, stanza_burst, "
                      "idle_timeout, ping_timeout, auth_timeout, max_sessions_per_account, "
                      "resume_timeout, max_unacked, max_unacked_bytes, max_output_bytes, "
                      "max_tracked_failures, "
                      "component_fail_per_ip, component_fail_per_domain, max_pending_iqs)");
    /* Bounds that depend on each other: a resumption's resend must fit in
     * the output bound, and the largest stanza in the SM queue. */
    expect_error_free(HEAD HOST "limits = { max_unacked_bytes = \"8M\"; };\n",
                      "t.cfg:4: limits: 'max_unacked_bytes' (8388608) must be at most half of "
                      "'max_output_bytes' (8388608)");
    expect_error_free(HEAD HOST
                      "limits = { max_stanza_bytes = \"1M\"; max_unacked_bytes = \"512k\"; };\n",
                      "t.cfg:4: limits: 'max_stanza_bytes' (1048576) must be at most "
                      "'max_unacked_bytes' (524288)");
    expect_error_free(HEAD "hosts = ( {\n  name = \"demo.local\";\n  admins = [];\n} );\n",
                      "t.cfg:5: host: unknown key 'admins' (known: name, auth, modules, "
                      "components)");
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  auth = { anonymous = true; };\n"
                           "} );\n",
                      "t.cfg:4: host 'demo.local' auth: unknown key 'anonymous' (known: "
                      "allow_plain, scram_iterations, fast_token_lifetime)");
    expect_error_free("tls = { cert = \"c\"; key = \"k\"; };\n"
                      "listen = (\n  { type = \"c2s\"; tls = true; }\n);\n" HOST,
                      "t.cfg:3: listen entry: unknown key 'tls' (known: type, address, port)");
    expect_error_free(
        HEAD "hosts = ( { name = \"demo.local\";\n  components = (\n"
             "    { domain = \"bot.demo.local\"; secret = \"s\"; port = 1; }\n  );\n} );\n",
        "t.cfg:5: component: unknown key 'port' (known: domain, secret)");
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  modules = {\n"
                           "    version = { show_hostname = true; };\n  };\n} );\n",
                      "t.cfg:5: module 'version' on host 'demo.local': unknown key "
                      "'show_hostname' (known: show_os)");
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  modules = {\n"
                           "    ping = { interval = 5; };\n  };\n} );\n",
                      "t.cfg:5: module 'ping' on host 'demo.local': unknown key 'interval' "
                      "(this section takes no settings)");
}
END_TEST

START_TEST(unknown_module_lists_the_known_ones)
{
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  modules = {\n"
                           "    disco = {};\n    foo = {};\n  };\n} );\n",
                      "t.cfg:6: unknown module 'foo' (known: disco, ping, version, time, "
                      "register, tconf, a, b, c, x, y, baddef, small, oldabi)");
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  modules = { ping = true; };\n"
                           "} );\n",
                      "t.cfg:4: module 'ping' on host 'demo.local' must be written as a group, "
                      "e.g. ping = {}; (got true/false)");
}
END_TEST

/* ---- required settings ---- */

START_TEST(missing_required_settings_are_reported_with_their_line)
{
    expect_error_free("listen = ( { type = \"c2s\"; } );\n" HOST,
                      "t.cfg:1: missing 'tls': tls = { cert = \"...\"; key = \"...\"; }; is "
                      "required");
    expect_error_free("listen = ( { type = \"c2s\"; } );\n" HOST "tls = {\n  cert = \"c\";\n};\n",
                      "t.cfg:3: tls: missing 'key' (the private key, PEM)");
    expect_error_free("listen = ( { type = \"c2s\"; } );\n" HOST
                      "tls = { cert = \"\"; key = \"k\"; };\n",
                      "t.cfg:3: tls: 'cert': must not be empty");
    expect_error_free("tls = { cert = \"c\"; key = \"k\"; };\n" HOST,
                      "t.cfg:1: missing 'listen': at least one listener is required, e.g. "
                      "listen = ( { type = \"c2s\"; port = 5222; } );");
    expect_error_free("tls = { cert = \"c\"; key = \"k\"; };\nlisten = ();\n" HOST,
                      "t.cfg:2: 'listen' is empty: at least one listener is required");
    expect_error_free(
        "tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n  { port = 1; }\n);\n" HOST,
        "t.cfg:3: listen entry: missing 'type' (c2s, c2s-tls or component)");
    expect_error_free(HEAD, "t.cfg:1: missing 'hosts': at least one host is required, e.g. "
                            "hosts = ( { name = \"example.org\"; } );");
    expect_error_free(HEAD "hosts = (\n  { auth = {}; }\n);\n", "t.cfg:4: host #1: missing 'name'");
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  components = (\n"
                           "    { domain = \"bot.demo.local\"; }\n  );\n} );\n",
                      "t.cfg:5: component: missing 'secret'");
}
END_TEST

/* ---- values of the wrong type or out of bounds ---- */

START_TEST(types_and_bounds_are_checked)
{
    expect_error_free(HEAD HOST "loops = \"4\";\n",
                      "t.cfg:4: 'loops' must be an integer (got a string)");
    expect_error_free(HEAD HOST "loops = 300;\n",
                      "t.cfg:4: 'loops' must be between 0 and 256 (got 300)");
    expect_error_free(HEAD HOST "log = { level = \"verbose\"; };\n",
                      "t.cfg:4: log: 'level': \"verbose\" is not one of error, warn, info, debug");
    expect_error_free(HEAD HOST "log = { format = 3; };\n",
                      "t.cfg:4: log: 'format' must be a string (got an integer)");
    expect_error_free(
        HEAD "hosts = ( { name = \"demo.local\";\n  auth = { allow_plain = \"yes\"; };\n} );\n",
        "t.cfg:4: host 'demo.local' auth: 'allow_plain' must be true or false (got a string)");
    expect_error_free(
        HEAD "hosts = ( { name = \"demo.local\";\n  auth = { scram_iterations = 100; };\n} );\n",
        "t.cfg:4: host 'demo.local' auth: 'scram_iterations' must be between 4096 and "
        "10000000 (got 100)");
    expect_error_free(HEAD HOST "limits = {\n  max_depth = 5000;\n};\n",
                      "t.cfg:5: limits: 'max_depth' must be between 2 and 1000 (got 5000)");
    expect_error_free(HEAD HOST "limits = { idle_timeout = \"30d\"; };\n",
                      "t.cfg:4: limits: 'idle_timeout' must be between 100ms and 7d (got 30d)");
    expect_error_free(HEAD HOST "limits = { max_stanza_bytes = \"1G\"; };\n",
                      "t.cfg:4: limits: 'max_stanza_bytes' must be between 1k and 64M (got 1G)");
    expect_error_free(HEAD HOST "storage = { lmdb_map_size = true; };\n",
                      "t.cfg:4: storage: 'lmdb_map_size' must be a size such as 65536 or \"64k\" "
                      "(got true/false)");
    expect_error_free(HEAD HOST "log = \"debug\";\n",
                      "t.cfg:4: log must be a group { ... } (got a string)");
    expect_error_free(HEAD HOST "log = { trace = [ \"alice@demo.local/phone\" ]; };\n",
                      "t.cfg:4: log: trace entry \"alice@demo.local/phone\" must be a bare JID (no "
                      "/resource)");
}
END_TEST

START_TEST(listeners_are_checked_for_type_port_address_and_duplicates)
{
    expect_error_free(
        "tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n"
        "  { type = \"c2s\"; port = 70000; },\n  { type = \"component\"; port = -1; }\n);\n" HOST,
        "t.cfg:3: listen entry: 'port' must be between 0 and 65535 (got 70000)");
    expect_error_free(
        "tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n"
        "  { type = \"c2s\"; port = 70000; },\n  { type = \"component\"; port = -1; }\n);\n" HOST,
        "t.cfg:4: listen entry: 'port' must be between 0 and 65535 (got -1)");
    expect_error_free(
        "tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n  { type = \"s2s\"; }\n);\n" HOST,
        "t.cfg:3: listen entry: 'type': \"s2s\" is not one of c2s, c2s-tls, component");
    expect_error_free(
        "tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n"
        "  { type = \"c2s\"; address = \"localhost\"; }\n);\n" HOST,
        "t.cfg:3: listen entry: 'address': \"localhost\" is not an IPv4 or IPv6 address");
    expect_error_free("tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n"
                      "  { type = \"c2s\"; },\n  { type = \"c2s-tls\"; port = 5222; }\n);\n" HOST,
                      "t.cfg:4: duplicate listener 0.0.0.0:5222 (already used at line 3)");
    expect_error_free("tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n"
                      "  { type = \"c2s\"; address = \"::\"; port = 5000; },\n"
                      "  { type = \"c2s\"; address = \"0:0::1\"; port = 5000; },\n"
                      "  { type = \"c2s\"; address = \"::1\"; port = 5000; }\n);\n" HOST,
                      "t.cfg:4: listener [0:0::1]:5000 overlaps [::]:5000 (line 3)");
    /* Two spellings of one address. */
    expect_error_free("tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n"
                      "  { type = \"c2s\"; address = \"::1\"; port = 5000; },\n"
                      "  { type = \"c2s-tls\"; address = \"0:0::1\"; port = 5000; }\n);\n" HOST,
                      "t.cfg:4: duplicate listener [0:0::1]:5000 (already used at line 3)");

    /* Defaults per kind, IPv6, and port 0 (ephemeral) used twice. */
    pl_config_t *c =
        load_ok("tls = { cert = \"c\"; key = \"k\"; };\nlisten = (\n"
                "  { type = \"c2s\"; }, { type = \"c2s-tls\"; address = \"::1\"; },\n"
                "  { type = \"component\"; },\n"
                "  { type = \"c2s\"; port = 0; }, { type = \"c2s\"; port = 0; }\n);\n" HOST);
    ck_assert_uint_eq(c->nlisten, 5);
    ck_assert_int_eq(c->listen[0].port, 5222);
    ck_assert_str_eq(c->listen[0].address, "0.0.0.0");
    ck_assert_int_eq(c->listen[1].port, 5223);
    ck_assert_str_eq(c->listen[1].address, "::1");
    ck_assert_int_eq(c->listen[2].port, 5347);
    ck_assert_str_eq(c->listen[2].address, "127.0.0.1");
    ck_assert_int_eq(c->listen[3].port, 0);
    ck_assert_int_eq(c->listen[4].port, 0);
    pl_config_free(&c);
}
END_TEST

/* ---- hosts and components ---- */

START_TEST(host_names_are_normalised_and_unique)
{
    pl_config_t *c = load_ok(HEAD "hosts = ( { name = \"Demo.Local\"; } );\n");
    ck_assert_str_eq(c->hosts[0].name, "demo.local");
    ck_assert_ptr_eq(pl_config_host(c, "demo.local"), &c->hosts[0]);
    ck_assert_ptr_eq(pl_config_host(c, "DEMO.local"), &c->hosts[0]);
    ck_assert_ptr_null(pl_config_host(c, "other.local"));
    pl_config_free(&c);

    expect_error_free(
        HEAD "hosts = (\n  { name = \"demo.local\"; },\n  { name = \"Demo.Local\"; }\n);\n",
        "t.cfg:5: duplicate host 'demo.local' (already defined at line 4)");
    expect_error_free(HEAD "hosts = (\n  { name = \"bad host!\"; }\n);\n",
                      "t.cfg:4: host name 'bad host!' is not a valid domain name");
    expect_error_free(HEAD "hosts = (\n  { name = 42; }\n);\n",
                      "t.cfg:4: host: 'name' must be a string (got an integer)");
}
END_TEST

START_TEST(component_domains_are_unique)
{
    expect_error_free(HEAD "hosts = (\n  { name = \"demo.local\"; },\n"
                           "  { name = \"other.local\"; components = (\n"
                           "    { domain = \"Demo.Local\"; secret = \"s\"; } ); }\n);\n",
                      "t.cfg:6: component domain 'demo.local' is also a host name (line 4)");
    expect_error_free(HEAD "hosts = (\n  { name = \"demo.local\"; components = (\n"
                           "    { domain = \"bot.demo.local\"; secret = \"s\"; } ); },\n"
                           "  { name = \"other.local\"; components = (\n"
                           "    { domain = \"bot.demo.local\"; secret = \"t\"; } ); }\n);\n",
                      "t.cfg:7: duplicate component domain 'bot.demo.local' (already defined at "
                      "line 5)");
}
END_TEST

START_TEST(all_errors_are_collected)
{
    char *err = expect_error("tls = { cert = \"c\"; };\n"        /* 1: no key */
                             "listen = ( { type = \"x\"; } );\n" /* 2: bad type */
                             "loops = -1;\n"                     /* 3: bounds */
                             "hosts = ( { name = \"a.local\";\n" /* 4 */
                             "  modules = { nope = {}; };\n"     /* 5: unknown module */
                             "  auth = { allow_plain = 1; };\n"  /* 6: type */
                             "} );\n",
                             "t.cfg:1: tls: missing 'key' (the private key, PEM)");
    ck_assert_uint_eq(count_lines(err), 5);
    /* In the order of the file, whatever order the sections are checked in. */
    const char *in_order[] = {
        "t.cfg:1: tls: missing 'key'",
        "t.cfg:2: listen entry: 'type': \"x\" is not one of",
        "t.cfg:3: 'loops' must be between 0 and 256 (got -1)",
        "t.cfg:5: unknown module 'nope'",
        "t.cfg:6: host 'a.local' auth: 'allow_plain' must be true",
    };
    const char *prev = err;
    for (size_t i = 0; i < 5; i++) {
        const char *at = strstr(err, in_order[i]);
        ck_assert_msg(at != NULL && at >= prev, "\"%s\" missing or out of order in:\n%s",
                      in_order[i], err);
        prev = at;
    }
    ck_assert_int_ne(err[strlen(err) - 1], '\n');
    free(err);
}
END_TEST

START_TEST(syntax_error_reports_the_line)
{
    expect_error_free(HEAD HOST "limits = {\n  max_depth = = 3;\n};\n", "t.cfg:5: syntax error");
    expect_error_free(HEAD HOST "loops = 1;\nloops = 2;\n", "t.cfg:5: duplicate setting name");
}
END_TEST

/* ---- durations and sizes ---- */

START_TEST(durations_need_a_whole_number_and_a_unit)
{
    static const struct {
        const char *in;
        long long ms;
    } good[] = {
        {"500ms", 500},    {"30s", 30000}, {"10m", 600000}, {"2h", 7200000},
        {"7d", 604800000}, {"45", 45000},  {"0", 0},        {"0ms", 0},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long long v = -1;
        ck_assert_msg(pl_conf_parse_duration(good[i].in, &v) == 0, "%s", good[i].in);
        ck_assert_int_eq(v, good[i].ms);
    }
    static const char *const bad[] = {
        "10x",
        "-5s",
        "",
        "s",
        "1.5s",
        " 5s",
        "5s ",
        "5 s",
        "5S",
        "+5s",
        "5sec",
        "99999999999999999999", /* overflows before any unit */
        "9223372036854775807s", /* fits, but not once in milliseconds */
        "106751991168d",        /* just past LLONG_MAX milliseconds */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long v = 42;
        ck_assert_msg(pl_conf_parse_duration(bad[i], &v) < 0, "\"%s\" accepted", bad[i]);
        ck_assert_int_eq(v, 42);
    }
    long long v;
    ck_assert_int_eq(pl_conf_parse_duration("106751991167d", &v), 0);
    ck_assert_int_eq(v, 106751991167LL * 86400000);
    ck_assert_int_lt(pl_conf_parse_duration(NULL, &v), 0);
}
END_TEST

START_TEST(sizes_need_a_whole_number_and_a_binary_unit)
{
    static const struct {
        const char *in;
        long long bytes;
    } good[] = {
        {"64k", 65536},    {"64K", 65536}, {"10M", 10485760}, {"1G", 1073741824},
        {"2t", 2LL << 40}, {"123", 123},   {"0", 0},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        long long v = -1;
        ck_assert_msg(pl_conf_parse_size(good[i].in, &v) == 0, "%s", good[i].in);
        ck_assert_int_eq(v, good[i].bytes);
    }
    static const char *const bad[] = {
        "10x",
        "-1",
        "k",
        "",
        "1.5M",
        "10MB",
        "10 M",
        "99999999999999999999",
        "9999999999999999k", /* overflows once scaled */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long long v = 42;
        ck_assert_msg(pl_conf_parse_size(bad[i], &v) < 0, "\"%s\" accepted", bad[i]);
        ck_assert_int_eq(v, 42);
    }
}
END_TEST

START_TEST(durations_and_sizes_in_the_file_are_converted_or_reported)
{
    pl_config_t *c = load_ok(HEAD HOST "limits = { idle_timeout = 90; ping_timeout = \"500ms\";\n"
                                       "  auth_timeout = 1.5; max_stanza_bytes = \"1k\";\n"
                                       "  auth_backoff_max = \"2m\"; };\n"
                                       "storage = { lmdb_map_size = 2147483648L; };\n");
    ck_assert_int_eq(c->limits.idle_timeout_ms, 90000);
    ck_assert_int_eq(c->limits.ping_timeout_ms, 500);
    ck_assert_int_eq(c->limits.auth_timeout_ms, 1500);
    ck_assert_int_eq(c->limits.max_stanza_bytes, 1024);
    ck_assert_int_eq(c->limits.auth_backoff_max_ms, 120000);
    ck_assert_int_eq(c->lmdb_map_size, 2147483648LL);
    pl_config_free(&c);

    expect_error_free(HEAD HOST "limits = { idle_timeout = \"10x\"; };\n",
                      "t.cfg:4: limits: 'idle_timeout': \"10x\" is not a duration (write a whole "
                      "number followed by ms, s, m, h or d, e.g. \"500ms\", \"30s\", \"10m\", "
                      "\"2h\", \"7d\")");
    expect_error_free(HEAD HOST "limits = { idle_timeout = \"-5s\"; };\n",
                      "t.cfg:4: limits: 'idle_timeout': \"-5s\" is not a duration (write a whole "
                      "number followed by ms, s, m, h or d, e.g. \"500ms\", \"30s\", \"10m\", "
                      "\"2h\", \"7d\")");
    expect_error_free(HEAD HOST "limits = { ping_timeout = -5; };\n",
                      "t.cfg:4: limits: 'ping_timeout' must be a non-negative number of seconds");
    expect_error_free(HEAD HOST "limits = { max_stanza_bytes = \"10x\"; };\n",
                      "t.cfg:4: limits: 'max_stanza_bytes': \"10x\" is not a size (write a whole "
                      "number of bytes, optionally followed by k, M, G or T, e.g. \"64k\", "
                      "\"10M\", \"1G\")");
    expect_error_free(HEAD HOST "storage = { lmdb_map_size = \"99999999999999999999\"; };\n",
                      "t.cfg:4: storage: 'lmdb_map_size': \"99999999999999999999\" is not a size "
                      "(write a whole number of bytes, optionally followed by k, M, G or T, e.g. "
                      "\"64k\", \"10M\", \"1G\")");
}
END_TEST

/* ---- module settings ---- */

#define TCONF_HOST(body)                                                                           \
    HEAD "hosts = ( { name = \"demo.local\";\n  modules = {\n    tconf = {\n" body                 \
         "    };\n  };\n} );\n"

START_TEST(module_settings_take_their_defaults_or_the_given_values)
{
    pl_config_t *c = load_ok(TCONF_HOST(""));
    const tconf_t *t = c->hosts[0].modules[0].conf;
    ck_assert_int_eq(t->count, 3);
    ck_assert_int_eq(t->wait_ms, 30000);
    ck_assert_int_eq(t->quota, 10LL << 20);
    ck_assert_str_eq(t->greeting, "hello there");
    ck_assert_int_eq(t->enabled, 1);
    ck_assert_int_eq(c->hosts[0].modules[0].line, 5);
    pl_config_free(&c);

    c = load_ok(TCONF_HOST("      count = 10; wait = \"1h\"; quota = 4096;\n"
                           "      greeting = \"hello, world\"; enabled = false;\n"));
    t = c->hosts[0].modules[0].conf;
    ck_assert_int_eq(t->count, 10);
    ck_assert_int_eq(t->wait_ms, 3600000);
    ck_assert_int_eq(t->quota, 4096);
    ck_assert_str_eq(t->greeting, "hello, world");
    ck_assert_int_eq(t->enabled, 0);
    pl_config_free(&c);
}
END_TEST

START_TEST(module_settings_are_checked_by_bounds_and_validators)
{
    const char *where = "module 'tconf' on host 'demo.local'";
    char want[300];
    snprintf(want, sizeof(want), "t.cfg:6: %s: 'count' must be between 1 and 10 (got 11)", where);
    expect_error_free(TCONF_HOST("      count = 11;\n"), want);
    snprintf(want, sizeof(want), "t.cfg:6: %s: 'wait' must be between 1s and 1h (got 500ms)",
             where);
    expect_error_free(TCONF_HOST("      wait = \"500ms\";\n"), want);
    snprintf(want, sizeof(want), "t.cfg:6: %s: 'greeting': must start with \"hello\"", where);
    expect_error_free(TCONF_HOST("      greeting = \"bye\";\n"), want);
    snprintf(want, sizeof(want), "t.cfg:6: %s: 'enabled' must be true or false (got an integer)",
             where);
    expect_error_free(TCONF_HOST("      enabled = 1;\n"), want);
    snprintf(want, sizeof(want), "t.cfg:6: %s: 'quota' must not be negative", where);
    expect_error_free(TCONF_HOST("      quota = -1;\n"), want);

    expect_error_free(HEAD
                      "hosts = ( { name = \"demo.local\";\n  modules = { baddef = {}; };\n} );\n",
                      "t.cfg:4: module 'baddef' on host 'demo.local': the built-in default of 'n' "
                      "(\"lots\") is not a valid integer");
    expect_error_free(HEAD
                      "hosts = ( { name = \"demo.local\";\n  modules = { small = {}; };\n} );\n",
                      "t.cfg:4: module 'small' on host 'demo.local': key 'count' lies outside the "
                      "module's config struct (4 bytes)");
    expect_error_free(HEAD
                      "hosts = ( { name = \"demo.local\";\n  modules = { oldabi = {}; };\n} );\n",
                      "t.cfg:4: module 'oldabi': it was built for another module ABI than this "
                      "server's");
}
END_TEST

START_TEST(defaults_apply_without_a_file_and_a_bad_builtin_default_is_reported)
{
    tconf_t t;
    memset(&t, 0, sizeof(t));
    char err[200];
    ck_assert_int_eq(pl_conf_apply_defaults(tconf_defs, &t, err, sizeof(err)), 0);
    ck_assert_int_eq(t.count, 3);
    ck_assert_str_eq(t.greeting, "hello there");
    pl_conf_free_fields(tconf_defs, &t);
    ck_assert_ptr_null(t.greeting);

    long long n = 0;
    ck_assert_int_lt(pl_conf_apply_defaults(bad_default_defs, &n, err, sizeof(err)), 0);
    ck_assert_str_eq(err, "the built-in default of 'n' (\"lots\") is not a valid integer");
}
END_TEST

/* ---- dependencies ---- */

START_TEST(modules_are_ordered_by_dependency)
{
    /* a requires b, b wants c: whatever the file's order, c then b then a;
     * unrelated modules keep their place relative to each other. */
    pl_config_t *c =
        load_ok(HEAD "hosts = ( { name = \"demo.local\";\n"
                     "  modules = { ping = {}; a = {}; disco = {}; c = {}; b = {}; };\n"
                     "} );\n");
    const pl_host_conf_t *h = &c->hosts[0];
    const char *want[] = {"ping", "c", "b", "a", "disco"};
    ck_assert_uint_eq(h->nmodules, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(h->modules[i].info.name, want[i]);
    pl_config_free(&c);

    /* A soft dependency that is not enabled is simply skipped. */
    c = load_ok(HEAD "hosts = ( { name = \"demo.local\"; modules = { a = {}; b = {}; }; } );\n");
    ck_assert_str_eq(c->hosts[0].modules[0].info.name, "b");
    ck_assert_str_eq(c->hosts[0].modules[1].info.name, "a");
    pl_config_free(&c);
}
END_TEST

START_TEST(a_missing_requirement_or_a_dependency_cycle_is_refused)
{
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  modules = {\n    ping = {};\n"
                           "    a = {};\n  };\n} );\n",
                      "t.cfg:6: module 'a' on host 'demo.local' requires module 'b'");
    expect_error_free(HEAD "hosts = ( { name = \"demo.local\";\n  modules = {\n    x = {};\n"
                           "    y = {};\n  };\n} );\n",
                      "t.cfg:5: modules on host 'demo.local' depend on each other in a cycle: "
                      "x -> y -> x");
}
END_TEST

/* ---- files and paths ---- */

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path;
    ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(relative_paths_resolve_against_the_file)
{
    char tmpl[] = "/tmp/parley-config-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    char *sub;
    ck_assert_int_ge(asprintf(&sub, "%s/etc", tmpl), 0);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    char *inc = write_file(sub, "hosts.cfg", HOST);
    char *path = write_file(sub, "parley.cfg",
                            "tls = { cert = \"tls/cert.pem\"; key = \"/srv/key.pem\"; };\n"
                            "listen = ( { type = \"c2s\"; } );\n"
                            "data_dir = \"../var\";\n"
                            "@include \"hosts.cfg\"\n");
    char *err = NULL;
    pl_config_t *c = pl_config_load_modules(path, registry, nregistry, &err);
    ck_assert_msg(c != NULL, "%s", err ? err : "");
    char want[512];
    ck_assert_str_eq(c->path, path);
    snprintf(want, sizeof(want), "%s/tls/cert.pem", sub);
    ck_assert_str_eq(c->tls_cert, want);
    ck_assert_str_eq(c->tls_key, "/srv/key.pem");
    snprintf(want, sizeof(want), "%s/../var", sub);
    ck_assert_str_eq(c->data_dir, want);
    snprintf(want, sizeof(want), "%s/../var/parleyd.sock", sub);
    ck_assert_str_eq(c->control_socket, want);
    ck_assert_str_eq(c->hosts[0].name, "demo.local");
    pl_config_free(&c);

    /* Errors name the file they are in, included files too. */
    char *inc2 =
        write_file(sub, "hosts.cfg", "hosts = (\n  { name = \"demo.local\"; x = 1; }\n);\n");
    ck_assert_ptr_null(pl_config_load_modules(path, registry, nregistry, &err));
    snprintf(want, sizeof(want), "%s:2: host: unknown key 'x'", inc2);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
    free(err);

    char *missing;
    ck_assert_int_ge(asprintf(&missing, "%s/nope.cfg", sub), 0);
    ck_assert_ptr_null(pl_config_load_modules(missing, registry, nregistry, &err));
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", missing);
    ck_assert_str_eq(err, want);
    free(err);

    unlink(inc);
    unlink(path);
    rmdir(sub);
    rmdir(tmpl);
    free(missing);
    free(inc);
    free(inc2);
    free(path);
    free(sub);
}
END_TEST

START_TEST(strings_keep_relative_paths)
{
    pl_config_t *c = load_ok(HEAD HOST "control_socket = \"run/p.sock\";\n"
                                       "log = { level = \"debug\"; format = \"json\";\n"
                                       "  trace = [ \"Alice@Demo.Local\", \"demo.local\" ]; };\n");
    ck_assert_str_eq(c->tls_cert, "c.pem");
    ck_assert_str_eq(c->control_socket, "run/p.sock");
    ck_assert_str_eq(c->log_level, "debug");
    ck_assert_str_eq(c->log_format, "json");
    ck_assert_uint_eq(c->ntrace, 2);
    ck_assert_str_eq(c->trace[0], "alice@demo.local");
    ck_assert_str_eq(c->trace[1], "demo.local");
    pl_config_free(&c);
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_test(tc, default_config_loads);
    tcase_add_test(tc, default_config_names_a_missing_module);
    tcase_add_test(tc, unknown_keys_are_reported_with_their_line);
    tcase_add_test(tc, unknown_module_lists_the_known_ones);
    tcase_add_test(tc, missing_required_settings_are_reported_with_their_line);
    tcase_add_test(tc, types_and_bounds_are_checked);
    tcase_add_test(tc, listeners_are_checked_for_type_port_address_and_duplicates);
    tcase_add_test(tc, host_names_are_normalised_and_unique);
    tcase_add_test(tc, component_domains_are_unique);
    tcase_add_test(tc, all_errors_are_collected);
    tcase_add_test(tc, syntax_error_reports_the_line);
    tcase_add_test(tc, durations_need_a_whole_number_and_a_unit);
    tcase_add_test(tc, sizes_need_a_whole_number_and_a_binary_unit);
    tcase_add_test(tc, durations_and_sizes_in_the_file_are_converted_or_reported);
    tcase_add_test(tc, module_settings_take_their_defaults_or_the_given_values);
    tcase_add_test(tc, module_settings_are_checked_by_bounds_and_validators);
    tcase_add_test(tc, defaults_apply_without_a_file_and_a_bad_builtin_default_is_reported);
    tcase_add_test(tc, modules_are_ordered_by_dependency);
    tcase_add_test(tc, a_missing_requirement_or_a_dependency_cycle_is_refused);
    tcase_add_test(tc, relative_paths_resolve_against_the_file);
    tcase_add_test(tc, strings_keep_relative_paths);
    suite_add_tcase(s, tc);
    return s;
}
