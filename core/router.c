/* router.c — where a stanza goes: policy hooks first, then components,
 * then the server itself (module hooks), then a local account's sessions by
 * the rules of route-rules.c.  Delivery to a session on another loop goes
 * through that loop's inbox.  Nothing here blocks. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "lib/util.h"
#include "storage/storage.h"
#include "xmpp/route-rules.h"

#define PL_MAX_FANOUT 64 /* sessions per account considered for one stanza */

static void deliver(pl_session_t *s, const pl_stanza_t *st)
{
    pl_session_send_stanza(s, st);
}

void pl_router_bounce(pl_server_t *srv, const pl_stanza_t *st, pl_stanza_err_t cond,
                      const char *text)
{
    const char *type = pl_stanza_attr(st, "type");
    if (type && strcmp(type, "error") == 0)
        return; /* never answer an error with an error */
    const char *from = pl_stanza_attr(st, "from");
    if (!from)
        return;
    pl_jid_t to_j, from_j;
    pl_stanza_t *err = pl_stanza_error(st, cond, text);
    if (pl_jid_parse(&to_j, from) != 0) {
        pl_stanza_unref(&err);
        return;
    }
    const char *efrom = pl_stanza_attr(err, "from");
    if (!efrom) {
        /* The stanza had no 'to': the sender's server answers for it. */
        pl_stanza_t *addressed = pl_stanza_readdress(err, to_j.domain, PL_KEEP);
        pl_stanza_unref(&err);
        err = addressed;
        efrom = to_j.domain;
    }
    if (pl_jid_parse(&from_j, efrom) == 0) {
        pl_router_route(srv, err, &from_j, &to_j, NULL);
        pl_jid_deinit(&from_j);
    }
    pl_jid_deinit(&to_j);
    pl_stanza_unref(&err);
}

static int route_to_component(pl_server_t *srv, const pl_stanza_t *st, const pl_jid_t *to)
{
    pthread_mutex_lock(&srv->comp_lock);
    pl_component_t *c = pl_map_get(&srv->components, to->domain);
    pl_session_t *s = c && c->session ? pl_session_ref(c->session) : NULL;
    pthread_mutex_unlock(&srv->comp_lock);
    if (!c)
        return 0;
    if (s) {
        deliver(s, st);
        pl_session_unref(&s);
    } else {
        pl_router_bounce(srv, st, PL_ERR_SERVICE_UNAVAILABLE, "the component is not connected");
    }
    return 1;
}

static unsigned target_bits(const pl_stanza_t *st, const pl_jid_t *from, const pl_jid_t *to)
{
    int self = from && from->bare && to->bare && strcmp(from->bare, to->bare) == 0;
    if (!pl_stanza_attr(st, "to"))
        return PL_TO_HOST | PL_TO_SELF;
    if (!to->local)
        return PL_TO_HOST;
    unsigned t = to->resource ? PL_TO_FULL : PL_TO_BARE;
    return self ? t | PL_TO_SELF : t;
}

static pl_event_t event_for(pl_stanza_kind_t kind)
{
    return kind == PL_KIND_IQ ? PL_EV_IQ : kind == PL_KIND_MESSAGE ? PL_EV_MESSAGE : PL_EV_PRESENCE;
}

/* A module's service domain (pl_module_serve): its hooks alone take what is
 * addressed there; an IQ request none takes gets service-unavailable, the
 * rest is dropped (the module answers what it refuses). */
static int route_to_service(pl_server_t *srv, pl_stanza_kind_t kind, const pl_stanza_t *st,
                            const pl_jid_t *from, const pl_jid_t *to, pl_session_t *origin)
{
    pl_module_ctx_t *svc = pl_map_get(&srv->services, to->domain);
    if (!svc)
        return 0;
    const char *type = pl_stanza_attr(st, "type");
    int request = type && (!strcmp(type, "get") || !strcmp(type, "set"));
    /* Answers to IQs the module sent as a service JID. */
    if (kind == PL_KIND_IQ && !request && pl_requests_answer(srv, st, from))
        return 1;
    unsigned target = !to->local      ? PL_TO_SVC_DOMAIN
                      : to->resource ? PL_TO_SVC_FULL
                                     : PL_TO_SVC_BARE;
    if (pl_hooks_run_service(svc, event_for(kind), st, from, to, origin, target) == PL_DONE)
        return 1;
    if (kind == PL_KIND_IQ && request)
        pl_router_bounce(srv, st, PL_ERR_SERVICE_UNAVAILABLE, NULL);
    return 1;
}

/* The server answers: module hooks, or service-unavailable for requests. */
static void to_server(pl_host_t *host, pl_stanza_kind_t kind, const pl_stanza_t *st,
                      const pl_jid_t *from, const pl_jid_t *to, pl_session_t *origin,
                      unsigned target)
{
    if (pl_hooks_run(host, event_for(kind), st, from, to, origin, target) == PL_DONE)
        return;
    const char *type = pl_stanza_attr(st, "type");
    if (kind == PL_KIND_IQ && type && (!strcmp(type, "get") || !strcmp(type, "set")))
        pl_router_bounce(host->server, st, PL_ERR_SERVICE_UNAVAILABLE, NULL);
}

