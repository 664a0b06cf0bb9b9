/* scram.h — SASL SCRAM (RFC 5802, RFC 7677) server side, key derivation and
 * PLAIN message parsing.  Pure computation: no I/O, no global state, so the
 * unit tests can run it against the RFC test vectors. */
#ifndef PL_SCRAM_H
#define PL_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/tls.h" /* pl_cb_type_t: which channel binding a -PLUS client asked for */

#define PL_SCRAM_MAX_HASH 32 /* SHA-256 digest size */
#define PL_SCRAM_SALT_LEN 16

typedef enum pl_scram_hash { PL_SCRAM_SHA1 = 0, PL_SCRAM_SHA256 = 1 } pl_scram_hash_t;

size_t pl_scram_hash_len(pl_scram_hash_t h);

/* What is stored per account and hash: never the password. */
typedef struct pl_scram_keys {
    uint8_t salt[PL_SCRAM_SALT_LEN];
    size_t salt_len;
    uint32_t iterations;
    uint8_t stored_key[PL_SCRAM_MAX_HASH];
    uint8_t server_key[PL_SCRAM_MAX_HASH];
} pl_scram_keys_t;

/* SASLprep (RFC 4013) as profiled by OpaqueString: maps non-ASCII spaces to
 * U+0020, removes "commonly mapped to nothing" characters, rejects control
 * characters and invalid UTF-8.  Returns a new heap string or NULL. */
char *pl_saslprep(const char *s);

/* Derives salted keys from a password (SASLprep applied inside).  `salt` may
 * be NULL to draw a random one.  Returns 0 or -1. */
int pl_scram_derive(pl_scram_hash_t h, const char *password, const uint8_t *salt, size_t salt_len,
                    uint32_t iterations, pl_scram_keys_t *out);

/* One SCRAM exchange.  Usage:
 *   pl_scram_server_init(&s, hash, plus, cb_offered)
 *   pl_scram_server_client_first(&s, msg, len)      -> username known: look up keys
 *   pl_scram_server_first(&s, keys, out)             -> challenge to send
 *   pl_scram_server_client_final(&s, msg, len, cb_data, cb_len, out)
 *                                                    -> 0 and server-final in out
 *   pl_scram_server_deinit(&s)
 * Errors return a negative pl_scram_err_t; `s.error` then holds the SASL
 * failure condition to send (e.g. "not-authorized", "malformed-request"). */
typedef enum pl_scram_err {
    PL_SCRAM_OK = 0,
    PL_SCRAM_MALFORMED = -1,     /* malformed-request */
    PL_SCRAM_NOT_AUTHORIZED = -2, /* bad proof, unknown user */
    PL_SCRAM_CB_MISMATCH = -3,   /* channel binding wrong, or downgrade detected */
    PL_SCRAM_INVALID_AUTHZID = -4,
} pl_scram_err_t;

typedef struct pl_scram_server {
    pl_scram_hash_t hash;
    int plus;                 /* mechanism is -PLUS */
    int server_supports_plus; /* we advertised -PLUS on this connection (for the
                                 'y' flag check: 'y' then means a downgrade) */
    pl_cb_type_t cb_type;     /* requested by the client (from the gs2 header) */
    char *username;           /* as sent, after =2C/=3D decoding and SASLprep */
    char *authzid;            /* NULL if none */
    char *client_first_bare;
    char *gs2_header;
    char *nonce;              /* client nonce + server nonce */
    char *server_first;
    pl_scram_keys_t keys;
    const char *error;
} pl_scram_server_t;

void pl_scram_server_init(pl_scram_server_t *s, pl_scram_hash_t h, int plus, int server_supports_plus);
void pl_scram_server_deinit(pl_scram_server_t *s);
int pl_scram_server_client_first(pl_scram_server_t *s, const char *msg, size_t len);
/* `keys` are the account's, or for a name without an account those of
 * pl_scram_unknown_keys, so the reply does not reveal whether the account
 * exists; the final step then fails with not-authorized as for a wrong
 * password.  Keys that are not usable (NULL included) are refused with
 * not-authorized.  Out is a NUL-terminated heap string. */
int pl_scram_server_first(pl_scram_server_t *s, const pl_scram_keys_t *keys, char **out);
/* 1 when the keys can run an exchange (a salt, a sane iteration count). */
int pl_scram_keys_usable(const pl_scram_keys_t *k);
/* Keys for a name that has no account, shaped like a real account's: a
 * salt of PL_SCRAM_SALT_LEN bytes taken from HMAC-SHA-256 under `secret`
 * of the hash's name and `name` (stable per name and hash, like a stored
 * salt, but nobody without the secret can compute it), the iteration count
 * new accounts get, and all-zero keys, which no proof matches and which
 * PLAIN verification still hashes the password against. */
void pl_scram_unknown_keys(pl_scram_hash_t h, const uint8_t *secret, size_t secret_len,
                           const char *name, uint32_t iterations, pl_scram_keys_t *out);
int pl_scram_server_client_final(pl_scram_server_t *s, const char *msg, size_t len,
                                 const uint8_t *cb_data, size_t cb_len, char **out);
/* Test hook: fixes the server nonce part instead of drawing a random one.
 * Call it before or after client_first, but before server_first; a nonce
 * that is not printable ASCII without ',' aborts. */
void pl_scram_server_set_nonce(pl_scram_server_t *s, const char *server_nonce);

/* PLAIN (RFC 4616): splits "authzid\0authcid\0passwd".  Pointers go into a
 * heap copy returned in *copy (caller frees).  Returns 0 or -1.  *authzid is
 * NULL when empty; authcid and passwd must be non-empty; each field is at
 * most 1023 bytes and no further NUL is allowed.  On failure *copy is NULL. */
int pl_sasl_plain_parse(const char *msg, size_t len, char **copy, const char **authzid,
                        const char **authcid, const char **passwd);
/* Verifies a password against stored keys in constant time: 1 match, 0 no. */
int pl_scram_verify_password(pl_scram_hash_t h, const pl_scram_keys_t *keys, const char *password);

#endif
