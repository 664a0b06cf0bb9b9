/* lmdb.c — the hot half of the storage: one LMDB environment in <dir>/hot,
 * its schema version and migrations (meta database), and the named key-value
 * stores that modules use (pl_kv_*). */
#include "storage/lmdb/lmdb-private.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

#define META_DB "meta"
#define ACCOUNTS_DB "accounts"
#define SCHEMA_KEY "schema_version"
#define STORE_NAME_MAX 128

int pl_lmdb_errno(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_PAGE_FULL:
        return -ENOSPC;
    case MDB_DBS_FULL:
    case MDB_READERS_FULL:
    case MDB_TLS_FULL:
        return -EMFILE;
    case MDB_BAD_VALSIZE:
    case MDB_BAD_DBI:
    case MDB_INCOMPATIBLE:
        return -EINVAL;
    case MDB_MAP_RESIZED:
        return -EAGAIN;
    case MDB_NOTFOUND:
        return -ENOENT;
    default:
        /* Positive values are errno values from the system. */
        return rc > 0 ? -rc : -EIO;
    }
}

/* ---- environment ---- */

int pl_lmdb_env_open(pl_storage_t *st, const char *path, size_t map_size, char **error)
{
    MDB_env *env = NULL;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return pl_storage_fail(error, pl_lmdb_errno(rc), "cannot create LMDB environment: %s",
                               mdb_strerror(rc));
    /* Every reader is a short transaction, but loops, the storage thread and
     * a parleyctl next to the server may all read at once. */
    if ((rc = mdb_env_set_mapsize(env, map_size)) != 0 ||
        (rc = mdb_env_set_maxdbs(env, PL_STORAGE_MAX_DBS)) != 0 ||
        (rc = mdb_env_set_maxreaders(env, 256)) != 0) {
        mdb_env_close(env);
        return pl_storage_fail(error, pl_lmdb_errno(rc), "cannot configure LMDB environment %s: %s",
                               path, mdb_strerror(rc));
    }
    /* MDB_NOTLS: read transactions are not bound to a thread, so any loop
     * can read while the storage thread writes.  No MDB_NOSYNC/NOMETASYNC:
     * a commit returns after fsync, which is what lets the server acknowledge
     * a stanza once its batch has committed.  The lock file keeps working
     * across processes (parleyctl beside parleyd). */
    rc = mdb_env_open(env, path, MDB_NOTLS, 0600);
    if (rc != 0) {
        mdb_env_close(env);
        return pl_storage_fail(error, pl_lmdb_errno(rc), "cannot open LMDB environment %s: %s",
                               path, mdb_strerror(rc));
    }
    /* Reader slots left behind by a process killed mid-read would pin old
     * pages forever; clear them now. */
    int dead = 0;
    mdb_reader_check(env, &dead);
    st->env = env;
    st->max_key = (size_t)mdb_env_get_maxkeysize(env);
    return 0;
}

void pl_lmdb_close(pl_storage_t *st)
{
    for (size_t i = 0; i < st->nkvs; i++) {
        free(st->kvs[i]->name);
        free(st->kvs[i]);
        st->kvs[i] = NULL;
    }
    st->nkvs = 0;
    if (st->env)
        mdb_env_close(st->env);
    st->env = NULL;
}

int pl_lmdb_read_begin(pl_storage_t *st, MDB_txn **out)
{
    int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, out);
    return rc ? pl_lmdb_errno(rc) : 0;
}

/* ---- schema ---- */

static const char *env_path(MDB_env *env)
{
    const char *path = NULL;
    if (mdb_env_get_path(env, &path) != 0 || !path)
        return "?";
    return path;
}

/* Each step moves the environment from version - 1 to version, inside the
 * start-up write transaction; a failure aborts the whole open. */
typedef int (*lmdb_step_fn)(pl_storage_t *st, MDB_txn *txn);

static int step_create_accounts(pl_storage_t *st, MDB_txn *txn)
{
    MDB_dbi dbi;
    return mdb_dbi_open(txn, ACCOUNTS_DB, MDB_CREATE, &dbi);
}

static const struct lmdb_migration {
    int version;
    const char *what;
    lmdb_step_fn run;
} lmdb_migrations[] = {
    {.version = 1, .what = "create the accounts database", .run = step_create_accounts},
};

