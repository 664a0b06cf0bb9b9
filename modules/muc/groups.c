/* groups.c — the enterprise group kinds on top of XEP-0045 rooms (Parley
 * issue #16, GRP-1, GRP-2, GRP-3, GRP-5): contact groups and temporary
 * groups, their member limits, the extra data form urn:parley:groups that
 * custom clients read (in muc#owner and in the room's disco#info) and
 * standard clients ignore, lock/unlock between the kinds, the hand-over of
 * ownership when the last owner leaves, and the dismissal of idle
 * temporary groups.  The decisions themselves are pure functions in
 * rules.c; docs/extensions/groups.md is the protocol. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "xep/forms.h"

size_t muc_group_max(const muc_room_t *r, const muc_conf_t *conf)
{
    switch (r->kind) {
    case MUC_KIND_CONTACT: return (size_t)conf->contact_max_members;
    case MUC_KIND_TEMPORARY: return (size_t)conf->temporary_max_members;
    default: return 0;
    }
}

pl_stanza_err_t muc_group_may_have(const muc_room_t *r, const muc_conf_t *conf, size_t members,
                                   const char **why)
{
    size_t max = muc_group_max(r, conf);
    /* Only growth past the limit is refused: a group that is over it (a
     * lower limit configured since) may still lose members. */
    if (max && members > max && members > muc_group_members(r->affs, r->naffs)) {
        *why = r->kind == MUC_KIND_CONTACT
                   ? "the group has as many members as a contact group may"
                   : "the group has as many members as a temporary group may";
        return PL_ERR_RESOURCE_CONSTRAINT;
    }
    return PL_ERR_NONE;
}

void muc_groups_form(pl_builder_t *b, const muc_room_t *r, const muc_conf_t *conf, const char *type)
{
    if (r->kind == MUC_KIND_ROOM)
        return;
    int form = strcmp(type, "form") == 0;
    char num[32];
    pl_form_build_begin(b, type, MUC_NS_GROUPS);
    pl_form_build_field(b, "kind", form ? "list-single" : NULL, "Kind of group",
                        muc_kind_name(r->kind));
    /* In the owner's form the name and introduction are editable here too,
     * so a custom client needs only this form. */
    if (form) {
        pl_form_build_field(b, "name", "text-single", "Name", r->config.name ? r->config.name : "");
        pl_form_build_field(b, "description", "text-multi", "Introduction",
                            r->config.description ? r->config.description : "");
    }
    pl_form_build_field(b, "bulletin", form ? "text-multi" : NULL, "Bulletin",
                        r->bulletin ? r->bulletin : "");
    pl_form_build_field(b, "join_auth", form ? "list-single" : NULL, "Join authentication",
                        muc_join_auth_name(r->config.flags));
    snprintf(num, sizeof(num), "%zu", muc_group_members(r->affs, r->naffs));
    pl_form_build_field(b, "member_count", form ? "fixed" : NULL, "Members", num);
    snprintf(num, sizeof(num), "%zu", muc_group_max(r, conf));
    pl_form_build_field(b, "max_members", form ? "fixed" : NULL, "Maximum members", num);
    pl_form_build_field(b, "locked", form ? "boolean" : NULL, "Locked (a contact group)",
                        r->kind == MUC_KIND_CONTACT ? "1" : "0");
    pl_form_build_field(b, "push", form ? "list-single" : NULL, "Push to members who are away",
                        muc_push_name(r->config.flags));
    pl_build_up(b);
}

const char *muc_push_name(unsigned flags)
{
    return (flags & MUC_CONF_PUSH_NONE)       ? "none"
           : (flags & MUC_CONF_PUSH_MENTIONS) ? "mentions"
                                              : "all";
}

int muc_push_apply(const char *s, unsigned *flags)
{
    unsigned f = *flags & ~(unsigned)(MUC_CONF_PUSH_MENTIONS | MUC_CONF_PUSH_NONE);
    if (strcmp(s, "mentions") == 0)
        f |= MUC_CONF_PUSH_MENTIONS;
    else if (strcmp(s, "none") == 0)
        f |= MUC_CONF_PUSH_NONE;
    else if (strcmp(s, "all") != 0)
        return -1;
    *flags = f;
    return 0;
}

