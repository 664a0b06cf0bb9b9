/* test_offline.c — the offline message repository against a real LMDB
 * store (arrival order, idempotent puts, quotas by count and bytes, deletes
 * keeping the counters right, the retention purge in batches of N) and the
 * XEP-0203 delay helper. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "lib/util.h"
#include "storage/offline.h"
#include "storage/seal.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"
#include "xep/delay.h"
#include "xep/stored-xml.h"

#define USER "juliet@example.net"
#define OTHER "romeo@example.net"

static char dir[64];
static pl_storage_t *st;
static pl_offline_t *repo;

static void store_open(void)
{
    ut_tmpdir_new(dir, "offline");
    st = ut_storage_open(dir);
    ck_assert_int_eq(pl_offline_open(st, &repo), 0);
}

static void store_close(void)
{
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}

/* The id a message arriving at `t` (microseconds) would get. */
static const char *id_at(unsigned long long t)
{
    static char ids[8][PL_ID_SIZE];
    static int next;
    char *out = ids[next++ % 8];
    pl_id_format(t, out);
    return out;
}

/* ---- one operation in a write job ---- */

typedef struct op {
    enum { OP_PUT, OP_DEL, OP_DEL_ALL, OP_PURGE, OP_DEL_ACCOUNT } kind;
    const char *user, *id, *stanza;
    int64_t at;
    pl_offline_quota_t quota;
    const char *const *ids;
    size_t n;
    long result;
} op_t;

static int op_run(pl_wtxn_t *txn, void *ud)
{
    op_t *op = ud;
    switch (op->kind) {
    case OP_PUT:
        op->result = pl_offline_put(txn, repo, op->user, op->id, op->at, op->stanza,
                                    op->stanza ? strlen(op->stanza) : 0, &op->quota);
        break;
    case OP_DEL: op->result = pl_offline_delete(txn, repo, op->user, op->ids, op->n); break;
    case OP_DEL_ALL: op->result = pl_offline_delete_all(txn, repo, op->user); break;
    case OP_PURGE: op->result = pl_offline_purge(txn, repo, op->at, op->n); break;
    case OP_DEL_ACCOUNT: op->result = pl_offline_delete_account(txn, op->user); break;
    }
    return op->result < 0 ? (int)op->result : 0;
}

static long run(op_t *op)
{
    int rc = pl_storage_write_sync(st, op_run, op);
    ck_assert_int_eq(rc, op->result < 0 ? (int)op->result : 0);
    return op->result;
}

static long put_q(const char *user, const char *id, int64_t at, const char *stanza,
                  uint64_t max_messages, uint64_t max_bytes)
{
    op_t op = {.kind = OP_PUT,
               .user = user,
               .id = id,
               .at = at,
               .stanza = stanza,
               .quota = {.max_messages = max_messages, .max_bytes = max_bytes}};
    return run(&op);
}

static long put(const char *user, const char *id, int64_t at, const char *stanza)
{
    return put_q(user, id, at, stanza, 0, 0);
}

static long purge(int64_t before, size_t max)
{
    op_t op = {.kind = OP_PURGE, .at = before, .n = max};
    return run(&op);
}

static pl_offline_usage_t usage(const char *user)
{
    pl_offline_usage_t u;
    ck_assert_int_eq(pl_offline_usage(repo, user, &u), 0);
    return u;
}

/* The stanzas listed for `user`, joined with '|'. */
typedef struct listing {
    char text[4096];
    int n;
    int64_t last_at;
} listing_t;

static int see(void *ud, const pl_offline_msg_t *m)
{
    listing_t *l = ud;
    ck_assert_ptr_nonnull(m->stanza);
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof(l->text) - used, "%s%.*s", l->n ? "|" : "", (int)m->len,
             m->stanza);
    l->n++;
    l->last_at = m->stored_at;
    return 0;
}

static const char *list(const char *user)
{
    static listing_t l;
    memset(&l, 0, sizeof(l));
    ck_assert_int_eq(pl_offline_list(repo, user, see, &l), l.n);
    return l.text;
}

/* ---- tests ---- */

