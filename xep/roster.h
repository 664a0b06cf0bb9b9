/* xep/roster.h — the XML side of rosters (RFC 6121 §2), shared by the
 * roster module (roster get/set) and the presence module (subscription
 * changes push roster items too). */
#ifndef PL_XEP_ROSTER_H
#define PL_XEP_ROSTER_H

#include "core/server.h"
#include "storage/roster.h"
#include "xmpp/ns.h"
#include "xmpp/stanza.h"

/* Writes one <item/> for `it` at the builder's current element: jid, name,
 * subscription (none/to/from/both, or "remove" for a tombstone), ask,
 * approved, and <group/> children. */
void pl_roster_item_xml(pl_builder_t *b, const pl_roster_item_t *it);

/* One roster push from `user` (bare) to `to` (a full JID) carrying `it` and
 * its version; the id is `id_prefix` (at most 12 bytes) and a random part. */
pl_stanza_t *pl_roster_push_stanza(const char *user, const char *to, const pl_roster_item_t *it,
                                   const char *id_prefix);

/* Sends a roster push (RFC 6121 §2.1.6: iq type='set' from the bare JID,
 * <query ver='it->ver'> with one item) to every resource of `user` that has
 * asked for its roster (PL_RES_ROSTER).  Call after the change committed. */
void pl_roster_push(pl_server_t *srv, const char *user, const pl_roster_item_t *it);

#endif
