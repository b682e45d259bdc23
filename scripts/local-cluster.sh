#!/usr/bin/env bash
# A 3-member Keel cluster on this machine, started the way etcd's own Procfile starts etcd's local cluster:
# members infra1..infra3 on client ports 2379/22379/32379 and peer ports 2380/22380/32380.
#
#   scripts/local-cluster.sh start    # build (release) if needed, start the three members, wait for a leader
#   scripts/local-cluster.sh status   # etcdctl endpoint status for all three
#   scripts/local-cluster.sh kill N   # kill -9 member N (1..3), e.g. the leader
#   scripts/local-cluster.sh restart N
#   scripts/local-cluster.sh stop     # stop all; data stays in ./local-cluster (rm -rf it to start over)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${KEEL_LOCAL_CLUSTER_DIR:-$PWD/local-cluster}
BIN=${KEEL_BIN:-$PWD/.build/release/keel}
TOKEN=keel-local-cluster
CLUSTER="infra1=http://127.0.0.1:2380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380"
ENDPOINTS=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379
client_port() { case $1 in 1) echo 2379;; 2) echo 22379;; 3) echo 32379;; esac; }
peer_port() { case $1 in 1) echo 2380;; 2) echo 22380;; 3) echo 32380;; esac; }

start_member() {
    local n=$1 client peer
    client=http://127.0.0.1:$(client_port "$n")
    peer=http://127.0.0.1:$(peer_port "$n")
    mkdir -p "$DIR"
    nohup "$BIN" --name "infra$n" --data-dir "$DIR/infra$n.etcd" \
        --listen-client-urls "$client" --advertise-client-urls "$client" \
        --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
        --initial-cluster "$CLUSTER" --initial-cluster-token "$TOKEN" --initial-cluster-state new \
        >"$DIR/infra$n.log" 2>&1 &
    echo $! >"$DIR/infra$n.pid"
}

wait_ready() {
    local n=$1
    for _ in $(seq 1 300); do
        grep -q "ready to serve client requests" "$DIR/infra$n.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "infra$n did not become ready; see $DIR/infra$n.log" >&2
    return 1
}

case "${1:-}" in
start)
    if [[ ! -x "$BIN" ]]; then scripts/install-deps.sh; swift build -c release --product keel; fi
    for n in 1 2 3; do start_member "$n"; done
    for n in 1 2 3; do wait_ready "$n"; done
    ETCDCTL_API=3 etcdctl --endpoints "$ENDPOINTS" endpoint status -w table
    ;;
status)
    ETCDCTL_API=3 etcdctl --endpoints "$ENDPOINTS" endpoint status -w table
    ;;
kill)
    kill -9 "$(cat "$DIR/infra$2.pid")"
    ;;
restart)
    : >"$DIR/infra$2.log"
    start_member "$2"
    wait_ready "$2"
    ;;
stop)
    for n in 1 2 3; do
        [[ -f "$DIR/infra$n.pid" ]] && kill "$(cat "$DIR/infra$n.pid")" 2>/dev/null || true
    done
    ;;
*)
    sed -n '2,10p' "$0"
    exit 2
    ;;
esac
