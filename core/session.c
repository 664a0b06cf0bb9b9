/* session.c — the machinery under every stream: the XML parser fed with
 * what the transport reads, output queued and written once per loop
 * iteration, the output bound, stream errors, the one close path, the
 * session's timer and its place on the loop.  What the stream means is its
 * kind's (s->ops: core/c2s/ for clients, component.c), how bytes reach the
 * peer its transport's (s->transport: tcp.c); this file calls both only
 * through their tables and knows none of them by name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "lib/util.h"
#include "storage/storage.h"

#define PL_CLOSE_GRACE_MS 5000

static void on_timer(uv_timer_t *t);

static void xml_stream_open(void *ud, const pl_stream_header_t *h)
{
    pl_session_t *s = ud;
    s->ops->stream_open(s, h);
}

static void xml_stanza(void *ud, pl_stanza_t *st)
{
    pl_session_t *s = ud;
    if (s->closing)
        return;
    s->last_rx_ms = pl_mono_ms();
    s->ops->stanza(s, st);
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

pl_session_t *pl_session_new(pl_loop_t *loop, const pl_stream_ops_t *ops, int port_kind)
{
    pl_server_t *srv = loop->server;
    pl_session_t *s = pl_xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->id = atomic_fetch_add(&srv->next_session_id, 1) + 1;
    s->ops = ops;
    s->loop = loop;
    s->server = srv;
    s->port_kind = port_kind;
    pl_buf_init(&s->out);
    pl_xml_limits_t lim = {
        .max_stanza_bytes = (size_t)pl_server_limits(srv)->max_stanza_bytes,
        .max_depth = (unsigned)pl_server_limits(srv)->max_depth,
        .max_attrs = (unsigned)pl_server_limits(srv)->max_attrs,
        .max_name_len = (unsigned)pl_server_limits(srv)->max_name_len,
    };
    s->xml = pl_xml_parser_new(&lim, &xml_callbacks, s);
    s->tokens = (double)pl_server_limits(srv)->stanza_burst;
    s->tokens_at_ms = pl_mono_ms();
    s->last_rx_ms = s->tokens_at_ms;
    pl_random_id(s->stream_id, 16);
    if (ops->open)
        ops->open(s);
    return s;
}

pl_session_t *pl_session_ref(pl_session_t *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

static void session_free(pl_session_t **sp)
{
    pl_session_t *s = *sp;
    *sp = NULL;
    pl_xml_parser_free(&s->xml);
    if (s->transport && s->transport->free)
        s->transport->free(s);
    pl_buf_deinit(&s->out);
    pl_jid_deinit(&s->jid);
    pl_stanza_unref(&s->presence);
    if (s->ops->free)
        s->ops->free(s);
    free(s->mod_state);
    free(s);
}

void pl_session_unref(pl_session_t **sp)
{
    pl_session_t *s = *sp;
    *sp = NULL;
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        session_free(&s);
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
    if (s->ops->before_flush)
        s->ops->before_flush(s);
    s->transport->write(s, s->out.data, s->out.len);
    pl_buf_reset(&s->out);
}

size_t pl_stanza_out_size(const pl_stanza_t *st)
{
    size_t len = 0;
    pl_stanza_bytes(st, &len); /* serialised once and cached: delivery needs it anyway */
    return len;
}

/* Bytes the session holds for its peer: queued this iteration, plus
 * handed to the transport and not yet written (for TCP: not yet taken by
 * the kernel). */
size_t pl_session_backlog(const pl_session_t *s)
{
    return s->out.len + s->write_pending;
}

/* One element (or a piece of the transport's own framing) into this
 * iteration's output, framed by the transport. */
static void queue(pl_session_t *s, const char *data, size_t len)
{
    if (s->transport->frame)
        s->transport->frame(s, &s->out, data, len);
    else
        pl_buf_append(&s->out, data, len);
}

