#!/usr/bin/env bash
# Keel vs real etcd, same machine, same workload, one run, one table.
#
# Builds keel and keel-bench (release). Then, for each member count in MEMBERS (default "1 3"):
# starts a fresh etcd cluster of that size (each member on free ports with its own temp data dir),
# waits until every member is ready and one is the Raft leader, runs the workloads against the
# LEADER's client endpoint, stops it; then the same with keel, same flags. Each load is driven by
# keel-bench (etcd's `benchmark` shape, on KeelClient) AND by h2load (nghttp2-client) sending raw
# gRPC, so neither server is judged by our own tool alone. Prints one table per member count:
# Put throughput and p50/p99 (16 conns x 32 streams, 256-byte values), Put with one client beside
# this disk's measured fdatasync time, Range linearizable and serializable (3 members), server CPU
# seconds per 10k Puts (/proc/PID/stat), and with MEM=1 resident memory after 1M keys split into
# anonymous and file-backed pages (/proc/PID/status RssAnon/RssFile), with the ratio keel/etcd.
#
# Environment knobs (the defaults take 5-7 minutes on 2 cores, build excluded):
#   MEMBERS="1 3"          member counts to run, in order (e.g. MEMBERS=3)
#   CONNS=16 CLIENTS=512 (16 x 32) KEY_SIZE=8 VAL_SIZE=256 KEY_SPACE=100000 THREADS=1
#   PUT_TOTAL=200000 (1 member) PUT_TOTAL_3=100000  ONE_TOTAL=10000 (one-client puts)
#   RANGE_TOTAL=50000 (3 members, each of l and s)   RANGES_ON_1=0 (1: ranges on 1 member too)
#   H2LOAD=1 (0 skips the h2load rows) H2_PUT_TOTAL=100000 H2_RANGE_TOTAL=50000
#   SPREAD=1 also runs put-all on 3 members: the same Put load with the connections spread over
#            all three client endpoints (followers forward to the leader); SPREAD_TOTAL=100000
#   MEM=0 (1: after the rest, one member per server gets MEM_KEYS=1000000 distinct keys of VAL_SIZE
#          through keel-bench put --sequential-keys, then its RssAnon/RssFile are read; 4-5 min)
#   HEARTBEAT=100 ELECTION=1000 (ms, etcd's defaults, passed to both servers)
#   ONLY=etcd|keel (run one server)   SKIP_BUILD=1 (reuse the last build)
#   SCRATCH=.build-bench (SwiftPM scratch path)   KEEP_WORK=1 (keep logs and data dirs)
#   FSYNC_PROBES=1000 (4 KiB pwrite + fdatasync samples of the probe; 0 skips it)
#   WATCH=0 (1: for 1 member the watch fan-out workload after put (issue 8): WATCH_STREAMS=10 x
#            WATCH_PER_STREAM=100 watchers over WATCH_CONNS=1 connections, WATCH_PUTS=20000 puts)
#   KEEL=path (a keel binary to run instead of the one just built)  BENCH=path (a keel-bench binary)
#   TLS=1 serves every client and peer URL over https with mutual certificate auth (--cert-file,
#          --key-file, --trusted-ca-file, --client-cert-auth and the --peer-* equivalents), certificates
#          made with openssl (EC P-256) in the work dir; keel-bench connects over TLS (ALPN h2) to both;
#          h2load cannot present a client certificate, so its rows are skipped (H2LOAD=0)
#   NICE=-10 runs every server and load generator at that niceness (needs root): shields a run from
#            background jobs on a shared machine, equally for both servers (default: unchanged)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
MEMBERS=${MEMBERS:-"1 3"}
CONNS=${CONNS:-16}
CLIENTS=${CLIENTS:-512}
PUT_TOTAL=${PUT_TOTAL:-200000}
PUT_TOTAL_3=${PUT_TOTAL_3:-100000}
ONE_TOTAL=${ONE_TOTAL:-10000}
RANGE_TOTAL=${RANGE_TOTAL:-50000}
RANGES_ON_1=${RANGES_ON_1:-0}
H2LOAD=${H2LOAD:-1}
H2_PUT_TOTAL=${H2_PUT_TOTAL:-100000}
H2_RANGE_TOTAL=${H2_RANGE_TOTAL:-50000}
SPREAD=${SPREAD:-1}
SPREAD_TOTAL=${SPREAD_TOTAL:-100000}
MEM=${MEM:-0}
MEM_KEYS=${MEM_KEYS:-1000000}
KEY_SIZE=${KEY_SIZE:-8}
VAL_SIZE=${VAL_SIZE:-256}
KEY_SPACE=${KEY_SPACE:-100000}
THREADS=${THREADS:-1}
HEARTBEAT=${HEARTBEAT:-100}
ELECTION=${ELECTION:-1000}
ONLY=${ONLY:-}
FSYNC_PROBES=${FSYNC_PROBES:-1000}
READY_TIMEOUT=${READY_TIMEOUT:-60}
NICE=${NICE:-}
WATCH=${WATCH:-0}
WATCH_STREAMS=${WATCH_STREAMS:-10}
WATCH_PER_STREAM=${WATCH_PER_STREAM:-100}
WATCH_CONNS=${WATCH_CONNS:-1}
WATCH_PUTS=${WATCH_PUTS:-20000}
WATCH_TIMEOUT=${WATCH_TIMEOUT:-120}
TLS=${TLS:-0}
[[ "$TLS" == 1 ]] && H2LOAD=0
RUN=()
[[ -n "$NICE" ]] && RUN=(nice -n "$NICE")

