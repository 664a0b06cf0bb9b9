/* seal.c — encryption at rest: the key ring read from the operator's key
 * file, AES-256-GCM sealed records, and key generation for parleyctl.
 * The format and the rules are described in seal.h and docs/ENCRYPTION.md. */
#include "storage/seal-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct seal_key {
    uint32_t id;
    size_t line; /* where it was read, for the duplicate-id message */
    unsigned char bytes[PL_SEAL_KEY_LEN];
} seal_key_t;

struct pl_seal {
    seal_key_t *keys; /* in file order; the last one is current */
    size_t n, cap;
    /* Fetched once: an implicit fetch inside every EVP init takes a lock
     * in OpenSSL 3, which the archive's reader threads would contend on. */
    EVP_CIPHER *cipher;
};

/* Largest piece handed to one EVP update (its lengths are int). */
#define SEAL_CHUNK (1u << 30)

/* ---- errors ---- */

/* Sets *error (when wanted) to a new formatted message. */
__attribute__((format(printf, 2, 3))) static void set_error(char **error, const char *fmt, ...)
{
    if (!error)
        return;
    pl_buf_t b;
    pl_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    pl_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    pl_buf_cstr(&b);
    *error = b.data;
}

/* ---- the ring ---- */

static pl_seal_t *ring_new(void)
{
    pl_seal_t *k = calloc(1, sizeof(*k));
    if (!k)
        abort();
    return k;
}

/* Adds a key.  Grows by copying and wiping rather than realloc, which
 * could leave key bytes behind in freed memory. */
static void ring_add(pl_seal_t *k, uint32_t id, size_t line, const unsigned char *bytes)
{
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 4;
        seal_key_t *keys = calloc(cap, sizeof(*keys));
        if (!keys)
            abort();
        if (k->n) {
            memcpy(keys, k->keys, k->n * sizeof(*keys));
            OPENSSL_cleanse(k->keys, k->n * sizeof(*keys));
        }
        free(k->keys);
        k->keys = keys;
        k->cap = cap;
    }
    seal_key_t *key = &k->keys[k->n++];
    key->id = id;
    key->line = line;
    memcpy(key->bytes, bytes, PL_SEAL_KEY_LEN);
}

static const seal_key_t *ring_find(const pl_seal_t *k, uint32_t id)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->keys[i].id == id)
            return &k->keys[i];
    return NULL;
}

void pl_seal_free(pl_seal_t **kp)
{
    pl_seal_t *k = kp ? *kp : NULL;
    if (!k)
        return;
    *kp = NULL;
    if (k->keys)
        OPENSSL_cleanse(k->keys, k->cap * sizeof(*k->keys));
    free(k->keys);
    EVP_CIPHER_free(k->cipher);
    free(k);
}

uint32_t pl_seal_current_id(const pl_seal_t *k)
{
    return k && k->n ? k->keys[k->n - 1].id : 0;
}

/* ---- the key file ---- */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses one key line into id and bytes.  Returns 1 for a key, 0 for a
 * blank or comment line, -1 with *why set for a bad line. */
static int parse_line(const char *p, uint32_t *id, unsigned char *bytes, const char **why,
                      size_t *digits)
{
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '#' || *p == '\0' || *p == '\n' || *p == '\r')
        return 0;
    uint64_t v = 0;
    const char *start = p;
    while (*p >= '0' && *p <= '9' && v <= UINT32_MAX)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == start || v == 0 || v > UINT32_MAX || !is_blank(*p)) {
        *why = "the key id must be a whole number from 1 to 4294967295";
        return -1;
    }
    *id = (uint32_t)v;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '\n' || *p == '\r') {
        *why = "a key id without a key";
        return -1;
    }
    size_t n = 0;
    while (hex_value(p[n]) >= 0)
        n++;
    if (!is_blank(p[n]) && p[n] != '\0') {
        *why = "the key holds a character that is not a hex digit";
        return -1;
    }
    if (n != 2 * PL_SEAL_KEY_LEN) {
        *digits = n;
        *why = "the key must be 64 hex digits (32 bytes for AES-256)";
        return -1;
    }
    for (size_t i = 0; i < PL_SEAL_KEY_LEN; i++)
        bytes[i] = (unsigned char)(hex_value(p[2 * i]) << 4 | hex_value(p[2 * i + 1]));
    p += n;
    while (is_blank(*p))
        p++;
    if (*p != '\0') {
        *why = "unexpected text after the key";
        return -1;
    }
    return 1;
}

