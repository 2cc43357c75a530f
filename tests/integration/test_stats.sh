#!/usr/bin/env bash
# Statistics end to end: a generated city (18 districts x 16 townships, a
# year of every kind of event) merged into a city hub; `stats` at the city
# and for a district equal an independent plain scan of the events
# (liandong-city check); a township records through the CLI, syncs to its
# hub, and both show its figures; the table aligns Chinese names, the CSV
# opens in Excel (BOM, CRLF), and the HTML report renders in a real headless
# browser with its key figures and charts.
. "$(dirname "$0")/lib.sh"
CITY="$LD_BIN/liandong-city"
NOW=2026-01-10

# --- the city: load, then check against the plain scan
"$HUB" init --dir "$T/hrb" --id hrb --name 哈尔滨市 --type city >/dev/null
"$CITY" load --dir "$T/hrb" --seed 11 >"$T/load.txt" || fail "load: $(cat "$T/load.txt")"
n=$(grep -o 'stored=[0-9]*' "$T/load.txt" | cut -d= -f2)
[ "$n" -gt 100000 ] || fail "generated city too small: $(cat "$T/load.txt")"
"$HUB" stats --dir "$T/hrb" --period 2025 --now $NOW --format json >"$T/city.json"
"$CITY" check --dir "$T/hrb" --stats "$T/city.json" --period 2025 --now $NOW >"$T/check.txt" ||
    fail "city figures differ from the plain scan: $(head -20 "$T/check.txt")"
jq -e '(.groups | length) == 19 and .total.deputies.in_office > 5000 and
       .total.activity.duty_report_coverage > 0.5 and .total.suggestions.submitted > 1000 and
       .total.linkage.opened > 0 and (.work_reviews | length) > 10 and
       (.sync.stale | length) > 0' "$T/city.json" >/dev/null || fail "city figures implausible"
yanshou=$(jq '.groups[] | select(.unit == "hrb/yanshou") | .activity.duty_report_coverage' "$T/city.json")
awk -v c="$yanshou" 'BEGIN { exit !(c > 0.85 && c <= 1) }' || fail "延寿 coverage $yanshou"
pass "city: $n events, figures equal the plain scan ($(tail -1 "$T/check.txt"))"

"$HUB" stats --dir "$T/hrb" --unit hrb/yanshou --period 2025-Q2..2025-Q3 --now $NOW \
    --json >"$T/ys.json"
"$CITY" check --dir "$T/hrb" --unit hrb/yanshou --stats "$T/ys.json" --period 2025-Q2..2025-Q3 \
    --now $NOW >"$T/check2.txt" || fail "district figures differ: $(head -20 "$T/check2.txt")"
jq -e '.unit == "hrb/yanshou" and .name == "延寿县" and (.groups | length) == 17' "$T/ys.json" \
    >/dev/null || fail "district grouping: $(jq -c '[.unit, .name, (.groups | length)]' "$T/ys.json")"
"$HUB" stats --dir "$T/hrb" --by unit --period 2025 --now $NOW --json >"$T/units.json"
jq -e '(.groups | length) == 307' "$T/units.json" >/dev/null ||
    fail "--by unit: $(jq '.groups | length' "$T/units.json") rows"
"$HUB" stats --dir "$T/hrb" --by level --period 2025 --now $NOW --json >"$T/level.json"
jq -e '[.groups[].unit] | sort == ["city", "county", "district", "street", "township"]' \
    "$T/level.json" >/dev/null || fail "--by level: $(jq -c '[.groups[].unit]' "$T/level.json")"
pass "district check, --by unit and --by level"

# --- query time does not grow with history: a full city table, timed
s=$(date +%s%N)
"$HUB" stats --dir "$T/hrb" --now $NOW >"$T/table.txt"
ms=$(( ($(date +%s%N) - s) / 1000000 ))
[ "$ms" -lt 2000 ] || fail "stats took $ms ms"
pass "city table in $ms ms"

# --- the table: Chinese names aligned (display width, CJK = 2 columns)
awk '/^Deputies/ {f = 1; next} f && /^$/ {exit} f' "$T/table.txt" >"$T/dep.txt"
[ "$(wc -l <"$T/dep.txt")" -eq 21 ] || fail "deputies table: $(cat "$T/dep.txt")"
widths=$(while IFS= read -r line; do printf '%s\n' "$line" | LC_ALL=C.UTF-8 wc -L; done \
         <"$T/dep.txt" | sort -u | wc -l)
[ "$widths" -eq 1 ] || fail "table rows differ in display width: $(cat "$T/dep.txt")"
grep -q '延寿县' "$T/table.txt" && grep -q 'STALE' "$T/table.txt" || fail "table content"
pass "table aligned with CJK names"

