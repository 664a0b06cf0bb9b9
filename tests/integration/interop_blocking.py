#!/usr/bin/python3
"""Blocking interop with slixmpp's XEP-0191 plugin: block, get_blocked and
unblock from one resource, the pushes seen by another, a blocked contact's
message bounced with service-unavailable, the user's own message to it
refused with not-acceptable + <blocked/>, and an empty <block/> refused.
Usage: interop_blocking.py BUILD_DIR"""
import asyncio
import sys

from slixmpp.exceptions import IqError

from parley_interop import check, drain, main, next_of, settle, watch

ALICE = "alice@example.test"
BOB = "bob@example.test"
NS_ERRORS = "urn:xmpp:blocking:errors"


async def blocked_jids(client):
    iq = await client["xep_0191"].get_blocked()
    return {str(j) for j in iq["blocklist"]["items"]}


async def error_message(errors, msg_id, timeout=5):
    """The error message answering `msg_id` (slixmpp's message_error events)."""
    async def loop():
        while True:
            m = await errors.get()
            if m["id"] == msg_id:
                return m
    try:
        return await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        return None


async def scenario(srv):
    alice = await srv.login(f"{ALICE}/sx", "alice-pw", plugins=("xep_0191",))
    alice2 = await srv.login(f"{ALICE}/other", "alice-pw", plugins=("xep_0191",))
    bob = await srv.login(f"{BOB}/sx", "bob-pw")
    check("blocking_interop_login", None not in (alice, alice2, bob))
    if None in (alice, alice2, bob):
        return
    check("blocking_interop_empty_list", await blocked_jids(alice) == set())
    await blocked_jids(alice2)  # now alice2 gets the pushes
    pushes_blocked = watch(alice2, "blocked")
    pushes_unblocked = watch(alice2, "unblocked")

    await alice["xep_0191"].block(BOB)
    push = await next_of(pushes_blocked)
    check("blocking_interop_block_pushed",
          push is not None and {str(j) for j in push["block"]["items"]} == {BOB}, push)
    check("blocking_interop_get_blocked", await blocked_jids(alice) == {BOB})

    drain(alice.inbox)
    bob_errors = watch(bob, "message_error")
    alice_errors = watch(alice, "message_error")
    m = bob.make_message(mto=ALICE, mbody="let me in", mtype="chat")
    m["id"] = "b1"
    m.send()
    err = await error_message(bob_errors, "b1")
    check("blocking_interop_message_bounced",
          err is not None and err["error"]["condition"] == "service-unavailable", err)
    await settle()
    got = [x for x in drain(alice.inbox) if x["from"].bare == BOB]
    check("blocking_interop_message_not_delivered", got == [], got)

    m = alice.make_message(mto=BOB, mbody="no", mtype="chat")
    m["id"] = "a1"
    m.send()
    err = await error_message(alice_errors, "a1")
    check("blocking_interop_own_message_refused",
          err is not None and err["error"]["condition"] == "not-acceptable" and
          err.xml.find(f".//{{{NS_ERRORS}}}blocked") is not None, err)

    try:
        await alice["xep_0191"].block([])
        check("blocking_interop_empty_block_refused", False, "accepted")
    except IqError as e:
        check("blocking_interop_empty_block_refused",
              e.iq["error"]["condition"] == "bad-request", e.iq)

    await alice["xep_0191"].unblock(BOB)
    push = await next_of(pushes_unblocked)
    check("blocking_interop_unblock_pushed",
          push is not None and {str(j) for j in push["unblock"]["items"]} == {BOB}, push)
    check("blocking_interop_list_empty_again", await blocked_jids(alice) == set())
    bob.send_message(mto=ALICE, mbody="hello again", mtype="chat")

    async def arrives():
        while True:
            x = await alice.inbox.get()
            if x["from"].bare == BOB and x["body"] == "hello again":
                return x
    try:
        got = await asyncio.wait_for(arrives(), 5)
    except asyncio.TimeoutError:
        got = None
    check("blocking_interop_delivered_after_unblock", got is not None)
    for c in (alice, alice2, bob):
        c.disconnect()
    await settle()


sys.exit(main(scenario, modules="blocking = {};"))
