/* mam.c — XEP-0313 message archive management: every 1:1 message an
 * account sends or receives goes into its archive (storage/archive.c), in
 * the write job of the hook that saw it, and with mam.archive_groupchat the
 * room messages its joined sessions receive (marked groupchat, returned
 * only to queries with include-groupchat); clients page through it from any
 * device (query.c) under per-user preferences (prefs.c); old messages are
 * purged in small batches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "lib/util.h"
#include "modules/mam/mam-private.h"
#include "xep/mam-query.h"
#include "xmpp/ns.h"

/* ---- what gets archived ---- */

static int is_marker(const pl_xml_t *c)
{
    return strcmp(c->ns, PL_NS_CHAT_MARKERS) == 0 && strcmp(c->name, "markable") != 0;
}

/* XEP-0313 §5.1.1 and XEP-0334: chat and normal messages with a body (and
 * headlines: bulletins and gateway notices are history too), chat markers
 * (XEP-0333, read state is history), and anything hinted <store/>.  Not:
 * errors, groupchat (a room archives those; archive_groupchat below keeps
 * them apart), chat states alone, what the
 * sender asked not to keep, and the server's own wrappers (archive results,
 * carbons) should they ever be routed. */
static int archivable(const pl_stanza_t *st)
{
    const char *type = pl_stanza_attr(st, "type");
    if (type && (strcmp(type, "error") == 0 || strcmp(type, "groupchat") == 0))
        return 0;
    int keep = 0;
    for (const pl_xml_t *c = pl_xml_first_element(pl_stanza_root(st)); c;
         c = pl_xml_next(c, NULL, NULL)) {
        if (strcmp(c->ns, PL_NS_HINTS) == 0) {
            if (strcmp(c->name, "no-store") == 0 || strcmp(c->name, "no-permanent-store") == 0)
                return 0;
            if (strcmp(c->name, "store") == 0)
                keep = 1;
        } else if ((strcmp(c->ns, PL_NS_MAM) == 0 && strcmp(c->name, "result") == 0) ||
                   strcmp(c->ns, PL_NS_CARBONS) == 0) {
            return 0;
        } else if ((strcmp(c->name, "body") == 0 && strcmp(c->ns, PL_NS_CLIENT) == 0) ||
                   is_marker(c)) {
            keep = 1;
        }
    }
    return keep;
}

/* Queues the archive write at once, inside the hook: the core holds back
 * the sender's stream-management ack until the batch carrying it commits. */
static void archive(pl_hook_ctx_t *hc, const char *owner, const pl_jid_t *peer, const char *id,
                    pl_archive_dir_t dir)
{
    int64_t key = (int64_t)pl_id_value(id);
    if (key <= 0)
        return;
    int rc = pl_mam_store(hc->server, owner, key, peer->bare, peer->resource, dir, hc->stanza);
    if (rc != 0)
        pl_module_log(hc->module, PL_LOG_WARN, "mam.store_failed", "owner=%s error=%d", owner, rc);
}

/* The id the router gave the message for `owner` (XEP-0359), or NULL. */
static const char *stanza_id_for(const pl_stanza_t *st, const char *owner)
{
    for (const pl_xml_t *c = pl_xml_child(pl_stanza_root(st), "stanza-id", PL_NS_SID); c;
         c = pl_xml_next(c, "stanza-id", PL_NS_SID)) {
        const char *by = pl_xml_attr(c, "by");
        if (by && strcmp(by, owner) == 0)
            return pl_xml_attr(c, "id");
    }
    return NULL;
}

/* ---- groupchat in the occupant's own archive (mam.archive_groupchat) ---- */

/* XEP-0313 §5.1.1 leaves it to the deployment; what is kept is what a
 * joined occupant's session receives from a room, with a body, not hinted
 * <no-store/>, and not the room's history replayed on entering (it carries
 * a <delay/>: those messages were sent before, and the archive is ordered
 * by when messages came). */
