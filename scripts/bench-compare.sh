#!/bin/bash
# bench-compare.sh — Parley against Prosody and ejabberd on this machine, in one run (issue #4).
# Installs Prosody and ejabberd from Debian when missing, gives each server (and Parley) its own
# configuration, data and loopback port under a work directory, the same EC P-256 certificate,
# SCRAM-SHA-1 and the same accounts, then runs parley-bench's scenarios against each server in
# turn (only the server under test runs) and prints the medians side by side with the ratios.
# It starts its own server processes and stops exactly those; the Debian services are never
# used.  Method and results: docs/PERFORMANCE.md.  `--help` lists the options.
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build} # when BUILD is not given, the script runs make itself
py=/usr/bin/python3
domain=bench.test

# ---- options --------------------------------------------------------------------------------
users=2000          # accounts used by login, chat and presence
sessions=10000      # idle sessions of the hold scenario
duration=10         # measured seconds of every run
runs=3
only=parley,prosody,ejabberd
scenarios=login,hold,chat,presence,mam,muc
loops=1
roster_size=10
neighbours=5
chat_interval=1
presence_interval=2
concurrency=200
gen_procs=2
mam_users=200       # accounts whose archives the mam scenario fills and pages through
mam_messages=250    # messages each of them sends while filling (it also receives as many)
mam_page=50
mam_fill_rate=500   # messages per second offered while filling (Prosody falls behind at 2,000)
muc_occupants=50    # muc: members of each room in the paced and --fast runs
muc_rooms=""        # muc: rooms of that size (default: users / muc_occupants, one room per account)
muc_interval=5      # muc: each member posts once per this many seconds in the paced run
muc_big=500         # muc: members of each room in the large-room run
muc_big_rooms=2     # muc: rooms of that size
muc_big_interval=30 # muc: each member of a large room posts once per this many seconds
workdir=${BENCH_DIR:-/tmp/parley-bench-compare}
install=1

usage() {
    cat <<EOF
usage: scripts/bench-compare.sh [options]
  --quick              small sizes, a few minutes: --users 500 --sessions 1000 --duration 2
                       --muc-big-rooms 1
  --users N            accounts for login, chat and presence (default $users)
  --sessions N         idle sessions held by the hold scenario (default $sessions)
  --duration SEC       measured seconds per run (default $duration)
  --runs N             runs per scenario and server; the table shows the median (default $runs)
  --only LIST          servers, comma-separated: parley,prosody,ejabberd (default all)
  --scenarios LIST     login,hold,chat,presence,mam (default all)
  --loops N            Parley's 'loops' setting; 0 = one per core (default $loops)
  --roster-size R      contacts per account for presence (default $roster_size)
  --neighbours K       chat: messages per account per interval (default $neighbours)
  --chat-interval SEC  chat: the interval (default $chat_interval)
  --presence-interval SEC  presence: one change per account per interval (default $presence_interval)
  --concurrency N      logins in progress at once (default $concurrency)
  --procs N            load generator processes (default $gen_procs)
  --mam-users N        mam: accounts whose archives are filled, then paged (default $mam_users)
  --mam-messages K     mam: messages each of them sends to fill the archives (default $mam_messages)
  --mam-page N         mam: messages per archive query (default $mam_page)
  --muc-occupants K    muc: members per room in the paced and fast runs (default $muc_occupants)
  --muc-rooms R        muc: rooms of K members (default users / K)
  --muc-interval SEC   muc: each member posts once per SEC in the paced run (default $muc_interval)
  --muc-big K          muc: members per room in the large-room run (default $muc_big)
  --muc-big-rooms R    muc: rooms in the large-room run (default $muc_big_rooms)
  --muc-big-interval SEC  muc: each member of a large room posts once per SEC (default $muc_big_interval)
  --dir DIR            work directory: servers' data (kept as a cache of accounts and rosters),
                       configurations, logs and results (default \$BENCH_DIR or $workdir)
  --no-install         fail instead of installing missing Debian packages
The chat rate offered is users x neighbours / chat-interval messages per second.
EOF
}

die() {
    echo "bench-compare: $*" >&2
    exit 1
}
say() { echo "bench-compare: $*" >&2; }

