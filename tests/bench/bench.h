/* bench.h — what the parts of parley-bench share: the options, the figures
 * each worker collects, accounts, client connections and worker loops.
 * parley-bench is an XMPP load generator that knows nothing of Parley's
 * internals; it speaks to any server over the network. */
#ifndef BENCH_H
#define BENCH_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <expat.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "tests/bench/hist.h"
#include "tests/bench/sasl.h"

/* Bodies and statuses sent by the generator start with this, then the send
 * time in microseconds and the sender's account number (muc: and the room's
 * number). */
#define BENCH_MARK "parley-bench "

/* ---- options (options.c) ---- */

typedef enum bench_scenario {
    BENCH_LOGIN,
    BENCH_HOLD,
    BENCH_CHAT,
    BENCH_PRESENCE,
    BENCH_SETUP_ROSTERS,
    BENCH_MAM,
    BENCH_MUC,
} bench_scenario_t;

typedef enum bench_tls {
    BENCH_TLS_STARTTLS,
    BENCH_TLS_DIRECT,
    BENCH_TLS_NONE,
} bench_tls_t;

typedef struct bench_opts {
    bench_scenario_t scenario;
    const char *host; /* numeric address of the server */
    int port;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *domain;
    bench_tls_t tls;
    bench_mech_t mech;
    const char *user_pattern;     /* printf pattern with one %d: the localpart */
    const char *password_pattern; /* the same for the password */
    const char *resource;
    uint32_t users, first; /* accounts first .. first+users-1 */
    int source_addrs;      /* 0: let the kernel choose the source address */
    struct in_addr source_base;
    int threads, procs;
    double rate;          /* logins started per second; 0 = as fast as the cap allows */
    uint32_t concurrency; /* logins in progress at once */
    double duration_s, interval_s, drain_s, timeout_s;
    uint32_t neighbours;  /* chat: k */
    uint32_t roster_size; /* presence/setup-rosters: r (even) */
    uint32_t body_bytes;  /* chat: pad message bodies to about this size */
    int keep;             /* login: keep sessions instead of cycling accounts */
    int to_bare;          /* chat: address bare JIDs instead of full ones */
    uint32_t page;        /* mam: items asked per query */
    int mam_with;         /* mam: only the conversation with neighbour +1 */
    uint32_t rooms;       /* muc: rooms R */
    uint32_t occupants;   /* muc: K accounts join each room */
    const char *muc_service;  /* muc: the rooms' domain (default groups.<domain>) */
    const char *room_pattern; /* muc: printf pattern with one %d: room r's localpart */
    int muc_fast;             /* muc: the next message once the echo of the last is back */
    char muc_service_buf[300];
    int roster_get, initial_presence, scram_cache;
    int tls_resume; /* resume each account's last TLS session (tickets) */
    int quiet;
    pid_t server_pid;
    const char *label;
    const char *argv0;
    /* Set by main before any session starts: marked stanzas stamped earlier
     * come from an earlier run (offline storage) and are not counted. */
    uint64_t origin_ns;
} bench_opts_t;

/* Parses argv into *o.  0 ok; 1 when the program should exit with success
 * (--help); -1 on a usage error (message printed). */
int bench_opts_parse(bench_opts_t *o, int argc, char **argv);
const char *bench_scenario_name(bench_scenario_t s);
const char *bench_tls_name(bench_tls_t t);
/* Writes the localpart / password of account `n` into buf. */
void bench_user_name(const bench_opts_t *o, uint32_t n, char *buf, size_t len);
void bench_user_password(const bench_opts_t *o, uint32_t n, char *buf, size_t len);

/* ---- figures (report.c) ---- */

