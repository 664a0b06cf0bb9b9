/* csi.c — client state indication (XEP-0352, urn:xmpp:csi:0).  A client
 * that says <inactive/> (a phone with its screen off) is spared presence
 * traffic: presence stanzas for it are held, only the newest one from each
 * sender is kept, and they all go out when the client says <active/>, when
 * a message with a body is delivered (so the client sees them before the
 * message that wakes it up), or when the stream ends.  Messages, IQs and
 * everything else still flow at once. */
#include <stdlib.h>
#include <string.h>

#include "core/c2s/c2s-private.h"
#include "lib/util.h"

/* Distinct senders held before everything goes out (and at most a quarter
 * of limits.max_output_bytes). */
#define PL_CSI_MAX_HELD 512

static void flush_held(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    size_t n = c->csi_nheld;
    pl_stanza_t **held = c->csi_held;
    int inactive = c->csi_inactive;
    c->csi_held = NULL;
    c->csi_nheld = c->csi_cap = 0;
    c->csi_bytes = 0;
    c->csi_inactive = 0; /* these go out, not back into the list */
    for (size_t i = 0; i < n; i++) {
        pl_session_deliver(s, held[i]);
        pl_stanza_unref(&held[i]);
    }
    c->csi_inactive = inactive;
    free(held);
}

static int same_sender(const pl_stanza_t *a, const pl_stanza_t *b)
{
    const char *fa = pl_stanza_attr(a, "from"), *fb = pl_stanza_attr(b, "from");
    return fa && fb && strcmp(fa, fb) == 0;
}

int pl_csi_hold(pl_session_t *s, const pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    const char *name = pl_stanza_name(st);
    if (strcmp(name, "presence") == 0) {
        const char *type = pl_stanza_attr(st, "type");
        /* Subscription requests and errors matter to the user: they go. */
        if (type && strcmp(type, "unavailable") != 0)
            return 0;
        for (size_t i = 0; i < c->csi_nheld; i++) {
            if (same_sender(c->csi_held[i], st)) {
                /* Only the newest state of each sender matters; it keeps
                 * the place of the first so senders stay in order. */
                c->csi_bytes -= pl_stanza_out_size(c->csi_held[i]);
                pl_stanza_unref(&c->csi_held[i]);
                c->csi_held[i] = pl_stanza_ref(st);
                c->csi_bytes += pl_stanza_out_size(st);
                return 1;
            }
        }
        /* Held presence is output the client will get: it stays well
         * inside the output bound too. */
        if (c->csi_nheld >= PL_CSI_MAX_HELD ||
            c->csi_bytes + pl_stanza_out_size(st) >
                (size_t)pl_server_limits(s->server)->max_output_bytes / 4) {
            flush_held(s);
            return 0;
        }
        if (c->csi_nheld == c->csi_cap) {
            c->csi_cap = c->csi_cap ? c->csi_cap * 2 : 8;
            c->csi_held = pl_xrealloc(c->csi_held, c->csi_cap * sizeof(*c->csi_held));
        }
        c->csi_held[c->csi_nheld++] = pl_stanza_ref(st);
        c->csi_bytes += pl_stanza_out_size(st);
        return 1;
    }
    if (strcmp(name, "message") == 0 && c->csi_nheld &&
        pl_xml_child(pl_stanza_root(st), "body", NULL))
        flush_held(s);
    return 0;
}

void pl_csi_nonza(pl_session_t *s, const pl_stanza_t *st)
{
    pl_c2s_t *c = pl_c2s(s);
    const char *name = pl_stanza_name(st);
    if (strcmp(name, "inactive") == 0) {
        c->csi_inactive = 1;
    } else if (strcmp(name, "active") == 0) {
        c->csi_inactive = 0;
        flush_held(s);
    } else {
        pl_session_stream_error(s, "unsupported-stanza-type", NULL);
    }
}

void pl_csi_end(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    /* When the session is detached for a resumption, what was held goes
     * into the stream-management queue like any stanza for it; when the
     * session ends, it is dropped with the session. */
    c->csi_inactive = 0;
    flush_held(s);
}

void pl_csi_release(pl_session_t *s)
{
    pl_c2s_t *c = pl_c2s(s);
    for (size_t i = 0; i < c->csi_nheld; i++)
        pl_stanza_unref(&c->csi_held[i]);
    free(c->csi_held);
    c->csi_held = NULL;
    c->csi_nheld = c->csi_cap = c->csi_bytes = 0;
}
