/* mam-private.h — what the files of the mam module share: its config, its
 * per-host state, and the entry points of archiving (mam.c), preferences
 * (prefs.c) and queries (query.c). */
#ifndef PL_MAM_PRIVATE_H
#define PL_MAM_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include "core/module.h"
#include "storage/archive.h"
#include "storage/roster.h"
#include "xmpp/ns.h"

#define PL_NS_MAM_EXTENDED "urn:xmpp:mam:2#extended"
/* XEP-0313 §7 (0.8): the server understands include-groupchat. */
#define PL_NS_MAM_GROUPCHAT_FIELD "urn:xmpp:mam:2#groupchat-field"

#define MAM_MAX_PREFS_JIDS 256 /* JIDs in each of <always/> and <never/> */
#define MAM_MAX_QUERIES_PER_SESSION 2

typedef struct mam_conf {
    long long retention;      /* ms; 0 = keep forever */
    long long purge_interval; /* ms */
    long long purge_batch;    /* rows per purge job */
    long long default_page;
    long long max_page;
    long long query_timeout; /* ms */
    char *default_mode;      /* "always", "roster", "never" */
    int archive_groupchat;   /* keep the groupchat messages a joined occupant gets */
} mam_conf_t;

typedef enum mam_mode { MAM_ALWAYS = 0, MAM_ROSTER, MAM_NEVER } mam_mode_t;

typedef struct mam_mod {
    pl_archive_t *archive; /* read side (queries) */
    pl_roster_t *roster;   /* for default='roster' */
    pl_kv_t *prefs;        /* "mam.prefs": bare JID -> preferences record */
    mam_mode_t default_mode;
    /* Retention purge: touched only on loop 0 (the tick and its job's done). */
    uint64_t next_purge_ms;
    int purge_running;
    int purge_more;
} mam_mod_t;

/* Per-session slot (session_state_size): touched on the session's loop. */
typedef struct mam_session {
    int queries; /* in flight */
} mam_session_t;

/* ---- prefs.c ---- */
/* Whether `owner`'s preferences let a message with `peer` (a bare JID) into
 * the archive. */
int mam_prefs_allow(mam_mod_t *m, const char *owner, const char *peer);
int mam_mode_parse(const char *s, mam_mode_t *out);
/* 1 when a client asks about its own account (no 'to', or its bare JID):
 * nobody reads or changes another user's archive or preferences. */
int mam_own_request(const pl_hook_ctx_t *hc);
pl_hook_result_t mam_prefs_get(pl_hook_ctx_t *hc);
pl_hook_result_t mam_prefs_set(pl_hook_ctx_t *hc);

/* ---- query.c ---- */
pl_hook_result_t mam_query_form(pl_hook_ctx_t *hc);
pl_hook_result_t mam_query(pl_hook_ctx_t *hc);
pl_hook_result_t mam_metadata(pl_hook_ctx_t *hc);

#endif
