/* loop.c — event loops: one per configured core, each with its own
 * listeners (SO_REUSEPORT), its own connections for their whole life, an
 * inbox for stanzas routed to its sessions from other loops, and one flush of
 * queued output per iteration. */
#include <arpa/inet.h>
#include <sched.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/c2s/c2s.h"
#include "core/core.h"
#include "lib/util.h"
#include "storage/storage.h"

_Thread_local pl_loop_t *pl_current_loop;

static void on_idle(uv_idle_t *h) { (void)h; }

void pl_loop_mark_dirty(pl_session_t *s)
{
    if (s->dirty)
        return;
    pl_loop_t *loop = s->loop;
    if (atomic_load(&loop->stop_requested)) {
        /* The flush handles are gone once the loop is stopping. */
        pl_session_flush(s);
        return;
    }
    s->dirty = 1;
    pl_session_ref(s);
    s->dirty_next = loop->dirty;
    loop->dirty = s;
    if (!uv_is_active((uv_handle_t *)&loop->flush_idle))
        uv_idle_start(&loop->flush_idle, on_idle);
}

static void flush_all(uv_check_t *h)
{
    pl_loop_t *loop = h->data;
    while (loop->dirty) {
        pl_session_t *s = loop->dirty;
        loop->dirty = s->dirty_next;
        s->dirty = 0;
        s->dirty_next = NULL;
        pl_session_flush(s);
        pl_session_unref(&s);
    }
    uv_idle_stop(&loop->flush_idle);
}

static void post_item(pl_loop_t *loop, pl_inbox_item_t *it)
{
    pthread_mutex_lock(&loop->inbox_lock);
    int was_empty = loop->inbox_head == NULL;
    if (loop->inbox_tail)
        loop->inbox_tail->next = it;
    else
        loop->inbox_head = it;
    loop->inbox_tail = it;
    pthread_mutex_unlock(&loop->inbox_lock);
    /* One wake-up carries every item queued before the loop drains. */
    if (was_empty)
        uv_async_send(&loop->wake);
}

void pl_loop_post(pl_loop_t *loop, pl_session_t *s, const pl_stanza_t *st)
{
    pl_inbox_item_t *it = pl_xcalloc(1, sizeof(*it));
    it->session = pl_session_ref(s);
    it->stanza = pl_stanza_ref(st);
    post_item(loop, it);
}

void pl_loop_post_close(pl_loop_t *loop, pl_session_t *s, const char *condition, const char *text)
{
    pl_inbox_item_t *it = pl_xcalloc(1, sizeof(*it));
    it->session = pl_session_ref(s);
    it->condition = pl_xstrdup(condition);
    it->text = text ? pl_xstrdup(text) : NULL;
    post_item(loop, it);
}

void pl_loop_call(pl_loop_t *loop, void (*fn)(void *ud, pl_stanza_t *st), void *ud,
                  const pl_stanza_t *st)
{
    pl_inbox_item_t *it = pl_xcalloc(1, sizeof(*it));
    it->call = fn;
    it->ud = ud;
    it->stanza = pl_stanza_ref(st);
    post_item(loop, it);
}

static void stop_loop(pl_loop_t *loop);

/* Runs everything queued for the loop; 1 if there was anything. */
static int drain_inbox(pl_loop_t *loop)
{
    pthread_mutex_lock(&loop->inbox_lock);
    pl_inbox_item_t *it = loop->inbox_head;
    loop->inbox_head = loop->inbox_tail = NULL;
    pthread_mutex_unlock(&loop->inbox_lock);
    int any = it != NULL;
    while (it) {
        pl_inbox_item_t *next = it->next;
        if (it->call)
            it->call(it->ud, it->stanza);
        else if (it->stanza)
            pl_session_deliver(it->session, it->stanza);
        else
            pl_session_stream_error(it->session, it->condition, it->text);
        pl_stanza_unref(&it->stanza);
        pl_session_unref(&it->session);
        free(it->condition);
        free(it->text);
        free(it);
        it = next;
    }
    return any;
}

