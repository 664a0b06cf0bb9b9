/* roster.c — the roster repository (storage/roster.h) on the LMDB store
 * "roster": one record per (user, contact), tombstones for removals, and a
 * per-user meta record with the version counter, the diff floor and counts,
 * all changed inside the caller's write job so they commit together.
 *
 * Keys: user '\0' contact for items, user '\0' "\x01meta" for the meta record
 * (a control character cannot start a JID, so it never meets a contact). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storage/lmdb/lmdb-private.h"
#include "storage/roster.h"

#define ROSTER_STORE "roster"
#define ITEM_FORMAT 1
#define META_FORMAT 2 /* 1: without the hidden count (read, counted on first use) */
#define META_SUFFIX "\x01meta"

/* Item flag bits in the record. */
enum {
    F_TO = 1u << 0,
    F_FROM = 1u << 1,
    F_ASK = 1u << 2,
    F_PENDING_IN = 1u << 3,
    F_APPROVED = 1u << 4,
    F_IN_ROSTER = 1u << 5,
    F_REMOVED = 1u << 6,
    /* A hidden (in_roster = 0) record that replaced something the user's
     * clients saw (a visible item or a tombstone): to a client at an older
     * version it reports a removal, and removing it leaves a tombstone. */
    F_HIDES_REMOVAL = 1u << 7,
};

/* The repository handle is the store handle itself: pl_storage_kv already
 * returns one handle per name and storage, living as long as the storage,
 * so the roster needs no state of its own. */
static pl_kv_t *kv_of(pl_roster_t *r) { return (pl_kv_t *)r; }

int pl_roster_open(pl_storage_t *st, pl_roster_t **out)
{
    pl_kv_t *kv;
    int rc = pl_storage_kv(st, ROSTER_STORE, &kv);
    *out = rc == 0 ? (pl_roster_t *)kv : NULL;
    return rc;
}

/* ---- items ---- */

void pl_roster_item_init(pl_roster_item_t *it) { memset(it, 0, sizeof(*it)); }

void pl_roster_item_clear(pl_roster_item_t *it)
{
    free(it->jid);
    free(it->name);
    for (size_t i = 0; i < it->ngroups; i++)
        free(it->groups[i]);
    free(it->groups);
    free(it->pending_status);
    pl_roster_item_init(it);
}

static char *dup_or_null(const char *s) { return s ? pl_xstrdup(s) : NULL; }

void pl_roster_item_copy(pl_roster_item_t *dst, const pl_roster_item_t *src)
{
    *dst = *src;
    dst->jid = dup_or_null(src->jid);
    dst->name = dup_or_null(src->name);
    dst->pending_status = dup_or_null(src->pending_status);
    dst->groups = src->ngroups ? pl_xcalloc(src->ngroups, sizeof(char *)) : NULL;
    for (size_t i = 0; i < src->ngroups; i++)
        dst->groups[i] = pl_xstrdup(src->groups[i]);
}

/* ---- record format ----
 * u8 format (1) | u8 flags | u64 ver | str jid | opt name | u16 ngroups,
 * str × ngroups | opt pending_status.  Integers big-endian; str = u32
 * length + bytes (no NUL inside); opt = u8 0 (absent) or 1 followed by str. */

static void put_u8(pl_buf_t *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    pl_buf_append(b, &c, 1);
}

static void put_be(pl_buf_t *b, uint64_t v, int bytes)
{
    unsigned char tmp[8];
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        tmp[i] = (unsigned char)(v & 0xff);
    pl_buf_append(b, tmp, (size_t)bytes);
}

static void put_str(pl_buf_t *b, const char *s)
{
    size_t len = strlen(s);
    put_be(b, len, 4);
    pl_buf_append(b, s, len);
}

static void put_opt(pl_buf_t *b, const char *s)
{
    put_u8(b, s != NULL);
    if (s)
        put_str(b, s);
}

