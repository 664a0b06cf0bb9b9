/* muc.c — the muc scenario's client side: which rooms an account is in,
 * entering them the way any XEP-0045 client does (a presence to
 * room@service/nick, the instant-room form when the service says it made
 * the room and holds it locked, another try while someone else's new room
 * is still locked), and posting and receiving marked groupchat messages.
 * Nothing here knows one server from another: Parley, Prosody and ejabberd
 * all see the same stanzas. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/bench/bench.h"

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define NS_DATA "jabber:x:data"
#define RETRY_NS 100000000ull /* a join refused while the room is locked is tried again after */

int bench_muc_assign(const bench_opts_t *o, bench_user_t *u)
{
    uint64_t i = u->n - o->first, total = (uint64_t)o->rooms * o->occupants;
    u->nrooms = i < total ? (uint16_t)((total - 1 - i) / o->users + 1) : 0;
    u->rooms = NULL;
    if (!u->nrooms)
        return 0;
    u->rooms = calloc(u->nrooms, sizeof(*u->rooms));
    if (!u->rooms)
        return -1;
    for (uint32_t m = 0; m < u->nrooms; m++)
        u->rooms[m].room = (uint32_t)((i + (uint64_t)m * o->users) / o->occupants);
    return 0;
}

static void room_local(const bench_opts_t *o, uint32_t room, char *buf, size_t len)
{
    snprintf(buf, len, o->room_pattern, (int)room);
}

static void send_text(bench_conn_t *c, const char *text, int n)
{
    if (n > 0)
        bench_conn_send(c, text, (size_t)n);
}

void bench_muc_join(bench_conn_t *c, uint32_t m)
{
    const bench_opts_t *o = c->w->o;
    char room[256], nick[256];
    room_local(o, c->user->rooms[m].room, room, sizeof(room));
    bench_user_name(o, c->user->n, nick, sizeof(nick));
    /* No history: messages of an earlier run would only be skipped. */
    int n = snprintf(c->w->sbuf, sizeof(c->w->sbuf),
                     "<presence to='%s@%s/%s'><x xmlns='" NS_MUC
                     "'><history maxstanzas='0'/></x></presence>",
                     room, o->muc_service, nick);
    send_text(c, c->w->sbuf, n);
}

/* The membership a room JID (bare or full) names, or -1. */
static int find_room(bench_conn_t *c, const char *jid)
{
    const bench_opts_t *o = c->w->o;
    const char *at = strchr(jid, '@');
    size_t bare = strcspn(jid, "/");
    if (!at || (size_t)(at - jid) >= bare)
        return -1;
    size_t slen = strlen(o->muc_service), llen = (size_t)(at - jid);
    if (bare - llen - 1 != slen || strncasecmp(at + 1, o->muc_service, slen) != 0)
        return -1;
    char name[256];
    for (uint32_t m = 0; m < c->user->nrooms; m++) {
        room_local(o, c->user->rooms[m].room, name, sizeof(name));
        /* Servers may have lower-cased the localpart (PRECIS). */
        if (strlen(name) == llen && strncasecmp(name, jid, llen) == 0)
            return (int)m;
    }
    return -1;
}

static void note_error(bench_worker_t *w, const char *fmt, const char *a, const char *b)
{
    if (!w->stats.first_error[0])
        snprintf(w->stats.first_error, sizeof(w->stats.first_error), fmt, a, b);
}

/* Errors that another try may cure: the room is still locked by the
 * occupant who made it, so for us it does not exist yet (item-not-found,
 * XEP-0045 10.1.1), or the nick is still held by our previous session
 * (conflict).  Anything else (a full room, a refusal) is final. */
static int worth_retrying(const char *cond)
{
    return strcmp(cond, "item-not-found") == 0 || strcmp(cond, "conflict") == 0;
}

int bench_muc_presence(bench_conn_t *c, const char *from, int is_error, int unavailable, int codes,
                       const char *cond)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    int m = from ? find_room(c, from) : -1;
    if (m < 0)
        return 0;
    bench_membership_t *ms = &c->user->rooms[m];
    if (ms->state != BENCH_MS_JOINING)
        return 1; /* another occupant's presence, or a late answer */
    uint64_t now = bench_now_ns();
    if (is_error) {
        char room[256];
        room_local(o, ms->room, room, sizeof(room));
        if (worth_retrying(cond) && now - ms->t0 < (uint64_t)(o->timeout_s * 1e9)) {
            ms->state = BENCH_MS_RETRY;
            ms->due = now + RETRY_NS;
            w->stats.c[BENCH_C_MUC_JOIN_RETRIES]++;
            return 1;
        }
        note_error(w, "joining %.80s: %.60s", room, cond);
        bench_worker_join_settled(w, ms, BENCH_MS_FAILED);
        return 1;
    }
    if (unavailable)
        return 1;
    if (!(codes & BENCH_MUC_SELF)) {
        /* A service that does not say 110 still sends our own presence
         * from room/our-nick, after the others' (XEP-0045 7.2.2). */
        char nick[256];
        const char *slash = strchr(from, '/');
        bench_user_name(o, c->user->n, nick, sizeof(nick));
        if (!slash || strcasecmp(slash + 1, nick) != 0)
            return 1;
    }
    bench_worker_join_settled(w, ms, BENCH_MS_JOINED);
    if (codes & BENCH_MUC_CREATED) {
        /* We made the room and the service holds it locked until its owner
         * configures it: accept the defaults (an instant room). */
        char room[256];
        room_local(o, ms->room, room, sizeof(room));
        w->stats.c[BENCH_C_MUC_CREATED]++;
        int n = snprintf(w->sbuf, sizeof(w->sbuf),
                         "<iq type='set' to='%s@%s' id='mucc%d'><query xmlns='" NS_MUC_OWNER
                         "'><x xmlns='" NS_DATA "' type='submit'/></query></iq>",
                         room, o->muc_service, m);
        send_text(c, w->sbuf, n);
    }
    return 1;
}

