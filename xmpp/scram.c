/* scram.c — the server side of SASL SCRAM-SHA-1/-256 (RFC 5802, RFC 7677)
 * with -PLUS channel binding, plus SASLprep, key derivation, PLAIN parsing
 * and base64.  Pure computation over OpenSSL 3: no I/O, no global state. */
#include "xmpp/scram.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/utf8.h"
#include "lib/util.h"

#define SCRAM_NONCE_CHARS 32
#define SCRAM_FIELD_MAX 1023
#define SCRAM_MSG_MAX 16384

/* ---- digests ---- */

size_t pl_scram_hash_len(pl_scram_hash_t h) { return h == PL_SCRAM_SHA1 ? 20 : 32; }

static const EVP_MD *scram_md(pl_scram_hash_t h)
{
    return h == PL_SCRAM_SHA1 ? EVP_sha1() : EVP_sha256();
}

static void scram_hmac(pl_scram_hash_t h, const uint8_t *key, size_t key_len, const void *data,
                       size_t len, uint8_t *out)
{
    unsigned int n = 0;
    if (!HMAC(scram_md(h), key, (int)key_len, data, len, out, &n))
        pl_die("HMAC failed");
}

static void scram_digest(pl_scram_hash_t h, const void *data, size_t len, uint8_t *out)
{
    if (EVP_Digest(data, len, out, NULL, scram_md(h), NULL) != 1)
        pl_die("digest failed");
}

/* ---- SASLprep ---- */


/* RFC 3454 table B.1, "commonly mapped to nothing". */
static int maps_to_nothing(uint32_t cp)
{
    return cp == 0xad || cp == 0x34f || cp == 0x1806 || (cp >= 0x180b && cp <= 0x180d) ||
           (cp >= 0x200b && cp <= 0x200d) || cp == 0x2060 || (cp >= 0xfe00 && cp <= 0xfe0f) ||
           cp == 0xfeff;
}

/* RFC 3454 table C.1.2, non-ASCII space characters.  U+200B is listed there
 * too, but B.1 removes it first, as common implementations do. */
static int non_ascii_space(uint32_t cp)
{
    return cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200b) || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

char *pl_saslprep(const char *s)
{
    if (!s)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s);
    pl_buf_t b;
    pl_buf_init(&b);
    char *prepped = NULL;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        uint32_t cp;
        if (pl_utf8_next(u, len, &i, &cp) != 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            goto out;
        if (maps_to_nothing(cp))
            continue;
        if (non_ascii_space(cp))
            pl_buf_append(&b, " ", 1);
        else
            pl_buf_append(&b, s + start, i - start);
    }
    if (b.len > 0)
        prepped = pl_xstrndup(b.data, b.len);
out:
    /* It held a password. */
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    pl_buf_deinit(&b);
    return prepped;
}

/* ---- key derivation ---- */

int pl_scram_derive(pl_scram_hash_t h, const char *password, const uint8_t *salt, size_t salt_len,
                    uint32_t iterations, pl_scram_keys_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!password || iterations == 0 || iterations > INT_MAX)
        return -1;
    if (salt && (salt_len == 0 || salt_len > PL_SCRAM_SALT_LEN))
        return -1;
    char *prepped = pl_saslprep(password);
    if (!prepped)
        return -1;
    if (salt) {
        memcpy(out->salt, salt, salt_len);
        out->salt_len = salt_len;
    } else {
        pl_random_bytes(out->salt, PL_SCRAM_SALT_LEN);
        out->salt_len = PL_SCRAM_SALT_LEN;
    }
    out->iterations = iterations;

    size_t hl = pl_scram_hash_len(h);
    uint8_t salted[PL_SCRAM_MAX_HASH], client_key[PL_SCRAM_MAX_HASH];
    size_t plen = strlen(prepped);
    int ok = plen <= INT_MAX &&
             PKCS5_PBKDF2_HMAC(prepped, (int)plen, out->salt, (int)out->salt_len, (int)iterations,
                               scram_md(h), (int)hl, salted) == 1;
    OPENSSL_cleanse(prepped, plen);
    free(prepped);
    if (!ok) {
        memset(out, 0, sizeof(*out));
        return -1;
    }
    scram_hmac(h, salted, hl, "Client Key", 10, client_key);
    scram_digest(h, client_key, hl, out->stored_key);
    scram_hmac(h, salted, hl, "Server Key", 10, out->server_key);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    return 0;
}

