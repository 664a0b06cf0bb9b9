/* config.c — loads the server configuration from a libconfig file (or the
 * built-in default), checks every section and cross-reference, and either
 * returns a complete pl_config_t or every problem found, one per line. */
#include "config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config-private.h"
#include "config/default-config.h"
#include "lib/buf.h"
#include "lib/util.h"
#include "xmpp/jid.h"

/* ---- validators shared by several tables ---- */

static int check_nonempty(const void *field, char *err, size_t errlen)
{
    const char *s = *(char *const *)field;
    if (s && *s)
        return 0;
    snprintf(err, errlen, "must not be empty");
    return -1;
}

static int check_one_of(const char *s, const char *const *allowed, char *err, size_t errlen)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(s, allowed[i]) == 0)
            return 0;
    size_t used = (size_t)snprintf(err, errlen, "\"%s\" is not one of ", s);
    for (size_t i = 0; allowed[i] && used < errlen; i++)
        used += (size_t)snprintf(err + used, errlen - used, "%s%s", i ? ", " : "", allowed[i]);
    return -1;
}

static int check_log_level(const void *field, char *err, size_t errlen)
{
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    return check_one_of(*(char *const *)field, levels, err, errlen);
}

static int check_log_format(const void *field, char *err, size_t errlen)
{
    static const char *const formats[] = {"text", "json", NULL};
    return check_one_of(*(char *const *)field, formats, err, errlen);
}

static int check_listen_type(const void *field, char *err, size_t errlen)
{
    static const char *const types[] = {"c2s", "c2s-tls", "component", NULL};
    return check_one_of(*(char *const *)field, types, err, errlen);
}

static int check_ip(const void *field, char *err, size_t errlen)
{
    const char *s = *(char *const *)field;
    unsigned char bin[16];
    if (inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1)
        return 0;
    snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address", s);
    return -1;
}

/* ---- the tables: every core key, its type, default and bounds ---- */

static const pl_conf_def_t top_defs[] = {
    {.key = "data_dir", .type = PL_CONF_STRING, .offset = offsetof(pl_config_t, data_dir),
     .def = "data", .validate = check_nonempty, .help = "where accounts, archives and files live"},
    {.key = "loops", .type = PL_CONF_INT, .offset = offsetof(pl_config_t, loops), .def = "0",
     .min = 0, .max = 256,
     .help = "number of event loops (threads serving connections); 0 = one per CPU core"},
    {.key = "control_socket", .type = PL_CONF_STRING,
     .offset = offsetof(pl_config_t, control_socket), .validate = check_nonempty,
     .help = "UNIX socket for parleyctl; default <data_dir>/parleyd.sock"},
    {.key = NULL},
};
static const char *const top_sections[] = {"log", "tls", "storage", "listen", "limits", "hosts",
                                           NULL};

static const pl_conf_def_t log_defs[] = {
    {.key = "level", .type = PL_CONF_STRING, .offset = offsetof(pl_config_t, log_level),
     .def = "info", .validate = check_log_level, .help = "error, warn, info or debug"},
    {.key = "format", .type = PL_CONF_STRING, .offset = offsetof(pl_config_t, log_format),
     .def = "text", .validate = check_log_format, .help = "text (key=value) or json"},
    {.key = NULL},
};
static const char *const log_extra[] = {"trace", NULL};

static const pl_conf_def_t tls_defs[] = {
    {.key = "cert", .type = PL_CONF_STRING, .offset = offsetof(pl_config_t, tls_cert),
     .validate = check_nonempty, .help = "certificate chain, PEM (required)"},
    {.key = "key", .type = PL_CONF_STRING, .offset = offsetof(pl_config_t, tls_key),
     .validate = check_nonempty, .help = "private key, PEM (required)"},
    {.key = "ciphers", .type = PL_CONF_STRING, .offset = offsetof(pl_config_t, tls_ciphers),
     .help = "OpenSSL cipher list for TLS 1.2 (optional)"},
    {.key = NULL},
};

