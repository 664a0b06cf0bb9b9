/* module.h — the module interface.  Every feature beyond the stream itself is
 * a module: one const descriptor, listed in modules/registry.c, enabled per
 * host in the config.  The core validates the module's config keys, orders
 * modules by dependency, indexes their hooks so a handler only sees what it
 * asked for, advertises their disco features, and removes everything they
 * registered when they stop.  Modules include server/ public headers, xep/
 * and storage/ interfaces — never another module's header. */
#ifndef PL_MODULE_H
#define PL_MODULE_H

#include <stddef.h>

#include "config/conf.h"
#include "xmpp/errors.h"
#include "xmpp/jid.h"
#include "xmpp/stanza.h"

/* Raised whenever the descriptor's layout or meaning changes (2: session
 * flags handed out by the core, no reload callback). */
#define PL_MODULE_ABI 2

typedef struct pl_server pl_server_t;
typedef struct pl_host pl_host_t;
typedef struct pl_session pl_session_t;
typedef struct pl_module_ctx pl_module_ctx_t;
typedef struct pl_kv pl_kv_t;
typedef struct pl_wtxn pl_wtxn_t;

typedef enum pl_hook_result { PL_PASS = 0, PL_DONE = 1 } pl_hook_result_t;

/* Events a module can hook. */
typedef enum pl_event {
    /* An IQ get/set whose payload (first child) matches ns/element,
     * addressed to a target this hook covers.  Unclaimed ones get
     * service-unavailable from the core. */
    PL_EV_IQ = 1,
    /* A message / presence addressed to a covered target, before the router
     * delivers it to sessions.  PL_DONE consumes it. */
    PL_EV_MESSAGE,
    PL_EV_PRESENCE,
    /* Every stanza from a local session or component, before routing (policy,
     * filters).  PL_DONE drops it (the handler answers the sender). */
    PL_EV_PRE_ROUTE,
    /* Observers: a session became available for routing / ended.  The
     * stanza is NULL; pl_hook_ctx_t.session is set. */
    PL_EV_SESSION_BOUND,
    PL_EV_SESSION_CLOSED,
    /* A stanza the router could not deliver to any session (after the
     * message/presence hooks passed): the place for offline storage. */
    PL_EV_UNDELIVERED,
    /* Observers: a message for a local account that is not delivered,
     * e.g. a group's message for a member (pl_notify).  No session gets it
     * and the offline store does not keep it; the inbox counts it, push
     * tells a sleeping phone.  pl_hook_ctx_t.notify holds PL_NOTIFY_* flags.
     * Every hook runs (PL_DONE stops nothing); targets: PL_TO_BARE. */
    PL_EV_NOTIFY,
    PL_EV__COUNT
} pl_event_t;

/* Which addressee a hook covers (a bit set). */
enum {
    PL_TO_HOST = 1u << 0, /* to="domain" (the server itself), or no 'to' */
    PL_TO_BARE = 1u << 1, /* to="user@domain" */
    PL_TO_FULL = 1u << 2, /* to="user@domain/resource" */
    PL_TO_SELF = 1u << 3, /* the sender's own bare JID (or no 'to' from a client) */
    PL_TO_ANY = 0xfu,     /* every addressee above; not a module's service */
    /* Addressees at the service domain the hook's own module serves on its
     * host (pl_module_serve), e.g. a group service: only hooks that name
     * one of these bits see such stanzas, and only their module's. */
    PL_TO_SVC_DOMAIN = 1u << 4, /* to="groups.example.com" */
    PL_TO_SVC_BARE = 1u << 5,   /* to="room@groups.example.com" */
    PL_TO_SVC_FULL = 1u << 6,   /* to="room@groups.example.com/nick" */
    PL_TO_SVC_ANY = 0x70u,
};

/* Priority bands: higher runs first. */
enum {
    PL_PRIO_FILTER = 1000,  /* policy, blocking, limits */
    PL_PRIO_HANDLER = 500,  /* the feature itself */
    PL_PRIO_FALLBACK = 100, /* defaults */
    PL_PRIO_OBSERVER = 0,   /* archive, carbons, stats: run after delivery decisions */
};

