/* test_seal.c — encryption at rest: key files (format, permissions, rotation,
 * generation), sealed records against a known-answer vector and plain EVP,
 * and every way a record can be damaged, truncated or moved. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/seal-private.h"
#include "tests/unit/suites.h"

#define KEY1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY2 "F0E1D2C3B4A5968778695A4B3C2D1E0F00112233445566778899AABBCCDDEEFF"
#define CTX                                                                                        \
    "alice@example.test\0"                                                                         \
    "01J0000000001"
#define CTXLEN (sizeof(CTX) - 1)

/* ---- helpers ---- */

static char dir[64];

static void setup(void)
{
    strcpy(dir, "/tmp/pl-seal-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes text to dir/name with mode; returns the path (static buffer). */
static const char *keyfile(const char *name, const char *text, mode_t mode)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static pl_seal_t *load_ok(const char *path)
{
    pl_seal_t *k = NULL;
    char *err = NULL;
    int rc = pl_seal_load(path, &k, &err);
    ck_assert_msg(rc == 0, "load %s: %d %s", path, rc, err ? err : "(no message)");
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* Expects the load to fail with rc and a message holding every `want`. */
static void load_fails(const char *path, int rc_want, const char *want1, const char *want2)
{
    pl_seal_t *k = (pl_seal_t *)1;
    char *err = NULL;
    int rc = pl_seal_load(path, &k, &err);
    ck_assert_msg(rc == rc_want, "load %s: rc %d, expected %d (%s)", path, rc, rc_want,
                  err ? err : "");
    ck_assert_ptr_null(k);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, path), "message does not name the file: %s", err);
    ck_assert_msg(!want1 || strstr(err, want1), "message lacks '%s': %s", want1, err);
    ck_assert_msg(!want2 || strstr(err, want2), "message lacks '%s': %s", want2, err);
    free(err);
}

static pl_seal_t *ring(const char *text)
{
    return load_ok(keyfile("keys", text, 0600));
}

static void seal(const pl_seal_t *k, const void *plain, size_t len, pl_buf_t *out)
{
    pl_buf_init(out);
    ck_assert_int_eq(pl_seal_encrypt(k, CTX, CTXLEN, plain, len, out), 0);
    ck_assert_uint_eq(out->len, len + PL_SEAL_OVERHEAD);
}

static int open_rec(const pl_seal_t *k, const void *aad, size_t aadlen, const void *rec, size_t len,
                    pl_buf_t *out)
{
    pl_buf_init(out);
    return pl_seal_decrypt(k, aad, aadlen, rec, len, out);
}

static uint32_t rec_key_id(const pl_buf_t *rec)
{
    const unsigned char *r = (const unsigned char *)rec->data;
    return (uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 | (uint32_t)r[4] << 8 | r[5];
}

static void hex_decode(const char *hex, unsigned char *out)
{
    for (size_t i = 0; hex[2 * i]; i++)
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2hhx", &out[i]), 1);
}

/* ---- records ---- */

START_TEST(a_sealed_record_opens_to_the_same_bytes_and_nonces_differ)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    ck_assert_uint_eq(pl_seal_current_id(k), 1);
    const char *msg = "<message to='alice@example.test'><body>hi</body></message>";
    pl_buf_t rec, rec2, out;
    seal(k, msg, strlen(msg), &rec);
    const unsigned char *r = (const unsigned char *)rec.data;
    ck_assert_int_eq(r[0], PL_SEAL_MAGIC);
    ck_assert_int_eq(r[1], PL_SEAL_VERSION);
    ck_assert_uint_eq(rec_key_id(&rec), 1);
    ck_assert_int_eq(pl_seal_is_sealed(rec.data, rec.len), 1);
    ck_assert_ptr_null(memmem(rec.data, rec.len, "body", 4));

    /* Decrypting appends to what the buffer held. */
    pl_buf_init(&out);
    pl_buf_puts(&out, "prefix:");
    ck_assert_int_eq(pl_seal_decrypt(k, CTX, CTXLEN, rec.data, rec.len, &out), 0);
    ck_assert_uint_eq(out.len, 7 + strlen(msg));
    ck_assert_mem_eq(out.data, "prefix:", 7);
    ck_assert_mem_eq(out.data + 7, msg, strlen(msg));

    /* Random nonces: the same message seals differently each time. */
    seal(k, msg, strlen(msg), &rec2);
    ck_assert_int_ne(memcmp(rec.data + 6, rec2.data + 6, PL_SEAL_NONCE_LEN), 0);
    ck_assert_int_ne(memcmp(rec.data, rec2.data, rec.len), 0);
    pl_buf_deinit(&rec);
    pl_buf_deinit(&rec2);
    pl_buf_deinit(&out);
    pl_seal_free(&k);
}
END_TEST

/* The AES-256-GCM vector of the GCM specification (McGrew & Viega, test
 * case 16; also in OpenSSL's evpciph_aes_gcm tests).  The ciphertext does
 * not depend on the authenticated data, so it must match as published; the
 * tag covers our header + context, so it is checked against EVP directly. */
START_TEST(sealing_matches_the_published_aes_gcm_vector)
{
    static const char *K = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    static const char *IV = "cafebabefacedbaddecaf888";
    static const char *P = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                           "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    static const char *C = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                           "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
    static const char *A = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
    static const char *T = "76fc6ece0f4e1768cddf8853bb2d551b";
    unsigned char key[32], iv[12], p[60], c[60], a[20], t[16];
    hex_decode(K, key);
    hex_decode(IV, iv);
    hex_decode(P, p);
    hex_decode(C, c);
    hex_decode(A, a);
    hex_decode(T, t);

    char text[128];
    snprintf(text, sizeof(text), "# the spec's key\n7 %s\n", K);
    pl_seal_t *k = ring(text);
    pl_buf_t rec, out;
    pl_buf_init(&rec);
    ck_assert_int_eq(pl_seal_encrypt_nonce(k, iv, a, sizeof(a), p, sizeof(p), &rec), 0);
    ck_assert_uint_eq(rec.len, PL_SEAL_OVERHEAD + sizeof(p));
    const unsigned char *r = (const unsigned char *)rec.data;
    static const unsigned char header[6] = {PL_SEAL_MAGIC, PL_SEAL_VERSION, 0, 0, 0, 7};
    ck_assert_mem_eq(r, header, 6);
    ck_assert_mem_eq(r + 6, iv, 12);
    ck_assert_mem_eq(r + PL_SEAL_HEADER_LEN, c, sizeof(c));

    /* The tag, by plain EVP over AAD = header || context. */
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char buf[64], tag[16];
    int n = 0;
    ck_assert(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv));
    ck_assert(EVP_EncryptUpdate(ctx, NULL, &n, r, PL_SEAL_HEADER_LEN));
    ck_assert(EVP_EncryptUpdate(ctx, NULL, &n, a, sizeof(a)));
    ck_assert(EVP_EncryptUpdate(ctx, buf, &n, p, sizeof(p)));
    ck_assert(EVP_EncryptFinal_ex(ctx, buf + n, &n));
    ck_assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag));
    ck_assert_mem_eq(r + PL_SEAL_HEADER_LEN + sizeof(p), tag, 16);

    /* And the same EVP path reproduces the published tag with the
     * published AAD, so the comparison above means something. */
    ck_assert(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv));
    ck_assert(EVP_EncryptUpdate(ctx, NULL, &n, a, sizeof(a)));
    ck_assert(EVP_EncryptUpdate(ctx, buf, &n, p, sizeof(p)));
    ck_assert(EVP_EncryptFinal_ex(ctx, buf + n, &n));
    ck_assert(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag));
    ck_assert_mem_eq(tag, t, 16);
    EVP_CIPHER_CTX_free(ctx);

    ck_assert_int_eq(open_rec(k, a, sizeof(a), rec.data, rec.len, &out), 0);
    ck_assert_uint_eq(out.len, sizeof(p));
    ck_assert_mem_eq(out.data, p, sizeof(p));
    pl_buf_deinit(&rec);
    pl_buf_deinit(&out);
    pl_seal_free(&k);
}
END_TEST

