#!/usr/bin/python3
"""PEP interop with slixmpp: its XEP-0115 caps (with +notify interests added
by the XEP-0163/XEP-0084 plugins) drive the server's notifications; an
avatar published with xep_0084 reaches a contact, who fetches the data; a
vCard4 (XEP-0292) and XEP-0402 bookmarks are published with xep_0060 (this
slixmpp has no plugins for them) and bookmarks are read and written back
through xep_0048 over XEP-0049 private storage.
Usage: interop_pep.py BUILD_DIR"""
import asyncio
import sys

from slixmpp.plugins.xep_0004 import Form
from slixmpp.plugins.xep_0048 import Bookmarks
from slixmpp.xmlstream import ET

from parley_interop import check, main, settle, watch

ALICE = "alice@example.test"
BOB = "bob@example.test"
PLUGINS = ("xep_0004", "xep_0060", "xep_0115", "xep_0163", "xep_0084", "xep_0049", "xep_0048")
BOOKMARKS = "urn:xmpp:bookmarks:1"
VCARD4 = "urn:xmpp:vcard4"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5f0000000049454e44ae426082")


async def subscribed(client, jid, timeout=5):
    """Waits until the client's roster shows a mutual subscription."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if jid in client.client_roster and client.client_roster[jid]["subscription"] == "both":
            return True
        await asyncio.sleep(0.05)
    return False


def bookmark_options():
    form = Form()
    form["type"] = "submit"
    form.add_field(var="FORM_TYPE", ftype="hidden",
                   value="http://jabber.org/protocol/pubsub#publish-options")
    form.add_field(var="pubsub#persist_items", value="true")
    form.add_field(var="pubsub#max_items", value="max")
    form.add_field(var="pubsub#send_last_published_item", value="never")
    form.add_field(var="pubsub#access_model", value="whitelist")
    return form


async def avatar_reaches_contact(alice, bob):
    metadata = watch(bob, "avatar_metadata_publish")
    avatar_id = alice["xep_0084"].generate_id(PNG)
    await alice["xep_0084"].publish_avatar(PNG)
    await alice["xep_0084"].publish_avatar_metadata(
        items=[{"id": avatar_id, "type": "image/png", "bytes": len(PNG)}])
    msg = None
    try:
        while True:
            msg = await asyncio.wait_for(metadata.get(), 5)
            if msg["from"].bare == ALICE:
                break
    except asyncio.TimeoutError:
        msg = None
    item = msg["pubsub_event"]["items"]["item"] if msg else None
    check("pep_interop_avatar_notification",
          item is not None and item["id"] == avatar_id, msg)
    got = await bob["xep_0084"].retrieve_avatar(ALICE, avatar_id)
    data = got["pubsub"]["items"]["item"]["avatar_data"]["value"]
    check("pep_interop_avatar_data_fetched", data == PNG)


async def vcard4_readable_by_contact(alice, bob):
    vcard = ET.fromstring("<vcard xmlns='urn:ietf:params:xml:ns:vcard-4.0'>"
                          "<fn><text>Alice Interop</text></fn></vcard>")
    await alice["xep_0060"].publish(None, VCARD4, id="current", payload=vcard)
    got = await bob["xep_0060"].get_items(ALICE, VCARD4)
    xml = str(got)
    check("pep_interop_vcard4", "Alice Interop" in xml, xml)


async def bookmarks_both_ways(alice):
    conf = ET.fromstring(f"<conference xmlns='{BOOKMARKS}' name='Lobby' autojoin='true'>"
                         "<nick>al</nick></conference>")
    await alice["xep_0060"].publish(None, BOOKMARKS, id="lobby@muc.example.test", payload=conf,
                                    options=bookmark_options())
    got = await alice["xep_0048"].get_bookmarks(method="xep_0049")
    confs = got["private"]["bookmarks"]["conferences"]
    check("pep_interop_0402_seen_through_0048",
          len(confs) == 1 and str(confs[0]["jid"]) == "lobby@muc.example.test"
          and confs[0]["nick"] == "al" and confs[0]["autojoin"], str(got))
    marks = Bookmarks()
    marks.add_conference("dev@muc.example.test", "alice", name="Dev", autojoin=True)
    await alice["xep_0048"].set_bookmarks(marks, method="xep_0049")
    items = await alice["xep_0060"].get_items(None, BOOKMARKS)
    ids = [i["id"] for i in items["pubsub"]["items"]]
    check("pep_interop_0048_written_as_0402", ids == ["dev@muc.example.test"], ids)


async def scenario(srv):
    alice = await srv.login(f"{ALICE}/sx", "alice-pw", PLUGINS)
    bob = await srv.login(f"{BOB}/sx", "bob-pw", PLUGINS)
    check("pep_interop_login", alice is not None and bob is not None)
    if not (alice and bob):
        return
    for c in (alice, bob):
        await c.get_roster()
    # Send caps again now that the plugins have registered their +notify.
    await bob["xep_0115"].update_caps()
    bob.send_presence()
    alice.send_presence_subscription(pto=BOB)
    check("pep_interop_mutual", await subscribed(alice, BOB) and await subscribed(bob, ALICE))
    await settle(0.5)
    await avatar_reaches_contact(alice, bob)
    await vcard4_readable_by_contact(alice, bob)
    await bookmarks_both_ways(alice)
    alice.disconnect()
    bob.disconnect()
    await settle()


if __name__ == "__main__":
    sys.exit(main(scenario, modules="roster = {}; presence = {}; private = {}; pep = {}; "
                                    "bookmarks = {};"))