static int not_forged_id(void *ud, const pl_xml_t *child)
{
    if (strcmp(child->name, "stanza-id") != 0 || strcmp(child->ns, PL_NS_SID) != 0)
        return 1;
    const char *by = pl_xml_attr(child, "by");
    return !by || strcmp(by, (const char *)ud) != 0;
}

static int has_own_id(const pl_stanza_t *st, const char *bare)
{
    for (const pl_xml_t *c = pl_xml_child(pl_stanza_root(st), "stanza-id", PL_NS_SID); c;
         c = pl_xml_next(c, "stanza-id", PL_NS_SID))
        if (!not_forged_id((void *)bare, c))
            return 1;
    return 0;
}

/* XEP-0334: a headline to an account none of whose clients is available is
 * dropped (RFC 6121 §8.5.2.1.1) unless it is hinted <store/>: a bulletin or
 * a notice sent that way is offered to the offline store like a normal
 * message, and dropped quietly when nothing keeps it. */
static int stored_headline(const pl_stanza_t *st, const char *type, const pl_jid_t *to, int exists)
{
    return exists && !to->resource && type && strcmp(type, "headline") == 0 &&
           pl_xml_child(pl_stanza_root(st), "store", PL_NS_HINTS) != NULL;
}

/* XEP-0359: the recipient's server names each message it takes for an
 * account, once, before any hook sees it, so the archive, the offline store
 * and every copy a client receives carry the same id.  A stanza-id the
 * sender wrote under the same 'by' is a forgery and is dropped. */
static pl_stanza_t *stamp_stanza_id(pl_server_t *srv, const pl_stanza_t *st, const char *bare)
{
    char id[PL_ID_SIZE];
    pl_server_new_id(srv, id);
    pl_builder_t *b = pl_build_from(st, not_forged_id, (void *)bare);
    pl_build_child(b, "stanza-id", PL_NS_SID);
    pl_build_attr(b, "by", bare);
    pl_build_attr(b, "id", id);
    pl_build_up(b);
    return pl_build_finish(b);
}

static void to_account(pl_host_t *host, pl_stanza_kind_t kind, const pl_stanza_t *st,
                       const pl_jid_t *from, const pl_jid_t *to, pl_session_t *origin,
                       unsigned target)
{
    pl_server_t *srv = host->server;
    const char *type = pl_stanza_attr(st, "type");
    pl_stanza_t *stamped = NULL;
    /* A message the server routes again (stream management handing back a
     * dead session's unacknowledged stanzas) keeps the id it was given, so a
     * client can recognise the copy. */
    int server_resend = !origin && has_own_id(st, to->bare);
    if (kind == PL_KIND_MESSAGE && host->stamp_ids && !(type && !strcmp(type, "error")) &&
        !(type && !strcmp(type, "groupchat")) && !server_resend) {
        stamped = stamp_stanza_id(srv, st, to->bare);
        st = stamped;
    }
    /* Message and presence hooks (blocking, subscriptions, archive...) see
     * the stanza before delivery and may consume it. */
    if (kind != PL_KIND_IQ &&
        pl_hooks_run(host, event_for(kind), st, from, to, origin, target) == PL_DONE) {
        pl_stanza_unref(&stamped);
        return;
    }
    pl_session_t *sessions[PL_MAX_FANOUT];
    pl_route_candidate_t cand[PL_MAX_FANOUT];
    unsigned char selected[PL_MAX_FANOUT];
    size_t n = pl_sessions_get(srv, to->bare, sessions, cand, PL_MAX_FANOUT);
    int exists = n > 0 || pl_server_account_exists(srv, to->bare);
    pl_route_action_t act = pl_route_rules(kind, type, to->resource, exists, cand, n, selected);
    int quiet = 0;
    if (act == PL_ROUTE_DROP && kind == PL_KIND_MESSAGE && stored_headline(st, type, to, exists))
        act = PL_ROUTE_UNDELIVERED, quiet = 1;
    switch (act) {
    case PL_ROUTE_DELIVER:
        for (size_t i = 0; i < n; i++)
            if (selected[i])
                deliver(sessions[i], st);
        break;
    case PL_ROUTE_SERVER:
        if (!exists)
            pl_router_bounce(srv, st, PL_ERR_SERVICE_UNAVAILABLE, NULL);
        else
            to_server(host, kind, st, from, to, origin, target);
        break;
    case PL_ROUTE_UNDELIVERED:
        if (pl_hooks_run(host, PL_EV_UNDELIVERED, st, from, to, origin, target) != PL_DONE &&
            kind == PL_KIND_MESSAGE && !quiet)
            pl_router_bounce(srv, st, PL_ERR_SERVICE_UNAVAILABLE, "the recipient is offline");
        break;
    case PL_ROUTE_BOUNCE: pl_router_bounce(srv, st, PL_ERR_SERVICE_UNAVAILABLE, NULL); break;
    case PL_ROUTE_DROP: break;
    }
    for (size_t i = 0; i < n; i++)
        pl_session_unref(&sessions[i]);
    pl_stanza_unref(&stamped);
}

