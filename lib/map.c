/* map.c — open-addressing string map with linear probing and tombstones;
 * used for hosts, components, the session table shards and per-IP limits. */
#include "lib/map.h"

#include <stdlib.h>
#include <string.h>

#include "lib/util.h"

/* Deleted slots point at this constant; it is compared, never written. */
static const char tomb_marker = 0;
#define TOMB ((char *)&tomb_marker)

uint64_t pl_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1;
}

void pl_map_init(pl_map_t *m) { memset(m, 0, sizeof(*m)); }

void pl_map_deinit(pl_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMB)
            free(m->slots[i].key);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

static pl_map_slot_t *find(const pl_map_t *m, const char *key, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        pl_map_slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

/* Rebuilds the table when live keys and tombstones fill three quarters of
 * it, sized for the live keys alone: keys that come and go (an address per
 * connection, an id per pending IQ) give their slots back instead of
 * doubling the table at every rebuild. */
static void grow(pl_map_t *m)
{
    size_t cap = 16;
    while (m->count * 2 >= cap)
        cap *= 2;
    pl_map_slot_t *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = pl_xcalloc(cap, sizeof(*m->slots));
    m->cap = cap;
    m->used = m->count;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key || old[i].key == TOMB)
            continue;
        size_t j = old[i].hash & (cap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (cap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void *pl_map_get(const pl_map_t *m, const char *key)
{
    pl_map_slot_t *s = find(m, key, pl_hash_str(key));
    return s ? s->value : NULL;
}

void *pl_map_put(pl_map_t *m, const char *key, void *value)
{
    uint64_t h = pl_hash_str(key);
    pl_map_slot_t *s = find(m, key, h);
    if (s) {
        void *old = s->value;
        s->value = value;
        return old;
    }
    if ((m->used + 1) * 4 >= m->cap * 3)
        grow(m);
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (!m->slots[i].key)
        m->used++;
    m->slots[i].key = pl_xstrdup(key);
    m->slots[i].hash = h;
    m->slots[i].value = value;
    m->count++;
    return NULL;
}

void *pl_map_del(pl_map_t *m, const char *key)
{
    pl_map_slot_t *s = find(m, key, pl_hash_str(key));
    if (!s)
        return NULL;
    void *v = s->value;
    free(s->key);
    s->key = TOMB;
    s->value = NULL;
    m->count--;
    return v;
}

int pl_map_iter(const pl_map_t *m, size_t *pos, const char **key, void **value)
{
    for (; *pos < m->cap; (*pos)++) {
        pl_map_slot_t *s = &m->slots[*pos];
        if (s->key && s->key != TOMB) {
            if (key)
                *key = s->key;
            if (value)
                *value = s->value;
            (*pos)++;
            return 1;
        }
    }
    return 0;
}
