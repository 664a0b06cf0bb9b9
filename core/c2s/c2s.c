/* c2s.c — the client stream kind (RFC 6120, pl_c2s_ops): stream header
 * checks, features, STARTTLS, resource binding, then every stanza from the
 * client is checked, stamped with the session's full JID and handed to the
 * router.  Also the idle ping, delivery to the client (through stream
 * management and CSI), and the close path.  What only clients have lives
 * in pl_c2s_t beside the session (c2s-private.h). */
#include <stdlib.h>
#include <string.h>

#include "core/c2s/c2s-private.h"
#include "lib/util.h"

static void send_features(pl_session_t *s)
{
    pl_buf_t b;
    pl_buf_init(&b);
    pl_buf_puts(&b, "<stream:features>");
    /* What needs TLS asks whether the transport is secure, not how: TLS
     * established on this connection sets it, and so will a transport
     * secured below the stream (WebSocket over HTTPS). */
    if (!s->secure) {
        pl_buf_puts(&b, "<starttls xmlns='" PL_NS_TLS "'><required/></starttls>");
    } else if (!s->authenticated) {
        pl_c2s_sasl_features(s, &b);
    } else {
        pl_buf_puts(&b, "<bind xmlns='" PL_NS_BIND "'/>"
                        "<session xmlns='" PL_NS_SESSION "'><optional/></session>"
                        "<sm xmlns='" PL_NS_SM "'/><csi xmlns='" PL_NS_CSI "'/>");
        for (size_t m = 0; m < s->host->nmods; m++)
            for (const char *const *f = s->host->mods[m].desc->stream_features; f && *f; f++)
                pl_buf_puts(&b, *f);
    }
    pl_buf_puts(&b, "</stream:features>");
    pl_session_send_raw(s, b.data, b.len);
    pl_buf_deinit(&b);
}

static void c2s_stream_open(pl_session_t *s, const pl_stream_header_t *h)
{
    pl_server_t *srv = s->server;
    pl_host_t *host = h->to ? pl_server_host(srv, h->to) : NULL;
    /* Answer with our own header first so any error is well-formed. */
    pl_random_id(s->stream_id, 16);
    if (strcmp(h->name, "stream") != 0 || strcmp(h->ns, PL_NS_STREAMS) != 0) {
        pl_session_stream_error(s, "invalid-namespace", "expected a stream:stream element");
        return;
    }
    if (strcmp(h->content_ns, PL_NS_CLIENT) != 0) {
        pl_session_stream_error(s, "invalid-namespace", "client streams use jabber:client");
        return;
    }
    if (!host) {
        pl_session_open_stream(s, NULL);
        pl_session_stream_error(s, "host-unknown", "this server does not serve that domain");
        return;
    }
    if (s->host && s->host != host) {
        pl_session_stream_error(s, "host-unknown", "the domain changed on stream restart");
        return;
    }
    s->host = host;
    pl_session_open_stream(s, host->name);
    if (!h->version || strncmp(h->version, "1.", 2) != 0) {
        pl_session_stream_error(s, "unsupported-version", "version 1.0 is required");
        return;
    }
    pl_c2s(s)->state = PL_ST_FEATURES;
    send_features(s);
}

/* TLS is up (the session already expects a new stream header). */
static void c2s_secured(pl_session_t *s)
{
    pl_c2s(s)->state = PL_ST_WAIT_STREAM;
}

static void send_stanza_error(pl_session_t *s, const pl_stanza_t *st, pl_stanza_err_t cond,
                              const char *text)
{
    pl_stanza_t *err = pl_stanza_error(st, cond, text);
    pl_session_send(s, err);
    pl_stanza_unref(&err);
}

/* Binds `resource` (normalised) to the authenticated session: the full JID
 * enters the session table, a session already holding it is replaced with
 * a conflict stream error.  0, or -1 with *err set. */