/* Every bit of every byte: the magic and version make it not a record we
 * read, the key id names a key we lack, anything else fails the tag. */
START_TEST(flipping_any_bit_of_a_record_stops_it_opening)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_t rec, out;
    seal(k, "sixteen bytes!!!", 16, &rec);
    unsigned char *r = (unsigned char *)rec.data;
    for (size_t i = 0; i < rec.len; i++) {
        int want = i < 2 ? -EINVAL : i < 6 ? -ENOKEY : -EBADMSG;
        for (int bit = 0; bit < 8; bit++) {
            r[i] ^= (unsigned char)(1u << bit);
            int rc = open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out);
            ck_assert_msg(rc == want, "byte %zu bit %d: rc %d, expected %d", i, bit, rc, want);
            ck_assert_uint_eq(out.len, 0);
            pl_buf_deinit(&out);
            r[i] ^= (unsigned char)(1u << bit);
        }
    }
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), 0);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

/* A key id changed to another key the ring holds is caught by the tag. */
START_TEST(a_key_id_changed_to_another_known_key_fails_the_tag)
{
    pl_seal_t *k = ring("1 " KEY1 "\n2 " KEY2 "\n");
    pl_buf_t rec, out;
    seal(k, "hello", 5, &rec);
    ck_assert_uint_eq(rec_key_id(&rec), 2);
    rec.data[5] = 1;
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), -EBADMSG);
    ck_assert_uint_eq(out.len, 0);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

