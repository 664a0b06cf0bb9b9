#!/usr/bin/python3
"""Group invitations interop with slixmpp (issue #16, GRP-5): XEP-0045
mediated invitations sent and received with the xep_0045 plugin (both
clients of the invitee get them, the invitee becomes a member of the
members-only room and enters, a decline reaches the inviter), XEP-0249
direct invitations sent and received with the xep_0249 plugin (to every
client of the invitee), muc#roomconfig_allowinvites in the form, and both
kinds kept for an invitee that was offline and delivered at its login.
Usage: interop_muc_invite.py BUILD_DIR"""
import asyncio
import sys

from slixmpp.exceptions import IqError, PresenceError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from parley_interop import check, main, next_of, settle, watch

ROOM = "club@groups.example.test"
NS_USER = "http://jabber.org/protocol/muc#user"
NS_CONFERENCE = "jabber:x:conference"
PLUGINS = ("xep_0045", "xep_0249", "xep_0004", "xep_0082", "xep_0203")


def mediated_from(msg):
    """The inviter named by a mediated invitation, or None."""
    inv = msg.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}invite") if msg is not None else None
    return inv.get("from") if inv is not None else None


def watch_path(client, path):
    """A queue of every stanza matching a slixmpp stanza path, whatever the
    plugins do with it (xep_0045 raises groupchat_invite only for rooms the
    client has not tried to enter, and its decline event is broken in
    slixmpp 1.8: it looks up a missing attribute)."""
    q = asyncio.Queue()
    client.register_handler(Callback(f"watch {path}", StanzaPath(path), q.put_nowait))
    return q


async def scenario(srv):
    alice = await srv.login("alice@example.test/sx", "alice-pw", plugins=PLUGINS)
    bob1 = await srv.login("bob@example.test/one", "bob-pw", plugins=PLUGINS)
    bob2 = await srv.login("bob@example.test/two", "bob-pw", plugins=PLUGINS)
    carol = await srv.login("carol@example.test/sx", "carol-pw", plugins=PLUGINS)
    check("invite_interop_login", None not in (alice, bob1, bob2, carol))
    if None in (alice, bob1, bob2, carol):
        return
    muc = alice["xep_0045"]

    # A members-only room; the form offers allowinvites.
    await muc.join_muc_wait(ROOM, "Al", timeout=5)
    form = await muc.get_room_config(ROOM)
    fields = form.get_fields()
    check("invite_interop_allowinvites_offered", "muc#roomconfig_allowinvites" in fields,
          list(fields))
    form.set_values({"muc#roomconfig_membersonly": True, "muc#roomconfig_persistentroom": True})
    try:
        await muc.set_room_config(ROOM, form)
        check("invite_interop_configure", True)
    except IqError as e:
        check("invite_interop_configure", False, e.iq)
    try:
        await bob2["xep_0045"].join_muc_wait(ROOM, "Bo", timeout=5)
        check("invite_interop_members_only", False, "bob entered before the invitation")
    except PresenceError as e:
        check("invite_interop_members_only", e.condition == "registration-required", e.condition)

    # Mediated: both of bob's clients get it from the room, naming alice.
    inv1, inv2 = watch(bob1, "groupchat_invite"), watch_path(bob2, "message/muc/invite")
    muc.invite(ROOM, "bob@example.test", reason="join us")
    got1, got2 = await next_of(inv1), await next_of(inv2)
    check("invite_interop_mediated_every_client",
          got1 is not None and got2 is not None and str(got1["from"]) == ROOM and
          mediated_from(got1) == "alice@example.test" and
          mediated_from(got2) == "alice@example.test", (got1, got2))
    try:
        pres, _s, _o, _h = await bob2["xep_0045"].join_muc_wait(ROOM, "Bo", timeout=5)
        check("invite_interop_invitee_enters", pres["muc"]["affiliation"] == "member",
              pres["muc"]["affiliation"])
    except PresenceError as e:
        check("invite_interop_invitee_enters", False, e.condition)

    # A decline goes back to the inviter from the room.
    declines = watch_path(alice, "message/muc/decline")
    carol_inv = watch(carol, "groupchat_invite")
    muc.invite(ROOM, "carol@example.test")
    check("invite_interop_mediated_received", await next_of(carol_inv) is not None)
    carol["xep_0045"].decline(ROOM, "alice@example.test", reason="busy")
    dec = await next_of(declines)
    d = dec.xml.find(f"{{{NS_USER}}}x/{{{NS_USER}}}decline") if dec is not None else None
    check("invite_interop_decline",
          d is not None and str(dec["from"]) == ROOM and d.get("from") == "carol@example.test",
          dec)

    # Direct (XEP-0249): both of bob's clients, and carol from bob.
    d1, d2 = watch(bob1, "groupchat_direct_invite"), watch(bob2, "groupchat_direct_invite")
    alice["xep_0249"].send_invitation("bob@example.test", ROOM, reason="tea")
    g1, g2 = await next_of(d1), await next_of(d2)
    check("invite_interop_direct_every_client",
          g1 is not None and g2 is not None and
          str(g1["groupchat_invite"]["jid"]) == ROOM and
          g2["groupchat_invite"]["reason"] == "tea", (g1, g2))
    cd = watch(carol, "groupchat_direct_invite")
    bob1["xep_0249"].send_invitation("carol@example.test", ROOM)
    g = await next_of(cd)
    check("invite_interop_direct_sent_by_another",
          g is not None and str(g["from"].bare) == "bob@example.test", g)

    # Dave is offline: both kinds wait for him and come at login.
    muc.invite(ROOM, "dave@example.test", reason="later")
    alice["xep_0249"].send_invitation("dave@example.test", ROOM, reason="later too")
    await settle(0.5)
    dave = await srv.login("dave@example.test/sx", "dave-pw", plugins=PLUGINS, presence=False)
    if not check("invite_interop_offline_login", dave is not None):
        return
    dm, dd = watch(dave, "groupchat_invite"), watch(dave, "groupchat_direct_invite")
    dave.send_presence()  # the offline store hands over at initial presence
    m, dx = await next_of(dm), await next_of(dd)
    check("invite_interop_offline_mediated",
          m is not None and mediated_from(m) == "alice@example.test", m)
    check("invite_interop_offline_direct",
          dx is not None and str(dx["groupchat_invite"]["jid"]) == ROOM, dx)
    try:
        await dave["xep_0045"].join_muc_wait(ROOM, "Da", timeout=5)
        check("invite_interop_offline_invitee_enters", True)
    except PresenceError as e:
        check("invite_interop_offline_invitee_enters", False, e.condition)
    await settle()


if __name__ == "__main__":
    sys.exit(main(scenario, modules="roster = {}; presence = {}; offline = {}; muc = {};",
                  accounts={"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw",
                            "dave": "dave-pw"}))