int pl_c2s_bind(pl_session_t *s, const char *resource, pl_stanza_err_t *err, const char **text)
{
    pl_server_t *srv = s->server;
    if ((long long)pl_sessions_count_bare(srv, s->jid.bare) >=
        pl_server_limits(srv)->max_sessions_per_account) {
        *err = PL_ERR_RESOURCE_CONSTRAINT;
        *text = "too many sessions for this account";
        return -1;
    }
    pl_jid_t full;
    if (pl_jid_from_parts(&full, s->jid.local, s->jid.domain, resource) != 0) {
        *err = PL_ERR_BAD_REQUEST;
        *text = "invalid resource";
        return -1;
    }
    pl_jid_deinit(&s->jid);
    s->jid = full;
    s->bound = 1;
    pl_session_t *old = pl_sessions_add(srv, s);
    if (old) {
        pl_log(&srv->log, PL_LOG_INFO, "c2s.conflict", "jid=%s old_session=%llu new_session=%llu",
               s->jid.full, (unsigned long long)old->id, (unsigned long long)s->id);
        if (old->loop == s->loop)
            pl_session_stream_error(old, "conflict", "replaced by a new connection");
        else
            pl_loop_post_close(old->loop, old, "conflict", "replaced by a new connection");
        pl_session_unref(&old);
    }
    s->mod_state = s->host->session_state_size ? pl_xcalloc(1, s->host->session_state_size) : NULL;
    pl_c2s(s)->state = PL_ST_ACTIVE;
    return 0;
}

/* After the client was told its JID: the log, the idle timer, the hooks. */
void pl_c2s_bound(pl_session_t *s)
{
    pl_server_t *srv = s->server;
    pl_tls_t *tls = pl_session_tls(s);
    pl_log(&srv->log, PL_LOG_INFO, "c2s.bind", "session=%llu jid=%s ip=%s tls=%s loop=%u",
           (unsigned long long)s->id, s->jid.full, s->ip, tls ? pl_tls_version(tls) : "none",
           s->loop->index);
    /* From now on the timer watches for idleness instead of login time. */
    pl_c2s_timer(s);
    pl_hooks_session_event(s->host, PL_EV_SESSION_BOUND, s);
}

char *pl_c2s_random_resource(const char *prefix)
{
    size_t plen = strlen(prefix);
    char *resource = pl_xmalloc(plen + 14);
    memcpy(resource, prefix, plen);
    pl_random_id(resource + plen, 12);
    return resource;
}

/* Resource binding (RFC 6120 §7).  A client-chosen resource that is in use
 * replaces the old session, which gets a conflict stream error. */
static void handle_bind(pl_session_t *s, const pl_stanza_t *st, const pl_xml_t *bind)
{
    pl_buf_t res;
    pl_buf_init(&res);
    char *resource = NULL;
    if (pl_xml_child_text(bind, "resource", PL_NS_BIND, &res) && res.len > 0) {
        resource = pl_jid_norm_resource(res.data, res.len);
        if (!resource) {
            pl_buf_deinit(&res);
            send_stanza_error(s, st, PL_ERR_BAD_REQUEST, "invalid resource");
            return;
        }
    } else {
        resource = pl_c2s_random_resource("parley-");
    }
    pl_buf_deinit(&res);
    pl_stanza_err_t err;
    const char *text;
    int rc = pl_c2s_bind(s, resource, &err, &text);
    free(resource);
    if (rc != 0) {
        send_stanza_error(s, st, err, text);
        return;
    }
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    const char *id = pl_stanza_attr(st, "id");
    if (id)
        pl_build_attr(b, "id", id);
    pl_build_child(b, "bind", PL_NS_BIND);
    pl_build_text_child(b, "jid", PL_NS_BIND, s->jid.full);
    pl_stanza_t *reply = pl_build_finish(b);
    pl_session_send(s, reply);
    pl_stanza_unref(&reply);
    pl_c2s_bound(s);
}

static void handle_pre_bind(pl_session_t *s, const pl_stanza_t *st)
{
    const pl_xml_t *root = pl_stanza_root(st);
    const char *type = pl_xml_attr(root, "type");
    if (strcmp(root->name, "iq") != 0 || strcmp(root->ns, PL_NS_CLIENT) != 0) {
        pl_session_stream_error(s, "not-authorized", "bind a resource first");
        return;
    }
    const pl_xml_t *payload = pl_xml_first_element(root);
    if (type && strcmp(type, "set") == 0 && payload && strcmp(payload->name, "bind") == 0 &&
        strcmp(payload->ns, PL_NS_BIND) == 0) {
        handle_bind(s, st, payload);
        return;
    }
    send_stanza_error(s, st, PL_ERR_NOT_AUTHORIZED, "bind a resource first");
}