static unsigned item_flags(const pl_roster_item_t *it)
{
    return ((it->sub & PL_SUB_TO) ? F_TO : 0) | ((it->sub & PL_SUB_FROM) ? F_FROM : 0) |
           (it->ask ? F_ASK : 0) | (it->pending_in ? F_PENDING_IN : 0) |
           (it->approved ? F_APPROVED : 0) | (it->in_roster ? F_IN_ROSTER : 0) |
           (it->removed ? F_REMOVED : 0);
}

static void encode_flags(const pl_roster_item_t *it, unsigned extra, pl_buf_t *out)
{
    put_u8(out, ITEM_FORMAT);
    put_u8(out, item_flags(it) | extra);
    put_be(out, it->ver, 8);
    put_str(out, it->jid ? it->jid : "");
    put_opt(out, it->name);
    size_t ng = it->ngroups > 0xffff ? 0xffff : it->ngroups;
    put_be(out, ng, 2);
    for (size_t i = 0; i < ng; i++)
        put_str(out, it->groups[i]);
    put_opt(out, it->pending_status);
}

void pl_roster_item_encode(const pl_roster_item_t *it, pl_buf_t *out)
{
    encode_flags(it, 0, out);
}

typedef struct reader {
    const unsigned char *p;
    size_t left;
} reader_t;

static int get_be(reader_t *r, int bytes, uint64_t *v)
{
    if (r->left < (size_t)bytes)
        return -EBADMSG;
    *v = 0;
    for (int i = 0; i < bytes; i++)
        *v = (*v << 8) | r->p[i];
    r->p += bytes;
    r->left -= (size_t)bytes;
    return 0;
}

static int get_str(reader_t *r, char **out)
{
    uint64_t len;
    if (get_be(r, 4, &len) != 0 || len > r->left || memchr(r->p, '\0', len))
        return -EBADMSG;
    *out = pl_xstrndup((const char *)r->p, len);
    r->p += len;
    r->left -= len;
    return 0;
}

static int get_opt(reader_t *r, char **out)
{
    uint64_t present;
    if (get_be(r, 1, &present) != 0 || present > 1)
        return -EBADMSG;
    return present ? get_str(r, out) : 0;
}

/* Decodes a record, also returning its flag byte (for F_HIDES_REMOVAL). */
static int decode_flags(const void *data, size_t len, pl_roster_item_t *it, unsigned *flags_out)
{
    pl_roster_item_clear(it);
    reader_t r = {.p = data, .left = len};
    uint64_t format, flags, ng;
    int rc = -EBADMSG;
    if (get_be(&r, 1, &format) != 0 || format != ITEM_FORMAT || get_be(&r, 1, &flags) != 0 ||
        get_be(&r, 8, &it->ver) != 0 || get_str(&r, &it->jid) != 0 || it->jid[0] == '\0' ||
        get_opt(&r, &it->name) != 0 || get_be(&r, 2, &ng) != 0)
        goto fail;
    /* Every group takes at least its 4-byte length: a count the rest of the
     * record cannot hold is damage, not a reason to allocate. */
    if (ng > r.left / 4)
        goto fail;
    it->groups = ng ? pl_xcalloc(ng, sizeof(char *)) : NULL;
    for (it->ngroups = 0; it->ngroups < ng; it->ngroups++)
        if (get_str(&r, &it->groups[it->ngroups]) != 0)
            goto fail;
    if (get_opt(&r, &it->pending_status) != 0 || r.left != 0)
        goto fail;
    it->sub = ((flags & F_TO) ? PL_SUB_TO : 0) | ((flags & F_FROM) ? PL_SUB_FROM : 0);
    it->ask = !!(flags & F_ASK);
    it->pending_in = !!(flags & F_PENDING_IN);
    it->approved = !!(flags & F_APPROVED);
    it->in_roster = !!(flags & F_IN_ROSTER);
    it->removed = !!(flags & F_REMOVED);
    if (flags_out)
        *flags_out = (unsigned)flags;
    return 0;
fail:
    pl_roster_item_clear(it);
    return rc;
}

int pl_roster_item_decode(const void *data, size_t len, pl_roster_item_t *it)
{
    return decode_flags(data, len, it, NULL);
}

