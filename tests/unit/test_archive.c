/* test_archive.c — the message archive repository on a real history.db:
 * idempotent inserts, paging in both directions, filters, full-text search,
 * unknown cursors, and retention purges in batches. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/archive.h"
#include "storage/seal.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

#define T0 1700000000000000LL /* a key (microseconds) to count from */

typedef struct fixture {
    char dir[64];
    pl_storage_t *st;
    pl_archive_t *a;
} fixture_t;

static void fx_open(fixture_t *f)
{
    ut_tmpdir_new(f->dir, "archive");
    f->st = ut_storage_open(f->dir);
    ck_assert_int_eq(pl_archive_open(f->st, &f->a), 0);
}

static void fx_close(fixture_t *f)
{
    pl_archive_close(&f->a);
    pl_storage_close(&f->st);
    ut_tmpdir_free(f->dir);
}

typedef struct put {
    const char *owner, *peer, *res, *body;
    int64_t key;
    int dir;
} put_t;

static int put_run(pl_wtxn_t *txn, void *ud)
{
    const put_t *p = ud;
    char stanza[256];
    int n = snprintf(stanza, sizeof(stanza), "<message xmlns='jabber:client' n='%lld'/>",
                     (long long)p->key);
    pl_archive_msg_t m = {.owner = p->owner,
                          .key = p->key,
                          .peer = p->peer,
                          .peer_resource = p->res,
                          .dir = p->dir,
                          .stanza = stanza,
                          .stanza_len = (size_t)n,
                          .body = p->body,
                          .body_len = p->body ? strlen(p->body) : 0};
    return pl_archive_insert(txn, &m);
}

static int put(fixture_t *f, const char *owner, int64_t key, const char *peer, const char *body)
{
    put_t p = {.owner = owner, .key = key, .peer = peer, .body = body};
    return pl_storage_write_sync(f->st, put_run, &p);
}

/* owner "a@x": key T0+i for i in 1..n, peers alternate b@x / c@y. */
static void fill(fixture_t *f, int n)
{
    for (int i = 1; i <= n; i++) {
        char body[64];
        snprintf(body, sizeof(body), "message number %d %s", i, i % 10 == 0 ? "banana" : "apple");
        ck_assert_int_eq(put(f, "a@x", T0 + i, i % 2 ? "b@x" : "c@y", body), 1);
    }
}

static int64_t nth(const pl_archive_page_t *p, size_t i)
{
    return p->items[i].key - T0;
}

START_TEST(a_message_archived_twice_is_stored_and_indexed_once)
{
    fixture_t f;
    fx_open(&f);
    ck_assert_int_eq(put(&f, "a@x", T0 + 1, "b@x", "hello"), 1);
    ck_assert_int_eq(put(&f, "a@x", T0 + 1, "b@x", "hello"), 0);
    ck_assert_int_eq(put(&f, "b@x", T0 + 1, "a@x", "hello"), 1); /* another owner */
    ck_assert_int_eq(put(&f, "a@x", 0, "b@x", "x"), -EINVAL);
    pl_archive_query_t q = {.owner = "a@x", .max = 10};
    pl_archive_page_t p;
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_int_eq(p.count, 1);
    ck_assert_int_eq(p.complete, 1);
    ck_assert_str_eq(p.items[0].stanza, "<message xmlns='jabber:client' n='1700000000000001'/>");
    ck_assert_str_eq(p.items[0].peer, "b@x");
    pl_archive_page_deinit(&p);
    /* Full text: the duplicate did not index the body twice. */
    q.fulltext = "hello";
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 1);
    pl_archive_page_deinit(&p);
    fx_close(&f);
}
END_TEST

/* XEP-0313 include-groupchat: groupchat rows are left out unless asked
 * for, counted only then, and read back as groupchat; a direction that is
 * none of the three is refused. */
