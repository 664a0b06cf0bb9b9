/* route-rules.h — RFC 6121 §8.5 delivery rules for a stanza addressed to a
 * local account, as a pure function over a snapshot of the account's
 * sessions.  Kept apart from the router so the rules can be unit tested. */
#ifndef PL_ROUTE_RULES_H
#define PL_ROUTE_RULES_H

#include <stddef.h>

typedef enum pl_stanza_kind { PL_KIND_MESSAGE = 1, PL_KIND_PRESENCE, PL_KIND_IQ } pl_stanza_kind_t;

typedef struct pl_route_candidate {
    const char *resource;
    int available; /* sent available presence */
    int priority;
} pl_route_candidate_t;

typedef enum pl_route_action {
    PL_ROUTE_DELIVER = 1,  /* to the candidates marked in `selected` */
    PL_ROUTE_SERVER,       /* the server answers for the account (IQ to a bare JID) */
    PL_ROUTE_UNDELIVERED,  /* nobody takes it now: offline storage may; else bounce */
    PL_ROUTE_BOUNCE,       /* error service-unavailable back to the sender */
    PL_ROUTE_DROP,         /* silently ignored */
} pl_route_action_t;

/* `type` is the stanza's type attribute ("" or NULL for none); `resource` the
 * addressed resource or NULL for a bare JID; `account_exists` whether the
 * account is known.  `selected` (n flags) is filled for PL_ROUTE_DELIVER. */
pl_route_action_t pl_route_rules(pl_stanza_kind_t kind, const char *type, const char *resource,
                                 int account_exists, const pl_route_candidate_t *c, size_t n,
                                 unsigned char *selected);

pl_stanza_kind_t pl_stanza_kind_of(const char *name);

#endif
