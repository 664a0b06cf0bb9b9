#!/usr/bin/python3
"""Interop with a second, independent client library: Debian's slixmpp drives
a real parleyd (login with whatever SASL mechanism slixmpp picks — it chooses
SCRAM-SHA-*-PLUS with tls-unique — chat, disco, version, ping, in-band
password change).  Usage: interop_slixmpp.py BUILD_DIR"""
import asyncio
import sys

from parley_interop import check, main

PLUGINS = ("xep_0092", "xep_0199", "xep_0077")


async def scenario(srv):
    alice = await srv.login("alice@example.test/interop", "alice-pw", PLUGINS)
    check("slixmpp_login_alice", alice is not None)
    bob = await srv.login("bob@example.test/interop", "bob-pw", PLUGINS)
    check("slixmpp_login_bob", bob is not None)
    if not (alice and bob):
        return
    alice.send_message(mto="bob@example.test", mbody="hi bob", mtype="chat")
    m = await asyncio.wait_for(bob.inbox.get(), 5)
    check("slixmpp_chat_bare", m["body"] == "hi bob" and str(m["from"]) == "alice@example.test/interop")
    bob.send_message(mto="alice@example.test/interop", mbody="hi alice", mtype="chat")
    m = await asyncio.wait_for(alice.inbox.get(), 5)
    check("slixmpp_chat_full", m["body"] == "hi alice")
    info = await alice["xep_0030"].get_info(jid="example.test")
    feats = set(info["disco_info"]["features"])
    check("slixmpp_disco_info", {"urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time"} <= feats,
          str(feats))
    ids = info["disco_info"]["identities"]
    check("slixmpp_disco_identity", any(i[0] == "server" and i[1] == "im" for i in ids), str(ids))
    v = await alice["xep_0092"].get_version("example.test")
    check("slixmpp_version", v["software_version"]["name"] == "Parley")
    rtt = await alice["xep_0199"].ping("example.test", timeout=5)
    check("slixmpp_ping", rtt is not None and rtt >= 0)
    await alice["xep_0077"].change_password("alice-new", jid="example.test")
    alice.disconnect()
    bob.disconnect()
    await asyncio.sleep(0.3)
    again = await srv.login("alice@example.test/again", "alice-new")
    check("slixmpp_password_change", again is not None)
    if again:
        again.disconnect()
    old = await srv.login("alice@example.test/old", "alice-pw")
    check("slixmpp_old_password_refused", old is None)
    await asyncio.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main(scenario))
