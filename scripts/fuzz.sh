#!/bin/sh
# fuzz.sh smoke|long BUILD_DIR SECONDS TARGET... — runs libFuzzer targets
# built in BUILD_DIR/fuzz/ (make fuzz-build), one after the other.
#
# For each target: first the reproducers of earlier findings
# (tests/fuzz/regress/TARGET/*) are run once each, then the target fuzzes
# for SECONDS from its seed corpus (tests/fuzz/corpus/TARGET/, read only)
# with its dictionary (tests/fuzz/TARGET.dict) and the libFuzzer flags in
# tests/fuzz/TARGET.options (one a line).  New corpus entries go to a
# scratch directory under BUILD_DIR, never into the repository:
#   smoke  BUILD_DIR/corpus-smoke/TARGET, emptied first (the same start every time)
#   long   BUILD_DIR/corpus/TARGET, kept between runs; runs under nice, in
#          libFuzzer's fork mode, going on after a finding to look for more
# A crash, leak, timeout or out-of-memory is written to
# BUILD_DIR/findings/TARGET/ and fails the run; the whole libFuzzer log is
# in BUILD_DIR/logs/TARGET-MODE.log, its end is printed on failure.
set -u

mode=${1:?usage: fuzz.sh smoke|long BUILD_DIR SECONDS TARGET...}
build=${2:?usage: fuzz.sh smoke|long BUILD_DIR SECONDS TARGET...}
secs=${3:?usage: fuzz.sh smoke|long BUILD_DIR SECONDS TARGET...}
shift 3
case "$mode" in
smoke)
    nice=""
    modeopts=""
    ;;
long)
    nice="nice -n ${FUZZ_NICE:-10}"
    modeopts="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
    ;;
*)
    echo "fuzz.sh: mode is smoke or long" >&2
    exit 2
    ;;
esac
[ $# -gt 0 ] || {
    echo "fuzz.sh: no targets" >&2
    exit 2
}

# Symbolised stacks, and every sanitizer finding is fatal.
# Third-party leaks we cannot fix are suppressed in tests/fuzz/lsan.supp.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/tests/fuzz/lsan.supp:print_suppressions=0}
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

failed=""
mkdir -p "$build/logs"
for t in "$@"; do
    bin="$build/fuzz/$t"
    log="$build/logs/$t-$mode.log"
    findings="$build/findings/$t"
    mkdir -p "$findings"
    opts=""
    if [ -f "tests/fuzz/$t.options" ]; then
        opts=$(grep -v '^[[:space:]]*#' "tests/fuzz/$t.options" | tr '\n' ' ')
    fi
    : >"$log"
    ok=1

    # 1. The reproducers of earlier findings must all pass.
    nreg=0
    if [ -d "tests/fuzz/regress/$t" ]; then
        nreg=$(find "tests/fuzz/regress/$t" -type f ! -name '*.md' | wc -l)
    fi
    if [ "$nreg" -gt 0 ]; then
        # shellcheck disable=SC2046,SC2086
        if ! "$bin" $opts -timeout=25 \
            $(find "tests/fuzz/regress/$t" -type f ! -name '*.md' | sort) >>"$log" 2>&1; then
            ok=0
            echo "== $t: a reproducer in tests/fuzz/regress/$t fails again"
        fi
    fi

    # 2. Fuzz from the seeds.
    if [ "$ok" -eq 1 ]; then
        if [ "$mode" = smoke ]; then
            corpus="$build/corpus-smoke/$t"
            rm -rf "$corpus"
        else
            corpus="$build/corpus/$t"
        fi
        mkdir -p "$corpus"
        dict=""
        [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
        t0=$(date +%s)
        # shellcheck disable=SC2086
        if ! $nice "$bin" $opts $modeopts $dict -max_total_time="$secs" -timeout=25 \
            -artifact_prefix="$findings/" -print_final_stats=1 \
            "$corpus" "tests/fuzz/corpus/$t" >>"$log" 2>&1; then
            ok=0
        fi
        t1=$(date +%s)
        if [ "$mode" = smoke ]; then
            runs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -n 1 | awk '{print $2}')
            last=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
        else
            # Fork mode: "#RUNS: cov: N ft: N corp: N exec/s N oom/timeout/crash: a/b/c ..."
            last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)
            runs=$(echo "$last" | sed -nE 's/^#([0-9]+):.*/\1/p')
            found=$(echo "$last" | sed -nE 's/.*oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p')
            [ -n "$found" ] && [ "$found" != "0/0/0" ] && ok=0
        fi
        cov=$(echo "$last" | sed -nE 's/.* cov: ([0-9]+).*/\1/p')
        ft=$(echo "$last" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
        corp=$(find "$corpus" -type f | wc -l)
        if [ "$ok" -eq 1 ]; then
            echo "== $t: ok, $((t1 - t0))s, ${runs:-?} runs, cov ${cov:-?}, ft ${ft:-?}, $corp new inputs in $corpus, $nreg reproducers replayed"
        else
            echo "== $t: FINDING after $((t1 - t0))s (${runs:-?} runs, cov ${cov:-?}, oom/timeout/crash ${found:-?}, corpus $corp): see $findings/"
        fi
    fi
    if [ "$ok" -eq 0 ]; then
        failed="$failed $t"
        echo "-- last lines of $log:"
        tail -n 60 "$log"
    fi
done

if [ -n "$failed" ]; then
    echo "fuzz $mode: findings in$failed (logs in $build/logs/)"
    exit 1
fi
echo "fuzz $mode: all $# targets clean"
