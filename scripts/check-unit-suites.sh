#!/bin/sh
# check-unit-suites.sh — the unit test files and the suite list agree
# (tests/unit/suites.h): every tests/unit/test_NAME.c is listed as X(NAME)
# and defines NAME_suite(), every listed NAME has its test_NAME.c, and no
# name is listed twice.  A test file nobody lists would compile and never
# run; `make unit` runs this first so that cannot happen quietly.
# Prints each mismatch and exits 1 when there is one.
set -u
cd "$(dirname "$0")/.."

list=tests/unit/suites.h
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

sed -n 's/^[[:space:]]*X(\([a-z0-9_]*\)).*/\1/p' "$list" | sort >"$tmp/all"
sort -u "$tmp/all" >"$tmp/listed"
for f in tests/unit/test_*.c; do
    [ -e "$f" ] || continue
    n=${f#tests/unit/test_}
    echo "${n%.c}"
done | sort >"$tmp/files"

bad=0
for n in $(uniq -d "$tmp/all"); do
    echo "$list: suite '$n' is listed twice"
    bad=1
done
for n in $(comm -23 "$tmp/files" "$tmp/listed"); do
    echo "tests/unit/test_$n.c: not in the suite list: add X($n) to $list"
    bad=1
done
for n in $(comm -13 "$tmp/files" "$tmp/listed"); do
    echo "$list: suite '$n' is listed but tests/unit/test_$n.c does not exist"
    bad=1
done
for n in $(comm -12 "$tmp/files" "$tmp/listed"); do
    if ! grep -q "^Suite \*${n}_suite(void)" "tests/unit/test_$n.c"; then
        echo "tests/unit/test_$n.c: does not define Suite *${n}_suite(void)"
        bad=1
    fi
done
[ "$bad" = 0 ] || echo "unit suites: the list in $list and the files in tests/unit/ disagree"
exit "$bad"
