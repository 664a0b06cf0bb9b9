/* last.c — XEP-0012 last activity.  The server remembers when an account's
 * last available resource went away and the status text it left with, and
 * answers jabber:iq:last for the account (to those allowed to see its
 * presence) and for itself (uptime).  Queries to a full JID go to that
 * client; the router does that without us. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/util.h"
#include "storage/roster.h"
#include "storage/storage.h"
#include "xmpp/ns.h"

#define PL_NS_LAST "jabber:iq:last"
#define LAST_MAX_RESOURCES 64
#define LAST_MAX_STATUS 1024 /* bytes of status text kept */

typedef struct last_mod {
    uint64_t started_ms; /* monotonic: the host's uptime starts here */
    pl_roster_t *roster;
} last_mod_t;

/* ---- recording: "<unix seconds>\n<status text>" under the bare JID ---- */

typedef struct last_write {
    pl_kv_t *kv;
    char *bare;
    pl_buf_t record;
} last_write_t;

static void last_write_free(last_write_t **wp)
{
    last_write_t *w = *wp;
    if (!w)
        return;
    *wp = NULL;
    free(w->bare);
    pl_buf_deinit(&w->record);
    free(w);
}

/* The job owns its data and frees it here: `run` executes for every
 * accepted job, while `done` is dropped when the loop's storage port closes
 * first (a session closing as the server shuts down). */
static int last_write_run(pl_wtxn_t *txn, void *ud)
{
    last_write_t *w = ud;
    int rc = pl_kv_put(txn, w->kv, w->bare, strlen(w->bare), w->record.data, w->record.len);
    last_write_free(&w);
    return rc;
}

static void last_write_done(void *ud, int status)
{
    (void)ud;     /* freed by last_write_run */
    (void)status; /* a lost record only makes the answer older */
}

/* 1 when some session of `bare` is available. */
static int anyone_available(pl_server_t *srv, const char *bare)
{
    pl_resource_t res[LAST_MAX_RESOURCES];
    size_t n = pl_server_resources(srv, bare, res, LAST_MAX_RESOURCES);
    int any = 0;
    for (size_t i = 0; i < n; i++)
        any |= res[i].available;
    pl_resources_release(res, n);
    return any;
}

static void record_logout(pl_hook_ctx_t *hc, const char *status, size_t status_len)
{
    if (!hc->from->local || anyone_available(hc->server, hc->from->bare))
        return;
    /* A session of a deleted account that ends late (a detached one timing
     * out) must not leave a record for a new account of the same name. */
    if (!pl_server_account_exists(hc->server, hc->from->bare))
        return;
    last_write_t *w = pl_xcalloc(1, sizeof(*w));
    w->kv = pl_module_store(hc->module, "seen");
    w->bare = pl_xstrdup(hc->from->bare);
    pl_buf_init(&w->record);
    pl_buf_printf(&w->record, "%" PRId64 "\n", pl_now_ms() / 1000);
    pl_buf_append(&w->record, status, status_len < LAST_MAX_STATUS ? status_len : LAST_MAX_STATUS);
    if (pl_server_write(hc->server, last_write_run, last_write_done, w) != 0)
        last_write_free(&w); /* shutting down: the server stops knowing */
}

/* Broadcast unavailable presence: the core has already marked the session
 * unavailable, so the resources snapshot tells whether this was the last
 * one.  It runs above the presence module's handler, which may consume
 * the stanza, and never consumes it itself. */
static pl_hook_result_t last_unavailable(pl_hook_ctx_t *hc)
{
    if (!hc->session || pl_stanza_attr(hc->stanza, "to"))
        return PL_PASS;
    pl_buf_t status;
    pl_buf_init(&status);
    pl_xml_child_text(pl_stanza_root(hc->stanza), "status", PL_NS_CLIENT, &status);
    record_logout(hc, status.data ? status.data : "", status.len);
    pl_buf_deinit(&status);
    return PL_PASS;
}

/* A session that ends while still available (the connection dropped, or the
 * client closed the stream without unavailable presence) logs out too. */
static pl_hook_result_t last_session_closed(pl_hook_ctx_t *hc)
{
    if (hc->session && pl_session_is_available(hc->session))
        record_logout(hc, "", 0);
    return PL_PASS;
}