int pl_scram_keys_usable(const pl_scram_keys_t *k)
{
    return k->salt_len >= 1 && k->salt_len <= PL_SCRAM_SALT_LEN && k->iterations >= 1 &&
           k->iterations <= INT_MAX;
}

int pl_scram_verify_password(pl_scram_hash_t h, const pl_scram_keys_t *keys, const char *password)
{
    if (!keys || !pl_scram_keys_usable(keys))
        return 0;
    pl_scram_keys_t tmp;
    if (pl_scram_derive(h, password, keys->salt, keys->salt_len, keys->iterations, &tmp) != 0)
        return 0;
    int same = pl_ct_equal(tmp.stored_key, keys->stored_key, pl_scram_hash_len(h));
    OPENSSL_cleanse(&tmp, sizeof(tmp));
    return same;
}

/* ---- message syntax ---- */

/* One "x=value" attribute of a SCRAM message. */
typedef struct scram_attr {
    char name;
    const char *val;
    size_t len;
    size_t start; /* offset of the attribute's name in the message */
} scram_attr_t;

/* Reads the attribute at *pos (which is at its first character) and moves
 * *pos past the following comma.  Returns 1 with an attribute, 0 at the end
 * of the message, -1 if the syntax is wrong (including an empty value or a
 * trailing comma). */
static int next_attr(const char *msg, size_t len, size_t *pos, scram_attr_t *a)
{
    size_t p = *pos;
    if (p >= len)
        return 0;
    char c = msg[p];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) || p + 1 >= len || msg[p + 1] != '=')
        return -1;
    const char *val = msg + p + 2;
    const char *comma = memchr(val, ',', len - p - 2);
    size_t vlen = comma ? (size_t)(comma - val) : len - p - 2;
    if (vlen == 0 || (comma && (size_t)(comma - msg) + 1 == len))
        return -1;
    *a = (scram_attr_t){.name = c, .val = val, .len = vlen, .start = p};
    *pos = comma ? (size_t)(comma - msg) + 1 : len;
    return 1;
}

/* Undoes the saslname escaping: "=2C" is ',' and "=3D" is '='; any other
 * '=' is malformed.  Returns a heap string or NULL. */
static char *decode_saslname(const char *s, size_t len)
{
    if (len == 0 || len > 3 * SCRAM_FIELD_MAX)
        return NULL;
    char *out = pl_xmalloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '=') {
            out[n++] = s[i];
        } else if (i + 2 < len && s[i + 1] == '2' && s[i + 2] == 'C') {
            out[n++] = ',';
            i += 2;
        } else if (i + 2 < len && s[i + 1] == '3' && s[i + 2] == 'D') {
            out[n++] = '=';
            i += 2;
        } else {
            free(out);
            return NULL;
        }
    }
    out[n] = '\0';
    return out;
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII but ','. */
static int nonce_ok(const char *s, size_t len)
{
    if (len == 0 || len > SCRAM_FIELD_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == ',')
            return 0;
    return 1;
}

/* Valid UTF-8 without control characters (used for the authzid, which is
 * compared as a JID later and must not be altered by SASLprep). */
static int text_ok(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    while (i < len) {
        uint32_t cp;
        if (pl_utf8_next(u, len, &i, &cp) != 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return 0;
    }
    return 1;
}

/* ---- the exchange ---- */

static int fail(pl_scram_server_t *s, int code, const char *condition)
{
    s->error = condition;
    return code;
}

void pl_scram_server_init(pl_scram_server_t *s, pl_scram_hash_t h, int plus,
                          int server_supports_plus)
{
    memset(s, 0, sizeof(*s));
    s->hash = h;
    s->plus = plus != 0;
    s->server_supports_plus = server_supports_plus != 0;
}

void pl_scram_server_deinit(pl_scram_server_t *s)
{
    if (!s)
        return;
    free(s->username);
    free(s->authzid);
    free(s->client_first_bare);
    free(s->gs2_header);
    free(s->nonce);
    free(s->server_first);
    OPENSSL_cleanse(&s->keys, sizeof(s->keys));
    memset(s, 0, sizeof(*s));
}

static pl_cb_type_t cb_type_named(const char *name, size_t len)
{
    static const struct {
        const char *name;
        pl_cb_type_t type;
    } types[] = {
        {.name = "tls-exporter", .type = PL_CB_TLS_EXPORTER},
        {.name = "tls-server-end-point", .type = PL_CB_TLS_SERVER_END_POINT},
        {.name = "tls-unique", .type = PL_CB_TLS_UNIQUE},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].name) == len && memcmp(types[i].name, name, len) == 0)
            return types[i].type;
    return PL_CB_NONE;
}

