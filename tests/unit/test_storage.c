/* test_storage.c — the storage layer against real LMDB and SQLite files in
 * temporary directories: open/migrate/refuse, the accounts and key-value
 * repositories, group commit through ports, and a second process. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "core/accounts-admin.h"
#include "storage/lmdb/lmdb-private.h"
#include "storage/storage-private.h"
#include "tests/unit/helpers.h"
#include "tests/unit/suites.h"

/* ---- helpers ---- */

/* dir + "/" + name into a 128-byte buffer. */
static const char *path_join(char *buf, const char *dir, const char *name)
{
    ck_assert_int_lt(snprintf(buf, 128, "%s/%s", dir, name), 128);
    return buf;
}

static pl_storage_t *open_opts(const char *dir, int threaded, unsigned interval, size_t map)
{
    pl_storage_opts_t o = {
        .dir = dir, .threaded = threaded, .commit_interval_ms = interval, .lmdb_map_size = map};
    char *err = NULL;
    pl_storage_t *st = NULL;
    int rc = pl_storage_open(&st, &o, &err);
    ck_assert_msg(rc == 0, "open %s: %d %s", dir, rc, err ? err : "(no message)");
    ck_assert_ptr_null(err);
    return st;
}

static pl_storage_t *open_dir(const char *dir) { return open_opts(dir, 0, 0, 0); }

/* Expects pl_storage_open to fail; returns the message (caller frees). */
static char *open_fails(const char *dir, int *rc_out)
{
    pl_storage_opts_t o = {.dir = dir};
    char *err = NULL;
    pl_storage_t *st = NULL;
    int rc = pl_storage_open(&st, &o, &err);
    ck_assert_int_lt(rc, 0);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(err);
    if (rc_out)
        *rc_out = rc;
    return err;
}

/* Reads or (with val) writes straight into an LMDB database of a closed
 * data directory, the way a damaged disk or a newer release would have left
 * it.  Returns the length read. */
static size_t raw_lmdb(const char *dir, const char *db, const char *key, const void *val,
                       size_t vlen, void *out, size_t cap)
{
    char hot[128];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    ck_assert_int_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 64);
    /* NOSYNC: test set-up, and mdb_env_close flushes anyway. */
    ck_assert_int_eq(mdb_env_open(env, path_join(hot, dir, "hot"), MDB_NOSYNC, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, val ? 0 : MDB_RDONLY, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, db, val ? MDB_CREATE : 0, &dbi), 0);
    if (val) {
        ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
        ck_assert_int_eq(mdb_txn_commit(txn), 0);
    } else {
        ck_assert_int_eq(mdb_get(txn, dbi, &k, &v), 0);
        ck_assert_uint_le(v.mv_size, cap);
        memcpy(out, v.mv_data, v.mv_size);
        mdb_txn_abort(txn);
    }
    mdb_env_close(env);
    return v.mv_size;
}

static void raw_put(const char *dir, const char *db, const char *key, const void *val, size_t vlen)
{
    raw_lmdb(dir, db, key, val, vlen, NULL, 0);
}

/* Runs SQL on history.db of a closed data directory and compares the first
 * column of the first row ("" if none) with `expect` (NULL: no check). */
