/* carbons-private.h — what the carbons module shares between its files and
 * with its unit tests: which messages are copied (XEP-0280 §6) and how a
 * copy is wrapped (§7, §8).  Pure functions over immutable stanzas. */
#ifndef PL_CARBONS_PRIVATE_H
#define PL_CARBONS_PRIVATE_H

#include "xmpp/ns.h"
#include "xmpp/stanza.h"

/* Which side of a conversation a copy tells about: a message one of the
 * user's clients sent, or one the user's account received. */
typedef enum carbons_dir { CARBONS_SENT = 1, CARBONS_RECEIVED } carbons_dir_t;

/* 1 when `msg` (a <message/>) is copied to the user's other clients in
 * direction `dir`, 0 when not: the rules are in rules.c. */
int carbons_eligible(const pl_stanza_t *msg, carbons_dir_t dir);

/* 1 when `msg` carries a carbon wrapper (<sent/> or <received/> of
 * urn:xmpp:carbons:2) as a direct child: only the server makes those. */
int carbons_is_wrapped(const pl_stanza_t *msg);

/* The copy of `orig` for one of `user_bare`'s clients:
 * <message from=user_bare to=to_full type=orig's><sent|received><forwarded>
 * orig </forwarded></…></message>.  Returns a new reference. */
pl_stanza_t *carbons_wrap(const pl_stanza_t *orig, carbons_dir_t dir, const char *user_bare,
                          const char *to_full);

#endif
