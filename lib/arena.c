/* arena.c — bump allocator.  Chunks grow geometrically; nothing is freed
 * until the whole arena is. */
#include "lib/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

typedef struct chunk {
    struct chunk *prev;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} chunk_t;

struct pl_arena {
    chunk_t *cur;
    size_t total;
    size_t next_size;
};

static chunk_t *chunk_new(size_t size, chunk_t *prev)
{
    chunk_t *c = pl_xmalloc(sizeof(*c) + size);
    c->prev = prev;
    c->size = size;
    c->used = 0;
    return c;
}

pl_arena_t *pl_arena_new(size_t first_block)
{
    pl_arena_t *a = pl_xmalloc(sizeof(*a));
    a->next_size = first_block ? first_block : 512;
    a->cur = chunk_new(a->next_size, NULL);
    a->total = 0;
    return a;
}

void pl_arena_free(pl_arena_t **ap)
{
    pl_arena_t *a = ap ? *ap : NULL;
    if (!a)
        return;
    *ap = NULL;
    chunk_t *c = a->cur;
    while (c) {
        chunk_t *prev = c->prev;
        free(c);
        c = prev;
    }
    free(a);
}

void *pl_arena_alloc(pl_arena_t *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need == 0)
        need = 16;
    if (a->cur->used + need > a->cur->size) {
        size_t size = a->next_size * 2;
        if (size < need)
            size = need;
        if (size > 1u << 20 && need < 1u << 20)
            size = 1u << 20;
        a->next_size = size;
        a->cur = chunk_new(size, a->cur);
    }
    void *p = a->cur->data + a->cur->used;
    a->cur->used += need;
    a->total += need;
    return p;
}

void *pl_arena_zalloc(pl_arena_t *a, size_t n)
{
    void *p = pl_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *pl_arena_strndup(pl_arena_t *a, const char *s, size_t n)
{
    char *d = pl_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *pl_arena_strdup(pl_arena_t *a, const char *s) { return pl_arena_strndup(a, s, strlen(s)); }

size_t pl_arena_used(const pl_arena_t *a) { return a->total; }
