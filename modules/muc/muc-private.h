/* muc-private.h — what the files of the muc module share: the room model
 * (room.c), its stored record (record.c), the XEP-0045 decisions that need
 * no server (rules.c), and the protocol handlers (presence.c, message.c,
 * admin.c, disco.c) with the module's state and outbox (muc.c). */
#ifndef PL_MUC_PRIVATE_H
#define PL_MUC_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/module.h"
#include "core/server.h"
#include "lib/buf.h"
#include "lib/map.h"
#include "storage/archive.h"
#include "storage/storage.h"
#include "xmpp/ns.h"

#define MUC_NS "http://jabber.org/protocol/muc"
#define MUC_NS_ADMIN MUC_NS "#admin"
#define MUC_NS_OWNER MUC_NS "#owner"
#define MUC_FORM_ROOMCONFIG MUC_NS "#roomconfig"
#define MUC_FORM_ROOMINFO MUC_NS "#roominfo"
#define MUC_NS_SELF_PING MUC_NS "#self-ping-optimization"
/* XEP-0421: the room's stable, opaque name of an occupant's real bare JID. */
#define MUC_NS_OCCUPANT_ID "urn:xmpp:occupant-id:0"
/* The enterprise group kinds' extra form and elements (groups.c,
 * docs/extensions/groups.md). */
#define MUC_NS_GROUPS "urn:parley:groups"
/* XEP-0055 search, used by the group search alone (search.c). */
#define MUC_NS_SEARCH "jabber:iq:search"

enum {
    MUC_MAX_NAME = 256,         /* bytes in a room name */
    MUC_MAX_DESCRIPTION = 1024, /* bytes in a description */
    MUC_MAX_PASSWORD = 256,
    MUC_MAX_SUBJECT = 1024,
    MUC_MAX_BULLETIN = 4096,
    MUC_MAX_AFFILIATIONS = 10000, /* entries in one room's lists */
    MUC_KEY_MAX = 511,            /* LMDB's key limit */
    /* room@service/nick at its longest, with the NUL */
    MUC_JID_MAX = 3 * PL_JID_PART_MAX + 3,
    /* An occupant id: 128 bits of the keyed digest, base64url, with the NUL */
    MUC_OCCUPANT_ID_SIZE = 23,
};

/* Affiliations, ordered by rank so comparisons read as the XEP's tables. */
typedef enum muc_affil {
    MUC_AFFIL_OUTCAST = -1,
    MUC_AFFIL_NONE = 0,
    MUC_AFFIL_MEMBER = 1,
    MUC_AFFIL_ADMIN = 2,
    MUC_AFFIL_OWNER = 3,
} muc_affil_t;

typedef enum muc_role {
    MUC_ROLE_NONE = 0,
    MUC_ROLE_VISITOR = 1,
    MUC_ROLE_PARTICIPANT = 2,
    MUC_ROLE_MODERATOR = 3,
} muc_role_t;

const char *muc_affil_name(muc_affil_t a);
/* 0 and *out set, or -1 for a name that is not an affiliation. */
int muc_affil_parse(const char *s, muc_affil_t *out);
const char *muc_role_name(muc_role_t r);
int muc_role_parse(const char *s, muc_role_t *out);

