#!/usr/bin/python3
"""Carbons interop with slixmpp's XEP-0280 plugin: the server advertises
urn:xmpp:carbons:2; with carbons enabled on two of alice's three clients,
a chat sent from one reaches the other as carbon_sent, a chat bob sends to
one full JID reaches the other as carbon_received with the router's
stanza-id, the client without carbons gets neither, <private/> is honoured,
and disabling stops the copies.
Usage: interop_carbons.py BUILD_DIR"""
import sys

from parley_interop import check, drain, main, next_of, settle, watch

ALICE = "alice@example.test"
BOB = "bob@example.test"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_SID = "urn:xmpp:sid:0"


def inner(msg, direction):
    """The forwarded message inside a carbon_sent / carbon_received."""
    return msg[direction]


async def scenario(srv):
    plugins = ("xep_0280", "xep_0297")
    one = await srv.login(f"{ALICE}/one", "alice-pw", plugins=plugins)
    two = await srv.login(f"{ALICE}/two", "alice-pw", plugins=plugins)
    three = await srv.login(f"{ALICE}/three", "alice-pw", plugins=plugins)
    bob = await srv.login(f"{BOB}/sx", "bob-pw")
    if not check("carbons_interop_login", None not in (one, two, three, bob)):
        return

    info = await one["xep_0030"].get_info(jid="example.test")
    check("carbons_interop_disco_feature", NS_CARBONS in info["disco_info"]["features"])

    await one["xep_0280"].enable()
    await two["xep_0280"].enable()
    two_sent, two_recv = watch(two, "carbon_sent"), watch(two, "carbon_received")
    one_sent, one_recv = watch(one, "carbon_sent"), watch(one, "carbon_received")
    three_any = [watch(three, "carbon_sent"), watch(three, "carbon_received")]

    one.send_message(mto=BOB, mbody="hi bob", mtype="chat")
    c = await next_of(two_sent)
    check("carbons_interop_sent_copy",
          c is not None and inner(c, "carbon_sent")["body"] == "hi bob" and
          inner(c, "carbon_sent")["to"] == BOB and
          str(inner(c, "carbon_sent")["from"]) == f"{ALICE}/one", c)

    bob.send_message(mto=f"{ALICE}/one", mbody="hi one", mtype="chat")
    c = await next_of(two_recv)
    fw = inner(c, "carbon_received") if c is not None else None
    check("carbons_interop_received_copy",
          fw is not None and fw["body"] == "hi one" and fw["from"].bare == BOB and
          fw.xml.find(f"{{{NS_SID}}}stanza-id") is not None, c)

    await settle()
    check("carbons_interop_none_to_sender",
          drain(one_sent) == [] and drain(one_recv) == [])
    check("carbons_interop_none_without_enable",
          all(drain(q) == [] for q in three_any))

    m = one.make_message(mto=BOB, mbody="off the record", mtype="chat")
    m.enable("carbon_private")
    m.send()
    await settle(0.5)
    check("carbons_interop_private_not_copied", drain(two_sent) == [])

    await two["xep_0280"].disable()
    bob.send_message(mto=f"{ALICE}/one", mbody="after disable", mtype="chat")
    await settle(0.5)
    check("carbons_interop_disable_stops_copies", drain(two_recv) == [])

    for cl in (one, two, three, bob):
        cl.disconnect()
    await settle()


sys.exit(main(scenario, modules="carbons = {};"))