void pl_session_send_raw(pl_session_t *s, const char *data, size_t len)
{
    if (s->slow || s->disconnected)
        return;
    /* The bound holds before the bytes are taken, not after a flush: a
     * peer that stops reading never makes the server hold more than
     * max_output_bytes for it. */
    if (pl_session_backlog(s) + len > (size_t)pl_server_limits(s->server)->max_output_bytes) {
        pl_log(&s->server->log, PL_LOG_WARN, "limits.output",
               "session=%llu ip=%s jid=%s pending=%zu", (unsigned long long)s->id, s->ip,
               s->jid.full ? s->jid.full : "-", pl_session_backlog(s));
        s->slow = 1;
        pl_loop_mark_dirty(s);
        return;
    }
    queue(s, data, len);
    pl_loop_mark_dirty(s);
}

void pl_session_send_str(pl_session_t *s, const char *text)
{
    pl_session_send_raw(s, text, strlen(text));
}

void pl_session_append(pl_session_t *s, const char *data, size_t len)
{
    queue(s, data, len);
}

void pl_session_send(pl_session_t *s, const pl_stanza_t *st)
{
    if (s->ops->sending)
        s->ops->sending(s, st);
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
    if (!s->transport->start_tls) {
        /* Not offered on such a transport (it is secure from the start):
         * a kind asking anyway is a bug, and the stream cannot go on. */
        pl_session_end(s, PL_END_BROKEN, "TLS cannot start on this transport");
        return;
    }
    s->transport->start_tls(s);
}

pl_tls_t *pl_session_tls(const pl_session_t *s)
{
    return s->transport && s->transport->tls ? s->transport->tls(s) : NULL;
}

void pl_session_restart_stream(pl_session_t *s)
{
    pl_xml_parser_reset(s->xml);
}

void pl_session_open_stream(pl_session_t *s, const char *from)
{
    pl_stream_open_t o = {
        .content_ns = s->ops->content_ns,
        .id = s->stream_id,
        .from = from,
        .version = s->ops->header_version,
    };
    pl_buf_t b;
    pl_buf_init(&b);
    s->transport->open_stream(s, &o, &b);
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
 * its kind's `closed` op (c2s: leave the session table and tell the
 * modules, or stay detached for a resumption; component: free the
 * domain); then the connection closes, once our last bytes are written when
 * they still can be. */
void pl_session_end(pl_session_t *s, pl_end_how_t how, const char *reason)
{
    if (s->closing) {
        /* Already ending, waiting for its last bytes: a peer that does not
         * read them, or a socket that broke, ends the wait. */
        if (how == PL_END_SLOW || how == PL_END_BROKEN)
            pl_session_disconnect(s);
        return;
    }
    /* Closing from here on: a write that fails while the last bytes are
     * flushed (the peer reset the connection) must not end it again. */
    s->closing = 1;
    if (how == PL_END_SLOW || how == PL_END_BROKEN) {
        pl_buf_deinit(&s->out); /* nothing more can or should reach the peer */
    } else {
        if (s->stream_open && !s->disconnected) {
            pl_buf_t b;
            pl_buf_init(&b);
            s->transport->close_stream(s, &b);
            pl_session_send_raw(s, b.data, b.len);
            pl_buf_deinit(&b);
        }
        pl_session_flush(s);
        if (s->transport->shutdown)
            s->transport->shutdown(s);
    }
    pl_xml_parser_stop(s->xml);
    s->ops->closed(s, how);
    pl_log(&s->server->log, how == PL_END_GOODBYE ? PL_LOG_DEBUG : PL_LOG_INFO, "session.end",
           "session=%llu ip=%s jid=%s how=%s reason=%s", (unsigned long long)s->id, s->ip,
           s->jid.full ? s->jid.full : "-", end_name(how), reason ? reason : "-");
    if (how == PL_END_SLOW || s->write_pending == 0)
        pl_session_disconnect(s);
    else
        uv_timer_start(&s->timer, on_timer, PL_CLOSE_GRACE_MS, 0); /* then closes */
}

int pl_session_sleep(pl_session_t *s)
{
    if (s->closing || s->asleep || s->out.len || s->write_pending)
        return 0;
    if (s->transport->can_sleep && !s->transport->can_sleep(s))
        return 0;
    if (!pl_xml_parser_sleep(s->xml))
        return 0;
    if (s->transport->sleep)
        s->transport->sleep(s);
    pl_buf_deinit(&s->out);
    s->asleep = 1;
    return 1;
}

void pl_session_received(pl_session_t *s, size_t n)
{
    s->last_rx_ms = pl_mono_ms();
    s->rx_bytes += n;
    s->asleep = 0; /* the parser wakes itself on the bytes that follow */
}