typedef struct pl_hook_ctx pl_hook_ctx_t;
typedef pl_hook_result_t (*pl_hook_fn)(pl_hook_ctx_t *hc);

typedef struct pl_hook_def {
    pl_event_t event;
    unsigned targets;    /* PL_TO_* bits; 0 = PL_TO_ANY */
    /* Payload namespace.  IQ: the first child's namespace, or NULL for any
     * payload (e.g. a service that forwards every IQ to room/nick; give such
     * a hook a lower priority than the specific ones of the same targets).
     * Others: optional child filter. */
    const char *ns;
    const char *element; /* payload element name, NULL = any */
    const char *type;    /* IQ "get"/"set", message/presence type; NULL = any */
    int priority;
    pl_hook_fn handler;
    /* PL_EV_NOTIFY only, optional: runs once at the end of a pl_notify or
     * pl_notify_many call (on the same loop, after the handler ran for
     * every addressee), with what the handler left in *hc->batch, when it
     * left something there.  So a module can do one thing per batch (the
     * inbox queues one storage write for all the members a group's message
     * notifies) instead of one per addressee. */
    void (*batch_end)(pl_module_ctx_t *mod, void *batch);
} pl_hook_def_t;

typedef struct pl_identity {
    const char *category, *type, *name;
} pl_identity_t;

typedef enum pl_store_kind { PL_STORE_KV = 1, PL_STORE_ARCHIVE } pl_store_kind_t;
typedef struct pl_store_def {
    const char *name;
    pl_store_kind_t kind;
    int schema_version;
} pl_store_def_t;

/* The descriptor.  Arrays end with a zeroed entry (or NULL pointer). */
typedef struct pl_module_desc {
    const char *name;
    int abi; /* PL_MODULE_ABI */
    const char *description;
    const char *const *requires; /* hard dependencies (module names) */
    const char *const *wants;    /* soft: ordered before us when enabled */
    const pl_conf_def_t *conf;
    size_t conf_size;            /* sizeof the module's config struct */
    const char *const *features; /* disco features on the host */
    const char *const *account_features; /* disco features on user@host */
    const pl_identity_t *identities;
    const pl_store_def_t *stores;
    const pl_hook_def_t *hooks;
    /* Lifecycle.  init: config is valid, read keys/files; start: storage is
     * open; stop: release.  All optional.  Return 0 or negative.  There is
     * no reload: a module keeps the config generation its host started
     * with until the server restarts (docs/ARCHITECTURE.md, Deviations). */
    int (*init)(pl_module_ctx_t *ctx);
    int (*start)(pl_module_ctx_t *ctx);
    void (*stop)(pl_module_ctx_t *ctx);
    /* Per-session state slot: zeroed bytes reserved in every session. */
    size_t session_state_size;
    /* Session flags: how many marks the module sets on sessions (with
     * pl_session_set_flags) for handlers on other loops to read in a
     * pl_server_resources snapshot.  The core reserves that many bits for
     * the module on every host where it is enabled, after its own PL_RES_*
     * marks, so no two modules share a bit; the module gets them with
     * pl_module_session_flag.  A host whose modules ask for more bits than
     * there are does not start. */
    unsigned session_flags;
    /* Stream features offered to clients after authentication, next to
     * <bind/>, while the module is enabled on the host: raw XML snippets,
     * e.g. "<ver xmlns='urn:xmpp:features:rosterver'/>". */
    const char *const *stream_features;
    /* Disco identities on user@host (e.g. pubsub/pep), next to the core's
     * account/registered. */
    const pl_identity_t *account_identities;
    /* 1: messages to this host's accounts carry a server-assigned XEP-0359
     * <stanza-id by='user@host'/> (see pl_server_new_id) before any message
     * hook runs, for modules that store them (archive, offline) and for
     * clients that drop redelivered copies by it. */
    int stanza_ids;
    /* Deleting the account `bare` (parleyctl user del): removes what the
     * module keeps for it that the core's sweep does not reach.  The core
     * deletes, in the same write transaction as the account record, the
     * key `bare` and every key starting with `bare` '\0' in every store
     * (pl_storage_forget_account) — so a module that keys its per-account
     * records that way needs nothing here.  This is for the rest: secondary
     * indexes, SQLite rows (archive), other accounts' records that point at
     * this one (subscriptions).  It runs first, inside that transaction, on
     * the storage thread or in parleyctl when the server is down, for every
     * compiled-in module whether or not it is enabled on the account's host
     * (data may predate a configuration change): so no module context, no
     * config, no loop; find repositories by name.  0, or <0 to fail the
     * whole deletion.  What online users are to be told afterwards (roster
     * pushes) goes in *note, for account_removed_after. */
    int (*account_removed)(pl_wtxn_t *txn, const char *bare, void **note);
    /* After account_removed left a note: with `srv`, the deletion committed
     * and the server runs (called on its control loop), so tell whom it
     * concerns; with srv NULL (the transaction failed, or parleyctl worked
     * on a stopped server) only free the note. */
    void (*account_removed_after)(pl_server_t *srv, const char *bare, void *note);
} pl_module_desc_t;

