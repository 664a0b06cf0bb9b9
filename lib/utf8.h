/* utf8.h — strict UTF-8 decoding and encoding for the string-preparation
 * code (JIDs, SASLprep). */
#ifndef PL_UTF8_H
#define PL_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Decodes one code point at s[*i] and advances *i.  Returns -1 on anything
 * that is not well-formed UTF-8: stray continuation bytes, truncated or
 * overlong sequences, surrogates and values above U+10FFFF. */
int pl_utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp);
/* Appends the UTF-8 encoding of cp. */
void pl_utf8_put(pl_buf_t *b, uint32_t cp);

#endif
