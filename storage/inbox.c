/* inbox.c — the inbox repository (see inbox.h): conversation records, the
 * unread-count rules applied to them, and the activity-ordered list. */
#include "storage/inbox.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storage/seal.h"
#include "storage/storage-private.h"

#define INBOX_KEY_MAX 511 /* LMDB's key limit */
#define INBOX_VERSION '1'
#define INBOX_SEALED '2' /* then a sealed record (storage/seal.h) of a version-1 record */

/* ---- small string helpers ---- */

/* Copies at most cap-1 bytes of s (NULL: "") into dst. */
static void copy_bounded(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s ? s : "", n);
    dst[n] = '\0';
}

/* An id fits the record (longer ones are not remembered). */
static int id_ok(const char *id)
{
    return id && *id && strlen(id) <= PL_INBOX_ID_MAX;
}

static int same(const char *a, const char *b)
{
    return a && b && *a && strcmp(a, b) == 0;
}

/* Server ids have one length and sort in time order as strings; a longer
 * string (not an id) never counts as newer. */
static int id_newer(const char *a, const char *b)
{
    if (!*b)
        return 1;
    size_t la = strlen(a), lb = strlen(b);
    return la == lb ? strcmp(a, b) > 0 : la < lb;
}

/* The first `max` bytes of `body` or fewer, never cutting a UTF-8 sequence. */
static size_t excerpt_len(const char *body, size_t max, int *truncated)
{
    size_t n = strlen(body);
    *truncated = n > max;
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)body[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* ---- the unread rules ---- */

static void ring_clear(pl_inbox_entry_t *e)
{
    e->nring = 0;
    e->unread = 0;
}

/* Drops the first `k` remembered messages (they were read). */
static void ring_drop(pl_inbox_entry_t *e, size_t k)
{
    memmove(e->ring, e->ring + k, (e->nring - k) * sizeof(e->ring[0]));
    e->nring -= k;
}

/* Remembers an unread message in stanza-id order (a late one may be older
 * than the newest); the oldest is forgotten when the ring is full. */
static void ring_add(pl_inbox_entry_t *e, const char *stanza_id, const char *msg_id, int mention)
{
    if (e->nring == PL_INBOX_RING)
        ring_drop(e, 1);
    size_t at = e->nring;
    while (at > 0 && *stanza_id && id_newer(e->ring[at - 1].stanza_id, stanza_id))
        at--;
    memmove(e->ring + at + 1, e->ring + at, (e->nring - at) * sizeof(e->ring[0]));
    copy_bounded(e->ring[at].stanza_id, sizeof(e->ring[at].stanza_id), stanza_id);
    copy_bounded(e->ring[at].msg_id, sizeof(e->ring[at].msg_id), id_ok(msg_id) ? msg_id : "");
    e->ring[at].mention = mention != 0;
    e->nring++;
}

static int in_ring(const pl_inbox_entry_t *e, const char *stanza_id)
{
    for (size_t i = 0; i < e->nring; i++)
        if (same(e->ring[i].stanza_id, stanza_id))
            return 1;
    return 0;
}

static void set_last(pl_inbox_entry_t *e, const pl_inbox_event_t *ev, int outgoing)
{
    copy_bounded(e->last_id, sizeof(e->last_id), id_ok(ev->stanza_id) ? ev->stanza_id : "");
    copy_bounded(e->last_msg_id, sizeof(e->last_msg_id), id_ok(ev->msg_id) ? ev->msg_id : "");
    e->stamp = ev->stamp;
    e->outgoing = outgoing;
    copy_bounded(e->from, sizeof(e->from), ev->from);
    copy_bounded(e->to, sizeof(e->to), ev->to);
    const char *type = "normal";
    if (ev->type && (strcmp(ev->type, "chat") == 0 || strcmp(ev->type, "groupchat") == 0))
        type = ev->type;
    copy_bounded(e->type, sizeof(e->type), type);
    const char *body = ev->body ? ev->body : "";
    size_t n = excerpt_len(body, PL_INBOX_EXCERPT_MAX, &e->truncated);
    memcpy(e->excerpt, body, n);
    e->excerpt[n] = '\0';
}

static void read_up_to(pl_inbox_entry_t *e, const char *id)
{
    if (id_ok(id) && id_newer(id, e->read_upto))
        copy_bounded(e->read_upto, sizeof(e->read_upto), id);
}

static int apply_in(pl_inbox_entry_t *e, const pl_inbox_event_t *ev)
{
    const char *sid = id_ok(ev->stanza_id) ? ev->stanza_id : "";
    if (*sid && (same(sid, e->last_id) || in_ring(e, sid) ||
                 (*e->read_upto && !id_newer(sid, e->read_upto))))
        return 0; /* counted before, or older than what the user read */
    if (!*sid || !*e->last_id || id_newer(sid, e->last_id) || e->stamp == 0)
        set_last(e, ev, 0);
    ring_add(e, sid, ev->msg_id, ev->mention);
    e->unread++;
    return 1;
}

static int apply_out(pl_inbox_entry_t *e, const pl_inbox_event_t *ev)
{
    set_last(e, ev, 1);
    ring_clear(e);
    read_up_to(e, ev->stanza_id);
    return 1;
}

static int apply_read(pl_inbox_entry_t *e, const pl_inbox_event_t *ev)
{
    const char *sid = id_ok(ev->stanza_id) ? ev->stanza_id : NULL;
    const char *mid = id_ok(ev->msg_id) ? ev->msg_id : NULL;
    for (size_t i = e->nring; i-- > 0;) {
        if (same(e->ring[i].stanza_id, sid) || same(e->ring[i].msg_id, mid)) {
            const pl_inbox_ref_t *r = &e->ring[i];
            copy_bounded(e->displayed, sizeof(e->displayed),
                         *r->stanza_id ? r->stanza_id : r->msg_id);
            read_up_to(e, r->stanza_id);
            ring_drop(e, i + 1);
            /* Older ones the ring forgot are read by implication. */
            e->unread = (uint32_t)e->nring;
            return 1;
        }
    }
    /* The last message itself (read on another client, or sent). */
    if (same(e->last_id, sid) || (!e->outgoing && same(e->last_msg_id, mid))) {
        int changed = e->unread != 0 || !same(e->displayed, e->last_id);
        copy_bounded(e->displayed, sizeof(e->displayed), *e->last_id ? e->last_id : mid);
        read_up_to(e, e->last_id);
        ring_clear(e);
        return changed;
    }
    /* An XEP-0490 position between remembered messages: the ones up to it
     * are read; the forgotten older ones too when it is past the oldest. */
    if (sid && id_newer(sid, e->read_upto)) {
        size_t k = 0;
        while (k < e->nring && *e->ring[k].stanza_id && !id_newer(e->ring[k].stanza_id, sid))
            k++;
        int past_oldest = e->nring == 0 || k > 0;
        ring_drop(e, k);
        if (past_oldest)
            e->unread = (uint32_t)e->nring;
        copy_bounded(e->displayed, sizeof(e->displayed), sid);
        read_up_to(e, sid);
        return 1;
    }
    return 0;
}

_Static_assert(PL_INBOX_RING <= 62, "a record's mention bits fit in a long long");

uint32_t pl_inbox_mentions(const pl_inbox_entry_t *e)
{
    uint32_t n = 0;
    for (size_t i = 0; i < e->nring; i++)
        n += e->ring[i].mention != 0;
    return n;
}

int pl_inbox_entry_apply(pl_inbox_entry_t *e, const pl_inbox_event_t *ev)
{
    switch (ev->kind) {
    case PL_INBOX_IN: return apply_in(e, ev);
    case PL_INBOX_OUT: return apply_out(e, ev);
    case PL_INBOX_READ: return apply_read(e, ev);
    }
    return 0;
}

/* ---- record format ---- */

/* Writes v in decimal at the end of tmp (24 bytes) and returns where it
 * starts: a record has some eighty fields, and formatting their lengths
 * with printf was most of the cost of writing one (a group's message
 * rewrites a record per member). */
static char *decimal(char tmp[24], unsigned long long v)
{
    char *p = tmp + 24; /* 20 digits at most, and room for a sign */
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

/* "n:bytes," written straight into the buffer. */
static void put_field(pl_buf_t *out, const char *s, size_t n)
{
    char tmp[24];
    char *d = decimal(tmp, n);
    size_t dl = (size_t)(tmp + 24 - d);
    pl_buf_reserve(out, dl + 2 + n);
    char *p = out->data + out->len;
    memcpy(p, d, dl);
    p[dl] = ':';
    memcpy(p + dl + 1, s, n);
    p[dl + 1 + n] = ',';
    out->len += dl + 2 + n;
}

static void put_str(pl_buf_t *out, const char *s)
{
    put_field(out, s, strlen(s));
}

static void put_num(pl_buf_t *out, long long v)
{
    char tmp[24];
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    char *d = decimal(tmp, u);
    if (v < 0)
        *--d = '-'; /* as printf wrote it (decode refuses it) */
    put_field(out, d, (size_t)(tmp + 24 - d));
}

void pl_inbox_entry_encode(const pl_inbox_entry_t *e, pl_buf_t *out)
{
    char v = INBOX_VERSION;
    pl_buf_append(out, &v, 1);
    put_str(out, e->last_id);
    put_str(out, e->last_msg_id);
    put_num(out, e->stamp);
    put_num(out, e->outgoing);
    put_str(out, e->from);
    put_str(out, e->to);
    put_str(out, e->type);
    put_str(out, e->excerpt);
    put_num(out, e->truncated);
    put_num(out, e->unread);
    put_str(out, e->displayed);
    put_str(out, e->read_upto);
    put_num(out, (long long)e->nring);
    unsigned long long mentions = 0;
    for (size_t i = 0; i < e->nring; i++) {
        put_str(out, e->ring[i].stanza_id);
        put_str(out, e->ring[i].msg_id);
        if (e->ring[i].mention)
            mentions |= 1ull << i;
    }
    /* Optional, so that records without mentions stay as they were: a bit
     * per ring slot that mentions the user. */
    if (mentions)
        put_num(out, (long long)mentions);
}

typedef struct reader {
    const char *p, *end;
    int bad;
} reader_t;

/* Reads one netstring into dst (cap bytes with the NUL); bad when it does
 * not parse or does not fit. */
static void get_str(reader_t *r, char *dst, size_t cap)
{
    size_t n = 0;
    const char *p = r->p;
    while (!r->bad && p < r->end && *p >= '0' && *p <= '9' && n <= cap)
        n = n * 10 + (size_t)(*p++ - '0');
    if (r->bad || p == r->p || p >= r->end || *p != ':' || n >= cap ||
        (size_t)(r->end - p - 1) < n + 1 || p[1 + n] != ',') {
        r->bad = 1;
        dst[0] = '\0';
        return;
    }
    memcpy(dst, p + 1, n); /* no NUL in it: pl_inbox_entry_decode looked */
    dst[n] = '\0';
    r->p = p + 2 + n;
}

static long long get_num(reader_t *r, long long min, long long max)
{
    char tmp[24];
    get_str(r, tmp, sizeof(tmp));
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (r->bad || !*tmp || *end || v < min || v > max)
        r->bad = 1;
    return r->bad ? 0 : v;
}

int pl_inbox_entry_decode(const void *data, size_t len, pl_inbox_entry_t *e)
{
    reader_t r = {.p = data, .end = (const char *)data + len};
    /* A NUL anywhere is damage (in a field it would cut the string; where
     * a length or a number stands it does not parse): one look at the
     * whole record rather than one per field. */
    if (len < 1 || *r.p != INBOX_VERSION || memchr(data, '\0', len))
        return -EBADMSG;
    r.p++;
    get_str(&r, e->last_id, sizeof(e->last_id));
    get_str(&r, e->last_msg_id, sizeof(e->last_msg_id));
    e->stamp = get_num(&r, 0, INT64_MAX);
    e->outgoing = (int)get_num(&r, 0, 1);
    get_str(&r, e->from, sizeof(e->from));
    get_str(&r, e->to, sizeof(e->to));
    get_str(&r, e->type, sizeof(e->type));
    get_str(&r, e->excerpt, sizeof(e->excerpt));
    e->truncated = (int)get_num(&r, 0, 1);
    e->unread = (uint32_t)get_num(&r, 0, UINT32_MAX);
    get_str(&r, e->displayed, sizeof(e->displayed));
    get_str(&r, e->read_upto, sizeof(e->read_upto));
    e->nring = (size_t)get_num(&r, 0, PL_INBOX_RING);
    for (size_t i = 0; i < e->nring && !r.bad; i++) {
        get_str(&r, e->ring[i].stanza_id, sizeof(e->ring[i].stanza_id));
        get_str(&r, e->ring[i].msg_id, sizeof(e->ring[i].msg_id));
        e->ring[i].mention = 0;
    }
    if (!r.bad && r.p != r.end) {
        long long mentions = get_num(&r, 1, (1ll << PL_INBOX_RING) - 1);
        for (size_t i = 0; i < e->nring; i++)
            e->ring[i].mention = (int)((mentions >> i) & 1);
    }
    if (r.bad || r.p != r.end)
        return -EBADMSG;
    return 0;
}

/* ---- encryption at rest ----
 * With a key ring (storage.key_file) a whole entry — the excerpt, the
 * sender, the ids — is stored sealed, with the context "inbox" NUL user NUL
 * partner so a record moved to another key does not open.  Entries written
 * before the key file was configured stay readable and are sealed at their
 * next update. */

/* A plain entry starts with its version byte, so only sealed ones are
 * framed. */
static pl_seal_frame_t entry_frame(const char *user, const char *partner)
{
    return (pl_seal_frame_t){.label = "inbox",
                             .owner = user,
                             .item = partner,
                             .plain_tag = PL_SEAL_UNTAGGED,
                             .sealed_tag = INBOX_SEALED};
}

/* Wipes and frees a buffer that held an entry in clear. */
static void plain_wipe(pl_buf_t *plain)
{
    if (plain->data)
        OPENSSL_cleanse(plain->data, plain->len);
    pl_buf_deinit(plain);
}

static int entry_store(const pl_seal_t *ring, const char *user, const char *partner,
                       const pl_inbox_entry_t *e, pl_buf_t *out)
{
    if (!ring) {
        pl_inbox_entry_encode(e, out);
        return 0;
    }
    pl_buf_t plain;
    pl_buf_init(&plain);
    pl_inbox_entry_encode(e, &plain);
    pl_seal_frame_t f = entry_frame(user, partner);
    int rc = pl_seal_frame(ring, &f, plain.data, plain.len, out);
    plain_wipe(&plain);
    return rc;
}

/* 0, -EBADMSG, or -ENOKEY when the entry is sealed under a key the ring
 * does not hold (or there is no ring). */
static int entry_load(const pl_seal_t *ring, const char *user, const char *partner,
                      const void *data, size_t len, pl_inbox_entry_t *e)
{
    pl_buf_t plain;
    pl_buf_init(&plain);
    pl_seal_frame_t f = entry_frame(user, partner);
    const void *payload;
    size_t plen;
    int rc = pl_seal_unframe(ring, &f, data, len, &plain, &payload, &plen);
    if (rc == 0)
        rc = pl_inbox_entry_decode(payload, plen, e);
    plain_wipe(&plain);
    return rc;
}

/* ---- keys ---- */

/* user '\0' tag [partner] into key; its length or -ENAMETOOLONG. */
static int make_key(char *key, const char *user, char tag, const char *partner)
{
    size_t lu = strlen(user), lp = partner ? strlen(partner) : 0;
    if (lu + 2 + lp > INBOX_KEY_MAX || lu == 0)
        return -ENAMETOOLONG;
    memcpy(key, user, lu);
    key[lu] = '\0';
    key[lu + 1] = tag;
    if (lp)
        memcpy(key + lu + 2, partner, lp);
    return (int)(lu + 2 + lp);
}

int pl_inbox_get(pl_kv_t *kv, const char *user, const char *partner, pl_inbox_entry_t *out)
{
    char key[INBOX_KEY_MAX + 1];
    int klen = make_key(key, user, 'c', partner);
    if (klen < 0)
        return 0; /* such a key can never have been written */
    pl_buf_t val;
    pl_buf_init(&val);
    int r = pl_kv_get(kv, key, (size_t)klen, &val);
    if (r == 1) {
        memset(out, 0, sizeof(*out));
        copy_bounded(out->partner, sizeof(out->partner), partner);
        int d = entry_load(kv->st->seal, user, partner, val.data, val.len, out);
        if (d != 0)
            r = d;
    }
    pl_buf_deinit(&val);
    return r;
}

static long count_parse(pl_buf_t *val)
{
    long n = strtol(pl_buf_cstr(val), NULL, 10);
    return n > 0 ? n : 0;
}

long pl_inbox_count(pl_kv_t *kv, const char *user)
{
    char key[INBOX_KEY_MAX + 1];
    int klen = make_key(key, user, 'n', NULL);
    if (klen < 0)
        return 0;
    pl_buf_t val;
    pl_buf_init(&val);
    int r = pl_kv_get(kv, key, (size_t)klen, &val);
    long n = r == 1 ? count_parse(&val) : r;
    pl_buf_deinit(&val);
    return n;
}

static int count_put(pl_wtxn_t *txn, pl_kv_t *kv, const char *key, int klen, long n)
{
    char tmp[24];
    int len = snprintf(tmp, sizeof(tmp), "%ld", n);
    return pl_kv_put(txn, kv, key, (size_t)klen, tmp, (size_t)len);
}

static int oldest_in(pl_wtxn_t *txn, pl_kv_t *kv, const char *user, char *out);

/* A new conversation: counted, after making room by removing `evict`, or
 * without one the least active conversation as this transaction sees it
 * (so a burst of new conversations never goes over the limit). */
static int add_conversation(pl_wtxn_t *txn, pl_kv_t *kv, const char *user, const char *partner,
                            long max, const char *evict)
{
    char nkey[INBOX_KEY_MAX + 1], ekey[INBOX_KEY_MAX + 1];
    int nlen = make_key(nkey, user, 'n', NULL);
    pl_buf_t val;
    pl_buf_init(&val);
    int r = pl_kv_txn_get(txn, kv, nkey, (size_t)nlen, &val);
    long n = r == 1 ? count_parse(&val) : 0;
    pl_buf_deinit(&val);
    if (r < 0)
        return r;
    char oldest[PL_INBOX_JID_MAX + 1];
    if (n >= max && !evict) {
        int o = oldest_in(txn, kv, user, oldest);
        if (o < 0)
            return o;
        evict = o == 1 ? oldest : NULL;
    }
    if (n >= max && evict && *evict && strcmp(evict, partner) != 0) {
        int elen = make_key(ekey, user, 'c', evict);
        int d = elen < 0 ? 0 : pl_kv_del(txn, kv, ekey, (size_t)elen);
        if (d < 0)
            return d;
        n -= d;
    }
    return count_put(txn, kv, nkey, nlen, n + 1);
}

int pl_inbox_update(pl_wtxn_t *txn, pl_kv_t *kv, const char *user, const pl_inbox_event_t *ev,
                    long max, const char *evict, uint32_t *before_unread, pl_inbox_entry_t *after)
{
    char key[INBOX_KEY_MAX + 1];
    int klen = make_key(key, user, 'c', ev->partner);
    if (klen < 0 || !ev->partner || !*ev->partner)
        return klen < 0 ? klen : -EINVAL;
    pl_inbox_entry_t *e = pl_xcalloc(1, sizeof(*e));
    copy_bounded(e->partner, sizeof(e->partner), ev->partner);
    pl_buf_t val;
    pl_buf_init(&val);
    int r = pl_kv_txn_get(txn, kv, key, (size_t)klen, &val);
    int exists = r == 1;
    if (exists) {
        int d = entry_load(kv->st->seal, user, ev->partner, val.data, val.len, e);
        if (d != 0)
            r = d;
    }
    if (before_unread)
        *before_unread = e->unread;
    if (r >= 0 && !exists && ev->kind == PL_INBOX_READ)
        r = 0; /* nothing to mark read in a conversation that does not exist */
    else if (r >= 0)
        r = pl_inbox_entry_apply(e, ev);
    if (r == 1 && !exists) {
        int a = add_conversation(txn, kv, user, ev->partner, max, evict);
        if (a < 0)
            r = a;
    }
    if (r == 1) {
        pl_buf_reset(&val);
        int p = entry_store(kv->st->seal, user, ev->partner, e, &val);
        if (p == 0)
            p = pl_kv_put(txn, kv, key, (size_t)klen, val.data, val.len);
        if (p < 0)
            r = p;
    }
    if (after)
        *after = *e;
    pl_buf_deinit(&val);
    free(e);
    return r;
}

/* ---- the list ---- */

typedef struct lister {
    pl_inbox_item_t *items;
    size_t n, cap;
    size_t prefix;
    pl_inbox_entry_t *scratch;
    const pl_seal_t *ring;
    const char *user;
    int err;
} lister_t;

static int list_visit(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    lister_t *l = ud;
    size_t plen = klen - l->prefix;
    char *partner = pl_xmalloc(plen + 1);
    memcpy(partner, (const char *)key + l->prefix, plen);
    partner[plen] = '\0';
    if (entry_load(l->ring, l->user, partner, val, vlen, l->scratch) != 0) {
        free(partner);
        return 0; /* a damaged (or unopenable) record is left out rather than hiding the rest */
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        pl_inbox_item_t *grown = realloc(l->items, l->cap * sizeof(*grown));
        if (!grown) {
            free(partner);
            l->err = -ENOMEM;
            return 1;
        }
        l->items = grown;
    }
    l->items[l->n++] = (pl_inbox_item_t){
        .partner = partner,
        .stamp = l->scratch->stamp,
        .unread = l->scratch->unread,
    };
    return 0;
}

static int by_activity(const void *a, const void *b)
{
    const pl_inbox_item_t *x = a, *y = b;
    if (x->stamp != y->stamp)
        return x->stamp > y->stamp ? -1 : 1;
    return strcmp(x->partner, y->partner);
}

/* The list as pl_inbox_list makes it; inside a write job with txn. */
static int list_in(pl_wtxn_t *txn, pl_kv_t *kv, const char *user, pl_inbox_item_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char prefix[INBOX_KEY_MAX + 1];
    int plen = make_key(prefix, user, 'c', NULL);
    if (plen < 0)
        return 0;
    lister_t l = {.prefix = (size_t)plen,
                  .scratch = pl_xmalloc(sizeof(pl_inbox_entry_t)),
                  .ring = kv->st->seal,
                  .user = user};
    int r = txn ? (int)pl_kv_txn_scan(txn, kv, prefix, (size_t)plen, list_visit, &l)
                : pl_kv_scan(kv, prefix, (size_t)plen, list_visit, &l);
    free(l.scratch);
    if (r < 0 || l.err < 0) {
        pl_inbox_items_free(&l.items, l.n);
        return r < 0 ? r : l.err;
    }
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), by_activity);
    *out = l.items;
    *n = l.n;
    return 0;
}

int pl_inbox_list(pl_kv_t *kv, const char *user, pl_inbox_item_t **out, size_t *n)
{
    return list_in(NULL, kv, user, out, n);
}

void pl_inbox_items_free(pl_inbox_item_t **itemsp, size_t n)
{
    pl_inbox_item_t *items = itemsp ? *itemsp : NULL;
    if (!items)
        return;
    *itemsp = NULL;
    for (size_t i = 0; i < n; i++)
        free(items[i].partner);
    free(items);
}

static int oldest_in(pl_wtxn_t *txn, pl_kv_t *kv, const char *user, char *out)
{
    pl_inbox_item_t *items;
    size_t n;
    int r = list_in(txn, kv, user, &items, &n);
    if (r < 0)
        return r;
    if (n > 0)
        copy_bounded(out, PL_INBOX_JID_MAX + 1, items[n - 1].partner);
    pl_inbox_items_free(&items, n);
    return n > 0;
}

int pl_inbox_oldest(pl_kv_t *kv, const char *user, char *out)
{
    return oldest_in(NULL, kv, user, out);
}
