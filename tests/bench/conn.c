/* conn.c — one client connection's transport: a non-blocking socket bound
 * to one of several source addresses, watched by a uv_poll_t, with OpenSSL
 * reading and writing the socket itself.  Letting OpenSSL own the socket
 * (rather than memory BIOs) keeps an idle connection down to the SSL object
 * with its buffers released, which matters at twenty thousand sessions. */
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/bench.h"

static void on_poll(uv_poll_t *h, int status, int events);

/* ---- poll events and teardown ---- */

static void update_events(bench_conn_t *c)
{
    int ev = UV_READABLE;
    if (c->state == BENCH_CS_CONNECTING)
        ev = UV_WRITABLE;
    else if (c->out_len || (c->flags & BENCH_CF_WANT_WRITE))
        ev |= UV_WRITABLE;
    if (ev != c->events) {
        c->events = (uint8_t)ev;
        uv_poll_start(&c->poll, ev, on_poll);
    }
}

static void on_closed(uv_handle_t *h)
{
    bench_conn_t *c = h->data;
    bench_worker_t *w = c->w;
    bench_user_t *u = c->user;
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    bench_client_free(c);
    free(c->out);
    free(c);
    bench_worker_conn_gone(w, u);
}

/* Stops watching the socket; the rest is freed in on_closed, after libuv is
 * done with the handle.  Safe to call from inside the XML callbacks: the
 * parser lives until then. */
static void teardown(bench_conn_t *c)
{
    c->flags |= BENCH_CF_DEAD;
    if (c->flags & BENCH_CF_IN_LIST)
        bench_worker_pending_remove(c->w, c);
    if (c->state == BENCH_CS_ONLINE)
        atomic_fetch_sub_explicit(&c->w->a_online, 1, memory_order_relaxed);
    if (c->xml)
        XML_StopParser(c->xml, XML_FALSE);
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_closed);
}

void bench_conn_fail(bench_conn_t *c, int reason, const char *detail)
{
    if (c->flags & BENCH_CF_DEAD)
        return;
    bench_worker_t *w = c->w;
    if (c->state == BENCH_CS_ONLINE) {
        w->stats.c[BENCH_C_LOST]++;
        atomic_fetch_add_explicit(&w->a_lost, 1, memory_order_relaxed);
        if (!w->stats.first_error[0])
            snprintf(w->stats.first_error, sizeof(w->stats.first_error),
                     "session lost after login: %s", detail);
    } else if (c->state != BENCH_CS_CLOSING) {
        bench_worker_login_failed(w, c->user, reason, detail);
    }
    /* Whatever went wrong, later operations on this thread's error queue
     * must not see it. */
    ERR_clear_error();
    teardown(c);
}

void bench_conn_close(bench_conn_t *c)
{
    if (c->flags & BENCH_CF_DEAD)
        return;
    int was_online = c->state == BENCH_CS_ONLINE;
    int stream_open = c->state >= BENCH_CS_FEATURES && c->state != BENCH_CS_CLOSING;
    if (!was_online && c->state != BENCH_CS_CLOSING)
        bench_worker_login_failed(c->w, c->user, -1, NULL); /* abandoned, not failed */
    if (was_online)
        atomic_fetch_sub_explicit(&c->w->a_online, 1, memory_order_relaxed);
    /* From here a failing write is no lost session: it is the close. */
    c->state = BENCH_CS_CLOSING;
    if (stream_open) {
        bench_conn_send(c, "</stream:stream>", 16);
        if (c->ssl && !(c->flags & BENCH_CF_DEAD))
            SSL_shutdown(c->ssl); /* close_notify, best effort: the socket closes next */
    }
    ERR_clear_error();
    if (!(c->flags & BENCH_CF_DEAD))
        teardown(c);
}

/* ---- writing ---- */

/* Writes queued bytes until the socket (or TLS) stops taking them.
 * Returns -1 when the connection failed. */
static int flush(bench_conn_t *c)
{
    while (c->out_len) {
        size_t done;
        if (c->ssl) {
            int r = SSL_write(c->ssl, c->out, (int)c->out_len);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
                    break;
                char why[160];
                snprintf(why, sizeof(why), "TLS write: %s",
                         ERR_reason_error_string(ERR_peek_error())
                             ? ERR_reason_error_string(ERR_peek_error())
                             : strerror(errno));
                bench_conn_fail(c, BENCH_FAIL_TLS, why);
                return -1;
            }
            done = (size_t)r;
        } else {
            ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                bench_conn_fail(c, BENCH_FAIL_CLOSED, strerror(errno));
                return -1;
            }
            done = (size_t)n;
        }
        memmove(c->out, c->out + done, c->out_len - done);
        c->out_len -= (uint32_t)done;
    }
    if (c->out_len == 0 && c->out_cap > 4096) {
        free(c->out); /* a big burst is over: do not keep its buffer */
        c->out = NULL;
        c->out_cap = 0;
    }
    update_events(c);
    return 0;
}

