/* test_scram.c — SCRAM against the RFC 5802 and RFC 7677 test vectors, the
 * failure paths (wrong password, unknown user, tampering, channel binding and
 * downgrade), SASLprep and PLAIN parsing. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "tests/unit/suites.h"
#include "xmpp/scram.h"

static const uint8_t test_salt[PL_SCRAM_SALT_LEN] = "0123456789abcdef";

/* ---- the RFC vectors ---- */

/* Drives a whole exchange with the server nonce fixed and checks both server
 * messages byte for byte.  `nonce_first` chooses whether the test hook runs
 * before or after client-first; both orders are supported. */
static void run_vector(pl_scram_hash_t h, const char *salt_b64, const char *client_first,
                       const char *snonce, const char *want_server_first,
                       const char *client_final, const char *want_server_final, int nonce_first)
{
    size_t salt_len;
    uint8_t *salt = pl_base64_decode(salt_b64, strlen(salt_b64), &salt_len);
    ck_assert_ptr_nonnull(salt);
    pl_scram_keys_t keys;
    ck_assert_int_eq(pl_scram_derive(h, "pencil", salt, salt_len, 4096, &keys), 0);
    free(salt);

    pl_scram_server_t s;
    pl_scram_server_init(&s, h, 0, 0);
    if (nonce_first)
        pl_scram_server_set_nonce(&s, snonce);
    ck_assert_int_eq(pl_scram_server_client_first(&s, client_first, strlen(client_first)), 0);
    if (!nonce_first)
        pl_scram_server_set_nonce(&s, snonce);
    ck_assert_str_eq(s.username, "user");
    ck_assert_ptr_null(s.authzid);
    ck_assert_str_eq(s.gs2_header, "n,,");
    ck_assert_int_eq(s.cb_type, PL_CB_NONE);

    char *first = NULL, *final = NULL;
    ck_assert_int_eq(pl_scram_server_first(&s, &keys, &first), 0);
    ck_assert_str_eq(first, want_server_first);
    ck_assert_int_eq(
        pl_scram_server_client_final(&s, client_final, strlen(client_final), NULL, 0, &final), 0);
    ck_assert_str_eq(final, want_server_final);
    free(first);
    free(final);
    pl_scram_server_deinit(&s);
    ck_assert_int_eq(pl_scram_verify_password(h, &keys, "pencil"), 1);
    ck_assert_int_eq(pl_scram_verify_password(h, &keys, "pencil2"), 0);
}

START_TEST(the_rfc5802_sha1_exchange_matches_its_vector)
{
    run_vector(PL_SCRAM_SHA1, "QSXCR+Q6sek8bf92", "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
               "3rfcNHYJY1ZVvWVs7j",
               "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
               "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
               "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", _i);
}
END_TEST

START_TEST(the_rfc7677_sha256_exchange_matches_its_vector)
{
    run_vector(PL_SCRAM_SHA256, "W22ZaJ0SNY7soEsUEjb6gQ==", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
               "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
               "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
               "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
               "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
               "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
               "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", _i);
}
END_TEST

/* ---- a test client ---- */

/* Builds a client-final message the way a client would: the proof is
 * ClientKey XOR HMAC(StoredKey, AuthMessage).  `cbind` is the raw c= content
 * (GS2 header plus any binding data); `nonce` replaces the right one and
 * `ext` is an extension placed before the proof, when not NULL. */
