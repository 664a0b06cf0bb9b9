#!/usr/bin/python3
"""Interop with a second, independent client library: Debian's slixmpp drives
a real parleyd (login with whatever SASL mechanism slixmpp picks — it chooses
SCRAM-SHA-*-PLUS with tls-unique — chat, disco, version, ping, in-band
password change).  Usage: interop_slixmpp.py BUILD_DIR"""
import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

import slixmpp

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{name}: {'ok' if ok else 'FAILED ' + detail}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.ready = asyncio.Event()
        self.failed = asyncio.Event()
        self.inbox = asyncio.Queue()
        for p in ("xep_0030", "xep_0092", "xep_0199", "xep_0077"):
            self.register_plugin(p)
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("failed_all_auth", lambda e: self.failed.set())
        self.add_event_handler("message", lambda m: self.inbox.put_nowait(m))

    async def _start(self, _):
        self.send_presence()
        self.ready.set()


async def login(jid, password, port):
    c = Client(jid, password)
    c.connect(("127.0.0.1", port))
    done, _ = await asyncio.wait(
        [asyncio.ensure_future(c.ready.wait()), asyncio.ensure_future(c.failed.wait())],
        timeout=10, return_when=asyncio.FIRST_COMPLETED)
    return c, c.ready.is_set()


async def scenario(port):
    alice, ok = await login("alice@example.test/interop", "alice-pw", port)
    check("slixmpp_login_alice", ok)
    bob, ok2 = await login("bob@example.test/interop", "bob-pw", port)
    check("slixmpp_login_bob", ok2)
    if not (ok and ok2):
        return
    alice.send_message(mto="bob@example.test", mbody="hi bob", mtype="chat")
    m = await asyncio.wait_for(bob.inbox.get(), 5)
    check("slixmpp_chat_bare", m["body"] == "hi bob" and str(m["from"]) == "alice@example.test/interop")
    bob.send_message(mto="alice@example.test/interop", mbody="hi alice", mtype="chat")
    m = await asyncio.wait_for(alice.inbox.get(), 5)
    check("slixmpp_chat_full", m["body"] == "hi alice")
    info = await alice["xep_0030"].get_info(jid="example.test")
    feats = set(info["disco_info"]["features"])
    check("slixmpp_disco_info", {"urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:time"} <= feats,
          str(feats))
    ids = info["disco_info"]["identities"]
    check("slixmpp_disco_identity", any(i[0] == "server" and i[1] == "im" for i in ids), str(ids))
    v = await alice["xep_0092"].get_version("example.test")
    check("slixmpp_version", v["software_version"]["name"] == "Parley")
    rtt = await alice["xep_0199"].ping("example.test", timeout=5)
    check("slixmpp_ping", rtt is not None and rtt >= 0)
    await alice["xep_0077"].change_password("alice-new", jid="example.test")
    alice.disconnect()
    bob.disconnect()
    await asyncio.sleep(0.3)
    again, ok = await login("alice@example.test/again", "alice-new", port)
    check("slixmpp_password_change", ok)
    if ok:
        again.disconnect()
    old, ok = await login("alice@example.test/old", "alice-pw", port)
    check("slixmpp_old_password_refused", not ok)
    old.disconnect()
    await asyncio.sleep(0.3)


def main():
    tmp = tempfile.mkdtemp(prefix="parley-interop-")
    port = free_port()
    conf = os.path.join(tmp, "parley.conf")
    with open(conf, "w") as f:
        f.write(f'''data_dir = "data";
log = {{ level = "info"; }};
tls = {{ cert = "tls/cert.pem"; key = "tls/key.pem"; }};
listen = ( {{ type = "c2s"; address = "127.0.0.1"; port = {port}; }} );
hosts = ( {{ name = "example.test"; modules = {{ disco = {{}}; ping = {{}}; version = {{}}; time = {{}}; register = {{}}; }}; }} );
''')
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run(f"{BUILD}/parleyd", "-c", conf, "--gen-cert")
    run(f"{BUILD}/parleyctl", "-c", conf, "user", "add", "alice@example.test", "alice-pw")
    run(f"{BUILD}/parleyctl", "-c", conf, "user", "add", "bob@example.test", "bob-pw")
    log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen([f"{BUILD}/parleyd", "-c", conf], stderr=log)
    deadline = time.time() + 10
    while time.time() < deadline and "server.ready" not in open(log.name).read():
        time.sleep(0.05)
    try:
        asyncio.run(asyncio.wait_for(scenario(port), 60))
    except Exception as e:  # a timeout or protocol failure is a failed test
        check("slixmpp_scenario", False, repr(e))
    server.send_signal(signal.SIGTERM)
    rc = server.wait(10)
    check("slixmpp_server_clean_exit", rc == 0, f"exit {rc}")
    print(f"{results['passed']} passed, {results['failed']} failed")
    if results["failed"]:
        print(open(log.name).read()[-4000:])
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp)
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