static void on_wake(uv_async_t *h)
{
    pl_loop_t *loop = h->data;
    drain_inbox(loop);
    if (atomic_load(&loop->stop_requested))
        stop_loop(loop);
}

static void on_connection(uv_stream_t *server, int status)
{
    pl_loop_t *loop = server->loop->data;
    if (status < 0)
        return;
    size_t i = (size_t)((uv_tcp_t *)server - loop->listeners);
    pl_listen_kind_t kind = loop->listener_kinds[i];
    /* The listener decides what its streams mean: XEP-0114 components on
     * a component port, clients on the others. */
    const pl_stream_ops_t *ops = kind == PL_LISTEN_COMPONENT ? &pl_component_ops : &pl_c2s_ops;
    pl_session_t *s = pl_session_new(loop, ops, (int)kind);
    pl_session_accept(s, server);
}

/* Housekeeping runs every PL_HOUSEKEEPING_MS; a session that has sent
 * nothing for PL_SLEEP_AFTER_MS is put to sleep (its parser and buffers
 * given back, about half its memory), so the memory of a mostly idle
 * server is that of its sleeping sessions. */
#define PL_HOUSEKEEPING_MS 1000
/* At shutdown, how long to wait for writes in flight to commit and report. */
#define PL_SHUTDOWN_DRAIN_MS 10000
#define PL_SLEEP_AFTER_MS 1000
#define PL_LIMITS_GC_EVERY 10 /* ticks */
/* When a sweep slept this many sessions, the freed memory is handed back
 * to the kernel (glibc keeps freed pages mapped until asked). */
#define PL_TRIM_AFTER_SLEEPS 256

static void sleep_idle_sessions(pl_loop_t *loop)
{
    uint64_t now = pl_mono_ms();
    unsigned slept = 0;
    for (pl_session_t *s = loop->sessions; s; s = s->loop_next)
        if (!s->asleep && now - s->last_rx_ms >= PL_SLEEP_AFTER_MS)
            slept += (unsigned)pl_session_sleep(s);
#ifdef __GLIBC__
    if (slept >= PL_TRIM_AFTER_SLEEPS)
        malloc_trim(0);
#endif
}

static void on_housekeeping(uv_timer_t *t)
{
    pl_loop_t *loop = t->data;
    if (loop->index == 0 && ++loop->housekeeping_ticks % PL_LIMITS_GC_EVERY == 0)
        pl_limits_gc(loop->server);
    sleep_idle_sessions(loop);
    if (loop->hibernating)
        pl_sm_sweep(loop, 0);
}

/* Binds a listening socket by hand so SO_REUSEPORT can spread connections
 * over the loops; port 0 binds an ephemeral port (reported back). */
static int bind_socket(const char *address, int port, int reuseport, int *bound_port,
                       char **error)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t slen;
    int family;
    if (strchr(address, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, address, &a6->sin6_addr) != 1)
            goto bad_address;
        slen = sizeof(*a6);
        family = AF_INET6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, address, &a4->sin_addr) != 1)
            goto bad_address;
        slen = sizeof(*a4);
        family = AF_INET;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto sys_error;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, slen) != 0 || listen(fd, 1024) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        goto sys_error;
    }
    slen = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &slen);
    *bound_port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
bad_address: {
    char buf[300];
    snprintf(buf, sizeof(buf), "invalid listen address '%s'", address);
    *error = pl_xstrdup(buf);
    return -1;
}
sys_error: {
    char buf[300];
    snprintf(buf, sizeof(buf), "cannot listen on %s port %d: %s", address, port, strerror(errno));
    *error = pl_xstrdup(buf);
    return -1;
}
}

static const char *listen_kind_name(pl_listen_kind_t k)
{
    switch (k) {
    case PL_LISTEN_C2S: return "c2s";
    case PL_LISTEN_C2S_TLS: return "c2s-tls";
    case PL_LISTEN_COMPONENT: return "component";
    }
    return "?";
}