/* Checks the 'from' a client wrote (RFC 6120 §8.1.2.1): absent, or its own
 * full or bare JID. */
static int from_ok(pl_session_t *s, const char *from)
{
    if (!from)
        return 1;
    pl_jid_t j;
    if (pl_jid_parse(&j, from) != 0)
        return 0;
    int ok = strcmp(j.full, s->jid.full) == 0 || strcmp(j.full, s->jid.bare) == 0;
    pl_jid_deinit(&j);
    return ok;
}

/* Our ping is out and the peer sent nothing since: any bytes (a stanza,
 * a whitespace keepalive) show it is still there. */
static int ping_unanswered(const pl_session_t *s)
{
    const pl_c2s_t *c = pl_c2s(s);
    return c->ping_sent && s->rx_bytes == c->ping_rx_bytes;
}

static int handle_iq_response_to_server(pl_session_t *s, const pl_stanza_t *st, const char *type)
{
    /* Results and errors addressed to the server answer our pings (others
     * go on to the router, which matches them to pl_server_send_iq_take). */
    if (strcmp(type, "result") != 0 && strcmp(type, "error") != 0)
        return 0;
    const char *id = pl_stanza_attr(st, "id");
    pl_c2s_t *c = pl_c2s(s);
    if (ping_unanswered(s) && id && strcmp(id, c->ping_id) == 0) {
        c->ping_sent = 0;
        return 1;
    }
    return 0;
}

static void handle_active(pl_session_t *s, pl_stanza_t *st)
{
    pl_server_t *srv = s->server;
    const pl_xml_t *root = pl_stanza_root(st);
    pl_sm_count_in(s);
    if (strcmp(root->ns, PL_NS_CLIENT) != 0 ||
        (strcmp(root->name, "message") != 0 && strcmp(root->name, "presence") != 0 &&
         strcmp(root->name, "iq") != 0)) {
        pl_session_stream_error(s, "unsupported-stanza-type", NULL);
        return;
    }
    if (!from_ok(s, pl_xml_attr(root, "from"))) {
        pl_session_stream_error(s, "invalid-from", "'from' does not match your address");
        return;
    }
    const char *type = pl_xml_attr(root, "type");
    int is_iq = strcmp(root->name, "iq") == 0;
    if (is_iq) {
        const pl_xml_t *payload = pl_xml_first_element(root);
        int reqresp = type && (!strcmp(type, "get") || !strcmp(type, "set"));
        if (!pl_xml_attr(root, "id") || !type ||
            (!reqresp && strcmp(type, "result") != 0 && strcmp(type, "error") != 0) ||
            (reqresp && (!payload || pl_xml_next(payload, NULL, NULL)))) {
            send_stanza_error(s, st, PL_ERR_BAD_REQUEST, "malformed IQ");
            return;
        }
    }
    const char *to_s = pl_xml_attr(root, "to");
    pl_jid_t to;
    if (to_s) {
        if (pl_jid_parse(&to, to_s) != 0) {
            send_stanza_error(s, st, PL_ERR_JID_MALFORMED, "invalid 'to' address");
            return;
        }
    } else if (pl_jid_from_parts(&to, NULL, s->host->name, NULL) != 0) {
        return;
    }
    if (is_iq && !to.local && !to.resource && strcmp(to.domain, s->host->name) == 0 &&
        handle_iq_response_to_server(s, st, type)) {
        pl_jid_deinit(&to);
        return;
    }
    if (strcmp(root->name, "presence") == 0 && !to_s) {
        /* Broadcast presence sets this resource's availability (RFC 6121
         * §4.2); what is broadcast to whom is the presence module's job. */
        int available = !type || strcmp(type, "unavailable") != 0;
        if (!type || !strcmp(type, "unavailable")) {
            pl_buf_t pr;
            pl_buf_init(&pr);
            long prio = 0;
            if (pl_xml_child_text(root, "priority", PL_NS_CLIENT, &pr))
                prio = strtol(pl_buf_cstr(&pr), NULL, 10);
            pl_buf_deinit(&pr);
            if (prio < -128)
                prio = -128;
            if (prio > 127)
                prio = 127;
            pl_stanza_t *kept = pl_stanza_readdress(st, s->jid.full, NULL);
            pl_sessions_set_presence(srv, s, available, (int)prio, available ? kept : NULL);
            pl_stanza_unref(&kept);
        }
    }
    pl_stanza_t *stamped = pl_stanza_readdress(st, s->jid.full, PL_KEEP);
    pl_router_route(srv, stamped, &s->jid, &to, s);
    pl_stanza_unref(&stamped);
    pl_jid_deinit(&to);
}

