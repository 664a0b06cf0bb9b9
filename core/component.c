/* component.c — XEP-0114 external components (bots, gateways): the
 * jabber:component:accept stream kind (pl_component_ops), the SHA-1
 * handshake over the stream id and the per-component secret, then routing
 * in both directions.  A component may send as its domain or any JID at
 * it.  The stream's own state is the configured component it asked for
 * (s->stream, borrowed from the server's table). */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lib/util.h"

/* The component this stream asked to be (set at its header), or NULL. */
static pl_component_t *component_of(const pl_session_t *s)
{
    return s->stream;
}

static void component_stream_open(pl_session_t *s, const pl_stream_header_t *h)
{
    pl_server_t *srv = s->server;
    pl_random_id(s->stream_id, 16);
    if (strcmp(h->name, "stream") != 0 || strcmp(h->ns, PL_NS_STREAMS) != 0 ||
        strcmp(h->content_ns, PL_NS_COMPONENT) != 0) {
        pl_session_stream_error(s, "invalid-namespace", "expected jabber:component:accept");
        return;
    }
    char *domain = h->to ? pl_jid_norm_domain(h->to, strlen(h->to)) : NULL;
    pthread_mutex_lock(&srv->comp_lock);
    pl_component_t *c = domain ? pl_map_get(&srv->components, domain) : NULL;
    pthread_mutex_unlock(&srv->comp_lock);
    pl_session_open_stream(s, domain ? domain : h->to);
    free(domain);
    if (!c) {
        pl_session_stream_error(s, "host-unknown", "no component is configured for that domain");
        return;
    }
    s->stream = c;
    s->host = c->host;
}