/* Room configuration flags (muc#roomconfig booleans). */
enum {
    MUC_CONF_PERSISTENT = 1u << 0,
    MUC_CONF_PUBLIC = 1u << 1,
    MUC_CONF_MEMBERS_ONLY = 1u << 2,
    MUC_CONF_MODERATED = 1u << 3,
    MUC_CONF_PASSWORD = 1u << 4,       /* passwordprotectedroom */
    MUC_CONF_WHOIS_ANYONE = 1u << 5,   /* whois = anyone (non-anonymous) */
    MUC_CONF_CHANGE_SUBJECT = 1u << 6, /* participants may change the subject */
    MUC_CONF_ALLOW_PM = 1u << 7,       /* occupants may send private messages */
    /* enablearchiving off: stored inverted, so rooms stored before the
     * room archive existed keep the default (on). */
    MUC_CONF_NO_ARCHIVE = 1u << 8,
    /* allowinvites off (only admins and owners invite): stored inverted,
     * so rooms stored before the field existed keep inviting as before. */
    MUC_CONF_NO_INVITES = 1u << 9,
    /* The urn:parley:groups push field (groups.c): neither bit is "all"
     * (every message is pushed to members whose clients are away). */
    MUC_CONF_PUSH_MENTIONS = 1u << 10, /* only messages that mention the member */
    MUC_CONF_PUSH_NONE = 1u << 11,     /* none (the inbox still counts them) */
    MUC_CONF__ALL = (1u << 12) - 1,
};

typedef struct muc_config {
    char *name;         /* NULL: none */
    char *description;  /* NULL: none */
    char *password;     /* NULL: none (checked only with MUC_CONF_PASSWORD) */
    unsigned flags;     /* MUC_CONF_* */
    long max_occupants; /* 0: the module's limit */
} muc_config_t;

/* An affiliation granted to a bare JID, and when (for the later "oldest
 * admin" hand-over). */
typedef struct muc_aff {
    char *jid;
    muc_affil_t affil;
    int64_t since_ms;
} muc_aff_t;

typedef struct muc_occupant {
    char *nick;
    char *jid;  /* full JID of the occupant's session */
    char *bare; /* its bare JID */
    muc_role_t role;
    pl_stanza_t *presence; /* the client's last presence to the room (compact copy) */
    char occupant_id[MUC_OCCUPANT_ID_SIZE]; /* XEP-0421, of bare in this room ("" : none) */
    double tokens;         /* groupchat token bucket */
    uint64_t tokens_at_ms;
} muc_occupant_t;

/* One message of the in-memory history: the room's copy without 'to'. */
typedef struct muc_hist {
    pl_stanza_t *msg;
    int64_t at_ms;
    size_t chars;
} muc_hist_t;

/* What kind of group a room is (GRP-1, GRP-2): a plain XEP-0045 room, or
 * one of the enterprise kinds with their member limits and rights. */
typedef enum muc_kind {
    MUC_KIND_ROOM = 0,
    MUC_KIND_CONTACT = 1,   /* persistent, managed by owners and admins */
    MUC_KIND_TEMPORARY = 2, /* members invite and rename; dismissed when idle */
} muc_kind_t;

typedef struct muc_room {
    char *jid;   /* room bare JID, normalised */
    char *local; /* its localpart */
    muc_config_t config;
    char *subject;    /* NULL: none set */
    char *subject_by; /* nick (or the room JID) that set it */
    int64_t created_ms, active_ms;
    int64_t stored_active_ms; /* active_ms in the last record queued */
    int locked;             /* created, awaiting the owner's configuration (201) */
    unsigned long long gen; /* bumped at every stored change: orders writes */
    muc_aff_t *affs;
    size_t naffs;
    muc_occupant_t **occ;
    size_t nocc;
    muc_hist_t *hist; /* ring of hist_cap */
    size_t hist_cap, hist_start, hist_len;
    muc_kind_t kind; /* groups.c */
    char *bulletin;  /* a group's bulletin; NULL: none */
} muc_room_t;

/* ---- room.c: the model ---- */
void muc_config_default(muc_config_t *c);
void muc_config_deinit(muc_config_t *c);
muc_room_t *muc_room_new(const char *jid, size_t hist_cap, int64_t now_ms);
void muc_room_free(muc_room_t **rp);
muc_affil_t muc_room_affil(const muc_room_t *r, const char *bare);
const muc_aff_t *muc_room_aff(const muc_room_t *r, const char *bare);
/* Sets (NONE removes) an affiliation; `since` stays when it does not change. */
void muc_room_set_affil(muc_room_t *r, const char *bare, muc_affil_t a, int64_t now_ms);
size_t muc_room_count_affil(const muc_room_t *r, muc_affil_t a);
muc_occupant_t *muc_room_by_nick(const muc_room_t *r, const char *nick);
muc_occupant_t *muc_room_by_jid(const muc_room_t *r, const char *full);
muc_occupant_t *muc_room_add(muc_room_t *r, const char *nick, const char *full, const char *bare,
                             muc_role_t role);
