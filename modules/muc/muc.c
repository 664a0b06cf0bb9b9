/* muc.c — XEP-0045 Multi-User Chat as the host's group service
 * (groups.<host> by default): the descriptor and its configuration, the
 * module state (every room of the service behind one lock, since handlers
 * run on every loop), loading persistent rooms at start, queueing their
 * records for the group commit, and the outbox that routes what handlers
 * made only once the lock is released. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"

muc_state_t *muc_state(pl_hook_ctx_t *hc)
{
    return pl_module_data(hc->module);
}

void muc_out_take(muc_out_t *o, pl_stanza_t *st)
{
    if (!st)
        return;
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = pl_xrealloc(o->v, o->cap * sizeof(*o->v));
    }
    o->v[o->n++] = st;
}

void muc_out_error(muc_out_t *o, const pl_stanza_t *orig, pl_stanza_err_t cond, const char *text)
{
    const char *type = pl_stanza_attr(orig, "type");
    if (type && strcmp(type, "error") == 0)
        return; /* never an error in reply to an error */
    pl_stanza_t *err = pl_stanza_error(orig, cond, text);
    if (strcmp(pl_stanza_name(orig), "presence") == 0) {
        /* A refused entry carries <x xmlns='…/muc'/> (XEP-0045 §7.2): that
         * is how clients tell it from other presence errors. */
        pl_builder_t *b = pl_build_from(err, NULL, NULL);
        pl_build_child(b, "x", MUC_NS);
        pl_build_up(b);
        pl_stanza_unref(&err);
        err = pl_build_finish(b);
    }
    muc_out_take(o, err);
}

void muc_out_flush(pl_server_t *srv, muc_out_t *o)
{
    for (size_t i = 0; i < o->n; i++)
        pl_route_take(srv, o->v[i]);
    free(o->v);
    memset(o, 0, sizeof(*o));
}

/* ---- storage ---- */

typedef struct save_job {
    pl_kv_t *kv;
    pl_buf_t key, val;
    unsigned long long gen;
    int del;
} save_job_t;

/* Writes from different loops may commit in another order than they were
 * made: a record is replaced only by one of a later generation. */
static int save_run(pl_wtxn_t *txn, void *ud)
{
    save_job_t *j = ud;
    pl_buf_t cur;
    pl_buf_init(&cur);
    int rc = pl_kv_txn_get(txn, j->kv, j->key.data, j->key.len, &cur);
    if (rc == 1 && muc_record_gen(cur.data, cur.len) > j->gen)
        rc = 0;
    else if (rc >= 0)
        rc = j->del ? pl_kv_del(txn, j->kv, j->key.data, j->key.len)
                    : pl_kv_put(txn, j->kv, j->key.data, j->key.len, j->val.data, j->val.len);
    pl_buf_deinit(&cur);
    return rc < 0 ? rc : 0;
}

static void save_done(void *ud, int status)
{
    save_job_t *j = ud;
    pl_buf_deinit(&j->key);
    pl_buf_deinit(&j->val);
    free(j);
}

static void queue_record(muc_state_t *st, muc_room_t *r, int del)
{
    save_job_t *j = pl_xcalloc(1, sizeof(*j));
    j->kv = st->rooms_kv;
    pl_buf_init(&j->key);
    pl_buf_init(&j->val);
    r->gen++;
    j->gen = r->gen;
    j->del = del;
    if (muc_record_key(&j->key, st->service, r->local) != 0) {
        save_done(j, 0);
        return;
    }
    if (!del) {
        muc_record_encode(r, &j->val);
        r->stored_active_ms = r->active_ms;
    }
    if (pl_server_write(pl_module_server(st->ctx), save_run, save_done, j) != 0) {
        pl_module_log(st->ctx, PL_LOG_ERROR, "room.save", "room=%s error=\"cannot queue\"", r->jid);
        save_done(j, 0);
    }
}

