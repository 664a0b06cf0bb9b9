/* fuzz_sasl.c — libFuzzer target for what a client sends during SASL before
 * anyone knows who it is (xmpp/scram.c): the SCRAM server side
 * (client-first, then client-final against fixed keys and a fixed server
 * nonce, so the RFC 5802 / RFC 7677 exchanges in the seeds succeed and
 * mutations of them reach every check), PLAIN message splitting, base64
 * decoding and SASLprep.  Each must never crash or leak, and must say only
 * what is true (checked against small reference implementations here).
 *
 * Input: the first byte picks the mode and options (below); the rest is the
 * message, for SCRAM client-first and client-final separated by '\n'. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "xmpp/scram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MODE_MASK 0x03
#define MODE_SCRAM 0
#define MODE_PLAIN 1
#define MODE_BASE64 2
#define MODE_SASLPREP 3
/* SCRAM options */
#define O_SHA256 0x04  /* SCRAM-SHA-256 (else SHA-1) */
#define O_PLUS 0x08    /* the -PLUS mechanism */
#define O_OFFERED 0x10 /* we offered -PLUS on this connection */
#define O_UNKNOWN 0x20 /* the user has no account: fake challenge */
#define O_CB 0x40      /* channel-binding data is available */
#define O_RANDOM 0x80  /* a random server nonce instead of the fixed one */

/* The test vectors of RFC 5802 (SHA-1) and RFC 7677 (SHA-256): user "user",
 * password "pencil". */
static const struct {
    const char *salt_b64, *server_nonce;
} vectors[2] = {
    [PL_SCRAM_SHA1] = {"QSXCR+Q6sek8bf92", "3rfcNHYJY1ZVvWVs7j"},
    [PL_SCRAM_SHA256] = {"W22ZaJ0SNY7soEsUEjb6gQ==", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"},
};
static pl_scram_keys_t keys[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int h = PL_SCRAM_SHA1; h <= PL_SCRAM_SHA256; h++) {
        size_t slen;
        uint8_t *salt = pl_base64_decode(vectors[h].salt_b64, strlen(vectors[h].salt_b64), &slen);
        if (!salt || pl_scram_derive(h, "pencil", salt, slen, 4096, &keys[h]) != 0)
            pl_die("fuzz_sasl: cannot derive the test keys");
        free(salt);
    }
    return 0;
}

static void fuzz_scram(unsigned flags, const char *msg, size_t len)
{
    static const uint8_t cb[32] = "fuzz channel binding data.......";
    pl_scram_hash_t h = (flags & O_SHA256) ? PL_SCRAM_SHA256 : PL_SCRAM_SHA1;
    const char *nl = memchr(msg, '\n', len);
    size_t first_len = nl ? (size_t)(nl - msg) : len;
    pl_scram_server_t s;
    pl_scram_server_init(&s, h, !!(flags & O_PLUS), !!(flags & O_OFFERED));
    if (!(flags & O_RANDOM))
        pl_scram_server_set_nonce(&s, vectors[h].server_nonce);
    if (pl_scram_server_client_first(&s, msg, first_len) != 0) {
        if (!s.error)
            pl_die("client-first refused without a condition");
        pl_scram_server_deinit(&s);
        return;
    }
    if (!s.username || !*s.username || !s.gs2_header)
        pl_die("client-first accepted without a username or GS2 header");
    if ((flags & O_PLUS) && s.cb_type == PL_CB_NONE)
        pl_die("-PLUS accepted without a channel-binding type");
    int known = !(flags & O_UNKNOWN) && strcmp(s.username, "user") == 0;
    /* A name without an account gets keys shaped like an account's, as
     * the server gives it (c2s/sasl.c). */
    static const uint8_t secret[32] = {1, 2, 3};
    pl_scram_keys_t unknown;
    if (!known)
        pl_scram_unknown_keys(h, secret, sizeof(secret), s.username, 4096, &unknown);
    char *challenge = NULL;
    if (pl_scram_server_first(&s, known ? &keys[h] : &unknown, &challenge) != 0)
        pl_die("no challenge for an accepted client-first");
    if (strncmp(challenge, "r=", 2) != 0 || !strstr(challenge, ",s=") || !strstr(challenge, ",i="))
        pl_die("malformed challenge %s", challenge);
    /* An unknown name's challenge looks like an account's: the same
     * iteration count and salt length. */
    char want_i[32];
    snprintf(want_i, sizeof(want_i), ",i=%u", (unsigned)(known ? keys[h].iterations : 4096));
    if (!strstr(challenge, want_i))
        pl_die("challenge %s does not carry %s", challenge, want_i);
    free(challenge);
    if (nl) {
        char *final = NULL;
        int rc = pl_scram_server_client_final(&s, nl + 1, len - first_len - 1,
                                              (flags & O_CB) ? cb : NULL,
                                              (flags & O_CB) ? sizeof(cb) : 0, &final);
        if (rc == 0) {
            /* Success needs the password: only a known user, with the
             * vectors' nonce (a random one cannot be in a fixed proof). */
            if (!known || (flags & O_RANDOM) || !final || strncmp(final, "v=", 2) != 0)
                pl_die("client-final accepted for %s (known %d): %s", s.username, known,
                       final ? final : "(null)");
        } else if (final || !s.error) {
            pl_die("client-final refused without a condition, or with an answer");
        }
        free(final);
    }
    pl_scram_server_deinit(&s);
}

