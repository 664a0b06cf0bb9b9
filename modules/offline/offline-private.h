/* offline-private.h — what the offline module's files share: its config,
 * its state on one host, and the write jobs it has in flight. */
#ifndef PL_MOD_OFFLINE_PRIVATE_H
#define PL_MOD_OFFLINE_PRIVATE_H

#include <pthread.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/map.h"
#include "storage/offline.h"

typedef struct offline_conf {
    long long quota;          /* messages per account */
    long long quota_bytes;    /* stored bytes per account */
    long long retention;      /* ms a message is kept */
    long long purge_interval; /* ms between purge runs */
    long long purge_batch;    /* records deleted per purge job */
} offline_conf_t;

/* Every write job starts with this link, so jobs whose `done` never comes
 * (the storage ports close at shutdown) are freed when the module stops. */
typedef struct offline_job offline_job_t;
struct offline_job {
    offline_job_t *prev, *next;
    /* Frees the whole job (an adapter over the job's own T ** destructor:
     * the list holds links, not typed jobs). */
    void (*free_fn)(offline_job_t *job);
};

typedef struct offline {
    pl_module_ctx_t *ctx;
    pl_offline_t *repo;
    pthread_mutex_t lock; /* guards everything below (hooks run on every loop) */
    /* Accounts whose stored messages a session is taking now: at most one
     * delivery per account runs, so two sessions coming online together do
     * not both get the queue. */
    pl_map_t delivering;
    offline_job_t *jobs; /* in flight */
    int purging;         /* a purge job is queued or running */
} offline_t;

/* Job bookkeeping (lock taken inside). */
void offline_job_track(offline_t *o, offline_job_t *job);
void offline_job_untrack(offline_t *o, offline_job_t *job);

/* ---- deliver.c ---- */

/* A session of `user` may have become available (`sid`: its pl_session_id,
 * preferred as the target; 0 = any): if the account has stored messages and
 * nobody is delivering them yet, sends them in order to one available
 * session with non-negative priority and deletes them once sent.  From any
 * loop thread. */
void offline_deliver(offline_t *o, const char *user, unsigned long long sid);

#endif
