#!/usr/bin/python3
"""Rosters with slixmpp's built-in roster support (RFC 6121 §2, XEP-0237):
add, rename, regroup and remove from one client while a second client of the
same account follows the pushes; then that client reconnects with the
version it kept and is brought up to date by pushes only.
Usage: interop_roster.py BUILD_DIR"""
import asyncio
import sys

from parley_interop import check, main, settle

BOB = "bob@example.test"


def entry(client, jid):
    """(name, sorted groups) of a roster item, or None when absent."""
    roster = client.client_roster
    if not roster.has_jid(jid):
        return None
    item = roster[jid]
    return item["name"], sorted(item["groups"])


async def until(cond, timeout=5.0):
    """Polls cond() until true or timeout; returns its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    return cond()


async def scenario(srv):
    one = await srv.login("alice@example.test/one", "alice-pw")
    two = await srv.login("alice@example.test/two", "alice-pw")
    if not check("roster_login_two_resources", one is not None and two is not None):
        return
    check("roster_rosterver_advertised", "rosterver" in one.features, str(one.features))
    await one.get_roster()
    await two.get_roster()
    check("roster_empty_at_first", len(one.client_roster) == 0 and one.client_roster.version != "",
          f"{len(one.client_roster)} items, ver {one.client_roster.version!r}")

    await one.update_roster(BOB, name="Bob", groups=["Friends"])
    check("roster_add_pushed_to_other_resource",
          await until(lambda: entry(two, BOB) == ("Bob", ["Friends"])), entry(two, BOB))
    await one.update_roster(BOB, name="Robert", groups=["Friends"])
    check("roster_rename_pushed", await until(lambda: entry(two, BOB) == ("Robert", ["Friends"])),
          entry(two, BOB))
    await two.update_roster(BOB, name="Robert", groups=["Work", "Family"])
    check("roster_regroup_pushed",
          await until(lambda: entry(one, BOB) == ("Robert", ["Family", "Work"])), entry(one, BOB))
    await one.del_roster_item(BOB)
    check("roster_remove_pushed", await until(lambda: entry(two, BOB) is None), entry(two, BOB))
    check("roster_versions_agree", one.client_roster.version == two.client_roster.version,
          f"{one.client_roster.version} / {two.client_roster.version}")

    # XEP-0237 across a reconnect: `two` keeps its roster and version while
    # `one` changes things, then catches up from pushes alone.
    await one.update_roster("carol@example.test", name="Carol", groups=["Friends"])
    await one.update_roster("dave@example.test", name="Dave", groups=[])
    await until(lambda: entry(two, "dave@example.test") is not None)
    kept = two.client_roster.version
    disconnected = asyncio.Event()
    two.add_event_handler("disconnected", lambda e: disconnected.set(), disposable=True)
    two.disconnect()
    await asyncio.wait_for(disconnected.wait(), 5)
    await one.update_roster("erin@example.test", name="Erin", groups=["New"])
    await one.del_roster_item("carol@example.test")
    await one.update_roster("dave@example.test", name="David", groups=["Old"])
    two.ready.clear()
    two.connect(("127.0.0.1", srv.port))
    await asyncio.wait_for(two.ready.wait(), 10)
    check("roster_reconnect_keeps_version", two.client_roster.version == kept)
    result = await two.get_roster()
    check("roster_diff_result_is_empty", len(result["roster"]["items"]) == 0,
          f"{len(result['roster']['items'])} items in the result")
    caught_up = await until(lambda: two.client_roster.version == one.client_roster.version)
    check("roster_diff_brings_version_up_to_date", caught_up,
          f"{two.client_roster.version} vs {one.client_roster.version}")
    check("roster_diff_added", entry(two, "erin@example.test") == ("Erin", ["New"]),
          entry(two, "erin@example.test"))
    check("roster_diff_removed", entry(two, "carol@example.test") is None,
          entry(two, "carol@example.test"))
    check("roster_diff_changed", entry(two, "dave@example.test") == ("David", ["Old"]),
          entry(two, "dave@example.test"))

    # Up to date: the same version again brings nothing.
    pushes = []
    two.add_event_handler("roster_update", lambda iq: pushes.append(iq))
    result = await two.get_roster()
    await settle()
    check("roster_current_version_brings_nothing",
          len(result["roster"]["items"]) == 0 and len(pushes) == 1, f"{len(pushes)} updates")

    # A client without a stored version gets everything.
    fresh = await srv.login("alice@example.test/fresh", "alice-pw")
    if check("roster_login_fresh", fresh is not None):
        result = await fresh.get_roster()
        jids = sorted(str(j) for j in result["roster"]["items"])
        check("roster_full_for_new_client", jids == ["dave@example.test", "erin@example.test"],
              jids)
        fresh.disconnect()
    one.disconnect()
    two.disconnect()
    await settle()


if __name__ == "__main__":
    sys.exit(main(scenario, modules="roster = {};"))
