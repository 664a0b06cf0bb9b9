/* c2s/sasl2.c — the one-round-trip login of a mobile client: SASL2
 * (XEP-0388) carries, inside <authenticate/>, the requests a client would
 * otherwise make one by one after a stream restart — resume a
 * stream-management session, or bind a resource (bind2, XEP-0386) with SM,
 * carbons and CSI switched on — and FAST (XEP-0484) lets it authenticate
 * with a server-issued token in one message (the HT-SHA-256-* mechanisms of
 * draft-ietf-kitten-sasl-ht) instead of a SCRAM exchange.
 *
 * The SCRAM and PLAIN exchanges themselves are those of c2s/sasl.c; when they
 * succeed under SASL2, pl_c2s_sasl2_succeeded runs instead of the RFC 6120
 * <success/> and stream restart.
 *
 * FAST tokens are kept in the "fast" store under bare JID '\0' user-agent id:
 * the newest token, and the one before it until the newest has been used
 * (a client that lost the <success/> carrying a new token can still log in
 * with the old one), each with its mechanism, expiry and replay state.
 *
 * Replays (XEP-0484 asks servers to refuse them at least for TLS 0-RTT
 * data, where a captured message can be sent again as is): a <fast/> with
 * a count must exceed the highest count seen for that token (counts are per
 * token: clients start again when the token changes).  Without a count,
 * only HT-SHA-256-EXPR cannot be replayed, its message being bound to this
 * TLS connection; with -NONE and -ENDP the same bytes would log in again
 * from anywhere, so a token is accepted without a count once, and such a
 * login is handed a new token in its <success/> (the old one stays usable
 * with a count until the new one is used, as the rotation rules ask). */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/c2s/c2s-private.h"
#include "lib/base64.h"
#include "lib/util.h"
#include "storage/storage.h"

#define UA_ID_MAX 128
#define TAG_MAX 32
#define TOKEN_BYTES 32

typedef struct fast_token {
    char token[64];
    char mech[24];
    long long expiry; /* unix seconds */
    long long count;  /* the highest replay count seen with this token */
    int spent;        /* used without a count (replayable mechanisms only) */
} fast_token_t;

typedef struct fast_rec {
    fast_token_t cur, prev; /* empty token = none */
} fast_rec_t;

/* What the in-memory replay check remembers of a token (fast_counts). */
typedef struct fast_seen {
    long long count;
    int spent;
    uint64_t at_ms;
} fast_seen_t;

/* How long the in-memory copy is kept: far longer than a commit takes, after
 * which the stored record answers alone. */
#define FAST_SEEN_MS (10 * 60 * 1000)

struct pl_sasl2_req {
    char *ua_id; /* <user-agent id=''/>: required for FAST */
    int bind;    /* <bind xmlns='urn:xmpp:bind:0'/> */
    char *tag;
    int bind_sm, bind_sm_resume, bind_carbons, bind_inactive;
    int resume;
    char *previd, *h;
    char *token_mech; /* <request-token mechanism=''/> */
    int fast;         /* <fast/>: authenticating with a token */
    long long fast_count;
    int fast_invalidate;
    char *rotate_mech; /* a login without a count: its token is replaced (this mechanism) */
    char *additional;  /* the mechanism's final message (base64) */
    char *used_token;  /* the token this login used (FAST), for the rotation */
    fast_rec_t *rec; /* its record as it must be stored after this login */
};

static const char *const fast_mechs[] = {"HT-SHA-256-NONE", "HT-SHA-256-EXPR", "HT-SHA-256-ENDP",
                                         NULL};

void pl_c2s_sasl2_free(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_sasl2_req_t *r = c->sasl2;
    c->sasl2 = NULL;
    if (!r)
        return;
    free(r->ua_id);
    free(r->tag);
    free(r->previd);
    free(r->h);
    free(r->token_mech);
    free(r->rotate_mech);
    free(r->additional);
    if (r->used_token)
        OPENSSL_cleanse(r->used_token, strlen(r->used_token));
    free(r->used_token);
    if (r->rec)
        OPENSSL_cleanse(r->rec, sizeof(*r->rec));
    free(r->rec);
    free(r);
}

