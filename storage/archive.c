/* archive.c — the message archive repository over history.db: inserts and
 * retention purges inside write jobs, paged and filtered queries on
 * read-only connections from worker threads (see archive.h). */
#include "storage/archive.h"
#include "storage/seal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "storage/sqlite/sqlite-private.h"

#define ARCHIVE_IDLE_MAX 8 /* read-only connections kept for reuse */
#define ARCHIVE_BUSY_TIMEOUT_MS 5000
#define ARCHIVE_PROGRESS_STEPS 4096 /* VM steps between budget checks */
#define ARCHIVE_MAX_BINDS (16 + PL_ARCHIVE_MAX_IDS)

/* Record format byte in front of the stored stanza (pl_seal_frame):
 * readers dispatch on it. */
#define RECORD_PLAIN 0x00
#define RECORD_SEALED 0x01 /* storage/seal.h record: storage.key_file is set */

struct pl_archive {
    char *path;
    const pl_seal_t *seal; /* encryption at rest, or NULL */
    pthread_mutex_t lock; /* guards idle[] */
    sqlite3 *idle[ARCHIVE_IDLE_MAX];
    size_t nidle;
};

/* ---- the record codec (the seam for encryption at rest) ---- */

/* A sealed record is bound to "archive" NUL owner NUL key (in decimal), so
 * a record copied to another row or another archive does not open.  `item`
 * holds the key's digits for as long as the frame is used. */
static pl_seal_frame_t record_frame(const char *owner, int64_t key, char item[24])
{
    snprintf(item, 24, "%lld", (long long)key);
    return (pl_seal_frame_t){.label = "archive",
                             .owner = owner,
                             .item = item,
                             .plain_tag = RECORD_PLAIN,
                             .sealed_tag = RECORD_SEALED};
}

static int record_encode(const pl_seal_t *ring, const char *owner, int64_t key,
                         const char *stanza, size_t len, pl_buf_t *out)
{
    char item[24];
    pl_seal_frame_t f = record_frame(owner, key, item);
    return pl_seal_frame(ring, &f, stanza, len, out);
}

/* Points stanza and len at the payload of a record (or fills `scratch` when a
 * format needs to transform it).  0, -EBADMSG for an unknown format or a
 * record that does not open, -ENOKEY for a sealed one without the key. */
static int record_decode(const pl_seal_t *ring, const char *owner, int64_t key, const void *rec,
                         size_t reclen, pl_buf_t *scratch, const char **stanza, size_t *len)
{
    char item[24];
    pl_seal_frame_t f = record_frame(owner, key, item);
    const void *payload;
    int rc = pl_seal_unframe(ring, &f, rec, reclen, scratch, &payload, len);
    *stanza = rc == 0 ? payload : NULL;
    return rc;
}

/* ---- full text under encryption (docs/ENCRYPTION.md, option 3) ----
 * With a key ring the index holds no words: each word of the body (a run of
 * letters and digits, ASCII folded to lower case) is replaced by its keyed
 * token (pl_seal_token), and a search looks for the tokens of its words
 * under every key of the ring.  Whole words only: no prefixes. */

static int word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Calls fn for each word of text (at most `max_words`); lower-cases ASCII. */
static size_t each_word(const char *text, size_t len, size_t max_words,
                        void (*fn)(void *ud, const char *w, size_t n), void *ud)
{
    char w[256];
    size_t nw = 0, i = 0;
    while (i < len && nw < max_words) {
        while (i < len && !word_byte((unsigned char)text[i]))
            i++;
        size_t n = 0;
        while (i < len && word_byte((unsigned char)text[i])) {
            unsigned char c = (unsigned char)text[i++];
            if (n < sizeof(w))
                w[n++] = (char)(c < 0x80 ? (c | ((c >= 'A' && c <= 'Z') ? 0x20 : 0)) : c);
        }
        if (n) {
            fn(ud, w, n);
            nw++;
        }
    }
    return nw;
}

typedef struct tok_ctx {
    const pl_seal_t *ring;
    pl_buf_t *out;
    int query; /* 1: ( "t_key1" OR "t_key2" ) per word, joined by AND */
} tok_ctx_t;

