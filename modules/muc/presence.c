/* presence.c — occupants come, change and go (XEP-0045 §7.1-7.3, §7.6,
 * §7.14): entering a room (creating it when it does not exist), presence
 * updates, nickname changes, leaving, and the presence every occupant is
 * shown of the others, with the real JID only for those the room lets see
 * it.  A broadcast builds each distinct stanza once and gives every
 * recipient a copy that differs only in 'to' (pl_stanza_readdress_to). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "modules/muc/muc-private.h"
#include "xep/delay.h"
#include "xep/mam-query.h"

void muc_occupant_id(const pl_server_t *srv, const char *room, const char *bare,
                     char out[MUC_OCCUPANT_ID_SIZE])
{
    /* HMAC of the room and the user (a NUL between: neither JID holds
     * one): stable where both are, unlinkable across rooms, and nobody
     * without the server's key can tell whose it is or make one. */
    size_t rl = strlen(room), bl = strlen(bare);
    char *data = pl_xmalloc(rl + 1 + bl);
    memcpy(data, room, rl + 1);
    memcpy(data + rl + 1, bare, bl);
    uint8_t d[PL_KEYED_DIGEST_SIZE];
    pl_server_keyed_digest(srv, "muc occupant-id", data, rl + 1 + bl, d);
    free(data);
    /* 128 bits are plenty to tell occupants apart and cannot be guessed;
     * shorter ids keep every room message and presence smaller. */
    char *id = pl_base64url_encode(d, 16);
    snprintf(out, MUC_OCCUPANT_ID_SIZE, "%s", id);
    free(id);
}

void muc_build_occupant_id(pl_builder_t *b, const muc_occupant_t *o)
{
    if (!o->occupant_id[0])
        return;
    pl_build_child(b, "occupant-id", MUC_NS_OCCUPANT_ID);
    pl_build_attr(b, "id", o->occupant_id);
    pl_build_up(b);
}

int muc_not_the_rooms(void *ud, const pl_xml_t *c)
{
    (void)ud;
    return !((strcmp(c->name, "stanza-id") == 0 && strcmp(c->ns, PL_NS_SID) == 0) ||
             (strcmp(c->name, "occupant-id") == 0 && strcmp(c->ns, MUC_NS_OCCUPANT_ID) == 0));
}

/* The client's own children worth repeating (show, status, priority, caps,
 * vCard hashes...), not its MUC protocol elements nor an occupant id of
 * its own making. */
static int keep_child(void *ud, const pl_xml_t *c)
{
    (void)ud;
    return !(strcmp(c->name, "x") == 0 &&
             (strcmp(c->ns, MUC_NS) == 0 || strcmp(c->ns, PL_NS_MUC_USER) == 0)) &&
           !(strcmp(c->name, "occupant-id") == 0 && strcmp(c->ns, MUC_NS_OCCUPANT_ID) == 0);
}

static void occupant_jid(pl_buf_t *b, const muc_room_t *r, const char *nick)
{
    pl_buf_reset(b);
    pl_buf_printf(b, "%s/%s", r->jid, nick);
}