for m in $MEMBERS; do
    [[ "$m" == 1 || "$m" == 3 ]] || { echo "MEMBERS: only 1 and 3 are supported, got $m" >&2; exit 2; }
done

KEEL_SOURCE="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD -- Sources Package.swift 2>/dev/null || echo '+uncommitted changes')"
[[ -n "${KEEL:-}" ]] && KEEL_SOURCE="the given binary $KEEL"
[[ -n "${SKIP_BUILD:-}" && -z "${KEEL:-}" ]] && KEEL_SOURCE="last build (SKIP_BUILD; tree now at $KEEL_SOURCE)"
if [[ -z "${SKIP_BUILD:-}" ]]; then
    echo "== building keel and keel-bench (release)" >&2
    # One --product per invocation: SwiftPM honours only the last one given.
    for product in keel keel-bench; do
        (cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --product "$product" >&2)
    done
fi
BIN=$(cd "$ROOT" && swift build --scratch-path "$SCRATCH" -c release --show-bin-path)
BENCH=${BENCH:-$BIN/keel-bench}
H2LOAD_BIN=$(command -v h2load || true)
if [[ "$H2LOAD" == 1 && -z "$H2LOAD_BIN" ]]; then
    echo "h2load not found (apt-get install nghttp2-client), or H2LOAD=0 to skip its rows" >&2; exit 2
fi
KEEL=${KEEL:-$BIN/keel}
ETCD=${ETCD:-$(command -v etcd)}
ETCDCTL=${ETCDCTL:-$(command -v etcdctl)}

WORK=$(mktemp -d /tmp/keel-compare.XXXXXX)
PIDS=()        # every server process still running
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
    if [[ -n "${KEEP_WORK:-}" ]]; then echo "work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
# forget_pids PID...: drop reaped processes from PIDS.
forget_pids() {
    local pid keep=()
    for pid in "${PIDS[@]}"; do
        [[ " $* " == *" $pid "* ]] || keep+=("$pid")
    done
    PIDS=(${keep[@]+"${keep[@]}"})
}
trap 'exit 130' INT
trap 'exit 143' TERM

