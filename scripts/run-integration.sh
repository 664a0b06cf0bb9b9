#!/bin/sh
# run-integration.sh BUILD_DIR — runs every BUILD_DIR/tests/test_* binary
# against BUILD_DIR/parleyd and BUILD_DIR/parleyctl, each under a time limit,
# PARLEY_TEST_JOBS (default 3) at a time, then prints "N passed, N failed"
# (test cases, all binaries) and exits non-zero if anything failed.
#
# The binaries do not collide when run together: each test's servers live in
# their own mkdtemp directory and listen on ports from h_free_port.  A
# binary's output is printed whole when it ends, never interleaved with
# another's.  The longest binaries (by their time in the previous run, kept
# in BUILD_DIR/tests/.durations) start first, so the run ends sooner.
#
#   PARLEY_TESTS="test_a test_b"  only these binaries
#   PARLEY_TEST_JOBS=1            one at a time
#   PARLEY_TEST_TIMEOUT=300       seconds per binary
#   PARLEY_TEST_RETRY=0           no second run (default 1, see below)
#
# A binary that fails while others run beside it is run once more, alone,
# after the rest: timing under load (ASan, two cores, three servers) is not
# what the test asserts.  It counts as passed only if it passes alone, and
# the summary names it and the cases that failed the first time, so a
# flaky test is seen at the end of the log rather than hidden.  Failed
# cases are listed after the totals either way.
set -u

# One binary: run it, keep its output and result, print them under the lock.
if [ "${1:-}" = "--one" ]; then
    bin=$2
    results=$3
    name=$(basename "$bin")
    out="$results/$name.out"
    t0=$(date +%s)
    timeout "$PARLEY_TEST_TIMEOUT_S" "$bin" >"$out" 2>&1
    rc=$?
    t1=$(date +%s)
    # The binary's own last line: "<name>: N passed, N failed".
    summary=$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -n 1)
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
    if [ "$rc" -eq 124 ]; then
        line="== $name: TIMED OUT after ${PARLEY_TEST_TIMEOUT_S}s"
    elif [ "$f" -eq 0 ]; then
        line="== $name: PASS ($p cases, $((t1 - t0))s)"
    else
        line="== $name: FAIL ($f of $((p + f)) cases failed, exit $rc, $((t1 - t0))s)"
    fi
    echo "$name $p $f $((t1 - t0))" >"$results/$name.result"
    (
        flock 9
        cat "$out"
        echo "$line"
    ) 9>"$results/lock"
    exit 0
fi

build=${1:?usage: run-integration.sh BUILD_DIR}
PARLEY_TEST_TIMEOUT_S=${PARLEY_TEST_TIMEOUT:-300}
jobs=${PARLEY_TEST_JOBS:-3}
PARLEY_BUILD=$build
export PARLEY_BUILD PARLEY_TEST_TIMEOUT_S

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT INT TERM
start=$(date +%s)

# The binaries, longest first (unknown ones first of all: they may be long).
: >"$results/list"
for bin in "$build"/tests/test_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    if [ -n "${PARLEY_TESTS:-}" ]; then
        case " $PARLEY_TESTS " in
        *" $name "*) ;;
        *) continue ;;
        esac
    fi
    secs=$(awk -v n="$name" '$1 == n { print $2 }' "$build/tests/.durations" 2>/dev/null)
    echo "${secs:-999999} $bin" >>"$results/list"
done
found=$(wc -l <"$results/list")
if [ "$found" -eq 0 ]; then
    echo "no test binaries in $build/tests" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
sort -rn "$results/list" | cut -d' ' -f2- |
    xargs -P "$jobs" -I{} "$0" --one {} "$results"

# The second run, alone, of each binary that failed beside others.
: >"$results/flaky"
if [ "${PARLEY_TEST_RETRY:-1}" != 0 ] && [ "$jobs" -gt 1 ]; then
    for r in "$results"/*.result; do
        [ -e "$r" ] || continue
        read -r name p f secs <"$r"
        [ "$f" -eq 0 ] && continue
        mv "$results/$name.out" "$results/$name.first"
        echo "== $name: failed beside other tests; running it again, alone"
        "$0" --one "$build/tests/$name" "$results"
        read -r name2 p2 f2 secs2 <"$results/$name.result"
        if [ "$f2" -eq 0 ]; then
            cases=$(grep -E ": FAILED \(" "$results/$name.first" | sed 's/: FAILED.*//' | tr '\n' ' ')
            echo "$name (first run failed: ${cases:-no case named; exit or timeout})" >>"$results/flaky"
        fi
    done
fi

passed=0
failed=0
: >"$results/durations"
for r in "$results"/*.result; do
    [ -e "$r" ] || continue
    read -r name p f secs <"$r"
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$name $secs" >>"$results/durations"
done
# A binary that left no result (the runner itself was killed) is a failure.
ran=$(find "$results" -name "*.result" | wc -l)
failed=$((failed + found - ran))
# Keep the times of binaries that did not run this time.
touch "$build/tests/.durations" 2>/dev/null
awk 'NR == FNR { seen[$1] = 1; print; next } !($1 in seen)' "$results/durations" \
    "$build/tests/.durations" >"$results/durations.all" 2>/dev/null
cp "$results/durations.all" "$build/tests/.durations" 2>/dev/null
echo "integration suite took $(($(date +%s) - start))s ($jobs at a time)"
echo "$passed passed, $failed failed"
if [ -s "$results/flaky" ]; then
    echo "passed only when run again alone (flaky under load; see the first run above):"
    sed 's/^/    /' "$results/flaky"
fi
if [ "$failed" -ne 0 ]; then
    echo "failed:"
    for o in "$results"/*.out; do
        n=$(basename "$o" .out)
        read -r _ _ f _ <"$results/$n.result" 2>/dev/null || f=1
        [ "$f" -eq 0 ] && continue
        cases=$(grep -E ": FAILED \(" "$o" | tr '\n' ';')
        echo "    $n: ${cases:-no case named (crash, exit or timeout; see its output above)}"
    done
fi
[ "$failed" -eq 0 ]