static char *client_final_for(pl_scram_hash_t h, const char *password, const pl_scram_server_t *s,
                              const uint8_t *cbind, size_t cbind_len, const char *nonce,
                              const char *ext)
{
    const EVP_MD *md = h == PL_SCRAM_SHA1 ? EVP_sha1() : EVP_sha256();
    size_t hl = pl_scram_hash_len(h);
    uint8_t salted[32], ck[32], sk[32], sig[32], proof[32];
    unsigned n;
    ck_assert_int_eq(PKCS5_PBKDF2_HMAC(password, (int)strlen(password), s->keys.salt,
                                       (int)s->keys.salt_len, (int)s->keys.iterations, md,
                                       (int)hl, salted),
                     1);
    HMAC(md, salted, (int)hl, (const uint8_t *)"Client Key", 10, ck, &n);
    EVP_Digest(ck, hl, sk, NULL, md, NULL);

    char *c = pl_base64_encode(cbind, cbind_len);
    char without[512], auth[2048];
    snprintf(without, sizeof(without), "c=%s,r=%s%s%s", c, nonce ? nonce : s->nonce,
             ext ? "," : "", ext ? ext : "");
    free(c);
    snprintf(auth, sizeof(auth), "%s,%s,%s", s->client_first_bare, s->server_first, without);
    HMAC(md, sk, (int)hl, (const uint8_t *)auth, strlen(auth), sig, &n);
    for (size_t i = 0; i < hl; i++)
        proof[i] = ck[i] ^ sig[i];
    char *p = pl_base64_encode(proof, hl);
    char *msg = malloc(1024);
    snprintf(msg, 1024, "%s,p=%s", without, p);
    free(p);
    return msg;
}

/* One exchange for user "user" whose password is "pencil". */
typedef struct exchange {
    pl_scram_hash_t hash;
    int plus, server_supports_plus;
    const char *client_first;
    const char *password;     /* what the client types; "pencil" if NULL */
    const char *c_header;     /* GS2 header echoed in c=; the real one if NULL */
    const char *client_cb;    /* binding data the client appends in c= */
    const char *server_cb;    /* binding data the server sees */
    int unknown_user;
} exchange_t;

/* Runs it and returns the first non-zero return code, or 0 if the server
 * accepted.  The caller inspects and then deinits `s`. */
static int run(const exchange_t *e, pl_scram_server_t *s)
{
    pl_scram_keys_t keys;
    ck_assert_int_eq(pl_scram_derive(e->hash, "pencil", test_salt, 16, 4096, &keys), 0);
    pl_scram_server_init(s, e->hash, e->plus, e->server_supports_plus);
    int rc = pl_scram_server_client_first(s, e->client_first, strlen(e->client_first));
    if (rc != 0)
        return rc;
    char *first = NULL;
    if (e->unknown_user)
        pl_scram_unknown_keys(e->hash, (const uint8_t *)"secret", 6, s->username, 4096, &keys);
    rc = pl_scram_server_first(s, &keys, &first);
    free(first);
    if (rc != 0)
        return rc;
    const char *hdr = e->c_header ? e->c_header : s->gs2_header;
    uint8_t cbind[256];
    size_t cl = strlen(hdr);
    memcpy(cbind, hdr, cl);
    if (e->client_cb) {
        memcpy(cbind + cl, e->client_cb, strlen(e->client_cb));
        cl += strlen(e->client_cb);
    }
    char *final_msg = client_final_for(e->hash, e->password ? e->password : "pencil", s, cbind,
                                       cl, NULL, NULL);
    char *final = NULL;
    rc = pl_scram_server_client_final(s, final_msg, strlen(final_msg),
                                      (const uint8_t *)e->server_cb,
                                      e->server_cb ? strlen(e->server_cb) : 0, &final);
    if (rc == 0) {
        ck_assert_ptr_nonnull(final);
        ck_assert_int_eq(strncmp(final, "v=", 2), 0);
    } else {
        ck_assert_ptr_null(final);
    }
    free(final);
    free(final_msg);
    return rc;
}

static void expect_run(const exchange_t *e, int want_rc, const char *want_error)
{
    pl_scram_server_t s;
    int rc = run(e, &s);
    ck_assert_msg(rc == want_rc, "'%s': rc %d, wanted %d", e->client_first, rc, want_rc);
    if (want_error)
        ck_assert_str_eq(s.error, want_error);
    pl_scram_server_deinit(&s);
}

START_TEST(the_right_password_succeeds_and_a_wrong_one_is_not_authorized)
{
    for (int h = PL_SCRAM_SHA1; h <= PL_SCRAM_SHA256; h++) {
        exchange_t e = {.hash = h, .client_first = "n,,n=user,r=abcdef"};
        expect_run(&e, PL_SCRAM_OK, NULL);
        e.password = "pencil!";
        expect_run(&e, PL_SCRAM_NOT_AUTHORIZED, "not-authorized");
    }
}
END_TEST