/* ---- meta record ---- */

typedef struct meta {
    uint64_t ver;      /* the user's current version */
    uint64_t floor;    /* version of the newest dropped tombstone */
    uint32_t ntomb;    /* tombstones kept */
    uint32_t nvisible; /* in_roster items */
    uint32_t nhidden;  /* records outside the roster: pending requests, pre-approvals */
    int hidden_known;  /* 0 for a format-1 record until counted (meta_count_hidden) */
} meta_t;

#define META_LEN_1 25
#define META_LEN 29

static void meta_encode(const meta_t *m, pl_buf_t *out)
{
    put_u8(out, META_FORMAT);
    put_be(out, m->ver, 8);
    put_be(out, m->floor, 8);
    put_be(out, m->ntomb, 4);
    put_be(out, m->nvisible, 4);
    put_be(out, m->nhidden, 4);
}

static int meta_decode(const void *data, size_t len, meta_t *m)
{
    reader_t r = {.p = data, .left = len};
    uint64_t format, ntomb, nvisible, nhidden = 0;
    if (len < 1 || get_be(&r, 1, &format) != 0 ||
        !((format == 1 && len == META_LEN_1) || (format == META_FORMAT && len == META_LEN)) ||
        get_be(&r, 8, &m->ver) != 0 || get_be(&r, 8, &m->floor) != 0 ||
        get_be(&r, 4, &ntomb) != 0 || get_be(&r, 4, &nvisible) != 0 ||
        (format == META_FORMAT && get_be(&r, 4, &nhidden) != 0))
        return -EBADMSG;
    m->ntomb = (uint32_t)ntomb;
    m->nvisible = (uint32_t)nvisible;
    m->nhidden = (uint32_t)nhidden;
    m->hidden_known = format == META_FORMAT;
    return 0;
}

/* ---- keys ---- */

/* user '\0' contact (or the meta suffix) into key.  -EINVAL for an empty
 * part, -ENAMETOOLONG beyond LMDB's key limit. */
static int make_key(pl_kv_t *kv, const char *user, const char *contact, pl_buf_t *key)
{
    if (!user || !*user || !contact || !*contact)
        return -EINVAL;
    pl_buf_reset(key);
    pl_buf_append(key, user, strlen(user) + 1);
    pl_buf_append(key, contact, strlen(contact));
    return key->len <= kv->st->max_key ? 0 : -ENAMETOOLONG;
}

static int get_in(MDB_txn *txn, pl_kv_t *kv, const pl_buf_t *key, MDB_val *val)
{
    MDB_val k = {.mv_size = key->len, .mv_data = key->data};
    int rc = mdb_get(txn, kv->dbi, &k, val);
    if (rc == MDB_NOTFOUND)
        return 0;
    return rc ? pl_lmdb_errno(rc) : 1;
}

static int meta_count_hidden(MDB_txn *txn, pl_kv_t *kv, const char *user, meta_t *m);

/* The user's meta record (all zero, counts known, for a user with none). */
static int meta_read(MDB_txn *txn, pl_kv_t *kv, const char *user, meta_t *m)
{
    memset(m, 0, sizeof(*m));
    m->hidden_known = 1;
    pl_buf_t key;
    pl_buf_init(&key);
    int rc = make_key(kv, user, META_SUFFIX, &key);
    MDB_val v;
    if (rc == 0)
        rc = get_in(txn, kv, &key, &v);
    if (rc == 1)
        rc = meta_decode(v.mv_data, v.mv_size, m);
    pl_buf_deinit(&key);
    if (rc == 0 && !m->hidden_known)
        rc = meta_count_hidden(txn, kv, user, m);
    return rc < 0 ? rc : 0;
}

static int put_in(MDB_txn *txn, pl_kv_t *kv, const pl_buf_t *key, const pl_buf_t *val)
{
    MDB_val k = {.mv_size = key->len, .mv_data = key->data};
    MDB_val v = {.mv_size = val->len, .mv_data = val->data};
    return pl_lmdb_errno(mdb_put(txn, kv->dbi, &k, &v, 0));
}

