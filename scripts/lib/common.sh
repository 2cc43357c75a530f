# scripts/lib/common.sh -- shared by the README's commands and the benchmarks:
# install missing Debian packages, configure and build.
#
# Sourced, not run. Callers set -euo pipefail themselves.

LD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Build and runtime dependencies, all Debian 12 packages.
LD_PACKAGES=(build-essential cmake pkg-config libzmq3-dev liblmdb-dev libmsgpack-dev
             libuv1-dev libsodium-dev libjansson-dev libcmocka-dev lmdb-utils jq
             chromium)   # chromium: test_stats.sh renders the HTML report headless

ld_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ld_install_deps() {
    local missing=()
    for p in "${LD_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            ld_log "installing ${missing[*]} (sudo)"
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
            return
        fi
        echo "missing Debian packages: ${missing[*]}" >&2
        echo "run as root, or install them: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    ld_log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ld_build DIR [cmake args...]: configure (once) and build into DIR.
ld_build() {
    local dir=$1; shift
    cmake -S "$LD_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$(nproc)" >/dev/null
}
