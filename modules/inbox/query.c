/* query.c — the XEP-0430 query: <iq type='get'><inbox xmlns='urn:xmpp:inbox:1'/>
 * answered with one <message/> per conversation (most recently active
 * first: <entry/>, the last message as a MAM-style <result/>) and then the
 * IQ result with <fin/> (totals and XEP-0059 paging).  The paging parser
 * is our own small one: max, after, before. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/util.h"
#include "modules/inbox/inbox-private.h"
#include "xmpp/ns.h"

void inbox_stamp(long long usec, char out[32])
{
    time_t secs = (time_t)(usec / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[24];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", day, (int)((usec / 1000) % 1000));
}

/* What the client asked for. */
typedef struct query {
    int unread_only;
    int messages;
    long max;
    char *after;  /* a partner JID, normalised, or NULL */
    char *before; /* NULL: not given; "": the last page */
} query_t;

static void query_clear(query_t *q)
{
    free(q->after);
    free(q->before);
}

/* "true"/"1", "false"/"0", or absent (def); -1 for anything else. */
static int parse_bool(const char *v, int def)
{
    if (!v)
        return def;
    if (!strcmp(v, "true") || !strcmp(v, "1"))
        return 1;
    if (!strcmp(v, "false") || !strcmp(v, "0"))
        return 0;
    return -1;
}

/* A JID the client names in <after/>/<before/>, normalised to a bare JID
 * as the keys are; "" stays "". */
static int parse_cursor(const pl_xml_t *set, const char *name, char **out)
{
    pl_buf_t b;
    pl_buf_init(&b);
    if (!pl_xml_child_text(set, name, PL_NS_RSM, &b)) {
        pl_buf_deinit(&b);
        return 0;
    }
    const char *text = pl_buf_cstr(&b);
    int r = 0;
    pl_jid_t j;
    if (!*text) {
        *out = pl_xstrdup("");
    } else if (pl_jid_parse(&j, text) == 0) {
        *out = pl_xstrdup(j.bare);
        pl_jid_deinit(&j);
    } else {
        r = -1;
    }
    pl_buf_deinit(&b);
    return r;
}

/* 0, or -1 with *why set (bad-request). */
static int parse_query(const pl_xml_t *payload, query_t *q, const char **why)
{
    memset(q, 0, sizeof(*q));
    q->max = INBOX_PAGE_DEFAULT;
    q->unread_only = parse_bool(pl_xml_attr(payload, "unread-only"), 0);
    q->messages = parse_bool(pl_xml_attr(payload, "messages"), 1);
    if (q->unread_only < 0 || q->messages < 0) {
        *why = "unread-only and messages are true or false";
        return -1;
    }
    const pl_xml_t *set = pl_xml_child(payload, "set", PL_NS_RSM);
    if (!set)
        return 0;
    pl_buf_t b;
    pl_buf_init(&b);
    if (pl_xml_child_text(set, "max", PL_NS_RSM, &b)) {
        const char *t = pl_buf_cstr(&b);
        size_t len = strlen(t);
        if (len == 0 || len > 9 || strspn(t, "0123456789") != len) {
            pl_buf_deinit(&b);
            *why = "<max/> is a non-negative number";
            return -1;
        }
        long v = strtol(t, NULL, 10);
        /* XEP-0059 §2.1: the server may return fewer than asked. */
        q->max = v > INBOX_PAGE_MAX ? INBOX_PAGE_MAX : v;
    }
    pl_buf_deinit(&b);
    if (parse_cursor(set, "after", &q->after) < 0 || parse_cursor(set, "before", &q->before) < 0 ||
        (q->after && !*q->after)) {
        *why = "<after/> and <before/> name a conversation's JID";
        return -1;
    }
    if (q->after && q->before) {
        *why = "<after/> and <before/> together";
        return -1;
    }
    return 0;
}

static long find_partner(pl_inbox_item_t **items, size_t n, const char *jid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i]->partner, jid) == 0)
            return (long)i;
    return -1;
}

/* One conversation: <message><entry/>[<state/>][<result><forwarded>…]. */
static pl_stanza_t *entry_message(const pl_hook_ctx_t *hc, const pl_inbox_entry_t *e,
                                  int with_message)
{
    char unread[16], stamp[32];
    snprintf(unread, sizeof(unread), "%u", e->unread);
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", hc->from->bare);
    pl_build_attr(b, "to", hc->from->full);
    pl_build_child(b, "entry", INBOX_NS);
    pl_build_attr(b, "jid", e->partner);
    pl_build_attr(b, "unread", unread);
    pl_build_attr(b, "id", e->last_id);
    pl_build_up(b);
    uint32_t mentions = pl_inbox_mentions(e);
    if (*e->displayed || e->truncated || mentions) {
        pl_build_child(b, "state", INBOX_NS_PARLEY);
        if (*e->displayed)
            pl_build_attr(b, "displayed", e->displayed);
        if (e->truncated)
            pl_build_attr(b, "truncated", "true");
        if (mentions) {
            char m[16];
            snprintf(m, sizeof(m), "%u", mentions);
            pl_build_attr(b, "mentions", m);
        }
        pl_build_up(b);
    }
    if (with_message) {
        inbox_stamp(e->stamp, stamp);
        pl_build_child(b, "result", PL_NS_MAM);
        pl_build_attr(b, "queryid", hc->id);
        pl_build_attr(b, "id", e->last_id);
        pl_build_child(b, "forwarded", PL_NS_FORWARD);
        pl_build_child(b, "delay", PL_NS_DELAY);
        pl_build_attr(b, "stamp", stamp);
        pl_build_up(b);
        pl_build_child(b, "message", PL_NS_CLIENT);
        if (*e->from)
            pl_build_attr(b, "from", e->from);
        if (*e->to)
            pl_build_attr(b, "to", e->to);
        pl_build_attr(b, "type", e->type);
        if (*e->last_msg_id)
            pl_build_attr(b, "id", e->last_msg_id);
        pl_build_text_child(b, "body", PL_NS_CLIENT, e->excerpt);
        pl_build_up(b);
        pl_build_up(b);
        pl_build_up(b);
    }
    return pl_build_finish(b);
}

