/* sasl.c — SASL PLAIN and SCRAM for the load generator, on OpenSSL's
 * PBKDF2, HMAC and digests.  The computation follows RFC 5802 §3 step by
 * step; no channel binding ("n,," gs2 header). */
#include "tests/bench/sasl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCRAM_NONCE_BYTES 18 /* 24 base64 characters */

struct bench_scram {
    const EVP_MD *md;
    size_t hlen;
    char *client_first_bare; /* "n=user,r=cnonce" */
    char cnonce[33];
    unsigned char server_signature[EVP_MAX_MD_SIZE];
    int have_signature;
};

const char *bench_mech_name(bench_mech_t m)
{
    switch (m) {
    case BENCH_MECH_SCRAM_SHA_256: return "SCRAM-SHA-256";
    case BENCH_MECH_SCRAM_SHA_1: return "SCRAM-SHA-1";
    case BENCH_MECH_PLAIN: return "PLAIN";
    }
    return "?";
}

int bench_mech_parse(const char *name, bench_mech_t *out)
{
    static const bench_mech_t all[] = {BENCH_MECH_SCRAM_SHA_256, BENCH_MECH_SCRAM_SHA_1,
                                       BENCH_MECH_PLAIN};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (strcasecmp(name, bench_mech_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    return -1;
}

/* ---- base64 ---- */

static char *b64_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

/* Decodes into out (at least 3/4 of the input long); returns the length or
 * -1.  EVP_DecodeBlock counts padding as zero bytes, which is undone here. */
static int b64_decode(const char *in, unsigned char *out)
{
    size_t len = strlen(in);
    while (len && (in[len - 1] == '\n' || in[len - 1] == '\r' || in[len - 1] == ' '))
        len--;
    if (len % 4 != 0)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    if (len >= 1 && in[len - 1] == '=')
        n--;
    if (len >= 2 && in[len - 2] == '=')
        n--;
    return n;
}

char *bench_plain_message(const char *user, const char *password)
{
    char raw[1024];
    size_t ul = strlen(user), pl = strlen(password);
    if (ul + pl + 2 > sizeof(raw))
        return NULL;
    raw[0] = '\0';
    memcpy(raw + 1, user, ul);
    raw[1 + ul] = '\0';
    memcpy(raw + 2 + ul, password, pl);
    return b64_encode((unsigned char *)raw, ul + pl + 2);
}

/* ---- SCRAM ---- */

bench_scram_t *bench_scram_new(bench_mech_t mech, const char *user, char **first)
{
    bench_scram_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->md = mech == BENCH_MECH_SCRAM_SHA_1 ? EVP_sha1() : EVP_sha256();
    s->hlen = (size_t)EVP_MD_get_size(s->md);
    unsigned char nonce[SCRAM_NONCE_BYTES];
    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        free(s);
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *)s->cnonce, nonce, sizeof(nonce));

    /* RFC 5802 §5.1: ',' and '=' in the name are written =2C and =3D. */
    size_t ulen = strlen(user);
    char *bare = malloc(ulen * 3 + sizeof(s->cnonce) + 8);
    if (!bare) {
        free(s);
        return NULL;
    }
    char *p = bare;
    p += sprintf(p, "n=");
    for (const char *u = user; *u; u++) {
        if (*u == ',')
            p += sprintf(p, "=2C");
        else if (*u == '=')
            p += sprintf(p, "=3D");
        else
            *p++ = *u;
    }
    sprintf(p, ",r=%s", s->cnonce);
    s->client_first_bare = bare;

    size_t flen = strlen(bare) + 3;
    char *msg = malloc(flen + 1);
    if (!msg) {
        bench_scram_free(s);
        return NULL;
    }
    snprintf(msg, flen + 1, "n,,%s", bare);
    *first = b64_encode((unsigned char *)msg, flen);
    free(msg);
    if (!*first) {
        bench_scram_free(s);
        return NULL;
    }
    return s;
}