START_TEST(groupchat_rows_are_left_out_unless_asked_for)
{
    fixture_t f;
    fx_open(&f);
    put_t in = {.owner = "a@x", .key = T0 + 1, .peer = "b@x", .body = "one", .dir = PL_ARCHIVE_IN};
    put_t gc = {.owner = "a@x",
                .key = T0 + 2,
                .peer = "room@groups.x",
                .res = "nick",
                .body = "two",
                .dir = PL_ARCHIVE_GROUPCHAT};
    put_t bad = {.owner = "a@x", .key = T0 + 3, .peer = "b@x", .dir = 7};
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &in), 1);
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &gc), 1);
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &bad), -EINVAL);
    pl_archive_query_t q = {.owner = "a@x", .max = 10};
    pl_archive_page_t p;
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_int_eq(p.count, 1);
    ck_assert_int_eq(nth(&p, 0), 1);
    pl_archive_page_deinit(&p);
    q.include_groupchat = 1;
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_uint_eq(p.n, 2);
    ck_assert_int_eq(p.count, 2);
    ck_assert_int_eq(p.items[1].dir, PL_ARCHIVE_GROUPCHAT);
    ck_assert_int_eq(p.items[0].dir, PL_ARCHIVE_IN);
    pl_archive_page_deinit(&p);
    q.fulltext = "two";
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_uint_eq(p.n, 1);
    pl_archive_page_deinit(&p);
    q.include_groupchat = 0;
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_uint_eq(p.n, 0);
    pl_archive_page_deinit(&p);
    fx_close(&f);
}
END_TEST

START_TEST(pages_forward_and_backward_give_every_message_once_in_order)
{
    fixture_t f;
    fx_open(&f);
    fill(&f, 120);
    /* Forward, 50 at a time: every item once, in order. */
    int64_t seen = 0, after = 0;
    int pages = 0;
    for (;;) {
        pl_archive_query_t q = {.owner = "a@x", .max = 50, .page_after = after};
        pl_archive_page_t p;
        ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
        ck_assert_int_eq(p.count, 120);
        for (size_t i = 0; i < p.n; i++)
            ck_assert_int_eq(nth(&p, i), ++seen);
        pages++;
        int complete = p.complete;
        after = p.n ? p.items[p.n - 1].key : after;
        if (pages == 1)
            ck_assert_int_eq(p.first_index, 0);
        pl_archive_page_deinit(&p);
        if (complete)
            break;
        ck_assert_int_lt(pages, 5);
    }
    ck_assert_int_eq(seen, 120);
    ck_assert_int_eq(pages, 3);

    /* Backward from the last page. */
    pl_archive_query_t q = {.owner = "a@x", .max = 50, .last_page = 1};
    pl_archive_page_t p;
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_uint_eq(p.n, 50);
    ck_assert_int_eq(nth(&p, 0), 71);
    ck_assert_int_eq(nth(&p, 49), 120);
    ck_assert_int_eq(p.first_index, 70);
    ck_assert_int_eq(p.complete, 0);
    int64_t before = p.items[0].key;
    pl_archive_page_deinit(&p);
    int64_t expect = 70;
    for (;;) {
        pl_archive_query_t qb = {.owner = "a@x", .max = 50, .page_before = before};
        ck_assert_int_eq(pl_archive_query(f.a, &qb, &p), 0);
        for (size_t i = p.n; i-- > 0;)
            ck_assert_int_eq(nth(&p, i), expect--);
        int complete = p.complete;
        if (p.n)
            before = p.items[0].key;
        pl_archive_page_deinit(&p);
        if (complete)
            break;
    }
    ck_assert_int_eq(expect, 0);

    /* After the last item: an empty, complete page. */
    pl_archive_query_t qe = {.owner = "a@x", .max = 50, .page_after = T0 + 120};
    ck_assert_int_eq(pl_archive_query(f.a, &qe, &p), 0);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_int_eq(p.complete, 1);
    pl_archive_page_deinit(&p);

    /* max = 0: the count only. */
    pl_archive_query_t qc = {.owner = "a@x", .max = 0};
    ck_assert_int_eq(pl_archive_query(f.a, &qc, &p), 0);
    ck_assert_uint_eq(p.n, 0);
    ck_assert_int_eq(p.count, 120);
    ck_assert_int_eq(p.complete, 0);
    pl_archive_page_deinit(&p);

    /* An index. */
    pl_archive_query_t qi = {.owner = "a@x", .max = 5, .has_index = 1, .index = 100};
    ck_assert_int_eq(pl_archive_query(f.a, &qi, &p), 0);
    ck_assert_uint_eq(p.n, 5);
    ck_assert_int_eq(nth(&p, 0), 101);
    ck_assert_int_eq(p.first_index, 100);
    pl_archive_page_deinit(&p);
    fx_close(&f);
}
END_TEST