/* Parses the GS2 header "flag,[a=authzid]," at the start of the message,
 * applies the channel-binding rules and records header, type and authzid.
 * Returns the header's length, or a negative pl_scram_err_t. */
static int parse_gs2_header(pl_scram_server_t *s, const char *msg, size_t len)
{
    const char *comma = memchr(msg, ',', len);
    if (!comma)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    size_t flen = (size_t)(comma - msg);
    char flag = flen > 0 ? msg[0] : 0;
    if ((flag == 'n' || flag == 'y') && flen == 1) {
        /* RFC 5802 §6: 'y' means "I could have bound, but you did not seem
         * to offer it".  If we did offer -PLUS, someone stripped it. */
        if (s->plus)
            return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
        if (flag == 'y' && s->server_supports_plus)
            return fail(s, PL_SCRAM_CB_MISMATCH, "not-authorized");
    } else if (flag == 'p' && flen > 2 && msg[1] == '=') {
        if (!s->plus)
            return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
        for (size_t i = 2; i < flen; i++) {
            char c = msg[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-'))
                return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
        }
        s->cb_type = cb_type_named(msg + 2, flen - 2);
        if (s->cb_type == PL_CB_NONE)
            return fail(s, PL_SCRAM_CB_MISMATCH, "not-authorized");
    } else {
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    }
    size_t p = flen + 1;
    const char *end = memchr(msg + p, ',', len - p);
    if (!end)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    size_t alen = (size_t)(end - (msg + p));
    if (alen > 0) {
        if (alen < 3 || msg[p] != 'a' || msg[p + 1] != '=')
            return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
        s->authzid = decode_saslname(msg + p + 2, alen - 2);
        if (!s->authzid)
            return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
        if (!text_ok(s->authzid))
            return fail(s, PL_SCRAM_INVALID_AUTHZID, "invalid-authzid");
    }
    p += alen + 1;
    s->gs2_header = pl_xstrndup(msg, p);
    return (int)p;
}

/* Drops what a failed client-first left behind, keeping a server nonce part
 * fixed by the test hook, so no state leaks into a later attempt. */
static int client_first_failed(pl_scram_server_t *s, int code)
{
    free(s->username);
    free(s->authzid);
    free(s->gs2_header);
    s->username = s->authzid = s->gs2_header = NULL;
    s->cb_type = PL_CB_NONE;
    return code;
}

static int client_first_parse(pl_scram_server_t *s, const char *msg, size_t len)
{
    if (!msg || len == 0 || len > SCRAM_MSG_MAX || memchr(msg, '\0', len))
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    int hlen = parse_gs2_header(s, msg, len);
    if (hlen < 0)
        return hlen;

    const char *bare = msg + hlen;
    size_t blen = len - (size_t)hlen, pos = 0;
    scram_attr_t a;
    /* "m=" is reserved for mandatory extensions we cannot know. */
    if (next_attr(bare, blen, &pos, &a) != 1 || a.name != 'n')
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    char *raw = decode_saslname(a.val, a.len);
    if (!raw)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    s->username = pl_saslprep(raw);
    free(raw);
    if (!s->username)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    if (next_attr(bare, blen, &pos, &a) != 1 || a.name != 'r' || !nonce_ok(a.val, a.len))
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    const char *cnonce = a.val;
    size_t cnonce_len = a.len;
    /* Optional extensions after the nonce are allowed and ignored. */
    int rc;
    while ((rc = next_attr(bare, blen, &pos, &a)) == 1)
        ;
    if (rc < 0)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");

    /* Until now s->nonce held only a server part fixed by the test hook. */
    char snonce[SCRAM_NONCE_CHARS + 1];
    const char *server_part = s->nonce;
    if (!server_part) {
        pl_random_id(snonce, SCRAM_NONCE_CHARS);
        server_part = snonce;
    }
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_append(&b, cnonce, cnonce_len);
    pl_buf_puts(&b, server_part);
    free(s->nonce);
    s->nonce = pl_xstrndup(b.data, b.len);
    pl_buf_deinit(&b);
    s->client_first_bare = pl_xstrndup(bare, blen);
    return PL_SCRAM_OK;
}

int pl_scram_server_client_first(pl_scram_server_t *s, const char *msg, size_t len)
{
    if (s->client_first_bare)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    int rc = client_first_parse(s, msg, len);
    return rc == PL_SCRAM_OK ? rc : client_first_failed(s, rc);
}

void pl_scram_server_set_nonce(pl_scram_server_t *s, const char *server_nonce)
{
    if (!server_nonce || !nonce_ok(server_nonce, strlen(server_nonce)))
        pl_die("scram: invalid server nonce");
    if (s->server_first)
        pl_die("scram: server nonce fixed after the challenge was sent");
    if (!s->client_first_bare) {
        free(s->nonce);
        s->nonce = pl_xstrdup(server_nonce);
        return;
    }
    /* The client part is the r= attribute of the stored client-first. */
    const char *bare = s->client_first_bare;
    size_t blen = strlen(bare), pos = 0;
    scram_attr_t a = {0};
    while (next_attr(bare, blen, &pos, &a) == 1 && a.name != 'r')
        ;
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_append(&b, a.val, a.len);
    pl_buf_puts(&b, server_nonce);
    free(s->nonce);
    s->nonce = pl_xstrndup(b.data, b.len);
    pl_buf_deinit(&b);
}

void pl_scram_unknown_keys(pl_scram_hash_t h, const uint8_t *secret, size_t secret_len,
                           const char *name, uint32_t iterations, pl_scram_keys_t *out)
{
    uint8_t d[32];
    pl_buf_t in;
    pl_buf_init(&in);
    /* The hash's name goes in: a real account has a salt of its own per
     * hash, so one salt for both would set unknown names apart. */
    pl_buf_printf(&in, "parley scram unknown name\n%s\n%s",
                  h == PL_SCRAM_SHA1 ? "SHA-1" : "SHA-256", name);
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const uint8_t *)in.data, in.len, d, &n))
        pl_die("HMAC failed");
    pl_buf_deinit(&in);
    memset(out, 0, sizeof(*out));
    memcpy(out->salt, d, PL_SCRAM_SALT_LEN);
    out->salt_len = PL_SCRAM_SALT_LEN;
    out->iterations = iterations;
    OPENSSL_cleanse(d, sizeof(d));
}

