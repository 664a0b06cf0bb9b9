/* sm.c — stream management (XEP-0198 v1.6, urn:xmpp:sm:3) on client
 * streams: counting handled stanzas both ways, acknowledging the client's
 * stanzas only once what they caused is durably stored, keeping what the
 * client has not acknowledged, and keeping a session whose connection died
 * for `resume_timeout` so the client can resume it.
 *
 * A session that enabled SM carries a pl_sm_t.  Every stanza sent to it
 * after <enabled/> is kept (a reference) until the client's <a h=''/> covers
 * it; an <r/> goes out with each write that leaves stanzas unacknowledged.
 * When the connection is lost (not a clean </stream>, not a stream error),
 * a resumable session is detached instead of ended: it stays in the session
 * table, so stanzas for it keep arriving and are queued, and it sits on its
 * loop's `hibernating` list.  <resume/> on a new connection of the same
 * account moves the identity, the queue and the modules' session state to
 * the new session, on the old session's loop, then hands them over.  When
 * the timeout passes, or the session ends for good, its unacknowledged
 * messages are routed again to the account's bare JID (other clients, or
 * the offline store) and IQ requests are answered with an error.
 *
 * Durability: an <r/> from the client is answered once every storage write
 * submitted through this loop's storage port so far is committed (a no-op
 * write job queued behind them acts as the barrier).  Module hooks submit
 * their writes synchronously while handling a stanza, so the writes a stanza
 * caused are always ahead of the barrier. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/c2s/c2s-private.h"
#include "lib/util.h"
#include "storage/storage.h"

#define SM_ERR "<failed xmlns='" PL_NS_SM "'><%s xmlns='" PL_NS_STANZA_ERRORS "'/></failed>"

struct pl_sm {
    uint32_t h_in;   /* stanzas from the client handled */
    uint32_t h_out;  /* stanzas sent to the client */
    uint32_t acked;  /* the client's last h (the queue starts after it) */
    pl_stanza_t **q; /* unacknowledged, oldest first: q[(head + i) % cap] */
    size_t head, n, cap;
    size_t bytes; /* wire size of what q holds (limits.max_unacked_bytes) */
    int r_sent;   /* an <r/> is out and unanswered */
    int resumable;
    char id[24];             /* resumption id (previd) */
    uint64_t detached_at_ms; /* 0 while connected */
    pl_session_t *hib_next;  /* loop->hibernating */
};

/* ---- the queue of unacknowledged stanzas ---- */

static void queue_push(pl_sm_t *sm, const pl_stanza_t *st)
{
    if (sm->n == sm->cap) {
        size_t cap = sm->cap ? sm->cap * 2 : 16;
        pl_stanza_t **q = pl_xcalloc(cap, sizeof(*q));
        for (size_t i = 0; i < sm->n; i++)
            q[i] = sm->q[(sm->head + i) % sm->cap];
        free(sm->q);
        sm->q = q;
        sm->cap = cap;
        sm->head = 0;
    }
    sm->q[(sm->head + sm->n) % sm->cap] = pl_stanza_ref(st);
    sm->n++;
    sm->bytes += pl_stanza_out_size(st);
}

static pl_stanza_t *queue_pop(pl_sm_t *sm)
{
    if (!sm->n)
        return NULL;
    pl_stanza_t *st = sm->q[sm->head];
    sm->q[sm->head] = NULL;
    sm->head = (sm->head + 1) % sm->cap;
    sm->n--;
    sm->bytes -= pl_stanza_out_size(st);
    return st;
}

/* The client acknowledged up to h: drops what it covers.  -1 if h claims
 * more than was sent. */
static int apply_ack(pl_sm_t *sm, uint32_t h)
{
    uint32_t newly = h - sm->acked; /* modulo 2^32, as the XEP says */
    if (newly > sm->n)
        return -1;
    for (uint32_t i = 0; i < newly; i++) {
        pl_stanza_t *st = queue_pop(sm);
        pl_stanza_unref(&st);
    }
    sm->acked = h;
    return 0;
}

