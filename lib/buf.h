/* buf.h — a growable byte buffer used for serialisation and socket output.
 * Owned by whoever declares it; pl_buf_deinit releases the storage. */
#ifndef PL_BUF_H
#define PL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct pl_buf {
    char *data;
    size_t len;
    size_t cap;
} pl_buf_t;

void pl_buf_init(pl_buf_t *b);
void pl_buf_deinit(pl_buf_t *b);
/* Makes room for at least `extra` more bytes; aborts on out-of-memory. */
void pl_buf_reserve(pl_buf_t *b, size_t extra);
void pl_buf_append(pl_buf_t *b, const void *data, size_t len);
void pl_buf_puts(pl_buf_t *b, const char *s);
void pl_buf_printf(pl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pl_buf_vprintf(pl_buf_t *b, const char *fmt, va_list ap);
/* Appends `s` escaped for XML character data (& < >) or, with attr != 0,
 * for a single- or double-quoted attribute value (& < > ' ").  Anything
 * XML 1.0 does not allow (control characters, NUL, broken UTF-8, U+FFFE
 * and U+FFFF) comes out as U+FFFD, so the output always parses. */
void pl_buf_escape(pl_buf_t *b, const char *s, size_t len, int attr);
/* Removes the first n bytes. */
void pl_buf_consume(pl_buf_t *b, size_t n);
/* Returns a NUL-terminated view (the NUL is not counted in len). */
const char *pl_buf_cstr(pl_buf_t *b);
void pl_buf_reset(pl_buf_t *b);

#endif