static void reply_fin(pl_hook_ctx_t *hc, pl_inbox_item_t **page, size_t npage, size_t first_index,
                      size_t total, size_t unread_convs, unsigned long long all_unread)
{
    char total_s[24], unread_s[24], all_s[24], index_s[24];
    snprintf(total_s, sizeof(total_s), "%zu", total);
    snprintf(unread_s, sizeof(unread_s), "%zu", unread_convs);
    snprintf(all_s, sizeof(all_s), "%llu", all_unread);
    snprintf(index_s, sizeof(index_s), "%zu", first_index);
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    pl_build_child(b, "fin", INBOX_NS);
    pl_build_attr(b, "total", total_s);
    pl_build_attr(b, "unread", unread_s);
    pl_build_attr(b, "all-unread", all_s);
    pl_build_child(b, "set", PL_NS_RSM);
    if (npage > 0) {
        pl_build_child(b, "first", PL_NS_RSM);
        pl_build_attr(b, "index", index_s);
        pl_build_text(b, page[0]->partner, strlen(page[0]->partner));
        pl_build_up(b);
        pl_build_text_child(b, "last", PL_NS_RSM, page[npage - 1]->partner);
    }
    pl_build_text_child(b, "count", PL_NS_RSM, total_s);
    pl_build_up(b);
    pl_build_up(b);
    pl_reply_take(hc, pl_build_finish(b));
}

/* Only a client of this host asks, for its own account. */
static int own_client(const pl_hook_ctx_t *hc)
{
    if (!hc->session || !hc->from->local || !hc->from->resource ||
        strcmp(hc->from->domain, pl_host_name(hc->host)) != 0)
        return 0;
    return !hc->to->local || strcmp(hc->to->bare, hc->from->bare) == 0;
}

/* Sends the page [start, end) of `sel` to the asking session. */
static void send_page(pl_hook_ctx_t *hc, pl_inbox_item_t **sel, size_t start, size_t end,
                      int with_messages)
{
    pl_kv_t *kv = inbox_kv(hc->module);
    pl_inbox_entry_t *e = pl_xmalloc(sizeof(*e));
    for (size_t i = start; i < end; i++) {
        if (pl_inbox_get(kv, hc->from->bare, sel[i]->partner, e) != 1)
            continue; /* gone meanwhile (evicted) */
        pl_stanza_t *m = entry_message(hc, e, with_messages);
        pl_session_send_stanza(hc->session, m);
        pl_stanza_unref(&m);
    }
    free(e);
}

pl_hook_result_t inbox_query(pl_hook_ctx_t *hc)
{
    if (!own_client(hc)) {
        pl_reply_error(hc, PL_ERR_NOT_ALLOWED, "a user asks for their own inbox");
        return PL_DONE;
    }
    if (strcmp(hc->type, "get") != 0 || strcmp(hc->payload->name, "inbox") != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "expected <iq type='get'><inbox/></iq>");
        return PL_DONE;
    }
    query_t q;
    const char *why = NULL;
    if (parse_query(hc->payload, &q, &why) != 0) {
        query_clear(&q);
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, why);
        return PL_DONE;
    }
    /* Marked before reading: a read committing meanwhile is either in the
     * answer or pushed after it. */
    pl_session_set_flags(hc->session, pl_module_session_flag(hc->module, INBOX_FLAG_PUSH), 0);
    pl_inbox_item_t *items;
    size_t n;
    if (pl_inbox_list(inbox_kv(hc->module), hc->from->bare, &items, &n) < 0) {
        query_clear(&q);
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        return PL_DONE;
    }
    /* The conversations the filter keeps, and the totals over all. */
    pl_inbox_item_t **sel = pl_xcalloc(n ? n : 1, sizeof(*sel));
    size_t nsel = 0, unread_convs = 0;
    unsigned long long all_unread = 0;
    for (size_t i = 0; i < n; i++) {
        unread_convs += items[i].unread > 0;
        all_unread += items[i].unread;
        if (!q.unread_only || items[i].unread > 0)
            sel[nsel++] = &items[i];
    }
    size_t start = 0, end = nsel;
    long at = -1;
    if (q.after || (q.before && *q.before)) {
        at = find_partner(sel, nsel, q.after ? q.after : q.before);
        if (at < 0) {
            pl_reply_error(hc, PL_ERR_ITEM_NOT_FOUND, "no such conversation to page from");
            goto out;
        }
    }
    if (q.after) {
        start = (size_t)at + 1;
        end = start + (size_t)q.max < nsel ? start + (size_t)q.max : nsel;
    } else if (q.before) {
        end = *q.before ? (size_t)at : nsel;
        start = end > (size_t)q.max ? end - (size_t)q.max : 0;
    } else {
        end = (size_t)q.max < nsel ? (size_t)q.max : nsel;
    }
    send_page(hc, sel, start, end, q.messages);
    reply_fin(hc, sel + start, end - start, start, nsel, unread_convs, all_unread);
out:
    free(sel);
    pl_inbox_items_free(&items, n);
    query_clear(&q);
    return PL_DONE;
}