void muc_room_remove(muc_room_t *r, muc_occupant_t *o);
void muc_occupant_rename(muc_occupant_t *o, const char *nick);
void muc_occupant_set_presence(muc_occupant_t *o, const pl_stanza_t *presence);
/* Keeps a copy (a reference) of `msg` sent at now_ms. */
void muc_room_history_push(muc_room_t *r, const pl_stanza_t *msg, int64_t now_ms);
void muc_room_history_clear(muc_room_t *r);
const muc_hist_t *muc_room_history_at(const muc_room_t *r, size_t i);

/* What a joining client asks of the history (XEP-0045 §7.2.15); -1 = not
 * given. */
typedef struct muc_hist_req {
    long maxstanzas, maxchars;
    long long seconds;
    int64_t since_ms;
} muc_hist_req_t;
/* The newest messages that meet every limit: returns how many, and the
 * index (0 = oldest kept) of the first in *first. */
size_t muc_history_select(const muc_room_t *r, const muc_hist_req_t *q, int64_t now_ms,
                          size_t *first);

/* ---- record.c: the stored room ---- */
/* Record text, version 1:
 *   "muc1 GEN FLAGS MAXOCC CREATED ACTIVE\n"
 *   then fields, each "T LEN\n" LEN bytes "\n", T one of
 *   n name, d description, p password, s subject, b subject_by,
 *   a affiliation ("RANK SINCE JID"), g a group's kind ("contact" or
 *   "temporary"; absent: a plain room), u a group's bulletin. */
void muc_record_encode(const muc_room_t *r, pl_buf_t *out);
/* Fills a new room (history capacity hist_cap) from a record; 0, or
 * -EBADMSG for a record that is not one (the room is not made). */
int muc_record_decode(const char *jid, const char *data, size_t len, size_t hist_cap,
                      muc_room_t **out);
/* The generation in a record's header, or 0. */
unsigned long long muc_record_gen(const char *data, size_t len);
/* Store key: service domain, NUL, room localpart. */
int muc_record_key(pl_buf_t *k, const char *service, const char *local);

/* ---- rules.c: XEP-0045's decisions ---- */
typedef struct muc_join_req {
    muc_affil_t affil;
    int password_ok;  /* the right password was given (or none is needed) */
    int nick_taken;   /* another occupant (other bare JID) has the nick */
    size_t occupants; /* how many there are now */
    size_t max;       /* the room's limit */
} muc_join_req_t;
/* 0 to let in, else the XEP-0045 §7.2 condition. */
pl_stanza_err_t muc_join_decide(const muc_config_t *c, int locked, const muc_join_req_t *j);
muc_role_t muc_default_role(const muc_config_t *c, muc_affil_t a);
/* May `actor` give the occupant `target` the role `role` (§8, §9)?  0 or
 * the condition. */
pl_stanza_err_t muc_may_set_role(muc_affil_t actor_aff, muc_role_t actor_role,
                                 muc_affil_t target_aff, muc_role_t target_role, muc_role_t role);
/* May `actor` change an affiliation from `old` to `affil` (§9, §10)?
 * `owners` counts the room's owners (the last one cannot go). */
pl_stanza_err_t muc_may_set_affil(muc_affil_t actor, muc_affil_t old, muc_affil_t affil,
                                  size_t owners);
