/* presence.c — presence (RFC 6121 §4): broadcast to subscribers and the
 * user's own resources, probes at initial presence, directed presence and
 * the unavailable owed at the end of a session, and Parley's product states
 * (<state xmlns='urn:parley:presence'/>, docs/extensions/presence.md).
 * Subscriptions are in subscription.c. */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/presence/presence-private.h"
#include "xep/roster.h"
#include "xmpp/ns.h"

#define PRESENCE_MAX_DIRECTED 256 /* JIDs remembered per session */

/* The module's session flags (pl_module_session_flag). */
enum {
    PRESENCE_FLAG_INITIAL, /* sent initial presence (so its contacts were probed), and not
                              unavailable since: the next available is not initial */
    PRESENCE_NFLAGS,
};

/* Per-session state: who got directed presence from this session. */
typedef struct presence_session {
    char **directed; /* full or bare JIDs, heap */
    size_t ndirected;
} presence_session_t;

/* ---- stanza checks ---- */

static int only_whitespace(const pl_xml_t *e)
{
    for (const pl_xml_t *k = e->children; k; k = k->next) {
        if (k->kind == PL_XML_ELEMENT)
            return 0;
        for (size_t i = 0; i < k->text_len; i++)
            if (!strchr(" \t\r\n", k->text[i]))
                return 0;
    }
    return 1;
}

static int state_valid(const pl_xml_t *e, const char **why)
{
    if (strcmp(e->name, "state") != 0) {
        *why = "unknown element in urn:parley:presence";
        return 0;
    }
    const char *value = NULL;
    for (unsigned i = 0; i < e->nattrs; i++) {
        if (e->attrs[i].ns || strcmp(e->attrs[i].name, "value") != 0) {
            *why = "<state/> takes only a 'value' attribute";
            return 0;
        }
        value = e->attrs[i].value;
    }
    if (!value || !*value || strlen(value) > PRESENCE_STATE_MAX) {
        *why = "<state/> needs a value of 1 to 64 bytes";
        return 0;
    }
    if (!only_whitespace(e)) {
        *why = "<state/> has no content";
        return 0;
    }
    return 1;
}

static size_t text_bytes(const pl_xml_t *e)
{
    size_t n = 0;
    for (const pl_xml_t *k = e->children; k; k = k->next)
        if (k->kind == PL_XML_TEXT)
            n += k->text_len;
    return n;
}

int presence_check(const pl_stanza_t *st, size_t max_status, const char **why)
{
    const pl_xml_t *root = pl_stanza_root(st);
    int states = 0;
    for (const pl_xml_t *k = root->children; k; k = k->next) {
        if (k->kind != PL_XML_ELEMENT)
            continue;
        if (strcmp(k->ns, PL_NS_CLIENT) == 0 && strcmp(k->name, "status") == 0 &&
            text_bytes(k) > max_status) {
            *why = "status text too long";
            return -1;
        }
        if (strcmp(k->ns, PRESENCE_NS) == 0) {
            if (!state_valid(k, why))
                return -1;
            if (++states > 1) {
                *why = "at most one <state/> per presence";
                return -1;
            }
        }
    }
    return 0;
}

char *presence_status_text(const pl_stanza_t *st)
{
    const pl_xml_t *s = pl_xml_child(pl_stanza_root(st), "status", PL_NS_CLIENT);
    if (!s)
        return NULL;
    pl_buf_t b;
    pl_buf_init(&b);
    pl_xml_text(s, &b);
    char *text = pl_xstrdup(pl_buf_cstr(&b));
    pl_buf_deinit(&b);
    return text;
}

/* The core keeps a session's last broadcast presence even when this module
 * refused it; what contacts are shown later is that presence without the
 * parts that failed the checks.  Returns a new reference. */
static pl_stanza_t *presence_clean(const pl_stanza_t *st, size_t max_status)
{
    const char *why;
    if (presence_check(st, max_status, &why) == 0)
        return pl_stanza_ref(st);
    const pl_xml_t *root = pl_stanza_root(st);
    pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
    for (unsigned i = 0; i < root->nattrs; i++)
        if (!root->attrs[i].ns)
            pl_build_attr(b, root->attrs[i].name, root->attrs[i].value);
    for (const pl_xml_t *k = root->children; k; k = k->next) {
        if (k->kind != PL_XML_ELEMENT || strcmp(k->ns, PRESENCE_NS) == 0)
            continue;
        if (strcmp(k->ns, PL_NS_CLIENT) == 0 && strcmp(k->name, "status") == 0 &&
            text_bytes(k) > max_status)
            continue;
        pl_build_copy(b, k);
    }
    return pl_build_finish(b);
}

