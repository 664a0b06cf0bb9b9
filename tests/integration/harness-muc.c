/* harness-muc.c — the group-chat steps of harness-muc.h, written once for
 * test_muc*.c and test_groups.c, which had each carried a copy. */
#include "tests/integration/harness-muc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_USER H_NS_MUC "#user"

const char *h_muc_occ_at(const char *svc, const char *room, const char *nick)
{
    /* A ring, so that a call may take several JIDs in its arguments. */
    static char buf[8][256];
    static unsigned next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s@%s/%s", room, svc, nick);
    return b;
}

const char *h_muc_occ(const char *room, const char *nick)
{
    return h_muc_occ_at(H_MUC_SVC, room, nick);
}

const char *h_muc_room(const char *room)
{
    static char buf[8][256];
    static unsigned next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s@" H_MUC_SVC, room);
    return b;
}

xmpp_stanza_t *h_muc_item_of(xmpp_stanza_t *st)
{
    xmpp_stanza_t *x = h_child(st, "x", NS_USER);
    return x ? xmpp_stanza_get_child_by_name(x, "item") : NULL;
}

int h_muc_has_status(xmpp_stanza_t *st, const char *code)
{
    xmpp_stanza_t *x = h_child(st, "x", NS_USER);
    for (xmpp_stanza_t *k = x ? xmpp_stanza_get_children(x) : NULL; k; k = xmpp_stanza_get_next(k))
        if (xmpp_stanza_is_tag(k) && strcmp(xmpp_stanza_get_name(k), "status") == 0 &&
            h_attr_eq(k, "code", code))
            return 1;
    return 0;
}

typedef struct pres_want {
    const char *from;
    const char *type;
} pres_want_t;

static int is_presence(xmpp_stanza_t *st, const void *ud)
{
    const pres_want_t *w = ud;
    return strcmp(xmpp_stanza_get_name(st), "presence") == 0 && h_attr_eq(st, "from", w->from) &&
           h_attr_eq(st, "type", w->type);
}

xmpp_stanza_t *h_muc_presence_from(h_client_t *c, const char *from, const char *type)
{
    /* Not h_wait: its NULL type takes any type, and here NULL means none,
     * so that an available presence is not confused with an unavailable one. */
    return h_wait_for(c, is_presence, &(pres_want_t){.from = from, .type = type}, 5000);
}

const char *h_muc_join(h_client_t *c, const char *occupant, const char *inner, const char *extra,
                       xmpp_stanza_t **self)
{
    static char out[8][64];
    static unsigned next;
    char *o = out[next++ % 8];
    h_send(c, "<presence to='%s'><x xmlns='" H_NS_MUC "'>%s</x>%s</presence>", occupant,
           inner ? inner : "", extra ? extra : "");
    snprintf(o, 64, "timeout");
    long long deadline = h_now_ms() + 5000;
    while (h_now_ms() < deadline) {
        xmpp_stanza_t *p = h_wait(c, &(h_match_t){.name = "presence", .from = occupant}, 5000);
        if (!p)
            break;
        if (h_attr_eq(p, "type", "error")) {
            const char *cond = h_error_condition(p);
            snprintf(o, 64, "%s", cond ? cond : "error");
            xmpp_stanza_release(p);
            break;
        }
        if (h_muc_has_status(p, "110")) {
            snprintf(o, 64, "ok");
            if (self)
                *self = p;
            else
                xmpp_stanza_release(p);
            break;
        }
        xmpp_stanza_release(p);
    }
    return o;
}

const char *h_muc_enter_x(h_client_t *c, const char *room, const char *nick, const char *inner,
                          xmpp_stanza_t **self)
{
    return h_muc_join(c, h_muc_occ(room, nick), inner, NULL, self);
}

const char *h_muc_enter(h_client_t *c, const char *room, const char *nick)
{
    return h_muc_join(c, h_muc_occ(room, nick), NULL, NULL, NULL);
}

void h_muc_leave(h_client_t *c, const char *room, const char *nick)
{
    h_send(c, "<presence to='%s' type='unavailable'/>", h_muc_occ(room, nick));
    h_rel(h_muc_presence_from(c, h_muc_occ(room, nick), "unavailable"));
}

const char *h_muc_configure(h_client_t *c, const char *room, const char *fields)
{
    char q[4096];
    snprintf(q, sizeof(q),
             "<query xmlns='" H_NS_MUC "#owner'><x xmlns='jabber:x:data' type='submit'>"
             "<field var='FORM_TYPE'><value>" H_NS_MUC "#roomconfig</value></field>%s</x></query>",
             fields ? fields : "");
    return h_iq_outcome(c, "set", h_muc_room(room), q);
}

const char *h_muc_admin_set(h_client_t *c, const char *room, const char *items)
{
    char q[2048];
    snprintf(q, sizeof(q), "<query xmlns='" H_NS_MUC "#admin'>%s</query>", items);
    return h_iq_outcome(c, "set", h_muc_room(room), q);
}

int h_muc_create(h_client_t *owner, const char *room, const char *nick, const char *fields,
                 int must_be_new)
{
    xmpp_stanza_t *self = NULL;
    const char *r = h_muc_enter_x(owner, room, nick, NULL, &self);
    int ok =
        CHECK_MSG(strcmp(r, "ok") == 0, "creating %s: %s", room, r) &&
        (!must_be_new || CHECK_MSG(h_muc_has_status(self, "201"), "no 201 creating %s", room)) &&
        CHECK_MSG(strcmp(h_muc_configure(owner, room, fields), "result") == 0, "configuring %s",
                  room);
    h_rel(self);
    h_drain(owner);
    return ok;
}

const char *h_muc_field(xmpp_stanza_t *x, const char *var, char *out, size_t len,
                        const char *absent)
{
    snprintf(out, len, "%s", absent);
    for (xmpp_stanza_t *f = x ? xmpp_stanza_get_children(x) : NULL; f;
         f = xmpp_stanza_get_next(f)) {
        if (xmpp_stanza_is_tag(f) && h_attr_eq(f, "var", var)) {
            char *v = h_child_text(f, "value");
            snprintf(out, len, "%s", v ? v : "");
            free(v);
        }
    }
    return out;
}

void h_muc_say(h_client_t *c, const char *room, const char *body)
{
    h_send(c, "<message to='%s' type='groupchat' id='%s'><body>%s</body></message>",
           h_muc_room(room), h_id(), body);
}

xmpp_stanza_t *h_muc_heard(h_client_t *c, const char *from, const char *body)
{
    return h_wait(
        c, &(h_match_t){.name = "message", .type = "groupchat", .from = from, .body = body}, 5000);
}

int h_muc_hears(h_client_t *c, const char *body)
{
    return h_got(h_muc_heard(c, NULL, body));
}
