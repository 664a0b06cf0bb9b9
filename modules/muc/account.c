/* account.c — a deleted account leaves every room (core/module.h,
 * account_removed): its affiliations go, and a room whose last owner it
 * was goes to its heir like a group whose owner leaves (the oldest admin,
 * else the oldest member), or ends when nobody is left to own it.  Twice:
 * in the stored records inside the deletion's transaction (so parleyctl
 * on a stopped server does it too), and, once that committed on a running
 * server, in the rooms in memory, which are the truth there and tell the
 * occupants (account_removed_after). */
#include <stdlib.h>
#include <string.h>

#include "storage/archive.h"

#include "lib/util.h"
#include "modules/muc/muc-private.h"

/* ---- the stored rooms, inside the deletion's transaction ---- */

typedef struct stored {
    pl_buf_t key;
    char *jid;
    pl_buf_t val;
} stored_t;

typedef struct collect {
    const char *bare;
    size_t blen;
    stored_t *v;
    size_t n, cap;
} collect_t;

/* Records that may name the account (a byte search; decoding tells). */
static int collect_visit(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    collect_t *c = ud;
    const char *k = key;
    const char *nul = memchr(k, '\0', klen);
    if (!nul || !memmem(val, vlen, c->bare, c->blen))
        return 0;
    size_t slen = (size_t)(nul - k), llen = klen - slen - 1;
    if (slen == 0 || llen == 0 || llen > PL_JID_PART_MAX || memchr(nul + 1, '\0', llen))
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->v = pl_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    stored_t *s = &c->v[c->n++];
    pl_buf_init(&s->key);
    pl_buf_init(&s->val);
    pl_buf_append(&s->key, key, klen);
    pl_buf_append(&s->val, val, vlen);
    pl_buf_t jid;
    pl_buf_init(&jid);
    pl_buf_append(&jid, nul + 1, llen);
    pl_buf_puts(&jid, "@");
    pl_buf_append(&jid, k, slen);
    s->jid = pl_xstrdup(pl_buf_cstr(&jid));
    pl_buf_deinit(&jid);
    return 0;
}

/* One stored room without the account: handed to its heir when it was
 * the last owner, deleted with its archive when nobody is left (stored
 * rooms are persistent), else stored again one generation later. */
static int forget_in(pl_wtxn_t *txn, pl_kv_t *kv, const stored_t *s, const char *bare)
{
    muc_room_t *r;
    if (muc_record_decode(s->jid, s->val.data, s->val.len, 0, &r) != 0)
        return 0; /* not a record: the module logs it at start */
    int rc = 0;
    if (!muc_room_aff(r, bare))
        goto out;
    int64_t now = pl_now_ms();
    muc_room_set_affil(r, bare, MUC_AFFIL_NONE, now);
    if (muc_room_count_affil(r, MUC_AFFIL_OWNER) == 0) {
        const muc_aff_t *heir = muc_group_heir(r->affs, r->naffs);
        if (!heir) {
            rc = pl_kv_del(txn, kv, s->key.data, s->key.len);
            if (rc >= 0)
                rc = pl_archive_delete_owner(txn, r->jid);
            goto out;
        }
        char *jid = pl_xstrdup(heir->jid);
        muc_room_set_affil(r, jid, MUC_AFFIL_OWNER, now);
        free(jid);
    }
    /* One generation up: the running server's own write of this room
     * (account_removed_after) comes with a generation at least as high,
     * so it is not refused as older. */
    r->gen++;
    pl_buf_t val;
    pl_buf_init(&val);
    muc_record_encode(r, &val);
    rc = pl_kv_put(txn, kv, s->key.data, s->key.len, val.data, val.len);
    pl_buf_deinit(&val);
out:
    muc_room_free(&r);
    return rc < 0 ? rc : 0;
}

