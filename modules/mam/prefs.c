/* prefs.c — XEP-0313 §6 archiving preferences: a default (always, roster,
 * never) and JIDs always or never archived, kept per account in the LMDB
 * store "mam.prefs" and read for every message archived. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "lib/util.h"
#include "modules/mam/mam-private.h"
#include "storage/storage.h"
#include "xmpp/ns.h"

static const char *const mode_names[] = {
    [MAM_ALWAYS] = "always", [MAM_ROSTER] = "roster", [MAM_NEVER] = "never"};

int mam_mode_parse(const char *s, mam_mode_t *out)
{
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
        if (s && strcmp(s, mode_names[i]) == 0) {
            *out = (mam_mode_t)i;
            return 0;
        }
    return -EINVAL;
}

/* One account's preferences.  The record is the mode's name on the first
 * line, then one line per JID: "A <jid>" (always) or "N <jid>" (never). */
typedef struct prefs {
    mam_mode_t mode;
    char **always, **never;
    size_t nalways, nnever;
} prefs_t;

static void prefs_deinit(prefs_t *p)
{
    for (size_t i = 0; i < p->nalways; i++)
        free(p->always[i]);
    for (size_t i = 0; i < p->nnever; i++)
        free(p->never[i]);
    free(p->always);
    free(p->never);
    memset(p, 0, sizeof(*p));
}

static void list_add(char ***list, size_t *n, const char *jid, size_t len)
{
    *list = pl_xrealloc(*list, (*n + 1) * sizeof(char *));
    (*list)[(*n)++] = pl_xstrndup(jid, len);
}

static int list_has(char *const *list, size_t n, const char *jid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], jid) == 0)
            return 1;
    return 0;
}

/* The account's preferences, or the host's default when it has none. */
static void prefs_load(mam_mod_t *m, const char *owner, prefs_t *out)
{
    memset(out, 0, sizeof(*out));
    out->mode = m->default_mode;
    pl_buf_t v;
    pl_buf_init(&v);
    if (pl_kv_get(m->prefs, owner, strlen(owner), &v) == 1) {
        const char *p = pl_buf_cstr(&v), *end = p + v.len;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        char mode[16];
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (len < sizeof(mode)) {
            memcpy(mode, p, len);
            mode[len] = '\0';
            mam_mode_parse(mode, &out->mode);
        }
        p = nl ? nl + 1 : end;
        while (p < end) {
            nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            if (le - p > 2 && p[1] == ' ') {
                if (p[0] == 'A')
                    list_add(&out->always, &out->nalways, p + 2, (size_t)(le - p - 2));
                else if (p[0] == 'N')
                    list_add(&out->never, &out->nnever, p + 2, (size_t)(le - p - 2));
            }
            p = nl ? nl + 1 : end;
        }
    }
    pl_buf_deinit(&v);
}

static int in_roster(mam_mod_t *m, const char *owner, const char *peer)
{
    pl_roster_item_t it;
    pl_roster_item_init(&it);
    int yes = m->roster && pl_roster_get(m->roster, owner, peer, &it) == 1 && it.in_roster;
    pl_roster_item_clear(&it);
    return yes;
}

int mam_prefs_allow(mam_mod_t *m, const char *owner, const char *peer)
{
    prefs_t p;
    prefs_load(m, owner, &p);
    int allow;
    /* Never wins over always: a JID in both is not archived. */
    if (list_has(p.never, p.nnever, peer))
        allow = 0;
    else if (list_has(p.always, p.nalways, peer))
        allow = 1;
    else
        allow = p.mode == MAM_ALWAYS || (p.mode == MAM_ROSTER && in_roster(m, owner, peer));
    prefs_deinit(&p);
    return allow;
}

/* ---- the IQ ---- */

static void build_list(pl_builder_t *b, const char *name, char *const *list, size_t n)
{
    pl_build_child(b, name, PL_NS_MAM);
    for (size_t i = 0; i < n; i++)
        pl_build_text_child(b, "jid", PL_NS_MAM, list[i]);
    pl_build_up(b);
}

/* <iq type='result'><prefs default=...><always/><never/></prefs></iq>,
 * addressed from the request's 'to' (or the account) to its sender. */
static pl_stanza_t *prefs_reply(const pl_stanza_t *req, const char *owner, const prefs_t *p)
{
    const char *to = pl_stanza_attr(req, "to");
    const char *id = pl_stanza_attr(req, "id");
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", id ? id : "");
    pl_build_attr(b, "from", to ? to : owner);
    pl_build_attr(b, "to", pl_stanza_attr(req, "from"));
    pl_build_child(b, "prefs", PL_NS_MAM);
    pl_build_attr(b, "default", mode_names[p->mode]);
    build_list(b, "always", p->always, p->nalways);
    build_list(b, "never", p->never, p->nnever);
    pl_build_up(b);
    return pl_build_finish(b);
}

int mam_own_request(const pl_hook_ctx_t *hc)
{
    if (hc->session && pl_stanza_attr(hc->stanza, "to") == NULL)
        return 1;
    return hc->session && hc->to->local && strcmp(hc->to->bare, hc->from->bare) == 0;
}

