/* inbox.c — the server-kept conversation list (XEP-0430 Inbox, IM-4): for
 * each user and conversation partner, the last message and how many the
 * user has not read.  Messages reaching the user count as unread; what the
 * user sends, and the chat markers (XEP-0333) and XEP-0490 displayed
 * positions the user's clients send, mark messages read.  Every change is a
 * storage write submitted inside the hook that saw the stanza (so stream
 * management acknowledges it only once stored); when a change means the
 * user read something, the user's clients that asked for their inbox are
 * told (urn:parley:inbox).  A group's message reaches every member as one
 * batch of notifications (pl_notify_many): it is one write job for all of
 * them, the message's fields carried once.  The query itself is in query.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/inbox/inbox-private.h"
#include "xmpp/ns.h"
#include "xmpp/route-rules.h"

/* Bytes of a body carried to the storage thread: enough for the excerpt
 * and to know it was cut. */
#define INBOX_BODY_CARRY (PL_INBOX_EXCERPT_MAX + 8)

/* ---- write jobs ---- */

typedef struct inbox_job {
    pl_server_t *server;
    pl_kv_t *kv;
    unsigned push_flag; /* the sessions told of a read carry it (INBOX_FLAG_PUSH) */
    long max;
    char *user;
    pl_inbox_kind_t kind;
    char *partner, *stanza_id, *msg_id, *from, *to, *type, *body;
    long long stamp;
    int mention; /* a group's message that mentions the user */
    /* results, filled on the storage thread */
    int result;
    uint32_t before;
    /* The entry after the change, for telling the user's clients of a
     * read; only jobs that may read (not PL_INBOX_IN) have one, so the
     * many jobs a busy group queues stay small (an entry is ~18 KB). */
    pl_inbox_entry_t *after;
} inbox_job_t;

static char *dup_or_null(const char *s)
{
    return s && *s ? pl_xstrdup(s) : NULL;
}

static void job_free(inbox_job_t **jp)
{
    inbox_job_t *j = *jp;
    if (!j)
        return;
    *jp = NULL;
    char *strs[] = {j->user, j->partner, j->stanza_id, j->msg_id, j->from, j->to, j->type, j->body};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(strs[i]);
    free(j->after);
    free(j);
}

static int job_run(pl_wtxn_t *txn, void *ud)
{
    inbox_job_t *j = ud;
    pl_inbox_event_t ev = {
        .kind = j->kind,
        .partner = j->partner,
        .stanza_id = j->stanza_id,
        .msg_id = j->msg_id,
        .from = j->from,
        .to = j->to,
        .type = j->type,
        .body = j->body,
        .stamp = j->stamp,
        .mention = j->mention,
    };
    /* No eviction named: the transaction finds the least active
     * conversation itself, so the loop reads nothing to queue a write. */
    j->result = pl_inbox_update(txn, j->kv, j->user, &ev, j->max, NULL, &j->before, j->after);
    return j->result < 0 ? j->result : 0;
}

/* Tells the user's clients that asked for their inbox that a conversation
 * was read (by one of them, or by the user answering):
 * <message type='headline'><update xmlns='urn:parley:inbox' jid unread id displayed/>. */
static void push_update(pl_server_t *srv, const char *user, unsigned push_flag,
                        const pl_inbox_entry_t *e)
{
    pl_resource_t res[INBOX_MAX_RESOURCES];
    size_t n = pl_server_resources(srv, user, res, INBOX_MAX_RESOURCES);
    pl_stanza_t *first = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(res[i].flags & push_flag))
            continue;
        pl_stanza_t *st;
        if (first) {
            st = pl_stanza_readdress(first, PL_KEEP, res[i].jid->full);
        } else {
            char unread[16];
            snprintf(unread, sizeof(unread), "%u", e->unread);
            pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
            pl_build_attr(b, "from", user);
            pl_build_attr(b, "to", res[i].jid->full);
            pl_build_attr(b, "type", "headline");
            pl_build_child(b, "update", INBOX_NS_PARLEY);
            pl_build_attr(b, "jid", e->partner);
            pl_build_attr(b, "unread", unread);
            if (*e->last_id)
                pl_build_attr(b, "id", e->last_id);
            if (*e->displayed)
                pl_build_attr(b, "displayed", e->displayed);
            pl_build_up(b);
            first = pl_build_finish(b);
            st = pl_stanza_ref(first);
        }
        pl_session_send_stanza(res[i].session, st);
        pl_stanza_unref(&st);
    }
    pl_stanza_unref(&first);
    pl_resources_release(res, n);
}

