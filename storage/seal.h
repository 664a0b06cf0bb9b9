/* seal.h — encryption at rest (IM-6): a key ring read from a key file and
 * sealed records (AES-256-GCM) for payloads the stores keep on disk, such as
 * the stanzas in the offline store and the message archive.
 *
 * Key file: text, one key per line "ID HEX" (ID 1..4294967295 in decimal,
 * HEX 64 hex digits = a 32-byte AES-256 key); blank lines and lines starting
 * with '#' are ignored.  The LAST key line is the current key, used for every
 * new record; every key in the file can decrypt, so rotating is appending a
 * line (old records stay readable while their key stays in the file).  The
 * file must be readable by its owner only (mode & 077 == 0).
 *
 * Sealed record, all integers big-endian:
 *     magic 0xA5 | version 0x01 | key id (u32) | nonce (12 random bytes)
 *     | ciphertext (same length as the plaintext) | GCM tag (16 bytes)
 * The tag authenticates the 18-byte header and a context string given by
 * the caller (e.g. owner JID + record id), so a record copied to another row
 * or another user's store fails to decrypt.  The context is not stored: the
 * reader must pass the same bytes the writer did.
 *
 * Records written before a key was configured are plain.  Stores tell them
 * apart with pl_seal_is_sealed(): a plain payload must therefore never start
 * with the byte 0xA5 (serialised XML starts with '<'; 0xA5 cannot start any
 * UTF-8 text).
 *
 * A loaded ring is immutable: any number of threads may encrypt and decrypt
 * with it at once (each call has its own cipher context). */
#ifndef PL_STORAGE_SEAL_H
#define PL_STORAGE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define PL_SEAL_MAGIC 0xA5
#define PL_SEAL_VERSION 1
#define PL_SEAL_NONCE_LEN 12
#define PL_SEAL_TAG_LEN 16
#define PL_SEAL_KEY_LEN 32
#define PL_SEAL_HEADER_LEN (2 + 4 + PL_SEAL_NONCE_LEN)
/* Bytes a record adds to its plaintext. */
#define PL_SEAL_OVERHEAD (PL_SEAL_HEADER_LEN + PL_SEAL_TAG_LEN)
/* Keys one file may hold, and the longest line read (a key line is ~75). */
#define PL_SEAL_MAX_KEYS 1024
#define PL_SEAL_MAX_LINE 512

typedef struct pl_seal pl_seal_t;

/* Loads the key file at path.  On success returns 0 and *out owns a new
 * ring (pl_seal_free).  On failure returns a negative errno value and
 * *error holds a message for the operator naming the file (and the line
 * for a bad line); the caller frees it.  Refused: a missing or unreadable
 * file, a file that is not a regular file, a file group or others may read
 * or write, a bad line, a duplicate id, a file without any key. */
int pl_seal_load(const char *path, pl_seal_t **out, char **error);

/* Wipes the key bytes, frees the ring and clears *kp; NULL is allowed. */
void pl_seal_free(pl_seal_t **kp);

/* The id of the key new records are sealed with (the last in the file). */
uint32_t pl_seal_current_id(const pl_seal_t *k);

/* Seals plain[0..len) with the current key and appends the record
 * (len + PL_SEAL_OVERHEAD bytes) to out.  aad[0..aadlen) is the context
 * string (may be NULL when aadlen is 0).  Returns 0, or -EIO when the random
 * generator or the cipher fails (out is then unchanged). */
int pl_seal_encrypt(const pl_seal_t *k, const void *aad, size_t aadlen, const void *plain,
                    size_t len, pl_buf_t *out);

/* Opens a sealed record and appends its plaintext to out.  aad must be the
 * context the record was sealed with.  Returns 0, or
 *   -EINVAL   not a sealed record of a format this build reads (wrong magic
 *             byte or an unknown version), or a NULL argument;
 *   -ENOKEY   sealed with a key id that is not in the ring (key removed
 *             from the file, or the id bytes were altered);
 *   -EBADMSG  truncated, or authentication failed: the record, the header
 *             or the context differs from what was sealed;
 *   -EIO      the cipher failed.
 * On error out is unchanged (no unauthenticated plaintext is left in it). */
