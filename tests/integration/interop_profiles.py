#!/usr/bin/python3
"""Interop of the profile modules with slixmpp's own plugins: a vCard with a
photo published by XEP-0153's set_avatar and read back by a contact whose
presence shows the same avatar hash (XEP-0054/0153), a private storage
round trip (XEP-0049), and last activity (XEP-0012).
Usage: interop_profiles.py BUILD_DIR"""
import asyncio
import hashlib
import sys

from slixmpp.xmlstream import ElementBase

from parley_interop import check, main, settle

PLUGINS = ("xep_0054", "xep_0153", "xep_0049", "xep_0012")
MODULES = "roster = {}; presence = {}; vcard = {}; private = {}; last = {};"
AVATAR = bytes(range(256)) * 3  # 768 bytes: several base64 lines, all byte values


class Prefs(ElementBase):
    name = "prefs"
    namespace = "urn:example:prefs"
    plugin_attrib = "prefs"
    interfaces = {"theme"}
    sub_interfaces = interfaces


async def presence_from(client, jid, want, timeout=5):
    """The next available presence from `jid` for which want(pres) holds."""
    got = asyncio.get_running_loop().create_future()

    def seen(pres):
        if str(pres["from"]) == jid and want(pres) and not got.done():
            got.set_result(pres)

    client.add_event_handler("presence_available", seen)
    try:
        return await asyncio.wait_for(got, timeout)
    except asyncio.TimeoutError:
        return None
    finally:
        client.del_event_handler("presence_available", seen)


async def scenario(srv):
    alice = await srv.login("alice@example.test/interop", "alice-pw", PLUGINS)
    bob = await srv.login("bob@example.test/interop", "bob-pw", PLUGINS)
    check("profiles_login", alice is not None and bob is not None)
    if not (alice and bob):
        return
    # bob subscribes to alice (slixmpp approves automatically), so he sees
    # her presence and may ask for her last activity.
    bob.send_presence_subscription(pto="alice@example.test")
    await settle(1.0)

    # XEP-0054 + XEP-0153: set_avatar publishes the vCard, then re-sends
    # presence carrying the hash of the photo.
    want_hash = hashlib.sha1(AVATAR).hexdigest()
    advertised = asyncio.ensure_future(presence_from(
        bob, "alice@example.test/interop",
        lambda p: p["vcard_temp_update"]["photo"] == want_hash))
    await alice["xep_0153"].set_avatar(avatar=AVATAR, mtype="image/png")
    pres = await advertised
    check("profiles_avatar_hash_in_presence", pres is not None)
    iq = await bob["xep_0054"].get_vcard("alice@example.test", cached=False)
    binval = iq["vcard_temp"]["PHOTO"]["BINVAL"]
    check("profiles_vcard_photo_round_trip", binval == AVATAR, f"{len(binval or b'')} bytes")
    check("profiles_avatar_hash_matches_vcard",
          binval is not None and hashlib.sha1(binval).hexdigest() == want_hash)

    vcard = alice["xep_0054"].make_vcard()
    vcard["FN"] = "Alice Interop"
    vcard["NICKNAME"] = "ali"
    await alice["xep_0054"].publish_vcard(vcard)
    iq = await bob["xep_0054"].get_vcard("alice@example.test", cached=False)
    nick = iq["vcard_temp"].xml.find("{vcard-temp}NICKNAME")
    check("profiles_vcard_fields", iq["vcard_temp"]["FN"] == "Alice Interop"
          and nick is not None and nick.text == "ali", str(iq["vcard_temp"]))

    # XEP-0049
    alice["xep_0049"].register(Prefs)
    prefs = Prefs()
    prefs["theme"] = "solarized"
    await alice["xep_0049"].store(prefs)
    iq = await alice["xep_0049"].retrieve("prefs")
    check("profiles_private_round_trip", iq["private"]["prefs"]["theme"] == "solarized",
          str(iq))

    # XEP-0012
    iq = await alice["xep_0012"].get_last_activity("example.test")
    check("profiles_last_server_uptime", iq["last_activity"]["seconds"] >= 0)
    iq = await bob["xep_0012"].get_last_activity("alice@example.test")
    check("profiles_last_online_is_zero", iq["last_activity"]["seconds"] == 0)
    alice.send_presence(ptype="unavailable", pstatus="Off to lunch")
    await settle(0.5)
    alice.disconnect()
    await settle(0.5)
    iq = await bob["xep_0012"].get_last_activity("alice@example.test")
    check("profiles_last_after_logout",
          iq["last_activity"]["seconds"] >= 0 and iq["last_activity"]["status"] == "Off to lunch",
          str(iq))
    bob.disconnect()
    await settle(0.3)


if __name__ == "__main__":
    sys.exit(main(scenario, modules=MODULES))
