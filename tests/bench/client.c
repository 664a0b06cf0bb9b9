/* client.c — the XMPP side of a generator connection: a streaming expat
 * parser per stream, the login sequence (features, STARTTLS, SASL, bind,
 * legacy session, roster, presence) and, once online, the few stanzas a
 * scenario sends or has to answer.  Only the top-level element being parsed
 * is kept, with the little of it that matters (a few attributes, one text). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/bench/bench.h"

#define NS_STREAMS "http://etherx.jabber.org/streams"
#define NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_CLIENT "jabber:client"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_ROSTER "jabber:iq:roster"
#define NS_PING "urn:xmpp:ping"
#define NS_MAM "urn:xmpp:mam:2"
#define NS_RSM "http://jabber.org/protocol/rsm"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"

#define MARK BENCH_MARK
#define SASL_TEXT_MAX 4096
#define MARK_TEXT_MAX 64 /* only the marked prefix of a body is needed */
#define ID_TEXT_MAX 256  /* an archive id in an RSM <first/> */

enum kind {
    K_OTHER,
    K_FEATURES,
    K_PROCEED,
    K_TLS_FAILURE,
    K_CHALLENGE,
    K_SUCCESS,
    K_SASL_FAILURE,
    K_STREAM_ERROR,
    K_IQ,
    K_MESSAGE,
    K_PRESENCE,
};
enum type {
    T_NONE,
    T_GET,
    T_SET,
    T_RESULT,
    T_ERROR,
    T_UNAVAILABLE,
    T_SUBSCRIBE,
    T_SUBSCRIBED,
    T_GROUPCHAT,
    T_OTHER
};
enum payload { P_NONE, P_PING, P_ROSTER, P_MAM_RESULT, P_MAM_FIN, P_OTHER };
enum capture { CAP_NONE, CAP_SASL, CAP_MECH, CAP_MARK, CAP_FIRST };

struct bench_stanza {
    uint8_t kind, type, payload, capture;
    uint8_t in_error;   /* inside a stanza's <error/> */
    uint8_t complete;   /* a MAM <fin complete='true'/> */
    uint8_t muc_codes;  /* BENCH_MUC_SELF / _CREATED: status codes 110 and 201 */
    uint16_t cap_depth; /* depth of the element whose text is kept; 0 = none */
    char *id, *from;
    char cond[48]; /* the error condition, if any */
    char *text;
    uint32_t text_len, text_cap;
};

/* ---- small helpers ---- */

/* 1 when an expat name "uri|local" is {ns}local. */
static int is(const char *name, const char *ns, const char *local)
{
    size_t n = strlen(ns);
    return strncmp(name, ns, n) == 0 && name[n] == '|' && strcmp(name + n + 1, local) == 0;
}

static const char *local_name(const char *name)
{
    const char *bar = strrchr(name, '|');
    return bar ? bar + 1 : name;
}

static int in_ns(const char *name, const char *ns)
{
    size_t n = strlen(ns);
    return strncmp(name, ns, n) == 0 && name[n] == '|';
}