static void history_sql(const char *dir, const char *sql, const char *expect)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *stmt;
    ck_assert_int_eq(sqlite3_open(path_join(path, dir, "history.db"), &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    int rc = sqlite3_step(stmt);
    ck_assert(rc == SQLITE_ROW || rc == SQLITE_DONE);
    const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(stmt, 0) : NULL;
    if (expect)
        ck_assert_str_eq(t ? (const char *)t : "", expect);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
}

/* Keys or JIDs a visitor saw, in order; it stops after stop_after if set. */
typedef struct seen {
    char items[8][64];
    int n, stop_after;
} seen_t;

static int seen_add(seen_t *s, const void *p, size_t len)
{
    ck_assert_int_lt(s->n, 8);
    ck_assert_uint_lt(len, sizeof(s->items[0]));
    memcpy(s->items[s->n], p, len);
    s->items[s->n++][len] = '\0';
    return s->stop_after && s->n >= s->stop_after;
}

static int collect_visit(void *ud, const pl_account_t *acc)
{
    return seen_add(ud, acc->jid, strlen(acc->jid));
}

static int scan_visit(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    return seen_add(ud, key, klen);
}

/* ---- write jobs used by the tests ---- */

typedef struct kv_job {
    pl_kv_t *kv;
    const char *key;
    const void *val;
    size_t vlen;
    const char *event; /* also insert an audit event of this kind */
    int result;        /* returned after the writes */
    const char *sql;   /* extra SQL to run (to misbehave) */
    int del;           /* delete `key` instead, returning pl_kv_del's result */
    /* Through a port: what `done` saw. */
    int status, calls;
    int *pending;
    pl_storage_port_t *port;
} kv_job_t;

static int kv_job_run(pl_wtxn_t *txn, void *ud)
{
    kv_job_t *j = ud;
    if (j->del)
        return pl_kv_del(txn, j->kv, j->key, strlen(j->key));
    if (j->key) {
        int rc = pl_kv_put(txn, j->kv, j->key, strlen(j->key), j->val,
                           j->vlen ? j->vlen : strlen(j->val));
        if (rc != 0)
            return rc;
    }
    if (j->event) {
        char *sql = sqlite3_mprintf("INSERT INTO events(ts, host, kind, jid, ip, detail) VALUES "
                                    "(1, 'example.org', %Q, 'a@example.org', '127.0.0.1', 'x')",
                                    j->event);
        ck_assert_int_eq(sqlite3_exec(txn->db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_free(sql);
    }
    if (j->sql)
        sqlite3_exec(txn->db, j->sql, NULL, NULL, NULL);
    return j->result;
}

static void kv_put_sync(pl_storage_t *st, pl_kv_t *kv, const char *key, const char *val)
{
    kv_job_t j = {.kv = kv, .key = key, .val = val};
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, &j), 0);
}

static int acc_put_run(pl_wtxn_t *txn, void *ud) { return pl_accounts_put(txn, ud); }
static int acc_del_run(pl_wtxn_t *txn, void *ud) { return pl_accounts_del(txn, ud); }

static void acc_put(pl_storage_t *st, const char *jid)
{
    pl_account_t acc = {.created = 1732291200};
    snprintf(acc.jid, sizeof(acc.jid), "%s", jid);
    ck_assert_int_eq(pl_storage_write_sync(st, acc_put_run, &acc), 0);
}

static int kv_has(pl_kv_t *kv, const char *key, const char *val)
{
    pl_buf_t b;
    pl_buf_init(&b);
    int rc = pl_kv_get(kv, key, strlen(key), &b);
    ck_assert_int_ge(rc, 0);
    if (rc == 1 && val)
        ck_assert_str_eq(pl_buf_cstr(&b), val);
    pl_buf_deinit(&b);
    return rc;
}

/* ---- open, close, errors, schema ---- */

START_TEST(opening_creates_owner_only_data_that_a_reopen_finds)
{
    char tmp[64], dir[128], path[128];
    ut_tmpdir_new(tmp, "storage");
    path_join(dir, tmp, "data");
    pl_storage_t *st = open_dir(dir);
    struct stat sb;
    ck_assert_int_eq(stat(dir, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0700);
    ck_assert_int_eq(stat(path_join(path, dir, "hot"), &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    ck_assert_int_eq(stat(path_join(path, dir, "history.db"), &sb), 0);
    int lv = -1, sv = -1;
    pl_storage_schema_versions(st, &lv, &sv);
    ck_assert_int_eq(lv, PL_LMDB_SCHEMA_VERSION);
    ck_assert_int_eq(sv, PL_SQLITE_SCHEMA_VERSION);

    pl_kv_t *kv, *again;
    ck_assert_int_eq(pl_storage_kv(st, "roster", &kv), 0);
    ck_assert_int_eq(pl_storage_kv(st, "roster", &again), 0);
    ck_assert_ptr_eq(kv, again);
    ck_assert_int_eq(pl_storage_kv(st, "accounts", &again), -EINVAL);
    ck_assert_int_eq(pl_storage_kv(st, "meta", &again), -EINVAL);
    ck_assert_int_eq(pl_storage_kv(st, "", &again), -EINVAL);
    kv_put_sync(st, kv, "alice@example.org", "ver-1");
    acc_put(st, "alice@example.org");
    kv_job_t ev = {.event = "login"};
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, &ev), 0);
    pl_storage_close(&st);
    ck_assert_ptr_null(st);
    pl_storage_close(&st); /* closing NULL is a no-op */

    st = open_dir(dir);
    ck_assert_int_eq(pl_storage_kv(st, "roster", &kv), 0);
    ck_assert_int_eq(kv_has(kv, "alice@example.org", "ver-1"), 1);
    pl_account_t acc;
    ck_assert_int_eq(pl_accounts_get(st, "alice@example.org", &acc), 1);
    ck_assert_str_eq(acc.jid, "alice@example.org");
    ck_assert_int_eq(acc.created, 1732291200);
    pl_storage_close(&st);
    history_sql(dir, "SELECT count(*) FROM events WHERE kind = 'login'", "1");
    history_sql(dir, "PRAGMA journal_mode", "wal");
    ut_tmpdir_free(tmp);
}
END_TEST

START_TEST(a_data_directory_that_cannot_be_opened_is_reported_with_its_path)
{
    char tmp[64], file[128], below[128], dir[128], hist[128];
    ut_tmpdir_new(tmp, "storage");
    int fd = open(path_join(file, tmp, "file"), O_CREAT | O_WRONLY, 0600);
    ck_assert_int_ge(fd, 0);
    close(fd);

    char *err = open_fails(path_join(below, file, "data"), NULL);
    ck_assert_msg(strstr(err, below) && strstr(err, "Not a directory"), "message: %s", err);
    free(err);
    err = open_fails(file, NULL);
    ck_assert_msg(strstr(err, file) && strstr(err, "not a directory"), "message: %s", err);
    free(err);

    /* history.db that is a directory: the SQLite half says so, with the path. */
    ck_assert_int_eq(mkdir(path_join(dir, tmp, "data"), 0700), 0);
    ck_assert_int_eq(mkdir(path_join(hist, dir, "history.db"), 0700), 0);
    err = open_fails(dir, NULL);
    ck_assert_msg(strstr(err, "SQLite") && strstr(err, hist), "message: %s", err);
    free(err);

    pl_storage_opts_t none = {.dir = NULL};
    pl_storage_t *st;
    err = NULL;
    ck_assert_int_eq(pl_storage_open(&st, &none, &err), -EINVAL);
    ck_assert_ptr_nonnull(err);
    free(err);
    ut_tmpdir_free(tmp);
}
END_TEST

START_TEST(a_newer_schema_is_refused_and_older_ones_migrate)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_storage_close(&st);
    raw_put(dir, "meta", "schema_version", "999", 3);
    int rc;
    char *err = open_fails(dir, &rc);
    ck_assert_int_eq(rc, -EPROTO);
    ck_assert_msg(strstr(err, "LMDB schema version 999") && strstr(err, "newer") &&
                      strstr(err, dir),
                  "message: %s", err);
    free(err);

    raw_put(dir, "meta", "schema_version", "x1", 2);
    err = open_fails(dir, NULL);
    ck_assert_msg(strstr(err, "corrupt schema version"), "message: %s", err);
    free(err);

    raw_put(dir, "meta", "schema_version", "1", 1);
    history_sql(dir, "PRAGMA user_version = 999", NULL);
    err = open_fails(dir, &rc);
    ck_assert_int_eq(rc, -EPROTO);
    ck_assert_msg(strstr(err, "SQLite schema version 999") && strstr(err, "history.db"),
                  "message: %s", err);
    free(err);
    history_sql(dir, "PRAGMA user_version", "999"); /* the refused open changed nothing */

    /* Older versions migrate forward, keeping the data. */
    history_sql(dir, "PRAGMA user_version = 1", NULL);
    raw_put(dir, "meta", "schema_version", "0", 1);
    st = open_dir(dir);
    acc_put(st, "keep@example.org");
    pl_storage_close(&st);
    char buf[16];
    size_t n = raw_lmdb(dir, "meta", "schema_version", NULL, 0, buf, sizeof(buf) - 1);
    buf[n] = '\0';
    ck_assert_int_eq(atoi(buf), PL_LMDB_SCHEMA_VERSION);
    ut_tmpdir_free(dir);
}
END_TEST

/* ---- accounts ---- */

START_TEST(accounts_are_added_listed_by_domain_and_deleted)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    const char *jids[] = {"bob@a.example", "alice@a.example", "carol@b.example",
                          "eve@a.example.org", "dave@b.example"};
    for (size_t i = 0; i < 5; i++)
        acc_put(st, jids[i]);

    seen_t c = {.n = 0};
    ck_assert_int_eq(pl_accounts_list(st, "a.example", collect_visit, &c), 2);
    ck_assert_str_eq(c.items[0], "alice@a.example");
    ck_assert_str_eq(c.items[1], "bob@a.example");
    c = (seen_t){.n = 0};
    ck_assert_int_eq(pl_accounts_list(st, NULL, collect_visit, &c), 5);
    ck_assert_str_eq(c.items[0], "alice@a.example");
    ck_assert_str_eq(c.items[4], "eve@a.example.org");
    c = (seen_t){.stop_after = 1};
    ck_assert_int_eq(pl_accounts_list(st, "b.example", collect_visit, &c), 1);
    ck_assert_str_eq(c.items[0], "carol@b.example");
    c = (seen_t){.n = 0};
    ck_assert_int_eq(pl_accounts_list(st, "nowhere.example", collect_visit, &c), 0);

    pl_account_t acc;
    ck_assert_int_eq(pl_storage_write_sync(st, acc_del_run, "bob@a.example"), 1);
    ck_assert_int_eq(pl_storage_write_sync(st, acc_del_run, "bob@a.example"), 0);
    ck_assert_int_eq(pl_accounts_get(st, "bob@a.example", &acc), 0);
    ck_assert_int_eq(pl_accounts_get(st, "alice@a.example", &acc), 1);
    ck_assert_int_eq(pl_accounts_get(st, "", &acc), -EINVAL);

    /* Longer than an LMDB key may be: refused, not truncated. */
    memset(&acc, 0, sizeof(acc));
    memset(acc.jid, 'x', 600);
    memcpy(acc.jid + 600, "@a.example", 11);
    ck_assert_int_eq(pl_storage_write_sync(st, acc_put_run, &acc), -ENAMETOOLONG);
    ck_assert_int_eq(pl_accounts_get(st, acc.jid, &acc), -ENAMETOOLONG);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

static void keys_eq(const pl_scram_keys_t *a, const pl_scram_keys_t *b, size_t hl)
{
    ck_assert_uint_eq(a->salt_len, b->salt_len);
    ck_assert_mem_eq(a->salt, b->salt, a->salt_len);
    ck_assert_uint_eq(a->iterations, b->iterations);
    ck_assert_mem_eq(a->stored_key, b->stored_key, hl);
    ck_assert_mem_eq(a->server_key, b->server_key, hl);
}

START_TEST(account_records_round_trip_every_field)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_account_t acc = {.flags = 0}, got;
    snprintf(acc.jid, sizeof(acc.jid), "juliet@capulet.example");
    acc.flags = PL_ACCOUNT_DISABLED | 0x80000000u;
    acc.created = -5; /* signed 64-bit survives */
    ck_assert_int_eq(pl_account_set_password(&acc, "pencil", 4096), 0);
    ck_assert_uint_eq(acc.sha1.salt_len, PL_SCRAM_SALT_LEN);
    ck_assert_uint_eq(acc.sha256.iterations, 4096);
    ck_assert_int_eq(pl_account_set_password(&acc, "pencil", 0), -EINVAL);
    ck_assert_int_eq(pl_storage_write_sync(st, acc_put_run, &acc), 0);
    ck_assert_int_eq(pl_accounts_get(st, "juliet@capulet.example", &got), 1);
    ck_assert_str_eq(got.jid, acc.jid);
    ck_assert_uint_eq(got.flags, acc.flags);
    ck_assert_int_eq(got.created, -5);
    keys_eq(&got.sha1, &acc.sha1, 20);
    keys_eq(&got.sha256, &acc.sha256, 32);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA256, &got.sha256, "pencil"), 1);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA1, &got.sha1, "pencil"), 1);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA256, &got.sha256, "pen"), 0);

    /* Hand-made keys: a short salt, and no SHA-1 keys at all. */
    memset(&acc, 0, sizeof(acc));
    snprintf(acc.jid, sizeof(acc.jid), "romeo@montague.example");
    acc.created = INT64_C(1) << 40;
    acc.sha256.salt_len = 5;
    memcpy(acc.sha256.salt, "\x00\x01\x02\x03\xff", 5);
    acc.sha256.iterations = 0xfffffffeu;
    for (int i = 0; i < 32; i++) {
        acc.sha256.stored_key[i] = (uint8_t)i;
        acc.sha256.server_key[i] = (uint8_t)(255 - i);
    }
    ck_assert_int_eq(pl_storage_write_sync(st, acc_put_run, &acc), 0);
    ck_assert_int_eq(pl_accounts_get(st, "romeo@montague.example", &got), 1);
    ck_assert_int_eq(got.created, INT64_C(1) << 40);
    keys_eq(&got.sha1, &acc.sha1, 20);
    keys_eq(&got.sha256, &acc.sha256, 32);

    acc.sha1.salt_len = PL_SCRAM_SALT_LEN + 1;
    ck_assert_int_eq(pl_storage_write_sync(st, acc_put_run, &acc), -EINVAL);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