/* A record moved to another user or another row does not open. */
START_TEST(a_record_moved_to_another_user_or_row_does_not_open)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_t rec, out;
    seal(k, "hello", 5, &rec);
    static const char other_user[] = "mallory@example.test\0"
                                     "01J0000000001";
    static const char other_row[] = "alice@example.test\0"
                                    "01J0000000002";
    ck_assert_int_eq(open_rec(k, other_user, sizeof(other_user) - 1, rec.data, rec.len, &out),
                     -EBADMSG);
    pl_buf_deinit(&out);
    ck_assert_int_eq(open_rec(k, other_row, sizeof(other_row) - 1, rec.data, rec.len, &out),
                     -EBADMSG);
    pl_buf_deinit(&out);
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN - 1, rec.data, rec.len, &out), -EBADMSG);
    pl_buf_deinit(&out);
    ck_assert_int_eq(open_rec(k, NULL, 0, rec.data, rec.len, &out), -EBADMSG);
    pl_buf_deinit(&out);
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), 0);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

START_TEST(a_truncated_or_extended_record_does_not_open)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_t rec, out;
    seal(k, "some message text", 17, &rec);
    for (size_t len = 0; len < rec.len; len++) {
        int rc = open_rec(k, CTX, CTXLEN, rec.data, len, &out);
        ck_assert_msg(rc == -EBADMSG, "length %zu: rc %d", len, rc);
        ck_assert_uint_eq(out.len, 0);
        pl_buf_deinit(&out);
    }
    pl_buf_append(&rec, "", 1);
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), -EBADMSG);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

/* Records written before a key was configured are plain XML. */
START_TEST(plain_records_are_not_sealed)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    static const char plain[] = "<message xmlns='jabber:client'><body>old</body></message>";
    pl_buf_t out;
    ck_assert_int_eq(pl_seal_is_sealed(plain, sizeof(plain) - 1), 0);
    ck_assert_int_eq(pl_seal_is_sealed("", 0), 0);
    ck_assert_int_eq(pl_seal_is_sealed(NULL, 0), 0);
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, plain, sizeof(plain) - 1, &out), -EINVAL);
    pl_buf_deinit(&out);
    /* A newer version is sealed, but not readable by this build. */
    pl_buf_t rec;
    seal(k, "x", 1, &rec);
    rec.data[1] = 2;
    ck_assert_int_eq(pl_seal_is_sealed(rec.data, rec.len), 1);
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), -EINVAL);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

START_TEST(an_empty_plaintext_is_sealed_and_authenticated)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_t rec, out;
    seal(k, NULL, 0, &rec);
    ck_assert_uint_eq(rec.len, PL_SEAL_OVERHEAD);
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), 0);
    ck_assert_uint_eq(out.len, 0);
    pl_buf_deinit(&out);
    rec.data[rec.len - 1] ^= 1;
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), -EBADMSG);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

START_TEST(a_megabyte_seals_opens_and_shows_a_flipped_bit)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    size_t len = 1u << 20;
    unsigned char *big = malloc(len);
    for (size_t i = 0; i < len; i++)
        big[i] = (unsigned char)(i * 131 + (i >> 8));
    pl_buf_t rec, out;
    seal(k, big, len, &rec);
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), 0);
    ck_assert_uint_eq(out.len, len);
    ck_assert_int_eq(memcmp(out.data, big, len), 0);
    pl_buf_deinit(&out);
    rec.data[rec.len / 2] ^= 0x40;
    ck_assert_int_eq(open_rec(k, CTX, CTXLEN, rec.data, rec.len, &out), -EBADMSG);
    ck_assert_uint_eq(out.len, 0);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    free(big);
    pl_seal_free(&k);
}
END_TEST

