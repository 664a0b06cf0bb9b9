/* admin.c — the moderator, admin and owner requests (XEP-0045 §8-§10):
 * muc#admin role and affiliation lists and changes (kick, voice, ban,
 * membership, admins, owners), and muc#owner configuration and
 * destruction.  Every request is checked in full before anything changes,
 * so a list with one refused item changes nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "xep/forms.h"

static muc_room_t *room_for(pl_hook_ctx_t *hc, muc_state_t *st)
{
    muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
    if (!r)
        pl_reply_error(hc, PL_ERR_ITEM_NOT_FOUND, "no such room");
    return r;
}

/* ---- muc#admin ---- */

pl_hook_result_t muc_admin_get(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    const pl_xml_t *item = pl_xml_child(hc->payload, "item", MUC_NS_ADMIN);
    muc_affil_t list;
    muc_role_t role;
    int by_affil = item && muc_affil_parse(pl_xml_attr(item, "affiliation"), &list) == 0;
    int by_role = item && !by_affil && muc_role_parse(pl_xml_attr(item, "role"), &role) == 0;
    if (!by_affil && !by_role) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "ask for an affiliation or a role");
        return PL_DONE;
    }
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = room_for(hc, st);
    if (!r)
        goto out;
    muc_affil_t actor = muc_room_affil(r, hc->from->bare);
    muc_occupant_t *me = muc_room_by_jid(r, hc->from->full);
    pl_stanza_err_t e = by_affil                               ? muc_may_list_affil(actor, list)
                        : me && me->role == MUC_ROLE_MODERATOR ? PL_ERR_NONE
                                                               : PL_ERR_FORBIDDEN;
    if (e) {
        pl_reply_error(hc, e, "you may not see this list");
        goto out;
    }
    pl_builder_t *b = pl_build_new("query", MUC_NS_ADMIN);
    if (by_affil) {
        for (size_t i = 0; i < r->naffs; i++) {
            if (r->affs[i].affil != list)
                continue;
            pl_build_child(b, "item", MUC_NS_ADMIN);
            pl_build_attr(b, "affiliation", muc_affil_name(list));
            pl_build_attr(b, "jid", r->affs[i].jid);
            pl_build_up(b);
        }
    } else {
        for (size_t i = 0; i < r->nocc; i++) {
            const muc_occupant_t *o = r->occ[i];
            if (o->role != role)
                continue;
            pl_build_child(b, "item", MUC_NS_ADMIN);
            pl_build_attr(b, "affiliation", muc_affil_name(muc_room_affil(r, o->bare)));
            pl_build_attr(b, "jid", o->jid);
            pl_build_attr(b, "nick", o->nick);
            pl_build_attr(b, "role", muc_role_name(o->role));
            pl_build_up(b);
        }
    }
    pl_stanza_t *q = pl_build_finish(b);
    pl_reply_result(hc, pl_stanza_root(q));
    pl_stanza_unref(&q);
out:
    pthread_mutex_unlock(&st->lock);
    return PL_DONE;
}

typedef struct change {
    const pl_xml_t *item;
    int is_role;
    muc_role_t role;
    muc_affil_t affil;
    pl_jid_t jid;           /* affiliation changes */
    muc_occupant_t *target; /* role changes */
    char *reason;
} change_t;

static void changes_free(change_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pl_jid_deinit(&c[i].jid);
        free(c[i].reason);
    }
    free(c);
}