static int meta_write(MDB_txn *txn, pl_kv_t *kv, const char *user, const meta_t *m)
{
    pl_buf_t key, val;
    pl_buf_init(&key);
    pl_buf_init(&val);
    int rc = make_key(kv, user, META_SUFFIX, &key);
    if (rc == 0) {
        meta_encode(m, &val);
        rc = put_in(txn, kv, &key, &val);
    }
    pl_buf_deinit(&key);
    pl_buf_deinit(&val);
    return rc;
}

/* ---- scanning one user's records ---- */

/* Calls fn for every decodable item record of `user` (meta skipped), with
 * the record's flags; the cursor is left on the record so fn may delete it
 * with mdb_cursor_del.  Non-zero from fn stops (and is returned if <0). */
typedef int (*scan_fn)(void *ud, MDB_cursor *cur, const pl_roster_item_t *it, unsigned flags);

typedef struct user_scan {
    scan_fn fn;
    void *ud;
    size_t plen; /* the user's JID and its '\0' */
    pl_roster_item_t it;
} user_scan_t;

static int user_item(void *ud, MDB_cursor *cur, const MDB_val *k, const MDB_val *v)
{
    user_scan_t *s = ud;
    unsigned flags;
    const char *contact = (const char *)k->mv_data + s->plen;
    if (k->mv_size > s->plen && contact[0] == META_SUFFIX[0])
        return 0;
    /* Damaged records are skipped here; pl_roster_get reports them. */
    if (decode_flags(v->mv_data, v->mv_size, &s->it, &flags) != 0)
        return 0;
    return s->fn(s->ud, cur, &s->it, flags);
}

static int scan_user(MDB_txn *txn, pl_kv_t *kv, const char *user, scan_fn fn, void *ud)
{
    user_scan_t s = {.fn = fn, .ud = ud, .plen = strlen(user) + 1};
    pl_roster_item_init(&s.it);
    long rc = pl_lmdb_scan_prefix(txn, kv, user, s.plen, user_item, &s);
    pl_roster_item_clear(&s.it);
    return rc < 0 ? (int)rc : 0;
}

static int count_hidden(void *ud, MDB_cursor *cur, const pl_roster_item_t *it, unsigned flags)
{
    (void)cur;
    (void)flags;
    *(uint32_t *)ud += !it->removed && !it->in_roster;
    return 0;
}

/* A meta record from before the hidden count: count once (it is written
 * with the next change). */
static int meta_count_hidden(MDB_txn *txn, pl_kv_t *kv, const char *user, meta_t *m)
{
    m->nhidden = 0;
    int rc = scan_user(txn, kv, user, count_hidden, &m->nhidden);
    m->hidden_known = rc == 0;
    return rc;
}

/* ---- reads ---- */

static int record_get(MDB_txn *txn, pl_kv_t *kv, const char *user, const char *contact,
                      pl_roster_item_t *out, unsigned *flags)
{
    pl_buf_t key;
    pl_buf_init(&key);
    MDB_val v;
    int rc = make_key(kv, user, contact, &key);
    if (rc == 0)
        rc = get_in(txn, kv, &key, &v);
    if (rc == 1 && decode_flags(v.mv_data, v.mv_size, out, flags) != 0)
        rc = -EBADMSG;
    pl_buf_deinit(&key);
    return rc;
}

static int item_get(MDB_txn *txn, pl_kv_t *kv, const char *user, const char *contact,
                    pl_roster_item_t *out)
{
    pl_roster_item_clear(out);
    int rc = record_get(txn, kv, user, contact, out, NULL);
    if (rc == 1 && out->removed) {
        pl_roster_item_clear(out);
        rc = 0;
    }
    return rc;
}

int pl_roster_get(pl_roster_t *r, const char *user, const char *contact, pl_roster_item_t *out)
{
    pl_kv_t *kv = kv_of(r);
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    rc = item_get(txn, kv, user, contact, out);
    mdb_txn_abort(txn);
    return rc;
}

