/* test_roster.c — the roster repository: the record format (round trips and
 * damaged records), when a XEP-0237 diff is possible, and versions,
 * tombstones and their trimming against a real LMDB store. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storage/roster.h"
#include "storage/storage.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

/* ---- helpers ---- */

static void item_fill(pl_roster_item_t *it, const char *jid, const char *name, size_t ngroups)
{
    pl_roster_item_init(it);
    it->jid = pl_xstrdup(jid);
    it->name = name ? pl_xstrdup(name) : NULL;
    it->ngroups = ngroups;
    it->groups = ngroups ? pl_xcalloc(ngroups, sizeof(char *)) : NULL;
    for (size_t i = 0; i < ngroups; i++) {
        char g[32];
        snprintf(g, sizeof(g), "group %zu", i);
        it->groups[i] = pl_xstrdup(g);
    }
    it->in_roster = 1;
}

static void assert_same(const pl_roster_item_t *a, const pl_roster_item_t *b)
{
    ck_assert_str_eq(a->jid, b->jid);
    if (a->name)
        ck_assert_str_eq(a->name, b->name);
    else
        ck_assert_ptr_null(b->name);
    if (a->pending_status)
        ck_assert_str_eq(a->pending_status, b->pending_status);
    else
        ck_assert_ptr_null(b->pending_status);
    ck_assert_uint_eq(a->ngroups, b->ngroups);
    for (size_t i = 0; i < a->ngroups; i++)
        ck_assert_str_eq(a->groups[i], b->groups[i]);
    ck_assert_uint_eq(a->sub, b->sub);
    ck_assert_int_eq(a->ask, b->ask);
    ck_assert_int_eq(a->pending_in, b->pending_in);
    ck_assert_int_eq(a->approved, b->approved);
    ck_assert_int_eq(a->in_roster, b->in_roster);
    ck_assert_int_eq(a->removed, b->removed);
    ck_assert_uint_eq(a->ver, b->ver);
}

static void roundtrip(const pl_roster_item_t *it)
{
    pl_buf_t buf;
    pl_buf_init(&buf);
    pl_roster_item_encode(it, &buf);
    pl_roster_item_t out;
    pl_roster_item_init(&out);
    ck_assert_int_eq(pl_roster_item_decode(buf.data, buf.len, &out), 0);
    assert_same(it, &out);
    pl_roster_item_clear(&out);
    pl_buf_deinit(&buf);
}

/* ---- record format ---- */

START_TEST(records_round_trip_up_to_the_largest_item_and_tombstones)
{
    pl_roster_item_t it;
    item_fill(&it, "juliet@example.com", "Juliet", 3);
    it.sub = PL_SUB_BOTH;
    it.ask = 1;
    it.pending_in = 1;
    it.approved = 1;
    it.ver = UINT64_MAX - 1;
    it.pending_status = pl_xstrdup("let me in");
    roundtrip(&it);
    pl_roster_item_clear(&it);

    /* No name and an empty name are different things. */
    item_fill(&it, "a@b", NULL, 0);
    roundtrip(&it);
    free(it.name);
    it.name = pl_xstrdup("");
    it.sub = PL_SUB_FROM;
    roundtrip(&it);
    pl_roster_item_clear(&it);

    /* The largest item the limits allow: a full-length name and every group
     * at full length. */
    item_fill(&it, "big@example.com", NULL, PL_ROSTER_MAX_GROUPS);
    it.name = pl_xmalloc(PL_ROSTER_MAX_NAME + 1);
    memset(it.name, 'n', PL_ROSTER_MAX_NAME);
    it.name[PL_ROSTER_MAX_NAME] = '\0';
    for (size_t i = 0; i < it.ngroups; i++) {
        free(it.groups[i]);
        it.groups[i] = pl_xmalloc(PL_ROSTER_MAX_NAME + 1);
        memset(it.groups[i], 'a' + (int)(i % 26), PL_ROSTER_MAX_NAME);
        it.groups[i][PL_ROSTER_MAX_NAME] = '\0';
    }
    it.sub = PL_SUB_TO;
    roundtrip(&it);
    pl_roster_item_clear(&it);

    /* A tombstone. */
    item_fill(&it, "gone@example.com", NULL, 0);
    it.in_roster = 0;
    it.removed = 1;
    it.ver = 7;
    roundtrip(&it);
    pl_roster_item_clear(&it);
}
END_TEST