START_TEST(an_unknown_user_gets_a_challenge_like_any_other)
{
    /* The challenge looks like any other: the iteration count asked for, a
     * salt of the usual length, stable per name and hash, different for
     * another name, another hash or another secret. */
    static const uint8_t secret[33] = "0123456789abcdefghijklmnopqrstuv";
    static const struct {
        const char *msg;
        pl_scram_hash_t hash;
        size_t secret_len;
    } cases[5] = {
        {.msg = "n,,n=ghost,r=abc", .hash = PL_SCRAM_SHA256, .secret_len = 32},
        {.msg = "n,,n=ghost,r=xyz", .hash = PL_SCRAM_SHA256, .secret_len = 32},
        {.msg = "n,,n=phantom,r=abc", .hash = PL_SCRAM_SHA256, .secret_len = 32},
        {.msg = "n,,n=ghost,r=abc", .hash = PL_SCRAM_SHA1, .secret_len = 32},
        {.msg = "n,,n=ghost,r=abc", .hash = PL_SCRAM_SHA256, .secret_len = 16},
    };
    char *challenge[5];
    for (int i = 0; i < 5; i++) {
        pl_scram_server_t s;
        pl_scram_server_init(&s, cases[i].hash, 0, 0);
        ck_assert_int_eq(pl_scram_server_client_first(&s, cases[i].msg, strlen(cases[i].msg)), 0);
        pl_scram_keys_t keys;
        pl_scram_unknown_keys(cases[i].hash, secret, cases[i].secret_len, s.username, 12345, &keys);
        ck_assert_int_eq(pl_scram_server_first(&s, &keys, &challenge[i]), 0);
        pl_scram_server_deinit(&s);
        const char *salt = strstr(challenge[i], ",s=");
        ck_assert_ptr_nonnull(salt);
        ck_assert_ptr_nonnull(strstr(challenge[i], ",i=12345"));
        size_t n;
        uint8_t *raw = pl_base64_decode(salt + 3, 24, &n);
        ck_assert_ptr_nonnull(raw);
        ck_assert_uint_eq(n, PL_SCRAM_SALT_LEN);
        free(raw);
    }
    ck_assert_int_eq(strcmp(strstr(challenge[0], ",s="), strstr(challenge[1], ",s=")), 0);
    for (int i = 2; i < 5; i++)
        ck_assert_int_ne(strcmp(strstr(challenge[0], ",s="), strstr(challenge[i], ",s=")), 0);
    for (int i = 0; i < 5; i++)
        free(challenge[i]);

    /* No keys, or unusable ones, are refused rather than made up. */
    pl_scram_server_t s;
    pl_scram_server_init(&s, PL_SCRAM_SHA256, 0, 0);
    ck_assert_int_eq(pl_scram_server_client_first(&s, "n,,n=x,r=abc", 12), 0);
    char *out = NULL;
    ck_assert_int_eq(pl_scram_server_first(&s, NULL, &out), PL_SCRAM_NOT_AUTHORIZED);
    ck_assert_ptr_null(out);
    pl_scram_server_deinit(&s);

    /* The final step fails whatever the client proves. */
    exchange_t e = {.hash = PL_SCRAM_SHA256, .client_first = "n,,n=ghost,r=abc",
                    .unknown_user = 1};
    expect_run(&e, PL_SCRAM_NOT_AUTHORIZED, "not-authorized");
}
END_TEST

