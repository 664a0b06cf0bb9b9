/* limits.c — per-IP connection counts and failed-login back-off per IP and
 * per account.  After `auth_fail_per_*` failures, each further failure
 * doubles the wait before the next attempt is even considered, up to
 * auth_backoff_max; a success clears the account's (and IP's) record.
 * Shared by all loops behind one mutex: these are rare events. */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "util.h"

#define PL_LIMITS_FORGET_MS (15 * 60 * 1000) /* failures older than this are forgotten */

static pl_ip_state_t *ip_state(pl_server_t *srv, const char *ip, int create)
{
    pl_ip_state_t *st = pl_map_get(&srv->ip_state, ip);
    if (!st && create) {
        st = pl_xcalloc(1, sizeof(*st));
        pl_map_put(&srv->ip_state, ip, st);
    }
    return st;
}

int pl_limits_conn_open(pl_server_t *srv, const char *ip)
{
    pthread_mutex_lock(&srv->limits_lock);
    pl_ip_state_t *st = ip_state(srv, ip, 1);
    st->connections++;
    int over = srv->limits.conn_per_ip > 0 && st->connections > (unsigned)srv->limits.conn_per_ip;
    pthread_mutex_unlock(&srv->limits_lock);
    return over ? -1 : 0;
}

void pl_limits_conn_close(pl_server_t *srv, const char *ip)
{
    pthread_mutex_lock(&srv->limits_lock);
    pl_ip_state_t *st = ip_state(srv, ip, 0);
    if (st && st->connections > 0)
        st->connections--;
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
    uint64_t now = pl_mono_ms(), wait = 0;
    pthread_mutex_lock(&srv->limits_lock);
    pl_ip_state_t *st = ip_state(srv, ip, 0);
    if (st && st->blocked_until_ms > now)
        wait = st->blocked_until_ms - now;
    pl_account_state_t *as = bare ? pl_map_get(&srv->account_state, bare) : NULL;
    if (as && as->blocked_until_ms > now && as->blocked_until_ms - now > wait)
        wait = as->blocked_until_ms - now;
    pthread_mutex_unlock(&srv->limits_lock);
    return wait;
}

void pl_limits_auth_result(pl_server_t *srv, const char *ip, const char *bare, int ok)
{
    uint64_t now = pl_mono_ms();
    const pl_limits_conf_t *l = &srv->limits;
    pthread_mutex_lock(&srv->limits_lock);
    pl_ip_state_t *st = ip_state(srv, ip, 1);
    pl_account_state_t *as = bare ? pl_map_get(&srv->account_state, bare) : NULL;
    if (ok) {
        st->auth_failures = 0;
        st->blocked_until_ms = 0;
        if (as) {
            pl_map_del(&srv->account_state, bare);
            free(as);
        }
    } else {
        st->auth_failures++;
        st->last_failure_ms = now;
        uint64_t w = pl_limits_backoff_ms(st->auth_failures, l->auth_fail_per_ip,
                                          l->auth_backoff_max_ms);
        if (w)
            st->blocked_until_ms = now + w;
        if (bare) {
            if (!as) {
                as = pl_xcalloc(1, sizeof(*as));
                pl_map_put(&srv->account_state, bare, as);
            }
            as->auth_failures++;
            as->last_failure_ms = now;
            w = pl_limits_backoff_ms(as->auth_failures, l->auth_fail_per_account,
                                     l->auth_backoff_max_ms);
            if (w)
                as->blocked_until_ms = now + w;
        }
    }
    pthread_mutex_unlock(&srv->limits_lock);
}

/* Forgets idle records so the tables cannot grow without bound. */
void pl_limits_gc(pl_server_t *srv)
{
    uint64_t now = pl_mono_ms();
    pthread_mutex_lock(&srv->limits_lock);
    size_t pos = 0;
    const char *key;
    void *v;
    while (pl_map_iter(&srv->ip_state, &pos, &key, &v)) {
        pl_ip_state_t *st = v;
        if (st->connections == 0 && st->blocked_until_ms <= now &&
            now - st->last_failure_ms > PL_LIMITS_FORGET_MS) {
            char *k = pl_xstrdup(key);
            pl_map_del(&srv->ip_state, k);
            free(k);
            free(st);
        }
    }
    pos = 0;
    while (pl_map_iter(&srv->account_state, &pos, &key, &v)) {
        pl_account_state_t *as = v;
        if (as->blocked_until_ms <= now && now - as->last_failure_ms > PL_LIMITS_FORGET_MS) {
            char *k = pl_xstrdup(key);
            pl_map_del(&srv->account_state, k);
            free(k);
            free(as);
        }
    }
    pthread_mutex_unlock(&srv->limits_lock);
}

void pl_limits_free(pl_server_t *srv)
{
    size_t pos = 0;
    void *v;
    while (pl_map_iter(&srv->ip_state, &pos, NULL, &v))
        free(v);
    pos = 0;
    while (pl_map_iter(&srv->account_state, &pos, NULL, &v))
        free(v);
    pl_map_deinit(&srv->ip_state);
    pl_map_deinit(&srv->account_state);
}