START_TEST(a_copied_item_owns_its_strings)
{
    pl_roster_item_t a, b;
    item_fill(&a, "x@y", "X", 2);
    a.pending_status = pl_xstrdup("hi");
    pl_roster_item_copy(&b, &a);
    ck_assert_ptr_ne(a.groups, b.groups);
    ck_assert_ptr_ne(a.name, b.name);
    assert_same(&a, &b);
    pl_roster_item_clear(&a);
    pl_roster_item_clear(&b);
    ck_assert_ptr_null(b.jid);
    ck_assert_uint_eq(b.ngroups, 0);
}
END_TEST

static int decodes(const void *data, size_t len)
{
    pl_roster_item_t out;
    pl_roster_item_init(&out);
    int rc = pl_roster_item_decode(data, len, &out);
    if (rc != 0) {
        /* A failed decode leaves nothing behind. */
        ck_assert_ptr_null(out.jid);
        ck_assert_ptr_null(out.groups);
    }
    pl_roster_item_clear(&out);
    return rc;
}

START_TEST(damaged_records_are_refused)
{
    pl_roster_item_t it;
    item_fill(&it, "juliet@example.com", "Juliet", 4);
    it.pending_status = pl_xstrdup("status");
    pl_buf_t buf;
    pl_buf_init(&buf);
    pl_roster_item_encode(&it, &buf);
    pl_roster_item_clear(&it);

    /* Every truncation is refused (each is copied to its own allocation so
     * ASan catches a read past the end). */
    for (size_t n = 0; n < buf.len; n++) {
        char *copy = pl_xmalloc(n ? n : 1);
        memcpy(copy, buf.data, n);
        ck_assert_msg(decodes(copy, n) == -EBADMSG, "prefix of %zu bytes accepted", n);
        free(copy);
    }
    ck_assert_int_eq(decodes(buf.data, buf.len), 0);

    /* Trailing garbage. */
    pl_buf_t longer;
    pl_buf_init(&longer);
    pl_buf_append(&longer, buf.data, buf.len);
    pl_buf_append(&longer, "x", 1);
    ck_assert_int_eq(decodes(longer.data, longer.len), -EBADMSG);
    pl_buf_deinit(&longer);

    /* An unknown format version. */
    char *copy = pl_xmalloc(buf.len);
    memcpy(copy, buf.data, buf.len);
    copy[0] = 2;
    ck_assert_int_eq(decodes(copy, buf.len), -EBADMSG);

    /* A NUL inside the JID (bytes 14.. after format, flags, ver, length). */
    memcpy(copy, buf.data, buf.len);
    copy[14 + 3] = '\0';
    ck_assert_int_eq(decodes(copy, buf.len), -EBADMSG);

    /* A string length pointing past the end. */
    memcpy(copy, buf.data, buf.len);
    copy[10] = 0x7f;
    ck_assert_int_eq(decodes(copy, buf.len), -EBADMSG);
    free(copy);
    pl_buf_deinit(&buf);

    /* A group count far beyond what the record holds. */
    item_fill(&it, "a@b", NULL, 0);
    pl_buf_init(&buf);
    pl_roster_item_encode(&it, &buf);
    pl_roster_item_clear(&it);
    /* format, flags, ver(8), jid len(4) "a@b", name opt(1), ngroups(2), opt(1) */
    ck_assert_uint_eq(buf.len, 1 + 1 + 8 + 4 + 3 + 1 + 2 + 1);
    buf.data[18] = (char)0xff;
    buf.data[19] = (char)0xff;
    ck_assert_int_eq(decodes(buf.data, buf.len), -EBADMSG);
    pl_buf_deinit(&buf);

    /* An empty JID is not an item. */
    static const unsigned char empty_jid[] = {1, 0x20, 0, 0, 0, 0, 0, 0, 0, 1, /* format, flags, ver */
                                              0, 0, 0, 0,                   /* jid: "" */
                                              0, 0, 0, 0};                  /* name, groups, status */
    ck_assert_int_eq(decodes(empty_jid, sizeof(empty_jid)), -EBADMSG);
}
END_TEST

