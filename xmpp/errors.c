/* errors.c — RFC 6120 §8.3 stanza errors: condition names, their default
 * error types, and the reply builder used by the core and modules. */
#include <string.h>

#include "xmpp/errors.h"
#include "xmpp/ns.h"

typedef struct err_info {
    const char *name, *type;
} err_info_t;

static const err_info_t errors[] = {
    [PL_ERR_BAD_REQUEST] = {"bad-request", "modify"},
    [PL_ERR_CONFLICT] = {"conflict", "cancel"},
    [PL_ERR_FEATURE_NOT_IMPLEMENTED] = {"feature-not-implemented", "cancel"},
    [PL_ERR_FORBIDDEN] = {"forbidden", "auth"},
    [PL_ERR_GONE] = {"gone", "cancel"},
    [PL_ERR_INTERNAL_SERVER_ERROR] = {"internal-server-error", "cancel"},
    [PL_ERR_ITEM_NOT_FOUND] = {"item-not-found", "cancel"},
    [PL_ERR_JID_MALFORMED] = {"jid-malformed", "modify"},
    [PL_ERR_NOT_ACCEPTABLE] = {"not-acceptable", "modify"},
    [PL_ERR_NOT_ALLOWED] = {"not-allowed", "cancel"},
    [PL_ERR_NOT_AUTHORIZED] = {"not-authorized", "auth"},
    [PL_ERR_POLICY_VIOLATION] = {"policy-violation", "modify"},
    [PL_ERR_RECIPIENT_UNAVAILABLE] = {"recipient-unavailable", "wait"},
    [PL_ERR_REDIRECT] = {"redirect", "modify"},
    [PL_ERR_REGISTRATION_REQUIRED] = {"registration-required", "auth"},
    [PL_ERR_REMOTE_SERVER_NOT_FOUND] = {"remote-server-not-found", "cancel"},
    [PL_ERR_REMOTE_SERVER_TIMEOUT] = {"remote-server-timeout", "wait"},
    [PL_ERR_RESOURCE_CONSTRAINT] = {"resource-constraint", "wait"},
    [PL_ERR_SERVICE_UNAVAILABLE] = {"service-unavailable", "cancel"},
    [PL_ERR_SUBSCRIPTION_REQUIRED] = {"subscription-required", "auth"},
    [PL_ERR_UNDEFINED_CONDITION] = {"undefined-condition", "cancel"},
    [PL_ERR_UNEXPECTED_REQUEST] = {"unexpected-request", "wait"},
};

static const err_info_t *info(pl_stanza_err_t cond)
{
    if (cond <= 0 || (size_t)cond >= sizeof(errors) / sizeof(errors[0]) || !errors[cond].name)
        cond = PL_ERR_UNDEFINED_CONDITION;
    return &errors[cond];
}

const char *pl_stanza_err_name(pl_stanza_err_t cond)
{
    return info(cond)->name;
}
const char *pl_stanza_err_type(pl_stanza_err_t cond)
{
    return info(cond)->type;
}

pl_stanza_t *pl_stanza_error(const pl_stanza_t *orig, pl_stanza_err_t cond, const char *text)
{
    const err_info_t *e = info(cond);
    pl_builder_t *b = pl_build_new(pl_stanza_name(orig), PL_NS_CLIENT);
    const char *from = pl_stanza_attr(orig, "from"), *to = pl_stanza_attr(orig, "to");
    const char *id = pl_stanza_attr(orig, "id");
    pl_build_attr(b, "type", "error");
    if (id)
        pl_build_attr(b, "id", id);
    if (to)
        pl_build_attr(b, "from", to);
    if (from)
        pl_build_attr(b, "to", from);
    pl_build_child(b, "error", PL_NS_CLIENT);
    pl_build_attr(b, "type", e->type);
    pl_build_child(b, e->name, PL_NS_STANZA_ERRORS);
    pl_build_up(b);
    if (text && *text) {
        pl_build_child(b, "text", PL_NS_STANZA_ERRORS);
        pl_build_attr(b, "xml:lang", "en");
        pl_build_text(b, text, strlen(text));
        pl_build_up(b);
    }
    pl_build_up(b);
    return pl_build_finish(b);
}
