/* arena.h — bump allocator: many small allocations, one free.
 * Used for one parsed stanza, one built reply, one dispatch's scratch. */
#ifndef PL_ARENA_H
#define PL_ARENA_H

#include <stddef.h>

typedef struct pl_arena pl_arena_t;

/* first_block: size of the first chunk (0 = a small default). */
pl_arena_t *pl_arena_new(size_t first_block);
/* Frees every block and the arena, and clears *ap; NULL (or *ap NULL) is
 * allowed. */
void pl_arena_free(pl_arena_t **ap);
/* 16-byte aligned; aborts on out-of-memory; never returns NULL. */
void *pl_arena_alloc(pl_arena_t *a, size_t n);
void *pl_arena_zalloc(pl_arena_t *a, size_t n);
char *pl_arena_strdup(pl_arena_t *a, const char *s);
char *pl_arena_strndup(pl_arena_t *a, const char *s, size_t n);
/* Bytes handed out so far (for limits and statistics). */
size_t pl_arena_used(const pl_arena_t *a);

#endif
