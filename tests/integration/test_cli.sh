#!/usr/bin/env bash
# The township CLI end to end with the real binary: init, record, export,
# digest, status, deputies, kinds; import all or nothing; two processes
# recording into one directory at once.
. "$(dirname "$0")/lib.sh"

D="$T/shanhe"

# --- init
"$NODE" init --dir "$D" --id hrb/wuchang/shanhe --name 山河镇 --type township --json >"$T/init.json"
jq -e '.origin == "hrb/wuchang/shanhe" and (.public_key | length == 40) and (.epoch | length > 0)' \
    "$T/init.json" >/dev/null || fail "init --json: $(cat "$T/init.json")"
[ "$(stat -c %a "$D/curve.key")" = 600 ] || fail "secret key is not mode 0600"
grep -q '^id = hrb/wuchang/shanhe' "$D/liandong.conf" || fail "config lacks id"
expect_fail "init refuses a used directory" \
    "$NODE" init --dir "$D" --id hrb/wuchang/other --name x --type township
expect_fail "node refuses a hub type" \
    "$NODE" init --dir "$T/x" --id hrb/x --name x --type district
expect_fail "bad id" "$NODE" init --dir "$T/y" --id HRB/Bad --name x --type township
pass "init"

# --- record
export LIANDONG_DIR="$D"
ref=$("$NODE" record deputy.registered --deputy d001 --field name=王颖 --field level=township \
      --field category=farmer --field background=law,agriculture --field term=2021-2026 \
      --date 2026-01-10)
[ "$ref" = "hrb/wuchang/shanhe#2" ] || fail "record printed '$ref'"
"$NODE" record deputy.contact --deputy d001 --field channel=reception_day \
    --field constituents=12 --date 2026-03-05 --author 李明 >/dev/null
"$NODE" record --json '{"kind":"supervision.visit","date":"2026-03-06",
    "body":{"topic":"中心城区教育扩容","participants":8}}' >/dev/null
expect_fail "record: bad enum" "$NODE" record deputy.contact --deputy d001 --field channel=pigeon
grep -q "channel" "$T/err" || fail "enum error does not name the field: $(cat "$T/err")"
expect_fail "record: unknown kind" "$NODE" record deputy.flying --deputy d001
expect_fail "record: missing required field" "$NODE" record deputy.contact --deputy d001
expect_fail "record: int out of range" "$NODE" record deputy.contact --deputy d001 \
    --field channel=visit --field constituents=-5
expect_fail "record: unknown field" "$NODE" record deputy.contact --deputy d001 \
    --field channel=visit --field colour=red
expect_fail "record: bad date" "$NODE" record deputy.contact --deputy d001 \
    --field channel=visit --date 2026-02-30
pass "record"

# --- export, digest, status
"$NODE" export >"$T/export.jsonl"
[ "$(wc -l <"$T/export.jsonl")" = 4 ] || fail "export has $(wc -l <"$T/export.jsonl") lines"
check_chain <"$T/export.jsonl" || fail "export chain broken"
jq -e -s '.[1].body.background == ["law","agriculture"] and .[2].author == "李明"
          and .[2].body.constituents == 12 and .[0].kind == "unit.registered"' \
    "$T/export.jsonl" >/dev/null || fail "export content"
"$NODE" digest --json >"$T/digest.json"
last_hash=$(tail -n1 "$T/export.jsonl" | jq -r .hash)
jq -e --arg h "$last_hash" '."hrb/wuchang/shanhe" == {"seq": 4, "head": $h}' "$T/digest.json" \
    >/dev/null || fail "digest: $(cat "$T/digest.json")"
"$NODE" status --json | jq -e '.origin == "hrb/wuchang/shanhe" and .head_seq == 4 and
    .events == 4 and .pending_upstream == 4 and .equivocations == 0' >/dev/null \
    || fail "status --json"
"$NODE" deputies --json | jq -e '.[0].deputy == "d001" and .[0].name == "王颖" and
    .[0].status == "in_office"' >/dev/null || fail "deputies"
"$NODE" record deputy.left --deputy d001 --field reason=persuaded >/dev/null
"$NODE" deputies --json | jq -e '.[0].status == "left" and .[0].left_reason == "persuaded"' \
    >/dev/null || fail "deputies after leaving"
"$NODE" kinds --json | jq -e 'map(.kind) | index("joint.finding") != null' >/dev/null \
    || fail "kinds --json"
pass "export, digest, status, deputies, kinds"

# --- import: all or nothing, every bad line reported
before=$("$NODE" status --json | jq .head_seq)
cat >"$T/bad.jsonl" <<'JSONL'
{"kind":"deputy.training","date":"2026-04-01","body":{"deputy":"d001","topic":"预算审查"}}
{"kind":"deputy.training","date":"2026-04-01","body":{"deputy":"d001"}}

{"kind":"deputy.contact","date":"2026-04-02","body":{"deputy":"d001","channel":"visit"}}
not json at all
{"kind":"deputy.contact","origin":"hrb/forged","body":{"deputy":"d001","channel":"visit"}}
JSONL
expect_fail "import with bad lines" "$NODE" import "$T/bad.jsonl"
grep -q "bad.jsonl:2:" "$T/err" || fail "line 2 not reported: $(cat "$T/err")"
grep -q "bad.jsonl:5:" "$T/err" || fail "line 5 not reported"
grep -q "bad.jsonl:6:" "$T/err" || fail "line 6 not reported"
grep -q "bad.jsonl:1:" "$T/err" && fail "good line 1 reported"
after=$("$NODE" status --json | jq .head_seq)
[ "$before" = "$after" ] || fail "import stored something: $before -> $after"
sed -e '2d;5d;6d' "$T/bad.jsonl" | "$NODE" import - >/dev/null || fail "good import: $(cat "$T/err")"
[ "$("$NODE" status --json | jq .head_seq)" = $((before + 2)) ] || fail "import count"
pass "import all or nothing"

# --- two processes recording at once: one gapless chain
rec() {
    for i in $(seq 1 40); do
        "$NODE" record deputy.contact --deputy "d$1" --field channel=visit >/dev/null || exit 1
    done
}
rec 1 & p1=$!; ld_track $p1
rec 2 & p2=$!; ld_track $p2
wait $p1 || fail "writer 1 failed"
wait $p2 || fail "writer 2 failed"
"$NODE" export >"$T/export2.jsonl"
[ "$(wc -l <"$T/export2.jsonl")" = $((before + 2 + 80)) ] || fail "concurrent count"
check_chain <"$T/export2.jsonl" || fail "concurrent chain broken"
pass "concurrent recording"

# --- usage errors and help
"$NODE" --help >/dev/null && "$NODE" record --help >/dev/null && "$NODE" import --help >/dev/null
expect_fail "unknown command" "$NODE" fly
unset LIANDONG_DIR
expect_fail "no directory" "$NODE" status
grep -q "LIANDONG_DIR" "$T/err" || fail "no-dir message"
[ "$(wc -l <"$T/err")" = 1 ] || fail "error is not one line"
pass "help and errors"
