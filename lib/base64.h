/* base64.h — RFC 4648 base64 (standard alphabet, padded), and the URL-safe
 * alphabet without padding for identifiers. */
#ifndef PL_BASE64_H
#define PL_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Base64 helpers (OpenSSL EVP).  Return a new heap string / buffer, NULL on
 * bad input.  Decoding is strict (no whitespace, '=' only as final padding)
 * and NUL-terminates its result beyond *out_len; "" decodes to an empty,
 * non-NULL buffer. */
char *pl_base64_encode(const uint8_t *data, size_t len);
uint8_t *pl_base64_decode(const char *s, size_t len, size_t *out_len);
/* RFC 4648 §5 base64url ('-' and '_' for '+' and '/') without '=' padding:
 * for identifiers that go in XML attributes and URLs.  A new heap string. */
char *pl_base64url_encode(const uint8_t *data, size_t len);

#endif