pl_stanza_err_t muc_may_set_subject(const muc_config_t *c, muc_role_t role);
/* §7.8.2: whether an occupant of affiliation `a` may invite.  Temporary
 * groups: members and above, always (GRP-2).  Members-only rooms and
 * contact groups: members and above, or admins and owners only when
 * allowinvites is off.  Open rooms: anyone, or admins and owners only when
 * allowinvites is off.  PL_ERR_NONE or PL_ERR_FORBIDDEN. */
pl_stanza_err_t muc_may_invite(const muc_config_t *c, muc_kind_t kind, muc_affil_t a);
/* May a viewer with `role` see occupants' real JIDs? */
int muc_may_see_jid(const muc_config_t *c, muc_role_t viewer);
/* Which affiliation lists a viewer may read (§9.5, §10.5). */
pl_stanza_err_t muc_may_list_affil(muc_affil_t actor, muc_affil_t list);

/* ---- rules.c: the group kinds' decisions (groups.c applies them) ---- */
const char *muc_kind_name(muc_kind_t k);
/* 0 and *out set, or -1 for a name that is not a kind. */
int muc_kind_parse(const char *s, muc_kind_t *out);
/* Members of a group: affiliations member and above. */
size_t muc_group_members(const muc_aff_t *affs, size_t n);
/* Who inherits a room without an owner: the oldest admin, else the oldest
 * member (ties broken by the smaller JID); NULL when nobody is left (the
 * group is dismissed). */
const muc_aff_t *muc_group_heir(const muc_aff_t *affs, size_t n);
/* muc_may_set_affil in a group, where every member may also quit (set
 * its own affiliation to none, `self`: the JID is the actor's) (GRP-5). */
pl_stanza_err_t muc_group_may_set_affil(muc_affil_t actor, int self, muc_affil_t old,
                                        muc_affil_t affil, size_t owners);
/* Is `r` a temporary group idle for expiry_ms or more (expiry_ms 0: never)? */
int muc_group_expired(const muc_room_t *r, int64_t now_ms, int64_t expiry_ms);
/* join_auth as the room's flags say: "approval" (members-only),
 * "password" or "none". */
const char *muc_join_auth_name(unsigned flags);
/* The flags with join_auth `s` applied; -1 for an unknown value. */
int muc_join_auth_apply(const char *s, unsigned *flags);

/* ---- the module (muc.c) ---- */
typedef struct muc_conf {
    char *service;
    long long max_rooms;
    long long max_occupants;
    long long history_size;
    long long occupant_rate;
    long long occupant_burst;
    long long contact_max_members;   /* GRP-1 */
    long long temporary_max_members; /* GRP-2 */
    long long temporary_expiry;      /* ms without activity before dismissal */
    long long expiry_batch;          /* rooms looked at per expiry tick */
    long long max_mentions;          /* members one message may mention (GRP-7) */
    long long archive_retention;     /* ms a room archive keeps a message (0: forever) */
    long long archive_purge_interval; /* ms between retention purges */
    long long archive_purge_batch;    /* messages deleted per purge transaction */
} muc_conf_t;

/* Stanzas made under the state lock, routed once it is released (a route
 * may bounce back into the module). */
typedef struct muc_out {
    pl_stanza_t **v;
    size_t n, cap;
} muc_out_t;

typedef struct muc_state {
    pl_module_ctx_t *ctx;
    const muc_conf_t *conf;
    char service[1100]; /* the service domain */
    pl_kv_t *rooms_kv;
    pthread_mutex_t lock;
    pl_map_t rooms; /* room bare JID -> muc_room_t */
    size_t expiry_pos; /* where the next expiry batch starts in rooms */
    pl_archive_t *archive; /* the room archive's read side (archive.c) */
    atomic_int queries;    /* archive queries in flight, from any loop */
    int warmed;            /* history rings refilled from the archive (loop 0 only) */
    /* The room archives' retention purge (archive.c, loop 0 only). */
    int purge_running, purge_more;
    uint64_t next_purge_ms;
    /* IQs relayed to occupants still waiting for an answer (forward.c):
     * per sender bare JID (a count in the pointer) and in all, so that no
     * user, and no tenant, fills the server's request table. */
    pl_map_t forwards;
    size_t nforwards;
} muc_state_t;