# --- CSV for Excel: BOM, CRLF, one row per group and the total
"$HUB" stats --dir "$T/hrb" --period 2025 --now $NOW --format csv --output "$T/s.csv"
[ "$(head -c 3 "$T/s.csv" | od -An -tx1 | tr -d ' ')" = efbbbf ] || fail "CSV has no BOM"
[ "$(grep -c $'\r$' "$T/s.csv")" -eq 21 ] || fail "CSV lines: $(wc -l <"$T/s.csv")"
grep -q '^group,hrb/yanshou,延寿县,' "$T/s.csv" || fail "CSV row for 延寿县"
pass "CSV (BOM, CRLF)"

# --- errors are one line
expect_fail "bad period" "$HUB" stats --dir "$T/hrb" --period 2025-13
grep -q "bad period" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ] || fail "error: $(cat "$T/err")"
expect_fail "bad --by" "$HUB" stats --dir "$T/hrb" --by street
"$HUB" stats --help | grep -q -- '--period' || fail "stats --help"
pass "usage errors"

# --- a township through the real CLI and sync path
D="$T/town"
PA=$(free_base)
KA=$(mk_hub "$T/acheng" hrb/acheng 阿城区 district "$PA")
KZ=$(mk_node "$D" hrb/acheng/zz 新立镇 "$PA" "$KA")
"$HUB" allow --dir "$T/acheng" hrb/acheng/zz "$KZ" >/dev/null
export LIANDONG_DIR="$D"
"$NODE" record deputy.registered --deputy d1 --field name=王颖 --field level=township \
    --field category=farmer --field background=law --field term=2021-2026 --date 2021-12-01 >/dev/null
"$NODE" record deputy.registered --deputy d2 --field name=李明 --field level=township \
    --field category=worker --field term=2021-2026 --date 2021-12-01 >/dev/null
"$NODE" record deputy.duty_report --deputy d1 --field audience=40 --date 2025-04-02 >/dev/null
"$NODE" record suggestion.answered --field suggestion=s1 --date 2025-05-01 >/dev/null
"$NODE" record suggestion.submitted --field suggestion=s1 --field deputy=d1 \
    --field title=关于修路的建议 --date 2025-03-01 >/dev/null
unset LIANDONG_DIR
"$NODE" stats --dir "$D" --period 2025 --json >"$T/town.json"
jq -e '.total.deputies.in_office == 2 and .total.activity.duty_report_coverage == 0.5 and
       .total.suggestions.answered == 1 and .total.suggestions.median_days_to_answer == 61 and
       .total.deputies.law_or_finance_share == 0.5' "$T/town.json" >/dev/null ||
    fail "township stats: $(jq -c .total "$T/town.json")"
"$HUB" run --dir "$T/acheng" --heartbeat "$HB" >"$T/acheng.log" 2>&1 &
ld_track $!
ok=0
for _ in $(seq 1 50); do
    if "$NODE" sync --once --dir "$D" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
done
[ $ok = 1 ] || fail "sync --once failed: $(tail -5 "$T/acheng.log")"
"$HUB" stats --dir "$T/acheng" --period 2025 --json >"$T/acheng.json"
jq -e --slurpfile t "$T/town.json" '.total.deputies == $t[0].total.deputies and
       .total.suggestions == $t[0].total.suggestions and
       ([.sync.units[] | select(.unit == "hrb/acheng/zz")] | length) == 1' "$T/acheng.json" \
    >/dev/null || fail "hub after sync: $(jq -c '.total.deputies, .sync' "$T/acheng.json")"
pass "township CLI -> sync -> district hub: same figures"

# --- the HTML report in a real headless browser
"$HUB" stats --dir "$T/hrb" --period 2025 --now $NOW --format html --output "$T/report.html"
grep -q '<svg' "$T/report.html" || fail "no SVG in the report"
if grep -Eq '(src|href)="(https?:)?//' "$T/report.html"; then fail "external resource in report"; fi
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "SKIP: chromium not installed (apt-get install chromium); HTML not rendered" >&2
else
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$T/chrome" \
        --dump-dom "file://$T/report.html" >"$T/dom.html" 2>"$T/chrome.err" ||
        fail "chromium: $(tail -3 "$T/chrome.err")"
    cov=$(jq -r '.total.activity.duty_report_coverage * 1000 | round / 10 | tostring' "$T/city.json")
    grep -q "id=\"kf-duty-coverage\">$cov%" "$T/dom.html" ||
        grep -q "id=\"kf-duty-coverage\">${cov}.0%" "$T/dom.html" ||
        fail "rendered report lacks the coverage $cov%"
    for id in chart-coverage chart-funnel chart-supervision chart-stale table-suggestions; do
        grep -q "id=\"$id\"" "$T/dom.html" || fail "rendered report lacks #$id"
    done
    grep -q '延寿县' "$T/dom.html" || fail "rendered report lacks unit names"
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$T/chrome" \
        --window-size=1200,2400 --screenshot="$T/report.png" "file://$T/report.html" \
        >/dev/null 2>&1 || fail "chromium screenshot"
    [ "$(stat -c %s "$T/report.png")" -gt 20000 ] || fail "screenshot is nearly empty"
    pass "HTML report renders in chromium with its figures and charts"
fi