START_TEST(corrupt_account_records_are_refused)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_account_t acc = {.flags = 0};
    snprintf(acc.jid, sizeof(acc.jid), "good@x");
    ck_assert_int_eq(pl_account_set_password(&acc, "secret", 4096), 0);
    ck_assert_int_eq(pl_storage_write_sync(st, acc_put_run, &acc), 0);
    pl_storage_close(&st);

    uint8_t good[256], bad[300];
    size_t len = raw_lmdb(dir, "accounts", "good@x", NULL, 0, good, sizeof(good));
    ck_assert_uint_eq(len, 1 + 4 + 8 + (1 + 16 + 4 + 40) + (1 + 16 + 4 + 64));
    char key[32];
    /* Every truncation, including the empty record. */
    for (size_t n = 0; n < len; n++) {
        snprintf(key, sizeof(key), "short%03zu@x", n);
        raw_put(dir, "accounts", key, good, n);
    }
    memcpy(bad, good, len);
    bad[len] = 0;
    raw_put(dir, "accounts", "trailing@x", bad, len + 1);
    bad[0] = 2;
    raw_put(dir, "accounts", "version@x", bad, len);
    memcpy(bad, good, len);
    bad[13] = PL_SCRAM_SALT_LEN + 1; /* SHA-1 salt length */
    raw_put(dir, "accounts", "salt@x", bad, len);
    memcpy(bad, good, len);
    bad[13 + 1 + 16 + 4 + 40] = 255; /* SHA-256 salt length */
    raw_put(dir, "accounts", "salt2@x", bad, len);

    st = open_dir(dir);
    for (size_t n = 0; n < len; n++) {
        snprintf(key, sizeof(key), "short%03zu@x", n);
        ck_assert_int_eq(pl_accounts_get(st, key, &acc), -EBADMSG);
    }
    ck_assert_int_eq(pl_accounts_get(st, "trailing@x", &acc), -EBADMSG);
    ck_assert_int_eq(pl_accounts_get(st, "version@x", &acc), -EBADMSG);
    ck_assert_int_eq(pl_accounts_get(st, "salt@x", &acc), -EBADMSG);
    ck_assert_int_eq(pl_accounts_get(st, "salt2@x", &acc), -EBADMSG);
    ck_assert_int_eq(pl_accounts_get(st, "good@x", &acc), 1);
    seen_t c = {.n = 0};
    ck_assert_int_eq(pl_accounts_list(st, "x", collect_visit, &c), 1);
    ck_assert_str_eq(c.items[0], "good@x");
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