static const pl_conf_def_t storage_defs[] = {
    {.key = "lmdb_map_size", .type = PL_CONF_SIZE, .offset = offsetof(pl_config_t, lmdb_map_size),
     .def = "1G", .min = 1LL << 20, .max = 1LL << 40, .help = "largest size of the LMDB file"},
    {.key = "key_file", .type = PL_CONF_STRING, .offset = offsetof(pl_config_t, key_file),
     .validate = check_nonempty,
     .help = "key ring for encryption at rest (docs/ENCRYPTION.md); unset = stored in clear"},
    {.key = NULL},
};

#define LIMIT(k, t, d, lo, hi, h)                                                               \
    {.key = #k, .type = t, .offset = offsetof(pl_limits_conf_t, k), .def = d, .min = lo,       \
     .max = hi, .help = h}
#define LIMIT_MS(k, field, d, lo, hi, h)                                                        \
    {.key = #k, .type = PL_CONF_DURATION, .offset = offsetof(pl_limits_conf_t, field),          \
     .def = d, .min = lo, .max = hi, .help = h}
static const pl_conf_def_t limits_defs[] = {
    LIMIT(max_stanza_bytes, PL_CONF_SIZE, "256k", 1024, 64LL << 20, "largest stanza accepted"),
    LIMIT(max_depth, PL_CONF_INT, "32", 2, 1000, "deepest element nesting in a stanza"),
    LIMIT(max_attrs, PL_CONF_INT, "32", 1, 1000, "most attributes on one element"),
    LIMIT(max_name_len, PL_CONF_INT, "256", 16, 65536, "longest element or attribute name"),
    LIMIT(conn_per_ip, PL_CONF_INT, "64", 0, 1000000, "open connections from one IP; 0 = no limit"),
    LIMIT(auth_fail_per_ip, PL_CONF_INT, "5", 0, 1000000, "failed logins before back-off; 0 = off"),
    LIMIT(auth_fail_per_account, PL_CONF_INT, "5", 0, 1000000,
          "failed logins on one account before back-off; 0 = off"),
    LIMIT_MS(auth_backoff_max, auth_backoff_max_ms, "60s", 0, 86400000, "longest back-off delay"),
    LIMIT(stanza_rate, PL_CONF_INT, "200", 1, 1000000, "stanzas per second per session"),
    LIMIT(stanza_burst, PL_CONF_INT, "400", 1, 10000000, "stanzas a session may send at once"),
    LIMIT_MS(idle_timeout, idle_timeout_ms, "5m", 100, 7 * 86400000LL,
             "silence before the server pings"),
    LIMIT_MS(ping_timeout, ping_timeout_ms, "60s", 100, 3600000, "wait for a ping answer"),
    LIMIT_MS(auth_timeout, auth_timeout_ms, "30s", 100, 3600000, "time allowed to log in"),
    LIMIT(max_sessions_per_account, PL_CONF_INT, "16", 1, 10000, "resources per account"),
    LIMIT_MS(resume_timeout, resume_timeout_ms, "5m", 0, 86400000,
             "how long a lost stream-management session can be resumed; 0 = never"),
    LIMIT(max_unacked, PL_CONF_INT, "10000", 10, 1000000,
          "stanzas kept for a client that does not acknowledge them, connected or detached"),
    LIMIT(max_unacked_bytes, PL_CONF_SIZE, "4M", 64LL << 10, 1LL << 30,
          "bytes of stanzas kept for a client that does not acknowledge them, connected or "
          "detached; at most half of max_output_bytes"),
    LIMIT(max_output_bytes, PL_CONF_SIZE, "8M", 256LL << 10, 4LL << 30,
          "bytes queued for a peer that does not read before it is dropped"),
    LIMIT(max_tracked_failures, PL_CONF_INT, "50000", 10, 10000000,
          "records kept per back-off table (addresses, accounts); past it the least useful go"),
    LIMIT(component_fail_per_ip, PL_CONF_INT, "5", 0, 1000000,
          "failed component handshakes from one IP before back-off; 0 = off"),
    LIMIT(component_fail_per_domain, PL_CONF_INT, "5", 0, 1000000,
          "failed handshakes for one component domain before back-off; 0 = off"),
    LIMIT(max_pending_iqs, PL_CONF_INT, "10000", 16, 10000000,
          "IQs the server (a module) sent and awaits answers to, all hosts together"),
    {.key = NULL},
};
#undef LIMIT
#undef LIMIT_MS