static int fast_enabled(const pl_session_t *s) { return s->host->conf->fast_lifetime_ms > 0; }

static int is_fast_mech(const char *m)
{
    for (const char *const *f = fast_mechs; *f; f++)
        if (!strcmp(*f, m))
            return 1;
    return 0;
}

void pl_c2s_sasl2_features(pl_session_t *s, pl_buf_t *b, const char *mechanisms)
{
    pl_buf_printf(b, "<authentication xmlns='" PL_NS_SASL2 "'>%s<inline>", mechanisms);
    pl_buf_puts(b, "<sm xmlns='" PL_NS_SM "'/><bind xmlns='" PL_NS_BIND2 "'><inline>"
                   "<feature var='" PL_NS_SM "'/><feature var='" PL_NS_CSI "'/>"
                   "<feature var='" PL_NS_CARBONS "'/></inline></bind>");
    if (fast_enabled(s)) {
        pl_buf_puts(b, "<fast xmlns='" PL_NS_FAST "'>");
        for (const char *const *f = fast_mechs; *f; f++)
            pl_buf_printf(b, "<mechanism>%s</mechanism>", *f);
        pl_buf_puts(b, "</fast>");
    }
    pl_buf_puts(b, "</inline></authentication>");
}

/* ---- reading <authenticate/> ---- */

static int printable(const char *v, size_t max)
{
    size_t n = strlen(v);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return 0;
    return 1;
}

/* A resource from the bind2 tag: its letters, digits, '.', '_' and '-'
 * (so "mobile" gives "mobile-…", which client_policy recognises). */
static char *resource_from_tag(const char *tag)
{
    char prefix[TAG_MAX + 2];
    size_t n = 0;
    for (const char *p = tag ? tag : ""; *p && n < TAG_MAX; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '.' || *p == '_' || *p == '-')
            prefix[n++] = *p;
    if (n == 0) {
        memcpy(prefix, "parley", 6);
        n = 6;
    }
    prefix[n++] = '-';
    prefix[n] = '\0';
    return pl_c2s_random_resource(prefix);
}

/* Each child of <authenticate/> that the server keeps something from may
 * appear once: a second one would have to overwrite the first (leaking it,
 * before anyone is authenticated) or be silently preferred, so it is a
 * malformed-request naming the element.  Children read per request: */
typedef int (*sasl2_reader_t)(pl_session_t *s, pl_sasl2_req_t *r, const pl_xml_t *c,
                              const char **why);

static int read_user_agent(pl_session_t *s, pl_sasl2_req_t *r, const pl_xml_t *c, const char **why)
{
    (void)s;
    const char *id = pl_xml_attr(c, "id");
    if (id && !printable(id, UA_ID_MAX)) {
        *why = "the user-agent id is not acceptable";
        return -1;
    }
    r->ua_id = id ? pl_xstrdup(id) : NULL;
    return 0;
}

/* bind2's own children are singletons too: one tag, one of each inline
 * request.  Unknown inline requests are ignored. */
enum { BIND_TAG, BIND_SM, BIND_CARBONS, BIND_INACTIVE };
static const struct {
    const char *name, *ns, *repeated;
} bind_children[] = {
    [BIND_TAG] = {.name = "tag", .ns = PL_NS_BIND2, .repeated = "<tag/> is repeated in <bind/>"},
    [BIND_SM] = {.name = "enable",
                 .ns = PL_NS_SM,
                 .repeated = "<enable xmlns='" PL_NS_SM "'/> is repeated in <bind/>"},
    [BIND_CARBONS] = {.name = "enable",
                      .ns = PL_NS_CARBONS,
                      .repeated = "<enable xmlns='" PL_NS_CARBONS "'/> is repeated in <bind/>"},
    [BIND_INACTIVE] = {.name = "inactive",
                       .ns = PL_NS_CSI,
                       .repeated = "<inactive/> is repeated in <bind/>"},
};

