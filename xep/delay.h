/* xep/delay.h — XEP-0203 delayed delivery: the <delay/> a server adds to a
 * stanza it hands over later than it arrived (offline storage), with the
 * XEP-0082 UTC timestamp of when it arrived. */
#ifndef PL_XEP_DELAY_H
#define PL_XEP_DELAY_H

#include <stddef.h>
#include <stdint.h>

#include "xmpp/stanza.h"

/* XEP-0082 DateTime in UTC with milliseconds, "2026-01-02T03:04:05.678Z",
 * of a unix time in milliseconds, into out (at least 32 bytes). */
#define PL_DELAY_STAMP_SIZE 32
void pl_delay_stamp(int64_t unix_ms, char out[PL_DELAY_STAMP_SIZE]);

/* A copy of `st` with <delay xmlns='urn:xmpp:delay' from='from'
 * stamp='...'>reason</delay> appended (reason may be NULL).  Returns a new
 * reference; `st` is only borrowed. */
pl_stanza_t *pl_delay_add(const pl_stanza_t *st, const char *from, int64_t unix_ms,
                          const char *reason);

/* 1 when `st` already carries a <delay/> whose 'from' is `from` (a stanza
 * the server stamped before and now handles again). */
int pl_delay_has(const pl_stanza_t *st, const char *from);

#endif