START_TEST(a_diff_is_possible_only_from_the_floor_to_the_current_version)
{
    /* A client at the current version, or between the floor and it. */
    ck_assert(pl_roster_diff_possible(10, 0, 10));
    ck_assert(pl_roster_diff_possible(10, 0, 0));
    ck_assert(pl_roster_diff_possible(10, 4, 4));
    ck_assert(pl_roster_diff_possible(10, 4, 9));
    ck_assert(pl_roster_diff_possible(0, 0, 0));
    /* Older than the newest dropped tombstone: it missed a removal. */
    ck_assert(!pl_roster_diff_possible(10, 4, 3));
    ck_assert(!pl_roster_diff_possible(10, 10, 0));
    /* From the future (another server, or a reset database). */
    ck_assert(!pl_roster_diff_possible(10, 0, 11));
    ck_assert(!pl_roster_diff_possible(0, 0, 1));
    ck_assert(!pl_roster_diff_possible(10, 0, UINT64_MAX));
}
END_TEST

/* ---- against a real store ---- */

static char dir[64];
static pl_storage_t *st;
static pl_roster_t *roster;

static void store_open(void)
{
    ut_tmpdir_new(dir, "roster");
    st = ut_storage_open(dir);
    ck_assert_int_eq(pl_roster_open(st, &roster), 0);
    pl_roster_t *again;
    ck_assert_int_eq(pl_roster_open(st, &again), 0);
    ck_assert_ptr_eq(again, roster);
}

static void store_close(void)
{
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}

#define USER "romeo@example.net"

typedef struct op {
    const char *contact;
    const char *name;
    int remove;
    int in_roster;
    int64_t result;
} op_t;

static int op_run(pl_wtxn_t *txn, void *ud)
{
    op_t *op = ud;
    if (op->remove) {
        op->result = pl_roster_remove(txn, roster, USER, op->contact);
    } else {
        pl_roster_item_t it;
        item_fill(&it, op->contact, op->name, 1);
        it.in_roster = op->in_roster;
        op->result = pl_roster_put(txn, roster, USER, &it);
        if (op->result > 0)
            ck_assert_uint_eq(it.ver, (uint64_t)op->result);
        pl_roster_item_clear(&it);
    }
    return op->result < 0 ? (int)op->result : 0;
}

static int64_t put(const char *contact, const char *name, int in_roster)
{
    op_t op = {.contact = contact, .name = name, .in_roster = in_roster};
    ck_assert_int_eq(pl_storage_write_sync(st, op_run, &op), 0);
    return op.result;
}

static int64_t del(const char *contact)
{
    op_t op = {.contact = contact, .remove = 1};
    ck_assert_int_eq(pl_storage_write_sync(st, op_run, &op), 0);
    return op.result;
}

/* What a visitor saw: "jid@ver" or "-jid@ver" for removals. */
typedef struct seen {
    char text[1024];
    int n;
} seen_t;

static int see(void *ud, const pl_roster_item_t *it)
{
    seen_t *s = ud;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof(s->text) - len, "%s%s%s@%llu", s->n ? " " : "",
             it->removed ? "-" : "", it->jid, (unsigned long long)it->ver);
    s->n++;
    return 0;
}

static const char *changes(uint64_t since, int expect_rc)
{
    static seen_t s;
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(pl_roster_changes(roster, USER, since, see, &s), expect_rc);
    return s.text;
}

static const char *list(int all)
{
    static seen_t s;
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(pl_roster_list(roster, USER, all, see, &s), s.n);
    return s.text;
}

