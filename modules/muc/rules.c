/* rules.c — XEP-0045's decisions as pure functions: who may enter a room,
 * which role a newcomer gets, who may change whose role or affiliation
 * (the tables of §5.1.3, §5.2.1, §8, §9 and §10), who may set the subject
 * and who sees real JIDs.  No server, no lock: unit-tested in
 * tests/unit/test_muc.c. */
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
