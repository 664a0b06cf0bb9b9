/* core.h — the server's private structures: the server context, hosts,
 * event loops, sessions and the session table.  Only server/ includes this;
 * modules see these types as opaque and use server.h / module.h. */
#ifndef PL_CORE_H
#define PL_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "core/module.h"
#include "core/server.h"
#include "lib/log.h"
#include "lib/map.h"
#include "lib/tls.h"
#include "xmpp/jid.h"
#include "xmpp/ns.h"
#include "xmpp/route-rules.h"
#include "xmpp/scram.h"
#include "xmpp/stanza.h"
#include "xmpp/xml.h"

typedef struct pl_storage pl_storage_t;
typedef struct pl_storage_port pl_storage_port_t;
typedef struct pl_loop pl_loop_t;

/* ---- modules on a host ---- */
/* Session flags (pl_session_t.res_flags): the core's PL_RES_* marks below
 * this bit, the bits modules reserve (session_flags) from it up. */
#define PL_RES_FIRST_MODULE_BIT 8u
#define PL_RES_BITS 32u

struct pl_module_ctx {
    const pl_module_desc_t *desc;
    pl_host_t *host;
    const void *conf;
    void *data;
    size_t state_offset; /* into pl_session_t.mod_state */
    unsigned flag_first; /* the module's session flags: bits flag_first.. */
    unsigned nflags;     /* ..flag_first + nflags - 1 of res_flags */
    pl_kv_t **stores;    /* parallel to desc->stores */
    char *service;       /* the domain it serves (pl_module_serve), or NULL */
    int started;
};

typedef struct pl_hook_entry {
    const pl_hook_def_t *def;
    pl_module_ctx_t *mod;
    size_t module; /* the module's place on the host (h->mods) */
    size_t index;  /* the hook's place in its module's hooks[] */
} pl_hook_entry_t;

struct pl_host {
    pl_server_t *server;
    char *name;
    const pl_host_conf_t *conf;
    pl_module_ctx_t *mods;
    size_t nmods;
    pl_hook_entry_t *hooks[PL_EV__COUNT]; /* in running order (pl_hooks_sort) */
    size_t nhooks[PL_EV__COUNT];
    size_t session_state_size;
    int stamp_ids; /* an enabled module asked for XEP-0359 stanza-ids on messages */
};

/* ---- components (XEP-0114) ---- */
typedef struct pl_component {
    char *domain;
    char *secret;
    pl_host_t *host;         /* the tenant the component belongs to */
    pl_session_t *session;   /* the connected stream, or NULL (guarded by server->comp_lock) */
} pl_component_t;

/* ---- limits.c: connection counts and back-off tables (private) ---- */
typedef struct pl_limits_tables pl_limits_tables_t;

/* ---- the session table: bare JID -> bound sessions, sharded ---- */
#define PL_SESSION_SHARDS 64

typedef struct pl_session_list {
    pl_session_t **items;
    size_t n, cap;
} pl_session_list_t;

typedef struct pl_session_shard {
    pthread_mutex_t lock;
    pl_map_t by_bare; /* bare JID -> pl_session_list_t* */
} pl_session_shard_t;

