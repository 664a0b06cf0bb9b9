/* forward.c — IQs to an occupant (XEP-0045: the room relays IQs to room/nick):
 * a get/set an occupant sends to room@service/nick goes to that occupant's
 * client, from the sender's occupant JID and with an id of the core's
 * request table (pl_server_send_iq_take), so the client never learns the
 * sender's real JID; the answer, result or error, goes back to the sender
 * from room@service/nick with the sender's own id.  vCard requests
 * (vcard-temp) go to the occupant's bare JID, where the account's vCard
 * is.  Self-ping (disco.c) is answered by the room before this runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"

/* How long the sender may wait for the occupant's client, and how many
 * requests may wait at once: per sender (bare JID) and per service.  The
 * core's request table (limits.max_pending_iqs) is shared by every host
 * and module; an occupant asking a client that never answers must not
 * fill it for the others. */
enum {
    FORWARD_TIMEOUT_MS = 30000,
    FORWARD_MAX_PER_USER = 16,
    FORWARD_MAX_PER_SERVICE = 1000,
};

typedef struct forward {
    muc_state_t *st;
    pl_server_t *srv;
    pl_stanza_t *orig; /* the sender's request (a reference) */
    char *sender;      /* its full JID, normalised */
    char *bare;        /* and bare, as counted in muc_state_t.forwards */
    char *occupant;    /* room@service/nick it asked */
} forward_t;

/* Counts one more waiting request of `bare`: 0, or -1 past a bound (the
 * lock is held). */
static int waiting_add(muc_state_t *st, const char *bare)
{
    uintptr_t n = (uintptr_t)pl_map_get(&st->forwards, bare);
    if (n >= FORWARD_MAX_PER_USER || st->nforwards >= FORWARD_MAX_PER_SERVICE)
        return -1;
    pl_map_put(&st->forwards, bare, (void *)(n + 1));
    st->nforwards++;
    return 0;
}

static void waiting_done(muc_state_t *st, const char *bare)
{
    pthread_mutex_lock(&st->lock);
    uintptr_t n = (uintptr_t)pl_map_get(&st->forwards, bare);
    if (n > 1)
        pl_map_put(&st->forwards, bare, (void *)(n - 1));
    else
        pl_map_del(&st->forwards, bare);
    if (st->nforwards)
        st->nforwards--;
    pthread_mutex_unlock(&st->lock);
}

static void forward_free(forward_t *f)
{
    pl_stanza_unref(&f->orig);
    free(f->sender);
    free(f->bare);
    free(f->occupant);
    free(f);
}

/* The occupant's answer (or NULL: none in time) goes back to the sender
 * as the answer to its own request. */
static void answered(void *ud, const pl_stanza_t *response)
{
    forward_t *f = ud;
    pl_stanza_t *reply;
    if (!response) {
        reply = pl_stanza_error(f->orig, PL_ERR_REMOTE_SERVER_TIMEOUT,
                                "the occupant's client did not answer in time");
    } else {
        const char *type = pl_stanza_attr(response, "type");
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", type && strcmp(type, "error") == 0 ? "error" : "result");
        pl_build_attr(b, "id", pl_stanza_attr(f->orig, "id") ? pl_stanza_attr(f->orig, "id") : "");
        pl_build_attr(b, "from", f->occupant);
        pl_build_attr(b, "to", f->sender);
        const pl_xml_t *root = pl_stanza_root(response);
        for (const pl_xml_t *c = pl_xml_first_element(root); c; c = pl_xml_next(c, NULL, NULL))
            pl_build_copy(b, c);
        reply = pl_build_finish(b);
    }
    pl_route_take(f->srv, reply);
    waiting_done(f->st, f->bare);
    forward_free(f);
}

pl_hook_result_t muc_forward_iq(pl_hook_ctx_t *hc)
{
    muc_state_t *st = muc_state(hc);
    const char *payload_ns = hc->payload ? hc->payload->ns : "";
    char from[MUC_JID_MAX], to[MUC_JID_MAX];
    pl_stanza_err_t e = PL_ERR_NONE;
    const char *why = NULL;
    pthread_mutex_lock(&st->lock);
    muc_room_t *r = pl_map_get(&st->rooms, hc->to->bare);
    muc_occupant_t *me = r ? muc_room_by_jid(r, hc->from->full) : NULL;
    muc_occupant_t *target = r ? muc_room_by_nick(r, hc->to->resource) : NULL;
    if (!me) {
        e = PL_ERR_NOT_ACCEPTABLE;
        why = "only occupants of the room send requests to its occupants";
    } else if (!target) {
        e = PL_ERR_ITEM_NOT_FOUND;
        why = "no occupant has this nickname";
    } else if (waiting_add(st, hc->from->bare) != 0) {
        e = PL_ERR_RESOURCE_CONSTRAINT;
        why = "too many of your requests to occupants are waiting for an answer";
    } else {
        snprintf(from, sizeof(from), "%s/%s", r->jid, me->nick);
        snprintf(to, sizeof(to), "%s",
                 strcmp(payload_ns, PL_NS_VCARD) == 0 ? target->bare : target->jid);
    }
    pthread_mutex_unlock(&st->lock);
    if (e) {
        pl_reply_error(hc, e, why);
        return PL_DONE;
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", hc->type);
    pl_build_attr(b, "from", from);
    pl_build_attr(b, "to", to);
    for (const pl_xml_t *c = pl_xml_first_element(pl_stanza_root(hc->stanza)); c;
         c = pl_xml_next(c, NULL, NULL))
        pl_build_copy(b, c);
    forward_t *f = pl_xcalloc(1, sizeof(*f));
    f->srv = hc->server;
    f->orig = pl_stanza_ref(hc->stanza);
    f->sender = pl_xstrdup(hc->from->full);
    f->occupant = pl_xstrdup(hc->to->full);
    f->st = st;
    f->bare = pl_xstrdup(hc->from->bare);
    if (pl_server_send_iq_take(hc->server, pl_build_finish(b), FORWARD_TIMEOUT_MS, answered, f) !=
        0) {
        waiting_done(st, hc->from->bare);
        forward_free(f);
        pl_reply_error(hc, PL_ERR_RESOURCE_CONSTRAINT,
                       "the server has too many requests waiting: try again later");
    }
    return PL_DONE;
}
