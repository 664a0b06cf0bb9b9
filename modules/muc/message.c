/* message.c — what occupants say (XEP-0045 §7.4, §7.5, §8.1): groupchat
 * messages to everyone, stamped with the room's XEP-0359 stanza-id and
 * kept in the history ring; subject changes; private messages between
 * occupants.  A room message is built once without 'to' and every
 * occupant gets a copy whose bytes are the same but for its 'to'.  Every
 * member, joined or not, is told of a message with a body through
 * pl_notify_many, one batch per message (the inbox counts it, push wakes a
 * phone), with the members it mentions marked (mention.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"

pl_stanza_t *muc_subject_message(const muc_room_t *r, const char *to)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    char from[MUC_JID_MAX];
    if (r->subject_by)
        snprintf(from, sizeof(from), "%s/%s", r->jid, r->subject_by);
    else
        snprintf(from, sizeof(from), "%s", r->jid);
    pl_build_attr(b, "from", from);
    if (to)
        pl_build_attr(b, "to", to);
    pl_build_attr(b, "type", "groupchat");
    pl_build_text_child(b, "subject", PL_NS_CLIENT, r->subject ? r->subject : "");
    return pl_build_finish(b);
}

static void to_everyone(muc_out_t *out, const muc_room_t *r, const pl_stanza_t *base)
{
    for (size_t i = 0; i < r->nocc; i++)
        muc_out_take(out, pl_stanza_readdress_to(base, r->occ[i]->jid));
}

void muc_room_notice(muc_out_t *out, const muc_room_t *r, const int *codes)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", r->jid);
    pl_build_attr(b, "type", "groupchat");
    pl_build_child(b, "x", PL_NS_MUC_USER);
    for (const int *c = codes; *c; c++) {
        char num[16];
        snprintf(num, sizeof(num), "%d", *c);
        pl_build_child(b, "status", PL_NS_MUC_USER);
        pl_build_attr(b, "code", num);
        pl_build_up(b);
    }
    pl_build_up(b);
    pl_stanza_t *base = pl_build_finish(b);
    to_everyone(out, r, base);
    pl_stanza_unref(&base);
}

/* The occupant's token bucket: occupant_rate a second, occupant_burst at
 * once.  1 when the message may go. */
static int take_token(const muc_conf_t *conf, muc_occupant_t *o)
{
    uint64_t now = pl_mono_ms();
    if (o->tokens < 0) {
        o->tokens = (double)conf->occupant_burst;
    } else {
        o->tokens += (double)(now - o->tokens_at_ms) * (double)conf->occupant_rate / 1000.0;
        if (o->tokens > (double)conf->occupant_burst)
            o->tokens = (double)conf->occupant_burst;
    }
    o->tokens_at_ms = now;
    if (o->tokens < 1.0)
        return 0;
    o->tokens -= 1.0;
    return 1;
}

static void set_subject(pl_hook_ctx_t *hc, muc_state_t *st, muc_out_t *out, muc_room_t *r,
                        muc_occupant_t *o, const pl_xml_t *subject)
{
    pl_stanza_err_t e = muc_may_set_subject(&r->config, o->role);
    if (e) {
        muc_out_error(out, hc->stanza, e, "you may not change the subject of this room");
        return;
    }
    pl_buf_t t;
    pl_buf_init(&t);
    pl_xml_text(subject, &t);
    if (t.len > MUC_MAX_SUBJECT) {
        pl_buf_deinit(&t);
        muc_out_error(out, hc->stanza, PL_ERR_NOT_ACCEPTABLE, "the subject is too long");
        return;
    }
    free(r->subject);
    free(r->subject_by);
    r->subject = t.len ? pl_xstrdup(pl_buf_cstr(&t)) : NULL;
    r->subject_by = t.len ? pl_xstrdup(o->nick) : NULL;
    pl_buf_deinit(&t);
    r->active_ms = pl_now_ms();
    muc_room_save(st, r);
    pl_stanza_t *subj = muc_subject_message(r, NULL);
    pl_builder_t *b = pl_build_from(subj, NULL, NULL);
    muc_build_occupant_id(b, o);
    pl_stanza_t *base = pl_build_finish(b);
    pl_stanza_unref(&subj);
    to_everyone(out, r, base);
    pl_stanza_unref(&base);
}

