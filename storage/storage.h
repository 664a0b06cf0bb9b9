/* storage.h — Parley's storage layer: an LMDB environment for hot state and a
 * SQLite database (WAL) for history, behind repository functions.
 *
 * Threads: reads (pl_accounts_get, pl_kv_get) are synchronous and safe from
 * any thread; they use short LMDB read transactions.  Writes from the event
 * loops go through pl_storage_write: the job runs on the storage thread inside
 * a batch (one LMDB write transaction plus one SQLite transaction for every
 * job queued meanwhile — group commit), and its `done` callback runs on the
 * submitting loop after the batch is durably committed.  Tools (parleyctl,
 * tests) open the storage with `threaded = 0` and use pl_storage_write_sync.
 *
 * Modules never include lmdb.h or sqlite3.h: they get named key-value stores
 * (pl_kv_t) and, later, repositories such as the archive.
 *
 * Errors are negative errno values: -ENOSPC (LMDB map full), -EINVAL (bad
 * argument, key empty or longer than LMDB's 511-byte limit), -ENAMETOOLONG
 * (JID too long to be a key), -EBADMSG (a stored record that does not parse),
 * -EPROTO (schema newer than this build), -EBUSY, -EIO, -ESHUTDOWN (closing),
 * -EDEADLK (a write entered from inside a write job).
 *
 * Processes: parleyctl may open the data directory while parleyd runs (LMDB's
 * lock file and SQLite's WAL are both multi-process).  One process must not
 * open the same directory twice: LMDB forbids two environments on one file in
 * a process (closing one drops the other's POSIX locks). */
#ifndef PL_STORAGE_H
#define PL_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "lib/buf.h"
#include "xmpp/scram.h"

typedef struct pl_storage pl_storage_t;
typedef struct pl_storage_port pl_storage_port_t;
typedef struct pl_wtxn pl_wtxn_t;
typedef struct pl_kv pl_kv_t;

typedef struct pl_storage_opts {
    const char *dir;      /* data directory; created (0700) if missing */
    size_t lmdb_map_size; /* bytes; 0 = 1 GiB */
    int threaded;         /* 1: start the storage thread (server); 0: synchronous (tools) */
    unsigned commit_interval_ms; /* group-commit window, default 2 */
} pl_storage_opts_t;

/* Opens (creating and migrating as needed).  On failure returns negative and
 * puts a readable message in *error (caller frees). */
int pl_storage_open(pl_storage_t **out, const pl_storage_opts_t *opts, char **error);
/* Drains queued writes, commits, stops the thread, closes both databases.
 * Every accepted job has run and been handed to its port when this returns;
 * open ports stay valid (writes through them then fail with -ESHUTDOWN) and
 * must still be closed by their loops. */
void pl_storage_close(pl_storage_t **stp);
/* Schema versions in force (for logs and `parleyctl`). */
int pl_storage_schema_versions(pl_storage_t *st, int *lmdb_version, int *sqlite_version);

/* A loop's connection to the storage thread: `done` callbacks of writes
 * submitted through the port run on that loop.  Close the port before the
 * loop ends (it closes its uv handle asynchronously).  Only with threaded = 1
 * (-EINVAL otherwise); open, write and close on the loop's thread.
 * Closing drops the `done` of writes not yet delivered (they still commit):
 * at shutdown their user data is usually gone with the loop.  Close a port
 * after its writes completed when their callbacks matter. */
int pl_storage_port_open(pl_storage_t *st, uv_loop_t *loop, pl_storage_port_t **out);
/* Starts closing the port and clears *portp (NULL is allowed); the port
 * itself goes once its uv handle closed and its last write is delivered. */
void pl_storage_port_close(pl_storage_port_t **portp);
/* Writes submitted through the port and not yet committed (their `done`
 * may still be waiting for the loop): 0 means everything submitted so far
 * is committed. */
unsigned pl_storage_port_inflight(pl_storage_port_t *port);
/* 1 when every write submitted through the port has committed and its
 * `done` has run (on the port's loop thread). */
int pl_storage_port_idle(pl_storage_port_t *port);

typedef int (*pl_storage_run_fn)(pl_wtxn_t *txn, void *ud);
typedef void (*pl_storage_done_fn)(void *ud, int status);

/* Queues a write (on the port's loop thread).  `run` executes on the storage
 * thread inside the current batch (a negative return aborts only this job's
 * changes: each job runs in a nested LMDB transaction and a SQLite
 * savepoint); `done` runs on the port's loop after commit with run's status,
 * or a negative error if the commit failed.  `done` runs exactly once (unless
 * the port is closed first, see above).  Returns 0, or negative if the
 * storage is closing (-ESHUTDOWN), the queue holds too many jobs (-EAGAIN) or
 * the port is closing (-EINVAL); then neither callback runs.  Jobs must not
 * call pl_storage_write_sync or pl_storage_kv (-EDEADLK). */