static const pl_conf_def_t host_defs[] = {
    {.key = "name", .type = PL_CONF_STRING, .offset = offsetof(pl_host_conf_t, name),
     .help = "the domain served (required)"},
    {.key = NULL},
};
static const char *const host_extra[] = {"auth", "modules", "components", NULL};

static const pl_conf_def_t auth_defs[] = {
    {.key = "allow_plain", .type = PL_CONF_BOOL, .offset = offsetof(pl_host_conf_t, allow_plain),
     .def = "true", .help = "offer SASL PLAIN (only ever over TLS)"},
    {.key = "scram_iterations", .type = PL_CONF_INT,
     .offset = offsetof(pl_host_conf_t, scram_iterations), .def = "10000", .min = 4096,
     .max = 10000000, .help = "PBKDF2 iterations for new SCRAM credentials"},
    {.key = "fast_token_lifetime", .type = PL_CONF_DURATION,
     .offset = offsetof(pl_host_conf_t, fast_lifetime_ms), .def = "14d", .min = 0,
     .max = 365 * 86400000LL, .help = "lifetime of FAST login tokens (XEP-0484); 0 = no FAST"},
    {.key = NULL},
};

static const pl_conf_def_t component_defs[] = {
    {.key = "domain", .type = PL_CONF_STRING, .offset = offsetof(pl_component_conf_t, domain),
     .help = "the component's domain (required)"},
    {.key = "secret", .type = PL_CONF_STRING, .offset = offsetof(pl_component_conf_t, secret),
     .validate = check_nonempty, .help = "XEP-0114 handshake secret (required)"},
    {.key = NULL},
};

/* A listen entry is read into this first; the kind and per-kind defaults are
 * worked out afterwards. */
typedef struct listen_in {
    char *type;
    char *address;
    long long port;
} listen_in_t;

static const pl_conf_def_t listen_defs[] = {
    {.key = "type", .type = PL_CONF_STRING, .offset = offsetof(listen_in_t, type),
     .validate = check_listen_type, .help = "c2s, c2s-tls or component (required)"},
    {.key = "address", .type = PL_CONF_STRING, .offset = offsetof(listen_in_t, address),
     .validate = check_ip, .help = "IP address to bind"},
    {.key = "port", .type = PL_CONF_INT, .offset = offsetof(listen_in_t, port), .min = 0,
     .max = 65535, .help = "TCP port; 0 picks a free one"},
    {.key = NULL},
};

/* ---- paths ---- */

/* The directory part of `path` with its trailing slash, or "" when the file
 * is in the current directory. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? pl_xstrndup(path, (size_t)(slash - path) + 1) : pl_xstrdup("");
}

static char *join_path(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir[0])
        return pl_xstrdup(p);
    size_t dl = strlen(dir), pl = strlen(p);
    int slash = dir[dl - 1] != '/';
    char *out = pl_xmalloc(dl + slash + pl + 1);
    memcpy(out, dir, dl);
    if (slash)
        out[dl] = '/';
    memcpy(out + dl + slash, p, pl + 1);
    return out;
}

static void resolve(const pl_cfg_ctx_t *cx, char **p)
{
    if (!*p)
        return;
    char *r = join_path(cx->base_dir, *p);
    free(*p);
    *p = r;
}

/* ---- sections ---- */

static void apply_defaults_or_die(const pl_conf_def_t *defs, void *base)
{
    char err[256];
    if (pl_conf_apply_defaults(defs, base, err, sizeof(err)) < 0)
        pl_die("config: core table: %s", err);
}

