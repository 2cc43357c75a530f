#!/usr/bin/env bash
# `liandong-node sync --once`: connect, exchange everything, exit -- 0 only
# when the hub holds everything, 1 with a one-line reason otherwise, always
# within its --timeout.
#  - hub down, township not allowed, key allowed as another unit, wrong
#    upstream_key, no upstream configured, a daemon already running: exit 1,
#    the reason says which, and it comes at once (the refusals) or at the
#    timeout (nobody answering);
#  - 5,000 events recorded offline: exit 0, and at that moment the hub's
#    digest already holds the township's whole log;
#  - an event recorded at the hub: exit 0, and the township holds it;
#  - the hub frozen (SIGSTOP) in the middle of a transfer: exit 1 at the
#    timeout; after SIGCONT a second run completes;
#  - the hub killed during the handshake and restarted at once: not a
#    refusal; the run completes within its timeout.
. "$(dirname "$0")/lib.sh"

PY=$(free_base); PS=$(free_base); PDOWN=$(free_base)
[ "$PY" != "$PS" ] && [ "$PY" != "$PDOWN" ] && [ "$PS" != "$PDOWN" ] || fail "port clash"
YAN="$T/yanshou"; SHZ="$T/shangzhi"; J="$T/jiaxin"; L="$T/liutuan"
KY=$(mk_hub "$YAN" hrb/yanshou 延寿县 county "$PY")
KS=$(mk_hub "$SHZ" hrb/shangzhi 尚志市 county "$PS")
KJ=$(mk_node "$J" hrb/yanshou/jiaxin 加信镇 "$PY" "$KY")
KL=$(mk_node "$L" hrb/yanshou/liutuan 六团镇 "$PY" "$KY")
PROG="liandong-node: sync: "
LOGLINE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z (ERROR|WARN|INFO|DEBUG) '

# once DIR TIMEOUT: runs `sync --once --timeout TIMEOUT` on DIR, bounded by
# TIMEOUT + 10 s; sets RC, MS (elapsed), OUT and ERR (the stderr lines that
# are not log lines: the CLI's own output).
once() {
    local s=$(date +%s%N)
    set +e
    timeout $(($2 + 10)) "$NODE" sync --once --timeout "$2" --dir "$1" >"$T/out" 2>"$T/err"
    RC=$?
    set -e
    MS=$((($(date +%s%N) - s) / 1000000))
    OUT=$(cat "$T/out")
    ERR=$(grep -Ev "$LOGLINE" "$T/err" || true)
}

# refused DESC PATTERN MIN_MS MAX_MS: the last run exited 1 with exactly one
# line "liandong-node: sync: REASON", REASON matching PATTERN, after
# MIN_MS..MAX_MS, and printed nothing on stdout.
refused() {
    [ "$RC" = 1 ] || fail "$1: exit $RC, want 1 (stderr: $(cat "$T/err"))"
    [ -z "$OUT" ] || fail "$1: stdout: $OUT"
    [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] && [ "${ERR#"$PROG"}" != "$ERR" ] \
        || fail "$1: want one line '$PROG...', got: $(cat "$T/err")"
    printf '%s\n' "${ERR#"$PROG"}" | grep -Eq "$2" || fail "$1: reason '$ERR' does not match /$2/"
    [ "$MS" -ge "$3" ] && [ "$MS" -le "$4" ] || fail "$1: took $MS ms, want $3..$4"
    pass "$1: exit 1 in $MS ms: ${ERR#"$PROG"}"
}

# in_sync DESC UP DOWN: the last run exited 0, said so on stdout with UP
# events acknowledged and DOWN received, and nothing on stderr.
in_sync() {
    [ "$RC" = 0 ] || fail "$1: exit $RC, want 0 (stderr: $(cat "$T/err"))"
    [ ! -s "$T/err" ] || fail "$1: stderr: $(cat "$T/err")"
    echo "$OUT" | grep -Eq "^in sync\b.*\b$2 events acknowledged\b.*\b$3 received$" \
        || fail "$1: stdout '$OUT', want $2 acknowledged, $3 received"
    pass "$1: exit 0 in $MS ms: $OUT"
}