/* ---- the server context ---- */
struct pl_server {
    pl_config_t *config;
    pl_log_t log;
    pl_storage_t *storage;
    pthread_mutex_t tls_lock;
    pl_tls_ctx_t *tls; /* swapped on reload under tls_lock */
    pl_host_t **hosts;
    size_t nhosts;
    pl_map_t hosts_by_name; /* read-only after start */
    pthread_mutex_t comp_lock;
    pl_map_t components; /* domain -> pl_component_t* */
    /* Service domains of modules (pl_module_serve): domain ->
     * pl_module_ctx_t*.  Filled while hosts are created, before any loop
     * runs, and only read after that, so it needs no lock. */
    pl_map_t services;
    pl_session_shard_t shards[PL_SESSION_SHARDS];
    pthread_mutex_t limits_lock;
    pl_limits_tables_t *limits_tables; /* per IP, account, component (limits.c) */
    /* The limits in force, read with pl_server_limits: a copy of the
     * config's, replaced whole by a reload.  Loops read it without a lock,
     * so no generation is changed or freed while the server runs; each
     * stays on `limits_gens` until pl_server_free. */
    const pl_limits_conf_t *_Atomic limits;
    struct pl_limits_gen *limits_gens;
    pl_loop_t **loops;
    size_t nloops;
    atomic_uint_fast64_t next_session_id;
    atomic_uint_fast64_t last_id; /* pl_server_new_id: the last value handed out */
    atomic_int shutting_down;
    atomic_size_t session_count;
    int exit_code;
    const pl_module_desc_t *const *registry;
    size_t nregistry;
    pl_config_t *reloaded; /* the newest generation read by SIGHUP */
    pthread_mutex_t req_lock;
    pl_kv_t *fast_kv;                /* FAST tokens (c2s/sasl2.c) */
    uint8_t unknown_name_key[32];    /* salts for names without an account (never logged) */
    struct pl_seal *seal;            /* storage.key_file: encryption at rest, or NULL */
    pthread_mutex_t fast_lock;
    pl_map_t fast_counts;   /* "bare/user-agent/token digest" -> replay state (c2s/sasl2.c) */
    uint64_t fast_swept_ms; /* when fast_counts last forgot old entries */
    pthread_mutex_t sm_lock;
    pl_map_t resumable;              /* SM resumption id -> session (a reference) */
    pl_map_t pending_iqs;            /* id -> IQs the server sent, awaiting answers */
    size_t pending_refused;          /* IQs not sent since the last tick: limits.max_pending_iqs */
    struct pl_mod_timer *mod_timers; /* pl_module_every, run on loop 0 */
    uv_timer_t tick;                 /* one-second tick on loop 0 */
    uint64_t next_iq_id;
    uv_signal_t sig_hup, sig_term, sig_int;
    struct pl_control *control;
};

/* The limits in force (pl_server_t.limits). */
static inline const pl_limits_conf_t *pl_server_limits(const pl_server_t *srv)
{
    return atomic_load_explicit(&((pl_server_t *)srv)->limits, memory_order_acquire);
}

/* ---- one event loop ---- */
/* Work handed to a loop by another thread: a stanza for one of its
 * sessions, a stream error to end one of them, or a call. */
typedef struct pl_inbox_item {
    struct pl_inbox_item *next;
    pl_session_t *session; /* holds a reference (NULL for calls) */
    pl_stanza_t *stanza;   /* holds a reference, or NULL */
    char *condition, *text; /* stream error to end `session` with (when no stanza) */
    void (*call)(void *ud, pl_stanza_t *st); /* a call on the loop, given `stanza` */
    void *ud;
} pl_inbox_item_t;

struct pl_loop {
    pl_server_t *server;
    unsigned index;
    uv_loop_t uv;
    uv_thread_t thread;
    uv_async_t wake; /* cross-loop deliveries and commands */
    pthread_mutex_t inbox_lock;
    pl_inbox_item_t *inbox_head, *inbox_tail;
    atomic_int stop_requested;
    uv_check_t flush_check; /* writes queued during this iteration go out here */
    uv_idle_t flush_idle;   /* keeps poll from blocking while writes are queued */
    pl_session_t *dirty;    /* sessions with queued output */
    uv_tcp_t *listeners;
    pl_listen_kind_t *listener_kinds;
    size_t nlisteners;
    uv_timer_t housekeeping; /* at shutdown: waits for the storage port to drain */
    unsigned housekeeping_ticks;
    uint64_t drain_deadline; /* shutdown: when to stop waiting for writes (mono ms) */
    pl_storage_port_t *storage_port;
    char readbuf[65536]; /* shared by every connection on the loop: reads are
                            processed synchronously, so one buffer suffices */
    int readbuf_busy;
    pl_session_t *sessions; /* every live session of this loop (doubly linked) */
    pl_session_t *hibernating; /* detached SM sessions awaiting resumption (sm.c) */
};

/* ---- a stream: one session per connection, of a kind ----
 * A session is the machinery every stream shares (session.c: the socket,
 * TLS, the XML parser, output, limits, the close path) plus a stream kind
 * that says what the stream means: client streams (core/c2s/) or XEP-0114
 * components (component.c).  The kind is an ops table chosen by the
 * listener when the session is made; session.c calls only through it and
 * knows no kind by name.  A kind keeps its own state on `s->stream` (made
 * by its `open` op, freed by its `free` op). */

