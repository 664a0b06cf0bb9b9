/* test_durability.c — REL-1: nothing the server acknowledged is lost when
 * it is killed.  A sender under stream management sends messages to a
 * recipient that is online (its client reconnects after every crash) and
 * to one that stays offline, while the server is killed with SIGKILL at a
 * random moment of each round and started again.  The sender keeps what
 * the server acknowledged (<a h=''/>) and, like a real client, sends the
 * rest again after reconnecting.  At the end every acknowledged message
 * must be in the online recipient's archive (XEP-0313) and must reach the
 * offline recipient from the offline store (XEP-0160).  Copies are counted
 * and reported: the same stanza-id twice (the server delivered a stored
 * message again) or the same client id twice (the sender resent a message
 * the server had already taken but not yet acknowledged).
 *
 * The same for a room (issue #16): groupchat messages the server
 * acknowledged to their sender under stream management, in a persistent
 * room of the group service, must all be in the room's archive (XEP-0313
 * on the room JID) and in the history a newcomer gets on entering, after
 * the same SIGKILLs and once more after a last one.
 *
 * PARLEY_DURABILITY_MESSAGES (default 400, the room gets half) and
 * PARLEY_DURABILITY_ROUNDS (default 4) size it; `make durability` runs a
 * long one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/integration/harness.h"

// clang-format off
static const char *const accounts[] = {
    "sender@example.test", "pw", "online@example.test", "pw", "offline@example.test", "pw",
    "speaker@example.test", "pw", "reader@example.test", "pw",
    NULL,
};
// clang-format on

#define ROOM "durable@groups.example.test"

typedef struct msg {
    int acked;
    int seen_online, seen_offline; /* copies received */
} msg_t;

static msg_t *msgs;
static int nmsgs;

static const char *recipient_of(int i) { return i % 2 ? "offline@example.test" : "online@example.test"; }

/* Parses every <a h=''/> received so far; returns the highest h. */
static long highest_ack(h_raw_t *r, long h)
{
    h_raw_poll(r);
    for (const char *p = r->buf; (p = strstr(p, "<a xmlns='urn:xmpp:sm:3' h='")); p++) {
        long v = strtol(p + 28, NULL, 10);
        if (v > h)
            h = v;
    }
    return h;
}

typedef struct sender {
    h_raw_t r;
    int up;
    int *sent; /* message index of each stanza sent in this session, in order
                  (-1: a stanza that is not one of the messages) */
    int nsent;
    long acked_h;
} sender_t;

static int sender_connect_as(sender_t *s, h_server_t *srv, const char *user)
{
    memset(&s->r, 0, sizeof(s->r));
    s->r.fd = -1;
    s->nsent = 0;
    s->acked_h = 0;
    if (!h_raw_login(&s->r, srv, user, "pw", "bulk"))
        return 0;
    h_raw_sendf(&s->r, "<enable xmlns='urn:xmpp:sm:3'/>");
    s->up = h_raw_wait(&s->r, "<enabled", 5000);
    return s->up;
}

static int sender_connect(sender_t *s, h_server_t *srv)
{
    return sender_connect_as(s, srv, "sender");
}

static void sender_send(sender_t *s, int i)
{
    h_raw_sendf(&s->r,
                "<message to='%s' type='chat' id='c%d'><body>m%d</body>"
                "<origin-id xmlns='urn:xmpp:sid:0' id='c%d'/></message>",
                recipient_of(i), i, i, i);
    s->sent[s->nsent++] = i;
}

/* Marks what the server acknowledged in this session. */
static void sender_account(sender_t *s)
{
    s->acked_h = highest_ack(&s->r, s->acked_h);
    for (long k = 0; k < s->acked_h && k < s->nsent; k++)
        if (s->sent[k] >= 0)
            msgs[s->sent[k]].acked = 1;
}

/* One round's sending: messages next.. up to `end`, or up to and including
 * kill_at, each through `send`.  Like a real client it asks for an ack
 * every 20, and most rounds keep a window (wait for the ack of a batch
 * when more than 40 are out), so the server has taken most messages when
 * it is killed; the others pour everything out at once.  Returns where
 * it stopped (kill_at itself when the round is cut there). */