int pl_roster_txn_get(pl_wtxn_t *txn, pl_roster_t *r, const char *user, const char *contact,
                      pl_roster_item_t *out)
{
    pl_kv_t *kv = kv_of(r);
    if (txn->st != kv->st)
        return -EINVAL;
    return item_get(txn->txn, kv, user, contact, out);
}

static int read_meta(pl_roster_t *r, const char *user, meta_t *m)
{
    pl_kv_t *kv = kv_of(r);
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    rc = meta_read(txn, kv, user, m);
    mdb_txn_abort(txn);
    return rc;
}

uint64_t pl_roster_version(pl_roster_t *r, const char *user)
{
    meta_t m;
    return read_meta(r, user, &m) == 0 ? m.ver : 0;
}

long pl_roster_count(pl_roster_t *r, const char *user)
{
    meta_t m;
    int rc = read_meta(r, user, &m);
    return rc < 0 ? rc : (long)m.nvisible;
}

/* The meta record read inside the caller's write job. */
static int txn_meta(pl_wtxn_t *txn, pl_roster_t *r, const char *user, meta_t *m)
{
    pl_kv_t *kv = kv_of(r);
    if (txn->st != kv->st)
        return -EINVAL;
    return meta_read(txn->txn, kv, user, m);
}

long pl_roster_txn_count(pl_wtxn_t *txn, pl_roster_t *r, const char *user)
{
    meta_t m;
    int rc = txn_meta(txn, r, user, &m);
    return rc < 0 ? rc : (long)m.nvisible;
}

long pl_roster_txn_count_hidden(pl_wtxn_t *txn, pl_roster_t *r, const char *user)
{
    meta_t m;
    int rc = txn_meta(txn, r, user, &m);
    return rc < 0 ? rc : (long)m.nhidden;
}

typedef struct list_ctx {
    int all;
    pl_roster_visit_fn fn;
    void *ud;
    int n;
} list_ctx_t;

static int list_one(void *ud, MDB_cursor *cur, const pl_roster_item_t *it, unsigned flags)
{
    (void)cur;
    (void)flags;
    list_ctx_t *c = ud;
    if (!c->all && (it->removed || !it->in_roster))
        return 0;
    c->n++;
    return c->fn(c->ud, it) ? 1 : 0;
}

int pl_roster_list(pl_roster_t *r, const char *user, int all, pl_roster_visit_fn fn, void *ud)
{
    pl_kv_t *kv = kv_of(r);
    if (!user || !*user)
        return -EINVAL;
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    list_ctx_t c = {.all = all, .fn = fn, .ud = ud};
    rc = scan_user(txn, kv, user, list_one, &c);
    mdb_txn_abort(txn);
    return rc < 0 ? rc : c.n;
}

int pl_roster_diff_possible(uint64_t current, uint64_t diff_floor, uint64_t since)
{
    return since <= current && since >= diff_floor;
}

typedef struct changes_ctx {
    uint64_t since;
    pl_roster_item_t *items;
    size_t n, cap;
} changes_ctx_t;

static int collect_change(void *ud, MDB_cursor *cur, const pl_roster_item_t *it, unsigned flags)
{
    (void)cur;
    changes_ctx_t *c = ud;
    int visible = it->in_roster && !it->removed;
    int removal = it->removed || (!it->in_roster && (flags & F_HIDES_REMOVAL));
    if (it->ver <= c->since || (!visible && !removal))
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = pl_xrealloc(c->items, c->cap * sizeof(*c->items));
    }
    pl_roster_item_t *dst = &c->items[c->n++];
    pl_roster_item_copy(dst, it);
    dst->removed = removal;
    return 0;
}

static int by_version(const void *a, const void *b)
{
    const pl_roster_item_t *x = a, *y = b;
    return x->ver < y->ver ? -1 : x->ver > y->ver;
}

