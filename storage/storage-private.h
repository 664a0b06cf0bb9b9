/* storage-private.h — what the files inside storage/ share: the storage
 * handle, the write transaction handed to repositories, and the helpers of the
 * LMDB and SQLite halves.  Nothing outside storage/ includes this (tests may).
 *
 * Lock order, everywhere and in every process: LMDB writer lock (taken by
 * mdb_txn_begin of a write transaction) before SQLite's write lock (BEGIN
 * IMMEDIATE).  Inside one process `write_lock` is taken before both. */
#ifndef PL_STORAGE_PRIVATE_H
#define PL_STORAGE_PRIVATE_H

#include <lmdb.h>
#include <pthread.h>
#include <sqlite3.h>

#include "storage/storage.h"

/* Schema versions this build knows.  Bump together with a new migration step
 * in lmdb/lmdb.c or sqlite/sqlite.c. */
#define PL_LMDB_SCHEMA_VERSION 1
#define PL_SQLITE_SCHEMA_VERSION 2

#define PL_STORAGE_MAX_DBS 64     /* LMDB named databases, including ours */
#define PL_STORAGE_BATCH_MAX 1024 /* jobs per group commit */
#define PL_STORAGE_QUEUE_MAX 65536 /* queued jobs before pl_storage_write says -EAGAIN */

/* Statements the SQLite repositories keep prepared (pl_sqlite_stmt). */
typedef enum pl_sqlite_slot {
    PL_SQLITE_ARCHIVE_INSERT = 0,
    PL_SQLITE_ARCHIVE_FTS_INSERT,
    PL_SQLITE_SLOTS
} pl_sqlite_slot_t;

typedef struct pl_storage_job pl_storage_job_t;
typedef struct pl_storage_queue pl_storage_queue_t;

struct pl_wtxn {
    pl_storage_t *st;
    MDB_txn *txn; /* the job's own (nested) LMDB write transaction */
    sqlite3 *db;  /* inside the batch transaction, at the job's savepoint */
};

struct pl_kv {
    pl_storage_t *st;
    MDB_dbi dbi;
    char *name;
};

struct pl_storage {
    char *dir;
    const struct pl_seal *seal; /* encryption at rest, or NULL */
    MDB_env *env;
    MDB_dbi meta_dbi;
    MDB_dbi accounts_dbi;
    size_t max_key; /* LMDB's compile-time key limit (511 in stock builds) */
    sqlite3 *db;
    sqlite3_stmt *stmts[PL_SQLITE_SLOTS]; /* pl_sqlite_stmt, on `db` */
    int lmdb_version, sqlite_version;

    /* Serialises write transactions inside this process (the storage thread's
     * batches, pl_storage_write_sync, opening named stores).  Error-checking,
     * so a job that re-enters gets -EDEADLK instead of hanging. */
    pthread_mutex_t write_lock;

    pthread_mutex_t kv_lock; /* guards kvs[] */
    pl_kv_t *kvs[PL_STORAGE_MAX_DBS];
    size_t nkvs;

    int threaded;
    int thread_started;
    pthread_t thread;
    unsigned commit_interval_ms;
    pl_storage_queue_t *queue; /* shared with the ports, reference-counted */
};

/* The job queue between the loops and the storage thread.  Ports keep a
 * reference so that a write after pl_storage_close is refused, not a
 * use-after-free. */
struct pl_storage_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    pl_storage_job_t *head, *tail;
    size_t len;
    int closing;
    unsigned refs;
    /* Counters for tests and metrics (under lock). */
    uint64_t batches, jobs, failed_batches;
};

/* ---- storage.c ---- */
/* Formats a heap string into *error (if error is not NULL); returns `rc`. */
int pl_storage_fail(char **error, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
