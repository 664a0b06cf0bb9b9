"""Shared by the interop tests (interop_*.py): a real parleyd in a temporary
directory, slixmpp clients that log in to it, and a check-and-count runner.

A test file defines `async def scenario(srv)` and ends with
`sys.exit(parley_interop.main(scenario, modules="roster = {};"))`."""
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
DOMAIN = "example.test"
BASE_MODULES = "disco = {}; ping = {}; version = {}; time = {}; register = {};"
results = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    """Counts and prints one test case."""
    results["passed" if ok else "failed"] += 1
    print(f"{name}: {'ok' if ok else 'FAILED ' + str(detail)}", flush=True)
    return ok


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that accepts the test certificate, queues every
    message it receives in `inbox`, and sets `ready` after session start
    (once the server has taken its initial presence, unless
    presence=False)."""

    def __init__(self, jid, password, plugins=(), presence=True):
        super().__init__(jid, password)
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.ready = asyncio.Event()
        self.failed = asyncio.Event()
        self.inbox = asyncio.Queue()
        self.initial_presence = presence
        for p in ("xep_0030",) + tuple(plugins):
            self.register_plugin(p)
        self.add_event_handler("session_start", self._start)
        self.add_event_handler("failed_all_auth", lambda e: self.failed.set())
        self.add_event_handler("message", lambda m: self.inbox.put_nowait(m))

    async def _start(self, _):
        if self.initial_presence:
            self.send_presence()
            # A round trip on the same stream: once its answer is back the
            # server has taken the presence, so the session is available
            # for messages to the bare JID.  Without it a message sent at
            # once from a client on another loop could be routed first.
            try:
                await self["xep_0030"].get_info(jid=self.boundjid.domain, timeout=10)
            except Exception:  # an error answer is a round trip too
                pass
        self.ready.set()


class Server:
    """parleyd with `modules` enabled on example.test and `accounts`
    ({localpart: password}) created with parleyctl."""

    def __init__(self, modules="", accounts=None, host_extra=""):
        self.tmp = tempfile.mkdtemp(prefix="parley-interop-")
        self.port = free_port()
        self.conf = os.path.join(self.tmp, "parley.conf")
        with open(self.conf, "w") as f:
            # PARLEY_TEST_LOOPS: as in harness.c, the number of event loops.
            loops = int(os.environ.get("PARLEY_TEST_LOOPS", "1") or "1")
            f.write(f'''loops = {max(loops, 1)};
data_dir = "data";
log = {{ level = "info"; }};
tls = {{ cert = "tls/cert.pem"; key = "tls/key.pem"; }};
listen = ( {{ type = "c2s"; address = "127.0.0.1"; port = {self.port}; }} );
hosts = ( {{ name = "{DOMAIN}"; {host_extra}
  modules = {{ {BASE_MODULES} {modules} }}; }} );
''')
        self.ctl("--gen-cert", prog="parleyd")
        for user, pw in (accounts or {}).items():
            self.ctl("user", "add", f"{user}@{DOMAIN}", pw)
        self.logname = os.path.join(self.tmp, "server.log")
        self.log = open(self.logname, "w")
        self.proc = subprocess.Popen([f"{BUILD}/parleyd", "-c", self.conf], stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline and "server.ready" not in open(self.logname).read():
            time.sleep(0.05)

    def ctl(self, *args, prog="parleyctl"):
        return subprocess.run([f"{BUILD}/{prog}", "-c", self.conf, *args], check=True,
                              capture_output=True, text=True).stdout

    async def login(self, jid, password, plugins=(), presence=True, timeout=10):
        """Returns the client once its session started, or None."""
        c = Client(jid, password, plugins, presence)
        c.connect(("127.0.0.1", self.port))
        waits = [asyncio.ensure_future(c.ready.wait()), asyncio.ensure_future(c.failed.wait())]
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if not c.ready.is_set():
            c.disconnect()
            return None
        return c

    def stop(self):
        """SIGTERM; True when parleyd exited 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        return rc == 0, rc


async def settle(seconds=0.3):
    await asyncio.sleep(seconds)


def watch(client, event):
    """A queue receiving every `event` the client emits."""
    q = asyncio.Queue()
    client.add_event_handler(event, lambda p: q.put_nowait(p))
    return q


async def next_of(q, timeout=5):
    """The next item of a watch() queue, or None after `timeout` seconds."""
    try:
        return await asyncio.wait_for(q.get(), timeout)
    except asyncio.TimeoutError:
        return None


def drain(q):
    """Empties a watch() queue; returns what was in it."""
    items = []
    while not q.empty():
        items.append(q.get_nowait())
    return items


def main(scenario, modules="", accounts=None, host_extra="", timeout=120):
    """Starts the server, runs `await scenario(server)`, stops it, prints the
    summary and returns the exit code."""
    accounts = accounts or {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
    srv = Server(modules, accounts, host_extra)
    prog = os.path.basename(sys.argv[0])
    try:
        asyncio.run(asyncio.wait_for(scenario(srv), timeout))
    except Exception as e:  # a timeout or protocol failure is a failed test
        import traceback
        traceback.print_exc()
        check(f"{prog}_scenario", False, repr(e))
    ok, rc = srv.stop()
    check(f"{prog}_server_clean_exit", ok, f"exit {rc}")
    print(f"{prog}: {results['passed']} passed, {results['failed']} failed")
    if results["failed"]:
        print(open(srv.logname).read()[-6000:])
        print(f"kept {srv.tmp}")
    else:
        shutil.rmtree(srv.tmp)
    return 1 if results["failed"] else 0
