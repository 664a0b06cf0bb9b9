/* session.c — the transport under every stream: accepting, reading through
 * TLS into the XML parser, queueing output and writing it once per loop
 * iteration, stream errors and orderly close.  What the stream means
 * (client or component) lives in c2s.c and component.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lib/util.h"
#include "storage/storage.h"

#define PL_CLOSE_GRACE_MS 5000

typedef struct write_req {
    uv_write_t req;
    pl_session_t *s;
    size_t len;
    char data[];
} write_req_t;

static void on_timer(uv_timer_t *t);

static void xml_stream_open(void *ud, const pl_stream_header_t *h)
{
    pl_session_t *s = ud;
    if (s->kind == PL_SESSION_COMPONENT)
        pl_component_on_stream_open(s, h);
    else
        pl_c2s_on_stream_open(s, h);
}

static void xml_stanza(void *ud, pl_stanza_t *st)
{
    pl_session_t *s = ud;
    if (s->closing)
        return;
    s->last_rx_ms = pl_mono_ms();
    if (s->kind == PL_SESSION_COMPONENT)
        pl_component_on_stanza(s, st);
    else
        pl_c2s_on_stanza(s, st);
}

static void xml_stream_close(void *ud)
{
    pl_session_t *s = ud;
    pl_session_end(s, PL_END_GOODBYE, "peer closed stream");
}

static void xml_error(void *ud, pl_xml_error_t err, const char *text)
{
    pl_session_t *s = ud;
    pl_log(&s->server->log, PL_LOG_WARN, "stream.xml_error", "session=%llu ip=%s condition=%s",
           (unsigned long long)s->id, s->ip, pl_xml_error_condition(err));
    pl_session_stream_error(s, pl_xml_error_condition(err), text);
}

static const pl_xml_callbacks_t xml_callbacks = {
    .stream_open = xml_stream_open,
    .stanza = xml_stanza,
    .stream_close = xml_stream_close,
    .error = xml_error,
};

pl_session_t *pl_session_new(pl_loop_t *loop, pl_session_kind_t kind, int port_kind)
{
    pl_server_t *srv = loop->server;
    pl_session_t *s = pl_xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->id = atomic_fetch_add(&srv->next_session_id, 1) + 1;
    s->kind = kind;
    s->loop = loop;
    s->server = srv;
    s->port_kind = port_kind;
    pl_buf_init(&s->out);
    pl_xml_limits_t lim = {
        .max_stanza_bytes = (size_t)srv->limits.max_stanza_bytes,
        .max_depth = (unsigned)srv->limits.max_depth,
        .max_attrs = (unsigned)srv->limits.max_attrs,
        .max_name_len = (unsigned)srv->limits.max_name_len,
    };
    s->xml = pl_xml_parser_new(&lim, &xml_callbacks, s);
    s->tokens = (double)srv->limits.stanza_burst;
    s->tokens_at_ms = pl_mono_ms();
    s->last_rx_ms = s->tokens_at_ms;
    pl_random_id(s->stream_id, 16);
    return s;
}

pl_session_t *pl_session_ref(pl_session_t *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

static void session_free(pl_session_t *s)
{
    pl_xml_parser_free(&s->xml);
    pl_tls_free(&s->tls);
    pl_buf_deinit(&s->out);
    pl_jid_deinit(&s->jid);
    pl_stanza_unref(&s->presence);
    pl_sm_release(s);
    pl_c2s_sasl2_free(s);
    for (size_t i = 0; i < s->csi_nheld; i++)
        pl_stanza_unref(&s->csi_held[i]);
    free(s->csi_held);
    pl_session_unref(&s->moved_to);
    pl_scram_server_deinit(&s->scram);
    free(s->mod_state);
    free(s);
}

void pl_session_unref(pl_session_t **sp)
{
    pl_session_t *s = *sp;
    *sp = NULL;
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        session_free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    pl_session_t *s = h->data;
    if (--s->handles_open > 0)
        return;
    pl_loop_t *loop = s->loop;
    if (s->loop_prev)
        s->loop_prev->loop_next = s->loop_next;
    else if (loop->sessions == s)
        loop->sessions = s->loop_next;
    if (s->loop_next)
        s->loop_next->loop_prev = s->loop_prev;
    pl_limits_conn_close(s->server, s->ip);
    atomic_fetch_sub(&s->server->session_count, 1);
    pl_session_unref(&s);
}

static void close_handles(pl_session_t *s)
{
    if (uv_is_closing((uv_handle_t *)&s->tcp))
        return;
    uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

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
        close_handles(s);
}

static void write_bytes(pl_session_t *s, const char *data, size_t len)
{
    if (len == 0 || uv_is_closing((uv_handle_t *)&s->tcp))
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

void pl_session_flush(pl_session_t *s)
{
    if (s->slow && !s->closing) {
        /* pl_session_send_raw refused bytes earlier in this iteration: the
         * peer does not read.  Ended here, between stanzas, rather than in
         * the middle of whatever was sending. */
        pl_session_end(s, PL_END_SLOW, "slow consumer");
        return;
    }
    if (s->out.len == 0)
        return;
    if (s->sm)
        pl_sm_before_flush(s);
    if (s->tls && !s->tls_wanted) {
        pl_buf_t cipher;
        pl_buf_init(&cipher);
        if (pl_tls_write(s->tls, s->out.data, s->out.len, &cipher) == 0)
            write_bytes(s, cipher.data, cipher.len);
        pl_buf_deinit(&cipher);
    } else {
        write_bytes(s, s->out.data, s->out.len);
    }
    pl_buf_reset(&s->out);
}