static size_t conf_max_status(const pl_module_ctx_t *ctx)
{
    const presence_conf_t *conf = pl_module_conf(ctx);
    return (size_t)conf->max_status;
}

/* ---- sending ---- */

static pl_stanza_t *unavailable_from(const char *from, const char *to)
{
    pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
    pl_build_attr(b, "type", "unavailable");
    pl_build_attr(b, "from", from);
    if (to)
        pl_build_attr(b, "to", to);
    return pl_build_finish(b);
}

void presence_send_unavailable_of(pl_server_t *srv, const char *user, const char *to)
{
    pl_resource_t res[PRESENCE_MAX_RESOURCES];
    size_t n = pl_server_resources(srv, user, res, PRESENCE_MAX_RESOURCES);
    for (size_t i = 0; i < n; i++)
        if (res[i].available)
            pl_route_take(srv, unavailable_from(res[i].jid->full, to));
    pl_resources_release(res, n);
}

static size_t send_current(pl_server_t *srv, const pl_module_ctx_t *ctx, const char *contact,
                           const char *to)
{
    pl_resource_t res[PRESENCE_MAX_RESOURCES];
    size_t n = pl_server_resources(srv, contact, res, PRESENCE_MAX_RESOURCES), sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (!res[i].available || !res[i].presence)
            continue;
        pl_stanza_t *clean = presence_clean(res[i].presence, conf_max_status(ctx));
        pl_route_take(srv, pl_stanza_readdress(clean, res[i].jid->full, to));
        pl_stanza_unref(&clean);
        sent++;
    }
    pl_resources_release(res, n);
    return sent;
}

void presence_send_current_of(pl_server_t *srv, const pl_module_ctx_t *ctx, const char *contact,
                              const char *to)
{
    send_current(srv, ctx, contact, to);
}

/* ---- the roster, read once per broadcast ---- */

typedef struct contact {
    char *jid;
    unsigned sub;
    int pending_in;
    char *status;
} contact_t;

typedef struct contacts {
    contact_t *v;
    size_t n, cap;
} contacts_t;

static int collect_contact(void *ud, const pl_roster_item_t *it)
{
    contacts_t *c = ud;
    int pending = it->pending_in && !(it->sub & PL_SUB_FROM);
    if (it->sub == PL_SUB_NONE && !pending)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->v = pl_xrealloc(c->v, c->cap * sizeof(contact_t));
    }
    c->v[c->n++] = (contact_t){
        .jid = pl_xstrdup(it->jid),
        .sub = it->sub,
        .pending_in = pending,
        .status = pending && it->pending_status ? pl_xstrdup(it->pending_status) : NULL,
    };
    return 0;
}

static int contact_cmp(const void *a, const void *b)
{
    return strcmp(((const contact_t *)a)->jid, ((const contact_t *)b)->jid);
}

static void contacts_load(pl_roster_t *r, const char *user, contacts_t *c)
{
    memset(c, 0, sizeof(*c));
    if (r)
        pl_roster_list(r, user, 1, collect_contact, c);
    if (c->n > 1)
        qsort(c->v, c->n, sizeof(contact_t), contact_cmp);
}

static const contact_t *contacts_find(const contacts_t *c, const char *bare)
{
    contact_t key = {.jid = (char *)bare};
    return c->n ? bsearch(&key, c->v, c->n, sizeof(contact_t), contact_cmp) : NULL;
}

static void contacts_deinit(contacts_t *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].jid);
        free(c->v[i].status);
    }
    free(c->v);
    memset(c, 0, sizeof(*c));
}

/* ---- directed presence memory ---- */

static presence_session_t *session_state(const pl_module_ctx_t *ctx, pl_session_t *s)
{
    return s ? pl_module_session_state(ctx, s) : NULL;
}

static void directed_remember(presence_session_t *ps, const char *jid, int available)
{
    for (size_t i = 0; i < ps->ndirected; i++) {
        if (strcmp(ps->directed[i], jid) == 0) {
            if (!available) {
                free(ps->directed[i]);
                ps->directed[i] = ps->directed[--ps->ndirected];
            }
            return;
        }
    }
    if (!available || ps->ndirected == PRESENCE_MAX_DIRECTED)
        return; /* beyond the bound the recipient learns only from its own probes */
    if (!ps->directed)
        ps->directed = pl_xcalloc(PRESENCE_MAX_DIRECTED, sizeof(char *));
    ps->directed[ps->ndirected++] = pl_xstrdup(jid);
}

