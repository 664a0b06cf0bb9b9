/* clientpolicy.c — the "client_policy" module (MC-1): at most N sessions of
 * each client kind per account.  A new client of a kind that is full
 * replaces the oldest one, which ends with a <conflict/> stream error.  The
 * kind comes from the bound resource (docs/extensions/client-kinds.md). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/module.h"
#include "core/server.h"

#define POLICY_MAX_RESOURCES 64 /* the router's fan-out bound per account */

typedef enum client_kind {
    KIND_DESKTOP = 0,
    KIND_MOBILE,
    KIND_WEB,
    KIND_OTHER,
    KIND__COUNT
} client_kind_t;

static const char *const kind_names[KIND__COUNT] = {"desktop", "mobile", "web", "other"};

typedef struct policy_conf {
    long long limit[KIND__COUNT]; /* sessions per account; 0 = unlimited */
} policy_conf_t;

/* "desktop", "desktop-…", "Mobile-…": the kind named by the resource's first
 * word (case-insensitive, ended by '-' or the end); anything else is other. */
static client_kind_t kind_of_resource(const char *resource)
{
    for (int k = 0; resource && k < KIND_OTHER; k++) {
        size_t n = strlen(kind_names[k]);
        if (strncasecmp(resource, kind_names[k], n) == 0 &&
            (resource[n] == '\0' || resource[n] == '-'))
            return (client_kind_t)k;
    }
    return KIND_OTHER;
}

/* PL_EV_SESSION_BOUND: count the account's sessions of the new one's kind
 * and end the oldest beyond the limit.  Every loop deciding this for its
 * own new session keeps the newest N, so two clients binding at once on
 * different loops agree on who stays. */
static pl_hook_result_t policy_bound(pl_hook_ctx_t *hc)
{
    const policy_conf_t *conf = pl_module_conf(hc->module);
    const pl_jid_t *me = hc->from;
    if (!me || !me->local || !me->resource)
        return PL_PASS;
    client_kind_t kind = kind_of_resource(me->resource);
    long long limit = conf->limit[kind];
    if (limit <= 0)
        return PL_PASS;
    unsigned long long my_id = pl_session_id(hc->session);
    pl_resource_t res[POLICY_MAX_RESOURCES];
    size_t n = pl_server_resources(hc->server, me->bare, res, POLICY_MAX_RESOURCES);
    /* Older sessions of the same kind, oldest first (selection by id). */
    size_t same[POLICY_MAX_RESOURCES], nsame = 0;
    for (size_t i = 0; i < n; i++) {
        if (res[i].session == hc->session || pl_session_id(res[i].session) > my_id ||
            kind_of_resource(res[i].jid->resource) != kind)
            continue;
        size_t at = nsame++;
        while (at > 0 && pl_session_id(res[same[at - 1]].session) > pl_session_id(res[i].session)) {
            same[at] = same[at - 1];
            at--;
        }
        same[at] = i;
    }
    /* The new session counts as one; the older ones may fill limit - 1. */
    long long excess = (long long)nsame + 1 - limit;
    for (size_t k = 0; k < nsame && excess > 0; k++, excess--) {
        const pl_resource_t *old = &res[same[k]];
        char text[256];
        snprintf(text, sizeof(text), "replaced by a newer %s client (resource %.180s)",
                 kind_names[kind], me->resource);
        pl_module_log(hc->module, PL_LOG_INFO, "replaced", "jid=%s kind=%s old=%s new=%s", me->bare,
                      kind_names[kind], old->jid->full, me->full);
        pl_session_kick(old->session, "conflict", text);
    }
    pl_resources_release(res, n);
    return PL_PASS;
}

// clang-format off
static const pl_conf_def_t conf[] = {
    {.key = "desktop", .type = PL_CONF_INT, .offset = offsetof(policy_conf_t, limit[KIND_DESKTOP]),
     .def = "1", .min = 0, .max = 64,
     .help = "desktop sessions per account (resource desktop-…); 0 = unlimited"},
    {.key = "mobile", .type = PL_CONF_INT, .offset = offsetof(policy_conf_t, limit[KIND_MOBILE]),
     .def = "1", .min = 0, .max = 64,
     .help = "mobile sessions per account (resource mobile-…); 0 = unlimited"},
    {.key = "web", .type = PL_CONF_INT, .offset = offsetof(policy_conf_t, limit[KIND_WEB]),
     .def = "0", .min = 0, .max = 64,
     .help = "web sessions per account (resource web-…); 0 = unlimited"},
    {.key = "other", .type = PL_CONF_INT, .offset = offsetof(policy_conf_t, limit[KIND_OTHER]),
     .def = "0", .min = 0, .max = 64,
     .help = "sessions of any other resource per account; 0 = unlimited"},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_SESSION_BOUND, .priority = PL_PRIO_FILTER, .handler = policy_bound},
    {0},
};
// clang-format on

const pl_module_desc_t pl_mod_client_policy = {
    .name = "client_policy",
    .abi = PL_MODULE_ABI,
    .description =
        "Sessions per client kind and account (MC-1): a newer client replaces the oldest",
    .conf = conf,
    .conf_size = sizeof(policy_conf_t),
    .hooks = hooks,
};
