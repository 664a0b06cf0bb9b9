/* harness-raw.c — raw clients for what libstrophe cannot say: plain TCP,
 * then OpenSSL on the same socket (STARTTLS or direct TLS, any protocol
 * version), and a hand-written SASL client side (SCRAM with every channel
 * binding, PLAIN) that also verifies the server's signature. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "tests/integration/harness.h"

int h_raw_rcvbuf;

int h_raw_connect(h_raw_t *r, int port)
{
    return h_raw_connect_from(r, NULL, port);
}

int h_raw_connect_from(h_raw_t *r, const char *source, int port)
{
    memset(r, 0, sizeof(*r));
    r->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (r->fd >= 0 && h_raw_rcvbuf > 0) /* before connect, so the window is small from the start */
        setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &h_raw_rcvbuf, sizeof(h_raw_rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in from = {.sin_family = AF_INET};
    if (r->fd < 0 || (source && (inet_pton(AF_INET, source, &from.sin_addr) != 1 ||
                                 bind(r->fd, (struct sockaddr *)&from, sizeof(from)) != 0)))
        return 0;
    if (connect(r->fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        return 0;
    int one = 1;
    setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(r->fd, F_SETFL, fcntl(r->fd, F_GETFL) | O_NONBLOCK);
    return 1;
}

void h_raw_close(h_raw_t *r)
{
    if (r->ssl)
        SSL_free(r->ssl);
    if (r->ssl_ctx)
        SSL_CTX_free(r->ssl_ctx);
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

static void raw_reset(h_raw_t *r)
{
    r->len = r->seen = 0;
    if (r->buf)
        r->buf[0] = '\0';
}

static void wait_fd(int fd, short events, long long deadline)
{
    long long left = deadline - h_now_ms();
    struct pollfd p = {.fd = fd, .events = events};
    if (left > 0)
        poll(&p, 1, (int)left);
}

/* Reads what is there, waiting up to the deadline for the first byte:
 * 1 got data, 0 closed, -1 timed out. */
static int raw_fill(h_raw_t *r, long long deadline)
{
    for (;;) {
        char tmp[16384];
        ssize_t n;
        if (r->ssl) {
            int k = SSL_read(r->ssl, tmp, sizeof(tmp));
            n = k;
            if (k <= 0) {
                int e = SSL_get_error(r->ssl, k);
                n = e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -1 : 0;
                errno = EAGAIN;
            }
        } else {
            n = read(r->fd, tmp, sizeof(tmp));
        }
        if (n > 0) {
            if (r->len + (size_t)n + 1 > r->cap) {
                r->cap = (r->len + (size_t)n + 1) * 2;
                r->buf = realloc(r->buf, r->cap);
            }
            memcpy(r->buf + r->len, tmp, (size_t)n);
            r->len += (size_t)n;
            r->buf[r->len] = '\0';
            return 1;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            r->eof = 1;
            return 0;
        }
        if (h_now_ms() >= deadline)
            return -1;
        wait_fd(r->fd, POLLIN, deadline);
    }
}

int h_raw_send(h_raw_t *r, const char *data, size_t len)
{
    long long deadline = h_now_ms() + 10000;
    while (len > 0) {
        ssize_t n;
        if (r->ssl) {
            int k = SSL_write(r->ssl, data, (int)len);
            int e = k > 0 ? 0 : SSL_get_error(r->ssl, k);
            if (k <= 0 && e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
                return 0;
            n = k > 0 ? k : 0;
        } else {
            n = send(r->fd, data, len, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR)
                return 0;
            if (n < 0)
                n = 0;
        }
        data += n;
        len -= (size_t)n;
        if (len > 0) {
            if (h_now_ms() >= deadline)
                return 0;
            wait_fd(r->fd, POLLOUT, deadline);
        }
    }
    return 1;
}

int h_raw_sendf(h_raw_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    int ok = n >= 0 && h_raw_send(r, text, (size_t)n);
    free(text);
    return ok;
}

int h_raw_wait(h_raw_t *r, const char *needle, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        char *hit = r->len > r->seen
                        ? memmem(r->buf + r->seen, r->len - r->seen, needle, strlen(needle))
                        : NULL;
        if (hit) {
            r->seen = (size_t)(hit - r->buf) + strlen(needle);
            return 1;
        }
        if (r->eof || raw_fill(r, deadline) < 0)
            return 0;
    }
}

int h_raw_poll(h_raw_t *r)
{
    int got = 0;
    while (!r->eof && raw_fill(r, 0) > 0)
        got = 1;
    return got;
}

int h_raw_wait_eof(h_raw_t *r, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    while (!r->eof)
        if (raw_fill(r, deadline) < 0)
            return 0;
    return 1;
}

int h_raw_open_stream(h_raw_t *r, const char *domain)
{
    raw_reset(r);
    return h_raw_sendf(r,
                       "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                       "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>",
                       domain) &&
           h_raw_wait(r, "</stream:features>", 10000);
}

int h_raw_tls_handshake(h_raw_t *r, int min_version, int max_version)
{
    r->ssl_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(r->ssl_ctx, SSL_VERIFY_NONE, NULL);
    if (min_version || max_version) {
        /* Old protocol versions are refused by OpenSSL's own default
         * security level; lower it so only the server can say no. */
        SSL_CTX_set_security_level(r->ssl_ctx, 0);
        SSL_CTX_set_cipher_list(r->ssl_ctx, "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(r->ssl_ctx, min_version);
        SSL_CTX_set_max_proto_version(r->ssl_ctx, max_version);
    }
    r->ssl = SSL_new(r->ssl_ctx);
    SSL_set_fd(r->ssl, r->fd);
    SSL_set_tlsext_host_name(r->ssl, "example.test");
    long long deadline = h_now_ms() + 10000;
    for (;;) {
        int k = SSL_connect(r->ssl);
        if (k == 1)
            break;
        int e = SSL_get_error(r->ssl, k);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) || h_now_ms() >= deadline)
            return 0;
        wait_fd(r->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
    }
    raw_reset(r);
    return 1;
}

int h_raw_starttls(h_raw_t *r, const char *domain)
{
    return h_raw_open_stream(r, domain) && strstr(r->buf, "<starttls") &&
           h_raw_sendf(r, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") &&
           h_raw_wait(r, "<proceed", 10000) && h_raw_tls_handshake(r, 0, 0) &&
           h_raw_open_stream(r, domain);
}

/* ---- SASL on raw clients ---- */

char *h_b64_encode(const unsigned char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

unsigned char *h_b64_decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    unsigned char *out = malloc(n + 1);
    int k = n ? EVP_DecodeBlock(out, (const unsigned char *)text, (int)n) : 0;
    if (k < 0) {
        free(out);
        return NULL;
    }
    while (n > 0 && text[n - 1] == '=') /* EVP_DecodeBlock counts padding */
        n--, k--;
    *len = (size_t)k;
    out[k] = '\0';
    return out;
}

/* Waits for the next <challenge/>, <success/>, <failure/> or stream error.
 * Returns 'c', 's', 'f' or 'e' (0 on timeout/close).  For challenge and
 * success `text` gets the content; for failure and stream errors the name
 * of the first child (the condition). */
static int sasl_answer(h_raw_t *r, char *text, size_t textlen)
{
    static const char *const names[] = {"challenge", "success", "failure", "stream:error"};
    long long deadline = h_now_ms() + 10000;
    for (;;) {
        const char *best = NULL;
        int which = -1;
        for (int i = 0; i < 4; i++) {
            char open[32];
            snprintf(open, sizeof(open), "<%s", names[i]);
            char *p = r->len > r->seen ? strstr(r->buf + r->seen, open) : NULL;
            if (p && (!best || p < best))
                best = p, which = i;
        }
        if (best) {
            const char *gt = strchr(best, '>');
            char close[32];
            snprintf(close, sizeof(close), "</%s>", names[which]);
            const char *end = gt && gt[-1] == '/' ? gt + 1 : gt ? strstr(gt, close) : NULL;
            if (end) {
                const char *body = gt[-1] == '/' ? end : gt + 1;
                size_t n = (size_t)(end - body);
                if (which >= 2 && body[0] == '<') { /* condition element's name */
                    body++;
                    n = strcspn(body, " />");
                }
                snprintf(text, textlen, "%.*s", (int)n, body);
                r->seen = (size_t)(end - r->buf);
                return "csfe"[which];
            }
        }
        if (r->eof || raw_fill(r, deadline) < 0)
            return 0;
    }
}

static void hmac(const EVP_MD *md, const unsigned char *key, size_t keylen, const void *data,
                 size_t len, unsigned char *out)
{
    unsigned outlen = 0;
    HMAC(md, key, (int)keylen, data, len, out, &outlen);
}

/* Channel-binding data for this TLS connection (RFC 9266, RFC 5929). */
size_t h_raw_channel_binding(h_raw_t *r, const char *type, unsigned char *out)
{
    if (strcmp(type, "tls-exporter") == 0) {
        static const char label[] = "EXPORTER-Channel-Binding";
        return SSL_export_keying_material(r->ssl, out, 32, label, sizeof(label) - 1, NULL, 0, 0) ==
                       1
                   ? 32
                   : 0;
    }
    if (strcmp(type, "tls-unique") == 0) /* RFC 5929: our Finished, no resumption here */
        return SSL_get_finished(r->ssl, out, 64);
    X509 *cert = SSL_get1_peer_certificate(r->ssl);
    int mdnid = 0;
    unsigned len = 0;
    if (cert && X509_get_signature_info(cert, &mdnid, NULL, NULL, NULL)) {
        const EVP_MD *md = EVP_get_digestbynid(mdnid);
        if (!md || mdnid == NID_md5 || mdnid == NID_sha1)
            md = EVP_sha256();
        X509_digest(cert, md, out, &len);
    }
    X509_free(cert);
    return len;
}

int h_raw_scram(h_raw_t *r, const h_scram_t *p, char *cond, size_t condlen)
{
    const EVP_MD *md = strstr(p->mech, "SHA-256") ? EVP_sha256() : EVP_sha1();
    size_t hlen = (size_t)EVP_MD_get_size(md);
    int plus = strstr(p->mech, "-PLUS") != NULL;
    char gs2[64], nonce[25], first_bare[256], msg[2048], text[2048];
    snprintf(gs2, sizeof(gs2), plus ? "p=%s,," : "%s,,",
             plus                    ? p->cb_type
             : p->claim_no_server_cb ? "y"
                                     : "n");
    unsigned char rnd[18];
    RAND_bytes(rnd, sizeof(rnd));
    char *rb = h_b64_encode(rnd, sizeof(rnd));
    snprintf(nonce, sizeof(nonce), "%s", rb);
    free(rb);
    snprintf(first_bare, sizeof(first_bare), "n=%s,r=%s", p->user, nonce);
    snprintf(msg, sizeof(msg), "%s%s", gs2, first_bare);
    char *b = h_b64_encode((unsigned char *)msg, strlen(msg));
    if (p->sasl2)
        h_raw_sendf(r,
                    "<authenticate xmlns='urn:xmpp:sasl:2' mechanism='%s'>"
                    "<initial-response>%s</initial-response>%s</authenticate>",
                    p->mech, b, p->sasl2);
    else
        h_raw_sendf(r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>",
                    p->mech, b);
    free(b);
    int k = sasl_answer(r, text, sizeof(text));
    if (k != 'c') {
        snprintf(cond, condlen, "%s%s", k == 'f' ? "" : "unexpected: ", k ? text : "no answer");
        return k == 'f' ? H_AUTH_FAILED : H_AUTH_ERROR;
    }
    size_t sflen;
    char *server_first = (char *)h_b64_decode(text, &sflen);
    char *rn = server_first ? strstr(server_first, "r=") : NULL;
    char *sp = server_first ? strstr(server_first, ",s=") : NULL;
    char *ip = server_first ? strstr(server_first, ",i=") : NULL;
    if (!rn || !sp || !ip || strncmp(rn + 2, nonce, strlen(nonce)) != 0) {
        snprintf(cond, condlen, "bad server-first-message");
        free(server_first);
        return H_AUTH_ERROR;
    }
    char full_nonce[256], salt64[256];
    snprintf(full_nonce, sizeof(full_nonce), "%.*s", (int)(sp - rn - 2), rn + 2);
    snprintf(salt64, sizeof(salt64), "%.*s", (int)(ip - sp - 3), sp + 3);
    int iterations = atoi(ip + 3);
    size_t saltlen;
    unsigned char *salt = h_b64_decode(salt64, &saltlen);
    unsigned char salted[64], client_key[64], stored_key[64], client_sig[64], proof[64];
    unsigned char server_key[64], server_sig[64];
    PKCS5_PBKDF2_HMAC(p->password, (int)strlen(p->password), salt, (int)saltlen, iterations, md,
                      (int)hlen, salted);
    free(salt);
    hmac(md, salted, hlen, "Client Key", 10, client_key);
    EVP_Digest(client_key, hlen, stored_key, NULL, md, NULL);
    unsigned char cbind[256];
    size_t cblen = strlen(gs2);
    memcpy(cbind, gs2, cblen);
    if (plus) {
        size_t n = h_raw_channel_binding(r, p->cb_type, cbind + cblen);
        if (n && p->corrupt_cb)
            cbind[cblen] ^= 1;
        cblen += n;
    }
    char *c64 = h_b64_encode(cbind, cblen);
    char final_wo_proof[512], auth_msg[2048];
    snprintf(final_wo_proof, sizeof(final_wo_proof), "c=%s,r=%s", c64, full_nonce);
    free(c64);
    snprintf(auth_msg, sizeof(auth_msg), "%s,%s,%s", first_bare, server_first, final_wo_proof);
    free(server_first);
    hmac(md, stored_key, hlen, auth_msg, strlen(auth_msg), client_sig);
    for (size_t i = 0; i < hlen; i++)
        proof[i] = client_key[i] ^ client_sig[i];
    char *p64 = h_b64_encode(proof, hlen);
    snprintf(msg, sizeof(msg), "%s,p=%s", final_wo_proof, p64);
    free(p64);
    b = h_b64_encode((unsigned char *)msg, strlen(msg));
    h_raw_sendf(r, "<response xmlns='%s'>%s</response>",
                p->sasl2 ? "urn:xmpp:sasl:2" : "urn:ietf:params:xml:ns:xmpp-sasl", b);
    free(b);
    k = sasl_answer(r, text, sizeof(text));
    if (k != 's') {
        snprintf(cond, condlen, "%s%s", k == 'f' ? "" : "unexpected: ", k ? text : "no answer");
        return k == 'f' ? H_AUTH_FAILED : H_AUTH_ERROR;
    }
    hmac(md, salted, hlen, "Server Key", 10, server_key);
    hmac(md, server_key, hlen, auth_msg, strlen(auth_msg), server_sig);
    char *v64 = h_b64_encode(server_sig, hlen);
    size_t vlen;
    const char *final64 = text;
    char add[512];
    if (p->sasl2) { /* <additional-data>…</additional-data> among the rest */
        const char *a = strstr(text, "<additional-data>"), *e = a ? strstr(a, "</") : NULL;
        snprintf(add, sizeof(add), "%.*s", a && e ? (int)(e - a - 17) : 0, a ? a + 17 : "");
        final64 = add;
    }
    char *server_final = (char *)h_b64_decode(final64, &vlen);
    int ok =
        server_final && strncmp(server_final, "v=", 2) == 0 && strcmp(server_final + 2, v64) == 0;
    snprintf(cond, condlen, "%s", ok ? "" : "server signature did not verify");
    free(server_final);
    free(v64);
    return ok ? H_AUTH_OK : H_AUTH_ERROR;
}

int h_raw_plain(h_raw_t *r, const char *user, const char *password, char *cond, size_t condlen)
{
    char msg[512], text[1024];
    size_t n = (size_t)snprintf(msg, sizeof(msg), "%c%s%c%s", 0, user, 0, password);
    char *b = h_b64_encode((unsigned char *)msg, n);
    h_raw_sendf(r, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>", b);
    free(b);
    int k = sasl_answer(r, text, sizeof(text));
    snprintf(cond, condlen, "%s%s",
             k == 'f' || k == 's' ? "" : "unexpected: ", k ? text : "no answer");
    return k == 's' ? H_AUTH_OK : k == 'f' ? H_AUTH_FAILED : H_AUTH_ERROR;
}

int h_raw_bind(h_raw_t *r, const char *domain, const char *resource, char *jid, size_t jidlen)
{
    if (!h_raw_open_stream(r, domain) || !strstr(r->buf, "urn:ietf:params:xml:ns:xmpp-bind"))
        return 0;
    h_raw_sendf(r,
                "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                "<resource>%s</resource></bind></iq>",
                resource);
    if (!h_raw_wait(r, "</jid>", 10000))
        return 0;
    char *end = r->buf + r->seen - 6, *start = end;
    while (start > r->buf && start[-1] != '>')
        start--;
    snprintf(jid, jidlen, "%.*s", (int)(end - start), start);
    return 1;
}

int h_raw_element(h_raw_t *r, const char *start, char *out, size_t outlen)
{
    if (!h_raw_wait(r, start, 5000))
        return 0;
    size_t from = r->seen - strlen(start);
    if (!h_raw_wait(r, ">", 5000))
        return 0;
    snprintf(out, outlen, "%.*s", (int)(r->seen - from), r->buf + from);
    return 1;
}

int h_xml_attr_in(const char *el, const char *name, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof(pat), " %s='", name);
    const char *p = strstr(el, pat);
    if (!p)
        return 0;
    p += strlen(pat);
    const char *e = strchr(p, '\'');
    if (!e)
        return 0;
    snprintf(out, outlen, "%.*s", (int)(e - p), p);
    return 1;
}

int h_raw_auth(h_raw_t *r, h_server_t *srv, const char *user, const char *password)
{
    char cond[256];
    h_scram_t p = {.mech = "SCRAM-SHA-256", .user = user, .password = password};
    return h_raw_connect(r, srv->c2s_port) && h_raw_starttls(r, "example.test") &&
           h_raw_scram(r, &p, cond, sizeof(cond)) == H_AUTH_OK &&
           h_raw_open_stream(r, "example.test");
}

int h_raw_login(h_raw_t *r, h_server_t *srv, const char *user, const char *password,
                const char *resource)
{
    char cond[256], jid[256];
    h_scram_t p = {.mech = "SCRAM-SHA-256", .user = user, .password = password};
    return h_raw_connect(r, srv->c2s_port) && h_raw_starttls(r, "example.test") &&
           h_raw_scram(r, &p, cond, sizeof(cond)) == H_AUTH_OK &&
           h_raw_bind(r, "example.test", resource, jid, sizeof(jid));
}