/* Reads every key of f into k, wiping the line buffer after. */
static int parse_file(FILE *f, const char *path, pl_seal_t *k, char **error)
{
    char line[PL_SEAL_MAX_LINE];
    unsigned char bytes[PL_SEAL_KEY_LEN];
    int rc = 0;
    size_t lineno = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
            set_error(error, "key file %s line %zu: line too long (at most %d bytes)", path, lineno,
                      PL_SEAL_MAX_LINE - 2);
            rc = -EINVAL;
            break;
        }
        uint32_t id = 0;
        const char *why = NULL;
        size_t digits = 0;
        int r = parse_line(line, &id, bytes, &why, &digits);
        if (r < 0) {
            if (digits)
                set_error(error, "key file %s line %zu: %s, found %zu", path, lineno, why, digits);
            else
                set_error(error, "key file %s line %zu: %s", path, lineno, why);
            rc = -EINVAL;
        } else if (r > 0) {
            const seal_key_t *dup = ring_find(k, id);
            if (dup) {
                set_error(error, "key file %s line %zu: key id %u is already used on line %zu",
                          path, lineno, id, dup->line);
                rc = -EINVAL;
            } else if (k->n == PL_SEAL_MAX_KEYS) {
                set_error(error, "key file %s line %zu: more than %d keys", path, lineno,
                          PL_SEAL_MAX_KEYS);
                rc = -EINVAL;
            } else {
                ring_add(k, id, lineno, bytes);
            }
        }
    }
    if (rc == 0 && ferror(f)) {
        set_error(error, "cannot read key file %s: %s", path, strerror(errno));
        rc = -EIO;
    }
    OPENSSL_cleanse(line, sizeof(line));
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return rc;
}

/* Parses the open descriptor fd (taking it over) into k.  The stdio
 * buffer is ours, on the stack, so it can be wiped: it held key text. */
static int parse_fd(int fd, const char *path, pl_seal_t *k, char **error)
{
    FILE *f = fdopen(fd, "r");
    if (!f) {
        int e = errno;
        close(fd);
        set_error(error, "cannot read key file %s: %s", path, strerror(e));
        return -e;
    }
    char iobuf[4096];
    setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
    int rc = parse_file(f, path, k, error);
    fclose(f);
    OPENSSL_cleanse(iobuf, sizeof(iobuf));
    return rc;
}

/* Refuses what ssh refuses for a private key: anything but a regular file,
 * and a file others could read or change. */
static int check_file(int fd, const char *path, struct stat *st, char **error)
{
    if (fstat(fd, st) != 0) {
        int e = errno;
        set_error(error, "cannot read key file %s: %s", path, strerror(e));
        return -e;
    }
    if (!S_ISREG(st->st_mode)) {
        set_error(error, "key file %s is not a regular file", path);
        return -EINVAL;
    }
    if (st->st_mode & 077) {
        set_error(error,
                  "key file %s is accessible by group or others (mode %04o): it must be readable "
                  "by its owner only, e.g. chmod 600 %s",
                  path, (unsigned)(st->st_mode & 07777), path);
        return -EPERM;
    }
    return 0;
}

static int fetch_cipher(pl_seal_t *k, char **error)
{
    k->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!k->cipher) {
        set_error(error, "OpenSSL offers no AES-256-GCM cipher");
        return -EIO;
    }
    return 0;
}