static int read_bind(pl_session_t *s, pl_sasl2_req_t *r, const pl_xml_t *c, const char **why)
{
    (void)s;
    unsigned seen = 0;
    r->bind = 1;
    for (const pl_xml_t *f = pl_xml_first_element(c); f; f = pl_xml_next(f, NULL, NULL)) {
        size_t k = 0, n = sizeof(bind_children) / sizeof(bind_children[0]);
        while (k < n && (strcmp(f->name, bind_children[k].name) != 0 ||
                         strcmp(f->ns, bind_children[k].ns) != 0))
            k++;
        if (k == n)
            continue;
        if (seen & (1u << k)) {
            *why = bind_children[k].repeated;
            return -1;
        }
        seen |= 1u << k;
        switch (k) {
        case BIND_TAG: {
            pl_buf_t t;
            pl_buf_init(&t);
            pl_xml_text(f, &t);
            r->tag = t.len ? pl_xstrndup(t.data, t.len) : NULL;
            pl_buf_deinit(&t);
            break;
        }
        case BIND_SM: {
            const char *res = pl_xml_attr(f, "resume");
            r->bind_sm = 1;
            r->bind_sm_resume = res && (!strcmp(res, "true") || !strcmp(res, "1"));
            break;
        }
        case BIND_CARBONS: r->bind_carbons = 1; break;
        default: r->bind_inactive = 1; break;
        }
    }
    return 0;
}

static int read_resume(pl_session_t *s, pl_sasl2_req_t *r, const pl_xml_t *c, const char **why)
{
    (void)s, (void)why;
    const char *previd = pl_xml_attr(c, "previd"), *h = pl_xml_attr(c, "h");
    r->resume = 1;
    r->previd = previd ? pl_xstrdup(previd) : NULL;
    r->h = h ? pl_xstrdup(h) : NULL;
    return 0;
}

static int read_request_token(pl_session_t *s, pl_sasl2_req_t *r, const pl_xml_t *c,
                              const char **why)
{
    const char *m = pl_xml_attr(c, "mechanism");
    if (!fast_enabled(s) || !m || !is_fast_mech(m)) {
        *why = "no such FAST mechanism";
        return -1;
    }
    r->token_mech = pl_xstrdup(m);
    return 0;
}

static int read_fast(pl_session_t *s, pl_sasl2_req_t *r, const pl_xml_t *c, const char **why)
{
    (void)s;
    const char *count = pl_xml_attr(c, "count"), *inv = pl_xml_attr(c, "invalidate");
    r->fast = 1;
    if (count) {
        char *end;
        errno = 0;
        r->fast_count = strtoll(count, &end, 10);
        if (*end || r->fast_count <= 0 || errno == ERANGE || !(*count >= '0' && *count <= '9')) {
            *why = "the FAST count must be a positive integer";
            return -1;
        }
    }
    r->fast_invalidate = inv && (!strcmp(inv, "true") || !strcmp(inv, "1"));
    return 0;
}

static const struct {
    const char *name, *ns;
    sasl2_reader_t read; /* NULL: read elsewhere (the mechanism's data) */
    const char *repeated;
} sasl2_children[] = {
    {.name = "initial-response", .ns = PL_NS_SASL2, .repeated = "<initial-response/> is repeated"},
    {.name = "user-agent",
     .ns = PL_NS_SASL2,
     .read = read_user_agent,
     .repeated = "<user-agent/> is repeated"},
    {.name = "bind", .ns = PL_NS_BIND2, .read = read_bind, .repeated = "<bind/> is repeated"},
    {.name = "resume", .ns = PL_NS_SM, .read = read_resume, .repeated = "<resume/> is repeated"},
    {.name = "request-token",
     .ns = PL_NS_FAST,
     .read = read_request_token,
     .repeated = "<request-token/> is repeated"},
    {.name = "fast", .ns = PL_NS_FAST, .read = read_fast, .repeated = "<fast/> is repeated"},
};
#define SASL2_NCHILDREN (sizeof(sasl2_children) / sizeof(sasl2_children[0]))