/* ---- key-value stores ---- */

/* Read-modify-write inside one job: the job sees its own put. */
static int txn_get_run(pl_wtxn_t *txn, void *ud)
{
    pl_kv_t *kv = ud;
    pl_buf_t b;
    pl_buf_init(&b);
    ck_assert_int_eq(pl_kv_put(txn, kv, "rmw", 3, "1", 1), 0);
    ck_assert_int_eq(pl_kv_txn_get(txn, kv, "rmw", 3, &b), 1);
    ck_assert_int_eq(pl_kv_get(kv, "rmw", 3, &b), 0); /* not committed yet */
    pl_buf_deinit(&b);
    return 0;
}

START_TEST(key_value_stores_get_put_and_delete_binary_values)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_kv_t *kv, *other;
    ck_assert_int_eq(pl_storage_kv(st, "offline", &kv), 0);
    ck_assert_int_eq(pl_storage_kv(st, "other", &other), 0);
    const char *keys[] = {"a/2", "b/1", "a/1", "ab", "a/3"};
    for (size_t i = 0; i < 5; i++)
        kv_put_sync(st, kv, keys[i], keys[i]);
    kv_put_sync(st, other, "a/9", "elsewhere");

    seen_t s = {.n = 0};
    ck_assert_int_eq(pl_kv_scan(kv, "a/", 2, scan_visit, &s), 3);
    ck_assert_str_eq(s.items[0], "a/1");
    ck_assert_str_eq(s.items[2], "a/3");
    s = (seen_t){.stop_after = 2};
    ck_assert_int_eq(pl_kv_scan(kv, "a", 1, scan_visit, &s), 2);
    s = (seen_t){.n = 0};
    ck_assert_int_eq(pl_kv_scan(kv, NULL, 0, scan_visit, &s), 5);
    ck_assert_str_eq(s.items[4], "b/1");
    s = (seen_t){.n = 0};
    ck_assert_int_eq(pl_kv_scan(kv, "zz", 2, scan_visit, &s), 0);

    ck_assert_int_eq(kv_has(kv, "a/2", "a/2"), 1);
    ck_assert_int_eq(kv_has(kv, "a/9", NULL), 0);
    kv_job_t j = {.kv = kv, .key = "a/2", .del = 1};
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, &j), 1);
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, &j), 0);
    ck_assert_int_eq(kv_has(kv, "a/2", NULL), 0);

    /* Binary values with NULs; a replaced value; a buffer that had data. */
    kv_job_t bin = {.kv = kv, .key = "bin", .val = "x\0y\0", .vlen = 4};
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, &bin), 0);
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, "old contents");
    ck_assert_int_eq(pl_kv_get(kv, "bin", 3, &b), 1);
    ck_assert_uint_eq(b.len, 4);
    ck_assert_mem_eq(b.data, "x\0y\0", 4);
    kv_put_sync(st, kv, "bin", "z");
    ck_assert_int_eq(pl_kv_get(kv, "bin", 3, &b), 1);
    ck_assert_uint_eq(b.len, 1);

    /* Keys LMDB cannot hold. */
    char big[600];
    memset(big, 'k', sizeof(big));
    ck_assert_int_eq(pl_kv_get(kv, big, sizeof(big), &b), -EINVAL);
    ck_assert_int_eq(pl_kv_get(kv, "", 0, &b), -EINVAL);
    s = (seen_t){.n = 0};
    ck_assert_int_eq(pl_kv_scan(kv, big, sizeof(big), scan_visit, &s), 0);
    kv_job_t empty = {.kv = kv, .key = "", .val = "v"};
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, &empty), -EINVAL);
    pl_buf_deinit(&b);

    ck_assert_int_eq(pl_storage_write_sync(st, txn_get_run, kv), 0);
    ck_assert_int_eq(kv_has(kv, "rmw", "1"), 1);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

/* ---- the repositories' prefix scan (pl_lmdb_scan_prefix) ---- */

/* Records what a scan visits, as "key=value" with NULs shown as '|'; stops
 * at `stop_at` (1-based) with `stop_with`, deletes the keys in `del`. */
typedef struct scan_log {
    char seen[8][32];
    int n, stop_at, stop_with;
    const char *del;
} scan_log_t;

static int scan_log_visit(void *ud, MDB_cursor *cur, const MDB_val *k, const MDB_val *v)
{
    scan_log_t *l = ud;
    ck_assert_int_lt(l->n, 8);
    char *out = l->seen[l->n++];
    size_t n = 0;
    for (size_t i = 0; i < k->mv_size && n < 20; i++)
        out[n++] = ((const char *)k->mv_data)[i] ? ((const char *)k->mv_data)[i] : '|';
    snprintf(out + n, 32 - n, "=%.*s", (int)v->mv_size, (const char *)v->mv_data);
    if (l->del && strstr(l->del, out))
        ck_assert_int_eq(mdb_cursor_del(cur, 0), 0);
    return l->n == l->stop_at ? l->stop_with : 0;
}