/* Reads and checks every item; 0, or the condition (with *why). */
static pl_stanza_err_t read_changes(pl_hook_ctx_t *hc, muc_room_t *r, change_t **out, size_t *n,
                                    const char **why)
{
    muc_affil_t actor = muc_room_affil(r, hc->from->bare);
    muc_occupant_t *me = muc_room_by_jid(r, hc->from->full);
    /* A group never refuses its last owner's leaving: the group's heir
     * takes over (group_checks, muc_groups_hand_over). */
    size_t owners = r->kind != MUC_KIND_ROOM ? MUC_MAX_AFFILIATIONS + 1
                                             : muc_room_count_affil(r, MUC_AFFIL_OWNER);
    change_t *c = NULL;
    size_t k = 0;
    pl_stanza_err_t e = PL_ERR_NONE;
    for (const pl_xml_t *it = pl_xml_child(hc->payload, "item", MUC_NS_ADMIN); it && !e;
         it = pl_xml_next(it, "item", MUC_NS_ADMIN)) {
        if (k == 100) {
            *why = "too many items in one request";
            e = PL_ERR_POLICY_VIOLATION;
            break;
        }
        c = pl_xrealloc(c, (k + 1) * sizeof(*c));
        change_t *ch = &c[k++];
        memset(ch, 0, sizeof(*ch));
        ch->item = it;
        pl_buf_t t;
        pl_buf_init(&t);
        if (pl_xml_child_text(it, "reason", MUC_NS_ADMIN, &t) && t.len && t.len <= 1024)
            ch->reason = pl_xstrdup(pl_buf_cstr(&t));
        pl_buf_deinit(&t);
        const char *nick = pl_xml_attr(it, "nick"), *jid = pl_xml_attr(it, "jid");
        const char *role = pl_xml_attr(it, "role"), *affil = pl_xml_attr(it, "affiliation");
        if (role && nick && !affil) {
            ch->is_role = 1;
            if (muc_role_parse(role, &ch->role) != 0) {
                *why = "no such role";
                e = PL_ERR_BAD_REQUEST;
            } else if (!(ch->target = muc_room_by_nick(r, nick))) {
                *why = "no occupant has that nickname";
                e = PL_ERR_ITEM_NOT_FOUND;
            } else {
                e = muc_may_set_role(actor, me ? me->role : MUC_ROLE_NONE,
                                     muc_room_affil(r, ch->target->bare), ch->target->role,
                                     ch->role);
                *why = "you may not change this occupant's role";
            }
        } else if (affil && (jid || nick)) {
            muc_affil_t old;
            /* By nick (§9.3 allows it): the occupant's bare JID. */
            const muc_occupant_t *by_nick = jid ? NULL : muc_room_by_nick(r, nick);
            if (by_nick)
                jid = by_nick->bare;
            if (muc_affil_parse(affil, &ch->affil) != 0) {
                *why = "no such affiliation";
                e = PL_ERR_BAD_REQUEST;
            } else if (!jid) {
                *why = "no occupant has that nickname";
                e = PL_ERR_ITEM_NOT_FOUND;
            } else if (pl_jid_parse(&ch->jid, jid) != 0 || ch->jid.resource) {
                *why = "affiliations are for bare JIDs";
                e = PL_ERR_JID_MALFORMED;
            } else if (r->naffs >= MUC_MAX_AFFILIATIONS && ch->affil != MUC_AFFIL_NONE) {
                *why = "the room's lists are full";
                e = PL_ERR_RESOURCE_CONSTRAINT;
            } else {
                old = muc_room_affil(r, ch->jid.bare);
                e = r->kind != MUC_KIND_ROOM
                        ? muc_group_may_set_affil(actor, strcmp(ch->jid.bare, hc->from->bare) == 0,
                                                  old, ch->affil, owners)
                        : muc_may_set_affil(actor, old, ch->affil, owners);
                *why = e == PL_ERR_CONFLICT ? "the room needs an owner"
                                            : "you may not change this affiliation";
                if (!e && old == MUC_AFFIL_OWNER && ch->affil != MUC_AFFIL_OWNER)
                    owners--;
                if (!e && old != MUC_AFFIL_OWNER && ch->affil == MUC_AFFIL_OWNER)
                    owners++;
            }
        } else {
            *why = "an item has a nick and a role, or a jid (or nick) and an affiliation";
            e = PL_ERR_BAD_REQUEST;
        }
    }
    if (!e && k == 0) {
        *why = "no item";
        e = PL_ERR_BAD_REQUEST;
    }
    *out = c;
    *n = k;
    return e;
}

/* Occupants of a bare JID after its affiliation changed: banned ones and
 * non-members of a members-only room leave, the others get the role of
 * their new affiliation. */
