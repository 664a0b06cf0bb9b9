/* limits.c — per-IP connection counts and the failed-login back-off: per IP
 * and per account for clients, per IP and per component domain for
 * component handshakes (kept apart, so a misconfigured component does not
 * slow down the clients on its host, nor clients its secret's guessing).
 * After `*_fail_per_*` failures, each further failure doubles the wait
 * before the next attempt is even considered, up to auth_backoff_max; a
 * success clears the records.  Shared by all loops behind one mutex: these
 * are rare events.
 *
 * The tables are keyed by whatever a peer sends (any name, any address),
 * so they are bounded: keys are a keyed digest (an attacker can neither
 * make entries long nor choose colliding hash slots), idle records are
 * forgotten after 15 minutes, and a table that reaches
 * limits.max_tracked_failures gives up an eighth of its records, least
 * worth keeping first: for accounts, names without an account before real
 * ones, and records not backing off before those that are; a real account
 * in back-off is never given up, so flooding made-up names does not clear
 * it.  Addresses with open connections are never given up either (they
 * count the connections). */
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lib/util.h"

#define PL_LIMITS_FORGET_MS (15 * 60 * 1000) /* failures older than this are forgotten */
#define KEY_HEX 32                           /* a table key: 16 bytes of HMAC, in hex */

/* Failed attempts for one key of a back-off table. */
typedef struct fail_state {
    unsigned failures;
    uint64_t blocked_until_ms; /* monotonic */
    uint64_t last_failure_ms;
    int known; /* the account exists: given up last */
} fail_state_t;

typedef struct ip_state {
    unsigned connections;
    fail_state_t auth;
} ip_state_t;

typedef enum table_kind { T_IPS, T_ACCOUNTS, T_COMPONENT_IPS, T_COMPONENTS, T__COUNT } table_kind_t;

static const char *const table_names[T__COUNT] = {
    [T_IPS] = "ips",
    [T_ACCOUNTS] = "accounts",
    [T_COMPONENT_IPS] = "component_ips",
    [T_COMPONENTS] = "components",
};

struct pl_limits_tables {
    uint8_t key[32];              /* for table keys: random per process */
    pl_map_t maps[T__COUNT];      /* key -> ip_state_t* (T_IPS) or fail_state_t* */
    size_t connected;             /* T_IPS records with open connections (never given up) */
    uint64_t fruitless[T__COUNT]; /* when a sweep last found nothing to give up */
};

/* A table's key for `text`: 16 bytes of HMAC-SHA-256 under a per-process
 * key, in hex. */
static void table_key(pl_limits_tables_t *lt, table_kind_t t, const char *text,
                      char out[KEY_HEX + 1])
{
    pl_buf_t in;
    pl_buf_init(&in);
    pl_buf_printf(&in, "%s\n%s", table_names[t], text);
    unsigned char d[32];
    unsigned n = 0;
    if (!HMAC(EVP_sha256(), lt->key, (int)sizeof(lt->key), (const unsigned char *)in.data, in.len,
              d, &n))
        pl_die("HMAC failed");
    pl_buf_deinit(&in);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < KEY_HEX / 2; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[KEY_HEX] = '\0';
}

static fail_state_t *fail_of(table_kind_t t, void *v)
{
    return t == T_IPS ? &((ip_state_t *)v)->auth : (fail_state_t *)v;
}

/* How much a record is worth keeping when its table is full: records of a
 * lower rank go first; -1 = never given up. */
static int keep_rank(table_kind_t t, void *v, uint64_t now)
{
    if (t == T_IPS && ((ip_state_t *)v)->connections > 0)
        return -1;
    const fail_state_t *f = fail_of(t, v);
    int blocked = f->blocked_until_ms > now;
    if (t != T_ACCOUNTS || !f->known)
        return blocked ? 1 : 0;
    return blocked ? -1 : 2;
}

/* Makes room in a full table: gives up about an eighth of its records,
 * lowest rank first (one pass per rank, so a burst of new keys costs a few
 * scans per cap/8 insertions).  Returns how many went. */