START_TEST(each_change_takes_the_next_version_and_changes_list_since_one)
{
    store_open();
    ck_assert_uint_eq(pl_roster_version(roster, USER), 0);
    ck_assert_int_eq(pl_roster_count(roster, USER), 0);
    ck_assert_str_eq(changes(0, 1), "");

    ck_assert_int_eq(put("c@x", "C", 1), 1);
    ck_assert_int_eq(put("a@x", "A", 1), 2);
    ck_assert_int_eq(put("b@x", NULL, 1), 3);
    ck_assert_uint_eq(pl_roster_version(roster, USER), 3);
    ck_assert_int_eq(pl_roster_count(roster, USER), 3);
    ck_assert_str_eq(list(0), "a@x@2 b@x@3 c@x@1");

    pl_roster_item_t it;
    pl_roster_item_init(&it);
    ck_assert_int_eq(pl_roster_get(roster, USER, "a@x", &it), 1);
    ck_assert_str_eq(it.name, "A");
    ck_assert_uint_eq(it.ngroups, 1);
    ck_assert_str_eq(it.groups[0], "group 0");
    ck_assert_int_eq(pl_roster_get(roster, USER, "nobody@x", &it), 0);
    ck_assert_ptr_null(it.jid);
    /* Other users' rosters are separate. */
    ck_assert_int_eq(pl_roster_get(roster, "romeo@example.ne", "a@x", &it), 0);
    ck_assert_uint_eq(pl_roster_version(roster, "other@example.net"), 0);

    /* Update and removal. */
    ck_assert_int_eq(put("c@x", "C2", 1), 4);
    ck_assert_int_eq(del("b@x"), 5);
    ck_assert_int_eq(del("b@x"), 0);
    ck_assert_int_eq(del("never@x"), 0);
    ck_assert_int_eq(pl_roster_get(roster, USER, "b@x", &it), 0);
    ck_assert_int_eq(pl_roster_count(roster, USER), 2);
    ck_assert_str_eq(list(0), "a@x@2 c@x@4");
    ck_assert_str_eq(list(1), "a@x@2 -b@x@5 c@x@4");

    /* Diffs, oldest change first. */
    ck_assert_str_eq(changes(5, 1), "");
    ck_assert_str_eq(changes(4, 1), "-b@x@5");
    ck_assert_str_eq(changes(2, 1), "c@x@4 -b@x@5");
    ck_assert_str_eq(changes(0, 1), "a@x@2 c@x@4 -b@x@5");
    ck_assert_str_eq(changes(6, 0), "");
    ck_assert_str_eq(changes(UINT64_MAX, 0), "");

    /* Adding it back replaces the tombstone. */
    ck_assert_int_eq(put("b@x", "B", 1), 6);
    ck_assert_str_eq(list(1), "a@x@2 b@x@6 c@x@4");
    ck_assert_str_eq(changes(4, 1), "b@x@6");
    ck_assert_int_eq(pl_roster_count(roster, USER), 3);

    /* Items that only hold a subscription state are not listed, counted or
     * diffed, and their removal leaves nothing. */
    ck_assert_int_eq(put("hidden@x", NULL, 0), 7);
    ck_assert_int_eq(pl_roster_get(roster, USER, "hidden@x", &it), 1);
    ck_assert_int_eq(it.in_roster, 0);
    ck_assert_str_eq(list(0), "a@x@2 b@x@6 c@x@4");
    ck_assert_int_eq(pl_roster_count(roster, USER), 3);
    ck_assert_str_eq(changes(6, 1), "");
    ck_assert_int_eq(del("hidden@x"), 0);
    ck_assert_uint_eq(pl_roster_version(roster, USER), 7);
    ck_assert_str_eq(list(1), "a@x@2 b@x@6 c@x@4");
    ck_assert_int_eq(pl_roster_get(roster, USER, "hidden@x", &it), 0);

    /* A hidden record over a removal still tells older clients about the
     * removal, and its own removal leaves a tombstone. */
    ck_assert_int_eq(del("a@x"), 8);
    ck_assert_int_eq(put("a@x", NULL, 0), 9);
    ck_assert_str_eq(list(0), "b@x@6 c@x@4");
    ck_assert_str_eq(changes(7, 1), "-a@x@9");
    ck_assert_int_eq(del("a@x"), 10);
    ck_assert_str_eq(changes(7, 1), "-a@x@10");
    ck_assert_int_eq(pl_roster_count(roster, USER), 2);

    /* Bad arguments. */
    ck_assert_int_lt(pl_roster_get(roster, USER, "", &it), 0);
    char longjid[600];
    memset(longjid, 'l', sizeof(longjid) - 1);
    longjid[sizeof(longjid) - 1] = '\0';
    ck_assert_int_eq(pl_roster_get(roster, USER, longjid, &it), -ENAMETOOLONG);
    pl_roster_item_clear(&it);

    /* Everything survives a reopen. */
    pl_storage_close(&st);
    pl_storage_opts_t o = {.dir = dir, .threaded = 0};
    char *err = NULL;
    ck_assert_int_eq(pl_storage_open(&st, &o, &err), 0);
    ck_assert_int_eq(pl_roster_open(st, &roster), 0);
    ck_assert_uint_eq(pl_roster_version(roster, USER), 10);
    ck_assert_str_eq(list(1), "-a@x@10 b@x@6 c@x@4");
    store_close();
}
END_TEST

