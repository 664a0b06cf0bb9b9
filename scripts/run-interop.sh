#!/bin/sh
# run-interop.sh BUILD_DIR — runs every tests/integration/interop_*.py (slixmpp
# clients against BUILD_DIR/parleyd) with Debian's /usr/bin/python3, which owns
# python3-slixmpp, and exits non-zero if any of them failed.
set -u
build=${1:?usage: run-interop.sh BUILD_DIR}
limit=${PARLEY_TEST_TIMEOUT:-300}
failed=0
for t in tests/integration/interop_*.py; do
    echo "== $(basename "$t")"
    timeout "$limit" /usr/bin/python3 "$t" "$build" || failed=$((failed + 1))
done
if [ "$failed" -ne 0 ]; then
    echo "interop: $failed file(s) failed"
    exit 1
fi
echo "interop: all passed"
