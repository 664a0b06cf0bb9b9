#!/usr/bin/python3
"""Message archive interop with slixmpp's XEP-0313 plugin: paging a
25-message conversation forward and backward with the plugin's RSM
iterator (every message once, in order), a filtered retrieve by 'with'
and start time, the search form, and the #extended metadata.
Usage: interop_mam.py BUILD_DIR"""
import sys

from parley_interop import check, main, settle

ALICE = "alice@example.test"
BOB = "bob@example.test"
PLUGINS = ("xep_0059", "xep_0313")


def body_of(result):
    return result["mam_result"]["forwarded"]["stanza"]["body"]


async def scenario(srv):
    alice = await srv.login(f"{ALICE}/sx", "alice-pw", plugins=PLUGINS)
    bob = await srv.login(f"{BOB}/sx", "bob-pw", plugins=PLUGINS)
    carol = await srv.login("carol@example.test/sx", "carol-pw", plugins=PLUGINS)
    check("mam_interop_login", None not in (alice, bob, carol))
    if None in (alice, bob, carol):
        return
    for i in range(1, 26):
        bob.send_message(mto=ALICE, mbody=f"m{i}", mtype="chat")
    carol.send_message(mto=ALICE, mbody="from carol", mtype="chat")
    await settle(1.0)
    want = [f"m{i}" for i in range(1, 26)]

    got = [body_of(m) async for m in alice["xep_0313"].iterate(with_jid=BOB, rsm={"max": 10})]
    check("mam_interop_iterate_forward", got == want, got)

    got = [body_of(m) async for m in
           alice["xep_0313"].iterate(with_jid=BOB, reverse=True, rsm={"max": 10})]
    check("mam_interop_iterate_backward", got == list(reversed(want)), got)

    # The sender's own archive holds what it sent.
    got = [body_of(m) async for m in bob["xep_0313"].iterate(rsm={"max": 7})]
    check("mam_interop_sender_archive", got == want, got)

    iq = await alice["xep_0313"].retrieve(with_jid=BOB, rsm={"max": 5})
    results = iq["mam"]["results"]
    check("mam_interop_retrieve_page",
          [body_of(m) for m in results] == want[:5] and int(iq["mam_fin"]["rsm"]["count"]) == 25
          and iq["mam_fin"]["rsm"]["first"] == results[0]["mam_result"]["id"],
          [body_of(m) for m in results])

    # A start time: the stamp of the 11th message.
    eleventh = [m async for m in alice["xep_0313"].iterate(with_jid=BOB, rsm={"max": 25})][10]
    start = eleventh["mam_result"]["forwarded"]["delay"]["stamp"]
    got = [body_of(m) async for m in
           alice["xep_0313"].iterate(with_jid=BOB, start=start, rsm={"max": 10})]
    check("mam_interop_start_filter", got == want[10:], got)

    form = await alice["xep_0313"].get_fields()
    fields = {f["var"] for f in form["fields"]} if isinstance(form["fields"], list) \
        else set(form["fields"].keys())
    check("mam_interop_form",
          {"FORM_TYPE", "with", "start", "end", "before-id", "after-id",
           "{urn:xmpp:fulltext:0}fulltext"} <= fields, fields)

    md = await alice["xep_0313"].get_archive_metadata()
    first = [m async for m in alice["xep_0313"].iterate(rsm={"max": 50})]
    check("mam_interop_metadata",
          md["mam_metadata"]["start"]["id"] == first[0]["mam_result"]["id"]
          and md["mam_metadata"]["end"]["id"] == first[-1]["mam_result"]["id"]
          and len(first) == 26, md)

    for c in (alice, bob, carol):
        c.disconnect()


sys.exit(main(scenario, modules="roster = {}; presence = {}; mam = {};"))