/* ---- answering ---- */

static void reply_seconds(pl_hook_ctx_t *hc, long long seconds, const char *text, size_t len)
{
    char secs[24];
    snprintf(secs, sizeof(secs), "%lld", seconds < 0 ? 0 : seconds);
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "query", PL_NS_LAST);
    pl_build_attr(b, "seconds", secs);
    if (len)
        pl_build_text(b, text, len);
    pl_reply_take(hc, pl_build_finish(b));
}

/* XEP-0012 §4: only the account itself and those who receive its presence
 * (the account's roster item for them has FROM) may know. */
static int may_see(const pl_hook_ctx_t *hc, last_mod_t *m, const char *user)
{
    if (strcmp(hc->from->bare, user) == 0)
        return 1;
    pl_roster_item_t it;
    pl_roster_item_init(&it);
    int ok = m->roster && pl_roster_get(m->roster, user, hc->from->bare, &it) == 1 &&
             (it.sub & PL_SUB_FROM);
    pl_roster_item_clear(&it);
    return ok;
}

static pl_hook_result_t last_get(pl_hook_ctx_t *hc)
{
    last_mod_t *m = pl_module_data(hc->module);
    const char *to = pl_stanza_attr(hc->stanza, "to");
    if (to && !hc->to->local) {
        reply_seconds(hc, (long long)((pl_mono_ms() - m->started_ms) / 1000), NULL, 0);
        return PL_DONE;
    }
    /* No 'to' is handled on behalf of the sender's own account. */
    const char *user = to ? hc->to->bare : hc->from->bare;
    if (!may_see(hc, m, user)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "you are not subscribed to this user's presence");
        return PL_DONE;
    }
    if (anyone_available(hc->server, user)) {
        reply_seconds(hc, 0, NULL, 0);
        return PL_DONE;
    }
    pl_buf_t rec;
    pl_buf_init(&rec);
    int found = pl_kv_get(pl_module_store(hc->module, "seen"), user, strlen(user), &rec);
    const char *nl = found == 1 ? memchr(rec.data, '\n', rec.len) : NULL;
    if (found == 1 && nl) {
        long long when = strtoll(rec.data, NULL, 10);
        size_t head = (size_t)(nl - rec.data) + 1;
        reply_seconds(hc, pl_now_ms() / 1000 - when, nl + 1, rec.len - head);
    } else if (found == 0) {
        pl_reply_error(hc, PL_ERR_ITEM_NOT_FOUND, "this user has not been seen online");
    } else {
        pl_module_log(hc->module, PL_LOG_ERROR, "read_failed", "jid=%s status=%d", user, found);
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
    }
    pl_buf_deinit(&rec);
    return PL_DONE;
}

/* ---- lifecycle ---- */

static int last_start(pl_module_ctx_t *ctx)
{
    last_mod_t *m = pl_xcalloc(1, sizeof(*m));
    m->started_ms = pl_mono_ms();
    if (pl_roster_open(pl_server_storage(pl_module_server(ctx)), &m->roster) != 0) {
        pl_module_log(ctx, PL_LOG_ERROR, "roster_unavailable", "only owners may ask");
        m->roster = NULL;
    }
    pl_module_set_data(ctx, m);
    return 0;
}

static void last_stop(pl_module_ctx_t *ctx)
{
    free(pl_module_data(ctx));
    pl_module_set_data(ctx, NULL);
}

static const char *const features[] = {PL_NS_LAST, NULL};

static const pl_store_def_t stores[] = {
    {.name = "seen", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST | PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_LAST,
     .element = "query",
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = last_get},
    {.event = PL_EV_PRESENCE,
     .targets = PL_TO_HOST,
     .type = "unavailable",
     .priority = PL_PRIO_HANDLER + 50,
     .handler = last_unavailable},
    {.event = PL_EV_SESSION_CLOSED, .priority = PL_PRIO_OBSERVER, .handler = last_session_closed},
    {0},
};

const pl_module_desc_t pl_mod_last = {
    .name = "last",
    .abi = PL_MODULE_ABI,
    .description = "Last activity (XEP-0012): when a user was last online, and server uptime",
    .features = features,
    .account_features = features,
    .stores = stores,
    .hooks = hooks,
    .start = last_start,
    .stop = last_stop,
};
