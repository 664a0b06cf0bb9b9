#!/bin/sh
# deps.sh — installs the Debian packages Parley needs to build, run and test,
# only those missing (so it is fast when everything is there).  Run as root
# (or with sudo available).
set -eu
# clang and libclang-rt-14-dev build the fuzz targets (make fuzz-smoke, in
# make test): -fsanitize=fuzzer needs the libFuzzer runtime, which Debian 12
# ships in libclang-rt-14-dev, only recommended by clang.
PKGS="build-essential make pkg-config openssl ca-certificates
libuv1-dev libexpat1-dev libssl-dev libsqlite3-dev liblmdb-dev libconfig-dev
check libsubunit-dev libstrophe-dev python3-slixmpp python3-pytest
clang libclang-rt-14-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