static int send_round(sender_t *s, int next, int end, int kill_at, void (*send)(sender_t *, int))
{
    int windowed = rand() % 3 != 0;
    for (; next < end; next++) {
        send(s, next);
        if (next % 20 == 19) {
            h_raw_sendf(&s->r, "<r xmlns='urn:xmpp:sm:3'/>");
            if (windowed && s->nsent > 40) {
                long want = s->nsent - 20;
                for (long long dl = h_now_ms() + 2000; s->acked_h < want && h_now_ms() < dl;) {
                    h_raw_wait(&s->r, "<a xmlns", 100);
                    sender_account(s);
                }
            }
        }
        if (next % 50 == 0)
            sender_account(s);
        if (next == kill_at)
            break;
    }
    return next;
}

/* Half the time the kill comes right behind the last stanzas (they are in
 * flight, unacknowledged); otherwise a few milliseconds after asking for
 * an ack.  Either way what was acknowledged by then is counted. */
static void before_kill(sender_t *s)
{
    if (rand() % 2) {
        h_raw_sendf(&s->r, "<r xmlns='urn:xmpp:sm:3'/>");
        struct timespec ts = {0, (rand() % 6) * 1000000L};
        nanosleep(&ts, NULL);
    }
    sender_account(s);
}

/* The body "<prefix><i>" of each message in a text, counted into the
 * table. */
static void count_bodies_of(const char *text, const char *prefix, int offline)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "<body>%s", prefix);
    for (const char *p = text; (p = strstr(p, pat)); p++) {
        int i = atoi(p + strlen(pat));
        if (i >= 0 && i < nmsgs) {
            if (offline)
                msgs[i].seen_offline++;
            else
                msgs[i].seen_online++;
        }
    }
}

static void count_bodies(const char *text, int offline)
{
    count_bodies_of(text, "m", offline);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Stanza-ids given by the server to the recipient's messages that occur
 * more than once in `text`: the same stored message delivered again. */
static int stanza_id_copies(const char *text, const char *by)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "by='%s' id='", by);
    char **ids = NULL;
    size_t n = 0, cap = 0;
    for (const char *p = text; (p = strstr(p, pat)); p++) {
        const char *v = p + strlen(pat);
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            ids = realloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = strndup(v, strcspn(v, "'"));
    }
    qsort(ids, n, sizeof(*ids), cmp_str);
    int copies = 0;
    for (size_t i = 1; i < n; i++)
        copies += strcmp(ids[i], ids[i - 1]) == 0;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    return copies;
}

/* Pages through the whole archive of `to` (NULL: the reader's own) as
 * `user`, counting the bodies with `prefix` (as seen online). */
static int read_archive_of(h_server_t *srv, const char *user, const char *to, const char *prefix)
{
    h_raw_t r;
    int ok = 0, pages = 0;
    char after[128] = "", to_attr[160] = "";
    if (to)
        snprintf(to_attr, sizeof(to_attr), " to='%s'", to);
    if (!CHECK(h_raw_login(&r, srv, user, "pw", "catchup")))
        goto out;
    for (; pages < 10000; pages++) {
        size_t start = r.len;
        char set[256];
        if (after[0])
            snprintf(set, sizeof(set),
                     "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max><after>%s</after></set>",
                     after);
        else
            snprintf(set, sizeof(set), "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max></set>");
        h_raw_sendf(
            &r,
            "<iq type='set' id='q%d'%s><query xmlns='urn:xmpp:mam:2' queryid='a%d'>%s</query></iq>",
            pages, to_attr, pages, set);
        char fin[32];
        snprintf(fin, sizeof(fin), "id='q%d'", pages);
        if (!CHECK_MSG(h_raw_wait(&r, fin, 10000), "archive page %d did not come", pages))
            goto out;
        if (!CHECK(h_raw_wait(&r, "</iq>", 10000) || strstr(r.buf + start, "<fin")))
            goto out;
        count_bodies_of(r.buf + start, prefix, 0);
        const char *f = strstr(r.buf + start, "<fin");
        if (!f)
            goto out;
        const char *last = strstr(f, "<last>");
        if (strstr(f, "complete='true'") || !last) {
            ok = 1;
            break;
        }
        snprintf(after, sizeof(after), "%.*s", (int)strcspn(last + 6, "<"), last + 6);
    }
out:
    h_raw_close(&r);
    return ok;
}

