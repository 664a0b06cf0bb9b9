#!/bin/sh
# demo.sh — the README's first command: installs what is missing, builds,
# creates the demo accounts once (printing their passwords), and runs parleyd
# in the foreground on its built-in config (host demo.local, data in ./data,
# a self-signed certificate made on first start).  Ctrl-C stops it.
set -eu
# Everything made here (the data folder, the password list, the databases)
# is for the owner only.
umask 077
cd "$(dirname "$0")/.."
./scripts/deps.sh
make -j"$(nproc)" all >/dev/null
B=build
mkdir -p data
chmod 700 data
accounts=data/demo-accounts.txt
if [ ! -s "$accounts" ]; then
    umask 077
    : > "$accounts"
    for user in alice bob; do
        pw=$(openssl rand -base64 12 | tr -d '/+=')
        if $B/parleyctl user add "$user@demo.local" "$pw" >/dev/null; then
            echo "$user@demo.local $pw" >> "$accounts"
        fi
    done
fi
echo "----------------------------------------------------------------------"
echo " Parley demo: host demo.local, client port 5222 (STARTTLS) and 5223 (TLS)"
echo " Demo accounts (also in $accounts):"
sed 's/^/   /' "$accounts"
echo " Component (XEP-0114): bot.demo.local on 127.0.0.1:5347, secret demo-component-secret"
echo " The certificate is self-signed: tell your client to accept it."
echo " Manage accounts:  $B/parleyctl user add carol@demo.local"
echo "----------------------------------------------------------------------"
exec $B/parleyd
