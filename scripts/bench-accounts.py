#!/usr/bin/python3
"""Bulk accounts for the comparison (scripts/bench-compare.sh).

Computes SCRAM-SHA-1 credentials (RFC 5802) for accounts FIRST..LAST once and
writes them in the forms Prosody and ejabberd store, so neither server has to
be driven one account at a time:

  --prosody-dir DIR   one internal_hashed account file per user under
                      DIR/<host, percent-encoded>/accounts/, the layout of
                      Prosody's "internal" storage;
  --ejabberd-file F   a Mnesia text dump of the passwd table, the format that
                      `ejabberdctl dump_table` writes and `ejabberdctl load`
                      reads back.

Both get the same salt, iteration count and keys for an account.  Parley does
not need this script: `parleyctl user import` reads "JID PASSWORD" lines.
Standard library only; runs with /usr/bin/python3.
"""

import argparse
import base64
import hashlib
import hmac
import multiprocessing
import os
import uuid


def scram_sha1(password, salt, iterations):
    """Returns (StoredKey, ServerKey) of RFC 5802 for one password."""
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
    return hashlib.sha1(client_key).digest(), server_key


def credentials(job):
    """One account: (localpart, salt, StoredKey, ServerKey)."""
    n, user_pattern, password_pattern, iterations = job
    # Prosody's own salts are UUID strings; the bytes of the string are the
    # salt itself, and ejabberd gets the very same bytes.
    salt = str(uuid.uuid4()).encode()
    stored, server = scram_sha1(password_pattern % n, salt, iterations)
    return user_pattern % n, salt, stored, server


def prosody_encode(name):
    """Prosody's datamanager escapes every non-alphanumeric byte as %xx."""
    return "".join(c if c.isalnum() else "%%%02x" % ord(c) for c in name)


def lua_string(raw):
    return '"' + "".join(
        chr(b) if 32 <= b < 127 and chr(b) not in '"\\' else "\\%03d" % b for b in raw
    ) + '"'


def write_prosody(directory, domain, accounts, iterations, uid, gid):
    accdir = os.path.join(directory, prosody_encode(domain), "accounts")
    os.makedirs(accdir, exist_ok=True)
    for local, salt, stored, server in accounts:
        path = os.path.join(accdir, prosody_encode(local) + ".dat")
        with open(path, "w") as f:
            f.write(
                "return {\n"
                '\t["iteration_count"] = %d;\n'
                '\t["salt"] = %s;\n'
                '\t["server_key"] = "%s";\n'
                '\t["stored_key"] = "%s";\n'
                "};\n" % (iterations, lua_string(salt), server.hex(), stored.hex())
            )
        if uid is not None:
            os.chown(path, uid, gid)
    if uid is not None:
        for d in (os.path.dirname(accdir), accdir):
            os.chown(d, uid, gid)


def erlang_binary(text):
    return '<<"%s">>' % text.replace("\\", "\\\\").replace('"', '\\"')


def write_ejabberd(path, domain, accounts, iterations):
    b64 = lambda raw: base64.b64encode(raw).decode()
    with open(path, "w") as f:
        f.write("{tables,[{passwd,[{record_name,passwd},{attributes,[us,password]}]}]}.\n")
        for local, salt, stored, server in accounts:
            f.write(
                "{passwd,{%s,%s},{scram,%s,%s,%s,sha,%d}}.\n"
                % (
                    erlang_binary(local),
                    erlang_binary(domain),
                    erlang_binary(b64(stored)),
                    erlang_binary(b64(server)),
                    erlang_binary(b64(salt)),
                    iterations,
                )
            )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", required=True)
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--last", type=int, required=True)
    p.add_argument("--user-pattern", default="user%d")
    p.add_argument("--password-pattern", default="pass%d")
    p.add_argument("--iterations", type=int, default=4096)
    p.add_argument("--prosody-dir")
    p.add_argument("--prosody-owner", help="user that owns the Prosody files")
    p.add_argument("--ejabberd-file")
    a = p.parse_args()

    jobs = [
        (n, a.user_pattern, a.password_pattern, a.iterations)
        for n in range(a.first, a.last + 1)
    ]
    with multiprocessing.Pool() as pool:
        accounts = pool.map(credentials, jobs, chunksize=256)
    if a.prosody_dir:
        uid = gid = None
        if a.prosody_owner:
            import pwd

            entry = pwd.getpwnam(a.prosody_owner)
            uid, gid = entry.pw_uid, entry.pw_gid
        write_prosody(a.prosody_dir, a.domain, accounts, a.iterations, uid, gid)
    if a.ejabberd_file:
        write_ejabberd(a.ejabberd_file, a.domain, accounts, a.iterations)


if __name__ == "__main__":
    main()