/* What a stream kind holds for its peer besides the output buffer (the
 * counters of `parleyctl stats`). */
typedef struct pl_session_held {
    size_t unacked, unacked_bytes; /* sent, kept until the peer acknowledges them (SM) */
    size_t held, held_bytes;       /* held back while the peer is inactive (CSI) */
    size_t early;                  /* arrived while a resumption was handed over */
} pl_session_held_t;

/* How a connection ends.  Every way a stream can end (the peer's
 * </stream:stream>, EOF, a read/write/TLS error, a peer that does not
 * read, a timeout, a conflict, shutdown, any stream error) goes through
 * pl_session_end, so the session always leaves the table (or is detached
 * for an SM resumption), the modules are told, and its memory goes. */
typedef enum pl_end_how {
    PL_END_GOODBYE, /* orderly: </stream:stream> (after a stream error, if any) is written */
    PL_END_LOST,    /* the peer vanished (EOF, no answer to a ping): SM may keep the session */
    PL_END_BROKEN,  /* the socket or TLS failed: nothing more is written; SM may keep it */
    PL_END_SLOW,    /* the peer does not read: its output is dropped at once; SM may keep it */
} pl_end_how_t;

typedef struct pl_stream_ops {
    const char *name; /* "c2s", "component": for logs */
    /* Our stream header: its default namespace, and whether it carries
     * version='1.0' and xml:lang (RFC 6120; XEP-0114 streams do not). */
    const char *content_ns;
    int header_version;
    /* The session was made: the kind's state on s->stream (optional). */
    void (*open)(pl_session_t *s);
    /* The peer's stream header, then each top-level element it sends. */
    void (*stream_open)(pl_session_t *s, const pl_stream_header_t *h);
    void (*stanza)(pl_session_t *s, pl_stanza_t *st);
    /* TLS came up under the stream; the parser already expects a new
     * stream header (optional). */
    void (*secured)(pl_session_t *s);
    /* The session's timer fired (login time, idleness). */
    void (*timer)(pl_session_t *s);
    /* A routed stanza for the peer, on the session's loop (optional: sent
     * as is unless the session has ended; pl_session_deliver_now). */
    void (*deliver)(pl_session_t *s, const pl_stanza_t *st);
    /* A stanza is queued for the peer (optional: stream management keeps it). */
    void (*sending)(pl_session_t *s, const pl_stanza_t *st);
    /* Output is about to be written (optional: SM appends its <r/>). */
    void (*before_flush)(pl_session_t *s);
    /* The stream ended (pl_session_end): undo what it meant. */
    void (*closed)(pl_session_t *s, pl_end_how_t how);
    /* What it holds for the peer (optional: nothing). */
    void (*held)(const pl_session_t *s, pl_session_held_t *h);
    /* The session is freed: the kind's state goes (optional). */
    void (*free)(pl_session_t *s);
} pl_stream_ops_t;

/* ---- transports: how a session's bytes reach its peer ----
 * Under the kind, a session has a transport: the TCP one (tcp.c: a
 * socket, TLS on memory BIOs, RFC 6120's <stream:stream> framing) is
 * attached by pl_session_accept / pl_session_open_fd.  A transport that
 * frames the stream differently (WebSocket, RFC 7395; BOSH, XEP-0124/0206)
 * brings its own table and feeds what it decodes to pl_session_input; the
 * kinds do not change (docs/ARCHITECTURE.md, "Stream kinds and
 * transports"). */

/* Our stream header, as the kind wants it. */
typedef struct pl_stream_open {
    const char *content_ns; /* the stream's default namespace */
    const char *id;
    const char *from; /* or NULL */
    int version;      /* version='1.0' and xml:lang='en' */
} pl_stream_open_t;