size_t pl_stanza_out_size(const pl_stanza_t *st)
{
    size_t len = 0;
    pl_stanza_bytes(st, &len); /* serialised once and cached: delivery needs it anyway */
    return len;
}

/* Bytes the session holds for its peer: queued this iteration, plus
 * handed to the socket and not yet taken by the kernel. */
size_t pl_session_backlog(const pl_session_t *s)
{
    return s->out.len + s->write_pending;
}

void pl_session_send_raw(pl_session_t *s, const char *data, size_t len)
{
    if (s->slow || uv_is_closing((uv_handle_t *)&s->tcp))
        return;
    /* The bound holds before the bytes are taken, not after a flush: a
     * peer that stops reading never makes the server hold more than
     * max_output_bytes for it. */
    if (pl_session_backlog(s) + len > (size_t)s->server->limits.max_output_bytes) {
        pl_log(&s->server->log, PL_LOG_WARN, "limits.output",
               "session=%llu ip=%s jid=%s pending=%zu", (unsigned long long)s->id, s->ip,
               s->jid.full ? s->jid.full : "-", pl_session_backlog(s));
        s->slow = 1;
        pl_loop_mark_dirty(s);
        return;
    }
    pl_buf_append(&s->out, data, len);
    pl_loop_mark_dirty(s);
}

void pl_session_send_str(pl_session_t *s, const char *text)
{
    pl_session_send_raw(s, text, strlen(text));
}

void pl_session_send(pl_session_t *s, const pl_stanza_t *st)
{
    if (s->sm)
        pl_sm_track(s, st);
    pl_session_send_untracked(s, st);
}

void pl_session_send_untracked(pl_session_t *s, const pl_stanza_t *st)
{
    size_t len;
    const char *bytes = pl_stanza_bytes(st, &len);
    if (s->traced || pl_log_enabled(&s->server->log, PL_LOG_DEBUG))
        pl_log(&s->server->log, s->traced ? PL_LOG_TRACE : PL_LOG_DEBUG, "stanza.out",
               "session=%llu jid=%s bytes=%zu data=%.*s", (unsigned long long)s->id,
               s->jid.full ? s->jid.full : "-", len, (int)(len > 2000 ? 2000 : len), bytes);
    pl_session_send_raw(s, bytes, len);
}