int pl_seal_load(const char *path, pl_seal_t **out, char **error)
{
    *out = NULL;
    if (error)
        *error = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        set_error(error, "cannot open key file %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = check_file(fd, path, &st, error);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    pl_seal_t *k = ring_new();
    rc = parse_fd(fd, path, k, error);
    if (rc == 0 && k->n == 0) {
        set_error(error, "key file %s holds no key", path);
        rc = -EINVAL;
    }
    if (rc == 0)
        rc = fetch_cipher(k, error);
    if (rc != 0) {
        pl_seal_free(&k);
        return rc;
    }
    *out = k;
    return 0;
}

/* ---- records ---- */

int pl_seal_is_sealed(const void *rec, size_t len)
{
    return rec && len >= 1 && ((const unsigned char *)rec)[0] == PL_SEAL_MAGIC;
}

static void put_header(unsigned char *h, uint32_t id, const unsigned char *nonce)
{
    h[0] = PL_SEAL_MAGIC;
    h[1] = PL_SEAL_VERSION;
    h[2] = (unsigned char)(id >> 24);
    h[3] = (unsigned char)(id >> 16);
    h[4] = (unsigned char)(id >> 8);
    h[5] = (unsigned char)id;
    memcpy(h + 6, nonce, PL_SEAL_NONCE_LEN);
}

/* Runs the plaintext or ciphertext through ctx in int-sized pieces. */
static int update_all(EVP_CIPHER_CTX *ctx, int enc, unsigned char *dst, const unsigned char *src,
                      size_t len)
{
    while (len > 0) {
        int piece = (int)(len < SEAL_CHUNK ? len : SEAL_CHUNK), outl = 0;
        int ok = enc ? EVP_EncryptUpdate(ctx, dst, &outl, src, piece)
                     : EVP_DecryptUpdate(ctx, dst, &outl, src, piece);
        if (!ok || outl != piece)
            return -1;
        dst += piece;
        src += piece;
        len -= (size_t)piece;
    }
    return 0;
}

/* Feeds the authenticated-only data: the header, then the caller's context. */
static int feed_aad(EVP_CIPHER_CTX *ctx, int enc, const unsigned char *header, const void *aad,
                    size_t aadlen)
{
    int outl = 0;
    int ok = enc ? EVP_EncryptUpdate(ctx, NULL, &outl, header, PL_SEAL_HEADER_LEN)
                 : EVP_DecryptUpdate(ctx, NULL, &outl, header, PL_SEAL_HEADER_LEN);
    const unsigned char *p = aad;
    while (ok && aadlen > 0) {
        int piece = (int)(aadlen < SEAL_CHUNK ? aadlen : SEAL_CHUNK);
        ok = enc ? EVP_EncryptUpdate(ctx, NULL, &outl, p, piece)
                 : EVP_DecryptUpdate(ctx, NULL, &outl, p, piece);
        p += piece;
        aadlen -= (size_t)piece;
    }
    return ok ? 0 : -1;
}

int pl_seal_encrypt_nonce(const pl_seal_t *k, const unsigned char nonce[PL_SEAL_NONCE_LEN],
                          const void *aad, size_t aadlen, const void *plain, size_t len,
                          pl_buf_t *out)
{
    if (!k || !k->n || !out || (!plain && len) || (!aad && aadlen))
        return -EINVAL;
    const seal_key_t *key = &k->keys[k->n - 1];
    pl_buf_reserve(out, len + PL_SEAL_OVERHEAD);
    unsigned char *rec = (unsigned char *)out->data + out->len;
    put_header(rec, key->id, nonce);
    unsigned char *ct = rec + PL_SEAL_HEADER_LEN;

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0;
    int ok = ctx && EVP_EncryptInit_ex2(ctx, k->cipher, key->bytes, nonce, NULL) &&
             feed_aad(ctx, 1, rec, aad, aadlen) == 0 && update_all(ctx, 1, ct, plain, len) == 0 &&
             EVP_EncryptFinal_ex(ctx, ct + len, &outl) && outl == 0 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, PL_SEAL_TAG_LEN, ct + len) > 0;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return -EIO;
    out->len += len + PL_SEAL_OVERHEAD;
    return 0;
}

int pl_seal_encrypt(const pl_seal_t *k, const void *aad, size_t aadlen, const void *plain,
                    size_t len, pl_buf_t *out)
{
    /* Random 96-bit nonces: safe for about 2^32 records per key (NIST
     * SP 800-38D), far beyond a rotation period; see docs/ENCRYPTION.md. */
    unsigned char nonce[PL_SEAL_NONCE_LEN];
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        return -EIO;
    return pl_seal_encrypt_nonce(k, nonce, aad, aadlen, plain, len, out);
}

