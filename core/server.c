/* server.c — the server context: built from a validated configuration,
 * it opens storage and TLS, creates hosts and their modules, starts the
 * loops, and on SIGHUP / SIGTERM reloads or shuts down in order. */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/accounts-admin.h"
#include "core/control.h"
#include "core/core.h"
#include "core/module-conf.h"
#include "lib/util.h"
#include "storage/seal.h"
#include "storage/storage.h"

const char *pl_host_name(const pl_host_t *h) { return h->name; }
pl_server_t *pl_host_server(const pl_host_t *h) { return h->server; }
const pl_log_t *pl_server_log(const pl_server_t *srv) { return &srv->log; }
pl_storage_t *pl_server_storage(pl_server_t *srv) { return srv->storage; }
size_t pl_server_session_count(const pl_server_t *srv)
{
    return atomic_load(&((pl_server_t *)srv)->session_count);
}

int pl_server_account_exists(pl_server_t *srv, const char *bare)
{
    pl_account_t *acc = pl_xmalloc(sizeof(*acc));
    int rc = pl_accounts_get(srv->storage, bare, acc);
    int exists = rc == 1 && !(acc->flags & PL_ACCOUNT_DISABLED);
    free(acc);
    return exists;
}

/* ---- work on the thread pool ---- */

typedef struct server_work {
    uv_work_t req;
    void (*work)(void *ud);
    void (*done)(void *ud);
    void *ud;
} server_work_t;

static void server_work_run(uv_work_t *req)
{
    server_work_t *w = req->data;
    w->work(w->ud);
}

static void server_work_done(uv_work_t *req, int status)
{
    (void)status; /* nothing cancels these requests */
    server_work_t *w = req->data;
    w->done(w->ud);
    free(w);
}

int pl_server_work(pl_server_t *srv, void (*work)(void *ud), void (*done)(void *ud), void *ud)
{
    (void)srv;
    if (!pl_current_loop || !work || !done)
        return -EINVAL;
    server_work_t *w = pl_xcalloc(1, sizeof(*w));
    *w = (server_work_t){.work = work, .done = done, .ud = ud};
    w->req.data = w;
    int rc = uv_queue_work(&pl_current_loop->uv, &w->req, server_work_run, server_work_done);
    if (rc != 0)
        free(w);
    return rc;
}

static const char id_digits[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void pl_id_format(unsigned long long value, char out[PL_ID_SIZE])
{
    for (int i = PL_ID_SIZE - 2; i >= 0; i--) {
        out[i] = id_digits[value & 31];
        value >>= 5;
    }
    out[PL_ID_SIZE - 1] = '\0';
}

unsigned long long pl_id_value(const char *id)
{
    unsigned long long v = 0;
    size_t i = 0;
    for (; id[i] && i < PL_ID_SIZE - 1; i++) {
        const char *d = strchr(id_digits, id[i]);
        if (!d || !*d)
            return 0;
        if (i == 0 && d - id_digits > 15)
            return 0; /* 13 digits carry 65 bits: the first holds only 4 */
        v = v << 5 | (unsigned long long)(d - id_digits);
    }
    return i == PL_ID_SIZE - 1 && !id[i] ? v : 0;
}

void pl_server_new_id(pl_server_t *srv, char out[PL_ID_SIZE])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint_fast64_t now = (uint_fast64_t)ts.tv_sec * 1000000u + (uint_fast64_t)ts.tv_nsec / 1000u;
    uint_fast64_t last = atomic_load(&srv->last_id), next;
    do
        next = now > last ? now : last + 1;
    while (!atomic_compare_exchange_weak(&srv->last_id, &last, next));
    pl_id_format(next, out);
}

