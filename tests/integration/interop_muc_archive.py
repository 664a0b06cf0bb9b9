#!/usr/bin/python3
"""Room archive interop with slixmpp's XEP-0313 and XEP-0045 plugins: a
persistent room's messages paged from the room JID forward and backward
with the plugin's RSM iterator by a user who never joined (every message
once, in order), a page filtered by nick, and a refusal for an outcast.
Usage: interop_muc_archive.py BUILD_DIR"""
import sys

from slixmpp.exceptions import IqError

from parley_interop import check, main, next_of, settle, watch

ROOM = "log@groups.example.test"
PLUGINS = ("xep_0045", "xep_0004", "xep_0059", "xep_0313")


def body_of(result):
    return result["mam_result"]["forwarded"]["stanza"]["body"]


async def scenario(srv):
    alice = await srv.login("alice@example.test/sx", "alice-pw", plugins=PLUGINS)
    bob = await srv.login("bob@example.test/sx", "bob-pw", plugins=PLUGINS)
    carol = await srv.login("carol@example.test/sx", "carol-pw", plugins=PLUGINS)
    check("muc_archive_interop_login", None not in (alice, bob, carol))
    if None in (alice, bob, carol):
        return
    muc = alice["xep_0045"]
    await muc.join_muc_wait(ROOM, "Al", timeout=5)
    form = await muc.get_room_config(ROOM)
    form.set_values({"muc#roomconfig_persistentroom": True})
    await muc.set_room_config(ROOM, form)
    await muc.set_affiliation(ROOM, "outcast", jid="carol@example.test")

    echoes = watch(alice, "groupchat_message")
    want = [f"g{i}" for i in range(1, 13)]
    for text in want:
        alice.send_message(mto=ROOM, mbody=text, mtype="groupchat")
    for _ in want:
        await next_of(echoes)
    await settle()  # the archive writes commit

    mam = bob["xep_0313"]
    got = [body_of(m) async for m in mam.iterate(jid=ROOM, rsm={"max": 5})]
    check("muc_archive_interop_forward", got == want, got)
    got = [body_of(m) async for m in mam.iterate(jid=ROOM, reverse=True, rsm={"max": 5})]
    check("muc_archive_interop_backward", got == list(reversed(want)), got)
    first = [m async for m in mam.iterate(jid=ROOM, rsm={"max": 1}, total=1)]
    inner = first[0]["mam_result"]["forwarded"]["stanza"] if first else None
    check("muc_archive_interop_from_the_nick",
          inner is not None and str(inner["from"]) == ROOM + "/Al" and inner["type"] == "groupchat",
          inner)

    iq = await mam.retrieve(jid=ROOM, with_jid=ROOM + "/Al", rsm={"max": 3})
    check("muc_archive_interop_with_nick",
          [body_of(m) for m in iq["mam"]["results"]] == want[:3] and
          int(iq["mam_fin"]["rsm"]["count"]) == 12, iq)

    form = await mam.get_fields(jid=ROOM)
    fields = {f["var"] for f in form["fields"]} if isinstance(form["fields"], list) \
        else set(form["fields"].keys())
    check("muc_archive_interop_form", {"FORM_TYPE", "with", "start", "end"} <= fields, fields)

    try:
        await carol["xep_0313"].retrieve(jid=ROOM, rsm={"max": 3})
        check("muc_archive_interop_outcast_refused", False, "an outcast read the archive")
    except IqError as e:
        check("muc_archive_interop_outcast_refused",
              e.iq["error"]["condition"] == "forbidden", e.iq)

    for c in (alice, bob, carol):
        c.disconnect()


if __name__ == "__main__":
    sys.exit(main(scenario, modules="roster = {}; presence = {}; muc = {};"))