static int groupchat_archivable(const pl_stanza_t *st)
{
    const char *type = pl_stanza_attr(st, "type");
    const pl_xml_t *root = pl_stanza_root(st);
    return type && strcmp(type, "groupchat") == 0 && pl_xml_child(root, "body", PL_NS_CLIENT) &&
           !pl_xml_child(root, "delay", PL_NS_DELAY) &&
           !pl_xml_child(root, "no-store", PL_NS_HINTS) &&
           !pl_xml_child(root, "no-permanent-store", PL_NS_HINTS) &&
           !pl_xml_child(root, "result", PL_NS_MAM);
}

/* XEP-0313 §8.4: whatever <x xmlns='…muc#user'/> the sender put in is not
 * kept (nobody vouches for it). */
static int not_muc_user(void *ud, const pl_xml_t *child)
{
    (void)ud;
    return !(strcmp(child->name, "x") == 0 && strcmp(child->ns, PL_NS_MUC_USER) == 0);
}

enum { MAM_ROOM_ID_SKEW_US = 60LL * 1000 * 1000 };

/* The key: the room's own stanza-id when it reads as a fresh id (so the
 * copies that reach several sessions of the user are stored once, and the
 * client sees the same id in the room archive and its own), else a new one. */
static int64_t groupchat_key(pl_hook_ctx_t *hc)
{
    int64_t key = 0;
    const char *room_id = stanza_id_for(hc->stanza, hc->from->bare);
    if (room_id)
        key = (int64_t)pl_id_value(room_id);
    int64_t now_us = pl_now_ms() * 1000;
    if (key <= 0 || key < now_us - MAM_ROOM_ID_SKEW_US || key > now_us + MAM_ROOM_ID_SKEW_US) {
        char id[PL_ID_SIZE];
        pl_server_new_id(hc->server, id);
        key = (int64_t)pl_id_value(id);
    }
    return key;
}

static void archive_groupchat(pl_hook_ctx_t *hc, mam_mod_t *m)
{
    const char *owner = hc->to->bare;
    if (!pl_server_account_exists(hc->server, owner) || !mam_prefs_allow(m, owner, hc->from->bare))
        return;
    int64_t key = groupchat_key(hc);
    pl_stanza_t *clean = pl_build_finish(pl_build_from(hc->stanza, not_muc_user, NULL));
    int rc = pl_mam_store(hc->server, owner, key, hc->from->bare, hc->from->resource,
                          PL_ARCHIVE_GROUPCHAT, clean);
    pl_stanza_unref(&clean);
    if (rc != 0)
        pl_module_log(hc->module, PL_LOG_WARN, "mam.store_failed", "owner=%s error=%d", owner, rc);
}

/* Recipient side: runs after the filters (blocking) passed the message and
 * before delivery, with the stanza-id every copy carries. */
static pl_hook_result_t mam_incoming(pl_hook_ctx_t *hc)
{
    mam_mod_t *m = pl_module_data(hc->module);
    const mam_conf_t *conf = pl_module_conf(hc->module);
    if (!hc->to->local || !hc->from || !hc->from->bare)
        return PL_PASS;
    /* A room's message reaches each occupant session at its full JID. */
    if (conf->archive_groupchat && hc->to->resource && hc->from->resource &&
        groupchat_archivable(hc->stanza)) {
        archive_groupchat(hc, m);
        return PL_PASS;
    }
    if (!archivable(hc->stanza))
        return PL_PASS;
    const char *id = stanza_id_for(hc->stanza, hc->to->bare);
    if (!id || !pl_server_account_exists(hc->server, hc->to->bare) ||
        !mam_prefs_allow(m, hc->to->bare, hc->from->bare))
        return PL_PASS;
    archive(hc, hc->to->bare, hc->from, id, PL_ARCHIVE_IN);
    return PL_PASS;
}

/* Sender side: a message from one of this host's accounts, after the
 * policy filters let it go.  Its archive copy gets an id of its own. */