typedef struct pl_transport_ops {
    const char *name; /* "tcp" */
    /* Our side of the stream framing, appended to `out` before it is
     * queued like an element: the header (RFC 6120 <stream:stream>, RFC
     * 7395 <open/>) and the end (</stream:stream>, <close/>). */
    void (*open_stream)(pl_session_t *s, const pl_stream_open_t *o, pl_buf_t *out);
    void (*close_stream)(pl_session_t *s, pl_buf_t *out);
    /* One complete element into the output (optional: appended as is; a
     * WebSocket transport makes it one message). */
    void (*frame)(pl_session_t *s, pl_buf_t *out, const char *data, size_t len);
    /* Writes one iteration's output; bytes handed on and not yet written
     * count in s->write_pending.  A failure ends the session (PL_END_BROKEN). */
    void (*write)(pl_session_t *s, const char *data, size_t len);
    /* STARTTLS: what was flushed went in plaintext, the next bytes both
     * ways are TLS (optional: a transport secured below the stream sets
     * s->secure before it starts, so TLS is never offered on it). */
    void (*start_tls)(pl_session_t *s);
    /* The TLS the stream runs over, for channel binding and logs (optional). */
    pl_tls_t *(*tls)(const pl_session_t *s);
    /* An orderly end after our last output (optional: TLS close_notify). */
    void (*shutdown)(pl_session_t *s);
    /* Closes the connection; calls pl_session_transport_closed once it is. */
    void (*close)(pl_session_t *s);
    /* 0 while the connection cannot give its buffers back (optional), and
     * giving them back (optional). */
    int (*can_sleep)(const pl_session_t *s);
    void (*sleep)(pl_session_t *s);
    /* The session is freed: what the transport still holds (optional). */
    void (*free)(pl_session_t *s);
} pl_transport_ops_t;

extern const pl_transport_ops_t pl_tcp_transport; /* tcp.c */

/* The kinds (chosen per listener in loop.c). */
extern const pl_stream_ops_t pl_c2s_ops;       /* core/c2s/c2s.c */
extern const pl_stream_ops_t pl_component_ops; /* component.c */

struct pl_session {
    atomic_int refs;
    uint64_t id;
    const pl_stream_ops_t *ops; /* the stream kind */
    void *stream;               /* the kind's state (pl_c2s_t, pl_component_t) */
    const pl_transport_ops_t *transport; /* set when the connection is attached */
    pl_loop_t *loop;
    pl_server_t *server;
    uv_timer_t timer;
    int handles_open; /* the timer and the transport's connection */
    int disconnected; /* the connection is closing or closed: nothing more is written */
    pl_session_t *loop_prev, *loop_next; /* loop->sessions */
    pl_session_t *dirty_next;
    int dirty;
    char ip[64];
    int port_kind; /* pl_listen_kind_t of the listener */
    /* the TCP transport's (tcp.c) */
    uv_tcp_t tcp;
    pl_tls_t *tls;
    int tls_wanted; /* STARTTLS proceed sent: the next bytes are TLS */
    /* every transport */
    pl_buf_t out;         /* plaintext queued this iteration, framed by the transport */
    size_t write_pending; /* bytes handed to the transport, not yet written */
    uint64_t rx_bytes;    /* bytes read from the peer so far (a kind's ping asks if it grew) */
    pl_xml_parser_t *xml;
    int stream_open; /* we sent our stream header */
    int closing;
    /* stream */
    char stream_id[24];
    pl_host_t *host; /* the tenant: a client's host, a component's configured host */
    int secure;
    int authenticated;
    pl_jid_t jid; /* bare after SASL, full after bind; a component's domain */
    /* routing state (guarded by the shard lock for readers on other loops) */
    int bound;
    int available;
    int priority;
    int in_table;
    unsigned res_flags;    /* PL_RES_* marks for modules */
    pl_stanza_t *presence; /* last broadcast presence */
    /* limits */
    double tokens;
    uint64_t tokens_at_ms;
    uint64_t last_rx_ms;
    int asleep; /* idle: parser and buffers given back (pl_session_sleep) */
    int slow;   /* output refused over max_output_bytes: ends at the next flush */
    /* module per-session slots */
    unsigned char *mod_state;
    int traced;
};

/* ---- internal API between core files ---- */
/* server.c */
pl_server_t *pl_server_new(pl_config_t *config, const pl_module_desc_t *const *registry,
                           size_t nregistry);
