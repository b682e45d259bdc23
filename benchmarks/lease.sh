#!/usr/bin/env bash
# Leases, Keel vs real etcd, same machine, one run: LeaseGrant requests/s (each a Raft proposal that
# creates a lease) and LeaseKeepAlive requests/s (the leader's renewal path), driven over raw gRPC by
# h2load (Debian nghttp2-client), so neither server is judged by our own client.
#
# Each keep-alive request is a LeaseKeepAlive stream carrying one renewal (h2load sends one body per
# stream), of one of KEEPALIVE_LEASES leases, over CONNS connections × STREAMS concurrent streams.
#
# Knobs: CONNS=16 STREAMS=32 GRANTS=50000 KEEPALIVES=200000 KEEPALIVE_LEASES=16 TTL=600
#        SKIP_BUILD=1 (reuse the last release build)  SCRATCH=.build-bench  KEEL=path
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
CONNS=${CONNS:-16}
STREAMS=${STREAMS:-32}
GRANTS=${GRANTS:-50000}
KEEPALIVES=${KEEPALIVES:-200000}
KEEPALIVE_LEASES=${KEEPALIVE_LEASES:-16}
TTL=${TTL:-600}
if [[ -z "${SKIP_BUILD:-}" && -z "${KEEL:-}" ]]; then
    (cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --product keel >&2)
fi
KEEL=${KEEL:-$(cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --show-bin-path)/keel}
ETCD=${ETCD:-$(command -v etcd)}
WORK=$(mktemp -d /tmp/keel-lease-bench.XXXXXX)
PID=""
cleanup() { [[ -n "$PID" ]] && { kill -KILL "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT

read -r CLIENT PEER <<<"$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')"

# grpc_frame FILE VARINT-FIELDS...: a gRPC message (uncompressed, 5-byte prefix) of "field=value" varints.
grpc_frame() {
    python3 - "$@" <<'PY'
import sys
def varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80); v >>= 7
    out.append(v)
    return bytes(out)
body = b"".join(varint(int(f) << 3) + varint(int(v)) for f, v in (a.split("=") for a in sys.argv[2:]))
open(sys.argv[1], "wb").write(b"\0" + len(body).to_bytes(4, "big") + body)
PY
}

# h2load_rps PATH BODYFILE TOTAL: requests/s h2load reports (and fails on any non-2xx or errored request).
h2load_rps() {
    local out
    out=$(h2load -n "$3" -c "$CONNS" -m "$STREAMS" -d "$2" -H 'content-type: application/grpc' -H 'te: trailers' \
        "http://127.0.0.1:$CLIENT$1")
    grep -q "requests: $3 total, $3 started, $3 done, $3 succeeded, 0 failed, 0 errored" <<<"$out" || { echo "$out" >&2; return 1; }
    awk '/^finished in/ { gsub(",", "", $4); print $4 }' <<<"$out"
}

run() {
    local name=$1 binary=$2 dir="$WORK/$1"
    mkdir -p "$dir"
    env -u ETCD_NAME -u ETCD_DATA_DIR "$binary" --name m0 --data-dir "$dir/data" \
        --listen-client-urls "http://127.0.0.1:$CLIENT" --advertise-client-urls "http://127.0.0.1:$CLIENT" \
        --listen-peer-urls "http://127.0.0.1:$PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
        --initial-cluster "m0=http://127.0.0.1:$PEER" >"$dir/log" 2>&1 &
    PID=$!
    until grep -q "ready to serve client requests" "$dir/log"; do sleep 0.1; done
    grpc_frame "$dir/grant" 1="$TTL"
    local grants keepalives i files=()
    grants=$(h2load_rps /etcdserverpb.Lease/LeaseGrant "$dir/grant" "$GRANTS")
    # Keep-alives renew leases granted with client-chosen ids 1..KEEPALIVE_LEASES; one body per run, so
    # the total is split over the leases.
    local per=$((KEEPALIVES / KEEPALIVE_LEASES)) start end
    for ((i = 1; i <= KEEPALIVE_LEASES; i++)); do
        grpc_frame "$dir/g$i" 1="$TTL" 2="$i"
        h2load -n 1 -c 1 -d "$dir/g$i" -H 'content-type: application/grpc' -H 'te: trailers' \
            "http://127.0.0.1:$CLIENT/etcdserverpb.Lease/LeaseGrant" >/dev/null
        grpc_frame "$dir/k$i" 1="$i"
        files+=("$dir/k$i")
    done
    start=$(date +%s.%N)
    for f in "${files[@]}"; do h2load_rps /etcdserverpb.Lease/LeaseKeepAlive "$f" "$per" >/dev/null; done
    end=$(date +%s.%N)
    keepalives=$(python3 -c "print(round($per * $KEEPALIVE_LEASES / ($end - $start), 1))")
    # h2load sees HTTP 200 even for a gRPC error (it is in the trailers): both servers count calls by
    # gRPC code (grpc_server_handled_total), so every call must have ended OK.
    curl -s "http://127.0.0.1:$CLIENT/metrics" >"$dir/metrics"
    python3 - "$name" "$GRANTS" "$KEEPALIVE_LEASES" "$((per * KEEPALIVE_LEASES))" "$dir/metrics" <<'PY' || return 1
import re, sys
name, grants, extra, keepalives = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = {}
for line in open(sys.argv[5]):
    m = re.match(r'grpc_server_handled_total\{(.*)\} (\S+)', line)
    if m and 'grpc_code="OK"' in m.group(1):
        method = re.search(r'grpc_method="(\w+)"', m.group(1)).group(1)
        ok[method] = float(m.group(2))
want = {"LeaseGrant": grants + extra, "LeaseKeepAlive": keepalives}
for method, n in want.items():
    if ok.get(method, 0) < n:
        sys.exit(f"{name}: only {ok.get(method, 0):.0f} of {n} {method} calls ended OK")
PY
    echo "$name $grants $keepalives"
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

E=$(run etcd "$ETCD")
K=$(run keel "$KEEL")
python3 - "$E" "$K" <<PY
import sys
e, k = sys.argv[1].split(), sys.argv[2].split()
print("one member, h2load -c $CONNS -m $STREAMS, raw gRPC")
print(f"{'':24}{'etcd':>12}{'keel':>12}{'keel/etcd':>11}")
for i, name in ((1, "LeaseGrant req/s"), (2, "LeaseKeepAlive req/s")):
    print(f"{name:24}{float(e[i]):>12.0f}{float(k[i]):>12.0f}{float(k[i]) / float(e[i]):>10.2f}x")
PY
