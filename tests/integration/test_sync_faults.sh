#!/usr/bin/env bash
# Nothing lost, nothing duplicated, convergence -- under kill -9.
#
# The city, one county and three townships on loopback. Each township holds
# 20,000 events recorded offline, so the first catch-up takes long enough to
# be cut. Then, for several rounds, with seeded randomness (LD_SEED=N repeats
# the choices; timing is the machine's): a township imports a further chunk,
# and after a random 50-800 ms the county hub and/or a township daemon (and
# sometimes the city) get kill -9, while every township keeps recording with
# `liandong-node record` in a loop and the city records a directive. Every
# `record` that printed ORIGIN#SEQ is an event that must reach the city.
#
# At the end, with everything up and quiet:
#  - the city's export is exactly the union of every unit's own log; every
#    recorded ORIGIN#SEQ is there, once, and each township's own log holds
#    exactly what it imported and recorded;
#  - no equivocations, nothing held aside, digests agree at every level, and
#    the city's directives reached every township;
#  - the county is restored from an old backup (mdb_copy of its store taken
#    mid-test), then from one taken before any township data arrived (a
#    wiped hub): each time the townships refill it, and the city is
#    unchanged (nothing duplicated).
. "$(dirname "$0")/lib.sh"

ROUNDS=${LD_ROUNDS:-6}
N=20000          # offline events per township
CHUNK=3000       # events a township imports in a round, while its daemon runs

PC=$(free_base); PY=$(free_base)
[ $((PC - PY)) -ge 3 ] || [ $((PY - PC)) -ge 3 ] || PY=$(free_base)
[ $((PC - PY)) -ge 3 ] || [ $((PY - PC)) -ge 3 ] || fail "port clash"
SEED=${LD_SEED:-$(( $(date +%s%N) % 32768 ))}
RANDOM=$SEED
echo "# seed $SEED (LD_SEED=$SEED repeats the random choices)"
T0=$SECONDS

CITY="$T/hrb"; YAN="$T/yanshou"
KC=$(mk_hub "$CITY" hrb 哈尔滨市 city "$PC")
KY=$(mk_hub "$YAN" hrb/yanshou 延寿县 county "$PY" "$PC" "$KC")
"$HUB" allow --dir "$CITY" hrb/yanshou "$KY"
TOWNS=(jiaxin liutuan qingchuan)
gen_events $N >"$T/offline.jsonl"
gen_events $CHUNK >"$T/chunk.jsonl"
declare -A IMPORTED
for t in "${TOWNS[@]}"; do
    k=$(mk_node "$T/$t" "hrb/yanshou/$t" "$t" "$PY" "$KY")
    "$HUB" allow --dir "$YAN" "hrb/yanshou/$t" "$k"
    "$NODE" import --dir "$T/$t" "$T/offline.jsonl" >/dev/null   # offline: no hub is up
    IMPORTED[$t]=$N
done
# The county records only here, before both backups: a hub restored from a
# backup loses its own later events (nothing sends a unit's own log back to
# it without a restore), which is another test's subject.
"$HUB" record --dir "$YAN" supervision.law_check --field law=义务教育法 >/dev/null
# The "wiped" county: what it held before any township's data reached it.
mkdir "$T/backup-empty"
mdb_copy -c "$YAN/store" "$T/backup-empty"
pass "set up city, county, ${#TOWNS[@]} townships with $N offline events each"

# ---- helpers ----

# recorder TOWN: records until $T/stop exists; each success's ORIGIN#SEQ
# goes to $T/TOWN.ok, each failure's stderr to $T/TOWN.fail.
recorder() {
    local dir=$T/$1 i=0 out
    while [ ! -e "$T/stop" ]; do
        i=$((i + 1))
        if out=$("$NODE" record --dir "$dir" deputy.contact --deputy "r$((i % 30))" \
                 --field channel=home_station --field constituents=$((i % 40)) \
                 --field topic="故障轮次记录$i" 2>"$T/$1.rec.err"); then
            echo "$out" >>"$T/$1.ok"
        else
            { echo "record $i:"; cat "$T/$1.rec.err"; } >>"$T/$1.fail"
        fi
        sleep 0.0$((RANDOM % 5))
    done
}

# kill9 DIR: kill -9 the daemon on DIR (if it runs) and reap it.
kill9() {
    local pid=${LD_DAEMON[$1]:-}
    [ -n "$pid" ] || return 0
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "LD_DAEMON[$1]"
}

# ensure_running: starts every daemon that is not running.
ensure_running() {
    local d
    for d in "$CITY" "$YAN"; do [ -n "${LD_DAEMON[$d]:-}" ] || start_daemon "$HUB" "$d"; done
    for d in "${TOWNS[@]/#/$T/}"; do [ -n "${LD_DAEMON[$d]:-}" ] || start_daemon "$NODE" "$d"; done
}

