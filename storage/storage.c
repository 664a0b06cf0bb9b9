/* storage.c — opening and closing the data directory (LMDB "hot" + SQLite
 * "history.db"), and the write path: the storage thread that runs queued
 * jobs in group commits, and the ports that bring `done` back to each loop. */
#include "storage/storage-private.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/util.h"
#include "storage/lmdb/lmdb-private.h"
#include "storage/sqlite/sqlite-private.h"

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)
#define DEFAULT_COMMIT_INTERVAL_MS 2
#define JOB_SAVEPOINT "pl_storage_job"

struct pl_storage_job {
    pl_storage_job_t *next;
    pl_storage_run_fn run;
    pl_storage_done_fn done;
    void *ud;
    pl_storage_port_t *port;
    int status;
};

/* A port is freed when both its uv handle has closed and no accepted job
 * still points at it (the storage thread may finish a job after the loop
 * closed the port).  Both counters live under `lock`. */
struct pl_storage_port {
    uv_async_t async;
    pl_storage_queue_t *queue;
    pthread_mutex_t lock;
    pl_storage_job_t *head, *tail; /* committed, waiting for the loop */
    unsigned inflight;             /* accepted, not yet handed back */
    int closing;                   /* pl_storage_port_close was called */
    int closed;                    /* the close callback ran */
};

