/* test_inbox.c — the inbox repository: the record format, the unread rules
 * (markers by message id, XEP-0490 positions by stanza-id, redeliveries,
 * late messages, the bounded ring), and the store: list order, counts,
 * eviction at the limit, sealed records under a key ring. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/inbox.h"
#include "storage/seal.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

/* Ids as the server makes them: 13 characters, sorting in time order. */
static const char *sid(int n)
{
    static char buf[8][16];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 16, "000000000%04d", n * 10);
    return b;
}

static pl_inbox_event_t in(int n, const char *msg_id, const char *body)
{
    return (pl_inbox_event_t){.kind = PL_INBOX_IN,
                              .partner = "bob@x",
                              .stanza_id = sid(n),
                              .msg_id = msg_id,
                              .from = "bob@x/p",
                              .to = "alice@x",
                              .type = "chat",
                              .body = body,
                              .stamp = n};
}

static pl_inbox_entry_t *entry_new(void)
{
    pl_inbox_entry_t *e = calloc(1, sizeof(*e));
    strcpy(e->partner, "bob@x");
    return e;
}

START_TEST(incoming_messages_count_once)
{
    pl_inbox_entry_t *e = entry_new();
    pl_inbox_event_t ev = in(1, "m1", "hello");
    ck_assert_int_eq(pl_inbox_entry_apply(e, &ev), 1);
    ev = in(2, "m2", "again");
    ck_assert_int_eq(pl_inbox_entry_apply(e, &ev), 1);
    ck_assert_uint_eq(e->unread, 2);
    ck_assert_str_eq(e->last_id, sid(2));
    ck_assert_str_eq(e->excerpt, "again");
    /* The same stanza-id again (stream management redelivery): no change. */
    ev = in(1, "m1", "hello");
    ck_assert_int_eq(pl_inbox_entry_apply(e, &ev), 0);
    ev = in(2, "m2", "again");
    ck_assert_int_eq(pl_inbox_entry_apply(e, &ev), 0);
    ck_assert_uint_eq(e->unread, 2);
    free(e);
}
END_TEST

START_TEST(a_marker_reads_that_message_and_older_ones)
{
    pl_inbox_entry_t *e = entry_new();
    for (int i = 1; i <= 5; i++) {
        char id[8];
        snprintf(id, sizeof(id), "m%d", i);
        pl_inbox_event_t ev = in(i, id, "x");
        pl_inbox_entry_apply(e, &ev);
    }
    pl_inbox_event_t rd = {.kind = PL_INBOX_READ, .partner = "bob@x", .msg_id = "m3"};
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 1);
    ck_assert_uint_eq(e->unread, 2);
    ck_assert_str_eq(e->displayed, sid(3));
    /* A marker for something already read, or unknown: nothing changes. */
    rd.msg_id = "m2";
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 0);
    rd.msg_id = "nope";
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 0);
    ck_assert_uint_eq(e->unread, 2);
    /* The last one. */
    rd.msg_id = "m5";
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 1);
    ck_assert_uint_eq(e->unread, 0);
    /* A message that arrives late with an older id is read by implication. */
    pl_inbox_event_t late = in(4, "m4b", "late");
    ck_assert_int_eq(pl_inbox_entry_apply(e, &late), 0);
    ck_assert_uint_eq(e->unread, 0);
    free(e);
}
END_TEST

START_TEST(a_displayed_stanza_id_reads_up_to_it)
{
    pl_inbox_entry_t *e = entry_new();
    for (int i = 10; i <= 14; i++) {
        pl_inbox_event_t ev = in(i, NULL, "x");
        pl_inbox_entry_apply(e, &ev);
    }
    /* XEP-0490 names a stanza-id: the one remembered. */
    pl_inbox_event_t rd = {.kind = PL_INBOX_READ, .partner = "bob@x", .stanza_id = sid(11)};
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 1);
    ck_assert_uint_eq(e->unread, 3);
    /* A position between two remembered messages: everything up to it. */
    rd.stanza_id = "0000000000125"; /* after sid(12), before sid(13) */
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 1);
    ck_assert_uint_eq(e->unread, 2);
    /* Going back does nothing. */
    rd.stanza_id = sid(10);
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 0);
    ck_assert_uint_eq(e->unread, 2);
    free(e);
}
END_TEST