pl_stanza_t *muc_occupant_presence(const muc_room_t *r, const muc_occupant_t *o,
                                   const muc_occupant_t *viewer, const char *type, const int *codes,
                                   const char *actor, const char *reason, const char *new_nick)
{
    pl_builder_t *b = o->presence && !type ? pl_build_from(o->presence, keep_child, NULL)
                                           : pl_build_new("presence", PL_NS_CLIENT);
    pl_build_child(b, "x", PL_NS_MUC_USER);
    pl_build_child(b, "item", PL_NS_MUC_USER);
    pl_build_attr(b, "affiliation", muc_affil_name(muc_room_affil(r, o->bare)));
    pl_build_attr(b, "role", type ? "none" : muc_role_name(o->role));
    if (viewer == o || (viewer && muc_may_see_jid(&r->config, viewer->role)))
        pl_build_attr(b, "jid", o->jid);
    if (new_nick)
        pl_build_attr(b, "nick", new_nick);
    if (actor) {
        pl_build_child(b, "actor", PL_NS_MUC_USER);
        pl_build_attr(b, "nick", actor);
        pl_build_up(b);
    }
    if (reason)
        pl_build_text_child(b, "reason", PL_NS_MUC_USER, reason);
    pl_build_up(b); /* item */
    for (const int *c = codes; c && *c; c++) {
        char num[16];
        snprintf(num, sizeof(num), "%d", *c);
        pl_build_child(b, "status", PL_NS_MUC_USER);
        pl_build_attr(b, "code", num);
        pl_build_up(b);
    }
    pl_build_up(b); /* x */
    muc_build_occupant_id(b, o);
    pl_stanza_t *st = pl_build_finish(b);
    pl_buf_t from;
    pl_buf_init(&from);
    occupant_jid(&from, r, o->nick);
    /* An unavailable presence keeps the client's status text, nothing else. */
    pl_stanza_t *out = pl_stanza_readdress(st, pl_buf_cstr(&from), NULL);
    pl_stanza_unref(&st);
    pl_buf_deinit(&from);
    if (type) {
        pl_builder_t *u = pl_build_new("presence", PL_NS_CLIENT);
        pl_build_attr(u, "from", pl_stanza_attr(out, "from"));
        pl_build_attr(u, "type", type);
        const pl_xml_t *status =
            o->presence ? pl_xml_child(pl_stanza_root(o->presence), "status", PL_NS_CLIENT) : NULL;
        if (status)
            pl_build_copy(u, status);
        pl_build_copy(u, pl_xml_child(pl_stanza_root(out), "x", PL_NS_MUC_USER));
        muc_build_occupant_id(u, o);
        pl_stanza_unref(&out);
        out = pl_build_finish(u);
    }
    return out;
}

/* `self_extra`: codes for o's own copy only (the others learn nothing from
 * them). */
static void broadcast(muc_out_t *out, const muc_room_t *r, const muc_occupant_t *o,
                      const char *type, const int *codes, const int *self_extra, const char *actor,
                      const char *reason, const char *new_nick)
{
    /* Three stanzas at most, whoever and however many the occupants are:
     * the one for o itself (110), with the real JID, and without. */
    int self_codes[8], k = 0;
    for (const int *c = codes; c && *c && k < 6; c++)
        self_codes[k++] = *c;
    for (const int *c = self_extra; c && *c && k < 6; c++)
        self_codes[k++] = *c;
    self_codes[k++] = 110;
    self_codes[k] = 0;
    pl_stanza_t *self = NULL, *with = NULL, *without = NULL;
    for (size_t i = 0; i < r->nocc; i++) {
        const muc_occupant_t *v = r->occ[i];
        pl_stanza_t **slot;
        if (v == o) {
            slot = &self;
            if (!*slot)
                *slot = muc_occupant_presence(r, o, o, type, self_codes, actor, reason, new_nick);
        } else if (muc_may_see_jid(&r->config, v->role)) {
            slot = &with;
            if (!*slot)
                *slot = muc_occupant_presence(r, o, v, type, codes, actor, reason, new_nick);
        } else {
            slot = &without;
            if (!*slot)
                *slot = muc_occupant_presence(r, o, NULL, type, codes, actor, reason, new_nick);
        }
        muc_out_take(out, pl_stanza_readdress_to(*slot, v->jid));
    }
    pl_stanza_unref(&self);
    pl_stanza_unref(&with);
    pl_stanza_unref(&without);
}

void muc_broadcast_occupant(muc_out_t *out, const muc_room_t *r, const muc_occupant_t *o,
                            const char *type, const int *codes, const char *actor,
                            const char *reason, const char *new_nick)
{
    broadcast(out, r, o, type, codes, NULL, actor, reason, new_nick);
}

void muc_remove_occupant(muc_state_t *st, muc_out_t *out, muc_room_t *r, muc_occupant_t *o,
                         int code, const char *actor, const char *reason)
{
    int codes[2] = {code, 0};
    muc_occupant_set_presence(o, NULL);
    muc_broadcast_occupant(out, r, o, "unavailable", code ? codes : NULL, actor, reason, NULL);
    muc_room_remove(r, o);
}

/* XEP-0082 DateTime to unix milliseconds; -1 when it is not one. */
static int64_t parse_stamp(const char *s)
{
    int64_t us;
    return pl_mam_time_parse(s, &us) == 0 ? us / 1000 : -1;
}

static long attr_long(const pl_xml_t *e, const char *name)
{
    const char *v = pl_xml_attr(e, name);
    if (!v || !*v)
        return -1;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < 0 ? -1 : n;
}