int pl_scram_server_first(pl_scram_server_t *s, const pl_scram_keys_t *keys, char **out)
{
    *out = NULL;
    if (!s->client_first_bare || s->server_first)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    if (!keys || !pl_scram_keys_usable(keys))
        return fail(s, PL_SCRAM_NOT_AUTHORIZED, "not-authorized");
    /* For an unknown name the keys are all zero: no password yields a
     * ClientKey hashing to zero, so the proof check fails on the normal
     * path, taking normal time. */
    s->keys = *keys;
    char *salt = pl_base64_encode(s->keys.salt, s->keys.salt_len);
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_printf(&b, "r=%s,s=%s,i=%u", s->nonce, salt, (unsigned)s->keys.iterations);
    free(salt);
    s->server_first = pl_xstrndup(b.data, b.len);
    *out = pl_xstrndup(b.data, b.len);
    pl_buf_deinit(&b);
    return PL_SCRAM_OK;
}

/* Checks the c= attribute: the GS2 header again, followed by the channel
 * binding data when the client asked for binding. */
static int check_binding(pl_scram_server_t *s, const scram_attr_t *c, const uint8_t *cb_data,
                         size_t cb_len)
{
    if (s->cb_type != PL_CB_NONE && (!cb_data || cb_len == 0))
        return fail(s, PL_SCRAM_CB_MISMATCH, "not-authorized"); /* type not available here */
    size_t got_len;
    uint8_t *got = pl_base64_decode(c->val, c->len, &got_len);
    if (!got)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    size_t hlen = strlen(s->gs2_header);
    size_t want_len = hlen + (s->cb_type != PL_CB_NONE ? cb_len : 0);
    int same = got_len == want_len && memcmp(got, s->gs2_header, hlen) == 0 &&
               (s->cb_type == PL_CB_NONE || pl_ct_equal(got + hlen, cb_data, cb_len));
    free(got);
    return same ? PL_SCRAM_OK : fail(s, PL_SCRAM_CB_MISMATCH, "not-authorized");
}

