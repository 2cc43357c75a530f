#!/usr/bin/env bash
# import across the boundaries of its pipeline: worker threads stage chunks
# of 1,024 lines each and one transaction appends them in file order. Bad
# lines on either side of a chunk boundary are all reported with their own
# line numbers, in order, and nothing is stored; a good file (blank lines
# included, read from a pipe) is stored gapless, in line order.
. "$(dirname "$0")/lib.sh"

D="$T/node"
"$NODE" init --dir "$D" --id hrb/wuchang/shanhe --name 山河镇 --type township >/dev/null
export LIANDONG_DIR="$D"
before=$("$NODE" status --json | jq .head_seq)

# 5,000 lines; line i carries note "n<i>" so that order can be checked
good() {
    awk 'BEGIN { for (i = 1; i <= 5000; i++)
        printf "{\"kind\":\"deputy.contact\",\"date\":\"2026-03-05\",\"body\":{\"deputy\":\"d%03d\",\"channel\":\"visit\",\"topic\":\"n%d\"}}\n", i % 97, i }'
}
good >"$T/good.jsonl"

# bad lines at both sides of chunk boundaries, at the very start and end
bad_at="1 1024 1025 2048 2049 3001 5000"
awk -v bad="$bad_at" 'BEGIN { n = split(bad, b, " "); for (i = 1; i <= n; i++) isbad[b[i]] = 1 }
     { if (FNR in isbad) print "{\"kind\":\"deputy.contact\",\"body\":{\"deputy\":\"d1\"}}"; else print }' \
    "$T/good.jsonl" >"$T/bad.jsonl"
expect_fail "import with bad lines" "$NODE" import "$T/bad.jsonl"
got=$(grep -o '^[^:]*bad.jsonl:[0-9]*:' "$T/err" | sed 's/.*bad.jsonl:\([0-9]*\):/\1/' | tr '\n' ' ')
[ "$got" = "$bad_at " ] || fail "bad lines reported: '$got', expected '$bad_at '"
grep -q "7 bad lines of 5000: nothing imported" "$T/err" || fail "summary: $(tail -1 "$T/err")"
[ "$("$NODE" status --json | jq .head_seq)" = "$before" ] || fail "a bad import stored something"
pass "bad lines across chunk boundaries: all reported, in order, nothing stored"

# more than 100 bad lines: the first 100 listed, the rest counted
awk '{ if (FNR % 10 == 0) print "not json"; else print }' "$T/good.jsonl" >"$T/many.jsonl"
expect_fail "import with 500 bad lines" "$NODE" import "$T/many.jsonl"
[ "$(grep -c 'many.jsonl:[0-9]*: not valid JSON' "$T/err")" = 100 ] || fail "not 100 listed"
grep -q "many.jsonl:1000: not valid JSON" "$T/err" || fail "line 1000 not listed"
grep -q "\.\.\. and 400 more bad lines" "$T/err" || fail "rest not counted: $(cat "$T/err")"
pass "over 100 bad lines: 100 listed, the rest counted"

# a good file through a pipe, with blank lines between chunks
awk '{ print } FNR % 700 == 0 { print ""; print "   " }' "$T/good.jsonl" \
    | "$NODE" import - >"$T/out" || fail "good import: $(cat "$T/err")"
grep -q "imported 5000 events (hrb/wuchang/shanhe#$((before + 1))..$((before + 5000)))" "$T/out" \
    || fail "import said: $(cat "$T/out")"
"$NODE" export | check_chain || fail "chain broken after import"
"$NODE" export | jq -r 'select(.kind == "deputy.contact") | .body.topic' >"$T/topics"
seq 1 5000 | sed 's/^/n/' | cmp -s - "$T/topics" || fail "events not in line order"
pass "good import through a pipe: gapless, in line order"