/* Pages through the online recipient's whole archive. */
static int read_archive(h_server_t *srv)
{
    return read_archive_of(srv, "online", NULL, "m");
}

static void acknowledged_messages_survive_sigkill(h_server_t *srv)
{
    const char *m = getenv("PARLEY_DURABILITY_MESSAGES"), *rd = getenv("PARLEY_DURABILITY_ROUNDS");
    nmsgs = m ? atoi(m) : 400;
    int rounds = rd ? atoi(rd) : 4;
    if (nmsgs < 10)
        nmsgs = 10;
    if (rounds < 1)
        rounds = 1;
    msgs = calloc((size_t)nmsgs, sizeof(*msgs));
    sender_t s = {.sent = calloc((size_t)nmsgs * 2 + 16, sizeof(int))};
    srand((unsigned)time(NULL));
    int per_round = (nmsgs + rounds - 1) / rounds, next = 0, crashes = 0, resent = 0;
    /* The online recipient reads live; it is not what the check relies on
     * (the archive is), but it keeps a session taking deliveries. */
    for (int round = 0; round < rounds && next < nmsgs; round++) {
        if (!CHECK(sender_connect(&s, srv)))
            break;
        h_raw_t online;
        int online_up = h_raw_login(&online, srv, "online", "pw", "live");
        if (online_up)
            h_raw_sendf(&online, "<presence/>");
        /* Like a real client: what was never acknowledged goes again. */
        for (int i = 0; i < next; i++)
            if (!msgs[i].acked) {
                sender_send(&s, i);
                resent++;
            }
        int last_round = round == rounds - 1;
        int end = !last_round && next + per_round < nmsgs ? next + per_round : nmsgs;
        int kill_at = last_round ? -1 : next + (per_round / 3) + rand() % (per_round * 2 / 3 + 1);
        next = send_round(&s, next, end, kill_at, sender_send);
        if (!last_round) {
            next++;
            before_kill(&s);
            if (!CHECK(h_server_crash_restart(srv) == 0))
                break;
            crashes++;
            sender_account(&s); /* acks that made it out before the kill */
        } else {
            h_raw_sendf(&s.r, "<r xmlns='urn:xmpp:sm:3'/>");
            long want = s.nsent;
            for (long long dl = h_now_ms() + 20000; s.acked_h < want && h_now_ms() < dl;) {
                h_raw_wait(&s.r, "<a xmlns", 500);
                sender_account(&s);
            }
            CHECK_MSG(s.acked_h == want, "the last round was acknowledged up to %ld of %ld",
                      s.acked_h, want);
        }
        h_raw_close(&s.r);
        if (online_up)
            h_raw_close(&online);
    }
    int acked = 0;
    for (int i = 0; i < nmsgs; i++)
        acked += msgs[i].acked;
    /* The offline recipient logs in: the offline store hands everything. */
    h_raw_t off;
    int sid_copies = 0;
    if (CHECK(h_raw_login(&off, srv, "offline", "pw", "later"))) {
        h_raw_sendf(&off, "<presence/><iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>");
        CHECK(h_raw_wait(&off, "id='sync'", 10000));
        h_raw_wait(&off, "</nothing-comes>", 1000);
        count_bodies(off.buf, 1);
        sid_copies = stanza_id_copies(off.buf, "offline@example.test");
    }
    h_raw_close(&off);
    CHECK(read_archive(srv));
    int lost = 0, dup_online = 0, dup_offline = 0;
    for (int i = 0; i < nmsgs; i++) {
        int seen = i % 2 ? msgs[i].seen_offline : msgs[i].seen_online;
        if (msgs[i].acked && seen == 0) {
            if (lost < 10)
                printf("    lost: m%d to %s\n", i, recipient_of(i));
            lost++;
        }
        if (i % 2 && msgs[i].seen_offline > 1)
            dup_offline += msgs[i].seen_offline - 1;
        if (!(i % 2) && msgs[i].seen_online > 1)
            dup_online += msgs[i].seen_online - 1;
    }
    printf("    REL-1: %d messages, %d rounds, %d SIGKILLs, %d acknowledged, %d lost; %d resent "
           "by the sender (unacknowledged), arriving twice: %d in the archive, %d offline; "
           "redelivered with the same stanza-id: %d\n",
           nmsgs, rounds, crashes, acked, lost, resent, dup_online, dup_offline, sid_copies);
    CHECK_MSG(lost == 0, "%d acknowledged messages were lost", lost);
    CHECK(crashes == rounds - 1);
    free(s.sent);
    free(msgs);
}

