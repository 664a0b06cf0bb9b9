/* harness-client.c — libstrophe clients for the integration tests: connect
 * (STARTTLS, direct TLS or XEP-0114), run the shared loop until a condition
 * holds, keep every received stanza in an inbox, and pick stanzas out of it
 * by what they look like.  Server pings are answered unless told not to. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/integration/harness.h"

xmpp_ctx_t *h_ctx_new(void)
{
    const char *dbg = getenv("H_DEBUG");
    return xmpp_ctx_new(NULL,
                        dbg && *dbg == '1' ? xmpp_get_default_logger(XMPP_LEVEL_DEBUG) : NULL);
}

void h_ctx_free(xmpp_ctx_t *ctx)
{
    xmpp_ctx_free(ctx);
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
                    void *ud)
{
    h_client_t *c = ud;
    (void)conn, (void)error;
    if (ev == XMPP_CONN_CONNECT) {
        c->connected = 1;
    } else if (ev == XMPP_CONN_DISCONNECT || ev == XMPP_CONN_FAIL) {
        c->connected = 0;
        c->disconnected = 1;
        if (se)
            c->stream_error = (int)se->type;
    }
}

static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    h_client_t *c = ud;
    const char *type = xmpp_stanza_get_type(st);
    if (strcmp(xmpp_stanza_get_name(st), "iq") == 0 && type && strcmp(type, "get") == 0 &&
        xmpp_stanza_get_child_by_name_and_ns(st, "ping", "urn:xmpp:ping")) {
        c->pings++;
        if (!c->ignore_pings) {
            const char *from = xmpp_stanza_get_from(st);
            h_send(c, "<iq type='result' id='%s' to='%s'/>", xmpp_stanza_get_id(st),
                   from ? from : "");
        }
    }
    if (c->ninbox == c->capinbox) {
        c->capinbox = c->capinbox ? 2 * c->capinbox : 16;
        c->inbox = realloc(c->inbox, c->capinbox * sizeof(*c->inbox));
    }
    c->inbox[c->ninbox++] = xmpp_stanza_clone(st);
    (void)conn;
    return 1;
}

/* Without TCP_NODELAY two small stanzas in a row wait for a delayed ACK
 * (~40 ms) on loopback. */