muc_state_t *muc_state(pl_hook_ctx_t *hc);
void muc_out_take(muc_out_t *o, pl_stanza_t *st);
void muc_out_flush(pl_server_t *srv, muc_out_t *o);
/* Queues the room's record (or its deletion) for the next commit. */
void muc_room_save(muc_state_t *st, muc_room_t *r);
void muc_room_forget(muc_state_t *st, muc_room_t *r);
/* Removes the room from the map and frees it (the lock is held). */
void muc_room_drop(muc_state_t *st, muc_room_t *r);
/* The room ends (§10.9): every occupant leaves as from a destroyed room,
 * told the alternate venue and the reason (each NULL: none), and the room
 * and its record go.  `r` is freed. */
void muc_room_destroy(muc_state_t *st, muc_out_t *out, muc_room_t *r, const char *venue,
                      const char *reason);
/* Drops the room when nobody is left in it and it is temporary or still
 * locked (§10.9): after anything that may empty a room.  `r` may be freed. */
void muc_room_maybe_end(muc_state_t *st, muc_room_t *r);
/* An error reply to the sender of the hook's stanza, into the outbox. */
void muc_out_error(muc_out_t *o, const pl_stanza_t *orig, pl_stanza_err_t cond, const char *text);

/* presence.c */
pl_hook_result_t muc_on_presence(pl_hook_ctx_t *hc);
/* XEP-0421: the occupant id of `bare` in `room`, the same at every entry
 * and after restarts (a digest under the server's secret key), different in
 * every room, and telling nothing of the JID. */
void muc_occupant_id(const pl_server_t *srv, const char *room, const char *bare,
                     char out[MUC_OCCUPANT_ID_SIZE]);
/* Adds <occupant-id/> of `o` where the builder stands (a stanza's root). */
void muc_build_occupant_id(pl_builder_t *b, const muc_occupant_t *o);
/* Children a client may not pass on through the room: its own stanza-ids
 * and occupant ids claim nothing (a pl_build_from filter). */
int muc_not_the_rooms(void *ud, const pl_xml_t *c);
/* An error from an occupant's address that says its client is gone
 * (delivery to it failed, and it has no session any more): the occupant
 * leaves with 333 (§7.14).  Returns PL_DONE. */
pl_hook_result_t muc_on_occupant_error(pl_hook_ctx_t *hc);
/* Presence of occupant `o` as `viewer` sees it (type NULL: available),
 * with status codes (0-terminated) and optional extra muc#user children. */
pl_stanza_t *muc_occupant_presence(const muc_room_t *r, const muc_occupant_t *o,
                                   const muc_occupant_t *viewer, const char *type, const int *codes,
                                   const char *actor, const char *reason, const char *new_nick);
/* Tells every occupant about `o` (available, or unavailable with codes),
 * `o` itself with 110 added. */
void muc_broadcast_occupant(muc_out_t *out, const muc_room_t *r, const muc_occupant_t *o,
                            const char *type, const int *codes, const char *actor,
                            const char *reason, const char *new_nick);
/* Removes `o` after telling everyone (kick, ban, members-only removal). */
void muc_remove_occupant(muc_state_t *st, muc_out_t *out, muc_room_t *r, muc_occupant_t *o,
                         int code, const char *actor, const char *reason);

/* message.c */
pl_hook_result_t muc_on_message(pl_hook_ctx_t *hc);
/* The room's subject message (from room or room/nick) for `to`. */
pl_stanza_t *muc_subject_message(const muc_room_t *r, const char *to);
/* A message from the room itself (status codes), to every occupant. */
void muc_room_notice(muc_out_t *out, const muc_room_t *r, const int *codes);