void pl_server_keyed_digest(const pl_server_t *srv, const char *purpose, const void *data,
                            size_t len, uint8_t out[PL_KEYED_DIGEST_SIZE])
{
    /* The prefix keeps these inputs apart from the SCRAM salts' ("parley
     * scram unknown name\n..."), made under the same key; the newline after
     * the purpose keeps purposes apart from each other. */
    pl_buf_t in;
    pl_buf_init(&in);
    pl_buf_printf(&in, "parley keyed digest\n%s\n", purpose);
    pl_buf_append(&in, data, len);
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), srv->unknown_name_key, (int)sizeof(srv->unknown_name_key),
              (const unsigned char *)in.data, in.len, out, &n) ||
        n != PL_KEYED_DIGEST_SIZE)
        pl_die("HMAC failed");
    pl_buf_deinit(&in);
}

void pl_host_each_feature(const pl_host_t *h, int account, void (*fn)(void *ud, const char *var),
                          void *ud)
{
    for (size_t m = 0; m < h->nmods; m++) {
        const char *const *f = account ? h->mods[m].desc->account_features
                                       : h->mods[m].desc->features;
        for (; f && *f; f++)
            fn(ud, *f);
    }
}

void pl_host_each_identity(const pl_host_t *h, int account,
                           void (*fn)(void *ud, const char *category, const char *type,
                                      const char *name),
                           void *ud)
{
    for (size_t m = 0; m < h->nmods; m++) {
        const pl_module_desc_t *d = h->mods[m].desc;
        for (const pl_identity_t *id = account ? d->account_identities : d->identities;
             id && id->category; id++)
            fn(ud, id->category, id->type, id->name);
    }
}

void pl_host_each_component(const pl_host_t *h, void (*fn)(void *ud, const char *domain), void *ud)
{
    for (size_t i = 0; i < h->conf->ncomponents; i++)
        fn(ud, h->conf->components[i].domain);
}

void pl_host_each_service(const pl_host_t *h, void (*fn)(void *ud, const char *domain), void *ud)
{
    for (size_t m = 0; m < h->nmods; m++)
        if (h->mods[m].service)
            fn(ud, h->mods[m].service);
}

/* ---- password change from a module (XEP-0077) ---- */
typedef struct passwd_req {
    pl_admin_job_t job;
    void (*done)(void *ud, int status);
    void *ud;
} passwd_req_t;

static void passwd_done(void *ud, int status)
{
    passwd_req_t *r = ud;
    r->done(r->ud, status);
    pl_admin_job_deinit(&r->job);
    free(r);
}

int pl_server_set_password(pl_server_t *srv, const char *bare, const char *password,
                           void (*done)(void *ud, int status), void *ud)
{
    pl_jid_t j;
    if (pl_jid_parse(&j, bare) != 0)
        return -1;
    pl_host_t *h = pl_server_host(srv, j.domain);
    pl_jid_deinit(&j);
    if (!h || !pl_current_loop)
        return -1;
    passwd_req_t *r = pl_xcalloc(1, sizeof(*r));
    const char *hosts[1] = {h->name};
    if (pl_admin_job_init(&r->job, PL_ADMIN_PASSWD, bare, password,
                          (uint32_t)h->conf->scram_iterations, hosts, 1) != 0) {
        pl_admin_job_deinit(&r->job);
        free(r);
        return -1;
    }
    r->done = done;
    r->ud = ud;
    if (pl_storage_write(pl_current_loop->storage_port, pl_admin_job_run, passwd_done, r) != 0) {
        pl_admin_job_deinit(&r->job);
        free(r);
        return -1;
    }
    return 0;
}

/* ---- lifecycle ---- */

/* A generation of the limits, kept until the server is freed. */
typedef struct pl_limits_gen {
    struct pl_limits_gen *next;
    pl_limits_conf_t limits;
} pl_limits_gen_t;

/* Makes a copy of `l` the limits in force.  Loops may still be reading the
 * previous generation, so it stays allocated (a reload is rare and a
 * generation is a few hundred bytes). */
static void limits_install(pl_server_t *srv, const pl_limits_conf_t *l)
{
    pl_limits_gen_t *g = pl_xcalloc(1, sizeof(*g));
    g->limits = *l;
    g->next = srv->limits_gens;
    srv->limits_gens = g;
    atomic_store_explicit(&srv->limits, &g->limits, memory_order_release);
}