static size_t evict(pl_server_t *srv, table_kind_t t, size_t cap, uint64_t now)
{
    pl_limits_tables_t *lt = srv->limits_tables;
    pl_map_t *m = &lt->maps[t];
    /* A table full of records that must stay is not scanned again at
     * every new key: once a second at most. */
    if (lt->fruitless[t] && now - lt->fruitless[t] < 1000)
        return 0;
    size_t want = cap / 8 + 1, gone = 0;
    for (int rank = 0; rank <= 2 && gone < want; rank++) {
        size_t pos = 0;
        const char *key;
        void *v;
        while (gone < want && pl_map_iter(m, &pos, &key, &v)) {
            if (keep_rank(t, v, now) != rank)
                continue;
            char k[KEY_HEX + 1];
            snprintf(k, sizeof(k), "%s", key);
            pl_map_del(m, k);
            free(v);
            gone++;
        }
    }
    lt->fruitless[t] = gone ? 0 : now;
    pl_log(&srv->log, PL_LOG_WARN, "limits.evicted", "table=%s evicted=%zu size=%zu cap=%zu",
           table_names[t], gone, m->count, cap);
    return gone;
}

/* The record for `text` in table t, created if asked and if there is room:
 * NULL when the table is full of records that must be kept, unless
 * `always`.  Call with limits_lock held. */
static void *record(pl_server_t *srv, table_kind_t t, const char *text, int create, int always)
{
    pl_limits_tables_t *lt = srv->limits_tables;
    char k[KEY_HEX + 1];
    table_key(lt, t, text, k);
    pl_map_t *m = &lt->maps[t];
    void *v = pl_map_get(m, k);
    if (v || !create)
        return v;
    size_t cap = (size_t)pl_server_limits(srv)->max_tracked_failures;
    /* Addresses with open connections do not count toward the bound (they
     * are bounded by the connections themselves); component domains are
     * keys of the configuration. */
    size_t held = m->count - (t == T_IPS ? lt->connected : 0);
    if (t != T_COMPONENTS && held >= cap && evict(srv, t, cap, pl_mono_ms()) == 0 && !always)
        return NULL;
    v = pl_xcalloc(1, t == T_IPS ? sizeof(ip_state_t) : sizeof(fail_state_t));
    pl_map_put(m, k, v);
    return v;
}

static void forget(pl_server_t *srv, table_kind_t t, const char *text)
{
    char k[KEY_HEX + 1];
    table_key(srv->limits_tables, t, text, k);
    free(pl_map_del(&srv->limits_tables->maps[t], k));
}

static void fail(fail_state_t *f, long long allowed, long long max_ms, uint64_t now)
{
    f->failures++;
    f->last_failure_ms = now;
    uint64_t w = pl_limits_backoff_ms(f->failures, allowed, max_ms);
    if (w)
        f->blocked_until_ms = now + w;
}

static uint64_t wait_of(const fail_state_t *f, uint64_t now)
{
    return f && f->blocked_until_ms > now ? f->blocked_until_ms - now : 0;
}

void pl_limits_init(pl_server_t *srv)
{
    pl_limits_tables_t *lt = pl_xcalloc(1, sizeof(*lt));
    pl_random_bytes(lt->key, sizeof(lt->key));
    for (int t = 0; t < T__COUNT; t++)
        pl_map_init(&lt->maps[t]);
    srv->limits_tables = lt;
}

int pl_limits_conn_open(pl_server_t *srv, const char *ip)
{
    pthread_mutex_lock(&srv->limits_lock);
    /* Always kept: the record counts the connection. */
    ip_state_t *st = record(srv, T_IPS, ip, 1, 1);
    if (st->connections++ == 0)
        srv->limits_tables->connected++;
    int over = pl_server_limits(srv)->conn_per_ip > 0 &&
               st->connections > (unsigned)pl_server_limits(srv)->conn_per_ip;
    pthread_mutex_unlock(&srv->limits_lock);
    return over ? -1 : 0;
}

void pl_limits_conn_close(pl_server_t *srv, const char *ip)
{
    pthread_mutex_lock(&srv->limits_lock);
    ip_state_t *st = record(srv, T_IPS, ip, 0, 0);
    if (st && st->connections > 0 && --st->connections == 0)
        srv->limits_tables->connected--;
    pthread_mutex_unlock(&srv->limits_lock);
}

/* The back-off after `failures` failures when `allowed` are free. */
uint64_t pl_limits_backoff_ms(unsigned failures, long long allowed, long long max_ms)
{
    if (failures < (unsigned)allowed || allowed <= 0)
        return 0;
    unsigned extra = failures - (unsigned)allowed;
    uint64_t wait = 1000ull << (extra > 20 ? 20 : extra);
    return wait > (uint64_t)max_ms ? (uint64_t)max_ms : wait;
}

