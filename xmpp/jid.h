/* jid.h — JIDs per RFC 7622: parsing, normalisation, comparison.
 *
 * Normalisation: the localpart is case-folded (UsernameCaseMapped: Unicode
 * lower case, NFC assumed of the input) and must not contain the characters
 * " & ' / : < > @ or whitespace/control characters; the domainpart is
 * lower-cased, a trailing dot is removed, and it must be a valid hostname or
 * IP literal; the resourcepart is kept as given (OpaqueString) but must be
 * valid UTF-8 without control characters.  Each part is 1..1023 bytes.
 * The case mapping is self-contained and covers Latin (Basic, Latin-1,
 * Extended-A, Extended Additional), Greek, Cyrillic, Armenian and fullwidth
 * ASCII; other scripts pass through unchanged (see jid.c). */
#ifndef PL_JID_H
#define PL_JID_H

#include <stddef.h>

#define PL_JID_PART_MAX 1023

/* A parsed JID in caller storage.  All strings are normalised, NUL-terminated
 * and owned by the struct (pl_jid_deinit frees them).  local/resource are
 * NULL when absent.  bare = "local@domain" or "domain"; full = bare plus
 * "/resource" when there is one. */
typedef struct pl_jid {
    char *local;
    char *domain;
    char *resource;
    char *bare;
    char *full;
} pl_jid_t;

/* Parses and normalises `s` into `out` (which need not be initialised).
 * Returns 0, or -1 when the JID is malformed (stanza error jid-malformed);
 * on failure `out` is left zeroed. */
int pl_jid_parse(pl_jid_t *out, const char *s);
/* Builds from parts (local/resource may be NULL); same checks as parse. */
int pl_jid_from_parts(pl_jid_t *out, const char *local, const char *domain, const char *resource);
void pl_jid_deinit(pl_jid_t *j);
int pl_jid_dup(pl_jid_t *out, const pl_jid_t *in);

/* Normalises one part into a new heap string (caller frees), or NULL if
 * invalid. */
char *pl_jid_norm_local(const char *s, size_t len);
char *pl_jid_norm_domain(const char *s, size_t len);
char *pl_jid_norm_resource(const char *s, size_t len);

/* 1 when both are equal after normalisation. */
int pl_jid_equal(const pl_jid_t *a, const pl_jid_t *b);
int pl_jid_bare_equal(const pl_jid_t *a, const pl_jid_t *b);

#endif