static void apply_affil(muc_state_t *st, muc_out_t *out, muc_room_t *r, const change_t *ch,
                        const char *actor)
{
    muc_room_set_affil(r, ch->jid.bare, ch->affil, pl_now_ms());
    for (size_t i = r->nocc; i > 0; i--) {
        muc_occupant_t *o = r->occ[i - 1];
        if (strcmp(o->bare, ch->jid.bare) != 0)
            continue;
        if (ch->affil == MUC_AFFIL_OUTCAST)
            muc_remove_occupant(st, out, r, o, 301, actor, ch->reason);
        else if ((r->config.flags & MUC_CONF_MEMBERS_ONLY) && ch->affil < MUC_AFFIL_MEMBER)
            muc_remove_occupant(st, out, r, o, 321, actor, ch->reason);
        else {
            o->role = muc_default_role(&r->config, ch->affil);
            muc_broadcast_occupant(out, r, o, NULL, NULL, NULL, ch->reason, NULL);
        }
    }
}

/* A group's rules on a whole affiliation request (GRP-1, GRP-2, GRP-5):
 * the member limit, and an owner who steps down while no owner would be
 * left leaves the group (affiliation none or outcast) so that the heir
 * takes over; stepping down to admin or member is refused then. */
static pl_stanza_err_t group_checks(const muc_state_t *st, const muc_room_t *r, const change_t *c,
                                    size_t n, const char **why)
{
    if (r->kind == MUC_KIND_ROOM)
        return PL_ERR_NONE;
    size_t members = muc_group_members(r->affs, r->naffs);
    size_t owners = muc_room_count_affil(r, MUC_AFFIL_OWNER);
    for (size_t i = 0; i < n; i++) {
        if (c[i].is_role)
            continue;
        muc_affil_t old = muc_room_affil(r, c[i].jid.bare);
        members += (c[i].affil >= MUC_AFFIL_MEMBER) - (old >= MUC_AFFIL_MEMBER);
        owners += (c[i].affil == MUC_AFFIL_OWNER) - (old == MUC_AFFIL_OWNER);
    }
    pl_stanza_err_t e = muc_group_may_have(r, st->conf, members, why);
    for (size_t i = 0; i < n && !e && owners == 0; i++) {
        if (!c[i].is_role && muc_room_affil(r, c[i].jid.bare) == MUC_AFFIL_OWNER &&
            c[i].affil > MUC_AFFIL_NONE) {
            *why = "the group needs an owner: name another owner, or leave the group";
            e = PL_ERR_CONFLICT;
        }
    }
    return e;
}

pl_hook_result_t muc_admin_set(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    muc_out_t out = {0};
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = room_for(hc, st);
    if (!r)
        goto out;
    change_t *c;
    size_t n;
    const char *why = NULL;
    pl_stanza_err_t e = read_changes(hc, r, &c, &n, &why);
    if (!e)
        e = group_checks(st, r, c, n, &why);
    if (e) {
        pl_reply_error(hc, e, why);
        changes_free(c, n);
        goto out;
    }
    muc_occupant_t *me = muc_room_by_jid(r, hc->from->full);
    char *actor = me ? pl_xstrdup(me->nick) : NULL;
    int affil_changed = 0;
    for (size_t i = 0; i < n; i++) {
        change_t *ch = &c[i];
        if (!ch->is_role) {
            apply_affil(st, &out, r, ch, actor);
            affil_changed = 1;
            continue;
        }
        /* A target kicked by an earlier item of the same request is gone. */
        int still = 0;
        for (size_t k = 0; k < r->nocc; k++)
            still |= r->occ[k] == ch->target;
        if (!still)
            continue;
        if (ch->role == MUC_ROLE_NONE) {
            muc_remove_occupant(st, &out, r, ch->target, 307, actor, ch->reason);
            for (size_t k = i + 1; k < n; k++)
                if (c[k].target == ch->target)
                    c[k].target = NULL;
        } else {
            ch->target->role = ch->role;
            muc_broadcast_occupant(&out, r, ch->target, NULL, NULL, NULL, ch->reason, NULL);
        }
    }
    free(actor);
    changes_free(c, n);
    /* A group whose last owner left goes to its heir, or is dismissed. */
    if (affil_changed && muc_groups_hand_over(st, &out, r)) {
        pl_reply_result(hc, NULL);
        goto out;
    }
    if (affil_changed)
        muc_room_save(st, r);
    /* An admin acting from outside may have removed the last occupant. */
    muc_room_maybe_end(st, r);
    pl_reply_result(hc, NULL);
out:
    pthread_mutex_unlock(&st->lock);
    muc_out_flush(hc->server, &out);
    return PL_DONE;
}

