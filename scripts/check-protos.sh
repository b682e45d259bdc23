#!/usr/bin/env bash
# CI gate for the committed protoc-c output (Sources/EtcdProto).
#
# 1. Regenerates it with scripts/gen-protos.sh and fails if that changed anything git knows
#    about, or left files git does not know about: the committed C must match Protos/.
# 2. If etcd 3.4's source is installed (Debian golang-etcd-server-dev, under
#    /usr/share/gocode, or $ETCD_SRC), also proves our etcd-API .proto files are wire-identical
#    to etcd's: protoc compiles both sets to descriptors, options and file names are stripped
#    (gogoproto/http options never reach the wire), and the rest (packages, messages, fields,
#    numbers, types, labels, oneofs, enums, services, streaming) must match exactly.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fail() { echo "check-protos: FAIL: $*" >&2; exit 1; }

# ---- 1. committed output is fresh ----
scripts/gen-protos.sh >/dev/null

if ! git diff --quiet -- Sources/EtcdProto; then
    git --no-pager diff --stat -- Sources/EtcdProto >&2
    fail "Sources/EtcdProto is stale: run scripts/gen-protos.sh and commit the result."
fi
untracked="$(git ls-files --others --exclude-standard -- Sources/EtcdProto)"
if [ -n "$untracked" ]; then
    echo "$untracked" >&2
    fail "scripts/gen-protos.sh produced files that are not committed (listed above)."
fi
echo "check-protos: Sources/EtcdProto matches Protos/."

# ---- 2. wire identity with etcd 3.4 (only where its source is installed) ----
gocode="${KEEL_GOCODE:-/usr/share/gocode/src}"
etcd_src="${ETCD_SRC:-$gocode/go.etcd.io}"
if [ ! -f "$etcd_src/etcd/etcdserver/etcdserverpb/rpc.proto" ] || ! command -v protoc >/dev/null \
    || [ ! -f /usr/include/google/protobuf/descriptor.proto ]; then
    echo "check-protos: etcd source or protoc not installed, skipping the wire-identity check."
    exit 0
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Text form of a descriptor set without options, json names, file names and imports.
normalized() {
    protoc -I/usr/include --decode=google.protobuf.FileDescriptorSet google/protobuf/descriptor.proto < "$1" |
    awk '
        skip > 0 { skip += gsub(/{/, "{") - gsub(/}/, "}"); next }
        /^ *options \{/ { skip = 1; next }
        /^ *(dependency|json_name):/ { next }
        /^  name:/ { next }   # the file name, two spaces deep
        { print }'
}

protoc -I"$etcd_src" -I"$gocode/github.com/gogo/protobuf" \
    -I"$gocode/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis" -I/usr/include \
    --descriptor_set_out="$scratch/etcd.pb" \
    etcd/etcdserver/etcdserverpb/rpc.proto etcd/mvcc/mvccpb/kv.proto etcd/auth/authpb/auth.proto \
    etcd/etcdserver/api/v3lock/v3lockpb/v3lock.proto \
    etcd/etcdserver/api/v3election/v3electionpb/v3election.proto
protoc -IProtos --descriptor_set_out="$scratch/keel.pb" \
    etcdserverpb/rpc.proto mvccpb/kv.proto authpb/auth.proto v3lockpb/v3lock.proto \
    v3electionpb/v3election.proto

normalized "$scratch/etcd.pb" > "$scratch/etcd.txt"
normalized "$scratch/keel.pb" > "$scratch/keel.txt"
if ! diff -u "$scratch/etcd.txt" "$scratch/keel.txt" >&2; then
    fail "Protos/ differs from etcd 3.4's API on the wire (diff above: - etcd, + ours)."
fi
echo "check-protos: Protos/ is wire-identical to etcd 3.4's v3 API."