/* admin.c */
pl_hook_result_t muc_admin_get(pl_hook_ctx_t *hc);
pl_hook_result_t muc_admin_set(pl_hook_ctx_t *hc);
pl_hook_result_t muc_owner_get(pl_hook_ctx_t *hc);
pl_hook_result_t muc_owner_set(pl_hook_ctx_t *hc);

/* disco.c */
pl_hook_result_t muc_disco_info(pl_hook_ctx_t *hc);
pl_hook_result_t muc_disco_items(pl_hook_ctx_t *hc);
/* XEP-0410 self-ping to room/nick, answered by the room. */
pl_hook_result_t muc_self_ping(pl_hook_ctx_t *hc);

/* search.c: group search (XEP-0055 with a data form, XEP-0059 paging) */
pl_hook_result_t muc_search_get(pl_hook_ctx_t *hc);
pl_hook_result_t muc_search_set(pl_hook_ctx_t *hc);
/* What "fuzzy" means for names: appends `s` folded to `out`, with ASCII
 * letters and the Latin-1 capitals U+00C0..U+00DE lowered and white space
 * (ASCII and U+3000) dropped; every other byte (CJK...) kept as it is. */
void muc_search_fold(const char *s, size_t len, pl_buf_t *out);
/* Does the folded `name` contain the folded needle (nlen 0: always)? */
int muc_search_match(const char *folded_needle, size_t nlen, const char *name);
/* qsort order of room pointers by their JID (the paging key). */
int muc_rooms_by_jid(const void *a, const void *b);
/* The page [*from, *to) of the n rooms (sorted by JID) that an XEP-0059
 * request asks for: after/before a room JID, the last page, an index. */
struct pl_rsm;
void muc_rooms_page(muc_room_t *const *v, size_t n, const struct pl_rsm *q, size_t *from,
                    size_t *to);

/* forward.c: IQs to room/nick go to that occupant's client (XEP-0045 IQ relaying) */
pl_hook_result_t muc_forward_iq(pl_hook_ctx_t *hc);

/* account.c: a deleted account leaves every room (core/module.h) */
int muc_account_removed(pl_wtxn_t *txn, const char *bare, void **note);
void muc_account_removed_after(pl_server_t *srv, const char *bare, void *note);

/* config.c */
/* The room's muc#roomconfig form (type "form") inside the builder. */
void muc_config_form(pl_builder_t *b, const muc_room_t *r, const muc_conf_t *conf);
/* Applies a submitted muc#roomconfig form, all or nothing: 0, -EBADMSG
 * (not a data form, or another FORM_TYPE: bad-request) or -EINVAL (a value
 * the room cannot take: not-acceptable), with *why. */
int muc_config_apply(muc_room_t *r, const pl_xml_t *x, const muc_conf_t *conf, const char **why);

/* groups.c: the enterprise group kinds (urn:parley:groups) */
/* The room's urn:parley:groups form of `type` ("form" for owners,
 * "result" in disco#info) inside the builder; nothing for a plain room. */
void muc_groups_form(pl_builder_t *b, const muc_room_t *r, const muc_conf_t *conf,
                     const char *type);
/* The urn:parley:groups data form among a query's children, or NULL. */
const pl_xml_t *muc_groups_form_in(const pl_xml_t *query);
/* The most members the room may have (0: no limit, a plain room). */
size_t muc_group_max(const muc_room_t *r, const muc_conf_t *conf);
/* May the group go from its member count to `members`?  0, or
 * resource-constraint with *why. */
pl_stanza_err_t muc_group_may_have(const muc_room_t *r, const muc_conf_t *conf, size_t members,
                                   const char **why);
/* Applies a submitted urn:parley:groups form by an owner (all of it) or,
 * in a temporary group, by a member (the name only).  0, or the condition
 * with *why; on success *bulletin_changed says whether to announce it. */
pl_stanza_err_t muc_groups_apply(muc_room_t *r, const pl_xml_t *x, const muc_conf_t *conf,
                                 muc_affil_t actor, int *bulletin_changed, const char **why);