static int set_nodelay(xmpp_conn_t *conn, void *sock)
{
    int one = 1;
    (void)conn;
    return setsockopt(*(int *)sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int conn_failed(void *ud)
{
    return *(int *)ud;
}

static void on_probe(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error, xmpp_stream_error_t *se,
                     void *ud)
{
    (void)conn, (void)ev, (void)error, (void)se;
    *(int *)ud = 1;
}

/* libstrophe 0.12.2 allocates the stream-management state only in
 * xmpp_connect_client(), and a component connection then crashes on its
 * first stanza after the handshake (NULL sm_state).  Borrow one from a
 * client connection that fails at once against a closed port. */
static void give_sm_state(xmpp_ctx_t *ctx, xmpp_conn_t *conn)
{
    xmpp_conn_t *probe = xmpp_conn_new(ctx);
    int done = 0;
    xmpp_conn_set_jid(probe, "probe@example.test");
    if (xmpp_connect_client(probe, "127.0.0.1", (unsigned short)h_free_port(), on_probe, &done) ==
        0)
        h_run_until(ctx, conn_failed, &done, 5000);
    xmpp_sm_state_t *sm = done ? xmpp_conn_get_sm_state(probe) : NULL;
    if (sm && xmpp_conn_set_sm_state(conn, sm) != 0)
        xmpp_free_sm_state(sm);
    xmpp_conn_release(probe);
}

h_client_t *h_client_new(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const char *password,
                         int mode)
{
    h_client_t *c = calloc(1, sizeof(*c));
    c->ctx = ctx;
    c->stream_error = -1;
    c->conn = xmpp_conn_new(ctx);
    xmpp_conn_set_jid(c->conn, jid);
    xmpp_conn_set_pass(c->conn, password);
    xmpp_handler_add(c->conn, on_stanza, NULL, NULL, NULL, c);
    xmpp_conn_set_sockopt_callback(c->conn, set_nodelay);
    int rc;
    if (mode == H_COMPONENT) {
        give_sm_state(ctx, c->conn);
        rc = xmpp_connect_component(c->conn, "127.0.0.1", (unsigned short)srv->comp_port, on_conn,
                                    c);
    } else {
        long flags =
            XMPP_CONN_FLAG_TRUST_TLS | XMPP_CONN_FLAG_DISABLE_SM |
            (mode == H_DIRECT_TLS ? XMPP_CONN_FLAG_LEGACY_SSL : XMPP_CONN_FLAG_MANDATORY_TLS);
        xmpp_conn_set_flags(c->conn, flags);
        rc = xmpp_connect_client(
            c->conn, "127.0.0.1",
            (unsigned short)(mode == H_DIRECT_TLS ? srv->tls_port : srv->c2s_port), on_conn, c);
    }
    if (rc != 0)
        c->disconnected = 1;
    return c;
}

static int client_gone(void *ud)
{
    return ((h_client_t *)ud)->disconnected;
}

void h_client_free(h_client_t *c)
{
    if (!c)
        return;
    if (!c->disconnected) {
        xmpp_disconnect(c->conn);
        h_run_until(c->ctx, client_gone, c, 2000);
    }
    for (size_t i = 0; i < c->ninbox; i++)
        xmpp_stanza_release(c->inbox[i]);
    free(c->inbox);
    xmpp_conn_release(c->conn);
    free(c);
}

int h_run_until(xmpp_ctx_t *ctx, int (*cond)(void *ud), void *ud, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    while (!cond(ud) && h_now_ms() < deadline)
        xmpp_run_once(ctx, 5);
    return cond(ud);
}

static int client_settled(void *ud)
{
    h_client_t *c = ud;
    return c->connected || c->disconnected;
}

int h_client_wait_login(h_client_t *c, int timeout_ms)
{
    h_run_until(c->ctx, client_settled, c, timeout_ms);
    return c->connected;
}

int h_wait_disconnect(h_client_t *c, int timeout_ms)
{
    return h_run_until(c->ctx, client_gone, c, timeout_ms);
}

const char *h_jid(h_client_t *c)
{
    const char *j = c->connected ? xmpp_conn_get_bound_jid(c->conn) : NULL;
    return j ? j : "";
}

h_client_t *h_login(xmpp_ctx_t *ctx, h_server_t *srv, const char *jid, const char *password,
                    int prio)
{
    h_client_t *c = h_client_new(ctx, srv, jid, password, H_STARTTLS);
    if (!CHECK_MSG(h_client_wait_login(c, 15000), "login of %s", jid)) {
        h_client_free(c);
        return NULL;
    }
    if (prio)
        h_send(c, "<presence><priority>%d</priority></presence>", prio);
    else
        h_send(c, "<presence/>");
    /* A round trip makes sure the server has applied the presence before
     * the test goes on (stanzas from one stream are handled in order). */
    xmpp_stanza_t *pong = h_iq(c, "get", NULL, "<ping xmlns='urn:xmpp:ping'/>", 10000);
    CHECK_MSG(pong != NULL, "no answer to ping after login of %s", jid);
    if (pong)
        xmpp_stanza_release(pong);
    return c;
}

void h_send(h_client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n >= 0)
        xmpp_send_raw(c->conn, text, (size_t)n);
    free(text);
}

const char *h_error_condition(xmpp_stanza_t *st)
{
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(st, "error");
    for (xmpp_stanza_t *k = err ? xmpp_stanza_get_children(err) : NULL; k;
         k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "text") != 0)
            return xmpp_stanza_get_name(k);
    return NULL;
}

static xmpp_stanza_t *find_child(xmpp_stanza_t *st, const char *name)
{
    for (xmpp_stanza_t *k = xmpp_stanza_get_children(st); k; k = xmpp_stanza_get_next(k)) {
        if (!xmpp_stanza_is_tag(k))
            continue;
        if (strcmp(xmpp_stanza_get_name(k), name) == 0)
            return k;
        xmpp_stanza_t *deep = find_child(k, name);
        if (deep)
            return deep;
    }
    return NULL;
}

char *h_child_text(xmpp_stanza_t *st, const char *name)
{
    xmpp_stanza_t *k = find_child(st, name);
    char *t = k ? xmpp_stanza_get_text(k) : NULL;
    char *copy = t ? strdup(t) : k ? strdup("") : NULL;
    if (t)
        xmpp_free(xmpp_stanza_get_context(st), t);
    return copy;
}

