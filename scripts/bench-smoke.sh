#!/bin/sh
# bench-smoke.sh BUILD_DIR — proves the load generator works end to end.
# Starts BUILD_DIR/parleyd on a temporary configuration (loopback, ports
# picked by the system) with a few accounts made by parleyctl, runs
# BUILD_DIR/parley-bench for a couple of seconds per scenario (login over
# direct TLS, chat over STARTTLS on two loops, archive paging, setup-rosters,
# presence, group chat in rooms of the muc module),
# checks each BENCH-JSON line (no failures, no errors, messages and presence
# delivered, archive pages full), and stops the one server it started.  Exit 0 when all is well.
# The figures are not checked: they come from real runs (docs/BENCHMARK.md).
set -u

build=${1:?usage: bench-smoke.sh BUILD_DIR}
users=10
domain=bench.test
dir=$(mktemp -d /tmp/parley-bench-smoke-XXXXXX)
pid=""
failed=0

stop_server() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        pid=""
    fi
}
finish() {
    stop_server
    if [ "$failed" -eq 0 ]; then
        rm -rf "$dir"
    else
        echo "bench-smoke: kept $dir for inspection"
    fi
}
trap finish EXIT
trap 'failed=1; exit 1' INT TERM

fail() {
    echo "bench-smoke: FAIL: $*"
    failed=1
}

cat >"$dir/parley.conf" <<EOF
data_dir = "data";
control_socket = "data/parleyd.sock";
log = { level = "info"; };
tls = { cert = "tls/cert.pem"; key = "tls/key.pem"; };
listen = (
  { type = "c2s"; address = "127.0.0.1"; port = 0; },
  { type = "c2s-tls"; address = "127.0.0.1"; port = 0; }
);
limits = { conn_per_ip = 0; };
hosts = (
  { name = "$domain";
    auth = { scram_iterations = 4096; };
    modules = { disco = {}; ping = {}; roster = {}; presence = {}; mam = {};
                muc = { occupant_rate = 1000; occupant_burst = 1000; }; }; }
);
EOF

if ! "$build/parleyd" -c "$dir/parley.conf" --gen-cert >"$dir/gen-cert.log" 2>&1; then
    fail "parleyd --gen-cert: $(cat "$dir/gen-cert.log")"
    exit 1
fi
i=1
while [ "$i" -le "$users" ]; do
    if ! "$build/parleyctl" -c "$dir/parley.conf" user add "smoke$i@$domain" "pw-smoke$i" \
        >>"$dir/accounts.log" 2>&1; then
        fail "parleyctl user add smoke$i@$domain: $(tail -n 1 "$dir/accounts.log")"
        exit 1
    fi
    i=$((i + 1))
done

"$build/parleyd" -c "$dir/parley.conf" >"$dir/parleyd.log" 2>&1 &
pid=$!
tries=0
until grep -q "event=server.ready" "$dir/parleyd.log" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
        fail "parleyd did not become ready"
        tail -n 20 "$dir/parleyd.log"
        exit 1
    fi
    sleep 0.1
done
port_of() {
    sed -n "s/.*event=listen kind=$1 address=[^ ]* port=\([0-9]*\).*/\1/p" "$dir/parleyd.log" |
        head -n 1
}
c2s=$(port_of c2s)
c2s_tls=$(port_of c2s-tls)

# The value of a numeric field inside one JSON object of the BENCH-JSON
# line: field OBJECT KEY (OBJECT "" for the top level).
field() {
    if [ -n "$1" ]; then
        grep -o "\"$1\":{[^}]*" "$dir/json" | grep -o "\"$2\":[0-9.]*" | head -n 1 | cut -d: -f2
    else
        grep -o "\"$2\":[0-9.]*}\$" "$dir/json" | cut -d: -f2 | tr -d '}'
    fi
}