void muc_room_save(muc_state_t *st, muc_room_t *r)
{
    if (r->config.flags & MUC_CONF_PERSISTENT)
        queue_record(st, r, 0);
}

void muc_room_forget(muc_state_t *st, muc_room_t *r)
{
    queue_record(st, r, 1);
    muc_archive_forget(st, r);
}

void muc_room_drop(muc_state_t *st, muc_room_t *r)
{
    pl_map_del(&st->rooms, r->jid);
    muc_room_free(&r);
}

typedef struct load_ctx {
    muc_state_t *st;
    size_t plen, loaded, bad;
} load_ctx_t;

static int load_visit(void *ud, const void *key, size_t klen, const void *val, size_t vlen)
{
    load_ctx_t *l = ud;
    char jid[MUC_KEY_MAX + 1100];
    size_t llen = klen - l->plen;
    if (klen <= l->plen || llen > PL_JID_PART_MAX ||
        memchr((const char *)key + l->plen, '\0', llen))
        return 0;
    snprintf(jid, sizeof(jid), "%.*s@%s", (int)llen, (const char *)key + l->plen, l->st->service);
    muc_room_t *r;
    if (muc_record_decode(jid, val, vlen, (size_t)l->st->conf->history_size, &r) != 0) {
        pl_module_log(l->st->ctx, PL_LOG_WARN, "room.load", "room=%s error=\"bad record\"", jid);
        l->bad++;
        return 0;
    }
    r->stored_active_ms = r->active_ms;
    pl_map_put(&l->st->rooms, r->jid, r);
    l->loaded++;
    return 0;
}

/* ---- lifecycle ---- */

static int muc_init(pl_module_ctx_t *ctx)
{
    const muc_conf_t *conf = pl_module_conf(ctx);
    const char *host = pl_host_name(pl_module_host(ctx));
    /* "groups.%h": %h is the host's name. */
    pl_buf_t d;
    pl_buf_init(&d);
    for (const char *p = conf->service ? conf->service : "groups.%h"; *p; p++) {
        if (p[0] == '%' && p[1] == 'h') {
            pl_buf_puts(&d, host);
            p++;
        } else {
            pl_buf_append(&d, p, 1);
        }
    }
    muc_state_t *st = pl_xcalloc(1, sizeof(*st));
    st->ctx = ctx;
    st->conf = conf;
    int rc = d.len < sizeof(st->service) ? pl_module_serve(ctx, pl_buf_cstr(&d)) : -EINVAL;
    if (rc != 0) {
        pl_module_log(ctx, PL_LOG_ERROR, "init", "service=\"%s\" error=\"cannot serve: %s\"",
                      pl_buf_cstr(&d), strerror(-rc));
        pl_buf_deinit(&d);
        free(st);
        return rc;
    }
    snprintf(st->service, sizeof(st->service), "%s", pl_module_service(ctx));
    pl_buf_deinit(&d);
    pthread_mutex_init(&st->lock, NULL);
    pl_map_init(&st->rooms);
    pl_map_init(&st->forwards);
    pl_module_set_data(ctx, st);
    return 0;
}

/* Messages move a room's last activity without a stored change; once a
 * minute the persistent rooms whose activity moved are stored, so the time
 * survives a restart within a minute (the expiry of idle rooms reads it). */
static void store_activity(pl_module_ctx_t *ctx)
{
    muc_state_t *st = pl_module_data(ctx);
    const char *k;
    void *v;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; pl_map_iter(&st->rooms, &i, &k, &v);) {
        muc_room_t *r = v;
        if ((r->config.flags & MUC_CONF_PERSISTENT) && !r->locked &&
            r->active_ms != r->stored_active_ms)
            muc_room_save(st, r);
    }
    pthread_mutex_unlock(&st->lock);
}

