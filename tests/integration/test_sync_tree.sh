#!/usr/bin/env bash
# Three levels on loopback -- the city, two counties, two townships each --
# with real processes, CurveZMQ keys and free ports:
#  - townships record while every hub is down; the hubs start; everything
#    converges: the city's export is exactly the union of every unit's own
#    log, and digests agree at every level for the origins they share;
#  - an event recorded at the city reaches every township, including one
#    whose daemon was down at the time and comes back later.
. "$(dirname "$0")/lib.sh"

PC=$(free_base); PY=$(free_base); PS=$(free_base)
[ "$PC" != "$PY" ] && [ "$PY" != "$PS" ] && [ "$PC" != "$PS" ] || fail "port clash"

CITY="$T/hrb"; YAN="$T/yanshou"; SHZ="$T/shangzhi"
KC=$(mk_hub "$CITY" hrb 哈尔滨市 city "$PC")
KY=$(mk_hub "$YAN" hrb/yanshou 延寿县 county "$PY" "$PC" "$KC")
KS=$(mk_hub "$SHZ" hrb/shangzhi 尚志市 county "$PS" "$PC" "$KC")
"$HUB" allow --dir "$CITY" hrb/yanshou "$KY"
"$HUB" allow --dir "$CITY" hrb/shangzhi "$KS"

declare -A PARENT_PORT=([jiaxin]=$PY [liutuan]=$PY [maoershan]=$PS [yimianpo]=$PS)
declare -A PARENT_DIR=([jiaxin]=$YAN [liutuan]=$YAN [maoershan]=$SHZ [yimianpo]=$SHZ)
declare -A PARENT_KEY=([jiaxin]=$KY [liutuan]=$KY [maoershan]=$KS [yimianpo]=$KS)
declare -A ID=([jiaxin]=hrb/yanshou/jiaxin [liutuan]=hrb/yanshou/liutuan
               [maoershan]=hrb/shangzhi/maoershan [yimianpo]=hrb/shangzhi/yimianpo)
TOWNS=(jiaxin liutuan maoershan yimianpo)
N=300
for t in "${TOWNS[@]}"; do
    k=$(mk_node "$T/$t" "${ID[$t]}" "$t" "${PARENT_PORT[$t]}" "${PARENT_KEY[$t]}")
    "$HUB" allow --dir "${PARENT_DIR[$t]}" "${ID[$t]}" "$k"
    gen_events $N | "$NODE" import --dir "$T/$t" - >/dev/null   # offline: no hub is up
done
"$HUB" record --dir "$YAN" supervision.law_check --field law=义务教育法 >/dev/null
"$HUB" record --dir "$CITY" supervision.inquiry --field topic=中心城区学位供给 >/dev/null
pass "set up 7 units; townships recorded $N events each offline"

# --- hubs start, townships connect: everything converges at the city
start_daemon "$HUB" "$CITY"
start_daemon "$HUB" "$YAN"
start_daemon "$HUB" "$SHZ"
for t in "${TOWNS[@]}"; do start_daemon "$NODE" "$T/$t"; done
for t in "${TOWNS[@]}"; do
    wait_until 60 has_head "$CITY" "${ID[$t]}" $((N + 1)) || fail "city lacks ${ID[$t]}"
done
wait_until 30 has_head "$CITY" hrb/yanshou 2 || fail "city lacks hrb/yanshou"
wait_until 30 has_head "$CITY" hrb/shangzhi 1 || fail "city lacks hrb/shangzhi"
pass "converged at the city"

# The city holds exactly the union of every unit's own log.
for d in "$CITY" "$YAN" "$SHZ" "${TOWNS[@]/#/$T/}"; do
    o=$("$NODE" status --dir "$d" --json | jq -r .origin)
    "$NODE" export --dir "$d" --origin "$o" | jq -c 'select(.origin == "'"$o"'")'
done | sort >"$T/union.jsonl"
"$NODE" export --dir "$CITY" | jq -c . | sort >"$T/city.jsonl"
cmp -s "$T/union.jsonl" "$T/city.jsonl" || fail "city export differs from the union of the logs"
[ "$(wc -l <"$T/city.jsonl")" = $((4 * (N + 1) + 3 + 2)) ] || fail "city event count"
pass "city export == union of all logs ($(wc -l <"$T/city.jsonl") events)"

# Digests agree wherever two stores share an origin.
for pair in "$CITY $YAN" "$CITY $SHZ" "$YAN $T/jiaxin" "$SHZ $T/yimianpo" "$CITY $T/maoershan"; do
    agree $pair || fail "digests disagree: $pair"
done
pass "digests agree at every level"

# --- a city event reaches every township, even one that was down at the time
stop_daemon "$T/liutuan"
before=$(head_of "$CITY" hrb)
"$HUB" record --dir "$CITY" joint.opened --field title=中心城区教育扩容专题调研 \
    --field type=research --field scope=hrb --field from=2026-03-01 --field due=2026-04-30 >/dev/null
for t in jiaxin maoershan yimianpo; do
    wait_until 30 has_head "$T/$t" hrb $((before + 1)) || fail "$t did not receive the city event"
done
[ "$(head_of "$T/liutuan" hrb)" -le "$before" ] || fail "offline township received while down"
start_daemon "$NODE" "$T/liutuan"
wait_until 30 has_head "$T/liutuan" hrb $((before + 1)) || fail "liutuan missed the city event"
has_head "$T/liutuan" hrb/yanshou 2 || fail "liutuan lacks its county's log"
pass "city event reached every township, the late one too"

"$HUB" children --dir "$YAN" --json | jq -e 'length == 2 and all(.connected)' >/dev/null \
    || fail "children: $("$HUB" children --dir "$YAN" --json)"
"$NODE" status --dir "$T/jiaxin" --json | jq -e '.daemon and .upstream_reachable and
    .pending_upstream == 0 and .from_above >= 3' >/dev/null \
    || fail "township status: $("$NODE" status --dir "$T/jiaxin" --json)"

# Clean shutdown: SIGTERM makes every daemon exit 0.
for d in "${!LD_DAEMON[@]}"; do
    pid=${LD_DAEMON[$d]}
    kill -TERM "$pid"
    wait "$pid" || fail "daemon on $d exited $? on SIGTERM"
    unset "LD_DAEMON[$d]"
done
pass "clean shutdown"

# With the hub down, `children` answers from the store: each allowed child
# with what this hub holds of it and the record of its last session.
"$HUB" children --dir "$YAN" --json >"$T/children.json"
jq -e --argjson n $((N + 1)) 'length == 2 and all(.connected == false) and
    all(.held == $n) and all(.epoch | type == "string")' "$T/children.json" >/dev/null \
    || fail "children without the daemon: $(cat "$T/children.json")"
pass "children without the daemon: held and the stored session records"