/* Adds and removes `n` contacts in one job, the way a busy user would over
 * time. */
typedef struct churn {
    int n;
} churn_t;

static int churn_run(pl_wtxn_t *txn, void *ud)
{
    churn_t *c = ud;
    for (int i = 0; i < c->n; i++) {
        char jid[32];
        snprintf(jid, sizeof(jid), "c%05d@x", i);
        pl_roster_item_t it;
        item_fill(&it, jid, NULL, 0);
        ck_assert_int_eq(pl_roster_put(txn, roster, USER, &it), 2 * i + 1);
        pl_roster_item_clear(&it);
        ck_assert_int_eq(pl_roster_remove(txn, roster, USER, jid), 2 * i + 2);
    }
    return 0;
}

static int count_one(void *ud, const pl_roster_item_t *it)
{
    ck_assert(it->removed);
    (*(int *)ud)++;
    return 0;
}

/* ---- account deletion ---- */

#define JULIET "juliet@example.net"
#define NURSE "nurse@example.net"

typedef struct acct_op {
    const char *user, *contact;
    unsigned sub;
    int in_roster, pending_in;
    int forget; /* pl_roster_delete_account(user) instead */
    long result;
    pl_roster_change_t *changed; /* what the contacts' clients are to be pushed */
    size_t nchanged;
} acct_op_t;

static int acct_run(pl_wtxn_t *txn, void *ud)
{
    acct_op_t *op = ud;
    if (op->forget) {
        op->result = pl_roster_delete_account(txn, op->user, &op->changed, &op->nchanged);
        return op->result < 0 ? (int)op->result : 0;
    }
    pl_roster_item_t it;
    item_fill(&it, op->contact, "n", 1);
    it.sub = op->sub;
    it.in_roster = op->in_roster;
    it.pending_in = op->pending_in;
    int64_t v = pl_roster_put(txn, roster, op->user, &it);
    pl_roster_item_clear(&it);
    return v < 0 ? (int)v : 0;
}

static void acct_put(const char *user, const char *contact, unsigned sub, int in_roster,
                     int pending_in)
{
    acct_op_t op = {.user = user,
                    .contact = contact,
                    .sub = sub,
                    .in_roster = in_roster,
                    .pending_in = pending_in};
    ck_assert_int_eq(pl_storage_write_sync(st, acct_run, &op), 0);
}

