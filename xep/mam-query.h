/* xep/mam-query.h — the parts of XEP-0313 that every archive shares (an
 * account's in modules/mam, a room's in modules/muc): the write job that
 * stores a message, XEP-0082 date-times, reading the <query/> (its data
 * form filters and XEP-0059 paging) into an archive query, and building
 * the answer (the <result/> messages, the <fin/>, the error IQ).  Who may read which archive, and
 * where the answers go, stay with each module. */
#ifndef PL_XEP_MAM_QUERY_H
#define PL_XEP_MAM_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "core/server.h"
#include "storage/archive.h"
#include "xmpp/stanza.h"

#define PL_MAM_FULLTEXT_FIELD "{urn:xmpp:fulltext:0}fulltext"

/* Queues `st` into `owner`'s archive under `key` (the write joins the next
 * group commit; with every namespace declared, so the record reads back the
 * same inside a <forwarded/> wrapper; its body indexed for search).  Only
 * from a loop thread.  0 or <0 (nothing queued). */
int pl_mam_store(pl_server_t *srv, const char *owner, int64_t key, const char *peer,
                 const char *peer_resource, pl_archive_dir_t dir, const pl_stanza_t *st);

/* XEP-0082 DateTime -> microseconds since 1970; 0 or -1 when malformed. */
int pl_mam_time_parse(const char *s, int64_t *us);
/* Microseconds -> "YYYY-MM-DDThh:mm:ss.ffffffZ" (buf >= 32 bytes). */
void pl_mam_time_format(int64_t us, char *buf, size_t len);

/* A read request: `q` is ready to run once the caller sets q.owner (and
 * q.budget_ms); its strings and keys point into this struct, which must not
 * be copied. */
typedef struct pl_mam_req {
    pl_archive_query_t q;
    char *with, *with_resource, *fulltext;
    int64_t keys[PL_ARCHIVE_MAX_IDS];
    int flip; /* <flip-page/>: send the page's items newest first */
} pl_mam_req_t;

/* Reads the form (x, may be NULL) and the <set/> (may be NULL) of a query.
 * 0, or -1 with the error to answer in *cond and *text. */
int pl_mam_req_read(pl_mam_req_t *r, const pl_xml_t *query, size_t default_page, size_t max_page,
                    pl_stanza_err_t *cond, const char **text);
void pl_mam_req_deinit(pl_mam_req_t *r);

/* <message from to><result queryid id><forwarded><delay/>stored</forwarded>
 * </result></message> for one item, or NULL for a damaged record. */
pl_stanza_t *pl_mam_result(const char *from, const char *to, const char *queryid,
                           const pl_archive_item_t *it);
/* Appends <fin/> (complete, queryid, the RSM <set/>) for the page that
 * answered `r` to the builder's current element. */
void pl_mam_fin(pl_builder_t *b, const pl_mam_req_t *r, const pl_archive_page_t *page,
                const char *queryid);

/* The answer to a search-form request (an IQ get of <query/>): the
 * result IQ with id `id` holding the form of the filters this archive
 * takes (no from/to: for pl_reply_take); `groupchat_field` adds
 * include-groupchat (a user's archive; a room's has no use for it). */
pl_stanza_t *pl_mam_form_reply(const char *id, int groupchat_field);

/* <iq type id from to>, open for its payload. */
pl_builder_t *pl_mam_iq_begin(const char *type, const char *id, const char *from, const char *to);
/* The error IQ with `cond` and an optional text. */
pl_stanza_t *pl_mam_iq_error(const char *id, const char *from, const char *to, pl_stanza_err_t cond,
                             const char *text);
/* How to answer a query that pl_archive_query failed with `rc` (< 0). */
pl_stanza_err_t pl_mam_query_error(int rc, const char **text);

#endif
