#!/usr/bin/python3
"""Stream management (XEP-0198) with slixmpp's own xep_0198 plugin: the
client enables it, its stanzas are acknowledged, then its connection is cut;
a message sent meanwhile arrives once the plugin has resumed the session,
and nothing already acknowledged comes twice.
Usage: interop_sm.py BUILD_DIR"""
import asyncio

from parley_interop import check, main, settle

PHONE = "alice@example.test/phone"


async def until(cond, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return cond()


async def next_body(client, timeout=5.0):
    try:
        return (await asyncio.wait_for(client.inbox.get(), timeout))["body"]
    except asyncio.TimeoutError:
        return None


async def scenario(srv):
    alice = await srv.login(PHONE, "alice-pw", plugins=("xep_0198",))
    bob = await srv.login("bob@example.test/desk", "bob-pw")
    if not check("sm_login", alice is not None and bob is not None):
        return
    sm = alice.plugin["xep_0198"]
    check("sm_enabled_with_resumption", await until(lambda: sm.enabled_in and bool(sm.sm_id)),
          f"enabled={sm.enabled_in} id={sm.sm_id!r}")

    bob.send_message(mto=PHONE, mbody="before", mtype="chat")
    check("sm_message_before_the_cut", await next_body(alice) == "before")
    alice.send_message(mto="bob@example.test/desk", mbody="hello", mtype="chat")
    await settle(0.3)  # send_raw (the <r/>) could overtake the queued message
    sm.request_ack()
    check("sm_server_acknowledges_client_stanzas",
          await until(lambda: sm.last_ack >= 1 and not sm.unacked_queue),
          f"last_ack={sm.last_ack} unacked={len(sm.unacked_queue)}")

    resumed = asyncio.Event()
    alice.add_event_handler("session_resumed", lambda _: resumed.set())
    alice.transport.abort()  # the connection dies: no </stream>
    await settle(0.5)
    bob.send_message(mto=PHONE, mbody="while away", mtype="chat")
    await settle(0.3)
    alice.connect(("127.0.0.1", srv.port))
    try:
        await asyncio.wait_for(resumed.wait(), 10)
    except asyncio.TimeoutError:
        pass
    check("sm_session_resumed", resumed.is_set())
    check("sm_queued_message_after_resumption", await next_body(alice) == "while away")
    bob.send_message(mto=PHONE, mbody="after", mtype="chat")
    check("sm_same_session_after_resumption", await next_body(alice) == "after")
    await settle(0.3)
    check("sm_nothing_twice", alice.inbox.empty(), f"{alice.inbox.qsize()} more")
    alice.disconnect()
    bob.disconnect()
    await settle(0.3)


if __name__ == "__main__":
    raise SystemExit(main(scenario, modules="roster = {}; presence = {};"))