START_TEST(deleting_an_account_removes_its_roster_and_its_contacts_subscriptions)
{
    store_open();
    /* Romeo and juliet are subscribed both ways; the nurse only knows of
     * a pending request from romeo (a hidden item). */
    acct_put(USER, JULIET, PL_SUB_BOTH, 1, 0);
    acct_put(USER, NURSE, PL_SUB_NONE, 1, 0);
    acct_put(JULIET, USER, PL_SUB_BOTH, 1, 0);
    acct_put(JULIET, NURSE, PL_SUB_TO, 1, 0);
    acct_put(NURSE, USER, PL_SUB_NONE, 0, 1);
    uint64_t juliet_ver = pl_roster_version(roster, JULIET);

    acct_op_t op = {.user = USER, .forget = 1};
    ck_assert_int_eq(pl_storage_write_sync(st, acct_run, &op), 0);
    ck_assert_int_eq(op.result, 3); /* two items and the meta record */
    ck_assert_str_eq(list(1), "");
    ck_assert_uint_eq(pl_roster_version(roster, USER), 0);
    ck_assert_int_eq(pl_roster_count(roster, USER), 0);

    /* Juliet keeps romeo's item, with no subscription, at a new version
     * (so her clients learn of it); her other item is untouched. */
    pl_roster_item_t it;
    pl_roster_item_init(&it);
    ck_assert_int_eq(pl_roster_get(roster, JULIET, USER, &it), 1);
    ck_assert_uint_eq(it.sub, PL_SUB_NONE);
    ck_assert_int_eq(it.in_roster, 1);
    ck_assert_int_eq(it.ask, 0);
    ck_assert_uint_gt(it.ver, juliet_ver);
    ck_assert_int_eq(pl_roster_get(roster, JULIET, NURSE, &it), 1);
    ck_assert_uint_eq(it.sub, PL_SUB_TO);
    /* The nurse's hidden pending request is gone. */
    ck_assert_int_eq(pl_roster_get(roster, NURSE, USER, &it), 0);
    /* Only juliet's clients have something to be told: romeo's item as it
     * now is, at the version it was stored with.  The nurse never saw hers. */
    ck_assert_uint_eq(op.nchanged, 1);
    ck_assert_str_eq(op.changed[0].owner, JULIET);
    ck_assert_str_eq(op.changed[0].item.jid, USER);
    ck_assert_uint_eq(op.changed[0].item.sub, PL_SUB_NONE);
    ck_assert_int_eq(op.changed[0].item.removed, 0);
    ck_assert_int_eq(pl_roster_get(roster, JULIET, USER, &it), 1);
    ck_assert_uint_eq(op.changed[0].item.ver, it.ver);
    pl_roster_item_clear(&it);
    pl_roster_changes_free(&op.changed, op.nchanged);

    /* Again: nothing left, nothing changes. */
    ck_assert_int_eq(pl_storage_write_sync(st, acct_run, &op), 0);
    ck_assert_int_eq(op.result, 0);
    ck_assert_uint_eq(op.nchanged, 0);
    op = (acct_op_t){.user = "", .forget = 1};
    ck_assert_int_eq(pl_storage_write_sync(st, acct_run, &op), -EINVAL);
    store_close();
}
END_TEST

START_TEST(the_oldest_tombstones_are_trimmed_and_raise_the_floor)
{
    /* Contact i is added at version 2i+1 and removed at 2i+2. */
    int extra = 5, n = PL_ROSTER_MAX_TOMBSTONES + extra;
    churn_t c = {.n = n};
    store_open();
    ck_assert_int_eq(pl_storage_write_sync(st, churn_run, &c), 0);
    uint64_t cur = pl_roster_version(roster, USER);
    ck_assert_uint_eq(cur, 2 * (uint64_t)n);
    int tombs = 0;
    ck_assert_int_eq(pl_roster_list(roster, USER, 1, count_one, &tombs), PL_ROSTER_MAX_TOMBSTONES);
    ck_assert_int_eq(tombs, PL_ROSTER_MAX_TOMBSTONES);
    ck_assert_int_eq(pl_roster_count(roster, USER), 0);
    /* The oldest `extra` tombstones went; the newest dropped was removed at
     * version 2 * extra, which is the floor. */
    uint64_t floor = 2 * (uint64_t)extra;
    ck_assert_str_eq(changes(cur, 1), "");
    ck_assert_str_eq(changes(floor - 1, 0), "");
    ck_assert_str_eq(changes(0, 0), "");
    seen_t s = {0};
    ck_assert_int_eq(pl_roster_changes(roster, USER, floor, see, &s), 1);
    ck_assert_int_eq(s.n, PL_ROSTER_MAX_TOMBSTONES);
    ck_assert(strncmp(s.text, "-c00005@x@12 -c00006@x@14", 25) == 0);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(pl_roster_changes(roster, USER, cur - 2, see, &s), 1);
    ck_assert_str_eq(s.text, "-c01004@x@2010");
    store_close();
}
END_TEST

