/* seal-private.h — what the unit tests need beyond seal.h: sealing with a
 * nonce the caller chooses, so a record can be compared with a known-answer
 * vector.  Never use it for stored data: a repeated nonce under one key
 * breaks GCM. */
#ifndef PL_STORAGE_SEAL_PRIVATE_H
#define PL_STORAGE_SEAL_PRIVATE_H

#include "storage/seal.h"

int pl_seal_encrypt_nonce(const pl_seal_t *k, const unsigned char nonce[PL_SEAL_NONCE_LEN],
                          const void *aad, size_t aadlen, const void *plain, size_t len,
                          pl_buf_t *out);

#endif
