/* config.h — the server configuration: one libconfig file, validated
 * completely (core keys and every enabled module's keys, with file and line
 * in each error) before the server starts.  A loaded configuration is an
 * immutable generation; SIGHUP loads a new one and applies what can change at
 * run time (TLS files, log level, limits). */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config/conf.h"

typedef enum pl_listen_kind {
    PL_LISTEN_C2S = 1,     /* XMPP client, STARTTLS */
    PL_LISTEN_C2S_TLS,     /* XMPP client, direct TLS (XEP-0368) */
    PL_LISTEN_COMPONENT,   /* XEP-0114 */
} pl_listen_kind_t;

typedef struct pl_listen_conf {
    pl_listen_kind_t kind;
    char *address; /* default "0.0.0.0" (c2s) or "127.0.0.1" (component) */
    int port;      /* 0 = ephemeral (tests); the bound port is logged */
} pl_listen_conf_t;

typedef struct pl_limits_conf {
    long long max_stanza_bytes;    /* 262144 */
    long long max_depth;           /* 32 */
    long long max_attrs;           /* 32 */
    long long max_name_len;        /* 256 */
    long long conn_per_ip;         /* 64 */
    long long auth_fail_per_ip;    /* failures before back-off starts, 5 */
    long long auth_fail_per_account; /* 5 */
    long long auth_backoff_max_ms; /* 60000 */
    long long stanza_rate;         /* stanzas per second per session, 200 */
    long long stanza_burst;        /* 400 */
    long long idle_timeout_ms;     /* 300000: ping after this much silence */
    long long ping_timeout_ms;     /* 60000: close if the ping gets no answer */
    long long auth_timeout_ms;     /* 30000: close unauthenticated streams */
    long long max_sessions_per_account; /* 16 */
    long long resume_timeout_ms;   /* 300000: how long a lost SM session waits; 0 = no resumption */
    long long max_unacked;         /* 10000: stanzas kept for a client that does not acknowledge */
    long long max_unacked_bytes;   /* 4 MiB: the same in bytes (connected or detached) */
    long long max_output_bytes;    /* 8 MiB: output held for a peer that does not read */
    long long max_tracked_failures;      /* 50000: records per back-off table (IPs, accounts) */
    long long component_fail_per_ip;     /* 5: failed component handshakes before back-off */
    long long component_fail_per_domain; /* 5 */
    long long max_pending_iqs;     /* 10000: IQs the server sent and still waits to hear about */
} pl_limits_conf_t;

typedef struct pl_component_conf {
    char *domain; /* e.g. "bot.demo.local" */
    char *secret;
    int line;
} pl_component_conf_t;

/* What the loader knows of a compiled-in module: the core describes its
 * module registry this way (pl_module_conf_views), so this layer needs
 * nothing of the module interface.  Every pointer is to the module's own
 * static data. */
typedef struct pl_conf_module {
    const char *name;
    const pl_conf_def_t *conf;                  /* its keys (NULL-key terminated), or NULL */
    size_t conf_size;                           /* bytes of its config struct */
    const char *const *requires, *const *wants; /* module names, NULL-terminated */
    const char *refused; /* why it cannot be enabled (e.g. built for another ABI), or NULL */
} pl_conf_module_t;

/* One enabled module on one host: which module (its index in the list the
 * loader was given, the core's registry), what the loader knew of it, and
 * its validated config struct (info.conf_size bytes). */
typedef struct pl_module_conf {
    size_t module;
    pl_conf_module_t info;
    void *conf;
    int line;
} pl_module_conf_t;

typedef struct pl_host_conf {
    char *name; /* normalised domain */
    pl_module_conf_t *modules;
    size_t nmodules;
    pl_component_conf_t *components;
    size_t ncomponents;
    int allow_plain;        /* PLAIN over TLS, default true */
    long long scram_iterations; /* 4096..10000000, default 10000 */
    long long fast_lifetime_ms; /* FAST token lifetime, default 14 days; 0 = no FAST */
    int line;
} pl_host_conf_t;

typedef struct pl_config {
    char *path;
    char *data_dir;    /* default "./data" */
    char *log_level;   /* error|warn|info|debug, default info */
    char *log_format;  /* "text" (key=value) or "json" */
    char **trace;      /* bare JIDs whose traffic is logged at debug */
    size_t ntrace;
    long long loops;   /* event loops, default 1 */
    char *tls_cert;    /* PEM */
    char *tls_key;
    char *tls_ciphers; /* optional TLS 1.2 cipher list */
    char *control_socket; /* default "<data_dir>/parleyd.sock" */
    pl_listen_conf_t *listen;
    size_t nlisten;
    pl_limits_conf_t limits;
    pl_host_conf_t *hosts;
    size_t nhosts;
    long long lmdb_map_size;
    char *key_file; /* storage.key_file: encryption at rest, or NULL */
} pl_config_t;

/* Loads and validates `path` (NULL or "" with `embedded` = the built-in
 * default text).  `modules`/`nmodules` is the registry of compiled-in
 * modules.  On error returns NULL and a message "FILE:LINE: what is wrong"
 * (one line per problem) in *error (caller frees). */
pl_config_t *pl_config_load(const char *path, const pl_conf_module_t *modules, size_t nmodules,
                            char **error);
/* Same, from a string (tests, embedded default); `name` labels errors. */
pl_config_t *pl_config_load_string(const char *text, const char *name,
                                   const pl_conf_module_t *modules, size_t nmodules, char **error);
void pl_config_free(pl_config_t **cp);
const pl_host_conf_t *pl_config_host(const pl_config_t *c, const char *domain);

/* Applies a conf[] table to a struct: defaults first (used by the loader, and
 * by tests).  Returns 0 or -1 with a message. */
int pl_conf_apply_defaults(const pl_conf_def_t *defs, void *base, char *err, size_t errlen);
/* Frees the heap strings a conf[] table put in `base`. */
void pl_conf_free_fields(const pl_conf_def_t *defs, void *base);
/* Parses "30s"/"500ms"/"10m"/"2h"/"7d"/plain number (= seconds) into ms. */
int pl_conf_parse_duration(const char *s, long long *ms);
/* Parses "64k"/"10M"/"1G"/plain number into bytes. */
int pl_conf_parse_size(const char *s, long long *bytes);

#endif
