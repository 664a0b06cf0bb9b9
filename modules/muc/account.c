/* account.c — a deleted account leaves every room of its tenant's group
 * service (core/module.h, account_removed): its affiliations go, and a
 * room whose last owner it was goes to its heir like a group whose owner
 * leaves (the oldest admin, else the oldest member), or ends when nobody
 * is left to own it.  The rooms live in memory and are stored from there,
 * so the work is done on the running server once the deletion committed
 * (account_removed_after); the stored records follow through the usual
 * group commit. */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"

int muc_account_removed(pl_wtxn_t *txn, const char *bare, void **note)
{
    (void)txn;
    /* Nothing of the rooms is keyed by the account: the note only asks for
     * account_removed_after, which finds the rooms in memory. */
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
    char *jid = pl_xstrdup(heir->jid);
    muc_room_set_affil(r, jid, MUC_AFFIL_OWNER, pl_now_ms());
    pl_module_log(st->ctx, PL_LOG_INFO, "room.handover", "room=%s owner=%s", r->jid, jid);
    for (size_t i = 0; i < r->nocc; i++) {
        muc_occupant_t *o = r->occ[i];
        if (strcmp(o->bare, jid) != 0)
            continue;
        o->role = muc_default_role(&r->config, MUC_AFFIL_OWNER);
        muc_broadcast_occupant(out, r, o, NULL, NULL, NULL, NULL, NULL);
    }
    free(jid);
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