int pl_seal_decrypt(const pl_seal_t *k, const void *aad, size_t aadlen, const void *rec, size_t len,
                    pl_buf_t *out);

/* ---- framed records: what a store keeps of a payload ----
 * A store puts one format byte of its own in front of a payload:
 * `plain_tag` and the payload itself when no key ring is configured,
 * `sealed_tag` and a sealed record (above) when one is.  The record is
 * sealed with the context  label NUL owner NUL item  (the store, the
 * account, the record within it: "offline", the user, the message id), so
 * a record copied to another store, account or row does not open.  A
 * store whose plain payload opens with a version byte of its own frames
 * only sealed records (plain_tag PL_SEAL_UNTAGGED: every record that does
 * not start with sealed_tag is plain, as it is).  Records written before
 * a key was configured stay readable: readers dispatch on the byte. */
#define PL_SEAL_UNTAGGED (-1)

typedef struct pl_seal_frame {
    const char *label;        /* the store: "archive", "offline", "inbox" */
    const char *owner;        /* the account the record belongs to */
    const char *item;         /* the record within the account */
    int plain_tag;            /* the byte before a plain payload, or PL_SEAL_UNTAGGED */
    unsigned char sealed_tag; /* the byte before a sealed record */
} pl_seal_frame_t;

/* Appends the framed payload[0..len) to out: sealed with the current key
 * of `ring`, or plain when ring is NULL.  Returns 0, or what
 * pl_seal_encrypt returns (out then holds the tag byte only). */
int pl_seal_frame(const pl_seal_t *ring, const pl_seal_frame_t *f, const void *payload, size_t len,
                  pl_buf_t *out);

/* Finds the payload of the framed record rec[0..len): *payload points into
 * rec for a plain one, into `scratch` (emptied first; the caller wipes it
 * when the plaintext is secret) for a sealed one, which is opened.
 * Returns 0, or
 *   -EBADMSG  a format byte the store does not know, or a sealed record
 *             that does not open under this context (moved, altered,
 *             truncated, another version);
 *   -ENOKEY   sealed under a key the ring does not hold, or there is no
 *             ring (the key file is no longer configured);
 *   -EIO      the cipher failed. */
int pl_seal_unframe(const pl_seal_t *ring, const pl_seal_frame_t *f, const void *rec, size_t len,
                    pl_buf_t *scratch, const void **payload, size_t *plen);

/* ---- a searchable index without the words (docs/ENCRYPTION.md, FTS) ----
 * The token of a word under key number `which` of the ring (0 = oldest,
 * pl_seal_count - 1 = current): HMAC-SHA-256 keyed by a key derived from
 * that key ("parley fts" || key id), truncated to 80 bits and written as 16
 * lower-case base32 letters and digits, NUL-terminated.  The caller
 * normalises the word first (case).  Indexes store tokens of the current
 * key; a search looks for the tokens of every key, so records indexed
 * before a rotation are still found.  Returns 0 or -EINVAL. */
#define PL_SEAL_TOKEN_LEN 16
size_t pl_seal_count(const pl_seal_t *k);
int pl_seal_token(const pl_seal_t *k, size_t which, const char *word, size_t len,
                  char out[PL_SEAL_TOKEN_LEN + 1]);

/* 1 when rec starts like a sealed record (the magic byte), else 0.  A
 * record with the magic byte but another version counts as sealed, so a
 * newer format is refused by pl_seal_decrypt rather than read as plain. */
int pl_seal_is_sealed(const void *rec, size_t len);

/* Appends a new random key to the key file at path with the next id (the
 * highest id in the file + 1, or 1), creating the file with mode 0600 when
 * it does not exist.  An existing file must pass the same checks as
 * pl_seal_load (a file holding only comments is fine).  Returns 0 and the
 * new id in *id_out, or a negative errno value and a message in *error
 * (caller frees). */
int pl_seal_generate(const char *path, uint32_t *id_out, char **error);

#endif
