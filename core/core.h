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
struct pl_module_ctx {
    const pl_module_desc_t *desc;
    pl_host_t *host;
    const void *conf;
    void *data;
    size_t state_offset; /* into pl_session_t.mod_state */
    pl_kv_t **stores;    /* parallel to desc->stores */
    int started;
};

typedef struct pl_hook_entry {
    const pl_hook_def_t *def;
    pl_module_ctx_t *mod;
} pl_hook_entry_t;

struct pl_host {
    pl_server_t *server;
    char *name;
    const pl_host_conf_t *conf;
    pl_module_ctx_t *mods;
    size_t nmods;
    pl_hook_entry_t *hooks[PL_EV__COUNT]; /* sorted by priority, highest first */
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
    pl_session_shard_t shards[PL_SESSION_SHARDS];
    pthread_mutex_t limits_lock;
    pl_limits_tables_t *limits_tables; /* per IP, account, component (limits.c) */
    pl_limits_conf_t limits; /* copied from config; replaced on reload */
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

/* ---- a stream: client (c2s) or component ---- */
typedef enum pl_session_kind { PL_SESSION_C2S = 1, PL_SESSION_COMPONENT } pl_session_kind_t;

typedef enum pl_c2s_state {
    PL_ST_WAIT_STREAM = 0, /* expecting a stream header */
    PL_ST_TLS_HANDSHAKE,   /* after <proceed/> or on a direct-TLS port */
    PL_ST_FEATURES,        /* header answered, features sent, expecting starttls/auth/bind */
    PL_ST_SASL,            /* SCRAM exchange in progress */
    PL_ST_AUTH_PENDING,    /* waiting on an async check (PLAIN hashing) */
    PL_ST_ACTIVE,          /* resource bound */
    PL_ST_CLOSING,
} pl_c2s_state_t;

struct pl_session {
    atomic_int refs;
    uint64_t id;
    pl_session_kind_t kind;
    pl_loop_t *loop;
    pl_server_t *server;
    uv_tcp_t tcp;
    uv_timer_t timer;
    int handles_open;
    pl_session_t *loop_prev, *loop_next; /* loop->sessions */
    pl_session_t *dirty_next;
    int dirty;
    char ip[64];
    int port_kind; /* pl_listen_kind_t of the listener */
    /* transport */
    pl_tls_t *tls;
    int tls_wanted;  /* STARTTLS proceed sent: the next bytes are TLS */
    pl_buf_t out;    /* plaintext queued this iteration */
    size_t write_pending; /* bytes handed to uv_write, not yet written */
    pl_xml_parser_t *xml;
    int stream_open; /* we sent our stream header */
    int closing;
    /* stream */
    pl_c2s_state_t state;
    char stream_id[24];
    pl_host_t *host;
    int secure;
    int authenticated;
    int restart_pending;
    pl_jid_t jid; /* bare after SASL, full after bind */
    /* SASL */
    pl_scram_server_t scram;
    int scram_active;
    unsigned auth_attempts; /* failed or aborted on this stream (c2s/sasl.c) */
    unsigned sasl_elements; /* SASL/SASL2 elements received before authentication */
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
    int ping_outstanding;
    char ping_id[20];
    int slow;       /* output refused over max_output_bytes: ends at the next flush */
    struct pl_sasl2_req *sasl2; /* an <authenticate/> (SASL2) under way, until <success/> */
    /* stream management (sm.c) */
    struct pl_sm *sm;   /* NULL until <enable/> */
    int lost;           /* the connection failed (not a clean close): SM may keep the session */
    int resuming;       /* <resume/> accepted, the handover is under way */
    pl_stanza_t **early; /* stanzas that arrived during the handover */
    size_t nearly, early_cap, early_bytes;
    pl_session_t *moved_to; /* resumed by this session: stanzas still arriving follow it */
    /* client state indication (csi.c) */
    int csi_inactive;
    pl_stanza_t **csi_held; /* presences held while inactive, one per sender */
    size_t csi_nheld, csi_cap, csi_bytes;
    /* component */
    pl_component_t *component;
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
void pl_server_free(pl_server_t *srv);
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
pl_session_t *pl_session_new(pl_loop_t *loop, pl_session_kind_t kind, int port_kind);
pl_session_t *pl_session_ref(pl_session_t *s);
void pl_session_unref(pl_session_t **sp);
void pl_session_accept(pl_session_t *s, uv_stream_t *server_handle);
/* Starts a session on a connected stream socket made by the caller (the
 * fuzz targets use one end of a socketpair); `peer` stands for the address
 * in logs and per-IP limits.  0, or a libuv error (the session is then
 * closed, and freed by the loop). */
int pl_session_open_fd(pl_session_t *s, int fd, const char *peer);
/* Writes our stream header (new stream id per restart is the caller's). */
void pl_session_open_stream(pl_session_t *s, const char *from);
/* Queues raw text (already serialised). */
void pl_session_send_raw(pl_session_t *s, const char *data, size_t len);
void pl_session_send_str(pl_session_t *s, const char *text);
/* Queues a stanza (serialised once, cached on the stanza). */
void pl_session_send(pl_session_t *s, const pl_stanza_t *st);
/* Sends a stream error (opening the stream first if needed) and ends the
 * session with PL_END_GOODBYE. */
void pl_session_stream_error(pl_session_t *s, const char *condition, const char *text);

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
void pl_session_end(pl_session_t *s, pl_end_how_t how, const char *reason);
void pl_session_flush(pl_session_t *s);
/* The bytes a stanza takes on the wire when sent (what the output, SM and
 * CSI bounds count; built stanzas have no arrival size). */
size_t pl_stanza_out_size(const pl_stanza_t *st);
/* Bytes held for the peer: queued output plus writes not yet taken by the
 * kernel (bounded by limits.max_output_bytes). */
size_t pl_session_backlog(const pl_session_t *s);
/* For a session idle a while: gives back the XML parser and the TLS and
 * output buffers, which come back on the next bytes.  Returns 1 if it slept. */
int pl_session_sleep(pl_session_t *s);
void pl_session_start_tls(pl_session_t *s);
/* Delivers a routed stanza to this session (on its own loop). */
void pl_session_deliver(pl_session_t *s, const pl_stanza_t *st);
int pl_session_rate_ok(pl_session_t *s);

/* Queues a stanza without stream-management bookkeeping (retransmission). */
void pl_session_send_untracked(pl_session_t *s, const pl_stanza_t *st);

/* sm.c — stream management (XEP-0198) */
typedef struct pl_sm pl_sm_t;
/* An <enable/>, <resume/>, <r/> or <a/> from the client. */
void pl_sm_nonza(pl_session_t *s, const pl_stanza_t *st);
/* Enables SM on a bound session, appending <enabled/> or <failed/> to out
 * (also used inline by bind2). */
void pl_sm_enable(pl_session_t *s, int resume, pl_buf_t *out);
/* Resumes a detached session for this authenticated, unbound one (the
 * <resume/> nonza, or inline in SASL2).  The answer comes later: <resumed/>
 * or <failed/>, or pl_c2s_sasl2_finish when s->sasl2 is set. */
void pl_sm_resume(pl_session_t *s, const char *previd, const char *h_attr);
/* A stanza from the client was handled (counts toward our h). */
void pl_sm_count_in(pl_session_t *s);
/* A stanza goes (or, detached, would go) to the client: kept until acked.
 * Past max_unacked / max_unacked_bytes a connected session gets a
 * resource-constraint stream error (and is detached); for a detached one
 * it returns -1 and the caller ends it (pl_sm_end_detached). */
int pl_sm_track(pl_session_t *s, const pl_stanza_t *st);
int pl_sm_detached(const pl_session_t *s);
/* The next session on its loop's `hibernating` list (s is detached). */
pl_session_t *pl_sm_next_detached(const pl_session_t *s);
/* Stanzas kept for the client until acknowledged, and their bytes. */
void pl_sm_queued(const pl_session_t *s, size_t *n, size_t *bytes);
/* 1 while an <r/> we sent is unanswered (the client's <a/> is expected). */
int pl_sm_ack_expected(const pl_session_t *s);
/* Appends an <r/> to the output when stanzas are unacknowledged. */
void pl_sm_before_flush(pl_session_t *s);
/* Stanzas for a session whose resumption is under way. */
void pl_sm_early(pl_session_t *s, const pl_stanza_t *st);
/* At close: 1 if the session was detached for resumption (it stays in the
 * table); otherwise the caller ends it and calls pl_sm_end. */
int pl_sm_detach(pl_session_t *s);
/* The session ended for good (already out of the table): unacknowledged
 * messages are routed again, requests answered with errors. */
void pl_sm_end(pl_session_t *s);
/* Ends a detached session now, as if its time ran out (on its loop; the
 * account was deleted).  Does nothing to a session that is not detached. */
void pl_sm_end_detached(pl_session_t *s, const char *why);
/* Ends detached sessions past resume_timeout (all of them with all = 1). */
void pl_sm_sweep(pl_loop_t *loop, int all);
/* Frees what is left at session free. */
void pl_sm_release(pl_session_t *s);
/* A stanza reached a session that has already ended (not detached): a
 * message with a body goes to the account's bare JID again, an IQ request
 * is answered with an error, the rest is dropped. */
void pl_session_undeliverable(pl_session_t *s, const pl_stanza_t *st);

/* csi.c — client state indication (XEP-0352) */
/* An <active/> or <inactive/> from the client. */
void pl_csi_nonza(pl_session_t *s, const pl_stanza_t *st);
/* For an inactive session: 1 if the stanza was held back (presence). */
int pl_csi_hold(pl_session_t *s, const pl_stanza_t *st);
/* Sends what was held (the session is detached or becomes active). */
void pl_csi_end(pl_session_t *s);

/* c2s/sasl2.c — SASL2 (XEP-0388), bind2 (XEP-0386), FAST (XEP-0484) */
typedef struct pl_sasl2_req pl_sasl2_req_t;
/* SASL succeeded inside <authenticate/>: no stream restart; the inline
 * requests (resume, bind2, tokens) are carried out, then <success/> goes. */
void pl_c2s_sasl2_succeeded(pl_session_t *s, const char *server_final_b64);
/* Sends <success/> with `sm_xml` (<resumed/> when resumed = 1, or an SM
 * <failed/>, or NULL) and, unless resumed, performs the inline bind2. */
void pl_c2s_sasl2_finish(pl_session_t *s, const char *sm_xml, int resumed);
void pl_c2s_sasl2_free(pl_session_t *s);

/* c2s.c / component.c */
void pl_c2s_on_stream_open(pl_session_t *s, const pl_stream_header_t *h);
void pl_c2s_on_stanza(pl_session_t *s, pl_stanza_t *st);
void pl_c2s_on_tls_ready(pl_session_t *s);
void pl_c2s_timer(pl_session_t *s);
void pl_c2s_on_close(pl_session_t *s);
void pl_component_on_stream_open(pl_session_t *s, const pl_stream_header_t *h);
void pl_component_on_stanza(pl_session_t *s, pl_stanza_t *st);
void pl_component_on_close(pl_session_t *s);

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
void pl_hooks_session_event(pl_host_t *host, pl_event_t ev, pl_session_t *s);

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