START_TEST(filters_narrow_the_results_and_unknown_cursors_are_refused)
{
    fixture_t f;
    fixture_t *fp = &f;
    fx_open(fp);
    fill(fp, 40);
    put_t p1 = {.owner = "a@x", .key = T0 + 100, .peer = "b@x", .res = "phone", .body = "x"};
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &p1), 1);
    pl_archive_page_t p;

    pl_archive_query_t q = {.owner = "a@x", .max = 100, .with = "b@x"};
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 21);
    for (size_t i = 0; i < p.n; i++)
        ck_assert_str_eq(p.items[i].peer, "b@x");
    pl_archive_page_deinit(&p);

    q.with_resource = "phone";
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 1);
    ck_assert_int_eq(nth(&p, 0), 100);
    pl_archive_page_deinit(&p);

    /* The resource alone (a room archive asked by nick): any peer's. */
    put_t r1 = {.owner = "room@g.x", .key = T0 + 1, .peer = "b@x", .res = "Al", .body = "y"};
    put_t r2 = {.owner = "room@g.x", .key = T0 + 2, .peer = "c@x", .res = "Al", .body = "y"};
    put_t r3 = {.owner = "room@g.x", .key = T0 + 3, .peer = "b@x", .res = "Bo", .body = "y"};
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &r1), 1);
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &r2), 1);
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &r3), 1);
    pl_archive_query_t qr = {.owner = "room@g.x", .max = 100, .with_resource = "Al"};
    ck_assert_int_eq(pl_archive_query(f.a, &qr, &p), 0);
    ck_assert_int_eq(p.count, 2);
    ck_assert_int_eq(nth(&p, 0), 1);
    ck_assert_int_eq(nth(&p, 1), 2);
    pl_archive_page_deinit(&p);

    pl_archive_query_t qt = {.owner = "a@x", .max = 100, .start = T0 + 5, .end = T0 + 9};
    ck_assert_int_eq(pl_archive_query(f.a, &qt, &p), 0);
    ck_assert_int_eq(p.count, 5);
    ck_assert_int_eq(nth(&p, 0), 5);
    ck_assert_int_eq(nth(&p, 4), 9);
    pl_archive_page_deinit(&p);

    pl_archive_query_t qa = {
        .owner = "a@x", .max = 100, .after_key = T0 + 10, .before_key = T0 + 14};
    ck_assert_int_eq(pl_archive_query(f.a, &qa, &p), 0);
    ck_assert_int_eq(p.count, 3);
    ck_assert_int_eq(nth(&p, 0), 11);
    pl_archive_page_deinit(&p);

    int64_t keys[] = {T0 + 3, T0 + 30, T0 + 999};
    pl_archive_query_t qk = {.owner = "a@x", .max = 100, .keys = keys, .nkeys = 3};
    ck_assert_int_eq(pl_archive_query(f.a, &qk, &p), 0);
    ck_assert_int_eq(p.count, 2);
    ck_assert_int_eq(nth(&p, 1), 30);
    pl_archive_page_deinit(&p);

    /* Unknown cursors and filter ids. */
    pl_archive_query_t qu = {.owner = "a@x", .max = 10, .page_after = T0 + 999};
    ck_assert_int_eq(pl_archive_query(f.a, &qu, &p), -ENOENT);
    pl_archive_query_t qv = {.owner = "a@x", .max = 10, .before_key = T0 + 999};
    ck_assert_int_eq(pl_archive_query(f.a, &qv, &p), -ENOENT);
    /* Another owner's key is unknown here. */
    ck_assert_int_eq(put(fp, "z@x", T0 + 500, "a@x", "x"), 1);
    pl_archive_query_t qw = {.owner = "a@x", .max = 10, .page_before = T0 + 500};
    ck_assert_int_eq(pl_archive_query(f.a, &qw, &p), -ENOENT);

    int64_t first, last;
    ck_assert_int_eq(pl_archive_bounds(f.a, "a@x", &first, &last), 1);
    ck_assert_int_eq(first, T0 + 1);
    ck_assert_int_eq(last, T0 + 100);
    ck_assert_int_eq(pl_archive_bounds(f.a, "nobody@x", &first, &last), 0);
    fx_close(fp);
}
END_TEST