void bench_conn_send(bench_conn_t *c, const char *data, size_t len)
{
    if (c->flags & BENCH_CF_DEAD)
        return;
    c->w->stats.c[BENCH_C_BYTES_OUT] += len;
    if ((size_t)c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 512;
        while (cap < (size_t)c->out_len + len)
            cap *= 2;
        if (cap > UINT32_MAX / 2) {
            bench_conn_fail(c, BENCH_FAIL_CLOSED, "output backlog too large");
            return;
        }
        char *p = realloc(c->out, cap);
        if (!p) {
            bench_conn_fail(c, BENCH_FAIL_CLOSED, "out of memory");
            return;
        }
        c->out = p;
        c->out_cap = (uint32_t)cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += (uint32_t)len;
    /* Before the TLS handshake is over nothing may be written; the bytes
     * wait in the queue. */
    if (c->state != BENCH_CS_CONNECTING && c->state != BENCH_CS_TLS)
        flush(c);
}

/* ---- TLS ---- */

static void tls_handshake(bench_conn_t *c)
{
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        if (SSL_session_reused(c->ssl))
            c->w->stats.c[BENCH_C_TLS_RESUMED]++;
        c->flags &= (uint16_t)~BENCH_CF_WANT_WRITE;
        c->state = BENCH_CS_FEATURES;
        bench_client_open_stream(c);
        if (!(c->flags & BENCH_CF_DEAD))
            flush(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        c->flags &= (uint16_t)~BENCH_CF_WANT_WRITE;
    } else if (e == SSL_ERROR_WANT_WRITE) {
        c->flags |= BENCH_CF_WANT_WRITE;
    } else {
        unsigned long err = ERR_peek_error();
        char why[200];
        snprintf(why, sizeof(why), "TLS handshake: %s",
                 err ? ERR_reason_error_string(err)
                     : (e == SSL_ERROR_SYSCALL ? "connection closed" : "failed"));
        bench_conn_fail(c, BENCH_FAIL_TLS, why);
        return;
    }
    update_events(c);
}

void bench_conn_start_tls(bench_conn_t *c)
{
    c->ssl = SSL_new(c->w->ssl_ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        bench_conn_fail(c, BENCH_FAIL_TLS, "cannot create the TLS connection");
        return;
    }
    SSL_set_connect_state(c->ssl);
    SSL_set_tlsext_host_name(c->ssl, c->w->o->domain);
    SSL_set_app_data(c->ssl, c);
    if (c->user && c->user->tls_session)
        SSL_set_session(c->ssl, c->user->tls_session);
    if (c->w->o->tls == BENCH_TLS_DIRECT) {
        /* XEP-0368: direct TLS names the protocol with ALPN. */
        static const unsigned char alpn[] = "\x0bxmpp-client";
        SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1);
    }
    c->state = BENCH_CS_TLS;
    tls_handshake(c);
}

/* ---- reading ---- */

static void do_read(bench_conn_t *c)
{
    bench_worker_t *w = c->w;
    for (;;) {
        ssize_t n;
        if (c->ssl) {
            int r = SSL_read(c->ssl, w->rbuf, sizeof(w->rbuf));
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ)
                    break;
                if (e == SSL_ERROR_WANT_WRITE) {
                    c->flags |= BENCH_CF_WANT_WRITE;
                    update_events(c);
                    break;
                }
                if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !ERR_peek_error()))
                    bench_conn_fail(c, BENCH_FAIL_CLOSED, "the server closed the connection");
                else
                    bench_conn_fail(c, BENCH_FAIL_TLS,
                                    ERR_reason_error_string(ERR_peek_error())
                                        ? ERR_reason_error_string(ERR_peek_error())
                                        : "TLS read failed");
                return;
            }
            n = r;
        } else {
            n = read(c->fd, w->rbuf, sizeof(w->rbuf));
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            if (n <= 0) {
                bench_conn_fail(c, BENCH_FAIL_CLOSED,
                                n == 0 ? "the server closed the connection" : strerror(errno));
                return;
            }
        }
        w->stats.c[BENCH_C_BYTES_IN] += (uint64_t)n;
        bench_client_input(c, w->rbuf, (size_t)n);
        if (c->flags & BENCH_CF_DEAD)
            return;
        if (c->flags & BENCH_CF_START_TLS) {
            c->flags &= (uint16_t)~BENCH_CF_START_TLS;
            bench_conn_start_tls(c);
            return;
        }
        /* A plain socket that gave less than asked for is drained.  TLS
         * reads ahead (make_ssl_ctx): once it holds nothing more, decrypted
         * or not, the loop goes back to the poll, which is level-triggered
         * and reports the socket again if it has more, instead of a read
         * that would only say EAGAIN: one read per delivery, not two or
         * three, when every delivery arrives on its own. */
        if (c->ssl ? !SSL_has_pending(c->ssl) : (size_t)n < sizeof(w->rbuf))
            break;
    }
}

