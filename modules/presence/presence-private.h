/* presence-private.h — what the presence module's files share: its config,
 * the stanza checks, and the subscription state machine of RFC 6121 §3
 * (subscription.c). */
#ifndef PL_MOD_PRESENCE_PRIVATE_H
#define PL_MOD_PRESENCE_PRIVATE_H

#include <stddef.h>

#include "core/module.h"
#include "core/server.h"
#include "storage/roster.h"

#define PRESENCE_NS "urn:parley:presence"
#define PRESENCE_STATE_MAX 64     /* bytes in <state value='...'/> */
#define PRESENCE_MAX_RESOURCES 64 /* resources of one account looked at */

typedef struct presence_conf {
    long long max_status;  /* bytes of one <status/> */
    long long max_items;   /* visible roster items a subscription may create */
    long long max_pending; /* records outside the roster: requests waiting, pre-approvals */
} presence_conf_t;

/* The module's data on a host: the shared roster repository. */
static inline pl_roster_t *presence_roster(const pl_module_ctx_t *ctx)
{
    return pl_module_data(ctx);
}

/* ---- stanza checks (presence.c) ---- */

/* 0 when the presence's <status/> and <state xmlns='urn:parley:presence'/>
 * children are within the rules (docs/extensions/presence.md); otherwise
 * -1 with a short reason for the error text. */
int presence_check(const pl_stanza_t *st, size_t max_status, const char **why);
/* The text of the first <status/>, as a heap string, or NULL. */
char *presence_status_text(const pl_stanza_t *st);

/* ---- subscriptions (subscription.c) ---- */

typedef enum presence_sub_kind {
    SUB_SUBSCRIBE = 1,
    SUB_SUBSCRIBED,
    SUB_UNSUBSCRIBE,
    SUB_UNSUBSCRIBED,
} presence_sub_kind_t;

/* The kind for a presence 'type', or 0 when it is not a subscription type. */
presence_sub_kind_t presence_sub_kind(const char *type);

/* What a subscription stanza does besides changing the item. */
typedef struct presence_sub_effect {
    int store;        /* the item changed: write it (or remove it, below) */
    int remove;       /* nothing left worth keeping in an invisible item */
    int route;        /* outbound: send the stanza on to the contact */
    int deliver;      /* inbound: deliver it to the user's available resources */
    int auto_reply;   /* inbound subscribe: answer 'subscribed' for the user */
    int to_added;     /* the user now receives the contact's presence */
    int from_removed; /* the contact no longer receives the user's presence */
} presence_sub_effect_t;

/* The state tables (RFC 6121 §3 and appendix A).  `it` is the user's item
 * for the contact (initialised, jid set; `exists` = it was stored); it is
 * changed in place.  Outbound: the user sent the stanza to the contact.
 * Inbound: the contact sent it to the user; `status` (may be NULL) is the
 * request's status text, kept with a pending request. */
void presence_sub_outbound(presence_sub_kind_t kind, pl_roster_item_t *it, int exists,
                           presence_sub_effect_t *e);
void presence_sub_inbound(presence_sub_kind_t kind, pl_roster_item_t *it, int exists,
                          const char *status, presence_sub_effect_t *e);

/* Handlers (subscription.c), hooked in presence.c. */
pl_hook_result_t presence_out_subscription(pl_hook_ctx_t *hc);
pl_hook_result_t presence_in_subscription(pl_hook_ctx_t *hc);

/* Helpers shared by both files (presence.c). */
/* Sends type='unavailable' from each available resource of `user` to `to`
 * (through the router, so the recipient's filters apply). */
void presence_send_unavailable_of(pl_server_t *srv, const char *user, const char *to);
/* Sends the current presence of each available resource of `contact` to
 * `to` (a full or bare JID), as the answer to a probe would. */
void presence_send_current_of(pl_server_t *srv, const pl_module_ctx_t *ctx, const char *contact,
                              const char *to);

#endif
