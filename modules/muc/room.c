/* room.c — the in-memory room: configuration, affiliations with the time
 * they were granted, occupants, and the ring of recent messages sent to
 * joiners as history.  Nothing here locks or routes: muc.c holds the lock,
 * the handlers decide and send. */
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "modules/muc/muc-private.h"

static const char *const affil_names[] = {"outcast", "none", "member", "admin", "owner"};
static const char *const role_names[] = {"none", "visitor", "participant", "moderator"};

const char *muc_affil_name(muc_affil_t a)
{
    return a >= MUC_AFFIL_OUTCAST && a <= MUC_AFFIL_OWNER ? affil_names[a + 1] : "none";
}

int muc_affil_parse(const char *s, muc_affil_t *out)
{
    for (int i = 0; s && i < 5; i++) {
        if (strcmp(s, affil_names[i]) == 0) {
            *out = (muc_affil_t)(i - 1);
            return 0;
        }
    }
    return -1;
}

const char *muc_role_name(muc_role_t r)
{
    return r >= MUC_ROLE_NONE && r <= MUC_ROLE_MODERATOR ? role_names[r] : "none";
}

int muc_role_parse(const char *s, muc_role_t *out)
{
    for (int i = 0; s && i < 4; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            *out = (muc_role_t)i;
            return 0;
        }
    }
    return -1;
}

void muc_config_default(muc_config_t *c)
{
    memset(c, 0, sizeof(*c));
    /* XEP-0045's usual defaults: a temporary, public, open, unmoderated,
     * semi-anonymous room whose occupants may change the subject and send
     * private messages. */
    c->flags = MUC_CONF_PUBLIC | MUC_CONF_CHANGE_SUBJECT | MUC_CONF_ALLOW_PM;
}

void muc_config_deinit(muc_config_t *c)
{
    free(c->name);
    free(c->description);
    free(c->password);
    memset(c, 0, sizeof(*c));
}

muc_room_t *muc_room_new(const char *jid, size_t hist_cap, int64_t now_ms)
{
    muc_room_t *r = pl_xcalloc(1, sizeof(*r));
    r->jid = pl_xstrdup(jid);
    const char *at = strchr(jid, '@');
    r->local = at ? pl_xstrndup(jid, (size_t)(at - jid)) : pl_xstrdup(jid);
    muc_config_default(&r->config);
    r->created_ms = r->active_ms = now_ms;
    r->hist_cap = hist_cap;
    if (hist_cap)
        r->hist = pl_xcalloc(hist_cap, sizeof(*r->hist));
    return r;
}

static void occupant_free(muc_occupant_t **op)
{
    muc_occupant_t *o = *op;
    *op = NULL;
    if (!o)
        return;
    free(o->nick);
    free(o->jid);
    free(o->bare);
    pl_stanza_unref(&o->presence);
    free(o);
}

void muc_room_free(muc_room_t **rp)
{
    muc_room_t *r = *rp;
    *rp = NULL;
    if (!r)
        return;
    for (size_t i = 0; i < r->nocc; i++)
        occupant_free(&r->occ[i]);
    free(r->occ);
    for (size_t i = 0; i < r->naffs; i++)
        free(r->affs[i].jid);
    free(r->affs);
    muc_room_history_clear(r);
    free(r->hist);
    muc_config_deinit(&r->config);
    free(r->subject);
    free(r->subject_by);
    free(r->bulletin);
    free(r->jid);
    free(r->local);
    free(r);
}

const muc_aff_t *muc_room_aff(const muc_room_t *r, const char *bare)
{
    for (size_t i = 0; i < r->naffs; i++)
        if (strcmp(r->affs[i].jid, bare) == 0)
            return &r->affs[i];
    return NULL;
}

muc_affil_t muc_room_affil(const muc_room_t *r, const char *bare)
{
    const muc_aff_t *a = muc_room_aff(r, bare);
    return a ? a->affil : MUC_AFFIL_NONE;
}

void muc_room_set_affil(muc_room_t *r, const char *bare, muc_affil_t a, int64_t now_ms)
{
    for (size_t i = 0; i < r->naffs; i++) {
        if (strcmp(r->affs[i].jid, bare) != 0)
            continue;
        if (a == MUC_AFFIL_NONE) {
            free(r->affs[i].jid);
            memmove(&r->affs[i], &r->affs[i + 1], (r->naffs - i - 1) * sizeof(*r->affs));
            r->naffs--;
        } else if (r->affs[i].affil != a) {
            r->affs[i].affil = a;
            r->affs[i].since_ms = now_ms;
        }
        return;
    }
    if (a == MUC_AFFIL_NONE)
        return;
    r->affs = pl_xrealloc(r->affs, (r->naffs + 1) * sizeof(*r->affs));
    r->affs[r->naffs++] = (muc_aff_t){.jid = pl_xstrdup(bare), .affil = a, .since_ms = now_ms};
}