static int muc_start(pl_module_ctx_t *ctx)
{
    muc_state_t *st = pl_module_data(ctx);
    st->rooms_kv = pl_module_store(ctx, "rooms");
    if (!st->rooms_kv)
        return -1;
    int arc = pl_archive_open(pl_server_storage(pl_module_server(ctx)), &st->archive);
    if (arc != 0)
        return arc;
    pl_buf_t k;
    pl_buf_init(&k);
    pl_buf_append(&k, st->service, strlen(st->service) + 1);
    load_ctx_t l = {.st = st, .plen = k.len};
    int rc = pl_kv_scan(st->rooms_kv, k.data, k.len, load_visit, &l);
    pl_buf_deinit(&k);
    pl_module_log(ctx, PL_LOG_INFO, "rooms.loaded", "service=%s rooms=%zu bad=%zu", st->service,
                  l.loaded, l.bad);
    if (rc < 0)
        return rc;
    rc = pl_module_every(ctx, 1000, muc_archive_warm);
    if (rc == 0)
        rc = pl_module_every(ctx, 60000, store_activity);
    /* The first purge soon after start, then every archive_purge_interval. */
    st->next_purge_ms = pl_mono_ms() + 1000;
    if (rc == 0 && st->conf->archive_retention > 0)
        rc = pl_module_every(ctx, 1000, muc_archive_purge);
    /* Idle temporary groups are looked for a few times per expiry period
     * (at most once a minute, at least every half second). */
    long long tick = st->conf->temporary_expiry / 4;
    tick = tick < 500 ? 500 : tick > 60000 ? 60000 : tick;
    if (rc == 0 && st->conf->temporary_expiry > 0)
        rc = pl_module_every(ctx, (unsigned)tick, muc_groups_expire);
    return rc;
}

static void muc_stop(pl_module_ctx_t *ctx)
{
    muc_state_t *st = pl_module_data(ctx);
    if (!st)
        return;
    const char *k;
    void *v;
    for (size_t i = 0; pl_map_iter(&st->rooms, &i, &k, &v);) {
        muc_room_t *r = v;
        muc_room_free(&r);
    }
    pl_map_deinit(&st->rooms);
    pl_map_deinit(&st->forwards);
    pl_archive_close(&st->archive);
    pthread_mutex_destroy(&st->lock);
    free(st);
    pl_module_set_data(ctx, NULL);
}

/* ---- descriptor ---- */

