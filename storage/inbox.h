/* inbox.h — the inbox repository: per user, one record per conversation
 * partner (bare JID) with the last message (its id, time, sender and a
 * bounded body excerpt), the number of messages the user has not read, and
 * what the user last displayed.  Lives in an LMDB key-value store handed in
 * by the caller (the inbox module's "inbox.conv").
 *
 * Keys: user '\0' 'c' partner → entry record; user '\0' 'n' → number of
 * conversations (decimal).  Records are a version digit followed by
 * netstrings ("len:bytes,"), so any byte may appear in a field.  With a
 * key ring on the storage (storage.key_file) each record is stored sealed
 * (version '2' + a storage/seal.h record of the plain one); reading a
 * sealed record without its key gives -ENOKEY, and the list leaves it out.
 *
 * Unread counting.  Each entry keeps the ids of its newest unread messages
 * (at most PL_INBOX_RING): a chat marker naming one of them (by the message's
 * 'id', XEP-0333) or an XEP-0490 displayed position naming one (by its
 * stanza-id) makes it and every older message read, so the count becomes
 * the number of newer unread ones.  A message the user sends to the partner
 * makes the whole conversation read.  Ids are time-ordered server ids
 * (pl_server_new_id): an incoming message whose stanza-id is not newer than
 * the entry's last one was already counted (a redelivery) and changes
 * nothing.  Unread messages that mention the user (a group's messages,
 * GRP-7) are marked in the ring, so the count of unread mentions follows
 * the reads.
 *
 * Reads are synchronous LMDB reads; writes run inside a storage write job. */
#ifndef PL_STORAGE_INBOX_H
#define PL_STORAGE_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

#define PL_INBOX_JID_MAX 3071    /* a full JID: three parts of 1023 bytes and two separators */
#define PL_INBOX_ID_MAX 128      /* longer message ids are not remembered */
#define PL_INBOX_EXCERPT_MAX 256 /* bytes of body kept, cut on a UTF-8 boundary */
#define PL_INBOX_RING 32         /* unread message ids remembered per conversation */

typedef struct pl_inbox_ref {
    char stanza_id[PL_INBOX_ID_MAX + 1]; /* the router's XEP-0359 id, or "" */
    char msg_id[PL_INBOX_ID_MAX + 1];    /* the message's 'id' attribute, or "" */
    int mention;                         /* it mentions the user (a group's message) */
} pl_inbox_ref_t;

typedef struct pl_inbox_entry {
    char partner[PL_INBOX_JID_MAX + 1]; /* bare JID (from the key) */
    /* The last message with a body in either direction. */
    char last_id[PL_INBOX_ID_MAX + 1];     /* its stanza-id (incoming) or a server id (sent) */
    char last_msg_id[PL_INBOX_ID_MAX + 1]; /* its 'id' attribute, or "" */
    int64_t stamp;                         /* microseconds since 1970 */
    int outgoing;                          /* 1: the user sent it */
    char from[PL_INBOX_JID_MAX + 1];
    char to[PL_INBOX_JID_MAX + 1];
    char type[16]; /* "chat", "groupchat" (a group's message for a member) or "normal" */
    char excerpt[PL_INBOX_EXCERPT_MAX + 1];
    int truncated; /* the body was longer than the excerpt */
    uint32_t unread;
    /* What the user last displayed: the stanza-id of the message a marker
     * named (its message id when it had none), "" if none. */
    char displayed[PL_INBOX_ID_MAX + 1];
    /* Every incoming message with a stanza-id up to this one is read: the
     * newest id the user displayed or sent.  A message arriving late with
     * an older id is read by implication (XEP-0430 §4) and not counted. */
    char read_upto[PL_INBOX_ID_MAX + 1];
    size_t nring; /* unread messages remembered, oldest first */
    pl_inbox_ref_t ring[PL_INBOX_RING];
} pl_inbox_entry_t;

typedef enum pl_inbox_kind {
    PL_INBOX_IN = 1, /* a message with a body reached the user */
    PL_INBOX_OUT,    /* the user sent a message with a body */
    PL_INBOX_READ,   /* the user displayed a message (marker or XEP-0490) */
} pl_inbox_kind_t;

/* What happened, as the module saw it (strings borrowed, NULL = absent). */
typedef struct pl_inbox_event {
    pl_inbox_kind_t kind;
    const char *partner; /* bare JID of the other side */
    const char
        *stanza_id; /* IN: the router's id; OUT: a fresh server id; READ: a displayed stanza-id */
    const char *msg_id; /* IN/OUT: the 'id' attribute; READ: the id a chat marker named */
    const char *from, *to, *type, *body; /* IN/OUT */
    int64_t stamp;                       /* IN/OUT: microseconds */
    int mention;                         /* IN: the message mentions the user (GRP-7) */
} pl_inbox_event_t;

/* Unread messages that mention the user, among those the ring remembers. */
uint32_t pl_inbox_mentions(const pl_inbox_entry_t *e);

/* Applies `ev` to `e` (a fresh zeroed entry for a new conversation).
 * Returns 1 when the entry changed, 0 when not (a redelivery, a marker
 * naming nothing unread).  Pure, for the unit tests. */
int pl_inbox_entry_apply(pl_inbox_entry_t *e, const pl_inbox_event_t *ev);

/* Record format (exposed for the unit tests): encode appends to out; decode
 * fills `e` (partner left as it is) and returns 0 or -EBADMSG. */
void pl_inbox_entry_encode(const pl_inbox_entry_t *e, pl_buf_t *out);
int pl_inbox_entry_decode(const void *data, size_t len, pl_inbox_entry_t *e);

/* 1 found (into *out), 0 absent, <0 error. */
int pl_inbox_get(pl_kv_t *kv, const char *user, const char *partner, pl_inbox_entry_t *out);

/* Inside a write job: applies `ev` to the user's conversation with
 * ev->partner, creating it if needed (READ never creates one).  When the
 * user already has `max` conversations, a new one first removes `evict` if
 * it still exists, or with `evict` NULL the least recently active one as
 * this transaction sees it (what the inbox module does: each of the queued
 * writes of a burst sees the ones before it, so the limit holds).  On return *before_unread /
 * *after (may be NULL) hold the unread count before and the entry after.  Returns 1 changed, 0
 * unchanged, <0 error (-ENAMETOOLONG for a key over LMDB's limit). */
int pl_inbox_update(pl_wtxn_t *txn, pl_kv_t *kv, const char *user, const pl_inbox_event_t *ev,
                    long max, const char *evict, uint32_t *before_unread, pl_inbox_entry_t *after);

/* Number of conversations the user has (0 when none), or <0. */
long pl_inbox_count(pl_kv_t *kv, const char *user);

/* One line of the conversation list. */
typedef struct pl_inbox_item {
    char *partner; /* heap */
    int64_t stamp;
    uint32_t unread;
} pl_inbox_item_t;

/* Every conversation of the user, most recently active first (ties: by
 * partner JID), into a new array *out of *n items (free with
 * pl_inbox_items_free).  0 or <0. */
int pl_inbox_list(pl_kv_t *kv, const char *user, pl_inbox_item_t **out, size_t *n);
/* Frees the n items and the array, and clears *items. */
void pl_inbox_items_free(pl_inbox_item_t **items, size_t n);

/* The least recently active conversation's partner into `out` (size
 * PL_INBOX_JID_MAX + 1): 1 found, 0 none, <0 error. */
int pl_inbox_oldest(pl_kv_t *kv, const char *user, char *out);

#endif