static void job_done(void *ud, int status)
{
    inbox_job_t *j = ud;
    if (status < 0 || j->result < 0) {
        pl_log(pl_server_log(j->server), PL_LOG_WARN, "inbox.write_failed",
               "user=%s partner=%s status=%d", j->user, j->partner,
               status < 0 ? status : j->result);
    } else if (j->result == 1 && j->after &&
               (j->kind == PL_INBOX_READ || j->after->unread < j->before)) {
        push_update(j->server, j->user, j->push_flag, j->after);
    }
    job_free(&j);
}

/* Queues the change (synchronously, from the hook: see the file comment). */
static void submit(pl_hook_ctx_t *hc, inbox_job_t *j)
{
    const inbox_conf_t *conf = pl_module_conf(hc->module);
    j->server = hc->server;
    j->kv = inbox_kv(hc->module);
    j->push_flag = pl_module_session_flag(hc->module, INBOX_FLAG_PUSH);
    j->max = (long)conf->max_conversations;
    if (pl_server_write(hc->server, job_run, job_done, j) != 0) {
        pl_module_log(hc->module, PL_LOG_WARN, "queue_full", "user=%s", j->user);
        job_free(&j);
    }
}

static inbox_job_t *job_new(pl_inbox_kind_t kind, const char *user, const char *partner)
{
    inbox_job_t *j = pl_xcalloc(1, sizeof(*j));
    j->kind = kind;
    /* A message for the user never lowers the unread count. */
    if (kind != PL_INBOX_IN)
        j->after = pl_xmalloc(sizeof(*j->after));
    j->user = pl_xstrdup(user);
    j->partner = pl_xstrdup(partner);
    return j;
}

/* ---- which stanzas matter ---- */

/* The message's body, if it has one (at most INBOX_BODY_CARRY bytes), to
 * *body: 1, or 0 without a body. */
static int carry_body(const pl_xml_t *root, char **body)
{
    pl_buf_t b;
    pl_buf_init(&b);
    if (!pl_xml_child_text(root, "body", PL_NS_CLIENT, &b)) {
        pl_buf_deinit(&b);
        return 0;
    }
    size_t n = b.len < INBOX_BODY_CARRY ? b.len : INBOX_BODY_CARRY;
    *body = pl_xmalloc(n + 1);
    memcpy(*body, b.data ? b.data : "", n);
    (*body)[n] = '\0';
    pl_buf_deinit(&b);
    return 1;
}

/* A message of a conversation: chat or normal, with a body, and not a
 * carbon wrapper.  Its body goes to *body. */
static int conversation_message(const pl_stanza_t *st, char **body)
{
    const pl_xml_t *root = pl_stanza_root(st);
    const char *type = pl_xml_attr(root, "type");
    if (type && *type && strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0)
        return 0;
    if (pl_xml_child(root, "sent", PL_NS_CARBONS) || pl_xml_child(root, "received", PL_NS_CARBONS))
        return 0;
    return carry_body(root, body);
}

/* The router's XEP-0359 id for this account, or NULL. */
static const char *own_stanza_id(const pl_stanza_t *st, const char *bare)
{
    const pl_xml_t *root = pl_stanza_root(st);
    for (const pl_xml_t *c = pl_xml_child(root, "stanza-id", PL_NS_SID); c;
         c = pl_xml_next(c, "stanza-id", PL_NS_SID)) {
        const char *by = pl_xml_attr(c, "by");
        if (by && strcmp(by, bare) == 0)
            return pl_xml_attr(c, "id");
    }
    return NULL;
}

/* ---- a group's message for its members: one job per batch ---- */

/* A message the batch tells of, its fields carried once for all the
 * members told of it (a room's batch is one message). */
typedef struct group_msg {
    char *partner, *stanza_id, *msg_id, *from, *type, *body;
    long long stamp;
} group_msg_t;

typedef struct group_member {
    char *user;
    char *to;   /* the stanza's 'to' when it is not `user` written the same way, else NULL */
    size_t msg; /* in msgs */
    int mention;
    int result; /* filled on the storage thread */
} group_member_t;

typedef struct group_job {
    pl_server_t *server;
    pl_kv_t *kv;
    long max;
    group_msg_t *msgs;
    size_t nmsgs, capmsgs;
    group_member_t *members;
    size_t n, cap;
} group_job_t;