/* Notifications for the room's members (GRP-6, GRP-7), made under the
 * lock and given to pl_notify_many once it is released (the inbox and push
 * hooks read storage and sessions). */
typedef struct muc_notes {
    pl_stanza_t *msg; /* the room's message as members see it (one, shared) */
    char **to;        /* the members' bare JIDs, copied: the room may change */
    unsigned *flags;
    size_t n, cap;
} muc_notes_t;

static void notes_add(muc_notes_t *nt, const char *bare, unsigned flags)
{
    if (nt->n == nt->cap) {
        nt->cap = nt->cap ? nt->cap * 2 : 16;
        nt->to = pl_xrealloc(nt->to, nt->cap * sizeof(*nt->to));
        nt->flags = pl_xrealloc(nt->flags, nt->cap * sizeof(*nt->flags));
    }
    nt->to[nt->n] = pl_xstrdup(bare);
    nt->flags[nt->n++] = flags;
}

/* One batch, so that the inbox queues one write for all the members. */
static void notes_flush(pl_server_t *srv, muc_notes_t *nt)
{
    if (nt->msg)
        pl_notify_many(srv, nt->msg, (const char *const *)nt->to, nt->flags, nt->n);
    for (size_t i = 0; i < nt->n; i++)
        free(nt->to[i]);
    pl_stanza_unref(&nt->msg);
    free(nt->to);
    free(nt->flags);
    *nt = (muc_notes_t){0};
}

/* Orders candidates by bare JID, those with a nick first. */
static int who_cmp(const void *a, const void *b)
{
    const muc_mention_who_t *x = a, *y = b;
    int c = strcmp(x->bare, y->bare);
    return c ? c : (y->nick != NULL) - (x->nick != NULL);
}

/* A bare JID that is an account of the room's own tenant: nobody else is
 * told (another tenant's user may be on a member list, never notified). */
static int of_tenant(const char *bare, const char *host)
{
    const char *at = strchr(bare, '@');
    return at && strcmp(at + 1, host) == 0;
}

/* Every distinct member bare JID of the room's tenant (affiliated member,
 * admin or owner, or occupant), but the sender, is told of the message
 * `base` (from room/nick, with the room's stanza-id) as members see it,
 * addressed to its bare JID.  PL_NOTIFY_MENTION for those it mentions,
 * PL_NOTIFY_PUSH as the room's push setting says.  Sorting once keeps it
 * O(m log m) for m members and occupants, whatever the room's size. */
static void notify_members(pl_hook_ctx_t *hc, muc_state_t *st, muc_notes_t *nt, const muc_room_t *r,
                           const muc_occupant_t *o, const pl_stanza_t *base)
{
    const char *host = pl_host_name(hc->host);
    size_t cap = r->naffs + r->nocc, n = 0;
    if (cap == 0)
        return;
    muc_mention_who_t *who = pl_xmalloc(cap * sizeof(*who));
    for (size_t i = 0; i < r->naffs; i++)
        if (r->affs[i].affil >= MUC_AFFIL_MEMBER && of_tenant(r->affs[i].jid, host) &&
            strcmp(r->affs[i].jid, o->bare) != 0)
            who[n++] = (muc_mention_who_t){.bare = r->affs[i].jid};
    for (size_t i = 0; i < r->nocc; i++)
        if (of_tenant(r->occ[i]->bare, host) && strcmp(r->occ[i]->bare, o->bare) != 0)
            who[n++] = (muc_mention_who_t){.bare = r->occ[i]->bare, .nick = r->occ[i]->nick};
    qsort(who, n, sizeof(*who), who_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(who[k - 1].bare, who[i].bare) != 0)
            who[k++] = who[i];
    n = k;
    unsigned char *hit = pl_xcalloc(n ? n : 1, 1);
    if (n && st->conf->max_mentions > 0)
        muc_mentions_find(pl_stanza_root(base), r->jid, who, n, (size_t)st->conf->max_mentions,
                          hit);
    unsigned flags = r->config.flags;
    for (size_t i = 0; i < n; i++) {
        unsigned f = hit[i] ? PL_NOTIFY_MENTION : 0;
        if (!(flags & MUC_CONF_PUSH_NONE) && (hit[i] || !(flags & MUC_CONF_PUSH_MENTIONS)))
            f |= PL_NOTIFY_PUSH;
        notes_add(nt, who[i].bare, f);
    }
    if (n)
        nt->msg = pl_stanza_ref((pl_stanza_t *)base);
    free(hit);
    free(who);
}