int pl_storage_write(pl_storage_port_t *port, pl_storage_run_fn run, pl_storage_done_fn done,
                     void *ud);
/* The same, synchronously on the calling thread (storage opened with
 * threaded = 0, or at start-up before the thread runs).  With the thread
 * running it waits for the current batch (blocking the caller).  Returns run's
 * status, or a negative error if begin or commit failed. */
int pl_storage_write_sync(pl_storage_t *st, pl_storage_run_fn run, void *ud);

/* ---- named key-value stores (LMDB sub-databases) ---- */
/* Opens or creates the store `name` (e.g. "roster", "offline").  The handle
 * lives as long as the storage.  Creating takes a write transaction: do it at
 * start-up, not inside a write job.  "meta" and "accounts" are reserved. */
int pl_storage_kv(pl_storage_t *st, const char *name, pl_kv_t **out);
/* 1 found (value copied into *val, replacing its contents), 0 absent, <0 error. */
int pl_kv_get(pl_kv_t *kv, const void *key, size_t klen, pl_buf_t *val);
/* The same inside a write job, seeing the job's own uncommitted changes (for
 * read-modify-write). */
int pl_kv_txn_get(pl_wtxn_t *txn, pl_kv_t *kv, const void *key, size_t klen, pl_buf_t *val);
int pl_kv_put(pl_wtxn_t *txn, pl_kv_t *kv, const void *key, size_t klen, const void *val,
              size_t vlen);
/* 1 deleted, 0 absent, <0 error. */
int pl_kv_del(pl_wtxn_t *txn, pl_kv_t *kv, const void *key, size_t klen);
/* Inside a write job: deletes every key starting with `prefix` (plen > 0).
 * Returns how many, or <0. */
long pl_kv_del_prefix(pl_wtxn_t *txn, pl_kv_t *kv, const void *prefix, size_t plen);
/* Visits keys starting with `prefix` in key order (read transaction); stop
 * by returning non-zero from `fn`.  Returns the number visited or <0.
 * key/val point into the map: valid only during the call. */
typedef int (*pl_kv_visit_fn)(void *ud, const void *key, size_t klen, const void *val,
                              size_t vlen);
int pl_kv_scan(pl_kv_t *kv, const void *prefix, size_t plen, pl_kv_visit_fn fn, void *ud);
/* The same inside a write job, seeing the job's own uncommitted changes. */
int pl_kv_txn_scan(pl_wtxn_t *txn, pl_kv_t *kv, const void *prefix, size_t plen, pl_kv_visit_fn fn,
                   void *ud);

/* ---- accounts repository ---- */
enum { PL_ACCOUNT_DISABLED = 1u << 0 };

typedef struct pl_account {
    char jid[3 * 1024 + 2]; /* bare JID, normalised */
    uint32_t flags;
    int64_t created; /* unix seconds */
    pl_scram_keys_t sha1;
    pl_scram_keys_t sha256;
} pl_account_t;

/* 1 found, 0 absent, <0 error. */
int pl_accounts_get(pl_storage_t *st, const char *bare_jid, pl_account_t *out);
/* Inside a write job.  put replaces; del returns 1 deleted / 0 absent. */
int pl_accounts_put(pl_wtxn_t *txn, const pl_account_t *acc);
int pl_accounts_del(pl_wtxn_t *txn, const char *bare_jid);
/* Visits accounts of `domain` (NULL: all) in JID order; non-zero from `fn`
 * stops.  Returns the number visited or <0.  Records that do not parse are
 * skipped (pl_accounts_get returns -EBADMSG for them). */
typedef int (*pl_accounts_visit_fn)(void *ud, const pl_account_t *acc);
int pl_accounts_list(pl_storage_t *st, const char *domain, pl_accounts_visit_fn fn, void *ud);
/* Inside a write job: the key-value half of deleting an account.  Removes
 * from every store that exists (whoever opened it: pl_storage_open opens
 * them all, so stores of modules no longer enabled are included) the key
 * `bare` itself and every key starting with `bare` '\0' — the convention
 * for per-account records.  Data kept otherwise (secondary indexes, SQLite
 * rows) is removed by its owner before this runs (pl_module_desc_t's
 * account_removed).  Returns the number of keys deleted, or <0. */
long pl_storage_forget_account(pl_wtxn_t *txn, const char *bare);

/* ---- encryption at rest (storage/seal.h) ---- */
typedef struct pl_seal pl_seal_t;
/* The key ring repositories seal their payloads with (message stanzas in
 * the offline store and the archive), or NULL to store them in clear.  Set
 * once after opening, before any write; the storage does not own it. */
void pl_storage_set_seal(pl_storage_t *st, const pl_seal_t *ring);
const pl_seal_t *pl_storage_seal(const pl_storage_t *st);

/* The storage a write job runs against (to reach other repositories). */
pl_storage_t *pl_wtxn_storage(pl_wtxn_t *txn);

#endif
