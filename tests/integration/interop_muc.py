#!/usr/bin/python3
"""Multi-user chat interop with slixmpp's XEP-0045 plugin on the group
service groups.example.test: create a room, fetch and submit its
configuration form, join with history, groupchat with the room's
stanza-id, subject, a mediated invitation, kick, ban, affiliation lists, disco of the
room's features, XEP-0421 occupant ids through slixmpp's plugin, destruction
with an alternate venue, and a password-protected moderated room (wrong and right password, voice given by a moderator).
Usage: interop_muc.py BUILD_DIR"""
import asyncio
import sys

from slixmpp.exceptions import IqError, PresenceError

from parley_interop import check, main, next_of, settle, watch

ROOM = "tea@groups.example.test"
NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"


async def scenario(srv):
    plugins = ("xep_0045", "xep_0004", "xep_0082", "xep_0203", "xep_0421")
    alice = await srv.login("alice@example.test/sx", "alice-pw", plugins=plugins)
    bob = await srv.login("bob@example.test/sx", "bob-pw", plugins=plugins)
    carol = await srv.login("carol@example.test/sx", "carol-pw", plugins=plugins)
    check("muc_interop_login", None not in (alice, bob, carol))
    if None in (alice, bob, carol):
        return
    muc = alice["xep_0045"]

    pres, _subject, _occ, _hist = await muc.join_muc_wait(ROOM, "Al", timeout=5)
    codes = pres["muc"]["status_codes"]
    check("muc_interop_create", 201 in codes and pres["muc"]["affiliation"] == "owner", codes)
    alice_oid = pres["occupant-id"]["id"]

    form = await muc.get_room_config(ROOM)
    fields = form.get_fields()
    check("muc_interop_config_form", "muc#roomconfig_persistentroom" in fields and
          "muc#roomconfig_roomname" in fields, list(fields))
    form.set_values({"muc#roomconfig_roomname": "Tea room",
                     "muc#roomconfig_persistentroom": True,
                     "muc#roomconfig_whois": "anyone"})
    try:
        await muc.set_room_config(ROOM, form)
        check("muc_interop_configure", True)
    except IqError as e:
        check("muc_interop_configure", False, e.iq)

    alice_msgs = watch(alice, "groupchat_message")
    for text in ("one", "two"):
        alice.send_message(mto=ROOM, mbody=text, mtype="groupchat")
    got = [await next_of(alice_msgs), await next_of(alice_msgs)]
    sid = got[1].xml.find(f"{{{NS_SID}}}stanza-id") if got[1] is not None else None
    check("muc_interop_groupchat_stanza_id",
          sid is not None and sid.get("by") == ROOM, got[1])
    # (the plugin's has_feature() fails on this slixmpp: disco is read here)
    room_feats = (await alice["xep_0030"].get_info(jid=ROOM))["disco_info"]["features"]
    check("muc_interop_occupant_id_groupchat",
          alice_oid and "urn:xmpp:occupant-id:0" in room_feats and
          all(m is not None and m["occupant-id"]["id"] == alice_oid for m in got),
          (alice_oid, got))

    pres, subject, occupants, history = await bob["xep_0045"].join_muc_wait(
        ROOM, "Bo", maxstanzas=1, timeout=5)
    check("muc_interop_join_history",
          [m["body"] for m in history] == ["two"] and
          all(m.xml.find(f"{{{NS_DELAY}}}delay") is not None for m in history), history)
    check("muc_interop_join_occupants",
          [(p["from"].resource, str(p["muc"]["jid"])) for p in occupants] ==
          [("Al", "alice@example.test/sx"), ("Bo", "bob@example.test/sx")], occupants)
    check("muc_interop_occupant_id_presence_history",
          [p["occupant-id"]["id"] == alice_oid for p in occupants if p["from"].resource == "Al"]
          == [True] and all(m["occupant-id"]["id"] == alice_oid for m in history) and
          pres["occupant-id"]["id"] not in ("", alice_oid), (occupants, history, pres))

    bob_subjects = watch(bob, "groupchat_subject")
    muc.set_subject(ROOM, "Teatime")
    s = await next_of(bob_subjects)
    check("muc_interop_subject", s is not None and s["subject"] == "Teatime", s)

    info = await alice["xep_0030"].get_info(jid=ROOM)
    feats = set(info["disco_info"]["features"])
    check("muc_interop_disco_features",
          {"http://jabber.org/protocol/muc", "muc_persistent", "muc_nonanonymous"} <= feats,
          feats)

    bob_offline = watch(bob, f"muc::{ROOM}::got_offline")
    await muc.set_role(ROOM, "Bo", "none", reason="out")
    p = await next_of(bob_offline)
    check("muc_interop_kick", p is not None and 307 in p["muc"]["status_codes"], p)

    carol_invites = watch(carol, "groupchat_invite")
    muc.invite(ROOM, "carol@example.test", reason="join us")
    inv = await next_of(carol_invites)
    check("muc_interop_invite",
          inv is not None and str(inv["from"]) == ROOM and
          str(inv["muc"]["invite"]["from"]) == "alice@example.test", inv)

    await carol["xep_0045"].join_muc_wait(ROOM, "Ca", timeout=5)
    carol_offline = watch(carol, f"muc::{ROOM}::got_offline")
    await muc.set_affiliation(ROOM, "outcast", jid="carol@example.test", reason="bye")
    p = await next_of(carol_offline)
    check("muc_interop_ban", p is not None and 301 in p["muc"]["status_codes"], p)
    try:
        await carol["xep_0045"].join_muc_wait(ROOM, "Ca", timeout=5)
        check("muc_interop_banned_cannot_join", False, "joined")
    except PresenceError as e:
        check("muc_interop_banned_cannot_join", e.condition == "forbidden", e.condition)
    outcasts = await muc.get_affiliation_list(ROOM, "outcast")
    check("muc_interop_affiliation_list",
          [str(j) for j in outcasts] == ["carol@example.test"], outcasts)

    await bob["xep_0045"].join_muc_wait(ROOM, "Bo", timeout=5)
    bob_offline = watch(bob, f"muc::{ROOM}::got_offline")
    await muc.destroy(ROOM, reason="moving", altroom="coffee@groups.example.test")
    p = await next_of(bob_offline)
    d = p.xml.find("{http://jabber.org/protocol/muc#user}x/"
                   "{http://jabber.org/protocol/muc#user}destroy") if p is not None else None
    check("muc_interop_destroy", d is not None and d.get("jid") == "coffee@groups.example.test",
          p)

    # A password-protected, moderated room: the password is checked, and a
    # newcomer without affiliation is a visitor until a moderator gives
    # voice.
    den = "den@groups.example.test"
    await muc.join_muc_wait(den, "Al", timeout=5)
    form = await muc.get_room_config(den)
    form.set_values({"muc#roomconfig_passwordprotectedroom": True,
                     "muc#roomconfig_roomsecret": "s3cret",
                     "muc#roomconfig_moderatedroom": True})
    await muc.set_room_config(den, form)
    try:
        await bob["xep_0045"].join_muc_wait(den, "Bo", password="wrong", timeout=5)
        check("muc_interop_password_refused", False, "entered with a wrong password")
    except PresenceError as e:
        check("muc_interop_password_refused", e.condition == "not-authorized", e.condition)
    pres, _s, _o, _h = await bob["xep_0045"].join_muc_wait(den, "Bo", password="s3cret",
                                                          timeout=5)
    check("muc_interop_password_join", pres["muc"]["role"] == "visitor", pres["muc"]["role"])
    bob_errors = watch(bob, "message_error")
    bob.send_message(mto=den, mbody="may I?", mtype="groupchat")
    err = await next_of(bob_errors)
    check("muc_interop_visitor_silenced",
          err is not None and err["error"]["condition"] == "forbidden", err)
    alice_den = watch(alice, "groupchat_message")
    await muc.set_role(den, "Bo", "participant")
    bob.send_message(mto=den, mbody="thanks", mtype="groupchat")
    heard = None
    while True:
        m = await next_of(alice_den)
        if m is None or (str(m["from"]) == den + "/Bo" and m["body"] == "thanks"):
            heard = m
            break
    check("muc_interop_voice", heard is not None, heard)
    await settle()


if __name__ == "__main__":
    sys.exit(main(scenario, modules="roster = {}; presence = {}; muc = {};"))