int pl_seal_decrypt(const pl_seal_t *k, const void *aad, size_t aadlen, const void *rec, size_t len,
                    pl_buf_t *out)
{
    const unsigned char *r = rec;
    if (!k || !out || (!rec && len) || (!aad && aadlen))
        return -EINVAL;
    if ((len >= 1 && r[0] != PL_SEAL_MAGIC) || (len >= 2 && r[1] != PL_SEAL_VERSION))
        return -EINVAL;
    if (len < PL_SEAL_OVERHEAD)
        return -EBADMSG;
    uint32_t id = (uint32_t)r[2] << 24 | (uint32_t)r[3] << 16 | (uint32_t)r[4] << 8 | r[5];
    const seal_key_t *key = ring_find(k, id);
    if (!key)
        return -ENOKEY;
    size_t plen = len - PL_SEAL_OVERHEAD;
    const unsigned char *ct = r + PL_SEAL_HEADER_LEN;
    /* The tag is copied out: EVP wants a non-const buffer for it. */
    unsigned char tag[PL_SEAL_TAG_LEN];
    memcpy(tag, ct + plen, sizeof(tag));
    pl_buf_reserve(out, plen);
    unsigned char *dst = (unsigned char *)out->data + out->len;

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0;
    int ok = ctx && EVP_DecryptInit_ex2(ctx, k->cipher, key->bytes, r + 6, NULL) &&
             feed_aad(ctx, 0, r, aad, aadlen) == 0 && update_all(ctx, 0, dst, ct, plen) == 0 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, PL_SEAL_TAG_LEN, tag) > 0;
    /* Only the final step checks the tag; anything else failing is ours. */
    int rc = !ok ? -EIO : EVP_DecryptFinal_ex(ctx, dst + plen, &outl) > 0 ? 0 : -EBADMSG;
    EVP_CIPHER_CTX_free(ctx);
    if (rc != 0) {
        /* Unauthenticated plaintext must not reach anyone. */
        OPENSSL_cleanse(dst, plen);
        return rc;
    }
    out->len += plen;
    return 0;
}

/* ---- framed records ---- */

/* label NUL owner NUL item: the NULs keep ("a", "bc") and ("ab", "c")
 * apart. */
static void frame_context(const pl_seal_frame_t *f, pl_buf_t *aad)
{
    pl_buf_append(aad, f->label, strlen(f->label) + 1);
    pl_buf_append(aad, f->owner, strlen(f->owner) + 1);
    pl_buf_append(aad, f->item, strlen(f->item));
}

int pl_seal_frame(const pl_seal_t *ring, const pl_seal_frame_t *f, const void *payload, size_t len,
                  pl_buf_t *out)
{
    if (!ring) {
        if (f->plain_tag != PL_SEAL_UNTAGGED) {
            unsigned char tag = (unsigned char)f->plain_tag;
            pl_buf_append(out, &tag, 1);
        }
        pl_buf_append(out, payload, len);
        return 0;
    }
    pl_buf_append(out, &f->sealed_tag, 1);
    pl_buf_t aad;
    pl_buf_init(&aad);
    frame_context(f, &aad);
    int rc = pl_seal_encrypt(ring, aad.data, aad.len, payload, len, out);
    pl_buf_deinit(&aad);
    return rc;
}

int pl_seal_unframe(const pl_seal_t *ring, const pl_seal_frame_t *f, const void *rec, size_t len,
                    pl_buf_t *scratch, const void **payload, size_t *plen)
{
    const unsigned char *p = rec;
    if (len < 1 || p[0] != f->sealed_tag) {
        if (f->plain_tag == PL_SEAL_UNTAGGED) {
            *payload = rec;
            *plen = len;
            return 0;
        }
        if (len < 1 || p[0] != (unsigned char)f->plain_tag)
            return -EBADMSG;
        *payload = p + 1;
        *plen = len - 1;
        return 0;
    }
    if (!ring)
        return -ENOKEY;
    pl_buf_t aad;
    pl_buf_init(&aad);
    frame_context(f, &aad);
    pl_buf_reset(scratch);
    int rc = pl_seal_decrypt(ring, aad.data, aad.len, p + 1, len - 1, scratch);
    pl_buf_deinit(&aad);
    if (rc != 0)
        return rc == -EINVAL ? -EBADMSG : rc; /* not a record this build reads */
    *payload = scratch->data ? scratch->data : "";
    *plen = scratch->len;
    return 0;
}

/* ---- key generation ---- */

/* The highest id in the open key file fd, 0 for none.  Reads through a
 * duplicate descriptor so fd keeps its lock. */
static int highest_id(int fd, const char *path, uint32_t *max, char **error)
{
    int dupfd = dup(fd);
    if (dupfd < 0) {
        int e = errno;
        set_error(error, "cannot read key file %s: %s", path, strerror(e));
        return -e;
    }
    pl_seal_t *k = ring_new();
    int rc = parse_fd(dupfd, path, k, error);
    *max = 0;
    for (size_t i = 0; rc == 0 && i < k->n; i++)
        if (k->keys[i].id > *max)
            *max = k->keys[i].id;
    pl_seal_free(&k);
    return rc;
}