static void directed_clear(presence_session_t *ps)
{
    for (size_t i = 0; i < ps->ndirected; i++)
        free(ps->directed[i]);
    free(ps->directed);
    ps->directed = NULL;
    ps->ndirected = 0;
}

/* Unavailable to every directed-presence recipient that is not a
 * subscriber (those had it with the broadcast). */
static void directed_unavailable(presence_session_t *ps, pl_server_t *srv,
                                 const pl_stanza_t *unavail, const char *full, const contacts_t *c)
{
    for (size_t i = 0; ps && i < ps->ndirected; i++) {
        pl_jid_t j;
        if (pl_jid_parse(&j, ps->directed[i]) != 0)
            continue;
        const contact_t *ct = contacts_find(c, j.bare);
        if (!ct || !(ct->sub & PL_SUB_FROM))
            pl_route_take(srv, pl_stanza_readdress(unavail, full, ps->directed[i]));
        pl_jid_deinit(&j);
    }
    if (ps)
        directed_clear(ps);
}

/* ---- broadcast ---- */

/* Sends `st` (from the session's full JID) to every contact with a FROM
 * subscription and to the user's own available resources; `self` is the
 * sender's session, which gets its own available presence back (RFC 6121
 * §4.2.2) but not its unavailable. */
static void broadcast(pl_server_t *srv, const pl_stanza_t *st, const pl_jid_t *user,
                      pl_session_t *self, const contacts_t *c, int unavailable)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].sub & PL_SUB_FROM)
            pl_route_take(srv, pl_stanza_readdress(st, user->full, c->v[i].jid));
    pl_resource_t res[PRESENCE_MAX_RESOURCES];
    size_t n = pl_server_resources(srv, user->bare, res, PRESENCE_MAX_RESOURCES);
    for (size_t i = 0; i < n; i++) {
        if (!res[i].available || (unavailable && res[i].session == self))
            continue;
        pl_stanza_t *copy = pl_stanza_readdress(st, user->full, res[i].jid->full);
        pl_session_send_stanza(res[i].session, copy);
        pl_stanza_unref(&copy);
    }
    pl_resources_release(res, n);
}

/* What a new resource learns at initial presence: its contacts' presence
 * (the probes of RFC 6121 §4.2.2, answered locally), its other resources'
 * presence, and the subscription requests still waiting (§3.1.3). */
static void initial_extras(pl_hook_ctx_t *hc, const contacts_t *c)
{
    const char *me = hc->from->full;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].sub & PL_SUB_TO)
            send_current(hc->server, hc->module, c->v[i].jid, me);
    pl_resource_t res[PRESENCE_MAX_RESOURCES];
    size_t n = pl_server_resources(hc->server, hc->from->bare, res, PRESENCE_MAX_RESOURCES);
    for (size_t i = 0; i < n; i++) {
        if (res[i].session == hc->session || !res[i].available || !res[i].presence)
            continue;
        pl_stanza_t *clean = presence_clean(res[i].presence, conf_max_status(hc->module));
        pl_stanza_t *copy = pl_stanza_readdress(clean, res[i].jid->full, me);
        pl_session_send_stanza(hc->session, copy);
        pl_stanza_unref(&copy);
        pl_stanza_unref(&clean);
    }
    pl_resources_release(res, n);
    for (size_t i = 0; i < c->n; i++) {
        if (!c->v[i].pending_in)
            continue;
        pl_builder_t *b = pl_build_new("presence", PL_NS_CLIENT);
        pl_build_attr(b, "type", "subscribe");
        pl_build_attr(b, "from", c->v[i].jid);
        pl_build_attr(b, "to", hc->from->bare);
        if (c->v[i].status)
            pl_build_text_child(b, "status", PL_NS_CLIENT, c->v[i].status);
        pl_stanza_t *req = pl_build_finish(b);
        pl_session_send_stanza(hc->session, req);
        pl_stanza_unref(&req);
    }
}

/* PL_EV_PRESENCE to the host: broadcast presence (no 'to') from a client.
 * The core has recorded availability, priority and the stanza already. */