START_TEST(messages_are_listed_in_arrival_order_per_account)
{
    store_open();
    /* Put out of order: the ids' times decide, not the order of puts. */
    ck_assert_int_eq(put(USER, id_at(3000000), 3, "<c/>"), 1);
    ck_assert_int_eq(put(USER, id_at(1000000), 1, "<a/>"), 1);
    ck_assert_int_eq(put(OTHER, id_at(1500000), 1, "<other/>"), 1);
    ck_assert_int_eq(put(USER, id_at(2000000), 2, "<b/>"), 1);
    ck_assert_str_eq(list(USER), "<a/>|<b/>|<c/>");
    ck_assert_str_eq(list(OTHER), "<other/>");
    ck_assert_str_eq(list("nobody@example.net"), "");
    pl_offline_usage_t u = usage(USER);
    ck_assert_uint_eq(u.messages, 3);
    ck_assert_uint_gt(u.bytes, 3 * 4);
    store_close();
}
END_TEST

START_TEST(a_stanza_comes_back_byte_for_byte)
{
    store_open();
    const char *stanza =
        "<message xmlns='jabber:client' to='juliet@example.net' type='chat'><body>a &amp; b "
        "\xc3\xa9</body><delay xmlns='urn:xmpp:delay' stamp='2026-01-01T00:00:00.000Z'/>"
        "</message>";
    ck_assert_int_eq(put(USER, id_at(42), 1767225600, stanza), 1);
    listing_t l = {0};
    ck_assert_int_eq(pl_offline_list(repo, USER, see, &l), 1);
    ck_assert_str_eq(l.text, stanza);
    ck_assert_int_eq(l.last_at, 1767225600);
    /* And it still parses as the stanza it was. */
    pl_stanza_t *s = pl_stored_xml_decode(stanza, strlen(stanza));
    ck_assert_ptr_nonnull(s);
    pl_stanza_unref(&s);
    store_close();
}
END_TEST

START_TEST(storing_the_same_id_twice_changes_nothing)
{
    store_open();
    const char *id = id_at(5000000);
    ck_assert_int_eq(put(USER, id, 5, "<m>first</m>"), 1);
    pl_offline_usage_t before = usage(USER);
    /* The same id again (a redelivery): nothing changes, not even the bytes. */
    ck_assert_int_eq(put(USER, id, 9, "<m>second copy</m>"), 0);
    pl_offline_usage_t after = usage(USER);
    ck_assert_uint_eq(after.messages, before.messages);
    ck_assert_uint_eq(after.bytes, before.bytes);
    ck_assert_str_eq(list(USER), "<m>first</m>");
    /* Its index entry was not doubled either: one purge removes it. */
    ck_assert_int_eq(purge(100, 10), 1);
    ck_assert_uint_eq(usage(USER).messages, 0);
    store_close();
}
END_TEST

START_TEST(the_message_quota_refuses_one_more_per_account)
{
    store_open();
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(put_q(USER, id_at(1000 + i), 1, "<m/>", 3, 0), 1);
    ck_assert_int_eq(put_q(USER, id_at(2000), 1, "<m/>", 3, 0), -EDQUOT);
    ck_assert_uint_eq(usage(USER).messages, 3);
    /* A duplicate of a stored one is not refused: it changes nothing. */
    ck_assert_int_eq(put_q(USER, id_at(1000), 1, "<m/>", 3, 0), 0);
    /* Another account has its own quota. */
    ck_assert_int_eq(put_q(OTHER, id_at(2000), 1, "<m/>", 3, 0), 1);
    /* Room again after a delete. */
    const char *gone[] = {id_at(1001)};
    op_t del = {.kind = OP_DEL, .user = USER, .ids = gone, .n = 1};
    ck_assert_int_eq(run(&del), 1);
    ck_assert_int_eq(put_q(USER, id_at(2000), 1, "<m/>", 3, 0), 1);
    ck_assert_uint_eq(usage(USER).messages, 3);
    store_close();
}
END_TEST

