/* hooks.c — hosts (tenants) and their modules: creating each module's
 * context from the validated config, indexing the hooks modules declare,
 * running them for a stanza, and the module-facing API of module.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lib/util.h"
#include "storage/storage.h"

/* Hooks run by priority, highest first; hooks of equal priority in the
 * order their modules stand on the host (dependencies first, then the
 * config's order), and a module's own in the order of its descriptor.  The
 * comparison is a total order, so the result does not depend on the sort
 * being stable: qsort is not required to be. */
static int hook_cmp(const void *a, const void *b)
{
    const pl_hook_entry_t *x = a, *y = b;
    if (x->def->priority != y->def->priority)
        return x->def->priority > y->def->priority ? -1 : 1;
    if (x->module != y->module)
        return x->module < y->module ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void pl_hooks_sort(pl_hook_entry_t *entries, size_t n)
{
    if (n > 1)
        qsort(entries, n, sizeof(*entries), hook_cmp);
}

static void index_hooks(pl_host_t *h)
{
    for (size_t m = 0; m < h->nmods; m++) {
        const pl_hook_def_t *hooks = h->mods[m].desc->hooks;
        for (size_t k = 0; hooks && hooks[k].handler; k++) {
            size_t ev = (size_t)hooks[k].event;
            h->hooks[ev] = pl_xrealloc(h->hooks[ev], (h->nhooks[ev] + 1) * sizeof(pl_hook_entry_t));
            h->hooks[ev][h->nhooks[ev]++] =
                (pl_hook_entry_t){.def = &hooks[k], .mod = &h->mods[m], .module = m, .index = k};
        }
    }
    for (size_t ev = 0; ev < PL_EV__COUNT; ev++)
        pl_hooks_sort(h->hooks[ev], h->nhooks[ev]);
}

int pl_hosts_create(pl_server_t *srv, char **error)
{
    const pl_config_t *c = srv->config;
    srv->hosts = pl_xcalloc(c->nhosts, sizeof(pl_host_t *));
    srv->nhosts = c->nhosts;
    pl_map_init(&srv->hosts_by_name);
    for (size_t i = 0; i < c->nhosts; i++) {
        const pl_host_conf_t *hc = &c->hosts[i];
        pl_host_t *h = pl_xcalloc(1, sizeof(*h));
        h->server = srv;
        h->name = pl_xstrdup(hc->name);
        h->conf = hc;
        h->nmods = hc->nmodules;
        h->mods = pl_xcalloc(h->nmods ? h->nmods : 1, sizeof(pl_module_ctx_t));
        srv->hosts[i] = h; /* from here on pl_hosts_stop frees it, also after an error */
        unsigned next_flag = PL_RES_FIRST_MODULE_BIT;
        for (size_t m = 0; m < h->nmods; m++) {
            pl_module_ctx_t *ctx = &h->mods[m];
            if (hc->modules[m].module >= srv->nregistry)
                pl_die("host %s: module %s is not in the server's registry", hc->name,
                       hc->modules[m].info.name);
            ctx->desc = srv->registry[hc->modules[m].module];
            ctx->conf = hc->modules[m].conf;
            ctx->host = h;
            ctx->state_offset = h->session_state_size;
            h->session_state_size += (ctx->desc->session_state_size + 15) & ~(size_t)15;
            if (ctx->desc->stanza_ids)
                h->stamp_ids = 1;
            /* Each module's session flags get bits of their own on this
             * host, so two modules can never mistake each other's marks. */
            if (ctx->desc->session_flags > PL_RES_BITS - next_flag) {
                char buf[256];
                snprintf(buf, sizeof(buf),
                         "host '%s': module '%s' asks for %u session flags, but only %u of %u "
                         "are left",
                         h->name, ctx->desc->name, ctx->desc->session_flags,
                         PL_RES_BITS - next_flag, PL_RES_BITS - PL_RES_FIRST_MODULE_BIT);
                *error = pl_xstrdup(buf);
                return -1;
            }
            ctx->flag_first = next_flag;
            ctx->nflags = ctx->desc->session_flags;
            next_flag += ctx->nflags;
        }
        index_hooks(h);
        pl_map_put(&srv->hosts_by_name, h->name, h);
        for (size_t k = 0; k < hc->ncomponents; k++) {
            pl_component_t *comp = pl_xcalloc(1, sizeof(*comp));
            comp->domain = pl_xstrdup(hc->components[k].domain);
            comp->secret = pl_xstrdup(hc->components[k].secret);
            comp->host = h;
            pl_map_put(&srv->components, comp->domain, comp);
        }
        for (size_t m = 0; m < h->nmods; m++) {
            pl_module_ctx_t *ctx = &h->mods[m];
            if (ctx->desc->init && ctx->desc->init(ctx) != 0) {
                char buf[256];
                snprintf(buf, sizeof(buf), "module '%s' on host '%s' failed to initialise",
                         ctx->desc->name, h->name);
                *error = pl_xstrdup(buf);
                return -1;
            }
        }
    }
    return 0;
}

int pl_hosts_start(pl_server_t *srv, char **error)
{
    for (size_t i = 0; i < srv->nhosts; i++) {
        pl_host_t *h = srv->hosts[i];
        for (size_t m = 0; m < h->nmods; m++) {
            pl_module_ctx_t *ctx = &h->mods[m];
            const pl_store_def_t *sd = ctx->desc->stores;
            size_t ns = 0;
            while (sd && sd[ns].name)
                ns++;
            ctx->stores = ns ? pl_xcalloc(ns, sizeof(pl_kv_t *)) : NULL;
            for (size_t k = 0; k < ns; k++) {
                char name[128];
                snprintf(name, sizeof(name), "%s.%s", ctx->desc->name, sd[k].name);
                if (pl_storage_kv(srv->storage, name, &ctx->stores[k]) != 0) {
                    char buf[256];
                    snprintf(buf, sizeof(buf), "cannot open store '%s'", name);
                    *error = pl_xstrdup(buf);
                    return -1;
                }
            }
            if (ctx->desc->start && ctx->desc->start(ctx) != 0) {
                char buf[256];
                snprintf(buf, sizeof(buf), "module '%s' on host '%s' failed to start",
                         ctx->desc->name, h->name);
                *error = pl_xstrdup(buf);
                return -1;
            }
            ctx->started = 1;
        }
        pl_log(&srv->log, PL_LOG_INFO, "host.start", "host=%s modules=%zu", h->name, h->nmods);
    }
    return 0;
}

void pl_hosts_stop(pl_server_t *srv)
{
    for (size_t i = 0; i < srv->nhosts; i++) {
        pl_host_t *h = srv->hosts[i];
        if (!h)
            continue; /* pl_hosts_create stopped before it */
        for (size_t m = h->nmods; m-- > 0;) {
            pl_module_ctx_t *ctx = &h->mods[m];
            if (ctx->started && ctx->desc->stop)
                ctx->desc->stop(ctx);
            ctx->started = 0;
            free(ctx->stores);
            ctx->stores = NULL;
            free(ctx->service);
            ctx->service = NULL;
        }
        for (size_t ev = 0; ev < PL_EV__COUNT; ev++)
            free(h->hooks[ev]);
        free(h->mods);
        free(h->name);
        free(h);
    }
    free(srv->hosts);
    srv->hosts = NULL;
    srv->nhosts = 0;
    pl_map_deinit(&srv->hosts_by_name);
    pl_map_deinit(&srv->services); /* its values were the contexts just freed */
    size_t pos = 0;
    void *v;
    while (pl_map_iter(&srv->components, &pos, NULL, &v)) {
        pl_component_t *c = v;
        free(c->domain);
        free(c->secret);
        free(c);
    }
    pl_map_deinit(&srv->components);
}

pl_host_t *pl_server_host(pl_server_t *srv, const char *domain)
{
    return domain ? pl_map_get(&srv->hosts_by_name, domain) : NULL;
}

pl_host_t *pl_server_tenant_of(pl_server_t *srv, const char *domain)
{
    pl_host_t *h = pl_server_host(srv, domain);
    if (h || !domain)
        return h;
    pl_module_ctx_t *svc = pl_map_get(&srv->services, domain);
    if (svc)
        return svc->host;
    pthread_mutex_lock(&srv->comp_lock);
    pl_component_t *c = pl_map_get(&srv->components, domain);
    pl_host_t *owner = c ? c->host : NULL;
    pthread_mutex_unlock(&srv->comp_lock);
    return owner;
}

/* Does a hook's filter accept this stanza?  Fills the payload it matched. */
static int hook_matches(const pl_hook_def_t *d, pl_event_t ev, const pl_xml_t *root,
                        const char *type, unsigned target, const pl_xml_t **payload)
{
    /* A hook that names no target covers the addressees of PL_TO_ANY, never
     * a module's service. */
    if (!((d->targets ? d->targets : PL_TO_ANY) & target))
        return 0;
    if (d->type && strcmp(d->type, type) != 0)
        return 0;
    *payload = NULL;
    if (ev == PL_EV_IQ) {
        const pl_xml_t *p = pl_xml_first_element(root);
        if (!p || (d->ns && strcmp(d->ns, p->ns) != 0) ||
            (d->element && strcmp(d->element, p->name) != 0))
            return 0;
        *payload = p;
    } else if (d->ns) {
        const pl_xml_t *p = pl_xml_child(root, d->element, d->ns);
        if (!p)
            return 0;
        *payload = p;
    }
    return 1;
}

/* `only`: the module whose service the stanza is addressed to (its hooks
 * alone may take it), or NULL. */
static pl_hook_result_t run(pl_host_t *host, const pl_module_ctx_t *only, pl_event_t ev,
                            const pl_stanza_t *st, const pl_jid_t *from, const pl_jid_t *to,
                            pl_session_t *origin, unsigned target)
{
    if (!host || host->nhooks[ev] == 0)
        return PL_PASS;
    const pl_xml_t *root = pl_stanza_root(st);
    const char *type = pl_xml_attr(root, "type");
    if (!type)
        type = "";
    if (ev == PL_EV_IQ && strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
        return PL_PASS;
    const char *id = pl_xml_attr(root, "id");
    for (size_t i = 0; i < host->nhooks[ev]; i++) {
        const pl_hook_entry_t *e = &host->hooks[ev][i];
        const pl_xml_t *payload;
        if (only && e->mod != only)
            continue;
        if (!hook_matches(e->def, ev, root, type, target, &payload))
            continue;
        pl_hook_ctx_t hc = {
            .server = host->server,
            .host = host,
            .module = e->mod,
            .stanza = st,
            .payload = payload,
            .from = from,
            .to = to,
            .session = origin,
            .type = type,
            .id = id ? id : "",
        };
        if (e->def->handler(&hc) == PL_DONE)
            return PL_DONE;
    }
    return PL_PASS;
}

pl_hook_result_t pl_hooks_run(pl_host_t *host, pl_event_t ev, const pl_stanza_t *st,
                              const pl_jid_t *from, const pl_jid_t *to, pl_session_t *origin,
                              unsigned target)
{
    return run(host, NULL, ev, st, from, to, origin, target & ~(unsigned)PL_TO_SVC_ANY);
}

pl_hook_result_t pl_hooks_run_service(pl_module_ctx_t *svc, pl_event_t ev, const pl_stanza_t *st,
                                      const pl_jid_t *from, const pl_jid_t *to,
                                      pl_session_t *origin, unsigned target)
{
    return run(svc->host, svc, ev, st, from, to, origin, target & PL_TO_SVC_ANY);
}

void pl_hooks_session_event(pl_host_t *host, pl_event_t ev, pl_session_t *s)
{
    if (!host)
        return;
    for (size_t i = 0; i < host->nhooks[ev]; i++) {
        const pl_hook_entry_t *e = &host->hooks[ev][i];
        pl_hook_ctx_t hc = {
            .server = host->server,
            .host = host,
            .module = e->mod,
            .from = &s->jid,
            .to = &s->jid,
            .session = s,
            .type = "",
            .id = "",
        };
        e->def->handler(&hc);
    }
}

int pl_notify_wanted(pl_server_t *srv, const char *domain)
{
    pl_host_t *host = pl_server_host(srv, domain);
    return host && host->nhooks[PL_EV_NOTIFY] > 0;
}

/* The NOTIFY hooks' slots of the batch running on one host. */
typedef struct notify_batch {
    pl_host_t *host;
    void **slots; /* one per NOTIFY hook of the host, in running order */
} notify_batch_t;

static void batch_finish(notify_batch_t *b)
{
    if (!b->host)
        return;
    for (size_t i = 0; i < b->host->nhooks[PL_EV_NOTIFY]; i++) {
        const pl_hook_entry_t *e = &b->host->hooks[PL_EV_NOTIFY][i];
        if (b->slots[i] && e->def->batch_end)
            e->def->batch_end(e->mod, b->slots[i]);
    }
    free(b->slots);
    *b = (notify_batch_t){0};
}

/* One addressee `t` of the batch's message `st` (its sender parsed once
 * for the batch, in `from`). */
static void notify_one(pl_server_t *srv, notify_batch_t *b, const pl_stanza_t *st,
                       const pl_jid_t *from, const char *t, unsigned flags)
{
    pl_jid_t to;
    if (!t || pl_jid_parse(&to, t) != 0)
        return;
    pl_host_t *host = pl_server_host(srv, to.domain);
    /* Only an account's bare JID, and only one that exists: a member list
     * may still name an account deleted since, which must get nothing. */
    if (host && host->nhooks[PL_EV_NOTIFY] > 0 && to.local && !to.resource &&
        pl_server_account_exists(srv, to.bare)) {
        if (b->host != host) {
            batch_finish(b);
            b->host = host;
            b->slots = pl_xcalloc(host->nhooks[PL_EV_NOTIFY], sizeof(*b->slots));
        }
        const pl_xml_t *root = pl_stanza_root(st);
        const char *type = pl_xml_attr(root, "type"), *id = pl_xml_attr(root, "id");
        for (size_t i = 0; i < host->nhooks[PL_EV_NOTIFY]; i++) {
            const pl_hook_entry_t *e = &host->hooks[PL_EV_NOTIFY][i];
            const pl_xml_t *payload;
            if (!hook_matches(e->def, PL_EV_NOTIFY, root, type ? type : "", PL_TO_BARE, &payload))
                continue;
            pl_hook_ctx_t hc = {
                .server = srv,
                .host = host,
                .module = e->mod,
                .stanza = st,
                .payload = payload,
                .from = from,
                .to = &to,
                .type = type ? type : "",
                .id = id ? id : "",
                .notify = flags,
                .batch = &b->slots[i],
            };
            e->def->handler(&hc); /* observers: every one runs */
        }
    }
    pl_jid_deinit(&to);
}

void pl_notify_many(pl_server_t *srv, const pl_stanza_t *st, const char *const *to,
                    const unsigned *flags, size_t n)
{
    if (n == 0)
        return;
    const char *f = pl_stanza_attr(st, "from");
    pl_jid_t from;
    if (!f || pl_jid_parse(&from, f) != 0)
        return;
    notify_batch_t b = {0};
    for (size_t i = 0; i < n; i++)
        notify_one(srv, &b, st, &from, to[i], flags[i]);
    batch_finish(&b);
    pl_jid_deinit(&from);
}

void pl_notify(pl_server_t *srv, const pl_stanza_t *st, unsigned flags)
{
    const char *to = pl_stanza_attr(st, "to");
    if (to)
        pl_notify_many(srv, st, &to, &flags, 1);
}

/* ---- module context accessors ---- */
const void *pl_module_conf(const pl_module_ctx_t *ctx) { return ctx->conf; }
void *pl_module_data(const pl_module_ctx_t *ctx) { return ctx->data; }
void pl_module_set_data(pl_module_ctx_t *ctx, void *data) { ctx->data = data; }
const char *pl_module_service(const pl_module_ctx_t *ctx) { return ctx->service; }

pl_module_ctx_t *pl_host_module(pl_host_t *h, const char *name)
{
    for (size_t i = 0; h && name && i < h->nmods; i++)
        if (strcmp(h->mods[i].desc->name, name) == 0)
            return &h->mods[i];
    return NULL;
}

/* A domain some host or component of the configuration already answers
 * for, whether or not its host has been created yet. */
static int domain_taken(const pl_server_t *srv, const char *domain)
{
    const pl_config_t *c = srv->config;
    for (size_t i = 0; i < c->nhosts; i++) {
        if (strcmp(c->hosts[i].name, domain) == 0)
            return 1;
        for (size_t k = 0; k < c->hosts[i].ncomponents; k++)
            if (strcmp(c->hosts[i].components[k].domain, domain) == 0)
                return 1;
    }
    return pl_map_get(&srv->services, domain) != NULL;
}

int pl_module_serve(pl_module_ctx_t *ctx, const char *domain)
{
    pl_server_t *srv = ctx->host->server;
    pl_jid_t j;
    if (!domain || pl_jid_parse(&j, domain) != 0)
        return -EINVAL;
    int rc = 0;
    if (j.local || j.resource)
        rc = -EINVAL;
    else if (ctx->service)
        rc = -EALREADY;
    else if (domain_taken(srv, j.domain))
        rc = -EEXIST;
    if (rc == 0) {
        ctx->service = pl_xstrdup(j.domain);
        pl_map_put(&srv->services, ctx->service, ctx);
        pl_log(&srv->log, PL_LOG_INFO, "service.add", "host=%s module=%s domain=%s",
               ctx->host->name, ctx->desc->name, ctx->service);
    }
    pl_jid_deinit(&j);
    return rc;
}
pl_host_t *pl_module_host(const pl_module_ctx_t *ctx) { return ctx->host; }
pl_server_t *pl_module_server(const pl_module_ctx_t *ctx) { return ctx->host->server; }
const char *pl_module_name(const pl_module_ctx_t *ctx) { return ctx->desc->name; }

pl_kv_t *pl_module_store(const pl_module_ctx_t *ctx, const char *name)
{
    const pl_store_def_t *sd = ctx->desc->stores;
    for (size_t k = 0; sd && sd[k].name; k++)
        if (strcmp(sd[k].name, name) == 0)
            return ctx->stores ? ctx->stores[k] : NULL;
    return NULL;
}

void *pl_module_session_state(const pl_module_ctx_t *ctx, pl_session_t *s)
{
    if (!s->mod_state || ctx->desc->session_state_size == 0)
        return NULL;
    return s->mod_state + ctx->state_offset;
}

_Static_assert(PL_RES_DETACHED < 1u << PL_RES_FIRST_MODULE_BIT,
               "the core's session marks stay below the modules' bits");

unsigned pl_module_session_flag(const pl_module_ctx_t *ctx, unsigned i)
{
    if (i >= ctx->nflags)
        pl_die("module %s uses session flag %u but reserved %u (session_flags)", ctx->desc->name, i,
               ctx->nflags);
    return 1u << (ctx->flag_first + i);
}

void pl_module_log(const pl_module_ctx_t *ctx, int level, const char *event, const char *fmt, ...)
{
    const pl_log_t *log = &ctx->host->server->log;
    if (!pl_log_enabled(log, level))
        return;
    char ev[128];
    snprintf(ev, sizeof(ev), "%s.%s", ctx->desc->name, event);
    va_list ap;
    va_start(ap, fmt);
    pl_logv(log, level, ev, fmt, ap);
    va_end(ap);
}

/* ---- replies ---- */
void pl_reply_take(pl_hook_ctx_t *hc, pl_stanza_t *reply)
{
    const char *orig_to = pl_stanza_attr(hc->stanza, "to");
    const char *rfrom = pl_stanza_attr(reply, "from");
    const char *rto = pl_stanza_attr(reply, "to");
    pl_stanza_t *addressed = pl_stanza_readdress(reply, rfrom ? PL_KEEP : orig_to,
                                                 rto ? PL_KEEP : hc->from->full);
    pl_stanza_unref(&reply);
    /* Straight back to the session it came from when that is the sender
     * (a bound client resource; a component's answers are routed to its
     * domain like any stanza). */
    if (hc->session && hc->session->bound && hc->session->jid.full &&
        strcmp(hc->session->jid.full, hc->from->full) == 0) {
        pl_session_deliver(hc->session, addressed);
        pl_stanza_unref(&addressed);
        return;
    }
    pl_jid_t from;
    const char *f = pl_stanza_attr(addressed, "from");
    if (pl_jid_parse(&from, f ? f : hc->host->name) == 0) {
        pl_router_route(hc->server, addressed, &from, hc->from, NULL);
        pl_jid_deinit(&from);
    }
    pl_stanza_unref(&addressed);
}

void pl_reply_result(pl_hook_ctx_t *hc, const pl_xml_t *payload)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    if (payload)
        pl_build_copy(b, payload);
    pl_reply_take(hc, pl_build_finish(b));
}

void pl_reply_error(pl_hook_ctx_t *hc, pl_stanza_err_t cond, const char *text)
{
    pl_stanza_t *err = pl_stanza_error(hc->stanza, cond, text);
    pl_reply_take(hc, err);
}

void pl_reply_later(pl_server_t *srv, const pl_stanza_t *req, pl_stanza_err_t cond,
                    const char *text)
{
    const char *to = pl_stanza_attr(req, "to"), *from = pl_stanza_attr(req, "from");
    pl_jid_t sender;
    if (!from || pl_jid_parse(&sender, from) != 0)
        return;
    pl_stanza_t *reply;
    if (cond) {
        reply = pl_stanza_error(req, cond, text);
    } else {
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", "result");
        pl_build_attr(b, "id", pl_stanza_attr(req, "id") ? pl_stanza_attr(req, "id") : "");
        pl_build_attr(b, "to", from);
        reply = pl_build_finish(b);
    }
    pl_stanza_t *addressed = pl_stanza_readdress(reply, to ? to : sender.bare, PL_KEEP);
    pl_jid_deinit(&sender);
    pl_stanza_unref(&reply);
    pl_route_take(srv, addressed);
}
