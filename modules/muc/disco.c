/* disco.c — service discovery on the group service (XEP-0045 §6): the
 * service's identity and features and its public rooms, and each room's
 * identity, the muc_* features that describe its configuration, and the
 * muc#roominfo form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "xep/forms.h"
#include "xep/rsm.h"

/* Public rooms per disco#items page, with or without XEP-0059. */
enum { DISCO_PAGE = 100 };

static void identity(pl_builder_t *b, const char *name)
{
    pl_build_child(b, "identity", PL_NS_DISCO_INFO);
    pl_build_attr(b, "category", "conference");
    pl_build_attr(b, "type", "text");
    pl_build_attr(b, "name", name);
    pl_build_up(b);
}

static void feature(pl_builder_t *b, const char *var)
{
    pl_build_child(b, "feature", PL_NS_DISCO_INFO);
    pl_build_attr(b, "var", var);
    pl_build_up(b);
}

static void room_info(pl_builder_t *b, const muc_room_t *r)
{
    const muc_config_t *c = &r->config;
    identity(b, c->name ? c->name : r->local);
    feature(b, MUC_NS);
    feature(b, PL_NS_DISCO_INFO);
    feature(b, PL_NS_SID);
    feature(b, MUC_NS_SELF_PING);
    feature(b, MUC_NS_OCCUPANT_ID);
    /* Groupchat keeps the sender's 'id', so a client recognises its own
     * message when the room reflects it. */
    feature(b, MUC_NS "#stable_id");
    feature(b, (c->flags & MUC_CONF_PUBLIC) ? "muc_public" : "muc_hidden");
    feature(b, (c->flags & MUC_CONF_PERSISTENT) ? "muc_persistent" : "muc_temporary");
    feature(b, (c->flags & MUC_CONF_MEMBERS_ONLY) ? "muc_membersonly" : "muc_open");
    feature(b, (c->flags & MUC_CONF_MODERATED) ? "muc_moderated" : "muc_unmoderated");
    feature(b, (c->flags & MUC_CONF_PASSWORD) ? "muc_passwordprotected" : "muc_unsecured");
    feature(b, (c->flags & MUC_CONF_WHOIS_ANYONE) ? "muc_nonanonymous" : "muc_semianonymous");
    if (muc_archiving(r))
        feature(b, PL_NS_MAM);
    pl_form_build_begin(b, "result", MUC_FORM_ROOMINFO);
    pl_form_build_field(b, "muc#roominfo_description", NULL, "Description",
                        c->description ? c->description : "");
    pl_form_build_field(b, "muc#roominfo_subject", NULL, "Subject", r->subject ? r->subject : "");
    char num[32];
    snprintf(num, sizeof(num), "%zu", r->nocc);
    pl_form_build_field(b, "muc#roominfo_occupants", NULL, "Number of occupants", num);
    pl_form_build_field(b, "muc#roomconfig_roomname", NULL, "Name", c->name ? c->name : "");
    pl_form_build_field(b, "muc#roomconfig_changesubject", NULL, "Occupants may change the subject",
                        (c->flags & MUC_CONF_CHANGE_SUBJECT) ? "1" : "0");
    if (c->max_occupants > 0) {
        snprintf(num, sizeof(num), "%ld", c->max_occupants);
        pl_form_build_field(b, "muc#roomconfig_maxusers", NULL, "Maximum occupants", num);
    }
    pl_build_up(b);
}

/* A locked or hidden room shows itself only to its owners and occupants. */
static int visible(const muc_room_t *r, const pl_jid_t *who)
{
    if (r->locked)
        return muc_room_affil(r, who->bare) == MUC_AFFIL_OWNER;
    return 1;
}

pl_hook_result_t muc_disco_info(pl_hook_ctx_t *hc)
{
    if (pl_xml_attr(hc->payload, "node")) {
        pl_reply_error(hc, PL_ERR_ITEM_NOT_FOUND, "no such node");
        return PL_DONE;
    }
    muc_state_t *st = muc_state(hc);
    pl_builder_t *b = pl_build_new("query", PL_NS_DISCO_INFO);
    if (!hc->to->local) {
        identity(b, "Groups");
        /* XEP-0055 §2: a search service says what it searches. */
        pl_build_child(b, "identity", PL_NS_DISCO_INFO);
        pl_build_attr(b, "category", "directory");
        pl_build_attr(b, "type", "chatroom");
        pl_build_attr(b, "name", "Group search");
        pl_build_up(b);
        feature(b, MUC_NS);
        feature(b, MUC_NS_GROUPS);
        feature(b, MUC_NS_SEARCH);
        feature(b, PL_NS_RSM);
        feature(b, PL_NS_DISCO_INFO);
        feature(b, PL_NS_DISCO_ITEMS);
    } else {
        pthread_mutex_lock(&st->lock);
        muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
        int ok = r && visible(r, hc->from);
        if (ok) {
            room_info(b, r);
            muc_groups_form(b, r, st->conf, "result");
        }
        pthread_mutex_unlock(&st->lock);
        if (!ok) {
            pl_build_abort(b);
            pl_reply_error(hc, PL_ERR_ITEM_NOT_FOUND, "no such room");
            return PL_DONE;
        }
    }
    pl_stanza_t *q = pl_build_finish(b);
    pl_reply_result(hc, pl_stanza_root(q));
    pl_stanza_unref(&q);
    return PL_DONE;
}