static const pl_store_def_t stores[] = {
    {.name = "rooms", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_conf_def_t conf[] = {
    {.key = "service",
     .type = PL_CONF_STRING,
     .offset = offsetof(muc_conf_t, service),
     .def = "groups.%h",
     .help = "the group service's domain; %h is the host's name"},
    {.key = "max_rooms",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, max_rooms),
     .def = "10000",
     .min = 1,
     .max = 1000000,
     .help = "rooms on the service, persistent and temporary together"},
    {.key = "max_occupants",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, max_occupants),
     .def = "500",
     .min = 2,
     .max = 100000,
     .help = "occupants in one room (a room's maxusers may only lower it)"},
    {.key = "history_size",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, history_size),
     .def = "50",
     .min = 0,
     .max = 1000,
     .help = "recent messages per room kept in memory and sent to joiners"},
    {.key = "occupant_rate",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, occupant_rate),
     .def = "5",
     .min = 1,
     .max = 10000,
     .help = "groupchat messages per second one occupant may send, sustained"},
    {.key = "occupant_burst",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, occupant_burst),
     .def = "20",
     .min = 1,
     .max = 100000,
     .help = "groupchat messages one occupant may send at once before the rate applies"},
    {.key = "contact_max_members",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, contact_max_members),
     .def = "500",
     .min = 1,
     .max = MUC_MAX_AFFILIATIONS,
     .help = "members (affiliation member and above) of a contact group"},
    {.key = "temporary_max_members",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, temporary_max_members),
     .def = "100",
     .min = 1,
     .max = MUC_MAX_AFFILIATIONS,
     .help = "members (affiliation member and above) of a temporary group"},
    {.key = "temporary_expiry",
     .type = PL_CONF_DURATION,
     .offset = offsetof(muc_conf_t, temporary_expiry),
     .def = "60d",
     .min = 0,
     .max = 3650LL * 24 * 3600 * 1000,
     .help = "a temporary group without activity this long is dismissed (0: never)"},
    {.key = "expiry_batch",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, expiry_batch),
     .def = "200",
     .min = 1,
     .max = 10000,
     .help = "rooms looked at per expiry tick (keeps the rooms' lock short)"},
    {.key = "max_mentions",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, max_mentions),
     .def = "20",
     .min = 0,
     .max = 1000,
     .help = "members one message may mention: more are not told (GRP-7)"},
    /* The same defaults as mam's retention, purge_interval and purge_batch:
     * the account archive's purge works per host domain and never reaches
     * the rooms' messages (their owner is on the service's domain). */
    {.key = "archive_retention",
     .type = PL_CONF_DURATION,
     .offset = offsetof(muc_conf_t, archive_retention),
     .def = "30d",
     .min = 0,
     .max = 3650LL * 24 * 3600 * 1000,
     .help = "how long a room archive keeps a message (0: forever)"},
    {.key = "archive_purge_interval",
     .type = PL_CONF_DURATION,
     .offset = offsetof(muc_conf_t, archive_purge_interval),
     .def = "1h",
     .min = 1000,
     .max = 7LL * 24 * 3600 * 1000,
     .help = "time between room archive purges"},
    {.key = "archive_purge_batch",
     .type = PL_CONF_INT,
     .offset = offsetof(muc_conf_t, archive_purge_batch),
     .def = "500",
     .min = 1,
     .max = 100000,
     .help = "room messages deleted per purge transaction (one per second while behind)"},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_PRESENCE,
     .targets = PL_TO_SVC_ANY,
     .priority = PL_PRIO_HANDLER,
     .handler = muc_on_presence},
    {.event = PL_EV_MESSAGE,
     .targets = PL_TO_SVC_ANY,
     .priority = PL_PRIO_HANDLER,
     .handler = muc_on_message},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_DOMAIN | PL_TO_SVC_BARE,
     .ns = PL_NS_DISCO_INFO,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_disco_info},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_DOMAIN | PL_TO_SVC_BARE,
     .ns = PL_NS_DISCO_ITEMS,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_disco_items},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_FULL,
     .ns = PL_NS_PING,
     .element = "ping",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_self_ping},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_DOMAIN,
     .ns = MUC_NS_SEARCH,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_search_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_DOMAIN,
     .ns = MUC_NS_SEARCH,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_search_set},
    /* Any other IQ to room/nick goes to that occupant's client (after
     * self-ping, which the room answers itself). */
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_FULL,
     .priority = PL_PRIO_FALLBACK,
     .handler = muc_forward_iq},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_BARE,
     .ns = MUC_NS_ADMIN,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_admin_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_BARE,
     .ns = MUC_NS_ADMIN,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_admin_set},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_BARE,
     .ns = MUC_NS_OWNER,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_owner_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_BARE,
     .ns = MUC_NS_OWNER,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_owner_set},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_BARE,
     .ns = PL_NS_MAM,
     .element = "query",
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_archive_query},
    {.event = PL_EV_IQ,
     .targets = PL_TO_SVC_BARE,
     .ns = PL_NS_MAM,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = muc_archive_form},
    {0},
};

const pl_module_desc_t pl_mod_muc = {
    .name = "muc",
    .abi = PL_MODULE_ABI,
    .description = "Multi-user chat (XEP-0045) as the host's group service",
    .conf = conf,
    .conf_size = sizeof(muc_conf_t),
    .stores = stores,
    .hooks = hooks,
    .init = muc_init,
    .start = muc_start,
    .stop = muc_stop,
    .account_removed = muc_account_removed,
    .account_removed_after = muc_account_removed_after,
};