START_TEST(a_tampered_client_final_is_refused)
{
    pl_scram_keys_t keys;
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA256, "pencil", test_salt, 16, 4096, &keys), 0);
    static const char *const cases[] = {"nonce", "c64", "p64", "plen", "order", "noproof",
                                        "trailing", "ext"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pl_scram_server_t s;
        pl_scram_server_init(&s, PL_SCRAM_SHA256, 0, 0);
        const char *cf = "n,,n=user,r=abc";
        ck_assert_int_eq(pl_scram_server_client_first(&s, cf, strlen(cf)), 0);
        char *first;
        ck_assert_int_eq(pl_scram_server_first(&s, &keys, &first), 0);
        free(first);
        char msg[1024], nonce[256];
        /* A proof of the right length, so the other fields are what fails. */
        uint8_t zero[32] = {0};
        char *p32 = pl_base64_encode(zero, 32);
        int want = PL_SCRAM_MALFORMED;
        const char *c = cases[i];
        if (strcmp(c, "nonce") == 0) {
            snprintf(nonce, sizeof(nonce), "%sX", s.nonce);
            char *m = client_final_for(PL_SCRAM_SHA256, "pencil", &s, (const uint8_t *)"n,,", 3,
                                       nonce, NULL);
            snprintf(msg, sizeof(msg), "%s", m);
            free(m);
            want = PL_SCRAM_NOT_AUTHORIZED;
        } else if (strcmp(c, "c64") == 0) {
            snprintf(msg, sizeof(msg), "c=bi*s,r=%s,p=%s", s.nonce, p32);
        } else if (strcmp(c, "p64") == 0) {
            snprintf(msg, sizeof(msg), "c=biws,r=%s,p=AAA", s.nonce);
        } else if (strcmp(c, "plen") == 0) {
            snprintf(msg, sizeof(msg), "c=biws,r=%s,p=AAAA", s.nonce);
        } else if (strcmp(c, "order") == 0) {
            snprintf(msg, sizeof(msg), "r=%s,c=biws,p=%s", s.nonce, p32);
        } else if (strcmp(c, "noproof") == 0) {
            snprintf(msg, sizeof(msg), "c=biws,r=%s", s.nonce);
        } else if (strcmp(c, "trailing") == 0) {
            char *m = client_final_for(PL_SCRAM_SHA256, "pencil", &s, (const uint8_t *)"n,,", 3,
                                       NULL, NULL);
            snprintf(msg, sizeof(msg), "%s,x=y", m);
            free(m);
        } else { /* an extension before the proof is fine */
            char *m = client_final_for(PL_SCRAM_SHA256, "pencil", &s, (const uint8_t *)"n,,", 3,
                                       NULL, "x=ext,y=more");
            ck_assert_int_eq(pl_scram_server_client_final(&s, m, strlen(m), NULL, 0, &first),
                             PL_SCRAM_OK);
            free(first);
            free(m);
            free(p32);
            pl_scram_server_deinit(&s);
            continue;
        }
        free(p32);
        char *out = (char *)1;
        int rc = pl_scram_server_client_final(&s, msg, strlen(msg), NULL, 0, &out);
        ck_assert_msg(rc == want, "case %s: rc %d", c, rc);
        ck_assert_ptr_null(out);
        ck_assert_str_eq(s.error, want == PL_SCRAM_MALFORMED ? "malformed-request"
                                                              : "not-authorized");
        pl_scram_server_deinit(&s);
    }
}
END_TEST

/* Parses a client-first message and returns the return code; the username
 * and authzid are copied out when wanted. */
static int first_rc(const char *msg, int plus, int supports, char **user, char **authzid)
{
    pl_scram_server_t s;
    pl_scram_server_init(&s, PL_SCRAM_SHA256, plus, supports);
    int rc = pl_scram_server_client_first(&s, msg, strlen(msg));
    if (rc != 0)
        ck_assert_ptr_nonnull(s.error);
    if (user)
        *user = s.username ? strdup(s.username) : NULL;
    if (authzid)
        *authzid = s.authzid ? strdup(s.authzid) : NULL;
    pl_scram_server_deinit(&s);
    return rc;
}