/* Opens storage and TLS, starts the hosts' modules, the loops (not yet
 * running) and the control socket: 0, or 1 with the reason logged. */
int pl_server_start(pl_server_t *srv);
/* pl_server_start, then runs the loops until SIGTERM/SIGINT and shuts down
 * in order; the exit status. */
int pl_server_run(pl_server_t *srv);
/* Frees the server and clears *srvp. */
void pl_server_free(pl_server_t **srvp);
void pl_server_reload(pl_server_t *srv);

/* loop.c */
extern _Thread_local pl_loop_t *pl_current_loop;
/* How many loops `loops = configured` means: itself, or for 0 one per CPU
 * core the process may run on. */
size_t pl_loops_wanted(long long configured);
int pl_loops_start(pl_server_t *srv, char **error);
void pl_loops_run(pl_server_t *srv);
/* Asks every loop to end its sessions with system-shutdown and stop. */
void pl_loops_stop(pl_server_t *srv);
void pl_loops_free(pl_server_t *srv);
void pl_loop_mark_dirty(pl_session_t *s);
/* Hands a stanza to a session on another loop.  Borrows st (the inbox
 * takes a reference of its own). */
void pl_loop_post(pl_loop_t *loop, pl_session_t *s, const pl_stanza_t *st);
/* Ends a session on another loop with a stream error. */
void pl_loop_post_close(pl_loop_t *loop, pl_session_t *s, const char *condition, const char *text);
/* Runs fn(ud, st) on `loop`.  Borrows st (may be NULL): the inbox keeps a
 * reference of its own until fn returned. */
void pl_loop_call(pl_loop_t *loop, void (*fn)(void *ud, pl_stanza_t *st), void *ud,
                  const pl_stanza_t *st);

/* session.c — common stream machinery */
/* A session of the kind `ops` (its `open` op runs) on `loop`. */
pl_session_t *pl_session_new(pl_loop_t *loop, const pl_stream_ops_t *ops, int port_kind);
pl_session_t *pl_session_ref(pl_session_t *s);
void pl_session_unref(pl_session_t **sp);

/* tcp.c — the TCP transport: attach a connection to a new session. */
void pl_session_accept(pl_session_t *s, uv_stream_t *server_handle);
/* Starts a session on a connected stream socket made by the caller (the
 * fuzz targets use one end of a socketpair); `peer` stands for the address
 * in logs and per-IP limits.  0, or a libuv error (the session is then
 * closed, and freed by the loop). */
int pl_session_open_fd(pl_session_t *s, int fd, const char *peer);

/* session.c — what a transport calls */
/* The connection is attached: the session joins its loop's list and
 * counts as a connection (then the transport starts it). */
void pl_session_attach(pl_session_t *s, const pl_transport_ops_t *transport);
/* The connection is up: the login time (limits.auth_timeout) starts. */
void pl_session_start(pl_session_t *s);
/* `n` bytes came from the peer (raw, before TLS): it is alive. */
void pl_session_received(pl_session_t *s, size_t n);
/* Text of the stream for the parser (after TLS, without the transport's
 * own framing). */
void pl_session_input(pl_session_t *s, const char *data, size_t len);
/* TLS came up under the stream: it is secure, and a new stream starts. */
void pl_session_secured(pl_session_t *s);
/* Closes the connection and the session's timer; the session leaves its
 * loop and is released once both are closed.  Called by the close path
 * (pl_session_end), and by a transport whose last bytes are out. */
void pl_session_disconnect(pl_session_t *s);
/* The transport's connection is closed (its `close` op finished). */
void pl_session_transport_closed(pl_session_t *s);

/* session.c — for the kinds */
/* Writes our stream header (new stream id per restart is the caller's). */
void pl_session_open_stream(pl_session_t *s, const char *from);
/* Queues raw text (already serialised). */
void pl_session_send_raw(pl_session_t *s, const char *data, size_t len);
void pl_session_send_str(pl_session_t *s, const char *text);
/* Appends to the output being flushed, outside max_output_bytes: only for
 * a kind's before_flush op (a few bytes that belong to this batch). */
void pl_session_append(pl_session_t *s, const char *data, size_t len);
/* Queues a stanza (serialised once, cached on the stanza); the kind's
 * `sending` op sees it. */