START_TEST(sending_reads_the_conversation)
{
    pl_inbox_entry_t *e = entry_new();
    pl_inbox_event_t ev = in(1, "m1", "question");
    pl_inbox_entry_apply(e, &ev);
    pl_inbox_event_t out = {.kind = PL_INBOX_OUT,
                            .partner = "bob@x",
                            .stanza_id = sid(2),
                            .msg_id = "a1",
                            .from = "alice@x/desk",
                            .to = "bob@x",
                            .type = "chat",
                            .body = "answer",
                            .stamp = 2};
    ck_assert_int_eq(pl_inbox_entry_apply(e, &out), 1);
    ck_assert_uint_eq(e->unread, 0);
    ck_assert_int_eq(e->outgoing, 1);
    ck_assert_str_eq(e->excerpt, "answer");
    ck_assert_str_eq(e->from, "alice@x/desk");
    /* The redelivered question is older than what alice sent: read. */
    ck_assert_int_eq(pl_inbox_entry_apply(e, &ev), 0);
    ev = in(3, "m3", "thanks");
    ck_assert_int_eq(pl_inbox_entry_apply(e, &ev), 1);
    ck_assert_uint_eq(e->unread, 1);
    free(e);
}
END_TEST

START_TEST(the_ring_forgets_the_oldest_but_counts_them)
{
    pl_inbox_entry_t *e = entry_new();
    for (int i = 1; i <= PL_INBOX_RING + 8; i++) {
        char id[8];
        snprintf(id, sizeof(id), "m%d", i);
        pl_inbox_event_t ev = in(i, id, "x");
        pl_inbox_entry_apply(e, &ev);
    }
    ck_assert_uint_eq(e->unread, PL_INBOX_RING + 8);
    ck_assert_uint_eq(e->nring, PL_INBOX_RING);
    /* The oldest is forgotten: a marker naming it changes nothing. */
    pl_inbox_event_t rd = {.kind = PL_INBOX_READ, .partner = "bob@x", .msg_id = "m1"};
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 0);
    /* One still remembered reads every older one, forgotten or not. */
    rd.msg_id = "m35";
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 1);
    ck_assert_uint_eq(e->unread, PL_INBOX_RING + 8 - 35);
    free(e);
}
END_TEST

