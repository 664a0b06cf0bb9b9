/* server.h — what modules may ask of the server core beyond module.h: the
 * host's name, sessions' identities, the storage, and logging. */
#ifndef PL_SERVER_H
#define PL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/log.h"
#include "xmpp/errors.h"
#include "xmpp/jid.h"
#include "xmpp/stanza.h"

typedef struct pl_server pl_server_t;
typedef struct pl_host pl_host_t;
typedef struct pl_session pl_session_t;
typedef struct pl_storage pl_storage_t;

const char *pl_host_name(const pl_host_t *h);
pl_server_t *pl_host_server(const pl_host_t *h);
const pl_log_t *pl_server_log(const pl_server_t *srv);
pl_storage_t *pl_server_storage(pl_server_t *srv);
/* Number of stream sessions (clients and components) across all loops. */
size_t pl_server_session_count(const pl_server_t *srv);
/* The tenant a domain belongs to: the local host of that name, or the host
 * a component of that domain is configured on; NULL for anything else.
 * Tenant boundaries are decided with this, never by comparing domain
 * suffixes: sub.example.test may be another tenant, or nobody's. */
pl_host_t *pl_server_tenant_of(pl_server_t *srv, const char *domain);
/* 1 if `bare` has an account on a local host. */
int pl_server_account_exists(pl_server_t *srv, const char *bare);

/* A new identifier, unique on this server and increasing in time: 13
 * characters of Crockford base32 (0-9, A-Z without I L O U) encoding a
 * 64-bit count of microseconds since 1970, bumped by one when two ids fall
 * in the same microsecond, so ids sort as strings in the order they were
 * made.  Unique across restarts as long as the clock does not go back.  For
 * XEP-0359 stanza-ids, archive and offline keys. */
#define PL_ID_SIZE 14
void pl_server_new_id(pl_server_t *srv, char out[PL_ID_SIZE]);
/* The value an id encodes (its microsecond time), or 0 if `id` is not one. */
unsigned long long pl_id_value(const char *id);
/* Writes the id of `value` (the inverse of pl_id_value). */
void pl_id_format(unsigned long long value, char out[PL_ID_SIZE]);
/* A digest only this server can compute and that stays the same across
 * restarts: HMAC-SHA-256, under the server's own secret key (drawn once and
 * kept in the core's store, the key behind unknown names' SCRAM salts), of
 * `purpose` and `data`.  Each purpose (a fixed name without a newline, e.g.
 * "muc occupant-id") gives digests unrelated to any other purpose's and to
 * the salts.  For identifiers that must be stable yet reveal nothing of
 * what they are made from (XEP-0421 occupant ids). */
#define PL_KEYED_DIGEST_SIZE 32
void pl_server_keyed_digest(const pl_server_t *srv, const char *purpose, const void *data,
                            size_t len, uint8_t out[PL_KEYED_DIGEST_SIZE]);
/* Disco features/identities of every module enabled on the host, for
 * disco#info.  The callback is called once per item. */
void pl_host_each_feature(const pl_host_t *h, int account, void (*fn)(void *ud, const char *var),
                          void *ud);
void pl_host_each_identity(const pl_host_t *h, int account,
                           void (*fn)(void *ud, const char *category, const char *type,
                                      const char *name),
                           void *ud);
/* Component domains attached to the host (disco#items). */
void pl_host_each_component(const pl_host_t *h, void (*fn)(void *ud, const char *domain),
                            void *ud);
/* Service domains of the host's modules (pl_module_serve; disco#items). */
void pl_host_each_service(const pl_host_t *h, void (*fn)(void *ud, const char *domain), void *ud);

const pl_jid_t *pl_session_jid(const pl_session_t *s);
pl_host_t *pl_session_host(const pl_session_t *s);
const char *pl_session_ip(const pl_session_t *s);
int pl_session_is_available(const pl_session_t *s);
/* A number that grows with every new connection (older sessions have
 * smaller ids). */
unsigned long long pl_session_id(const pl_session_t *s);

/* ---- an account's bound resources, from any loop ----
 * Module handlers run on the loop of the session a stanza came from, so a
 * module must never touch another session's module state.  What others may
 * need to know about a session lives in the core, under the session table's
 * lock, and is read through this snapshot. */

