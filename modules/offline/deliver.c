/* deliver.c — handing stored messages to a session that became available
 * (XEP-0160 §2 step 5): in arrival order, in chunks, each chunk deleted in a
 * write job only after it was sent.  One delivery per account runs at a
 * time; the session that claims it takes the whole queue, and the delete
 * removes exactly the ids it sent, so nothing is lost and nothing is handed
 * out twice by this server (a crash between send and delete redelivers the
 * same stanzas with the same stanza-ids, which clients drop). */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/offline/offline-private.h"
#include "xep/stored-xml.h"

/* A chunk stays well below the session's output backlog limit, and one
 * delete job stays short. */
#define CHUNK_MESSAGES 100
#define CHUNK_BYTES (256 * 1024)
#define MAX_RESOURCES 32

typedef struct chunk {
    offline_t *o;
    pl_session_t *target;
    const char *user;
    char **ids;
    size_t n;
    size_t bytes;
    size_t damaged;
} chunk_t;

typedef struct delete_job {
    offline_job_t link;
    offline_t *o;
    pl_server_t *srv;
    char *user;
    unsigned long long sid;
    char **ids;
    size_t n;
} delete_job_t;

static void ids_free(char ***idsp, size_t n)
{
    char **ids = *idsp;
    if (!ids)
        return;
    *idsp = NULL;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void delete_job_free(delete_job_t **dp)
{
    delete_job_t *d = *dp;
    if (!d)
        return;
    *dp = NULL;
    ids_free(&d->ids, d->n);
    free(d->user);
    free(d);
}

/* The link's free_fn (offline_stop), over the typed destructor. */
static void delete_job_free_link(offline_job_t *job)
{
    delete_job_t *d = (delete_job_t *)job;
    delete_job_free(&d);
}

/* Claims the account's delivery; 1 when this caller now owns it. */
static int claim(offline_t *o, const char *user)
{
    pthread_mutex_lock(&o->lock);
    int free_to_take = pl_map_get(&o->delivering, user) == NULL;
    if (free_to_take)
        pl_map_put(&o->delivering, user, o);
    pthread_mutex_unlock(&o->lock);
    return free_to_take;
}

static void release(offline_t *o, const char *user)
{
    pthread_mutex_lock(&o->lock);
    pl_map_del(&o->delivering, user);
    pthread_mutex_unlock(&o->lock);
}

/* The session to hand the queue to: the preferred one when it is available
 * with non-negative priority (RFC 6121 §8.5.2.1: messages to the bare JID
 * are for those), else the highest-priority such session.  Returns a new
 * reference through pl_resource_t (released by the caller). */
static pl_resource_t *pick_target(pl_resource_t *res, size_t n, unsigned long long sid)
{
    pl_resource_t *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!res[i].available || res[i].priority < 0)
            continue;
        if (sid && pl_session_id(res[i].session) == sid)
            return &res[i];
        if (!best || res[i].priority > best->priority)
            best = &res[i];
    }
    return best;
}

static void chunk_add(chunk_t *c, const char *id)
{
    c->ids = pl_xrealloc(c->ids, (c->n + 1) * sizeof(char *));
    c->ids[c->n++] = pl_xstrdup(id);
}

static int send_one(void *ud, const pl_offline_msg_t *m)
{
    chunk_t *c = ud;
    pl_stanza_t *st = m->stanza ? pl_stored_xml_decode(m->stanza, m->len) : NULL;
    if (!st) {
        /* A damaged record can never be delivered: it goes with the chunk
         * rather than blocking the queue forever. */
        pl_module_log(c->o->ctx, PL_LOG_WARN, "damaged", "user=%s id=%s", c->user, m->id);
        c->damaged++;
    } else {
        pl_session_send_stanza(c->target, st);
        pl_stanza_unref(&st);
        c->bytes += m->len;
    }
    chunk_add(c, m->id);
    return c->n >= CHUNK_MESSAGES || c->bytes >= CHUNK_BYTES;
}

static void send_chunk(offline_t *o, char *user, unsigned long long sid);

static int delete_run(pl_wtxn_t *txn, void *ud)
{
    delete_job_t *d = ud;
    long n = pl_offline_delete(txn, d->o->repo, d->user, (const char *const *)d->ids, d->n);
    return n < 0 ? (int)n : 0;
}

/* After the chunk's delete committed: the next chunk (or messages that
 * arrived meanwhile) follows, still under the same claim. */
static void delete_done(void *ud, int status)
{
    delete_job_t *d = ud;
    offline_t *o = d->o;
    offline_job_untrack(o, &d->link);
    char *user = d->user;
    d->user = NULL;
    unsigned long long sid = d->sid;
    delete_job_free(&d);
    if (status < 0) {
        /* Left stored: the next available presence delivers them again. */
        pl_module_log(o->ctx, PL_LOG_ERROR, "delete", "user=%s error=%d", user, status);
        release(o, user);
        free(user);
        return;
    }
    send_chunk(o, user, sid);
}

/* Sends the next chunk of `user`'s queue (owning the claim and `user`). */
static void send_chunk(offline_t *o, char *user, unsigned long long sid)
{
    pl_server_t *srv = pl_module_server(o->ctx);
    pl_resource_t res[MAX_RESOURCES];
    size_t nres = pl_server_resources(srv, user, res, MAX_RESOURCES);
    pl_resource_t *target = pick_target(res, nres, sid);
    chunk_t c = {.o = o, .user = user};
    if (target) {
        c.target = target->session;
        sid = pl_session_id(target->session);
        int rc = pl_offline_list(o->repo, user, send_one, &c);
        if (rc < 0)
            pl_module_log(o->ctx, PL_LOG_ERROR, "list", "user=%s error=%d", user, rc);
    }
    pl_resources_release(res, nres);
    if (c.n == 0) {
        release(o, user);
        free(user);
        return;
    }
    pl_module_log(o->ctx, PL_LOG_DEBUG, "deliver", "user=%s messages=%zu damaged=%zu", user,
                  c.n - c.damaged, c.damaged);
    delete_job_t *d = pl_xcalloc(1, sizeof(*d));
    d->link.free_fn = delete_job_free_link;
    d->o = o;
    d->srv = srv;
    d->user = user;
    d->sid = sid;
    d->ids = c.ids;
    d->n = c.n;
    offline_job_track(o, &d->link);
    int rc = pl_server_write(srv, delete_run, delete_done, d);
    if (rc != 0) {
        /* Sent but not deleted: they come again (same stanza-ids) later. */
        pl_module_log(o->ctx, PL_LOG_ERROR, "delete", "user=%s error=%d", user, rc);
        offline_job_untrack(o, &d->link);
        release(o, user);
        delete_job_free(&d);
    }
}

/* 1 when some session of `user` can take messages now. */
static int anyone_available(pl_server_t *srv, const char *user)
{
    pl_resource_t res[MAX_RESOURCES];
    size_t n = pl_server_resources(srv, user, res, MAX_RESOURCES);
    int yes = pick_target(res, n, 0) != NULL;
    pl_resources_release(res, n);
    return yes;
}

void offline_deliver(offline_t *o, const char *user, unsigned long long sid)
{
    pl_offline_usage_t u;
    if (pl_offline_usage(o->repo, user, &u) != 0 || u.messages == 0)
        return;
    /* Nobody to hand them to (the usual case right after a store), or
     * another session is taking the queue: it takes new arrivals too. */
    if (!anyone_available(pl_module_server(o->ctx), user) || !claim(o, user))
        return;
    send_chunk(o, pl_xstrdup(user), sid);
}
