/* offline.c — the offline message repository (storage/offline.h) on the
 * LMDB store "offline": one record per message, a counter record per
 * account and a time index for the retention purge, all changed inside the
 * caller's write job so they commit together.
 *
 * Keys (a JID never starts with a control character, and ids never contain
 * one, so the three kinds never meet):
 *   user '\0' id                      message record
 *   user '\0' "\x01n"                 the account's counters
 *   "\x01" be64(stored_at) user '\0' id   time index entry (empty value) */
#include "storage/offline.h"
#include "storage/seal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storage/lmdb/lmdb-private.h"

#define OFFLINE_STORE "offline"
#define RECORD_FORMAT 1
#define COUNTER_FORMAT 1
#define COUNTER_SUFFIX "\x01n"
#define INDEX_MARK '\x01'
#define COUNTER_LEN 17

/* Payload kinds inside a record (see payload_frame). */
enum { PAYLOAD_PLAIN = 0, PAYLOAD_SEALED = 1 };

static pl_kv_t *kv_of(pl_offline_t *o)
{
    return (pl_kv_t *)o;
}

int pl_offline_open(pl_storage_t *st, pl_offline_t **out)
{
    pl_kv_t *kv;
    int rc = pl_storage_kv(st, OFFLINE_STORE, &kv);
    *out = rc == 0 ? (pl_offline_t *)kv : NULL;
    return rc;
}

/* ---- bytes ---- */

