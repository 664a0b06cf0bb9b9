/* offline.c — offline message storage (XEP-0160, IM-2): messages the router
 * could deliver to no session of an existing account are stored with a
 * XEP-0203 delay stamp, under a per-account quota, and handed to the first
 * session that becomes available (deliver.c); a timer purges what outlived
 * the retention period, in small batches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/offline/offline-private.h"
#include "xep/delay.h"
#include "xep/stored-xml.h"
#include "xmpp/ns.h"

#define NS_OMEMO_LEGACY "eu.siacs.conversations.axolotl"
#define NS_OMEMO "urn:xmpp:omemo:2"
#define NS_OPENPGP "urn:xmpp:openpgp:0"
#define NS_PGP_LEGACY "jabber:x:encrypted"
#define FEATURE_MSGOFFLINE "msgoffline"
#define DELAY_REASON "Offline Storage"
#define QUOTA_TEXT "the recipient's offline storage is full"

static offline_t *mod_of(const pl_module_ctx_t *ctx)
{
    return pl_module_data(ctx);
}

static const offline_conf_t *conf_of(const pl_module_ctx_t *ctx)
{
    return pl_module_conf(ctx);
}

/* ---- job bookkeeping ---- */

void offline_job_track(offline_t *o, offline_job_t *job)
{
    pthread_mutex_lock(&o->lock);
    job->prev = NULL;
    job->next = o->jobs;
    if (o->jobs)
        o->jobs->prev = job;
    o->jobs = job;
    pthread_mutex_unlock(&o->lock);
}

void offline_job_untrack(offline_t *o, offline_job_t *job)
{
    pthread_mutex_lock(&o->lock);
    if (job->prev)
        job->prev->next = job->next;
    else
        o->jobs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    job->prev = job->next = NULL;
    pthread_mutex_unlock(&o->lock);
}

/* ---- what is worth storing ---- */

typedef enum verdict {
    KEEP,    /* store it */
    DISCARD, /* consume silently (a bare chat state, XEP-0085 §5.6) */
    REFUSE,  /* not ours: the router bounces it as for no offline storage */
} verdict_t;

static int has(const pl_xml_t *root, const char *name, const char *ns)
{
    return pl_xml_child(root, name, ns) != NULL;
}

/* XEP-0160 §3: chat and normal messages are stored, groupchat, headline and
 * error are not (the router never offers groupchat or error here), except a
 * headline hinted <store/> (XEP-0334: a bulletin or notice that must reach
 * a user who is away).  Of chat and normal messages, XEP-0334 hints decide
 * first; otherwise a message is kept when it
 * carries something a person would miss: a body or subject, an invitation,
 * an encrypted payload, a delivery receipt or chat marker (so the sender's
 * "read" ticks survive being offline). */
static verdict_t classify(const pl_stanza_t *st)
{
    const char *type = pl_stanza_attr(st, "type");
    const pl_xml_t *root = pl_stanza_root(st);
    if (type && strcmp(type, "headline") == 0)
        return has(root, "store", PL_NS_HINTS) ? KEEP : REFUSE;
    if (type && *type && strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0)
        return REFUSE;
    if (has(root, "no-store", PL_NS_HINTS))
        return REFUSE;
    if (has(root, "store", PL_NS_HINTS))
        return KEEP;
    if (has(root, "body", PL_NS_CLIENT) || has(root, "subject", PL_NS_CLIENT) ||
        has(root, "x", PL_NS_CONFERENCE) || has(root, "encrypted", NS_OMEMO_LEGACY) ||
        has(root, "encrypted", NS_OMEMO) || has(root, "openpgp", NS_OPENPGP) ||
        has(root, "x", NS_PGP_LEGACY) || has(root, "received", PL_NS_RECEIPTS) ||
        has(root, "received", PL_NS_CHAT_MARKERS) || has(root, "displayed", PL_NS_CHAT_MARKERS) ||
        has(root, "acknowledged", PL_NS_CHAT_MARKERS))
        return KEEP;
    const pl_xml_t *muc = pl_xml_child(root, "x", PL_NS_MUC_USER);
    if (muc && pl_xml_child(muc, "invite", PL_NS_MUC_USER))
        return KEEP;
    for (const pl_xml_t *c = pl_xml_first_element(root); c; c = pl_xml_next(c, NULL, NULL))
        if (strcmp(c->ns, PL_NS_CHATSTATES) == 0)
            return DISCARD;
    return REFUSE;
}