pl_server_t *pl_server_new(pl_config_t *config, const pl_module_desc_t *const *registry,
                           size_t nregistry)
{
    pl_server_t *srv = pl_xcalloc(1, sizeof(*srv));
    srv->config = config;
    srv->registry = registry;
    srv->nregistry = nregistry;
    int level = pl_log_level_parse(config->log_level ? config->log_level : "info");
    pl_log_init(&srv->log, level < 0 ? PL_LOG_INFO : level,
                config->log_format && strcmp(config->log_format, "json") == 0);
    pl_log_set_trace(&srv->log, config->trace, config->ntrace);
    limits_install(srv, &config->limits);
    pthread_mutex_init(&srv->tls_lock, NULL);
    pthread_mutex_init(&srv->comp_lock, NULL);
    pthread_mutex_init(&srv->limits_lock, NULL);
    pl_map_init(&srv->components);
    pl_map_init(&srv->services);
    pl_limits_init(srv);
    pl_sessions_init(srv);
    pthread_mutex_init(&srv->sm_lock, NULL);
    pthread_mutex_init(&srv->fast_lock, NULL);
    pl_map_init(&srv->fast_counts);
    pl_map_init(&srv->resumable);
    pl_requests_init(srv);
    return srv;
}

static void on_signal(uv_signal_t *h, int signum)
{
    pl_server_t *srv = h->data;
    if (signum == SIGHUP) {
        pl_server_reload(srv);
        return;
    }
    pl_log(&srv->log, PL_LOG_INFO, "server.shutdown", "signal=%d sessions=%zu", signum,
           pl_server_session_count(srv));
    atomic_store(&srv->shutting_down, 1);
    pl_control_stop(srv);
    uv_signal_stop(&srv->sig_hup);
    uv_signal_stop(&srv->sig_term);
    uv_signal_stop(&srv->sig_int);
    uv_close((uv_handle_t *)&srv->sig_hup, NULL);
    uv_close((uv_handle_t *)&srv->sig_term, NULL);
    uv_close((uv_handle_t *)&srv->sig_int, NULL);
    pl_loops_stop(srv);
}

/* The key behind the SCRAM salts shown for names that have no account
 * (pl_scram_unknown_keys): drawn once and kept in the core's "server"
 * store, so an unknown name shows the same salt after a restart, as a real
 * account does.  '#' cannot appear in a JID, so no account's data is ever
 * stored under this key. */
#define UNKNOWN_NAME_KEY "#scram-unknown-name-key"

typedef struct unknown_name_key_put {
    pl_kv_t *kv;
    const uint8_t *key;
    size_t len;
} unknown_name_key_put_t;

static int put_unknown_name_key(pl_wtxn_t *txn, void *ud)
{
    const unknown_name_key_put_t *p = ud;
    return pl_kv_put(txn, p->kv, UNKNOWN_NAME_KEY, strlen(UNKNOWN_NAME_KEY), p->key, p->len);
}

static int load_unknown_name_key(pl_server_t *srv, char **error)
{
    pl_kv_t *kv;
    pl_buf_t v;
    pl_buf_init(&v);
    int rc = pl_storage_kv(srv->storage, "server", &kv);
    if (rc == 0)
        rc = pl_kv_get(kv, UNKNOWN_NAME_KEY, strlen(UNKNOWN_NAME_KEY), &v);
    if (rc == 1 && v.len == sizeof(srv->unknown_name_key)) {
        memcpy(srv->unknown_name_key, v.data, v.len);
        rc = 0;
    } else if (rc == 0) {
        pl_random_bytes(srv->unknown_name_key, sizeof(srv->unknown_name_key));
        unknown_name_key_put_t put = {
            .kv = kv, .key = srv->unknown_name_key, .len = sizeof(srv->unknown_name_key)};
        rc = pl_storage_write_sync(srv->storage, put_unknown_name_key, &put);
    } else {
        rc = -EBADMSG;
    }
    if (v.data)
        OPENSSL_cleanse(v.data, v.len);
    pl_buf_deinit(&v);
    if (rc != 0)
        *error = pl_xstrdup("cannot read or store the key for unknown names' SCRAM salts");
    return rc;
}