int pl_c2s_sasl2_parse(pl_session_t *s, const pl_xml_t *auth, const char **why)
{
    pl_sasl2_req_t *r = pl_xcalloc(1, sizeof(*r));
    pl_c2s(s)->sasl2 = r;
    unsigned seen = 0;
    for (const pl_xml_t *c = pl_xml_first_element(auth); c; c = pl_xml_next(c, NULL, NULL)) {
        for (size_t i = 0; i < SASL2_NCHILDREN; i++) {
            if (strcmp(c->name, sasl2_children[i].name) != 0 ||
                strcmp(c->ns, sasl2_children[i].ns) != 0)
                continue;
            if (seen & (1u << i)) {
                *why = sasl2_children[i].repeated;
                return -1;
            }
            seen |= 1u << i;
            if (sasl2_children[i].read && sasl2_children[i].read(s, r, c, why) != 0)
                return -1;
            break;
        }
        /* Anything else is an extension we do not know: ignored. */
    }
    if ((r->token_mech || r->fast) && !r->ua_id) {
        *why = "FAST needs a <user-agent id=''/>";
        return -1;
    }
    return 0;
}

/* ---- FAST token records ---- */

/* The replay check of one FAST login with token `t` (count 0: none sent;
 * `once`: a mechanism a captured message works with again), against the
 * stored record and an in-memory copy checked and raised under a lock, so
 * two copies of one request racing within a commit window cannot both
 * pass.  1 when the login may go on (the copy then remembers it). */
static int replay_ok(pl_session_t *s, const char *bare, const char *ua, const fast_token_t *t,
                     long long count, int once)
{
    if (!count && !once)
        return 1;
    pl_server_t *srv = s->server;
    unsigned char d[32];
    EVP_Digest(t->token, strlen(t->token), d, NULL, EVP_sha256(), NULL);
    pl_buf_t k;
    pl_buf_init(&k);
    pl_buf_printf(&k, "%s/%s/", bare, ua);
    for (int i = 0; i < 8; i++)
        pl_buf_printf(&k, "%02x", d[i]);
    uint64_t now = pl_mono_ms();
    pthread_mutex_lock(&srv->fast_lock);
    if (now - srv->fast_swept_ms > 60000) {
        /* Copies older than any commit: the stored records hold them. */
        srv->fast_swept_ms = now;
        size_t pos = 0;
        const char *key;
        void *v;
        while (pl_map_iter(&srv->fast_counts, &pos, &key, &v)) {
            if (now - ((fast_seen_t *)v)->at_ms < FAST_SEEN_MS)
                continue;
            char *kc = pl_xstrdup(key);
            pl_map_del(&srv->fast_counts, kc);
            free(kc);
            free(v);
        }
    }
    fast_seen_t *seen = pl_map_get(&srv->fast_counts, pl_buf_cstr(&k));
    long long last = seen && seen->count > t->count ? seen->count : t->count;
    int spent = t->spent || (seen && seen->spent);
    int ok = count ? count > last : !spent;
    if (ok) {
        if (!seen) {
            seen = pl_xcalloc(1, sizeof(*seen));
            pl_map_put(&srv->fast_counts, pl_buf_cstr(&k), seen);
        }
        if (count)
            seen->count = count;
        else
            seen->spent = 1;
        seen->at_ms = now;
    }
    pthread_mutex_unlock(&srv->fast_lock);
    pl_buf_deinit(&k);
    if (!ok)
        pl_log(&srv->log, PL_LOG_WARN, "c2s.fast_replay", "jid=%s count=%lld last=%lld spent=%d",
               bare, count, last, spent);
    return ok;
}

static void fast_key(pl_buf_t *k, const char *bare, const char *ua)
{
    pl_buf_reset(k);
    pl_buf_append(k, bare, strlen(bare) + 1);
    pl_buf_append(k, ua, strlen(ua));
}