/* ---- storing ---- */

typedef struct store_job {
    offline_job_t link;
    offline_t *o;
    pl_server_t *srv;
    char *user;
    char *id;
    int64_t stored_at;
    pl_buf_t bytes;
    pl_offline_quota_t quota;
    pl_stanza_t *orig; /* for an error to the sender */
} store_job_t;

static void store_job_free(store_job_t **sp)
{
    store_job_t *s = *sp;
    if (!s)
        return;
    *sp = NULL;
    free(s->user);
    free(s->id);
    pl_buf_deinit(&s->bytes);
    pl_stanza_unref(&s->orig);
    free(s);
}

/* The link's free_fn (offline_stop), over the typed destructor. */
static void store_job_free_link(offline_job_t *job)
{
    store_job_t *s = (store_job_t *)job;
    store_job_free(&s);
}

static pl_stanza_err_t error_for(int rc)
{
    if (rc == -EDQUOT)
        return PL_ERR_SERVICE_UNAVAILABLE; /* XEP-0160 §2 step 3 */
    if (rc == -ENOSPC || rc == -EAGAIN)
        return PL_ERR_RESOURCE_CONSTRAINT;
    return PL_ERR_INTERNAL_SERVER_ERROR;
}

static void refuse(pl_server_t *srv, const pl_stanza_t *orig, int rc)
{
    pl_route_take(srv,
                  pl_stanza_error(orig, error_for(rc),
                                  rc == -EDQUOT ? QUOTA_TEXT : "the message could not be stored"));
}

static int store_run(pl_wtxn_t *txn, void *ud)
{
    store_job_t *s = ud;
    return pl_offline_put(txn, s->o->repo, s->user, s->id, s->stored_at, s->bytes.data,
                          s->bytes.len, &s->quota);
}

static void store_done(void *ud, int status)
{
    store_job_t *s = ud;
    offline_t *o = s->o;
    offline_job_untrack(o, &s->link);
    if (status < 0) {
        pl_module_log(o->ctx, status == -EDQUOT ? PL_LOG_INFO : PL_LOG_ERROR, "store",
                      "user=%s id=%s error=%d", s->user, s->id, status);
        refuse(s->srv, s->orig, status);
    } else {
        /* A session may have become available between the router's
         * decision and this commit: it would otherwise wait for its next
         * presence. */
        offline_deliver(o, s->user, 0);
    }
    store_job_free(&s);
}

/* The stanza-id the router gave the message for this account (XEP-0359),
 * or NULL. */
static const char *own_stanza_id(const pl_stanza_t *st, const char *bare)
{
    for (const pl_xml_t *c = pl_xml_child(pl_stanza_root(st), "stanza-id", PL_NS_SID); c;
         c = pl_xml_next(c, "stanza-id", PL_NS_SID)) {
        const char *by = pl_xml_attr(c, "by"), *id = pl_xml_attr(c, "id");
        if (by && id && *id && strcmp(by, bare) == 0)
            return id;
    }
    return NULL;
}

static int quota_full(const pl_offline_usage_t *u, const pl_offline_quota_t *q)
{
    return (q->max_messages && u->messages >= q->max_messages) ||
           (q->max_bytes && u->bytes >= q->max_bytes);
}

/* PL_EV_UNDELIVERED: no session took the message.  The write is submitted
 * here, synchronously, so a client's stream-management ack waits for it. */