int pl_lmdb_schema_read(pl_storage_t *st, MDB_txn *txn, int *version, char **error)
{
    const char *path = env_path(st->env);
    int rc = mdb_dbi_open(txn, META_DB, MDB_CREATE, &st->meta_dbi);
    if (rc != 0)
        return pl_storage_fail(error, pl_lmdb_errno(rc), "cannot open the meta database in %s: %s",
                               path, mdb_strerror(rc));
    MDB_val k = {.mv_size = strlen(SCHEMA_KEY), .mv_data = SCHEMA_KEY}, v;
    rc = mdb_get(txn, st->meta_dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *version = 0;
        return 0;
    }
    if (rc != 0)
        return pl_storage_fail(error, pl_lmdb_errno(rc), "cannot read the schema version in %s: %s",
                               path, mdb_strerror(rc));
    /* Stored as decimal text so mdb_dump shows it plainly. */
    char text[16];
    int ok = v.mv_size > 0 && v.mv_size < sizeof(text);
    if (ok) {
        memcpy(text, v.mv_data, v.mv_size);
        text[v.mv_size] = '\0';
        ok = strspn(text, "0123456789") == v.mv_size && v.mv_size <= 9;
    }
    if (!ok)
        return pl_storage_fail(error, -EIO, "corrupt schema version in the meta database of %s",
                               path);
    *version = atoi(text);
    return 0;
}

int pl_lmdb_schema_migrate(pl_storage_t *st, MDB_txn *txn, int from, char **error)
{
    const char *path = env_path(st->env);
    int rc;
    for (size_t i = 0; i < sizeof(lmdb_migrations) / sizeof(lmdb_migrations[0]); i++) {
        const struct lmdb_migration *m = &lmdb_migrations[i];
        if (m->version <= from)
            continue;
        if ((rc = m->run(st, txn)) != 0)
            return pl_storage_fail(error, pl_lmdb_errno(rc),
                                   "LMDB migration %d (%s) failed in %s: %s", m->version, m->what,
                                   path, mdb_strerror(rc));
    }
    if (from != PL_LMDB_SCHEMA_VERSION) {
        char text[16];
        int n = snprintf(text, sizeof(text), "%d", PL_LMDB_SCHEMA_VERSION);
        MDB_val k = {.mv_size = strlen(SCHEMA_KEY), .mv_data = SCHEMA_KEY};
        MDB_val v = {.mv_size = (size_t)n, .mv_data = text};
        if ((rc = mdb_put(txn, st->meta_dbi, &k, &v, 0)) != 0)
            return pl_storage_fail(error, pl_lmdb_errno(rc),
                                   "cannot record the schema version in %s: %s", path,
                                   mdb_strerror(rc));
    }
    /* Without MDB_CREATE: after the migrations it must exist. */
    if ((rc = mdb_dbi_open(txn, ACCOUNTS_DB, 0, &st->accounts_dbi)) != 0)
        return pl_storage_fail(error, pl_lmdb_errno(rc),
                               "cannot open the accounts database in %s: %s", path,
                               mdb_strerror(rc));
    st->lmdb_version = PL_LMDB_SCHEMA_VERSION;
    return 0;
}

/* ---- named stores ---- */

static pl_kv_t *kv_find(pl_storage_t *st, const char *name)
{
    for (size_t i = 0; i < st->nkvs; i++)
        if (strcmp(st->kvs[i]->name, name) == 0)
            return st->kvs[i];
    return NULL;
}