/* Copies `in` into out with the five XML specials escaped (attribute use). */
static void escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *in && o + 7 < outlen; in++) {
        const char *rep = NULL;
        switch (*in) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = "&apos;"; break;
        case '"': rep = "&quot;"; break;
        }
        if (rep) {
            size_t r = strlen(rep);
            memcpy(out + o, rep, r);
            o += r;
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

static void sendf(bench_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sendf(bench_conn_t *c, const char *fmt, ...)
{
    char *buf = c->w->sbuf;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(c->w->sbuf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(c->w->sbuf)) {
        buf = malloc((size_t)n + 1);
        if (!buf)
            return;
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    bench_conn_send(c, buf, (size_t)n);
    if (buf != c->w->sbuf)
        free(buf);
}

static void stanza_free(bench_stanza_t *st)
{
    if (!st)
        return;
    free(st->id);
    free(st->from);
    free(st->text);
    free(st);
}

static const char *text_of(const bench_stanza_t *st)
{
    return st->text ? st->text : "";
}

static void fail(bench_conn_t *c, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(bench_conn_t *c, int reason, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    bench_conn_fail(c, reason, why);
}

/* Parses MARK's payload: "<time us> <account>"; 1 when well formed. */
static int parse_mark(const char *text, uint64_t *ts_us, uint32_t *sender)
{
    unsigned long long ts;
    unsigned n;
    if (strncmp(text, MARK, sizeof(MARK) - 1) != 0 ||
        sscanf(text + sizeof(MARK) - 1, "%llu %u", &ts, &n) != 2)
        return 0;
    *ts_us = ts;
    *sender = n;
    return 1;
}

/* ---- the parser's callbacks ---- */

static void start_capture(bench_conn_t *c, bench_stanza_t *st, int what)
{
    st->capture = (uint8_t)what;
    st->cap_depth = c->depth;
    st->text_len = 0;
}

static int parse_type(const char *v)
{
    static const struct {
        const char *name;
        int type;
    } types[] = {
        {"get", T_GET},
        {"set", T_SET},
        {"result", T_RESULT},
        {"error", T_ERROR},
        {"unavailable", T_UNAVAILABLE},
        {"subscribe", T_SUBSCRIBE},
        {"subscribed", T_SUBSCRIBED},
        {"groupchat", T_GROUPCHAT},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(v, types[i].name) == 0)
            return types[i].type;
    return T_OTHER;
}

static void stanza_begin(bench_conn_t *c, const char *name, const char **attrs)
{
    bench_stanza_t *st = calloc(1, sizeof(*st));
    if (!st) {
        fail(c, BENCH_FAIL_CLOSED, "out of memory");
        return;
    }
    c->st = st;
    if (is(name, NS_STREAMS, "features")) {
        st->kind = K_FEATURES;
        c->feat = 0;
    } else if (is(name, NS_STREAMS, "error")) {
        st->kind = K_STREAM_ERROR;
    } else if (is(name, NS_TLS, "proceed")) {
        st->kind = K_PROCEED;
    } else if (is(name, NS_TLS, "failure")) {
        st->kind = K_TLS_FAILURE;
    } else if (is(name, NS_SASL, "challenge") || is(name, NS_SASL, "success")) {
        st->kind = is(name, NS_SASL, "success") ? K_SUCCESS : K_CHALLENGE;
        start_capture(c, st, CAP_SASL);
    } else if (is(name, NS_SASL, "failure")) {
        st->kind = K_SASL_FAILURE;
    } else if (is(name, NS_CLIENT, "iq")) {
        st->kind = K_IQ;
    } else if (is(name, NS_CLIENT, "message")) {
        st->kind = K_MESSAGE;
    } else if (is(name, NS_CLIENT, "presence")) {
        st->kind = K_PRESENCE;
    }
    if (st->kind != K_IQ && st->kind != K_MESSAGE && st->kind != K_PRESENCE)
        return;
    for (const char **a = attrs; a[0]; a += 2) {
        if (strcmp(a[0], "type") == 0)
            st->type = (uint8_t)parse_type(a[1]);
        else if (strcmp(a[0], "id") == 0 && st->kind == K_IQ)
            st->id = strdup(a[1]);
        else if (strcmp(a[0], "from") == 0 && st->kind != K_MESSAGE)
            st->from = strdup(a[1]);
    }
}

static void mark_mutual(bench_conn_t *c, const char *jid);

static void child_begin(bench_conn_t *c, bench_stanza_t *st, const char *name, const char **attrs)
{
    int d = c->depth;
    if (st->kind == K_FEATURES) {
        if (d == 3 && is(name, NS_TLS, "starttls"))
            c->feat |= BENCH_FEAT_STARTTLS;
        else if (d == 3 && is(name, NS_BIND, "bind"))
            c->feat |= BENCH_FEAT_BIND;
        else if (d == 3 && is(name, NS_SESSION, "session"))
            c->feat |= BENCH_FEAT_SESSION;
        else if (d == 4 && is(name, NS_SESSION, "optional"))
            c->feat &= (uint8_t)~BENCH_FEAT_SESSION; /* RFC 6121 made it a no-op */
        else if (d == 4 && is(name, NS_SASL, "mechanism"))
            start_capture(c, st, CAP_MECH);
        return;
    }
    if (st->kind == K_SASL_FAILURE || st->kind == K_STREAM_ERROR) {
        if (d == 3 && !st->cond[0] && strcmp(local_name(name), "text") != 0)
            snprintf(st->cond, sizeof(st->cond), "%s", local_name(name));
        return;
    }
    if (d == 3 && is(name, NS_CLIENT, "error")) {
        st->in_error = 1;
        return;
    }
    if (d == 4 && st->in_error) {
        if (!st->cond[0] && in_ns(name, NS_STANZAS) && strcmp(local_name(name), "text") != 0)
            snprintf(st->cond, sizeof(st->cond), "%s", local_name(name));
        return;
    }
    if (d == 4 && st->kind == K_IQ && st->payload == P_ROSTER && is(name, NS_ROSTER, "item") &&
        (st->type == T_RESULT || st->type == T_SET)) {
        /* The roster, or a push: what is mutual already needs no asking. */
        const char *jid = NULL, *sub = NULL;
        for (const char **a = attrs; a[0]; a += 2) {
            if (strcmp(a[0], "jid") == 0)
                jid = a[1];
            else if (strcmp(a[0], "subscription") == 0)
                sub = a[1];
        }
        if (jid && sub && strcmp(sub, "both") == 0)
            mark_mutual(c, jid);
        return;
    }
    if (d == 4 && st->kind == K_PRESENCE && is(name, NS_MUC_USER, "status")) {
        for (const char **a = attrs; a[0]; a += 2)
            if (strcmp(a[0], "code") == 0)
                st->muc_codes |= strcmp(a[1], "110") == 0   ? BENCH_MUC_SELF
                                 : strcmp(a[1], "201") == 0 ? BENCH_MUC_CREATED
                                                            : 0;
        return;
    }
    if (d == 5 && st->payload == P_MAM_FIN && is(name, NS_RSM, "first")) {
        start_capture(c, st, CAP_FIRST);
        return;
    }
    if (d != 3)
        return;
    if (st->kind == K_IQ && st->payload == P_NONE) {
        if (is(name, NS_PING, "ping")) {
            st->payload = P_PING;
        } else if (is(name, NS_ROSTER, "query")) {
            st->payload = P_ROSTER;
        } else if (is(name, NS_MAM, "fin")) {
            st->payload = P_MAM_FIN;
            for (const char **a = attrs; a[0]; a += 2)
                if (strcmp(a[0], "complete") == 0)
                    st->complete = strcmp(a[1], "true") == 0 || strcmp(a[1], "1") == 0;
        } else {
            st->payload = P_OTHER;
        }
    } else if (st->kind == K_MESSAGE && is(name, NS_MAM, "result")) {
        st->payload = P_MAM_RESULT;
    } else if ((st->kind == K_MESSAGE && is(name, NS_CLIENT, "body")) ||
               (st->kind == K_PRESENCE && is(name, NS_CLIENT, "status"))) {
        if (st->capture == CAP_NONE)
            start_capture(c, st, CAP_MARK);
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    bench_conn_t *c = ud;
    c->depth++;
    if (c->flags & BENCH_CF_DEAD)
        return;
    if (c->depth == 1) {
        if (!is(name, NS_STREAMS, "stream"))
            fail(c, BENCH_FAIL_XML, "the server's first element is not a stream");
        return;
    }
    if (c->depth == 2) {
        /* Where this start tag ends: for an empty element, also where the
         * element ends (expat gives its end event no bytes). */
        c->xml_head_end =
            (uint64_t)XML_GetCurrentByteIndex(c->xml) + (uint64_t)XML_GetCurrentByteCount(c->xml);
        stanza_begin(c, name, attrs);
    } else if (c->st)
        child_begin(c, c->st, name, attrs);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    bench_conn_t *c = ud;
    bench_stanza_t *st = c->st;
    if (!st || !st->cap_depth || (c->flags & BENCH_CF_DEAD))
        return;
    uint32_t max = st->capture == CAP_MARK    ? MARK_TEXT_MAX
                   : st->capture == CAP_FIRST ? ID_TEXT_MAX
                                              : SASL_TEXT_MAX;
    uint32_t take = (uint32_t)len;
    if (st->text_len + take > max)
        take = max - st->text_len;
    if (take == 0)
        return;
    if (st->text_len + take + 1 > st->text_cap) {
        uint32_t cap = st->text_cap ? st->text_cap : 64;
        while (cap < st->text_len + take + 1)
            cap *= 2;
        char *p = realloc(st->text, cap);
        if (!p)
            return;
        st->text = p;
        st->text_cap = cap;
    }
    memcpy(st->text + st->text_len, s, take);
    st->text_len += take;
    st->text[st->text_len] = '\0';
}

static void stanza_end(bench_conn_t *c, bench_stanza_t *st);

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    bench_conn_t *c = ud;
    int d = c->depth--;
    if (c->flags & BENCH_CF_DEAD)
        return;
    if (d == 1) {
        fail(c, BENCH_FAIL_CLOSED, "the server ended the stream");
        return;
    }
    if (d == 2) {
        int count = XML_GetCurrentByteCount(c->xml);
        c->xml_boundary =
            count ? (uint64_t)XML_GetCurrentByteIndex(c->xml) + (uint64_t)count : c->xml_head_end;
    }
    bench_stanza_t *st = c->st;
    if (!st)
        return;
    if (d == 2) {
        c->st = NULL;
        stanza_end(c, st);
        stanza_free(st);
        return;
    }
    if (d == st->cap_depth) {
        st->cap_depth = 0;
        if (st->capture == CAP_MECH) {
            if (strcmp(text_of(st), bench_mech_name(c->w->o->mech)) == 0)
                c->feat |= BENCH_FEAT_MECH;
            st->capture = CAP_NONE;
            st->text_len = 0;
            if (st->text)
                st->text[0] = '\0';
        }
    }
    if (d == 3)
        st->in_error = 0;
}

/* ---- the login sequence ---- */

static void send_auth(bench_conn_t *c)
{
    const bench_opts_t *o = c->w->o;
    char user[256], password[256];
    bench_user_name(o, c->user->n, user, sizeof(user));
    bench_user_password(o, c->user->n, password, sizeof(password));
    char *msg = NULL;
    if (o->mech == BENCH_MECH_PLAIN)
        msg = bench_plain_message(user, password);
    else
        c->scram = bench_scram_new(o->mech, user, &msg);
    if (!msg) {
        fail(c, BENCH_FAIL_AUTH, "cannot build the first SASL message");
        return;
    }
    sendf(c, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s</auth>", bench_mech_name(o->mech), msg);
    free(msg);
    c->state = BENCH_CS_AUTH;
}

static void on_features(bench_conn_t *c)
{
    const bench_opts_t *o = c->w->o;
    if (c->state != BENCH_CS_FEATURES)
        return; /* features again mid-session: nothing to do */
    if (!(c->flags & BENCH_CF_AUTHED)) {
        if (o->tls == BENCH_TLS_STARTTLS && !c->ssl) {
            if (!(c->feat & BENCH_FEAT_STARTTLS)) {
                fail(c, BENCH_FAIL_FEATURES, "the server does not offer STARTTLS");
                return;
            }
            sendf(c, "<starttls xmlns='" NS_TLS "'/>");
            c->state = BENCH_CS_STARTTLS;
            return;
        }
        if (!(c->feat & BENCH_FEAT_MECH)) {
            fail(c, BENCH_FAIL_FEATURES, "the server does not offer %s", bench_mech_name(o->mech));
            return;
        }
        send_auth(c);
        return;
    }
    if (!(c->feat & BENCH_FEAT_BIND)) {
        fail(c, BENCH_FAIL_FEATURES, "the server does not offer resource binding");
        return;
    }
    if (o->scenario == BENCH_LOGIN && !o->keep)
        /* Cycling accounts: a new resource each time, so a login never
         * replaces the previous one (which may still be closing). */
        sendf(c,
              "<iq type='set' id='bind'><bind xmlns='" NS_BIND
              "'><resource>%s-%u</resource></bind></iq>",
              o->resource, c->login_no);
    else
        sendf(c,
              "<iq type='set' id='bind'><bind xmlns='" NS_BIND
              "'><resource>%s</resource></bind></iq>",
              o->resource);
    c->state = BENCH_CS_BIND;
}

static void on_challenge(bench_conn_t *c, bench_stanza_t *st)
{
    if (c->state != BENCH_CS_AUTH || !c->scram) {
        fail(c, BENCH_FAIL_AUTH, "unexpected SASL challenge");
        return;
    }
    if (c->flags & BENCH_CF_SASL_FINAL) {
        /* Some servers send the server-final message as a challenge and
         * expect an empty response before <success/>. */
        if (!bench_scram_verify(c->scram, text_of(st))) {
            fail(c, BENCH_FAIL_AUTH, "the server's SCRAM signature does not verify");
            return;
        }
        bench_scram_free(c->scram);
        c->scram = NULL;
        sendf(c, "<response xmlns='" NS_SASL "'/>");
        return;
    }
    const bench_opts_t *o = c->w->o;
    bench_user_t *u = c->user;
    char password[256];
    bench_user_password(o, u->n, password, sizeof(password));
    bench_scram_keys_t *cache = NULL;
    if (o->scram_cache) {
        if (!u->keys)
            u->keys = calloc(1, sizeof(*u->keys));
        cache = u->keys;
    }
    const char *why = "";
    char *final = bench_scram_final(c->scram, password, text_of(st), cache, &why);
    if (!final) {
        fail(c, BENCH_FAIL_AUTH, "SCRAM: %s", why);
        return;
    }
    sendf(c, "<response xmlns='" NS_SASL "'>%s</response>", final);
    free(final);
    c->flags |= BENCH_CF_SASL_FINAL;
}

static void on_success(bench_conn_t *c, bench_stanza_t *st)
{
    if (c->state != BENCH_CS_AUTH) {
        fail(c, BENCH_FAIL_AUTH, "unexpected SASL success");
        return;
    }
    if (c->scram) {
        if (!(c->flags & BENCH_CF_SASL_FINAL) || !bench_scram_verify(c->scram, text_of(st))) {
            fail(c, BENCH_FAIL_AUTH, "the server's SCRAM signature is missing or wrong");
            return;
        }
        bench_scram_free(c->scram);
        c->scram = NULL;
    }
    c->flags |= BENCH_CF_AUTHED | BENCH_CF_RESTART;
    c->state = BENCH_CS_FEATURES;
    /* The new stream needs a new parser, which cannot happen inside this
     * one's callback: stop here and restart once XML_Parse returns. */
    XML_StopParser(c->xml, XML_FALSE);
}

static void logged_in(bench_conn_t *c)
{
    c->state = BENCH_CS_ONLINE;
    if (c->w->o->initial_presence)
        sendf(c, "<presence/>");
    bench_worker_logged_in(c->w, c);
}

static void after_session(bench_conn_t *c)
{
    if (c->w->o->roster_get) {
        sendf(c, "<iq type='get' id='roster'><query xmlns='" NS_ROSTER "'/></iq>");
        c->state = BENCH_CS_ROSTER;
    } else {
        logged_in(c);
    }
}

/* An answer to one of our IQs during login: 1 when it was one. */
static int login_iq(bench_conn_t *c, bench_stanza_t *st)
{
    const char *id = st->id ? st->id : "";
    int ok = st->type == T_RESULT;
    const char *cond = st->cond[0] ? st->cond : "error";
    if (c->state == BENCH_CS_BIND && strcmp(id, "bind") == 0) {
        if (!ok) {
            fail(c, BENCH_FAIL_BIND, "bind: %s", cond);
        } else if (c->feat & BENCH_FEAT_SESSION) {
            sendf(c, "<iq type='set' id='sess'><session xmlns='" NS_SESSION "'/></iq>");
            c->state = BENCH_CS_SESSION;
        } else {
            after_session(c);
        }
        return 1;
    }
    if (c->state == BENCH_CS_SESSION && strcmp(id, "sess") == 0) {
        if (ok)
            after_session(c);
        else
            fail(c, BENCH_FAIL_BIND, "session: %s", cond);
        return 1;
    }
    if (c->state == BENCH_CS_ROSTER && strcmp(id, "roster") == 0) {
        if (ok)
            logged_in(c);
        else
            fail(c, BENCH_FAIL_ROSTER, "roster get: %s", cond);
        return 1;
    }
    return 0;
}

/* ---- online ---- */

static void mam_answer(bench_conn_t *c, bench_stanza_t *st);

static void on_iq(bench_conn_t *c, bench_stanza_t *st)
{
    bench_stats_t *s = &c->w->stats;
    if (st->type == T_RESULT || st->type == T_ERROR) {
        if (c->q_t0 && st->id && strncmp(st->id, "mam", 3) == 0)
            mam_answer(c, st);
        else if (c->w->o->scenario == BENCH_MUC && st->id &&
                 bench_muc_iq(c, st->id, st->type == T_ERROR, st->cond[0] ? st->cond : "error"))
            return;
        else if (!login_iq(c, st) && st->type == T_ERROR)
            s->c[BENCH_C_IQ_ERRORS]++;
        return;
    }
    if (st->type != T_GET && st->type != T_SET)
        return;
    /* Requests from the server or another entity: pings and roster pushes
     * are acknowledged, anything else is refused as a plain client would. */
    char id[256], to[600] = "";
    escape(st->id ? st->id : "", id, sizeof(id));
    if (st->from) {
        char from[512];
        escape(st->from, from, sizeof(from));
        snprintf(to, sizeof(to), " to='%s'", from);
    }
    if (st->payload == P_PING || (st->payload == P_ROSTER && st->type == T_SET))
        sendf(c, "<iq type='result' id='%s'%s/>", id, to);
    else
        sendf(c,
              "<iq type='error' id='%s'%s><error type='cancel'><service-unavailable "
              "xmlns='" NS_STANZAS "'/></error></iq>",
              id, to);
    s->c[BENCH_C_IQ_ANSWERED]++;
}

/* A marked body or status: 1 when it came from another account of this run,
 * with its delivery latency in *us. */
static int marked(bench_conn_t *c, const bench_stanza_t *st, uint64_t *us)
{
    uint64_t ts, now_us = bench_now_ns() / 1000;
    uint32_t sender;
    if (!parse_mark(text_of(st), &ts, &sender) || sender == c->user->n)
        return 0;
    if (ts < c->w->o->origin_ns / 1000)
        return 0; /* left over from an earlier run (offline storage) */
    *us = now_us > ts ? now_us - ts : 0;
    return 1;
}

static void on_message(bench_conn_t *c, bench_stanza_t *st)
{
    bench_worker_t *w = c->w;
    uint64_t us;
    if (st->payload == P_MAM_RESULT) {
        w->stats.c[BENCH_C_MAM_ITEMS]++;
        return;
    }
    if (w->o->scenario == BENCH_MUC) {
        if (st->type == T_ERROR)
            bench_muc_message(c, "", 1, st->cond[0] ? st->cond : "error");
        else if (st->type == T_GROUPCHAT)
            bench_muc_message(c, text_of(st), 0, "");
        return;
    }
    if (st->type == T_ERROR) {
        w->stats.c[BENCH_C_CHAT_ERRORS]++;
        if (!w->stats.first_error[0])
            snprintf(w->stats.first_error, sizeof(w->stats.first_error), "message bounced: %s",
                     st->cond[0] ? st->cond : "error");
        return;
    }
    if (!marked(c, st, &us))
        return;
    bench_hist_record(&w->stats.chat, us);
    w->stats.c[BENCH_C_CHAT_RECV]++;
    w->stats.last_recv = bench_now_ns();
    atomic_fetch_add_explicit(&w->a_recv, 1, memory_order_relaxed);
}

static void on_presence(bench_conn_t *c, bench_stanza_t *st)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    uint64_t us;
    if (o->scenario == BENCH_MUC && st->from &&
        bench_muc_presence(c, st->from, st->type == T_ERROR, st->type == T_UNAVAILABLE,
                           st->muc_codes, st->cond[0] ? st->cond : "error"))
        return;
    switch (st->type) {
    case T_SUBSCRIBE:
        if (st->from) {
            /* Approve everyone: setup-rosters relies on it, and a contact
             * asking during another scenario does no harm. */
            char bare[512];
            escape(st->from, bare, sizeof(bare));
            char *slash = strchr(bare, '/');
            if (slash)
                *slash = '\0';
            sendf(c, "<presence to='%s' type='subscribed'/>", bare);
        }
        break;
    case T_ERROR: w->stats.c[BENCH_C_PRES_ERRORS]++; break;
    case T_NONE:
    case T_UNAVAILABLE:
        if (marked(c, st, &us)) {
            bench_hist_record(&w->stats.pres, us);
            w->stats.c[BENCH_C_PRES_RECV]++;
            w->stats.last_recv = bench_now_ns();
            if (o->scenario == BENCH_PRESENCE)
                atomic_fetch_add_explicit(&w->a_recv, 1, memory_order_relaxed);
        }
        break;
    default: break;
    }
}

static void stanza_end(bench_conn_t *c, bench_stanza_t *st)
{
    switch (st->kind) {
    case K_FEATURES: on_features(c); break;
    case K_PROCEED:
        if (c->state != BENCH_CS_STARTTLS) {
            fail(c, BENCH_FAIL_TLS, "unexpected <proceed/>");
            break;
        }
        /* The transport starts TLS once this read is handled. */
        c->flags |= BENCH_CF_START_TLS;
        XML_StopParser(c->xml, XML_FALSE);
        break;
    case K_TLS_FAILURE: fail(c, BENCH_FAIL_TLS, "the server refused STARTTLS"); break;
    case K_CHALLENGE: on_challenge(c, st); break;
    case K_SUCCESS: on_success(c, st); break;
    case K_SASL_FAILURE:
        fail(c, BENCH_FAIL_AUTH, "SASL failure: %s", st->cond[0] ? st->cond : "(no condition)");
        break;
    case K_STREAM_ERROR:
        fail(c, BENCH_FAIL_STREAM, "stream error: %s", st->cond[0] ? st->cond : "(no condition)");
        break;
    case K_IQ: on_iq(c, st); break;
    case K_MESSAGE: on_message(c, st); break;
    case K_PRESENCE: on_presence(c, st); break;
    default: break;
    }
}

/* ---- what the transport and the worker call ---- */

void bench_client_open_stream(bench_conn_t *c)
{
    if (!c->xml) {
        c->xml = XML_ParserCreateNS(NULL, '|');
        if (!c->xml) {
            fail(c, BENCH_FAIL_XML, "cannot create an XML parser");
            return;
        }
    } else {
        XML_ParserReset(c->xml, NULL);
    }
    XML_SetUserData(c->xml, c);
    XML_SetElementHandler(c->xml, on_start, on_end);
    XML_SetCharacterDataHandler(c->xml, on_text);
    stanza_free(c->st);
    c->st = NULL;
    c->depth = 0;
    c->xml_fed = 0;
    c->xml_boundary = UINT64_MAX; /* not between stanzas until the first one ends */
    sendf(c,
          "<?xml version='1.0'?><stream:stream xmlns='" NS_CLIENT "' xmlns:stream='" NS_STREAMS
          "' to='%s' version='1.0' xml:lang='en'>",
          c->w->o->domain);
}

/* The muc fast path: a marked groupchat message that starts at data, read
 * without the XML parser.  At a few hundred thousand deliveries a second the
 * generator's parse of every received stanza costs more CPU than the server
 * spends sending it, and both share the machine's cores; here a delivery
 * costs a few memchr/memmem over its bytes.  Only the plainest form is taken:
 * <message ... type='groupchat' ...> with no nested <message> (a forwarded
 * one), a <body> that starts with the mark, and the end tag in this buffer.
 * Anything else returns 0 and goes to the parser, which then sees whole
 * stanzas only, as if nothing had been skipped.  Returns the stanza's length,
 * or 0. */
static size_t fast_groupchat(bench_conn_t *c, const char *data, size_t len)
{
    static const char end_tag[] = "</message>", body[] = "<body>" MARK;
    if (len < 9 || memcmp(data, "<message ", 9) != 0)
        return 0;
    const char *end = memmem(data, len, end_tag, sizeof(end_tag) - 1);
    if (!end)
        return 0;
    const char *gt = memchr(data, '>', (size_t)(end - data));
    if (!gt || gt[-1] == '/')
        return 0;
    size_t head = (size_t)(gt - data), inner = (size_t)(end - gt);
    if ((!memmem(data, head, " type='groupchat'", 17) &&
         !memmem(data, head, " type=\"groupchat\"", 17)) ||
        memmem(gt, inner, "<message", 8))
        return 0;
    const char *b = memmem(gt, inner, body, sizeof(body) - 1);
    if (!b)
        return 0;
    b += 6; /* the mark itself is checked again by bench_muc_message */
    const char *stop = memchr(b, '<', (size_t)(end - b) + 1); /* end's '<' at the latest */
    char text[MARK_TEXT_MAX + 1];
    size_t n = (size_t)(stop - b) < MARK_TEXT_MAX ? (size_t)(stop - b) : MARK_TEXT_MAX;
    memcpy(text, b, n);
    text[n] = '\0';
    bench_muc_message(c, text, 0, "");
    return (size_t)(end - data) + sizeof(end_tag) - 1;
}

void bench_client_input(bench_conn_t *c, const char *data, size_t len)
{
    if (c->w->o->scenario == BENCH_MUC && c->state == BENCH_CS_ONLINE) {
        while (len && c->depth == 1 && c->xml_boundary == c->xml_fed &&
               !(c->flags & BENCH_CF_DEAD)) {
            size_t n = fast_groupchat(c, data, len);
            if (!n)
                break;
            data += n;
            len -= n;
        }
        if (!len || (c->flags & BENCH_CF_DEAD))
            return;
    }
    c->xml_fed += len;
    if (XML_Parse(c->xml, data, (int)len, 0) == XML_STATUS_ERROR) {
        if (c->flags & BENCH_CF_DEAD)
            return;
        enum XML_Error e = XML_GetErrorCode(c->xml);
        if (e != XML_ERROR_ABORTED || !(c->flags & (BENCH_CF_RESTART | BENCH_CF_START_TLS))) {
            fail(c, BENCH_FAIL_XML, "bad XML from the server: %s", XML_ErrorString(e));
            return;
        }
    }
    if (c->flags & BENCH_CF_DEAD)
        return;
    if (c->flags & BENCH_CF_RESTART) {
        c->flags &= (uint16_t)~BENCH_CF_RESTART;
        bench_client_open_stream(c);
    }
}

void bench_client_free(bench_conn_t *c)
{
    stanza_free(c->st);
    c->st = NULL;
    if (c->xml)
        XML_ParserFree(c->xml);
    c->xml = NULL;
    bench_scram_free(c->scram);
    c->scram = NULL;
    free(c->q_before);
    c->q_before = NULL;
    c->q_t0 = 0;
}

/* Appends a piece to the batch in w->sbuf, sending the batch first when the
 * piece would not fit. */
static void batch_add(bench_conn_t *c, size_t *used, const char *piece, size_t n)
{
    bench_worker_t *w = c->w;
    if (*used + n > sizeof(w->sbuf)) {
        bench_conn_send(c, w->sbuf, *used);
        *used = 0;
    }
    if (n > sizeof(w->sbuf)) {
        bench_conn_send(c, piece, n);
        return;
    }
    memcpy(w->sbuf + *used, piece, n);
    *used += n;
}

void bench_client_chat(bench_conn_t *c)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    uint64_t ts = bench_now_ns() / 1000;
    char name[256], piece[4096 + 512];
    size_t used = 0;
    for (uint32_t d = 1; d <= o->neighbours; d++) {
        uint32_t to = bench_neighbour(o, c->user->n, d);
        bench_user_name(o, to, name, sizeof(name));
        int n = snprintf(piece, sizeof(piece),
                         "<message to='%s@%s%s%s' type='chat' id='m%llu'><body>" MARK "%llu %u",
                         name, o->domain, o->to_bare ? "" : "/", o->to_bare ? "" : o->resource,
                         (unsigned long long)++w->msg_seq, (unsigned long long)ts, c->user->n);
        if (n < 0 || (size_t)n >= sizeof(piece) - 64)
            continue;
        /* Padding up to --body-size (the body starts after "<body>"). */
        size_t body_len = (size_t)n - (size_t)(strstr(piece, "<body>") + 6 - piece);
        if (o->body_bytes > body_len + 1) {
            size_t pad = o->body_bytes - body_len;
            if (pad > sizeof(piece) - (size_t)n - 32)
                pad = sizeof(piece) - (size_t)n - 32;
            piece[n++] = ' ';
            memset(piece + n, 'x', pad - 1);
            n += (int)pad - 1;
        }
        memcpy(piece + n, "</body></message>", 17);
        n += 17;
        batch_add(c, &used, piece, (size_t)n);
        w->stats.c[BENCH_C_CHAT_SENT]++;
        atomic_fetch_add_explicit(&w->a_sent, 1, memory_order_relaxed);
    }
    if (used)
        bench_conn_send(c, w->sbuf, used);
}

void bench_client_presence(bench_conn_t *c)
{
    bench_worker_t *w = c->w;
    int away = !(c->flags & BENCH_CF_SHOW_AWAY);
    c->flags ^= BENCH_CF_SHOW_AWAY;
    sendf(c, "<presence>%s<status>" MARK "%llu %u</status></presence>",
          away ? "<show>away</show>" : "", (unsigned long long)(bench_now_ns() / 1000), c->user->n);
    w->stats.c[BENCH_C_PRES_SENT]++;
    atomic_fetch_add_explicit(&w->a_sent, 1, memory_order_relaxed);
}

void bench_client_setup_roster(bench_conn_t *c)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    bench_user_t *u = c->user;
    int64_t half = o->roster_size / 2;
    char name[256], piece[1024];
    size_t used = 0;
    u->setup_sent = 1;
    for (int64_t d = -half; d <= half; d++) {
        int k = (int)(d < 0 ? d + half : d + half - 1);
        if (d == 0 || (u->contacts && (u->contacts[k / 8] & (1u << (k % 8)))))
            continue;
        bench_user_name(o, bench_neighbour(o, u->n, d), name, sizeof(name));
        int n = snprintf(piece, sizeof(piece),
                         "<iq type='set' id='rs%lld'><query xmlns='" NS_ROSTER
                         "'><item jid='%s@%s'/></query></iq>"
                         "<presence to='%s@%s' type='subscribe'/>",
                         (long long)d, name, o->domain, name, o->domain);
        if (n > 0 && (size_t)n < sizeof(piece))
            batch_add(c, &used, piece, (size_t)n);
        w->stats.c[BENCH_C_SUB_SENT]++;
    }
    if (used)
        bench_conn_send(c, w->sbuf, used);
}

/* setup-rosters: the place (0 .. r-1) of bare or full `jid` among the
 * contacts of account n (its r/2 neighbours on each side), or -1. */
static int contact_index(const bench_opts_t *o, uint32_t n, const char *jid)
{
    const char *at = strchr(jid, '@');
    size_t bare = strcspn(jid, "/");
    size_t dlen = strlen(o->domain);
    if (!at || (size_t)(at - jid) >= bare || bare - (size_t)(at - jid) - 1 != dlen ||
        strncasecmp(at + 1, o->domain, dlen) != 0)
        return -1;
    size_t llen = (size_t)(at - jid);
    int64_t half = o->roster_size / 2;
    char name[256];
    for (int64_t d = -half; d <= half; d++) {
        if (d == 0)
            continue;
        bench_user_name(o, bench_neighbour(o, n, d), name, sizeof(name));
        /* Servers may have lower-cased the localpart (PRECIS). */
        if (strlen(name) == llen && strncasecmp(name, jid, llen) == 0)
            return (int)(d < 0 ? d + half : d + half - 1);
    }
    return -1;
}

static void mark_mutual(bench_conn_t *c, const char *jid)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    bench_user_t *u = c->user;
    if (o->scenario != BENCH_SETUP_ROSTERS)
        return;
    if (!u->contacts && !(u->contacts = calloc((o->roster_size + 7) / 8, 1)))
        return;
    int k = contact_index(o, u->n, jid);
    if (k < 0 || (u->contacts[k / 8] & (1u << (k % 8))))
        return;
    u->contacts[k / 8] |= (uint8_t)(1u << (k % 8));
    if (++u->mutual == o->roster_size) {
        w->stats.c[BENCH_C_SUB_DONE]++;
        atomic_fetch_add_explicit(&w->a_recv, 1, memory_order_relaxed);
    }
}

/* ---- mam: paging back through the archive ----
 * Each account pages backwards through its own archive as a client
 * scrolling up does: the last page first (<before/>), then the page before
 * the first item received, until the server says the start was reached, and
 * then again from the end.  One query per account is in flight at a time;
 * a turn that finds one still in flight is skipped. */

void bench_client_mam(bench_conn_t *c)
{
    bench_worker_t *w = c->w;
    const bench_opts_t *o = w->o;
    if (c->q_t0)
        return;
    char with[600] = "", before[ID_TEXT_MAX * 6 + 32] = "<before/>";
    if (o->mam_with) {
        char name[256];
        bench_user_name(o, bench_neighbour(o, c->user->n, 1), name, sizeof(name));
        snprintf(with, sizeof(with),
                 "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' "
                 "type='hidden'><value>" NS_MAM "</value></field><field var='with'><value>%s@%s"
                 "</value></field></x>",
                 name, o->domain);
    }
    if (c->q_before) {
        char id[ID_TEXT_MAX * 6 + 1];
        escape(c->q_before, id, sizeof(id));
        snprintf(before, sizeof(before), "<before>%s</before>", id);
    }
    unsigned long long seq = ++w->msg_seq;
    sendf(c,
          "<iq type='set' id='mam%llu'><query xmlns='" NS_MAM "' queryid='q%llu'>%s<set "
          "xmlns='" NS_RSM "'><max>%u</max>%s</set></query></iq>",
          seq, seq, with, o->page, before);
    c->q_t0 = bench_now_ns();
    w->stats.c[BENCH_C_MAM_SENT]++;
    atomic_fetch_add_explicit(&w->a_sent, 1, memory_order_relaxed);
}

static void mam_answer(bench_conn_t *c, bench_stanza_t *st)
{
    bench_worker_t *w = c->w;
    uint64_t now = bench_now_ns();
    bench_hist_record(&w->stats.mam, (now - c->q_t0) / 1000);
    c->q_t0 = 0;
    w->stats.last_recv = now;
    atomic_fetch_add_explicit(&w->a_recv, 1, memory_order_relaxed);
    if (st->type == T_ERROR) {
        w->stats.c[BENCH_C_MAM_ERRORS]++;
        if (!w->stats.first_error[0])
            snprintf(w->stats.first_error, sizeof(w->stats.first_error), "archive query: %s",
                     st->cond[0] ? st->cond : "error");
        free(c->q_before);
        c->q_before = NULL;
        return;
    }
    w->stats.c[BENCH_C_MAM_DONE]++;
    free(c->q_before);
    c->q_before = NULL;
    if (st->payload != P_MAM_FIN || st->complete || !st->text_len) {
        w->stats.c[BENCH_C_MAM_WRAPS]++;
        return; /* the start of the archive (or an empty one): from the end again */
    }
    c->q_before = strdup(text_of(st));
}
