/* vcard.c — XEP-0054 vcard-temp profiles with the XEP-0153 photo hash, and
 * PRES-3: contacts who see a user's presence are told, in one batch every
 * notify_interval, that the user's contact information changed.  A vCard is
 * stored as its serialised XML after a line holding the SHA-1 of its photo,
 * so a read costs one LMDB get and one parse. */
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/base64.h"
#include "lib/map.h"
#include "lib/util.h"
#include "storage/roster.h"
#include "storage/storage.h"
#include "xep/stored-xml.h"
#include "xmpp/ns.h"
#include "xmpp/scram.h"

#define PL_NS_PARLEY_CONTACTS "urn:parley:contacts:0"
#define VCARD_MAX_RESOURCES 64 /* resources of one contact told per batch */

typedef struct vcard_conf {
    long long max_size;
    long long notify_interval; /* milliseconds */
} vcard_conf_t;

/* Users whose vCard changed since the last batch.  Handlers on every loop
 * add to it; the timer on the first loop empties it. */
typedef struct vcard_mod {
    pthread_mutex_t lock;
    pl_map_t changed;
    pl_roster_t *roster;
} vcard_mod_t;

/* ---- hashes ---- */

static void sha1_hex(const void *data, size_t len, char hex[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        pl_die("vcard: SHA-1 failed");
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* XEP-0153: the SHA-1 of the decoded PHOTO/BINVAL, as lower-case hex ("" when
 * the vCard has no photo).  Line breaks inside the base64 are common and
 * allowed; anything else that is not base64 makes -1. */
static int photo_hash(const pl_xml_t *vcard, char hex[41])
{
    hex[0] = '\0';
    const pl_xml_t *photo = pl_xml_child(vcard, "PHOTO", PL_NS_VCARD);
    const pl_xml_t *binval = photo ? pl_xml_child(photo, "BINVAL", PL_NS_VCARD) : NULL;
    if (!binval)
        return 0;
    pl_buf_t text, packed;
    pl_buf_init(&text);
    pl_buf_init(&packed);
    pl_xml_text(binval, &text);
    for (size_t i = 0; i < text.len; i++)
        if (!strchr(" \t\r\n", text.data[i]))
            pl_buf_append(&packed, &text.data[i], 1);
    int rc = 0;
    if (packed.len > 0) {
        size_t n = 0;
        uint8_t *raw = pl_base64_decode(packed.data, packed.len, &n);
        if (raw)
            sha1_hex(raw, n, hex);
        else
            rc = -1;
        free(raw);
    }
    pl_buf_deinit(&text);
    pl_buf_deinit(&packed);
    return rc;
}

/* ---- records: "<photo hash>\n<vCard XML>" ---- */

static int record_split(const pl_buf_t *rec, char photo[41], const char **xml, size_t *xml_len)
{
    const char *nl = rec->len ? memchr(rec->data, '\n', rec->len) : NULL;
    size_t hlen = nl ? (size_t)(nl - rec->data) : 0;
    if (!nl || (hlen != 0 && hlen != 40))
        return -1;
    memcpy(photo, rec->data, hlen);
    photo[hlen] = '\0';
    *xml = nl + 1;
    *xml_len = rec->len - hlen - 1;
    return 0;
}

/* ---- who is asking about whom ---- */

typedef enum vcard_target { VCARD_OWN, VCARD_SERVER, VCARD_OTHER } vcard_target_t;

static vcard_target_t target_of(const pl_hook_ctx_t *hc)
{
    /* A component asking with no 'to' asks the server: only accounts have
     * vCards here. */
    if (!pl_stanza_attr(hc->stanza, "to"))
        return hc->from->local ? VCARD_OWN : VCARD_SERVER;
    if (!hc->to->local)
        return VCARD_SERVER;
    return strcmp(hc->to->bare, hc->from->bare) == 0 ? VCARD_OWN : VCARD_OTHER;
}

/* vCards are public inside a tenant: accounts of the host and the
 * components configured on it may read them, other hosts may not.  Which
 * tenant a domain is in is the core's answer, not a suffix match: a host
 * named sub.example.test is a tenant of its own. */
static int same_tenant(const pl_hook_ctx_t *hc)
{
    return pl_server_tenant_of(hc->server, hc->from->domain) == hc->host;
}

static void reply_vcard(pl_hook_ctx_t *hc, const pl_xml_t *stored)
{
    pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
    pl_build_attr(b, "type", "result");
    pl_build_attr(b, "id", hc->id);
    if (stored) {
        pl_build_copy(b, stored);
    } else {
        pl_build_child(b, "vCard", PL_NS_VCARD);
        pl_build_up(b);
    }
    pl_reply_take(hc, pl_build_finish(b));
}

/* ---- get ---- */

static pl_hook_result_t vcard_get(pl_hook_ctx_t *hc)
{
    if (strcmp(hc->payload->name, "vCard") != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "expected <vCard xmlns='" PL_NS_VCARD "'/>");
        return PL_DONE;
    }
    vcard_target_t t = target_of(hc);
    if (t == VCARD_SERVER) {
        reply_vcard(hc, NULL); /* the server has no profile of its own */
        return PL_DONE;
    }
    if (t == VCARD_OTHER && !same_tenant(hc)) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "profiles are visible inside their own domain");
        return PL_DONE;
    }
    const char *owner = t == VCARD_OWN ? hc->from->bare : hc->to->bare;
    pl_buf_t rec;
    pl_buf_init(&rec);
    int found = pl_kv_get(pl_module_store(hc->module, "cards"), owner, strlen(owner), &rec);
    char photo[41];
    const char *xml = NULL;
    size_t xml_len = 0;
    pl_stanza_t *stored = NULL;
    if (found == 1 && record_split(&rec, photo, &xml, &xml_len) == 0)
        stored = pl_stored_xml_decode(xml, xml_len);
    if (found < 0 || (found == 1 && !stored)) {
        pl_module_log(hc->module, PL_LOG_ERROR, "read_failed", "jid=%s status=%d", owner, found);
        pl_reply_error(hc, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
    } else {
        reply_vcard(hc, stored ? pl_stanza_root(stored) : NULL);
    }
    pl_stanza_unref(&stored);
    pl_buf_deinit(&rec);
    return PL_DONE;
}