while [ $# -gt 0 ]; do
    case $1 in
    --quick)
        users=500 sessions=1000 duration=2 mam_users=50 mam_messages=100 muc_big_rooms=1
        shift
        ;;
    --users | --sessions | --duration | --runs | --only | --scenarios | --loops | --roster-size | \
        --neighbours | --chat-interval | --presence-interval | --concurrency | --procs | --dir | \
        --mam-users | --mam-messages | --mam-page | --muc-occupants | --muc-rooms | \
        --muc-interval | --muc-big | --muc-big-rooms | --muc-big-interval)
        [ $# -ge 2 ] || die "$1 needs a value"
        v=$2
        case $1 in
        --users) users=$v ;;
        --sessions) sessions=$v ;;
        --duration) duration=$v ;;
        --runs) runs=$v ;;
        --only) only=$v ;;
        --scenarios) scenarios=$v ;;
        --loops) loops=$v ;;
        --roster-size) roster_size=$v ;;
        --neighbours) neighbours=$v ;;
        --chat-interval) chat_interval=$v ;;
        --presence-interval) presence_interval=$v ;;
        --concurrency) concurrency=$v ;;
        --procs) gen_procs=$v ;;
        --dir) workdir=$v ;;
        --mam-users) mam_users=$v ;;
        --mam-messages) mam_messages=$v ;;
        --mam-page) mam_page=$v ;;
        --muc-occupants) muc_occupants=$v ;;
        --muc-rooms) muc_rooms=$v ;;
        --muc-interval) muc_interval=$v ;;
        --muc-big) muc_big=$v ;;
        --muc-big-rooms) muc_big_rooms=$v ;;
        --muc-big-interval) muc_big_interval=$v ;;
        esac
        shift 2
        ;;
    --no-install)
        install=0
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done

[ -n "$muc_rooms" ] || muc_rooms=$((users / muc_occupants > 0 ? users / muc_occupants : 1))
for n in users sessions runs loops roster_size neighbours concurrency gen_procs mam_users \
    mam_messages mam_page muc_occupants muc_rooms muc_big muc_big_rooms; do
    case ${!n} in '' | *[!0-9]*) die "--${n//_/-} must be a whole number (got '${!n}')" ;; esac
done
[ "$users" -gt "$roster_size" ] || die "--users must be larger than --roster-size"
[ "$mam_users" -gt 5 ] && [ "$mam_users" -le "$users" ] ||
    die "--mam-users must be above 5 and at most --users"
[ "$mam_page" -ge 1 ] && [ "$mam_page" -le 1000 ] || die "--mam-page must be 1..1000"
[ "$runs" -ge 1 ] || die "--runs must be at least 1"
[ "$muc_occupants" -ge 2 ] && [ "$muc_occupants" -le "$users" ] &&
    [ "$muc_big" -ge 2 ] && [ "$muc_big" -le "$users" ] && [ "$muc_big" -le 500 ] ||
    die "--muc-occupants and --muc-big must be 2..--users (and --muc-big at most 500, the servers' room limit here)"
for s in ${only//,/ }; do
    case $s in parley | prosody | ejabberd) ;; *) die "--only: unknown server '$s'" ;; esac
done
for s in ${scenarios//,/ }; do
    case $s in login | hold | chat | presence | mam | muc) ;; *) die "--scenarios: unknown scenario '$s'" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and runs servers as their users)"
[ -x "$py" ] || die "$py is needed for the account files and the table"
wants() { case ",$2," in *",$1,"*) return 0 ;; esac; return 1; }

# ---- ports: one per server, none of them Debian's defaults ------------------------------------
parley_port=15222
prosody_port=25222
ejabberd_port=35222
ejabberd_dist_port=35299 # Erlang distribution of our node only: no epmd is started
ejabberd_node=parleybench-ejabberd@localhost

# ---- the processes this script started -------------------------------------------------------
srv_name=""      # parley | prosody | ejabberd while one runs
srv_pid=""       # the process measured: parleyd, Prosody's lua, ejabberd's beam.smp
srv_child=""     # our direct child: parleyd, lua, or the ejabberdctl shell above beam.smp

# kill_tree PID SIGNAL: the process and every descendant, children first.
kill_tree() {
    local p
    for p in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$p" "$2"; done
    kill "-$2" "$1" 2>/dev/null
}

# descendants PID: "pid:command" of every process below PID.
descendants() {
    local p
    for p in $(pgrep -P "$1" 2>/dev/null); do
        echo "$p:$(ps -o comm= -p "$p")"
        descendants "$p"
    done
}

