#!/usr/bin/python3
"""Offline messages with slixmpp: msgoffline in disco#info, messages sent to
an offline account arrive at its next login in order with XEP-0203 delay
(read by slixmpp's xep_0203) and XEP-0359 stanza-ids (xep_0359), a
<no-store/> hint (xep_0334) is bounced, and nothing comes twice.
Usage: interop_offline.py BUILD_DIR"""
import asyncio
import sys

from parley_interop import check, main, settle

ALICE = "alice@example.test"
BOB = "bob@example.test"
PLUGINS = ("xep_0203", "xep_0359", "xep_0334")


async def collect(client, n, timeout=5):
    got = []

    async def loop():
        while len(got) < n:
            got.append(await client.inbox.get())
    try:
        await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        pass
    return got


async def scenario(srv):
    bob = await srv.login(f"{BOB}/sx", "bob-pw", plugins=PLUGINS)
    check("offline_interop_login", bob is not None)
    if bob is None:
        return
    info = await bob["xep_0030"].get_info(jid="example.test")
    check("offline_interop_disco_msgoffline", "msgoffline" in info["disco_info"]["features"])

    errors = asyncio.Queue()
    bob.add_event_handler("message_error", lambda m: errors.put_nowait(m))
    for i in range(3):
        bob.send_message(mto=ALICE, mbody=f"while away {i}", mtype="chat")
    m = bob.make_message(mto=ALICE, mbody="do not keep", mtype="chat")
    m["id"] = "nostore"
    m.enable("no-store")
    m.send()
    try:
        err = await asyncio.wait_for(errors.get(), 5)
    except asyncio.TimeoutError:
        err = None
    check("offline_interop_no_store_bounced",
          err is not None and err["id"] == "nostore"
          and err["error"]["condition"] == "service-unavailable", err)
    await settle(0.5)
    check("offline_interop_no_other_errors", errors.empty())

    alice = await srv.login(f"{ALICE}/sx", "alice-pw", plugins=PLUGINS)
    got = await collect(alice, 4, timeout=3) if alice else []
    bodies = [str(x["body"]) for x in got]
    check("offline_interop_delivered_in_order",
          bodies == [f"while away {i}" for i in range(3)], bodies)
    stamps = [x["delay"]["stamp"] for x in got]
    check("offline_interop_delay_stamps",
          len(got) == 3 and all(s is not None for s in stamps)
          and all(str(x["delay"]["from"]) == "example.test" for x in got), stamps)
    ids = [x["stanza_id"]["id"] for x in got]
    check("offline_interop_stanza_ids",
          len(got) == 3 and all(str(x["stanza_id"]["by"]) == ALICE for x in got)
          and ids == sorted(ids) and len(set(ids)) == 3, ids)
    if alice:
        alice.disconnect()
    await settle(0.5)
    again = await srv.login(f"{ALICE}/sx", "alice-pw", plugins=PLUGINS)
    left = await collect(again, 1, timeout=1) if again else []
    check("offline_interop_nothing_twice", again is not None and left == [], left)
    for c in (bob, again):
        if c:
            c.disconnect()
    await settle()


sys.exit(main(scenario, modules="roster = {}; presence = {}; offline = {};"))
