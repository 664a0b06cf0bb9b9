/* buf.c — growable byte buffer with XML escaping, used for every piece of
 * output the server assembles. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void pl_buf_init(pl_buf_t *b) { memset(b, 0, sizeof(*b)); }

void pl_buf_deinit(pl_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void pl_buf_reserve(pl_buf_t *b, size_t extra)
{
    /* Keep one spare byte so pl_buf_cstr never needs to grow. */
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = pl_xrealloc(b->data, cap);
    b->cap = cap;
}

void pl_buf_append(pl_buf_t *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    pl_buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void pl_buf_puts(pl_buf_t *b, const char *s) { pl_buf_append(b, s, strlen(s)); }

void pl_buf_vprintf(pl_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n <= 0)
        return;
    pl_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void pl_buf_printf(pl_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pl_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void pl_buf_escape(pl_buf_t *b, const char *s, size_t len, int attr)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = attr ? "&apos;" : NULL; break;
        case '"': rep = attr ? "&quot;" : NULL; break;
        /* Attribute values would otherwise lose these to normalisation. */
        case '\t': rep = attr ? "&#9;" : NULL; break;
        case '\n': rep = attr ? "&#10;" : NULL; break;
        case '\r': rep = "&#13;"; break;
        default: break;
        }
        if (rep) {
            pl_buf_append(b, s + start, i - start);
            pl_buf_puts(b, rep);
            start = i + 1;
        }
    }
    pl_buf_append(b, s + start, len - start);
}

void pl_buf_consume(pl_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

const char *pl_buf_cstr(pl_buf_t *b)
{
    pl_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return b->data;
}

void pl_buf_reset(pl_buf_t *b) { b->len = 0; }