/* Why a login did not complete.  Names in bench_fail_names. */
typedef enum bench_fail {
    BENCH_FAIL_FDLIMIT,  /* no file descriptor left */
    BENCH_FAIL_SOURCE,   /* could not bind the source address / no free port */
    BENCH_FAIL_CONNECT,  /* TCP connect failed */
    BENCH_FAIL_TLS,      /* TLS handshake or record error */
    BENCH_FAIL_STREAM,   /* a stream error from the server */
    BENCH_FAIL_FEATURES, /* missing STARTTLS, mechanism or bind in the features */
    BENCH_FAIL_AUTH,     /* SASL <failure/> or a bad server signature */
    BENCH_FAIL_BIND,     /* resource binding refused */
    BENCH_FAIL_ROSTER,   /* roster get refused */
    BENCH_FAIL_TIMEOUT,  /* not logged in within --timeout */
    BENCH_FAIL_CLOSED,   /* the server closed the connection */
    BENCH_FAIL_XML,      /* the server sent malformed XML */
    BENCH_FAIL_COUNT
} bench_fail_t;

extern const char *const bench_fail_names[BENCH_FAIL_COUNT];

typedef enum bench_counter {
    BENCH_C_LOGIN_STARTED,
    BENCH_C_LOGIN_OK,
    BENCH_C_LOGIN_FAILED,
    BENCH_C_LOST,        /* sessions ended by the server or the network after login */
    BENCH_C_CHAT_SENT,   /* messages */
    BENCH_C_CHAT_RECV,   /* messages from the generator received */
    BENCH_C_CHAT_ERRORS, /* messages bounced with type='error' */
    BENCH_C_PRES_SENT,   /* presence changes broadcast */
    BENCH_C_PRES_RECV,   /* presence changes from a contact received */
    BENCH_C_PRES_ERRORS,
    BENCH_C_SUB_SENT,    /* setup-rosters: subscribe requests sent */
    BENCH_C_SUB_DONE,    /* setup-rosters: accounts whose roster is complete */
    BENCH_C_IQ_ANSWERED, /* IQs from the server answered (pings, roster pushes) */
    BENCH_C_IQ_ERRORS,   /* our IQs answered with an error (roster sets) */
    BENCH_C_MAM_SENT,    /* mam: archive queries sent */
    BENCH_C_MAM_DONE,    /* mam: queries answered with a result */
    BENCH_C_MAM_ERRORS,  /* mam: queries answered with an error */
    BENCH_C_MAM_ITEMS,   /* mam: archived messages received in results */
    BENCH_C_MAM_WRAPS,   /* mam: pagings that reached the start of the archive */

    BENCH_C_MUC_SENT,          /* muc: groupchat messages sent */
    BENCH_C_MUC_RECV,          /* muc: deliveries to occupants other than the sender */
    BENCH_C_MUC_ECHO,          /* muc: the sender's own copy, counted apart */
    BENCH_C_MUC_ERRORS,        /* muc: groupchat messages bounced with type='error' */
    BENCH_C_MUC_JOINED,        /* muc: room memberships entered (self-presence 110) */
    BENCH_C_MUC_JOIN_FAILED,   /* muc: memberships refused, or not entered by --timeout */
    BENCH_C_MUC_JOIN_RETRIES,  /* muc: joins tried again (the room was still locked) */
    BENCH_C_MUC_CREATED,       /* muc: rooms this run created (status 201) */
    BENCH_C_MUC_CONFIG_ERRORS, /* muc: instant-room configurations refused */

    BENCH_C_TLS_RESUMED, /* TLS handshakes that resumed a session (--tls-resume) */
    BENCH_C_BYTES_IN,    /* application bytes (after TLS) */
    BENCH_C_BYTES_OUT,
    BENCH_C_COUNT
} bench_counter_t;

typedef struct bench_stats {
    uint64_t c[BENCH_C_COUNT];
    uint64_t fail[BENCH_FAIL_COUNT];
    bench_hist_t login; /* connect to logged in (bound, roster received) */
    bench_hist_t chat;  /* message sent to message received */
    bench_hist_t pres;  /* presence sent to presence received by a contact */
    bench_hist_t mam;   /* archive query sent to its result (after every item) */
    bench_hist_t muc;   /* groupchat message sent to its receipt by another occupant */
    bench_hist_t join;  /* first join presence sent to the self-presence (110) */
    /* uv_hrtime() stamps in ns, 0 when unset: first login started and last
     * one finished; the measured phase; the last message or presence
     * received. */
    uint64_t login_t0, login_t1, run_t0, run_t1, last_recv;
    uint64_t join_t0, join_t1; /* muc: first join sent, last membership settled */
    /* The generator process(es): CPU seconds and memory, filled at the end. */
    double gen_cpu_s;
    /* The worker threads' CPU seconds in the measured phase (without the
     * logins and joins before it), summed. */
    double gen_cpu_run_s;
    long gen_rss_kb, gen_hwm_kb;
    char first_error[200]; /* the first failure, in words */
} bench_stats_t;

