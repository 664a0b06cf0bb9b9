#!/usr/bin/env python3
"""seeds.py — writes the seed corpora of the fuzz targets that run scripts
against the in-process server (fuzz_c2s_auth, fuzz_c2s_session,
fuzz_component, fuzz_control): realistic transcripts of what clients,
components and parleyctl send, in the script format of
tests/fuzz/server-harness.h.  Run it from the repository root after changing
a transcript; the files it writes are committed.

    python3 tests/fuzz/seeds.py
"""
import base64
import os

DOMAIN = "fuzz.test"
HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' to='fuzz.test' version='1.0'>")
COMPONENT_HEADER = ("<stream:stream xmlns='jabber:component:accept' "
                    "xmlns:stream='http://etherx.jabber.org/streams' to='bot.fuzz.test'>")
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
SASL2 = "urn:xmpp:sasl:2"
END = "</stream:stream>"


def cmd(c):
    """A script command: 0xff then its letter."""
    return b"\xff" + c.encode()


def b64(raw):
    return base64.b64encode(raw).decode()


PLAIN = b64(b"\0fuzz\0fuzz-pw")
BAD_PLAIN = b64(b"\0fuzz\0wrong")
BIND = ("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
        "<resource>laptop</resource></bind></iq>")
USER_AGENT = ("<user-agent id='d4565fa7-4d72-4749-b3d3-740edbf87770'>"
              "<software>AwesomeXMPP</software><device>Kiva's Phone</device></user-agent>")


def seq(*parts):
    out = b""
    for p in parts:
        out += p if isinstance(p, bytes) else p.encode()
    return out


