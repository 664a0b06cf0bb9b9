/* c2s-private.h — what the client-stream files share among themselves. */
#ifndef PL_C2S_PRIVATE_H
#define PL_C2S_PRIVATE_H

#include "core.h"

/* c2s-sasl.c */
void pl_c2s_sasl_features(pl_session_t *s, pl_buf_t *b);
void pl_c2s_sasl_stanza(pl_session_t *s, const pl_stanza_t *st);

#endif