int pl_storage_fail(char **error, int rc, const char *fmt, ...)
{
    if (!error)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    free(*error);
    *error = pl_xmalloc((size_t)(n > 0 ? n : 0) + 1);
    va_start(ap, fmt);
    vsnprintf(*error, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- the queue ---- */

static pl_storage_queue_t *queue_new(void)
{
    pl_storage_queue_t *q = pl_xcalloc(1, sizeof(*q));
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&q->lock, NULL);
    q->refs = 1;
    return q;
}

static void queue_ref(pl_storage_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->refs++;
    pthread_mutex_unlock(&q->lock);
}

static void queue_unref(pl_storage_queue_t **qp)
{
    pl_storage_queue_t *q = *qp;
    *qp = NULL;
    pthread_mutex_lock(&q->lock);
    unsigned left = --q->refs;
    pthread_mutex_unlock(&q->lock);
    if (left)
        return;
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* ---- ports ---- */

static void port_free(pl_storage_port_t **pp)
{
    pl_storage_port_t *port = *pp;
    *pp = NULL;
    pthread_mutex_destroy(&port->lock);
    queue_unref(&port->queue);
    free(port);
}

/* On the port's loop: runs the `done` of every job committed since the last
 * wake-up (uv_async_send coalesces, so one call may carry many). */
static void port_wake(uv_async_t *async)
{
    pl_storage_port_t *port = async->data;
    pthread_mutex_lock(&port->lock);
    pl_storage_job_t *job = port->head;
    port->head = port->tail = NULL;
    pthread_mutex_unlock(&port->lock);
    while (job) {
        pl_storage_job_t *next = job->next;
        job->done(job->ud, job->status);
        free(job);
        job = next;
    }
}

static void port_closed(uv_handle_t *handle)
{
    pl_storage_port_t *port = handle->data;
    pthread_mutex_lock(&port->lock);
    port->closed = 1;
    pl_storage_job_t *dropped = port->head;
    port->head = port->tail = NULL;
    int last = port->inflight == 0;
    pthread_mutex_unlock(&port->lock);
    /* Completions nobody will deliver: the loop is going away, and their
     * user data may already be gone with it.  See storage.h. */
    while (dropped) {
        pl_storage_job_t *next = dropped->next;
        free(dropped);
        dropped = next;
    }
    if (last)
        port_free(&port);
}

int pl_storage_port_open(pl_storage_t *st, uv_loop_t *loop, pl_storage_port_t **out)
{
    *out = NULL;
    if (!st->threaded)
        return -EINVAL;
    pl_storage_port_t *port = pl_xcalloc(1, sizeof(*port));
    int rc = uv_async_init(loop, &port->async, port_wake);
    if (rc != 0) {
        free(port);
        return rc;
    }
    pthread_mutex_init(&port->lock, NULL);
    port->async.data = port;
    port->queue = st->queue;
    queue_ref(port->queue);
    *out = port;
    return 0;
}

void pl_storage_port_close(pl_storage_port_t **pp)
{
    pl_storage_port_t *port = pp ? *pp : NULL;
    if (!port)
        return;
    *pp = NULL;
    pthread_mutex_lock(&port->lock);
    int again = port->closing;
    port->closing = 1; /* from here on the storage thread never wakes the handle */
    pthread_mutex_unlock(&port->lock);
    if (!again)
        uv_close((uv_handle_t *)&port->async, port_closed);
}

/* On the storage thread: hands finished jobs to their ports. */
static void deliver(pl_storage_job_t *job)
{
    while (job) {
        pl_storage_job_t *next = job->next;
        pl_storage_port_t *port = job->port;
        job->next = NULL;
        pthread_mutex_lock(&port->lock);
        int drop = port->closing;
        if (!drop) {
            if (port->tail)
                port->tail->next = job;
            else
                port->head = job;
            port->tail = job;
            uv_async_send(&port->async);
        }
        port->inflight--;
        int last = port->closed && port->inflight == 0;
        pthread_mutex_unlock(&port->lock);
        if (drop)
            free(job);
        if (last)
            port_free(&port);
        job = next;
    }
}

void pl_storage_set_seal(pl_storage_t *st, const pl_seal_t *ring) { st->seal = ring; }

const pl_seal_t *pl_storage_seal(const pl_storage_t *st) { return st->seal; }

unsigned pl_storage_port_inflight(pl_storage_port_t *port)
{
    pthread_mutex_lock(&port->lock);
    unsigned n = port->inflight;
    pthread_mutex_unlock(&port->lock);
    return n;
}

int pl_storage_port_idle(pl_storage_port_t *port)
{
    pthread_mutex_lock(&port->lock);
    int idle = port->inflight == 0 && port->head == NULL;
    pthread_mutex_unlock(&port->lock);
    return idle;
}

/* ---- writes ---- */

int pl_storage_write(pl_storage_port_t *port, pl_storage_run_fn run, pl_storage_done_fn done,
                     void *ud)
{
    if (!port || !run || !done || port->closing)
        return -EINVAL;
    pl_storage_queue_t *q = port->queue;
    pthread_mutex_lock(&q->lock);
    int rc = 0;
    if (q->closing)
        rc = -ESHUTDOWN;
    else if (q->len >= PL_STORAGE_QUEUE_MAX)
        rc = -EAGAIN;
    if (rc == 0) {
        pl_storage_job_t *job = pl_xcalloc(1, sizeof(*job));
        *job = (pl_storage_job_t){.run = run, .done = done, .ud = ud, .port = port};
        pthread_mutex_lock(&port->lock);
        port->inflight++;
        pthread_mutex_unlock(&port->lock);
        if (q->tail)
            q->tail->next = job;
        else
            q->head = job;
        q->tail = job;
        q->len++;
        /* Wake the thread when it sleeps on an empty queue, or when a full
         * batch is ready and waiting out the window would gain nothing. */
        if (q->len == 1 || q->len == PL_STORAGE_BATCH_MAX)
            pthread_cond_signal(&q->cond);
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

/* One job inside the batch: a nested LMDB transaction and a SQLite savepoint,
 * so a failing job takes back only its own changes.  Sets *broken when the
 * batch's SQLite transaction cannot be trusted any more (SQLite rolled it
 * back on an I/O or full-disk error, or a savepoint could not be undone). */
static int job_run(pl_storage_t *st, MDB_txn *parent, pl_storage_job_t *job, int *broken)
{
    MDB_txn *child;
    int rc = mdb_txn_begin(st->env, parent, 0, &child);
    if (rc != 0)
        return pl_lmdb_errno(rc);
    if ((rc = pl_sqlite_exec(st->db, "SAVEPOINT " JOB_SAVEPOINT)) != 0) {
        mdb_txn_abort(child);
        return rc;
    }
    pl_wtxn_t w = {.st = st, .txn = child, .db = st->db};
    int status = job->run(&w, job->ud);
    if (sqlite3_get_autocommit(st->db)) {
        mdb_txn_abort(child);
        *broken = 1;
        return status < 0 ? status : -EIO;
    }
    if (status >= 0) {
        /* mdb_txn_commit frees the child even when it fails. */
        rc = mdb_txn_commit(child);
        child = NULL;
        if (rc != 0)
            status = pl_lmdb_errno(rc);
    }
    if (status < 0) {
        if (child)
            mdb_txn_abort(child);
        if (pl_sqlite_exec(st->db, "ROLLBACK TO " JOB_SAVEPOINT) != 0 ||
            pl_sqlite_exec(st->db, "RELEASE " JOB_SAVEPOINT) != 0)
            *broken = 1;
        return status;
    }
    if (pl_sqlite_exec(st->db, "RELEASE " JOB_SAVEPOINT) != 0) {
        *broken = 1;
        return -EIO;
    }
    return status;
}

/* Runs a batch in one LMDB write transaction and one SQLite transaction and
 * commits them: SQLite first, then LMDB.  A failure of the SQLite commit
 * leaves both untouched.  A failure of the LMDB commit after SQLite committed
 * leaves history ahead of hot state; nobody was acknowledged (every job gets
 * the error), and clients resend what was not acknowledged, so history jobs
 * must tolerate a replay (idempotent inserts).  Returns 0 or the batch's
 * error, which then replaces every non-negative job status. */
static int batch_run(pl_storage_t *st, pl_storage_job_t *jobs)
{
    pthread_mutex_lock(&st->write_lock);
    MDB_txn *parent = NULL;
    int in_sql = 0, broken = 0;
    int rc = mdb_txn_begin(st->env, NULL, 0, &parent);
    if (rc != 0) {
        rc = pl_lmdb_errno(rc);
        parent = NULL;
        goto out;
    }
    if ((rc = pl_sqlite_exec(st->db, "BEGIN IMMEDIATE")) != 0)
        goto out;
    in_sql = 1;
    for (pl_storage_job_t *job = jobs; job && !broken; job = job->next)
        job->status = job_run(st, parent, job, &broken);
    if (broken) {
        rc = -EIO;
        goto out;
    }
    rc = pl_sqlite_exec(st->db, "COMMIT");
    if (rc != 0)
        goto out;
    in_sql = 0;
    rc = mdb_txn_commit(parent);
    parent = NULL;
    rc = pl_lmdb_errno(rc);
out:
    if (in_sql && !sqlite3_get_autocommit(st->db))
        pl_sqlite_exec(st->db, "ROLLBACK");
    if (parent)
        mdb_txn_abort(parent);
    pthread_mutex_unlock(&st->write_lock);
    if (rc != 0)
        for (pl_storage_job_t *job = jobs; job; job = job->next)
            if (job->status >= 0)
                job->status = rc;
    return rc;
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *storage_thread(void *arg)
{
    pl_storage_t *st = arg;
    pl_storage_queue_t *q = st->queue;
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->closing)
            pthread_cond_wait(&q->cond, &q->lock);
        if (!q->head)
            break; /* closing, and everything accepted has been run */
        /* Group commit: a small batch waits a moment for company, so one
         * fsync serves many stanzas.  Closing does not wait. */
        if (!q->closing && q->len < PL_STORAGE_BATCH_MAX) {
            struct timespec deadline;
            deadline_after(&deadline, st->commit_interval_ms);
            while (!q->closing && q->len < PL_STORAGE_BATCH_MAX)
                if (pthread_cond_timedwait(&q->cond, &q->lock, &deadline) == ETIMEDOUT)
                    break;
        }
        pl_storage_job_t *batch = q->head, *last = q->head;
        size_t n = 1;
        while (n < PL_STORAGE_BATCH_MAX && last->next) {
            last = last->next;
            n++;
        }
        q->head = last->next;
        if (!q->head)
            q->tail = NULL;
        last->next = NULL;
        q->len -= n;
        pthread_mutex_unlock(&q->lock);

        int rc = batch_run(st, batch);
        /* Counters first, so that whoever sees a `done` also sees them. */
        pthread_mutex_lock(&q->lock);
        q->batches++;
        q->jobs += n;
        if (rc != 0)
            q->failed_batches++;
        pthread_mutex_unlock(&q->lock);
        deliver(batch);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int pl_storage_write_sync(pl_storage_t *st, pl_storage_run_fn run, void *ud)
{
    /* An error-checking mutex: a job (or a nested write_sync) that calls
     * this on the thread holding the lock gets -EDEADLK, not a hang. */
    int rc = pthread_mutex_lock(&st->write_lock);
    if (rc != 0)
        return -rc;
    MDB_txn *txn;
    int status;
    if ((rc = mdb_txn_begin(st->env, NULL, 0, &txn)) != 0) {
        status = pl_lmdb_errno(rc);
        goto out;
    }
    if ((status = pl_sqlite_exec(st->db, "BEGIN IMMEDIATE")) != 0) {
        mdb_txn_abort(txn);
        goto out;
    }
    pl_wtxn_t w = {.st = st, .txn = txn, .db = st->db};
    status = run(&w, ud);
    if (status >= 0 && sqlite3_get_autocommit(st->db))
        status = -EIO; /* SQLite dropped the transaction under the job */
    if (status >= 0 && (rc = pl_sqlite_exec(st->db, "COMMIT")) != 0)
        status = rc;
    if (status < 0) {
        if (!sqlite3_get_autocommit(st->db))
            pl_sqlite_exec(st->db, "ROLLBACK");
        mdb_txn_abort(txn);
    } else if ((rc = mdb_txn_commit(txn)) != 0) {
        status = pl_lmdb_errno(rc);
    }
out:
    pthread_mutex_unlock(&st->write_lock);
    return status;
}

pl_storage_t *pl_wtxn_storage(pl_wtxn_t *txn) { return txn->st; }

/* ---- open and close ---- */

static int make_dir(const char *path, const char *what, char **error)
{
    if (mkdir(path, 0700) == 0)
        return 0;
    int err = errno;
    struct stat sb;
    if (err != EEXIST)
        return pl_storage_fail(error, -err, "cannot create %s %s: %s", what, path, strerror(err));
    if (stat(path, &sb) != 0) {
        err = errno;
        return pl_storage_fail(error, -err, "cannot access %s %s: %s", what, path, strerror(err));
    }
    if (!S_ISDIR(sb.st_mode))
        return pl_storage_fail(error, -ENOTDIR, "%s %s exists and is not a directory", what, path);
    return 0;
}

/* Reads both schema versions and refuses newer ones before migrating either,
 * so a refused open changes nothing on disk. */
static int schema_open(pl_storage_t *st, char **error)
{
    const char *path = sqlite3_db_filename(st->db, "main");
    pthread_mutex_lock(&st->write_lock);
    MDB_txn *txn = NULL;
    int in_sql = 0, lv = 0, sv = 0;
    int rc = mdb_txn_begin(st->env, NULL, 0, &txn);
    if (rc != 0) {
        txn = NULL;
        rc = pl_storage_fail(error, pl_lmdb_errno(rc),
                             "cannot begin an LMDB write transaction in %s/hot: %s", st->dir,
                             mdb_strerror(rc));
        goto out;
    }
    if ((rc = pl_lmdb_schema_read(st, txn, &lv, error)) != 0)
        goto out;
    if ((rc = pl_sqlite_exec(st->db, "BEGIN IMMEDIATE")) != 0) {
        rc = pl_storage_fail(error, rc, "cannot begin a transaction in %s: %s", path,
                             sqlite3_errmsg(st->db));
        goto out;
    }
    in_sql = 1;
    if ((rc = pl_sqlite_schema_read(st, &sv, error)) != 0)
        goto out;
    if (lv > PL_LMDB_SCHEMA_VERSION) {
        rc = pl_storage_fail(error, -EPROTO,
                             "LMDB schema version %d in %s/hot is newer than this build "
                             "supports (%d); refusing to open it (run a newer Parley)",
                             lv, st->dir, PL_LMDB_SCHEMA_VERSION);
        goto out;
    }
    if (sv > PL_SQLITE_SCHEMA_VERSION) {
        rc = pl_storage_fail(error, -EPROTO,
                             "SQLite schema version %d in %s is newer than this build "
                             "supports (%d); refusing to open it (run a newer Parley)",
                             sv, path, PL_SQLITE_SCHEMA_VERSION);
        goto out;
    }
    if ((rc = pl_lmdb_schema_migrate(st, txn, lv, error)) != 0 ||
        (rc = pl_sqlite_schema_migrate(st, sv, error)) != 0)
        goto out;
    if ((rc = pl_sqlite_exec(st->db, "COMMIT")) != 0) {
        rc = pl_storage_fail(error, rc, "cannot commit the schema of %s: %s", path,
                             sqlite3_errmsg(st->db));
        goto out;
    }
    in_sql = 0;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        rc = pl_storage_fail(error, pl_lmdb_errno(rc), "cannot commit the schema of %s/hot: %s",
                             st->dir, mdb_strerror(rc));
out:
    if (in_sql && !sqlite3_get_autocommit(st->db))
        pl_sqlite_exec(st->db, "ROLLBACK");
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&st->write_lock);
    return rc;
}

static int thread_start(pl_storage_t *st, char **error)
{
    /* Signals belong to the loops (libuv's signal handles), not to us. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&st->thread, NULL, storage_thread, st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return pl_storage_fail(error, -rc, "cannot start the storage thread: %s", strerror(rc));
    pthread_setname_np(st->thread, "pl-storage");
    st->thread_started = 1;
    return 0;
}

static void storage_free(pl_storage_t **stp)
{
    pl_storage_t *st = *stp;
    *stp = NULL;
    pl_sqlite_close(st);
    pl_lmdb_close(st);
    pthread_mutex_destroy(&st->write_lock);
    pthread_mutex_destroy(&st->kv_lock);
    queue_unref(&st->queue);
    free(st->dir);
    free(st);
}

int pl_storage_open(pl_storage_t **out, const pl_storage_opts_t *opts, char **error)
{
    *out = NULL;
    if (error)
        *error = NULL;
    if (!opts || !opts->dir || !opts->dir[0])
        return pl_storage_fail(error, -EINVAL, "no data directory given");
    int rc = make_dir(opts->dir, "data directory", error);
    if (rc != 0)
        return rc;

    pl_storage_t *st = pl_xcalloc(1, sizeof(*st));
    st->dir = pl_xstrdup(opts->dir);
    st->threaded = opts->threaded != 0;
    st->commit_interval_ms =
        opts->commit_interval_ms ? opts->commit_interval_ms : DEFAULT_COMMIT_INTERVAL_MS;
    st->queue = queue_new();
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&st->write_lock, &attr);
    pthread_mutexattr_destroy(&attr);
    pthread_mutex_init(&st->kv_lock, NULL);

    size_t len = strlen(opts->dir) + sizeof("/history.db");
    char *path = pl_xmalloc(len);
    snprintf(path, len, "%s/hot", opts->dir);
    rc = make_dir(path, "LMDB directory", error);
    if (rc == 0)
        rc = pl_lmdb_env_open(st, path, opts->lmdb_map_size ? opts->lmdb_map_size
                                                            : DEFAULT_MAP_SIZE, error);
    if (rc == 0) {
        snprintf(path, len, "%s/history.db", opts->dir);
        rc = pl_sqlite_open(st, path, error);
    }
    free(path);
    if (rc == 0)
        rc = schema_open(st, error);
    if (rc == 0 && (rc = pl_lmdb_open_existing(st)) != 0)
        rc = pl_storage_fail(error, rc, "cannot open the stores of %s/hot", opts->dir);
    if (rc == 0 && st->threaded)
        rc = thread_start(st, error);
    if (rc != 0) {
        storage_free(&st);
        return rc;
    }
    *out = st;
    return 0;
}

void pl_storage_close(pl_storage_t **stp)
{
    if (!stp || !*stp)
        return;
    pl_storage_t *st = *stp;
    *stp = NULL;
    pl_storage_queue_t *q = st->queue;
    pthread_mutex_lock(&q->lock);
    q->closing = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    if (st->thread_started)
        pthread_join(st->thread, NULL);
    storage_free(&st);
}

int pl_storage_schema_versions(pl_storage_t *st, int *lmdb_version, int *sqlite_version)
{
    if (lmdb_version)
        *lmdb_version = st->lmdb_version;
    if (sqlite_version)
        *sqlite_version = st->sqlite_version;
    return 0;
}
