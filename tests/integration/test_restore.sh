#!/usr/bin/env bash
# A township PC is reinstalled.
#  - With `init --restore` its own log comes back from the district hub
#    first (the hub is every township's off-site backup); nothing can be
#    recorded until it is back; afterwards the log continues gaplessly and
#    the hub sees no conflict.
#  - Without it, the new store's events clash with what the hub holds: they
#    reach the hub as equivocations, kept aside, and `children` raises the
#    alarm; `sync --once` fails saying why. Nothing is overwritten.
. "$(dirname "$0")/lib.sh"

P=$(free_base)
H="$T/wuchang"; N="$T/shanhe"
KH=$(mk_hub "$H" hrb/wuchang 五常市 county "$P")
k=$(mk_node "$N" hrb/wuchang/shanhe 山河镇 "$P" "$KH")
"$HUB" allow --dir "$H" hrb/wuchang/shanhe "$k"
start_daemon "$HUB" "$H"
gen_events 50 | "$NODE" import --dir "$N" - >/dev/null
"$NODE" sync --once --dir "$N" --heartbeat "$HB" --timeout 20 >/dev/null || fail "first sync"
orig=$("$NODE" digest --dir "$N" --json | jq -c '."hrb/wuchang/shanhe"')
pass "township synced 51 events"

# --- reinstall with --restore; the new key is not allowed yet at first
rm -rf "$N"
expect_fail "restore before the hub allows the new key" \
    "$NODE" init --restore --dir "$N" --id hrb/wuchang/shanhe --name 山河镇 --type township \
    --upstream "tcp://127.0.0.1:$P" --upstream-key "$KH" --timeout 3 --json
grep -q "sync --once" "$T/err" || fail "restore failure does not say how to finish: $(cat "$T/err")"
k2=$(jq -r .public_key "$T/out")
expect_fail "record while restoring" "$NODE" record --dir "$N" deputy.contact --deputy d1 \
    --field channel=visit
grep -q "restored" "$T/err" || fail "record refusal: $(cat "$T/err")"
"$HUB" allow --dir "$H" hrb/wuchang/shanhe "$k2"
"$NODE" sync --once --dir "$N" --heartbeat "$HB" --timeout 20 >/dev/null || fail "finishing restore"
[ "$("$NODE" digest --dir "$N" --json | jq -c '."hrb/wuchang/shanhe"')" = "$orig" ] \
    || fail "restored log differs"
ref=$("$NODE" record --dir "$N" deputy.contact --deputy d1 --field channel=visit)
[ "$ref" = "hrb/wuchang/shanhe#52" ] || fail "after restore the log continues at $ref"
"$NODE" sync --once --dir "$N" --heartbeat "$HB" --timeout 20 >/dev/null || fail "sync after restore"
has_head "$H" hrb/wuchang/shanhe 52 || fail "hub lacks #52"
"$NODE" status --dir "$H" --json | jq -e '.equivocations == 0' >/dev/null || fail "equivocations"
"$HUB" children --dir "$H" --json | jq -e '.[0].epoch_alarm == false' >/dev/null \
    || fail "restore raised the epoch alarm"
pass "restore: log back, continues at #52, no conflict"

# --- reinstall WITHOUT restore: the alarm, not a silent overwrite
rm -rf "$N"
k3=$(mk_node "$N" hrb/wuchang/shanhe 山河镇 "$P" "$KH")
"$HUB" allow --dir "$H" hrb/wuchang/shanhe "$k3"
"$NODE" record --dir "$N" deputy.contact --deputy d9 --field channel=phone >/dev/null
expect_fail "sync of a forked store" "$NODE" sync --once --dir "$N" --heartbeat "$HB" --timeout 20
grep -q "restore" "$T/err" || fail "fork reason: $(cat "$T/err")"
wait_until 10 bash -c "'$NODE' status --dir '$H' --json | jq -e '.equivocations >= 2'" \
    || fail "hub did not keep the clashing events aside"
has_head "$H" hrb/wuchang/shanhe 52 || fail "hub's log of the township was damaged"
"$HUB" children --dir "$H" --json | jq -e '.[0].epoch_alarm == true and
    (.[0].state | test("ALARM"))' >/dev/null || fail "no alarm: $("$HUB" children --dir "$H" --json)"
pass "reinstall without restore: equivocations kept aside, alarm raised, nothing overwritten"