static pl_hook_result_t presence_broadcast(pl_hook_ctx_t *hc)
{
    if (!hc->session || !hc->from->local || !hc->from->resource || pl_stanza_attr(hc->stanza, "to"))
        return PL_DONE; /* presence to the server itself: nothing to do */
    const char *why;
    if (presence_check(hc->stanza, conf_max_status(hc->module), &why) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, why);
        return PL_DONE;
    }
    int unavailable = strcmp(hc->type, "unavailable") == 0;
    unsigned sent_initial = pl_module_session_flag(hc->module, PRESENCE_FLAG_INITIAL);
    int was_available = (pl_session_flags(hc->session) & sent_initial) != 0;
    int initial = !unavailable && !was_available;
    contacts_t c;
    contacts_load(presence_roster(hc->module), hc->from->bare, &c);
    pl_stanza_t *st = pl_stanza_readdress(hc->stanza, hc->from->full, NULL);
    /* Unavailable from a resource nobody saw available goes only to the
     * directed-presence recipients. */
    if (!unavailable || was_available)
        broadcast(hc->server, st, hc->from, hc->session, &c, unavailable);
    if (initial) {
        pl_session_set_flags(hc->session, sent_initial, 0);
        initial_extras(hc, &c);
    }
    if (unavailable) {
        /* The next available presence is initial again (RFC 6121 §4.2). */
        pl_session_set_flags(hc->session, 0, sent_initial);
        directed_unavailable(session_state(hc->module, hc->session), hc->server, st, hc->from->full,
                             &c);
    }
    pl_stanza_unref(&st);
    contacts_deinit(&c);
    return PL_DONE;
}

/* PL_EV_PRE_ROUTE, available/unavailable with a 'to': directed presence.
 * Checked, remembered for the unavailable owed later, then routed. */
static pl_hook_result_t presence_directed(pl_hook_ctx_t *hc)
{
    if (strcmp(pl_stanza_name(hc->stanza), "presence") != 0 || !hc->session ||
        !pl_stanza_attr(hc->stanza, "to"))
        return PL_PASS;
    if (!hc->to->local && strcmp(hc->to->domain, pl_host_name(hc->host)) == 0)
        return PL_PASS;
    const char *why;
    if (presence_check(hc->stanza, conf_max_status(hc->module), &why) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, why);
        return PL_DONE;
    }
    presence_session_t *ps = session_state(hc->module, hc->session);
    if (ps && strcmp(hc->to->bare, hc->from->bare) != 0)
        directed_remember(ps, hc->to->full, strcmp(hc->type, "unavailable") != 0);
    return PL_PASS;
}

/* PL_EV_PRESENCE to a local account, type='probe' (RFC 6121 §4.3): answered
 * for a prober with a subscription (or the account's own resources). */
static pl_hook_result_t presence_probe(pl_hook_ctx_t *hc)
{
    if (!hc->to->local)
        return PL_PASS;
    int allowed = strcmp(hc->from->bare, hc->to->bare) == 0;
    if (!allowed) {
        pl_roster_item_t it;
        pl_roster_item_init(&it);
        pl_roster_t *r = presence_roster(hc->module);
        allowed =
            r && pl_roster_get(r, hc->to->bare, hc->from->bare, &it) == 1 && (it.sub & PL_SUB_FROM);
        pl_roster_item_clear(&it);
    }
    if (!allowed)
        return PL_DONE; /* no subscription, no answer (§4.3.2) */
    if (send_current(hc->server, hc->module, hc->to->bare, hc->from->full) == 0)
        pl_route_take(hc->server, unavailable_from(hc->to->bare, hc->from->full));
    return PL_DONE;
}

/* Presence of other types to the server itself is ignored. */
static pl_hook_result_t presence_to_host(pl_hook_ctx_t *hc)
{
    (void)hc;
    return PL_DONE;
}

/* The session ended (cleanly or not): it owes unavailable presence to its
 * subscribers, its user's other resources and its directed recipients. */
static pl_hook_result_t presence_session_closed(pl_hook_ctx_t *hc)
{
    presence_session_t *ps = session_state(hc->module, hc->session);
    int was_available = (pl_session_flags(hc->session) &
                         pl_module_session_flag(hc->module, PRESENCE_FLAG_INITIAL)) != 0;
    if (!hc->from->local || !hc->from->resource || (!was_available && (!ps || !ps->ndirected))) {
        if (ps)
            directed_clear(ps);
        return PL_PASS;
    }
    contacts_t c;
    contacts_load(presence_roster(hc->module), hc->from->bare, &c);
    pl_stanza_t *st = unavailable_from(hc->from->full, NULL);
    if (was_available)
        broadcast(hc->server, st, hc->from, hc->session, &c, 1);
    directed_unavailable(ps, hc->server, st, hc->from->full, &c);
    pl_stanza_unref(&st);
    contacts_deinit(&c);
    return PL_PASS;
}

