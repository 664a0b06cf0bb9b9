/* rules.c — XEP-0045's decisions as pure functions: who may enter a room,
 * which role a newcomer gets, who may change whose role or affiliation
 * (the tables of §5.1.3, §5.2.1, §8, §9 and §10), who may set the subject
 * and who sees real JIDs; and the group kinds' (the last owner's heir,
 * which temporary groups expired, join authentication).  No server, no
 * lock: unit-tested in tests/unit/test_muc.c. */
#include <string.h>

#include "modules/muc/muc-private.h"

pl_stanza_err_t muc_join_decide(const muc_config_t *c, int locked, const muc_join_req_t *j)
{
    /* A room awaiting its owner's configuration does not exist for anyone
     * else yet (§10.1.2). */
    if (locked && j->affil != MUC_AFFIL_OWNER)
        return PL_ERR_ITEM_NOT_FOUND;
    if (j->affil == MUC_AFFIL_OUTCAST)
        return PL_ERR_FORBIDDEN; /* §7.2.7 */
    if ((c->flags & MUC_CONF_MEMBERS_ONLY) && j->affil < MUC_AFFIL_MEMBER)
        return PL_ERR_REGISTRATION_REQUIRED; /* §7.2.6 */
    if ((c->flags & MUC_CONF_PASSWORD) && !j->password_ok && j->affil < MUC_AFFIL_OWNER)
        return PL_ERR_NOT_AUTHORIZED; /* §7.2.5 */
    if (j->nick_taken)
        return PL_ERR_CONFLICT; /* §7.2.8 */
    /* §7.2.9: admins and owners may enter a full room. */
    if (j->occupants >= j->max && j->affil < MUC_AFFIL_ADMIN)
        return PL_ERR_SERVICE_UNAVAILABLE;
    return PL_ERR_NONE;
}

muc_role_t muc_default_role(const muc_config_t *c, muc_affil_t a)
{
    /* §5.1.2 */
    if (a >= MUC_AFFIL_ADMIN)
        return MUC_ROLE_MODERATOR;
    if (a == MUC_AFFIL_MEMBER)
        return MUC_ROLE_PARTICIPANT;
    if (a == MUC_AFFIL_OUTCAST)
        return MUC_ROLE_NONE;
    return (c->flags & MUC_CONF_MODERATED) ? MUC_ROLE_VISITOR : MUC_ROLE_PARTICIPANT;
}

pl_stanza_err_t muc_may_set_role(muc_affil_t actor_aff, muc_role_t actor_role,
                                 muc_affil_t target_aff, muc_role_t target_role, muc_role_t role)
{
    if (actor_role != MUC_ROLE_MODERATOR)
        return PL_ERR_FORBIDDEN;
    /* Admins and owners are moderators by affiliation: no role change
     * takes that away or kicks them (§8.2, §9.7). */
    if (target_aff >= MUC_AFFIL_ADMIN && role != MUC_ROLE_MODERATOR)
        return PL_ERR_NOT_ALLOWED;
    /* Nobody acts on someone of a higher affiliation (§8.2, §8.4). */
    if (target_aff > actor_aff)
        return PL_ERR_NOT_ALLOWED;
    /* Granting or revoking moderator is for admins and owners (§9.6, §9.7). */
    if ((role == MUC_ROLE_MODERATOR || target_role == MUC_ROLE_MODERATOR) &&
        actor_aff < MUC_AFFIL_ADMIN)
        return PL_ERR_NOT_ALLOWED;
    return PL_ERR_NONE;
}

pl_stanza_err_t muc_may_set_affil(muc_affil_t actor, muc_affil_t old, muc_affil_t affil,
                                  size_t owners)
{
    if (actor < MUC_AFFIL_ADMIN)
        return PL_ERR_FORBIDDEN;
    /* Admins manage members and outcasts below them (§9); owners
     * everything (§10). */
    if (actor == MUC_AFFIL_ADMIN && (old >= MUC_AFFIL_ADMIN || affil >= MUC_AFFIL_ADMIN))
        return PL_ERR_NOT_ALLOWED;
    /* The last owner cannot go (§10.6, §10.9). */
    if (old == MUC_AFFIL_OWNER && affil != MUC_AFFIL_OWNER && owners <= 1)
        return PL_ERR_CONFLICT;
    return PL_ERR_NONE;
}

pl_stanza_err_t muc_may_set_subject(const muc_config_t *c, muc_role_t role)
{
    if (role == MUC_ROLE_MODERATOR)
        return PL_ERR_NONE;
    if (role == MUC_ROLE_PARTICIPANT && (c->flags & MUC_CONF_CHANGE_SUBJECT))
        return PL_ERR_NONE;
    return PL_ERR_FORBIDDEN; /* §8.1 */
}

