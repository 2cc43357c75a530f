# scripts/lib/topology.sh -- builds a city / district / township tree of data
# directories on loopback, for the demo and the benchmarks. Sourced after
# common.sh; the caller sets B (the build dir) and W (a work dir).

# Ports below the kernel's ephemeral range, which outgoing connections use.
topo_port() {
    local lo p
    read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
    [ "$lo" -gt 12000 ] || lo=32768
    while :; do
        p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (lo - 10003) ))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null && continue
        (exec 3<>"/dev/tcp/127.0.0.1/$((p + 2))") 2>/dev/null && continue
        echo "$p"; return
    done
}

declare -A TOPO_PORT TOPO_KEY TOPO_DIR
TOPO_PIDS=()

# topo_hub ID NAME TYPE [PARENT_ID]
topo_hub() {
    local id=$1 dir="$W/${1//\//_}" port up=()
    port=$(topo_port)
    [ $# -ge 4 ] && up=(--upstream "tcp://127.0.0.1:${TOPO_PORT[$4]}" --upstream-key "${TOPO_KEY[$4]}")
    TOPO_KEY[$id]=$("$B/liandong-hub" init --dir "$dir" --id "$id" --name "$2" --type "$3" \
        --listen "tcp://127.0.0.1:$port" "${up[@]}" --json | jq -r .public_key)
    TOPO_PORT[$id]=$port
    TOPO_DIR[$id]=$dir
    [ $# -ge 4 ] && "$B/liandong-hub" allow --dir "${TOPO_DIR[$4]}" "$id" "${TOPO_KEY[$id]}"
    return 0
}

# topo_node ID NAME PARENT_ID
topo_node() {
    local id=$1 dir="$W/${1//\//_}"
    TOPO_KEY[$id]=$("$B/liandong-node" init --dir "$dir" --id "$id" --name "$2" --type township \
        --upstream "tcp://127.0.0.1:${TOPO_PORT[$3]}" --upstream-key "${TOPO_KEY[$3]}" --json \
        | jq -r .public_key)
    TOPO_DIR[$id]=$dir
    "$B/liandong-hub" allow --dir "${TOPO_DIR[$3]}" "$id" "${TOPO_KEY[$id]}"
}

# topo_start ID...: starts the daemons of these units (hubs and nodes alike).
topo_start() {
    local id bin
    for id in "$@"; do
        bin="$B/liandong-node"
        grep -q '^listen = tcp' "${TOPO_DIR[$id]}/liandong.conf" && bin="$B/liandong-hub"
        "$bin" run --dir "${TOPO_DIR[$id]}" 2>>"${TOPO_DIR[$id]}.log" &
        TOPO_PIDS+=($!)
        eval "TOPO_PID_${id//[^a-z0-9]/_}=$!"
    done
}

topo_pid() { local v="TOPO_PID_${1//[^a-z0-9]/_}"; echo "${!v}"; }

# topo_stop: SIGTERM to every daemon started here, and wait for them.
topo_stop() {
    local p
    for p in "${TOPO_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${TOPO_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    TOPO_PIDS=()
}