static void add_tokens(void *ud, const char *w, size_t n)
{
    tok_ctx_t *c = ud;
    char tok[PL_SEAL_TOKEN_LEN + 1];
    if (!c->query) {
        if (pl_seal_token(c->ring, pl_seal_count(c->ring) - 1, w, n, tok) == 0)
            pl_buf_printf(c->out, "%s%s", c->out->len ? " " : "", tok);
        return;
    }
    pl_buf_puts(c->out, c->out->len ? " AND (" : "(");
    for (size_t k = 0; k < pl_seal_count(c->ring); k++)
        if (pl_seal_token(c->ring, k, w, n, tok) == 0)
            pl_buf_printf(c->out, "%s\"%s\"", k ? " OR " : "", tok);
    pl_buf_puts(c->out, ")");
}

/* ---- writes ---- */

int pl_archive_insert(pl_wtxn_t *txn, const pl_archive_msg_t *m)
{
    if (!m || !m->owner || !m->peer || !m->stanza || m->key <= 0 ||
        (m->dir != PL_ARCHIVE_IN && m->dir != PL_ARCHIVE_OUT && m->dir != PL_ARCHIVE_GROUPCHAT))
        return -EINVAL;
    sqlite3_stmt *ins =
        pl_sqlite_stmt(txn->st, PL_SQLITE_ARCHIVE_INSERT,
                       "INSERT OR IGNORE INTO archive(owner, ts, peer, peer_res, dir, stanza) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!ins)
        return -EIO;
    pl_buf_t rec, tokens;
    pl_buf_init(&rec);
    pl_buf_init(&tokens);
    int rc = -EIO;
    if (record_encode(txn->st->seal, m->owner, m->key, m->stanza, m->stanza_len, &rec) != 0)
        goto out;
    const char *body = m->body;
    size_t body_len = m->body_len;
    if (txn->st->seal && body && body_len) {
        tok_ctx_t tc = {.ring = txn->st->seal, .out = &tokens};
        each_word(body, body_len, 4096, add_tokens, &tc);
        body = tokens.data;
        body_len = tokens.len;
    }
    sqlite3_bind_text(ins, 1, m->owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, m->key);
    sqlite3_bind_text(ins, 3, m->peer, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 4, m->peer_resource ? m->peer_resource : "", -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 5, (int)m->dir);
    sqlite3_bind_blob(ins, 6, rec.data, (int)rec.len, SQLITE_STATIC);
    int step = sqlite3_step(ins);
    int stored = step == SQLITE_DONE && sqlite3_changes(txn->db) == 1;
    sqlite3_int64 row = sqlite3_last_insert_rowid(txn->db);
    sqlite3_reset(ins);
    if (step != SQLITE_DONE) {
        rc = pl_sqlite_errno(step);
        goto out;
    }
    rc = stored; /* 0: the same message again, and the first copy stays */
    if (stored && body && body_len) {
        sqlite3_stmt *fts = pl_sqlite_stmt(txn->st, PL_SQLITE_ARCHIVE_FTS_INSERT,
                                           "INSERT INTO archive_fts(rowid, body) VALUES (?1, ?2)");
        if (!fts) {
            rc = -EIO;
            goto out;
        }
        sqlite3_bind_int64(fts, 1, row);
        sqlite3_bind_text(fts, 2, body, (int)body_len, SQLITE_STATIC);
        step = sqlite3_step(fts);
        sqlite3_reset(fts);
        if (step != SQLITE_DONE)
            rc = pl_sqlite_errno(step);
    }
out:
    pl_buf_deinit(&rec);
    pl_buf_deinit(&tokens);
    return rc;
}

/* Deletes the archive rows (and their FTS entries) listed in rows[]. */
static int delete_rows(sqlite3 *db, const sqlite3_int64 *rows, size_t n)
{
    sqlite3_stmt *del_fts = NULL, *del = NULL;
    int rc = sqlite3_prepare_v2(db, "DELETE FROM archive_fts WHERE rowid = ?1", -1, &del_fts, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "DELETE FROM archive WHERE n = ?1", -1, &del, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        sqlite3_bind_int64(del_fts, 1, rows[i]);
        sqlite3_bind_int64(del, 1, rows[i]);
        rc = sqlite3_step(del_fts);
        if (rc == SQLITE_DONE)
            rc = sqlite3_step(del);
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_reset(del_fts);
        sqlite3_reset(del);
    }
    sqlite3_finalize(del_fts);
    sqlite3_finalize(del);
    return pl_sqlite_errno(rc);
}

/* Collects up to `limit` row numbers of a one-column query, then deletes
 * them: the batch is chosen before anything changes under the cursor. */
static int delete_selected(sqlite3 *db, sqlite3_stmt *sel, unsigned limit)
{
    sqlite3_int64 *rows = pl_xcalloc(limit ? limit : 1, sizeof(*rows));
    size_t n = 0;
    int rc;
    while (n < limit && (rc = sqlite3_step(sel)) == SQLITE_ROW)
        rows[n++] = sqlite3_column_int64(sel, 0);
    if (n < limit && rc != SQLITE_DONE) {
        free(rows);
        return pl_sqlite_errno(rc);
    }
    sqlite3_reset(sel);
    rc = delete_rows(db, rows, n);
    free(rows);
    return rc < 0 ? rc : (int)n;
}

int pl_archive_purge(pl_wtxn_t *txn, const char *domain, int64_t before_key, unsigned limit)
{
    if (limit == 0)
        return 0;
    /* Oldest first along archive_by_ts; the owner's domain is the text
     * after its last '@' (bare JIDs of accounts always have a local part). */
    const char *sql = domain ? "SELECT n FROM archive WHERE ts < ?1 AND "
                               "substr(owner, -length(?2)) = ?2 ORDER BY ts LIMIT ?3"
                             : "SELECT n FROM archive WHERE ts < ?1 ORDER BY ts LIMIT ?3";
    sqlite3_stmt *sel;
    int rc = sqlite3_prepare_v2(txn->db, sql, -1, &sel, NULL);
    if (rc != SQLITE_OK)
        return pl_sqlite_errno(rc);
    char *suffix = NULL;
    if (domain) {
        size_t len = strlen(domain) + 2;
        suffix = pl_xmalloc(len);
        snprintf(suffix, len, "@%s", domain);
        sqlite3_bind_text(sel, 2, suffix, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(sel, 1, before_key);
    sqlite3_bind_int64(sel, 3, limit);
    rc = delete_selected(txn->db, sel, limit);
    sqlite3_finalize(sel);
    free(suffix);
    return rc;
}

int pl_archive_delete_owner(pl_wtxn_t *txn, const char *owner)
{
    sqlite3_stmt *sel;
    int rc = sqlite3_prepare_v2(txn->db, "SELECT n FROM archive WHERE owner = ?1", -1, &sel, NULL);
    if (rc != SQLITE_OK)
        return pl_sqlite_errno(rc);
    sqlite3_bind_text(sel, 1, owner, -1, SQLITE_STATIC);
    int total = 0;
    /* In rounds, so memory stays bounded for a large archive. */
    for (;;) {
        rc = delete_selected(txn->db, sel, 1000);
        if (rc <= 0)
            break;
        total += rc;
        sqlite3_reset(sel);
    }
    sqlite3_finalize(sel);
    return rc < 0 ? rc : total;
}

/* ---- read connections ---- */

int pl_archive_open(pl_storage_t *st, pl_archive_t **out)
{
    *out = NULL;
    const char *path = sqlite3_db_filename(st->db, "main");
    if (!path || !path[0])
        return -EINVAL;
    pl_archive_t *a = pl_xcalloc(1, sizeof(*a));
    a->path = pl_xstrdup(path);
    a->seal = st->seal;
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
}

void pl_archive_close(pl_archive_t **ap)
{
    pl_archive_t *a = ap ? *ap : NULL;
    if (!a)
        return;
    *ap = NULL;
    for (size_t i = 0; i < a->nidle; i++)
        sqlite3_close_v2(a->idle[i]);
    pthread_mutex_destroy(&a->lock);
    free(a->path);
    free(a);
}

static int reader_get(pl_archive_t *a, sqlite3 **out)
{
    pthread_mutex_lock(&a->lock);
    *out = a->nidle ? a->idle[--a->nidle] : NULL;
    pthread_mutex_unlock(&a->lock);
    if (*out)
        return 0;
    /* NOMUTEX: a connection serves one query on one thread at a time. */
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(a->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(db);
        return pl_sqlite_errno(rc);
    }
    sqlite3_busy_timeout(db, ARCHIVE_BUSY_TIMEOUT_MS);
    *out = db;
    return 0;
}

static void reader_put(pl_archive_t *a, sqlite3 *db)
{
    sqlite3_progress_handler(db, 0, NULL, NULL);
    pthread_mutex_lock(&a->lock);
    if (a->nidle < ARCHIVE_IDLE_MAX) {
        a->idle[a->nidle++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&a->lock);
    if (db)
        sqlite3_close_v2(db);
}

/* ---- full-text expressions ---- */

static int word_has_token(const char *w, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)w[i];
        if (c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
            return 1;
    }
    return 0;
}

int pl_archive_fts_expr(const char *text, char *out, size_t outlen)
{
    if (!text || strlen(text) > PL_ARCHIVE_MAX_FULLTEXT)
        return -EINVAL;
    pl_buf_t b;
    pl_buf_init(&b);
    size_t terms = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            p++;
        size_t len = (size_t)(p - w);
        int prefix = len > 1 && w[len - 1] == '*';
        if (prefix)
            len--;
        if (!word_has_token(w, len))
            continue; /* punctuation alone matches nothing in the index */
        if (++terms > PL_ARCHIVE_MAX_TERMS)
            break;
        if (b.len)
            pl_buf_puts(&b, " ");
        pl_buf_puts(&b, "\"");
        for (size_t i = 0; i < len; i++) {
            if (w[i] == '"')
                pl_buf_puts(&b, "\"");
            pl_buf_append(&b, &w[i], 1);
        }
        pl_buf_puts(&b, prefix ? "\"*" : "\"");
    }
    int rc = terms == 0 || terms > PL_ARCHIVE_MAX_TERMS || b.len + 1 > outlen ? -EINVAL : 0;
    if (rc == 0)
        memcpy(out, pl_buf_cstr(&b), b.len + 1);
    pl_buf_deinit(&b);
    return rc;
}

/* ---- queries ---- */

/* Values bound to the numbered parameters of a query under construction. */
typedef struct binds {
    struct {
        int is_text;
        int64_t num;
        const char *text;
    } v[ARCHIVE_MAX_BINDS];
    int n;
} binds_t;

static void bind_num(pl_buf_t *sql, binds_t *b, const char *fmt, int64_t v)
{
    b->v[b->n].is_text = 0;
    b->v[b->n].num = v;
    pl_buf_printf(sql, fmt, ++b->n);
}

static void bind_text(pl_buf_t *sql, binds_t *b, const char *fmt, const char *v)
{
    b->v[b->n].is_text = 1;
    b->v[b->n].text = v;
    pl_buf_printf(sql, fmt, ++b->n);
}

static int prepare(sqlite3 *db, pl_buf_t *sql, const binds_t *b, sqlite3_stmt **out)
{
    int rc = sqlite3_prepare_v2(db, pl_buf_cstr(sql), (int)sql->len, out, NULL);
    if (rc != SQLITE_OK)
        return rc;
    for (int i = 0; i < b->n; i++) {
        if (b->v[i].is_text)
            sqlite3_bind_text(*out, i + 1, b->v[i].text, -1, SQLITE_STATIC);
        else
            sqlite3_bind_int64(*out, i + 1, b->v[i].num);
    }
    return SQLITE_OK;
}

/* 1 when owner's archive holds `key`, 0 not, <0 error. */
static int key_exists(sqlite3 *db, const char *owner, int64_t key)
{
    sqlite3_stmt *st;
    int rc =
        sqlite3_prepare_v2(db, "SELECT 1 FROM archive WHERE owner = ?1 AND ts = ?2", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return pl_sqlite_errno(rc);
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, key);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : pl_sqlite_errno(rc);
}

/* The filters shared by the count and the page: " WHERE ..." into sql. */
static void where_filters(const pl_archive_query_t *q, const char *fts, pl_buf_t *sql, binds_t *b)
{
    bind_text(sql, b, " WHERE owner = ?%d", q->owner);
    if (q->with)
        bind_text(sql, b, " AND peer = ?%d", q->with);
    if (q->with_resource)
        bind_text(sql, b, " AND peer_res = ?%d", q->with_resource);
    if (q->start)
        bind_num(sql, b, " AND ts >= ?%d", q->start);
    if (q->end)
        bind_num(sql, b, " AND ts <= ?%d", q->end);
    if (q->after_key)
        bind_num(sql, b, " AND ts > ?%d", q->after_key);
    if (q->before_key)
        bind_num(sql, b, " AND ts < ?%d", q->before_key);
    if (q->nkeys) {
        pl_buf_puts(sql, " AND ts IN (");
        for (size_t i = 0; i < q->nkeys; i++)
            bind_num(sql, b, i ? ", ?%d" : "?%d", q->keys[i]);
        pl_buf_puts(sql, ")");
    }
    if (!q->include_groupchat)
        bind_num(sql, b, " AND dir != ?%d", PL_ARCHIVE_GROUPCHAT);
    if (fts)
        bind_text(sql, b, " AND n IN (SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?%d)",
                  fts);
}

static int progress_check(void *ud)
{
    const uint64_t *deadline = ud;
    return pl_mono_ms() > *deadline;
}

static int run_count(sqlite3 *db, const pl_archive_query_t *q, const char *fts, long long *count)
{
    pl_buf_t sql;
    pl_buf_init(&sql);
    binds_t b = {.n = 0};
    pl_buf_puts(&sql, "SELECT count(*) FROM archive");
    where_filters(q, fts, &sql, &b);
    sqlite3_stmt *st;
    int rc = prepare(db, &sql, &b, &st);
    pl_buf_deinit(&sql);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *count = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Appends one row to the page (decoding the record). */
static int take_row(const pl_seal_t *ring, const char *owner, sqlite3_stmt *st,
                    pl_archive_page_t *out, size_t cap)
{
    const void *rec = sqlite3_column_blob(st, 3);
    size_t reclen = (size_t)sqlite3_column_bytes(st, 3);
    pl_buf_t scratch;
    pl_buf_init(&scratch);
    const char *stanza;
    size_t len;
    int rc = record_decode(ring, owner, sqlite3_column_int64(st, 0), rec, reclen, &scratch,
                           &stanza, &len);
    if (rc == 0 && out->n < cap) {
        pl_archive_item_t *it = &out->items[out->n++];
        it->key = sqlite3_column_int64(st, 0);
        int dir = sqlite3_column_int(st, 1);
        it->dir = dir == PL_ARCHIVE_OUT         ? PL_ARCHIVE_OUT
                  : dir == PL_ARCHIVE_GROUPCHAT ? PL_ARCHIVE_GROUPCHAT
                                                : PL_ARCHIVE_IN;
        it->peer = pl_xstrdup((const char *)sqlite3_column_text(st, 2));
        it->stanza = pl_xstrndup(stanza, len);
        it->stanza_len = len;
    }
    pl_buf_deinit(&scratch);
    return rc;
}

static int run_page(const pl_seal_t *ring, sqlite3 *db, const pl_archive_query_t *q,
                    const char *fts, size_t max, pl_archive_page_t *out)
{
    int backward = q->page_before || q->last_page;
    pl_buf_t sql;
    pl_buf_init(&sql);
    binds_t b = {.n = 0};
    pl_buf_puts(&sql, "SELECT ts, dir, peer, stanza FROM archive");
    where_filters(q, fts, &sql, &b);
    if (q->page_after)
        bind_num(&sql, &b, " AND ts > ?%d", q->page_after);
    if (q->page_before)
        bind_num(&sql, &b, " AND ts < ?%d", q->page_before);
    pl_buf_puts(&sql, backward ? " ORDER BY ts DESC" : " ORDER BY ts ASC");
    /* One more than asked tells whether the set goes on. */
    bind_num(&sql, &b, " LIMIT ?%d", (int64_t)max + 1);
    if (!backward && q->has_index)
        bind_num(&sql, &b, " OFFSET ?%d", (int64_t)q->index);
    sqlite3_stmt *st;
    int rc = prepare(db, &sql, &b, &st);
    pl_buf_deinit(&sql);
    if (rc != SQLITE_OK)
        return rc;
    out->items = pl_xcalloc(max ? max : 1, sizeof(*out->items));
    size_t rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (++rows > max)
            continue; /* the look-ahead row */
        if (take_row(ring, q->owner, st, out, max) != 0) {
            rc = SQLITE_CORRUPT;
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return rc;
    out->complete = rows <= max;
    if (backward) {
        for (size_t i = 0; i < out->n / 2; i++) {
            pl_archive_item_t t = out->items[i];
            out->items[i] = out->items[out->n - 1 - i];
            out->items[out->n - 1 - i] = t;
        }
    }
    return SQLITE_OK;
}

static int query_on(const pl_seal_t *ring, sqlite3 *db, const pl_archive_query_t *q,
                    const char *fts, pl_archive_page_t *out)
{
    /* Every key the client named must exist (XEP-0313 §4.1.4: an unknown
     * id is item-not-found, not an empty page). */
    const int64_t named[] = {q->after_key, q->before_key, q->page_after, q->page_before};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
        if (!named[i])
            continue;
        int rc = key_exists(db, q->owner, named[i]);
        if (rc <= 0)
            return rc == 0 ? -ENOENT : rc;
    }
    size_t max = q->max < PL_ARCHIVE_MAX_PAGE ? q->max : PL_ARCHIVE_MAX_PAGE;
    int rc = run_count(db, q, fts, &out->count);
    if (rc == SQLITE_OK && max)
        rc = run_page(ring, db, q, fts, max, out);
    else if (rc == SQLITE_OK)
        out->complete = out->count == 0;
    if (rc != SQLITE_OK)
        return rc == SQLITE_INTERRUPT ? -ETIMEDOUT : pl_sqlite_errno(rc);
    /* The position of the first item, where it costs nothing to know. */
    int backward = q->page_before || q->last_page;
    if (out->n && !backward && !q->page_after)
        out->first_index = q->has_index ? (long long)q->index : 0;
    else if (out->n && q->last_page)
        out->first_index = out->count - (long long)out->n;
    return 0;
}

int pl_archive_query(pl_archive_t *a, const pl_archive_query_t *q, pl_archive_page_t *out)
{
    memset(out, 0, sizeof(*out));
    out->first_index = -1;
    if (!a || !q || !q->owner || q->nkeys > PL_ARCHIVE_MAX_IDS || (q->nkeys && !q->keys) ||
        (q->page_after && (q->page_before || q->last_page)))
        return -EINVAL;
    char fts[PL_ARCHIVE_MAX_FULLTEXT * 2 + 4 * PL_ARCHIVE_MAX_TERMS + 8];
    pl_buf_t sealed_fts;
    pl_buf_init(&sealed_fts);
    sqlite3 *db;
    int rc = -EINVAL;
    if (q->fulltext && a->seal) {
        tok_ctx_t tc = {.ring = a->seal, .out = &sealed_fts, .query = 1};
        if (strlen(q->fulltext) > PL_ARCHIVE_MAX_FULLTEXT ||
            each_word(q->fulltext, strlen(q->fulltext), PL_ARCHIVE_MAX_TERMS, add_tokens, &tc) == 0)
            goto out;
    } else if (q->fulltext && pl_archive_fts_expr(q->fulltext, fts, sizeof(fts)) != 0) {
        goto out;
    }
    const char *fts_expr = !q->fulltext ? NULL : a->seal ? pl_buf_cstr(&sealed_fts) : fts;
    if ((rc = reader_get(a, &db)) != 0)
        goto out;
    uint64_t deadline = pl_mono_ms() + q->budget_ms;
    if (q->budget_ms)
        sqlite3_progress_handler(db, ARCHIVE_PROGRESS_STEPS, progress_check, &deadline);
    /* One read transaction: the count and the page see the same snapshot. */
    rc = pl_sqlite_exec(db, "BEGIN");
    if (rc == 0) {
        rc = query_on(a->seal, db, q, fts_expr, out);
        pl_sqlite_exec(db, "COMMIT");
    }
    reader_put(a, db);
out:
    pl_buf_deinit(&sealed_fts);
    if (rc != 0)
        pl_archive_page_deinit(out);
    return rc;
}

void pl_archive_page_deinit(pl_archive_page_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].peer);
        free(p->items[i].stanza);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

/* The key at one end of owner's archive along UNIQUE(owner, ts): 1, 0 empty, <0. */
static int end_key(sqlite3 *db, const char *owner, int newest, int64_t *key)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db,
        newest ? "SELECT ts FROM archive WHERE owner = ?1 ORDER BY ts DESC LIMIT 1"
               : "SELECT ts FROM archive WHERE owner = ?1 ORDER BY ts LIMIT 1",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return pl_sqlite_errno(rc);
    sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *key = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : pl_sqlite_errno(rc);
}

int pl_archive_bounds(pl_archive_t *a, const char *owner, int64_t *first, int64_t *last)
{
    *first = *last = 0;
    sqlite3 *db;
    int rc = reader_get(a, &db);
    if (rc != 0)
        return rc;
    rc = pl_sqlite_exec(db, "BEGIN");
    if (rc == 0) {
        rc = end_key(db, owner, 0, first);
        if (rc == 1)
            rc = end_key(db, owner, 1, last);
        pl_sqlite_exec(db, "COMMIT");
    }
    reader_put(a, db);
    return rc;
}