const pl_xml_t *muc_groups_form_in(const pl_xml_t *query)
{
    for (const pl_xml_t *x = pl_xml_child(query, "x", PL_NS_DATA_FORMS); x;
         x = pl_xml_next(x, "x", PL_NS_DATA_FORMS)) {
        pl_form_t f;
        if (pl_form_parse(x, &f) != 0)
            continue;
        const char *ft = pl_form_value(&f, "FORM_TYPE");
        int yes = ft && strcmp(ft, MUC_NS_GROUPS) == 0;
        pl_form_deinit(&f);
        if (yes)
            return x;
    }
    return NULL;
}

void muc_groups_enforce(muc_room_t *r)
{
    /* Both kinds outlive their occupants: a temporary group ends by
     * dismissal or expiry, not when the last client leaves. */
    if (r->kind != MUC_KIND_ROOM)
        r->config.flags |= MUC_CONF_PERSISTENT;
}

/* A text field: 0 and *out (NULL when absent; "" kept as "") or -1 when
 * too long. */
static int text_field(const pl_form_t *f, const char *var, size_t max, const char **out)
{
    const pl_form_field_t *fl = pl_form_field(f, var);
    *out = NULL;
    if (!fl)
        return 0;
    *out = fl->nvalues ? fl->values[0] : "";
    return strlen(*out) <= max ? 0 : -1;
}

static void set_text(char **slot, const char *v)
{
    free(*slot);
    *slot = *v ? pl_xstrdup(v) : NULL;
}