void pl_session_send(pl_session_t *s, const pl_stanza_t *st);
/* Queues a stanza without the kind seeing it (retransmission). */
void pl_session_send_untracked(pl_session_t *s, const pl_stanza_t *st);
/* Sends a stream error (opening the stream first if needed) and ends the
 * session with PL_END_GOODBYE. */
void pl_session_stream_error(pl_session_t *s, const char *condition, const char *text);

/* The one way out for every stream (pl_end_how_t, above): the kind's
 * `closed` op undoes what the stream meant, then the connection closes. */
void pl_session_end(pl_session_t *s, pl_end_how_t how, const char *reason);
/* 1 once the stream ended or its connection is closing: nothing more
 * reaches the peer. */
int pl_session_ended(const pl_session_t *s);
void pl_session_flush(pl_session_t *s);
/* The bytes a stanza takes on the wire when sent (what the output, SM and
 * CSI bounds count; built stanzas have no arrival size). */
size_t pl_stanza_out_size(const pl_stanza_t *st);
/* Bytes held for the peer: queued output plus writes not yet taken by the
 * kernel (bounded by limits.max_output_bytes). */
size_t pl_session_backlog(const pl_session_t *s);
/* What the kind holds for the peer (zeros when nothing). */
void pl_session_held(const pl_session_t *s, pl_session_held_t *h);
/* For a session idle a while: gives back the XML parser and the TLS and
 * output buffers, which come back on the next bytes.  Returns 1 if it slept. */
int pl_session_sleep(pl_session_t *s);
/* Flushes (what was queued goes in plaintext), then the next bytes in
 * both directions are TLS (STARTTLS). */
void pl_session_start_tls(pl_session_t *s);
/* The TLS under the stream (channel binding, logs), or NULL. */
pl_tls_t *pl_session_tls(const pl_session_t *s);
/* The peer starts a new stream on this connection next (RFC 6120 §6.4.6,
 * after SASL): the parser expects a stream header again. */
void pl_session_restart_stream(pl_session_t *s);
/* The session's one timer: the kind's `timer` op runs after `ms`. */
void pl_session_timer_start(pl_session_t *s, uint64_t ms);
void pl_session_timer_stop(pl_session_t *s);
/* Runs the kind's `timer` op now, as if the timer fired (the fuzz
 * harness's "time passes"). */
void pl_session_timer_fire(pl_session_t *s);
/* Delivers a routed stanza to this session (on its own loop), through the
 * kind's `deliver` op. */
void pl_session_deliver(pl_session_t *s, const pl_stanza_t *st);
/* What delivery is without a `deliver` op: queued for the peer, or, once
 * the session has ended, pl_session_undeliverable. */
void pl_session_deliver_now(pl_session_t *s, const pl_stanza_t *st);
/* A stanza reached a session that has already ended (not detached): a
 * message with a body goes to the session's bare JID again, an IQ request
 * is answered with an error, the rest is dropped. */
void pl_session_undeliverable(pl_session_t *s, const pl_stanza_t *st);
int pl_session_rate_ok(pl_session_t *s);

/* sessions.c — the table */
void pl_sessions_init(pl_server_t *srv);
void pl_sessions_deinit(pl_server_t *srv);
/* Adds a bound session; if a session with the same full JID exists it is
 * returned (with a reference) so the caller can replace it. */
pl_session_t *pl_sessions_add(pl_server_t *srv, pl_session_t *s);
void pl_sessions_remove(pl_server_t *srv, pl_session_t *s);
/* Snapshot of the sessions of a bare JID (each with a reference) and, when
 * `cand` is not NULL, of their routing state; returns the count (<= max). */
size_t pl_sessions_get(pl_server_t *srv, const char *bare, pl_session_t **out,
                       pl_route_candidate_t *cand, size_t max);
/* The session of one full JID, with a reference, or NULL. */
pl_session_t *pl_sessions_find(pl_server_t *srv, const pl_jid_t *full);
size_t pl_sessions_count_bare(pl_server_t *srv, const char *bare);
/* Availability and the last broadcast presence, changed under the shard lock. */
void pl_sessions_set_presence(pl_server_t *srv, pl_session_t *s, int available, int priority,
                              const pl_stanza_t *presence);