static void group_free(group_job_t **gp)
{
    group_job_t *g = *gp;
    if (!g)
        return;
    *gp = NULL;
    for (size_t i = 0; i < g->nmsgs; i++) {
        group_msg_t *m = &g->msgs[i];
        char *strs[] = {m->partner, m->stanza_id, m->msg_id, m->from, m->type, m->body};
        for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
            free(strs[k]);
    }
    for (size_t i = 0; i < g->n; i++) {
        free(g->members[i].user);
        free(g->members[i].to);
    }
    free(g->msgs);
    free(g->members);
    free(g);
}

/* pl_inbox_update's errors that come before it writes anything: the
 * member's conversation is left as it was, the batch goes on. */
static int nothing_written(int rc)
{
    return rc == -EBADMSG || rc == -ENOKEY || rc == -ENAMETOOLONG || rc == -EINVAL;
}

static int group_run(pl_wtxn_t *txn, void *ud)
{
    group_job_t *g = ud;
    for (size_t i = 0; i < g->n; i++) {
        group_member_t *m = &g->members[i];
        const group_msg_t *msg = &g->msgs[m->msg];
        pl_inbox_event_t ev = {
            .kind = PL_INBOX_IN,
            .partner = msg->partner,
            .stanza_id = msg->stanza_id,
            .msg_id = msg->msg_id,
            .from = msg->from,
            .to = m->to ? m->to : m->user,
            .type = msg->type,
            .body = msg->body,
            .stamp = msg->stamp,
            .mention = m->mention,
        };
        m->result = pl_inbox_update(txn, g->kv, m->user, &ev, g->max, NULL, NULL, NULL);
        /* A failure after a write (the store itself failing) undoes the
         * whole batch rather than leave a conversation half written: each
         * job runs in a nested transaction of its own. */
        if (m->result < 0 && !nothing_written(m->result))
            return m->result;
    }
    return 0;
}

/* A message for the user never lowers the unread count, so no client is
 * told of a read: only failures are left to report. */
static void group_done(void *ud, int status)
{
    group_job_t *g = ud;
    for (size_t i = 0; i < g->n; i++) {
        const group_member_t *m = &g->members[i];
        if (status < 0 || m->result < 0)
            pl_log(pl_server_log(g->server), PL_LOG_WARN, "inbox.write_failed",
                   "user=%s partner=%s status=%d", m->user, g->msgs[m->msg].partner,
                   status < 0 ? status : m->result);
    }
    group_free(&g);
}

/* PL_EV_NOTIFY's batch_end: queues the batch's one write. */
static void group_submit(pl_module_ctx_t *mod, void *batch)
{
    group_job_t *g = batch;
    if (pl_server_write(g->server, group_run, group_done, g) != 0) {
        pl_module_log(mod, PL_LOG_WARN, "queue_full", "user=%s members=%zu", g->members[0].user,
                      g->n);
        group_free(&g);
    }
}

/* a (stored, NULL for absent) and b (as the stanza has it, "" or NULL for
 * absent) say the same. */
static int same_field(const char *a, const char *b)
{
    return a ? b && strcmp(a, b) == 0 : !b || !*b;
}

/* The batch's message for these fields: the last one when it is the same
 * message (same stanza-id and all), else a new one, which takes `body`. */
static size_t group_msg(group_job_t *g, const pl_hook_ctx_t *hc, const char *sid, char **body)
{
    const char *from = pl_stanza_attr(hc->stanza, "from");
    if (g->nmsgs > 0 && sid && *sid) {
        const group_msg_t *m = &g->msgs[g->nmsgs - 1];
        if (same_field(m->stanza_id, sid) && strcmp(m->partner, hc->from->bare) == 0 &&
            same_field(m->msg_id, hc->id) && same_field(m->from, from) &&
            same_field(m->type, hc->type) && same_field(m->body, *body)) {
            free(*body);
            *body = NULL;
            return g->nmsgs - 1;
        }
    }
    if (g->nmsgs == g->capmsgs) {
        g->capmsgs = g->capmsgs ? g->capmsgs * 2 : 1;
        g->msgs = pl_xrealloc(g->msgs, g->capmsgs * sizeof(*g->msgs));
    }
    unsigned long long t = sid ? pl_id_value(sid) : 0;
    if (!t) {
        char now[PL_ID_SIZE];
        pl_server_new_id(hc->server, now);
        t = pl_id_value(now);
    }
    g->msgs[g->nmsgs] = (group_msg_t){
        .partner = pl_xstrdup(hc->from->bare),
        .stanza_id = dup_or_null(sid),
        .msg_id = dup_or_null(hc->id),
        .from = dup_or_null(from),
        .type = dup_or_null(hc->type),
        .body = *body,
        .stamp = (long long)t,
    };
    *body = NULL;
    return g->nmsgs++;
}