static int loop_init(pl_server_t *srv, pl_loop_t *loop, unsigned index)
{
    loop->server = srv;
    loop->index = index;
    if (uv_loop_init(&loop->uv) != 0)
        return -1;
    loop->uv.data = loop;
    pthread_mutex_init(&loop->inbox_lock, NULL);
    uv_async_init(&loop->uv, &loop->wake, on_wake);
    loop->wake.data = loop;
    uv_check_init(&loop->uv, &loop->flush_check);
    loop->flush_check.data = loop;
    uv_check_start(&loop->flush_check, flush_all);
    uv_idle_init(&loop->uv, &loop->flush_idle);
    loop->flush_idle.data = loop;
    uv_timer_init(&loop->uv, &loop->housekeeping);
    loop->housekeeping.data = loop;
    uv_timer_start(&loop->housekeeping, on_housekeeping, PL_HOUSEKEEPING_MS, PL_HOUSEKEEPING_MS);
    return 0;
}

/* Opens every listener on every loop.  The first loop binds (resolving
 * ephemeral ports); the others bind the same port with SO_REUSEPORT. */
static int open_listeners(pl_server_t *srv, char **error)
{
    const pl_config_t *c = srv->config;
    int reuse = srv->nloops > 1;
    for (size_t l = 0; l < srv->nloops; l++) {
        pl_loop_t *loop = srv->loops[l];
        loop->listeners = pl_xcalloc(c->nlisten, sizeof(uv_tcp_t));
        loop->listener_kinds = pl_xcalloc(c->nlisten, sizeof(pl_listen_kind_t));
        loop->nlisteners = c->nlisten;
    }
    for (size_t i = 0; i < c->nlisten; i++) {
        pl_listen_conf_t *lc = &c->listen[i];
        int port = lc->port;
        if (reuse && port != 0) {
            /* SO_REUSEPORT would let this server share the port with another
             * process of the same user (a second parleyd) without a word:
             * a plain bind first proves the port is ours alone. */
            int probe_port = 0;
            int probe = bind_socket(lc->address, port, 0, &probe_port, error);
            if (probe < 0)
                return -1;
            close(probe);
        }
        for (size_t l = 0; l < srv->nloops; l++) {
            pl_loop_t *loop = srv->loops[l];
            int bound = 0;
            int fd = bind_socket(lc->address, port, reuse, &bound, error);
            if (fd < 0)
                return -1;
            port = bound;
            uv_tcp_t *h = &loop->listeners[i];
            uv_tcp_init(&loop->uv, h);
            h->data = loop;
            loop->listener_kinds[i] = lc->kind;
            if (uv_tcp_open(h, fd) != 0 || uv_listen((uv_stream_t *)h, 1024, on_connection) != 0) {
                *error = pl_xstrdup("cannot start listener");
                return -1;
            }
        }
        pl_log(&srv->log, PL_LOG_INFO, "listen", "kind=%s address=%s port=%d loops=%zu",
               listen_kind_name(lc->kind), lc->address, port, srv->nloops);
    }
    return 0;
}

static void loop_thread(void *arg)
{
    pl_loop_t *loop = arg;
    pl_current_loop = loop;
    uv_run(&loop->uv, UV_RUN_DEFAULT);
}

size_t pl_loops_wanted(long long configured)
{
    if (configured > 0)
        return (size_t)configured;
    /* 0: one loop per core this process may run on. */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (size_t)CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)(n < 256 ? n : 256) : 1;
}

int pl_loops_start(pl_server_t *srv, char **error)
{
    srv->nloops = pl_loops_wanted(srv->config->loops);
    srv->loops = pl_xcalloc(srv->nloops, sizeof(pl_loop_t *));
    for (size_t i = 0; i < srv->nloops; i++) {
        srv->loops[i] = pl_xcalloc(1, sizeof(pl_loop_t));
        if (loop_init(srv, srv->loops[i], (unsigned)i) != 0) {
            *error = pl_xstrdup("cannot initialise event loop");
            return -1;
        }
    }
    if (open_listeners(srv, error) != 0)
        return -1;
    pl_current_loop = srv->loops[0];
    return 0;
}