static void sm_free(pl_sm_t **smp)
{
    pl_sm_t *sm = *smp;
    *smp = NULL;
    if (!sm)
        return;
    pl_stanza_t *st;
    while ((st = queue_pop(sm)))
        pl_stanza_unref(&st);
    free(sm->q);
    free(sm);
}

static int parse_h(const char *v, uint32_t *out)
{
    if (!v || !*v || strlen(v) > 10)
        return -1;
    char *end;
    unsigned long long h = strtoull(v, &end, 10);
    if (*end || h > UINT32_MAX || v[0] == '-' || v[0] == '+' || v[0] == ' ')
        return -1;
    *out = (uint32_t)h;
    return 0;
}

/* ---- outgoing ---- */

static int over_bounds(const pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    const pl_limits_conf_t *l = pl_server_limits(s->server);
    return (long long)c->sm->n > l->max_unacked || (long long)c->sm->bytes > l->max_unacked_bytes;
}

int pl_sm_track(pl_session_t *s, const pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_sm_t *sm = c->sm;
    queue_push(sm, st);
    sm->h_out++;
    if (!over_bounds(s))
        return 0;
    if (sm->detached_at_ms)
        return -1; /* the caller ends the detached session (pl_session_deliver) */
    if (!s->closing) {
        pl_log(&s->server->log, PL_LOG_WARN, "sm.overflow",
               "session=%llu jid=%s unacked=%zu bytes=%zu", (unsigned long long)s->id, s->jid.full,
               sm->n, sm->bytes);
        /* The client stopped acknowledging; ending the connection (not the
         * session) lets it resume and catch up. */
        c->lost = 1;
        pl_session_stream_error(s, "resource-constraint", "too many unacknowledged stanzas");
    }
    return 0;
}

int pl_sm_detached(const pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s); /* NULL for a component */
    return c && c->sm && c->sm->detached_at_ms;
}

int pl_sm_ack_expected(const pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    return c->sm && c->sm->r_sent;
}

pl_session_t *pl_sm_next_detached(const pl_session_t *s)
{
    return pl_c2s(s)->sm->hib_next;
}

void pl_sm_queued(const pl_session_t *s, size_t *n, size_t *bytes)
{
    pl_c2s_t *c = pl_c2s(s);
    *n = c->sm ? c->sm->n : 0;
    *bytes = c->sm ? c->sm->bytes : 0;
}

void pl_sm_before_flush(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_sm_t *sm = c->sm;
    if (sm->n && !sm->r_sent && !s->closing && !sm->detached_at_ms) {
        pl_session_append(s, "<r xmlns='" PL_NS_SM "'/>", sizeof("<r xmlns='" PL_NS_SM "'/>") - 1);
        sm->r_sent = 1;
    }
}

/* ---- acknowledging the client's stanzas after commit ---- */

typedef struct ack_barrier {
    pl_session_t *s;
    uint32_t h;
} ack_barrier_t;

static void send_ack(pl_session_t *s, uint32_t h)
{
    char b[64];
    snprintf(b, sizeof(b), "<a xmlns='" PL_NS_SM "' h='%u'/>", (unsigned)h);
    pl_session_send_str(s, b);
}

static int barrier_run(pl_wtxn_t *txn, void *ud)
{
    (void)txn;
    (void)ud;
    return 0;
}

static void barrier_done(void *ud, int status)
{
    ack_barrier_t *ab = ud;
    if (status < 0)
        pl_log(&ab->s->server->log, PL_LOG_WARN, "sm.ack_barrier", "session=%llu status=%d",
               (unsigned long long)ab->s->id, status);
    if (pl_c2s(ab->s)->sm && !ab->s->closing)
        send_ack(ab->s, ab->h);
    pl_session_unref(&ab->s);
    free(ab);
}

static void answer_r(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_storage_port_t *port = s->loop->storage_port;
    uint32_t h = c->sm->h_in;
    if (!port || pl_storage_port_inflight(port) == 0) {
        send_ack(s, h);
        return;
    }
    ack_barrier_t *ab = pl_xmalloc(sizeof(*ab));
    ab->s = pl_session_ref(s);
    ab->h = h;
    if (pl_storage_write(port, barrier_run, barrier_done, ab) != 0) {
        /* The storage refuses work (shutting down or overloaded): what
         * was queued may not be committed, so no acknowledgement. */
        pl_session_unref(&ab->s);
        free(ab);
    }
}