# wait_gone PID SECONDS: 0 once the process is gone (reaped if it is our child).
wait_gone() {
    local i=0
    while kill -0 "$1" 2>/dev/null; do
        # A child of ours stays a zombie until waited for.
        if [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = Z ]; then
            wait "$1" 2>/dev/null
            return 0
        fi
        i=$((i + 1))
        [ "$i" -gt $(($2 * 10)) ] && return 1
        sleep 0.1
    done
    wait "$1" 2>/dev/null
    return 0
}

stop_server() {
    [ -n "$srv_name" ] || return 0
    local name=$srv_name
    say "stopping $name (pid $srv_pid)"
    # The Erlang VM's helpers (erl_child_setup, eimp, memsup), noted with their names so that
    # only they are ended if one outlives the VM.
    local helpers=""
    [ "$name" = ejabberd ] && [ -n "$srv_pid" ] && helpers=$(descendants "$srv_pid")
    if [ "$name" = ejabberd ]; then
        ejabberdctl_run stop >/dev/null 2>&1
    else
        kill -TERM "$srv_pid" 2>/dev/null
    fi
    if ! wait_gone "$srv_child" 30; then
        say "$name did not stop in 30 s: killing it"
        kill_tree "$srv_child" KILL
        wait_gone "$srv_child" 5
    fi
    local h
    for h in $helpers; do
        [ "$(ps -o comm= -p "${h%%:*}" 2>/dev/null)" = "${h#*:}" ] && kill -KILL "${h%%:*}" 2>/dev/null
    done
    srv_name="" srv_pid="" srv_child=""
}

