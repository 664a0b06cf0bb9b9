/* map.h — a string-keyed hash map (open addressing).  The map copies keys;
 * values are borrowed pointers.  Not thread-safe: callers lock. */
#ifndef PL_MAP_H
#define PL_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct pl_map_slot {
    char *key; /* NULL = empty; PL_MAP_TOMB = deleted */
    uint64_t hash;
    void *value;
} pl_map_slot_t;

typedef struct pl_map {
    pl_map_slot_t *slots;
    size_t cap, count, used; /* used counts tombstones too */
} pl_map_t;

void pl_map_init(pl_map_t *m);
/* Frees the keys (values are the caller's). */
void pl_map_deinit(pl_map_t *m);
void *pl_map_get(const pl_map_t *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *pl_map_put(pl_map_t *m, const char *key, void *value);
/* Removes; returns the value or NULL. */
void *pl_map_del(pl_map_t *m, const char *key);
/* Iteration: for (size_t i = 0; pl_map_iter(m, &i, &k, &v);) */
int pl_map_iter(const pl_map_t *m, size_t *pos, const char **key, void **value);
uint64_t pl_hash_str(const char *s);

#endif