/* What the joiner gets after the presences: the history it asked for,
 * each message with the time the room received it, then the subject. */
static void send_history(const muc_state_t *st, muc_out_t *out, const muc_room_t *r,
                         const pl_xml_t *mucx, const char *to, int64_t now)
{
    muc_hist_req_t q = {.maxstanzas = -1, .maxchars = -1, .seconds = -1, .since_ms = -1};
    const pl_xml_t *h = mucx ? pl_xml_child(mucx, "history", MUC_NS) : NULL;
    if (h) {
        q.maxstanzas = attr_long(h, "maxstanzas");
        q.maxchars = attr_long(h, "maxchars");
        q.seconds = attr_long(h, "seconds");
        q.since_ms = parse_stamp(pl_xml_attr(h, "since"));
    }
    /* The ring of an archiving room caches its archive: what retention
     * dropped (or is about to) is not given out from memory either. */
    int64_t horizon = muc_archive_horizon(st, r, now);
    if (horizon > 0 && q.since_ms < horizon - 1)
        q.since_ms = horizon - 1;
    size_t first, n = muc_history_select(r, &q, now, &first);
    for (size_t i = 0; i < n; i++) {
        const muc_hist_t *e = muc_room_history_at(r, first + i);
        pl_stanza_t *d = pl_delay_add(e->msg, r->jid, e->at_ms, NULL);
        muc_out_take(out, pl_stanza_readdress_to(d, to));
        pl_stanza_unref(&d);
    }
    muc_out_take(out, muc_subject_message(r, to));
}

/* §7.2.12: who enters a logged room (one that archives) is told so by 170
 * in its own presence; the others' copies do not carry it. */
static const int *logged_code(const muc_room_t *r)
{
    static const int logged[] = {170, 0};
    return muc_archiving(r) ? logged : NULL;
}

/* The others' presence, as `o` may see them: what an entering client
 * gets first (§7.2.3). */
static void send_others(muc_out_t *out, const muc_room_t *r, const muc_occupant_t *o)
{
    for (size_t i = 0; i < r->nocc; i++) {
        if (r->occ[i] == o)
            continue;
        pl_stanza_t *p = muc_occupant_presence(r, r->occ[i], o, NULL, NULL, NULL, NULL, NULL);
        muc_out_take(out, pl_stanza_readdress_to(p, o->jid));
        pl_stanza_unref(&p);
    }
}

static size_t room_limit(const muc_state_t *st, const muc_room_t *r)
{
    long long max = st->conf->max_occupants;
    if (r->config.max_occupants > 0 && r->config.max_occupants < max)
        max = r->config.max_occupants;
    return (size_t)max;
}