/* What Parley creates is owner-only, but a data directory from an older
 * version, or one an administrator made, may not be: say so at every start
 * (other local users could read message bodies and keys through it). */
static void warn_if_shared(pl_server_t *srv, const char *path, const char *what)
{
    struct stat sb;
    if (!path || stat(path, &sb) != 0 || !(sb.st_mode & 077))
        return;
    pl_log(&srv->log, PL_LOG_WARN, "storage.permissions",
           "path=%s mode=%04o what=%s hint=\"chmod go-rwx %s\"", path,
           (unsigned)(sb.st_mode & 07777), what, path);
}

int pl_server_start(pl_server_t *srv)
{
    char *error = NULL;
    const pl_config_t *c = srv->config;
    if (mkdir(c->data_dir, 0700) != 0 && errno != EEXIST) {
        pl_log(&srv->log, PL_LOG_ERROR, "server.start", "error=\"cannot create %s: %s\"",
               c->data_dir, strerror(errno));
        return 1;
    }
    pl_storage_opts_t so = {
        .dir = c->data_dir,
        .lmdb_map_size = (size_t)c->lmdb_map_size,
        .threaded = 1,
    };
    /* Encryption at rest: without its key file the server does not start,
     * rather than write in clear what should be sealed. */
    if (c->key_file && pl_seal_load(c->key_file, &srv->seal, &error) != 0)
        goto fail;
    if (pl_storage_open(&srv->storage, &so, &error) != 0)
        goto fail;
    warn_if_shared(srv, c->data_dir, "data directory");
    warn_if_shared(srv, c->tls_key, "TLS private key");
    pl_storage_set_seal(srv->storage, srv->seal);
    if (srv->seal)
        pl_log(&srv->log, PL_LOG_INFO, "storage.sealed", "key_file=%s current_key=%u", c->key_file,
               (unsigned)pl_seal_current_id(srv->seal));
    if (pl_storage_kv(srv->storage, "fast", &srv->fast_kv) != 0) {
        error = pl_xstrdup("cannot open the FAST token store");
        goto fail;
    }
    if (load_unknown_name_key(srv, &error) != 0)
        goto fail;
    srv->tls = pl_tls_ctx_new(c->tls_cert, c->tls_key, c->tls_ciphers, "xmpp-client", &error);
    if (!srv->tls)
        goto fail;
    if (pl_hosts_create(srv, &error) != 0)
        goto fail;
    if (pl_loops_start(srv, &error) != 0)
        goto fail;
    for (size_t i = 0; i < srv->nloops; i++)
        if (pl_storage_port_open(srv->storage, &srv->loops[i]->uv, &srv->loops[i]->storage_port) != 0) {
            error = pl_xstrdup("cannot connect a loop to storage");
            goto fail;
        }
    if (pl_hosts_start(srv, &error) != 0)
        goto fail;
    if (pl_control_start(srv, &error) != 0)
        goto fail;
    pl_requests_start(srv);
    return 0;
fail:
    pl_log(&srv->log, PL_LOG_ERROR, "server.start", "error=\"%s\"", error ? error : "unknown");
    free(error);
    return 1;
}