/* Version 2: per token "count spent expiry mechanism token" ('-' = none).
 * Version 1 kept one count for the record: read as both tokens' count,
 * which refuses nothing a client counting on from it would send. */
static void rec_encode(const fast_rec_t *r, pl_buf_t *out)
{
    pl_buf_reset(out);
    pl_buf_puts(out, "2");
    const fast_token_t *ts[2] = {&r->cur, &r->prev};
    for (int i = 0; i < 2; i++)
        pl_buf_printf(out, " %lld %d %lld %s %s", ts[i]->count, ts[i]->spent, ts[i]->expiry,
                      ts[i]->mech[0] ? ts[i]->mech : "-", ts[i]->token[0] ? ts[i]->token : "-");
}

static int rec_decode(const char *data, size_t len, fast_rec_t *r)
{
    char text[512];
    if (len >= sizeof(text))
        return -1;
    memcpy(text, data, len);
    text[len] = '\0';
    memset(r, 0, sizeof(*r));
    int rc = -1;
    if (text[0] == '1' && text[1] == ' ') {
        long long count;
        if (sscanf(text + 2, "%lld %lld %23s %63s %lld %23s %63s", &count, &r->cur.expiry,
                   r->cur.mech, r->cur.token, &r->prev.expiry, r->prev.mech, r->prev.token) == 7) {
            r->cur.count = r->prev.count = count;
            rc = 0;
        }
    } else if (text[0] == '2' && text[1] == ' ') {
        if (sscanf(text + 2, "%lld %d %lld %23s %63s %lld %d %lld %23s %63s", &r->cur.count,
                   &r->cur.spent, &r->cur.expiry, r->cur.mech, r->cur.token, &r->prev.count,
                   &r->prev.spent, &r->prev.expiry, r->prev.mech, r->prev.token) == 10)
            rc = 0;
    }
    fast_token_t *ts[2] = {&r->cur, &r->prev};
    for (int i = 0; rc == 0 && i < 2; i++)
        if (!strcmp(ts[i]->token, "-"))
            memset(ts[i], 0, sizeof(*ts[i]));
    OPENSSL_cleanse(text, sizeof(text));
    if (rc != 0)
        OPENSSL_cleanse(r, sizeof(*r));
    return rc;
}

typedef struct fast_write {
    pl_kv_t *kv;
    pl_buf_t key;
    pl_buf_t val;     /* empty: delete */
    pl_session_t *s;  /* a <success/> waiting for this token to be stored, or NULL */
    pl_buf_t success;
    int did_bind;
} fast_write_t;

static void send_success(pl_session_t *s, const pl_buf_t *success, int did_bind);

static int fast_write_run(pl_wtxn_t *txn, void *ud)
{
    fast_write_t *w = ud;
    int rc = w->val.len ? pl_kv_put(txn, w->kv, w->key.data, w->key.len, w->val.data, w->val.len)
                        : pl_kv_del(txn, w->kv, w->key.data, w->key.len);
    return rc < 0 ? rc : 0;
}

static void fast_write_done(void *ud, int status)
{
    fast_write_t *w = ud;
    /* A lost update costs the client a password login, nothing more; the
     * <success/> carrying a new token goes once the token is stored. */
    (void)status;
    if (w->s) {
        send_success(w->s, &w->success, w->did_bind);
        OPENSSL_cleanse(w->success.data, w->success.len);
        pl_buf_deinit(&w->success);
        pl_session_unref(&w->s);
    }
    OPENSSL_cleanse(w->val.data, w->val.len);
    pl_buf_deinit(&w->key);
    pl_buf_deinit(&w->val);
    free(w);
}