# ---- failures ----

# Nobody listens on the hub's port: the reason comes at the timeout.
"$NODE" config --dir "$J" set upstream "tcp://127.0.0.1:$PDOWN" >/dev/null
once "$J" 3
refused "hub down" '^timed out\b.*\b(unreachable|did not answer)\b' 2900 5000
"$NODE" config --dir "$J" set upstream "tcp://127.0.0.1:$PY" >/dev/null

daemon_up() { "$NODE" status --dir "$1" --json | jq -e .daemon >/dev/null; }
start_daemon "$HUB" "$YAN"
start_daemon "$HUB" "$SHZ"
wait_until 10 daemon_up "$YAN" && wait_until 10 daemon_up "$SHZ" || fail "hubs did not come up"

# The hub runs but does not know jiaxin's key: refused at the handshake.
once "$J" 10
refused "key not allowed" "does not allow this unit's key" 0 3000

# jiaxin's key allowed as liutuan: the HELLO says jiaxin, the hub refuses it.
"$HUB" allow --dir "$YAN" hrb/yanshou/liutuan "$KJ"
sleep 1.2   # the hub rereads its allow table on a nudge, or within 1 s at the latest
once "$J" 10
refused "key allowed as another unit" "allowed as another unit" 0 3000
"$HUB" allow --dir "$YAN" hrb/yanshou/liutuan "$KL"
"$HUB" allow --dir "$YAN" hrb/yanshou/jiaxin "$KJ"

# upstream_key is another hub's key: the CURVE handshake fails.
"$NODE" config --dir "$J" set upstream_key "$KS" >/dev/null
once "$J" 10
refused "wrong upstream_key" "upstream_key" 0 3000
"$NODE" config --dir "$J" set upstream_key "$KY" >/dev/null

# No upstream at all.
"$NODE" config --dir "$L" set upstream "" >/dev/null
once "$L" 10
[ "$RC" = 1 ] && printf '%s\n' "$ERR" | grep -Eq '^liandong-node: .*no upstream hub configured' \
    && [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] && [ "$MS" -le 3000 ] \
    || fail "no upstream: exit $RC, stderr: $(cat "$T/err")"
pass "no upstream: exit 1 in $MS ms: $ERR"
"$NODE" config --dir "$L" set upstream "tcp://127.0.0.1:$PY" >/dev/null

# A daemon already runs on the directory.
start_daemon "$NODE" "$L"
wait_until 10 daemon_up "$L" || fail "the daemon on liutuan did not come up"
once "$L" 10
[ "$RC" = 1 ] && printf '%s\n' "$ERR" | grep -Eq '^liandong-node: .*already running' \
    && [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] && [ "$MS" -le 3000 ] \
    || fail "daemon running: exit $RC, stderr: $(cat "$T/err")"
pass "daemon already running: exit 1 in $MS ms: $ERR"
stop_daemon "$L"

# ---- up: everything recorded offline ----

gen_events 5000 | "$NODE" import --dir "$J" - >/dev/null
own=$(head_of "$J" hrb/yanshou/jiaxin)
[ "$own" = 5001 ] || fail "jiaxin head $own after import"
[ "$(head_of "$YAN" hrb/yanshou/jiaxin)" = 0 ] || fail "the hub holds jiaxin before any sync"
once "$J" 60
in_sync "5,000 offline events up" 5001 1
# At the moment sync --once said 0, the hub held everything (committed).
[ "$(head_of "$YAN" hrb/yanshou/jiaxin)" = "$own" ] \
    || fail "exit 0 but the hub holds jiaxin#$(head_of "$YAN" hrb/yanshou/jiaxin) of $own"
agree "$YAN" "$J" || fail "digests disagree after sync --once"
"$NODE" export --dir "$YAN" --origin hrb/yanshou/jiaxin >"$T/hub.jsonl"
"$NODE" export --dir "$J" --origin hrb/yanshou/jiaxin >"$T/own.jsonl"
cmp -s "$T/hub.jsonl" "$T/own.jsonl" || fail "the hub's copy of jiaxin's log differs"
"$NODE" status --dir "$YAN" --json | jq -e '.held == 0 and .equivocations == 0' >/dev/null \
    || fail "hub status: $("$NODE" status --dir "$YAN" --json)"
