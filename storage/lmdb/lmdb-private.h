/* lmdb-private.h — the LMDB half of the storage, as storage.c and the
 * repositories inside storage/ see it: environment set-up, schema migrations,
 * read transactions and error mapping. */
#ifndef PL_LMDB_PRIVATE_H
#define PL_LMDB_PRIVATE_H

#include "storage/storage-private.h"

/* LMDB return code -> negative errno (-ENOSPC for a full map, -EINVAL for a
 * bad key size, -EIO for corruption and the rest). */
int pl_lmdb_errno(int rc);
int pl_lmdb_env_open(pl_storage_t *st, const char *path, size_t map_size, char **error);
/* Inside the start-up write transaction: opens the meta database and reads
 * the stored version (0 on a fresh environment). */
int pl_lmdb_schema_read(pl_storage_t *st, MDB_txn *txn, int *version, char **error);
/* Runs the migrations after `from`, records the version, opens the
 * repositories' databases. */
int pl_lmdb_schema_migrate(pl_storage_t *st, MDB_txn *txn, int from, char **error);
/* A short read transaction (MDB_RDONLY; usable from any thread thanks to
 * MDB_NOTLS).  End it with mdb_txn_abort. */
int pl_lmdb_read_begin(pl_storage_t *st, MDB_txn **out);
/* Opens every named store the environment holds (at open, before the
 * storage thread starts), so that account deletion reaches stores no
 * running module asked for.  0 or <0. */
int pl_lmdb_open_existing(pl_storage_t *st);
/* A store already open in this process, or NULL (no creation: usable
 * inside a write job). */
pl_kv_t *pl_lmdb_kv_lookup(pl_storage_t *st, const char *name);
/* The one prefix scan of the repositories.  Visits, inside txn (read or
 * write), the records of kv whose key starts with prefix[0..plen) (plen 0:
 * every record), in key order.  fn gets the record (key and value point
 * into the map: valid during the call only) and the cursor positioned on
 * it, so it may delete the record (mdb_cursor_del) and the scan goes on
 * with the next one.  fn returns 0 to go on, >0 to stop, <0 to stop with
 * that status.  Returns how many records fn saw (the one that stopped the
 * scan included), fn's negative status, or an LMDB error as a negative
 * errno.  A prefix longer than any key can be matches nothing. */
typedef int (*pl_lmdb_scan_fn)(void *ud, MDB_cursor *cur, const MDB_val *key, const MDB_val *val);
long pl_lmdb_scan_prefix(MDB_txn *txn, pl_kv_t *kv, const void *prefix, size_t plen,
                         pl_lmdb_scan_fn fn, void *ud);
/* Frees the named-store handles and closes the environment. */
void pl_lmdb_close(pl_storage_t *st);

#endif