/* A kind's standing rules on the configuration (a group is persistent). */
void muc_groups_enforce(muc_room_t *r);
/* The bulletin as a groupchat message from the room to its occupants. */
void muc_groups_announce_bulletin(muc_out_t *out, const muc_room_t *r);
/* After affiliation changes: a group left without an owner goes to its
 * heir, or is dismissed when nobody is left.  1 when `r` was dismissed
 * (and freed). */
int muc_groups_hand_over(muc_state_t *st, muc_out_t *out, muc_room_t *r);
/* Makes `heir` (an affiliation of `r`, chosen by muc_group_heir) the
 * owner, logs `event` and tells the occupants of the heir's new
 * affiliation (the lock is held). */
void muc_hand_to_heir(muc_state_t *st, muc_out_t *out, muc_room_t *r, const muc_aff_t *heir,
                      const char *event);
/* Dismisses a group: a notice to every member, the occupants leave with
 * <destroy/>, the room and its record go.  `r` is freed. */
void muc_groups_dismiss(muc_state_t *st, muc_out_t *out, muc_room_t *r, const char *why);
/* Timer: dismisses idle temporary groups, expiry_batch rooms a tick. */
void muc_groups_expire(pl_module_ctx_t *ctx);
/* mention.c: who a message mentions (GRP-7) */
typedef struct muc_mention_who {
    const char *bare; /* a member's (or occupant's) bare JID, normalised */
    const char *nick; /* the nick it uses in the room when it is an occupant, or NULL */
} muc_mention_who_t;
/* Who among who[0..n) the message `msg` (the room's copy) in room `room`
 * mentions: XEP-0372 references of type mention whose uri is xmpp:BARE
 * or xmpp:ROOM/NICK, and "@name" in the body where name is an occupant's
 * nick or a member's localpart (ASCII letters without case; the longest
 * name that stands there as a whole word; names in CJK need no space
 * after them).  Sets hit[i] to 1 or 0 for each, at most `max` of them,
 * and returns how many. */
size_t muc_mentions_find(const pl_xml_t *msg, const char *room, const muc_mention_who_t *who,
                         size_t n, size_t max, unsigned char *hit);
/* The push field's value for the room's flags: "all", "mentions" or "none". */
const char *muc_push_name(unsigned flags);
/* The flags with push `s` applied; -1 for an unknown value. */
int muc_push_apply(const char *s, unsigned *flags);

/* archive.c: the room archive (XEP-0313 on the room JID) */
/* Whether the room's messages go to its archive: persistent rooms whose
 * configuration leaves enablearchiving on. */
int muc_archiving(const muc_room_t *r);
/* Queues a groupchat message the room accepted (`msg`: the room's copy,
 * from room/nick with its stanza-id `id`) for the archive. */
void muc_archive_store(muc_state_t *st, const muc_room_t *r, const muc_occupant_t *o,
                       const pl_stanza_t *msg, const char *id);
/* Queues the deletion of a destroyed room's archive. */
void muc_archive_forget(muc_state_t *st, const muc_room_t *r);
pl_hook_result_t muc_archive_query(pl_hook_ctx_t *hc);
pl_hook_result_t muc_archive_form(pl_hook_ctx_t *hc);
/* Once after start (a pl_module_every tick): refills the empty history
 * rings of archiving rooms with their newest archived messages, read on a
 * worker thread, so those who enter after a restart still get history. */
void muc_archive_warm(pl_module_ctx_t *ctx);
/* Timer: deletes the service's room messages older than archive_retention,
 * archive_purge_batch at a time (every room of the service, loaded or not:
 * the archive is asked by the owner's domain). */
void muc_archive_purge(pl_module_ctx_t *ctx);
/* The oldest time (unix ms) a room message may have and still be given
 * out by `r` (archive or history on entering); 0: no limit. */
int64_t muc_archive_horizon(const muc_state_t *st, const muc_room_t *r, int64_t now_ms);

#endif