static void groupchat(pl_hook_ctx_t *hc, muc_state_t *st, muc_out_t *out, muc_notes_t *nt,
                      muc_room_t *r, muc_occupant_t *o)
{
    const pl_xml_t *root = pl_stanza_root(hc->stanza);
    const pl_xml_t *subject = pl_xml_child(root, "subject", PL_NS_CLIENT);
    if (subject && !pl_xml_child(root, "body", PL_NS_CLIENT)) {
        set_subject(hc, st, out, r, o, subject);
        return;
    }
    if (o->role < MUC_ROLE_PARTICIPANT) {
        muc_out_error(out, hc->stanza, PL_ERR_FORBIDDEN, "visitors may not speak in this room");
        return;
    }
    if (!take_token(st->conf, o)) {
        muc_out_error(out, hc->stanza, PL_ERR_RESOURCE_CONSTRAINT,
                      "too many messages: wait a moment before sending more");
        return;
    }
    char id[PL_ID_SIZE], from[MUC_JID_MAX];
    pl_server_new_id(hc->server, id);
    pl_builder_t *b = pl_build_from(hc->stanza, muc_not_the_rooms, NULL);
    pl_build_child(b, "stanza-id", PL_NS_SID);
    pl_build_attr(b, "id", id);
    pl_build_attr(b, "by", r->jid);
    pl_build_up(b);
    muc_build_occupant_id(b, o);
    pl_stanza_t *built = pl_build_finish(b);
    /* From the sender's nick, which the room knows from the session the
     * core stamped: nobody speaks as another occupant. */
    snprintf(from, sizeof(from), "%s/%s", r->jid, o->nick);
    pl_stanza_t *base = pl_stanza_readdress(built, from, NULL);
    pl_stanza_unref(&built);
    int64_t now = pl_now_ms();
    r->active_ms = now;
    muc_room_history_push(r, base, now);
    muc_archive_store(st, r, o, base, id);
    to_everyone(out, r, base);
    if (pl_xml_child(pl_stanza_root(base), "body", PL_NS_CLIENT) &&
        pl_notify_wanted(hc->server, pl_host_name(hc->host)))
        notify_members(hc, st, nt, r, o, base);
    pl_stanza_unref(&base);
}

/* §7.5: to one occupant, from the sender's occupant JID. */
static void private_message(pl_hook_ctx_t *hc, muc_out_t *out, muc_room_t *r, muc_occupant_t *o)
{
    if (!(r->config.flags & MUC_CONF_ALLOW_PM)) {
        muc_out_error(out, hc->stanza, PL_ERR_FORBIDDEN, "private messages are off in this room");
        return;
    }
    muc_occupant_t *target = muc_room_by_nick(r, hc->to->resource);
    if (!target) {
        muc_out_error(out, hc->stanza, PL_ERR_ITEM_NOT_FOUND, "no such occupant");
        return;
    }
    pl_builder_t *b = pl_build_from(hc->stanza, muc_not_the_rooms, NULL);
    if (!pl_xml_child(pl_stanza_root(hc->stanza), "x", PL_NS_MUC_USER)) {
        pl_build_child(b, "x", PL_NS_MUC_USER);
        pl_build_up(b);
    }
    muc_build_occupant_id(b, o);
    pl_stanza_t *built = pl_build_finish(b);
    char from[MUC_JID_MAX];
    snprintf(from, sizeof(from), "%s/%s", r->jid, o->nick);
    muc_out_take(out, pl_stanza_readdress(built, from, target->jid));
    pl_stanza_unref(&built);
}

enum { MUC_MAX_INVITES = 10 }; /* invitations in one message */

/* Whether `jid` belongs to the service's tenant (its host or one of the
 * host's components): only they may enter, so only they are invited, and
 * a room never becomes a relay of messages to another tenant. */
static int of_this_tenant(const pl_hook_ctx_t *hc, const pl_jid_t *jid)
{
    return pl_server_tenant_of(hc->server, jid->domain) == hc->host;
}