static void load_trace(pl_cfg_ctx_t *cx, pl_config_t *c, const config_setting_t *t)
{
    if (!t)
        return;
    if (!config_setting_is_array(t) && !config_setting_is_list(t)) {
        pl_cfg_err(cx, t,
                   "log: 'trace' must be an array of bare JIDs, e.g. [ \"alice@example.org\" ] "
                   "(got %s)",
                   pl_cfg_type_name(t));
        return;
    }
    size_t n = (size_t)config_setting_length(t);
    c->trace = pl_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(t, (unsigned)i);
        const char *s = config_setting_get_string(e);
        pl_jid_t j;
        if (!s) {
            pl_cfg_err(cx, e, "log: 'trace' entries must be strings (got %s)",
                       pl_cfg_type_name(e));
        } else if (pl_jid_parse(&j, s) < 0) {
            pl_cfg_err(cx, e, "log: trace entry \"%s\" is not a valid JID", s);
        } else {
            if (j.resource)
                pl_cfg_err(cx, e, "log: trace entry \"%s\" must be a bare JID (no /resource)", s);
            else
                c->trace[c->ntrace++] = pl_xstrdup(j.bare);
            pl_jid_deinit(&j);
        }
    }
}

static void load_listen_entry(pl_cfg_ctx_t *cx, const config_setting_t *e, pl_listen_conf_t *l)
{
    static const int default_port[] = {[PL_LISTEN_C2S] = 5222, [PL_LISTEN_C2S_TLS] = 5223,
                                       [PL_LISTEN_COMPONENT] = 5347};
    listen_in_t in = {.port = -1};
    if (pl_cfg_apply_group(cx, e, listen_defs, NULL, &in, "listen entry") < 0 &&
        !config_setting_is_group(e))
        return;
    if (!in.type)
        pl_cfg_err(cx, e, "listen entry: missing 'type' (c2s, c2s-tls or component)");
    if (in.type && strcmp(in.type, "c2s") == 0)
        l->kind = PL_LISTEN_C2S;
    else if (in.type && strcmp(in.type, "c2s-tls") == 0)
        l->kind = PL_LISTEN_C2S_TLS;
    else if (in.type && strcmp(in.type, "component") == 0)
        l->kind = PL_LISTEN_COMPONENT;
    if (l->kind) {
        if (!in.address)
            in.address = pl_xstrdup(l->kind == PL_LISTEN_COMPONENT ? "127.0.0.1" : "0.0.0.0");
        if (!config_setting_get_member(e, "port"))
            in.port = default_port[l->kind];
    }
    l->address = in.address;
    l->port = (int)in.port;
    free(in.type);
}

/* A listener's address in binary, for comparing two spellings of it. */
typedef struct listen_addr {
    int family;
    int wildcard;
    unsigned char bin[16];
} listen_addr_t;

static int listen_addr(const pl_listen_conf_t *l, listen_addr_t *out)
{
    static const unsigned char zero[16] = {0};
    memset(out, 0, sizeof(*out));
    if (!l->kind || !l->address || l->port <= 0)
        return -1;
    out->family = strchr(l->address, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(out->family, l->address, out->bin) != 1)
        return -1;
    out->wildcard = memcmp(out->bin, zero, sizeof(zero)) == 0;
    return 0;
}

static const char *format_hostport(char *buf, size_t len, const pl_listen_conf_t *l)
{
    if (strchr(l->address, ':'))
        snprintf(buf, len, "[%s]:%d", l->address, l->port);
    else
        snprintf(buf, len, "%s:%d", l->address, l->port);
    return buf;
}

