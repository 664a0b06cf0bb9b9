#!/bin/sh
# check-layers.sh — refuses an #include that points up the layers
# (docs/ARCHITECTURE.md, "Layers"):
#   lib      <- nothing of Parley's
#   xmpp     <- lib
#   storage  <- lib, xmpp          (its lmdb/ and sqlite/ and *-private.h stay inside)
#   config   <- lib, xmpp
#   core     <- lib, xmpp, storage, config
#   xep      <- lib, xmpp, storage interfaces, the public core headers
#   modules  <- the same plus xep, and only their own folder's files
# daemon/, admin/ and tests/ may include anything.  Every include is
# written from the repository root ("lib/buf.h"), which this relies on.
# Prints each offence as FILE:LINE and exits 1 when there is one.
set -u
cd "$(dirname "$0")/.."

PUBLIC_CORE="core/module.h core/server.h"
bad=0

allowed() { # allowed FILE TARGET -> 0 when FILE may include TARGET
    f=$1
    t=$2
    case "$t" in
    lib/*) tl=lib ;;
    xmpp/*) tl=xmpp ;;
    storage/*) tl=storage ;;
    config/*) tl=config ;;
    core/*) tl=core ;;
    xep/*) tl=xep ;;
    modules/*) tl=modules ;;
    *) return 0 ;; # not one of ours (e.g. a test helper next to the test)
    esac
    # Storage internals are storage's alone.
    case "$t" in
    storage/lmdb/* | storage/sqlite/* | storage/*-private.h)
        case "$f" in storage/* | tests/*) return 0 ;; *) return 1 ;; esac
        ;;
    esac
    case "$f" in
    lib/*) [ "$tl" = lib ] ;;
    xmpp/*) [ "$tl" = lib ] || [ "$tl" = xmpp ] ;;
    storage/*) [ "$tl" = lib ] || [ "$tl" = xmpp ] || [ "$tl" = storage ] ;;
    config/*) [ "$tl" = lib ] || [ "$tl" = xmpp ] || [ "$tl" = config ] ;;
    core/*) [ "$tl" != xep ] && [ "$tl" != modules ] ;;
    xep/* | modules/*)
        case "$tl" in
        lib | xmpp | storage | xep) return 0 ;;
        core)
            for p in $PUBLIC_CORE; do [ "$t" = "$p" ] && return 0; done
            return 1
            ;;
        modules)
            # A module includes its own folder's files (and the registry
            # is the list of them all).
            [ "${f%/*}" = "${t%/*}" ] || [ "$f" = modules/registry.c ]
            ;;
        *) return 1 ;;
        esac
        ;;
    *) return 0 ;;
    esac
}

for f in $(git ls-files 'lib/*.[ch]' 'xmpp/*.[ch]' 'storage/*.[ch]' 'config/*.[ch]' \
    'core/*.[ch]' 'xep/*.[ch]' 'modules/*.[ch]'); do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1 \2/' | {
        while read -r line target; do
            if ! allowed "$f" "$target"; then
                echo "$f:$line: includes $target, a layer above or another's internals"
                exit 1
            fi
        done
    } || bad=1
    case "$f" in
    modules/* | xep/*)
        if grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*<\(lmdb\|sqlite3\)\.h>' "$f"; then
            echo "$f: modules reach storage through its interfaces, never lmdb.h or sqlite3.h"
            bad=1
        fi
        ;;
    esac
done
if [ "$bad" -ne 0 ]; then
    echo "check-layers: wrong-way includes (see docs/ARCHITECTURE.md, Layers)" >&2
    exit 1
fi