void bench_stats_init(bench_stats_t *s);
void bench_stats_merge(bench_stats_t *into, const bench_stats_t *from);

/* ---- accounts and connections (conn.c, client.c) ---- */

typedef struct bench_conn bench_conn_t;
typedef struct bench_worker bench_worker_t;

/* muc: one room an account is in. */
typedef struct bench_membership {
    uint32_t room;  /* room number r: localpart from --room-pattern */
    uint8_t state;  /* BENCH_MS_* */
    uint8_t flight; /* --fast: a message awaits its echo */
    uint64_t t0;    /* first join presence sent (ns) */
    uint64_t due;   /* the next join attempt, when waiting to retry (ns) */
} bench_membership_t;

enum {
    BENCH_MS_IDLE,    /* not asked yet */
    BENCH_MS_JOINING, /* join presence sent */
    BENCH_MS_RETRY,   /* refused while the room was locked: asked again at `due` */
    BENCH_MS_JOINED,
    BENCH_MS_FAILED,
};

typedef struct bench_user {
    uint32_t n;               /* the account number used in the patterns */
    bench_conn_t *conn;       /* the current connection, or NULL */
    bench_scram_keys_t *keys; /* SCRAM key cache, heap, NULL until first login */
    SSL_SESSION *tls_session; /* --tls-resume: the last session ticket, or NULL */
    uint8_t *contacts;        /* setup-rosters: a bit per contact known mutual, heap */
    uint32_t mutual;          /* setup-rosters: bits set in `contacts` */
    uint8_t setup_sent;       /* setup-rosters: requests sent */
    uint8_t failed;           /* hold/chat/presence: its login failed */
    uint16_t nrooms;          /* muc: rooms this account joins */
    bench_membership_t *rooms; /* muc: heap, nrooms of them */
} bench_user_t;

typedef enum bench_conn_state {
    BENCH_CS_CONNECTING,
    BENCH_CS_TLS,      /* TLS handshake (direct, or after <proceed/>) */
    BENCH_CS_FEATURES, /* stream opened, waiting for <stream:features/> */
    BENCH_CS_STARTTLS, /* <starttls/> sent */
    BENCH_CS_AUTH,     /* <auth/> sent */
    BENCH_CS_BIND,     /* bind IQ sent */
    BENCH_CS_SESSION,  /* legacy session IQ sent */
    BENCH_CS_ROSTER,   /* roster get sent */
    BENCH_CS_ONLINE,
    BENCH_CS_CLOSING,
} bench_conn_state_t;

typedef struct bench_stanza bench_stanza_t; /* client.c: the element being parsed */

struct bench_conn {
    uv_poll_t poll;
    bench_worker_t *w;
    bench_user_t *user;
    bench_conn_t *prev, *next; /* the worker's list of logins in progress */
    SSL *ssl;
    XML_Parser xml;
    bench_stanza_t *st;
    bench_scram_t *scram;
    char *out; /* bytes the socket (or TLS) did not take yet */
    uint32_t out_len, out_cap;
    uint64_t t_start; /* uv_hrtime() when the connect began */
    uint64_t q_t0;    /* mam: when the query in flight was sent, 0 = none */
    char *q_before;   /* mam: the page to ask next ends before this id; NULL = the end */
    int fd;
    uint32_t login_no; /* login scenario: makes the resource unique */
    uint16_t depth;    /* open elements, the stream's own included */
    uint8_t state;     /* bench_conn_state_t */
    uint8_t events;    /* poll events requested */
    uint8_t feat;      /* BENCH_FEAT_* seen in the last features */
    uint16_t flags;    /* BENCH_CF_* */
    /* Bytes given to this stream's parser, and where in them the last
     * top-level element ended (its end tag's last byte + 1); equal when the
     * parser stands between stanzas with nothing buffered, which is when
     * the muc fast path may read a stanza without it (client.c). */
    uint64_t xml_fed, xml_boundary, xml_head_end;
};

