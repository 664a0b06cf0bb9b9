#!/usr/bin/python3
"""Presence interop with slixmpp (RFC 6121): two slixmpp clients, with the
library's automatic answers turned off so the test drives the subscription
handshake itself, then a status broadcast and an unsubscription.
Usage: interop_presence.py BUILD_DIR"""
import asyncio
import sys

from parley_interop import check, main, settle, watch

ALICE = "alice@example.test"
BOB = "bob@example.test"


async def next_from(q, jid, timeout=5, pred=lambda p: True):
    """The next stanza in q from `jid` (bare or full) that satisfies pred."""
    async def loop():
        while True:
            p = await q.get()
            f = p["from"]
            if (str(f) == jid or f.bare == jid) and pred(p):
                return p
    try:
        return await asyncio.wait_for(loop(), timeout)
    except asyncio.TimeoutError:
        return None


async def roster_state(client, jid, want, timeout=5):
    """Waits until the client's roster (kept current by pushes) shows `want`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        item = client.client_roster[jid] if jid in client.client_roster else None
        if item is not None and item["subscription"] == want:
            return True
        await asyncio.sleep(0.05)
    return False


async def scenario(srv):
    alice = await srv.login(f"{ALICE}/sx", "alice-pw")
    bob = await srv.login(f"{BOB}/sx", "bob-pw")
    check("presence_interop_login", alice is not None and bob is not None)
    if not (alice and bob):
        return
    for c in (alice, bob):
        c.auto_authorize = None  # we answer requests ourselves
        c.auto_subscribe = False
        await c.get_roster()
    bob_requests = watch(bob, "presence_subscribe")
    alice_approvals = watch(alice, "presence_subscribed")
    alice_status = watch(alice, "changed_status")
    bob_unsubs = watch(bob, "presence_unsubscribe")

    alice.send_presence_subscription(pto=BOB)
    req = await next_from(bob_requests, ALICE)
    check("presence_interop_request_delivered", req is not None)
    check("presence_interop_ask_pushed",
          await roster_state(alice, BOB, "none") and alice.client_roster[BOB]["pending_out"])
    bob.send_presence(pto=ALICE, ptype="subscribed")
    check("presence_interop_approval_delivered",
          await next_from(alice_approvals, BOB) is not None)
    check("presence_interop_roster_to", await roster_state(alice, BOB, "to"))
    check("presence_interop_roster_from", await roster_state(bob, ALICE, "from"))
    first = await next_from(alice_status, f"{BOB}/sx")
    check("presence_interop_current_presence_after_approval", first is not None)

    bob.send_presence(pshow="away", pstatus="coffee", ppriority=3)
    p = await next_from(alice_status, f"{BOB}/sx", pred=lambda p: p["show"] == "away")
    check("presence_interop_status_broadcast",
          p is not None and p["status"] == "coffee" and p["priority"] == 3, p)

    alice.send_presence(pto=BOB, ptype="unsubscribe")
    check("presence_interop_unsubscribe_delivered",
          await next_from(bob_unsubs, ALICE) is not None)
    check("presence_interop_roster_none_after_unsubscribe",
          await roster_state(alice, BOB, "none") and await roster_state(bob, ALICE, "none"))
    alice.disconnect()
    bob.disconnect()
    await settle()


if __name__ == "__main__":
    sys.exit(main(scenario, modules="roster = {}; presence = {};"))
