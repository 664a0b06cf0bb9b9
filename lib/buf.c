/* buf.c — growable byte buffer with XML escaping, used for every piece of
 * output the server assembles. */
#include "lib/buf.h"
#include "lib/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

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

/* The UTF-8 sequence at s (its first byte >= 0x80): returns its length and
 * sets *ok when it encodes a character XML 1.0 allows (Char: #x9 | #xA |
 * #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]).  A broken
 * sequence counts as one byte, so each bad byte is replaced once. */
static size_t xml_char_len(const unsigned char *s, size_t len, int *ok)
{
    size_t end = 0;
    uint32_t cp;
    *ok = 0;
    if (pl_utf8_next(s, len, &end, &cp) != 0)
        return 1;
    *ok = cp != 0xfffe && cp != 0xffff;
    return end;
}

void pl_buf_escape(pl_buf_t *b, const char *s, size_t len, int attr)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0;
    for (size_t i = 0; i < len;) {
        const char *rep = NULL;
        size_t skip = 1;
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
        default:
            /* What the parser hands out is always valid, but strings built
             * by the server (decoded SASL data, stored records, module
             * text) may not be: a control character or a broken UTF-8
             * sequence would make the whole stream not well-formed for the
             * recipient, so it becomes U+FFFD instead. */
            if (u[i] < 0x20) {
                rep = "\xef\xbf\xbd";
            } else if (u[i] >= 0x80) {
                int ok;
                skip = xml_char_len(u + i, len - i, &ok);
                rep = ok ? NULL : "\xef\xbf\xbd";
            }
            break;
        }
        if (rep) {
            pl_buf_append(b, s + start, i - start);
            pl_buf_puts(b, rep);
            start = i + skip;
        }
        i += skip;
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