# bench NAME ARGS...: one run; its JSON line is left in $dir/json.
bench() {
    name=$1
    shift
    echo "bench-smoke: $name"
    "$build/parley-bench" --domain "$domain" --user-pattern 'smoke%d' \
        --password-pattern 'pw-smoke%d' --users "$users" --server-pid "$pid" --quiet "$@" \
        >"$dir/$name.out" 2>&1
    rc=$?
    grep -v '^BENCH-JSON ' "$dir/$name.out" | sed 's/^/    /'
    grep '^BENCH-JSON ' "$dir/$name.out" | sed 's/^BENCH-JSON //' >"$dir/json"
    if [ "$rc" -ne 0 ] || [ ! -s "$dir/json" ]; then
        fail "$name: parley-bench exited $rc without a report"
        return 1
    fi
    [ "$(field login failed)" = 0 ] || fail "$name: $(field login failed) logins failed"
    [ "$(field "" errors)" = 0 ] || fail "$name: $(field "" errors) errors"
    [ "$(field login ok)" -gt 0 ] || fail "$name: no login succeeded"
    grep -q '"server":{"pid"' "$dir/json" || fail "$name: no server figures"
    return 0
}

bench login --port "$c2s_tls" --tls direct --sasl SCRAM-SHA-1 --scenario login --duration 1 \
    --concurrency 5 && {
    [ "$(field login ok)" -ge "$users" ] || fail "login: only $(field login ok) logins"
}

bench chat --port "$c2s" --scenario chat --threads 2 --duration 2 --interval 0.2 \
    --neighbours 2 --drain 3 && {
    sent=$(field chat sent)
    delivered=$(field chat delivered)
    [ "$(field login ok)" = "$users" ] || fail "chat: $(field login ok) of $users logged in"
    [ "$delivered" -gt 0 ] || fail "chat: nothing delivered"
    [ "$delivered" = "$sent" ] || fail "chat: $delivered of $sent messages delivered"
}

# The chat run filled every archive with sent and received messages: page
# back through them, whole archives and then one conversation, with pages
# small enough that each paging reaches the start and begins again.
bench mam --port "$c2s" --scenario mam --duration 1 --interval 0.05 --page 5 && {
    answered=$(field mam answered)
    [ "$answered" -gt 0 ] || fail "mam: no query answered"
    [ "$answered" = "$(field mam sent)" ] || fail "mam: $answered of $(field mam sent) answered"
    [ "$(field mam items)" -gt "$answered" ] || fail "mam: only $(field mam items) messages"
    [ "$(field mam wraps)" -gt 0 ] || fail "mam: no paging reached the start of an archive"
}
bench mam-with --port "$c2s" --scenario mam --with-neighbour --duration 1 --interval 0.05 \
    --page 5 && {
    [ "$(field mam items)" -gt 0 ] || fail "mam --with-neighbour: no messages"
    [ "$(field mam wraps)" -gt 0 ] || fail "mam --with-neighbour: no paging reached the start"
}

bench setup-rosters --port "$c2s" --setup-rosters --roster-size 2 --duration 10 \
    --interval 0.2 && {
    [ "$(field rosters complete)" = "$users" ] ||
        fail "setup-rosters: $(field rosters complete) of $users rosters complete"
}

bench presence --port "$c2s" --scenario presence --roster-size 2 --duration 1 \
    --interval 0.25 --sasl PLAIN && {
    [ "$(field presence delivered)" -gt 0 ] || fail "presence: nothing delivered"
}

# Two rooms of five made by entering them (one member of each gets status 201
# and submits the instant-room form while the others wait for the lock to go),
# then groupchat: every message reaches the four other members.
bench muc --port "$c2s" --scenario muc --rooms 2 --occupants 5 --threads 2 --duration 1 \
    --interval 0.25 --drain 3 && {
    [ "$(field muc joined)" = 10 ] || fail "muc: $(field muc joined) of 10 memberships entered"
    [ "$(field muc created)" = 2 ] || fail "muc: $(field muc created) of 2 rooms made"
    [ "$(field muc delivered)" -gt 0 ] || fail "muc: nothing delivered"
    [ "$(field muc delivered)" = "$(field muc expected)" ] ||
        fail "muc: $(field muc delivered) of $(field muc expected) deliveries"
    [ "$(field muc echoes)" = "$(field muc sent)" ] ||
        fail "muc: $(field muc echoes) echoes of $(field muc sent) messages"
}

stop_server
if grep -q "AddressSanitizer\|runtime error:" "$dir/parleyd.log"; then
    fail "the server's log shows a sanitizer report"
fi
if [ "$failed" -eq 0 ]; then
    echo "bench-smoke: ok"
    exit 0
fi
exit 1