typedef struct scan_job {
    pl_kv_t *kv;
    const char *prefix;
    size_t plen;
    scan_log_t log;
    long result;
} scan_job_t;

static int put_scan_keys_run(pl_wtxn_t *txn, void *ud)
{
    /* A user's records are keyed user '\0' id: a prefix with its NUL must
     * not reach "ab", "abc" or another user's keys. */
    static const struct {
        const char *k;
        size_t len;
    } keys[] = {{"a", 1}, {"ab\0x", 4}, {"ab\0z", 4}, {"ab\0y", 4}, {"abc", 3}, {"b", 1}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        int rc = pl_kv_put(txn, ud, keys[i].k, keys[i].len, "v", 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int scan_run(pl_wtxn_t *txn, void *ud)
{
    scan_job_t *j = ud;
    j->result = pl_lmdb_scan_prefix(txn->txn, j->kv, j->prefix, j->plen, scan_log_visit, &j->log);
    return 0;
}

/* A new storage in dir with the store "things" holding the keys above. */
static pl_kv_t *scan_store(char *dir, pl_storage_t **st)
{
    ut_tmpdir_new(dir, "storage");
    *st = open_dir(dir);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(*st, "things", &kv), 0);
    ck_assert_int_eq(pl_storage_write_sync(*st, put_scan_keys_run, kv), 0);
    return kv;
}

/* Scans in a read transaction, as the repositories' readers do. */
static long scan_read(pl_kv_t *kv, const void *prefix, size_t plen, scan_log_t *log)
{
    MDB_txn *txn;
    ck_assert_int_eq(pl_lmdb_read_begin(kv->st, &txn), 0);
    long n = pl_lmdb_scan_prefix(txn, kv, prefix, plen, scan_log_visit, log);
    mdb_txn_abort(txn);
    return n;
}

START_TEST(a_prefix_scan_visits_exactly_the_keys_that_start_with_the_prefix_in_key_order)
{
    char dir[64];
    pl_storage_t *st;
    pl_kv_t *kv = scan_store(dir, &st), *other;
    ck_assert_int_eq(pl_storage_kv(st, "other", &other), 0);
    kv_put_sync(st, other, "ab", "elsewhere");

    scan_log_t l = {0};
    ck_assert_int_eq(scan_read(kv, "ab\0", 3, &l), 3);
    ck_assert_str_eq(l.seen[0], "ab|x=v");
    ck_assert_str_eq(l.seen[1], "ab|y=v");
    ck_assert_str_eq(l.seen[2], "ab|z=v");
    l = (scan_log_t){0};
    ck_assert_int_eq(scan_read(kv, "ab", 2, &l), 4);
    ck_assert_str_eq(l.seen[3], "abc=v");
    /* An empty prefix is every record of this store, and only of it. */
    l = (scan_log_t){0};
    ck_assert_int_eq(scan_read(kv, NULL, 0, &l), 6);
    ck_assert_str_eq(l.seen[0], "a=v");
    ck_assert_str_eq(l.seen[5], "b=v");
    l = (scan_log_t){0};
    ck_assert_int_eq(scan_read(kv, "c", 1, &l), 0);
    ck_assert_int_eq(scan_read(kv, "aa", 2, &l), 0);
    /* Longer than any key LMDB holds: nothing, not an error. */
    char big[600];
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(scan_read(kv, big, sizeof(big), &l), 0);
    ck_assert_int_eq(l.n, 0);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

START_TEST(a_prefix_scan_stops_where_the_visitor_says_and_passes_on_its_error)
{
    char dir[64];
    pl_storage_t *st;
    pl_kv_t *kv = scan_store(dir, &st);
    scan_log_t l = {.stop_at = 2, .stop_with = 1};
    ck_assert_int_eq(scan_read(kv, "ab\0", 3, &l), 2);
    ck_assert_int_eq(l.n, 2);
    l = (scan_log_t){.stop_at = 1, .stop_with = -ENOSPC};
    ck_assert_int_eq(scan_read(kv, "ab\0", 3, &l), -ENOSPC);
    ck_assert_int_eq(l.n, 1);
    /* The same inside a write job. */
    scan_job_t j = {
        .kv = kv, .prefix = "ab\0", .plen = 3, .log = {.stop_at = 2, .stop_with = -EIO}};
    ck_assert_int_eq(pl_storage_write_sync(st, scan_run, &j), 0);
    ck_assert_int_eq(j.result, -EIO);
    ck_assert_int_eq(j.log.n, 2);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

/* The roster drops tombstones this way: deleting the record under the
 * cursor neither skips nor repeats the next one. */
START_TEST(a_prefix_scan_lets_the_visitor_delete_the_record_it_is_on)
{
    char dir[64];
    pl_storage_t *st;
    pl_kv_t *kv = scan_store(dir, &st);
    scan_job_t j = {.kv = kv, .prefix = "ab\0", .plen = 3, .log = {.del = "ab|x=v ab|y=v"}};
    ck_assert_int_eq(pl_storage_write_sync(st, scan_run, &j), 0);
    ck_assert_int_eq(j.result, 3);
    ck_assert_str_eq(j.log.seen[0], "ab|x=v");
    ck_assert_str_eq(j.log.seen[1], "ab|y=v");
    ck_assert_str_eq(j.log.seen[2], "ab|z=v");
    scan_log_t l = {0};
    ck_assert_int_eq(scan_read(kv, "ab", 2, &l), 2);
    ck_assert_str_eq(l.seen[0], "ab|z=v");
    ck_assert_str_eq(l.seen[1], "abc=v");
    ck_assert_int_eq(kv_has(kv, "a", "v"), 1);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

/* ---- deleting by prefix, deleting an account ---- */

typedef struct prefix_job {
    pl_kv_t *kv;
    const char *prefix;
    size_t plen;
    const char *bare;
    long result;
} prefix_job_t;

static int prefix_run(pl_wtxn_t *txn, void *ud)
{
    prefix_job_t *j = ud;
    j->result = j->bare ? pl_storage_forget_account(txn, j->bare)
                        : pl_kv_del_prefix(txn, j->kv, j->prefix, j->plen);
    return j->result < 0 ? (int)j->result : 0;
}

START_TEST(deleting_a_prefix_removes_the_key_and_its_children_only)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "things", &kv), 0);
    const char *keys[] = {"a", "a/1", "a/2", "a/3", "ab", "b/1", "a/"};
    for (size_t i = 0; i < 7; i++)
        kv_put_sync(st, kv, keys[i], "v");
    prefix_job_t j = {.kv = kv, .prefix = "a/", .plen = 2};
    ck_assert_int_eq(pl_storage_write_sync(st, prefix_run, &j), 0);
    ck_assert_int_eq(j.result, 4); /* "a/" itself and its three children */
    ck_assert_int_eq(kv_has(kv, "a", "v"), 1);
    ck_assert_int_eq(kv_has(kv, "ab", "v"), 1);
    ck_assert_int_eq(kv_has(kv, "b/1", "v"), 1);
    ck_assert_int_eq(kv_has(kv, "a/2", NULL), 0);
    /* Nothing left to match; a prefix past the last key. */
    ck_assert_int_eq(pl_storage_write_sync(st, prefix_run, &j), 0);
    ck_assert_int_eq(j.result, 0);
    j = (prefix_job_t){.kv = kv, .prefix = "zz", .plen = 2};
    ck_assert_int_eq(pl_storage_write_sync(st, prefix_run, &j), 0);
    ck_assert_int_eq(j.result, 0);
    /* An empty prefix would empty the store: refused. */
    j = (prefix_job_t){.kv = kv, .prefix = "", .plen = 0};
    ck_assert_int_eq(pl_storage_write_sync(st, prefix_run, &j), -EINVAL);
    ck_assert_int_eq(kv_has(kv, "a", "v"), 1);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

static int put_bin_run(pl_wtxn_t *txn, void *ud)
{
    pl_kv_t *kv = ud;
    char key[32];
    for (int i = 0; i < 500; i++) {
        int n = snprintf(key, sizeof(key), "u@x%c%04d", 0, i);
        int rc = pl_kv_put(txn, kv, key, (size_t)n, "v", 1);
        if (rc != 0)
            return rc;
    }
    return pl_kv_put(txn, kv, "u@xy", 4, "v", 1);
}

START_TEST(deleting_a_prefix_removes_hundreds_of_keys_and_spares_the_neighbours)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "many", &kv), 0);
    ck_assert_int_eq(pl_storage_write_sync(st, put_bin_run, kv), 0);
    prefix_job_t j = {.kv = kv, .prefix = "u@x\0", .plen = 4};
    ck_assert_int_eq(pl_storage_write_sync(st, prefix_run, &j), 0);
    ck_assert_int_eq(j.result, 500);
    ck_assert_int_eq(kv_has(kv, "u@xy", "v"), 1);
    seen_t s = {.n = 0};
    ck_assert_int_eq(pl_kv_scan(kv, NULL, 0, scan_visit, &s), 1);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

static int put_pair_run(pl_wtxn_t *txn, void *ud)
{
    pl_kv_t **kvs = ud;
    static const struct {
        const char *key;
        size_t len;
    } keys[] = {
        {"alice@x", 7},          /* keyed by the bare JID alone (vCard, last) */
        {"alice@x\0n1", 10},     /* bare '\0' sub-key */
        {"alice@x\0", 8},        /* bare '\0' (a count record) */
        {"alice@xy\0n1", 11},    /* another account whose JID extends hers */
        {"bob@x\0alice@x", 13},  /* bob's record about alice stays */
        {"\x01" "alice@x", 8},   /* an index entry: not the convention */
    };
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            int rc = pl_kv_put(txn, kvs[s], keys[i].key, keys[i].len, "v", 1);
            if (rc != 0)
                return rc;
        }
    return 0;
}