void pl_session_start_tls(pl_session_t *s)
{
    /* <proceed/> must leave in plaintext before the handshake starts. */
    pl_session_flush(s);
    pthread_mutex_lock(&s->server->tls_lock);
    s->tls = pl_tls_new(s->server->tls);
    pthread_mutex_unlock(&s->server->tls_lock);
    s->state = PL_ST_TLS_HANDSHAKE;
}

void pl_session_open_stream(pl_session_t *s, const char *from)
{
    const char *ns = s->kind == PL_SESSION_COMPONENT ? PL_NS_COMPONENT : PL_NS_CLIENT;
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_printf(&b,
                  "<?xml version='1.0'?><stream:stream xmlns='%s' "
                  "xmlns:stream='" PL_NS_STREAMS "' id='%s'",
                  ns, s->stream_id);
    if (from) {
        pl_buf_puts(&b, " from='");
        pl_buf_escape(&b, from, strlen(from), 1);
        pl_buf_puts(&b, "'");
    }
    pl_buf_puts(&b, s->kind == PL_SESSION_COMPONENT ? ">" : " version='1.0' xml:lang='en'>");
    pl_session_send_raw(s, b.data, b.len);
    pl_buf_deinit(&b);
    s->stream_open = 1;
}

static void open_stream_for_error(pl_session_t *s)
{
    if (!s->stream_open)
        pl_session_open_stream(s, s->host ? s->host->name : NULL);
}

void pl_session_stream_error(pl_session_t *s, const char *condition, const char *text)
{
    if (s->closing)
        return;
    open_stream_for_error(s);
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_printf(&b, "<stream:error><%s xmlns='" PL_NS_STREAM_ERRORS "'/>", condition);
    if (text && *text) {
        pl_buf_puts(&b, "<text xmlns='" PL_NS_STREAM_ERRORS "' xml:lang='en'>");
        pl_buf_escape(&b, text, strlen(text), 0);
        pl_buf_puts(&b, "</text>");
    }
    pl_buf_puts(&b, "</stream:error>");
    pl_session_send_raw(s, b.data, b.len);
    pl_buf_deinit(&b);
    pl_log(&s->server->log, PL_LOG_INFO, "stream.error", "session=%llu ip=%s jid=%s condition=%s",
           (unsigned long long)s->id, s->ip, s->jid.full ? s->jid.full : "-", condition);
    pl_session_end(s, PL_END_GOODBYE, condition);
}

static const char *end_name(pl_end_how_t how)
{
    switch (how) {
    case PL_END_GOODBYE: return "goodbye";
    case PL_END_LOST: return "lost";
    case PL_END_BROKEN: return "broken";
    case PL_END_SLOW: return "slow";
    }
    return "?";
}

/* The one way out for every stream.  What the stream meant is undone by
 * its kind (c2s: leave the session table and tell the modules, or stay
 * detached for a resumption; component: free the domain); then the socket
 * closes, once our last bytes are written when they still can be. */
void pl_session_end(pl_session_t *s, pl_end_how_t how, const char *reason)
{
    if (s->closing) {
        /* Already ending, waiting for its last bytes: a peer that does not
         * read them, or a socket that broke, ends the wait. */
        if (how == PL_END_SLOW || how == PL_END_BROKEN)
            close_handles(s);
        return;
    }
    /* Closing from here on: a write that fails while the last bytes are
     * flushed (the peer reset the connection) must not end it again. */
    s->closing = 1;
    if (how != PL_END_GOODBYE)
        s->lost = 1; /* not the peer's choice: stream management may keep the session */
    if (how == PL_END_SLOW || how == PL_END_BROKEN) {
        pl_buf_deinit(&s->out); /* nothing more can or should reach the peer */
    } else {
        if (s->stream_open && !uv_is_closing((uv_handle_t *)&s->tcp))
            pl_session_send_raw(s, "</stream:stream>", 16);
        pl_session_flush(s);
        if (s->tls && pl_tls_established(s->tls)) {
            pl_buf_t cipher;
            pl_buf_init(&cipher);
            pl_tls_shutdown(s->tls, &cipher);
            write_bytes(s, cipher.data, cipher.len);
            pl_buf_deinit(&cipher);
        }
    }
    s->state = PL_ST_CLOSING;
    pl_xml_parser_stop(s->xml);
    if (s->kind == PL_SESSION_COMPONENT)
        pl_component_on_close(s);
    else
        pl_c2s_on_close(s);
    pl_log(&s->server->log, how == PL_END_GOODBYE ? PL_LOG_DEBUG : PL_LOG_INFO, "session.end",
           "session=%llu ip=%s jid=%s how=%s reason=%s", (unsigned long long)s->id, s->ip,
           s->jid.full ? s->jid.full : "-", end_name(how), reason ? reason : "-");
    if (how == PL_END_SLOW || s->write_pending == 0)
        close_handles(s);
    else
        uv_timer_start(&s->timer, on_timer, PL_CLOSE_GRACE_MS, 0);
}