void pl_sm_count_in(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    if (c->sm)
        c->sm->h_in++;
}

/* ---- enable ---- */

void pl_sm_enable(pl_session_t *s, int resume, pl_buf_t *out)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    if (c->state != PL_ST_ACTIVE || c->sm) {
        pl_buf_printf(out, SM_ERR, pl_stanza_err_name(PL_ERR_UNEXPECTED_REQUEST));
        return;
    }
    pl_sm_t *sm = pl_xcalloc(1, sizeof(*sm));
    sm->resumable = resume && pl_server_limits(srv)->resume_timeout_ms > 0;
    c->sm = sm;
    if (sm->resumable) {
        pl_random_id(sm->id, 20);
        pthread_mutex_lock(&srv->sm_lock);
        pl_map_put(&srv->resumable, sm->id, pl_session_ref(s));
        pthread_mutex_unlock(&srv->sm_lock);
        pl_buf_printf(out, "<enabled xmlns='" PL_NS_SM "' id='%s' resume='true' max='%lld'/>",
                      sm->id, pl_server_limits(srv)->resume_timeout_ms / 1000);
    } else {
        pl_buf_puts(out, "<enabled xmlns='" PL_NS_SM "'/>");
    }
    pl_log(&srv->log, PL_LOG_INFO, "sm.enabled", "session=%llu jid=%s resumable=%d",
           (unsigned long long)s->id, s->jid.full, sm->resumable);
}

static void handle_enable(pl_session_t *s, const pl_xml_t *root)
{
    const char *resume = pl_xml_attr(root, "resume");
    pl_buf_t b;
    pl_buf_init(&b);
    pl_sm_enable(s, resume && (!strcmp(resume, "true") || !strcmp(resume, "1")), &b);
    pl_session_send_raw(s, b.data, b.len);
    pl_buf_deinit(&b);
}

/* ---- ending a session for good ---- */

static void forget_resumable(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    if (!c->sm || !c->sm->resumable)
        return;
    pthread_mutex_lock(&srv->sm_lock);
    pl_session_t *entry = pl_map_get(&srv->resumable, c->sm->id);
    if (entry == s)
        pl_map_del(&srv->resumable, c->sm->id);
    pthread_mutex_unlock(&srv->sm_lock);
    if (entry == s)
        pl_session_unref(&entry);
    c->sm->resumable = 0;
}

/* XEP-0198 §5: what the client never acknowledged is handled as if it had
 * been sent while the client was offline. */
static void reroute_unacked(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    pl_sm_t *sm = c->sm;
    size_t counts[3] = {0, 0, 0};
    uint64_t now_ms = (uint64_t)time(NULL) * 1000;
    pl_stanza_t *st;
    while ((st = queue_pop(sm))) {
        counts[pl_router_reroute(srv, s, st, now_ms)]++;
        pl_stanza_unref(&st);
    }
    if (counts[0] || counts[1] || counts[2])
        pl_log(&srv->log, PL_LOG_INFO, "sm.unacked", "jid=%s rerouted=%zu bounced=%zu dropped=%zu",
               s->jid.full, counts[0], counts[1], counts[2]);
}

void pl_sm_end(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    if (!c->sm)
        return;
    /* The caller took the session out of the table first, so the messages
     * routed again do not come back to it. */
    forget_resumable(s);
    reroute_unacked(s);
    sm_free(&c->sm);
}

/* ---- detaching and resuming ---- */

int pl_sm_detach(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    pl_sm_t *sm = c->sm;
    if (!sm || !sm->resumable || !c->lost || !s->in_table || atomic_load(&srv->shutting_down))
        return 0;
    sm->detached_at_ms = pl_mono_ms();
    sm->r_sent = 0;
    pl_session_set_flags(s, PL_RES_DETACHED, 0);
    sm->hib_next = s->loop->hibernating;
    s->loop->hibernating = pl_session_ref(s);
    pl_log(&srv->log, PL_LOG_INFO, "sm.detached", "session=%llu jid=%s unacked=%zu",
           (unsigned long long)s->id, s->jid.full, sm->n);
    return 1;
}