gen_pid=""
cleanup() {
    if [ -n "$gen_pid" ]; then
        kill_tree "$gen_pid" TERM
        wait "$gen_pid" 2>/dev/null
        gen_pid=""
    fi
    stop_server
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM

# ---- packages ---------------------------------------------------------------------------------
install_servers() {
    local missing=""
    wants prosody "$only" && ! command -v prosody >/dev/null && missing="$missing prosody"
    wants ejabberd "$only" && ! [ -x /usr/sbin/ejabberdctl ] && missing="$missing ejabberd"
    # Prosody keeps its archive in SQLite, like Parley, through LuaDBI.
    wants prosody "$only" && wants mam "$scenarios" && ! dpkg -s lua-dbi-sqlite3 >/dev/null 2>&1 &&
        missing="$missing lua-dbi-sqlite3"
    # ejabberd's too, through its SQLite driver; the schema is loaded with the sqlite3 shell.
    if wants ejabberd "$only" && wants mam "$scenarios"; then
        dpkg -s erlang-p1-sqlite3 >/dev/null 2>&1 || missing="$missing erlang-p1-sqlite3"
        command -v sqlite3 >/dev/null || missing="$missing sqlite3"
    fi
    [ -n "$missing" ] || return 0
    [ "$install" -eq 1 ] || die "missing:$missing (and --no-install given)"
    say "installing$missing from Debian"
    # The packages start their system services on install.  A policy-rc.d that refuses every
    # start keeps them down (this script never uses them); an existing one is left alone.
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# bench-compare.sh: no service starts while it installs packages\nexit 101\n' \
            >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >"$workdir/apt.log" 2>&1
    local rc=$?
    [ "$made_policy" -eq 1 ] && rm -f "$policy"
    [ "$rc" -eq 0 ] || die "apt-get install$missing failed (see $workdir/apt.log)"
    # Nor should they start at the next boot.
    if [ -d /run/systemd/system ]; then
        for s in $missing; do systemctl disable --now "$s" >/dev/null 2>&1; done
    fi
}

# ---- the work directory -----------------------------------------------------------------------
accounts=$((users > sessions ? users : sessions))
mkdir -p "$workdir" || die "cannot make $workdir"
chmod 755 "$workdir"
# Accounts and rosters are cached per (users, roster size): the presence scenario needs exactly
# the rosters setup-rosters makes for that many users.
data=$workdir/u$users-r$roster_size
stamp=$(date +%Y%m%d-%H%M%S)
results=$workdir/results/$stamp
raw=$results/raw.jsonl
mkdir -p "$data" "$results/logs"
chmod 755 "$data"
install_servers

if [ -z "${BUILD:-}" ]; then
    say "building Parley and the load generator (make all bench)"
    make -C "$root" -j"$(nproc)" all bench >"$workdir/make.log" 2>&1 ||
        die "make all bench failed (see $workdir/make.log)"
fi
[ -x "$build/parleyd" ] && [ -x "$build/parleyctl" ] && [ -x "$build/parley-bench" ] ||
    die "no parleyd, parleyctl or parley-bench in $build: make all bench"

tls=$workdir/tls
if [ ! -s "$tls/cert.pem" ]; then
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" \
        -keyout "$tls/key.pem" -out "$tls/cert.pem" >/dev/null 2>&1 || die "openssl req failed"
    chmod 644 "$tls/key.pem" "$tls/cert.pem"
fi

archive=0 # 1 while the mam scenario runs: the servers' configurations then archive messages
groups=0  # 1 while the muc scenario runs: the servers then serve groups.$domain

# ---- Parley -----------------------------------------------------------------------------------
parley_dir=$data/parley
parley_setup() {
    local parley_mam=""
    [ "$archive" -eq 1 ] && parley_mam=" mam = {};"
    # The group service at groups.<host>; the per-occupant flood limit (5 messages a second by
    # default) raised like the other limits, since the other two servers have none.
    [ "$groups" -eq 1 ] &&
        parley_mam="$parley_mam muc = { max_occupants = 500; occupant_rate = 10000; occupant_burst = 100000; };"
    mkdir -p "$parley_dir/data"
    cat >"$parley_dir/parley.conf" <<EOF
# Written by scripts/bench-compare.sh: a benchmark server on loopback.
data_dir = "data";
loops = $loops;
log = { level = "warn"; };
tls = { cert = "$tls/cert.pem"; key = "$tls/key.pem"; };
listen = ( { type = "c2s"; address = "127.0.0.1"; port = $parley_port; } );
limits = {
  conn_per_ip = 0; auth_fail_per_ip = 0; auth_fail_per_account = 0;
  stanza_rate = 1000000; stanza_burst = 10000000;
};
hosts = ( { name = "$domain"; auth = { scram_iterations = 4096; };
            modules = { disco = {}; ping = {}; roster = {}; presence = {};$parley_mam }; } );
EOF
    local have
    have=$(cat "$parley_dir/accounts" 2>/dev/null || echo 0)
    if [ "$have" -lt "$accounts" ]; then
        say "parley: creating accounts $((have + 1))..$accounts"
        local t0=$SECONDS
        seq "$((have + 1))" "$accounts" | awk -v d="$domain" '{ print "user" $1 "@" d " pass" $1 }' |
            "$build/parleyctl" -c "$parley_dir/parley.conf" user import - \
                >"$parley_dir/import.log" 2>&1 || die "parleyctl user import failed: $(tail -n 3 "$parley_dir/import.log")"
        echo "$accounts" >"$parley_dir/accounts"
        say "parley: accounts made in $((SECONDS - t0)) s"
    fi
}
parley_start() {
    "$build/parleyd" -c "$parley_dir/parley.conf" >>"$parley_dir/parleyd.log" 2>&1 &
    srv_child=$! srv_pid=$! srv_name=parley
}

# ---- Prosody ----------------------------------------------------------------------------------
prosody_dir=$data/prosody
prosody_setup() {
    local prosody_mam="" prosody_storage="" prosody_muc=""
    # Prosody's MUC component on the same name as Parley's group service; rooms are created by
    # joining and stay locked until the instant-room form (its default, muc_room_locking).
    # It has no occupant limit or flood limit unless modules not loaded here add them.
    [ "$groups" -eq 1 ] && prosody_muc="Component \"groups.$domain\" \"muc\"
    restrict_room_creation = false
    max_history_messages = 20"
    if [ "$archive" -eq 1 ]; then
        # The archive in SQLite (accounts stay in Prosody's files); every message archived.
        prosody_mam=', "mam"'
        prosody_storage='
storage = { archive = "sql" }
sql = { driver = "SQLite3", database = "archive.sqlite" }
default_archive_policy = true
archive_expires_after = "never"'
    fi
    mkdir -p "$prosody_dir/data" "$prosody_dir/certs"
    cp "$tls/cert.pem" "$prosody_dir/certs/$domain.crt"
    cp "$tls/key.pem" "$prosody_dir/certs/$domain.key"
    cat >"$prosody_dir/prosody.cfg.lua" <<EOF
-- Written by scripts/bench-compare.sh: a benchmark server on loopback.
pidfile = "$prosody_dir/prosody.pid"
data_path = "$prosody_dir/data"
certificates = "$prosody_dir/certs"
log = { warn = "$prosody_dir/prosody.log" }
network_settings = { tcp_backlog = 1024 }
c2s_ports = { $prosody_port }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
component_ports = { }
c2s_require_encryption = true
authentication = "internal_hashed"
storage = "internal"
-- What a chat client needs; mod_limits (rate limits) is not loaded.  Prosody loads presence,
-- message and iq by itself; offline storage and s2s are switched off like in the other servers.
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping"$prosody_mam }
modules_disabled = { "offline", "s2s", "s2s_auth_certs" }$prosody_storage
ssl = { certificate = "$prosody_dir/certs/$domain.crt", key = "$prosody_dir/certs/$domain.key" }
VirtualHost "$domain"
$prosody_muc
EOF
    local have
    have=$(cat "$prosody_dir/accounts" 2>/dev/null || echo 0)
    if [ "$have" -lt "$accounts" ]; then
        say "prosody: computing SCRAM-SHA-1 credentials $((have + 1))..$accounts"
        local t0=$SECONDS
        "$py" "$here/bench-accounts.py" --domain "$domain" --first "$((have + 1))" \
            --last "$accounts" --prosody-dir "$prosody_dir/data" --prosody-owner prosody ||
            die "bench-accounts.py failed"
        echo "$accounts" >"$prosody_dir/accounts"
        say "prosody: account files written in $((SECONDS - t0)) s"
    fi
    chown -R prosody:prosody "$prosody_dir"
}
prosody_start() {
    : >"$prosody_dir/prosody.log"
    setpriv --reuid=prosody --regid=prosody --init-groups \
        env HOME="$prosody_dir" prosody --config "$prosody_dir/prosody.cfg.lua" -F \
        >>"$prosody_dir/console.log" 2>&1 &
    srv_child=$! srv_pid=$! srv_name=prosody
}

# ---- ejabberd ---------------------------------------------------------------------------------
ejabberd_dir=$data/ejabberd
ejabberdctl_run() {
    setpriv --reuid=ejabberd --regid=ejabberd --init-groups \
        env HOME="$ejabberd_dir/spool" ejabberdctl --config-dir "$ejabberd_dir/conf" \
        --logs "$ejabberd_dir/logs" --spool "$ejabberd_dir/spool" "$@"
}
ejabberd_setup() {
    local ejabberd_mam="" ejabberd_sql="" ejabberd_muc=""
    # mod_muc on the same name; its room size limits (the service's and each new room's, 200 by
    # default) raised to the largest room used, and no shapers (room_shaper, user_message_shaper
    # are none by default).
    if [ "$groups" -eq 1 ]; then
        ejabberd_muc="  mod_muc:
    hosts: [\"groups.@HOST@\"]
    access_create: all
    max_users: 500
    max_user_conferences: 1000
    max_users_presence: 1000
    history_size: 20
    default_room_options:
      max_users: 500"
    fi
    # The archive in SQLite (ejabberd's documentation advises SQL over Mnesia for archives;
    # accounts and rosters stay in Mnesia); every message archived.
    if [ "$archive" -eq 1 ]; then
        ejabberd_mam="  mod_mam: {default: always, db_type: sql}"
        ejabberd_sql="sql_type: sqlite
sql_database: \"$ejabberd_dir/spool/archive.db\""
    fi
    mkdir -p "$ejabberd_dir/conf" "$ejabberd_dir/logs" "$ejabberd_dir/spool"
    cat "$tls/cert.pem" "$tls/key.pem" >"$ejabberd_dir/conf/server.pem"
    cp /etc/ejabberd/inetrc "$ejabberd_dir/conf/inetrc" 2>/dev/null ||
        echo '{lookup,["file","native"]}.' >"$ejabberd_dir/conf/inetrc"
    # Our own node name, cookie and distribution port: ejabberdctl then talks to this node only,
    # and with ERL_DIST_PORT set no epmd daemon is started at all.
    cat >"$ejabberd_dir/conf/ejabberdctl.cfg" <<EOF
ERLANG_NODE=$ejabberd_node
ERL_DIST_PORT=$ejabberd_dist_port
ERL_OPTIONS="-setcookie $(od -An -N8 -tx1 /dev/urandom | tr -d ' \n') -env ERL_CRASH_DUMP_BYTES 0"
EOF
    cat >"$ejabberd_dir/conf/ejabberd.yml" <<EOF
# Written by scripts/bench-compare.sh: a benchmark server on loopback.
hosts: ["$domain"]
loglevel: warning
certfiles: ["$ejabberd_dir/conf/server.pem"]
auth_method: internal
auth_password_format: scram
auth_scram_hash: sha
default_db: mnesia
$ejabberd_sql
shaper_rules:
  max_user_sessions: 100000
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
  local:
    allow: local
listen:
  - port: $ejabberd_port
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: true
    shaper: none
    access: c2s
    max_stanza_size: 1048576
    max_fsm_queue: 1000000
    backlog: 1024
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
$ejabberd_mam
$ejabberd_muc
EOF
    chown -R ejabberd:ejabberd "$ejabberd_dir"
}
# Accounts go in while the node runs: one Mnesia text dump of the passwd table, loaded in one
# `ejabberdctl load` (about 20,000 accounts a second; `ejabberdctl register` is ~0.3 s each).
ejabberd_accounts() {
    local have
    have=$(cat "$ejabberd_dir/accounts" 2>/dev/null || echo 0)
    [ "$have" -lt "$accounts" ] || return 0
    say "ejabberd: loading accounts $((have + 1))..$accounts"
    local t0=$SECONDS dump=$ejabberd_dir/spool/accounts-load.txt
    "$py" "$here/bench-accounts.py" --domain "$domain" --first "$((have + 1))" --last "$accounts" \
        --ejabberd-file "$dump" || die "bench-accounts.py failed"
    chown ejabberd:ejabberd "$dump"
    ejabberdctl_run load "$dump" >"$ejabberd_dir/logs/load.out" 2>&1 ||
        die "ejabberdctl load failed: $(tail -n 3 "$ejabberd_dir/logs/load.out")"
    rm -f "$dump"
    echo "$accounts" >"$ejabberd_dir/accounts"
    say "ejabberd: accounts loaded in $((SECONDS - t0)) s"
}
ejabberd_start() {
    ejabberdctl_run foreground >>"$ejabberd_dir/logs/console.log" 2>&1 &
    srv_child=$! srv_name=ejabberd srv_pid=""
}

# ---- running servers --------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# start NAME: start the server and wait until its c2s port answers.
start() {
    local name=$1 port
    port=$(eval echo "\$${name}_port")
    port_open "$port" && die "port $port is already in use: is another benchmark running?"
    "${name}_start"
    local i=0
    while ! port_open "$port"; do
        i=$((i + 1))
        if [ "$i" -gt 600 ] || ! kill -0 "$srv_child" 2>/dev/null; then
            say "$name did not start; its logs are in $data/$name"
            stop_server
            return 1
        fi
        sleep 0.1
    done
    if [ "$name" = ejabberd ]; then
        srv_pid=$(descendants "$srv_child" | sed -n 's/:beam.smp$//p' | head -n 1)
        [ -n "$srv_pid" ] || { say "ejabberd: no beam.smp under pid $srv_child"; stop_server; return 1; }
        ejabberd_accounts
    fi
    say "$name started (pid $srv_pid, port $port)"
    # What TLS the server negotiates with an OpenSSL client like the generator (once per server).
    if ! grep -q "^$name:" "$results/tls.txt" 2>/dev/null; then
        echo "$name: $(timeout 10 openssl s_client -connect "127.0.0.1:$port" -starttls xmpp \
            -xmpphost "$domain" -brief </dev/null 2>&1 |
            sed -n 's/^Protocol version: //p; s/^Ciphersuite: //p; s/^Peer signature type: //p' |
            paste -sd ' ')" >>"$results/tls.txt"
    fi
    return 0
}

# bench NAME SCENARIO-ARGS...: one parley-bench run against the running server; its BENCH-JSON
# line goes to the raw results (to $results/fill.jsonl for the tag "fill", which is no figure of
# its own), its whole output to a log.
runno=0
bench() {
    local tag=$1 port
    shift
    port=$(eval echo "\$${srv_name}_port")
    runno=$((runno + 1))
    local out=$results/logs/$(printf '%03d' $runno)-$srv_name-$tag.out
    "$build/parley-bench" --host 127.0.0.1 --port "$port" --domain "$domain" --tls starttls \
        --sasl SCRAM-SHA-1 --label "$srv_name" --server-pid "$srv_pid" --quiet "$@" \
        >"$out" 2>&1 &
    gen_pid=$!
    wait "$gen_pid"
    local rc=$?
    gen_pid=""
    if ! grep -q '^BENCH-JSON ' "$out"; then
        say "$srv_name $tag: no figures (exit $rc); see $out"
        return 1
    fi
    local into=$raw
    [ "$tag" = fill ] && into=$results/fill.jsonl
    grep '^BENCH-JSON ' "$out" | cut -c12- | tee -a "$into" | "$py" "$here/bench-table.py" --summary |
        sed "s/^/bench-compare:   /" >&2
    return 0
}

# Every account of the run gets the same r mutual contacts in every server before anything is
# measured (logins then fetch the same rosters everywhere).  Made once per cache directory.
ensure_rosters() {
    local dir=$data/$srv_name
    [ "$(cat "$dir/rosters" 2>/dev/null)" = "$users $roster_size" ] && return 0
    say "$srv_name: making rosters of $roster_size for $users accounts (once, kept in $dir)"
    local t0=$SECONDS
    bench setup-rosters --setup-rosters --users "$users" --roster-size "$roster_size" \
        --duration 600 --interval 1 --procs "$gen_procs" || return 1
    local complete
    complete=$(tail -n 1 "$raw" | grep -o '"complete":[0-9]*' | cut -d: -f2)
    if [ "${complete:-0}" -ne "$users" ]; then
        say "$srv_name: only ${complete:-0} of $users rosters complete"
        return 1
    fi
    echo "$users $roster_size" >"$dir/rosters"
    say "$srv_name: rosters made in $((SECONDS - t0)) s"
}

hold_procs=$(((sessions + 17999) / 18000))
[ "$hold_procs" -lt "$gen_procs" ] && hold_procs=$gen_procs
hold_duration=$duration

run_server() {
    local name=$1 i
    say "=== $name ==="
    "${name}_setup"
    # Memory per idle session is read from a freshly started server each time: a server that
    # has already served other runs keeps freed memory in its heap, which would hide growth.
    if wants hold "$scenarios"; then
        for i in $(seq "$runs"); do
            start "$name" || return 1
            bench hold --scenario hold --users "$sessions" --duration "$hold_duration" \
                --procs "$hold_procs" --concurrency "$concurrency"
            stop_server
        done
    fi
    if wants login "$scenarios" || wants chat "$scenarios" || wants presence "$scenarios"; then
        run_live "$name" || return 1
    fi
    wants mam "$scenarios" && run_archive "$name"
    wants muc "$scenarios" && run_groups "$name"
    return 0
}

# Logins, chat and presence on one server start, with the rosters made once.
run_live() {
    local name=$1 i
    start "$name" || return 1
    ensure_rosters || say "$name: rosters incomplete; presence figures will show it"
    if wants login "$scenarios"; then
        for i in $(seq "$runs"); do
            bench login --scenario login --users "$users" --duration "$duration" \
                --concurrency "$concurrency" --procs "$gen_procs"
        done
    fi
    if wants chat "$scenarios"; then
        for i in $(seq "$runs"); do
            bench chat --scenario chat --users "$users" --neighbours "$neighbours" \
                --interval "$chat_interval" --duration "$duration" --procs "$gen_procs" \
                --concurrency "$concurrency"
        done
    fi
    if wants presence "$scenarios"; then
        for i in $(seq "$runs"); do
            bench presence --scenario presence --users "$users" --roster-size "$roster_size" \
                --interval "$presence_interval" --duration "$duration" --procs "$gen_procs" \
                --concurrency "$concurrency"
        done
    fi
    stop_server
}

# The archive: each server restarted with archiving on and an empty archive, the archives of
# --mam-users accounts filled by a chat run (each sends --mam-messages to 5 neighbours at
# mam_fill_rate messages/s in all; sender and receiver archive each message), then every account pages
# back through its whole archive, one query in flight per account, as fast as answers come.
clear_archive() {
    case $1 in
    parley) rm -f "$parley_dir/data/history.db" "$parley_dir/data/history.db-wal" \
        "$parley_dir/data/history.db-shm" ;;
    prosody) rm -f "$prosody_dir/data/archive.sqlite" ;;
    ejabberd)
        local schema=/usr/share/ejabberd/sql/lite.sql
        [ -f "$schema" ] || schema=$(ls /usr/lib/*/ejabberd-*/priv/sql/lite.sql 2>/dev/null | head -n 1)
        rm -f "$ejabberd_dir/spool/archive.db"
        sqlite3 "$ejabberd_dir/spool/archive.db" <"$schema" ||
            die "ejabberd: cannot load the SQLite schema $schema"
        chown ejabberd:ejabberd "$ejabberd_dir/spool/archive.db" ;;
    esac
}
run_archive() {
    local name=$1 i interval fill_s
    archive=1
    "${name}_setup"
    clear_archive "$name"
    start "$name" || { archive=0; return 1; }
    interval=$(awk -v u="$mam_users" -v r="$mam_fill_rate" 'BEGIN { printf "%.3f", u * 5 / r }')
    fill_s=$(awk -v m="$mam_messages" -v i="$interval" 'BEGIN { printf "%.1f", m / 5 * i }')
    say "$name: filling $mam_users archives ($((mam_users * mam_messages)) messages in ${fill_s} s)"
    bench fill --scenario chat --users "$mam_users" --neighbours 5 --interval "$interval" \
        --duration "$fill_s" --drain 30 --concurrency "$concurrency"
    for i in $(seq "$runs"); do
        bench mam --scenario mam --users "$mam_users" --page "$mam_page" --interval 0.001 \
            --duration "$duration" --concurrency "$concurrency"
    done
    stop_server
    archive=0
    "${name}_setup" # back to the configuration without an archive
}