# TLS=1: a CA, a certificate for every server (client and peer side, SAN 127.0.0.1) and one for the clients.
SCHEME=http
SERVER_TLS=()
CTL_TLS=()
BENCH_TLS=()
if [[ "$TLS" == 1 ]]; then
    SCHEME=https
    CERTS="$WORK/certs"
    mkdir -p "$CERTS"
    (
        cd "$CERTS"
        printf '[req]\ndistinguished_name=dn\n[dn]\n[leaf]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >ext.cnf
        for name in ca server client; do
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$name-key.pem" 2>/dev/null
        done
        openssl req -x509 -new -key ca-key.pem -out ca.pem -days 2 -subj /CN=bench-ca -config ext.cnf -extensions ca
        for name in server client; do
            openssl req -new -key "$name-key.pem" -out "$name.csr" -subj "/CN=$name" -config ext.cnf
            openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "$RANDOM" -out "$name.pem" \
                -days 2 -extfile ext.cnf -extensions leaf 2>/dev/null
        done
    ) >&2
    SERVER_TLS=(--cert-file "$CERTS/server.pem" --key-file "$CERTS/server-key.pem" --trusted-ca-file "$CERTS/ca.pem"
                --client-cert-auth --peer-cert-file "$CERTS/server.pem" --peer-key-file "$CERTS/server-key.pem"
                --peer-trusted-ca-file "$CERTS/ca.pem" --peer-client-cert-auth)
    CTL_TLS=(--cacert "$CERTS/ca.pem" --cert "$CERTS/client.pem" --key "$CERTS/client-key.pem")
    BENCH_TLS=(--tls-cacert "$CERTS/ca.pem" --tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client-key.pem")
fi

# free_ports N: N distinct free TCP ports on 127.0.0.1 (all bound at once, so no duplicates).
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()
PY
}

# cpu_ticks PID: user+system CPU of a process in clock ticks (0 once it is gone).
cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    stat=${stat##*) }            # drop "pid (comm) ", comm may contain spaces
    read -r -a f <<<"$stat"
    echo $(( f[11] + f[12] ))    # utime, stime (fields 14 and 15 of the full line)
}
CLK_TCK=$(getconf CLK_TCK)

# The cluster of the current run: member i is MEMBER_PIDS[i], serving on CLIENT_EPS[i] (host:port).
MEMBER_PIDS=()
CLIENT_EPS=()
LEADER=""      # index of the Raft leader

# start_cluster NAME BINARY N: the same flags for etcd and keel, free ports, own data dirs.
start_cluster() {
    local name=$1 binary=$2 n=$3
    local ports i initial="" dir="$WORK/$name-$n"
    read -r -a ports <<<"$(free_ports $((2 * n)))"
    for ((i = 0; i < n; i++)); do
        initial+="${initial:+,}m$i=$SCHEME://127.0.0.1:${ports[2 * i + 1]}"
    done
    mkdir -p "$dir"
    MEMBER_PIDS=()
    CLIENT_EPS=()
    for ((i = 0; i < n; i++)); do
        local client="$SCHEME://127.0.0.1:${ports[2 * i]}" peer="$SCHEME://127.0.0.1:${ports[2 * i + 1]}"
        : >"$dir/m$i.log"
        env -u ETCD_NAME -u ETCD_DATA_DIR -u ETCD_INITIAL_CLUSTER ${RUN[@]+"${RUN[@]}"} "$binary" --name "m$i" --data-dir "$dir/m$i.data" \
            --listen-client-urls "$client" --advertise-client-urls "$client" \
            --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
            --initial-cluster "$initial" --initial-cluster-state new \
            --initial-cluster-token "$name-$n-$$" \
            --heartbeat-interval "$HEARTBEAT" --election-timeout "$ELECTION" ${SERVER_TLS[@]+"${SERVER_TLS[@]}"} >"$dir/m$i.log" 2>&1 &
        MEMBER_PIDS+=($!)
        PIDS+=($!)
        CLIENT_EPS+=("127.0.0.1:${ports[2 * i]}")
    done
    local waited=0
    for ((i = 0; i < n; i++)); do
        until grep -q "ready to serve client requests" "$dir/m$i.log"; do
            if ! kill -0 "${MEMBER_PIDS[i]}" 2>/dev/null; then
                echo "$name m$i exited before serving; log:" >&2; tail -20 "$dir/m$i.log" >&2; return 1
            fi
            if ((waited >= READY_TIMEOUT * 10)); then
                echo "$name m$i not ready after ${READY_TIMEOUT}s; log:" >&2; tail -20 "$dir/m$i.log" >&2; return 1
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
    done
    # Every member answers Status and names the same leader; find which endpoint that is.
    local eps status
    eps=$(IFS=,; echo "${CLIENT_EPS[*]}")
    # etcdctl needs the scheme to speak TLS (a bare host:port is plaintext).
    [[ "$TLS" == 1 ]] && { eps=$(printf 'https://%s,' "${CLIENT_EPS[@]}"); eps=${eps%,}; }
    until status=$(ETCDCTL_API=3 "$ETCDCTL" --endpoints "$eps" ${CTL_TLS[@]+"${CTL_TLS[@]}"} --dial-timeout 2s --command-timeout 2s \
                       endpoint status -w json 2>/dev/null) &&
          LEADER=$(python3 - "$status" "$n" <<'PY'
import json, sys
st, n = json.loads(sys.argv[1]), int(sys.argv[2])
leaders = {e["Status"].get("leader", 0) for e in st}
ids = [e["Status"]["header"]["member_id"] for e in st]
if len(st) != n or len(leaders) != 1 or 0 in leaders or next(iter(leaders)) not in ids:
    sys.exit(1)
print(ids.index(next(iter(leaders))))
PY
          ); do
        if ((waited >= READY_TIMEOUT * 10)); then
            echo "$name: no agreed leader after ${READY_TIMEOUT}s; last status: ${status:-none}" >&2; return 1
        fi
        sleep 0.2
        waited=$((waited + 2))
    done
    # etcdctl lists the endpoints in the order given.
    echo "   members ready: ${CLIENT_EPS[*]}; leader m$LEADER (${CLIENT_EPS[LEADER]})" >&2
}