static pl_hook_result_t offline_undelivered(pl_hook_ctx_t *hc)
{
    if (strcmp(pl_stanza_name(hc->stanza), "message") != 0 || !hc->to->local)
        return PL_PASS;
    verdict_t v = classify(hc->stanza);
    if (v == REFUSE)
        return PL_PASS;
    if (v == DISCARD)
        return PL_DONE;
    offline_t *o = mod_of(hc->module);
    const offline_conf_t *conf = conf_of(hc->module);
    pl_offline_quota_t quota = {.max_messages = (uint64_t)conf->quota,
                                .max_bytes = (uint64_t)conf->quota_bytes};
    pl_offline_usage_t u;
    if (pl_offline_usage(o->repo, hc->to->bare, &u) == 0 && quota_full(&u, &quota)) {
        /* Known full: no write job for a flood at a full mailbox. */
        refuse(hc->server, hc->stanza, -EDQUOT);
        return PL_DONE;
    }
    char fresh[PL_ID_SIZE];
    const char *id = own_stanza_id(hc->stanza, hc->to->bare);
    if (!id) {
        pl_server_new_id(hc->server, fresh);
        id = fresh;
    }
    int64_t now = pl_now_ms();
    const char *host = pl_host_name(hc->host);
    /* A message stored before and handed back by the server itself (stream
     * management, after a failed delivery) keeps its first stamp; one from a
     * client gets ours whatever it claims. */
    pl_stanza_t *stamped = !hc->session && pl_delay_has(hc->stanza, host)
                               ? pl_stanza_ref(hc->stanza)
                               : pl_delay_add(hc->stanza, host, now, DELAY_REASON);
    store_job_t *s = pl_xcalloc(1, sizeof(*s));
    s->link.free_fn = store_job_free_link;
    s->o = o;
    s->srv = hc->server;
    s->user = pl_xstrdup(hc->to->bare);
    s->id = pl_xstrdup(id);
    s->stored_at = now / 1000;
    s->quota = quota;
    s->orig = pl_stanza_ref(hc->stanza);
    pl_buf_init(&s->bytes);
    pl_stored_xml_encode(pl_stanza_root(stamped), &s->bytes);
    pl_stanza_unref(&stamped);
    offline_job_track(o, &s->link);
    int rc = pl_server_write(hc->server, store_run, store_done, s);
    if (rc != 0) {
        offline_job_untrack(o, &s->link);
        refuse(hc->server, hc->stanza, rc);
        store_job_free(&s);
    }
    return PL_DONE;
}

/* ---- delivery trigger ---- */

/* PL_EV_PRESENCE to the host: a client's broadcast presence.  The core has
 * recorded its availability and priority before this runs; delivery picks
 * an available session with non-negative priority.  Never consumes the
 * presence (the presence module broadcasts it). */
static pl_hook_result_t offline_presence(pl_hook_ctx_t *hc)
{
    if (!hc->session || !hc->from->local || !hc->from->resource ||
        pl_stanza_attr(hc->stanza, "to") || strcmp(hc->from->domain, pl_host_name(hc->host)) != 0)
        return PL_PASS;
    offline_deliver(mod_of(hc->module), hc->from->bare, pl_session_id(hc->session));
    return PL_PASS;
}

/* ---- retention ---- */

typedef struct purge_job {
    offline_job_t link;
    offline_t *o;
    int64_t before;
    size_t max;
} purge_job_t;

static void purge_job_free(purge_job_t **pp)
{
    free(*pp);
    *pp = NULL;
}

/* The link's free_fn (offline_stop), over the typed destructor. */
static void purge_job_free_link(offline_job_t *job)
{
    purge_job_t *p = (purge_job_t *)job;
    purge_job_free(&p);
}

static void purge_submit(offline_t *o);

static int purge_run(pl_wtxn_t *txn, void *ud)
{
    purge_job_t *p = ud;
    long n = pl_offline_purge(txn, p->o->repo, p->before, p->max);
    return n < 0 ? (int)n : (int)(n > 0x7fffffff ? 0x7fffffff : n);
}

static void purge_done(void *ud, int status)
{
    purge_job_t *p = ud;
    offline_t *o = p->o;
    size_t max = p->max;
    offline_job_untrack(o, &p->link);
    purge_job_free(&p);
    if (status < 0)
        pl_module_log(o->ctx, PL_LOG_ERROR, "purge", "error=%d", status);
    else if (status > 0)
        pl_module_log(o->ctx, PL_LOG_INFO, "purge", "expired=%d", status);
    if (status > 0 && (size_t)status >= max) {
        purge_submit(o); /* more are due: the next batch, in its own job */
        return;
    }
    pthread_mutex_lock(&o->lock);
    o->purging = 0;
    pthread_mutex_unlock(&o->lock);
}

static void purge_submit(offline_t *o)
{
    const offline_conf_t *conf = conf_of(o->ctx);
    purge_job_t *p = pl_xcalloc(1, sizeof(*p));
    p->link.free_fn = purge_job_free_link;
    p->o = o;
    p->before = (pl_now_ms() - conf->retention) / 1000;
    p->max = (size_t)conf->purge_batch;
    offline_job_track(o, &p->link);
    if (pl_server_write(pl_module_server(o->ctx), purge_run, purge_done, p) != 0) {
        offline_job_untrack(o, &p->link);
        purge_job_free(&p);
        pthread_mutex_lock(&o->lock);
        o->purging = 0;
        pthread_mutex_unlock(&o->lock);
    }
}