static void fuzz_plain(const char *msg, size_t len)
{
    char *copy;
    const char *authzid, *authcid, *passwd;
    if (pl_sasl_plain_parse(msg, len, &copy, &authzid, &authcid, &passwd) != 0) {
        if (copy)
            pl_die("PLAIN refused but a copy was left");
        return;
    }
    /* The three fields, put back together, are the message. */
    size_t zl = authzid ? strlen(authzid) : 0, cl = strlen(authcid), pl = strlen(passwd);
    if (!cl || !pl || zl + cl + pl + 2 != len || memcmp(msg, authzid ? authzid : "", zl) != 0 ||
        msg[zl] != '\0' || memcmp(msg + zl + 1, authcid, cl) != 0 || msg[zl + 1 + cl] != '\0' ||
        memcmp(msg + zl + cl + 2, passwd, pl) != 0)
        pl_die("PLAIN fields do not add up to the message");
    free(copy);
}

/* RFC 4648 base64, strictly: a reference for pl_base64_decode. */
static int ref_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int ref_decode(const char *s, size_t len, uint8_t *out, size_t *out_len)
{
    if (len % 4)
        return -1;
    size_t n = 0;
    for (size_t q = 0; q < len; q += 4) {
        int v[4], pad = 0;
        for (int i = 0; i < 4; i++) {
            unsigned char c = (unsigned char)s[q + i];
            if (c == '=' && q + 4 == len && i >= 2) {
                v[i] = 0;
                pad++;
            } else if (pad || (v[i] = ref_value(c)) < 0) {
                return -1; /* not base64, or data after padding */
            }
        }
        uint32_t bits =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[n++] = (uint8_t)(bits >> 16);
        if (pad < 2)
            out[n++] = (uint8_t)(bits >> 8);
        if (pad < 1)
            out[n++] = (uint8_t)bits;
    }
    *out_len = n;
    return 0;
}

static void fuzz_base64(const char *msg, size_t len)
{
    size_t got_len, ref_len;
    uint8_t *got = pl_base64_decode(msg, len, &got_len);
    uint8_t *ref = pl_xmalloc(len / 4 * 3 + 1);
    int ref_ok = ref_decode(msg, len, ref, &ref_len) == 0;
    if (!!got != ref_ok)
        pl_die("base64 %s accepted by %s only", ref_ok ? "valid" : "invalid",
               got ? "pl_base64_decode" : "the reference");
    if (got &&
        (got_len != ref_len || (got_len && memcmp(got, ref, got_len) != 0) || got[got_len] != '\0'))
        pl_die("base64 decoded differently (%zu vs %zu bytes)", got_len, ref_len);
    /* Any bytes survive encode then decode. */
    char *enc = pl_base64_encode((const uint8_t *)msg, len);
    size_t back_len;
    uint8_t *back = enc ? pl_base64_decode(enc, strlen(enc), &back_len) : NULL;
    if (!back || back_len != len || (len && memcmp(back, msg, len) != 0))
        pl_die("base64 encode/decode round trip failed for %zu bytes", len);
    free(back);
    free(enc);
    free(ref);
    free(got);
}

static void fuzz_saslprep(const char *msg, size_t len)
{
    char *s = pl_xstrndup(msg, len); /* stops at a NUL, as C strings do */
    char *p = pl_saslprep(s);
    if (p) {
        /* Idempotent, never empty, never a control character. */
        char *again = pl_saslprep(p);
        if (!*p || !again || strcmp(again, p) != 0)
            pl_die("SASLprep is not stable on its own output");
        for (const unsigned char *c = (const unsigned char *)p; *c; c++)
            if (*c < 0x20 || *c == 0x7f)
                pl_die("SASLprep let a control character through");
        free(again);
    }
    free(p);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    const char *msg = (const char *)data + 1;
    size_t len = size - 1;
    switch (flags & MODE_MASK) {
    case MODE_SCRAM: fuzz_scram(flags, msg, len); break;
    case MODE_PLAIN: fuzz_plain(msg, len); break;
    case MODE_BASE64: fuzz_base64(msg, len); break;
    case MODE_SASLPREP: fuzz_saslprep(msg, len); break;
    }
    return 0;
}