static pl_hook_result_t mam_outgoing(pl_hook_ctx_t *hc)
{
    mam_mod_t *m = pl_module_data(hc->module);
    if (!hc->session || !hc->from || !hc->from->local || !hc->to || !hc->to->local ||
        strcmp(pl_stanza_name(hc->stanza), "message") != 0 ||
        strcmp(hc->from->domain, pl_host_name(hc->host)) != 0 ||
        !pl_stanza_attr(hc->stanza, "to") || !archivable(hc->stanza) ||
        !mam_prefs_allow(m, hc->from->bare, hc->to->bare))
        return PL_PASS;
    char id[PL_ID_SIZE];
    pl_server_new_id(hc->server, id);
    archive(hc, hc->from->bare, hc->to, id, PL_ARCHIVE_OUT);
    return PL_PASS;
}

/* ---- retention ---- */

typedef struct mam_purge {
    mam_mod_t *m; /* for done only: run must not touch module state */
    char *domain;
    int64_t before_key;
    unsigned limit;
    pl_module_ctx_t *ctx;
} mam_purge_t;

static int purge_run(pl_wtxn_t *txn, void *ud)
{
    mam_purge_t *p = ud;
    return pl_archive_purge(txn, p->domain, p->before_key, p->limit);
}

static void purge_done(void *ud, int status)
{
    mam_purge_t *p = ud;
    mam_mod_t *m = p->m;
    const mam_conf_t *conf = pl_module_conf(p->ctx);
    m->purge_running = 0;
    /* A full batch means more is waiting: go on at the next tick. */
    m->purge_more = status >= 0 && (unsigned)status == p->limit;
    if (!m->purge_more)
        m->next_purge_ms = pl_mono_ms() + (uint64_t)conf->purge_interval;
    if (status > 0)
        pl_module_log(p->ctx, PL_LOG_DEBUG, "mam.purged", "messages=%d", status);
    else if (status < 0)
        pl_module_log(p->ctx, PL_LOG_WARN, "mam.purge_failed", "error=%d", status);
    free(p->domain);
    free(p);
}

static void mam_tick(pl_module_ctx_t *ctx)
{
    mam_mod_t *m = pl_module_data(ctx);
    const mam_conf_t *conf = pl_module_conf(ctx);
    if (conf->retention <= 0 || m->purge_running ||
        (!m->purge_more && pl_mono_ms() < m->next_purge_ms))
        return;
    mam_purge_t *p = pl_xcalloc(1, sizeof(*p));
    p->m = m;
    p->ctx = ctx;
    p->domain = pl_xstrdup(pl_host_name(pl_module_host(ctx)));
    p->before_key = (pl_now_ms() - conf->retention) * 1000;
    p->limit = (unsigned)conf->purge_batch;
    if (pl_server_write(pl_module_server(ctx), purge_run, purge_done, p) != 0) {
        free(p->domain);
        free(p);
        return;
    }
    m->purge_running = 1;
}

/* ---- lifecycle ---- */

static int validate_mode(const void *field, char *err, size_t errlen)
{
    const char *s = *(char *const *)field;
    mam_mode_t mode;
    if (s && mam_mode_parse(s, &mode) == 0)
        return 0;
    snprintf(err, errlen, "must be \"always\", \"roster\" or \"never\"");
    return -1;
}

static int mam_start(pl_module_ctx_t *ctx)
{
    const mam_conf_t *conf = pl_module_conf(ctx);
    pl_storage_t *st = pl_server_storage(pl_module_server(ctx));
    mam_mod_t *m = pl_xcalloc(1, sizeof(*m));
    mam_mode_parse(conf->default_mode, &m->default_mode);
    m->prefs = pl_module_store(ctx, "prefs");
    int rc = pl_roster_open(st, &m->roster);
    if (rc == 0)
        rc = pl_archive_open(st, &m->archive);
    if (rc != 0 || !m->prefs) {
        pl_archive_close(&m->archive);
        free(m);
        return rc ? rc : -EIO;
    }
    /* The first purge soon after start, then every purge_interval. */
    m->next_purge_ms = pl_mono_ms() + 1000;
    pl_module_set_data(ctx, m);
    return pl_module_every(ctx, 1000, mam_tick);
}

static void mam_stop(pl_module_ctx_t *ctx)
{
    mam_mod_t *m = pl_module_data(ctx);
    if (!m)
        return;
    pl_archive_close(&m->archive);
    free(m);
    pl_module_set_data(ctx, NULL);
}