/* ---- what a handler gets ---- */
struct pl_hook_ctx {
    pl_server_t *server;
    pl_host_t *host;          /* the host the stanza is addressed to (or the sender's) */
    pl_module_ctx_t *module;  /* the module whose hook is running */
    const pl_stanza_t *stanza; /* borrowed; pl_stanza_ref to keep */
    const pl_xml_t *payload;  /* the matched child (IQ payload), or NULL */
    const pl_jid_t *from;     /* sender, normalised (never NULL for routed stanzas) */
    const pl_jid_t *to;       /* addressee (the host JID when 'to' was absent) */
    pl_session_t *session;    /* the local session it came from, or NULL */
    const char *type;         /* the 'type' attribute or "" */
    const char *id;           /* the 'id' attribute or "" */
    unsigned notify;          /* PL_EV_NOTIFY: PL_NOTIFY_* flags; 0 for other events */
    /* PL_EV_NOTIFY: this hook's slot for the batch of addressees (NULL at
     * the first one); what the handler stores there goes to the hook's
     * batch_end.  NULL for other events. */
    void **batch;
};

/* The module's own context on one host. */
const void *pl_module_conf(const pl_module_ctx_t *ctx);
void *pl_module_data(const pl_module_ctx_t *ctx);      /* module-owned pointer */
void pl_module_set_data(pl_module_ctx_t *ctx, void *data);
pl_host_t *pl_module_host(const pl_module_ctx_t *ctx);
pl_server_t *pl_module_server(const pl_module_ctx_t *ctx);
const char *pl_module_name(const pl_module_ctx_t *ctx);
/* A store declared in stores[] (opened at start). */
pl_kv_t *pl_module_store(const pl_module_ctx_t *ctx, const char *name);
/* This module's per-session slot in `s` (session_state_size bytes). */
void *pl_module_session_state(const pl_module_ctx_t *ctx, pl_session_t *s);
/* The i-th session flag the core reserved for this module on its host
 * (0 <= i < the descriptor's session_flags): one bit, to set and clear with
 * pl_session_set_flags and to test in pl_resource_t.flags.  The same bit
 * may belong to another module on another host, so test it only on
 * sessions of this module's host.  Aborts for a flag the descriptor did
 * not reserve. */
unsigned pl_module_session_flag(const pl_module_ctx_t *ctx, unsigned i);
/* From init only: stanzas to `domain` (e.g. "groups.example.com") and to
 * JIDs at it go to this module's hooks on this host that name a
 * PL_TO_SVC_* target; an IQ get/set none of them takes gets
 * service-unavailable, other stanzas are dropped.  The host lists the
 * domain in its disco#items.  One domain per module and host.  0, or
 * -EINVAL (not a domain), -EEXIST (a host, a component or another
 * service already has it), -EALREADY (this module already serves one
 * here). */