static void join(pl_hook_ctx_t *hc, muc_state_t *st, muc_out_t *out, muc_room_t *r,
                 const pl_xml_t *mucx)
{
    const char *nick = hc->to->resource;
    int64_t now = pl_now_ms();
    int created = 0;
    if (!r) {
        if (st->rooms.count >= (size_t)st->conf->max_rooms) {
            muc_out_error(out, hc->stanza, PL_ERR_RESOURCE_CONSTRAINT,
                          "this service has as many rooms as it may");
            return;
        }
        pl_buf_t key;
        pl_buf_init(&key);
        int storable = muc_record_key(&key, st->service, hc->to->local) == 0;
        pl_buf_deinit(&key);
        if (!storable) {
            muc_out_error(out, hc->stanza, PL_ERR_NOT_ACCEPTABLE, "the room's name is too long");
            return;
        }
        r = muc_room_new(hc->to->bare, (size_t)st->conf->history_size, now);
        r->gen = (unsigned long long)now << 10; /* a new room outranks any old record */
        muc_room_set_affil(r, hc->from->bare, MUC_AFFIL_OWNER, now);
        /* A MUC client configures the room before others may enter
         * (§10.1.2); a groupchat 1.0 client gets an instant room. */
        r->locked = mucx != NULL;
        pl_map_put(&st->rooms, r->jid, r);
        created = 1;
    }
    const muc_occupant_t *holder = muc_room_by_nick(r, nick);
    const char *given = NULL;
    pl_buf_t pw;
    pl_buf_init(&pw);
    if (mucx && pl_xml_child_text(mucx, "password", MUC_NS, &pw))
        given = pl_buf_cstr(&pw);
    muc_join_req_t j = {
        .affil = muc_room_affil(r, hc->from->bare),
        .password_ok = !r->config.password || (given && strcmp(given, r->config.password) == 0),
        .nick_taken = holder != NULL,
        .occupants = r->nocc,
        .max = room_limit(st, r),
    };
    pl_buf_deinit(&pw);
    pl_stanza_err_t refused = muc_join_decide(&r->config, r->locked, &j);
    if (refused) {
        static const char *const why[] = {
            [PL_ERR_ITEM_NOT_FOUND] = "the room is not configured yet",
            [PL_ERR_FORBIDDEN] = "you are banned from this room",
            [PL_ERR_REGISTRATION_REQUIRED] = "this room is for members only",
            [PL_ERR_NOT_AUTHORIZED] = "a password is required",
            [PL_ERR_CONFLICT] = "that nickname is in use",
            [PL_ERR_SERVICE_UNAVAILABLE] = "the room is full",
        };
        muc_out_error(out, hc->stanza, refused,
                      refused < sizeof(why) / sizeof(why[0]) ? why[refused] : NULL);
        return;
    }
    /* Entering a group that lets people in (join_auth none or password)
     * makes a member, within the group's limit (GRP-1, GRP-2). */
    if (r->kind != MUC_KIND_ROOM && j.affil == MUC_AFFIL_NONE) {
        const char *why = NULL;
        pl_stanza_err_t full =
            muc_group_may_have(r, st->conf, muc_group_members(r->affs, r->naffs) + 1, &why);
        if (full) {
            muc_out_error(out, hc->stanza, full, why);
            return;
        }
        j.affil = MUC_AFFIL_MEMBER;
        muc_room_set_affil(r, hc->from->bare, j.affil, now);
        muc_room_save(st, r);
    }
    muc_occupant_t *o = muc_room_add(r, nick, hc->from->full, hc->from->bare,
                                     muc_default_role(&r->config, j.affil));
    muc_occupant_id(hc->server, r->jid, o->bare, o->occupant_id);
    muc_occupant_set_presence(o, hc->stanza);
    r->active_ms = now;
    send_others(out, r, o);
    /* 100 (everyone sees your JID), 201 (you created it) and 170 (the room
     * archives) are news for the newcomer alone (§7.2.3, §10.1.1, §7.2.12):
     * the others' copies carry no status. */
    int self[4], k = 0;
    if (r->config.flags & MUC_CONF_WHOIS_ANYONE)
        self[k++] = 100;
    if (created)
        self[k++] = 201;
    if (muc_archiving(r))
        self[k++] = 170;
    self[k] = 0;
    broadcast(out, r, o, NULL, NULL, self, NULL, NULL, NULL);
    send_history(st, out, r, mucx, o->jid, now);
    pl_module_log(st->ctx, PL_LOG_DEBUG, "room.join", "room=%s nick=\"%s\" created=%d", r->jid,
                  nick, created);
}

void muc_room_maybe_end(muc_state_t *st, muc_room_t *r)
{
    if (r->nocc == 0 && (!(r->config.flags & MUC_CONF_PERSISTENT) || r->locked))
        muc_room_drop(st, r);
}

static void leave(muc_state_t *st, muc_out_t *out, muc_room_t *r, muc_occupant_t *o,
                  const pl_stanza_t *unavailable)
{
    muc_occupant_set_presence(o, unavailable);
    muc_broadcast_occupant(out, r, o, "unavailable", NULL, NULL, NULL, NULL);
    muc_room_remove(r, o);
    r->active_ms = pl_now_ms();
    muc_room_maybe_end(st, r);
}

static void change_nick(pl_hook_ctx_t *hc, muc_out_t *out, muc_room_t *r, muc_occupant_t *o)
{
    const char *nick = hc->to->resource;
    if (muc_room_by_nick(r, nick)) {
        muc_out_error(out, hc->stanza, PL_ERR_CONFLICT, "that nickname is in use");
        return;
    }
    /* §7.6: unavailable from the old nick with 303 and the new one, then
     * available from the new nick. */
    static const int c303[] = {303, 0};
    muc_broadcast_occupant(out, r, o, "unavailable", c303, NULL, NULL, nick);
    muc_occupant_rename(o, nick);
    muc_occupant_set_presence(o, hc->stanza);
    muc_broadcast_occupant(out, r, o, NULL, NULL, NULL, NULL, NULL);
}

