/* c2s-private.h — what the client-stream files share among themselves: the
 * state a client stream keeps beside its session (pl_c2s_t), and the
 * functions of c2s.c, sasl.c, sasl2.c, sm.c and csi.c. */
#ifndef PL_C2S_PRIVATE_H
#define PL_C2S_PRIVATE_H

#include "core/c2s/c2s.h"
#include "core/core.h"
#include "xmpp/scram.h"

typedef enum pl_c2s_state {
    PL_ST_WAIT_STREAM = 0, /* expecting a stream header */
    PL_ST_TLS_HANDSHAKE,   /* after <proceed/> */
    PL_ST_FEATURES,        /* header answered, features sent, expecting starttls/auth/bind */
    PL_ST_SASL,            /* SCRAM exchange in progress */
    PL_ST_AUTH_PENDING,    /* waiting on an async check (PLAIN hashing) */
    PL_ST_ACTIVE,          /* resource bound */
    PL_ST_CLOSING,
} pl_c2s_state_t;

typedef struct pl_sm pl_sm_t;
typedef struct pl_sasl2_req pl_sasl2_req_t;

/* A client stream's own state, made with its session (pl_c2s_ops.open) and
 * freed with it.  What every stream has (identity, routing state, limits)
 * stays in pl_session_t. */
typedef struct pl_c2s {
    pl_c2s_state_t state;
    /* SASL (c2s/sasl.c, c2s/sasl2.c) */
    pl_scram_server_t scram;
    int scram_active;
    unsigned auth_attempts; /* failed or aborted on this stream */
    unsigned sasl_elements; /* SASL/SASL2 elements received before authentication */
    pl_sasl2_req_t *sasl2;  /* an <authenticate/> (SASL2) under way, until <success/> */
    /* the idle ping (XEP-0199) */
    int ping_sent;
    uint64_t ping_rx_bytes; /* s->rx_bytes when it went: unanswered while equal */
    char ping_id[20];
    /* stream management (sm.c) */
    pl_sm_t *sm;         /* NULL until <enable/> */
    int lost;            /* the connection failed (not a clean close): SM may keep the session */
    int resuming;        /* <resume/> accepted (or a FAST <success/> is stored): stanzas wait */
    pl_stanza_t **early; /* stanzas that arrived meanwhile */
    size_t nearly, early_cap, early_bytes;
    pl_session_t *moved_to; /* resumed by this session: stanzas still arriving follow it */
    /* client state indication (csi.c) */
    int csi_inactive;
    pl_stanza_t **csi_held; /* presences held while inactive, one per sender */
    size_t csi_nheld, csi_cap, csi_bytes;
} pl_c2s_t;

/* The client state of `s`, or NULL when it is not a client stream. */
static inline pl_c2s_t *pl_c2s(const pl_session_t *s)
{
    return s->ops == &pl_c2s_ops ? s->stream : NULL;
}

/* c2s.c */
/* Binds a resource to the authenticated session (0, or -1 with the error
 * for the client); pl_c2s_bound finishes once the client has its JID. */
int pl_c2s_bind(pl_session_t *s, const char *resource, pl_stanza_err_t *err, const char **text);
void pl_c2s_bound(pl_session_t *s);
/* prefix + 12 random characters (caller frees). */
char *pl_c2s_random_resource(const char *prefix);
/* Login time before binding, then the idle ping (also the kind's timer op). */
void pl_c2s_timer(pl_session_t *s);

/* c2s/sasl.c — shared with c2s/sasl2.c */
void pl_c2s_auth_failed(pl_session_t *s, const char *cond, const char *text, const char *bare);
void pl_c2s_auth_succeeded(pl_session_t *s, const char *bare, const char *server_final_b64,
                           const char *mech);
/* The bare JID for a SASL username on this host (caller frees), or NULL. */
char *pl_c2s_bare_for_username(pl_session_t *s, const char *username);
/* -1 (and the client told to wait) while the IP or account is backing off. */
int pl_c2s_backoff_check(pl_session_t *s, const char *bare);
void pl_c2s_sasl_features(pl_session_t *s, pl_buf_t *b);
void pl_c2s_sasl_stanza(pl_session_t *s, const pl_stanza_t *st);

/* c2s/sasl2.c — SASL2 (XEP-0388), bind2 (XEP-0386), FAST (XEP-0484) */
/* The <authentication/> feature with these <mechanism/> elements. */
void pl_c2s_sasl2_features(pl_session_t *s, pl_buf_t *b, const char *mechanisms);
/* Reads an <authenticate/> into the stream's sasl2; -1 with a reason if malformed. */
int pl_c2s_sasl2_parse(pl_session_t *s, const pl_xml_t *auth, const char **why);
/* An HT-SHA-256-* (FAST token) login. */
void pl_c2s_fast_start(pl_session_t *s, const char *mech, const uint8_t *msg, size_t len);
/* SASL succeeded inside <authenticate/>: no stream restart; the inline
 * requests (resume, bind2, tokens) are carried out, then <success/> goes. */
void pl_c2s_sasl2_succeeded(pl_session_t *s, const char *server_final_b64);
/* Sends <success/> with `sm_xml` (<resumed/> when resumed = 1, or an SM
 * <failed/>, or NULL) and, unless resumed, performs the inline bind2. */
void pl_c2s_sasl2_finish(pl_session_t *s, const char *sm_xml, int resumed);
void pl_c2s_sasl2_free(pl_session_t *s);

/* sm.c — stream management (XEP-0198) */
/* An <enable/>, <resume/>, <r/> or <a/> from the client. */
void pl_sm_nonza(pl_session_t *s, const pl_stanza_t *st);
/* Enables SM on a bound session, appending <enabled/> or <failed/> to out
 * (also used inline by bind2). */
void pl_sm_enable(pl_session_t *s, int resume, pl_buf_t *out);
/* Resumes a detached session for this authenticated, unbound one (the
 * <resume/> nonza, or inline in SASL2).  The answer comes later: <resumed/>
 * or <failed/>, or pl_c2s_sasl2_finish when a SASL2 request is under way. */
void pl_sm_resume(pl_session_t *s, const char *previd, const char *h_attr);
/* A stanza from the client was handled (counts toward our h). */
void pl_sm_count_in(pl_session_t *s);
/* A stanza goes (or, detached, would go) to the client: kept until acked.
 * Past max_unacked / max_unacked_bytes a connected session gets a
 * resource-constraint stream error (and is detached); for a detached one
 * it returns -1 and the caller ends it (pl_sm_end_detached). */
int pl_sm_track(pl_session_t *s, const pl_stanza_t *st);
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
/* Frees what is left at session free. */
void pl_sm_release(pl_session_t *s);

/* csi.c — client state indication (XEP-0352) */
/* An <active/> or <inactive/> from the client. */
void pl_csi_nonza(pl_session_t *s, const pl_stanza_t *st);
/* For an inactive session: 1 if the stanza was held back (presence). */
int pl_csi_hold(pl_session_t *s, const pl_stanza_t *st);
/* Sends what was held (the session is detached or becomes active). */
void pl_csi_end(pl_session_t *s);
/* Frees what is still held at session free. */
void pl_csi_release(pl_session_t *s);

#endif