# Group chat (XEP-0045) on the service groups.$domain: rooms made by joining them, then
# groupchat.  Three shapes, each on a freshly started server so that its memory before and after
# the rooms are entered is that of a server that has done nothing else (the generator reads it
# after the logins and after the joins, each time once the server has settled):
#   muc: R rooms of K members (default one room per account), each posting every muc_interval s;
#   muc --fast: the same rooms, each member posting again as soon as its last message is back;
#   muc (large): a few rooms of muc_big members, each posting every muc_big_interval s.
muc_run() {
    local name=$1 tag=$2 rooms=$3 occupants=$4 u
    shift 4
    u=$((rooms * occupants < users ? rooms * occupants : users))
    start "$name" || return 1
    bench "$tag" --scenario muc --users "$u" --rooms "$rooms" --occupants "$occupants" \
        --duration "$duration" --procs "$gen_procs" --concurrency "$concurrency" \
        --timeout 120 --drain 10 "$@"
    stop_server
}
run_groups() {
    local name=$1 i
    groups=1
    "${name}_setup"
    for i in $(seq "$runs"); do
        muc_run "$name" muc "$muc_rooms" "$muc_occupants" --interval "$muc_interval"
        muc_run "$name" muc-fast "$muc_rooms" "$muc_occupants" --fast
        muc_run "$name" muc-large "$muc_big_rooms" "$muc_big" --interval "$muc_big_interval"
    done
    groups=0
    "${name}_setup" # back to the configuration without the group service
}