static fast_write_t *fast_write_new(pl_session_t *s, const char *bare, const char *ua,
                                    const fast_rec_t *rec)
{
    fast_write_t *w = pl_xcalloc(1, sizeof(*w));
    w->kv = s->server->fast_kv;
    pl_buf_init(&w->key);
    pl_buf_init(&w->val);
    pl_buf_init(&w->success);
    fast_key(&w->key, bare, ua);
    if (rec)
        rec_encode(rec, &w->val);
    return w;
}

static void fast_submit(pl_session_t *s, fast_write_t *w)
{
    if (!s->loop->storage_port ||
        pl_storage_write(s->loop->storage_port, fast_write_run, fast_write_done, w) != 0)
        fast_write_done(w, -ESHUTDOWN);
}

static int fast_load(pl_session_t *s, const char *bare, const char *ua, fast_rec_t *rec)
{
    pl_buf_t k, v;
    pl_buf_init(&k);
    pl_buf_init(&v);
    fast_key(&k, bare, ua);
    int rc = s->server->fast_kv ? pl_kv_get(s->server->fast_kv, k.data, k.len, &v) : 0;
    if (rc == 1 && rec_decode(v.data, v.len, rec) != 0)
        rc = -EBADMSG;
    if (v.data)
        OPENSSL_cleanse(v.data, v.len);
    pl_buf_deinit(&k);
    pl_buf_deinit(&v);
    return rc;
}

/* HMAC-SHA-256(token, label || channel-binding data). */
static void ht_hmac(pl_session_t *s, const char *mech, const char *token, const char *label,
                    unsigned char out[32])
{
    unsigned char data[128];
    size_t n = strlen(label);
    memcpy(data, label, n);
    pl_cb_type_t cb = !strcmp(mech, "HT-SHA-256-EXPR")   ? PL_CB_TLS_EXPORTER
                      : !strcmp(mech, "HT-SHA-256-ENDP") ? PL_CB_TLS_SERVER_END_POINT
                                                         : PL_CB_NONE;
    pl_tls_t *tls = pl_session_tls(s);
    if (cb != PL_CB_NONE && tls)
        n += pl_tls_channel_binding(tls, cb, data + n, sizeof(data) - n);
    unsigned len = 32;
    HMAC(EVP_sha256(), token, (int)strlen(token), data, n, out, &len);
}

void pl_c2s_fast_start(pl_session_t *s, const char *mech, const uint8_t *msg, size_t len)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_sasl2_req_t *r = c->sasl2;
    if (!r || !r->fast || !fast_enabled(s)) {
        pl_c2s_auth_failed(s, "invalid-mechanism", "HT mechanisms need <fast/> inside SASL2", NULL);
        return;
    }
    const uint8_t *nul = msg ? memchr(msg, '\0', len) : NULL;
    if (!nul || (size_t)(msg + len - (nul + 1)) != 32) {
        pl_c2s_auth_failed(s, "malformed-request", NULL, NULL);
        return;
    }
    char *user = pl_xstrndup((const char *)msg, (size_t)(nul - msg));
    char *bare = pl_c2s_bare_for_username(s, user);
    free(user);
    if (!bare) {
        pl_c2s_auth_failed(s, "not-authorized", NULL, NULL);
        return;
    }
    if (pl_c2s_backoff_check(s, bare) != 0) {
        free(bare);
        return;
    }
    /* A token outlives nothing: a disabled or deleted account cannot use
     * one (SCRAM and PLAIN check the account record the same way). */
    if (!pl_server_account_exists(s->server, bare)) {
        pl_c2s_auth_failed(s, "not-authorized", NULL, bare);
        free(bare);
        return;
    }
    fast_rec_t rec;
    int found = fast_load(s, bare, r->ua_id, &rec) == 1;
    long long now = (long long)time(NULL);
    fast_token_t *match = NULL;
    int expired = 0;
    fast_token_t *cands[2] = {&rec.cur, &rec.prev};
    for (int i = 0; found && i < 2 && !match; i++) {
        fast_token_t *t = cands[i];
        if (!t->token[0] || strcmp(t->mech, mech) != 0)
            continue; /* tokens are bound to the mechanism they were issued for */
        unsigned char want[32];
        ht_hmac(s, mech, t->token, "Initiator", want);
        if (CRYPTO_memcmp(want, nul + 1, 32) == 0) {
            if (t->expiry <= now)
                expired = 1;
            else
                match = t;
        }
    }
    /* Only tls-exporter binds the message to this connection. */
    int once = !r->fast_count && strcmp(mech, "HT-SHA-256-EXPR") != 0;
    if (match && !replay_ok(s, bare, r->ua_id, match, r->fast_count, once))
        match = NULL;
    if (!match) {
        pl_c2s_auth_failed(s, expired ? "credentials-expired" : "not-authorized", NULL, bare);
        free(bare);
        OPENSSL_cleanse(&rec, sizeof(rec));
        return;
    }
    unsigned char fin[32];
    ht_hmac(s, mech, match->token, "Responder", fin);
    char *b64 = pl_base64_encode(fin, sizeof(fin));
    r->used_token = pl_xstrdup(match->token);
    /* Counts only go up; a token used without one is spent, and replaced.
     * Using the newest token retires the one before it.  The record is
     * written before <success/> goes (pl_c2s_sasl2_finish). */
    if (r->fast_count)
        match->count = r->fast_count;
    if (once) {
        match->spent = 1;
        r->rotate_mech = pl_xstrdup(mech);
    }
    if (match == &rec.cur)
        memset(&rec.prev, 0, sizeof(rec.prev));
    r->rec = pl_xmalloc(sizeof(*r->rec));
    *r->rec = rec;
    OPENSSL_cleanse(&rec, sizeof(rec));
    pl_c2s_auth_succeeded(s, bare, b64, mech);
    free(b64);
    free(bare);
}