/* ---- a room (issue #16) ---- */

static void speaker_enter(sender_t *s)
{
    /* Counted by the server's h like any stanza; not one of the messages. */
    h_raw_sendf(&s->r, "<presence to='" ROOM "/speaker'><x xmlns='http://jabber.org/protocol/muc'>"
                       "<history maxstanzas='0'/></x></presence>");
    s->sent[s->nsent++] = -1;
}

static void speaker_say(sender_t *s, int i)
{
    h_raw_sendf(
        &s->r, "<message to='" ROOM "' type='groupchat' id='g%d'><body>g%d</body></message>", i, i);
    s->sent[s->nsent++] = i;
}

/* Waits until the server acknowledged everything sent in this session. */
static int speaker_all_acked(sender_t *s, int timeout_ms)
{
    h_raw_sendf(&s->r, "<r xmlns='urn:xmpp:sm:3'/>");
    for (long long dl = h_now_ms() + timeout_ms; s->acked_h < s->nsent && h_now_ms() < dl;) {
        h_raw_wait(&s->r, "<a xmlns", 200);
        sender_account(s);
    }
    return s->acked_h == s->nsent;
}

/* A newcomer's history: how many acknowledged messages it lacks. */
static int history_lacks(h_server_t *srv, const char *when)
{
    h_raw_t r;
    int lacking = -1;
    int *seen = calloc((size_t)nmsgs, sizeof(int));
    if (!CHECK(h_raw_login(&r, srv, "reader", "pw", "history")))
        goto out;
    h_raw_sendf(&r, "<presence to='" ROOM "/reader'><x xmlns='http://jabber.org/protocol/muc'>"
                    "<history maxstanzas='1000'/></x></presence>");
    /* The subject comes after the history. */
    if (!CHECK_MSG(h_raw_wait(&r, "<subject", 10000), "%s: entering the room", when))
        goto out;
    for (const char *p = r.buf; (p = strstr(p, "<body>g")); p++) {
        int i = atoi(p + 7);
        if (i >= 0 && i < nmsgs)
            seen[i]++;
    }
    lacking = 0;
    for (int i = 0; i < nmsgs; i++)
        if (msgs[i].acked && !seen[i]) {
            if (lacking < 10)
                printf("    %s: history lacks g%d\n", when, i);
            lacking++;
        }
out:
    h_raw_close(&r);
    free(seen);
    return lacking;
}