/* Ends a detached session whose time ran out (or for shutdown). */
static void expire(pl_session_t *s, const char *why)
{
    pl_server_t *srv = s->server;
    pl_log(&srv->log, PL_LOG_INFO, "sm.expired", "session=%llu jid=%s reason=%s",
           (unsigned long long)s->id, s->jid.full, why);
    if (s->in_table) {
        pl_sessions_remove(srv, s);
        pl_hooks_session_event(s->host, PL_EV_SESSION_CLOSED, s);
    }
    pl_sm_end(s);
}

static void unlink_hibernating(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    for (pl_session_t **p = &s->loop->hibernating; *p; p = &pl_c2s(*p)->sm->hib_next) {
        if (*p == s) {
            *p = c->sm->hib_next;
            c->sm->hib_next = NULL;
            return;
        }
    }
}

void pl_sm_end_detached(pl_session_t *s, const char *why)
{
    pl_c2s_t *c = pl_c2s(s);
    if (!pl_sm_detached(s))
        return;
    if (!strcmp(why, "queue full"))
        pl_log(&s->server->log, PL_LOG_WARN, "sm.overflow",
               "session=%llu jid=%s unacked=%zu bytes=%zu detached=1", (unsigned long long)s->id,
               s->jid.full, c->sm->n, c->sm->bytes);
    unlink_hibernating(s);
    expire(s, why);
    pl_session_unref(&s); /* the hibernating list's reference */
}

void pl_sm_sweep(pl_loop_t *loop, int all)
{
    uint64_t now = pl_mono_ms();
    long long timeout = pl_server_limits(loop->server)->resume_timeout_ms;
    pl_session_t **p = &loop->hibernating;
    while (*p) {
        pl_session_t *s = *p;
        pl_c2s_t *c = pl_c2s(s);
        if (all || now - c->sm->detached_at_ms >= (uint64_t)timeout) {
            *p = c->sm->hib_next;
            expire(s, all ? "shutdown" : "timeout");
            pl_session_unref(&s);
        } else {
            p = &c->sm->hib_next;
        }
    }
}

/* What moves from the detached session to the one resuming it.  The old
 * session's loop fills it (only that loop touches the old session), the new
 * session's loop installs it (only that loop touches the new one). */
typedef struct handover {
    pl_session_t *old, *fresh;
    uint32_t client_h;
    pl_sm_t *sm;
    unsigned char *mod_state;
    unsigned res_flags;
    int available, priority;
    pl_stanza_t *presence;
} handover_t;

static void send_failed_resume(pl_session_t *s, pl_stanza_err_t cond)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_printf(&b, SM_ERR, pl_stanza_err_name(cond));
    if (c->sasl2)
        pl_c2s_sasl2_finish(s, b.data, 0); /* inside SASL2's <success/>, then bind2 */
    else
        pl_session_send_raw(s, b.data, b.len);
    pl_buf_deinit(&b);
}

static void handover_free(handover_t **hop)
{
    handover_t *ho = *hop;
    if (!ho)
        return;
    *hop = NULL;
    sm_free(&ho->sm);
    free(ho->mod_state);
    pl_stanza_unref(&ho->presence);
    pl_session_unref(&ho->old);
    pl_session_unref(&ho->fresh);
    free(ho);
}