static int acc_count(void *ud, const pl_account_t *acc)
{
    (*(int *)ud)++;
    return 0;
}

START_TEST(forgetting_an_account_sweeps_every_store_but_the_accounts)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_kv_t *kvs[2];
    ck_assert_int_eq(pl_storage_kv(st, "mod.one", &kvs[0]), 0);
    ck_assert_int_eq(pl_storage_kv(st, "mod.two", &kvs[1]), 0);
    ck_assert_int_eq(pl_storage_write_sync(st, put_pair_run, kvs), 0);
    acc_put(st, "alice@x");
    /* A later process that never asks for these stores still reaches
     * them: pl_storage_open opens every store that exists. */
    pl_storage_close(&st);
    st = open_dir(dir);
    prefix_job_t j = {.bare = "alice@x"};
    ck_assert_int_eq(pl_storage_write_sync(st, prefix_run, &j), 0);
    ck_assert_int_eq(j.result, 6);
    ck_assert_int_eq(pl_storage_kv(st, "mod.one", &kvs[0]), 0);
    ck_assert_int_eq(pl_storage_kv(st, "mod.two", &kvs[1]), 0);
    for (size_t s = 0; s < 2; s++) {
        seen_t seen = {.n = 0};
        ck_assert_int_eq(pl_kv_scan(kvs[s], NULL, 0, scan_visit, &seen), 3);
        pl_buf_t b;
        pl_buf_init(&b);
        ck_assert_int_eq(pl_kv_get(kvs[s], "alice@x", 7, &b), 0);
        ck_assert_int_eq(pl_kv_get(kvs[s], "alice@xy\0n1", 11, &b), 1);
        ck_assert_int_eq(pl_kv_get(kvs[s], "bob@x\0alice@x", 13, &b), 1);
        ck_assert_int_eq(pl_kv_get(kvs[s], "\x01" "alice@x", 8, &b), 1);
        pl_buf_deinit(&b);
    }
    /* The accounts record is not the sweep's business. */
    int n = 0;
    pl_accounts_list(st, NULL, acc_count, &n);
    ck_assert_int_eq(n, 1);
    j = (prefix_job_t){.bare = ""};
    ck_assert_int_eq(pl_storage_write_sync(st, prefix_run, &j), -EINVAL);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

/* ---- synchronous writes ---- */

static int reenter_run(pl_wtxn_t *txn, void *ud)
{
    pl_storage_t *st = pl_wtxn_storage(txn);
    kv_job_t *j = ud;
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, j), -EDEADLK);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "created-in-a-job", &kv), -EDEADLK);
    return 3;
}