pass "the hub's digest and export equal jiaxin's log (#$own) right after exit 0"

# Nothing left: a second run is quick and moves nothing.
once "$J" 10
in_sync "already in sync" 0 0

# ---- down: an event recorded at the hub ----

id=$("$HUB" record --dir "$YAN" joint.opened --field title=春耕备耕联动视察 --field type=research \
     --field scope=hrb/yanshou --field from=2026-03-01 --field due=2026-04-30)
seq=${id#hrb/yanshou#}
[ "$(head_of "$J" hrb/yanshou)" -lt "$seq" ] || fail "jiaxin holds $id before syncing"
once "$J" 30
in_sync "hub event down" 0 1
has_head "$J" hrb/yanshou "$seq" || fail "exit 0 but jiaxin lacks $id"
agree "$YAN" "$J" || fail "digests disagree after the downward sync"
"$NODE" export --dir "$J" --origin hrb/yanshou | jq -e -s --argjson s "$seq" \
    'map(select(.origin == "hrb/yanshou" and .seq == $s)) | length == 1 and
     .[0].kind == "joint.opened"' >/dev/null || fail "jiaxin's copy of $id"
pass "jiaxin holds $id"

# ---- the hub freezes in the middle of a transfer ----

gen_events 20000 | "$NODE" import --dir "$J" - >/dev/null
own=$(head_of "$J" hrb/yanshou/jiaxin)
pid=${LD_DAEMON[$YAN]}
( sleep 0.15; kill -STOP "$pid" ) &
stopper=$!
once "$J" 3
wait "$stopper"
# Resume first: a CLI command opens the store with a write transaction, so
# it would wait for a hub frozen inside one.
kill -CONT "$pid"
got=$(head_of "$YAN" hrb/yanshou/jiaxin)
if [ "$RC" = 0 ]; then
    # The machine was fast enough to finish before the freeze: that is fine,
    # provided the hub held everything.
    [ "$got" = "$own" ] || fail "exit 0 but the hub holds jiaxin#$got of $own"
    pass "hub frozen: the transfer had finished first (hub holds #$got)"
else
    refused "hub frozen mid-transfer (hub held #$got of $own)" \
        '^(timed out|the hub went silent)\b' 2900 5000
fi
once "$J" 60
in_sync "after SIGCONT" "[0-9]+" 0
[ "$(head_of "$YAN" hrb/yanshou/jiaxin)" = "$own" ] || fail "the hub lacks jiaxin's log after SIGCONT"
agree "$YAN" "$J" || fail "digests disagree after SIGCONT"
"$NODE" status --dir "$YAN" --json | jq -e '.held == 0 and .equivocations == 0' >/dev/null \
    || fail "hub status: $("$NODE" status --dir "$YAN" --json)"
pass "after SIGCONT the hub holds jiaxin's whole log (#$own)"

# ---- the hub dies during the handshake and comes straight back ----
# Frozen, the hub's kernel still accepts the TCP connection, so the CURVE
# handshake is under way when kill -9 resets it. That is a hub restarting,
# not a refusal: sync --once must keep trying and succeed within --timeout.
pid=${LD_DAEMON[$YAN]}
kill -STOP "$pid"
s=$(date +%s%N)
( set +e
  timeout 20 "$NODE" sync --once --timeout 10 --dir "$J" >"$T/out" 2>"$T/err"
  echo $? >"$T/rc" ) &
bg=$!
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
unset "LD_DAEMON[$YAN]"
sleep 0.5
start_daemon "$HUB" "$YAN"
wait "$bg"
RC=$(cat "$T/rc")
MS=$((($(date +%s%N) - s) / 1000000))
OUT=$(cat "$T/out")
in_sync "hub restarted during the handshake" 0 0

for d in "${!LD_DAEMON[@]}"; do
    pid=${LD_DAEMON[$d]}
    kill -TERM "$pid"
    wait "$pid" || fail "hub on ${d#$T/} exited $? on SIGTERM"
    unset "LD_DAEMON[$d]"
done