/* Per-session marks kept by the core (set by the session's own loop, read
 * by anyone through pl_server_resources).  These are the ones more than one
 * module, or the core itself, reads or sets; a mark only one module uses
 * is one of its own session flags (module.h: session_flags,
 * pl_module_session_flag), which the core places above these. */
enum {
    PL_RES_ROSTER = 1u << 0,   /* asked for its roster: gets roster pushes (RFC 6121 §2.1.6);
                                  set by roster, read by roster and presence (xep/roster.c) */
    PL_RES_CARBONS = 1u << 1,  /* enabled XEP-0280 carbons (also inline by bind2): gets copies */
    PL_RES_DETACHED = 1u << 2, /* its connection died; stream management keeps it for a
                                  resumption (stanzas for it are queued, not read) */
};

typedef struct pl_resource {
    pl_session_t *session; /* holds a reference */
    const pl_jid_t *jid;   /* the session's full JID; stable while referenced */
    int available;         /* sent available presence and not unavailable since */
    int priority;
    unsigned flags;        /* PL_RES_* */
    pl_stanza_t *presence; /* its last broadcast presence (a reference), or NULL */
} pl_resource_t;

/* Snapshot of the bound sessions of `bare` (at most `max`); returns how many.
 * Release with pl_resources_release. */
size_t pl_server_resources(pl_server_t *srv, const char *bare, pl_resource_t *out, size_t max);
void pl_resources_release(pl_resource_t *r, size_t n);
/* Sends a stanza to exactly this session, whichever loop it lives on (from,
 * to and everything else as given: nothing is checked or rewritten). */
void pl_session_send_stanza(pl_session_t *s, const pl_stanza_t *st);
/* Ends the session's stream with a stream error, from any loop. */
void pl_session_kick(pl_session_t *s, const char *condition, const char *text);
/* Sets and clears marks on a session (its own loop only): the core's PL_RES_*
 * and the module's own (pl_module_session_flag). */
void pl_session_set_flags(pl_session_t *s, unsigned set, unsigned clear);
unsigned pl_session_flags(pl_session_t *s);
/* The last presence the session broadcast (a new reference, or NULL). */
pl_stanza_t *pl_session_presence(pl_session_t *s);

/* ---- requests the server itself sends ---- */
/* Sends an IQ get/set from the server (its 'from' is the host or an account
 * bare JID on it; 'to' must be set; an 'id' is assigned).  `done` runs once
 * on the loop that asked, with the result or error stanza, or with NULL
 * when nothing came back within timeout_ms (resolution about one second).
 * Returns 0, or <0 when the stanza lacks from/to.  Takes ownership of `iq`,
 * also when it fails (module.h: the _take suffix). */
typedef void (*pl_iq_done_fn)(void *ud, const pl_stanza_t *response);
int pl_server_send_iq_take(pl_server_t *srv, pl_stanza_t *iq, unsigned timeout_ms,
                           pl_iq_done_fn done, void *ud);

/* Queues a storage write job (storage/storage.h, pl_storage_write) through
 * the calling loop's storage port: `run` executes on the storage thread in
 * the next group commit, `done` back on this loop once it is durable.  Only
 * from a loop thread (a hook handler, a timer, a done callback).  0 or <0
 * (then neither callback runs). */
typedef struct pl_wtxn pl_wtxn_t;
int pl_server_write(pl_server_t *srv, int (*run)(pl_wtxn_t *txn, void *ud),
                    void (*done)(void *ud, int status), void *ud);

/* Runs `work(ud)` on a worker thread (the libuv thread pool), then
 * `done(ud)` on the calling loop: for slow reads (archive queries) that
 * must not hold up the loop.  `work` must not touch sessions or module
 * state that loops change; `done` may.  Only from a loop thread.  The loop
 * does not finish shutting down before `done` ran.  0 or <0 (then neither
 * callback runs). */
int pl_server_work(pl_server_t *srv, void (*work)(void *ud), void (*done)(void *ud), void *ud);

/* Changes an account's password (SCRAM keys with the host's iteration
 * count) asynchronously; `done` runs on the calling loop with 0 or <0. */
int pl_server_set_password(pl_server_t *srv, const char *bare, const char *password,
                           void (*done)(void *ud, int status), void *ud);

#endif