START_TEST(a_failed_or_reentered_write_rolls_back)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_dir(dir);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "s", &kv), 0);
    kv_job_t fail = {.kv = kv, .key = "k", .val = "v", .event = "failed", .result = -EPERM};
    ck_assert_int_eq(pl_storage_write_sync(st, kv_job_run, &fail), -EPERM);
    ck_assert_int_eq(kv_has(kv, "k", NULL), 0);
    kv_job_t nested = {.kv = kv, .key = "n", .val = "v"};
    ck_assert_int_eq(pl_storage_write_sync(st, reenter_run, &nested), 3);
    ck_assert_int_eq(kv_has(kv, "n", NULL), 0);
    pl_storage_port_t *port;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ck_assert_int_eq(pl_storage_port_open(st, &loop, &port), -EINVAL);
    uv_loop_close(&loop);
    pl_storage_close(&st);
    history_sql(dir, "SELECT count(*) FROM events", "0");
    ut_tmpdir_free(dir);
}
END_TEST

/* ---- threaded: ports and group commit ---- */

static void outcome_done(void *ud, int status)
{
    kv_job_t *o = ud;
    o->status = status;
    o->calls++;
    /* Committed before done: a fresh read transaction sees the write (when
     * the storage is still open: run_batch sets `port`). */
    if (status >= 0 && o->port && o->key && !o->del)
        ck_assert_int_eq(kv_has(o->kv, o->key, NULL), 1);
    if (--*o->pending == 0 && o->port)
        pl_storage_port_close(&o->port);
}

/* Submits `n` jobs through one port on a new loop and runs the loop until
 * every `done` ran (the last one closes the port). */
static void run_batch(pl_storage_t *st, kv_job_t *jobs, int n)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    pl_storage_port_t *port;
    ck_assert_int_eq(pl_storage_port_open(st, &loop, &port), 0);
    int pending = n;
    for (int i = 0; i < n; i++) {
        jobs[i].pending = &pending;
        jobs[i].port = port;
        ck_assert_int_eq(pl_storage_write(port, kv_job_run, outcome_done, &jobs[i]), 0);
    }
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(jobs[i].calls, 1);
}

#define NWRITES 1000

START_TEST(many_writes_share_few_group_commits)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_opts(dir, 1, 2, 0);
    kv_job_t *jobs = calloc(NWRITES, sizeof(*jobs));
    char(*keys)[8] = calloc(NWRITES, sizeof(*keys));
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "many", &kv), 0);
    for (int i = 0; i < NWRITES; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%04d", i);
        jobs[i] = (kv_job_t){.kv = kv, .key = keys[i], .val = keys[i]};
    }
    run_batch(st, jobs, NWRITES);
    for (int i = 0; i < NWRITES; i++)
        ck_assert_int_eq(jobs[i].status, 0);
    pthread_mutex_lock(&st->queue->lock);
    uint64_t batches = st->queue->batches, njobs = st->queue->jobs;
    pthread_mutex_unlock(&st->queue->lock);
    ck_assert_uint_eq(njobs, NWRITES);
    ck_assert_msg(batches < NWRITES / 4, "group commit: %llu batches",
                  (unsigned long long)batches);
    pl_storage_close(&st);
    free(keys);
    free(jobs);
    ut_tmpdir_free(dir);
}
END_TEST

START_TEST(a_failing_job_rolls_back_alone_within_its_batch)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    /* A long window so that all jobs land in one batch; a small map so that a
     * big value fills it. */
    pl_storage_t *st = open_opts(dir, 1, 300, 1 << 20);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "batch", &kv), 0);
    size_t big_len = 2 << 20;
    char *big = calloc(1, big_len);
    kv_job_t jobs[4] = {
        {.kv = kv, .key = "k1", .val = "1", .event = "one"},
        {.kv = kv, .key = "k2", .val = "2", .event = "two", .result = -EPERM},
        {.kv = kv, .key = "k3", .val = "3", .event = "three", .result = 7},
        {.kv = kv, .key = "k4", .val = big, .vlen = big_len, .event = "four"},
    };
    run_batch(st, jobs, 4);
    ck_assert_int_eq(jobs[0].status, 0);
    ck_assert_int_eq(jobs[1].status, -EPERM);
    ck_assert_int_eq(jobs[2].status, 7);
    ck_assert_int_eq(jobs[3].status, -ENOSPC);
    ck_assert_int_eq(kv_has(kv, "k1", "1"), 1);
    ck_assert_int_eq(kv_has(kv, "k2", NULL), 0);
    ck_assert_int_eq(kv_has(kv, "k3", "3"), 1);
    ck_assert_int_eq(kv_has(kv, "k4", NULL), 0);
    pthread_mutex_lock(&st->queue->lock);
    ck_assert_uint_eq(st->queue->batches, 1);
    pthread_mutex_unlock(&st->queue->lock);

    /* A job that commits the batch's SQLite transaction behind our back
     * breaks the batch: every job then gets an error and LMDB keeps none. */
    kv_job_t rogue[3] = {
        {.kv = kv, .key = "r1", .val = "1"},
        {.kv = kv, .key = "r2", .val = "2", .sql = "COMMIT"},
        {.kv = kv, .key = "r3", .val = "3"},
    };
    run_batch(st, rogue, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_lt(rogue[i].status, 0);
    ck_assert_int_eq(kv_has(kv, "r1", NULL), 0);
    ck_assert_int_eq(kv_has(kv, "r3", NULL), 0);
    pthread_mutex_lock(&st->queue->lock);
    ck_assert_uint_eq(st->queue->failed_batches, 1);
    pthread_mutex_unlock(&st->queue->lock);
    pl_storage_close(&st);

    history_sql(dir, "SELECT group_concat(kind, ',') FROM (SELECT kind FROM events ORDER BY id)",
                "one,three");
    free(big);
    ut_tmpdir_free(dir);
}
END_TEST

/* Two ports on one loop.  A keeps its writes and sees them delivered after
 * pl_storage_close (which drains); B is closed with writes in flight: they
 * commit, their `done` is dropped, and the storage thread frees the port. */