START_TEST(client_first_is_parsed_strictly_with_escapes_and_saslprep)
{
    char *u, *a;
    ck_assert_int_eq(first_rc("n,,n=us=2Cer=3D,r=abc", 0, 0, &u, &a), 0);
    ck_assert_str_eq(u, "us,er=");
    ck_assert_ptr_null(a);
    free(u);
    ck_assert_int_eq(first_rc("n,a=juliet@example.com,n=juliet,r=abc", 0, 0, &u, &a), 0);
    ck_assert_str_eq(a, "juliet@example.com");
    free(u);
    free(a);
    ck_assert_int_eq(first_rc("n,a=x=3Dy=2Cz,n=u,r=abc", 0, 0, NULL, &a), 0);
    ck_assert_str_eq(a, "x=y,z");
    free(a);
    /* SASLprep applies to the username. */
    ck_assert_int_eq(first_rc("n,,n=us\xc2\xad" "er,r=abc", 0, 0, &u, NULL), 0);
    ck_assert_str_eq(u, "user");
    free(u);
    /* Extensions after the nonce are ignored. */
    ck_assert_int_eq(first_rc("n,,n=user,r=abc,x=1,y=2", 0, 0, NULL, NULL), 0);

    static const char *const malformed[] = {
        "n,,n=us=2Xer,r=abc", "n,,n=us=,r=abc", "n,,n=us=2c,r=abc", "n,,n=us=3,r=abc",
        "n,,m=ext,n=user,r=abc", "n,,n=user", "n,,r=abc", "n,,n=,r=abc", "n,,n=user,r=",
        "n,,n=user,r=ab\x01" "c", "n,,n=user,r=ab c", "n,,n=user,r=ab\xc3\xa9",
        "n,,n=user,r=abc,", "n,,n=user,r=abc,x", "x,,n=user,r=abc", "n,n=user,r=abc",
        "nn,,n=user,r=abc", ",,n=user,r=abc", "n,a=,n=user,r=abc", "n,b=x,n=user,r=abc",
        "n,a=x=2,n=user,r=abc", "n,,n=us\ter,r=abc", "n,,n=user,,r=abc", "", "n", "n,,",
        "p=,,n=user,r=abc",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        ck_assert_msg(first_rc(malformed[i], 0, 0, NULL, NULL) == PL_SCRAM_MALFORMED,
                      "accepted '%s'", malformed[i]);
    /* Embedded NUL inside the given length. */
    pl_scram_server_t s;
    pl_scram_server_init(&s, PL_SCRAM_SHA256, 0, 0);
    ck_assert_int_eq(pl_scram_server_client_first(&s, "n,,n=u\0x,r=abc", 14), PL_SCRAM_MALFORMED);
    ck_assert_str_eq(s.error, "malformed-request");
    pl_scram_server_deinit(&s);
    /* An authzid that is not text. */
    ck_assert_int_eq(first_rc("n,a=ju\x01liet,n=user,r=abc", 0, 0, NULL, NULL),
                     PL_SCRAM_INVALID_AUTHZID);
}
END_TEST

START_TEST(steps_out_of_order_are_refused_and_leak_nothing)
{
    pl_scram_server_t s;
    pl_scram_keys_t keys;
    char *out = NULL;
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA1, "pencil", test_salt, 16, 4096, &keys), 0);

    /* A never-initialised (zeroed) exchange can be deinitialised, twice. */
    memset(&s, 0, sizeof(s));
    pl_scram_server_deinit(&s);
    pl_scram_server_deinit(&s);

    pl_scram_server_init(&s, PL_SCRAM_SHA1, 0, 0);
    ck_assert_int_eq(pl_scram_server_first(&s, &keys, &out), PL_SCRAM_MALFORMED);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(pl_scram_server_client_final(&s, "c=biws,r=a,p=AAAA", 17, NULL, 0, &out),
                     PL_SCRAM_MALFORMED);
    /* A failed client-first can be retried without leaking its pieces. */
    ck_assert_int_eq(pl_scram_server_client_first(&s, "n,a=x,n=us=1,r=a", 16),
                     PL_SCRAM_MALFORMED);
    ck_assert_ptr_null(s.authzid);
    ck_assert_int_eq(pl_scram_server_client_first(&s, "n,,n=user,r=a", 13), 0);
    ck_assert_int_eq(pl_scram_server_client_first(&s, "n,,n=user,r=a", 13), PL_SCRAM_MALFORMED);
    ck_assert_int_eq(pl_scram_server_first(&s, &keys, &out), 0);
    free(out);
    ck_assert_int_eq(pl_scram_server_first(&s, &keys, &out), PL_SCRAM_MALFORMED);
    ck_assert_ptr_null(out);
    pl_scram_server_deinit(&s);
    pl_scram_server_deinit(&s);
}
END_TEST