static void load_listen(pl_cfg_ctx_t *cx, pl_config_t *c, const config_setting_t *list)
{
    if (!list) {
        pl_cfg_err(cx, NULL, "missing 'listen': at least one listener is required, e.g. "
                   "listen = ( { type = \"c2s\"; port = 5222; } );");
        return;
    }
    if (!config_setting_is_list(list)) {
        pl_cfg_err(cx, list, "'listen' must be a list ( { ... }, ... ) (got %s)",
                   pl_cfg_type_name(list));
        return;
    }
    c->nlisten = (size_t)config_setting_length(list);
    if (c->nlisten == 0)
        pl_cfg_err(cx, list, "'listen' is empty: at least one listener is required");
    c->listen = pl_xcalloc(c->nlisten, sizeof(pl_listen_conf_t));
    for (size_t i = 0; i < c->nlisten; i++)
        load_listen_entry(cx, config_setting_get_elem(list, (unsigned)i), &c->listen[i]);

    /* Two listeners on one port must not share an address, and a wildcard
     * address (0.0.0.0, ::) covers every address of its family.  With
     * SO_REUSEPORT a clash would not even fail to bind: connections would be
     * shared between the two silently.  Port 0 is a fresh port each time. */
    for (size_t i = 0; i < c->nlisten; i++) {
        listen_addr_t a;
        if (listen_addr(&c->listen[i], &a) < 0)
            continue;
        for (size_t j = 0; j < i; j++) {
            listen_addr_t b;
            if (listen_addr(&c->listen[j], &b) < 0 || a.family != b.family ||
                c->listen[i].port != c->listen[j].port)
                continue;
            int same = memcmp(a.bin, b.bin, sizeof(a.bin)) == 0;
            if (!same && !a.wildcard && !b.wildcard)
                continue;
            unsigned first = config_setting_source_line(config_setting_get_elem(list, (unsigned)j));
            const config_setting_t *at = config_setting_get_elem(list, (unsigned)i);
            char ha[80], hb[80];
            if (same)
                pl_cfg_err(cx, at, "duplicate listener %s (already used at line %u)",
                           format_hostport(ha, sizeof(ha), &c->listen[i]), first);
            else
                pl_cfg_err(cx, at, "listener %s overlaps %s (line %u)",
                           format_hostport(ha, sizeof(ha), &c->listen[i]),
                           format_hostport(hb, sizeof(hb), &c->listen[j]), first);
            break;
        }
    }
}

/* Replaces *name by its normalised form; returns -1 (leaving it) if it is
 * not a valid domain. */
static int normalise_domain(char **name)
{
    char *norm = pl_jid_norm_domain(*name, strlen(*name));
    if (!norm)
        return -1;
    free(*name);
    *name = norm;
    return 0;
}

static void load_components(pl_cfg_ctx_t *cx, pl_host_conf_t *h, const config_setting_t *list)
{
    if (!list)
        return;
    if (!config_setting_is_list(list)) {
        pl_cfg_err(cx, list, "host '%s': 'components' must be a list ( { ... }, ... ) (got %s)",
                   h->name, pl_cfg_type_name(list));
        return;
    }
    h->ncomponents = (size_t)config_setting_length(list);
    h->components = pl_xcalloc(h->ncomponents, sizeof(pl_component_conf_t));
    for (size_t i = 0; i < h->ncomponents; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        pl_component_conf_t *comp = &h->components[i];
        comp->line = (int)config_setting_source_line(e);
        if (pl_cfg_apply_group(cx, e, component_defs, NULL, comp, "component") < 0 &&
            !config_setting_is_group(e))
            continue;
        if (!comp->domain)
            pl_cfg_err(cx, e, "component: missing 'domain'");
        else if (normalise_domain(&comp->domain) < 0)
            pl_cfg_err(cx, config_setting_get_member(e, "domain"),
                       "component domain '%s' is not a valid domain name", comp->domain);
        if (!comp->secret)
            pl_cfg_err(cx, e, "component: missing 'secret'");
    }
}

