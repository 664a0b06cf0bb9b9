/* tls.c — OpenSSL behind memory BIOs: context loading, per-connection
 * handshake and record processing, channel binding, and generation of the
 * demo's self-signed certificate. */
#include "lib/tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/util.h"

struct pl_tls_ctx {
    SSL_CTX *ssl;
    atomic_int refs;
    char alpn[64]; /* the one ALPN protocol accepted, "" = none asked for */
    /* tls-server-end-point data: the hash of our certificate (RFC 5929 §4.1). */
    uint8_t endpoint[EVP_MAX_MD_SIZE];
    unsigned endpoint_len;
};

struct pl_tls {
    pl_tls_ctx_t *ctx;
    SSL *ssl;
    BIO *in;  /* network -> OpenSSL */
    BIO *out; /* OpenSSL -> network */
};

static char *ssl_error_string(const char *what, const char *path)
{
    char buf[512];
    unsigned long e = ERR_get_error();
    char reason[256] = "unknown error";
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(buf, sizeof(buf), "%s %s: %s", what, path ? path : "", reason);
    return pl_xstrdup(buf);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    /* The context's protocol (XEP-0368: "xmpp-client"); a client offering
     * only other protocols is refused, one offering none never gets here. */
    const pl_tls_ctx_t *c = arg;
    size_t want = strlen(c->alpn);
    for (unsigned i = 0; i < inlen;) {
        unsigned len = in[i];
        if (i + 1 + len > inlen)
            break;
        if (len == want && memcmp(in + i + 1, c->alpn, want) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)len;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + len;
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static void compute_endpoint_hash(pl_tls_ctx_t *c)
{
    X509 *cert = SSL_CTX_get0_certificate(c->ssl);
    if (!cert)
        return;
    int md_nid = NID_sha256, pk_nid;
    if (!OBJ_find_sigid_algs(X509_get_signature_nid(cert), &md_nid, &pk_nid))
        md_nid = NID_sha256;
    /* RFC 5929: MD5 and SHA-1 are replaced by SHA-256. */
    if (md_nid == NID_md5 || md_nid == NID_sha1 || md_nid == NID_undef)
        md_nid = NID_sha256;
    const EVP_MD *md = EVP_get_digestbynid(md_nid);
    if (!md)
        md = EVP_sha256();
    X509_digest(cert, md, c->endpoint, &c->endpoint_len);
}

pl_tls_ctx_t *pl_tls_ctx_new(const char *cert_file, const char *key_file, const char *ciphers,
                             const char *alpn, char **error)
{
    if (alpn && strlen(alpn) >= sizeof(((pl_tls_ctx_t *)0)->alpn)) {
        *error = pl_xstrdup("ALPN protocol name too long");
        return NULL;
    }
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (!ssl) {
        *error = ssl_error_string("cannot create TLS context", "");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Stateless tickets let a reconnecting client resume without a full
     * handshake and cost the server no per-session cache memory. */
    SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ssl, 1);
    if (ciphers && *ciphers && SSL_CTX_set_cipher_list(ssl, ciphers) != 1) {
        *error = ssl_error_string("invalid tls.ciphers", ciphers);
        SSL_CTX_free(ssl);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ssl, cert_file) != 1) {
        *error = ssl_error_string("cannot load certificate", cert_file);
        SSL_CTX_free(ssl);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ssl, key_file, SSL_FILETYPE_PEM) != 1) {
        *error = ssl_error_string("cannot load private key", key_file);
        SSL_CTX_free(ssl);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ssl) != 1) {
        *error = ssl_error_string("private key does not match certificate", key_file);
        SSL_CTX_free(ssl);
        return NULL;
    }
    pl_tls_ctx_t *c = pl_xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    if (alpn && *alpn) {
        snprintf(c->alpn, sizeof(c->alpn), "%s", alpn);
        SSL_CTX_set_alpn_select_cb(ssl, alpn_select, c);
    }
    atomic_init(&c->refs, 1);
    compute_endpoint_hash(c);
    return c;
}

pl_tls_ctx_t *pl_tls_ctx_ref(pl_tls_ctx_t *c)
{
    atomic_fetch_add(&c->refs, 1);
    return c;
}

void pl_tls_ctx_unref(pl_tls_ctx_t **cp)
{
    pl_tls_ctx_t *c = *cp;
    *cp = NULL;
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    SSL_CTX_free(c->ssl);
    free(c);
}

static void new_bios(pl_tls_t *t)
{
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->in || !t->out)
        pl_die("out of memory creating TLS buffers");
    BIO_set_mem_eof_return(t->in, -1);
    BIO_set_mem_eof_return(t->out, -1);
    SSL_set_bio(t->ssl, t->in, t->out); /* frees the previous pair */
}

pl_tls_t *pl_tls_new(pl_tls_ctx_t *ctx)
{
    pl_tls_t *t = pl_xcalloc(1, sizeof(*t));
    t->ctx = pl_tls_ctx_ref(ctx);
    t->ssl = SSL_new(ctx->ssl);
    if (!t->ssl)
        pl_die("SSL_new failed");
    new_bios(t);
    SSL_set_accept_state(t->ssl);
    return t;
}

int pl_tls_sleep(pl_tls_t *t)
{
    /* A memory BIO keeps its largest buffer for good; swapping in an empty
     * pair gives that back.  Only once the handshake is over and nothing is
     * waiting in either direction, so no byte is lost. */
    if (!SSL_is_init_finished(t->ssl) || BIO_ctrl_pending(t->in) || BIO_ctrl_pending(t->out) ||
        SSL_pending(t->ssl))
        return 0;
    new_bios(t);
    return 1;
}

