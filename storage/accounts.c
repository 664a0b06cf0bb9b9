/* accounts.c — the accounts repository: bare JID -> a versioned binary record
 * holding flags, creation time and the SCRAM keys for SHA-1 and SHA-256
 * (never a password), in the LMDB database "accounts". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storage/lmdb/lmdb-private.h"

/* Record version 1, integers little-endian:
 *   u8  version = 1
 *   u32 flags
 *   i64 created (unix seconds)
 *   then for SHA-1 and for SHA-256:
 *     u8  salt length (0..PL_SCRAM_SALT_LEN; 0 = no keys for this hash)
 *     salt bytes
 *     u32 iterations
 *     stored key, server key (the hash's length each: 20, 32)
 * A reader refuses anything that does not add up exactly: an unknown
 * version, a salt longer than the struct holds, short or trailing bytes. */
#define RECORD_V1 1
#define RECORD_MAX (1 + 4 + 8 + 2 * (1 + PL_SCRAM_SALT_LEN + 4 + 2 * PL_SCRAM_MAX_HASH))

typedef struct writer {
    uint8_t *p;
} writer_t;

typedef struct reader {
    const uint8_t *p, *end;
} reader_t;

static void put_bytes(writer_t *w, const void *data, size_t n)
{
    memcpy(w->p, data, n);
    w->p += n;
}

static void put_uint(writer_t *w, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *w->p++ = (uint8_t)(v >> (8 * i));
}

static int get_bytes(reader_t *r, void *out, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    memcpy(out, r->p, n);
    r->p += n;
    return 0;
}

static int get_uint(reader_t *r, uint64_t *v, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return 0;
}

static void put_keys(writer_t *w, pl_scram_hash_t h, const pl_scram_keys_t *k)
{
    size_t hl = pl_scram_hash_len(h);
    put_uint(w, k->salt_len, 1);
    put_bytes(w, k->salt, k->salt_len);
    put_uint(w, k->iterations, 4);
    put_bytes(w, k->stored_key, hl);
    put_bytes(w, k->server_key, hl);
}

static int get_keys(reader_t *r, pl_scram_hash_t h, pl_scram_keys_t *k)
{
    size_t hl = pl_scram_hash_len(h);
    uint64_t salt_len, iterations;
    if (get_uint(r, &salt_len, 1) != 0 || salt_len > PL_SCRAM_SALT_LEN)
        return -1;
    k->salt_len = (size_t)salt_len;
    if (get_bytes(r, k->salt, k->salt_len) != 0 || get_uint(r, &iterations, 4) != 0 ||
        get_bytes(r, k->stored_key, hl) != 0 || get_bytes(r, k->server_key, hl) != 0)
        return -1;
    k->iterations = (uint32_t)iterations;
    return 0;
}

static size_t record_encode(const pl_account_t *acc, uint8_t *buf)
{
    writer_t w = {.p = buf};
    put_uint(&w, RECORD_V1, 1);
    put_uint(&w, acc->flags, 4);
    put_uint(&w, (uint64_t)acc->created, 8);
    put_keys(&w, PL_SCRAM_SHA1, &acc->sha1);
    put_keys(&w, PL_SCRAM_SHA256, &acc->sha256);
    return (size_t)(w.p - buf);
}

/* Fills everything but the JID.  0, or -EBADMSG for a record we cannot
 * trust (the output is then zeroed). */
static int record_decode(const void *data, size_t len, pl_account_t *acc)
{
    reader_t r = {.p = data, .end = (const uint8_t *)data + len};
    uint64_t version, flags, created;
    acc->flags = 0;
    acc->created = 0;
    memset(&acc->sha1, 0, sizeof(acc->sha1));
    memset(&acc->sha256, 0, sizeof(acc->sha256));
    if (get_uint(&r, &version, 1) == 0 && version == RECORD_V1 && get_uint(&r, &flags, 4) == 0 &&
        get_uint(&r, &created, 8) == 0 && get_keys(&r, PL_SCRAM_SHA1, &acc->sha1) == 0 &&
        get_keys(&r, PL_SCRAM_SHA256, &acc->sha256) == 0 && r.p == r.end) {
        acc->flags = (uint32_t)flags;
        acc->created = (int64_t)created;
        return 0;
    }
    memset(&acc->sha1, 0, sizeof(acc->sha1));
    memset(&acc->sha256, 0, sizeof(acc->sha256));
    return -EBADMSG;
}