int pl_roster_changes(pl_roster_t *r, const char *user, uint64_t since, pl_roster_visit_fn fn,
                      void *ud)
{
    pl_kv_t *kv = kv_of(r);
    MDB_txn *txn;
    int rc = pl_lmdb_read_begin(kv->st, &txn);
    if (rc != 0)
        return rc;
    meta_t m;
    changes_ctx_t c = {.since = since};
    /* One read transaction for the meta record and the items, so the diff
     * matches the version it is computed against. */
    rc = meta_read(txn, kv, user, &m);
    if (rc == 0 && since == m.ver)
        rc = 1;
    else if (rc == 0 && !pl_roster_diff_possible(m.ver, m.floor, since))
        rc = 0;
    else if (rc == 0 && (rc = scan_user(txn, kv, user, collect_change, &c)) == 0)
        rc = 1;
    mdb_txn_abort(txn);
    if (rc == 1 && c.n > 1)
        qsort(c.items, c.n, sizeof(*c.items), by_version);
    /* Stopping early is the visitor's choice: the diff was still possible. */
    int stop = rc != 1;
    for (size_t i = 0; i < c.n; i++) {
        if (!stop && fn(ud, &c.items[i]) != 0)
            stop = 1;
        pl_roster_item_clear(&c.items[i]);
    }
    free(c.items);
    return rc;
}

/* ---- writes ---- */

typedef struct trim_ctx {
    uint64_t *vers;
    size_t n, cap;
    uint64_t cut; /* second pass: delete tombstones with ver <= cut */
    int deleted;
} trim_ctx_t;

static int collect_tomb(void *ud, MDB_cursor *cur, const pl_roster_item_t *it, unsigned flags)
{
    (void)cur;
    (void)flags;
    trim_ctx_t *t = ud;
    if (!it->removed)
        return 0;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->vers = pl_xrealloc(t->vers, t->cap * sizeof(*t->vers));
    }
    t->vers[t->n++] = it->ver;
    return 0;
}

