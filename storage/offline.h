/* offline.h — the offline message repository (XEP-0160): messages kept for
 * an account that had no available session, in arrival order, until they
 * are delivered or expire.  Lives in the LMDB store "offline".
 *
 * Keys: user '\0' id, where id is the message's XEP-0359 stanza-id
 * (pl_server_new_id: time-ordered, so key order is arrival order, and a
 * second put of the same id is a no-op — the same message handed back by
 * stream management is stored once).  Per account, a counter record holds
 * the number of messages and their bytes, so the quota check is one read.
 * A time index (stored-at, user, id) lets the retention purge find the
 * oldest records without scanning accounts.
 *
 * The stanza is kept exactly as it will be delivered (its serialised
 * bytes).  Every payload goes through one encode/decode pair inside
 * offline.c: the place where encryption at rest plugs in (IM-6).
 *
 * Reads are synchronous LMDB reads (any thread); writes run inside a
 * storage write job (pl_storage_write), so a record, its index entry and
 * the counter commit together. */
#ifndef PL_STORAGE_OFFLINE_H
#define PL_STORAGE_OFFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

typedef struct pl_offline pl_offline_t;

/* Opens (creating at start-up) the repository; one handle per storage,
 * shared by every host.  Not from inside a write job.  0 or <0. */
int pl_offline_open(pl_storage_t *st, pl_offline_t **out);

/* Per-account limits; 0 means no limit. */
typedef struct pl_offline_quota {
    uint64_t max_messages;
    uint64_t max_bytes; /* counted as stored record bytes */
} pl_offline_quota_t;

/* What one account holds. */
typedef struct pl_offline_usage {
    uint64_t messages;
    uint64_t bytes;
} pl_offline_usage_t;

/* Inside a write job: stores `stanza` (len bytes, kept verbatim) for
 * `user` under `id`, stamped `stored_at` (unix seconds).  Returns 1 stored,
 * 0 when a message with this id is already stored (nothing changes),
 * -EDQUOT when the account's quota would be exceeded (nothing stored),
 * -EINVAL for an empty user/id/stanza, -ENAMETOOLONG when the key does not
 * fit LMDB, or another storage error. */
int pl_offline_put(pl_wtxn_t *txn, pl_offline_t *o, const char *user, const char *id,
                   int64_t stored_at, const void *stanza, size_t len,
                   const pl_offline_quota_t *quota);

/* The account's counters (zero when it has nothing).  0 or <0. */
int pl_offline_usage(pl_offline_t *o, const char *user, pl_offline_usage_t *out);

/* One stored message, as the list visitor sees it (valid during the call). */
typedef struct pl_offline_msg {
    const char *id;     /* NUL-terminated */
    int64_t stored_at;  /* unix seconds */
    const char *stanza; /* the bytes given to put */
    size_t len;
} pl_offline_msg_t;

/* Visits the user's messages in arrival order; non-zero from fn stops.
 * Records that do not decode are reported with stanza NULL (len 0) so the
 * caller can delete them.  Returns the number visited or <0. */
typedef int (*pl_offline_visit_fn)(void *ud, const pl_offline_msg_t *m);
int pl_offline_list(pl_offline_t *o, const char *user, pl_offline_visit_fn fn, void *ud);

/* Inside a write job: deletes these ids of the user (absent ones are
 * skipped).  Returns how many were deleted, or <0. */
long pl_offline_delete(pl_wtxn_t *txn, pl_offline_t *o, const char *user, const char *const *ids,
                       size_t n);
/* Inside a write job: deletes everything the user has (e.g. the account
 * was removed).  Returns how many, or <0. */
long pl_offline_delete_all(pl_wtxn_t *txn, pl_offline_t *o, const char *user);

/* Inside a write job, for a deleted account: everything the user has,
 * counters included, without a handle (the store is found by name; 0 when
 * it was never created).  Returns how many messages, or <0. */
long pl_offline_delete_account(pl_wtxn_t *txn, const char *user);

/* Inside a write job: deletes at most `max` messages (of any account)
 * stored before `before` (unix seconds), oldest first.  Returns how many;
 * a caller that got `max` calls again (in a later job) for the rest, so no
 * write transaction is held long. */
long pl_offline_purge(pl_wtxn_t *txn, pl_offline_t *o, int64_t before, size_t max);

#endif