AUTH = {
    "plain-bind": seq(HEADER, f"<auth xmlns='{SASL}' mechanism='PLAIN'>{PLAIN}</auth>", cmd("w"),
                      HEADER, BIND, "<presence/>",
                      "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>", END),
    "scram-sha256-wrong-proof": seq(
        HEADER, f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-256'>",
        b64(b"n,,n=fuzz,r=rOprNGfwEbeRWgbNEkqO"), "</auth>", cmd("w"),
        f"<response xmlns='{SASL}'>",
        b64(b"c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
        "</response>"),
    "scram-sha1-abort": seq(
        HEADER, f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-1'>",
        b64(b"n,a=fuzz@fuzz.test,n=fuzz,r=fyko+d2lbbFgONRv9qkxdawL"), "</auth>",
        f"<abort xmlns='{SASL}'/>",
        f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-256-PLUS'>",
        b64(b"p=tls-exporter,,n=fuzz,r=abc"), "</auth>",
        f"<auth xmlns='{SASL}' mechanism='PLAIN'>{BAD_PLAIN}</auth>", cmd("w"),
        f"<auth xmlns='{SASL}' mechanism='PLAIN'>=</auth>"),
    "failures-then-plain": seq(
        HEADER, f"<auth xmlns='{SASL}' mechanism='DIGEST-MD5'/>",
        f"<auth xmlns='{SASL}' mechanism='PLAIN'>not base64!</auth>",
        f"<auth xmlns='{SASL}' mechanism='PLAIN'>{PLAIN}</auth>", cmd("w"), HEADER, BIND),
    "sasl2-plain-bind2": seq(
        HEADER, f"<authenticate xmlns='{SASL2}' mechanism='PLAIN'>",
        f"<initial-response>{PLAIN}</initial-response>", USER_AGENT,
        "<bind xmlns='urn:xmpp:bind:0'><tag>mobile</tag>"
        "<enable xmlns='urn:xmpp:sm:3' resume='true'/><enable xmlns='urn:xmpp:carbons:2'/>"
        "<inactive xmlns='urn:xmpp:csi:0'/></bind>"
        "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>"
        "</authenticate>", cmd("w"),
        "<message to='fuzz@fuzz.test' type='chat' id='m1'><body>to myself</body></message>"
        "<r xmlns='urn:xmpp:sm:3'/>"),
    "sasl2-scram-continue": seq(
        HEADER, f"<authenticate xmlns='{SASL2}' mechanism='SCRAM-SHA-256'>",
        "<initial-response>", b64(b"n,,n=fuzz,r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6"),
        "</initial-response>", USER_AGENT, "</authenticate>", cmd("w"),
        f"<response xmlns='{SASL2}'>",
        b64(b"c=biws,r=12C4CD5C-E38E-4A98-8F6D-15C38F51CCC6,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        "</response>", cmd("w"), f"<abort xmlns='{SASL2}'/>"),
    "fast-token-then-login": seq(
        HEADER, f"<authenticate xmlns='{SASL2}' mechanism='PLAIN'>",
        f"<initial-response>{PLAIN}</initial-response>", USER_AGENT,
        "<request-token xmlns='urn:xmpp:fast:0' mechanism='HT-SHA-256-NONE'/>"
        "<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag></bind></authenticate>",
        cmd("c"), cmd("n"),
        HEADER, f"<authenticate xmlns='{SASL2}' mechanism='HT-SHA-256-NONE'>",
        "<initial-response>@HT@</initial-response>", USER_AGENT,
        "<fast xmlns='urn:xmpp:fast:0' count='1'/>"
        "<bind xmlns='urn:xmpp:bind:0'><tag>phone</tag></bind></authenticate>", cmd("w"),
        "<iq type='get' id='v1' to='fuzz.test'><query xmlns='jabber:iq:version'/></iq>",
        cmd("c"), cmd("n"),
        HEADER, f"<authenticate xmlns='{SASL2}' mechanism='HT-SHA-256-NONE'>",
        "<initial-response>@HT@</initial-response>", USER_AGENT,
        "<fast xmlns='urn:xmpp:fast:0' count='1' invalidate='true'/></authenticate>"),
    "sasl2-sm-resume": seq(
        HEADER, f"<authenticate xmlns='{SASL2}' mechanism='PLAIN'>",
        f"<initial-response>{PLAIN}</initial-response>", USER_AGENT,
        "<bind xmlns='urn:xmpp:bind:0'><enable xmlns='urn:xmpp:sm:3' resume='true'/></bind>"
        "</authenticate>", cmd("w"),
        "<presence/><message to='peer@fuzz.test' type='chat'><body>hi</body></message>",
        cmd("c"), cmd("n"),
        HEADER, f"<authenticate xmlns='{SASL2}' mechanism='PLAIN'>",
        f"<initial-response>{PLAIN}</initial-response>", USER_AGENT,
        "<resume xmlns='urn:xmpp:sm:3' previd='@SMID@' h='0'/></authenticate>", cmd("w"),
        "<a xmlns='urn:xmpp:sm:3' h='1'/><r xmlns='urn:xmpp:sm:3'/>"),
    "bad-headers": seq(
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "to='fuzz.test' version='1.0'>", cmd("n"),
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "to='nowhere.test' version='1.0'>", cmd("n"),
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "to='fuzz.test'>", cmd("n"),
        "<stream xmlns='jabber:client' to='fuzz.test' version='1.0'>", cmd("n"),
        HEADER, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", cmd("n"),
        HEADER, "<message to='peer@fuzz.test'><body>before login</body></message>"),
    "restart-other-host": seq(
        HEADER, f"<auth xmlns='{SASL}' mechanism='PLAIN'>{PLAIN}</auth>", cmd("w"),
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "to='other.test' version='1.0'>"),
    "login-timeout": seq(HEADER, f"<auth xmlns='{SASL}' mechanism='SCRAM-SHA-256'>",
                         b64(b"n,,n=fuzz,r=abcdefgh"), "</auth>", cmd("t")),
    "sleep-during-login": seq(
        HEADER, cmd("s"), f"<auth xmlns='{SASL}' mechanism='PLAIN'>{PLAIN}</auth>", cmd("w"),
        cmd("s"), HEADER, cmd("s"), BIND, cmd("s"), "<presence/>"),
}

BARE = "fuzz@fuzz.test"
SESSION = {
    "presence-roster-message": seq(
        "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
        "<presence><show>chat</show><status>here</status><priority>5</priority>"
        "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org' "
        "ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
        "<message to='fuzz@fuzz.test' type='chat' id='m1'><body>hello me</body>"
        "<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
        "<message to='peer@fuzz.test' type='chat' id='m2'><body>hello peer</body>"
        "<request xmlns='urn:xmpp:receipts'/></message>",
        "<iq type='get' id='d1' to='fuzz.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        "<iq type='get' id='d2' to='fuzz.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
        "<presence type='unavailable'/>", END),
    # XEP-0045 on groups.fuzz.test: a reserved room configured by its
    # owner, the peer entering, talk, subject, private message, admin
    # lists, a kick and the room destroyed.
    "muc-room": seq(
        "<presence to='room@groups.fuzz.test/owner'><x xmlns='http://jabber.org/protocol/muc'>"
        "<history maxstanzas='5'/></x></presence>", cmd("w"),
        "<iq type='get' id='c1' to='room@groups.fuzz.test'>"
        "<query xmlns='http://jabber.org/protocol/muc#owner'/></iq>", cmd("w"),
        "<iq type='set' id='c2' to='room@groups.fuzz.test'>"
        "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
        "<field var='muc#roomconfig_roomname'><value>Room</value></field>"
        "<field var='muc#roomconfig_persistentroom'><value>1</value></field>"
        "<field var='muc#roomconfig_membersonly'><value>0</value></field>"
        "<field var='muc#roomconfig_whois'><value>anyone</value></field>"
        "</x></query></iq>", cmd("p"),
        "<presence to='room@groups.fuzz.test/peer'><x xmlns='http://jabber.org/protocol/muc'/>"
        "</presence>", cmd("w"),
        "<message to='room@groups.fuzz.test' type='groupchat' id='g1'><body>hi all</body></message>",
        "<message to='room@groups.fuzz.test/owner' type='chat' id='pm1'><body>psst</body>"
        "<x xmlns='http://jabber.org/protocol/muc#user'/></message>", cmd("0"),
        "<message to='room@groups.fuzz.test' type='groupchat' id='s1'><subject>news</subject></message>",
        "<iq type='get' id='a1' to='room@groups.fuzz.test'>"
        "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='owner'/></query></iq>",
        "<iq type='set' id='a2' to='room@groups.fuzz.test'>"
        "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='peer' role='none'>"
        "<reason>bye</reason></item></query></iq>",
        "<iq type='get' id='d1' to='groups.fuzz.test'>"
        "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
        "<presence to='room@groups.fuzz.test/boss'/>",
        "<iq type='set' id='x1' to='room@groups.fuzz.test'>"
        "<query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='other@groups.fuzz.test'>"
        "<reason>moving</reason></destroy></query></iq>", END),
    "sm-enable-ack": seq(
        "<enable xmlns='urn:xmpp:sm:3' resume='true'/>", cmd("w"),
        "<presence/><message to='fuzz@fuzz.test/fuzz1' id='s1'><body>one</body></message>",
        "<r xmlns='urn:xmpp:sm:3'/>", cmd("w"), "<a xmlns='urn:xmpp:sm:3' h='2'/>",
        "<iq type='get' id='p1' to='fuzz.test'><ping xmlns='urn:xmpp:ping'/></iq>",
        "<a xmlns='urn:xmpp:sm:3' h='4294967295'/><r xmlns='urn:xmpp:sm:3'/>"),
    "sm-resume": seq(
        "<enable xmlns='urn:xmpp:sm:3' resume='true'/>", cmd("w"), "<presence/>",
        "<message to='fuzz@fuzz.test' id='s1'><body>kept for me</body></message>", cmd("w"),
        cmd("c"), cmd("p"),
        "<message to='fuzz@fuzz.test/fuzz1' type='chat'><body>while you were away</body></message>",
        cmd("a"), "<resume xmlns='urn:xmpp:sm:3' previd='@SMID@' h='1'/>", cmd("w"),
        "<a xmlns='urn:xmpp:sm:3' h='3'/><r xmlns='urn:xmpp:sm:3'/>", END),
    "sm-resume-twice": seq(
        "<enable xmlns='urn:xmpp:sm:3' resume='true'/>", cmd("w"), cmd("c"),
        cmd("a"), "<resume xmlns='urn:xmpp:sm:3' previd='@SMID@' h='0'/>",
        cmd("a"), "<resume xmlns='urn:xmpp:sm:3' previd='@SMID@' h='0'/>", cmd("w"),
        "<enable xmlns='urn:xmpp:sm:3'/>"),
    "csi": seq(
        "<presence/>", cmd("p"), "<presence/>", cmd("0"),
        "<inactive xmlns='urn:xmpp:csi:0'/>", cmd("2"),
        "<presence><show>away</show></presence>"
        "<message to='fuzz@fuzz.test'><body>urgent</body></message>", cmd("0"),
        "<active xmlns='urn:xmpp:csi:0'/>"),
    "subscription": seq(
        "<presence/><iq type='set' id='r2'><query xmlns='jabber:iq:roster'>"
        "<item jid='peer@fuzz.test' name='Peer'><group>Friends</group></item></query></iq>",
        "<presence to='peer@fuzz.test' type='subscribe'/>", cmd("p"),
        "<presence/><presence to='fuzz@fuzz.test' type='subscribed'/>"
        "<presence to='fuzz@fuzz.test' type='subscribe'/>", cmd("0"),
        "<presence to='peer@fuzz.test' type='subscribed'/>"
        "<iq type='set' id='r3'><query xmlns='jabber:iq:roster'>"
        "<item jid='peer@fuzz.test' subscription='remove'/></query></iq>"),
    "mam-query": seq(
        "<message to='peer@fuzz.test' type='chat' id='a1'><body>archived</body></message>",
        "<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2' queryid='f27'>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        "<value>urn:xmpp:mam:2</value></field><field var='with'><value>peer@fuzz.test</value>"
        "</field><field var='start'><value>2010-08-07T00:00:00Z</value></field></x>"
        "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><before/></set></query></iq>",
        "<iq type='get' id='q2'><query xmlns='urn:xmpp:mam:2'/></iq>",
        "<iq type='set' id='q3'><prefs xmlns='urn:xmpp:mam:2' default='roster'>"
        "<always><jid>peer@fuzz.test</jid></always><never/></prefs></iq>"),
    "vcard-private-pep": seq(
        "<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>Fuzz Tester</FN><NICKNAME>fz</NICKNAME>"
        "<PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO></vCard></iq>",
        "<iq type='get' id='v2' to='peer@fuzz.test'><vCard xmlns='vcard-temp'/></iq>",
        "<iq type='set' id='x1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>"
        "<conference jid='room@muc.fuzz.test' autojoin='true'><nick>fz</nick></conference>"
        "</storage></query></iq>",
        "<iq type='set' id='pep1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        "<publish node='http://jabber.org/protocol/nick'><item>"
        "<nick xmlns='http://jabber.org/protocol/nick'>Fuzzy</nick></item></publish></pubsub></iq>",
        "<iq type='set' id='pep2'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        "<publish node='urn:xmpp:avatar:metadata'><item id='abc'><metadata xmlns='urn:xmpp:avatar:metadata'>"
        "<info bytes='12' id='abc' type='image/png'/></metadata></item></publish>"
        "<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
        "<value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
        "<field var='pubsub#access_model'><value>presence</value></field></x></publish-options>"
        "</pubsub></iq>",
        "<iq type='set' id='bm1'><pubsub xmlns='http://jabber.org/protocol/pubsub'>"
        "<publish node='urn:xmpp:bookmarks:1'><item id='room@muc.fuzz.test'>"
        "<conference xmlns='urn:xmpp:bookmarks:1' name='Room' autojoin='true'/></item></publish>"
        "</pubsub></iq>"),
    "blocking-carbons-inbox-push": seq(
        "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='spam@fuzz.test'/></block></iq>",
        "<iq type='get' id='b2'><blocklist xmlns='urn:xmpp:blocking'/></iq>",
        "<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>",
        "<iq type='set' id='i1'><inbox xmlns='urn:xmpp:inbox:1'>"
        "<set xmlns='http://jabber.org/protocol/rsm'><max>5</max></set></inbox></iq>",
        "<iq type='set' id='push1'><enable xmlns='urn:xmpp:push:0' jid='push.example.org' node='yxs32uqsflafdk3iuqo'>"
        "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>"
        "<value>http://jabber.org/protocol/pubsub#publish-options</value></field>"
        "<field var='secret'><value>eruio234vzxc2kla-91</value></field></x></enable></iq>",
        "<iq type='set' id='b3'><unblock xmlns='urn:xmpp:blocking'/></iq>",
        "<iq type='get' id='l1' to='peer@fuzz.test'><query xmlns='jabber:iq:last'/></iq>",
        "<iq type='get' id='t1' to='fuzz.test'><time xmlns='urn:xmpp:time'/></iq>"),
    "offline-delivery": seq(
        "<message to='peer@fuzz.test' type='chat' id='o1'><body>for later</body>"
        "<store xmlns='urn:xmpp:hints'/></message>",
        "<message to='peer@fuzz.test' type='headline'><body>news</body></message>", cmd("w"),
        cmd("p"), "<presence/>", cmd("w"), "<presence type='unavailable'/>"),
    "password-change": seq(
        "<iq type='get' id='reg1' to='fuzz.test'><query xmlns='jabber:iq:register'/></iq>",
        "<iq type='set' id='reg2' to='fuzz.test'><query xmlns='jabber:iq:register'>"
        "<username>fuzz</username><password>new-password</password></query></iq>"),
    "errors": seq(
        "<iq type='get' id='e1'><unknown xmlns='urn:example:nothing'/></iq>",
        "<iq type='set' id='e2'/><iq id='e3'><a xmlns='x'/></iq>",
        "<message to='nobody@fuzz.test'><body>?</body></message>",
        "<message to='user@elsewhere.example'><body>?</body></message>",
        "<message to='bad@@jid'/><message from='someone@else.test'/>",
        "<iq type='error' id='e4' to='peer@fuzz.test'><error type='cancel'>"
        "<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
        "<foo xmlns='jabber:client'/>"),
    "timeouts": seq(
        "<enable xmlns='urn:xmpp:sm:3' resume='true'/>", cmd("w"), "<presence/>", cmd("p"),
        "<presence/><message to='fuzz@fuzz.test/fuzz1' type='chat'><body>unacked</body></message>",
        cmd("0"), cmd("t"), cmd("t"), cmd("2"),
        "<message to='fuzz@fuzz.test/fuzz1' type='chat'><body>while detached</body></message>",
        cmd("x"), "<message to='fuzz@fuzz.test' type='chat'><body>after expiry</body></message>",
        cmd("n"), HEADER, cmd("t")),
    "to-component": seq(
        "<message to='bot.fuzz.test'><body>anyone there?</body></message>",
        "<iq type='get' id='cp1' to='user@bot.fuzz.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
}

COMPONENT = {
    "handshake-route": seq(
        COMPONENT_HEADER, cmd("h"), cmd("l"), "<presence/>", cmd("0"),
        "<message from='bot.fuzz.test' to='fuzz@fuzz.test/fuzz1' type='chat'><body>beep</body></message>",
        "<iq type='get' id='c1' from='news@bot.fuzz.test' to='fuzz.test'>"
        "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
        "<presence from='bot.fuzz.test' to='fuzz@fuzz.test'/>", cmd("1"),
        "<message to='bot.fuzz.test' type='chat'><body>boop</body></message>", END),
    "bad-handshake": seq(COMPONENT_HEADER, "<handshake>0123456789abcdef0123456789abcdef01234567</handshake>"),
    "errors": seq(
        COMPONENT_HEADER, "<message to='x@fuzz.test'/>", cmd("k"),
        "<stream:stream xmlns='jabber:component:accept' "
        "xmlns:stream='http://etherx.jabber.org/streams' to='unknown.fuzz.test'>", cmd("k"),
        COMPONENT_HEADER, cmd("h"),
        "<message from='fuzz@fuzz.test' to='peer@fuzz.test'/>"
        "<message from='bot.fuzz.test'/><iq from='bot.fuzz.test' to='bad@@'/><foo/>"),
    "handshake-timeout": seq(COMPONENT_HEADER, cmd("t"), cmd("k"), COMPONENT_HEADER, cmd("h"),
                             cmd("t")),
    "replace": seq(COMPONENT_HEADER, cmd("h"), cmd("k"), COMPONENT_HEADER, cmd("h"),
                   cmd("0"), "<message from='bot.fuzz.test' to='fuzz.test'/>"),
}


def control(*words):
    return b"".join(w.encode() + b"\0" for w in words) + b"\0"


CONTROL = {
    "list": control("user", "list"),
    "list-filter": control("user", "list", "fuzz.test"),
    "add": control("user", "add", "newbie@fuzz.test", "s3cret"),
    "passwd": control("user", "passwd", "peer@fuzz.test", "peer-pw"),
    "online": seq(cmd("l"), cmd("C"), control("online")),
    "delete-online": seq(cmd("l"), "<presence/>", cmd("p"), "<presence/>", cmd("C"),
                         control("user", "del", "fuzz@fuzz.test")),
    "delete-missing": control("user", "del", "nobody@fuzz.test"),
    "bad-requests": seq(b"\0", cmd("C"), "user\0", cmd("C"), control("frobnicate"), cmd("C"),
                        control("user", "add", "bad jid@@", "x")),
}


def write(target, seeds):
    d = os.path.join("tests", "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


write("fuzz_c2s_auth", AUTH)
write("fuzz_c2s_session", SESSION)
write("fuzz_component", COMPONENT)
write("fuzz_control", CONTROL)