/* The archive opens records on a thread pool with one shared ring. */
typedef struct worker {
    const pl_seal_t *k;
    int failures;
} worker_t;

static void *worker_run(void *ud)
{
    worker_t *w = ud;
    char msg[64];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(msg, sizeof(msg), "message %d from %p", i, ud);
        pl_buf_t rec, out;
        pl_buf_init(&rec);
        pl_buf_init(&out);
        if (pl_seal_encrypt(w->k, CTX, CTXLEN, msg, (size_t)n, &rec) != 0 ||
            pl_seal_decrypt(w->k, CTX, CTXLEN, rec.data, rec.len, &out) != 0 ||
            out.len != (size_t)n || memcmp(out.data, msg, (size_t)n) != 0)
            w->failures++;
        pl_buf_deinit(&rec);
        pl_buf_deinit(&out);
    }
    return NULL;
}

START_TEST(threads_share_one_key_ring_safely)
{
    pl_seal_t *k = ring("1 " KEY1 "\n2 " KEY2 "\n");
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.k = k};
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].failures, 0);
    }
    pl_seal_free(&k);
}
END_TEST

/* ---- key files ---- */

START_TEST(rotation_keeps_old_records_readable)
{
    const char *path = keyfile("keys", "1 " KEY1 "\n", 0600);
    pl_seal_t *k1 = load_ok(path);
    pl_buf_t old, rec, out;
    seal(k1, "before rotation", 15, &old);
    ck_assert_uint_eq(rec_key_id(&old), 1);
    pl_seal_free(&k1);

    keyfile("keys", "1 " KEY1 "\n# rotated\n2 " KEY2 "\n", 0600);
    pl_seal_t *k2 = load_ok(path);
    ck_assert_uint_eq(pl_seal_current_id(k2), 2);
    ck_assert_int_eq(open_rec(k2, CTX, CTXLEN, old.data, old.len, &out), 0);
    ck_assert_mem_eq(out.data, "before rotation", 15);
    pl_buf_deinit(&out);
    seal(k2, "after rotation", 14, &rec);
    ck_assert_uint_eq(rec_key_id(&rec), 2);
    pl_seal_free(&k2);

    /* Once key 1 leaves the file, its records no longer open. */
    pl_seal_t *k3 = ring("2 " KEY2 "\n");
    ck_assert_int_eq(open_rec(k3, CTX, CTXLEN, old.data, old.len, &out), -ENOKEY);
    pl_buf_deinit(&out);
    ck_assert_int_eq(open_rec(k3, CTX, CTXLEN, rec.data, rec.len, &out), 0);
    pl_buf_deinit(&out);
    pl_seal_free(&k3);
    pl_buf_deinit(&old);
    pl_buf_deinit(&rec);
}
END_TEST

/* The last line is current, whatever its id; comments, blank lines,
 * indentation and CRLF are fine. */
START_TEST(the_key_file_takes_comments_blank_lines_and_crlf)
{
    pl_seal_t *k = ring("# parley keys\r\n\r\n   5 " KEY2 "  \r\n\t# old one next\n"
                        "2\t" KEY1 "\n\n# end");
    ck_assert_uint_eq(pl_seal_current_id(k), 2);
    pl_seal_free(&k);
    k = ring("4294967295 " KEY1);
    ck_assert_uint_eq(pl_seal_current_id(k), 4294967295u);
    pl_seal_free(&k);
}
END_TEST

START_TEST(a_key_file_group_or_others_may_touch_is_refused)
{
    load_fails(keyfile("keys", "1 " KEY1 "\n", 0640), -EPERM, "group or others", "chmod 600");
    load_fails(keyfile("keys", "1 " KEY1 "\n", 0604), -EPERM, "mode 0604", NULL);
    load_fails(keyfile("keys", "1 " KEY1 "\n", 0620), -EPERM, "mode 0620", NULL);
    pl_seal_t *k = load_ok(keyfile("keys", "1 " KEY1 "\n", 0400));
    pl_seal_free(&k);
    k = load_ok(keyfile("keys", "1 " KEY1 "\n", 0600));
    pl_seal_free(&k);
}
END_TEST

START_TEST(a_missing_key_file_or_a_directory_is_refused)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/absent", dir);
    load_fails(path, -ENOENT, "cannot open", NULL);
    snprintf(path, sizeof(path), "%s/sub", dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    load_fails(path, -EINVAL, "not a regular file", NULL);
}
END_TEST

