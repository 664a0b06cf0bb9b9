/* rules.c — XEP-0280 §6, which messages are carbon-copied, and the shape of
 * a copy.  Kept apart from the hooks so the rules can be unit tested. */
#include <string.h>

#include "modules/carbons/carbons-private.h"
#include "xmpp/ns.h"

static int has_child(const pl_xml_t *root, const char *name, const char *ns)
{
    return pl_xml_child(root, name, ns) != NULL;
}

/* Payloads that make a message part of an instant-messaging conversation
 * even without a body: receipts (XEP-0184), chat states (XEP-0085), chat
 * markers (XEP-0333) and direct MUC invitations (XEP-0249). */
static int has_im_payload(const pl_xml_t *root)
{
    return has_child(root, "request", PL_NS_RECEIPTS) ||
           has_child(root, "received", PL_NS_RECEIPTS) || has_child(root, NULL, PL_NS_CHATSTATES) ||
           has_child(root, NULL, PL_NS_CHAT_MARKERS) || has_child(root, "x", PL_NS_CONFERENCE);
}

int carbons_is_wrapped(const pl_stanza_t *msg)
{
    const pl_xml_t *root = pl_stanza_root(msg);
    return has_child(root, "sent", PL_NS_CARBONS) || has_child(root, "received", PL_NS_CARBONS);
}

int carbons_eligible(const pl_stanza_t *msg, carbons_dir_t dir)
{
    const pl_xml_t *root = pl_stanza_root(msg);
    const char *type = pl_xml_attr(root, "type");
    if (!type || !*type)
        type = "normal";
    /* Group chat belongs to the room (it sends to every joined client);
     * headlines are not conversations; errors would need the server to
     * remember which message they answer, which it does not. */
    if (strcmp(type, "chat") != 0 && strcmp(type, "normal") != 0)
        return 0;
    /* The sender's wish (XEP-0280 §7 <private/>, XEP-0334 <no-copy/>), and
     * never a copy of a copy. */
    if (has_child(root, "private", PL_NS_CARBONS) || has_child(root, "no-copy", PL_NS_HINTS) ||
        carbons_is_wrapped(msg))
        return 0;
    /* A private message from a MUC occupant reaches only the client that
     * joined the room; the user's other clients could not answer it.  An
     * invitation relayed by a room is for the user, whichever client. */
    const pl_xml_t *muc = pl_xml_child(root, "x", PL_NS_MUC_USER);
    int invite = muc && has_child(muc, "invite", PL_NS_MUC_USER);
    if (dir == CARBONS_RECEIVED && muc && !invite)
        return 0;
    if (strcmp(type, "chat") == 0)
        return 1;
    return has_child(root, "body", PL_NS_CLIENT) || has_im_payload(root) || invite;
}

pl_stanza_t *carbons_wrap(const pl_stanza_t *orig, carbons_dir_t dir, const char *user_bare,
                          const char *to_full)
{
    const char *type = pl_stanza_attr(orig, "type");
    pl_builder_t *b = pl_build_new("message", PL_NS_CLIENT);
    pl_build_attr(b, "from", user_bare);
    pl_build_attr(b, "to", to_full);
    if (type)
        pl_build_attr(b, "type", type);
    pl_build_child(b, dir == CARBONS_SENT ? "sent" : "received", PL_NS_CARBONS);
    pl_build_child(b, "forwarded", PL_NS_FORWARD);
    pl_build_copy(b, pl_stanza_root(orig));
    pl_build_up(b);
    pl_build_up(b);
    return pl_build_finish(b);
}
