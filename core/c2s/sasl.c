/* c2s/sasl.c — SASL on client streams: SCRAM-SHA-1/256 (with -PLUS channel
 * binding) and PLAIN over TLS, with the per-IP and per-account back-off of
 * limits.c.  PLAIN needs PBKDF2, which runs on the libuv thread pool so a
 * login never stalls the loop. */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "core/c2s/c2s-private.h"
#include "lib/base64.h"
#include "lib/util.h"
#include "storage/storage.h"

/* Attempts (failed or aborted) one stream may make before it is closed. */
#define PL_MAX_AUTH_ATTEMPTS 3
/* SASL elements one stream may send before it is authenticated.  Three
 * attempts need at most nine (SCRAM's <auth/> and <response/>, then an
 * <abort/>); the rest is room for answers to temporary-auth-failure. */
#define PL_MAX_SASL_ELEMENTS 16

static void wipe(char *p)
{
    if (p)
        OPENSSL_cleanse(p, strlen(p));
}

static void send_sasl(pl_session_t *s, const char *element, const char *b64, const char *cond,
                      const char *text)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_buf_t b;
    pl_buf_init(&b);
    /* SASL2 (XEP-0388) uses its own elements but RFC 6120's conditions. */
    pl_buf_printf(&b, "<%s xmlns='%s'", element, c->sasl2 ? PL_NS_SASL2 : PL_NS_SASL);
    if (!b64 && !cond) {
        pl_buf_puts(&b, "/>");
    } else {
        pl_buf_puts(&b, ">");
        if (cond)
            pl_buf_printf(&b, c->sasl2 ? "<%s xmlns='" PL_NS_SASL "'/>" : "<%s/>", cond);
        if (text) {
            pl_buf_puts(&b, "<text xml:lang='en'>");
            pl_buf_escape(&b, text, strlen(text), 0);
            pl_buf_puts(&b, "</text>");
        }
        if (b64)
            pl_buf_puts(&b, b64);
        pl_buf_printf(&b, "</%s>", element);
    }
    pl_session_send_raw(s, b.data, b.len);
    pl_buf_deinit(&b);
}

void pl_c2s_auth_failed(pl_session_t *s, const char *cond, const char *text, const char *bare)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    if (c->scram_active) {
        pl_scram_server_deinit(&c->scram);
        c->scram_active = 0;
    }
    c->state = PL_ST_FEATURES;
    /* An abort tells nothing about a password, so the per-IP and
     * per-account back-off (about guessing) does not see it; but it ends an
     * attempt on this stream like a failure, or a client could make the
     * server parse <authenticate/> after <abort/> for ever.  Being told to
     * wait is not the client's attempt. */
    int aborted = strcmp(cond, "aborted") == 0;
    if (!aborted && strcmp(cond, "temporary-auth-failure") != 0)
        pl_limits_auth_result(srv, s->ip, bare, 0);
    if (strcmp(cond, "temporary-auth-failure") != 0)
        c->auth_attempts++;
    pl_log(&srv->log, PL_LOG_INFO, "c2s.auth", "ok=0 session=%llu ip=%s jid=%s reason=%s",
           (unsigned long long)s->id, s->ip, bare ? bare : "-", cond);
    send_sasl(s, "failure", NULL, cond, text);
    pl_c2s_sasl2_free(s);
    if (c->auth_attempts >= PL_MAX_AUTH_ATTEMPTS)
        pl_session_stream_error(s, "policy-violation", "too many failed authentication attempts");
}