/* ---- muc#owner ---- */

pl_hook_result_t muc_owner_get(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = room_for(hc, st);
    if (r && muc_room_affil(r, hc->from->bare) != MUC_AFFIL_OWNER) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only owners configure the room");
    } else if (r) {
        pl_builder_t *b = pl_build_new("query", MUC_NS_OWNER);
        muc_config_form(b, r, st->conf);
        muc_groups_form(b, r, st->conf, "form");
        pl_stanza_t *q = pl_build_finish(b);
        pl_reply_result(hc, pl_stanza_root(q));
        pl_stanza_unref(&q);
    }
    pthread_mutex_unlock(&st->lock);
    return PL_DONE;
}

void muc_room_destroy(muc_state_t *st, muc_out_t *out, muc_room_t *r, const char *venue,
                      const char *reason)
{
    for (size_t i = 0; i < r->nocc; i++) {
        const muc_occupant_t *o = r->occ[i];
        pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
        char from[MUC_JID_MAX];
        snprintf(from, sizeof(from), "%s/%s", r->jid, o->nick);
        pl_build_attr(b, "from", from);
        pl_build_attr(b, "to", o->jid);
        pl_build_attr(b, "type", "unavailable");
        pl_build_child(b, "x", PL_NS_MUC_USER);
        pl_build_child(b, "item", PL_NS_MUC_USER);
        pl_build_attr(b, "affiliation", "none");
        pl_build_attr(b, "role", "none");
        pl_build_up(b);
        pl_build_child(b, "destroy", PL_NS_MUC_USER);
        if (venue)
            pl_build_attr(b, "jid", venue);
        if (reason)
            pl_build_text_child(b, "reason", PL_NS_MUC_USER, reason);
        pl_build_up(b);
        pl_build_up(b);
        muc_build_occupant_id(b, o);
        muc_out_take(out, pl_build_finish(b));
    }
    if (r->config.flags & MUC_CONF_PERSISTENT)
        muc_room_forget(st, r);
    muc_room_drop(st, r);
}

/* §10.9: the owner destroys the room, naming an alternate venue and a
 * reason, both optional. */
static void destroy(muc_state_t *st, muc_out_t *out, muc_room_t *r, const pl_xml_t *d)
{
    const char *alt = pl_xml_attr(d, "jid");
    pl_jid_t altj;
    int alt_ok = alt && pl_jid_parse(&altj, alt) == 0;
    pl_buf_t reason;
    pl_buf_init(&reason);
    int has_reason = pl_xml_child_text(d, "reason", MUC_NS_OWNER, &reason) && reason.len;
    pl_module_log(st->ctx, PL_LOG_INFO, "room.destroyed", "room=%s", r->jid);
    muc_room_destroy(st, out, r, alt_ok ? altj.full : NULL,
                     has_reason ? pl_buf_cstr(&reason) : NULL);
    pl_buf_deinit(&reason);
    if (alt_ok)
        pl_jid_deinit(&altj);
}

/* Occupants a new configuration no longer admits leave (§10.2). */
static void enforce_config(muc_state_t *st, muc_out_t *out, muc_room_t *r)
{
    for (size_t i = r->nocc; i > 0; i--) {
        muc_occupant_t *o = r->occ[i - 1];
        muc_affil_t a = muc_room_affil(r, o->bare);
        if ((r->config.flags & MUC_CONF_MEMBERS_ONLY) && a < MUC_AFFIL_MEMBER)
            muc_remove_occupant(st, out, r, o, 322, NULL, NULL);
    }
}