START_TEST(channel_binding_must_match_the_tls_connection)
{
    const int H = PL_SCRAM_SHA256;
    /* Matching binding data for each type. */
    static const char *const types[] = {"tls-exporter", "tls-server-end-point", "tls-unique"};
    static const pl_cb_type_t want_type[] = {PL_CB_TLS_EXPORTER, PL_CB_TLS_SERVER_END_POINT,
                                             PL_CB_TLS_UNIQUE};
    for (int i = 0; i < 3; i++) {
        char cf[128];
        snprintf(cf, sizeof(cf), "p=%s,,n=user,r=abc", types[i]);
        exchange_t e = {.hash = H, .plus = 1, .server_supports_plus = 1, .client_first = cf,
                        .client_cb = "\x01\x02secret-cb\xff", .server_cb = "\x01\x02secret-cb\xff"};
        pl_scram_server_t s;
        ck_assert_int_eq(run(&e, &s), 0);
        ck_assert_int_eq(s.cb_type, want_type[i]);
        pl_scram_server_deinit(&s);
    }
    /* With an authzid in the header. */
    exchange_t az = {.hash = H, .plus = 1, .server_supports_plus = 1,
                     .client_first = "p=tls-exporter,a=user@example.com,n=user,r=abc",
                     .client_cb = "cbdata", .server_cb = "cbdata"};
    expect_run(&az, PL_SCRAM_OK, NULL);

    /* Different binding data (a man in the middle terminates TLS). */
    exchange_t e = {.hash = H, .plus = 1, .server_supports_plus = 1,
                    .client_first = "p=tls-exporter,,n=user,r=abc", .client_cb = "theirs",
                    .server_cb = "ours!!"};
    expect_run(&e, PL_SCRAM_CB_MISMATCH, "not-authorized");
    /* Binding data of another length, and none at all in c=. */
    e.client_cb = "ours!!x";
    expect_run(&e, PL_SCRAM_CB_MISMATCH, "not-authorized");
    e.client_cb = NULL;
    expect_run(&e, PL_SCRAM_CB_MISMATCH, "not-authorized");
    /* The server has no data for that type on this connection. */
    e.client_cb = "ours!!";
    e.server_cb = NULL;
    expect_run(&e, PL_SCRAM_CB_MISMATCH, "not-authorized");
    /* c= carries a different GS2 header than client-first did. */
    e.server_cb = "ours!!";
    e.c_header = "p=tls-unique,,";
    expect_run(&e, PL_SCRAM_CB_MISMATCH, "not-authorized");

    /* A type we do not know. */
    exchange_t unk = {.hash = H, .plus = 1, .server_supports_plus = 1,
                      .client_first = "p=tls-foo,,n=user,r=abc"};
    expect_run(&unk, PL_SCRAM_CB_MISMATCH, "not-authorized");
    ck_assert_int_eq(first_rc("p=tls_exporter,,n=user,r=abc", 1, 1, NULL, NULL),
                     PL_SCRAM_MALFORMED);

    /* Flag and mechanism disagree. */
    ck_assert_int_eq(first_rc("p=tls-exporter,,n=user,r=abc", 0, 1, NULL, NULL),
                     PL_SCRAM_MALFORMED);
    ck_assert_int_eq(first_rc("n,,n=user,r=abc", 1, 1, NULL, NULL), PL_SCRAM_MALFORMED);
    ck_assert_int_eq(first_rc("y,,n=user,r=abc", 1, 1, NULL, NULL), PL_SCRAM_MALFORMED);

    /* 'y': the client could bind but thought we could not.  We could, so
     * someone removed -PLUS from the offer. */
    exchange_t y = {.hash = H, .server_supports_plus = 1, .client_first = "y,,n=user,r=abc"};
    expect_run(&y, PL_SCRAM_CB_MISMATCH, "not-authorized");
    y.server_supports_plus = 0;
    expect_run(&y, PL_SCRAM_OK, NULL);
    /* A 'y' changed into 'n' on the way shows up in c=. */
    exchange_t n = {.hash = H, .server_supports_plus = 1, .client_first = "n,,n=user,r=abc",
                    .c_header = "y,,"};
    expect_run(&n, PL_SCRAM_CB_MISMATCH, "not-authorized");
    /* Binding data sent although no binding was negotiated. */
    n.c_header = NULL;
    n.client_cb = "extra";
    n.server_cb = "extra";
    expect_run(&n, PL_SCRAM_CB_MISMATCH, "not-authorized");
}
END_TEST