pl_stanza_err_t muc_groups_apply(muc_room_t *r, const pl_xml_t *x, const muc_conf_t *conf,
                                 muc_affil_t actor, int *bulletin_changed, const char **why)
{
    *bulletin_changed = 0;
    pl_form_t f;
    if (pl_form_parse(x, &f) != 0) {
        *why = "not a data form";
        return PL_ERR_BAD_REQUEST;
    }
    pl_stanza_err_t e = PL_ERR_NONE;
    const char *name, *desc, *bulletin;
    const char *kind_s = pl_form_value(&f, "kind"), *locked_s = pl_form_value(&f, "locked");
    const char *auth = pl_form_value(&f, "join_auth"), *push = pl_form_value(&f, "push");
    muc_kind_t kind = r->kind;
    unsigned flags = r->config.flags;
    if (text_field(&f, "name", MUC_MAX_NAME, &name) != 0 ||
        text_field(&f, "description", MUC_MAX_DESCRIPTION, &desc) != 0 ||
        text_field(&f, "bulletin", MUC_MAX_BULLETIN, &bulletin) != 0) {
        *why = "a value is too long";
        e = PL_ERR_NOT_ACCEPTABLE;
        goto out;
    }
    if (actor < MUC_AFFIL_OWNER) {
        /* GRP-2: a member of a temporary group renames it; nothing else. */
        for (size_t i = 0; i < f.nfields; i++) {
            const char *v = f.fields[i].var;
            if (strcmp(v, "FORM_TYPE") != 0 && strcmp(v, "name") != 0) {
                *why = "members of a temporary group change its name only";
                e = PL_ERR_FORBIDDEN;
                goto out;
            }
        }
    }
    if (kind_s && muc_kind_parse(kind_s, &kind) != 0) {
        *why = "kind is contact or temporary";
        e = PL_ERR_NOT_ACCEPTABLE;
        goto out;
    }
    if (locked_s) {
        /* GRP-5: locking makes a contact group, unlocking a temporary one. */
        int lock = strcmp(locked_s, "1") == 0 || strcmp(locked_s, "true") == 0;
        muc_kind_t want = lock ? MUC_KIND_CONTACT : MUC_KIND_TEMPORARY;
        if (!lock && strcmp(locked_s, "0") != 0 && strcmp(locked_s, "false") != 0) {
            *why = "locked is a boolean";
            e = PL_ERR_NOT_ACCEPTABLE;
            goto out;
        }
        if ((kind_s && kind != want) || (!kind_s && r->kind == MUC_KIND_ROOM)) {
            *why = kind_s ? "kind and locked disagree" : "only a group is locked or unlocked";
            e = PL_ERR_NOT_ACCEPTABLE;
            goto out;
        }
        kind = want;
    }
    if (kind == MUC_KIND_ROOM && r->kind != MUC_KIND_ROOM) {
        *why = "a group stays a group: lock or unlock it, or destroy it";
        e = PL_ERR_NOT_ACCEPTABLE;
        goto out;
    }
    if (kind != r->kind) {
        muc_room_t probe = {.kind = kind};
        size_t max = muc_group_max(&probe, conf);
        if (muc_group_members(r->affs, r->naffs) > max) {
            *why = kind == MUC_KIND_TEMPORARY
                       ? "the group has more members than a temporary group may have"
                       : "the group has more members than a contact group may have";
            e = PL_ERR_NOT_ALLOWED;
            goto out;
        }
        /* A room that becomes a group admits its members only, unless the
         * same form says otherwise; a temporary group's members may change
         * the subject, a contact group is run by its owners and admins. */
        if (r->kind == MUC_KIND_ROOM)
            flags = (flags | MUC_CONF_MEMBERS_ONLY) & ~(unsigned)MUC_CONF_PASSWORD;
        if (kind == MUC_KIND_TEMPORARY)
            flags |= MUC_CONF_CHANGE_SUBJECT;
        else
            flags &= ~(unsigned)MUC_CONF_CHANGE_SUBJECT;
    }
    if (auth) {
        if (muc_join_auth_apply(auth, &flags) != 0) {
            *why = "join_auth is none, password or approval";
            e = PL_ERR_NOT_ACCEPTABLE;
            goto out;
        }
        if ((flags & MUC_CONF_PASSWORD) && !r->config.password) {
            *why = "join_auth password needs the room's password (muc#roomconfig_roomsecret)";
            e = PL_ERR_NOT_ACCEPTABLE;
            goto out;
        }
    }
    if (push && muc_push_apply(push, &flags) != 0) {
        *why = "push is all, mentions or none";
        e = PL_ERR_NOT_ACCEPTABLE;
        goto out;
    }
    /* Everything is good: install it. */
    if (name)
        set_text(&r->config.name, name);
    if (desc)
        set_text(&r->config.description, desc);
    if (bulletin) {
        *bulletin_changed = strcmp(bulletin, r->bulletin ? r->bulletin : "") != 0;
        set_text(&r->bulletin, bulletin);
    }
    r->kind = kind;
    r->config.flags = flags;
    if (!(flags & MUC_CONF_PASSWORD)) {
        free(r->config.password);
        r->config.password = NULL;
    }
    muc_groups_enforce(r);
out:
    pl_form_deinit(&f);
    return e;
}

void muc_groups_announce_bulletin(muc_out_t *out, const muc_room_t *r)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", r->jid);
    pl_build_attr(b, "type", "groupchat");
    pl_build_text_child(b, "body", PL_NS_CLIENT, r->bulletin ? r->bulletin : "");
    pl_build_text_child(b, "bulletin", MUC_NS_GROUPS, r->bulletin ? r->bulletin : "");
    pl_stanza_t *base = pl_build_finish(b);
    for (size_t i = 0; i < r->nocc; i++)
        muc_out_take(out, pl_stanza_readdress_to(base, r->occ[i]->jid));
    pl_stanza_unref(&base);
}

void muc_hand_to_heir(muc_state_t *st, muc_out_t *out, muc_room_t *r, const muc_aff_t *heir,
                      const char *event)
{
    /* The heir's entry moves when its affiliation is set: copy the JID. */
    char *jid = pl_xstrdup(heir->jid);
    muc_room_set_affil(r, jid, MUC_AFFIL_OWNER, pl_now_ms());
    pl_module_log(st->ctx, PL_LOG_INFO, event, "room=%s owner=%s", r->jid, jid);
    for (size_t i = 0; i < r->nocc; i++) {
        muc_occupant_t *o = r->occ[i];
        if (strcmp(o->bare, jid) != 0)
            continue;
        o->role = muc_default_role(&r->config, MUC_AFFIL_OWNER);
        muc_broadcast_occupant(out, r, o, NULL, NULL, NULL, NULL, NULL);
    }
    free(jid);
}