/* On the new session's loop: the state is ours now. */
static void install(void *ud, pl_stanza_t *unused)
{
    (void)unused;
    handover_t *ho = ud;
    pl_session_t *s = ho->fresh;
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    c->resuming = 0;
    if (!ho->sm) {
        send_failed_resume(s, PL_ERR_ITEM_NOT_FOUND);
        goto out;
    }
    c->sm = ho->sm;
    ho->sm = NULL;
    free(s->mod_state);
    s->mod_state = ho->mod_state;
    ho->mod_state = NULL;
    s->res_flags = ho->res_flags;
    s->bound = 1;
    /* The old session leaves the table as this one takes its full JID. */
    pl_session_t *replaced = pl_sessions_add(srv, s);
    pl_session_unref(&replaced);
    pl_sessions_set_presence(srv, s, ho->available, ho->priority, ho->presence);
    pl_sm_t *sm = c->sm;
    if (s->closing) {
        /* The new connection went away meanwhile: end what it took over
         * like any session that ended. */
        for (size_t i = 0; i < c->nearly; i++) {
            queue_push(sm, c->early[i]);
            pl_stanza_unref(&c->early[i]);
        }
        c->nearly = 0;
        c->early_bytes = 0;
        pl_sessions_remove(srv, s);
        pl_hooks_session_event(s->host, PL_EV_SESSION_CLOSED, s);
        pl_sm_end(s);
        goto out;
    }
    if (apply_ack(sm, ho->client_h) != 0) {
        c->state = PL_ST_ACTIVE;
        pl_session_stream_error(s, "undefined-condition", "h is more than the server sent");
        goto out;
    }
    c->state = PL_ST_ACTIVE;
    char b[128];
    snprintf(b, sizeof(b), "<resumed xmlns='" PL_NS_SM "' previd='%s' h='%u'/>", sm->id,
             (unsigned)sm->h_in);
    if (c->sasl2)
        pl_c2s_sasl2_finish(s, b, 1); /* XEP-0388: <resumed/> inside <success/> */
    else
        pl_session_send_str(s, b);
    /* Everything unacknowledged goes out again, in order, then what
     * arrived while the handover was under way. */
    size_t resent = sm->n;
    for (size_t i = 0; i < resent; i++)
        pl_session_send_untracked(s, sm->q[(sm->head + i) % sm->cap]);
    for (size_t i = 0; i < c->nearly; i++) {
        pl_session_send(s, c->early[i]);
        pl_stanza_unref(&c->early[i]);
    }
    c->nearly = 0;
    c->early_bytes = 0;
    pl_log(&srv->log, PL_LOG_INFO, "sm.resumed",
           "session=%llu jid=%s old_session=%llu resent=%zu loop=%u old_loop=%u",
           (unsigned long long)s->id, s->jid.full, (unsigned long long)ho->old->id, resent,
           s->loop->index, ho->old->loop->index);
    pl_c2s_timer(s);
out:
    handover_free(&ho);
}

/* On the old session's loop: take everything from it. */
static void takeover(void *ud, pl_stanza_t *unused)
{
    (void)unused;
    handover_t *ho = ud;
    pl_session_t *old = ho->old;
    pl_c2s_t *oc = pl_c2s(old);
    pl_server_t *srv = old->server;
    if (oc->sm && oc->sm->detached_at_ms && old->in_table) {
        unlink_hibernating(old);
        pl_session_t *hib_ref = old;
        pl_session_unref(&hib_ref);
        pthread_mutex_lock(&srv->sm_lock);
        pl_session_t *entry = pl_map_get(&srv->resumable, oc->sm->id);
        if (entry == old) {
            pl_map_put(&srv->resumable, oc->sm->id, pl_session_ref(ho->fresh));
            pl_session_unref(&entry);
        }
        pthread_mutex_unlock(&srv->sm_lock);
        ho->sm = oc->sm;
        oc->sm = NULL;
        ho->sm->detached_at_ms = 0;
        ho->sm->hib_next = NULL;
        ho->mod_state = old->mod_state;
        old->mod_state = NULL;
        ho->res_flags = old->res_flags & ~(unsigned)PL_RES_DETACHED;
        ho->available = old->available;
        ho->priority = old->priority;
        ho->presence = old->presence ? pl_stanza_ref(old->presence) : NULL;
        /* Stanzas still routed to the old session from now on follow. */
        oc->moved_to = pl_session_ref(ho->fresh);
    }
    if (ho->fresh->loop == pl_current_loop)
        install(ho, NULL);
    else
        pl_loop_call(ho->fresh->loop, install, ho, NULL);
}