/* Records outside the roster are counted in the meta record (a bound on
 * pending subscription requests rests on it), also for a meta record
 * written before the count existed (format 1: counted on first read). */
typedef struct hidden_q {
    long n;
} hidden_q_t;

static int hidden_run(pl_wtxn_t *txn, void *ud)
{
    ((hidden_q_t *)ud)->n = pl_roster_txn_count_hidden(txn, roster, USER);
    return 0;
}

static long hidden(void)
{
    hidden_q_t q = {0};
    ck_assert_int_eq(pl_storage_write_sync(st, hidden_run, &q), 0);
    return q.n;
}

static int old_meta_run(pl_wtxn_t *txn, void *ud)
{
    pl_kv_t *kv = ud;
    static const char key[] = USER "\0\x01meta";
    /* format 1, ver 9, floor 0, no tombstones, one visible item */
    static const unsigned char val[25] = {1, 0, 0, 0, 0, 0, 0, 0, 9, [24] = 1};
    return pl_kv_put(txn, kv, key, sizeof(key) - 1, val, sizeof(val)) < 0 ? -1 : 0;
}

START_TEST(items_outside_the_roster_are_counted_apart)
{
    store_open();
    ck_assert_int_eq(hidden(), 0);
    ck_assert_int_gt(put("a@x", NULL, 0), 0);
    ck_assert_int_gt(put("b@x", NULL, 0), 0);
    ck_assert_int_gt(put("c@x", NULL, 1), 0);
    ck_assert_int_eq(hidden(), 2);
    ck_assert_int_eq(pl_roster_count(roster, USER), 1);
    ck_assert_int_eq(del("a@x"), 0); /* hidden and never seen: gone without a tombstone */
    ck_assert_int_eq(hidden(), 1);
    ck_assert_int_gt(put("b@x", NULL, 1), 0); /* accepted into the roster */
    ck_assert_int_eq(hidden(), 0);
    ck_assert_int_eq(pl_roster_count(roster, USER), 2);
    ck_assert_int_gt(put("d@x", NULL, 0), 0);
    /* An older server's meta record, without the count. */
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "roster", &kv), 0);
    ck_assert_int_eq(pl_storage_write_sync(st, old_meta_run, kv), 0);
    ck_assert_int_eq(hidden(), 1);
    ck_assert_int_gt(put("e@x", NULL, 0), 0); /* written back in the new format */
    ck_assert_int_eq(hidden(), 2);
    ck_assert_uint_eq(pl_roster_version(roster, USER), 10);
    store_close();
}
END_TEST

Suite *roster_suite(void)
{
    Suite *s = suite_create("roster");
    TCase *tc = tcase_create("roster");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, records_round_trip_up_to_the_largest_item_and_tombstones);
    tcase_add_test(tc, a_copied_item_owns_its_strings);
    tcase_add_test(tc, damaged_records_are_refused);
    tcase_add_test(tc, a_diff_is_possible_only_from_the_floor_to_the_current_version);
    tcase_add_test(tc, each_change_takes_the_next_version_and_changes_list_since_one);
    tcase_add_test(tc, the_oldest_tombstones_are_trimmed_and_raise_the_floor);
    tcase_add_test(tc, deleting_an_account_removes_its_roster_and_its_contacts_subscriptions);
    tcase_add_test(tc, items_outside_the_roster_are_counted_apart);
    suite_add_tcase(s, tc);
    return s;
}
