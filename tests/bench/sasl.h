/* sasl.h — the client side of SASL PLAIN and SCRAM-SHA-1/-256 (RFC 5802,
 * RFC 7677) for the load generator: message building and checking only, no
 * I/O.  Every returned message is base64, ready for an XMPP <auth/> or
 * <response/> element. */
#ifndef BENCH_SASL_H
#define BENCH_SASL_H

#include <stddef.h>
#include <stdint.h>

typedef enum bench_mech {
    BENCH_MECH_SCRAM_SHA_256,
    BENCH_MECH_SCRAM_SHA_1,
    BENCH_MECH_PLAIN,
} bench_mech_t;

/* The IANA name ("SCRAM-SHA-256", ...). */
const char *bench_mech_name(bench_mech_t m);
/* 0 and the mechanism for a name (case-insensitive), -1 when unknown. */
int bench_mech_parse(const char *name, bench_mech_t *out);

/* What SCRAM lets a client keep instead of the password: the keys derived
 * from one salt and iteration count.  A real client caches them, and so does
 * the generator, so that thousands of logins a second do not cost it
 * thousands of PBKDF2 runs.  Owned by the caller, one per account. */
typedef struct bench_scram_keys {
    uint32_t iterations;
    uint8_t salt_len;
    unsigned char salt[64];
    unsigned char client_key[64], server_key[64];
} bench_scram_keys_t;

typedef struct bench_scram bench_scram_t;

/* base64 of "\0user\0password", heap string; NULL when too long. */
char *bench_plain_message(const char *user, const char *password);

/* Starts an exchange for `user` (a localpart, escaped here as SCRAM asks).
 * Returns a new state; *first is the client-first message (heap). */
bench_scram_t *bench_scram_new(bench_mech_t mech, const char *user, char **first);
void bench_scram_free(bench_scram_t *s);
/* Answers the server-first message (base64 `challenge`).  `cache` may be
 * NULL; when given, its keys are used if salt and iterations match, and are
 * replaced otherwise.  Returns the client-final message (heap), or NULL with
 * a reason in *why. */
char *bench_scram_final(bench_scram_t *s, const char *password, const char *challenge,
                        bench_scram_keys_t *cache, const char **why);
/* 1 when the server-final message (base64, from <success/> or a last
 * <challenge/>) carries the signature the server should have made. */
int bench_scram_verify(const bench_scram_t *s, const char *server_final);

#endif