/* router.c */
/* Routes st from `from` to `to` (origin: the local session it came from,
 * or NULL).  Borrows st: the caller keeps its reference (pl_route_take is
 * the consuming form). */
void pl_router_route(pl_server_t *srv, pl_stanza_t *st, const pl_jid_t *from, const pl_jid_t *to,
                     pl_session_t *origin);
/* Sends an error reply for `st` back to its sender (never for type=error). */
void pl_router_bounce(pl_server_t *srv, const pl_stanza_t *st, pl_stanza_err_t cond,
                      const char *text);
/* A stanza for `s` that it will never take (the session ended, or stream
 * management gave up on it): a message with a body goes to the session's
 * bare JID again with a <delay/> of `now_ms` (another client, the offline
 * store), an IQ request is answered with service-unavailable, the rest is
 * dropped.  0 rerouted, 1 answered, 2 dropped. */
int pl_router_reroute(pl_server_t *srv, const pl_session_t *s, const pl_stanza_t *st,
                      uint64_t now_ms);

/* hooks.c */
int pl_hosts_create(pl_server_t *srv, char **error);
int pl_hosts_start(pl_server_t *srv, char **error);
void pl_hosts_stop(pl_server_t *srv);
pl_host_t *pl_server_host(pl_server_t *srv, const char *domain);
/* Runs the hooks of `ev` on `host` for a stanza; returns PL_DONE if one
 * claimed it. */
pl_hook_result_t pl_hooks_run(pl_host_t *host, pl_event_t ev, const pl_stanza_t *st,
                              const pl_jid_t *from, const pl_jid_t *to, pl_session_t *origin,
                              unsigned target);
/* The hooks of the module serving `to`'s domain, alone (PL_TO_SVC_*). */
pl_hook_result_t pl_hooks_run_service(pl_module_ctx_t *svc, pl_event_t ev, const pl_stanza_t *st,
                                      const pl_jid_t *from, const pl_jid_t *to,
                                      pl_session_t *origin, unsigned target);
void pl_hooks_session_event(pl_host_t *host, pl_event_t ev, pl_session_t *s);
/* Puts hook entries in running order: priority (highest first), then the
 * module's place on the host, then the hook's place in its descriptor. */
void pl_hooks_sort(pl_hook_entry_t *entries, size_t n);

/* requests.c — IQs the server sends, and module timers */
void pl_requests_init(pl_server_t *srv);
/* Starts the one-second tick on loop 0 (on that loop's thread, before it runs). */
void pl_requests_start(pl_server_t *srv);
void pl_requests_stop(pl_server_t *srv);
void pl_requests_free(pl_server_t *srv);
/* An IQ result/error addressed to the server or an account's bare JID: 1 if
 * it answered a pending request (and was consumed). */
int pl_requests_answer(pl_server_t *srv, const pl_stanza_t *st, const pl_jid_t *from);

/* limits.c */
void pl_limits_init(pl_server_t *srv);
/* Counts a new connection from ip; 0 ok, -1 over the per-IP bound. */
int pl_limits_conn_open(pl_server_t *srv, const char *ip);
void pl_limits_conn_close(pl_server_t *srv, const char *ip);
/* Milliseconds the IP/account must still wait before another attempt. */
uint64_t pl_limits_auth_wait(pl_server_t *srv, const char *ip, const char *bare);
void pl_limits_auth_result(pl_server_t *srv, const char *ip, const char *bare, int ok);
/* The same for component handshakes, per IP and per component domain, in
 * tables of their own (component_fail_per_ip, component_fail_per_domain). */
uint64_t pl_limits_component_wait(pl_server_t *srv, const char *ip, const char *domain);
void pl_limits_component_result(pl_server_t *srv, const char *ip, const char *domain, int ok);
void pl_limits_gc(pl_server_t *srv);
void pl_limits_free(pl_server_t *srv);
/* The wait after `failures` failures when `allowed` are free (exposed for
 * the unit tests): 0, then 1 s doubling up to max_ms. */
uint64_t pl_limits_backoff_ms(unsigned failures, long long allowed, long long max_ms);

#endif
