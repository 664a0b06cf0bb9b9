/* inbox-private.h — shared by the inbox module's files: inbox.c (what
 * changes a conversation: hooks, write jobs, pushes) and query.c (the
 * XEP-0430 query with its paging). */
#ifndef PL_INBOX_PRIVATE_H
#define PL_INBOX_PRIVATE_H

#include "core/module.h"
#include "core/server.h"
#include "storage/inbox.h"
#include "xmpp/ns.h"

#define INBOX_NS "urn:xmpp:inbox:1"
#define INBOX_NS_PARLEY "urn:parley:inbox"
#define INBOX_NS_MDS "urn:xmpp:mds:displayed:0"

/* The module's session flags (pl_module_session_flag). */
enum {
    INBOX_FLAG_PUSH, /* asked for its inbox, so is told when another client reads */
    INBOX_NFLAGS,
};

#define INBOX_MAX_RESOURCES 64 /* sessions of one account looked at */
#define INBOX_PAGE_DEFAULT 50  /* conversations per answer without <max/> */
#define INBOX_PAGE_MAX 250     /* the most one answer holds */

typedef struct inbox_conf {
    long long max_conversations;
} inbox_conf_t;

typedef struct inbox_data {
    pl_kv_t *kv;
} inbox_data_t;

static inline pl_kv_t *inbox_kv(const pl_module_ctx_t *ctx)
{
    return ((inbox_data_t *)pl_module_data(ctx))->kv;
}

/* PL_EV_IQ get <inbox xmlns='urn:xmpp:inbox:1'/> (query.c). */
pl_hook_result_t inbox_query(pl_hook_ctx_t *hc);

/* Writes an XEP-0082 timestamp of `usec` (microseconds since 1970). */
void inbox_stamp(long long usec, char out[32]);

#endif