static int presence_start(pl_module_ctx_t *ctx)
{
    pl_roster_t *r = NULL;
    if (pl_roster_open(pl_server_storage(pl_module_server(ctx)), &r) != 0)
        return -1;
    pl_module_set_data(ctx, r);
    return 0;
}

static const pl_conf_def_t conf[] = {
    {.key = "max_status",
     .type = PL_CONF_SIZE,
     .offset = offsetof(presence_conf_t, max_status),
     .def = "1024",
     .min = 1,
     .max = 65536,
     .help = "bytes of text in one <status/>; longer presence is refused with bad-request"},
    {.key = "max_items",
     .type = PL_CONF_INT,
     .offset = offsetof(presence_conf_t, max_items),
     .def = "5000",
     .min = 1,
     .max = 100000,
     .help = "roster items a user's subscription requests may create (keep it equal to "
             "roster.max_items); past it the request is refused with resource-constraint"},
    {.key = "max_pending",
     .type = PL_CONF_INT,
     .offset = offsetof(presence_conf_t, max_pending),
     .def = "1000",
     .min = 1,
     .max = 100000,
     .help = "subscription requests from people not in the roster (and pre-approvals) kept "
             "per user; past it new requests are refused with resource-constraint"},
    {0},
};

/* Subscriptions live in roster items and clients learn of them through
 * roster pushes, which only the roster module's clients ask for. */
static const char *const requires[] = {"roster", NULL};

// clang-format off
static const pl_hook_def_t hooks[] = {
    /* The user's own subscription stanzas: update the roster, then send. */
    {.event = PL_EV_PRE_ROUTE, .type = "subscribe", .priority = PL_PRIO_HANDLER,
     .handler = presence_out_subscription},
    {.event = PL_EV_PRE_ROUTE, .type = "subscribed", .priority = PL_PRIO_HANDLER,
     .handler = presence_out_subscription},
    {.event = PL_EV_PRE_ROUTE, .type = "unsubscribe", .priority = PL_PRIO_HANDLER,
     .handler = presence_out_subscription},
    {.event = PL_EV_PRE_ROUTE, .type = "unsubscribed", .priority = PL_PRIO_HANDLER,
     .handler = presence_out_subscription},
    {.event = PL_EV_PRE_ROUTE, .targets = PL_TO_BARE | PL_TO_FULL | PL_TO_HOST, .type = "",
     .priority = PL_PRIO_HANDLER, .handler = presence_directed},
    {.event = PL_EV_PRE_ROUTE, .targets = PL_TO_BARE | PL_TO_FULL | PL_TO_HOST,
     .type = "unavailable", .priority = PL_PRIO_HANDLER, .handler = presence_directed},
    /* Arriving for a local account. */
    {.event = PL_EV_PRESENCE, .targets = PL_TO_BARE | PL_TO_FULL, .type = "subscribe",
     .priority = PL_PRIO_HANDLER, .handler = presence_in_subscription},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_BARE | PL_TO_FULL, .type = "subscribed",
     .priority = PL_PRIO_HANDLER, .handler = presence_in_subscription},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_BARE | PL_TO_FULL, .type = "unsubscribe",
     .priority = PL_PRIO_HANDLER, .handler = presence_in_subscription},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_BARE | PL_TO_FULL, .type = "unsubscribed",
     .priority = PL_PRIO_HANDLER, .handler = presence_in_subscription},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_BARE | PL_TO_FULL, .type = "probe",
     .priority = PL_PRIO_HANDLER, .handler = presence_probe},
    /* Broadcast presence, and everything else sent to the server. */
    {.event = PL_EV_PRESENCE, .targets = PL_TO_HOST, .type = "", .priority = PL_PRIO_HANDLER,
     .handler = presence_broadcast},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_HOST, .type = "unavailable",
     .priority = PL_PRIO_HANDLER, .handler = presence_broadcast},
    {.event = PL_EV_PRESENCE, .targets = PL_TO_HOST, .priority = PL_PRIO_FALLBACK,
     .handler = presence_to_host},
    {.event = PL_EV_SESSION_CLOSED, .priority = PL_PRIO_OBSERVER,
     .handler = presence_session_closed},
    {0},
};
// clang-format on

const pl_module_desc_t pl_mod_presence = {
    .name = "presence",
    .abi = PL_MODULE_ABI,
    .description = "Presence and subscriptions (RFC 6121 §3-4) with Parley's product states",
    .requires = requires,
    .conf = conf,
    .conf_size = sizeof(presence_conf_t),
    .hooks = hooks,
    .start = presence_start,
    .session_state_size = sizeof(presence_session_t),
    .session_flags = PRESENCE_NFLAGS,
};