static int attr_is(xmpp_stanza_t *st, const char *attr, const char *want)
{
    const char *v = xmpp_stanza_get_attribute(st, attr);
    return !want || (v && strcmp(v, want) == 0);
}

int h_matches(xmpp_stanza_t *st, const h_match_t *m)
{
    if (m->name && strcmp(xmpp_stanza_get_name(st), m->name) != 0)
        return 0;
    if (!attr_is(st, "type", m->type) || !attr_is(st, "id", m->id) || !attr_is(st, "from", m->from))
        return 0;
    if (m->body) {
        xmpp_stanza_t *b = xmpp_stanza_get_child_by_name(st, "body");
        char *t = b ? xmpp_stanza_get_text(b) : NULL;
        int same = t && strcmp(t, m->body) == 0;
        if (t)
            xmpp_free(xmpp_stanza_get_context(st), t);
        if (!same)
            return 0;
    }
    if (m->child_ns && !xmpp_stanza_get_child_by_ns(st, m->child_ns))
        return 0;
    if (m->error) {
        const char *cond = h_error_condition(st);
        if (!cond || strcmp(cond, m->error) != 0)
            return 0;
    }
    return 1;
}

static xmpp_stanza_t *take(h_client_t *c, const h_match_t *m)
{
    for (size_t i = 0; i < c->ninbox; i++) {
        if (h_matches(c->inbox[i], m)) {
            xmpp_stanza_t *st = c->inbox[i];
            memmove(c->inbox + i, c->inbox + i + 1, (c->ninbox - i - 1) * sizeof(*c->inbox));
            c->ninbox--;
            return st;
        }
    }
    return NULL;
}

xmpp_stanza_t *h_wait(h_client_t *c, const h_match_t *m, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        xmpp_stanza_t *st = take(c, m);
        if (st || c->disconnected || h_now_ms() >= deadline)
            return st;
        xmpp_run_once(c->ctx, 5);
    }
}

xmpp_stanza_t *h_wait_for(h_client_t *c, int (*fn)(xmpp_stanza_t *st, const void *ud),
                          const void *ud, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        for (size_t i = 0; i < c->ninbox; i++) {
            xmpp_stanza_t *st = c->inbox[i];
            if (fn(st, ud)) {
                memmove(c->inbox + i, c->inbox + i + 1, (c->ninbox - i - 1) * sizeof(*c->inbox));
                c->ninbox--;
                return st;
            }
        }
        if (c->disconnected || h_now_ms() >= deadline)
            return NULL;
        xmpp_run_once(c->ctx, 5);
    }
}

int h_count(h_client_t *c, const h_match_t *m)
{
    int n = 0;
    for (size_t i = 0; i < c->ninbox; i++)
        n += h_matches(c->inbox[i], m);
    return n;
}

void h_run_for(xmpp_ctx_t *ctx, int ms)
{
    long long deadline = h_now_ms() + ms;
    while (h_now_ms() < deadline)
        xmpp_run_once(ctx, 5);
}

void h_settle(h_client_t *c)
{
    h_run_for(c->ctx, 300);
    xmpp_stanza_t *pong = h_iq(c, "get", NULL, "<ping xmlns='urn:xmpp:ping'/>", 5000);
    if (pong)
        xmpp_stanza_release(pong);
}

void h_drain(h_client_t *c)
{
    h_settle(c);
    for (size_t i = 0; i < c->ninbox; i++)
        xmpp_stanza_release(c->inbox[i]);
    c->ninbox = 0;
}

int h_attr_eq(xmpp_stanza_t *st, const char *name, const char *want)
{
    const char *v = st ? xmpp_stanza_get_attribute(st, name) : NULL;
    return want ? v && strcmp(v, want) == 0 : v == NULL;
}

void h_rel(xmpp_stanza_t *st)
{
    if (st)
        xmpp_stanza_release(st);
}

int h_got(xmpp_stanza_t *st)
{
    h_rel(st);
    return st != NULL;
}

int h_error_is(xmpp_stanza_t *st, const char *cond)
{
    const char *c = st ? h_error_condition(st) : NULL;
    int yes = c && strcmp(c, cond) == 0;
    h_rel(st);
    return yes;
}

