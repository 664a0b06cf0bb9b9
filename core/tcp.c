/* tcp.c — the TCP transport under a session (pl_tcp_transport): a socket
 * accepted by a listener or handed in by the caller, TLS on memory BIOs
 * (direct TLS or STARTTLS), RFC 6120's <stream:stream> framing, and writes
 * through libuv.  What is the same for every transport (the parser, the
 * output queue and its bound, the close path) is session.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lib/util.h"

typedef struct write_req {
    uv_write_t req;
    pl_session_t *s;
    size_t len;
    char data[];
} write_req_t;

static void on_write(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    pl_session_t *s = w->s;
    s->write_pending -= w->len;
    free(w);
    if (status < 0 && !s->closing) {
        pl_session_end(s, PL_END_BROKEN, uv_strerror(status));
        return;
    }
    if (s->closing && s->write_pending == 0)
        pl_session_disconnect(s); /* the last bytes are out */
}

static void write_bytes(pl_session_t *s, const char *data, size_t len)
{
    if (len == 0 || s->disconnected)
        return;
    write_req_t *w = pl_xmalloc(sizeof(*w) + len);
    w->s = s;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    s->write_pending += len;
    int rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &buf, 1, on_write);
    if (rc < 0) {
        s->write_pending -= len;
        free(w);
        if (!s->closing)
            pl_session_end(s, PL_END_BROKEN, uv_strerror(rc));
    }
}

static void tcp_write(pl_session_t *s, const char *data, size_t len)
{
    if (s->tls && !s->tls_wanted) {
        pl_buf_t cipher;
        pl_buf_init(&cipher);
        if (pl_tls_write(s->tls, data, len, &cipher) == 0)
            write_bytes(s, cipher.data, cipher.len);
        pl_buf_deinit(&cipher);
    } else {
        write_bytes(s, data, len);
    }
}

static void tcp_open_stream(pl_session_t *s, const pl_stream_open_t *o, pl_buf_t *out)
{
    (void)s;
    pl_buf_printf(out,
                  "<?xml version='1.0'?><stream:stream xmlns='%s' "
                  "xmlns:stream='" PL_NS_STREAMS "' id='%s'",
                  o->content_ns, o->id);
    if (o->from) {
        pl_buf_puts(out, " from='");
        pl_buf_escape(out, o->from, strlen(o->from), 1);
        pl_buf_puts(out, "'");
    }
    pl_buf_puts(out, o->version ? " version='1.0' xml:lang='en'>" : ">");
}

static void tcp_close_stream(pl_session_t *s, pl_buf_t *out)
{
    (void)s;
    pl_buf_puts(out, "</stream:stream>");
}

static pl_tls_t *new_tls(pl_session_t *s)
{
    pthread_mutex_lock(&s->server->tls_lock);
    pl_tls_t *tls = pl_tls_new(s->server->tls);
    pthread_mutex_unlock(&s->server->tls_lock);
    return tls;
}

static void tcp_start_tls(pl_session_t *s)
{
    s->tls = new_tls(s);
    s->tls_wanted = 1;
}

static pl_tls_t *tcp_tls(const pl_session_t *s)
{
    return s->tls;
}

static void tcp_shutdown(pl_session_t *s)
{
    if (!s->tls || !pl_tls_established(s->tls))
        return;
    pl_buf_t cipher;
    pl_buf_init(&cipher);
    pl_tls_shutdown(s->tls, &cipher);
    write_bytes(s, cipher.data, cipher.len);
    pl_buf_deinit(&cipher);
}

static void on_tcp_closed(uv_handle_t *h)
{
    pl_session_transport_closed(h->data);
}

static void tcp_close(pl_session_t *s)
{
    uv_close((uv_handle_t *)&s->tcp, on_tcp_closed);
}

static int tcp_can_sleep(const pl_session_t *s)
{
    return !s->tls_wanted; /* mid-STARTTLS: the handshake's state must stay */
}

static void tcp_sleep(pl_session_t *s)
{
    if (s->tls)
        pl_tls_sleep(s->tls);
}

static void tcp_free(pl_session_t *s)
{
    pl_tls_free(&s->tls);
}

const pl_transport_ops_t pl_tcp_transport = {
    .name = "tcp",
    .open_stream = tcp_open_stream,
    .close_stream = tcp_close_stream,
    .write = tcp_write,
    .start_tls = tcp_start_tls,
    .tls = tcp_tls,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
    .can_sleep = tcp_can_sleep,
    .sleep = tcp_sleep,
    .free = tcp_free,
};