/* Loop 0 runs on the main thread (it also handles signals); the others get
 * a thread each. */
void pl_loops_run(pl_server_t *srv)
{
    for (size_t i = 1; i < srv->nloops; i++)
        uv_thread_create(&srv->loops[i]->thread, loop_thread, srv->loops[i]);
    pl_current_loop = srv->loops[0];
    uv_run(&srv->loops[0]->uv, UV_RUN_DEFAULT);
    for (size_t i = 1; i < srv->nloops; i++)
        uv_thread_join(&srv->loops[i]->thread);
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* At shutdown, every few milliseconds: the storage port stays open until
 * the writes submitted through it have committed and their `done` has run
 * (what those hold is released, what they answer is sent), or until the
 * deadline; then the port and this timer close. */
static void drain_storage(uv_timer_t *t)
{
    pl_loop_t *loop = t->data;
    if (loop->storage_port && !pl_storage_port_idle(loop->storage_port) &&
        pl_mono_ms() < loop->drain_deadline)
        return;
    if (loop->storage_port) {
        pl_storage_port_close(&loop->storage_port);
    }
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, NULL);
}

/* Stops accepting, ends every session with system-shutdown, and lets the
 * loop run out once the goodbyes are written and the storage is done. */
static void stop_loop(pl_loop_t *loop)
{
    if (loop->index == 0)
        pl_requests_stop(loop->server);
    for (size_t i = 0; i < loop->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&loop->listeners[i]))
            uv_close((uv_handle_t *)&loop->listeners[i], NULL);
    for (pl_session_t *s = loop->sessions; s; s = s->loop_next)
        if (!s->closing)
            pl_session_stream_error(s, "system-shutdown", "the server is shutting down");
    /* Detached sessions end now; their unacknowledged messages go to the
     * offline store while the storage still takes writes. */
    pl_sm_sweep(loop, 1);
    flush_all(&loop->flush_check);
    uv_close((uv_handle_t *)&loop->flush_check, NULL);
    uv_close((uv_handle_t *)&loop->flush_idle, NULL);
    if (!uv_is_closing((uv_handle_t *)&loop->housekeeping)) {
        loop->drain_deadline = pl_mono_ms() + PL_SHUTDOWN_DRAIN_MS;
        uv_timer_start(&loop->housekeeping, drain_storage, 0, 5);
    }
    if (!uv_is_closing((uv_handle_t *)&loop->wake))
        uv_close((uv_handle_t *)&loop->wake, NULL);
}

void pl_loops_stop(pl_server_t *srv)
{
    for (size_t i = 0; i < srv->nloops; i++) {
        atomic_store(&srv->loops[i]->stop_requested, 1);
        if (pl_current_loop == srv->loops[i])
            stop_loop(srv->loops[i]);
        else
            uv_async_send(&srv->loops[i]->wake);
    }
}

/* After uv_run returned: close what is left and free the loops. */
void pl_loops_free(pl_server_t *srv)
{
    /* Calls still queued run now (every pl_loop_call runs exactly once);
     * stanzas for sessions that are gone are dropped by delivery. */
    for (int round = 0, any = 1; any && round < 16; round++) {
        any = 0;
        for (size_t i = 0; i < srv->nloops; i++) {
            pl_current_loop = srv->loops[i];
            any |= drain_inbox(srv->loops[i]);
        }
    }
    pl_current_loop = NULL;
    for (size_t i = 0; i < srv->nloops; i++) {
        pl_loop_t *loop = srv->loops[i];
        uv_walk(&loop->uv, close_walk, NULL);
        uv_run(&loop->uv, UV_RUN_DEFAULT);
        uv_loop_close(&loop->uv);
        pthread_mutex_destroy(&loop->inbox_lock);
        free(loop->listeners);
        free(loop->listener_kinds);
        free(loop);
    }
    free(srv->loops);
    srv->loops = NULL;
    srv->nloops = 0;
}