static void load_host(pl_cfg_ctx_t *cx, const config_setting_t *e, size_t idx, pl_host_conf_t *h,
                      const pl_conf_module_t *reg, size_t nreg)
{
    h->line = (int)config_setting_source_line(e);
    apply_defaults_or_die(auth_defs, h);
    if (!config_setting_is_group(e)) {
        pl_cfg_err(cx, e, "each entry of 'hosts' must be a group { name = \"...\"; ... } (got %s)",
                   pl_cfg_type_name(e));
        return;
    }
    pl_cfg_apply_group(cx, e, host_defs, host_extra, h, "host");
    if (!h->name) {
        pl_cfg_err(cx, e, "host #%zu: missing 'name'", idx + 1);
        h->name = pl_xstrdup("?");
    } else if (normalise_domain(&h->name) < 0) {
        pl_cfg_err(cx, config_setting_get_member(e, "name"),
                   "host name '%s' is not a valid domain name", h->name);
    }
    char where[300];
    snprintf(where, sizeof(where), "host '%s' auth", h->name);
    pl_cfg_apply_group(cx, config_setting_get_member(e, "auth"), auth_defs, NULL, h, where);
    load_components(cx, h, config_setting_get_member(e, "components"));
    pl_cfg_host_modules(cx, h, config_setting_get_member(e, "modules"), reg, nreg);
}

/* Host names and component domains share one namespace: every stanza is
 * routed by domain, so each must be unique. */
static void check_domains(pl_cfg_ctx_t *cx, const pl_config_t *c, const config_setting_t *list)
{
    for (size_t i = 0; i < c->nhosts; i++) {
        const pl_host_conf_t *h = &c->hosts[i];
        for (size_t j = 0; h->name && j < i; j++) {
            if (c->hosts[j].name && strcmp(c->hosts[j].name, h->name) == 0) {
                pl_cfg_err(cx, config_setting_get_elem(list, (unsigned)i),
                           "duplicate host '%s' (already defined at line %d)", h->name,
                           c->hosts[j].line);
                break;
            }
        }
        const config_setting_t *clist =
            config_setting_get_member(config_setting_get_elem(list, (unsigned)i), "components");
        for (size_t k = 0; k < h->ncomponents; k++) {
            const pl_component_conf_t *comp = &h->components[k];
            const config_setting_t *at = config_setting_get_elem(clist, (unsigned)k);
            if (!comp->domain)
                continue;
            for (size_t hj = 0; hj < c->nhosts; hj++) {
                if (c->hosts[hj].name && strcmp(c->hosts[hj].name, comp->domain) == 0) {
                    pl_cfg_err(cx, at, "component domain '%s' is also a host name (line %d)",
                               comp->domain, c->hosts[hj].line);
                    break;
                }
            }
            /* Earlier components: those of earlier hosts, then this host's. */
            const pl_component_conf_t *first = NULL;
            for (size_t hj = 0; hj <= i && !first; hj++) {
                size_t upto = hj == i ? k : c->hosts[hj].ncomponents;
                for (size_t kj = 0; kj < upto && !first; kj++) {
                    const pl_component_conf_t *o = &c->hosts[hj].components[kj];
                    if (o->domain && strcmp(o->domain, comp->domain) == 0)
                        first = o;
                }
            }
            if (first)
                pl_cfg_err(cx, at, "duplicate component domain '%s' (already defined at line %d)",
                           comp->domain, first->line);
        }
    }
}

static void load_hosts(pl_cfg_ctx_t *cx, pl_config_t *c, const config_setting_t *list,
                       const pl_conf_module_t *reg, size_t nreg)
{
    if (!list) {
        pl_cfg_err(cx, NULL, "missing 'hosts': at least one host is required, e.g. "
                   "hosts = ( { name = \"example.org\"; } );");
        return;
    }
    if (!config_setting_is_list(list)) {
        pl_cfg_err(cx, list, "'hosts' must be a list ( { ... }, ... ) (got %s)",
                   pl_cfg_type_name(list));
        return;
    }
    c->nhosts = (size_t)config_setting_length(list);
    if (c->nhosts == 0)
        pl_cfg_err(cx, list, "'hosts' is empty: at least one host is required");
    c->hosts = pl_xcalloc(c->nhosts, sizeof(pl_host_conf_t));
    for (size_t i = 0; i < c->nhosts; i++)
        load_host(cx, config_setting_get_elem(list, (unsigned)i), i, &c->hosts[i], reg, nreg);
    check_domains(cx, c, list);
}