int pl_session_sleep(pl_session_t *s)
{
    if (s->closing || s->asleep || s->out.len || s->write_pending || s->tls_wanted)
        return 0;
    if (!pl_xml_parser_sleep(s->xml))
        return 0;
    if (s->tls)
        pl_tls_sleep(s->tls);
    pl_buf_deinit(&s->out);
    s->asleep = 1;
    return 1;
}

static void feed_plain(pl_session_t *s, const char *data, size_t len)
{
    if (len == 0 || s->closing)
        return;
    if (s->traced)
        pl_log(&s->server->log, PL_LOG_TRACE, "stanza.in", "session=%llu bytes=%zu data=%.*s",
               (unsigned long long)s->id, len, (int)(len > 2000 ? 2000 : len), data);
    pl_xml_parser_feed(s->xml, data, len);
}

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
    s->last_rx_ms = pl_mono_ms();
    s->ping_outstanding = 0;
    s->asleep = 0; /* the parser wakes itself on these bytes */
    if (!s->tls) {
        feed_plain(s, buf->base, (size_t)nread);
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
        s->secure = 1;
        pl_log(&s->server->log, PL_LOG_DEBUG, "tls.established",
               "session=%llu version=%s cipher=%s", (unsigned long long)s->id,
               pl_tls_version(s->tls), pl_tls_cipher(s->tls));
        pl_c2s_on_tls_ready(s);
    }
    feed_plain(s, plain.data, plain.len);
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

static void on_timer(uv_timer_t *t)
{
    pl_session_t *s = t->data;
    if (s->closing) {
        close_handles(s);
        return;
    }
    pl_c2s_timer(s);
}

/* The handles of a new connection, and its place on the loop. */
static void session_link(pl_session_t *s)
{
    pl_loop_t *loop = s->loop;
    uv_tcp_init(&loop->uv, &s->tcp);
    uv_timer_init(&loop->uv, &s->timer);
    s->tcp.data = s;
    s->timer.data = s;
    s->handles_open = 2;
    atomic_fetch_add(&s->server->session_count, 1);
    s->loop_next = loop->sessions;
    if (loop->sessions)
        loop->sessions->loop_prev = s;
    loop->sessions = s;
}

/* A connected socket (s->ip known): limits, TLS on a direct-TLS port, the
 * login timer, reading. */
static void session_start(pl_session_t *s)
{
    uv_tcp_nodelay(&s->tcp, 1);
    if (pl_limits_conn_open(s->server, s->ip) != 0) {
        /* Refused at once, before a byte is read or a TLS handshake spent:
         * a silent connection over the bound is not held until the login
         * timeout.  A plaintext peer is told why. */
        pl_log(&s->server->log, PL_LOG_WARN, "limits.connections", "ip=%s limit=%lld", s->ip,
               s->server->limits.conn_per_ip);
        if (s->port_kind == PL_LISTEN_C2S_TLS)
            pl_session_end(s, PL_END_GOODBYE, "too many connections from one address");
        else
            pl_session_stream_error(s, "policy-violation",
                                    "too many connections from your address");
        return;
    }
    if (s->port_kind == PL_LISTEN_C2S_TLS) {
        pthread_mutex_lock(&s->server->tls_lock);
        s->tls = pl_tls_new(s->server->tls);
        pthread_mutex_unlock(&s->server->tls_lock);
        s->state = PL_ST_TLS_HANDSHAKE;
    }
    /* Unauthenticated streams get auth_timeout to finish logging in. */
    uv_timer_start(&s->timer, on_timer, (uint64_t)s->server->limits.auth_timeout_ms, 0);
    uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
}