void pl_sm_resume(pl_session_t *s, const char *previd, const char *h_attr)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    uint32_t h;
    if (!s->authenticated || s->bound || c->sm || c->resuming) {
        send_failed_resume(s, PL_ERR_UNEXPECTED_REQUEST);
        return;
    }
    if (!previd || parse_h(h_attr, &h) != 0) {
        send_failed_resume(s, PL_ERR_BAD_REQUEST);
        return;
    }
    pthread_mutex_lock(&srv->sm_lock);
    pl_session_t *old = pl_map_get(&srv->resumable, previd);
    if (old && strcmp(old->jid.bare, s->jid.bare) == 0)
        pl_session_ref(old);
    else
        old = NULL;
    pthread_mutex_unlock(&srv->sm_lock);
    if (!old) {
        /* Unknown, expired, or another account's: all look the same. */
        send_failed_resume(s, PL_ERR_ITEM_NOT_FOUND);
        return;
    }
    /* The full JID is the old session's; it never changes while detached. */
    pl_jid_t full;
    if (pl_jid_from_parts(&full, old->jid.local, old->jid.domain, old->jid.resource) != 0) {
        pl_session_unref(&old);
        send_failed_resume(s, PL_ERR_INTERNAL_SERVER_ERROR);
        return;
    }
    pl_jid_deinit(&s->jid);
    s->jid = full;
    handover_t *ho = pl_xcalloc(1, sizeof(*ho));
    ho->old = old;
    ho->fresh = pl_session_ref(s);
    ho->client_h = h;
    c->resuming = 1;
    if (old->loop == pl_current_loop)
        takeover(ho, NULL);
    else
        pl_loop_call(old->loop, takeover, ho, NULL);
}

void pl_sm_early(pl_session_t *s, const pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    const pl_limits_conf_t *l = pl_server_limits(s->server);
    if (s->closing)
        return;
    /* A handover takes milliseconds; a queue growing past the SM bounds
     * meanwhile means something is wrong, and the new stream ends. */
    if ((long long)c->nearly >= l->max_unacked ||
        (long long)(c->early_bytes + pl_stanza_out_size(st)) > l->max_unacked_bytes) {
        pl_log(&s->server->log, PL_LOG_WARN, "sm.overflow", "session=%llu early=%zu bytes=%zu",
               (unsigned long long)s->id, c->nearly, c->early_bytes);
        pl_session_stream_error(s, "resource-constraint", "too many stanzas during the handover");
        return;
    }
    c->early_bytes += pl_stanza_out_size(st);
    if (c->nearly == c->early_cap) {
        c->early_cap = c->early_cap ? c->early_cap * 2 : 8;
        c->early = pl_xrealloc(c->early, c->early_cap * sizeof(*c->early));
    }
    c->early[c->nearly++] = pl_stanza_ref(st);
}

/* ---- nonzas from the client ---- */

void pl_sm_nonza(pl_session_t *s, const pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    const pl_xml_t *root = pl_stanza_root(st);
    const char *name = root->name;
    if (!strcmp(name, "enable")) {
        handle_enable(s, root);
    } else if (!strcmp(name, "resume")) {
        if (c->sasl2) {
            send_failed_resume(s, PL_ERR_UNEXPECTED_REQUEST);
            return;
        }
        pl_sm_resume(s, pl_xml_attr(root, "previd"), pl_xml_attr(root, "h"));
    } else if (!strcmp(name, "r")) {
        if (!c->sm) {
            send_failed_resume(s, PL_ERR_UNEXPECTED_REQUEST);
            return;
        }
        answer_r(s);
    } else if (!strcmp(name, "a")) {
        uint32_t h;
        if (!c->sm)
            return;
        if (parse_h(pl_xml_attr(root, "h"), &h) != 0) {
            pl_session_stream_error(s, "bad-format", "<a/> needs a numeric h");
            return;
        }
        c->sm->r_sent = 0;
        if (apply_ack(c->sm, h) != 0) {
            pl_session_stream_error(s, "undefined-condition", "h is more than the server sent");
            return;
        }
    } else {
        pl_session_stream_error(s, "unsupported-stanza-type", NULL);
    }
}

void pl_sm_release(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    sm_free(&c->sm);
    for (size_t i = 0; i < c->nearly; i++)
        pl_stanza_unref(&c->early[i]);
    free(c->early);
    c->early = NULL;
    c->nearly = 0;
    c->early_bytes = 0;
}