enum {
    BENCH_CF_AUTHED = 1,      /* SASL succeeded */
    BENCH_CF_WANT_WRITE = 2,  /* TLS wants the socket writable to go on */
    BENCH_CF_RESTART = 4,     /* a new stream must start after this read */
    BENCH_CF_START_TLS = 8,   /* begin the TLS handshake after this read */
    BENCH_CF_IN_LIST = 16,    /* on the worker's pending-login list */
    BENCH_CF_DEAD = 32,       /* closing: ignore further input */
    BENCH_CF_SASL_FINAL = 64, /* the SCRAM client-final message was sent */
    BENCH_CF_SHOW_AWAY = 128, /* presence: the last change said <show>away</show> */
};

enum {
    BENCH_FEAT_STARTTLS = 1,
    BENCH_FEAT_MECH = 2, /* the wanted SASL mechanism is offered */
    BENCH_FEAT_BIND = 4,
    BENCH_FEAT_SESSION = 8, /* a legacy session feature without <optional/> */
};

/* conn.c: transport. */
/* Starts a connection for `u` (u->conn is set).  On an immediate failure the
 * failure is recorded and the user is handed back to the worker. */
void bench_conn_start(bench_worker_t *w, bench_user_t *u);
/* Queues bytes (plain or through TLS) and writes what the socket takes. */
void bench_conn_send(bench_conn_t *c, const char *data, size_t len);
/* Ends the connection: a failed login (reason, detail), a lost session
 * (reason < 0 after login), or an orderly close (reason < 0 while closing). */
void bench_conn_fail(bench_conn_t *c, int reason, const char *detail);
/* Sends </stream:stream> and closes. */
void bench_conn_close(bench_conn_t *c);
/* Starts TLS on the connected socket (direct TLS, or after <proceed/>). */
void bench_conn_start_tls(bench_conn_t *c);

/* client.c: the XMPP side. */
/* A fresh XML parser for a new stream, and the stream header sent. */
void bench_client_open_stream(bench_conn_t *c);
/* Feeds received bytes to the parser; acts on what they complete. */
void bench_client_input(bench_conn_t *c, const char *data, size_t len);
/* Frees the parser and what the client holds for this connection. */
void bench_client_free(bench_conn_t *c);
/* Online actions used by the scenarios. */
void bench_client_chat(bench_conn_t *c);
void bench_client_presence(bench_conn_t *c);
void bench_client_setup_roster(bench_conn_t *c);
/* mam: the next page of the account's archive, unless one is in flight. */
void bench_client_mam(bench_conn_t *c);

/* muc.c: rooms over XMPP only (XEP-0045), nothing of any one server. */
/* The rooms account n joins: membership j (0 .. R*K-1) puts account
 * first + j mod users into room j / K.  Allocates u->rooms. */
int bench_muc_assign(const bench_opts_t *o, bench_user_t *u);
/* Sends the join presence of membership m. */
void bench_muc_join(bench_conn_t *c, uint32_t m);
/* A presence from the service: 1 when it concerned one of our memberships.
 * codes: BENCH_MUC_SELF (110) and BENCH_MUC_CREATED (201) seen. */
int bench_muc_presence(bench_conn_t *c, const char *from, int is_error, int unavailable, int codes,
                       const char *cond);
/* An IQ answer with an id of ours ("mucc..."): 1 when it was one. */
int bench_muc_iq(bench_conn_t *c, const char *id, int is_error, const char *cond);
/* A groupchat message with body text `text`, or a bounce (is_error). */
void bench_muc_message(bench_conn_t *c, const char *text, int is_error, const char *cond);
/* One message into each joined room (with --fast: each without one in flight). */
void bench_muc_post(bench_conn_t *c);
/* A membership is settled (state BENCH_MS_JOINED or _FAILED): the worker
 * counts it. */
void bench_worker_join_settled(bench_worker_t *w, bench_membership_t *ms, int state);

enum { BENCH_MUC_SELF = 1, BENCH_MUC_CREATED = 2 };

/* ---- workers (worker.c) ---- */