size_t muc_room_count_affil(const muc_room_t *r, muc_affil_t a)
{
    size_t n = 0;
    for (size_t i = 0; i < r->naffs; i++)
        n += r->affs[i].affil == a;
    return n;
}

muc_occupant_t *muc_room_by_nick(const muc_room_t *r, const char *nick)
{
    for (size_t i = 0; i < r->nocc; i++)
        if (strcmp(r->occ[i]->nick, nick) == 0)
            return r->occ[i];
    return NULL;
}

muc_occupant_t *muc_room_by_jid(const muc_room_t *r, const char *full)
{
    for (size_t i = 0; i < r->nocc; i++)
        if (strcmp(r->occ[i]->jid, full) == 0)
            return r->occ[i];
    return NULL;
}

muc_occupant_t *muc_room_add(muc_room_t *r, const char *nick, const char *full, const char *bare,
                             muc_role_t role)
{
    muc_occupant_t *o = pl_xcalloc(1, sizeof(*o));
    o->nick = pl_xstrdup(nick);
    o->jid = pl_xstrdup(full);
    o->bare = pl_xstrdup(bare);
    o->role = role;
    o->tokens = -1; /* full at the first message */
    r->occ = pl_xrealloc(r->occ, (r->nocc + 1) * sizeof(*r->occ));
    r->occ[r->nocc++] = o;
    return o;
}

void muc_room_remove(muc_room_t *r, muc_occupant_t *o)
{
    for (size_t i = 0; i < r->nocc; i++) {
        if (r->occ[i] == o) {
            occupant_free(&r->occ[i]);
            memmove(&r->occ[i], &r->occ[i + 1], (r->nocc - i - 1) * sizeof(*r->occ));
            r->nocc--;
            return;
        }
    }
}

void muc_occupant_rename(muc_occupant_t *o, const char *nick)
{
    free(o->nick);
    o->nick = pl_xstrdup(nick);
}

void muc_occupant_set_presence(muc_occupant_t *o, const pl_stanza_t *presence)
{
    pl_stanza_unref(&o->presence);
    /* Compact: a presence kept for the whole stay must not pin the
     * parser's block of the stanza it came in. */
    o->presence = presence ? pl_stanza_compact(presence) : NULL;
}

void muc_room_history_push(muc_room_t *r, const pl_stanza_t *msg, int64_t now_ms)
{
    if (!r->hist_cap)
        return;
    size_t len;
    pl_stanza_bytes(msg, &len);
    muc_hist_t *slot;
    if (r->hist_len == r->hist_cap) {
        slot = &r->hist[r->hist_start];
        pl_stanza_unref(&slot->msg);
        r->hist_start = (r->hist_start + 1) % r->hist_cap;
    } else {
        slot = &r->hist[(r->hist_start + r->hist_len) % r->hist_cap];
        r->hist_len++;
    }
    *slot = (muc_hist_t){.msg = pl_stanza_ref(msg), .at_ms = now_ms, .chars = len};
}

void muc_room_history_clear(muc_room_t *r)
{
    for (size_t i = 0; i < r->hist_len; i++)
        pl_stanza_unref(&r->hist[(r->hist_start + i) % r->hist_cap].msg);
    r->hist_len = r->hist_start = 0;
}

const muc_hist_t *muc_room_history_at(const muc_room_t *r, size_t i)
{
    return i < r->hist_len ? &r->hist[(r->hist_start + i) % r->hist_cap] : NULL;
}

size_t muc_history_select(const muc_room_t *r, const muc_hist_req_t *q, int64_t now_ms,
                          size_t *first)
{
    size_t n = 0;
    long long chars = 0;
    /* Walk from the newest back while every limit still holds. */
    for (size_t k = r->hist_len; k > 0; k--) {
        const muc_hist_t *h = muc_room_history_at(r, k - 1);
        if (q->maxstanzas >= 0 && (long)n >= q->maxstanzas)
            break;
        if (q->maxchars >= 0 && chars + (long long)h->chars > q->maxchars)
            break;
        if (q->seconds >= 0 && h->at_ms < now_ms - q->seconds * 1000)
            break;
        if (q->since_ms >= 0 && h->at_ms <= q->since_ms)
            break;
        chars += (long long)h->chars;
        n++;
    }
    *first = r->hist_len - n;
    return n;
}