/* Adds the member told of the message to the batch in *hc->batch. */
static void group_add(pl_hook_ctx_t *hc, char *body)
{
    group_job_t *g = *hc->batch;
    if (!g) {
        const inbox_conf_t *conf = pl_module_conf(hc->module);
        g = pl_xcalloc(1, sizeof(*g));
        g->server = hc->server;
        g->kv = inbox_kv(hc->module);
        g->max = (long)conf->max_conversations;
        *hc->batch = g;
    }
    size_t msg = group_msg(g, hc, own_stanza_id(hc->stanza, hc->from->bare), &body);
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->members = pl_xrealloc(g->members, g->cap * sizeof(*g->members));
    }
    const char *to = pl_stanza_attr(hc->stanza, "to");
    g->members[g->n++] = (group_member_t){
        .user = pl_xstrdup(hc->to->bare),
        .to = to && *to && strcmp(to, hc->to->bare) != 0 ? pl_xstrdup(to) : NULL,
        .msg = msg,
        .mention = (hc->notify & PL_NOTIFY_MENTION) != 0,
    };
}

/* Will the router give this message to a session or to offline storage
 * (RFC 6121 §8.5, xmpp/route-rules.c)?  A message it refuses or drops
 * is no part of a conversation. */
static int reaches_user(pl_hook_ctx_t *hc)
{
    pl_resource_t res[INBOX_MAX_RESOURCES];
    pl_route_candidate_t cand[INBOX_MAX_RESOURCES];
    unsigned char selected[INBOX_MAX_RESOURCES];
    size_t n = pl_server_resources(hc->server, hc->to->bare, res, INBOX_MAX_RESOURCES);
    for (size_t i = 0; i < n; i++)
        cand[i] = (pl_route_candidate_t){
            .resource = res[i].jid->resource ? res[i].jid->resource : "",
            .available = res[i].available,
            .priority = res[i].priority,
        };
    /* A message for an account that does not exist (never did, or was
     * deleted) is bounced by the router: no conversation for it. */
    int exists = n > 0 || pl_server_account_exists(hc->server, hc->to->bare);
    pl_route_action_t act =
        pl_route_rules(PL_KIND_MESSAGE, hc->type, hc->to->resource, exists, cand, n, selected);
    pl_resources_release(res, n);
    return act == PL_ROUTE_DELIVER || act == PL_ROUTE_UNDELIVERED;
}

static void fill_message(inbox_job_t *j, const pl_hook_ctx_t *hc, char *body)
{
    j->msg_id = dup_or_null(hc->id);
    j->from = dup_or_null(pl_stanza_attr(hc->stanza, "from"));
    j->to = dup_or_null(pl_stanza_attr(hc->stanza, "to"));
    j->type = dup_or_null(hc->type);
    j->body = body;
}

/* ---- hooks ---- */

/* PL_EV_MESSAGE (observer) to a local account: one more unread message in
 * the conversation with its sender.  Runs after the filters (blocking, a
 * refused forgery), so what they stop is not counted. */
static pl_hook_result_t inbox_inbound(pl_hook_ctx_t *hc)
{
    char *body = NULL;
    /* The user's own clients talking to each other: the sending side
     * records it (inbox_outbound). */
    if (strcmp(hc->from->bare, hc->to->bare) == 0 || !conversation_message(hc->stanza, &body))
        return PL_PASS;
    if (!reaches_user(hc)) {
        free(body);
        return PL_PASS;
    }
    inbox_job_t *j = job_new(PL_INBOX_IN, hc->to->bare, hc->from->bare);
    const char *sid = own_stanza_id(hc->stanza, hc->to->bare);
    j->stanza_id = dup_or_null(sid);
    unsigned long long t = sid ? pl_id_value(sid) : 0;
    if (!t) {
        char now[PL_ID_SIZE];
        pl_server_new_id(hc->server, now);
        t = pl_id_value(now);
    }
    j->stamp = (long long)t;
    fill_message(j, hc, body);
    submit(hc, j);
    return PL_PASS;
}