/* A new token for this client (replacing older ones but the one this login
 * used, kept until the new one is used).  Appends the <token/> element and
 * returns the write that stores it (not yet submitted), or NULL. */
static fast_write_t *issue_token(pl_session_t *s, pl_sasl2_req_t *r, pl_buf_t *out)
{
    unsigned char raw[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    char *tok = pl_base64_encode(raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    fast_rec_t rec, old;
    memset(&rec, 0, sizeof(rec));
    memset(&old, 0, sizeof(old));
    if (r->rec || fast_load(s, s->jid.bare, r->ua_id, &old) == 1) {
        if (r->rec)
            old = *r->rec;
        if (r->used_token && !strcmp(old.cur.token, r->used_token))
            rec.prev = old.cur;
        else if (r->used_token && !strcmp(old.prev.token, r->used_token))
            rec.prev = old.prev;
    }
    long long expiry = (long long)time(NULL) + s->host->conf->fast_lifetime_ms / 1000;
    snprintf(rec.cur.token, sizeof(rec.cur.token), "%s", tok);
    snprintf(rec.cur.mech, sizeof(rec.cur.mech), "%s", r->token_mech);
    rec.cur.expiry = expiry;
    fast_write_t *w = fast_write_new(s, s->jid.bare, r->ua_id, &rec);
    char stamp[32];
    time_t t = (time_t)expiry;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pl_buf_printf(out, "<token xmlns='" PL_NS_FAST "' expiry='%s' token='%s'/>", stamp, tok);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
    OPENSSL_cleanse(&rec, sizeof(rec));
    OPENSSL_cleanse(&old, sizeof(old));
    pl_log(&s->server->log, PL_LOG_INFO, "c2s.fast_token", "jid=%s mechanism=%s", s->jid.bare,
           r->token_mech);
    return w;
}

/* ---- success ---- */

void pl_c2s_sasl2_succeeded(pl_session_t *s, const char *server_final_b64)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_sasl2_req_t *r = c->sasl2;
    r->additional = server_final_b64 ? pl_xstrdup(server_final_b64) : NULL;
    if (r->fast && r->fast_invalidate) {
        /* The token used goes (and with it the record, unless a new token
         * is asked for in the same request). */
        free(r->used_token);
        r->used_token = NULL;
        if (r->rec)
            memset(r->rec, 0, sizeof(*r->rec));
    }
    if (r->resume) {
        pl_sm_resume(s, r->previd, r->h); /* ends in pl_c2s_sasl2_finish */
        return;
    }
    pl_c2s_sasl2_finish(s, NULL, 0);
}

void pl_c2s_sasl2_finish(pl_session_t *s, const char *sm_xml, int resumed)
{
    pl_c2s_t *c = pl_c2s(s);
    pl_sasl2_req_t *r = c->sasl2;
    if (!r)
        return;
    pl_buf_t bound, b;
    pl_buf_init(&bound);
    pl_buf_init(&b);
    int did_bind = 0;
    if (!resumed && r->bind && !s->bound) {
        char *resource = resource_from_tag(r->tag);
        pl_stanza_err_t err;
        const char *text;
        if (pl_c2s_bind(s, resource, &err, &text) == 0) {
            did_bind = 1;
            pl_buf_puts(&bound, "<bound xmlns='" PL_NS_BIND2 "'>");
            if (r->bind_sm)
                pl_sm_enable(s, r->bind_sm_resume, &bound);
            if (r->bind_carbons)
                pl_session_set_flags(s, PL_RES_CARBONS, 0); /* what <enable/> of XEP-0280 sets */
            if (r->bind_inactive)
                c->csi_inactive = 1;
            pl_buf_puts(&bound, "</bound>");
        } else {
            pl_log(&s->server->log, PL_LOG_INFO, "c2s.bind2_refused", "jid=%s reason=%s",
                   s->jid.bare, text);
        }
        free(resource);
    }
    pl_buf_puts(&b, "<success xmlns='" PL_NS_SASL2 "'>");
    if (r->additional)
        pl_buf_printf(&b, "<additional-data>%s</additional-data>", r->additional);
    pl_buf_puts(&b, "<authorization-identifier>");
    const char *jid = s->jid.full ? s->jid.full : s->jid.bare;
    pl_buf_escape(&b, jid, strlen(jid), 0);
    pl_buf_puts(&b, "</authorization-identifier>");
    /* A login without a count spent its token: a new one replaces it
     * (unless the client asked for none at all by invalidating it). */
    if (!r->token_mech && r->rotate_mech && !r->fast_invalidate) {
        r->token_mech = r->rotate_mech;
        r->rotate_mech = NULL;
    }
    fast_write_t *w = r->token_mech ? issue_token(s, r, &b) : NULL;
    if (!w && r->rec) /* a FAST login: its count, retired or invalidated tokens */
        w = fast_write_new(s, s->jid.bare, r->ua_id,
                           r->rec->cur.token[0] || r->rec->prev.token[0] ? r->rec : NULL);
    if (sm_xml)
        pl_buf_puts(&b, sm_xml);
    pl_buf_append(&b, bound.data, bound.len);
    pl_buf_puts(&b, "</success>");
    pl_buf_deinit(&bound);
    pl_c2s_sasl2_free(s);
    if (!w) {
        send_success(s, &b, did_bind);
        pl_buf_deinit(&b);
        return;
    }
    /* A token is only worth handing out once it is stored.  Meanwhile the
     * session may already receive stanzas: they wait, as during an SM
     * handover, and go out after <success/>. */
    w->s = pl_session_ref(s);
    w->success = b;
    w->did_bind = did_bind;
    c->resuming = 1;
    fast_submit(s, w);
}

static void send_success(pl_session_t *s, const pl_buf_t *success, int did_bind)
{
    pl_c2s_t *c = pl_c2s(s);
    c->resuming = 0;
    if (s->closing)
        return;
    pl_session_send_raw(s, success->data, success->len);
    if (did_bind)
        pl_c2s_bound(s);
    for (size_t i = 0; i < c->nearly; i++) {
        pl_session_deliver(s, c->early[i]);
        pl_stanza_unref(&c->early[i]);
    }
    c->nearly = 0;
    c->early_bytes = 0;
}