void pl_c2s_auth_succeeded(pl_session_t *s, const char *bare, const char *server_final_b64,
                           const char *mech)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    pl_limits_auth_result(srv, s->ip, bare, 1);
    pl_jid_deinit(&s->jid);
    if (pl_jid_parse(&s->jid, bare) != 0) {
        pl_session_stream_error(s, "internal-server-error", NULL);
        return;
    }
    s->authenticated = 1;
    s->traced = pl_log_traced(&srv->log, s->jid.bare);
    pl_log(&srv->log, PL_LOG_INFO, "c2s.auth", "ok=1 session=%llu ip=%s jid=%s mechanism=%s%s",
           (unsigned long long)s->id, s->ip, bare, mech, c->sasl2 ? " sasl2=1" : "");
    if (c->sasl2) {
        /* XEP-0388: no stream restart; the inline requests come next. */
        c->state = PL_ST_FEATURES;
        pl_c2s_sasl2_succeeded(s, server_final_b64);
        return;
    }
    c->state = PL_ST_WAIT_STREAM;
    send_sasl(s, "success", server_final_b64, NULL, NULL);
    /* RFC 6120 §6.4.6: both sides start a new stream after <success/>. */
    pl_session_restart_stream(s);
}

/* The bare JID for a SASL username on this host, or NULL if it cannot be a
 * valid localpart. */
char *pl_c2s_bare_for_username(pl_session_t *s, const char *username)
{
    char *local = pl_jid_norm_local(username, strlen(username));
    if (!local)
        return NULL;
    size_t n = strlen(local) + strlen(s->host->name) + 2;
    char *bare = pl_xmalloc(n);
    snprintf(bare, n, "%s@%s", local, s->host->name);
    free(local);
    return bare;
}

int pl_c2s_backoff_check(pl_session_t *s, const char *bare)
{
    uint64_t wait = pl_limits_auth_wait(s->server, s->ip, bare);
    if (wait == 0)
        return 0;
    char text[96];
    snprintf(text, sizeof(text), "too many failed logins; try again in %llu s",
             (unsigned long long)((wait + 999) / 1000));
    pl_log(&s->server->log, PL_LOG_WARN, "limits.auth_backoff", "ip=%s jid=%s wait_ms=%llu", s->ip,
           bare ? bare : "-", (unsigned long long)wait);
    pl_c2s_auth_failed(s, "temporary-auth-failure", text, bare);
    return -1;
}

/* The keys to check `bare` against: the account's (1), or for a name
 * without a usable account (unknown, disabled, no keys for this hash) keys
 * that look the same from outside (0): a salt of the same length, stable,
 * that only the server can compute, and the host's iteration count for new
 * accounts, so neither the SCRAM challenge nor PLAIN's hashing time tells
 * the two apart. */
static int account_keys(pl_session_t *s, const char *bare, pl_scram_hash_t h, pl_scram_keys_t *out)
{
    pl_account_t *acc = pl_xmalloc(sizeof(*acc));
    int rc = pl_accounts_get(s->server->storage, bare, acc);
    int found = rc == 1 && !(acc->flags & PL_ACCOUNT_DISABLED) &&
                pl_scram_keys_usable(h == PL_SCRAM_SHA1 ? &acc->sha1 : &acc->sha256);
    if (found)
        *out = h == PL_SCRAM_SHA1 ? acc->sha1 : acc->sha256;
    else
        pl_scram_unknown_keys(h, s->server->unknown_name_key, sizeof(s->server->unknown_name_key),
                              bare, (uint32_t)s->host->conf->scram_iterations, out);
    OPENSSL_cleanse(acc, sizeof(*acc));
    free(acc);
    return found;
}

/* ---- SCRAM ---- */

static void scram_start(pl_session_t *s, pl_scram_hash_t h, int plus, const char *mech,
                        const uint8_t *msg, size_t len)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_scram_server_init(&c->scram, h, plus, pl_session_tls(s) != NULL);
    c->scram_active = 1;
    if (pl_scram_server_client_first(&c->scram, (const char *)msg, len) != 0) {
        pl_c2s_auth_failed(s, c->scram.error ? c->scram.error : "malformed-request", NULL, NULL);
        return;
    }
    char *bare = pl_c2s_bare_for_username(s, c->scram.username);
    if (!bare) {
        pl_c2s_auth_failed(s, "not-authorized", NULL, NULL);
        return;
    }
    if (pl_c2s_backoff_check(s, bare) != 0) {
        free(bare);
        return;
    }
    pl_scram_keys_t keys;
    account_keys(s, bare, h, &keys);
    char *challenge = NULL;
    int rc = pl_scram_server_first(&c->scram, &keys, &challenge);
    OPENSSL_cleanse(&keys, sizeof(keys));
    if (rc != 0) {
        pl_c2s_auth_failed(s, c->scram.error ? c->scram.error : "malformed-request", NULL, bare);
        free(bare);
        return;
    }
    char *b64 = pl_base64_encode((const uint8_t *)challenge, strlen(challenge));
    free(challenge);
    send_sasl(s, "challenge", b64, NULL, NULL);
    free(b64);
    free(bare);
    c->state = PL_ST_SASL;
    (void)mech;
}

