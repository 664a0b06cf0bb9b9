/* sqlite.c — the history half of the storage: <dir>/history.db in WAL mode,
 * opened with the durability settings the server's acknowledgements rely on,
 * and migrated step by step through PRAGMA user_version. */
#include "storage/sqlite/sqlite-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Durability: journal_mode=WAL with synchronous=FULL.
 *
 * With synchronous=NORMAL a WAL commit is written but not fsynced; the WAL is
 * synced only at checkpoints.  That survives kill -9 of the server (the bytes
 * are in the kernel's page cache) but a power cut or kernel crash can roll
 * the last commits back.  The server acknowledges a stanza (<a/>) once its
 * batch has committed, and the LMDB half already fsyncs every commit, so
 * NORMAL would make history the weak half of that promise.  FULL fsyncs the
 * WAL on every commit; group commit pays it once per batch, not per stanza.
 *
 * WAL also keeps readers and the writer out of each other's way and works
 * across processes on one host (the -shm file), so parleyctl can open the
 * data directory while the server runs.  Writers from both processes take
 * the LMDB writer lock first and then BEGIN IMMEDIATE, so they cannot
 * deadlock; busy_timeout covers the wait. */
#define BUSY_TIMEOUT_MS 5000

/* Migration N takes user_version from N-1 to N.  Steps only ever get
 * appended; a released step is never edited. */
static const char *const sqlite_migrations[] = {
    /* 1: bookkeeping and the audit log's table. */
    "CREATE TABLE meta ("
    "  key   TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES ('created', CAST(strftime('%s', 'now') AS TEXT));"
    "CREATE TABLE events ("
    "  id     INTEGER PRIMARY KEY,"
    "  ts     INTEGER NOT NULL," /* unix milliseconds */
    "  host   TEXT NOT NULL,"
    "  kind   TEXT NOT NULL,"
    "  jid    TEXT,"
    "  ip     TEXT,"
    "  detail TEXT"
    ");"
    "CREATE INDEX events_by_ts ON events(ts);"
    "CREATE INDEX events_by_jid ON events(jid, ts);",
    /* 2: the message archive (storage/archive.c).  `ts` is the message's
     * key: microseconds since 1970, unique per owner (the value of its
     * stanza-id), so UNIQUE(owner, ts) makes a replayed insert a no-op and
     * orders pages.  archive_by_ts serves retention purges.  The FTS5
     * table's rowid is the archive row's `n`.  `dir`: 0 in, 1 out, 2 a
     * groupchat message a joined occupant received (pl_archive_dir_t).
     * IF NOT EXISTS: a database
     * whose user_version was set back by hand migrates forward again. */
    "CREATE TABLE IF NOT EXISTS archive ("
    "  n        INTEGER PRIMARY KEY,"
    "  owner    TEXT NOT NULL,"
    "  ts       INTEGER NOT NULL,"
    "  peer     TEXT NOT NULL,"
    "  peer_res TEXT NOT NULL DEFAULT '',"
    "  dir      INTEGER NOT NULL,"
    "  stanza   BLOB NOT NULL,"
    "  UNIQUE(owner, ts)"
    ");"
    "CREATE INDEX IF NOT EXISTS archive_by_peer ON archive(owner, peer, ts);"
    "CREATE INDEX IF NOT EXISTS archive_by_ts ON archive(ts);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS archive_fts USING fts5(body, tokenize = 'unicode61 "
    "remove_diacritics 2');",
};

int pl_sqlite_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_INTERRUPT:
        return -EINTR;
    case SQLITE_ERROR:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
        return -EINVAL;
    default:
        return -EIO;
    }
}

int pl_sqlite_exec(sqlite3 *db, const char *sql)
{
    return pl_sqlite_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* The message SQLite has for the last error, with the system's errno text
 * when there is one ("unable to open database file (Permission denied)"). */
static int fail_db(char **error, sqlite3 *db, int rc, const char *what, const char *path)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys)
        return pl_storage_fail(error, pl_sqlite_errno(rc), "%s %s: %s (%s)", what, path, msg,
                               strerror(sys));
    return pl_storage_fail(error, pl_sqlite_errno(rc), "%s %s: %s", what, path, msg);
}

