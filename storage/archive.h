/* archive.h — the message archive repository (XEP-0313 history) in the
 * SQLite half of the storage (history.db): one row per message per owner,
 * with the body indexed for full-text search (FTS5).
 *
 * Keys.  Every message is named by a `key`: its time in microseconds since
 * 1970, unique within one owner's archive.  Parley's ids (pl_server_new_id,
 * the XEP-0359 stanza-ids) encode exactly such a number (pl_id_value), so
 * the module converts ids to keys and back; the repository only sees keys.
 * A second insert of the same (owner, key) is ignored, so storing is
 * idempotent when stream management routes a message again.
 *
 * Threads.  Writes (insert, purge) run inside a storage write job
 * (pl_storage_write) on the storage thread.  Queries are slow compared with
 * an event loop's budget, so they run on worker threads: pl_archive_query
 * borrows one of the handle's read-only connections (opened on demand, kept
 * for reuse) and may be called from any thread at once; WAL lets them read
 * while the storage thread writes.
 *
 * Records.  The stanza bytes go through one encode/decode pair inside the
 * repository (a format byte, then the payload) so encryption at rest can be
 * added there without touching callers.  The body given for full-text search
 * is kept in the FTS5 table as plain text. */
#ifndef PL_STORAGE_ARCHIVE_H
#define PL_STORAGE_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define PL_ARCHIVE_MAX_PAGE 1000    /* items one query may return, whatever the caller asks */
#define PL_ARCHIVE_MAX_IDS 100      /* keys in one "ids" filter */
#define PL_ARCHIVE_MAX_FULLTEXT 256 /* bytes of a full-text search string */
#define PL_ARCHIVE_MAX_TERMS 16     /* words in a full-text search */

/* IN and OUT are 1:1 messages (and every message of a room's archive);
 * GROUPCHAT is a room's message kept in an occupant's own archive, which
 * queries leave out unless they ask for it (XEP-0313 include-groupchat). */
typedef enum pl_archive_dir {
    PL_ARCHIVE_IN = 0,
    PL_ARCHIVE_OUT = 1,
    PL_ARCHIVE_GROUPCHAT = 2,
} pl_archive_dir_t;

/* A message to store (everything borrowed for the call). */
typedef struct pl_archive_msg {
    const char *owner;         /* bare JID whose archive it is */
    int64_t key;               /* > 0, see above */
    const char *peer;          /* bare JID of the other party ('with') */
    const char *peer_resource; /* its resource, or NULL */
    pl_archive_dir_t dir;
    const char *stanza; /* serialised stanza */
    size_t stanza_len;
    const char *body; /* text for full-text search, or NULL */
    size_t body_len;
} pl_archive_msg_t;

/* Inside a write job: 1 stored, 0 already there (same owner and key), <0
 * error (-EINVAL for a missing field or key <= 0). */
int pl_archive_insert(pl_wtxn_t *txn, const pl_archive_msg_t *m);

/* Inside a write job: deletes at most `limit` messages older than
 * `before_key` (oldest first) whose owner is on `domain` (NULL: any).
 * Returns how many were deleted (less than `limit`: nothing older is left),
 * or <0. */
int pl_archive_purge(pl_wtxn_t *txn, const char *domain, int64_t before_key, unsigned limit);

/* Inside a write job: deletes all of `owner`'s messages; the count or <0. */
int pl_archive_delete_owner(pl_wtxn_t *txn, const char *owner);

/* ---- queries ---- */

typedef struct pl_archive pl_archive_t;

/* A handle for queries on the storage's history.db (read-only connections
 * opened on demand).  Close it after the last query returned. */
int pl_archive_open(pl_storage_t *st, pl_archive_t **out);
void pl_archive_close(pl_archive_t **ap);

typedef struct pl_archive_query {
    const char *owner;
    /* Filters (all optional; 0/NULL = none). */
    const char *with;          /* bare JID of the peer */
    const char *with_resource; /* only that resource (with `with`: that full JID; alone:
                                * a room's archive asked by an occupant's nick) */
    int64_t start, end;        /* inclusive key (time) bounds; 0 = open */
    int64_t after_key;         /* messages after this one (must exist) */
    int64_t before_key;        /* messages before this one (must exist) */
    const int64_t *keys;       /* only these (at most PL_ARCHIVE_MAX_IDS) */
    size_t nkeys;
    const char *fulltext; /* words that must all appear in the body */
    int include_groupchat; /* PL_ARCHIVE_GROUPCHAT rows too (left out otherwise) */
    /* The page (XEP-0059). */
    size_t max;          /* items wanted; 0 = count only; capped at PL_ARCHIVE_MAX_PAGE */
    int64_t page_after;  /* forward from after this item (must exist) */
    int64_t page_before; /* backward from before this item (must exist) */
    int last_page;       /* the last page (<before/> empty) */
    int has_index;       /* forward from the index-th item */
    size_t index;
    unsigned budget_ms; /* give up after this long (0 = no limit) */
} pl_archive_query_t;

typedef struct pl_archive_item {
    int64_t key;
    pl_archive_dir_t dir;
    char *peer;   /* bare JID */
    char *stanza; /* decoded stanza bytes, NUL-terminated */
    size_t stanza_len;
} pl_archive_item_t;

typedef struct pl_archive_page {
    pl_archive_item_t *items; /* n items, oldest first */
    size_t n;
    long long count;       /* items matching the filters, ignoring the page */
    long long first_index; /* position of items[0] in that set, or -1 when not computed */
    int complete;          /* the page holds the end of the set in its direction */
} pl_archive_page_t;

/* Runs a query.  0 with the page filled (free it with pl_archive_page_deinit),
 * or: -ENOENT a key given as after/before (filter or page) is not in the
 * archive; -EINVAL a bad argument (e.g. nothing searchable in `fulltext`,
 * too many keys); -ETIMEDOUT the budget ran out; other <0 errors. */
int pl_archive_query(pl_archive_t *a, const pl_archive_query_t *q, pl_archive_page_t *out);
/* Frees what the page holds; the page itself is the caller's. */
void pl_archive_page_deinit(pl_archive_page_t *p);

/* The oldest and newest keys of `owner`'s archive: 1 (both filled), 0 empty,
 * <0 error. */
int pl_archive_bounds(pl_archive_t *a, const char *owner, int64_t *first, int64_t *last);

/* Turns a user's search text into an FTS5 expression (each word quoted, all
 * required; a trailing '*' keeps prefix search).  0, or -EINVAL when it has
 * no word or too many.  Exposed for tests. */
int pl_archive_fts_expr(const char *text, char *out, size_t outlen);

#endif
