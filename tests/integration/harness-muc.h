/* harness-muc.h — steps the group-chat tests (test_muc*.c, test_groups.c)
 * share: occupant and room JIDs on the group service, entering, creating
 * and leaving rooms, and reading the muc#user parts of what comes back.
 * Linked into every test binary with the rest of harness*.c. */
#ifndef PL_TEST_HARNESS_MUC_H
#define PL_TEST_HARNESS_MUC_H

#include "tests/integration/harness.h"

/* The group service every test server runs. */
#define H_MUC_SVC "groups.example.test"
#define H_NS_MUC "http://jabber.org/protocol/muc"

/* room@svc/nick; the string stays valid for the next seven calls. */
const char *h_muc_occ_at(const char *svc, const char *room, const char *nick);
/* room@H_MUC_SVC/nick, as h_muc_occ_at. */
const char *h_muc_occ(const char *room, const char *nick);
/* room@H_MUC_SVC; the string stays valid for the next seven calls. */
const char *h_muc_room(const char *room);

/* The <item/> of the muc#user <x/> in `st`, or NULL (also for NULL st). */
xmpp_stanza_t *h_muc_item_of(xmpp_stanza_t *st);
/* 1 when the muc#user <x/> of `st` holds <status code='code'/>. */
int h_muc_has_status(xmpp_stanza_t *st, const char *code);

/* Waits (5 s) for the presence from `from` of `type` — NULL: an available
 * presence, one with no type — and returns it (release it), or NULL. */
xmpp_stanza_t *h_muc_presence_from(h_client_t *c, const char *from, const char *type);

/* Sends presence to the occupant JID with <x xmlns=muc>inner</x> and then
 * `extra` (each may be NULL) and waits for the answer from that JID: "ok"
 * on the self-presence (status 110), else the error's condition ("error"
 * without one) or "timeout"; other presences from it are skipped.  The
 * self-presence is left in *self (release it) when self is not NULL.  The
 * string stays valid for the next seven calls. */
const char *h_muc_join(h_client_t *c, const char *occupant, const char *inner, const char *extra,
                       xmpp_stanza_t **self);
/* h_muc_join of room/nick on H_MUC_SVC, with no extra children. */
const char *h_muc_enter_x(h_client_t *c, const char *room, const char *nick, const char *inner,
                          xmpp_stanza_t **self);
/* h_muc_join of room/nick on H_MUC_SVC with an empty <x/>. */
const char *h_muc_enter(h_client_t *c, const char *room, const char *nick);
/* Sends unavailable presence to room/nick and waits (5 s) for its echo. */
void h_muc_leave(h_client_t *c, const char *room, const char *nick);

/* Submits the muc#roomconfig form with `fields` (may be NULL) to the
 * room's muc#owner; the IQ's outcome as h_iq_outcome. */
const char *h_muc_configure(h_client_t *c, const char *room, const char *fields);
/* A muc#admin set of `items` to the room; the outcome as h_iq_outcome. */
const char *h_muc_admin_set(h_client_t *c, const char *room, const char *items);
/* `owner` enters `room` as `nick` and configures it with `fields`; with
 * must_be_new it also checks that the room was created (status 201).
 * Each failure is a CHECK; 1 when all went well.  Drains the owner. */
int h_muc_create(h_client_t *owner, const char *room, const char *nick, const char *fields,
                 int must_be_new);

/* Copies the value of field `var` of a data form `x` (or of an <item/> of
 * a search result) to out — of the last such field, "" when it has no
 * <value/> — or `absent` when there is none; returns out. */
const char *h_muc_field(xmpp_stanza_t *x, const char *var, char *out, size_t len,
                        const char *absent);

/* Sends `body` as a groupchat message to the room (does not wait). */
void h_muc_say(h_client_t *c, const char *room, const char *body);
/* Waits (5 s) for the groupchat message with `body` from `from` (NULL:
 * from anyone) and returns it (release it), or NULL. */
xmpp_stanza_t *h_muc_heard(h_client_t *c, const char *from, const char *body);
/* 1 when `c` hears `body` in a room (from anyone) within 5 s. */
int h_muc_hears(h_client_t *c, const char *body);

#endif