START_TEST(bad_lines_are_refused_with_their_line_number)
{
    static const struct {
        const char *text, *where, *why;
    } cases[] = {
        {.text = "# c\n1 " KEY1 "x\n", .where = "line 2:", .why = "not a hex digit"},
        {.text = "1 zz" KEY1 "\n", .where = "line 1:", .why = "not a hex digit"},
        {.text = "\n\n1 0011\n", .where = "line 3:", .why = "found 4"},
        {.text = "1 " KEY1 "00\n", .where = "line 1:", .why = "found 66"},
        {.text = "1 " KEY1 "\n\n1 " KEY2 "\n", .where = "line 3:", .why = "already used on line 1"},
        {.text = "0 " KEY1 "\n", .where = "line 1:", .why = "from 1 to 4294967295"},
        {.text = "4294967296 " KEY1 "\n", .where = "line 1:", .why = "from 1 to 4294967295"},
        {.text = "-1 " KEY1 "\n", .where = "line 1:", .why = "from 1 to 4294967295"},
        {.text = "1x " KEY1 "\n", .where = "line 1:", .why = "from 1 to 4294967295"},
        {.text = KEY1 "\n", .where = "line 1:", .why = "from 1 to 4294967295"},
        {.text = "1 " KEY1 "\n2\n", .where = "line 2:", .why = "without a key"},
        {.text = "1 " KEY1 " # note\n", .where = "line 1:", .why = "unexpected text"},
        {.text = "", .where = "holds no key", .why = NULL},
        {.text = "# nothing yet\n\n", .where = "holds no key", .why = NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        load_fails(keyfile("keys", cases[i].text, 0600), -EINVAL, cases[i].where, cases[i].why);

    char longline[1024];
    memset(longline, ' ', sizeof(longline) - 1);
    longline[sizeof(longline) - 1] = '\0';
    char text[1200];
    snprintf(text, sizeof(text), "1 " KEY1 "\n%s\n", longline);
    load_fails(keyfile("keys", text, 0600), -EINVAL, "line 2:", "too long");
}
END_TEST

/* ---- key generation (parleyctl key generate) ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(generate_creates_a_file_then_appends_keys)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/new.keys", dir);
    uint32_t id = 0;
    char *err = NULL;
    ck_assert_int_eq(pl_seal_generate(path, &id, &err), 0);
    ck_assert_ptr_null(err);
    ck_assert_uint_eq(id, 1);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    pl_seal_t *k1 = load_ok(path);
    ck_assert_uint_eq(pl_seal_current_id(k1), 1);
    pl_buf_t old, out;
    seal(k1, "sealed with 1", 13, &old);

    ck_assert_int_eq(pl_seal_generate(path, &id, &err), 0);
    ck_assert_uint_eq(id, 2);
    pl_seal_t *k2 = load_ok(path);
    ck_assert_uint_eq(pl_seal_current_id(k2), 2);
    ck_assert_int_eq(open_rec(k2, CTX, CTXLEN, old.data, old.len, &out), 0);
    pl_buf_deinit(&out);
    /* Two generated keys differ, and key 1 is unchanged. */
    pl_buf_t rec;
    seal(k2, "sealed with 2", 13, &rec);
    ck_assert_int_eq(open_rec(k1, CTX, CTXLEN, rec.data, rec.len, &out), -ENOKEY);
    pl_buf_deinit(&out);
    ck_assert_int_eq(open_rec(k2, CTX, CTXLEN, rec.data, rec.len, &out), 0);
    pl_buf_deinit(&out);
    ck_assert_ptr_nonnull(strstr(slurp(path), "# key 2 generated "));
    pl_buf_deinit(&old);
    pl_buf_deinit(&rec);
    pl_seal_free(&k1);
    pl_seal_free(&k2);
}
END_TEST

/* The next id follows the highest one, and a missing final newline does
 * not glue the new key onto the last line. */
START_TEST(generate_numbers_after_hand_written_keys)
{
    const char *path = keyfile("keys", "9 " KEY1 "\n3 " KEY2, 0600);
    uint32_t id = 0;
    char *err = NULL;
    ck_assert_int_eq(pl_seal_generate(path, &id, &err), 0);
    ck_assert_uint_eq(id, 10);
    pl_seal_t *k = load_ok(path);
    ck_assert_uint_eq(pl_seal_current_id(k), 10);
    pl_seal_free(&k);

    path = keyfile("keys", "# only a comment\n", 0600);
    ck_assert_int_eq(pl_seal_generate(path, &id, &err), 0);
    ck_assert_uint_eq(id, 1);
}
END_TEST

START_TEST(generate_leaves_a_shared_or_broken_file_untouched)
{
    uint32_t id = 0;
    char *err = NULL;
    const char *path = keyfile("keys", "1 " KEY1 "\n", 0644);
    ck_assert_int_eq(pl_seal_generate(path, &id, &err), -EPERM);
    ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
    free(err);
    err = NULL;
    ck_assert_str_eq(slurp(path), "1 " KEY1 "\n");

    path = keyfile("keys", "1 " KEY1 "\n1 " KEY2 "\n", 0600);
    ck_assert_int_eq(pl_seal_generate(path, &id, &err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 2"));
    free(err);
    err = NULL;
    ck_assert_str_eq(slurp(path), "1 " KEY1 "\n1 " KEY2 "\n");

    path = keyfile("keys", "4294967295 " KEY1 "\n", 0600);
    ck_assert_int_eq(pl_seal_generate(path, &id, &err), -ERANGE);
    free(err);
}
END_TEST

/* ---- framed records (what the stores keep) ---- */

#define MSG "<message><body>hi</body></message>"

static const pl_seal_frame_t offline_frame = {.label = "offline",
                                              .owner = "alice@example.test",
                                              .item = "01J0000000001",
                                              .plain_tag = 0,
                                              .sealed_tag = 1};

/* Unframes rec into a fresh scratch buffer; the payload is copied out as a
 * string into *text (caller frees) when it opens. */
static int unframe(const pl_seal_t *k, const pl_seal_frame_t *f, const void *rec, size_t len,
                   char **text)
{
    pl_buf_t scratch;
    pl_buf_init(&scratch);
    const void *payload = NULL;
    size_t plen = 0;
    int rc = pl_seal_unframe(k, f, rec, len, &scratch, &payload, &plen);
    *text = rc == 0 ? strndup(payload, plen) : NULL;
    pl_buf_deinit(&scratch);
    return rc;
}

/* The bytes stores already hold: the store's tag, then a record sealed
 * under "label" NUL owner NUL item.  Changing that context would make
 * every sealed record on disk unreadable. */
START_TEST(a_sealed_frame_is_the_tag_and_a_record_bound_to_label_owner_item)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_t rec, out;
    pl_buf_init(&rec);
    ck_assert_int_eq(pl_seal_frame(k, &offline_frame, MSG, strlen(MSG), &rec), 0);
    ck_assert_uint_eq(rec.len, 1 + strlen(MSG) + PL_SEAL_OVERHEAD);
    ck_assert_int_eq(rec.data[0], 1);
    ck_assert_int_eq(pl_seal_is_sealed(rec.data + 1, rec.len - 1), 1);
    static const char aad[] = "offline\0alice@example.test\0"
                              "01J0000000001";
    ck_assert_int_eq(open_rec(k, aad, sizeof(aad) - 1, rec.data + 1, rec.len - 1, &out), 0);
    ck_assert_uint_eq(out.len, strlen(MSG));
    ck_assert_mem_eq(out.data, MSG, strlen(MSG));

    char *text;
    ck_assert_int_eq(unframe(k, &offline_frame, rec.data, rec.len, &text), 0);
    ck_assert_str_eq(text, MSG);
    free(text);
    pl_buf_deinit(&out);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

START_TEST(without_a_ring_a_frame_is_the_plain_tag_and_the_payload)
{
    pl_buf_t rec;
    pl_buf_init(&rec);
    ck_assert_int_eq(pl_seal_frame(NULL, &offline_frame, MSG, strlen(MSG), &rec), 0);
    ck_assert_uint_eq(rec.len, 1 + strlen(MSG));
    ck_assert_int_eq(rec.data[0], 0);
    ck_assert_mem_eq(rec.data + 1, MSG, strlen(MSG));

    /* A plain payload is read where it lies, with or without a ring. */
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_t scratch;
    pl_buf_init(&scratch);
    const void *payload = NULL;
    size_t plen = 0;
    ck_assert_int_eq(
        pl_seal_unframe(k, &offline_frame, rec.data, rec.len, &scratch, &payload, &plen), 0);
    ck_assert_ptr_eq(payload, rec.data + 1);
    ck_assert_uint_eq(plen, strlen(MSG));
    ck_assert_int_eq(
        pl_seal_unframe(NULL, &offline_frame, rec.data, rec.len, &scratch, &payload, &plen), 0);
    ck_assert_ptr_eq(payload, rec.data + 1);
    /* An empty plain payload is a payload too. */
    ck_assert_int_eq(pl_seal_unframe(k, &offline_frame, "\0", 1, &scratch, &payload, &plen), 0);
    ck_assert_uint_eq(plen, 0);
    pl_buf_deinit(&scratch);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

START_TEST(an_untagged_store_reads_every_record_without_the_sealed_tag_as_it_is)
{
    const pl_seal_frame_t f = {.label = "inbox",
                               .owner = "alice@example.test",
                               .item = "bob@example.test",
                               .plain_tag = PL_SEAL_UNTAGGED,
                               .sealed_tag = '2'};
    pl_buf_t rec;
    pl_buf_init(&rec);
    ck_assert_int_eq(pl_seal_frame(NULL, &f, "1entry", 6, &rec), 0);
    ck_assert_uint_eq(rec.len, 6);
    ck_assert_mem_eq(rec.data, "1entry", 6);
    char *text;
    ck_assert_int_eq(unframe(NULL, &f, rec.data, rec.len, &text), 0);
    ck_assert_str_eq(text, "1entry");
    free(text);
    ck_assert_int_eq(unframe(NULL, &f, "", 0, &text), 0);
    ck_assert_str_eq(text, "");
    free(text);

    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_reset(&rec);
    ck_assert_int_eq(pl_seal_frame(k, &f, "1entry", 6, &rec), 0);
    ck_assert_int_eq(rec.data[0], '2');
    ck_assert_ptr_null(memmem(rec.data, rec.len, "entry", 5));
    ck_assert_int_eq(unframe(k, &f, rec.data, rec.len, &text), 0);
    ck_assert_str_eq(text, "1entry");
    free(text);
    ck_assert_int_eq(unframe(NULL, &f, rec.data, rec.len, &text), -ENOKEY);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

/* A record copied to another store, account or row does not open, nor
 * does one whose owner and item split the same bytes differently. */
START_TEST(a_sealed_frame_opens_only_in_its_own_place)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    const pl_seal_frame_t here = {
        .label = "archive", .owner = "ab", .item = "c", .plain_tag = 0, .sealed_tag = 1};
    pl_buf_t rec;
    pl_buf_init(&rec);
    ck_assert_int_eq(pl_seal_frame(k, &here, MSG, strlen(MSG), &rec), 0);
    const pl_seal_frame_t elsewhere[] = {
        {.label = "offline", .owner = "ab", .item = "c", .plain_tag = 0, .sealed_tag = 1},
        {.label = "archive", .owner = "ax", .item = "c", .plain_tag = 0, .sealed_tag = 1},
        {.label = "archive", .owner = "ab", .item = "d", .plain_tag = 0, .sealed_tag = 1},
        {.label = "archive", .owner = "a", .item = "bc", .plain_tag = 0, .sealed_tag = 1},
    };
    char *text;
    for (size_t i = 0; i < sizeof(elsewhere) / sizeof(elsewhere[0]); i++)
        ck_assert_int_eq(unframe(k, &elsewhere[i], rec.data, rec.len, &text), -EBADMSG);
    ck_assert_int_eq(unframe(k, &here, rec.data, rec.len, &text), 0);
    free(text);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

START_TEST(unframing_refuses_unknown_tags_damage_and_missing_keys)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_seal_t *other = load_ok(keyfile("other", "2 " KEY2 "\n", 0600));
    char *text;
    ck_assert_int_eq(unframe(k, &offline_frame, "", 0, &text), -EBADMSG);
    ck_assert_int_eq(unframe(k, &offline_frame, "\x07<m/>", 5, &text), -EBADMSG);

    pl_buf_t rec;
    pl_buf_init(&rec);
    ck_assert_int_eq(pl_seal_frame(k, &offline_frame, MSG, strlen(MSG), &rec), 0);
    ck_assert_int_eq(unframe(NULL, &offline_frame, rec.data, rec.len, &text), -ENOKEY);
    ck_assert_int_eq(unframe(other, &offline_frame, rec.data, rec.len, &text), -ENOKEY);
    ck_assert_int_eq(unframe(k, &offline_frame, rec.data, rec.len - 1, &text), -EBADMSG);
    ck_assert_int_eq(unframe(k, &offline_frame, rec.data, 2, &text), -EBADMSG);
    /* A sealed record of a version this build does not read is damage to
     * the store, not a bad argument. */
    rec.data[2] = PL_SEAL_VERSION + 1;
    ck_assert_int_eq(unframe(k, &offline_frame, rec.data, rec.len, &text), -EBADMSG);
    pl_buf_deinit(&rec);
    pl_seal_free(&other);
    pl_seal_free(&k);
}
END_TEST

/* The scratch buffer is emptied before a sealed payload lands in it, so a
 * buffer reused across records never hands back the previous one. */
START_TEST(unframing_a_sealed_record_empties_the_scratch_buffer_first)
{
    pl_seal_t *k = ring("1 " KEY1 "\n");
    pl_buf_t rec, scratch;
    pl_buf_init(&rec);
    pl_buf_init(&scratch);
    pl_buf_puts(&scratch, "the previous record");
    ck_assert_int_eq(pl_seal_frame(k, &offline_frame, MSG, strlen(MSG), &rec), 0);
    const void *payload;
    size_t plen;
    ck_assert_int_eq(
        pl_seal_unframe(k, &offline_frame, rec.data, rec.len, &scratch, &payload, &plen), 0);
    ck_assert_uint_eq(plen, strlen(MSG));
    ck_assert_mem_eq(payload, MSG, plen);
    ck_assert_uint_eq(scratch.len, strlen(MSG));
    pl_buf_deinit(&scratch);
    pl_buf_deinit(&rec);
    pl_seal_free(&k);
}
END_TEST

Suite *seal_suite(void)
{
    Suite *s = suite_create("seal");
    TCase *rec = tcase_create("records");
    tcase_add_checked_fixture(rec, setup, teardown);
    tcase_add_test(rec, a_sealed_record_opens_to_the_same_bytes_and_nonces_differ);
    tcase_add_test(rec, sealing_matches_the_published_aes_gcm_vector);
    tcase_add_test(rec, flipping_any_bit_of_a_record_stops_it_opening);
    tcase_add_test(rec, a_key_id_changed_to_another_known_key_fails_the_tag);
    tcase_add_test(rec, a_record_moved_to_another_user_or_row_does_not_open);
    tcase_add_test(rec, a_truncated_or_extended_record_does_not_open);
    tcase_add_test(rec, plain_records_are_not_sealed);
    tcase_add_test(rec, an_empty_plaintext_is_sealed_and_authenticated);
    tcase_add_test(rec, a_megabyte_seals_opens_and_shows_a_flipped_bit);
    tcase_add_test(rec, threads_share_one_key_ring_safely);
    suite_add_tcase(s, rec);
    TCase *fr = tcase_create("framed records");
    tcase_add_checked_fixture(fr, setup, teardown);
    tcase_add_test(fr, a_sealed_frame_is_the_tag_and_a_record_bound_to_label_owner_item);
    tcase_add_test(fr, without_a_ring_a_frame_is_the_plain_tag_and_the_payload);
    tcase_add_test(fr, an_untagged_store_reads_every_record_without_the_sealed_tag_as_it_is);
    tcase_add_test(fr, a_sealed_frame_opens_only_in_its_own_place);
    tcase_add_test(fr, unframing_refuses_unknown_tags_damage_and_missing_keys);
    tcase_add_test(fr, unframing_a_sealed_record_empties_the_scratch_buffer_first);
    suite_add_tcase(s, fr);
    TCase *kf = tcase_create("key file");
    tcase_add_checked_fixture(kf, setup, teardown);
    tcase_add_test(kf, rotation_keeps_old_records_readable);
    tcase_add_test(kf, the_key_file_takes_comments_blank_lines_and_crlf);
    tcase_add_test(kf, a_key_file_group_or_others_may_touch_is_refused);
    tcase_add_test(kf, a_missing_key_file_or_a_directory_is_refused);
    tcase_add_test(kf, bad_lines_are_refused_with_their_line_number);
    tcase_add_test(kf, generate_creates_a_file_then_appends_keys);
    tcase_add_test(kf, generate_numbers_after_hand_written_keys);
    tcase_add_test(kf, generate_leaves_a_shared_or_broken_file_untouched);
    suite_add_tcase(s, kf);
    return s;
}