static void connected(bench_conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        bench_conn_fail(c, err == EADDRNOTAVAIL ? BENCH_FAIL_SOURCE : BENCH_FAIL_CONNECT,
                        strerror(err));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (c->w->o->tls == BENCH_TLS_DIRECT) {
        bench_conn_start_tls(c);
        return;
    }
    c->state = BENCH_CS_FEATURES;
    bench_client_open_stream(c);
    if (!(c->flags & BENCH_CF_DEAD))
        flush(c);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    bench_conn_t *c = h->data;
    if (c->flags & BENCH_CF_DEAD)
        return;
    if (status < 0) {
        bench_conn_fail(c, c->state == BENCH_CS_CONNECTING ? BENCH_FAIL_CONNECT : BENCH_FAIL_CLOSED,
                        uv_strerror(status));
        return;
    }
    if (c->state == BENCH_CS_CONNECTING) {
        connected(c);
        return;
    }
    if (c->state == BENCH_CS_TLS) {
        tls_handshake(c);
        return;
    }
    if ((events & UV_WRITABLE) && (c->flags & BENCH_CF_WANT_WRITE)) {
        /* A read that stopped for want of writing goes on now. */
        c->flags &= (uint16_t)~BENCH_CF_WANT_WRITE;
        events |= UV_READABLE;
    }
    if ((events & UV_WRITABLE) && flush(c) != 0)
        return;
    if (events & UV_READABLE)
        do_read(c);
}

/* ---- starting ---- */

static int open_socket(bench_conn_t *c, const char **why, int *reason)
{
    const bench_opts_t *o = c->w->o;
    c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        *reason = errno == EMFILE || errno == ENFILE ? BENCH_FAIL_FDLIMIT : BENCH_FAIL_CONNECT;
        *why = strerror(errno);
        return -1;
    }
    if (o->source_addrs > 0) {
        /* The port is picked at connect time, per destination, instead of
         * at bind time, where each source address would give only one
         * ephemeral range for every destination together. */
        int one = 1;
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in src = {.sin_family = AF_INET};
        uint32_t k = c->w->source_next++ % (uint32_t)o->source_addrs;
        src.sin_addr.s_addr = htonl(ntohl(o->source_base.s_addr) + k);
        if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            *reason = BENCH_FAIL_SOURCE;
            *why = strerror(errno);
            return -1;
        }
    }
    if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0 &&
        errno != EINPROGRESS) {
        *reason = errno == EADDRNOTAVAIL ? BENCH_FAIL_SOURCE : BENCH_FAIL_CONNECT;
        *why = strerror(errno);
        return -1;
    }
    return 0;
}

void bench_conn_start(bench_worker_t *w, bench_user_t *u)
{
    bench_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        bench_worker_login_failed(w, u, BENCH_FAIL_CONNECT, "out of memory");
        return;
    }
    c->w = w;
    c->user = u;
    c->fd = -1;
    c->t_start = bench_now_ns();
    c->login_no = ++w->login_seq;
    c->state = BENCH_CS_CONNECTING;
    u->conn = c;
    w->nconns++;

    const char *why = NULL;
    int reason = BENCH_FAIL_CONNECT;
    if (open_socket(c, &why, &reason) != 0 || uv_poll_init(&w->loop, &c->poll, c->fd) != 0) {
        /* Nothing is being watched yet: undo by hand, without a close
         * callback. */
        bench_worker_login_failed(w, u, reason, why ? why : "cannot watch the socket");
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        u->conn = NULL;
        w->nconns--;
        return;
    }
    c->poll.data = c;
    update_events(c);
}