static void put_be(pl_buf_t *b, uint64_t v, int bytes)
{
    unsigned char tmp[8];
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        tmp[i] = (unsigned char)(v & 0xff);
    pl_buf_append(b, tmp, (size_t)bytes);
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- the payload seam ----
 * Everything a record carries of the message passes through the shared
 * framing of storage/seal.h: one kind byte (plain or sealed) and the
 * stanza or its sealed record.  Quotas count the encoded record. */

/* With a key ring (storage.key_file) the stanza is sealed (storage/seal.h)
 * with the context "offline" NUL user NUL id, so a record moved to another
 * account or id does not open. */
static pl_seal_frame_t payload_frame(const char *user, const char *id)
{
    return (pl_seal_frame_t){.label = "offline",
                             .owner = user,
                             .item = id,
                             .plain_tag = PAYLOAD_PLAIN,
                             .sealed_tag = PAYLOAD_SEALED};
}

/* ---- records ----
 * u8 format | be64 stored_at | payload */

static int record_encode(const pl_seal_t *ring, const char *user, const char *id,
                         int64_t stored_at, const void *stanza, size_t len, pl_buf_t *out)
{
    unsigned char format = RECORD_FORMAT;
    pl_buf_append(out, &format, 1);
    put_be(out, (uint64_t)stored_at, 8);
    pl_seal_frame_t f = payload_frame(user, id);
    return pl_seal_frame(ring, &f, stanza, len, out);
}

static int record_stored_at(const MDB_val *v, int64_t *stored_at)
{
    const unsigned char *p = v->mv_data;
    if (v->mv_size < 9 || p[0] != RECORD_FORMAT)
        return -EBADMSG;
    *stored_at = (int64_t)get_be(p + 1, 8);
    return 0;
}

/* Points *stanza and *len at the message inside the record (plain), or
 * opens it into `scratch` (sealed).  0, -EBADMSG, or -ENOKEY when it is
 * sealed and the key is not configured (any more). */
static int record_decode(const pl_seal_t *ring, const char *user, const char *id,
                         const MDB_val *v, pl_buf_t *scratch, int64_t *stored_at,
                         const char **stanza, size_t *len)
{
    /* A payload is its kind byte and a stanza, never empty. */
    if (record_stored_at(v, stored_at) != 0 || v->mv_size < 9 + 2)
        return -EBADMSG;
    pl_seal_frame_t f = payload_frame(user, id);
    const void *payload;
    int rc = pl_seal_unframe(ring, &f, (const unsigned char *)v->mv_data + 9, v->mv_size - 9,
                             scratch, &payload, len);
    *stanza = rc == 0 ? payload : NULL;
    return rc;
}

/* ---- keys ---- */

static int valid_id(const char *id)
{
    return id && *id && *id != INDEX_MARK && !strchr(id, '\x01');
}

static int record_key(pl_kv_t *kv, const char *user, const char *id, pl_buf_t *key)
{
    pl_buf_reset(key);
    pl_buf_append(key, user, strlen(user) + 1);
    pl_buf_append(key, id, strlen(id));
    return key->len <= kv->st->max_key ? 0 : -ENAMETOOLONG;
}

static int index_key(pl_kv_t *kv, int64_t stored_at, const char *user, const char *id,
                     pl_buf_t *key)
{
    pl_buf_reset(key);
    char mark = INDEX_MARK;
    pl_buf_append(key, &mark, 1);
    put_be(key, (uint64_t)(stored_at < 0 ? 0 : stored_at), 8);
    pl_buf_append(key, user, strlen(user) + 1);
    pl_buf_append(key, id, strlen(id));
    return key->len <= kv->st->max_key ? 0 : -ENAMETOOLONG;
}

static MDB_val val_of(const pl_buf_t *b)
{
    return (MDB_val){.mv_size = b->len, .mv_data = b->data};
}

/* ---- counters ---- */

static int counter_read(MDB_txn *txn, pl_kv_t *kv, const char *user, pl_offline_usage_t *u)
{
    memset(u, 0, sizeof(*u));
    pl_buf_t key;
    pl_buf_init(&key);
    int rc = record_key(kv, user, COUNTER_SUFFIX, &key);
    MDB_val k = val_of(&key), v;
    if (rc == 0) {
        int mrc = mdb_get(txn, kv->dbi, &k, &v);
        if (mrc == 0) {
            const unsigned char *p = v.mv_data;
            if (v.mv_size == COUNTER_LEN && p[0] == COUNTER_FORMAT) {
                u->messages = get_be(p + 1, 8);
                u->bytes = get_be(p + 9, 8);
            }
            /* A damaged counter reads as empty; deletes clamp at zero. */
        } else if (mrc != MDB_NOTFOUND) {
            rc = pl_lmdb_errno(mrc);
        }
    }
    pl_buf_deinit(&key);
    return rc;
}

/* Writes the counters, or removes the record once the account is empty. */
static int counter_write(MDB_txn *txn, pl_kv_t *kv, const char *user, const pl_offline_usage_t *u)
{
    pl_buf_t key, val;
    pl_buf_init(&key);
    pl_buf_init(&val);
    int rc = record_key(kv, user, COUNTER_SUFFIX, &key);
    MDB_val k = val_of(&key);
    if (rc == 0 && u->messages == 0) {
        int mrc = mdb_del(txn, kv->dbi, &k, NULL);
        rc = mrc == MDB_NOTFOUND ? 0 : pl_lmdb_errno(mrc);
    } else if (rc == 0) {
        unsigned char format = COUNTER_FORMAT;
        pl_buf_append(&val, &format, 1);
        put_be(&val, u->messages, 8);
        put_be(&val, u->bytes, 8);
        MDB_val v = val_of(&val);
        rc = pl_lmdb_errno(mdb_put(txn, kv->dbi, &k, &v, 0));
    }
    pl_buf_deinit(&key);
    pl_buf_deinit(&val);
    return rc;
}

static int same_storage(pl_wtxn_t *txn, pl_kv_t *kv)
{
    return txn && kv && txn->st == kv->st;
}

/* ---- put ---- */

int pl_offline_put(pl_wtxn_t *txn, pl_offline_t *o, const char *user, const char *id,
                   int64_t stored_at, const void *stanza, size_t len,
                   const pl_offline_quota_t *quota)
{
    pl_kv_t *kv = kv_of(o);
    if (!same_storage(txn, kv) || !user || !*user || !valid_id(id) || !stanza || len == 0)
        return -EINVAL;
    pl_buf_t key, ikey, val;
    pl_buf_init(&key);
    pl_buf_init(&ikey);
    pl_buf_init(&val);
    int rc = record_key(kv, user, id, &key);
    if (rc == 0)
        rc = index_key(kv, stored_at, user, id, &ikey);
    MDB_val k = val_of(&key), v;
    if (rc == 0) {
        int mrc = mdb_get(txn->txn, kv->dbi, &k, &v);
        if (mrc == 0)
            rc = 1; /* the same message again: already stored */
        else if (mrc != MDB_NOTFOUND)
            rc = pl_lmdb_errno(mrc);
    }
    pl_offline_usage_t u;
    if (rc == 0)
        rc = counter_read(txn->txn, kv, user, &u);
    if (rc == 0) {
        rc = record_encode(kv->st->seal, user, id, stored_at, stanza, len, &val);
    }
    if (rc == 0) {
        if (quota && ((quota->max_messages && u.messages + 1 > quota->max_messages) ||
                      (quota->max_bytes && u.bytes + val.len > quota->max_bytes)))
            rc = -EDQUOT;
    }
    if (rc == 0) {
        v = val_of(&val);
        rc = pl_lmdb_errno(mdb_put(txn->txn, kv->dbi, &k, &v, 0));
    }
    if (rc == 0) {
        MDB_val ik = val_of(&ikey), empty = {.mv_size = 0, .mv_data = ""};
        rc = pl_lmdb_errno(mdb_put(txn->txn, kv->dbi, &ik, &empty, 0));
    }
    if (rc == 0) {
        u.messages++;
        u.bytes += val.len;
        rc = counter_write(txn->txn, kv, user, &u);
    }
    pl_buf_deinit(&key);
    pl_buf_deinit(&ikey);
    pl_buf_deinit(&val);
    if (rc == 1)
        return 0;
    return rc == 0 ? 1 : rc;
}

int pl_offline_usage(pl_offline_t *o, const char *user, pl_offline_usage_t *out)
{
    pl_kv_t *kv = kv_of(o);
    memset(out, 0, sizeof(*out));
    if (!user || !*user)
        return -EINVAL;
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    rc = counter_read(txn, kv, user, out);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- list ---- */

/* Calls fn(ud, id, value) for every message record of `user`, in key
 * order; non-zero from fn stops (returned when <0).  Returns the number
 * visited or <0. */
typedef int (*scan_fn)(void *ud, const char *id, const MDB_val *v);

typedef struct user_scan {
    scan_fn fn;
    void *ud;
    size_t plen; /* the user's JID and its '\0' */
    long n;      /* message records seen */
} user_scan_t;

static int user_record(void *ud, MDB_cursor *cur, const MDB_val *k, const MDB_val *v)
{
    (void)cur;
    user_scan_t *s = ud;
    char id[512];
    size_t idlen = k->mv_size - s->plen;
    const char *raw = (const char *)k->mv_data + s->plen;
    if (idlen == 0 || idlen >= sizeof(id) || raw[0] == INDEX_MARK)
        return 0; /* the counter record */
    memcpy(id, raw, idlen);
    id[idlen] = '\0';
    s->n++;
    return s->fn(s->ud, id, v);
}

static long scan_user(MDB_txn *txn, pl_kv_t *kv, const char *user, scan_fn fn, void *ud)
{
    user_scan_t s = {.fn = fn, .ud = ud, .plen = strlen(user) + 1};
    long rc = pl_lmdb_scan_prefix(txn, kv, user, s.plen, user_record, &s);
    return rc < 0 ? rc : s.n;
}

typedef struct list_ctx {
    pl_offline_visit_fn fn;
    void *ud;
    pl_buf_t scratch;
    const pl_seal_t *ring;
    const char *user;
} list_ctx_t;

static int list_one(void *ud, const char *id, const MDB_val *v)
{
    list_ctx_t *c = ud;
    pl_offline_msg_t m = {.id = id};
    if (record_decode(c->ring, c->user, id, v, &c->scratch, &m.stored_at, &m.stanza, &m.len) != 0) {
        m.stanza = NULL;
        m.len = 0;
    }
    int stop = c->fn(c->ud, &m);
    return stop ? 1 : 0;
}

int pl_offline_list(pl_offline_t *o, const char *user, pl_offline_visit_fn fn, void *ud)
{
    pl_kv_t *kv = kv_of(o);
    if (!user || !*user || !fn)
        return -EINVAL;
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    list_ctx_t c = {.fn = fn, .ud = ud, .ring = kv->st->seal, .user = user};
    pl_buf_init(&c.scratch);
    long n = scan_user(txn, kv, user, list_one, &c);
    pl_buf_deinit(&c.scratch);
    mdb_txn_abort(txn);
    return (int)n;
}

/* ---- delete ---- */

/* Deletes one record and its index entry, adding what it held to *freed.
 * 1 deleted, 0 absent, <0 error. */
static int delete_one(MDB_txn *txn, pl_kv_t *kv, const char *user, const char *id,
                      pl_offline_usage_t *freed)
{
    if (!valid_id(id))
        return 0;
    pl_buf_t key, ikey;
    pl_buf_init(&key);
    pl_buf_init(&ikey);
    int rc = record_key(kv, user, id, &key);
    MDB_val k = val_of(&key), v;
    if (rc == 0) {
        int mrc = mdb_get(txn, kv->dbi, &k, &v);
        rc = mrc == MDB_NOTFOUND ? 0 : mrc ? pl_lmdb_errno(mrc) : 1;
    }
    if (rc == 1) {
        int64_t stored_at = 0;
        /* A damaged record still goes; its index entry (if any) is left
         * for the purge, which skips entries whose record is gone. */
        int have_time = record_stored_at(&v, &stored_at) == 0;
        freed->messages++;
        freed->bytes += v.mv_size;
        int mrc = mdb_del(txn, kv->dbi, &k, NULL);
        if (mrc != 0)
            rc = pl_lmdb_errno(mrc);
        if (rc == 1 && have_time && index_key(kv, stored_at, user, id, &ikey) == 0) {
            MDB_val ik = val_of(&ikey);
            mrc = mdb_del(txn, kv->dbi, &ik, NULL);
            if (mrc != 0 && mrc != MDB_NOTFOUND)
                rc = pl_lmdb_errno(mrc);
        }
    }
    pl_buf_deinit(&key);
    pl_buf_deinit(&ikey);
    return rc;
}

static int counter_sub(MDB_txn *txn, pl_kv_t *kv, const char *user, const pl_offline_usage_t *freed)
{
    if (freed->messages == 0)
        return 0;
    pl_offline_usage_t u;
    int rc = counter_read(txn, kv, user, &u);
    if (rc != 0)
        return rc;
    u.messages = u.messages > freed->messages ? u.messages - freed->messages : 0;
    u.bytes = u.bytes > freed->bytes && u.messages ? u.bytes - freed->bytes : 0;
    return counter_write(txn, kv, user, &u);
}

long pl_offline_delete(pl_wtxn_t *txn, pl_offline_t *o, const char *user, const char *const *ids,
                       size_t n)
{
    pl_kv_t *kv = kv_of(o);
    if (!same_storage(txn, kv) || !user || !*user || (n && !ids))
        return -EINVAL;
    pl_offline_usage_t freed = {0};
    for (size_t i = 0; i < n; i++) {
        int rc = delete_one(txn->txn, kv, user, ids[i], &freed);
        if (rc < 0)
            return rc;
    }
    int rc = counter_sub(txn->txn, kv, user, &freed);
    return rc < 0 ? rc : (long)freed.messages;
}

typedef struct ids {
    char **v;
    size_t n, cap;
} ids_t;

static void ids_add(ids_t *ids, const char *id)
{
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 32;
        ids->v = pl_xrealloc(ids->v, ids->cap * sizeof(char *));
    }
    ids->v[ids->n++] = pl_xstrdup(id);
}

static void ids_deinit(ids_t *ids)
{
    for (size_t i = 0; i < ids->n; i++)
        free(ids->v[i]);
    free(ids->v);
    memset(ids, 0, sizeof(*ids));
}

static int collect_id(void *ud, const char *id, const MDB_val *v)
{
    (void)v;
    ids_add(ud, id);
    return 0;
}

long pl_offline_delete_all(pl_wtxn_t *txn, pl_offline_t *o, const char *user)
{
    pl_kv_t *kv = kv_of(o);
    if (!same_storage(txn, kv) || !user || !*user)
        return -EINVAL;
    ids_t ids = {0};
    /* Collected first: deleting under an open cursor is LMDB's subtle part. */
    long rc = scan_user(txn->txn, kv, user, collect_id, &ids);
    if (rc >= 0)
        rc = pl_offline_delete(txn, o, user, (const char *const *)ids.v, ids.n);
    if (rc >= 0) {
        /* Nothing is left: a counter that drifted goes too. */
        pl_offline_usage_t zero = {0};
        int wrc = counter_write(txn->txn, kv, user, &zero);
        if (wrc < 0)
            rc = wrc;
    }
    ids_deinit(&ids);
    return rc;
}

long pl_offline_delete_account(pl_wtxn_t *txn, const char *user)
{
    if (!txn || !user || !*user)
        return -EINVAL;
    pl_kv_t *kv = pl_lmdb_kv_lookup(txn->st, OFFLINE_STORE);
    if (!kv)
        return 0; /* never created: nothing was ever stored */
    long rc = pl_offline_delete_all(txn, (pl_offline_t *)kv, user);
    /* delete_all leaves a zero counter; the account is gone, so is that. */
    size_t ulen = strlen(user) + 1;
    long more = rc < 0 || ulen > kv->st->max_key ? 0 : pl_kv_del_prefix(txn, kv, user, ulen);
    return rc < 0 ? rc : more < 0 ? more : rc;
}

/* ---- retention ---- */

typedef struct expired {
    char *user, *id;
} expired_t;

/* The time index entries older than `before`, oldest first, at most max. */
typedef struct expiry {
    int64_t before;
    size_t max, n;
    expired_t *exp;
    pl_buf_t *stale; /* their index keys, to drop */
} expiry_t;

static int collect_expired(void *ud, MDB_cursor *cur, const MDB_val *k, const MDB_val *v)
{
    (void)cur;
    (void)v;
    expiry_t *e = ud;
    const char *p = k->mv_data;
    if (k->mv_size < 1 + 8 + 2)
        return 1;
    int64_t at = (int64_t)get_be((const unsigned char *)p + 1, 8);
    if (at >= e->before)
        return 1;
    const char *user = p + 9;
    size_t rest = k->mv_size - 9;
    const char *nul = memchr(user, '\0', rest);
    if (!nul || nul == user || (size_t)(nul - user) + 1 >= rest)
        return 0; /* not an index key we wrote */
    e->exp[e->n].user = pl_xstrndup(user, (size_t)(nul - user));
    e->exp[e->n].id = pl_xstrndup(nul + 1, rest - (size_t)(nul - user) - 1);
    pl_buf_init(&e->stale[e->n]);
    pl_buf_append(&e->stale[e->n], k->mv_data, k->mv_size);
    return ++e->n == e->max;
}

long pl_offline_purge(pl_wtxn_t *txn, pl_offline_t *o, int64_t before, size_t max)
{
    pl_kv_t *kv = kv_of(o);
    if (!same_storage(txn, kv))
        return -EINVAL;
    if (max == 0 || before <= 0)
        return 0;
    /* Oldest index entries first; collected, then deleted (no cursor
     * deletes), at most `max`. */
    expiry_t e = {.before = before,
                  .max = max,
                  .exp = pl_xcalloc(max, sizeof(expired_t)),
                  .stale = pl_xcalloc(max, sizeof(pl_buf_t))};
    const char mark = INDEX_MARK;
    long out = pl_lmdb_scan_prefix(txn->txn, kv, &mark, 1, collect_expired, &e);
    if (out > 0)
        out = 0;
    expired_t *exp = e.exp;
    pl_buf_t *stale = e.stale;
    size_t nexp = e.n;
    for (size_t i = 0; i < nexp && out >= 0; i++) {
        pl_offline_usage_t freed = {0};
        int drc = delete_one(txn->txn, kv, exp[i].user, exp[i].id, &freed);
        if (drc >= 0) {
            /* The index entry goes even when its record was gone already. */
            MDB_val ik = val_of(&stale[i]);
            int mrc = mdb_del(txn->txn, kv->dbi, &ik, NULL);
            if (mrc != 0 && mrc != MDB_NOTFOUND)
                drc = pl_lmdb_errno(mrc);
        }
        if (drc >= 0)
            drc = counter_sub(txn->txn, kv, exp[i].user, &freed);
        if (drc < 0)
            out = drc;
        else
            out++;
    }
    for (size_t i = 0; i < nexp; i++) {
        free(exp[i].user);
        free(exp[i].id);
        pl_buf_deinit(&stale[i]);
    }
    free(exp);
    free(stale);
    return out;
}
