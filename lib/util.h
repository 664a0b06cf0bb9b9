/* util.h — allocation that aborts on out-of-memory, small string helpers and
 * time.  Out-of-memory is a broken invariant here, not a recoverable error. */
#ifndef PL_UTIL_H
#define PL_UTIL_H

#include <stddef.h>
#include <stdint.h>

void *pl_xmalloc(size_t n);
void *pl_xcalloc(size_t n, size_t size);
void *pl_xrealloc(void *p, size_t n);
char *pl_xstrdup(const char *s);
char *pl_xstrndup(const char *s, size_t n);
/* Aborts with a message: for broken invariants only. */
_Noreturn void pl_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall clock in milliseconds since the epoch, and a monotonic clock. */
int64_t pl_now_ms(void);
uint64_t pl_mono_ms(void);
/* RFC 3339 UTC timestamp "2026-11-22T17:20:00.123Z" into buf (>= 32 bytes). */
void pl_format_time(int64_t ms, char *buf, size_t len, int with_millis);

/* Random bytes from OpenSSL; aborts if the RNG fails. */
void pl_random_bytes(void *buf, size_t n);
/* A random identifier of `n` URL-safe characters into buf (n+1 bytes). */
void pl_random_id(char *buf, size_t n);

/* Constant-time comparison: 1 equal. */
int pl_ct_equal(const void *a, const void *b, size_t n);

#endif
