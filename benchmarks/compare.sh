#!/usr/bin/env bash
# Keel vs real etcd, same machine, same workload, one run.
#
# Builds keel and keel-bench (release), starts a fresh single-member etcd and a fresh keel (each
# on free ports with its own temp data dir, quickstart flags), runs the same keel-bench put and
# range workloads against each in turn, stops them, and prints a table with the ratio keel/etcd.
#
# Environment knobs (defaults finish in well under 3 minutes on 2 cores):
#   CONNS=16 CLIENTS=256 PUT_TOTAL=200000 RANGE_TOTAL=100000 KEY_SIZE=8 VAL_SIZE=256
#   KEY_SPACE=100000 THREADS=1 RANGE_CONSISTENCY=l   ONLY=etcd|keel (run one server)
#   SCRATCH=.build-bench (SwiftPM scratch path)   SKIP_BUILD=1 (reuse the last build)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
CONNS=${CONNS:-16}
CLIENTS=${CLIENTS:-256}
PUT_TOTAL=${PUT_TOTAL:-200000}
RANGE_TOTAL=${RANGE_TOTAL:-100000}
KEY_SIZE=${KEY_SIZE:-8}
VAL_SIZE=${VAL_SIZE:-256}
KEY_SPACE=${KEY_SPACE:-100000}
THREADS=${THREADS:-1}
RANGE_CONSISTENCY=${RANGE_CONSISTENCY:-l}
ONLY=${ONLY:-}
READY_TIMEOUT=30

if [[ -z "${SKIP_BUILD:-}" ]]; then
    echo "== building keel and keel-bench (release)" >&2
    # One --product per invocation: SwiftPM honours only the last one given.
    for product in keel keel-bench; do
        (cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --product "$product" >&2)
    done
fi
BIN=$(cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --show-bin-path)
BENCH="$BIN/keel-bench"
KEEL="$BIN/keel"
ETCD=${ETCD:-$(command -v etcd)}

WORK=$(mktemp -d /tmp/keel-compare.XXXXXX)
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server NAME BINARY: quickstart flags on free ports; sets SERVER_PID and CLIENT_PORT.
start_server() {
    local name=$1 binary=$2
    CLIENT_PORT=$(free_port)
    local peer_port
    peer_port=$(free_port)
    while [[ "$peer_port" == "$CLIENT_PORT" ]]; do peer_port=$(free_port); done
    local client="http://127.0.0.1:$CLIENT_PORT" peer="http://127.0.0.1:$peer_port"
    local log="$WORK/$name.log"
    : >"$log"
    env -u ETCD_NAME "$binary" --name default --data-dir "$WORK/$name.data" \
        --listen-client-urls "$client" --advertise-client-urls "$client" \
        --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
        --initial-cluster "default=$peer" >"$log" 2>&1 &
    SERVER_PID=$!
    local waited=0
    until grep -q "ready to serve client requests" "$log"; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "$name exited before serving; log:" >&2; tail -20 "$log" >&2; return 1
        fi
        if (( waited >= READY_TIMEOUT * 10 )); then
            echo "$name not ready after ${READY_TIMEOUT}s; log:" >&2; tail -20 "$log" >&2; return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

stop_server() {
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# json_field JSON NAME
json_field() {
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

declare -A RESULT
run_server() {
    local name=$1 binary=$2
    echo "== $name: starting" >&2
    start_server "$name" "$binary"
    local endpoint="127.0.0.1:$CLIENT_PORT"
    echo "== $name: put x$PUT_TOTAL" >&2
    RESULT[$name.put]=$("$BENCH" put --endpoint "$endpoint" --conns "$CONNS" --clients "$CLIENTS" \
        --total "$PUT_TOTAL" --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" --key-space "$KEY_SPACE" \
        --threads "$THREADS" --json)
    echo "   ${RESULT[$name.put]}" >&2
    echo "== $name: range ($RANGE_CONSISTENCY) x$RANGE_TOTAL" >&2
    RESULT[$name.range]=$("$BENCH" range --endpoint "$endpoint" --conns "$CONNS" --clients "$CLIENTS" \
        --total "$RANGE_TOTAL" --key-size "$KEY_SIZE" --key-space "$KEY_SPACE" \
        --consistency "$RANGE_CONSISTENCY" --threads "$THREADS" --json)
    echo "   ${RESULT[$name.range]}" >&2
    stop_server
}

SERVERS=(etcd keel)
[[ -n "$ONLY" ]] && SERVERS=("$ONLY")
for name in "${SERVERS[@]}"; do
    case $name in
        etcd) run_server etcd "$ETCD" ;;
        keel) run_server keel "$KEEL" ;;
        *) echo "unknown server $name" >&2; exit 2 ;;
    esac
done

echo
echo "keel-bench: conns=$CONNS clients=$CLIENTS key=${KEY_SIZE}B value=${VAL_SIZE}B key-space=$KEY_SPACE (nproc=$(nproc))"
printf '%-12s %-6s %12s %9s %9s %9s %7s\n' workload server "req/s" "p50 ms" "p90 ms" "p99 ms" errors
for workload in put range; do
    for name in "${SERVERS[@]}"; do
        json=${RESULT[$name.$workload]}
        printf '%-12s %-6s %12s %9s %9s %9s %7s\n' "$workload" "$name" \
            "$(json_field "$json" requests_per_sec)" "$(json_field "$json" p50_ms)" \
            "$(json_field "$json" p90_ms)" "$(json_field "$json" p99_ms)" "$(json_field "$json" errors)"
    done
    if [[ ${#SERVERS[@]} == 2 ]]; then
        python3 - "${RESULT[keel.$workload]}" "${RESULT[etcd.$workload]}" "$workload" <<'PY'
import json, sys
keel, etcd, workload = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
print(f"{workload:<12} {'ratio':<6} {keel['requests_per_sec'] / etcd['requests_per_sec']:>11.2f}x  (keel/etcd throughput)")
PY
    fi
done