# ---- the machine, then every server in turn ---------------------------------------------------
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cores: $(nproc)"
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "ram: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "open files: $(ulimit -n)"
    echo "parley: $(git -C "$root" describe --always --dirty 2>/dev/null), loops = $loops"
    echo "prosody: $(dpkg-query -W -f '${Version}' prosody 2>/dev/null)"
    echo "ejabberd: $(dpkg-query -W -f '${Version}' ejabberd 2>/dev/null)"
    echo "openssl: $(openssl version)"
    echo "options: users=$users sessions=$sessions duration=$duration runs=$runs" \
        "roster_size=$roster_size neighbours=$neighbours chat_interval=$chat_interval" \
        "presence_interval=$presence_interval concurrency=$concurrency procs=$gen_procs" \
        "scenarios=$scenarios mam_users=$mam_users mam_messages=$mam_messages mam_page=$mam_page" \
        "muc=${muc_rooms}x$muc_occupants/${muc_interval}s,fast,${muc_big_rooms}x$muc_big/${muc_big_interval}s"
} >"$results/machine.txt"
sed 's/^/bench-compare: /' "$results/machine.txt" >&2
say "results in $results"

t_all=$SECONDS
for name in parley prosody ejabberd; do
    wants "$name" "$only" || continue
    t0=$SECONDS
    run_server "$name" || say "$name: stopped early"
    stop_server
    say "$name done in $((SECONDS - t0)) s"
done

[ -s "$raw" ] || die "no figures were collected"
sed 's/^/bench-compare: TLS of /' "$results/tls.txt" >&2
"$py" "$here/bench-table.py" "$raw" | tee "$results/table.txt"
"$py" "$here/bench-table.py" --markdown "$raw" >"$results/table.md"
say "all done in $((SECONDS - t_all)) s; raw lines: $raw; table: $results/table.txt"
