/* errors.h — RFC 6120 §8.3 stanza errors: the conditions, their default
 * types, and the error reply to a stanza.  Every call that takes a stanza
 * error takes this enum. */
#ifndef PL_ERRORS_H
#define PL_ERRORS_H

#include "xmpp/stanza.h"

/* Stanza error conditions (RFC 6120 §8.3.3). */
typedef enum pl_stanza_err {
    PL_ERR_NONE = 0, /* no error (pl_reply_later: an empty result) */
    PL_ERR_BAD_REQUEST = 1,
    PL_ERR_CONFLICT,
    PL_ERR_FEATURE_NOT_IMPLEMENTED,
    PL_ERR_FORBIDDEN,
    PL_ERR_GONE,
    PL_ERR_INTERNAL_SERVER_ERROR,
    PL_ERR_ITEM_NOT_FOUND,
    PL_ERR_JID_MALFORMED,
    PL_ERR_NOT_ACCEPTABLE,
    PL_ERR_NOT_ALLOWED,
    PL_ERR_NOT_AUTHORIZED,
    PL_ERR_POLICY_VIOLATION,
    PL_ERR_RECIPIENT_UNAVAILABLE,
    PL_ERR_REDIRECT,
    PL_ERR_REGISTRATION_REQUIRED,
    PL_ERR_REMOTE_SERVER_NOT_FOUND,
    PL_ERR_REMOTE_SERVER_TIMEOUT,
    PL_ERR_RESOURCE_CONSTRAINT,
    PL_ERR_SERVICE_UNAVAILABLE,
    PL_ERR_SUBSCRIPTION_REQUIRED,
    PL_ERR_UNDEFINED_CONDITION,
    PL_ERR_UNEXPECTED_REQUEST,
} pl_stanza_err_t;

/* Builds an error reply to `orig` (addresses swapped, same id) with the
 * condition and an optional text; returns a new reference. */
pl_stanza_t *pl_stanza_error(const pl_stanza_t *orig, pl_stanza_err_t cond, const char *text);
/* The condition's element name and its default error type ("cancel", ...);
 * an unknown value counts as undefined-condition. */
const char *pl_stanza_err_name(pl_stanza_err_t cond);
const char *pl_stanza_err_type(pl_stanza_err_t cond);

#endif