int pl_storage_kv(pl_storage_t *st, const char *name, pl_kv_t **out)
{
    *out = NULL;
    size_t len = name ? strnlen(name, STORE_NAME_MAX + 1) : 0;
    if (len == 0 || len > STORE_NAME_MAX || strcmp(name, META_DB) == 0 ||
        strcmp(name, ACCOUNTS_DB) == 0)
        return -EINVAL;

    pthread_mutex_lock(&st->kv_lock);
    *out = kv_find(st, name);
    pthread_mutex_unlock(&st->kv_lock);
    if (*out)
        return 0;

    /* Creating a named database needs a write transaction.  write_lock comes
     * first so that a job calling this gets -EDEADLK at once instead of
     * blocking a thread that waits for the batch.  Only write_lock holders
     * add handles, so the second lookup stays true while we create; kv_lock
     * is never held across LMDB's own writer lock. */
    int rc = pthread_mutex_lock(&st->write_lock);
    if (rc != 0)
        return -rc;
    pthread_mutex_lock(&st->kv_lock);
    pl_kv_t *kv = kv_find(st, name);
    pthread_mutex_unlock(&st->kv_lock);
    if (!kv && st->nkvs >= PL_STORAGE_MAX_DBS) {
        rc = MDB_DBS_FULL;
    } else if (!kv) {
        MDB_txn *txn;
        MDB_dbi dbi;
        rc = mdb_txn_begin(st->env, NULL, 0, &txn);
        if (rc == 0) {
            rc = mdb_dbi_open(txn, name, MDB_CREATE, &dbi);
            if (rc == 0)
                rc = mdb_txn_commit(txn);
            else
                mdb_txn_abort(txn);
        }
        if (rc == 0) {
            kv = pl_xcalloc(1, sizeof(*kv));
            kv->st = st;
            kv->dbi = dbi;
            kv->name = pl_xstrdup(name);
            pthread_mutex_lock(&st->kv_lock);
            st->kvs[st->nkvs++] = kv;
            pthread_mutex_unlock(&st->kv_lock);
        }
    }
    pthread_mutex_unlock(&st->write_lock);
    *out = kv;
    return kv ? 0 : pl_lmdb_errno(rc);
}

static int key_ok(const pl_kv_t *kv, size_t klen)
{
    return klen > 0 && klen <= kv->st->max_key;
}

static int kv_get_in(MDB_txn *txn, pl_kv_t *kv, const void *key, size_t klen, pl_buf_t *val)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key}, v;
    int rc = mdb_get(txn, kv->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return pl_lmdb_errno(rc);
    pl_buf_reset(val);
    pl_buf_append(val, v.mv_data, v.mv_size);
    return 1;
}

int pl_kv_get(pl_kv_t *kv, const void *key, size_t klen, pl_buf_t *val)
{
    if (!key_ok(kv, klen))
        return -EINVAL;
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    rc = kv_get_in(txn, kv, key, klen, val);
    mdb_txn_abort(txn);
    return rc;
}

int pl_kv_txn_get(pl_wtxn_t *txn, pl_kv_t *kv, const void *key, size_t klen, pl_buf_t *val)
{
    if (txn->st != kv->st || !key_ok(kv, klen))
        return -EINVAL;
    return kv_get_in(txn->txn, kv, key, klen, val);
}

int pl_kv_put(pl_wtxn_t *txn, pl_kv_t *kv, const void *key, size_t klen, const void *val,
              size_t vlen)
{
    if (txn->st != kv->st || !key_ok(kv, klen))
        return -EINVAL;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    return pl_lmdb_errno(mdb_put(txn->txn, kv->dbi, &k, &v, 0));
}