int muc_groups_hand_over(muc_state_t *st, muc_out_t *out, muc_room_t *r)
{
    if (r->kind == MUC_KIND_ROOM || muc_room_count_affil(r, MUC_AFFIL_OWNER) > 0)
        return 0;
    const muc_aff_t *heir = muc_group_heir(r->affs, r->naffs);
    if (!heir) {
        muc_groups_dismiss(st, out, r, "the last member left the group");
        return 1;
    }
    muc_hand_to_heir(st, out, r, heir, "group.handover");
    return 0;
}

void muc_groups_dismiss(muc_state_t *st, muc_out_t *out, muc_room_t *r, const char *why)
{
    const char *name = r->config.name ? r->config.name : r->local;
    char body[MUC_MAX_NAME + 256];
    snprintf(body, sizeof(body), "The group \"%s\" was dismissed: %s.", name, why);
    /* Every member hears of it, joined or not (the offline store keeps the
     * notice for members who are not connected). */
    for (size_t i = 0; i < r->naffs; i++) {
        if (r->affs[i].affil < MUC_AFFIL_MEMBER)
            continue;
        pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
        pl_build_attr(b, "from", r->jid);
        pl_build_attr(b, "to", r->affs[i].jid);
        pl_build_attr(b, "type", "normal");
        pl_build_text_child(b, "body", PL_NS_CLIENT, body);
        pl_build_child(b, "dismissed", MUC_NS_GROUPS);
        pl_build_attr(b, "reason", why);
        pl_build_up(b);
        muc_out_take(out, pl_build_finish(b));
    }
    /* The occupants leave as from a destroyed room (XEP-0045 §10.9). */
    pl_module_log(st->ctx, PL_LOG_INFO, "group.dismissed", "room=%s why=\"%s\"", r->jid, why);
    muc_room_destroy(st, out, r, NULL, body);
}

enum { EXPIRY_MAX_BATCH = 10000 };

void muc_groups_expire(pl_module_ctx_t *ctx)
{
    muc_state_t *st = pl_module_data(ctx);
    const muc_conf_t *conf = st->conf;
    if (conf->temporary_expiry <= 0)
        return;
    size_t batch = (size_t)conf->expiry_batch;
    if (batch > EXPIRY_MAX_BATCH)
        batch = EXPIRY_MAX_BATCH;
    muc_room_t **due = pl_xcalloc(batch, sizeof(*due));
    size_t ndue = 0;
    muc_out_t out = {0};
    int64_t now = pl_now_ms();
    const char *k;
    void *v;
    pthread_mutex_lock(&st->lock);
    /* A few rooms a tick, resuming where the last tick stopped, so a
     * service with many rooms never holds the lock for long. */
    size_t seen = 0;
    while (seen < batch) {
        if (!pl_map_iter(&st->rooms, &st->expiry_pos, &k, &v)) {
            st->expiry_pos = 0;
            break;
        }
        seen++;
        if (muc_group_expired(v, now, conf->temporary_expiry))
            due[ndue++] = v;
    }
    char why[96];
    snprintf(why, sizeof(why), "no activity for %lld days",
             conf->temporary_expiry / (24LL * 3600 * 1000));
    if (conf->temporary_expiry < 24LL * 3600 * 1000)
        snprintf(why, sizeof(why), "no activity for %lld seconds", conf->temporary_expiry / 1000);
    for (size_t i = 0; i < ndue; i++)
        muc_groups_dismiss(st, &out, due[i], why);
    pthread_mutex_unlock(&st->lock);
    free(due);
    muc_out_flush(pl_module_server(ctx), &out);
}