void pl_session_accept(pl_session_t *s, uv_stream_t *server_handle)
{
    session_link(s);
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
    session_start(s);
}

int pl_session_open_fd(pl_session_t *s, int fd, const char *peer)
{
    session_link(s);
    snprintf(s->ip, sizeof(s->ip), "%s", peer);
    int rc = uv_tcp_open(&s->tcp, fd);
    if (rc != 0) {
        pl_session_end(s, PL_END_BROKEN, "cannot open the socket");
        return rc;
    }
    session_start(s);
    return 0;
}

void pl_session_deliver(pl_session_t *s, const pl_stanza_t *st)
{
    if (s->moved_to) {
        /* Resumed by another session: it owns the stream now. */
        pl_session_send_stanza(s->moved_to, st);
        return;
    }
    if (s->resuming) {
        pl_sm_early(s, st);
        return;
    }
    if (pl_sm_detached(s)) {
        /* Kept for the resumption, within the same bounds as while
         * connected; past them the session ends and what it held goes to
         * the account's bare JID (other clients, or the offline store). */
        if (pl_sm_track(s, st) != 0)
            pl_sm_end_detached(s, "queue full");
        return;
    }
    if (s->closing || uv_is_closing((uv_handle_t *)&s->tcp)) {
        /* It ended after the router chose it (another loop's stanza was
         * already on its way): a message is not lost with it. */
        pl_session_undeliverable(s, st);
        return;
    }
    if (s->csi_inactive && pl_csi_hold(s, st))
        return;
    pl_session_send(s, st);
}

int pl_session_rate_ok(pl_session_t *s)
{
    const pl_limits_conf_t *l = &s->server->limits;
    uint64_t now = pl_mono_ms();
    s->tokens += (double)(now - s->tokens_at_ms) * (double)l->stanza_rate / 1000.0;
    if (s->tokens > (double)l->stanza_burst)
        s->tokens = (double)l->stanza_burst;
    s->tokens_at_ms = now;
    s->tokens -= 1.0;
    return s->tokens >= 0.0;
}

/* ---- accessors for modules (server.h) ---- */
const pl_jid_t *pl_session_jid(const pl_session_t *s)
{
    return &s->jid;
}
pl_host_t *pl_session_host(const pl_session_t *s)
{
    return s->host;
}
const char *pl_session_ip(const pl_session_t *s)
{
    return s->ip;
}
int pl_session_is_available(const pl_session_t *s)
{
    return s->available;
}
unsigned long long pl_session_id(const pl_session_t *s)
{
    return (unsigned long long)s->id;
}

int pl_server_write(pl_server_t *srv, int (*run)(pl_wtxn_t *txn, void *ud),
                    void (*done)(void *ud, int status), void *ud)
{
    (void)srv;
    if (!pl_current_loop || !pl_current_loop->storage_port)
        return -EINVAL;
    return pl_storage_write(pl_current_loop->storage_port, run, done, ud);
}

void pl_session_send_stanza(pl_session_t *s, const pl_stanza_t *st)
{
    if (s->loop == pl_current_loop)
        pl_session_deliver(s, st);
    else
        pl_loop_post(s->loop, s, st);
}

void pl_session_kick(pl_session_t *s, const char *condition, const char *text)
{
    if (s->loop == pl_current_loop)
        pl_session_stream_error(s, condition, text);
    else
        pl_loop_post_close(s->loop, s, condition, text);
}
