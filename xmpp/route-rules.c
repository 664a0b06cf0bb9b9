/* route-rules.c — which of an account's sessions get a stanza (RFC 6121
 * §8.5): full JIDs go to that resource, messages to a bare JID go to every
 * available resource with non-negative priority (so all of a user's clients
 * see them, MC-2), presence to every available resource, IQs to a bare JID
 * are answered by the server. */
#include "xmpp/route-rules.h"

#include <string.h>

static int type_is(const char *type, const char *want)
{
    if (!type || !*type)
        return strcmp(want, "") == 0;
    return strcmp(type, want) == 0;
}

pl_stanza_kind_t pl_stanza_kind_of(const char *name)
{
    if (strcmp(name, "message") == 0)
        return PL_KIND_MESSAGE;
    if (strcmp(name, "presence") == 0)
        return PL_KIND_PRESENCE;
    if (strcmp(name, "iq") == 0)
        return PL_KIND_IQ;
    return 0;
}

static size_t select_available(const pl_route_candidate_t *c, size_t n, unsigned char *selected,
                               int nonnegative_only)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        selected[i] = c[i].available && (!nonnegative_only || c[i].priority >= 0);
        count += selected[i];
    }
    return count;
}

static pl_route_action_t message_rules(const char *type, const char *resource, int exists,
                                       const pl_route_candidate_t *c, size_t n,
                                       unsigned char *selected)
{
    int is_error = type_is(type, "error");
    if (!exists)
        return is_error || type_is(type, "headline") ? PL_ROUTE_DROP : PL_ROUTE_BOUNCE;
    if (resource) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(c[i].resource, resource) == 0) {
                memset(selected, 0, n);
                selected[i] = 1;
                return PL_ROUTE_DELIVER;
            }
        }
        /* §8.5.3.2.1: a chat to a resource that went away may go to the
         * account; other types are refused or dropped. */
        if (!type_is(type, "chat")) {
            if (is_error || type_is(type, "headline"))
                return PL_ROUTE_DROP;
            return PL_ROUTE_BOUNCE;
        }
    }
    if (is_error)
        return PL_ROUTE_DROP;
    if (type_is(type, "groupchat"))
        return PL_ROUTE_BOUNCE;
    if (select_available(c, n, selected, 1) > 0)
        return PL_ROUTE_DELIVER;
    if (type_is(type, "headline"))
        return PL_ROUTE_DROP;
    return PL_ROUTE_UNDELIVERED;
}

static pl_route_action_t presence_rules(const char *type, const char *resource, int exists,
                                        const pl_route_candidate_t *c, size_t n,
                                        unsigned char *selected)
{
    if (!exists)
        return PL_ROUTE_DROP;
    if (resource) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(c[i].resource, resource) == 0) {
                memset(selected, 0, n);
                selected[i] = 1;
                return PL_ROUTE_DELIVER;
            }
        }
        /* Subscription requests to a vanished resource go to the account. */
        if (!type || (strcmp(type, "subscribe") != 0 && strcmp(type, "subscribed") != 0 &&
                      strcmp(type, "unsubscribe") != 0 && strcmp(type, "unsubscribed") != 0))
            return PL_ROUTE_DROP;
    }
    if (select_available(c, n, selected, 0) > 0)
        return PL_ROUTE_DELIVER;
    return type && strcmp(type, "subscribe") == 0 ? PL_ROUTE_UNDELIVERED : PL_ROUTE_DROP;
}

static pl_route_action_t iq_rules(const char *type, const char *resource, int exists,
                                  const pl_route_candidate_t *c, size_t n, unsigned char *selected)
{
    int request = type_is(type, "get") || type_is(type, "set");
    if (!resource)
        return PL_ROUTE_SERVER;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c[i].resource, resource) == 0) {
            memset(selected, 0, n);
            selected[i] = 1;
            return PL_ROUTE_DELIVER;
        }
    }
    (void)exists;
    return request ? PL_ROUTE_BOUNCE : PL_ROUTE_DROP;
}

pl_route_action_t pl_route_rules(pl_stanza_kind_t kind, const char *type, const char *resource,
                                 int account_exists, const pl_route_candidate_t *c, size_t n,
                                 unsigned char *selected)
{
    switch (kind) {
    case PL_KIND_MESSAGE: return message_rules(type, resource, account_exists, c, n, selected);
    case PL_KIND_PRESENCE: return presence_rules(type, resource, account_exists, c, n, selected);
    case PL_KIND_IQ: return iq_rules(type, resource, account_exists, c, n, selected);
    }
    return PL_ROUTE_DROP;
}