/* ---- key derivation ---- */

START_TEST(derived_keys_are_salted_and_verify_the_prepared_password)
{
    pl_scram_keys_t a, b;
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA256, "pencil", NULL, 0, 4096, &a), 0);
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA256, "pencil", NULL, 0, 4096, &b), 0);
    ck_assert_uint_eq(a.salt_len, PL_SCRAM_SALT_LEN);
    ck_assert_uint_eq(a.iterations, 4096);
    ck_assert_int_ne(memcmp(a.salt, b.salt, PL_SCRAM_SALT_LEN), 0);
    ck_assert_int_ne(memcmp(a.stored_key, b.stored_key, 32), 0);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA256, &a, "pencil"), 1);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA256, &a, "Pencil"), 0);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA256, &a, ""), 0);
    /* SASLprep makes these equivalent. */
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA1, "pen\xc2\xa0" "cil", test_salt, 16, 4096, &a),
                     0);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA1, &a, "pen cil"), 1);
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA1, &a, "pen\xc2\xad cil"), 1);
    /* Bad inputs. */
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA1, "", NULL, 0, 4096, &a), -1);
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA1, "pen\x01", NULL, 0, 4096, &a), -1);
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA1, "pencil", NULL, 0, 0, &a), -1);
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA1, "pencil", test_salt, 0, 4096, &a), -1);
    ck_assert_int_eq(pl_scram_derive(PL_SCRAM_SHA1, "pencil", test_salt, 17, 4096, &a), -1);
    ck_assert_uint_eq(a.iterations, 0); /* zeroed on failure */
    memset(&b, 0, sizeof(b));
    ck_assert_int_eq(pl_scram_verify_password(PL_SCRAM_SHA1, &b, "pencil"), 0);
    ck_assert_uint_eq(pl_scram_hash_len(PL_SCRAM_SHA1), 20);
    ck_assert_uint_eq(pl_scram_hash_len(PL_SCRAM_SHA256), 32);
}
END_TEST

/* ---- SASLprep ---- */

static void prep(const char *in, const char *want)
{
    char *got = pl_saslprep(in);
    if (!want) {
        ck_assert_msg(got == NULL, "saslprep should reject");
    } else {
        ck_assert_msg(got != NULL, "saslprep rejected '%s'", in);
        ck_assert_str_eq(got, want);
    }
    free(got);
}

START_TEST(saslprep_maps_spaces_drops_invisible_characters_and_refuses_controls)
{
    prep("user", "user");
    prep("USER", "USER"); /* no case mapping */
    prep("I\xc2\xadX", "IX");                       /* RFC 4013 example: soft hyphen */
    prep("a\xc2\xa0" "b", "a b");                  /* no-break space */
    prep("a\xe1\x9a\x80" "b", "a b");              /* ogham space mark */
    prep("a\xe2\x80\x80" "b\xe2\x80\x8a" "c", "a b c"); /* en quad, hair space */
    prep("a\xe2\x80\xaf" "b\xe2\x81\x9f" "c\xe3\x80\x80" "d", "a b c d");
    prep("a\xe2\x80\x8b" "b", "ab");               /* zero-width space: removed */
    prep("a\xe2\x80\x8c\xe2\x80\x8d" "b", "ab");   /* ZWNJ, ZWJ */
    prep("a\xcd\x8f" "b\xe1\xa0\x86" "c", "abc");  /* U+034F, U+1806 */
    prep("a\xe1\xa0\x8b\xe1\xa0\x8d" "b", "ab");   /* U+180B, U+180D */
    prep("a\xe2\x81\xa0" "b\xef\xbb\xbf" "c", "abc"); /* U+2060, U+FEFF */
    prep("a\xef\xb8\x80\xef\xb8\x8f" "b", "ab");   /* variation selectors */
    prep("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9");
    prep("a b", "a b");
    prep("\x07", NULL);    /* RFC 4013 example: BEL */
    prep("a\tb", NULL);
    prep("a\x7f", NULL);
    prep("a\xc2\x85", NULL); /* C1 */
    prep("a\xc2\x9f", NULL);
    prep("a\xff", NULL);
    prep("a\xc0\x80", NULL);   /* overlong NUL */
    prep("a\xed\xa0\x80", NULL);
    prep("\xc2\xad", NULL);    /* maps to nothing at all */
    prep("", NULL);
    ck_assert_ptr_null(pl_saslprep(NULL));
}
END_TEST