static int drop_tomb(void *ud, MDB_cursor *cur, const pl_roster_item_t *it, unsigned flags)
{
    (void)flags;
    trim_ctx_t *t = ud;
    if (!it->removed || it->ver > t->cut)
        return 0;
    int rc = mdb_cursor_del(cur, 0);
    if (rc != 0)
        return pl_lmdb_errno(rc);
    t->deleted++;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Drops the oldest tombstones beyond PL_ROSTER_MAX_TOMBSTONES and raises
 * the floor to the newest dropped one: clients older than that get the full
 * roster. */
static int trim_tombstones(MDB_txn *txn, pl_kv_t *kv, const char *user, meta_t *m)
{
    if (m->ntomb <= PL_ROSTER_MAX_TOMBSTONES)
        return 0;
    trim_ctx_t t = {0};
    int rc = scan_user(txn, kv, user, collect_tomb, &t);
    if (rc == 0 && t.n > PL_ROSTER_MAX_TOMBSTONES) {
        qsort(t.vers, t.n, sizeof(*t.vers), cmp_u64);
        t.cut = t.vers[t.n - PL_ROSTER_MAX_TOMBSTONES - 1];
        rc = scan_user(txn, kv, user, drop_tomb, &t);
        if (rc == 0 && t.cut > m->floor)
            m->floor = t.cut;
    }
    if (rc == 0)
        m->ntomb = (uint32_t)(t.n - (size_t)t.deleted);
    free(t.vers);
    return rc;
}

/* What the record being replaced counted for. */
static void meta_forget(meta_t *m, const pl_roster_item_t *old)
{
    if (old->removed && m->ntomb > 0)
        m->ntomb--;
    else if (!old->removed && old->in_roster && m->nvisible > 0)
        m->nvisible--;
    else if (!old->removed && !old->in_roster && m->nhidden > 0)
        m->nhidden--;
}

int64_t pl_roster_put(pl_wtxn_t *txn, pl_roster_t *r, const char *user, pl_roster_item_t *it)
{
    pl_kv_t *kv = kv_of(r);
    if (txn->st != kv->st || !it->jid)
        return -EINVAL;
    meta_t m;
    int rc = meta_read(txn->txn, kv, user, &m);
    if (rc < 0)
        return rc;
    pl_roster_item_t old;
    pl_roster_item_init(&old);
    unsigned old_flags = 0;
    int had = record_get(txn->txn, kv, user, it->jid, &old, &old_flags);
    if (had < 0 && had != -EBADMSG)
        return had; /* a damaged record is simply replaced */
    unsigned extra = 0;
    if (had == 1) {
        meta_forget(&m, &old);
        if (!it->in_roster && (old.removed || old.in_roster || (old_flags & F_HIDES_REMOVAL)))
            extra = F_HIDES_REMOVAL;
    }
    pl_roster_item_clear(&old);
    it->removed = 0;
    it->ver = ++m.ver;
    if (it->in_roster)
        m.nvisible++;
    else
        m.nhidden++;

    pl_buf_t key, val;
    pl_buf_init(&key);
    pl_buf_init(&val);
    rc = make_key(kv, user, it->jid, &key);
    if (rc == 0) {
        encode_flags(it, extra, &val);
        rc = put_in(txn->txn, kv, &key, &val);
    }
    if (rc == 0)
        rc = meta_write(txn->txn, kv, user, &m);
    pl_buf_deinit(&key);
    pl_buf_deinit(&val);
    return rc < 0 ? rc : (int64_t)it->ver;
}

int64_t pl_roster_remove(pl_wtxn_t *txn, pl_roster_t *r, const char *user, const char *contact)
{
    pl_kv_t *kv = kv_of(r);
    if (txn->st != kv->st)
        return -EINVAL;
    pl_roster_item_t old;
    pl_roster_item_init(&old);
    unsigned flags = 0;
    int rc = record_get(txn->txn, kv, user, contact, &old, &flags);
    if (rc <= 0 || old.removed) {
        pl_roster_item_clear(&old);
        return rc < 0 ? rc : 0;
    }
    meta_t m;
    pl_buf_t key, val;
    pl_buf_init(&key);
    pl_buf_init(&val);
    int64_t out = 0;
    if ((rc = meta_read(txn->txn, kv, user, &m)) == 0)
        rc = make_key(kv, user, contact, &key);
    if (rc == 0 && !old.in_roster && !(flags & F_HIDES_REMOVAL)) {
        /* Nobody saw it: no tombstone, no new version. */
        MDB_val k = {.mv_size = key.len, .mv_data = key.data};
        rc = pl_lmdb_errno(mdb_del(txn->txn, kv->dbi, &k, NULL));
        meta_forget(&m, &old);
        if (rc == 0)
            rc = meta_write(txn->txn, kv, user, &m);
    } else if (rc == 0) {
        meta_forget(&m, &old);
        pl_roster_item_t tomb;
        pl_roster_item_init(&tomb);
        tomb.jid = old.jid;
        tomb.removed = 1;
        tomb.ver = ++m.ver;
        m.ntomb++;
        encode_flags(&tomb, 0, &val);
        rc = put_in(txn->txn, kv, &key, &val);
        if (rc == 0)
            rc = trim_tombstones(txn->txn, kv, user, &m);
        if (rc == 0)
            rc = meta_write(txn->txn, kv, user, &m);
        out = (int64_t)tomb.ver;
    }
    pl_roster_item_clear(&old);
    pl_buf_deinit(&key);
    pl_buf_deinit(&val);
    return rc < 0 ? rc : out;
}

/* ---- account deletion ---- */

typedef struct contacts {
    size_t ulen; /* the user's JID and its '\0' */
    char **v;
    size_t n, cap;
} contacts_t;

static int add_contact(void *ud, MDB_cursor *cur, const MDB_val *k, const MDB_val *v)
{
    (void)cur;
    (void)v;
    contacts_t *c = ud;
    const char *contact = (const char *)k->mv_data + c->ulen;
    size_t clen = k->mv_size - c->ulen;
    if (clen == 0 || contact[0] == META_SUFFIX[0])
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = pl_xrealloc(c->v, c->cap * sizeof(char *));
    }
    c->v[c->n++] = pl_xstrndup(contact, clen);
    return 0;
}

