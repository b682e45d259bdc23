#!/usr/bin/env bash
# One client's Put latency, Keel vs real etcd, against this disk's fdatasync time: ROUNDS rounds, each
# starting a fresh single member of etcd and then of Keel, measuring the disk (4 KiB pwrite + fdatasync
# into a preallocated file, the probe compare.sh uses) right before PUTS Puts from one keel-bench
# client. The disk's latency drifts by 2x over minutes on a shared machine; alternating the servers
# round by round puts both through the same drift, where compare.sh measures each once.
#
# Knobs: ROUNDS=3 PUTS=5000 PROBES=1000 VAL_SIZE=256
#        SKIP_BUILD=1 (reuse the last release builds)  SCRATCH=.build-bench  KEEL=path BENCH=path
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
ROUNDS=${ROUNDS:-3}
PUTS=${PUTS:-5000}
PROBES=${PROBES:-1000}
VAL_SIZE=${VAL_SIZE:-256}
if [[ -z "${SKIP_BUILD:-}" ]]; then
    (cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --product keel >&2 &&
        swift build --scratch-path "$SCRATCH" -c release --product keel-bench >&2)
fi
BIN=$(cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --show-bin-path)
KEEL=${KEEL:-$BIN/keel}
BENCH=${BENCH:-$BIN/keel-bench}
ETCD=${ETCD:-$(command -v etcd)}
WORK=$(mktemp -d /tmp/keel-one-client.XXXXXX)
PID=""
cleanup() { [[ -n "$PID" ]] && { kill -KILL "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT

# compare.sh's probe; its preallocated-file mean is the row's reference.
gcc -O2 -o "$WORK/probe" "$ROOT/benchmarks/fsync-probe.c"

# round NAME BINARY: a fresh member, a warm-up, the probe, then the one-client Puts; prints one line.
round() {
    local name=$1 binary=$2 client peer
    read -r client peer <<<"$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')"
    rm -rf "$WORK/data"
    "$binary" --name m0 --data-dir "$WORK/data" --listen-client-urls "http://127.0.0.1:$client" \
        --advertise-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$peer" --initial-cluster "m0=http://127.0.0.1:$peer" \
        >"$WORK/$name.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do curl -sf -m 1 "http://127.0.0.1:$client/health" >/dev/null && break; sleep 0.1; done
    "$BENCH" put --endpoints "127.0.0.1:$client" --total 1000 --val-size "$VAL_SIZE" --key-space-size 100000 --json >/dev/null
    local probe
    probe=$("$WORK/probe" "$WORK" "$PROBES" | sed -n 's/^prealloc_mean_us=\([0-9]*\).*/\1/p')
    "$BENCH" put --endpoints "127.0.0.1:$client" --total "$PUTS" --val-size "$VAL_SIZE" --key-space-size 100000 \
        --seed 4 --json | python3 -c "import json, sys
d = json.loads(sys.stdin.read().strip().splitlines()[-1])
probe = $probe / 1000
print(f\"{'$name':5} fdatasync mean {probe:.3f} ms   put mean {d['mean_ms']:.3f} ms ({d['mean_ms'] - probe:+.3f})   p50 {d['p50_ms']:.3f}   p90 {d['p90_ms']:.3f}   p99 {d['p99_ms']:.3f}\")"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
}

echo "one client, $PUTS Puts of $VAL_SIZE-byte values per round; fdatasync probe ($PROBES samples) just before each"
for r in $(seq "$ROUNDS"); do
    round etcd "$ETCD"
    round keel "$KEEL"
done