static const pl_conf_def_t conf[] = {
    {.key = "retention",
     .type = PL_CONF_DURATION,
     .offset = offsetof(mam_conf_t, retention),
     .def = "30d",
     .min = 0,
     .max = 3650LL * 86400 * 1000,
     .help = "how long archived messages are kept (0: forever)"},
    {.key = "purge_interval",
     .type = PL_CONF_DURATION,
     .offset = offsetof(mam_conf_t, purge_interval),
     .def = "1h",
     .min = 1000,
     .max = 7LL * 86400 * 1000,
     .help = "time between retention purges"},
    {.key = "purge_batch",
     .type = PL_CONF_INT,
     .offset = offsetof(mam_conf_t, purge_batch),
     .def = "500",
     .min = 1,
     .max = 100000,
     .help = "messages deleted per purge transaction (one per second while behind)"},
    {.key = "default_page",
     .type = PL_CONF_INT,
     .offset = offsetof(mam_conf_t, default_page),
     .def = "50",
     .min = 1,
     .max = PL_ARCHIVE_MAX_PAGE,
     .help = "results per page when the client gives no <max/>"},
    {.key = "max_page",
     .type = PL_CONF_INT,
     .offset = offsetof(mam_conf_t, max_page),
     .def = "250",
     .min = 1,
     .max = PL_ARCHIVE_MAX_PAGE,
     .help = "most results per page whatever the client asks"},
    {.key = "query_timeout",
     .type = PL_CONF_DURATION,
     .offset = offsetof(mam_conf_t, query_timeout),
     .def = "5s",
     .min = 100,
     .max = 600LL * 1000,
     .help = "a query running longer is stopped (resource-constraint)"},
    {.key = "default",
     .type = PL_CONF_STRING,
     .offset = offsetof(mam_conf_t, default_mode),
     .def = "always",
     .validate = validate_mode,
     .help = "archiving for users without preferences: always, roster or never"},
    {.key = "archive_groupchat",
     .type = PL_CONF_BOOL,
     .offset = offsetof(mam_conf_t, archive_groupchat),
     .def = "false",
     .help = "also keep, in each joined occupant's own archive, the groupchat messages its "
             "sessions receive (one write per occupant per message; the room archive keeps "
             "one copy for all)"},
    {0},
};

static const char *const account_features[] = {PL_NS_MAM, PL_NS_MAM_EXTENDED,
                                               PL_NS_MAM_GROUPCHAT_FIELD, PL_NS_SID, NULL};

static const pl_store_def_t stores[] = {
    {.name = "prefs", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_MESSAGE,
     .targets = PL_TO_BARE | PL_TO_FULL,
     .priority = PL_PRIO_OBSERVER,
     .handler = mam_incoming},
    {.event = PL_EV_PRE_ROUTE, .priority = PL_PRIO_OBSERVER, .handler = mam_outgoing},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_MAM,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = mam_query_form},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_MAM,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = mam_query},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_MAM,
     .element = "metadata",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = mam_metadata},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_MAM,
     .element = "prefs",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = mam_prefs_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_MAM,
     .element = "prefs",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = mam_prefs_set},
    {0},
};

/* A deleted account's archive lives in SQLite, out of the sweep's reach;
 * its preferences (key: the bare JID) go with the sweep.  Same transaction
 * as the account record, so a new account of that name never sees a row. */
static int mam_account_removed(pl_wtxn_t *txn, const char *bare, void **note)
{
    (void)note;
    return pl_archive_delete_owner(txn, bare) < 0 ? -1 : 0;
}

const pl_module_desc_t pl_mod_mam = {
    .name = "mam",
    .abi = PL_MODULE_ABI,
    .description = "Message archive (XEP-0313 with #extended, XEP-0059 paging, full-text search)",
    .conf = conf,
    .conf_size = sizeof(mam_conf_t),
    .account_features = account_features,
    .stores = stores,
    .hooks = hooks,
    .start = mam_start,
    .stop = mam_stop,
    .session_state_size = sizeof(mam_session_t),
    .stanza_ids = 1,
    .account_removed = mam_account_removed,
};
