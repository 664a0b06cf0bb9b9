/* sessions.c — the table of bound client sessions: bare JID -> sessions.
 * Sharded by the hash of the bare JID, each shard behind its own mutex, so
 * loops on several threads route without a global lock.  Readers get
 * snapshots holding references; sessions are only changed by their own loop. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lib/util.h"

static pl_session_shard_t *shard_for(pl_server_t *srv, const char *bare)
{
    return &srv->shards[pl_hash_str(bare) % PL_SESSION_SHARDS];
}

void pl_sessions_init(pl_server_t *srv)
{
    for (size_t i = 0; i < PL_SESSION_SHARDS; i++) {
        pthread_mutex_init(&srv->shards[i].lock, NULL);
        pl_map_init(&srv->shards[i].by_bare);
    }
}

void pl_sessions_deinit(pl_server_t *srv)
{
    for (size_t i = 0; i < PL_SESSION_SHARDS; i++) {
        pl_session_shard_t *sh = &srv->shards[i];
        size_t pos = 0;
        void *v;
        while (pl_map_iter(&sh->by_bare, &pos, NULL, &v)) {
            pl_session_list_t *l = v;
            free(l->items);
            free(l);
        }
        pl_map_deinit(&sh->by_bare);
        pthread_mutex_destroy(&sh->lock);
    }
}

pl_session_t *pl_sessions_add(pl_server_t *srv, pl_session_t *s)
{
    pl_session_shard_t *sh = shard_for(srv, s->jid.bare);
    pl_session_t *old = NULL;
    pthread_mutex_lock(&sh->lock);
    pl_session_list_t *l = pl_map_get(&sh->by_bare, s->jid.bare);
    if (!l) {
        l = pl_xcalloc(1, sizeof(*l));
        pl_map_put(&sh->by_bare, s->jid.bare, l);
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i]->jid.resource, s->jid.resource) == 0) {
            /* The old session leaves the table now so the new one owns the
             * full JID; its stream is ended by the caller. */
            old = l->items[i];
            old->in_table = 0;
            l->items[i] = l->items[--l->n];
            break;
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 2;
        l->items = pl_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n++] = pl_session_ref(s);
    s->in_table = 1;
    pthread_mutex_unlock(&sh->lock);
    /* The table's reference to the old session passes to the caller. */
    return old;
}

void pl_sessions_remove(pl_server_t *srv, pl_session_t *s)
{
    pl_session_shard_t *sh = shard_for(srv, s->jid.bare);
    pl_session_t *found = NULL;
    pthread_mutex_lock(&sh->lock);
    pl_session_list_t *l = pl_map_get(&sh->by_bare, s->jid.bare);
    for (size_t i = 0; l && i < l->n; i++) {
        if (l->items[i] == s) {
            found = s;
            l->items[i] = l->items[--l->n];
            break;
        }
    }
    if (l && l->n == 0) {
        pl_map_del(&sh->by_bare, s->jid.bare);
        free(l->items);
        free(l);
    }
    s->in_table = 0;
    pthread_mutex_unlock(&sh->lock);
    if (found)
        pl_session_unref(&found);
}

size_t pl_sessions_get(pl_server_t *srv, const char *bare, pl_session_t **out,
                       pl_route_candidate_t *cand, size_t max)
{
    pl_session_shard_t *sh = shard_for(srv, bare);
    size_t n = 0;
    pthread_mutex_lock(&sh->lock);
    pl_session_list_t *l = pl_map_get(&sh->by_bare, bare);
    for (size_t i = 0; l && i < l->n && n < max; i++) {
        pl_session_t *s = l->items[i];
        if (cand) {
            cand[n].resource = s->jid.resource;
            cand[n].available = s->available;
            cand[n].priority = s->priority;
        }
        out[n++] = pl_session_ref(s);
    }
    pthread_mutex_unlock(&sh->lock);
    return n;
}

pl_session_t *pl_sessions_find(pl_server_t *srv, const pl_jid_t *full)
{
    if (!full->resource)
        return NULL;
    pl_session_shard_t *sh = shard_for(srv, full->bare);
    pl_session_t *found = NULL;
    pthread_mutex_lock(&sh->lock);
    pl_session_list_t *l = pl_map_get(&sh->by_bare, full->bare);
    for (size_t i = 0; l && i < l->n; i++) {
        if (strcmp(l->items[i]->jid.resource, full->resource) == 0) {
            found = pl_session_ref(l->items[i]);
            break;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return found;
}

size_t pl_sessions_count_bare(pl_server_t *srv, const char *bare)
{
    pl_session_shard_t *sh = shard_for(srv, bare);
    pthread_mutex_lock(&sh->lock);
    pl_session_list_t *l = pl_map_get(&sh->by_bare, bare);
    size_t n = l ? l->n : 0;
    pthread_mutex_unlock(&sh->lock);
    return n;
}

void pl_sessions_set_presence(pl_server_t *srv, pl_session_t *s, int available, int priority,
                              const pl_stanza_t *presence)
{
    pl_session_shard_t *sh = shard_for(srv, s->jid.bare);
    pl_stanza_t *old;
    /* Kept until the next change, often for hours: a compact copy. */
    pl_stanza_t *kept = presence ? pl_stanza_compact(presence) : NULL;
    pthread_mutex_lock(&sh->lock);
    s->available = available;
    s->priority = priority;
    old = s->presence;
    s->presence = kept;
    pthread_mutex_unlock(&sh->lock);
    pl_stanza_unref(&old);
}

/* ---- the module-facing view (server.h) ---- */
size_t pl_server_resources(pl_server_t *srv, const char *bare, pl_resource_t *out, size_t max)
{
    pl_session_shard_t *sh = shard_for(srv, bare);
    size_t n = 0;
    pthread_mutex_lock(&sh->lock);
    pl_session_list_t *l = pl_map_get(&sh->by_bare, bare);
    for (size_t i = 0; l && i < l->n && n < max; i++) {
        pl_session_t *s = l->items[i];
        out[n++] = (pl_resource_t){
            .session = pl_session_ref(s),
            .jid = &s->jid,
            .available = s->available,
            .priority = s->priority,
            .flags = s->res_flags,
            .presence = s->presence ? pl_stanza_ref(s->presence) : NULL,
        };
    }
    pthread_mutex_unlock(&sh->lock);
    return n;
}

void pl_resources_release(pl_resource_t *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pl_stanza_unref(&r[i].presence);
        pl_session_unref(&r[i].session);
    }
}

void pl_session_set_flags(pl_session_t *s, unsigned set, unsigned clear)
{
    pl_session_shard_t *sh = shard_for(s->server, s->jid.bare);
    pthread_mutex_lock(&sh->lock);
    s->res_flags = (s->res_flags & ~clear) | set;
    pthread_mutex_unlock(&sh->lock);
}

unsigned pl_session_flags(pl_session_t *s)
{
    pl_session_shard_t *sh = shard_for(s->server, s->jid.bare);
    pthread_mutex_lock(&sh->lock);
    unsigned f = s->res_flags;
    pthread_mutex_unlock(&sh->lock);
    return f;
}

pl_stanza_t *pl_session_presence(pl_session_t *s)
{
    pl_session_shard_t *sh = shard_for(s->server, s->jid.bare);
    pthread_mutex_lock(&sh->lock);
    pl_stanza_t *p = s->presence ? pl_stanza_ref(s->presence) : NULL;
    pthread_mutex_unlock(&sh->lock);
    return p;
}