int pl_server_run(pl_server_t *srv)
{
    if (pl_server_start(srv) != 0)
        return 1;
    const pl_config_t *c = srv->config;
    uv_loop_t *main_loop = &srv->loops[0]->uv;
    uv_signal_init(main_loop, &srv->sig_hup);
    uv_signal_init(main_loop, &srv->sig_term);
    uv_signal_init(main_loop, &srv->sig_int);
    srv->sig_hup.data = srv->sig_term.data = srv->sig_int.data = srv;
    uv_signal_start(&srv->sig_hup, on_signal, SIGHUP);
    uv_signal_start(&srv->sig_term, on_signal, SIGTERM);
    uv_signal_start(&srv->sig_int, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    int lv = 0, sv = 0;
    pl_storage_schema_versions(srv->storage, &lv, &sv);
    pl_log(&srv->log, PL_LOG_INFO, "server.ready",
           "hosts=%zu loops=%zu data_dir=%s lmdb_schema=%d sqlite_schema=%d", srv->nhosts,
           srv->nloops, c->data_dir, lv, sv);
    pl_loops_run(srv);
    pl_hosts_stop(srv);
    pl_loops_free(srv);
    pl_storage_close(&srv->storage);
    pl_log(&srv->log, PL_LOG_INFO, "server.stopped", "clean=1");
    return srv->exit_code;
}

void pl_server_free(pl_server_t **srvp)
{
    pl_server_t *srv = srvp ? *srvp : NULL;
    if (!srv)
        return;
    *srvp = NULL;
    if (srv->storage)
        pl_storage_close(&srv->storage);
    pl_control_free(srv);
    pl_seal_free(&srv->seal);
    pl_tls_ctx_unref(&srv->tls);
    pl_sessions_deinit(srv);
    size_t pos = 0;
    void *v;
    while (pl_map_iter(&srv->resumable, &pos, NULL, &v)) {
        pl_session_t *rs = v;
        pl_session_unref(&rs);
    }
    pl_map_deinit(&srv->resumable);
    pos = 0;
    while (pl_map_iter(&srv->fast_counts, &pos, NULL, &v))
        free(v);
    pl_map_deinit(&srv->fast_counts);
    pthread_mutex_destroy(&srv->fast_lock);
    pthread_mutex_destroy(&srv->sm_lock);
    pl_requests_free(srv);
    pl_limits_free(srv);
    while (srv->limits_gens) {
        pl_limits_gen_t *g = srv->limits_gens;
        srv->limits_gens = g->next;
        free(g);
    }
    pl_map_deinit(&srv->components);
    pl_map_deinit(&srv->hosts_by_name);
    pl_log_deinit(&srv->log);
    pl_config_free(&srv->reloaded);
    pl_config_free(&srv->config);
    OPENSSL_cleanse(srv->unknown_name_key, sizeof(srv->unknown_name_key));
    free(srv);
}

/* SIGHUP: re-read the file; apply certificates, log level, trace list and
 * limits.  Listeners, hosts and modules need a restart (logged). */
void pl_server_reload(pl_server_t *srv)
{
    char *error = NULL;
    const char *path = srv->reloaded ? srv->reloaded->path : srv->config->path;
    pl_config_t *nc = pl_config_load_modules(path, srv->registry, srv->nregistry, &error);
    if (!nc) {
        pl_log(&srv->log, PL_LOG_ERROR, "server.reload", "ok=0 error=\"%s\"", error ? error : "?");
        free(error);
        return;
    }
    pl_tls_ctx_t *tls =
        pl_tls_ctx_new(nc->tls_cert, nc->tls_key, nc->tls_ciphers, "xmpp-client", &error);
    if (!tls) {
        pl_log(&srv->log, PL_LOG_ERROR, "server.reload", "ok=0 error=\"%s\"", error);
        free(error);
        pl_config_free(&nc);
        return;
    }
    pthread_mutex_lock(&srv->tls_lock);
    pl_tls_ctx_t *old = srv->tls;
    srv->tls = tls;
    pthread_mutex_unlock(&srv->tls_lock);
    pl_tls_ctx_unref(&old);
    int level = pl_log_level_parse(nc->log_level ? nc->log_level : "info");
    if (level >= 0)
        srv->log.level = level;
    pl_log_set_trace(&srv->log, nc->trace, nc->ntrace);
    limits_install(srv, &nc->limits);
    pl_log(&srv->log, PL_LOG_INFO, "server.reload",
           "ok=1 applied=tls,log,limits note=\"listeners, hosts and modules change on restart\"");
    /* Hosts and modules keep pointing into the generation they started
     * with; the newest reloaded one is kept only for the next reload. */
    pl_config_free(&srv->reloaded);
    srv->reloaded = nc;
}
