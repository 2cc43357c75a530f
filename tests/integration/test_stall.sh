#!/usr/bin/env bash
# A daemon that was busy is not a peer that went silent.
#
# A hub or township daemon whose loop is blocked -- here behind LMDB's
# writer lock, held by another process for 2 s (liandong-wrlock), as a
# long commit of its own would block it -- leaves its peer's heartbeats unread in the
# sockets. When it wakes, its timer runs before those messages are read; the
# time it was stalled must not count as the peer's silence:
#  - the hub, blocked while committing a township's event: it must not end
#    the township's session as "silent";
#  - the township, blocked while committing an event from the hub: it must
#    not tear the link down as "the hub went silent".
# The other side may time out meanwhile: it really heard nothing and ends
# the session; it then answers the stalled side's next message with ERROR 6
# (session ended), and that side says HELLO again at once. What must not
# happen is a verdict at its first tick after waking, on time it was not
# listening.
# Both events still arrive.
. "$(dirname "$0")/lib.sh"

P=$(free_base)
HUBD="$T/yanshou"; TOWN="$T/jiaxin"
KY=$(mk_hub "$HUBD" hrb/yanshou 延寿县 county "$P")
KJ=$(mk_node "$TOWN" hrb/yanshou/jiaxin 加信镇 "$P" "$KY")
"$HUB" allow --dir "$HUBD" hrb/yanshou/jiaxin "$KJ"

start_daemon "$HUB" "$HUBD"
start_daemon "$NODE" "$TOWN"
wait_until 30 has_head "$HUBD" hrb/yanshou/jiaxin 1 || fail "the township never synced"
pass "hub and township connected"

# stall DIR RECORD_CMD...: holds DIR's writer lock for 2 s (4 times the
# 500 ms a peer may stay silent at heartbeat 100 ms) and meanwhile runs
# RECORD_CMD (at the other unit), so that DIR's daemon has something to
# commit and blocks. Prints how long the lock was held and when it was
# released, in ms (the clock of the log lines).
stall() {
    local dir=$1 s pid
    shift
    s=$(date +%s%N)
    coproc LOCK { "$LD_BIN/liandong-wrlock" --dir "$dir" --seconds 2; }
    pid=$LOCK_PID
    ld_track "$pid"
    read -r -t 10 line <&"${LOCK[0]}" && [ "$line" = locked ] || fail "writelock on $dir"
    "$@" >/dev/null
    wait "$pid" || fail "writelock on $dir"
    echo $((($(date +%s%N) - s) / 1000000)) "$(date +%s%3N)"
}

# silent_soon LOG FROM RELEASED PATTERN: a line of LOG after line FROM
# matches PATTERN and is stamped less than 250 ms after RELEASED: a verdict
# at the first tick after waking.
silent_soon() {
    local stamp rest t
    tail -n +$(($2 + 1)) "$1" | grep -- "$4" | while read -r stamp rest; do
        t=$(date -d "$stamp" +%s%3N)
        [ $((t - $3)) -lt 250 ] && { echo "$stamp $rest"; return 0; }
    done | grep -q .
}

# --- the hub stalls while committing the township's event
from=$(wc -l <"$HUBD.log")
stall "$HUBD" "$NODE" record --dir "$TOWN" deputy.contact --deputy d1 \
           --field channel=home_station --field topic=停顿测试 >"$T/ms"
read -r ms released <"$T/ms"
wait_until 30 has_head "$HUBD" hrb/yanshou/jiaxin 2 || fail "the township's event never arrived"
sleep 0.5
if silent_soon "$HUBD.log" "$from" "$released" "child hrb/yanshou/jiaxin: session ended: silent"; then
    fail "the hub, stalled $ms ms, ended the township's session as silent:"$'\n'"$(tail -20 "$HUBD.log")"
fi
pass "the hub stalled $ms ms behind the writer lock and did not call the township silent"

# --- the township stalls while committing an event from the hub
# (Its link may have been torn down above, the hub being silent then.)
from=$(wc -l <"$TOWN.log")
stall "$TOWN" "$HUB" record --dir "$HUBD" supervision.inquiry --field topic=停顿测试 >"$T/ms"
read -r ms released <"$T/ms"
wait_until 30 has_head "$TOWN" hrb/yanshou 2 || fail "the hub's event never arrived"
sleep 0.5
if silent_soon "$TOWN.log" "$from" "$released" "the hub went silent"; then
    fail "the township, stalled $ms ms, called the hub silent:"$'\n'"$(tail -20 "$TOWN.log")"
fi
pass "the township stalled $ms ms behind the writer lock and did not call the hub silent"
# Meanwhile the hub, hearing nothing, ended the session; the township's first
# message after waking gets ERROR 6 and it says HELLO again at once, instead
# of waiting a dead time to notice that the hub stopped talking to it.
tail -n +$((from + 1)) "$TOWN.log" | grep -q "ended: the hub ended the session" \
    || fail "the township was not told its session had ended:"$'\n'"$(tail -20 "$TOWN.log")"
! tail -n +$((from + 1)) "$TOWN.log" | grep -q "the hub went silent" \
    || fail "the township waited for silence:"$'\n'"$(tail -20 "$TOWN.log")"
pass "the hub's ended session was reported to the township at once (ERROR 6)"
