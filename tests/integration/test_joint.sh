#!/usr/bin/env bash
# Joint inspections (上下联动) across three levels, with real daemons:
#  - the city opens an inspection for two districts; the townships receive it
#    over the tree, file findings, rectifications and reports; the districts
#    report their own part; one township is offline until after the due date:
#    overdue at the city, then reported late once it comes back;
#  - a district opens its own inspection for its townships alongside;
#  - the city's and each district's `joint show --json` agree on every unit
#    they both see;
#  - bad input: an unknown inspection id, an invalid severity, an unknown
#    finding are clear CLI errors; from the network (plain `record`), an
#    unknown inspection is listed as such, an out-of-scope unit is shown
#    separately, a finding after the close is kept and counted late.
. "$(dirname "$0")/lib.sh"

PC=$(free_base); PD=$(free_base); PN=$(free_base)
[ "$PC" != "$PD" ] && [ "$PD" != "$PN" ] && [ "$PC" != "$PN" ] || fail "port clash"
CITY="$T/hrb"; DAOLI="$T/daoli"; NANG="$T/nangang"
KC=$(mk_hub "$CITY" hrb 哈尔滨市 city "$PC")
KD=$(mk_hub "$DAOLI" hrb/daoli 道里区 district "$PD" "$PC" "$KC")
KN=$(mk_hub "$NANG" hrb/nangang 南岗区 district "$PN" "$PC" "$KC")
"$HUB" allow --dir "$CITY" hrb/daoli "$KD"
"$HUB" allow --dir "$CITY" hrb/nangang "$KN"
declare -A ID=([xinnong]=hrb/daoli/xinnong [taiping]=hrb/daoli/taiping
               [wanggang]=hrb/nangang/wanggang [hongqi]=hrb/nangang/hongqi)
declare -A NAME=([xinnong]=新农镇 [taiping]=太平镇 [wanggang]=王岗镇 [hongqi]=红旗满族乡)
for t in xinnong taiping; do
    k=$(mk_node "$T/$t" "${ID[$t]}" "${NAME[$t]}" "$PD" "$KD")
    "$HUB" allow --dir "$DAOLI" "${ID[$t]}" "$k"
done
for t in wanggang hongqi; do
    k=$(mk_node "$T/$t" "${ID[$t]}" "${NAME[$t]}" "$PN" "$KN")
    "$HUB" allow --dir "$NANG" "${ID[$t]}" "$k"
done

# synced FROM_DIR TO_DIR: TO holds everything FROM has recorded itself.
own() { "$NODE" status --dir "$1" --json | jq -r .origin; }
synced() { has_head "$2" "$(own "$1")" "$(head_of "$1" "$(own "$1")")"; }
wait_synced() { wait_until 20 synced "$1" "$2" || fail "$2 lacks what $1 recorded"; }

start_daemon "$HUB" "$CITY"; start_daemon "$HUB" "$DAOLI"; start_daemon "$HUB" "$NANG"
for t in xinnong taiping wanggang hongqi; do start_daemon "$NODE" "$T/$t"; done
for t in xinnong taiping wanggang hongqi; do wait_synced "$T/$t" "$CITY"; done
stop_daemon "$T/hongqi"   # its office PC goes offline for weeks
pass "three levels up; 红旗满族乡 registered, then offline"

# --- the city opens (发起) and hands down (下达); a district opens its own
J=$("$HUB" joint open --dir "$CITY" --title 中心城区教育扩容专题调研 --kind research \
    --scope hrb/daoli,hrb/nangang --from 2026-03-01 --due 2026-04-30 --date 2026-03-01 \
    --description 学位供给与校舍扩容)