START_TEST(fulltext_search_finds_whole_words_folded_and_prefixes)
{
    fixture_t f;
    fx_open(&f);
    fill(&f, 50);
    ck_assert_int_eq(put(&f, "a@x", T0 + 60, "b@x", "Déjà vu \"quoted\" words"), 1);
    pl_archive_page_t p;
    pl_archive_query_t q = {.owner = "a@x", .max = 100, .fulltext = "banana"};
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 5);
    ck_assert_int_eq(nth(&p, 0), 10);
    pl_archive_page_deinit(&p);
    q.fulltext = "BANANA number";
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 5);
    pl_archive_page_deinit(&p);
    q.fulltext = "deja"; /* diacritics folded */
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 1);
    pl_archive_page_deinit(&p);
    q.fulltext = "ban*"; /* prefix */
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 5);
    pl_archive_page_deinit(&p);
    q.fulltext = "\"quoted\" OR NEAR("; /* FTS syntax is taken as words */
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 0);
    pl_archive_page_deinit(&p);
    q.fulltext = "  ... ";
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), -EINVAL);
    q.fulltext = "banana";
    q.with = "c@y";
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_int_eq(p.count, 5); /* multiples of 10 are even: c@y */
    pl_archive_page_deinit(&p);
    fx_close(&f);
}
END_TEST