# clean DIR: no equivocation and nothing held aside.
clean() {
    "$NODE" status --dir "$1" --json | jq -e '.equivocations == 0 and .held == 0' >/dev/null
}

# own_head TOWN: the township's own head seq (its log, as it holds it).
own_head() { head_of "$T/$1" "hrb/yanshou/$1"; }

# converged: the city and the county hold every unit's own log as its owner
# does, and every township holds the city's and the county's logs.
converged() {
    local t h
    for t in "${TOWNS[@]}"; do
        h=$(own_head "$t")
        has_head "$YAN" "hrb/yanshou/$t" "$h" && has_head "$CITY" "hrb/yanshou/$t" "$h" || return 1
        has_head "$T/$t" hrb "$(head_of "$CITY" hrb)" || return 1
        has_head "$T/$t" hrb/yanshou "$(head_of "$YAN" hrb/yanshou)" || return 1
    done
    has_head "$YAN" hrb "$(head_of "$CITY" hrb)" &&
        has_head "$CITY" hrb/yanshou "$(head_of "$YAN" hrb/yanshou)"
}

# state: per store, its heads and what it holds aside (for a failure message).
state() {
    local d
    for d in "$CITY" "$YAN" "${TOWNS[@]/#/$T/}"; do
        echo "  ${d#$T/}: $("$NODE" digest --dir "$d" --json | jq -c 'map_values(.seq)')" \
             "$("$NODE" status --dir "$d" --json | jq -c '{held, equivocations, pending_upstream}')"
    done
}

# ---- rounds of kill -9 while recording ----

ensure_running
declare -A RPID
for t in "${TOWNS[@]}"; do
    recorder "$t" &
    RPID[$t]=$!
    ld_track $!