static void load_tls(pl_cfg_ctx_t *cx, pl_config_t *c, const config_setting_t *tls)
{
    if (!tls) {
        pl_cfg_err(cx, NULL, "missing 'tls': tls = { cert = \"...\"; key = \"...\"; }; is "
                   "required");
        return;
    }
    if (pl_cfg_apply_group(cx, tls, tls_defs, NULL, c, "tls") < 0 && !config_setting_is_group(tls))
        return;
    if (!c->tls_cert)
        pl_cfg_err(cx, tls, "tls: missing 'cert' (the certificate chain, PEM)");
    if (!c->tls_key)
        pl_cfg_err(cx, tls, "tls: missing 'key' (the private key, PEM)");
    resolve(cx, &c->tls_cert);
    resolve(cx, &c->tls_key);
}

/* Bounds that depend on each other. */
static void check_limits(pl_cfg_ctx_t *cx, const pl_config_t *c, const config_setting_t *limits)
{
    const pl_limits_conf_t *l = &c->limits;
    /* A resumption resends the whole unacknowledged queue at once: it must
     * fit in the output bound with room to spare, or resuming would end
     * the stream it resumes. */
    if (l->max_unacked_bytes > l->max_output_bytes / 2)
        pl_cfg_err(cx, limits,
                   "limits: 'max_unacked_bytes' (%lld) must be at most half of "
                   "'max_output_bytes' (%lld)",
                   l->max_unacked_bytes, l->max_output_bytes);
    /* The largest stanza must fit in what a peer may be sent. */
    if (l->max_stanza_bytes > l->max_unacked_bytes)
        pl_cfg_err(cx, limits,
                   "limits: 'max_stanza_bytes' (%lld) must be at most 'max_unacked_bytes' (%lld)",
                   l->max_stanza_bytes, l->max_unacked_bytes);
}

/* Reads everything from the parsed tree; returns the config or NULL. */
static pl_config_t *load_tree(pl_cfg_ctx_t *cx, const config_t *lc, const pl_conf_module_t *reg,
                              size_t nreg)
{
    const config_setting_t *root = config_root_setting(lc);
    pl_config_t *c = pl_xcalloc(1, sizeof(*c));
    apply_defaults_or_die(top_defs, c);
    apply_defaults_or_die(log_defs, c);
    apply_defaults_or_die(tls_defs, c);
    apply_defaults_or_die(storage_defs, c);
    apply_defaults_or_die(limits_defs, &c->limits);

    pl_cfg_apply_group(cx, root, top_defs, top_sections, c, NULL);
    const config_setting_t *log = config_setting_get_member(root, "log");
    pl_cfg_apply_group(cx, log, log_defs, log_extra, c, "log");
    if (log && config_setting_is_group(log))
        load_trace(cx, c, config_setting_get_member(log, "trace"));
    load_tls(cx, c, config_setting_get_member(root, "tls"));
    pl_cfg_apply_group(cx, config_setting_get_member(root, "storage"), storage_defs, NULL, c,
                       "storage");
    const config_setting_t *limits = config_setting_get_member(root, "limits");
    if (pl_cfg_apply_group(cx, limits, limits_defs, NULL, &c->limits, "limits") >= 0)
        check_limits(cx, c, limits);
    load_listen(cx, c, config_setting_get_member(root, "listen"));
    load_hosts(cx, c, config_setting_get_member(root, "hosts"), reg, nreg);

    resolve(cx, &c->data_dir);
    if (c->key_file)
        resolve(cx, &c->key_file);
    if (c->control_socket)
        resolve(cx, &c->control_socket);
    else
        c->control_socket = join_path(c->data_dir, "parleyd.sock");
    return c;
}

/* Parses with libconfig (already loaded into `lc`, or failed) and builds the
 * config; on any problem frees it and hands back every message. */