/* PL_EV_NOTIFY: a group's message for a member, joined or not (the room
 * tells every member, modules/muc): one more unread message in the
 * conversation with the room, named by the room's stanza-id.  Only this
 * path counts group messages: the copies delivered to a joined member's
 * clients are type groupchat, which inbox_inbound leaves alone. */
static pl_hook_result_t inbox_notified(pl_hook_ctx_t *hc)
{
    char *body = NULL;
    if (strcmp(hc->from->bare, hc->to->bare) == 0 || !carry_body(pl_stanza_root(hc->stanza), &body))
        return PL_PASS;
    /* pl_notify gives every NOTIFY hook a batch: all the members a
     * message is told to are written by one job, queued at its end. */
    group_add(hc, body);
    return PL_PASS;
}

/* A message the user sends: with a body, the conversation's last message
 * and read; a displayed/acknowledged chat marker (XEP-0333, also what
 * XEP-0430 §4 counts), a read position. */
static void outbound_message(pl_hook_ctx_t *hc)
{
    if (!pl_stanza_attr(hc->stanza, "to") ||
        (!hc->to->local && strcmp(hc->to->domain, pl_host_name(hc->host)) == 0))
        return; /* to the server itself: no conversation */
    char *body = NULL;
    int gc = strcmp(hc->type, "groupchat") == 0;
    /* To a group: what the member says makes the group read for it (its
     * clients saw everything before), and is the group's last message in
     * its inbox (nobody notifies the sender of its own message). */
    if ((gc && hc->to->local && !hc->to->resource &&
         carry_body(pl_stanza_root(hc->stanza), &body)) ||
        (!gc && conversation_message(hc->stanza, &body))) {
        inbox_job_t *j = job_new(PL_INBOX_OUT, hc->from->bare, hc->to->bare);
        char id[PL_ID_SIZE];
        pl_server_new_id(hc->server, id);
        j->stanza_id = pl_xstrdup(id);
        j->stamp = (long long)pl_id_value(id);
        fill_message(j, hc, body);
        submit(hc, j);
        return;
    }
    if (strcmp(hc->type, "error") == 0 || (gc && (!hc->to->local || hc->to->resource)))
        return;
    const pl_xml_t *root = pl_stanza_root(hc->stanza);
    const pl_xml_t *m = pl_xml_child(root, "displayed", PL_NS_CHAT_MARKERS);
    if (!m)
        m = pl_xml_child(root, "acknowledged", PL_NS_CHAT_MARKERS);
    const char *mid = m ? pl_xml_attr(m, "id") : NULL;
    if (!mid || !*mid)
        return;
    inbox_job_t *j = job_new(PL_INBOX_READ, hc->from->bare, hc->to->bare);
    j->msg_id = pl_xstrdup(mid);
    /* In a group a marker names the room's stanza-id (XEP-0333 §5.2):
     * the id the group's messages are counted by.  Only a server id is
     * taken as one (a client's own ids do not sort in time). */
    if (gc && pl_id_value(mid))
        j->stanza_id = pl_xstrdup(mid);
    submit(hc, j);
}

/* An XEP-0490 publish of the user's displayed position in a conversation:
 * <pubsub><publish node='urn:xmpp:mds:displayed:0'><item id='partner'>
 * <displayed xmlns='urn:xmpp:mds:displayed:0'><stanza-id by='user' id/>.
 * Seen on its way to the PEP service, which stores it for the clients
 * (whether PEP accepts it is PEP's business). */