static void purge_tick(pl_module_ctx_t *ctx)
{
    offline_t *o = mod_of(ctx);
    pthread_mutex_lock(&o->lock);
    int busy = o->purging;
    o->purging = 1;
    pthread_mutex_unlock(&o->lock);
    if (!busy)
        purge_submit(o);
}

/* ---- module ---- */

static int offline_start(pl_module_ctx_t *ctx)
{
    offline_t *o = pl_xcalloc(1, sizeof(*o));
    o->ctx = ctx;
    if (pl_offline_open(pl_server_storage(pl_module_server(ctx)), &o->repo) != 0) {
        free(o);
        return -1;
    }
    pthread_mutex_init(&o->lock, NULL);
    pl_map_init(&o->delivering);
    pl_module_set_data(ctx, o);
    const offline_conf_t *conf = conf_of(ctx);
    return pl_module_every(ctx, (unsigned)conf->purge_interval, purge_tick);
}

static void offline_stop(pl_module_ctx_t *ctx)
{
    offline_t *o = mod_of(ctx);
    if (!o)
        return;
    /* The loops are gone: jobs whose completion was dropped with the
     * storage ports are freed here (their writes committed or not). */
    while (o->jobs) {
        offline_job_t *job = o->jobs;
        o->jobs = job->next;
        job->free_fn(job);
    }
    pl_map_deinit(&o->delivering);
    pthread_mutex_destroy(&o->lock);
    free(o);
    pl_module_set_data(ctx, NULL);
}

static const pl_conf_def_t conf[] = {
    {.key = "quota",
     .type = PL_CONF_INT,
     .offset = offsetof(offline_conf_t, quota),
     .def = "1000",
     .min = 1,
     .max = 1000000,
     .help = "messages kept per account; beyond it senders get service-unavailable"},
    {.key = "quota_bytes",
     .type = PL_CONF_SIZE,
     .offset = offsetof(offline_conf_t, quota_bytes),
     .def = "2M",
     .min = 4096,
     .max = 1073741824LL,
     .help = "bytes of stored messages per account; beyond it senders get service-unavailable"},
    {.key = "retention",
     .type = PL_CONF_DURATION,
     .offset = offsetof(offline_conf_t, retention),
     .def = "7d",
     .min = 1000,
     .max = 366LL * 86400 * 1000,
     .help = "how long an undelivered message is kept before the purge removes it"},
    {.key = "purge_interval",
     .type = PL_CONF_DURATION,
     .offset = offsetof(offline_conf_t, purge_interval),
     .def = "1m",
     .min = 1000,
     .max = 86400LL * 1000,
     .help = "how often the retention purge runs"},
    {.key = "purge_batch",
     .type = PL_CONF_INT,
     .offset = offsetof(offline_conf_t, purge_batch),
     .def = "500",
     .min = 1,
     .max = 100000,
     .help = "expired messages removed per write job (more jobs follow until none is due)"},
    {0},
};

static const char *const features[] = {FEATURE_MSGOFFLINE, NULL};

// clang-format off
static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_UNDELIVERED, .targets = PL_TO_BARE | PL_TO_FULL, .priority = PL_PRIO_HANDLER,
     .handler = offline_undelivered},
    /* Before the presence module's broadcast handler, which consumes it. */
    {.event = PL_EV_PRESENCE, .targets = PL_TO_HOST, .type = "", .priority = PL_PRIO_HANDLER + 10,
     .handler = offline_presence},
    {0},
};
// clang-format on

/* A deleted account's queue: the records and counters would go with the
 * core's sweep, but not the time index entries that point at them. */
static int offline_account_removed(pl_wtxn_t *txn, const char *bare, void **note)
{
    (void)note;
    return pl_offline_delete_account(txn, bare) < 0 ? -1 : 0;
}

const pl_module_desc_t pl_mod_offline = {
    .name = "offline",
    .abi = PL_MODULE_ABI,
    .description = "Offline message storage (XEP-0160) with delay stamps (XEP-0203)",
    .conf = conf,
    .conf_size = sizeof(offline_conf_t),
    .features = features,
    .hooks = hooks,
    .start = offline_start,
    .stop = offline_stop,
    .stanza_ids = 1,
    .account_removed = offline_account_removed,
};
