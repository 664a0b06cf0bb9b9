#!/usr/bin/python3
"""Group search interop with slixmpp: the search form and a search by
name through slixmpp's XEP-0055 stanzas (the result form's reported
fields and items), paged with slixmpp's XEP-0059 iterator over the
search and over the service's disco#items (every public room once, no
hidden one), and IQs to an occupant answered by the occupant's own
slixmpp client (XEP-0092 version, XEP-0199 ping) through the room.
Usage: interop_muc_search.py BUILD_DIR"""
import sys

from slixmpp import register_stanza_plugin
from slixmpp.plugins.xep_0055 import stanza as search_stanza
from slixmpp.plugins.xep_0059 import Set

from parley_interop import check, main, settle

SVC = "groups.example.test"
PLUGINS = ("xep_0004", "xep_0030", "xep_0045", "xep_0055", "xep_0059", "xep_0092", "xep_0199")
PUBLIC = [f"sx{i}@{SVC}" for i in range(7)]
HIDDEN = f"sxhidden@{SVC}"


async def make_room(client, room, name, public=True):
    muc = client["xep_0045"]
    await muc.join_muc_wait(room, "Al", timeout=5)
    form = await muc.get_room_config(room)
    form.set_values({"muc#roomconfig_roomname": name,
                     "muc#roomconfig_persistentroom": True,
                     "muc#roomconfig_publicroom": public})
    await muc.set_room_config(room, form)


def items_of(form):
    """The room JIDs of a search result form, in order."""
    return [str(item["jid"]) for item in form["items"]]


async def scenario(srv):
    register_stanza_plugin(search_stanza.Search, Set)
    alice = await srv.login("alice@example.test/sx", "alice-pw", plugins=PLUGINS)
    bob = await srv.login("bob@example.test/sx", "bob-pw", plugins=PLUGINS)
    check("muc_search_interop_login", None not in (alice, bob))
    if None in (alice, bob):
        return
    for i, room in enumerate(PUBLIC):
        await make_room(alice, room, f"Interop Room {i}")
    await make_room(alice, HIDDEN, "Interop Hidden", public=False)

    # The form.
    iq = bob.make_iq_get(ito=SVC)
    iq.enable("search")
    res = await iq.send(timeout=5)
    fields = set(res["search"]["form"].get_fields().keys())
    check("muc_search_interop_form", {"name", "id"} <= fields, fields)

    # A search by name, in another case, all at once.
    iq = bob["xep_0055"].make_search_iq(ito=SVC)
    iq["search"]["form"].add_field("name", value="INTEROP")
    res = await iq.send(timeout=5)
    form = res["search"]["form"]
    got = items_of(form)
    check("muc_search_interop_by_name", got == PUBLIC, got)
    reported = set(form["reported"].keys())
    check("muc_search_interop_reported",
          {"jid", "name", "description", "kind", "members"} <= reported, reported)
    check("muc_search_interop_count", int(res["search"]["rsm"]["count"]) == len(PUBLIC),
          res["search"]["rsm"])

    # The same, three at a time with the XEP-0059 iterator, both ways.
    def paged(reverse):
        iq = bob["xep_0055"].make_search_iq(ito=SVC)
        iq["search"]["form"].add_field("name", value="interop room")
        return bob["xep_0059"].iterate(iq, "search", amount=3, reverse=reverse)
    got = []
    async for page in paged(False):
        got += items_of(page["search"]["form"])
    check("muc_search_interop_paged_forward", got == PUBLIC, got)
    got = []
    async for page in paged(True):
        got = items_of(page["search"]["form"]) + got
    check("muc_search_interop_paged_backward", got == PUBLIC, got)

    # disco#items on the service, paged by the iterator.
    seen = []
    async for page in await bob["xep_0030"].get_items(jid=SVC, iterator=True):
        seen += [str(item[0]) for item in page["disco_items"]["items"]]
    check("muc_search_interop_disco_paged",
          set(PUBLIC) <= set(seen) and HIDDEN not in seen and len(seen) == len(set(seen)), seen)

    # IQs to an occupant: bob's own client answers through the room.
    room = PUBLIC[0]
    await bob["xep_0045"].join_muc_wait(room, "Bo", timeout=5)
    await settle()
    version = await alice["xep_0092"].get_version(f"{room}/Bo", timeout=5)
    check("muc_search_interop_version_forwarded",
          version["type"] == "result" and version["from"] == f"{room}/Bo" and
          version["software_version"]["name"], version)
    rtt = await alice["xep_0199"].ping(f"{room}/Bo", timeout=5)
    check("muc_search_interop_ping_forwarded", rtt is not None, rtt)

    for c in (alice, bob):
        c.disconnect()


if __name__ == "__main__":
    sys.exit(main(scenario, modules="roster = {}; presence = {}; muc = {};"))