int pl_kv_del(pl_wtxn_t *txn, pl_kv_t *kv, const void *key, size_t klen)
{
    if (txn->st != kv->st || !key_ok(kv, klen))
        return -EINVAL;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_del(txn->txn, kv->dbi, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? pl_lmdb_errno(rc) : 1;
}

long pl_kv_del_prefix(pl_wtxn_t *txn, pl_kv_t *kv, const void *prefix, size_t plen)
{
    if (txn->st != kv->st || plen == 0)
        return -EINVAL;
    if (plen > kv->st->max_key)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn->txn, kv->dbi, &cur);
    if (rc != 0)
        return pl_lmdb_errno(rc);
    long n = 0;
    /* Each round seeks the prefix again and deletes the first key found, so
     * the cursor never steps over a deletion. */
    for (;;) {
        MDB_val k = {.mv_size = plen, .mv_data = (void *)prefix}, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc != 0 || k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return pl_lmdb_errno(rc);
    return n;
}

long pl_storage_forget_account(pl_wtxn_t *txn, const char *bare)
{
    pl_storage_t *st = txn->st;
    size_t blen = bare ? strlen(bare) : 0;
    if (blen == 0)
        return -EINVAL;
    if (blen + 1 > st->max_key)
        return 0; /* could never have been a key (nor an account) */
    pl_kv_t *kvs[PL_STORAGE_MAX_DBS];
    pthread_mutex_lock(&st->kv_lock);
    size_t nkvs = st->nkvs;
    memcpy(kvs, st->kvs, nkvs * sizeof(kvs[0]));
    pthread_mutex_unlock(&st->kv_lock);
    char *prefix = pl_xmalloc(blen + 1);
    memcpy(prefix, bare, blen + 1); /* the JID and its '\0' */
    long total = 0;
    for (size_t i = 0; i < nkvs && total >= 0; i++) {
        int one = pl_kv_del(txn, kvs[i], bare, blen);
        long many = one < 0 ? one : pl_kv_del_prefix(txn, kvs[i], prefix, blen + 1);
        total = many < 0 ? many : total + one + many;
    }
    free(prefix);
    return total;
}

pl_kv_t *pl_lmdb_kv_lookup(pl_storage_t *st, const char *name)
{
    pthread_mutex_lock(&st->kv_lock);
    pl_kv_t *kv = kv_find(st, name);
    pthread_mutex_unlock(&st->kv_lock);
    return kv;
}

int pl_lmdb_open_existing(pl_storage_t *st)
{
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(st, &txn);
    if (rc != 0)
        return rc;
    MDB_dbi main;
    MDB_cursor *cur = NULL;
    rc = mdb_dbi_open(txn, NULL, 0, &main);
    if (rc == 0)
        rc = mdb_cursor_open(txn, main, &cur);
    /* Names first, opened after the read transaction ends (opening takes a
     * write transaction). */
    char *names[PL_STORAGE_MAX_DBS];
    size_t n = 0;
    MDB_val k, v;
    for (int op = MDB_FIRST; rc == 0 && n < PL_STORAGE_MAX_DBS; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(cur, &k, &v, op)) != 0)
            break;
        if (k.mv_size == 0 || k.mv_size > STORE_NAME_MAX || memchr(k.mv_data, '\0', k.mv_size))
            continue;
        names[n++] = pl_xstrndup(k.mv_data, k.mv_size);
    }
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    for (size_t i = 0; i < n; i++) {
        pl_kv_t *kv;
        if (strcmp(names[i], META_DB) != 0 && strcmp(names[i], ACCOUNTS_DB) != 0)
            (void)pl_storage_kv(st, names[i], &kv); /* a name that is no store is skipped */
        free(names[i]);
    }
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : pl_lmdb_errno(rc);
}

long pl_lmdb_scan_prefix(MDB_txn *txn, pl_kv_t *kv, const void *prefix, size_t plen,
                         pl_lmdb_scan_fn fn, void *ud)
{
    /* No key is longer than max_key, so a longer prefix matches nothing (and
     * LMDB would refuse it as a cursor position). */
    if (plen > kv->st->max_key)
        return 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, kv->dbi, &cur);
    if (rc != 0)
        return pl_lmdb_errno(rc);
    MDB_val k = {.mv_size = plen, .mv_data = (void *)prefix}, v;
    long n = 0;
    int stop = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
            break;
        n++;
        if ((stop = fn(ud, cur, &k, &v)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (stop < 0)
        return stop; /* fn's status, kept apart from LMDB's codes */
    if (rc != 0 && rc != MDB_NOTFOUND)
        return pl_lmdb_errno(rc);
    return n;
}

typedef struct kv_visit {
    pl_kv_visit_fn fn;
    void *ud;
} kv_visit_t;

static int kv_visit(void *ud, MDB_cursor *cur, const MDB_val *k, const MDB_val *v)
{
    (void)cur;
    kv_visit_t *c = ud;
    return c->fn(c->ud, k->mv_data, k->mv_size, v->mv_data, v->mv_size) != 0;
}

int pl_kv_scan(pl_kv_t *kv, const void *prefix, size_t plen, pl_kv_visit_fn fn, void *ud)
{
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    kv_visit_t c = {.fn = fn, .ud = ud};
    long n = pl_lmdb_scan_prefix(txn, kv, prefix, plen, kv_visit, &c);
    mdb_txn_abort(txn);
    return (int)n;
}

int pl_kv_txn_scan(pl_wtxn_t *txn, pl_kv_t *kv, const void *prefix, size_t plen, pl_kv_visit_fn fn,
                   void *ud)
{
    if (txn->st != kv->st)
        return -EINVAL;
    kv_visit_t c = {.fn = fn, .ud = ud};
    return (int)pl_lmdb_scan_prefix(txn->txn, kv, prefix, plen, kv_visit, &c);
}