START_TEST(the_byte_quota_counts_the_stored_records)
{
    store_open();
    char big[1001];
    memset(big, 'x', 1000);
    big[1000] = '\0';
    /* Each record is the stanza plus a small header, so two fit in 2100
     * bytes and a third does not. */
    ck_assert_int_eq(put_q(USER, id_at(1), 1, big, 0, 2100), 1);
    ck_assert_int_eq(put_q(USER, id_at(2), 1, big, 0, 2100), 1);
    pl_offline_usage_t u = usage(USER);
    ck_assert_uint_gt(u.bytes, 2000);
    ck_assert_uint_le(u.bytes, 2100);
    ck_assert_int_eq(put_q(USER, id_at(3), 1, big, 0, 2100), -EDQUOT);
    /* A small one still fits in what is left. */
    ck_assert_int_eq(put_q(USER, id_at(4), 1, "<m/>", 0, 2100), 1);
    ck_assert_uint_eq(usage(USER).messages, 3);
    store_close();
}
END_TEST

START_TEST(deleting_by_ids_or_all_removes_only_the_users_records)
{
    store_open();
    for (int i = 0; i < 5; i++) {
        char s[16];
        snprintf(s, sizeof(s), "<m%d/>", i);
        ck_assert_int_eq(put(USER, id_at(100 + (unsigned)i), 1, s), 1);
    }
    ck_assert_int_eq(put(OTHER, id_at(100), 1, "<o/>"), 1);
    /* Absent ids are skipped, and only the user's own records go. */
    char a[PL_ID_SIZE], b[PL_ID_SIZE], c[PL_ID_SIZE];
    pl_id_format(101, a);
    pl_id_format(103, b);
    pl_id_format(999, c);
    const char *ids[] = {a, b, c};
    op_t del = {.kind = OP_DEL, .user = USER, .ids = ids, .n = 3};
    ck_assert_int_eq(run(&del), 2);
    ck_assert_str_eq(list(USER), "<m0/>|<m2/>|<m4/>");
    ck_assert_uint_eq(usage(USER).messages, 3);
    op_t all = {.kind = OP_DEL_ALL, .user = USER};
    ck_assert_int_eq(run(&all), 3);
    ck_assert_str_eq(list(USER), "");
    pl_offline_usage_t u = usage(USER);
    ck_assert_uint_eq(u.messages, 0);
    ck_assert_uint_eq(u.bytes, 0);
    ck_assert_str_eq(list(OTHER), "<o/>");
    /* Deleted records leave no index entries behind for the purge. */
    ck_assert_int_eq(purge(1000, 100), 1);
    store_close();
}
END_TEST

START_TEST(the_purge_removes_expired_messages_oldest_first_in_batches)
{
    store_open();
    /* 10 old messages over two accounts (stored at 100..109) and 3 fresh
     * ones (stored at 1000), interleaved in id order. */
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(put(i % 2 ? USER : OTHER, id_at(10 + (unsigned)i), 100 + i, "<old/>"), 1);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(put(USER, id_at(5 + (unsigned)i), 1000, "<new/>"), 1);
    /* Exactly N per call, oldest first, expired only. */
    ck_assert_int_eq(purge(500, 4), 4);
    ck_assert_uint_eq(usage(OTHER).messages, 3); /* 100, 102 went; 104, 106, 108 left */
    ck_assert_uint_eq(usage(USER).messages, 5 + 3 - 2);
    ck_assert_int_eq(purge(500, 4), 4);
    ck_assert_int_eq(purge(500, 4), 2);
    ck_assert_int_eq(purge(500, 4), 0);
    ck_assert_str_eq(list(USER), "<new/>|<new/>|<new/>");
    ck_assert_str_eq(list(OTHER), "");
    ck_assert_uint_eq(usage(OTHER).messages, 0);
    ck_assert_uint_eq(usage(OTHER).bytes, 0);
    ck_assert_uint_eq(usage(USER).messages, 3);
    /* The cut-off is strict: stored_at == before stays. */
    ck_assert_int_eq(purge(1000, 10), 0);
    ck_assert_int_eq(purge(1001, 10), 3);
    ck_assert_uint_eq(usage(USER).bytes, 0);
    ck_assert_int_eq(purge(5000, 0), 0);
    store_close();
}
END_TEST

