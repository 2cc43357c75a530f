# tests/integration/lib.sh -- shared by the integration tests (sourced).
#
# Each test gets a fresh temporary directory, removed on exit, and kills only
# the processes it started (by PID, recorded with ld_track). LD_BIN is the
# build directory (set by ctest).
set -euo pipefail

: "${LD_BIN:?LD_BIN must point at the build directory}"
NODE="$LD_BIN/liandong-node"
HUB="$LD_BIN/liandong-hub"
T=$(mktemp -d "${TMPDIR:-/tmp}/liandong-it-XXXXXX")
LD_PIDS=()

ld_track() { LD_PIDS+=("$1"); }

ld_cleanup() {
    local pid
    for pid in "${LD_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap ld_cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# expect_fail DESC CMD...: the command must exit non-zero.
expect_fail() {
    local desc=$1; shift
    if "$@" >"$T/out" 2>"$T/err"; then
        fail "$desc: expected failure, got success: $(cat "$T/out")"
    fi
}

# Checks a JSON Lines export on stdin: per origin, seq runs 1..N without gaps
# and each prev equals the hash of the event before it.
check_chain() {
    jq -s -e '
      group_by(.origin) | all(
        . as $log | ($log | length) as $n |
        ([range(0; $n)] | all(. as $i | $log[$i].seq == $i + 1)) and
        ($log[0].prev == ("0" * 64)) and
        ([range(1; $n)] | all(. as $i | $log[$i].prev == $log[$i - 1].hash)))' >/dev/null
}