[[ $J =~ ^hrb#[0-9]+$ ]] || fail "open printed '$J'"
J2=$("$HUB" joint open --dir "$DAOLI" --title 校舍安全视察 --kind visit \
     --from 2026-03-05 --due 2026-04-15 --date 2026-03-05)
for t in xinnong taiping wanggang; do wait_synced "$CITY" "$T/$t"; done
for t in xinnong taiping; do wait_synced "$DAOLI" "$T/$t"; done
"$NODE" joint list --dir "$T/xinnong" --json --today 2026-03-10 |
    jq -e --arg j "$J" --arg j2 "$J2" '[.[].id] | sort == ([$j, $j2] | sort)' >/dev/null ||
    fail "township list: $("$NODE" joint list --dir "$T/xinnong" --json)"
"$NODE" joint list --dir "$T/wanggang" --json --today 2026-03-10 |
    jq -e --arg j "$J" 'length == 1 and .[0].id == $j and .[0].this_unit.status == "not_started"
        and .[0].due == "2026-04-30"' >/dev/null || fail "wanggang list"
pass "opened $J (city) and $J2 (道里区); townships received them"

# --- carry out (开展), report (上报), rectify (整改)
X=$T/xinnong; TP=$T/taiping; W=$T/wanggang
F1=$("$NODE" joint finding --dir "$X" "$J" --site 新农镇中心小学 --problem 教室缺口12间 \
     --severity high --deputies d01,d02 --suggestion 新建教学楼 --date 2026-03-12)
"$NODE" joint finding --dir "$X" "$J" --site 新农镇幼儿园 --problem 师生比偏高 \
    --severity medium --deputies d02 --date 2026-03-14 >/dev/null
"$NODE" joint rectify --dir "$X" "$J" --finding "$F1" --status in_progress --date 2026-03-20 \
    --note 已列入年度计划 >/dev/null
"$NODE" joint rectify --dir "$X" "$J" --finding "$F1" --status done --date 2026-04-20 >/dev/null
"$NODE" joint report --dir "$X" "$J" --summary 调研完成 --participants 9 --date 2026-04-25 >/dev/null
"$NODE" joint finding --dir "$X" "$J2" --site 新农镇中学 --problem 消防通道堵塞 \
    --severity high --date 2026-03-18 >/dev/null
"$NODE" joint finding --dir "$TP" "$J" --site 太平镇一小 --problem 操场不足 --severity low \
    --deputies d07 --date 2026-03-15 >/dev/null
"$NODE" joint report --dir "$TP" "$J" --summary 已完成 --participants 4 --date 2026-04-28 >/dev/null
"$NODE" joint finding --dir "$W" "$J" --site 王岗镇中心校 --problem 校车不足 --severity medium \
    --date 2026-03-22 >/dev/null
"$NODE" joint report --dir "$W" "$J" --summary 完成 --participants 6 --date 2026-05-02 >/dev/null
"$HUB" joint report --dir "$DAOLI" "$J" --summary 区级汇总 --participants 15 --date 2026-04-29 >/dev/null
"$HUB" joint finding --dir "$NANG" "$J" --site 南岗区教育局 --problem 学位规划滞后 \
    --severity high --date 2026-03-30 >/dev/null
pass "townships and districts filed findings, rectifications and reports"

# --- bad input at the CLI: clear one-line errors, nothing recorded
before=$(head_of "$X" hrb/daoli/xinnong)
expect_fail "unknown inspection" "$NODE" joint finding --dir "$X" hrb#999 --site s --problem p \
    --severity low
grep -q "hrb#999" "$T/err" || fail "unknown inspection error: $(cat "$T/err")"
expect_fail "bad severity" "$NODE" joint finding --dir "$X" "$J" --site s --problem p \
    --severity urgent
grep -q "severity" "$T/err" || fail "severity error: $(cat "$T/err")"
expect_fail "unknown finding" "$NODE" joint rectify --dir "$X" "$J" --finding hrb/daoli/xinnong#999 \
    --status done
grep -q "hrb/daoli/xinnong#999" "$T/err" || fail "unknown finding error: $(cat "$T/err")"
expect_fail "open at a node" "$NODE" joint open --dir "$X" --title t --kind visit --from 2026-03-01 \
    --due 2026-03-02
[ "$(wc -l <"$T/err")" = 1 ] || fail "error is not one line: $(cat "$T/err")"
[ "$(head_of "$X" hrb/daoli/xinnong)" = "$before" ] || fail "a refused command recorded"
pass "bad input refused with clear errors"

# --- after the due date: 红旗满族乡 is overdue everywhere that sees it
for d in "$X" "$TP" "$W" "$DAOLI" "$NANG"; do wait_synced "$d" "$CITY"; done
show() { "$HUB" joint show --dir "$1" "$2" --today "${3:-2026-05-05}" --json; }
show "$CITY" "$J" | jq -e '
    (.units | map({(.unit): .status}) | add) == {
        "hrb/daoli": "reported", "hrb/daoli/taiping": "reported",
        "hrb/daoli/xinnong": "reported", "hrb/nangang": "overdue",
        "hrb/nangang/hongqi": "overdue", "hrb/nangang/wanggang": "reported_late"}
    and .totals.findings.total == 5 and .totals.findings.high == 2
    and .totals.rectification.done == 1 and .totals.overdue == 2
    and .totals.completion_rate == 0.6667' >/dev/null ||
    fail "city view: $(show "$CITY" "$J" | jq -c '[.units[] | {unit, status}], .totals')"
show "$NANG" "$J" | jq -e '(.units | map(.unit)) == ["hrb/nangang", "hrb/nangang/hongqi",
    "hrb/nangang/wanggang"] and .units[1].status == "overdue"' >/dev/null || fail "南岗区 view"
show "$CITY" "$J2" | jq -e '.totals.units == 2 and .totals.overdue == 2 and
    .totals.findings.high == 1' >/dev/null || fail "city view of 道里区's inspection"
"$HUB" joint list --dir "$CITY" --overdue --today 2026-05-05 --json |
    jq -e 'length == 2' >/dev/null || fail "list --overdue"
pass "红旗满族乡 overdue at the city and at 南岗区"

# --- 红旗满族乡 comes back after the due date: receives the inspection, reports late
start_daemon "$NODE" "$T/hongqi"
wait_synced "$CITY" "$T/hongqi"
"$NODE" joint finding --dir "$T/hongqi" "$J" --site 红旗乡中学 --problem 宿舍不足 \
    --severity low --date 2026-05-03 >/dev/null
"$NODE" joint report --dir "$T/hongqi" "$J" --summary 补报 --participants 3 --date 2026-05-04 >/dev/null
"$HUB" joint report --dir "$NANG" "$J" --summary 区级汇总 --date 2026-05-04 >/dev/null
wait_synced "$T/hongqi" "$CITY"; wait_synced "$NANG" "$CITY"
show "$CITY" "$J" | jq -e '(.units[] | select(.unit == "hrb/nangang/hongqi") | .status) ==
    "reported_late" and .totals.overdue == 0 and .totals.completion_rate == 1' >/dev/null ||
    fail "hongqi not reported late: $(show "$CITY" "$J" | jq -c '[.units[] | {unit, status}]')"
pass "红旗满族乡 reported late"

# --- the levels agree on the units they share
for d in "$DAOLI" "$NANG"; do
    wait_synced "$CITY" "$d"
    jq -n -e --argjson c "$(show "$CITY" "$J")" --argjson d "$(show "$d" "$J")" '
        ($d.units | length) == 3 and
        ($d.units | all(. as $u | $c.units | any(. == $u)))' >/dev/null ||
        fail "city and $d disagree"
done
jq -n -e --argjson c "$(show "$CITY" "$J2")" --argjson d "$(show "$DAOLI" "$J2")" \
    '$c.units == $d.units and $c.totals == $d.totals' >/dev/null || fail "J2 views disagree"
pass "city and districts agree on the units they share"

# --- from the network: unknown inspection, out of scope, after the close
J3=$("$HUB" joint open --dir "$CITY" --title 南岗区执法检查 --kind law_check \
     --scope hrb/nangang --from 2026-05-01 --due 2026-06-30 --date 2026-05-01)
"$HUB" joint close --dir "$CITY" "$J" --summary 调研报告已报市人大常委会 --date 2026-05-10 >/dev/null
wait_synced "$CITY" "$X"; wait_synced "$CITY" "$W"
"$NODE" record --dir "$X" joint.finding --field joint="$J3" --field site=越界 --field problem=p \
    --field severity=low --date 2026-05-11 >/dev/null
"$NODE" record --dir "$TP" joint.finding --field joint=hrb#999 --field site=s --field problem=p \
    --field severity=low >/dev/null
"$NODE" joint finding --dir "$W" "$J" --site 王岗镇二小 --problem 补充发现 --severity low \
    --date 2026-05-12 2>"$T/note" >/dev/null
grep -q "late" "$T/note" || fail "no note about the closed inspection"
for d in "$X" "$TP" "$W"; do wait_synced "$d" "$CITY"; done
show "$CITY" "$J3" | jq -e '.out_of_scope[0].unit == "hrb/daoli/xinnong" and
    .totals.findings.total == 0' >/dev/null || fail "out of scope not shown"
show "$CITY" "$J" | jq -e '.state == "closed" and .totals.findings.late == 1' >/dev/null ||
    fail "late finding not counted"
"$HUB" joint list --dir "$CITY" --today 2026-05-15 | grep -q "unknown inspection hrb#999 (1 events waiting)" ||
    fail "unknown inspection not listed: $("$HUB" joint list --dir "$CITY")"
"$HUB" joint show --dir "$CITY" "$J" --findings --today 2026-05-15 | grep -q "LATE" ||
    fail "text view does not mark the late finding"
pass "network input flagged: unknown inspection, out of scope, late finding"

for d in "${!LD_DAEMON[@]}"; do stop_daemon "$d"; done
pass "clean shutdown"