void bench_scram_free(bench_scram_t *s)
{
    if (!s)
        return;
    free(s->client_first_bare);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

/* The value of attribute `name` in a SCRAM message ("r=...,s=...,i=..."),
 * copied into out; 0 when absent or too long. */
static int scram_attr(const char *msg, char name, char *out, size_t outlen)
{
    for (const char *p = msg; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (p[0] == name && p[1] == '=') {
            const char *v = p + 2;
            size_t n = strcspn(v, ",");
            if (n >= outlen)
                return 0;
            memcpy(out, v, n);
            out[n] = '\0';
            return 1;
        }
    }
    return 0;
}

static void hmac(const EVP_MD *md, const unsigned char *key, size_t klen, const void *data,
                 size_t dlen, unsigned char *out)
{
    unsigned int olen = 0;
    HMAC(md, key, (int)klen, data, dlen, out, &olen);
}

char *bench_scram_final(bench_scram_t *s, const char *password, const char *challenge,
                        bench_scram_keys_t *cache, const char **why)
{
    char server_first[1024];
    unsigned char salt[256];
    char nonce[256], salt_b64[256], iter_s[16];
    size_t clen = strlen(challenge);
    if (clen == 0 || clen / 4 * 3 >= sizeof(server_first)) {
        *why = "server-first message missing or too long";
        return NULL;
    }
    int n = b64_decode(challenge, (unsigned char *)server_first);
    if (n <= 0) {
        *why = "server-first message is not base64";
        return NULL;
    }
    server_first[n] = '\0';
    if (!scram_attr(server_first, 'r', nonce, sizeof(nonce)) ||
        !scram_attr(server_first, 's', salt_b64, sizeof(salt_b64)) ||
        !scram_attr(server_first, 'i', iter_s, sizeof(iter_s))) {
        *why = "server-first message lacks r, s or i";
        return NULL;
    }
    if (strncmp(nonce, s->cnonce, strlen(s->cnonce)) != 0 || strlen(nonce) == strlen(s->cnonce)) {
        *why = "server nonce does not extend the client nonce";
        return NULL;
    }
    int salt_len = b64_decode(salt_b64, salt);
    long iterations = strtol(iter_s, NULL, 10);
    if (salt_len <= 0 || iterations < 1 || iterations > 100000000) {
        *why = "bad salt or iteration count";
        return NULL;
    }

    /* SaltedPassword, then ClientKey and ServerKey from it — or the cached
     * keys when this account was seen with the same salt and count. */
    unsigned char client_key[EVP_MAX_MD_SIZE], server_key[EVP_MAX_MD_SIZE];
    int cached = cache && cache->iterations == (uint32_t)iterations &&
                 cache->salt_len == salt_len && memcmp(cache->salt, salt, (size_t)salt_len) == 0;
    if (cached) {
        memcpy(client_key, cache->client_key, s->hlen);
        memcpy(server_key, cache->server_key, s->hlen);
    } else {
        unsigned char salted[EVP_MAX_MD_SIZE];
        if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, salt_len, (int)iterations,
                              s->md, (int)s->hlen, salted) != 1) {
            *why = "PBKDF2 failed";
            return NULL;
        }
        hmac(s->md, salted, s->hlen, "Client Key", 10, client_key);
        hmac(s->md, salted, s->hlen, "Server Key", 10, server_key);
        OPENSSL_cleanse(salted, sizeof(salted));
        if (cache && (size_t)salt_len <= sizeof(cache->salt)) {
            cache->iterations = (uint32_t)iterations;
            cache->salt_len = (uint8_t)salt_len;
            memcpy(cache->salt, salt, (size_t)salt_len);
            memcpy(cache->client_key, client_key, s->hlen);
            memcpy(cache->server_key, server_key, s->hlen);
        }
    }
    unsigned char stored_key[EVP_MAX_MD_SIZE];
    EVP_Digest(client_key, s->hlen, stored_key, NULL, s->md, NULL);

    /* AuthMessage = client-first-bare "," server-first "," final-without-proof */
    char without_proof[300];
    snprintf(without_proof, sizeof(without_proof), "c=biws,r=%s", nonce);
    size_t alen = strlen(s->client_first_bare) + (size_t)n + strlen(without_proof) + 3;
    char *auth_message = malloc(alen);
    if (!auth_message) {
        *why = "out of memory";
        return NULL;
    }
    snprintf(auth_message, alen, "%s,%s,%s", s->client_first_bare, server_first, without_proof);
    size_t amlen = strlen(auth_message);

    unsigned char signature[EVP_MAX_MD_SIZE], proof[EVP_MAX_MD_SIZE];
    hmac(s->md, stored_key, s->hlen, auth_message, amlen, signature);
    for (size_t i = 0; i < s->hlen; i++)
        proof[i] = client_key[i] ^ signature[i];
    hmac(s->md, server_key, s->hlen, auth_message, amlen, s->server_signature);
    s->have_signature = 1;
    free(auth_message);
    OPENSSL_cleanse(client_key, sizeof(client_key));
    OPENSSL_cleanse(server_key, sizeof(server_key));

    char *proof_b64 = b64_encode(proof, s->hlen);
    if (!proof_b64) {
        *why = "out of memory";
        return NULL;
    }
    char final[512];
    int flen = snprintf(final, sizeof(final), "%s,p=%s", without_proof, proof_b64);
    free(proof_b64);
    if (flen < 0 || (size_t)flen >= sizeof(final)) {
        *why = "client-final message too long";
        return NULL;
    }
    return b64_encode((unsigned char *) final, (size_t)flen);
}

int bench_scram_verify(const bench_scram_t *s, const char *server_final)
{
    unsigned char raw[512], sig[256];
    char v[256];
    size_t len = strlen(server_final);
    if (!s->have_signature || len == 0 || len / 4 * 3 >= sizeof(raw))
        return 0;
    int n = b64_decode(server_final, raw);
    if (n <= 0)
        return 0;
    raw[n] = '\0';
    if (!scram_attr((const char *)raw, 'v', v, sizeof(v)))
        return 0;
    if (strlen(v) / 4 * 3 >= sizeof(sig))
        return 0;
    int slen = b64_decode(v, sig);
    return slen == (int)s->hlen && CRYPTO_memcmp(sig, s->server_signature, s->hlen) == 0;
}
