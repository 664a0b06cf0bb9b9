/* harness.h — what every integration test shares: a real parleyd in a temp
 * directory, libstrophe clients driven by a polling loop, raw socket/OpenSSL
 * clients for what libstrophe cannot do, and a tiny check-and-count runner. */
#ifndef PL_TEST_HARNESS_H
#define PL_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>
#include <strophe.h>

/* ---- test runner ---- */

/* Records a failed expression without stopping the test; evaluates to the
 * truth of `e` so a test can write `if (!CHECK(x)) return;`. */
#define CHECK(e) h_check(!!(e), #e, __FILE__, __LINE__, NULL)
/* The same with a printf-style explanation shown on failure. */
#define CHECK_MSG(e, ...) h_check(!!(e), #e, __FILE__, __LINE__, __VA_ARGS__)
/* Checks that a string is `want`, showing both on failure (needs string.h). */
#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        CHECK_MSG(strcmp(got_, want_) == 0, "%s: got \"%s\", want \"%s\"", #got, got_, want_);     \
    } while (0)
/* Checks that an integer is `want`, showing both on failure. */
#define CHECK_INT(got, want)                                                                       \
    CHECK_MSG((got) == (want), "%s: got %d, want %d", #got, (int)(got), (int)(want))

int h_check(int ok, const char *expr, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

typedef struct h_server h_server_t;
typedef void (*h_test_fn)(h_server_t *srv);

/* Reads the build directory from $PARLEY_BUILD (default "build"). */
void h_init(void);
/* Runs one test case and prints "name: ok" or "name: FAILED (file:line: expr)". */
void h_run_test(const char *name, h_test_fn fn, h_server_t *srv);
#define H_RUN(fn, srv) h_run_test(#fn, fn, srv)
/* Prints "<prog>: N passed, N failed", removes the temp directories when all
 * passed, and returns the exit code. */
int h_finish(const char *prog);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
int h_free_port(void);
/* Milliseconds on a monotonic clock. */
long long h_now_ms(void);
/* A fresh stanza id, "h1", "h2", ... (static buffer rotation of 8). */
const char *h_id(void);

/* ---- the server under test ---- */

typedef struct h_server_opts {
    const char *limits;          /* settings inside limits = { ... }, may be NULL */
    const char *top_extra;       /* more top-level settings, e.g. storage = { ... }; */
    const char *host_extra;      /* extra settings for host example.test, may be NULL */
    const char *modules;         /* more modules for example.test, e.g. "roster = {};" */
    const char *log_level;       /* default "debug" */
    const char *const *accounts; /* "jid", "password" pairs, NULL-terminated */
    int loops;                   /* event loops; 0 = $PARLEY_TEST_LOOPS or 1 */
    const char *extra_hosts;     /* more entries of hosts = ( ... ), each "{ name = ...; }",
                                    comma-separated, after other.test; may be NULL */
    const char *log_extra;       /* more settings inside log = { ... }, e.g. trace; may be NULL */
} h_server_opts_t;

struct h_server {
    char dir[256];  /* temp directory holding everything */
    char conf[300]; /* parley.conf */
    char log[300];  /* server stderr */
    int c2s_port, tls_port, comp_port;
    pid_t pid;
    int running;
    int status; /* wait status once exited */
    h_server_opts_t opts;
};

/* Creates the temp dir, config, certificate and accounts, starts parleyd and
 * waits for event=server.ready.  Counts as the test case "start_server". */
int h_server_start(h_server_t *srv, const h_server_opts_t *opts);
/* SIGTERM; checks exit status 0 and event=server.stopped.  Counts as the
 * test case "clean_shutdown". */
void h_server_stop(h_server_t *srv);
/* Rewrites the config file (e.g. another log level before SIGHUP). */
int h_server_write_config(h_server_t *srv, const char *log_level);
/* Waits for the process to exit; returns 1 when it did within timeout_ms. */
int h_server_wait_exit(h_server_t *srv, int timeout_ms);
/* Stops the server cleanly (SIGTERM) and starts it again on the same data
 * directory, config and ports; 0 once it is ready. */
int h_server_restart(h_server_t *srv);
/* Starts a server that was stopped (by the test itself) again on the same
 * data, config and ports; 0 once it is ready. */
int h_server_relaunch(h_server_t *srv);
/* SIGKILL (nothing is flushed or closed: a crash), then starts it again on
 * the same data, config and ports; 0 once it is ready. */
int h_server_crash_restart(h_server_t *srv);
/* Resident set size of the server in KiB, -1 if unknown. */
long h_server_rss_kb(h_server_t *srv);

/* Runs BUILD/<prog> with argv (NULL-terminated, argv[0] excluded), feeding
 * `input` (may be NULL) on stdin.  Stdout and stderr together go to `out`
 * (NUL-terminated, may be NULL).  Returns the exit code, or -1. */
int h_run_prog(const char *prog, const char *input, char *out, size_t outlen,
               const char *const *argv);
/* parleyctl -c CONF args... */
int h_ctl(h_server_t *srv, const char *input, char *out, size_t outlen, const char *const *args);

/* ---- the server log ---- */

/* Current length of the log: lines after this mark are "new". */
size_t h_log_mark(h_server_t *srv);
/* 1 when a line after `mark` contains every string (NULL-terminated list). */
int h_log_has(h_server_t *srv, size_t mark, ...) __attribute__((sentinel));
/* The same, polling until timeout_ms. */
int h_log_wait(h_server_t *srv, size_t mark, int timeout_ms, ...) __attribute__((sentinel));
/* Number of lines after `mark` containing `needle`. */
int h_log_count(h_server_t *srv, size_t mark, const char *needle);
/* Prints the last n lines of the log to stdout. */
void h_log_tail(h_server_t *srv, int n);

/* ---- libstrophe clients ---- */

typedef struct h_client {
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    int connected;    /* XMPP_CONN_CONNECT seen (bound) */
    int disconnected; /* XMPP_CONN_DISCONNECT or XMPP_CONN_FAIL seen */
    int stream_error; /* an xmpp_error_type_t, or -1 */
    int pings;        /* server pings seen (and answered unless ignore_pings) */
    int ignore_pings;
    xmpp_stanza_t **inbox; /* every stanza received, oldest first */
    size_t ninbox, capinbox;
} h_client_t;

/* A context with a silent logger ($H_DEBUG=1 shows libstrophe's debug log). */
xmpp_ctx_t *h_ctx_new(void);
void h_ctx_free(xmpp_ctx_t *ctx);

enum { H_STARTTLS = 0, H_DIRECT_TLS = 1, H_COMPONENT = 2 };
/* Starts connecting `jid` (bare or full) with `password`: STARTTLS on the
 * c2s port, direct TLS on the c2s-tls port, or XEP-0114 on the component
 * port (jid = component domain, password = secret). */
h_client_t *h_client_new(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const char *password,
                         int mode);
/* Disconnects (politely, briefly waiting) and frees. */
void h_client_free(h_client_t *c);
/* Runs the loop until the client is bound or gone; 1 when bound. */
int h_client_wait_login(h_client_t *c, int timeout_ms);
/* New client, logged in, with initial presence (priority `prio`) sent.
 * Returns NULL (after a failed CHECK) when the login did not succeed. */
h_client_t *h_login(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const char *password,
                    int prio);
/* The JID the server bound, or "". */
const char *h_jid(h_client_t *c);

/* Runs the context's loop until cond(ud) is true or timeout_ms pass;
 * returns the final value of cond. */
int h_run_until(xmpp_ctx_t *ctx, int (*cond)(void *ud), void *ud, int timeout_ms);
/* Runs the context's loop for ms milliseconds. */
void h_run_for(xmpp_ctx_t *ctx, int ms);
/* Lets the server finish what it was doing (write jobs included) and
 * flushes what it sent to `c`: a short pause, then a ping round trip.
 * Not for components (their IQs need a 'from'). */
void h_settle(h_client_t *c);
/* h_settle, then forgets everything in the client's inbox. */
void h_drain(h_client_t *c);
/* Runs until the client is disconnected; 1 when it is. */
int h_wait_disconnect(h_client_t *c, int timeout_ms);
/* Sends raw XML text (printf-style). */
void h_send(h_client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What h_wait looks for; NULL fields match anything. */
typedef struct h_match {
    const char *name; /* "message", "iq", "presence" */
    const char *type;
    const char *id;
    const char *from;
    const char *body;     /* exact <body/> text */
    const char *child_ns; /* a direct child in this namespace */
    const char *error;    /* <error/> holding this condition */
} h_match_t;

int h_matches(xmpp_stanza_t *st, const h_match_t *m);
/* Waits for a matching stanza, removes it from the inbox and returns it
 * (caller releases with xmpp_stanza_release), or NULL on timeout. */
xmpp_stanza_t *h_wait(h_client_t *c, const h_match_t *m, int timeout_ms);
/* The same with a predicate (`ud` passed on) for what h_match_t cannot say. */
xmpp_stanza_t *h_wait_for(h_client_t *c, int (*fn)(xmpp_stanza_t *st, const void *ud),
                          const void *ud, int timeout_ms);
/* Number of matching stanzas currently in the inbox (without waiting). */
int h_count(h_client_t *c, const h_match_t *m);
/* Sends an IQ (payload XML, may be "") and waits for its answer. */
xmpp_stanza_t *h_iq(h_client_t *c, const char *type, const char *to, const char *payload,
                    int timeout_ms);
/* The defined condition in a stanza's <error/> ("service-unavailable"),
 * or NULL.  Points into the stanza. */
const char *h_error_condition(xmpp_stanza_t *st);
/* 1 when attribute `name` of `st` equals `want`; with want NULL, when the
 * attribute is absent. */
int h_attr_eq(xmpp_stanza_t *st, const char *name, const char *want);
/* Text of the first child named `name` (any namespace), heap string
 * freed with free(), NULL if absent. */
char *h_child_text(xmpp_stanza_t *st, const char *name);
/* The child of `st` named `name` in `ns`, or NULL (also when st is NULL). */
xmpp_stanza_t *h_child(xmpp_stanza_t *st, const char *name, const char *ns);
/* Releases `st` when it is not NULL. */
void h_rel(xmpp_stanza_t *st);
/* 1 when a stanza came (st not NULL); releases it. */
int h_got(xmpp_stanza_t *st);
/* 1 when `st` is an error with the condition `cond`; releases it. */
int h_error_is(xmpp_stanza_t *st, const char *cond);

/* ---- steps many tests take ---- */

/* Sends an IQ and sums up its answer: "result", the error's defined
 * condition, "error" (an error without one), or "timeout".  The string
 * stays valid for the next seven calls. */
const char *h_iq_outcome(h_client_t *c, const char *type, const char *to, const char *payload);
/* 1 when a fresh STARTTLS client can log in as `jid` with `password`
 * (the client is gone again on return). */
int h_can_login(h_server_t *srv, const char *jid, const char *password);
/* Waits for a presence of `type` from exactly `from` and removes it from
 * the inbox; 1 when it came. */
int h_wait_presence(h_client_t *c, const char *from, const char *type, int timeout_ms);
/* Subscribes a and b to each other (subscribe and subscribed both ways,
 * each arrival checked), then drains both inboxes. */
void h_make_mutual(h_client_t *a, const char *a_bare, h_client_t *b, const char *b_bare);
/* Checks that a and b can still chat: one message each way, to the other's
 * bare JID, arrives within 5 s; `why` (what happened before) goes into the
 * bodies and the failure message.  1 when both arrived. */
int h_still_chatting(h_client_t *a, h_client_t *b, const char *why);

/* ---- raw socket clients (plain TCP, then OpenSSL on the same socket) ---- */

typedef struct h_raw {
    int fd;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    char *buf; /* everything received since the last stream (re)start */
    size_t len, cap;
    size_t seen; /* h_raw_wait consumed up to here */
    int eof;
} h_raw_t;

/* Connects to 127.0.0.1:port; 1 on success. */
int h_raw_connect(h_raw_t *r, int port);
/* When > 0, the receive buffer (SO_RCVBUF) of raw connections made from now
 * on: a client that reads slowly fills the server's side sooner. */
extern int h_raw_rcvbuf;
/* The same from another loopback source address (e.g. "127.0.3.7"), so a
 * test can play many peers; source NULL = the system's choice. */
int h_raw_connect_from(h_raw_t *r, const char *source, int port);
void h_raw_close(h_raw_t *r);
/* Sends bytes (TLS once it is up); 1 when all were written. */
int h_raw_send(h_raw_t *r, const char *data, size_t len);
int h_raw_sendf(h_raw_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Waits until `needle` appears after the last match; 1 found, 0 not (closed
 * or timed out).  The search position moves past the match. */
int h_raw_wait(h_raw_t *r, const char *needle, int timeout_ms);
/* Reads whatever has arrived without waiting; 1 when something did. */
int h_raw_poll(h_raw_t *r);
/* Waits until the peer closes the connection; 1 when it did. */
int h_raw_wait_eof(h_raw_t *r, int timeout_ms);
/* Sends a client stream header for `domain` and waits for the features. */
int h_raw_open_stream(h_raw_t *r, const char *domain);
/* TLS handshake on the socket.  max_version 0 = library default.  1 ok. */
int h_raw_tls_handshake(h_raw_t *r, int min_version, int max_version);
/* Stream header, <starttls/>, handshake, new stream: 1 when features came. */
int h_raw_starttls(h_raw_t *r, const char *domain);

typedef struct h_scram {
    const char *mech; /* "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"... */
    const char *user; /* localpart */
    const char *password;
    const char *cb_type;    /* -PLUS: "tls-exporter", "tls-server-end-point", "tls-unique" */
    int corrupt_cb;         /* flip a bit of the channel-binding data */
    int claim_no_server_cb; /* send the 'y' flag (downgrade claim) */
    const char *sasl2;      /* non-NULL: SASL2 (XEP-0388) <authenticate/>, with this inline XML */
} h_scram_t;

enum { H_AUTH_OK = 1, H_AUTH_FAILED = 0, H_AUTH_ERROR = -1 };
/* One SCRAM exchange on an open stream.  H_AUTH_OK on <success/> whose
 * server signature verified; H_AUTH_FAILED on <failure/> (condition in
 * cond); H_AUTH_ERROR otherwise (reason in cond). */
int h_raw_scram(h_raw_t *r, const h_scram_t *p, char *cond, size_t condlen);
int h_raw_plain(h_raw_t *r, const char *user, const char *password, char *cond, size_t condlen);
/* Base64 (heap strings/bytes, free() them). */
char *h_b64_encode(const unsigned char *data, size_t len);
unsigned char *h_b64_decode(const char *text, size_t *len);
/* Channel-binding data of the connection: "tls-exporter",
 * "tls-server-end-point" or "tls-unique"; returns its length (out: 64 bytes). */
size_t h_raw_channel_binding(h_raw_t *r, const char *type, unsigned char *out);
/* After <success/>: new stream, bind `resource`; the bound JID goes into
 * jid.  1 on success. */
int h_raw_bind(h_raw_t *r, const char *domain, const char *resource, char *jid, size_t jidlen);
/* Connect, STARTTLS, SCRAM-SHA-256 and the new stream, without binding
 * (for stream-management resumption): 1 when the features came. */
int h_raw_auth(h_raw_t *r, h_server_t *srv, const char *user, const char *password);
/* Waits (5 s) for an element starting with `start` and copies it, up to its
 * first '>', into out.  1 when it came. */
int h_raw_element(h_raw_t *r, const char *start, char *out, size_t outlen);
/* The value of attribute `name` (single-quoted, as Parley writes) in an
 * element's text; 1 when present. */
int h_xml_attr_in(const char *el, const char *name, char *out, size_t outlen);
/* Connect, STARTTLS, SCRAM-SHA-256, bind: 1 when logged in. */
int h_raw_login(h_raw_t *r, h_server_t *srv, const char *user, const char *password,
                const char *resource);

#endif