/* §7.8.2: the room passes the invitation on from itself, naming the
 * inviter; who may invite is muc_may_invite's (rules.c); in a members-only
 * room or a group the invitee becomes a member (so the invitation can be
 * used).  The invitation goes to the JID the inviter named: a bare JID
 * reaches every available client of the invitee (RFC 6121 §8.5.2.1.1, as
 * the router does for any message to a bare JID), and the offline store
 * keeps it for an invitee with none. */
static void invite(pl_hook_ctx_t *hc, muc_state_t *st, muc_out_t *out, muc_room_t *r,
                   const muc_occupant_t *o, const pl_xml_t *x)
{
    if (!o) {
        muc_out_error(out, hc->stanza, PL_ERR_NOT_ACCEPTABLE, "only occupants invite");
        return;
    }
    /* In a group (any join authentication) an invitation by a member
     * makes a member too (GRP-2, GRP-5). */
    int members_only = (r->config.flags & MUC_CONF_MEMBERS_ONLY) || r->kind != MUC_KIND_ROOM;
    if (muc_may_invite(&r->config, r->kind, muc_room_affil(r, o->bare)) != PL_ERR_NONE) {
        muc_out_error(out, hc->stanza, PL_ERR_FORBIDDEN,
                      members_only ? "only members invite to this room"
                                   : "only admins and owners invite to this room");
        return;
    }
    /* Every invitee is checked before anyone is invited. */
    pl_jid_t to[MUC_MAX_INVITES];
    const pl_xml_t *inv[MUC_MAX_INVITES];
    size_t n = 0;
    pl_stanza_err_t e = PL_ERR_NONE;
    const char *why = NULL;
    for (const pl_xml_t *i = pl_xml_child(x, "invite", PL_NS_MUC_USER); i && !e;
         i = pl_xml_next(i, "invite", PL_NS_MUC_USER)) {
        if (n == MUC_MAX_INVITES) {
            e = PL_ERR_POLICY_VIOLATION;
            why = "too many invitations in one message";
        } else if (!pl_xml_attr(i, "to") || pl_jid_parse(&to[n], pl_xml_attr(i, "to")) != 0) {
            e = PL_ERR_JID_MALFORMED;
            why = "an invitation names nobody";
        } else if (muc_room_affil(r, to[n].bare) == MUC_AFFIL_OUTCAST) {
            pl_jid_deinit(&to[n]);
            e = PL_ERR_FORBIDDEN;
            why = "that user is banned from this room";
        } else if (!to[n].local || !of_this_tenant(hc, &to[n])) {
            pl_jid_deinit(&to[n]);
            e = PL_ERR_FORBIDDEN;
            why = "only users of this service's own domain can be invited";
        } else {
            inv[n++] = i;
        }
    }
    if (!e && members_only) {
        /* The group's member limit counts the invitees who become members. */
        size_t members = muc_group_members(r->affs, r->naffs);
        for (size_t k = 0; k < n; k++) {
            int again = 0;
            for (size_t j = 0; j < k; j++)
                again |= strcmp(to[j].bare, to[k].bare) == 0;
            members += !again && muc_room_affil(r, to[k].bare) == MUC_AFFIL_NONE;
        }
        e = muc_group_may_have(r, st->conf, members, &why);
    }
    if (e) {
        muc_out_error(out, hc->stanza, e, why);
        for (size_t k = 0; k < n; k++)
            pl_jid_deinit(&to[k]);
        return;
    }
    int added = 0;
    for (size_t k = 0; k < n; k++) {
        if (members_only && muc_room_affil(r, to[k].bare) == MUC_AFFIL_NONE) {
            muc_room_set_affil(r, to[k].bare, MUC_AFFIL_MEMBER, pl_now_ms());
            added = 1;
        }
        pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
        pl_build_attr(b, "from", r->jid);
        pl_build_attr(b, "to", to[k].full);
        const char *id = pl_stanza_attr(hc->stanza, "id");
        if (id)
            pl_build_attr(b, "id", id);
        pl_build_child(b, "x", PL_NS_MUC_USER);
        pl_build_child(b, "invite", PL_NS_MUC_USER);
        pl_build_attr(b, "from", hc->from->bare);
        const pl_xml_t *reason = pl_xml_child(inv[k], "reason", PL_NS_MUC_USER);
        if (reason)
            pl_build_copy(b, reason);
        pl_build_up(b);
        if ((r->config.flags & MUC_CONF_PASSWORD) && r->config.password)
            pl_build_text_child(b, "password", PL_NS_MUC_USER, r->config.password);
        pl_build_up(b);
        muc_out_take(out, pl_build_finish(b));
        pl_jid_deinit(&to[k]);
    }
    if (added)
        muc_room_save(st, r);
}

