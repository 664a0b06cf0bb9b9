#!/bin/sh
# run-integration.sh BUILD_DIR — runs every BUILD_DIR/tests/test_* binary
# against BUILD_DIR/parleyd and BUILD_DIR/parleyctl, each under a time limit,
# then prints "N passed, N failed" (test cases, all binaries) and exits
# non-zero if anything failed.
set -u

build=${1:?usage: run-integration.sh BUILD_DIR}
limit=${PARLEY_TEST_TIMEOUT:-300}
PARLEY_BUILD=$build
export PARLEY_BUILD

passed=0
failed=0
found=0
start=$(date +%s)
for bin in "$build"/tests/test_*; do
    [ -x "$bin" ] || continue
    found=1
    name=$(basename "$bin")
    out=$(mktemp)
    t0=$(date +%s)
    timeout "$limit" "$bin" >"$out" 2>&1
    rc=$?
    t1=$(date +%s)
    cat "$out"
    # The binary's own last line: "<name>: N passed, N failed".
    summary=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -n 1)
    rm -f "$out"
    if [ -n "$summary" ]; then
        p=$(echo "$summary" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(echo "$summary" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    else
        p=0
        f=0
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # Crashed, timed out (124) or failed without saying so: count it.
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -eq 124 ]; then
        echo "== $name: TIMED OUT after ${limit}s"
    elif [ "$f" -eq 0 ]; then
        echo "== $name: PASS ($p cases, $((t1 - t0))s)"
    else
        echo "== $name: FAIL ($f of $((p + f)) cases failed, exit $rc, $((t1 - t0))s)"
    fi
done

if [ "$found" -eq 0 ]; then
    echo "no test binaries in $build/tests" >&2
    failed=$((failed + 1))
fi
echo "integration suite took $(($(date +%s) - start))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
