/* xep/caps.h — XEP-0115 entity capabilities (version 1.6): the verification
 * string of a disco#info answer, its hash, and the <c/> a client puts in its
 * presence.  Pure functions: the pep module's caps cache and the unit tests
 * use them. */
#ifndef PL_XEP_CAPS_H
#define PL_XEP_CAPS_H

#include <stddef.h>

#include "lib/buf.h"
#include "xmpp/stanza.h"

/* Bounds on one disco#info answer: beyond them it is not worth verifying
 * (and the caller treats it as unverifiable). */
enum {
    PL_CAPS_MAX_IDENTITIES = 64,
    PL_CAPS_MAX_FEATURES = 1024,
    PL_CAPS_MAX_FORMS = 16,
    PL_CAPS_MAX_FIELDS = 64,   /* per form */
    PL_CAPS_MAX_VALUES = 64,   /* per field */
    PL_CAPS_MAX_HASH_B64 = 96, /* base64 of a SHA-512 digest, with room */
};

/* Appends the verification string S of a disco#info <query/> (§5.1):
 * identities sorted by category/type/xml:lang/name, each "c/t/l/n<";
 * features sorted, each "var<"; then the extended forms (XEP-0128) sorted by
 * FORM_TYPE, each "FORM_TYPE<" then its fields sorted by var, each "var<"
 * followed by its sorted values "v<".  Sorting is by octets (i;octet).  No
 * escaping is applied: the strings are the parsed character data, as the
 * XEP's examples hash them.
 *
 * Returns 0, or -1 when the answer is ill-formed by the rules of §5.4
 * (duplicate identity or feature, two forms with one FORM_TYPE, a FORM_TYPE
 * that is not hidden or has several values, a feature or field without var,
 * a string containing '<' — which would let two different answers share one
 * S — or more than the bounds above).  Forms without FORM_TYPE are ignored
 * as §5.4 says.  `out` is left with whatever was appended on failure. */
int pl_caps_ver_string(const pl_xml_t *query, pl_buf_t *out);

/* base64 of the digest of data with the named hash function (IANA names as
 * used in the 'hash' attribute: "sha-1", "sha-224", "sha-256", "sha-384",
 * "sha-512").  Writes a NUL-terminated string into out; returns its length,
 * or -1 for an unknown hash name or a too small buffer. */
int pl_caps_hash(const char *hash_name, const void *data, size_t len, char *out, size_t outlen);

/* 1 when the disco#info <query/> hashes to `ver` with `hash_name`, 0 when it
 * does not, -1 when it is ill-formed or the hash name is unknown. */
int pl_caps_verify(const pl_xml_t *query, const char *hash_name, const char *ver);

/* The <c xmlns='http://jabber.org/protocol/caps'/> of a presence stanza.
 * Strings borrow from the stanza.  `hash` is NULL for the legacy format
 * (pre-1.4, no hash attribute). */
typedef struct pl_caps_ref {
    const char *node, *ver, *hash;
} pl_caps_ref_t;

/* 1 found (node and ver present and non-empty), 0 none. */
int pl_caps_from_presence(const pl_xml_t *presence, pl_caps_ref_t *out);

#endif
