#!/usr/bin/env bash
# Keel vs real etcd, same machine, same workload, one run.
#
# Builds keel and keel-bench (release). Then, for each member count in MEMBERS (default "1 3"):
# starts a fresh etcd cluster of that size (each member on free ports with its own temp data dir),
# waits until every member is ready and one is the Raft leader, runs the keel-bench workloads
# against the LEADER's client endpoint, stops it; then the same with keel, same flags. Prints,
# per member count, a table with the ratio keel/etcd, the CPU each process spent per request,
# the disk's fdatasync cost and the machine.
#
# Environment knobs (the defaults finish in about 2.5 minutes on 2 cores, build excluded):
#   MEMBERS="1 3"          member counts to run, in order (e.g. MEMBERS=3)
#   CONNS=16 KEY_SIZE=8 VAL_SIZE=256 KEY_SPACE=100000 THREADS=1 RANGE_CONSISTENCY=l
#   1 member:  CLIENTS=256 PUT_TOTAL=200000 RANGE_TOTAL=100000
#   3 members: CLIENTS_3=512 (16 conns x 32 streams) PUT_TOTAL_3=100000 RANGE_TOTAL_3=50000
#              SPREAD=1 also runs put-all: the same Put load with the connections spread over all
#              three client endpoints (followers forward to the leader); SPREAD_TOTAL=100000
#   HEARTBEAT=100 ELECTION=1000 (ms, etcd's defaults, passed to both servers)
#   ONLY=etcd|keel (run one server)   SKIP_BUILD=1 (reuse the last build)
#   SCRATCH=.build-bench (SwiftPM scratch path)   KEEP_WORK=1 (keep logs and data dirs)
#   FSYNC_PROBES=200 (fdatasync samples per probe; 0 skips the probe)
#   WATCH=1 (default; 0 skips) for 1 member: the watch fan-out workload after put and range:
#            WATCH_STREAMS=10 x WATCH_PER_STREAM=100 watchers on the key space's range (over
#            WATCH_CONNS=1 connections), WATCH_PUTS=20000 puts with the put workload's flags, then
#            events/s keel vs etcd and put req/s with watchers vs the put workload alone (issue #8)
#   KEEL=path (a keel binary to run instead of the one just built)
#   TLS=1 serves every client and peer URL over https with mutual certificate auth (--cert-file,
#          --key-file, --trusted-ca-file, --client-cert-auth and the --peer-* equivalents), certificates
#          made with openssl (EC P-256) in the work dir; keel-bench connects over TLS (ALPN h2) to both
#   NICE=-10 runs every server and keel-bench at that niceness (needs root): shields a run from
#            background jobs on a shared machine, equally for both servers (default: unchanged)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCRATCH=${SCRATCH:-$ROOT/.build-bench}
MEMBERS=${MEMBERS:-"1 3"}
CONNS=${CONNS:-16}
CLIENTS=${CLIENTS:-256}
CLIENTS_3=${CLIENTS_3:-512}
PUT_TOTAL=${PUT_TOTAL:-200000}
RANGE_TOTAL=${RANGE_TOTAL:-100000}
PUT_TOTAL_3=${PUT_TOTAL_3:-100000}
RANGE_TOTAL_3=${RANGE_TOTAL_3:-50000}
SPREAD=${SPREAD:-1}
SPREAD_TOTAL=${SPREAD_TOTAL:-100000}
KEY_SIZE=${KEY_SIZE:-8}
VAL_SIZE=${VAL_SIZE:-256}
KEY_SPACE=${KEY_SPACE:-100000}
THREADS=${THREADS:-1}
RANGE_CONSISTENCY=${RANGE_CONSISTENCY:-l}
HEARTBEAT=${HEARTBEAT:-100}
ELECTION=${ELECTION:-1000}
ONLY=${ONLY:-}
FSYNC_PROBES=${FSYNC_PROBES:-200}
READY_TIMEOUT=${READY_TIMEOUT:-60}
NICE=${NICE:-}
WATCH=${WATCH:-1}
WATCH_STREAMS=${WATCH_STREAMS:-10}
WATCH_PER_STREAM=${WATCH_PER_STREAM:-100}
WATCH_CONNS=${WATCH_CONNS:-1}
WATCH_PUTS=${WATCH_PUTS:-20000}
WATCH_TIMEOUT=${WATCH_TIMEOUT:-120}
TLS=${TLS:-0}
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
BENCH="$BIN/keel-bench"
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