/* The public rooms of the service in JID order, a page at a time
 * (XEP-0059): without <set/> the first DISCO_PAGE, with a <set/> telling
 * the total when there are more. */
static void public_rooms(muc_state_t *st, pl_builder_t *b, const pl_rsm_t *q, int asked)
{
    muc_room_t **v = NULL;
    size_t n = 0, cap = 0;
    const char *k;
    void *val;
    for (size_t i = 0; pl_map_iter(&st->rooms, &i, &k, &val);) {
        muc_room_t *r = val;
        if (r->locked || !(r->config.flags & MUC_CONF_PUBLIC))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = pl_xrealloc(v, cap * sizeof(*v));
        }
        v[n++] = r;
    }
    if (n > 1)
        qsort(v, n, sizeof(*v), muc_rooms_by_jid);
    size_t from, to;
    muc_rooms_page(v, n, q, &from, &to);
    for (size_t i = from; i < to; i++) {
        pl_build_child(b, "item", PL_NS_DISCO_ITEMS);
        pl_build_attr(b, "jid", v[i]->jid);
        pl_build_attr(b, "name", v[i]->config.name ? v[i]->config.name : v[i]->local);
        pl_build_up(b);
    }
    if (asked || to - from < n)
        pl_rsm_build(b, to > from ? v[from]->jid : NULL, to > from ? (long long)from : -1,
                     to > from ? v[to - 1]->jid : NULL, (long long)n);
    free(v);
}

pl_hook_result_t muc_disco_items(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    const pl_xml_t *set = pl_xml_child(hc->payload, "set", PL_NS_RSM);
    pl_rsm_t q;
    if (!hc->to->local && pl_rsm_parse(set, DISCO_PAGE, DISCO_PAGE, &q) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "the result set request (XEP-0059) is malformed");
        return PL_DONE;
    }
    pl_builder_t *b = pl_build_new("query", PL_NS_DISCO_ITEMS);
    int ok = 1;
    pthread_mutex_lock(&st->lock);
    if (!hc->to->local) {
        /* Hidden rooms are never listed; members-only public ones are
         * (XEP-0045 §6.3: a public room is one disco lists). */
        public_rooms(st, b, &q, set != NULL);
    } else {
        /* A room lists no occupants: their nicks are for those inside. */
        muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
        ok = r && visible(r, hc->from);
    }
    pthread_mutex_unlock(&st->lock);
    if (!ok) {
        pl_build_abort(b);
        pl_reply_error(hc, PL_ERR_ITEM_NOT_FOUND, "no such room");
        return PL_DONE;
    }
    pl_stanza_t *res = pl_build_finish(b);
    pl_reply_result(hc, pl_stanza_root(res));
    pl_stanza_unref(&res);
    return PL_DONE;
}

/* XEP-0410: a client asks whether it is still in the room by pinging its
 * own occupant JID.  The room answers for its occupants (result), tells a
 * client that is not in the room so (not-acceptable: rejoin), and an
 * unknown nick is item-not-found.  A ping to another occupant passes to
 * forward.c, which sends it to that occupant's client. */
pl_hook_result_t muc_self_ping(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    pl_stanza_err_t e;
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
    muc_occupant_t *me = r ? muc_room_by_jid(r, hc->from->full) : NULL;
    muc_occupant_t *target = r ? muc_room_by_nick(r, hc->to->resource) : NULL;
    int other = me && target && target != me;
    if (!me)
        e = PL_ERR_NOT_ACCEPTABLE;
    else if (!target)
        e = PL_ERR_ITEM_NOT_FOUND;
    else
        e = PL_ERR_NONE;
    pthread_mutex_unlock(&st->lock);
    if (other)
        return PL_PASS;
    if (e)
        pl_reply_error(hc, e, e == PL_ERR_NOT_ACCEPTABLE ? "you are not in this room" : NULL);
    else
        pl_reply_result(hc, NULL);
    return PL_DONE;
}