/* §7.8.2: an invitee's decline goes back to the inviter, from the room. */
static void decline(pl_hook_ctx_t *hc, muc_out_t *out, muc_room_t *r, const pl_xml_t *d)
{
    pl_jid_t to;
    if (!pl_xml_attr(d, "to") || pl_jid_parse(&to, pl_xml_attr(d, "to")) != 0) {
        muc_out_error(out, hc->stanza, PL_ERR_JID_MALFORMED, "a decline names the inviter");
        return;
    }
    /* Invitations stay inside the tenant, and so do declines: the room
     * relays nothing between tenants. */
    if (!of_this_tenant(hc, hc->from) || !of_this_tenant(hc, &to)) {
        pl_jid_deinit(&to);
        muc_out_error(out, hc->stanza, PL_ERR_FORBIDDEN,
                      "declines go between users of this service's own domain");
        return;
    }
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", r->jid);
    pl_build_attr(b, "to", to.full);
    pl_build_child(b, "x", PL_NS_MUC_USER);
    pl_build_child(b, "decline", PL_NS_MUC_USER);
    pl_build_attr(b, "from", hc->from->bare);
    const pl_xml_t *reason = pl_xml_child(d, "reason", PL_NS_MUC_USER);
    if (reason)
        pl_build_copy(b, reason);
    pl_build_up(b);
    pl_build_up(b);
    muc_out_take(out, pl_build_finish(b));
    pl_jid_deinit(&to);
}

/* A message to the room itself that is not groupchat. */
static void to_the_room(pl_hook_ctx_t *hc, muc_state_t *st, muc_out_t *out, muc_room_t *r,
                        const muc_occupant_t *o)
{
    const pl_xml_t *x = pl_xml_child(pl_stanza_root(hc->stanza), "x", PL_NS_MUC_USER);
    const pl_xml_t *d = x ? pl_xml_child(x, "decline", PL_NS_MUC_USER) : NULL;
    if (x && pl_xml_child(x, "invite", PL_NS_MUC_USER))
        invite(hc, st, out, r, o, x);
    else if (d)
        decline(hc, out, r, d);
    else
        muc_out_error(out, hc->stanza, PL_ERR_FEATURE_NOT_IMPLEMENTED,
                      "voice requests and registration are not supported yet");
}

pl_hook_result_t muc_on_message(pl_hook_ctx_t *hc)
{
    if (strcmp(hc->type, "error") == 0)
        return muc_on_occupant_error(hc);
    muc_state_t *st = muc_state(hc);
    muc_out_t out = {0};
    muc_notes_t notes = {0};
    int gc = strcmp(hc->type, "groupchat") == 0;
    if (!hc->to->local) {
        muc_out_error(&out, hc->stanza, PL_ERR_FEATURE_NOT_IMPLEMENTED, "messages go to a room");
        muc_out_flush(hc->server, &out);
        return PL_DONE;
    }
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
    muc_occupant_t *o = r && !r->locked ? muc_room_by_jid(r, hc->from->full) : NULL;
    if (!r || (r->locked && !muc_room_by_jid(r, hc->from->full)))
        muc_out_error(&out, hc->stanza, PL_ERR_ITEM_NOT_FOUND, "no such room");
    else if (r->locked)
        muc_out_error(&out, hc->stanza, PL_ERR_NOT_ALLOWED, "configure the room first");
    else if (!hc->to->resource && !gc)
        to_the_room(hc, st, &out, r, o);
    else if (!o)
        muc_out_error(&out, hc->stanza, PL_ERR_NOT_ACCEPTABLE, "you are not in this room");
    else if (hc->to->resource && gc)
        muc_out_error(&out, hc->stanza, PL_ERR_BAD_REQUEST,
                      "a groupchat message goes to the room, not to an occupant");
    else if (hc->to->resource)
        private_message(hc, &out, r, o);
    else
        groupchat(hc, st, &out, &notes, r, o);
    pthread_mutex_unlock(&st->lock);
    muc_out_flush(hc->server, &out);
    notes_flush(hc->server, &notes);
    return PL_DONE;
}