/* An <a/> answering the <r/> we sent is free: the server asked for it, at
 * most one per request.  Everything else a logged-in client sends,
 * stanza or nonza (<r/>, unsolicited <a/>, <enable/>, CSI), costs a token. */
static int costs_a_token(const pl_session_t *s, const pl_xml_t *root)
{
    return !(strcmp(root->ns, PL_NS_SM) == 0 && strcmp(root->name, "a") == 0 &&
             pl_sm_ack_expected(s));
}

static void c2s_stanza(pl_session_t *s, pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    const pl_xml_t *root = pl_stanza_root(st);
    if (s->authenticated && costs_a_token(s, root) && !pl_session_rate_ok(s)) {
        pl_log(&s->server->log, PL_LOG_WARN, "limits.stanza_rate", "session=%llu jid=%s ip=%s",
               (unsigned long long)s->id, s->jid.full ? s->jid.full : s->jid.bare, s->ip);
        pl_session_stream_error(s, "policy-violation", "stanza rate exceeded");
        return;
    }
    if (s->authenticated && strcmp(root->ns, PL_NS_SM) == 0) {
        pl_sm_nonza(s, st);
        return;
    }
    if (c->state == PL_ST_ACTIVE && strcmp(root->ns, PL_NS_CSI) == 0) {
        pl_csi_nonza(s, st);
        return;
    }
    if (c->resuming) {
        pl_session_stream_error(s, "not-authorized", "wait for <resumed/>");
        return;
    }
    switch (c->state) {
    case PL_ST_FEATURES:
    case PL_ST_SASL:
    case PL_ST_AUTH_PENDING:
        if (!s->secure) {
            if (strcmp(root->name, "starttls") == 0 && strcmp(root->ns, PL_NS_TLS) == 0) {
                pl_session_send_str(s, "<proceed xmlns='" PL_NS_TLS "'/>");
                pl_session_start_tls(s);
                c->state = PL_ST_TLS_HANDSHAKE;
            } else if (strcmp(root->ns, PL_NS_SASL) == 0 || strcmp(root->ns, PL_NS_SASL2) == 0) {
                pl_session_send_str(s, "<failure xmlns='" PL_NS_SASL "'><encryption-required/></failure>");
                pl_session_stream_error(s, "policy-violation", "STARTTLS is required");
            } else {
                pl_session_stream_error(s, "not-authorized", "STARTTLS is required");
            }
            return;
        }
        if (!s->authenticated) {
            if ((strcmp(root->ns, PL_NS_SASL) != 0 && strcmp(root->ns, PL_NS_SASL2) != 0) ||
                c->state == PL_ST_AUTH_PENDING) {
                pl_session_stream_error(s, "not-authorized", "authenticate first");
                return;
            }
            pl_c2s_sasl_stanza(s, st);
            return;
        }
        handle_pre_bind(s, st);
        return;
    case PL_ST_ACTIVE:
        handle_active(s, st);
        return;
    default:
        pl_session_stream_error(s, "not-authorized", NULL);
        return;
    }
}

/* Until the resource is bound the timer is the login time; then it
 * watches for idleness: a client silent for idle_timeout is pinged, and
 * one that does not answer within ping_timeout is gone. */