/* ---- PLAIN ---- */

static int plain(const char *msg, size_t len, const char **z, const char **c, const char **p,
                 char **copy)
{
    return pl_sasl_plain_parse(msg, len, copy, z, c, p);
}

START_TEST(plain_messages_split_into_authzid_user_and_password_or_are_refused)
{
    const char *z, *c, *p;
    char *copy;
    ck_assert_int_eq(plain("\0juliet\0secret", 14, &z, &c, &p, &copy), 0);
    ck_assert_ptr_null(z);
    ck_assert_str_eq(c, "juliet");
    ck_assert_str_eq(p, "secret");
    free(copy);
    ck_assert_int_eq(plain("juliet@example.com\0juliet\0s", 27, &z, &c, &p, &copy), 0);
    ck_assert_str_eq(z, "juliet@example.com");
    ck_assert_str_eq(c, "juliet");
    ck_assert_str_eq(p, "s");
    free(copy);

    static const struct {
        const char *msg;
        size_t len;
    } bad[] = {
        {"", 0}, {"juliet", 6}, {"\0juliet", 7}, {"juliet\0secret", 13}, {"\0\0secret", 8},
        {"\0juliet\0", 8}, {"\0juliet\0sec\0ret", 15}, {"\0juliet\0secret\0", 15}, {"\0\0", 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        copy = (char *)1;
        ck_assert_msg(plain(bad[i].msg, bad[i].len, &z, &c, &p, &copy) == -1, "case %zu", i);
        ck_assert_ptr_null(copy);
    }

    /* Each field may be 1023 bytes, not 1024. */
    char *m = malloc(3 * 1024 + 2);
    for (int field = 0; field < 3; field++) {
        for (size_t extra = 0; extra <= 1; extra++) {
            size_t lens[3] = {3, 3, 3};
            lens[field] = 1023 + extra;
            size_t n = 0;
            for (int k = 0; k < 3; k++) {
                memset(m + n, 'a' + k, lens[k]);
                n += lens[k];
                if (k < 2)
                    m[n++] = '\0';
            }
            int rc = plain(m, n, &z, &c, &p, &copy);
            ck_assert_int_eq(rc, extra ? -1 : 0);
            if (rc == 0) {
                ck_assert_uint_eq(strlen(p), lens[2]);
                ck_assert_uint_eq(strlen(c), lens[1]);
            }
            free(copy);
        }
    }
    free(m);
}
END_TEST

Suite *scram_suite(void)
{
    Suite *s = suite_create("scram");
    TCase *tc = tcase_create("vectors");
    tcase_add_loop_test(tc, the_rfc5802_sha1_exchange_matches_its_vector, 0, 2);
    tcase_add_loop_test(tc, the_rfc7677_sha256_exchange_matches_its_vector, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("exchange");
    tcase_add_test(tc, the_right_password_succeeds_and_a_wrong_one_is_not_authorized);
    tcase_add_test(tc, an_unknown_user_gets_a_challenge_like_any_other);
    tcase_add_test(tc, a_tampered_client_final_is_refused);
    tcase_add_test(tc, client_first_is_parsed_strictly_with_escapes_and_saslprep);
    tcase_add_test(tc, steps_out_of_order_are_refused_and_leak_nothing);
    tcase_add_test(tc, channel_binding_must_match_the_tls_connection);
    suite_add_tcase(s, tc);
    tc = tcase_create("helpers");
    tcase_add_test(tc, derived_keys_are_salted_and_verify_the_prepared_password);
    tcase_add_test(tc, saslprep_maps_spaces_drops_invisible_characters_and_refuses_controls);
    tcase_add_test(tc, plain_messages_split_into_authzid_user_and_password_or_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