xmpp_stanza_t *h_iq(h_client_t *c, const char *type, const char *to, const char *payload,
                    int timeout_ms)
{
    char id[24];
    snprintf(id, sizeof(id), "%s", h_id());
    if (to)
        h_send(c, "<iq type='%s' id='%s' to='%s'>%s</iq>", type, id, to, payload);
    else
        h_send(c, "<iq type='%s' id='%s'>%s</iq>", type, id, payload);
    return h_wait(c, &(h_match_t){.name = "iq", .id = id}, timeout_ms);
}

xmpp_stanza_t *h_child(xmpp_stanza_t *st, const char *name, const char *ns)
{
    return st ? xmpp_stanza_get_child_by_name_and_ns(st, name, ns) : NULL;
}

/* ---- steps many tests take ---- */

const char *h_iq_outcome(h_client_t *c, const char *type, const char *to, const char *payload)
{
    static char out[8][64];
    static unsigned next;
    char *o = out[next++ % 8];
    xmpp_stanza_t *r = h_iq(c, type, to, payload, 5000);
    const char *cond = r ? h_error_condition(r) : NULL;
    snprintf(o, sizeof(out[0]), "%s",
             !r                               ? "timeout"
             : h_attr_eq(r, "type", "result") ? "result"
             : cond                           ? cond
                                              : "error");
    if (r)
        xmpp_stanza_release(r);
    return o;
}

int h_can_login(h_server_t *srv, const char *jid, const char *password)
{
    xmpp_ctx_t *ctx = h_ctx_new();
    h_client_t *c = h_client_new(ctx, srv, jid, password, H_STARTTLS);
    int ok = h_client_wait_login(c, 10000);
    h_client_free(c);
    h_ctx_free(ctx);
    return ok;
}

int h_wait_presence(h_client_t *c, const char *from, const char *type, int timeout_ms)
{
    xmpp_stanza_t *st =
        h_wait(c, &(h_match_t){.name = "presence", .from = from, .type = type}, timeout_ms);
    if (st)
        xmpp_stanza_release(st);
    return st != NULL;
}

void h_make_mutual(h_client_t *a, const char *a_bare, h_client_t *b, const char *b_bare)
{
    h_send(a, "<presence type='subscribe' to='%s'/>", b_bare);
    CHECK(h_wait_presence(b, a_bare, "subscribe", 5000));
    h_send(b, "<presence type='subscribed' to='%s'/>", a_bare);
    CHECK(h_wait_presence(a, b_bare, "subscribed", 5000));
    h_send(b, "<presence type='subscribe' to='%s'/>", a_bare);
    CHECK(h_wait_presence(a, b_bare, "subscribe", 5000));
    h_send(a, "<presence type='subscribed' to='%s'/>", b_bare);
    CHECK(h_wait_presence(b, a_bare, "subscribed", 5000));
    h_drain(a);
    h_drain(b);
}

/* The bare part of a client's bound JID. */
static void bare_of(h_client_t *c, char *out, size_t len)
{
    snprintf(out, len, "%s", h_jid(c));
    char *slash = strchr(out, '/');
    if (slash)
        *slash = '\0';
}

int h_still_chatting(h_client_t *a, h_client_t *b, const char *why)
{
    if (!CHECK_MSG(a && b && a->connected && b->connected, "a client was lost after %s", why))
        return 0;
    char a_bare[256], b_bare[256], want[160];
    bare_of(a, a_bare, sizeof(a_bare));
    bare_of(b, b_bare, sizeof(b_bare));
    const char *id = h_id();
    h_send(a, "<message to='%s' type='chat'><body>%s %s</body></message>", b_bare, why, id);
    h_send(b, "<message to='%s' type='chat'><body>re %s %s</body></message>", a_bare, why, id);
    snprintf(want, sizeof(want), "%s %s", why, id);
    xmpp_stanza_t *to_b = h_wait(b, &(h_match_t){.name = "message", .body = want}, 5000);
    snprintf(want, sizeof(want), "re %s %s", why, id);
    xmpp_stanza_t *to_a = h_wait(a, &(h_match_t){.name = "message", .body = want}, 5000);
    int ok = CHECK_MSG(to_a && to_b, "%s and %s could not chat after %s", a_bare, b_bare, why);
    if (to_a)
        xmpp_stanza_release(to_a);
    if (to_b)
        xmpp_stanza_release(to_b);
    return ok;
}