int pl_module_serve(pl_module_ctx_t *ctx, const char *domain);
/* The domain this module serves on its host, or NULL. */
const char *pl_module_service(const pl_module_ctx_t *ctx);
/* The context of the module named `name` enabled on host `h`, or NULL
 * (not enabled there, or `h` NULL).  For the callbacks that get the server
 * but no context (account_removed_after): find the host with
 * pl_server_tenant_of, then the module's own state with pl_module_data
 * (NULL until its init ran). */
pl_module_ctx_t *pl_host_module(pl_host_t *h, const char *name);

/* ---- replies and routing from a handler ----
 * Who owns a stanza is in the name.  A function whose name ends in _take
 * takes ownership of the stanza reference it is given: the caller's
 * reference is consumed whatever becomes of the stanza, so the caller
 * neither uses nor unrefs it afterwards (hand it pl_stanza_ref(st) to keep
 * one of its own).  Every other function borrows the stanza for the call. */
/* Sends an IQ result to the sender; `payload` (may be NULL) is copied in. */
void pl_reply_result(pl_hook_ctx_t *hc, const pl_xml_t *payload);
/* Sends a ready-made stanza back to the sender, filling in from/to/id
 * where missing.  Takes ownership of `reply`. */
void pl_reply_take(pl_hook_ctx_t *hc, pl_stanza_t *reply);

void pl_reply_error(pl_hook_ctx_t *hc, pl_stanza_err_t cond, const char *text);

/* Answers an IQ request later, outside its hook (after a write committed):
 * an empty result when cond is 0, else that error.  The answer comes from
 * the request's 'to', or from the sender's bare JID when it had none. */
void pl_reply_later(pl_server_t *srv, const pl_stanza_t *request, pl_stanza_err_t cond,
                    const char *text);

/* Routes a stanza as if it came from its 'from' address; from/to must be
 * set.  Takes ownership of `st` (pl_router_route, inside the core, borrows). */
void pl_route_take(pl_server_t *srv, pl_stanza_t *st);

/* PL_EV_NOTIFY: tells the modules of a local account's host about a
 * message for that account without delivering it to any session or to the
 * offline store (a group's message for each of its members: the inbox
 * counts it, push wakes a phone).  `st` has from/to set, 'to' a bare JID
 * of a local account (anything else, a missing or disabled account, is
 * ignored).  The NOTIFY hooks run here, on the calling loop, each of them
 * (observers), with hc->notify = flags.  Borrows `st`. */
enum {
    PL_NOTIFY_PUSH = 1u << 0,    /* the sender (a room) wants this pushed to sleeping clients */
    PL_NOTIFY_MENTION = 1u << 1, /* the addressee is mentioned in it */
};
void pl_notify(pl_server_t *srv, const pl_stanza_t *st, unsigned flags);
/* The same message `st` for n addressees as one batch: to[i] (a local
 * account's bare JID) with flags[i].  The hooks see `st` itself (its own
 * 'to' is not read: the room's message as members see it) with hc->to the
 * addressee, so no copy is made per addressee.  Each NOTIFY hook runs for
 * every addressee, in order, then each hook's batch_end once (a change of
 * host among the addressees ends the batch of the previous one).  A
 * group's message for its members.  Borrows `st` and `to`. */
void pl_notify_many(pl_server_t *srv, const pl_stanza_t *st, const char *const *to,
                    const unsigned *flags, size_t n);
/* 1 when some module of the host `domain` hooks PL_EV_NOTIFY: a caller
 * that gathers the addressees asks first, so that a host without inbox or
 * push pays nothing. */
int pl_notify_wanted(pl_server_t *srv, const char *domain);

/* Calls fn(ctx) every interval_ms (resolution: one second) on the first
 * event loop, until the module stops.  Call from init or start.  Since hook
 * handlers run on every loop, state fn shares with them needs a lock. */
int pl_module_every(pl_module_ctx_t *ctx, unsigned interval_ms, void (*fn)(pl_module_ctx_t *ctx));

/* Logging from a module, tagged with its name. */
void pl_module_log(const pl_module_ctx_t *ctx, int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