START_TEST(excerpts_are_bounded_on_a_character)
{
    pl_inbox_entry_t *e = entry_new();
    char body[PL_INBOX_EXCERPT_MAX + 16];
    memset(body, 'a', PL_INBOX_EXCERPT_MAX - 1);
    /* "é" (2 bytes) straddling the limit is left out whole. */
    memcpy(body + PL_INBOX_EXCERPT_MAX - 1, "\xc3\xa9tail", 7);
    pl_inbox_event_t ev = in(1, NULL, body);
    pl_inbox_entry_apply(e, &ev);
    ck_assert_uint_eq(strlen(e->excerpt), PL_INBOX_EXCERPT_MAX - 1);
    ck_assert_int_eq(e->truncated, 1);
    /* Ids too long to remember are not stored (nor matched). */
    char longid[PL_INBOX_ID_MAX + 10];
    memset(longid, 'i', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    ev = in(2, longid, "short");
    pl_inbox_entry_apply(e, &ev);
    ck_assert_str_eq(e->last_msg_id, "");
    ck_assert_int_eq(e->truncated, 0);
    free(e);
}
END_TEST

START_TEST(records_round_trip_and_damage_is_refused)
{
    pl_inbox_entry_t *e = entry_new();
    pl_inbox_event_t ev = in(1, "m,1:x", "line one\nline, two: 3:");
    pl_inbox_entry_apply(e, &ev);
    ev = in(2, "m2", "b");
    pl_inbox_entry_apply(e, &ev);
    pl_inbox_event_t rd = {.kind = PL_INBOX_READ, .partner = "bob@x", .msg_id = "m,1:x"};
    pl_inbox_entry_apply(e, &rd);
    pl_buf_t b;
    pl_buf_init(&b);
    pl_inbox_entry_encode(e, &b);
    pl_inbox_entry_t *d = entry_new();
    ck_assert_int_eq(pl_inbox_entry_decode(b.data, b.len, d), 0);
    ck_assert_str_eq(d->last_id, e->last_id);
    ck_assert_str_eq(d->last_msg_id, e->last_msg_id);
    ck_assert(d->stamp == e->stamp && d->outgoing == e->outgoing && d->unread == e->unread);
    ck_assert_str_eq(d->from, e->from);
    ck_assert_str_eq(d->to, e->to);
    ck_assert_str_eq(d->type, e->type);
    ck_assert_str_eq(d->excerpt, "b");
    ck_assert_str_eq(d->displayed, e->displayed);
    ck_assert_str_eq(d->read_upto, e->read_upto);
    ck_assert_uint_eq(d->nring, 1);
    ck_assert_str_eq(d->ring[0].msg_id, "m2");
    ck_assert_str_eq(d->ring[0].stanza_id, sid(2));
    /* Truncated, wrong version, extra bytes, a ring too long. */
    for (size_t cut = 0; cut < b.len; cut += 7)
        ck_assert_int_lt(pl_inbox_entry_decode(b.data, cut, d), 0);
    b.data[0] = '9';
    ck_assert_int_lt(pl_inbox_entry_decode(b.data, b.len, d), 0);
    b.data[0] = '1';
    pl_buf_append(&b, "x", 1);
    ck_assert_int_lt(pl_inbox_entry_decode(b.data, b.len, d), 0);
    const char *good = "10:,0:,1:1,1:0,0:,0:,4:chat,0:,1:0,1:0,0:,0:,1:0,";
    ck_assert_int_eq(pl_inbox_entry_decode(good, strlen(good), d), 0);
    const char *bad = "10:,0:,1:1,1:0,0:,0:,4:chat,0:,1:0,1:0,0:,0:,2:99,";
    ck_assert_int_lt(pl_inbox_entry_decode(bad, strlen(bad), d), 0);
    const char *huge = "10:,0:,1:1,1:0,0:,0:,99999999999999999999:chat,";
    ck_assert_int_lt(pl_inbox_entry_decode(huge, strlen(huge), d), 0);
    pl_buf_deinit(&b);
    free(d);
    free(e);
}
END_TEST

/* The bytes of a record do not change with the code that writes them:
 * stored records are read back by later versions. */
START_TEST(records_keep_their_format)
{
    pl_inbox_entry_t *e = entry_new();
    strcpy(e->last_id, "0000000000020");
    strcpy(e->last_msg_id, "m2");
    e->stamp = 1234567890123;
    strcpy(e->from, "bob@x/p");
    strcpy(e->to, "alice@x");
    strcpy(e->type, "chat");
    strcpy(e->excerpt, "hi, there");
    e->unread = 2;
    e->nring = 2;
    strcpy(e->ring[0].stanza_id, "0000000000010");
    strcpy(e->ring[0].msg_id, "m1");
    strcpy(e->ring[1].stanza_id, "0000000000020");
    strcpy(e->ring[1].msg_id, "m2");
    e->ring[1].mention = 1;
    pl_buf_t b;
    pl_buf_init(&b);
    pl_inbox_entry_encode(e, &b);
    const char *want = "113:0000000000020,2:m2,13:1234567890123,1:0,7:bob@x/p,7:alice@x,4:chat,"
                       "9:hi, there,1:0,1:2,0:,0:,1:2,13:0000000000010,2:m1,13:0000000000020,"
                       "2:m2,1:2,";
    ck_assert_uint_eq(b.len, strlen(want));
    ck_assert(memcmp(b.data, want, b.len) == 0);
    pl_buf_deinit(&b);
    free(e);
}
END_TEST

START_TEST(mentions_are_marked_and_read_with_their_messages)
{
    pl_inbox_entry_t *e = entry_new();
    for (int n = 1; n <= 4; n++) {
        pl_inbox_event_t ev = in(n, NULL, "x");
        ev.type = "groupchat";
        ev.mention = n == 2 || n == 4;
        ck_assert_int_eq(pl_inbox_entry_apply(e, &ev), 1);
    }
    ck_assert_str_eq(e->type, "groupchat");
    ck_assert_uint_eq(e->unread, 4);
    ck_assert_uint_eq(pl_inbox_mentions(e), 2);
    /* Kept in the record; a record without mentions is as before. */
    pl_buf_t b;
    pl_buf_init(&b);
    pl_inbox_entry_encode(e, &b);
    pl_inbox_entry_t *d = entry_new();
    ck_assert_int_eq(pl_inbox_entry_decode(b.data, b.len, d), 0);
    ck_assert_uint_eq(pl_inbox_mentions(d), 2);
    ck_assert_int_eq(d->ring[1].mention, 1);
    ck_assert_int_eq(d->ring[2].mention, 0);
    pl_buf_append(&b, "0:,", 3);
    ck_assert_int_lt(pl_inbox_entry_decode(b.data, b.len, d), 0);
    /* Reading up to the second message reads its mention. */
    pl_inbox_event_t rd = {.kind = PL_INBOX_READ, .partner = "bob@x", .stanza_id = sid(2)};
    ck_assert_int_eq(pl_inbox_entry_apply(e, &rd), 1);
    ck_assert_uint_eq(e->unread, 2);
    ck_assert_uint_eq(pl_inbox_mentions(e), 1);
    pl_buf_reset(&b);
    pl_inbox_entry_encode(e, &b);
    ck_assert_int_eq(pl_inbox_entry_decode(b.data, b.len, d), 0);
    ck_assert_uint_eq(pl_inbox_mentions(d), 1);
    pl_inbox_event_t out = {.kind = PL_INBOX_OUT, .partner = "bob@x", .stanza_id = sid(9)};
    pl_inbox_entry_apply(e, &out);
    ck_assert_uint_eq(pl_inbox_mentions(e), 0);
    pl_buf_deinit(&b);
    free(d);
    free(e);
}
END_TEST

/* ---- against a real store ---- */

static char dir[64];
static pl_storage_t *st;
static pl_kv_t *kv;

static void store_open(void)
{
    ut_tmpdir_new(dir, "inbox");
    st = ut_storage_open(dir);
    ck_assert_int_eq(pl_storage_kv(st, "inbox.conv", &kv), 0);
}

static void store_close(void)
{
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}

#define USER "alice@x"

typedef struct job {
    pl_inbox_event_t ev;
    long max;
    const char *evict;
    int result;
    uint32_t before;
} job_t;

static int job_run(pl_wtxn_t *txn, void *ud)
{
    job_t *j = ud;
    j->result = pl_inbox_update(txn, kv, USER, &j->ev, j->max, j->evict, &j->before, NULL);
    return j->result < 0 ? j->result : 0;
}

static int update(const pl_inbox_event_t *ev, long max, const char *evict)
{
    job_t j = {.ev = *ev, .max = max, .evict = evict};
    pl_storage_write_sync(st, job_run, &j);
    return j.result;
}

static pl_inbox_event_t msg_from(const char *partner, int n)
{
    pl_inbox_event_t ev = in(n, NULL, "hi");
    ev.partner = partner;
    return ev;
}

START_TEST(store_keeps_conversations_in_activity_order)
{
    store_open();
    pl_inbox_event_t ev = msg_from("bob@x", 1);
    ck_assert_int_eq(update(&ev, 100, NULL), 1);
    ev = msg_from("carol@x", 2);
    ck_assert_int_eq(update(&ev, 100, NULL), 1);
    ev = msg_from("carol@x", 3);
    ck_assert_int_eq(update(&ev, 100, NULL), 1);
    ev = msg_from("dave@x", 0); /* an old message, still a conversation */
    ck_assert_int_eq(update(&ev, 100, NULL), 1);
    ck_assert_int_eq(pl_inbox_count(kv, USER), 3);
    pl_inbox_item_t *items;
    size_t n;
    ck_assert_int_eq(pl_inbox_list(kv, USER, &items, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(items[0].partner, "carol@x");
    ck_assert_uint_eq(items[0].unread, 2);
    ck_assert_str_eq(items[1].partner, "bob@x");
    ck_assert_str_eq(items[2].partner, "dave@x");
    pl_inbox_items_free(&items, n);
    /* A read needs an existing conversation; it never creates one. */
    pl_inbox_event_t rd = {.kind = PL_INBOX_READ, .partner = "erin@x", .msg_id = "z"};
    ck_assert_int_eq(update(&rd, 100, NULL), 0);
    ck_assert_int_eq(pl_inbox_count(kv, USER), 3);
    rd = (pl_inbox_event_t){.kind = PL_INBOX_READ, .partner = "carol@x", .stanza_id = sid(3)};
    ck_assert_int_eq(update(&rd, 100, NULL), 1);
    pl_inbox_entry_t *e = malloc(sizeof(*e));
    ck_assert_int_eq(pl_inbox_get(kv, USER, "carol@x", e), 1);
    ck_assert_uint_eq(e->unread, 0);
    ck_assert_str_eq(e->partner, "carol@x");
    ck_assert_int_eq(pl_inbox_get(kv, USER, "nobody@x", e), 0);
    ck_assert_int_eq(pl_inbox_get(kv, "other@x", "carol@x", e), 0);
    free(e);
    char oldest[PL_INBOX_JID_MAX + 1];
    ck_assert_int_eq(pl_inbox_oldest(kv, USER, oldest), 1);
    ck_assert_str_eq(oldest, "dave@x");
    store_close();
}
END_TEST

START_TEST(store_evicts_the_oldest_at_the_limit)
{
    store_open();
    pl_inbox_event_t ev = msg_from("a@x", 1);
    update(&ev, 2, NULL);
    ev = msg_from("b@x", 2);
    update(&ev, 2, NULL);
    /* At the limit: a new conversation replaces the one the caller found
     * least active; updating an existing one evicts nothing. */
    ev = msg_from("b@x", 3);
    ck_assert_int_eq(update(&ev, 2, "a@x"), 1);
    ck_assert_int_eq(pl_inbox_count(kv, USER), 2);
    char oldest[PL_INBOX_JID_MAX + 1];
    ck_assert_int_eq(pl_inbox_oldest(kv, USER, oldest), 1);
    ck_assert_str_eq(oldest, "a@x");
    ev = msg_from("c@x", 4);
    ck_assert_int_eq(update(&ev, 2, oldest), 1);
    ck_assert_int_eq(pl_inbox_count(kv, USER), 2);
    pl_inbox_entry_t *e = malloc(sizeof(*e));
    ck_assert_int_eq(pl_inbox_get(kv, USER, "a@x", e), 0);
    ck_assert_int_eq(pl_inbox_get(kv, USER, "c@x", e), 1);
    free(e);
    /* A key over LMDB's limit is refused, not truncated. */
    char big[600];
    memset(big, 'p', sizeof(big) - 3);
    strcpy(big + sizeof(big) - 3, "@x");
    ev = msg_from(big, 5);
    ck_assert_int_lt(update(&ev, 2, NULL), 0);
    ck_assert_int_eq(pl_inbox_count(kv, USER), 2);
    store_close();
}
END_TEST

/* Several new conversations in one transaction, as a group's messages
 * queued together are written. */
typedef struct burst {
    const char *partners[4];
    long max;
    int results[4];
} burst_t;

static int burst_run(pl_wtxn_t *txn, void *ud)
{
    burst_t *b = ud;
    for (int i = 0; i < 4 && b->partners[i]; i++) {
        pl_inbox_event_t ev = msg_from(b->partners[i], 10 + i);
        b->results[i] = pl_inbox_update(txn, kv, USER, &ev, b->max, NULL, NULL, NULL);
    }
    return 0;
}

START_TEST(without_a_named_eviction_the_transaction_finds_the_oldest)
{
    store_open();
    pl_inbox_event_t ev = msg_from("a@x", 1);
    update(&ev, 2, NULL);
    ev = msg_from("b@x", 2);
    update(&ev, 2, NULL);
    /* Each new one removes the least active as the transaction sees it:
     * the ones written before it in the same transaction count. */
    burst_t b = {.partners = {"c@x", "d@x", "e@x"}, .max = 2};
    ck_assert_int_eq(pl_storage_write_sync(st, burst_run, &b), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(b.results[i], 1);
    ck_assert_int_eq(pl_inbox_count(kv, USER), 2);
    pl_inbox_item_t *items;
    size_t n;
    ck_assert_int_eq(pl_inbox_list(kv, USER, &items, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(items[0].partner, "e@x");
    ck_assert_str_eq(items[1].partner, "d@x");
    pl_inbox_items_free(&items, n);
    /* Under the limit nothing goes. */
    ev = msg_from("f@x", 20);
    ck_assert_int_eq(update(&ev, 3, NULL), 1);
    ck_assert_int_eq(pl_inbox_count(kv, USER), 3);
    store_close();
}
END_TEST

typedef struct raw_put {
    const char *key;
    size_t klen;
    pl_buf_t *val;
} raw_put_t;

static int raw_put_run(pl_wtxn_t *txn, void *ud)
{
    raw_put_t *r = ud;
    return pl_kv_put(txn, kv, r->key, r->klen, r->val->data, r->val->len);
}

START_TEST(sealed_entries_hide_the_excerpt)
{
    store_open();
    char keyfile[96], *err = NULL;
    snprintf(keyfile, sizeof(keyfile), "%s.keys", dir);
    ck_assert_int_eq(pl_seal_generate(keyfile, NULL, &err), 0);
    pl_seal_t *ring = NULL;
    ck_assert_int_eq(pl_seal_load(keyfile, &ring, &err), 0);
    /* An entry written before the key file existed. */
    pl_inbox_event_t ev = in(1, "m1", "plain before the key");
    ev.partner = "carol@x";
    ck_assert_int_eq(update(&ev, 100, NULL), 1);
    pl_storage_set_seal(st, ring);
    ev = in(2, "m2", "rendezvous at noon");
    ck_assert_int_eq(update(&ev, 100, NULL), 1);
    /* What is on disk holds neither the words nor the sender. */
    const char key[] = USER "\0cbob@x";
    pl_buf_t raw;
    pl_buf_init(&raw);
    ck_assert_int_eq(pl_kv_get(kv, key, sizeof(key) - 1, &raw), 1);
    ck_assert_ptr_null(memmem(raw.data, raw.len, "rendezvous", 10));
    ck_assert_ptr_null(memmem(raw.data, raw.len, "bob@x/p", 7));
    /* Read back through the ring. */
    pl_inbox_entry_t *e = malloc(sizeof(*e));
    ck_assert_int_eq(pl_inbox_get(kv, USER, "bob@x", e), 1);
    ck_assert_str_eq(e->excerpt, "rendezvous at noon");
    ck_assert_str_eq(e->from, "bob@x/p");
    ck_assert_uint_eq(e->unread, 1);
    /* The old plain entry is still read, and sealed at its next update. */
    ck_assert_int_eq(pl_inbox_get(kv, USER, "carol@x", e), 1);
    ck_assert_str_eq(e->excerpt, "plain before the key");
    ev = in(3, "m3", "carol again");
    ev.partner = "carol@x";
    ck_assert_int_eq(update(&ev, 100, NULL), 1);
    ck_assert_int_eq(pl_inbox_get(kv, USER, "carol@x", e), 1);
    ck_assert_uint_eq(e->unread, 2);
    const char ckey[] = USER "\0ccarol@x";
    pl_buf_reset(&raw);
    ck_assert_int_eq(pl_kv_get(kv, ckey, sizeof(ckey) - 1, &raw), 1);
    ck_assert_ptr_null(memmem(raw.data, raw.len, "carol again", 11));
    /* bob's record copied under another partner does not open there. */
    pl_buf_reset(&raw);
    ck_assert_int_eq(pl_kv_get(kv, key, sizeof(key) - 1, &raw), 1);
    const char dkey[] = USER "\0cdave@x";
    raw_put_t rp = {.key = dkey, .klen = sizeof(dkey) - 1, .val = &raw};
    ck_assert_int_eq(pl_storage_write_sync(st, raw_put_run, &rp), 0);
    ck_assert_int_lt(pl_inbox_get(kv, USER, "dave@x", e), 0);
    pl_inbox_item_t *items;
    size_t n;
    ck_assert_int_eq(pl_inbox_list(kv, USER, &items, &n), 0);
    ck_assert_uint_eq(n, 2); /* bob and carol; the moved record is left out */
    pl_inbox_items_free(&items, n);
    /* Without the key the entries do not open and are not listed. */
    pl_storage_set_seal(st, NULL);
    ck_assert_int_eq(pl_inbox_get(kv, USER, "bob@x", e), -ENOKEY);
    ck_assert_int_eq(pl_inbox_list(kv, USER, &items, &n), 0);
    ck_assert_uint_eq(n, 0);
    pl_inbox_items_free(&items, n);
    free(e);
    pl_buf_deinit(&raw);
    pl_seal_free(&ring);
    remove(keyfile);
    store_close();
}
END_TEST

Suite *inbox_suite(void)
{
    Suite *s = suite_create("inbox");
    TCase *tc = tcase_create("inbox");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, incoming_messages_count_once);
    tcase_add_test(tc, a_marker_reads_that_message_and_older_ones);
    tcase_add_test(tc, a_displayed_stanza_id_reads_up_to_it);
    tcase_add_test(tc, sending_reads_the_conversation);
    tcase_add_test(tc, the_ring_forgets_the_oldest_but_counts_them);
    tcase_add_test(tc, excerpts_are_bounded_on_a_character);
    tcase_add_test(tc, records_round_trip_and_damage_is_refused);
    tcase_add_test(tc, records_keep_their_format);
    tcase_add_test(tc, mentions_are_marked_and_read_with_their_messages);
    tcase_add_test(tc, store_keeps_conversations_in_activity_order);
    tcase_add_test(tc, store_evicts_the_oldest_at_the_limit);
    tcase_add_test(tc, without_a_named_eviction_the_transaction_finds_the_oldest);
    tcase_add_test(tc, sealed_entries_hide_the_excerpt);
    suite_add_tcase(s, tc);
    return s;
}