START_TEST(search_text_becomes_quoted_terms_within_bounds)
{
    char out[1024];
    ck_assert_int_eq(pl_archive_fts_expr("hello world", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "\"hello\" \"world\"");
    ck_assert_int_eq(pl_archive_fts_expr("a\"b pre*", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "\"a\"\"b\" \"pre\"*");
    ck_assert_int_eq(pl_archive_fts_expr("", out, sizeof(out)), -EINVAL);
    ck_assert_int_eq(pl_archive_fts_expr("* - !", out, sizeof(out)), -EINVAL);
    ck_assert_int_eq(
        pl_archive_fts_expr("1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", out, sizeof(out)),
        -EINVAL);
    char big[PL_ARCHIVE_MAX_FULLTEXT + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(pl_archive_fts_expr(big, out, sizeof(out)), -EINVAL);
}
END_TEST

typedef struct purge {
    const char *domain;
    int64_t before;
    unsigned limit;
} purge_t;

static int purge_run(pl_wtxn_t *txn, void *ud)
{
    const purge_t *p = ud;
    return pl_archive_purge(txn, p->domain, p->before, p->limit);
}

START_TEST(retention_purges_old_messages_and_their_index_in_batches)
{
    fixture_t f;
    fx_open(&f);
    fill(&f, 25);                                                 /* a@x: keys 1..25 */
    ck_assert_int_eq(put(&f, "q@y", T0 + 2, "a@x", "banana"), 1); /* another domain */
    purge_t p = {.domain = "x", .before = T0 + 21, .limit = 7};
    ck_assert_int_eq(pl_storage_write_sync(f.st, purge_run, &p), 7);
    ck_assert_int_eq(pl_storage_write_sync(f.st, purge_run, &p), 7);
    ck_assert_int_eq(pl_storage_write_sync(f.st, purge_run, &p), 6); /* 1..20 gone */
    ck_assert_int_eq(pl_storage_write_sync(f.st, purge_run, &p), 0);
    pl_archive_page_t pg;
    pl_archive_query_t q = {.owner = "a@x", .max = 100};
    ck_assert_int_eq(pl_archive_query(f.a, &q, &pg), 0);
    ck_assert_int_eq(pg.count, 5);
    ck_assert_int_eq(nth(&pg, 0), 21);
    pl_archive_page_deinit(&pg);
    /* The FTS rows went with them: banana was in 10 and 20 only. */
    q.fulltext = "banana";
    ck_assert_int_eq(pl_archive_query(f.a, &q, &pg), 0);
    ck_assert_int_eq(pg.count, 0);
    pl_archive_page_deinit(&pg);
    /* The other domain was untouched, until a purge of every domain. */
    pl_archive_query_t qy = {.owner = "q@y", .max = 10, .fulltext = "banana"};
    ck_assert_int_eq(pl_archive_query(f.a, &qy, &pg), 0);
    ck_assert_int_eq(pg.count, 1);
    pl_archive_page_deinit(&pg);
    purge_t all = {.domain = NULL, .before = T0 + 21, .limit = 100};
    ck_assert_int_eq(pl_storage_write_sync(f.st, purge_run, &all), 1);
    fx_close(&f);
}
END_TEST

static int file_has(const char *dir, const char *name, const char *needle)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t cap = 1 << 20, len = 0, n;
    char *buf = malloc(cap);
    while ((n = fread(buf + len, 1, cap - len, fp)) > 0)
        if ((len += n) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(fp);
    int found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static int64_t count_of(fixture_t *f, const char *text)
{
    pl_archive_query_t q = {.owner = "a@x", .max = 0, .fulltext = text};
    pl_archive_page_t p;
    int rc = pl_archive_query(f->a, &q, &p);
    int64_t n = rc == 0 ? p.count : rc;
    pl_archive_page_deinit(&p);
    return n;
}

/* Encryption at rest: with a key ring the stanza is sealed and the index
 * holds keyed tokens, not words; whole-word search still works, also for
 * records indexed before a key rotation; without the key nothing reads. */
START_TEST(a_sealed_archive_is_searchable_and_unreadable_without_its_key)
{
    fixture_t f;
    ut_tmpdir_new(f.dir, "archive");
    char keyfile[96], *err = NULL;
    snprintf(keyfile, sizeof(keyfile), "%s.keys", f.dir);
    ck_assert_int_eq(pl_seal_generate(keyfile, NULL, &err), 0);
    pl_seal_t *ring = NULL;
    ck_assert_int_eq(pl_seal_load(keyfile, &ring, &err), 0);
    pl_storage_opts_t o = {.dir = f.dir};
    ck_assert_int_eq(pl_storage_open(&f.st, &o, &err), 0);
    pl_storage_set_seal(f.st, ring);
    ck_assert_int_eq(pl_archive_open(f.st, &f.a), 0);
    put_t pt = {.owner = "a@x", .key = T0 + 1, .peer = "b@x",
                .body = "The Rendezvous is at noon"};
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &pt), 1);
    pl_archive_query_t q = {.owner = "a@x", .max = 10};
    pl_archive_page_t p;
    ck_assert_int_eq(pl_archive_query(f.a, &q, &p), 0);
    ck_assert_uint_eq(p.n, 1);
    ck_assert_str_eq(p.items[0].stanza, "<message xmlns='jabber:client' n='1700000000000001'/>");
    pl_archive_page_deinit(&p);
    ck_assert_int_eq(count_of(&f, "rendezvous"), 1);
    ck_assert_int_eq(count_of(&f, "NOON rendezvous"), 1);
    ck_assert_int_eq(count_of(&f, "midnight"), 0);
    /* The words are not in the files (the stanza here has none; the body
     * went only to the index). */
    ck_assert(!file_has(f.dir, "history.db", "Rendezvous") &&
              !file_has(f.dir, "history.db-wal", "Rendezvous") &&
              !file_has(f.dir, "history.db-wal", "rendezvous"));
    /* Rotation: a second key; old records are still found and read. */
    pl_archive_close(&f.a);
    ck_assert_int_eq(pl_seal_generate(keyfile, NULL, &err), 0);
    pl_seal_t *ring2 = NULL;
    ck_assert_int_eq(pl_seal_load(keyfile, &ring2, &err), 0);
    pl_storage_set_seal(f.st, ring2);
    ck_assert_int_eq(pl_archive_open(f.st, &f.a), 0);
    pt.key = T0 + 2;
    pt.body = "rendezvous moved to the harbour";
    ck_assert_int_eq(pl_storage_write_sync(f.st, put_run, &pt), 1);
    ck_assert_int_eq(count_of(&f, "rendezvous"), 2);
    ck_assert_int_eq(count_of(&f, "harbour"), 1);
    /* Without any key: the rows are there, their content is not. */
    pl_archive_close(&f.a);
    pl_storage_set_seal(f.st, NULL);
    ck_assert_int_eq(pl_archive_open(f.st, &f.a), 0);
    q.max = 10;
    ck_assert_int_lt(pl_archive_query(f.a, &q, &p), 0);
    pl_seal_free(&ring);
    pl_seal_free(&ring2);
    remove(keyfile);
    fx_close(&f);
}
END_TEST

Suite *archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("archive");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, a_message_archived_twice_is_stored_and_indexed_once);
    tcase_add_test(tc, groupchat_rows_are_left_out_unless_asked_for);
    tcase_add_test(tc, pages_forward_and_backward_give_every_message_once_in_order);
    tcase_add_test(tc, filters_narrow_the_results_and_unknown_cursors_are_refused);
    tcase_add_test(tc, fulltext_search_finds_whole_words_folded_and_prefixes);
    tcase_add_test(tc, a_sealed_archive_is_searchable_and_unreadable_without_its_key);
    tcase_add_test(tc, search_text_becomes_quoted_terms_within_bounds);
    tcase_add_test(tc, retention_purges_old_messages_and_their_index_in_batches);
    suite_add_tcase(s, tc);
    return s;
}