# bench KEY ENDPOINTS ARGS...: runs keel-bench, stores its JSON with the CPU the leader, the
# followers and keel-bench itself spent per completed request (µs) added.
bench() {
    local key=$1 endpoints=$2
    shift 2
    local i before=() after=() out rc=0
    for ((i = 0; i < ${#MEMBER_PIDS[@]}; i++)); do before+=("$(cpu_ticks "${MEMBER_PIDS[i]}")"); done
    # In the background and waited for, so that Ctrl-C or a TERM reaches the trap at once.
    ${RUN[@]+"${RUN[@]}"} "$BENCH" "$@" --endpoint "$endpoints" --conns "$CONNS" --threads "$THREADS" --json ${BENCH_TLS[@]+"${BENCH_TLS[@]}"} \
        >"$WORK/bench.out" 2>"$WORK/bench.err" &
    BENCH_PID=$!
    PIDS+=("$BENCH_PID")
    wait "$BENCH_PID" || rc=$?
    forget_pids "$BENCH_PID"
    if ((rc != 0)); then
        echo "keel-bench failed (exit $rc):" >&2; cat "$WORK/bench.err" "$WORK/bench.out" >&2; return 1
    fi
    for ((i = 0; i < ${#MEMBER_PIDS[@]}; i++)); do after+=("$(cpu_ticks "${MEMBER_PIDS[i]}")"); done
    out=$(cat "$WORK/bench.out")
    local leader_ticks=0 follower_ticks=0
    for ((i = 0; i < ${#MEMBER_PIDS[@]}; i++)); do
        if ((i == LEADER)); then
            leader_ticks=$((after[i] - before[i]))
        else
            follower_ticks=$((follower_ticks + after[i] - before[i]))
        fi
    done
    RESULT[$key]=$(python3 - "$out" "$leader_ticks" "$follower_ticks" "$CLK_TCK" "$((${#MEMBER_PIDS[@]} - 1))" "$key" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
leader, followers, tck, nf = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
n = max(1, int(r["total"]))
r["cpu_leader_us"] = round(leader / tck / n * 1e6, 1)
r["cpu_follower_us"] = round(followers / tck / n * 1e6 / nf, 1) if nf else None
r["cpu_bench_us"] = round(float(r.get("cpu_s", 0)) / n * 1e6, 1)
if r.get("events"):
    ev = max(1, int(r["events"]))
    r["cpu_leader_us_per_event"] = round(leader / tck / ev * 1e6, 3)
    r["cpu_bench_us_per_event"] = round(float(r.get("cpu_s", 0)) / ev * 1e6, 3)
r["key"] = sys.argv[6]
print(json.dumps(r))
PY
    )
    echo "   ${RESULT[$key]}" >&2
    echo "${RESULT[$key]}" >>"$WORK/results.jsonl"
}

# run_server NAME BINARY N
run_server() {
    local name=$1 binary=$2 n=$3
    local clients=$CLIENTS put_total=$PUT_TOTAL range_total=$RANGE_TOTAL
    if ((n == 3)); then clients=$CLIENTS_3 put_total=$PUT_TOTAL_3 range_total=$RANGE_TOTAL_3; fi
    echo "== $name x$n: starting" >&2
    start_cluster "$name" "$binary" "$n"
    local leader=${CLIENT_EPS[LEADER]} all
    all=$(IFS=,; echo "${CLIENT_EPS[*]}")
    echo "== $name x$n: put x$put_total on the leader" >&2
    bench "$n.$name.put" "$leader" put --clients "$clients" --total "$put_total" \
        --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" --key-space "$KEY_SPACE"
    echo "== $name x$n: range ($RANGE_CONSISTENCY) x$range_total on the leader" >&2
    bench "$n.$name.range" "$leader" range --clients "$clients" --total "$range_total" \
        --key-size "$KEY_SIZE" --key-space "$KEY_SPACE" --consistency "$RANGE_CONSISTENCY"
    if ((n == 1)) && [[ "$WATCH" == 1 ]]; then
        echo "== $name x$n: watch: $WATCH_STREAMS streams x $WATCH_PER_STREAM watchers, put x$WATCH_PUTS" >&2
        bench "$n.$name.watch" "$leader" watch --clients "$clients" --puts "$WATCH_PUTS" \
            --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" --key-space "$KEY_SPACE" --seed 3 \
            --streams "$WATCH_STREAMS" --watchers-per-stream "$WATCH_PER_STREAM" \
            --watch-conns "$WATCH_CONNS" --watch-timeout "$WATCH_TIMEOUT"
    fi
    if ((n > 1)) && [[ "$SPREAD" == 1 ]]; then
        echo "== $name x$n: put x$SPREAD_TOTAL spread over all members" >&2
        bench "$n.$name.put-all" "$all" put --clients "$clients" --total "$SPREAD_TOTAL" \
            --key-size "$KEY_SIZE" --val-size "$VAL_SIZE" --key-space "$KEY_SPACE" --seed 2
    fi
    stop_cluster
}

# fsync_probe DIR: what one small durable append costs on the disk holding the data dirs.
fsync_probe() {
    python3 - "$1" "$FSYNC_PROBES" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
def probe(grow):
    path = os.path.join(d, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = os.urandom(4096)
    if not grow:
        os.posix_fallocate(fd, 0, (n + 1) * 4096)   # size fixed up front, like etcd's WAL segments
        os.fsync(fd)
    samples = []
    for i in range(n):
        os.pwrite(fd, block, i * 4096)
        t = time.perf_counter(); os.fdatasync(fd); samples.append(time.perf_counter() - t)
    os.close(fd); os.unlink(path)
    samples.sort()
    us = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1e6
    return f"mean {sum(samples) / len(samples) * 1e6:.0f} µs, p50 {us(0.5):.0f} µs, p99 {us(0.99):.0f} µs"
print(f"fdatasync after a 4 KiB write ({n} samples): preallocated file {probe(False)}; growing file {probe(True)}")
PY
}

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

FSYNC=""
((FSYNC_PROBES > 0)) && FSYNC=$(fsync_probe "$WORK")

echo
echo "machine: nproc=$(nproc), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)${NICE:+, servers and keel-bench at nice $NICE}"
echo "servers: $("$ETCD" --version 2>/dev/null | head -1), keel built from $KEEL_SOURCE"
[[ -n "$FSYNC" ]] && echo "disk ($WORK): $FSYNC"
[[ "$TLS" == 1 ]] && echo "transport: TLS (https client and peer URLs, mutual certificate auth, EC P-256 certificates; keel-bench over TLS with ALPN h2)"
for n in $MEMBERS; do
    clients=$CLIENTS
    ((n == 3)) && clients=$CLIENTS_3
    echo
    echo "-- $n member(s): conns=$CONNS clients=$clients key=${KEY_SIZE}B value=${VAL_SIZE}B key-space=$KEY_SPACE" \
         "heartbeat=${HEARTBEAT}ms election=${ELECTION}ms; load on the leader's client endpoint$( ((n > 1)) && [[ "$SPREAD" == 1 ]] && echo ", put-all: on all members")"
    python3 - "$n" "$WORK/results.jsonl" "${SERVERS[@]}" <<'PY'
import json, sys
n, path, servers = sys.argv[1], sys.argv[2], sys.argv[3:]
results = {}
with open(path) as f:
    for line in f:
        r = json.loads(line)
        results[r["key"]] = r
print(f"{'workload':<10} {'server':<6} {'req/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}   cpu µs/req: {'leader':>7} {'follower':>8} {'bench':>6}")
for w in ["put", "range", "put-all", "watch"]:
    rows = {s: results.get(f"{n}.{s}.{w}") for s in servers}
    if not any(rows.values()):
        continue
    label = f"range ({rows[servers[0]]['consistency']})" if w == "range" else "put+watch" if w == "watch" else w
    for s in servers:
        r = rows[s]
        if not r:
            continue
        f = r["cpu_follower_us"]
        print(f"{label:<10} {s:<6} {r['requests_per_sec']:>10,.0f} {r['p50_ms']:>8.1f} {r['p90_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['errors']:>7}"
              f"               {r['cpu_leader_us']:>7.1f} {'-' if f is None else format(f, '.1f'):>8} {r['cpu_bench_us']:>6.1f}")
    if len(servers) == 2 and rows["keel"] and rows["etcd"]:
        k, e = rows["keel"], rows["etcd"]
        ratio = k["requests_per_sec"] / e["requests_per_sec"]
        line = f"{label:<10} {'ratio':<6} {ratio:>9.2f}x  (keel/etcd throughput); p99 keel {k['p99_ms']:.1f} ms vs etcd {e['p99_ms']:.1f} ms"
        if w == "put":
            ok = ratio >= 2 and k["p99_ms"] <= e["p99_ms"]
            line += f"  -> issue #7 target (>= 2x, p99 no worse): {'met' if ok else 'NOT met'}"
        print(line)
watch = {s: results.get(f"{n}.{s}.watch") for s in servers}
if any(watch.values()):
    print()
    w0 = next(r for r in watch.values() if r)
    print(f"watch fan-out: {w0['streams']} streams, {w0['watchers']} watchers on the key range, {w0['total']} puts"
          f" (put+watch row above); events counted per WatchResponse")
    print(f"{'server':<6} {'events/s':>11} {'events':>10} {'expected':>10} {'all in':>6} {'responses':>9} {'secs':>6}"
          f"   {'put/s alone':>11} {'put/s watched':>13} {'with/alone':>10}   cpu µs/event: {'server':>6} {'bench':>6}")
    rel = {}
    for s in servers:
        r, p = watch[s], results.get(f"{n}.{s}.put")
        if not r:
            continue
        alone = p["requests_per_sec"] if p else float("nan")
        rel[s] = r["requests_per_sec"] / alone if p else float("nan")
        print(f"{s:<6} {r['events_per_sec']:>11,.0f} {r['events']:>10} {r['events_expected']:>10} {'yes' if r['events_complete'] else 'NO':>6}"
              f" {r['responses']:>9} {r['events_seconds']:>6.2f}   {alone:>11,.0f} {r['requests_per_sec']:>13,.0f} {rel[s]:>10.2f}"
              f"                 {r['cpu_leader_us_per_event']:>6.3f} {r['cpu_bench_us_per_event']:>6.3f}")
    if watch.get("keel") and watch.get("etcd"):
        k, e = watch["keel"], watch["etcd"]
        ev = k["events_per_sec"] / e["events_per_sec"] if e["events_per_sec"] else float("nan")
        ok1 = ev >= 1 and k["events_complete"]
        ok2 = rel["keel"] >= rel["etcd"]
        print(f"ratio  events/s keel/etcd {ev:.2f}x -> issue #8 target (>= etcd's, every event delivered): {'met' if ok1 else 'NOT met'}")
        print(f"       put/s with watchers / alone: keel {rel['keel']:.2f} vs etcd {rel['etcd']:.2f}"
              f" (keel {rel['keel'] / rel['etcd']:.2f}x etcd's) -> issue #8 target (no worse relative to etcd): {'met' if ok2 else 'NOT met'}")
PY
done