void pl_router_route(pl_server_t *srv, pl_stanza_t *st, const pl_jid_t *from, const pl_jid_t *to,
                     pl_session_t *origin)
{
    pl_stanza_kind_t kind = pl_stanza_kind_of(pl_stanza_name(st));
    if (!kind)
        return;
    pl_host_t *from_host = from && from->domain ? pl_server_host(srv, from->domain) : NULL;
    /* A component's stanzas meet the policy hooks of the tenant it belongs
     * to (blocking, filters), as a local user's do: a session's host is its
     * tenant, whatever its kind. */
    if (!from_host && origin && origin->host)
        from_host = origin->host;
    unsigned target = target_bits(st, from, to);
    if (from_host && origin &&
        pl_hooks_run(from_host, PL_EV_PRE_ROUTE, st, from, to, origin, target) == PL_DONE)
        return;
    if (route_to_component(srv, st, to) || route_to_service(srv, kind, st, from, to, origin))
        return;
    pl_host_t *host = pl_server_host(srv, to->domain);
    if (host && kind == PL_KIND_IQ && !to->resource) {
        /* Answers to IQs the server (or a module for an account) sent. */
        const char *type = pl_stanza_attr(st, "type");
        if (type && (!strcmp(type, "result") || !strcmp(type, "error")) &&
            pl_requests_answer(srv, st, from))
            return;
    }
    if (!host) {
        /* No server-to-server links: other domains are unreachable. */
        pl_router_bounce(srv, st, PL_ERR_REMOTE_SERVER_NOT_FOUND, "no route to that domain");
        return;
    }
    if (!to->local) {
        if (to->resource) {
            pl_router_bounce(srv, st, PL_ERR_SERVICE_UNAVAILABLE, NULL);
            return;
        }
        to_server(host, kind, st, from, to, origin, target);
        return;
    }
    to_account(host, kind, st, from, to, origin, target);
}

void pl_route_take(pl_server_t *srv, pl_stanza_t *st)
{
    const char *f = pl_stanza_attr(st, "from"), *t = pl_stanza_attr(st, "to");
    pl_jid_t from, to;
    if (f && t && pl_jid_parse(&from, f) == 0) {
        if (pl_jid_parse(&to, t) == 0) {
            pl_router_route(srv, st, &from, &to, NULL);
            pl_jid_deinit(&to);
        }
        pl_jid_deinit(&from);
    }
    pl_stanza_unref(&st);
}

/* ---- stanzas a session will never take ---- */

static int is_own_copy(const pl_session_t *s, const pl_stanza_t *st)
{
    /* Carbons and archive results come from the account itself: they are
     * copies of messages kept elsewhere, not messages for the account. */
    const char *from = pl_stanza_attr(st, "from");
    return !from || strcmp(from, s->jid.bare) == 0;
}

static pl_stanza_t *with_delay(const pl_stanza_t *st, const char *host, uint64_t at_ms)
{
    if (pl_xml_child(pl_stanza_root(st), "delay", PL_NS_DELAY))
        return pl_stanza_ref(st);
    char stamp[32];
    time_t t = (time_t)(at_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pl_builder_t *b = pl_build_from(st, NULL, NULL);
    pl_build_child(b, "delay", PL_NS_DELAY);
    pl_build_attr(b, "from", host);
    pl_build_attr(b, "stamp", stamp);
    pl_build_up(b);
    return pl_build_finish(b);
}

/* What was for a session that ended without taking it is handled as if it
 * had been sent while the account was offline (XEP-0198 §5 for what the
 * client never acknowledged). */
int pl_router_reroute(pl_server_t *srv, const pl_session_t *s, const pl_stanza_t *st,
                      uint64_t now_ms)
{
    const char *name = pl_stanza_name(st);
    const char *type = pl_stanza_attr(st, "type");
    if (!strcmp(name, "message") &&
        !(type && (!strcmp(type, "error") || !strcmp(type, "groupchat"))) && !is_own_copy(s, st) &&
        pl_xml_child(pl_stanza_root(st), "body", NULL)) {
        pl_stanza_t *again = with_delay(st, s->host->name, now_ms);
        pl_stanza_t *to_bare = pl_stanza_readdress(again, PL_KEEP, s->jid.bare);
        pl_stanza_unref(&again);
        pl_route_take(srv, to_bare);
        return 0;
    }
    if (!strcmp(name, "iq") && type && (!strcmp(type, "get") || !strcmp(type, "set"))) {
        pl_router_bounce(srv, st, PL_ERR_SERVICE_UNAVAILABLE, "the client went away");
        return 1;
    }
    return 2;
}