/* The user's contacts (keys user '\0' contact, meta record left out), read
 * inside the job so changes earlier in the batch count. */
static int contacts_in(MDB_txn *txn, pl_kv_t *kv, const char *user, char ***out, size_t *n)
{
    contacts_t c = {.ulen = strlen(user) + 1};
    long rc = pl_lmdb_scan_prefix(txn, kv, user, c.ulen, add_contact, &c);
    *out = c.v;
    *n = c.n;
    return rc < 0 ? (int)rc : 0;
}

/* The contact's item for a user that no longer exists: no subscription
 * either way and nothing pending, so a new account of the same name gets
 * no presence it did not ask for.  The item itself stays in the contact's
 * roster (the contact's own list); a hidden one goes. */
void pl_roster_changes_free(pl_roster_change_t **changedp, size_t n)
{
    pl_roster_change_t *changed = changedp ? *changedp : NULL;
    if (!changed)
        return;
    *changedp = NULL;
    for (size_t i = 0; i < n; i++) {
        free(changed[i].owner);
        pl_roster_item_clear(&changed[i].item);
    }
    free(changed);
}

/* 1 when the contact's clients are to see the change (then `it` holds the
 * item as it now is), 0 when nothing visible changed, <0 error. */
static int cancel_subscription(pl_wtxn_t *txn, pl_roster_t *r, const char *contact,
                               const char *user, pl_roster_item_t *it)
{
    int rc = pl_roster_txn_get(txn, r, contact, user, it);
    if (rc == 1 && !it->in_roster) {
        int64_t v = pl_roster_remove(txn, r, contact, user);
        if (v > 0) { /* the hidden record had replaced an item the clients saw */
            it->removed = 1;
            it->ver = (uint64_t)v;
        }
        rc = v < 0 ? (int)v : v > 0;
    } else if (rc == 1 && (it->sub || it->ask || it->pending_in || it->approved)) {
        it->sub = PL_SUB_NONE;
        it->ask = it->pending_in = it->approved = 0;
        free(it->pending_status);
        it->pending_status = NULL;
        int64_t v = pl_roster_put(txn, r, contact, it);
        rc = v < 0 ? (int)v : 1;
    } else if (rc == 1) {
        rc = 0;
    }
    return rc;
}

long pl_roster_delete_account(pl_wtxn_t *txn, const char *user, pl_roster_change_t **changed,
                              size_t *nchanged)
{
    if (changed) {
        *changed = NULL;
        *nchanged = 0;
    }
    if (!txn || !user || !*user)
        return -EINVAL;
    pl_kv_t *kv = pl_lmdb_kv_lookup(txn->st, ROSTER_STORE);
    if (!kv)
        return 0; /* never created: nobody had a roster */
    pl_roster_t *r = (pl_roster_t *)kv;
    char **contacts;
    size_t n, nout = 0;
    pl_roster_change_t *out = NULL;
    int rc = contacts_in(txn->txn, kv, user, &contacts, &n);
    for (size_t i = 0; i < n; i++) {
        if (rc >= 0 && strcmp(contacts[i], user) != 0) {
            pl_roster_item_t it;
            pl_roster_item_init(&it);
            rc = cancel_subscription(txn, r, contacts[i], user, &it);
            if (rc == 1 && changed) {
                if (!out)
                    out = pl_xcalloc(n, sizeof(*out));
                out[nout].owner = pl_xstrdup(contacts[i]);
                out[nout++].item = it; /* takes the strings */
            } else {
                pl_roster_item_clear(&it);
            }
        }
        free(contacts[i]);
    }
    free(contacts);
    if (rc < 0) {
        pl_roster_changes_free(&out, nout);
        return rc;
    }
    if (changed) {
        *changed = out;
        *nchanged = nout;
    }
    size_t ulen = strlen(user) + 1;
    return ulen > kv->st->max_key ? 0 : pl_kv_del_prefix(txn, kv, user, ulen);
}