int muc_account_removed(pl_wtxn_t *txn, const char *bare, void **note)
{
    /* The stored rooms, also when parleyctl deletes on a stopped server. */
    pl_kv_t *kv = pl_kv_txn_lookup(txn, "muc.rooms");
    collect_t c = {.bare = bare, .blen = strlen(bare)};
    long rc = kv ? pl_kv_txn_scan(txn, kv, NULL, 0, collect_visit, &c) : 0;
    for (size_t i = 0; i < c.n; i++) {
        if (rc >= 0)
            rc = forget_in(txn, kv, &c.v[i], bare);
        pl_buf_deinit(&c.v[i].key);
        pl_buf_deinit(&c.v[i].val);
        free(c.v[i].jid);
    }
    free(c.v);
    if (rc < 0)
        return -1;
    /* The rooms in memory, once the deletion committed on a running
     * server: account_removed_after. */
    *note = pl_xstrdup(bare);
    return 0;
}

/* A plain room without an owner: the heir, else its end when it is
 * persistent (a temporary room ends with its last occupant anyway).
 * 1 when `r` ended (and was freed). */
static int plain_hand_over(muc_state_t *st, muc_out_t *out, muc_room_t *r)
{
    if (muc_room_count_affil(r, MUC_AFFIL_OWNER) > 0)
        return 0;
    const muc_aff_t *heir = muc_group_heir(r->affs, r->naffs);
    if (!heir) {
        if (!(r->config.flags & MUC_CONF_PERSISTENT))
            return 0;
        pl_module_log(st->ctx, PL_LOG_INFO, "room.orphaned", "room=%s", r->jid);
        muc_room_destroy(st, out, r, NULL, "the room's last owner was deleted");
        return 1;
    }
    muc_hand_to_heir(st, out, r, heir, "room.handover");
    return 0;
}

static void leave_rooms(muc_state_t *st, const char *bare)
{
    muc_out_t out = {0};
    char **jids = NULL;
    size_t n = 0, cap = 0;
    size_t handed = 0, ended = 0;
    pthread_mutex_lock(&st->lock);
    /* The rooms first: a room that ends leaves the map. */
    const char *k;
    void *v;
    for (size_t i = 0; pl_map_iter(&st->rooms, &i, &k, &v);) {
        const muc_room_t *r = v;
        if (!muc_room_aff(r, bare))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            jids = pl_xrealloc(jids, cap * sizeof(*jids));
        }
        jids[n++] = pl_xstrdup(r->jid);
    }
    for (size_t i = 0; i < n; i++) {
        muc_room_t *r = pl_map_get(&st->rooms, jids[i]);
        if (!r)
            continue;
        muc_room_set_affil(r, bare, MUC_AFFIL_NONE, pl_now_ms());
        size_t owners = muc_room_count_affil(r, MUC_AFFIL_OWNER);
        int gone = r->kind != MUC_KIND_ROOM ? muc_groups_hand_over(st, &out, r)
                                            : plain_hand_over(st, &out, r);
        if (gone) {
            ended++;
            continue;
        }
        if (owners != muc_room_count_affil(r, MUC_AFFIL_OWNER))
            handed++;
        muc_room_save(st, r);
    }
    pthread_mutex_unlock(&st->lock);
    if (n)
        pl_module_log(st->ctx, PL_LOG_INFO, "account.removed",
                      "jid=%s rooms=%zu handed_over=%zu ended=%zu", bare, n, handed, ended);
    for (size_t i = 0; i < n; i++)
        free(jids[i]);
    free(jids);
    muc_out_flush(pl_module_server(st->ctx), &out);
}

void muc_account_removed_after(pl_server_t *srv, const char *bare, void *note)
{
    free(note);
    if (!srv)
        return; /* the server is down: see docs/modules/muc.md */
    pl_jid_t j;
    if (pl_jid_parse(&j, bare) != 0)
        return;
    pl_module_ctx_t *ctx = pl_host_module(pl_server_tenant_of(srv, j.domain), "muc");
    pl_jid_deinit(&j);
    muc_state_t *st = ctx ? pl_module_data(ctx) : NULL;
    if (st)
        leave_rooms(st, bare);
}