pl_stanza_err_t muc_may_invite(const muc_config_t *c, muc_kind_t kind, muc_affil_t a)
{
    if (a == MUC_AFFIL_OUTCAST)
        return PL_ERR_FORBIDDEN;
    if (kind == MUC_KIND_TEMPORARY)
        return a >= MUC_AFFIL_MEMBER ? PL_ERR_NONE : PL_ERR_FORBIDDEN;
    muc_affil_t least = (c->flags & MUC_CONF_NO_INVITES) ? MUC_AFFIL_ADMIN
                        : (c->flags & MUC_CONF_MEMBERS_ONLY) || kind != MUC_KIND_ROOM
                            ? MUC_AFFIL_MEMBER
                            : MUC_AFFIL_NONE;
    return a >= least ? PL_ERR_NONE : PL_ERR_FORBIDDEN;
}

int muc_may_see_jid(const muc_config_t *c, muc_role_t viewer)
{
    return (c->flags & MUC_CONF_WHOIS_ANYONE) || viewer == MUC_ROLE_MODERATOR;
}

pl_stanza_err_t muc_may_list_affil(muc_affil_t actor, muc_affil_t list)
{
    /* Admins see members and outcasts; the admin and owner lists are the
     * owners' (§9.5, §10.5, §10.8). */
    if (actor == MUC_AFFIL_OWNER)
        return PL_ERR_NONE;
    if (actor == MUC_AFFIL_ADMIN && list < MUC_AFFIL_ADMIN && list != MUC_AFFIL_NONE)
        return PL_ERR_NONE;
    return PL_ERR_FORBIDDEN;
}

/* ---- the group kinds (GRP-1, GRP-2, GRP-5) ---- */

static const char *const kind_names[] = {"room", "contact", "temporary"};

const char *muc_kind_name(muc_kind_t k)
{
    return k >= MUC_KIND_ROOM && k <= MUC_KIND_TEMPORARY ? kind_names[k] : "room";
}

int muc_kind_parse(const char *s, muc_kind_t *out)
{
    for (int i = 0; s && i < 3; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (muc_kind_t)i;
            return 0;
        }
    }
    return -1;
}

size_t muc_group_members(const muc_aff_t *affs, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += affs[i].affil >= MUC_AFFIL_MEMBER;
    return m;
}

/* Is a older than b (earlier grant; the same instant: the smaller JID)? */
static int older(const muc_aff_t *a, const muc_aff_t *b)
{
    if (a->since_ms != b->since_ms)
        return a->since_ms < b->since_ms;
    return strcmp(a->jid, b->jid) < 0;
}

const muc_aff_t *muc_group_heir(const muc_aff_t *affs, size_t n)
{
    const muc_aff_t *best = NULL;
    for (size_t i = 0; i < n; i++) {
        const muc_aff_t *a = &affs[i];
        if (a->affil < MUC_AFFIL_MEMBER || a->affil > MUC_AFFIL_ADMIN)
            continue;
        /* Any admin before any member; among equals, the oldest. */
        if (!best || a->affil > best->affil || (a->affil == best->affil && older(a, best)))
            best = a;
    }
    return best;
}

pl_stanza_err_t muc_group_may_set_affil(muc_affil_t actor, int self, muc_affil_t old,
                                        muc_affil_t affil, size_t owners)
{
    if (self && actor >= MUC_AFFIL_MEMBER && old == actor && affil == MUC_AFFIL_NONE)
        return PL_ERR_NONE;
    return muc_may_set_affil(actor, old, affil, owners);
}

int muc_group_expired(const muc_room_t *r, int64_t now_ms, int64_t expiry_ms)
{
    return r->kind == MUC_KIND_TEMPORARY && !r->locked && expiry_ms > 0 &&
           now_ms - r->active_ms >= expiry_ms;
}

const char *muc_join_auth_name(unsigned flags)
{
    if (flags & MUC_CONF_MEMBERS_ONLY)
        return "approval";
    return (flags & MUC_CONF_PASSWORD) ? "password" : "none";
}

int muc_join_auth_apply(const char *s, unsigned *flags)
{
    unsigned f = *flags & ~(unsigned)(MUC_CONF_MEMBERS_ONLY | MUC_CONF_PASSWORD);
    if (strcmp(s, "approval") == 0)
        f |= MUC_CONF_MEMBERS_ONLY;
    else if (strcmp(s, "password") == 0)
        f |= MUC_CONF_PASSWORD;
    else if (strcmp(s, "none") != 0)
        return -1;
    *flags = f;
    return 0;
}
