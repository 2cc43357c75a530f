# tests/integration/lib.sh -- shared by the integration tests (sourced).
#
# Each test gets a fresh temporary directory, removed on exit, and kills only
# the processes it started (by PID, recorded with ld_track). LD_BIN is the
# build directory (set by ctest).
set -euo pipefail

: "${LD_BIN:?LD_BIN must point at the build directory}"
NODE="$LD_BIN/liandong-node"
HUB="$LD_BIN/liandong-hub"
T=$(mktemp -d "${TMPDIR:-/tmp}/liandong-it-XXXXXX")
LD_PIDS=()

ld_track() { LD_PIDS+=("$1"); }

ld_cleanup() {
    local pid
    for pid in "${LD_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ -n "${LD_KEEP_TMP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap ld_cleanup EXIT

# fail MSG: the message, then the end of every daemon log of the test (what a
# CI failure needs to be understood without a rerun).
fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$T"/*.log; do
        [ -s "$f" ] || continue
        echo "--- last lines of ${f#$T/}:" >&2
        tail -n 12 "$f" >&2
    done
    exit 1
}
pass() { echo "ok - $*"; }

# expect_fail DESC CMD...: the command must exit non-zero.
expect_fail() {
    local desc=$1; shift
    if "$@" >"$T/out" 2>"$T/err"; then
        fail "$desc: expected failure, got success: $(cat "$T/out")"
    fi
}

# Checks a JSON Lines export on stdin: per origin, seq runs 1..N without gaps
# and each prev equals the hash of the event before it.
check_chain() {
    jq -s -e '
      group_by(.origin) | all(
        . as $log | ($log | length) as $n |
        ([range(0; $n)] | all(. as $i | $log[$i].seq == $i + 1)) and
        ($log[0].prev == ("0" * 64)) and
        ([range(1; $n)] | all(. as $i | $log[$i].prev == $log[$i - 1].hash)))' >/dev/null
}

# ---- multi-process helpers ----

HB=${LD_HEARTBEAT_MS:-100}   # heartbeat for test daemons: fast failure detection

# free_base: prints a port P such that P, P+1 and P+2 are free on 127.0.0.1.
# Ports come from below the kernel's ephemeral range, which outgoing
# connections draw from and could take between this check and the bind.
free_base() {
    local p i used lo
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$lo" -gt 12000 ] || lo=32768
    for _ in $(seq 1 200); do
        p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10003) ))
        used=0
        for i in 0 1 2; do
            if (exec 3<>"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null; then used=1; fi
        done
        [ $used = 0 ] && { echo "$p"; return 0; }
    done
    fail "no free ports"
}

# wait_until SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_until() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}

declare -A LD_DAEMON   # data dir -> pid

# start_daemon BIN DIR: runs `BIN run` on DIR in the background, logging to DIR.log.
start_daemon() {
    "$1" run --dir "$2" --heartbeat "$HB" 2>>"$2.log" &
    LD_DAEMON[$2]=$!
    ld_track $!
}

# stop_daemon DIR [SIGNAL]: stops the daemon started on DIR (default SIGTERM) and waits.
stop_daemon() {
    local pid=${LD_DAEMON[$1]:-}
    [ -n "$pid" ] || return 0
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "LD_DAEMON[$1]"
}

# mk_hub DIR ID NAME TYPE PORT [UPSTREAM_PORT UPSTREAM_KEY]: prints the public key.
mk_hub() {
    local up=()
    [ $# -ge 7 ] && up=(--upstream "tcp://127.0.0.1:$6" --upstream-key "$7")
    "$HUB" init --dir "$1" --id "$2" --name "$3" --type "$4" \
        --listen "tcp://127.0.0.1:$5" "${up[@]}" --json | jq -r .public_key
}

# mk_node DIR ID NAME PORT KEY: prints the public key.
mk_node() {
    "$NODE" init --dir "$1" --id "$2" --name "$3" --type township \
        --upstream "tcp://127.0.0.1:$4" --upstream-key "$5" --json | jq -r .public_key
}

# head_of DIR ORIGIN: the seq DIR holds of ORIGIN (0 if none).
head_of() {
    "$NODE" digest --dir "$1" --json | jq -r --arg o "$2" '.[$o].seq // 0'
}

# has_head DIR ORIGIN SEQ: DIR holds ORIGIN up to at least SEQ.
has_head() { [ "$(head_of "$1" "$2")" -ge "$3" ]; }

# agree DIR_A DIR_B: same seq and head hash for every origin both hold.
agree() {
    "$NODE" digest --dir "$1" --json >"$T/da.json"
    "$NODE" digest --dir "$2" --json >"$T/db.json"
    jq -n -e --slurpfile a "$T/da.json" --slurpfile b "$T/db.json" \
        '$a[0] as $a | $b[0] as $b |
         [$a | keys[] | select($b[.] != null) | $a[.] == $b[.]] | all' >/dev/null
}

# gen_events N [PREFIX]: N realistic JSON Lines events for import.
gen_events() {
    local n=$1 i
    for ((i = 1; i <= n; i++)); do
        case $((i % 4)) in
        0) printf '{"kind":"deputy.contact","date":"2026-03-%02d","body":{"deputy":"d%d","channel":"reception_day","constituents":%d,"topic":"春耕备耕与农资供应第%d次"}}\n' $((i % 28 + 1)) $((i % 30)) $((i % 50)) "$i" ;;
        1) printf '{"kind":"deputy.duty_report","date":"2026-04-%02d","body":{"deputy":"d%d","audience":%d}}\n' $((i % 28 + 1)) $((i % 30)) $((i % 80)) ;;
        2) printf '{"kind":"supervision.visit","date":"2026-05-%02d","body":{"topic":"农村饮水安全工程视察%d","participants":%d}}\n' $((i % 28 + 1)) "$i" $((i % 20 + 1)) ;;
        3) printf '{"kind":"deputy.training","date":"2026-06-%02d","body":{"deputy":"d%d","topic":"代表履职能力培训","hours":8}}\n' $((i % 28 + 1)) $((i % 30)) ;;
        esac
    done
}
