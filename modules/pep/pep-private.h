/* pep-private.h — what the files of the pep module share: the node model
 * and its records (node.c), data forms for node options (options.c), who may
 * read and who is told (notify.c), and the entity-capabilities cache that
 * says which resources want which notifications (caps-cache.c). */
#ifndef PL_PEP_PRIVATE_H
#define PL_PEP_PRIVATE_H

#include <pthread.h>
#include <stddef.h>

#include "core/module.h"
#include "core/server.h"
#include "storage/roster.h"
#include "storage/storage.h"
#include "xep/caps.h"
#include "xmpp/ns.h"

#define PEP_NS_OWNER "http://jabber.org/protocol/pubsub#owner"
#define PEP_NS_EVENT "http://jabber.org/protocol/pubsub#event"
#define PEP_NS_ERRORS "http://jabber.org/protocol/pubsub#errors"
#define PEP_FORM_NODE_CONFIG "http://jabber.org/protocol/pubsub#node_config"
#define PEP_NODE_AVATAR_DATA "urn:xmpp:avatar:data"
#define PEP_NODE_AVATAR_META "urn:xmpp:avatar:metadata"

enum {
    PEP_MAX_NODE_NAME = 256, /* bytes in a node name */
    PEP_MAX_ITEM_ID = 256,   /* bytes in an item id */
    PEP_KEY_MAX = 511,       /* LMDB's key limit */
    PEP_MAX_RESOURCES = 32,  /* resources of one account considered per delivery */
    PEP_MAX_CONTACTS = 5000, /* contacts considered per notification */
};

typedef struct pep_conf {
    long long max_item_size;
    long long max_nodes;
    long long max_items;
    long long caps_cache_size;
    long long caps_max_pending; /* caps questions in flight, all resources together */
} pep_conf_t;

typedef enum pep_access {
    PEP_ACCESS_PRESENCE = 0,
    PEP_ACCESS_OPEN,
    PEP_ACCESS_WHITELIST,
} pep_access_t;

/* A node's configuration (XEP-0060 §16.4 pubsub#node_config subset). */
typedef struct pep_node_conf {
    pep_access_t access;
    int persist;    /* pubsub#persist_items */
    long max_items; /* pubsub#max_items, 1..the module's max_items */
    int send_last;  /* pubsub#send_last_published_item: 1 on_sub_and_presence, 0 never */
} pep_node_conf_t;

/* Which fields a publish-options or configuration form set. */
enum {
    PEP_OPT_ACCESS = 1u << 0,
    PEP_OPT_PERSIST = 1u << 1,
    PEP_OPT_MAX_ITEMS = 1u << 2,
    PEP_OPT_SEND_LAST = 1u << 3,
};

typedef struct pep_options {
    unsigned given;       /* PEP_OPT_* */
    pep_node_conf_t conf; /* the values of the fields given */
} pep_options_t;

/* A node: its configuration and its item ids, oldest first. */
typedef struct pep_node {
    pep_node_conf_t conf;
    char **ids;
    size_t nids;
} pep_node_t;

typedef struct pep_caps pep_caps_t;

/* The module's state on one host (pl_module_data). */
typedef struct pep_state {
    pl_module_ctx_t *ctx;
    const pep_conf_t *conf;
    pl_kv_t *nodes; /* "owner\0node" -> node record; "owner\0" -> node count */
    pl_kv_t *items; /* "owner\0node\0id" -> payload XML */
    pl_roster_t *roster;
    pep_caps_t *caps;
} pep_state_t;

/* ---- node.c: records ---- */
void pep_node_conf_default(pep_node_conf_t *c);
void pep_node_init(pep_node_t *n);
void pep_node_clear(pep_node_t *n);
/* Keys; -1 when the key would exceed PEP_KEY_MAX. */
int pep_node_key(pl_buf_t *k, const char *owner, const char *node);
int pep_item_key(pl_buf_t *k, const char *owner, const char *node, const char *id);
void pep_count_key(pl_buf_t *k, const char *owner);
/* 1 found, 0 absent, <0 error (a damaged record is -EBADMSG). */
int pep_node_get(pep_state_t *st, const char *owner, const char *node, pep_node_t *out);
int pep_node_txn_get(pl_wtxn_t *txn, pep_state_t *st, const char *owner, const char *node,
                     pep_node_t *out);
int pep_node_put(pl_wtxn_t *txn, pep_state_t *st, const char *owner, const char *node,
                 const pep_node_t *n);
/* Appends (or moves to the end) an id; removes the oldest beyond max,
 * returning them in *dropped (caller frees each and the array). */
