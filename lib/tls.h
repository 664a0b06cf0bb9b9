/* tls.h — TLS on OpenSSL memory BIOs.  The socket layer feeds ciphertext in
 * and takes ciphertext out; OpenSSL never touches a file descriptor, so the
 * same code serves STARTTLS and direct TLS on any event loop. */
#ifndef PL_TLS_H
#define PL_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

typedef struct pl_tls_ctx pl_tls_ctx_t; /* shared, refcounted SSL_CTX */
typedef struct pl_tls pl_tls_t;         /* one connection */

/* Loads a certificate chain and key (PEM).  TLS 1.2+ only, released buffers,
 * session tickets.  `alpn`: the one ALPN protocol accepted ("xmpp-client"
 * for XEP-0368, "http/1.1" for HTTPS), or NULL for no ALPN.  NULL + *error
 * on failure. */
pl_tls_ctx_t *pl_tls_ctx_new(const char *cert_file, const char *key_file, const char *ciphers,
                             const char *alpn, char **error);

/* Channel-binding types (RFC 5929, RFC 9266) for SCRAM -PLUS and FAST. */
typedef enum pl_cb_type {
    PL_CB_NONE = 0,
    PL_CB_TLS_EXPORTER,
    PL_CB_TLS_SERVER_END_POINT,
    PL_CB_TLS_UNIQUE,
} pl_cb_type_t;
pl_tls_ctx_t *pl_tls_ctx_ref(pl_tls_ctx_t *c);
void pl_tls_ctx_unref(pl_tls_ctx_t **cp);

/* Writes a new self-signed ECDSA P-256 certificate for `hosts` (the first is
 * the subject CN; all go into subjectAltName) valid for `days`.  Key file is
 * written 0600.  Returns 0 or -1 with *error. */
int pl_tls_generate_selfsigned(const char *cert_file, const char *key_file,
                               const char *const *hosts, size_t nhosts, int days, char **error);

pl_tls_t *pl_tls_new(pl_tls_ctx_t *ctx);
/* Frees the connection state and clears *tp; NULL is allowed. */
void pl_tls_free(pl_tls_t **tp);

/* Feeds ciphertext from the network.  Decrypted bytes are appended to
 * `plain`; ciphertext to send (handshake, alerts) is appended to `out`.
 * Returns 0, or -1 on a TLS error (message in *error, static string). */
int pl_tls_feed(pl_tls_t *t, const char *data, size_t len, pl_buf_t *plain, pl_buf_t *out,
                const char **error);
/* Encrypts application data into `out`.  Returns 0 or -1. */
int pl_tls_write(pl_tls_t *t, const char *data, size_t len, pl_buf_t *out);
/* Appends a close_notify alert to `out`. */
void pl_tls_shutdown(pl_tls_t *t, pl_buf_t *out);
int pl_tls_established(const pl_tls_t *t);
/* Releases the buffers an idle established connection does not need;
 * returns 1 if it did. */
int pl_tls_sleep(pl_tls_t *t);
/* "TLSv1.3" etc. and the cipher name, once established. */
const char *pl_tls_version(const pl_tls_t *t);
const char *pl_tls_cipher(const pl_tls_t *t);

/* Channel-binding data for SCRAM-*-PLUS (RFC 9266 tls-exporter, RFC 5929
 * tls-server-end-point).  Returns the length written, or 0 when the type is
 * not available on this connection (tls-exporter needs TLS 1.3 here). */
size_t pl_tls_channel_binding(pl_tls_t *t, pl_cb_type_t cb_type, uint8_t *out, size_t cap);

#endif