void pl_c2s_timer(pl_session_t *s)
{
    pl_server_t *srv = s->server;
    pl_c2s_t *c = pl_c2s(s);
    if (s->closing)
        return;
    if (c->state != PL_ST_ACTIVE) {
        pl_log(&srv->log, PL_LOG_INFO, "limits.auth_timeout", "session=%llu ip=%s",
               (unsigned long long)s->id, s->ip);
        pl_session_stream_error(s, "connection-timeout", "login took too long");
        return;
    }
    uint64_t now = pl_mono_ms();
    uint64_t idle = now - s->last_rx_ms;
    uint64_t idle_limit = (uint64_t)pl_server_limits(srv)->idle_timeout_ms;
    if (ping_unanswered(s)) {
        pl_log(&srv->log, PL_LOG_INFO, "c2s.ping_timeout", "session=%llu jid=%s",
               (unsigned long long)s->id, s->jid.full);
        /* The peer is gone, not misbehaving: a resumable session waits. */
        c->lost = 1;
        pl_session_stream_error(s, "connection-timeout", "no answer to ping");
        return;
    }
    c->ping_sent = 0;
    if (idle >= idle_limit) {
        /* XEP-0199: ask the client whether it is still there. */
        pl_random_id(c->ping_id, 12);
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", "get");
        pl_build_attr(b, "id", c->ping_id);
        pl_build_attr(b, "from", s->host->name);
        pl_build_attr(b, "to", s->jid.full);
        pl_build_child(b, "ping", PL_NS_PING);
        pl_stanza_t *ping = pl_build_finish(b);
        pl_session_send(s, ping); /* a stanza like any other for SM's counts */
        pl_stanza_unref(&ping);
        c->ping_sent = 1;
        c->ping_rx_bytes = s->rx_bytes;
        pl_session_timer_start(s, (uint64_t)pl_server_limits(srv)->ping_timeout_ms);
        return;
    }
    pl_session_timer_start(s, idle_limit - idle);
}

static void c2s_closed(pl_session_t *s, pl_end_how_t how)
{
    pl_server_t *srv = s->server;
    pl_c2s_t *c = pl_c2s(s);
    if (how != PL_END_GOODBYE)
        c->lost = 1; /* not the peer's choice: stream management may keep the session */
    c->state = PL_ST_CLOSING;
    if (pl_sm_detach(s)) {
        pl_csi_end(s); /* held presences join the queue kept for the client */
        return;        /* kept in the table for a resumption */
    }
    if (s->in_table) {
        pl_sessions_remove(srv, s);
        pl_hooks_session_event(s->host, PL_EV_SESSION_CLOSED, s);
        pl_log(&srv->log, PL_LOG_INFO, "c2s.unbind", "session=%llu jid=%s",
               (unsigned long long)s->id, s->jid.full);
    }
    if (c->sm)
        pl_sm_end(s);
}

/* A routed stanza for the client: to the session that resumed this one,
 * held during a handover, queued for a detached session, handed on when
 * the session ended, held back by CSI, or sent. */
static void c2s_deliver(pl_session_t *s, const pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    if (c->moved_to) {
        /* Resumed by another session: it owns the stream now. */
        pl_session_send_stanza(c->moved_to, st);
        return;
    }
    if (c->resuming) {
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
    if (pl_session_ended(s)) {
        /* It ended after the router chose it (another loop's stanza was
         * already on its way): a message is not lost with it. */
        pl_session_undeliverable(s, st);
        return;
    }
    if (c->csi_inactive && pl_csi_hold(s, st))
        return;
    pl_session_send(s, st);
}

static void c2s_sending(pl_session_t *s, const pl_stanza_t *st)
{
    if (pl_c2s(s)->sm)
        pl_sm_track(s, st);
}

static void c2s_before_flush(pl_session_t *s)
{
    if (pl_c2s(s)->sm)
        pl_sm_before_flush(s);
}

static void c2s_held(const pl_session_t *s, pl_session_held_t *h)
{
    const pl_c2s_t *c = pl_c2s(s);
    pl_sm_queued(s, &h->unacked, &h->unacked_bytes);
    h->held = c->csi_nheld;
    h->held_bytes = c->csi_bytes;
    h->early = c->nearly;
}

static void c2s_open(pl_session_t *s)
{
    s->stream = pl_xcalloc(1, sizeof(pl_c2s_t));
}

static void c2s_free(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_sm_release(s);
    pl_c2s_sasl2_free(s);
    pl_csi_release(s);
    pl_session_unref(&c->moved_to);
    pl_scram_server_deinit(&c->scram);
    free(c);
    s->stream = NULL;
}

const pl_stream_ops_t pl_c2s_ops = {
    .name = "c2s",
    .content_ns = PL_NS_CLIENT,
    .header_version = 1,
    .open = c2s_open,
    .stream_open = c2s_stream_open,
    .stanza = c2s_stanza,
    .secured = c2s_secured,
    .timer = pl_c2s_timer,
    .deliver = c2s_deliver,
    .sending = c2s_sending,
    .before_flush = c2s_before_flush,
    .closed = c2s_closed,
    .held = c2s_held,
    .free = c2s_free,
};