/* What the coordinator can read at any time (relaxed atomics). */
typedef struct bench_progress {
    uint64_t online, pending, login_ok, login_failed, lost, sent, recv;
    uint32_t workers, login_done, finished, join_done;
} bench_progress_t;

typedef enum bench_phase {
    BENCH_PH_LOGIN, /* logging accounts in */
    BENCH_PH_WAIT,  /* everyone here is in; waiting for the go */
    BENCH_PH_JOIN,  /* muc: entering the rooms (then WAIT again) */
    BENCH_PH_RUN,   /* the measured phase of chat/presence/hold/setup */
    BENCH_PH_DRAIN, /* no more sending; late deliveries still count */
    BENCH_PH_CLOSE, /* closing every session */
    BENCH_PH_DONE,
} bench_phase_t;

struct bench_worker {
    int index;
    struct bench_group *group;
    const bench_opts_t *o;
    SSL_CTX *ssl_ctx;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t tick;
    bench_user_t *users;
    uint32_t nusers;
    uint32_t user_base; /* index of the first account of all workers (global) */
    uint32_t source_next;
    bench_phase_t phase;
    /* logins */
    double rate;          /* this worker's share */
    uint32_t concurrency; /* this worker's share */
    uint32_t cursor;      /* next user to log in */
    uint32_t inflight;    /* logins in progress */
    uint32_t attempted;   /* users handled in a one-pass login phase */
    uint32_t login_seq;
    uint64_t phase_t0; /* when the current phase began (ns) */
    double cpu_run0;   /* this thread's CPU seconds when the measured phase began */
    bench_conn_t *pending_head, *pending_tail;
    uint32_t nconns; /* connections open (any state) */
    /* scenario pacing */
    uint64_t turns; /* user turns taken in the run phase */
    uint64_t msg_seq;
    uint64_t drain_last; /* recv counter at the last drain check */
    uint64_t drain_idle_since;
    /* muc joins */
    uint32_t join_user, join_m; /* the next membership to ask for */
    uint32_t joins_open;        /* memberships asked for, not settled */
    uint64_t joins_left;        /* memberships not settled */
    uint64_t join_scan;         /* when retries and timeouts were last looked at */
    int joined;                 /* the join phase is over */
    /* figures: stats is written by this worker only, read after the join */
    bench_stats_t stats;
    atomic_uint_fast64_t a_online, a_pending, a_login_ok, a_login_failed, a_lost, a_sent, a_recv;
    atomic_int a_login_done, a_finished, a_cmd, a_join_done;
    char rbuf[64 * 1024]; /* read buffer shared by this loop's connections */
    char sbuf[16 * 1024]; /* scratch for building stanzas */
};

enum { BENCH_CMD_NONE, BENCH_CMD_RUN, BENCH_CMD_STOP, BENCH_CMD_JOIN };

/* The user came online (login complete) or its login ended in failure. */
void bench_worker_logged_in(bench_worker_t *w, bench_conn_t *c);
void bench_worker_login_failed(bench_worker_t *w, bench_user_t *u, int reason, const char *detail);
/* The connection is gone (handle closed); the user may log in again. */
void bench_worker_conn_gone(bench_worker_t *w, bench_user_t *u);
void bench_worker_pending_remove(bench_worker_t *w, bench_conn_t *c);
/* Global account number of neighbour `d` of account n, wrapping around the
 * whole set of --users accounts. */
uint32_t bench_neighbour(const bench_opts_t *o, uint32_t n, int64_t d);

/* A group: one process's worker threads over accounts [first, first+n). */
typedef struct bench_group bench_group_t;
bench_group_t *bench_group_start(const bench_opts_t *o, uint32_t first, uint32_t n);
void bench_group_progress(bench_group_t *g, bench_progress_t *p);
void bench_group_command(bench_group_t *g, int cmd);
/* Joins the threads, adds everyone's figures into *out and frees the group. */
void bench_group_finish(bench_group_t *g, bench_stats_t *out);

/* Microseconds and nanoseconds on the monotonic clock shared by every
 * thread and process of the machine. */
static inline uint64_t bench_now_ns(void)
{
    return uv_hrtime();
}

#endif