done
CITY_RECORDED=0
for r in $(seq 1 "$ROUNDS"); do
    [ "$r" = 3 ] && { mkdir "$T/backup-old"; mdb_copy -c "$YAN/store" "$T/backup-old"; }
    bulk=${TOWNS[RANDOM % 3]}
    "$NODE" import --dir "$T/$bulk" "$T/chunk.jsonl" >/dev/null || fail "round $r: import at $bulk"
    IMPORTED[$bulk]=$((IMPORTED[$bulk] + CHUNK))
    "$HUB" record --dir "$CITY" joint.opened --field title="联动视察第${r}轮" --field type=research \
        --field scope=hrb --field from=2026-03-01 --field due=2026-04-30 >/dev/null \
        || fail "round $r: record at the city"
    CITY_RECORDED=$((CITY_RECORDED + 1))
    delay=$((50 + RANDOM % 751))
    victims=()
    [ $((RANDOM % 3)) -gt 0 ] && victims+=("$YAN")
    [ $((RANDOM % 3)) -gt 0 ] && victims+=("$T/${TOWNS[RANDOM % 3]}")
    [ $((RANDOM % 4)) = 0 ] && victims+=("$CITY")
    [ ${#victims[@]} -gt 0 ] || victims+=("$YAN")
    down=$((RANDOM % 400))
    sleep "$(printf '0.%03d' "$delay")"
    for v in "${victims[@]}"; do kill9 "$v"; done
    sleep "$(printf '0.%03d' "$down")"
    ensure_running
    echo "round $r: +$CHUNK at $bulk; after ${delay} ms kill -9 ${victims[*]#$T/}; down ${down} ms;" \
         "city holds $("$NODE" status --dir "$CITY" --json | jq .events) events"
done
touch "$T/stop"
for t in "${TOWNS[@]}"; do wait "${RPID[$t]}"; done
recorded=0
for t in "${TOWNS[@]}"; do
    [ ! -s "$T/$t.fail" ] || fail "record failed at $t: $(head -5 "$T/$t.fail")"
    recorded=$((recorded + $(wc -l <"$T/$t.ok")))
done
pass "$ROUNDS rounds of kill -9 in $((SECONDS - T0)) s; $recorded events recorded during them"

# ---- convergence ----

t1=$SECONDS
wait_until 60 converged || fail "no convergence within 60 s:"$'\n'"$(state)"
pass "converged $((SECONDS - t1)) s after the last round"

# check_all LABEL: the city is exactly the union of the logs, nothing lost,
# nothing duplicated, nothing held aside, digests agree at every level.
check_all() {
    local label=$1 d o t
    # Export prints compact JSON with a fixed key order: lines compare as bytes.
    for d in "$CITY" "$YAN" "${TOWNS[@]/#/$T/}"; do
        o=$("$NODE" status --dir "$d" --json | jq -r .origin)
        "$NODE" export --dir "$d" --origin "$o" | grep -F "{\"origin\":\"$o\","
    done | LC_ALL=C sort >"$T/union.jsonl"
    "$NODE" export --dir "$CITY" >"$T/city.raw"
    LC_ALL=C sort "$T/city.raw" >"$T/city.jsonl"
    cmp -s "$T/union.jsonl" "$T/city.jsonl" \
        || fail "$label: city export differs from the union of the logs" \
                "($(wc -l <"$T/city.jsonl") vs $(wc -l <"$T/union.jsonl") lines)"
    # every ORIGIN#SEQ a record printed is at the city, exactly once
    jq -r '"\(.origin)#\(.seq)"' "$T/city.raw" | LC_ALL=C sort >"$T/city.ids"
    [ -z "$(uniq -d "$T/city.ids")" ] || fail "$label: duplicate ids at the city"
    cat "$T"/*.ok | LC_ALL=C sort >"$T/recorded.ids"
    [ -z "$(uniq -d "$T/recorded.ids")" ] || fail "$label: two records printed the same id"
    missing=$(LC_ALL=C comm -23 "$T/recorded.ids" "$T/city.ids" | head -5)
    [ -z "$missing" ] || fail "$label: recorded but not at the city: $missing"
    # each unit's own log at the city: the init event, what it imported or recorded
    for t in "${TOWNS[@]}"; do
        want=$((1 + IMPORTED[$t] + $(wc -l <"$T/$t.ok")))
        got=$(grep -cF "{\"origin\":\"hrb/yanshou/$t\"," "$T/city.raw" || true)
        [ "$got" = "$want" ] || fail "$label: city holds $got events of $t, want $want"
    done
    got=$(grep -cF '{"origin":"hrb",' "$T/city.raw" || true)
    [ "$got" = $((1 + CITY_RECORDED)) ] || fail "$label: city holds $got own events"
    for d in "$CITY" "$YAN" "${TOWNS[@]/#/$T/}"; do
        clean "$d" || fail "$label: ${d#$T/}: $("$NODE" status --dir "$d" --json | jq -c '{held, equivocations}')"
    done
    for d in "$YAN" "${TOWNS[@]/#/$T/}"; do agree "$CITY" "$d" || fail "$label: digests: city vs ${d#$T/}"; done
    for d in "${TOWNS[@]/#/$T/}"; do agree "$YAN" "$d" || fail "$label: digests: county vs ${d#$T/}"; done
}
check_all "after the rounds"
check_chain <"$T/city.raw" || fail "a chain at the city is broken"
pass "city == union of all logs ($(wc -l <"$T/city.jsonl") events); all $recorded recorded ids there once;" \
     "no equivocation, nothing held; digests agree"

# ---- the county restored from an old backup, then wiped: refilled ----

# The city, checked in full above, must not change; the county must end up
# holding exactly what the city holds (every origin there is in its subtree
# or above it): the same digest and the same number of events.
city_digest=$("$NODE" digest --dir "$CITY" --json)
city_events=$("$NODE" status --dir "$CITY" --json | jq .events)
for b in old empty; do
    kill9 "$YAN"
    rm -rf "$YAN/store"
    mkdir "$YAN/store"
    cp "$T/backup-$b/data.mdb" "$YAN/store/"
    before=$("$NODE" status --dir "$YAN" --json | jq .events)
    start_daemon "$HUB" "$YAN"
    t1=$SECONDS
    wait_until 60 converged || fail "county restored from the $b backup was not refilled:"$'\n'"$(state)"
    took=$((SECONDS - t1))
    [ "$("$NODE" digest --dir "$YAN" --json)" = "$city_digest" ] \
        || fail "$b backup: the county's digest differs from the city's:"$'\n'"$(state)"
    for d in "$CITY" "$YAN" "${TOWNS[@]/#/$T/}"; do
        clean "$d" || fail "$b backup: ${d#$T/}: $("$NODE" status --dir "$d" --json | jq -c '{held, equivocations}')"
    done
    for d in "${TOWNS[@]/#/$T/}"; do agree "$YAN" "$d" || fail "$b backup: digests: county vs ${d#$T/}"; done
    [ "$("$NODE" status --dir "$YAN" --json | jq .events)" = "$city_events" ] \
        || fail "$b backup: the county holds $("$NODE" status --dir "$YAN" --json | jq .events) events, the city $city_events"
    [ "$("$NODE" digest --dir "$CITY" --json)" = "$city_digest" ] || fail "$b backup: the city changed"
    [ "$("$NODE" status --dir "$CITY" --json | jq .events)" = "$city_events" ] || fail "$b backup: the city's count changed"
    pass "county restored from the $b backup (it held $before events): refilled to $city_events in" \
         "$took s; same digest as the city; city unchanged"
done

# After all that, SIGTERM still stops every daemon cleanly (exit 0).
for d in "${!LD_DAEMON[@]}"; do
    pid=${LD_DAEMON[$d]}
    kill -TERM "$pid"
    wait "$pid" || fail "daemon on ${d#$T/} exited $? on SIGTERM"
    unset "LD_DAEMON[$d]"
done
pass "clean shutdown"
echo "# total $((SECONDS - T0)) s"
