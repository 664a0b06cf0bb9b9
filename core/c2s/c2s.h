/* c2s.h — what the rest of the core knows of client streams: their stream
 * kind (pl_c2s_ops) and the sessions stream management keeps after their
 * connection is gone (each loop's `hibernating` list). */
#ifndef PL_C2S_H
#define PL_C2S_H

#include "core/core.h"

/* 1 when `s` is a detached client session waiting for a resumption (0 for
 * any other session, of any kind). */
int pl_sm_detached(const pl_session_t *s);
/* The next session on its loop's `hibernating` list (s is detached). */
pl_session_t *pl_sm_next_detached(const pl_session_t *s);
/* Ends a detached session now, as if its time ran out (on its loop; the
 * account was deleted).  Does nothing to a session that is not detached. */
void pl_sm_end_detached(pl_session_t *s, const char *why);
/* Ends detached sessions past resume_timeout (all of them with all = 1). */
void pl_sm_sweep(pl_loop_t *loop, int all);

#endif