START_TEST(closing_a_port_or_the_storage_still_commits_queued_writes)
{
    char dir[64], keys[10][8];
    ut_tmpdir_new(dir, "storage");
    pl_storage_t *st = open_opts(dir, 1, 50, 0);
    pl_kv_t *kv;
    ck_assert_int_eq(pl_storage_kv(st, "drain", &kv), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    pl_storage_port_t *a, *b;
    ck_assert_int_eq(pl_storage_port_open(st, &loop, &a), 0);
    ck_assert_int_eq(pl_storage_port_open(st, &loop, &b), 0);
    kv_job_t jobs[10];
    int pending_a = 5, pending_b = 5;
    for (int i = 0; i < 10; i++) {
        snprintf(keys[i], sizeof(keys[i]), "d%d", i);
        jobs[i] = (kv_job_t){
            .kv = kv, .key = keys[i], .val = "v", .pending = i < 5 ? &pending_a : &pending_b};
        ck_assert_int_eq(pl_storage_write(i < 5 ? a : b, kv_job_run, outcome_done, &jobs[i]), 0);
    }
    /* A copy of the pointer kept elsewhere meets a closing port: its jobs
     * are still queued, so the port itself is still there. */
    pl_storage_port_t *b_copy = b;
    pl_storage_port_close(&b);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(pl_storage_write(b_copy, kv_job_run, outcome_done, &jobs[0]), -EINVAL);
    uv_run(&loop, UV_RUN_NOWAIT); /* b's close callback; its jobs are still queued */

    /* Close while the jobs wait in the window: they still run and commit. */
    pl_storage_close(&st);
    ck_assert_int_eq(pl_storage_write(a, kv_job_run, outcome_done, &jobs[0]), -ESHUTDOWN);
    ck_assert_int_eq(uv_run(&loop, UV_RUN_NOWAIT), 1);
    ck_assert_int_eq(pending_a, 0);
    ck_assert_int_eq(pending_b, 5);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(jobs[i].calls, i < 5);
        ck_assert_int_eq(jobs[i].status, 0);
    }
    ck_assert_int_eq(pl_storage_write(a, kv_job_run, outcome_done, &jobs[0]), -ESHUTDOWN);
    pl_storage_port_t *a_copy = a;
    pl_storage_port_close(&a);
    pl_storage_port_close(&a_copy); /* twice is harmless */
    ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ck_assert_int_eq(uv_loop_close(&loop), 0);

    st = open_dir(dir);
    ck_assert_int_eq(pl_storage_kv(st, "drain", &kv), 0);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(kv_has(kv, keys[i], "v"), 1);
    pl_storage_close(&st);
    ut_tmpdir_free(dir);
}
END_TEST

/* ---- a second process ---- */

/* The child never touches the parent's handles: it forks before the parent
 * opens anything (LMDB and SQLite handles must not cross fork()), waits
 * until the parent has the directory open, then opens it as parleyctl
 * would. */
static int child_writer(const char *dir, int fd)
{
    char c;
    if (read(fd, &c, 1) != 1)
        return 2;
    pl_storage_opts_t o = {.dir = dir};
    pl_storage_t *st;
    char *err = NULL;
    if (pl_storage_open(&st, &o, &err) != 0)
        return 3;
    pl_account_t acc = {.jid = "child@example.org", .created = 42};
    int rc = pl_storage_write_sync(st, acc_put_run, &acc);
    kv_job_t ev = {.event = "from-child"};
    if (rc == 0)
        rc = pl_storage_write_sync(st, kv_job_run, &ev);
    pl_storage_close(&st);
    return rc == 0 ? 0 : 4;
}

START_TEST(two_processes_share_one_store)
{
    char dir[64];
    ut_tmpdir_new(dir, "storage");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[1]);
        _exit(child_writer(dir, fds[0]));
    }
    close(fds[0]);
    pl_storage_t *st = open_opts(dir, 1, 2, 0);
    pl_account_t acc;
    ck_assert_int_eq(pl_accounts_get(st, "child@example.org", &acc), 0);
    ck_assert_int_eq(write(fds[1], "g", 1), 1);
    int wstatus;
    ck_assert_int_eq(waitpid(pid, &wstatus, 0), pid);
    ck_assert(WIFEXITED(wstatus));
    ck_assert_int_eq(WEXITSTATUS(wstatus), 0);
    ck_assert_int_eq(pl_accounts_get(st, "child@example.org", &acc), 1);
    ck_assert_int_eq(acc.created, 42);
    history_sql(dir, "SELECT count(*) FROM events WHERE kind = 'from-child'", "1");
    /* The parent still writes after the child's commits. */
    acc_put(st, "parent@example.org");
    ck_assert_int_eq(pl_accounts_get(st, "parent@example.org", &acc), 1);
    pl_storage_close(&st);
    close(fds[1]);
    ut_tmpdir_free(dir);
}
END_TEST

Suite *storage_suite(void)
{
    Suite *s = suite_create("storage");
    TCase *tc = tcase_create("storage");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, opening_creates_owner_only_data_that_a_reopen_finds);
    tcase_add_test(tc, a_data_directory_that_cannot_be_opened_is_reported_with_its_path);
    tcase_add_test(tc, a_newer_schema_is_refused_and_older_ones_migrate);
    tcase_add_test(tc, accounts_are_added_listed_by_domain_and_deleted);
    tcase_add_test(tc, account_records_round_trip_every_field);
    tcase_add_test(tc, corrupt_account_records_are_refused);
    tcase_add_test(tc, key_value_stores_get_put_and_delete_binary_values);
    tcase_add_test(tc,
                   a_prefix_scan_visits_exactly_the_keys_that_start_with_the_prefix_in_key_order);
    tcase_add_test(tc, a_prefix_scan_stops_where_the_visitor_says_and_passes_on_its_error);
    tcase_add_test(tc, a_prefix_scan_lets_the_visitor_delete_the_record_it_is_on);
    tcase_add_test(tc, deleting_a_prefix_removes_the_key_and_its_children_only);
    tcase_add_test(tc, deleting_a_prefix_removes_hundreds_of_keys_and_spares_the_neighbours);
    tcase_add_test(tc, forgetting_an_account_sweeps_every_store_but_the_accounts);
    tcase_add_test(tc, a_failed_or_reentered_write_rolls_back);
    tcase_add_test(tc, many_writes_share_few_group_commits);
    tcase_add_test(tc, a_failing_job_rolls_back_alone_within_its_batch);
    tcase_add_test(tc, closing_a_port_or_the_storage_still_commits_queued_writes);
    tcase_add_test(tc, two_processes_share_one_store);
    suite_add_tcase(s, tc);
    return s;
}