void pl_tls_free(pl_tls_t **tp)
{
    pl_tls_t *t = tp ? *tp : NULL;
    if (!t)
        return;
    *tp = NULL;
    SSL_free(t->ssl); /* frees both BIOs */
    pl_tls_ctx_unref(&t->ctx);
    free(t);
}

static void drain_out(pl_tls_t *t, pl_buf_t *out)
{
    char *p;
    long n = BIO_get_mem_data(t->out, &p);
    if (n > 0) {
        pl_buf_append(out, p, (size_t)n);
        (void)BIO_reset(t->out);
    }
}

int pl_tls_feed(pl_tls_t *t, const char *data, size_t len, pl_buf_t *plain, pl_buf_t *out,
                const char **error)
{
    if (len && BIO_write(t->in, data, (int)len) != (int)len) {
        *error = "BIO_write failed";
        return -1;
    }
    for (;;) {
        pl_buf_reserve(plain, 16384);
        int n = SSL_read(t->ssl, plain->data + plain->len, 16384);
        if (n > 0) {
            plain->len += (size_t)n;
            continue;
        }
        int err = SSL_get_error(t->ssl, n);
        drain_out(t, out);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
            break;
        if (err == SSL_ERROR_ZERO_RETURN) {
            *error = "peer closed TLS";
            return -1;
        }
        unsigned long e = ERR_peek_last_error();
        *error = e ? ERR_reason_error_string(e) : "TLS error";
        if (!*error)
            *error = "TLS error";
        ERR_clear_error();
        return -1;
    }
    drain_out(t, out);
    return 0;
}

int pl_tls_write(pl_tls_t *t, const char *data, size_t len, pl_buf_t *out)
{
    while (len > 0) {
        int n = SSL_write(t->ssl, data, len > 65536 ? 65536 : (int)len);
        if (n <= 0) {
            ERR_clear_error();
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    drain_out(t, out);
    return 0;
}

void pl_tls_shutdown(pl_tls_t *t, pl_buf_t *out)
{
    if (SSL_is_init_finished(t->ssl))
        (void)SSL_shutdown(t->ssl);
    ERR_clear_error();
    drain_out(t, out);
}

int pl_tls_established(const pl_tls_t *t) { return SSL_is_init_finished(t->ssl); }

const char *pl_tls_version(const pl_tls_t *t) { return SSL_get_version(t->ssl); }

const char *pl_tls_cipher(const pl_tls_t *t) { return SSL_get_cipher_name(t->ssl); }

size_t pl_tls_channel_binding(pl_tls_t *t, pl_cb_type_t cb_type, uint8_t *out, size_t cap)
{
    if (!SSL_is_init_finished(t->ssl))
        return 0;
    if (cb_type == PL_CB_TLS_EXPORTER) {
        /* RFC 9266: only sound on TLS 1.3 (or 1.2 with extended master
         * secret, which we do not rely on). */
        if (SSL_version(t->ssl) < TLS1_3_VERSION || cap < 32)
            return 0;
        static const char label[] = "EXPORTER-Channel-Binding";
        if (SSL_export_keying_material(t->ssl, out, 32, label, sizeof(label) - 1, NULL, 0, 0) != 1)
            return 0;
        return 32;
    }
    if (cb_type == PL_CB_TLS_UNIQUE) {
        /* RFC 5929: the first Finished message of the handshake, which is
         * the client's unless the session was resumed.  RFC 9266 leaves it
         * undefined on TLS 1.3, but common clients (Python's ssl, hence
         * slixmpp) still use it there with this same definition; we accept
         * it for interoperability and prefer tls-exporter when offered. */
        size_t n = SSL_session_reused(t->ssl) ? SSL_get_finished(t->ssl, out, cap)
                                              : SSL_get_peer_finished(t->ssl, out, cap);
        return n <= cap ? n : 0;
    }
    if (cb_type == PL_CB_TLS_SERVER_END_POINT) {
        if (t->ctx->endpoint_len == 0 || cap < t->ctx->endpoint_len)
            return 0;
        memcpy(out, t->ctx->endpoint, t->ctx->endpoint_len);
        return t->ctx->endpoint_len;
    }
    return 0;
}

static int write_pem_file(const char *path, int mode, int is_key, EVP_PKEY *key, X509 *cert)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return -1;
    }
    int ok = is_key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                    : PEM_write_X509(f, cert);
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int pl_tls_generate_selfsigned(const char *cert_file, const char *key_file,
                               const char *const *hosts, size_t nhosts, int days, char **error)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = X509_new();
    int rc = -1;
    if (!key || !cert || nhosts == 0)
        goto done;
    X509_set_version(cert, 2);
    uint8_t serial[16];
    pl_random_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Parley", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hosts[0], -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    pl_buf_t san;
    pl_buf_init(&san);
    for (size_t i = 0; i < nhosts; i++)
        pl_buf_printf(&san, "%sDNS:%s,DNS:*.%s", i ? "," : "", hosts[i], hosts[i]);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext =
        X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, pl_buf_cstr(&san));
    pl_buf_deinit(&san);
    if (!ext)
        goto done;
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (!X509_sign(cert, key, EVP_sha256()))
        goto done;
    if (write_pem_file(key_file, 0600, 1, key, NULL) != 0 ||
        write_pem_file(cert_file, 0644, 0, NULL, cert) != 0) {
        char buf[512];
        snprintf(buf, sizeof(buf), "cannot write %s / %s", cert_file, key_file);
        *error = pl_xstrdup(buf);
        rc = -2;
        goto done;
    }
    rc = 0;
done:
    if (rc == -1)
        *error = ssl_error_string("cannot generate certificate", cert_file);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc < 0 ? -1 : 0;
}