void pl_session_input(pl_session_t *s, const char *data, size_t len)
{
    if (len == 0 || s->closing)
        return;
    if (s->traced)
        pl_log(&s->server->log, PL_LOG_TRACE, "stanza.in", "session=%llu bytes=%zu data=%.*s",
               (unsigned long long)s->id, len, (int)(len > 2000 ? 2000 : len), data);
    pl_xml_parser_feed(s->xml, data, len);
}

void pl_session_secured(pl_session_t *s)
{
    s->secure = 1;
    /* RFC 6120 §5.4.3.3: a new stream starts over TLS, and nothing sent
     * before the handshake counts. */
    pl_xml_parser_reset(s->xml);
    if (s->ops->secured)
        s->ops->secured(s);
}

static void on_timer(uv_timer_t *t)
{
    pl_session_t *s = t->data;
    if (s->closing) {
        pl_session_disconnect(s); /* the grace for the last bytes is over */
        return;
    }
    if (s->ops->timer)
        s->ops->timer(s);
}

void pl_session_timer_start(pl_session_t *s, uint64_t ms)
{
    uv_timer_start(&s->timer, on_timer, ms, 0);
}

void pl_session_timer_stop(pl_session_t *s)
{
    uv_timer_stop(&s->timer);
}

void pl_session_timer_fire(pl_session_t *s)
{
    if (!s->closing && s->ops->timer)
        s->ops->timer(s);
}

void pl_session_attach(pl_session_t *s, const pl_transport_ops_t *transport)
{
    pl_loop_t *loop = s->loop;
    s->transport = transport;
    uv_timer_init(&loop->uv, &s->timer);
    s->timer.data = s;
    s->handles_open = 2; /* the timer and the transport's connection */
    atomic_fetch_add(&s->server->session_count, 1);
    s->loop_next = loop->sessions;
    if (loop->sessions)
        loop->sessions->loop_prev = s;
    loop->sessions = s;
}

void pl_session_start(pl_session_t *s)
{
    /* Unauthenticated streams get auth_timeout to finish logging in (the
     * kind's timer op says what happens then). */
    pl_session_timer_start(s, (uint64_t)pl_server_limits(s->server)->auth_timeout_ms);
}

/* One of the session's two handles (its timer, its connection) closed;
 * with both, it leaves the loop and the loop's reference goes. */
static void handle_closed(pl_session_t *s)
{
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

static void on_timer_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

void pl_session_transport_closed(pl_session_t *s)
{
    handle_closed(s);
}

void pl_session_disconnect(pl_session_t *s)
{
    if (s->disconnected)
        return;
    s->disconnected = 1;
    s->transport->close(s);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

int pl_session_ended(const pl_session_t *s)
{
    return s->closing || s->disconnected;
}

void pl_session_deliver(pl_session_t *s, const pl_stanza_t *st)
{
    if (s->ops->deliver)
        s->ops->deliver(s, st);
    else
        pl_session_deliver_now(s, st);
}

void pl_session_deliver_now(pl_session_t *s, const pl_stanza_t *st)
{
    if (pl_session_ended(s)) {
        /* It ended after the router chose it (another loop's stanza was
         * already on its way): a message is not lost with it. */
        pl_session_undeliverable(s, st);
        return;
    }
    pl_session_send(s, st);
}

void pl_session_undeliverable(pl_session_t *s, const pl_stanza_t *st)
{
    /* Only for a session that left the table: routing again to its bare
     * JID cannot come back to it. */
    if (s->in_table || !s->jid.bare || !s->host)
        return;
    if (pl_router_reroute(s->server, s, st, (uint64_t)time(NULL) * 1000) == 0)
        pl_log(&s->server->log, PL_LOG_INFO, "session.rerouted", "session=%llu jid=%s",
               (unsigned long long)s->id, s->jid.full ? s->jid.full : s->jid.bare);
}

void pl_session_held(const pl_session_t *s, pl_session_held_t *h)
{
    *h = (pl_session_held_t){0};
    if (s->ops->held)
        s->ops->held(s, h);
}

int pl_session_rate_ok(pl_session_t *s)
{
    const pl_limits_conf_t *l = pl_server_limits(s->server);
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