/* A deleted account: records, counters and time index entries all go (a
 * purge afterwards finds nothing of it), the other account's stay. */
static int count_keys(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    (*(int *)ud)++;
    return 0;
}

START_TEST(deleting_an_account_removes_its_records_index_and_counter)
{
    store_open();
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(put(i % 2 ? USER : OTHER, id_at(10 + (unsigned)i), 100 + i, "<m/>"), 1);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "offline", &kv), 0);
    int before = 0;
    pl_kv_scan(kv, NULL, 0, count_keys, &before);
    op_t op = {.kind = OP_DEL_ACCOUNT, .user = USER};
    ck_assert_int_eq(run(&op), 3);
    int after = 0;
    pl_kv_scan(kv, NULL, 0, count_keys, &after);
    /* Three records, three index entries and the counter. */
    ck_assert_int_eq(before - after, 7);
    ck_assert_str_eq(list(USER), "");
    ck_assert_uint_eq(usage(USER).messages, 0);
    ck_assert_uint_eq(usage(OTHER).messages, 3);
    ck_assert_int_eq(purge(5000, 100), 3); /* only the other account's */
    ck_assert_int_eq(run(&op), 0);
    store_close();
}
END_TEST

START_TEST(bad_ids_users_and_stanzas_are_refused)
{
    store_open();
    ck_assert_int_eq(put(USER, "", 1, "<m/>"), -EINVAL);
    ck_assert_int_eq(put(USER, "\x01n", 1, "<m/>"), -EINVAL);
    ck_assert_int_eq(put("", id_at(1), 1, "<m/>"), -EINVAL);
    ck_assert_int_eq(put(USER, id_at(1), 1, ""), -EINVAL);
    char user[600];
    memset(user, 'a', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    ck_assert_int_eq(put(user, id_at(1), 1, "<m/>"), -ENAMETOOLONG);
    ck_assert_uint_eq(usage(USER).messages, 0);
    store_close();
}
END_TEST

START_TEST(stored_messages_survive_a_reopen)
{
    store_open();
    ck_assert_int_eq(put(USER, id_at(1), 7, "<kept/>"), 1);
    pl_storage_close(&st);
    pl_storage_opts_t o = {.dir = dir, .threaded = 0};
    char *err = NULL;
    ck_assert_int_eq(pl_storage_open(&st, &o, &err), 0);
    ck_assert_int_eq(pl_offline_open(st, &repo), 0);
    ck_assert_str_eq(list(USER), "<kept/>");
    ck_assert_uint_eq(usage(USER).messages, 1);
    store_close();
}
END_TEST

/* ---- XEP-0203 ---- */

static pl_stanza_t *parse(const char *xml)
{
    pl_stanza_t *s = pl_stored_xml_decode(xml, strlen(xml));
    ck_assert_ptr_nonnull(s);
    return s;
}

START_TEST(delay_stamps_are_utc_with_milliseconds)
{
    char stamp[PL_DELAY_STAMP_SIZE];
    pl_delay_stamp(1767225600123LL, stamp);
    ck_assert_str_eq(stamp, "2026-01-01T00:00:00.123Z");
    pl_delay_stamp(0, stamp);
    ck_assert_str_eq(stamp, "1970-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(a_delay_is_added_once_per_server_keeping_others)
{
    pl_stanza_t *m =
        parse("<message xmlns='jabber:client' to='a@b' id='x'><body>hi</body>"
              "<delay xmlns='urn:xmpp:delay' from='elsewhere' stamp='2020-01-01T00:00:00Z'/>"
              "</message>");
    ck_assert_int_eq(pl_delay_has(m, "b"), 0);
    ck_assert_int_eq(pl_delay_has(m, "elsewhere"), 1);
    pl_stanza_t *d = pl_delay_add(m, "b", 1767225600000LL, "Offline Storage");
    ck_assert_int_eq(pl_delay_has(d, "b"), 1);
    size_t len;
    const char *bytes = pl_stanza_bytes(d, &len);
    ck_assert_ptr_nonnull(strstr(bytes, "<body>hi</body>"));
    ck_assert_ptr_nonnull(strstr(bytes, "from='elsewhere'"));
    ck_assert_ptr_nonnull(strstr(bytes,
                                 "<delay xmlns='urn:xmpp:delay' from='b' "
                                 "stamp='2026-01-01T00:00:00.000Z'>Offline Storage</delay>"));
    ck_assert_str_eq(pl_stanza_attr(d, "id"), "x");
    /* The original is untouched. */
    ck_assert_int_eq(pl_delay_has(m, "b"), 0);
    pl_stanza_unref(&d);
    pl_stanza_unref(&m);
}
END_TEST

/* Byte search in a whole file (the LMDB data file). */
static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t cap = 1 << 20, len = 0, nl = strlen(needle);
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    int found = memmem(buf, len, needle, nl) != NULL;
    free(buf);
    return found;
}

typedef struct first_msg {
    int n, missing;
} first_msg_t;

static int count_seen(void *ud, const pl_offline_msg_t *m)
{
    first_msg_t *f = ud;
    f->n++;
    f->missing += m->stanza == NULL;
    return 0;
}

/* Encryption at rest: with a key ring the stanza is stored sealed (its
 * words are not in the file), comes back the same, and without the ring
 * it cannot be read. */
START_TEST(sealed_records_hide_their_words_and_need_the_key)
{
    char keyfile[96], *err = NULL, path[128];
    store_open();
    snprintf(keyfile, sizeof(keyfile), "%s.keys", dir);
    ck_assert_int_eq(pl_seal_generate(keyfile, NULL, &err), 0);
    pl_seal_t *ring = NULL;
    ck_assert_int_eq(pl_seal_load(keyfile, &ring, &err), 0);
    pl_storage_set_seal(st, ring);
    const char *secret = "<message><body>the eagle lands at dawn</body></message>";
    ck_assert_int_eq(put(USER, id_at(1000), 10, secret), 1);
    ck_assert_str_eq(list(USER), secret);
    pl_storage_close(&st);
    snprintf(path, sizeof(path), "%s/hot/data.mdb", dir);
    ck_assert(!file_contains(path, "eagle lands"));
    ck_assert(file_contains(path, "juliet@example.net")); /* the file was read */
    /* Reopened without the key: the record is there but unreadable. */
    pl_storage_opts_t o = {.dir = dir, .threaded = 0};
    ck_assert_int_eq(pl_storage_open(&st, &o, &err), 0);
    ck_assert_int_eq(pl_offline_open(st, &repo), 0);
    first_msg_t f = {0};
    ck_assert_int_eq(pl_offline_list(repo, USER, count_seen, &f), 1);
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.missing, 1);
    /* With the key again: readable. */
    pl_storage_set_seal(st, ring);
    ck_assert_str_eq(list(USER), secret);
    pl_storage_set_seal(st, NULL);
    pl_seal_free(&ring);
    remove(keyfile);
    store_close();
}
END_TEST

Suite *offline_suite(void)
{
    Suite *s = suite_create("offline");
    TCase *tc = tcase_create("offline");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, messages_are_listed_in_arrival_order_per_account);
    tcase_add_test(tc, sealed_records_hide_their_words_and_need_the_key);
    tcase_add_test(tc, a_stanza_comes_back_byte_for_byte);
    tcase_add_test(tc, storing_the_same_id_twice_changes_nothing);
    tcase_add_test(tc, the_message_quota_refuses_one_more_per_account);
    tcase_add_test(tc, the_byte_quota_counts_the_stored_records);
    tcase_add_test(tc, deleting_by_ids_or_all_removes_only_the_users_records);
    tcase_add_test(tc, the_purge_removes_expired_messages_oldest_first_in_batches);
    tcase_add_test(tc, bad_ids_users_and_stanzas_are_refused);
    tcase_add_test(tc, deleting_an_account_removes_its_records_index_and_counter);
    tcase_add_test(tc, stored_messages_survive_a_reopen);
    tcase_add_test(tc, delay_stamps_are_utc_with_milliseconds);
    tcase_add_test(tc, a_delay_is_added_once_per_server_keeping_others);
    suite_add_tcase(s, tc);
    return s;
}
