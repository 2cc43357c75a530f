#!/usr/bin/env bash
# Read-only commands answer while another process holds the store's writer
# lock (a daemon frozen mid-commit): status, digest, export, deputies,
# stats, joint list/show, config show at a township, and the same plus
# children at a hub, each within a few seconds and with exactly what was
# committed (not the lock holder's uncommitted event). A writing command
# waits for the lock meanwhile, and works again once it is released. Last,
# the same with a real daemon frozen by SIGSTOP.
. "$(dirname "$0")/lib.sh"

WRLOCK="$LD_BIN/liandong-wrlock"
P=$(free_base)
H="$T/daoli"; N="$T/xinnong"
KH=$(mk_hub "$H" hrb/daoli 道里区 district "$P")
KN=$(mk_node "$N" hrb/daoli/xinnong 新农镇 "$P" "$KH")
"$HUB" allow --dir "$H" hrb/daoli/xinnong "$KN"
"$NODE" record --dir "$N" deputy.registered --deputy d001 --field name=王颖 \
    --field level=township --field category=farmer --field term=2021-2026 \
    --date 2025-01-10 >/dev/null
gen_events 12 | "$NODE" import --dir "$N" - >/dev/null
J=$("$HUB" joint open --dir "$H" --title 校舍安全视察 --kind visit --from 2026-03-05 \
    --due 2026-04-15 --date 2026-03-05)
"$HUB" record --dir "$H" deputy.registered --deputy h001 --field name=李明 \
    --field level=district --field category=worker --field term=2021-2026 \
    --date 2025-02-01 >/dev/null

# snapshot BIN DIR OUTDIR: every read-only command's output, each bounded.
snapshot() {
    local bin=$1 dir=$2 out=$3 hub=${4:-}
    mkdir -p "$out"
    q() {
        local name=$1 rc=0; shift
        timeout 10 "$bin" "$@" --dir "$dir" >"$out/$name" 2>"$out/$name.err" || rc=$?
        [ $rc = 0 ] || fail "$(basename "$bin") $* (exit $rc; 124: timed out) on $dir: $(cat "$out/$name.err")"
    }
    q status status --json
    q digest digest --json
    q export export
    q deputies deputies --json
    q stats stats --period 2025 --now 2026-01-01T00:00:00Z --json
    q joint joint list --json --today 2026-03-10
    q config config show
    if [ -n "$hub" ]; then
        q children children --json
        q show joint show "$J" --json --today 2026-03-10
    fi
    # What changes between two runs of status: nothing that the store holds.
    jq -c '{origin, head_seq, events, origins, held, equivocations, pending_upstream}' \
        "$out/status" >"$out/status.key"
}

snapshot "$NODE" "$N" "$T/before.node"
snapshot "$HUB" "$H" "$T/before.hub" hub
[ "$(wc -l <"$T/before.node/export")" = 14 ] || fail "township export before the lock"
jq -e '.[0].deputy == "d001"' "$T/before.node/deputies" >/dev/null || fail "deputies"
jq -e --arg j "$J" 'length == 1 and .[0].id == $j' "$T/before.hub/joint" >/dev/null ||
    fail "hub joint list: $(cat "$T/before.hub/joint")"
pass "units made; read-only commands answer without a lock held"

# hold DIR: liandong-wrlock holds DIR's writer lock until killed.
WPID=
hold() {
    rm -f "$T/wrlock.out"
    "$WRLOCK" --dir "$1" --seconds 120 >"$T/wrlock.out" 2>"$T/wrlock.err" &
    WPID=$!
    ld_track "$WPID"
    wait_until 10 grep -q locked "$T/wrlock.out" ||
        fail "liandong-wrlock did not take the lock: $(cat "$T/wrlock.err")"
}
release() {
    kill "$WPID" 2>/dev/null || true
    wait "$WPID" 2>/dev/null || true
}

# same BEFORE AFTER: every output but the raw status agrees.
same() {
    local f
    for f in "$1"/*; do
        case $f in *.err | */status) continue ;; esac
        cmp -s "$f" "$2/$(basename "$f")" ||
            fail "$(basename "$f") differs under the lock: $(diff "$f" "$2/$(basename "$f")" | head -5)"
    done
}

for side in node hub; do
    if [ $side = node ]; then BIN=$NODE; DIR=$N; else BIN=$HUB; DIR=$H; fi
    hold "$DIR"
    # The lock is really held: a write waits for it.
    rc=0
    timeout 2 "$BIN" record --dir "$DIR" deputy.training --deputy d002 \
        --field topic=预算审查 --field hours=4 >/dev/null 2>&1 || rc=$?
    [ $rc = 124 ] || fail "record did not wait for the writer lock ($side, rc $rc)"
    start=$SECONDS
    if [ $side = node ]; then snapshot "$BIN" "$DIR" "$T/locked.$side"
    else snapshot "$BIN" "$DIR" "$T/locked.$side" hub; fi
    [ $((SECONDS - start)) -le 20 ] || fail "read-only commands took $((SECONDS - start)) s"
    same "$T/before.$side" "$T/locked.$side"
    ! grep -q uncommitted "$T/locked.$side/export" || fail "export shows an uncommitted event"
    release
    pass "$side: read-only commands answered while the writer lock was held"
done

# After the release, writes go through and the read-only view follows.
"$NODE" record --dir "$N" deputy.training --deputy d001 --field topic=预算审查 \
    --field hours=4 --date 2026-03-01 >/dev/null
timeout 10 "$NODE" status --dir "$N" --json | jq -e '.head_seq == 15 and .events == 15' \
    >/dev/null || fail "status after the release"
timeout 10 "$NODE" export --dir "$N" | check_chain || fail "chain after the release"
! timeout 10 "$NODE" export --dir "$N" | grep -q uncommitted ||
    fail "the aborted event was stored"
pass "writes resume after the lock is released; the held event was never stored"

# A real daemon frozen (SIGSTOP) while the writer lock is held: status waits
# at most its 2 s for the daemon's answer, then answers from the store.
daemon_up() { "$NODE" status --dir "$N" --json | jq -e .daemon >/dev/null; }
start_daemon "$NODE" "$N"
wait_until 10 daemon_up || fail "the daemon did not start: $(tail -3 "$N.log")"
DPID=${LD_DAEMON[$N]}
kill -STOP "$DPID"
hold "$N"
timeout 10 "$NODE" status --dir "$N" --json >"$T/frozen.json" || fail "status with a frozen daemon"
jq -e '.head_seq == 15 and .daemon == false' "$T/frozen.json" >/dev/null ||
    fail "status with a frozen daemon: $(cat "$T/frozen.json")"
timeout 10 "$NODE" digest --dir "$N" --json | jq -e '."hrb/daoli/xinnong".seq == 15' >/dev/null ||
    fail "digest with a frozen daemon"
release
kill -CONT "$DPID"
stop_daemon "$N"
pass "status and digest answer while the daemon is frozen and the lock is held"