/* ---- set ---- */

typedef struct vcard_set {
    pl_module_ctx_t *ctx;
    pl_kv_t *kv;
    pl_stanza_t *request; /* held for the reply */
    char *bare;
    pl_buf_t record;
    int changed; /* set by the job: the stored bytes differ from before */
} vcard_set_t;

static void vcard_set_free(vcard_set_t **pp)
{
    vcard_set_t *p = *pp;
    if (!p)
        return;
    *pp = NULL;
    pl_stanza_unref(&p->request);
    pl_buf_deinit(&p->record);
    free(p->bare);
    free(p);
}

static int vcard_set_run(pl_wtxn_t *txn, void *ud)
{
    vcard_set_t *p = ud;
    pl_buf_t old;
    pl_buf_init(&old);
    size_t klen = strlen(p->bare);
    int rc = pl_kv_txn_get(txn, p->kv, p->bare, klen, &old);
    p->changed = rc != 1 || old.len != p->record.len || memcmp(old.data, p->record.data, old.len);
    if (rc >= 0 && p->changed)
        rc = pl_kv_put(txn, p->kv, p->bare, klen, p->record.data, p->record.len);
    pl_buf_deinit(&old);
    return rc < 0 ? rc : 0;
}

static void mark_changed(pl_module_ctx_t *ctx, const char *bare)
{
    vcard_mod_t *m = pl_module_data(ctx);
    pthread_mutex_lock(&m->lock);
    pl_map_put(&m->changed, bare, (void *)1);
    pthread_mutex_unlock(&m->lock);
}

/* The answer once the vCard is durable; a request with no 'to' is answered
 * from the user's bare JID. */
static void vcard_set_done(void *ud, int status)
{
    vcard_set_t *p = ud;
    const pl_stanza_t *req = p->request;
    pl_stanza_t *reply;
    if (status != 0) {
        pl_module_log(p->ctx, PL_LOG_ERROR, "write_failed", "jid=%s status=%d", p->bare, status);
        reply = pl_stanza_error(req, PL_ERR_INTERNAL_SERVER_ERROR, NULL);
    } else {
        pl_builder_t *b = pl_build_new("iq", PL_NS_CLIENT);
        pl_build_attr(b, "type", "result");
        pl_build_attr(b, "id", pl_stanza_attr(req, "id") ? pl_stanza_attr(req, "id") : "");
        pl_build_attr(b, "to", pl_stanza_attr(req, "from"));
        reply = pl_build_finish(b);
        if (p->changed)
            mark_changed(p->ctx, p->bare);
    }
    const char *to = pl_stanza_attr(req, "to");
    pl_stanza_t *addressed = pl_stanza_readdress(reply, to ? to : p->bare, PL_KEEP);
    pl_stanza_unref(&reply);
    pl_route_take(pl_module_server(p->ctx), addressed);
    vcard_set_free(&p);
}