stop_cluster() {
    local pid waited
    for pid in "${MEMBER_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${MEMBER_PIDS[@]}"; do
        waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do sleep 0.1; waited=$((waited + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    forget_pids "${MEMBER_PIDS[@]}"
    MEMBER_PIDS=()
}

declare -A RESULT

# measure KEY KIND CMD...: runs a load generator (KIND keel-bench or h2load) in the background
# (so Ctrl-C or a TERM reaches the trap at once), then stores one JSON line of what it reported,
# with the CPU the leader, the followers and the generator spent, and the cluster's revision
# before and after (for h2load, which cannot see gRPC errors: a Put counts when it made a revision).
measure() {
    local key=$1 kind=$2
    shift 2
    local i before=() after=() rc=0 rev_before rev_after
    rev_before=$(revision)
    for ((i = 0; i < ${#MEMBER_PIDS[@]}; i++)); do before+=("$(cpu_ticks "${MEMBER_PIDS[i]}")"); done
    local t0=$(date +%s.%N)
    ${RUN[@]+"${RUN[@]}"} "$@" >"$WORK/bench.out" 2>"$WORK/bench.err" &
    BENCH_PID=$!
    PIDS+=("$BENCH_PID")
    wait "$BENCH_PID" || rc=$?
    forget_pids "$BENCH_PID"
    local t1=$(date +%s.%N)
    if ((rc != 0)); then
        echo "$kind failed (exit $rc): $*" >&2; cat "$WORK/bench.err" "$WORK/bench.out" >&2; return 1
    fi
    for ((i = 0; i < ${#MEMBER_PIDS[@]}; i++)); do after+=("$(cpu_ticks "${MEMBER_PIDS[i]}")"); done
    rev_after=$(revision)
    local leader_ticks=0 follower_ticks=0
    for ((i = 0; i < ${#MEMBER_PIDS[@]}; i++)); do
        if ((i == LEADER)); then
            leader_ticks=$((after[i] - before[i]))
        else
            follower_ticks=$((follower_ticks + after[i] - before[i]))
        fi
    done
    RESULT[$key]=$(python3 - "$WORK/bench.out" "$kind" "$leader_ticks" "$follower_ticks" "$CLK_TCK" \
                     "$((${#MEMBER_PIDS[@]} - 1))" "$key" "$rev_before" "$rev_after" <<'PY'
import json, re, sys
path, kind = sys.argv[1], sys.argv[2]
leader, followers, tck, nf = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
key, rev0, rev1 = sys.argv[7], int(sys.argv[8]), int(sys.argv[9])
text = open(path).read()
if kind == "keel-bench":
    r = json.loads(text.strip().splitlines()[-1])
else:  # h2load's text report
    def unit(v):
        m = re.match(r"([\d.]+)(us|ms|s)$", v)
        return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
    req = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    t = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", text)
    total, succeeded = int(req.group(1)), int(req.group(3))
    r = {"op": key.split(".")[-1], "total": total, "requests_per_sec": rps, "errors": total - succeeded,
         "mean_ms": unit(t.group(3)), "max_ms": unit(t.group(2)), "p50_ms": None, "p99_ms": None, "cpu_s": 0}
    # HTTP 200 with a non-OK grpc-status counts as succeeded in h2load: for Puts, the revisions
    # the cluster made tell how many were applied.
    if "put" in key:
        r["errors"] = max(r["errors"], total - (rev1 - rev0))
n = max(1, int(r["total"]))
r["cpu_leader_us"] = round(leader / tck / n * 1e6, 1)
r["cpu_follower_us"] = round(followers / tck / n * 1e6 / nf, 1) if nf else None
r["cpu_all_s_per_10k"] = round((leader + followers) / tck / n * 1e4, 3)
r["cpu_leader_s_per_10k"] = round(leader / tck / n * 1e4, 3)
r["revisions"] = rev1 - rev0
r["key"] = key
print(json.dumps(r))
PY
    )
    echo "   ${RESULT[$key]}" >&2
    echo "${RESULT[$key]}" >>"$WORK/results.jsonl"
}

# revision: the leader's store revision (etcdctl endpoint status), 0 if it cannot tell.
revision() {
    local ep=${CLIENT_EPS[LEADER]}
    [[ "$TLS" == 1 ]] && ep="https://$ep"
    ETCDCTL_API=3 "$ETCDCTL" --endpoints "$ep" ${CTL_TLS[@]+"${CTL_TLS[@]}"} --dial-timeout 2s --command-timeout 5s \
        endpoint status -w json 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])' 2>/dev/null || echo 0
}

# bench KEY ENDPOINTS ARGS...: keel-bench ARGS against ENDPOINTS, JSON out.
bench() {
    local key=$1 endpoints=$2
    shift 2
    measure "$key" keel-bench "$BENCH" "$@" --endpoints "$endpoints" --threads "$THREADS" --json ${BENCH_TLS[@]+"${BENCH_TLS[@]}"}
}

# grpc_body FILE put|range-l|range-s: one framed gRPC request for h2load's --data: a Put of a
# VAL_SIZE random value, or a Range, of one KEY_SIZE key (h2load sends the same body every time).
grpc_body() {
    python3 - "$1" "$2" "$KEY_SIZE" "$VAL_SIZE" <<'PY'
import os, struct, sys
path, what, ks, vs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def varint(n):
    out = b""
    while n >= 0x80: out += bytes([n & 0x7f | 0x80]); n >>= 7
    return out + bytes([n])
key = b"0" * ks
msg = b"\x0a" + varint(len(key)) + key                         # field 1: key
if what == "put":
    value = os.urandom(vs)
    msg += b"\x12" + varint(len(value)) + value                # PutRequest.value (2)
elif what == "range-s":
    msg += b"\x38\x01"                                         # RangeRequest.serializable (7)
open(path, "wb").write(b"\x00" + struct.pack(">I", len(msg)) + msg)
PY
}

# h2 KEY ENDPOINT PATH BODY TOTAL: h2load with CONNS connections x (CLIENTS / CONNS) streams each.
h2() {
    local key=$1 endpoint=$2 path=$3 body=$4 total=$5
    measure "$key" h2load "$H2LOAD_BIN" -n "$total" -c "$CONNS" -m $((CLIENTS / CONNS)) -t 1 \
        --data="$body" -H "content-type: application/grpc" -H "te: trailers" "http://$endpoint$path"
}

# run_server NAME BINARY N
run_server() {
    local name=$1 binary=$2 n=$3
    local put_total=$PUT_TOTAL
    ((n == 3)) && put_total=$PUT_TOTAL_3
    echo "== $name x$n: starting" >&2
    start_cluster "$name" "$binary" "$n"
    local leader=${CLIENT_EPS[LEADER]} all
    all=$(IFS=,; echo "${CLIENT_EPS[*]}")
    local keys=(--key-size "$KEY_SIZE" --key-space-size "$KEY_SPACE")
    echo "== $name x$n: put x$put_total ($CONNS conns, $CLIENTS clients) on the leader" >&2
    bench "$n.$name.put" "$leader" put --conns "$CONNS" --clients "$CLIENTS" --total "$put_total" \
        --val-size "$VAL_SIZE" "${keys[@]}"
    echo "== $name x$n: put x$ONE_TOTAL, one client (dirty pages written out, then the fdatasync probe)" >&2
    # The one-client row measures one client's latency, not the write-back of the burst before it: the
    # dirty pages the load left (either server's data file) go to disk first, for both servers alike.
    sync
    sleep 1
    fsync_record "$n.$name.fsync"
    bench "$n.$name.put1" "$leader" put --conns 1 --clients 1 --total "$ONE_TOTAL" --val-size "$VAL_SIZE" "${keys[@]}" --seed 4
    if [[ "$H2LOAD" == 1 ]]; then
        echo "== $name x$n: h2load put x$H2_PUT_TOTAL" >&2
        h2 "$n.$name.h2put" "$leader" /etcdserverpb.KV/Put "$WORK/put.body" "$H2_PUT_TOTAL"
    fi
    if ((n == 3)) || [[ "$RANGES_ON_1" == 1 ]]; then
        for c in l s; do
            echo "== $name x$n: range ($c) x$RANGE_TOTAL on the leader" >&2
            bench "$n.$name.range-$c" "$leader" range --conns "$CONNS" --clients "$CLIENTS" --total "$RANGE_TOTAL" \
                "${keys[@]}" --consistency "$c"
            if [[ "$H2LOAD" == 1 ]]; then
                h2 "$n.$name.h2range-$c" "$leader" /etcdserverpb.KV/Range "$WORK/range-$c.body" "$H2_RANGE_TOTAL"
            fi
        done
    fi
    if ((n == 1)) && [[ "$WATCH" == 1 ]]; then
        echo "== $name x$n: watch: $WATCH_STREAMS streams x $WATCH_PER_STREAM watchers, put x$WATCH_PUTS" >&2
        bench "$n.$name.watch" "$leader" watch --conns "$CONNS" --clients "$CLIENTS" --put-total "$WATCH_PUTS" \
            --val-size "$VAL_SIZE" "${keys[@]}" --seed 3 \
            --streams "$WATCH_STREAMS" --watch-per-stream "$WATCH_PER_STREAM" \
            --watch-conns "$WATCH_CONNS" --watch-timeout "$WATCH_TIMEOUT"
    fi
    if ((n > 1)) && [[ "$SPREAD" == 1 ]]; then
        echo "== $name x$n: put x$SPREAD_TOTAL spread over all members" >&2
        bench "$n.$name.put-all" "$all" put --conns "$CONNS" --clients "$CLIENTS" --total "$SPREAD_TOTAL" \
            --val-size "$VAL_SIZE" "${keys[@]}" --seed 2
    fi
    stop_cluster
}

# run_memory NAME BINARY: one member, MEM_KEYS distinct keys, then its resident memory.
run_memory() {
    local name=$1 binary=$2
    echo "== $name x1: $MEM_KEYS distinct keys for the memory reading" >&2
    start_cluster "$name-mem" "$binary" 1
    local size=$(( ${#MEM_KEYS} > KEY_SIZE ? ${#MEM_KEYS} : KEY_SIZE ))
    bench "1.$name.mem" "${CLIENT_EPS[0]}" put --conns "$CONNS" --clients "$CLIENTS" --total "$MEM_KEYS" \
        --key-size "$size" --val-size "$VAL_SIZE" --key-space-size "$MEM_KEYS" --sequential-keys
    local status
    status=$(cat "/proc/${MEMBER_PIDS[0]}/status")
    RESULT["1.$name.rss"]=$(python3 - "$status" "$name" <<'PY'
import json, sys
fields = dict(l.split(":", 1) for l in sys.argv[1].splitlines() if ":" in l)
kb = lambda k: int(fields.get(k, "0 kB").split()[0])
print(json.dumps({"key": f"1.{sys.argv[2]}.rss", "rss_anon_mb": kb("RssAnon") / 1024, "rss_file_mb": kb("RssFile") / 1024,
                  "rss_mb": kb("VmRSS") / 1024, "hwm_mb": kb("VmHWM") / 1024}))
PY
    )
    echo "   ${RESULT[1.$name.rss]}" >&2
    echo "${RESULT[1.$name.rss]}" >>"$WORK/results.jsonl"
    stop_cluster
}

# fsync_probe DIR: what one small durable append costs on the disk holding the data dirs, timed
# in C around each fdatasync (4 KiB pwrite into a preallocated file, as etcd's WAL segments are,
# and into a growing file).
fsync_probe() {
    local dir=$1
    [[ -x "$WORK/fsync-probe" ]] || gcc -O2 -o "$WORK/fsync-probe" "$ROOT/benchmarks/fsync-probe.c"
    "$WORK/fsync-probe" "$dir" "$FSYNC_PROBES"
}

# fsync_record KEY: the probe again, right before a one-client run, stored as a result line (the
# disk's latency moves with what else the machine does, so it is measured beside the run it explains).
fsync_record() {
    ((FSYNC_PROBES > 0)) || return 0
    local out
    out=$(fsync_probe "$WORK")
    RESULT[$1]=$(python3 - "$out" "$1" <<'PY'
import json, sys
kv = dict(x.split("=") for x in sys.argv[1].split())
print(json.dumps({"key": sys.argv[2], **{k.replace("_us", "_ms"): int(v) / 1000 for k, v in kv.items()}}))
PY
    )
    echo "   ${RESULT[$1]}" >&2
    echo "${RESULT[$1]}" >>"$WORK/results.jsonl"
}

if [[ "$H2LOAD" == 1 ]]; then
    grpc_body "$WORK/put.body" put
    grpc_body "$WORK/range-l.body" range-l
    grpc_body "$WORK/range-s.body" range-s
fi

FSYNC=""
((FSYNC_PROBES > 0)) && FSYNC=$(fsync_probe "$WORK" | tr '\n' ' ')

SERVERS=(etcd keel)
[[ -n "$ONLY" ]] && SERVERS=("$ONLY")
for n in $MEMBERS; do
    for name in "${SERVERS[@]}"; do
        case $name in
            etcd) run_server etcd "$ETCD" "$n" ;;
            keel) run_server keel "$KEEL" "$n" ;;
            *) echo "unknown server $name" >&2; exit 2 ;;
        esac
    done
done
if [[ "$MEM" == 1 ]]; then
    for name in "${SERVERS[@]}"; do
        case $name in
            etcd) run_memory etcd "$ETCD" ;;
            keel) run_memory keel "$KEEL" ;;
        esac
    done
fi

echo
echo "machine: nproc=$(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)${NICE:+, servers and load generators at nice $NICE}"
echo "servers: $("$ETCD" --version 2>/dev/null | head -1), keel built from $KEEL_SOURCE; load: keel-bench${H2LOAD_BIN:+ and $("$H2LOAD_BIN" --version 2>/dev/null | head -1)}"
[[ -n "$FSYNC" ]] && echo "disk ($WORK): fdatasync after a 4 KiB pwrite, $FSYNC_PROBES samples: $FSYNC"
[[ "$TLS" == 1 ]] && echo "transport: TLS (https client and peer URLs, mutual certificate auth, EC P-256 certificates; keel-bench over TLS with ALPN h2; no h2load rows)"
echo "shape: $CONNS conns x $((CLIENTS / CONNS)) streams = $CLIENTS clients, key ${KEY_SIZE}B, value ${VAL_SIZE}B, key space $KEY_SPACE," \
     "heartbeat ${HEARTBEAT}ms, election ${ELECTION}ms; load on the leader's client endpoint"
python3 - "$WORK/results.jsonl" "$FSYNC" "$MEMBERS" "${SERVERS[@]}" <<'PY'
import json, sys
path, fsync, members, servers = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
results = {}
with open(path) as f:
    for line in f:
        r = json.loads(line)
        results[r["key"]] = r
fs = dict(kv.split("=") for kv in fsync.split()) if fsync else {}
def fmt(v, spec):
    return "-" if v is None else format(v, spec)
rows = []  # (label, etcd value, keel value, format, ratio wanted)
def row(label, key, field, spec=",.0f", scale=1.0):
    vals = []
    for s in ("etcd", "keel"):
        r = results.get(key.format(s=s))
        v = r.get(field) if r else None
        vals.append(None if v is None else v * scale)
    if any(v is not None for v in vals):
        rows.append((label, vals[0], vals[1], spec))
for n in members:
    rows.append((f"-- {n} member{'s' if n != '1' else ''}", None, None, None))
    row("put req/s (keel-bench)", f"{n}.{{s}}.put", "requests_per_sec")
    row("put p50 ms (keel-bench)", f"{n}.{{s}}.put", "p50_ms", ".2f")
    row("put p99 ms (keel-bench)", f"{n}.{{s}}.put", "p99_ms", ".2f")
    row("put req/s (h2load)", f"{n}.{{s}}.h2put", "requests_per_sec")
    row("put mean ms (h2load)", f"{n}.{{s}}.h2put", "mean_ms", ".2f")
    row("put errors (keel-bench)", f"{n}.{{s}}.put", "errors", ",.0f")
    row("put errors (h2load: not answered 2xx, or no revision made)", f"{n}.{{s}}.h2put", "errors", ",.0f")
    row("put 1 client mean ms", f"{n}.{{s}}.put1", "mean_ms", ".3f")
    row("  fdatasync mean ms, 4 KiB, measured just before", f"{n}.{{s}}.fsync", "prealloc_mean_ms", ".3f")
    row("put 1 client p50 ms", f"{n}.{{s}}.put1", "p50_ms", ".3f")
    row("put 1 client p99 ms", f"{n}.{{s}}.put1", "p99_ms", ".3f")
    row("server CPU s / 10k puts, leader", f"{n}.{{s}}.put", "cpu_leader_s_per_10k", ".3f")
    if n != "1":
        row("server CPU s / 10k puts, all members", f"{n}.{{s}}.put", "cpu_all_s_per_10k", ".3f")
    for c, name in (("l", "linearizable"), ("s", "serializable")):
        row(f"range {name} req/s (keel-bench)", f"{n}.{{s}}.range-{c}", "requests_per_sec")
        row(f"range {name} p99 ms (keel-bench)", f"{n}.{{s}}.range-{c}", "p99_ms", ".2f")
        row(f"range {name} req/s (h2load)", f"{n}.{{s}}.h2range-{c}", "requests_per_sec")
    row("put-all req/s (keel-bench, all members)", f"{n}.{{s}}.put-all", "requests_per_sec")
    row("put+watch req/s (keel-bench)", f"{n}.{{s}}.watch", "requests_per_sec")
    row("watch events/s", f"{n}.{{s}}.watch", "events_per_sec")
if any(k.endswith(".rss") for k in results):
    rows.append((f"-- memory, 1 member", None, None, None))
    row("seconds to write the keys", "1.{s}.mem", "seconds", ".1f")
    row("resident MB after the keys: anonymous", "1.{s}.rss", "rss_anon_mb", ",.0f")
    row("resident MB after the keys: file-backed", "1.{s}.rss", "rss_file_mb", ",.0f")
    row("resident MB after the keys: total", "1.{s}.rss", "rss_mb", ",.0f")
print()
print(f"{'':<52} {'etcd':>12} {'keel':>12} {'keel/etcd':>10}")
for label, e, k, spec in rows:
    if spec is None:
        print(label)
        continue
    ratio = f"{k / e:.2f}x" if e and k is not None else ""
    print(f"  {label:<50} {fmt(e, spec):>12} {fmt(k, spec):>12} {ratio:>10}")
if fs:
    print(f"\nfdatasync at the start (4 KiB, preallocated file): mean {fs['prealloc_mean_us']} µs, p50 {fs['prealloc_p50_us']} µs, p99 {fs['prealloc_p99_us']} µs;"
          f" growing file: mean {fs['grow_mean_us']} µs, p50 {fs['grow_p50_us']} µs, p99 {fs['grow_p99_us']} µs")
PY