/* Whether a non-empty file lacks its final newline (a line must not be
 * glued onto the last one). */
static int needs_newline(int fd, off_t size)
{
    char c = '\n';
    return size > 0 && pread(fd, &c, 1, size - 1) == 1 && c != '\n';
}

int pl_seal_generate(const char *path, uint32_t *id_out, char **error)
{
    if (error)
        *error = NULL;
    /* O_NOFOLLOW: never write a key through a link someone else placed. */
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        set_error(error, "cannot open key file %s: %s", path, strerror(e));
        return -e;
    }
    /* Two generators at once must not pick the same id. */
    struct stat st;
    uint32_t max = 0;
    int rc = flock(fd, LOCK_EX) == 0 ? 0 : -errno;
    if (rc != 0)
        set_error(error, "cannot lock key file %s: %s", path, strerror(-rc));
    if (rc == 0)
        rc = check_file(fd, path, &st, error);
    if (rc == 0)
        rc = highest_id(fd, path, &max, error);
    if (rc == 0 && max == UINT32_MAX) {
        set_error(error, "key file %s already uses the highest key id", path);
        rc = -ERANGE;
    }
    unsigned char key[PL_SEAL_KEY_LEN];
    char text[160 + 2 * PL_SEAL_KEY_LEN];
    if (rc == 0 && RAND_bytes(key, sizeof(key)) != 1) {
        set_error(error, "the random generator failed");
        rc = -EIO;
    }
    if (rc == 0) {
        char when[32];
        time_t now = time(NULL);
        struct tm tm;
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        int n = snprintf(text, sizeof(text), "%s# key %u generated %s\n%u ",
                         needs_newline(fd, st.st_size) ? "\n" : "", max + 1, when, max + 1);
        for (size_t i = 0; i < sizeof(key); i++)
            n += snprintf(text + n, sizeof(text) - (size_t)n, "%02x", key[i]);
        text[n++] = '\n';
        /* One write, so the line lands whole; fsync before saying it did. */
        ssize_t w = write(fd, text, (size_t)n);
        if (w != n || fsync(fd) != 0) {
            int e = w < 0 || w == n ? errno : EIO;
            set_error(error, "cannot write key file %s: %s", path, strerror(e));
            rc = -e;
        }
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(text, sizeof(text));
    close(fd);
    if (rc == 0 && id_out)
        *id_out = max + 1;
    return rc;
}

/* ---- tokens for a full-text index ---- */

size_t pl_seal_count(const pl_seal_t *k) { return k ? k->n : 0; }

int pl_seal_token(const pl_seal_t *k, size_t which, const char *word, size_t len,
                  char out[PL_SEAL_TOKEN_LEN + 1])
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz234567";
    if (!k || which >= k->n || !word || !len)
        return -EINVAL;
    const seal_key_t *key = &k->keys[which];
    /* The index key: never the sealing key itself. */
    unsigned char label[16], ikey[32], mac[32];
    memcpy(label, "parley fts", 10);
    label[10] = (unsigned char)(key->id >> 24);
    label[11] = (unsigned char)(key->id >> 16);
    label[12] = (unsigned char)(key->id >> 8);
    label[13] = (unsigned char)key->id;
    unsigned ilen = sizeof(ikey), mlen = sizeof(mac);
    if (!HMAC(EVP_sha256(), key->bytes, PL_SEAL_KEY_LEN, label, 14, ikey, &ilen) ||
        !HMAC(EVP_sha256(), ikey, sizeof(ikey), (const unsigned char *)word, len, mac, &mlen)) {
        OPENSSL_cleanse(ikey, sizeof(ikey));
        return -EINVAL;
    }
    OPENSSL_cleanse(ikey, sizeof(ikey));
    /* 16 characters of 5 bits: the first 80 bits of the MAC. */
    for (int i = 0; i < PL_SEAL_TOKEN_LEN; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)mac[byte] << 8 | (byte + 1 < 32 ? mac[byte + 1] : 0)) >> (11 - shift);
        out[i] = digits[v & 31];
    }
    out[PL_SEAL_TOKEN_LEN] = '\0';
    return 0;
}
