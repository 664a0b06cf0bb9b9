/* sqlite-private.h — the SQLite half of the storage ("history.db", WAL):
 * opening with the durability settings, user_version migrations, and small
 * statement helpers for storage.c and the history repositories. */
#ifndef PL_SQLITE_PRIVATE_H
#define PL_SQLITE_PRIVATE_H

#include "storage/storage-private.h"

int pl_sqlite_open(pl_storage_t *st, const char *path, char **error);
/* Inside BEGIN IMMEDIATE: PRAGMA user_version. */
int pl_sqlite_schema_read(pl_storage_t *st, int *version, char **error);
int pl_sqlite_schema_migrate(pl_storage_t *st, int from, char **error);
/* Runs one statement without results; 0 or a negative errno. */
int pl_sqlite_exec(sqlite3 *db, const char *sql);
/* SQLite result code -> negative errno (-EBUSY, -ENOSPC, -EIO ...). */
int pl_sqlite_errno(int rc);
/* A statement prepared once on the write connection and kept (reset and
 * unbound) for the storage's life, for the repositories' hot writes; NULL
 * when it does not prepare.  Only under write_lock. */
sqlite3_stmt *pl_sqlite_stmt(pl_storage_t *st, pl_sqlite_slot_t slot, const char *sql);
/* Finalises the kept statements and closes. */
void pl_sqlite_close(pl_storage_t *st);

#endif