/* A JID usable as a key: non-empty, and within LMDB's key limit (511 bytes
 * in stock builds — shorter than the 3071 bytes RFC 7622 allows, but no
 * deployment has such JIDs, and refusing beats truncating). */
static int jid_key(pl_storage_t *st, const char *jid, size_t cap, MDB_val *key)
{
    size_t len = jid ? strnlen(jid, cap) : 0;
    if (len == 0 || len == cap)
        return -EINVAL;
    if (len > st->max_key)
        return -ENAMETOOLONG;
    key->mv_size = len;
    key->mv_data = (void *)jid;
    return 0;
}

int pl_accounts_get(pl_storage_t *st, const char *bare_jid, pl_account_t *out)
{
    MDB_val k, v;
    int rc = jid_key(st, bare_jid, sizeof(out->jid), &k);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    if ((rc = pl_lmdb_read_begin(st, &txn)) != 0)
        return rc;
    rc = mdb_get(txn, st->accounts_dbi, &k, &v);
    if (rc == 0) {
        memmove(out->jid, bare_jid, k.mv_size);
        out->jid[k.mv_size] = '\0';
        rc = record_decode(v.mv_data, v.mv_size, out) == 0 ? 1 : -EBADMSG;
    } else {
        rc = rc == MDB_NOTFOUND ? 0 : pl_lmdb_errno(rc);
    }
    mdb_txn_abort(txn);
    return rc;
}

int pl_accounts_put(pl_wtxn_t *txn, const pl_account_t *acc)
{
    MDB_val k;
    int rc = jid_key(txn->st, acc->jid, sizeof(acc->jid), &k);
    if (rc != 0)
        return rc;
    if (acc->sha1.salt_len > PL_SCRAM_SALT_LEN || acc->sha256.salt_len > PL_SCRAM_SALT_LEN)
        return -EINVAL;
    uint8_t buf[RECORD_MAX];
    MDB_val v = {.mv_size = record_encode(acc, buf), .mv_data = buf};
    return pl_lmdb_errno(mdb_put(txn->txn, txn->st->accounts_dbi, &k, &v, 0));
}

int pl_accounts_del(pl_wtxn_t *txn, const char *bare_jid)
{
    MDB_val k;
    int rc = jid_key(txn->st, bare_jid, sizeof(((pl_account_t *)0)->jid), &k);
    if (rc != 0)
        return rc;
    rc = mdb_del(txn->txn, txn->st->accounts_dbi, &k, NULL);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? pl_lmdb_errno(rc) : 1;
}

/* "user@domain" belongs to `domain`; so would a bare domain JID. */
static int in_domain(const char *jid, size_t len, const char *domain, size_t dlen)
{
    const char *at = memchr(jid, '@', len);
    const char *d = at ? at + 1 : jid;
    size_t n = len - (size_t)(d - jid);
    return n == dlen && memcmp(d, domain, dlen) == 0;
}

/* Keys are whole JIDs ordered bytewise, so one domain's accounts are not
 * contiguous: the listing walks everything and filters.  It is an admin
 * operation; a per-domain index can come when a deployment needs it.
 * Records that fail to parse are skipped here (pl_accounts_get reports
 * them), so one damaged record does not hide the others. */
int pl_accounts_list(pl_storage_t *st, const char *domain, pl_accounts_visit_fn fn, void *ud)
{
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(st, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, st->accounts_dbi, &cur)) != 0) {
        mdb_txn_abort(txn);
        return pl_lmdb_errno(rc);
    }
    pl_account_t *acc = pl_xmalloc(sizeof(*acc));
    size_t dlen = domain ? strlen(domain) : 0;
    int n = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size >= sizeof(acc->jid) || (domain && !in_domain(k.mv_data, k.mv_size, domain,
                                                                    dlen)))
            continue;
        if (record_decode(v.mv_data, v.mv_size, acc) != 0)
            continue;
        memcpy(acc->jid, k.mv_data, k.mv_size);
        acc->jid[k.mv_size] = '\0';
        n++;
        if (fn(ud, acc) != 0)
            break;
    }
    free(acc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return pl_lmdb_errno(rc);
    return n;
}