static void outbound_mds(pl_hook_ctx_t *hc)
{
    if (strcmp(hc->type, "set") != 0 ||
        (pl_stanza_attr(hc->stanza, "to") && strcmp(hc->to->full, hc->from->bare) != 0))
        return;
    const pl_xml_t *ps = pl_xml_child(pl_stanza_root(hc->stanza), "pubsub", PL_NS_PUBSUB);
    const pl_xml_t *pub = ps ? pl_xml_child(ps, "publish", PL_NS_PUBSUB) : NULL;
    const char *node = pub ? pl_xml_attr(pub, "node") : NULL;
    if (!node || strcmp(node, INBOX_NS_MDS) != 0)
        return;
    const pl_xml_t *item = pl_xml_child(pub, "item", PL_NS_PUBSUB);
    const pl_xml_t *d = item ? pl_xml_child(item, "displayed", INBOX_NS_MDS) : NULL;
    const pl_xml_t *sid = d ? pl_xml_child(d, "stanza-id", PL_NS_SID) : NULL;
    const char *item_id = item ? pl_xml_attr(item, "id") : NULL;
    const char *id = sid ? pl_xml_attr(sid, "id") : NULL;
    const char *by = sid ? pl_xml_attr(sid, "by") : NULL;
    pl_jid_t partner;
    if (!item_id || !id || !*id || pl_jid_parse(&partner, item_id) != 0)
        return;
    /* The id is the user's own archive's, or, for a group, the room's
     * (XEP-0490 §4: 'by' is the room's JID): a partner on a service or
     * component domain of a local tenant, not a user of a host. */
    pl_host_t *tenant = pl_server_tenant_of(hc->server, partner.domain);
    int service = tenant && strcmp(pl_host_name(tenant), partner.domain) != 0;
    if (by && strcmp(by, hc->from->bare) != 0 && !(service && strcmp(by, partner.bare) == 0)) {
        pl_jid_deinit(&partner);
        return;
    }
    inbox_job_t *j = job_new(PL_INBOX_READ, hc->from->bare, partner.bare);
    j->stanza_id = pl_xstrdup(id);
    pl_jid_deinit(&partner);
    submit(hc, j);
}

/* PL_EV_PRE_ROUTE (observer): what the user's own clients send. */
static pl_hook_result_t inbox_outbound(pl_hook_ctx_t *hc)
{
    if (!hc->session || !hc->from->local || !hc->from->resource ||
        strcmp(hc->from->domain, pl_host_name(hc->host)) != 0)
        return PL_PASS;
    const char *name = pl_stanza_name(hc->stanza);
    if (strcmp(name, "message") == 0)
        outbound_message(hc);
    else if (strcmp(name, "iq") == 0)
        outbound_mds(hc);
    return PL_PASS;
}

/* ---- module ---- */

static int inbox_start(pl_module_ctx_t *ctx)
{
    inbox_data_t *d = pl_xcalloc(1, sizeof(*d));
    d->kv = pl_module_store(ctx, "conv");
    if (!d->kv) {
        free(d);
        return -1;
    }
    pl_module_set_data(ctx, d);
    return 0;
}

static void inbox_stop(pl_module_ctx_t *ctx)
{
    free(pl_module_data(ctx));
    pl_module_set_data(ctx, NULL);
}

static const char *const features[] = {INBOX_NS, NULL};

static const pl_conf_def_t conf[] = {
    {.key = "max_conversations",
     .type = PL_CONF_INT,
     .offset = offsetof(inbox_conf_t, max_conversations),
     .def = "1000",
     .min = 1,
     .max = 100000,
     .help = "conversations kept per user; a new one beyond it replaces the least active"},
    {0},
};

static const pl_store_def_t stores[] = {
    {.name = "conv", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

// clang-format off
static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ, .targets = PL_TO_HOST | PL_TO_BARE, .ns = INBOX_NS,
     .priority = PL_PRIO_HANDLER, .handler = inbox_query},
    {.event = PL_EV_PRE_ROUTE, .priority = PL_PRIO_OBSERVER, .handler = inbox_outbound},
    {.event = PL_EV_MESSAGE, .targets = PL_TO_BARE | PL_TO_FULL, .priority = PL_PRIO_OBSERVER,
     .handler = inbox_inbound},
    {.event = PL_EV_NOTIFY, .targets = PL_TO_BARE, .priority = PL_PRIO_OBSERVER,
     .handler = inbox_notified, .batch_end = group_submit},
    {0},
};
// clang-format on

const pl_module_desc_t pl_mod_inbox = {
    .name = "inbox",
    .abi = PL_MODULE_ABI,
    .description = "Conversation list with unread counts (XEP-0430 Inbox)",
    .conf = conf,
    .conf_size = sizeof(inbox_conf_t),
    .features = features,
    .account_features = features,
    .stores = stores,
    .hooks = hooks,
    .start = inbox_start,
    .stop = inbox_stop,
    .session_flags = INBOX_NFLAGS,
    /* Unread messages are named by the router's XEP-0359 ids, which XEP-0490
     * positions refer to and which tell a redelivery from a new message. */
    .stanza_ids = 1,
};