/* The conditions the router answers with when nobody is there to take
 * a stanza: the client is gone, not merely unhappy with one stanza. */
static int says_gone(const pl_stanza_t *st)
{
    const pl_xml_t *e = pl_xml_child(pl_stanza_root(st), "error", PL_NS_CLIENT);
    const pl_xml_t *c = e ? pl_xml_child(e, NULL, PL_NS_STANZA_ERRORS) : NULL;
    return c && (strcmp(c->name, "service-unavailable") == 0 ||
                 strcmp(c->name, "recipient-unavailable") == 0 ||
                 strcmp(c->name, "remote-server-not-found") == 0);
}

pl_hook_result_t muc_on_occupant_error(pl_hook_ctx_t *hc)
{
    if (!hc->to->local || !says_gone(hc->stanza))
        return PL_DONE;
    /* A session that is still there refused one stanza (a blocklist
     * bounces with service-unavailable too): it stays in the room. */
    pl_resource_t res[64];
    size_t n = pl_server_resources(hc->server, hc->from->bare, res, 64);
    int alive = 0;
    for (size_t i = 0; i < n; i++)
        alive |= strcmp(res[i].jid->full, hc->from->full) == 0;
    pl_resources_release(res, n);
    if (alive)
        return PL_DONE;
    muc_state_t *st = muc_state(hc);
    muc_out_t out = {0};
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
    muc_occupant_t *o = r ? muc_room_by_jid(r, hc->from->full) : NULL;
    /* The bounce goes back to whichever occupant JID the stanza came
     * from (the speaker's), so the occupant is the one whose session it
     * was for: the error's sender. */
    if (o) {
        pl_module_log(st->ctx, PL_LOG_DEBUG, "room.gone", "room=%s nick=\"%s\"", r->jid, o->nick);
        muc_remove_occupant(st, &out, r, o, 333, NULL, NULL);
        muc_room_maybe_end(st, r);
    }
    pthread_mutex_unlock(&st->lock);
    muc_out_flush(hc->server, &out);
    return PL_DONE;
}

pl_hook_result_t muc_on_presence(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    const char *type = hc->type;
    int unavailable = strcmp(type, "unavailable") == 0;
    if (strcmp(type, "error") == 0)
        return muc_on_occupant_error(hc);
    if (*type && !unavailable)
        return PL_DONE; /* probes and subscriptions mean nothing to a room */
    muc_out_t out = {0};
    if (!hc->to->local) {
        if (!unavailable)
            muc_out_error(&out, hc->stanza, PL_ERR_BAD_REQUEST, "presence goes to a room");
        muc_out_flush(hc->server, &out);
        return PL_DONE;
    }
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
    muc_occupant_t *o = r ? muc_room_by_jid(r, hc->from->full) : NULL;
    if (unavailable) {
        /* Whatever nick it names: the sender's session leaves (the presence
         * module sends one to every room it entered when the session ends). */
        if (o)
            leave(st, &out, r, o, hc->stanza);
    } else if (!hc->to->resource) {
        muc_out_error(&out, hc->stanza, PL_ERR_JID_MALFORMED, "a nickname is required");
    } else if (pl_server_tenant_of(hc->server, hc->from->domain) != hc->host) {
        muc_out_error(&out, hc->stanza, PL_ERR_FORBIDDEN, "this service is for its own users");
    } else if (o && strcmp(o->nick, hc->to->resource) == 0) {
        /* A status change; with <x xmlns='…/muc'/> the client is entering
         * again (it lost track, e.g. after reconnecting under the same
         * resource) and gets the whole entry sequence once more. */
        const pl_xml_t *mucx = pl_xml_child(pl_stanza_root(hc->stanza), "x", MUC_NS);
        muc_occupant_set_presence(o, hc->stanza);
        if (mucx)
            send_others(&out, r, o);
        broadcast(&out, r, o, NULL, NULL, mucx ? logged_code(r) : NULL, NULL, NULL, NULL);
        if (mucx)
            send_history(st, &out, r, mucx, o->jid, pl_now_ms());
    } else if (o) {
        change_nick(hc, &out, r, o);
    } else {
        join(hc, st, &out, r, pl_xml_child(pl_stanza_root(hc->stanza), "x", MUC_NS));
    }
    pthread_mutex_unlock(&st->lock);
    muc_out_flush(hc->server, &out);
    return PL_DONE;
}