pl_hook_result_t mam_prefs_get(pl_hook_ctx_t *hc)
{
    if (!mam_own_request(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only the account itself may see its preferences");
        return PL_DONE;
    }
    prefs_t p;
    prefs_load(pl_module_data(hc->module), hc->from->bare, &p);
    pl_reply_take(hc, prefs_reply(hc->stanza, hc->from->bare, &p));
    prefs_deinit(&p);
    return PL_DONE;
}

/* Reads <always/> or <never/>: normalised JIDs, at most MAM_MAX_PREFS_JIDS.
 * PL_ERR_NONE, or the stanza error to answer. */
static pl_stanza_err_t parse_list(const pl_xml_t *list, char ***out, size_t *n)
{
    if (!list)
        return PL_ERR_NONE;
    pl_buf_t text;
    pl_buf_init(&text);
    pl_stanza_err_t err = PL_ERR_NONE;
    for (const pl_xml_t *j = pl_xml_child(list, "jid", PL_NS_MAM); j && !err;
         j = pl_xml_next(j, "jid", PL_NS_MAM)) {
        pl_buf_reset(&text);
        pl_xml_text(j, &text);
        pl_jid_t jid;
        if (*n >= MAM_MAX_PREFS_JIDS) {
            err = PL_ERR_NOT_ACCEPTABLE;
        } else if (pl_jid_parse(&jid, pl_buf_cstr(&text)) != 0) {
            err = PL_ERR_JID_MALFORMED;
        } else {
            if (!list_has(*out, *n, jid.full))
                list_add(out, n, jid.full, strlen(jid.full));
            pl_jid_deinit(&jid);
        }
    }
    pl_buf_deinit(&text);
    return err;
}

typedef struct prefs_write {
    pl_server_t *server;
    pl_kv_t *kv;
    char *owner;
    pl_buf_t record;
    pl_stanza_t *reply; /* sent once durable */
    pl_stanza_t *request;
} prefs_write_t;

static void prefs_write_free(prefs_write_t **wp)
{
    prefs_write_t *w = *wp;
    if (!w)
        return;
    *wp = NULL;
    free(w->owner);
    pl_buf_deinit(&w->record);
    pl_stanza_unref(&w->reply);
    pl_stanza_unref(&w->request);
    free(w);
}

static int prefs_write_run(pl_wtxn_t *txn, void *ud)
{
    prefs_write_t *w = ud;
    return pl_kv_put(txn, w->kv, w->owner, strlen(w->owner), w->record.data, w->record.len);
}

static void prefs_write_done(void *ud, int status)
{
    prefs_write_t *w = ud;
    if (status < 0) {
        pl_stanza_t *err = pl_stanza_error(w->request, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
        const char *to = pl_stanza_attr(w->request, "to");
        pl_route_take(w->server, pl_stanza_readdress(err, to ? to : w->owner, PL_KEEP));
        pl_stanza_unref(&err);
    } else {
        pl_route_take(w->server, pl_stanza_ref(w->reply));
    }
    prefs_write_free(&w);
}

pl_hook_result_t mam_prefs_set(pl_hook_ctx_t *hc)
{
    if (!mam_own_request(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only the account itself may change its preferences");
        return PL_DONE;
    }
    prefs_t p = {0};
    if (mam_mode_parse(pl_xml_attr(hc->payload, "default"), &p.mode) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "default must be always, roster or never");
        return PL_DONE;
    }
    pl_stanza_err_t err =
        parse_list(pl_xml_child(hc->payload, "always", PL_NS_MAM), &p.always, &p.nalways);
    if (!err)
        err = parse_list(pl_xml_child(hc->payload, "never", PL_NS_MAM), &p.never, &p.nnever);
    if (err) {
        pl_reply_error(hc, err, err == PL_ERR_NOT_ACCEPTABLE ? "too many JIDs" : NULL);
        prefs_deinit(&p);
        return PL_DONE;
    }
    prefs_write_t *w = pl_xcalloc(1, sizeof(*w));
    w->server = hc->server;
    w->kv = ((mam_mod_t *)pl_module_data(hc->module))->prefs;
    w->owner = pl_xstrdup(hc->from->bare);
    pl_buf_init(&w->record);
    pl_buf_printf(&w->record, "%s\n", mode_names[p.mode]);
    for (size_t i = 0; i < p.nalways; i++)
        pl_buf_printf(&w->record, "A %s\n", p.always[i]);
    for (size_t i = 0; i < p.nnever; i++)
        pl_buf_printf(&w->record, "N %s\n", p.never[i]);
    w->reply = prefs_reply(hc->stanza, hc->from->bare, &p);
    w->request = pl_stanza_ref(hc->stanza);
    prefs_deinit(&p);
    if (pl_server_write(hc->server, prefs_write_run, prefs_write_done, w) != 0) {
        pl_reply_error(hc, PL_ERR_RESOURCE_CONSTRAINT, "storage is busy, try again");
        prefs_write_free(&w);
    }
    return PL_DONE;
}