void pep_node_push_id(pep_node_t *n, const char *id, long max, char ***dropped, size_t *ndropped);
/* 1 removed, 0 not there. */
int pep_node_remove_id(pep_node_t *n, const char *id);
/* The stored payload of an item (a new reference), or NULL. */
pl_stanza_t *pep_item_get(pep_state_t *st, const char *owner, const char *node, const char *id);
/* Visits the owner's node names. */
int pep_node_each(pep_state_t *st, const char *owner, int (*fn)(void *ud, const char *node),
                  void *ud);
/* Inside a write job: deletes every item of the node (not the record). */
int pep_items_delete_all(pl_wtxn_t *txn, pep_state_t *st, const char *owner, const char *node,
                         const pep_node_t *n);
/* Inside a write job: adds delta to the owner's node count, refusing to
 * pass max (-EDQUOT). */
int pep_count_add(pl_wtxn_t *txn, pep_state_t *st, const char *owner, int delta, long max);

/* ---- options.c: data forms ---- */
/* Reads a submitted form (<x xmlns='jabber:x:data' type='submit'>) whose
 * FORM_TYPE must be `form_type`.  0, or -1 when the form is malformed or a
 * value is invalid (the caller answers bad-request). */
int pep_options_parse(const pl_xml_t *x, const char *form_type, long max_items_limit,
                      pep_options_t *out);
void pep_options_apply(const pep_options_t *o, pep_node_conf_t *c);
/* 1 when every option given equals the node's configuration (XEP-0060
 * §7.1.5 preconditions). */
int pep_options_match(const pep_options_t *o, const pep_node_conf_t *c);
/* Writes the node_config form of a configure answer at the builder. */
void pep_conf_form(pl_builder_t *b, const pep_node_conf_t *c, long max_items_limit);
const char *pep_access_name(pep_access_t a);

/* ---- notify.c: access and delivery ---- */
/* 1 when `requester` (a bare JID) may read the owner's node. */
/* The access model that decides for `node` of `owner`: the node's own
 * (`access`), except for the avatar data node, which follows the avatar
 * metadata node when there is one (XEP-0084). */
pep_access_t pep_effective_access(pep_state_t *st, const char *owner, const char *node,
                                  pep_access_t access);
int pep_may_read(pep_state_t *st, const char *owner, const char *node, const pep_node_conf_t *conf,
                 const char *requester);
/* Sends <message type='headline'><event>…</event></message> (the `event`
 * element is copied) from the owner to the owner's available resources and
 * to the available resources of contacts allowed by the access model whose
 * caps include node+notify. */
void pep_notify(pep_state_t *st, const char *owner, const char *node, pep_access_t access,
                const pl_xml_t *event);
/* The last items of the nodes `full` is interested in (caps +notify), its
 * own and its contacts', sent to that resource.  `interests` are node
 * names. */
void pep_send_last_items(pep_state_t *st, const char *full, char **interests, size_t n);
/* Builds an <event/> holding <items node><item id>payload</item></items>. */
pl_stanza_t *pep_event_item(const char *node, const char *id, const pl_xml_t *payload);

/* ---- pubsub.c: the IQ handlers ---- */
pl_hook_result_t pep_pubsub_get(pl_hook_ctx_t *hc);
pl_hook_result_t pep_pubsub_set(pl_hook_ctx_t *hc);
pl_hook_result_t pep_owner_get(pl_hook_ctx_t *hc);
pl_hook_result_t pep_owner_set(pl_hook_ctx_t *hc);

/* ---- caps-cache.c ---- */
pep_caps_t *pep_caps_new(size_t max_entries, size_t max_pending);
void pep_caps_free(pep_caps_t **cp);
/* 1 when the resource (its last presence) advertises the feature. */
int pep_caps_has(pep_caps_t *c, const char *full, const pl_stanza_t *presence, const char *feature);
/* The node names the resource's caps mark +notify: 1 known (*out holds *n
 * heap strings, freed with pep_strings_free), 0 no caps in the presence,
 * -1 caps not known yet. */
int pep_caps_interests(pep_caps_t *c, const char *full, const pl_stanza_t *presence, char ***out,
                       size_t *n);
/* Asks the resource's disco#info for caps not known yet (once per ver
 * while a question is out); when the answer comes, sends it the last items
 * (pep_send_last_items) for every resource that waited on that ver. */
void pep_caps_learn(pep_state_t *st, const char *full, const pl_caps_ref_t *ref);
/* A resource left: its own (unverified) entry goes. */
void pep_caps_forget(pep_caps_t *c, const char *full);
/* For the tests and logs: entries in the shared cache. */
size_t pep_caps_size(pep_caps_t *c);

/* Frees the n strings and the array, and clears *vp. */
void pep_strings_free(char ***vp, size_t n);

#endif