static pl_hook_result_t vcard_set(pl_hook_ctx_t *hc)
{
    const vcard_conf_t *conf = pl_module_conf(hc->module);
    if (target_of(hc) != VCARD_OWN) {
        pl_reply_error(hc, PL_ERR_FORBIDDEN, "only the owner may change a vCard");
        return PL_DONE;
    }
    if (strcmp(hc->payload->name, "vCard") != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "expected <vCard xmlns='" PL_NS_VCARD "'/>");
        return PL_DONE;
    }
    char photo[41];
    if (photo_hash(hc->payload, photo) != 0) {
        pl_reply_error(hc, PL_ERR_BAD_REQUEST, "PHOTO/BINVAL is not base64");
        return PL_DONE;
    }
    vcard_set_t *p = pl_xcalloc(1, sizeof(*p));
    pl_buf_init(&p->record);
    pl_buf_printf(&p->record, "%s\n", photo);
    size_t head = p->record.len;
    pl_stored_xml_encode(hc->payload, &p->record);
    if ((long long)(p->record.len - head) > conf->max_size) {
        char why[96];
        snprintf(why, sizeof(why), "a vCard may be at most %lld bytes", conf->max_size);
        pl_reply_error(hc, PL_ERR_NOT_ACCEPTABLE, why);
        vcard_set_free(&p);
        return PL_DONE;
    }
    p->ctx = hc->module;
    p->kv = pl_module_store(hc->module, "cards");
    p->bare = pl_xstrdup(hc->from->bare);
    p->request = pl_stanza_ref(hc->stanza);
    if (pl_server_write(hc->server, vcard_set_run, vcard_set_done, p) != 0) {
        pl_reply_error(hc, PL_ERR_RESOURCE_CONSTRAINT, "storage is busy, try again");
        vcard_set_free(&p);
    }
    return PL_DONE;
}

/* ---- PRES-3: the batched update notice ---- */

typedef struct contact_list {
    char **jids;
    size_t n, cap;
} contact_list_t;

/* Contacts with FROM receive the user's presence, so they may learn of the
 * user's profile changes too. */
static int collect_watcher(void *ud, const pl_roster_item_t *it)
{
    contact_list_t *l = ud;
    if (!(it->sub & PL_SUB_FROM))
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->jids = pl_xrealloc(l->jids, l->cap * sizeof(*l->jids));
    }
    l->jids[l->n++] = pl_xstrdup(it->jid);
    return 0;
}

static pl_stanza_t *update_notice(const char *user, const char *vcard_hash, const char *photo)
{
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "type", "headline");
    pl_build_attr(b, "from", user);
    pl_build_child(b, "update", PL_NS_PARLEY_CONTACTS);
    pl_build_attr(b, "jid", user);
    pl_build_attr(b, "vcard-hash", vcard_hash);
    pl_build_attr(b, "photo-hash", photo);
    pl_build_up(b);
    return pl_build_finish(b);
}

/* One notice to every available resource of each watcher.  Routed, so the
 * recipients' message hooks (blocking) decide as for any message. */