uint64_t pl_limits_auth_wait(pl_server_t *srv, const char *ip, const char *bare)
{
    uint64_t now = pl_mono_ms();
    pthread_mutex_lock(&srv->limits_lock);
    ip_state_t *st = record(srv, T_IPS, ip, 0, 0);
    uint64_t wait = wait_of(st ? &st->auth : NULL, now);
    uint64_t w = bare ? wait_of(record(srv, T_ACCOUNTS, bare, 0, 0), now) : 0;
    pthread_mutex_unlock(&srv->limits_lock);
    return w > wait ? w : wait;
}

void pl_limits_auth_result(pl_server_t *srv, const char *ip, const char *bare, int ok)
{
    uint64_t now = pl_mono_ms();
    const pl_limits_conf_t *l = pl_server_limits(srv);
    /* Looked up outside the lock: whether a failure's name is a real
     * account decides what a full table gives up first. */
    int known = !ok && bare && pl_server_account_exists(srv, bare);
    pthread_mutex_lock(&srv->limits_lock);
    ip_state_t *st = record(srv, T_IPS, ip, 1, 1);
    if (ok) {
        st->auth = (fail_state_t){0};
        if (bare)
            forget(srv, T_ACCOUNTS, bare);
    } else {
        fail(&st->auth, l->auth_fail_per_ip, l->auth_backoff_max_ms, now);
        fail_state_t *as = bare ? record(srv, T_ACCOUNTS, bare, 1, 0) : NULL;
        if (as) {
            as->known = known;
            fail(as, l->auth_fail_per_account, l->auth_backoff_max_ms, now);
        }
    }
    pthread_mutex_unlock(&srv->limits_lock);
}

uint64_t pl_limits_component_wait(pl_server_t *srv, const char *ip, const char *domain)
{
    uint64_t now = pl_mono_ms();
    pthread_mutex_lock(&srv->limits_lock);
    uint64_t wait = wait_of(record(srv, T_COMPONENT_IPS, ip, 0, 0), now);
    uint64_t w = wait_of(record(srv, T_COMPONENTS, domain, 0, 0), now);
    pthread_mutex_unlock(&srv->limits_lock);
    return w > wait ? w : wait;
}

void pl_limits_component_result(pl_server_t *srv, const char *ip, const char *domain, int ok)
{
    uint64_t now = pl_mono_ms();
    const pl_limits_conf_t *l = pl_server_limits(srv);
    pthread_mutex_lock(&srv->limits_lock);
    if (ok) {
        forget(srv, T_COMPONENT_IPS, ip);
        forget(srv, T_COMPONENTS, domain);
    } else {
        fail_state_t *f = record(srv, T_COMPONENT_IPS, ip, 1, 0);
        if (f)
            fail(f, l->component_fail_per_ip, l->auth_backoff_max_ms, now);
        fail(record(srv, T_COMPONENTS, domain, 1, 1), l->component_fail_per_domain,
             l->auth_backoff_max_ms, now);
    }
    pthread_mutex_unlock(&srv->limits_lock);
}

/* Forgets idle records so the tables shrink back after a burst. */
void pl_limits_gc(pl_server_t *srv)
{
    uint64_t now = pl_mono_ms();
    pthread_mutex_lock(&srv->limits_lock);
    for (table_kind_t t = 0; t < T__COUNT; t++) {
        pl_map_t *m = &srv->limits_tables->maps[t];
        size_t pos = 0;
        const char *key;
        void *v;
        while (pl_map_iter(m, &pos, &key, &v)) {
            const fail_state_t *f = fail_of(t, v);
            if ((t == T_IPS && ((ip_state_t *)v)->connections > 0) || f->blocked_until_ms > now ||
                now - f->last_failure_ms <= PL_LIMITS_FORGET_MS)
                continue;
            char k[KEY_HEX + 1];
            snprintf(k, sizeof(k), "%s", key);
            pl_map_del(m, k);
            free(v);
        }
    }
    pthread_mutex_unlock(&srv->limits_lock);
}

void pl_limits_free(pl_server_t *srv)
{
    pl_limits_tables_t *lt = srv->limits_tables;
    if (!lt)
        return;
    for (table_kind_t t = 0; t < T__COUNT; t++) {
        size_t pos = 0;
        void *v;
        while (pl_map_iter(&lt->maps[t], &pos, NULL, &v))
            free(v);
        pl_map_deinit(&lt->maps[t]);
    }
    OPENSSL_cleanse(lt->key, sizeof(lt->key));
    free(lt);
    srv->limits_tables = NULL;
}