int pl_scram_server_client_final(pl_scram_server_t *s, const char *msg, size_t len,
                                 const uint8_t *cb_data, size_t cb_len, char **out)
{
    *out = NULL;
    if (!s->server_first || !msg || len == 0 || len > SCRAM_MSG_MAX || memchr(msg, '\0', len))
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    size_t pos = 0;
    scram_attr_t c, r, a;
    if (next_attr(msg, len, &pos, &c) != 1 || c.name != 'c' ||
        next_attr(msg, len, &pos, &r) != 1 || r.name != 'r')
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    /* Extensions may sit between the nonce and the proof, which comes last. */
    int rc;
    while ((rc = next_attr(msg, len, &pos, &a)) == 1 && a.name != 'p')
        ;
    if (rc != 1 || pos != len)
        return fail(s, PL_SCRAM_MALFORMED, "malformed-request");
    size_t without_proof = a.start - 1; /* up to the comma before "p=" */

    size_t hl = pl_scram_hash_len(s->hash);
    size_t proof_len;
    uint8_t *proof = pl_base64_decode(a.val, a.len, &proof_len);
    pl_buf_t auth;
    pl_buf_init(&auth);
    int err;
    if (!proof || proof_len != hl) {
        err = fail(s, PL_SCRAM_MALFORMED, "malformed-request");
        goto out;
    }
    err = check_binding(s, &c, cb_data, cb_len);
    if (err == PL_SCRAM_OK && (r.len != strlen(s->nonce) || memcmp(r.val, s->nonce, r.len) != 0))
        err = fail(s, PL_SCRAM_NOT_AUTHORIZED, "not-authorized");
    if (err != PL_SCRAM_OK)
        goto out;

    /* AuthMessage = client-first-bare "," server-first ","
     *               client-final-without-proof */
    pl_buf_printf(&auth, "%s,%s,", s->client_first_bare, s->server_first);
    pl_buf_append(&auth, msg, without_proof);

    uint8_t sig[PL_SCRAM_MAX_HASH], client_key[PL_SCRAM_MAX_HASH], stored[PL_SCRAM_MAX_HASH];
    scram_hmac(s->hash, s->keys.stored_key, hl, auth.data, auth.len, sig);
    for (size_t i = 0; i < hl; i++)
        client_key[i] = proof[i] ^ sig[i];
    scram_digest(s->hash, client_key, hl, stored);
    int ok = pl_ct_equal(stored, s->keys.stored_key, hl);
    OPENSSL_cleanse(client_key, sizeof(client_key));
    if (!ok) {
        err = fail(s, PL_SCRAM_NOT_AUTHORIZED, "not-authorized");
        goto out;
    }

    uint8_t server_sig[PL_SCRAM_MAX_HASH];
    scram_hmac(s->hash, s->keys.server_key, hl, auth.data, auth.len, server_sig);
    char *v = pl_base64_encode(server_sig, hl);
    size_t n = strlen(v) + 3;
    *out = pl_xmalloc(n);
    snprintf(*out, n, "v=%s", v);
    free(v);
    s->error = NULL;
out:
    free(proof);
    pl_buf_deinit(&auth);
    return err;
}

/* ---- PLAIN ---- */

int pl_sasl_plain_parse(const char *msg, size_t len, char **copy, const char **authzid,
                        const char **authcid, const char **passwd)
{
    *copy = NULL;
    *authzid = *authcid = *passwd = NULL;
    if (!msg || len > 3 * SCRAM_FIELD_MAX + 2)
        return -1;
    const char *nul1 = memchr(msg, '\0', len);
    if (!nul1)
        return -1;
    size_t rest = len - (size_t)(nul1 - msg) - 1;
    const char *nul2 = memchr(nul1 + 1, '\0', rest);
    if (!nul2 || memchr(nul2 + 1, '\0', len - (size_t)(nul2 - msg) - 1))
        return -1;
    size_t zlen = (size_t)(nul1 - msg);
    size_t clen = (size_t)(nul2 - nul1) - 1;
    size_t plen = len - (size_t)(nul2 - msg) - 1;
    if (zlen > SCRAM_FIELD_MAX || clen == 0 || clen > SCRAM_FIELD_MAX || plen == 0 ||
        plen > SCRAM_FIELD_MAX)
        return -1;
    /* One copy with a terminating NUL: the separators already end the first
     * two fields. */
    char *c = pl_xstrndup(msg, len);
    *copy = c;
    *authzid = zlen ? c : NULL;
    *authcid = c + zlen + 1;
    *passwd = c + zlen + 1 + clen + 1;
    return 0;
}