static void notify_user(pl_module_ctx_t *ctx, vcard_mod_t *m, const char *user)
{
    pl_server_t *srv = pl_module_server(ctx);
    pl_buf_t rec;
    pl_buf_init(&rec);
    char photo[41], vhash[41];
    const char *xml;
    size_t xml_len;
    if (pl_kv_get(pl_module_store(ctx, "cards"), user, strlen(user), &rec) != 1 ||
        record_split(&rec, photo, &xml, &xml_len) != 0) {
        pl_buf_deinit(&rec);
        return;
    }
    sha1_hex(xml, xml_len, vhash);
    pl_buf_deinit(&rec);
    contact_list_t watchers = {0};
    if (m->roster)
        pl_roster_list(m->roster, user, 0, collect_watcher, &watchers);
    pl_stanza_t *notice = update_notice(user, vhash, photo);
    size_t sent = 0;
    for (size_t i = 0; i < watchers.n; i++) {
        pl_resource_t res[VCARD_MAX_RESOURCES];
        size_t n = pl_server_resources(srv, watchers.jids[i], res, VCARD_MAX_RESOURCES);
        for (size_t r = 0; r < n; r++) {
            if (!res[r].available)
                continue;
            pl_route_take(srv, pl_stanza_readdress(notice, PL_KEEP, res[r].jid->full));
            sent++;
        }
        pl_resources_release(res, n);
        free(watchers.jids[i]);
    }
    free(watchers.jids);
    pl_stanza_unref(&notice);
    pl_module_log(ctx, PL_LOG_DEBUG, "notify", "jid=%s watchers=%zu sent=%zu", user, watchers.n,
                  sent);
}

static void vcard_tick(pl_module_ctx_t *ctx)
{
    vcard_mod_t *m = pl_module_data(ctx);
    pl_map_t batch;
    pthread_mutex_lock(&m->lock);
    batch = m->changed;
    pl_map_init(&m->changed);
    pthread_mutex_unlock(&m->lock);
    const char *user;
    for (size_t pos = 0; pl_map_iter(&batch, &pos, &user, NULL);)
        notify_user(ctx, m, user);
    pl_map_deinit(&batch);
}

/* ---- lifecycle ---- */

static int vcard_start(pl_module_ctx_t *ctx)
{
    const vcard_conf_t *conf = pl_module_conf(ctx);
    vcard_mod_t *m = pl_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    pl_map_init(&m->changed);
    if (pl_roster_open(pl_server_storage(pl_module_server(ctx)), &m->roster) != 0) {
        pl_module_log(ctx, PL_LOG_ERROR, "roster_unavailable", "update notices are disabled");
        m->roster = NULL;
    }
    pl_module_set_data(ctx, m);
    return pl_module_every(ctx, (unsigned)conf->notify_interval, vcard_tick);
}

static void vcard_stop(pl_module_ctx_t *ctx)
{
    vcard_mod_t *m = pl_module_data(ctx);
    if (!m)
        return;
    pl_map_deinit(&m->changed);
    pthread_mutex_destroy(&m->lock);
    free(m);
    pl_module_set_data(ctx, NULL);
}

static const char *const account_features[] = {PL_NS_VCARD, NULL};
static const char *const features[] = {PL_NS_VCARD, NULL};

static const pl_store_def_t stores[] = {
    {.name = "cards", .kind = PL_STORE_KV, .schema_version = 1},
    {0},
};

static const pl_conf_def_t conf[] = {
    {.key = "max_size",
     .type = PL_CONF_SIZE,
     .offset = offsetof(vcard_conf_t, max_size),
     .def = "64k",
     .min = 1024,
     .max = 1024 * 1024,
     .help = "largest vCard, serialised, in bytes (the stanza size limit applies as well)"},
    {.key = "notify_interval",
     .type = PL_CONF_DURATION,
     .offset = offsetof(vcard_conf_t, notify_interval),
     .def = "10m",
     .min = 100,
     .max = 86400000LL,
     .help = "time between batches of contact-information update notices"},
    {0},
};

static const pl_hook_def_t hooks[] = {
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST | PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_VCARD,
     .type = "get",
     .priority = PL_PRIO_HANDLER,
     .handler = vcard_get},
    {.event = PL_EV_IQ,
     .targets = PL_TO_HOST | PL_TO_SELF | PL_TO_BARE,
     .ns = PL_NS_VCARD,
     .type = "set",
     .priority = PL_PRIO_HANDLER,
     .handler = vcard_set},
    {0},
};

const pl_module_desc_t pl_mod_vcard = {
    .name = "vcard",
    .abi = PL_MODULE_ABI,
    .description = "vCard profiles (XEP-0054, XEP-0153) and batched contact update notices",
    .conf = conf,
    .conf_size = sizeof(vcard_conf_t),
    .features = features,
    .account_features = account_features,
    .stores = stores,
    .hooks = hooks,
    .start = vcard_start,
    .stop = vcard_stop,
};