static pl_config_t *finish(config_t *lc, int parsed, const char *label, const char *base_dir,
                           const pl_conf_module_t *reg, size_t nreg, char **error)
{
    pl_cfg_ctx_t cx = {.label = label, .base_dir = base_dir};
    pl_config_t *c = NULL;
    if (!parsed && config_error_type(lc) == CONFIG_ERR_FILE_IO)
        pl_cfg_err_at(&cx, config_error_file(lc), 0, "cannot read the file");
    else if (!parsed)
        pl_cfg_err_at(&cx, config_error_file(lc), (unsigned)config_error_line(lc), "%s",
                      config_error_text(lc) ? config_error_text(lc) : "syntax error");
    else
        c = load_tree(&cx, lc, reg, nreg);
    char *report = pl_cfg_report(&cx);
    if (report)
        pl_config_free(&c);
    if (error)
        *error = report;
    else
        free(report);
    return c;
}

pl_config_t *pl_config_load_string(const char *text, const char *name,
                                   const pl_conf_module_t *modules, size_t nmodules, char **error)
{
    config_t lc;
    config_init(&lc);
    int parsed = config_read_string(&lc, text ? text : "");
    pl_config_t *c = finish(&lc, parsed, name && *name ? name : "<string>", "", modules, nmodules,
                            error);
    config_destroy(&lc);
    return c;
}

pl_config_t *pl_config_load(const char *path, const pl_conf_module_t *modules, size_t nmodules,
                            char **error)
{
    if (!path || !*path)
        return pl_config_load_string(pl_default_config_text(), "<built-in>", modules, nmodules,
                                     error);
    /* libconfig only says "file I/O error"; open it first for the reason. */
    FILE *f = fopen(path, "r");
    if (!f) {
        if (error) {
            pl_buf_t b;
            pl_buf_init(&b);
            pl_buf_printf(&b, "%s: cannot open: %s", path, strerror(errno));
            *error = pl_xstrdup(pl_buf_cstr(&b));
            pl_buf_deinit(&b);
        }
        return NULL;
    }
    fclose(f);
    char *dir = dir_of(path);
    config_t lc;
    config_init(&lc);
    if (dir[0])
        config_set_include_dir(&lc, dir); /* @include "x" is relative to the file too */
    int parsed = config_read_file(&lc, path);
    pl_config_t *c = finish(&lc, parsed, path, dir, modules, nmodules, error);
    if (c)
        c->path = pl_xstrdup(path);
    config_destroy(&lc);
    free(dir);
    return c;
}

void pl_config_free(pl_config_t **cp)
{
    pl_config_t *c = *cp;
    if (!c)
        return;
    *cp = NULL;
    free(c->path);
    free(c->data_dir);
    free(c->log_level);
    free(c->log_format);
    for (size_t i = 0; i < c->ntrace; i++)
        free(c->trace[i]);
    free(c->trace);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->tls_ciphers);
    free(c->control_socket);
    free(c->key_file);
    for (size_t i = 0; i < c->nlisten; i++)
        free(c->listen[i].address);
    free(c->listen);
    for (size_t i = 0; i < c->nhosts; i++) {
        pl_host_conf_t *h = &c->hosts[i];
        free(h->name);
        for (size_t k = 0; k < h->ncomponents; k++) {
            free(h->components[k].domain);
            free(h->components[k].secret);
        }
        free(h->components);
        pl_cfg_free_modules(h);
    }
    free(c->hosts);
    free(c);
}

const pl_host_conf_t *pl_config_host(const pl_config_t *c, const char *domain)
{
    if (!c || !domain)
        return NULL;
    for (size_t i = 0; i < c->nhosts; i++)
        if (strcmp(c->hosts[i].name, domain) == 0)
            return &c->hosts[i];
    /* Not found as given: try again with the normalised form ("Demo.Local."). */
    char *norm = pl_jid_norm_domain(domain, strlen(domain));
    const pl_host_conf_t *found = NULL;
    for (size_t i = 0; norm && i < c->nhosts && !found; i++)
        if (strcmp(c->hosts[i].name, norm) == 0)
            found = &c->hosts[i];
    free(norm);
    return found;
}