/* ---- reading ---- */

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    pl_session_t *s = stream->data;
    s->loop->readbuf_busy = 0;
    if (nread < 0) {
        /* No </stream:stream> came first: the connection failed. */
        pl_session_end(s, nread == UV_EOF ? PL_END_LOST : PL_END_BROKEN,
                       nread == UV_EOF ? "connection closed" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0 || s->closing)
        return;
    pl_session_received(s, (size_t)nread);
    if (!s->tls) {
        pl_session_input(s, buf->base, (size_t)nread);
        return;
    }
    pl_buf_t plain, cipher;
    pl_buf_init(&plain);
    pl_buf_init(&cipher);
    const char *err = NULL;
    int was_up = pl_tls_established(s->tls);
    int rc = pl_tls_feed(s->tls, buf->base, (size_t)nread, &plain, &cipher, &err);
    s->tls_wanted = 0;
    write_bytes(s, cipher.data, cipher.len);
    if (rc < 0) {
        pl_log(&s->server->log, PL_LOG_INFO, "tls.error", "session=%llu ip=%s error=\"%s\"",
               (unsigned long long)s->id, s->ip, err ? err : "-");
        pl_buf_deinit(&plain);
        pl_buf_deinit(&cipher);
        /* The alert just queued may still go; nothing else can. */
        pl_session_end(s, PL_END_BROKEN, err ? err : "TLS error");
        return;
    }
    if (!was_up && pl_tls_established(s->tls)) {
        pl_log(&s->server->log, PL_LOG_DEBUG, "tls.established",
               "session=%llu version=%s cipher=%s", (unsigned long long)s->id,
               pl_tls_version(s->tls), pl_tls_cipher(s->tls));
        pl_session_secured(s);
    }
    pl_session_input(s, plain.data, plain.len);
    pl_buf_deinit(&plain);
    pl_buf_deinit(&cipher);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    pl_session_t *s = h->data;
    pl_loop_t *loop = s->loop;
    if (loop->readbuf_busy) {
        /* Not expected (reads are processed one at a time), but never hand
         * the same buffer out twice. */
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    loop->readbuf_busy = 1;
    buf->base = loop->readbuf;
    buf->len = sizeof(loop->readbuf);
}

/* ---- connections ---- */

static void tcp_attach(pl_session_t *s)
{
    pl_session_attach(s, &pl_tcp_transport);
    uv_tcp_init(&s->loop->uv, &s->tcp);
    s->tcp.data = s;
}

/* A connected socket (s->ip known): limits, TLS on a direct-TLS port, the
 * login timer, reading. */
static void tcp_start(pl_session_t *s)
{
    uv_tcp_nodelay(&s->tcp, 1);
    if (pl_limits_conn_open(s->server, s->ip) != 0) {
        /* Refused at once, before a byte is read or a TLS handshake spent:
         * a silent connection over the bound is not held until the login
         * timeout.  A plaintext peer is told why. */
        pl_log(&s->server->log, PL_LOG_WARN, "limits.connections", "ip=%s limit=%lld", s->ip,
               pl_server_limits(s->server)->conn_per_ip);
        if (s->port_kind == PL_LISTEN_C2S_TLS)
            pl_session_end(s, PL_END_GOODBYE, "too many connections from one address");
        else
            pl_session_stream_error(s, "policy-violation",
                                    "too many connections from your address");
        return;
    }
    if (s->port_kind == PL_LISTEN_C2S_TLS)
        s->tls = new_tls(s);
    pl_session_start(s);
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

void pl_session_accept(pl_session_t *s, uv_stream_t *server_handle)
{
    tcp_attach(s);
    if (uv_accept(server_handle, (uv_stream_t *)&s->tcp) != 0) {
        pl_session_end(s, PL_END_BROKEN, "accept failed");
        return;
    }
    struct sockaddr_storage addr;
    int alen = sizeof(addr);
    strcpy(s->ip, "unknown");
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&addr, &alen) == 0) {
        if (addr.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&addr, s->ip, sizeof(s->ip));
        else
            uv_ip4_name((struct sockaddr_in *)&addr, s->ip, sizeof(s->ip));
    }
    tcp_start(s);
}

int pl_session_open_fd(pl_session_t *s, int fd, const char *peer)
{
    tcp_attach(s);
    snprintf(s->ip, sizeof(s->ip), "%s", peer);
    int rc = uv_tcp_open(&s->tcp, fd);
    if (rc != 0) {
        pl_session_end(s, PL_END_BROKEN, "cannot open the socket");
        return rc;
    }
    tcp_start(s);
    return 0;
}
