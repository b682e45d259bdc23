#!/usr/bin/env bash
# Put throughput over TLS, Keel vs real etcd, one member each, same machine, same certificates: h2load
# (Debian nghttp2-client) speaks TLS with ALPN h2 to the https client URL and sends one raw gRPC PutRequest
# body (KEY_SIZE-byte key, VAL_SIZE random bytes) per stream, so neither server is judged by our own client.
#
# h2load cannot present a client certificate, so the servers get --cert-file/--key-file (EC P-256, made with
# openssl in the work dir, SAN 127.0.0.1) without --client-cert-auth. h2load counts HTTP 200 as success, which
# gRPC sends for errors too: the script reads each server's grpc_server_handled_total{grpc_method="Put",
# grpc_code="OK"} and fails unless every Put ended OK.
#
# Knobs: CONNS=16 STREAMS=32 PUTS=100000 KEY_SIZE=8 VAL_SIZE=256
#        SKIP_BUILD=1 (reuse the last release build)  SCRATCH=.build-bench  KEEL=path  ETCD=path
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
CONNS=${CONNS:-16}
STREAMS=${STREAMS:-32}
PUTS=${PUTS:-100000}
KEY_SIZE=${KEY_SIZE:-8}
VAL_SIZE=${VAL_SIZE:-256}
if [[ -z "${SKIP_BUILD:-}" && -z "${KEEL:-}" ]]; then
    (cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --product keel >&2)
fi
KEEL=${KEEL:-$(cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --show-bin-path)/keel}
ETCD=${ETCD:-$(command -v etcd)}
command -v h2load >/dev/null || { echo "h2load not found (apt-get install nghttp2-client)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/keel-tls-bench.XXXXXX)
PID=""
cleanup() { [[ -n "$PID" ]] && { kill -KILL "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$WORK"; }
trap cleanup EXIT

read -r CLIENT PEER <<<"$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')"

# A CA and a server certificate it signed (SAN 127.0.0.1), both servers use the same files.
(
    cd "$WORK"
    printf '[req]\ndistinguished_name=dn\n[dn]\n[leaf]\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out ca-key.pem
    openssl req -x509 -new -key ca-key.pem -out ca.pem -days 2 -subj /CN=bench-ca
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out server-key.pem
    openssl req -new -key server-key.pem -out server.csr -subj /CN=server -config ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -set_serial 1 -out server.pem -days 2 \
        -extfile ext.cnf -extensions leaf
) 2>/dev/null

# One framed gRPC PutRequest (h2load sends the same body every time).
python3 - "$WORK/put" "$KEY_SIZE" "$VAL_SIZE" <<'PY'
import os, struct, sys
path, ks, vs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def varint(n):
    out = b""
    while n >= 0x80: out += bytes([n & 0x7f | 0x80]); n >>= 7
    return out + bytes([n])
key, value = b"0" * ks, os.urandom(vs)
msg = b"\x0a" + varint(len(key)) + key + b"\x12" + varint(len(value)) + value
open(path, "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)
PY

run() {
    local name=$1 binary=$2 dir="$WORK/$1" url="https://127.0.0.1:$CLIENT" out
    mkdir -p "$dir"
    env -u ETCD_NAME -u ETCD_DATA_DIR "$binary" --name m0 --data-dir "$dir/data" \
        --listen-client-urls "$url" --advertise-client-urls "$url" \
        --listen-peer-urls "http://127.0.0.1:$PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
        --initial-cluster "m0=http://127.0.0.1:$PEER" \
        --cert-file "$WORK/server.pem" --key-file "$WORK/server-key.pem" >"$dir/log" 2>&1 &
    PID=$!
    until grep -q "ready to serve client requests" "$dir/log"; do
        kill -0 "$PID" 2>/dev/null || { cat "$dir/log" >&2; return 1; }
        sleep 0.1
    done
    out=$(h2load -n "$PUTS" -c "$CONNS" -m "$STREAMS" -d "$WORK/put" -H 'content-type: application/grpc' \
        -H 'te: trailers' "$url/etcdserverpb.KV/Put")
    grep -q "requests: $PUTS total, $PUTS started, $PUTS done, $PUTS succeeded, 0 failed, 0 errored" <<<"$out" \
        || { echo "$out" >&2; return 1; }
    grep -q "Application protocol: h2" <<<"$out" || { echo "$name: no h2 over TLS: $out" >&2; return 1; }
    curl -s --cacert "$WORK/ca.pem" "$url/metrics" >"$dir/metrics"
    python3 - "$name" "$PUTS" "$dir/metrics" <<'PY' || return 1
import re, sys
name, puts = sys.argv[1], int(sys.argv[2])
ok = 0
for line in open(sys.argv[3]):
    m = re.match(r'grpc_server_handled_total\{(.*)\} (\S+)', line)
    if m and 'grpc_code="OK"' in m.group(1) and 'grpc_method="Put"' in m.group(1):
        ok += float(m.group(2))
if ok < puts:
    sys.exit(f"{name}: only {ok:.0f} of {puts} Put calls ended OK")
PY
    echo "$name $(awk '/^finished in/ { gsub(",", "", $4); print $4 }' <<<"$out") $(awk '/^time for request:/ { print $5 }' <<<"$out")"
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}

E=$(run etcd "$ETCD")
K=$(run keel "$KEEL")
python3 - "$E" "$K" <<PY
import sys
e, k = sys.argv[1].split(), sys.argv[2].split()
print("one member, Put over TLS (https, ALPN h2, EC P-256), h2load -c $CONNS -m $STREAMS -n $PUTS, raw gRPC, ${VAL_SIZE}-byte values")
print(f"{'':22}{'etcd':>12}{'keel':>12}{'keel/etcd':>11}")
print(f"{'Put req/s':22}{float(e[1]):>12.0f}{float(k[1]):>12.0f}{float(k[1]) / float(e[1]):>10.2f}x")
print(f"{'mean latency':22}{e[2]:>12}{k[2]:>12}")
PY