static void scram_response(pl_session_t *s, const uint8_t *msg, size_t len)
{
    pl_c2s_t *c = pl_c2s(s);
    uint8_t cb[64];
    size_t cb_len = 0;
    pl_tls_t *tls = pl_session_tls(s);
    if (c->scram.cb_type != PL_CB_NONE && tls)
        cb_len = pl_tls_channel_binding(tls, c->scram.cb_type, cb, sizeof(cb));
    char *bare = c->scram.username ? pl_c2s_bare_for_username(s, c->scram.username) : NULL;
    if (c->scram.authzid && (!bare || strcmp(c->scram.authzid, bare) != 0)) {
        pl_jid_t az;
        int same = pl_jid_parse(&az, c->scram.authzid) == 0 && bare && strcmp(az.full, bare) == 0;
        pl_jid_deinit(&az);
        if (!same) {
            pl_c2s_auth_failed(s, "invalid-authzid", NULL, bare);
            free(bare);
            return;
        }
    }
    char *final = NULL;
    int rc = pl_scram_server_client_final(&c->scram, (const char *)msg, len, cb, cb_len, &final);
    if (rc != 0 || !bare) {
        pl_c2s_auth_failed(s, c->scram.error ? c->scram.error : "not-authorized", NULL, bare);
        free(final);
        free(bare);
        return;
    }
    char *b64 = pl_base64_encode((const uint8_t *)final, strlen(final));
    const char *mech = c->scram.hash == PL_SCRAM_SHA256
                           ? (c->scram.plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256")
                           : (c->scram.plus ? "SCRAM-SHA-1-PLUS" : "SCRAM-SHA-1");
    pl_scram_server_deinit(&c->scram);
    c->scram_active = 0;
    pl_c2s_auth_succeeded(s, bare, b64, mech);
    free(b64);
    free(final);
    free(bare);
}

/* ---- PLAIN (password checked on the thread pool) ---- */

typedef struct plain_work {
    uv_work_t req;
    pl_session_t *s;
    char *bare;
    char *password;
    pl_scram_keys_t keys;
    int found;
    int ok;
} plain_work_t;

/* Every name costs the same work: for one without an account the password
 * is hashed against made-up keys with the host's iteration count (no
 * password matches them), so a refusal takes as long as for a real account
 * with a wrong password. */
static void plain_verify(uv_work_t *req)
{
    plain_work_t *w = req->data;
    int match = pl_scram_verify_password(PL_SCRAM_SHA256, &w->keys, w->password) == 1;
    w->ok = w->found && match;
}

static void plain_done(uv_work_t *req, int status)
{
    plain_work_t *w = req->data;
    pl_session_t *s = w->s;
    if (!s->closing && pl_c2s(s)->state == PL_ST_AUTH_PENDING) {
        if (status == 0 && w->ok)
            pl_c2s_auth_succeeded(s, w->bare, NULL, "PLAIN");
        else
            pl_c2s_auth_failed(s, "not-authorized", NULL, w->bare);
    }
    wipe(w->password);
    free(w->password);
    OPENSSL_cleanse(&w->keys, sizeof(w->keys));
    free(w->bare);
    pl_session_unref(&w->s);
    free(w);
}

static void plain_start(pl_session_t *s, const uint8_t *msg, size_t len)
{
    pl_c2s_t *c = pl_c2s(s);
    if (!s->host->conf->allow_plain || !s->secure) {
        pl_c2s_auth_failed(s, "invalid-mechanism", NULL, NULL);
        return;
    }
    char *copy = NULL;
    const char *authzid, *authcid, *password;
    if (pl_sasl_plain_parse((const char *)msg, len, &copy, &authzid, &authcid, &password) != 0) {
        free(copy);
        pl_c2s_auth_failed(s, "malformed-request", NULL, NULL);
        return;
    }
    char *bare = pl_c2s_bare_for_username(s, authcid);
    if (!bare) {
        free(copy);
        pl_c2s_auth_failed(s, "not-authorized", NULL, NULL);
        return;
    }
    if (authzid && *authzid) {
        pl_jid_t az;
        int same = pl_jid_parse(&az, authzid) == 0 && strcmp(az.full, bare) == 0;
        pl_jid_deinit(&az);
        if (!same) {
            free(copy);
            pl_c2s_auth_failed(s, "invalid-authzid", NULL, bare);
            free(bare);
            return;
        }
    }
    if (pl_c2s_backoff_check(s, bare) != 0) {
        free(copy);
        free(bare);
        return;
    }
    plain_work_t *w = pl_xcalloc(1, sizeof(*w));
    w->req.data = w;
    w->s = pl_session_ref(s);
    w->bare = bare;
    w->password = pl_xstrdup(password);
    wipe(copy);
    free(copy);
    w->found = account_keys(s, bare, PL_SCRAM_SHA256, &w->keys) == 1;
    c->state = PL_ST_AUTH_PENDING;
    if (uv_queue_work(&s->loop->uv, &w->req, plain_verify, plain_done) != 0) {
        plain_verify(&w->req);
        plain_done(&w->req, 0);
    }
}

/* ---- entry points ---- */

void pl_c2s_sasl_features(pl_session_t *s, pl_buf_t *b)
{
    /* -PLUS and channel binding need the TLS under the stream, whichever
     * transport holds it. */
    pl_tls_t *tls = pl_session_tls(s);
    pl_buf_t mechs;
    pl_buf_init(&mechs);
    if (tls) {
        pl_buf_puts(&mechs, "<mechanism>SCRAM-SHA-256-PLUS</mechanism>"
                            "<mechanism>SCRAM-SHA-1-PLUS</mechanism>");
    }
    pl_buf_puts(&mechs, "<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism>");
    if (s->host->conf->allow_plain && s->secure)
        pl_buf_puts(&mechs, "<mechanism>PLAIN</mechanism>");
    pl_buf_printf(b, "<mechanisms xmlns='" PL_NS_SASL "'>%.*s</mechanisms>", (int)mechs.len,
                  mechs.data);
    pl_c2s_sasl2_features(s, b, pl_buf_cstr(&mechs));
    pl_buf_deinit(&mechs);
    if (tls) {
        /* XEP-0440: which channel-binding types this connection supports. */
        uint8_t cb[64];
        pl_buf_puts(b, "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>");
        if (pl_tls_channel_binding(tls, PL_CB_TLS_EXPORTER, cb, sizeof(cb)))
            pl_buf_puts(b, "<channel-binding type='tls-exporter'/>");
        pl_buf_puts(b, "<channel-binding type='tls-server-end-point'/>"
                       "<channel-binding type='tls-unique'/></sasl-channel-binding>");
    }
}

/* Before login every SASL element is bounded twice: by count (a stream
 * that keeps negotiating is ended) and by the stream's token bucket, the
 * one its stanzas use later, so nobody makes the server parse and answer
 * SASL at line rate.  Returns 0, or -1 when the stream was ended. */
static int sasl_element_ok(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_server_t *srv = s->server;
    if (++c->sasl_elements > PL_MAX_SASL_ELEMENTS) {
        pl_log(&srv->log, PL_LOG_WARN, "limits.sasl_elements", "session=%llu ip=%s limit=%d",
               (unsigned long long)s->id, s->ip, PL_MAX_SASL_ELEMENTS);
        pl_session_stream_error(s, "policy-violation", "too many SASL elements before login");
        return -1;
    }
    if (!pl_session_rate_ok(s)) {
        pl_log(&srv->log, PL_LOG_WARN, "limits.stanza_rate", "session=%llu ip=%s sasl=1",
               (unsigned long long)s->id, s->ip);
        pl_session_stream_error(s, "policy-violation", "stanza rate exceeded");
        return -1;
    }
    return 0;
}

void pl_c2s_sasl_stanza(pl_session_t *s, const pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    const pl_xml_t *root = pl_stanza_root(st);
    if (sasl_element_ok(s) != 0)
        return;
    const char *name = root->name;
    int v2 = strcmp(root->ns, PL_NS_SASL2) == 0;
    if (v2 && strcmp(name, "authenticate") == 0 && c->state == PL_ST_FEATURES) {
        const char *why = NULL;
        pl_c2s_sasl2_free(s);
        if (pl_c2s_sasl2_parse(s, root, &why) != 0) {
            pl_c2s_auth_failed(s, "malformed-request", why, NULL);
            return;
        }
    } else if (!v2 && strcmp(name, "auth") == 0) {
        pl_c2s_sasl2_free(s); /* a client may fall back to RFC 6120 SASL */
    }
    if (v2 != (c->sasl2 != NULL) && strcmp(name, "abort") != 0) {
        pl_c2s_auth_failed(s, "malformed-request", "SASL and SASL2 elements mixed", NULL);
        return;
    }
    /* SASL2 puts the first message in <initial-response/>. */
    const pl_xml_t *carrier = root;
    if (v2 && strcmp(name, "authenticate") == 0)
        carrier = pl_xml_child(root, "initial-response", PL_NS_SASL2);
    pl_buf_t text;
    pl_buf_init(&text);
    if (carrier)
        pl_xml_text(carrier, &text);
    const char *t = pl_buf_cstr(&text);
    uint8_t *msg = NULL;
    size_t len = 0;
    /* "=" is an empty initial response; absent content means none. */
    if (strcmp(t, "=") != 0 && text.len > 0) {
        msg = pl_base64_decode(t, text.len, &len);
        if (!msg) {
            pl_buf_deinit(&text);
            pl_c2s_auth_failed(s, "incorrect-encoding", NULL, NULL);
            return;
        }
    }
    pl_buf_deinit(&text);
    if (strcmp(name, "abort") == 0) {
        pl_c2s_auth_failed(s, "aborted", NULL, NULL);
    } else if ((strcmp(name, "auth") == 0 || strcmp(name, "authenticate") == 0) &&
               c->state == PL_ST_FEATURES) {
        const char *mech = pl_xml_attr(root, "mechanism");
        if (!mech)
            mech = "";
        if (strcmp(mech, "SCRAM-SHA-256") == 0)
            scram_start(s, PL_SCRAM_SHA256, 0, mech, msg, len);
        else if (strcmp(mech, "SCRAM-SHA-1") == 0)
            scram_start(s, PL_SCRAM_SHA1, 0, mech, msg, len);
        else if (strcmp(mech, "SCRAM-SHA-256-PLUS") == 0 && pl_session_tls(s))
            scram_start(s, PL_SCRAM_SHA256, 1, mech, msg, len);
        else if (strcmp(mech, "SCRAM-SHA-1-PLUS") == 0 && pl_session_tls(s))
            scram_start(s, PL_SCRAM_SHA1, 1, mech, msg, len);
        else if (strcmp(mech, "PLAIN") == 0)
            plain_start(s, msg, len);
        else if (v2 && strncmp(mech, "HT-", 3) == 0)
            pl_c2s_fast_start(s, mech, msg, len);
        else
            pl_c2s_auth_failed(s, "invalid-mechanism", NULL, NULL);
    } else if (strcmp(name, "response") == 0 && c->state == PL_ST_SASL) {
        scram_response(s, msg, len);
    } else {
        pl_c2s_auth_failed(s, "malformed-request", "unexpected SASL element", NULL);
    }
    free(msg);
}