static void acknowledged_room_messages_survive_sigkill(h_server_t *srv)
{
    const char *m = getenv("PARLEY_DURABILITY_MESSAGES"), *rd = getenv("PARLEY_DURABILITY_ROUNDS");
    nmsgs = (m ? atoi(m) : 400) / 2;
    int rounds = rd ? atoi(rd) : 4;
    if (nmsgs < 10)
        nmsgs = 10;
    /* The history (history_size 1000) must hold them all, and the copies
     * of those resent after a crash that the server had taken. */
    if (nmsgs > 500)
        nmsgs = 500;
    if (rounds < 1)
        rounds = 1;
    msgs = calloc((size_t)nmsgs, sizeof(*msgs));
    sender_t s = {.sent = calloc((size_t)nmsgs * 2 + 64, sizeof(int))};
    int per_round = (nmsgs + rounds - 1) / rounds, next = 0, crashes = 0, resent = 0;
    size_t started = h_log_mark(srv);
    /* The room is made persistent under SM too: once that is acknowledged
     * it is stored. */
    if (!CHECK(sender_connect_as(&s, srv, "speaker")))
        goto out;
    speaker_enter(&s);
    h_raw_sendf(&s.r, "<iq type='set' id='conf' to='" ROOM "'>"
                      "<query xmlns='http://jabber.org/protocol/muc#owner'>"
                      "<x xmlns='jabber:x:data' type='submit'>"
                      "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig"
                      "</value></field><field var='muc#roomconfig_persistentroom'><value>1</value>"
                      "</field></x></query></iq>");
    s.sent[s.nsent++] = -1;
    if (!CHECK_MSG(h_raw_wait(&s.r, "id='conf'", 5000) &&
                       strstr(s.r.buf, "type='result' id='conf'"),
                   "the room was not configured") ||
        !CHECK(speaker_all_acked(&s, 5000)))
        goto out;
    h_raw_close(&s.r);
    for (int round = 0; round < rounds && next < nmsgs; round++) {
        if (!CHECK(sender_connect_as(&s, srv, "speaker")))
            break;
        speaker_enter(&s);
        for (int i = 0; i < next; i++)
            if (!msgs[i].acked) {
                speaker_say(&s, i);
                resent++;
            }
        int last_round = round == rounds - 1;
        int end = !last_round && next + per_round < nmsgs ? next + per_round : nmsgs;
        int kill_at = last_round ? -1 : next + (per_round / 3) + rand() % (per_round * 2 / 3 + 1);
        next = send_round(&s, next, end, kill_at, speaker_say);
        if (!last_round) {
            next++;
            before_kill(&s);
            started = h_log_mark(srv);
            if (!CHECK(h_server_crash_restart(srv) == 0))
                break;
            crashes++;
            sender_account(&s);
        } else {
            CHECK_MSG(speaker_all_acked(&s, 20000),
                      "the last round was acknowledged up to %ld of %d", s.acked_h, s.nsent);
        }
        h_raw_close(&s.r);
    }
    int acked = 0;
    for (int i = 0; i < nmsgs; i++)
        acked += msgs[i].acked;
    /* The history as the server holds it after the last round: the ring,
     * refilled from the archive a second after the last start, in front of
     * what the room heard since (the speaker was back within that second);
     * then after one more crash, refilled from the archive alone. */
    CHECK(h_log_wait(srv, started, 10000, "muc.history.loaded", NULL));
    int lacks_live = history_lacks(srv, "after the last round");
    int lacks_crash = -1;
    started = h_log_mark(srv);
    if (CHECK(h_server_crash_restart(srv) == 0)) {
        crashes++;
        CHECK(h_log_wait(srv, started, 10000, "muc.history.loaded", NULL));
        lacks_crash = history_lacks(srv, "after a last SIGKILL");
    }
    CHECK(read_archive_of(srv, "reader", ROOM, "g"));
    int lost = 0, dup = 0;
    for (int i = 0; i < nmsgs; i++) {
        if (msgs[i].acked && msgs[i].seen_online == 0) {
            if (lost < 10)
                printf("    lost from the room archive: g%d\n", i);
            lost++;
        }
        if (msgs[i].seen_online > 1)
            dup += msgs[i].seen_online - 1;
    }
    printf("    room: %d messages, %d SIGKILLs, %d acknowledged, %d lost from the archive, "
           "%d and %d missing from the history (live, after a crash); %d resent by the sender, "
           "%d twice in the archive\n",
           nmsgs, crashes, acked, lost, lacks_live, lacks_crash, resent, dup);
    CHECK_MSG(lost == 0, "%d acknowledged room messages were lost from the archive", lost);
    CHECK_MSG(lacks_live == 0, "the history lacks %d acknowledged messages", lacks_live);
    CHECK_MSG(lacks_crash == 0, "after a crash the history lacks %d acknowledged messages",
              lacks_crash);
    CHECK(crashes == rounds);
out:
    free(s.sent);
    free(msgs);
    msgs = NULL;
}

int main(void)
{
    h_init();
    h_server_t srv;
    h_server_opts_t opts = {
        .accounts = accounts,
        .log_level = "info",
        .limits = "stanza_rate = 100000; stanza_burst = 100000;",
        .modules = "roster = {}; presence = {}; offline = { quota = 100000; }; mam = {}; "
                   "muc = { history_size = 1000; occupant_rate = 10000; occupant_burst = 10000; };",
    };
    if (h_server_start(&srv, &opts) == 0) {
        H_RUN(acknowledged_messages_survive_sigkill, &srv);
        H_RUN(acknowledged_room_messages_survive_sigkill, &srv);
    }
    h_server_stop(&srv);
    return h_finish("test_durability");
}
