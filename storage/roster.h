/* roster.h — the roster repository (RFC 6121 rosters with XEP-0237
 * versioning), shared by the roster and presence modules and read by every
 * module that needs "who are this user's contacts" (PEP, vCard pushes,
 * blocking).  Lives in the LMDB store "roster".
 *
 * Each user has a version counter.  Every change to an item (including its
 * removal) takes the next version and records it on the item; a removed item
 * stays as a tombstone so a client that reconnects with an older version
 * learns of the removal.  Tombstones older than the newest
 * PL_ROSTER_MAX_TOMBSTONES are dropped; a client whose version predates the
 * oldest kept tombstone gets the full roster instead of a diff.
 *
 * Items that exist only to remember a subscription state the user has not
 * seen (an inbound request with no roster entry, RFC 6121 §3.1.3) are kept
 * with `in_roster = 0`: they are not listed, pushed or counted.
 *
 * Reads are synchronous LMDB reads (any thread); writes run inside a storage
 * write job (pl_storage_write), so a change and its version bump commit
 * together. */
#ifndef PL_STORAGE_ROSTER_H
#define PL_STORAGE_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define PL_ROSTER_MAX_TOMBSTONES 1000
#define PL_ROSTER_MAX_GROUPS 32    /* groups per item */
#define PL_ROSTER_MAX_NAME 1024    /* bytes in a name or a group name */

/* Subscription bits: TO = the user receives the contact's presence, FROM =
 * the contact receives the user's. */
enum { PL_SUB_NONE = 0, PL_SUB_TO = 1u << 0, PL_SUB_FROM = 1u << 1, PL_SUB_BOTH = 3u };

typedef struct pl_roster_item {
    char *jid;      /* contact's bare JID (normalised) */
    char *name;     /* NULL when unset */
    char **groups;  /* ngroups strings */
    size_t ngroups;
    unsigned sub;   /* PL_SUB_* bits */
    int ask;        /* pending out: the user asked to subscribe (shown as ask='subscribe') */
    int pending_in; /* pending in: the contact asked, the user has not answered */
    int approved;   /* the user pre-approved the contact's request (RFC 6121 §3.4) */
    int in_roster;  /* visible roster item (0: subscription state only) */
    int removed;    /* a tombstone (only from pl_roster_changes) */
    uint64_t ver;   /* the version at which this item last changed */
    char *pending_status; /* the <status/> of a pending inbound request, or NULL */
} pl_roster_item_t;

typedef struct pl_roster pl_roster_t;

/* Opens (creating at start-up) the repository; one handle per storage,
 * shared by every caller.  0 or <0. */
int pl_roster_open(pl_storage_t *st, pl_roster_t **out);

void pl_roster_item_init(pl_roster_item_t *it);
void pl_roster_item_clear(pl_roster_item_t *it); /* frees the strings, keeps nothing */
/* Deep copy (dst is overwritten, not cleared). */
void pl_roster_item_copy(pl_roster_item_t *dst, const pl_roster_item_t *src);

/* 1 found (in_roster or not; never a tombstone), 0 absent, <0 error.
 * `out` must be initialised (pl_roster_item_init): its old contents are
 * freed first, and it is left empty unless 1 is returned. */
int pl_roster_get(pl_roster_t *r, const char *user, const char *contact, pl_roster_item_t *out);
/* The same inside a write job, seeing the job's own changes. */
int pl_roster_txn_get(pl_wtxn_t *txn, pl_roster_t *r, const char *user, const char *contact,
                      pl_roster_item_t *out);
/* Inside a write job: stores the item (replacing), giving it the user's next
 * version, which is written into it->ver and returned (>0), or <0. */
int64_t pl_roster_put(pl_wtxn_t *txn, pl_roster_t *r, const char *user, pl_roster_item_t *it);
/* Inside a write job: removes the item, leaving a tombstone at the next
 * version (returned, >0); 0 when there was no item; <0 error.  Removing an
 * item with in_roster = 0 leaves no tombstone (nobody saw it) and returns 0
 * — unless that hidden record replaced a visible item or a tombstone (see
 * pl_roster_changes): then a tombstone stays and its version is returned. */
int64_t pl_roster_remove(pl_wtxn_t *txn, pl_roster_t *r, const char *user, const char *contact);

/* A contact's roster item as it became when an account went away: what
 * the contact's clients are to be pushed (item.removed for a tombstone). */
typedef struct pl_roster_change {
    char *owner; /* the contact whose roster changed */
    pl_roster_item_t item;
} pl_roster_change_t;

/* Inside a write job, for a deleted account: cancels every subscription
 * the user had with a contact in the contact's roster (the item stays with
 * subscription none and nothing pending; a hidden one is removed), then
 * deletes the user's roster, version counter included.  With `changed`,
 * the visible items that changed are returned there (*nchanged of them;
 * free with pl_roster_changes_free).  Returns the number of the user's
 * records deleted, or <0 (then nothing is returned in `changed`). */
long pl_roster_delete_account(pl_wtxn_t *txn, const char *user, pl_roster_change_t **changed,
                              size_t *nchanged);
/* Frees the n changes and the array, and clears *changed. */
void pl_roster_changes_free(pl_roster_change_t **changed, size_t n);

/* The user's current roster version (0 for a user who never had a roster). */
uint64_t pl_roster_version(pl_roster_t *r, const char *user);

/* Visits the user's items (tombstones and in_roster = 0 items skipped unless
 * `all`), in contact order; non-zero from fn stops.  Returns the number
 * visited or <0.  The item is valid only during the call. */
typedef int (*pl_roster_visit_fn)(void *ud, const pl_roster_item_t *it);
int pl_roster_list(pl_roster_t *r, const char *user, int all, pl_roster_visit_fn fn, void *ud);
/* Number of visible items. */
long pl_roster_count(pl_roster_t *r, const char *user);
/* The same inside a write job, counting the job's own changes (for a
 * roster size limit checked where the item is written). */
long pl_roster_txn_count(pl_wtxn_t *txn, pl_roster_t *r, const char *user);
/* Records the user keeps outside the roster (in_roster = 0: subscription
 * requests waiting for an answer, pre-approvals), inside a write job. */
long pl_roster_txn_count_hidden(pl_wtxn_t *txn, pl_roster_t *r, const char *user);

/* XEP-0237: what changed after version `since`.  When a diff is possible
 * (since <= current and not older than the kept tombstones) visits the
 * visible items and tombstones (removed = 1) with ver > since, oldest change
 * first, and returns 1; returns 0 when the client must get the full roster
 * (fn not called); <0 error.  since == current returns 1 at once.  A hidden
 * (in_roster = 0) record written over a visible item or a tombstone is
 * reported as a removal too, so the removal it replaced is not lost. */
int pl_roster_changes(pl_roster_t *r, const char *user, uint64_t since, pl_roster_visit_fn fn,
                      void *ud);

/* The pure part of pl_roster_changes, for the unit tests: given the current
 * version and the oldest version a diff can start from (the version of the
 * newest dropped tombstone), may a client at `since` get a diff? */
int pl_roster_diff_possible(uint64_t current, uint64_t diff_floor, uint64_t since);

/* Record format (exposed for the unit tests): encode appends to out;
 * decode fills `it` (initialised by the caller; old contents freed) and
 * returns 0 or -EBADMSG (then `it` is left empty). */
void pl_roster_item_encode(const pl_roster_item_t *it, pl_buf_t *out);
int pl_roster_item_decode(const void *data, size_t len, pl_roster_item_t *it);

#endif