static int handshake_ok(pl_session_t *s, const char *given)
{
    /* hex(SHA-1(stream id + secret)), compared in constant time. */
    char input[512];
    int n = snprintf(input, sizeof(input), "%s%s", s->stream_id, component_of(s)->secret);
    if (n < 0 || (size_t)n >= sizeof(input))
        return 0;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_Digest(input, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    size_t want = 2 * mdlen;
    if (strlen(given) != want)
        return 0;
    char lower[2 * EVP_MAX_MD_SIZE + 1];
    for (size_t i = 0; i < want; i++)
        lower[i] = (char)((given[i] >= 'A' && given[i] <= 'F') ? given[i] + 32 : given[i]);
    return pl_ct_equal(lower, hex, want);
}

static void handle_handshake(pl_session_t *s, const pl_stanza_t *st)
{
    pl_server_t *srv = s->server;
    pl_component_t *comp = component_of(s);
    const pl_xml_t *root = pl_stanza_root(st);
    if (strcmp(root->name, "handshake") != 0) {
        pl_session_stream_error(s, "not-authorized", "handshake first");
        return;
    }
    /* Checked before the handshake is: while backing off, the right secret
     * is refused too, so guesses learn nothing. */
    uint64_t wait = pl_limits_component_wait(srv, s->ip, comp->domain);
    if (wait > 0) {
        char why[96];
        snprintf(why, sizeof(why), "too many failed handshakes; try again in %llu s",
                 (unsigned long long)((wait + 999) / 1000));
        pl_log(&srv->log, PL_LOG_WARN, "limits.component_backoff", "domain=%s ip=%s wait_ms=%llu",
               comp->domain, s->ip, (unsigned long long)wait);
        pl_session_stream_error(s, "policy-violation", why);
        return;
    }
    pl_buf_t text;
    pl_buf_init(&text);
    pl_xml_text(root, &text);
    int ok = handshake_ok(s, pl_buf_cstr(&text));
    pl_buf_deinit(&text);
    /* Component handshakes have their own back-off: a component failing on
     * 127.0.0.1 does not slow down the clients logging in from there. */
    pl_limits_component_result(srv, s->ip, comp->domain, ok);
    if (!ok) {
        pl_log(&srv->log, PL_LOG_WARN, "component.auth", "ok=0 domain=%s ip=%s", comp->domain,
               s->ip);
        pl_session_stream_error(s, "not-authorized", "handshake failed");
        return;
    }
    pthread_mutex_lock(&srv->comp_lock);
    pl_session_t *old = comp->session;
    comp->session = pl_session_ref(s);
    pthread_mutex_unlock(&srv->comp_lock);
    if (old) {
        /* A component reconnecting takes over from its stale stream. */
        if (old->loop == s->loop)
            pl_session_stream_error(old, "conflict", "replaced by a new connection");
        else
            pl_loop_post_close(old->loop, old, "conflict", "replaced by a new connection");
        pl_session_unref(&old);
    }
    s->authenticated = 1;
    pl_jid_deinit(&s->jid);
    pl_jid_from_parts(&s->jid, NULL, comp->domain, NULL);
    pl_session_timer_stop(s);
    pl_session_send_str(s, "<handshake/>");
    pl_log(&srv->log, PL_LOG_INFO, "component.auth", "ok=1 domain=%s ip=%s host=%s", comp->domain,
           s->ip, s->host->name);
}

static void component_stanza(pl_session_t *s, pl_stanza_t *st)
{
    if (!s->authenticated) {
        handle_handshake(s, st);
        return;
    }
    pl_component_t *comp = component_of(s);
    const pl_xml_t *root = pl_stanza_root(st);
    pl_stanza_kind_t kind = pl_stanza_kind_of(root->name);
    if (!kind || strcmp(root->ns, PL_NS_CLIENT) != 0) {
        pl_session_stream_error(s, "unsupported-stanza-type", NULL);
        return;
    }
    if (!pl_session_rate_ok(s) && pl_server_limits(s->server)->stanza_rate > 0) {
        /* Components are trusted peers but still bounded: a runaway bot
         * must not starve the clients. */
        pl_session_stream_error(s, "policy-violation", "stanza rate exceeded");
        return;
    }
    const char *f = pl_xml_attr(root, "from"), *t = pl_xml_attr(root, "to");
    pl_jid_t from, to;
    if (!f || pl_jid_parse(&from, f) != 0) {
        pl_session_stream_error(s, "improper-addressing", "'from' is required");
        return;
    }
    if (strcmp(from.domain, comp->domain) != 0) {
        pl_jid_deinit(&from);
        pl_session_stream_error(s, "invalid-from", "components send from their own domain");
        return;
    }
    if (!t || pl_jid_parse(&to, t) != 0) {
        pl_stanza_t *err = pl_stanza_error(st, t ? PL_ERR_JID_MALFORMED : PL_ERR_BAD_REQUEST,
                                           "a valid 'to' is required");
        pl_session_send(s, err);
        pl_stanza_unref(&err);
        pl_jid_deinit(&from);
        return;
    }
    pl_router_route(s->server, st, &from, &to, s);
    pl_jid_deinit(&from);
    pl_jid_deinit(&to);
}

/* The handshake must come within auth_timeout; after it the timer is
 * stopped (components are not pinged). */
static void component_timer(pl_session_t *s)
{
    if (!s->authenticated)
        pl_session_stream_error(s, "connection-timeout", "handshake took too long");
}

static void component_closed(pl_session_t *s, pl_end_how_t how)
{
    (void)how;
    pl_server_t *srv = s->server;
    pl_component_t *comp = component_of(s);
    if (!comp)
        return;
    pthread_mutex_lock(&srv->comp_lock);
    pl_session_t *mine = comp->session == s ? s : NULL;
    if (mine)
        comp->session = NULL;
    pthread_mutex_unlock(&srv->comp_lock);
    if (mine) {
        pl_log(&srv->log, PL_LOG_INFO, "component.disconnect", "domain=%s", comp->domain);
        pl_session_unref(&mine);
    }
}

const pl_stream_ops_t pl_component_ops = {
    .name = "component",
    .content_ns = PL_NS_COMPONENT,
    .header_version = 0,
    .stream_open = component_stream_open,
    .stanza = component_stanza,
    .timer = component_timer,
    .closed = component_closed,
};