pl_hook_result_t muc_owner_set(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    muc_out_t out = {0};
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = room_for(hc, st);
    if (!r)
        goto out;
    muc_affil_t actor = muc_room_affil(r, hc->from->bare);
    /* The urn:parley:groups form may come alone or after muc#roomconfig. */
    const pl_xml_t *gx = muc_groups_form_in(hc->payload);
    const pl_xml_t *x = pl_xml_child(hc->payload, "x", PL_NS_DATA_FORMS);
    if (x == gx)
        x = x ? pl_xml_next(x, "x", PL_NS_DATA_FORMS) : NULL;
    /* GRP-2: a member of a temporary group may rename it with the groups
     * form alone. */
    int member_rename = actor >= MUC_AFFIL_MEMBER && r->kind == MUC_KIND_TEMPORARY && gx && !x &&
                        !pl_xml_child(hc->payload, "destroy", MUC_NS_OWNER);
    if (actor != MUC_AFFIL_OWNER && !member_rename) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only owners configure or destroy the room");
        goto out;
    }
    const pl_xml_t *d = pl_xml_child(hc->payload, "destroy", MUC_NS_OWNER);
    const pl_xml_t *form = x ? x : gx;
    if (d) {
        destroy(st, &out, r, d);
        pl_reply_result(hc, NULL);
        goto out;
    }
    const char *type = form ? pl_xml_attr(form, "type") : NULL;
    if (type && strcmp(type, "cancel") == 0) {
        /* Cancelling the first configuration cancels the room (§10.1.3). */
        if (r->locked) {
            destroy(st, &out, r, hc->payload);
        }
        pl_reply_result(hc, NULL);
        goto out;
    }
    if (!type || strcmp(type, "submit") != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "submit a muc#roomconfig form, or destroy");
        goto out;
    }
    unsigned was = r->config.flags;
    int was_archiving = muc_archiving(r);
    const char *why = NULL;
    /* Both forms or nothing: the configuration before them is put back
     * when the groups form is refused after muc#roomconfig was taken. */
    muc_config_t before = {
        .name = r->config.name ? pl_xstrdup(r->config.name) : NULL,
        .description = r->config.description ? pl_xstrdup(r->config.description) : NULL,
        .password = r->config.password ? pl_xstrdup(r->config.password) : NULL,
        .flags = r->config.flags,
        .max_occupants = r->config.max_occupants,
    };
    int rc = x ? muc_config_apply(r, x, st->conf, &why) : 0;
    if (rc != 0) {
        muc_config_deinit(&before);
        pl_reply_error(hc, rc == -EBADMSG ? PL_ERR_BAD_REQUEST : PL_ERR_NOT_ACCEPTABLE, why);
        goto out;
    }
    int bulletin_changed = 0;
    pl_stanza_err_t ge =
        gx ? muc_groups_apply(r, gx, st->conf, actor, &bulletin_changed, &why) : PL_ERR_NONE;
    if (ge) {
        muc_config_deinit(&r->config);
        r->config = before;
        pl_reply_error(hc, ge, why);
        goto out;
    }
    muc_config_deinit(&before);
    muc_groups_enforce(r);
    if (r->kind != MUC_KIND_ROOM)
        r->active_ms = pl_now_ms();
    int was_locked = r->locked;
    r->locked = 0;
    enforce_config(st, &out, r);
    if ((was & MUC_CONF_PERSISTENT) && !(r->config.flags & MUC_CONF_PERSISTENT))
        muc_room_forget(st, r);
    else
        muc_room_save(st, r);
    if (!was_locked) {
        /* §10.2.1: 170 / 171 when logging (the room archive) went on / off. */
        int codes[3] = {104, 0, 0};
        if (muc_archiving(r) != was_archiving)
            codes[1] = muc_archiving(r) ? 170 : 171;
        muc_room_notice(&out, r, codes);
    }
    if (bulletin_changed)
        muc_groups_announce_bulletin(&out, r);
    /* Configured from outside into a temporary room nobody is in. */
    muc_room_maybe_end(st, r);
    pl_reply_result(hc, NULL);
out:
    pthread_mutex_unlock(&st->lock);
    muc_out_flush(hc->server, &out);
    return PL_DONE;
}