/* Runs a pragma that returns one row and copies its first column. */
static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(stmt, 0);
        snprintf(out, outlen, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        out[0] = '\0';
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* history.db holds message bodies.  SQLite would create it with 0644 less
 * the umask, and gives its -wal, -shm and journal files the database's own
 * mode, so the file is made here first, owner-only whatever the umask. */
static int create_private(const char *path, char **error)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return 0; /* an existing database keeps its mode (the server warns) */
        int err = errno;
        return pl_storage_fail(error, -err, "cannot create %s: %s", path, strerror(err));
    }
    int rc = fchmod(fd, 0600) == 0 ? 0 : -errno;
    close(fd);
    return rc ? pl_storage_fail(error, rc, "cannot chmod %s: %s", path, strerror(-rc)) : 0;
}

int pl_sqlite_open(pl_storage_t *st, const char *path, char **error)
{
    sqlite3 *db = NULL;
    int rc = create_private(path, error);
    if (rc != 0)
        return rc;
    /* FULLMUTEX: the connection belongs to whoever holds write_lock, but
     * the history repositories may later read from other threads. */
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = fail_db(error, db, rc, "cannot open SQLite database", path);
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);

    /* The file is really opened and read here, so this is where a bad path
     * or a file that is not a database shows up. */
    char mode[16];
    rc = pragma_text(db, "PRAGMA journal_mode=WAL", mode, sizeof(mode));
    if (rc != SQLITE_OK) {
        rc = fail_db(error, db, rc, "cannot open SQLite database", path);
        goto out;
    }
    if (strcmp(mode, "wal") != 0) {
        rc = pl_storage_fail(error, -EIO,
                             "cannot switch SQLite database %s to WAL mode (journal_mode is %s)",
                             path, mode);
        goto out;
    }
    if ((rc = sqlite3_exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL,
                           NULL)) != SQLITE_OK) {
        rc = fail_db(error, db, rc, "cannot configure SQLite database", path);
        goto out;
    }
    st->db = db; /* the storage's from here on */
    db = NULL;
out:
    sqlite3_close(db); /* NULL: nothing to do */
    return rc;
}

int pl_sqlite_schema_read(pl_storage_t *st, int *version, char **error)
{
    char text[32];
    int rc = pragma_text(st->db, "PRAGMA user_version", text, sizeof(text));
    if (rc != SQLITE_OK)
        return fail_db(error, st->db, rc, "cannot read the schema version of",
                       sqlite3_db_filename(st->db, "main"));
    *version = atoi(text);
    return 0;
}

int pl_sqlite_schema_migrate(pl_storage_t *st, int from, char **error)
{
    const char *path = sqlite3_db_filename(st->db, "main");
    size_t n = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
    _Static_assert(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]) ==
                       PL_SQLITE_SCHEMA_VERSION,
                   "one SQLite migration step per schema version");
    for (size_t i = (size_t)(from > 0 ? from : 0); i < n; i++) {
        char *msg = NULL;
        int rc = sqlite3_exec(st->db, sqlite_migrations[i], NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
            rc = pl_storage_fail(error, pl_sqlite_errno(rc), "SQLite migration %zu failed in %s: %s",
                                 i + 1, path, msg ? msg : sqlite3_errstr(rc));
            sqlite3_free(msg);
            return rc;
        }
    }
    if (from != PL_SQLITE_SCHEMA_VERSION) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", PL_SQLITE_SCHEMA_VERSION);
        int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return fail_db(error, st->db, rc, "cannot record the schema version of", path);
    }
    st->sqlite_version = PL_SQLITE_SCHEMA_VERSION;
    return 0;
}

sqlite3_stmt *pl_sqlite_stmt(pl_storage_t *st, pl_sqlite_slot_t slot, const char *sql)
{
    sqlite3_stmt **cached = &st->stmts[slot];
    if (*cached) {
        sqlite3_reset(*cached);
        sqlite3_clear_bindings(*cached);
        return *cached;
    }
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, cached, NULL) != SQLITE_OK)
        *cached = NULL;
    return *cached;
}

void pl_sqlite_close(pl_storage_t *st)
{
    for (size_t i = 0; i < PL_SQLITE_SLOTS; i++) {
        sqlite3_finalize(st->stmts[i]);
        st->stmts[i] = NULL;
    }
    /* close_v2: statements a repository forgot to finalise do not keep the
     * file open forever; the connection goes when the last one does. */
    if (st->db)
        sqlite3_close_v2(st->db);
    st->db = NULL;
}