int bench_muc_iq(bench_conn_t *c, const char *id, int is_error, const char *cond)
{
    if (strncmp(id, "mucc", 4) != 0)
        return 0;
    if (is_error) {
        c->w->stats.c[BENCH_C_MUC_CONFIG_ERRORS]++;
        note_error(c->w, "instant room configuration%s: %.60s", "", cond);
    }
    return 1;
}

/* Builds one marked groupchat message for membership m into buf. */
static int compose(bench_conn_t *c, uint32_t m, uint64_t ts, char *buf, size_t len)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    char room[256];
    room_local(o, c->user->rooms[m].room, room, sizeof(room));
    int n = snprintf(
        buf, len, "<message to='%s@%s' type='groupchat' id='g%llu'><body>" BENCH_MARK "%llu %u %u",
        room, o->muc_service, (unsigned long long)++w->msg_seq, (unsigned long long)ts, c->user->n,
        c->user->rooms[m].room);
    if (n < 0 || (size_t)n >= len - 64)
        return -1;
    size_t body_len = (size_t)n - (size_t)(strstr(buf, "<body>") + 6 - buf);
    if (o->body_bytes > body_len + 1) {
        size_t pad = o->body_bytes - body_len;
        if (pad > len - (size_t)n - 32)
            pad = len - (size_t)n - 32;
        buf[n++] = ' ';
        memset(buf + n, 'x', pad - 1);
        n += (int)pad - 1;
    }
    memcpy(buf + n, "</body></message>", 17);
    return n + 17;
}

void bench_muc_post(bench_conn_t *c)
{
    bench_worker_t *w = c->w;
    bench_user_t *u = c->user;
    uint64_t ts = bench_now_ns() / 1000;
    char piece[4096 + 768];
    size_t used = 0;
    for (uint32_t m = 0; m < u->nrooms; m++) {
        bench_membership_t *ms = &u->rooms[m];
        if (ms->state != BENCH_MS_JOINED || (w->o->muc_fast && ms->flight))
            continue;
        int n = compose(c, m, ts, piece, sizeof(piece));
        if (n < 0)
            continue;
        if (used + (size_t)n > sizeof(w->sbuf)) {
            bench_conn_send(c, w->sbuf, used);
            used = 0;
        }
        memcpy(w->sbuf + used, piece, (size_t)n);
        used += (size_t)n;
        ms->flight = 1;
        w->stats.c[BENCH_C_MUC_SENT]++;
        atomic_fetch_add_explicit(&w->a_sent, 1, memory_order_relaxed);
    }
    if (used)
        bench_conn_send(c, w->sbuf, used);
}

/* --fast: membership m's message is back; post the next one. */
static void next_fast(bench_conn_t *c, int m)
{
    bench_worker_t *w = c->w;
    if (m < 0)
        return;
    c->user->rooms[m].flight = 0;
    if (w->phase == BENCH_PH_RUN)
        bench_muc_post(c);
}

void bench_muc_message(bench_conn_t *c, const char *text, int is_error, const char *cond)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    if (is_error) {
        /* Not posted again at once, even with --fast: a service that refuses
         * (a rate limit) would be hammered in a loop. */
        w->stats.c[BENCH_C_MUC_ERRORS]++;
        note_error(w, "groupchat message bounced%s: %.60s", "", cond);
        w->stats.last_recv = bench_now_ns();
        return;
    }
    unsigned long long ts;
    unsigned sender, room;
    if (strncmp(text, BENCH_MARK, sizeof(BENCH_MARK) - 1) != 0 ||
        sscanf(text + sizeof(BENCH_MARK) - 1, "%llu %u %u", &ts, &sender, &room) != 3)
        return;
    if (ts < o->origin_ns / 1000)
        return; /* history of an earlier run */
    uint64_t now = bench_now_ns(), now_us = now / 1000;
    w->stats.last_recv = now;
    if (sender == c->user->n) {
        /* The room's copy to the sender itself (XEP-0045 7.4): counted
         * apart, never as a delivery, and not in the latency. */
        w->stats.c[BENCH_C_MUC_ECHO]++;
        if (o->muc_fast) {
            int m = -1;
            for (uint32_t k = 0; k < c->user->nrooms && m < 0; k++)
                if (c->user->rooms[k].room == room)
                    m = (int)k;
            next_fast(c, m);
        }
        return;
    }
    bench_hist_record(&w->stats.muc, now_us > ts ? now_us - ts : 0);
    w->stats.c[BENCH_C_MUC_RECV]++;
    atomic_fetch_add_explicit(&w->a_recv, 1, memory_order_relaxed);
}
