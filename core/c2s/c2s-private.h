/* c2s-private.h — what the client-stream files share among themselves. */
#ifndef PL_C2S_PRIVATE_H
#define PL_C2S_PRIVATE_H

#include "core/core.h"

/* c2s.c */
/* Binds a resource to the authenticated session (0, or -1 with the error
 * for the client); pl_c2s_bound finishes once the client has its JID. */
int pl_c2s_bind(pl_session_t *s, const char *resource, pl_stanza_err_t *err, const char **text);
void pl_c2s_bound(pl_session_t *s);
/* prefix + 12 random characters (caller frees). */
char *pl_c2s_random_resource(const char *prefix);

/* c2s/sasl.c — shared with c2s/sasl2.c */
void pl_c2s_auth_failed(pl_session_t *s, const char *cond, const char *text, const char *bare);
void pl_c2s_auth_succeeded(pl_session_t *s, const char *bare, const char *server_final_b64,
                           const char *mech);
/* The bare JID for a SASL username on this host (caller frees), or NULL. */
char *pl_c2s_bare_for_username(pl_session_t *s, const char *username);
/* -1 (and the client told to wait) while the IP or account is backing off. */
int pl_c2s_backoff_check(pl_session_t *s, const char *bare);

/* c2s/sasl2.c */
/* The <authentication/> feature with these <mechanism/> elements. */
void pl_c2s_sasl2_features(pl_session_t *s, pl_buf_t *b, const char *mechanisms);
/* Reads an <authenticate/> into s->sasl2; -1 with a reason if malformed. */
int pl_c2s_sasl2_parse(pl_session_t *s, const pl_xml_t *auth, const char **why);
/* An HT-SHA-256-* (FAST token) login. */
void pl_c2s_fast_start(pl_session_t *s, const char *mech, const uint8_t *msg, size_t len);
void pl_c2s_sasl_features(pl_session_t *s, pl_buf_t *b);
void pl_c2s_sasl_stanza(pl_session_t *s, const pl_stanza_t *st);

#endif
